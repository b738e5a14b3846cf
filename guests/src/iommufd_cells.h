/* iommufd as a user-reachable long-term pinner (kconfigs/pinners.config: CONFIG_IOMMUFD and
 * CONFIG_IOMMUFD_TEST, whose mock domain and test accesses need no IOMMU hardware). Part of
 * pin_matrix.c (struct cell, mem_map(), verdict(), cell_fork()), included after kentry_cells.h,
 * whose kentry_missing(), pin_mark(), pins_back() and none_held() it uses; entered by
 * iommufd_cells() from main. docs/matrix.md "iommufd" says what each cell checks and why.
 *
 * iommufd/<memory>/<way>-<event>: the pinned half of the cell's region is mapped into an IOAS
 * (IOMMU_IOAS_MAP) and held there while the event happens. Two ways to pin it (6.12,
 * drivers/iommu/iommufd/pages.c):
 *   domain: the IOAS has a mock domain attached (IOMMU_TEST_OP_MOCK_DOMAIN), so IOAS_MAP pins
 *     every page at map time (iopt_area_fill_domains() -> pfn_reader_user_pin():
 *     pin_user_pages_fast(FOLL_LONGTERM | FOLL_WRITE)) and writes the PFNs into the domain;
 *   access: the IOAS has no domain, IOAS_MAP pins nothing, and a test access made with
 *     MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES pins the range on demand
 *     (IOMMU_TEST_OP_ACCESS_PAGES -> iopt_area_add_access(), the same pfn_reader).
 * What the IOAS holds is read and written with IOMMU_TEST_OP_ACCESS_RW and
 * MOCK_ACCESS_RW_SLOW_PATH over more than one page: iopt_pages_rw_slow() takes the PFNs from
 * the pinned xarray or the domain, as a device would. (Without SLOW_PATH, the caller's own mm
 * is read with copy_from_user(); a one-page slow access pins the process's current page:
 * iopt_pages_rw_page(). Neither shows what the IOAS holds.)
 *
 * The contract each event is checked against. A FOLL_LONGTERM pin keeps its page; mm never
 * changes what an IOAS maps (no MMU notifier), so:
 *   none: the process and the IOAS see each other's writes; the domain maps the process's
 *     pages (IOMMU_TEST_OP_MD_CHECK_MAP).
 *   fork: a private page pinned for DMA is copied for the child at fork (page_needs_cow_for_dma(),
 *     mm/memory.c), so the child's write reaches neither the parent nor the IOAS; in shared
 *     memory it reaches both. The parent's writes after the fork reach the IOAS either way.
 *   dontneed: private memory (anon, THP, hugetlb) refaults a new zeroed page (madvise(2)); the
 *     IOAS keeps the old page with the old bytes, and the two no longer see each other's
 *     writes. Shared memory refaults the same page-cache page: still coherent.
 *   pageout: a pinned folio is not reclaimed (shrink_folio_list(): folio_maybe_dma_pinned());
 *     the process's page is the pinned one (same PFN), still coherent. The witness must go.
 *   migrate: move_pages() cannot move a pinned page (its references are more than its
 *     mappings explain); the witness must move; still coherent.
 *   munmap: the IOAS keeps the pages after the process unmapped them; for shared memory they
 *     are still the file's pages, so what the IOAS writes shows in the file (pread).
 *   remote: the range is mapped without a domain, and a forked child pins it, the parent's
 *     mm, not its own (pfn_reader_user_pin(): pin_user_pages_remote()): domain, by attaching
 *     the mock domain; access, by ACCESS_PAGES. The child exits; the parent's pages (COW
 *     broken in the parent's favour by the FOLL_WRITE pin) are what the IOAS holds, coherent.
 * none also reads and writes one page (a one-page slow ACCESS_RW pins the process's page of
 *   the moment: iopt_pages_rw_page()) and reads the pin count of each small page
 *   (IOMMU_TEST_OP_MD_CHECK_REFS: refcount / GUP_PIN_COUNTING_BIAS is 1); every cell reads it
 *   again after IOAS_UNMAP: 0.
 * Error paths: a hole or a PROT_NONE page part way through the range (IOAS_MAP with a domain,
 *   ACCESS_PAGES and ACCESS_RW without one must fail EFAULT and give back what they pinned,
 *   and a good map afterwards must work); IOAS_UNMAP of part of a mapped area (must fail
 *   ENOENT: "Splitting or truncating ranges is not allowed", uapi iommufd.h, and the map stays
 *   whole and coherent); closing the fds without unmapping (everything unpinned).
 * ext4 MAP_SHARED: a writable long-term pin of a file that needs dirty tracking is refused by
 *   design (mm/gup.c writable_file_mapping_allowed()): IOAS_MAP WRITEABLE with a domain, and
 *   ACCESS_PAGES with MOCK_FLAGS_ACCESS_WRITE, must fail EFAULT; its cells then map READABLE
 *   only, and an ACCESS_RW write must fail EPERM.
 * After each cell the FOLL_PIN counters are back (pins_back() waits up to 5 s) and no page of
 * the region is still held (pages_held(); not hugetlb, whose pages need per-node pools to move,
 * nor the unmapped half of a munmap cell).
 *
 * iommufd/<memory>/overlap-<holder>-<event> (ov_cells(), run after them): one pinned range, two
 * IOASes holding overlapping parts of it (IOAS_COPY), one unmapped or detached in pieces while the
 * other holds: the exact change of the FOLL_PIN pins held and each small page's pins after every step.
 *
 * iommufd-dirty/<memory>/<shape> (iodirty_cells(), below): IOMMU_HWPT_GET_DIRTY_BITMAP writes
 * the dirty bits of a mock domain into a user bitmap through pins of it (iova_bitmap.c).
 */
#include <linux/iommufd.h>
#include "drivers/iommu/iommufd/iommufd_test.h"  /* the tree's own, from $BENCH_SRC */

enum iway { IW_DOMAIN, IW_ACCESS, NIW };
static const char *const iw_names[NIW] = {"domain", "access"};
enum iev { IE_NONE, IE_FORK, IE_DONTNEED, IE_PAGEOUT, IE_MIGRATE, IE_MUNMAP, IE_REMOTE, IE_HOLE, IE_PROTNONE,
	   IE_UNMAPPART, IE_CLOSE, NIE };
static const char *const ie_names[NIE] = {"none", "fork", "dontneed", "pageout", "migrate", "munmap", "remote",
					  "hole", "prot-none", "unmap-part", "close"};

/* The default set's cells (guest time in docs/matrix.md); the rest run in pin-matrix-deep. */
static const char *const iommufd_quick[] = {
	"iommufd/anon/domain-none", "iommufd/anon/access-none", "iommufd/anon/domain-fork",
	"iommufd/anon/domain-dontneed", "iommufd/shmem/access-dontneed", "iommufd/anon/domain-hole",
	"iommufd/anon/access-prot-none", "iommufd/anon/domain-close", "iommufd/ext4-shared/domain-none",
	"iommufd/anon/access-hole", "iommufd/anon/domain-pageout", "iommufd/anon/access-migrate",
	"iommufd/anon/domain-unmap-part", "iommufd/shmem/domain-munmap", "iommufd/thp/domain-fork",
	"iommufd/hugetlb/domain-dontneed", "iommufd/anon/domain-remote", "iommufd/anon/access-remote",
};

static int iommufd_wanted(const char *name) { return BLOCK_WANTED(name, iommufd_quick); }

struct iofd {
	int fd, afd;        /* /dev/iommu; the test access (its fd is its id) */
	uint32_t ioas, hwpt;
	uint64_t iova;
	size_t len;         /* mapped at iova, from the process's c->map */
	int mapped, held;   /* IOAS_MAP done; ACCESS_PAGES holds the range (access way) */
	int writable;       /* not for ext4 MAP_SHARED: a writable long-term pin is refused */
	int way;
};

static int io_test(struct iofd *s, struct iommu_test_cmd *cmd)
{
	cmd->size = sizeof(*cmd);
	return ioctl(s->fd, IOMMU_TEST_CMD, cmd) ? -errno : 0;
}

/* A set-up test command: an unknown one means a kernel without IOMMUFD_TEST (a missing entry,
 * failed when the kernel says it has it), any other error fails the cell; -1 either way. */
static int io_test_setup(struct cell *c, struct iofd *s, struct iommu_test_cmd *cmd, const char *what)
{
	int r = io_test(s, cmd);

	if (r == -ENOTTY)
		kentry_missing(c, "iommufd", "IOMMU_TEST_CMD not known (CONFIG_IOMMUFD_TEST)");
	else if (r)
		cfail(c, "%s: %s", what, strerror(-r));
	return r ? -1 : 0;
}

/* IOAS_MAP of [p, p + len) at a kernel-chosen IOVA (fixed: at that one); 0 or -errno */
static int io_map_at(struct iofd *s, char *p, size_t len, int writable, uint64_t fixed)
{
	struct iommu_ioas_map m = {.size = sizeof(m), .ioas_id = s->ioas, .user_va = (uintptr_t)p, .length = len,
				   .flags = IOMMU_IOAS_MAP_READABLE | (writable ? IOMMU_IOAS_MAP_WRITEABLE : 0) |
					    (fixed ? IOMMU_IOAS_MAP_FIXED_IOVA : 0),
				   .iova = fixed};

	if (ioctl(s->fd, IOMMU_IOAS_MAP, &m))
		return -errno;
	s->iova = m.iova;
	s->len = len;
	s->mapped = 1;
	return 0;
}

static int io_map(struct iofd *s, char *p, size_t len, int writable) { return io_map_at(s, p, len, writable, 0); }

/* IOAS_UNMAP of [iova, iova + len); 0 (and the bytes unmapped) or -errno */
static int io_unmap(struct iofd *s, uint64_t iova, uint64_t len, uint64_t *done)
{
	struct iommu_ioas_unmap u = {.size = sizeof(u), .ioas_id = s->ioas, .iova = iova, .length = len};

	if (ioctl(s->fd, IOMMU_IOAS_UNMAP, &u))
		return -errno;
	if (done)
		*done = u.length;
	return 0;
}

/* IOMMU_TEST_OP_ACCESS_PAGES: the access pins [iova, iova + len); the kernel checks that the
 * pinned pages are the ones the process maps at p (iommufd_test_check_pages(): -EBADE) */
static int io_pages(struct iofd *s, uint64_t iova, size_t len, char *p, int write)
{
	struct iommu_test_cmd cmd = {.op = IOMMU_TEST_OP_ACCESS_PAGES, .id = (uint32_t)s->afd,
				     .access_pages = {.iova = iova, .length = len, .uptr = (uintptr_t)p,
						      .flags = write ? MOCK_FLAGS_ACCESS_WRITE : 0}};

	return io_test(s, &cmd);
}

/* IOMMU_TEST_OP_ACCESS_RW, slow path: what the IOAS maps, not what the process maps now */
static int io_rw(struct iofd *s, uint64_t iova, char *buf, size_t len, int write)
{
	struct iommu_test_cmd cmd = {.op = IOMMU_TEST_OP_ACCESS_RW, .id = (uint32_t)s->afd,
				     .access_rw = {.iova = iova, .length = len, .uptr = (uintptr_t)buf,
						   .flags = MOCK_ACCESS_RW_SLOW_PATH | (write ? MOCK_ACCESS_RW_WRITE : 0)}};

	return io_test(s, &cmd);
}

/* IOMMU_TEST_OP_MD_CHECK_MAP: the mock domain maps, at iova, the pages the process maps at p */
static int io_check_map(struct iofd *s, char *p, size_t len)
{
	struct iommu_test_cmd cmd = {.op = IOMMU_TEST_OP_MD_CHECK_MAP, .id = s->hwpt,
				     .check_map = {.iova = s->iova, .length = len, .uptr = (uintptr_t)p}};

	return io_test(s, &cmd);
}

/* IOMMU_TEST_OP_MD_CHECK_REFS: each small page of [p, p + len) has refs FOLL_PIN pins
 * (page_ref_count() / GUP_PIN_COUNTING_BIAS; the kernel skips compound pages) */
static int io_check_refs(struct iofd *s, char *p, size_t len, unsigned refs)
{
	struct iommu_test_cmd cmd = {.op = IOMMU_TEST_OP_MD_CHECK_REFS,
				     .check_refs = {.length = len, .uptr = (uintptr_t)p, .refs = refs}};

	return io_test(s, &cmd);
}

static void io_close(struct iofd *s)
{
	if (s->afd >= 0)
		close(s->afd);
	if (s->fd >= 0)
		close(s->fd);
	s->afd = s->fd = -1;
}

/* /dev/iommu, an IOAS, for the domain way a mock domain on it, and a test access on it */
static int io_open(struct cell *c, struct iofd *s, enum iway w, int attach)
{
	struct iommu_ioas_alloc a = {.size = sizeof(a)};
	struct iommu_test_cmd cmd = {0};

	s->afd = -1;
	s->way = w;
	s->fd = open("/dev/iommu", O_RDWR);
	if (s->fd < 0) {
		kentry_missing(c, "iommufd", errno == ENOENT ? "no /dev/iommu (CONFIG_IOMMUFD)" : "cannot open /dev/iommu");
		return -1;
	}
	if (ioctl(s->fd, IOMMU_IOAS_ALLOC, &a)) {
		cfail(c, "IOMMU_IOAS_ALLOC: %s", strerror(errno));
		return -1;
	}
	s->ioas = a.out_ioas_id;
	if (w == IW_DOMAIN && attach) {
		cmd.op = IOMMU_TEST_OP_MOCK_DOMAIN;
		cmd.id = s->ioas;
		if (io_test_setup(c, s, &cmd, "IOMMU_TEST_OP_MOCK_DOMAIN"))
			return -1;
		s->hwpt = cmd.mock_domain.out_hwpt_id;
	}
	memset(&cmd, 0, sizeof(cmd));
	cmd.op = IOMMU_TEST_OP_CREATE_ACCESS;
	cmd.id = s->ioas;
	cmd.create_access.flags = w == IW_ACCESS ? MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES : 0;
	if (io_test_setup(c, s, &cmd, "IOMMU_TEST_OP_CREATE_ACCESS"))
		return -1;
	s->afd = (int)cmd.create_access.out_access_fd;
	return 0;
}

/* The range [p, p + len) pinned and held the cell's way: IOAS_MAP (domain: pins), then for the
 * access way ACCESS_PAGES (pins). The counters must show the pins where the way makes them. */
static int io_hold(struct cell *c, struct iofd *s, char *p, size_t len)
{
	long a0, r0, a1, r1, a2, r2, npages = (long)(len / PAGE);
	int r;

	pin_counts(&a0, &r0);
	if ((r = io_map(s, p, len, s->writable))) {
		cfail(c, "IOMMU_IOAS_MAP of the %s range (%zu bytes): %s", mem_names[c->mem], len, strerror(-r));
		return -1;
	}
	pin_counts(&a1, &r1);
	if (s->way == IW_DOMAIN) {
		if (a1 - a0 < npages) {
			cfail(c, "IOMMU_IOAS_MAP with a domain pinned %ld of %ld pages (FOLL_PIN acquired)", a1 - a0, npages);
			return -1;
		}
		printf("# %s: IOAS_MAP with a mock domain: FOLL_PIN acquired +%ld\n", c->name, a1 - a0);
		return 0;
	}
	if (a1 - a0)  /* without a domain nothing is pinned at map time (iopt_map_user_pages()) */
		printf("# %s: IOAS_MAP without a domain: FOLL_PIN acquired +%ld\n", c->name, a1 - a0);
	if ((r = io_pages(s, s->iova, len, p, s->writable))) {
		cfail(c, "IOMMU_TEST_OP_ACCESS_PAGES of the mapped range: %s", strerror(-r));
		return -1;
	}
	s->held = 1;
	pin_counts(&a2, &r2);
	if (a2 - a1 < npages) {
		cfail(c, "ACCESS_PAGES pinned %ld of %ld pages (FOLL_PIN acquired)", a2 - a1, npages);
		return -1;
	}
	printf("# %s: IOAS_MAP without a domain, then ACCESS_PAGES: FOLL_PIN acquired +%ld\n", c->name, a2 - a1);
	return 0;
}

/* What the IOAS holds over the pinned half equals want */
static int io_holds(struct cell *c, struct iofd *s, const char *want, const char *what, const char *when)
{
	char *buf = malloc(c->half);
	long d;
	int r, rc = -1;

	if ((r = io_rw(s, s->iova, buf, c->half, 0)))
		cfail(c, "%s: ACCESS_RW read of the IOAS: %s", when, strerror(-r));
	else if ((d = first_diff(buf, want, c->half)) >= 0)
		cfail(c, "%s: the IOAS does not hold %s (byte %ld)", when, what, d);
	else
		rc = 0;
	free(buf);
	return rc;
}

/* The IOAS and the process see each other's writes over the pinned half: the process writes,
 * the IOAS must read it; the IOAS writes, the process (and, for a file, pread) must read it.
 * A read-only map (ext4) must refuse the IOAS write with EPERM. */
static void io_both_ways(struct cell *c, struct iofd *s, unsigned seed, const char *when)
{
	char *buf = malloc(c->half);
	long d;
	int r;

	fill64(c->map, c->half, seed);
	memcpy(c->exp, c->map, c->half);
	if (io_holds(c, s, c->exp, "what the process wrote", when))
		goto out;
	fill64(buf, c->half, seed + 1);
	r = io_rw(s, s->iova, buf, c->half, 1);
	if (!s->writable) {
		if (r != -EPERM)
			cfail(c, "%s: ACCESS_RW write into a read-only map: %s, not EPERM", when, r ? strerror(-r) : "done");
		else if ((d = first_diff(c->map, c->exp, c->half)) >= 0)
			cfail(c, "%s: the refused ACCESS_RW write changed the process's bytes (byte %ld)", when, d);
		goto out;
	}
	if (r) {
		cfail(c, "%s: ACCESS_RW write: %s", when, strerror(-r));
		goto out;
	}
	memcpy(c->exp, buf, c->half);
	if ((d = first_diff(c->map, c->exp, c->half)) >= 0)
		cfail(c, "%s: what the IOAS wrote does not show in the process (byte %ld)", when, d);
	else if (c->fd >= 0 && (pread(c->fd, buf, c->half, 0) != (ssize_t)c->half ||
				(d = first_diff(buf, c->exp, c->half)) >= 0))
		cfail(c, "%s: pread of the %s file differs from what the IOAS wrote", when, mem_names[c->mem]);
out:
	free(buf);
}

/* One-page slow accesses (iopt_pages_rw_page(): a pin of the process's page of the moment,
 * pin_user_pages_remote()): page 1 reads what the process has, a write into page 2 shows in it */
static void io_one_page(struct cell *c, struct iofd *s)
{
	char *pg = malloc(PAGE);
	long d;
	int r;

	if ((r = io_rw(s, s->iova + PAGE, pg, PAGE, 0)))
		cfail(c, "one-page ACCESS_RW read: %s", strerror(-r));
	else if ((d = first_diff(pg, c->map + PAGE, PAGE)) >= 0)
		cfail(c, "a one-page ACCESS_RW read differs from the process's page (byte %ld)", d);
	else if (s->writable && (fill64(pg, PAGE, 90), r = io_rw(s, s->iova + 2 * PAGE, pg, PAGE, 1)))
		cfail(c, "one-page ACCESS_RW write: %s", strerror(-r));
	else if (s->writable && (d = first_diff(c->map + 2 * PAGE, pg, PAGE)) >= 0)
		cfail(c, "a one-page ACCESS_RW write does not show in the process (byte %ld)", d);
	else
		memcpy(c->exp + 2 * PAGE, c->map + 2 * PAGE, PAGE);
	free(pg);
}

/* remote: IOAS_MAP here (no domain: nothing pinned), then a forked child pins the range, which
 * is this process's mm, not the child's: the domain way attaches the mock domain there, the
 * access way takes ACCESS_PAGES (uptr 0: the kernel's check of the pages against the caller's
 * own mapping would compare the child's) */
static int io_remote(struct cell *c, struct iofd *s)
{
	long a0, r0, a1, r1, npages = (long)(c->half / PAGE);
	int pfd[2], r, got[2] = {-EIO, 0};
	pid_t pid;

	/* inside the mock domain's aperture: attaching it reserves the IOVAs outside, and an area
	 * there makes the attach fail EADDRINUSE (iopt_reserve_iova()) */
	if ((r = io_map_at(s, c->map, c->half, s->writable, s->way == IW_DOMAIN ? MOCK_APERTURE_START : 0))) {
		cfail(c, "IOMMU_IOAS_MAP without a domain: %s", strerror(-r));
		return -1;
	}
	if (pipe(pfd)) {
		cfail(c, "pipe: %s", strerror(errno));
		return -1;
	}
	pin_counts(&a0, &r0);
	pid = cell_fork();
	if (pid == 0) {
		struct iommu_test_cmd cmd = {.op = IOMMU_TEST_OP_MOCK_DOMAIN, .id = s->ioas};
		int res[2] = {0, 0};

		if (s->way == IW_DOMAIN) {
			res[0] = io_test(s, &cmd);
			res[1] = (int)cmd.mock_domain.out_hwpt_id;
		} else {
			res[0] = io_pages(s, s->iova, c->half, NULL, s->writable);
		}
		_exit(write(pfd[1], res, sizeof(res)) == sizeof(res) ? 0 : 1);
	}
	close(pfd[1]);
	if (pid < 0) {
		cfail(c, "fork: %s", strerror(errno));
		close(pfd[0]);
		return -1;
	}
	if (read(pfd[0], got, sizeof(got)) != sizeof(got))
		got[0] = -EPIPE;
	close(pfd[0]);
	wait_child(c, pid, "the child that pins");
	if (c->failed[0])
		return -1;
	if (got[0]) {
		cfail(c, "in a child, %s: %s", s->way == IW_DOMAIN ? "IOMMU_TEST_OP_MOCK_DOMAIN" : "ACCESS_PAGES",
		      strerror(-got[0]));
		return -1;
	}
	s->hwpt = (uint32_t)got[1];
	s->held = s->way == IW_ACCESS;
	pin_counts(&a1, &r1);
	printf("# %s: pinned by a child: FOLL_PIN acquired +%ld\n", c->name, a1 - a0);
	if (a1 - a0 < npages) {
		cfail(c, "the child's %s pinned %ld of %ld pages (FOLL_PIN acquired)",
		      s->way == IW_DOMAIN ? "domain attach" : "ACCESS_PAGES", a1 - a0, npages);
		return -1;
	}
	return 0;
}

/* The PFNs of the pinned half (0 where unknown), to tell a refaulted new page from the pin's */
static void pfns_of(char *p, size_t len, uint64_t *out)
{
	for (size_t i = 0; i < len / PAGE; i++)
		out[i] = pfn_of(p + i * PAGE);
}

static long pfns_changed(char *p, size_t len, const uint64_t *was)
{
	long n = 0;

	for (size_t i = 0; i < len / PAGE; i++) {
		uint64_t now = pfn_of(p + i * PAGE);

		n += was[i] && now && now != was[i];
	}
	return n;
}

/* move_pages of the region to the other node while the first half is pinned: no pinned page
 * may move (the IOAS would keep the old page), the witness must (else the cell skips) */
static void io_migrate(struct cell *c)
{
	size_t n = 2 * c->half / PAGE, hn = n / 2, unit = c->mem == THP ? HPAGE / PAGE : 1;
	void **pages = calloc(n, sizeof(void *));
	int *to = calloc(n, sizeof(int)), *was = calloc(n, sizeof(int)), *now = calloc(n, sizeof(int));
	long pinned = 0, witness = 0, first = -1;

	for (size_t i = 0; i < n; i++)
		pages[i] = c->map + i * PAGE;
	if (nodes_and_other(c, pages, n, was, to))
		goto out;
	/* each pinned unit on its own: do_pages_move() gives up on the rest of a call at the
	 * first page that cannot move */
	for (size_t i = 0; i < hn; i += unit)
		syscall(SYS_move_pages, 0, unit, pages + i, to + i, now + i, 0);
	syscall(SYS_move_pages, 0, n - hn, pages + hn, to + hn, now + hn, 0);
	if (syscall(SYS_move_pages, 0, n, pages, NULL, now, 0)) {
		cfail(c, "move_pages (read back): %s", strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (was[i] < 0 || now[i] == was[i])
			continue;
		if (i < hn && first < 0)
			first = (long)i;
		pinned += i < hn;
		witness += i >= hn;
	}
	printf("# %s: move_pages: %ld of %zu witness pages moved, %ld pinned ones\n", c->name, witness, hn, pinned);
	if (pinned)
		cfail(c, "%ld page(s) the IOAS pins migrated (first: page %ld)", pinned, first);
	else if (!witness)
		cskip(c, "move_pages moved no witness page");
out:
	free(pages);
	free(to);
	free(was);
	free(now);
}

/* The event while the IOAS holds the pinned half, and the contract it is checked against */
static void io_event(struct cell *c, struct iofd *s, enum iev e, const uint64_t *pfn)
{
	int priv = !c->shared, r;
	char *zero = calloc(1, c->half), *buf = malloc(c->half);
	long d;

	switch (e) {
	case IE_NONE:
		break;
	case IE_FORK: {
		pid_t pid = cell_fork();

		if (pid == 0) {
			/* the child sees the parent's bytes, then writes its own */
			if (first_diff(c->map, c->exp, c->half) >= 0)
				_exit(2);
			fill64(c->map, c->half, 30);
			_exit(0);
		}
		if (pid < 0) {
			cfail(c, "fork: %s", strerror(errno));
			break;
		}
		wait_child(c, pid, "fork");
		if (c->failed[0])
			break;
		if (!priv)
			fill64(c->exp, c->half, 30);  /* shared: the child's write is everyone's */
		if ((d = first_diff(c->map, c->exp, c->half)) >= 0)
			cfail(c, "after the child wrote, the parent reads other bytes (byte %ld)%s", d,
			      priv ? ": a private pinned page was not copied for the child" : "");
		else
			io_holds(c, s, c->exp, priv ? "the parent's bytes (the child wrote its copy)" : "the child's write",
				 "after the fork");
		break;
	}
	case IE_DONTNEED:
		if (madvise(c->map, c->half, MADV_DONTNEED)) {
			cfail(c, "MADV_DONTNEED: %s", strerror(errno));
			break;
		}
		if (!priv) {
			if ((d = first_diff(c->map, c->exp, c->half)) >= 0)
				cfail(c, "after MADV_DONTNEED of shared memory, the process reads other bytes (byte %ld)", d);
			else if (pfns_changed(c->map, c->half, pfn))
				cfail(c, "after MADV_DONTNEED, %ld page(s) of the shared memory refaulted to another page",
				      pfns_changed(c->map, c->half, pfn));
			break;
		}
		/* private: the process has new zeroed pages, the IOAS the old ones */
		if ((d = first_diff(c->map, zero, c->half)) >= 0) {
			cfail(c, "after MADV_DONTNEED of private memory, the process does not read zeros (byte %ld)", d);
			break;
		}
		if (io_holds(c, s, c->exp, "the old bytes", "after MADV_DONTNEED"))
			break;
		if (s->way == IW_DOMAIN && (r = io_check_map(s, c->map, c->half)) != -EINVAL)
			cfail(c, "after MADV_DONTNEED, MD_CHECK_MAP: %s, not EINVAL (the domain must keep the old pages)",
			      r ? strerror(-r) : "the domain maps the process's new pages");
		if (c->failed[0])
			break;
		fill64(c->map, c->half, 40);  /* the process's new pages: not the IOAS's */
		if (io_holds(c, s, c->exp, "the old bytes after the process wrote its new pages", "after MADV_DONTNEED"))
			break;
		fill64(buf, c->half, 41);  /* the IOAS's old pages: not the process's */
		if ((r = io_rw(s, s->iova, buf, c->half, 1))) {
			cfail(c, "after MADV_DONTNEED: ACCESS_RW write: %s", strerror(-r));
			goto done;
		}
		if (io_holds(c, s, buf, "its own write", "after MADV_DONTNEED"))
			goto done;
		fill64(zero, c->half, 40);
		if ((d = first_diff(c->map, zero, c->half)) >= 0)
			cfail(c, "after MADV_DONTNEED, the IOAS's write shows in the process's new pages (byte %ld)", d);
		goto done;  /* the two no longer share pages: no both-ways check */
	case IE_PAGEOUT: {
		int out = 0;

		/* dirty file pages are not written back by MADV_PAGEOUT's reclaim: clean them first */
		if (c->mem == FILESH && msync(c->map, 2 * c->half, MS_SYNC))
			cfail(c, "msync: %s", strerror(errno));
		if (madvise(c->map, 2 * c->half, MADV_PAGEOUT)) {
			cfail(c, "MADV_PAGEOUT: %s", strerror(errno));
			break;
		}
		out = witness_out(c);
		for (int tries = 0; tries < 2 && !out; tries++) {
			drain_lru();
			madvise(c->map + c->half, c->half, MADV_PAGEOUT);
			out = witness_out(c);
		}
		printf("# %s: MADV_PAGEOUT: %d of %zu witness pages out\n", c->name, out, c->half / PAGE);
		if (!out) {
			cskip(c, "MADV_PAGEOUT took no witness page");
			break;
		}
		if ((d = first_diff(c->map, c->exp, c->half)) >= 0)
			cfail(c, "after MADV_PAGEOUT, the pinned half reads other bytes (byte %ld)", d);
		else if (pfns_changed(c->map, c->half, pfn))
			cfail(c, "after MADV_PAGEOUT, %ld pinned page(s) came back as other pages: reclaimed under the pin",
			      pfns_changed(c->map, c->half, pfn));
		break;
	}
	case IE_MIGRATE:
		io_migrate(c);
		if (!c->failed[0] && pfns_changed(c->map, c->half, pfn))
			cfail(c, "after move_pages, %ld pinned page(s) are other pages", pfns_changed(c->map, c->half, pfn));
		break;
	case IE_MUNMAP:
		if (munmap(c->map, c->half)) {
			cfail(c, "munmap of the pinned half: %s", strerror(errno));
			break;
		}
		c->mapped = 0;
		if (io_holds(c, s, c->exp, "the bytes the process left", "after munmap"))
			break;
		if (!s->writable) {
			if ((r = io_rw(s, s->iova, buf, c->half, 1)) != -EPERM)
				cfail(c, "after munmap: ACCESS_RW write into a read-only map: %s, not EPERM",
				      r ? strerror(-r) : "done");
			goto done;
		}
		fill64(buf, c->half, 50);
		if ((r = io_rw(s, s->iova, buf, c->half, 1)))
			cfail(c, "after munmap: ACCESS_RW write: %s", strerror(-r));
		else if (!io_holds(c, s, buf, "its own write", "after munmap") && c->fd >= 0 &&
			 (pread(c->fd, zero, c->half, 0) != (ssize_t)c->half || (d = first_diff(zero, buf, c->half)) >= 0))
			cfail(c, "after munmap, pread of the %s file does not show the IOAS's write: the pinned pages left the file",
			      mem_names[c->mem]);
		goto done;
	default:
		break;
	}
	if (c->failed[0] || c->skip[0])
		goto done;
	if (io_holds(c, s, c->exp, "what the process reads", ie_names[e]))
		goto done;
	if (s->way == IW_DOMAIN && (r = io_check_map(s, c->map, c->half)))
		cfail(c, "%s: MD_CHECK_MAP: %s (the domain does not map the process's pages)", ie_names[e], strerror(-r));
	else
		io_both_ways(c, s, 60 + e, ie_names[e]);
	if (e == IE_NONE && !c->failed[0])
		io_one_page(c, s);
	if (e == IE_NONE && !c->failed[0] && (r = io_check_refs(s, c->map, c->half, 1)))
		cfail(c, "MD_CHECK_REFS: %s (a small page of the range is not pinned exactly once)", strerror(-r));
done:
	free(zero);
	free(buf);
}

/* a hole or a PROT_NONE page part way: the pin must fail EFAULT and give back what it took;
 * then the good first half maps, pins and is coherent (nothing was left behind) */
static void io_fault(struct cell *c, struct iofd *s, enum iev e)
{
	size_t unit = c->mem == HUGE ? HPAGE : PAGE, len = 2 * c->half;
	char *bad = c->map + c->half;  /* the witness half's first page (or huge page) */
	long start = pins_outstanding(), now;
	uint64_t done = 1;
	int r;

	if (e == IE_HOLE ? munmap(bad, unit) : mprotect(bad, unit, PROT_NONE)) {
		cfail(c, "%s: %s", e == IE_HOLE ? "munmap" : "mprotect", strerror(errno));
		return;
	}
	if (s->way == IW_DOMAIN) {
		r = io_map(s, c->map, len, s->writable);
		if (r != -EFAULT)
			cfail(c, "IOAS_MAP over a %s part way: %s, not EFAULT", ie_names[e], r ? strerror(-r) : "done");
		else if ((r = io_unmap(s, 0, UINT64_MAX, &done)) || done)
			cfail(c, "after the refused IOAS_MAP, IOAS_UNMAP of everything: %s, %llu bytes (an area was left)",
			      r ? strerror(-r) : "done", (unsigned long long)done);
		s->mapped = 0;
	} else {
		char *buf = malloc(len);

		if ((r = io_map(s, c->map, len, s->writable)))
			cfail(c, "IOAS_MAP without a domain (it pins nothing) over a %s: %s", ie_names[e], strerror(-r));
		else if ((r = io_pages(s, s->iova, len, c->map, s->writable)) != -EFAULT)
			cfail(c, "ACCESS_PAGES over a %s part way: %s, not EFAULT", ie_names[e], r ? strerror(-r) : "done");
		else if ((now = pins_settle(start)) != start)
			cfail(c, "the refused ACCESS_PAGES left FOLL_PIN outstanding %+ld", now - start);
		else if ((r = io_rw(s, s->iova, buf, len, 0)) != -EFAULT)
			cfail(c, "ACCESS_RW read over a %s part way: %s, not EFAULT", ie_names[e], r ? strerror(-r) : "done");
		free(buf);
		if (s->mapped && (r = io_unmap(s, s->iova, len, NULL)))
			cfail(c, "IOAS_UNMAP of the range: %s", strerror(-r));
		s->mapped = 0;
	}
	if (!c->failed[0] && (now = pins_settle(start)) != start)
		cfail(c, "the refused pin left FOLL_PIN outstanding %+ld", now - start);
	if (e == IE_PROTNONE && mprotect(bad, unit, PROT_READ | PROT_WRITE))
		cfail(c, "mprotect back: %s", strerror(errno));
	if (c->failed[0] || io_hold(c, s, c->map, c->half))
		return;
	if (!io_holds(c, s, c->exp, "what the process reads", "after the refused pin"))
		io_both_ways(c, s, 70, "after the refused pin");
}

static void io_cell(struct cell *c, enum iway w, enum iev e)
{
	struct iofd s = {.fd = -1, .afd = -1};
	struct pinmark m;
	uint64_t *pfn = NULL;
	int r;

	if (mem_map(c))
		return;
	s.writable = c->mem != FILESH;
	pin_mark(&m);
	if (io_open(c, &s, w, e != IE_REMOTE))
		goto out;
	if (c->mem == FILESH && e == IE_NONE) {
		/* a writable long-term pin of ext4 MAP_SHARED must be refused */
		if (w == IW_DOMAIN) {
			r = io_map(&s, c->map, c->half, 1);
		} else if (!(r = io_map(&s, c->map, c->half, 1))) {
			r = io_pages(&s, s.iova, c->half, c->map, 1);
			io_unmap(&s, s.iova, c->half, NULL);
		}
		s.mapped = 0;
		if (r != -EFAULT)
			cfail(c, "a writable long-term pin of ext4 MAP_SHARED (%s): %s, not EFAULT",
			      w == IW_DOMAIN ? "IOAS_MAP WRITEABLE" : "ACCESS_PAGES with MOCK_FLAGS_ACCESS_WRITE",
			      r ? strerror(-r) : "done");
		else if (pins_settle(m.acq - m.rel) != m.acq - m.rel)
			cfail(c, "the refused writable pin left FOLL_PIN outstanding");
		if (c->failed[0])
			goto out;
	}
	if (e == IE_HOLE || e == IE_PROTNONE) {
		io_fault(c, &s, e);
		goto release;
	}
	if (e == IE_REMOTE) {
		if (!io_remote(c, &s) && !io_holds(c, &s, c->exp, "what the process reads", "pinned by the child"))
			io_event(c, &s, IE_NONE, NULL);  /* the parent's pages, coherent, as in none */
		goto release;
	}
	if (io_hold(c, &s, c->map, c->half))
		goto release;
	pfn = malloc(c->half / PAGE * sizeof(*pfn));
	pfns_of(c->map, c->half, pfn);
	if (io_holds(c, &s, c->exp, "what the process reads", "once pinned"))
		goto release;
	if (e == IE_UNMAPPART) {
		long before = pins_outstanding();

		r = io_unmap(&s, s.iova, c->half / 2, NULL);
		if (r != -ENOENT)
			cfail(c, "IOAS_UNMAP of half the mapped area: %s, not ENOENT", r ? strerror(-r) : "done");
		else if (pins_settle(before) != before)
			cfail(c, "the refused IOAS_UNMAP changed FOLL_PIN outstanding by %+ld", pins_outstanding() - before);
		else if (!io_holds(c, &s, c->exp, "what the process reads", "after the refused IOAS_UNMAP"))
			io_both_ways(c, &s, 80, "after the refused IOAS_UNMAP");
		goto release;
	}
	if (e == IE_CLOSE) {
		io_close(&s);  /* no IOAS_UNMAP: closing must unpin everything */
		pins_back(c, &m, "closing /dev/iommu and the access without IOAS_UNMAP");
		goto refs;
	}
	io_event(c, &s, e, pfn);
release:
	if (s.mapped && (r = io_unmap(&s, s.iova, s.len, NULL)))
		cfail(c, "IOAS_UNMAP: %s", strerror(-r));
	/* no pin left on a small page the process still maps (the first half: a hole cell's is in
	 * the second) */
	if (s.fd >= 0 && c->mapped && !c->failed[0] && (r = io_check_refs(&s, c->map, c->half, 0)))
		cfail(c, "after IOAS_UNMAP, MD_CHECK_REFS 0: %s (a page of the range is still pinned)", strerror(-r));
	io_close(&s);
	pins_back(c, &m, "IOAS_UNMAP and close");
refs:
	/* the unmapped half of a munmap cell is gone; hugetlb pages cannot move between nodes */
	if (!c->failed[0] && c->mem != HUGE)
		none_held(c, e == IE_MUNMAP ? c->map + c->half : c->map, e == IE_MUNMAP ? c->half : 2 * c->half,
			  "IOAS_UNMAP and close");
out:
	io_close(&s);
	free(pfn);
}

static int io_applies(enum mem m, enum iev e)
{
	if (m == HUGE)  /* never paged out; migration needs per-node pools (not set up) */
		return e != IE_PAGEOUT && e != IE_MIGRATE;
	return 1;
}

/* -- holders that overlap: unpins in pieces while another holder covers part (ov_cells()) ----
 * iommufd/<memory>/overlap-<holder>-<event>. One iopt_pages, several holders of parts of it:
 * the region is mapped once into an IOAS S with no domain (IOAS_MAP pins nothing), and the rest
 * are IOMMU_IOAS_COPY of parts of that area (iopt_get_pages() takes any sub-range of it, the
 * tree's copy_sweep selftest copies at every 511-byte step; copies share the pages and "pin the
 * user memory only once", uapi iommufd.h):
 *   A: two mock domains (a mock device's auto domain, the storage domain of every area, then a
 *     second domain of that device: IOMMU_HWPT_ALLOC) and the region in three areas, pieces cut
 *     unaligned to any folio (601/1024 and 777/1024 of the region): each copy pins its piece;
 *   B, the other holder, over two middle ranges (301-499 and 651-899 of 1024, crossing A's cuts
 *     differently: the first inside A's first piece, the second across the cut between the
 *     second and third): domain, B's own mock domain maps copies of them; access, B has no
 *     domain and a test access pins them (IOMMU_TEST_OP_ACCESS_PAGES). Neither pins anew: the
 *     PFNs come from A's domain (pfn_reader_fill_span(), iopt_pages_fill_xarray()). The access
 *     is on B because an IOAS_UNMAP of A first makes A's own accesses let go (the mock access's
 *     unmap callback, iommufd_access_notify_unmap()); the pages hold it all the same.
 * Events:
 *   unmap: IOAS_UNMAP of A's pieces in turn (iommufd unmaps whole areas only): each unfills the
 *     storage domain (iopt_area_unfill_domains() -> __iopt_area_unfill_domain()) while B covers
 *     part: the first piece is hole, B, hole; the second ends in B; the third starts in it;
 *   detach: A's mock device destroyed (its domain, the storage one: iopt_unfill_domain() hands
 *     the storage to the other domain and unpins nothing), then the second domain destroyed (the
 *     last: every area unfilled at once while B covers part); then IOAS_UNMAP of the pieces,
 *     which pins and unpins nothing.
 * Then B lets go (domain: IOAS_UNMAP of its ranges; access: IOMMU_TEST_OP_DESTROY_ACCESS_PAGES,
 * then IOAS_UNMAP) and S is unmapped.
 * Why it matters: the unfill unmaps a domain only at a break in the PFNs, so a hole followed by
 * B is read on past its end to the end of the contiguous run, all of it unmapped, the hole's
 * part unpinned, and the rest carried over B's part into the next hole (pages.c
 * iopt_area_unpin_domain(), batch_clear_carry(), batch_skip_carry()). Which pages go depends on
 * that carry. A page unpinned in place of another of the same folio changes no count (pins are
 * the folio's), so a wrong carry shows on small folios, or where a run crosses into a
 * physically adjacent large folio. Memory: anon (small pages, PFNs as they come), thp-split
 * (two THPs split into order-0 pages by /sys/kernel/debug/split_huge_pages: small folios in
 * physical runs of 512 or more, a wrong page seen on its own; premises: the split, and
 * contiguous PFNs across a holder's edge inside a piece, else SKIP),
 * thp (two PMD THPs, kpageflags, else SKIP; a run crosses folios only if they are physically
 * adjacent), hugetlb (two 2 MiB pages, else SKIP). Each cell prints its PFN runs and how many
 * holder edges inside a piece have contiguous PFNs across them (a carry).
 * Checked after every step (the model: a page is pinned once while A has a domain and its
 * piece is mapped, or B holds it):
 *   - the pins held (FOLL_PIN acquired - released) moved by exactly the model's change: +|piece|
 *     at each copy into A, +0 for B's copies and ACCESS_PAGES, -(the pages no holder still
 *     covers) at each unmap or detach, +0 at the storage hand-over (each counter alone is not
 *     checked: in the whole default set a copy once pinned a piece twice and released one set);
 *   - small pages (anon, thp-split): MD_CHECK_REFS, each page's pin count is the model's, range by
 *     range (the kernel skips compound pages);
 *   - every domain still there maps the process's pages (MD_CHECK_MAP) over what its IOAS maps;
 *   - around every edge of every range still mapped in A or B, the process's new bytes read
 *     through that IOAS's access (ACCESS_RW slow path: the domain's or the xarray's PFNs) and
 *     the access's write reads back in the process.
 * At the end: the counters back (pins_back()), MD_CHECK_REFS 0, no page held (pages_held();
 * hugetlb: HugePages_Free back after munmap instead). */
enum ovmem { OV_ANON, OV_SPLIT, OV_THP, OV_HUGE, NOV };
static const char *const ov_mem_names[NOV] = {"anon", "thp-split", "thp", "hugetlb"};
static const enum mem ov_mems[NOV] = {ANON, THP, THP, HUGE};
enum ovhold { OH_DOMAIN, OH_ACCESS, NOH };
static const char *const oh_names[NOH] = {"domain", "access"};
enum ovev { OE_UNMAP, OE_DETACH, NOE };
static const char *const oe_names[NOE] = {"unmap", "detach"};

static const char *const ov_quick[] = {
	"iommufd/thp-split/overlap-domain-unmap", "iommufd/thp-split/overlap-access-detach",
	"iommufd/thp/overlap-access-unmap", "iommufd/hugetlb/overlap-domain-detach",
};

/* The layout, in 1024ths of the region's pages: A's three pieces, B's two ranges */
#define OV_NQ 3
#define OV_NH 2
static const unsigned ov_piece_at[OV_NQ + 1] = {0, 601, 777, 1024};
static const unsigned ov_hold_at[OV_NH][2] = {{301, 499}, {651, 899}};

struct ovst {
	int fd;
	struct iofd s, a, b;     /* the IOASes (one /dev/iommu): S the source, A two domains, B the holder */
	uint32_t stdev_a, dom2;  /* A's mock device (its auto domain is a.hwpt), A's second domain */
	int hold;                /* enum ovhold */
	size_t n;                /* pages of the region */
	size_t q[OV_NQ + 1], h[OV_NH][2];  /* A's pieces [q[k], q[k+1]), B's ranges [h[j][0], h[j][1]) */
	int doms;                /* A's domains still there: 2, 1, 0 */
	int qmapped[OV_NQ], hmapped[OV_NH], held[OV_NH];
	uint32_t item[OV_NH];    /* the access's ACCESS_PAGES ids */
	long acq, rel, model;    /* before the step */
};

/* An ioctl's error; ENOMEM from a GUP of the region is most likely a folio whose refcount is at
 * or below 0, which GUP refuses (mm/gup.c try_grab_folio(): WARN, -ENOMEM) */
static const char *ov_err(int r)
{
	return r == -ENOMEM ? "ENOMEM: GUP refuses a folio whose refcount is at or below 0, mm/gup.c try_grab_folio(), "
			      "as after more unpins than pins (or out of memory)"
			    : strerror(-r);
}

static int ov_want(const struct ovst *o, size_t i)
{
	for (int k = 0; k < OV_NQ; k++)
		if (i >= o->q[k] && i < o->q[k + 1] && o->doms && o->qmapped[k])
			return 1;
	for (int j = 0; j < OV_NH; j++)
		if (i >= o->h[j][0] && i < o->h[j][1] && (o->hold == OH_DOMAIN ? o->hmapped[j] : o->held[j]))
			return 1;
	return 0;
}

static long ov_model(const struct ovst *o)
{
	long n = 0;

	for (size_t i = 0; i < o->n; i++)
		n += ov_want(o, i);
	return n;
}

static void ov_before(struct ovst *o)
{
	o->model = ov_model(o);
	pin_counts(&o->acq, &o->rel);
}

/* After the step (its ioctl's result r): the pins held moved by what the model says. The net
 * (acquired - released), not each counter: how iommufd gets there is its own business (in the
 * whole default set, run 20261207-234757, an IOAS_COPY pinned 601 pages twice and released one
 * set: +1202, +601, where alone it took +601, +0) */
static int ov_after(struct cell *c, struct ovst *o, int r, const char *what)
{
	long a, rl, now = ov_model(o);

	pin_counts(&a, &rl);
	if (r) {
		cfail(c, "%s: %s", what, ov_err(r));
		return -1;
	}
	printf("# %s: %s: FOLL_PIN acquired +%ld, released +%ld\n", c->name, what, a - o->acq, rl - o->rel);
	if ((a - o->acq) - (rl - o->rel) != now - o->model)
		cfail(c, "%s: FOLL_PIN acquired +%ld, released +%ld: pins held %+ld, not %+ld (the pages that became or "
		      "stopped being covered by a holder)", what, a - o->acq, rl - o->rel, (a - o->acq) - (rl - o->rel),
		      now - o->model);
	return c->failed[0] ? -1 : 0;
}

static int ov_copy(struct ovst *o, struct iofd *dst, size_t from, size_t to)
{
	struct iommu_ioas_copy cp = {.size = sizeof(cp), .dst_ioas_id = dst->ioas, .src_ioas_id = o->s.ioas,
				     .flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
				     .length = (to - from) * PAGE, .dst_iova = MOCK_APERTURE_START + from * PAGE,
				     .src_iova = o->s.iova + from * PAGE};

	return ioctl(o->fd, IOMMU_IOAS_COPY, &cp) ? -errno : 0;
}

static int ov_unmap(struct iofd *s, size_t from, size_t to)
{
	uint64_t done = 0;
	int r = io_unmap(s, MOCK_APERTURE_START + from * PAGE, (to - from) * PAGE, &done);

	return r ? r : done != (to - from) * PAGE ? -EPROTO : 0;
}

static int ov_destroy(struct ovst *o, uint32_t id)
{
	struct iommu_destroy d = {.size = sizeof(d), .id = id};

	return ioctl(o->fd, IOMMU_DESTROY, &d) ? -errno : 0;
}

static int ov_access(struct cell *c, struct iofd *s, uint32_t flags)
{
	struct iommu_test_cmd cmd = {.op = IOMMU_TEST_OP_CREATE_ACCESS, .id = s->ioas, .create_access.flags = flags};

	if (io_test_setup(c, s, &cmd, "IOMMU_TEST_OP_CREATE_ACCESS"))
		return -1;
	s->afd = (int)cmd.create_access.out_access_fd;
	return 0;
}

/* /dev/iommu; S, A with its mock device, its second domain and an access for ACCESS_RW; B with
 * its mock domain (domain) or none, and an access (pinning for the access holder) */
static int ov_open(struct cell *c, struct ovst *o)
{
	struct iommu_ioas_alloc al = {.size = sizeof(al)};
	struct iommu_hwpt_alloc ha = {.size = sizeof(ha)};
	struct iommu_test_cmd cmd = {.op = IOMMU_TEST_OP_MOCK_DOMAIN};
	struct iofd *io[3] = {&o->s, &o->a, &o->b};

	o->fd = open("/dev/iommu", O_RDWR);
	if (o->fd < 0) {
		kentry_missing(c, "iommufd", errno == ENOENT ? "no /dev/iommu (CONFIG_IOMMUFD)" : "cannot open /dev/iommu");
		return -1;
	}
	for (int i = 0; i < 3; i++) {
		if (ioctl(o->fd, IOMMU_IOAS_ALLOC, &al)) {
			cfail(c, "IOMMU_IOAS_ALLOC: %s", strerror(errno));
			return -1;
		}
		*io[i] = (struct iofd){.fd = o->fd, .afd = -1, .ioas = al.out_ioas_id, .writable = 1};
	}
	cmd.id = o->a.ioas;
	if (io_test_setup(c, &o->a, &cmd, "IOMMU_TEST_OP_MOCK_DOMAIN on A"))
		return -1;
	o->stdev_a = cmd.mock_domain.out_stdev_id;
	o->a.hwpt = cmd.mock_domain.out_hwpt_id;
	ha.dev_id = cmd.mock_domain.out_idev_id;
	ha.pt_id = o->a.ioas;
	if (ioctl(o->fd, IOMMU_HWPT_ALLOC, &ha)) {
		cfail(c, "IOMMU_HWPT_ALLOC of A's second domain: %s", strerror(errno));
		return -1;
	}
	o->dom2 = ha.out_hwpt_id;
	o->doms = 2;
	if (o->hold == OH_DOMAIN) {
		memset(&cmd, 0, sizeof(cmd));
		cmd.op = IOMMU_TEST_OP_MOCK_DOMAIN;
		cmd.id = o->b.ioas;
		if (io_test_setup(c, &o->b, &cmd, "IOMMU_TEST_OP_MOCK_DOMAIN on B"))
			return -1;
		o->b.hwpt = cmd.mock_domain.out_hwpt_id;
	}
	return ov_access(c, &o->a, 0) ||
	       ov_access(c, &o->b, o->hold == OH_ACCESS ? MOCK_FLAGS_ACCESS_CREATE_NEEDS_PIN_PAGES : 0) ? -1 : 0;
}

/* Small pages: each page's pin count (MD_CHECK_REFS) is the model's, range by range */
static void ov_refs(struct cell *c, struct ovst *o, const char *when)
{
	for (size_t i = 0, j; i < o->n && !c->failed[0]; i = j) {
		int w = ov_want(o, i), r;
		size_t k = i;

		for (j = i; j < o->n && ov_want(o, j) == w; j++)
			;
		if (!(r = io_check_refs(&o->a, c->map + i * PAGE, (j - i) * PAGE, (unsigned)w)))
			continue;
		while (k < j && !io_check_refs(&o->a, c->map + k * PAGE, PAGE, (unsigned)w))
			k++;
		if (k < j)
			r = io_check_refs(&o->a, c->map + k * PAGE, PAGE, (unsigned)w);
		if (r == -EIO)
			cfail(c, "%s: MD_CHECK_REFS: page %zu has not %d pin(s) (pages %zu-%zu should have %d)", when, k, w, i,
			      j - 1, w);
		else
			cfail(c, "%s: MD_CHECK_REFS of page %zu (pages %zu-%zu should have %d pin(s)): %s", when, k, i, j - 1, w,
			      ov_err(r));
	}
}

/* Pages [at - 1, at + 1) of the range [lo, hi) that s maps from its IOVA MOCK_APERTURE_START +
 * lo pages (clipped to the range): the process's new bytes read through s's access, and the
 * access's write reads back in the process */
static void ov_window(struct cell *c, struct iofd *s, size_t lo, size_t hi, size_t at, unsigned seed, const char *when)
{
	size_t from = at > lo ? at - 1 : lo, to = from + 2 < hi ? from + 2 : hi, len = (to - from) * PAGE;
	char *p = c->map + from * PAGE, *buf = malloc(len);
	uint64_t iova = MOCK_APERTURE_START + from * PAGE;
	long d;
	int r;

	fill64(p, len, seed);
	if ((r = io_rw(s, iova, buf, len, 0)))
		cfail(c, "%s: ACCESS_RW read of pages %zu-%zu: %s", when, from, to - 1, ov_err(r));
	else if ((d = first_diff(buf, p, len)) >= 0)
		cfail(c, "%s: ACCESS_RW reads other bytes than the process at page %zu byte %ld", when, from + d / PAGE,
		      d % PAGE);
	else if (fill64(buf, len, seed + 1), (r = io_rw(s, iova, buf, len, 1)))
		cfail(c, "%s: ACCESS_RW write of pages %zu-%zu: %s", when, from, to - 1, ov_err(r));
	else if ((d = first_diff(p, buf, len)) >= 0)
		cfail(c, "%s: the access's write does not show in the process at page %zu byte %ld", when, from + d / PAGE,
		      d % PAGE);
	free(buf);
}

/* Every edge of every range of [lo, hi), and its ends */
static void ov_edges(struct cell *c, struct ovst *o, struct iofd *s, size_t lo, size_t hi, unsigned seed, const char *when)
{
	ov_window(c, s, lo, hi, lo, seed, when);
	for (int k = 1; k < OV_NQ; k++)
		if (o->q[k] > lo && o->q[k] < hi)
			ov_window(c, s, lo, hi, o->q[k], seed + 2 * k, when);
	for (int j = 0; j < OV_NH; j++)
		for (int e = 0; e < 2; e++)
			if (o->h[j][e] > lo && o->h[j][e] < hi)
				ov_window(c, s, lo, hi, o->h[j][e], seed + 10 + 2 * j + e, when);
	ov_window(c, s, lo, hi, hi - 1, seed + 20, when);
}

static void ov_map_ok(struct cell *c, struct ovst *o, uint32_t hwpt, size_t lo, size_t hi, const char *dom, const char *when)
{
	struct iommu_test_cmd cmd = {.op = IOMMU_TEST_OP_MD_CHECK_MAP, .id = hwpt,
				     .check_map = {.iova = MOCK_APERTURE_START + lo * PAGE, .length = (hi - lo) * PAGE,
						   .uptr = (uintptr_t)(c->map + lo * PAGE)}};
	int r = io_test(&o->a, &cmd);

	if (r)
		cfail(c, "%s: MD_CHECK_MAP of %s over pages %zu-%zu: %s", when, dom, lo, hi - 1,
		      r == -EINVAL ? "EINVAL (it does not map the process's pages)" : ov_err(r));
}

/* The checks after a step: pin counts of small pages, the domains' maps, the data at the edges */
static void ov_check(struct cell *c, struct ovst *o, enum ovmem m, unsigned seed, const char *when)
{
	if (m == OV_ANON || m == OV_SPLIT)
		ov_refs(c, o, when);
	for (int k = 0; k < OV_NQ && !c->failed[0]; k++) {
		if (!o->qmapped[k])
			continue;
		if (o->doms == 2)
			ov_map_ok(c, o, o->a.hwpt, o->q[k], o->q[k + 1], "A's first domain", when);
		if (o->doms)
			ov_map_ok(c, o, o->dom2, o->q[k], o->q[k + 1], "A's second domain", when);
		ov_edges(c, o, &o->a, o->q[k], o->q[k + 1], seed + 30 * k, when);
	}
	for (int j = 0; j < OV_NH && !c->failed[0]; j++) {
		if (!o->hmapped[j])
			continue;
		if (o->hold == OH_DOMAIN)
			ov_map_ok(c, o, o->b.hwpt, o->h[j][0], o->h[j][1], "B's domain", when);
		ov_edges(c, o, &o->b, o->h[j][0], o->h[j][1], seed + 100 + 30 * j, when);
	}
}

/* Two THPs split into order-0 pages (debugfs split_huge_pages, new order 0): 0, or -1 skipped */
static int ov_split(struct cell *c)
{
	char line[96];
	long left = 0;
	int fd = open("/sys/kernel/debug/split_huge_pages", O_WRONLY), n;

	if (fd < 0) {
		cskip(c, "no /sys/kernel/debug/split_huge_pages (CONFIG_DEBUG_FS, debugfs): the THPs cannot be split");
		return -1;
	}
	n = snprintf(line, sizeof(line), "%d,0x%lx,0x%lx", (int)getpid(), (unsigned long)c->map,
		     (unsigned long)(c->map + 2 * c->half));
	if (write(fd, line, n) != n)
		cfail(c, "write %s to split_huge_pages: %s", line, strerror(errno));
	close(fd);
	for (size_t i = 0; i < 2 * c->half / PAGE; i++)
		left += is_thp(c->map + i * PAGE);
	if (left && !c->failed[0])
		cskip(c, "split_huge_pages left %ld of %lu pages in THPs", left, 2 * c->half / PAGE);
	return c->failed[0] || c->skip[0] ? -1 : 0;
}

/* The PFN runs of the region, and the holder edges inside a piece of A with contiguous PFNs
 * across them: where an unfill of that piece carries */
static int ov_runs(struct cell *c, struct ovst *o)
{
	uint64_t *pfn = malloc(o->n * sizeof(*pfn));
	int runs = 1, carries = 0, edges = 0;
	size_t longest = 1, cur = 1;

	pfns_of(c->map, o->n * PAGE, pfn);
	for (size_t i = 1; i < o->n; i++) {
		cur = pfn[i] && pfn[i] == pfn[i - 1] + 1 ? cur + 1 : (runs++, 1);
		longest = cur > longest ? cur : longest;
	}
	for (int j = 0; j < OV_NH; j++) {
		size_t e = o->h[j][0];

		for (int k = 0; k < OV_NQ; k++)
			if (e > o->q[k] && e < o->q[k + 1]) {
				edges++;
				carries += pfn[e] && pfn[e] == pfn[e - 1] + 1;
			}
	}
	printf("# %s: %zu pages in %d physical run(s), the longest %zu; %d of %d hole-to-holder edges inside a piece of "
	       "A have contiguous PFNs across (a carry)\n", c->name, o->n, runs, longest, carries, edges);
	free(pfn);
	return carries;
}

static void ov_cell(struct cell *c, enum ovmem m, enum ovhold h, enum ovev e)
{
	struct ovst o = {.fd = -1, .hold = h, .s.fd = -1, .a.fd = -1, .b.fd = -1, .s.afd = -1, .a.afd = -1, .b.afd = -1};
	struct pinmark pm;
	long huge_free = m == OV_HUGE ? key_value("/proc/meminfo", "HugePages_Free:") : 0;
	char what[128];
	int r;

	c->mem = ov_mems[m];
	c->ev = NONE;
	if (mem_map(c) || (m == OV_SPLIT && ov_split(c)))
		return;
	o.n = 2 * c->half / PAGE;
	for (int k = 0; k <= OV_NQ; k++)
		o.q[k] = ov_piece_at[k] * o.n / 1024;
	for (int j = 0; j < OV_NH; j++)
		for (int x = 0; x < 2; x++)
			o.h[j][x] = ov_hold_at[j][x] * o.n / 1024;
	pin_mark(&pm);
	if (ov_open(c, &o))
		goto out;
	ov_before(&o);
	r = io_map(&o.s, c->map, o.n * PAGE, 1);
	if (ov_after(c, &o, r, "IOAS_MAP of the region into S (no domain)"))
		goto out;
	for (int k = 0; k < OV_NQ; k++) {
		ov_before(&o);
		r = ov_copy(&o, &o.a, o.q[k], o.q[k + 1]);
		o.qmapped[k] = !r;
		snprintf(what, sizeof(what), "IOAS_COPY of pages %zu-%zu into A (two domains)", o.q[k], o.q[k + 1] - 1);
		if (ov_after(c, &o, r, what))
			goto out;
	}
	for (int j = 0; j < OV_NH; j++) {
		ov_before(&o);
		r = ov_copy(&o, &o.b, o.h[j][0], o.h[j][1]);
		o.hmapped[j] = !r;
		snprintf(what, sizeof(what), "IOAS_COPY of pages %zu-%zu into B (%s)", o.h[j][0], o.h[j][1] - 1,
			 h == OH_DOMAIN ? "its mock domain" : "no domain");
		if (ov_after(c, &o, r, what))
			goto out;
		if (h == OH_ACCESS) {
			struct iommu_test_cmd cmd = {
				.op = IOMMU_TEST_OP_ACCESS_PAGES, .id = (uint32_t)o.b.afd,
				.access_pages = {.iova = MOCK_APERTURE_START + o.h[j][0] * PAGE,
						 .length = (o.h[j][1] - o.h[j][0]) * PAGE,
						 .uptr = (uintptr_t)(c->map + o.h[j][0] * PAGE), .flags = MOCK_FLAGS_ACCESS_WRITE}};

			ov_before(&o);
			r = io_test(&o.b, &cmd);
			o.held[j] = !r;
			o.item[j] = cmd.access_pages.out_access_pages_id;
			snprintf(what, sizeof(what), "ACCESS_PAGES of pages %zu-%zu on B", o.h[j][0], o.h[j][1] - 1);
			if (ov_after(c, &o, r, what))
				goto out;
		}
	}
	if (!ov_runs(c, &o) && m == OV_SPLIT) {  /* the kind's point: small folios of one run */
		cskip(c, "the split pages are not physically contiguous across any hole-to-holder edge: no carry");
		goto out;
	}
	ov_check(c, &o, m, 1000, "set up");
	if (e == OE_UNMAP) {
		for (int k = 0; k < OV_NQ && !c->failed[0]; k++) {
			ov_before(&o);
			r = ov_unmap(&o.a, o.q[k], o.q[k + 1]);
			o.qmapped[k] = !!r;
			snprintf(what, sizeof(what), "IOAS_UNMAP of A's pages %zu-%zu", o.q[k], o.q[k + 1] - 1);
			if (!ov_after(c, &o, r, what))
				ov_check(c, &o, m, 2000 + 200 * k, what);
		}
	} else {
		ov_before(&o);
		r = ov_destroy(&o, o.stdev_a);
		o.doms = r ? 2 : 1;
		if (!ov_after(c, &o, r, "A's mock device destroyed (the storage domain's; the other takes over)"))
			ov_check(c, &o, m, 2000, "the storage domain gone");
		if (!c->failed[0]) {
			ov_before(&o);
			r = ov_destroy(&o, o.dom2);
			o.doms = r ? 1 : 0;
			if (!ov_after(c, &o, r, "A's last domain destroyed"))
				ov_check(c, &o, m, 2200, "A's last domain gone");
		}
		for (int k = 0; k < OV_NQ && !c->failed[0]; k++) {
			ov_before(&o);
			r = ov_unmap(&o.a, o.q[k], o.q[k + 1]);
			o.qmapped[k] = !!r;
			snprintf(what, sizeof(what), "IOAS_UNMAP of A's pages %zu-%zu (no domain)", o.q[k], o.q[k + 1] - 1);
			ov_after(c, &o, r, what);
		}
	}
	/* B lets go */
	for (int j = 0; j < OV_NH && !c->failed[0]; j++) {
		if (h == OH_ACCESS) {
			struct iommu_test_cmd cmd = {.op = IOMMU_TEST_OP_DESTROY_ACCESS_PAGES, .id = (uint32_t)o.b.afd,
						     .destroy_access_pages = {.access_pages_id = o.item[j]}};

			ov_before(&o);
			r = io_test(&o.b, &cmd);
			o.held[j] = !!r;
			snprintf(what, sizeof(what), "the access's pages %zu-%zu unpinned", o.h[j][0], o.h[j][1] - 1);
			if (ov_after(c, &o, r, what))
				break;
			ov_check(c, &o, m, 3000 + 200 * j, what);
		}
		ov_before(&o);
		r = ov_unmap(&o.b, o.h[j][0], o.h[j][1]);
		o.hmapped[j] = !!r;
		snprintf(what, sizeof(what), "IOAS_UNMAP of B's pages %zu-%zu", o.h[j][0], o.h[j][1] - 1);
		if (!ov_after(c, &o, r, what))
			ov_check(c, &o, m, 3100 + 200 * j, what);
	}
	if (!c->failed[0]) {
		uint64_t done = 0;

		ov_before(&o);
		r = io_unmap(&o.s, o.s.iova, o.n * PAGE, &done);
		ov_after(c, &o, r ? r : done != o.n * PAGE ? -EPROTO : 0, "IOAS_UNMAP of S");
	}
	if (!c->failed[0] && (r = io_check_refs(&o.a, c->map, o.n * PAGE, 0)))
		cfail(c, "at the end, MD_CHECK_REFS 0: %s", r == -EIO ? "EIO (a small page of the region is still pinned)" : ov_err(r));
out:
	if (o.a.afd >= 0)
		close(o.a.afd);
	if (o.b.afd >= 0)
		close(o.b.afd);
	if (o.fd >= 0)
		close(o.fd);
	pins_back(c, &pm, "the holders let go and /dev/iommu closed");
	if (!c->failed[0] && m != OV_HUGE)
		none_held(c, c->map, o.n * PAGE, "the holders let go");
	if (m == OV_HUGE && c->map) {
		long now;

		munmap(c->map, 2 * c->half);
		c->map = NULL;
		now = key_value("/proc/meminfo", "HugePages_Free:");
		for (int i = 0; i < 20 && now != huge_free; i++)
			usleep(50 * 1000), now = key_value("/proc/meminfo", "HugePages_Free:");
		if (now != huge_free && !c->failed[0])
			cfail(c, "after munmap, HugePages_Free is %ld, it was %ld before the cell: a hugetlb page is still held",
			      now, huge_free);
	}
}

/* iommufd/<memory>/overlap-<holder>-<event>, after the other iommufd cells */
static void ov_cells(void)
{
	for (enum ovmem m = 0; m < NOV; m++)
		for (enum ovhold h = 0; h < NOH; h++)
			for (enum ovev e = 0; e < NOE; e++) {
				struct cell c = {.fd = -1};
				double began = now_s();

				snprintf(c.name, sizeof(c.name), "iommufd/%s/overlap-%s-%s", ov_mem_names[m], oh_names[h],
					 oe_names[e]);
				if (!BLOCK_WANTED(c.name, ov_quick) || !begins(c.name))
					continue;
				ov_cell(&c, m, h, e);
				mem_unmap(&c);
				verdict(&c, began);
			}
}

static void iommufd_cells(void)
{
	static const enum mem mems[] = {ANON, THP, SHMEM, HUGE, FILESH};

	for (size_t i = 0; i < sizeof(mems) / sizeof(mems[0]); i++)
		for (enum iway w = 0; w < NIW; w++)
			for (enum iev e = 0; e < NIE; e++) {
				struct cell c = {.fd = -1, .mem = mems[i], .ev = NONE};
				double began = now_s();

				if (!io_applies(c.mem, e))
					continue;
				snprintf(c.name, sizeof(c.name), "iommufd/%s/%s-%s", mem_names[c.mem], iw_names[w], ie_names[e]);
				if (!iommufd_wanted(c.name) || !begins(c.name))
					continue;
				if (c.mem == FILESH && !ext4_dir)
					cskip(&c, "no ext4 directory given (-d)");
				else
					io_cell(&c, w, e);
				mem_unmap(&c);
				verdict(&c, began);
			}
	ov_cells();  /* iommufd/<memory>/overlap-<holder>-<event> */
}

/* -- dirty bitmaps: IOMMU_HWPT_GET_DIRTY_BITMAP writes into the user's bitmap through pins ----
 * iommufd-dirty/<memory>/<shape>: the bitmap lies in the cell's memory; the IOVAs it reports
 * on are a separate anon buffer mapped into the IOAS. A mock domain with dirty tracking
 * (IOMMU_HWPT_ALLOC_DIRTY_TRACKING on the mock device, IOMMU_HWPT_SET_DIRTY_TRACKING) has
 * IOVAs marked dirty by IOMMU_TEST_OP_DIRTY (one bit per MOCK_IO_PAGE_SIZE, PAGE / 2); the
 * read (drivers/iommu/iommufd/io_pagetable.c iommu_read_and_clear_dirty()) walks it and
 * iova_bitmap_set() (iova_bitmap.c) ORs the bits into the user's bitmap through pages pinned a
 * window at a time (iova_bitmap_get(): pin_user_pages_fast(FOLL_WRITE), at most
 * PAGE / sizeof(struct page *) = 512 pages, 2 MiB of bitmap; kmap, bitmap_set; unpin_user_pages()).
 * Oracle: the bitmap holds its old bits OR exactly the bits of the dirty IOVAs (computed
 * here), every other byte of the memory is untouched, the call pinned at least the bitmap's
 * pages and every pin is back after it. */
#define ID_BUF (256UL << 10)  /* the IOVA buffer of the small shapes: 128 mock pages */
#define ID_MOCK (PAGE / 2)    /* MOCK_IO_PAGE_SIZE: the mock domain's dirty granule */
#define ID_OFF (PAGE + 0xff1) /* the bitmap: odd, not u64-aligned, a guard page before it */

enum dtshape { ID_READ, ID_WINDOWS, ID_FORK, ID_SWAPPED, ID_MIGRATED, ID_HOLE, ID_RO, NID };
static const char *const idt_names[NID] = {"read", "windows", "fork", "swapped", "migrated", "hole", "read-only"};
static const enum mem idt_mems[] = {ANON, THP, SHMEM, HUGE, FILESH};

static const char *const idt_quick[] = {
	"iommufd-dirty/anon/read", "iommufd-dirty/thp/windows", "iommufd-dirty/anon/fork",
	"iommufd-dirty/shmem/fork", "iommufd-dirty/anon/swapped", "iommufd-dirty/anon/migrated",
	"iommufd-dirty/anon/hole", "iommufd-dirty/anon/read-only", "iommufd-dirty/hugetlb/read",
	"iommufd-dirty/ext4-shared/read",
};

struct iodt {
	struct iofd s;       /* /dev/iommu and the IOAS; s.hwpt: the dirty-tracking domain */
	char *buf;           /* the IOVA buffer, mapped nmaps times from MOCK_APERTURE_START */
	size_t buflen;
	uint64_t len;        /* IOVA bytes the bitmap reports on */
	uint64_t pgsz;       /* one bit of the bitmap per pgsz IOVA bytes */
	unsigned char *dirty;  /* per mock page: marked dirty */
	char *bm;            /* the bitmap in the cell's memory */
	size_t bmlen;        /* its bytes */
	char *want;          /* what the whole region must hold after a read */
};

static int idt_applies(enum mem m, enum dtshape k)
{
	if (k == ID_WINDOWS)  /* 2.5 MiB of bitmap: the 4 MiB regions only */
		return m == THP || m == HUGE;
	if (m == HUGE)  /* never swapped; per-node pools not set up; no 4 KiB hole in a huge page */
		return k == ID_READ || k == ID_FORK;
	return 1;
}

/* /dev/iommu, an IOAS with a mock device (its idev), the IOVA buffer mapped nmaps times (the
 * mock domain pins it), then a dirty-tracking domain of the same device on that IOAS, tracking */
static int idt_open(struct cell *c, struct iodt *d, int nmaps)
{
	struct iommu_ioas_alloc a = {.size = sizeof(a)};
	struct iommu_test_cmd cmd = {.op = IOMMU_TEST_OP_MOCK_DOMAIN};
	struct iommu_hwpt_alloc h = {.size = sizeof(h), .flags = IOMMU_HWPT_ALLOC_DIRTY_TRACKING};
	struct iommu_hwpt_set_dirty_tracking t = {.size = sizeof(t), .flags = IOMMU_HWPT_DIRTY_TRACKING_ENABLE};
	int r;

	d->s.fd = open("/dev/iommu", O_RDWR);
	if (d->s.fd < 0) {
		kentry_missing(c, "iommufd", errno == ENOENT ? "no /dev/iommu (CONFIG_IOMMUFD)" : "cannot open /dev/iommu");
		return -1;
	}
	if (ioctl(d->s.fd, IOMMU_IOAS_ALLOC, &a)) {
		cfail(c, "IOMMU_IOAS_ALLOC: %s", strerror(errno));
		return -1;
	}
	d->s.ioas = cmd.id = a.out_ioas_id;
	if (io_test_setup(c, &d->s, &cmd, "IOMMU_TEST_OP_MOCK_DOMAIN"))
		return -1;
	for (int i = 0; i < nmaps; i++)
		if ((r = io_map_at(&d->s, d->buf, d->buflen, 1, MOCK_APERTURE_START + i * d->buflen))) {
			cfail(c, "IOAS_MAP %d of the IOVA buffer: %s", i, strerror(-r));
			return -1;
		}
	d->len = nmaps * d->buflen;
	h.dev_id = cmd.mock_domain.out_idev_id;
	h.pt_id = d->s.ioas;
	if (ioctl(d->s.fd, IOMMU_HWPT_ALLOC, &h)) {
		/* a mock device made without MOCK_FLAGS_DEVICE_NO_DIRTY tracks dirty IOVAs (6.12's
		 * selftest.c): a refusal is the kernel's failure, not a missing premise */
		cfail(c, "IOMMU_HWPT_ALLOC with DIRTY_TRACKING: %s (the mock device offers dirty tracking)",
		      strerror(errno));
		return -1;
	}
	d->s.hwpt = t.hwpt_id = h.out_hwpt_id;
	if (ioctl(d->s.fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &t)) {
		cfail(c, "IOMMU_HWPT_SET_DIRTY_TRACKING enable: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Mock pages marked dirty (IOMMU_TEST_OP_DIRTY): a spread of them, the first and the last
 * always; the domain must report it tracked each (out_nr_dirty), else the cell fails */
static int idt_mark(struct cell *c, struct iodt *d, unsigned seed)
{
	size_t n = d->len / ID_MOCK;
	uint64_t *mark = calloc((n + 63) / 64, 8);
	struct iommu_test_cmd cmd = {.op = IOMMU_TEST_OP_DIRTY, .id = d->s.hwpt,
				     .dirty = {.iova = MOCK_APERTURE_START, .length = d->len, .page_size = ID_MOCK,
					       .uptr = (uintptr_t)mark}};
	long want = 0;
	int r;

	for (size_t k = 0; k < n; k++) {
		d->dirty[k] = k == 0 || k == n - 1 || ((k * 2654435761u + seed) >> 9) % 3 == 0;
		if (d->dirty[k])
			mark[k / 64] |= 1ULL << (k % 64), want++;
	}
	r = io_test(&d->s, &cmd);
	free(mark);
	if (r)
		cfail(c, "IOMMU_TEST_OP_DIRTY: %s", strerror(-r));
	else if ((long)cmd.dirty.out_nr_dirty != want)  /* every IOVA is mapped: each must be marked */
		cfail(c, "IOMMU_TEST_OP_DIRTY marked %llu of %ld mapped IOVAs dirty",
		      (unsigned long long)cmd.dirty.out_nr_dirty, want);
	return r || c->failed[0] || c->skip[0] ? -1 : 0;
}

/* want: the region as it is, with the bits of every dirty mock page ORed into the bitmap */
static void idt_expect(struct cell *c, struct iodt *d)
{
	char *wb = d->want + (d->bm - c->map);

	memcpy(d->want, c->map, 2 * c->half);
	for (size_t k = 0; k < d->len / ID_MOCK; k++)
		if (d->dirty[k] && ID_MOCK / d->pgsz % 8 == 0)  /* whole bytes */
			memset(wb + k * ID_MOCK / d->pgsz / 8, 0xff, ID_MOCK / d->pgsz / 8);
		else if (d->dirty[k])
			for (uint64_t b = k * ID_MOCK / d->pgsz; b <= (k * ID_MOCK + ID_MOCK - 1) / d->pgsz; b++)
				wb[b / 8] |= (char)(1 << (b % 8));
}

/* IOMMU_HWPT_GET_DIRTY_BITMAP over the whole range into d->bm: 0 or -errno; *pinned: the
 * FOLL_PIN pins it took (all must be back) */
static int idt_get(struct cell *c, struct iodt *d, uint32_t flags, long *pinned)
{
	struct iommu_hwpt_get_dirty_bitmap g = {.size = sizeof(g), .hwpt_id = d->s.hwpt, .flags = flags,
						.iova = MOCK_APERTURE_START, .length = d->len, .page_size = d->pgsz,
						.data = (uintptr_t)d->bm};
	long a0, r0, a1, r1, start = pins_outstanding(), now;
	int r;

	pin_counts(&a0, &r0);
	r = ioctl(d->s.fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &g) ? -errno : 0;
	pin_counts(&a1, &r1);
	*pinned = a1 - a0;
	if ((now = pins_settle(start)) != start)
		cfail(c, "GET_DIRTY_BITMAP left FOLL_PIN outstanding %+ld (acquired +%ld, released +%ld): the bitmap's "
		      "pages %s", now - start, a1 - a0, r1 - r0, now > start ? "stay pinned" : "unpinned more than pinned");
	return r;
}

/* The pages the bitmap spans */
static long idt_span(struct iodt *d)
{
	return (long)(((uintptr_t)d->bm + d->bmlen - 1) / PAGE - (uintptr_t)d->bm / PAGE + 1);
}

/* The region against want: the bitmap's bits exact, nothing else written */
static int idt_check(struct cell *c, struct iodt *d, const char *when)
{
	long off = first_diff(c->map, d->want, 2 * c->half), b = off - (d->bm - c->map);

	if (off < 0)
		return 0;
	if (b >= 0 && b < (long)d->bmlen)
		cfail(c, "%s: bitmap byte %ld (IOVA bits %ld-%ld) is 0x%02x, not 0x%02x", when, b, b * 8, b * 8 + 7,
		      (unsigned char)c->map[off], (unsigned char)d->want[off]);
	else
		cfail(c, "%s: byte %ld of the memory, %s the bitmap, was written", when, b < 0 ? -b : b - (long)d->bmlen,
		      b < 0 ? "before" : "after");
	return -1;
}

/* the read with the bitmap's pages as the shape left them; ret must be 0, the bits exact */
static int idt_read(struct cell *c, struct iodt *d, uint32_t flags, const char *when)
{
	long pinned, span = idt_span(d);
	int r;

	idt_expect(c, d);
	r = idt_get(c, d, flags, &pinned);
	if (c->failed[0])
		return -1;
	if (r) {
		cfail(c, "%s: IOMMU_HWPT_GET_DIRTY_BITMAP: %s", when, strerror(-r));
		return -1;
	}
	if (pinned < span && memchr(d->dirty, 1, d->len / ID_MOCK)) {  /* nothing dirty: nothing to pin */
		cfail(c, "%s: GET_DIRTY_BITMAP pinned %ld pages, the bitmap spans %ld", when, pinned, span);
		return -1;
	}
	printf("# %s: %s: %zu bitmap bytes over %ld pages, FOLL_PIN +%ld\n", c->name, when, d->bmlen, span, pinned);
	return idt_check(c, d, when);
}

/* The file under ext4 MAP_SHARED on disk (msync, fsync, drop_caches, O_DIRECT) holds want */
static void idt_disk(struct cell *c, struct iodt *d)
{
	size_t len = 2 * c->half;
	char *buf = NULL;
	int fd;
	long off;

	if (msync(c->map, len, MS_SYNC) || fsync(c->fd) || !drop_caches()) {
		cfail(c, "msync/fsync/drop_caches: %s", strerror(errno));
		return;
	}
	fd = open(c->path, O_RDONLY | O_DIRECT);
	if (fd < 0 || posix_memalign((void **)&buf, PAGE, len) || pread(fd, buf, len, 0) != (ssize_t)len)
		cfail(c, "O_DIRECT read of %s: %s", c->path, strerror(errno));
	else if ((off = first_diff(buf, d->want, len)) >= 0)
		cfail(c, "on disk, byte %ld of the file (bitmap byte %ld) is not what GET_DIRTY_BITMAP wrote into the "
		      "mapping: the write through the pin did not dirty the page", off, off - (long)(d->bm - c->map));
	free(buf);
	if (fd >= 0)
		close(fd);
}

/* The bitmap's pages out of memory (anon, THP: swapped; shmem, ext4: not resident), n of span */
static long idt_out(struct cell *c, struct iodt *d)
{
	char *p0 = (char *)((uintptr_t)d->bm & ~(PAGE - 1));
	unsigned char vec[1];
	long n = 0;

	for (long i = 0; i < idt_span(d); i++)
		n += c->shared ? !mincore(p0 + i * PAGE, PAGE, vec) && !(vec[0] & 1) : !!(pagemap(p0 + i * PAGE) & PM_SWAP);
	return n;
}

/* Before the read: the bitmap's pages swapped out, or migrated to the other node (premise:
 * every one of them, else SKIP) */
static int idt_move(struct cell *c, struct iodt *d, enum dtshape k)
{
	char *p0 = (char *)((uintptr_t)d->bm & ~(PAGE - 1));
	long span = idt_span(d), n = 0;

	if (k == ID_SWAPPED) {
		if (c->mem == FILESH && msync(c->map, 2 * c->half, MS_SYNC))
			cfail(c, "msync: %s", strerror(errno));
		for (int tries = 0; tries < 3 && !c->failed[0] && (n = idt_out(c, d)) < span; tries++) {
			if (tries)
				drain_lru();
			madvise(p0, span * PAGE, MADV_PAGEOUT);
		}
		printf("# %s: MADV_PAGEOUT: %ld of %ld bitmap pages out\n", c->name, n, span);
		if (n < span && !c->failed[0])
			cskip(c, "MADV_PAGEOUT took %ld of the bitmap's %ld pages", n, span);
	} else {
		void *pages[8];
		int was[8], to[8], now[8];

		for (long i = 0; i < span; i++)
			pages[i] = p0 + i * PAGE;
		if (nodes_and_other(c, pages, span, was, to))
			return -1;
		syscall(SYS_move_pages, 0, span, pages, to, now, 0);
		syscall(SYS_move_pages, 0, span, pages, NULL, now, 0);
		for (long i = 0; i < span; i++)
			n += now[i] == to[i];
		printf("# %s: move_pages: %ld of %ld bitmap pages on the other node\n", c->name, n, span);
		if (n < span)
			cskip(c, "move_pages moved %ld of the bitmap's %ld pages", n, span);
	}
	return c->failed[0] || c->skip[0] ? -1 : 0;
}

/* The bitmap's page COW-shared with a child: the write through the pin must land in the
 * caller's copy only (private) or in the one page both see (shared) */
static void idt_fork(struct cell *c, struct iodt *d)
{
	int go[2], rc;
	pid_t pid;
	char *was = malloc(d->bmlen), x = 0;

	memcpy(was, d->bm, d->bmlen);
	idt_expect(c, d);  /* the child's copy of want: what the shared page must hold */
	if (pipe(go)) {
		cfail(c, "pipe: %s", strerror(errno));
		free(was);
		return;
	}
	pid = cell_fork();
	if (pid == 0) {
		/* the child's view of the bitmap once the parent read into it (its own copy of the
		 * write end closed: a parent that dies is an EOF) */
		close(go[1]);
		if (read(go[0], &x, 1) != 1)
			_exit(4);
		_exit(first_diff(d->bm, x == 'p' ? was : d->want + (d->bm - c->map), d->bmlen) >= 0 ? 3 : 0);
	}
	if (pid < 0) {
		cfail(c, "fork: %s", strerror(errno));
	} else {
		idt_read(c, d, 0, "the bitmap COW-shared with a child");
		x = c->shared ? 's' : 'p';
		if (write(go[1], &x, 1) != 1)
			cfail(c, "pipe write: %s", strerror(errno));
		if (waitpid(pid, &rc, 0) != pid || !WIFEXITED(rc) || (WEXITSTATUS(rc) && WEXITSTATUS(rc) != 3))
			cfail(c, "the child ended with status 0x%x", rc);
		else if (WEXITSTATUS(rc) == 3)
			cfail(c, c->shared ? "the child does not see the bits written into the shared bitmap"
					   : "the bits written through the parent's pin show in the child's copy of the bitmap");
	}
	close(go[0]);
	close(go[1]);
	free(was);
}

/* The bitmap's middle page unmapped or read-only: FOLL_WRITE cannot pin it. The read may fail
 * EFAULT (then the page after it may be left as it was). 6.12 returns 0: iova_bitmap_set()
 * returns without an error when it cannot pin the window of a range (iova_bitmap_advance_to()
 * fails), so the bits of every dirty range that touches the bad page are lost, whole or from
 * the bad page on, and the next range past it pins a window of its own. So each byte of the
 * pages around the bad one must hold its bits, or, for a range touching the bad page, its old
 * value; a read-only page must keep every byte. */
static void idt_bad(struct cell *c, struct iodt *d, enum dtshape k)
{
	char *p0 = (char *)((uintptr_t)d->bm & ~(PAGE - 1)), *bad = p0 + PAGE, *last = p0 + 2 * PAGE;
	size_t len = 2 * c->half, lo = bad - c->map, hi = lo + PAGE, bo = d->bm - c->map, per = ID_MOCK / d->pgsz / 8;
	char *orig = malloc(len), *full = malloc(len);
	long pinned;
	int r;

	idt_expect(c, d);  /* while every page is there to copy */
	memcpy(orig, c->map, len);
	memcpy(full, d->want, len);
	for (size_t m = 0; m < d->len / ID_MOCK; m++)  /* want: the ranges touching the bad page lost */
		if (d->dirty[m] && bo + (m + 1) * per > lo && bo + m * per < hi)
			memcpy(d->want + bo + m * per, orig + bo + m * per, per);
	if (k == ID_HOLE ? munmap(bad, PAGE) : mprotect(bad, PAGE, PROT_READ)) {
		cfail(c, "%s of the bitmap's second page: %s", k == ID_HOLE ? "munmap" : "mprotect", strerror(errno));
		goto out;
	}
	r = idt_get(c, d, 0, &pinned);
	printf("# %s: GET_DIRTY_BITMAP with the bitmap's second page %s: %s, FOLL_PIN +%ld\n", c->name,
	       k == ID_HOLE ? "unmapped" : "read-only", r ? strerror(-r) : "0", pinned);
	if (c->failed[0])
		goto out;
	if (r && r != -EFAULT) {
		cfail(c, "GET_DIRTY_BITMAP over a %s bitmap page: %s, not 0 or EFAULT", idt_names[k], strerror(-r));
		goto out;
	}
	if (r)  /* refused: the page after the bad one may be left as it was */
		memcpy(d->want + (last - c->map), orig + (last - c->map), PAGE);
	for (size_t i = 0; i < len && !c->failed[0]; i++) {
		if (i >= lo && i < hi && k == ID_HOLE)
			continue;
		if (i >= lo && i < hi && c->map[i] != orig[i])
			cfail(c, "GET_DIRTY_BITMAP wrote byte %zu of the read-only bitmap page", i - lo);
		else if (c->map[i] != d->want[i] && c->map[i] != full[i])
			cfail(c, "around the %s bitmap page, byte %zu of the memory (bitmap byte %ld) is 0x%02x, not 0x%02x",
			      k == ID_HOLE ? "unmapped" : "read-only", i, (long)i - (long)bo, (unsigned char)c->map[i],
			      (unsigned char)full[i]);
	}
out:
	free(orig);
	free(full);
}

static void idt_cell(struct cell *c, int k)
{
	enum mem m = idt_mems[k / NID];
	enum dtshape sh = k % NID;
	struct iodt d = {.s = {.fd = -1, .afd = -1}};
	struct pinmark pm;
	int nmaps = sh == ID_WINDOWS ? 10 : 1;

	c->mem = m;
	c->ev = NONE;
	if (m == FILESH && !ext4_dir) {
		cskip(c, "no ext4 directory given (-d)");
		return;
	}
	if (mem_map(c))
		return;
	/* the IOVA buffer: 256 KiB, or for windows one THP mapped 10 times (20 MiB of IOVA at one
	 * bit a byte: 2.5 MiB of bitmap, two windows of 512 pages) */
	d.buflen = sh == ID_WINDOWS ? HPAGE : ID_BUF;
	d.buf = map_aligned(d.buflen, sh == ID_WINDOWS ? HPAGE : PAGE, sh == ID_WINDOWS ? MADV_HUGEPAGE : -1);
	if (!d.buf) {
		cfail(c, "cannot map the IOVA buffer: %s", strerror(errno));
		goto out;
	}
	memset(d.buf, 1, d.buflen);
	d.pgsz = sh == ID_WINDOWS ? 1 : 4;  /* small: 64 Ki bits, 8 KiB, three pages from ID_OFF */
	d.bm = c->map + (sh == ID_WINDOWS ? 0xff1 : ID_OFF);
	d.bmlen = nmaps * d.buflen / d.pgsz / 8;
	d.dirty = calloc(nmaps * d.buflen / ID_MOCK, 1);
	d.want = malloc(2 * c->half);
	/* old bits the read must keep: one in every seventh byte */
	for (size_t i = 0; i < d.bmlen; i++)
		d.bm[i] = i % 7 ? 0 : (char)(1 << (i % 8));
	pin_mark(&pm);
	if (idt_open(c, &d, nmaps) || idt_mark(c, &d, (unsigned)k))
		goto release;
	if (m == FILESH && msync(c->map, 2 * c->half, MS_SYNC))  /* clean: the pin's write must dirty it */
		cfail(c, "msync: %s", strerror(errno));
	switch (sh) {
	case ID_READ: {
		/* NO_CLEAR twice (the same bits each time), a clearing read, then one with nothing left */
		char *was = malloc(d.bmlen);

		memcpy(was, d.bm, d.bmlen);
		if (!idt_read(c, &d, IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR, "NO_CLEAR") &&
		    (memcpy(d.bm, was, d.bmlen), !idt_read(c, &d, IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR, "NO_CLEAR again")) &&
		    (memcpy(d.bm, was, d.bmlen), !idt_read(c, &d, 0, "read and clear"))) {
			if (m == FILESH)
				idt_disk(c, &d);
			memcpy(d.bm, was, d.bmlen);
			memset(d.dirty, 0, d.len / ID_MOCK);
			if (!c->failed[0])
				idt_read(c, &d, 0, "after the clear");
		}
		free(was);
		break;
	}
	case ID_WINDOWS:
		if (!idt_read(c, &d, 0, "2.5 MiB bitmap") && idt_span(&d) <= 512)
			cfail(c, "the bitmap spans %ld pages: one window", idt_span(&d));
		break;
	case ID_FORK:
		idt_fork(c, &d);
		break;
	case ID_SWAPPED:
	case ID_MIGRATED:
		if (!idt_move(c, &d, sh) && !idt_read(c, &d, 0, sh == ID_SWAPPED ? "swapped out" : "migrated") && m == FILESH)
			idt_disk(c, &d);
		break;
	default:
		idt_bad(c, &d, sh);
		break;
	}
release:
	if (d.s.mapped) {
		uint64_t done = 0;
		int r = io_unmap(&d.s, 0, UINT64_MAX, &done);

		if (r || done != d.len)
			cfail(c, "IOAS_UNMAP of everything: %s, %llu of %llu bytes", r ? strerror(-r) : "done",
			      (unsigned long long)done, (unsigned long long)d.len);
	}
	io_close(&d.s);
	pins_back(c, &pm, "GET_DIRTY_BITMAP, IOAS_UNMAP and close");
	if (!c->failed[0] && m != HUGE) {
		char *p0 = (char *)((uintptr_t)d.bm & ~(PAGE - 1));

		if (sh == ID_HOLE)  /* the pages around the hole */
			none_held(c, p0, PAGE, "GET_DIRTY_BITMAP"), none_held(c, p0 + 2 * PAGE, PAGE, "GET_DIRTY_BITMAP");
		else
			none_held(c, p0, idt_span(&d) * PAGE, "GET_DIRTY_BITMAP");
	}
out:
	if (d.buf)
		munmap(d.buf, d.buflen);
	free(d.dirty);
	free(d.want);
	mem_unmap(c);
}

/* iommufd-dirty/<memory>/<shape>, after the iommufd cells */
static void iodirty_cells(void)
{
	for (size_t i = 0; i < sizeof(idt_mems) / sizeof(idt_mems[0]); i++)
		for (enum dtshape k = 0; k < NID; k++) {
			struct cell c = {.fd = -1};
			double began = now_s();

			if (!idt_applies(idt_mems[i], k))
				continue;
			snprintf(c.name, sizeof(c.name), "iommufd-dirty/%s/%s", mem_names[idt_mems[i]], idt_names[k]);
			if (!BLOCK_WANTED(c.name, idt_quick) || !begins(c.name))
				continue;
			idt_cell(&c, (int)(i * NID + k));
			verdict(&c, began);
		}
}
