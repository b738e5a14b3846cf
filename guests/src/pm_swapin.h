/* race/swapin-vs-swapin (issue 20, item 3): one swapped-out entry faulted from several threads,
 * and from a forked child sharing it, at once. Included by pin_matrix.c after its races.
 *
 * The buffer is two halves of SW_HALF pages on zram swap: half 0 is MADV_DONTFORK, so its swap
 * entries have one user and a zram swap-in takes do_swap_page()'s SWP_SYNCHRONOUS_IO path that
 * skips the swap cache; half 1 is inherited by a child forked each round after the page-out, so
 * its entries have two users (the swap-cache path, and COW after it). Each half is SW_T slices
 * of SW_P pages, one per thread, which only that thread writes, plus one shared slice of SW_S
 * pages written by any thread under a mutex. Every page's words encode (page, word, tag); a
 * slice carries the tag of its last write and a sequence count (odd while being written).
 *
 * A round: MADV_PAGEOUT of the buffer, fork, count the swapped pages (pagemap), then release
 * SW_T threads and the child together. Each thread makes SW_PASSES passes: read every slice
 * from the first page on (all threads fault the same entries at once), check its own slices
 * exactly (nobody else writes them), the others exactly when their count did not move while it
 * read them (else word by word: a valid word of some write), write its own slices anew, check
 * and rewrite the shared ones under the mutex. Thread 2 first reads the whole buffer through a
 * long-term GUP-fast pin (gup_test), thread 3 through an O_DIRECT write of it to an ext4 file
 * read back: the slices whose count did not move during the call must be exact. A pager thread
 * MADV_PAGEOUTs the buffer all along, so entries are freed and taken again while others still
 * fault them. The child checks its copy of half 1 is the fork-time one, writes its own, and
 * after the parent's round must still read its own. At the end of a round every slice must hold
 * its last write; after the race the FOLL_PIN counters are back and every page of the buffer
 * is mapped once (/proc/kpagecount).
 *
 * Premise: a round counts when half 0 had swapped pages at release; no round counted, or
 * pswpin/pswpout unmoved: SKIP. */

#include <sys/resource.h>
#include <sys/swap.h>

#define SW_T 4
#define SW_P 2
#define SW_S 2
#define SW_SLICES (SW_T + 1)              /* a half: SW_T own slices, then the shared one */
#define SW_HALF (SW_T * SW_P + SW_S)      /* pages of a half */
#define SW_PAGES (2 * SW_HALF)
#define SW_PASSES 3
#define SW_MAGIC 0x5a17ULL
#define SW_CHILD 15                       /* the writer id of the child's writes */

struct swslice {
	unsigned gen;   /* even: stable; odd: being written */
	uint64_t tag;   /* the tag of the last complete write */
	size_t page;    /* its first page in the buffer */
	size_t pages;
};

struct swrace {
	struct race r;
	pthread_barrier_t start, end;
	pthread_mutex_t shared_mx[2];
	struct swslice sl[2 * SW_SLICES];
	uint64_t seq;
	volatile int quit;
	int workers_done;
	long round;
	long checks, unstable, pin_reads, dio_reads, pageouts, writes;
	long pin_enomem; /* long-term pins refused: no memory to migrate out of ZONE_MOVABLE */
};

static uint64_t sw_word(size_t page, size_t i, uint64_t tag)
{
	return (page * (PAGE / 8) + i + 1) * 0x9E3779B97F4A7C15ULL ^ tag;
}

static struct swslice *sw_slice(struct swrace *s, int half, int k) { return &s->sl[half * SW_SLICES + k]; }

/* First word of sl in copy (laid out like the buffer) that is not what tag wrote, else -1;
 * *found: the tag that word holds. With exact 0, only words no write ever made fail. */
static long sw_diff(const char *copy, const struct swslice *sl, uint64_t tag, int exact, uint64_t *found)
{
	const volatile uint64_t *w = (const volatile uint64_t *)(copy + sl->page * PAGE);

	for (size_t i = 0; i < sl->pages * PAGE / 8; i++) {
		size_t page = sl->page + i / (PAGE / 8);
		uint64_t got = w[i] ^ sw_word(page, i % (PAGE / 8), 0);

		if (exact ? got != tag : got >> 48 != SW_MAGIC) {
			*found = got;
			return (long)(sl->page * PAGE + i * 8);
		}
	}
	return -1;
}

static void sw_write(struct swrace *s, struct swslice *sl, unsigned who)
{
	uint64_t tag = SW_MAGIC << 48 | (uint64_t)who << 40 | __atomic_add_fetch(&s->seq, 1, __ATOMIC_RELAXED);
	volatile uint64_t *w = (volatile uint64_t *)(s->r.buf + sl->page * PAGE);

	__atomic_add_fetch(&sl->gen, 1, __ATOMIC_ACQ_REL);
	for (size_t i = 0; i < sl->pages * PAGE / 8; i++)
		w[i] = sw_word(sl->page + i / (PAGE / 8), i % (PAGE / 8), tag);
	__atomic_store_n(&sl->tag, tag, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sl->gen, 1, __ATOMIC_RELEASE);
	__atomic_add_fetch(&s->writes, 1, __ATOMIC_RELAXED);
}

static void sw_mismatch(struct swrace *s, const char *what, const struct swslice *sl, long at, uint64_t want,
			uint64_t got)
{
	rfail(&s->r, "round %ld: %s reads other data at byte %ld of the buffer (page %ld): writer %u seq %lu,"
	      " expected writer %u seq %lu%s", s->round, what, at, at / (long)PAGE, (unsigned)(got >> 40 & 0xff),
	      (unsigned long)(got & 0xffffffffffULL), (unsigned)(want >> 40 & 0xff),
	      (unsigned long)(want & 0xffffffffffULL),
	      (got >> 48) == SW_MAGIC && (got & 0xffffffffffULL) < (want & 0xffffffffffULL) ?
		      ": an older write, a stale page was mapped" : "");
	(void)sl;
}

/* Read sl from the live buffer: exact when nobody wrote it meanwhile, else word by word. */
static void sw_read_live(struct swrace *s, struct swslice *sl, const char *who)
{
	unsigned g1 = __atomic_load_n(&sl->gen, __ATOMIC_ACQUIRE), g2;
	uint64_t tag = __atomic_load_n(&sl->tag, __ATOMIC_RELAXED), got = 0;
	long at = sw_diff(s->r.buf, sl, tag, !(g1 & 1), &got);

	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	g2 = __atomic_load_n(&sl->gen, __ATOMIC_RELAXED);
	if (at >= 0 && (g1 == g2 || sw_diff(s->r.buf, sl, tag, 0, &got) >= 0))
		sw_mismatch(s, who, sl, at, tag, got);
	__atomic_add_fetch(g1 == g2 && !(g1 & 1) ? &s->checks : &s->unstable, 1, __ATOMIC_RELAXED);
}

/* A copy of the whole buffer the kernel made through a pin (gen0/tag0 taken before the call):
 * the slices nobody wrote during the call must be exact. */
static void sw_check_copy(struct swrace *s, const char *copy, const unsigned *gen0, const uint64_t *tag0,
			  const char *who)
{
	for (int i = 0; i < 2 * SW_SLICES; i++) {
		uint64_t got = 0;
		long at;

		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if ((gen0[i] & 1) || __atomic_load_n(&s->sl[i].gen, __ATOMIC_RELAXED) != gen0[i]) {
			__atomic_add_fetch(&s->unstable, 1, __ATOMIC_RELAXED);
			continue;
		}
		if ((at = sw_diff(copy, &s->sl[i], tag0[i], 1, &got)) >= 0)
			sw_mismatch(s, who, &s->sl[i], at, tag0[i], got);
		__atomic_add_fetch(&s->checks, 1, __ATOMIC_RELAXED);
	}
}

static void sw_snap(struct swrace *s, unsigned *gen0, uint64_t *tag0)
{
	for (int i = 0; i < 2 * SW_SLICES; i++) {
		gen0[i] = __atomic_load_n(&s->sl[i].gen, __ATOMIC_ACQUIRE);
		tag0[i] = __atomic_load_n(&s->sl[i].tag, __ATOMIC_RELAXED);
	}
}

/* The pinned reads: thread 2 through a long-term GUP-fast pin, thread 3 by O_DIRECT. */
static void sw_pin_read(struct swrace *s, int t, char *copy)
{
	size_t len = SW_PAGES * PAGE;
	unsigned gen0[2 * SW_SLICES];
	uint64_t tag0[2 * SW_SLICES];

	if (t == 2 && gup_fd >= 0) {
		struct pin_longterm_test args = {.addr = (uintptr_t)s->r.buf, .size = len,
						 .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE | PIN_LONGTERM_TEST_FLAG_USE_FAST};
		uint64_t to = (uintptr_t)copy;

		sw_snap(s, gen0, tag0);
		if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args)) {
			/* ENOMEM: the long-term pin could not migrate the pages out of ZONE_MOVABLE
			 * (movablecore= of the default set, memory tight during the race): the
			 * kernel's documented refusal, not a wrong result; the round has no pin */
			if (errno == ENOMEM) {
				__atomic_add_fetch(&s->pin_enomem, 1, __ATOMIC_RELAXED);
				return;
			}
			rfail(&s->r, "round %ld: PIN_LONGTERM_TEST_START over the swapped buffer: %s", s->round,
			      strerror(errno));
			return;
		}
		if (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &to))
			rfail(&s->r, "PIN_LONGTERM_TEST_READ: %s", strerror(errno));
		else
			sw_check_copy(s, copy, gen0, tag0, "a long-term GUP-fast pin");
		if (ioctl(gup_fd, PIN_LONGTERM_TEST_STOP))
			rfail(&s->r, "PIN_LONGTERM_TEST_STOP: %s", strerror(errno));
		s->pin_reads++;
	} else if (t == 3 && s->r.dio_fd >= 0) {
		ssize_t got;

		sw_snap(s, gen0, tag0);
		got = pwrite(s->r.dio_fd, s->r.buf, len, 0);  /* the kernel pins and reads the buffer */
		if (got != (ssize_t)len) {
			rfail(&s->r, "round %ld: O_DIRECT write out of the swapped buffer: %zd (%s)", s->round, got,
			      got < 0 ? strerror(errno) : "short");
			return;
		}
		if (pread(s->r.dio_fd, copy, len, 0) != (ssize_t)len) {
			rfail(&s->r, "O_DIRECT read back: %s", strerror(errno));
			return;
		}
		sw_check_copy(s, copy, gen0, tag0, "an O_DIRECT write of the buffer (the file read back)");
		s->dio_reads++;
	}
}

struct swarg {
	struct swrace *s;
	int t;
};

static void *sw_worker(void *arg)
{
	struct swarg *a = arg;
	struct swrace *s = a->s;
	int t = a->t;
	char *copy = NULL, own[64];

	if (posix_memalign((void **)&copy, PAGE, SW_PAGES * PAGE))
		copy = NULL;
	snprintf(own, sizeof(own), "thread %d's own slice", t);
	for (;;) {
		pthread_barrier_wait(&s->start);
		if (s->quit)
			break;
		for (int pass = 0; pass < SW_PASSES && !s->r.stop; pass++) {
			if (copy)
				sw_pin_read(s, t, copy);
			for (int h = 0; h < 2; h++)  /* every thread faults the same pages in the same order */
				for (int k = 0; k < SW_SLICES; k++)
					sw_read_live(s, sw_slice(s, h, k), k == t ? own : "another thread's slice");
			for (int h = 0; h < 2; h++) {
				struct swslice *sl = sw_slice(s, h, t);
				uint64_t got = 0;
				long at;

				sw_write(s, sl, (unsigned)t);
				if ((at = sw_diff(s->r.buf, sl, sl->tag, 1, &got)) >= 0)
					sw_mismatch(s, "a thread's slice right after its write", sl, at, sl->tag, got);
				pthread_mutex_lock(&s->shared_mx[h]);
				sl = sw_slice(s, h, SW_T);
				if ((at = sw_diff(s->r.buf, sl, sl->tag, 1, &got)) >= 0)
					sw_mismatch(s, "the shared slice (under its mutex: the last writer's data)", sl, at,
						    sl->tag, got);
				sw_write(s, sl, (unsigned)t);
				pthread_mutex_unlock(&s->shared_mx[h]);
			}
		}
		__atomic_add_fetch(&s->workers_done, 1, __ATOMIC_RELEASE);
		pthread_barrier_wait(&s->end);
	}
	free(copy);
	return NULL;
}

/* MADV_PAGEOUT of the buffer all along a round: entries freed by a swap-in are taken again */
static void *sw_pager(void *arg)
{
	struct swrace *s = arg;

	for (;;) {
		pthread_barrier_wait(&s->start);
		if (s->quit)
			break;
		while (__atomic_load_n(&s->workers_done, __ATOMIC_ACQUIRE) < SW_T) {
			madvise(s->r.buf, SW_PAGES * PAGE, MADV_PAGEOUT);
			s->pageouts++;
			sched_yield();  /* let the faulting threads run between page-outs */
		}
		pthread_barrier_wait(&s->end);
	}
	return NULL;
}

/* The child: its half 1 is the fork-time one; it writes its own; after the parent's round it
 * must still read its own. Exit 3, 4, 5 for each of those wrong. */
static int sw_child(struct swrace *s, int rel, int done)
{
	char c;
	uint64_t got;

	if (read(rel, &c, 1) != 1)
		return 6;
	for (int k = 0; k < SW_SLICES; k++)
		if (sw_diff(s->r.buf, sw_slice(s, 1, k), sw_slice(s, 1, k)->tag, 1, &got) >= 0)
			return 3;
	for (int k = 0; k < SW_SLICES; k++)
		sw_write(s, sw_slice(s, 1, k), SW_CHILD);
	for (int k = 0; k < SW_SLICES; k++)
		if (sw_diff(s->r.buf, sw_slice(s, 1, k), sw_slice(s, 1, k)->tag, 1, &got) >= 0)
			return 4;
	if (read(done, &c, 1) != 1)
		return 6;
	for (int k = 0; k < SW_SLICES; k++)
		if (sw_diff(s->r.buf, sw_slice(s, 1, k), sw_slice(s, 1, k)->tag, 1, &got) >= 0)
			return 5;
	return 0;
}

static void sw_wait_child(struct swrace *s, pid_t pid)
{
	static const char *const why[] = {
		[3] = "the child's copy of the shared half is not what the parent had at fork",
		[4] = "the child does not read back what it wrote to its copy",
		[5] = "the child's copy changed after the parent's round: the parent's writes reached it",
		[6] = "the child lost its pipe"};
	int st = 0;

	if (waitpid(pid, &st, 0) != pid)
		rfail(&s->r, "waitpid: %s", strerror(errno));
	else if (WIFEXITED(st) && WEXITSTATUS(st) >= 3 && WEXITSTATUS(st) <= 6)
		rfail(&s->r, "round %ld: %s", s->round, why[WEXITSTATUS(st)]);
	else if (!WIFEXITED(st) || WEXITSTATUS(st))
		rfail(&s->r, "round %ld: the child ended with status 0x%x", s->round, st);
}

/* Pages of the buffer mapped other than once (/proc/kpagecount), or -1 when it cannot be read */
static int sw_mapped_wrong(const char *buf, uint64_t *cnt)
{
	int fd = open("/proc/kpagecount", O_RDONLY), bad = 0;

	if (fd < 0)
		return -1;
	for (size_t i = 0; i < SW_PAGES; i++) {
		uint64_t pfn = pfn_of(buf + i * PAGE), n = 0;

		if (pfn && pread(fd, &n, 8, pfn * 8) == 8 && n != 1) {
			*cnt = n;
			bad++;
		}
	}
	close(fd);
	return bad;
}

/* The swap areas the bench turned on itself (sw_swapon()), with the swapon(2) flags it used beside
 * the priority (SWAP_FLAG_DISCARD): /proc/swaps tells an area's priority but not those, and an area
 * turned off and on again must get both back (sw_areas_on()). The shell's zram is not here: it
 * was turned on without flags. */
#define SW_ENABLED 8
static struct {
	char path[128];
	int flags;
} sw_enabled[SW_ENABLED];

/* swapon(2) of path with flags, its flags remembered; 0, or -1 (errno) */
static int sw_swapon(const char *path, int flags)
{
	int at = -1;

	if (swapon(path, flags))
		return -1;
	for (int i = 0; i < SW_ENABLED && at < 0; i++)
		if (!strcmp(sw_enabled[i].path, path))
			at = i;
	for (int i = 0; i < SW_ENABLED && at < 0; i++)
		if (!sw_enabled[i].path[0])
			at = i;
	if (at < 0) {
		printf("# no room to remember the flags of swap area %s: turned on again without them\n", path);
		return 0;
	}
	snprintf(sw_enabled[at].path, sizeof(sw_enabled[at].path), "%s", path);
	sw_enabled[at].flags = flags & ~(SWAP_FLAG_PREFER | SWAP_FLAG_PRIO_MASK);
	return 0;
}

/* The n areas of a (swap_areas(), then turned off) on again as they were: each with the flags the
 * bench turned it on with and its priority, a positive one asked for (SWAP_FLAG_PREFER), a negative
 * one the kernel's own (mm/swapfile.c: the next below the lowest, given back at swapoff), so they
 * go on highest first; then /proc/swaps must show each with its priority. 0, or -1 with why[]
 * (the first failure; it goes on with the rest) */
static int sw_areas_on(struct swap_area *a, int n, char *why, size_t len)
{
	struct swap_area now[SWAP_AREAS];
	int nnow;

	why[0] = 0;
	for (int i = 1; i < n; i++)  /* highest priority first */
		for (int j = i; j > 0 && a[j].prio > a[j - 1].prio; j--) {
			struct swap_area t = a[j];

			a[j] = a[j - 1];
			a[j - 1] = t;
		}
	for (int i = 0; i < n; i++) {
		int flags = 0;

		for (int k = 0; k < SW_ENABLED; k++)
			if (!strcmp(sw_enabled[k].path, a[i].path))
				flags = sw_enabled[k].flags;
		if (a[i].prio >= 0)
			flags |= SWAP_FLAG_PREFER | (a[i].prio & SWAP_FLAG_PRIO_MASK);
		if (sw_swapon(a[i].path, flags) && errno != EBUSY && !why[0])
			snprintf(why, len, "swapon %s again (flags %#x): %s", a[i].path, flags, strerror(errno));
	}
	nnow = swap_areas(now);
	for (int i = 0; i < n && !why[0]; i++) {
		int k = 0;

		while (k < nnow && strcmp(now[k].path, a[i].path))
			k++;
		if (k == nnow)
			snprintf(why, len, "swap area %s is not in /proc/swaps after its swapon", a[i].path);
		else if (now[k].prio != a[i].prio)
			snprintf(why, len, "swap area %s came back with priority %d, it had %d", a[i].path, now[k].prio, a[i].prio);
	}
	return why[0] ? -1 : 0;
}

/* A swap device of one's own: dev on and every other swap area off. The race's (race_swap, -s)
 * is small, so swap is full and 6.12's per-CPU swap slot caches stay off (mm/swap_slots.c
 * turns them on above 5 x 64 free slots a CPU): the entry a swap-in frees is the one the next
 * page-out takes, while a fault may still be reading it (the class of 13ddaf26be32, "mm/swap:
 * fix race when skipping swapcache"); swap_cells.h's swap-bdev/ cells take bdev_swap (-S).
 * The areas turned off go in off[]; 0 and why[] when it cannot be set up (as it was then). */
static int sw_own_flags;  /* more swapon(2) flags for dev (SWAP_FLAG_DISCARD) */
static int sw_own_swap(const char *dev, struct swap_area off[SWAP_AREAS], int *noff, char *why, size_t n)
{
	struct swap_area areas[SWAP_AREAS];
	int nareas;
	char ign[200];

	*noff = 0;
	if (!dev) {
		snprintf(why, n, "no swap device of its own");
		return 0;
	}
	if (sw_swapon(dev, SWAP_FLAG_PREFER | (100 & SWAP_FLAG_PRIO_MASK) | sw_own_flags)) {
		snprintf(why, n, "swapon %s: %s", dev, strerror(errno));
		return 0;
	}
	nareas = swap_areas(areas);
	for (int i = 0; i < nareas; i++)
		if (strcmp(areas[i].path, dev)) {
			if (swapoff(areas[i].path)) {
				snprintf(why, n, "swapoff %s: %s", areas[i].path, strerror(errno));
				break;
			}
			off[(*noff)++] = areas[i];
		}
	if (!why[0])
		return 1;
	sw_areas_on(off, *noff, ign, sizeof(ign));
	swapoff(dev);
	*noff = 0;
	return 0;
}

/* Every area sw_own_swap() turned off back on as it was, then dev off; 0, or -1 with why[] (the
 * first failure; it goes on with the rest) */
static int sw_own_swap_end(const char *dev, struct swap_area off[SWAP_AREAS], int noff, char *why, size_t n)
{
	sw_areas_on(off, noff, why, n);
	if (dev && swapoff(dev) && errno != EINVAL && !why[0])
		snprintf(why, n, "swapoff %s after: %s", dev, strerror(errno));
	return why[0] ? -1 : 0;
}

static void run_swapin_race(double secs)
{
	const char *cname = "race/swapin-vs-swapin";
	struct swrace *s = calloc(1, sizeof(*s));
	struct swarg args[SW_T];
	pthread_t tw[SW_T], tp;
	char dpath[256] = "";
	long p0, in0, out0, maj0, counted = 0, swapped_at_release[2] = {0, 0}, rounds = 0;
	struct rusage ru;
	double t0;
	uint64_t cnt = 0, last[SW_HALF] = {0};
	struct swap_area off[SWAP_AREAS];
	char why[300] = "";
	long reused = 0;
	int bad, noff = 0, own = 0;

	if (!wanted(cname))
		goto free_s;
	if (!begins(cname))
		goto free_s;
	if (!swap_on()) {
		printf("CASE %s SKIP: no swap in /proc/swaps (swap on zram?)\n", cname);
		cells_skip++;
		goto free_s;
	}
	s->r.name = "swapin";
	s->r.len = SW_PAGES * PAGE;
	s->r.dio_fd = -1;
	s->r.buf = map_aligned(s->r.len, PAGE, MADV_NOHUGEPAGE);
	if (!s->r.buf || madvise(s->r.buf, SW_HALF * PAGE, MADV_DONTFORK)) {
		printf("CASE %s FAIL: mmap/MADV_DONTFORK: %s\n", cname, strerror(errno));
		cells_fail++;
		goto free_s;
	}
	own = sw_own_swap(race_swap, off, &noff, why, sizeof(why));  /* no way out between here and the end */
	if (ext4_dir) {
		snprintf(dpath, sizeof(dpath), "%s/swapin-dio.%d", ext4_dir, getpid());
		s->r.dio_fd = open(dpath, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
	}
	for (int h = 0; h < 2; h++) {
		pthread_mutex_init(&s->shared_mx[h], NULL);
		for (int k = 0; k < SW_SLICES; k++) {
			struct swslice *sl = sw_slice(s, h, k);

			sl->page = (size_t)h * SW_HALF + (size_t)k * SW_P;
			sl->pages = k < SW_T ? SW_P : SW_S;
			sw_write(s, sl, 14);
		}
	}
	pthread_barrier_init(&s->start, NULL, SW_T + 2);
	pthread_barrier_init(&s->end, NULL, SW_T + 2);
	for (int t = 0; t < SW_T; t++) {
		args[t] = (struct swarg){s, t};
		pthread_create(&tw[t], NULL, sw_worker, &args[t]);
	}
	pthread_create(&tp, NULL, sw_pager, s);
	p0 = pins_outstanding();
	in0 = vmstat("pswpin");
	out0 = vmstat("pswpout");
	getrusage(RUSAGE_SELF, &ru);
	maj0 = ru.ru_majflt;
	t0 = now_s();
	/* secs, and up to 5 x secs while no round has counted */
	while (!s->r.stop && (now_s() - t0 < secs || (!counted && now_s() - t0 < 5 * secs))) {
		int rel[2], done[2], swapped[2] = {0, 0};
		pid_t pid;

		/* pages still in another CPU's LRU batch stay: the round counts what went out */
		madvise(s->r.buf, s->r.len, MADV_PAGEOUT);
		if (pipe(rel) || pipe(done)) {
			rfail(&s->r, "pipe: %s", strerror(errno));
			break;
		}
		pid = cell_fork();
		if (pid == 0) {
			close(rel[1]);
			close(done[1]);
			_exit(sw_child(s, rel[0], done[0]));
		}
		close(rel[0]);
		close(done[0]);
		if (pid < 0)
			rfail(&s->r, "fork: %s", strerror(errno));
		for (int h = 0; h < 2; h++)
			for (size_t i = 0; i < SW_HALF; i++)
				swapped[h] += !!(pagemap(s->r.buf + (h * SW_HALF + i) * PAGE) & PM_SWAP);
		/* the premise of the class: a page swapped in and out again got the same entry back */
		for (size_t i = 0; i < SW_HALF; i++) {
			uint64_t e = swap_entry_of(s->r.buf + i * PAGE);

			reused += e && e == last[i];
			last[i] = e;
		}
		s->workers_done = 0;
		pthread_barrier_wait(&s->start);
		if (pid > 0 && write(rel[1], "g", 1) != 1)
			rfail(&s->r, "pipe write: %s", strerror(errno));
		pthread_barrier_wait(&s->end);
		/* every slice holds its last write (the threads are parked) */
		for (int i = 0; i < 2 * SW_SLICES; i++) {
			uint64_t got = 0;
			long at = sw_diff(s->r.buf, &s->sl[i], s->sl[i].tag, 1, &got);

			if (at >= 0)
				sw_mismatch(s, "at the end of the round the buffer", &s->sl[i], at, s->sl[i].tag, got);
		}
		if (pid > 0) {
			if (write(done[1], "d", 1) != 1) { /* the child then fails with 6 */ }
			sw_wait_child(s, pid);
		}
		close(rel[1]);
		close(done[1]);
		swapped_at_release[0] += swapped[0];
		swapped_at_release[1] += swapped[1];
		counted += swapped[0] > 0;
		s->round = ++rounds;
	}
	s->quit = 1;
	pthread_barrier_wait(&s->start);
	for (int t = 0; t < SW_T; t++)
		pthread_join(tw[t], NULL);
	pthread_join(tp, NULL);
	if (own && sw_own_swap_end(race_swap, off, noff, why, sizeof(why)))  /* before any verdict: the race's */
		rfail(&s->r, "%s", why);
	getrusage(RUSAGE_SELF, &ru);
	printf("# %s: %.1f s, %ld rounds, %ld counted (half 0 swapped out at release); swapped pages at release:"
	       " %ld of the threads' half, %ld of the half shared with the child (%ld rounds x %d pages each);"
	       " %ld exact slice checks, %ld of slices being written, %ld pinned reads, %ld O_DIRECT reads,"
	       " %ld writes, %ld MADV_PAGEOUT, %ld long-term pins refused (ENOMEM); pswpin +%ld, pswpout +%ld,"
	       " major faults +%ld; %s\n", cname,
	       now_s() - t0, rounds, counted, swapped_at_release[0], swapped_at_release[1], rounds, SW_HALF, s->checks,
	       s->unstable, s->pin_reads, s->dio_reads, s->writes, s->pageouts, s->pin_enomem, vmstat("pswpin") - in0,
	       vmstat("pswpout") - out0, ru.ru_majflt - maj0, own ? "its own swap device" : why);
	if (own)
		printf("# %s: on %s alone (%d other area(s) off): %ld times a page of the threads' half came back to"
		       " the swap entry it had the round before\n", cname, race_swap, noff, reused);
	if (!s->r.failed[0] && pins_settle(p0) != p0)
		snprintf(s->r.failed, sizeof(s->r.failed), "%ld pin(s) outstanding after the race", pins_settle(p0) - p0);
	if (!s->r.failed[0] && (bad = sw_mapped_wrong(s->r.buf, &cnt)) > 0)
		snprintf(s->r.failed, sizeof(s->r.failed), "%d page(s) of the buffer mapped other than once after"
			 " the race (/proc/kpagecount %lu)", bad, (unsigned long)cnt);
	if (s->r.failed[0]) {
		printf("CASE %s FAIL: %s\n", cname, s->r.failed);
		cells_fail++;
	} else if (!counted) {
		printf("CASE %s SKIP: in %ld rounds the threads' half was never swapped out (pagemap) when they were"
		       " released\n", cname, rounds);
		cells_skip++;
	} else if (vmstat("pswpin") == in0 || vmstat("pswpout") == out0) {
		printf("CASE %s SKIP: pswpin or pswpout did not move\n", cname);
		cells_skip++;
	} else {
		printf("CASE %s PASS\n", cname);
		cells_pass++;
	}
	pthread_barrier_destroy(&s->start);
	pthread_barrier_destroy(&s->end);
	munmap(s->r.buf, s->r.len);
	if (s->r.dio_fd >= 0)
		close(s->r.dio_fd);
	if (dpath[0])
		unlink(dpath);
free_s:
	free(s);
}
