/* tlb/...: stale TLB entries after an mm operation returns. Part of pin_matrix.c (struct cell,
 * run_cells(), cell_fork(), vmstat(), kpageflags(), is_thp(), nodes_and_other(), gup_fd and
 * gup_test's long-term pin), entered by tlb_cells() from main.
 *
 * The class: a missing or late TLB flush after mprotect, munmap, mremap, MADV_DONTNEED/FREE,
 * migration, fork's write-protect of the parent, clear_refs, UFFDIO_WRITEPROTECT, a hole punch:
 * another CPU keeps writing (or reading) through its old TLB entry, to a page the mapping no
 * longer has, or without the fault the new protection owes. The guest is QEMU TCG with two vCPUs
 * on two host threads: each vCPU's soft-MMU TLB is emptied only by what the guest kernel does on
 * that vCPU (invlpg, CR3 writes, the flush IPIs), so a flush the kernel skipped leaves a stale
 * entry that a thread spinning on the page keeps using.
 *
 * Every cell: a writer thread pinned to CPU 1 writes an increasing sequence number to one word of
 * the page (publishing each after its write lands, a locked store: x86's TSO then orders its next
 * access after what this thread read); this thread, on CPU 0, does the operation and reads the
 * writer's count P right after the call returned: every access numbered P + 2 or more began after
 * the call returned. This thread reads the page through /proc/self/mem (GUP walks the page
 * tables), never through its own TLB: a skipped flush leaves CPU 0's entry as stale as the
 * writer's, and both would agree on the old page. Per operation:
 *   ro, prot-none, munmap, mremap: that access must fault (SIGSEGV caught in the writer, which
 *     records the number that faulted and parks); the page (read where it still is: the mapping
 *     for ro, the memfd's second view for shmem munmap, the new place for mremap, back to
 *     PROT_READ for prot-none) holds at most P + 1. prot-none-read: a reader, the same faults.
 *   dontneed: the old page, held by a gup_test long-term pin taken before, holds at most P + 1
 *     and does not change while the writer goes on (read through the pin twice); the writer's
 *     later writes land in the new page: read by this thread after the writer's count d, it holds
 *     at least d (a write that went to the old page through a stale entry is lost to it).
 *   migrate (move_pages to the other node), fork (the parent's writer; the child's view of the
 *     old page, read twice around the parent's writer going on, holds at most P + 1 and does not
 *     change), soft-dirty (clear_refs 4: pagemap's soft-dirty bit back on the page once the writer
 *     wrote after the call, since the first such write must fault), free (MADV_FREE, then the
 *     writer writes, then MADV_PAGEOUT: the page must keep the last write, not be discarded as
 *     clean), uffd-wp (UFFDIO_WRITEPROTECT: a write-protect fault must reach the handler and the
 *     page hold at most P + 1 then): the same landing check where the writer goes on.
 * Premises, else SKIP with why: the writer and this thread on CPUs 1 and 0; the writer's count
 * moved across the call in some round (it really ran on the other CPU during the call); what the
 * operation must do, did: the PFN changed (dontneed, migrate, the COW after fork), the target
 * node (migrate), a THP still PMD-mapped before each call (thp), a witness page cleared by
 * clear_refs (soft-dirty) and discarded by MADV_PAGEOUT after MADV_FREE (free).
 * Rounds repeat for TLB_SECONDS (a window may be narrow).
 *
 * tlb/shmem/mremap-punch (a race; deep set): the late flush INSIDE an operation, which no check
 * after it returns can see: mremap's move_ptes() must flush the old range before it drops the
 * page-table locks (eb66ae030829), or a page zapped at its new place through the rmap (a hole
 * punch, which takes no mmap lock) is written through the old place's entry after the zap. The
 * writer punches the memfd's page, writes, and reads the file back (pread): a write that
 * succeeded after its own punch returned must be in the file. This thread moves the mapping
 * there and back (mremap) meanwhile, TLB_RACE_SECONDS (RACE_SECONDS when longer: 20 s in the deep set).
 * With two vCPUs it cannot catch that mremap bug (docs/matrix.md: the punch's own flush IPI waits
 * for CPU 0, which then flushes at once); a third CPU or the host's scheduling would be needed.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <poll.h>
#include <linux/userfaultfd.h>

#define TLB_SECONDS 0.15      /* a cell's rounds start only before this much time went */
#define TLB_ROUNDS 40
#define TLB_SLOW_S 5.0        /* no progress of the writer (its vCPU not run on a loaded host): then SKIP */
#define TLB_RACE_SECONDS 3.0  /* tlb/shmem/mremap-punch, or RACE_SECONDS (-r) when longer */
static double tl_race_secs;  /* main's -r */

enum tl_mem { TL_ANON, TL_THP, TL_SHMEM, TL_HUGE };
static const char *const tl_mem_names[] = {"anon", "thp", "shmem", "hugetlb"};
enum tl_op { TO_RO, TO_NONE, TO_NONE_READ, TO_MUNMAP, TO_MREMAP, TO_DONTNEED, TO_FREE, TO_FORK, TO_SOFTDIRTY,
	     TO_UFFDWP, TO_MIGRATE };
static const char *const tl_op_names[] = {"ro", "prot-none", "prot-none-read", "munmap", "mremap", "dontneed",
					   "free", "fork", "soft-dirty", "uffd-wp", "migrate"};
static const char *const tl_calls[] = {"mprotect(PROT_READ)", "mprotect(PROT_NONE)", "mprotect(PROT_NONE)",
				       "munmap", "mremap", "MADV_DONTNEED", "MADV_FREE", "fork", "clear_refs 4",
				       "UFFDIO_WRITEPROTECT", "move_pages"};

/* The writer (or reader) on CPU 1 */
struct tl_w {
	_Atomic(uint64_t *) at;  /* its word */
	atomic_ulong done;       /* the number of its last access that completed */
	atomic_ulong faulted;    /* the number of the access that raised SIGSEGV (0: none since armed) */
	atomic_int arm;          /* bumped by this thread: (re)start at `at` */
	atomic_int parked;       /* the arm it parked at (after a fault, or when asked) */
	atomic_int stop, cpu, reader;
	atomic_int tid;          /* its thread id: /proc/self/task/TID/stat says where its time goes */
	sigjmp_buf jb;
};
static __thread struct tl_w *tl_me;

static void tl_on_segv(int sig)
{
	if (!tl_me) {  /* not the writer: a real crash */
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	siglongjmp(tl_me->jb, 1);
}

/* The calling thread moved to CPU 1 (w->cpu says where it is, -1: it could not) and made the
 * one whose SIGSEGV jumps back to w->jb */
static void tl_to_cpu1(struct tl_w *w)
{
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(1, &one);
	atomic_store(&w->cpu, sched_setaffinity(0, sizeof(one), &one) ? -1 : sched_getcpu());
	atomic_store(&w->tid, (int)syscall(SYS_gettid));
	tl_me = w;
}

static void *tl_writer(void *arg)
{
	struct tl_w *w = arg;
	volatile int gen = 0;

	tl_to_cpu1(w);
	if (sigsetjmp(w->jb, 0))  /* SA_NODEFER: nothing to unblock */
		atomic_store(&w->faulted, atomic_load(&w->done) + 1);
	for (;;) {
		atomic_store(&w->parked, gen);
		while (atomic_load(&w->arm) == gen && !atomic_load(&w->stop))
			;
		if (atomic_load(&w->stop))
			return NULL;
		gen = atomic_load(&w->arm);
		volatile uint64_t *p = atomic_load(&w->at);
		uint64_t s = atomic_load(&w->done), sink = 0;

		if (!p)
			continue;
		if (atomic_load(&w->reader))
			while (atomic_load_explicit(&w->arm, memory_order_relaxed) == gen) {
				sink += *p;
				atomic_store(&w->done, ++s);  /* seq_cst: xchg, a full barrier */
			}
		else
			while (atomic_load_explicit(&w->arm, memory_order_relaxed) == gen) {
				*p = s + 1;
				atomic_store(&w->done, ++s);
			}
		(void)sink;
	}
}

/* Start the writer at p (it must have parked); returns its count then */
static uint64_t tl_arm(struct tl_w *w, uint64_t *p)
{
	atomic_store(&w->at, p);
	atomic_store(&w->faulted, 0);
	atomic_fetch_add(&w->arm, 1);
	return atomic_load(&w->done);
}

/* Park the writer (it stops accessing its word; one parked after a fault wakes and parks
 * again): 0, -1 when it did not in TLB_SLOW_S */
static int tl_park(struct tl_w *w)
{
	double t0 = now_s();
	int gen;

	atomic_store(&w->at, NULL);
	gen = atomic_fetch_add(&w->arm, 1) + 1;
	while (atomic_load(&w->parked) != gen)
		if (now_s() - t0 > TLB_SLOW_S)
			return -1;
	return 0;
}

/* Wait until the writer's count reaches n or it faulted: its count, or 0 when it did not in
 * TLB_SLOW_S (its vCPU not run: a premise, the caller SKIPs) */
static uint64_t tl_wait(struct tl_w *w, uint64_t n)
{
	double t0 = now_s();
	uint64_t d;

	while ((d = atomic_load(&w->done)) < n && !atomic_load(&w->faulted))
		if (now_s() - t0 > TLB_SLOW_S)
			return 0;
	return d;
}

struct tl {
	struct cell *c;
	enum tl_mem m;
	enum tl_op op;
	char *a, *v, *b;  /* the writer's mapping, shmem's second view, mremap's other place */
	char *wit;        /* a witness page no one writes after the call (soft-dirty, free) */
	size_t len;
	int fd, uffd, pinned;
	struct tl_w w;
	pthread_t th;
	int thread, rounds, live;
	uint64_t faults;  /* protection ops: faults seen */
};

/* The system time in seconds of the task whose stat file is path, -1 if it cannot be read */
static double tl_stat_stime(const char *path)
{
	char buf[1024], *r;
	unsigned long ut, st;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	r = strrchr(buf, ')');  /* fields 14 and 15 after the comm, which may hold blanks */
	if (!r || sscanf(r + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return -1;
	return (double)st / sysconf(_SC_CLK_TCK);
}

/* The writer's system time so far in seconds (utime would move while it parks: it spins in user
 * space), -1 if it cannot be read */
static double tl_stime(struct tl_w *w)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", atomic_load(&w->tid));
	return tl_stat_stime(path);
}

/* The writer made no progress in TLB_SLOW_S. Not scheduled on a loaded host (its vCPU not run) is a
 * premise, SKIP; but a writer that spends its time in the kernel meanwhile is stuck there (a fault
 * that never completes, retried for ever): FAIL. Told apart by its system time over one more second */
static void tl_stalled(struct tl *t, const char *fmt, ...)
{
	double s0 = tl_stime(&t->w), s1;
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	usleep(1000000);
	s1 = tl_stime(&t->w);
	if (s0 >= 0 && s1 - s0 >= 0.5) {
		char *ran = strstr(why, ": it did not run");

		if (!ran)
			ran = strstr(why, ": the writer did not run");
		if (ran)
			*ran = 0;
		cfail(t->c, "%s, and it spent %.2f s of the next 1 s in the kernel: stuck there (a fault that never"
		      " completes?)", why, s1 - s0);
	} else
		cskip(t->c, "%s", why);
}

/* Right after the call returned: the writer's count P, the round counted, and whether the writer
 * ran during it (its count d0 before the call moved) */
static uint64_t tl_called(struct tl *t, uint64_t d0)
{
	uint64_t P = atomic_load(&t->w.done);

	t->rounds++;
	t->live += P > d0;
	return P;
}

static char *tl_map_kind(struct tl *t)
{
	char *p;

	switch (t->m) {
	case TL_ANON:
		p = map_aligned(2 * PAGE, PAGE, MADV_NOHUGEPAGE);
		break;
	case TL_THP:
		p = map_aligned(HPAGE, HPAGE, MADV_HUGEPAGE);
		break;
	case TL_HUGE:
		p = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (p == MAP_FAILED) {
			cskip(t->c, "no hugetlb page (mmap MAP_HUGETLB: %s)", strerror(errno));
			return NULL;
		}
		break;
	default:
		p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, t->fd, 0);
		if (p == MAP_FAILED)
			p = NULL;
		break;
	}
	if (!p && !t->c->skip[0])
		cfail(t->c, "mmap of the %s page: %s", tl_mem_names[t->m], strerror(errno));
	return p;
}

static int tl_setup(struct tl *t)
{
	struct sigaction sa = {.sa_handler = tl_on_segv, .sa_flags = SA_NODEFER};

	t->fd = t->uffd = -1;
	t->len = t->m == TL_THP || t->m == TL_HUGE ? HPAGE : PAGE;
	if (t->m == TL_SHMEM) {
		t->fd = memfd_create("tlb", 0);
		if (t->fd < 0 || ftruncate(t->fd, PAGE)) {
			cfail(t->c, "memfd: %s", strerror(errno));
			return -1;
		}
		t->v = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, t->fd, 0);
		if (t->v == MAP_FAILED) {
			t->v = NULL;
			cfail(t->c, "mmap of the memfd's second view: %s", strerror(errno));
			return -1;
		}
	}
	if (!(t->a = tl_map_kind(t)))
		return -1;
	memset(t->a, 1, t->len);
	if (t->m == TL_THP && !is_thp(t->a)) {
		cskip(t->c, "the 2 MiB region is no THP (kpageflags)");
		return -1;
	}
	t->wit = t->m == TL_ANON ? t->a + PAGE : NULL;  /* anon maps two pages: the second one */
	if (t->op == TO_MREMAP) {  /* a place of the same alignment for the mapping to move to */
		t->b = map_aligned(t->len, t->len, -1);
		if (!t->b) {
			cfail(t->c, "mmap of mremap's other place: %s", strerror(errno));
			return -1;
		}
	}
	if (sigaction(SIGSEGV, &sa, NULL)) {
		cfail(t->c, "sigaction SIGSEGV: %s", strerror(errno));
		return -1;
	}
	atomic_store(&t->w.reader, t->op == TO_NONE_READ);
	if (pthread_create(&t->th, NULL, tl_writer, &t->w)) {
		cfail(t->c, "pthread_create: %s", strerror(errno));
		return -1;
	}
	t->thread = 1;
	while (!atomic_load(&t->w.cpu))
		;
	if (atomic_load(&t->w.cpu) != 1 || sched_getcpu() != 0) {
		cskip(t->c, "the writer on CPU %d, this thread on CPU %d: not CPUs 1 and 0", atomic_load(&t->w.cpu),
		      sched_getcpu());
		return -1;
	}
	return 0;
}

static void tl_teardown(struct tl *t)
{
	if (t->thread) {
		atomic_store(&t->w.stop, 1);
		atomic_fetch_add(&t->w.arm, 1);  /* out of its loop */
		if (t->uffd >= 0)  /* a writer waiting on the handler is let go */
			ioctl(t->uffd, UFFDIO_WRITEPROTECT,
			      &(struct uffdio_writeprotect){.range = {(uintptr_t)t->a, t->len}});
		pthread_join(t->th, NULL);
	}
	signal(SIGSEGV, SIG_DFL);
	if (t->pinned)
		ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
	if (t->uffd >= 0)
		close(t->uffd);
	if (t->a)
		munmap(t->a, t->m == TL_ANON ? 2 * PAGE : t->len);
	if (t->b)
		munmap(t->b, t->len);
	if (t->v)
		munmap(t->v, PAGE);
	if (t->fd >= 0)
		close(t->fd);
}

static uint64_t tl_word(const char *p) { return *(volatile const uint64_t *)p; }

/* The word at p as the page tables say, not as this CPU's TLB does: read through /proc/self/mem
 * (GUP walks the tables), since a flush the kernel skipped leaves this CPU's entry stale too
 * (both CPUs would then agree on the old page). 0 into *v; -1 (the cell FAILed, naming the
 * error) if it cannot be read. */
static int tl_peek(struct tl *t, const char *p, uint64_t *v)
{
	static int fd = -1;
	ssize_t n = -1;

	*v = 0;
	if (fd < 0)
		fd = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		n = pread(fd, v, 8, (off_t)(uintptr_t)p);
	if (n != 8) {
		cfail(t->c, "cannot read the word at %p through /proc/self/mem: %s", (void *)p,
		      fd < 0 || n < 0 ? strerror(errno) : "short read");
		return -1;
	}
	return 0;
}

/* The writer's accesses after the call returned (count P) must have faulted: the first one, or
 * the one before it (which may have begun before P was read). An access numbered P + 2 or more
 * that completed without a fault is a stale TLB entry: FAIL at once (a writer that goes on may
 * be writing a freed page). No fault and no such access in TLB_SLOW_S: the writer did not run
 * (SKIP) */
static int tl_judge_fault(struct tl *t, uint64_t P)
{
	double t0 = now_s();
	uint64_t f, d;

	while (!(f = atomic_load(&t->w.faulted))) {
		d = atomic_load(&t->w.done);
		if (d > P + 1 && !(f = atomic_load(&t->w.faulted))) {
			cfail(t->c, "the %s went on %lu accesses past %s's return (access #%lu) without a fault: #%lu "
			      "completed (a stale TLB entry)", t->w.reader ? "reader" : "writer", (unsigned long)(d - P),
			      tl_calls[t->op], (unsigned long)P, (unsigned long)d);
			return -1;
		}
		if (f)
			break;
		if (now_s() - t0 > TLB_SLOW_S) {
			tl_stalled(t, "the %s neither faulted nor made an access past #%lu in %.0f s after %s returned: "
			      "it did not run", t->w.reader ? "reader" : "writer", (unsigned long)P + 1, TLB_SLOW_S,
			      tl_calls[t->op]);
			return -1;
		}
	}
	if (f > P + 2) {
		cfail(t->c, "%lu access(es) of the %s succeeded after %s returned (at its access #%lu): #%lu to #%lu, "
		      "then #%lu faulted (a stale TLB entry)", (unsigned long)(f - P - 2), t->w.reader ? "reader" : "writer",
		      tl_calls[t->op], (unsigned long)P, (unsigned long)P + 2, (unsigned long)f - 1, (unsigned long)f);
		return -1;
	}
	t->faults++;
	return 0;
}

/* The page, read where it still is, holds at most P + 1: no write after the return landed */
static int tl_judge_page(struct tl *t, const char *where, const char *p, uint64_t P)
{
	uint64_t v;

	if (tl_peek(t, p, &v))
		return -1;
	if (v > P + 1) {
		cfail(t->c, "the page (%s) holds the writer's #%lu, written after %s returned at #%lu (a stale TLB "
		      "entry)", where, (unsigned long)v, tl_calls[t->op], (unsigned long)P);
		return -1;
	}
	return 0;
}

/* After the call: once the writer wrote 4 more, this thread reads its word: it must hold at least
 * the count read just before (the writer's writes land in the page the mapping has now) */
static int tl_judge_lands(struct tl *t, uint64_t P)
{
	for (int i = 0; i < 2; i++) {
		uint64_t want = atomic_load(&t->w.done) + 4, d, v;

		if (!tl_wait(&t->w, want)) {
			tl_stalled(t, "the writer made no progress for %.0f s after %s returned (at #%lu): it did not run",
			      TLB_SLOW_S, tl_calls[t->op], (unsigned long)P);
			return -1;
		}
		if (atomic_load(&t->w.faulted)) {
			cfail(t->c, "the writer faulted (SIGSEGV) at #%lu after %s", (unsigned long)atomic_load(&t->w.faulted),
			      tl_calls[t->op]);
			return -1;
		}
		d = atomic_load(&t->w.done);
		if (tl_peek(t, t->a, &v))
			return -1;
		if (v < d) {
			cfail(t->c, "after %s returned at the writer's #%lu, the writer is at #%lu but its page reads #%lu "
			      "(/proc/self/mem): its writes go to another page (the old one, a stale TLB entry)",
			      tl_calls[t->op], (unsigned long)P, (unsigned long)d, (unsigned long)v);
			return -1;
		}
	}
	return 0;
}

/* Put the mapping back for the next round of a protection op: 0, -1 failed */
static int tl_undo(struct tl *t)
{
	struct cell *c = t->c;

	switch (t->op) {
	case TO_RO:
	case TO_NONE:
	case TO_NONE_READ:
		if (mprotect(t->a, t->len, PROT_READ | PROT_WRITE)) {
			cfail(c, "mprotect back to PROT_READ|PROT_WRITE: %s", strerror(errno));
			return -1;
		}
		return 0;
	case TO_MUNMAP:
		if (mmap(t->a, PAGE, PROT_READ | PROT_WRITE, MAP_FIXED | (t->fd >= 0 ? MAP_SHARED : MAP_PRIVATE | MAP_ANONYMOUS),
			 t->fd, 0) != t->a) {
			cfail(c, "mmap MAP_FIXED back: %s", strerror(errno));
			return -1;
		}
		return 0;
	case TO_MREMAP:
		if (mremap(t->b, t->len, t->len, MREMAP_MAYMOVE | MREMAP_FIXED, t->a) != t->a) {
			cfail(c, "mremap back: %s", strerror(errno));
			return -1;
		}
		return 0;
	default:
		return 0;
	}
}

/* The call of a protection op; 0, -1 failed */
static int tl_protect(struct tl *t)
{
	switch (t->op) {
	case TO_RO:
		return mprotect(t->a, t->len, PROT_READ);
	case TO_NONE:
	case TO_NONE_READ:
		return mprotect(t->a, t->len, PROT_NONE);
	case TO_MUNMAP:
		return munmap(t->a, PAGE);
	default:
		return mremap(t->a, t->len, t->len, MREMAP_MAYMOVE | MREMAP_FIXED, t->b) == t->b ? 0 : -1;
	}
}

/* A round's start: the writer armed at the cell's page and seen to make 16 accesses; its count,
 * or 0 when it made none in TLB_SLOW_S (the cell then SKIPs, or FAILs if it is stuck in the kernel) */
static uint64_t tl_start(struct tl *t)
{
	uint64_t d0 = tl_wait(&t->w, tl_arm(&t->w, (uint64_t *)t->a) + 16);

	if (!d0)
		tl_stalled(t, "the writer made no progress in %.0f s: it did not run", TLB_SLOW_S);
	return d0;
}

/* A thp cell whose THP was split by an earlier round: SKIP (1) */
static int tl_split(struct tl *t)
{
	if (t->m == TL_THP && !is_thp(t->a)) {
		cskip(t->c, "the THP was split before round %d (kpageflags)", t->rounds + 1);
		return 1;
	}
	return 0;
}

static void tl_protect_round(struct tl *t)
{
	uint64_t d0 = tl_start(t), P;

	if (!d0)
		return;
	if (tl_split(t))
		return;
	if (tl_protect(t)) {
		cfail(t->c, "%s: %s", tl_calls[t->op], strerror(errno));
		return;
	}
	P = tl_called(t, d0);
	if (tl_judge_fault(t, P))
		return;
	switch (t->op) {
	case TO_RO:
		tl_judge_page(t, "read through the read-only mapping", t->a, P);
		break;
	case TO_NONE:
		if (mprotect(t->a, t->len, PROT_READ))
			cfail(t->c, "mprotect PROT_READ: %s", strerror(errno));
		else
			tl_judge_page(t, "read after mprotect(PROT_READ)", t->a, P);
		break;
	case TO_MUNMAP:
		if (t->v)
			tl_judge_page(t, "the memfd's other mapping", t->v, P);
		break;
	case TO_MREMAP:
		tl_judge_page(t, "at its new address", t->b, P);
		break;
	default:
		break;
	}
	tl_undo(t);
}

/* dontneed: the old page held by a gup_test long-term pin, read through it */
static void tl_dontneed_round(struct tl *t)
{
	struct pin_longterm_test args = {.addr = (uintptr_t)t->a, .size = t->len,
					 .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE | PIN_LONGTERM_TEST_FLAG_USE_FAST};
	uint64_t d0, P, pfn0, o1, o2;
	char *old = malloc(t->len);

	if (!old) {
		cfail(t->c, "malloc");
		goto out;
	}
	if (!(d0 = tl_start(t)))
		goto out;
	if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args)) {
		cfail(t->c, "PIN_LONGTERM_TEST_START: %s", strerror(errno));
		goto out;
	}
	t->pinned = 1;
	pfn0 = pfn_of(t->a);
	d0 = atomic_load(&t->w.done);
	if (madvise(t->a, t->len, MADV_DONTNEED)) {
		cfail(t->c, "MADV_DONTNEED: %s", strerror(errno));
		goto out;
	}
	P = tl_called(t, d0);
	if (tl_judge_lands(t, P))
		goto out;
	if (pfn_of(t->a) == pfn0) {
		cskip(t->c, "the page after MADV_DONTNEED has the pinned page's PFN %#lx", (unsigned long)pfn0);
		goto out;
	}
	if (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &(uint64_t){(uintptr_t)old})) {
		cfail(t->c, "PIN_LONGTERM_TEST_READ: %s", strerror(errno));
		goto out;
	}
	o1 = tl_word(old);
	if (!tl_wait(&t->w, atomic_load(&t->w.done) + 256)) {
		tl_stalled(t, "the writer made no progress in %.0f s after MADV_DONTNEED: it did not run", TLB_SLOW_S);
		goto out;
	}
	if (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &(uint64_t){(uintptr_t)old})) {
		cfail(t->c, "PIN_LONGTERM_TEST_READ (the second): %s", strerror(errno));
		goto out;
	}
	o2 = tl_word(old);
	if (o1 > P + 1 || o2 != o1)
		cfail(t->c, "the old page (held by a pin) holds the writer's #%lu, then #%lu %lu writes later, after "
		      "MADV_DONTNEED returned at #%lu: written through a stale TLB entry after it was unmapped",
		      (unsigned long)o1, (unsigned long)o2, 256UL, (unsigned long)P);
out:
	if (t->pinned && ioctl(gup_fd, PIN_LONGTERM_TEST_STOP))
		cfail(t->c, "PIN_LONGTERM_TEST_STOP: %s", strerror(errno));
	t->pinned = 0;
	free(old);
}

/* free: MADV_FREE of the writer's page and the witness (written before, left alone), the writer
 * writes on, is parked, MADV_PAGEOUT of both: the witness is discarded (premise), the page keeps
 * the last write */
static void tl_free_round(struct tl *t)
{
	uint64_t d0 = tl_start(t), P, last, v, wv;
	long lazy = vmstat("pglazyfree");

	memset(t->wit, 7, PAGE);
	if (!d0)
		return;
	d0 = atomic_load(&t->w.done);
	if (madvise(t->a, 2 * PAGE, MADV_FREE)) {
		cfail(t->c, "MADV_FREE: %s", strerror(errno));
		return;
	}
	P = tl_called(t, d0);
	if (tl_judge_lands(t, P))
		return;
	if (tl_park(&t->w)) {  /* not run (SKIP) or stuck in the kernel (FAIL): tl_stalled() tells */
		tl_stalled(t, "the writer did not park in %.0f s: it did not run", TLB_SLOW_S);
		return;
	}
	last = atomic_load(&t->w.done);
	if (madvise(t->a, 2 * PAGE, MADV_PAGEOUT)) {
		cfail(t->c, "MADV_PAGEOUT: %s", strerror(errno));
		return;
	}
	if (tl_peek(t, t->a, &v) || tl_peek(t, t->wit, &wv))
		return;
	if (v != last)
		cfail(t->c, "MADV_FREE returned at the writer's #%lu, it wrote on to #%lu, MADV_PAGEOUT: the page reads "
		      "#%lu (%s): the writes after MADV_FREE did not dirty the page (a stale TLB entry)", (unsigned long)P,
		      (unsigned long)last, (unsigned long)v, v ? "an older write" : "zeros, discarded as clean");
	else if (vmstat("pglazyfree") - lazy < 2 || wv)
		cskip(t->c, "MADV_FREE then MADV_PAGEOUT did not discard the witness page (pglazyfree +%ld, it reads %#lx)",
		      vmstat("pglazyfree") - lazy, (unsigned long)wv);
}

/* The system time (s) of process pid so far, -1 if it cannot be read */
static double tl_kid_stime(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	return tl_stat_stime(path);
}

/* A word from the fork child on fd, within TLB_SLOW_S: 0, -1 (the cell FAILed or SKIPped, naming
 * the stage). Nothing by then: a child asleep (its read of the page or of `down` never
 * completed) or one that spent half of one more second in the kernel is stuck there, FAIL; a
 * runnable one was not run on a loaded TCG host, SKIP (proc_state(): borrow_reads.h) */
static int tl_from_kid(struct tl *t, pid_t kid, int fd, uint64_t *v, const char *stage)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int n;

	do
		n = poll(&pfd, 1, (int)(TLB_SLOW_S * 1000));
	while (n < 0 && errno == EINTR);
	if (n == 1 && read(fd, v, 8) == 8)
		return 0;
	if (n == 0) {
		double s0 = tl_kid_stime(kid), s1;
		char st;

		usleep(1000000);
		s1 = tl_kid_stime(kid);
		st = proc_state(kid);
		if (poll(&pfd, 1, 0) == 1 && read(fd, v, 8) == 8)
			return 0;  /* came in the second more */
		if (st == 'R' && !(s0 >= 0 && s1 - s0 >= 0.5))
			cskip(t->c, "the child said nothing %s in %.0f s: runnable, not run", stage, TLB_SLOW_S + 1);
		else
			cfail(t->c, "the child said nothing %s in %.0f s (state %c, %.2f s of the last 1 s in the kernel):"
			      " stuck there", stage, TLB_SLOW_S + 1, st ? st : '?', s0 >= 0 && s1 >= 0 ? s1 - s0 : -1.0);
	} else
		cfail(t->c, "the child said nothing %s (%s)", stage, n < 0 ? strerror(errno) : "it ended first");
	return -1;
}

/* fork: the child reads its view (the old page, once the parent's writer took its COW) twice,
 * the second time after the parent's writer wrote 256 more; between the two (the child alive,
 * waiting on `down`) this thread reads both PFNs: the COW premise */
static void tl_fork_round(struct tl *t)
{
	uint64_t d0 = tl_start(t), P, got[2] = {0, 0}, pfn, kpfn;
	int up[2], down[2], told = 0;
	pid_t kid;

	if (!d0)
		return;
	if (pipe(up)) {
		cfail(t->c, "pipe: %s", strerror(errno));
		return;
	}
	if (pipe(down)) {
		cfail(t->c, "pipe: %s", strerror(errno));
		close(up[0]);
		close(up[1]);
		return;
	}
	d0 = atomic_load(&t->w.done);
	kid = cell_fork();
	if (kid == 0) {
		uint64_t v = tl_word(t->a);
		char b;

		if (write(up[1], &v, 8) != 8 || read(down[0], &b, 1) != 1)
			_exit(1);
		v = tl_word(t->a);
		_exit(write(up[1], &v, 8) != 8);
	}
	P = tl_called(t, d0);
	close(up[1]);  /* a child that ends is seen at once (EOF) */
	close(down[0]);
	if (kid < 0) {
		cfail(t->c, "fork: %s", strerror(errno));
		goto out;
	}
	if (tl_from_kid(t, kid, up[0], &got[0], "after fork (its first word)") || tl_judge_lands(t, P))
		goto out;
	if (!tl_wait(&t->w, atomic_load(&t->w.done) + 256)) {
		tl_stalled(t, "the writer made no progress in %.0f s after fork: it did not run", TLB_SLOW_S);
		goto out;
	}
	pfn = pfn_of(t->a);
	kpfn = pagemap_pfn(pagemap_of(kid, (uintptr_t)t->a));  /* the child waits on `down`: alive */
	if (write(down[1], "g", 1) != 1) {
		cfail(t->c, "write to the child: %s", strerror(errno));
		goto out;
	}
	if (tl_from_kid(t, kid, up[0], &got[1], "the second time (after 256 more writes)"))
		goto out;
	told = 1;
	if (got[0] > P + 1 || got[1] != got[0])
		cfail(t->c, "fork returned at the parent's writer's #%lu; the child's copy then reads #%lu, and #%lu "
		      "after 256 more writes: the parent wrote into the page the child keeps (a stale TLB entry "
		      "after the write-protect)", (unsigned long)P, (unsigned long)got[0], (unsigned long)got[1]);
	else if (!pfn || !kpfn)
		cskip(t->c, "cannot tell whether the parent's write took a COW: PFN %#lx here, %#lx in the child "
		      "(pagemap)", (unsigned long)pfn, (unsigned long)kpfn);
	else if (pfn == kpfn)
		cskip(t->c, "the parent's writer still maps the child's page (PFN %#lx): no COW", (unsigned long)pfn);
out:
	close(down[1]);  /* a child still waiting on it reads EOF and ends */
	close(up[0]);
	if (kid > 0 && told)
		wait_child(t->c, kid, "the child of tlb fork");
	else if (kid > 0) {  /* left early (its verdict is set): the child's status says nothing more */
		kill(kid, SIGKILL);
		waitpid(kid, NULL, 0);
	}
}

static void tl_softdirty_round(struct tl *t)
{
	uint64_t d0 = tl_start(t), P;
	static char *wit;

	if (!wit)
		wit = map_aligned(PAGE, PAGE, -1);
	if (!wit) {
		cfail(t->c, "mmap of the witness page: %s", strerror(errno));
		return;
	}
	if (!d0)
		return;
	*(volatile char *)wit = 1;
	if (tl_split(t))
		return;
	if (!(pagemap(t->a) & PM_SOFT_DIRTY)) {  /* written since the last clear_refs */
		cskip(t->c, "the written page is not soft-dirty before clear_refs (pagemap): no soft-dirty tracking");
		return;
	}
	d0 = atomic_load(&t->w.done);
	if (!write_file("/proc/self/clear_refs", "4")) {
		cfail(t->c, "cannot write 4 to /proc/self/clear_refs: %s", strerror(errno));
		return;
	}
	P = tl_called(t, d0);
	if (pagemap(wit) & PM_SOFT_DIRTY) {
		cfail(t->c, "clear_refs 4 left the witness page soft-dirty (pagemap)");
		return;
	}
	if (!tl_judge_lands(t, P) && !(pagemap(t->a) & PM_SOFT_DIRTY))
		cfail(t->c, "clear_refs 4 returned at the writer's #%lu, it wrote on to #%lu, and its page is not "
		      "soft-dirty (pagemap): no write faulted after the write-protect (a stale TLB entry)",
		      (unsigned long)P, (unsigned long)atomic_load(&t->w.done));
}

static void tl_uffdwp_round(struct tl *t)
{
	struct uffdio_writeprotect wp = {.range = {(uintptr_t)t->a, t->len}, .mode = UFFDIO_WRITEPROTECT_MODE_WP};
	uint64_t d0 = tl_start(t), P, d, v;
	struct pollfd pfd = {.fd = t->uffd, .events = POLLIN};
	struct uffd_msg msg;

	if (!d0)
		return;
	d0 = atomic_load(&t->w.done);
	if (ioctl(t->uffd, UFFDIO_WRITEPROTECT, &wp)) {
		cfail(t->c, "UFFDIO_WRITEPROTECT: %s", strerror(errno));
		return;
	}
	P = tl_called(t, d0);
	/* the write-protect fault owed: an access numbered P + 2 or more that completed first is a
	 * stale TLB entry (FAIL at once); nothing of either in TLB_SLOW_S: the writer did not run */
	for (double t1 = now_s();;) {
		int n = poll(&pfd, 1, 20);

		if (n == 1)
			break;
		if (n < 0 && errno != EINTR) {
			cfail(t->c, "poll of the userfaultfd: %s", strerror(errno));
			return;
		}
		if ((d = atomic_load(&t->w.done)) > P + 1) {
			cfail(t->c, "UFFDIO_WRITEPROTECT returned at the writer's #%lu; its #%lu completed with no "
			      "write-protect fault (a stale TLB entry)", (unsigned long)P, (unsigned long)d);
			return;
		}
		if (now_s() - t1 > TLB_SLOW_S) {
			tl_stalled(t, "no write-protect fault and no write past #%lu in %.0f s after UFFDIO_WRITEPROTECT "
			      "returned: the writer did not run", (unsigned long)P + 1, TLB_SLOW_S);
			return;
		}
	}
	d = atomic_load(&t->w.done);
	if (read(t->uffd, &msg, sizeof(msg)) != sizeof(msg))
		cfail(t->c, "read of the userfaultfd after poll said POLLIN: %s", strerror(errno));
	else if (msg.event != UFFD_EVENT_PAGEFAULT || !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP))
		cfail(t->c, "the userfaultfd said event %u flags %#llx, want a write-protect fault", msg.event,
		      (unsigned long long)msg.arg.pagefault.flags);
	else if (!tl_peek(t, t->a, &v) && (d > P + 1 || v > P + 1))
		cfail(t->c, "UFFDIO_WRITEPROTECT returned at the writer's #%lu; at its fault it was at #%lu, the page "
		      "reads #%lu: writes after the write-protect landed without the fault (a stale TLB entry)",
		      (unsigned long)P, (unsigned long)d, (unsigned long)v);
	else if (!t->c->failed[0])
		t->faults++;
	wp.mode = 0;  /* let it write again, woken */
	if (ioctl(t->uffd, UFFDIO_WRITEPROTECT, &wp))
		cfail(t->c, "UFFDIO_WRITEPROTECT mode 0: %s", strerror(errno));
}

static void tl_migrate_round(struct tl *t)
{
	void *pg = t->a;
	int was, to, st = -1;
	uint64_t d0 = tl_start(t), P, pfn0;

	if (!d0)
		return;
	if (nodes_and_other(t->c, &pg, 1, &was, &to))
		return;
	if (tl_split(t))
		return;
	pfn0 = pfn_of(t->a);
	d0 = atomic_load(&t->w.done);
	if (syscall(SYS_move_pages, 0, 1, &pg, &to, &st, MPOL_MF_MOVE)) {
		cfail(t->c, "move_pages: %s", strerror(errno));
		return;
	}
	P = tl_called(t, d0);
	if (tl_judge_lands(t, P))
		return;
	if (st != to || pfn_of(t->a) == pfn0)
		cskip(t->c, "move_pages left the page on node %d (status %d), PFN %#lx then %#lx", was, st,
		      (unsigned long)pfn0, (unsigned long)pfn_of(t->a));
	else if (t->m == TL_THP && !is_thp(t->a))
		cskip(t->c, "the THP was split by its migration (kpageflags)");
}

static void tl_cell(struct cell *c, enum tl_mem m, enum tl_op op)
{
	struct tl t = {.c = c, .m = m, .op = op};
	cpu_set_t was, zero;
	int affine = !sched_getaffinity(0, sizeof(was), &was);
	double t0;

	CPU_ZERO(&zero);
	CPU_SET(0, &zero);
	if (!affine || sched_setaffinity(0, sizeof(zero), &zero)) {
		cskip(c, "sched_setaffinity to CPU 0: %s", strerror(errno));
		return;
	}
	if (tl_setup(&t))
		goto out;
	if (op == TO_DONTNEED && gup_fd < 0) {
		cskip(c, "no /sys/kernel/debug/gup_test (the old page is held by its pin)");
		goto out;
	}
	if (op == TO_UFFDWP) {
		struct uffdio_api api = {.api = UFFD_API};
		struct uffdio_register reg = {.range = {(uintptr_t)t.a, t.len}, .mode = UFFDIO_REGISTER_MODE_WP};

		t.uffd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
		if (t.uffd < 0 || ioctl(t.uffd, UFFDIO_API, &api) || ioctl(t.uffd, UFFDIO_REGISTER, &reg)) {
			cskip(c, "userfaultfd in WP mode: %s", strerror(errno));
			goto out;
		}
	}
	t0 = now_s();
	while (!c->failed[0] && !c->skip[0] && t.rounds < TLB_ROUNDS && now_s() - t0 < TLB_SECONDS) {
		switch (op) {
		case TO_DONTNEED: tl_dontneed_round(&t); break;
		case TO_FREE: tl_free_round(&t); break;
		case TO_FORK: tl_fork_round(&t); break;
		case TO_SOFTDIRTY: tl_softdirty_round(&t); break;
		case TO_UFFDWP: tl_uffdwp_round(&t); break;
		case TO_MIGRATE: tl_migrate_round(&t); break;
		default: tl_protect_round(&t); break;
		}
		/* free parked it; not run (SKIP) or stuck in the kernel (FAIL): tl_stalled() tells */
		if (!c->failed[0] && !c->skip[0] && op != TO_FREE && tl_park(&t.w))
			tl_stalled(&t, "the writer did not stop in %.0f s: it did not run", TLB_SLOW_S);
	}
	printf("# %s: %d round(s), the %s on CPU 1 ran across the call in %d, %lu fault(s) where owed, at #%lu\n",
	       c->name, t.rounds, t.w.reader ? "reader" : "writer", t.live, (unsigned long)t.faults,
	       (unsigned long)atomic_load(&t.w.done));
	if (!c->failed[0] && !c->skip[0] && t.rounds && !t.live)
		cskip(c, "the %s never advanced across the call (%d rounds): it did not run on CPU 1 meanwhile",
		      t.w.reader ? "reader" : "writer", t.rounds);
out:
	tl_teardown(&t);
	sched_setaffinity(0, sizeof(was), &was);
}

/* -- tlb/shmem/mremap-punch ---------------------------------------------------------------- */

struct tl_punch {
	struct tl_w w;  /* faulted counts faults, done successful writes */
	char *a;
	int fd;
	atomic_ulong punches, lost, lost_v, lost_at;
};

static void *tl_puncher(void *arg)
{
	struct tl_punch *r = arg;
	volatile uint64_t s = 0;

	tl_to_cpu1(&r->w);
	if (sigsetjmp(r->w.jb, 0))
		atomic_fetch_add(&r->w.faulted, 1);
	while (!atomic_load(&r->w.stop)) {
		uint64_t v = 0;

		if (fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, PAGE))
			break;
		atomic_fetch_add(&r->punches, 1);
		s = s + 1;
		*(volatile uint64_t *)r->a = s;  /* faults (SIGSEGV) while the mapping is elsewhere */
		atomic_fetch_add(&r->w.done, 1);
		if (pread(r->fd, &v, 8, 0) == 8 && v != s && !atomic_load(&r->lost)) {
			atomic_store(&r->lost_v, v);
			atomic_store(&r->lost_at, s);
			atomic_store(&r->lost, 1);
		}
	}
	return NULL;
}

static void tl_punch_cell(struct cell *c, int k)
{
	struct sigaction sa = {.sa_handler = tl_on_segv, .sa_flags = SA_NODEFER};
	struct tl_punch r = {.fd = -1};
	cpu_set_t was, zero;
	char *res = NULL;
	pthread_t th;
	long moves = 0;
	double t0;

	(void)k;
	CPU_ZERO(&zero);
	CPU_SET(0, &zero);
	if (sched_getaffinity(0, sizeof(was), &was) || sched_setaffinity(0, sizeof(zero), &zero)) {
		cskip(c, "sched_setaffinity to CPU 0: %s", strerror(errno));
		return;
	}
	/* the page at res + 2 pages, its other place at res + 5: PROT_NONE around both, so that no
	 * move merges (a merged VMA would make mremap take the rmap locks) */
	r.fd = memfd_create("tlb-punch", 0);
	res = mmap(NULL, 8 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r.fd < 0 || ftruncate(r.fd, PAGE) || res == MAP_FAILED ||
	    mmap(res + 2 * PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, r.fd, 0) == MAP_FAILED ||
	    sigaction(SIGSEGV, &sa, NULL)) {
		cfail(c, "memfd, mmap or sigaction: %s", strerror(errno));
		goto out;
	}
	r.a = res + 2 * PAGE;
	if (pthread_create(&th, NULL, tl_puncher, &r)) {
		cfail(c, "pthread_create: %s", strerror(errno));
		goto out;
	}
	while (!atomic_load(&r.w.cpu))
		;
	t0 = now_s();
	while (now_s() - t0 < (tl_race_secs > TLB_RACE_SECONDS ? tl_race_secs : TLB_RACE_SECONDS) && !atomic_load(&r.lost) && atomic_load(&r.w.cpu) == 1) {
		if (mremap(r.a, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, res + 5 * PAGE) == MAP_FAILED ||
		    mremap(res + 5 * PAGE, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, r.a) == MAP_FAILED) {
			cfail(c, "mremap: %s", strerror(errno));
			break;
		}
		moves += 2;
	}
	atomic_store(&r.w.stop, 1);
	pthread_join(th, NULL);
	printf("# %s: %ld moves in %.1f s, %lu punches, %lu writes landed, %lu faulted (the mapping elsewhere)\n",
	       c->name, moves, now_s() - t0, (unsigned long)r.punches, (unsigned long)r.w.done,
	       (unsigned long)r.w.faulted);
	if (atomic_load(&r.lost))
		cfail(c, "the writer's #%lu, written without a fault after its own hole punch returned, is not in the file "
		      "(pread reads %#lx): it went to the punched page through a stale TLB entry of the mapping's old "
		      "place (mremap flushed late)", (unsigned long)r.lost_at, (unsigned long)r.lost_v);
	else if (atomic_load(&r.w.cpu) != 1)
		cskip(c, "the writer is on CPU %d, not 1", atomic_load(&r.w.cpu));
	else if (!r.w.done || !r.w.faulted || !moves)
		cskip(c, "no write both landed and faulted while the mapping moved (%lu landed, %lu faulted, %ld moves)",
		      (unsigned long)r.w.done, (unsigned long)r.w.faulted, moves);
out:
	signal(SIGSEGV, SIG_DFL);
	if (res && res != MAP_FAILED)
		munmap(res, 8 * PAGE);
	if (r.fd >= 0)
		close(r.fd);
	sched_setaffinity(0, sizeof(was), &was);
}

/* The cells: memory x op */
static const struct { enum tl_mem m; enum tl_op op; } tl_list[] = {
	{TL_ANON, TO_RO}, {TL_THP, TO_RO}, {TL_SHMEM, TO_RO}, {TL_HUGE, TO_RO},
	{TL_ANON, TO_NONE}, {TL_ANON, TO_NONE_READ}, {TL_THP, TO_NONE},
	{TL_ANON, TO_MUNMAP}, {TL_SHMEM, TO_MUNMAP},
	{TL_ANON, TO_MREMAP}, {TL_THP, TO_MREMAP}, {TL_SHMEM, TO_MREMAP}, {TL_HUGE, TO_MREMAP},
	{TL_ANON, TO_DONTNEED}, {TL_THP, TO_DONTNEED}, {TL_HUGE, TO_DONTNEED},
	{TL_ANON, TO_FREE},
	{TL_ANON, TO_FORK}, {TL_THP, TO_FORK},
	{TL_ANON, TO_SOFTDIRTY}, {TL_THP, TO_SOFTDIRTY},
	{TL_ANON, TO_UFFDWP}, {TL_THP, TO_UFFDWP},
	{TL_ANON, TO_MIGRATE}, {TL_THP, TO_MIGRATE}, {TL_HUGE, TO_MIGRATE},
};
#define NTL (sizeof(tl_list) / sizeof(tl_list[0]))
static char tl_names_buf[NTL][32];
static const char *tl_names[NTL];

static void tl_run(struct cell *c, int k) { tl_cell(c, tl_list[k].m, tl_list[k].op); }

/* The default set: every memory x op cell (no list: 1.6 s together in the guest); mremap-punch,
 * a race of TLB_RACE_SECONDS, is in the deep set only (a list it is not in) */
static const char *const tl_deep_only[] = {"(none)"};

static void tlb_cells(void)
{
	struct cell_entry table[] = {
		{"tlb/", tl_run, tl_names, (int)NTL},
		{"tlb/shmem/mremap-punch", tl_punch_cell, NULL, 0, tl_deep_only, 1},
	};

	for (size_t k = 0; k < NTL; k++) {
		snprintf(tl_names_buf[k], sizeof(tl_names_buf[k]), "%s/%s", tl_mem_names[tl_list[k].m],
			 tl_op_names[tl_list[k].op]);
		tl_names[k] = tl_names_buf[k];
	}
	run_cells(table, sizeof(table) / sizeof(table[0]), NULL, NULL);
}
