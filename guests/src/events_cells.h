/* Events under a held pin that the matrix lacked (issue 20): MADV_COLD and MADV_FREE followed
 * by reclaim, MADV_COLLAPSE and khugepaged over pinned small pages, writeback + page_mkclean of
 * a pinned ext4 MAP_SHARED page, and shmem THP with the events it had not met. Part of
 * pin_matrix.c (uses its struct cell, event(), reclaim_event(), vmstat(), kpageflags()): one
 * block of its own, entered through events_applies() (which cells), events_event() (what the
 * event does) and events_quick() (the default set's cells). docs/matrix.md says what each
 * checks and why; every premise is read from the kernel's counters, else the cell skips.
 */
#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_FREE
#define MADV_FREE 8
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#define KHUGEPAGED_DIR "/sys/kernel/mm/transparent_hugepage/khugepaged/"

static void reclaim_event(struct cell *c);
static void check_disk(struct cell *c, const char *want, off_t off, const char *what);

/* The default set's cells of this block (the rest run in pin-matrix-deep): each event on small
 * pages and THP once, each entry point once; not thp/cold (memory.reclaim scans 400k pages past
 * a pinned THP, 1-4 s under load) nor khugepaged (its timing is khugepaged's). */
static const char *const events_quick_cells[] = {
	"uring/anon/cold", "uring/anon/free", "gup-fast/thp/free", "vmsplice/anon/free",
	"uring/anon/collapse", "gup-fast/anon/collapse", "gup-fast/ext4-shared/mkclean",
	"uring/shmem-thp/fork", "uring/shmem-thp/dontneed", "gup-fast/shmem-thp/thp-split",
	"uring/thp-pte/collapse", "uring/shmem-thp/reclaim", "uring/shmem-thp/migrate",
	"gup-ro/anon/free",
};

static int events_quick(const char *name)
{
	for (size_t i = 0; i < sizeof(events_quick_cells) / sizeof(events_quick_cells[0]); i++)
		if (!strcmp(name, events_quick_cells[i]))
			return 1;
	return 0;
}

/* 0/1 for the cells of this block, -1 for the others (applies() decides). */
static int events_applies(enum pin p, enum mem m, enum ev e)
{
	int pin = p == GUP_FAST || p == GUP_SLOW || p == URING;

	switch (e) {
	case COLD:  /* private anon (small, THP) and shmem THP, then reclaim in the memcg */
		return (pin && p != GUP_SLOW && (m == ANON || m == THP || m == SHMTHP)) ||
		       ((p == VMSPLICE || p == GUP_RO) && m == ANON);
	case LAZYFREE:  /* MADV_FREE: private anonymous memory only (gup-ro: its PTEs are clean) */
		return ((pin || p == VMSPLICE) && (m == ANON || m == THP)) || (p == GUP_RO && m == ANON);
	case COLLAPSE:  /* small pages in a PMD range (anon), or a PTE-mapped THP */
		/* not gup-ro: its unshared pages are all mapped read-only, and khugepaged refuses a
		 * range without a writable PTE (SCAN_PAGE_RO: EINVAL) before it looks at pins */
		return ((pin || p == VMSPLICE) && m == ANON) || (p != GUP_SLOW && pin && m == THPTE);
	case KHUGEPAGED:
		return (p == GUP_FAST || p == URING) && m == ANON;
	case MKCLEAN:  /* ext4 MAP_SHARED: the held pins allowed there (read-only long-term, pipe) */
		return (p == GUP_FAST || p == GUP_SLOW || p == VMSPLICE) && m == FILESH;
	default:
		break;
	}
	if (m != SHMTHP || e == NONE || e == HOLE || e == PROTNONE || e == SEAL)
		return -1;  /* errpath_applies() has shmem-thp's none and error paths */
	if (p == GUP_FAST || p == URING)
		return e == FORK || e == MPROTECT || e == PAGEOUT || e == RECLAIM || e == DONTNEED ||
		       e == MIGRATE || e == MREMAP || e == MUNMAP || e == SPLIT;
	if (p == GUP_SLOW)
		return e == FORK || e == MIGRATE || e == PAGEOUT || e == MPROTECT;
	if (p == VMSPLICE)
		return e == FORK || e == PAGEOUT || e == RECLAIM || e == DONTNEED || e == MUNMAP;
	return 0;
}

/* Memory of the collapse events: small pages faulted in a PMD-aligned range (MADV_NOHUGEPAGE
 * until the event, which sets MADV_HUGEPAGE: THP is "always" in the default config). */
static int events_small_in_pmd(const struct cell *c)
{
	return c->mem == ANON && (c->ev == COLLAPSE || c->ev == KHUGEPAGED);
}

/* Witness pages whose kpageflags have the bit. */
static int witness_flag(struct cell *c, int bit)
{
	int n = 0;

	for (size_t off = 0; off < c->half; off += PAGE)
		n += (kpageflags(c->map + c->half + off) >> bit) & 1;
	return n;
}

/* AnonHugePages (kB) of the mapping that holds addr, from /proc/self/smaps; -1: not found. */
static long anon_huge_kb(const void *addr)
{
	char line[256];
	unsigned long lo, hi;
	long kb = -1;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	if (f)
		fclose(f);
	return kb;
}

/* Every CPU's LRU batches drained: move_pages() of one page (to the node it is on) starts with
 * lru_cache_disable() (mm/migrate.c do_pages_move()), cheaper than compaction under TCG. A page
 * still in another CPU's batch is not on the LRU: mark_page_accessed() cannot activate it and
 * MADV_COLD skips it (madvise_cold_or_pageout_pte_range(): "non-LRU folio"). */
static void drain_all_lru(char *page)
{
	void *pages[1] = {page};
	int node = -1, status;

	page[0] = 1;
	if (!syscall(SYS_move_pages, 0, 1, pages, NULL, &node, 0) && node >= 0)
		syscall(SYS_move_pages, 0, 1, pages, &node, &status, 0);
}

/* MADV_COLD of the region, then memory.reclaim of the whole group (reclaim_event()). The witness
 * is made active first where the kernel lets user space do it (gup_test GUP_BASIC_TEST: FOLL_TOUCH
 * marks small pages accessed, thrice = active and referenced; shmem: three preads,
 * folio_mark_accessed()), so that MADV_COLD has something to deactivate: pgdeactivate must move
 * and no witness page stay active or referenced. A PMD-mapped private THP cannot be activated
 * from user space (GUP only touches the PMD), so there the premise is the cleared referenced
 * bits and reclaim's. */
static void cold_event(struct cell *c)
{
	size_t len = 2 * c->half;
	struct gup_test g = {.addr = (uintptr_t)(c->map + c->half), .size = c->half, .nr_pages_per_call = 1};
	long act = vmstat("pgactivate"), deact, d;
	int can_activate = c->mem != THP, active, refd;
	char *dummy = map_aligned(PAGE, PAGE, -1), *buf = malloc(c->half);

	drain_all_lru(dummy);
	for (int i = 0; i < 3 && can_activate; i++) {
		if (c->mem == SHMTHP ? pread(c->fd, buf, c->half, c->half) != (ssize_t)c->half
				     : gup_fd < 0 || ioctl(gup_fd, GUP_BASIC_TEST, &g)) {
			cskip(c, "cannot touch the witness to activate it (%s): %s",
			      c->mem == SHMTHP ? "pread" : "gup_test GUP_BASIC_TEST", strerror(errno));
			goto out;
		}
	}
	deact = vmstat("pgdeactivate");
	if (madvise(c->map, len, MADV_COLD)) {
		cfail(c, "MADV_COLD: %s", strerror(errno));
		goto out;
	}
	/* madvise_cold() starts with lru_add_drain(): a second call drains the first's batch
	 * (this CPU's; the cell is one thread) */
	dummy[0] = 1;
	madvise(dummy, PAGE, MADV_COLD);
	d = vmstat("pgdeactivate") - deact;
	active = witness_flag(c, KPF_ACTIVE);
	refd = witness_flag(c, KPF_REFERENCED);
	printf("# %s: touched %s, pgactivate +%ld; MADV_COLD: pgdeactivate +%ld, %d witness pages still active,"
	       " %d referenced\n", c->name, can_activate ? "3 times" : "not (PMD-mapped THP)", vmstat("pgactivate") - act,
	       d, active, refd);
	if (refd)
		cskip(c, "MADV_COLD left %d witness page(s) referenced (kpageflags)", refd);
	else if (can_activate && (d <= 0 || active))
		cskip(c, "MADV_COLD deactivated nothing (pgdeactivate +%ld, %d witness pages active)", d, active);
	else
		reclaim_event(c);
	/* the pinned half was made cold and reclaimed with the rest: the process still maps it */
	if (!c->failed[0] && !c->skip[0] && (d = first_diff(c->cur, c->exp, c->half)) >= 0)
		cfail(c, "after MADV_COLD and reclaim the process reads other data in the pinned half (byte %ld)", d);
out:
	munmap(dummy, PAGE);
	free(buf);
}

/* Witness pages from page `from` on that are neither present nor swapped (discarded). */
static int witness_gone(struct cell *c, size_t from)
{
	int n = 0;

	for (size_t off = from * PAGE; off < c->half; off += PAGE)
		n += !(pagemap(c->map + c->half + off) & (PM_PRESENT | PM_SWAP));
	return n;
}

/* MADV_FREE of the region, then reclaim (MADV_PAGEOUT): a clean lazyfree page nobody else
 * holds is discarded (the witness, which must then read zeros), a pinned one must be kept and
 * stay mapped (mm/rmap.c try_to_unmap_one() and mm/huge_memory.c
 * __discard_anon_folio_pmd_locked() compare the refcount with the map count); a page written
 * after MADV_FREE must be kept too (small pages: the witness's first page; then both halves
 * freed, written and reclaimed again). Premises: pglazyfree moved by the witness's pages,
 * pglazyfreed moved and a witness page was discarded. */
static void free_event(struct cell *c)
{
	size_t len = 2 * c->half, npg = c->half / PAGE, kept = c->mem == ANON ? 1 : 0;
	long lf = vmstat("pglazyfree"), lfd = vmstat("pglazyfreed"), d;
	int gone = 0;

	if (madvise(c->map, len, MADV_FREE)) {
		cfail(c, "MADV_FREE: %s", strerror(errno));
		return;
	}
	if (kept) {  /* written after MADV_FREE: must survive reclaim */
		fill64(c->map + c->half, PAGE, 14);
		memcpy(c->wexp, c->map + c->half, PAGE);
	}
	for (int tries = 0; tries < 2 && !gone; tries++) {
		if (tries)
			drain_lru();
		if (madvise(c->map, len, MADV_PAGEOUT)) {
			cfail(c, "MADV_PAGEOUT: %s", strerror(errno));
			return;
		}
		gone = witness_gone(c, kept);
	}
	printf("# %s: MADV_FREE then MADV_PAGEOUT: pglazyfree +%ld, pglazyfreed +%ld, %d of %zu witness pages"
	       " discarded, pinned half %s\n", c->name, vmstat("pglazyfree") - lf, vmstat("pglazyfreed") - lfd, gone,
	       npg - kept, pagemap(c->cur) & PM_PRESENT ? "present" : "not present");
	if (vmstat("pglazyfree") - lf < (long)npg) {
		cskip(c, "MADV_FREE marked fewer pages lazyfree than the witness has (pglazyfree +%ld)",
		      vmstat("pglazyfree") - lf);
		return;
	}
	if (!gone || vmstat("pglazyfreed") == lfd) {
		cskip(c, "reclaim discarded no lazyfree witness page (pglazyfreed +%ld, %d gone)",
		      vmstat("pglazyfreed") - lfd, gone);
		return;
	}
	/* the pinned pages are still the process's, with their data */
	if ((d = first_diff(c->cur, c->exp, c->half)) >= 0) {
		cfail(c, "reclaim discarded a pinned MADV_FREE page: the process reads other data (byte %ld),"
		      " the pin keeps the old page", d);
		return;
	}
	if (kept && (d = first_diff(c->map + c->half, c->wexp, PAGE)) >= 0) {
		cfail(c, "a page written after MADV_FREE lost its data to reclaim (byte %ld)", d);
		return;
	}
	for (size_t i = kept; i < npg; i++)
		if (!(pagemap(c->map + c->half + i * PAGE) & (PM_PRESENT | PM_SWAP)))
			memset(c->wexp + i * PAGE, 0, PAGE);  /* discarded: a fresh zero page */
	if ((d = first_diff(c->map + c->half, c->wexp, c->half)) >= 0) {
		cfail(c, "a discarded MADV_FREE witness page does not read zeros (byte %ld)", d);
		return;
	}
	/* again, every page written after MADV_FREE: reclaim must keep them all */
	if (madvise(c->map, len, MADV_FREE)) {
		cfail(c, "MADV_FREE: %s", strerror(errno));
		return;
	}
	fill64(c->cur, c->half, 15);
	fill64(c->map + c->half, c->half, 16);
	memcpy(c->exp, c->cur, c->half);
	memcpy(c->wexp, c->map + c->half, c->half);
	lfd = vmstat("pglazyfreed");
	madvise(c->map, len, MADV_PAGEOUT);
	if ((d = first_diff(c->cur, c->exp, c->half)) >= 0)
		cfail(c, "the pinned half written after MADV_FREE reads other data after reclaim (byte %ld)", d);
	else if ((d = first_diff(c->map + c->half, c->wexp, c->half)) >= 0)
		cfail(c, "the witness written after MADV_FREE reads other data after reclaim (byte %ld;"
		      " pglazyfreed +%ld)", d, vmstat("pglazyfreed") - lfd);
}

/* MADV_COLLAPSE (or khugepaged) over both halves: pinned small pages must not be collapsed away
 * from the pin (mm/khugepaged.c is_refcount_suitable() refuses them: EAGAIN), or if collapsed,
 * stay coherent (held_cell checks both ways). Premise: the unpinned witness was collapsed:
 * thp_collapse_alloc moved and the witness is PMD-mapped (kpageflags THP for small pages,
 * smaps AnonHugePages for a PTE-mapped THP). */
static void collapse_event(struct cell *c)
{
	size_t len = 2 * c->half;
	long alloc = vmstat("thp_collapse_alloc"), huge0 = anon_huge_kb(c->map), scans = -1, huge = 0;
	uint64_t pfn = pfn_of(c->cur);
	int r = 0, err = 0, waited = 0, wthp;
	unsigned mark = knob_mark();
	static const char *const knobs[3] = {"scan_sleep_millisecs", "alloc_sleep_millisecs", "pages_to_scan"};
	static const char *const fast[3] = {"10", "10", "4096"};

	if (madvise(c->map, len, MADV_HUGEPAGE)) {  /* also registers the mm with khugepaged */
		cfail(c, "MADV_HUGEPAGE: %s", strerror(errno));
		return;
	}
	if (c->ev == COLLAPSE) {
		r = madvise(c->map, len, MADV_COLLAPSE);
		err = errno;
	} else {
		char path[128];

		for (int i = 0; i < 3; i++) {
			snprintf(path, sizeof(path), KHUGEPAGED_DIR "%s", knobs[i]);
			if (cell_knob(c, path, fast[i], NULL))
				goto restore;
		}
		scans = read_long(KHUGEPAGED_DIR "full_scans");
		for (; waited < 20000; waited += 100) {  /* khugepaged's own pace; TCG is slow */
			if (is_thp(c->map + c->half) && vmstat("thp_collapse_alloc") > alloc &&
			    read_long(KHUGEPAGED_DIR "full_scans") > scans + 1)
				break;  /* two full scans after the witness: the pinned half was tried */
			usleep(100 * 1000);
		}
	}
	wthp = c->mem == THPTE ? (huge = anon_huge_kb(c->map)) >= (long)(HPAGE >> 10) : is_thp(c->map + c->half);
	printf("# %s: %s: %s; thp_collapse_alloc +%ld, AnonHugePages %ld -> %ld kB, witness %s, pinned half %s"
	       " (pfn %#lx -> %#lx)\n", c->name, c->ev == COLLAPSE ? "MADV_COLLAPSE" : "khugepaged",
	       c->ev == COLLAPSE ? (r ? strerror(err) : "collapsed all") : "waited", vmstat("thp_collapse_alloc") - alloc,
	       huge0, anon_huge_kb(c->map), wthp ? "collapsed" : "not collapsed", is_thp(c->cur) ? "THP" : "small pages",
	       (unsigned long)pfn, (unsigned long)pfn_of(c->cur));
	if (c->ev == KHUGEPAGED)
		printf("# %s: %d ms, full_scans %ld -> %ld\n", c->name, waited, scans, read_long(KHUGEPAGED_DIR "full_scans"));
	if (c->ev == COLLAPSE && r && err != EAGAIN && err != EBUSY)
		cfail(c, "MADV_COLLAPSE: %s (pinned pages: EAGAIN)", strerror(err));
	else if (vmstat("thp_collapse_alloc") == alloc || !wthp)
		cskip(c, "the unpinned witness was not collapsed (thp_collapse_alloc +%ld, %s)",
		      vmstat("thp_collapse_alloc") - alloc, c->mem == THPTE ? "AnonHugePages below 2 MiB" : "not THP");
restore:
	knobs_back(c, mark);
}

/* ext4 MAP_SHARED under a read-only pin (or a pipe's references): the process writes, msync
 * writes it back and page_mkclean() write-protects the mapping, the process writes again (a
 * write fault must dirty the page again, else writeback never sees the second write), and the
 * file on disk (msync, fsync, drop_caches, O_DIRECT) must hold the last data, the pin too
 * (held_cell). Premises: nr_dirtied moved by the pages of each write (each after an msync that
 * cleaned them), nr_written by the msync between them. */
static void mkclean_event(struct cell *c)
{
	size_t len = 2 * c->half, npg = len / PAGE;
	long d0, w0, d1, w1, d2;

	/* mem_map's fill left the pages dirty: clean (and write-protect) them first, so that the
	 * first write must fault and dirty them as the second does */
	if (msync(c->map, len, MS_SYNC)) {
		cfail(c, "msync: %s", strerror(errno));
		return;
	}
	d0 = vmstat("nr_dirtied");
	w0 = vmstat("nr_written");
	fill64(c->cur, c->half, 11);
	fill64(c->map + c->half, c->half, 12);
	if (msync(c->map, len, MS_SYNC)) {
		cfail(c, "msync: %s", strerror(errno));
		return;
	}
	d1 = vmstat("nr_dirtied");
	w1 = vmstat("nr_written");
	fill64(c->cur, c->half, 13);  /* after page_mkclean: must fault and dirty the page again */
	fill64(c->map + c->half, c->half, 14);
	d2 = vmstat("nr_dirtied");
	memcpy(c->exp, c->cur, c->half);
	memcpy(c->wexp, c->map + c->half, c->half);
	printf("# %s: first write nr_dirtied +%ld, msync nr_written +%ld, second write nr_dirtied +%ld (%zu pages)\n",
	       c->name, d1 - d0, w1 - w0, d2 - d1, npg);
	if (msync(c->map + c->half, c->half, MS_SYNC))
		cfail(c, "msync: %s", strerror(errno));
	check_disk(c, c->exp, 0, "the pinned half's last write after msync");
	check_disk(c, c->wexp, (off_t)c->half, "the witness's last write after msync");
	if (d1 - d0 < (long)npg || w1 - w0 < (long)npg)
		cskip(c, "the first write and msync did not dirty and write back every page (nr_dirtied +%ld,"
		      " nr_written +%ld, %zu pages)", d1 - d0, w1 - w0, npg);
	else if (d2 - d1 < (long)npg)
		cskip(c, "the write after msync dirtied fewer pages than written (nr_dirtied +%ld): page_mkclean"
		      " did not write-protect them", d2 - d1);
}

/* The events of this block (event()'s default). */
static void events_event(struct cell *c)
{
	switch (c->ev) {
	case COLD:
		cold_event(c);
		break;
	case LAZYFREE:
		free_event(c);
		break;
	case COLLAPSE:
	case KHUGEPAGED:
		collapse_event(c);
		break;
	case MKCLEAN:
		mkclean_event(c);
		break;
	default:
		break;
	}
}
