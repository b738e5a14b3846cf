/* ksm/merged/<event>: KSM pages that move, go out to swap, are unmerged, written or pinned.
 * Part of pin_matrix.c (struct cell, cfail/cskip, cell_fork(), fill_alike(), first_diff(),
 * ksm_read(), memcg_cell_enter()/memcg_reclaim()/memcg_leave(), pin_start()/pin_stop()/pin_read()/
 * pin_write(), wait_child(); kentry_cells.h's pin_mark()/pins_back()), entered by ksm_cells() from
 * main.
 *
 * The matrix's ksm event only checks that a pinned page is not merged; no cell did anything to a
 * page once merged, so mm/ksm.c's rmap_walk_ksm() (every unmap and remap of a KSM page: migration,
 * reclaim), break_ksm()/remove_stable_node() (unmerging) and gup's unshare of a KSM page never ran.
 * Setup of each cell: 16 private anonymous pages, all alike, MADV_MERGEABLE, then a child forked
 * (mm/ksm.c ksm_fork() registers it) that writes the same bytes into its own copies; ksmd runs
 * (fast: main's knobs) until the parent's 16 pages and the child's 16 map one PFN (premise, from
 * pagemap: else SKIP after 10 s), then stops (run=0: merged pages stay merged). Then a second
 * child is forked: it maps the KSM page without an rmap_item of its own, so only
 * rmap_walk_ksm()'s second pass (search_new_forks: the vmas of mms forked since ksmd passed)
 * finds its mappings; every check below counts the children's 32 mappings.
 *
 * migrate: move_pages(MPOL_MF_MOVE_ALL) of the parent's pages to the other node: the KSM page
 *   moves once for all 48 mappings (rmap_walk_ksm() unmaps and remaps them): every mapping of
 *   parent and children on one new PFN, on the target node.
 * reclaim: the parent (and so the children) in the -m memory cgroup from before the mapping;
 *   clear_refs 1 in all three (the PTEs KSM made are young: without it reclaim kept activating
 *   the page, which stayed through 3 rounds in 5 of 6 runs), then memory.reclaim of all of it, up
 *   to 3 rounds: the KSM page goes to swap for all 48 mappings (one swap entry in every pagemap
 *   entry), then the parent reads its bytes back. Some mappings on the swap entry and others not
 *   fail; none (the page stayed) skips. No compact_memory to drain the LRU batches: it migrates
 *   the KSM page into this CPU's batch again; memory.reclaim's last retry drains every CPU's.
 * unmerge: MADV_UNMERGEABLE in the parent: its 16 pages each a page of its own, the children's
 *   still the KSM page; then run=2 (unmerge everything, remove_stable_node()): the children's
 *   pages each their own and pages_shared 0.
 * write: the parent writes one page: that page alone gets a new PFN (a KSM page is never reused
 *   by a write fault), the other 47 mappings keep the KSM page.
 * pin-uring, pin-ro: io_uring buffer registration (writable long-term) or gup_test's read-only
 *   long-term pin of the parent's 16 pages: both must unshare the KSM page (mm/gup.c: a write pin
 *   breaks COW, a read-only one takes FAULT_FLAG_UNSHARE for a KSM page: gup_must_unshare()), so
 *   each pinned page is the parent's own while the children keep the KSM page; ksmd then runs two
 *   more full scans and must merge none of the pinned pages (write_protect_page() refuses a
 *   pinned one); the process writes: the pin reads it; (io_uring) the pin writes: the process
 *   reads it; the pins come back.
 * Every cell: the parent's bytes and the first child's (checked by that child at exit) as written.
 */
#define KM_PAGES 16
#define KM_SEED 0x4b53
#ifndef MPOL_MF_MOVE_ALL
#define MPOL_MF_MOVE_ALL (1 << 2)  /* include/uapi/linux/mempolicy.h */
#endif

static const char *const km_names[] = {"migrate", "reclaim", "unmerge", "write", "pin-uring", "pin-ro"};
enum { KM_MIGRATE, KM_RECLAIM, KM_UNMERGE, KM_WRITE, KM_PIN_URING, KM_PIN_RO };

struct km {
	char *p, *want;
	size_t len;
	pid_t kid, late;  /* late: forked once merged, it has no rmap_item of its own */
	int hold, late_hold;
	uint64_t kpfn;  /* the KSM page's PFN */
	unsigned seed;  /* the bytes of every page: each cell its own (see km_run()) */
};

/* PFNs of the parent's pages and the children's: how many map pfn (0: the first parent page's) */
static int km_on(struct km *k, uint64_t pfn, int *mine, int *theirs)
{
	uint64_t want = pfn ? pfn : pfn_of(k->p);

	*mine = *theirs = 0;
	for (int i = 0; i < KM_PAGES; i++) {
		*mine += want && pfn_of(k->p + i * PAGE) == want;
		*theirs += want && pagemap_pfn(pagemap_of(k->kid, (uintptr_t)k->p + i * PAGE)) == want;
		if (k->late > 0)
			*theirs += want && pagemap_pfn(pagemap_of(k->late, (uintptr_t)k->p + i * PAGE)) == want;
	}
	return *mine + *theirs;
}

/* ksmd on until cond(k) or ms passed; run back to 0 (merged pages stay merged) */
static int km_ksmd(struct km *k, int (*cond)(struct km *k), int ms)
{
	int got = 0, t;

	write_file("/sys/kernel/mm/ksm/run", "1");
	for (t = 0; t < ms && !(got = cond(k)); t += 50)
		usleep(50 * 1000);
	write_file("/sys/kernel/mm/ksm/run", "0");
	return got;
}

static int km_all_merged(struct km *k)
{
	int mine, theirs;

	return km_on(k, 0, &mine, &theirs) == 2 * KM_PAGES;
}

static long km_scans_until;
static int km_two_scans(struct km *k)
{
	(void)k;
	return ksm_read("full_scans") >= km_scans_until;
}

/* The setup of the header comment; -1 with the cell told */
static int km_setup(struct cell *c, struct km *k, int late)
{
	int ready[2], hold[2];
	char b;

	k->len = KM_PAGES * PAGE;
	k->kid = -1;
	k->hold = -1;
	k->want = malloc(k->len);
	k->p = mmap(NULL, k->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (k->p == MAP_FAILED || !k->want) {
		k->p = NULL;
		cfail(c, "mmap: %s", strerror(errno));
		return -1;
	}
	if (ksm_read("run") < 0) {
		cskip(c, "no /sys/kernel/mm/ksm (CONFIG_KSM off)");
		return -1;
	}
	madvise(k->p, k->len, MADV_NOHUGEPAGE);
	if (madvise(k->p, k->len, MADV_MERGEABLE)) {
		cfail(c, "MADV_MERGEABLE: %s", strerror(errno));
		return -1;
	}
	fill_alike(k->p, k->len, k->seed);
	memcpy(k->want, k->p, k->len);
	if (pipe(ready)) {
		cfail(c, "pipe: %s", strerror(errno));
		return -1;
	}
	if (pipe(hold)) {
		cfail(c, "pipe: %s", strerror(errno));
		close_pair(ready);
		return -1;
	}
	k->kid = cell_fork();
	if (k->kid == 0) {  /* its own copies, the same bytes; checked when the parent lets go */
		close(ready[0]);
		close(hold[1]);
		fill_alike(k->p, k->len, k->seed);
		if (write(ready[1], "r", 1) != 1 || read(hold[0], &b, 1) < 0)
			_exit(1);
		_exit(first_diff(k->p, k->want, k->len) >= 0 ? 3 : 0);
	}
	close(ready[1]);
	close(hold[0]);
	k->hold = hold[1];
	if (k->kid < 0 || read(ready[0], &b, 1) != 1) {
		cfail(c, "fork or the child's start: %s", strerror(errno));
		close(ready[0]);
		return -1;
	}
	close(ready[0]);
	{
		long sharing = ksm_read("pages_sharing");
		int merged = km_ksmd(k, km_all_merged, 10000), mine, theirs;

		km_on(k, 0, &mine, &theirs);
		printf("# %s: %d of the parent's and %d of the child's %d pages on one PFN, pages_sharing %ld -> %ld\n",
		       c->name, mine, theirs, KM_PAGES, sharing, ksm_read("pages_sharing"));
		if (!merged) {
			cskip(c, "KSM merged %d of the parent's and %d of the child's %d alike pages in 10 s", mine, theirs,
			      KM_PAGES);
			return -1;
		}
	}
	k->kpfn = pfn_of(k->p);
	if (!late)
		return 0;
	k->late = wk_child(c, &k->late_hold);
	return k->late > 0 ? 0 : -1;
}

static void km_teardown(struct cell *c, struct km *k)
{
	if (k->p)
		wk_data(c, k->p, k->len, k->want, "the parent's bytes");
	if (k->late > 0)  /* first: it holds a copy of k->hold, whose end the first child waits for */
		wk_child_end(c, k->late, k->late_hold);
	if (k->kid > 0) {
		close(k->hold);
		wait_child(c, k->kid, "the child (its copies of the merged pages)");
	}
	if (k->p) {
		madvise(k->p, k->len, MADV_UNMERGEABLE);
		munmap(k->p, k->len);
	}
	free(k->want);
}

/* The parent's pages each a page of its own, none the KSM page; the children's all still on it */
static void km_unshared(struct cell *c, struct km *k, const char *after)
{
	int mine, theirs;

	km_on(k, k->kpfn, &mine, &theirs);
	if (mine)
		cfail(c, "%d of the parent's %d pages still map the KSM page after %s", mine, KM_PAGES, after);
	else if (theirs != 2 * KM_PAGES)
		cfail(c, "%d of the children's %d pages still map the KSM page after %s in the parent, expected all",
		      theirs, 2 * KM_PAGES, after);
	for (int i = 0; i < KM_PAGES; i++)
		for (int j = 0; j < i; j++)
			if (pfn_of(k->p + i * PAGE) == pfn_of(k->p + j * PAGE)) {
				cfail(c, "the parent's pages %d and %d share a PFN after %s", j, i, after);
				return;
			}
}

static void km_migrate(struct cell *c, struct km *k)
{
	void *pg[KM_PAGES];
	int st[KM_PAGES], to[KM_PAGES], was, mine, theirs;
	long ok0 = vmstat("pgmigrate_success");

	if (numa_nodes() < 2) {
		cskip(c, "one NUMA node");
		return;
	}
	for (int i = 0; i < KM_PAGES; i++)
		pg[i] = k->p + i * PAGE;
	if (syscall(SYS_move_pages, 0, 1, pg, NULL, &was, 0) || was < 0) {
		cfail(c, "move_pages (query): %s", strerror(errno));
		return;
	}
	for (int i = 0; i < KM_PAGES; i++)
		to[i] = (was + 1) % numa_nodes();
	if (syscall(SYS_move_pages, 0, KM_PAGES, pg, to, st, MPOL_MF_MOVE_ALL) < 0) {
		cfail(c, "move_pages(MPOL_MF_MOVE_ALL) of a KSM page: %s", strerror(errno));
		return;
	}
	if (syscall(SYS_move_pages, 0, KM_PAGES, pg, NULL, st, 0) || st[0] != to[0]) {
		cfail(c, "the KSM page is on node %d after move_pages to node %d (pgmigrate_success %+ld)", st[0], to[0],
		      vmstat("pgmigrate_success") - ok0);
		return;
	}
	km_on(k, 0, &mine, &theirs);
	if (pfn_of(k->p) == k->kpfn)
		cfail(c, "the KSM page moved to node %d but kept its PFN %#llx", to[0], (unsigned long long)k->kpfn);
	else if (mine != KM_PAGES || theirs != 2 * KM_PAGES)
		cfail(c, "after migrating the KSM page %d of the parent's %d and %d of the children's %d pages map its new "
		      "PFN", mine, KM_PAGES, theirs, 2 * KM_PAGES);
}

/* The mappings' pagemap entries: how many are on one swap entry (the first one seen) */
static int km_swapped(struct km *k)
{
	uint64_t e = 0;
	int out = 0;

	for (int i = 0; i < KM_PAGES; i++)
		for (int w = 0; w < (k->late > 0 ? 3 : 2); w++) {
			uint64_t b = w ? pagemap_of(w == 1 ? k->kid : k->late, (uintptr_t)k->p + i * PAGE)
				       : pagemap(k->p + i * PAGE);
			uint64_t s = (b >> 62) & 1 ? b & ((1ULL << 55) - 1) : 0;

			e = e ? e : s;
			out += s && s == e;
		}
	return out;
}

static void km_reclaim(struct cell *c, struct km *k)
{
	long out0 = vmstat("pswpout");
	int out = 0, err = 0, round;

	/* no compact_memory to drain the LRU batches: it migrates the KSM page into this CPU's batch
	 * again; memory.reclaim's own last retry drains every CPU's (mm/memcontrol.c) */
	for (round = 0; round < 3 && !out; round++) {
		char cr[64];

		/* the PTEs KSM made are young (mk_pte() with vm_page_prot): clear_refs makes them old,
		 * so that reclaim does not keep activating the page */
		write_file("/proc/self/clear_refs", "1");
		for (int w = 0; w < 2; w++) {
			snprintf(cr, sizeof(cr), "/proc/%d/clear_refs", (int)(w ? k->late : k->kid));
			write_file(cr, "1");
		}
		err = memcg_reclaim_all(64L << 20, NULL);
		out = km_swapped(k);
	}
	printf("# %s: %d round(s) of memory.reclaim (%s), pswpout %+ld, %d of the %d mappings on one swap entry\n",
	       c->name, round, err ? strerror(err) : "ok", vmstat("pswpout") - out0, out, 3 * KM_PAGES);
	if (!out)
		cskip(c, "the KSM page stayed in memory through 3 rounds of memory.reclaim (%s, pswpout %+ld)",
		      err ? strerror(err) : "ok", vmstat("pswpout") - out0);
	else if (out != 3 * KM_PAGES)
		cfail(c, "memory.reclaim put %d of the KSM page's %d mappings on its swap entry, the others not (parent, "
		      "child, child forked once merged)", out, 3 * KM_PAGES);
}

static void km_unmerge(struct cell *c, struct km *k)
{
	int mine, theirs;

	if (madvise(k->p, k->len, MADV_UNMERGEABLE)) {
		cfail(c, "MADV_UNMERGEABLE: %s", strerror(errno));
		return;
	}
	km_unshared(c, k, "MADV_UNMERGEABLE");
	write_file("/sys/kernel/mm/ksm/run", "2");  /* unmerge every KSM page left: the children's */
	km_on(k, k->kpfn, &mine, &theirs);
	if (theirs)
		cfail(c, "%d of the children's pages still map the KSM page after run=2 (pages_shared %ld)", theirs,
		      ksm_read("pages_shared"));
	else if (ksm_read("pages_shared"))
		cfail(c, "pages_shared %ld after run=2 unmerged everything", ksm_read("pages_shared"));
	write_file("/sys/kernel/mm/ksm/run", "0");
}

static void km_write(struct cell *c, struct km *k)
{
	int mine, theirs;

	k->p[3 * PAGE + 100] ^= 1;
	k->want[3 * PAGE + 100] ^= 1;
	km_on(k, k->kpfn, &mine, &theirs);
	if (pfn_of(k->p + 3 * PAGE) == k->kpfn)
		cfail(c, "the parent wrote a merged page and still maps the KSM page there");
	else if (mine != KM_PAGES - 1 || theirs != 2 * KM_PAGES)
		cfail(c, "after one write in the parent %d of its and %d of the children's pages map the KSM page, expected "
		      "%d and %d", mine, theirs, KM_PAGES - 1, 2 * KM_PAGES);
}

static void km_pin(struct cell *c, struct km *k, enum pin p)
{
	uint64_t pfn[KM_PAGES];
	char *got = malloc(k->len), *src = malloc(k->len);
	struct pinmark m;
	long scans;
	int scanned = 1;

	if (!got || !src) {
		cfail(c, "out of memory");
		goto out;
	}
	if (pinner_missing(c, p))
		goto out;
	c->half = k->len;  /* pin_read/pin_write move the whole range */
	pin_mark(&m);
	if (pin_start(c, p, k->p, k->len))
		goto out;
	km_unshared(c, k, p == URING ? "a writable long-term pin" : "a read-only long-term pin");
	for (int i = 0; i < KM_PAGES; i++)
		pfn[i] = pfn_of(k->p + i * PAGE);
	scans = ksm_read("full_scans");
	km_scans_until = scans + 2;
	scanned = km_ksmd(k, km_two_scans, 5000);
	for (int i = 0; i < KM_PAGES; i++)
		if (pfn_of(k->p + i * PAGE) != pfn[i]) {
			cfail(c, "pinned page %d changed its PFN %#llx -> %#llx while ksmd ran (merged under a pin)", i,
			      (unsigned long long)pfn[i], (unsigned long long)pfn_of(k->p + i * PAGE));
			break;
		}
	k->p[5 * PAGE + 8] ^= 1;  /* the write fault must reuse the pinned page */
	k->want[5 * PAGE + 8] ^= 1;
	if (!pin_read(c, p, k->p, got) && first_diff(got, k->want, k->len) >= 0)
		cfail(c, "the pin reads byte %ld as %#x, the process wrote %#x", first_diff(got, k->want, k->len),
		      got[first_diff(got, k->want, k->len)] & 0xff, k->want[first_diff(got, k->want, k->len)] & 0xff);
	if (p == URING) {
		fill64(src, k->len, KM_SEED + 1);
		if (pin_write(c, p, k->p, src) > 0)
			memcpy(k->want, src, k->len);
	}
	pin_stop(c, p);
	pins_back(c, &m, "the unpin");
	if (!scanned && !c->failed[0])  /* the claim is "ksmd scanned and merged no pinned page" */
		cskip(c, "ksmd did %ld full scan(s) in 5 s, not 2: nothing tried to merge under the pin",
		      ksm_read("full_scans") - scans);
out:
	free(got);
	free(src);
}

static void km_run(struct cell *c, int e)
{
	/* bytes no earlier cell had: a KSM page an earlier cell left for a moment (in a per-CPU LRU
	 * batch after its migration, say) would otherwise take these pages in */
	struct km k = {.seed = KM_SEED + 16 * (unsigned)e};

	if (e == KM_RECLAIM && memcg_cell_enter(c))
		return;
	if (!km_setup(c, &k, 1)) {
		switch (e) {
		case KM_MIGRATE: km_migrate(c, &k); break;
		case KM_RECLAIM: km_reclaim(c, &k); break;
		case KM_UNMERGE: km_unmerge(c, &k); break;
		case KM_WRITE: km_write(c, &k); break;
		case KM_PIN_URING: km_pin(c, &k, URING); break;
		default: km_pin(c, &k, GUP_RO); break;
		}
	}
	km_teardown(c, &k);
	memcg_leave();
}

static const struct cell_entry km_table[] = {{"ksm/merged/", km_run, km_names, sizeof(km_names) / sizeof(km_names[0])}};

static void ksm_cells(void)
{
	run_cells(km_table, sizeof(km_table) / sizeof(km_table[0]), NULL, NULL);
}
