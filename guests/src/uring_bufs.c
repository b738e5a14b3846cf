/* io_uring registered (fixed) buffers: every registration is a FOLL_LONGTERM pin.
 *
 * For anonymous small pages, THP and hugetlb (coalesced into one bvec per huge folio,
 * buffers that start and end inside a folio), each case checks:
 *  - the pin counters: +1 per page (+1 per huge folio once coalesced) while registered,
 *    back to where they were after unregistering;
 *  - no registered page left in ZONE_MOVABLE (long-term pins must migrate out of it);
 *  - data both ways at unaligned offsets: WRITE_FIXED out of the buffer, READ_FIXED into it,
 *    checked through the user mapping (a wrong bvec offset or page shows as wrong bytes);
 *  - fork while registered: child and parent both write their copy; WRITE_FIXED (the pinned
 *    pages) must show the parent's data, the child must keep its own;
 *  - MADV_DONTNEED on the registered range, then unregister: the pins still balance.
 * And an ext4 MAP_SHARED buffer must be refused (EFAULT: a writable long-term pin of a file
 * that needs dirty tracking), with no pin left behind; its pages are first moved out of
 * ZONE_MOVABLE by an allowed read-only long-term pin, so that GUP-fast, which hands
 * movable pages to the slow path, is the one that has to refuse them.
 * usage: uring_bufs DIR (a scratch file is made there)
 */
#include "pinlib.h"
#include <liburing.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include "mm/gup_test.h"  /* the tree's own, from $BENCH_SRC */

static struct io_uring ring;
static int data_fd;

static int rw_fixed(int write, char *buf, size_t len, off_t off)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	struct io_uring_cqe *cqe;
	int res;

	if (write)
		io_uring_prep_write_fixed(sqe, data_fd, buf, len, off, 0);
	else
		io_uring_prep_read_fixed(sqe, data_fd, buf, len, off, 0);
	io_uring_submit(&ring);
	if (io_uring_wait_cqe(&ring, &cqe))
		return -EIO;
	res = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	return res;
}

/* WRITE_FIXED chunks of buf to the file, compare with what the mapping holds (seed). */
static void check_out(const char *name, char *buf, size_t len, unsigned seed)
{
	static const size_t cuts[][2] = { {0, 4096}, {100, 5000}, {4095, 2}, {8192 - 7, 1 << 20} };
	char *back = malloc(len);

	for (unsigned i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		size_t off = cuts[i][0] % len, n = cuts[i][1];

		if (i == 3)
			off = len / 2 - 7;  /* crosses the middle (a huge folio boundary) */
		if (off + n > len)
			n = len - off;
		if (rw_fixed(1, buf + off, n, 0) != (int)n || pread(data_fd, back, n, 0) != (ssize_t)n) {
			fail("%s: WRITE_FIXED of %zu bytes at +%zu failed", name, n, off);
			continue;
		}
		if (check(back, n, off, seed) >= 0)
			fail("%s: WRITE_FIXED at +%zu wrote bytes that are not the buffer's (byte %ld)",
			     name, off, check(back, n, off, seed));
	}
	free(back);
}

/* READ_FIXED a fresh pattern into chunks of buf; the user mapping must show it. */
static void check_in(const char *name, char *buf, size_t len, unsigned seed)
{
	size_t offs[] = { 0, 513, len / 2 - 4096 - 11, len - 3000 };
	char *src = malloc(len);

	fill(src, len, 0, seed);
	if (pwrite(data_fd, src, len, 0) != (ssize_t)len) {
		fail("%s: cannot write the scratch file", name);
		free(src);
		return;
	}
	for (unsigned i = 0; i < 4; i++) {
		size_t off = offs[i], n = len - off < 70000 ? len - off : 70000;

		if (rw_fixed(0, buf + off, n, off) != (int)n)
			fail("%s: READ_FIXED of %zu bytes at +%zu failed", name, n, off);
		else if (check(buf + off, n, off, seed) >= 0)
			fail("%s: after READ_FIXED at +%zu the mapping shows other bytes (byte %ld)",
			     name, off, check(buf + off, n, off, seed));
	}
	free(src);
}

/* fork while registered: both sides write their copy; the pinned pages must stay the
 * parent's (fork copies pinned anonymous pages for the child instead of sharing them, so
 * the parent's write does not COW away from the pages io_uring holds). */
static void fork_both_write(const char *name, char *buf, size_t len, unsigned seed)
{
	int go[2], done[2], status;
	char c = 0;
	pid_t pid;

	if (pipe(go) || pipe(done)) {
		fail("%s: pipe", name);
		return;
	}
	pid = fork();
	if (pid == 0) {
		fill(buf, len, 0, seed ^ 0xdead);  /* the child's own copy */
		if (write(done[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		_exit(check(buf, len, 0, seed ^ 0xdead) >= 0 ? 3 : 0);
	}
	if (read(done[0], &c, 1) != 1)
		fail("%s: the child died before writing", name);
	fill(buf, len, 0, seed);  /* the parent writes too, while the child still lives */
	if (check(buf, len, 0, seed) >= 0)
		fail("%s: the parent's mapping does not keep its own writes after fork", name);
	check_out(name, buf, len, seed);  /* WRITE_FIXED reads the pinned pages: the parent's data */
	if (write(go[1], &c, 1) != 1 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		fail("%s: the child saw the parent's data or died after fork (status %#x)", name, status);
	close(go[0]); close(go[1]); close(done[0]); close(done[1]);
}

struct kind {
	const char *name;
	size_t len, head;     /* buffer length and where it starts inside its mapping */
	int huge;             /* 0 small pages, 1 THP, 2 hugetlb */
};

static long expected_pins(const struct kind *k)
{
	size_t first = k->head / HPAGE, last = (k->head + k->len - 1) / HPAGE;

	if (k->huge)
		return (long)(last - first + 1);  /* coalesced: one pin per huge folio */
	return (long)((k->head % PAGE + k->len + PAGE - 1) / PAGE);
}

static int thp_backed(char *map, size_t maplen)
{
	char line[256];
	long kb = 0;
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0;

	while (f && fgets(line, sizeof(line), f)) {
		unsigned long a, b;

		if (sscanf(line, "%lx-%lx ", &a, &b) == 2)
			in = a <= (uintptr_t)map && (uintptr_t)map < b;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	if (f)
		fclose(f);
	return (size_t)kb * 1024 >= maplen;
}

static void run_case(const struct kind *k, unsigned seed)
{
	size_t maplen = (k->head + k->len + HPAGE - 1) & ~(HPAGE - 1);
	char *map, *buf;
	struct iovec iov;
	long p0, p1, want, moved;
	int before = failures;

	if (k->huge == 2)
		map = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	else
		map = map_aligned(maplen, HPAGE, k->huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	if (!map || map == MAP_FAILED) {
		fail("%s: cannot map %zu bytes (%s): hugetlb pages reserved?", k->name, maplen, strerror(errno));
		return;
	}
	buf = map + k->head;
	fill(buf, k->len, 0, seed);
	want = expected_pins(k);
	if (k->huge == 1 && !thp_backed(map, maplen))
		want = -1;  /* no THP this time: count not predictable, balance still checked */
	p0 = pins_quiet();
	iov.iov_base = buf;
	iov.iov_len = k->len;
	if (io_uring_register_buffers(&ring, &iov, 1)) {
		fail("%s: io_uring_register_buffers failed", k->name);
		munmap(map, maplen);
		return;
	}
	p1 = pins_outstanding();
	if (want >= 0 && p1 - p0 != want)
		fail("%s: registering added %ld pins, want %ld", k->name, p1 - p0, want);
	else if (p1 <= p0)
		fail("%s: registering added no pin", k->name);
	moved = pages_in_movable(buf, k->len);
	if (moved)
		fail("%s: %ld long-term pinned page(s) still in ZONE_MOVABLE", k->name, moved);
	check_out(k->name, buf, k->len, seed);
	check_in(k->name, buf, k->len, seed + 1);
	fork_both_write(k->name, buf, k->len, seed + 2);
	if (k->huge != 2)
		madvise(map, maplen, MADV_DONTNEED);  /* the pins keep the old pages alive */
	io_uring_unregister_buffers(&ring);
	p1 = pins_settle(p0);
	if (p1 != p0)
		fail("%s: %ld pin(s) outstanding after unregistering", k->name, p1 - p0);
	else if (failures == before)
		ok("%s: %zu bytes at +%zu, %ld pins while registered, balanced", k->name, k->len, k->head,
		   want);
	munmap(map, maplen);
}

static void file_case(const char *dir)
{
	size_t len = 16 * PAGE;
	char path[4096], *map;
	struct iovec iov;
	int fd, gup, ret;
	long p0, p1;

	snprintf(path, sizeof(path), "%s/uring.shared", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, len)) {
		fail("ext4 MAP_SHARED: cannot create %s", path);
		return;
	}
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	fill(map, len, 0, 5);
	gup = open("/sys/kernel/debug/gup_test", O_RDWR);
	if (gup >= 0) {
		struct pin_longterm_test args = { .addr = (uintptr_t)map, .size = len, .flags = 0 };

		if (ioctl(gup, PIN_LONGTERM_TEST_START, &args) == 0)
			ioctl(gup, PIN_LONGTERM_TEST_STOP);
		close(gup);
		fill(map, len, 0, 5);  /* writable and dirty again, on the migrated pages */
	}
	p0 = pins_quiet();
	iov.iov_base = map;
	iov.iov_len = len;
	ret = io_uring_register_buffers(&ring, &iov, 1);
	if (ret == 0) {
		fail("ext4 MAP_SHARED: registering a writable long-term buffer of a file that needs "
		     "dirty tracking succeeded (want EFAULT)");
		io_uring_unregister_buffers(&ring);
	} else if (ret != -EFAULT) {
		fail("ext4 MAP_SHARED: register failed with %d, want -EFAULT", ret);
	}
	p1 = pins_settle(p0);
	if (p1 != p0)
		fail("ext4 MAP_SHARED: %ld pin(s) left behind", p1 - p0);
	else if (ret == -EFAULT)
		ok("ext4 MAP_SHARED: registration refused with EFAULT, no pin left");
	munmap(map, len);
	close(fd);
}

int main(int argc, char **argv)
{
	const struct kind kinds[] = {
		{ "anon small pages", (1 << 20) + 3 * PAGE + 100, 100, 0 },
		{ "anon THP", 2 * HPAGE, 0, 1 },
		{ "anon THP, unaligned", 2 * HPAGE - 5 * PAGE, 3 * PAGE + 8, 1 },
		{ "hugetlb coalesced", 2 * HPAGE, 0, 2 },
		{ "hugetlb coalesced, unaligned", HPAGE + 8 * PAGE, HPAGE - 4 * PAGE + 64, 2 },
	};
	char path[4096];

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	if (pins_outstanding() < 0) {
		printf("SKIP: no nr_foll_pin_* counters in /proc/vmstat\n");
		return KSFT_SKIP;
	}
	if (io_uring_queue_init(8, &ring, 0)) {
		printf("SKIP: io_uring_queue_init failed (CONFIG_IO_URING?)\n");
		return KSFT_SKIP;
	}
	snprintf(path, sizeof(path), "%s/uring.data", argv[1]);
	data_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (data_fd < 0) {
		fail("cannot create %s", path);
		return 1;
	}
	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		run_case(&kinds[i], 17 * i + 3);
	file_case(argv[1]);
	io_uring_queue_exit(&ring);
	return failures ? 1 : 0;
}
