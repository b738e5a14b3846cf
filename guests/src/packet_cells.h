/* packet/...: AF_PACKET mmap rings (net/packet/af_packet.c), kernel pages mapped into user
 * space with vm_insert_page() and written by both sides: the kernel's receive path writes
 * frames and their headers into the RX ring, user space writes frames into the TX ring for the
 * kernel to send from (tpacket_fill_skb() hands the ring's pages to the skb). Part of
 * pin_matrix.c (struct cell, cfail/cskip, cell_fork(), first_diff(); kentry_cells.h's
 * kentry_missing(); borrow_cells.h's lo_up()), entered by packet_cells() and
 * packet_opts_race() from main.
 *
 * 6.12's rules (packet_setsockopt(), packet_set_ring(), packet_mmap()): PACKET_VERSION,
 * PACKET_RESERVE (and the other layout options) are refused with EBUSY while a ring exists;
 * PACKET_RX_RING/PACKET_TX_RING read a tpacket_req (V1, V2) or tpacket_req3 (V3) by the version
 * the socket has; a ring is refused with EINVAL for a block size not a positive multiple of the
 * page, a frame smaller than the version's header plus the reserve or not 16-aligned, a frame
 * count other than frames-per-block x blocks, a count that overflows, and on V3 TX any
 * retire/priv/feature field (checked after the blocks were allocated: an unwind); ENOMEM when
 * the block array cannot be allocated; EBUSY for a second ring, and for any change (teardown
 * too) while the ring is mapped. mmap must be exactly the rings' size at offset 0.
 * Frame layout: V1/V2 a frame per tp_frame_size slot, V3 blocks (struct tpacket_block_desc)
 * of variable frames; the packet at hdr + tp_mac, tp_mac = TPACKET_ALIGN(hdrlen + 16) +
 * reserve - 14 for an Ethernet frame on a SOCK_RAW socket (tpacket_rcv()); TX data at
 * TPACKET_ALIGN(sizeof(header)) of its slot.
 *
 * The frames: Ethernet, ethertype 0x88b6 (IEEE local experimental 2), sent on lo by a raw
 * socket of protocol 0 (it receives nothing); each self-describing (tag, sequence, length) with
 * every byte from a pattern of those, so a frame is checked alone, byte for byte.
 * packet/rx/v1|v2|v3: an RX ring of the version (a reserve each), PK_ROUNDS x 8 frames of
 *   varying length through a ring of 32 slots (it wraps), each read where and how the reported
 *   version says (getsockopt PACKET_VERSION, PACKET_HDRLEN, PACKET_RESERVE): status, lengths,
 *   tp_mac, the sockaddr_ll, every byte; PACKET_STATISTICS counts them, no drop; teardown
 *   refused while mapped, then done.
 * packet/tx/v1|v2|v3: a TX ring; every slot filled and sent (sendto() with the address, waiting
 *   for completion); every slot back to TP_STATUS_AVAILABLE; a second socket captures each frame
 *   byte for byte; twice, the second pass with new bytes in the same slots (none stale). The
 *   captures are read before the slots are written again (lo's xmit orphans the skb: the slot is
 *   "available" while a receiver may still hold its page).
 * packet/version: one socket through V1, V2, V3, V1: ring, mmap, EBUSY for PACKET_VERSION,
 *   PACKET_RESERVE and teardown while mapped, frames checked, munmap, teardown, next version.
 * packet/fork: the ring mapped, fork: the child reads the frames sent after the fork and gives
 *   the slots back; the parent reads the next ones where the child left off; teardown refused
 *   until the parent's munmap (the child's mapping went with it: po->mapped back to 0).
 * packet/munmap: a sender thread keeps frames coming while the ring is unmapped, torn down, set up
 *   again with another version and mapped: every frame then read parses by the new version.
 * packet/bad-ring: each bad request above refused with its errno and leaving no ring (mmap
 *   refused), a second ring EBUSY, a bad mmap refused; then a good ring works.
 * race/packet-opts: three threads on one socket, PACKET_RX_RING set up and torn down,
 *   PACKET_VERSION cycled, PACKET_RESERVE changed, for a few ms a round, the socket closed each
 *   round; after each round a frame read by the version and reserve the socket reports (a ring
 *   built for another version than the socket says is a FAIL, or the kernel's oops). Premise:
 *   PACKET_VERSION met a ring (EBUSY) in some round, else SKIP.
 * The console scanner and the pages oracle see what is left after.
 */
/* the tpacket structures are only in linux/if_packet.h, whose sockaddr_ll and packet_mreq
 * glibc's netpacket/packet.h (xdp_cells.h) already defined: the kernel's go by other names */
#define sockaddr_ll sockaddr_ll_uapi
#define packet_mreq packet_mreq_uapi
#include <linux/if_packet.h>
#undef sockaddr_ll
#undef packet_mreq

#define PK_ETHERTYPE 0x88b6
#define PK_BLOCK (4 * 4096)  /* int: 4 pages */
#define PK_NBLOCKS 4
#define PK_FRAME 2048
#define PK_FPB (PK_BLOCK / PK_FRAME)
#define PK_NFRAMES (PK_FPB * PK_NBLOCKS)
#define PK_RING (PK_BLOCK * PK_NBLOCKS)
#define PK_MAXLEN 1500  /* bytes of a frame, the Ethernet header in */
#define PK_ROUNDS 10    /* rounds of 8 frames: 80 through 32 slots */
#define PK_WAIT_S "10 s"
#define PK_WAIT_MS 10000 /* a frame on lo, a TX slot given back: at once, but a loaded TCG guest stalls for seconds */
#define PK_TOV 2        /* V3: ms before a block with frames is handed over */

struct pkhead {
	char magic[4];
	uint32_t tag, seq, len;
};

struct pkring {
	int fd, ver;  /* ver: TPACKET_V1.. */
	char *map;    /* the RX ring at 0 */
	unsigned next;  /* V1/V2: the next slot; V3: the block being read */
	unsigned in_blk, blk_pkts;
	char *pkt;    /* V3: the next frame in the block, NULL: the block not yet handed over */
	unsigned reserve;
	unsigned strays;  /* frames of another tag (another cell's, late: packet/munmap's flood) passed over */
};

struct pkfr {  /* one received frame, as its version's header says */
	char *hdr;
	uint32_t len, snaplen, next_off;
	uint16_t mac;
	unsigned long status;
};

static const char *const pk_vnames[3] = {"v1", "v2", "v3"};
static int pk_lo;

static size_t pk_hdrsize(int ver)
{
	return ver == TPACKET_V1 ? sizeof(struct tpacket_hdr)
				 : ver == TPACKET_V2 ? sizeof(struct tpacket2_hdr) : sizeof(struct tpacket3_hdr);
}

/* Where an Ethernet frame starts after its header (tpacket_rcv(), SOCK_RAW) */
static unsigned pk_macoff(int ver, unsigned reserve)
{
	return (unsigned)TPACKET_ALIGN(TPACKET_ALIGN(pk_hdrsize(ver)) + sizeof(struct sockaddr_ll) + 16) + reserve - 14;
}

static size_t pk_len(uint32_t seq) { return 60 + (seq * 397u) % (PK_MAXLEN - 60 + 1); }

/* The frame (tag, seq): Ethernet header to nobody, our ethertype, the head, a pattern */
static void pk_frame(char *f, size_t len, uint32_t tag, uint32_t seq)
{
	struct pkhead h = {{'P', 'B', 'P', 'K'}, tag, seq, (uint32_t)len};

	memset(f, 0, 12);
	f[12] = (char)(PK_ETHERTYPE >> 8);
	f[13] = (char)(PK_ETHERTYPE & 0xff);
	memcpy(f + 14, &h, sizeof(h));
	for (size_t i = 14 + sizeof(h); i < len; i++)
		f[i] = (char)((i * 31 + seq * 7 + tag) ^ (i >> 8));
}

/* A frame checked alone: its head says what it must be; 0, or -1 with why */
static int pk_verify(const char *f, size_t len, struct pkhead *h, char *why, size_t n)
{
	char want[PK_MAXLEN];
	long d;

	if (len < 14 + sizeof(*h) || len > PK_MAXLEN) {
		snprintf(why, n, "a frame of %zu bytes (ours are 60..%d)", len, PK_MAXLEN);
		return -1;
	}
	memcpy(h, f + 14, sizeof(*h));
	if (memcmp(h->magic, "PBPK", 4) || h->len != len) {
		snprintf(why, n, "a frame of %zu bytes whose head is not ours (magic %.4s, length %u)", len, h->magic, h->len);
		return -1;
	}
	pk_frame(want, len, h->tag, h->seq);
	if ((d = first_diff(f, want, len)) >= 0) {
		snprintf(why, n, "frame %u (tag %u, %zu bytes) differs at byte %ld", h->seq, h->tag, len, d);
		return -1;
	}
	return 0;
}

/* A raw socket of protocol 0 (receives nothing) that sends our frames on lo */
static int pk_sender(void)
{
	return socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
}

static int pk_send(int s, uint32_t tag, uint32_t seq)
{
	struct sockaddr_ll sl = {.sll_family = AF_PACKET, .sll_protocol = htons(PK_ETHERTYPE), .sll_ifindex = pk_lo,
				 .sll_halen = 6};
	char f[PK_MAXLEN];
	size_t len = pk_len(seq);

	pk_frame(f, len, tag, seq);
	return sendto(s, f, len, 0, (struct sockaddr *)&sl, sizeof(sl)) == (ssize_t)len ? 0 : -1;
}

static int pk_bind(int fd)
{
	struct sockaddr_ll sl = {.sll_family = AF_PACKET, .sll_protocol = htons(PK_ETHERTYPE), .sll_ifindex = pk_lo};

	return bind(fd, (struct sockaddr *)&sl, sizeof(sl));
}

static int pk_setint(int fd, int opt, int v) { return setsockopt(fd, SOL_PACKET, opt, &v, sizeof(v)); }

static int pk_getint(int fd, int opt)
{
	int v = -1;
	socklen_t l = sizeof(v);

	return getsockopt(fd, SOL_PACKET, opt, &v, &l) ? -1 : v;
}

/* The geometry every ring here has; a zero request (nblocks 0) tears down */
static int pk_ring_req(int fd, int opt, unsigned nblocks, unsigned tov)
{
	struct tpacket_req3 q = {.tp_block_size = PK_BLOCK, .tp_block_nr = nblocks, .tp_frame_size = PK_FRAME,
				 .tp_frame_nr = nblocks * PK_FPB, .tp_retire_blk_tov = tov};

	if (!nblocks)
		q = (struct tpacket_req3){0};
	return setsockopt(fd, SOL_PACKET, opt, &q, sizeof(q));
}

/* A socket of version ver (reserve bytes reserved) with an RX ring mapped, bound to lo */
static int pk_open_rx(struct cell *c, struct pkring *r, int ver, unsigned reserve)
{
	*r = (struct pkring){.fd = -1, .ver = ver, .reserve = reserve};
	r->map = MAP_FAILED;
	r->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (r->fd < 0) {
		kentry_missing(c, "packet", "socket(AF_PACKET, SOCK_RAW)");
		return -1;
	}
	if (pk_setint(r->fd, PACKET_VERSION, ver) || pk_setint(r->fd, PACKET_RESERVE, (int)reserve) ||
	    pk_ring_req(r->fd, PACKET_RX_RING, PK_NBLOCKS, PK_TOV)) {
		cfail(c, "PACKET_VERSION %s, PACKET_RESERVE %u, PACKET_RX_RING: %s", pk_vnames[ver], reserve, strerror(errno));
		return -1;
	}
	r->map = mmap(NULL, PK_RING, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	if (r->map == MAP_FAILED || pk_bind(r->fd)) {
		cfail(c, "mmap of the RX ring or bind to lo: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void pk_close(struct pkring *r)
{
	if (r->map != MAP_FAILED)
		munmap(r->map, PK_RING);
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->map = MAP_FAILED;
}

/* The next frame of the ring, as r->ver says it is laid out: 1, 0 none in ms, -1 with why */
static int pk_next(struct pkring *r, struct pkfr *f, int ms, char *why, size_t n)
{
	double until = now_s() + ms / 1000.0;

	for (;;) {
		if (r->ver != TPACKET_V3) {
			char *h = r->map + (r->next / PK_FPB) * PK_BLOCK + (r->next % PK_FPB) * PK_FRAME;

			f->hdr = h;
			if (r->ver == TPACKET_V1) {
				struct tpacket_hdr *h1 = (struct tpacket_hdr *)h;

				f->status = __atomic_load_n(&h1->tp_status, __ATOMIC_ACQUIRE);
				f->len = h1->tp_len, f->snaplen = h1->tp_snaplen, f->mac = h1->tp_mac;
			} else {
				struct tpacket2_hdr *h2 = (struct tpacket2_hdr *)h;

				f->status = __atomic_load_n(&h2->tp_status, __ATOMIC_ACQUIRE);
				f->len = h2->tp_len, f->snaplen = h2->tp_snaplen, f->mac = h2->tp_mac;
			}
			if (f->status & TP_STATUS_USER)
				return 1;
		} else {
			struct tpacket_block_desc *b = (struct tpacket_block_desc *)(r->map + r->next * PK_BLOCK);

			if (!r->pkt && (__atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER)) {
				r->blk_pkts = b->hdr.bh1.num_pkts;
				r->in_blk = 0;
				if (b->hdr.bh1.offset_to_first_pkt >= PK_BLOCK || b->hdr.bh1.blk_len > PK_BLOCK) {
					snprintf(why, n, "V3 block %u: first frame at %u, %u bytes long: outside the block", r->next,
						 b->hdr.bh1.offset_to_first_pkt, b->hdr.bh1.blk_len);
					return -1;
				}
				r->pkt = (char *)b + b->hdr.bh1.offset_to_first_pkt;
				if (!r->blk_pkts) {  /* an empty block handed over: give it back */
					__atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
					r->pkt = NULL;
					r->next = (r->next + 1) % PK_NBLOCKS;
					continue;
				}
			}
			if (r->pkt) {
				struct tpacket3_hdr *h3 = (struct tpacket3_hdr *)r->pkt;

				f->hdr = r->pkt;
				f->status = h3->tp_status, f->len = h3->tp_len, f->snaplen = h3->tp_snaplen;
				f->mac = h3->tp_mac, f->next_off = h3->tp_next_offset;
				return 1;
			}
		}
		if (now_s() > until)
			return 0;
		poll(&(struct pollfd){.fd = r->fd, .events = POLLIN}, 1, 20);
	}
}

/* The frame read: its slot (V1/V2) or, with the last of the block, the block given back */
static int pk_done(struct pkring *r, struct pkfr *f, char *why, size_t n)
{
	if (r->ver == TPACKET_V1) {
		__atomic_store_n(&((struct tpacket_hdr *)f->hdr)->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
	} else if (r->ver == TPACKET_V2) {
		__atomic_store_n(&((struct tpacket2_hdr *)f->hdr)->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
	} else {
		char *blk = r->map + r->next * PK_BLOCK;

		if (++r->in_blk < r->blk_pkts) {
			if (!f->next_off || r->pkt + f->next_off + sizeof(struct tpacket3_hdr) > blk + PK_BLOCK) {
				snprintf(why, n, "V3 block %u frame %u: next offset %u leaves the block", r->next, r->in_blk,
					 f->next_off);
				return -1;
			}
			r->pkt += f->next_off;
			return 0;
		}
		__atomic_store_n(&((struct tpacket_block_desc *)blk)->hdr.bh1.block_status, TP_STATUS_KERNEL,
				 __ATOMIC_RELEASE);
		r->pkt = NULL;
		r->next = (r->next + 1) % PK_NBLOCKS;
		return 0;
	}
	r->next = (r->next + 1) % PK_NFRAMES;
	return 0;
}

/* The next frame read and checked by the version and reserve the socket reports; its head in
 * *h. 1, 0 nothing came in ms, -1 with why. */
static int pk_read_one(struct pkring *r, struct pkhead *h, int ms, char *why, size_t n)
{
	int ver = pk_getint(r->fd, PACKET_VERSION), res = pk_getint(r->fd, PACKET_RESERVE), got;
	struct pkfr f = {0};
	unsigned mac;
	struct sockaddr_ll *sl;

	if (ver != r->ver) {  /* read by what the socket says: a ring built for another version shows */
		snprintf(why, n, "the socket reports %s, the ring was set up for %s", ver < 0 || ver > 2 ? "?" : pk_vnames[ver],
			 pk_vnames[r->ver]);
		return -1;
	}
	if ((got = pk_next(r, &f, ms, why, n)) <= 0)
		return got;
	mac = pk_macoff(ver, (unsigned)res);
	if (ver != TPACKET_V3 && f.status & TP_STATUS_COPY)
		snprintf(why, n, "%s slot %u: TP_STATUS_COPY (the frame did not fit its slot)", pk_vnames[ver], r->next);
	else if (f.mac != mac)
		snprintf(why, n, "%s frame: tp_mac %u, want %u (TPACKET_ALIGN(%s header + sockaddr_ll + 16) + reserve %d - 14)",
			 pk_vnames[ver], f.mac, mac, pk_vnames[ver], res);
	else if (f.len != f.snaplen || f.len < 60 || f.len > PK_MAXLEN)
		snprintf(why, n, "%s frame: tp_len %u, tp_snaplen %u", pk_vnames[ver], f.len, f.snaplen);
	else if (f.mac + f.len > (ver == TPACKET_V3 ? PK_BLOCK : PK_FRAME))
		snprintf(why, n, "%s frame: tp_mac %u + %u bytes past its slot", pk_vnames[ver], f.mac, f.len);
	else if (!pk_verify(f.hdr + f.mac, f.len, h, why, n)) {
		sl = (struct sockaddr_ll *)(f.hdr + TPACKET_ALIGN(pk_hdrsize(ver)));
		if (sl->sll_ifindex != pk_lo || sl->sll_protocol != htons(PK_ETHERTYPE))
			snprintf(why, n, "%s frame %u: sockaddr_ll says ifindex %d, protocol %#x", pk_vnames[ver], h->seq,
				 sl->sll_ifindex, ntohs(sl->sll_protocol));
	}
	if (why[0])
		return -1;
	return pk_done(r, &f, why, n) ? -1 : 1;
}

/* Another cell's frame (another tag) is not this one's to judge: passed over (counted in
 * r->strays) once checked byte for byte; a stray backlog is finite (netdev_max_backlog) */
#define PK_MAXSTRAYS 65536

/* pk_read_one() for the next frame of tag; 1, 0 none in ms, -1 with why */
static int pk_read_tag(struct pkring *r, uint32_t tag, struct pkhead *h, int ms, char *why, size_t n)
{
	int got;

	while ((got = pk_read_one(r, h, ms, why, n)) > 0 && h->tag != tag)
		if (++r->strays > PK_MAXSTRAYS) {
			snprintf(why, n, "more than %d frames of other tags (last: %#x) before one of tag %#x", PK_MAXSTRAYS,
				 h->tag, tag);
			return -1;
		}
	return got;
}

/* count frames (tag, first..first+count-1) sent, then read from the ring in order and checked */
static int pk_exchange(struct cell *c, struct pkring *r, int snd, uint32_t tag, uint32_t first, int count)
{
	char why[240] = "";
	struct pkhead h;

	for (int i = 0; i < count; i++)
		if (pk_send(snd, tag, first + (uint32_t)i)) {
			cfail(c, "sending frame %u on lo: %s", first + (uint32_t)i, strerror(errno));
			return -1;
		}
	for (int i = 0; i < count; i++) {
		int got = pk_read_tag(r, tag, &h, PK_WAIT_MS, why, sizeof(why));

		if (got == 0)
			snprintf(why, sizeof(why), "frame %u of tag %u did not arrive in the %s ring in %d s", first + (uint32_t)i,
				 tag, pk_vnames[r->ver], PK_WAIT_MS / 1000);
		else if (got > 0 && h.seq != first + (uint32_t)i)
			snprintf(why, sizeof(why), "frame %u of tag %u read where frame %u of tag %u was due", h.seq, h.tag,
				 first + (uint32_t)i, tag);
		if (why[0]) {
			cfail(c, "%s", why);
			return -1;
		}
	}
	return 0;
}

/* -- the cells --------------------------------------------------------------------------------- */

static void packet_rx(struct cell *c, int ver)
{
	struct pkring r;
	struct tpacket_stats st = {0};
	socklen_t sl = sizeof(st);
	int snd = pk_sender(), hl = ver;  /* PACKET_HDRLEN: the version in, its header size out */

	if (pk_open_rx(c, &r, ver, (unsigned)ver * 48))
		goto out;
	if (snd < 0) {
		cfail(c, "the sending socket: %s", strerror(errno));
		goto out;
	}
	if (pk_getint(r.fd, PACKET_VERSION) != ver || pk_getint(r.fd, PACKET_RESERVE) != ver * 48) {
		cfail(c, "the socket reports version %d, reserve %d: set %d, %d", pk_getint(r.fd, PACKET_VERSION),
		      pk_getint(r.fd, PACKET_RESERVE), ver, ver * 48);
		goto out;
	}
	if (getsockopt(r.fd, SOL_PACKET, PACKET_HDRLEN, &hl, &(socklen_t){sizeof(hl)}) || hl != (int)pk_hdrsize(ver)) {
		cfail(c, "PACKET_HDRLEN of %s: %d, want %zu", pk_vnames[ver], hl, pk_hdrsize(ver));
		goto out;
	}
	getsockopt(r.fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl);  /* read and reset */
	for (int k = 0; k < PK_ROUNDS && !c->failed[0]; k++)
		pk_exchange(c, &r, snd, 0x1000u + (unsigned)ver, (uint32_t)k * 8, 8);
	if (c->failed[0])
		goto out;
	sl = sizeof(st);
	if (getsockopt(r.fd, SOL_PACKET, PACKET_STATISTICS, &st, &sl) || st.tp_packets != PK_ROUNDS * 8 + r.strays ||
	    st.tp_drops)
		cfail(c, "PACKET_STATISTICS: %u packets, %u drops; want %u (%u of other cells), 0", st.tp_packets, st.tp_drops,
		      PK_ROUNDS * 8 + r.strays, r.strays);
	else if (!pk_ring_req(r.fd, PACKET_RX_RING, 0, 0) || errno != EBUSY)
		cfail(c, "tearing the ring down while it is mapped: %s, want EBUSY", strerror(errno));
	else if (munmap(r.map, PK_RING) || (r.map = MAP_FAILED, pk_ring_req(r.fd, PACKET_RX_RING, 0, 0)))
		cfail(c, "teardown after munmap: %s", strerror(errno));
	else
		printf("# %s: %d frames of 60..%d bytes through %d slots, read by the reported version, byte exact\n", c->name,
		       PK_ROUNDS * 8, PK_MAXLEN, PK_NFRAMES);
out:
	pk_close(&r);
	if (snd >= 0)
		close(snd);
}

/* The TX slot i of ring tx (version ver): its data, and the request to send len bytes */
static char *pk_tx_data(char *tx, int ver, unsigned i)
{
	return tx + (i / PK_FPB) * PK_BLOCK + (i % PK_FPB) * PK_FRAME + TPACKET_ALIGN(pk_hdrsize(ver));
}

static unsigned long pk_tx_status(char *tx, int ver, unsigned i)
{
	char *h = tx + (i / PK_FPB) * PK_BLOCK + (i % PK_FPB) * PK_FRAME;

	return ver == TPACKET_V1 ? __atomic_load_n(&((struct tpacket_hdr *)h)->tp_status, __ATOMIC_ACQUIRE)
	       : ver == TPACKET_V2 ? __atomic_load_n(&((struct tpacket2_hdr *)h)->tp_status, __ATOMIC_ACQUIRE)
				   : __atomic_load_n(&((struct tpacket3_hdr *)h)->tp_status, __ATOMIC_ACQUIRE);
}

static void pk_tx_request(char *tx, int ver, unsigned i, uint32_t len)
{
	char *h = tx + (i / PK_FPB) * PK_BLOCK + (i % PK_FPB) * PK_FRAME;

	if (ver == TPACKET_V1) {
		((struct tpacket_hdr *)h)->tp_len = len;
		__atomic_store_n(&((struct tpacket_hdr *)h)->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
	} else if (ver == TPACKET_V2) {
		((struct tpacket2_hdr *)h)->tp_len = len;
		__atomic_store_n(&((struct tpacket2_hdr *)h)->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
	} else {
		((struct tpacket3_hdr *)h)->tp_len = len;
		((struct tpacket3_hdr *)h)->tp_next_offset = 0;
		__atomic_store_n(&((struct tpacket3_hdr *)h)->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
	}
}

static void packet_tx(struct cell *c, int ver)
{
	struct sockaddr_ll sa = {.sll_family = AF_PACKET, .sll_protocol = htons(PK_ETHERTYPE), .sll_ifindex = pk_lo,
				 .sll_halen = 6};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0), cap = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	int big = 1 << 20, strays = 0;
	struct timeval tv = {5, 0};  /* tpacket_snd() waits for the skbs' destructors up to SO_SNDTIMEO */
	char *tx = MAP_FAILED, buf[PK_MAXLEN + 64], why[240] = "";
	ssize_t r;

	if (fd < 0 || cap < 0) {
		kentry_missing(c, "packet", "socket(AF_PACKET, SOCK_RAW)");
		goto out;
	}
	setsockopt(cap, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv))) {
		cfail(c, "SO_SNDTIMEO: %s", strerror(errno));
		goto out;
	}
	if (pk_bind(cap) || pk_setint(fd, PACKET_VERSION, ver) || pk_ring_req(fd, PACKET_TX_RING, PK_NBLOCKS, 0) ||
	    (tx = mmap(NULL, PK_RING, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		cfail(c, "capture bound to lo, PACKET_VERSION %s, PACKET_TX_RING, mmap: %s", pk_vnames[ver], strerror(errno));
		goto out;
	}
	for (int pass = 0; pass < 2 && !c->failed[0]; pass++) {
		uint32_t tag = 0x2000u + (unsigned)(ver * 2 + pass);

		for (unsigned i = 0; i < PK_NFRAMES; i++) {
			size_t len = pk_len(i + (unsigned)pass * 5);

			pk_frame(pk_tx_data(tx, ver, i), len, tag, i + (unsigned)pass * 5);
			pk_tx_request(tx, ver, i, (uint32_t)len);
		}
		r = sendto(fd, NULL, 0, 0, (struct sockaddr *)&sa, sizeof(sa));  /* blocking: waits for completion */
		if (r < 0) {
			cfail(c, "pass %d: sendto of the TX ring: %s", pass, strerror(errno));
			break;
		}
		for (unsigned i = 0; i < PK_NFRAMES && !c->failed[0]; i++) {
			unsigned long s = pk_tx_status(tx, ver, i);

			for (double until = now_s() + PK_WAIT_MS / 1000.0; s != TP_STATUS_AVAILABLE && now_s() < until; usleep(1000))
				s = pk_tx_status(tx, ver, i);
			if (s != TP_STATUS_AVAILABLE)
				cfail(c, "pass %d: TX slot %u status %#lx after the send, want TP_STATUS_AVAILABLE%s", pass, i, s,
				      s & TP_STATUS_WRONG_FORMAT ? " (TP_STATUS_WRONG_FORMAT)" : "");
		}
		for (unsigned i = 0; i < PK_NFRAMES && !c->failed[0]; i++) {
			struct pkhead h;
			uint32_t seq = i + (unsigned)pass * 5;

			if (poll(&(struct pollfd){.fd = cap, .events = POLLIN}, 1, PK_WAIT_MS) <= 0 ||
			    (r = recv(cap, buf, sizeof(buf), MSG_DONTWAIT)) < 0)
				cfail(c, "pass %d: frame %u of the TX ring not captured in %d s", pass, i, PK_WAIT_MS / 1000);
			else if (pk_verify(buf, (size_t)r, &h, why, sizeof(why)))
				cfail(c, "pass %d, TX slot %u: %s", pass, i, why);
			else if ((h.tag | 1) != (tag | 1) && ++strays <= PK_MAXSTRAYS)
				i--;  /* another cell's frame (neither pass's tag): passed over, slot i still due */
			else if (h.tag != tag || h.seq != seq)
				cfail(c, "pass %d: captured frame %u of tag %#x where slot %u (frame %u of tag %#x) was due%s", pass,
				      h.seq, h.tag, i, seq, h.tag == tag - 1 ? ": the first pass's bytes (stale)" : "");
		}
	}
	if (!c->failed[0])
		printf("# %s: 2 x %d TX slots sent, every slot given back, captured byte for byte\n", c->name, PK_NFRAMES);
out:
	if (tx != MAP_FAILED)
		munmap(tx, PK_RING);
	if (fd >= 0)
		close(fd);
	if (cap >= 0)
		close(cap);
}

/* One socket through V1, V2, V3, V1: each ring refuses every layout change while mapped */
static void packet_version(struct cell *c, int unused)
{
	static const int order[] = {TPACKET_V1, TPACKET_V2, TPACKET_V3, TPACKET_V1};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0), snd = pk_sender();
	struct pkring r = {.fd = -1, .map = MAP_FAILED};

	if (fd < 0 || snd < 0) {
		kentry_missing(c, "packet", "socket(AF_PACKET, SOCK_RAW)");
		goto out;
	}
	if (pk_bind(fd)) {
		cfail(c, "bind to lo: %s", strerror(errno));
		goto out;
	}
	for (int k = 0; k < 4 && !c->failed[0]; k++) {
		int ver = order[k], other = order[(k + 1) % 3];

		if (pk_setint(fd, PACKET_VERSION, ver) || pk_ring_req(fd, PACKET_RX_RING, PK_NBLOCKS, PK_TOV)) {
			cfail(c, "step %d: PACKET_VERSION %s and a ring with no ring before: %s", k, pk_vnames[ver], strerror(errno));
			break;
		}
		r = (struct pkring){.fd = fd, .ver = ver, .map = MAP_FAILED};
		if (!pk_setint(fd, PACKET_VERSION, other) || errno != EBUSY) {
			cfail(c, "step %d: PACKET_VERSION with a %s ring: %s, want EBUSY", k, pk_vnames[ver], strerror(errno));
			break;
		}
		if (!pk_setint(fd, PACKET_RESERVE, 64) || errno != EBUSY) {
			cfail(c, "step %d: PACKET_RESERVE with a ring: %s, want EBUSY", k, strerror(errno));
			break;
		}
		r.map = mmap(NULL, PK_RING, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (r.map == MAP_FAILED) {
			cfail(c, "step %d: mmap of the %s ring: %s", k, pk_vnames[ver], strerror(errno));
			break;
		}
		if (!pk_ring_req(fd, PACKET_RX_RING, 0, 0) || errno != EBUSY) {
			cfail(c, "step %d: teardown while mapped: %s, want EBUSY", k, strerror(errno));
			break;
		}
		if (pk_exchange(c, &r, snd, 0x3000u + (unsigned)k, 0, 12))
			break;
		munmap(r.map, PK_RING);
		r.map = MAP_FAILED;
		if (pk_ring_req(fd, PACKET_RX_RING, 0, 0))
			cfail(c, "step %d: teardown of the unmapped %s ring: %s", k, pk_vnames[ver], strerror(errno));
	}
	if (r.map != MAP_FAILED)
		munmap(r.map, PK_RING);
	if (!c->failed[0])
		printf("# %s: V1, V2, V3, V1 on one socket: EBUSY for version, reserve and teardown while mapped, 12 frames "
		       "each\n", c->name);
out:
	if (fd >= 0)
		close(fd);
	if (snd >= 0)
		close(snd);
}

static void packet_fork(struct cell *c, int unused)
{
	struct pkring r;
	int snd = pk_sender();
	char why[240] = "";
	pid_t pid;

	if (pk_open_rx(c, &r, TPACKET_V2, 0))
		goto out;
	if (snd < 0) {
		cfail(c, "the sending socket: %s", strerror(errno));
		goto out;
	}
	if (pk_exchange(c, &r, snd, 0x4000, 0, 4))  /* the ring in use before the fork */
		goto out;
	if ((pid = cell_fork()) == 0) {  /* the child: the next 20 frames from its copy of the mapping */
		struct pkhead h;

		for (uint32_t i = 4; i < 24; i++) {
			int got = pk_read_tag(&r, 0x4000, &h, PK_WAIT_MS, why, sizeof(why));

			if (got <= 0 || h.seq != i) {  /* why on the log; wait_child() tells the status */
				printf("# %s: the child, frame %u: %s\n", c->name, i,
				       got < 0 ? why : got == 0 ? "not there in " PK_WAIT_S : "another frame in its place");
				fflush(stdout);
				_exit(1);
			}
		}
		_exit(0);
	}
	if (pid < 0) {
		cfail(c, "fork: %s", strerror(errno));
		goto out;
	}
	for (uint32_t i = 4; i < 24; i++)
		if (pk_send(snd, 0x4000, i))
			cfail(c, "sending frame %u: %s", i, strerror(errno));
	wait_child(c, pid, "the child reading the ring");
	if (c->failed[0])
		goto out;
	r.next = 24 % PK_NFRAMES;  /* where the child left off: the slots it gave back are the kernel's again */
	if (pk_exchange(c, &r, snd, 0x4001, 0, PK_NFRAMES))
		goto out;
	if (!pk_ring_req(r.fd, PACKET_RX_RING, 0, 0) || errno != EBUSY)
		cfail(c, "teardown while the parent maps the ring: %s, want EBUSY", strerror(errno));
	else if (munmap(r.map, PK_RING) || (r.map = MAP_FAILED, pk_ring_req(r.fd, PACKET_RX_RING, 0, 0)))
		cfail(c, "teardown after the parent's munmap (the child's mapping gone with it): %s", strerror(errno));
	else
		printf("# %s: the child read 20 frames through its mapping, the parent %d after it; teardown once unmapped\n",
		       c->name, PK_NFRAMES);
out:
	pk_close(&r);
	if (snd >= 0)
		close(snd);
}

struct pk_flood {
	int snd;
	atomic_int stop;
	long sent;
};

static void *pk_flood_loop(void *arg)
{
	struct pk_flood *f = arg;

	while (!atomic_load(&f->stop))
		if (!pk_send(f->snd, 0x5000, (uint32_t)f->sent))
			f->sent++;
	return NULL;
}

static void packet_munmap(struct cell *c, int unused)
{
	struct pkring r;
	struct pk_flood fl = {.snd = pk_sender()};
	pthread_t th;
	int running = 0, seen = 0;
	char why[240] = "";
	struct pkhead h;

	if (pk_open_rx(c, &r, TPACKET_V3, 0))
		goto out;
	if (fl.snd < 0 || (errno = pthread_create(&th, NULL, pk_flood_loop, &fl))) {
		cfail(c, "the sending thread: %s", strerror(errno));
		goto out;
	}
	running = 1;
	usleep(20000);  /* frames fill the V3 ring (nobody reads it) */
	if (munmap(r.map, PK_RING) || (r.map = MAP_FAILED, pk_ring_req(r.fd, PACKET_RX_RING, 0, 0)) ||
	    pk_setint(r.fd, PACKET_VERSION, TPACKET_V1) || pk_ring_req(r.fd, PACKET_RX_RING, PK_NBLOCKS, 0) ||
	    (r.map = mmap(NULL, PK_RING, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0)) == MAP_FAILED) {
		cfail(c, "munmap, teardown, PACKET_VERSION V1 and a new ring while frames arrive: %s", strerror(errno));
		goto out;
	}
	r.ver = TPACKET_V1;
	r.next = 0;
	r.pkt = NULL;
	for (double until = now_s() + 0.3; now_s() < until && !c->failed[0];) {  /* what the flood puts in the V1 ring */
		int got = pk_read_one(&r, &h, 200, why, sizeof(why));

		if (got < 0)
			cfail(c, "a frame that arrived while the ring changed version: %s", why);
		seen += got > 0;
	}
	atomic_store(&fl.stop, 1);
	pthread_join(th, NULL);
	running = 0;
	if (c->failed[0])
		goto out;
	if (!seen)
		cskip(c, "no flood frame reached the new ring in 0.3 s (%ld sent)", fl.sent);
	else
		printf("# %s: %ld frames sent while a V3 ring went and a V1 ring came: %d read from it, every one a V1 "
		       "frame, byte exact\n", c->name, fl.sent, seen);
out:
	if (running) {
		atomic_store(&fl.stop, 1);
		pthread_join(th, NULL);
	}
	pk_close(&r);
	if (fl.snd >= 0)
		close(fl.snd);
}

/* A bad request: what it asks, and the errno 6.12 gives */
struct pkbad {
	const char *what;
	int ver, opt, err;
	struct tpacket_req3 q;
};

static void packet_bad_ring(struct cell *c, int unused)
{
	const struct pkbad bad[] = {
		{"block size not page-aligned", TPACKET_V2, PACKET_RX_RING, EINVAL, {PK_BLOCK + 16, 4, PK_FRAME, 4 * PK_FPB}},
		{"block size 0", TPACKET_V2, PACKET_RX_RING, EINVAL, {0, 4, PK_FRAME, 4 * PK_FPB}},
		{"frame smaller than the header", TPACKET_V1, PACKET_RX_RING, EINVAL, {PK_BLOCK, 4, 32, 4 * PK_BLOCK / 32}},
		{"frame not 16-aligned", TPACKET_V2, PACKET_TX_RING, EINVAL, {PK_BLOCK, 4, 2040, 4 * (PK_BLOCK / 2040)}},
		{"frame count not frames-per-block x blocks", TPACKET_V2, PACKET_RX_RING, EINVAL, {PK_BLOCK, 4, PK_FRAME, 3}},
		{"frames with no block", TPACKET_V1, PACKET_RX_RING, EINVAL, {0, 0, 0, 8}},
		{"frames-per-block x blocks past UINT_MAX", TPACKET_V2, PACKET_RX_RING, EINVAL, {PK_BLOCK, 1u << 30, PK_FRAME, 0}},
		{"2^28 blocks (no block array)", TPACKET_V2, PACKET_RX_RING, ENOMEM, {PAGE, 1u << 28, PK_FRAME, 1u << 29}},
		{"V3 block too small for its private area", TPACKET_V3, PACKET_RX_RING, EINVAL,
		 {PK_BLOCK, 4, PK_FRAME, 4 * PK_FPB, 0, PK_BLOCK, 0}},
		{"V3 TX with a retire timeout (refused after allocating)", TPACKET_V3, PACKET_TX_RING, EINVAL,
		 {PK_BLOCK, 4, PK_FRAME, 4 * PK_FPB, 10, 0, 0}},
	};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0), snd = pk_sender(), n = 0;
	struct pkring r = {.fd = -1, .map = MAP_FAILED};
	char *m;

	if (fd < 0 || snd < 0) {
		kentry_missing(c, "packet", "socket(AF_PACKET, SOCK_RAW)");
		goto out;
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) && !c->failed[0]; i++, n++) {
		const struct pkbad *b = &bad[i];
		int rc;

		if (pk_setint(fd, PACKET_VERSION, b->ver)) {
			cfail(c, "PACKET_VERSION %s with no ring: %s", pk_vnames[b->ver], strerror(errno));
			break;
		}
		rc = setsockopt(fd, SOL_PACKET, b->opt, &b->q, sizeof(b->q));
		if (!rc || errno != b->err)
			cfail(c, "%s (%s %s): %s, want %s", b->what, pk_vnames[b->ver], b->opt == PACKET_RX_RING ? "RX" : "TX",
			      rc ? strerror(errno) : "accepted", strerror(b->err));
		else if ((m = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0)) != MAP_FAILED || errno != EINVAL) {
			cfail(c, "after the refused %s a ring is there: mmap %s", b->what, m != MAP_FAILED ? "worked" : strerror(errno));
			if (m != MAP_FAILED)
				munmap(m, PAGE);
		}
	}
	if (c->failed[0])
		goto out;
	/* then a good ring works, and refuses a second one and a bad mapping */
	if (pk_setint(fd, PACKET_VERSION, TPACKET_V2) || pk_ring_req(fd, PACKET_RX_RING, PK_NBLOCKS, 0)) {
		cfail(c, "a good ring after %d refused ones: %s", n, strerror(errno));
		goto out;
	}
	r = (struct pkring){.fd = fd, .ver = TPACKET_V2, .map = MAP_FAILED};
	if (!pk_ring_req(fd, PACKET_RX_RING, PK_NBLOCKS, 0) || errno != EBUSY)
		cfail(c, "a second RX ring: %s, want EBUSY", strerror(errno));
	else if ((m = mmap(NULL, PK_RING - PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) != MAP_FAILED || errno != EINVAL) {
		cfail(c, "mmap a page short of the ring: %s, want EINVAL", m != MAP_FAILED ? "mapped" : strerror(errno));
		if (m != MAP_FAILED)
			munmap(m, PK_RING - PAGE);
	} else if ((m = mmap(NULL, PK_RING, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PAGE)) != MAP_FAILED || errno != EINVAL) {
		cfail(c, "mmap of the ring at offset a page: %s, want EINVAL", m != MAP_FAILED ? "mapped" : strerror(errno));
		if (m != MAP_FAILED)
			munmap(m, PK_RING);
	} else if ((r.map = mmap(NULL, PK_RING, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED || pk_bind(fd))
		cfail(c, "mmap of the good ring, bind: %s", strerror(errno));
	else if (!pk_exchange(c, &r, snd, 0x6000, 0, 12))
		printf("# %s: %d bad rings refused with their errno and no ring left; the good ring after them works\n",
		       c->name, n);
	if (r.map != MAP_FAILED)
		munmap(r.map, PK_RING);
out:
	if (fd >= 0)
		close(fd);
	if (snd >= 0)
		close(snd);
}

static const struct cell_entry pk_table[] = {
	{"packet/rx/", packet_rx, pk_vnames, 3}, {"packet/tx/", packet_tx, pk_vnames, 3}, {"packet/version", packet_version},
	{"packet/fork", packet_fork}, {"packet/munmap", packet_munmap}, {"packet/bad-ring", packet_bad_ring}};

/* The block's premise: lo (its errno when if_nametoindex() failed in *arg) */
static int pk_have_lo(struct cell *c, void *arg)
{
	if (!pk_lo)
		cfail(c, "no lo interface: %s", strerror(*(int *)arg));
	return !pk_lo;
}

static void packet_cells(void)
{
	int lo_err = 0;

	if (!list_only) {
		lo_up();
		pk_lo = (int)if_nametoindex("lo");
		lo_err = errno;
	}
	run_cells(pk_table, sizeof(pk_table) / sizeof(pk_table[0]), pk_have_lo, &lo_err);
}

/* -- race/packet-opts ------------------------------------------------------------------------- */

struct pk_race {
	int fd;
	atomic_int stop;
	long setups, teardowns;
};

/* A thread setting one socket option through its values (v, v + step, ... mod) */
struct pk_opt {
	struct pk_race *p;
	int opt, step, mod;
	unsigned nap;  /* us between two */
	long ok, busy;
};

static void *pk_ring_side(void *arg)
{
	struct pk_race *p = arg;

	for (;;) {  /* ends with a ring set up, when it can be */
		p->setups += !pk_ring_req(p->fd, PACKET_RX_RING, PK_NBLOCKS, PK_TOV);
		if (atomic_load(&p->stop))
			break;
		p->teardowns += !pk_ring_req(p->fd, PACKET_RX_RING, 0, 0);
	}
	return NULL;
}

static void *pk_opt_side(void *arg)
{
	struct pk_opt *o = arg;

	for (int v = 0; !atomic_load(&o->p->stop); v = (v + o->step) % o->mod) {
		if (!pk_setint(o->p->fd, o->opt, v))
			o->ok++;
		else
			o->busy += errno == EBUSY;
		if (o->nap)
			usleep(o->nap);
	}
	return NULL;
}

static void packet_opts_race(double secs)
{
	const char *name = "race/packet-opts";
	long rounds = 0, own = 0, setups = 0, ver_ok = 0, ver_busy = 0, res_busy = 0;
	char fail[300] = "", skip[200] = "";
	double t0 = now_s();
	int snd;

	if (!wanted(name) || !begins(name))
		return;
	lo_up();
	pk_lo = (int)if_nametoindex("lo");
	snd = pk_sender();
	if (snd < 0 || !pk_lo)
		snprintf(getenv("KENTRY_REQUIRED") && strstr(getenv("KENTRY_REQUIRED"), "packet") ? fail : skip, 200,
			 "AF_PACKET socket or lo: %s", strerror(errno));
	for (; !fail[0] && !skip[0] && (rounds < 3 || now_s() - t0 < secs); rounds++) {
		struct pk_race p = {.fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0)};
		struct pk_opt o[2] = {{&p, PACKET_VERSION, 1, 3, 0}, {&p, PACKET_RESERVE, 16, 256, 100}};
		struct pkring r;
		pthread_t th[3];
		int started = 0, ver, fresh = 0;
		char why[240] = "";
		struct pkhead h;

		if (p.fd < 0 || pk_bind(p.fd)) {
			snprintf(fail, sizeof(fail), "round %ld: AF_PACKET socket bound to lo: %s", rounds, strerror(errno));
			if (p.fd >= 0)
				close(p.fd);
			break;
		}
		for (int t = 0; t < 3 && !(errno = pthread_create(&th[t], NULL, t ? pk_opt_side : pk_ring_side,
								    t ? (void *)&o[t - 1] : &p)); t++)
			started++;
		usleep(2000 + (unsigned)(rounds % 8) * 1500);
		atomic_store(&p.stop, 1);
		while (started > 0)
			pthread_join(th[--started], NULL);
		setups += p.setups, ver_ok += o[0].ok, ver_busy += o[0].busy, res_busy += o[1].busy;
		/* the ring left (or one set up now, race over) read by what the socket says */
		ver = pk_getint(p.fd, PACKET_VERSION);
		r = (struct pkring){.fd = p.fd, .ver = ver, .reserve = (unsigned)pk_getint(p.fd, PACKET_RESERVE)};
		r.map = mmap(NULL, PK_RING, PROT_READ | PROT_WRITE, MAP_SHARED, p.fd, 0);
		if (r.map == MAP_FAILED) {
			own++;
			fresh = 1;
			if (pk_ring_req(p.fd, PACKET_RX_RING, PK_NBLOCKS, PK_TOV) ||
			    (r.map = mmap(NULL, PK_RING, PROT_READ | PROT_WRITE, MAP_SHARED, p.fd, 0)) == MAP_FAILED)
				snprintf(fail, sizeof(fail), "round %ld: no ring after the race, and a new one (%s): %s", rounds,
					 ver >= 0 && ver < 3 ? pk_vnames[ver] : "?", strerror(errno));
		}
		if (!fail[0] && (ver < 0 || ver > 2))
			snprintf(fail, sizeof(fail), "round %ld: the socket reports version %d", rounds, ver);
		if (!fail[0] && pk_send(snd, 0x7000, (uint32_t)rounds))
			snprintf(fail, sizeof(fail), "round %ld: sending a frame: %s", rounds, strerror(errno));
		if (!fail[0]) {
			int got = pk_read_tag(&r, 0x7000, &h, PK_WAIT_MS, why, sizeof(why));

			if (got <= 0 || h.seq != (uint32_t)rounds)
				snprintf(fail, sizeof(fail), "round %ld, the ring %s, read as %s with reserve %u: %.180s", rounds,
					 fresh ? "set up after the race" : "the race left", pk_vnames[ver], r.reserve,
					 got < 0 ? why : got == 0 ? "the frame never showed in the ring in " PK_WAIT_S
								  : "another frame than the one sent");
		}
		if (r.map != MAP_FAILED)
			munmap(r.map, PK_RING);
		close(p.fd);  /* the socket goes each round, its ring with it */
	}
	if (snd >= 0)
		close(snd);
	printf("# %s: %.1f s, %ld rounds (%ld with no ring left by the race): %ld ring setups; PACKET_VERSION %ld set, "
	       "%ld EBUSY; PACKET_RESERVE %ld EBUSY\n", name, now_s() - t0, rounds, own, setups, ver_ok, ver_busy, res_busy);
	if (!fail[0] && !skip[0] && (!ver_busy || !setups))
		snprintf(skip, sizeof(skip), "PACKET_VERSION never met a ring (%ld EBUSY, %ld setups): nothing raced", ver_busy,
			 setups);
	case_verdict(name, fail, skip);
}
