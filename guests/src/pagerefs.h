/* Per-page reference and pin counts of the caller's own pages, read through gup_test's
 * DUMP_USER_PAGES_TEST (mm/gup_test.c): the kernel GUPs the range (one FOLL_GET reference each,
 * dropped again), dump_page()s up to 8 of its pages into the kernel log, and this reads the
 * dumps back from /dev/kmsg. Not /proc/kpagecount: that is the *map* count
 * (fs/proc/page.c kpagecount_read(), folio_precise_page_mapcount(), 6.12), blind to pins.
 *
 * What a leaked pin looks like (6.12 mm/gup.c try_grab_folio()): a small page carries
 * GUP_PIN_COUNTING_BIAS (1024) references more; a large folio (THP, hugetlb) one reference and
 * one _pincount more (the dump's "head: ... pincount:N"). A leaked single reference (+1) cannot
 * be told from the LRU batches' and this dump's own references without draining every CPU's
 * batches, so it is reported (extra) but judged only by the callers that can.
 * Needs "mm/gup_test.h" from the tree ($BENCH_SRC) and an open /sys/kernel/debug/gup_test.
 */
#ifndef PAGEREFS_H
#define PAGEREFS_H
#include "pinlib.h"
#include <sys/ioctl.h>
#include "mm/gup_test.h"

#define PAGEREFS_MAX GUP_TEST_MAX_PAGES_TO_DUMP
#define PIN_BIAS 1024  /* GUP_PIN_COUNTING_BIAS, include/linux/mm.h */

struct page_refs {
	uint64_t pfn;
	long refcount;  /* folio_ref_count() of the page's folio, this dump's reference included */
	long mapcount;  /* the page's own map count */
	long pincount;  /* large folios: _pincount; small pages: -1 */
	long fmapcount; /* large folios: folio_mapcount() (the head line); small pages: -1 */
};

/* One kmsg record's text (after "prio,seq,ts,flags;"), or NULL. */
static inline const char *kmsg_text(const char *rec)
{
	const char *semi = strchr(rec, ';');

	return semi ? semi + 1 : NULL;
}

/* Dump pages idx[0..n) (page indices from base, n <= PAGEREFS_MAX) and fill out[] in that order.
 * Returns how many were read back (n on success), -1 when gup_test or /dev/kmsg fails. */
static inline int page_refs(int gup_fd, const char *base, const long *idx, int n, struct page_refs *out)
{
	struct gup_test g = {0};
	long top = 0;
	int kfd, got = -1, want_head = 0;
	char rec[2048];
	ssize_t r;

	if (gup_fd < 0 || n < 1 || n > PAGEREFS_MAX)
		return -1;
	for (int i = 0; i < n; i++) {
		if (idx[i] + 1 > top)
			top = idx[i] + 1;
		g.which_pages[i] = (uint32_t)idx[i] + 1;  /* 1-based */
		out[i].pfn = 0;
		out[i].refcount = out[i].mapcount = out[i].pincount = out[i].fmapcount = -1;
	}
	g.addr = (uintptr_t)base;
	g.size = (uint64_t)top * PAGE;
	g.nr_pages_per_call = (uint32_t)top;
	kfd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kfd < 0)
		return -1;
	lseek(kfd, 0, SEEK_END);  /* only what the dump adds */
	if (ioctl(gup_fd, DUMP_USER_PAGES_TEST, &g)) {
		close(kfd);
		return -1;
	}
	/* the dumps come in which_pages[] order: "page: refcount:R mapcount:M mapping:.. index:.. pfn:P",
	 * for a large folio followed by "head: order:.. mapcount:.. entire_mapcount:.. nr_pages_mapped:.. pincount:C" */
	while ((r = read(kfd, rec, sizeof(rec) - 1)) > 0 || (r < 0 && errno == EPIPE)) {
		const char *t, *s;

		if (r <= 0)
			continue;  /* EPIPE: records overwritten, go on */
		rec[r] = 0;
		if (!(t = kmsg_text(rec)))
			continue;
		if (!strncmp(t, "page: refcount:", 15) && got + 1 < n) {
			got++;
			out[got].refcount = strtol(t + 15, NULL, 10);
			if ((s = strstr(t, "mapcount:")))
				out[got].mapcount = strtol(s + 9, NULL, 10);
			if ((s = strstr(t, "pfn:")))
				out[got].pfn = strtoull(s + 4, NULL, 16);
			want_head = 1;
		} else if (want_head && !strncmp(t, "head: ", 6) && (s = strstr(t, "pincount:"))) {
			out[got].pincount = strtol(s + 9, NULL, 10);
			if ((s = strstr(t, " mapcount:")))  /* not entire_mapcount: the space before */
				out[got].fmapcount = strtol(s + 10, NULL, 10);
			want_head = 0;
		} else if (!strncmp(t, "page: ", 6) || !strncmp(t, "page:", 5)) {
			want_head = 0;
		}
	}
	close(kfd);
	return got + 1;
}

/* 1 when the dumped page still holds a FOLL_PIN nobody owns (see the top of this file). */
static inline int page_refs_pinned(const struct page_refs *p)
{
	return p->pincount >= 0 ? p->pincount > 0 : p->refcount - p->mapcount >= PIN_BIAS;
}
#endif
