/* borrow/perf-phys/<memory>/<state>: the physical address of a perf sample
 * (docs/entrypoints.md, the last built user-reachable gap). Part of borrow_cells.h, after
 * borrow_reads.h (its rnote pipe, page_out(), ext4_file(), cell_close(), child_reap()), entered by
 * perf_phys_cells() from borrow_cells(). docs/matrix.md "perf sample physical addresses" says more.
 *
 * 6.12: a sample with PERF_SAMPLE_PHYS_ADDR gets kernel/events/core.c perf_prepare_sample() ->
 * perf_virt_to_phys(data->addr), which for a user address takes the page with
 * get_user_page_fast_only(virt, 0) (GUP-fast, no fault, FOLL_GET), reads page_to_phys() plus the
 * offset in the page and put_page()s it; 0 when GUP-fast cannot take the page. Under TCG there is
 * no hardware PMU, but the software page-fault events carry the faulting address:
 * arch/x86/mm/fault.c do_user_addr_fault() calls perf_sw_event(PERF_COUNT_SW_PAGE_FAULTS, .., address)
 * at its entry, before the fault is handled (and before the vma is looked up: a fault that ends in
 * SIGSEGV is sampled too); mm/memory.c mm_account_fault() fires PERF_COUNT_SW_PAGE_FAULTS_MIN after a
 * handled minor fault. ___perf_sw_event() -> perf_sample_data_init(addr) sets data->addr and
 * PERF_SAMPLE_ADDR, so perf_prepare_sample() computes phys_addr from it.
 *
 * Each cell: perf_event_open(PAGE_FAULTS or _MIN, this task, sample_period 1, sample_type ADDR |
 * PHYS_ADDR, disabled), a ring buffer, the event enabled around one access to the target byte (a tail
 * page of a THP or hugetlb page, an odd offset in it). The sample at the target must say its address,
 * and phys_addr >> 12 the PFN that /proc/self/pagemap showed for it just before the fault (the page
 * after it for _MIN), plus the offset; 0 when GUP-fast cannot take the page (not present, swapped out,
 * PROT_NONE). Then no page of it may stay held: pages_held() (migration) for small pages and THP,
 * gup_test's page dump (refcount - folio mapcount, before and after) for hugetlb, which has no
 * per-node pool here to migrate into. A COW fault leaves the sampled page with the child or the page
 * cache: the child checks it once it is the only mapper, an ext4 page through a shared mapping.
 */
#include <limits.h>
#include <linux/perf_event.h>
#include <setjmp.h>

enum pmem { PM_ANON, PM_THP, PM_SHMEM, PM_HUGE, PM_EXT4_PR, PM_EXT4_SH, NPMEM };
static const char *const pmem_names[NPMEM] = {"anon", "thp", "shmem", "hugetlb", "ext4-private", "ext4-shared"};
/* cow-fork: a write to a page shared copy-on-write with a child (PAGE_FAULTS: the shared page);
 * cow-fork-min: the same seen by PAGE_FAULTS_MIN (the new page); read-then-write: a write to a file
 * page a read mapped read-only; mprotect: the same after PROT_READ then PROT_READ|PROT_WRITE; write-ro: a
 * write to a PROT_READ page (SIGSEGV); pageout: a read of a page MADV_PAGEOUT swapped out; untouched:
 * a write to a page this mapping never touched; prot-none: a read of a present PROT_NONE page. */
enum pstate { PS_COW, PS_COW_MIN, PS_RW, PS_MPROT, PS_WRO, PS_PAGEOUT, PS_UNTOUCHED, PS_PROTNONE, NPSTATE };
static const char *const pstate_names[NPSTATE] = {"cow-fork", "cow-fork-min", "read-then-write", "mprotect",
						  "write-ro", "pageout", "untouched", "prot-none"};

static int perf_phys_applies(enum pmem m, enum pstate s)
{
	switch (s) {
	case PS_COW:
	case PS_COW_MIN:
		return m == PM_ANON || m == PM_THP || m == PM_HUGE;
	case PS_RW:
	case PS_MPROT:
		/* a file's write notification keeps its PTEs read-only until a write: 6.12 maps a read
		 * fault of shmem MAP_SHARED writable (no writenotify: vm_page_prot has _PAGE_RW), and
		 * mprotect(PROT_READ | PROT_WRITE) makes an exclusive anon PTE writable again
		 * (can_change_pte_writable()): neither write would fault (seen on the host) */
		return m == PM_EXT4_SH || m == PM_EXT4_PR;
	case PS_WRO:
		return m != PM_EXT4_PR;
	case PS_PAGEOUT:
		return m == PM_ANON;
	case PS_UNTOUCHED:
		return m == PM_ANON || m == PM_SHMEM || m == PM_EXT4_SH || m == PM_HUGE;
	case PS_PROTNONE:
		return m == PM_ANON || m == PM_THP;
	default:
		return 0;
	}
}

/* whether the sampled page must be taken (its PFN in phys_addr) or not (phys_addr 0) */
static int ps_present(enum pstate s) { return s != PS_PAGEOUT && s != PS_UNTOUCHED && s != PS_PROTNONE; }
static int ps_faults(enum pstate s) { return s == PS_WRO || s == PS_PROTNONE; }  /* SIGSEGV */

#define PP_RING 8  /* data pages of the ring buffer */

static int perf_open(int min, void **ring)
{
	struct perf_event_attr a = {0};
	int fd;

	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = min ? PERF_COUNT_SW_PAGE_FAULTS_MIN : PERF_COUNT_SW_PAGE_FAULTS;
	a.sample_period = 1;
	a.sample_type = PERF_SAMPLE_ADDR | PERF_SAMPLE_PHYS_ADDR;
	a.disabled = 1;
	a.exclude_hv = 1;
	fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
	if (fd < 0)
		return -1;
	*ring = mmap(NULL, (1 + PP_RING) * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*ring == MAP_FAILED) {
		close(fd);
		return -1;
	}
	return fd;
}

struct psample {
	uint64_t addr, phys;
};

/* The ring's samples into out[] (up to n); how many there were in all, *lost the PERF_RECORD_LOST count. */
static int perf_samples(void *ring, struct psample *out, int n, long *lost)
{
	struct perf_event_mmap_page *mp = ring;
	uint64_t head = __atomic_load_n(&mp->data_head, __ATOMIC_ACQUIRE), tail = mp->data_tail;
	uint64_t size = mp->data_size ? mp->data_size : PP_RING * PAGE;
	char *data = (char *)ring + (mp->data_offset ? mp->data_offset : PAGE);
	int got = 0;

	*lost = 0;
	while (tail + sizeof(struct perf_event_header) <= head) {
		unsigned char rec[256];
		struct perf_event_header h;

		for (size_t i = 0; i < sizeof(h); i++)
			((unsigned char *)&h)[i] = data[(tail + i) % size];
		if (h.size < sizeof(h))
			break;
		for (size_t i = 0; i < h.size && i < sizeof(rec); i++)
			rec[i] = data[(tail + i) % size];
		if (h.type == PERF_RECORD_SAMPLE && h.size >= sizeof(h) + 16) {
			/* ADDR, then PHYS_ADDR: the order of perf_output_sample() */
			if (got < n)
				memcpy(&out[got], rec + sizeof(h), 16);
			got++;
		} else if (h.type == PERF_RECORD_LOST && h.size >= sizeof(h) + 16) {
			uint64_t l;

			memcpy(&l, rec + sizeof(h) + 8, 8);
			*lost += (long)l;
		}
		tail += h.size;
	}
	__atomic_store_n(&mp->data_tail, tail, __ATOMIC_RELEASE);
	return got;
}

static sigjmp_buf pp_jmp;
static volatile sig_atomic_t pp_segv;

static void pp_on_segv(int sig)
{
	(void)sig;
	pp_segv = 1;
	siglongjmp(pp_jmp, 1);
}

/* The access with the event on: a write of one byte (a read for pageout and prot-none), SIGSEGV
 * caught; returns whether it raised SIGSEGV. */
static int pp_access(int fd, volatile char *at, int write)
{
	struct sigaction sa = {0}, old;

	sa.sa_handler = pp_on_segv;
	sigaction(SIGSEGV, &sa, &old);
	pp_segv = 0;
	if (!sigsetjmp(pp_jmp, 1)) {
		ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
		if (write)
			*at = 0x5a;
		else
			(void)*at;
	}
	ioctl(fd, PERF_EVENT_IOC_DISABLE, 0);
	sigaction(SIGSEGV, &old, NULL);
	return pp_segv;
}

/* refcount - folio mapcount of the hugetlb page at p (gup_test's dump), or LONG_MIN with why. */
static long huge_refs(char *p, char *why, size_t n)
{
	struct page_refs r;
	long idx = 0;

	if (page_refs(gup_fd, (char *)((uintptr_t)p & ~(PAGE - 1)), &idx, 1, &r) != 1 || r.fmapcount < 0) {
		snprintf(why, n, "gup_test's page dump of the hugetlb page could not be read");
		return LONG_MIN;
	}
	return r.refcount - r.fmapcount;
}

/* No page of [p, p+len) held (migration); for hugetlb refcount - mapcount back at base. "" or why in
 * why; *skip set when it cannot tell. */
static void pp_held(enum pmem m, char *p, size_t len, long base, const char *what, char *why, size_t n, int *skip)
{
	long first, held;

	why[0] = 0;
	*skip = 0;
	if (m == PM_HUGE) {
		long now = huge_refs(p, why, n);

		if (now == LONG_MIN)
			*skip = 1;
		else if (now != base)
			snprintf(why, n, "%s: the hugetlb page's refcount - mapcount is %ld, %ld before (%+ld: a reference leaked)",
				 what, now, base, now - base);
		return;
	}
	held = pages_held(p, len, 1000, &first, why, n);
	if (held < 0)
		*skip = 1;
	else if (held > 0)
		snprintf(why, n, "%ld page(s) of %s still held (first: page %ld): a reference leaked", held, what, first);
	else
		why[0] = 0;
}

/* The child of the cow cells: holds the mapping COW-shared, and once the parent faulted and unmapped
 * it, checks that its page (the one the parent's fault sampled) holds no reference more. */
static void pp_child(enum pmem m, char *map, size_t len, char *at, int up, int down)
{
	struct rnote n = {0};
	char why[200], go;
	int skip;

	n.n = m == PM_HUGE ? huge_refs(at, why, sizeof(why)) : 0;
	if (n.n == LONG_MIN) {
		note_send(up, &n, 'S', "%s", why);
		_exit(0);
	}
	note_send(up, &n, 'o', "");
	if (read(down, &go, 1) != 1)
		_exit(0);  /* the parent gave up */
	pp_held(m, m == PM_HUGE ? at : map, len, n.n, "the child's copy-on-write page", why, sizeof(why), &skip);
	note_send(up, &n, skip ? 'S' : why[0] ? 'F' : 'o', "%s", why);
	_exit(0);
}

static void perf_phys_cell(enum pmem m, enum pstate s)
{
	struct cell c = {.mem = ANON, .fd = -1};
	double began = now_s();
	int cow_file = m == PM_EXT4_PR && (s == PS_RW || s == PS_MPROT);
	int huge = m == PM_THP || m == PM_HUGE, fd = -1, p[2] = {-1, -1}, down[2] = {-1, -1}, segv, nsamp, at_n = 0, skip;
	size_t len = huge ? HPAGE : 4 * PAGE, off = huge ? 300 * PAGE + 0x5a8 : 2 * PAGE + 0x5a8;
	char *map = NULL, *at, *file = NULL, why[240];
	void *ring = MAP_FAILED;
	uint64_t pm_before, pm_after, pfn_before, pfn_after, want;
	struct psample smp[16], *hit = NULL;
	long lost = 0, base = 0;
	struct rnote prep = {0}, done;
	pid_t kid = -1;

	snprintf(c.name, sizeof(c.name), "borrow/perf-phys/%s/%s", pmem_names[m], pstate_names[s]);
	if (!borrow_runs(c.name))
		return;
	if ((m == PM_EXT4_PR || m == PM_EXT4_SH) && !ext4_dir) {
		cskip(&c, "no ext4 directory given (-d)");
		goto out;
	}
	if (m == PM_HUGE && gup_fd < 0) {
		cskip(&c, "no /sys/kernel/debug/gup_test: no reference check of a hugetlb page");
		goto out;
	}
	fd = perf_open(s == PS_COW_MIN, &ring);
	if (fd < 0) {  /* x86 selects PERF_EVENTS: the kernel has it */
		cfail(&c, "perf_event_open(PERF_TYPE_SOFTWARE, %s, PERF_SAMPLE_ADDR | PERF_SAMPLE_PHYS_ADDR) or its ring: %s",
		      s == PS_COW_MIN ? "PAGE_FAULTS_MIN" : "PAGE_FAULTS", strerror(errno));
		goto out;
	}
	/* the memory, its bytes in place (untouched: in the file only, or nowhere) */
	file = malloc(len);
	fill64(file, len, 61);
	switch (m) {
	case PM_ANON:
		map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (map != MAP_FAILED)
			madvise(map, len, MADV_NOHUGEPAGE);
		break;
	case PM_THP:
		map = map_aligned(len, HPAGE, MADV_HUGEPAGE);
		break;
	case PM_HUGE:
		map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (map == MAP_FAILED) {
			cskip(&c, "no hugetlb page (mmap MAP_HUGETLB: %s)", strerror(errno));
			map = NULL;
			goto out;
		}
		break;
	case PM_SHMEM:
		c.fd = memfd_create("perf_phys", 0);
		if (c.fd < 0 || pwrite(c.fd, file, len, 0) != (ssize_t)len) {
			cfail(&c, "memfd: %s", strerror(errno));
			goto out;
		}
		map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c.fd, 0);
		break;
	default:  /* ext4 */
		if (ext4_file(&c, "perf-phys", file, len))
			goto out;
		map = mmap(NULL, len, PROT_READ | PROT_WRITE, m == PM_EXT4_PR ? MAP_PRIVATE : MAP_SHARED, c.fd, 0);
		break;
	}
	if (!map || map == MAP_FAILED) {
		map = NULL;
		cfail(&c, "cannot map %s memory: %s", pmem_names[m], strerror(errno));
		goto out;
	}
	at = map + off;
	if (m == PM_ANON || m == PM_THP || m == PM_HUGE) {
		if (s != PS_UNTOUCHED)
			memcpy(map, file, len);
	} else if (s != PS_UNTOUCHED) {
		for (size_t o = 0; o < len; o += PAGE)  /* a read maps each page read-only */
			(void)*(volatile char *)(map + o);
	}
	if (m == PM_THP && !is_thp(at)) {
		cskip(&c, "no THP behind the 2 MiB (kpageflags)");
		goto out;
	}
	if (m == PM_HUGE && (s == PS_WRO) && (base = huge_refs(at, why, sizeof(why))) == LONG_MIN) {
		cskip(&c, "%s", why);
		goto out;
	}
	/* the state */
	switch (s) {
	case PS_COW:
	case PS_COW_MIN:
		if (pipe(p) || pipe(down)) {
			cfail(&c, "pipe: %s", strerror(errno));
			goto out;
		}
		kid = cell_fork();
		if (kid == 0) {
			close(p[0]);
			close(down[1]);
			pp_child(m, map, len, at, p[1], down[0]);
		}
		close(p[1]);
		close(down[0]);
		p[1] = down[0] = -1;
		prep = note_recv(p[0]);
		if (prep.kind != 'o') {
			if (prep.kind == 'S')
				cskip(&c, "%s", prep.why);
			else
				cfail(&c, "the child ended before it held the memory: %s", prep.kind ? prep.why : "no word");
			goto reap;
		}
		base = prep.n;
		break;
	case PS_MPROT:
		if (mprotect(map, len, PROT_READ) || mprotect(map, len, PROT_READ | PROT_WRITE)) {
			cfail(&c, "mprotect: %s", strerror(errno));
			goto out;
		}
		break;
	case PS_WRO:
		if (mprotect(map, len, PROT_READ)) {
			cfail(&c, "mprotect(PROT_READ): %s", strerror(errno));
			goto out;
		}
		break;
	case PS_PROTNONE:
		if (mprotect(map, len, PROT_NONE)) {
			cfail(&c, "mprotect(PROT_NONE): %s", strerror(errno));
			goto out;
		}
		break;
	case PS_PAGEOUT: {
		long outn = page_out(map, len);

		if (!swap_entry_of(at)) {
			cskip(&c, "the target page was not swapped out (MADV_PAGEOUT %s, %ld of %zu pages out; %s)",
			      outn < 0 ? strerror(errno) : "ok", outn, len / PAGE, swap_on() ? "swap is on" : "no swap in /proc/swaps");
			goto out;
		}
		break;
	}
	default:
		break;
	}
	/* the premise: the page present (or not) as the state says, just before the fault */
	pm_before = pagemap(at);
	pfn_before = pagemap_pfn(pm_before);
	if (ps_present(s) && !pfn_before) {
		cskip(&c, "the target page is not present before the fault (pagemap %#llx)", (unsigned long long)pm_before);
		goto reap;
	}
	if (s == PS_UNTOUCHED && (pm_before & (PM_PRESENT | PM_SWAP))) {
		cskip(&c, "the untouched page is mapped already (pagemap %#llx)", (unsigned long long)pm_before);
		goto reap;
	}
	if (s == PS_PROTNONE && !pfn_before) {
		cskip(&c, "the PROT_NONE page is not present (pagemap %#llx)", (unsigned long long)pm_before);
		goto reap;
	}
	perf_samples(ring, smp, 0, &lost);  /* anything before the window out of the way */
	segv = pp_access(fd, at, s != PS_PAGEOUT && s != PS_PROTNONE);
	pm_after = pagemap(at);
	pfn_after = pagemap_pfn(pm_after);
	nsamp = perf_samples(ring, smp, 16, &lost);
	if (segv != ps_faults(s))
		cfail(&c, "the access %s SIGSEGV", segv ? "raised" : "did not raise");
	for (int i = 0; i < nsamp && i < 16; i++)
		if (smp[i].addr == (uintptr_t)at && !at_n++)
			hit = &smp[i];
	if (ps_faults(s))  /* the mapping back, for the reference checks */
		mprotect(map, len, PROT_READ | PROT_WRITE);
	if (s == PS_MPROT && !at_n) {
		cskip(&c, "the write did not fault: mprotect(PROT_READ | PROT_WRITE) made the PTE writable again "
			  "(pagemap PFN %#llx before, %#llx after)", (unsigned long long)pfn_before, (unsigned long long)pfn_after);
		goto reap;
	}
	if ((s == PS_COW || s == PS_COW_MIN || cow_file) && pfn_after == pfn_before) {
		cskip(&c, "the write did not copy the page (PFN %#llx before and after)", (unsigned long long)pfn_before);
		goto reap;
	}
	want = s == PS_COW_MIN ? pfn_after : ps_present(s) ? pfn_before : 0;
	want = want ? (want << 12) + ((uintptr_t)at & (PAGE - 1)) : 0;
	if (lost)
		cfail(&c, "%ld sample(s) lost (PERF_RECORD_LOST)", lost);
	else if (!nsamp)
		cfail(&c, "the fault at %p gave no sample (%s)", (void *)at, s == PS_COW_MIN ? "PAGE_FAULTS_MIN" : "PAGE_FAULTS");
	else if (!hit)
		cfail(&c, "%d sample(s), none at the faulting address %p (the first at %#llx)", nsamp, (void *)at,
		      (unsigned long long)smp[0].addr);
	else if (hit->phys != want)
		cfail(&c, "phys_addr %#llx for %p, want %#llx (%s: pagemap PFN %#llx before the fault, %#llx after)",
		      (unsigned long long)hit->phys, (void *)at, (unsigned long long)want,
		      want ? "the page's" : "not taken by GUP-fast", (unsigned long long)pfn_before,
		      (unsigned long long)pfn_after);
	printf("# %s: %d sample(s), %d at the target; phys_addr %#llx; pagemap PFN %#llx before, %#llx after%s\n", c.name,
	       nsamp, at_n, hit ? (unsigned long long)hit->phys : 0ULL, (unsigned long long)pfn_before,
	       (unsigned long long)pfn_after, m == PM_THP ? (is_thp(at) ? " (THP)" : " (not THP after)") : "");
	/* no reference left: the process's own page (a COW cell's parent: its new page only, the rest is
	 * shared with the child), then the COW'd page where it went */
	if (s == PS_COW || s == PS_COW_MIN) {
		char *pg = (char *)((uintptr_t)at & ~(PAGE - 1));

		if (m != PM_HUGE)
			pp_held(m, pg, PAGE, 0, "the parent's new page", why, sizeof(why), &skip);
		else
			pp_held(m, at, len, base, "the parent's new page", why, sizeof(why), &skip);
		if (skip)
			cskip(&c, "no reference check: %s", why);
		else if (why[0])
			cfail(&c, "%s", why);
		munmap(map, len);
		map = NULL;
		if (write(down[1], "g", 1) != 1)
			cfail(&c, "cannot tell the child to check: %s", strerror(errno));
		done = note_recv(p[0]);
		if (done.kind == 'F')
			cfail(&c, "%s", done.why);
		else if (done.kind == 'S')
			cskip(&c, "no reference check in the child: %s", done.why);
		else if (!done.kind)
			cfail(&c, "the child ended without its word after the fault");
	} else if (m == PM_HUGE && s == PS_UNTOUCHED) {
		printf("# %s: no reference check (no page was there to take; no hugetlb baseline)\n", c.name);
	} else {
		pp_held(m, m == PM_HUGE ? at : map, len, base, "the mapping", why, sizeof(why), &skip);
		if (skip)
			cskip(&c, "no reference check: %s", why);
		else if (why[0])
			cfail(&c, "%s", why);
		if (cow_file) {  /* the page cache page the write copied */
			char *sh = mmap(NULL, len, PROT_READ, MAP_SHARED, c.fd, 0);

			if (sh == MAP_FAILED) {
				cfail(&c, "cannot map the ext4 file shared: %s", strerror(errno));
			} else {
				(void)*(volatile char *)(sh + (off & ~(PAGE - 1)));
				pp_held(m, sh + (off & ~(PAGE - 1)), PAGE, 0, "the page cache page", why, sizeof(why), &skip);
				if (skip)
					cskip(&c, "no reference check of the page cache page: %s", why);
				else if (why[0])
					cfail(&c, "%s", why);
				munmap(sh, len);
			}
		}
	}
reap:
	if (down[1] >= 0) {
		close(down[1]);  /* a child still waiting: EOF */
		down[1] = -1;
	}
	child_reap(&c, kid, "child", NULL);
out:
	if (map)
		munmap(map, len);
	if (ring != MAP_FAILED)
		munmap(ring, (1 + PP_RING) * PAGE);
	if (fd >= 0)
		close(fd);
	free(file);
	close_pair(down);
	cell_close(&c, p);
	verdict(&c, began);
}

static void perf_phys_cells(void)
{
	for (enum pmem m = 0; m < NPMEM; m++)
		for (enum pstate s = 0; s < NPSTATE; s++)
			if (perf_phys_applies(m, s))
				perf_phys_cell(m, s);
}
