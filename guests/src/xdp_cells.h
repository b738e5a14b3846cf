/* AF_XDP UMEM registration: a long-term pinner any process with CAP_NET_RAW reaches
 * (kconfigs/pinners.config: CONFIG_XDP_SOCKETS, which needs CONFIG_BPF_SYSCALL). Part of
 * pin_matrix.c (its struct cell, mem_map(), event(), verdict(); kentry_cells.h's pin_mark(),
 * pins_back(), none_held(), kentry_missing(); borrow_cells.h's lo_up()), entered by xdp_cells()
 * from main. docs/matrix.md "AF_XDP UMEM" says what each cell checks and why.
 *
 * 6.12: setsockopt(SOL_XDP, XDP_UMEM_REG) (net/xdp/xdp_umem.c xdp_umem_reg()) checks the
 * registration (chunk size, page-aligned address, length a multiple of the chunk size, headroom),
 * then pins the whole range with pin_user_pages(FOLL_WRITE | FOLL_LONGTERM)
 * (xdp_umem_pin_pages(): a short pin is unpinned again and fails with ENOMEM) and vmaps the pages
 * (xdp_umem_addr_map()). The pins go when the socket's last reference does, from a work item
 * (xsk_destruct() -> xp_put_pool() -> xp_release_deferred() -> xdp_umem_release()): the counters
 * are polled back, never read at once.
 *
 * xdp/<memory>/<event>: the first half of the region (16 small pages, or one THP or hugetlb page)
 * is the UMEM, chunks of a page; the second half is the witness, never pinned. The socket is
 * bound in copy mode (XDP_COPY) to lo, queue 0, with a TX and a completion ring. Data check:
 * the process writes an Ethernet frame (ethertype 0x88b5, a payload of this cell's own) over
 * whole pages of the UMEM, posts TX descriptors and kicks with sendto(); copy-mode TX
 * (xsk_build_skb(), lo has no IFF_TX_SKB_NO_LINEAR) copies each frame out of the pinned pages
 * through the vmap (xp_raw_get_data()), loopback_xmit() hands it to the receive path, and an
 * AF_PACKET socket on lo captures it: every byte must be what the pinned page holds (a pin that
 * lost its page sends stale bytes), and the completion ring must return every address. Once
 * before the event, then after it: none; fork (the child writes frames, then the parent writes);
 * MADV_DONTNEED (private memory: the pin keeps the old pages, the process gets fresh zeros);
 * MADV_PAGEOUT and move_pages (the witness must go, the pinned pages stay the process's);
 * munmap of the UMEM while the socket lives (the pin keeps the pages). RX is not checked: it
 * needs an XDP program to redirect into the socket (bpf(2), not written here).
 * Error paths (the registration must fail and leave the FOLL_PIN counters where they were, then a
 * good registration on the same socket must work): a hole or a PROT_NONE page at the witness's
 * first page of a UMEM over the whole region (the pages before it are pinned, then unwound), an
 * address that is not page-aligned, a length that is not a multiple of the chunk size, a headroom
 * past chunk - XDP_PACKET_HEADROOM - skb_shared_info - 128. xdp/ext4-shared/refused: a writable
 * long-term pin of ext4 MAP_SHARED is refused by mm/gup.c check_vma_flags()
 * (writable_file_mapping_allowed(): the mapping needs dirty tracking), so XDP_UMEM_REG fails with
 * EFAULT and pins nothing.
 * Every cell ends with the socket closed, the counters back, no page of the region held
 * (pages_held(); hugetlb: free_hugepages back).
 */
#include <linux/if_xdp.h>
#include <net/ethernet.h>
#include <netpacket/packet.h>
#include <poll.h>

#ifndef AF_XDP
#define AF_XDP 44
#endif
#ifndef SOL_XDP
#define SOL_XDP 283
#endif
#define XDP_ETHERTYPE 0x88b5  /* IEEE 802 local experimental 1: nothing else on lo uses it */
#define XDP_RING 64           /* entries of the TX, fill and completion rings */
#define XDP_FRAMES 16         /* pages of a UMEM sent as frames in a round (all of a small one) */
#define XDP_WAIT_S 10         /* TX completions, a frame on lo: at once, but a loaded TCG guest stalls */

/* The default set's cells (guest time in docs/matrix.md); the rest run in pin-matrix-deep. */
static const char *const xdp_quick[] = {
	"xdp/anon/none", "xdp/anon/dontneed", "xdp/thp/fork", "xdp/shmem/dontneed", "xdp/anon/hole",
	"xdp/hugetlb/prot-none", "xdp/ext4-shared/refused",
};

static int xdp_wanted(const char *name) { return BLOCK_WANTED(name, xdp_quick); }

enum xev { XE_NONE, XE_FORK, XE_DONTNEED, XE_PAGEOUT, XE_MIGRATE, XE_MUNMAP, XE_HOLE, XE_PROTNONE,
	   XE_UNALIGNED, XE_CHUNKLEN, XE_HEADROOM, XE_REFUSED, NXE };
static const char *const xe_names[NXE] = {"none", "fork", "dontneed", "pageout", "migrate", "munmap", "hole",
					  "prot-none", "unaligned", "chunk-len", "headroom", "refused"};
static const enum ev xe_ev[NXE] = {NONE, FORK, DONTNEED, PAGEOUT, MIGRATE, MUNMAP, HOLE, PROTNONE};

static int xe_applies(enum mem m, enum xev e)
{
	if (m == FILESH)
		return e == XE_REFUSED;
	if (e == XE_REFUSED)
		return 0;
	if (e >= XE_UNALIGNED)  /* refused before any pin: one memory kind is enough */
		return m == ANON;
	if (e == XE_HOLE)
		return m == ANON || m == THP;
	if (e == XE_PROTNONE)
		return m == ANON || m == SHMEM || m == HUGE;
	if (m == HUGE)  /* never paged out; migration needs per-node pools (not set up) */
		return e != XE_PAGEOUT && e != XE_MIGRATE;
	return 1;
}

struct xsk {
	int fd, cap;          /* the AF_XDP socket; the AF_PACKET capture on lo */
	int lo;               /* lo's ifindex */
	char *base;           /* the UMEM in the process (where it was registered) */
	size_t len;           /* its length */
	void *tx, *cr;        /* the TX and completion rings' mappings */
	size_t tx_len, cr_len;
	uint32_t *tx_prod, *tx_cons, *cr_prod, *cr_cons;
	struct xdp_desc *tx_desc;
	uint64_t *cr_addr;
	uint32_t tx_next, cr_next;  /* the next TX entry to fill, completion entry to read */
	uint32_t tag;         /* this cell's own, in every frame */
	int rounds, frames;   /* rounds and frames compared (said at the end: the premise) */
};

static uint32_t xdp_tag(const char *name)
{
	uint32_t h = 2166136261u;  /* FNV-1a */

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 16777619u;
	return h;
}

/* The frame of UMEM page idx in phase ph: Ethernet header, "PBXD", tag, page, phase, then a
 * pattern of the four; a whole page long. */
static void xdp_frame(char *p, uint32_t tag, uint32_t idx, uint32_t ph)
{
	static const unsigned char src[6] = {0x02, 'p', 'b', 'x', 'd', 'p'};
	uint32_t head[3] = {tag, idx, ph};

	memset(p, 0, 6);  /* lo's own address: the frame is for this host */
	memcpy(p + 6, src, 6);
	p[12] = (char)(XDP_ETHERTYPE >> 8);
	p[13] = (char)(XDP_ETHERTYPE & 0xff);
	memcpy(p + 14, "PBXD", 4);
	memcpy(p + 18, head, sizeof(head));
	fill(p + 30, PAGE - 30, 30, tag ^ idx * 0x10001u ^ ph << 24);
}

/* The UMEM pages a round sends: every page of a small UMEM, else XDP_FRAMES from first to last. */
static int xdp_samples(size_t npgs, uint32_t idx[XDP_FRAMES])
{
	int n = npgs < XDP_FRAMES ? (int)npgs : XDP_FRAMES;

	for (int i = 0; i < n; i++)
		idx[i] = n == (int)npgs ? (uint32_t)i : (uint32_t)((npgs - 1) * i / (n - 1));
	return n;
}

/* The process writes phase ph's frames over the sampled pages of at; into exp as well when
 * exp is not NULL (the pinned pages are the process's). */
static void xdp_write(struct xsk *x, char *at, char *exp, uint32_t ph)
{
	uint32_t idx[XDP_FRAMES];
	int n = xdp_samples(x->len / PAGE, idx);

	for (int i = 0; i < n; i++) {
		xdp_frame(at + (size_t)idx[i] * PAGE, x->tag, idx[i], ph);
		if (exp)
			memcpy(exp + (size_t)idx[i] * PAGE, at + (size_t)idx[i] * PAGE, PAGE);
	}
}

static int umem_reg(int fd, char *addr, uint64_t len, uint32_t chunk, uint32_t headroom)
{
	struct xdp_umem_reg mr;

	memset(&mr, 0, sizeof(mr));  /* the padding too: the kernel reads it as tx_metadata_len */
	mr.addr = (uintptr_t)addr;
	mr.len = len;
	mr.chunk_size = chunk;
	mr.headroom = headroom;
	return setsockopt(fd, SOL_XDP, XDP_UMEM_REG, &mr, sizeof(mr)) ? -errno : 0;
}

/* An AF_XDP socket, or -1 with why (a kernel built with XDP_SOCKETS fails the cell). */
static int xsk_socket(struct cell *c, struct xsk *x)
{
	char why[160];

	x->fd = socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (x->fd < 0) {
		snprintf(why, sizeof(why), "socket(AF_XDP): %s%s", strerror(errno),
			 errno == EAFNOSUPPORT ? " (CONFIG_XDP_SOCKETS off)" : "");
		kentry_missing(c, "xdp", why);
		return -1;
	}
	return 0;
}

/* Rings (fill, completion, TX), their mappings, and the bind to lo queue 0 in copy mode, over the
 * UMEM registered on x->fd; 0, or -1 with the cell failed. */
static int xsk_bind_lo(struct cell *c, struct xsk *x)
{
	struct xdp_mmap_offsets off;
	socklen_t ol = sizeof(off);
	struct sockaddr_xdp sx = {.sxdp_family = AF_XDP, .sxdp_flags = XDP_COPY, .sxdp_queue_id = 0};
	int n = XDP_RING;

	lo_up();
	x->lo = (int)if_nametoindex("lo");
	if (!x->lo) {
		cfail(c, "no lo interface: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(x->fd, SOL_XDP, XDP_UMEM_FILL_RING, &n, sizeof(n)) ||
	    setsockopt(x->fd, SOL_XDP, XDP_UMEM_COMPLETION_RING, &n, sizeof(n)) ||
	    setsockopt(x->fd, SOL_XDP, XDP_TX_RING, &n, sizeof(n))) {
		cfail(c, "setsockopt of the XDP rings: %s", strerror(errno));
		return -1;
	}
	if (getsockopt(x->fd, SOL_XDP, XDP_MMAP_OFFSETS, &off, &ol)) {
		cfail(c, "getsockopt(XDP_MMAP_OFFSETS): %s", strerror(errno));
		return -1;
	}
	x->tx_len = off.tx.desc + XDP_RING * sizeof(struct xdp_desc);
	x->cr_len = off.cr.desc + XDP_RING * sizeof(uint64_t);
	x->tx = mmap(NULL, x->tx_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, x->fd, XDP_PGOFF_TX_RING);
	if (x->tx == MAP_FAILED) {
		x->tx = NULL;
		cfail(c, "mmap of the TX ring: %s", strerror(errno));
		return -1;
	}
	x->cr = mmap(NULL, x->cr_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, x->fd,
		     XDP_UMEM_PGOFF_COMPLETION_RING);
	if (x->cr == MAP_FAILED) {
		x->cr = NULL;
		cfail(c, "mmap of the completion ring: %s", strerror(errno));
		return -1;
	}
	x->tx_prod = (uint32_t *)((char *)x->tx + off.tx.producer);
	x->tx_cons = (uint32_t *)((char *)x->tx + off.tx.consumer);
	x->tx_desc = (struct xdp_desc *)((char *)x->tx + off.tx.desc);
	x->cr_prod = (uint32_t *)((char *)x->cr + off.cr.producer);
	x->cr_cons = (uint32_t *)((char *)x->cr + off.cr.consumer);
	x->cr_addr = (uint64_t *)((char *)x->cr + off.cr.desc);
	x->tx_next = __atomic_load_n(x->tx_prod, __ATOMIC_ACQUIRE);
	x->cr_next = __atomic_load_n(x->cr_cons, __ATOMIC_ACQUIRE);
	sx.sxdp_ifindex = (uint32_t)x->lo;
	if (bind(x->fd, (struct sockaddr *)&sx, sizeof(sx))) {
		/* copy mode needs no driver support (xp_assign_dev() returns before ndo_bpf) */
		cfail(c, "bind of the AF_XDP socket to lo queue 0 in copy mode: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void xsk_close(struct xsk *x)
{
	if (x->tx)
		munmap(x->tx, x->tx_len);
	if (x->cr)
		munmap(x->cr, x->cr_len);
	x->tx = x->cr = NULL;
	/* the ring mappings hold the socket's file: the socket goes with the last of them */
	if (x->fd >= 0)
		close(x->fd);
	if (x->cap >= 0)
		close(x->cap);
	x->fd = x->cap = -1;
}

/* An AF_PACKET socket on lo that sees every frame lo receives (opened before each round:
 * nothing older in its queue). */
static int xdp_capture(struct cell *c, struct xsk *x)
{
	struct sockaddr_ll sl = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL), .sll_ifindex = x->lo};
	int big = 1 << 20;

	if (x->cap >= 0)
		close(x->cap);
	x->cap = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (x->cap < 0 || bind(x->cap, (struct sockaddr *)&sl, sizeof(sl))) {
		cfail(c, "AF_PACKET socket on lo: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(x->cap, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)))
		setsockopt(x->cap, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	return 0;
}

/* One round: the sampled pages of the UMEM sent as frames, captured on lo, each compared byte for
 * byte with want (what the pinned pages hold: c->exp); old (may be NULL): what they held before,
 * named when a frame matches it. 0, or -1 with the cell failed. */
static int xdp_round(struct cell *c, struct xsk *x, const char *want, const char *old, const char *when)
{
	uint32_t idx[XDP_FRAMES], prod, got = 0, done = 0;
	int n = xdp_samples(x->len / PAGE, idx), seen[XDP_FRAMES] = {0}, compl[XDP_FRAMES] = {0}, others = 0;
	char *buf = malloc(PAGE + 256);
	double until;

	if (xdp_capture(c, x))
		goto out;
	prod = x->tx_next;
	for (int i = 0; i < n; i++) {
		struct xdp_desc *d = &x->tx_desc[(prod + i) & (XDP_RING - 1)];

		d->addr = (uint64_t)idx[i] * PAGE;
		d->len = PAGE;
		d->options = 0;
	}
	x->tx_next = prod + n;
	__atomic_store_n(x->tx_prod, x->tx_next, __ATOMIC_RELEASE);
	until = now_s() + XDP_WAIT_S;
	/* kick until the kernel consumed every descriptor and completed it (TX_BATCH_SIZE a call) */
	while ((int)done < n && now_s() < until) {
		uint32_t cp;

		if (sendto(x->fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN && errno != EBUSY &&
		    errno != ENOBUFS) {
			cfail(c, "%s: sendto (the TX kick): %s", when, strerror(errno));
			goto out;
		}
		cp = __atomic_load_n(x->cr_prod, __ATOMIC_ACQUIRE);
		for (; x->cr_next != cp; x->cr_next++, done++) {
			uint64_t a = x->cr_addr[x->cr_next & (XDP_RING - 1)];
			int k = -1;

			for (int i = 0; i < n && k < 0; i++)
				if (a == (uint64_t)idx[i] * PAGE && !compl[i])
					k = i;
			if (k < 0) {
				cfail(c, "%s: the completion ring returned address %#lx, not one of this round's", when,
				      (unsigned long)a);
				goto out;
			}
			compl[k] = 1;
		}
		__atomic_store_n(x->cr_cons, x->cr_next, __ATOMIC_RELEASE);
		if ((int)done < n)
			usleep(1000);
	}
	if ((int)done < n) {
		cfail(c, "%s: %u of %d TX descriptors completed in %d s (TX consumer %u, producer %u)", when, done, n, XDP_WAIT_S,
		      __atomic_load_n(x->tx_cons, __ATOMIC_ACQUIRE), x->tx_next);
		goto out;
	}
	while ((int)got < n) {
		struct pollfd p = {.fd = x->cap, .events = POLLIN};
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		uint32_t head[3];
		ssize_t r;
		long d;
		int k = -1;

		if (poll(&p, 1, XDP_WAIT_S * 1000) <= 0)
			break;
		r = recvfrom(x->cap, buf, PAGE + 256, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (r < 0 || from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (r < 30 || (unsigned char)buf[12] != XDP_ETHERTYPE >> 8 || (unsigned char)buf[13] != (XDP_ETHERTYPE & 0xff) ||
		    memcmp(buf + 14, "PBXD", 4)) {
			others += r == (ssize_t)PAGE;  /* a page-long frame not ours: what a stale page sends */
			continue;
		}
		memcpy(head, buf + 18, sizeof(head));
		for (int i = 0; i < n && k < 0; i++)
			if (head[0] == x->tag && head[1] == idx[i] && !seen[i])
				k = i;
		if (k < 0) {
			others += r == (ssize_t)PAGE;
			continue;
		}
		seen[k] = 1;
		got++;
		if (r != (ssize_t)PAGE) {
			cfail(c, "%s: the frame of UMEM page %u came %zd bytes long, sent %lu", when, idx[k], r, PAGE);
			goto out;
		}
		if ((d = first_diff(buf, want + (size_t)idx[k] * PAGE, PAGE)) >= 0) {
			int stale = old && first_diff(buf, old + (size_t)idx[k] * PAGE, PAGE) < 0;

			cfail(c, "%s: the frame sent from UMEM page %u differs from what the pinned page holds at byte %ld%s",
			      when, idx[k], d, stale ? " (it is what the page held before: stale)" : "");
			goto out;
		}
	}
	x->rounds++;
	x->frames += (int)got;
	if ((int)got < n) {
		int first = -1;

		for (int i = 0; i < n && first < 0; i++)
			if (!seen[i])
				first = (int)idx[i];
		cfail(c, "%s: %u of %d frames captured on lo (first missing: UMEM page %d; %d other page-long frame(s):"
		      " the pinned page did not hold the frame the process wrote)", when, got, n, first, others);
	}
out:
	free(buf);
	return c->failed[0] ? -1 : 0;
}

/* fork: the child writes frames of phase 2 over the sampled pages of its copy (and must read
 * them back); shared memory carries them into the pinned pages, private memory must not. */
static void xdp_fork(struct cell *c, struct xsk *x)
{
	pid_t pid = cell_fork();

	if (pid == 0) {
		char *mine = malloc(x->len);

		memcpy(mine, c->cur, x->len);
		xdp_write(x, c->cur, mine, 2);
		_exit(memcmp(mine, c->cur, x->len) ? 3 : 0);
	}
	wait_child(c, pid, "fork");
	if (c->shared)
		xdp_write(x, c->exp, NULL, 2);  /* the child's frames are everybody's */
}

/* The registration refused for e; the FOLL_PIN counters back; the region unchanged. */
static void xdp_refused(struct cell *c, struct xsk *x, enum xev e, const struct pinmark *m)
{
	size_t len = c->half, bad = 0;
	char *addr = c->map;
	uint32_t chunk = PAGE, headroom = 0;
	long acq, rel, d;
	int r, want = EINVAL;
	const char *what = "";

	switch (e) {
	case XE_HOLE:
	case XE_PROTNONE:
		/* the UMEM is the whole region, its witness's first page bad: the pages before it pin */
		len = 2 * c->half;
		bad = c->half;
		what = e == XE_HOLE ? "unmapped" : "PROT_NONE";
		if (e == XE_HOLE ? munmap(c->map + bad, PAGE) : mprotect(c->map + bad, c->mem == HUGE ? HPAGE : PAGE, PROT_NONE)) {
			cfail(c, "cannot make page %zu %s: %s", bad / PAGE, what, strerror(errno));
			return;
		}
		want = ENOMEM;  /* xdp_umem_pin_pages(): a short pin */
		break;
	case XE_UNALIGNED:
		addr = c->map + 512;
		len = c->half - PAGE;
		what = "an address 512 bytes into a page";
		break;
	case XE_CHUNKLEN:
		len = c->half - PAGE / 2;
		what = "a length of half a chunk more than a whole number of chunks";
		break;
	case XE_HEADROOM:
		headroom = PAGE - 256;  /* more than chunk - 256 - skb_shared_info - 128 */
		what = "a headroom of 3840 bytes in 4096-byte chunks";
		break;
	case XE_REFUSED:
		want = EFAULT;  /* check_vma_flags(): no writable long-term pin of a dirty-tracked file */
		len = c->half;
		what = "ext4 MAP_SHARED";
		break;
	default:
		return;
	}
	r = umem_reg(x->fd, addr, len, chunk, headroom);
	pin_counts(&acq, &rel);
	printf("# %s: XDP_UMEM_REG of %zu pages (%s): %s; FOLL_PIN acquired +%ld, released +%ld\n", c->name, len / PAGE,
	       what, r ? strerror(-r) : "granted", acq - m->acq, rel - m->rel);
	if (!r) {
		cfail(c, "XDP_UMEM_REG granted a UMEM over %s", what);
		close(x->fd);  /* a fresh socket below: this one holds a UMEM */
		x->fd = -1;
	} else if (-r != want) {
		cfail(c, "XDP_UMEM_REG over %s failed with %s, not %s", what, strerror(-r), strerror(want));
	}
	pins_back(c, m, "the refused XDP_UMEM_REG");
	if ((e == XE_HOLE || e == XE_PROTNONE) && !c->failed[0] && acq - m->acq < (long)(bad / PAGE))
		cskip(c, "XDP_UMEM_REG pinned %ld page(s) before the %s page, not %zu: no unwind to test", acq - m->acq,
		      what, bad / PAGE);
	if (e == XE_HOLE) {  /* a fresh zero page in the hole */
		if (mmap(c->map + bad, PAGE, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
		    MAP_FAILED)
			cfail(c, "cannot map page %zu again: %s", bad / PAGE, strerror(errno));
		memset(c->wexp, 0, PAGE);
	} else if (e == XE_PROTNONE && mprotect(c->map + bad, c->mem == HUGE ? HPAGE : PAGE, PROT_READ | PROT_WRITE)) {
		cfail(c, "mprotect back: %s", strerror(errno));
	}
	if (!c->failed[0] && (d = first_diff(c->map, c->exp, c->half)) >= 0)
		cfail(c, "after the refused XDP_UMEM_REG the UMEM's pages read other data (byte %ld)", d);
	if (!c->failed[0] && (d = first_diff(c->map + c->half, c->wexp, c->half)) >= 0)
		cfail(c, "after the refused XDP_UMEM_REG the witness reads other data (byte %ld)", d);
}

static void xdp_cell(struct cell *c, enum xev e)
{
	struct xsk x = {.fd = -1, .cap = -1, .tag = xdp_tag(c->name)};
	struct pinmark m;
	char *old = NULL;
	long out0, held_now, d;
	size_t npgs;
	int r;

	if (e == XE_MIGRATE && numa_nodes() < 2) {
		cskip(c, "one NUMA node only (numa=fake=2 on the command line?)");
		return;
	}
	if (e == XE_PAGEOUT && c->mem != FILESH && !swap_on()) {
		cskip(c, "no swap in /proc/swaps (swap on zram?)");
		return;
	}
	if (mem_map(c))
		return;
	pin_mark(&m);
	out0 = m.acq - m.rel;
	if (xsk_socket(c, &x))
		return;
	if (e >= XE_HOLE) {
		xdp_refused(c, &x, e, &m);
		if (c->failed[0] || c->skip[0] || e == XE_REFUSED)
			goto close;
		/* what the refusal left: the same socket must take a good UMEM and send from it */
		if (x.fd < 0 && xsk_socket(c, &x))
			goto close;
	}
	x.base = c->map;
	x.len = c->half;
	npgs = x.len / PAGE;
	r = umem_reg(x.fd, x.base, x.len, PAGE, 0);
	if (r) {
		cfail(c, "XDP_UMEM_REG of %zu %s pages: %s", npgs, mem_names[c->mem], strerror(-r));
		goto close;
	}
	/* the premise: one FOLL_PIN a page, held (a pin migrated out of ZONE_MOVABLE first is
	 * released and taken again: outstanding counts, not acquisitions) */
	if ((held_now = pins_outstanding() - out0) != (long)npgs)
		cfail(c, "XDP_UMEM_REG of %zu pages: %ld FOLL_PIN(s) outstanding, want one a page", npgs, held_now);
	else if ((d = pages_in_movable(x.base, x.len)))
		cfail(c, "%ld of %zu UMEM page(s) stay in ZONE_MOVABLE under XDP's long-term pin", d, npgs);
	if (c->failed[0] || xsk_bind_lo(c, &x))
		goto close;
	xdp_write(&x, c->cur, c->exp, 0);
	if (xdp_round(c, &x, c->exp, NULL, "before the event"))
		goto close;
	old = malloc(c->half);
	memcpy(old, c->exp, c->half);
	if (e == XE_FORK) {
		xdp_fork(c, &x);
		if (c->failed[0] || xdp_round(c, &x, c->exp, old, "after the child wrote"))
			goto close;
		if ((d = first_diff(c->cur, c->exp, c->half)) >= 0) {
			cfail(c, "after fork the parent reads other data than the pinned pages hold (byte %ld)", d);
			goto close;
		}
		memcpy(old, c->exp, c->half);
	} else if (e < XE_HOLE) {
		c->ev = xe_ev[e];
		event(c, 1);
		c->ev = NONE;
		if (c->failed[0] || c->skip[0])
			goto close;
	}
	if (e == XE_DONTNEED && !c->mapped) {
		/* private: the process re-faults fresh zero pages; its frames go there, not to the pin */
		char *zero = calloc(1, c->half);

		if ((d = first_diff(c->cur, zero, c->half)) >= 0)
			cfail(c, "after MADV_DONTNEED of a private mapping the process reads old data (byte %ld)", d);
		free(zero);
		if (c->failed[0])
			goto close;
		xdp_write(&x, c->cur, NULL, 1);
	} else if (c->mapped) {
		xdp_write(&x, c->cur, c->exp, 1);  /* after the event: the pin must send these */
	}
	xdp_round(c, &x, c->exp, old, c->mapped ? "the process's frames after the event" :
		  "after the process let go of the pages");
close:
	if (x.rounds && !c->failed[0])
		printf("# %s: %d frame(s) in %d round(s) sent from the pinned pages (copy mode, lo), captured, equal\n",
		       c->name, x.frames, x.rounds);
	xsk_close(&x);
	free(old);
	if (c->failed[0]) {
		/* the first failure explains: no second 5 s wait on leaked pins, only a short one for
		 * the deferred release, which the next cell's baseline would otherwise see */
		for (int i = 0; i < 10 && pins_outstanding() != out0; i++)
			usleep(100 * 1000);
		return;
	}
	pins_back(c, &m, "the socket was closed (the UMEM's release is deferred)");
	if (c->failed[0] || c->skip[0])
		return;
	if ((d = first_diff(c->map + c->half, c->wexp, c->half)) >= 0)
		cfail(c, "after %s the unpinned witness reads other data (byte %ld)", xe_names[e], d);
	else if (c->mem == SHMEM && e == XE_MUNMAP) {
		/* the memfd keeps the pages the UMEM pinned: map them again to ask */
		char *again = mmap(NULL, 2 * c->half, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);

		if (again == MAP_FAILED) {
			cfail(c, "cannot map the memfd again: %s", strerror(errno));
		} else {
			if ((d = first_diff(again, c->exp, c->half)) >= 0)
				cfail(c, "the memfd reads other data than the pinned pages held (byte %ld)", d);
			else
				none_held(c, again, 2 * c->half, "the socket was closed");
			munmap(again, 2 * c->half);
		}
	} else if (c->mem != HUGE && e != XE_MUNMAP) {
		none_held(c, c->map, 2 * c->half, "the socket was closed");
	}
}

static void xdp_cells(void)
{
	static const enum mem mems[] = {ANON, THP, SHMEM, HUGE, FILESH};

	for (size_t i = 0; i < sizeof(mems) / sizeof(mems[0]); i++)
		for (enum xev e = 0; e < NXE; e++) {
			struct cell c = {.fd = -1, .mem = mems[i], .ev = NONE};
			double began = now_s();
			long hfree = -1;

			if (!xe_applies(c.mem, e))
				continue;
			snprintf(c.name, sizeof(c.name), "xdp/%s/%s", mem_names[c.mem], xe_names[e]);
			if (!xdp_wanted(c.name) || !begins(c.name))
				continue;
			if (c.mem == HUGE)
				hfree = read_long(HUGE_FREE);
			if (c.mem == FILESH && !ext4_dir)
				cskip(&c, "no ext4 directory given (-d)");
			else
				xdp_cell(&c, e);
			mem_unmap(&c);
			if (hfree >= 0 && !c.failed[0] && !c.skip[0]) {
				long now = read_long(HUGE_FREE);

				for (int t = 0; t < 100 && now != hfree; t++) {
					usleep(20000);
					now = read_long(HUGE_FREE);
				}
				if (now != hfree)
					cfail(&c, "free_hugepages %ld after the socket and the mapping went, %ld before: a huge page"
						  " still held", now, hfree);
			}
			verdict(&c, began);
		}
}
