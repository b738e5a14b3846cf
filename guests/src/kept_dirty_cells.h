/* kept-dirty/<memory>/<move>: a page written through its mapping keeps that write across every way
 * mm moves or re-protects it, until it is written out. Where the write lives matters: a
 * swap-cache anonymous page that was swapped in by a read fault is mapped writable but clean
 * (6.12 do_swap_page() maps an exclusive swap-cache folio writable without the dirty bit), so a
 * write through it sets only the PTE's dirty bit, and the folio's PG_dirty stays clear while its
 * swap slot still holds the old bytes. Whatever takes that PTE down or rewrites it must carry the
 * dirty bit into the folio (try_to_migrate_one(), migrate_vma_collect_pmd() when a device
 * migration is undone (one that succeeds takes the page out of the swap cache, folio_free_swap(),
 * which dirties it), move_ptes(), move_present_pte() for UFFDIO_MOVE, copy_present_pte() (anon:
 * a shared file mapping without anon_vma copies no page tables at fork), change_pte_range(),
 * clear_refs' soft-dirty walk, MADV_COLD);
 * one that drops it lets reclaim free the page as clean, and the next fault reads the stale swap
 * copy back: lost data, no error, no report. Written after round 8 of docs/redteam.md (a
 * migrate_device.c bug of this class ran 18600 times unseen), for the class: no cell checked
 * data after a move AND a reclaim of the moved page.
 *
 * memory: anon (KD_PAGES private anonymous pages on the block-device swap of the swap-bdev/
 *           cells (-S: a loop device, whose swap-ins go through the swap cache, unlike zram's
 *           SWP_SYNCHRONOUS_IO path), in the -m memory cgroup: written (seed 1), paged out,
 *           swapped in by read faults, written again (seed 2)),
 *         ext4 (a file on -d mapped MAP_SHARED: written by pwrite (seed 1), fsynced, dropped
 *           from the page cache, faulted in, written through the mapping (seed 2); there the
 *           write fault marks the folio dirty, so the move must carry PG_dirty itself, and the
 *           file system's migrate_folio its buffers' dirty state: migrate and migrate-busy; the
 *           other moves leave PG_dirty alone and are near-controls there).
 * move:   none (the control: reclaim or writeback right after the write), migrate (move_pages to
 *         the other fake NUMA node), device (anon: lib/test_hmm's MIGRATE_TO_DEV and
 *         MIGRATE_TO_SYS), migrate-busy and device-busy (the same while a pipe holds a reference
 *         on every page (vmsplice): the migration fails after taking the PTEs down and must put
 *         them back with the dirty state, fd35ca3d12cc's case), mremap (to another address),
 *         uffd-move (anon: UFFDIO_MOVE into a new registered range), fork (a child that reads its copy and
 *         exits), mprotect (read-only, then writable again), soft-dirty (clear_refs 4), cold
 *         (MADV_COLD).
 * by-<writer> (anon): no move; the second write is the kernel's, through a pin of its own, into
 *         pages clean in the swap cache with clean PTEs (by-dio-read, by-pvm-writev,
 *         by-uring-fixed: kd_writer()), so the pinner's release must dirty them. by-uring-fixed
 *         is in the deep set only: 6.12 loses that write (docs/matrix.md).
 * The second write goes in two halves: clear_refs 4 between them, so the second half faults and
 * must show soft-dirty (pagemap bit 55) after the move, in its swap entries once paged out and
 * after the fault back (anon), as clear_refs' users (CRIU) rely on: a move that drops a PTE's
 * soft-dirty bit loses the record that the page changed (not for the soft-dirty move itself,
 * which clears it).
 * Checks: after the move the anon pages go out again (MADV_PAGEOUT, the swap cache emptied by
 *   memory.reclaim once writeback ended) and each must read seed 2 when faulted back: a page
 *   reading seed 1 lost its write. The ext4 file is unmapped (the zap is the last place a PTE's
 *   dirty bit may reach the folio), fsynced and dropped from the page cache, and pread must give
 *   seed 2 from disk. The # line counts the anon pages whose write lived in
 *   the PTE alone (kpageflags: in the swap cache, PG_dirty and PG_writeback clear) and what the
 *   device wrote.
 * Premises (else SKIP): every anon page went out before and after the move (pagemap), at least
 *   one page held its write in the PTE alone; the move happened (move_pages' status, the
 *   device's snapshot), or for a busy one failed for some page; the file left the page cache
 *   (mincore).
 * Part of pin_matrix.c, after swap_cells.h (sw_tgt, sw_dev_begin(), sw_settle()), nodes_and_other()
 * and hmm_cells.h (hm_cmd(), hm_on_dev()).
 */
#define KD_PAGES 16

enum kd_move { KD_NONE, KD_MIGRATE, KD_MIGRATE_BUSY, KD_DEVICE, KD_DEVICE_BUSY, KD_MREMAP, KD_UFFD_MOVE, KD_FORK,
	       KD_MPROTECT, KD_SOFTDIRTY, KD_COLD, NKD };
static const char *const kd_move_names[NKD] = {"none", "migrate", "migrate-busy", "device", "device-busy", "mremap",
					       "uffd-move", "fork", "mprotect", "soft-dirty", "cold"};
static const char *const kd_ext4[] = {"none", "migrate", "migrate-busy", "mremap", "fork", "mprotect", "soft-dirty", "cold"};

static enum kd_move kd_move_of(const char *name)
{
	enum kd_move m = 0;

	while (m < NKD && strcmp(kd_move_names[m], name))
		m++;
	return m;
}

/* move_pages of the n pages at map to the other node (three tries while none moved, or once when
 * busy: a reference holds them); how many moved, -1 with the cell failed or skipped */
static long kd_migrate(struct cell *c, char *map, size_t n, int busy)
{
	void *pages[KD_PAGES];
	int was[KD_PAGES], dest[KD_PAGES], st[KD_PAGES];
	long moved = 0;

	for (size_t i = 0; i < n; i++)
		pages[i] = map + i * PAGE;
	if (nodes_and_other(c, pages, n, was, dest))
		return -1;
	for (int t = 0; t < (busy ? 1 : 3) && !moved; t++) {
		if (t)
			drain_lru();
		/* then where each page is: a positive return (pages that did not move) leaves the
		 * status of their whole batch unwritten (6.12 move_pages_and_store_status()) */
		if (syscall(SYS_move_pages, 0, n, pages, dest, st, MPOL_MF_MOVE) < 0 ||
		    syscall(SYS_move_pages, 0, n, pages, NULL, st, 0)) {
			cfail(c, "move_pages: %s", strerror(errno));
			return -1;
		}
		for (size_t i = 0; i < n; i++)
			moved += st[i] == dest[i];
	}
	return moved;
}

/* lib/test_hmm's MIGRATE_TO_DEV of the n pages at map (four tries while none moved, or once when
 * busy), then MIGRATE_TO_SYS of what went; how many went to the device, -1 with the cell failed
 * or skipped (no device) */
static long kd_device(struct cell *c, char *map, size_t n, int busy)
{
	int fd = hm_open(c), r = 0;
	long first, on = 0;
	char *buf = malloc(n * PAGE);

	if (fd < 0 || !buf) {
		if (fd >= 0)
			close(fd);
		if (!buf)
			cfail(c, "out of memory");
		free(buf);
		return -1;
	}
	for (int t = 0; t < (busy ? 1 : 4) && on == 0 && !c->failed[0]; t++) {
		if (t)
			drain_lru();
		r = hm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_DEV, map, buf, n, NULL);
		if (r && r != -ENOENT)  /* ENOENT: the driver's read-back found a page that did not move */
			cfail(c, "HMM_DMIRROR_MIGRATE_TO_DEV: %s", strerror(-r));
		else
			on = hm_on_dev(c, fd, map, n, 1, &first);
	}
	if (on > 0 && !c->failed[0]) {
		r = hm_cmd(fd, HMM_DMIRROR_MIGRATE_TO_SYS, map, buf, n, NULL);
		if (r)
			cfail(c, "HMM_DMIRROR_MIGRATE_TO_SYS: %s", strerror(-r));
		else
			hm_expect(c, fd, map, n, 0, "after MIGRATE_TO_SYS");
	}
	close(fd);
	free(buf);
	return c->failed[0] ? -1 : on;
}

/* UFFDIO_MOVE of [*map, len) into a new MISSING-registered range (move_present_pte() builds the
 * new PTE, and must carry the dirty bit); *map is the new range after. 0, or -1 with the cell
 * skipped (no UFFD_FEATURE_MOVE) or failed. */
static int kd_uffd_move(struct cell *c, char **map, size_t len)
{
	struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_MOVE};
	char *to = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct uffdio_register reg = {.range = {(uintptr_t)to, len}, .mode = UFFDIO_REGISTER_MODE_MISSING};
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK), err = 0;
	size_t done = 0;

	if (to == MAP_FAILED) {
		cfail(c, "mmap of the destination: %s", strerror(errno));
	} else if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api)) {
		cskip(c, "userfaultfd with UFFD_FEATURE_MOVE: %s", strerror(errno));
	} else if (madvise(to, len, MADV_NOHUGEPAGE) || ioctl(uffd, UFFDIO_REGISTER, &reg)) {
		cfail(c, "UFFDIO_REGISTER (missing): %s", strerror(errno));
	} else {
		for (int t = 0; t < 4 && done < len; t++) {  /* EAGAIN: a page's lock or PTE was busy; go on from there */
			struct uffdio_move mv = {.dst = (uintptr_t)to + done, .src = (uintptr_t)*map + done, .len = len - done};
			int r = ioctl(uffd, UFFDIO_MOVE, &mv);

			err = r ? errno : 0;
			done += mv.move > 0 ? (size_t)mv.move : 0;
			if (r && err != EAGAIN)
				break;
		}
		if (done < len)
			cfail(c, "UFFDIO_MOVE of %zu bytes of exclusive swap-cache pages: %s, moved %zu", len,
			      err ? strerror(err) : "short", done);
	}
	if (!c->failed[0] && !c->skip[0]) {
		munmap(*map, len);
		*map = to;
		to = MAP_FAILED;
	}
	if (to != MAP_FAILED)
		munmap(to, len);
	if (uffd >= 0)
		close(uffd);
	return c->failed[0] || c->skip[0] ? -1 : 0;
}

/* The move itself on [*map, len); the region may move (mremap: *map updated). A busy move holds a
 * reference on every page meanwhile (vmsplice into a pipe), so that migration fails and must put
 * back the mapping it took down as it was; the pipe then reads the last write. 0, or -1 with the
 * cell skipped (the move did not happen, or a busy one did not fail) or failed. */
static int kd_move(struct cell *c, enum kd_move m, char **map, size_t len, const char *want)
{
	int busy = m == KD_MIGRATE_BUSY || m == KD_DEVICE_BUSY, p[2] = {-1, -1};
	size_t n = len / PAGE;
	long moved = 0;
	char *to;

	if (busy) {
		struct iovec v = {*map, len};

		if (pipe(p) || fcntl(p[1], F_SETPIPE_SZ, (int)len) < (int)len || vmsplice(p[1], &v, 1, 0) != (ssize_t)len) {
			cfail(c, "vmsplice of the pages into a pipe: %s", strerror(errno));
			close_pair(p);
			return -1;
		}
	}
	switch (m) {
	case KD_NONE:
		break;
	case KD_MIGRATE:
	case KD_MIGRATE_BUSY:
		if ((moved = kd_migrate(c, *map, n, busy)) == 0 && !busy)
			cskip(c, "move_pages moved none of the %zu pages to the other node in 3 tries", n);
		break;
	case KD_DEVICE:
	case KD_DEVICE_BUSY:
		if ((moved = kd_device(c, *map, n, busy)) == 0 && !busy)
			cskip(c, "MIGRATE_TO_DEV moved none of the %zu pages in 4 tries", n);
		break;
	case KD_MREMAP:
		to = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (to == MAP_FAILED || mremap(*map, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to) != to) {
			cfail(c, "mremap: %s", strerror(errno));
			if (to != MAP_FAILED)
				munmap(to, len);
		} else {
			*map = to;
		}
		break;
	case KD_UFFD_MOVE:
		kd_uffd_move(c, map, len);
		break;
	case KD_FORK: {
		int st;
		pid_t pid = cell_fork();

		if (pid == 0)  /* the child's copy reads the parent's last write */
			_exit(memcmp(*map, want, len) ? 3 : 0);
		if (pid < 0 || waitpid(pid, &st, 0) != pid)
			cfail(c, "fork: %s", strerror(errno));
		else if (!WIFEXITED(st) || WEXITSTATUS(st))
			cfail(c, "the forked child does not read the parent's last write in its copy (status %#x)", st);
		break;
	}
	case KD_MPROTECT:
		if (mprotect(*map, len, PROT_READ) || mprotect(*map, len, PROT_READ | PROT_WRITE))
			cfail(c, "mprotect: %s", strerror(errno));
		break;
	case KD_SOFTDIRTY:
		if (!write_file("/proc/self/clear_refs", "4"))
			cskip(c, "cannot write 4 to /proc/self/clear_refs (CONFIG_MEM_SOFT_DIRTY?)");
		break;
	case KD_COLD:
		if (madvise(*map, len, MADV_COLD))
			cfail(c, "MADV_COLD: %s", strerror(errno));
		break;
	default:
		cfail(c, "no such move");
	}
	if (busy && moved == (long)n && !c->failed[0])
		cskip(c, "the %s moved all %zu pages although a pipe held a reference on each", kd_move_names[m], n);
	if (busy && !c->failed[0]) {  /* what the pipe borrowed is what the process wrote */
		char *got = malloc(len);

		if (!got || read(p[0], got, len) != (ssize_t)len)
			cfail(c, "reading the pipe back: %s", got ? strerror(errno) : "out of memory");
		else if (memcmp(got, want, len))
			cfail(c, "the pipe's pages read other bytes than the process wrote (byte %ld)", first_diff(got, want, len));
		free(got);
	}
	close_pair(p);
	if (moved > 0 && !c->failed[0] && !c->skip[0])
		printf("# %s: the %s moved %ld of %zu pages\n", c->name, kd_move_names[m], moved, n);
	else if (busy && !c->failed[0] && !c->skip[0])
		printf("# %s: the %s moved %ld of %zu pages: the pipe's references held the rest\n", c->name,
		       kd_move_names[m], moved, n);
	return c->failed[0] || c->skip[0] ? -1 : 0;
}

/* Page out the anonymous range until every page is swapped (three tries); how many are */
static long kd_pageout(struct cell *c, char *map, size_t len)
{
	long out = 0;

	for (int t = 0; t < 3 && out < (long)(len / PAGE); t++) {
		if (t)
			drain_lru();
		madvise(map, len, MADV_PAGEOUT);
		sw_settle(len);
		out = pages_out(c, map, len);
	}
	return out;
}

/* Which page of [got, len) differs from want first, and whether it reads old instead: the
 * cell fails saying so; 0 when all is as wanted */
static int kd_same(struct cell *c, const char *got, const char *want, const char *old, size_t len, const char *how)
{
	for (size_t i = 0; i < len / PAGE; i++) {
		const char *g = got + i * PAGE;

		if (!memcmp(g, want + i * PAGE, PAGE))
			continue;
		if (!memcmp(g, old + i * PAGE, PAGE))
			cfail(c, "%s: page %zu of %zu reads the bytes it held before its last write: the write was lost "
			      "(its dirty state dropped, so the page was freed clean and read back from the older copy)",
			      how, i, len / PAGE);
		else
			cfail(c, "%s: page %zu of %zu holds neither its last write nor the one before (byte %ld differs)",
			      how, i, len / PAGE, first_diff(g, want + i * PAGE, PAGE));
		return -1;
	}
	return 0;
}

/* Write want over [map, len): the first half, then clear_refs 4 (soft-dirty tracking: the first
 * half's PTEs write-protected, their dirty bits kept), then the second half, which faults and must
 * show soft-dirty from then on; whether clear_refs took it (else no soft-dirty checks) */
static int kd_write(char *map, const char *want, size_t len)
{
	int sd;

	memcpy(map, want, len / 2);  /* anon: no fault where the PTE is writable: its dirty bit alone records it */
	sd = write_file("/proc/self/clear_refs", "4");
	memcpy(map + len / 2, want + len / 2, len - len / 2);
	return sd;
}

/* The second half, written since clear_refs 4, shows soft-dirty in pagemap (bit 55: a present
 * PTE's or a swap entry's) where, how is said; 0, or -1 with the cell failed */
static int kd_soft_dirty(struct cell *c, const char *map, size_t len, enum kd_move m, const char *where)
{
	for (size_t i = len / PAGE / 2; i < len / PAGE; i++)
		if (!(pagemap(map + i * PAGE) & PM_SOFT_DIRTY)) {
			cfail(c, "%s the %s move: page %zu, written since clear_refs 4, is not soft-dirty (pagemap bit 55): "
			      "the soft-dirty bit was dropped", where, kd_move_names[m], i);
			return -1;
		}
	return 0;
}

/* -- the kernel as the writer ---------------------------------------------------------------- */

/* Writers that write through a pin of their own, never through the PTE: the pinner must mark
 * each page dirty when it releases it (unpin_user_pages_dirty_lock(), bio_release_pages() and
 * bio_set_pages_dirty(), set_page_dirty_lock()), or the only record of the write is gone */
enum kd_writer { KW_DIO_READ, KW_PVM_WRITEV, KW_URING_FIXED, NKW };
static const char *const kd_anon_by[NKW] = {"by-dio-read", "by-pvm-writev", "by-uring-fixed"};

/* want written over [map, len) by writer w through its pin, released when this returns: an
 * O_DIRECT read from an ext4 file (iomap, bio_release_pages()), process_vm_writev() into this
 * process (pin_user_pages_remote(), unpin_user_pages_dirty_lock()), an io_uring READ_FIXED into a
 * buffer registered for it and unregistered after (io_uring/rsrc.c). 0, or -1 with the cell
 * failed or skipped. */
static int kd_writer(struct cell *c, enum kd_writer w, char *map, const char *want, size_t len)
{
	char path[300] = "";
	int fd = -1;

	if (w != KW_PVM_WRITEV) {
		if (!ext4_dir) {
			cskip(c, "no ext4 directory (-d)");
			return -1;
		}
		snprintf(path, sizeof(path), "%s/kept-dirty-src.%d", ext4_dir, getpid());
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || pwrite(fd, want, len, 0) != (ssize_t)len || fsync(fd)) {
			cfail(c, "cannot write %s: %s", path, strerror(errno));
			goto out;
		}
		close(fd);
		if ((fd = open(path, O_RDONLY | O_DIRECT)) < 0) {
			cfail(c, "open %s O_DIRECT: %s", path, strerror(errno));
			goto out;
		}
	}
	switch (w) {
	case KW_DIO_READ: {
		ssize_t n = pread(fd, map, len, 0);

		if (n != (ssize_t)len)
			cfail(c, "O_DIRECT pread of %zu bytes into the buffer: %zd (%s)", len, n, n < 0 ? strerror(errno) : "short");
		break;
	}
	case KW_PVM_WRITEV: {
		struct iovec from = {(void *)want, len}, to = {map, len};
		ssize_t n = process_vm_writev(getpid(), &from, 1, &to, 1, 0);

		if (n != (ssize_t)len)
			cfail(c, "process_vm_writev of %zu bytes into the buffer: %zd (%s)", len, n, n < 0 ? strerror(errno) : "short");
		break;
	}
	case KW_URING_FIXED: {
		struct io_uring r;
		struct iovec iov = {map, len};
		struct io_uring_sqe *sqe;
		struct io_uring_cqe *cqe;
		int e;

		if (io_uring_queue_init(4, &r, 0)) {
			cskip(c, "io_uring_queue_init failed");
			break;
		}
		if ((e = io_uring_register_buffers(&r, &iov, 1))) {
			cfail(c, "IORING_REGISTER_BUFFERS of the buffer: %s", strerror(-e));
		} else {
			sqe = io_uring_get_sqe(&r);
			io_uring_prep_read_fixed(sqe, fd, map, len, 0, 0);
			if (io_uring_submit(&r) != 1 || (e = io_uring_wait_cqe(&r, &cqe))) {
				cfail(c, "io_uring READ_FIXED: submit or wait failed");
			} else {
				if (cqe->res != (int)len)
					cfail(c, "io_uring READ_FIXED of %zu bytes into the buffer: %d", len, cqe->res);
				io_uring_cqe_seen(&r, cqe);
			}
			io_uring_unregister_buffers(&r);
		}
		io_uring_queue_exit(&r);
		break;
	}
	default:
		cfail(c, "no such writer");
	}
out:
	if (fd >= 0)
		close(fd);
	if (path[0])
		unlink(path);
	return c->failed[0] || c->skip[0] ? -1 : 0;
}

/* One anon cell: the move m (the second write through the mapping), or with w >= 0 no move and
 * the second write by writer w through its pin */
static void kd_anon_run(struct cell *c, enum kd_move m, int w)
{
	size_t len = KD_PAGES * PAGE;
	struct sw_dev dv = {.name = ""};
	char *map = NULL, *old = malloc(len), *want = malloc(len);
	long out, sc = 0, pte_only = 0, sw0, wr0;
	long io[3] = {0};
	int sd = 0;

	c->mem = ANON;
	if (!old || !want) {
		cfail(c, "out of memory");
		goto free;
	}
	sw_tgt = (struct sw_target){"kept-dirty", bdev_swap, "no swap on a block device (-S: guests/pin-matrix.sh could not make one)"};
	if (!sw_dev_begin(c, &dv))
		goto out;
	if (!(map = map_aligned(len, PAGE, MADV_NOHUGEPAGE))) {
		cfail(c, "cannot map the buffer: %s", strerror(errno));
		goto out;
	}
	fill64(old, len, 1);
	fill64(want, len, 2);
	memcpy(map, old, len);
	if ((out = kd_pageout(c, map, len)) < KD_PAGES) {
		cskip(c, "%ld of %d pages went out to %s before the move", out, KD_PAGES, dv.name);
		goto out;
	}
	for (size_t i = 0; i < KD_PAGES; i++)  /* read faults: swapped in, kept in the swap cache */
		(void)*(volatile char *)(map + i * PAGE);
	for (size_t i = 0; i < KD_PAGES; i++)
		sc += kpageflags(map + i * PAGE) >> KPF_SWAPCACHE & 1;
	if (w < 0)
		sd = kd_write(map, want, len) && m != KD_SOFTDIRTY;  /* that move clears soft-dirty itself */
	for (size_t i = 0; i < KD_PAGES; i++) {
		uint64_t f = kpageflags(map + i * PAGE);

		/* not under writeback: do_swap_page() maps such a page writable too (no
		 * SWP_STABLE_WRITES on a loop device), and its slot may yet get the new bytes */
		pte_only += (f >> KPF_SWAPCACHE & 1) && !(f >> KPF_DIRTY & 1) && !(f >> KPF_WRITEBACK & 1);
	}
	if (!pte_only) {
		cskip(c, "no page %s (%ld of %d in the swap cache after the read faults, none clean and out of "
		      "writeback %s)", w < 0 ? "held its write in the PTE alone" : "was clean in the swap cache", sc,
		      KD_PAGES, w < 0 ? "after the write" : "then");
		goto out;
	}
	if (w >= 0) {  /* the pages are clean, their PTEs too: the writer's release is the only record */
		long d;

		if (kd_writer(c, (enum kd_writer)w, map, want, len))
			goto out;
		if ((d = first_diff(map, want, len)) >= 0) {
			cfail(c, "after the %s the process reads other bytes than it wrote (byte %ld)", kd_anon_by[w], d);
			goto out;
		}
	} else if (kd_move(c, m, &map, len, want) || (sd && kd_soft_dirty(c, map, len, m, "after"))) {
		goto out;
	}
	sw0 = vmstat("pswpout");
	wr0 = sw_dev_ios(dv.name, io) ? io[1] : -1;
	if ((out = kd_pageout(c, map, len)) < KD_PAGES) {
		cskip(c, "%ld of %d pages went out to %s after the move", out, KD_PAGES, dv.name);
		goto out;
	}
	if ((sd && kd_soft_dirty(c, map, len, m, "in the swap entries, paged out after")) ||
	    kd_same(c, map, want, old, len, w < 0 ? "faulted back from swap" :
		    "written through the pinner's pin, released, paged out and faulted back") ||
	    (sd && kd_soft_dirty(c, map, len, m, "faulted back from swap after")))
		goto out;
	printf("# %s: %ld of %d pages %s; after the %s and a page-out (pswpout +%ld, %s writes +%ld) all read it "
	       "back%s\n", c->name, pte_only, KD_PAGES,
	       w < 0 ? "held their write in the PTE alone (swap cache, clean)" : "clean in the swap cache, PTEs clean",
	       w < 0 ? kd_move_names[m] : kd_anon_by[w] + 3, vmstat("pswpout") - sw0, dv.name,
	       wr0 >= 0 && sw_dev_ios(dv.name, io) ? io[1] - wr0 : -1,
	       sd ? "; the half written since clear_refs 4 soft-dirty throughout" : "");
out:
	if (map)
		munmap(map, len);
	sw_dev_end(c, &dv);
free:
	free(old);
	free(want);
}

static void kd_anon_cell(struct cell *c, int k) { kd_anon_run(c, (enum kd_move)k, -1); }  /* every move */
static void kd_anon_by_cell(struct cell *c, int k) { kd_anon_run(c, KD_NONE, k); }

static void kd_ext4_cell(struct cell *c, int k)
{
	enum kd_move m = kd_move_of(kd_ext4[k]);
	size_t len = KD_PAGES * PAGE;
	char *map = NULL, *old = malloc(len), *want = malloc(len), *got = malloc(len);
	long dirty = 0, in = KD_PAGES;
	int sd;

	c->mem = FILESH;
	if (!old || !want || !got) {
		cfail(c, "out of memory");
		goto out;
	}
	if (!ext4_dir) {
		cskip(c, "no ext4 directory (-d)");
		goto out;
	}
	fill64(old, len, 1);
	fill64(want, len, 2);
	snprintf(c->path, sizeof(c->path), "%s/kept-dirty.%d", ext4_dir, getpid());
	c->fd = open(c->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (c->fd < 0 || pwrite(c->fd, old, len, 0) != (ssize_t)len || fsync(c->fd) ||
	    posix_fadvise(c->fd, 0, len, POSIX_FADV_DONTNEED)) {
		cfail(c, "cannot write %s: %s", c->path, strerror(errno));
		goto out;
	}
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (map == MAP_FAILED) {
		map = NULL;
		cfail(c, "mmap %s: %s", c->path, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < KD_PAGES; i++)
		(void)*(volatile char *)(map + i * PAGE);
	sd = kd_write(map, want, len) && m != KD_SOFTDIRTY;
	for (size_t i = 0; i < KD_PAGES; i++)
		dirty += kpageflags(map + i * PAGE) >> KPF_DIRTY & 1;
	if (kd_move(c, m, &map, len, want) || (sd && kd_soft_dirty(c, map, len, m, "after")))
		goto out;
	munmap(map, len);  /* the last place a PTE's dirty bit must reach the folio (zap) */
	map = NULL;
	for (int t = 0; t < 3 && in; t++) {
		char *probe;

		if (t)
			drain_lru();
		if (fsync(c->fd) || posix_fadvise(c->fd, 0, len, POSIX_FADV_DONTNEED)) {
			cfail(c, "fsync or FADV_DONTNEED of %s: %s", c->path, strerror(errno));
			goto out;
		}
		probe = mmap(NULL, len, PROT_READ, MAP_SHARED, c->fd, 0);  /* for mincore: not faulted */
		if (probe == MAP_FAILED) {
			cfail(c, "mmap %s again: %s", c->path, strerror(errno));
			goto out;
		}
		in = KD_PAGES - pages_out(c, probe, len);
		munmap(probe, len);
	}
	if (in) {
		cskip(c, "%ld of %d pages of the file stayed in the page cache after fsync and FADV_DONTNEED", in, KD_PAGES);
		goto out;
	}
	if (pread(c->fd, got, len, 0) != (ssize_t)len) {
		cfail(c, "pread %s: %s", c->path, strerror(errno));
		goto out;
	}
	if (kd_same(c, got, want, old, len, "read back from disk after fsync"))
		goto out;
	printf("# %s: %ld of %d pages dirty after the write through the mapping; after the %s move, fsync and a "
	       "drop of the page cache the file reads the write from disk%s\n", c->name, dirty, KD_PAGES, kd_move_names[m],
	       sd ? "; the half written since clear_refs 4 soft-dirty after the move" : "");
out:
	if (map)
		munmap(map, len);
	cell_file_close(c);
	free(old);
	free(want);
	free(got);
}

#define KD_N(list) (sizeof(list) / sizeof(list[0]))
/* by-uring-fixed fails on 6.12 itself (docs/matrix.md: io_uring unpins its registered buffers
 * without dirtying them, and an O_DIRECT read into a bvec dirties nothing): the deep set runs it */
static const char *const kd_by_default[] = {"kept-dirty/anon/by-dio-read", "kept-dirty/anon/by-pvm-writev"};
static const struct cell_entry kept_dirty_table[] = {
	{"kept-dirty/anon/", kd_anon_cell, kd_move_names, KD_N(kd_move_names)},
	{"kept-dirty/anon/", kd_anon_by_cell, kd_anon_by, KD_N(kd_anon_by), kd_by_default, KD_N(kd_by_default)},
	{"kept-dirty/ext4/", kd_ext4_cell, kd_ext4, KD_N(kd_ext4)}};

static void kept_dirty_cells(void)
{
	run_cells(kept_dirty_table, KD_N(kept_dirty_table), NULL, NULL);
}
