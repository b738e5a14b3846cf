/* buffered/<engine>-<read|write>/<shape>: buffered (page cache) I/O of an ext4 file that is not
 * in the page cache, through every way a process reads or writes one (issue 20; after round 4
 * of docs/redteam.md, whose io_uring bug no cell reached: the io_uring cells used O_DIRECT or
 * a file just written, so the page cache answered every read at once).
 * A cold buffered read larger than the readahead window is served in pieces as readahead
 * brings them in: read(2) loops in filemap_read(); io_uring first tries without blocking, then
 * retries with IOCB_WAITQ and continues from where the last piece ended (io_uring/rw.c
 * __io_read(): the iterator's state saved and restored around each try); aio's buffered
 * IOCB_CMD_PREADV runs the same read synchronously at submit; splice(2) lends the page cache
 * pages to a pipe (filemap_splice_read()). A piece counted twice, or the iterator left where a
 * failed try moved it, puts the file's bytes at the wrong place in the buffer, with the right
 * byte count and no error.
 *
 * engine: sync (preadv/pwritev), uring (IORING_OP_READ/WRITE, one buffer), uring-v (READV/
 *         WRITEV), uring-fixed (READ_FIXED/WRITE_FIXED from a registered buffer), aio (raw
 *         io_submit of IOCB_CMD_PREADV/PWRITEV, buffered), splice (read only: file -> pipe ->
 *         the buffer);
 * shape:  whole (BR_LEN bytes from offset 0 into a page-aligned buffer), unaligned (from
 *         file offset 1000 into the buffer at 3000, BR_LEN - 5000 bytes), iovecs (7 buffers
 *         of odd lengths, each starting at an odd place; the one-buffer engines skip it);
 *         paged-out (whole, the buffer swapped out first: a write's copy from it, done with
 *         page faults off under the folio lock, comes up short at once and must fault the
 *         source in and retry, mm/filemap.c generic_perform_write(); a read faults the pages
 *         back in as it copies; READ/WRITE_FIXED skip it: registering faults them in);
 *         fault-mid (whole, the buffer's page at BR_LEN/2 PROT_NONE: the call must stop there
 *         with a short count, its bytes before the page exactly the file's or the buffer's, and
 *         nothing at or after the page copied either way; FIXED and splice skip it).
 * Checks: a read puts exactly the file's bytes at their offsets, each buffer's bytes around
 * them untouched; a write's bytes are on the file after fsync and the file's pages dropped
 * from the cache (read back with pread), and the buffer still holds them; then every page of
 * the buffer can move (pages_held()) and the FOLL_PIN counters are back. Premise, else SKIP:
 * the file had no page in the page cache before the read, and none after a write's pages were
 * dropped (cachestat(2), else mincore()), and the page-reference check could run (two nodes).
 * Every wait is bounded (uring_submit_wait(), dio_aio()): a lost completion fails the cell.
 * Part of pin_matrix.c, after dio_paths.h (dio_uring(), dio_aio()).
 */
#define BR_LEN (1024 * 1024)  /* 8 readahead windows of 128 KiB */
#define BR_SEGS 7

enum br_engine { BE_SYNC, BE_URING, BE_URING_V, BE_URING_FIXED, BE_AIO, BE_SPLICE, NBE };
static const char *const be_names[NBE] = {"sync", "uring", "uring-v", "uring-fixed", "aio", "splice"};
enum br_shape { BS_WHOLE, BS_UNALIGNED, BS_IOVECS, BS_PAGEDOUT, BS_FAULTMID, NBS };
static const char *const bs_names[NBS] = {"whole", "unaligned", "iovecs", "paged-out", "fault-mid"};

static int buffered_wanted(const char *name) { return block_wanted(name, NULL, 0); }

static int br_applies(enum br_engine e, int rd, enum br_shape s)
{
	if (e == BE_SPLICE && !rd)
		return 0;
	if ((s == BS_PAGEDOUT || s == BS_FAULTMID) && e == BE_URING_FIXED)
		return 0;
	if (s == BS_FAULTMID && e == BE_SPLICE)
		return 0;
	return !(s == BS_IOVECS && (e == BE_URING || e == BE_URING_FIXED || e == BE_SPLICE));
}

/* The shape's pieces: buffer offsets and lengths (each from the file at off + the bytes before). */
static int br_shape(enum br_shape s, struct iovec *iov, char *buf, off_t *off)
{
	static const size_t odd[BR_SEGS] = {1, 4095, 4097, 100000, 12345, 300000, 200001};
	size_t at = 0;

	*off = 0;
	if (s == BS_WHOLE || s == BS_PAGEDOUT || s == BS_FAULTMID) {
		iov[0] = (struct iovec){buf, BR_LEN};
		return 1;
	}
	if (s == BS_UNALIGNED) {
		*off = 1000;
		iov[0] = (struct iovec){buf + 3000, BR_LEN - 5000};
		return 1;
	}
	for (int i = 0; i < BR_SEGS; i++) {  /* a gap of 777 bytes before each */
		at += 777;
		iov[i] = (struct iovec){buf + at, odd[i]};
		at += odd[i];
	}
	return BR_SEGS;
}

/* Pages of fd's first len bytes in the page cache: cachestat(2) (6.5+), else mincore(); -1 unknown. */
static long br_cached(int fd, size_t len)
{
	struct { uint64_t off, len; } range = {0, len};
	struct { uint64_t cache, dirty, writeback, evicted, recently_evicted; } cs;
	unsigned char *v;
	char *m;
	long n = 0;

	if (!syscall(451 /* __NR_cachestat */, fd, &range, &cs, 0))
		return (long)cs.cache;
	m = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	v = malloc(len / PAGE);
	if (m == MAP_FAILED || !v || mincore(m, len, v))
		n = -1;
	for (size_t i = 0; n >= 0 && i < len / PAGE; i++)
		n += v[i] & 1;
	if (m != MAP_FAILED)
		munmap(m, len);
	free(v);
	return n;
}

static ssize_t br_uring_one(int fd, int rd, struct iovec *iov, off_t off, int fixed)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	if (!sqe)
		return -EBUSY;
	if (fixed && rd)
		io_uring_prep_read_fixed(sqe, fd, iov->iov_base, iov->iov_len, off, 0);
	else if (fixed)
		io_uring_prep_write_fixed(sqe, fd, iov->iov_base, iov->iov_len, off, 0);
	else if (rd)
		io_uring_prep_read(sqe, fd, iov->iov_base, iov->iov_len, off);
	else
		io_uring_prep_write(sqe, fd, iov->iov_base, iov->iov_len, off);
	return uring_submit_wait(&ring, sqe);
}

/* file -> pipe -> buffer, one pipe's worth at a time; bytes read or -errno */
static ssize_t br_splice(int fd, struct iovec *iov, off_t off)
{
	int p[2];
	size_t got = 0;
	ssize_t r = 0;
	loff_t at = off;

	if (pipe(p))
		return -errno;
	while (got < iov->iov_len) {
		r = splice(fd, &at, p[1], NULL, iov->iov_len - got, 0);
		if (r <= 0)
			break;
		for (ssize_t left = r, n; left > 0; left -= n, got += n)
			if ((n = read(p[0], (char *)iov->iov_base + got, left)) <= 0) {
				r = n < 0 ? -errno : -EIO;
				goto out;
			}
	}
out:
	close_pair(p);
	return r < 0 ? (r == -1 ? -errno : r) : (ssize_t)got;
}

/* The engine's one request; bytes done or -errno. */
static ssize_t br_io(enum br_engine e, int fd, int rd, struct iovec *iov, int n, off_t off)
{
	ssize_t r;

	switch (e) {
	case BE_SYNC:
		r = rd ? preadv(fd, iov, n, off) : pwritev(fd, iov, n, off);
		return r < 0 ? -errno : r;
	case BE_URING:
	case BE_URING_FIXED:
		return br_uring_one(fd, rd, iov, off, e == BE_URING_FIXED);
	case BE_URING_V:
		r = dio_uring(fd, rd, iov, n, off);
		return r < 0 ? -errno : r;
	case BE_AIO:
		r = dio_aio(fd, rd, iov, n, off);
		return r == -2 ? -ENOSYS : r < 0 ? -errno : r;
	default:
		return br_splice(fd, iov, off);
	}
}

/* paged-out's premise: most of the buffer swapped out (pages_out(), dump_cells.h) */
static int br_page_out(struct cell *c, char *buf, size_t len)
{
	long out;

	if (!swap_on()) {
		cskip(c, "no swap in /proc/swaps (swap on zram?)");
		return -1;
	}
	madvise(buf, len, MADV_PAGEOUT);
	if ((out = pages_out(c, buf, len)) < (long)(len / PAGE / 2)) {
		cskip(c, "MADV_PAGEOUT swapped out %ld of %zu buffer pages only", out, len / PAGE);
		return -1;
	}
	printf("# %s: %ld of %zu buffer pages swapped out before the call\n", c->name, out, len / PAGE);
	return 0;
}

/* fault-mid: the call over [buf, buf + BR_LEN) met the PROT_NONE page at BR_LEN/2. It must
 * return a count in (0, BR_LEN/2]; the bytes before it are the other side's; a read may leave
 * anything it copied past the count but before the page (copy_to_user() may stop short of the
 * fault), nothing at or after it; a write's file likewise, read back from the disk (the caller
 * synced it and dropped its pages). */
static void br_fault_mid(struct cell *c, int rd, ssize_t r, char *buf, char *want, char *file)
{
	const size_t mid = BR_LEN / 2, flen = BR_LEN + PAGE;
	char *now = rd ? buf : malloc(flen), *was = rd ? want : file, *other = rd ? file : buf;
	long first;

	if (r <= 0 || (size_t)r > mid) {
		cfail(c, "the %s over a PROT_NONE page at byte %zu returned %zd%s%s, not a short count up to it",
		      rd ? "read" : "write", mid, r, r < 0 ? ": " : "", r < 0 ? strerror((int)-r) : "");
		goto out;
	}
	if (!rd && (!now || pread(c->fd, now, flen, 0) != (ssize_t)flen)) {
		cfail(c, "the file could not be read back from the disk after the short write: %s", strerror(errno));
		goto out;
	}
	if (!rd && (first = first_diff(buf, want, BR_LEN + 2 * PAGE)) >= 0) {
		cfail(c, "the short write changed its source at byte %ld", first);
		goto out;
	}
	if ((first = first_diff(now, other, (size_t)r)) >= 0) {
		cfail(c, "after a short %s of %zd bytes the %s reads other bytes at byte %ld, inside the count", rd ? "read" : "write",
		      r, rd ? "buffer" : "file", first);
		goto out;
	}
	for (size_t i = (size_t)r; i < mid; i++)
		if (now[i] != was[i] && now[i] != other[i]) {
			cfail(c, "after a short %s of %zd bytes the %s holds neither its old bytes nor the %s at byte %zu",
			      rd ? "read" : "write", r, rd ? "buffer" : "file", rd ? "file's" : "buffer's", i);
			goto out;
		}
	if ((first = first_diff(now + mid, was + mid, (rd ? BR_LEN + 2 * PAGE : flen) - mid)) >= 0)
		cfail(c, "a short %s of %zd bytes changed the %s at byte %ld, at or past the PROT_NONE page at %zu: the call went on past the fault",
		      rd ? "read" : "write", r, rd ? "buffer" : "file", (long)mid + first, mid);
	else
		printf("# %s: %zd of %d bytes, stopped at the PROT_NONE page at %zu\n", c->name, r, BR_LEN, mid);
out:
	if (!rd)
		free(now);
}

static void buffered_cell(enum br_engine e, int rd, enum br_shape s)
{
	struct cell c = {.mem = ANON, .fd = -1};
	double began = now_s();
	size_t maplen = BR_LEN + 2 * PAGE;
	char *buf = NULL, *want = malloc(maplen), *file = malloc(BR_LEN + PAGE);
	struct iovec iov[BR_SEGS];
	int n, fixed = 0;
	off_t off;
	long p0, cached = -1, first, held;
	char why[200];
	ssize_t r = 0, total = 0;

	snprintf(c.name, sizeof(c.name), "buffered/%s-%s/%s", be_names[e], rd ? "read" : "write", bs_names[s]);
	if (!br_applies(e, rd, s) || !buffered_wanted(c.name) || !begins(c.name))
		goto free;
	p0 = pins_outstanding();
	if (!want || !file) {
		cfail(&c, "out of memory");
		goto out;
	}
	if (!ext4_dir) {
		cskip(&c, "no ext4 directory given (-d)");
		goto out;
	}
	if ((e == BE_URING || e == BE_URING_V || e == BE_URING_FIXED) && !ring_ok) {
		cskip(&c, "no io_uring");
		goto out;
	}
	buf = map_aligned(maplen, PAGE, MADV_NOHUGEPAGE);
	snprintf(c.path, sizeof(c.path), "%s/buffered.%d", ext4_dir, getpid());
	c.fd = open(c.path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (!buf || c.fd < 0) {
		cfail(&c, "cannot make the buffer or the file: %s", strerror(errno));
		goto out;
	}
	fill64(file, BR_LEN + PAGE, 51);  /* the file's bytes: a read's source, a write's first state */
	if (pwrite(c.fd, file, BR_LEN + PAGE, 0) != BR_LEN + PAGE || fsync(c.fd)) {
		cfail(&c, "cannot write the file: %s", strerror(errno));
		goto out;
	}
	if ((r = posix_fadvise(c.fd, 0, 0, POSIX_FADV_DONTNEED))) {  /* returns the error, errno untouched */
		cfail(&c, "POSIX_FADV_DONTNEED: %s", strerror((int)r));
		goto out;
	}
	fill64(buf, maplen, rd ? 52 : 53);
	memcpy(want, buf, maplen);
	n = br_shape(s, iov, buf, &off);
	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	if (e == BE_URING_FIXED) {
		struct iovec all = {buf, maplen};

		if (io_uring_register_buffers(&ring, &all, 1)) {
			cfail(&c, "io_uring_register_buffers failed");
			goto out;
		}
		fixed = 1;
	}
	if (s == BS_PAGEDOUT && br_page_out(&c, buf, maplen))
		goto out;
	if (s == BS_FAULTMID && mprotect(buf + BR_LEN / 2, PAGE, PROT_NONE)) {
		cfail(&c, "mprotect PROT_NONE of the middle page: %s", strerror(errno));
		goto out;
	}
	if (rd)
		cached = br_cached(c.fd, BR_LEN);
	r = br_io(e, c.fd, rd, iov, n, off);
	if (fixed && io_uring_unregister_buffers(&ring))
		cfail(&c, "io_uring_unregister_buffers failed");
	if (s == BS_FAULTMID) {
		mprotect(buf + BR_LEN / 2, PAGE, PROT_READ | PROT_WRITE);
		if (!rd && (fsync(c.fd) || posix_fadvise(c.fd, 0, 0, POSIX_FADV_DONTNEED))) {
			cfail(&c, "fsync or POSIX_FADV_DONTNEED after the short write: %s", strerror(errno));
			goto out;
		}
		if (!rd)  /* the read-back must come from the disk */
			cached = br_cached(c.fd, BR_LEN);
		br_fault_mid(&c, rd, r, buf, want, file);
		if (!c.failed[0])
			total = r;  /* the rest of the checks below are the short call's */
		goto checked;
	}
	if (r != total) {
		if (r == -ENOSYS || r == -EINVAL)
			cskip(&c, "%s: %s", be_names[e], strerror((int)-r));
		else
			cfail(&c, "%s of %zd bytes returned %zd%s%s", rd ? "the read" : "the write", total, r,
			      r < 0 ? ": " : "", r < 0 ? strerror((int)-r) : "");
		goto out;
	}
	/* what the buffer (read) or the file (write) must hold: the other side's bytes at their places */
	for (int i = 0, at = 0; i < n; at += iov[i].iov_len, i++) {
		char *dst = rd ? want + ((char *)iov[i].iov_base - buf) : file + off + at;

		memcpy(dst, rd ? file + off + at : buf + ((char *)iov[i].iov_base - buf), iov[i].iov_len);
	}
	if (!rd && fsync(c.fd)) {
		cfail(&c, "fsync: %s", strerror(errno));
		goto out;
	}
	if (!rd && (r = posix_fadvise(c.fd, 0, 0, POSIX_FADV_DONTNEED))) {
		cfail(&c, "POSIX_FADV_DONTNEED after the write: %s", strerror((int)r));
		goto out;
	}
	if (!rd)  /* the read-back below must come from the disk */
		cached = br_cached(c.fd, BR_LEN);
	if ((first = first_diff(buf, want, maplen)) >= 0) {
		cfail(&c, "after the %s the buffer reads other bytes at byte %ld (%s)", rd ? "read" : "write", first,
		      rd ? "the file's bytes landed elsewhere, or bytes around them changed" : "the write changed its source");
		goto out;
	}
	if (!rd && (pread(c.fd, want, BR_LEN + PAGE, 0) != BR_LEN + PAGE ||
		    (first = first_diff(want, file, BR_LEN + PAGE)) >= 0)) {
		cfail(&c, "the file read back from disk differs from what was written at byte %ld", first);
		goto out;
	}
checked:
	if (c.failed[0])
		goto out;
	/* buffered I/O copies: no page of the buffer may stay held (READ/WRITE_FIXED pinned them all) */
	if ((held = pages_held(buf, maplen, 1000, &first, why, sizeof(why))) > 0)
		cfail(&c, "%ld page(s) of the buffer still held after the %s (first: page %ld)", held, rd ? "read" : "write", first);
	else if (held < 0)
		cskip(&c, "no page-reference check of the buffer: %s", why);
	if (cached < 0)
		cskip(&c, "cannot tell which pages of the file are cached (cachestat, mincore)");
	else if (cached > 0)
		cskip(&c, "%ld page(s) of the file were in the page cache %s", cached,
		      rd ? "before the read: not a cold read" : "after the write was dropped: the read-back is not from the disk");
	printf("# %s: %zd bytes in %d piece(s) at file offset %ld; %ld file page(s) cached %s\n", c.name, total, n,
	       (long)off, cached, rd ? "before the read" : "before the read-back");
out:
	cell_finish(&c, buf, maplen, p0, began);
free:
	free(want);
	free(file);
}

static void buffered_cells(void)
{
	for (int rd = 1; rd >= 0; rd--)
		for (enum br_engine e = 0; e < NBE; e++)
			for (enum br_shape s = 0; s < NBS; s++)
				buffered_cell(e, rd, s);
}

/* race/uring-cold-read: the cold io_uring read above, repeated for the race's seconds, because
 * the path that goes wrong needs a page to turn uptodate between io_uring's non-blocking try
 * and its IOCB_WAITQ retry (a partial read inside __io_read()'s retry loop), which one read
 * meets only by chance. Every round drops the file's pages first, and every other round turns
 * readahead off (POSIX_FADV_RANDOM: a page at a time, many more retries); reads alternate READ
 * and READV and three file offsets. Each must bring exactly the file's bytes. Premise: rounds
 * that started cold (SKIP when none ran). */
static void buffered_race(double secs)
{
	const char *name = "race/uring-cold-read";
	size_t maplen = BR_LEN + 2 * PAGE;
	char *buf = NULL, *file = malloc(BR_LEN), why[240] = "";
	long rounds = 0, cold = 0, first;
	struct cell c = {.mem = ANON, .fd = -1};  /* for its file only: the verdict is the race's */
	double t0;

	if (!wanted(name) || !begins(name))
		goto free;
	if (!ext4_dir || !ring_ok) {
		printf("CASE %s SKIP: %s\n", name, !ext4_dir ? "no ext4 directory given (-d)" : "no io_uring");
		cells_skip++;
		goto free;
	}
	buf = map_aligned(maplen, PAGE, MADV_NOHUGEPAGE);
	snprintf(c.path, sizeof(c.path), "%s/uring-cold.%d", ext4_dir, getpid());
	c.fd = open(c.path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (file)
		fill64(file, BR_LEN, 57);
	if (!buf || !file || c.fd < 0 || pwrite(c.fd, file, BR_LEN, 0) != BR_LEN || fsync(c.fd))
		snprintf(why, sizeof(why), "cannot make the file or the buffer: %s", strerror(errno));
	for (t0 = now_s(); !why[0] && now_s() - t0 < secs; rounds++) {
		off_t off = (rounds % 3) * 1000;
		struct iovec iov = {buf + PAGE + off, BR_LEN - 2 * off};
		ssize_t r;

		posix_fadvise(c.fd, 0, 0, POSIX_FADV_DONTNEED);
		posix_fadvise(c.fd, 0, 0, rounds & 1 ? POSIX_FADV_RANDOM : POSIX_FADV_NORMAL);
		cold += br_cached(c.fd, BR_LEN) == 0;
		memset(buf, 0x5c, maplen);
		r = rounds & 2 ? br_uring_one(c.fd, 1, &iov, off, 0) : br_io(BE_URING_V, c.fd, 1, &iov, 1, off);
		if (r != (ssize_t)iov.iov_len)
			snprintf(why, sizeof(why), "round %ld: a cold %s of %zu bytes at %ld returned %zd", rounds,
				 rounds & 2 ? "READ" : "READV", iov.iov_len, (long)off, r);
		else if ((first = first_diff(buf + PAGE + off, file + off, iov.iov_len)) >= 0)
			snprintf(why, sizeof(why), "round %ld: a cold %s (readahead %s) put other bytes than the file's at buffer byte %ld",
				 rounds, rounds & 2 ? "READ" : "READV", rounds & 1 ? "off" : "on", first);
		else if (buf[PAGE + off - 1] != 0x5c || buf[PAGE + off + iov.iov_len] != 0x5c)
			snprintf(why, sizeof(why), "round %ld: a cold read wrote outside its buffer", rounds);
	}
	printf("# %s: %.1f s, %ld cold reads of %d bytes (%ld started with no page cached)\n", name, now_s() - t0, rounds,
	       BR_LEN, cold);
	case_verdict(name, why, cold ? NULL : "no read started with the file out of the page cache");
	if (buf)
		munmap(buf, maplen);
	cell_file_close(&c);
free:
	free(file);
}

/* race/append-vs-writeback: small appends to an ext4 file while another thread writes it back
 * over and over. An append copies into the last page cache folio, then publishes the new size;
 * writeback of that folio zeroes what lies past the size it reads (block_write_full_folio()), so
 * the size must be published while the folio is still locked (the rule 943bc0882ceb states for
 * iomap; ext4's delalloc ext4_da_do_write_end() keeps it). A write-back that meets the folio
 * between the unlock and the new size zeroes bytes the writer has already been told are written.
 * Written after reading round 5's ext4-da-isize-after-unlock (docs/redteam.md), for the class:
 * size publication against writeback, on every append of odd length. Each round: a fresh file,
 * appends of 1..613 bytes (a position pattern) up to 256 KiB, a flusher thread looping
 * sync_file_range(WRITE | WAIT_AFTER) on the file; then every byte checked in the page cache,
 * then again from the disk (fsync, POSIX_FADV_DONTNEED). Premise: write-backs ran during the
 * appends (SKIP when none did). */
#define AW_LEN (256 * 1024)

struct aw {
	int fd;
	volatile int stop;
	long flushes;
};

static void *aw_flusher(void *arg)
{
	struct aw *a = arg;

	while (!a->stop) {
		if (!sync_file_range(a->fd, 0, 0, SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER))
			a->flushes++;
	}
	return NULL;
}

static void append_race(double secs)
{
	const char *name = "race/append-vs-writeback";
	char *want = malloc(AW_LEN), *got = malloc(AW_LEN), why[240] = "";
	struct cell c = {.mem = ANON, .fd = -1};  /* for its file only: the verdict is the race's */
	struct aw a = {0};
	long rounds = 0, appends = 0, flushes = 0, first = -1;
	double t0;

	if (!wanted(name) || !begins(name))
		goto free;
	if (!ext4_dir || !want || !got) {
		printf("CASE %s SKIP: %s\n", name, !ext4_dir ? "no ext4 directory given (-d)" : "out of memory");
		cells_skip++;
		goto free;
	}
	fill64(want, AW_LEN, 67);
	for (t0 = now_s(); !why[0] && now_s() - t0 < secs; rounds++) {
		pthread_t t;
		size_t at = 0;

		snprintf(c.path, sizeof(c.path), "%s/append.%d", ext4_dir, getpid());  /* each round's closing removes it */
		c.fd = open(c.path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (c.fd < 0) {
			snprintf(why, sizeof(why), "cannot make the file: %s", strerror(errno));
			break;
		}
		a.fd = c.fd;
		a.stop = 0;
		a.flushes = 0;
		if (pthread_create(&t, NULL, aw_flusher, &a)) {
			snprintf(why, sizeof(why), "pthread_create: %s", strerror(errno));
			break;
		}
		for (unsigned n = 1; at < AW_LEN && !why[0]; n = n * 37 % 613 + 1) {
			size_t len = at + n > AW_LEN ? AW_LEN - at : n;

			if (write(c.fd, want + at, len) != (ssize_t)len)
				snprintf(why, sizeof(why), "round %ld: an append of %zu bytes at %zu: %s", rounds, len, at,
					 strerror(errno));
			at += len;
			appends++;
		}
		a.stop = 1;
		pthread_join(t, NULL);
		flushes += a.flushes;
		if (!why[0] && pread(c.fd, got, AW_LEN, 0) != AW_LEN)
			snprintf(why, sizeof(why), "round %ld: the file is not %d bytes long after the appends", rounds, AW_LEN);
		else if (!why[0] && (first = first_diff(got, want, AW_LEN)) >= 0)
			snprintf(why, sizeof(why), "round %ld: after the appends the page cache reads other bytes at %ld (%s): a"
				 " write-back zeroed or lost bytes already appended", rounds, first, got[first] ? "not zero" : "zero");
		else if (!why[0] && (fsync(c.fd) || posix_fadvise(c.fd, 0, 0, POSIX_FADV_DONTNEED) ||
				     pread(c.fd, got, AW_LEN, 0) != AW_LEN))
			snprintf(why, sizeof(why), "round %ld: fsync or the read back from the disk failed: %s", rounds,
				 strerror(errno));
		else if (!why[0] && (first = first_diff(got, want, AW_LEN)) >= 0)
			snprintf(why, sizeof(why), "round %ld: the file read back from the disk differs at byte %ld", rounds,
				 first);
		cell_file_close(&c);
	}
	cell_file_close(&c);
	printf("# %s: %.1f s, %ld rounds, %ld appends, %ld write-backs during them\n", name, now_s() - t0, rounds,
	       appends, flushes);
	case_verdict(name, why, flushes ? NULL : "no write-back ran during the appends");
free:
	free(want);
	free(got);
}
