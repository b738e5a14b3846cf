/* Core dumps and get_mempolicy(MPOL_F_ADDR): two borrowers of user pages no other cell reaches
 * (issue 20, docs/entrypoints.md gap list item 1). Part of pin_matrix.c (its struct cell,
 * mem_map(), verdict(), pin_start()), included after kentry_cells.h, whose pin_mark(),
 * pins_back() and none_held() it uses; entered by dump_cells() from main. docs/matrix.md "Core
 * dumps and get_mempolicy" says what each cell checks and why.
 *
 * coredump/<memory>/<state>: a forked child dumps core (SIGABRT or SIGSEGV, RLIMIT_CORE
 * unlimited, /proc/self/coredump_filter 0x7b, core_pattern a file in /run) over memory that
 * is pinned long-term (io_uring fixed buffer, gup_test PIN_LONGTERM_TEST_START), paged out
 * (swap on zram; ext4: dropped from the page cache), hugetlb, THP, shmem or ext4 MAP_SHARED.
 * 6.12: fs/coredump.c dump_user_range() takes each page with mm/gup.c get_dump_page()
 * (__get_user_pages_locked(FOLL_FORCE | FOLL_DUMP | FOLL_GET)), which faults a swapped page
 * back in; a page it cannot get is a hole (dump_skip(): zeros in the file). The parent reads
 * the ELF core's PT_LOAD segments and compares every page of the region with what the child
 * wrote, by the process or through the pin (io_uring READ_FIXED).
 *
 * mempolicy/<memory>/<state>: get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR) of every page
 * (6.12: mm/mempolicy.c do_get_mempolicy() -> lookup_node(): get_user_pages_fast() of one
 * page, page_to_nid(), put_page()) must name the node move_pages() reports for it, after the
 * pages moved between the fake NUMA nodes, while half of them is pinned and after the unpin,
 * or after MADV_PAGEOUT (lookup_node() faults the page back in).
 */
#include <elf.h>
#include <sys/resource.h>

#ifndef MPOL_F_NODE  /* include/uapi/linux/mempolicy.h */
#define MPOL_F_NODE (1 << 0)
#define MPOL_F_ADDR (1 << 1)
#endif
#define CORE_PATTERN "/proc/sys/kernel/core_pattern"
#define CORE_DIR "/run/pinbench-core"

enum dustate { DU_NONE, DU_PAGEOUT, DU_URING, DU_GUP, NDU };
static const char *const du_names[NDU] = {"none", "pageout", "uring-pinned", "gup-pinned"};

/* The default set's cells (guest time in docs/matrix.md); the rest run in pin-matrix-deep. */
static const char *const dump_quick[] = {
	"coredump/anon/uring-pinned", "coredump/anon/pageout", "coredump/hugetlb/gup-pinned",
	"mempolicy/anon/gup-pinned", "mempolicy/thp/uring-pinned",
};

static int dump_wanted(const char *name) { return BLOCK_WANTED(name, dump_quick); }

static int du_applies(enum mem m, enum dustate s, int core)
{
	if (m == FILESH)  /* a writable long-term pin of ext4 MAP_SHARED is refused by design */
		return core && s != DU_URING;
	if (m == HUGE)  /* never paged out; migration needs per-node pools (not set up) */
		return core && s != DU_PAGEOUT;
	return m == ANON || m == THP || m == SHMEM;
}

/* -- the ELF core ----------------------------------------------------------------------- */

/* core_pattern set for the core cells (saved by the first), put back by dump_cells() at its end */
static int core_pattern_set(struct cell *c) { return cell_knob(c, CORE_PATTERN, CORE_DIR ".%p", NULL); }

/* The file offset of the dumped page at vaddr, or -1 with why (not in any PT_LOAD, or in the
 * part of its segment the dump left out: p_filesz). */
static off_t core_offset(int fd, const Elf64_Ehdr *eh, uint64_t vaddr, char *why, size_t n)
{
	for (int i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;

		if (pread(fd, &ph, sizeof(ph), eh->e_phoff + (off_t)i * eh->e_phentsize) != sizeof(ph))
			break;
		if (ph.p_type != PT_LOAD || vaddr < ph.p_vaddr || vaddr >= ph.p_vaddr + ph.p_memsz)
			continue;
		if (vaddr + PAGE > ph.p_vaddr + ph.p_filesz) {
			snprintf(why, n, "its PT_LOAD [%#lx, +%#lx) dumps %#lx bytes only (coredump_filter left it out)",
				 (unsigned long)ph.p_vaddr, (unsigned long)ph.p_memsz, (unsigned long)ph.p_filesz);
			return -1;
		}
		return (off_t)(ph.p_offset + (vaddr - ph.p_vaddr));
	}
	snprintf(why, n, "no PT_LOAD segment covers it");
	return -1;
}

/* Every page of [at, at+len) in the core file must hold exp's bytes. */
static void core_check(struct cell *c, const char *path, char *at, size_t len, const char *exp)
{
	int fd = open(path, O_RDONLY);
	Elf64_Ehdr eh;
	char *page = malloc(PAGE), why[200];
	long bad = 0, first = -1, zeros = 0;

	if (fd < 0) {
		cfail(c, "the child dumped core, but %s cannot be opened: %s", path, strerror(errno));
		goto out;
	}
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_type != ET_CORE) {
		cfail(c, "%s is not a 64-bit ELF core", path);
		goto out;
	}
	if (eh.e_phnum == PN_XNUM) {
		cfail(c, "%s has more than %d segments (PN_XNUM): not read here", path, PN_XNUM);
		goto out;
	}
	for (size_t off = 0; off < len; off += PAGE) {
		off_t at_file = core_offset(fd, &eh, (uintptr_t)(at + off), why, sizeof(why));

		if (at_file < 0) {
			cfail(c, "page %zu of the region (%p) is not in the core: %s", off / PAGE, at + off, why);
			goto out;
		}
		if (pread(fd, page, PAGE, at_file) != (ssize_t)PAGE) {
			cfail(c, "short read of %s at %ld", path, (long)at_file);
			goto out;
		}
		if (memcmp(page, exp + off, PAGE)) {
			int zero = 1;

			for (size_t i = 0; i < PAGE && zero; i++)
				zero = !page[i];
			zeros += zero;
			if (first < 0)
				first = (long)(off / PAGE);
			bad++;
		}
	}
	printf("# %s: %zu pages of the region read from the core (%ld PT_LOAD headers)\n", c->name, len / PAGE,
	       (long)eh.e_phnum);
	if (bad)
		cfail(c, "%ld of %zu page(s) of the core differ from the process's memory (first: page %ld), %ld of them zeros "
			 "(a hole: get_dump_page() gave no page)", bad, len / PAGE, first, zeros);
out:
	if (fd >= 0)
		close(fd);
	free(page);
}

/* -- coredump/<memory>/<state> ---------------------------------------------------------- */

/* Pages of [p, p+len) out of memory: swapped (pagemap) for anon, not resident (mincore) else. */
static long pages_out(struct cell *c, char *p, size_t len)
{
	unsigned char *vec = malloc(len / PAGE);
	long out = 0;

	if (c->mem == ANON || c->mem == THP) {
		/* pinlib.h's pagemap() reopens /proc/self/pagemap in a forked child: its first
		 * fd, opened by the parent, reads the parent's (where the region is unmapped) */
		for (size_t off = 0; off < len; off += PAGE)
			out += swap_entry_of(p + off) != 0;
	} else if (!mincore(p, len, vec)) {
		for (size_t i = 0; i < len / PAGE; i++)
			out += !(vec[i] & 1);
	}
	free(vec);
	return out;
}

/* The child: waits until the parent unmapped its copy (so its private pages are exclusive),
 * sets up the state, says "" or "S:why"/"F:why" on the pipe and dumps core; never returns. */
static void core_child(struct cell *c, enum dustate s, int go, int say)
{
	struct rlimit unl = {RLIM_INFINITY, RLIM_INFINITY};
	struct io_uring r;
	char msg[300] = "", x;
	size_t len = 2 * c->half;

	if (read(go, &x, 1) != 1)
		_exit(3);
	if (s == DU_URING) {
		struct iovec iov = {c->map, c->half};
		struct io_uring_sqe *sqe;
		struct io_uring_cqe *cqe;
		char *src = malloc(c->half);

		fill64(src, c->half, 2);
		/* a ring of the child's own: the dump runs before exit closes it (unpin after) */
		if (io_uring_queue_init(4, &r, 0) || io_uring_register_buffers(&r, &iov, 1)) {
			snprintf(msg, sizeof(msg), "F:io_uring ring or buffer registration failed in the child");
		} else if (pwrite(scratch_fd, src, c->half, 0) != (ssize_t)c->half) {
			snprintf(msg, sizeof(msg), "F:pwrite of the scratch file: %s", strerror(errno));
		} else {
			sqe = io_uring_get_sqe(&r);
			io_uring_prep_read_fixed(sqe, scratch_fd, c->map, c->half, 0, 0);
			io_uring_submit(&r);
			if (io_uring_wait_cqe(&r, &cqe) || cqe->res != (int)c->half)
				snprintf(msg, sizeof(msg), "F:io_uring READ_FIXED into the registered buffer failed");
		}
	} else if (s == DU_GUP) {
		struct pin_longterm_test args = {.addr = (uintptr_t)c->map, .size = c->half,
						 .flags = (c->mem == FILESH ? 0 : PIN_LONGTERM_TEST_FLAG_USE_WRITE) |
							  PIN_LONGTERM_TEST_FLAG_USE_FAST};

		if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args))
			snprintf(msg, sizeof(msg), "F:PIN_LONGTERM_TEST_START: %s", strerror(errno));
		else
			fill64(c->map, c->half, 3);  /* the process writes the pinned pages */
	} else if (s == DU_PAGEOUT) {
		long out = 0;
		volatile char sink = 0;

		/* fork copies no page table of a shared file mapping (a fault fills it): without the
		 * child's own PTEs MADV_PAGEOUT finds nothing to page out */
		for (size_t off = 0; off < len; off += PAGE)
			sink += c->map[off];
		if (c->mem == FILESH && msync(c->map, len, MS_SYNC))
			snprintf(msg, sizeof(msg), "F:msync: %s", strerror(errno));
		else if (madvise(c->map, len, MADV_PAGEOUT))
			snprintf(msg, sizeof(msg), "F:MADV_PAGEOUT: %s", strerror(errno));
		else if (!(out = pages_out(c, c->map, len)) &&
			 /* once more after drain_lru() */
			 (!drain_lru() || madvise(c->map, len, MADV_PAGEOUT) ||
			  !(out = pages_out(c, c->map, len))))
			snprintf(msg, sizeof(msg), "S:MADV_PAGEOUT took no page (%s)",
				 c->mem == ANON || c->mem == THP ? "pagemap: none swapped" : "mincore: all resident");
		else
			snprintf(msg, sizeof(msg), "#%ld of %zu pages out before the dump", out, len / PAGE);
	}
	if (msg[0] && msg[0] != '#') {
		if (write(say, msg, strlen(msg)) < 0) { /* the parent sees EOF */ }
		_exit(0);
	}
	if (msg[0] && write(say, msg, strlen(msg)) < 0) { /* informative only */ }
	close(say);
	setrlimit(RLIMIT_CORE, &unl);
	/* anon and file, private and shared, ELF headers, hugetlb private and shared */
	write_file("/proc/self/coredump_filter", "0x7b");
	signal(SIGABRT, SIG_DFL);
	signal(SIGSEGV, SIG_DFL);
	kill(getpid(), c->mem == THP || c->mem == HUGE ? SIGSEGV : SIGABRT);
	_exit(2);
}

static void core_cell(struct cell *c, enum dustate s)
{
	int go[2] = {-1, -1}, say[2] = {-1, -1}, st;
	char msg[300] = "", path[64], *at, *exp = NULL;
	size_t len;
	ssize_t n;
	long huge0 = read_long(HUGE_FREE);
	struct pinmark m;
	pid_t kid;

	if (core_pattern_set(c))
		return;
	if (s == DU_URING && !ring_ok) {  /* the child's own ring would fail the cell for the kernel's config */
		cskip(c, "io_uring_queue_init failed");
		return;
	}
	if (s == DU_GUP && gup_fd < 0) {
		cskip(c, "no /sys/kernel/debug/gup_test");
		return;
	}
	if (s == DU_PAGEOUT && c->mem != FILESH && !swap_on()) {
		cskip(c, "no swap in /proc/swaps");
		return;
	}
	if (mem_map(c))
		return;
	len = 2 * c->half;
	at = c->map;
	exp = malloc(len);
	memcpy(exp, c->map, len);  /* seed 1; the pins write their half below */
	if (s == DU_URING)
		fill64(exp, c->half, 2);
	else if (s == DU_GUP)
		fill64(exp, c->half, 3);
	pin_mark(&m);
	if (pipe(go) || pipe(say)) {
		cfail(c, "pipe: %s", strerror(errno));
		goto out;
	}
	kid = cell_fork();
	if (kid < 0) {
		cfail(c, "fork: %s", strerror(errno));
		goto out;
	}
	if (kid == 0) {
		close(go[1]);
		close(say[0]);
		core_child(c, s, go[0], say[1]);
	}
	close(go[0]);
	close(say[1]);
	go[0] = say[1] = -1;  /* closed once: out: below would close whatever took their numbers */
	/* the parent lets go of its copy: the child's private pages become exclusive (pageout
	 * takes only those), and the shared kinds are mapped by the child alone */
	munmap(c->map, len);
	c->map = NULL;
	if (write(go[1], "g", 1) != 1)
		cfail(c, "cannot start the child: %s", strerror(errno));
	while ((n = read(say[0], msg, sizeof(msg) - 1)) < 0 && errno == EINTR)
		;
	msg[n > 0 ? n : 0] = 0;
	waitpid(kid, &st, 0);
	snprintf(path, sizeof(path), "%s.%d", CORE_DIR, kid);
	if (msg[0] == 'F')
		cfail(c, "%s", msg + 2);
	else if (msg[0] == 'S')
		cskip(c, "%s", msg + 2);
	else if (msg[0] == '#')
		printf("# %s: %s\n", c->name, msg + 1);
	if (!c->failed[0] && !c->skip[0]) {
		if (!WIFSIGNALED(st))
			cfail(c, "the child was not killed by its signal (exit status %#x)", st);
		else if (!WCOREDUMP(st) || access(path, F_OK))
			cskip(c, "no core written (signal %d, core dumped flag %d, %s: %s; CONFIG_COREDUMP/ELF_CORE off?)",
			      WTERMSIG(st), !!WCOREDUMP(st), path, access(path, F_OK) ? strerror(errno) : "exists");
		else
			core_check(c, path, at, len, exp);
	}
	unlink(path);
	if (s == DU_GUP) {
		/* gup_test's long-term pin outlives the child (a global of mm/gup_test.c, no release
		 * on close): read what it pins, the child's last bytes, then unpin */
		char *pinned = malloc(c->half);
		uint64_t to = (uintptr_t)pinned;
		long d;

		if (!c->failed[0] && !c->skip[0]) {
			if (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &to))
				cfail(c, "PIN_LONGTERM_TEST_READ after the child died: %s", strerror(errno));
			else if ((d = first_diff(pinned, exp, c->half)) >= 0)
				cfail(c, "the pinned pages read other bytes than the child wrote (byte %ld)", d);
		}
		if (ioctl(gup_fd, PIN_LONGTERM_TEST_STOP))
			cfail(c, "PIN_LONGTERM_TEST_STOP: %s", strerror(errno));
		free(pinned);
	}
	pins_back(c, &m, "the child's core dump and exit");
	if (c->mem == SHMEM || c->mem == FILESH) {
		/* the file's pages outlive the child: its bytes, and no page held by the dump */
		long d;

		c->map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
		if (c->map == MAP_FAILED) {
			c->map = NULL;
			cfail(c, "cannot map the %s file again: %s", mem_names[c->mem], strerror(errno));
		} else if ((d = first_diff(c->map, exp, len)) >= 0) {
			cfail(c, "the %s file differs from what the child wrote at byte %ld", mem_names[c->mem], d);
		} else if (!c->failed[0]) {
			none_held(c, c->map, len, "the core dump");
		}
	}
	if (c->mem == HUGE) {
		long free_now = read_long(HUGE_FREE);

		/* an unpin from the ring's exit work counts its release a moment before the page's last
		 * put frees it: wait a little, as pins_back() does for the counters */
		for (int i = 0; i < 500 && free_now != huge0; i++) {  /* 10 s: a loaded TCG guest is slow */
			usleep(20000);
			free_now = read_long(HUGE_FREE);
		}
		if (free_now != huge0)
			cfail(c, "free_hugepages %ld after the child's exit, %ld before: a huge page still held", free_now,
			      huge0);
	}
out:
	close_pair(go);
	close_pair(say);
	free(exp);
}

/* -- mempolicy/<memory>/<state> --------------------------------------------------------- */

/* Every page of [p, p+len): get_mempolicy's node (first, so that a page it faults in is what
 * move_pages reads) against move_pages' status; 0, else the cell fails. */
static int nodes_agree(struct cell *c, char *p, size_t len, const char *when)
{
	size_t np = len / PAGE;
	void **pages = calloc(np, sizeof(void *));
	int *gm = calloc(np, sizeof(int)), *st = calloc(np, sizeof(int)), rc = -1;

	for (size_t i = 0; i < np; i++) {
		pages[i] = p + i * PAGE;
		if (syscall(SYS_get_mempolicy, &gm[i], NULL, 0, pages[i], MPOL_F_NODE | MPOL_F_ADDR)) {
			cfail(c, "get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR) of page %zu %s: %s", i, when, strerror(errno));
			goto out;
		}
	}
	if (syscall(SYS_move_pages, 0, np, pages, NULL, st, 0)) {
		cfail(c, "move_pages (query) %s: %s", when, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < np; i++)
		if (gm[i] != st[i]) {
			cfail(c, "page %zu %s: get_mempolicy says node %d, move_pages %d", i, when, gm[i], st[i]);
			goto out;
		}
	rc = 0;
out:
	free(pages);
	free(gm);
	free(st);
	return rc;
}

/* Every page of [p, p+len) to the other node, unit pages a call (a page of a folio that cannot
 * move, a pinned one, ends a call's work in do_pages_move(), mm/migrate.c, and the pages after
 * it would not be tried; one call a folio keeps a THP's 512 pages to one call); how many pages
 * changed node (read back), -1 when move_pages refused. */
static long nodes_flip(char *p, size_t len, size_t unit)
{
	size_t np = len / PAGE, per = unit / PAGE;
	void **pages = calloc(np, sizeof(void *));
	int *was = calloc(np, sizeof(int)), *to = calloc(np, sizeof(int)), *now = calloc(np, sizeof(int));
	long moved = -1;

	for (size_t i = 0; i < np; i++)
		pages[i] = p + i * PAGE;
	if (!syscall(SYS_move_pages, 0, np, pages, NULL, was, 0)) {
		for (size_t i = 0; i < np; i++)
			to[i] = was[i] >= 0 ? !was[i] : 0;
		for (size_t i = 0; i < np; i += per)
			syscall(SYS_move_pages, 0, per, pages + i, to + i, now + i, 0);
		if (!syscall(SYS_move_pages, 0, np, pages, NULL, now, 0))
			for (size_t i = moved = 0; i < np; i++)
				moved += now[i] != was[i];
	}
	free(pages);
	free(was);
	free(to);
	free(now);
	return moved;
}

static void mpol_cell(struct cell *c, enum dustate s)
{
	size_t len;
	struct pinmark m;
	long moved;
	enum pin p = s == DU_URING ? URING : GUP_FAST;

	if (numa_nodes() < 2) {
		cskip(c, "one NUMA node (numa=fake=2 on the command line?)");
		return;
	}
	if (s == DU_GUP && gup_fd < 0) {
		cskip(c, "no /sys/kernel/debug/gup_test");
		return;
	}
	if (s == DU_URING && !ring_ok) {
		cskip(c, "io_uring_queue_init failed");
		return;
	}
	if (s == DU_PAGEOUT && !swap_on()) {
		cskip(c, "no swap in /proc/swaps");
		return;
	}
	pin_mark(&m);
	if (mem_map(c))
		return;
	len = 2 * c->half;
	if (nodes_agree(c, c->map, len, "as faulted in"))
		return;
	if (s == DU_PAGEOUT) {
		long out;

		if (madvise(c->map, len, MADV_PAGEOUT)) {
			cfail(c, "MADV_PAGEOUT: %s", strerror(errno));
			return;
		}
		out = pages_out(c, c->map, len);
		printf("# %s: %ld of %zu pages out after MADV_PAGEOUT\n", c->name, out, len / PAGE);
		if (!out) {
			cskip(c, "MADV_PAGEOUT took no page");
			return;
		}
		/* lookup_node() faults each page back in (get_user_pages_fast() falls back to the
		 * slow path for a swap entry): the node it names must be where the page came in */
		nodes_agree(c, c->map, len, "after MADV_PAGEOUT");
		if (!c->failed[0] && first_diff(c->map, c->exp, c->half) >= 0)
			cfail(c, "the paged-out half reads other bytes after get_mempolicy faulted it in");
		return;
	}
	/* up to three tries 100 ms apart: a page a loaded TCG guest still holds a moment (EAGAIN)
	 * moves on a later one; none moved after that stays a FAIL (unpinned memory migrates) */
	moved = 0;
	for (int tries = 0; tries < 3 && !moved; tries++) {
		if (tries)
			usleep(100 * 1000);
		moved = nodes_flip(c->map, len, c->half == HPAGE ? HPAGE : PAGE);
	}
	printf("# %s: %ld of %zu pages changed node before the pin\n", c->name, moved, len / PAGE);
	if (moved <= 0) {
		cfail(c, "move_pages moved no page of unpinned %s memory in three tries (%ld)", mem_names[c->mem], moved);
		return;
	}
	if (nodes_agree(c, c->map, len, "after move_pages"))
		return;
	if (s == DU_NONE)
		goto refs;
	if (pin_start(c, p, c->map, c->half))
		return;  /* pin_start() let go of a pin its ZONE_MOVABLE check failed */
	/* a long-term pin may have migrated the pinned half out of ZONE_MOVABLE: nodes again */
	nodes_agree(c, c->map, len, "under the pin");
	moved = nodes_flip(c->map, len, c->half == HPAGE ? HPAGE : PAGE);
	printf("# %s: %ld of %zu pages changed node under the pin of the first half\n", c->name, moved, len / PAGE);
	if (!c->failed[0])
		nodes_agree(c, c->map, len, "after move_pages under the pin");
	if (!c->failed[0] && p == URING) {
		char *src = malloc(c->half);  /* written through the pin: the process must read it */

		fill64(src, c->half, 2);
		if (pin_write(c, p, c->map, src) > 0 && first_diff(c->map, src, c->half) >= 0)
			cfail(c, "io_uring READ_FIXED into the pinned half does not show in the process");
		free(src);
	}
	pin_stop(c, p);
	pins_back(c, &m, "the unpin");
	if (c->failed[0])
		return;
	moved = nodes_flip(c->map, len, c->half == HPAGE ? HPAGE : PAGE);
	printf("# %s: %ld of %zu pages changed node after the unpin\n", c->name, moved, len / PAGE);
	nodes_agree(c, c->map, len, "after the unpin");
refs:
	pins_back(c, &m, "the cell");
	if (!c->failed[0])
		none_held(c, c->map, len, "get_mempolicy and move_pages");
}

static void dump_cells(void)
{
	static const enum mem mems[] = {ANON, THP, SHMEM, HUGE, FILESH};
	unsigned mark = knob_mark();

	for (int core = 1; core >= 0; core--)
		for (size_t i = 0; i < sizeof(mems) / sizeof(mems[0]); i++)
			for (enum dustate s = 0; s < NDU; s++) {
				struct cell c = {.fd = -1, .mem = mems[i], .ev = NONE};
				double began = now_s();

				if (!du_applies(c.mem, s, core))
					continue;
				snprintf(c.name, sizeof(c.name), "%s/%s/%s", core ? "coredump" : "mempolicy",
					 mem_names[c.mem], du_names[s]);
				if (!dump_wanted(c.name) || !begins(c.name))
					continue;
				if (c.mem == FILESH && !ext4_dir)
					cskip(&c, "no ext4 directory given (-d)");
				else if (core)
					core_cell(&c, s);
				else
					mpol_cell(&c, s);
				mem_unmap(&c);
				verdict(&c, began);
			}
	knobs_back(NULL, mark);  /* core_pattern */
}
