/* sg-io/<memory>/<dir>-<odd|iov>: SG_IO through block/blk-map.c's copy path. Part of
 * pin_matrix.c (struct cell, mem_map()/mem_unmap(), first_diff(); kentry_cells.h's sg_find(),
 * sg_both_ways(), pin_mark(), sg_pins_after(), none_held()), entered by sgcopy_cells() from main.
 *
 * kentry_cells.h's sg-io cells hand SG_IO aligned buffers, which bio_map_user_iov() pins. When
 * the user buffer breaks the queue's DMA alignment (blk_rq_map_user_iov(): iov_iter_alignment()
 * of the addresses and lengths & (dma_alignment | dma_pad_mask), 3 for SCSI), the kernel copies
 * instead: bio_copy_user_iov() allocates pages, bio_copy_from_iter() fills them for a WRITE, and
 * blk_rq_unmap_user() -> bio_uncopy_user() copies a READ's data back into the user's iovecs at
 * the end. Nothing of that ran outside boot.
 *   odd: one buffer one byte past the start of the memory, 16 pages long;
 *   iov: three iovecs (sg_io_hdr.iovec_count) with gaps between them, odd addresses and lengths
 *        (5000 + 11000 + 16768 bytes, 64 blocks).
 * write: the buffer's bytes go to the disk and an aligned buffer reads them back (the mapped
 * path); read: the disk's bytes (written from an aligned buffer) come into the buffer, and the
 * bytes around the iovecs (the gaps, the byte before) must not change. Then the FOLL_PIN
 * counters back and no page of the memory held (none_held()). Premise: the transfer pinned no
 * page (copied, not mapped), else SKIP.
 */
#define SGC_LEN (16 * PAGE)

static const enum mem sgc_mems[] = {ANON, THP, SHMEM, HUGE};
static const char *const sgc_names[] = {"anon/write-odd", "anon/read-odd", "anon/write-iov", "anon/read-iov",
					"thp/write-odd", "thp/read-odd", "thp/write-iov", "thp/read-iov",
					"shmem/write-odd", "shmem/read-odd", "shmem/write-iov", "shmem/read-iov",
					"hugetlb/write-odd", "hugetlb/read-odd", "hugetlb/write-iov", "hugetlb/read-iov"};

/* SG_IO READ(10)/WRITE(10) of an iovec list, lba 0; 0 or -errno with why */
static int sgc_rw_iov(int fd, int write, struct iovec *iov, int n, size_t total, char *why, size_t wn)
{
	unsigned char cdb[10] = {write ? 0x2a : 0x28}, sense[32];
	unsigned blocks = (unsigned)(total / 512);
	struct sg_io_hdr h = {.interface_id = 'S', .dxfer_direction = write ? SG_DXFER_TO_DEV : SG_DXFER_FROM_DEV,
			      .cmd_len = 10, .mx_sb_len = sizeof(sense), .iovec_count = (unsigned short)n,
			      .dxfer_len = (unsigned)total, .dxferp = iov, .cmdp = cdb, .sbp = sense, .timeout = 20000};

	cdb[7] = blocks >> 8, cdb[8] = blocks;
	if (ioctl(fd, SG_IO, &h)) {
		snprintf(why, wn, "SG_IO %s(10) of %d iovecs: %s", write ? "WRITE" : "READ", n, strerror(errno));
		return -errno;
	}
	if (h.status || h.host_status || h.driver_status || h.resid) {
		snprintf(why, wn, "SG_IO %s(10) of %d iovecs: status %#x host %#x driver %#x resid %d",
			 write ? "WRITE" : "READ", n, h.status, h.host_status, h.driver_status, h.resid);
		return -EIO;
	}
	return 0;
}

/* The misaligned transfer itself, the FOLL_PIN counters around it: pins it took in *pinned */
static int sgc_xfer(int fd, int write, struct iovec *iov, int n, size_t total, long *pinned, char *why, size_t wn)
{
	long a0, r0, a1, r1;
	int r;

	pin_counts(&a0, &r0);
	r = n ? sgc_rw_iov(fd, write, iov, n, total, why, wn) : sg_rw(fd, write, iov->iov_base, total, 0, why, wn);
	pin_counts(&a1, &r1);
	*pinned = a1 - a0;
	return r;
}

/* iov: 3 gapped iovecs; odd: one buffer at byte 1. 0, or -1 with the cell failed */
static void sgc_both_ways(struct cell *c, int fd, int write, int gapped, char *plain, char *before, long *pinned)
{
	struct iovec iov[3] = {{c->map + 1, 5000}, {c->map + 2 * PAGE + 3, 11000}, {c->map + 6 * PAGE + 5, 16768}};
	int n = gapped ? 3 : 1;
	size_t total = gapped ? 5000 + 11000 + 16768 : SGC_LEN, off = 0;
	char why[200], *cat = malloc(total);
	long d;

	if (!gapped)
		iov[0].iov_len = SGC_LEN;
	if (!cat) {
		cfail(c, "out of memory");
		return;
	}
	if (write) {  /* the iovecs' bytes, in order, must be the disk's */
		for (int i = 0; i < n; off += iov[i].iov_len, i++)
			memcpy(cat + off, iov[i].iov_base, iov[i].iov_len);
		if (sgc_xfer(fd, 1, iov, gapped ? 3 : 0, total, pinned, why, sizeof(why)) ||
		    sg_rw(fd, 0, plain, total, 0, why, sizeof(why)))
			cfail(c, "%s", why);
		else if ((d = first_diff(plain, cat, total)) >= 0)
			cfail(c, "WRITE(10) from %s: the disk differs at byte %ld of %zu", gapped ? "3 gapped iovecs" :
			      "a buffer one byte in", d, total);
		else if ((d = first_diff(c->map, before, 11 * PAGE)) >= 0)
			cfail(c, "WRITE(10) changed the memory at byte %ld", d);
	} else {  /* the disk's bytes in the iovecs, every other byte of the memory as it was */
		fill64(plain, total, 23);
		if (sg_rw(fd, 1, plain, total, 0, why, sizeof(why)) ||
		    sgc_xfer(fd, 0, iov, gapped ? 3 : 0, total, pinned, why, sizeof(why)))
			cfail(c, "%s", why);
		for (int i = 0; !c->failed[0] && i < n; off += iov[i].iov_len, i++)
			memcpy(before + ((char *)iov[i].iov_base - c->map), plain + off, iov[i].iov_len);
		if (!c->failed[0] && (d = first_diff(c->map, before, SGC_LEN + PAGE)) >= 0)
			cfail(c, "after READ(10) into %s byte %ld of the memory is %#x, expected %#x (the disk's byte, or "
			      "unchanged outside the iovecs)", gapped ? "3 gapped iovecs" : "a buffer one byte in", d,
			      c->map[d] & 0xff, before[d] & 0xff);
	}
	free(cat);
}

static void sgc_run(struct cell *c, int k)
{
	const char *dev = sg_find();
	int write = !(k & 1), fd;
	char *plain = aligned_alloc(PAGE, SGC_LEN), *before = malloc(SGC_LEN + PAGE);
	struct pinmark m;
	long pinned = -1;

	c->mem = sgc_mems[k / 4];
	if (!dev[0]) {
		kentry_missing(c, "sg-io", "no scsi_debug disk in /sys/block (CONFIG_SCSI_DEBUG)");
		goto out;
	}
	if (!plain || !before || mem_map(c))
		goto out;
	if (2 * c->half < SGC_LEN + PAGE) {
		cfail(c, "the %s region is %zu bytes, the cell needs %lu", mem_names[c->mem], 2 * c->half, SGC_LEN + PAGE);
		goto out;
	}
	fd = open(dev, O_RDWR);
	if (fd < 0) {
		cfail(c, "open %s: %s", dev, strerror(errno));
		goto out;
	}
	memcpy(before, c->map, SGC_LEN + PAGE);
	pin_mark(&m);
	sgc_both_ways(c, fd, write, k & 2, plain, before, &pinned);
	close(fd);
	pins_back(c, &m, "SG_IO");
	if (!c->failed[0] && pinned)
		cskip(c, "the misaligned transfer pinned %ld page(s): mapped, not copied (the copy path did not run)", pinned);
	if (!c->failed[0] && c->mem != HUGE)
		none_held(c, c->map, SGC_LEN + PAGE, "SG_IO");
out:
	mem_unmap(c);
	free(plain);
	free(before);
}

static const struct cell_entry sgc_table[] = {{"sg-io/", sgc_run, sgc_names, sizeof(sgc_names) / sizeof(sgc_names[0])}};

static void sgcopy_cells(void)
{
	run_cells(sgc_table, sizeof(sgc_table) / sizeof(sgc_table[0]), NULL, NULL);
}
