/* io_uring rings in user memory (IORING_SETUP_NO_MMAP, 6.5): the third caller of io_pin_pages()
 * (io_uring/memmap.c __io_uaddr_map(), from io_rings_map() and io_sqes_map()), after the fixed
 * buffers and the provided-buffer rings (uring_pbuf_cells.h). The SQ/CQ rings and the SQE array
 * are the process's pages, long-term pinned (FOLL_WRITE | FOLL_LONGTERM) and vmapped; the kernel
 * reads SQEs and the SQ tail, and writes CQEs and the CQ tail, through that vmap for the life of
 * the ring. A pin that lost the process's page would run stale SQEs and post completions the
 * process never sees. Part of pin_matrix.c (struct cell, mem_map(), event(), verdict(),
 * scratch_fd; kentry_cells.h's pin_mark(), pins_back(), none_held(); uring_pbuf_cells.h's
 * ring_map(), ring_event()); entered by nommap_cells().
 * liburing 2.3 cannot set such a ring up: raw io_uring_setup(2)/io_uring_enter(2), with the
 * 6.12 uapi's offsets and flags (IORING_SETUP_NO_SQARRAY: the SQ tail indexes the SQEs).
 *
 * uring-nommap/<memory>/<event>: the pinned half of the cell's region holds the rings at its
 * start and the SQEs NM_SQE_AT further on. A round submits NM_ROUND READs of a page of a pattern
 * from the scratch file into buffers of the process, each with its own user_data, waits for
 * them with io_uring_enter(GETEVENTS), and reads the completions out of the CQ in its own
 * mapping: each one there, with its user_data and the full length, and the bytes in the buffer.
 * A round before the event and one after: none; fork (private memory: the child scribbles over
 * its copy of the rings and SQEs); pageout, migrate, compact (the pinned pages stay, the witness
 * goes). Error paths, refused with the counters where they were: the SQEs over a page
 * munmapped part way (the rings' pages were pinned first and must be unpinned again: EFAULT), an
 * unaligned address (EINVAL before any pin). The ring's release is deferred to a work item
 * (io_ring_exit_work()): the counters are polled back after close.
 */
#define NM_SQ 8
#define NM_CQ 16
#define NM_ROUND 4
#define NM_SQE_AT (8 * PAGE)  /* the SQEs' offset in the pinned half (its second half) */

/* 6.12's uapi: liburing 2.3's copy of io_uring.h predates user_addr and these flags */
struct nm_sq_off {
	uint32_t head, tail, ring_mask, ring_entries, flags, dropped, array, resv1;
	uint64_t user_addr;
};
struct nm_cq_off {
	uint32_t head, tail, ring_mask, ring_entries, overflow, cqes, flags, resv1;
	uint64_t user_addr;
};
struct nm_params {
	uint32_t sq_entries, cq_entries, flags, sq_thread_cpu, sq_thread_idle, features, wq_fd, resv[3];
	struct nm_sq_off sq_off;
	struct nm_cq_off cq_off;
};
#define NM_SETUP_NO_MMAP (1U << 14)
#define NM_SETUP_NO_SQARRAY (1U << 16)

enum nmev { NM_NONE, NM_FORK, NM_PAGEOUT, NM_MIGRATE, NM_COMPACT, NM_HOLE, NM_UNALIGNED, NNM };
static const char *const nm_names[NNM] = {"none", "fork", "pageout", "migrate", "compact", "hole", "unaligned"};
static const enum ev nm_ev[NNM] = {NONE, FORK, PAGEOUT, MIGRATE, COMPACT};

static const char *const nommap_quick[] = {
	"uring-nommap/anon/none", "uring-nommap/anon/fork", "uring-nommap/thp/migrate", "uring-nommap/anon/hole",
};

static int nommap_wanted(const char *name) { return BLOCK_WANTED(name, nommap_quick); }

static int nm_applies(enum mem m, enum nmev e)
{
	if (e >= NM_HOLE)
		return m == ANON;
	if (e == NM_FORK || e == NM_COMPACT)
		return m == ANON || m == THP;
	return m == ANON || m == THP || m == SHMEM;
}

struct nmring {
	int fd;
	char *rings, *sqes;
	struct nm_params p;
	uint32_t sq_tail, cq_head;
	char *bufs;
};

static int nm_setup(struct nmring *r, char *rings, char *sqes)
{
	memset(&r->p, 0, sizeof(r->p));
	r->p.flags = NM_SETUP_NO_MMAP | NM_SETUP_NO_SQARRAY | IORING_SETUP_CQSIZE;
	r->p.cq_entries = NM_CQ;
	r->p.cq_off.user_addr = (uintptr_t)rings;
	r->p.sq_off.user_addr = (uintptr_t)sqes;
	r->fd = (int)syscall(__NR_io_uring_setup, NM_SQ, &r->p);
	r->rings = rings;
	r->sqes = sqes;
	return r->fd < 0 ? -errno : 0;
}

static uint32_t *nm_u32(struct nmring *r, uint32_t off) { return (uint32_t *)(r->rings + off); }

/* A round: NM_ROUND reads submitted through the SQEs the process writes, their completions read
 * out of the CQ it maps (what says when) */
static void nm_round(struct cell *c, struct nmring *r, unsigned seed, const char *what)
{
	char *want = malloc(NM_ROUND * PAGE);
	struct io_uring_sqe *sqe;
	int got = 0;
	long n;

	fill64(want, NM_ROUND * PAGE, seed);
	memset(r->bufs, 0, NM_ROUND * PAGE);
	if (pwrite(scratch_fd, want, NM_ROUND * PAGE, 0) != NM_ROUND * PAGE) {
		cfail(c, "pwrite of the scratch file: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < NM_ROUND; i++) {
		sqe = (struct io_uring_sqe *)(r->sqes + ((r->sq_tail + i) & (NM_SQ - 1)) * sizeof(*sqe));
		memset(sqe, 0, sizeof(*sqe));
		sqe->opcode = IORING_OP_READ;
		sqe->fd = scratch_fd;
		sqe->addr = (uintptr_t)(r->bufs + (size_t)i * PAGE);
		sqe->len = PAGE;
		sqe->off = (uint64_t)i * PAGE;
		sqe->user_data = 0xb0b00000ULL + seed * 16 + (unsigned)i;
	}
	r->sq_tail += NM_ROUND;
	__atomic_store_n(nm_u32(r, r->p.sq_off.tail), r->sq_tail, __ATOMIC_RELEASE);
	n = syscall(__NR_io_uring_enter, r->fd, NM_ROUND, NM_ROUND, IORING_ENTER_GETEVENTS, NULL, 0);
	if (n != NM_ROUND) {
		cfail(c, "%s: io_uring_enter submitted %ld of %d: %s", what, n, NM_ROUND, n < 0 ? strerror(errno) : "short");
		goto out;
	}
	while (got < NM_ROUND) {
		uint32_t tail = __atomic_load_n(nm_u32(r, r->p.cq_off.tail), __ATOMIC_ACQUIRE);
		struct io_uring_cqe *cqe;

		if (tail == r->cq_head) {
			cfail(c, "%s: %d of %d completions in the CQ the process maps after io_uring_enter returned: the"
			      " kernel posts them elsewhere", what, got, NM_ROUND);
			goto out;
		}
		cqe = (struct io_uring_cqe *)(r->rings + r->p.cq_off.cqes + (r->cq_head & (NM_CQ - 1)) * sizeof(*cqe));
		if (cqe->user_data < 0xb0b00000ULL + seed * 16 || cqe->user_data >= 0xb0b00000ULL + seed * 16 + NM_ROUND ||
		    cqe->res != PAGE) {
			cfail(c, "%s: a completion with user_data %#llx, res %d: not one of this round's reads", what,
			      (unsigned long long)cqe->user_data, cqe->res);
			goto out;
		}
		r->cq_head++;
		__atomic_store_n(nm_u32(r, r->p.cq_off.head), r->cq_head, __ATOMIC_RELEASE);
		got++;
	}
	if (memcmp(r->bufs, want, NM_ROUND * PAGE))
		cfail(c, "%s: the reads' buffers do not hold the file's bytes", what);
out:
	free(want);
}

static void nommap_cell(struct cell *c, enum nmev e)
{
	struct nmring r = {.fd = -1};
	struct pinmark m;
	long held_now, d;
	int err;

	if (ring_map(c))  /* uring_pbuf_cells.h */
		return;
	memset(c->cur, 0, c->half);
	memcpy(c->exp, c->cur, c->half);
	r.bufs = map_aligned(NM_ROUND * PAGE, PAGE, -1);
	if (!r.bufs) {
		cfail(c, "mmap of the buffers: %s", strerror(errno));
		return;
	}
	pin_mark(&m);
	if (e == NM_HOLE || e == NM_UNALIGNED) {
		int want = e == NM_HOLE ? -EFAULT : -EINVAL;

		if (e == NM_HOLE && munmap(c->cur + NM_SQE_AT, PAGE)) {
			cfail(c, "munmap of the SQEs' page: %s", strerror(errno));
			goto out;
		}
		err = nm_setup(&r, c->cur + (e == NM_UNALIGNED ? 64 : 0), c->cur + NM_SQE_AT);
		printf("# %s: io_uring_setup(IORING_SETUP_NO_MMAP): %s\n", c->name, err ? strerror(-err) : "granted");
		if (!err)
			cfail(c, "io_uring_setup(IORING_SETUP_NO_MMAP) granted (%s), not %s", nm_names[e], strerror(-want));
		else if (err != want)
			cfail(c, "io_uring_setup(IORING_SETUP_NO_MMAP) (%s): %s, not %s", nm_names[e], strerror(-err),
			      strerror(-want));
		pins_back(c, &m, "the refused io_uring_setup");
		if (e == NM_HOLE) {
			mmap(c->cur + NM_SQE_AT, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			if (!c->failed[0])
				none_held(c, c->map, c->half, "the refused io_uring_setup");
		}
		goto out;
	}
	if ((err = nm_setup(&r, c->cur, c->cur + NM_SQE_AT))) {
		cfail(c, "io_uring_setup(IORING_SETUP_NO_MMAP | NO_SQARRAY) over %s memory: %s", mem_names[c->mem],
		      strerror(-err));
		goto out;
	}
	/* the premise: the rings' page and the SQEs' page pinned (one FOLL_PIN each), held */
	if ((held_now = pins_outstanding() - (m.acq - m.rel)) != 2)
		cfail(c, "io_uring_setup(IORING_SETUP_NO_MMAP): %ld FOLL_PIN(s) outstanding, want 2 (rings, SQEs)",
		      held_now);
	else if ((d = pages_in_movable(c->cur, PAGE) + pages_in_movable(c->cur + NM_SQE_AT, PAGE)))
		cfail(c, "%ld of the ring's 2 page(s) stay in ZONE_MOVABLE under io_uring's long-term pin", d);
	if (c->failed[0])
		goto out;
	nm_round(c, &r, 1, "before the event");
	if (c->failed[0])
		goto out;
	ring_event(c);  /* uring_pbuf_cells.h */
	if (!c->failed[0] && !c->skip[0])
		nm_round(c, &r, 2, "after the event");
out:
	if (r.fd >= 0)
		close(r.fd);
	munmap(r.bufs, NM_ROUND * PAGE);
	if (c->failed[0] || e >= NM_HOLE)
		return;
	pins_back(c, &m, "the ring was closed (its release is deferred)");
	if (!c->failed[0] && !c->skip[0] && (d = first_diff(c->map + c->half, c->wexp, c->half)) >= 0)
		cfail(c, "after %s the unpinned witness reads other data (byte %ld)", nm_names[e], d);
	else if (!c->failed[0] && !c->skip[0])
		none_held(c, c->map, 2 * c->half, "the ring was closed");
}

static void nommap_cells(void)
{
	static const enum mem mems[] = {ANON, THP, SHMEM};

	for (size_t i = 0; i < sizeof(mems) / sizeof(mems[0]); i++)
		for (enum nmev e = 0; e < NNM; e++) {
			struct cell c = {.fd = -1, .mem = mems[i], .ev = e < NM_HOLE ? nm_ev[e] : NONE};
			double began = now_s();

			if (!nm_applies(c.mem, e))
				continue;
			snprintf(c.name, sizeof(c.name), "uring-nommap/%s/%s", mem_names[c.mem], nm_names[e]);
			if (!nommap_wanted(c.name) || !begins(c.name))
				continue;
			nommap_cell(&c, e);
			mem_unmap(&c);
			verdict(&c, began);
		}
}
