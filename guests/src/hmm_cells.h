/* hmm/...: device-private memory (lib/test_hmm.c's /dev/hmm_dmirror0, CONFIG_TEST_HMM +
 * DEVICE_PRIVATE) against pins. Part of pin_matrix.c (struct cell, cfail/cskip, cell_fork(),
 * wait_child(), fill64(), first_diff(), pin_start/pin_stop/pin_read/pin_write; kentry_cells.h's
 * pin_mark()/pins_back()/none_held()/kentry_missing(); ext4_dir), entered by hmm_cells() from main.
 *
 * What 6.12 does (mm/migrate_device.c, mm/memory.c, mm/rmap.c, lib/test_hmm.c): MIGRATE_TO_DEV
 * runs migrate_vma_setup/pages/finalize over the range with MIGRATE_VMA_SELECT_SYSTEM: each
 * present anonymous private page is unmapped for a device-private page whose data the driver
 * keeps in a backing system page; a page that may be pinned is refused when its PTE is collected
 * (folio_try_share_anon_rmap_pte()), a page with references beyond its maps by
 * migrate_vma_check_page(), a large folio is split first (6.12 has no device THP), a file page
 * is put back in migrate_vma_pages() (anonymous only). The CPU touching a device-private PTE
 * faults: do_swap_page() -> the pgmap's migrate_to_ram(), which copies the device's data into a
 * new system page; GUP (fast refuses non-present PTEs, slow faults) does the same. fork() copies
 * a device-private entry with a reference and an rmap dup, both sides read-only
 * (copy_nonpresent_pte()). HMM_DMIRROR_EXCLUSIVE replaces PTEs with device-exclusive entries
 * (make_device_exclusive_range()); any CPU access restores them (remove_device_exclusive_entry())
 * and the device loses its atomic mapping (CHECK_EXCLUSIVE: EPERM while it has one).
 * HMM_DMIRROR_READ/WRITE are the device's own accesses: device-private pages through the
 * driver's copy, system pages through hmm_range_fault(). SNAPSHOT says per page where it is.
 *
 * hmm/<pin>/migrate-to-dev (gup-fast, gup-slow: gup_test long-term pins; uring: fixed buffers;
 *   vmsplice: FOLL_GET references held by a pipe): the first half of 16 pages pinned, then
 *   MIGRATE_TO_DEV over all 16: the pinned pages must stay in system memory (snapshot), the
 *   unpinned witness must move (premise: else FAIL, tried 3 times: a working kernel moves every
 *   unpinned present anonymous page); data both ways through the pin, the device reads the
 *   witness's bytes from its memory, the process faults them back; pins back.
 * hmm/on-dev/<entry> (gup-fast, gup-slow, uring, pvm-readv, pvm-writev, dio-ext4-read,
 *   dio-ext4-write, vmsplice): 16 pages moved to the device, the device then writes its own bytes
 *   there (so only a copy from device memory reads them); the entry takes the first half: it
 *   must fault those back (snapshot: first half in system memory, the second still on the
 *   device), see the device's bytes, and what it writes is what the process reads; the second
 *   half is faulted back by the process last and holds the device's bytes; pins and references
 *   back (none_held()).
 * hmm/fork/<dev|dev-pin>: pages on the device, fork: the child reads the device's bytes and
 *   writes its own, the parent must not see them and the child not the parent's (dev-pin: the
 *   parent's writes go through an io_uring buffer registered after the fork).
 * hmm/free/<fault|munmap|exit>: 1024 pages on the device; faulted back, munmapped, or the
 *   process (a child) exits: the driver's backing pages must come back to the allocator (free
 *   pages with the per-CPU lists, /proc/zoneinfo): a device page whose last reference is never
 *   dropped keeps its backing page.
 * hmm/exclusive/<gup-fast|uring|write|fork>: 16 pages made device-exclusive (premise: pagemap
 *   says not present and CHECK_EXCLUSIVE EPERM), then a long-term pin, a fixed-buffer
 *   registration, a CPU write, or fork: the entries restored (CHECK_EXCLUSIVE 0), data both ways,
 *   pins back; fork: the child sees the parent's bytes and their writes do not cross.
 * hmm/thp/<migrate|pinned>: a PMD THP (premise, kpageflags) migrated: split and every page on
 *   the device; pinned (gup_test long-term, its first half): the split fails, no page moves, the
 *   pin and the process still see each other; unpinned, the same THP then moves (the premise).
 * hmm/file/<shmem|ext4-private>: migrate_vma moves anonymous pages only: a memfd's pages stay
 *   (the device's write reaches the file through hmm_range_fault()), an ext4 MAP_PRIVATE mapping
 *   moves the pages the process wrote (its anonymous copies), leaves the page-cache ones, and the
 *   file keeps its bytes.
 */
#include "lib/test_hmm_uapi.h"  /* the tree's own, from $BENCH_SRC */

#define HM_PAGES 16
#define HM_LEN (HM_PAGES * PAGE)
#define HM_HALF (HM_LEN / 2)
#define HM_FREE_PAGES 1024  /* hmm/free/...: enough to stand out of the free-page noise */

static const char *const hm_pin_names[] = {"gup-fast/migrate-to-dev", "gup-slow/migrate-to-dev", "uring/migrate-to-dev",
					    "vmsplice/migrate-to-dev"};
static const enum pin hm_pins[] = {GUP_FAST, GUP_SLOW, URING, VMSPLICE};
enum hm_entry { HE_GUP_FAST, HE_GUP_SLOW, HE_URING, HE_PVM_READ, HE_PVM_WRITE, HE_DIO_READ, HE_DIO_WRITE,
		HE_VMSPLICE, NHE };
static const char *const he_names[NHE] = {"gup-fast", "gup-slow", "uring", "pvm-readv", "pvm-writev",
					  "dio-ext4-read", "dio-ext4-write", "vmsplice"};
static const char *const hm_fork_names[] = {"dev", "dev-pin"};
static const char *const hm_free_names[] = {"fault", "munmap", "exit"};
static const char *const hm_excl_names[] = {"gup-fast", "uring", "write", "fork"};
static const char *const hm_thp_names[] = {"migrate", "pinned"};
static const char *const hm_file_names[] = {"shmem", "ext4-private"};


/* One dmirror ioctl over npages at addr, data through buf (npages pages; SNAPSHOT: npages bytes):
 * 0 or -errno; cpages in *cpages */
static int hm_cmd(int fd, unsigned long req, void *addr, void *buf, size_t npages, uint64_t *cpages)
{
	struct hmm_dmirror_cmd cmd = {.addr = (uintptr_t)addr, .ptr = (uintptr_t)buf, .npages = npages};
	int r = ioctl(fd, req, &cmd) ? -errno : 0;

	if (cpages)
		*cpages = cmd.cpages;
	return r;
}

/* The device's fd, or -1 with the cell told why (a kernel built with TEST_HMM fails: KENTRY_REQUIRED) */
static int hm_open(struct cell *c)
{
	int fd = open("/dev/hmm_dmirror0", O_RDWR);

	if (fd < 0)
		kentry_missing(c, "hmm", errno == ENOENT ? "no /dev/hmm_dmirror0 (CONFIG_TEST_HMM, DEVICE_PRIVATE)"
							 : "open /dev/hmm_dmirror0 failed");
	return fd;
}

/* Pages of [addr, addr + n pages) on this device (snapshot), -1 with the cell failed; the first
 * page that is (on=1) or is not (on=0) in *first */
static long hm_on_dev(struct cell *c, int fd, char *addr, size_t n, int on, long *first)
{
	unsigned char perm[1024];
	long k = 0;
	int r;

	*first = -1;
	if (n > sizeof(perm) || (r = hm_cmd(fd, HMM_DMIRROR_SNAPSHOT, addr, perm, n, NULL))) {
		cfail(c, "HMM_DMIRROR_SNAPSHOT: %s", n > sizeof(perm) ? "range too long" : strerror(-r));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		int dev = (perm[i] & 0xf0) == HMM_DMIRROR_PROT_DEV_PRIVATE_LOCAL;

		k += dev;
		if (*first < 0 && dev == on)
			*first = (long)i;
	}
	return k;
}

/* Every page of the range on the device (want = n) or none (want = 0); else the cell fails with what */
static int hm_expect(struct cell *c, int fd, char *addr, size_t n, size_t want, const char *what)
{
	long first, k = hm_on_dev(c, fd, addr, n, want ? 0 : 1, &first);

	if (k < 0)
		return -1;
	if ((size_t)k == want)
		return 0;
	cfail(c, "%s: %ld of %zu page(s) on the device, want %zu (first page %s: %ld)", what, k, n, want,
	      want ? "not there" : "there", first);
	return -1;
}

/* MIGRATE_TO_DEV of [addr, n pages), again (up to 4 times, the last three after drain_lru(): a
 * loaded TCG guest holds pages a moment longer) while fewer than want pages of [addr + skip pages,
 * n) moved (a page still in another CPU's LRU batch has a reference more: migrate_vma drains only
 * its own CPU's). ENOENT is the driver's read-back missing a page that did not move (a pinned
 * one): not an error. 0, or -1 with the cell failed. */
static int hm_migrate(struct cell *c, int fd, char *addr, size_t n, size_t skip, char *buf)
{
	long first, k = 0;
	int r;

	for (int t = 0; t < 4; t++) {
		if (t)
			drain_lru();
		r = hm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, addr, buf, n, NULL);
		if (r && r != -ENOENT) {
			cfail(c, "HMM_DMIRROR_MIGRATE_TO_DEV: %s", strerror(-r));
			return -1;
		}
		if ((k = hm_on_dev(c, fd, addr + skip * PAGE, n - skip, 0, &first)) < 0)
			return -1;
		if ((size_t)k == n - skip)
			return 0;
		usleep(20000);
	}
	cfail(c, "MIGRATE_TO_DEV moved %ld of %zu unpinned present anonymous page(s) in 4 tries (first left: "
	      "page %ld): the event did not happen", k, n - skip, (long)skip + first);
	return -1;
}

/* The device reads [addr, n pages) into buf; 0 or -1 with the cell failed */
static int hm_dev_read(struct cell *c, int fd, char *addr, size_t n, char *buf, const char *what)
{
	int r = hm_cmd(fd, HMM_DMIRROR_READ, addr, buf, n, NULL);

	if (r)
		cfail(c, "HMM_DMIRROR_READ of %s: %s", what, strerror(-r));
	return r ? -1 : 0;
}

static int hm_dev_write(struct cell *c, int fd, char *addr, size_t n, const char *buf, const char *what)
{
	int r = hm_cmd(fd, HMM_DMIRROR_WRITE, addr, (void *)buf, n, NULL);

	if (r)
		cfail(c, "HMM_DMIRROR_WRITE of %s: %s", what, strerror(-r));
	return r ? -1 : 0;
}

/* got must equal want over len; else the cell fails naming what */
static int hm_same(struct cell *c, const char *got, const char *want, size_t len, const char *what)
{
	long d = first_diff(got, want, len);

	if (d >= 0)
		cfail(c, "%s differs at byte %ld (page %ld)", what, d, d / (long)PAGE);
	return d >= 0 ? -1 : 0;
}

static char *hm_anon(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* The cell's buffers: the region, a scratch buffer, and what it holds (exp) */
struct hm_bufs {
	char *map, *buf, *exp, *dev;
};

static int hm_bufs(struct cell *c, struct hm_bufs *b, size_t len)
{
	b->map = hm_anon(len);
	b->buf = aligned_alloc(PAGE, len);
	b->exp = malloc(len);
	b->dev = malloc(len);
	if (!b->map || !b->buf || !b->exp || !b->dev) {
		cfail(c, "out of memory");
		return -1;
	}
	return 0;
}

static void hm_bufs_free(struct hm_bufs *b, size_t len)
{
	if (b->map)
		munmap(b->map, len);
	free(b->buf);
	free(b->exp);
	free(b->dev);
}

/* -- pinned, then migrated ------------------------------------------------------------------- */

static void hm_pinned(struct cell *c, int k)
{
	enum pin p = hm_pins[k];
	struct hm_bufs b = {0};
	struct pinmark m;
	int fd = -1, pinned = 0, pfd[2] = {-1, -1};

	if (pinner_missing(c, p) || hm_bufs(c, &b, HM_LEN) || (fd = hm_open(c)) < 0)
		goto out;
	c->mem = ANON;
	c->half = HM_HALF;
	fill64(b.exp, HM_LEN, 0x4a1);
	memcpy(b.map, b.exp, HM_LEN);
	pin_mark(&m);
	if (p == VMSPLICE) {  /* the pipe holds a reference to each page of the first half */
		if (pipe(pfd) || fcntl(pfd[1], F_SETPIPE_SZ, (int)HM_LEN) < 0) {
			cfail(c, "a pipe of %lu bytes: %s", HM_LEN, strerror(errno));
			goto out;
		}
		if (vmsplice(pfd[1], &(struct iovec){b.map, HM_HALF}, 1, 0) != (ssize_t)HM_HALF) {
			cfail(c, "vmsplice of the first half: %s", strerror(errno));
			goto out;
		}
	} else if (pin_start(c, p, b.map, HM_HALF)) {
		goto out;
	}
	pinned = 1;
	if (hm_migrate(c, fd, b.map, HM_PAGES, HM_PAGES / 2, b.buf) ||
	    hm_expect(c, fd, b.map, HM_PAGES / 2, 0, "pinned pages after MIGRATE_TO_DEV"))
		goto unpin;
	/* the witness: the device reads its bytes from device memory */
	if (hm_dev_read(c, fd, b.map + HM_HALF, HM_PAGES / 2, b.buf, "the witness on the device") ||
	    hm_same(c, b.buf, b.exp + HM_HALF, HM_HALF, "the device's read of the migrated witness"))
		goto unpin;
	if (p == VMSPLICE) {  /* the pipe's pages are still the process's: a write shows in the pipe */
		fill64(b.exp, HM_HALF, 0x4a2);
		memcpy(b.map, b.exp, HM_HALF);
		if (read(pfd[0], b.buf, HM_HALF) != (ssize_t)HM_HALF)
			cfail(c, "read of the pipe: %s", strerror(errno));
		else
			hm_same(c, b.buf, b.exp, HM_HALF, "the pipe's pages (vmspliced, then written by the process) "
				"against the process's");
	} else {
		if (pin_read(c, p, b.map, b.buf) || hm_same(c, b.buf, b.exp, HM_HALF, "read through the pin"))
			goto unpin;
		fill64(b.exp, HM_HALF, 0x4a2);  /* through the pin (io_uring), else the process */
		if (pin_write(c, p, b.map, b.exp) < 0)
			goto unpin;
		if (p != URING)
			memcpy(b.map, b.exp, HM_HALF);
		if (hm_same(c, b.map, b.exp, HM_HALF, p == URING ? "the process's read of what the pin wrote"
								 : "the process's read of its own write") ||
		    pin_read(c, p, b.map, b.buf) || hm_same(c, b.buf, b.exp, HM_HALF, "read through the pin after the write"))
			goto unpin;
	}
	/* the witness faults back (do_swap_page -> migrate_to_ram) with its bytes */
	if (!hm_same(c, b.map + HM_HALF, b.exp + HM_HALF, HM_HALF, "the witness faulted back"))
		hm_expect(c, fd, b.map + HM_HALF, HM_PAGES / 2, 0, "the witness after the process read it");
unpin:
	if (pinned && p != VMSPLICE)
		pin_stop(c, p);
	close_pair(pfd);
	if (pinned)
		pins_back(c, &m, "the unpin");
	if (!c->failed[0])
		printf("# %s: %d pinned page(s) stayed, %d witness page(s) moved and came back, data both ways\n",
		       c->name, HM_PAGES / 2, HM_PAGES / 2);
out:
	if (fd >= 0)
		close(fd);
	hm_bufs_free(&b, HM_LEN);
}

/* -- on the device, then taken by an entry point --------------------------------------------- */

/* 16 pages filled, moved to the device, the device's own bytes written there (in b->dev, and exp) */
static int hm_to_dev(struct cell *c, int fd, struct hm_bufs *b, size_t len, unsigned seed)
{
	size_t n = len / PAGE;

	fill64(b->exp, len, seed);
	memcpy(b->map, b->exp, len);
	if (hm_migrate(c, fd, b->map, n, 0, b->buf) ||
	    hm_same(c, b->buf, b->exp, len, "the migrated data the device read back"))
		return -1;
	fill64(b->dev, len, seed + 1);
	if (hm_dev_write(c, fd, b->map, n, b->dev, "the pages on the device") ||
	    hm_expect(c, fd, b->map, n, n, "after the device's write"))
		return -1;
	memcpy(b->exp, b->dev, len);
	return 0;
}

static void hm_on_dev_cell(struct cell *c, int k)
{
	enum hm_entry e = (enum hm_entry)k;
	struct hm_bufs b = {0};
	struct pinmark m;
	char path[300] = "", *other = NULL;
	int fd = -1, ffd = -1, held = 0, pfd[2] = {-1, -1};
	enum pin p = e == HE_GUP_FAST ? GUP_FAST : e == HE_GUP_SLOW ? GUP_SLOW : URING;
	ssize_t r;

	if ((e <= HE_URING && pinner_missing(c, p)) || hm_bufs(c, &b, HM_LEN) || !(other = aligned_alloc(PAGE, HM_LEN))) {
		if (!c->failed[0] && !c->skip[0])
			cfail(c, "out of memory");
		goto out;
	}
	fill64(other, HM_LEN, 0x0e1);  /* what the entry writes */
	if ((e == HE_DIO_READ || e == HE_DIO_WRITE) &&
	    (ffd = dio_ext4_file(c, "hmm", path, sizeof(path), other, HM_HALF)) < 0)
		goto out;
	if ((fd = hm_open(c)) < 0 || hm_to_dev(c, fd, &b, HM_LEN, 0x0d1))
		goto out;
	c->mem = ANON;
	c->half = HM_HALF;
	pin_mark(&m);
	switch (e) {
	case HE_GUP_FAST:
	case HE_GUP_SLOW:
	case HE_URING:
		if (pin_start(c, p, b.map, HM_HALF))
			goto out;
		held = 1;
		if (pin_read(c, p, b.map, b.buf) || hm_same(c, b.buf, b.exp, HM_HALF, "read through the new pin"))
			break;
		if (p == URING) {  /* written through the pin */
			if (pin_write(c, p, b.map, other) < 0)
				break;
			memcpy(b.exp, other, HM_HALF);
		} else {  /* the device writes the pinned pages, now system memory (hmm_range_fault) */
			if (hm_dev_write(c, fd, b.map, HM_PAGES / 2, other, "the pinned pages"))
				break;
			memcpy(b.exp, other, HM_HALF);
			if (pin_read(c, p, b.map, b.buf) ||
			    hm_same(c, b.buf, b.exp, HM_HALF, "read through the pin after the device wrote the pages"))
				break;
		}
		break;
	case HE_PVM_READ:
	case HE_PVM_WRITE: {
		struct iovec loc = {b.buf, HM_HALF}, rem = {b.map, HM_HALF};

		if (e == HE_PVM_WRITE)
			memcpy(b.buf, other, HM_HALF);
		r = e == HE_PVM_READ ? process_vm_readv(getpid(), &loc, 1, &rem, 1, 0)
				     : process_vm_writev(getpid(), &loc, 1, &rem, 1, 0);
		if (r != (ssize_t)HM_HALF) {
			cfail(c, "%s of device pages: %zd (%s)", he_names[e], r, r < 0 ? strerror(errno) : "short");
			break;
		}
		if (e == HE_PVM_READ)
			hm_same(c, b.buf, b.exp, HM_HALF, "what process_vm_readv read from the device pages");
		else
			memcpy(b.exp, other, HM_HALF);
		break;
	}
	case HE_DIO_READ:
	case HE_DIO_WRITE:
		r = e == HE_DIO_READ ? pread(ffd, b.map, HM_HALF, 0) : pwrite(ffd, b.map, HM_HALF, 0);
		if (r != (ssize_t)HM_HALF) {
			cfail(c, "O_DIRECT %s device pages: %zd (%s)", e == HE_DIO_READ ? "read into" : "write from", r,
			      r < 0 ? strerror(errno) : "short");
			break;
		}
		if (e == HE_DIO_READ) {
			memcpy(b.exp, other, HM_HALF);
		} else if (pread(ffd, b.buf, HM_HALF, 0) != (ssize_t)HM_HALF) {
			cfail(c, "O_DIRECT read back of the file: %s", strerror(errno));
		} else {
			hm_same(c, b.buf, b.exp, HM_HALF, "the file written by O_DIRECT from the device pages");
		}
		break;
	case HE_VMSPLICE:
		if (pipe(pfd) || fcntl(pfd[1], F_SETPIPE_SZ, (int)HM_LEN) < 0) {
			cfail(c, "a pipe of %lu bytes: %s", HM_LEN, strerror(errno));
			break;
		}
		r = vmsplice(pfd[1], &(struct iovec){b.map, HM_HALF}, 1, 0);
		if (r != (ssize_t)HM_HALF) {
			cfail(c, "vmsplice of device pages: %zd (%s)", r, r < 0 ? strerror(errno) : "short");
			break;
		}
		if (read(pfd[0], b.buf, HM_HALF) != (ssize_t)HM_HALF)
			cfail(c, "read of the pipe: %s", strerror(errno));
		else
			hm_same(c, b.buf, b.exp, HM_HALF, "what the pipe read from the vmspliced device pages");
		break;
	default:
		break;
	}
	if (!c->failed[0]) {  /* the entry's half is back in system memory; the other is still on the device */
		if (!hm_expect(c, fd, b.map, HM_PAGES / 2, 0, "the pages the entry took") &&
		    !hm_expect(c, fd, b.map + HM_HALF, HM_PAGES / 2, HM_PAGES / 2, "the pages the entry did not take"))
			hm_same(c, b.map, b.exp, HM_LEN, "the process's read of both halves");
	}
	if (held) {
		if (!c->failed[0] && p == URING) {  /* the process writes, the pin reads it */
			fill64(b.exp, HM_HALF, 0x0e2);
			memcpy(b.map, b.exp, HM_HALF);
			if (!pin_read(c, p, b.map, b.buf))
				hm_same(c, b.buf, b.exp, HM_HALF, "read through the pin after the process wrote");
		}
		pin_stop(c, p);
	}
	close_pair(pfd);
	pins_back(c, &m, "the entry let go");
	if (!c->failed[0])
		none_held(c, b.map, HM_LEN, "the entry let go");
	if (!c->failed[0])
		printf("# %s: %d device page(s) taken: faulted back with the device's bytes, %d left on the device\n",
		       c->name, HM_PAGES / 2, HM_PAGES / 2);
out:
	if (ffd >= 0) {
		close(ffd);
		unlink(path);
	}
	if (fd >= 0)
		close(fd);
	free(other);
	hm_bufs_free(&b, HM_LEN);
}

/* A cell's child's exit: 3 it did not read the parent's bytes, 4 not its own write, 5 it saw the
 * parent's write after fork */
static void hm_wait(struct cell *c, pid_t pid, const char *who)
{
	static const char *const why[] = {[3] = "does not read the bytes the parent had at fork",
					  [4] = "does not read back its own write",
					  [5] = "sees the parent's write after fork in a private mapping"};
	int st = 0;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		int e = WIFEXITED(st) ? WEXITSTATUS(st) : 0;

		if (e >= 3 && e <= 5)
			cfail(c, "%s %s", who, why[e]);
		else
			cfail(c, "%s ended with status %#x", who, st);
	}
}

/* -- fork with pages on the device ------------------------------------------------------------ */

static void hm_fork(struct cell *c, int k)
{
	struct hm_bufs b = {0};
	struct pinmark m;
	int fd = -1, go[2] = {-1, -1}, done[2] = {-1, -1}, pinned = 0;
	char x;
	pid_t pid = -1;

	if ((k && pinner_missing(c, URING)) || hm_bufs(c, &b, HM_LEN) || (fd = hm_open(c)) < 0 || hm_to_dev(c, fd, &b, HM_LEN, 0xf01))
		goto out;
	if (pipe(go) || pipe(done)) {
		cfail(c, "pipe: %s", strerror(errno));
		goto out;
	}
	c->mem = ANON;
	c->half = HM_LEN;
	pin_mark(&m);
	pid = cell_fork();
	if (pid == 0) {  /* reads the device's bytes, writes its own; then must not see the parent's */
		char *mine = malloc(HM_LEN);

		if (!mine || first_diff(b.map, b.exp, HM_LEN) >= 0)
			_exit(3);
		fill64(mine, HM_LEN, 0xc41d);
		memcpy(b.map, mine, HM_LEN);
		if (write(done[1], "w", 1) != 1 || read(go[0], &x, 1) != 1)
			_exit(1);
		_exit(first_diff(b.map, mine, HM_LEN) >= 0 ? 5 : 0);
	}
	if (pid < 0) {
		cfail(c, "fork: %s", strerror(errno));
		goto out;
	}
	close(done[1]);  /* a child that exits early (it did not read the device's bytes) is an EOF */
	done[1] = -1;
	if (read(done[0], &x, 1) != 1) {
		cfail(c, "the child died before it wrote its copy");
	} else if (!hm_same(c, b.map, b.exp, HM_LEN, "the parent's pages after the child wrote its own")) {
		fill64(b.exp, HM_LEN, 0xfa7);
		if (k) {  /* the parent writes through a pin taken after the fork (it must unshare first) */
			if (!pin_start(c, URING, b.map, HM_LEN)) {
				pinned = 1;
				if (pin_write(c, URING, b.map, b.exp) > 0)
					hm_same(c, b.map, b.exp, HM_LEN, "the parent's read of what its pin wrote");
			}
		} else {
			memcpy(b.map, b.exp, HM_LEN);
		}
	}
	if (write(go[1], "g", 1) != 1)
		cfail(c, "cannot wake the child");
	hm_wait(c, pid, "the child (pages on the device at fork)");
	if (pinned) {
		pin_stop(c, URING);
		pins_back(c, &m, "the unpin");
	}
	if (!c->failed[0])
		hm_same(c, b.map, b.exp, HM_LEN, "the parent's pages after the child exited");
	if (!c->failed[0])
		printf("# %s: the child read the device's bytes; the writes after fork did not cross\n", c->name);
out:
	close_pair(go);
	close_pair(done);
	if (fd >= 0)
		close(fd);
	hm_bufs_free(&b, HM_LEN);
}

/* -- the device's backing pages freed -------------------------------------------------------- */

/* Free pages, the per-CPU lists' included (/proc/zoneinfo: nr_free_pages and each "count:") */
static long hm_free_now(void)
{
	FILE *f = fopen("/proc/zoneinfo", "r");
	char line[256];
	long n = 0, v;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " pages free %ld", &v) == 1 || sscanf(line, " count: %ld", &v) == 1)
			n += v;
	fclose(f);
	return n;
}

static void hm_free(struct cell *c, int k)
{
	size_t len = HM_FREE_PAGES * PAGE;
	struct hm_bufs b = {0};
	long before = -1, after, got;
	int fd = -1, go[2] = {-1, -1}, done[2] = {-1, -1};
	pid_t pid = -1;
	char x;

	if ((fd = hm_open(c)) < 0)
		return;
	if (k == 2) {  /* exit: the child moves its pages to the device and exits */
		if (pipe(go) || pipe(done)) {
			cfail(c, "pipe: %s", strerror(errno));
			goto out;
		}
		pid = cell_fork();
		if (pid == 0) {  /* its own fd: a dmirror mirrors the mm that opened it */
			close(fd);
			if ((fd = hm_open(c)) < 0 || hm_bufs(c, &b, len) || hm_to_dev(c, fd, &b, len, 0xe17))
				_exit(3);
			free(b.buf);  /* what exit frees besides the device pages: as little as can be */
			free(b.exp);
			free(b.dev);
			if (write(done[1], "m", 1) != 1 || read(go[0], &x, 1) != 1)
				_exit(1);
			_exit(0);  /* exit_mmap() zaps the device-private entries */
		}
		close(done[1]);  /* a child that dies early is then an EOF, not a wait for ever */
		done[1] = -1;
		if (pid < 0 || read(done[0], &x, 1) != 1) {
			cfail(c, "the child could not move its pages to the device: %s", pid < 0 ? strerror(errno) : "it died");
			if (pid > 0)
				waitpid(pid, NULL, 0);
			goto out;
		}
		before = hm_free_now();
		if (write(go[1], "g", 1) != 1)
			cfail(c, "cannot wake the child");
		waitpid(pid, NULL, 0);
	} else {
		if (hm_bufs(c, &b, len) || hm_to_dev(c, fd, &b, len, 0xe17))
			goto out;
		before = hm_free_now();
		if (k == 0) {  /* every page faulted back: a new system page each, the device page freed */
			if (hm_same(c, b.map, b.exp, len, "the pages faulted back from the device"))
				goto out;
			hm_expect(c, fd, b.map, 64, 0, "the first 64 pages after the process read them");
		} else {
			munmap(b.map, len);
			b.map = NULL;
		}
	}
	usleep(100000);  /* the device pages' frees are synchronous; let what else runs settle */
	after = hm_free_now();
	got = after - before;
	if (before < 0 || after < 0)
		cfail(c, "no /proc/zoneinfo");
	else if (!c->failed[0] && k == 0 && got < -HM_FREE_PAGES / 2)
		cfail(c, "free pages fell by %ld after %d device pages were faulted back (each a new system page, its "
		      "backing page freed: about 0 expected): device pages not freed", -got, HM_FREE_PAGES);
	else if (!c->failed[0] && k && got < HM_FREE_PAGES * 3 / 4)
		cfail(c, "%s of %d device pages gave back %ld free pages (want at least %d): the driver's backing "
		      "pages not freed (a device page's reference leaked)", hm_free_names[k], HM_FREE_PAGES, got,
		      HM_FREE_PAGES * 3 / 4);
	if (!c->failed[0])
		printf("# %s: free pages %+ld after %s of %d device pages\n", c->name, got, hm_free_names[k], HM_FREE_PAGES);
out:
	close_pair(go);
	close_pair(done);
	close(fd);
	hm_bufs_free(&b, len);
}

/* -- device-exclusive entries ----------------------------------------------------------------- */

static void hm_excl(struct cell *c, int k)
{
	struct hm_bufs b = {0};
	struct pinmark m;
	enum pin p = k == 0 ? GUP_FAST : URING;
	int fd = -1, r, nonpresent = 0, pinned = 0;
	pid_t pid;

	if ((k < 2 && pinner_missing(c, p)) || hm_bufs(c, &b, HM_LEN) || (fd = hm_open(c)) < 0)
		goto out;
	c->mem = ANON;
	c->half = HM_LEN;
	fill64(b.exp, HM_LEN, 0xe3c);
	memcpy(b.map, b.exp, HM_LEN);
	if ((r = hm_cmd(fd, HMM_DMIRROR_EXCLUSIVE, b.map, b.buf, HM_PAGES, NULL))) {
		cfail(c, "HMM_DMIRROR_EXCLUSIVE: %s", strerror(-r));
		goto out;
	}
	for (size_t i = 0; i < HM_PAGES; i++)  /* device-exclusive entries are swap-type: not present */
		nonpresent += !(pagemap(b.map + i * PAGE) & PM_PRESENT);
	r = hm_cmd(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, b.map, NULL, HM_PAGES, NULL);
	if (nonpresent != HM_PAGES || r != -EPERM) {
		cfail(c, "after HMM_DMIRROR_EXCLUSIVE %d of %d PTEs are not present and CHECK_EXCLUSIVE says %s (want "
		      "EPERM): no device-exclusive entries", nonpresent, HM_PAGES, r ? strerror(-r) : "none atomic");
		goto out;
	}
	if (hm_same(c, b.buf, b.exp, HM_LEN, "what the device read while exclusive"))
		goto out;
	pin_mark(&m);
	switch (k) {
	case 0:
	case 1:
		if (pin_start(c, p, b.map, HM_LEN))
			goto out;
		pinned = 1;
		if (pin_read(c, p, b.map, b.buf) || hm_same(c, b.buf, b.exp, HM_LEN, "read through the pin"))
			break;
		fill64(b.exp, HM_LEN, 0xe3d);
		if (p == URING) {
			if (pin_write(c, p, b.map, b.exp) > 0)
				hm_same(c, b.map, b.exp, HM_LEN, "the process's read of what the pin wrote");
		} else {
			memcpy(b.map, b.exp, HM_LEN);
			if (!pin_read(c, p, b.map, b.buf))
				hm_same(c, b.buf, b.exp, HM_LEN, "read through the pin after the process wrote");
		}
		break;
	case 2:  /* a CPU write restores the entry; the device sees the write */
		fill64(b.exp, HM_LEN, 0xe3d);
		memcpy(b.map, b.exp, HM_LEN);
		break;
	case 3:
		pid = cell_fork();
		if (pid == 0) {
			char *mine = malloc(HM_LEN);

			if (!mine || first_diff(b.map, b.exp, HM_LEN) >= 0)
				_exit(3);
			fill64(mine, HM_LEN, 0xc41e);
			memcpy(b.map, mine, HM_LEN);
			_exit(first_diff(b.map, mine, HM_LEN) >= 0 ? 4 : 0);
		}
		if (pid < 0) {
			cfail(c, "fork: %s", strerror(errno));
			goto out;
		}
		hm_wait(c, pid, "the child (device-exclusive pages at fork)");
		if (!c->failed[0])
			hm_same(c, b.map, b.exp, HM_LEN, "the parent's pages after the child wrote its own");
		fill64(b.exp, HM_LEN, 0xe3d);
		memcpy(b.map, b.exp, HM_LEN);
		break;
	}
	if (!c->failed[0]) {  /* the CPU's access took the device's exclusive mappings away */
		r = hm_cmd(fd, HMM_DMIRROR_CHECK_EXCLUSIVE, b.map, NULL, HM_PAGES, NULL);
		if (r)
			cfail(c, "CHECK_EXCLUSIVE still says %s after the CPU's %s: the device kept an atomic mapping",
			      strerror(-r), hm_excl_names[k]);
		else if (!hm_dev_read(c, fd, b.map, HM_PAGES, b.buf, "the restored pages"))
			hm_same(c, b.buf, b.exp, HM_LEN, "the device's read after the CPU wrote");
	}
	if (pinned)
		pin_stop(c, p);
	if (k < 2)
		pins_back(c, &m, "the unpin");
	if (!c->failed[0])
		printf("# %s: %d device-exclusive entries restored by the %s, data both ways\n", c->name, HM_PAGES,
		       hm_excl_names[k]);
out:
	if (fd >= 0)
		close(fd);
	hm_bufs_free(&b, HM_LEN);
}

/* -- a THP ------------------------------------------------------------------------------------- */

static void hm_thp(struct cell *c, int k)
{
	size_t n = HPAGE / PAGE;
	char *t = map_aligned(HPAGE, HPAGE, MADV_HUGEPAGE), *buf = aligned_alloc(PAGE, HPAGE), *exp = malloc(HPAGE);
	struct pinmark m;
	int fd = -1;

	if (!t || !buf || !exp) {
		cfail(c, "out of memory");
		goto out;
	}
	fill64(exp, HPAGE, 0x7a9);
	memcpy(t, exp, HPAGE);
	if (!is_thp(t) || !is_thp(t + HPAGE - PAGE)) {
		cskip(c, "the 2 MiB region is not a THP (kpageflags)");
		goto out;
	}
	if ((fd = hm_open(c)) < 0 || (k && pinner_missing(c, GUP_FAST)))
		goto out;
	c->mem = THP;
	c->half = HPAGE / 2;
	if (k) {  /* the first half pinned: the THP cannot be split, so no page moves */
		uint64_t got;
		int r;

		pin_mark(&m);
		if (pin_start(c, GUP_FAST, t, HPAGE / 2))
			goto out;
		r = hm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, t, buf, n, &got);
		if (r && r != -ENOENT)
			cfail(c, "HMM_DMIRROR_MIGRATE_TO_DEV: %s", strerror(-r));
		else if (!hm_expect(c, fd, t, n, 0, "the THP, its first half pinned, after MIGRATE_TO_DEV (a pinned THP is not split)") &&
			 !pin_read(c, GUP_FAST, t, buf) && !hm_same(c, buf, exp, HPAGE / 2, "read through the pin")) {
			fill64(exp, HPAGE, 0x7aa);
			memcpy(t, exp, HPAGE);
			if (!pin_read(c, GUP_FAST, t, buf))
				hm_same(c, buf, exp, HPAGE / 2, "read through the pin after the process wrote");
		}
		pin_stop(c, GUP_FAST);
		pins_back(c, &m, "the unpin");
		if (c->failed[0])
			goto out;
	}
	/* not pinned (any more): split, and every page moves */
	if (hm_migrate(c, fd, t, n, 0, buf) || hm_same(c, buf, exp, HPAGE, "the migrated THP the device read back"))
		goto out;
	fill64(exp, HPAGE, 0x7ab);
	if (!hm_dev_write(c, fd, t, n, exp, "the THP's pages on the device"))
		hm_same(c, t, exp, HPAGE, "the process's read of the THP's pages faulted back");
	if (!c->failed[0])
		printf("# %s: %s%zu pages moved to the device (split) and back\n", c->name,
		       k ? "pinned: none moved; unpinned: " : "", n);
out:
	if (fd >= 0)
		close(fd);
	if (t)
		munmap(t, HPAGE);
	free(buf);
	free(exp);
}

/* -- file pages stay ----------------------------------------------------------------------------- */

static void hm_file(struct cell *c, int k)
{
	char path[300] = "", *map = MAP_FAILED, *buf = aligned_alloc(PAGE, HM_LEN), *exp = malloc(HM_LEN), *disk = malloc(HM_LEN);
	int fd = -1, ffd = -1, r;
	uint64_t got;

	if (!buf || !exp || !disk) {
		cfail(c, "out of memory");
		goto out;
	}
	fill64(exp, HM_LEN, 0xf11);
	memcpy(disk, exp, HM_LEN);
	if (k == 0) {
		ffd = memfd_create("hmm_cells", 0);
	} else if (!ext4_dir) {
		cskip(c, "no ext4 directory given (-d)");
		goto out;
	} else {
		snprintf(path, sizeof(path), "%s/hmm-file.%d", ext4_dir, getpid());
		ffd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	}
	if (ffd < 0 || pwrite(ffd, exp, HM_LEN, 0) != (ssize_t)HM_LEN) {
		cfail(c, "the file and its first write: %s", strerror(errno));
		goto out;
	}
	map = mmap(NULL, HM_LEN, PROT_READ | PROT_WRITE, k ? MAP_PRIVATE : MAP_SHARED, ffd, 0);
	if (map == MAP_FAILED || (fd = hm_open(c)) < 0) {
		if (map == MAP_FAILED)
			cfail(c, "mmap: %s", strerror(errno));
		goto out;
	}
	if (k) {  /* the second half written: the process's own anonymous copies */
		fill64(exp + HM_HALF, HM_HALF, 0xf12);
		memcpy(map + HM_HALF, exp + HM_HALF, HM_HALF);
	}
	if (hm_same(c, map, exp, HM_LEN, "the mapping before the migration"))
		goto out;
	r = hm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, map, buf, HM_PAGES, &got);
	if (r && r != -ENOENT) {
		cfail(c, "HMM_DMIRROR_MIGRATE_TO_DEV: %s", strerror(-r));
		goto out;
	}
	if (k) {
		if (hm_expect(c, fd, map, HM_PAGES / 2, 0, "the page-cache pages of a MAP_PRIVATE file") ||
		    hm_migrate(c, fd, map + HM_HALF, HM_PAGES / 2, 0, buf))
			goto out;
	} else if (hm_expect(c, fd, map, HM_PAGES, 0, "a memfd's pages after MIGRATE_TO_DEV")) {
		goto out;
	}
	/* the device writes: file pages in place (hmm_range_fault()), anonymous ones on the device */
	fill64(exp, HM_LEN, 0xf13);
	if (hm_dev_write(c, fd, map, HM_PAGES, exp, "the mapping") || hm_same(c, map, exp, HM_LEN, "the process's read of the device's write"))
		goto out;
	if (!k)
		memcpy(disk, exp, HM_LEN);  /* shared: the file holds the device's write */
	if (pread(ffd, buf, HM_LEN, 0) != (ssize_t)HM_LEN)
		cfail(c, "read of the file: %s", strerror(errno));
	else
		hm_same(c, buf, disk, HM_LEN, k ? "the file under a private mapping the device wrote" : "the memfd the device wrote");
	if (!c->failed[0])
		printf("# %s: %s\n", c->name, k ? "page-cache pages stayed, the written (anonymous) ones moved, the file kept its bytes"
					      : "no shmem page moved; the device's write reached the file");
out:
	if (map != MAP_FAILED)
		munmap(map, HM_LEN);
	if (fd >= 0)
		close(fd);
	if (ffd >= 0)
		close(ffd);
	if (path[0])
		unlink(path);
	free(buf);
	free(exp);
	free(disk);
}

#define HM_N(a) (int)(sizeof(a) / sizeof(a[0]))
static const struct cell_entry hm_table[] = {
	{"hmm/", hm_pinned, hm_pin_names, HM_N(hm_pin_names)},
	{"hmm/on-dev/", hm_on_dev_cell, he_names, NHE},
	{"hmm/fork/", hm_fork, hm_fork_names, HM_N(hm_fork_names)},
	{"hmm/free/", hm_free, hm_free_names, HM_N(hm_free_names)},
	{"hmm/exclusive/", hm_excl, hm_excl_names, HM_N(hm_excl_names)},
	{"hmm/thp/", hm_thp, hm_thp_names, HM_N(hm_thp_names)},
	{"hmm/file/", hm_file, hm_file_names, HM_N(hm_file_names)},
};

static void hmm_cells(void)
{
	run_cells(hm_table, sizeof(hm_table) / sizeof(hm_table[0]), NULL, NULL);
}
