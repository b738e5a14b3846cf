/* uffd/<memory>/<op>: userfaultfd's fill ioctls and their refusals, on every memory kind they
 * take (mm/userfaultfd.c mfill_atomic(), mm/hugetlb.c hugetlb_mfill_atomic_pte(), mm/shmem.c
 * shmem_mfill_atomic_pte()). Each ioctl looks a folio up or allocates one (a page-cache folio
 * for shmem and shared hugetlb, found by UFFDIO_CONTINUE or added by UFFDIO_COPY) and must give
 * its reference back on every way out: the page is already mapped (EEXIST), there is no page
 * in the file to map (EFAULT), the range is not registered. Written after reading round 5's
 * hugetlb-uffd-eexist-pagecache-leak (docs/redteam.md) for its class: the refusals of every fill
 * ioctl, which nothing in the default set called (the mm selftests run uffd-stress on anonymous
 * memory and UFFDIO_MOVE's tests only).
 *
 * memory: anon (private), shmem (a memfd mapped shared), hugetlb (private, MAP_HUGETLB),
 *         hugetlb-shared (a MFD_HUGETLB memfd mapped shared); 2 pages (huge pages for hugetlb).
 * op:     copy (UFFDIO_COPY of a pattern into page 0 of a MISSING-registered range, then again
 *         onto it: EEXIST, page 0 keeps the first copy's bytes), zeropage (UFFDIO_ZEROPAGE into
 *         page 1, then again: EEXIST; not hugetlb, which refuses it), continue (shmem and shared
 *         hugetlb, MINOR-registered: page 0's bytes written through a second mapping of the
 *         file, UFFDIO_CONTINUE maps it: the bytes; again: EEXIST; page 1, never in the file:
 *         EFAULT, and it stays out of the file).
 * Checks: each ioctl's result and errno, the bytes through the registered range and through the
 * file, and after the range and the file are gone, no hugetlb page still in use (free_hugepages
 * back where it was) and, for small pages, no page of the range held before
 * (pages_held(): a leaked reference keeps a page from migrating). Part of pin_matrix.c (struct
 * cell, cfail(), verdict(); pvm_cells.h's <linux/userfaultfd.h>).
 */
enum ufmem { UF_ANON, UF_SHMEM, UF_HUGE, UF_HUGE_SHARED, NUFMEM };
static const char *const uf_mem_names[NUFMEM] = {"anon", "shmem", "hugetlb", "hugetlb-shared"};
enum ufop { UF_COPY, UF_ZEROPAGE, UF_CONTINUE, NUFOP };
static const char *const uf_op_names[NUFOP] = {"copy", "zeropage", "continue"};

static int uffd_wanted(const char *name) { return block_wanted(name, NULL, 0); }

static int uf_applies(enum ufmem m, enum ufop op)
{
	if (op == UF_ZEROPAGE)
		return m == UF_ANON || m == UF_SHMEM;
	if (op == UF_CONTINUE)
		return m == UF_SHMEM || m == UF_HUGE_SHARED;
	return 1;
}

/* A fill ioctl that must succeed (want 0) or fail with errno want; 0 when it did */
static int uf_ioctl(struct cell *c, int uffd, unsigned long req, void *arg, int want, const char *what)
{
	int r = ioctl(uffd, req, arg), e = r ? errno : 0;

	if (e == want)
		return 0;
	cfail(c, "%s: %s, not %s", what, e ? strerror(e) : "done", want ? strerror(want) : "done");
	return -1;
}

static void uf_cell(struct cell *c, enum ufmem m, enum ufop op)
{
	int huge = m == UF_HUGE || m == UF_HUGE_SHARED, shared = m == UF_SHMEM || m == UF_HUGE_SHARED;
	size_t pg = huge ? HPAGE : PAGE, len = 2 * pg;
	struct uffdio_api api = {.api = UFFD_API,
				 .features = op == UF_CONTINUE ? (huge ? UFFD_FEATURE_MINOR_HUGETLBFS : UFFD_FEATURE_MINOR_SHMEM) : 0};
	char *map = MAP_FAILED, *other = MAP_FAILED, *src = NULL;
	long free0 = read_long(HUGE_FREE), first, held;
	int uffd = -1, fd = -1;
	char why[200];

	if (shared) {
		fd = memfd_create("uffd_cells", huge ? MFD_HUGETLB : 0);
		if (fd < 0 || ftruncate(fd, (off_t)len)) {
			if (huge)
				cskip(c, "no hugetlb memfd: %s", strerror(errno));
			else
				cfail(c, "memfd: %s", strerror(errno));
			goto out;
		}
		map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	} else {
		map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | (huge ? MAP_HUGETLB : 0), -1, 0);
	}
	if (map == MAP_FAILED) {
		if (huge)
			cskip(c, "no hugetlb pages (mmap: %s)", strerror(errno));
		else
			cfail(c, "mmap: %s", strerror(errno));
		goto out;
	}
	src = aligned_alloc(PAGE, pg);
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (!src || uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) {
		cskip(c, "userfaultfd%s: %s", op == UF_CONTINUE ? " with minor faults" : "", strerror(errno));
		goto out;
	}
	struct uffdio_register reg = {.range = {(uintptr_t)map, len},
				      .mode = op == UF_CONTINUE ? UFFDIO_REGISTER_MODE_MINOR : UFFDIO_REGISTER_MODE_MISSING};
	if (ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		cfail(c, "UFFDIO_REGISTER: %s", strerror(errno));
		goto out;
	}
	fill64(src, pg, 61);
	if (op == UF_COPY) {
		struct uffdio_copy cp = {.dst = (uintptr_t)map, .src = (uintptr_t)src, .len = pg};

		if (uf_ioctl(c, uffd, UFFDIO_COPY, &cp, 0, "UFFDIO_COPY into page 0"))
			goto out;
		fill64(src, pg, 62);
		cp.copy = 0;
		if (uf_ioctl(c, uffd, UFFDIO_COPY, &cp, EEXIST, "UFFDIO_COPY again onto page 0"))
			goto out;
		fill64(src, pg, 61);
		if ((first = first_diff(map, src, pg)) >= 0)
			cfail(c, "page 0 reads other bytes than the first UFFDIO_COPY's at byte %ld (after the refused second)",
			      first);
	} else if (op == UF_ZEROPAGE) {
		struct uffdio_zeropage z = {.range = {(uintptr_t)map + pg, pg}};

		if (uf_ioctl(c, uffd, UFFDIO_ZEROPAGE, &z, 0, "UFFDIO_ZEROPAGE of page 1"))
			goto out;
		z.zeropage = 0;
		if (uf_ioctl(c, uffd, UFFDIO_ZEROPAGE, &z, EEXIST, "UFFDIO_ZEROPAGE again onto page 1"))
			goto out;
		memset(src, 0, pg);
		if ((first = first_diff(map + pg, src, pg)) >= 0)
			cfail(c, "page 1 after UFFDIO_ZEROPAGE reads a non-zero byte at %ld", first);
	} else {
		struct uffdio_continue cn = {.range = {(uintptr_t)map, pg}};

		other = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (other == MAP_FAILED) {
			cfail(c, "a second mapping of the file: %s", strerror(errno));
			goto out;
		}
		memcpy(other, src, pg);  /* page 0 in the file's page cache, not mapped in the range */
		if (uf_ioctl(c, uffd, UFFDIO_CONTINUE, &cn, 0, "UFFDIO_CONTINUE of page 0"))
			goto out;
		if ((first = first_diff(map, src, pg)) >= 0) {
			cfail(c, "page 0 mapped by UFFDIO_CONTINUE reads other bytes than the file's at byte %ld", first);
			goto out;
		}
		cn.mapped = 0;
		if (uf_ioctl(c, uffd, UFFDIO_CONTINUE, &cn, EEXIST, "UFFDIO_CONTINUE again onto page 0"))
			goto out;
		cn = (struct uffdio_continue){.range = {(uintptr_t)map + pg, pg}};
		if (uf_ioctl(c, uffd, UFFDIO_CONTINUE, &cn, EFAULT, "UFFDIO_CONTINUE of page 1, not in the file"))
			goto out;
		memcpy(map, src, 64);  /* a write through the range reaches the file */
		if ((first = first_diff(other, src, pg)) >= 0)
			cfail(c, "the file reads other bytes than page 0 at byte %ld", first);
	}
	if (c->failed[0] || huge)
		goto out;
	ioctl(uffd, UFFDIO_UNREGISTER, &reg.range);
	if (other != MAP_FAILED) {  /* a page mapped twice by the process does not move (move_pages without MOVE_ALL) */
		munmap(other, len);
		other = MAP_FAILED;
	}
	if ((held = pages_held(map, len, 1000, &first, why, sizeof(why))) > 0)
		cfail(c, "%ld page(s) of the range still held after the refused %s (first: page %ld): a reference"
		      " the refusal kept", held, uf_op_names[op], first);
	else if (held < 0)
		cskip(c, "page-reference oracle: %s", why);
out:
	if (uffd >= 0)
		close(uffd);
	if (other != MAP_FAILED)
		munmap(other, len);
	if (map != MAP_FAILED)
		munmap(map, len);
	if (fd >= 0)
		close(fd);
	free(src);
	if (huge && !c->failed[0] && free0 >= 0 && read_long(HUGE_FREE) != free0)
		cfail(c, "%ld hugetlb page(s) still in use after the range and the file were gone (free_hugepages %ld ->"
		      " %ld): a reference a refused %s kept", free0 - read_long(HUGE_FREE), free0, read_long(HUGE_FREE),
		      uf_op_names[op]);
	else if (!c->failed[0] && !c->skip[0])
		printf("# %s: the fill, its refusal%s, the bytes%s\n", c->name, op == UF_CONTINUE ? "s (EEXIST, EFAULT)" : " (EEXIST)",
		       huge ? ", every hugetlb page given back" : ", no page held");
}

static void uffd_cells(void)
{
	for (enum ufmem m = 0; m < NUFMEM; m++)
		for (enum ufop op = 0; op < NUFOP; op++) {
			struct cell c = {.fd = -1};
			double began = now_s();

			if (!uf_applies(m, op))
				continue;
			snprintf(c.name, sizeof(c.name), "uffd/%s/%s", uf_mem_names[m], uf_op_names[op]);
			if (!uffd_wanted(c.name) || !begins(c.name))
				continue;
			uf_cell(&c, m, op);
			verdict(&c, began);
		}
}
