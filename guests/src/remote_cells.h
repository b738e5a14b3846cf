/* remote/...: user space's entries into pages that are not (yet) the caller's own, in a state
 * other than present and exclusive: the kernel must fault them in on the way (mm/gup.c
 * fixup_user_fault(), kernel/futex/core.c fault_in_user_writeable()), move them while swapped
 * or the zero page (mm/userfaultfd.c move_swap_pte(), move_zeropage_pte()), advise another
 * process's memory (mm/madvise.c process_madvise), share one swap entry past SWAP_MAP_MAX
 * (mm/swapfile.c add_swap_count_continuation()), copy from a pipe into user memory (fs/splice.c
 * vmsplice_to_user()), poison a page (UFFDIO_POISON), serve a pinner's hugetlb MISSING fault,
 * remap a file's pages (remap_file_pages). None of these ran in the default set (the gcov run
 * of 2026-12-07, 20261207-034832-baseline); the older futex, FOLL_FORCE and uffd cells (borrow_cells.h,
 * uffd_cells.h) use FUTEX_WAIT/WAKE, the fill ioctls and present pages only.
 *
 * remote/futex-pi/<memory>: the futex word of a PI lock (FUTEX_LOCK_PI, TRYLOCK_PI, UNLOCK_PI:
 *   the kernel writes the owner's TID with futex_cmpxchg_value_locked(), page faults off; a
 *   page it cannot write is made writable by fault_in_user_writeable() and the op retried) in
 *   memory that is absent (never touched), the zero page (read only), dropped (MADV_DONTNEED),
 *   swapped (MADV_PAGEOUT, again before the waiter and before the unlock), a THP, a private page
 *   shared copy-on-write with a child (the locker gets its own copy; the child's word and page
 *   stay as they were, and the child locks its own copy at once), shmem shared with a child
 *   (shared futexes: the child sees the owner's TID and its TRYLOCK_PI is refused) and shmem
 *   swapped out. Each cell: lock (word = TID), a second thread contends (the kernel sets
 *   FUTEX_WAITERS: word = TID | WAITERS), unlock hands it over (word = the thread's TID), the
 *   thread unlocks (0), TRYLOCK_PI (TID), again (EDEADLK), UNLOCK_PI (0); every other byte of
 *   the region checked after, no page held (pages_held()). Premise: the page's state before the
 *   first lock (pagemap: not present, swapped; kpageflags: zero page, THP; mincore), else SKIP.
 * remote/robust/<memory>: a thread registers a robust list (set_robust_list) holding one lock
 *   (its TID in the word, FUTEX_WAITERS set by a waiter blocked in FUTEX_WAIT) and exits
 *   without unlocking: handle_futex_death() must write FUTEX_OWNER_DIED | FUTEX_WAITERS (TID
 *   cleared) and wake the waiter. Memory: private (the waiter a thread), private swapped out
 *   while the waiter sleeps, private shared copy-on-write with a child forked after the lock
 *   (the child's copy must keep the TID: OWNER_DIED in the parent's view only), shmem with the
 *   waiter a child process, shmem swapped out, and pi: a PI lock (FUTEX_LOCK_PI) with a PI
 *   waiter, the page swapped out before the owner dies: exit_pi_state_list() hands the lock to
 *   the waiter, whose word must read its TID | FUTEX_WAITERS | FUTEX_OWNER_DIED, and its
 *   UNLOCK_PI gives 0; pi-cow: a PI owner with no robust list, the page shared copy-on-write
 *   with a child forked while the waiter sleeps: the waiter's fixup_pi_state_owner() must make
 *   its own copy writable (its TID | WAITERS | OWNER_DIED), the child's copy keeps the old owner's.
 *   Premise: the waiter blocked (/proc/.../stat state S) and the page out, else SKIP.
 * remote/uffd-move/<source>: UFFDIO_MOVE of 8 pages into a MISSING-registered range: swap (the
 *   source paged out: move_swap_pte()), zero (read faulted only: move_zeropage_pte()),
 *   swap-shared (paged out, then a child forked: the swap entries are no longer exclusive and
 *   the move must refuse with EBUSY, neither side changed). The destination must read the
 *   source's bytes (zeros), the source must be empty after (pagemap neither present nor
 *   swapped; it reads zeros), each side's writes its own, no page held.
 * remote/pmadvise/<advice>: process_madvise() through a child's pidfd over its 32 pages, 8 of
 *   them an io_uring fixed buffer of the child's (pinned), in three iovecs of odd sizes: pageout
 *   (the unpinned pages swapped in the child's pagemap, a pinned one swapped is a FAIL), cold
 *   (pgdeactivate moved), willneed (after a pageout: pswpin moved), collapse (a 2 MiB range of
 *   small pages, one iovec: the child's range a THP after, or EAGAIN), bad-iov (the second
 *   iovec runs into a hole the child unmapped: the count of the first iovec is returned, its
 *   pages swapped, the third iovec's not). After each, the child checks every byte and the
 *   pin both ways (io_uring WRITE_FIXED reads what the child wrote, READ_FIXED writes what
 *   the child reads).
 * remote/swap-share/fork70: a page paged out (pagemap's swap bit) while 70 children are forked
 *   (each fork copies the swap entry: past SWAP_MAP_MAX the count continues in
 *   add_swap_count_continuation()); the entry must still be the parent's after; every other
 *   child reads every byte, every sixth writes its copy and reads that back, and once they are
 *   gone the other half exits without touching it (its reference put at exit); the parent then
 *   pins the page (io_uring registration) and checks it both ways, no page held after.
 * remote/vmsplice-to/<memory>: a pipe filled by write(), vmsplice() from user pages and splice()
 *   from an ext4 file, drained by vmsplice() into anon, THP, shmem, ext4 MAP_SHARED and hugetlb
 *   memory in odd iovec pieces (vmsplice_to_user(), pipe_to_user()): every count and byte;
 *   then again into a range whose third iovec runs into a read-only page: a short count, the
 *   bytes it counts in place, and read() must go on exactly where the count stopped.
 * remote/uffd-poison/<entry>: pages 0, 2, 3 of a MISSING-registered range filled by UFFDIO_COPY,
 *   page 1 UFFDIO_POISONed (again over a filled page: EEXIST); then access (a read of page 1:
 *   SIGBUS), gup-longterm and uring-register over the range (refused), dio-read (O_DIRECT from
 *   ext4) and pvm-writev into it (refused or short, no byte past page 0): no pin left
 *   (nr_foll_pin counters), no page held, the filled pages intact (mfill_atomic_pte_poison()).
 * remote/uffd-hugetlb/<pinner>: two private hugetlb pages MISSING-registered, a handler thread
 *   serving each fault by UFFDIO_COPY of the page's pattern while the pinner waits in
 *   hugetlb_handle_userfault(): uring (the registration's GUP; WRITE_FIXED reads the handler's
 *   bytes, READ_FIXED writes the process reads), dio (O_DIRECT write from one missing page: the
 *   file holds the handler's bytes; O_DIRECT read into the other: the page holds the file's).
 *   Premise: the handler served the faults; free_hugepages back after.
 * remote/remap-file-pages/<shmem|ext4-shared>: remap_file_pages() of pages 2-3 of an 8-page
 *   MAP_SHARED mapping to file pages 5-6 (6.12 emulates it with a new mapping): every page as
 *   its file page, a write through the remapped page seen at page 5 and in the file (ext4: after
 *   drop_caches).
 * Part of pin_matrix.c (struct cell, run_cells(); kentry_cells.h's pin_mark()/pins_back()/
 * none_held(); dump_cells.h's pages_out(); zero_cells.h's KPF_ZERO_PAGE; uffd_cells.h's uf_ioctl()).
 */
#include <linux/futex.h>
#include <setjmp.h>
#include <stdatomic.h>

#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#define RM_PAGES 8
#define RM_WORD (3 * PAGE + 64)  /* the futex word's offset: page 3 of the region */
#define RM_WAIT_S 10

static long rm_futex(uint32_t *w, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, w, op, val, ts, NULL, 0);
}

static uint32_t rm_load(const uint32_t *w) { return __atomic_load_n(w, __ATOMIC_ACQUIRE); }

/* The absolute CLOCK_REALTIME deadline FUTEX_LOCK_PI takes: 3 x RM_WAIT_S from now, so that a
 * lock a bug never hands over fails the cell instead of blocking it */
static const struct timespec *rm_deadline(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += 3 * RM_WAIT_S;
	return ts;
}

/* Task tid of process pid (0: this one) is asleep ('S' in its stat), waited for RM_WAIT_S;
 * 0 when it is, -1 when not */
static int rm_sleeping(pid_t pid, pid_t tid)
{
	char path[96], buf[256], *p;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	for (double until = now_s() + RM_WAIT_S; now_s() < until; usleep(2000)) {
		int fd = open(path, O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

		if (fd >= 0)
			close(fd);
		if (n <= 0)
			return -1;
		buf[n] = 0;
		if ((p = strrchr(buf, ')')) && p[1] == ' ' && p[2] == 'S') {
			usleep(20000);  /* asleep in the syscall, not on its way */
			return 0;
		}
	}
	return -1;
}

/* Page out [p, p+len) (three tries); the pages still in (pages_out(): pagemap's swap bit for
 * anonymous memory, mincore for shmem) */
static long rm_pageout(struct cell *c, char *p, size_t len, int shmem)
{
	long in = (long)(len / PAGE);

	c->mem = shmem ? SHMEM : ANON;
	for (int t = 0; t < 3 && in; t++) {
		madvise(p, len, MADV_PAGEOUT);
		in = (long)(len / PAGE) - pages_out(c, p, len);
	}
	return in;
}

/* A region of len bytes: shmem (a memfd mapped shared, fd in c->fd) or private anonymous */
static char *rm_map(struct cell *c, size_t len, int shmem, size_t align, int advice)
{
	char *p;

	if (!shmem)
		p = map_aligned(len, align, advice);
	else if ((c->fd = memfd_create("remote", 0)) < 0 || ftruncate(c->fd, (off_t)len))
		p = NULL;
	else if ((p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0)) == MAP_FAILED)
		p = NULL;
	if (!p)
		cfail(c, "cannot map %zu bytes: %s", len, strerror(errno));
	return p;
}

/* A buffer registered on ring r at p checked both ways: WRITE_FIXED must read want (the
 * process's bytes), then what READ_FIXED writes (pattern seed) the process must read; NULL, or
 * what went wrong (buf: len bytes of scratch) */
static const char *rm_uring_both(struct io_uring *r, char *p, size_t len, const char *want, unsigned seed, char *buf)
{
	if (uring_rw(r, 1, p, len, 0) != (int)len || pread(scratch_fd, buf, len, 0) != (ssize_t)len)
		return "WRITE_FIXED out of the registered buffer failed";
	if (first_diff(buf, want, len) >= 0)
		return "the pin reads other bytes than the process's";
	fill64(buf, len, seed);
	if (pwrite(scratch_fd, buf, len, 0) != (ssize_t)len || uring_rw(r, 0, p, len, 0) != (int)len)
		return "READ_FIXED into the registered buffer failed";
	if (first_diff(p, buf, len) >= 0)
		return "the process does not read what was written through the pin";
	return NULL;
}

/* -- remote/futex-pi ------------------------------------------------------------------------ */

enum fpmem { FP_ABSENT, FP_ZERO, FP_DONTNEED, FP_PAGEOUT, FP_THP, FP_COW, FP_SHMEM, FP_SHMEM_PAGEOUT, NFX };
static const char *const fx_names[NFX] = {"absent", "zero", "dontneed", "pageout", "thp", "cow", "shmem", "shmem-pageout"};

struct fp_waiter {
	uint32_t *word;
	int op_flags;  /* FUTEX_PRIVATE_FLAG or 0 */
	atomic_int tid, calling;
	long ret;
	int err;
	uint32_t got, after;  /* the word when it got the lock, after its unlock */
};

static void *fp_wait_thread(void *arg)
{
	struct fp_waiter *w = arg;

	struct timespec ts;

	atomic_store(&w->tid, (int)gettid());
	atomic_store(&w->calling, 1);
	w->ret = rm_futex(w->word, FUTEX_LOCK_PI | w->op_flags, 0, rm_deadline(&ts));
	w->err = errno;
	w->got = rm_load(w->word);
	if (!w->ret) {
		rm_futex(w->word, FUTEX_UNLOCK_PI | w->op_flags, 0, NULL);
		w->after = rm_load(w->word);
	}
	return NULL;
}

/* The waiter thread is still there (its task in /proc, never gone through its call): it has
 * not run far enough on a loaded guest, not returned from FUTEX_LOCK_PI */
static int fp_running(struct fp_waiter *w)
{
	char path[64];
	int tid = atomic_load(&w->tid);

	if (!tid)
		return 1;  /* not even started */
	snprintf(path, sizeof(path), "/proc/self/task/%d", tid);
	return !access(path, F_OK);
}

/* Re-page-out before an op that must fault the word's page back in; a page that stays in
 * is told in the # line (the op still runs: its checks hold either way) */
static int fp_out_again(struct cell *c, enum fpmem m, char *map, size_t len)
{
	if (m != FP_PAGEOUT && m != FP_SHMEM_PAGEOUT)
		return 0;
	return rm_pageout(c, map + RM_WORD / PAGE * PAGE, PAGE, m == FP_SHMEM_PAGEOUT) == 0;
}

/* One checked futex op: want_ret 0 or -1 with errno want_err; the word after must be want */
static int fp_op(struct cell *c, uint32_t *word, int op, int flags, int want_err, uint32_t want, const char *what)
{
	long r = rm_futex(word, op | flags, 0, NULL);
	int e = r ? errno : 0;
	uint32_t v = rm_load(word);

	if (e != want_err)
		cfail(c, "%s: %s, want %s (word %#x)", what, e ? strerror(e) : "done", want_err ? strerror(want_err) : "done", v);
	else if (v != want)
		cfail(c, "%s: the word reads %#x after it, want %#x", what, v, want);
	return c->failed[0] ? -1 : 0;
}

static void futex_pi_cell(struct cell *c, int k)
{
	enum fpmem m = (enum fpmem)k;
	int thp = m == FP_THP, shmem = m == FP_SHMEM || m == FP_SHMEM_PAGEOUT, fl = shmem ? 0 : FUTEX_PRIVATE_FLAG;
	size_t len = thp ? HPAGE : RM_PAGES * PAGE, woff = thp ? 300 * PAGE + 64 : RM_WORD;
	char *map, *want = malloc(len), *pg;
	uint32_t *word, tid = (uint32_t)gettid(), *seen;
	int go[2] = {-1, -1}, outs = 0, asleep;
	struct fp_waiter w = {0};
	pthread_t th;
	pid_t kid = -1;
	uint64_t pfn0 = 0;

	if (!want || !(map = rm_map(c, len, shmem, thp ? HPAGE : PAGE, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))) {
		free(want);
		return;
	}
	seen = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	word = (uint32_t *)(map + woff);
	pg = map + woff / PAGE * PAGE;
	memset(want, 0, len);
	if (m != FP_ABSENT && m != FP_ZERO) {
		fill64(want, len, 0xf07 + k);
		*(uint32_t *)(want + woff) = 0;
		memcpy(map, want, len);
	}
	/* the state before the first lock, asserted */
	switch (m) {
	case FP_ABSENT:
		if (pagemap(pg) >> 62)
			cskip(c, "the untouched page is present or swapped (pagemap %#llx)", (unsigned long long)pagemap(pg));
		break;
	case FP_ZERO:
		for (size_t o = 0; o < len; o += PAGE)
			(void)*(volatile char *)(map + o);
		if (!((kpageflags(pg) >> KPF_ZERO_PAGE) & 1))
			cskip(c, "a read fault did not map the zero page (kpageflags)");
		break;
	case FP_DONTNEED:
		madvise(map, len, MADV_DONTNEED);
		memset(want, 0, len);
		if (pagemap(pg) >> 62)
			cfail(c, "the page is still present after MADV_DONTNEED");
		break;
	case FP_PAGEOUT:
	case FP_SHMEM_PAGEOUT:
		if (!swap_on())
			cskip(c, "no swap in /proc/swaps");
		else if (rm_pageout(c, map, len, shmem))
			cskip(c, "the word's page stayed in after three MADV_PAGEOUTs");
		break;
	case FP_THP:
		if (!is_thp(pg))
			cskip(c, "no THP behind the word (kpageflags)");
		break;
	default:
		break;
	}
	if (c->failed[0] || c->skip[0] || seen == MAP_FAILED)
		goto out;
	if (m == FP_COW || shmem) {
		/* the child: holds its copy (cow) or the shared file until told, then checks */
		if (pipe(go)) {
			cfail(c, "pipe: %s", strerror(errno));
			goto out;
		}
		if ((kid = cell_fork()) == 0) {
			char x;

			if (read(go[0], &x, 1) != 1)
				_exit(6);
			if (shmem) {  /* the parent holds the lock: its TID, and a TRYLOCK_PI is refused */
				seen[0] = rm_load(word);
				seen[1] = (uint32_t)rm_futex(word, FUTEX_TRYLOCK_PI, 0, NULL);
				seen[2] = (uint32_t)errno;
				seen[3] = rm_load(word);
				_exit(0);
			}
			if (first_diff(map, want, len) >= 0)
				_exit(3);  /* the parent's lock reached the child's copy */
			if (rm_futex(word, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL) || rm_load(word) != (uint32_t)gettid())
				_exit(7);
			if (rm_futex(word, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL) || rm_load(word))
				_exit(8);
			_exit(first_diff(map, want, len) >= 0 ? 3 : 0);
		}
		if (kid < 0) {
			cfail(c, "fork: %s", strerror(errno));
			goto out;
		}
		pfn0 = pfn_of(pg);
		if (m == FP_COW && pagemap_pfn(pagemap_of(kid, (uintptr_t)pg)) != pfn0)
			cskip(c, "the child does not share the page after fork (pagemap PFNs)");
	}
	if (!c->skip[0] && !fp_op(c, word, FUTEX_LOCK_PI, fl, 0, tid, "FUTEX_LOCK_PI of the free word")) {
		if (m == FP_COW && pfn_of(pg) == pfn0)
			cfail(c, "the locked word's page is still the child's (PFN %#llx): no copy was made for the locker",
			      (unsigned long long)pfn0);
		if (shmem && write(go[1], "g", 1) == 1) {
			wait_child(c, kid, "the shmem child");
			kid = -1;
			if (!c->failed[0] && (seen[0] != tid || seen[1] != (uint32_t)-1 || seen[2] != EAGAIN || (seen[3] & FUTEX_TID_MASK) != tid))
				cfail(c, "the other process saw the word %#x (want our TID %#x), its TRYLOCK_PI said %d (%s), "
				      "want EAGAIN, word then %#x (our TID, FUTEX_WAITERS it may set)", seen[0], tid, (int)seen[1], strerror((int)seen[2]), seen[3]);
		}
		/* a second thread contends: the kernel must set FUTEX_WAITERS in the word */
		outs += fp_out_again(c, m, map, len);
		w.word = word;
		w.op_flags = fl;
		if (!c->failed[0] && (errno = pthread_create(&th, NULL, fp_wait_thread, &w))) {
			cfail(c, "pthread_create: %s", strerror(errno));
		} else if (!c->failed[0]) {
			for (double until = now_s() + RM_WAIT_S; !atomic_load(&w.calling) && now_s() < until;)
				usleep(1000);
			asleep = !rm_sleeping(0, atomic_load(&w.tid));
			if (!asleep && fp_running(&w))  /* not run that far on a loaded guest: the premise */
				cskip(c, "the contending thread was not seen asleep in FUTEX_LOCK_PI in %d s, still running"
				      " (word %#x)", RM_WAIT_S, rm_load(word));
			else if (!asleep)
				cfail(c, "the contending thread did not block in FUTEX_LOCK_PI in %d s: it returned (word %#x)",
				      RM_WAIT_S, rm_load(word));
			else if (rm_load(word) != (tid | FUTEX_WAITERS))
				cfail(c, "with a waiter blocked the word reads %#x, want %#x (TID | FUTEX_WAITERS)", rm_load(word),
				      tid | FUTEX_WAITERS);
			if (rm_futex(word, FUTEX_UNLOCK_PI | fl, 0, NULL) && !c->failed[0])  /* hands it over */
				cfail(c, "FUTEX_UNLOCK_PI handing the lock to the waiter: %s (word %#x)", strerror(errno),
				      rm_load(word));
			pthread_join(th, NULL);  /* its FUTEX_LOCK_PI has a deadline */
			if (c->failed[0] || c->skip[0])
				;  /* skipped: a waiter that called only after the unlock took a free lock */
			else if (w.ret)
				cfail(c, "the waiter's FUTEX_LOCK_PI: %s", strerror(w.err));
			else if (w.got != ((uint32_t)atomic_load(&w.tid) | FUTEX_WAITERS))
				cfail(c, "the waiter got the lock with the word %#x, want its TID | FUTEX_WAITERS %#x "
				      "(wake_futex_pi())", w.got, (uint32_t)atomic_load(&w.tid) | FUTEX_WAITERS);
			else if (w.after)
				cfail(c, "after the waiter's FUTEX_UNLOCK_PI the word reads %#x, want 0", w.after);
		}
		if (!c->failed[0] && !fp_op(c, word, FUTEX_TRYLOCK_PI, fl, 0, tid, "FUTEX_TRYLOCK_PI") &&
		    !fp_op(c, word, FUTEX_TRYLOCK_PI, fl, EDEADLK, tid, "FUTEX_TRYLOCK_PI by the owner")) {
			outs += fp_out_again(c, m, map, len);  /* the unlock faults it back in */
			fp_op(c, word, FUTEX_UNLOCK_PI, fl, 0, 0, "FUTEX_UNLOCK_PI");
		}
	}
	if (kid > 0) {
		if (write(go[1], "g", 1) != 1)
			cfail(c, "cannot tell the child to check");
		wait_child(c, kid, m == FP_COW ? "the copy-on-write child (exit 3: its copy changed; 7, 8: its own lock)"
					       : "the shmem child");
	}
	if (!c->failed[0] && !c->skip[0]) {
		long d = first_diff(map, want, len);

		if (d >= 0)
			cfail(c, "after the locks the region differs at byte %ld (the word at %zu)", d, woff);
		else if (!thp)
			none_held(c, map, len, "the PI futex ops");
		if (!c->failed[0] && !c->skip[0])
			printf("# %s: lock, waiter (WAITERS set), hand-over, trylock, EDEADLK, unlock%s; every byte kept\n",
			       c->name, outs ? ", the page paged out before the waiter and the unlock" : "");
	}
out:
	close_pair(go);
	if (seen != MAP_FAILED)
		munmap(seen, PAGE);
	munmap(map, len);
	cell_file_close(c);
	free(want);
}

/* -- remote/robust -------------------------------------------------------------------------- */

enum rbmem { RB_ANON, RB_PAGEOUT, RB_COW, RB_SHMEM, RB_SHMEM_PAGEOUT, RB_PI, RB_PI_COW, NRB };
static const char *const rb_names[NRB] = {"anon", "pageout", "cow", "shmem", "shmem-pageout", "pi", "pi-cow"};

struct rb_lock {
	struct robust_list next;
	uint32_t word;
};

struct rb_owner {
	struct robust_list_head *head;
	struct rb_lock *lock;
	int pi, norobust;  /* norobust: no list registered, only exit_pi_state_list() */
	atomic_int tid, held, die;
	long ret;
};

static void *rb_owner_thread(void *arg)
{
	struct rb_owner *o = arg;
	pid_t tid = gettid();

	o->head->list.next = (struct robust_list *)((uintptr_t)&o->lock->next | (o->pi ? 1 : 0));
	o->head->futex_offset = (long)offsetof(struct rb_lock, word);
	o->head->list_op_pending = NULL;
	o->lock->next.next = &o->head->list;
	o->ret = o->norobust ? 0 : syscall(SYS_set_robust_list, o->head, sizeof(*o->head));
	if (!o->ret && o->pi)
		o->ret = rm_futex(&o->lock->word, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL);
	else if (!o->ret)
		__atomic_store_n(&o->lock->word, (uint32_t)tid, __ATOMIC_RELEASE);
	atomic_store(&o->tid, (int)tid);
	atomic_store(&o->held, 1);
	while (!atomic_load(&o->die))
		usleep(1000);
	return NULL;  /* dies holding it: the kernel walks the list */
}

struct rb_waiter {
	uint32_t *word;
	int pi;
	atomic_int tid, calling;
	long ret;
	int err;
	uint32_t got, after;
};

/* A robust waiter: sets FUTEX_WAITERS and FUTEX_WAITs (shared: what handle_futex_death()
 * wakes), or FUTEX_LOCK_PI; the word when it returned in got */
static void rb_wait(struct rb_waiter *w)
{
	struct timespec ts = {RM_WAIT_S, 0};
	uint32_t v = rm_load(w->word);

	atomic_store(&w->tid, (int)gettid());
	if (w->pi) {
		atomic_store(&w->calling, 1);
		w->ret = rm_futex(w->word, FUTEX_LOCK_PI | FUTEX_PRIVATE_FLAG, 0, rm_deadline(&ts));
		w->err = errno;
		w->got = rm_load(w->word);
		if (!w->ret) {
			rm_futex(w->word, FUTEX_UNLOCK_PI | FUTEX_PRIVATE_FLAG, 0, NULL);
			w->after = rm_load(w->word);
		}
		return;
	}
	while (!(v & FUTEX_WAITERS) && !__atomic_compare_exchange_n(w->word, &v, v | FUTEX_WAITERS, 0, __ATOMIC_ACQ_REL,
								    __ATOMIC_ACQUIRE))
		;
	atomic_store(&w->calling, 1);
	for (double until = now_s() + 3 * RM_WAIT_S;;) {  /* a slow host's page-outs are not a missed wake-up */
		w->ret = rm_futex(w->word, FUTEX_WAIT, v | FUTEX_WAITERS, &ts);
		w->err = errno;
		if (!w->ret || (w->err != EINTR && (w->err != ETIMEDOUT || now_s() >= until)))
			break;
	}
	w->got = rm_load(w->word);
}

static void *rb_wait_thread(void *arg)
{
	rb_wait(arg);
	return NULL;
}

static void robust_cell(struct cell *c, int k)
{
	enum rbmem m = (enum rbmem)k;
	int shmem = m == RB_SHMEM || m == RB_SHMEM_PAGEOUT, out = m == RB_PAGEOUT || m == RB_SHMEM_PAGEOUT || m == RB_PI;
	size_t len = RM_PAGES * PAGE;
	char *map = rm_map(c, len, shmem, PAGE, MADV_NOHUGEPAGE), *want = malloc(len);
	struct rb_owner o = {0};
	struct rb_waiter *w = mmap(NULL, sizeof(*w), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_t ot, wt;
	pid_t kid = -1, wkid = -1;
	int go[2] = {-1, -1}, wstarted = 0;
	uint32_t tid, dead;
	long d;

	if (!map || !want || w == MAP_FAILED) {
		if (!map)
			goto free;
		cfail(c, "out of memory");
		goto unmap;
	}
	memset(w, 0, sizeof(*w));
	fill64(map, len, 0xb0b + k);
	o.lock = (struct rb_lock *)(map + RM_WORD - offsetof(struct rb_lock, word));
	o.head = (struct robust_list_head *)(map + RM_WORD + 64);  /* the list's head on the word's page */
	o.pi = m == RB_PI || m == RB_PI_COW;
	o.norobust = m == RB_PI_COW;
	memset(o.lock, 0, sizeof(*o.lock) + 64 + sizeof(*o.head));
	if (out && !swap_on()) {
		cskip(c, "no swap in /proc/swaps");
		goto unmap;
	}
	if ((errno = pthread_create(&ot, NULL, rb_owner_thread, &o))) {
		cfail(c, "pthread_create: %s", strerror(errno));
		goto unmap;
	}
	while (!atomic_load(&o.held))
		usleep(1000);
	tid = (uint32_t)atomic_load(&o.tid);
	if (o.ret) {
		cfail(c, "set_robust_list or the owner's FUTEX_LOCK_PI: %s", strerror(errno));
		goto die;
	}
	/* the waiter: a thread, or for shmem a child process */
	w->word = &o.lock->word;
	w->pi = o.pi;
	if (m == RB_SHMEM) {  /* another process; shmem-pageout's is a thread: MADV_PAGEOUT skips a page mapped twice */
		if ((wkid = cell_fork()) == 0) {
			rb_wait(w);
			_exit(0);
		}
		wstarted = wkid > 0;
	} else {
		wstarted = !(errno = pthread_create(&wt, NULL, rb_wait_thread, w));
	}
	if (!wstarted) {
		cfail(c, "the waiter: %s", strerror(errno));
		goto die;
	}
	for (double until = now_s() + RM_WAIT_S; !atomic_load(&w->calling) && now_s() < until;)
		usleep(1000);  /* a waiter child that died never calls */
	if (rm_sleeping(wkid > 0 ? wkid : 0, atomic_load(&w->tid))) {
		cskip(c, "the waiter did not block in %d s (word %#x)", RM_WAIT_S, rm_load(w->word));
		goto die;
	}
	if (rm_load(&o.lock->word) != (tid | FUTEX_WAITERS)) {
		cfail(c, "with the waiter blocked the word reads %#x, want %#x (TID | FUTEX_WAITERS)", rm_load(&o.lock->word),
		      tid | FUTEX_WAITERS);
		goto die;
	}
	memcpy(want, map, len);  /* the region as the owner leaves it */
	if (m == RB_COW || m == RB_PI_COW) {
		if (pipe(go) || (kid = cell_fork()) < 0) {
			cfail(c, "pipe or fork: %s", strerror(errno));
			goto die;
		}
		if (kid == 0) {  /* its copy, the owner's TID in it, whatever the parent's thread does */
			char x;

			_exit(read(go[0], &x, 1) != 1 ? 6 : first_diff(map, want, len) >= 0 ? 3 : 0);
		}
	}
	if (out && rm_pageout(c, map, len, shmem))
		cskip(c, "the word's page stayed in after three MADV_PAGEOUTs");
die:
	atomic_store(&o.die, 1);
	pthread_join(ot, NULL);
	if (wstarted && wkid > 0) {
		wait_child(c, wkid, "the waiting child");
	} else if (wstarted) {
		pthread_join(wt, NULL);
	}
	if (c->failed[0] || c->skip[0] || !wstarted)
		goto kid;
	/* PI: fixup_pi_state_owner() writes the new owner's TID | FUTEX_WAITERS | FUTEX_OWNER_DIED
	 * (the old owner gone, with or without a robust list) */
	dead = (o.pi ? (uint32_t)atomic_load(&w->tid) : 0) | FUTEX_WAITERS | FUTEX_OWNER_DIED;
	if (o.pi && w->ret)
		cfail(c, "the PI waiter's FUTEX_LOCK_PI after the owner died: %s", strerror(w->err));
	else if (!o.pi && w->ret)
		cfail(c, "the waiter was not woken when the owner died: FUTEX_WAIT %s (word %#x)", strerror(w->err), w->got);
	else if (w->got != dead)
		cfail(c, "the waiter %s with the word %#x, want %#x (%s)", o.pi ? "got the lock" : "woke", w->got, dead,
		      o.pi ? "its TID | FUTEX_WAITERS | FUTEX_OWNER_DIED" : "FUTEX_WAITERS | FUTEX_OWNER_DIED, the TID cleared");
	else if (o.pi && w->after)
		cfail(c, "the PI waiter's FUTEX_UNLOCK_PI left the word %#x, want 0", w->after);
	*(uint32_t *)(want + RM_WORD) = o.pi ? 0 : dead;
	if (!c->failed[0] && (d = first_diff(map, want, len)) >= 0)
		cfail(c, "the region differs at byte %ld after the owner died (the word at %d: %#x)", d, (int)RM_WORD,
		      rm_load(&o.lock->word));
kid:
	if (kid > 0) {
		if (write(go[1], "g", 1) != 1)
			cfail(c, "cannot tell the child to check");
		wait_child(c, kid, "the copy-on-write child (exit 3: its copy changed, the owner died in the parent)");
	}
	if (!c->failed[0] && !c->skip[0]) {
		none_held(c, map, len, "the robust list's walk");
		printf("# %s: the owner died holding the lock, %s; word %#x after\n", c->name,
		       o.pi ? "the PI waiter took it over" : "the waiter woke", rm_load(&o.lock->word));
	}
unmap:
	close_pair(go);
	munmap(map, len);
	if (w != MAP_FAILED)
		munmap(w, sizeof(*w));
	cell_file_close(c);
free:
	free(want);
}

/* -- remote/uffd-move ----------------------------------------------------------------------- */

enum umsrc { UM_SWAP, UM_ZERO, UM_SWAP_SHARED, NUM };
static const char *const um_names[NUM] = {"swap", "zero", "swap-shared"};

static void uffd_move_cell(struct cell *c, int k)
{
	enum umsrc s = (enum umsrc)k;
	size_t len = RM_PAGES * PAGE;
	char *src = map_aligned(len, PAGE, MADV_NOHUGEPAGE), *dst = map_aligned(len, PAGE, MADV_NOHUGEPAGE);
	char *want = malloc(len), *zero = calloc(1, len);
	struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_MOVE};
	struct uffdio_register reg = {.range = {(uintptr_t)dst, len}, .mode = UFFDIO_REGISTER_MODE_MISSING};
	struct uffdio_move mv = {.dst = (uintptr_t)dst, .src = (uintptr_t)src, .len = len};
	int uffd = -1, go[2] = {-1, -1}, r, e;
	pid_t kid = -1;
	long d;

	if (!src || !dst || !want || !zero) {
		cfail(c, "out of memory");
		goto out;
	}
	memset(want, 0, len);
	if (s == UM_ZERO) {
		for (size_t o = 0; o < len; o += PAGE)
			(void)*(volatile char *)(src + o);
		for (size_t o = 0; o < len && !c->skip[0]; o += PAGE)
			if (!((kpageflags(src + o) >> KPF_ZERO_PAGE) & 1))
				cskip(c, "source page %zu is not the zero page after a read fault (kpageflags)", o / PAGE);
	} else {
		fill64(want, len, 0x30e + k);
		memcpy(src, want, len);
		if (!swap_on())
			cskip(c, "no swap in /proc/swaps");
		else if ((d = rm_pageout(c, src, len, 0)))
			cskip(c, "%ld source page(s) stayed in after three MADV_PAGEOUTs", d);
	}
	if (c->skip[0])
		goto out;
	if (s == UM_SWAP_SHARED) {
		if (pipe(go) || (kid = cell_fork()) < 0) {
			cfail(c, "pipe or fork: %s", strerror(errno));
			goto out;
		}
		if (kid == 0) {
			char x;

			_exit(read(go[0], &x, 1) != 1 ? 6 : first_diff(src, want, len) >= 0 ? 3 : 0);
		}
	}
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) {
		cskip(c, "userfaultfd with UFFD_FEATURE_MOVE: %s", strerror(errno));
		goto kid;
	}
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		cfail(c, "UFFDIO_REGISTER (missing): %s", strerror(errno));
		goto kid;
	}
	for (size_t o = 0; s != UM_ZERO && o < len && !c->skip[0]; o += PAGE)
		if (!swap_entry_of(src + o))
			cskip(c, "source page %zu no longer swapped before the move (pagemap)", o / PAGE);
	if (c->skip[0])
		goto kid;
	r = ioctl(uffd, UFFDIO_MOVE, &mv);
	e = r ? errno : 0;
	if (s == UM_SWAP_SHARED) {
		if (e != EBUSY)
			cfail(c, "UFFDIO_MOVE of swap entries a child shares: %s (moved %lld), want EBUSY", e ? strerror(e) : "done",
			      (long long)mv.move);
		else if ((d = first_diff(src, want, len)) >= 0)
			cfail(c, "after the refused move the source differs at byte %ld", d);
		else if (pagemap(dst) >> 62)
			cfail(c, "after the refused move the destination's first page is mapped or swapped");
		goto kid;
	}
	if (e || mv.move != (long long)len) {
		cfail(c, "UFFDIO_MOVE of %zu bytes: %s, moved %lld", len, e ? strerror(e) : "done", (long long)mv.move);
		goto kid;
	}
	for (size_t o = 0; o < len && !c->failed[0]; o += PAGE)
		if (pagemap(src + o) >> 62)
			cfail(c, "source page %zu still %s after the move (pagemap)", o / PAGE,
			      (pagemap(src + o) >> 63) ? "present" : "swapped");
	close(uffd);  /* no handler serves dst: a page the move left missing must read as a hole, not block */
	uffd = -1;
	if (c->failed[0])
		;
	else if ((d = first_diff(dst, want, len)) >= 0)
		cfail(c, "the destination differs from what the source held at byte %ld", d);
	else if ((d = first_diff(src, zero, len)) >= 0)
		cfail(c, "the emptied source does not read zeros at byte %ld", d);
	else {  /* each side writes its own */
		fill64(dst, len, 0x31e);
		fill64(want, len, 0x31e);
		if ((d = first_diff(src, zero, len)) >= 0)
			cfail(c, "a write to the destination reached the source at byte %ld", d);
		fill64(src, len, 0x32e);
		if (!c->failed[0] && (d = first_diff(dst, want, len)) >= 0)
			cfail(c, "a write to the source reached the destination at byte %ld", d);
	}
	if (!c->failed[0])
		none_held(c, dst, len, "the move");
kid:
	if (kid > 0) {
		if (write(go[1], "g", 1) != 1)
			cfail(c, "cannot tell the child to check");
		wait_child(c, kid, "the child sharing the swap entries (exit 3: its copy changed)");
	}
	if (!c->failed[0] && !c->skip[0])
		printf("# %s: %zu pages %s\n", c->name, len / PAGE,
		       s == UM_SWAP_SHARED ? "refused (EBUSY), both sides kept" : "moved, destination exact, source empty");
out:
	if (uffd >= 0)
		close(uffd);
	close_pair(go);
	if (src)
		munmap(src, len);
	if (dst)
		munmap(dst, len);
	free(want);
	free(zero);
}

/* -- remote/pmadvise ------------------------------------------------------------------------ */

enum pmadv { PM_PAGEOUT, PM_COLD, PM_WILLNEED, PM_COLLAPSE, PM_BADIOV, NPM };
static const char *const pm_names[NPM] = {"pageout", "cold", "willneed", "collapse", "bad-iov"};
#define PM_PAGES 32
#define PM_PINNED 8  /* the first pages: the child's io_uring fixed buffer */

struct pm_share {
	char *addr, *huge;  /* the child's region, its 2 MiB range (collapse) */
	atomic_int ready;
	int thp_after;
	char why[200];
};

/* The child: maps, fills, pins (its own ring), says ready, waits for the parent, then checks
 * every byte and the pin both ways; exit 0, or 1 with why in sh->why */
static void pm_child(struct pm_share *sh, enum pmadv a, int go)
{
	size_t len = PM_PAGES * PAGE, plen = PM_PINNED * PAGE;
	char *r = map_aligned(len, PAGE, MADV_NOHUGEPAGE), *want = malloc(len), *via = malloc(plen), x;
	struct iovec iov = {r, plen};
	struct io_uring ur;
	const char *why;
	long d;

#define PM_FAIL(...) do { snprintf(sh->why, sizeof(sh->why), __VA_ARGS__); _exit(1); } while (0)
	if (!r || !want || !via || io_uring_queue_init(4, &ur, 0) || io_uring_register_buffers(&ur, &iov, 1))
		PM_FAIL("child: map, io_uring or its buffer registration failed");
	fill64(want, len, 0x9a0 + a);
	memcpy(r, want, len);
	if (a == PM_BADIOV)
		munmap(r + 20 * PAGE, 2 * PAGE);  /* the hole the second iovec runs into */
	if (a == PM_COLLAPSE) {
		if (!(sh->huge = map_aligned(HPAGE, HPAGE, MADV_NOHUGEPAGE)))
			PM_FAIL("child: cannot map 2 MiB");
		fill64(sh->huge, HPAGE, 0x9af);
		madvise(sh->huge, HPAGE, MADV_HUGEPAGE);  /* small pages now, collapsible */
	}
	if (a == PM_WILLNEED)
		madvise(r + plen, len - plen, MADV_PAGEOUT);
	sh->addr = r;
	atomic_store(&sh->ready, 1);
	if (read(go, &x, 1) != 1)
		PM_FAIL("child: the parent went away");
	if (a == PM_COLLAPSE) {
		char *hw = malloc(HPAGE);

		sh->thp_after = is_thp(sh->huge);
		if (!hw)
			PM_FAIL("child: out of memory");
		fill64(hw, HPAGE, 0x9af);
		if ((d = first_diff(sh->huge, hw, HPAGE)) >= 0)
			PM_FAIL("child: its 2 MiB range differs at byte %ld after the collapse", d);
	}
	for (size_t o = 0; o < len; o += PAGE) {
		if (a == PM_BADIOV && o / PAGE >= 20 && o / PAGE < 22)
			continue;
		if ((d = first_diff(r + o, want + o, PAGE)) >= 0)
			PM_FAIL("child: page %zu differs at byte %ld after the parent's process_madvise", o / PAGE, d);
	}
	/* the pin both ways: what the child writes the pin reads, and the other way round */
	fill64(r, plen, 0x9b0);
	if ((why = rm_uring_both(&ur, r, plen, r, 0x9b1, via)))
		PM_FAIL("child: %s", why);
	io_uring_unregister_buffers(&ur);
	io_uring_queue_exit(&ur);
	_exit(0);
#undef PM_FAIL
}

/* Pages [from, to) of the child's region swapped in its pagemap */
static long pm_swapped(pid_t kid, char *r, long from, long to)
{
	long n = 0;

	for (long i = from; i < to; i++)
		n += (pagemap_of(kid, (uintptr_t)(r + i * PAGE)) >> 62 & 3) == 1;
	return n;
}

static void pmadvise_cell(struct cell *c, int k)
{
	enum pmadv a = (enum pmadv)k;
	static const int adv[NPM] = {MADV_PAGEOUT, MADV_COLD, MADV_WILLNEED, MADV_COLLAPSE, MADV_PAGEOUT};
	struct pm_share *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct iovec iov[3];
	int go[2] = {-1, -1}, pidfd = -1, n = 3, st = 0;
	long before = 0, want_ret, in_pinned, swapped;
	const char *stat = a == PM_COLD ? "pgdeactivate" : a == PM_WILLNEED ? "pswpin" : "thp_collapse_alloc";
	ssize_t r = 0;
	pid_t kid;

	if (sh == MAP_FAILED || pipe(go)) {
		cfail(c, "shared memory or pipe: %s", strerror(errno));
		goto out;
	}
	memset(sh, 0, sizeof(*sh));
	if (a != PM_COLLAPSE && !swap_on()) {
		cskip(c, "no swap in /proc/swaps");
		goto out;
	}
	if ((kid = cell_fork()) == 0)
		pm_child(sh, a, go[0]);
	if (kid < 0) {
		cfail(c, "fork: %s", strerror(errno));
		goto out;
	}
	for (double until = now_s() + RM_WAIT_S; !atomic_load(&sh->ready) && now_s() < until;)
		usleep(1000);
	if (!atomic_load(&sh->ready) && waitpid(kid, &st, WNOHANG) == 0) {
		/* still setting up (mapping, registering, paging out) on a loaded guest: the premise */
		cskip(c, "the child did not get ready in %d s, still running", RM_WAIT_S);
		kill(kid, SIGKILL);
		waitpid(kid, &st, 0);
		goto out;
	}
	if (!atomic_load(&sh->ready)) {  /* it ended (reaped above): why it said, or its status */
		cfail(c, "the child ended before it was ready (status %#x)%s%s", st, sh->why[0] ? ": " : "", sh->why);
		goto out;
	}
	pidfd = (int)syscall(SYS_pidfd_open, kid, 0);
	if (pidfd < 0) {
		cfail(c, "pidfd_open: %s", strerror(errno));
		goto kid;
	}
	/* odd pieces: 5 pages, 1 page, the rest; bad-iov: 4 pages, 4 into the hole at 20-21, 8 */
	if (a == PM_COLLAPSE) {
		iov[0] = (struct iovec){sh->huge, HPAGE};
		n = 1;
	} else if (a == PM_BADIOV) {
		iov[0] = (struct iovec){sh->addr + 8 * PAGE, 4 * PAGE};
		iov[1] = (struct iovec){sh->addr + 18 * PAGE, 4 * PAGE};
		iov[2] = (struct iovec){sh->addr + 24 * PAGE, 8 * PAGE};
	} else {
		iov[0] = (struct iovec){sh->addr, 5 * PAGE};
		iov[1] = (struct iovec){sh->addr + 5 * PAGE, PAGE};
		iov[2] = (struct iovec){sh->addr + 6 * PAGE, (PM_PAGES - 6) * PAGE};
	}
	want_ret = a == PM_BADIOV ? 4 * PAGE : a == PM_COLLAPSE ? HPAGE : PM_PAGES * PAGE;
	if (a == PM_COLD) {  /* activate them first: remote GUP marks them accessed (FOLL_TOUCH), three times */
		char *buf = malloc(PM_PAGES * PAGE);
		struct iovec mine = {buf, PM_PAGES * PAGE}, theirs = {sh->addr, PM_PAGES * PAGE};

		for (int i = 0; buf && i < 3; i++)
			if (process_vm_readv(kid, &mine, 1, &theirs, 1, 0) != (ssize_t)(PM_PAGES * PAGE))
				cfail(c, "process_vm_readv of the child's pages: %s", strerror(errno));
		free(buf);
	}
	before = vmstat(stat);
	r = syscall(SYS_process_madvise, pidfd, iov, n, adv[a], 0);
	if (a == PM_COLLAPSE && r < 0 && errno == EAGAIN)
		cskip(c, "process_madvise(MADV_COLLAPSE): EAGAIN (nothing collapsed)");
	else if (r != want_ret)
		cfail(c, "process_madvise(%s) over %d iovec(s): %zd (%s), want %ld", pm_names[a], n, r,
		      r < 0 ? strerror(errno) : "bytes", want_ret);
	if (c->failed[0] || c->skip[0] || r < 0)
		goto kid;
	in_pinned = pm_swapped(kid, sh->addr, 0, PM_PINNED);
	if (in_pinned)
		cfail(c, "%ld pinned page(s) of the child swapped out (its pagemap): the pin lost them", in_pinned);
	switch (a) {
	case PM_PAGEOUT:
		if ((swapped = pm_swapped(kid, sh->addr, PM_PINNED, PM_PAGES)) < PM_PAGES - PM_PINNED)
			cskip(c, "only %ld of the %d unpinned pages swapped (the child's pagemap)", swapped, PM_PAGES - PM_PINNED);
		break;
	case PM_BADIOV:
		/* fewer of the first iovec's pages out is reclaim passing them over (SKIP, as pageout's
		 * unpinned pages): the verdict is the third iovec's, after the bad one */
		if ((swapped = pm_swapped(kid, sh->addr, 24, 32)))
			cfail(c, "%ld page(s) of the third iovec swapped: done past the bad iovec", swapped);
		else if ((swapped = pm_swapped(kid, sh->addr, 8, 12)) < 4)
			cskip(c, "only %ld of the first iovec's 4 pages swapped (the child's pagemap), the call counted it"
			      " done", swapped);
		break;
	default:
		if (vmstat(stat) == before)
			cskip(c, "%s did not move", stat);
		break;
	}
kid:
	if (write(go[1], "g", 1) != 1)
		cfail(c, "cannot tell the child to check");
	wait_child(c, kid, "the child whose memory was advised");  /* a child that died fails the cell too */
	if (sh->why[0])
		cfail(c, "%s", sh->why);
	if (a == PM_COLLAPSE && !c->failed[0] && !c->skip[0] && !sh->thp_after)
		cskip(c, "process_madvise(MADV_COLLAPSE) succeeded but the child's range is no THP (kpageflags)");
	if (!c->failed[0] && !c->skip[0])
		printf("# %s: %zd bytes advised in %d iovec(s); the child's bytes and its pin both ways intact\n",
		       c->name, r, n);
out:
	if (pidfd >= 0)
		close(pidfd);
	close_pair(go);
	if (sh != MAP_FAILED)
		munmap(sh, sizeof(*sh));
}

/* -- remote/swap-share ---------------------------------------------------------------------- */

#define SS_KIDS 70  /* past SWAP_MAP_MAX (62) references to one swap entry */

static void swap_share_cell(struct cell *c, int unused)
{
	char *p = map_aligned(PAGE, PAGE, MADV_NOHUGEPAGE), *want = malloc(PAGE), *via = malloc(PAGE);
	pid_t kids[SS_KIDS];
	int go[2] = {-1, -1}, late[2] = {-1, -1}, nk = 0;
	uint64_t ent = 0;
	struct iovec iov, loc;
	ssize_t r;
	long d;

	if (!p || !want || !via || pipe(go) || pipe(late)) {
		cfail(c, "out of memory or pipes");
		goto out;
	}
	fill64(want, PAGE, 0x55c);
	memcpy(p, want, PAGE);
	if (!swap_on())
		cskip(c, "no swap in /proc/swaps");
	else if (rm_pageout(c, p, PAGE, 0) || !(ent = swap_entry_of(p)))
		cskip(c, "the page did not swap out in three MADV_PAGEOUTs");
	if (c->skip[0])
		goto out;
	for (; nk < SS_KIDS; nk++) {
		if ((kids[nk] = cell_fork()) == 0) {
			char x, *mine = malloc(PAGE);

			close(go[1]);
			close(late[1]);
			if (nk % 2)  /* never touches it: its reference goes at exit, after the readers' */
				_exit(read(late[0], &x, 1) != 0 ? 6 : 0);
			if (read(go[0], &x, 1) != 0)  /* EOF: every child forked */
				_exit(6);
			if (first_diff(p, want, PAGE) >= 0)
				_exit(4);
			if (nk % 3 == 0) {
				fill64(mine, PAGE, 0x600 + nk);
				memcpy(p, mine, PAGE);
				if (first_diff(p, mine, PAGE) >= 0)
					_exit(3);
			}
			_exit(0);
		}
		if (kids[nk] < 0) {
			cfail(c, "fork of child %d: %s", nk, strerror(errno));
			break;
		}
	}
	if (!c->failed[0] && swap_entry_of(p) != ent)
		cskip(c, "the parent's page is no longer the swap entry after the forks (pagemap %#llx)",
		      (unsigned long long)pagemap(p));
	/* the readers first (the page comes into the swap cache, mapped, then unmapped at their
	 * exits), then the others exit with their swap entry unfaulted: each exit puts a reference
	 * (free_swap_and_cache_nr()), and one too many would free the entry and its swap-cache
	 * page while the parent's is still there */
	close(go[1]);
	go[1] = -1;
	for (int pass = 0; pass < 2; pass++) {
		if (pass) {
			close(late[1]);
			late[1] = -1;
		}
		for (int i = pass; i < nk; i += 2) {
			int st;

			if (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) || WEXITSTATUS(st))
				cfail(c, "child %d of %d sharing the swap entry: status %#x (exit 4: its copy's bytes wrong, 3: its "
				      "write did not read back)", i, nk, st);
		}
	}
	if (c->failed[0] || c->skip[0])
		goto out;
	/* first through GUP (process_vm_readv of itself): an entry freed under the parent's page
	 * makes its swap-in fault VM_FAULT_OOM, retried forever by a plain access, an error here
	 * (EFAULT in 6.12) */
	loc = (struct iovec){via, PAGE};
	iov = (struct iovec){p, PAGE};
	if ((r = process_vm_readv(getpid(), &loc, 1, &iov, 1, 0)) != (ssize_t)PAGE) {
		cfail(c, "reading the parent's page through GUP after the children: %zd (%s), the swap entry gone under it?",
		      r, r < 0 ? strerror(errno) : "short");
		goto out;
	}
	if ((d = first_diff(via, want, PAGE)) >= 0 || (d = first_diff(p, want, PAGE)) >= 0) {
		cfail(c, "the parent's page differs at byte %ld after %d children read and wrote their copies", d, nk);
		goto out;
	}
	/* the parent pins its page and checks it both ways */
	iov = (struct iovec){p, PAGE};
	if (!ring_ok) {
		cskip(c, "io_uring_queue_init failed");
	} else if (io_uring_register_buffers(&ring, &iov, 1)) {
		cfail(c, "io_uring_register_buffers of the page: failed");
	} else {
		const char *why = rm_uring_both(&ring, p, PAGE, want, 0x55d, via);

		if (why)
			cfail(c, "the parent's page after the children: %s", why);
		io_uring_unregister_buffers(&ring);
	}
	if (!c->failed[0]) {
		none_held(c, p, PAGE, "the unpin");
		printf("# %s: swap entry %#llx shared by %d children and the parent; every copy exact\n", c->name,
		       (unsigned long long)ent, nk);
	}
out:
	close_pair(go);
	close_pair(late);
	if (p)
		munmap(p, PAGE);
	free(want);
	free(via);
}

/* -- remote/vmsplice-to --------------------------------------------------------------------- */

enum vtmem { VT_ANON, VT_THP, VT_SHMEM, VT_EXT4, VT_HUGE, NVT };
static const char *const vt_names[NVT] = {"anon", "thp", "shmem", "ext4-shared", "hugetlb"};
#define VT_LEN (48 * PAGE)  /* what goes through the pipe, of 64 pages' room */

/* The pipe filled with VT_LEN bytes of pat: a third by write(), a third by vmsplice of user
 * pages (unmapped after: the pipe keeps them), a third by splice from an ext4 file (a memfd
 * when there is no ext4) */
static int vt_fill(struct cell *c, int p[2], const char *pat)
{
	size_t third = VT_LEN / 3, rest = VT_LEN - 2 * third;
	char *src = map_aligned(third, PAGE, MADV_NOHUGEPAGE), path[300];
	struct iovec iov = {src, third};
	loff_t off = 0;
	int fd, ok;

	if (!src) {
		cfail(c, "out of memory");
		return -1;
	}
	memcpy(src, pat + third, third);
	if (ext4_dir) {
		snprintf(path, sizeof(path), "%s/remote-vt.%d", ext4_dir, getpid());
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		unlink(path);
	} else {
		fd = memfd_create("remote-vt", 0);
	}
	ok = fd >= 0 && pwrite(fd, pat + 2 * third, rest, 0) == (ssize_t)rest && write(p[1], pat, third) == (ssize_t)third &&
	     vmsplice(p[1], &iov, 1, 0) == (ssize_t)third && splice(fd, &off, p[1], NULL, rest, 0) == (ssize_t)rest;
	if (!ok)
		cfail(c, "filling the pipe by write, vmsplice and splice: %s", strerror(errno));
	/* the cell holds the write end: a drain that a bug left empty must fail, not block */
	if (ok && fcntl(p[0], F_SETFL, O_NONBLOCK))
		cfail(c, "O_NONBLOCK on the pipe: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	munmap(src, third);
	return ok ? 0 : -1;
}

/* The destination of VT_LEN bytes and more: c->map, len in c->half; -1 said why */
static int vt_map(struct cell *c, enum vtmem m)
{
	size_t len = m == VT_THP || m == VT_HUGE ? HPAGE : 64 * PAGE;
	char *map = MAP_FAILED;

	c->half = len;
	if (m == VT_HUGE) {
		map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (map == MAP_FAILED)
			cskip(c, "no hugetlb page: %s", strerror(errno));
	} else if (m == VT_SHMEM || m == VT_EXT4) {
		if (m == VT_EXT4 && !ext4_dir) {
			cskip(c, "no ext4 directory given (-d)");
			return -1;
		}
		if (m == VT_EXT4) {
			snprintf(c->path, sizeof(c->path), "%s/remote-vt-dst.%d", ext4_dir, getpid());
			c->fd = open(c->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		} else {
			c->fd = memfd_create("remote-vt-dst", 0);
		}
		if (c->fd < 0 || ftruncate(c->fd, (off_t)len) ||
		    (map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0)) == MAP_FAILED)
			cfail(c, "the destination file: %s", strerror(errno));
	} else if (!(map = map_aligned(len, m == VT_THP ? HPAGE : PAGE, m == VT_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))) {
		cfail(c, "cannot map: %s", strerror(errno));
		map = MAP_FAILED;
	} else if (m == VT_THP && (memset(map, 0, len), !is_thp(map))) {
		cskip(c, "no THP behind the destination (kpageflags)");
		munmap(map, len);
		map = MAP_FAILED;
	}
	c->map = map == MAP_FAILED ? NULL : map;
	return c->map ? 0 : -1;
}

static void vmsplice_to_cell(struct cell *c, int k)
{
	enum vtmem m = (enum vtmem)k;
	/* three calls: 3 iovecs, 2 iovecs, the rest in one; odd sizes, at odd offsets */
	static const size_t pieces[2][3] = {{1000, 5000, 3 * PAGE + 7}, {2 * PAGE - 7, 1, 0}};
	char *pat = malloc(VT_LEN), *back = malloc(VT_LEN), *bad = MAP_FAILED, *map;
	size_t got = 0, off = 11, lim;
	struct iovec iov[3];
	int p[2] = {-1, -1};
	ssize_t r;
	long d;

	if (!pat || !back || pipe(p) || fcntl(p[0], F_SETPIPE_SZ, (int)(64 * PAGE)) < 0) {
		cfail(c, "out of memory or a 64-page pipe: %s", strerror(errno));
		goto out;
	}
	if (vt_map(c, m))
		goto out;
	map = c->map;
	memset(map, 0xee, c->half);
	fill64(pat, VT_LEN, 0x7e0 + k);
	if (vt_fill(c, p, pat))
		goto out;
	for (int call = 0; call < 3; call++) {
		size_t want = 0, n = 0;

		for (; call < 2 && n < 3 && pieces[call][n]; n++) {
			iov[n] = (struct iovec){map + off + got + want, pieces[call][n]};
			want += pieces[call][n];
		}
		if (call == 2)
			iov[n++] = (struct iovec){map + off + got, want = VT_LEN - got};
		r = vmsplice(p[0], iov, n, SPLICE_F_NONBLOCK);  /* an empty pipe: EAGAIN, not a hang */
		if (r != (ssize_t)want) {
			cfail(c, "vmsplice from the pipe into %zu iovec(s) of %zu bytes at %zu: %zd (%s)", n, want, off + got, r,
			      r < 0 ? strerror(errno) : "short");
			goto out;
		}
		got += want;
	}
	if ((d = first_diff(map + off, pat, VT_LEN)) >= 0) {
		cfail(c, "what vmsplice put into the destination differs from what went into the pipe at byte %ld (%s)", d,
		      d < (long)(VT_LEN / 3) ? "written" : d < (long)(2 * VT_LEN / 3) ? "vmspliced" : "spliced from a file");
		goto out;
	}
	if (map[off - 1] != (char)0xee || map[off + VT_LEN] != (char)0xee) {
		cfail(c, "vmsplice wrote past the iovecs it was given");
		goto out;
	}
	if (m == VT_EXT4) {  /* the file on disk after drop_caches */
		msync(map, c->half, MS_SYNC);
		fsync(c->fd);
		drop_caches();
		if (pread(c->fd, back, VT_LEN, (off_t)off) != (ssize_t)VT_LEN || (d = first_diff(back, pat, VT_LEN)) >= 0) {
			cfail(c, "the file read back after drop_caches differs at byte %ld", d);
			goto out;
		}
	}
	/* again: two iovecs in the destination, the third one page of anonymous memory, then
	 * read-only pages: a short count of whole pipe buffers at most to the read-only page */
	bad = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (bad == MAP_FAILED || mprotect(bad + PAGE, 2 * PAGE, PROT_READ)) {
		cfail(c, "the read-only pages: %s", strerror(errno));
		goto out;
	}
	memset(map, 0xee, c->half);
	if (vt_fill(c, p, pat))
		goto out;
	iov[0] = (struct iovec){map, 3 * PAGE + 100};
	iov[1] = (struct iovec){map + 4 * PAGE, 100};
	iov[2] = (struct iovec){bad, 3 * PAGE};
	lim = 3 * PAGE + 200 + PAGE;  /* the bytes that fit before the read-only page */
	r = vmsplice(p[0], iov, 3, SPLICE_F_NONBLOCK);
	if (r <= 0 || (size_t)r > lim) {
		cfail(c, "vmsplice with the third iovec running into a read-only page: %zd (%s), want a short count of 1 to "
		      "%zu bytes", r, r < 0 ? strerror(errno) : "bytes", lim);
		goto out;
	}
	got = (size_t)r;
	if ((d = first_diff(map, pat, got < 3 * PAGE + 100 ? got : 3 * PAGE + 100)) >= 0 ||
	    (got > 3 * PAGE + 100 && (d = first_diff(map + 4 * PAGE, pat + 3 * PAGE + 100, got < 3 * PAGE + 200 ? got - (3 * PAGE + 100) : 100)) >= 0) ||
	    (got > 3 * PAGE + 200 && (d = first_diff(bad, pat + 3 * PAGE + 200, got - (3 * PAGE + 200))) >= 0)) {
		cfail(c, "the bytes of the short count %zd are not in place (byte %ld of a piece)", r, d);
		goto out;
	}
	/* the rest of the pipe: exactly from where the count stopped */
	for (size_t at = got; at < VT_LEN;) {
		r = read(p[0], back + at, VT_LEN - at);
		if (r <= 0) {
			cfail(c, "read of the pipe's rest after the short vmsplice: %zd at %zu of %zu", r, at, (size_t)VT_LEN);
			goto out;
		}
		at += (size_t)r;
	}
	if ((d = first_diff(back + got, pat + got, VT_LEN - got)) >= 0)
		cfail(c, "after a short vmsplice of %zu bytes the pipe's rest differs at byte %ld of the stream", got,
		      (long)got + d);
	else
		printf("# %s: three calls of odd pieces exact; the bad range: %zu of at most %zu bytes counted and in place, "
		       "the pipe went on there\n", c->name, got, lim);
out:
	close_pair(p);
	if (bad != MAP_FAILED)
		munmap(bad, 3 * PAGE);
	if (c->map)
		munmap(c->map, c->half);
	cell_file_close(c);
	free(pat);
	free(back);
}

/* -- remote/uffd-poison ---------------------------------------------------------------------- */

enum upentry { UP_ACCESS, UP_GUP, UP_URING, UP_DIO, UP_PVM, NUP };
static const char *const up_names[NUP] = {"access", "gup-longterm", "uring-register", "dio-read", "pvm-writev"};
#define UP_LEN (4 * PAGE)  /* pages 0, 2, 3 filled by UFFDIO_COPY, page 1 poisoned */

static sigjmp_buf rm_jmp;

static void rm_on_bus(int sig)
{
	(void)sig;
	siglongjmp(rm_jmp, 1);
}

/* The refusal of a pin over the poisoned page must be the poison's: EFAULT (GUP without
 * FOLL_HWPOISON) or EHWPOISON, not EINVAL or EBUSY of a pinner some earlier cell left busy */
static int up_refusal(struct cell *c, int err)
{
	if (err == EFAULT || err == EHWPOISON)
		return 0;
	cfail(c, "the pin over a poisoned page was refused with %s, want EFAULT or EHWPOISON", strerror(err));
	return -1;
}

/* A positive control before a refusal is trusted: the same pinner must take page 0 (filled,
 * not poisoned) alone, and give it back */
static int up_control(struct cell *c, enum upentry e, char *map)
{
	struct pin_longterm_test a = {.addr = (uintptr_t)map, .size = PAGE, .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE};
	struct iovec one = {map, PAGE};
	int r;

	if (e == UP_GUP) {
		if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &a)) {
			cfail(c, "control: a long-term pin of the unpoisoned page 0 failed: %s", strerror(errno));
			return -1;
		}
		ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
		return 0;
	}
	if ((r = io_uring_register_buffers(&ring, &one, 1))) {
		cfail(c, "control: io_uring registration of the unpoisoned page 0 failed: %s", strerror(-r));
		return -1;
	}
	io_uring_unregister_buffers(&ring);
	return 0;
}

/* Entry e over the whole range, page 1 poisoned: what it did, 0 refused or short (as it must:
 * nothing past page 0, told in *done), -1 the cell failed or skipped */
static int up_try(struct cell *c, enum upentry e, char *map, const char *other, ssize_t *done)
{
	struct pin_longterm_test a = {.addr = (uintptr_t)map, .size = UP_LEN, .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE};
	struct iovec loc = {(void *)other, UP_LEN}, rem = {map, UP_LEN};
	char path[300];
	int fd;

	*done = 0;
	switch (e) {
	case UP_ACCESS:
		signal(SIGBUS, rm_on_bus);
		if (!sigsetjmp(rm_jmp, 1)) {
			char v = *(volatile char *)(map + PAGE);

			cfail(c, "a read of the poisoned page returned %#x, want SIGBUS", v & 0xff);
		}
		signal(SIGBUS, SIG_DFL);
		return c->failed[0] ? -1 : 0;
	case UP_GUP:
		if (gup_fd < 0) {
			cskip(c, "no /sys/kernel/debug/gup_test");
			return -1;
		}
		if (up_control(c, e, map))  /* the same pinner takes page 0 alone: it is free to refuse */
			return -1;
		if (!ioctl(gup_fd, PIN_LONGTERM_TEST_START, &a)) {
			ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
			cfail(c, "a long-term pin of a range with a poisoned page succeeded");
			return -1;
		}
		return up_refusal(c, errno);
	case UP_URING:
		if (!ring_ok) {
			cskip(c, "io_uring_queue_init failed");
			return -1;
		}
		if (up_control(c, e, map))
			return -1;
		if (!(fd = io_uring_register_buffers(&ring, &rem, 1))) {
			io_uring_unregister_buffers(&ring);
			cfail(c, "io_uring registration of a range with a poisoned page succeeded");
			return -1;
		}
		return up_refusal(c, -fd);
	case UP_DIO:
		if ((fd = dio_ext4_file(c, "remote-poison", path, sizeof(path), other, UP_LEN)) < 0)
			return -1;
		unlink(path);
		*done = pread(fd, map, UP_LEN, 0);
		close(fd);
		break;
	default:
		*done = process_vm_writev(getpid(), &loc, 1, &rem, 1, 0);
		break;
	}
	if (*done > (ssize_t)PAGE) {
		cfail(c, "%s over a range whose page 1 is poisoned: %zd bytes, more than the page before it", up_names[e],
		      *done);
		return -1;
	}
	if (*done < 0)
		*done = 0;
	return 0;
}

static void uffd_poison_cell(struct cell *c, int k)
{
	enum upentry e = (enum upentry)k;
	char *map = map_aligned(UP_LEN, PAGE, MADV_NOHUGEPAGE), *src = aligned_alloc(PAGE, UP_LEN);
	char *other = aligned_alloc(PAGE, UP_LEN), *want = malloc(UP_LEN);
	struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_POISON};
	struct uffdio_register reg = {.range = {(uintptr_t)map, UP_LEN}, .mode = UFFDIO_REGISTER_MODE_MISSING};
	struct uffdio_poison po = {.range = {(uintptr_t)map + PAGE, PAGE}};
	struct pinmark pm;
	ssize_t done = 0;
	int uffd = -1;
	long d;

	if (!map || !src || !other || !want) {
		cfail(c, "out of memory");
		goto out;
	}
	fill64(src, UP_LEN, 0x9e0);
	fill64(other, UP_LEN, 0x9e1);
	memcpy(want, src, UP_LEN);
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) {
		cskip(c, "userfaultfd with UFFD_FEATURE_POISON: %s", strerror(errno));
		goto out;
	}
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		cfail(c, "UFFDIO_REGISTER (missing): %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < 4 && !c->failed[0]; i += i ? 1 : 2) {  /* pages 0, 2, 3 */
		struct uffdio_copy cp = {.dst = (uintptr_t)map + i * PAGE, .src = (uintptr_t)src + i * PAGE, .len = PAGE};

		if (ioctl(uffd, UFFDIO_COPY, &cp) || cp.copy != (long long)PAGE)
			cfail(c, "UFFDIO_COPY of page %d: %s", i, strerror(errno));
	}
	if (c->failed[0] || uf_ioctl(c, uffd, UFFDIO_POISON, &po, 0, "UFFDIO_POISON of page 1"))
		goto out;
	if (po.updated != (long long)PAGE) {
		cfail(c, "UFFDIO_POISON of one page updated %lld bytes", (long long)po.updated);
		goto out;
	}
	po.range.start = (uintptr_t)map;  /* a filled page: refused */
	if (uf_ioctl(c, uffd, UFFDIO_POISON, &po, EEXIST, "UFFDIO_POISON of a filled page"))
		goto out;
	pin_mark(&pm);
	if (up_try(c, e, map, other, &done))
		goto out;
	pins_back(c, &pm, up_names[e]);
	memcpy(want, other, (size_t)done);  /* what the entry wrote into page 0 before the poisoned page */
	if (e == UP_DIO && !done && first_diff(map, other, PAGE) < 0)
		memcpy(want, other, PAGE);  /* an O_DIRECT read that failed may have filled page 0 before the error */
	if (!c->failed[0] && ((d = first_diff(map, want, PAGE)) >= 0 || (d = first_diff(map + 2 * PAGE, want + 2 * PAGE,
											      2 * PAGE)) >= 0))
		cfail(c, "after the %s the filled pages differ at byte %ld (%zd bytes written before the poison)",
		      up_names[e], d < (long)PAGE ? d : d + 2 * (long)PAGE, done);
	if (!c->failed[0])
		none_held(c, map, UP_LEN, up_names[e]);
	if (!c->failed[0] && !c->skip[0])
		printf("# %s: %s at the poisoned page (%zd bytes before it), no pin left, the filled pages intact\n", c->name,
		       e == UP_ACCESS ? "SIGBUS" : "refused or cut short", done);
out:
	if (uffd >= 0)
		close(uffd);
	if (map)
		munmap(map, UP_LEN);
	free(src);
	free(other);
	free(want);
}

/* -- remote/uffd-hugetlb -------------------------------------------------------------------- */

enum uhpin { UH_URING, UH_DIO, NUH };
static const char *const uh_names[NUH] = {"uring", "dio"};

struct uh_serve {
	int uffd;
	char *map;
	atomic_int served, stop;
	char why[160];
};

/* The handler: each MISSING fault of the huge pages served by UFFDIO_COPY of the page's pattern
 * (fill64, seed 0x4b0 + its index) */
static void *uh_thread(void *arg)
{
	struct uh_serve *s = arg;
	char *src = aligned_alloc(PAGE, HPAGE);
	struct pollfd pfd = {s->uffd, POLLIN, 0};
	struct uffd_msg msg;

	while (src && !atomic_load(&s->stop)) {
		if (poll(&pfd, 1, 50) != 1 || read(s->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
		    msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		uintptr_t at = msg.arg.pagefault.address & ~(HPAGE - 1);
		struct uffdio_copy cp = {.dst = at, .src = (uintptr_t)src, .len = HPAGE};

		fill64(src, HPAGE, 0x4b0 + (unsigned)((at - (uintptr_t)s->map) / HPAGE));
		if (ioctl(s->uffd, UFFDIO_COPY, &cp) && errno != EEXIST) {
			struct uffdio_range all = {(uintptr_t)s->map, 2 * HPAGE};

			snprintf(s->why, sizeof(s->why), "the handler's UFFDIO_COPY: %s", strerror(errno));
			ioctl(s->uffd, UFFDIO_UNREGISTER, &all);  /* wakes the waiter: the cell fails, not hangs */
			break;
		}
		atomic_fetch_add(&s->served, 1);
	}
	free(src);
	return NULL;
}

static void uffd_hugetlb_cell(struct cell *c, int k)
{
	size_t len = 2 * HPAGE;
	char *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	char *want = aligned_alloc(PAGE, HPAGE), *got = aligned_alloc(PAGE, HPAGE), path[300];
	struct uffdio_api api = {.api = UFFD_API};
	struct uffdio_register reg = {.range = {(uintptr_t)map, len}, .mode = UFFDIO_REGISTER_MODE_MISSING};
	struct iovec iov = {map, HPAGE};
	struct uh_serve s = {.uffd = -1, .map = map};
	struct pinmark pm;
	long free0 = read_long(HUGE_FREE), d = -1;
	pthread_t th;
	int started = 0, fd = -1;

	if (map == MAP_FAILED || !want || !got) {
		cskip(c, "no hugetlb pages (mmap MAP_HUGETLB: %s)", strerror(errno));
		goto out;
	}
	if (k == UH_URING ? !ring_ok : !ext4_dir) {
		cskip(c, k == UH_URING ? "io_uring_queue_init failed" : "no ext4 directory given (-d)");
		goto out;
	}
	s.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (s.uffd < 0 || ioctl(s.uffd, UFFDIO_API, &api) || ioctl(s.uffd, UFFDIO_REGISTER, &reg)) {
		cfail(c, "userfaultfd on hugetlb (register missing): %s", strerror(errno));
		goto out;
	}
	if ((errno = pthread_create(&th, NULL, uh_thread, &s))) {
		cfail(c, "pthread_create: %s", strerror(errno));
		goto out;
	}
	started = 1;
	pin_mark(&pm);
	if (k == UH_URING) {  /* the registration's GUP waits in hugetlb_handle_userfault() */
		if (io_uring_register_buffers(&ring, &iov, 1)) {
			cfail(c, "io_uring registration of a missing hugetlb page: failed");
			goto stop;
		}
		const char *why;

		fill64(want, HPAGE, 0x4b0);  /* the handler's copy */
		if ((why = rm_uring_both(&ring, map, HPAGE, want, 0x4c0, got)))
			cfail(c, "the served huge page: %s", why);
		io_uring_unregister_buffers(&ring);
	} else {  /* O_DIRECT write from page 0 (a read pin), read into page 1 (a write pin), both missing */
		snprintf(path, sizeof(path), "%s/remote-uh.%d", ext4_dir, getpid());
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
		unlink(path);
		fill64(want, HPAGE, 0x4b0);
		if (fd < 0 || pwrite(fd, map, HPAGE, 0) != (ssize_t)HPAGE || pread(fd, got, HPAGE, 0) != (ssize_t)HPAGE) {
			cfail(c, "O_DIRECT write from a missing hugetlb page: %s", strerror(errno));
			goto stop;
		}
		if ((d = first_diff(got, want, HPAGE)) >= 0) {
			cfail(c, "the file holds byte %ld other than the handler's copy of page 0", d);
			goto stop;
		}
		fill64(want, HPAGE, 0x4c0);
		if (pwrite(fd, want, HPAGE, HPAGE) != (ssize_t)HPAGE || pread(fd, map + HPAGE, HPAGE, HPAGE) != (ssize_t)HPAGE)
			cfail(c, "O_DIRECT read into a missing hugetlb page: %s", strerror(errno));
		else if ((d = first_diff(map + HPAGE, want, HPAGE)) >= 0)
			cfail(c, "the huge page read into differs from the file at byte %ld", d);
	}
stop:
	atomic_store(&s.stop, 1);
	pthread_join(th, NULL);
	started = 0;
	if (!c->failed[0] && s.why[0])
		cfail(c, "%s", s.why);
	if (!c->failed[0])
		pins_back(c, &pm, "the pin over the served huge page");
	if (!c->failed[0] && atomic_load(&s.served) < (k == UH_URING ? 1 : 2))
		cskip(c, "the handler served %d fault(s): the pin did not wait in the MISSING fault",
		      atomic_load(&s.served));
	if (!c->failed[0] && !c->skip[0])
		printf("# %s: %d MISSING fault(s) of the pinner served by the handler; both ways exact\n", c->name,
		       atomic_load(&s.served));
out:
	if (started) {
		atomic_store(&s.stop, 1);
		pthread_join(th, NULL);
	}
	if (fd >= 0)
		close(fd);
	if (s.uffd >= 0)
		close(s.uffd);
	if (map != MAP_FAILED) {
		munmap(map, len);
		if (!c->failed[0] && free0 >= 0 && read_long(HUGE_FREE) != free0)
			cfail(c, "free_hugepages %ld after the cell, %ld before: a huge page left in use", read_long(HUGE_FREE),
			      free0);
	}
	free(want);
	free(got);
}

/* -- remote/remap-file-pages ---------------------------------------------------------------- */

static const char *const rf_names[2] = {"shmem", "ext4-shared"};

static void remap_file_cell(struct cell *c, int ext4)
{
	static const int fpage[8] = {0, 1, 5, 6, 4, 5, 6, 7};  /* file page at each page after the remap */
	size_t len = 8 * PAGE;
	char *want = malloc(len), *page = malloc(PAGE), *map = MAP_FAILED;
	long d;

	if (ext4 && !ext4_dir) {
		cskip(c, "no ext4 directory given (-d)");
		goto out;
	}
	if (ext4) {
		snprintf(c->path, sizeof(c->path), "%s/remote-rfp.%d", ext4_dir, getpid());
		c->fd = open(c->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	} else {
		c->fd = memfd_create("remote-rfp", 0);
	}
	fill64(want, len, 0x4f0);
	if (!want || !page || c->fd < 0 || pwrite(c->fd, want, len, 0) != (ssize_t)len ||
	    (map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0)) == MAP_FAILED) {
		cfail(c, "the file and its mapping: %s", strerror(errno));
		goto out;
	}
	(void)*(volatile char *)(map + 3 * PAGE);  /* one of the pages replaced is mapped */
	if (remap_file_pages(map + 2 * PAGE, 2 * PAGE, 0, 5, 0)) {
		cfail(c, "remap_file_pages of pages 2-3 to file pages 5-6: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < 8 && !c->failed[0]; i++)
		if ((d = first_diff(map + i * PAGE, want + fpage[i] * PAGE, PAGE)) >= 0)
			cfail(c, "after remap_file_pages page %d reads other than file page %d (byte %ld)", i, fpage[i], d);
	if (c->failed[0])
		goto out;
	fill64(page, PAGE, 0x4f1);  /* written through the remapped view of file page 5 */
	memcpy(map + 2 * PAGE, page, PAGE);
	memcpy(want + 5 * PAGE, page, PAGE);
	if ((d = first_diff(map + 5 * PAGE, page, PAGE)) >= 0)
		cfail(c, "page 5 (file page 5 too) does not read what was written through page 2, byte %ld", d);
	else if (ext4 && (msync(map, len, MS_SYNC) || fsync(c->fd) || !drop_caches()))
		cfail(c, "msync, fsync, drop_caches: %s", strerror(errno));
	else if (pread(c->fd, page, PAGE, 5 * PAGE) != (ssize_t)PAGE || (d = first_diff(page, want + 5 * PAGE, PAGE)) >= 0)
		cfail(c, "file page 5 read back differs at byte %ld from what was written through the remapped page", d);
	else
		printf("# %s: pages 2-3 show file pages 5-6, every page as the file; a write through the remapped "
		       "page reached the file%s\n", c->name, ext4 ? " (on disk after drop_caches)" : "");
out:
	if (map != MAP_FAILED)
		munmap(map, len);
	cell_file_close(c);
	free(want);
	free(page);
}

static const char *const ss_names[1] = {"fork70"};

static const struct cell_entry rm_table[] = {
	{"remote/futex-pi/", futex_pi_cell, fx_names, NFX}, {"remote/robust/", robust_cell, rb_names, NRB},
	{"remote/uffd-move/", uffd_move_cell, um_names, NUM}, {"remote/pmadvise/", pmadvise_cell, pm_names, NPM},
	{"remote/swap-share/", swap_share_cell, ss_names, 1}, {"remote/vmsplice-to/", vmsplice_to_cell, vt_names, NVT},
	{"remote/uffd-poison/", uffd_poison_cell, up_names, NUP}, {"remote/uffd-hugetlb/", uffd_hugetlb_cell, uh_names, NUH},
	{"remote/remap-file-pages/", remap_file_cell, rf_names, 2}};

static void remote_cells(void)
{
	cpu_set_t was, one;
	int cpu = sched_getcpu(), pinned = 0;

	/* one CPU for the block, its threads and children: a page faulted in sits in that CPU's LRU
	 * batch until drained, and MADV_PAGEOUT/COLD drain only the caller's CPU (seen: 22 of 24
	 * pages of a child paged out by process_madvise, a robust thread's shmem page left in) */
	if (!list_only && cpu >= 0 && !sched_getaffinity(0, sizeof(was), &was)) {
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		pinned = !sched_setaffinity(0, sizeof(one), &one);
	}
	run_cells(rm_table, sizeof(rm_table) / sizeof(rm_table[0]), NULL, NULL);
	if (pinned)
		sched_setaffinity(0, sizeof(was), &was);
}
