/* io_uring's table of registered buffers, beyond one buffer a ring: every other io_uring cell
 * registers one iovec and unregisters it. The table has its own paths, each taking or dropping
 * pins (io_uring/rsrc.c, 6.12): several iovecs in one registration, overlapping or sharing pages
 * and huge folios (io_sqe_buffers_register(), headpage_already_acct(), io_coalesce_buffer()); a
 * sparse table filled and replaced slot by slot (IORING_REGISTER_BUFFERS_UPDATE:
 * __io_sqe_buffers_update(), the old buffer put once no request holds its rsrc node); a request
 * in flight on a buffer that is replaced under it; a table cloned into a second ring
 * (IORING_REGISTER_CLONE_BUFFERS: io_clone_buffers(), the buffers shared by reference, unpinned
 * when the last ring lets go). Part of pin_matrix.c (struct cell, mem_map(), verdict(), the
 * scratch file, uring_submit_wait(); uring_pbuf_cells.h's ring_map() and ring_event();
 * kentry_cells.h's pin_mark(), pins_back(), none_held()), entered by table_cells() from main.
 *
 * uring-table/<memory>/<op>: the buffers are slices of the cell's pinned half (H bytes):
 *   0: [0, H/2)  1: [H/4, 3H/4), over 0  2: [H/2 + 100, H - 100), ends not page-aligned
 *   3: the last page  4: [0, H/2) again  5: the 2 bytes across the page boundary at H/2
 * A round does, through each buffer index in turn, WRITE_FIXED of the whole buffer and of a
 * piece at an unaligned offset inside it (the file must read what the process wrote there) and
 * READ_FIXED of both (the process must read the file's bytes there, and every other byte of the
 * half unchanged): an offset or length the table got wrong shows on either side.
 * Ops: multi (all six in one registration; a round, the event, a round; -fork: the child
 * scribbles over its copy, which must reach neither the parent nor the buffers; -migrate:
 * move_pages of the registered pages), update (a sparse table of 4, slot 2 filled with buffer
 * 0, then replaced by buffer 3: buffer 0's pins must go, I/O through slot 2 must reach buffer
 * 3 only; slot 1 filled over a hole must fail EFAULT, pin nothing, and stay empty), inflight (a
 * READ_FIXED from an empty pipe into slot 0, then slot 0 replaced: the old buffer stays pinned
 * while the request holds it, the pipe's bytes land in it, then its pins go), clone (the six
 * cloned into a second ring, which pins nothing more; the first ring's table unregistered, the
 * second's rounds still reach the same pages; a clone into a ring that has buffers is EBUSY).
 * Every cell: pins per buffer as 6.12 takes them (a page each; a huge folio coalesced to one),
 * the FOLL_PIN counters back after the rings let go, no page of the region held.
 */
#define UT_NBUF 6
#define UT_WAIT_S 10  /* a pipe read that completes once the bytes are written */

enum utop { UT_MULTI, UT_MULTI_FORK, UT_MULTI_MIGRATE, UT_UPDATE, UT_INFLIGHT, UT_CLONE, NUT };
static const char *const ut_names[NUT] = {"multi", "multi-fork", "multi-migrate", "update", "inflight", "clone"};
static const enum ev ut_ev[NUT] = {NONE, FORK, MIGRATE, NONE, NONE, NONE};

static const char *const table_quick[] = {
	"uring-table/anon/multi", "uring-table/thp/multi-fork", "uring-table/hugetlb/multi",
	"uring-table/shmem/multi-migrate", "uring-table/anon/update", "uring-table/thp/update",
	"uring-table/anon/inflight", "uring-table/anon/clone", "uring-table/hugetlb/clone",
};

static int table_wanted(const char *name) { return BLOCK_WANTED(name, table_quick); }

static int ut_applies(enum mem m, enum utop op)
{
	if (op == UT_MULTI_FORK)  /* shared memory: the child's writes are the parent's too, by design */
		return m == ANON || m == THP;
	return 1;
}

/* The six buffers over the pinned half */
static void ut_iovs(struct cell *c, struct iovec *iov)
{
	size_t h = c->half;
	const size_t at[UT_NBUF][2] = {{0, h / 2}, {h / 4, 3 * h / 4}, {h / 2 + 100, h - 100}, {h - PAGE, h},
				       {0, h / 2}, {h / 2 - 1, h / 2 + 1}};

	for (int i = 0; i < UT_NBUF; i++) {
		iov[i].iov_base = c->cur + at[i][0];
		iov[i].iov_len = at[i][1] - at[i][0];
	}
}

/* The FOLL_PINs 6.12 holds for a buffer: one a page, or one a huge folio when all of it lies in
 * huge folios (io_coalesce_buffer(): the rest given back); the cell's huge memory is one folio. */
static long ut_pins(const struct cell *c, const struct iovec *v)
{
	uintptr_t a = (uintptr_t)v->iov_base;
	long pages = (long)(((a + v->iov_len + PAGE - 1) & ~(PAGE - 1)) - (a & ~(PAGE - 1))) / (long)PAGE;

	return c->mem == THP || c->mem == HUGE || c->mem == SHMTHP ? 1 : pages;
}

/* The pins of all six buffers */
static long ut_all_pins(const struct cell *c, const struct iovec *v)
{
	long want = 0;

	for (int i = 0; i < UT_NBUF; i++)
		want += ut_pins(c, &v[i]);
	return want;
}

/* Outstanding pins must reach want (deferred puts settle first): else the cell fails with what */
static int ut_pins_are(struct cell *c, const struct pinmark *m, long want, const char *what)
{
	long now = pins_settle(m->acq - m->rel + want) - (m->acq - m->rel);

	if (now == want)
		return 0;
	cfail(c, "%s: %ld FOLL_PIN(s) outstanding, want %ld", what, now, want);
	return -1;
}

/* Both directions through buffer idx over [p, p+n): what the process wrote reaches the file,
 * what the file holds reaches the process there and nowhere else in the pinned half. */
static void ut_io(struct cell *c, struct io_uring *r, int idx, char *p, size_t n, unsigned seed, const char *what)
{
	char *want = malloc(n), *got = malloc(n), *before = malloc(c->half);
	long d;
	int e;

	if (!want || !got || !before) {
		cfail(c, "out of memory");
		goto out;
	}
	fill64(want, n, seed);
	memcpy(p, want, n);  /* the process writes; the kernel reads it through the table */
	if ((e = uring_rw(r, 1, p, n, idx)) != (int)n || pread(scratch_fd, got, n, 0) != (ssize_t)n) {
		cfail(c, "%s: WRITE_FIXED of %zu bytes at +%ld through buffer %d: %s", what, n, (long)(p - c->cur), idx,
		      e < 0 ? strerror(-e) : "short");
		goto out;
	}
	if ((d = first_diff(got, want, n)) >= 0) {
		cfail(c, "%s: WRITE_FIXED through buffer %d wrote other bytes than the process's at +%ld (byte %ld)", what,
		      idx, (long)(p - c->cur), d);
		goto out;
	}
	fill64(want, n, seed + 7);
	memcpy(before, c->cur, c->half);
	if (pwrite(scratch_fd, want, n, 0) != (ssize_t)n || (e = uring_rw(r, 0, p, n, idx)) != (int)n) {
		cfail(c, "%s: READ_FIXED of %zu bytes at +%ld through buffer %d: %s", what, n, (long)(p - c->cur), idx,
		      e < 0 ? strerror(-e) : "short");
		goto out;
	}
	memcpy(before + (p - c->cur), want, n);
	if ((d = first_diff(c->cur, before, c->half)) >= 0)
		cfail(c, "%s: after READ_FIXED of %zu bytes at +%ld through buffer %d the process reads other bytes at"
		      " +%ld (%s)", what, n, (long)(p - c->cur), idx, d,
		      d >= p - c->cur && d < p - c->cur + (long)n ? "the file's bytes did not arrive"
							   : "bytes outside the read changed");
out:
	free(want);
	free(got);
	free(before);
}

/* A round over the buffers of idx[] (their iovecs v[]): the whole of each, then a piece at an
 * unaligned offset inside it */
static void ut_round(struct cell *c, struct io_uring *r, const struct iovec *v, const int *idx, int n, unsigned seed,
		     const char *what)
{
	for (int i = 0; i < n && !c->failed[0]; i++) {
		size_t len = v[i].iov_len, off = len > 3 * PAGE + 200 ? 3 * PAGE + 123 : len / 2;

		ut_io(c, r, idx[i], v[i].iov_base, len, seed + 16 * (unsigned)i, what);
		if (!c->failed[0] && len - off > 0)
			ut_io(c, r, idx[i], (char *)v[i].iov_base + off, len - off > 5000 ? 5000 : len - off,
			      seed + 16 * (unsigned)i + 3, what);
	}
}

static const int ut_all[UT_NBUF] = {0, 1, 2, 3, 4, 5};

static void ut_multi(struct cell *c, struct io_uring *r, const struct iovec *v, const struct pinmark *m)
{
	long want = ut_all_pins(c, v);

	if (io_uring_register_buffers(r, v, UT_NBUF)) {
		cfail(c, "io_uring_register_buffers of %d iovecs over %s memory failed", UT_NBUF, mem_names[c->mem]);
		return;
	}
	if (!ut_pins_are(c, m, want, "six buffers registered"))
		printf("# %s: %d buffers registered over %zu bytes: %ld FOLL_PIN(s)\n", c->name, UT_NBUF, c->half, want);
	if (!c->failed[0])
		ut_round(c, r, v, ut_all, UT_NBUF, 21, "before the event");
	if (!c->failed[0] && c->ev != NONE) {
		ring_event(c);
		if (!c->failed[0] && !c->skip[0])
			ut_round(c, r, v, ut_all, UT_NBUF, 23, "after the event");
	}
	if (io_uring_unregister_buffers(r))
		cfail(c, "io_uring_unregister_buffers failed");
}

/* Slot 2 takes buffer k: the update, then only that buffer's pins held (pins_what), then a round
 * through the slot; 0, or -1 with the cell failed */
static int ut_slot2(struct cell *c, struct io_uring *r, const struct iovec *v, int k, const struct pinmark *m,
		    const char *pins_what, unsigned seed, const char *what)
{
	const int two = 2;
	int e;

	if ((e = io_uring_register_buffers_update_tag(r, 2, &v[k], NULL, 1)) != 1) {
		cfail(c, "IORING_REGISTER_BUFFERS_UPDATE of slot 2 with buffer %d: %s", k, e < 0 ? strerror(-e) : "not 1");
		return -1;
	}
	if (ut_pins_are(c, m, ut_pins(c, &v[k]), pins_what))
		return -1;
	ut_round(c, r, &v[k], &two, 1, seed, what);
	return c->failed[0] ? -1 : 0;
}

static void ut_update(struct cell *c, struct io_uring *r, const struct iovec *v, const struct pinmark *m)
{
	char *h = mmap(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct iovec hole = {h, 3 * PAGE};
	int e;

	if (h == MAP_FAILED) {
		cfail(c, "mmap of the range with a hole: %s", strerror(errno));
		return;
	}
	memset(h, 1, 3 * PAGE);
	if ((e = io_uring_register_buffers_sparse(r, 4))) {
		cfail(c, "io_uring_register_buffers_sparse(4): %s", strerror(-e));
		munmap(h, 3 * PAGE);
		return;
	}
	if (ut_slot2(c, r, v, 0, m, "slot 2 filled with buffer 0", 31, "slot 2 = buffer 0") ||
	    ut_slot2(c, r, v, 3, m, "slot 2 replaced by buffer 3 (buffer 0's pins given back?)", 33, "slot 2 = buffer 3"))
		goto out;
	/* slot 1 over three pages whose last is gone */
	if (munmap(h + 2 * PAGE, PAGE)) {
		cfail(c, "munmap of a page part way: %s", strerror(errno));
		goto out;
	}
	e = io_uring_register_buffers_update_tag(r, 1, &hole, NULL, 1);
	if (e >= 0) {
		cfail(c, "IORING_REGISTER_BUFFERS_UPDATE of slot 1 over a hole: %d, not EFAULT", e);
		goto out;
	}
	printf("# %s: slot 1 over a hole refused: %s\n", c->name, strerror(-e));
	if (ut_pins_are(c, m, ut_pins(c, &v[3]), "after the refused update of slot 1"))
		goto out;
	if ((e = uring_rw(r, 0, h, PAGE, 1)) >= 0)
		cfail(c, "READ_FIXED through slot 1, empty after its refused update: %d, not an error", e);
out:
	if (io_uring_unregister_buffers(r))
		cfail(c, "io_uring_unregister_buffers failed");
	munmap(h, 3 * PAGE);  /* its last page may be gone already: munmap takes the range whole */
}

static void ut_inflight(struct cell *c, struct io_uring *r, const struct iovec *v, const struct pinmark *m)
{
	struct __kernel_timespec ts = {UT_WAIT_S, 0};
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	char *want = malloc(PAGE);
	int p[2] = {-1, -1}, e, pending = 0;
	long d;

	if (!want || pipe(p)) {
		cfail(c, "pipe: %s", strerror(errno));
		goto out;
	}
	if (io_uring_register_buffers(r, &v[0], 1)) {
		cfail(c, "io_uring_register_buffers of buffer 0 failed");
		goto out;
	}
	memset(v[0].iov_base, 0, PAGE);
	sqe = io_uring_get_sqe(r);
	io_uring_prep_read_fixed(sqe, p[0], v[0].iov_base, PAGE, 0, 0);
	io_uring_sqe_set_data64(sqe, 77);
	if ((e = io_uring_submit(r)) != 1) {
		cfail(c, "submit of a READ_FIXED from an empty pipe: %d", e);
		goto unreg;
	}
	pending = 1;
	usleep(100 * 1000);  /* the read is armed on the pipe, holding slot 0's buffer */
	if ((e = io_uring_register_buffers_update_tag(r, 0, &v[3], NULL, 1)) != 1) {
		cfail(c, "IORING_REGISTER_BUFFERS_UPDATE of slot 0 under a request in flight: %s",
		      e < 0 ? strerror(-e) : "not 1");
		goto unreg;
	}
	if (ut_pins_are(c, m, ut_pins(c, &v[0]) + ut_pins(c, &v[3]),
			"slot 0 replaced while a READ_FIXED holds its old buffer (the old one must stay pinned)"))
		goto unreg;
	fill64(want, PAGE, 41);
	if (write(p[1], want, PAGE) != (ssize_t)PAGE) {
		cfail(c, "write into the pipe: %s", strerror(errno));
		goto unreg;
	}
	if (io_uring_wait_cqe_timeout(r, &cqe, &ts)) {
		cfail(c, "the READ_FIXED from the pipe did not complete in %d s after the write", UT_WAIT_S);
		goto unreg;
	}
	e = cqe->res;
	io_uring_cqe_seen(r, cqe);
	pending = 0;
	if (e != (int)PAGE)
		cfail(c, "the READ_FIXED in flight over the replacement: %s", e < 0 ? strerror(-e) : "short");
	else if ((d = first_diff(v[0].iov_base, want, PAGE)) >= 0)
		cfail(c, "the pipe's bytes did not reach the old buffer, which the request was given (byte %ld)", d);
	else if (!ut_pins_are(c, m, ut_pins(c, &v[3]), "the request done: the old buffer's pins given back"))
		printf("# %s: the old buffer stayed pinned while the request held it, given back after\n", c->name);
unreg:
	if (pending) {  /* end it: EOF on the pipe */
		close(p[1]);
		p[1] = -1;
		if (!io_uring_wait_cqe_timeout(r, &cqe, &ts))
			io_uring_cqe_seen(r, cqe);
	}
	if (io_uring_unregister_buffers(r))
		cfail(c, "io_uring_unregister_buffers failed");
out:
	close_pair(p);
	free(want);
}

#define UT_CLONE_OP 30  /* IORING_REGISTER_CLONE_BUFFERS (6.12): liburing 2.3 has no call for it */

static int ut_clone(struct io_uring *dst, struct io_uring *src)
{
	struct {
		uint32_t src_fd, flags, pad[6];
	} arg = {.src_fd = (uint32_t)src->ring_fd};

	return syscall(__NR_io_uring_register, dst->ring_fd, UT_CLONE_OP, &arg, 1) ? -errno : 0;
}

static void ut_clones(struct cell *c, struct io_uring *r, const struct iovec *v, const struct pinmark *m)
{
	struct io_uring r2;
	long want = ut_all_pins(c, v);
	int e;

	if (io_uring_queue_init(4, &r2, 0)) {
		cfail(c, "io_uring_queue_init of the second ring failed");
		return;
	}
	if (io_uring_register_buffers(r, v, UT_NBUF)) {
		cfail(c, "io_uring_register_buffers of %d iovecs failed", UT_NBUF);
		goto out;
	}
	if ((e = ut_clone(&r2, r))) {
		if (e == -EINVAL || e == -EOPNOTSUPP)
			cskip(c, "IORING_REGISTER_CLONE_BUFFERS: %s (a kernel before 6.12)", strerror(-e));
		else
			cfail(c, "IORING_REGISTER_CLONE_BUFFERS: %s", strerror(-e));
		io_uring_unregister_buffers(r);
		goto out;
	}
	if (ut_pins_are(c, m, want, "the table cloned into a second ring (a clone shares, it pins nothing)"))
		goto unreg;
	if ((e = ut_clone(&r2, r)) != -EBUSY)
		cfail(c, "a second IORING_REGISTER_CLONE_BUFFERS into a ring that has buffers: %s, not EBUSY",
		      e ? strerror(-e) : "granted");
	if (c->failed[0] || io_uring_unregister_buffers(r)) {
		if (!c->failed[0])
			cfail(c, "io_uring_unregister_buffers of the first ring failed");
		goto unreg;
	}
	if (ut_pins_are(c, m, want, "the first ring's table unregistered (the clone still holds the buffers)"))
		goto unreg;
	ut_round(c, &r2, v, ut_all, UT_NBUF, 51, "through the clone");
	if (!c->failed[0])
		printf("# %s: the clone holds the %ld pin(s) alone and reaches the same pages\n", c->name, want);
unreg:
	io_uring_unregister_buffers(&r2);
out:
	io_uring_queue_exit(&r2);
}

static void table_cell(struct cell *c, enum utop op)
{
	struct iovec v[UT_NBUF];
	struct io_uring r;
	struct pinmark m;

	if (ring_map(c))
		return;
	if (io_uring_queue_init(8, &r, 0)) {
		cfail(c, "io_uring_queue_init failed");
		return;
	}
	memset(c->cur, 0, c->half);
	memcpy(c->exp, c->cur, c->half);
	ut_iovs(c, v);
	pin_mark(&m);
	switch (op) {
	case UT_MULTI:
	case UT_MULTI_FORK:
	case UT_MULTI_MIGRATE:
		ut_multi(c, &r, v, &m);
		break;
	case UT_UPDATE:
		ut_update(c, &r, v, &m);
		break;
	case UT_INFLIGHT:
		ut_inflight(c, &r, v, &m);
		break;
	default:
		ut_clones(c, &r, v, &m);
	}
	io_uring_queue_exit(&r);  /* the ring's exit work may put the last buffers late: pins_back waits */
	if (c->failed[0] || c->skip[0])
		return;
	pins_back(c, &m, "the rings let go of their tables");
	if (!c->failed[0])
		none_held(c, c->map, 2 * c->half, "the rings let go of their tables");
}

static void table_cells(void)
{
	static const enum mem mems[] = {ANON, THP, HUGE, SHMEM};

	for (size_t i = 0; i < sizeof(mems) / sizeof(mems[0]); i++)
		for (enum utop op = 0; op < NUT; op++) {
			struct cell c = {.fd = -1, .mem = mems[i], .ev = ut_ev[op]};
			double began = now_s();

			if (!ut_applies(c.mem, op))
				continue;
			snprintf(c.name, sizeof(c.name), "uring-table/%s/%s", mem_names[c.mem], ut_names[op]);
			if (!table_wanted(c.name) || !begins(c.name))
				continue;
			if (!ring_ok)
				cskip(&c, "io_uring_queue_init failed");
			else
				table_cell(&c, op);
			mem_unmap(&c);
			verdict(&c, began);
		}
}
