/* The pin x memory x event matrix (issue 20, item 1), in the manner of the tree's own
 * tools/testing/selftests/mm/cow.c: every cell maps one kind of memory, pins it through one
 * entry point, makes mm do one thing to it while the pin is held (or, for pins that last one
 * system call, just before the call), then checks the data both ways: what the process
 * writes is what the pin reads, what is written through the pin is what the process (and,
 * for files, the disk) reads; and the FOLL_PIN counters are back where they were after the
 * unpin.
 *
 * A cell whose premise did not hold (no THP behind the mapping, nothing swapped, nothing
 * migrated, nothing merged) says SKIP with why, never PASS. Premises are read from the kernel:
 * /proc/self/pagemap (swapped, soft-dirty, PFN), /proc/kpageflags (THP, KSM), /proc/vmstat
 * deltas (thp_split_pmd, pswpout, pgmigrate_success), move_pages() status.
 *
 * Each region is two halves: the first is pinned, the second (the witness) is never pinned,
 * so an event that leaves the pinned half alone (as it must: a pinned page is not swapped,
 * migrated, merged or split) still has to show on the witness, else the cell skips.
 *
 * Output, one line a cell: "CASE <pin>/<memory>/<event> PASS|FAIL|SKIP[: why]".
 * usage: pin_matrix [-d EXT4DIR] [-b BLOCKDEV] [-B DIOLOOPDEV] [-v VFATDIR] [-m MEMCG] [-o ONLY] [-x EXCEPT] [-l] [-q] [-r SECONDS]
 *   -m: a cgroup v2 directory with the memory controller, made at the top of the hierarchy
 *   (the reclaim cells and race/dio-vs-reclaim move the process into it and back);
 *   -o: run only cells whose name contains ONLY (comma-separated, any matches); -x: leave out
 *   cells whose name contains EXCEPT (same form); -l: list cells; -q: only the default set's
 *   cells (quick_cells below);
 *   -r: also run the races (race/...), each for SECONDS; -3: the 32-bit program of the compat/
 *   cells (compat32.c, gcc -m32; without it they skip).
 * Exit: 0 every cell passed or skipped (at least one passed), 1 a cell failed, 4 none ran.
 */
#include "pinlib.h"
#include <linux/kernel-page-flags.h>  /* KPF_*: /proc/kpageflags bits, one definition for every cells file */
#include <liburing.h>
#include <signal.h>
#include <stdio_ext.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include "mm/gup_test.h"  /* the tree's own, from $BENCH_SRC */

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#define PM_SOFT_DIRTY (1ULL << 55)
#define PM_SWAP (1ULL << 62)
#define PM_PRESENT (1ULL << 63)
#define SMALL_PAGES 16

enum mem { ANON, THP, THPTE, SHMEM, FILESH, FILEPR, HUGE, SHMTHP, NMEM };
static const char *const mem_names[NMEM] = {"anon", "thp", "thp-pte", "shmem", "ext4-shared", "ext4-private",
					    "hugetlb", "shmem-thp"};
enum ev { NONE, FORK, MPROTECT, SOFTDIRTY, PAGEOUT, DONTNEED, MIGRATE, COMPACT, SPLIT, KSM, MREMAP, MUNMAP,
	  RO, HOLE, RECLAIM, PROTNONE, SEAL, COLD, LAZYFREE, COLLAPSE, KHUGEPAGED, MKCLEAN, NEV };
static const char *const ev_names[NEV] = {"none", "fork", "mprotect", "soft-dirty", "pageout", "dontneed",
					  "migrate", "compact", "thp-split", "ksm", "mremap", "munmap",
					  "read-only", "hole", "reclaim", "prot-none", "seal", "cold", "free",
					  "collapse", "khugepaged", "mkclean"};

static const char *ext4_dir, *blk_dev, *blk_dio_dev, *vfat_dir, *only, *except, *memcg_dir;
static const char *race_swap;  /* -s: a small swap device of race/swapin-vs-swapin's own */
static const char *bdev_swap;  /* -S: swap on a loop device (bio I/O completed later), the swap-bdev/ cells' */
static int gup_fd = -1, list_only;
static int ext4_stale;  /* -E: -d's free blocks hold old bytes, not zeros (lib.sh make_ext4 stale) */
static char current[96];  /* the cell running now, named if the runner's timeout stops us */

/* Whether the wanted cell NAME runs now: -l only prints its name. Before it runs, what earlier
 * cells printed goes out through flush_settled(), so that no write of the bench's own output
 * is pinned while the cell reads its pin baseline (stdout is fully buffered: main()). */
static int begins(const char *name)
{
	if (list_only) {
		printf("%s\n", name);
		return 0;
	}
	flush_settled();
	snprintf(current, sizeof(current), "%s", name);
	return 1;
}

/* The system knobs (/proc/sys, /sys) the cells change, each with the value it had before its
 * first change (knob_set()): put back by knobs_back() at the end of the cell that changed it
 * (run_cells() and cell_in_child() do it for every cell they run, however it ended: a killed
 * child's too), and a SIGTERM in between puts back whatever is still changed (on_term()). The
 * table is in MAP_SHARED memory (knobs_init()), so that what a cell's child saved is seen by the
 * parent. Entries are filled before the change and marked last, so that the handler reads whole
 * ones. */
#define NKNOB 16
struct knob {
	char path[96];
	char was[96];
	size_t len;
	unsigned seq;  /* the order of the saves: knobs_back() and on_term() put the last one back first */
	volatile sig_atomic_t changed;
};
static struct knob_table {
	unsigned seq;
	struct knob k[NKNOB];
} knobs_own, *knobs = &knobs_own;

static void knobs_init(void)
{
	struct knob_table *t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (t != MAP_FAILED)
		knobs = t;  /* (else the cells' children's changes are theirs alone: put back by themselves) */
}

/* open/write/close only: async-signal-safe */
static int knob_write(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY);
	ssize_t w;

	if (fd < 0)
		return 0;
	w = write(fd, text, len);
	close(fd);
	return w == (ssize_t)len;
}

/* The changed knob saved last and after mark, or NULL: reads only (on_term() calls it) */
static struct knob *knob_last(unsigned mark)
{
	struct knob *k = NULL;

	for (int i = 0; i < NKNOB; i++)
		if (knobs->k[i].changed && knobs->k[i].seq > mark && (!k || knobs->k[i].seq > k->seq))
			k = &knobs->k[i];
	return k;
}

/* Before PATH is written: WAS (its first line) is saved, a save of its own even when an earlier
 * change of PATH is not put back yet (the matrix's cells leave shmem_enabled changed until exit):
 * the cell that changes it again puts back the value it found, not the first one, and a SIGTERM
 * goes back through the saves, the last first, to the value before them all. */
static void knob_changed(const char *path, const char *was)
{
	struct knob *k = NULL;

	for (int i = 0; i < NKNOB && !k; i++)
		if (!knobs->k[i].changed)
			k = &knobs->k[i];
	if (!k) {
		printf("# pin_matrix: no room to save %s: a SIGTERM leaves it changed\n", path);
		return;
	}
	snprintf(k->path, sizeof(k->path), "%s", path);
	snprintf(k->was, sizeof(k->was), "%s", was);
	k->len = strcspn(k->was, "\n");
	k->seq = ++knobs->seq;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	k->changed = 1;
}

/* PATH back to the value its last save holds: 1 when written (or never changed), 0 when the
 * write failed. */
static int knob_put_back(const char *path)
{
	struct knob *k = NULL;
	int ok_;

	for (int i = 0; i < NKNOB; i++)
		if (knobs->k[i].changed && !strcmp(knobs->k[i].path, path) && (!k || knobs->k[i].seq > k->seq))
			k = &knobs->k[i];
	if (!k)
		return 1;
	ok_ = knob_write(path, k->was, k->len);
	k->changed = 0;
	return ok_;
}

/* timeout(1) sends SIGTERM first: say which cell did not finish (its "#" lines were still
 * buffered) and put the changed knobs back, the last saved first, with write(2), open(2) and
 * close(2) only, as a handler must. */
/* A cell's program run in a process group of its own (compat_cells.h): a SIGTERM kills the group,
 * which the runner's timeout(1), signalling our group, would not reach */
static volatile pid_t term_group;

static void on_term(int sig)
{
	if (term_group > 0)
		kill(-term_group, SIGKILL);
	static const char head[] = "\n# pin_matrix: stopped by a signal in cell ", back[] = "# pin_matrix: put back ";
	struct knob *k;

	if (write(1, head, sizeof(head) - 1) < 0 || write(1, current, strlen(current)) < 0 || write(1, "\n", 1) < 0) {
		/* nothing more can be said */
	}
	while ((k = knob_last(0))) {
		k->changed = 0;
		if (write(1, back, sizeof(back) - 1) < 0 || write(1, k->path, strlen(k->path)) < 0) {
			/* the write below still runs */
		}
		if (!knob_write(k->path, k->was, k->len) && write(1, ": failed", 8) < 0) {
			/* nothing more can be said */
		}
		if (write(1, "\n", 1) < 0) {
			/* nothing more can be said */
		}
	}
	_exit(128 + sig);
}

/* fork(2) for a cell: the child drops the output the parent still buffers, which it would
 * otherwise write a second time if it flushed (stdout is fully buffered: main()). */
static pid_t cell_fork(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		__fpurge(stdout);
		/* timeout(1) signals the whole group: on_term() is the parent's, to name the cell once */
		signal(SIGTERM, SIG_DFL);
	}
	return pid;
}
static struct io_uring ring;
static int ring_ok, scratch_fd = -1;
static int cells_pass, cells_fail, cells_skip;

/* -- one cell's state and verdict ----------------------------------------------------- */

struct cell {
	char name[96];
	enum mem mem;
	enum ev ev;
	char *map;      /* the whole region: pinned half, then the witness half */
	char *cur;      /* where the process sees the pinned half now (mremap moves it) */
	size_t half;
	int fd;         /* the file behind shmem/ext4 kinds, else -1 */
	char path[256];
	char *exp;      /* what the pinned pages hold */
	char *wexp;     /* what the witness holds */
	int mapped;     /* the process still maps the pinned pages */
	int shared;     /* MAP_SHARED: a child's writes and a re-fault reach the same pages */
	char skip[200];
	char failed[300];
};

static void cfail(struct cell *c, const char *fmt, ...)
{
	va_list ap;

	if (c->failed[0])
		return;  /* the first failure is the one that explains the others */
	va_start(ap, fmt);
	vsnprintf(c->failed, sizeof(c->failed), fmt, ap);
	va_end(ap);
}

/* Both ends of a pipe or socket pair that are open, closed (-1 after). */
static void close_pair(int fds[2])
{
	for (int i = 0; i < 2; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* The cell's own file, if it made one (c->fd, c->path): closed and removed. */
static void cell_file_close(struct cell *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->path[0])
		unlink(c->path);
	c->path[0] = 0;
}

static void cskip(struct cell *c, const char *fmt, ...)
{
	va_list ap;

	if (c->skip[0])
		return;
	va_start(ap, fmt);
	vsnprintf(c->skip, sizeof(c->skip), fmt, ap);
	va_end(ap);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The verdict of a case: a failure says why, else a skip, else PASS (a race has no struct cell). */
static void case_verdict(const char *name, const char *fail, const char *skip)
{
	if (fail && fail[0]) {
		printf("CASE %s FAIL: %s\n", name, fail);
		cells_fail++;
	} else if (skip && skip[0]) {
		printf("CASE %s SKIP: %s\n", name, skip);
		cells_skip++;
	} else {
		printf("CASE %s PASS\n", name);
		cells_pass++;
	}
}

static void verdict(struct cell *c, double began)
{
	printf("# %s: %.2f s\n", c->name, now_s() - began);
	case_verdict(c->name, c->failed, c->skip);
}

/* -- what the kernel says ------------------------------------------------------------- */

/* the value of NAME in a "name value" per line file (/proc/vmstat, memory.stat); -1: none */
static long key_value(const char *path, const char *name)
{
	char line[256], key[64];
	long val, got = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))  /* by line: meminfo's " kB" would stop a bare fscanf loop */
		if (sscanf(line, "%63s %ld", key, &val) == 2 && !strcmp(key, name))
			got = val;
	fclose(f);
	return got;
}

static long vmstat(const char *name)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "1", 1) < 0) { /* best effort */ }
		close(fd);
	}
	return key_value("/proc/vmstat", name);
}

static uint64_t kpageflags(const void *addr)
{
	static int fd = -1;
	uint64_t pfn = pfn_of(addr), flags = 0;

	if (fd < 0)
		fd = open("/proc/kpageflags", O_RDONLY);
	if (!pfn || fd < 0 || pread(fd, &flags, 8, pfn * 8) != 8)
		return 0;
	return flags;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY), ok_;

	if (fd < 0)
		return 0;
	ok_ = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok_;
}

/* Every CPU's LRU batches drained (compaction calls lru_add_drain_all()): a page still sitting in
 * another CPU's batch cannot be isolated, so MADV_PAGEOUT, migration and reclaim pass it over;
 * a cell retries once after this (a slow TCG guest leaves pages there often). 0 when the
 * write failed. */
static int drain_lru(void)
{
	return write_file("/proc/sys/vm/compact_memory", "1");
}

/* whether any swap area is on (/proc/swaps has a line past its header) */
static int swap_on(void)
{
	FILE *f = fopen("/proc/swaps", "r");
	char line[256];
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		n++;
	if (f)
		fclose(f);
	return n > 1;
}

#define SWAP_AREAS 8
struct swap_area {
	char path[128];
	int prio;
};

/* The swap areas in use, their paths and priorities from /proc/swaps (at most SWAP_AREAS); how many */
static int swap_areas(struct swap_area *a)
{
	FILE *f = fopen("/proc/swaps", "r");
	char line[256];
	int n = 0;

	while (f && fgets(line, sizeof(line), f) && n < SWAP_AREAS)
		if (sscanf(line, "%127s %*s %*s %*s %d", a[n].path, &a[n].prio) == 2 && a[n].path[0] == '/')
			n++;
	if (f)
		fclose(f);
	return n;
}

#define HUGE_FREE "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"  /* read_long() it */

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* The first line of path into buf, its newline cut (a sysctl, a sysfs knob, /proc/<pid>/wchan):
 * 0, or -1 when unreadable or empty */
static int first_line(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "r");
	int r = f && fgets(buf, (int)n, f) ? 0 : -1;

	if (f)
		fclose(f);
	if (!r)
		buf[strcspn(buf, "\n")] = 0;
	return r;
}

/* A knob's value as it is written back: its first line, or of a choice knob ("always [never]")
 * the word chosen. 0, or -1 (errno) when unreadable */
static int knob_value(const char *path, char *buf, size_t n)
{
	char *l, *r;

	if (first_line(path, buf, n))
		return -1;
	if ((l = strchr(buf, '[')) && (r = strchr(l, ']'))) {
		*r = 0;
		memmove(buf, l + 1, strlen(l + 1) + 1);
	}
	return 0;
}

/* PATH set to VAL after the value of SAVE (NULL: PATH itself; another knob when writing PATH
 * changes that one: vm.dirty_bytes zeroes vm.dirty_ratio, whose write puts both back) was saved
 * for knobs_back() and a SIGTERM (nothing saved or written when PATH already reads VAL). 0; -1 with
 * why in why[n]: -1 "cannot read P: E" (the kernel has no such knob), -2 "cannot write V to P: E"
 * (the knob put back at once) */
static int knob_set(const char *path, const char *val, const char *save, char *why, size_t n)
{
	char was[96];

	errno = 0;
	if (knob_value(save ? save : path, was, sizeof(was))) {
		snprintf(why, n, "cannot read %s: %s", save ? save : path, errno ? strerror(errno) : "empty");
		return -1;
	}
	if (!save && !strcmp(was, val))
		return 0;  /* already so: nothing to write, nothing to put back (no save a cell did not need) */
	save = save ? save : path;
	knob_changed(save, was);
	if (!knob_write(path, val, strlen(val))) {
		snprintf(why, n, "cannot write %s to %s: %s", val, path, strerror(errno));
		knob_put_back(save);
		return -2;
	}
	return 0;
}

/* knob_set() in cell c: a knob the kernel does not have skips it, one it refuses fails it (why) */
static int cell_knob(struct cell *c, const char *path, const char *val, const char *save)
{
	char why[300];
	int r = knob_set(path, val, save, why, sizeof(why));

	if (r == -1)
		cskip(c, "%s", why);
	else if (r)
		cfail(c, "%s", why);
	return r ? -1 : 0;
}

/* What knobs_back() puts back from: every knob saved after this */
static unsigned knob_mark(void) { return knobs->seq; }

/* Every knob saved after mark (knob_mark()) and still changed put back, the last saved first (a
 * knob set in steps comes back through the states it went through); one that cannot be put back
 * fails c (NULL: a "#" line says so) */
static void knobs_back(struct cell *c, unsigned mark)
{
	struct knob *k;

	while ((k = knob_last(mark))) {
		k->changed = 0;
		if (knob_write(k->path, k->was, k->len))
			continue;
		if (c)
			cfail(c, "cannot put %s back to %.*s: %s", k->path, (int)k->len, k->was, strerror(errno));
		else
			printf("# cannot put %s back to %.*s: %s\n", k->path, (int)k->len, k->was, strerror(errno));
	}
}

/* A pattern of 8-byte words, different per position and seed (fast enough under TCG). */
static void fill64(char *p, size_t len, unsigned seed)
{
	uint64_t *w = (uint64_t *)p;

	for (size_t i = 0; i < len / 8; i++)
		w[i] = (i + 1) * 0x9E3779B97F4A7C15ULL ^ ((uint64_t)seed << 32 | seed);
}

/* Every page alike (KSM merges pages with equal content), different per seed. */
static void fill_alike(char *p, size_t len, unsigned seed)
{
	for (size_t off = 0; off < len; off += PAGE)
		fill64(p + off, PAGE, seed);
}

static long first_diff(const char *a, const char *b, size_t len)
{
	for (size_t i = 0; i < len; i += PAGE) {
		size_t n = len - i < PAGE ? len - i : PAGE;

		if (memcmp(a + i, b + i, n))
			for (size_t j = 0; j < n; j++)
				if (a[i + j] != b[i + j])
					return (long)(i + j);
	}
	return -1;
}

/* -- pins held across the event: gup_test long-term (fast, slow), io_uring fixed buffers -- */

enum pin { GUP_FAST, GUP_SLOW, GUP_RO, URING, VMSPLICE, DIO_EXT4, DIO_BLK, DIO_VFAT, PVM, NPIN };
static const char *const pin_names[NPIN] = {"gup-fast", "gup-slow", "gup-ro", "uring", "vmsplice", "dio-ext4",
					    "dio-blk", "dio-vfat", "pvm"};
static int gup_pin(enum pin p) { return p == GUP_FAST || p == GUP_SLOW || p == GUP_RO; }
static int held(enum pin p) { return p <= VMSPLICE; }

/* Pin p's machinery is missing here (io_uring, gup_test): the cell SKIPs, since a host's lack is
 * not the series' fault; 0 when p can be taken (or needs neither) */
static int pinner_missing(struct cell *c, enum pin p)
{
	if (p == URING ? ring_ok : (!gup_pin(p) || gup_fd >= 0))
		return 0;
	cskip(c, "%s", p == URING ? "io_uring_queue_init failed" : "no /sys/kernel/debug/gup_test");
	return -1;
}

/* A long-term pin leaves no page in ZONE_MOVABLE (mm/gup.c check_and_migrate_movable_folios()
 * migrates them out first, or the pin fails): the process maps the pinned pages, so their PFNs
 * are its. The default set boots with movablecore= (gup-test), so user memory starts there. */
static int pin_outside_movable(struct cell *c, enum pin p, char *addr, size_t len)
{
	long n = pages_in_movable(addr, len);

	if (n)
		cfail(c, "%ld of %zu page(s) stay in ZONE_MOVABLE under a long-term %s pin", n, len / PAGE,
		      pin_names[p]);
	return n ? -1 : 0;
}

static void pin_stop(struct cell *c, enum pin p)
{
	if (gup_pin(p) && ioctl(gup_fd, PIN_LONGTERM_TEST_STOP))
		cfail(c, "PIN_LONGTERM_TEST_STOP: %s", strerror(errno));
	if (p == URING && io_uring_unregister_buffers(&ring))
		cfail(c, "io_uring_unregister_buffers failed");
}

/* gup-ro: a read-only long-term pin (GUP-fast, no FOLL_WRITE) of private anonymous pages that a
 * child shares (COW) when it is taken. A R/O FOLL_PIN of an anon page that is not exclusive must
 * unshare it (mm/gup.c gup_must_unshare(), then FAULT_FLAG_UNSHARE): the process then maps its
 * own copies, exclusive but mapped read-only and clean (mm/memory.c wp_page_copy()), and the
 * pin holds those. That state is the one the later events must still see as pinned: a write
 * fault must reuse the page, not copy it; KSM (write_protect_page()), reclaim of a lazyfree page,
 * fork, migration must leave it where the pin is. The premise, checked: every pinned page moved
 * (the child keeps the old ones); a R/O pin that kept a shared page fails (the pin would not see
 * the process's later writes). The premise is read against the child's own page tables while
 * it still lives, not against the parent's PFNs before the pin: a long-term pin migrates pages
 * out of ZONE_MOVABLE (the default set boots with movablecore=), which changes the PFN of a
 * page both still share. The child exits once the pin is taken. */
static int ro_pin(struct cell *c, struct pin_longterm_test *args, char *addr, size_t len)
{
	size_t n = len / PAGE, moved = 0;
	int pfd[2], r = -1, st;
	pid_t kid;

	if (pipe(pfd)) {
		cfail(c, "pipe: %s", strerror(errno));
		return -1;
	}
	kid = cell_fork();
	if (kid == 0) {  /* shares the pages until the parent has pinned */
		char b;

		close(pfd[1]);
		_exit(read(pfd[0], &b, 1) < 0);
	}
	close(pfd[0]);
	args->flags = PIN_LONGTERM_TEST_FLAG_USE_FAST;  /* read-only */
	if (kid < 0)
		cfail(c, "fork: %s", strerror(errno));
	else if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, args))
		cfail(c, "PIN_LONGTERM_TEST_START read-only: %s", strerror(errno));
	else
		r = 0;
	for (size_t i = 0; kid > 0 && i < n; i++) {  /* the child still maps its pages: both sides known */
		uint64_t mine = pfn_of(addr + i * PAGE);
		uint64_t theirs = pagemap_pfn(pagemap_of(kid, (uintptr_t)addr + i * PAGE));

		moved += mine && theirs && mine != theirs;
	}
	close(pfd[1]);
	if (kid > 0)
		waitpid(kid, &st, 0);
	if (!r && moved != n) {
		cfail(c, "a read-only long-term pin of pages a child shares left %zu of %zu page(s) the child's too"
		      " (no unshare): the pin would not see the process's later writes", n - moved, n);
		pin_stop(c, GUP_RO);
		return -1;
	}
	if (!r)
		printf("# %s: the read-only pin unshared %zu of %zu page(s) the child shared (PFNs differ from the child's)\n",
		       c->name, moved, n);
	return r;
}

static int pin_start(struct cell *c, enum pin p, char *addr, size_t len)
{
	struct pin_longterm_test args = {.addr = (uintptr_t)addr, .size = len};
	struct iovec iov = {addr, len};
	long before = pages_in_movable(addr, len);  /* the check's premise: pages the pin must move */

	switch (p) {
	case GUP_FAST:
	case GUP_SLOW:
		/* writable long-term pins of ext4 MAP_SHARED are refused by design: pin those R/O */
		args.flags = (c->mem == FILESH ? 0 : PIN_LONGTERM_TEST_FLAG_USE_WRITE) |
			     (p == GUP_FAST ? PIN_LONGTERM_TEST_FLAG_USE_FAST : 0);
		if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args)) {
			cfail(c, "PIN_LONGTERM_TEST_START: %s", strerror(errno));
			return -1;
		}
		break;
	case GUP_RO:
		if (ro_pin(c, &args, addr, len))
			return -1;
		break;
	case URING:
		if (io_uring_register_buffers(&ring, &iov, 1)) {
			cfail(c, "io_uring_register_buffers failed");
			return -1;
		}
		break;
	default:
		return -1;
	}
	/* the pin is held: a failed check lets it go here, since the callers skip their unpin when
	 * pin_start() fails, and a pin left held fails every later cell of the pin for nothing
	 * (gup_test holds one long-term pin at a time: EINVAL; a ring one buffer table: EBUSY) */
	if (pin_outside_movable(c, p, addr, len)) {
		pin_stop(c, p);
		return -1;
	}
	if (before)
		printf("# %s: %ld of %zu page(s) in ZONE_MOVABLE before the long-term pin, none after\n", c->name,
		       before, len / PAGE);
	return 0;
}

#define URING_WAIT_S 20  /* a request of the global ring that takes longer lost its completion */

/* Submit the prepared sqe (tagged here) and wait for its completion, at most URING_WAIT_S: its
 * res, or -ETIME, so that a completion that never comes fails the cell instead of hanging the
 * guest. A completion of another tag met on the way (a request that timed out before) is dropped. */
static int uring_submit_wait(struct io_uring *r, struct io_uring_sqe *sqe)
{
	static uint64_t tags;
	uint64_t tag = ++tags;
	struct __kernel_timespec ts = {URING_WAIT_S, 0};
	struct io_uring_cqe *cqe;
	double t0 = now_s();
	int e;

	io_uring_sqe_set_data64(sqe, tag);
	if ((e = io_uring_submit(r)) < 0)
		return e;
	while (now_s() - t0 < URING_WAIT_S) {
		if (io_uring_wait_cqe_timeout(r, &cqe, &ts))
			break;
		if (cqe->user_data == tag) {
			e = cqe->res;
			io_uring_cqe_seen(r, cqe);
			return e;
		}
		io_uring_cqe_seen(r, cqe);
	}
	return -ETIME;
}

/* One WRITE_FIXED (the registered buffer idx at buf to the scratch file) or READ_FIXED (the other
 * way), len bytes at offset 0, on ring r: its res, or -errno */
static int uring_rw(struct io_uring *r, int write_fixed, char *buf, size_t len, int idx)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(r);

	if (!sqe)
		return -EBUSY;
	if (write_fixed)
		io_uring_prep_write_fixed(sqe, scratch_fd, buf, len, 0, idx);
	else
		io_uring_prep_read_fixed(sqe, scratch_fd, buf, len, 0, idx);
	return uring_submit_wait(r, sqe);
}

/* What the pinned pages hold, read through the pin itself (not the process's page tables). */
static int pin_read(struct cell *c, enum pin p, char *pinned_at, char *dst)
{
	uint64_t to = (uintptr_t)dst;

	if (gup_pin(p)) {
		if (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &to)) {
			cfail(c, "PIN_LONGTERM_TEST_READ: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	/* WRITE_FIXED: the registered pages to a tmpfs file, then the file to dst */
	if (uring_rw(&ring, 1, pinned_at, c->half, 0) != (int)c->half ||
	    pread(scratch_fd, dst, c->half, 0) != (ssize_t)c->half) {
		cfail(c, "io_uring WRITE_FIXED out of the registered buffer failed");
		return -1;
	}
	return 0;
}

/* Write src into the pinned pages through the pin (io_uring READ_FIXED); 0 when the pin has no
 * write side (gup_test can only read). */
static int pin_write(struct cell *c, enum pin p, char *pinned_at, const char *src)
{
	if (p != URING)
		return 0;
	if (pwrite(scratch_fd, src, c->half, 0) != (ssize_t)c->half ||
	    uring_rw(&ring, 0, pinned_at, c->half, 0) != (int)c->half) {
		cfail(c, "io_uring READ_FIXED into the registered buffer failed");
		return -1;
	}
	return 1;
}

/* -- memory kinds ----------------------------------------------------------------------- */

static int is_thp(const void *addr) { return (kpageflags(addr) >> KPF_THP) & 1; }

/* shmem-thp: a memfd whose pages are PMD-sized THPs. Its premise is the global shmem knob
 * (memfd_create's files live on the internal shm mount, which follows shmem_enabled): set to
 * "advise" unless "always"/"advise"/"force" already, put back after the cell (run_cells()) or at
 * exit (the matrix's own cells). */
#define SHMEM_ENABLED "/sys/kernel/mm/transparent_hugepage/shmem_enabled"

static int map_memfd_thp(struct cell *c)
{
	size_t len = 2 * c->half;
	char sel[32], *raw, *at;

	if (knob_value(SHMEM_ENABLED, sel, sizeof(sel))) {
		cskip(c, "cannot read %s (CONFIG_TRANSPARENT_HUGEPAGE off?)", SHMEM_ENABLED);
		return -1;
	}
	if (strcmp(sel, "always") && strcmp(sel, "advise") && strcmp(sel, "force") &&
	    cell_knob(c, SHMEM_ENABLED, "advise", NULL))
		return -1;
	c->fd = memfd_create("pin_matrix_thp", MFD_ALLOW_SEALING);
	if (c->fd < 0 || ftruncate(c->fd, len)) {
		cfail(c, "cannot make the shmem-thp memfd: %s", strerror(errno));
		return -1;
	}
	/* PMD-aligned, so that the THPs can be mapped by PMDs (and faulted in as THPs at all) */
	raw = mmap(NULL, len + HPAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return 0;  /* mem_map says it cannot map */
	at = (char *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1));
	c->map = mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, c->fd, 0);
	if (at > raw)
		munmap(raw, at - raw);
	if (raw + len + HPAGE > at + len)
		munmap(at + len, raw + len + HPAGE - (at + len));
	if (c->map == MAP_FAILED) {
		c->map = NULL;
		return 0;
	}
	madvise(c->map, len, MADV_HUGEPAGE);
	return 0;
}

/* Where each of n pages is now (was[]) and the other fake NUMA node for it (to[]: node 0 for a
 * page not present); -1 with the cell skipped (one node) or failed. */
static int nodes_and_other(struct cell *c, void **pages, size_t n, int *was, int *to)
{
	if (numa_nodes() < 2) {
		cskip(c, "one NUMA node only (numa=fake=2 on the command line?)");
		return -1;
	}
	if (syscall(SYS_move_pages, 0, n, pages, NULL, was, 0)) {
		cfail(c, "move_pages (query): %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		to[i] = was[i] >= 0 ? !was[i] : 0;
	return 0;
}

#include "events_cells.h"  /* cold, free, collapse, khugepaged, mkclean; shmem-thp's events */

static int mem_map(struct cell *c)
{
	size_t len;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;

	c->fd = -1;
	c->half = (c->mem == THP || c->mem == THPTE || c->mem == HUGE || c->mem == SHMTHP || events_small_in_pmd(c))
			  ? HPAGE : SMALL_PAGES * PAGE;
	len = 2 * c->half;
	c->shared = c->mem == SHMEM || c->mem == FILESH || c->mem == SHMTHP;
	switch (c->mem) {
	case ANON:
		c->map = events_small_in_pmd(c) ? map_aligned(len, HPAGE, MADV_NOHUGEPAGE) : map_aligned(len, PAGE, -1);
		break;
	case THP:
	case THPTE:
		c->map = map_aligned(len, HPAGE, MADV_HUGEPAGE);
		break;
	case HUGE:
		c->map = mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_HUGETLB, -1, 0);
		if (c->map == MAP_FAILED) {
			c->map = NULL;
			cskip(c, "no hugetlb pages (mmap MAP_HUGETLB: %s)", strerror(errno));
			return -1;
		}
		break;
	case SHMEM:
	case FILESH:
	case FILEPR:
		if (c->mem == SHMEM) {
			c->fd = memfd_create("pin_matrix", MFD_ALLOW_SEALING);  /* the seal event */
		} else {
			snprintf(c->path, sizeof(c->path), "%s/pin_matrix.%d", ext4_dir, getpid());
			c->fd = open(c->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		}
		if (c->fd < 0 || ftruncate(c->fd, len)) {
			cfail(c, "cannot make the %s file: %s", mem_names[c->mem], strerror(errno));
			return -1;
		}
		c->map = mmap(NULL, len, PROT_READ | PROT_WRITE, c->mem == FILEPR ? MAP_PRIVATE : MAP_SHARED,
			      c->fd, 0);
		if (c->map == MAP_FAILED)
			c->map = NULL;
		break;
	case SHMTHP:
		if (map_memfd_thp(c))
			return -1;
		break;
	default:
		break;
	}
	if (!c->map) {
		cfail(c, "cannot map %s memory: %s", mem_names[c->mem], strerror(errno));
		return -1;
	}
	c->cur = c->map;
	c->mapped = 1;
	c->exp = malloc(c->half);
	c->wexp = malloc(c->half);
	if (c->ev == KSM) {
		/* pages alike, so that the witness merges; the pinned half alike too, but unlike the
		 * witness: KSM's unstable tree would otherwise hold a pinned page that every witness
		 * page then fails to merge with */
		fill_alike(c->map, c->half, 1);
		fill_alike(c->map + c->half, c->half, 5);
	} else if (c->mem == FILEPR) {
		/* the file holds seed 7; the private mapping COWs when written (below, seed 1) */
		char *f = malloc(len);

		fill64(f, len, 7);
		if (pwrite(c->fd, f, len, 0) != (ssize_t)len || fsync(c->fd))
			cfail(c, "cannot write the ext4 file");
		free(f);
		fill64(c->map, len, 1);
	} else {
		fill64(c->map, len, 1);
	}
	memcpy(c->exp, c->map, c->half);
	memcpy(c->wexp, c->map + c->half, c->half);
	if ((c->mem == THP || c->mem == THPTE || c->mem == SHMTHP) && !(is_thp(c->map) && is_thp(c->map + c->half))) {
		cskip(c, "no THP behind the mapping (kpageflags: pinned half %s, witness %s)",
		      is_thp(c->map) ? "THP" : "not THP", is_thp(c->map + c->half) ? "THP" : "not THP");
		return -1;
	}
	if (c->mem == THPTE) {
		/* mprotect one page of each THP: the PMD is split, the folio stays large */
		long before = vmstat("thp_split_pmd");

		if (mprotect(c->map + PAGE, PAGE, PROT_READ) || mprotect(c->map + PAGE, PAGE, PROT_READ | PROT_WRITE) ||
		    mprotect(c->map + c->half + PAGE, PAGE, PROT_READ) ||
		    mprotect(c->map + c->half + PAGE, PAGE, PROT_READ | PROT_WRITE)) {
			cfail(c, "mprotect to PTE-map the THP: %s", strerror(errno));
			return -1;
		}
		if (vmstat("thp_split_pmd") - before < 2 || !is_thp(c->map) || !is_thp(c->map + c->half)) {
			cskip(c, "THP not PTE-mapped (thp_split_pmd +%ld, still THP: %d/%d)",
			      vmstat("thp_split_pmd") - before, is_thp(c->map), is_thp(c->map + c->half));
			return -1;
		}
	}
	return 0;
}

static void mem_unmap(struct cell *c)
{
	if (c->map) {
		if (c->mapped && c->cur != c->map)
			munmap(c->cur, c->half);
		munmap(c->map, 2 * c->half);  /* the part mremap/munmap took is already gone: harmless */
	}
	cell_file_close(c);
	free(c->exp);
	free(c->wexp);
}

/* The file's bytes on disk (O_DIRECT bypasses the page cache), compared with want. */
static void check_disk(struct cell *c, const char *want, off_t off, const char *what)
{
	char *buf;
	int fd;
	long d;

	if (c->mem != FILESH && c->mem != FILEPR)
		return;
	if (c->mem == FILESH && ((c->mapped && msync(c->cur, c->half, MS_SYNC)) || fsync(c->fd)))
		cfail(c, "msync/fsync: %s", strerror(errno));
	drop_caches();
	fd = open(c->path, O_RDONLY | O_DIRECT);
	if (fd < 0 || posix_memalign((void **)&buf, PAGE, c->half)) {
		cfail(c, "cannot open %s with O_DIRECT", c->path);
		return;
	}
	if (pread(fd, buf, c->half, off) != (ssize_t)c->half)
		cfail(c, "O_DIRECT read of %s failed: %s", c->path, strerror(errno));
	else if ((d = first_diff(buf, want, c->half)) >= 0)
		cfail(c, "%s: the file on disk differs at byte %ld", what, d);
	free(buf);
	close(fd);
}

/* -- reclaim in a memory cgroup (issue 20: "reclaim under a memcg limit") -------------------
 * The cell's process moves into the cgroup -m before its memory is mapped, so the region is
 * charged there, and memory.reclaim (cgroup v2, mm/memcontrol.c memory_reclaim()) asks for
 * everything the group holds: the witness must leave memory (anon to swap on zram, files
 * dropped once msync has cleaned them), the pinned half must stay. Proactive reclaim rather
 * than a lower memory.max: a limit below a pinned working set ends in the OOM killer. */

static char memcg_home[600];  /* cgroup.procs of the cgroup the process started in */
static int memcg_in;

static int memcg_move(const char *procs)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d", getpid());
	return write_file(procs, pid);
}

/* Into the -m cgroup: 0; -1 (a skip) without -m; -2 (a failure) when the move failed. */
static int memcg_enter(char *why, size_t n)
{
	char procs[600];

	if (!memcg_dir) {
		snprintf(why, n, "no memory cgroup given (-m)");
		return -1;
	}
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", memcg_dir);
	if (!memcg_home[0] || !memcg_move(procs)) {
		snprintf(why, n, "cannot move the process into %s: %s", memcg_dir,
			 memcg_home[0] ? strerror(errno) : "no cgroup v2 line in /proc/self/cgroup");
		return -2;
	}
	memcg_in = 1;
	return 0;
}

/* A reclaim cell's process into the -m cgroup before its memory is mapped; -1: said why. */
static int memcg_cell_enter(struct cell *c)
{
	char why[200];
	int r = memcg_enter(why, sizeof(why));

	if (r == -1)
		cskip(c, "%s", why);
	else if (r)
		cfail(c, "%s", why);
	return r ? -1 : 0;
}

/* Back where the process started; its charges stay with the -m group until freed. */
static void memcg_leave(void)
{
	if (memcg_in && !memcg_move(memcg_home))
		printf("# cannot move back to %s: %s\n", memcg_home, strerror(errno));
	memcg_in = 0;
}

/* The cgroup v2 path this process started in (/proc/self/cgroup "0::/path"), as the
 * cgroup.procs under the hierarchy that holds -m (its parent: pin-matrix.sh makes it at the top). */
static void memcg_init(void)
{
	char line[256], top[256];
	FILE *f;

	if (!memcg_dir)
		return;
	snprintf(top, sizeof(top), "%s", memcg_dir);
	if (strrchr(top, '/'))
		*strrchr(top, '/') = 0;
	f = fopen("/proc/self/cgroup", "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(memcg_home, sizeof(memcg_home), "%s%s%scgroup.procs", top, line + 3,
				 line[strlen(line) - 1] == '/' ? "" : "/");
		}
	if (f)
		fclose(f);
}

/* One counter of the -m group's memory.stat ("pgscan", "pgsteal"), -1 when unreadable. */
static long memcg_stat(const char *name)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/memory.stat", memcg_dir);
	return key_value(path, name);
}

/* memory.reclaim BYTES of the -m group: 0, or errno (EAGAIN: less than asked was reclaimable,
 * which pinned pages make the rule, not a failure). */
static int memcg_reclaim(long bytes)
{
	char path[600], req[32];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/memory.reclaim", memcg_dir);
	snprintf(req, sizeof(req), "%ld", bytes);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return errno;
	if (write(fd, req, strlen(req)) < 0)
		err = errno;
	close(fd);
	return err;
}

/* memory.reclaim of all the -m group holds (its memory.current; fallback bytes when that is
 * unreadable): a smaller request can be met elsewhere in the group without meeting the cell's
 * pages. 0 or errno as memcg_reclaim(); memory.current as read in *cur when cur is not NULL. */
static int memcg_reclaim_all(long fallback, long *cur)
{
	char path[600];
	long now;

	snprintf(path, sizeof(path), "%s/memory.current", memcg_dir);
	now = read_long(path);
	if (cur)
		*cur = now;
	return memcg_reclaim(now > 0 ? now : fallback);
}

/* Witness pages out of memory: files by mincore (page cache), private memory by pagemap's
 * swap bit. */
static int witness_out(struct cell *c)
{
	unsigned char vec[HPAGE / PAGE];
	int out = 0;

	if (c->shared) {
		if (!mincore(c->map + c->half, c->half, vec))
			for (size_t i = 0; i < c->half / PAGE; i++)
				out += !(vec[i] & 1);
	} else {
		for (size_t off = 0; off < c->half; off += PAGE)
			out += !!(pagemap(c->map + c->half + off) & PM_SWAP);
	}
	return out;
}

static void reclaim_event(struct cell *c)
{
	char path[600];
	long scan = memcg_stat("pgscan"), steal = memcg_stat("pgsteal"), sw = vmstat("pswpout"), cur, dsteal;
	int err, out;

	if (!memcg_in) {
		cskip(c, "not in a memory cgroup (-m)");
		return;
	}
	/* reclaim writes back no dirty file page of a memcg: clean them first */
	if (c->mem == FILESH && msync(c->map, 2 * c->half, MS_SYNC)) {
		cfail(c, "msync: %s", strerror(errno));
		return;
	}
	err = memcg_reclaim_all((long)(4 * c->half), &cur);
	if (err && err != EAGAIN) {
		cfail(c, "writing %ld to %s/memory.reclaim: %s", cur, memcg_dir, strerror(err));
		return;
	}
	out = witness_out(c);
	dsteal = memcg_stat("pgsteal") - steal;
	printf("# %s: memory.reclaim of %ld bytes: %s, memory.current -> %ld, pgscan +%ld, pgsteal +%ld,"
	       " pswpout +%ld, %d of %zu witness pages out\n", c->name, cur, err ? strerror(err) : "done",
	       read_long(path), memcg_stat("pgscan") - scan, dsteal, vmstat("pswpout") - sw, out, c->half / PAGE);
	if (!out)
		cskip(c, "memory.reclaim took no witness page (pgsteal +%ld)", dsteal);
	else if (scan < 0 || dsteal <= 0)
		cskip(c, "memory.stat pgsteal did not move (%ld -> %ld)", steal, memcg_stat("pgsteal"));
	else if (c->mem != FILESH && vmstat("pswpout") == sw)
		cskip(c, "pswpout did not move: no swap (swap on zram?)");
}

/* -- events ----------------------------------------------------------------------------- */

static void wait_child(struct cell *c, pid_t pid, const char *who)
{
	int st;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
			cfail(c, "%s: the child does not read back what it wrote to its copy", who);
		else if (WIFEXITED(st) && WEXITSTATUS(st) == 5)
			cfail(c, "%s: the child sees the parent's write after fork in a private mapping", who);
		else
			cfail(c, "%s: child ended with status 0x%x", who, st);
	}
}

/* -- a cell in a child process of its own ------------------------------------------------- */

/* What a cell's child hands back (MAP_SHARED anonymous): its verdict, its "#" lines (unbuffered:
 * a killed child's too) and the stage it is in (cell_stage()) */
struct child_share {
	char failed[300], skip[200], stage[120];
	char notes[8192];
};
static struct child_share *in_child;  /* set in a cell's child only */

/* What the cell's child is doing now, named if it has to be killed (a no-op outside one) */
static void cell_stage(const char *fmt, ...)
{
	va_list ap;

	if (!in_child)
		return;
	va_start(ap, fmt);
	vsnprintf(in_child->stage, sizeof(in_child->stage), fmt, ap);
	va_end(ap);
}

/* A ring of the child's own: the parent's is shared with it through fork, and buffers the child
 * registered there would outlive it */
static void own_ring(void)
{
	if (ring_ok)
		io_uring_queue_exit(&ring);
	ring_ok = !io_uring_queue_init(8, &ring, 0);
}

#define CHILD_REAP_S 10  /* a killed cell's child not gone by then is stuck in the kernel: left */

/* body(c, k) in a child process of its own, so that a cell stuck in the kernel (a thread that lost
 * its fault and the locks it holds) fails alone and the run goes on. The parent waits in
 * sigtimedwait() for SIGCHLD, touching no memory (numa's cells need a parent the NUMA scanner
 * leaves alone), secs at most; then SIGKILL and a FAIL naming the child's stage and where it
 * waited (wchan). After the child, however it ended: the knobs it changed put back (the table is
 * shared), gup_test's pin let go. */
static void cell_in_child(struct cell *c, void (*body)(struct cell *c, int k), int k, int secs)
{
	struct child_share *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	double until = now_s() + secs;
	unsigned mark = knob_mark();
	int st = 0;
	sigset_t chld, was_mask;
	pid_t pid;

	if (sh == MAP_FAILED) {
		cfail(c, "mmap: %s", strerror(errno));
		return;
	}
	memset(sh, 0, sizeof(*sh));
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &was_mask);
	pid = cell_fork();
	if (pid == 0) {
		FILE *out = fmemopen(sh->notes, sizeof(sh->notes) - 1, "w");

		sigprocmask(SIG_SETMASK, &was_mask, NULL);
		in_child = sh;
		if (out) {
			setvbuf(out, NULL, _IONBF, 0);
			stdout = out;
		}
		own_ring();
		body(c, k);
		snprintf(sh->failed, sizeof(sh->failed), "%s", c->failed);
		snprintf(sh->skip, sizeof(sh->skip), "%s", c->skip);
		_exit(0);
	}
	if (pid < 0) {
		sigprocmask(SIG_SETMASK, &was_mask, NULL);
		cfail(c, "fork: %s", strerror(errno));
		goto back;
	}
	for (;;) {
		double left = until - now_s();
		struct timespec ts = {(time_t)left, (long)((left - (time_t)left) * 1e9)};
		pid_t r = waitpid(pid, &st, WNOHANG);
		char p[64], wchan[64] = "?";

		if (r < 0 && errno != EINTR) {
			cfail(c, "waitpid: %s", strerror(errno));
			break;
		}
		if (r == pid)
			break;
		if (left > 0) {
			sigtimedwait(&chld, NULL, &ts);  /* SIGCHLD, the timeout, or EINTR (a handler ran) */
			continue;
		}
		snprintf(p, sizeof(p), "/proc/%d/wchan", pid);
		first_line(p, wchan, sizeof(wchan));
		kill(pid, SIGKILL);
		for (double t0 = now_s(); now_s() - t0 < CHILD_REAP_S && waitpid(pid, &st, WNOHANG) != pid;)
			usleep(10000);
		cfail(c, "the cell's child did not finish in %d s, killed (stage: %s; waiting in %s)%s", secs,
		      sh->stage[0] ? sh->stage : "none named", wchan, kill(pid, 0) ? "" : "; still there after SIGKILL");
		st = 0;
		break;
	}
	sigprocmask(SIG_SETMASK, &was_mask, NULL);
	fputs(sh->notes, stdout);
	if (sh->failed[0])
		cfail(c, "%s", sh->failed);
	else if (!WIFEXITED(st) || WEXITSTATUS(st))
		cfail(c, "the cell's child ended with status 0x%x (stage: %s)", st, sh->stage[0] ? sh->stage : "none named");
	if (sh->skip[0])
		cskip(c, "%s", sh->skip);
back:
	knobs_back(c, mark);
	if (gup_fd >= 0)
		ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);  /* a child that died holding gup_test's pin */
	munmap(sh, sizeof(*sh));
}

/* Pages of [p, p+len) whose PFN another page of the range has (merged by KSM); with also,
 * pages whose PFN one of also's len bytes has too. */
static int sharing(const char *p, size_t len, const char *also)
{
	size_t n = len / PAGE, m = also ? n : 0;
	uint64_t *pfn = calloc(n + m, sizeof(uint64_t));
	int hits = 0;

	for (size_t i = 0; i < n; i++)
		pfn[i] = pfn_of(p + i * PAGE);
	for (size_t i = 0; i < m; i++)
		pfn[n + i] = pfn_of(also + i * PAGE);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n + m; j++)
			if (j != i && pfn[i] && pfn[i] == pfn[j]) {
				hits++;
				break;
			}
	free(pfn);
	return hits;
}

static long ksm_read(const char *name)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
	return read_long(path);
}

/* Run one event on the cell; the pinned half is c->cur.. (pinned or about to be). */
static void event(struct cell *c, int pinned)
{
	size_t len = 2 * c->half;
	long before;

	switch (c->ev) {
	case NONE:
	case RO:
	case HOLE:
		break;
	case FORK: {
		pid_t pid = cell_fork();

		if (pid == 0) {
			/* the child writes its copy and must read back its own data */
			fill64(c->cur, c->half, 9);
			char *mine = malloc(c->half);

			fill64(mine, c->half, 9);
			_exit(memcmp(mine, c->cur, c->half) ? 3 : 0);
		}
		wait_child(c, pid, "fork");
		if (c->shared)
			fill64(c->exp, c->half, 9);  /* shared pages: the child's write is everybody's */
		break;
	}
	case MPROTECT:
		if (mprotect(c->cur, c->half, PROT_READ) || mprotect(c->cur, c->half, PROT_READ | PROT_WRITE))
			cfail(c, "mprotect: %s", strerror(errno));
		break;
	case SOFTDIRTY:
		if (!write_file("/proc/self/clear_refs", "4")) {
			cfail(c, "cannot write 4 to /proc/self/clear_refs: %s", strerror(errno));
			break;
		}
		/* The witness is never pinned: clear_refs must clear it, on any working kernel. */
		if (pagemap(c->map + c->half) & PM_SOFT_DIRTY) {
			cfail(c, "clear_refs 4 left the unpinned witness soft-dirty (pagemap)");
			break;
		}
		/* 6.12 leaves a pinned small page's PTE writable and soft-dirty (fs/proc/task_mmu.c
		 * pte_is_pinned()), so the process's write would never fault: nothing to test. A
		 * pinned THP's PMD is write-protected and cleared. */
		if (pinned && (pagemap(c->cur) & PM_SOFT_DIRTY)) {
			cskip(c, "clear_refs left the pinned page soft-dirty and writable (pte_is_pinned): no write fault");
			break;
		}
		/* mprotect one page there and back: a PMD is split into read-only PTEs that stay
		 * read-only (soft-dirty tracking), so the process's write faults in do_wp_page(),
		 * which must reuse the exclusive pinned page */
		if (mprotect(c->cur, c->mem == HUGE ? c->half : PAGE, PROT_READ) ||
		    mprotect(c->cur, c->mem == HUGE ? c->half : PAGE, PROT_READ | PROT_WRITE))
			cfail(c, "mprotect: %s", strerror(errno));
		break;
	case PAGEOUT: {
		long sw = vmstat("pswpout");
		int gone = 0;
		unsigned char vec[2 * HPAGE / PAGE];

		/* dirty file pages are not written back by MADV_PAGEOUT's reclaim: clean them first */
		if (c->mem == FILESH && msync(c->map, len, MS_SYNC))
			cfail(c, "msync: %s", strerror(errno));
		if (madvise(c->map, len, MADV_PAGEOUT)) {
			cfail(c, "MADV_PAGEOUT: %s", strerror(errno));
			break;
		}
		/* the witness must have left memory: anon by pagemap's swap bit, files by mincore
		 * (twice more after drain_lru(): a loaded TCG guest is slow to settle). None out stays a
		 * FAIL: docs/matrix.md's Premises (reclaim must take an unpinned page) */
		for (int tries = 0; tries < 3 && !gone; tries++) {
			if (tries) {
				drain_lru();
				madvise(c->map + c->half, c->half, MADV_PAGEOUT);
			}
			if (c->shared) {
				if (!mincore(c->map + c->half, c->half, vec))
					for (size_t i = 0; i < c->half / PAGE; i++)
						gone += !(vec[i] & 1);
			} else {
				for (size_t off = 0; off < c->half; off += PAGE)
					gone += !!(pagemap(c->map + c->half + off) & PM_SWAP);
			}
		}
		if (c->mem != FILESH && c->mem != FILEPR && !swap_on())
			cskip(c, "no swap in /proc/swaps (swap on zram?)");
		else if (!gone)  /* swap is on, the witness is unpinned: reclaim must take it */
			cfail(c, "MADV_PAGEOUT reclaimed no unpinned witness page, three times (pswpout +%ld)",
			      vmstat("pswpout") - sw);
		break;
	}
	case DONTNEED:
		if (madvise(c->cur, c->half, MADV_DONTNEED)) {
			cfail(c, "MADV_DONTNEED: %s", strerror(errno));
			break;
		}
		if (!c->shared && pinned)
			c->mapped = 0;  /* private: the process now sees fresh pages, the pin the old ones */
		break;
	case MIGRATE: {
		/* two calls: a page that cannot move (the pinned half) makes move_pages() return
		 * early without storing the status of the pages it did move */
		size_t n = c->half / PAGE;
		void **pages = calloc(n, sizeof(void *));
		int *nodes = calloc(n, sizeof(int)), *status = calloc(n, sizeof(int)), moved = 0, from;
		long r;

		before = vmstat("pgmigrate_success");
		pages[0] = c->map + c->half;
		if (syscall(SYS_move_pages, 0, 1, pages, NULL, status, 0)) {
			cfail(c, "move_pages (query): %s", strerror(errno));
			goto out;
		}
		from = status[0];
		if (from < 0 || access("/sys/devices/system/node/node1", F_OK)) {
			cskip(c, "one NUMA node only (numa=fake=2 on the command line?)");
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			pages[i] = c->cur + i * PAGE;
			nodes[i] = !from;
		}
		r = syscall(SYS_move_pages, 0, n, pages, nodes, status, 0);  /* the pinned half: may fail */
		if (r < 0 && errno != ENOENT && errno != EBUSY && errno != EAGAIN) {
			cfail(c, "move_pages of the pinned half: %s", strerror(errno));
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			pages[i] = c->map + c->half + i * PAGE;
		/* do_pages_move() drains LRU batches; a page a loaded guest still has in flight elsewhere
		 * (EAGAIN, a moment's reference) moves on a later try. One that never moved stays a FAIL
		 * (docs/matrix.md's Premises: move_pages must move an unpinned page). */
		for (int tries = 0; tries < 3 && !moved; tries++) {
			if (tries)
				usleep(100 * 1000);
			r = syscall(SYS_move_pages, 0, n, pages, nodes, status, 0);
			for (size_t i = 0; r == 0 && i < n; i++)
				moved += status[i] == !from;
		}
		if (!moved || vmstat("pgmigrate_success") == before)
			cfail(c, "the unpinned witness did not migrate to node %d in three tries (move_pages %ld, %d moved,"
			      " pgmigrate_success +%ld)", !from, r, moved, vmstat("pgmigrate_success") - before);
out:
		free(pages);
		free(nodes);
		free(status);
		break;
	}
	case COMPACT:
		before = vmstat("pgmigrate_success");
		if (!write_file("/proc/sys/vm/compact_memory", "1"))
			cfail(c, "cannot write /proc/sys/vm/compact_memory: %s", strerror(errno));
		else if (vmstat("pgmigrate_success") == before)
			cskip(c, "compaction migrated nothing (pgmigrate_success unchanged)");
		break;
	case SPLIT: {
		char cmd[96];

		before = vmstat("thp_split_page");
		snprintf(cmd, sizeof(cmd), "%d,0x%lx,0x%lx", getpid(), (unsigned long)c->map,
			 (unsigned long)(c->map + len));
		if (!write_file("/sys/kernel/debug/split_huge_pages", cmd)) {
			cfail(c, "cannot write %s to debugfs split_huge_pages: %s", cmd, strerror(errno));
			break;
		}
		/* it is not pinned, but a reference held for a moment (an LRU batch: drain_lru()) makes
		 * the split refuse it: tried twice more, then FAIL as before */
		for (int tries = 0; tries < 2 && is_thp(c->map + c->half); tries++) {
			drain_lru();
			write_file("/sys/kernel/debug/split_huge_pages", cmd);
		}
		if (is_thp(c->map + c->half) || vmstat("thp_split_page") == before)
			cfail(c, "debugfs split_huge_pages did not split the unpinned witness THP in three tries"
			      " (thp_split_page +%ld)", vmstat("thp_split_page") - before);
		break;
	}
	case KSM: {
		/* Premise from PFNs: merged witness pages share one page. Not kpageflags: 6.12's
		 * stable_page_flags() tests "mapping & PAGE_MAPPING_KSM", true for every anon page. */
		long merging = read_long("/proc/self/ksm_merging_pages"), deadline;
		int shared = 0;

		if (ksm_read("run") < 0 || merging < 0) {
			cskip(c, "no /sys/kernel/mm/ksm or /proc/self/ksm_merging_pages (CONFIG_KSM off)");
			break;
		}
		if (madvise(c->map, len, MADV_MERGEABLE)) {
			cfail(c, "MADV_MERGEABLE: %s", strerror(errno));
			break;
		}
		write_file("/sys/kernel/mm/ksm/run", "1");  /* ksmd only while a cell waits: it eats a CPU (main saved run) */
		for (deadline = 0; deadline < 200 && !(shared = sharing(c->map + c->half, c->half, 0)); deadline++)
			usleep(50 * 1000);
		write_file("/sys/kernel/mm/ksm/run", "0");  /* merged pages stay merged */
		printf("# %s: %ld ms of ksmd, %d witness pages share a page, ksm_merging_pages %ld -> %ld\n", c->name,
		       deadline * 50, shared, merging, read_long("/proc/self/ksm_merging_pages"));
		if (!shared) {
			cskip(c, "KSM merged no witness pages in %ld ms (ksm_merging_pages %ld -> %ld)", deadline * 50,
			      merging, read_long("/proc/self/ksm_merging_pages"));
			break;
		}
		if (pinned && (shared = sharing(c->cur, c->half, c->map + c->half)))
			cfail(c, "KSM merged %d pinned page(s): they share a PFN with another page", shared);
		break;
	}
	case MREMAP: {
		/* move the pinned half to a fresh, equally aligned place */
		size_t align = c->half >= HPAGE ? HPAGE : PAGE;
		char *to = map_aligned(c->half, align, -1), *got;
		uint64_t pfn = pfn_of(c->cur);

		got = mremap(c->cur, c->half, c->half, MREMAP_MAYMOVE | MREMAP_FIXED, to);
		if (got == MAP_FAILED) {
			cfail(c, "mremap: %s", strerror(errno));
			break;
		}
		c->cur = got;
		if (pfn != pfn_of(c->cur))
			cfail(c, "mremap changed the page behind the moved mapping (pfn %#lx -> %#lx)",
			      (unsigned long)pfn, (unsigned long)pfn_of(c->cur));
		break;
	}
	case RECLAIM:
		reclaim_event(c);
		break;
	case MUNMAP:
		if (munmap(c->cur, c->half))
			cfail(c, "munmap: %s", strerror(errno));
		if (c->cur == c->map)  /* keep mem_unmap from unmapping a range reused since */
			c->map = mmap(c->map, c->half, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		c->mapped = 0;
		break;
	default:
		events_event(c);
		break;
	}
}

/* -- a cell of a pin held across the event ------------------------------------------------ */

static void held_cell(struct cell *c, enum pin p)
{
	char *pin_at, *got = malloc(c->half);
	char *want = malloc(HPAGE);
	long p0, d;
	int wrote;

	p0 = pins_outstanding();
	pin_at = c->map;
	if (pin_start(c, p, pin_at, c->half))
		goto out;
	event(c, 1);
	if (c->failed[0] || c->skip[0])
		goto unpin;
	/* 1. what the pinned pages hold now (the event kept them, or the child's shared write) */
	if (pin_read(c, p, pin_at, got))
		goto unpin;
	if ((d = first_diff(got, c->exp, c->half)) >= 0) {
		cfail(c, "after %s the pin reads other data than the pages held (byte %ld)", ev_names[c->ev], d);
		goto unpin;
	}
	if (c->mapped) {
		/* 2. the process writes: the pin must read it */
		fill64(c->cur, c->half, 2);
		memcpy(c->exp, c->cur, c->half);
		if (pin_read(c, p, pin_at, got))
			goto unpin;
		if ((d = first_diff(got, c->exp, c->half)) >= 0) {
			cfail(c, "after %s the process's write is not seen through the pin (byte %ld): "
			      "the process's page is no longer the pinned one", ev_names[c->ev], d);
			goto unpin;
		}
	}
	/* 3. written through the pin: the process (and the file) must read it */
	fill64(want, c->half, 3);
	wrote = pin_write(c, p, pin_at, want);
	if (wrote < 0)
		goto unpin;
	if (wrote)
		memcpy(c->exp, want, c->half);
	if (wrote && c->mapped && (d = first_diff(c->cur, want, c->half)) >= 0) {
		cfail(c, "after %s what was written through the pin is not what the process reads (byte %ld)",
		      ev_names[c->ev], d);
		goto unpin;
	}
	if (!c->mapped) {
		/* the process let go of the pages: the pin still has its own, intact */
		if (pin_read(c, p, pin_at, got))
			goto unpin;
		if ((d = first_diff(got, c->exp, c->half)) >= 0)
			cfail(c, "after %s the pinned pages changed under the pin (byte %ld)", ev_names[c->ev], d);
	}
	if (c->ev == DONTNEED && !c->shared) {
		/* private memory re-faults fresh: zeros, or the file's own bytes */
		fill64(want, c->half, 7);
		if (c->mem != FILEPR)
			memset(want, 0, c->half);
		if ((d = first_diff(c->cur, want, c->half)) >= 0)
			cfail(c, "after MADV_DONTNEED of a private mapping the process reads old data (byte %ld)", d);
	}
unpin:
	pin_stop(c, p);
	/* the witness came back intact (swap-in, migration, split, merge) */
	if (!c->failed[0] && (d = first_diff(c->map + c->half, c->wexp, c->half)) >= 0 && c->ev != MUNMAP)
		cfail(c, "after %s the unpinned witness half reads other data (byte %ld)", ev_names[c->ev], d);
	if (!c->failed[0] && !c->skip[0]) {
		if (c->mem == FILESH && c->mapped)
			check_disk(c, c->exp, 0, "written through the mapping/pin");
		if (c->mem == FILEPR) {
			fill64(want, c->half, 7);
			check_disk(c, want, 0, "a private mapping's writes must not reach the file");
		}
	}
	if (pins_settle(p0) != p0)
		cfail(c, "%ld pin(s) outstanding after the unpin", pins_settle(p0) - p0);
out:
	free(got);
	free(want);
}


/* -- error paths of the held pins (issue 20): a range that goes bad part way ---------------- */

/* Pin [addr, addr+len) as p does, writable; 0 or -errno, nothing recorded in a cell (the
 * failure is what the error-path cells expect). */
static int pin_try(enum pin p, char *addr, size_t len)
{
	struct pin_longterm_test args = {.addr = (uintptr_t)addr, .size = len,
					 .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE |
						  (p == GUP_FAST ? PIN_LONGTERM_TEST_FLAG_USE_FAST : 0)};
	struct iovec iov = {addr, len};

	if (p == URING)
		return io_uring_register_buffers(&ring, &iov, 1);  /* liburing: -errno */
	return ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args) ? -errno : 0;
}

/* hole: the witness's first page is unmapped; prot-none: the region's last page (hugetlb: the
 * witness huge page) is PROT_NONE. The pin asks for the whole region (both halves): 6.12 pins
 * up to the bad page and returns that short count (mm/gup.c __get_user_pages() stops at the
 * fault, gup_fast_fallback() returns the pages pinned so far), which both callers turn into
 * EFAULT after unpinning it: io_pin_pages() (io_uring/memmap.c) directly, gup_test's
 * PIN_LONGTERM_TEST_START by retrying at the bad page and unpinning on its -EFAULT. So the
 * call must fail with EFAULT, having taken no pin past the bad page and left none behind; the
 * memory keeps its data; then the good half must still pin and work (held_cell). */
static void errpath_cell(struct cell *c, enum pin p)
{
	size_t len = 2 * c->half, bad, bad_len, good;
	long p0 = pins_outstanding(), m0 = vmstat("pgmigrate_success"), a0, r0, acq, rel, d;
	const char *what = c->ev == HOLE ? "unmapped" : "PROT_NONE";
	int r;

	if (c->ev == HOLE) {
		bad = c->half;
		bad_len = PAGE;
	} else {
		bad_len = c->mem == HUGE ? c->half : PAGE;
		bad = len - bad_len;
	}
	good = bad / PAGE;
	if (c->ev == HOLE ? munmap(c->map + bad, bad_len) : mprotect(c->map + bad, bad_len, PROT_NONE)) {
		cfail(c, "cannot make page %zu %s: %s", good, what, strerror(errno));
		return;
	}
	a0 = vmstat("nr_foll_pin_acquired");
	r0 = vmstat("nr_foll_pin_released");
	r = pin_try(p, c->map, len);
	acq = vmstat("nr_foll_pin_acquired") - a0;
	rel = vmstat("nr_foll_pin_released") - r0;
	printf("# %s: pinning %zu pages, page %zu %s: %s; the kernel took %ld pin(s) and released %ld\n", c->name,
	       len / PAGE, good, what, r ? strerror(-r) : "pinned them all", acq, rel);
	if (!r) {
		cfail(c, "%s pinned all %zu pages of a range whose page %zu is %s", pin_names[p], len / PAGE, good, what);
		pin_stop(c, p);
	} else if (r != -EFAULT) {
		cfail(c, "%s over a range whose page %zu is %s failed with %s, not EFAULT", pin_names[p], good, what,
		      strerror(-r));
	}
	if (acq > (long)good && vmstat("pgmigrate_success") == m0)  /* FOLL_LONGTERM migration retries pin twice */
		cfail(c, "%s took %ld pins for the %zu pages before the %s one", pin_names[p], acq, good, what);
	if ((d = pins_settle(p0) - p0))
		cfail(c, "%ld pin(s) %s after the failed %s", d > 0 ? d : -d,
		      d > 0 ? "outstanding (leaked)" : "released more than taken", pin_names[p]);
	/* the bad page back: PROT_NONE keeps its data; a hole re-faults the file's page (memfd),
	 * or a fresh zero page (private) */
	if (c->ev == PROTNONE) {
		r = mprotect(c->map + bad, bad_len, PROT_READ | PROT_WRITE);
	} else {
		r = mmap(c->map + bad, bad_len, PROT_READ | PROT_WRITE, MAP_FIXED | (c->shared ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS),
			 c->shared ? c->fd : -1, c->shared ? (off_t)bad : 0) == MAP_FAILED;
		if (!c->shared)
			memset(c->wexp + (bad - c->half), 0, bad_len);
	}
	if (r) {
		cfail(c, "cannot map page %zu again: %s", good, strerror(errno));
		return;
	}
	if (!c->failed[0] && (d = first_diff(c->map, c->exp, c->half)) >= 0)
		cfail(c, "after the failed %s the first half reads other data (byte %ld)", pin_names[p], d);
	if (!c->failed[0] && (d = first_diff(c->map + c->half, c->wexp, c->half)) >= 0)
		cfail(c, "after the failed %s the second half reads other data (byte %ld)", pin_names[p], d);
	if (!c->failed[0])
		held_cell(c, p);  /* what the failure left must still pin, both ways, and unpin */
}

/* -- F_SEAL_WRITE under a pin (issue 20, memfd) --------------------------------------------- */

/* mm/memfd.c (6.12) memfd_add_seals(): F_SEAL_WRITE first refuses while a writable shared
 * mapping exists (mapping_deny_writable(), EBUSY whatever the pins), then memfd_wait_for_pins()
 * tags folios whose refcount exceeds page cache + mappings, waits ~150 ms for them, and says
 * EBUSY if any still has one. So: pin, check both ways, unmap (the pin is then the only reason
 * to refuse), seal must fail with EBUSY and the pinned pages still be the file's; after the
 * unpin the same seal must succeed and hold (a write to the file fails with EPERM). */
static void seal_cell(struct cell *c, enum pin p)
{
	char *pin_at = c->map, *got = malloc(c->half), *want = malloc(c->half);
	long p0 = pins_outstanding(), d = -1;
	int r, wrote, seals;
	double t0;

	if (pin_start(c, p, pin_at, c->half))
		goto out;
	fill64(c->map, c->half, 2);  /* the process writes: the pin reads it */
	memcpy(c->exp, c->map, c->half);
	if (pin_read(c, p, pin_at, got))
		goto unpin;
	if ((d = first_diff(got, c->exp, c->half)) >= 0) {
		cfail(c, "the process's write is not seen through the pin (byte %ld)", d);
		goto unpin;
	}
	fill64(want, c->half, 3);  /* written through the pin (io_uring): the process reads it */
	if ((wrote = pin_write(c, p, pin_at, want)) < 0)
		goto unpin;
	if (wrote) {
		memcpy(c->exp, want, c->half);
		if ((d = first_diff(c->map, want, c->half)) >= 0) {
			cfail(c, "what was written through the pin is not what the process reads (byte %ld)", d);
			goto unpin;
		}
	}
	munmap(c->map, 2 * c->half);
	c->map = NULL;
	c->mapped = 0;
	t0 = now_s();
	r = fcntl(c->fd, F_ADD_SEALS, F_SEAL_WRITE);
	printf("# %s: F_SEAL_WRITE under the pin: %s after %.0f ms\n", c->name, r ? strerror(errno) : "granted",
	       (now_s() - t0) * 1000);
	if (!r)
		cfail(c, "F_SEAL_WRITE was granted while %s held a pin on the memfd's pages (memfd_wait_for_pins: EBUSY)",
		      pin_names[p]);
	else if (errno != EBUSY)
		cfail(c, "F_ADD_SEALS(F_SEAL_WRITE) under a pin: %s, not EBUSY", strerror(errno));
	/* the pinned pages are still the file's: what the pin reads is what the file reads */
	if (c->failed[0] || pin_read(c, p, pin_at, got))
		goto unpin;
	if ((d = first_diff(got, c->exp, c->half)) >= 0)
		cfail(c, "after the refused seal the pin reads other data (byte %ld)", d);
	else if (pread(c->fd, got, c->half, 0) != (ssize_t)c->half || (d = first_diff(got, c->exp, c->half)) >= 0)
		cfail(c, "after the refused seal the memfd reads other data than its pinned pages (byte %ld)", d);
unpin:
	pin_stop(c, p);
	if (pins_settle(p0) != p0)
		cfail(c, "%ld pin(s) outstanding after the unpin", pins_settle(p0) - p0);
	if (c->failed[0] || c->skip[0])
		goto out;
	/* nothing pins the pages now: the same seal must be granted, and hold */
	if (fcntl(c->fd, F_ADD_SEALS, F_SEAL_WRITE)) {
		cfail(c, "F_SEAL_WRITE refused after the unpin: %s (a reference left behind?)", strerror(errno));
		goto out;
	}
	seals = fcntl(c->fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_WRITE))
		cfail(c, "F_GET_SEALS says 0x%x after F_SEAL_WRITE was granted", seals);
	else if (pwrite(c->fd, want, 1, 0) != -1 || errno != EPERM)
		cfail(c, "a write to the memfd sealed with F_SEAL_WRITE did not fail with EPERM");
	else if (pread(c->fd, got, c->half, 0) != (ssize_t)c->half || (d = first_diff(got, c->exp, c->half)) >= 0)
		cfail(c, "the sealed memfd's first half reads other data (byte %ld)", d);
	else if (pread(c->fd, got, c->half, c->half) != (ssize_t)c->half ||
		 (d = first_diff(got, c->wexp, c->half)) >= 0)
		cfail(c, "the sealed memfd's second half reads other data (byte %ld)", d);
out:
	free(got);
	free(want);
}
/* -- vmsplice: the pipe holds a reference (FOLL_GET) to the pages ---------------------------- */

static void vmsplice_cell(struct cell *c)
{
	size_t len = SMALL_PAGES * PAGE;  /* the default pipe holds 16 pages */
	int fds[2];
	long p0 = pins_outstanding(), d;
	char *got = malloc(len);
	struct iovec iov = {c->cur, len};

	if (pipe(fds)) {
		cfail(c, "pipe: %s", strerror(errno));
		free(got);
		return;
	}
	if (c->ev == FORK) {
		/* cow.c's vmsplice case: the child splices the shared page, the parent writes after;
		 * one pipe each way (a child reading its own "spliced" back would deadlock) */
		int up[2], down[2];
		pid_t pid;
		char b;

		if (pipe(up) || pipe(down)) {
			cfail(c, "pipe: %s", strerror(errno));
			goto out;
		}
		pid = cell_fork();
		if (pid == 0) {
			if (vmsplice(fds[1], &iov, 1, 0) != (ssize_t)len)
				_exit(2);
			munmap(c->cur, c->half);
			if (write(up[1], "x", 1) != 1 || read(down[0], &b, 1) != 1)
				_exit(2);
			/* the parent wrote in between: a private page must still show the old data */
			for (size_t off = 0; off < len; off += (size_t)d) {
				d = read(fds[0], got + off, len - off);
				if (d <= 0)
					_exit(2);
			}
			_exit(first_diff(got, c->exp, len) >= 0 ? 5 : 0);
		}
		if (read(up[0], &b, 1) != 1)
			cfail(c, "the child did not splice");
		fill64(c->cur, c->half, 2);
		if (write(down[1], "y", 1) != 1)
			cfail(c, "cannot signal the child");
		if (c->shared) {  /* shared memory: the child's pipe must show the parent's write (5) */
			int st;

			waitpid(pid, &st, 0);
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 5)
				cfail(c, "fork+vmsplice of shared memory: the pipe does not show the parent's write"
				      " to the shared page (child status 0x%x)", st);
		} else {
			wait_child(c, pid, "fork+vmsplice");
		}
		close(up[0]);
		close(up[1]);
		close(down[0]);
		close(down[1]);
		goto out;
	}
	if (vmsplice(fds[1], &iov, 1, 0) != (ssize_t)len) {
		cfail(c, "vmsplice: %s", strerror(errno));
		goto out;
	}
	event(c, 1);
	if (c->failed[0] || c->skip[0])
		goto out;
	for (size_t off = 0; off < len; off += (size_t)d) {
		d = read(fds[0], got + off, len - off);
		if (d <= 0) {
			cfail(c, "reading the pipe: %s", strerror(errno));
			goto out;
		}
	}
	if ((d = first_diff(got, c->exp, len)) >= 0)
		cfail(c, "after %s the pipe reads other data than was spliced (byte %ld)", ev_names[c->ev], d);
	if (!c->failed[0] && (d = first_diff(c->map + c->half, c->wexp, c->half)) >= 0 && c->ev != MUNMAP)
		cfail(c, "after %s the unspliced witness half reads other data (byte %ld)", ev_names[c->ev], d);
out:
	close(fds[0]);
	close(fds[1]);
	if (pins_settle(p0) != p0)
		cfail(c, "%ld pin(s) outstanding after the pipe was drained", pins_settle(p0) - p0);
	free(got);
}

/* -- pins for one system call: O_DIRECT (ext4/iomap, block device, vfat/fs/direct-io.c), and
 * process_vm_readv/writev; the event comes first, the pin meets its aftermath ---------------- */

static int dio_open(struct cell *c, enum pin p, char *path, size_t len)
{
	int fd;

	if (p == DIO_BLK) {
		if (!blk_dev) {
			cskip(c, "no block device given (-b)");
			return -1;
		}
		snprintf(path, 256, "%s", blk_dev);
		return open(blk_dev, O_RDWR | O_DIRECT);
	}
	if ((p == DIO_EXT4 && !ext4_dir) || (p == DIO_VFAT && !vfat_dir)) {
		cskip(c, "no %s mount given", p == DIO_EXT4 ? "ext4" : "vfat");
		return -1;
	}
	snprintf(path, 256, "%s/dio.%d", p == DIO_EXT4 ? ext4_dir : vfat_dir, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_DIRECT, 0600);
	if (fd >= 0 && ftruncate(fd, len))
		return -1;
	return fd;
}

/* One call: read (device -> memory) or write (memory -> device) of len bytes at addr. */
static ssize_t one_call(enum pin p, int fd, int rd, char *addr, size_t len)
{
	struct iovec local = {addr, len}, remote = {addr, len};
	char *bounce;
	ssize_t r;

	if (p != PVM)
		return rd ? pread(fd, addr, len, 0) : pwrite(fd, addr, len, 0);
	/* process_vm_readv/writev on itself: the "remote" side is pinned (pin_user_pages_remote) */
	bounce = malloc(len);
	if (rd) {  /* write into addr: bounce (pattern in the tmpfs scratch file) -> addr */
		if (pread(scratch_fd, bounce, len, 0) != (ssize_t)len) {
			free(bounce);
			return -1;
		}
		local.iov_base = bounce;
		r = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	} else {
		local.iov_base = bounce;
		r = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
		if (r == (ssize_t)len && pwrite(scratch_fd, bounce, len, 0) != (ssize_t)len)
			r = -1;
	}
	free(bounce);
	return r;
}

static void transient_cell(struct cell *c, enum pin p, int rd)
{
	char path[256] = "", *src = NULL, *back = NULL;
	int fd = -1, kid_go[2] = {-1, -1};
	long p0 = pins_outstanding(), d;
	pid_t kid = -1;
	ssize_t r;

	if (posix_memalign((void **)&src, PAGE, c->half) || posix_memalign((void **)&back, PAGE, c->half)) {
		cfail(c, "out of memory");
		goto out;
	}
	if (p == PVM) {
		fd = scratch_fd;
	} else if ((fd = dio_open(c, p, path, c->half)) < 0) {
		if (!c->skip[0])
			cfail(c, "cannot open %s with O_DIRECT: %s", path, strerror(errno));
		goto out;
	}
	/* the device holds seed 4 (what a read brings in) */
	fill64(src, c->half, 4);
	if (pwrite(fd, src, c->half, 0) != (ssize_t)c->half) {
		cfail(c, "cannot write the %s target: %s", pin_names[p], strerror(errno));
		goto out;
	}
	if (c->ev == FORK) {
		/* the child keeps the pre-fork pages shared with the parent until it is told to look */
		if (pipe(kid_go)) {
			cfail(c, "pipe: %s", strerror(errno));
			goto out;
		}
		kid = cell_fork();
		if (kid == 0) {
			char b;

			if (read(kid_go[0], &b, 1) != 1)
				_exit(2);
			/* the parent's read through a pin must not have reached a private child */
			_exit(!c->shared && first_diff(c->cur, c->exp, c->half) >= 0 ? 5 : 0);
		}
	} else {
		event(c, 0);
	}
	if ((c->ev == PAGEOUT || c->ev == RECLAIM) && !c->skip[0] && !c->shared && c->mem != FILEPR &&
	    !(pagemap(c->cur) & PM_SWAP))
		cskip(c, "the target page was not swapped out");
	if (c->ev == RO && mprotect(c->cur, c->half, PROT_READ))
		cfail(c, "mprotect: %s", strerror(errno));
	if (c->ev == HOLE && munmap(c->cur + c->half / 2, PAGE))
		cfail(c, "munmap: %s", strerror(errno));
	if (c->failed[0] || c->skip[0])
		goto done;
	r = one_call(p, fd, rd, c->cur, c->half);
	if (c->ev == RO && rd) {
		/* a read into a read-only mapping must fail, and change nothing */
		if (r >= 0)
			cfail(c, "%s into a PROT_READ buffer returned %zd, not EFAULT", pin_names[p], r);
		else if ((d = first_diff(c->cur, c->exp, c->half)) >= 0)
			cfail(c, "a failed %s changed the read-only buffer (byte %ld)", pin_names[p], d);
		goto done;
	}
	if (c->ev == HOLE) {
		/* a hole half way: short (the part before it) or EFAULT, never more, data in place */
		size_t before_hole = c->half / 2;

		if (r > (ssize_t)before_hole)
			cfail(c, "%s over a hole at byte %zu moved %zd bytes", pin_names[p], before_hole, r);
		else if (r > 0 && rd && (d = first_diff(c->cur, src, (size_t)r)) >= 0)
			cfail(c, "%s short read over a hole: byte %ld misplaced", pin_names[p], d);
		goto done;
	}
	if (r != (ssize_t)c->half) {
		cfail(c, "%s %s after %s: %zd (%s)", pin_names[p], rd ? "read" : "write", ev_names[c->ev], r,
		      r < 0 ? strerror(errno) : "short");
		goto done;
	}
	if (rd) {
		/* written through the pin: the process reads it */
		if ((d = first_diff(c->cur, src, c->half)) >= 0)
			cfail(c, "after %s the process does not read what %s wrote into its buffer (byte %ld)",
			      ev_names[c->ev], pin_names[p], d);
		if (c->mem == FILESH)
			check_disk(c, src, 0, "O_DIRECT/pvm read into a MAP_SHARED file buffer");
	} else {
		/* read through the pin: the device holds the process's data */
		r = pread(fd, back, c->half, 0);
		if (r != (ssize_t)c->half)
			cfail(c, "reading back the %s target: %s", pin_names[p], strerror(errno));
		else if ((d = first_diff(back, c->exp, c->half)) >= 0)
			cfail(c, "after %s the %s write carried other data than the process held (byte %ld)",
			      ev_names[c->ev], pin_names[p], d);
	}
	/* neighbours of the event: the witness (a KSM partner, swapped, split) is untouched */
	if (!c->failed[0] && c->ev != HOLE && (d = first_diff(c->map + c->half, c->wexp, c->half)) >= 0)
		cfail(c, "after %s the witness half reads other data (byte %ld)", ev_names[c->ev], d);
done:
	if (kid > 0) {
		if (write(kid_go[1], "x", 1) != 1)
			cfail(c, "cannot signal the child");
		wait_child(c, kid, "fork then a pin in the parent");
	}
	if (pins_settle(p0) != p0)
		cfail(c, "%ld pin(s) outstanding after %s", pins_settle(p0) - p0, pin_names[p]);
out:
	if (kid_go[0] >= 0) {
		close(kid_go[0]);
		close(kid_go[1]);
	}
	if (fd >= 0 && fd != scratch_fd)
		close(fd);
	if (path[0] && p != DIO_BLK)
		unlink(path);
	free(src);
	free(back);
}

/* -- which cells make sense (docs/matrix.md says why the others are left out) --------------- */

/* The held pins' error paths and the seal (issue 20): 0/1, or -1 when not one of those cells. */
static int errpath_applies(enum pin p, enum mem m, enum ev e)
{
	int pin = p == GUP_FAST || p == GUP_SLOW || p == URING, memfd = m == SHMEM || m == SHMTHP;

	if (e == SEAL)
		return pin && memfd;
	if (e == PROTNONE)
		return pin && (m == ANON || m == THP || memfd || m == HUGE);
	if (e == HOLE && held(p))  /* hugetlb: a hole part way would take a third huge page */
		return pin && (m == ANON || m == THP || memfd);
	if (m == SHMTHP)
		return pin && e == NONE;
	return -1;
}

static int applies(enum pin p, enum mem m, enum ev e)
{
	int thp = m == THP || m == THPTE, priv_anon = m == ANON || thp;

	if (events_applies(p, m, e) >= 0)
		return events_applies(p, m, e);
	if (errpath_applies(p, m, e) >= 0)
		return errpath_applies(p, m, e);
	if (held(p)) {
		if (e == RO)
			return 0;  /* a read-only buffer is the one-call pins' (held pins: prot-none) */
		if (p == GUP_RO && (m != ANON || e == SPLIT))
			return 0;  /* COW-shared private anon pages; the unshare leaves small pages */
		if (p == URING && m == FILESH)
			return 0;  /* writable long-term pins of ext4 MAP_SHARED are refused (gup_longterm) */
		if (p == VMSPLICE && (e == MPROTECT || e == SOFTDIRTY || e == MREMAP || e == COMPACT || m == FILEPR))
			return 0;  /* a reference in a pipe: the events that matter are fork, zap, reclaim */
		if (p == VMSPLICE && m == HUGE && e == FORK)
			return 0;  /* leaks on 6.12, and cow.c expects it to: its "vmsplice() + unmap in
				    * child" is XFAIL with hugetlb ("harder to fix and nobody really cares") */
		if (p == GUP_SLOW && !(e == NONE || e == FORK || e == MIGRATE || e == PAGEOUT || e == MPROTECT))
			return 0;  /* after the pin, fast and slow hold the same pages: a sample suffices */
	} else {
		if (e == MPROTECT || e == SOFTDIRTY || e == MREMAP || e == MUNMAP || e == DONTNEED || e == COMPACT)
			return 0;
		if (e == MIGRATE)
			return 0;  /* migration entries met by a pin: the races do that */
		if (m == FILEPR || (m == FILESH && p != PVM && e != NONE) || (m == HUGE && e != NONE && e != FORK))
			return 0;
		if ((p == DIO_BLK || p == DIO_VFAT) && !(m == ANON || m == THP) && e != NONE)
			return 0;  /* the buffer side is shared code; the file side differs */
	}
	switch (e) {
	case PAGEOUT:
	case RECLAIM:
		return m != HUGE;  /* hugetlb is never swapped */
	case MIGRATE:
		return m != HUGE;  /* per-node hugetlb pools: not set up here */
	case COMPACT:
		return m == ANON || m == THP;  /* global and slow under TCG: a sample */
	case SPLIT:
		return thp;
	case KSM:
		return priv_anon;  /* KSM merges private anonymous pages only */
	case MREMAP:
		return m != FILEPR;
	case HOLE:
	case RO:
		return m == ANON || m == THP;
	default:
		return 1;
	}
}

#include "dio_paths.h"  /* dio/<target>/<engine>-<dir>-<shape>: every O_DIRECT path */

/* The default set's cells (-q): every event at least once on io_uring (the one pin with both
 * directions), each pin entry point on its characteristic memory and events, within ~2 minutes
 * of TCG guest time; the deep set runs every cell. docs/matrix.md lists them. */
static const char *const quick_cells[] = {
	"uring/anon/none",
	"uring/anon/fork",
	"uring/anon/mprotect",
	"uring/anon/pageout",
	"uring/anon/dontneed",
	"uring/anon/migrate",
	"uring/anon/compact",
	"uring/anon/ksm",
	"uring/anon/mremap",
	"uring/anon/munmap",
	"uring/thp/fork",
	"uring/thp/soft-dirty",
	"uring/thp/pageout",
	"uring/thp/dontneed",
	"uring/thp/migrate",
	"uring/thp/thp-split",
	"uring/thp/ksm",
	"uring/thp-pte/fork",
	"uring/thp-pte/thp-split",
	"uring/shmem/fork",
	"uring/shmem/pageout",
	"uring/shmem/migrate",
	"uring/hugetlb/fork",
	"uring/hugetlb/dontneed",
	"uring/ext4-private/fork",
	"uring/ext4-private/dontneed",
	"gup-fast/anon/fork",
	"gup-fast/anon/pageout",
	"gup-fast/anon/ksm",
	"gup-ro/anon/none",  /* a read-only pin that had to unshare: exclusive, mapped R/O and clean */
	"gup-ro/anon/fork",
	"gup-ro/anon/mprotect",
	"gup-ro/anon/pageout",
	"gup-ro/anon/migrate",
	"gup-ro/anon/ksm",
	"gup-fast/thp/fork",
	"gup-fast/thp/soft-dirty",
	"gup-fast/thp/thp-split",
	"gup-fast/ext4-shared/none",
	"gup-fast/ext4-shared/fork",
	"gup-fast/ext4-shared/pageout",
	"gup-fast/ext4-shared/migrate",
	"gup-fast/ext4-shared/dontneed",
	"gup-slow/anon/fork",
	"gup-slow/thp/fork",
	"vmsplice/anon/fork",
	"vmsplice/thp/fork",
	"vmsplice/anon/munmap",
	"dio-ext4-read/anon/fork",
	"dio-ext4-read/anon/pageout",
	"dio-ext4-read/anon/ksm",
	"dio-ext4-read/anon/read-only",
	"dio-ext4-read/anon/hole",
	"dio-ext4-read/thp/thp-split",
	"dio-blk-read/anon/fork",
	"dio-blk-read/thp/none",
	"dio-ext4-write/anon/fork",
	"dio-ext4-write/anon/pageout",
	"dio-ext4-write/anon/ksm",
	"dio-ext4-write/anon/read-only",
	"dio-ext4-write/anon/hole",
	"dio-ext4-write/thp/thp-split",
	"dio-blk-write/anon/fork",
	"dio-blk-write/thp/none",
	"pvm-writev/anon/fork",
	"pvm-writev/anon/ksm",
	"pvm-writev/anon/hole",
	"pvm-readv/anon/fork",
	"pvm-readv/anon/ksm",
	"pvm-readv/anon/hole",
	"uring/anon/reclaim",
	"uring/thp/reclaim",
	"uring/shmem/reclaim",
	"gup-fast/ext4-shared/reclaim",
	"vmsplice/anon/reclaim",
	"dio-ext4-read/anon/reclaim",
	"gup-fast/anon/hole",
	"gup-slow/thp/prot-none",
	"uring/anon/hole",
	"uring/thp/hole",
	"uring/shmem/prot-none",
	"gup-fast/shmem-thp/seal",
	"uring/shmem/seal",
	"uring/shmem-thp/seal",
};
static int quick;

static int in_quick(const char *name)
{
	for (size_t i = 0; i < sizeof(quick_cells) / sizeof(quick_cells[0]); i++)
		if (!strcmp(name, quick_cells[i]))
			return 1;
	return 0;
}

/* 1 when name contains one of the comma-separated words of list */
static int any_in(const char *name, const char *list)
{
	char buf[1024], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (strstr(name, tok))
			return 1;
	return 0;
}

static int wanted(const char *name)
{
	if (quick && !in_quick(name) && !dio_quick(name) && !events_quick(name) && strncmp(name, "race/", 5))
		return 0;
	if (except && *except && any_in(name, except))
		return 0;
	return !only || !*only || any_in(name, only);
}

/* A cell of a block of its own (pvm, borrow, kentry, net9p) runs when it is in the block's
 * default list (no list: every cell of the block is in the default set) or QUICK is off, and
 * ONLY/EXCEPT let it. */
static int block_wanted(const char *name, const char *const *quick_list, size_t n)
{
	int in = !quick || !quick_list;

	for (size_t i = 0; !in && i < n; i++)
		in = !strcmp(name, quick_list[i]);
	if (!in || (except && *except && any_in(name, except)))
		return 0;
	return !only || !*only || any_in(name, only);
}

/* A block's cells as a table: a name, or a prefix and n names after it (a cell each, run with
 * its index k) */
struct cell_entry {
	const char *name;
	void (*run)(struct cell *c, int k);
	const char *const *names;
	int n;
	const char *const *quick;  /* the default set's cells (NULL: all of them) */
	size_t nquick;
};

/* Each wanted cell of the table run and judged; pre (if any) first: nonzero when it already
 * judged the cell (a premise of the whole block missing). The knobs a cell changed are put back
 * after it, whatever way it left. */
static void run_cells(const struct cell_entry *t, size_t n, int (*pre)(struct cell *c, void *arg), void *arg)
{
	for (size_t e = 0; e < n; e++)
		for (int k = 0; k < (t[e].names ? t[e].n : 1); k++) {
			struct cell c = {.fd = -1};
			double began = now_s();
			unsigned mark;

			snprintf(c.name, sizeof(c.name), "%s%s", t[e].name, t[e].names ? t[e].names[k] : "");
			if (!block_wanted(c.name, t[e].quick, t[e].nquick) || !begins(c.name))
				continue;
			mark = knob_mark();
			if (!pre || !pre(&c, arg))
				t[e].run(&c, k);
			knobs_back(&c, mark);
			verdict(&c, began);
		}
}
#define BLOCK_WANTED(name, list) block_wanted(name, list, sizeof(list) / sizeof(list[0]))

static void run_cell(enum pin p, enum mem m, enum ev e, int rd)
{
	struct cell c = {.mem = m, .ev = e, .fd = -1};
	double began = now_s();

	if (held(p))
		snprintf(c.name, sizeof(c.name), "%s/%s/%s", pin_names[p], mem_names[m], ev_names[e]);
	else if (p == PVM)  /* process_vm_writev writes into the memory, readv reads it */
		snprintf(c.name, sizeof(c.name), "pvm-%s/%s/%s", rd ? "writev" : "readv", mem_names[m], ev_names[e]);
	else
		snprintf(c.name, sizeof(c.name), "%s-%s/%s/%s", pin_names[p], rd ? "read" : "write", mem_names[m],
			 ev_names[e]);
	if (!wanted(c.name))
		return;
	if (!begins(c.name))
		return;
	if (gup_pin(p) && gup_fd < 0)
		cskip(&c, "no /sys/kernel/debug/gup_test");
	else if (p == URING && !ring_ok)
		cskip(&c, "io_uring_queue_init failed");
	else if ((m == FILESH || m == FILEPR) && !ext4_dir)
		cskip(&c, "no ext4 directory given (-d)");
	else if ((e == RECLAIM || e == COLD) && memcg_cell_enter(&c))
		;  /* said why */
	else if (!mem_map(&c)) {
		if (p == VMSPLICE)
			vmsplice_cell(&c);
		else if (e == SEAL)
			seal_cell(&c, p);
		else if (held(p) && (e == HOLE || e == PROTNONE))
			errpath_cell(&c, p);
		else if (held(p))
			held_cell(&c, p);
		else
			transient_cell(&c, p, rd);
	}
	if (e == KSM && c.map)
		madvise(c.map, 2 * c.half, MADV_UNMERGEABLE);
	mem_unmap(&c);
	memcg_leave();
	verdict(&c, began);
}


/* -- races (issue 20, item 3): bounded two-thread stress; a race that did not race skips ---- */

#include <pthread.h>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#define FOLL_WRITE_ 0x01  /* gup_test takes raw FOLL_ flags (as the selftest defines them) */

struct race {
	const char *name;
	char *buf;
	size_t len;
	volatile int stop;
	long a_rounds, b_rounds;
	long b_hits;  /* rounds of B that did what it is there for (b_migrate: a page of the buffer moved) */
	long b_busy;  /* b_uffd_move: moves refused with EBUSY (a page under a pin) */
	long a_refused;  /* a_pin_check: long-term pins refused with ENOMEM (a migration failed) */
	char failed[300];
	int dio_fd;
	int node;
};

static void rfail(struct race *r, const char *fmt, ...)
{
	va_list ap;

	if (r->failed[0])
		return;
	va_start(ap, fmt);
	vsnprintf(r->failed, sizeof(r->failed), fmt, ap);
	va_end(ap);
	r->stop = 1;
}

/* A: GUP-fast and PIN-fast over the range, whatever is mapped there right now */
static void *a_gup_fast(void *arg)
{
	struct race *r = arg;
	struct gup_test g = {.addr = (uintptr_t)r->buf, .size = r->len, .nr_pages_per_call = 1,
			     .gup_flags = FOLL_WRITE_};

	while (!r->stop) {
		g.size = r->len;
		if (!ioctl(gup_fd, r->a_rounds & 1 ? PIN_FAST_BENCHMARK : GUP_FAST_BENCHMARK, &g))
			r->a_rounds++;
		else
			r->a_rounds += 2;  /* a range half unmapped fails: still a round of the race */
	}
	return NULL;
}

/* B: pull the pages away under it: MADV_DONTNEED and munmap + mmap again at the same place */
static void *b_zap(void *arg)
{
	struct race *r = arg;

	while (!r->stop) {
		memset(r->buf, 1, r->len);
		if (r->b_rounds & 1) {
			madvise(r->buf, r->len, MADV_DONTNEED);
		} else if (munmap(r->buf, r->len) ||
			   mmap(r->buf, r->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
				   != r->buf) {
			rfail(r, "munmap/mmap MAP_FIXED: %s", strerror(errno));
		}
		r->b_rounds++;
	}
	return NULL;
}

/* A: pin (GUP-fast, long-term, writable), write through the process, read through the pin */
static void *a_pin_check(void *arg)
{
	struct race *r = arg;
	struct pin_longterm_test args = {.addr = (uintptr_t)r->buf, .size = r->len,
					 .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE | PIN_LONGTERM_TEST_FLAG_USE_FAST};
	char *got = malloc(r->len), *want = malloc(r->len);
	uint64_t to = (uintptr_t)got;
	long d;

	while (!r->stop) {
		unsigned seed = 100 + (unsigned)r->a_rounds;

		fill64(r->buf, r->len, seed);
		if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args)) {
			/* a long-term pin of ZONE_MOVABLE pages (gup-test's movablecore= boot) migrates
			 * them first, and gives up with ENOMEM, every pin dropped, when migrate_pages()
			 * fails (mm/gup.c migrate_longterm_unpinnable_folios()): the other thread may
			 * hold references to them (moving, migrating). A refusal, not a wrong answer;
			 * run_race() skips when refusals outnumber the rounds. */
			if (errno == ENOMEM) {
				r->a_refused++;
				continue;
			}
			rfail(r, "PIN_LONGTERM_TEST_START: %s", strerror(errno));
			break;
		}
		fill64(r->buf, r->len, seed + 1);  /* after the pin: must land in the pinned pages */
		fill64(want, r->len, seed + 1);
		if (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &to))
			rfail(r, "PIN_LONGTERM_TEST_READ: %s", strerror(errno));
		else if ((d = first_diff(got, want, r->len)) >= 0)
			rfail(r, "round %ld: the pin does not see the process's write (byte %ld): the process "
			      "lost its pinned page to the other thread's %s", r->a_rounds, d, r->name);
		if (ioctl(gup_fd, PIN_LONGTERM_TEST_STOP))
			rfail(r, "PIN_LONGTERM_TEST_STOP: %s", strerror(errno));
		r->a_rounds++;
	}
	free(got);
	free(want);
	return NULL;
}

/* A: O_DIRECT reads into the buffer, which must then hold the file's bytes */
static void *a_dio_check(void *arg)
{
	struct race *r = arg;
	char *want;
	long d;

	if (posix_memalign((void **)&want, PAGE, r->len))
		return NULL;
	while (!r->stop) {
		unsigned seed = 200 + (unsigned)(r->a_rounds & 1);

		fill64(want, r->len, seed);
		if (pwrite(r->dio_fd, want, r->len, 0) != (ssize_t)r->len) {
			rfail(r, "O_DIRECT write: %s", strerror(errno));
			break;
		}
		memset(r->buf, 0, r->len);
		if (pread(r->dio_fd, r->buf, r->len, 0) != (ssize_t)r->len)
			rfail(r, "O_DIRECT read: %s", strerror(errno));
		else if ((d = first_diff(r->buf, want, r->len)) >= 0)
			rfail(r, "round %ld: the O_DIRECT read did not land in the process's buffer (byte %ld):"
			      " it went to a page the other thread's fork took away", r->a_rounds, d);
		r->a_rounds++;
	}
	free(want);
	return NULL;
}

/* B: fork; the child writes its copy of the buffer and leaves */
static void *b_fork(void *arg)
{
	struct race *r = arg;

	while (!r->stop) {
		pid_t pid = cell_fork();
		int st;

		if (pid == 0) {
			memset(r->buf, 0xdd, r->len);
			_exit(0);
		}
		if (pid < 0 || waitpid(pid, &st, 0) != pid)
			rfail(r, "fork/waitpid: %s", strerror(errno));
		r->b_rounds++;
	}
	return NULL;
}

/* B: migrate the buffer from node to node, and compact now and then */
static void *b_migrate(void *arg)
{
	struct race *r = arg;
	size_t n = r->len / PAGE;
	void **pages = calloc(n, sizeof(void *));
	int *nodes = calloc(n, sizeof(int)), *status = calloc(n, sizeof(int));

	for (size_t i = 0; i < n; i++)
		pages[i] = r->buf + i * PAGE;
	while (!r->stop) {
		for (size_t i = 0; i < n; i++)
			nodes[i] = (int)(r->b_rounds & 1);
		if (syscall(SYS_move_pages, 0, n, pages, nodes, status, 0) == 0)
			for (size_t i = 0; i < n; i++)
				if (status[i] == nodes[i]) {
					r->b_hits++;
					break;
				}
		if (r->b_rounds % 16 == 15)
			drain_lru();
		r->b_rounds++;
	}
	free(pages);
	free(nodes);
	free(status);
	return NULL;
}

/* B: split the THP (debugfs), PTE-map it (a VMA split), collapse it again (MADV_COLLAPSE) */
static void *b_split(void *arg)
{
	struct race *r = arg;
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "%d,0x%lx,0x%lx", getpid(), (unsigned long)r->buf, (unsigned long)(r->buf + r->len));
	while (!r->stop) {
		switch (r->b_rounds % 3) {
		case 0:
			write_file("/sys/kernel/debug/split_huge_pages", cmd);
			break;
		case 1:  /* split the VMA there and merge it again: the PMD is split (never made
			  * read-only: the other thread writes all along) */
			madvise(r->buf + PAGE, PAGE, MADV_NOHUGEPAGE);
			madvise(r->buf + PAGE, PAGE, MADV_HUGEPAGE);
			break;
		default:
			madvise(r->buf, r->len, MADV_COLLAPSE);
			break;
		}
		r->b_rounds++;
	}
	return NULL;
}

/* B: move the buffer's pages away with UFFDIO_MOVE (mm/userfaultfd.c move_pages(): the pages
 * themselves go to another address, no copy) into a userfaultfd-registered area, and drop them
 * there; the other thread's next writes fault fresh pages in. A page under a pin must stay:
 * move_present_pte() refuses it (EBUSY), rechecking after the PTE is cleared, since GUP-fast
 * pins without the page table lock. b_hits: pages moved; b_busy: refusals. Without
 * UFFD_FEATURE_MOVE (before 6.8) it does no round: the race skips. */
#include <linux/userfaultfd.h>
static void *b_uffd_move(void *arg)
{
	struct race *r = arg;
#ifdef UFFDIO_MOVE
	struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_MOVE};
	char *dst = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	struct uffdio_register reg = {.range = {(uintptr_t)dst, r->len}, .mode = UFFDIO_REGISTER_MODE_MISSING};

	if (dst == MAP_FAILED || uffd < 0 || ioctl(uffd, UFFDIO_API, &api) || ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		printf("# race/%s: no UFFDIO_MOVE: %s\n", r->name, strerror(errno));
		goto out;
	}
	madvise(dst, r->len, MADV_NOHUGEPAGE);
	while (!r->stop) {
		struct uffdio_move mv = {.dst = (uintptr_t)dst, .src = (uintptr_t)r->buf, .len = r->len,
					 .mode = UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES};

		if (ioctl(uffd, UFFDIO_MOVE, &mv) && errno == EBUSY)
			r->b_busy++;
		else if (mv.move < 0 && mv.move != -EAGAIN && mv.move != -EBUSY && mv.move != -EEXIST)
			rfail(r, "UFFDIO_MOVE: %s", strerror((int)-mv.move));
		if (mv.move > 0)
			r->b_hits += mv.move / PAGE;
		madvise(dst, r->len, MADV_DONTNEED);  /* dst must be empty for the next move */
		r->b_rounds++;
	}
out:
	if (uffd >= 0)
		close(uffd);
	if (dst != MAP_FAILED)
		munmap(dst, r->len);
#else
	printf("# race/%s: the UAPI headers have no UFFDIO_MOVE\n", r->name);
#endif
	return NULL;
}

static void run_race(const char *name, void *(*a)(void *), void *(*b)(void *), int thp, double secs)
{
	struct race r = {.name = name, .dio_fd = -1};
	char cname[64], dio_path[256] = "", skip[300] = "";
	pthread_t ta, tb;
	long p0, mig = vmstat("pgmigrate_success"), split = vmstat("thp_split_page");
	double t0;

	snprintf(cname, sizeof(cname), "race/%s", name);
	if (!wanted(cname))
		return;
	if (!begins(cname))
		return;
	r.len = thp ? HPAGE : SMALL_PAGES * PAGE;
	r.buf = map_aligned(r.len, thp ? HPAGE : PAGE, thp ? MADV_HUGEPAGE : -1);
	if (!r.buf) {
		printf("CASE %s FAIL: mmap: %s\n", cname, strerror(errno));
		cells_fail++;
		return;
	}
	memset(r.buf, 1, r.len);
	if (gup_fd < 0 && a != a_dio_check)
		snprintf(skip, sizeof(skip), "no /sys/kernel/debug/gup_test");
	else if (thp && !is_thp(r.buf))
		snprintf(skip, sizeof(skip), "no THP behind the buffer (kpageflags)");
	else if (b == b_migrate && access("/sys/devices/system/node/node1", F_OK))
		snprintf(skip, sizeof(skip), "one NUMA node only (numa=fake=2 on the command line?)");
	if (a == a_dio_check && !skip[0]) {
		if (!ext4_dir) {
			snprintf(skip, sizeof(skip), "no ext4 directory given (-d)");
		} else {
			snprintf(dio_path, sizeof(dio_path), "%s/race.%d", ext4_dir, getpid());
			r.dio_fd = open(dio_path, O_RDWR | O_CREAT | O_DIRECT, 0600);
			if (r.dio_fd < 0)
				snprintf(skip, sizeof(skip), "cannot open %s with O_DIRECT", dio_path);
		}
	}
	if (skip[0]) {
		case_verdict(cname, NULL, skip);
		munmap(r.buf, r.len);
		return;
	}
	p0 = pins_outstanding();
	t0 = now_s();
	pthread_create(&ta, NULL, a, &r);
	pthread_create(&tb, NULL, b, &r);
	while (!r.stop && now_s() - t0 < secs)
		usleep(20 * 1000);
	r.stop = 1;
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	printf("# %s: %.1f s, %ld rounds of the pin side, %ld of the other, pgmigrate_success +%ld,"
	       " thp_split_page +%ld\n", cname, now_s() - t0, r.a_rounds, r.b_rounds,
	       vmstat("pgmigrate_success") - mig, vmstat("thp_split_page") - split);
	if (b == b_uffd_move)
		printf("# %s: UFFDIO_MOVE moved %ld page(s), refused %ld move(s) with EBUSY\n", cname, r.b_hits, r.b_busy);
	if (r.a_refused)
		printf("# %s: %ld long-term pin(s) refused with ENOMEM (ZONE_MOVABLE pages that could not be migrated)\n",
		       cname, r.a_refused);
	if (!r.failed[0] && pins_settle(p0) != p0)
		snprintf(r.failed, sizeof(r.failed), "%ld pin(s) outstanding after the race", pins_settle(p0) - p0);
	if (r.failed[0])
		;  /* the failure is the verdict */
	else if (r.a_rounds < 2 || r.b_rounds < 2)
		snprintf(skip, sizeof(skip), "the two sides did not both run (%ld and %ld rounds)", r.a_rounds, r.b_rounds);
	else if (b == b_migrate && (vmstat("pgmigrate_success") == mig || !r.b_hits))
		snprintf(skip, sizeof(skip), "no page of the buffer migrated during the race (%ld rounds did)", r.b_hits);
	else if (r.a_refused > r.a_rounds)
		snprintf(skip, sizeof(skip), "more long-term pins refused (%ld) than taken (%ld)", r.a_refused, r.a_rounds);
	else if (b == b_uffd_move && (!r.b_hits || !r.b_busy))
		snprintf(skip, sizeof(skip), "UFFDIO_MOVE moved %ld page(s) and met a pinned one %ld time(s) during the race: "
			 "both must happen", r.b_hits, r.b_busy);
	else if (b == b_split && vmstat("thp_split_page") == split)
		snprintf(skip, sizeof(skip), "no THP was split during the race");
	case_verdict(cname, r.failed, skip);
	if (r.dio_fd >= 0)
		close(r.dio_fd);
	if (dio_path[0])
		unlink(dio_path);
	munmap(r.buf, r.len);
}

/* race/dio-vs-reclaim, the "unpin vs reclaim" race of issue 20: thread A reads a file with
 * O_DIRECT into a MAP_SHARED mapping of another ext4 file (page-cache folios pinned by the
 * read, dirtied when it completes), and checks the data; thread B reclaims the range:
 * MADV_PAGEOUT every round, memory.reclaim too while it has taken less than a quarter of
 * B's time (a call takes 0.2-0.3 s under TCG: it retries while pinned pages stay); thread C cleans it all along (msync: reclaim takes clean file
 * pages only, and a folio written back while a read fills it is clean and pinned). Reclaim
 * must leave a pinned folio (and its buffers) alone until the unpin. Runs in the -m memory
 * cgroup, where the mapping's page cache is charged. */
struct rrace {
	struct race r;
	volatile int in_read;
	long hits[2], tries[2], hits_in_read, cleans;
	double secs[3];  /* in msync, MADV_PAGEOUT, memory.reclaim */
	double t0;
};

static void *a_dio_into_file(void *arg)
{
	struct rrace *rr = arg;
	struct race *r = &rr->r;
	char *want;
	ssize_t got;
	long d;

	if (posix_memalign((void **)&want, PAGE, r->len)) {
		rfail(r, "out of memory");
		return NULL;
	}
	while (!r->stop) {
		fill64(want, r->len, 300 + (unsigned)(r->a_rounds & 1));  /* every read changes the bytes */
		if (pwrite(r->dio_fd, want, r->len, 0) != (ssize_t)r->len) {
			rfail(r, "O_DIRECT write: %s", strerror(errno));
			break;
		}
		rr->in_read = 1;
		got = pread(r->dio_fd, r->buf, r->len, 0);
		rr->in_read = 0;
		if (got != (ssize_t)r->len)
			rfail(r, "round %ld: O_DIRECT read into the MAP_SHARED ext4 buffer: %zd (%s)", r->a_rounds, got,
			      got < 0 ? strerror(errno) : "short");
		else if ((d = first_diff(r->buf, want, r->len)) >= 0)
			rfail(r, "round %ld: after the O_DIRECT read the MAP_SHARED ext4 buffer reads other data (byte %ld):"
			      " the read went to a page the other thread's reclaim took away", r->a_rounds, d);
		r->a_rounds++;
	}
	free(want);
	return NULL;
}

static int resident(const char *p, size_t len)
{
	unsigned char vec[SMALL_PAGES];
	int n = 0;

	if (mincore((void *)p, len, vec))
		return -1;
	for (size_t i = 0; i < len / PAGE; i++)
		n += vec[i] & 1;
	return n;
}

static void *b_reclaim(void *arg)
{
	struct rrace *rr = arg;
	struct race *r = &rr->r;

	while (!r->stop) {
		for (int kind = 0; kind < 2 && !r->stop; kind++) {
			int before = resident(r->buf, r->len), after, reading = rr->in_read, err = 0;
			double t;

			if (kind == 1 && rr->secs[2] > (now_s() - rr->t0) / 4)
				break;
			t = now_s();
			if (kind == 0 && madvise(r->buf, r->len, MADV_PAGEOUT)) {
				rfail(r, "MADV_PAGEOUT: %s", strerror(errno));
				break;
			}
			if (kind == 1 && (err = memcg_reclaim((long)r->len)) && err != EAGAIN) {
				rfail(r, "memory.reclaim: %s", strerror(err));
				break;
			}
			rr->secs[1 + kind] += now_s() - t;
			rr->tries[kind]++;
			after = resident(r->buf, r->len);
			if (after >= 0 && after < before) {
				rr->hits[kind]++;
				rr->hits_in_read += reading || rr->in_read;
			}
		}
		r->b_rounds++;
	}
	return NULL;
}

static void *c_clean(void *arg)
{
	struct rrace *rr = arg;
	struct race *r = &rr->r;

	while (!r->stop) {
		double t = now_s();

		if (msync(r->buf, r->len, MS_SYNC)) {
			rfail(r, "msync: %s", strerror(errno));
			break;
		}
		rr->secs[0] += now_s() - t;
		rr->cleans++;
	}
	return NULL;
}

static void run_reclaim_race(double secs)
{
	const char *cname = "race/dio-vs-reclaim";
	struct rrace rr = {.r = {.name = "reclaim", .dio_fd = -1, .len = SMALL_PAGES * PAGE}};
	struct race *r = &rr.r;
	char bpath[256] = "", dpath[256] = "", why[300] = "";
	long p0, scan, steal;
	int bfd = -1, e;
	pthread_t ta, tb, tc;
	double t0;

	if (!wanted(cname))
		return;
	if (!begins(cname))
		return;
	if (!ext4_dir) {
		printf("CASE %s SKIP: no ext4 directory given (-d)\n", cname);
		cells_skip++;
		return;
	}
	if ((e = memcg_enter(why, sizeof(why)))) {
		printf("CASE %s %s: %s\n", cname, e == -1 ? "SKIP" : "FAIL", why);
		if (e == -1)
			cells_skip++;
		else
			cells_fail++;
		return;
	}
	/* both files made after the move, so that their page cache is charged to the group */
	snprintf(bpath, sizeof(bpath), "%s/reclaim-buf.%d", ext4_dir, getpid());
	snprintf(dpath, sizeof(dpath), "%s/reclaim-dio.%d", ext4_dir, getpid());
	bfd = open(bpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	r->dio_fd = open(dpath, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
	if (bfd < 0 || r->dio_fd < 0 || ftruncate(bfd, r->len) ||
	    (r->buf = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_SHARED, bfd, 0)) == MAP_FAILED) {
		printf("CASE %s FAIL: cannot make and map %s, or open %s with O_DIRECT: %s\n", cname, bpath, dpath,
		       strerror(errno));
		cells_fail++;
		r->buf = NULL;
		goto out;
	}
	fill64(r->buf, r->len, 299);  /* blocks allocated by the write faults, then on disk */
	if (msync(r->buf, r->len, MS_SYNC))
		rfail(r, "msync: %s", strerror(errno));
	p0 = pins_outstanding();
	scan = memcg_stat("pgscan");
	steal = memcg_stat("pgsteal");
	t0 = rr.t0 = now_s();
	pthread_create(&ta, NULL, a_dio_into_file, &rr);
	pthread_create(&tb, NULL, b_reclaim, &rr);
	pthread_create(&tc, NULL, c_clean, &rr);
	/* secs, and up to 5 x secs while reclaim has not yet taken a buffer page out (the premise;
	 * under load a 2 s race sees few: the pages are clean and unpinned only between reads) */
	while (!r->stop && (now_s() - t0 < secs || (!rr.hits[0] && !rr.hits[1] && now_s() - t0 < 5 * secs)))
		usleep(20 * 1000);
	r->stop = 1;
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_join(tc, NULL);
	printf("# %s: %.1f s, %ld O_DIRECT reads, %ld msync (%.0f ms), %ld MADV_PAGEOUT (%.0f ms), %ld memory.reclaim"
	       " (%.0f ms): %ld MADV_PAGEOUT and %ld memory.reclaim took buffer pages out of memory, %ld of them while"
	       " a read was in flight; memory.stat pgscan +%ld, pgsteal +%ld\n", cname, now_s() - t0, r->a_rounds,
	       rr.cleans, rr.secs[0] * 1e3, rr.tries[0], rr.secs[1] * 1e3, rr.tries[1], rr.secs[2] * 1e3,
	       rr.hits[0], rr.hits[1], rr.hits_in_read, memcg_stat("pgscan") - scan, memcg_stat("pgsteal") - steal);
	if (!r->failed[0] && pins_settle(p0) != p0)
		snprintf(r->failed, sizeof(r->failed), "%ld pin(s) outstanding after the race", pins_settle(p0) - p0);
	if (r->failed[0]) {
		printf("CASE %s FAIL: %s\n", cname, r->failed);
		cells_fail++;
	} else if (r->a_rounds < 2 || r->b_rounds < 2 || rr.cleans < 2) {
		printf("CASE %s SKIP: the three threads did not all run (%ld reads, %ld reclaims, %ld msync)\n", cname,
		       r->a_rounds, r->b_rounds, rr.cleans);
		cells_skip++;
	} else if (!rr.hits[0] && !rr.hits[1]) {
		printf("CASE %s SKIP: reclaim never took a page of the buffer out of memory\n", cname);
		cells_skip++;
	} else {
		printf("CASE %s PASS\n", cname);
		cells_pass++;
	}
out:
	if (r->buf)
		munmap(r->buf, r->len);
	if (bfd >= 0)
		close(bfd);
	if (r->dio_fd >= 0)
		close(r->dio_fd);
	unlink(bpath);
	unlink(dpath);
	memcg_leave();
}

#include "pm_swapin.h"  /* race/swapin-vs-swapin */

/* Busy threads while the races run (-n N, RACE_NOISE): with more busy vCPUs than host cores,
 * the host preempts a vCPU at any instruction, spinlocks held or not, for a host time slice.
 * A race window of a few instructions in the kernel (a PTE copied by fork but not yet
 * write-protected, a swap-in between its read and the page-table lock) then stays open for
 * milliseconds while another vCPU runs: what a PREEMPT guest cannot do inside a spinlock. */
static volatile int noise_stop;

static void *noise_spin(void *arg)
{
	volatile unsigned long *n = arg;

	while (!noise_stop)
		(*n)++;
	return NULL;
}

static void races(double secs, int noise)
{
	pthread_t t[16];
	unsigned long spun[16] = {0};
	int n = 0;

	noise_stop = 0;
	while (n < noise && n < 16 && !pthread_create(&t[n], NULL, noise_spin, &spun[n]))
		n++;
	if (noise)
		printf("# races: %d busy thread(s) beside them on %ld online CPU(s)\n", n, sysconf(_SC_NPROCESSORS_ONLN));
	run_race("gup-fast-vs-zap", a_gup_fast, b_zap, 0, secs);
	run_race("pin-vs-fork", a_pin_check, b_fork, 0, secs);
	run_race("pin-thp-vs-fork", a_pin_check, b_fork, 1, secs);
	run_race("dio-vs-fork", a_dio_check, b_fork, 0, secs);
	run_race("pin-vs-migrate", a_pin_check, b_migrate, 0, secs);
	run_race("pin-vs-thp-split", a_pin_check, b_split, 1, secs);
	run_race("pin-vs-uffd-move", a_pin_check, b_uffd_move, 0, secs);
	run_reclaim_race(secs);
	run_swapin_race(secs);
	noise_stop = 1;
	while (n > 0)
		pthread_join(t[--n], NULL);
}

#include "pvm_cells.h"  /* process_vm shapes and error paths, signals on uffd-blocked pins */
#include "borrow_cells.h"  /* borrow/...: FOLL_FORCE writes, MSG_ZEROCOPY, futex, /proc/<pid>/cmdline */
#include "kentry_cells.h"  /* udmabuf, AF_ALG, SG_IO: pinners of kconfigs/pinners.config */
#include "net9p_cells.h"  /* p9/...: netfs unbuffered I/O on 9p; splice-sock/...: vmsplice+splice into sockets */
#include "dump_cells.h"  /* coredump/..., mempolicy/...: get_dump_page(), get_mempolicy(MPOL_F_ADDR) */
#include "xdp_cells.h"  /* xdp/...: AF_XDP UMEM registration, a long-term pin sent from in copy mode */
#include "iommufd_cells.h"  /* iommufd/...: IOAS_MAP with a mock domain, test accesses */
#include "rlimit_cells.h"  /* rlimit/...: io_uring, AF_XDP and iommufd over RLIMIT_MEMLOCK without CAP_IPC_LOCK */
#include "uring_pbuf_cells.h"  /* uring-pbuf/...: io_uring provided-buffer rings in user memory, pinned */
#include "uring_table_cells.h"  /* uring-table/...: io_uring buffer tables: several iovecs, updates, clones */
#include "uffd_cells.h"  /* uffd/...: userfaultfd fill ioctls and their refusals on every memory kind */
#include "zero_cells.h"  /* zero/...: O_DIRECT, vmsplice, process_vm_readv of memory only ever read (zero pages) */
#include "punch_cells.h"  /* punch/...: a hole punched or the file truncated under a pin */
#include "uring_nommap_cells.h"  /* uring-nommap/...: io_uring SQ/CQ rings and SQEs in user memory, pinned */
#include "pipe_cells.h"  /* pipe/...: pages a pipe borrows (splice, vmsplice, tee) against writes into it */
#include "migrate_cells.h"  /* migrate/...: move_pages, mbind, migrate_pages on their refusal and error paths */
#include "swap_cells.h"  /* swap/...: pages of every shape swap treats specially, out and back */
#include "share_cells.h"  /* share/...: one sharer's madvise and reclaim against the other's bytes */
#include "sendzc_cells.h"  /* sendzc/...: io_uring zero-copy sends from a registered buffer given back in flight */
#include "buffered_cells.h"  /* buffered/...: cold page-cache reads and writes by every engine */
#include "tcpzc_cells.h"  /* borrow/tcp-zc-recv/...: received pages mapped into the receiver */
#include "splice_cells.h"  /* splice/...: pipes drained and filled in odd pieces and short counts, out of sockets */
#include "secret_cells.h"  /* secret/...: memfd_secret pages: concurrent first faults, fork, pinners refused */
#include "packet_cells.h"  /* packet/...: AF_PACKET mmap rings of every version, RX and TX, on lo */
#include "exec_cells.h"  /* exec/...: execve()'s copy of argv/envp on its error exits and at its limits */
#include "ra_cells.h"  /* ra/...: readahead in a memory cgroup at its limit, charges failing */
#include "shm_cells.h"  /* shm/...: System V segments pinned across IPC_RMID, detach, fork, SHM_LOCK/UNLOCK */
#include "thpmove_cells.h"  /* pmd/...: THP and hugetlb PMDs moved by mremap under pins, hugetlb PMD sharing, shmem MADV_COLLAPSE */
#include "fsmap_cells.h"  /* fsmap/...: MAP_SHARED vfat and block device pages pinned, written back, migrated, cut */
#include "remote_cells.h"  /* remote/...: PI and robust futexes, UFFDIO_MOVE, process_madvise, shared swap entries, vmsplice to user */
#include "walk_cells.h"  /* walk/...: smaps, numa_maps, pagemap, PAGEMAP_SCAN against states the cells made */
#include "ksm_cells.h"  /* ksm/merged/...: KSM pages migrated, reclaimed, unmerged, written, pinned */
#include "aio_cells.h"  /* aio/...: the aio ring moved and read by user space, poll, cancel, fsync, io_pgetevents */
#include "sgcopy_cells.h"  /* sg-io/<memory>/<dir>-<odd|iov>: SG_IO through block/blk-map.c's copy path */
#include "uffdwp_cells.h"  /* uffd-wp/...: userfaultfd write-protect and its PTE markers over pinned memory */
#include "pressure_cells.h"  /* pressure/...: kswapd, memory.high, memcg OOM, swap files and discard under pins */
#include "numa_cells.h"  /* numa/...: NUMA balancing hinting faults and memory policies under pins */
#include "dirty_cells.h"  /* dirty/...: buffered writes throttled by a tiny dirty limit against pinned file pages */
#include "ktls_cells.h"  /* ktls/...: software kTLS records sent from and decrypted into every kind of user memory */
#include "fuse_cells.h"  /* fuse/...: FUSE direct I/O pins, a raw /dev/fuse daemon's short, failed, interrupted, aborted replies */
#include "compat_cells.h"  /* compat/...: 32-bit system calls (compat iovecs, io_uring, ptrace) in compat32.c */
#include "tlb_cells.h"  /* tlb/...: stale TLB entries after mprotect, munmap, mremap, madvise, fork, migration, clear_refs, uffd-wp */
#include "hmm_cells.h"  /* hmm/...: device-private (test_hmm) pages migrated around pins, pinned from the device, forked, made exclusive */
#include "v4l2_cells.h"  /* v4l2/...: V4L2 USERPTR buffers on vivid, long-term pinned, looped output to capture */
#include "hwpoison_cells.h"  /* hwpoison/...: soft offline and MADV_HWPOISON of pinned pages, pinners over poisoned ones */
#include "holes_cells.h"  /* holes/...: the bytes of a file nobody wrote read as zeros (partial writes, truncate, punch, O_DIRECT) */
#include "kept_dirty_cells.h"  /* kept-dirty/...: a write through a mapping survives every move of its page until written out */

int main(int argc, char **argv, char **envp)
{
	int opt, helper = exec_helper(argc, argv, envp);  /* exec'd by an exec/ok cell: check and go */
	long ksm_run = -1;
	double race_secs = 0;
	int race_noise = 0;

	if (helper >= 0)
		return helper;
	while ((opt = getopt(argc, argv, "d:Eb:B:v:m:o:x:lqr:s:S:n:3:")) != -1) {
		switch (opt) {
		case 'd': ext4_dir = optarg; break;
		case 'E': ext4_stale = 1; break;
		case 'b': blk_dev = optarg; break;
		case 'B': blk_dio_dev = optarg; break;
		case 'v': vfat_dir = optarg; break;
		case 'm': memcg_dir = optarg; break;
		case 'o': only = optarg; break;
		case 'x': except = optarg; break;
		case 'l': list_only = 1; break;
		case 'q': quick = 1; break;
		case 'r': race_secs = atof(optarg); break;
		case 's': race_swap = optarg; break;
		case 'S': bdev_swap = optarg; break;
		case 'n': race_noise = atoi(optarg); break;
		case '3': compat_bin = optarg; break;
		default:
			fprintf(stderr, "usage: %s [-d EXT4DIR] [-E] [-b BLOCKDEV] [-v VFATDIR] [-m MEMCG] [-o ONLY] [-x EXCEPT] [-l] [-q] [-r SECONDS] [-s SWAPDEV] [-S SWAPDEV] [-n NOISE] [-3 COMPAT32]\n",
				argv[0]);
			return 2;
		}
	}
	/* fully buffered, written out only between cells (begins(), flush_settled()) */
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	signal(SIGTERM, on_term);
	knobs_init();
	if (!list_only) {
		char tmp[] = "/run/pin_matrix.scratchXXXXXX";

		gup_fd = open("/sys/kernel/debug/gup_test", O_RDWR);
		memcg_init();
		int ur = io_uring_queue_init(8, &ring, 0);  /* -errno */

		ring_ok = !ur;
		if (!ring_ok && getenv("URING_REQUIRED")) {  /* the kernel has io_uring: its cells must run */
			printf("FAIL: io_uring_queue_init: %s (CONFIG_IO_URING=y)\n", strerror(-ur));
			return 1;
		}
		scratch_fd = mkstemp(tmp);
		if (scratch_fd < 0) {
			printf("FAIL: cannot make a scratch file in /run: %s\n", strerror(errno));
			return 1;
		}
		unlink(tmp);
		ksm_run = ksm_read("run");
		if (ksm_run >= 0) {  /* scan fast: TCG is slow, and the cells wait for full scans */
			char v[32], why[300];

			snprintf(v, sizeof(v), "%ld", ksm_run);
			knob_changed("/sys/kernel/mm/ksm/run", v);  /* the KSM cells set it */
			if (knob_set("/sys/kernel/mm/ksm/pages_to_scan", "4000", NULL, why, sizeof(why)) ||
			    knob_set("/sys/kernel/mm/ksm/sleep_millisecs", "0", NULL, why, sizeof(why)))
				printf("# pin_matrix: %s\n", why);
		}
	}
	for (enum pin p = 0; p < NPIN; p++)
		for (enum mem m = 0; m < NMEM; m++)
			for (enum ev e = 0; e < NEV; e++) {
				if (!applies(p, m, e))
					continue;
				if (held(p)) {
					run_cell(p, m, e, 0);
				} else {
					run_cell(p, m, e, 1);
					run_cell(p, m, e, 0);
				}
			}
	dio_paths();
	pvm_cells();
	borrow_cells();
	kentry_cells();
	net9p_cells();
	dump_cells();
	xdp_cells();
	rlimit_cells();
	iommufd_cells();
	iodirty_cells();  /* iommufd_cells.h: iommufd-dirty/...: GET_DIRTY_BITMAP into every kind of user memory */
	pbuf_cells();
	table_cells();
	uffd_cells();
	zero_cells();
	punch_cells();
	nommap_cells();
	pipe_cells();
	migrate_cells();
	swap_cells();
	share_cells();
	sendzc_cells();
	buffered_cells();
	tcpzc_cells();
	splice_cells();
	secret_cells();
	packet_cells();
	exec_cells();
	ra_cells();
	shm_cells();
	holes_cells();
	thpmove_cells();
	fsmap_cells();
	remote_cells();
	walk_cells();
	ksm_cells();
	sgcopy_cells();
	aio_cells();
	uffdwp_cells();
	pressure_cells();
	numa_cells();
	dirty_cells();
	ktls_cells();
	fuse_cells();
	compat_cells();
	hmm_cells();
	kept_dirty_cells();
	v4l2_cells();
	tl_race_secs = race_secs;
	tlb_cells();
	hwpoison_cells();
	if (race_secs > 0) {
		races(race_secs, race_noise);
		udmabuf_seal_race(race_secs);  /* kentry_cells.h */
		aio_ring_race(race_secs);  /* migrate_cells.h */
		buffered_race(race_secs);  /* buffered_cells.h */
		append_race(race_secs);  /* buffered_cells.h */
		packet_opts_race(race_secs);  /* packet_cells.h */
		numa_race(race_secs);  /* numa_cells.h */
	}
	if (list_only)
		return 0;
	dio_declare();
	/* the last cell's lines out before the teardown, which a timeout may yet stop */
	flush_settled();
	snprintf(current, sizeof(current), "(none: the teardown after the last cell)");
	if (ksm_run >= 0)
		write_file("/sys/kernel/mm/ksm/run", "2");  /* unmerge everything left */
	/* KSM's knobs (run 0 or 1 as it was: main saved it), shmem_enabled of the matrix's shmem-thp
	 * cells: every knob still changed */
	knobs_back(NULL, 0);
	if (flushes_late)  /* a cell after one may have counted that output's pins as its own */
		printf("# pin_matrix: %d output write(s) still held pins %d s later\n", flushes_late, FLUSH_SETTLE_MS / 1000);
	if (flushes_slow)
		printf("# pin_matrix: %d output write(s) held pins more than 1 s\n", flushes_slow);
	printf("pin_matrix: %d cells passed, %d failed, %d skipped\n", cells_pass, cells_fail, cells_skip);
	if (cells_fail)
		return 1;
	return cells_pass ? 0 : KSFT_SKIP;
}
