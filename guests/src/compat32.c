/* compat32: the compat/ cells of pin-matrix, run in a 32-bit process (gcc -m32) under the 64-bit
 * kernel, so that every system call below takes the i386 entry and the compat code: iovec arrays
 * read as struct compat_iovec by lib/iov_iter.c copy_compat_iovec_from_user() (readv, writev,
 * preadv2, pwritev2, process_vm_readv/writev's local and remote arrays, vmsplice, sendmsg and
 * recvmsg through net/compat.c's msghdr), io_uring with ctx->compat (IORING_OP_READV/WRITEV,
 * the iovec arrays of IORING_REGISTER_BUFFERS and _UPDATE in io_uring/rsrc.c) and
 * compat_ptrace_request() (PTRACE_PEEKDATA/POKEDATA of 4-byte words).
 *
 * Raw system calls and libc only: no liburing, nothing that assumes 64 bits. One cell a run:
 *   compat32 [-d EXT4DIR] [-b BLOCKDEV] CELL        (CELL: a name of compat_list.h)
 * It prints "# compat/CELL: ..." lines and, last, "PASS", "FAIL: why" or "SKIP: why" on
 * stdout, which pin_matrix (compat_cells.h) reads from a pipe: no write of this program pins
 * anything (a pipe copies), so the FOLL_PIN counters it reads are its own and the kernel's.
 *
 * Every cell first asserts that it is what it says (is_compat()): sizeof(long) == 4, and the
 * kernel's /proc/self/syscall, read during that very read(2), names syscall 3: read in the i386
 * table (x86_64's read is 0, its 3 is close). What a 64-bit process would get from the same call
 * is computed here: the bytes a gather (write) takes or a scatter (read) leaves, piece by piece
 * (shape_make(): more iovecs than UIO_FASTIOV, unaligned bases and lengths, empty ones, out of
 * address order), and the data is checked both ways: what memory gave is what the file, device,
 * pipe, socket or other process holds, and what they gave is what memory holds, gaps untouched.
 * The FOLL_PIN counters are back where they were after every cell (pins_quiet() before,
 * pins_settle() after); where the call pins (O_DIRECT, process_vm, io_uring), its acquired
 * count must have moved (premise).
 */
#define _FILE_OFFSET_BITS 64
#include "pinlib.h"
#include <linux/errqueue.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

_Static_assert(sizeof(long) == 4 && sizeof(struct iovec) == 8, "compat32.c is built with gcc -m32");
_Static_assert(SYS_read == 3, "the i386 system call table");

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
#define KPF_THP 22
#define MAX_RW 0x7ffff000UL  /* MAX_RW_COUNT: INT_MAX & PAGE_MASK */
#define NIOV 40  /* > UIO_FASTIOV (8): the kernel's iovec array is allocated */
#define SMALL (16 * PAGE)

static const char *ext4_dir, *blk_dev, *cell;
static char failed[300], skipped[200];

static void cfail(const char *fmt, ...)
{
	va_list ap;

	if (failed[0])
		return;  /* the first failure explains the others */
	va_start(ap, fmt);
	vsnprintf(failed, sizeof(failed), fmt, ap);
	va_end(ap);
}

static void cskip(const char *fmt, ...)
{
	va_list ap;

	if (skipped[0])
		return;
	va_start(ap, fmt);
	vsnprintf(skipped, sizeof(skipped), fmt, ap);
	va_end(ap);
}

/* 1 when this process runs the i386 system calls (see the head comment), else the cell fails */
static int is_compat(void)
{
	char buf[128] = "";
	int fd = open("/proc/self/syscall", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0) {
		cfail("cannot read /proc/self/syscall: %s", strerror(errno));
		return 0;
	}
	buf[n] = 0;
	if (atoi(buf) != SYS_read) {
		cfail("/proc/self/syscall read during read(2) says syscall %d, not the i386 read (%d): not a compat task",
		      atoi(buf), SYS_read);
		return 0;
	}
	return 1;
}

/* The first word of /proc/PID/syscall: the system call a stopped or blocked process is in */
static int syscall_of(pid_t pid)
{
	char path[64], buf[128] = "";
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/syscall", pid);
	fd = open(path, O_RDONLY);
	n = fd < 0 ? -1 : (int)read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	return n > 0 ? atoi(buf) : -1;
}

static long diff_at(const char *a, const char *b, size_t len)
{
	if (!memcmp(a, b, len))
		return -1;
	for (size_t i = 0; i < len; i++)
		if (a[i] != b[i])
			return (long)i;
	return -1;
}

/* -- memory ------------------------------------------------------------------------------ */

enum mem { ANON, THP, SHMEM, HUGE, FILEPR, NMEM };
static const char *const mem_names[NMEM] = {"anon", "thp", "shmem", "hugetlb", "ext4-private"};

/* the memory kind a cell name ends with (anon when none) */
static enum mem mem_of(const char *name)
{
	const char *last = strrchr(name, '/');

	for (int m = 0; m < NMEM; m++)
		if (last && !strcmp(last + 1, mem_names[m]))
			return m;
	return ANON;
}

struct region {
	char *p;
	size_t len;
	int fd;
	char path[256];
};

static int is_thp(const void *addr)
{
	uint64_t pfn = pfn_of(addr), flags = 0;
	int fd = open("/proc/kpageflags", O_RDONLY);

	if (fd >= 0 && pfn && pread(fd, &flags, 8, (off_t)pfn * 8) != 8)
		flags = 0;
	if (fd >= 0)
		close(fd);
	return (flags >> KPF_THP) & 1;
}

/* A region of kind m (16 pages; a 2 MiB page for thp and hugetlb) filled with fill(seed);
 * NULL with the cell told why. ext4-private: a file of those bytes mapped MAP_PRIVATE read-only. */
static char *region_map(struct region *r, enum mem m, unsigned seed)
{
	r->fd = -1;
	r->path[0] = 0;
	r->len = m == THP || m == HUGE ? HPAGE : SMALL;
	switch (m) {
	case THP:
		r->p = map_aligned(r->len, HPAGE, MADV_HUGEPAGE);
		break;
	case SHMEM:
		r->fd = memfd_create("compat32", 0);
		r->p = r->fd < 0 || ftruncate(r->fd, r->len) ? MAP_FAILED :
		       mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
		break;
	case HUGE:
		r->p = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (r->p == MAP_FAILED) {
			cskip("no free 2 MiB hugetlb page: %s", strerror(errno));
			r->p = NULL;
			return NULL;
		}
		break;
	case FILEPR: {
		char *tmp = malloc(r->len);

		if (!ext4_dir) {
			cskip("no ext4 directory given (-d)");
			free(tmp);
			return r->p = NULL;
		}
		snprintf(r->path, sizeof(r->path), "%s/compat32-private.%d", ext4_dir, getpid());
		r->fd = open(r->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		fill(tmp, r->len, 0, seed);
		r->p = r->fd < 0 || pwrite(r->fd, tmp, r->len, 0) != (ssize_t)r->len || fsync(r->fd) ? MAP_FAILED :
		       mmap(NULL, r->len, PROT_READ, MAP_PRIVATE, r->fd, 0);
		free(tmp);
		break;
	}
	default:
		r->p = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (!r->p || r->p == MAP_FAILED) {
		cfail("cannot map %zu bytes of %s: %s", r->len, mem_names[m], strerror(errno));
		return r->p = NULL;
	}
	if (m != FILEPR)
		fill(r->p, r->len, 0, seed);
	if (m == THP && !is_thp(r->p))
		cskip("the 2 MiB region is not a THP (kpageflags)");
	return r->p;
}

static void region_unmap(struct region *r)
{
	if (r->p)
		munmap(r->p, r->len);
	if (r->fd >= 0)
		close(r->fd);
	if (r->path[0])
		unlink(r->path);
	r->p = NULL;
	r->fd = -1;
	r->path[0] = 0;
}

/* -- iovec shapes and what a call over them must do -------------------------------------- */

struct shape {
	struct iovec iov[NIOV];
	int n;
	size_t total;
};

static unsigned rnd(unsigned *x)
{
	*x = *x * 1103515245u + 12345u;
	return *x >> 8;
}

/* n pieces of [p, p+len), one in each of n equal slots (so none overlaps another), listed in a
 * shuffled order: offset and length in units of align (1: any byte; 512: O_DIRECT), every fifth
 * piece empty. Pieces straddle page boundaries; the gaps between them must stay untouched. */
static void shape_make(struct shape *s, char *p, size_t len, int n, size_t align, unsigned seed)
{
	size_t slot = len / n / align * align;
	unsigned x = seed * 2654435761u + 7;

	s->n = n;
	s->total = 0;
	for (int i = 0; i < n; i++) {
		size_t off = rnd(&x) % (slot / align / 2 + 1) * align;
		size_t l = i % 5 == 3 ? 0 : (rnd(&x) % ((slot - off) / align) + 1) * align;

		s->iov[i] = (struct iovec){p + i * slot + off, l};
	}
	for (int i = n - 1; i > 0; i--) {
		int j = rnd(&x) % (i + 1);
		struct iovec t = s->iov[i];

		s->iov[i] = s->iov[j];
		s->iov[j] = t;
	}
	for (int i = 0; i < n; i++)
		s->total += s->iov[i].iov_len;
}

/* Cut the shape's stream to at most max bytes (later pieces shortened or emptied) */
static void shape_trim(struct shape *s, size_t max)
{
	size_t pos = 0;

	for (int i = 0; i < s->n; i++) {
		if (pos + s->iov[i].iov_len > max)
			s->iov[i].iov_len = max - pos;
		pos += s->iov[i].iov_len;
	}
	s->total = pos;
}

/* The same pieces over another copy of the region (at q instead of p) */
static void shape_move(struct shape *d, const struct shape *s, const char *p, char *q)
{
	*d = *s;
	for (int i = 0; i < s->n; i++)
		d->iov[i].iov_base = q + ((char *)s->iov[i].iov_base - p);
}

/* The piece of the stream byte pos (or of the region byte at addr when pos < 0) */
static int piece_of(const struct shape *s, long pos, const char *addr)
{
	size_t at = 0;

	for (int i = 0; i < s->n; i++) {
		char *b = s->iov[i].iov_base;

		if (pos >= 0 ? (size_t)pos < at + s->iov[i].iov_len :
		    addr >= b && addr < b + s->iov[i].iov_len)
			return i;
		at += s->iov[i].iov_len;
	}
	return -1;
}

/* A write's stream: the pieces' bytes in iovec order (what any kernel must take) */
static void gather(const struct shape *s, char *out)
{
	for (int i = 0; i < s->n; i++) {
		memcpy(out, s->iov[i].iov_base, s->iov[i].iov_len);
		out += s->iov[i].iov_len;
	}
}

/* A read's result: the first count bytes of stream placed piece by piece into exp, a copy of
 * the region p that the shape is over (everything else as it was) */
static void scatter(const struct shape *s, const char *p, char *exp, const char *stream, size_t count)
{
	for (int i = 0; i < s->n && count; i++) {
		size_t l = s->iov[i].iov_len < count ? s->iov[i].iov_len : count;

		memcpy(exp + ((char *)s->iov[i].iov_base - p), stream, l);
		stream += l;
		count -= l;
	}
}

/* Memory at p (len) against exp: 0, else the cell fails naming the byte and its piece */
static int check_mem(const struct shape *s, const char *p, const char *exp, size_t len, const char *what)
{
	long d = diff_at(p, exp, len);
	int k;

	if (d < 0)
		return 0;
	k = piece_of(s, -1, p + d);
	cfail("%s: region byte %ld (%s) is 0x%02x, a 64-bit call leaves 0x%02x", what, d,
	      k < 0 ? "in a gap between pieces: nothing may touch it" : "in a piece", (unsigned char)p[d],
	      (unsigned char)exp[d]);
	if (k >= 0) {
		size_t l = strlen(failed);

		snprintf(failed + l, sizeof(failed) - l, " (piece %d of %d, %zu bytes at +%ld)", k, s->n,
			 s->iov[k].iov_len, (long)((char *)s->iov[k].iov_base - p));
	}
	return -1;
}

/* A stream of len bytes against exp: 0, else the cell fails naming the byte and its piece */
static int check_stream(const struct shape *s, const char *got, const char *exp, size_t len, const char *what)
{
	long d = diff_at(got, exp, len);

	if (d < 0)
		return 0;
	cfail("%s: stream byte %ld (piece %d of %d) is 0x%02x, a 64-bit call gives 0x%02x", what, d,
	      piece_of(s, d, NULL), s->n, (unsigned char)got[d], (unsigned char)exp[d]);
	return -1;
}

/* Pins: the baseline, the acquired count, and the check after */
struct pins {
	long base, acq0;
};

static void pins_mark(struct pins *m)
{
	long rel;

	m->base = pins_quiet();
	if (pin_counts(&m->acq0, &rel))
		m->acq0 = -1;
}

static long pins_acquired(const struct pins *m)
{
	long acq, rel;

	return pin_counts(&acq, &rel) || m->acq0 < 0 ? -1 : (long)((unsigned long)acq - (unsigned long)m->acq0);
}

static void pins_back(const struct pins *m, const char *after)
{
	int err = errno;  /* the call's, read after this */
	long now = pins_settle(m->base);

	if (now != m->base)
		cfail("%+ld FOLL_PIN(s) outstanding after %s", now - m->base, after);
	errno = err;
}

/* The pages of the non-empty pieces (each pinned at least once by a pinning call) */
static long pages_of(const struct shape *s)
{
	long n = 0;

	for (int i = 0; i < s->n; i++)
		if (s->iov[i].iov_len) {
			uintptr_t a = (uintptr_t)s->iov[i].iov_base;

			n += (a + s->iov[i].iov_len + PAGE - 1) / PAGE - a / PAGE;
		}
	return n;
}

static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("# compat/%s: ", cell);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

/* -- the length checks: negative as a 32-bit value, and the MAX_RW_COUNT clamp ------------- */

/* -- a raw io_uring: io_uring_setup() in this task sets ctx->compat -------------------- */

struct ring {
	int fd;
	unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	char *sq, *cq;
	size_t sq_len, cq_len, sqes_len;
};

/* 0, or -1 with the cell failed (pin-matrix's kernels have io_uring: its absence is a failure) */
static int ring_init(struct ring *r, unsigned entries)
{
	struct io_uring_params p = {0};

	memset(r, 0, sizeof(*r));
	r->fd = (int)syscall(__NR_io_uring_setup, entries, &p);
	if (r->fd < 0) {
		cfail("io_uring_setup: %s", strerror(errno));
		return -1;
	}
	r->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	r->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	r->sqes_len = p.sq_entries * sizeof(struct io_uring_sqe);
	r->sq = mmap(NULL, r->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	r->cq = mmap(NULL, r->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
	r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sq == MAP_FAILED || r->cq == MAP_FAILED || r->sqes == MAP_FAILED) {
		cfail("mmap of the io_uring rings: %s", strerror(errno));
		close(r->fd);
		r->fd = -1;
		return -1;
	}
	r->sq_tail = (unsigned *)(r->sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)(r->sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)(r->sq + p.sq_off.array);
	r->cq_head = (unsigned *)(r->cq + p.cq_off.head);
	r->cq_tail = (unsigned *)(r->cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)(r->cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(r->cq + p.cq_off.cqes);
	return 0;
}

static void ring_exit(struct ring *r)
{
	if (r->fd < 0)
		return;
	munmap(r->sq, r->sq_len);
	munmap(r->cq, r->cq_len);
	munmap(r->sqes, r->sqes_len);
	close(r->fd);
	r->fd = -1;
}

/* One request submitted and waited for: its result (-errno on failure, also io_uring_enter's) */
static long ring_do(struct ring *r, const struct io_uring_sqe *sqe)
{
	unsigned tail = *r->sq_tail, head;
	long res;

	r->sqes[tail & *r->sq_mask] = *sqe;
	r->sq_array[tail & *r->sq_mask] = tail & *r->sq_mask;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -errno;
	head = *r->cq_head;
	if (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
		return -EAGAIN;  /* cannot be: the enter waited for one */
	res = r->cqes[head & *r->cq_mask].res;
	__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

/* io_uring_register(2): its return, -1 with errno */
static long ring_register(struct ring *r, unsigned op, void *arg, unsigned n)
{
	return syscall(__NR_io_uring_register, r->fd, op, arg, n);
}

/* An entry's length 0x80000000 or more is negative as compat_ssize_t: every iovec import must
 * refuse it with EINVAL (a 64-bit process's 0x80000000 is a length like any other, clamped).
 * Nothing may move: the file, the buffer, the pipe, the socket, the pins. */
static void c32_neg(void)
{
	char *buf = mmap(NULL, SMALL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *exp = malloc(SMALL), *fexp = malloc(SMALL), *fgot = malloc(SMALL);
	int mfd = memfd_create("compat32-neg", 0), pfd[2] = {-1, -1}, sv[2] = {-1, -1}, avail;
	static const size_t bad_len[] = {0x80000000u, 0xffffffffu, 0xfffff000u};
	struct iovec iov[12];
	struct pins pm;
	struct ring r;
	int tries = 0;

	if (buf == MAP_FAILED || !exp || mfd < 0 || pipe(pfd) || socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
		cfail("setup: %s", strerror(errno));
		goto out;
	}
	fill(fexp, SMALL, 0, 31);
	if (pwrite(mfd, fexp, SMALL, 0) != (ssize_t)SMALL) {
		cfail("cannot fill the memfd: %s", strerror(errno));
		goto out;
	}
	fill(buf, SMALL, 0, 32);
	memcpy(exp, buf, SMALL);
	if (ring_init(&r, 8))
		goto out;
	pins_mark(&pm);
	for (size_t b = 0; b < sizeof(bad_len) / sizeof(bad_len[0]) && !failed[0]; b++)
		for (int n = 1; n <= 12 && !failed[0]; n += 11) {  /* one entry (the ubuf path) and 12 */
			int k = n == 1 ? 0 : 9;  /* the bad entry: after the eight the stack holds */
			struct msghdr mh = {.msg_iov = iov, .msg_iovlen = n};
			struct iovec riov = {buf, PAGE};
			struct io_uring_sqe sqe = {.opcode = IORING_OP_READV, .fd = mfd, .len = n};
			struct { const char *call; long ret; int err; } got[10];
			int ng = 0;

			for (int i = 0; i < n; i++)
				iov[i] = (struct iovec){buf + i * 1000 + 3, 999};
			iov[k].iov_len = bad_len[b];
			sqe.addr = (uintptr_t)iov;
#define TRY(what, expr) do { errno = 0; got[ng].ret = (expr); got[ng].err = errno; got[ng++].call = what; } while (0)
			TRY("readv", readv(mfd, iov, n));
			TRY("writev", writev(mfd, iov, n));
			TRY("preadv2", preadv2(mfd, iov, n, 5, 0));
			TRY("pwritev2", pwritev2(mfd, iov, n, 5, 0));
			TRY("process_vm_readv (local)", process_vm_readv(getpid(), iov, n, &riov, 1, 0));
			TRY("process_vm_writev (remote)", process_vm_writev(getpid(), &riov, 1, iov, n, 0));
			TRY("vmsplice", vmsplice(pfd[1], iov, n, SPLICE_F_NONBLOCK));
			TRY("sendmsg", sendmsg(sv[0], &mh, MSG_DONTWAIT));
			TRY("io_uring READV", ring_do(&r, &sqe));
			TRY("IORING_REGISTER_BUFFERS", ring_register(&r, IORING_REGISTER_BUFFERS, iov, n));
#undef TRY
			for (int i = 0; i < ng; i++, tries++) {
				int e = got[i].ret == -1 ? got[i].err : got[i].ret < 0 ? (int)-got[i].ret : 0;
				char said[64];

				snprintf(said, sizeof(said), "%s", got[i].ret >= 0 ? "" : strerror(e));
				if (got[i].ret >= 0)
					snprintf(said, sizeof(said), "it returned %ld", got[i].ret);
				if (e != EINVAL)
					cfail("%s of %d iovec(s), entry %d %zu bytes (negative as a 32-bit length): %s, not EINVAL",
					      got[i].call, n, k, bad_len[b], said);
			}
		}
	if (!failed[0] && pread(mfd, fgot, SMALL, 0) != (ssize_t)SMALL)
		cfail("cannot read the memfd back: %s", strerror(errno));
	if (!failed[0] && memcmp(fgot, fexp, SMALL))
		cfail("a refused writev/pwritev2 changed the file at byte %ld", diff_at(fgot, fexp, SMALL));
	if (!failed[0] && memcmp(buf, exp, SMALL))
		cfail("a refused readv/preadv2/process_vm_readv changed the buffer at byte %ld", diff_at(buf, exp, SMALL));
	if (!failed[0] && (ioctl(pfd[0], FIONREAD, &avail) || avail))
		cfail("a refused vmsplice left %d byte(s) in the pipe", avail);
	if (!failed[0] && (ioctl(sv[1], FIONREAD, &avail) || avail))
		cfail("a refused sendmsg sent %d byte(s)", avail);
	ring_exit(&r);
	pins_back(&pm, "the refused calls");
	if (!failed[0])
		note("%d calls with a length negative as a 32-bit value (one entry, and entry 9 of 12): EINVAL each,"
		     " nothing moved", tries);
out:
	if (buf != MAP_FAILED)
		munmap(buf, SMALL);
	free(exp);
	free(fexp);
	free(fgot);
	if (mfd >= 0)
		close(mfd);
	for (int i = 0; i < 2; i++) {
		if (pfd[i] >= 0)
			close(pfd[i]);
		if (sv[i] >= 0)
			close(sv[i]);
	}
}

/* Lengths whose sum passes MAX_RW_COUNT, each positive as a 32-bit value: the import clamps the
 * entry that crosses it and empties the rest, as for a 64-bit process; /dev/null's write_iter
 * returns the count it was given, so the clamp is the return value. Sums below it come back
 * whole. writev, pwritev2 and io_uring WRITEV; the bytes behind the lengths are never read. */
static void c32_clamp(void)
{
	static const struct { int n; size_t len, last; } sh[] = {
		{3, 0x7fffffffu, 0x7fffffffu}, {12, 0x10000000u, 0x10000000u}, {2, 0x40000000u, 0x40000000u},
		{2, 0x3ffff000u, 0x40000000u}, {9, 0x0ffff000u, 0x7fff0000u}, {10, 0x1000u, 0x1000u}, {1, 0x7fffffffu, 0x7fffffffu}};
	char *buf = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = open("/dev/null", O_WRONLY);
	struct iovec iov[12];
	struct ring r;
	struct pins pm;

	if (buf == MAP_FAILED || fd < 0) {
		cfail("setup: %s", strerror(errno));
		return;
	}
	if (ring_init(&r, 8))
		goto out;
	pins_mark(&pm);
	for (size_t s = 0; s < sizeof(sh) / sizeof(sh[0]) && !failed[0]; s++) {
		unsigned long long sum = 0;
		long want, got[3];
		struct io_uring_sqe sqe = {.opcode = IORING_OP_WRITEV, .fd = fd, .len = sh[s].n};

		for (int i = 0; i < sh[s].n; i++) {
			iov[i] = (struct iovec){buf, i == sh[s].n - 1 ? sh[s].last : sh[s].len};
			sum += iov[i].iov_len;
		}
		want = sum > MAX_RW ? (long)MAX_RW : (long)sum;
		sqe.addr = (uintptr_t)iov;
		got[0] = writev(fd, iov, sh[s].n);
		got[1] = pwritev2(fd, iov, sh[s].n, 0, 0);
		got[2] = ring_do(&r, &sqe);
		for (int c = 0; c < 3; c++)
			if (got[c] != want)
				cfail("%s of %d iovec(s) summing to %#llx bytes to /dev/null returned %ld (%s), a 64-bit call %#lx",
				      c == 0 ? "writev" : c == 1 ? "pwritev2" : "io_uring WRITEV", sh[s].n, sum, got[c],
				      got[c] < 0 ? strerror(c < 2 ? errno : (int)-got[c]) : "bytes", want);
	}
	ring_exit(&r);
	pins_back(&pm, "the writes to /dev/null");
	if (!failed[0])
		note("%zu shapes up to %#x, one to 12 entries: each call returned min(sum, MAX_RW_COUNT)",
		     sizeof(sh) / sizeof(sh[0]), 3 * 0x7fffffffu);
out:
	munmap(buf, PAGE);
	close(fd);
}

/* -- buffered file I/O: every byte, no pins ---------------------------------------------- */

/* pwritev2 of three shapes (1 entry: the ubuf import; 5: the stack array; 40: an allocated
 * one; unaligned, empty pieces) from the region into a file, each at its own offset, the file
 * read back; then the file refilled and preadv2/readv of other shapes into the region, whose
 * every byte is then what it held before with the file's stream placed piece by piece */
static void c32_buffered(void)
{
	enum mem m = mem_of(cell);
	struct region rg = {.fd = -1};
	int fd = memfd_create("compat32-buffered", 0);
	char *stream = malloc(SMALL), *got = malloc(SMALL), *exp = malloc(SMALL);
	static const int ns[] = {1, 5, NIOV};
	struct pins pm;
	off_t off = 0;

	if (fd < 0 || !stream || !got || !exp || !region_map(&rg, m, 41)) {
		if (!skipped[0])
			cfail("setup: %s", strerror(errno));
		goto out;
	}
	pins_mark(&pm);
	for (int t = 0; t < 3 && !failed[0]; t++) {
		struct shape s;
		ssize_t w;

		shape_make(&s, rg.p, rg.len, ns[t], 1, 100 + t);
		gather(&s, exp);
		w = pwritev2(fd, s.iov, s.n, off, 0);
		if (w != (ssize_t)s.total) {
			cfail("pwritev2 of %d iovec(s), %zu bytes: %zd (%s)", s.n, s.total, w, w < 0 ? strerror(errno) : "short");
			break;
		}
		if (pread(fd, got, s.total, off) != (ssize_t)s.total)
			cfail("pread back: %s", strerror(errno));
		else
			check_stream(&s, got, exp, s.total, "the file after pwritev2");
		off += s.total;
	}
	for (int t = 0; t < 3 && !failed[0]; t++) {
		struct shape s;
		ssize_t rd;

		fill(stream, SMALL, 0, 200 + t);
		if (pwrite(fd, stream, SMALL, 0) != (ssize_t)SMALL) {
			cfail("pwrite: %s", strerror(errno));
			break;
		}
		shape_make(&s, rg.p, rg.len, ns[t], 1, 300 + t);
		memcpy(exp, rg.p, SMALL);
		rd = t == 1 ? (lseek(fd, 0, SEEK_SET) ? -1 : readv(fd, s.iov, s.n)) : preadv2(fd, s.iov, s.n, 0, 0);
		if (rd != (ssize_t)s.total) {
			cfail("%s of %d iovec(s), %zu bytes: %zd (%s)", t == 1 ? "readv" : "preadv2", s.n, s.total, rd,
			      rd < 0 ? strerror(errno) : "short");
			break;
		}
		scatter(&s, rg.p, exp, stream, s.total);
		check_mem(&s, rg.p, exp, SMALL, t == 1 ? "readv" : "preadv2");
	}
	pins_back(&pm, "buffered I/O");
	if (!failed[0] && !skipped[0])
		note("pwritev2, preadv2 and readv of 1, 5 and 40 unaligned iovecs over %s: byte exact, gaps untouched",
		     mem_names[m]);
out:
	if (fd >= 0)
		close(fd);
	region_unmap(&rg);
	free(stream);
	free(got);
	free(exp);
}

/* -- O_DIRECT: ext4 (iomap) and the raw block device (block/fops.c) ---------------------- */

/* The O_DIRECT target of a dio-ext4/ or dio-blk/ cell: fd, or -1 with the cell told why */
static int dio_open(char *path, size_t n)
{
	int fd;

	path[0] = 0;
	if (!strncmp(cell, "dio-blk", 7)) {  /* else dio-ext4/, uring/rw/: a new ext4 file */
		if (!blk_dev) {
			cskip("no block device given (-b)");
			return -1;
		}
		fd = open(blk_dev, O_RDWR | O_DIRECT);
	} else {
		if (!ext4_dir) {
			cskip("no ext4 directory given (-d)");
			return -1;
		}
		snprintf(path, n, "%s/compat32-dio.%d", ext4_dir, getpid());
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
	}
	if (fd < 0)
		cfail("open %s with O_DIRECT: %s", path[0] ? path : blk_dev, strerror(errno));
	return fd;
}

/* The call pinned (premise): its acquired count moved by the pages of the pieces at least */
static void pinned_premise(const struct pins *m, const struct shape *s, const char *call)
{
	long got = pins_acquired(m), want = pages_of(s);

	if (got < want)
		cskip("%s acquired %ld FOLL_PIN(s) for %ld page(s) of pieces: it did not pin them all", call, got, want);
}

/* The vectored O_DIRECT call of the cell: pwritev2/preadv2, or (uring/rw/...) IORING_OP_WRITEV
 * and READV of a compat ring, whose iovec arrays io_import_iovec() reads as compat_iovec: the
 * count, or -errno */
static long dio_vec(struct ring *r, int fd, const struct shape *s, int write)
{
	struct io_uring_sqe sqe = {.opcode = write ? IORING_OP_WRITEV : IORING_OP_READV, .fd = fd,
				   .addr = (uintptr_t)s->iov, .len = s->n};
	long n;

	if (r)
		return ring_do(r, &sqe);
	n = write ? pwritev2(fd, s->iov, s->n, 0, 0) : preadv2(fd, s->iov, s->n, 0, 0);
	return n < 0 ? -errno : n;
}

/* pwritev2 (uring/rw/: io_uring WRITEV) of 24 (40 over 2 MiB: past BIO_MAX_VECS pages, several
 * bios) 512-byte aligned pieces straddling pages, empty ones among them, the target read back
 * by one O_DIRECT pread; then the target rewritten and preadv2 (READV) of other pieces into the
 * region, every byte checked */
static void c32_dio(void)
{
	enum mem m = mem_of(cell);
	int uring = !strncmp(cell, "uring/", 6);
	const char *wname = uring ? "io_uring WRITEV" : "O_DIRECT pwritev2", *rname = uring ? "io_uring READV" : "O_DIRECT preadv2";
	struct region rg = {.fd = -1};
	struct shape w, rd;
	struct pins pm;
	struct ring r = {.fd = -1};
	char path[256] = "", *bounce = NULL, *exp = NULL;
	int fd = dio_open(path, sizeof(path));
	long got;

	if (fd < 0 || !region_map(&rg, m, 11) || (uring && ring_init(&r, 8)))
		goto out;
	bounce = map_aligned(rg.len, PAGE, -1);
	exp = malloc(rg.len);
	if (!bounce || !exp) {
		cfail("out of memory");
		goto out;
	}
	shape_make(&w, rg.p, rg.len, rg.len > SMALL ? NIOV : 24, 512, 12);
	gather(&w, exp);
	pins_mark(&pm);
	got = dio_vec(uring ? &r : NULL, fd, &w, 1);
	if (got != (long)w.total) {
		cfail("%s of %d iovecs, %zu bytes: %ld (%s)", wname, w.n, w.total, got, got < 0 ? strerror(-got) : "short");
		goto back;
	}
	pinned_premise(&pm, &w, wname);
	got = pread(fd, bounce, (w.total + 511) / 512 * 512, 0);
	if (got < (long)w.total) {
		cfail("O_DIRECT pread of what was written: %ld (%s)", got, got < 0 ? strerror(errno) : "short");
		goto back;
	}
	if (check_stream(&w, bounce, exp, w.total, uring ? "the target after io_uring WRITEV" :
							   "the target after O_DIRECT pwritev2"))
		goto back;
	fill(bounce, rg.len, 0, 13);
	if (pwrite(fd, bounce, rg.len, 0) != (ssize_t)rg.len) {
		cfail("O_DIRECT pwrite of the stream: %s", strerror(errno));
		goto back;
	}
	shape_make(&rd, rg.p, rg.len, rg.len > SMALL ? NIOV - 3 : 19, 512, 14);
	memcpy(exp, rg.p, rg.len);
	scatter(&rd, rg.p, exp, bounce, rd.total);
	pins_mark(&pm);
	got = dio_vec(uring ? &r : NULL, fd, &rd, 0);
	if (got != (long)rd.total) {
		cfail("%s of %d iovecs, %zu bytes: %ld (%s)", rname, rd.n, rd.total, got, got < 0 ? strerror(-got) : "short");
		goto back;
	}
	pinned_premise(&pm, &rd, rname);
	check_mem(&rd, rg.p, exp, rg.len, rname);
back:
	ring_exit(&r);
	pins_back(&pm, uring ? "io_uring READV/WRITEV" : "O_DIRECT");
	if (!failed[0] && !skipped[0])
		note("%s of %d and %s of %d 512-byte aligned iovecs (%zu and %zu bytes) over %s: byte exact, gaps "
		     "untouched, every page pinned and given back", wname, w.n, rname, rd.n, w.total, rd.total, mem_names[m]);
out:
	ring_exit(&r);
	if (fd >= 0)
		close(fd);
	if (path[0])
		unlink(path);
	region_unmap(&rg);
	if (bounce)
		munmap(bounce, rg.len);
	free(exp);
}

/* 12 pieces over the first 8 pages of the region; entry 7 (in iovec order) moved into an
 * unmapped page after them. Reads and writes stop there: a count of at most the bytes before
 * it, or EFAULT; never a byte of the entries after it; what the count says is in place. */
static void dio_bad(int fd, struct region *rg, char *hole, char *bounce, const char *what_rd)
{
	struct shape s;
	size_t prefix = 0;
	char *old = malloc(rg->len), *full = malloc(rg->len);
	struct pins pm;
	ssize_t got;
	size_t mlen = 8 * PAGE;  /* the pieces' pages (the hole is after them) */
	int err;

	shape_make(&s, rg->p, mlen, 12, 512, 22);
	s.iov[7] = (struct iovec){hole, 1024};
	for (int i = 0; i < 7; i++)
		prefix += s.iov[i].iov_len;
	s.total = prefix + 1024;
	for (int i = 8; i < 12; i++)
		s.total += s.iov[i].iov_len;
	/* read: the target holds a stream; the region may take its first bytes, no more */
	fill(bounce, rg->len, 0, 23);
	if (pwrite(fd, bounce, rg->len, 0) != (ssize_t)rg->len) {
		cfail("O_DIRECT pwrite of the stream: %s", strerror(errno));
		goto out;
	}
	memcpy(old, rg->p, mlen);
	memcpy(full, old, mlen);
	scatter(&s, rg->p, full, bounce, prefix);
	pins_mark(&pm);
	got = preadv2(fd, s.iov, s.n, 0, 0);
	err = errno;
	pins_back(&pm, "an O_DIRECT preadv2 that met a bad entry");
	if (got < 0 ? err != EFAULT : (size_t)got > prefix)
		cfail("O_DIRECT preadv2 of 12 iovecs whose 8th is unmapped (%zu bytes before it): %zd (%s)", prefix, got,
		      got < 0 ? strerror(err) : "more than the entries before it hold");
	for (size_t i = 0; i < mlen && !failed[0]; i++) {
		char *a = rg->p + i;
		int k = piece_of(&s, -1, a);
		long pos = -1, at = 0;

		for (int j = 0; j < k; j++)
			at += s.iov[j].iov_len;
		if (k >= 0)
			pos = at + (a - (char *)s.iov[k].iov_base);
		if (*a == full[i] && (*a == old[i] || (k >= 0 && k < 7)))
			continue;
		if (*a == old[i] && (got < 0 || pos < 0 || pos >= got))
			continue;
		cfail("%s: region byte %zu (%s) is 0x%02x: neither what it held (0x%02x) nor the stream's byte for it "
		      "(0x%02x)%s", what_rd, i, k < 0 ? "in a gap" : k < 7 ? "before the bad entry" : "after the bad entry",
		      (unsigned char)*a, (unsigned char)old[i], (unsigned char)full[i],
		      got >= 0 && pos >= 0 && pos < got ? ", though the count covers it" : "");
	}
	/* write: the target may take the first bytes of the gathered pieces, no more */
	fill(bounce, rg->len, 0, 24);
	if (failed[0] || pwrite(fd, bounce, rg->len, 0) != (ssize_t)rg->len)
		goto out;
	memcpy(old, bounce, rg->len);
	memcpy(full, bounce, rg->len);
	{
		char *g = full;

		for (int i = 0; i < 7; i++, g += s.iov[i - 1].iov_len)
			memcpy(g, s.iov[i].iov_base, s.iov[i].iov_len);
	}
	pins_mark(&pm);
	got = pwritev2(fd, s.iov, s.n, 0, 0);
	err = errno;
	pins_back(&pm, "an O_DIRECT pwritev2 that met a bad entry");
	if (got < 0 ? err != EFAULT : (size_t)got > prefix)
		cfail("O_DIRECT pwritev2 of 12 iovecs whose 8th is unmapped (%zu bytes before it): %zd (%s)", prefix, got,
		      got < 0 ? strerror(err) : "more than the entries before it hold");
	if (!failed[0] && pread(fd, bounce, rg->len, 0) != (ssize_t)rg->len)
		cfail("O_DIRECT pread back: %s", strerror(errno));
	for (size_t i = 0; i < rg->len && !failed[0]; i++) {
		if (bounce[i] == full[i] && (i < prefix || bounce[i] == old[i]))
			continue;
		if (bounce[i] == old[i] && (got < 0 || (long)i >= got))
			continue;
		cfail("the target's byte %zu after a pwritev2 that met a bad entry is 0x%02x: neither what it held "
		      "(0x%02x) nor the gathered pieces' (0x%02x)%s", i, (unsigned char)bounce[i], (unsigned char)old[i],
		      (unsigned char)full[i], got >= 0 && (long)i < got ? ", though the count covers it" : "");
	}
	if (!failed[0])
		note("12 iovecs, the 8th unmapped (%zu bytes before it): preadv2 and pwritev2 stopped there, pins back",
		     prefix);
out:
	free(old);
	free(full);
}

static void c32_dio_bad(void)
{
	struct region rg = {.fd = -1};
	char path[256] = "", *bounce = NULL;
	int fd = dio_open(path, sizeof(path));

	if (fd < 0 || !region_map(&rg, ANON, 21))
		goto out;
	bounce = map_aligned(rg.len, PAGE, -1);
	if (munmap(rg.p + 12 * PAGE, PAGE) || !bounce) {
		cfail("setup: %s", strerror(errno));
		goto out;
	}
	dio_bad(fd, &rg, rg.p + 12 * PAGE, bounce, "O_DIRECT preadv2");
out:
	if (fd >= 0)
		close(fd);
	if (path[0])
		unlink(path);
	region_unmap(&rg);
	if (bounce)
		munmap(bounce, SMALL);
}

/* -- process_vm_readv/writev with a second 32-bit process --------------------------------- */

struct peer {
	pid_t pid;
	int ready[2], go[2];
};

/* A forked child (32-bit like us) that writes fill(seed) over the region (its own pages; shmem
 * is shared), unmaps its page `hole` (if >= 0), and waits in read(2) until told to go. thp: the
 * peer maps its own MADV_HUGEPAGE region at the same address after the fork and fills it (a write
 * to the THP it shares with us would split the PMD and copy 4 KiB pages: mm/huge_memory.c
 * do_huge_pmd_wp_page()), then checks in its own pagemap that it is a THP, else the cell skips.
 * Each side closes the pipe ends it does not use: a peer that dies before it is ready ends our
 * read with EOF, and a peer whose parent died reads EOF and exits. */
static int peer_start(struct peer *c, struct region *rg, enum mem m, unsigned seed, int hole)
{
	char b = 0;

	c->ready[0] = c->ready[1] = c->go[0] = c->go[1] = -1;
	if (pipe(c->ready) || pipe(c->go)) {
		cfail("pipe: %s", strerror(errno));
		return -1;
	}
	c->pid = fork();
	if (c->pid == 0) {
		char r = 'r';

		close(c->ready[0]);
		close(c->go[1]);
		if (m == THP && (mmap(rg->p, rg->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
				      0) != rg->p || madvise(rg->p, rg->len, MADV_HUGEPAGE)))
			_exit(3);
		fill(rg->p, rg->len, 0, seed);
		if (m == THP && !is_thp(rg->p))
			r = 'n';
		if (hole >= 0)
			munmap(rg->p + hole * PAGE, PAGE);
		if (write(c->ready[1], &r, 1) != 1 || read(c->go[0], &b, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(c->ready[1]);
	close(c->go[0]);
	c->ready[1] = c->go[0] = -1;
	if (c->pid < 0 || read(c->ready[0], &b, 1) != 1) {
		cfail("the second process did not start (it died before it was ready): %s",
		      c->pid < 0 ? strerror(errno) : "EOF");
		return -1;
	}
	if (b == 'n') {
		cskip("the second process's 2 MiB region, mapped and written after the fork, is not a THP (kpageflags)");
		return -1;
	}
	/* premise: the peer is a compat task too, blocked in the i386 read (3). /proc/PID/syscall
	 * says "running" (atoi: 0) until it blocks: on a loaded TCG host that took over the 1 s
	 * this waited before (a false FAIL, run 20261207-202614), so up to 10 s, then SKIP. */
	for (int i = 0; i < 1000 && syscall_of(c->pid) != SYS_read; i++)
		usleep(10 * 1000);
	if (syscall_of(c->pid) != SYS_read) {
		cskip("the second process was not blocked in the i386 read (%d) after 10 s: /proc/%d/syscall says %d",
		      SYS_read, c->pid, syscall_of(c->pid));
		return -1;
	}
	return 0;
}

static void peer_stop(struct peer *c)
{
	int st;

	if (c->pid > 0) {
		if (c->go[1] < 0 || write(c->go[1], "g", 1) != 1)
			kill(c->pid, SIGKILL);
		if (waitpid(c->pid, &st, 0) == c->pid && (!WIFEXITED(st) || WEXITSTATUS(st)))
			cfail("the second process ended with status 0x%x", st);
	}
	c->pid = 0;
	for (int i = 0; i < 2; i++) {
		if (c->ready[i] >= 0)
			close(c->ready[i]);
		if (c->go[i] >= 0)
			close(c->go[i]);
		c->ready[i] = c->go[i] = -1;
	}
}

/* The peer's bytes at [addr, addr+len) through /proc/PID/mem (another path than process_vm) */
static int peer_read(struct peer *c, const char *addr, char *out, size_t len)
{
	char path[64];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/mem", c->pid);
	fd = open(path, O_RDONLY);
	n = fd < 0 ? -1 : pread(fd, out, len, (off_t)(uintptr_t)addr);
	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)len) {
		cfail("cannot read the second process's memory at %p: %s", (void *)addr, strerror(errno));
		return -1;
	}
	return 0;
}

/* The peer stopped, both regions unmapped, the four model buffers (one allocation) freed */
static void pvm_end(struct peer *c, struct region *rg, struct region *loc, char *bufs)
{
	if (c->pid)
		peer_stop(c);
	region_unmap(rg);
	region_unmap(loc);
	free(bufs);
}

/* process_vm_readv and _writev between 40 unaligned local pieces and 33 remote ones (empty
 * ones among both) in the peer's region of the cell's kind; local and remote streams meet in
 * order; the peer's memory read back through /proc/PID/mem */
static void c32_pvm(void)
{
	enum mem m = mem_of(cell);
	struct region rg = {.fd = -1}, loc = {.fd = -1};
	struct shape ls, rs, rm;
	struct peer c = {0};
	struct pins pm;
	char *cm = NULL, *stream = NULL, *exp = NULL, *got = NULL;
	ssize_t n;
	size_t count;

	if (!region_map(&rg, m, 51) || !region_map(&loc, ANON, 52))
		goto out;
	cm = malloc(4 * rg.len);  /* the peer's model, a stream, the expected bytes, the bytes got */
	stream = cm + rg.len, exp = stream + rg.len, got = exp + rg.len;
	if (!cm || peer_start(&c, &rg, m, 53, -1))
		goto out;
	fill(cm, rg.len, 0, 53);  /* what the peer holds */
	/* readv: the peer's pieces into ours */
	shape_make(&ls, loc.p, loc.len, NIOV, 1, 54);
	shape_make(&rs, rg.p, rg.len, 33, 1, 55);
	count = ls.total < rs.total ? ls.total : rs.total;
	shape_trim(&ls, count);
	shape_trim(&rs, count);
	shape_move(&rm, &rs, rg.p, cm);
	gather(&rm, stream);
	memcpy(exp, loc.p, loc.len);
	scatter(&ls, loc.p, exp, stream, count);
	pins_mark(&pm);
	n = process_vm_readv(c.pid, ls.iov, ls.n, rs.iov, rs.n, 0);
	if (n != (ssize_t)count)
		cfail("process_vm_readv of %d local and %d remote iovecs (%zu bytes): %zd (%s)", ls.n, rs.n, count, n,
		      n < 0 ? strerror(errno) : "short");
	else
		pinned_premise(&pm, &rs, "process_vm_readv");
	if (!failed[0])
		check_mem(&ls, loc.p, exp, loc.len, "process_vm_readv");
	pins_back(&pm, "process_vm_readv");
	/* writev: our pieces into the peer's */
	fill(loc.p, loc.len, 0, 56);
	shape_make(&ls, loc.p, loc.len, NIOV, 1, 57);
	shape_make(&rs, rg.p, rg.len, 33, 1, 58);
	count = ls.total < rs.total ? ls.total : rs.total;
	shape_trim(&ls, count);
	shape_trim(&rs, count);
	gather(&ls, stream);
	memcpy(exp, cm, rg.len);
	shape_move(&rm, &rs, rg.p, cm);
	scatter(&rm, cm, exp, stream, count);
	pins_mark(&pm);
	n = failed[0] ? 0 : process_vm_writev(c.pid, ls.iov, ls.n, rs.iov, rs.n, 0);
	if (!failed[0] && n != (ssize_t)count)
		cfail("process_vm_writev of %d local and %d remote iovecs (%zu bytes): %zd (%s)", ls.n, rs.n, count, n,
		      n < 0 ? strerror(errno) : "short");
	else if (!failed[0])
		pinned_premise(&pm, &rs, "process_vm_writev");
	if (!failed[0] && !peer_read(&c, rg.p, got, rg.len)) {
		shape_move(&rm, &rs, rg.p, got);
		check_mem(&rm, got, exp, rg.len, "the second process after process_vm_writev");
	}
	pins_back(&pm, "process_vm_writev");
	if (!failed[0] && !skipped[0])
		note("process_vm_readv and _writev, 40 local and 33 remote unaligned iovecs, %s of a second 32-bit "
		     "process: byte exact both ways, gaps untouched, pins back", mem_names[m]);
out:
	pvm_end(&c, &rg, &loc, cm);
}

/* Remote entry 7 of 12 in a page the peer unmapped: both calls return the bytes of the entries
 * before it, exactly (mm/process_vm_access.c: a count when anything was copied); then local
 * entry 5 of 12 in a page we unmapped: at most the bytes before it. Remote pins back. */
static void c32_pvm_bad(void)
{
	struct region rg = {.fd = -1}, loc = {.fd = -1};
	struct shape ls, rs, rm;
	struct peer c = {0};
	struct pins pm;
	char *cm = malloc(4 * SMALL), *stream = cm + SMALL, *exp = stream + SMALL, *got = exp + SMALL;
	size_t prefix = 0;
	ssize_t n;

	if (!cm || !region_map(&rg, ANON, 61) || !region_map(&loc, ANON, 62))
		goto out;
	if (peer_start(&c, &rg, ANON, 63, 12))
		goto out;
	fill(cm, rg.len, 0, 63);
	shape_make(&rs, rg.p, 8 * PAGE, 12, 1, 64);
	rs.iov[7] = (struct iovec){rg.p + 12 * PAGE + 100, 300};
	for (int i = 0; i < 7; i++)
		prefix += rs.iov[i].iov_len;
	shape_make(&ls, loc.p, loc.len, NIOV, 1, 65);
	if (ls.total < prefix + 300) {
		cfail("the local pieces (%zu bytes) do not reach the bad remote entry (at %zu)", ls.total, prefix);
		goto out;
	}
	shape_move(&rm, &rs, rg.p, cm);
	rm.iov[7].iov_len = 0;  /* the model gathers the bytes before it */
	gather(&rm, stream);
	memcpy(exp, loc.p, loc.len);
	scatter(&ls, loc.p, exp, stream, prefix);
	pins_mark(&pm);
	n = process_vm_readv(c.pid, ls.iov, ls.n, rs.iov, rs.n, 0);
	pins_back(&pm, "a process_vm_readv that met an unmapped remote page");
	if (n != (ssize_t)prefix)
		cfail("process_vm_readv whose remote entry 8 of 12 is unmapped (%zu bytes before it): %zd (%s)", prefix, n,
		      n < 0 ? strerror(errno) : "bytes");
	else
		check_mem(&ls, loc.p, exp, loc.len, "process_vm_readv up to an unmapped remote page");
	/* the same remote shape written */
	fill(loc.p, loc.len, 0, 66);
	gather(&ls, stream);
	memcpy(exp, cm, 8 * PAGE);
	scatter(&rm, cm, exp, stream, prefix);
	pins_mark(&pm);
	n = failed[0] ? 0 : process_vm_writev(c.pid, ls.iov, ls.n, rs.iov, rs.n, 0);
	pins_back(&pm, "a process_vm_writev that met an unmapped remote page");
	if (!failed[0] && n != (ssize_t)prefix)
		cfail("process_vm_writev whose remote entry 8 of 12 is unmapped (%zu bytes before it): %zd (%s)", prefix, n,
		      n < 0 ? strerror(errno) : "bytes");
	if (!failed[0] && !peer_read(&c, rg.p, got, 8 * PAGE)) {
		shape_move(&rm, &rs, rg.p, got);
		rm.n = 7;
		check_mem(&rm, got, exp, 8 * PAGE, "the second process after a process_vm_writev that met an unmapped page");
		memcpy(cm, exp, 8 * PAGE);  /* what the peer holds now */
	}
	/* local entry 6 of 12 unmapped: readv stops there */
	if (!failed[0]) {
		size_t lprefix = 0;

		munmap(loc.p + 12 * PAGE, PAGE);
		shape_make(&ls, loc.p, 8 * PAGE, 12, 1, 67);
		ls.iov[5] = (struct iovec){loc.p + 12 * PAGE + 7, 500};
		for (int i = 0; i < 5; i++)
			lprefix += ls.iov[i].iov_len;
		shape_make(&rs, rg.p, 8 * PAGE, NIOV, 1, 68);
		shape_move(&rm, &rs, rg.p, cm);
		gather(&rm, stream);
		memcpy(exp, loc.p, 8 * PAGE);
		scatter(&ls, loc.p, exp, stream, lprefix);
		pins_mark(&pm);
		n = process_vm_readv(c.pid, ls.iov, ls.n, rs.iov, rs.n, 0);
		pins_back(&pm, "a process_vm_readv into an unmapped local page");
		if (n < 0 ? errno != EFAULT : (size_t)n > lprefix)
			cfail("process_vm_readv whose local entry 6 of 12 is unmapped (%zu bytes before it): %zd (%s)", lprefix,
			      n, n < 0 ? strerror(errno) : "bytes");
		else if (n > 0) {
			scatter(&ls, loc.p, exp, stream, n);  /* what the count says arrived */
			check_mem(&ls, loc.p, exp, 8 * PAGE, "process_vm_readv up to an unmapped local page");
		}
	}
	if (!failed[0])
		note("a bad remote entry after %zu bytes: process_vm_readv and _writev returned exactly those; a bad local "
		     "one: no more than the entries before it; pins back", prefix);
out:
	pvm_end(&c, &rg, &loc, cm);
}

/* -- vmsplice: user pages into a pipe, and out of one into user memory -------------------- */

/* 40 unaligned pieces (anon; thp: the first 256 KiB of a THP) given to a 1 MiB pipe by
 * vmsplice, read out; then a stream written into the pipe and vmspliced out into 33 pieces */
static void c32_vmsplice(void)
{
	enum mem m = mem_of(cell);
	struct region rg = {.fd = -1};
	size_t len = 64 * PAGE;
	struct shape s;
	struct pins pm;
	int pfd[2] = {-1, -1};
	char *exp = malloc(len), *got = malloc(len), *stream = malloc(len);
	ssize_t n;

	if (!exp || !got || !stream || !region_map(&rg, m, 71))
		goto out;
	if (len > rg.len)
		len = rg.len;
	if (pipe(pfd) || fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20) < 0) {
		cfail("a 1 MiB pipe: %s", strerror(errno));
		goto out;
	}
	shape_make(&s, rg.p, len, NIOV, 1, 72);
	gather(&s, exp);
	pins_mark(&pm);
	n = vmsplice(pfd[1], s.iov, s.n, 0);
	if (n != (ssize_t)s.total) {
		cfail("vmsplice of %d iovecs (%zu bytes) into a pipe: %zd (%s)", s.n, s.total, n, n < 0 ? strerror(errno) : "short");
		goto back;
	}
	n = read(pfd[0], got, s.total);
	if (n != (ssize_t)s.total) {
		cfail("read of the vmspliced bytes: %zd", n);
		goto back;
	}
	if (check_stream(&s, got, exp, s.total, "the pipe after vmsplice"))
		goto back;
	fill(stream, len, 0, 73);
	shape_make(&s, rg.p, len, 33, 1, 74);
	if (write(pfd[1], stream, s.total) != (ssize_t)s.total) {
		cfail("write into the pipe: %s", strerror(errno));
		goto back;
	}
	memcpy(exp, rg.p, len);
	scatter(&s, rg.p, exp, stream, s.total);
	n = vmsplice(pfd[0], s.iov, s.n, 0);
	if (n != (ssize_t)s.total)
		cfail("vmsplice of a pipe into %d iovecs (%zu bytes): %zd (%s)", s.n, s.total, n, n < 0 ? strerror(errno) : "short");
	else
		check_mem(&s, rg.p, exp, len, "vmsplice out of a pipe");
back:
	close(pfd[0]);
	close(pfd[1]);
	pfd[0] = pfd[1] = -1;
	pins_back(&pm, "vmsplice");
	if (!failed[0] && m == ANON) {  /* the pipe's page references went with it */
		long first, held = pages_held(rg.p, rg.len, 2000, &first, failed, sizeof(failed));

		if (held < 0) {
			char why[sizeof(failed)];

			snprintf(why, sizeof(why), "%s", failed);
			failed[0] = 0;
			cskip("no page-reference check, the premise of the anon cell: %s", why);
		} else if (held) {
			cfail("%ld page(s) of the region (the first: %ld) still held after the pipe was closed", held, first);
		}
	}
	if (!failed[0] && !skipped[0])
		note("vmsplice of 40 unaligned iovecs over %s into a pipe and of a pipe into 33: byte exact", mem_names[m]);
out:
	for (int i = 0; i < 2; i++)
		if (pfd[i] >= 0)
			close(pfd[i]);
	region_unmap(&rg);
	free(exp);
	free(got);
	free(stream);
}

/* -- sendmsg/recvmsg: the compat msghdr and its iovecs; MSG_ZEROCOPY and its compat cmsg ---- */

/* 40 unaligned pieces sent by one sendmsg, received by one recvmsg (MSG_WAITALL) into 33
 * (AF_UNIX stream; msg/zerocopy: TCP over lo with SO_ZEROCOPY and MSG_ZEROCOPY, the completion
 * read from the error queue through the compat cmsg path and checked) */
static void c32_msg(void)
{
	int zc = strstr(cell, "zerocopy") != NULL, sv[2] = {-1, -1}, ls = -1, one = 1;
	struct region src = {.fd = -1}, dst = {.fd = -1};
	struct shape s, r;
	struct msghdr mh = {0};
	struct pins pm;
	char *stream = malloc(SMALL), *exp = malloc(SMALL);
	size_t count;
	ssize_t n;

	if (!stream || !exp || !region_map(&src, ANON, 81) || !region_map(&dst, ANON, 82))
		goto out;
	if (!zc) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
			cfail("socketpair: %s", strerror(errno));
	} else {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t al = sizeof(a);

		ls = socket(AF_INET, SOCK_STREAM, 0);
		sv[0] = socket(AF_INET, SOCK_STREAM, 0);
		if (ls < 0 || sv[0] < 0 || bind(ls, (void *)&a, sizeof(a)) || listen(ls, 1) ||
		    getsockname(ls, (void *)&a, &al) || connect(sv[0], (void *)&a, sizeof(a)) ||
		    (sv[1] = accept(ls, NULL, NULL)) < 0)
			cfail("TCP over lo: %s", strerror(errno));
		else if (setsockopt(sv[0], SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
			cfail("SO_ZEROCOPY: %s", strerror(errno));
	}
	if (failed[0])
		goto out;
	shape_make(&s, src.p, src.len, NIOV, 1, 83);
	shape_make(&r, dst.p, dst.len, 33, 1, 84);
	count = s.total < r.total ? s.total : r.total;
	shape_trim(&s, count);
	shape_trim(&r, count);
	gather(&s, stream);
	memcpy(exp, dst.p, dst.len);
	scatter(&r, dst.p, exp, stream, count);
	pins_mark(&pm);
	mh.msg_iov = s.iov;
	mh.msg_iovlen = s.n;
	n = sendmsg(sv[0], &mh, zc ? MSG_ZEROCOPY : 0);
	if (n != (ssize_t)count) {
		cfail("sendmsg%s of %d iovecs (%zu bytes): %zd (%s)", zc ? " (MSG_ZEROCOPY)" : "", s.n, count, n,
		      n < 0 ? strerror(errno) : "short");
		goto back;
	}
	mh.msg_iov = r.iov;
	mh.msg_iovlen = r.n;
	n = recvmsg(sv[1], &mh, MSG_WAITALL);
	if (n != (ssize_t)count) {
		cfail("recvmsg (MSG_WAITALL) into %d iovecs (%zu bytes): %zd (%s)", r.n, count, n,
		      n < 0 ? strerror(errno) : "short");
		goto back;
	}
	if (check_mem(&r, dst.p, exp, dst.len, "recvmsg"))
		goto back;
	if (zc) {
		char ctl[128];
		struct msghdr em = {.msg_control = ctl, .msg_controllen = sizeof(ctl)};
		struct pollfd p = {sv[0], 0, 0};
		struct cmsghdr *cm;
		struct sock_extended_err *ee;

		poll(&p, 1, 15000);  /* at once, the data read; a loaded TCG guest stalls for seconds */
		n = recvmsg(sv[0], &em, MSG_ERRQUEUE | MSG_DONTWAIT);
		cm = n < 0 ? NULL : CMSG_FIRSTHDR(&em);
		if (n < 0) {
			cfail("no MSG_ZEROCOPY completion in the error queue within 15 s: %s", strerror(errno));
		} else if (em.msg_flags & MSG_CTRUNC) {
			cfail("the completion's control message was cut (MSG_CTRUNC, %zu bytes of room)", sizeof(ctl));
		} else if (!cm || cm->cmsg_level != SOL_IP || cm->cmsg_type != IP_RECVERR ||
			   cm->cmsg_len < CMSG_LEN(sizeof(*ee))) {
			cfail("the completion's control message is not an IP_RECVERR of %zu bytes (level %d type %d len %zu)",
			      CMSG_LEN(sizeof(*ee)), cm ? cm->cmsg_level : -1, cm ? cm->cmsg_type : -1,
			      cm ? (size_t)cm->cmsg_len : 0);
		} else {
			ee = (struct sock_extended_err *)CMSG_DATA(cm);
			if (ee->ee_origin != SO_EE_ORIGIN_ZEROCOPY || ee->ee_errno || ee->ee_info != 0 || ee->ee_data != 0)
				cfail("the completion says origin %u errno %u sends %u..%u, not zerocopy 0..0", ee->ee_origin,
				      ee->ee_errno, ee->ee_info, ee->ee_data);
			else
				note("MSG_ZEROCOPY completion of send 0 (%s)", ee->ee_code & SO_EE_CODE_ZEROCOPY_COPIED ?
				     "copied: the receiver is local" : "zero-copy");
		}
	}
back:
	for (int i = 0; i < 2; i++)
		if (sv[i] >= 0)
			close(sv[i]);
	sv[0] = sv[1] = -1;
	pins_back(&pm, "sendmsg/recvmsg");
	if (!failed[0] && !skipped[0])
		note("sendmsg of %d and recvmsg into %d unaligned iovecs through the compat msghdr (%zu bytes): byte exact",
		     s.n, r.n, count);
out:
	for (int i = 0; i < 2; i++)
		if (sv[i] >= 0)
			close(sv[i]);
	if (ls >= 0)
		close(ls);
	region_unmap(&src);
	region_unmap(&dst);
	free(stream);
	free(exp);
}

/* -- io_uring in a compat task: READV/WRITEV, REGISTER_BUFFERS and _UPDATE ----------------- */

/* Six buffers, unaligned, none empty (io_buffer_validate() refuses an empty one) */
static void reg_shape(struct shape *b, struct region *rg, unsigned seed)
{
	shape_make(b, rg->p, rg->len, 6, 1, seed);
	b->total = 0;
	for (int i = 0; i < b->n; i++) {
		if (!b->iov[i].iov_len)
			b->iov[i].iov_len = 1 + i * 37;
		b->total += b->iov[i].iov_len;
	}
}

/* For each registered buffer: WRITE_FIXED of a third of it from a third in, into a memfd, then
 * READ_FIXED of a stream into another third: the bytes where the iovec said, both ways */
static void fixed_io(struct ring *r, int idx, const struct iovec *b, struct region *rg, char *exp, int mfd,
		     unsigned seed)
{
	size_t l = b->iov_len / 3 ? b->iov_len / 3 : 1, o = b->iov_len / 3;
	char *from = (char *)b->iov_base + o, *into = (char *)b->iov_base + (b->iov_len - l);
	char got[l], stream[l];
	struct io_uring_sqe sqe = {.opcode = IORING_OP_WRITE_FIXED, .fd = mfd, .addr = (uintptr_t)from, .len = l,
				   .off = 0, .buf_index = idx};
	long res = ring_do(r, &sqe);

	if (res != (long)l) {
		cfail("WRITE_FIXED of %zu bytes at +%zu of registered buffer %d: %ld (%s)", l, o, idx, res,
		      res < 0 ? strerror(-res) : "short");
		return;
	}
	if (pread(mfd, got, l, 0) != (ssize_t)l || memcmp(got, from, l)) {
		cfail("WRITE_FIXED from buffer %d (+%zu, %zu bytes) wrote other bytes than the buffer holds there (byte %ld)",
		      idx, o, l, diff_at(got, from, l));
		return;
	}
	fill(stream, l, 0, seed);
	if (pwrite(mfd, stream, l, 0) != (ssize_t)l) {
		cfail("pwrite: %s", strerror(errno));
		return;
	}
	memcpy(exp + (into - rg->p), stream, l);
	sqe = (struct io_uring_sqe){.opcode = IORING_OP_READ_FIXED, .fd = mfd, .addr = (uintptr_t)into, .len = l,
				    .off = 0, .buf_index = idx};
	res = ring_do(r, &sqe);
	if (res != (long)l)
		cfail("READ_FIXED of %zu bytes into the end of registered buffer %d: %ld (%s)", l, idx, res,
		      res < 0 ? strerror(-res) : "short");
}

/* IORING_REGISTER_BUFFERS of six compat iovecs over the region; FOLL_PINs held while
 * registered: every page of every buffer (small pages), at least one a folio and at most every
 * page (thp, hugetlb: rsrc.c coalesces a huge folio to one pin); fixed reads and writes through
 * each index; IORING_REGISTER_BUFFERS_UPDATE of slots 1 and 2 with two new compat iovecs, fixed
 * I/O through them; the whole region against the model; unregister: pins back */
static void c32_uring_reg(void)
{
	enum mem m = mem_of(cell);
	struct region rg = {.fd = -1};
	struct shape b, nb;
	struct pins pm;
	struct ring r = {.fd = -1};
	int mfd = memfd_create("compat32-fixed", 0);
	char *exp = NULL;
	long held = 0, want, ret;

	if (mfd < 0 || !region_map(&rg, m, 101) || ring_init(&r, 8))
		goto out;
	exp = malloc(rg.len);
	memcpy(exp, rg.p, rg.len);
	reg_shape(&b, &rg, 102);
	want = pages_of(&b);
	pins_mark(&pm);
	ret = ring_register(&r, IORING_REGISTER_BUFFERS, b.iov, b.n);
	if (ret) {
		cfail("IORING_REGISTER_BUFFERS of %d compat iovecs: %s", b.n, strerror(errno));
		goto back;
	}
	held = pins_outstanding() - pm.base;
	if (m == THP || m == HUGE ? held < 1 || held > want : held != want)
		cfail("%ld FOLL_PIN(s) held by the registration of %d buffers over %ld page(s)%s", held, b.n, want,
		      m == THP || m == HUGE ? " (want 1 a huge folio up to 1 a page)" : "");
	for (int i = 0; i < b.n && !failed[0]; i++)
		fixed_io(&r, i, &b.iov[i], &rg, exp, mfd, 103 + i);
	if (!failed[0]) {
		struct io_uring_rsrc_update2 up = {.offset = 1, .nr = 2};

		reg_shape(&nb, &rg, 110);
		up.data = (uintptr_t)&nb.iov[3];
		ret = ring_register(&r, IORING_REGISTER_BUFFERS_UPDATE, &up, sizeof(up));
		if (ret != 2)
			cfail("IORING_REGISTER_BUFFERS_UPDATE of slots 1 and 2 with compat iovecs: %ld (%s)", ret,
			      ret < 0 ? strerror(errno) : "slots");
		for (int i = 1; i <= 2 && !failed[0]; i++)
			fixed_io(&r, i, &nb.iov[2 + i], &rg, exp, mfd, 120 + i);
	}
	if (!failed[0])
		check_mem(&b, rg.p, exp, rg.len, "the region after fixed reads");
	if (!failed[0] && ring_register(&r, IORING_UNREGISTER_BUFFERS, NULL, 0))
		cfail("IORING_UNREGISTER_BUFFERS: %s", strerror(errno));
back:
	ring_exit(&r);
	pins_back(&pm, "the buffers were unregistered and the ring closed");
	if (!failed[0] && !skipped[0])
		note("6 compat iovecs registered over %s (%ld FOLL_PINs held for %ld pages), fixed I/O through each, "
		     "two replaced by an update: byte exact, pins back", mem_names[m], held, want);
out:
	ring_exit(&r);
	if (mfd >= 0)
		close(mfd);
	region_unmap(&rg);
	free(exp);
}

/* REGISTER_BUFFERS whose entry 4 of 6 is refused: an unmapped page (EFAULT), a length negative
 * as a 32-bit value (EINVAL: only a compat task's), over 1 GiB (EFAULT): nothing stays
 * registered or pinned, and a good registration then works and gives its pins back */
static void c32_uring_reg_bad(void)
{
	static const struct { size_t len; int err; const char *what; } bad[] = {
		{300, EFAULT, "in an unmapped page"}, {0x80000000u, EINVAL, "negative as a 32-bit length"},
		{(1u << 30) + PAGE, EFAULT, "over 1 GiB"}};
	struct region rg = {.fd = -1};
	struct shape b;
	struct pins pm;
	struct ring r = {.fd = -1};
	long ret, held = 0;

	if (!region_map(&rg, ANON, 131) || ring_init(&r, 8))
		goto out;
	munmap(rg.p + 15 * PAGE, PAGE);
	rg.len = 15 * PAGE;
	pins_mark(&pm);
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]) && !failed[0]; k++) {
		reg_shape(&b, &rg, 132);
		b.iov[3].iov_len = bad[k].len;
		if (k == 0)
			b.iov[3].iov_base = rg.p + 15 * PAGE + 5;
		ret = ring_register(&r, IORING_REGISTER_BUFFERS, b.iov, b.n);
		if (ret != -1 || errno != bad[k].err)
			cfail("IORING_REGISTER_BUFFERS whose entry 4 of 6 is %s: %s, not %s", bad[k].what,
			      ret ? strerror(errno) : "registered", strerror(bad[k].err));
		if (ret == 0)
			ring_register(&r, IORING_UNREGISTER_BUFFERS, NULL, 0);
		if (pins_settle(pm.base) != pm.base)
			cfail("%+ld FOLL_PIN(s) outstanding after a refused registration (entry 4 %s)",
			      pins_outstanding() - pm.base, bad[k].what);
	}
	if (!failed[0]) {
		reg_shape(&b, &rg, 133);
		ret = ring_register(&r, IORING_REGISTER_BUFFERS, b.iov, b.n);
		held = pins_outstanding() - pm.base;
		if (ret)
			cfail("a good IORING_REGISTER_BUFFERS after the refused ones: %s", strerror(errno));
		else if (held != pages_of(&b))
			cfail("%ld FOLL_PIN(s) held by a good registration over %ld pages after the refused ones", held,
			      pages_of(&b));
		else if (ring_register(&r, IORING_UNREGISTER_BUFFERS, NULL, 0))
			cfail("IORING_UNREGISTER_BUFFERS: %s", strerror(errno));
	}
	ring_exit(&r);
	pins_back(&pm, "the refused and the good registration");
	if (!failed[0])
		note("registrations refused for an unmapped page, a negative and a 1 GiB length; a good one then held "
		     "%ld pins; all back", held);
out:
	ring_exit(&r);
	region_unmap(&rg);
}

/* -- compat ptrace: PEEKDATA and POKEDATA of 4-byte words ---------------------------------- */

/* A 32-bit tracee stopped in its raise(SIGSTOP) (premise: /proc/PID/syscall says the i386
 * tgkill); words peeked and poked at aligned, unaligned and page-crossing addresses of its
 * region, checked against the model and, for pokes, through /proc/PID/mem; the tracer's own
 * mapping keeps its bytes where private (COW), sees them where shared; an ext4 MAP_PRIVATE
 * read-only mapping is COWed by the forced write, the file unchanged. ptrace/hole: a word in an
 * unmapped page, or crossing into one, is EIO both ways. No FOLL_PIN (access_remote_vm gets). */
static void c32_ptrace(void)
{
	int hole = !strcmp(cell, "ptrace/hole");
	enum mem m = hole ? ANON : mem_of(cell);
	static const long peek_at[] = {0, 5, PAGE - 2, 3 * PAGE + 1, 7 * PAGE + 3, 8 * PAGE - 1, 15 * PAGE + 4092};
	static const long poke_at[] = {4, 9, 2 * PAGE - 3, 5 * PAGE + 2, 6 * PAGE - 1, 11 * PAGE + 7, 15 * PAGE + 4090};
	struct region rg = {.fd = -1};
	struct pins pm;
	char *cm = NULL, *got = NULL, *own = NULL;
	unsigned seed = m == FILEPR ? 141 : 142;
	pid_t pid = -1;
	int st, peeks = 0, pokes = 0;

	if (!region_map(&rg, m, 141))
		goto out;
	cm = malloc(rg.len), got = malloc(rg.len), own = malloc(rg.len);
	memcpy(own, rg.p, rg.len);
	pins_mark(&pm);
	pid = fork();
	if (pid == 0) {
		if (m != FILEPR)
			fill(rg.p, rg.len, 0, seed);
		if (hole)
			munmap(rg.p + 8 * PAGE, PAGE);
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL))
			_exit(1);
		raise(SIGSTOP);
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, WUNTRACED) != pid || !WIFSTOPPED(st)) {
		cfail("the tracee did not stop: %s", strerror(errno));
		goto kill;
	}
	if (syscall_of(pid) != SYS_tgkill) {
		cfail("/proc/%d/syscall of the stopped tracee says %d, not the i386 tgkill (%d)", pid, syscall_of(pid),
		      SYS_tgkill);
		goto kill;
	}
	fill(cm, rg.len, 0, seed);
	for (size_t i = 0; i < sizeof(peek_at) / sizeof(peek_at[0]) && !failed[0]; i++) {
		long at = peek_at[i] + (hole && i == 5 ? -2 : 0), w;
		int in_hole = hole && at + 4 > 8 * PAGE && at < 9 * PAGE;
		uint32_t want;

		errno = 0;
		w = ptrace(PTRACE_PEEKDATA, pid, rg.p + at, NULL);
		memcpy(&want, cm + at, 4);
		if (in_hole ? errno != EIO : errno || (uint32_t)w != want)
			cfail("PTRACE_PEEKDATA at +%ld%s: %#lx (%s), want %s %#x", at, in_hole ? " (into an unmapped page)" : "",
			      w, errno ? strerror(errno) : "no error", in_hole ? "EIO, not" : "", want);
		peeks++;
	}
	for (size_t i = 0; i < sizeof(poke_at) / sizeof(poke_at[0]) && !failed[0]; i++) {
		long at = poke_at[i] + (hole && i == 4 ? 2 * PAGE - 1 : 0);  /* hole: 8 pages - 2: crossing into it */
		int in_hole = hole && at + 4 > 8 * PAGE && at < 9 * PAGE;
		uint32_t word = 0xc0de0000u | (uint32_t)i << 8 | (uint32_t)at;
		long ret = ptrace(PTRACE_POKEDATA, pid, rg.p + at, (void *)(uintptr_t)word);

		if (in_hole ? ret != -1 || errno != EIO : ret != 0)
			cfail("PTRACE_POKEDATA at +%ld%s: %s", at, in_hole ? " (crossing into an unmapped page)" : "",
			      ret ? strerror(errno) : "done, not EIO");
		else if (!in_hole)
			memcpy(cm + at, &word, 4);
		pokes++;
	}
	if (!failed[0]) {
		/* a word that crossed into the hole may have left its first bytes: take them from the tracee */
		size_t part = hole ? 8 * PAGE : rg.len;

		if (!peer_read(&(struct peer){.pid = pid}, rg.p, got, part)) {
			if (hole)
				memcpy(cm + 8 * PAGE - 2, got + 8 * PAGE - 2, 2);
			if (diff_at(got, cm, part) >= 0)
				cfail("the tracee's byte +%ld after the pokes is 0x%02x, a 64-bit tracer's pokes leave 0x%02x",
				      diff_at(got, cm, part), (unsigned char)got[diff_at(got, cm, part)],
				      (unsigned char)cm[diff_at(got, cm, part)]);
		}
	}
	if (!failed[0] && m == SHMEM && diff_at(rg.p, cm, rg.len) >= 0)
		cfail("the tracer's own MAP_SHARED view differs from the tracee's at +%ld", diff_at(rg.p, cm, rg.len));
	if (!failed[0] && m != SHMEM && diff_at(rg.p, own, rg.len) >= 0)
		cfail("the tracer's own private mapping changed at +%ld (the tracee's writes or the pokes reached it)",
		      diff_at(rg.p, own, rg.len));
	if (!failed[0] && m == FILEPR && (pread(rg.fd, got, rg.len, 0) != (ssize_t)rg.len || diff_at(got, own, rg.len) >= 0))
		cfail("the file behind the MAP_PRIVATE mapping changed at +%ld: the forced write did not COW",
		      diff_at(got, own, rg.len));
kill:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	pins_back(&pm, "the peeks and pokes");
	if (!failed[0] && !skipped[0])
		note("%d PEEKDATA and %d POKEDATA of 4-byte words (unaligned, across pages%s) into %s of a 32-bit tracee:"
		     " byte exact, no pin", peeks, pokes, hole ? ", into an unmapped page" : "", mem_names[m]);
out:
	region_unmap(&rg);
	free(cm);
	free(got);
	free(own);
}

/* -- the table and main -------------------------------------------------------------------- */

static const struct {
	const char *name;
	void (*run)(void);
} cells[] = {
#define C32_CELL(name, fn, quick) {name, fn},
#include "compat_list.h"
#undef C32_CELL
};

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "d:b:l")) != -1) {
		switch (opt) {
		case 'd': ext4_dir = optarg; break;
		case 'b': blk_dev = optarg; break;
		case 'l':
			for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++)
				printf("compat/%s\n", cells[i].name);
			return 0;
		default:
			fprintf(stderr, "usage: %s [-d EXT4DIR] [-b BLOCKDEV] [-l] CELL\n", argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	cell = optind < argc ? argv[optind] : "";
	if (!strncmp(cell, "compat/", 7))
		cell += 7;
	for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
		if (strcmp(cell, cells[i].name))
			continue;
		if (is_compat())
			cells[i].run();
		if (failed[0])
			printf("FAIL: %s\n", failed);
		else if (skipped[0])
			printf("SKIP: %s\n", skipped);
		else
			printf("PASS\n");
		return 0;
	}
	printf("FAIL: compat32 has no cell '%s'\n", cell);
	return 2;
}
