/* share/<memory>/<state>/<op>: one sharer's madvise, then reclaim, against the other sharer's
 * bytes (after red-team round 7 of docs/redteam.md, whose MADV_FREE bug no cell reached: the
 * `free` events MADV_FREE pages mapped once, and swapoff was never followed by an madvise).
 * An anonymous folio mapped by a parent and its child after fork stays one folio until one of
 * them writes; mm must treat it as shared whatever state it came to be shared in. Each way a
 * folio gets there is a state: `fork` (the parent's written pages, PTEs dirty on both sides),
 * `swapin` (paged out, forked, then read back by both: one swap-cache folio, clean PTEs),
 * `swapoff` (paged out, forked, back by swapoff: a dirty folio outside the swap cache, clean
 * PTEs, mapped by mm/swapfile.c unuse_pte()). The parent then madvises the whole range
 * (MADV_FREE, MADV_COLD, MADV_PAGEOUT or MADV_DONTNEED: mm/madvise.c, and for a PMD-mapped
 * THP mm/huge_memory.c madvise_free_huge_pmd()) and the cell's memory cgroup is reclaimed
 * (memory.reclaim of all it holds, swap on zram): lazyfree folios are discarded there
 * (mm/rmap.c try_to_unmap_one()) unless dirty or mapped dirty elsewhere.
 * Checks: the child, which did nothing, reads its bytes; the parent reads its bytes (MADV_FREE:
 * each page its bytes or zeros; MADV_DONTNEED: zeros); then the two write and each reads only
 * its own. Premise: every page mapped by both processes when the parent madvised
 * (/proc/kpagecount), in the swap cache for `swapin` (kpageflags), out to swap before the fork
 * for the swap states, and some of the shared pages left memory in reclaim (pagemap of either
 * process; up to three memory.reclaims), else SKIP.
 * Part of pin_matrix.c, after swap_cells.h (sw_off_on()) and dump_cells.h (pages_out()).
 */
#define SH_PAGES 16

enum sh_state { SHS_FORK, SHS_SWAPIN, SHS_SWAPOFF, NSHS };
enum sh_op { SHO_FREE, SHO_COLD, SHO_PAGEOUT, SHO_DONTNEED, NSHO };
static const char *const sh_state_names[NSHS] = {"fork", "swapin", "swapoff"};
static const char *const sh_op_names[NSHO] = {"free", "cold", "pageout", "dontneed"};
static const char *const sh_op_madv[NSHO] = {"MADV_FREE", "MADV_COLD", "MADV_PAGEOUT", "MADV_DONTNEED"};
static const int sh_op_advice[NSHO] = {MADV_FREE, MADV_COLD, MADV_PAGEOUT, MADV_DONTNEED};

/* How many processes map the page at addr (/proc/kpagecount: the page's map count); -1 unknown */
static long sh_mapcount(const void *addr)
{
	static int fd = -1;
	uint64_t pfn = pfn_of(addr), n = 0;

	if (fd < 0)
		fd = open("/proc/kpagecount", O_RDONLY);
	if (!pfn || fd < 0 || pread(fd, &n, 8, (off_t)(pfn * 8)) != 8)
		return -1;
	return (long)n;
}

/* The child: answers the parent's one-letter steps on its own view of the buffer with the first
 * byte that differs from what it should hold (-1: none). r: read every page (fault it in);
 * c: compare with the bytes of before the fork; w: write its own bytes; m: compare with those;
 * s: how many of its pages are out of memory, minus one. */
static void sh_child(char *map, size_t len, const char *want, int in, int out)
{
	char step, *mine = malloc(len);
	volatile char sink = 0;

	if (mine)
		fill64(mine, len, 31);
	while (mine && read(in, &step, 1) == 1 && step != 'q') {
		long first = -1;

		if (step == 'r')
			for (size_t off = 0; off < len; off += PAGE)
				sink += map[off];
		else if (step == 'c')
			first = first_diff(map, want, len);
		else if (step == 'w')
			memcpy(map, mine, len);
		else if (step == 'm')
			first = first_diff(map, mine, len);
		else if (step == 's')  /* its pages out of memory (pagemap reopened: pinlib.h) */
			for (size_t off = 0; off < len; off += PAGE)
				first += !(pagemap(map + off) & PM_PRESENT);
		if (write(out, &first, sizeof(first)) != sizeof(first))
			break;
	}
	_exit(0);
}

/* One step of the child's: its answer (-1: it holds what it must), or -2 with the cell failed */
static long sh_ask(struct cell *c, int to, int from, char step)
{
	long first = -2;

	errno = 0;  /* EOF says nothing in errno */
	if (write(to, &step, 1) != 1 || read(from, &first, sizeof(first)) != sizeof(first)) {
		cfail(c, "the child did not answer step %c: %s", step, errno ? strerror(errno) : "it ended");
		return -2;
	}
	return first;
}

/* The parent's pages after its own madvise and reclaim: 0 when they hold what op allows */
static int sh_parent_ok(struct cell *c, enum sh_op op, const char *map, const char *want, size_t len)
{
	for (size_t off = 0; off < len; off += PAGE) {
		long first = first_diff(map + off, want + off, PAGE), zeros = 1;

		for (size_t i = 0; i < PAGE && zeros; i++)
			zeros = !map[off + i];
		if (op == SHO_DONTNEED ? !zeros : first >= 0 && !(op == SHO_FREE && zeros)) {
			cfail(c, "after its own %s and reclaim the parent's page %zu reads %s at byte %ld", sh_op_madv[op],
			      off / PAGE, op == SHO_DONTNEED ? "other bytes than zeros" : "other bytes than its own",
			      op == SHO_DONTNEED ? 0 : first);
			return -1;
		}
	}
	return 0;
}

/* Every page of the range mapped by two processes (swapin: in the swap cache; swapoff: dirty and
 * out of it): the premise of the madvise, else the cell skipped with the first page that is not */

static int sh_shared(struct cell *c, const char *map, size_t len, enum sh_state s)
{
	for (size_t off = 0; off < len; off += PAGE) {
		long n = sh_mapcount(map + off);

		if (n != 2) {
			cskip(c, "page %zu is mapped %ld time(s), not by both processes, when the parent madvises", off / PAGE, n);
			return 0;
		}
		if (s == SHS_SWAPIN && !(kpageflags(map + off) >> KPF_SWAPCACHE & 1)) {
			cskip(c, "page %zu is not in the swap cache after both read it back", off / PAGE);
			return 0;
		}
		if (s == SHS_SWAPOFF && ((kpageflags(map + off) >> KPF_SWAPCACHE & 1) || !(kpageflags(map + off) >> KPF_DIRTY & 1))) {
			cskip(c, "page %zu is %s after swapoff (want a dirty folio outside the swap cache)", off / PAGE,
			      kpageflags(map + off) >> KPF_SWAPCACHE & 1 ? "in the swap cache" : "clean");
			return 0;
		}
	}
	return 1;
}

static void share_cell(struct cell *c, int thp, enum sh_state s, enum sh_op op)
{
	size_t len = thp ? HPAGE : SH_PAGES * PAGE;
	char *map = NULL, *want = malloc(len), *theirs = malloc(len);
	int to[2] = {-1, -1}, from[2] = {-1, -1};
	long first, scan0, scan = -1, gone = 0, out0 = vmstat("pswpout"), in0 = vmstat("pswpin");
	pid_t child = -1;
	int err;

	c->mem = thp ? THP : ANON;
	if (!want || !theirs || pipe(to) || pipe(from)) {
		cfail(c, "out of memory or pipes: %s", strerror(errno));
		goto out;
	}
	if (s != SHS_FORK && !swap_on()) {
		cskip(c, "no swap in /proc/swaps (swap on zram?)");
		goto out;
	}
	if (memcg_cell_enter(c))  /* before the buffer is mapped: its pages are charged there */
		goto out;
	if (!(map = map_aligned(len, thp ? HPAGE : PAGE, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))) {
		cfail(c, "cannot map the buffer: %s", strerror(errno));
		goto out;
	}
	fill64(want, len, 23);
	memcpy(map, want, len);
	if (thp && !is_thp(map)) {
		cskip(c, "no THP behind the buffer (kpageflags)");
		goto out;
	}
	if (s != SHS_FORK) {
		long n = 0;

		for (int t = 0; t < 3 && (n = pages_out(c, map, len)) < (long)(len / PAGE); t++)
			madvise(map, len, MADV_PAGEOUT);
		if (n < (long)(len / PAGE)) {
			cskip(c, "%ld of %zu page(s) went out to swap in three MADV_PAGEOUTs", n, len / PAGE);
			goto out;
		}
	}
	if ((child = cell_fork()) == 0) {
		close(to[1]);
		close(from[0]);
		sh_child(map, len, want, to[0], from[1]);
	}
	if (child < 0) {
		cfail(c, "fork: %s", strerror(errno));
		goto out;
	}
	close(to[0]);  /* the child's ends: a child that died reads as EOF, not a wait */
	close(from[1]);
	to[0] = from[1] = -1;
	if (s == SHS_SWAPIN) {  /* both fault the pages back in by reading: one swap-cache folio each */
		if (first_diff(map, want, len) >= 0 || sh_ask(c, to[1], from[0], 'r') != -1) {
			cfail(c, "the pages read back from swap after the fork hold other bytes");
			goto out;
		}
	} else if (s == SHS_SWAPOFF) {
		sw_off_on(c);
		if (c->failed[0] || c->skip[0])
			goto out;
		if ((first = pages_out(c, map, len))) {
			cfail(c, "%ld page(s) still swapped out after swapoff turned every area off", first);
			goto out;
		}
	}
	if (!sh_shared(c, map, len, s))
		goto out;
	if (madvise(map, len, sh_op_advice[op])) {
		cfail(c, "%s: %s", sh_op_madv[op], strerror(errno));
		goto out;
	}
	/* reclaim until some of the shared pages left memory in either process (a first pass may only
	 * discard the parent's clean lazyfree mapping and put the folio back: try_to_unmap_one()) */
	scan0 = memcg_stat("pgscan");
	for (int t = 0; t < 3 && !gone; t++) {
		if ((err = memcg_reclaim_all((long)len, NULL)) && err != EAGAIN) {
			cfail(c, "memory.reclaim: %s", strerror(err));
			goto out;
		}
		gone = 0;
		for (size_t off = 0; op != SHO_DONTNEED && off < len; off += PAGE)
			gone += !(pagemap(map + off) & PM_PRESENT);
		if ((first = sh_ask(c, to[1], from[0], 's')) < -1)
			goto out;
		gone += first + 1;
	}
	scan = memcg_stat("pgscan") - scan0;
	if ((first = sh_ask(c, to[1], from[0], 'c')) != -1) {
		if (first >= 0)
			cfail(c, "the child, which did nothing, reads other bytes at page %ld byte %ld after the parent's "
			      "%s of the pages they share and reclaim", first / (long)PAGE, first % (long)PAGE,
			      sh_op_madv[op]);
		goto out;
	}
	if (sh_parent_ok(c, op, map, want, len))
		goto out;
	fill64(theirs, len, 37);  /* now each writes its own: neither may see the other's */
	memcpy(map, theirs, len);
	if ((first = sh_ask(c, to[1], from[0], 'c')) != -1) {
		if (first >= 0)
			cfail(c, "the parent's write after the %s reached the child (page %ld, byte %ld)", sh_op_madv[op],
			      first / (long)PAGE, first % (long)PAGE);
		goto out;
	}
	if (sh_ask(c, to[1], from[0], 'w') != -1 || (first = sh_ask(c, to[1], from[0], 'm')) != -1) {
		if (first >= 0)
			cfail(c, "the child does not read back its own write (page %ld, byte %ld)", first / (long)PAGE,
			      first % (long)PAGE);
		goto out;
	}
	if ((first = first_diff(map, theirs, len)) >= 0)
		cfail(c, "the child's write reached the parent (page %ld, byte %ld)", first / (long)PAGE, first % (long)PAGE);
	else if (!gone)
		cskip(c, "no shared page left memory in either process in three memory.reclaims (pgscan +%ld)", scan);
out:
	close_pair(to);  /* the child ends on EOF */
	if (child > 0)
		wait_child(c, child, "the sharer");
	close_pair(from);
	if (!c->failed[0] && !c->skip[0])
		printf("# %s: %zu page(s) mapped by parent and child, %s by the parent, reclaim scanned %ld, %ld page "
		       "mapping(s) left memory, pswpout +%ld, pswpin +%ld\n", c->name, len / PAGE, sh_op_madv[op], scan, gone,
		       vmstat("pswpout") - out0,
		       vmstat("pswpin") - in0);
	if (map)
		munmap(map, len);
	memcg_leave();
	free(want);
	free(theirs);
}

static const char *sh_names[NSHO + NSHS * NSHO];
static char sh_name_buf[NSHO + NSHS * NSHO][40];

/* cell k: THP first (fork only: whether a THP swaps out whole is the kernel's choice), then
 * small pages in every state */
static int sh_decode(int k, int *thp, enum sh_state *s, enum sh_op *op)
{
	*thp = k < NSHO;
	if (*thp) {
		*s = SHS_FORK;
		*op = (enum sh_op)k;
	} else {
		*s = (enum sh_state)((k - NSHO) / NSHO);
		*op = (enum sh_op)((k - NSHO) % NSHO);
	}
	return *s < NSHS;
}

static void sh_run(struct cell *c, int k)
{
	int thp;
	enum sh_state s;
	enum sh_op op;

	if (sh_decode(k, &thp, &s, &op)) {
		void (*was)(int) = signal(SIGPIPE, SIG_IGN);  /* a child that died: EPIPE, a FAIL, not our end */

		share_cell(c, thp, s, op);
		signal(SIGPIPE, was);
	}
}

static void share_cells(void)
{
	int n = 0, thp;
	enum sh_state s;
	enum sh_op op;

	for (int k = 0; sh_decode(k, &thp, &s, &op); k++, n++) {
		snprintf(sh_name_buf[k], sizeof(sh_name_buf[k]), "%s/%s/%s", thp ? "thp" : "anon", sh_state_names[s],
			 sh_op_names[op]);
		sh_names[k] = sh_name_buf[k];
	}
	const struct cell_entry table[] = {{"share/", sh_run, sh_names, n}};

	run_cells(table, 1, NULL, NULL);
}
