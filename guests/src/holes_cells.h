/* holes/<fs>/<shape>: the bytes of a file nobody wrote read as zeros. A write that fills part of a
 * new page (or block, or huge folio) leaves the rest of it for the filesystem to zero before the
 * folio is marked uptodate or the block is mapped: shmem_write_end() and
 * folio_zero_new_buffers() (mm/shmem.c, fs/buffer.c), ext4's own write_begin, FAT's
 * cont_write_begin() that zeroes the gap up to a write past EOF, truncate's zeroing of the
 * partial page (truncate_inode_partial_folio()), hole punching, and O_DIRECT's zeroing of the
 * rest of a new block around a sub-block write (iomap_dio_zero(), fs/direct-io.c
 * dio_zero_block()). A zeroing that is skipped or done on the wrong range hands the process
 * whatever the page held before: another file's data, or the 0xaa of page poisoning. No
 * error, no report: only reading the bytes shows it. Every other cell writes whole pages.
 *
 * fs:    tmpfs (a memfd), tmpfs-thp (the same with shmem_enabled "always": the write allocates
 *        PMD-sized folios; premise: ShmemHugePages grew after a write, else SKIP), ext4, vfat (-v; its
 *        clusters are zeroed by cont_write_begin()).
 * shape: mid (100 bytes in the middle of a fresh file's first unit: everything before is a hole),
 *        gap (a full unit, then 100 bytes two units later: the unit between and the head of the
 *        third are holes), trunc (two units of data truncated to the middle of the first, then
 *        extended to two units again: the cut-off bytes must come back zero), punch
 *        (FALLOC_FL_PUNCH_HOLE of a range inside a written unit, across a page boundary; not on
 *        vfat), dio (O_DIRECT writes of 512 bytes into new blocks, whose rest must be zeros on
 *        disk: on ext4 one write needing the head of its block zeroed, one the tail, over an
 *        image whose free blocks hold old bytes (-E, else SKIP); on vfat at 1024 and 10240 of
 *        a new file, which FAT cannot allocate by O_DIRECT: it falls back to buffered writes
 *        and cont_write_begin()).
 * Checks: pread of the whole file equals a model of it (written bytes where written, zeros
 * elsewhere), and so does a MAP_SHARED mapping, whose bytes past EOF in the last page read
 * zero too; ext4 and vfat then again after fsync and POSIX_FADV_DONTNEED (premise: mincore says
 * no page stayed cached, else SKIP); vfat's O_DIRECT pins, which count only their releases on
 * 6.12, declared to the runner as the dio/vfat cells' are (dio_uncounted). Part of
 * pin_matrix.c (struct cell, ext4_dir, vfat_dir, cell_knob(), key_value(), dio_paths.h).
 */
#define HL_SMALL 100  /* the small writes: not a multiple of anything */
#define HL_DIO 512

enum hl_fs { HF_TMPFS, HF_TMPFS_THP, HF_EXT4, HF_VFAT, NHF };
static const char *const hf_names[NHF] = {"tmpfs", "tmpfs-thp", "ext4", "vfat"};
enum hl_shape { HL_MID, HL_GAP, HL_TRUNC, HL_PUNCH, HL_DIOW, NHL };
static const char *const hl_names[NHL] = {"mid", "gap", "trunc", "punch", "dio"};
/* each file system's shapes (FAT has no holes to punch; tmpfs no O_DIRECT) */
static const char *const hl_tmpfs[] = {"mid", "gap", "trunc", "punch"};
static const char *const hl_ext4[] = {"mid", "gap", "trunc", "punch", "dio"};
static const char *const hl_vfat[] = {"mid", "gap", "trunc", "dio"};

struct hl {
	struct cell *c;
	enum hl_fs fs;
	int fd;
	size_t unit;  /* a page, or a huge page for tmpfs-thp */
	size_t cap;   /* the model's size: 4 units, at least 8 pages (hl_dio_ext4()) */
	size_t size;  /* the file's size by the model */
	char *want;   /* the model: what the file must read */
	char *wrote;  /* 1 where the model's byte was written, 0 in a hole */
	long huge0, huge_max;  /* tmpfs-thp: ShmemHugePages (kB) before, the most seen after a write */
	char path[256];
};

static int hl_open(struct hl *h)
{
	const char *dir = h->fs == HF_EXT4 ? ext4_dir : vfat_dir;

	if (h->fs == HF_EXT4 || h->fs == HF_VFAT) {
		if (!dir) {
			cskip(h->c, "no %s file system (-%c)", hf_names[h->fs], h->fs == HF_EXT4 ? 'd' : 'v');
			return -1;
		}
		snprintf(h->path, sizeof(h->path), "%s/holes.%d", dir, getpid());
		h->fd = open(h->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	} else {
		if (h->fs == HF_TMPFS_THP && cell_knob(h->c, SHMEM_ENABLED, "always", NULL))
			return -1;
		h->fd = memfd_create("holes", 0);
	}
	if (h->fd < 0) {
		cfail(h->c, "cannot make the %s file: %s", hf_names[h->fs], strerror(errno));
		return -1;
	}
	return 0;
}

/* len bytes of a pattern (seeded by off) written at off, by pwrite or (dio) an O_DIRECT pwrite
 * through a second descriptor; the model follows */
static int hl_write(struct hl *h, size_t off, size_t len, int dio)
{
	char *buf;
	size_t pad = (len + 7) & ~(size_t)7;
	ssize_t n;
	long a0 = 0, r0 = 0;
	int fd = h->fd;

	if (off + len > h->cap || posix_memalign((void **)&buf, PAGE, pad + PAGE)) {
		cfail(h->c, "hl_write(%zu, %zu): out of the model or of memory", off, len);
		return -1;
	}
	fill64(buf, pad, (unsigned)(off / 8 + 3));
	if (dio && (fd = open(h->path, O_RDWR | O_DIRECT)) < 0) {
		cskip(h->c, "O_DIRECT open on %s: %s", hf_names[h->fs], strerror(errno));
		free(buf);
		return -1;
	}
	if (dio)
		pin_counts(&a0, &r0);
	n = pwrite(fd, buf, len, (off_t)off);
	if (dio)
		close(fd);
	if (dio && h->fs == HF_VFAT)  /* fs/direct-io.c's pins count their releases only */
		dio_vfat_pins(h->c, a0, r0, 0);
	if (n != (ssize_t)len) {
		if (dio && n < 0 && errno == EINVAL)
			cskip(h->c, "O_DIRECT pwrite of %zu bytes at %zu: %s (the device's logical block is larger?)",
			      len, off, strerror(errno));
		else
			cfail(h->c, "pwrite of %zu bytes at %zu: %zd (%s)", len, off, n, strerror(errno));
		free(buf);
		return -1;
	}
	if (h->fs == HF_TMPFS_THP) {  /* the premise, read after each write: truncate and punch split them */
		long now = key_value("/proc/meminfo", "ShmemHugePages:") - h->huge0;

		h->huge_max = now > h->huge_max ? now : h->huge_max;
	}
	memcpy(h->want + off, buf, len);
	memset(h->wrote + off, 1, len);
	if (off + len > h->size)
		h->size = off + len;
	free(buf);
	return 0;
}

static int hl_truncate(struct hl *h, size_t to)
{
	if (ftruncate(h->fd, (off_t)to)) {
		cfail(h->c, "ftruncate to %zu: %s", to, strerror(errno));
		return -1;
	}
	if (to < h->size) {
		memset(h->want + to, 0, h->size - to);
		memset(h->wrote + to, 0, h->size - to);
	}
	h->size = to;
	return 0;
}

/* The file against the model by pread, then by a MAP_SHARED mapping (the bytes past EOF in the
 * last page too); when: which state of the cell */
static int hl_check(struct hl *h, const char *when)
{
	size_t maplen = (h->size + PAGE - 1) & ~(size_t)(PAGE - 1);
	char *got = malloc(h->size + 1), *m;
	ssize_t n = pread(h->fd, got, h->size, 0);
	long at;

	if (!got || n != (ssize_t)h->size) {
		cfail(h->c, "%s: pread of the whole file (%zu bytes): %zd (%s)", when, h->size, n, strerror(errno));
		free(got);
		return -1;
	}
	if ((at = first_diff(got, h->want, h->size)) >= 0)
		cfail(h->c, "%s: read(2) finds byte %ld = 0x%02x where the file holds %s (0x%02x)", when, at,
		      (unsigned char)got[at], h->wrote[at] ? "written bytes" : "a hole", (unsigned char)h->want[at]);
	free(got);
	if (h->c->failed[0])
		return -1;
	m = mmap(NULL, maplen, PROT_READ, MAP_SHARED, h->fd, 0);
	if (m == MAP_FAILED) {
		cfail(h->c, "%s: mmap of the file: %s", when, strerror(errno));
		return -1;
	}
	if ((at = first_diff(m, h->want, h->size)) >= 0)
		cfail(h->c, "%s: the mapping finds byte %ld = 0x%02x where the file holds %s (0x%02x)", when, at,
		      (unsigned char)m[at], h->wrote[at] ? "written bytes" : "a hole", (unsigned char)h->want[at]);
	for (size_t i = h->size; !h->c->failed[0] && i < maplen; i++)
		if (m[i])
			cfail(h->c, "%s: the mapping's byte %zu past EOF (%zu) is 0x%02x, not zero", when, i, h->size,
			      (unsigned char)m[i]);
	munmap(m, maplen);
	return h->c->failed[0] ? -1 : 0;
}

/* ext4, vfat: the file written back and dropped from the page cache, so the next check reads the
 * disk; 0, or -1 with the cell skipped (a page stayed) or failed */
static int hl_drop(struct hl *h)
{
	size_t maplen = (h->size + PAGE - 1) & ~(size_t)(PAGE - 1);
	unsigned char vec[4 * HPAGE / PAGE];
	size_t left = 0;
	char *m;

	if (fsync(h->fd)) {
		cfail(h->c, "fsync: %s", strerror(errno));
		return -1;
	}
	posix_fadvise(h->fd, 0, 0, POSIX_FADV_DONTNEED);
	m = mmap(NULL, maplen, PROT_READ, MAP_SHARED, h->fd, 0);
	if (m == MAP_FAILED || mincore(m, maplen, vec)) {
		cfail(h->c, "mincore of the file: %s", strerror(errno));
		if (m != MAP_FAILED)
			munmap(m, maplen);
		return -1;
	}
	for (size_t i = 0; i < maplen / PAGE; i++)
		left += vec[i] & 1;
	munmap(m, maplen);
	if (left) {
		cskip(h->c, "%zu of %zu pages stayed in the page cache after fsync and POSIX_FADV_DONTNEED", left,
		      maplen / PAGE);
		return -1;
	}
	return 0;
}

/* ext4 dio: O_DIRECT writes of 512 bytes into new blocks of a fresh file, one needing the head
 * of its block zeroed (at a block and 512), one the tail (at a block's start); on a sparse image
 * a skipped zeroing reads zeros whatever happened, so the premise is -E (the free blocks hold
 * old bytes, pin-matrix.sh), else SKIP */
static int hl_dio_ext4(struct hl *h)
{
	int bsz = 0;

	if (!ext4_stale) {
		cskip(h->c, "the ext4's free blocks are zeros (no -E): a new block's zeroing skipped would not show");
		return -1;
	}
	if (ioctl(h->fd, FIGETBSZ, &bsz) || bsz <= 0 || 5 * (size_t)bsz > h->cap) {
		cfail(h->c, "FIGETBSZ: %d (%s)", bsz, strerror(errno));
		return -1;
	}
	return hl_write(h, (size_t)bsz + HL_DIO, HL_DIO, 1) || hl_write(h, 4 * (size_t)bsz, HL_DIO, 1);
}

static int hl_shape(struct hl *h, enum hl_shape s)
{
	size_t u = h->unit;

	switch (s) {
	case HL_MID:
		return hl_write(h, u / 2 + 1000, HL_SMALL, 0);
	case HL_GAP:
		return hl_write(h, 0, u, 0) || hl_write(h, 2 * u + 1000, HL_SMALL, 0);
	case HL_TRUNC:
		if (hl_write(h, 0, 2 * u, 0) || hl_check(h, "two units written"))
			return -1;
		return hl_truncate(h, u / 2 + 1000) || hl_truncate(h, 2 * u);
	case HL_PUNCH:
		if (hl_write(h, 0, 2 * u, 0))
			return -1;
		if (fallocate(h->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(u - 1000), 3000)) {
			if (errno == EOPNOTSUPP)
				cskip(h->c, "FALLOC_FL_PUNCH_HOLE: %s", strerror(errno));
			else
				cfail(h->c, "FALLOC_FL_PUNCH_HOLE: %s", strerror(errno));
			return -1;
		}
		memset(h->want + u - 1000, 0, 3000);
		memset(h->wrote + u - 1000, 0, 3000);
		return 0;
	case HL_DIOW:
		if (h->fs == HF_EXT4)
			return hl_dio_ext4(h);
		return hl_write(h, 1024, HL_DIO, 1) || hl_write(h, 5 * PAGE / 2, HL_DIO, 1);
	default:
		return -1;
	}
}

static void holes_run(struct cell *c, enum hl_fs fs, const char *shape)
{
	struct hl h = {.c = c, .fs = fs, .fd = -1, .huge0 = key_value("/proc/meminfo", "ShmemHugePages:")};
	enum hl_shape s = HL_MID;

	while (s < NHL - 1 && strcmp(hl_names[s], shape))
		s++;
	h.unit = h.fs == HF_TMPFS_THP ? HPAGE : PAGE;
	h.cap = 4 * h.unit > 8 * PAGE ? 4 * h.unit : 8 * PAGE;  /* hl_dio_ext4(): 5 blocks of up to a page */
	if (!(h.want = calloc(1, h.cap)) || !(h.wrote = calloc(1, h.cap))) {
		cfail(c, "out of memory");
		return;
	}
	if (hl_open(&h) || hl_shape(&h, s))
		goto out;
	if (h.fs == HF_TMPFS_THP && h.huge_max < (long)(HPAGE / 1024)) {
		cskip(c, "the writes allocated no PMD-sized shmem folio (ShmemHugePages +%ld kB at most)", h.huge_max);
		goto out;
	}
	if (hl_check(&h, "in the page cache"))
		goto out;
	if ((h.fs == HF_EXT4 || h.fs == HF_VFAT) && (hl_drop(&h) || hl_check(&h, "read back from disk")))
		goto out;
	printf("# %s: %zu bytes, every byte as written or zero, by read(2) and the mapping%s\n", c->name, h.size,
	       h.fs == HF_EXT4 || h.fs == HF_VFAT ? ", in the page cache and from disk" : "");
out:
	if (h.fd >= 0)
		close(h.fd);
	if (h.path[0])
		unlink(h.path);
	free(h.want);
	free(h.wrote);
}

static void holes_tmpfs(struct cell *c, int k) { holes_run(c, HF_TMPFS, hl_tmpfs[k]); }
static void holes_tmpfs_thp(struct cell *c, int k) { holes_run(c, HF_TMPFS_THP, hl_tmpfs[k]); }
static void holes_ext4(struct cell *c, int k) { holes_run(c, HF_EXT4, hl_ext4[k]); }
static void holes_vfat(struct cell *c, int k) { holes_run(c, HF_VFAT, hl_vfat[k]); }

#define HL_N(list) (sizeof(list) / sizeof(list[0]))
static const struct cell_entry holes_table[] = {
	{"holes/tmpfs/", holes_tmpfs, hl_tmpfs, HL_N(hl_tmpfs)},
	{"holes/tmpfs-thp/", holes_tmpfs_thp, hl_tmpfs, HL_N(hl_tmpfs)},
	{"holes/ext4/", holes_ext4, hl_ext4, HL_N(hl_ext4)},
	{"holes/vfat/", holes_vfat, hl_vfat, HL_N(hl_vfat)}};

static void holes_cells(void)
{
	run_cells(holes_table, HL_N(holes_table), NULL, NULL);
}
