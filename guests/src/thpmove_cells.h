/* pmd/...: huge pages moved and shared at the page-table level, and shmem collapsed into one.
 * Part of pin_matrix.c (struct cell, mem_map()/mem_unmap(), pin_start()/pin_read()/pin_write()/
 * pin_stop(), map_memfd_thp(), wait_child(); kentry_cells.h's pin_mark()/pins_back()), entered
 * by thpmove_cells() from main. The matrix's own mremap event moves THPs and hugetlb pages too,
 * but its thp and hugetlb mremap cells are not in the default set, and none moved a PMD that
 * carries soft-dirty or uffd-wp state or left the old range mapped (MREMAP_DONTUNMAP).
 *
 * pmd/mremap-<how>/<memory>: the first 2 MiB of a two-THP (or two hugetlb page) region pinned
 *   (io_uring fixed buffer, or gup_test's long-term GUP-fast pin), then mremap(MREMAP_FIXED) to
 *   a fresh 2 MiB-aligned place: whole PMDs, so 6.12 moves the PMD itself (mm/mremap.c
 *   move_page_tables() -> mm/huge_memory.c move_huge_pmd(); hugetlb: move_hugetlb_page_tables()
 *   -> move_huge_pte()); shmem-thp: a memfd's PMD-mapped THP (move_huge_pmd() of a file PMD).
 *   <how>: uring, gup-fast; dontunmap (MREMAP_DONTUNMAP: the old range stays, empty, and must read
 *   zeros, or for shmem the file, and later what the pin wrote); soft-dirty (clear_refs 4 first:
 *   the moved PMD must be soft-dirty, move_soft_dirty_pmd(), or a tracker misses the move);
 *   uffd-wp (the range registered with userfaultfd in WP mode and write-protected, no
 *   UFFD_FEATURE_EVENT_REMAP: the new VMA loses userfaultfd, so the moved PMD must lose its
 *   uffd-wp bit, clear_uffd_wp_pmd()). Checks: the same PFN behind the new address, the old range
 *   gone (SIGSEGV), what the pin reads, the process's write seen through the pin, the pin's write
 *   (io_uring) read by the process, the witness intact, pins back. Premise: the THP is still
 *   PMD-mapped at the new place (kpageflags THP, smaps AnonHugePages or ShmemPmdMapped 2 MiB,
 *   thp_split_pmd unchanged); soft-dirty and uffd-wp: the state was there before the move.
 * pmd/share-<how>/hugetlb-shared: a MAP_SHARED|MAP_NORESERVE hugetlb memfd of 1 GiB mapped at a
 *   1 GiB boundary (a whole PUD: mm/hugetlb.c want_pmd_share()), two huge pages written, the
 *   first pinned (io_uring), then fork: the child's first fault shares the parent's PMD table
 *   (huge_pmd_share(), page_table_shareable(): same flags, same offset in the PUD). <how>: pin
 *   (the child writes both pages), munmap or mprotect (the child then unmaps or write-protects
 *   one untouched huge page, which unshares its table: huge_pmd_unshare()), and writes after.
 *   Checks: the child reads the parent's bytes, the pin and the parent read the child's writes,
 *   the child reads what was written through the pin, pins back. Premise (pagemap, in the
 *   child): the second page, which the child never touched, is present in its page tables
 *   (only a shared table maps it). munmap/mprotect: not present any more after (unshared), else
 *   FAIL: 6.12 always unshares there (hugetlb_split(), the zap's and mprotect's huge_pmd_unshare()).
 * pmd/collapse-<pin>/shmem: a 4 MiB memfd (shmem_enabled advise, as shmem-thp) filled by write()
 *   (small pages) except three holes in each 2 MiB, mapped at a 2 MiB boundary with
 *   MADV_HUGEPAGE and a second time one page off (never PMD-mappable), both read so that PTEs
 *   map the pages, a child forked that maps them too; then MADV_COLLAPSE of the aligned mapping
 *   (mm/khugepaged.c hpage_collapse_scan_file(), collapse_file() fills the holes (shmem_charge())
 *   and retract_page_tables(), collapse_pte_mapped_thp()). <pin>: none, uring or gup-fast on the
 *   first 16 pages, which must then not collapse away from the pin (or the pin must still see
 *   the writes). Checks: every view (aligned, one page off, the child's) reads the bytes and the
 *   holes' zeros; the child's write is read by the parent's views and the pin; the pin's write
 *   by the views; pins back. Premise: the unpinned 2 MiB collapsed (thp_collapse_alloc moved,
 *   kpageflags THP, smaps ShmemPmdMapped); the one-page-off view maps it by PTEs (its read after
 *   the collapse goes through filemap_map_pages()' fault-around of a large folio,
 *   filemap_map_folio_range()). The unpinned cell wants both 2 MiB collapsed.
 * pmd/pte-mapped-<pin>/shmem-thp: the same collapse unpinned; then <pin> (uring, gup-fast) pins 16
 *   pages of the second THP through the one-page-off view, which maps it by PTEs (premise: THP,
 *   the same PFN as the aligned view, fewer faults than half its pages), and the child writes
 *   them: the pin must read it; the parent's and the pin's writes as above.
 */
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
#define PM_UFFD_WP_ (1ULL << 57)
#define PUD_SIZE_ (1UL << 30)

/* kB of key (AnonHugePages, ShmemPmdMapped, ...) in the smaps entry of the VMA holding addr; -1 */
static long pm_smaps_kb(const void *addr, const char *key)
{
	char line[256], k[64];
	unsigned long lo, hi;
	long kb = -1, v;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
		else if (in && sscanf(line, "%63[^:]: %ld kB", k, &v) == 2 && !strcmp(k, key)) {
			kb = v;
			break;
		}
	}
	if (f)
		fclose(f);
	return kb;
}

/* -- mremap of whole PMDs under a pin ---------------------------------------------------------- */

enum pm_how { PM_PLAIN, PM_DONTUNMAP, PM_SOFTDIRTY, PM_UFFDWP };
struct pm_move {
	enum pin p;
	enum mem m;
	enum pm_how how;
};
static const struct pm_move pm_moves[] = {
	{URING, THP, PM_PLAIN}, {GUP_FAST, THP, PM_PLAIN}, {URING, THP, PM_DONTUNMAP}, {URING, THP, PM_SOFTDIRTY},
	{URING, THP, PM_UFFDWP}, {URING, SHMTHP, PM_PLAIN}, {URING, SHMTHP, PM_DONTUNMAP}, {URING, HUGE, PM_PLAIN},
	{GUP_FAST, HUGE, PM_PLAIN}};
#define NPM_MOVE (int)(sizeof(pm_moves) / sizeof(pm_moves[0]))
static const char *const pm_move_names[] = {"uring/thp", "gup-fast/thp", "dontunmap/thp", "soft-dirty/thp",
						      "uffd-wp/thp", "uring/shmem-thp", "dontunmap/shmem-thp", "uring/hugetlb",
						      "gup-fast/hugetlb"};

/* The state the move must carry (or drop) set on the pinned half: 0, or -1 with the cell told */
static int pm_move_state(struct cell *c, enum pm_how how, int *uffd)
{
	if (how == PM_SOFTDIRTY) {
		if (!(pagemap(c->cur) & PM_SOFT_DIRTY)) {
			cskip(c, "the THP just written is not soft-dirty (pagemap): no soft-dirty tracking (CONFIG_MEM_SOFT_DIRTY)");
			return -1;
		}
		if (!write_file("/proc/self/clear_refs", "4")) {
			cfail(c, "cannot write 4 to /proc/self/clear_refs: %s", strerror(errno));
			return -1;
		}
		if (pagemap(c->cur) & PM_SOFT_DIRTY) {
			cfail(c, "clear_refs 4 left the THP soft-dirty (pagemap)");
			return -1;
		}
	} else if (how == PM_UFFDWP) {
		struct uffdio_api api = {.api = UFFD_API};
		struct uffdio_register reg = {.range = {(uintptr_t)c->cur, c->half}, .mode = UFFDIO_REGISTER_MODE_WP};
		struct uffdio_writeprotect wp = {.range = {(uintptr_t)c->cur, c->half}, .mode = UFFDIO_WRITEPROTECT_MODE_WP};

		*uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
		if (*uffd < 0 || ioctl(*uffd, UFFDIO_API, &api) || ioctl(*uffd, UFFDIO_REGISTER, &reg) ||
		    ioctl(*uffd, UFFDIO_WRITEPROTECT, &wp)) {
			cskip(c, "userfaultfd in WP mode over the THP: %s", strerror(errno));
			return -1;
		}
		if (!(pagemap(c->cur) & PM_UFFD_WP_)) {
			cskip(c, "UFFDIO_WRITEPROTECT left no uffd-wp bit on the THP (pagemap bit 57)");
			return -1;
		}
	}
	return 0;
}

static sigjmp_buf pm_jmp;

static void pm_on_segv(int sig)
{
	(void)sig;
	siglongjmp(pm_jmp, 1);
}

/* Whether a read of addr succeeds (1) or faults with SIGSEGV (0) */
static int pm_readable(const char *addr)
{
	struct sigaction sa = {.sa_handler = pm_on_segv}, was;
	volatile int ok = 0;

	sigaction(SIGSEGV, &sa, &was);
	if (!sigsetjmp(pm_jmp, 1)) {
		(void)*(const volatile char *)addr;
		ok = 1;
	}
	sigaction(SIGSEGV, &was, NULL);
	return ok;
}

/* What mremap did, checked before anything writes: -1 when the cell failed or skipped */
static int pm_moved(struct cell *c, const struct pm_move *v, char *old, uint64_t pfn, long split0)
{
	uint64_t e = pagemap(c->cur);
	const char *key = v->m == THP ? "AnonHugePages" : "ShmemPmdMapped";
	long huge = pm_smaps_kb(c->cur, key), d;

	if (pfn_of(c->cur) != pfn) {
		cfail(c, "mremap changed the page behind the moved range (pfn %#llx -> %#llx)", (unsigned long long)pfn,
		      (unsigned long long)pfn_of(c->cur));
		return -1;
	}
	if (v->m != HUGE && (vmstat("thp_split_pmd") != split0 || !is_thp(c->cur) || huge < (long)(HPAGE >> 10))) {
		cskip(c, "the THP is not PMD-mapped at its new place (thp_split_pmd +%ld, kpageflags %s, %s %ld kB): no "
		      "PMD was moved", vmstat("thp_split_pmd") - split0, is_thp(c->cur) ? "THP" : "not THP", key, huge);
		return -1;
	}
	if (v->how == PM_SOFTDIRTY && !(e & PM_SOFT_DIRTY))
		cfail(c, "the moved PMD is not soft-dirty (pagemap): a soft-dirty tracker misses the move");
	if (v->how == PM_UFFDWP && (e & PM_UFFD_WP_))
		cfail(c, "the moved PMD keeps its uffd-wp bit (pagemap bit 57) though the new VMA has no userfaultfd "
		      "(no UFFD_FEATURE_EVENT_REMAP)");
	/* gone: still mapped, or a TLB entry the move left (the process read there before; on TCG the
	 * munmap of the old VMA flushes it anyway: docs/matrix.md) */
	if (v->how != PM_DONTUNMAP && (pm_readable(old) || pm_readable(old + c->half - PAGE)))
		cfail(c, "the old range still reads after mremap moved it away (still mapped, or a stale TLB entry)");
	if (v->how == PM_DONTUNMAP) {  /* the old range stays, empty: anonymous memory reads zeros, shmem the file */
		char *zero = calloc(1, c->half);

		if (pagemap(old) & PM_PRESENT)
			cfail(c, "MREMAP_DONTUNMAP left a page mapped at the old place");
		else if (zero && (d = first_diff(old, c->shared ? c->exp : zero, c->half)) >= 0)
			cfail(c, "the old range after MREMAP_DONTUNMAP does not read %s (byte %ld)%s", c->shared ? "the file" : "zeros",
			      d, c->shared ? "" : ": a stale TLB entry?");
		free(zero);
	}
	return c->failed[0] ? -1 : 0;
}

static void pm_move_cell(struct cell *c, int k)
{
	const struct pm_move *v = &pm_moves[k];
	char *got = malloc(HPAGE), *want = malloc(HPAGE), *old, *to, *at;
	long split0, d;
	struct pinmark m;
	uint64_t pfn;
	int uffd = -1, wrote;

	c->mem = v->m;
	c->ev = NONE;
	pin_mark(&m);
	if (v->p == GUP_FAST && gup_fd < 0)
		cskip(c, "no /sys/kernel/debug/gup_test");
	else if (v->p == URING && !ring_ok)
		cskip(c, "io_uring_queue_init failed");
	if (!got || !want || c->skip[0] || mem_map(c))
		goto out;
	old = c->cur;
	if (pin_start(c, v->p, old, c->half))
		goto unmap;
	/* after the pin: a write pin of a uffd-wp range would wait for a userfaultfd reader */
	if (pm_move_state(c, v->how, &uffd))
		goto unpin;
	pfn = pfn_of(old);
	split0 = vmstat("thp_split_pmd");
	to = map_aligned(c->half, HPAGE, -1);
	at = to ? mremap(old, c->half, c->half, MREMAP_MAYMOVE | MREMAP_FIXED |
						 (v->how == PM_DONTUNMAP ? MREMAP_DONTUNMAP : 0), to) : MAP_FAILED;
	if (at == MAP_FAILED) {
		cfail(c, "mremap of the pinned 2 MiB to an aligned place: %s", strerror(errno));
		goto unpin;
	}
	c->cur = at;
	if (pm_moved(c, v, old, pfn, split0))
		goto unpin;
	if (pin_read(c, v->p, old, got))
		goto unpin;
	if ((d = first_diff(got, c->exp, c->half)) >= 0) {
		cfail(c, "after the move the pin reads other data than the pages held (byte %ld)", d);
		goto unpin;
	}
	fill64(c->cur, c->half, 2);  /* soft-dirty, uffd-wp: a write fault on the moved PMD, reusing the page */
	memcpy(c->exp, c->cur, c->half);
	if (pin_read(c, v->p, old, got))
		goto unpin;
	if ((d = first_diff(got, c->exp, c->half)) >= 0) {
		cfail(c, "after the move the process's write is not seen through the pin (byte %ld): the process's "
		      "page is no longer the pinned one", d);
		goto unpin;
	}
	fill64(want, c->half, 3);
	wrote = pin_write(c, v->p, old, want);
	if (wrote > 0 && (d = first_diff(c->cur, want, c->half)) >= 0)
		cfail(c, "after the move what was written through the pin is not what the process reads (byte %ld)", d);
	else if (wrote > 0 && c->shared && v->how == PM_DONTUNMAP && (d = first_diff(old, want, c->half)) >= 0)
		cfail(c, "the old range MREMAP_DONTUNMAP kept does not read what was written through the pin into the "
		      "file (byte %ld)", d);
unpin:
	pin_stop(c, v->p);
	if (!c->failed[0] && (d = first_diff(c->map + c->half, c->wexp, c->half)) >= 0)
		cfail(c, "the unpinned witness half reads other data after the move (byte %ld)", d);
	if (!c->failed[0] && !c->skip[0])
		printf("# %s: 2 MiB moved by mremap%s under the pin, same page%s; both ways through the pin\n", c->name,
		       v->how == PM_DONTUNMAP ? "(MREMAP_DONTUNMAP)" : "", v->m != HUGE ? ", still PMD-mapped" : "");
unmap:
	if (uffd >= 0)
		close(uffd);
	mem_unmap(c);
	if (!c->failed[0])
		pins_back(c, &m, "the unpin and munmap");
out:
	free(got);
	free(want);
}

/* A cell's end on an early exit: its child (if still there) killed, its pin (if not NPIN) let go */
static void pm_let_go(struct cell *c, pid_t pid, enum pin p)
{
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (p != NPIN)
		pin_stop(c, p);
}

/* -- hugetlb PMD sharing ------------------------------------------------------------------------ */

enum ps_how { PS_PIN, PS_MUNMAP, PS_MPROTECT, NPS };
static const char *const ps_names[NPS] = {"pin/hugetlb-shared", "munmap/hugetlb-shared", "mprotect/hugetlb-shared"};

struct ps_shared {  /* between parent and child, in MAP_SHARED anonymous memory */
	int shared, unshared;  /* the child's premises, seen in its own pagemap */
	char why[200];
};

/* The child: reads the parent's bytes, shows whether its table is shared, writes, unshares */
static void ps_child(char *p, struct ps_shared *s, enum ps_how how, int go, int done)
{
	char *want = malloc(2 * HPAGE), b = 0;
	long d;

	fill64(want, 2 * HPAGE, 0x51);
	if (!want || (d = first_diff(p, want, HPAGE)) >= 0) {  /* the first page only: the second is the premise */
		snprintf(s->why, sizeof(s->why), "the child reads other bytes than the parent wrote in huge page 0 (byte %ld)",
			 want ? d : -1);
		_exit(0);
	}
	s->shared = !!(pagemap(p + HPAGE) & PM_PRESENT);  /* never touched here: only a shared table maps it */
	if ((d = first_diff(p + HPAGE, want + HPAGE, HPAGE)) >= 0) {
		snprintf(s->why, sizeof(s->why), "the child reads other bytes than the parent wrote in huge page 1 (byte %ld)", d);
		_exit(0);
	}
	fill64(p, HPAGE, 0x52);  /* the pinned page: the pin and the parent must read it */
	if (how == PS_MUNMAP || how == PS_MPROTECT) {
		int r = how == PS_MUNMAP ? munmap(p + 8 * HPAGE, HPAGE) : mprotect(p + 8 * HPAGE, HPAGE, PROT_READ);

		if (r) {
			snprintf(s->why, sizeof(s->why), "%s of one huge page in the child: %s",
				 how == PS_MUNMAP ? "munmap" : "mprotect", strerror(errno));
			_exit(0);
		}
		s->unshared = !(pagemap(p + HPAGE) & PM_PRESENT);
	}
	fill64(p + HPAGE, HPAGE, 0x53);  /* after the unshare: faulted into the child's own table */
	if (write(done, &b, 1) != 1 || read(go, &b, 1) != 1)
		_exit(1);
	fill64(want, HPAGE, 0x54);  /* what the parent wrote through the pin meanwhile */
	if ((d = first_diff(p, want, HPAGE)) >= 0)
		snprintf(s->why, sizeof(s->why), "the child does not read what was written through the parent's pin (byte %ld)",
			 d);
	_exit(0);
}

static void pm_share_cell(struct cell *c, int k)
{
	enum ps_how how = (enum ps_how)k;
	struct ps_shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *raw = MAP_FAILED, *p = MAP_FAILED, *got = malloc(HPAGE), *want = malloc(HPAGE), b = 0;
	int fd = -1, go[2] = {-1, -1}, done[2] = {-1, -1}, pinned = 0;
	struct pinmark m;
	pid_t pid = -1;
	long d = -1;

	c->mem = HUGE;
	c->half = HPAGE;
	pin_mark(&m);
	if (s == MAP_FAILED || !got || !want || pipe(go) || pipe(done)) {
		cfail(c, "shared memory, pipes: %s", strerror(errno));
		goto out;
	}
	memset(s, 0, sizeof(*s));
	if (!ring_ok) {
		cskip(c, "io_uring_queue_init failed");
		goto out;
	}
	fd = memfd_create("pin_matrix_pmdshare", MFD_HUGETLB);
	if (fd < 0 || ftruncate(fd, (off_t)PUD_SIZE_)) {
		cskip(c, "a 1 GiB hugetlb memfd: %s", strerror(errno));
		goto out;
	}
	/* the two huge pages written, allocated now: MAP_NORESERVE would SIGBUS on an empty pool */
	if (fallocate(fd, 0, 0, 2 * HPAGE)) {
		cskip(c, "no two hugetlb pages for the memfd (fallocate: %s)", strerror(errno));
		goto out;
	}
	/* a whole PUD (1 GiB, aligned): the only range whose PMD table can be shared */
	raw = mmap(NULL, 2 * PUD_SIZE_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED) {
		cskip(c, "2 GiB of address space: %s", strerror(errno));
		goto out;
	}
	p = mmap((char *)(((uintptr_t)raw + PUD_SIZE_ - 1) & ~(PUD_SIZE_ - 1)), PUD_SIZE_, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED) {
		cfail(c, "mmap of the hugetlb memfd at a 1 GiB boundary: %s", strerror(errno));
		goto out;
	}
	fill64(p, 2 * HPAGE, 0x51);
	if (pin_start(c, URING, p, HPAGE))
		goto out;
	pinned = 1;
	if ((pid = cell_fork()) == 0) {
		close(go[1]);
		close(done[0]);
		ps_child(p, s, how, go[0], done[1]);
	}
	if (pid < 0) {
		cfail(c, "fork: %s", strerror(errno));
		goto out;
	}
	close(go[0]);
	close(done[1]);
	go[0] = done[1] = -1;
	if (read(done[0], &b, 1) != 1) {  /* the child wrote both pages (or ended early: its why) */
		wait_child(c, pid, "the sharing child");
		pid = -1;
		if (!c->failed[0])
			cfail(c, "%s", s->why[0] ? s->why : "the child ended before it wrote");
		goto out;
	}
	fill64(want, HPAGE, 0x52);
	if (pin_read(c, URING, p, got) || (d = first_diff(got, want, HPAGE)) >= 0) {
		cfail(c, "the pin does not read what the child wrote into the shared huge page (byte %ld)", c->failed[0] ? -1 : d);
	} else if ((d = first_diff(p, want, HPAGE)) >= 0) {
		cfail(c, "the parent does not read what the child wrote into huge page 0 (byte %ld)", d);
	} else {
		fill64(want, HPAGE, 0x53);
		if ((d = first_diff(p + HPAGE, want, HPAGE)) >= 0)
			cfail(c, "the parent does not read what the child wrote into huge page 1 after %s (byte %ld)",
			      how == PS_PIN ? "sharing" : "unsharing", d);
	}
	fill64(want, HPAGE, 0x54);
	if (!c->failed[0])
		pin_write(c, URING, p, want);
	if (!c->failed[0] && (d = first_diff(p, want, HPAGE)) >= 0)
		cfail(c, "the parent does not read what was written through the pin (byte %ld)", d);
	if (write(go[1], &b, 1) != 1)
		cfail(c, "cannot wake the child: %s", strerror(errno));
	wait_child(c, pid, "the sharing child");
	pid = -1;
	if (!c->failed[0] && s->why[0])
		cfail(c, "%s", s->why);
	if (!c->failed[0] && !s->shared)
		cskip(c, "the child's page tables did not map the huge page it never touched: no PMD table shared");
	else if (!c->failed[0] && how != PS_PIN && !s->unshared)  /* 6.12 always unshares: the split, the zap or the mprotect */
		cfail(c, "the child still maps the untouched huge page after its %s of part of the PUD: its PMD table is "
		      "still shared though its VMA no longer spans the PUD", how == PS_MUNMAP ? "munmap" : "mprotect");
	if (!c->failed[0] && !c->skip[0])
		printf("# %s: the child's table shared the parent's%s; both ways through the pin and both processes\n",
		       c->name, how == PS_PIN ? "" : how == PS_MUNMAP ? ", unshared by munmap" : ", unshared by mprotect");
out:
	pm_let_go(c, pid, pinned ? URING : NPIN);
	if (raw != MAP_FAILED)
		munmap(raw, 2 * PUD_SIZE_);
	if (fd >= 0)
		close(fd);
	close_pair(go);
	close_pair(done);
	if (s != MAP_FAILED)
		munmap(s, sizeof(*s));
	free(got);
	free(want);
	if (!c->failed[0])
		pins_back(c, &m, "the unpin and munmap");
}

/* -- MADV_COLLAPSE of shmem ------------------------------------------------------------------- */

#define PC_PINNED 16  /* pages of the first 2 MiB pinned */
static const char *const pc_names[] = {"none/shmem", "uring/shmem", "gup-fast/shmem"};
static const enum pin pc_pins[] = {NPIN, URING, GUP_FAST};

static int pc_hole(size_t i)  /* pages never written: collapse_file() fills them (shmem_charge()) */
{
	i %= HPAGE / PAGE;
	return i == 5 || i == 200 || i == HPAGE / PAGE - 1;
}

/* Every page of [p, p + 2 HPAGE) against want (holes: zeros); -1 told in why */
static long pc_check(const char *p, const char *want, const char *who, char *why, size_t n)
{
	long d = first_diff(p, want, 2 * HPAGE);

	if (d >= 0)
		snprintf(why, n, "%s reads other bytes at %ld (page %ld%s)", who, d, d / (long)PAGE,
			 pc_hole((size_t)d / PAGE) ? ", a hole: zeros" : "");
	return d;
}

struct pc_shared {
	char why[200];
};

/* late: no pin before the collapse; after it, p pins the second (collapsed) 2 MiB through the
 * one-page-off view, which maps the THP by PTEs */
static void pc_run(struct cell *c, enum pin p, int late)
{
	size_t po = late ? HPAGE : 0;  /* the pinned pages' offset in the file */
	size_t len = 2 * HPAGE, np = len / PAGE;
	struct pc_shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char *want = malloc(len), *got = malloc(PC_PINNED * PAGE), *raw = MAP_FAILED, *b = MAP_FAILED, *a, x = 0;
	long alloc0, d, pmd_kb = 0, r, flt = 0;
	struct rusage ru0, ru1;
	char *pat;
	int go[2] = {-1, -1}, ready[2] = {-1, -1}, pinned = 0, err = 0, thp0 = 0, thp1 = 0;
	struct pinmark m;
	pid_t pid = -1;

	c->mem = SHMTHP;
	c->half = HPAGE;
	c->fd = -1;
	pin_mark(&m);
	if (s == MAP_FAILED || !want || !got || pipe(go) || pipe(ready)) {
		cfail(c, "shared memory, pipes: %s", strerror(errno));
		goto out;
	}
	s->why[0] = 0;
	if (pinner_missing(c, p))
		goto out;
	if (map_memfd_thp(c))  /* shmem_enabled advise, 4 MiB memfd at c->map, 2 MiB-aligned, MADV_HUGEPAGE */
		goto out;
	if (!c->map) {
		cfail(c, "cannot map the memfd: %s", strerror(errno));
		goto out;
	}
	c->cur = a = c->map;
	c->mapped = 1;
	fill64(want, len, 0xc1);
	for (size_t i = 0; i < np; i++)  /* write(2) allocates small pages under advise; holes stay holes */
		if (pc_hole(i))
			memset(want + i * PAGE, 0, PAGE);
		else if (pwrite(c->fd, want + i * PAGE, PAGE, (off_t)(i * PAGE)) != (ssize_t)PAGE) {
			cfail(c, "write(2) into the memfd: %s", strerror(errno));
			goto out;
		}
	/* a second mapping one page off a 2 MiB boundary: never PMD-mapped, maps the THP by PTEs */
	raw = mmap(NULL, len + 2 * HPAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw != MAP_FAILED)
		b = mmap((char *)((((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1)) + PAGE), len, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, c->fd, 0);
	if (b == MAP_FAILED) {
		cfail(c, "a second mapping of the memfd one page off: %s", strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < np; i++)  /* PTEs for every written page; a hole read would fill it */
		if (!pc_hole(i))
			x += *(volatile char *)(a + i * PAGE) + *(volatile char *)(b + i * PAGE);
	if (is_thp(a) || is_thp(a + HPAGE)) {
		cskip(c, "the memfd's pages are THPs already (shmem_enabled always or force?): nothing to collapse");
		goto out;
	}
	if ((pid = cell_fork()) == 0) {  /* maps both views too, by PTEs, until the collapse */
		char *cw = malloc(len);

		for (size_t i = 0; i < np; i++)
			if (!pc_hole(i))
				x += *(volatile char *)(a + i * PAGE);
		if (write(ready[1], &x, 1) != 1 || read(go[0], &x, 1) != 1)
			_exit(1);
		if (!cw || pc_check(a, want, "the child's aligned view after the collapse", s->why, sizeof(s->why)) >= 0 ||
		    pc_check(b, want, "the child's one-page-off view after the collapse", s->why, sizeof(s->why)) >= 0)
			_exit(0);
		fill64(a + po, PC_PINNED * PAGE, 0xc2);  /* into the pinned pages */
		fill64(b + HPAGE + 100 * PAGE, PAGE, 0xc3);  /* through the one-page-off view: file page 612 */
		_exit(0);
	}
	if (pid > 0) {  /* the child's end: a child that dies is an EOF on ready, not a wait forever
			 * (go[0] stays open: a write to a dead child must not raise SIGPIPE) */
		close(ready[1]);
		ready[1] = -1;
	}
	if (pid < 0 || read(ready[0], &x, 1) != 1) {
		cfail(c, "the child: %s", pid < 0 ? strerror(errno) : "ended before it mapped the pages");
		goto out;
	}
	c->half = PC_PINNED * PAGE;  /* pin_read()/pin_write() length */
	pat = late ? b + po : a;
	if (p != NPIN && !late) {
		if (pin_start(c, p, pat, c->half))
			goto out;
		pinned = 1;
	}
	alloc0 = vmstat("thp_collapse_alloc");
	r = madvise(a, len, MADV_COLLAPSE);
	err = r ? errno : 0;
	x += *(volatile char *)a + *(volatile char *)(a + HPAGE);  /* a retracted table faults the PMD in */
	thp0 = is_thp(a);
	thp1 = is_thp(a + HPAGE);
	pmd_kb = pm_smaps_kb(a, "ShmemPmdMapped");
	printf("# %s: MADV_COLLAPSE: %s; thp_collapse_alloc +%ld, first 2 MiB %s, second %s, ShmemPmdMapped %ld kB\n",
	       c->name, r ? strerror(err) : "collapsed all", vmstat("thp_collapse_alloc") - alloc0,
	       thp0 ? "THP" : "small pages", thp1 ? "THP" : "small pages", pmd_kb);
	if (r && err != EAGAIN && err != ENOMEM && err != EBUSY)
		cfail(c, "MADV_COLLAPSE of a shmem range with MADV_HUGEPAGE: %s", strerror(err));
	else if (!r && (!thp0 || !thp1))
		cfail(c, "MADV_COLLAPSE succeeded but the range is not all THPs (kpageflags: %d/%d)", thp0, thp1);
	getrusage(RUSAGE_SELF, &ru0);
	if (!c->failed[0] && pc_check(b, want, "the one-page-off view after the collapse", c->failed, sizeof(c->failed)) < 0)
		pc_check(a, want, "the aligned view after the collapse", c->failed, sizeof(c->failed));
	getrusage(RUSAGE_SELF, &ru1);
	flt = ru1.ru_minflt - ru0.ru_minflt;  /* fault-around maps up to 16 pages of the THP a fault */
	printf("# %s: the one-page-off view read after the collapse in %ld fault(s) for %zu pages\n", c->name, flt, np);
	if (!c->failed[0] && late) {  /* the premise first: a THP mapped by PTEs through the one-page-off view */
		if (!thp1 || !is_thp(pat) || pfn_of(pat) != pfn_of(a + po) || flt >= (long)np / 2)
			cskip(c, "the second 2 MiB is not a THP mapped by PTEs through the one-page-off view (THP %d/%d, same "
			      "PFN as the aligned view %d, %ld faults for %zu pages)", thp1, is_thp(pat),
			      pfn_of(pat) == pfn_of(a + po), flt, np);
		else if (!pin_start(c, p, pat, c->half))
			pinned = 1;
	}
	if (write(go[1], &x, 1) != 1)
		cfail(c, "cannot wake the child: %s", strerror(errno));
	wait_child(c, pid, "the collapse child");
	pid = -1;
	if (!c->failed[0] && s->why[0])
		cfail(c, "%s", s->why);
	if (!c->failed[0]) {  /* the child's writes: the pinned pages, and file page 0x207 through its one-page-off view */
		fill64(want + po, PC_PINNED * PAGE, 0xc2);
		fill64(want + HPAGE + 100 * PAGE, PAGE, 0xc3);
		if (pc_check(a, want, "the parent's aligned view after the child wrote", c->failed, sizeof(c->failed)) < 0)
			pc_check(b, want, "the parent's one-page-off view after the child wrote", c->failed, sizeof(c->failed));
	}
	if (!c->failed[0] && pinned) {  /* the process's pages must still be the pinned ones */
		if (!pin_read(c, p, pat, got) && (d = first_diff(got, want + po, c->half)) >= 0)
			cfail(c, "after MADV_COLLAPSE the pin does not read what the child wrote into the pinned pages (byte "
			      "%ld)%s", d, thp0 && !late ? ": the pinned pages were collapsed into a copy" : "");
		fill64(a + po, c->half, 0xc4);
		memcpy(want + po, a + po, c->half);
		if (!c->failed[0] && !pin_read(c, p, pat, got) && (d = first_diff(got, want + po, c->half)) >= 0)
			cfail(c, "after MADV_COLLAPSE the process's write is not seen through the pin (byte %ld)", d);
		fill64(want + po, c->half, 0xc5);
		if (!c->failed[0] && pin_write(c, p, pat, want + po) > 0 &&
		    ((d = first_diff(a + po, want + po, c->half)) >= 0 || (d = first_diff(b + po, want + po, c->half)) >= 0))
			cfail(c, "what was written through the pin is not what both views read (byte %ld)", d);
	}
	if (!c->failed[0] && (!thp1 || vmstat("thp_collapse_alloc") == alloc0 || pmd_kb < (long)(HPAGE >> 10)))
		cskip(c, "the unpinned 2 MiB did not collapse into a PMD-mapped THP (MADV_COLLAPSE: %s, kpageflags %s, "
		      "ShmemPmdMapped %ld kB)", r ? strerror(err) : "ok", thp1 ? "THP" : "not THP", pmd_kb);
	else if (!c->failed[0] && (p == NPIN || late) && !thp0)
		cskip(c, "the first 2 MiB did not collapse (MADV_COLLAPSE: %s)", r ? strerror(err) : "ok");
out:
	pm_let_go(c, pid, pinned ? p : NPIN);
	if (raw != MAP_FAILED)
		munmap(raw, len + 2 * HPAGE);
	if (c->map)
		munmap(c->map, len);
	cell_file_close(c);
	close_pair(go);
	close_pair(ready);
	if (s != MAP_FAILED)
		munmap(s, sizeof(*s));
	free(want);
	free(got);
	if (!c->failed[0])
		pins_back(c, &m, "the unpin and munmap");
}

static void pm_collapse_cell(struct cell *c, int k) { pc_run(c, pc_pins[k], 0); }

static const char *const pt_names[] = {"uring/shmem-thp", "gup-fast/shmem-thp"};

static void pm_pte_mapped_cell(struct cell *c, int k) { pc_run(c, k ? GUP_FAST : URING, 1); }

static const struct cell_entry pm_table[] = {
	{"pmd/mremap-", pm_move_cell, pm_move_names, NPM_MOVE},
	{"pmd/collapse-", pm_collapse_cell, pc_names, 3},
	{"pmd/pte-mapped-", pm_pte_mapped_cell, pt_names, 2},
	{"pmd/share-", pm_share_cell, ps_names, NPS}};

static void thpmove_cells(void)
{
	run_cells(pm_table, sizeof(pm_table) / sizeof(pm_table[0]), NULL, NULL);
}
