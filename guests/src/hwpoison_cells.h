/* hwpoison/...: memory failure and soft offline of pinned and unpinned pages (mm/memory-failure.c,
 * reached by madvise(MADV_SOFT_OFFLINE) and madvise(MADV_HWPOISON), mm/madvise.c
 * madvise_inject_error(), and /sys/kernel/debug/hwpoison/unpoison-pfn, mm/hwpoison-inject.c).
 * Part of pin_matrix.c (struct cell, mem_map()/mem_unmap(), pin_start()/pin_read()/pin_write()/
 * pin_stop(), check_disk(), cell_in_child(); kentry_cells.h's pin_mark()/pins_back()/none_held()).
 *
 * What 6.12 does, read in ~/.cache/pinbench/linux-source-6.12:
 * - MADV_SOFT_OFFLINE (soft_offline_page() -> soft_offline_in_use_page()): a THP is split first
 *   (try_to_split_thp_page(): a pinned THP cannot be, EBUSY); then the page is isolated and
 *   migrated (MR_MEMORY_FAILURE), the old page marked HWPOISON with one reference kept
 *   (page_handle_poison(); a hugetlb folio is migrated whole, the old one dissolved and its raw
 *   page taken off the buddy lists). Nothing checks the pin itself: migration refuses a page with
 *   references its mappings do not explain (try_to_migrate_one() will not unmap a maybe-pinned
 *   anon-exclusive page, folio_migrate_mapping() wants the expected count; a FOLL_GET reference,
 *   vmsplice's, is refused the same way), so every pin kind ends in EBUSY, the page in place.
 * - MADV_HWPOISON (memory_failure(MF_ACTION_REQUIRED | MF_COUNT_INCREASED | MF_SW_SIMULATED)):
 *   the page is marked, unmapped into hwpoison swap entries in every process mapping it
 *   (try_to_unmap(TTU_HWPOISON): taken even under a pin), the caller gets SIGBUS BUS_MCEERR_AR at
 *   once (a dirty page: forcekill), other processes only when they touch it (no early kill);
 *   an anonymous page is MF_RECOVERED (me_pagecache_clean(): off the LRU, madvise's reference
 *   kept, a pin's references stay with the pin); a hugetlb page is poisoned whole, and an anon one
 *   is freed, dissolved and its raw page taken off the buddy lists (me_huge_page()): the pool is
 *   one page short afterwards.
 * - GUP over a hwpoison entry: do_swap_page() returns VM_FAULT_HWPOISON, vm_fault_to_errno()
 *   makes it EFAULT, EHWPOISON only with FOLL_HWPOISON (MADV_POPULATE_(READ|WRITE) alone).
 * - unpoison_memory() refuses (EBUSY) a page with more than one reference (still pinned, or in a
 *   pipe), mapped, or with a mapping (a shmem page kept in its file); a page taken off the buddy
 *   lists goes back (put_page_back_buddy()). HardwareCorrupted in /proc/meminfo counts the
 *   poisoned pages (num_poisoned_pages).
 *
 * Every PFN a cell poisons (or may have) is noted in memory shared with its children before the
 * call; after the cell, whatever way it ended, each is unpoisoned (retried while a pin's deferred
 * release still holds it), the hugetlb pool put back, and HardwareCorrupted must be back where it
 * was, else FAIL naming the PFNs still poisoned (a poisoned page is lost to later cells and to the
 * pages oracle's MemFree); so must free_hugepages (a hugetlb page a failed soft offline kept).
 *
 * hwpoison/<memory>/<pin>/soft-offline: <memory> anon, thp, shmem, hugetlb, ext4-shared (mem_map():
 *   a pinned half and an unpinned witness half); <pin> none, gup-fast, gup-slow (gup_test long-term,
 *   read-only for ext4), uring (fixed buffer), vmsplice (a pipe's references to 16 pages). Page 1 of
 *   the pinned half is soft-offlined: refused with EBUSY, its PFN kept, not HWPOISON (a page that
 *   moved under the pin: FAIL), pgmigrate_fail (thp: thp_split_page_failed) moved (premise, else
 *   SKIP: the refusal was not the pin's); page 1 of the witness must move (else FAIL: a working
 *   kernel always migrates an unpinned page): a new PFN, the old one HWPOISON in kpageflags. Small
 *   pages' witnesses are left alone under page_owner=on (the bench's boot), and their none cells
 *   SKIP: 6.12 counts a soft-offlined small page's free twice once it is unpoisoned (page_owner's
 *   stack record underflows, WARNINGs follow); hugetlb's path frees once. Then
 *   data both ways as the matrix's held cells (the pin reads what the pages held, then the
 *   process's write; io_uring's write is what the process reads; ext4 on disk), the witness
 *   intact, the FOLL_PIN counters back.
 * hwpoison/anon/<pin>/poison: page 1 of the pinned half MADV_HWPOISONed (in a child of its own):
 *   premise SIGBUS BUS_MCEERR_AR at it, HWPOISON in kpageflags, not present in pagemap, a touch
 *   SIGBUSes; the pin still reads every page as it was (the pages were not freed under it); an
 *   unpoison while the pin holds the page is refused; the other pages both ways; the unpin.
 * hwpoison/anon/<entry>/pin-over-poison: page 8 of 16 poisoned first, then the entry over all 16:
 *   refused or short (at most the 8 pages before it, their bytes right, nothing past it moved),
 *   nothing held after (FOLL_PIN counters, pages_held()); MADV_POPULATE_WRITE must say EHWPOISON.
 * hwpoison/anon/fork/poison: a page a forked child shares (COW) poisoned by the parent: the child
 *   is not signalled until it touches it (SIGBUS), its other pages intact and writable.
 * hwpoison/hugetlb/none/poison: the whole huge page unmapped (SIGBUS at its first and last small
 *   pages), the other huge page intact; the pool put back after the unpoison.
 */
#include <sys/uio.h>

#ifndef MADV_HWPOISON
#define MADV_HWPOISON 100
#endif
#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE 101
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef BUS_MCEERR_AR
#define BUS_MCEERR_AR 4
#endif
#define HW_UNPOISON "/sys/kernel/debug/hwpoison/unpoison-pfn"
#define HW_NR_HUGE "/proc/sys/vm/nr_hugepages"
#define HW_MAXPFN 8
#define HW_CHILD_S 60
#define HW_PAGES 16  /* pin-over-poison's range */
#define HW_BAD 8     /* its poisoned page */

/* The PFNs a cell poisoned or may have (shared with its children), unpoisoned after it */
static struct hw_noted {
	int n;
	uint64_t pfn[HW_MAXPFN];
} *hw_pfns;

static void hw_note(uint64_t pfn)
{
	for (int i = 0; i < hw_pfns->n; i++)
		if (hw_pfns->pfn[i] == pfn)
			return;
	if (pfn && hw_pfns->n < HW_MAXPFN)
		hw_pfns->pfn[hw_pfns->n++] = pfn;
}

/* HardwareCorrupted of /proc/meminfo in kB, -1 unreadable */
static long hw_corrupted(void)
{
	return key_value("/proc/meminfo", "HardwareCorrupted:");
}

static uint64_t pfn_flags(uint64_t pfn)
{
	uint64_t fl = 0;
	int fd = open("/proc/kpageflags", O_RDONLY);

	if (fd < 0 || pread(fd, &fl, 8, (off_t)(pfn * 8)) != 8)
		fl = 0;
	if (fd >= 0)
		close(fd);
	return fl;
}

static int pfn_poisoned(uint64_t pfn) { return pfn && (pfn_flags(pfn) >> KPF_HWPOISON) & 1; }

/* The kernel keeps page_owner records (booted with page_owner=on) */
static int hw_page_owner_on(void)
{
	char line[4096] = "";

	first_line("/proc/cmdline", line, sizeof(line));
	return strstr(line, "page_owner=on") != NULL;
}

/* unpoison_memory(pfn): 0, or -errno */
static int hw_unpoison(uint64_t pfn)
{
	char v[32];
	int fd = open(HW_UNPOISON, O_WRONLY), r;

	if (fd < 0)
		return -errno;
	snprintf(v, sizeof(v), "%llu", (unsigned long long)pfn);
	r = write(fd, v, strlen(v)) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* Every noted PFN unpoisoned (up to 3 s each: an exiting child's ring and pipes give their
 * references back late), HardwareCorrupted back to hc0, the hugetlb pool back to huge0 pages
 * and free0 of them free (a hugetlb page a failed soft offline kept isolated is never freed) */
static void hw_cleanup(struct cell *c, long hc0, long huge0, long free0)
{
	char left[240] = "";
	size_t o = 0;
	long hc;

	for (int i = 0; i < hw_pfns->n; i++) {
		uint64_t pfn = hw_pfns->pfn[i];
		int r = 0;

		for (double t0 = now_s(); pfn_poisoned(pfn) && (r = hw_unpoison(pfn)) && now_s() - t0 < 3;)
			usleep(50 * 1000);
		if (pfn_poisoned(pfn) && o < sizeof(left) - 48)
			o += snprintf(left + o, sizeof(left) - o, " %#llx (unpoison: %s)", (unsigned long long)pfn,
				      r ? strerror(-r) : "accepted, still HWPOISON");
	}
	if (huge0 > 0 && read_long(HW_NR_HUGE) < huge0) {  /* dissolved by the poison: put back */
		char v[32];

		snprintf(v, sizeof(v), "%ld", huge0);
		write_file(HW_NR_HUGE, v);
	}
	for (double t0 = now_s(); free0 >= 0 && read_long(HUGE_FREE) < free0 && now_s() - t0 < 10;)
		usleep(50 * 1000);  /* at once; a loaded TCG guest stalls for seconds */
	if (free0 >= 0 && read_long(HUGE_FREE) < free0)
		cfail(c, "%ld hugetlb page(s) not free after the cell (free_hugepages %ld, %ld before it, nr_hugepages %ld)",
		      free0 - read_long(HUGE_FREE), read_long(HUGE_FREE), free0, read_long(HW_NR_HUGE));
	hc = hw_corrupted();
	if (hc != hc0 || left[0]) {
		/* the poisoned PFNs nobody noted named too: a kernel that poisoned another page */
		int fd = open("/proc/kpageflags", O_RDONLY), noted;
		uint64_t fl[512];
		ssize_t got;

		for (off_t off = 0; fd >= 0 && o < sizeof(left) - 24 && (got = pread(fd, fl, sizeof(fl), off)) > 0; off += got)
			for (ssize_t i = 0; i < got / 8 && o < sizeof(left) - 24; i++) {
				uint64_t pfn = (uint64_t)off / 8 + (uint64_t)i;

				noted = 0;
				for (int j = 0; j < hw_pfns->n; j++)
					noted |= hw_pfns->pfn[j] == pfn;
				if ((fl[i] >> KPF_HWPOISON) & 1 && !noted)
					o += snprintf(left + o, sizeof(left) - o, " %#llx (not the cell's)", (unsigned long long)pfn);
			}
		if (fd >= 0)
			close(fd);
		cfail(c, "HardwareCorrupted %ld kB after the cell's unpoison, %ld kB before it; HWPOISON:%s", hc, hc0,
		      left[0] ? left : " none in kpageflags");
	}
	hw_pfns->n = 0;
}

/* -- SIGBUS: where and how (siglongjmp out of a touch, recorded only otherwise) -------------- */

static sigjmp_buf hw_jmp;
static volatile sig_atomic_t hw_armed, hw_buses, hw_code;
static void *volatile hw_addr;

static void hw_on_bus(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	hw_buses++;
	hw_code = si->si_code;
	hw_addr = si->si_addr;
	if (hw_armed) {
		hw_armed = 0;
		siglongjmp(hw_jmp, 1);
	}
}

static void hw_catch_bus(void)
{
	struct sigaction sa = {.sa_sigaction = hw_on_bus, .sa_flags = SA_SIGINFO | SA_NODEFER};

	sigaction(SIGBUS, &sa, NULL);
	hw_buses = 0;
}

/* 1 when reading the byte at p takes SIGBUS BUS_MCEERR_AR (at p's page), 0 when it reads */
static int hw_touch_bus(volatile char *p)
{
	if (sigsetjmp(hw_jmp, 1))
		return hw_code == BUS_MCEERR_AR && ((uintptr_t)hw_addr & ~(PAGE - 1)) == ((uintptr_t)p & ~(PAGE - 1));
	hw_armed = 1;
	(void)*p;
	hw_armed = 0;
	return 0;
}

/* MADV_HWPOISON of the page at p (its PFN noted first), with the premise: the call succeeded,
 * the caller got SIGBUS BUS_MCEERR_AR, the PFN is HWPOISON and p no longer present; -1 when not
 * (the cell told why) */
static int hw_poison(struct cell *c, char *p, const char *what)
{
	uint64_t pfn = pfn_of(p);
	int r;

	if (!pfn) {
		cfail(c, "%s has no PFN in pagemap before MADV_HWPOISON", what);
		return -1;
	}
	hw_note(pfn);
	hw_catch_bus();
	r = madvise(p, PAGE, MADV_HWPOISON);
	if (r) {
		cfail(c, "MADV_HWPOISON of %s (PFN %#llx): %s", what, (unsigned long long)pfn, strerror(errno));
		return -1;
	}
	if (!hw_buses || hw_code != BUS_MCEERR_AR)
		cfail(c, "MADV_HWPOISON of %s, a dirty page: %s, want SIGBUS BUS_MCEERR_AR at once (kill_proc(), "
		      "forcekill)", what, hw_buses ? "a SIGBUS of another code" : "no SIGBUS");
	else if (!pfn_poisoned(pfn))
		cfail(c, "MADV_HWPOISON of %s returned 0, but PFN %#llx is not HWPOISON in kpageflags", what,
		      (unsigned long long)pfn);
	else if (pagemap(p) & PM_PRESENT)
		cfail(c, "MADV_HWPOISON of %s left it mapped (pagemap present, PFN %#llx)", what,
		      (unsigned long long)pfn_of(p));
	else if (!hw_touch_bus(p))
		cfail(c, "after MADV_HWPOISON a touch of %s reads instead of SIGBUS BUS_MCEERR_AR", what);
	return c->failed[0] ? -1 : 0;
}

/* Pages of [p, p+len) but the one at skip whose bytes differ from want's: the first such byte, or -1 */
static long hw_diff_but(const char *p, const char *want, size_t len, size_t skip)
{
	long d = first_diff(p, want, skip);

	if (d < 0 && len > skip + PAGE && (d = first_diff(p + skip + PAGE, want + skip + PAGE, len - skip - PAGE)) >= 0)
		d += (long)(skip + PAGE);
	return d;
}

/* -- the cells' memory and pins ----------------------------------------------------------------- */

enum hpin { HP_NONE, HP_GUP_FAST, HP_GUP_SLOW, HP_URING, HP_VMSPLICE, NHP };
static const char *const hp_names[NHP] = {"none", "gup-fast", "gup-slow", "uring", "vmsplice"};
static const enum pin hp_pin[NHP] = {NPIN, GUP_FAST, GUP_SLOW, URING, VMSPLICE};
static const enum mem hm_kinds[] = {ANON, THP, SHMEM, HUGE, FILESH};
#define NHM (sizeof(hm_kinds) / sizeof(hm_kinds[0]))

/* The pin of the first half (vmsplice: its first 16 pages into pipe fds); -1 with the cell told */
static int hw_pin(struct cell *c, enum hpin h, int fds[2])
{
	struct iovec iov = {c->map, SMALL_PAGES * PAGE};

	if (h == HP_NONE)
		return 0;
	if (h != HP_VMSPLICE)
		return pinner_missing(c, hp_pin[h]) || pin_start(c, hp_pin[h], c->map, c->half) ? -1 : 0;
	if (pipe(fds)) {
		cfail(c, "pipe: %s", strerror(errno));
		return -1;
	}
	if (vmsplice(fds[1], &iov, 1, 0) != (ssize_t)iov.iov_len) {
		cfail(c, "vmsplice of %zu bytes: %s", iov.iov_len, strerror(errno));
		close_pair(fds);
		return -1;
	}
	return 0;
}

/* What the pin sees of the first half (vmsplice: the pipe's 16 pages, drained) into got: its
 * length, 0 when the pin has no read side (none), -1 with the cell failed */
static ssize_t hw_pin_read(struct cell *c, enum hpin h, int fds[2], char *got)
{
	size_t len = SMALL_PAGES * PAGE;
	ssize_t n;

	if (h == HP_NONE)
		return 0;
	if (h != HP_VMSPLICE)
		return pin_read(c, hp_pin[h], c->map, got) ? -1 : (ssize_t)c->half;
	/* non-blocking: this process holds the write end too, so a pipe holding less than was
	 * vmspliced would otherwise be waited on for ever */
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	for (size_t off = 0; off < len; off += (size_t)n)
		if ((n = read(fds[0], got + off, len - off)) <= 0) {
			cfail(c, "reading the pipe after %zu of %zu vmspliced bytes: %s", off, len,
			      n ? strerror(errno) : "end of file");
			return -1;
		}
	return (ssize_t)len;
}

static void hw_unpin(struct cell *c, enum hpin h, int fds[2])
{
	if (h == HP_VMSPLICE)
		close_pair(fds);
	else if (h != HP_NONE)
		pin_stop(c, hp_pin[h]);
}

/* -- soft offline ------------------------------------------------------------------------------- */

static void hw_offline(struct cell *c, int k)
{
	enum hpin h = (enum hpin)(k % NHP);
	char *pinned, *wit, *got = NULL, *want = NULL;
	int fds[2] = {-1, -1}, r, e;
	uint64_t pfn0, pfn1, wpfn0, wpfn1;
	struct pinmark m;
	ssize_t n;
	long d;

	c->mem = hm_kinds[k / NHP];
	c->ev = NONE;
	if (c->mem == FILESH && !ext4_dir) {
		cskip(c, "no ext4 directory given (-d)");
		return;
	}
	if (mem_map(c))
		goto out;
	pinned = c->map + PAGE;
	wit = c->map + c->half + PAGE;
	got = malloc(c->half);
	want = malloc(c->half);
	pin_mark(&m);
	if (hw_pin(c, h, fds))
		goto out;
	pfn0 = pfn_of(pinned);
	wpfn0 = wpfn1 = pfn_of(wit);
	if (h != HP_NONE) {
		const char *tried = c->mem == THP ? "thp_split_page_failed" : "pgmigrate_fail";
		long t0 = vmstat(tried);

		hw_note(pfn0);  /* before the call: a kernel that poisons it and says EBUSY must not leave it */
		r = madvise(pinned, PAGE, MADV_SOFT_OFFLINE);
		e = errno;
		pfn1 = pfn_of(pinned);
		/* the refusal's premise: the kernel tried (a THP is split first) and the pin made it fail */
		if (r && e == EBUSY && vmstat(tried) == t0)
			cskip(c, "soft offline of the pinned page said EBUSY, but %s did not move: not the pin's refusal",
			      tried);
		if (!r || pfn1 != pfn0 || pfn_poisoned(pfn0))
			cfail(c, "soft offline of a page a %s pin holds: %s, PFN %#llx -> %#llx%s", hp_names[h],
			      r ? strerror(e) : "done", (unsigned long long)pfn0, (unsigned long long)pfn1,
			      pfn_poisoned(pfn0) ? ", the old one HWPOISON: the pinned page was taken from the process" : "");
		else if (e != EBUSY)
			cfail(c, "soft offline of a page a %s pin holds: %s, want EBUSY (6.12: the migration is refused)",
			      hp_names[h], strerror(e));
		if (c->failed[0])
			goto unpin;
	}
	if (c->skip[0])
		goto unpin;
	/* the unpinned witness moves (the premise of none); not a small page under page_owner=on:
	 * 6.12 accounts its free twice (page_handle_poison()'s put_page() lets free_pages_prepare()
	 * reset its page_owner, unpoison_memory() frees it again), the migration stack's record
	 * goes to 0 and every later use of it WARNs in __stack_depot_get_stack_record() */
	if (c->mem != HUGE && hw_page_owner_on()) {
		if (h == HP_NONE)
			cskip(c, "an unpinned small page soft-offlined and unpoisoned trips 6.12's page_owner accounting "
			      "(page_owner=on): WARNINGs");
		else
			printf("# %s: the witness left alone (page_owner=on: 6.12 counts a soft-offlined small page's "
			       "free twice)\n", c->name);
		goto both;
	}
	hw_note(wpfn0);  /* cleaned up whatever the call returns (hw_cleanup() unpoisons only HWPOISON) */
	r = madvise(wit, PAGE, MADV_SOFT_OFFLINE);
	e = errno;
	wpfn1 = pfn_of(wit);
	if (r)
		cfail(c, "soft offline of an unpinned %s page: %s", mem_names[c->mem], strerror(e));
	else if (wpfn1 == wpfn0 || !wpfn1)
		cfail(c, "soft offline of an unpinned %s page returned 0, its PFN %#llx -> %#llx", mem_names[c->mem],
		      (unsigned long long)wpfn0, (unsigned long long)wpfn1);
	else if (!pfn_poisoned(wpfn0))
		cfail(c, "soft offline moved the unpinned page (PFN %#llx -> %#llx) but the old PFN is not HWPOISON",
		      (unsigned long long)wpfn0, (unsigned long long)wpfn1);
both:
	if (c->failed[0] || c->skip[0])
		goto unpin;
	/* both ways: the pin reads what the pages held, then the process's write (the pipe's
	 * references only the latter: they are the process's pages, or old copies) */
	for (int round = h == HP_VMSPLICE; round < 2 && h != HP_NONE; round++) {
		if (round) {
			fill64(c->map, c->half, 2);
			memcpy(c->exp, c->map, c->half);
		}
		if ((n = hw_pin_read(c, h, fds, got)) < 0)
			goto unpin;
		if ((d = first_diff(got, c->exp, (size_t)n)) >= 0) {
			cfail(c, "after the refused soft offline the pin reads other data than %s (byte %ld)",
			      round ? "the process wrote" : "the pages held", d);
			goto unpin;
		}
	}
	fill64(want, c->half, 3);
	if (h != HP_NONE && h != HP_VMSPLICE && (r = pin_write(c, hp_pin[h], c->map, want)) < 0)
		goto unpin;
	if (h == HP_URING) {
		memcpy(c->exp, want, c->half);
		if ((d = first_diff(c->map, want, c->half)) >= 0)
			cfail(c, "after the refused soft offline what io_uring wrote into the buffer is not what the "
			      "process reads (byte %ld)", d);
	}
	if (!c->failed[0] && (d = first_diff(c->map + c->half, c->wexp, c->half)) >= 0)
		cfail(c, "the soft-offlined witness reads other data (byte %ld, PFN %#llx -> %#llx)", d,
		      (unsigned long long)wpfn0, (unsigned long long)wpfn1);
	if (!c->failed[0])
		printf("# %s: %spinned page kept (PFN %#llx), witness %s %#llx -> %#llx\n", c->name,
		       h == HP_NONE ? "(none) " : "soft offline refused: EBUSY, ", (unsigned long long)pfn0,
		       wpfn0 == wpfn1 ? "not soft-offlined" : "moved", (unsigned long long)wpfn0, (unsigned long long)wpfn1);
unpin:
	hw_unpin(c, h, fds);
	if (!c->failed[0] && c->mem == FILESH) {
		check_disk(c, c->exp, 0, "written through the mapping/pin");
		check_disk(c, c->wexp, (off_t)c->half, "the soft-offlined witness");
	}
	if (!c->failed[0] && !c->skip[0])
		pins_back(c, &m, "the unpin");
	/* no reference left on the pinned pages: a soft offline that failed puts the page back
	 * (putback_movable_pages()); small pages only (a THP or hugetlb move is slow under TCG) */
	if (!c->failed[0] && !c->skip[0] && h != HP_NONE && c->half == SMALL_PAGES * PAGE)
		none_held(c, c->map, c->half, "the unpin");
out:
	mem_unmap(c);
	free(got);
	free(want);
}

/* -- MADV_HWPOISON of a pinned page (in a child) ------------------------------------------------- */

static void hw_poison_pinned(struct cell *c, int k)
{
	enum hpin h = (enum hpin)k;
	char *got = NULL, *want = NULL;
	int fds[2] = {-1, -1}, r;
	struct pinmark m;
	uint64_t pfn;
	ssize_t n;
	long d;

	c->mem = ANON;
	c->ev = NONE;
	if (mem_map(c))
		goto out;
	got = malloc(c->half);
	want = malloc(c->half);
	pin_mark(&m);
	if (hw_pin(c, h, fds))
		goto out;
	pfn = pfn_of(c->map + PAGE);
	if (hw_poison(c, c->map + PAGE, "page 1 of the pinned half"))
		goto unpin;
	/* the mapping's other pages unharmed */
	if ((d = hw_diff_but(c->map, c->exp, c->half, PAGE)) >= 0 ||
	    (d = first_diff(c->map + c->half, c->wexp, c->half)) >= 0) {
		cfail(c, "after MADV_HWPOISON of page 1 another page of the mapping reads other data (byte %ld)", d);
		goto unpin;
	}
	/* the pin's references keep the page: unpoison refused (vmsplice's pipe holds one too) */
	if (h != HP_NONE) {
		if (!(r = hw_unpoison(pfn)))
			cfail(c, "unpoison of PFN %#llx was accepted while the %s pin holds it (unpoison_memory() "
			      "wants one reference)", (unsigned long long)pfn, hp_names[h]);
		else if (r != -EBUSY)
			cfail(c, "unpoison of the pinned PFN %#llx: %s, want EBUSY", (unsigned long long)pfn, strerror(-r));
		if (c->failed[0])
			goto unpin;
	}
	/* the pin still holds every page as it was: none was freed under it */
	if ((n = hw_pin_read(c, h, fds, got)) < 0)
		goto unpin;
	if ((d = first_diff(got, c->exp, (size_t)n)) >= 0) {
		cfail(c, "after MADV_HWPOISON the %s pin reads other data (byte %ld%s)", hp_names[h], d,
		      d / (long)PAGE == 1 ? ", the poisoned page: freed under the pin?" : "");
		goto unpin;
	}
	if (h != HP_NONE && h != HP_VMSPLICE) {
		/* the process's write to the other pages is what the pin reads; the pin's write theirs */
		fill64(want, c->half, 2);
		memcpy(want + PAGE, c->exp + PAGE, PAGE);
		memcpy(c->map, want, PAGE);
		memcpy(c->map + 2 * PAGE, want + 2 * PAGE, c->half - 2 * PAGE);
		if (pin_read(c, hp_pin[h], c->map, got))
			goto unpin;
		if ((d = first_diff(got, want, c->half)) >= 0) {
			cfail(c, "after MADV_HWPOISON of page 1 the process's write is not what the pin reads (byte %ld)", d);
			goto unpin;
		}
		fill64(want, c->half, 3);
		if ((r = pin_write(c, hp_pin[h], c->map, want)) < 0)
			goto unpin;
		if (r && (d = hw_diff_but(c->map, want, c->half, PAGE)) >= 0)
			cfail(c, "after MADV_HWPOISON of page 1 what io_uring wrote is not what the process reads (byte %ld)", d);
	}
	if (!c->failed[0] && !hw_touch_bus(c->map + PAGE))
		cfail(c, "the poisoned page reads again instead of SIGBUS");
	if (!c->failed[0])
		printf("# %s: PFN %#llx poisoned under the pin: SIGBUS, %s, other pages both ways\n", c->name,
		       (unsigned long long)pfn, h == HP_NONE ? "no pin" : "the pin reads it intact, unpoison refused");
unpin:
	hw_unpin(c, h, fds);
	if (!c->failed[0] && !c->skip[0])
		pins_back(c, &m, "the unpin of a poisoned page");
out:
	mem_unmap(c);
	free(got);
	free(want);
}

/* -- the pinners over a poisoned page ------------------------------------------------------------ */

enum hentry { HWE_GUP_FAST, HWE_GUP_SLOW, HWE_URING, HWE_VMSPLICE, HWE_PVM_READ, HWE_PVM_WRITE, HWE_DIO_READ, HWE_DIO_WRITE,
	      HWE_POPULATE, NHWE };
static const char *const hwe_names[NHWE] = {"gup-fast", "gup-slow", "uring", "vmsplice", "pvm-readv", "pvm-writev",
					  "dio-ext4-read", "dio-ext4-write", "populate-write"};

/* The entry e over [p, p+len) (page HW_BAD poisoned): the bytes it moved (0 when it refused,
 * said in said), -1 when the cell failed; other: the other side (a buffer, the file's bytes) */
static ssize_t hw_entry(struct cell *c, enum hentry e, char *p, size_t len, char *other, char *said, size_t n)
{
	struct pin_longterm_test a = {.addr = (uintptr_t)p, .size = len, .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE};
	struct iovec loc = {other, len}, rem = {p, len};
	char path[300];
	ssize_t r = 0;
	int fd, fds[2];

	switch (e) {
	case HWE_GUP_FAST:
	case HWE_GUP_SLOW:
		if (e == HWE_GUP_FAST)
			a.flags |= PIN_LONGTERM_TEST_FLAG_USE_FAST;
		r = ioctl(gup_fd, PIN_LONGTERM_TEST_START, &a);
		snprintf(said, n, "PIN_LONGTERM_TEST_START: %s", r ? strerror(errno) : "pinned");
		if (!r)
			ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
		return r ? 0 : (ssize_t)len;
	case HWE_URING:
		r = io_uring_register_buffers(&ring, &rem, 1);
		snprintf(said, n, "io_uring_register_buffers: %s", r ? strerror((int)-r) : "registered");
		if (!r)
			io_uring_unregister_buffers(&ring);
		return r ? 0 : (ssize_t)len;
	case HWE_VMSPLICE:
		if (pipe(fds)) {
			cfail(c, "pipe: %s", strerror(errno));
			return -1;
		}
		r = vmsplice(fds[1], &rem, 1, SPLICE_F_NONBLOCK);
		snprintf(said, n, "vmsplice: %zd (%s)", r, r < 0 ? strerror(errno) : "bytes");
		for (ssize_t got = 0, off = 0; r > 0 && off < r; off += got)  /* what the pipe holds, into other */
			if ((got = read(fds[0], other + off, (size_t)(r - off))) <= 0) {
				cfail(c, "reading the pipe back: %s", got ? strerror(errno) : "end of file");
				break;
			}
		close_pair(fds);
		return r < 0 ? 0 : r;
	case HWE_PVM_READ:
	case HWE_PVM_WRITE:
		r = e == HWE_PVM_READ ? process_vm_readv(getpid(), &loc, 1, &rem, 1, 0)
				     : process_vm_writev(getpid(), &loc, 1, &rem, 1, 0);
		snprintf(said, n, "%s: %zd (%s)", hwe_names[e], r, r < 0 ? strerror(errno) : "bytes");
		return r < 0 ? 0 : r;
	case HWE_DIO_READ:
	case HWE_DIO_WRITE:
		if ((fd = dio_ext4_file(c, "hwpoison", path, sizeof(path), other, len)) < 0)
			return -1;
		r = e == HWE_DIO_READ ? pread(fd, p, len, 0) : pwrite(fd, p, len, 0);
		snprintf(said, n, "O_DIRECT %s: %zd (%s)", e == HWE_DIO_READ ? "read" : "write", r,
			 r < 0 ? strerror(errno) : "bytes");
		if (pread(fd, other, len, 0) != (ssize_t)len)  /* the file as it is now */
			cfail(c, "O_DIRECT read back of the file: %s", strerror(errno));
		close(fd);
		unlink(path);
		return r < 0 ? 0 : r;
	default:
		r = madvise(p, len, MADV_POPULATE_WRITE);
		snprintf(said, n, "MADV_POPULATE_WRITE: %s", r ? strerror(errno) : "done");
		if (r && errno != EHWPOISON)
			cfail(c, "MADV_POPULATE_WRITE over a poisoned page: %s, want EHWPOISON (FOLL_HWPOISON, "
			      "faultin_page_range())", strerror(errno));
		return r ? 0 : (ssize_t)len;
	}
}

static void hw_pin_over(struct cell *c, int k)
{
	enum hentry e = (enum hentry)k;
	size_t len = HW_PAGES * PAGE, bad = HW_BAD * PAGE;
	char *p = map_aligned(len, PAGE, -1), *other = aligned_alloc(PAGE, len), *want = malloc(len), *owant = malloc(len);
	char said[160] = "";
	struct pinmark m;
	ssize_t got;
	long d;

	if (!p || !other || !want || !owant) {
		cfail(c, "out of memory");
		goto out;
	}
	if ((e == HWE_GUP_FAST || e == HWE_GUP_SLOW) && gup_fd < 0) {
		cskip(c, "no /sys/kernel/debug/gup_test");
		goto out;
	}
	if (e == HWE_URING && !ring_ok) {
		cskip(c, "io_uring_queue_init failed");
		goto out;
	}
	if ((e == HWE_DIO_READ || e == HWE_DIO_WRITE) && !ext4_dir) {
		cskip(c, "no ext4 directory given (-d)");
		goto out;
	}
	fill64(p, len, 1);
	memcpy(want, p, len);
	fill64(other, len, 7);
	memcpy(owant, other, len);
	if (hw_poison(c, p + bad, "page 8 of 16"))
		goto out;
	pin_mark(&m);
	got = hw_entry(c, e, p, len, other, said, sizeof(said));
	if (got < 0 || c->failed[0])
		goto out;
	if (got > (ssize_t)bad) {
		cfail(c, "%s over 16 pages whose page 8 is poisoned: %s, more than the 8 pages before it", hwe_names[e], said);
		goto out;
	}
	/* what moved is right, and nothing past it */
	switch (e) {
	case HWE_VMSPLICE:
	case HWE_PVM_READ:
		if ((d = first_diff(other, want, (size_t)got)) >= 0)
			cfail(c, "%s: the %zd bytes moved differ from the pages' at byte %ld", said, got, d);
		else if (e == HWE_PVM_READ && (d = first_diff(other + got, owant + got, len - (size_t)got)) >= 0)
			cfail(c, "%s: the local buffer changed past what was read, byte %ld", said, got + d);
		break;
	case HWE_PVM_WRITE:
		memcpy(want, owant, (size_t)got);
		break;
	case HWE_DIO_READ:  /* the file's bytes reached at most the pages before the bad one */
		memcpy(want, owant, (size_t)got);
		for (size_t i = 0; i < bad; i += PAGE)  /* an EFAULT may come after some were read */
			if (!memcmp(p + i, owant + i, PAGE))
				memcpy(want + i, owant + i, PAGE);
		break;
	case HWE_DIO_WRITE:
		if ((d = first_diff(other, want, (size_t)got)) >= 0)
			cfail(c, "%s: the file's first %zd bytes differ from the buffer's at byte %ld", said, got, d);
		for (size_t i = 0; i < len; i += PAGE)  /* an EFAULT may come after some were written */
			if (i < bad && !memcmp(other + i, want + i, PAGE))
				memcpy(owant + i, want + i, PAGE);
		if (!c->failed[0] && (d = first_diff(other, owant, len)) >= 0)
			cfail(c, "%s: the file changed at byte %ld (page %ld), past the poisoned page or not from the buffer",
			      said, d, d / (long)PAGE);
		break;
	default:
		break;
	}
	if (!c->failed[0] && (d = hw_diff_but(p, want, len, bad)) >= 0)
		cfail(c, "%s: the buffer's page %ld changed (byte %ld)", said, d / (long)PAGE, d);
	if (c->failed[0])
		goto out;
	pins_back(c, &m, said);
	if (!c->failed[0])
		none_held(c, p, len, said);
	if (!c->failed[0] && !hw_touch_bus(p + bad))
		cfail(c, "after %s the poisoned page reads instead of SIGBUS", said);
	if (!c->failed[0])
		printf("# %s: %s\n", c->name, said);
out:
	if (p)
		munmap(p, len);
	free(other);
	free(want);
	free(owant);
}

/* -- a COW-shared page; a hugetlb page ------------------------------------------------------------ */

static void hw_fork(struct cell *c, int unused)
{
	size_t len = HW_PAGES * PAGE, bad = HW_BAD * PAGE;
	char *p = map_aligned(len, PAGE, -1), *want = malloc(len);
	int up[2] = {-1, -1}, down[2] = {-1, -1}, st;
	pid_t kid = -1;
	char b;
	long d;

	if (!p || !want || pipe(up) || pipe(down)) {
		cfail(c, "setup: %s", strerror(errno));
		goto out;
	}
	fill64(p, len, 1);
	memcpy(want, p, len);
	if ((kid = cell_fork()) == 0) {  /* 2: SIGBUS before the touch, 3: no SIGBUS at the touch, 4: data */
		hw_catch_bus();  /* before the poison: a SIGBUS then is an early kill */
		if (write(up[1], "r", 1) != 1 || read(down[0], &b, 1) != 1)
			_exit(1);
		if (hw_buses)
			_exit(2);
		if (pagemap(p + bad) & PM_PRESENT || !hw_touch_bus(p + bad))
			_exit(3);
		if (hw_diff_but(p, want, len, bad) >= 0)
			_exit(4);
		fill64(p, bad, 9);  /* its own copies now */
		fill64(want, bad, 9);
		_exit(first_diff(p, want, bad) >= 0 ? 4 : 0);
	}
	if (kid < 0) {
		cfail(c, "fork: %s", strerror(errno));
		goto out;
	}
	if (read(up[0], &b, 1) != 1) {
		cfail(c, "the child did not get ready");
		goto out;
	}
	if (hw_poison(c, p + bad, "page 8, shared with a child (COW)"))
		goto out;
	if (write(down[1], "x", 1) != 1)
		cfail(c, "cannot wake the child");
	if (waitpid(kid, &st, 0) == kid)
		kid = -1;
	if (!c->failed[0] && (!WIFEXITED(st) || WEXITSTATUS(st)))
		cfail(c, "the child that shares the poisoned page: %s",
		      !WIFEXITED(st) ? "killed" : WEXITSTATUS(st) == 2 ? "signalled before it touched the page (early kill off)"
		      : WEXITSTATUS(st) == 3 ? "its touch of the page read instead of SIGBUS BUS_MCEERR_AR"
		      : WEXITSTATUS(st) == 4 ? "its other pages read other data" : "failed");
	if (!c->failed[0] && (d = hw_diff_but(p, want, len, bad)) >= 0)
		cfail(c, "the parent's other pages read other data (byte %ld)", d);
	if (!c->failed[0])
		printf("# %s: parent SIGBUS at once, the child at its touch; other pages intact\n", c->name);
out:
	if (kid > 0) {
		kill(kid, SIGKILL);
		waitpid(kid, &st, 0);
	}
	close_pair(up);
	close_pair(down);
	if (p)
		munmap(p, len);
	free(want);
}

static void hw_hugetlb(struct cell *c, int unused)
{
	char *p = mmap(NULL, 2 * HPAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	char *want = malloc(2 * HPAGE);
	long d;

	if (p == MAP_FAILED || !want) {
		cskip(c, "no hugetlb pages (mmap MAP_HUGETLB: %s)", strerror(errno));
		p = NULL;
		goto out;
	}
	fill64(p, 2 * HPAGE, 1);
	memcpy(want, p, 2 * HPAGE);
	if (hw_poison(c, p + PAGE, "small page 1 of a hugetlb page"))
		goto out;
	if (!hw_touch_bus(p) || !hw_touch_bus(p + HPAGE - PAGE))
		cfail(c, "after MADV_HWPOISON the huge page's first or last small page reads instead of SIGBUS");
	else if ((d = first_diff(p + HPAGE, want + HPAGE, HPAGE)) >= 0)
		cfail(c, "the other huge page reads other data (byte %ld)", d);
	else
		printf("# %s: the whole huge page SIGBUSes, the other intact\n", c->name);
out:
	if (p)
		munmap(p, 2 * HPAGE);
	free(want);
}

/* -- the table --------------------------------------------------------------------------------- */

static char hw_off_buf[NHM * NHP][48], hw_poi_buf[NHP][48], hw_over_buf[NHWE][48];
static const char *hw_off_names[NHM * NHP], *hw_poi_names[NHP], *hw_over_names[NHWE];
static int hw_off_k[NHM * NHP];  /* a soft-offline cell's memory and pin: m * NHP + h */

/* The default set's soft-offline cells: every one but the small pages' none, which SKIP under the
 * bench's page_owner=on (hw_offline()); every other cell of the block is in it too (all of them
 * take about 2 s of TCG guest time) */
static const char *hw_quick[NHM * NHP];
static char hw_quick_buf[NHM * NHP][64];

/* Each cell's HardwareCorrupted and pool read at its start, then its PFNs unpoisoned after it */
static void hw_run(struct cell *c, int k, void (*body)(struct cell *c, int k), int child)
{
	long hc0 = hw_corrupted(), huge0 = read_long(HW_NR_HUGE), free0 = read_long(HUGE_FREE);

	hw_pfns->n = 0;
	if (child)
		cell_in_child(c, body, k, HW_CHILD_S);
	else
		body(c, k);
	hw_cleanup(c, hc0, huge0, free0);
}

static void hw_offline_run(struct cell *c, int k) { hw_run(c, hw_off_k[k], hw_offline, 0); }
static void hw_poison_run(struct cell *c, int k) { hw_run(c, k, hw_poison_pinned, 1); }
static void hw_over_run(struct cell *c, int k) { hw_run(c, k, hw_pin_over, 1); }
static void hw_fork_run(struct cell *c, int k) { hw_run(c, k, hw_fork, 1); }
static void hw_huge_run(struct cell *c, int k) { hw_run(c, k, hw_hugetlb, 1); }

/* The block's premise: the kernel injects and unpoisons (CONFIG_MEMORY_FAILURE, HWPOISON_INJECT) */
static int hw_pre(struct cell *c, void *unused)
{
	if (access(HW_UNPOISON, W_OK)) {
		kentry_missing(c, "hwpoison", "no " HW_UNPOISON " (CONFIG_HWPOISON_INJECT, debugfs)");
		return 1;
	}
	if (hw_corrupted() < 0) {
		kentry_missing(c, "hwpoison", "no HardwareCorrupted in /proc/meminfo (CONFIG_MEMORY_FAILURE)");
		return 1;
	}
	return 0;
}

static void hwpoison_cells(void)
{
	struct cell_entry t[] = {  /* the first's default cells filled in below, the others' all */
		{"hwpoison/", hw_offline_run, hw_off_names, 0, hw_quick, 0},
		{"hwpoison/anon/", hw_poison_run, hw_poi_names, NHP},
		{"hwpoison/anon/", hw_over_run, hw_over_names, NHWE},
		{"hwpoison/anon/fork/poison", hw_fork_run},
		{"hwpoison/hugetlb/none/poison", hw_huge_run},
	};
	int n = 0;

	for (size_t m = 0; m < NHM; m++)
		for (int h = 0; h < NHP; h++) {
			/* io_uring takes no long-term writable pin of ext4 pages (FOLL_LONGTERM refuses them) */
			if (hm_kinds[m] == FILESH && h == HP_URING)
				continue;
			snprintf(hw_off_buf[n], sizeof(hw_off_buf[n]), "%s/%s/soft-offline", mem_names[hm_kinds[m]], hp_names[h]);
			hw_off_names[n] = hw_off_buf[n];
			if (h != HP_NONE || hm_kinds[m] == HUGE) {  /* the whole name */
				snprintf(hw_quick_buf[t[0].nquick], sizeof(hw_quick_buf[0]), "hwpoison/%s", hw_off_buf[n]);
				hw_quick[t[0].nquick] = hw_quick_buf[t[0].nquick];
				t[0].nquick++;
			}
			hw_off_k[n++] = (int)(m * NHP) + h;
		}
	t[0].n = n;
	for (int h = 0; h < NHP; h++) {
		snprintf(hw_poi_buf[h], sizeof(hw_poi_buf[h]), "%s/poison", hp_names[h]);
		hw_poi_names[h] = hw_poi_buf[h];
	}
	for (int e = 0; e < NHWE; e++) {
		snprintf(hw_over_buf[e], sizeof(hw_over_buf[e]), "%s/pin-over-poison", hwe_names[e]);
		hw_over_names[e] = hw_over_buf[e];
	}
	if (!list_only) {
		hw_pfns = mmap(NULL, sizeof(*hw_pfns), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (hw_pfns == MAP_FAILED) {
			printf("# hwpoison: no shared memory for the PFN list: %s\n", strerror(errno));
			return;
		}
		hw_pfns->n = 0;
	}
	run_cells(t, sizeof(t) / sizeof(t[0]), hw_pre, NULL);
}
