/* The read side of the borrow cells (issue 20, docs/entrypoints.md gap list item 2): paths that
 * borrow another process's pages to read them, or look a page up and drop it. Part of
 * borrow_cells.h (its helpers borrow_runs(), borrow_pins(), stat_args(), slurp()), entered by
 * borrow_reads() from borrow_cells(). Each path checked in the 6.12 sources:
 *
 * borrow/peek/<memory>: PTRACE_PEEKDATA (PEEKTEXT for the file) of a stopped tracee's memory,
 *   kernel/ptrace.c generic_ptrace_peekdata() -> ptrace_access_vm() -> mm/memory.c
 *   __access_remote_vm() -> get_user_page_vma_remote(FOLL_FORCE): swapped out, hugetlb, THP,
 *   a read-only private ext4 mapping out of the page cache, pinned by gup_test or io_uring,
 *   PROT_NONE (mm/gup.c check_vma_flags(): FOLL_FORCE reads a !VM_READ vma with VM_MAYREAD).
 * borrow/futex-ro/<memory>: a shared FUTEX_WAIT and FUTEX_WAKE through a PROT_READ MAP_SHARED
 *   mapping: kernel/futex/core.c get_futex_key(), whose get_user_pages_fast(FOLL_WRITE) fails
 *   with -EFAULT there and the second get_user_pages_fast(0) follows (FUTEX_READ); the key is
 *   the inode's, so a waker through a writable mapping of the same file must find the waiter.
 * borrow/proc-cmdline/proctitle: /proc/<pid>/cmdline of a child that overwrote its argv end
 *   (setproctitle): fs/proc/base.c get_mm_cmdline() sees a non-NUL end byte and calls
 *   get_mm_proctitle(), access_remote_vm() of a page from arg_start, cut at the first NUL.
 * borrow/singlestep/<code>: PTRACE_SINGLESTEP through a small function in a page of its own:
 *   arch/x86/kernel/step.c enable_single_step() -> is_setting_trap_flag() reads 15 bytes at
 *   the tracee's IP with access_process_vm(FOLL_FORCE) on every step; its answer (popf or not)
 *   decides whether the trap flag is the debugger's (hidden from PTRACE_GETREGS, get_flags() in
 *   arch/x86/kernel/ptrace.c) or the tracee's own after a popf.
 */
#include <sys/user.h>

/* A child's word to the parent through a pipe: 'o' ok, 'S' skip, 'F' fail, with why. */
struct rnote {
	char kind;
	long n;          /* a count the cell reports (pages swapped, resident, woken) */
	uintptr_t addr;  /* where the child mapped its memory */
	char why[220];
};

static void note_send(int fd, struct rnote *n, char kind, const char *fmt, ...)
{
	va_list ap;

	n->kind = kind;
	va_start(ap, fmt);
	vsnprintf(n->why, sizeof(n->why), fmt, ap);
	va_end(ap);
	if (write(fd, n, sizeof(*n)) != (ssize_t)sizeof(*n)) { /* the parent sees a short read */ }
}

/* The child's note, or kind 0 when it ended without one. */
static struct rnote note_recv(int fd)
{
	struct rnote n = {0};

	if (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		n.kind = 0;
	return n;
}

/* A process's state letter from /proc/<pid>/stat ('S': sleeping), 0 when unreadable. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	n = slurp(path, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/* Until pid sleeps (up to 3 s): 1 when it does. */
static int wait_sleeping(pid_t pid)
{
	for (int i = 0; i < 300; i++) {
		if (proc_state(pid) == 'S')
			return 1;
		usleep(10 * 1000);
	}
	return 0;
}

/* MADV_PAGEOUT of private anonymous [map, map+len): how many pages went to swap (once more after
 * drain_lru()). */
static long page_out(char *map, size_t len)
{
	long out = 0;

	for (int tries = 0; tries < 2 && !out; tries++) {
		if (tries)
			drain_lru();
		if (madvise(map, len, MADV_PAGEOUT))
			return -1;
		for (size_t off = 0; off < len; off += PAGE)
			out += !!swap_entry_of(map + off);
	}
	return out;
}

/* A file of ext4 (c->fd, c->path) holding data, on disk (fsync): 0, or -1 with the cell failed. */
static int ext4_file(struct cell *c, const char *stem, const void *data, size_t len)
{
	snprintf(c->path, sizeof(c->path), "%s/%s.%d", ext4_dir, stem, getpid());
	c->fd = open(c->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (c->fd < 0 || pwrite(c->fd, data, len, 0) != (ssize_t)len || fsync(c->fd)) {
		cfail(c, "cannot write %s: %s", c->path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The end of a cell with a pipe and a file: both closed, the file removed. */
static void cell_close(struct cell *c, int p[2])
{
	close_pair(p);
	cell_file_close(c);
}

/* The parent's side of a tracee's start: its note that it set up (in *prep), then its stop.
 * 0 when it is stopped for the tracer; -1 when the cell failed or skipped. */
static int tracee_stopped(struct cell *c, pid_t kid, int p[2], struct rnote *prep)
{
	int st = 0;

	close(p[1]);
	p[1] = -1;
	*prep = note_recv(p[0]);
	if (prep->kind == 'S') {
		cskip(c, "%s", prep->why);
		return -1;
	}
	if (prep->kind != 'o') {
		cfail(c, "the tracee could not set up: %s", prep->kind ? prep->why : "it ended without a word");
		return -1;
	}
	if (waitpid(kid, &st, 0) != kid || !WIFSTOPPED(st)) {
		cfail(c, "the tracee did not stop for the tracer (status 0x%x)", st);
		return -1;
	}
	return 0;
}

/* Reap a child of a cell: killed first when the cell failed or skipped (it may still be
 * stopped under the tracer or waiting), else it must have exited 0 (what3: its exit 3). */
static void child_reap(struct cell *c, pid_t kid, const char *who, const char *what3)
{
	int st = 0, ended = c->failed[0] || c->skip[0];

	if (kid <= 0)
		return;
	if (ended)
		kill(kid, SIGKILL);
	if (waitpid(kid, &st, 0) != kid || (!ended && (!WIFEXITED(st) || WEXITSTATUS(st))))
		cfail(c, "the %s ended with status 0x%x%s", who, st, WIFEXITED(st) && WEXITSTATUS(st) == 3 && what3 ? what3 : "");
}

/* -- PTRACE_PEEKDATA / PEEKTEXT: FOLL_FORCE reads of a tracee's memory ------------------------ */

enum kmem { K_SWAPPED, K_HUGETLB, K_THP, K_EXT4, K_GUP_PINNED, K_URING_PINNED, K_PROT_NONE, NKMEM };
static const char *const kmem_names[NKMEM] = {"anon-swapped", "hugetlb", "thp", "ext4-private",
					      "anon-gup-pinned", "anon-uring-pinned", "prot-none"};
#define K_SEED 51

/* Words peeked: every word of the first two and the last page, the first and last word of the
 * others (a 2 MiB page: 2554 of 262144 words, one ptrace call each under TCG). */
static int peek_sampled(size_t off, size_t len)
{
	size_t pg = off / PAGE, in = off % PAGE;

	return pg < 2 || pg == len / PAGE - 1 || in == 0 || in == PAGE - 8;
}

/* The tracee: maps the memory, makes it the kind, says so, stops; once detached checks its
 * memory is the pattern still, drops its pin, and that no page of it stays held. */
static void peek_child(enum kmem m, size_t len, int fd, int wfd)
{
	struct rnote n = {0};
	char *want = malloc(len), *map, why[200];
	struct io_uring r;
	int ring = 0, gup = 0;
	long d, first, held;

	fill64(want, len, K_SEED);
	if (ptrace(PTRACE_TRACEME, 0, 0, 0)) {
		note_send(wfd, &n, 'F', "PTRACE_TRACEME: %s", strerror(errno));
		_exit(0);
	}
	if (m == K_HUGETLB)
		map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	else if (m == K_THP)
		map = map_aligned(HPAGE, HPAGE, MADV_HUGEPAGE);
	else if (m == K_EXT4)  /* the file holds the pattern; not touched here: the peek faults it in */
		map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	else
		map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!map || map == MAP_FAILED) {
		note_send(wfd, &n, m == K_HUGETLB ? 'S' : 'F', "%s: %s",
			  m == K_HUGETLB ? "no hugetlb page (mmap MAP_HUGETLB)" : "mmap", strerror(errno));
		_exit(0);
	}
	n.addr = (uintptr_t)map;
	if (m != K_EXT4)
		memcpy(map, want, len);
	switch (m) {
	case K_SWAPPED:
		n.n = page_out(map, len);
		if (n.n <= 0) {
			note_send(wfd, &n, 'S', "nothing was swapped out (MADV_PAGEOUT %s; %s)",
				  n.n < 0 ? strerror(errno) : "took no page", swap_on() ? "swap is on" : "no swap in /proc/swaps");
			_exit(0);
		}
		break;
	case K_THP:
		if (!is_thp(map)) {
			note_send(wfd, &n, 'S', "no THP behind the tracee's 2 MiB (kpageflags)");
			_exit(0);
		}
		break;
	case K_EXT4: {
		unsigned char vec[4];

		/* out of the page cache (clean: the parent fsynced), so the peek reads the disk */
		posix_fadvise(fd, 0, len, POSIX_FADV_DONTNEED);
		if (!mincore(map, len, vec))
			for (int i = 0; i < 4; i++)
				n.n += vec[i] & 1;
		if (n.n) {  /* the premise, as borrow/singlestep/ext4-dropped's */
			note_send(wfd, &n, 'S', "%ld of the 4 pages stayed in the page cache (POSIX_FADV_DONTNEED, mincore)", n.n);
			_exit(0);
		}
		break;
	}
	case K_GUP_PINNED: {
		struct pin_longterm_test args = {.addr = (uintptr_t)map, .size = len,
						 .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE | PIN_LONGTERM_TEST_FLAG_USE_FAST};

		if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args)) {
			note_send(wfd, &n, 'F', "PIN_LONGTERM_TEST_START: %s", strerror(errno));
			_exit(0);
		}
		gup = 1;
		break;
	}
	case K_URING_PINNED: {
		struct iovec iov = {map, len};

		if (io_uring_queue_init(4, &r, 0) || io_uring_register_buffers(&r, &iov, 1)) {
			note_send(wfd, &n, 'F', "io_uring fixed buffer of the tracee: cannot register it");
			_exit(0);
		}
		ring = 1;
		break;
	}
	case K_PROT_NONE:
		if (mprotect(map, len, PROT_NONE)) {
			note_send(wfd, &n, 'F', "mprotect(PROT_NONE): %s", strerror(errno));
			_exit(0);
		}
		break;
	default:
		break;
	}
	note_send(wfd, &n, 'o', "");
	raise(SIGSTOP);  /* the parent peeks, then detaches */
	if (m == K_PROT_NONE)
		mprotect(map, len, PROT_READ);
	if ((d = first_diff(map, want, len)) >= 0) {
		note_send(wfd, &n, 'F', "the tracee's memory reads other bytes at %ld after the peeks", d);
		_exit(0);
	}
	if (gup) {
		char *got = malloc(len);
		uint64_t to = (uintptr_t)got;

		if (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &to) || (d = first_diff(got, want, len)) >= 0) {
			note_send(wfd, &n, 'F', "the gup_test pin reads other bytes than the tracee after the peeks");
			_exit(0);
		}
		ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
	}
	if (ring) {
		io_uring_unregister_buffers(&r);
		io_uring_queue_exit(&r);
	}
	if (m == K_HUGETLB) {  /* no per-node hugetlb pool: the FOLL_PIN counters only */
		note_send(wfd, &n, 'o', "");
		_exit(0);
	}
	held = pages_held(map, len, 1000, &first, why, sizeof(why));
	if (held > 0)
		note_send(wfd, &n, 'F', "%ld page(s) of the tracee still held after the peeks (first %ld)", held, first);
	else if (held < 0)
		note_send(wfd, &n, 'S', "no page-reference check in the tracee: %s", why);
	else
		note_send(wfd, &n, 'o', "");
	_exit(0);
}

static void peek_cell(enum kmem m)
{
	struct cell c = {.mem = ANON, .fd = -1};
	double began = now_s();
	size_t len = m == K_HUGETLB || m == K_THP ? HPAGE : 4 * PAGE;
	char *want = malloc(len);
	int p[2] = {-1, -1}, req = m == K_EXT4 ? PTRACE_PEEKTEXT : PTRACE_PEEKDATA;
	long p0, peeks = 0, bad = 0, first_bad = -1, after = 0;
	struct rnote prep, done;
	pid_t kid = -1;

	snprintf(c.name, sizeof(c.name), "borrow/peek/%s", kmem_names[m]);
	if (!borrow_runs(c.name))
		goto free;
	p0 = pins_outstanding();  /* after begins(): the output written out first */
	fill64(want, len, K_SEED);
	if (m == K_EXT4 && !ext4_dir) {
		cskip(&c, "no ext4 directory given (-d)");
		goto out;
	}
	if (m == K_GUP_PINNED && gup_fd < 0) {
		cskip(&c, "no /sys/kernel/debug/gup_test");
		goto out;
	}
	if (m == K_URING_PINNED && !ring_ok) {  /* the tracee's own ring would fail the cell for the config */
		cskip(&c, "io_uring_queue_init failed");
		goto out;
	}
	if (m == K_EXT4 && ext4_file(&c, "borrow-peek", want, len))
		goto out;
	if (pipe(p)) {
		cfail(&c, "pipe: %s", strerror(errno));
		goto out;
	}
	kid = cell_fork();
	if (kid == 0) {
		close(p[0]);
		peek_child(m, len, c.fd, p[1]);
	}
	if (tracee_stopped(&c, kid, p, &prep))
		goto reap;
	for (size_t off = 0; off < len; off += 8) {
		long w, exp;

		if (!peek_sampled(off, len))
			continue;
		errno = 0;
		w = ptrace(req, kid, (void *)(prep.addr + off), 0);
		if (errno) {
			cfail(&c, "%s at byte %zu of the tracee's %s: %s", req == PTRACE_PEEKTEXT ? "PTRACE_PEEKTEXT" : "PTRACE_PEEKDATA",
			      off, kmem_names[m], strerror(errno));
			break;
		}
		memcpy(&exp, want + off, 8);
		if (w != exp && !bad++)
			first_bad = (long)off;
		peeks++;
	}
	if (bad)
		cfail(&c, "%ld of %ld peeked words differ from the tracee's pattern (first at byte %ld)", bad, peeks, first_bad);
	if (m == K_SWAPPED)
		for (size_t off = 0; off < len; off += PAGE)
			after += (pagemap_of(kid, prep.addr + off) >> 62) & 1;
	if (m == K_PROT_NONE) {
		/* without FOLL_FORCE the same read is refused: process_vm_readv() pins with
		 * pin_user_pages_remote(), check_vma_flags() says -EFAULT on !VM_READ */
		char b[8];
		struct iovec l = {b, 8}, r = {(void *)prep.addr, 8};

		if (process_vm_readv(kid, &l, 1, &r, 1, 0) >= 0)
			cfail(&c, "process_vm_readv (no FOLL_FORCE) read the PROT_NONE page");
		else if (errno != EFAULT)
			cfail(&c, "process_vm_readv of the PROT_NONE page failed with %s, not EFAULT", strerror(errno));
	}
	if (ptrace(PTRACE_DETACH, kid, 0, 0))
		cfail(&c, "PTRACE_DETACH: %s", strerror(errno));
	printf("# %s: %s of %ld words of the tracee's %zu KiB%s", c.name,
	       req == PTRACE_PEEKTEXT ? "PTRACE_PEEKTEXT" : "PTRACE_PEEKDATA", peeks, len >> 10,
	       bad ? "" : ", each the pattern");
	if (m == K_SWAPPED)
		printf("; %ld of %zu pages swapped out before, %ld after", prep.n, len / PAGE, after);
	if (m == K_EXT4)
		printf("; %ld of 4 pages in the page cache before (POSIX_FADV_DONTNEED)", prep.n);
	printf("\n");
	done = note_recv(p[0]);
	if (done.kind == 'F')
		cfail(&c, "%s", done.why);
	else if (done.kind == 'S')
		cskip(&c, "%s", done.why);
	else if (!done.kind)
		cfail(&c, "the tracee ended without its word after the peeks");
reap:
	child_reap(&c, kid, "tracee", NULL);
	if (m == K_GUP_PINNED && gup_fd >= 0)
		ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);  /* a tracee that died pinned: gup_test's pins are global */
	borrow_pins(&c, p0);
out:
	cell_close(&c, p);
	verdict(&c, began);
free:
	free(want);
}

/* -- FUTEX_WAIT / FUTEX_WAKE through a read-only MAP_SHARED mapping --------------------------- */

static long futex_op(uint32_t *word, int op, uint32_t val, int secs)
{
	struct timespec ts = {.tv_sec = secs};

	return syscall(SYS_futex, word, op, val, op == FUTEX_WAIT ? &ts : NULL, NULL, 0);
}

#define FR_WORD (PAGE + 256)  /* the shared futex word, in page 1 */
#define FR_REFUSALS 16        /* shared futex calls on a read-only private page, each refused */
#define FR_REFUSALS_S "16"

/* The waiter: a read-only handle of the file (O_RDONLY, PROT_READ, MAP_SHARED); says its
 * checks in notes: ready (after EAGAIN and EFAULT), then woken, then how many it woke. */
static void futex_ro_child(int ext4, const char *path, int fd, int wfd)
{
	struct rnote n = {0};
	char proc[64], *ro, *anon, *want = malloc(PAGE), held_why[200];
	uint32_t *rword;
	long r, woke = 0, first;
	int rofd;

	if (!ext4)
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	rofd = open(ext4 ? path : proc, O_RDONLY);
	ro = rofd < 0 ? MAP_FAILED : mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, rofd, 0);
	if (ro == MAP_FAILED) {
		note_send(wfd, &n, 'F', "the read-only handle: %s", strerror(errno));
		_exit(0);
	}
	rword = (uint32_t *)(ro + FR_WORD);
	/* a value that is not the word's: EAGAIN (futex_wait_setup() after get_futex_key()) */
	r = futex_op(rword, FUTEX_WAIT, 4, 2);
	if (r != -1 || errno != EAGAIN) {
		note_send(wfd, &n, 'F', "FUTEX_WAIT with a stale value on the read-only mapping returned %ld (%s), not EAGAIN", r,
			  r ? strerror(errno) : "woken");
		_exit(0);
	}
	/* a read-only private anonymous page has no shared key: get_futex_key() says -EFAULT */
	anon = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	*(volatile uint32_t *)anon = 0;
	mprotect(anon, PAGE, PROT_READ);
	for (int i = 0; i < FR_REFUSALS; i++) {
		r = futex_op((uint32_t *)anon, i & 1 ? FUTEX_WAKE : FUTEX_WAIT, 0, 2);
		if (r != -1 || errno != EFAULT) {
			note_send(wfd, &n, 'F', "a shared %s on a read-only private anonymous page returned %ld (%s), not EFAULT",
				  i & 1 ? "FUTEX_WAKE" : "FUTEX_WAIT", r, r ? strerror(errno) : "woken");
			_exit(0);
		}
	}
	/* the lookup borrowed the page before it refused: none of those references may stay */
	if ((r = pages_held(anon, PAGE, 1000, &first, held_why, sizeof(held_why))) != 0) {
		if (r > 0)
			note_send(wfd, &n, 'F', "the read-only private anonymous page is still held after %d refused shared futex calls (EFAULT): a reference the refusal kept",
				  FR_REFUSALS);
		else
			note_send(wfd, &n, 'S', "no page-reference check of the read-only page: %s", held_why);
		_exit(0);
	}
	note_send(wfd, &n, 'o', "ready");
	r = futex_op(rword, FUTEX_WAIT, 5, 10);
	if (r) {
		note_send(wfd, &n, 'F', "FUTEX_WAIT on the read-only mapping %s", errno == ETIMEDOUT ? "was never woken (10 s)"
			  : errno == EAGAIN ? "saw the new value before it slept" : strerror(errno));
		_exit(0);
	}
	fill64(want, PAGE, 62);
	if (__atomic_load_n(rword, __ATOMIC_ACQUIRE) != 6 || first_diff(ro, want, PAGE) >= 0) {
		note_send(wfd, &n, 'F', "woken, the read-only mapping does not show the waker's writes (word %u)", *rword);
		_exit(0);
	}
	/* the other way: the parent sleeps on its writable mapping, woken through this one */
	if (wait_sleeping(getppid()))
		for (int i = 0; i < 100 && woke < 1; i++) {
			woke = futex_op(rword, FUTEX_WAKE, 1, 0);
			if (woke < 1)
				usleep(10 * 1000);
		}
	else
		woke = -1;  /* the parent never seen asleep: its premise, not a wake that failed */
	n.n = woke;
	note_send(wfd, &n, 'o', "done");
	_exit(0);
}

static void futex_ro_cell(int ext4)
{
	struct cell c = {.mem = ANON, .fd = -1};
	double began = now_s();
	size_t len = 2 * PAGE;
	char *rw = NULL, *want = malloc(len);
	uint32_t *word;
	long p0, woken = -1, r = -1;
	int p[2] = {-1, -1}, slept = 0, err;
	double t[3] = {0, 0, 0};  /* the waiter ready, woken, this side woken back (since began) */
	struct rnote ready, done = {0};
	pid_t kid = -1;

	snprintf(c.name, sizeof(c.name), "borrow/futex-ro/%s", ext4 ? "ext4-shared" : "shmem");
	if (!borrow_runs(c.name))
		goto free;
	p0 = pins_outstanding();  /* after begins(): the output written out first */
	rw = shared_file(&c, ext4, "borrow-futex-ro", len);
	if (!rw)
		goto out;
	if (pipe(p)) {
		cfail(&c, "pipe: %s", strerror(errno));
		goto out;
	}
	fill64(rw, len, 61);
	word = (uint32_t *)(rw + FR_WORD);
	*word = 5;
	kid = cell_fork();
	if (kid == 0) {
		close(p[0]);
		futex_ro_child(ext4, c.path, c.fd, p[1]);
	}
	close(p[1]);
	p[1] = -1;
	ready = note_recv(p[0]);
	if (ready.kind == 'S') {
		cskip(&c, "%s", ready.why);
		goto reap;
	}
	if (ready.kind != 'o') {
		cfail(&c, "%s", ready.kind ? ready.why : "the waiter ended without a word");
		goto reap;
	}
	t[0] = now_s() - began;
	/* wake only a waiter that sleeps: its one blocking call is the FUTEX_WAIT */
	slept = wait_sleeping(kid);
	fill64(rw, PAGE, 62);
	__atomic_store_n(word, 6, __ATOMIC_RELEASE);
	woken = futex_op(word, FUTEX_WAKE, 1, 0);
	t[1] = now_s() - began;
	if (woken != 1) {
		if (slept)
			cfail(&c, "FUTEX_WAKE through the writable mapping woke %ld, while the waiter slept on the read-only one (two keys for one futex?)",
			      woken);
		else
			cskip(&c, "the waiter was never seen sleeping in FUTEX_WAIT (/proc/<pid>/stat), and no FUTEX_WAKE found it");
		goto reap;
	}
	/* now this side sleeps on its writable mapping, woken through the read-only one */
	r = futex_op(word, FUTEX_WAIT, 6, 10);
	err = errno;
	t[2] = now_s() - began;
	done = note_recv(p[0]);
	if (r && done.kind == 'o' && done.n < 0)
		cskip(&c, "the waiter never saw this side sleeping in FUTEX_WAIT (/proc/<pid>/stat), and woke nobody");
	else if (r)
		cfail(&c, "FUTEX_WAIT on the writable mapping %s", err == ETIMEDOUT
		      ? "was never woken by FUTEX_WAKE through the read-only one (10 s)" : strerror(err));
	if (!c.failed[0] && done.kind != 'o')
		cfail(&c, "%s", done.kind ? done.why : "the waiter ended without a word");
reap:
	child_reap(&c, kid, "waiter", NULL);
	printf("# %s: a stale value EAGAIN, a read-only private anonymous page EFAULT " FR_REFUSALS_S " times (then its references checked); FUTEX_WAKE through the writable mapping woke %ld (the waiter %s); FUTEX_WAKE through the read-only one woke %ld (at %.2f, %.2f, %.2f s)\n",
	       c.name, woken, slept ? "slept" : "was not seen sleeping", done.kind == 'o' ? done.n : -1L, t[0], t[1], t[2]);
	/* the key borrowed the page for the lookup only: none held, both processes' writes there */
	if (!c.failed[0] && !c.skip[0]) {
		fill64(want, len, 61);
		fill64(want, PAGE, 62);
		*(uint32_t *)(want + FR_WORD) = 6;
		if (first_diff(rw, want, len) >= 0)
			cfail(&c, "the shared mapping reads other bytes than were written");
	}
	borrow_refs(&c, rw, len, "the shared mapping");
	borrow_pins(&c, p0);
	if (ext4 && !c.failed[0] && !c.skip[0]) {
		c.cur = rw;
		c.mapped = 1;
		c.half = len;
		c.mem = FILESH;
		check_disk(&c, want, 0, "the futex mapping");
	}
out:
	if (rw)
		munmap(rw, len);
	cell_close(&c, p);
	verdict(&c, began);
free:
	free(want);
}

/* -- /proc/<pid>/cmdline after setproctitle: get_mm_proctitle() ------------------------------- */

/* A title: printable bytes, no NUL, different per position and seed. */
static void title_fill(char *t, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		t[i] = (char)('a' + (i * 7 + seed) % 26);
}

static void proctitle_cell(void)
{
	struct cell c = {.mem = ANON, .fd = -1};
	double began = now_s();
	unsigned long v[4];
	size_t lens[2];
	int p2c[2] = {-1, -1}, c2p[2] = {-1, -1};
	static char want[PAGE + 1], got[2][PAGE + 64];
	char path[64], b;
	long p0;
	struct rnote done = {0};
	pid_t kid = -1;

	snprintf(c.name, sizeof(c.name), "borrow/proc-cmdline/proctitle");
	if (!borrow_runs(c.name))
		return;
	p0 = pins_outstanding();  /* after begins(): the output written out first */
	if (stat_args(v) || v[1] <= v[0]) {
		cfail(&c, "cannot read arg_start..env_end from /proc/self/stat");
		goto out;
	}
	/* get_mm_cmdline() lets the title run on only into an environment right after argv */
	if (v[2] != v[1] || v[3] < v[2] + 16) {
		cskip(&c, "no environment right after argv to overflow into (arg %#lx..%#lx, env %#lx..%#lx)", v[0], v[1], v[2],
		      v[3]);
		goto out;
	}
	/* a title over all argv and the environment (at most a page: get_mm_proctitle() reads one
	 * page from arg_start), then one just past argv's end; each NUL-ended */
	lens[0] = (v[3] - v[0] < PAGE ? v[3] - v[0] : PAGE) - 1;
	lens[1] = v[1] - v[0] + 5;
	if (pipe(p2c) || pipe(c2p)) {
		cfail(&c, "pipe: %s", strerror(errno));
		goto out;
	}
	kid = cell_fork();
	if (kid == 0) {
		/* writes each title over its own argument pages (a write breaks COW), the parent reads
		 * it; afterwards none of those pages may stay held */
		char *lo = (char *)(v[0] & ~(PAGE - 1)), *hi = (char *)((v[3] + PAGE - 1) & ~(PAGE - 1)), why[200];
		long first, held;
		struct rnote n = {0};

		close(c2p[0]);
		for (int i = 0; i < 2; i++) {
			title_fill((char *)v[0], lens[i], i);
			((char *)v[0])[lens[i]] = 0;
			if (write(c2p[1], "r", 1) != 1 || read(p2c[0], &b, 1) != 1)
				_exit(6);
		}
		held = pages_held(lo, hi - lo, 1000, &first, why, sizeof(why));
		if (held < 0)
			note_send(c2p[1], &n, 'S', "no page-reference check in the child: %s", why);
		else if (held)
			note_send(c2p[1], &n, 'F', "%ld of its %ld argument/environment page(s) still held after the reads (first %ld)",
				  held, (long)((hi - lo) / PAGE), first);
		else
			note_send(c2p[1], &n, 'o', "");
		_exit(0);
	}
	close(c2p[1]);
	c2p[1] = -1;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", kid);
	for (int i = 0; i < 2 && !c.failed[0]; i++) {
		ssize_t n[2];

		if (read(c2p[0], &b, 1) != 1) {
			cfail(&c, "the child did not write its title");
			break;
		}
		title_fill(want, lens[i], i);
		want[lens[i]] = 0;
		n[0] = slurp(path, got[0], sizeof(got[0]));
		n[1] = slurp_chunks(path, got[1], sizeof(got[1]), 61);
		for (int k = 0; k < 2; k++)
			if (n[k] != (ssize_t)lens[i] + 1 || memcmp(got[k], want, lens[i] + 1))
				cfail(&c, "/proc/<child>/cmdline read %s gives %zd bytes%s, not the child's %zu-byte title and its NUL",
				      k ? "in 61-byte pieces" : "at once", n[k],
				      n[k] > 0 && first_diff(got[k], want, n[k] < (ssize_t)lens[i] ? n[k] : (ssize_t)lens[i]) >= 0
				      ? " that differ" : "", lens[i]);
		if (write(p2c[1], "c", 1) != 1)
			cfail(&c, "cannot tell the child to go on");
	}
	printf("# %s: argv %lu bytes, environ %lu; titles of %zu bytes (%s) and %zu bytes over argv's end, each read at once and in 61-byte pieces\n",
	       c.name, v[1] - v[0], v[3] - v[2], lens[0],
	       (v[0] + lens[0]) / PAGE != v[0] / PAGE ? "across a page boundary" : "within one page", lens[1]);
	if (!c.failed[0])
		done = note_recv(c2p[0]);
	if (done.kind == 'F')
		cfail(&c, "%s", done.why);
	else if (done.kind == 'S')
		cskip(&c, "%s", done.why);
	else if (done.kind != 'o' && !c.failed[0])
		cfail(&c, "the child ended without its word");
	child_reap(&c, kid, "child", NULL);
	borrow_pins(&c, p0);
out:
	close_pair(p2c);
	close_pair(c2p);
	verdict(&c, began);
}

/* -- PTRACE_SINGLESTEP: is_setting_trap_flag() reads the instruction at the tracee's IP ------- */

enum scode { S_ANON, S_SWAPPED, S_EXT4, NSCODE };
static const char *const scode_names[NSCODE] = {"anon", "anon-swapped", "ext4-dropped"};

/* pushf; popf; xor %eax,%eax; mov $10,%ecx; 1: add %ecx,%eax; dec %ecx; jnz 1b; ret: 55 */
static const unsigned char step_code[] = {0x9c, 0x9d, 0x31, 0xc0, 0xb9, 0x0a, 0x00, 0x00, 0x00,
					  0x01, 0xc8, 0xff, 0xc9, 0x75, 0xfa, 0xc3};
/* 6 bytes before a page boundary: the mov spans two pages, and so do the 15 bytes
 * is_setting_trap_flag() reads at each of the first four instructions */
#define S_AT (PAGE - 6)
#define S_TF 0x100UL  /* X86_EFLAGS_TF */

/* The offsets of the instructions the steps start at, in order. */
static int step_expected(int *offs)
{
	int n = 0;

	offs[n++] = 0;
	offs[n++] = 1;
	offs[n++] = 2;
	offs[n++] = 4;
	for (int i = 0; i < 10; i++) {
		offs[n++] = 9;
		offs[n++] = 11;
		offs[n++] = 13;
	}
	offs[n++] = 15;
	return n;
}

/* The tracee: the code in two pages of their own (out of memory for the swapped and dropped
 * kinds), stops, then calls it; once detached, no page of it may stay held. Exit 0: 55. */
static void step_child(enum scode m, int fd, int wfd)
{
	struct rnote n = {0};
	char *map, why[200];
	long first, held;
	int r;

	if (ptrace(PTRACE_TRACEME, 0, 0, 0)) {
		note_send(wfd, &n, 'F', "PTRACE_TRACEME: %s", strerror(errno));
		_exit(0);
	}
	if (m == S_EXT4) {
		unsigned char vec[2] = {1, 1};

		map = mmap(NULL, 2 * PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
		if (map == MAP_FAILED) {
			note_send(wfd, &n, 'F', "mmap of the code file PROT_EXEC: %s", strerror(errno));
			_exit(0);
		}
		/* clean (the parent fsynced) and mapped by nobody: dropped from the page cache */
		posix_fadvise(fd, 0, 2 * PAGE, POSIX_FADV_DONTNEED);
		mincore(map, 2 * PAGE, vec);
		n.n = (vec[0] & 1) + (vec[1] & 1);
		if (n.n) {
			note_send(wfd, &n, 'S', "%ld of the 2 code pages stayed in the page cache (POSIX_FADV_DONTNEED, mincore)", n.n);
			_exit(0);
		}
	} else {
		map = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (map == MAP_FAILED) {
			note_send(wfd, &n, 'F', "mmap: %s", strerror(errno));
			_exit(0);
		}
		memcpy(map + S_AT, step_code, sizeof(step_code));
		if (mprotect(map, 2 * PAGE, PROT_READ | PROT_EXEC)) {
			note_send(wfd, &n, 'F', "mprotect(PROT_READ | PROT_EXEC): %s", strerror(errno));
			_exit(0);
		}
		if (m == S_SWAPPED) {
			n.n = page_out(map, 2 * PAGE);
			if (n.n <= 0 || !swap_entry_of(map + S_AT)) {
				note_send(wfd, &n, 'S', "the code page was not swapped out (MADV_PAGEOUT: %ld of 2 pages; %s)", n.n,
					  swap_on() ? "swap is on" : "no swap in /proc/swaps");
				_exit(0);
			}
		}
	}
	n.addr = (uintptr_t)(map + S_AT);
	note_send(wfd, &n, 'o', "");
	syscall(SYS_tkill, (pid_t)syscall(SYS_gettid), SIGSTOP);  /* the tracer steps from here */
	r = ((int (*)(void))(map + S_AT))();
	held = pages_held(map, 2 * PAGE, 1000, &first, why, sizeof(why));
	n.n = r;
	if (held > 0)
		note_send(wfd, &n, 'F', "%ld of the 2 code pages still held after the steps (first %ld)", held, first);
	else if (held < 0)
		note_send(wfd, &n, 'S', "no page-reference check in the tracee: %s", why);
	else
		note_send(wfd, &n, 'o', "");
	_exit(r == 55 ? 0 : 3);
}

static void step_cell(enum scode m)
{
	struct cell c = {.mem = ANON, .fd = -1};
	double began = now_s();
	int p[2] = {-1, -1}, st, offs[40], nexp = step_expected(offs), seen[40], nseen = 0, inside = 0, tf_popf = -1;
	long p0, steps = 0;
	uint64_t at_entry = 0;
	struct rnote prep, done = {0};
	struct user_regs_struct regs;
	pid_t kid = -1;

	snprintf(c.name, sizeof(c.name), "borrow/singlestep/%s", scode_names[m]);
	if (!borrow_runs(c.name))
		return;
	p0 = pins_outstanding();  /* after begins(): the output written out first */
	if (m == S_EXT4) {
		char page2[2 * PAGE] = {0};

		if (!ext4_dir) {
			cskip(&c, "no ext4 directory given (-d)");
			goto out;
		}
		memcpy(page2 + S_AT, step_code, sizeof(step_code));
		if (ext4_file(&c, "borrow-step", page2, sizeof(page2)))
			goto out;
	}
	if (pipe(p)) {
		cfail(&c, "pipe: %s", strerror(errno));
		goto out;
	}
	kid = cell_fork();
	if (kid == 0) {
		close(p[0]);
		step_child(m, c.fd, p[1]);
	}
	if (tracee_stopped(&c, kid, p, &prep))
		goto reap;
	/* step until the code has run and returned: every step reads 15 bytes at the IP first */
	for (;;) {
		int in;

		if (ptrace(PTRACE_GETREGS, kid, 0, &regs)) {
			cfail(&c, "PTRACE_GETREGS: %s", strerror(errno));
			goto reap;
		}
		in = regs.rip >= prep.addr && regs.rip < prep.addr + sizeof(step_code);
		if (inside && !in)
			break;
		if (in) {
			if (!inside)  /* the premise, just before the first read of the code page */
				at_entry = pagemap_of(kid, prep.addr);
			inside = 1;
			if (nseen == 2)  /* after the step at popf: its TF is the tracee's, shown */
				tf_popf = !!(regs.eflags & S_TF);
			if (nseen < 40)
				seen[nseen] = (int)(regs.rip - prep.addr);
			nseen++;
		}
		if (++steps > 20000) {
			cfail(&c, "20000 steps and the tracee %s", inside ? "is still in the code" : "never reached the code");
			goto reap;
		}
		if (ptrace(PTRACE_SINGLESTEP, kid, 0, 0)) {
			cfail(&c, "PTRACE_SINGLESTEP: %s", strerror(errno));
			goto reap;
		}
		if (waitpid(kid, &st, 0) != kid || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGTRAP) {
			cfail(&c, "a single step at %#llx (code %+lld) ended with status 0x%x, not a SIGTRAP stop", regs.rip,
			      (long long)(regs.rip - prep.addr), st);
			goto reap;
		}
	}
	/* the popf made TF the tracee's: take it away, as a debugger would, or it traps alone */
	regs.eflags &= ~S_TF;
	if (ptrace(PTRACE_SETREGS, kid, 0, &regs) || ptrace(PTRACE_DETACH, kid, 0, 0)) {
		cfail(&c, "PTRACE_SETREGS/PTRACE_DETACH: %s", strerror(errno));
		goto reap;
	}
	printf("# %s: %ld single steps, %d of them in the code (at %#lx, %d bytes before a page boundary); TF %s after its popf; the code page %s at the first step in it\n",
	       c.name, steps, nseen, (unsigned long)prep.addr, (int)(PAGE - S_AT),
	       tf_popf ? "the tracee's (shown)" : "hidden (the debugger's)",
	       (at_entry >> 62) & 1 ? "swapped out" : (at_entry >> 63) & 1 ? "present" : "not mapped");
	if (nseen != nexp)
		cfail(&c, "%d steps in the code, the program has %d", nseen, nexp);
	for (int i = 0; i < nexp && i < nseen && !c.failed[0]; i++)
		if (seen[i] != offs[i])
			cfail(&c, "step %d in the code started at offset %d, the program's is %d", i, seen[i], offs[i]);
	if (!tf_popf)
		cfail(&c, "after the step at popf PTRACE_GETREGS hides TF: is_setting_trap_flag() did not see the popf at the IP (its access_process_vm() read)");
	done = note_recv(p[0]);
	if (!c.failed[0] && done.kind == 'F')
		cfail(&c, "%s", done.why);
	else if (!c.failed[0] && done.kind == 'S')
		cskip(&c, "%s", done.why);
	else if (!c.failed[0] && done.kind != 'o')
		cfail(&c, "the tracee ended without its word after the steps");
	if (!c.failed[0] && m == S_SWAPPED && !((at_entry >> 62) & 1))
		cskip(&c, "the code page was back in memory before the first step in it (pagemap)");
	if (!c.failed[0] && m == S_EXT4 && ((at_entry >> 63) & 1))
		cskip(&c, "the code page was mapped before the first step in it (pagemap)");
reap:
	child_reap(&c, kid, "tracee", " (its function did not return 55)");
	borrow_pins(&c, p0);
out:
	cell_close(&c, p);
	verdict(&c, began);
}

static void borrow_reads(void)
{
	for (enum kmem m = 0; m < NKMEM; m++)
		peek_cell(m);
	futex_ro_cell(0);
	futex_ro_cell(1);
	proctitle_cell();
	for (enum scode m = 0; m < NSCODE; m++)
		step_cell(m);
}
