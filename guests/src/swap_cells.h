/* swap/<memory>/shapes: what swap gives back, for pages of every content shape that the swap
 * path treats specially (issue 20; after round 4 of docs/redteam.md, whose zram bug no cell
 * reached: every cell that swaps writes fill64() patterns, which no special case matches).
 * On the way out a page may never reach the device: a page of zeros is only marked in the
 * swap device's zeromap (6.12 mm/page_io.c is_folio_zero_filled()); zram stores a page whose
 * 8-byte words are all equal as that one word (drivers/block/zram/zram_drv.c
 * page_same_filled()), an incompressible page uncompressed (huge), the rest compressed. Each
 * shape below sits next to the edge of one of those tests: equal words but for the first,
 * the last or a middle one, zeros but for one byte at either end, two word values
 * alternating. A swap path that takes a near miss for a hit gives back the wrong page, with
 * no error.
 *
 * One buffer of NSWSHAPE pages, one shape a page, is paged out (MADV_PAGEOUT, to zram in the
 * default set: guests/pin-matrix.sh) and read back by a fault; then every page changes (the
 * same shapes with other values), goes out again and comes back through swap readahead
 * (MADV_WILLNEED) before the fault, so the device's slots are rewritten and read by both
 * ways in. A third round changes every page's shape (page i takes shape i + 1: zeros become a
 * repeated word, a pattern becomes random bytes, random bytes become zeros) while it is still in
 * the swap cache from the second (read faults keep the entry), so it goes out again to the
 * entry it kept: what the swap device remembers of an entry's last content (6.12's zeromap bit,
 * zram's same-filled and huge flags of a slot, zswap's entry) must not outlive a rewrite. The
 * # line says how many pages went out to the entry they kept (pagemap; anonymous memory only). Memory: private anonymous, THP (the shapes in the first pages of one 2 MiB page,
 * the whole of it paged out: whether it goes out whole, thp_swpout, or split first is the
 * kernel's choice, and the # line says which) and shmem (a memfd mapped shared: shmem's own
 * swap path). Premise: every shape went out at least once in the two rounds (anonymous:
 * pagemap's swap bit; shmem: mincore() says not resident; three MADV_PAGEOUTs a round), else
 * SKIP naming the shapes that never did.
 * Part of pin_matrix.c (struct cell, verdict()), after dump_cells.h (pages_out()).
 */
#include <sys/sysmacros.h>

enum sw_mem { SWM_ANON, SWM_THP, SWM_SHMEM, NSWM };
static const char *const sw_mem_names[NSWM] = {"anon", "thp", "shmem"};
enum sw_shape { SH_ZERO, SH_SAME, SH_SAME_BUT_FIRST, SH_SAME_BUT_LAST, SH_SAME_BUT_MIDDLE, SH_ZERO_BUT_LAST_BYTE,
		SH_ZERO_BUT_FIRST_BYTE, SH_SAME_BUT_LAST_BYTE, SH_REPEAT4, SH_ONES, SH_HALF_ZERO, SH_PATTERN,
		SH_RANDOM, NSWSHAPE };
static const char *const sw_shape_names[NSWSHAPE] = {
	"zeros", "one word repeated", "one word repeated but the first", "one word repeated but the last",
	"one word repeated but one in the middle", "zeros but the last byte", "zeros but the first byte",
	"one word repeated but the last byte", "two word values alternating", "all 0xff",
	"zeros, then a pattern", "a pattern (fill64)", "random bytes (incompressible)"};

/* Where the twins on a device swap (swap_cells() sets the swap-bdev/ one, pressure_cells.h the
 * swap files and the discarding device): the names' prefix, the swap area (a block device or a
 * swap file; NULL: the cells skip saying why_none), swapon(2)'s extra flags, and checks run once
 * the area is on (on) and after each page-out of private memory (out: the pages of map, want
 * what the first wanted bytes of them hold); each fails the cell itself. */
struct sw_target {
	const char *prefix, *dev, *why_none;
	int flags;
	void (*on)(struct cell *c);
	void (*out)(struct cell *c, char *map, const char *want, size_t wanted);
	int (*wanted)(const char *name);  /* which of its cells run (NULL: all, as ONLY/EXCEPT let them) */
};
static struct sw_target sw_tgt;

static int swap_wanted(const char *name)
{
	if (sw_tgt.wanted && !strncmp(name, sw_tgt.prefix, strlen(sw_tgt.prefix)))
		return sw_tgt.wanted(name);
	return block_wanted(name, NULL, 0);
}

/* Page i of the buffer in shape i, from seed (another seed: the same shapes, other values). */
static void sw_fill(char *page, enum sw_shape s, unsigned seed)
{
	uint64_t *w = (uint64_t *)page, v = 0x5a5a5a5a00000000ULL | seed;
	size_t nw = PAGE / 8;
	uint64_t x = 0x9E3779B97F4A7C15ULL * (seed + 1);

	switch (s) {
	case SH_ZERO:
	case SH_ZERO_BUT_LAST_BYTE:
	case SH_ZERO_BUT_FIRST_BYTE:
		memset(page, 0, PAGE);
		if (s == SH_ZERO_BUT_LAST_BYTE)
			page[PAGE - 1] = (char)(seed | 1);
		else if (s == SH_ZERO_BUT_FIRST_BYTE)
			page[0] = (char)(seed | 1);
		break;
	case SH_REPEAT4:
		for (size_t i = 0; i < nw; i++)
			w[i] = i & 1 ? v : v ^ 0x0101010101010101ULL;
		break;
	case SH_ONES:
		memset(page, 0xff, PAGE);
		break;
	case SH_HALF_ZERO:
	case SH_PATTERN:
		fill64(page, PAGE, seed);
		if (s == SH_HALF_ZERO)
			memset(page, 0, PAGE / 2);
		break;
	case SH_RANDOM:
		for (size_t i = 0; i < nw; i++) {  /* xorshift64 */
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			w[i] = x;
		}
		break;
	default:  /* one word repeated, and its near misses */
		for (size_t i = 0; i < nw; i++)
			w[i] = v;
		if (s == SH_SAME_BUT_FIRST)
			w[0] = ~v;
		else if (s == SH_SAME_BUT_LAST)
			w[nw - 1] = ~v;
		else if (s == SH_SAME_BUT_MIDDLE)
			w[nw / 2 + 3] = ~v;
		else if (s == SH_SAME_BUT_LAST_BYTE)
			page[PAGE - 1] ^= 0x10;
		break;
	}
}

/* -- swap-bdev/<memory>/<shapes|swapoff>: the same cells on swap that is a block device -------
 * zram is synchronous (SWP_SYNCHRONOUS_IO): its swap-ins may skip the swap cache and its I/O
 * completes before submit returns. A loop device (-S, guests/pin-matrix.sh: over a file in
 * /run, marked non-rotational so that swap takes its clusters and whole THPs) is neither: pages
 * go out and come in by bios completed later (mm/page_io.c swap_writepage_bdev_async(),
 * swap_read_folio_bdev_async(), end_swap_bio_*()), swap-ins always go through the swap cache,
 * and swap readahead reads around. Each cell makes that device the only swap area for its
 * length (sw_own_swap(), pm_swapin.h: zram off, back on after), runs in the -m memory cgroup,
 * and runs as its swap/ twin, but each page-out is followed by sw_settle(): written pages stay
 * in the swap cache until their writeback ends, and a fault there reads nothing from the
 * device. Premise, beside its twin's: the device completed reads and writes during the cell
 * (its /sys/block/<dev>/stat) and pswpin moved, else SKIP. */
struct sw_dev {
	struct swap_area off[SWAP_AREAS];
	int noff, own;
	long io0[3], pswpin0;  /* the device's reads, writes and discards completed before, pswpin before */
	long io_on[3];         /* the same once the area is on (swapon's discard of the area done) */
	char name[160];
};
static int sw_evict;  /* swap-bdev/: sw_pageout() also pushes the swap cache out (sw_settle()) */


/* Reads, writes and discards the block device behind path completed (its stat, fields 1, 5 and
 * 12; discards 0 when the kernel has no such field): path is the device or, for a swap file,
 * a file on it */
static int sw_dev_ios(const char *path, long io[3])
{
	char sys[160];
	long f[12] = {0};
	struct stat sb;
	dev_t d;
	FILE *st;
	int n;

	if (stat(path, &sb))
		return 0;
	d = S_ISBLK(sb.st_mode) ? sb.st_rdev : sb.st_dev;
	snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/stat", major(d), minor(d));
	if (!(st = fopen(sys, "r")))
		return 0;
	for (n = 0; n < 12 && fscanf(st, "%ld", &f[n]) == 1; n++)
		;
	fclose(st);
	io[0] = f[0];
	io[1] = f[4];
	io[2] = f[11];
	return n >= 5;
}

static int sw_dev_begin(struct cell *c, struct sw_dev *d)
{
	char why[200] = "";

	if (!sw_tgt.dev) {
		cskip(c, "%s", sw_tgt.why_none);
		return 0;
	}
	snprintf(d->name, sizeof(d->name), "%s", sw_tgt.dev);
	if (!sw_dev_ios(sw_tgt.dev, d->io0)) {
		cskip(c, "cannot read the I/O counts of the device behind %s", sw_tgt.dev);
		return 0;
	}
	if (memcg_cell_enter(c))  /* before the buffer is mapped: its pages are charged there */
		return 0;
	sw_own_flags = sw_tgt.flags;
	if (!(d->own = sw_own_swap(sw_tgt.dev, d->off, &d->noff, why, sizeof(why))))
		cskip(c, "cannot make %s the only swap: %s", sw_tgt.dev, why);
	sw_own_flags = 0;
	d->pswpin0 = vmstat("pswpin");
	sw_evict = d->own;
	if (d->own && !sw_dev_ios(sw_tgt.dev, d->io_on))
		memcpy(d->io_on, d->io0, sizeof(d->io_on));
	if (d->own && sw_tgt.on)
		sw_tgt.on(c);
	return d->own && !c->failed[0];
}

/* After a page-out to a device whose writes complete later, the pages sit in the swap cache
 * until their writeback ends; a fault would find them there and never read the device. So:
 * wait for writeback to end (2 s at most), then memory.reclaim of the cell's group frees the
 * clean swap-cache folios. */
static void sw_settle(size_t len)
{
	for (int i = 0; i < 200 && vmstat("nr_writeback") > 0; i++)
		usleep(10000);
	memcg_reclaim((long)(len + HPAGE));
}

/* zram back, the device off; then the premise: the device did both reads and writes */
static void sw_dev_end(struct cell *c, struct sw_dev *d)
{
	char why[200];
	long io[3], off[3] = {0, 0, -1};

	long in = vmstat("pswpin") - d->pswpin0;

	memcg_leave();
	sw_evict = 0;
	if (!d->own)
		return;
	if (!sw_dev_ios(d->name, io))
		io[0] = io[1] = -1;
	if (sw_own_swap_end(d->name, d->off, d->noff, why, sizeof(why)))
		cfail(c, "%s", why);
	else if (!sw_dev_ios(d->name, off))  /* swapoff flushed the clusters' discards (swap_discard_work()) */
		off[2] = -1;
	if (c->failed[0])
		;  /* said */
	else if (!c->skip[0] && (io[0] <= d->io0[0] || io[1] <= d->io0[1] || in <= 0))
		cskip(c, "%s completed %ld read(s) and %ld write(s) during the cell, pswpin +%ld: swap did not read it",
		      d->name, io[0] - d->io0[0], io[1] - d->io0[1], in);
	else if (!c->skip[0] && (sw_tgt.flags & SWAP_FLAG_DISCARD) && d->io_on[2] <= d->io0[2])
		cskip(c, "swapon %s with SWAP_FLAG_DISCARD: the device completed no discard of the area", d->name);
	else if (!c->skip[0])
		printf("# %s: on %s alone: %ld reads, %ld writes completed by the device, pswpin +%ld; discards: %ld at "
		       "swapon, %ld from then to swapoff\n", c->name, d->name, io[0] - d->io0[0], io[1] - d->io0[1], in,
		       d->io_on[2] - d->io0[2], off[2] - d->io_on[2]);
}

/* Page out len bytes of buf (three tries); the shape pages still in memory, as a bit mask
 * (dump_cells.h's pages_out(): a swap entry for anonymous memory, not resident for shmem). */
static unsigned sw_pageout(struct cell *c, char *buf, size_t len)
{
	unsigned in = 0;

	for (int t = 0; t < 3; t++) {
		madvise(buf, len, MADV_PAGEOUT);
		if (sw_evict)
			sw_settle(len);
		in = 0;
		for (int i = 0; i < NSWSHAPE; i++)
			in |= (unsigned)!pages_out(c, buf + i * PAGE, PAGE) << i;
		if (!in)
			break;
	}
	return in;
}

/* The cell's buffer: a memfd mapped shared (its fd in c->fd), or private memory, a whole THP
 * present for SWM_THP; NULL with the cell failed or skipped (no THP behind it). */
static char *sw_map(struct cell *c, enum sw_mem m, size_t maplen)
{
	char *map;

	if (m == SWM_SHMEM) {
		c->fd = memfd_create("swap-cells", 0);
		map = c->fd >= 0 && !ftruncate(c->fd, (off_t)maplen)
			      ? mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0) : MAP_FAILED;
		map = map == MAP_FAILED ? NULL : map;
	} else {
		map = map_aligned(maplen, m == SWM_THP ? HPAGE : PAGE, m == SWM_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	}
	if (!map) {
		cfail(c, "cannot map the buffer: %s", strerror(errno));
		return NULL;
	}
	if (m == SWM_THP)
		memset(map, 1, maplen);  /* the whole huge page present, then the shapes at its start */
	if (m == SWM_THP && !is_thp(map)) {
		cskip(c, "no THP behind the buffer (kpageflags)");
		munmap(map, maplen);
		return NULL;
	}
	return map;
}

#define SW_ROUNDS 3

/* The shape of page i in a round: the third shifts every page to the next shape */
static enum sw_shape sw_shape_of(unsigned round, int i)
{
	return (enum sw_shape)(round == 2 ? (i + 1) % NSWSHAPE : i);
}

static void swap_cell(enum sw_mem m, int bdev)
{
	struct sw_dev dv = {.name = ""};
	struct cell c = {.mem = m == SWM_SHMEM ? SHMEM : ANON, .fd = -1};
	double began = now_s();
	size_t maplen = m == SWM_THP ? HPAGE : NSWSHAPE * PAGE;
	char *map = NULL, *want = malloc(NSWSHAPE * PAGE);
	unsigned stayed = 0, tested = 0;  /* pages over both rounds */
	unsigned out_once = 0;  /* shapes that went out in some round */
	uint64_t kept[NSWSHAPE] = {0};  /* each page's swap entry after the second round's page-out */
	int same_entry = 0;  /* pages the third round sent out to the entry they kept */
	long sw0 = vmstat("pswpin"), thp0 = vmstat("thp_swpout"), split0 = vmstat("thp_split_page");

	snprintf(c.name, sizeof(c.name), "%s/%s/shapes", bdev ? sw_tgt.prefix : "swap", sw_mem_names[m]);
	if (!swap_wanted(c.name) || !begins(c.name))
		goto free;
	if (!want) {
		cfail(&c, "out of memory");
		goto out;
	}
	if (bdev && !sw_dev_begin(&c, &dv))
		goto out;
	if (!(map = sw_map(&c, m, maplen)))
		goto out;
	for (unsigned round = 0; round < SW_ROUNDS && !c.failed[0]; round++) {
		unsigned in;

		for (int i = 0; i < NSWSHAPE; i++)
			sw_fill(want + i * PAGE, sw_shape_of(round, i), 7 + round);
		memcpy(map, want, NSWSHAPE * PAGE);
		in = sw_pageout(&c, map, maplen);
		if (bdev && sw_tgt.out && m != SWM_SHMEM)
			sw_tgt.out(&c, map, want, NSWSHAPE * PAGE);
		out_once |= ~in & ((1u << NSWSHAPE) - 1);
		stayed += __builtin_popcount(in);
		tested += NSWSHAPE - __builtin_popcount(in);
		for (int i = 0; i < NSWSHAPE && m != SWM_SHMEM; i++) {
			uint64_t e = swap_entry_of(map + i * PAGE);

			if (round == 1)
				kept[i] = e;
			else if (round == 2)
				same_entry += e && e == kept[i];
		}
		if (round == 1)  /* back through swap readahead into the swap cache first */
			madvise(map, NSWSHAPE * PAGE, MADV_WILLNEED);
		for (int i = 0; i < NSWSHAPE; i++) {
			long first = first_diff(map + i * PAGE, want + i * PAGE, PAGE);

			if (first >= 0) {
				cfail(&c, "page %d (%s%s%s) %s with other bytes at byte %ld (round %u%s)", i,
				      sw_shape_names[sw_shape_of(round, i)], round == 2 ? ", until this round " : "",
				      round == 2 ? sw_shape_names[i] : "",
				      in >> i & 1 ? "stayed in memory (never swapped), yet reads" : "came back from swap",
				      first, round + 1, round == 1 ? ", after MADV_WILLNEED" : round == 2 ? ", its shape changed in the swap cache" : "");
				break;
			}
		}
		for (size_t off = NSWSHAPE * PAGE; off < maplen && !c.failed[0]; off += PAGE)  /* THP: the rest of it */
			for (size_t i = 0; i < PAGE; i++)
				if (map[off + i] != 1) {
					cfail(&c, "page %zu of the THP (all 0x01) came back from swap with other bytes at byte %zu (round %u)",
					      off / PAGE, i, round + 1);
					break;
				}
	}
	if (!c.failed[0] && !tested) {
		cskip(&c, "no page went out to swap in three MADV_PAGEOUTs a round (swap on zram?)");
	} else if (!c.failed[0] && out_once != (1u << NSWSHAPE) - 1) {
		for (int i = 0; i < NSWSHAPE; i++)
			if (!(out_once >> i & 1)) {
				cskip(&c, "page %d (%s) never went out to swap in either round", i, sw_shape_names[i]);
				break;
			}
	}
	printf("# %s: %d shapes, three rounds: %u page(s) swapped out and read back, %u stayed in memory (pswpin +%ld, thp_swpout +%ld, thp_split_page +%ld)\n",
	       c.name, NSWSHAPE, tested, stayed, vmstat("pswpin") - sw0, vmstat("thp_swpout") - thp0,
	       vmstat("thp_split_page") - split0);
	if (m != SWM_SHMEM)
		printf("# %s: round 3: %d of %d page(s) went out again, with another shape, to the swap entry they kept\n",
		       c.name, same_entry, NSWSHAPE);
out:
	if (map)
		munmap(map, maplen);
	sw_dev_end(&c, &dv);
	cell_file_close(&c);
	verdict(&c, began);
free:
	free(want);
}

/* -- swap/<memory>/swapoff: back in by swapoff(2), not by a fault ---------------------------
 * The shapes paged out, then every swap area turned off and on again: mm/swapfile.c
 * try_to_unuse() reads each entry back and maps it where the swap entry was (unuse_pte() for
 * anonymous memory, shmem_unuse() for shmem), a path no fault takes. Anonymous memory is
 * forked after the page-out, so each entry is shared by parent and child: swapoff must give
 * both their bytes, and after it a write by either must stay its own (the page mapped into two
 * processes is not exclusive to either). Checks: the bytes of every page in each process (and
 * through the memfd for shmem), no page left swapped out after swapoff, the two processes'
 * writes apart. Premise: every shape went out (else SKIP); swap areas turned back on (else FAIL).
 */
/* Every swap area off, then on again as it was (sw_areas_on(): its priority, and the flags the
 * bench turned it on with); the cell fails when one does not go off or come back so, skips when
 * there is none */
static void sw_off_on(struct cell *c)
{
	struct swap_area areas[SWAP_AREAS];
	char why[300];
	int n = swap_areas(areas);

	for (int i = 0; i < n && !c->failed[0]; i++)
		if (swapoff(areas[i].path))
			cfail(c, "swapoff %s: %s", areas[i].path, strerror(errno));
	if (sw_areas_on(areas, n, why, sizeof(why)))
		cfail(c, "after swapoff: %s", why);
	if (!n)
		cskip(c, "no swap area in /proc/swaps");
}

/* The child of swap/anon/swapoff: answers the parent's steps on its own copy of the shapes */
static void swoff_child(char *map, const char *want, int in, int out)
{
	char step, *mine = malloc(NSWSHAPE * PAGE);

	for (int i = 0; i < NSWSHAPE && mine; i++)
		sw_fill(mine + i * PAGE, i, 9);
	while (mine && read(in, &step, 1) == 1) {
		char ok = step;

		if (step == '1')  /* after swapoff: the bytes paged out before the fork */
			ok = memcmp(map, want, NSWSHAPE * PAGE) ? 'X' : step;
		else if (step == '2')  /* its own write */
			memcpy(map, mine, NSWSHAPE * PAGE);
		else if (step == '3')  /* the parent wrote since: not here */
			ok = memcmp(map, mine, NSWSHAPE * PAGE) ? 'X' : step;
		if (write(out, &ok, 1) != 1 || step == '3')
			break;
	}
	_exit(0);
}

/* One step of the child's: 0 when it answered that it holds what it must */
static int sw_ask(struct cell *c, int to, int from, char step, const char *what)
{
	char got = 0;

	if (write(to, &step, 1) != 1 || read(from, &got, 1) != 1)
		cfail(c, "the child did not answer step %c: %s", step, strerror(errno));
	else if (got != step)
		cfail(c, "the child %s", what);
	return c->failed[0] ? -1 : 0;
}

static void swapoff_cell(enum sw_mem m, int bdev)
{
	struct sw_dev dv = {.name = ""};
	struct cell c = {.mem = m == SWM_SHMEM ? SHMEM : ANON, .fd = -1};
	double began = now_s();
	size_t maplen = m == SWM_THP ? HPAGE : NSWSHAPE * PAGE;
	char *map = NULL, *want = malloc(NSWSHAPE * PAGE), *mine = malloc(NSWSHAPE * PAGE);
	int to[2] = {-1, -1}, from[2] = {-1, -1};
	pid_t child = -1;
	unsigned in;
	long first, out, un0 = vmstat("pswpin");

	snprintf(c.name, sizeof(c.name), "%s/%s/swapoff", bdev ? sw_tgt.prefix : "swap", sw_mem_names[m]);
	if (!swap_wanted(c.name) || !begins(c.name))
		goto free;
	if (!want || !mine || pipe(to) || pipe(from)) {
		cfail(&c, "out of memory or pipes: %s", strerror(errno));
		goto out;
	}
	if (bdev && !sw_dev_begin(&c, &dv))
		goto out;
	if (!swap_on()) {
		cskip(&c, "no swap in /proc/swaps (swap on zram?)");
		goto out;
	}
	if (!(map = sw_map(&c, m, maplen)))
		goto out;
	for (int i = 0; i < NSWSHAPE; i++)
		sw_fill(want + i * PAGE, i, 8);
	memcpy(map, want, NSWSHAPE * PAGE);
	if ((in = sw_pageout(&c, map, maplen))) {
		cskip(&c, "page %d (%s) never went out to swap in three MADV_PAGEOUTs", __builtin_ctz(in),
		      sw_shape_names[__builtin_ctz(in)]);
		goto out;
	}
	if (bdev && sw_tgt.out && m != SWM_SHMEM && (sw_tgt.out(&c, map, want, NSWSHAPE * PAGE), c.failed[0]))
		goto out;
	if (m != SWM_SHMEM) {  /* a child that shares every swap entry */
		if ((child = cell_fork()) == 0) {
			close(to[1]);
			close(from[0]);
			swoff_child(map, want, to[0], from[1]);
		}
		if (child < 0) {
			cfail(&c, "fork: %s", strerror(errno));
			goto out;
		}
	}
	sw_off_on(&c);
	if (c.failed[0] || c.skip[0])
		goto out;
	if ((out = pages_out(&c, map, NSWSHAPE * PAGE)))
		cfail(&c, "%ld page(s) still swapped out after swapoff turned every area off", out);
	else if ((first = first_diff(map, want, NSWSHAPE * PAGE)) >= 0)
		cfail(&c, "after swapoff page %ld (%s) reads other bytes at byte %ld", first / (long)PAGE,
		      sw_shape_names[first / (long)PAGE], first % (long)PAGE);
	else if (m == SWM_SHMEM && (pread(c.fd, mine, NSWSHAPE * PAGE, 0) != (ssize_t)(NSWSHAPE * PAGE) ||
				    (first = first_diff(mine, want, NSWSHAPE * PAGE)) >= 0))
		cfail(&c, "after swapoff the memfd reads other bytes than its mapping at byte %ld", first);
	if (c.failed[0] || child < 0)
		goto out;
	if (sw_ask(&c, to[1], from[0], '1', "does not read the bytes paged out before the fork after swapoff") ||
	    sw_ask(&c, to[1], from[0], '2', "could not write its copy"))
		goto out;
	if ((first = first_diff(map, want, NSWSHAPE * PAGE)) >= 0) {
		cfail(&c, "after swapoff the child's write reached the parent (page %ld, byte %ld)", first / (long)PAGE,
		      first % (long)PAGE);
		goto out;
	}
	for (int i = 0; i < NSWSHAPE; i++)
		sw_fill(map + i * PAGE, i, 11);
	sw_ask(&c, to[1], from[0], '3', "reads the parent's write after swapoff, or lost its own");
out:
	close_pair(to);
	close_pair(from);
	if (child > 0)
		waitpid(child, NULL, 0);
	if (!c.failed[0] && !c.skip[0])
		printf("# %s: %d shapes paged out%s, back by swapoff (pswpin +%ld), %s\n", c.name, NSWSHAPE,
		       child > 0 ? ", shared with a child" : "", vmstat("pswpin") - un0,
		       child > 0 ? "each process's bytes apart after" : "the memfd and its mapping agree");
	if (map)
		munmap(map, maplen);
	sw_dev_end(&c, &dv);
	cell_file_close(&c);
	verdict(&c, began);
free:
	free(want);
	free(mine);
}

static void swap_cells(void)
{
	sw_tgt = (struct sw_target){"swap-bdev", bdev_swap, "no swap on a block device (-S: guests/pin-matrix.sh could not make one)"};
	for (int bdev = 0; bdev < 2; bdev++) {
		for (enum sw_mem m = 0; m < NSWM; m++)
			swap_cell(m, bdev);
		for (enum sw_mem m = 0; m < NSWM; m++)
			swapoff_cell(m, bdev);
	}
}
