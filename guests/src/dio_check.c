/* O_DIRECT data checks that end on disk, each a bug class of its own.
 *
 * dirty DIR SECONDS: O_DIRECT reads into a MAP_SHARED ext4 buffer file while another
 *   thread msyncs it, so writeback cleans pages with a read in flight; the completion
 *   must re-dirty them (bio_check_pages_dirty). Each round the buffer file is unmapped,
 *   fsynced, dropped from the page cache and re-read: it must hold what was read into it.
 * fallback DIR: GUP-fast gives up at the first page it cannot take and the slow path pins
 *   the rest. Buffers with every 3rd page or only the first pages present (file pages not
 *   yet mapped, anonymous pages write-protected by fork) are written and read with
 *   O_DIRECT at several page counts; the data must land where it belongs. A buffer with a
 *   PROT_NONE page in the middle must fail short and leave no pin behind.
 * unaligned DIR: O_DIRECT with sector-aligned, not page-aligned buffers inside THPs and
 *   across a THP boundary, both ways (bio pages of large folios, released per page).
 * Pins must balance after each part (the runner checks the whole workload too).
 */
#include "pinlib.h"
#include <pthread.h>
#include <sys/wait.h>

#define NPAGES 256
static const char *dir;

static int open_in(const char *name, int flags)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return open(path, flags | O_CREAT, 0600);
}

/* A file of len bytes holding fill(pos=offset, seed), written and synced. */
static int make_file(const char *name, size_t len, unsigned seed)
{
	int fd = open_in(name, O_RDWR | O_TRUNC);
	char *tmp = malloc(len);

	fill(tmp, len, 0, seed);
	if (fd < 0 || pwrite(fd, tmp, len, 0) != (ssize_t)len || fsync(fd))
		fd = -1;
	free(tmp);
	return fd;
}

static void balance(const char *part, long p0)
{
	long now = pins_settle(p0);

	if (now != p0)
		fail("%s: %ld page pin(s) outstanding after it (leak or double unpin)", part, now - p0);
}

/* -- dirty ------------------------------------------------------------------------------ */
static volatile int stop;
static char *shared_buf;

static void *msync_loop(void *arg)
{
	(void)arg;
	while (!stop)
		msync(shared_buf, NPAGES * PAGE, MS_SYNC);
	return NULL;
}

static void part_dirty(int seconds)
{
	size_t len = NPAGES * PAGE, chunk = 16 * PAGE;
	int src = make_file("dirty.src", 16 * len, 7), bfd = make_file("dirty.buf", len, 0);
	int dsrc = open_in("dirty.src", O_RDONLY | O_DIRECT);
	time_t end = time(NULL) + seconds;
	long p0 = pins_quiet();
	int rounds = 0;
	char *back = malloc(len);

	if (src < 0 || bfd < 0 || dsrc < 0) {
		fail("dirty: cannot make the files in %s", dir);
		return;
	}
	while (time(NULL) < end && !failures) {
		size_t base = (rounds % 16) * len;
		pthread_t t;

		shared_buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, bfd, 0);
		stop = 0;
		pthread_create(&t, NULL, msync_loop, NULL);
		for (size_t off = 0; off < len; off += chunk)
			if (pread(dsrc, shared_buf + off, chunk, base + off) != (ssize_t)chunk)
				fail("dirty: short O_DIRECT read");
		stop = 1;
		pthread_join(t, NULL);
		if (check(shared_buf, len, base, 7) >= 0)
			fail("dirty: round %d: the mapping does not hold what O_DIRECT read", rounds);
		munmap(shared_buf, len);
		fsync(bfd);
		posix_fadvise(bfd, 0, len, POSIX_FADV_DONTNEED);
		if (pread(bfd, back, len, 0) != (ssize_t)len || check(back, len, base, 7) >= 0) {
			long at = check(back, len, base, 7);

			fail("dirty: round %d: page %ld of the buffer file is stale on disk: O_DIRECT read "
			     "data was never written back (completion did not re-dirty a cleaned page)",
			     rounds, at / (long)PAGE);
		}
		rounds++;
	}
	balance("dirty", p0);
	if (!failures)
		ok("dirty: %d rounds of O_DIRECT reads into a MAP_SHARED file under msync, all on disk", rounds);
	free(back);
	close(src);
	close(bfd);
	close(dsrc);
}

/* -- fallback ---------------------------------------------------------------------------- */
static const int counts[] = { 1, 3, 17, 123, 200 };

/* O_DIRECT write from a file mapping with only some pages mapped; the copy must match. */
static void fallback_file(int npages, int every, int present)
{
	size_t len = npages * PAGE;
	int sfd = make_file("fb.src", len + PAGE, 11), dfd = open_in("fb.dst", O_RDWR | O_TRUNC | O_DIRECT);
	char *map = mmap(NULL, len + PAGE, PROT_READ, MAP_SHARED, sfd, 0), *back = malloc(len);
	volatile char sink;
	int rfd = -1;

	for (int i = 0; i < npages + 1; i++)  /* fault in some pages only */
		if ((every && i % every == 0) || i < present)
			sink = map[i * PAGE];
	(void)sink;
	if (pwrite(dfd, map + PAGE, len, 0) != (ssize_t)len)
		fail("fallback: O_DIRECT write of %d pages from a partly mapped file failed", npages);
	else if (fsync(dfd) || (rfd = open_in("fb.dst", O_RDONLY)) < 0 ||
		 posix_fadvise(rfd, 0, len, POSIX_FADV_DONTNEED) || pread(rfd, back, len, 0) != (ssize_t)len)
		fail("fallback: cannot read back fb.dst");
	else if (check(back, len, PAGE, 11) >= 0)
		fail("fallback: O_DIRECT write of %d pages (every %d / first %d mapped) put wrong data at "
		     "page %ld", npages, every, present, check(back, len, PAGE, 11) / (long)PAGE);
	munmap(map, len + PAGE);
	if (rfd >= 0)
		close(rfd);
	free(back);
	close(sfd);
	close(dfd);
}

/* O_DIRECT read into anonymous pages that fork left write-protected, some made writable again. */
static void fallback_cow(int npages, int every)
{
	size_t len = npages * PAGE;
	int sfd = make_file("fb.src", len, 13), dsrc = open_in("fb.src", O_RDONLY | O_DIRECT);
	char *buf = map_aligned(len, PAGE, MADV_NOHUGEPAGE);
	pid_t pid;
	int status;

	int gate[2];

	memset(buf, 0x5a, len);
	if (pipe(gate)) {
		fail("fallback: pipe: %s", strerror(errno));
		munmap(buf, len);
		close(sfd);
		close(dsrc);
		return;
	}
	pid = fork();
	if (pid == 0) {  /* once the parent's read is checked: the child's copy must be untouched */
		char c;

		close(gate[1]);
		while (read(gate[0], &c, 1) > 0)
			;
		for (size_t i = 0; i < len; i++)
			if (buf[i] != 0x5a)
				_exit(3);
		_exit(0);
	}
	close(gate[0]);
	for (int i = 0; i < npages; i += every)
		buf[i * PAGE] = 0x5a;  /* COW these now: writable again, the rest still shared */
	if (pread(dsrc, buf, len, 0) != (ssize_t)len)
		fail("fallback: O_DIRECT read into %d fork-shared pages failed", npages);
	else if (check(buf, len, 0, 13) >= 0)
		fail("fallback: O_DIRECT read into %d fork-shared pages (every %d unshared) left wrong "
		     "data at page %ld", npages, every, check(buf, len, 0, 13) / (long)PAGE);
	close(gate[1]);  /* the child checks its copy now */
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		fail("fallback: the fork child's copy of %d pages changed (every %d unshared by the parent; child"
		     " status %#x): the O_DIRECT read landed in pages the child still shared", npages, every, status);
	munmap(buf, len);
	close(sfd);
	close(dsrc);
}

/* O_DIRECT from a buffer with a PROT_NONE page in it: GUP-fast pins the pages before the
 * hole, the slow path fails at it; the I/O ends short or with EFAULT, and every pin taken
 * on the way must be dropped (the caller can only unpin what the count it got covers). */
static void fallback_hole(int npages, int hole)
{
	size_t len = npages * PAGE;
	int dfd = open_in("fb.hole", O_RDWR | O_CREAT | O_TRUNC | O_DIRECT);
	char *buf = map_aligned(len, PAGE, MADV_NOHUGEPAGE);
	long p0 = pins_quiet(), now;
	ssize_t got;

	memset(buf, 0x6b, len);
	mprotect(buf + hole * PAGE, PAGE, PROT_NONE);
	got = pwrite(dfd, buf, len, 0);
	if (got == (ssize_t)len)
		fail("fallback: O_DIRECT write across a PROT_NONE page succeeded in full");
	now = pins_settle(p0);
	if (now != p0)
		fail("fallback: O_DIRECT write of %d pages with a PROT_NONE page at %d (%zd): %ld pin(s) "
		     "left behind", npages, hole, got, now - p0);
	munmap(buf, len);
	close(dfd);
}

static void part_fallback(void)
{
	long p0 = pins_quiet();
	int before = failures;

	for (unsigned i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		fallback_file(counts[i], 3, 0);
		fallback_file(counts[i], 0, counts[i] / 2);
		fallback_cow(counts[i], 2);
		if (counts[i] > 2)
			fallback_hole(counts[i], counts[i] / 2);
	}
	balance("fallback", p0);
	if (failures == before)
		ok("fallback: partly mapped and fork-shared buffers, %zu sizes, data in place",
		   sizeof(counts) / sizeof(counts[0]));
}

/* -- unaligned --------------------------------------------------------------------------- */
static void part_unaligned(void)
{
	static const size_t offs[][2] = {  /* buffer offset in the THPs, length */
		{ 512, 3 * 512 }, { 4096 - 512, 1024 }, { 512, 64 * 1024 },
		{ HPAGE - 8 * 512, 16 * 512 }, { HPAGE - 3 * 4096 - 512, 300 * 1024 }, { 1536, 1024 * 1024 },
	};
	size_t len = 2 * HPAGE;
	char *buf = map_aligned(len, HPAGE, MADV_HUGEPAGE), *back = malloc(len);
	int src = make_file("ua.src", len, 21), dsrc = open_in("ua.src", O_RDONLY | O_DIRECT);
	int dst = open_in("ua.dst", O_RDWR | O_TRUNC | O_DIRECT), plain = open_in("ua.dst", O_RDONLY);
	long p0 = pins_quiet();
	int before = failures;

	memset(buf, 0, len);  /* fault in: THPs where the kernel can */
	for (unsigned i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		size_t o = offs[i][0], n = offs[i][1];

		memset(buf, 0, len);
		if (pread(dsrc, buf + o, n, 4096) != (ssize_t)n || check(buf + o, n, 4096, 21) >= 0)
			fail("unaligned: O_DIRECT read of %zu bytes into THP+%zu: wrong data", n, o);
		else if (buf[o - 1] || buf[o + n])
			fail("unaligned: O_DIRECT read of %zu bytes into THP+%zu wrote outside it", n, o);
		if (pwrite(dst, buf + o, n, 0) != (ssize_t)n)
			fail("unaligned: O_DIRECT write of %zu bytes from THP+%zu failed", n, o);
		posix_fadvise(plain, 0, n, POSIX_FADV_DONTNEED);
		if (pread(plain, back, n, 0) != (ssize_t)n || check(back, n, 4096, 21) >= 0)
			fail("unaligned: O_DIRECT write of %zu bytes from THP+%zu: wrong data on disk", n, o);
	}
	balance("unaligned", p0);
	if (failures == before)
		ok("unaligned: %zu sector-aligned O_DIRECT reads and writes inside THPs, data in place",
		   sizeof(offs) / sizeof(offs[0]));
	free(back);
	close(src);
	close(dsrc);
	close(dst);
	close(plain);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s dirty|fallback|unaligned DIR [SECONDS]\n", argv[0]);
		return 2;
	}
	dir = argv[2];
	if (pins_outstanding() < 0) {
		printf("SKIP: no nr_foll_pin_* counters in /proc/vmstat\n");
		return KSFT_SKIP;
	}
	if (!strcmp(argv[1], "dirty"))
		part_dirty(argc > 3 ? atoi(argv[3]) : 10);
	else if (!strcmp(argv[1], "fallback"))
		part_fallback();
	else if (!strcmp(argv[1], "unaligned"))
		part_unaligned();
	else
		return 2;
	return failures ? 1 : 0;
}
