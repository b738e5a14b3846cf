/* Occupy ZONE_MOVABLE's free memory until killed, so that what runs meanwhile gets its pages
 * from the other zones.
 *
 * Under movablecore= most user pages land in ZONE_MOVABLE, and GUP-fast hands every
 * FOLL_LONGTERM pin of a movable page to the slow path (which migrates it first). Checks
 * of GUP-fast's own long-term decisions (file mappings, R/O unsharing) must therefore run
 * on pages outside ZONE_MOVABLE: mm-selftests and rxe run with this holding the zone.
 * Prints "filled N pages" once the memory is taken (mlocked: no reclaim, no swap).
 */
#include "pinlib.h"
#include <signal.h>

static long movable_free(void)
{
	char line[256];
	long v = 0;
	int in = 0;
	FILE *f = fopen("/proc/zoneinfo", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Node", 4))
			in = strstr(line, "zone  Movable") != NULL;
		else if (in && sscanf(line, " pages free %ld", &v) == 1)
			break;
	}
	if (f)
		fclose(f);
	return v;
}

int main(void)
{
	long pages = movable_free(), left;
	char *p;

	if (pages <= 0) {
		printf("filled 0 pages (no ZONE_MOVABLE)\n");
		fflush(stdout);
		pause();
		return 0;
	}
	p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		printf("FAIL: cannot map %ld pages\n", pages);
		return 1;
	}
	madvise(p, pages * PAGE, MADV_NOHUGEPAGE);
	mlock(p, pages * PAGE);  /* faults every page in, from ZONE_MOVABLE first */
	left = movable_free();
	printf("filled %ld pages, %ld left free in ZONE_MOVABLE\n", pages, left);
	fflush(stdout);
	pause();
	return 0;
}
