/* Every O_DIRECT path of the kernel, with page-level checks (issue 20, "every way a page gets
 * pinned"), included by pin_matrix.c. The matrix's dio-* cells issue one synchronous
 * pread/pwrite after an mm event; these cells cover the entries instead:
 *
 *   target: ext4 (fs/iomap/direct-io.c), blk (a raw loop device: block/fops.c, whose
 *           synchronous, single-bio async and multi-bio paths differ), vfat (fs/direct-io.c),
 *           blk-dio (a loop device in direct-I/O mode over a file on ext4: each request goes
 *           to the backing file as an O_DIRECT kiocb over the bio's own pages, a bvec iterator
 *           that starts where the bio does, drivers/block/loop.c lo_rw_aio(); blk's loop copies
 *           through the backing file's page cache instead, lo_rw_simple());
 *   engine: sync (preadv/pwritev), uring (io_uring READV/WRITEV, not fixed buffers: the
 *           request pins user memory), aio (raw io_setup/io_submit/io_getevents syscalls,
 *           IOCB_CMD_PREADV/PWRITEV);
 *   shape:  one (4 pages, page-aligned), multi (an iovec of 3 buffers with gaps), offset (4
 *           pages starting 512 bytes into a page: 5 pages behind it), eof (crossing the end of
 *           the file or device: a short count on reads, on the device on writes too), fault
 *           (an iovec whose middle buffer is a PROT_NONE page: EFAULT or a short count), big
 *           (260 pages, more than BIO_MAX_VECS: several bios, block/fops.c's multi-bio path),
 *           sectors (five 512-byte-aligned pieces in two pages: two that touch in one page,
 *           one after a gap in the same page, one across the page boundary and one that
 *           touches it in the next page: the bio code merges a piece into the previous bvec
 *           when it continues it, and must then drop the second pin of the page it took),
 *           huge (2 MiB across two THPs, from the middle of the first: multi-page bvecs of up to
 *           a folio, which the loop queue's 1.25 MiB request limit, max_hw_sectors 2560, splits
 *           inside a bvec; SKIP without THP behind the buffer).
 *
 * Each cell "dio/<target>/<engine>-<read|write>-<shape>" checks the data both ways (what a read
 * brings in is the file's bytes at their offsets, the rest of the buffers untouched; what a write
 * carries is on the file or device, read back with a synchronous O_DIRECT read, and the buffer
 * still holds it), then after the I/O completed and the fd was closed:
 *   - the page-reference oracle (pages_held(), pinlib.h): every present page of the buffers
 *     migrates to the other NUMA node, so none holds a leaked pin or reference;
 *   - the FOLL_PIN counters: back where they were (ext4, blk). fs/direct-io.c on 6.12 adds
 *     pins with folio_add_pin() (counts no nr_foll_pin_acquired) and drops every pin with
 *     unpin_user_page() (counts a release), so on vfat released grows by more than acquired:
 *     there the cell takes the excess plus one pin per page the oracle found held as what
 *     fs/direct-io.c pinned uncounted, and adds it to dio_uncounted, which the workload
 *     declares to the runner (PINS_UNCOUNTED, docs/matrix.md): its balance then reads the pins
 *     still held, as on the other targets. A negative excess fails the cell.
 */
#include <linux/aio_abi.h>

#define DIO_BIG_PAGES 260  /* > BIO_MAX_VECS (256): block/fops.c splits it into bios */

enum dtarget { DT_EXT4, DT_BLK, DT_VFAT, DT_BLKDIO, NDT };
static const char *const dt_names[NDT] = {"ext4", "blk", "vfat", "blk-dio"};
static int dt_blk(enum dtarget t) { return t == DT_BLK || t == DT_BLKDIO; }
enum dengine { DE_SYNC, DE_URING, DE_AIO, NDE };
static const char *const de_names[NDE] = {"sync", "uring", "aio"};
enum dshape { DS_ONE, DS_MULTI, DS_OFFSET, DS_EOF, DS_FAULT, DS_BIG, DS_SECTORS, DS_HUGE, NDS };
static const char *const ds_names[NDS] = {"one", "multi", "offset", "eof", "fault", "big", "sectors", "huge"};
#define DIO_SEGS 5  /* the most pieces of a shape */

static long dio_uncounted;  /* pins fs/direct-io.c released beyond those counted as acquired */

/* The FOLL_PIN counters since (a0, r0) of an O_DIRECT call through fs/direct-io.c (vfat), held
 * pages of its buffer still pinned. 6.12: folio_add_pin() counts nothing, its unpins count
 * (docs/matrix.md). What fs/direct-io.c released beyond the counted acquisitions, plus one pin
 * per page still held (acquired, never released), is what it took uncounted: declared
 * (dio_declare()), so that the runner's balance reads exactly the pins still held; fewer
 * releases than that fail c. */
static void dio_vfat_pins(struct cell *c, long a0, long r0, long held)
{
	long a1, r1, uncounted;

	if (pin_counts(&a1, &r1))
		return;
	uncounted = (r1 - r0) - (a1 - a0) + held;
	printf("# %s: FOLL_PIN acquired +%ld released +%ld, %ld page(s) held: %ld uncounted (fs/direct-io.c)\n",
	       c->name, a1 - a0, r1 - r0, held, uncounted);
	if (uncounted < 0)
		cfail(c, "FOLL_PIN released +%ld, acquired +%ld: %ld pin(s) neither released nor on a held page",
		      r1 - r0, a1 - a0, -uncounted);
	else
		dio_uncounted += uncounted;
}

/* An O_DIRECT file on ext4 (-d), ext4_dir/STEM.PID in path[n], holding len bytes of src: its fd,
 * or -1 with the cell skipped (no -d) or failed (the file removed again) */
static int dio_ext4_file(struct cell *c, const char *stem, char *path, size_t n, const void *src, size_t len)
{
	int fd;

	if (!ext4_dir) {
		cskip(c, "no ext4 directory given (-d)");
		return -1;
	}
	snprintf(path, n, "%s/%s.%d", ext4_dir, stem, getpid());
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
	if (fd < 0 || pwrite(fd, src, len, 0) != (ssize_t)len) {
		cfail(c, "O_DIRECT file on ext4 and its first write: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

static int wanted(const char *name);

/* The default set's dio path cells: every target x engine x direction x shape but "big" (the
 * deep set's), and "big" on the raw device, the one target where it takes another path; "huge"
 * by the synchronous engine; on the direct-I/O loop device, the shapes its bvec iterator meets
 * differently (one, big, huge, sectors) by the synchronous and aio engines. */
static int dio_quick(const char *name)
{
	if (strncmp(name, "dio/", 4))
		return 0;
	if (!strncmp(name, "dio/blk-dio/", 12))
		return !strstr(name, "/uring-") && (strstr(name, "-one") || strstr(name, "-big") || strstr(name, "-huge") ||
						    strstr(name, "-sectors"));
	if (strstr(name, "-huge"))
		return strstr(name, "/sync-") != NULL;
	return !strstr(name, "-big") || !strncmp(name, "dio/blk/", 8);
}

struct dseg {
	size_t off;  /* in the cell's mapping */
	size_t len;
	int bad;     /* a PROT_NONE page */
};

/* The iovec of a shape in a mapping of DIO_BIG_PAGES + 8 pages; returns the segment count. */
static int dio_shape(enum dshape s, struct dseg *g)
{
	switch (s) {
	case DS_MULTI:
		g[0] = (struct dseg){0, PAGE, 0};
		g[1] = (struct dseg){2 * PAGE, 2 * PAGE, 0};
		g[2] = (struct dseg){5 * PAGE, PAGE, 0};
		return 3;
	case DS_OFFSET:
		g[0] = (struct dseg){512, 4 * PAGE, 0};
		return 1;
	case DS_FAULT:
		g[0] = (struct dseg){0, 2 * PAGE, 0};
		g[1] = (struct dseg){3 * PAGE, PAGE, 1};
		g[2] = (struct dseg){5 * PAGE, PAGE, 0};
		return 3;
	case DS_BIG:
		g[0] = (struct dseg){0, DIO_BIG_PAGES * PAGE, 0};
		return 1;
	case DS_HUGE:  /* in a mapping of two THPs */
		g[0] = (struct dseg){HPAGE / 2, HPAGE, 0};
		return 1;
	case DS_SECTORS:  /* 3584 bytes: 7 sectors of the 512-byte devices and vfat */
		g[0] = (struct dseg){0, 512, 0};
		g[1] = (struct dseg){512, 512, 0};                /* continues g[0] in its page */
		g[2] = (struct dseg){2048, 1024, 0};              /* the same page after a gap */
		g[3] = (struct dseg){PAGE - 512, 1024, 0};        /* across into the next page */
		g[4] = (struct dseg){PAGE + 512, 512, 0};         /* continues g[3] there */
		return 5;
	default:
		g[0] = (struct dseg){0, 4 * PAGE, 0};
		return 1;
	}
}

static ssize_t dio_aio(int fd, int rd, struct iovec *iov, int n, off_t off)
{
	aio_context_t ctx = 0;
	struct iocb cb = {0}, *cbs[1] = {&cb};
	struct io_event ev;
	struct timespec wait = {URING_WAIT_S, 0};  /* a completion that never comes fails, not hangs */
	ssize_t r;
	long got;

	if (syscall(SYS_io_setup, 4, &ctx))
		return -2;  /* said by the caller: no aio */
	cb.aio_fildes = fd;
	cb.aio_lio_opcode = rd ? IOCB_CMD_PREADV : IOCB_CMD_PWRITEV;
	cb.aio_buf = (uintptr_t)iov;
	cb.aio_nbytes = n;
	cb.aio_offset = off;
	if (syscall(SYS_io_submit, ctx, 1, cbs) != 1) {
		r = -1;
	} else if ((got = syscall(SYS_io_getevents, ctx, 1, 1, &ev, &wait)) != 1) {
		r = -1;
		if (!got)
			errno = ETIME;
	} else {
		r = ev.res < 0 ? -1 : ev.res;
		if (ev.res < 0)
			errno = (int)-ev.res;
	}
	syscall(SYS_io_destroy, ctx);
	return r;
}

static ssize_t dio_uring(int fd, int rd, struct iovec *iov, int n, off_t off)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	ssize_t r;

	if (!sqe) {
		errno = EBUSY;
		return -1;
	}
	if (rd)
		io_uring_prep_readv(sqe, fd, iov, n, off);
	else
		io_uring_prep_writev(sqe, fd, iov, n, off);
	r = uring_submit_wait(&ring, sqe);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

/* The target of a cell, open with O_DIRECT, holding size bytes of pattern seed 4 at their
 * offsets (files: exactly size bytes long); -1 with the cell failed or skipped. */
static int dio_target(struct cell *c, enum dtarget t, char *path, off_t size, off_t *dev_size)
{
	char *buf = NULL;
	int fd;

	*dev_size = 0;
	if (dt_blk(t)) {
		const char *dev = t == DT_BLK ? blk_dev : blk_dio_dev;

		if (!dev) {
			cskip(c, "no %s given (%s)", t == DT_BLK ? "block device" : "loop device in direct-I/O mode",
			      t == DT_BLK ? "-b" : "-B");
			return -1;
		}
		snprintf(path, 256, "%s", dev);
		fd = open(dev, O_RDWR | O_DIRECT);
		if (fd >= 0)
			*dev_size = lseek(fd, 0, SEEK_END);
	} else {
		const char *dir = t == DT_EXT4 ? ext4_dir : vfat_dir;

		if (!dir) {
			cskip(c, "no %s mount given (%s)", dt_names[t], t == DT_EXT4 ? "-d" : "-v");
			return -1;
		}
		snprintf(path, 256, "%s/diopath.%d", dir, getpid());
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
	}
	if (fd < 0) {
		cfail(c, "cannot open %s with O_DIRECT: %s", path, strerror(errno));
		return -1;
	}
	/* the content goes in through a plain synchronous O_DIRECT write, page-rounded */
	size_t rounded = (size + PAGE - 1) & ~(PAGE - 1);
	off_t at = dt_blk(t) ? *dev_size - (off_t)rounded : 0;

	if (dt_blk(t) && at < 0) {
		cfail(c, "%s: %lld bytes, too small", path, (long long)*dev_size);
		close(fd);
		return -1;
	}
	if (posix_memalign((void **)&buf, PAGE, rounded)) {
		cfail(c, "out of memory");
		close(fd);
		return -1;
	}
	/* the device: its last `size` bytes and its first ones (eof reads the end, the rest the start) */
	fill(buf, rounded, 0, 4);
	if (pwrite(fd, buf, rounded, 0) != (ssize_t)rounded ||
	    (dt_blk(t) && (fill(buf, rounded, at, 4), pwrite(fd, buf, rounded, at) != (ssize_t)rounded)) ||
	    (!dt_blk(t) && ftruncate(fd, size))) {
		cfail(c, "cannot lay out %s: %s", path, strerror(errno));
		free(buf);
		close(fd);
		return -1;
	}
	free(buf);
	return fd;
}

static void dio_path_cell(struct cell *c, enum dtarget t, enum dengine e, int rd, enum dshape s)
{
	struct dseg g[DIO_SEGS];
	struct iovec iov[DIO_SEGS];
	int n = dio_shape(s, g), fd = -1;
	size_t maplen = s == DS_HUGE ? 2 * HPAGE : (DIO_BIG_PAGES + 8) * PAGE, total = 0, want, done;
	char path[256] = "", *map, *back = NULL, why[200];
	off_t dev_size = 0, off = 0, size;
	long a0, r0, first, held, d;
	ssize_t r;

	/* small pages, each judged on its own; huge: two THPs, so that bvecs span folios */
	map = s == DS_HUGE ? map_aligned(maplen, HPAGE, MADV_HUGEPAGE) : map_aligned(maplen, PAGE, MADV_NOHUGEPAGE);
	if (!map) {
		cfail(c, "mmap: %s", strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++)
		total += g[i].len;
	/* files: a read crosses EOF at 2 pages + 512 bytes; a write starts 2 pages in and extends */
	size = s == DS_EOF ? (off_t)(2 * PAGE + 512) : (off_t)total;
	if ((fd = dio_target(c, t, path, size, &dev_size)) < 0)
		goto out;
	if (s == DS_EOF && dt_blk(t))
		off = dev_size - 2 * PAGE;  /* both directions: 2 pages up to the end of the device */
	else if (s == DS_EOF && !rd)
		off = 2 * PAGE;
	want = s == DS_EOF && dt_blk(t) ? 2 * PAGE : s == DS_EOF && rd ? (size_t)size : total;
	/* the buffers: seed 5 for a read to overwrite, seed 6 (stream position) for a write */
	done = 0;
	for (int i = 0; i < n; i++) {
		iov[i] = (struct iovec){map + g[i].off, g[i].len};
		if (g[i].bad) {
			if (mprotect(map + g[i].off, g[i].len, PROT_NONE))
				cfail(c, "mprotect: %s", strerror(errno));
		} else {
			fill(map + g[i].off, g[i].len, rd ? g[i].off : off + done, rd ? 5 : 6);
		}
		done += g[i].len;
	}
	if (c->failed[0])
		goto out;
	if (s == DS_HUGE && !(is_thp(map) && is_thp(map + HPAGE))) {
		cskip(c, "no THP behind the buffer (kpageflags: %s, %s)", is_thp(map) ? "THP" : "not THP",
		      is_thp(map + HPAGE) ? "THP" : "not THP");
		goto out;
	}
	if (pin_counts(&a0, &r0)) {
		cfail(c, "no nr_foll_pin_* counters in /proc/vmstat");
		goto out;
	}
	if (e == DE_SYNC)
		r = rd ? preadv(fd, iov, n, off) : pwritev(fd, iov, n, off);
	else if (e == DE_URING)
		r = ring_ok ? dio_uring(fd, rd, iov, n, off) : -2;
	else
		r = dio_aio(fd, rd, iov, n, off);
	if (r == -2) {
		cskip(c, "no %s (%s)", de_names[e], e == DE_URING ? "io_uring_queue_init failed" : "io_setup failed");
		goto out;
	}
	if (s == DS_FAULT) {
		/* the bad buffer stops it: EFAULT, or a short count within the good part before it */
		if (r < 0 && errno != EFAULT)
			cfail(c, "%s over a PROT_NONE buffer: %s, not EFAULT or short", de_names[e], strerror(errno));
		else if (r > (ssize_t)g[0].len)
			cfail(c, "%s over a PROT_NONE buffer at byte %zu moved %zd bytes", de_names[e], g[0].len, r);
		want = r < 0 ? 0 : (size_t)r;
	} else if (r != (ssize_t)want) {
		cfail(c, "%s %s of %zu bytes at %lld: %zd (%s), expected %zu", de_names[e], rd ? "read" : "write",
		      total, (long long)off, r, r < 0 ? strerror(errno) : "short", want);
		goto close;
	}
	/* data, both ways: the first `want` bytes moved, in iovec order */
	done = 0;
	for (int i = 0; i < n && !c->failed[0]; i++) {
		size_t moved = want > done ? (want - done < g[i].len ? want - done : g[i].len) : 0;

		if (g[i].bad) {
			done += g[i].len;
			continue;
		}
		if (rd && (d = check(map + g[i].off, moved, off + done, 4)) >= 0)
			cfail(c, "read: buffer %d byte %ld is not the file's byte %lld", i, d, (long long)(off + done + d));
		/* the rest is untouched, unless a block read past EOF filled it (eof, fault: not judged) */
		else if (rd && s != DS_EOF && s != DS_FAULT &&
			 (d = check(map + g[i].off + moved, g[i].len - moved, g[i].off + moved, 5)) >= 0)
			cfail(c, "read: buffer %d byte %zu changed past the %zu bytes read", i, moved + d, want);
		else if (!rd && (d = check(map + g[i].off, g[i].len, off + done, 6)) >= 0)
			cfail(c, "write: buffer %d byte %ld changed by the write", i, d);
		done += g[i].len;
	}
	if (!rd && want && !c->failed[0]) {
		/* what the write carried: read back synchronously (its own O_DIRECT buffer) */
		size_t rounded = (want + PAGE - 1) & ~(PAGE - 1);

		if (posix_memalign((void **)&back, PAGE, rounded)) {
			cfail(c, "out of memory");
		} else if ((r = pread(fd, back, rounded, off)) < (ssize_t)want) {
			cfail(c, "reading back %zu bytes at %lld: %zd (%s)", want, (long long)off, r,
			      r < 0 ? strerror(errno) : "short");
		} else if ((d = check(back, want, off, 6)) >= 0) {
			cfail(c, "write: the %s holds other data at byte %lld than the buffers", dt_blk(t) ? "device" : "file",
			      (long long)(off + d));
		}
	}
close:
	close(fd);
	fd = -1;
	/* pins and references back: every present page of the buffers migrates */
	held = pages_held(map, maplen, 2000, &first, why, sizeof(why));
	if (held < 0)
		cskip(c, "%s", why);
	else if (held > 0)
		cfail(c, "%ld page(s) of the buffers still held (a leaked pin or reference: they do not migrate)"
		      " 2 s after the I/O and close; the first at page %ld of the mapping", held, first);
	if (t != DT_VFAT) {
		long p0 = a0 - r0;

		if (pins_settle(p0) != p0)
			cfail(c, "%ld pin(s) outstanding after the I/O", pins_settle(p0) - p0);
	} else {
		dio_vfat_pins(c, a0, r0, held > 0 ? held : 0);
	}
out:
	if (fd >= 0)
		close(fd);
	if (path[0] && !dt_blk(t))
		unlink(path);
	free(back);
	munmap(map, maplen);
}

/* The oracle's own premise: pages pinned by an io_uring fixed buffer are seen held, all of
 * them, and none once unregistered; else the path cells' reference check proves nothing. */
static void dio_oracle_cell(struct cell *c)
{
	size_t len = 4 * PAGE;
	char *buf = map_aligned(len, PAGE, MADV_NOHUGEPAGE), why[200];
	struct iovec v = {buf, len};
	long held, first;
	int e;

	if (!buf) {
		cfail(c, "mmap: %s", strerror(errno));
		return;
	}
	fill(buf, len, 0, 7);
	if (!ring_ok) {
		cskip(c, "io_uring_queue_init failed");
	} else if ((e = io_uring_register_buffers(&ring, &v, 1)) < 0) {
		cfail(c, "io_uring_register_buffers: %s", strerror(-e));
	} else {
		held = pages_held(buf, len, 0, &first, why, sizeof(why));
		io_uring_unregister_buffers(&ring);
		if (held < 0)
			cskip(c, "%s", why);
		else if (held != 4)
			cfail(c, "the page-reference oracle saw %ld of 4 pages pinned by io_uring as held", held);
		else if ((held = pages_held(buf, len, 2000, &first, why, sizeof(why))) != 0)
			cfail(c, "the page-reference oracle saw %ld of 4 pages held after the unregister (%s)", held,
			      held < 0 ? why : "not released");
		if (!c->failed[0] && !c->skip[0])
			printf("# %s: 4 pages pinned by io_uring seen held, none after the unregister\n", c->name);
	}
	munmap(buf, len);
}

/* Every path cell */
static void dio_paths(void)
{
	struct cell oc = {.fd = -1, .name = "dio/oracle/uring-fixed"};
	double t0 = now_s();

	if (wanted(oc.name) && begins(oc.name)) {
		dio_oracle_cell(&oc);
		verdict(&oc, t0);
	}

	for (enum dtarget t = 0; t < NDT; t++)
		for (enum dengine e = 0; e < NDE; e++)
			for (int rd = 1; rd >= 0; rd--)
				for (enum dshape s = 0; s < NDS; s++) {
					struct cell c = {.fd = -1};
					double began = now_s();

					snprintf(c.name, sizeof(c.name), "dio/%s/%s-%s-%s", dt_names[t], de_names[e],
						 rd ? "read" : "write", ds_names[s]);
					if (!wanted(c.name))
						continue;
					if (!begins(c.name))
						continue;
					dio_path_cell(&c, t, e, rd, s);
					verdict(&c, began);
				}
}

/* The fs/direct-io.c excess of every cell (dio/vfat/..., holes/vfat/dio) for the runner
 * ($PINS_UNCOUNTED: a file), after the last cell. */
static void dio_declare(void)
{
	const char *out = getenv("PINS_UNCOUNTED");

	if (out && *out && dio_uncounted > 0) {
		FILE *f = fopen(out, "w");

		if (!f || fprintf(f, "%ld\n", dio_uncounted) < 0 || fclose(f))
			printf("FAIL: cannot write %s: %s\n", out, strerror(errno));
		printf("# dio/vfat: %ld pin release(s) beyond the acquisitions counted (folio_add_pin), declared in %s\n",
		       dio_uncounted, out);
	}
}
