/* secret/...: memfd_secret(2) memory (mm/secretmem.c), pages the kernel takes out of its own
 * direct map while user space maps them. Part of pin_matrix.c (struct cell, cfail/cskip,
 * cell_fork(), fill64(), first_diff(); kentry_cells.h's pin_mark()/pins_back()/kentry_missing();
 * dio_paths.h's ext4_dir), entered by secret_cells() from main.
 *
 * What 6.12 promises (mm/secretmem.c): the file is sized once (secretmem_setattr() refuses any
 * size change of a file that has one: EINVAL), mapped MAP_SHARED only, VM_DONTDUMP and nothing
 * else (no VM_DONTCOPY, no VM_WIPEONFORK): a child inherits the mapping and shares its pages.
 * secretmem_fault() allocates a zeroed page, takes it out of the direct map and adds it to the
 * file; the loser of two concurrent first faults of one page gets -EEXIST from
 * filemap_add_folio() and must put its page back into the direct map before freeing it
 * (page_poison=1 writes the freed page through the direct map). Each page is charged to the
 * user's RLIMIT_MEMLOCK (user->locked_vm: secretmem_account_folio(), taken back on every error
 * path and at the last close). GUP refuses secretmem VMAs (mm/gup.c check_vma_flags()) and
 * GUP-fast refuses their folios (gup_fast_folio_allowed()): no pin of a secret page, ever;
 * copy_to/from_user through the process's own page tables still works.
 *
 * secret/fault-race/threads: 2-4 threads (online CPUs) fault every page of a fresh mapping at
 *   once (a spin barrier per page; SC_PAGES pages, SC_ROUNDS rounds, each a new file), each
 *   writing its own words of the page; then every thread reads every byte of the mapping
 *   (its own words, the others', zeros elsewhere) and the mapping is dropped and mapped again
 *   from the fd (the page cache kept every page: the same bytes). Premise: pages whose first
 *   write faulted in two threads at once (minor faults around each write, getrusage
 *   RUSAGE_THREAD: the second thread met the page not yet mapped), else SKIP.
 * secret/fault-race/fork: the parent writes the first half, forks: the child must read those
 *   bytes (the inherited mapping), then parent and child fault the second half's pages at once
 *   (the barrier in shared memory), each writing its own words; the parent reads the child's.
 *   Premise: pages whose two faulting writes overlapped in time (CLOCK_MONOTONIC around each;
 *   separate mms, so each party always faults: only the overlap says they met), else SKIP.
 * secret/refused/<entry>: O_DIRECT read into and write from a secret buffer (ext4), vmsplice,
 *   process_vm_readv/writev (remote side secret), io_uring buffer registration, gup_test's
 *   GUP-fast, PIN-fast, slow pin and long-term pin, /proc/self/mem (FOLL_FORCE): each must be
 *   refused (an error, or gup_test's size 0), the secret bytes and the other side unchanged, the
 *   FOLL_PIN counters back.
 * secret/copy: read(2)/write(2) with secret buffers (pipe, buffered ext4) must work, byte exact.
 * secret/unmap: two views of one file; ftruncate refused (size kept); the fd closed while mapped,
 *   mremap of one view, a writer thread on one view while the other is munmapped piece by piece:
 *   every byte where it belongs in the views still mapped.
 * secret/accounting: in a child with RLIMIT_MEMLOCK at SC_LIMIT pages, the pages a secret file
 *   can fault before SIGBUS (the limit's leftover of root's locked_vm), measured before the
 *   block and after it: the same (nothing the block did stayed charged) and at most SC_LIMIT.
 * The pages oracle and the console scanner see what is left after (a freed page still out of
 * the direct map oopses when poisoned).
 */
#include <sys/resource.h>
#include <setjmp.h>
#include <stdatomic.h>

#ifndef __NR_memfd_secret
#define __NR_memfd_secret 447
#endif
#define SC_PAGES 256   /* pages of a fault-race round */
#define SC_ROUNDS 2
#define SC_SECONDS 3.0  /* a round starts only before this much time went */
#define SC_THREADS 4
#define SC_SLOT 64     /* bytes of a page each thread writes: its own */
#define SC_LIMIT 64    /* RLIMIT_MEMLOCK pages of secret/accounting's child */
#define SC_LEN (16 * PAGE)  /* the refused/copy/unmap cells' buffer */

static int secret_wanted(const char *name) { return block_wanted(name, NULL, 0); }

static int memfd_secret(void) { return (int)syscall(__NR_memfd_secret, 0); }

/* A secret file of len bytes mapped shared (its fd in *fd); NULL with the cell told why */
static char *sc_map(struct cell *c, size_t len, int *fd)
{
	char *p;

	*fd = memfd_secret();
	if (*fd < 0) {
		if (errno == ENOSYS)
			kentry_missing(c, "secretmem", "memfd_secret: ENOSYS (CONFIG_SECRETMEM off, secretmem.enable=0, or "
				       "no direct-map control)");
		else
			cfail(c, "memfd_secret: %s", strerror(errno));
		return NULL;
	}
	if (ftruncate(*fd, (off_t)len)) {
		cfail(c, "ftruncate of a new secret file to %zu: %s", len, strerror(errno));
		close(*fd);
		*fd = -1;
		return NULL;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (p == MAP_FAILED) {
		cfail(c, "mmap of the secret file: %s", strerror(errno));
		close(*fd);
		*fd = -1;
		return NULL;
	}
	return p;
}

/* -- the first-fault race ------------------------------------------------------------------- */

struct sc_race {
	char *map;
	int nthr;
	atomic_int arrive, gen;
	atomic_int abort;
	unsigned char faulted[SC_THREADS][SC_PAGES];  /* page i's write took party t a fault */
	double span[SC_THREADS][SC_PAGES][2];  /* CLOCK_MONOTONIC before and after party t's write of page i */
	unsigned seed;
	char why[200];
};

static void sc_rfail(struct sc_race *r, const char *fmt, ...);

/* A spin barrier before page i (the final one: i past the range) (futex wake-ups under TCG are
 * slower than the fault window): 0, or -1 when a party did not arrive in 10 s (it died: the
 * oops of a bad fault, say), told in r->why */
static int sc_barrier(struct sc_race *r, size_t i)
{
	int g = atomic_load(&r->gen);
	double until = 0;

	if (atomic_fetch_add(&r->arrive, 1) == r->nthr - 1) {
		atomic_store(&r->arrive, 0);
		atomic_fetch_add(&r->gen, 1);
		return 0;
	}
	for (unsigned long n = 1; atomic_load(&r->gen) == g; n++) {
		if (atomic_load(&r->abort))
			return -1;
		if (n % 4096 == 0) {
			if (r->nthr > 2)
				sched_yield();  /* more threads than a 2-vCPU guest has CPUs */
			if (!until)
				until = now_s() + 10;
			else if (now_s() > until) {
				sc_rfail(r, "a party did not reach page %zu's barrier in 10 s", i);
				return -1;
			}
		}
	}
	return 0;
}

/* The word thread t writes at word w of its slot in page i */
static uint64_t sc_word(unsigned seed, size_t i, int t, int w)
{
	return (i + 1) * 0x9E3779B97F4A7C15ULL ^ ((uint64_t)seed << 40) ^ ((uint64_t)t << 32) ^ (uint64_t)(w + 1);
}

static void sc_rfail(struct sc_race *r, const char *fmt, ...)
{
	va_list ap;

	if (atomic_exchange(&r->abort, 1))
		return;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
}

/* Every byte of pages [from, to): each party's slot its words, zeros elsewhere; -1 told why */
static int sc_check(struct sc_race *r, size_t from, size_t to, const char *who)
{
	for (size_t i = from; i < to; i++) {
		const uint64_t *w = (const uint64_t *)(r->map + i * PAGE);

		for (size_t k = 0; k < PAGE / 8; k++) {
			int t = (int)(k * 8 / SC_SLOT), in = t < r->nthr;
			uint64_t want = in ? sc_word(r->seed, i, t, (int)(k % (SC_SLOT / 8))) : 0;

			if (w[k] != want) {
				sc_rfail(r, "%s: page %zu byte %zu reads %#llx, want %#llx (%s)", who, i, k * 8,
					 (unsigned long long)w[k], (unsigned long long)want,
					 in ? "a party's own word" : "zeros of a fresh page");
				return -1;
			}
		}
	}
	return 0;
}

/* Party t: pages [from, to) one at a time with all parties at once, its slot written and read
 * back, whether that write faulted (minor faults around it: RUSAGE_THREAD, or RUSAGE_SELF in a
 * forked party) in r->faulted; then the whole range read. */
static void sc_party(struct sc_race *r, int t, size_t from, size_t to, int whole_process)
{
	int who = whole_process ? RUSAGE_SELF : RUSAGE_THREAD;
	struct rusage a = {0}, b = {0};  /* written before: no copy-on-write fault of the stack counted */

	for (size_t i = from; i < to && !atomic_load(&r->abort); i++) {
		uint64_t *slot = (uint64_t *)(r->map + i * PAGE + (size_t)t * SC_SLOT);

		getrusage(who, &a);
		if (sc_barrier(r, i))
			break;
		r->span[t][i][0] = now_s();
		for (int w = 0; w < SC_SLOT / 8; w++)
			slot[w] = sc_word(r->seed, i, t, w);  /* the first write faults the page in */
		r->span[t][i][1] = now_s();
		getrusage(who, &b);
		r->faulted[t][i] = b.ru_minflt > a.ru_minflt;
		for (int w = 0; w < SC_SLOT / 8; w++)
			if (slot[w] != sc_word(r->seed, i, t, w)) {
				sc_rfail(r, "party %d: page %zu word %d reads back %#llx just after it wrote it", t, i, w,
					 (unsigned long long)slot[w]);
				break;
			}
	}
	if (!sc_barrier(r, to))
		sc_check(r, from, to, t ? "another party" : "party 0");
}

struct sc_arg {
	struct sc_race *r;
	int t;
};

static void *sc_thread(void *arg)
{
	struct sc_arg *a = arg;

	sc_party(a->r, a->t, 0, SC_PAGES, 0);
	return NULL;
}

/* Pages of [from, to) that more than one party's write faulted: first faults that overlapped */
static long sc_doubled(struct sc_race *r, size_t from, size_t to)
{
	long n = 0;

	for (size_t i = from; i < to; i++) {
		int k = 0;

		for (int t = 0; t < r->nthr; t++)
			k += r->faulted[t][i];
		n += k > 1;
	}
	return n;
}

/* Pages of [from, to) whose writes by parties 0 and 1 overlapped in time */
static long sc_overlapped(struct sc_race *r, size_t from, size_t to)
{
	long n = 0;

	for (size_t i = from; i < to; i++) {
		double *a = r->span[0][i], *b = r->span[1][i];

		n += (a[0] > b[0] ? a[0] : b[0]) < (a[1] < b[1] ? a[1] : b[1]);
	}
	return n;
}

static void secret_race_threads(struct cell *c, int unused)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN), doubled = 0;
	int nthr = cpus < 2 ? 2 : cpus > SC_THREADS ? SC_THREADS : (int)cpus;

	double t0 = now_s();
	int round;

	/* SC_ROUNDS rounds, fewer past SC_SECONDS (TCG) */
	for (round = 0; round < SC_ROUNDS && !c->failed[0] && (!round || now_s() - t0 < SC_SECONDS); round++) {
		struct sc_race *r = calloc(1, sizeof(*r));
		struct sc_arg args[SC_THREADS];
		pthread_t th[SC_THREADS];
		int fd, started = 0;

		if (!r)
			cfail(c, "out of memory");
		if (!r || !(r->map = sc_map(c, SC_PAGES * PAGE, &fd))) {
			free(r);
			return;
		}
		r->nthr = nthr;
		r->seed = 0x5ec0 + (unsigned)round;
		for (int t = 1; t < nthr; t++) {
			args[t] = (struct sc_arg){r, t};
			if ((errno = pthread_create(&th[t], NULL, sc_thread, &args[t]))) {
				sc_rfail(r, "pthread_create: %s", strerror(errno));
				break;
			}
			started++;
		}
		if (started == nthr - 1)
			sc_party(r, 0, 0, SC_PAGES, 0);
		for (int t = 1; t <= started; t++)
			pthread_join(th[t], NULL);
		doubled += sc_doubled(r, 0, SC_PAGES);
		if (r->why[0] || atomic_load(&r->abort)) {
			cfail(c, "round %d: %s", round, r->why[0] ? r->why : "a party gave up without a reason");
		} else {
			/* the page cache kept them: a new mapping of the file reads the same bytes */
			munmap(r->map, SC_PAGES * PAGE);
			r->map = mmap(NULL, SC_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			if (r->map == MAP_FAILED)
				cfail(c, "mmap of the file again: %s", strerror(errno));
			else if (sc_check(r, 0, SC_PAGES, "mapped again"))
				cfail(c, "round %d: %s", round, r->why);
		}
		if (r->map != MAP_FAILED)
			munmap(r->map, SC_PAGES * PAGE);
		close(fd);
		free(r);
	}
	if (!c->failed[0] && doubled <= 0)
		cskip(c, "no page's first write faulted in two of the %d threads at once (minor faults around each "
		      "write): nothing raced", nthr);
	if (!c->failed[0])
		printf("# %s: %d threads, %d round(s) of %d pages: %ld page(s) faulted by two threads or more at once\n",
		       c->name, nthr, round, SC_PAGES, doubled);
}

static void secret_race_fork(struct cell *c, int unused)
{
	size_t half = SC_PAGES / 2;
	struct sc_race *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int fd = -1;
	long met = 0;
	pid_t pid;

	if (r == MAP_FAILED) {
		cfail(c, "shared memory: %s", strerror(errno));
		return;
	}
	memset(r, 0, sizeof(*r));
	if (!(r->map = sc_map(c, SC_PAGES * PAGE, &fd)))
		goto out;
	r->nthr = 2;
	r->seed = 0xf0c;
	for (size_t i = 0; i < half; i++)  /* the parent's first half: both slots, as if both wrote */
		for (int t = 0; t < 2; t++)
			for (int w = 0; w < SC_SLOT / 8; w++)
				((uint64_t *)(r->map + i * PAGE + (size_t)t * SC_SLOT))[w] = sc_word(r->seed, i, t, w);
	if ((pid = cell_fork()) == 0) {  /* what went wrong is in r->why: the exit status says only how it ended */
		if (sc_check(r, 0, half, "the child, in the inherited mapping"))
			_exit(0);
		sc_party(r, 1, half, SC_PAGES, 1);
		_exit(0);
	}
	if (pid < 0) {
		cfail(c, "fork: %s", strerror(errno));
		goto out;
	}
	sc_party(r, 0, half, SC_PAGES, 1);
	wait_child(c, pid, "the secret child");
	if (r->why[0])
		cfail(c, "%s", r->why);
	else if (sc_check(r, 0, SC_PAGES, "the parent, after the child exited"))
		cfail(c, "%s", r->why);
	else if ((met = sc_overlapped(r, half, SC_PAGES)) <= 0)
		cskip(c, "no page's faulting writes by parent and child overlapped in time (CLOCK_MONOTONIC around each)");
	if (!c->failed[0])
		printf("# %s: the child read the %zu pages written before fork; %zu pages faulted at once: %ld "
		       "with the two writes overlapping in time\n", c->name, half, SC_PAGES - half, met);
out:
	if (r->map)
		munmap(r->map, SC_PAGES * PAGE);
	if (fd >= 0)
		close(fd);
	munmap(r, sizeof(*r));
}

/* -- the pinners, refused -------------------------------------------------------------------- */

enum sref { SR_DIO_READ, SR_DIO_WRITE, SR_VMSPLICE, SR_PVM_READ, SR_PVM_WRITE, SR_URING, SR_GUP_FAST, SR_PIN_FAST,
	    SR_PIN_SLOW, SR_PIN_LONGTERM, SR_PROC_MEM, NSREF };
static const char *const sref_names[NSREF] = {"dio-ext4-read", "dio-ext4-write", "vmsplice", "pvm-readv", "pvm-writev",
					      "uring-register", "gup-fast", "pin-fast", "pin-slow", "pin-longterm",
					      "proc-mem"};

/* The entry tried on the secret buffer sec (SC_LEN, holding its pattern); other: a plain buffer
 * holding its own pattern (the other side). 1 refused, 0 accepted (what it said in said), -1 the
 * cell failed or skipped for another reason. */
static int sc_try(struct cell *c, enum sref e, char *sec, char *other, char *said, size_t n)
{
	char path[300];
	ssize_t r = 0;
	int fd, p[2];

	switch (e) {
	case SR_DIO_READ:
	case SR_DIO_WRITE:
		if ((fd = dio_ext4_file(c, "secret", path, sizeof(path), other, SC_LEN)) < 0)
			return -1;
		r = e == SR_DIO_READ ? pread(fd, sec, SC_LEN, 0) : pwrite(fd, sec, SC_LEN, 0);
		snprintf(said, n, "%zd (%s)", r, r < 0 ? strerror(errno) : "bytes");
		/* the file must still hold other's bytes: read back into other */
		if (pread(fd, other, SC_LEN, 0) != (ssize_t)SC_LEN)
			cfail(c, "O_DIRECT read back of the file: %s", strerror(errno));
		close(fd);
		unlink(path);
		return r < 0;
	case SR_VMSPLICE:
		if (pipe(p)) {
			cfail(c, "pipe: %s", strerror(errno));
			return -1;
		}
		r = vmsplice(p[1], &(struct iovec){sec, SC_LEN / 4}, 1, SPLICE_F_NONBLOCK);
		snprintf(said, n, "%zd (%s)", r, r < 0 ? strerror(errno) : "bytes");
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		if (r < 0 && read(p[0], other, PAGE) >= 0)
			cfail(c, "vmsplice was refused, yet the pipe holds bytes");
		close_pair(p);
		return r < 0;
	case SR_PVM_READ:
	case SR_PVM_WRITE: {
		struct iovec loc = {other, SC_LEN}, rem = {sec, SC_LEN};

		r = e == SR_PVM_READ ? process_vm_readv(getpid(), &loc, 1, &rem, 1, 0)
				     : process_vm_writev(getpid(), &loc, 1, &rem, 1, 0);
		snprintf(said, n, "%zd (%s)", r, r < 0 ? strerror(errno) : "bytes");
		return r < 0;
	}
	case SR_URING: {
		struct io_uring u;
		int ret = io_uring_queue_init(4, &u, 0);

		if (ret) {
			cskip(c, "io_uring_queue_init: %s", strerror(-ret));
			return -1;
		}
		ret = io_uring_register_buffers(&u, &(struct iovec){sec, SC_LEN}, 1);
		snprintf(said, n, "%d (%s)", ret, ret < 0 ? strerror(-ret) : "registered");
		if (!ret)
			io_uring_unregister_buffers(&u);
		io_uring_queue_exit(&u);
		return ret < 0;
	}
	case SR_PIN_LONGTERM: {
		struct pin_longterm_test a = {.addr = (uintptr_t)sec, .size = SC_LEN, .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE};

		if (gup_fd < 0) {
			cskip(c, "no /sys/kernel/debug/gup_test");
			return -1;
		}
		r = ioctl(gup_fd, PIN_LONGTERM_TEST_START, &a);
		snprintf(said, n, "%zd (%s)", r, r < 0 ? strerror(errno) : "pinned");
		if (!r)
			ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
		return r < 0;
	}
	case SR_PROC_MEM:
		fd = open("/proc/self/mem", O_RDWR);
		if (fd < 0) {
			cfail(c, "/proc/self/mem: %s", strerror(errno));
			return -1;
		}
		r = pread(fd, other, SC_LEN, (off_t)(uintptr_t)sec);
		snprintf(said, n, "read %zd (%s)", r, r < 0 ? strerror(errno) : "bytes");
		if (r < 0) {
			r = pwrite(fd, other, SC_LEN, (off_t)(uintptr_t)sec);
			snprintf(said + strlen(said), n - strlen(said), ", write %zd (%s)", r, r < 0 ? strerror(errno) : "bytes");
		}
		close(fd);
		return r < 0;
	default: {  /* gup_test's benchmark ioctls: the size they got is what they pinned */
		struct gup_test g = {.addr = (uintptr_t)sec, .size = SC_LEN, .nr_pages_per_call = 1,
				     .gup_flags = FOLL_WRITE_};
		unsigned long cmd = e == SR_GUP_FAST ? GUP_FAST_BENCHMARK : e == SR_PIN_FAST ? PIN_FAST_BENCHMARK
											: PIN_BASIC_TEST;

		if (gup_fd < 0) {
			cskip(c, "no /sys/kernel/debug/gup_test");
			return -1;
		}
		r = ioctl(gup_fd, cmd, &g);
		snprintf(said, n, "%zd (%s), %llu bytes got", r, r < 0 ? strerror(errno) : "ok", (unsigned long long)g.size);
		return r < 0 || g.size == 0;
	}
	}
}

static void secret_refused(struct cell *c, int k)
{
	enum sref e = (enum sref)k;
	char *other = aligned_alloc(PAGE, SC_LEN), *want = malloc(SC_LEN), *owant = malloc(SC_LEN), *sec;
	char said[160] = "";
	struct pinmark m;
	long d;
	int fd = -1, r;

	if (!other || !want || !owant)
		cfail(c, "out of memory");
	if (!other || !want || !owant || !(sec = sc_map(c, SC_LEN, &fd)))
		goto out;
	fill64(want, SC_LEN, 0x5ec);
	fill64(owant, SC_LEN, 0x07e);
	memcpy(sec, want, SC_LEN);  /* faulted in and written: pages there to pin */
	memcpy(other, owant, SC_LEN);
	pin_mark(&m);
	r = sc_try(c, e, sec, other, said, sizeof(said));
	if (r == 0)
		cfail(c, "%s of a secret buffer was accepted: %s", sref_names[e], said);
	if (r < 0 || c->failed[0] || c->skip[0])
		goto unmap;
	if ((d = first_diff(sec, want, SC_LEN)) >= 0)
		cfail(c, "after the refused %s the secret buffer differs at byte %ld", sref_names[e], d);
	else if ((d = first_diff(other, owant, SC_LEN)) >= 0)
		cfail(c, "after the refused %s the other side (%s) differs at byte %ld", sref_names[e],
		      e <= SR_DIO_WRITE ? "the file" : "the plain buffer", d);
	if (!c->failed[0])
		pins_back(c, &m, sref_names[e]);
	if (!c->failed[0])
		printf("# %s: refused: %s; both sides' bytes kept, pins back\n", c->name, said);
unmap:
	munmap(sec, SC_LEN);
	close(fd);
out:
	free(other);
	free(want);
	free(owant);
}

/* read(2)/write(2) of secret buffers: plain copies through the process's own mapping */
static void secret_copy(struct cell *c, int unused)
{
	char *a, *b, *want = malloc(SC_LEN);
	int fa = -1, fb = -1, p[2] = {-1, -1}, fd = -1;
	char path[300];
	long d;

	if (!want)
		cfail(c, "out of memory");
	if (!want || !(a = sc_map(c, SC_LEN, &fa)))
		goto out;
	if (!(b = sc_map(c, SC_LEN, &fb))) {
		munmap(a, SC_LEN);
		goto out;
	}
	fill64(want, SC_LEN, 0xc09);
	memcpy(a, want, SC_LEN);
	if (pipe(p) || fcntl(p[1], F_SETPIPE_SZ, (int)SC_LEN) < 0) {
		cfail(c, "a pipe of %zu bytes: %s", SC_LEN, strerror(errno));
	} else if (write(p[1], a, SC_LEN) != (ssize_t)SC_LEN || read(p[0], b, SC_LEN) != (ssize_t)SC_LEN) {
		cfail(c, "write from one secret buffer into a pipe and read into another: %s", strerror(errno));
	} else if ((d = first_diff(b, want, SC_LEN)) >= 0) {
		cfail(c, "a secret buffer read from a pipe differs from what the other wrote at byte %ld", d);
	}
	if (!c->failed[0] && ext4_dir) {  /* buffered file I/O: copy_page_{to,from}_iter */
		snprintf(path, sizeof(path), "%s/secret-copy.%d", ext4_dir, getpid());
		memset(b, 0, SC_LEN);
		if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) < 0 || pwrite(fd, a, SC_LEN, 0) != (ssize_t)SC_LEN ||
		    fsync(fd) || pread(fd, b, SC_LEN, 0) != (ssize_t)SC_LEN)
			cfail(c, "buffered write from and read into secret buffers on ext4: %s", strerror(errno));
		else if ((d = first_diff(b, want, SC_LEN)) >= 0)
			cfail(c, "a secret buffer read back from ext4 differs at byte %ld", d);
		if (fd >= 0)
			close(fd);
		unlink(path);
	}
	if ((d = first_diff(a, want, SC_LEN)) >= 0)
		cfail(c, "the source secret buffer changed at byte %ld", d);
	if (!c->failed[0])
		printf("# %s: %zu bytes through a pipe%s, byte exact\n", c->name, SC_LEN, ext4_dir ? " and ext4" : "");
	close_pair(p);
	munmap(a, SC_LEN);
	munmap(b, SC_LEN);
	close(fb);
out:
	if (fa >= 0)
		close(fa);
	free(want);
}

struct sc_writer {
	uint64_t *words;  /* one word a page */
	size_t pages;
	atomic_int stop;
	uint64_t last;
};

static void *sc_write_loop(void *arg)
{
	struct sc_writer *w = arg;
	uint64_t v = 0;

	while (!atomic_load(&w->stop)) {
		v++;
		for (size_t i = 0; i < w->pages; i++)
			w->words[i * (PAGE / 8)] = v;
	}
	w->last = v;
	return NULL;
}

/* Two views of one file, munmapped and moved under a writer, the fd closed, the size refused */
static void secret_unmap(struct cell *c, int unused)
{
	size_t np = SC_LEN / PAGE;
	char *a, *b = MAP_FAILED, *want = malloc(SC_LEN), *moved;
	struct sc_writer w = {0};
	struct stat st;
	pthread_t th;
	off_t bad[2] = {2 * SC_LEN, SC_LEN / 2};
	long d;
	int fd = -1;

	if (!want)
		cfail(c, "out of memory");
	if (!want || !(a = sc_map(c, SC_LEN, &fd))) {
		free(want);
		return;
	}
	fill64(want, SC_LEN, 0x0a1);
	memcpy(a, want, SC_LEN);
	b = mmap(NULL, SC_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (b == MAP_FAILED) {
		cfail(c, "a second mapping of the file: %s", strerror(errno));
		goto out;
	}
	if ((d = first_diff(b, want, SC_LEN)) >= 0) {
		cfail(c, "the second view differs from the first at byte %ld", d);
		goto out;
	}
	for (int k = 0; k < 2 && !c->failed[0]; k++) {
		int rc = ftruncate(fd, bad[k]);

		if (!rc || errno != EINVAL)
			cfail(c, "ftruncate of a sized secret file to %lld: %s, want EINVAL (secretmem_setattr())",
			      (long long)bad[k], rc ? strerror(errno) : "accepted");
	}
	if (!c->failed[0] && (fstat(fd, &st) || st.st_size != (off_t)SC_LEN))
		cfail(c, "after the refused ftruncate the size is %lld, want %zu", (long long)st.st_size, SC_LEN);
	close(fd);
	fd = -1;
	if (c->failed[0])
		goto out;
	/* a writer on view a, one word a page, while view b goes piece by piece and moves */
	w.words = (uint64_t *)a;
	w.pages = np;
	if ((errno = pthread_create(&th, NULL, sc_write_loop, &w))) {
		cfail(c, "pthread_create: %s", strerror(errno));
		goto out;
	}
	munmap(b + 4 * PAGE, 4 * PAGE);  /* a hole in b: pages 4-7 */
	moved = mremap(b + 8 * PAGE, 8 * PAGE, 8 * PAGE, MREMAP_MAYMOVE);  /* b's tail moves */
	usleep(20000);
	atomic_store(&w.stop, 1);
	pthread_join(th, NULL);
	for (size_t i = 0; i < np; i++)
		*(uint64_t *)(want + i * PAGE) = w.last;
	if (moved == MAP_FAILED) {
		cfail(c, "mremap of a secret view: %s", strerror(errno));
	} else if ((d = first_diff(a, want, SC_LEN)) >= 0) {
		cfail(c, "view a (written all along) differs at byte %ld after b was cut and moved", d);
	} else if ((d = first_diff(b, want, 4 * PAGE)) >= 0) {
		cfail(c, "what is left of view b at its place differs at byte %ld", d);
	} else if ((d = first_diff(moved, want + 8 * PAGE, 8 * PAGE)) >= 0) {
		cfail(c, "the moved part of view b differs at byte %ld (page %ld of the file)", d, 8 + d / (long)PAGE);
	} else {
		fill64(moved, 8 * PAGE, 0x0b2);  /* written through the moved view, read through a */
		fill64(want + 8 * PAGE, 8 * PAGE, 0x0b2);
		if ((d = first_diff(a, want, SC_LEN)) >= 0)
			cfail(c, "view a does not see what the moved view wrote: byte %ld", d);
	}
	if (moved != MAP_FAILED)
		munmap(moved, 8 * PAGE);
	munmap(b, 4 * PAGE);
	b = MAP_FAILED;
	if (!c->failed[0])
		printf("# %s: ftruncate refused, fd closed, view b cut and moved under a writer on a (%llu passes): every "
		       "byte where it belongs\n", c->name, (unsigned long long)w.last);
out:
	if (b != MAP_FAILED)
		munmap(b, SC_LEN);
	munmap(a, SC_LEN);
	if (fd >= 0)
		close(fd);
	free(want);
}

/* -- RLIMIT_MEMLOCK accounting ----------------------------------------------------------------- */

static sigjmp_buf sc_jmp;

static void sc_on_bus(int sig)
{
	(void)sig;
	siglongjmp(sc_jmp, 1);
}

/* In a child with RLIMIT_MEMLOCK at SC_LIMIT pages: the pages a fresh secret file faults in
 * before SIGBUS; -1 (why in why) when that cannot be measured */
static long sc_fit(char *why, size_t n)
{
	long *fit = mmap(NULL, sizeof(long), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int st = 0;
	pid_t pid;
	long got;

	if (fit == MAP_FAILED) {
		snprintf(why, n, "shared memory: %s", strerror(errno));
		return -1;
	}
	*fit = -1;
	if ((pid = cell_fork()) == 0) {
		struct rlimit rl = {SC_LIMIT * PAGE, SC_LIMIT * PAGE};
		size_t len = 2 * SC_LIMIT * PAGE;
		volatile char *p;
		volatile long i = 0;
		int fd = memfd_secret();

		if (fd < 0 || ftruncate(fd, (off_t)len) || setrlimit(RLIMIT_MEMLOCK, &rl))
			_exit(1);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(1);
		signal(SIGBUS, sc_on_bus);
		if (!sigsetjmp(sc_jmp, 1))
			for (; i < 2 * SC_LIMIT; i++)
				p[i * PAGE] = 1;
		*fit = i;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		snprintf(why, n, "the measuring child: %s, status %#x", pid < 0 ? strerror(errno) : "failed", st);
		got = -1;
	} else {
		got = *fit;
	}
	munmap(fit, sizeof(long));
	return got;
}

static void secret_accounting(struct cell *c, long before, const char *why_before)
{
	char why[200];
	long after = sc_fit(why, sizeof(why));

	if (before < 0 || after < 0)
		cskip(c, "cannot measure what RLIMIT_MEMLOCK lets a secret file fault: %s", before < 0 ? why_before : why);
	else if (after >= 2 * SC_LIMIT)
		cskip(c, "RLIMIT_MEMLOCK of %d pages stopped no fault of %d secret pages: this kernel charges no page at "
		      "fault time (upstream charges at mmap, VM_LOCKED, and lets CAP_IPC_LOCK pass)", SC_LIMIT, 2 * SC_LIMIT);
	else if (after > SC_LIMIT)
		cfail(c, "a child with RLIMIT_MEMLOCK at %d pages faulted %ld secret pages: the limit is not applied",
		      SC_LIMIT, after);
	else if (after != before)
		cfail(c, "RLIMIT_MEMLOCK of %d pages let %ld secret pages fault before the block, %ld after: %+ld pages "
		      "%s", SC_LIMIT, before, after, before - after, after < before ? "still charged (locked_vm leaked)"
									: "uncharged more than charged");
	else if (before == 0)
		cskip(c, "RLIMIT_MEMLOCK of %d pages let no secret page fault at all (root's locked_vm over it already)",
		      SC_LIMIT);
	else
		printf("# %s: %ld of %d pages fit under RLIMIT_MEMLOCK before the block and after it\n", c->name, after,
		       SC_LIMIT);
}

static const struct cell_entry sc_table[] = {
	{"secret/fault-race/threads", secret_race_threads}, {"secret/fault-race/fork", secret_race_fork},
	{"secret/copy", secret_copy}, {"secret/unmap", secret_unmap},
	{"secret/refused/", secret_refused, sref_names, NSREF}};

/* What secret/accounting compares with: measured once, before the first other cell ran */
struct sc_before {
	long fit;  /* -2: not yet */
	char why[200];
};

static int sc_measure_fit(struct cell *unused, void *arg)
{
	struct sc_before *f = arg;

	if (f->fit == -2)
		f->fit = secret_wanted("secret/accounting") ? sc_fit(f->why, sizeof(f->why)) : -1;
	return 0;
}

static void secret_cells(void)
{
	struct rlimit was, rl;
	struct sc_before fit = {-2, ""};
	int raised = 0;

	/* the cells fault up to 2 x SC_PAGES secret pages at once, charged to RLIMIT_MEMLOCK */
	if (!list_only && !getrlimit(RLIMIT_MEMLOCK, &was) && was.rlim_cur < 8 * SC_PAGES * PAGE) {
		rl = (struct rlimit){8 * SC_PAGES * PAGE, was.rlim_max > 8 * SC_PAGES * PAGE ? was.rlim_max : 8 * SC_PAGES * PAGE};
		raised = !setrlimit(RLIMIT_MEMLOCK, &rl);
	}
	run_cells(sc_table, sizeof(sc_table) / sizeof(sc_table[0]), sc_measure_fit, &fit);
	if (secret_wanted("secret/accounting") && begins("secret/accounting")) {
		struct cell c = {.fd = -1};
		double began = now_s();

		snprintf(c.name, sizeof(c.name), "secret/accounting");
		if (fit.fit == -2)
			fit.fit = -1, snprintf(fit.why, sizeof(fit.why), "no other secret cell ran before it");
		secret_accounting(&c, fit.fit, fit.why);
		verdict(&c, began);
	}
	if (raised)
		setrlimit(RLIMIT_MEMLOCK, &was);
}
