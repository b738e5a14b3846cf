/* io_uring provided-buffer rings in user memory: a long-term pin of the ring itself that no
 * other cell takes. IORING_REGISTER_PBUF_RING without IOU_PBUF_RING_MMAP pins the ring's pages
 * (io_uring/kbuf.c io_pin_pbuf_ring() -> io_uring/memmap.c io_pin_pages():
 * pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM)) and vmaps them; from then on the kernel reads
 * the process's buffer entries and its tail through that vmap, and with IOU_PBUF_RING_INC
 * (6.12) also writes an entry back (addr and len of a buffer consumed in part:
 * io_kbuf_inc_commit()). A pin that lost the process's page would read stale entries (a read
 * lands in a buffer the process never offered) or write where the process cannot see it. Part of
 * pin_matrix.c (struct cell, mem_map(), event(), verdict(), the global ring and scratch_fd;
 * kentry_cells.h's pin_mark(), pins_back(), none_held()), entered by pbuf_cells() from main.
 *
 * uring-pbuf/<memory>/<event>[-inc]: the pinned half of the cell's region (16 small pages, 4096
 * entries; or 128 pages of a THP, the most entries a ring may have) is the ring. Each round
 * offers PB_ROUND buffers of a page (entries written by the process at its tail, the tail
 * advanced), then reads that many pages of a pattern from the scratch file with
 * IOSQE_BUFFER_SELECT: every completion must name the next offered buffer (IORING_CQE_F_BUFFER,
 * the bid in the upper flags) and that buffer must hold the read's bytes. -inc: each read takes
 * a third of a page, and the process must see the kernel's write-back in the entry (addr moved
 * on by it, len down by it) before the next read continues in the same buffer. A round before
 * the event and one after it: none; fork (the child scribbles over the ring, which must stay the
 * parent's); MADV_PAGEOUT, move_pages and compaction (the pinned ring stays; the witness goes);
 * KSM. Error paths (the registration must fail and leave the counters where they were): the ring
 * over a hole (a page munmapped part way: io_pin_pages() gets fewer pages, unpins them, EFAULT),
 * an address that is not page-aligned and an entry count that is not a power of two (EINVAL,
 * before any pin); ext4 MAP_SHARED: a writable long-term pin is refused (EFAULT).
 * Every cell ends with the ring unregistered, the FOLL_PIN counters back and no page of the
 * region held (pages_held()).
 */
#define PB_GROUP 7
#define PB_ROUND 4         /* buffers offered, and reads, a round */
#define PB_MAX_ENTRIES 32768

enum pbev { PB_NONE, PB_FORK, PB_PAGEOUT, PB_MIGRATE, PB_COMPACT, PB_KSM, PB_HOLE, PB_UNALIGNED, PB_ENTRIES,
	    PB_REFUSED, NPB };
static const char *const pb_names[NPB] = {"none", "fork", "pageout", "migrate", "compact", "ksm", "hole",
					  "unaligned", "entries", "refused"};
static const enum ev pb_ev[NPB] = {NONE, FORK, PAGEOUT, MIGRATE, COMPACT, KSM};

static const char *const pbuf_quick[] = {
	"uring-pbuf/anon/none", "uring-pbuf/anon/fork-inc", "uring-pbuf/thp/none-inc", "uring-pbuf/anon/migrate",
	"uring-pbuf/shmem/pageout", "uring-pbuf/anon/hole", "uring-pbuf/ext4-shared/refused",
};

static int pbuf_wanted(const char *name) { return BLOCK_WANTED(name, pbuf_quick); }

static int pb_applies(enum mem m, enum pbev e)
{
	if (m == FILESH)
		return e == PB_REFUSED;
	if (e == PB_REFUSED)
		return 0;
	if (e == PB_UNALIGNED || e == PB_ENTRIES || e == PB_HOLE)
		return m == ANON;
	if (e == PB_KSM || e == PB_COMPACT)
		return m == ANON || m == THP;
	if (e == PB_FORK)  /* shared memory: the child's writes are the parent's too, by design */
		return m == ANON || m == THP;
	return 1;
}

struct pbuf {
	struct io_uring_buf_ring *br;
	unsigned entries;
	uint16_t tail, next_bid;  /* the process's tail; the bid its next buffer gets */
	char *bufs;               /* the buffers offered (ordinary memory, copied into) */
	int inc, registered;
	long reads;
};

/* 6.12's struct io_uring_buf_reg (uapi): liburing 2.3's own header has no flags field yet */
struct pb_reg {
	uint64_t ring_addr;
	uint32_t ring_entries;
	uint16_t bgid, flags;
	uint32_t min_left, resv[5];
};
#define PB_RING_INC 2  /* IOU_PBUF_RING_INC */

static int pb_register(struct pbuf *p, char *addr, unsigned entries, int inc)
{
	struct pb_reg reg = {.ring_addr = (uintptr_t)addr, .ring_entries = entries, .bgid = PB_GROUP,
			     .flags = inc ? PB_RING_INC : 0};

	(void)p;
	_Static_assert(sizeof(reg) == sizeof(struct io_uring_buf_reg), "the uapi's layout");
	return io_uring_register_buf_ring(&ring, (struct io_uring_buf_reg *)&reg, 0);
}

/* One read of n bytes at off of the scratch file into the group's next buffer: its bid, or -1 */
static int pb_read(struct cell *c, size_t n, off_t off, unsigned *flags)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	struct io_uring_cqe *cqe;
	int res;

	io_uring_prep_read(sqe, scratch_fd, NULL, (unsigned)n, off);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = PB_GROUP;
	io_uring_submit(&ring);
	if (io_uring_wait_cqe(&ring, &cqe)) {
		cfail(c, "io_uring_wait_cqe of a buffer-select read failed");
		return -1;
	}
	res = cqe->res;
	*flags = cqe->flags;
	io_uring_cqe_seen(&ring, cqe);
	if (res != (int)n) {
		cfail(c, "a buffer-select read of %zu bytes: %s", n, res < 0 ? strerror(-res) : "short");
		return -1;
	}
	if (!(*flags & IORING_CQE_F_BUFFER)) {
		cfail(c, "a buffer-select read completed without a buffer (no IORING_CQE_F_BUFFER)");
		return -1;
	}
	return (int)(*flags >> IORING_CQE_BUFFER_SHIFT);
}

/* A round: PB_ROUND buffers offered through the ring, read into, checked (what says when) */
static void pb_round(struct cell *c, struct pbuf *p, unsigned seed, const char *what)
{
	char *want = malloc(PB_ROUND * PAGE);
	size_t part = p->inc ? PAGE / 3 : PAGE;

	fill64(want, PB_ROUND * PAGE, seed);
	if (pwrite(scratch_fd, want, PB_ROUND * PAGE, 0) != PB_ROUND * PAGE) {
		cfail(c, "pwrite of the scratch file: %s", strerror(errno));
		goto out;
	}
	memset(p->bufs, 0, PB_ROUND * PAGE);
	for (int i = 0; i < PB_ROUND; i++) {  /* the process offers its buffers: entries, then the tail */
		struct io_uring_buf *b = &p->br->bufs[(p->tail + i) & (p->entries - 1)];

		b->addr = (uintptr_t)(p->bufs + (size_t)i * PAGE);
		b->len = PAGE;
		b->bid = (uint16_t)(p->next_bid + i);
	}
	p->tail = (uint16_t)(p->tail + PB_ROUND);
	__atomic_store_n(&p->br->tail, p->tail, __ATOMIC_RELEASE);
	for (int i = 0; i < PB_ROUND && !c->failed[0]; i++) {
		uint16_t bid = (uint16_t)(p->next_bid + i);
		struct io_uring_buf *b = &p->br->bufs[(p->tail - PB_ROUND + i) & (p->entries - 1)];

		for (size_t done = 0; done < (p->inc ? 3 * part : PAGE) && !c->failed[0]; done += part) {
			unsigned flags;
			int got = pb_read(c, part, (off_t)(i * PAGE + done), &flags);

			p->reads++;
			if (got < 0)
				break;
			if (got != bid) {
				cfail(c, "%s: the read took buffer %d, not %u, the next one the process offered: the kernel"
				      " reads other ring entries than the process wrote", what, got, bid);
				break;
			}
			if (memcmp(p->bufs + (size_t)i * PAGE + done, want + (size_t)i * PAGE + done, part)) {
				cfail(c, "%s: buffer %u does not hold the bytes read into it (at %zu)", what, bid, done);
				break;
			}
			/* -inc: the kernel wrote the entry back; the process must see it (not the last part,
			 * after which the buffer may be used up: IORING_CQE_F_BUF_MORE says which) */
			if (p->inc && done + part < 3 * part &&
			    (b->addr != (uintptr_t)(p->bufs + (size_t)i * PAGE + done + part) || b->len != PAGE - done - part)) {
				cfail(c, "%s: after %zu bytes of buffer %u the ring entry the process maps says addr +%lld,"
				      " len %u, not +%zu, %zu: the kernel's write-back went elsewhere", what, done + part, bid,
				      (long long)(b->addr - (uintptr_t)(p->bufs + (size_t)i * PAGE)), b->len, done + part,
				      PAGE - done - part);
				break;
			}
		}
		if (p->inc && !c->failed[0]) {  /* the rest of the page: one more read ends the buffer */
			unsigned flags;
			size_t rest = PAGE - 3 * part;

			if (rest && pb_read(c, rest, (off_t)(i * PAGE + 3 * part), &flags) != bid)
				cfail(c, "%s: the last %zu bytes of buffer %u went to another buffer", what, rest, bid);
		}
	}
	p->next_bid = (uint16_t)(p->next_bid + PB_ROUND);
out:
	free(want);
}

/* mem_map() for a ring cell (this block and uring_nommap_cells.h), once its event can happen */
static int ring_map(struct cell *c)
{
	if (c->ev == MIGRATE && numa_nodes() < 2) {
		cskip(c, "one NUMA node only (numa=fake=2 on the command line?)");
		return -1;
	}
	if (c->ev == PAGEOUT && !swap_on()) {
		cskip(c, "no swap in /proc/swaps (swap on zram?)");
		return -1;
	}
	return mem_map(c);
}

/* The event of a cell whose pinned half is a ring the kernel uses through its pin (this block
 * and uring_nommap_cells.h): fork, where the child scribbles over its private copy, which must
 * reach neither the parent's nor the kernel's; else the matrix's own event (c->ev, set before
 * mem_map(): KSM wants a witness of pages alike). */
static void ring_event(struct cell *c)
{
	long d;

	memcpy(c->exp, c->cur, c->half);
	if (c->ev == FORK) {
		pid_t pid = cell_fork();

		if (pid == 0) {
			memset(c->cur, 0x5a, c->half);
			_exit(0);
		}
		wait_child(c, pid, "fork");
		if (!c->failed[0] && (d = first_diff(c->cur, c->exp, c->half)) >= 0)
			cfail(c, "after fork the parent's ring memory reads the child's bytes (byte %ld)", d);
	} else if (c->ev != NONE) {
		event(c, 1);
	}
}

/* A registration that must be refused with err and leave the counters and pages alone */
static void pb_refused(struct cell *c, enum pbev e, const struct pinmark *m)
{
	struct pbuf p = {0};
	char *at = c->map;
	unsigned entries = (unsigned)(c->half / sizeof(struct io_uring_buf));
	int want = e == PB_HOLE || e == PB_REFUSED ? -EFAULT : -EINVAL, r;

	if (e == PB_HOLE) {  /* the ring runs over the witness, whose third page is gone */
		entries = (unsigned)(2 * c->half / sizeof(struct io_uring_buf));
		if (munmap(c->map + c->half + 2 * PAGE, PAGE)) {
			cfail(c, "munmap of a page part way: %s", strerror(errno));
			return;
		}
	} else if (e == PB_UNALIGNED) {
		at = c->map + 64;
		entries = 256;
	} else if (e == PB_ENTRIES) {
		entries = 3000;
	}
	r = pb_register(&p, at, entries, 0);
	printf("# %s: IORING_REGISTER_PBUF_RING of %u entries at +%ld: %s\n", c->name, entries, (long)(at - c->map),
	       r ? strerror(-r) : "granted");
	if (!r) {
		cfail(c, "IORING_REGISTER_PBUF_RING granted (%s), not %s", pb_names[e], strerror(-want));
		io_uring_unregister_buf_ring(&ring, PB_GROUP);
	} else if (r != want) {
		cfail(c, "IORING_REGISTER_PBUF_RING (%s): %s, not %s", pb_names[e], strerror(-r), strerror(-want));
	}
	pins_back(c, m, "the refused IORING_REGISTER_PBUF_RING");
	if (!c->failed[0] && e == PB_HOLE) {
		none_held(c, c->map, c->half + 2 * PAGE, "the refused IORING_REGISTER_PBUF_RING");
		mmap(c->map + c->half + 2 * PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		     -1, 0);
	}
}

static void pbuf_cell(struct cell *c, enum pbev e, int inc)
{
	struct pbuf p = {.inc = inc};
	struct pinmark m;
	long held_now, d;
	size_t npgs;
	int r;

	if (ring_map(c))
		return;
	pin_mark(&m);
	if (e >= PB_HOLE) {
		pb_refused(c, e, &m);
		return;
	}
	p.entries = (unsigned)(c->half / sizeof(struct io_uring_buf));
	if (p.entries > PB_MAX_ENTRIES)
		p.entries = PB_MAX_ENTRIES;
	npgs = p.entries * sizeof(struct io_uring_buf) / PAGE;
	p.br = (struct io_uring_buf_ring *)c->cur;
	memset(c->cur, 0, c->half);  /* the tail (in entry 0) starts at 0 */
	memcpy(c->exp, c->cur, c->half);
	p.bufs = map_aligned(PB_ROUND * PAGE, PAGE, -1);
	if (!p.bufs) {
		cfail(c, "mmap of the buffers: %s", strerror(errno));
		return;
	}
	r = pb_register(&p, c->cur, p.entries, inc);
	if (r) {
		cfail(c, "IORING_REGISTER_PBUF_RING of %u entries (%zu %s pages)%s: %s", p.entries, npgs, mem_names[c->mem],
		      inc ? " with IOU_PBUF_RING_INC" : "", strerror(-r));
		goto out;
	}
	p.registered = 1;
	/* the premise: one FOLL_PIN a page of the ring, held, none left in ZONE_MOVABLE */
	if ((held_now = pins_outstanding() - (m.acq - m.rel)) != (long)npgs)
		cfail(c, "IORING_REGISTER_PBUF_RING of %zu pages: %ld FOLL_PIN(s) outstanding, want one a page", npgs,
		      held_now);
	else if ((d = pages_in_movable(c->cur, npgs * PAGE)))
		cfail(c, "%ld of %zu ring page(s) stay in ZONE_MOVABLE under io_uring's long-term pin", d, npgs);
	if (c->failed[0])
		goto out;
	pb_round(c, &p, 11, "before the event");
	if (c->failed[0])
		goto out;
	ring_event(c);
	if (!c->failed[0] && !c->skip[0])
		pb_round(c, &p, 12, "after the event");
out:
	if (p.registered && io_uring_unregister_buf_ring(&ring, PB_GROUP))
		cfail(c, "IORING_UNREGISTER_PBUF_RING failed");
	if (p.reads && !c->failed[0])
		printf("# %s: %ld buffer-select read(s) through the pinned ring, each in the buffer offered\n", c->name,
		       p.reads);
	if (p.bufs)
		munmap(p.bufs, PB_ROUND * PAGE);
	if (c->failed[0])
		return;
	if (e == PB_KSM)  /* the witness's merged pages share one KSM page: held by every mapping */
		madvise(c->map, 2 * c->half, MADV_UNMERGEABLE);
	pins_back(c, &m, "the ring was unregistered");
	if (!c->failed[0] && !c->skip[0] && (d = first_diff(c->map + c->half, c->wexp, c->half)) >= 0)
		cfail(c, "after %s the unpinned witness reads other data (byte %ld)", pb_names[e], d);
	else if (!c->failed[0] && !c->skip[0])
		none_held(c, c->map, 2 * c->half, "the ring was unregistered");
}

static void pbuf_cells(void)
{
	static const enum mem mems[] = {ANON, THP, SHMEM, FILESH};

	for (size_t i = 0; i < sizeof(mems) / sizeof(mems[0]); i++)
		for (enum pbev e = 0; e < NPB; e++)
			for (int inc = 0; inc < 2; inc++) {
				struct cell c = {.fd = -1, .mem = mems[i], .ev = e < PB_HOLE ? pb_ev[e] : NONE};
				double began = now_s();

				if (!pb_applies(c.mem, e) || (inc && e >= PB_HOLE))
					continue;
				snprintf(c.name, sizeof(c.name), "uring-pbuf/%s/%s%s", mem_names[c.mem], pb_names[e],
					 inc ? "-inc" : "");
				if (!pbuf_wanted(c.name) || !begins(c.name))
					continue;
				if (!ring_ok)
					cskip(&c, "io_uring_queue_init failed");
				else if (c.mem == FILESH && !ext4_dir)
					cskip(&c, "no ext4 directory given (-d)");
				else
					pbuf_cell(&c, e, inc);
				if (e == PB_KSM && c.map)
					madvise(c.map, 2 * c.half, MADV_UNMERGEABLE);
				mem_unmap(&c);
				verdict(&c, began);
			}
}
