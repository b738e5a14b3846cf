/* pressure/...: memory pressure that is not memory.reclaim, with pins in its way (the reclaim
 * the rest of the set drives is MADV_PAGEOUT and memcg memory.reclaim only). Part of
 * pin_matrix.c, after swap_cells.h (swap_cell(), swapoff_cell(), struct sw_target), ra_cells.h
 * (ra_path(), ra_event(), ra_group_drop()) and kentry_cells.h (pin_mark(), pins_back(),
 * none_held()), entered by pressure_cells() from main.
 *
 * pressure/swapfile-<vfat|ext4>/<anon|thp|shmem>/<shapes|swapoff>, pressure/swap-discard/...:
 *   swap_cells.h's swap-bdev/ twins on a swap FILE (vfat: mm/page_io.c
 *   generic_swapfile_activate() over bmap; ext4: iomap_swapfile_activate(), turned on with
 *   SWAP_FLAG_DISCARD: discard_swap() over each of its extents) and on the -S loop device
 *   turned on with SWAP_FLAG_DISCARD (mm/swapfile.c discard_swap() at swapon, then
 *   swap_cluster_schedule_discard() for every cluster freed). Beside the twins' checks, each
 *   page-out of private memory is checked ON DISK: for each page swapped out (pagemap's swap
 *   entry), the disk page that its swap slot must be on holds its bytes. Where that is comes
 *   from user space alone: for a swap file, FIBMAP over the file in the model of the kernel's
 *   activation (ps_map_file()), read through the fs's block device with O_DIRECT; for the loop
 *   device, its backing file's page i. The header page (the swap signature) must be intact
 *   after swapon. Premise: the twins', and with discard the device completed discards.
 * pressure/kswapd: pinned pages of every kind (io_uring fixed buffers over anonymous memory
 *   and a memfd, a gup_test long-term pin of a THP, a vmsplice'd ext4 MAP_SHARED file) and
 *   unpinned witnesses (anonymous, ext4 MAP_SHARED), all on node 0, in the -m group; then node 0
 *   is filled with hugetlb pool pages (its nr_hugepages) until its zones are under their low
 *   watermarks, vm.watermark_scale_factor raised so that kswapd's target is more than node 0
 *   holds: kswapd (mm/vmscan.c wakeup_kswapd(), balance_pgdat(), kswapd_shrink_node()) reclaims
 *   what it can of node 0. Nodes other than 0 stay free: the guest never starves. Everything put
 *   back on every exit path. Checks: no pinned page swapped or dropped; every byte both ways
 *   through each pin and the process; the witness back from swap; the file on disk after
 *   drop_caches; no page held and the FOLL_PIN counters back after the unpin. Premise:
 *   pgscan_kswapd and pgsteal_kswapd of the -m group moved (kswapd met the cell's own pages)
 *   and a witness page went out, else SKIP.
 * pressure/memory-high: a child in a group of its own holds pins (io_uring fixed buffers over
 *   anonymous memory and a memfd the parent maps too, a gup_test long-term pin, a vmsplice'd
 *   pipe), then charges past memory.high: on its way back to user space
 *   mem_cgroup_handle_over_high() (reclaim_high(), mem_find_max_overage(),
 *   swap_find_max_overage()) swaps out what it can. Checks: the pinned pages stay, data both
 *   ways through every pin, the witness back; after the child: the FOLL_PIN counters and the
 *   group's memory.current back, no memfd page held. Premise: memory.events high moved and the
 *   group's memory.stat pgsteal moved.
 * pressure/oom/<single|group>: a child in a group of its own at a small memory.max with
 *   memory.swap.max 0 takes the same pins, writes through them, then allocates until the memcg
 *   OOM killer (mem_cgroup_out_of_memory()) kills it; group: memory.oom.group 1 and two more
 *   processes of the group, each with an io_uring pin of its own, all killed together
 *   (mem_cgroup_get_oom_group()). After they are reaped: the FOLL_PIN counters back (io_uring
 *   tears its rings down from a workqueue: waited for), memory.current of the group back near
 *   zero, no page of the memfd held, the memfd holds what the child wrote through its pins.
 *   Premise: memory.events oom_kill (group: oom_group_kill) moved and every process died of
 *   SIGKILL, else SKIP.
 */
#include <linux/fs.h>  /* FIBMAP, FIGETBSZ */
#include <poll.h>
#include <sys/prctl.h>

#define PS_SWAP_PAGES 2048  /* a swap file's pages: 8 MiB, four clusters */
#define PS_PIN_PAGES 16     /* each pinned range's pages */

static const char *const ps_quick[] = {
	"pressure/swapfile-vfat/anon/shapes", "pressure/swapfile-vfat/thp/shapes", "pressure/swapfile-vfat/anon/swapoff",
	"pressure/swapfile-ext4/anon/shapes", "pressure/swapfile-ext4/thp/shapes", "pressure/swapfile-ext4/shmem/swapoff",
	"pressure/swap-discard/thp/shapes", "pressure/swap-discard/anon/swapoff", "pressure/swap-discard/cluster",
	"pressure/kswapd", "pressure/memory-high", "pressure/oom/single", "pressure/oom/group",
};

static int ps_wanted(const char *name) { return BLOCK_WANTED(name, ps_quick); }

/* -- the swap slots on disk --------------------------------------------------------------- */

static struct {
	char disk[160];  /* what is read: the fs's block device (O_DIRECT) or the loop's backing file */
	int direct;
	long *page;      /* swap page i lies at disk page page[i] */
	long n, runs;    /* pages; the kernel's swap extents (runs of pages contiguous on disk) */
	char *head;      /* disk page page[0] before any swapon: swap never writes its page 0 */
} ps_slots;

static int ps_disk_read(long page, char *buf);

/* Swap page 0's disk page as it is before any swapon (the swap header, when the area starts at
 * the file's or the device's start); 0 or -1 */
static int ps_keep_head(void)
{
	free(ps_slots.head);
	ps_slots.head = NULL;
	if (ps_slots.n < 2 || posix_memalign((void **)&ps_slots.head, PAGE, PAGE))
		return -1;
	return ps_disk_read(ps_slots.page[0], ps_slots.head);
}

/* The device node of the block device a file is on (its uevent's DEVNAME) into out */
static int ps_fs_dev(const char *file, char *out, size_t n)
{
	char path[96], line[128];
	struct stat sb;
	FILE *f;
	int ok = 0;

	if (stat(file, &sb))
		return 0;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", major(sb.st_dev), minor(sb.st_dev));
	f = fopen(path, "r");
	while (f && !ok && fgets(line, sizeof(line), f))
		if (!strncmp(line, "DEVNAME=", 8)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(out, n, "/dev/%s", line + 8);
			ok = 1;
		}
	if (f)
		fclose(f);
	return ok;
}

/* Where each page of swap file path lies on its device (FIBMAP), in the model of the kernel's
 * activation: for a file system without ->swap_activate (vfat: generic), mm/page_io.c
 * generic_swapfile_activate(): page i of the area is the i-th run of a page of contiguous
 * blocks, probed block by block in file order, that starts page-aligned on disk; for ext4,
 * fs/iomap/swapfile.c: the file's physically contiguous runs in file order, each rounded in to
 * whole disk pages. Page 0 of the area is never written (the header's place). 0, or -1 */
static int ps_map_file(const char *path, int generic, char *why, size_t n)
{
	int fd = open(path, O_RDONLY), bsz = 0;
	long bpp, last, probe = 0, np = 0;
	struct stat sb;

	free(ps_slots.page);
	ps_slots.page = NULL;
	ps_slots.n = ps_slots.runs = 0;
	if (fd < 0 || fstat(fd, &sb) || ioctl(fd, FIGETBSZ, &bsz) || bsz <= 0 || PAGE % bsz) {
		snprintf(why, n, "FIGETBSZ of %s: %s (block size %d)", path, strerror(errno), bsz);
		goto out;
	}
	bpp = PAGE / bsz;
	last = sb.st_size / bsz;
	ps_slots.page = calloc(PS_SWAP_PAGES, sizeof(long));
	if (!generic) {  /* iomap_swapfile_activate(): physical extents, each cut to whole pages */
		long run = -1, len = 0;

		for (; ps_slots.page && probe <= last && np < PS_SWAP_PAGES; probe++) {
			int b = (int)probe;

			if (probe < last && (ioctl(fd, FIBMAP, &b) || !b)) {
				snprintf(why, n, "FIBMAP of block %ld of %s: %s (got %d)", probe, path, strerror(errno), b);
				goto out;
			}
			if (probe < last && run >= 0 && b == run + len) {
				len++;
				continue;
			}
			for (long pg = (run * bsz + (long)PAGE - 1) / (long)PAGE;
			     run >= 0 && pg < (run + len) * bsz / (long)PAGE && np < PS_SWAP_PAGES; pg++)
				ps_slots.page[np++] = pg;
			run = b;
			len = 1;
		}
		goto mapped;
	}
	while (ps_slots.page && probe + bpp <= last && np < PS_SWAP_PAGES) {
		int first = (int)probe, b = 0;
		long k;

		if (ioctl(fd, FIBMAP, &first) || !first) {
			snprintf(why, n, "FIBMAP of block %ld of %s: %s (got %d)", probe, path, strerror(errno), first);
			goto out;
		}
		if (first % bpp) {
			probe++;
			continue;
		}
		for (k = 1; k < bpp; k++) {
			b = (int)(probe + k);
			if (ioctl(fd, FIBMAP, &b) || b != first + k)
				break;
		}
		if (k < bpp) {  /* discontiguous */
			probe++;
			continue;
		}
		ps_slots.page[np++] = first / bpp;
		probe += bpp;
	}
mapped:
	ps_slots.n = np;
	for (long i = 0; i < np; i++)  /* add_swap_extent() merges pages contiguous on disk */
		ps_slots.runs += !i || ps_slots.page[i] != ps_slots.page[i - 1] + 1;
	if (!ps_fs_dev(path, ps_slots.disk, sizeof(ps_slots.disk)))
		snprintf(why, n, "no block device found for %s", path);
	ps_slots.direct = 1;
out:
	if (fd >= 0)
		close(fd);
	if (!why[0] && ps_slots.n < 2)
		snprintf(why, n, "no page of %s maps as swap", path);
	if (!why[0] && ps_keep_head())
		snprintf(why, n, "cannot read swap page 0 (disk page %ld of %s)", ps_slots.page[0], ps_slots.disk);
	return why[0] ? -1 : 0;
}

/* The loop device's backing file, page i for swap page i */
static int ps_map_loop(const char *dev, char *why, size_t n)
{
	char path[160];
	struct stat sb;
	FILE *f;

	free(ps_slots.page);
	ps_slots.page = NULL;
	snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file", strrchr(dev, '/') ? strrchr(dev, '/') + 1 : dev);
	f = fopen(path, "r");
	if (!f || !fgets(ps_slots.disk, sizeof(ps_slots.disk), f)) {
		snprintf(why, n, "cannot read %s", path);
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	ps_slots.disk[strcspn(ps_slots.disk, "\n")] = 0;
	if (stat(ps_slots.disk, &sb)) {
		snprintf(why, n, "stat %s: %s", ps_slots.disk, strerror(errno));
		return -1;
	}
	ps_slots.n = sb.st_size / (long)PAGE;
	ps_slots.page = calloc(ps_slots.n, sizeof(long));
	for (long i = 0; ps_slots.page && i < ps_slots.n; i++)
		ps_slots.page[i] = i;
	ps_slots.direct = 0;
	if (!ps_slots.page || ps_keep_head()) {
		snprintf(why, n, "cannot read page 0 of %s", ps_slots.disk);
		return -1;
	}
	return 0;
}

/* Disk page i into buf (PAGE bytes, aligned); 0 or -1 */
static int ps_disk_read(long page, char *buf)
{
	int fd = open(ps_slots.disk, O_RDONLY | (ps_slots.direct ? O_DIRECT : 0));
	ssize_t got = fd < 0 ? -1 : pread(fd, buf, PAGE, page * (off_t)PAGE);

	if (fd >= 0)
		close(fd);
	return got == (ssize_t)PAGE ? 0 : -1;
}

/* Swap page 0 on disk as it was before any swapon: swap writes no page 0, discard_swap() starts
 * past it (a discard or a write that meets the header breaks the next swapon) */
static void ps_header_intact(struct cell *c)
{
	char *buf = NULL;
	long d;

	if (posix_memalign((void **)&buf, PAGE, PAGE) || ps_disk_read(ps_slots.page[0], buf))
		cfail(c, "cannot read swap page 0 (disk page %ld of %s): %s", ps_slots.page[0], ps_slots.disk,
		      strerror(errno));
	else if ((d = first_diff(buf, ps_slots.head, PAGE)) >= 0)
		cfail(c, "swap page 0 on disk (page %ld of %s, the header's place) changed at byte %ld after swapon%s",
		      ps_slots.page[0], ps_slots.disk, d, sw_tgt.flags & SWAP_FLAG_DISCARD ? " with discard" : "");
	free(buf);
}

/* The swap offset of the page at addr (pagemap's swap entry; 0 when it is not swapped out) */
static long ps_swap_off(const void *addr) { return (long)((swap_entry_of(addr) >> 5) & ((1ULL << 50) - 1)); }

/* After a page-out: each wanted page that is swapped out (but all zeros: 6.12's zeromap writes
 * none) is on disk where its slot is */
static void ps_slots_hold(struct cell *c, char *map, const char *want, size_t wanted)
{
	char *buf = NULL;
	int seen = 0;

	if (posix_memalign((void **)&buf, PAGE, PAGE)) {
		cfail(c, "out of memory");
		return;
	}
	for (size_t i = 0; i < wanted / PAGE && !c->failed[0]; i++) {
		uint64_t e = swap_entry_of(map + i * PAGE);
		long off = ps_swap_off(map + i * PAGE), d;
		const char *w = want + i * PAGE;

		if (!e || (!w[0] && !memcmp(w, w + 1, PAGE - 1)))
			continue;
		if (off <= 0 || off >= ps_slots.n)
			cfail(c, "page %zu went out to swap offset %ld, outside the area's %ld pages (the header is 0)", i, off,
			      ps_slots.n);
		else if (ps_disk_read(ps_slots.page[off], buf))
			cfail(c, "cannot read disk page %ld of %s: %s", ps_slots.page[off], ps_slots.disk, strerror(errno));
		else if ((d = first_diff(buf, w, PAGE)) >= 0)
			cfail(c, "page %zu swapped out to offset %ld: its slot on disk (page %ld of %s) holds other bytes at "
			      "byte %ld", i, off, ps_slots.page[off], ps_slots.disk, d);
		seen++;
	}
	if (!c->failed[0])
		printf("# %s: %d page(s) swapped out read back from their slots on %s\n", c->name, seen, ps_slots.disk);
	free(buf);
}

/* A swap file of PS_SWAP_PAGES pages (no holes; the header as mkswap(8) writes it; the rest a
 * fill no page of the cells has); 0, or -1 with why */
static int ps_make_swapfile(const char *path, char *why, size_t n)
{
	char *pg = calloc(1, 16 * PAGE);
	uint32_t *info = (uint32_t *)(pg + 1024);  /* union swap_header's info */
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600), ok = fd >= 0 && pg;

	if (ok) {
		info[0] = 1;                   /* version */
		info[1] = PS_SWAP_PAGES - 1;   /* last_page */
		memcpy(pg + PAGE - 10, "SWAPSPACE2", 10);
		memset(pg + PAGE, 0x5c, 15 * PAGE);
		ok = pwrite(fd, pg, 16 * PAGE, 0) == (ssize_t)(16 * PAGE);
		memset(pg, 0x5c, PAGE);
		for (off_t o = 16 * PAGE; ok && o < (off_t)(PS_SWAP_PAGES * PAGE); o += 16 * PAGE)
			ok = pwrite(fd, pg, 16 * PAGE, o) == (ssize_t)(16 * PAGE);
		ok = ok && !fsync(fd) && !posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	}
	if (!ok)
		snprintf(why, n, "cannot write the swap file %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(pg);
	return ok ? 0 : -1;
}

static void ps_swap_on(struct cell *c) { ps_header_intact(c); }

/* The twins of swap_cells.h on one target (sw_tgt set, ps_slots mapped) */
/* The twins of swap_cells.h on one target (sw_tgt set, ps_slots mapped). Not thp/swapoff on a
 * swap file: 6.12 swaps no large folio out to a file whole (no SWP_BLKDEV), the split THP's page
 * of zeros is mapped to the zero page, and the cell skips on it every time. */
static void ps_swap_twins(int file)
{
	for (enum sw_mem m = 0; m < NSWM; m++)
		swap_cell(m, 1);
	for (enum sw_mem m = 0; m < NSWM; m++)
		if (!file || m != SWM_THP)
			swapoff_cell(m, 1);
}

/* One cell by name, when wanted */
static void ps_run(const char *name, void (*run)(struct cell *c, int k), int k)
{
	struct cell c = {.fd = -1};
	double began = now_s();
	unsigned mark = knob_mark();

	snprintf(c.name, sizeof(c.name), "%s", name);
	if (!ps_wanted(c.name) || !begins(c.name))
		return;
	run(&c, k);
	knobs_back(&c, mark);
	verdict(&c, began);
}

/* pressure/swap-discard/cluster: a freed cluster discarded (swap_cluster_schedule_discard(),
 * swap_discard_work()) while another cluster of the area still holds swapped-out pages. The
 * shapes and a THP go out (the THP whole, to a cluster of its own: thp_swpout), the swap cache
 * let go; the THP is unmapped while out, which frees its 512 entries at once (not through the
 * per-CPU slot caches, which would keep some and the cluster in use). The THP goes out first, so
 * the shapes' cluster comes after its (a discard that runs past the freed cluster meets them).
 * Checks: the shapes' slots on disk still hold them once the device completed the discard, and
 * the shapes read back. Premise: the THP went out whole and the device completed a discard
 * after the unmap (2 s), else SKIP. */
static void ps_discard_cluster(struct cell *c, int unused)
{
	struct sw_dev dv = {.name = ""};
	char *shp = NULL, *thp = NULL, *want = malloc(NSWSHAPE * PAGE);
	long thp0 = vmstat("thp_swpout"), io0[3], io[3] = {0, 0, 0}, d;
	unsigned in;

	if (!want || !sw_dev_begin(c, &dv))
		goto out;
	if (!(shp = sw_map(c, SWM_ANON, NSWSHAPE * PAGE)) || !(thp = sw_map(c, SWM_THP, HPAGE)))
		goto out;
	for (int i = 0; i < NSWSHAPE; i++)
		sw_fill(want + i * PAGE, i, 12);
	memcpy(shp, want, NSWSHAPE * PAGE);
	sw_pageout(c, thp, HPAGE);
	if (vmstat("thp_swpout") == thp0 || !swap_entry_of(thp) || !swap_entry_of(thp + HPAGE - PAGE)) {
		cskip(c, "the THP did not go out whole (thp_swpout +%ld): no cluster freed at once", vmstat("thp_swpout") - thp0);
		goto out;
	}
	if ((in = sw_pageout(c, shp, NSWSHAPE * PAGE))) {
		cskip(c, "page %d (%s) never went out to swap", __builtin_ctz(in), sw_shape_names[__builtin_ctz(in)]);
		goto out;
	}
	printf("# %s: the THP in swap cluster %ld, the shapes' first and last pages in %ld and %ld\n", c->name,
	       ps_swap_off(thp) / (long)(HPAGE / PAGE), ps_swap_off(shp) / (long)(HPAGE / PAGE),
	       ps_swap_off(shp + (NSWSHAPE - 1) * PAGE) / (long)(HPAGE / PAGE));
	ps_slots_hold(c, shp, want, NSWSHAPE * PAGE);
	if (c->failed[0] || !sw_dev_ios(dv.name, io0))
		goto out;
	munmap(thp, HPAGE);
	thp = NULL;
	for (int i = 0; i < 200 && sw_dev_ios(dv.name, io) && io[2] <= io0[2]; i++)
		usleep(10 * 1000);
	if (io[2] <= io0[2]) {
		cskip(c, "the device completed no discard in 2 s after the swapped-out THP was unmapped");
		goto out;
	}
	ps_slots_hold(c, shp, want, NSWSHAPE * PAGE);  /* the discard met no live slot */
	if (!c->failed[0] && (d = first_diff(shp, want, NSWSHAPE * PAGE)) >= 0)
		cfail(c, "after the freed cluster's discard page %ld (%s) came back from swap with other bytes at byte %ld",
		      d / (long)PAGE, sw_shape_names[d / (long)PAGE], d % (long)PAGE);
	else if (!c->failed[0])
		printf("# %s: %ld discard(s) completed after the THP's cluster was freed; the shapes' slots and bytes intact\n",
		       c->name, io[2] - io0[2]);
out:
	if (shp)
		munmap(shp, NSWSHAPE * PAGE);
	if (thp)
		munmap(thp, HPAGE);
	sw_dev_end(c, &dv);
	free(want);
}

/* Whether any cell of the prefix is wanted (the swap file is made only then) */
static int ps_any_wanted(const char *prefix)
{
	static const char *const tail[] = {"anon/shapes", "thp/shapes", "shmem/shapes", "anon/swapoff", "thp/swapoff",
					   "shmem/swapoff"};
	char name[96];

	for (size_t i = 0; i < sizeof(tail) / sizeof(tail[0]); i++) {
		snprintf(name, sizeof(name), "%s/%s", prefix, tail[i]);
		if (ps_wanted(name))
			return 1;
	}
	return 0;
}

static void ps_swap_targets(void)
{
	const char *dirs[2] = {vfat_dir, ext4_dir}, *fs[2] = {"vfat", "ext4"};
	char path[200], prefix[64], why[300], rot[200];

	for (int t = 0; t < 3; t++) {
		unsigned mark = knob_mark();

		rot[0] = 0;
		snprintf(prefix, sizeof(prefix), t < 2 ? "pressure/swapfile-%s" : "pressure/swap-discard", t < 2 ? fs[t] : "");
		if (!ps_any_wanted(prefix) && (t < 2 || !ps_wanted("pressure/swap-discard/cluster")))
			continue;
		why[0] = path[0] = 0;
		sw_tgt = (struct sw_target){.prefix = prefix, .why_none = why, .on = ps_swap_on, .out = ps_slots_hold,
					    .wanted = ps_wanted};
		if (t == 2) {
			sw_tgt.flags = SWAP_FLAG_DISCARD;
			if (!bdev_swap)
				snprintf(why, sizeof(why), "no swap on a loop device (-S: guests/pin-matrix.sh could not make one)");
			else if (!ps_map_loop(bdev_swap, why, sizeof(why)))
				sw_tgt.dev = bdev_swap;
		} else if (!dirs[t]) {
			snprintf(why, sizeof(why), "no %s directory given (-%c)", fs[t], t ? 'd' : 'v');
		} else if (!list_only) {
			/* ext4's file is turned on with discard: discard_swap() over each of its extents, a
			 * freed cluster's discard_swap_cluster() through the extent map (vfat's stays without) */
			sw_tgt.flags = t ? SWAP_FLAG_DISCARD : 0;
			snprintf(path, sizeof(path), "%s/pswap.%d", dirs[t], getpid());
			if (!ps_make_swapfile(path, why, sizeof(why)) && !ps_map_file(path, !t, why, sizeof(why)))
				sw_tgt.dev = path;
			/* a non-rotational device: swap gives the file clusters and takes THPs whole */
			if (sw_tgt.dev)
				snprintf(rot, sizeof(rot), "/sys/block/%.60s/queue/rotational", ps_slots.disk + 5);
			if (rot[0] && knob_set(rot, "0", NULL, why, sizeof(why))) {
				printf("# %s: %s\n", prefix, why);
				rot[0] = 0;
			}
			if (sw_tgt.dev)
				printf("# %s: %s, %ld of %d pages usable as swap in %ld extent(s), on %s (rotational %s)%s\n",
				       prefix, path, ps_slots.n, PS_SWAP_PAGES, ps_slots.runs, ps_slots.disk,
				       rot[0] ? "0 for the cells" : "as it was", sw_tgt.flags ? ", with discard" : "");
		}
		ps_swap_twins(t < 2);
		if (t == 2)
			ps_run("pressure/swap-discard/cluster", ps_discard_cluster, 0);
		knobs_back(NULL, mark);
		if (path[0])
			unlink(path);
	}
	sw_tgt = (struct sw_target){0};
}

/* -- the pins a pressure cell holds ------------------------------------------------------- */

struct ps_pins {
	struct io_uring ring;
	int ring_ok, gfd, pipe[2], vfd;
	char *p, *m, *q, *v;      /* anon (io_uring), the memfd (io_uring), gup_test's, vmsplice's */
	size_t qlen;              /* PS_PIN_PAGES pages, or a THP for q */
	char *pw, *mw, *qw, *vw;  /* what each holds */
	char vpath[200];          /* v's ext4 file, when v is one (MAP_SHARED) */
};

#define PS_LEN (PS_PIN_PAGES * PAGE)

/* Map and fill what s pins: m is the caller's (a memfd mapped shared, PS_LEN), q a THP when thp,
 * v an ext4 MAP_SHARED file when vdir; 0, or -1 with why */
static int ps_pins_map(struct ps_pins *s, char *m, int thp, const char *vdir, char *why, size_t n)
{
	*s = (struct ps_pins){.gfd = -1, .pipe = {-1, -1}, .vfd = -1, .m = m};
	s->qlen = thp ? HPAGE : PS_LEN;
	s->p = map_aligned(PS_LEN, PAGE, MADV_NOHUGEPAGE);
	s->q = map_aligned(s->qlen, thp ? HPAGE : PAGE, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	if (vdir) {
		snprintf(s->vpath, sizeof(s->vpath), "%s/pressure-v.%d", vdir, getpid());
		s->vfd = open(s->vpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
		s->v = s->vfd >= 0 && !ftruncate(s->vfd, PS_LEN)
			       ? mmap(NULL, PS_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, s->vfd, 0) : MAP_FAILED;
		s->v = s->v == MAP_FAILED ? NULL : s->v;
	} else {
		s->v = map_aligned(PS_LEN, PAGE, MADV_NOHUGEPAGE);
	}
	s->pw = malloc(PS_LEN);
	s->mw = malloc(PS_LEN);
	s->qw = malloc(s->qlen);
	s->vw = malloc(PS_LEN);
	if (!s->p || !s->q || !s->v || !s->pw || !s->mw || !s->qw || !s->vw) {
		snprintf(why, n, "cannot map or allocate the pinned ranges: %s", strerror(errno));
		return -1;
	}
	fill64(s->p, PS_LEN, 31);
	fill64(s->q, s->qlen, 32);
	fill64(s->v, PS_LEN, 33);
	if (vdir && msync(s->v, PS_LEN, MS_SYNC)) {
		snprintf(why, n, "msync of %s: %s", s->vpath, strerror(errno));
		return -1;
	}
	memcpy(s->pw, s->p, PS_LEN);
	memcpy(s->mw, s->m, PS_LEN);
	memcpy(s->qw, s->q, s->qlen);
	memcpy(s->vw, s->v, PS_LEN);
	if (thp && !is_thp(s->q)) {
		snprintf(why, n, "S:no THP behind gup_test's range (kpageflags)");
		return -1;
	}
	return 0;
}

/* io_uring fixed buffers over p and m, a long-term gup_test pin of q (its own fd: the pin goes
 * when the file is released, as when the process dies), v vmsplice'd into a pipe; 0 or -1 */
static int ps_pins_take(struct ps_pins *s, char *why, size_t n)
{
	struct iovec iov[2] = {{s->p, PS_LEN}, {s->m, PS_LEN}}, vio = {s->v, PS_LEN};
	struct pin_longterm_test pl = {.addr = (uintptr_t)s->q, .size = s->qlen,
				       .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE | PIN_LONGTERM_TEST_FLAG_USE_FAST};
	int e;

	if ((e = io_uring_queue_init(4, &s->ring, 0))) {
		snprintf(why, n, "S:io_uring_queue_init: %s", strerror(-e));
		return -1;
	}
	s->ring_ok = 1;
	if ((e = io_uring_register_buffers(&s->ring, iov, 2))) {
		snprintf(why, n, "io_uring_register_buffers: %s", strerror(-e));
		return -1;
	}
	s->ring_ok = 2;
	if ((s->gfd = open("/sys/kernel/debug/gup_test", O_RDWR)) < 0) {
		snprintf(why, n, "S:no /sys/kernel/debug/gup_test");
		return -1;
	}
	if (ioctl(s->gfd, PIN_LONGTERM_TEST_START, &pl)) {
		snprintf(why, n, "PIN_LONGTERM_TEST_START: %s", strerror(errno));
		close(s->gfd);
		s->gfd = -1;
		return -1;
	}
	if (pipe(s->pipe) || vmsplice(s->pipe[1], &vio, 1, 0) != (ssize_t)PS_LEN) {
		snprintf(why, n, "vmsplice of %zu bytes: %s", PS_LEN, strerror(errno));
		return -1;
	}
	return 0;
}

/* Buffer idx of the ring (at buf, PS_LEN) read through the pin against want, then new bytes
 * (seed) written through it, which the process must read; want is then those */
static int ps_uring_both(struct ps_pins *s, int idx, char *buf, char *want, unsigned seed, const char *what,
			 char *why, size_t n)
{
	char *tmp = malloc(PS_LEN);
	long d;
	int r = -1;

	if (!tmp)
		snprintf(why, n, "out of memory");
	else if (uring_rw(&s->ring, 1, buf, PS_LEN, idx) != (int)PS_LEN || pread(scratch_fd, tmp, PS_LEN, 0) != (ssize_t)PS_LEN)
		snprintf(why, n, "io_uring WRITE_FIXED out of %s failed", what);
	else if ((d = first_diff(tmp, want, PS_LEN)) >= 0)
		snprintf(why, n, "%s read through its io_uring pin differs from what the process wrote at byte %ld", what, d);
	else if ((fill64(want, PS_LEN, seed), pwrite(scratch_fd, want, PS_LEN, 0)) != (ssize_t)PS_LEN ||
		 uring_rw(&s->ring, 0, buf, PS_LEN, idx) != (int)PS_LEN)
		snprintf(why, n, "io_uring READ_FIXED into %s failed", what);
	else if ((d = first_diff(buf, want, PS_LEN)) >= 0)
		snprintf(why, n, "the process reads other bytes in %s than were written through its io_uring pin (byte %ld)",
			 what, d);
	else
		r = 0;
	free(tmp);
	return r;
}

/* Every pinned anonymous page still mapped (present, not swapped): try_to_unmap() must refuse an
 * exclusive anonymous page that may be pinned. (A pinned shmem or file page may be unmapped by
 * reclaim, which then keeps it in the page cache: the data checks see those.) */
static int ps_pins_present(struct ps_pins *s, char *why, size_t n)
{
	struct { const char *name; char *at; size_t len; } r[2] = {
		{"the io_uring anonymous buffer", s->p, PS_LEN}, {"gup_test's range", s->q, s->qlen}};

	for (int k = 0; k < 2; k++)
		for (size_t off = 0; off < r[k].len; off += PAGE) {
			uint64_t e = pagemap(r[k].at + off);

			if (!(e & PM_PRESENT)) {
				snprintf(why, n, "page %zu of %s (pinned) is %s", off / PAGE, r[k].name,
					 e & PM_SWAP ? "swapped out" : "not mapped any more");
				return -1;
			}
		}
	return 0;
}

/* Data both ways through every pin (vmsplice's pipe drained: final only); 0 or -1 with why */
static int ps_pins_check(struct ps_pins *s, int final, unsigned seed, char *why, size_t n)
{
	char *tmp = malloc(s->qlen);
	uint64_t to = (uintptr_t)tmp;
	long d = -1;
	int r = -1;

	if (!tmp) {
		snprintf(why, n, "out of memory");
		return -1;
	}
	if (ps_uring_both(s, 0, s->p, s->pw, seed, "the anonymous buffer", why, n) ||
	    ps_uring_both(s, 1, s->m, s->mw, seed + 1, "the memfd buffer", why, n))
		goto out;
	if (ioctl(s->gfd, PIN_LONGTERM_TEST_READ, &to)) {
		snprintf(why, n, "PIN_LONGTERM_TEST_READ: %s", strerror(errno));
		goto out;
	}
	if ((d = first_diff(tmp, s->qw, s->qlen)) >= 0) {
		snprintf(why, n, "gup_test's pin reads other bytes than the process wrote at byte %ld", d);
		goto out;
	}
	fill64(s->q, s->qlen, seed + 2);
	memcpy(s->qw, s->q, s->qlen);
	if (ioctl(s->gfd, PIN_LONGTERM_TEST_READ, &to) || (d = first_diff(tmp, s->qw, s->qlen)) >= 0) {
		snprintf(why, n, "gup_test's pin does not read the process's new write (byte %ld)", d);
		goto out;
	}
	if (final) {
		size_t got = 0;
		ssize_t k;

		while (got < PS_LEN && (k = read(s->pipe[0], tmp + got, PS_LEN - got)) > 0)
			got += (size_t)k;
		if (got != PS_LEN || (d = first_diff(tmp, s->vw, PS_LEN)) >= 0) {
			snprintf(why, n, "the vmsplice'd pipe gives %zu bytes, other than the pages held at byte %ld", got,
				 got == PS_LEN ? d : -1);
			goto out;
		}
	}
	r = 0;
out:
	free(tmp);
	return r;
}

static void ps_pins_drop(struct ps_pins *s)
{
	if (s->ring_ok == 2)
		io_uring_unregister_buffers(&s->ring);
	if (s->ring_ok)
		io_uring_queue_exit(&s->ring);
	s->ring_ok = 0;
	if (s->gfd >= 0) {
		ioctl(s->gfd, PIN_LONGTERM_TEST_STOP);
		close(s->gfd);
	}
	s->gfd = -1;
	close_pair(s->pipe);
}

static void ps_pins_unmap(struct ps_pins *s)
{
	if (s->p)
		munmap(s->p, PS_LEN);
	if (s->q)
		munmap(s->q, s->qlen);
	if (s->v)
		munmap(s->v, PS_LEN);
	if (s->vfd >= 0)
		close(s->vfd);
	if (s->vpath[0])
		unlink(s->vpath);
	free(s->pw);
	free(s->mw);
	free(s->qw);
	free(s->vw);
	s->p = s->q = s->v = NULL;
}

/* -- memory.high and the memcg OOM killer, in a group of the cell's own --------------------- */

/* A memory cgroup beside -m for the cell (its path in grp; memory.swap.max as swapmax); 0, or -1
 * with the cell told */
static int ps_group(struct cell *c, const char *tag, const char *swapmax, char *grp, size_t n)
{
	char p[600];

	if (!memcg_dir) {
		cskip(c, "no memory cgroup given (-m)");
		return -1;
	}
	snprintf(grp, n, "%.*s/pinbench-pressure-%s.%d", (int)(strrchr(memcg_dir, '/') - memcg_dir), memcg_dir, tag,
		 getpid());
	if (mkdir(grp, 0755)) {
		cfail(c, "mkdir %s: %s", grp, strerror(errno));
		return -1;
	}
	ra_path(p, sizeof(p), grp, "memory.swap.max");
	if (!write_file(p, swapmax)) {
		cfail(c, "cannot write %s to %s: %s", swapmax, p, strerror(errno));
		rmdir(grp);
		return -1;
	}
	return 0;
}

/* The user pages the group still has charged: its LRU lists (memory.stat active/inactive anon and
 * file, unevictable), where a page a leaked pin or reference keeps stays after the child's exit
 * unmapped it, until freed; not memory.current, whose slab and socket charges outlive a child
 * (31 pages of them in the whole default set, run 20261207-121656), nor memory.stat anon + file,
 * which drop at unmap and page-cache removal. Once the per-CPU charge stocks are drained and
 * reclaim ran (memory.high written under the usage: memory_high_write()), at most most bytes (3 s;
 * memory.stat is flushed every 2 s); -1 when memory.stat is unreadable. */
static long ps_group_settle(const char *grp, long most)
{
	static const char *const lru[] = {"active_anon", "inactive_anon", "active_file", "inactive_file", "unevictable"};
	char st[600], h[600];
	long cur = -1;

	ra_path(st, sizeof(st), grp, "memory.stat");
	ra_path(h, sizeof(h), grp, "memory.high");
	for (int i = 0; i < 30; i++) {
		write_file(h, "0");
		write_file(h, "max");
		cur = 0;
		for (size_t k = 0; k < sizeof(lru) / sizeof(lru[0]) && cur >= 0; k++) {
			long v = key_value(st, lru[k]);

			cur = v < 0 ? -1 : cur + v;
		}
		if (cur >= 0 && cur <= most)
			break;
		usleep(100 * 1000);
	}
	return cur;
}

/* The child joins grp; "" or why (the first char F or S: fail or skip) */
static int ps_join(const char *grp, char *why, size_t n)
{
	char p[600], pid[32];

	ra_path(p, sizeof(p), grp, "cgroup.procs");
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (!write_file(p, pid)) {
		snprintf(why, n, "F:cannot join %s: %s", grp, strerror(errno));
		return -1;
	}
	return 0;
}

/* A child's verdict line to the parent, then exit */
static void ps_say(int out, const char *why)
{
	if (write(out, why, strlen(why) + 1) < 0)
		_exit(2);
	_exit(0);
}

/* Whether why, as ps_pins_*() left it, is a skip ("S:"); the rest fail */
static const char *ps_why(const char *why, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s", !strncmp(why, "S:", 2) || !strncmp(why, "F:", 2) ? "" : "F:", why);
	return buf;
}

#define PS_WITNESS (64 * PAGE)
#define PS_HOG (4 << 20)  /* memory-high's charges past memory.high */
#define PS_HIGH_SLACK (1L << 20)  /* how far past memory.high the group may stay after them */

/* memory-high's child: pins, a witness, memory.high just above what it holds, then PS_HOG of new
 * charges; the pins and the witness checked after */
static void ps_high_child(const char *grp, char *m, int out, int unused)
{
	struct ps_pins s;
	char why[300] = "", buf[320], p[600], v[32];
	char *w = NULL, *h = NULL, *exp = malloc(PS_WITNESS);
	long d = -1, high, after;
	int swapped = 0;

	if (ps_join(grp, why, sizeof(why)) || ps_pins_map(&s, m, 0, NULL, why, sizeof(why)) ||
	    ps_pins_take(&s, why, sizeof(why)))
		ps_say(out, ps_why(why, buf, sizeof(buf)));
	if (!(w = map_aligned(PS_WITNESS, PAGE, MADV_NOHUGEPAGE)) || !(h = map_aligned(PS_HOG, PAGE, MADV_NOHUGEPAGE)) || !exp)
		ps_say(out, "F:cannot map the witness or the charges");
	fill64(w, PS_WITNESS, 41);
	if (ps_pins_check(&s, 0, 50, why, sizeof(why)))
		ps_say(out, ps_why(why, buf, sizeof(buf)));
	ra_path(p, sizeof(p), grp, "memory.current");
	high = read_long(p) + 64 * (long)PAGE;
	snprintf(v, sizeof(v), "%ld", high);
	ra_path(p, sizeof(p), grp, "memory.high");
	if (!write_file(p, v))
		ps_say(out, "F:cannot write memory.high");
	for (size_t off = 0; off < PS_HOG; off += PAGE)  /* each fault charges; over high: reclaim_high() */
		h[off] = (char)off | 1;
	ra_path(p, sizeof(p), grp, "memory.current");
	after = read_long(p);
	for (size_t off = 0; off < PS_WITNESS; off += PAGE)
		swapped += !!(pagemap(w + off) & PM_SWAP);
	if (ps_pins_present(&s, why, sizeof(why)) || ps_pins_check(&s, 1, 60, why, sizeof(why)))
		ps_say(out, ps_why(why, buf, sizeof(buf)));
	fill64(exp, PS_WITNESS, 41);
	if ((d = first_diff(w, exp, PS_WITNESS)) >= 0)
		ps_say(out, (snprintf(why, sizeof(why), "F:the witness came back from swap with other bytes at byte %ld", d), why));
	ps_pins_drop(&s);
	snprintf(why, sizeof(why), "P:memory.high %ld, memory.current %ld after the charges, %d of %zu witness pages swapped out",
		 high, after, swapped, PS_WITNESS / PAGE);
	ps_say(out, why);
}

/* What a group may still have charged once its processes are gone (healthy 6.12: 1-18 pages of
 * kernel memory, waited for up to 3 s); a pinned range left charged is PS_PIN_PAGES more */
#define PS_LEFT (20 * (long)PAGE)

/* After the cell's children: the FOLL_PIN counters, memory.current of grp, the memfd's pages */
static void ps_after(struct cell *c, const struct pinmark *mark, const char *grp, char *m, const char *after)
{
	long cur;

	pins_back(c, mark, after);
	if ((cur = ps_group_settle(grp, PS_LEFT)) < 0)
		cfail(c, "cannot read the group's memory.stat after %s", after);
	else if (cur > PS_LEFT)
		cfail(c, "the group still has %ld bytes of user pages on its LRU lists after %s (at most %ld expected: "
		      "pages of it kept)", cur, after, PS_LEFT);
	none_held(c, m, PS_LEN, after);
	printf("# %s: %ld bytes on the group's LRU lists after %s\n", c->name, cur, after);
}

/* A memfd of PS_LEN mapped shared (the pins' m), filled; NULL with the cell failed */
static char *ps_memfd(struct cell *c)
{
	char *m;

	c->fd = memfd_create("pressure", 0);
	m = c->fd >= 0 && !ftruncate(c->fd, PS_LEN) ? mmap(NULL, PS_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0)
						   : MAP_FAILED;
	if (m == MAP_FAILED) {
		cfail(c, "memfd: %s", strerror(errno));
		return NULL;
	}
	fill64(m, PS_LEN, 30);
	return m;
}

/* A child's whole run, to the last process of its group gone (healthy: 0.2-4.6 s; memory-high
 * with memory.high's reclaim broken, scratch reclaim-high-margin: 32 s, a FAIL of its own) */
#define PS_CHILD_S 60.0
#define PS_KILLED_S 10.0  /* then, once the group is killed (cgroup.kill), for the child to be reaped */

/* 1 once pid is reaped (its status in *st), 0 if it has not ended by until (now_s()), -1 on error */
static int ps_reaped(pid_t pid, int *st, double until)
{
	for (;;) {
		pid_t r = waitpid(pid, st, WNOHANG);

		if (r == pid)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_s() >= until)
			return 0;
		usleep(10 * 1000);
	}
}

/* A child of the cell: run(grp, m, out, arg), which exits; its verdict line (F:, S:, or what
 * it says when done) read until the pipe closes (every process of the group gone), its status in
 * *st; -1 with the cell failed when it cannot start. Bounded: a child (or a process of its group)
 * not gone PS_CHILD_S after the start has the whole group killed (cgroup.kill) and the cell
 * failed saying where the child slept; 0 then, the caller's cleanup to run. */
static int ps_spawn(struct cell *c, const char *grp, char *m, void (*run)(const char *, char *, int, int), int arg,
		    char *why, size_t n, int *st)
{
	int io[2], r = 0;
	size_t got = 0;
	ssize_t k;
	pid_t pid;
	double t0 = now_s();
	const char *late = NULL;

	if (pipe(io)) {
		cfail(c, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = cell_fork()) < 0) {
		cfail(c, "fork: %s", strerror(errno));
		close_pair(io);
		return -1;
	}
	if (pid == 0) {
		close(io[0]);
		run(grp, m, io[1], arg);
	}
	close(io[1]);
	for (;;) {  /* to the pipe's end: what passes n - 1 bytes is read and dropped */
		struct pollfd pf = {.fd = io[0], .events = POLLIN};
		int left = (int)((t0 + PS_CHILD_S - now_s()) * 1000);
		char drop[64];

		if (left <= 0 || (r = poll(&pf, 1, left)) == 0) {
			late = "the pipe still open";
			break;
		}
		if (r < 0 && errno == EINTR)
			continue;
		k = r < 0 ? -1 : got < n - 1 ? read(io[0], why + got, n - 1 - got) : read(io[0], drop, sizeof(drop));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			cfail(c, "reading the child's pipe: %s", strerror(errno));
			late = "its pipe unreadable";
			break;
		}
		if (k == 0)
			break;
		if (got < n - 1)
			got += (size_t)k;
	}
	why[got] = 0;
	close(io[0]);
	if (!late && (r = ps_reaped(pid, st, t0 + PS_CHILD_S)) < 0)
		cfail(c, "waitpid: %s", strerror(errno));
	else if (!late && !r)
		late = "its pipe closed, the child not reaped";
	if (late) {
		char p[600], wchan[80] = "?";
		int fd;

		snprintf(p, sizeof(p), "/proc/%d/wchan", pid);
		if ((fd = open(p, O_RDONLY)) >= 0) {
			k = read(fd, wchan, sizeof(wchan) - 1);
			wchan[k > 0 ? k : 0] = 0;
			close(fd);
		}
		ra_path(p, sizeof(p), grp, "cgroup.kill");
		k = write_file(p, "1");
		r = ps_reaped(pid, st, now_s() + PS_KILLED_S);
		cfail(c, "the child (or a process of its group) had not ended %.0f s after its start (%s; the child asleep in "
		      "%s, having said \"%s\"): %s, the child %s %.0f s on", PS_CHILD_S, late, wchan[0] ? wchan : "?", why,
		      k ? "its group killed by cgroup.kill" : "cgroup.kill could not be written",
		      r > 0 ? "reaped within" : "still not reaped", PS_KILLED_S);
	}
	return 0;
}

/* The memfd holds what the child last wrote through its io_uring pin of it (fill64 of seed) */
static void ps_memfd_holds(struct cell *c, char *m, unsigned seed, const char *who)
{
	char *want = malloc(PS_LEN);
	long d;

	fill64(want, PS_LEN, seed);
	if (want && (d = first_diff(m, want, PS_LEN)) >= 0)
		cfail(c, "the memfd does not hold what %s wrote through its pin (byte %ld)", who, d);
	free(want);
}

static void ps_memory_high(struct cell *c, int unused)
{
	char grp[600], p[600], why[320];
	struct pinmark mark;
	int st = 0;
	char *m;
	long events, steal, peak, high = 0, after = 0;

	if (!swap_on()) {
		cskip(c, "no swap in /proc/swaps: memory.high would only throttle");
		return;
	}
	if (!(m = ps_memfd(c)) || ps_group(c, "high", "max", grp, sizeof(grp)))
		goto unmap;
	pin_mark(&mark);
	if (ps_spawn(c, grp, m, ps_high_child, 0, why, sizeof(why), &st))
		goto drop;
	events = ra_event(grp, "high");
	ra_path(p, sizeof(p), grp, "memory.stat");
	steal = key_value(p, "pgsteal");
	ra_path(p, sizeof(p), grp, "memory.peak");
	peak = read_long(p);
	printf("# %s: memory.peak %ld, memory.events high %ld, pgsteal %ld; the child: %s\n", c->name, peak, events,
	       steal, why);
	if (why[0] == 'F')
		cfail(c, "%s", why + 2);
	else if (why[0] == 'S')
		cskip(c, "%s", why + 2);
	else if (why[0] != 'P' || !WIFEXITED(st) || WEXITSTATUS(st) ||
		 sscanf(why, "P:memory.high %ld, memory.current %ld", &high, &after) != 2)
		cfail(c, "the child ended with status 0x%x, saying \"%s\"", st, why);
	else if (peak <= high)
		cskip(c, "the group's charges never went past memory.high %ld (memory.peak %ld)", high, peak);
	else if (events <= 0 || steal <= 0)
		cfail(c, "the group went to %ld bytes past memory.high %ld with swap on, and memory.events high is %ld, "
		      "memory.stat pgsteal %ld: no reclaim for memory.high", peak - high, high, events, steal);
	else if (after > high + PS_HIGH_SLACK)
		cfail(c, "memory.current is %ld bytes past memory.high after the charges (swap on, the rest reclaimable): "
		      "reclaim_high() did not bring it back", after - high);
	if (!c->failed[0])
		ps_memfd_holds(c, m, 61, "the child");  /* its final check's write */
	ps_after(c, &mark, grp, m, "the child exited");
drop:
	ra_group_drop(grp);
unmap:
	if (m)
		munmap(m, PS_LEN);
	cell_file_close(c);
}

#define PS_OOM_ROOM (256 * PAGE)  /* memory.max: what the child holds once pinned, and this */
#define PS_OOM_MOST (64 << 20)    /* what the child charges at most before it must be dead */
#define PS_PEERS 2                /* oom/group: processes of the group beside the child */

/* A peer of oom/group: an io_uring pin of its own, then waits to be killed with the group */
static void ps_peer(int out)
{
	struct io_uring r;
	char *b = map_aligned(PS_LEN, PAGE, MADV_NOHUGEPAGE);
	struct iovec iov = {b, PS_LEN};
	char ok = 'r';

	if (!b || io_uring_queue_init(2, &r, 0))
		ok = 'x';
	else if ((fill64(b, PS_LEN, 70), io_uring_register_buffers(&r, &iov, 1)))
		ok = 'x';
	if (write(out, &ok, 1) != 1 || ok != 'r')
		_exit(1);
	for (;;)
		pause();
}

/* oom's child: joins grp, pins (and starts its peers), writes through the pins, says "R" and its
 * peers' pids, sets memory.max, then charges until the OOM killer comes */
static void ps_oom_child(const char *grp, char *m, int out, int group)
{
	struct ps_pins s;
	char why[300] = "", buf[320], p[600], v[32];
	pid_t peer[PS_PEERS] = {0};
	int up[2];
	char *h;

	if (ps_join(grp, why, sizeof(why)) || ps_pins_map(&s, m, 0, NULL, why, sizeof(why)) ||
	    ps_pins_take(&s, why, sizeof(why)) || ps_pins_check(&s, 0, 50, why, sizeof(why)))
		ps_say(out, ps_why(why, buf, sizeof(buf)));
	for (int i = 0; group && i < PS_PEERS; i++) {
		char x = 0;

		if (pipe(up) || (peer[i] = cell_fork()) < 0)
			ps_say(out, "F:pipe/fork of a peer failed");
		if (peer[i] == 0) {
			close(up[0]);
			close(out);  /* the parent reads until the group is gone */
			ps_peer(up[1]);
		}
		close(up[1]);
		if (read(up[0], &x, 1) != 1 || x != 'r')
			ps_say(out, "F:a peer could not register its io_uring buffer");
		close(up[0]);
	}
	snprintf(buf, sizeof(buf), "R %d %d", peer[0], peer[1]);
	if (write(out, buf, strlen(buf) + 1) < 0)
		_exit(2);
	ra_path(p, sizeof(p), grp, "memory.current");
	snprintf(v, sizeof(v), "%ld", read_long(p) + (long)PS_OOM_ROOM);
	ra_path(p, sizeof(p), grp, "memory.max");
	if (!write_file(p, v))
		ps_say(out, "F:cannot write memory.max");
	if (!(h = map_aligned(PS_OOM_MOST, PAGE, MADV_NOHUGEPAGE)))
		ps_say(out, "F:cannot map the charges");
	for (size_t off = 0; off < PS_OOM_MOST; off += PAGE)
		h[off] = 1;
	ps_say(out, "F:charged 64 MiB past memory.max with swap off and was not OOM-killed");
}

static void ps_oom(struct cell *c, int group)
{
	char grp[600], p[600], why[320] = "";
	struct pinmark mark;
	int st = 0, sub = 0;
	pid_t peer[PS_PEERS] = {0};
	char *m;
	long kills, gkills;

	if (!(m = ps_memfd(c)) || ps_group(c, group ? "oomg" : "oom", "0", grp, sizeof(grp)))
		goto unmap;
	if (group) {
		ra_path(p, sizeof(p), grp, "memory.oom.group");
		if (!write_file(p, "1")) {
			cfail(c, "cannot write 1 to %s: %s", p, strerror(errno));
			goto drop;
		}
		sub = !prctl(PR_SET_CHILD_SUBREAPER, 1);  /* the peers' parent dies first: reaped here */
	}
	pin_mark(&mark);
	if (ps_spawn(c, grp, m, ps_oom_child, group, why, sizeof(why), &st))
		goto drop;
	if (!strncmp(why, "R ", 2))
		sscanf(why + 2, "%d %d", &peer[0], &peer[1]);
	for (int i = 0; i < PS_PEERS; i++) {  /* each peer dead of the group's kill within 10 s, else killed here */
		int pst = 0, k;

		for (k = 0; peer[i] > 0 && k < 1000 && waitpid(peer[i], &pst, WNOHANG) == 0; k++)
			usleep(10 * 1000);  /* at once; a loaded TCG guest stalls for seconds */
		if (peer[i] > 0 && k == 1000) {
			kill(peer[i], SIGKILL);
			waitpid(peer[i], &pst, 0);
			cfail(c, "peer %d of the group was still alive 10 s after the OOM kill (memory.oom.group 1)", peer[i]);
		} else if (peer[i] > 0 && !(WIFSIGNALED(pst) && WTERMSIG(pst) == SIGKILL)) {
			cfail(c, "peer %d ended with status 0x%x, not SIGKILL", peer[i], pst);
		}
	}
	kills = ra_event(grp, "oom_kill");
	gkills = ra_event(grp, "oom_group_kill");
	printf("# %s: memory.events oom %ld oom_kill %ld oom_group_kill %ld; the child: status 0x%x, \"%s\"\n", c->name,
	       ra_event(grp, "oom"), kills, gkills, st, why);
	if (c->failed[0])
		;  /* said */
	else if (why[0] == 'F')
		cfail(c, "%s", why + 2);
	else if (why[0] == 'S')
		cskip(c, "%s", why + 2);
	else if (why[0] != 'R')
		cfail(c, "the child ended with status 0x%x before it was ready, saying \"%s\"", st, why);
	else if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
		cfail(c, "the child ended with status 0x%x, not killed by SIGKILL", st);
	else if (kills <= 0 || (group && gkills <= 0))
		cskip(c, "the child died of SIGKILL, but memory.events says oom_kill %ld, oom_group_kill %ld", kills, gkills);
	if (!c->failed[0])
		ps_memfd_holds(c, m, 51, "the killed child");  /* its check's write, before the charges */
	ps_after(c, &mark, grp, m, group ? "the group was OOM-killed" : "the child was OOM-killed");
drop:
	if (sub)
		prctl(PR_SET_CHILD_SUBREAPER, 0);
	ra_group_drop(grp);
unmap:
	if (m)
		munmap(m, PS_LEN);
	cell_file_close(c);
}

/* -- kswapd: node 0 filled with hugetlb pool pages under pins ------------------------------- */

#define PS_NODE0_HUGE "/sys/devices/system/node/node0/hugepages/hugepages-2048kB/nr_hugepages"
#define PS_WSF "/proc/sys/vm/watermark_scale_factor"
#define PS_WSF_HIGH "3000"  /* the most 6.12 takes: low and high 30% and 60% of a zone above min */
#define PS_KSWAPD_WAIT 3.0  /* seconds kswapd is given once node 0 is under its low watermarks */

/* Pages node 0's zones hold free over their low watermarks (and their lowmem reserves), summed;
 * its free pages in *free */
static long ps_node0_over_low(long *free)
{
	FILE *f = fopen("/proc/zoneinfo", "r");
	char line[256];
	long v, fr = 0, over = 0, zfree = 0, low = 0, res = 0;
	int in = 0;

	*free = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Node ", 5)) {
			if (in && zfree > low + res)
				over += zfree - low - res;
			in = !strncmp(line, "Node 0,", 7);
			zfree = low = res = 0;
		} else if (in && sscanf(line, " pages free %ld", &v) == 1) {
			zfree = v;
			fr += v;
		} else if (in && sscanf(line, " low %ld", &v) == 1) {
			low = v;
		} else if (in && !strncmp(line, "        protection: (", 21)) {
			char *last = strrchr(line, ',');  /* the reserve against the highest zone's allocations */

			res = last ? atol(last + 1) : 0;
		}
	}
	if (in && zfree > low + res)
		over += zfree - low - res;
	if (f)
		fclose(f);
	*free = fr;
	return over;
}

/* The kswapd witnesses out of memory: anonymous ones swapped, file ones dropped (dump_cells.h) */
static long ps_swapped(char *p, size_t len) { return pages_out(&(struct cell){.mem = ANON}, p, len); }
static long ps_not_resident(char *p, size_t len) { return pages_out(&(struct cell){.mem = FILESH}, p, len); }

/* The event: node 0 under its low watermarks, kswapd given PS_KSWAPD_WAIT s (until the group's
 * pgsteal_kswapd moved and the witness went out); both knobs back. Said in *said */
static void ps_kswapd_event(struct cell *c, char *w, char *wf, char *said, size_t n)
{
	char v[32];
	unsigned mark = knob_mark();
	long free0, over = ps_node0_over_low(&free0), was, add, got = -1, steal0 = memcg_stat("pgsteal_kswapd");
	double t0 = now_s(), t1 = 0;

	if (cell_knob(c, PS_WSF, PS_WSF_HIGH, NULL))
		return;
	over = ps_node0_over_low(&free0);  /* the watermarks moved */
	add = over / 512 + 8;              /* 16 MiB under low */
	snprintf(v, sizeof(v), "%ld", (was = read_long(PS_NODE0_HUGE)) + add);
	if (was < 0)
		cskip(c, "cannot read %s", PS_NODE0_HUGE);
	if (was < 0 || cell_knob(c, PS_NODE0_HUGE, v, NULL))
		goto back;
	got = read_long(PS_NODE0_HUGE) - was;
	t1 = now_s();
	while (now_s() - t1 < PS_KSWAPD_WAIT &&
	       (memcg_stat("pgsteal_kswapd") == steal0 || (!ps_swapped(w, PS_WITNESS) && ps_not_resident(wf, PS_LEN) <= 0)))
		usleep(20 * 1000);
	ps_node0_over_low(&free0);
back:
	knobs_back(c, mark);  /* the pool, then the watermarks */
	snprintf(said, n, "node 0: %ld pages over low, %ld of %ld hugetlb pages taken in %.2f s, %ld pages free after "
		 "%.2f s of kswapd", over, got, add, t1 - t0, free0, t1 ? now_s() - t1 : 0);
}

static void ps_kswapd(struct cell *c, int unused)
{
	unsigned long node0 = 1;
	struct ps_pins s = {.gfd = -1, .pipe = {-1, -1}, .vfd = -1};
	struct pinmark mark;
	char why[300] = "", said[300] = "", wpath[300] = "", *w = NULL, *wf = NULL, *m = NULL, *exp = malloc(PS_WITNESS);
	long scan0, steal0, gscan0, gsteal0, sw0, wout = 0, fout = 0, d;
	int wfd = -1, bound = 0, taken = 0;

	if (numa_nodes() < 2 || !swap_on() || !ext4_dir || !exp) {
		cskip(c, "%s", numa_nodes() < 2 ? "one NUMA node: node 0 cannot be filled without starving the guest"
			 : !swap_on() ? "no swap in /proc/swaps" : "no ext4 directory given (-d)");
		goto out;
	}
	if (memcg_cell_enter(c))  /* the group's pgscan_kswapd says kswapd met the cell's pages */
		goto out;
	if (syscall(SYS_set_mempolicy, MPOL_BIND, &node0, 64)) {
		cfail(c, "set_mempolicy(MPOL_BIND, node 0): %s", strerror(errno));
		goto out;
	}
	bound = 1;
	if (!(m = ps_memfd(c)) || ps_pins_map(&s, m, 1, ext4_dir, why, sizeof(why)))
		goto out;
	snprintf(wpath, sizeof(wpath), "%s/pressure-wf.%d", ext4_dir, getpid());
	wfd = open(wpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	wf = wfd >= 0 && !ftruncate(wfd, PS_LEN) ? mmap(NULL, PS_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, wfd, 0) : MAP_FAILED;
	w = map_aligned(PS_WITNESS, PAGE, MADV_NOHUGEPAGE);
	if (wf == MAP_FAILED || !w) {
		wf = wf == MAP_FAILED ? NULL : wf;
		cfail(c, "cannot map the witnesses: %s", strerror(errno));
		goto out;
	}
	fill64(w, PS_WITNESS, 41);
	fill64(wf, PS_LEN, 42);
	if (msync(wf, PS_LEN, MS_SYNC)) {  /* kswapd writes back no file page: clean */
		cfail(c, "msync: %s", strerror(errno));
		goto out;
	}
	syscall(SYS_set_mempolicy, 0, NULL, 0);  /* MPOL_DEFAULT: what comes back may come anywhere */
	bound = 0;
	pin_mark(&mark);
	taken = 1;
	if (ps_pins_take(&s, why, sizeof(why)) || ps_pins_check(&s, 0, 50, why, sizeof(why)))
		goto out;
	scan0 = memcg_stat("pgscan_kswapd");
	steal0 = memcg_stat("pgsteal_kswapd");
	gscan0 = vmstat("pgscan_kswapd");
	gsteal0 = vmstat("pgsteal_kswapd");
	sw0 = vmstat("pswpout");
	ps_kswapd_event(c, w, wf, said, sizeof(said));
	wout = ps_swapped(w, PS_WITNESS);
	fout = ps_not_resident(wf, PS_LEN);
	printf("# %s: %s; kswapd: pgscan +%ld pgsteal +%ld (the group's +%ld +%ld), pswpout +%ld; witness: %ld of %zu "
	       "anonymous pages swapped, %ld of %zu file pages dropped\n", c->name, said, vmstat("pgscan_kswapd") - gscan0,
	       vmstat("pgsteal_kswapd") - gsteal0, memcg_stat("pgscan_kswapd") - scan0, memcg_stat("pgsteal_kswapd") - steal0,
	       vmstat("pswpout") - sw0, wout, PS_WITNESS / PAGE, fout, PS_LEN / PAGE);
	if (c->failed[0] || c->skip[0])
		goto out;
	if (ps_pins_present(&s, why, sizeof(why)) || ps_pins_check(&s, 1, 60, why, sizeof(why)))
		goto out;
	if ((d = first_diff(w, (fill64(exp, PS_WITNESS, 41), exp), PS_WITNESS)) >= 0)
		cfail(c, "the anonymous witness came back with other bytes at byte %ld", d);
	else if ((d = first_diff(wf, (fill64(exp, PS_LEN, 42), exp), PS_LEN)) >= 0)
		cfail(c, "the ext4 witness reads other bytes at byte %ld after kswapd", d);
	else {  /* the vmsplice'd file: the process's write on disk */
		struct cell fc = {.mem = FILESH, .fd = s.vfd, .cur = s.v, .half = PS_LEN, .mapped = 1};

		fill64(s.v, PS_LEN, 43);
		snprintf(fc.path, sizeof(fc.path), "%s", s.vpath);
		check_disk(&fc, (fill64(exp, PS_LEN, 43), exp), 0, "the vmsplice'd ext4 file after kswapd");
		if (fc.failed[0])
			cfail(c, "%s", fc.failed);
	}
	if (c->failed[0])
		goto out;
	if (memcg_stat("pgscan_kswapd") <= scan0 || memcg_stat("pgsteal_kswapd") <= steal0)
		cskip(c, "kswapd did not reclaim the cell's group (its pgscan_kswapd +%ld, pgsteal_kswapd +%ld): %s",
		      memcg_stat("pgscan_kswapd") - scan0, memcg_stat("pgsteal_kswapd") - steal0, said);
	else if (!wout && fout <= 0)
		cskip(c, "kswapd took no witness page: %s", said);
out:
	if (bound)
		syscall(SYS_set_mempolicy, 0, NULL, 0);
	if (why[0] && !strncmp(why, "S:", 2))
		cskip(c, "%s", why + 2);
	else if (why[0])
		cfail(c, "%s", why);
	ps_pins_drop(&s);
	if (taken) {
		pins_back(c, &mark, "the unpin");
		if (!c->failed[0] && s.p) {
			none_held(c, s.p, PS_LEN, "the unpin");
			none_held(c, s.q, s.qlen, "the unpin");
		}
	}
	ps_pins_unmap(&s);
	if (w)
		munmap(w, PS_WITNESS);
	if (wf)
		munmap(wf, PS_LEN);
	if (wfd >= 0)
		close(wfd);
	if (wpath[0])
		unlink(wpath);
	if (m)
		munmap(m, PS_LEN);
	cell_file_close(c);
	memcg_leave();
	free(exp);
}

static void ps_oom_cell(struct cell *c, int k) { ps_oom(c, k); }

static const char *const ps_oom_names[] = {"single", "group"};

static void pressure_cells(void)
{
	static const struct cell_entry table[] = {
		{"pressure/kswapd", ps_kswapd}, {"pressure/memory-high", ps_memory_high},
		{"pressure/oom/", ps_oom_cell, ps_oom_names, 2}};

	ps_swap_targets();
	for (size_t e = 0; e < sizeof(table) / sizeof(table[0]); e++)
		for (int k = 0; k < (table[e].names ? table[e].n : 1); k++) {
			char name[96];

			snprintf(name, sizeof(name), "%s%s", table[e].name, table[e].names ? table[e].names[k] : "");
			ps_run(name, table[e].run, k);
		}
}
