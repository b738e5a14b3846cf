/* Make folio_mkclean() meet a pinned file folio, deterministically.
 *
 * A dirty page of an ext4 MAP_SHARED mapping is pinned read-only and long-term through
 * gup_test's PIN_LONGTERM_TEST_START (allowed: only *writable* long-term pins of such
 * mappings are refused), then msync(MS_SYNC)/fsync() write it back: writeback cleans it
 * with folio_mkclean() while the pin is held. A kernel that counts or reports that case
 * (the put-user-page series: /proc/vmstat pinned_folio_mkclean) must see it here; any
 * kernel must keep the data and balance the pins.
 * usage: pin_mkclean FILE
 */
#include "pinlib.h"
#include <sys/ioctl.h>
#include "mm/gup_test.h"  /* the tree's own, from $BENCH_SRC */

int main(int argc, char **argv)
{
	size_t len = 16 * PAGE;
	int fd, gup, rounds;
	long p0;
	char *map;
	struct pin_longterm_test args;

	if (argc != 2)
		return 2;
	gup = open("/sys/kernel/debug/gup_test", O_RDWR);
	if (gup < 0) {
		printf("SKIP: /sys/kernel/debug/gup_test missing (CONFIG_GUP_TEST not set)\n");
		return KSFT_SKIP;
	}
	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, len)) {
		fail("cannot create %s", argv[1]);
		return 1;
	}
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	p0 = pins_quiet();
	for (rounds = 0; rounds < 4; rounds++) {
		fill(map, len, 0, rounds);  /* dirty every page through the mapping */
		args.addr = (uintptr_t)map;
		args.size = len;
		args.flags = 0;  /* read-only, slow path */
		if (ioctl(gup, PIN_LONGTERM_TEST_START, &args)) {
			fail("PIN_LONGTERM_TEST_START (read-only, ext4 MAP_SHARED): %s", strerror(errno));
			break;
		}
		if (msync(map, len, MS_SYNC) || fsync(fd))  /* writeback: folio_mkclean() on pinned folios */
			fail("msync/fsync of a pinned file mapping: %s", strerror(errno));
		if (ioctl(gup, PIN_LONGTERM_TEST_STOP))
			fail("PIN_LONGTERM_TEST_STOP: %s", strerror(errno));
	}
	munmap(map, len);
	posix_fadvise(fd, 0, len, POSIX_FADV_DONTNEED);
	{
		char *back = malloc(len);

		if (pread(fd, back, len, 0) != (ssize_t)len || check(back, len, 0, rounds - 1) >= 0)
			fail("the file does not hold what was written through the pinned mapping");
		free(back);
	}
	if (pins_settle(p0) != p0)
		fail("%ld pin(s) outstanding after PIN_LONGTERM_TEST_STOP", pins_settle(p0) - p0);
	if (!failures)
		ok("%d rounds: dirty ext4 MAP_SHARED pages pinned read-only long-term, written back, "
		   "data on disk, pins balanced", rounds);
	return failures ? 1 : 0;
}
