/* Helpers shared by the pinbench guest programs (header-only: each program is one gcc call).
 * Exit codes follow kselftest: 0 pass, 1 fail, 4 skip. Every check prints one line;
 * a failed check prints "FAIL: ..." (the host shows the first FAIL line).
 */
#ifndef PINLIB_H
#define PINLIB_H
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define KSFT_SKIP 4
#define PAGE 4096UL
#define HPAGE (2UL << 20)

/* The two FOLL_PIN counters, folded (exact); 0 when /proc/vmstat has both. In a 32-bit
 * program (guests/src/compat32.c) a long holds them modulo 2^32: differences still come out
 * right through pins_outstanding(). */
static inline int pin_counts(long *acquired, long *released)
{
	char key[64];
	long long val;
	int got = 0;
	FILE *f;
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "1", 1) < 0) { /* folding is best effort */ }
		close(fd);
	}
	*acquired = *released = -1;
	f = fopen("/proc/vmstat", "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", key, &val) == 2) {
		if (!strcmp(key, "nr_foll_pin_acquired"))
			*acquired = (long)val, got |= 1;
		else if (!strcmp(key, "nr_foll_pin_released"))
			*released = (long)val, got |= 2;
	}
	fclose(f);
	return got == 3 ? 0 : -1;
}

/* Outstanding FOLL_PIN page pins: nr_foll_pin_acquired - nr_foll_pin_released (exact). */
static inline long pins_outstanding(void)
{
	long acq, rel;

	return pin_counts(&acq, &rel) ? -1 : (long)((unsigned long)acq - (unsigned long)rel);
}

/* A pin baseline for a measured window: outstanding pins once three readings 20 ms apart
 * agree (at most 2 s). A pin someone else holds for a moment when the window opens (the 9p
 * write of a log line, whose unpin 6.12 may leave to a workqueue after write() returned:
 * flush_settled() below) would otherwise be counted as there at the start, and the window
 * would end one pin short of it, "-1 outstanding", with no leak and no double unpin anywhere
 * (odirect's dirty part, round 5 of docs/redteam.md). */
static inline long pins_quiet(void)
{
	long now = pins_outstanding(), last = now;

	for (int same = 0, i = 0; i < 100 && same < 2; i++) {
		usleep(20 * 1000);
		now = pins_outstanding();
		same = now == last ? same + 1 : 0;
		last = now;
	}
	return now;
}

/* Pins are dropped by workqueues and RCU callbacks at times: poll a little for want. */
static inline long pins_settle(long want)
{
	long now = pins_outstanding();

	for (int i = 0; i < 50 && now != want; i++) {
		usleep(100 * 1000);
		now = pins_outstanding();
	}
	return now;
}

/* Write out stdout, then wait (up to 30 s) until no more pins are outstanding than before it.
 * The guest's output goes to the 9p results folder, and each write there is unbuffered netfs
 * I/O that pins its buffer; 6.12 may unpin it from a workqueue after write() returned
 * (fs/netfs/objects.c netfs_put_request(): netfs_free_request() queued when the last put is
 * async). A pin baseline read in between holds a pin that is no one's, and reads -1 after the
 * cell (seen: splice-sock/tcp/thp/dontneed, run 20261205-233405 r1). So a program that reads
 * pins keeps stdout fully buffered and writes it only here, never inside a measured window,
 * and reads its pin baseline after it. The wait was 5 s until a flush on a loaded host outlasted
 * it: the next cell took 5.12 s and read -1 (splice-sock/tcp/anon/write, run 20261206-054311). */
#define FLUSH_SETTLE_MS 30000
static int flushes_late;  /* flushes whose pins were still out after FLUSH_SETTLE_MS: said at the end */
static int flushes_slow;  /* flushes whose pins took more than 1 s: said at the end */

static inline void flush_settled(void)
{
	long a, r, before;

	if (pin_counts(&a, &r)) {
		fflush(stdout);
		return;
	}
	before = (long)((unsigned long)a - (unsigned long)r);
	fflush(stdout);
	/* after one flush outlasted the wait, the next ones wait 1 s: a kernel that never gives the
	 * output's pins back would otherwise cost every cell 30 s, and the first late one is said */
	for (int i = 0; !pin_counts(&a, &r) && (long)((unsigned long)a - (unsigned long)r) > before; i++) {
		if (i == (flushes_late ? 1000 : FLUSH_SETTLE_MS) / 5) {
			flushes_late++;
			return;
		}
		flushes_slow += i == 1000 / 5;
		usleep(5000);
	}
}

static int failures;

static inline void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("FAIL: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	flush_settled();
	failures++;
}

static inline void ok(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("ok: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	flush_settled();
}

/* The /proc/self/pagemap entry of a user address, 0 if it cannot be read. */
static inline uint64_t pagemap(const void *addr)
{
	static int fd = -1;
	static pid_t whose;
	uint64_t ent = 0;

	if (fd >= 0 && whose != getpid()) {
		/* a forked child: "self" was resolved at open(), the fd reads the parent's pagemap
		 * (seen: borrow/peek/thp, a child's THP read as none once the parent had opened it) */
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		fd = open("/proc/self/pagemap", O_RDONLY);
		whose = getpid();
	}
	if (fd < 0 || pread(fd, &ent, 8, ((uintptr_t)addr / PAGE) * 8) != 8)
		return 0;
	return ent;
}

/* The pagemap entry of another process's address (root reads any), 0 when unreadable. */
static inline uint64_t pagemap_of(pid_t pid, uintptr_t addr)
{
	char path[64];
	uint64_t ent = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0 || pread(fd, &ent, 8, (addr / PAGE) * 8) != 8)
		ent = 0;
	if (fd >= 0)
		close(fd);
	return ent;
}

/* The PFN of a pagemap entry (root only), 0 if the page is not present. */
static inline uint64_t pagemap_pfn(uint64_t ent)
{
	return (ent >> 63) & 1 ? ent & ((1ULL << 55) - 1) : 0;
}

/* The PFN behind a user address (root only), 0 if not present. */
static inline uint64_t pfn_of(const void *addr)
{
	return pagemap_pfn(pagemap(addr));
}

/* The swap entry (type and offset) of a swapped-out user address, 0 if it is not swapped. */
static inline uint64_t swap_entry_of(const void *addr)
{
	uint64_t ent = pagemap(addr);

	return (ent >> 62) & 1 ? ent & ((1ULL << 55) - 1) : 0;
}

/* ZONE_MOVABLE's PFN spans, one a node whose zone is not empty, from /proc/zoneinfo (with
 * numa=fake=N each node has its own); how many, 0 when there is none (no movablecore=). */
#define MOVABLE_NODES 8
static inline int movable_spans(uint64_t lo[MOVABLE_NODES], uint64_t hi[MOVABLE_NODES])
{
	char line[256];
	int in_movable = 0, n = 0;
	uint64_t start = 0, spanned = 0;
	FILE *f = fopen("/proc/zoneinfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f) && n < MOVABLE_NODES) {
		if (!strncmp(line, "Node", 4)) {
			in_movable = strstr(line, "zone  Movable") != NULL;
			spanned = 0;
		} else if (in_movable && sscanf(line, " spanned %" SCNu64, &spanned) == 1) {
			continue;
		} else if (in_movable && sscanf(line, " start_pfn: %" SCNu64, &start) == 1 && spanned) {
			lo[n] = start;
			hi[n++] = start + spanned;
		}
	}
	fclose(f);
	return n;
}

/* Whether any node has a ZONE_MOVABLE that is not empty. */
static inline int have_movable(void)
{
	uint64_t lo[MOVABLE_NODES], hi[MOVABLE_NODES];

	return movable_spans(lo, hi) > 0;
}

/* Pages of [addr, addr+len) whose PFN lies in ZONE_MOVABLE (a long-term pin must have moved them). */
static inline long pages_in_movable(const char *addr, size_t len)
{
	uint64_t lo[MOVABLE_NODES], hi[MOVABLE_NODES], pfn;
	int spans = movable_spans(lo, hi);
	long n = 0;

	for (size_t off = 0; spans && off < len; off += PAGE) {
		pfn = pfn_of(addr + off);
		for (int i = 0; pfn && i < spans; i++)
			n += pfn >= lo[i] && pfn < hi[i];
	}
	return n;
}

/* A byte pattern that differs per byte position and per seed: misplaced data never matches. */
static inline char pattern_at(uint64_t pos, unsigned seed)
{
	uint64_t v = (pos / 8) * 0x9E3779B97F4A7C15ULL ^ seed;

	return (char)(v >> ((pos % 8) * 8));
}

static inline void fill(char *p, size_t len, uint64_t pos, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pattern_at(pos + i, seed);
}

/* Offset of the first byte of p that differs from fill(pos, seed), or -1. */
static inline long check(const char *p, size_t len, uint64_t pos, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != pattern_at(pos + i, seed))
			return (long)i;
	return -1;
}

/* The system call thread tid of this process is in (its /proc/self/task/<tid>/syscall's
 * first field), or -1: running in user space, or unreadable */
static inline long task_syscall(int tid)
{
	char path[64], line[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	if (!(f = fopen(path, "r")))
		return -1;
	if (!fgets(line, sizeof(line), f) || line[0] < '0' || line[0] > '9')
		line[0] = 0;
	fclose(f);
	return line[0] ? strtol(line, NULL, 10) : -1;
}

/* Wait (5 s at most) for a thread that stores its tid and then sets done when its call returned:
 * 1 once it is seen in system call nr, 0 when done first, -1 when neither came */
static inline int await_syscall(atomic_int *tid, atomic_int *done, long nr)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (atomic_load(done))
			return 0;
		if (atomic_load(tid) && task_syscall(atomic_load(tid)) == nr)
			return 1;
		usleep(1000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < 5);
	return -1;
}

/* An anonymous mapping of len bytes aligned to align, optionally THP-backed. The slack the
 * alignment took is unmapped again, so that munmap(p, len) gives everything back. */
static inline char *map_aligned(size_t len, size_t align, int advice)
{
	char *raw = mmap(NULL, len + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p;

	if (raw == MAP_FAILED)
		return NULL;
	p = (char *)(((uintptr_t)raw + align - 1) & ~(align - 1));
	if (p > raw)
		munmap(raw, p - raw);
	if (raw + len + align > p + len)
		munmap(p + len, raw + len + align - (p + len));
	if (advice >= 0)
		madvise(p, len, advice);
	return p;
}

static inline int drop_caches(void)
{
	int fd, ok_;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	ok_ = fd >= 0 && write(fd, "3", 1) == 1;
	if (fd >= 0)
		close(fd);
	return ok_;
}

/* Online NUMA nodes (from /sys/devices/system/node/online, "0" or "0-1"); 1 when unreadable. */
static inline int numa_nodes(void)
{
	int lo = 0, hi = 0, n;
	FILE *f = fopen("/sys/devices/system/node/online", "r");

	if (!f)
		return 1;
	n = fscanf(f, "%d-%d", &lo, &hi);
	fclose(f);
	return n == 2 ? hi - lo + 1 : 1;
}

/* The page-reference oracle: how many present pages of [addr, addr+len) hold a reference
 * their mappings do not explain (a leaked FOLL_PIN shows as +1024, a leaked get as +1; both
 * count here). /proc/kpagecount cannot tell: it reads the map count, not the reference count
 * (fs/proc/page.c, 6.12). Migration can: move_pages() first drains the per-CPU LRU batches
 * (lru_cache_disable()), then moves a private page only when its reference count is what its
 * mappings explain (folio_migrate_mapping() returns -EAGAIN otherwise, retried and given up),
 * so each present page is sent to another node and its node read back; a page still on its
 * node is held (a page left behind by a call that failed on another page is tried on its own:
 * do_pages_move() gives up on the rest of a call). Pages that stay are retried for up to
 * settle_ms (an async completion is posted before the bio drops its pins). Not present pages
 * (never touched, PROT_NONE) are left out. For private exclusive pages (map count 1): shared ones are not moved without
 * MPOL_MF_MOVE_ALL. Returns the number of held pages (the first one's index in *first),
 * -1 with why when it cannot tell (one NUMA node, move_pages refused). */
static inline long pages_held(char *addr, size_t len, int settle_ms, long *first, char *why, size_t n)
{
	long npages = (long)(len / PAGE), held = 0, r;
	int nodes = numa_nodes();
	void **pages = calloc(npages, sizeof(void *));
	int *status = calloc(npages, sizeof(int)), *target = calloc(npages, sizeof(int));
	int *was = calloc(npages, sizeof(int));

	*first = -1;
	if (!pages || !status || !target || !was) {
		snprintf(why, n, "out of memory");
		held = -1;
		goto out;
	}
	if (nodes < 2) {
		snprintf(why, n, "one NUMA node: no page-reference oracle (numa=fake=2)");
		held = -1;
		goto out;
	}
	for (long i = 0; i < npages; i++)
		pages[i] = addr + i * PAGE;
	if (syscall(SYS_move_pages, 0, npages, pages, NULL, was, 0)) {
		snprintf(why, n, "move_pages (query): %s", strerror(errno));
		held = -1;
		goto out;
	}
	for (int waited = 0;; waited += 50) {
		for (long i = 0; i < npages; i++)
			target[i] = was[i] >= 0 ? (was[i] + 1) % nodes : 0;
		/* a positive return: pages not moved, read back below; status is not the truth then */
		r = syscall(SYS_move_pages, 0, npages, pages, target, status, 0);
		if (r < 0) {
			snprintf(why, n, "move_pages: %s", strerror(errno));
			held = -1;
			goto out;
		}
		if (syscall(SYS_move_pages, 0, npages, pages, NULL, status, 0)) {
			snprintf(why, n, "move_pages (read back): %s", strerror(errno));
			held = -1;
			goto out;
		}
		held = 0;
		*first = -1;
		for (long i = 0; i < npages; i++) {
			if (was[i] < 0 || status[i] < 0)
				continue;  /* not present */
			if (status[i] == was[i] && r > 0) {
				/* once a page of a call fails, do_pages_move() (mm/migrate.c) leaves
				 * the pages after it unattempted: one left behind tries on its own */
				int one;

				syscall(SYS_move_pages, 0, 1, &pages[i], &target[i], &one, 0);
				if (syscall(SYS_move_pages, 0, 1, &pages[i], NULL, &status[i], 0) || status[i] < 0)
					continue;
			}
			if (status[i] == was[i]) {
				if (*first < 0)
					*first = i;
				held++;
			}
			was[i] = status[i];  /* moved ones go back next round: any node will do */
		}
		if (!held || waited >= settle_ms)
			break;
		usleep(50 * 1000);
	}
out:
	free(pages);
	free(status);
	free(target);
	free(was);
	return held;
}
#endif
