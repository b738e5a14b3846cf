/* walk/...: the kernel's page-table walkers as an oracle. Part of pin_matrix.c (struct cell,
 * cfail/cskip, cell_fork(), fill64(), first_diff(), vmstat(), is_thp(), pin_start()/pin_stop();
 * kentry_cells.h's pin_mark()/pins_back(); dio_paths.h's ext4_dir), entered by walk_cells() from
 * main.
 *
 * /proc/<pid>/smaps, numa_maps, pagemap and the PAGEMAP_SCAN ioctl are four walkers of the same
 * page tables (fs/proc/task_mmu.c over mm/pagewalk.c: smaps_pte_range/smaps_hugetlb_range/
 * smaps_pte_hole, gather_pte_stats/gather_hugetlb_stats, pagemap_pmd_range/pagemap_hugetlb_range,
 * pagemap_scan_pmd_entry/pagemap_scan_hugetlb_entry and make_uffd_wp_*). A walker that miscounts
 * a THP, skips a swap entry, counts a shared page as private or write-protects the wrong page is
 * a bug class of its own, and user space (CRIU, checkpointing, memory accounting) acts on what
 * they say. Each cell makes a state it knows, by calls whose effect is read from elsewhere
 * (pswpout, thp_split_pmd, move_pages' node query, kpageflags), then checks every walker
 * against it; each disagreement fails naming the file and the field. Expected values follow
 * Documentation/filesystems/proc.rst (smaps: Pss divides a page by its map count; Swap/SwapPss;
 * *_Hugetlb not in Rss; numa_maps' N<node>= in pages, hugetlb in huge pages),
 * admin-guide/mm/pagemap.rst (bit 55 soft-dirty, 56 exclusively mapped, 61 file/shared-anon,
 * 62 swapped, 63 present) and include/uapi/linux/fs.h (PAGEMAP_SCAN's categories). The only
 * tolerance is none: every value is in whole pages the cell made.
 *
 * walk/anon: 16 pages written; 0-3 moved to the other node, 4-7 pinned (gup_test long-term),
 *   8-11 paged out, 12-15 MADV_DONTNEED. Then a child forked (it shares 0-3 and the swap
 *   entries; fork copies the pinned 4-7 for it) and the parent's view checked again.
 * walk/thp, walk/thp-pte: one PMD-mapped THP, or one PTE-mapped after an mprotect of one page
 *   (thp_split_pmd +1); before and after a fork.
 * walk/shmem-private: a memfd of 16 pages, 8-15 swapped out through a shared view; a private
 *   view maps 0-7, its page 0 written (COW: anonymous): smaps' Swap of the private view comes
 *   from smaps_pte_hole()'s shmem lookup, of the shared view from the inode's count.
 * walk/hugetlb: two private huge pages, the first written; before and after a fork.
 * walk/ext4-shared: 16 pages of a synced file mapped shared, read, 8-11 written, 12-15 zapped.
 * walk/uffd-wp/anon, walk/uffd-wp/thp: a range registered for async uffd-wp (UFFD_FEATURE_WP_ASYNC);
 *   PAGEMAP_SCAN with PM_SCAN_WP_MATCHING reports the written pages and write-protects them
 *   again: after each round of writes exactly the pages written are PAGE_IS_WRITTEN (a THP's
 *   write splits its PMD, the other 511 PTEs stay protected), a page swapped out and read back
 *   stays protected, and every byte is what was written.
 * Premises (else SKIP): THP/hugetlb/swap/userfaultfd/gup_test/two nodes there; for a state the
 * cell made but the kernel did not (a page not paged out, a THP not split) the cell fails.
 */
#include <linux/fs.h>
#include <linux/userfaultfd.h>

#define WK_PAGES 16
#define WK_KB (PAGE / 1024)

/* The fields of one VMA's smaps entry the cells read, in kB; -1: not printed */
enum { SM_RSS, SM_PSS, SM_SH_CLEAN, SM_SH_DIRTY, SM_PR_CLEAN, SM_PR_DIRTY,
       SM_ANON, SM_AHP, SM_SHPMD, SM_SH_HUGE, SM_PR_HUGE, SM_SWAP, SM_SWAPPSS, SM_LOCKED, NSM };
static const char *const sm_keys[NSM] = {"Rss", "Pss", "Shared_Clean",
					 "Shared_Dirty", "Private_Clean", "Private_Dirty", "Anonymous", "AnonHugePages",
					 "ShmemPmdMapped", "Shared_Hugetlb", "Private_Hugetlb", "Swap", "SwapPss",
					 "Locked"};

/* smaps of the VMA holding addr into v (kB); its start in *start; 0, or -1 when not found */
static int wk_smaps(const void *addr, long v[NSM], unsigned long *start)
{
	char line[512], key[64];
	unsigned long lo, hi, a = (uintptr_t)addr;
	int in = 0, found = 0;
	long val;
	FILE *f = fopen("/proc/self/smaps", "r");

	for (int i = 0; i < NSM; i++)
		v[i] = -1;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			if (found)
				break;
			in = found = a >= lo && a < hi;
			if (in && start)
				*start = lo;
			continue;
		}
		if (in && sscanf(line, "%63[^:]: %ld kB", key, &val) == 2)
			for (int i = 0; i < NSM; i++)
				if (!strcmp(key, sm_keys[i]))
					v[i] = val;
	}
	fclose(f);
	return found ? 0 : -1;
}

/* One smaps field against what the cell made (kB) */
static void wk_expect(struct cell *c, const long v[NSM], int k, long want, const char *state)
{
	if (v[k] != want)
		cfail(c, "smaps %s %ld kB, expected %ld kB (%s)", sm_keys[k], v[k], want, state);
}

/* smaps' Private_* and Shared_* (clean and dirty together: a write fault, migration or fork may
 * leave either) against what the cell made */
static void wk_sharing_expect(struct cell *c, const long v[NSM], long priv, long shared, const char *state)
{
	long pr = v[SM_PR_CLEAN] + v[SM_PR_DIRTY], sh = v[SM_SH_CLEAN] + v[SM_SH_DIRTY];

	if (pr != priv || sh != shared)
		cfail(c, "smaps Private_* %ld kB, Shared_* %ld kB, expected %ld and %ld (%s)", pr, sh, priv, shared, state);
}

/* numa_maps of the VMA starting at start: pages (mapped=, else the larger of anon= and dirty=:
 * show_numa_map() leaves mapped= out when it equals one of them), anon, dirty, mapmax (1 when
 * not printed), swapcache, pages per node (node[]), whether "huge" is there; -1 when not found */
#define WK_NODES 8
struct wk_numa {
	long pages, anon, dirty, mapmax, swapcache, node[WK_NODES];
	int huge;
};

static int wk_numa_maps(unsigned long start, struct wk_numa *n)
{
	char line[1024], *tok, *save;
	int found = 0;
	long mapped = -1;
	FILE *f = fopen("/proc/self/numa_maps", "r");

	memset(n, 0, sizeof(*n));
	n->mapmax = 1;
	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strtoul(line, NULL, 16) != start)
			continue;
		found = 1;
		for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
			int nid;
			long val;

			if (!strcmp(tok, "huge"))
				n->huge = 1;
			else if (sscanf(tok, "anon=%ld", &val) == 1)
				n->anon = val;
			else if (sscanf(tok, "dirty=%ld", &val) == 1)
				n->dirty = val;
			else if (sscanf(tok, "mapped=%ld", &val) == 1)
				mapped = val;
			else if (sscanf(tok, "mapmax=%ld", &val) == 1)
				n->mapmax = val;
			else if (sscanf(tok, "swapcache=%ld", &val) == 1)
				n->swapcache = val;
			else if (sscanf(tok, "N%d=%ld", &nid, &val) == 2 && nid >= 0 && nid < WK_NODES)
				n->node[nid] = val;
		}
	}
	fclose(f);
	n->pages = mapped >= 0 ? mapped : n->anon > n->dirty ? n->anon : n->dirty;
	return found ? 0 : -1;
}

/* numa_maps against what the cell made: pages, anon, mapmax, per-node counts (want_node) */
static void wk_numa_expect(struct cell *c, unsigned long start, long pages, long anon, long mapmax,
			   const long want_node[WK_NODES], const char *state)
{
	struct wk_numa n;

	if (wk_numa_maps(start, &n)) {
		cfail(c, "no numa_maps line for the VMA at %#lx (%s)", start, state);
		return;
	}
	if (n.pages != pages)
		cfail(c, "numa_maps counts %ld mapped page(s), expected %ld (%s)", n.pages, pages, state);
	else if (n.anon != anon)
		cfail(c, "numa_maps anon=%ld, expected %ld (%s)", n.anon, anon, state);
	else if (n.mapmax != mapmax)
		cfail(c, "numa_maps mapmax=%ld, expected %ld (%s)", n.mapmax, mapmax, state);
	for (int i = 0; i < WK_NODES; i++)
		if (n.node[i] != want_node[i])
			cfail(c, "numa_maps N%d=%ld, expected %ld (move_pages places the pages; %s)", i, n.node[i],
			      want_node[i], state);
}

/* Pages per node of [p, p+len) by move_pages' query (mm/migrate.c do_pages_stat(), not a
 * pagewalk walker): unit pages count as 1 each (hugetlb: one per huge page) */
static int wk_nodes(struct cell *c, char *p, size_t len, size_t unit, long node[WK_NODES])
{
	size_t n = len / unit;
	void **pages = calloc(n, sizeof(void *));
	int *st = calloc(n, sizeof(int)), r = 0;

	memset(node, 0, WK_NODES * sizeof(long));
	for (size_t i = 0; i < n; i++)
		pages[i] = p + i * unit;
	if (!pages || !st || syscall(SYS_move_pages, 0, n, pages, NULL, st, 0)) {
		cfail(c, "move_pages (query): %s", strerror(errno));
		r = -1;
	}
	for (size_t i = 0; !r && i < n; i++)
		if (st[i] >= 0 && st[i] < WK_NODES)
			node[st[i]]++;
	free(pages);
	free(st);
	return r;
}

/* pagemap bits 63 present, 62 swapped, 61 file, 56 exclusive of page i against want (mask: the
 * bits checked) */
static void wk_pagemap_expect(struct cell *c, char *p, size_t npages, const uint64_t *want, uint64_t mask,
			      const char *state)
{
	static const char *const bitname[64] = {[55] = "soft-dirty", [56] = "exclusively mapped", [61] = "file/shared",
						 [62] = "swapped", [63] = "present"};

	for (size_t i = 0; i < npages; i++) {
		uint64_t got = pagemap(p + i * PAGE) & mask, diff = got ^ (want[i] & mask);

		if (diff) {
			int b = 63 - __builtin_clzll(diff);

			cfail(c, "pagemap of page %zu: bit %d (%s) is %d, expected %d (%s)", i, b,
			      bitname[b] ? bitname[b] : "?", (int)(got >> b & 1), (int)(!(got >> b & 1)), state);
			return;
		}
	}
}

/* PAGEMAP_SCAN over [p, p+npages): each page's reported categories in cat[] (0: not reported);
 * the number of regions, -1 with the cell failed */
static long wk_scan(struct cell *c, char *p, size_t npages, uint64_t flags, uint64_t mask, uint64_t anyof,
		    uint64_t ret, unsigned long *cat)
{
	static int fd = -1;
	static pid_t whose;
	struct page_region *reg = calloc(npages, sizeof(*reg));
	struct pm_scan_arg a = {.size = sizeof(a), .flags = flags, .start = (uintptr_t)p,
				.end = (uintptr_t)p + npages * PAGE, .vec = (uintptr_t)reg, .vec_len = npages,
				.category_mask = mask, .category_anyof_mask = anyof, .return_mask = ret};
	long n;

	if (fd >= 0 && whose != getpid()) {  /* a cell's child (cell_in_child()): the fd scans the parent */
		close(fd);
		fd = -1;
	}
	if (fd < 0) {
		fd = open("/proc/self/pagemap", O_RDONLY);
		whose = getpid();
	}
	memset(cat, 0, npages * sizeof(*cat));
	n = reg ? ioctl(fd, PAGEMAP_SCAN, &a) : -1;
	if (n < 0) {
		cfail(c, "PAGEMAP_SCAN: %s", strerror(errno));
		free(reg);
		return -1;
	}
	if (a.walk_end != a.end)
		cfail(c, "PAGEMAP_SCAN stopped at page %lld of %zu with room for every region",
		      (long long)((a.walk_end - a.start) / PAGE), npages);
	for (long r = 0; r < n; r++)
		for (uint64_t at = reg[r].start; at < reg[r].end; at += PAGE) {
			size_t i = (at - (uintptr_t)p) / PAGE;

			if (at < (uintptr_t)p || i >= npages) {
				cfail(c, "PAGEMAP_SCAN reported %#llx, outside the range asked", (unsigned long long)at);
				break;
			}
			cat[i] = reg[r].categories;
		}
	free(reg);
	return n;
}

static void wk_scan_expect(struct cell *c, const unsigned long *cat, const unsigned long *want, size_t npages,
			   const char *state)
{
	for (size_t i = 0; i < npages; i++)
		if (cat[i] != want[i]) {
			cfail(c, "PAGEMAP_SCAN categories of page %zu %#lx, expected %#lx (%s; 0x8 present, 0x10 swapped, "
			      "0x4 file, 0x40 huge, 0x2 written)", i, cat[i], want[i], state);
			return;
		}
}

#define WK_ANYOF (PAGE_IS_PRESENT | PAGE_IS_SWAPPED)
#define WK_RET (PAGE_IS_PRESENT | PAGE_IS_SWAPPED | PAGE_IS_FILE | PAGE_IS_HUGE)

/* The first huge pages of [p, p+n pages) on consecutive PFNs (one folio), and PAGEMAP_SCAN's
 * categories against wcat */
static void wk_huge_expect(struct cell *c, char *p, size_t huge, size_t n, unsigned long *cat,
			   const unsigned long *wcat, const char *state)
{
	for (size_t i = 1; i < huge; i++)
		if (pfn_of(p + i * PAGE) != pfn_of(p) + i) {
			cfail(c, "pagemap: page %zu of the huge page has PFN %#llx, page 0 %#llx (%s)", i,
			      (unsigned long long)pfn_of(p + i * PAGE), (unsigned long long)pfn_of(p), state);
			break;
		}
	if (wk_scan(c, p, n, 0, 0, WK_ANYOF, WK_RET, cat) >= 0)
		wk_scan_expect(c, cat, wcat, n, state);
}

/* A child that keeps the parent's mappings until *hold is closed; its pid (-1: the cell failed) */
static pid_t wk_child(struct cell *c, int *hold)
{
	int pfd[2];
	pid_t kid;

	if (pipe(pfd)) {
		cfail(c, "pipe: %s", strerror(errno));
		return -1;
	}
	kid = cell_fork();
	if (kid == 0) {
		char b;

		close(pfd[1]);
		_exit(read(pfd[0], &b, 1) < 0);
	}
	close(pfd[0]);
	if (kid < 0) {
		cfail(c, "fork: %s", strerror(errno));
		close(pfd[1]);
		return -1;
	}
	*hold = pfd[1];
	return kid;
}

static void wk_child_end(struct cell *c, pid_t kid, int hold)
{
	close(hold);
	wait_child(c, kid, "the child holding the mappings");
}

/* MADV_PAGEOUT of [p, p+len) until pswpout moved by every page (up to twice more after
 * drain_lru()): how far it moved. Fewer is a premise of the cell missing (SKIP), not a verdict:
 * a loaded TCG guest leaves pages where reclaim passes them over. */
static long wk_pageout(char *p, size_t len)
{
	long before = vmstat("pswpout"), moved = 0;

	for (int round = 0; round < 3 && moved < (long)(len / PAGE); round++) {
		if (round)
			drain_lru();
		madvise(p, len, MADV_PAGEOUT);
		moved = vmstat("pswpout") - before;
	}
	return moved;
}

static void wk_data(struct cell *c, char *p, size_t len, const char *want, const char *state)
{
	long d = first_diff(p, want, len);

	if (d >= 0)
		cfail(c, "byte %ld (page %ld) is not what was written (%s)", d, d / (long)PAGE, state);
}

/* walk/anon */
static void walk_anon(struct cell *c)
{
	size_t len = WK_PAGES * PAGE;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *want = malloc(len);
	uint64_t pm[WK_PAGES], pinned_pfn[4];
	unsigned long cat[WK_PAGES], wcat[WK_PAGES], start = 0;
	long v[NSM], node[WK_NODES], moved;
	void *pg[4];
	int st[4], to[4], hold = -1;
	struct pinmark m;
	pid_t kid;

	if (p == MAP_FAILED || !want) {
		cfail(c, "mmap: %s", strerror(errno));
		goto out;
	}
	if (gup_fd < 0 || !swap_on() || numa_nodes() < 2) {
		cskip(c, "%s", gup_fd < 0 ? "no /sys/kernel/debug/gup_test" : !swap_on() ? "no swap" : "one NUMA node");
		goto out;
	}
	madvise(p, len, MADV_NOHUGEPAGE);
	fill64(p, len, 0x3a1);
	memcpy(want, p, len);
	pin_mark(&m);
	for (int i = 0; i < 4; i++)
		pg[i] = p + i * PAGE;
	if (syscall(SYS_move_pages, 0, 4, pg, NULL, st, 0)) {
		cfail(c, "move_pages (query): %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < 4; i++)
		to[i] = (st[i] + 1) % numa_nodes();
	if (syscall(SYS_move_pages, 0, 4, pg, to, st, 0) || st[0] != to[0] || st[3] != to[3]) {
		cfail(c, "move_pages of 4 unpinned pages to node %d: %s, status %d..%d", to[0], strerror(errno), st[0], st[3]);
		goto out;
	}
	if (pin_start(c, GUP_SLOW, p + 4 * PAGE, 4 * PAGE))
		goto out;
	for (int i = 0; i < 4; i++)
		pinned_pfn[i] = pfn_of(p + (4 + i) * PAGE);
	if ((moved = wk_pageout(p + 8 * PAGE, 4 * PAGE)) < 4) {
		cskip(c, "MADV_PAGEOUT of 4 unpinned pages: pswpout moved by %ld, not 4 (swap is on)", moved);
		pin_stop(c, GUP_SLOW);
		goto out;
	}
	madvise(p + 12 * PAGE, 4 * PAGE, MADV_DONTNEED);
	memset(want + 12 * PAGE, 0, 4 * PAGE);

	/* alone: 0-7 present and private, 8-11 swapped (one swap entry each, count 1), 12-15 none */
	if (wk_smaps(p, v, &start))
		cfail(c, "no smaps entry for the mapping");
	wk_expect(c, v, SM_RSS, 8 * WK_KB, "8 pages present");
	wk_expect(c, v, SM_ANON, 8 * WK_KB, "8 anonymous pages present");
	wk_expect(c, v, SM_PSS, 8 * WK_KB, "8 pages mapped once");
	wk_expect(c, v, SM_SWAP, 4 * WK_KB, "4 pages paged out");
	wk_expect(c, v, SM_SWAPPSS, 4 * WK_KB, "4 swap entries used once");
	wk_expect(c, v, SM_AHP, 0, "no THP");
	wk_expect(c, v, SM_LOCKED, 0, "not mlocked");
	wk_sharing_expect(c, v, 8 * WK_KB, 0, "8 pages mapped once, 4 of them pinned");
	if (!wk_nodes(c, p, 8 * PAGE, PAGE, node))
		wk_numa_expect(c, start, 8, 8, 1, node, "8 anonymous pages present, 4 moved");
	for (int i = 0; i < WK_PAGES; i++) {
		pm[i] = i < 8 ? PM_PRESENT | 1ULL << 56 : i < 12 ? PM_SWAP : 0;
		wcat[i] = i < 8 ? PAGE_IS_PRESENT : i < 12 ? PAGE_IS_SWAPPED : 0;
	}
	wk_pagemap_expect(c, p, WK_PAGES, pm, PM_PRESENT | PM_SWAP | 1ULL << 61 | 1ULL << 56, "alone");
	if (wk_scan(c, p, WK_PAGES, 0, 0, WK_ANYOF, WK_RET, cat) >= 0)
		wk_scan_expect(c, cat, wcat, WK_PAGES, "alone");

	/* a child: 0-3 and the swap entries shared, the pinned 4-7 copied for it (fork keeps a pinned
	 * anon page exclusive: mm/memory.c copy_present_page()) */
	kid = wk_child(c, &hold);
	if (kid > 0) {
		if (wk_smaps(p, v, &start))
			cfail(c, "no smaps entry for the mapping after fork");
		wk_expect(c, v, SM_RSS, 8 * WK_KB, "after fork");
		wk_expect(c, v, SM_PSS, 6 * WK_KB, "after fork: 4 pages shared with the child, 4 pinned ones copied");
		wk_expect(c, v, SM_SWAP, 4 * WK_KB, "after fork");
		wk_expect(c, v, SM_SWAPPSS, 2 * WK_KB, "after fork: 4 swap entries used twice");
		wk_sharing_expect(c, v, 4 * WK_KB, 4 * WK_KB, "after fork: the pinned pages copied for the child, the "
				  "others shared");
		if (!wk_nodes(c, p, 8 * PAGE, PAGE, node))
			wk_numa_expect(c, start, 8, 8, 2, node, "after fork");
		for (int i = 0; i < 4; i++)
			pm[i] &= ~(1ULL << 56);
		wk_pagemap_expect(c, p, WK_PAGES, pm, PM_PRESENT | PM_SWAP | 1ULL << 56, "after fork");
		for (int i = 0; i < 8; i++) {
			uint64_t mine = pfn_of(p + i * PAGE), theirs = pagemap_pfn(pagemap_of(kid, (uintptr_t)p + i * PAGE));

			if (i >= 4 && mine != pinned_pfn[i - 4])
				cfail(c, "pinned page %d moved (PFN %#llx -> %#llx) across fork", i,
				      (unsigned long long)pinned_pfn[i - 4], (unsigned long long)mine);
			else if ((i < 4) != (mine == theirs))
				cfail(c, "page %d: the child's PFN %#llx, the parent's %#llx: %s", i, (unsigned long long)theirs,
				      (unsigned long long)mine, i < 4 ? "should be shared" : "a pinned page must be copied");
		}
		wk_child_end(c, kid, hold);
	}
	pin_stop(c, GUP_SLOW);
	wk_data(c, p, len, want, "after the walks");
	pins_back(c, &m, "the unpin");
out:
	if (p != MAP_FAILED)
		munmap(p, len);
	free(want);
}

/* walk/thp (pte 0) and walk/thp-pte (pte 1) */
static void walk_thp(struct cell *c, int pte)
{
	char *p = map_aligned(HPAGE, HPAGE, MADV_HUGEPAGE), *want = malloc(HPAGE);
	size_t n = HPAGE / PAGE;
	uint64_t *pm = calloc(n, sizeof(*pm));
	unsigned long *cat = calloc(n, sizeof(*cat)), *wcat = calloc(n, sizeof(*wcat)), start = 0;
	long v[NSM], node[WK_NODES], split;
	int hold = -1;
	pid_t kid;

	if (!p || !want || !pm || !cat || !wcat) {
		cfail(c, "out of memory");
		goto out;
	}
	fill64(p, HPAGE, 0x7e1);
	memcpy(want, p, HPAGE);
	if (!is_thp(p) || !is_thp(p + HPAGE - PAGE)) {
		cskip(c, "no THP (kpageflags)");
		goto out;
	}
	if (pte) {
		split = vmstat("thp_split_pmd");
		mprotect(p + 7 * PAGE, PAGE, PROT_READ);
		mprotect(p + 7 * PAGE, PAGE, PROT_READ | PROT_WRITE);
		if (vmstat("thp_split_pmd") - split < 1 || !is_thp(p)) {
			cfail(c, "mprotect of one page did not split the PMD of a THP (thp_split_pmd %+ld)",
			      vmstat("thp_split_pmd") - split);
			goto out;
		}
	}
	for (int round = 0; round < 2; round++) {
		const char *state = round ? "after fork: shared with the child" : "alone";
		long pss = round ? HPAGE / 2048 : HPAGE / 1024, pr = round ? 0 : HPAGE / 1024;

		kid = round ? wk_child(c, &hold) : 0;
		if (kid < 0)
			break;
		if (wk_smaps(p, v, &start))
			cfail(c, "no smaps entry for the mapping");
		wk_expect(c, v, SM_RSS, HPAGE / 1024, state);
		wk_expect(c, v, SM_ANON, HPAGE / 1024, state);
		wk_expect(c, v, SM_AHP, pte ? 0 : HPAGE / 1024, pte ? "PTE-mapped" : "PMD-mapped");
		wk_expect(c, v, SM_PSS, pss, state);
		wk_expect(c, v, SM_SWAP, 0, state);
		wk_sharing_expect(c, v, pr, HPAGE / 1024 - pr, state);
		if (!wk_nodes(c, p, HPAGE, PAGE, node))
			wk_numa_expect(c, start, n, n, round + 1, node, state);
		for (size_t i = 0; i < n; i++) {
			pm[i] = PM_PRESENT | (round ? 0 : 1ULL << 56);
			wcat[i] = PAGE_IS_PRESENT | (pte ? 0 : PAGE_IS_HUGE);
		}
		wk_pagemap_expect(c, p, n, pm, PM_PRESENT | PM_SWAP | 1ULL << 61 | 1ULL << 56, state);
		wk_huge_expect(c, p, n, n, cat, wcat, state);
		if (kid > 0)
			wk_child_end(c, kid, hold);
	}
	wk_data(c, p, HPAGE, want, "after the walks");
out:
	if (p)
		munmap(p, HPAGE);
	free(want);
	free(pm);
	free(cat);
	free(wcat);
}

/* walk/shmem-private */
static void walk_shmem_private(struct cell *c)
{
	size_t len = WK_PAGES * PAGE;
	int fd = memfd_create("walk", 0);
	char *a = MAP_FAILED, *b = MAP_FAILED, *want = malloc(len);
	unsigned char vec[WK_PAGES];
	unsigned long cat[WK_PAGES], wcat[WK_PAGES], start = 0;
	uint64_t pm[WK_PAGES];
	long v[NSM], node[WK_NODES], moved;
	int out = 0;

	if (fd < 0 || !want || ftruncate(fd, len)) {
		cfail(c, "memfd: %s", strerror(errno));
		goto out;
	}
	if (!swap_on()) {
		cskip(c, "no swap");
		goto out;
	}
	fill64(want, len, 0x5e3);
	if (pwrite(fd, want, len, 0) != (ssize_t)len) {
		cfail(c, "pwrite: %s", strerror(errno));
		goto out;
	}
	a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (a == MAP_FAILED) {
		cfail(c, "mmap shared: %s", strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < len; i += PAGE)
		*(volatile char *)(a + i);
	if ((moved = wk_pageout(a + 8 * PAGE, 8 * PAGE)) < 8) {
		cskip(c, "MADV_PAGEOUT of 8 shmem pages: pswpout moved by %ld, not 8 (swap is on)", moved);
		goto out;
	}
	if (mincore(a, len, vec)) {
		cfail(c, "mincore: %s", strerror(errno));
		goto out;
	}
	for (int i = 8; i < WK_PAGES; i++)
		out += !(vec[i] & 1);
	if (out != 8)
		cfail(c, "%d of 8 shmem pages paged out are not resident (mincore)", out);
	b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (b == MAP_FAILED || c->failed[0]) {
		cfail(c, "mmap private: %s", strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < 8 * PAGE; i += PAGE)
		*(volatile char *)(b + i);
	b[0] ^= 1;  /* COW: page 0 of the private view is anonymous now */
	/* the shared view: 0-7 mapped twice, its Swap from the inode (shmem_swap_usage()) */
	if (wk_smaps(a, v, &start))
		cfail(c, "no smaps entry for the shared view");
	wk_expect(c, v, SM_RSS, 8 * WK_KB, "shared view: 8 pages resident, 8 swapped");
	wk_expect(c, v, SM_SWAP, 8 * WK_KB, "shared view: 8 shmem pages swapped");
	wk_expect(c, v, SM_PSS, 4 * WK_KB + WK_KB / 2, "shared view: 7 pages shared with the private view, 1 not");
	wk_expect(c, v, SM_ANON, 0, "shared view");
	/* the private view: page 0 anonymous, 1-7 shmem mapped twice, 8-15 never faulted: its Swap
	 * from smaps_pte_hole()'s lookup in the shmem file */
	if (wk_smaps(b, v, &start))
		cfail(c, "no smaps entry for the private view");
	wk_expect(c, v, SM_RSS, 8 * WK_KB, "private view: 8 pages mapped");
	wk_expect(c, v, SM_ANON, WK_KB, "private view: 1 page copied on write");
	wk_expect(c, v, SM_SWAP, 8 * WK_KB, "private view: 8 pages of its file swapped, never mapped");
	wk_expect(c, v, SM_PSS, WK_KB + 7 * WK_KB / 2, "private view: 1 page of its own, 7 shared with the shared view");
	wk_sharing_expect(c, v, WK_KB, 7 * WK_KB, "private view: the COW page its own, 7 shared");
	if (!wk_nodes(c, b, 8 * PAGE, PAGE, node))
		wk_numa_expect(c, start, 8, 1, 2, node, "private view: 8 pages, 1 anonymous, 7 mapped twice");
	for (int i = 0; i < WK_PAGES; i++) {
		pm[i] = i < 8 ? PM_PRESENT | (i ? 1ULL << 61 : 1ULL << 56) : 0;
		wcat[i] = i < 8 ? PAGE_IS_PRESENT | (i ? PAGE_IS_FILE : 0) : 0;
	}
	wk_pagemap_expect(c, b, WK_PAGES, pm, PM_PRESENT | PM_SWAP | 1ULL << 61 | 1ULL << 56, "private view");
	if (wk_scan(c, b, WK_PAGES, 0, 0, WK_ANYOF, WK_RET, cat) >= 0)
		wk_scan_expect(c, cat, wcat, WK_PAGES, "private view");
	want[0] ^= 1;
	wk_data(c, b, len, want, "private view");
	want[0] ^= 1;
	wk_data(c, a, len, want, "shared view (swapped back in)");
out:
	if (a != MAP_FAILED)
		munmap(a, len);
	if (b != MAP_FAILED)
		munmap(b, len);
	if (fd >= 0)
		close(fd);
	free(want);
}

/* walk/hugetlb */
static void walk_hugetlb(struct cell *c)
{
	size_t len = 2 * HPAGE, n = len / PAGE;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	char *want = malloc(HPAGE);
	uint64_t *pm = calloc(n, sizeof(*pm));
	unsigned long *cat = calloc(n, sizeof(*cat)), *wcat = calloc(n, sizeof(*wcat)), start = 0;
	long v[NSM], node[WK_NODES];
	struct wk_numa nm;
	int hold = -1;
	pid_t kid;

	if (p == MAP_FAILED) {
		cskip(c, "no hugetlb pages (mmap MAP_HUGETLB: %s)", strerror(errno));
		goto out;
	}
	if (!want || !pm || !cat || !wcat) {
		cfail(c, "out of memory");
		goto out;
	}
	fill64(p, HPAGE, 0x4b2);
	memcpy(want, p, HPAGE);
	for (int round = 0; round < 2; round++) {
		const char *state = round ? "after fork: shared with the child" : "alone";

		kid = round ? wk_child(c, &hold) : 0;
		if (kid < 0)
			break;
		if (wk_smaps(p, v, &start))
			cfail(c, "no smaps entry for the mapping");
		wk_expect(c, v, SM_RSS, 0, "hugetlb is not counted in Rss");
		wk_expect(c, v, round ? SM_SH_HUGE : SM_PR_HUGE, HPAGE / 1024, state);
		wk_expect(c, v, round ? SM_PR_HUGE : SM_SH_HUGE, 0, state);
		if (!wk_nodes(c, p, HPAGE, HPAGE, node))
			wk_numa_expect(c, start, 1, 1, round + 1, node, state);
		if (!wk_numa_maps(start, &nm) && !nm.huge)
			cfail(c, "numa_maps of a hugetlb mapping does not say huge");
		for (size_t i = 0; i < n; i++) {
			pm[i] = i < n / 2 ? PM_PRESENT : 0;
			wcat[i] = i < n / 2 ? PAGE_IS_PRESENT | PAGE_IS_HUGE : 0;
		}
		wk_pagemap_expect(c, p, n, pm, PM_PRESENT | PM_SWAP | 1ULL << 61, state);
		wk_huge_expect(c, p, n / 2, n, cat, wcat, state);
		if (kid > 0)
			wk_child_end(c, kid, hold);
	}
	wk_data(c, p, HPAGE, want, "after the walks");
out:
	if (p != MAP_FAILED)
		munmap(p, len);
	free(want);
	free(pm);
	free(cat);
	free(wcat);
}

/* An ext4 file (in c->path, c->fd) of len bytes of fill64(seed), synced; -1 with the cell told */
static int wk_file(struct cell *c, size_t len, unsigned seed)
{
	char *b = malloc(len + 1);

	if (!ext4_dir) {
		cskip(c, "no ext4 directory given (-d)");
		free(b);
		return -1;
	}
	snprintf(c->path, sizeof(c->path), "%s/walk.XXXXXX", ext4_dir);
	c->fd = mkstemp(c->path);
	if (c->fd < 0 || !b) {
		cfail(c, "mkstemp in %s: %s", ext4_dir, strerror(errno));
		c->path[0] = 0;
		free(b);
		return -1;
	}
	fill64(b, len, seed);
	if (len && (pwrite(c->fd, b, len, 0) != (ssize_t)len || fsync(c->fd))) {
		cfail(c, "pwrite/fsync: %s", strerror(errno));
		free(b);
		return -1;
	}
	free(b);
	return 0;
}

/* walk/ext4-shared */
static void walk_ext4(struct cell *c)
{
	size_t len = WK_PAGES * PAGE;
	char *p = MAP_FAILED, *want = malloc(len);
	unsigned long cat[WK_PAGES], wcat[WK_PAGES], start = 0;
	uint64_t pm[WK_PAGES];
	long v[NSM], node[WK_NODES];
	struct wk_numa nm;

	if (!want || wk_file(c, len, 0x6d4))
		goto out;
	fill64(want, len, 0x6d4);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (p == MAP_FAILED) {
		cfail(c, "mmap: %s", strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < len; i += PAGE)
		*(volatile char *)(p + i);
	fill64(want + 8 * PAGE, 4 * PAGE, 0x6d5);
	memcpy(p + 8 * PAGE, want + 8 * PAGE, 4 * PAGE);
	madvise(p + 12 * PAGE, 4 * PAGE, MADV_DONTNEED);
	if (wk_smaps(p, v, &start))
		cfail(c, "no smaps entry for the mapping");
	wk_expect(c, v, SM_RSS, 12 * WK_KB, "12 pages mapped");
	wk_expect(c, v, SM_PSS, 12 * WK_KB, "12 file pages mapped once");
	wk_expect(c, v, SM_ANON, 0, "a shared file mapping");
	wk_expect(c, v, SM_PR_DIRTY, 4 * WK_KB, "4 pages written through the mapping, the file synced before");
	wk_expect(c, v, SM_PR_CLEAN, 8 * WK_KB, "8 pages only read since the file was synced");
	if (!wk_nodes(c, p, 12 * PAGE, PAGE, node))
		wk_numa_expect(c, start, 12, 0, 1, node, "12 file pages");
	if (!wk_numa_maps(start, &nm) && nm.dirty != 4)
		cfail(c, "numa_maps dirty=%ld, expected 4 (4 pages written)", nm.dirty);
	for (int i = 0; i < WK_PAGES; i++) {
		pm[i] = i < 12 ? PM_PRESENT | 1ULL << 61 | 1ULL << 56 : 0;
		wcat[i] = i < 12 ? PAGE_IS_PRESENT | PAGE_IS_FILE : 0;
	}
	wk_pagemap_expect(c, p, WK_PAGES, pm, PM_PRESENT | PM_SWAP | 1ULL << 61 | 1ULL << 56, "12 file pages mapped");
	if (wk_scan(c, p, WK_PAGES, 0, 0, WK_ANYOF, WK_RET, cat) >= 0)
		wk_scan_expect(c, cat, wcat, WK_PAGES, "12 file pages mapped");
	wk_data(c, p, len, want, "after the walks");
out:
	if (p != MAP_FAILED)
		munmap(p, len);
	cell_file_close(c);
	free(want);
}

/* A userfaultfd with async write-protect, [p, p+len) registered for WP; -1 with the cell told */
static int wk_uffd_wp(struct cell *c, char *p, size_t len)
{
	struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};
	struct uffdio_register reg = {.range = {(uintptr_t)p, len}, .mode = UFFDIO_REGISTER_MODE_WP};
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		cskip(c, "userfaultfd: %s", strerror(errno));
		return -1;
	}
	if (ioctl(fd, UFFDIO_API, &api)) {  /* fs/userfaultfd.c drops WP_ASYNC without PTE markers */
		cskip(c, "UFFDIO_API with UFFD_FEATURE_WP_ASYNC: %s (CONFIG_PTE_MARKER_UFFD_WP off?)", strerror(errno));
		close(fd);
		return -1;
	}
	if (ioctl(fd, UFFDIO_REGISTER, &reg)) {
		cfail(c, "UFFDIO_REGISTER_MODE_WP of private anonymous memory: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* The pages PAGEMAP_SCAN says written (flags: with PM_SCAN_WP_MATCHING they are protected
 * again) against the set in want[] (1: written); hugebit: PAGE_IS_HUGE expected on the others */
static void wk_written(struct cell *c, char *p, size_t n, uint64_t flags, const char *want, const char *state)
{
	unsigned long *cat = calloc(n, sizeof(*cat));

	if (cat && wk_scan(c, p, n, flags | PM_SCAN_CHECK_WPASYNC, PAGE_IS_WRITTEN, 0, PAGE_IS_WRITTEN, cat) >= 0)
		for (size_t i = 0; i < n; i++)
			if (!!cat[i] != want[i]) {
				cfail(c, "PAGEMAP_SCAN says page %zu %s, expected %s (%s)", i,
				      cat[i] ? "written" : "not written", want[i] ? "written" : "not written", state);
				break;
			}
	free(cat);
}

/* walk/uffd-wp/anon (thp 0) and walk/uffd-wp/thp (thp 1) */
static void walk_uffd(struct cell *c, int thp)
{
	size_t len = thp ? HPAGE : WK_PAGES * PAGE, n = len / PAGE;
	char *p = map_aligned(len, thp ? HPAGE : PAGE, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE), *want = malloc(len);
	char *w = calloc(n, 1);
	unsigned long *cat = calloc(n, sizeof(*cat));
	size_t hit = thp ? 100 : 2, hit2 = thp ? 300 : 5, out = thp ? 0 : 7;
	int fd = -1;

	if (!p || !want || !w || !cat) {
		cfail(c, "out of memory");
		goto out;
	}
	fill64(p, len, 0x2c9);
	if (thp && !is_thp(p)) {
		cskip(c, "no THP (kpageflags)");
		goto out;
	}
	if (!thp && !swap_on()) {
		cskip(c, "no swap");
		goto out;
	}
	fd = wk_uffd_wp(c, p, len);
	if (fd < 0)
		goto out;
	memset(w, 1, n);  /* never protected: all written */
	wk_written(c, p, n, PM_SCAN_WP_MATCHING, w, "the first scan, which protects them");
	memset(w, 0, n);
	wk_written(c, p, n, 0, w, "just protected");
	if (thp && !is_thp(p))
		cfail(c, "write-protecting the whole THP split it");
	p[hit * PAGE + 8] ^= 1;
	p[hit2 * PAGE + 16] ^= 1;
	w[hit] = w[hit2] = 1;
	wk_written(c, p, n, 0, w, "two pages written since");
	if (!thp) {  /* a protected page out to swap and read back stays protected */
		if (wk_pageout(p + out * PAGE, PAGE) < 1) {
			cskip(c, "MADV_PAGEOUT of a protected page: pswpout did not move (swap is on)");
			goto out;
		} else if (wk_scan(c, p, n, 0, 0, WK_ANYOF, PAGE_IS_SWAPPED | PAGE_IS_WRITTEN, cat) >= 0 &&
			 cat[out] != PAGE_IS_SWAPPED)
			cfail(c, "PAGEMAP_SCAN categories of the protected page paged out %#lx, expected swapped, not written",
			      cat[out]);
		(void)*(volatile char *)(p + out * PAGE);  /* read only: the swap-in */
		wk_written(c, p, n, 0, w, "a protected page paged out and read back");
		p[out * PAGE + 24] ^= 1;
		w[out] = 1;
	}
	wk_written(c, p, n, PM_SCAN_WP_MATCHING, w, "pages written, protected again by this scan");
	memset(w, 0, n);
	wk_written(c, p, n, 0, w, "protected again");
	fill64(want, len, 0x2c9);
	want[hit * PAGE + 8] ^= 1;
	want[hit2 * PAGE + 16] ^= 1;
	if (!thp)
		want[out * PAGE + 24] ^= 1;
	wk_data(c, p, len, want, "writes to protected pages");
out:
	if (fd >= 0)
		close(fd);
	if (p)
		munmap(p, len);
	free(want);
	free(w);
	free(cat);
}

static void wk_run(struct cell *c, int k)
{
	switch (k) {
	case 0: walk_anon(c); break;
	case 1: walk_thp(c, 0); break;
	case 2: walk_thp(c, 1); break;
	case 3: walk_shmem_private(c); break;
	case 4: walk_hugetlb(c); break;
	case 5: walk_ext4(c); break;
	case 6: walk_uffd(c, 0); break;
	default: walk_uffd(c, 1); break;
	}
}

static const char *const wk_names[] = {"anon", "thp", "thp-pte", "shmem-private", "hugetlb", "ext4-shared",
				       "uffd-wp/anon", "uffd-wp/thp"};
static const struct cell_entry wk_table[] = {{"walk/", wk_run, wk_names, sizeof(wk_names) / sizeof(wk_names[0])}};

static void walk_cells(void)
{
	run_cells(wk_table, sizeof(wk_table) / sizeof(wk_table[0]), NULL, NULL);
}
