/* fsmap/<fs>/<pin>/<event>: MAP_SHARED file memory on other address spaces than ext4 and shmem:
 * a vfat file (fs/fat: generic_file_mmap, filemap_page_mkwrite, block_dirty_folio, buffer heads,
 * mpage writeback, buffer_migrate_folio) and a raw block device (block/fops.c blkdev_mmap, the
 * bdev inode's buffer heads, blkdev_write_begin/end, blkdev_fallocate,
 * buffer_migrate_folio_norefs). The put_user_pages story on those: a file page written through a
 * pin (DMA into it), cleaned by writeback while pinned (folio_mkclean), written again (the write
 * fault must go through page_mkwrite and dirty it), migrated, evicted, truncated; each file
 * system dirties and writes back in its own way, and the matrix checked only ext4.
 *
 * fs: vfat (a 64 KiB file on the -v mount), blk (64 KiB at 6 MiB of the raw loop device -b; the
 *     dio cells use its start; a cell leaves the range clean and out of the page cache).
 * pin, one system call long (the pinned half written INTO the mapping, the other half read out):
 *   dio (O_DIRECT read/write of a file on the ext4 mount -d: fs/iomap/direct-io.c pins the
 *   mapping's pages, dirties them after the read, bio_check_pages_dirty()), uring (IORING_OP_READ
 *   and WRITE, not fixed, on the same O_DIRECT file), pvm (process_vm_writev/readv on itself:
 *   pin_user_pages_remote(FOLL_WRITE));
 *   state before it: clean (the process wrote, msync cleaned and write-protected: the pin's
 *   FOLL_WRITE fault is a page_mkwrite), cold (mapped, never touched, out of the page cache:
 *   the pin's fault reads the file in, then page_mkwrite);
 *   race-writeback (dio only): msync and sync_file_range in a loop against O_DIRECT reads into
 *   the whole mapping, for FM_RACE_S.
 * pin held across the event (the first half; the second is the witness): gup-ro (gup_test's
 *   long-term pin, read-only: a writable one is refused, below), vmsplice (page references in a
 *   pipe); events: writeback (msync with the pin held: folio_mkclean of a pinned page, then the
 *   process writes again), evict (msync, MADV_DONTNEED, POSIX_FADV_DONTNEED: the witness leaves
 *   the page cache, the pinned pages must not), reclaim (the same by memory.reclaim of the -m
 *   group), migrate (move_pages of dirty buffer-head pages: the witness moves, the pinned pages
 *   must not), pwrite (buffered write through the fd over
 *   the pinned pages: fat_write_begin / blkdev_write_begin), fork (a child writes through the
 *   shared mapping), the cuts: truncate (vfat: to 5 pages + 100 and back); punch, discard,
 *   zeroout, zero-range (blk: fallocate PUNCH_HOLE, BLKDISCARD, BLKZEROOUT, fallocate ZERO_RANGE:
 *   truncate_bdev_range() under the pin, blkdev_fallocate(), blk_ioctl_discard/zeroout()).
 * refused/<how>: writable long-term pins of such a mapping (vma_needs_dirty_tracking(), mm/gup.c
 *   writable_file_mapping_allowed()): gup_test PIN_LONGTERM write, fast and slow, and io_uring
 *   buffer registration must fail with no pin left; the read-only long-term pin and a
 *   short-term writable one (PIN_BASIC_TEST, FOLL_WRITE) of the same range must succeed.
 *
 * Checks, every cell: data both ways (what went in through the pin is what the process reads,
 * what the process wrote is what the pin read out); every page written through a pin or by the
 * process after writeback is dirty (kpageflags), else writeback would not write it; after the
 * unpin the FOLL_PIN counters are back and no page of the mapping is held (pages_held(): each
 * file page must migrate, which also runs the buffer_migrate_folio paths); then msync, fsync,
 * munmap, POSIX_FADV_DONTNEED (cachestat(2) must show the range gone: the read is from disk) and
 * a buffered pread: the disk holds the last data. The vfat file is never read with O_DIRECT:
 * fs/direct-io.c's pins are not counted (docs/matrix.md); the race reads the loop device under
 * it instead (fm_raw()). Premises, else SKIP: the pages are
 * file pages (pagemap), msync wrote (nr_written) and cleaned them, the witness was evicted /
 * migrated (cachestat, move_pages status, pgmigrate_success), the race's writeback ran.
 * Part of pin_matrix.c (struct cell, run_cells(), gup_fd, ring, nodes_and_other(); kentry_cells.h
 * pin_mark(), pins_back(), none_held()).
 */
#define FM_PAGES 16
#define FM_LEN (FM_PAGES * PAGE)
#define FM_HALF (FM_LEN / 2)
#define FM_BLK_OFF (6L << 20)
#define FM_RACE_S 1.0
#define PM_FILE (1ULL << 61)
#include <sys/sysmacros.h>
#ifndef FIBMAP
#define FIBMAP _IO(0x00, 1)
#define FIGETBSZ _IO(0x00, 2)
#endif
#ifndef BLKDISCARD
#define BLKDISCARD _IO(0x12, 119)
#endif
#ifndef BLKZEROOUT
#define BLKZEROOUT _IO(0x12, 127)
#endif

enum fm_fs { FM_VFAT, FM_BLK, NFM, FM_EXT4 = NFM /* dirty_cells.h's only */ };
static const char *const fm_names[NFM + 1] = {"vfat", "blk", "ext4"};

/* One mapping of the fs: fd, where in it, the mapping (NULL once unmapped), what it must hold */
struct fmap {
	enum fm_fs fs;
	int fd, src;    /* src: the O_DIRECT ext4 file the dio/uring pins read from and write to */
	off_t off;
	size_t len;     /* of the mapping: FM_LEN, dirty_cells.h's DL_LEN */
	char path[256], srcpath[256];
	char *map, *exp, *buf;
};

static void fm_close(struct fmap *m)
{
	if (m->map)
		munmap(m->map, m->len);
	if (m->fd >= 0)
		close(m->fd);
	if (m->src >= 0)
		close(m->src);
	if (m->fs != FM_BLK && m->path[0])
		unlink(m->path);
	if (m->srcpath[0])
		unlink(m->srcpath);
	free(m->exp);
	free(m->buf);
}

/* Pages of [off, off+len) of fd in the page cache (cachestat(2)), -1 unknown; *dirty (if
 * asked) the dirty ones among them */
static long fm_cachestat(int fd, off_t off, size_t len, long *dirty)
{
	struct { uint64_t off, len; } range = {(uint64_t)off, len};
	struct { uint64_t cache, dirty, writeback, evicted, recently_evicted; } cs;

	if (syscall(451 /* __NR_cachestat */, fd, &range, &cs, 0))
		return -1;
	if (dirty)
		*dirty = (long)cs.dirty;
	return (long)cs.cache;
}
static long fm_cached(int fd, off_t off, size_t len) { return fm_cachestat(fd, off, len, NULL); }

/* Pages of the mapping [from, from+len) with kpageflags bit flag set */
static int fm_flagged(const char *from, size_t len, int flag)
{
	int n = 0;

	for (size_t o = 0; o < len; o += PAGE)
		n += (kpageflags(from + o) >> flag) & 1;
	return n;
}

/* Every page of [from, from+len) dirty after a write, else the write is lost to writeback */
static void fm_dirty(struct cell *c, const char *from, size_t len, const char *how)
{
	int n = fm_flagged(from, len, KPF_DIRTY);

	if (n != (int)(len / PAGE))
		cfail(c, "%d of %zu page(s) clean after %s: writeback will not write them (page_mkwrite or the"
		      " dirtying after a pin lost the write)", (int)(len / PAGE) - n, len / PAGE, how);
}

/* msync, with its premise: it wrote back (nr_written) and left no page of the mapping dirty */
static int fm_writeback(struct cell *c, struct fmap *m)
{
	long w0 = vmstat("nr_written");
	int dirty;

	if (msync(m->map, FM_LEN, MS_SYNC)) {
		cfail(c, "msync: %s", strerror(errno));
		return -1;
	}
	dirty = fm_flagged(m->map, FM_LEN, KPF_DIRTY);
	if (vmstat("nr_written") - w0 < FM_PAGES || dirty) {
		cskip(c, "msync wrote %ld page(s) of %d dirty ones and left %d dirty", vmstat("nr_written") - w0, FM_PAGES,
		      dirty);
		return -1;
	}
	return 0;
}

/* The range out of the page cache (clean, unmapped): 0, or the cached pages with the cell skipped */
static long fm_evict(struct cell *c, struct fmap *m, off_t at, size_t len)
{
	long n;

	posix_fadvise(m->fd, m->off + at, (off_t)len, POSIX_FADV_DONTNEED);
	n = fm_cached(m->fd, m->off + at, len);
	if (n)
		cskip(c, "POSIX_FADV_DONTNEED left %ld of %zu page(s) cached (cachestat%s)", n, len / PAGE,
		      n < 0 ? " failed" : "");
	return n;
}

static int fm_map(struct cell *c, struct fmap *m, int cold);

/* The file or device range, m->exp written, mapped MAP_SHARED; touched (not cold) or left out
 * of the page cache (cold). The source file for dio/uring (src) too. */
static int fm_open(struct cell *c, struct fmap *m, enum fm_fs fs, int cold, int src)
{
	*m = (struct fmap){.fs = fs, .fd = -1, .src = -1, .len = FM_LEN};
	if (fs == FM_VFAT ? !vfat_dir : !blk_dev) {
		cskip(c, "no %s given (%s)", fs == FM_VFAT ? "vfat mount" : "raw block device", fs == FM_VFAT ? "-v" : "-b");
		return -1;
	}
	if (src && !ext4_dir) {
		cskip(c, "no ext4 directory given (-d): the O_DIRECT source");
		return -1;
	}
	if (posix_memalign((void **)&m->exp, PAGE, FM_LEN) || posix_memalign((void **)&m->buf, PAGE, 2 * FM_LEN)) {
		cfail(c, "out of memory");
		return -1;
	}
	if (fs == FM_VFAT)
		snprintf(m->path, sizeof(m->path), "%s/fsmap.%d", vfat_dir, getpid());
	else
		snprintf(m->path, sizeof(m->path), "%s", blk_dev);
	m->off = fs == FM_VFAT ? 0 : FM_BLK_OFF;
	m->fd = open(m->path, O_RDWR | (fs == FM_VFAT ? O_CREAT | O_TRUNC : 0), 0600);
	fill64(m->exp, FM_LEN, 1);
	if (m->fd < 0 || pwrite(m->fd, m->exp, FM_LEN, m->off) != FM_LEN || fsync(m->fd)) {
		cfail(c, "cannot write %s: %s", m->path, strerror(errno));
		return -1;
	}
	if (src) {
		snprintf(m->srcpath, sizeof(m->srcpath), "%s/fsmap-src.%d", ext4_dir, getpid());
		m->src = open(m->srcpath, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
		fill64(m->buf, FM_LEN, 3);  /* [0, FM_LEN) seed 3, [FM_LEN, 2 FM_LEN) seed 13 (the race's) */
		fill64(m->buf + FM_LEN, FM_LEN, 13);
		if (m->src < 0 || pwrite(m->src, m->buf, 2 * FM_LEN, 0) != 2 * FM_LEN) {
			cfail(c, "cannot write the O_DIRECT source %s: %s", m->srcpath, strerror(errno));
			return -1;
		}
	}
	if (cold && fm_evict(c, m, 0, FM_LEN))
		return -1;
	return fm_map(c, m, cold);
}

/* m->len bytes of m->fd at m->off mapped MAP_SHARED; unless cold, each page faulted in, holding
 * m->exp, a file page (pagemap, kpageflags) */
static int fm_map(struct cell *c, struct fmap *m, int cold)
{
	m->map = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, m->off);
	if (m->map == MAP_FAILED) {
		m->map = NULL;
		cfail(c, "mmap MAP_SHARED of %s: %s", m->path, strerror(errno));
		return -1;
	}
	if (cold)
		return 0;
	for (size_t o = 0; o < m->len; o += PAGE) {
		char first = *(volatile char *)(m->map + o);  /* faulted in before pagemap reads it */
		uint64_t pm = pagemap(m->map + o);

		if (first != m->exp[o] || !(pm & PM_PRESENT) || !(pm & PM_FILE) ||
		    (kpageflags(m->map + o) >> KPF_ANON) & 1) {
			cfail(c, "page %zu of the MAP_SHARED %s mapping is not its file page (pagemap 0x%llx)", o / PAGE,
			      fm_names[m->fs], (unsigned long long)pm);
			return -1;
		}
	}
	return 0;
}

/* After the unpin: nothing held, then the disk (msync, munmap, out of the page cache, buffered
 * pread) must hold m->exp. */
static void fm_finish(struct cell *c, struct fmap *m, const struct pinmark *pm, const char *after)
{
	long d;

	pins_back(c, pm, after);
	if (!c->failed[0])
		none_held(c, m->map, m->len, after);
	if (c->failed[0])
		return;
	if (msync(m->map, m->len, MS_SYNC) || fsync(m->fd)) {
		cfail(c, "msync/fsync: %s", strerror(errno));
		return;
	}
	munmap(m->map, m->len);
	m->map = NULL;
	if (fm_evict(c, m, 0, m->len))
		return;
	if (pread(m->fd, m->buf, m->len, m->off) != (ssize_t)m->len)
		cfail(c, "reading %s back: %s", m->path, strerror(errno));
	else if ((d = first_diff(m->buf, m->exp, m->len)) >= 0)
		cfail(c, "the %s on disk (msync, evicted, read again) differs at byte %ld (page %ld, %s half): the"
		      " data did not reach the disk", fm_names[m->fs], d, d / (long)PAGE,
		      d < (long)m->len / 2 ? "first" : "second");
}

/* -- pins of one system call ------------------------------------------------------------ */

enum fm_pin { FP_DIO, FP_URING, FP_PVM, NFP };
static const char *const fp_names[NFP] = {"dio", "uring", "pvm"};

/* len bytes between the mapping at at and the source at soff: into the mapping (rd) or out of it */
static ssize_t fm_io(struct fmap *m, enum fm_pin p, int rd, char *at, size_t len, off_t soff)
{
	struct iovec local = {m->buf, len}, remote = {at, len};
	struct io_uring_sqe *sqe;

	switch (p) {
	case FP_DIO:
		return rd ? pread(m->src, at, len, soff) : pwrite(m->src, at, len, soff);
	case FP_URING:
		if (!(sqe = io_uring_get_sqe(&ring)))
			return -EBUSY;
		if (rd)
			io_uring_prep_read(sqe, m->src, at, len, soff);
		else
			io_uring_prep_write(sqe, m->src, at, len, soff);
		return uring_submit_wait(&ring, sqe);
	default:
		/* the source is this process's own buffer (seed 3 in m->buf, as the file's start) */
		if (rd)
			return process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
		return process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	}
}

/* What the pin wrote out of the mapping, len bytes: the source file (O_DIRECT) or m->buf */
static const char *fm_out_data(struct cell *c, struct fmap *m, enum fm_pin p, size_t len)
{
	if (p == FP_PVM)
		return m->buf;
	if (pread(m->src, m->buf, len, 2 * FM_LEN) != (ssize_t)len) {
		cfail(c, "reading the O_DIRECT source back: %s", strerror(errno));
		return NULL;
	}
	return m->buf;
}

/* fsmap/<fs>/<pin>/<clean|cold>: the pin writes seed 3 into the first half, the process seed 4
 * into the second, the pin reads that out */
static void fm_once(struct cell *c, enum fm_fs fs, enum fm_pin p, int cold)
{
	struct fmap m;
	struct pinmark pm;
	const char *out;
	long d, d0;
	ssize_t r;

	if (p == FP_URING && !ring_ok) {
		cskip(c, "io_uring_queue_init failed");
		return;
	}
	if (fm_open(c, &m, fs, cold, p != FP_PVM))
		goto out;
	if (!cold) {
		fill64(m.map, FM_LEN, 2);
		fill64(m.exp, FM_LEN, 2);
		if (fm_writeback(c, &m))
			goto out;
	}
	pin_mark(&pm);
	d0 = vmstat("nr_dirtied");
	fill64(m.buf, FM_HALF, 3);  /* pvm's source; dio and uring read the file's seed 3 */
	if ((r = fm_io(&m, p, 1, m.map, FM_HALF, 0)) != FM_HALF) {
		cfail(c, "%s into the %s %s mapping: %zd (%s)", fp_names[p], cold ? "cold" : "clean", fm_names[fs], r,
		      strerror(r < 0 ? (p == FP_URING ? (int)-r : errno) : EIO));
		goto out;
	}
	fill64(m.exp, FM_HALF, 3);
	if ((d = first_diff(m.map, m.exp, FM_HALF)) >= 0)
		cfail(c, "the process does not read what %s wrote into its %s mapping (byte %ld)", fp_names[p],
		      fm_names[fs], d);
	fm_dirty(c, m.map, FM_HALF, "a write through the pin");
	printf("# %s: %s wrote %d page(s) in, nr_dirtied +%ld, %d page(s) dirty\n", c->name, fp_names[p],
	       FM_PAGES / 2, vmstat("nr_dirtied") - d0, fm_flagged(m.map, FM_HALF, KPF_DIRTY));
	/* the other way: the process writes, the pin reads it out */
	fill64(m.map + FM_HALF, FM_HALF, 4);
	fill64(m.exp + FM_HALF, FM_HALF, 4);
	fm_dirty(c, m.map + FM_HALF, FM_HALF, "the process's write");
	if ((r = fm_io(&m, p, 0, m.map + FM_HALF, FM_HALF, 2 * FM_LEN)) != FM_HALF)
		cfail(c, "%s out of the %s mapping: %zd", fp_names[p], fm_names[fs], r);
	else if ((out = fm_out_data(c, &m, p, FM_HALF)) && (d = first_diff(out, m.exp + FM_HALF, FM_HALF)) >= 0)
		cfail(c, "%s read other data out of the %s mapping than the process wrote (byte %ld)", fp_names[p],
		      fm_names[fs], d);
	if (!c->failed[0])
		fm_finish(c, &m, &pm, fp_names[p]);
out:
	fm_close(&m);
}

static const char *const fo_names[] = {"clean", "cold"};
static void fm_vfat_dio(struct cell *c, int k) { fm_once(c, FM_VFAT, FP_DIO, k); }
static void fm_vfat_uring(struct cell *c, int k) { fm_once(c, FM_VFAT, FP_URING, k); }
static void fm_vfat_pvm(struct cell *c, int k) { fm_once(c, FM_VFAT, FP_PVM, k); }
static void fm_blk_dio(struct cell *c, int k) { fm_once(c, FM_BLK, FP_DIO, k); }
static void fm_blk_uring(struct cell *c, int k) { fm_once(c, FM_BLK, FP_URING, k); }
static void fm_blk_pvm(struct cell *c, int k) { fm_once(c, FM_BLK, FP_PVM, k); }

/* -- race-writeback: O_DIRECT reads into the mapping against writeback ---------------------- */

struct fm_race {
	struct fmap *m;
	volatile int stop;
	long rounds;
	int err;
};

static void *fm_flusher(void *arg)
{
	struct fm_race *r = arg;

	while (!r->stop) {
		if (msync(r->m->map, FM_LEN, MS_SYNC) ||
		    sync_file_range(r->m->fd, r->m->off, FM_LEN, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
									SYNC_FILE_RANGE_WAIT_AFTER))
			r->err = errno;
		r->rounds++;
	}
	return NULL;
}

/* Each round reads seed 3 or 13 (the source's two halves, in turn) into the whole mapping while
 * the flusher writes it back: the last round's data must be what the process reads and, after
 * msync, what the disk holds (a page dirtied by the pin before writeback cleaned it, and not
 * again after, loses the rest of the DMA: bio_check_pages_dirty() dirties it again from a
 * workqueue, then unpins). Every round is checked so: once the read's pins are back, msync,
 * then the device read with O_DIRECT (which writes back nothing clean) must hold that round's
 * data; for vfat the loop device under it, at the file's sectors (fm_raw(): not the vfat file
 * with O_DIRECT, whose pins fs/direct-io.c does not count) */
/* Where m's bytes lie on a device that O_DIRECT can read: the device itself (blk), or for vfat
 * the loop device under the mount, at the file's first sector (FIBMAP), when its 64 KiB are
 * contiguous there. An O_DIRECT fd of it, *at its offset; -1 with why. */
static int fm_raw(struct fmap *m, off_t *at, char *why, size_t n)
{
	char path[96], line[128], dev[140] = "";
	struct stat st;
	int bsz = 0, first = 0, blk;
	FILE *f;

	*at = m->off;
	if (m->fs == FM_BLK)
		return open(m->path, O_RDONLY | O_DIRECT);
	if (fstat(m->fd, &st) || ioctl(m->fd, FIGETBSZ, &bsz) || bsz <= 0) {
		snprintf(why, n, "fstat/FIGETBSZ: %s", strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", major(st.st_dev), minor(st.st_dev));
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "DEVNAME=", 8)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(dev, sizeof(dev), "/dev/%s", line + 8);
		}
	if (f)
		fclose(f);
	for (int i = 0; dev[0] && i < (int)(FM_LEN / bsz); i++) {
		blk = i;
		if (ioctl(m->fd, FIBMAP, &blk) || blk <= 0 || (i && blk != first + i)) {
			snprintf(why, n, "the file's block %d is at %d, not after %d (FIBMAP)", i, blk, first + i - 1);
			return -1;
		}
		first = i ? first : blk;
	}
	if (!dev[0]) {
		snprintf(why, n, "no DEVNAME in %s", path);
		return -1;
	}
	*at = (off_t)first * bsz;
	return open(dev, O_RDONLY | O_DIRECT);
}

static void fm_race(struct cell *c, enum fm_fs fs)
{
	struct fmap m;
	struct pinmark pm;
	struct fm_race r = {.m = &m};
	pthread_t t;
	long w0, n = 0, d, checked = 0;
	double t0;
	int seed = 3, dfd = -1;
	char *chk = NULL, why[160] = "";
	off_t doff;

	if (fm_open(c, &m, fs, 0, 1))
		goto out;
	if ((dfd = fm_raw(&m, &doff, why, sizeof(why))) < 0 && !why[0])
		snprintf(why, sizeof(why), "O_DIRECT open: %s", strerror(errno));
	if (dfd < 0)
		printf("# %s: the disk checked after the last round only: %s\n", c->name, why);
	if (posix_memalign((void **)&chk, PAGE, FM_LEN)) {
		cfail(c, "out of memory");
		goto out;
	}
	pin_mark(&pm);
	w0 = vmstat("nr_written");
	if (pthread_create(&t, NULL, fm_flusher, &r)) {
		cfail(c, "pthread_create failed");
		goto out;
	}
	for (t0 = now_s(); now_s() - t0 < FM_RACE_S && !c->failed[0]; n++) {
		seed = n & 1 ? 13 : 3;
		if (pread(m.src, m.map, FM_LEN, n & 1 ? FM_LEN : 0) != FM_LEN)
			cfail(c, "O_DIRECT read into the %s mapping, round %ld: %s", fm_names[fs], n, strerror(errno));
		else if ((d = first_diff(m.map, m.buf + (n & 1 ? FM_LEN : 0), FM_LEN)) >= 0)
			cfail(c, "round %ld: the process does not read what O_DIRECT wrote into the mapping (byte %ld)", n,
			      d);
		else if (dfd >= 0 && pins_settle(pm.acq - pm.rel) == pm.acq - pm.rel && !msync(m.map, FM_LEN, MS_SYNC) &&
			 ++checked && pread(dfd, chk, FM_LEN, doff) == FM_LEN &&
			 (d = first_diff(chk, m.buf + (n & 1 ? FM_LEN : 0), FM_LEN)) >= 0)
			cfail(c, "round %ld: once the O_DIRECT read into the mapping was done (its pins back) and msync"
			      " ran, the device holds other data at byte %ld (page %ld): a page writeback cleaned while"
			      " the read wrote it was not dirtied again", n, d, d / (long)PAGE);
	}
	r.stop = 1;
	pthread_join(t, NULL);
	printf("# %s: %ld O_DIRECT read(s) into the mapping (%ld checked on the device) against %ld msync+"
	       "sync_file_range round(s), nr_written +%ld\n", c->name, n, checked, r.rounds, vmstat("nr_written") - w0);
	if (r.err)
		cfail(c, "msync/sync_file_range during the race: %s", strerror(r.err));
	if (c->failed[0])
		goto out;
	/* the flusher may have cleaned the last read's pages since: the disk must hold them then */
	fill64(m.exp, FM_LEN, seed);
	fm_finish(c, &m, &pm, "the race");
	if (n < 2 || r.rounds < 2 || vmstat("nr_written") - w0 < FM_PAGES || (dfd >= 0 && checked < 2))
		cskip(c, "the race did not happen: %ld read(s) (%ld checked), %ld writeback round(s)", n, checked, r.rounds);
out:
	if (dfd >= 0)
		close(dfd);
	free(chk);
	fm_close(&m);
}

static void fm_vfat_race(struct cell *c, int k) { (void)k; fm_race(c, FM_VFAT); }
static void fm_blk_race(struct cell *c, int k) { (void)k; fm_race(c, FM_BLK); }

/* -- pins held across an event ------------------------------------------------------------ */

enum fm_hold { FH_GUP_RO, FH_VMSPLICE, NFH };
static const char *const fh_names[NFH] = {"gup-ro", "vmsplice"};
enum fm_ev { FE_WRITEBACK, FE_EVICT, FE_RECLAIM, FE_MIGRATE, FE_PWRITE, FE_FORK, FE_TRUNCATE, FE_PUNCH,
	     FE_DISCARD, FE_ZEROOUT, FE_ZERORANGE, NFE };
static const char *const fe_names[NFE] = {"writeback", "evict", "reclaim", "migrate", "pwrite", "fork", "truncate",
					  "punch", "discard", "zeroout", "zero-range"};

/* [lo, hi) of the pinned half the cut takes away: vfat truncates to 5 pages + 100 bytes (and
 * grows back), the device zeroes whole pages in the middle of it */
static void fm_cut_range(enum fm_fs fs, size_t *lo, size_t *hi)
{
	*lo = fs == FM_VFAT ? 5 * PAGE + 100 : 3 * PAGE;
	*hi = fs == FM_VFAT ? FM_LEN : FM_HALF - 2 * PAGE;
}

/* The cut itself: 0, or -1 with errno (EOPNOTSUPP: the device cannot) */
static int fm_cut(struct fmap *m, enum fm_ev e, size_t lo, size_t hi)
{
	uint64_t range[2] = {(uint64_t)(m->off + (off_t)lo), hi - lo};

	switch (e) {
	case FE_TRUNCATE:
		return ftruncate(m->fd, (off_t)lo) || ftruncate(m->fd, FM_LEN) ? -1 : 0;
	case FE_PUNCH:
	case FE_ZERORANGE:
		return fallocate(m->fd, (e == FE_PUNCH ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE) | FALLOC_FL_KEEP_SIZE,
				 (off_t)range[0], (off_t)range[1]);
	default:
		return ioctl(m->fd, e == FE_ZEROOUT ? BLKZEROOUT : BLKDISCARD, range);
	}
}

/* The pages of the witness out of the page cache, the pinned ones still in it (fm_evict's and
 * reclaim's premise and check); the witness read again from disk */
static void fm_witness_out(struct cell *c, struct fmap *m, const char *how)
{
	long in = fm_cached(m->fd, m->off + FM_HALF, FM_HALF), pinned = fm_cached(m->fd, m->off, FM_HALF), d;

	printf("# %s: after %s %ld of %d witness page(s) and %ld of %d pinned one(s) cached\n", c->name, how, in,
	       FM_PAGES / 2, pinned, FM_PAGES / 2);
	if (pinned >= 0 && pinned != FM_PAGES / 2)
		cfail(c, "%s evicted %ld pinned page(s): the pin's page is no longer the file's", how, FM_PAGES / 2 - pinned);
	else if (in < 0 || in == FM_PAGES / 2)
		cskip(c, "%s took no witness page out of the page cache (cachestat: %ld)", how, in);
	else if ((d = first_diff(m->map + FM_HALF, m->exp + FM_HALF, FM_HALF)) >= 0)
		cfail(c, "the witness read again after %s reads other data (byte %ld)", how, d);
}

static void fm_event(struct cell *c, struct fmap *m, enum fm_ev e)
{
	void *pages[FM_PAGES];
	int was[FM_PAGES], to[FM_PAGES], st[FM_PAGES], moved = 0, stayed = 0;
	long mig, d, steal;
	size_t lo, hi;
	pid_t kid;
	int err;

	switch (e) {
	case FE_WRITEBACK:
		/* folio_mkclean() of pinned pages; the write after must fault and dirty them again */
		if (fm_writeback(c, m))
			return;
		break;
	case FE_EVICT:
		if (fm_writeback(c, m) || madvise(m->map, FM_LEN, MADV_DONTNEED)) {
			if (!c->skip[0])
				cfail(c, "MADV_DONTNEED: %s", strerror(errno));
			return;
		}
		posix_fadvise(m->fd, m->off, FM_LEN, POSIX_FADV_DONTNEED);
		fm_witness_out(c, m, "POSIX_FADV_DONTNEED");
		break;
	case FE_RECLAIM:
		/* the process is in the -m group since before it wrote the pages (fm_held) */
		if (fm_writeback(c, m))
			return;
		if (!memcg_in) {
			cskip(c, "not in a memory cgroup (-m)");
			return;
		}
		steal = memcg_stat("pgsteal");
		if ((err = memcg_reclaim_all(4 * FM_LEN, NULL)) && err != EAGAIN) {
			cfail(c, "memory.reclaim: %s", strerror(err));
			return;
		}
		if (memcg_stat("pgsteal") <= steal)
			cskip(c, "memory.reclaim stole nothing (pgsteal %ld -> %ld)", steal, memcg_stat("pgsteal"));
		fm_witness_out(c, m, "memory.reclaim");
		break;
	case FE_MIGRATE:
		for (int i = 0; i < FM_PAGES; i++)
			pages[i] = m->map + i * PAGE;
		if (nodes_and_other(c, pages, FM_PAGES, was, to))
			return;
		mig = vmstat("pgmigrate_success");
		/* two calls: one page that cannot move ends the call (do_pages_move()) */
		syscall(SYS_move_pages, 0, FM_PAGES / 2, pages, to, st, 0);
		syscall(SYS_move_pages, 0, FM_PAGES / 2, pages + FM_PAGES / 2, to + FM_PAGES / 2, st, 0);
		syscall(SYS_move_pages, 0, FM_PAGES, pages, NULL, st, 0);
		for (int i = 0; i < FM_PAGES; i++) {
			moved += i >= FM_PAGES / 2 && st[i] == to[i];
			stayed += i < FM_PAGES / 2 && st[i] == was[i];
		}
		printf("# %s: move_pages of dirty pages: %d of %d witness page(s) moved, %d of %d pinned stayed,"
		       " pgmigrate_success +%ld\n", c->name, moved, FM_PAGES / 2, stayed, FM_PAGES / 2,
		       vmstat("pgmigrate_success") - mig);
		if (stayed != FM_PAGES / 2)
			cfail(c, "%d pinned page(s) migrated: the pin's page is no longer the file's", FM_PAGES / 2 - stayed);
		else if (!moved || vmstat("pgmigrate_success") == mig)
			cskip(c, "no witness page migrated");
		break;
	case FE_PWRITE:
		fill64(m->exp, FM_LEN, 5);
		if (pwrite(m->fd, m->exp, FM_LEN, m->off) != FM_LEN)
			cfail(c, "buffered pwrite over the pinned pages: %s", strerror(errno));
		else if ((d = first_diff(m->map, m->exp, FM_LEN)) >= 0)
			cfail(c, "the mapping does not read the buffered pwrite over it (byte %ld)", d);
		return;  /* the data is the pwrite's: the process writes nothing after */
	case FE_FORK:
		fill64(m->exp, FM_LEN, 5);
		if ((kid = cell_fork()) == 0) {
			fill64(m->map, FM_LEN, 5);
			_exit(0);
		}
		if (kid < 0)
			cfail(c, "fork: %s", strerror(errno));
		else
			wait_child(c, kid, "a child writing through the shared mapping");
		if (!c->failed[0] && (d = first_diff(m->map, m->exp, FM_LEN)) >= 0)
			cfail(c, "the parent does not read what a child wrote through the shared mapping (byte %ld)", d);
		return;
	default:  /* the cuts */
		fm_cut_range(m->fs, &lo, &hi);
		if (fm_cut(m, e, lo, hi)) {
			if (errno == EOPNOTSUPP)  /* a punch after a zero-range on a loop device: fe_blk[] */
				cskip(c, "%s of the %s: EOPNOTSUPP (write-zeroes or discard turned off)", fe_names[e],
				      fm_names[m->fs]);
			else
				cfail(c, "%s of [%zu, %zu): %s", fe_names[e], lo, hi, strerror(errno));
			return;
		}
		memset(m->exp + lo, 0, hi - lo);
		if ((d = first_diff(m->map, m->exp, FM_LEN)) >= 0)
			cfail(c, "after the cut of [%zu, %zu) under a pin the mapping reads %s at byte %ld", lo, hi,
			      d >= (long)lo && d < (long)hi ? "a non-zero byte inside it" : "other bytes outside it", d);
		/* the process writes outside the cut: the pin must see it there (the same pages) */
		fill64(m->buf, FM_LEN, 6);
		memcpy(m->map, m->buf, lo);
		memcpy(m->exp, m->buf, lo);
		if (hi < FM_LEN) {
			memcpy(m->map + hi, m->buf + hi, FM_LEN - hi);
			memcpy(m->exp + hi, m->buf + hi, FM_LEN - hi);
		}
		return;
	}
	if (c->failed[0] || c->skip[0])
		return;
	/* the process writes again: every page must be dirty (the pinned ones by page_mkwrite) */
	fill64(m->map, FM_LEN, 5);
	fill64(m->exp, FM_LEN, 5);
	fm_dirty(c, m->map, FM_LEN, e == FE_WRITEBACK ? "the write after writeback cleaned the pinned pages"
						       : "the process's write after the event");
}

/* The mapping's first len bytes held: gup_test's read-only long-term pin (gup; *pinned set, the
 * pages outside ZONE_MOVABLE) or their pages in the pipe fds by vmsplice; 0, or the cell failed
 * (or skipped) */
static int fm_pin_hold(struct cell *c, struct fmap *m, int gup, size_t len, int fds[2], int *pinned)
{
	struct pin_longterm_test args = {.addr = (uintptr_t)m->map, .size = len, .flags = 0};
	struct iovec iov = {m->map, len};

	if (gup) {
		if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args)) {
			cfail(c, "a read-only long-term pin of the %s mapping: %s", fm_names[m->fs], strerror(errno));
			return -1;
		}
		*pinned = 1;
		return pin_outside_movable(c, GUP_SLOW, m->map, len) ? -1 : 0;
	}
	if (pipe(fds) || vmsplice(fds[1], &iov, 1, 0) != (ssize_t)len) {
		cfail(c, "vmsplice of the %s mapping: %s", fm_names[m->fs], strerror(errno));
		return -1;
	}
	return 0;
}

/* fsmap/<fs>/<gup-ro|vmsplice>/<event>: the first half pinned (or its pages in a pipe), the
 * process writes, the event, the pinned half read through the pin must be what the process
 * wrote last (the same pages) */
static void fm_held(struct cell *c, enum fm_fs fs, enum fm_hold p, enum fm_ev e)
{
	struct fmap m;
	struct pinmark pm;
	int fds[2] = {-1, -1}, pinned = 0;
	size_t lo = FM_HALF, hi = FM_HALF;
	long d;

	if (p == FH_GUP_RO && gup_fd < 0) {  /* the host's lack, not the series' fault */
		cskip(c, "no /sys/kernel/debug/gup_test");
		return;
	}
	if (e == FE_RECLAIM && memcg_cell_enter(c))
		return;
	if (fm_open(c, &m, fs, 0, 0))
		goto out;
	fill64(m.map, FM_LEN, 2);
	fill64(m.exp, FM_LEN, 2);
	pin_mark(&pm);
	if (fm_pin_hold(c, &m, p == FH_GUP_RO, FM_HALF, fds, &pinned))
		goto unpin;
	fm_event(c, &m, e);
	if (c->failed[0] || c->skip[0])
		goto unpin;
	if (e >= FE_TRUNCATE)
		fm_cut_range(fs, &lo, &hi);
	/* through the pin: what the process (or the pwrite, the child) wrote last, outside the cut */
	if (p == FH_GUP_RO) {
		uint64_t to = (uintptr_t)m.buf;

		if (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &to))
			cfail(c, "PIN_LONGTERM_TEST_READ: %s", strerror(errno));
	} else if (read(fds[0], m.buf, FM_HALF) != FM_HALF) {
		cfail(c, "reading the pipe: %s", strerror(errno));
	}
	if (!c->failed[0] && ((d = first_diff(m.buf, m.exp, lo)) >= 0 ||
			      (hi < FM_HALF && (d = first_diff(m.buf + hi, m.exp + hi, FM_HALF - hi)) >= 0 && (d += hi))))
		cfail(c, "after %s the %s reads other data than the process's mapping at byte %ld: the pinned page is no"
		      " longer the file's", fe_names[e], fh_names[p], d);
unpin:
	if (pinned && ioctl(gup_fd, PIN_LONGTERM_TEST_STOP))
		cfail(c, "PIN_LONGTERM_TEST_STOP: %s", strerror(errno));
	close_pair(fds);
	if (!c->failed[0] && !c->skip[0])
		fm_finish(c, &m, &pm, "the unpin");
out:
	fm_close(&m);
	memcg_leave();
}

/* vfat: the events up to truncate; the device: all but truncate (fe_of() maps k to the event).
 * zeroout and zero-range run after every punch: they ask for zeroes without unmap
 * (BLKDEV_ZERO_NOUNMAP), which the loop device over tmpfs fails (tmpfs has no
 * FALLOC_FL_ZERO_RANGE), turning write-zeroes off for good (drivers/block/loop.c lo_fallocate(),
 * loop_clear_limits()); blkdev_issue_zeroout() writes zero pages instead, and a punch after that
 * (BLKDEV_ZERO_NOFALLBACK) is EOPNOTSUPP: SKIP (run 20261207-042300-baseline) */
#define FE_BLK_UNMAP 8  /* fe_blk[] before the two that ask for no unmap */
static const char *const fe_vfat[] = {"writeback", "evict", "reclaim", "migrate", "pwrite", "fork", "truncate"};
static const char *const fe_blk[] = {"writeback", "evict", "reclaim", "migrate", "pwrite", "fork", "punch",
				     "discard", "zeroout", "zero-range"};
static enum fm_ev fe_of(enum fm_fs fs, int k) { return fs == FM_BLK && k >= FE_TRUNCATE ? k + 1 : k; }
static void fm_vfat_gup(struct cell *c, int k) { fm_held(c, FM_VFAT, FH_GUP_RO, fe_of(FM_VFAT, k)); }
static void fm_blk_gup(struct cell *c, int k) { fm_held(c, FM_BLK, FH_GUP_RO, fe_of(FM_BLK, k)); }
static void fm_vfat_splice(struct cell *c, int k) { fm_held(c, FM_VFAT, FH_VMSPLICE, fe_of(FM_VFAT, k)); }
static void fm_blk_splice(struct cell *c, int k) { fm_held(c, FM_BLK, FH_VMSPLICE, fe_of(FM_BLK, k)); }
static void fm_blk_gup_nounmap(struct cell *c, int k) { fm_blk_gup(c, k + FE_BLK_UNMAP); }
static void fm_blk_splice_nounmap(struct cell *c, int k) { fm_blk_splice(c, k + FE_BLK_UNMAP); }

/* -- refused: writable long-term pins of a mapping that needs dirty tracking ---------------- */

static const char *const fr_names[] = {"gup-longterm-write", "uring-register"};

static void fm_refused(struct cell *c, enum fm_fs fs, int k)
{
	struct fmap m;
	struct pinmark pm;
	struct pin_longterm_test args = {.size = FM_LEN};
	struct gup_test g = {.size = FM_LEN, .nr_pages_per_call = FM_PAGES, .gup_flags = 1 /* FOLL_WRITE */};
	struct iovec iov;
	long d;

	if ((k == 1 && !ring_ok) || gup_fd < 0) {  /* both use gup_test's read-only pin as the control */
		cskip(c, "%s", gup_fd < 0 ? "no /sys/kernel/debug/gup_test" : "io_uring_queue_init failed");
		return;
	}
	if (fm_open(c, &m, fs, 0, 0))
		goto out;
	fill64(m.map, FM_LEN, 2);
	fill64(m.exp, FM_LEN, 2);
	args.addr = g.addr = (uintptr_t)m.map;
	iov = (struct iovec){m.map, FM_LEN};
	pin_mark(&pm);
	if (k == 0) {
		for (int fast = 0; fast < 2 && !c->failed[0]; fast++) {
			args.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE | (fast ? PIN_LONGTERM_TEST_FLAG_USE_FAST : 0);
			if (!ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args)) {
				ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
				cfail(c, "a writable long-term pin (%s) of the MAP_SHARED %s mapping was taken: writeback"
				      " cleans pages a device may still write (vma_needs_dirty_tracking())",
				      fast ? "GUP-fast" : "GUP", fm_names[fs]);
			} else if (errno != EFAULT) {
				cfail(c, "a writable long-term pin (%s) failed with %s, not EFAULT", fast ? "GUP-fast" : "GUP",
				      strerror(errno));
			}
		}
	} else {
		int r = io_uring_register_buffers(&ring, &iov, 1);

		if (!r) {
			io_uring_unregister_buffers(&ring);
			cfail(c, "io_uring registered the MAP_SHARED %s mapping as a fixed buffer (a writable long-term pin)",
			      fm_names[fs]);
		} else if (r != -EFAULT) {  /* EBUSY of a table some cell left, not the refusal */
			cfail(c, "io_uring registration of the MAP_SHARED %s mapping failed with %s, not EFAULT", fm_names[fs],
			      strerror(-r));
		}
	}
	if (c->failed[0])
		goto out;
	pins_back(c, &pm, "the refused pin");
	/* what is refused is the writable long-term pin only */
	args.flags = 0;
	if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args))
		cfail(c, "a read-only long-term pin of the same mapping failed: %s", strerror(errno));
	else if (ioctl(gup_fd, PIN_LONGTERM_TEST_STOP))
		cfail(c, "PIN_LONGTERM_TEST_STOP: %s", strerror(errno));
	if (!c->failed[0] && (ioctl(gup_fd, PIN_BASIC_TEST, &g) || g.size != FM_LEN))
		cfail(c, "a short-term writable pin (PIN_BASIC_TEST, FOLL_WRITE) of the same mapping pinned %llu of %lu"
		      " bytes: %s", (unsigned long long)g.size, FM_LEN, strerror(errno));
	if (!c->failed[0] && (d = first_diff(m.map, m.exp, FM_LEN)) >= 0)
		cfail(c, "the refused pins changed the mapping (byte %ld)", d);
	if (!c->failed[0])
		fm_finish(c, &m, &pm, "the refused pin and the allowed ones");
out:
	fm_close(&m);
}

static void fm_vfat_refused(struct cell *c, int k) { fm_refused(c, FM_VFAT, k); }
static void fm_blk_refused(struct cell *c, int k) { fm_refused(c, FM_BLK, k); }

static const struct cell_entry fm_table[] = {
	{"fsmap/vfat/dio/", fm_vfat_dio, fo_names, 2}, {"fsmap/vfat/uring/", fm_vfat_uring, fo_names, 2},
	{"fsmap/vfat/pvm/", fm_vfat_pvm, fo_names, 2}, {"fsmap/vfat/dio/race-writeback", fm_vfat_race},
	{"fsmap/vfat/gup-ro/", fm_vfat_gup, fe_vfat, 7}, {"fsmap/vfat/vmsplice/", fm_vfat_splice, fe_vfat, 7},
	{"fsmap/vfat/refused/", fm_vfat_refused, fr_names, 2},
	{"fsmap/blk/dio/", fm_blk_dio, fo_names, 2}, {"fsmap/blk/uring/", fm_blk_uring, fo_names, 2},
	{"fsmap/blk/pvm/", fm_blk_pvm, fo_names, 2}, {"fsmap/blk/dio/race-writeback", fm_blk_race},
	{"fsmap/blk/gup-ro/", fm_blk_gup, fe_blk, FE_BLK_UNMAP},
	{"fsmap/blk/vmsplice/", fm_blk_splice, fe_blk, FE_BLK_UNMAP}, {"fsmap/blk/refused/", fm_blk_refused, fr_names, 2},
	{"fsmap/blk/gup-ro/", fm_blk_gup_nounmap, fe_blk + FE_BLK_UNMAP, 2},
	{"fsmap/blk/vmsplice/", fm_blk_splice_nounmap, fe_blk + FE_BLK_UNMAP, 2}};

static void fsmap_cells(void)
{
	run_cells(fm_table, sizeof(fm_table) / sizeof(fm_table[0]), NULL, NULL);
}
