/* borrow/tcp-zc-recv/<source>: TCP_ZEROCOPY_RECEIVE maps the pages of received skbs into the
 * receiver's own address space (net/ipv4/tcp.c tcp_zerocopy_receive(), vm_insert_pages()),
 * where they stay after the socket let them go (issue 20; after round 4 of docs/redteam.md,
 * whose tcp bug no cell reached: nothing received with it). Only a page the network stack
 * owns outright may be handed over that way (can_map_frag(): a whole page, not compound, no
 * mapping); a frag that lends someone else's page (a file's page cache page sent with
 * sendfile/splice, a process's page sent with MSG_ZEROCOPY or vmsplice) must be copied
 * (the getsockopt's recv_skip_hint says how much to read(2) instead). A borrowed page mapped
 * into the receiver lets the sender's later writes reach what was already received, and a
 * truncate free a page the receiver still maps.
 *
 * The sender sends TZ_LEN bytes from <source> over loopback TCP (TCP_MAXSEG 7 pages; with
 * timestamps the MSS is a little less, so whether a frag is a whole page at offset 0 is the
 * stack's doing): zc-anon (MSG_ZEROCOPY from private anonymous memory: loopback copies it into
 * pages of its own, the mappable case) and send-anon (plain send: the socket's own pages) are
 * the controls, whose skbs never hold the sender's pages; sendfile-ext4, splice-memfd (a memfd
 * spliced through a pipe) and vmsplice-anon (gifted into a pipe, spliced on) lend the
 * sender's pages, which must never be mapped. The receiver takes it with TCP_ZEROCOPY_RECEIVE into a mapping of the socket, reading
 * the skipped bytes with recv(). Checks: the stream is what was sent; then the sender writes
 * other bytes into its source (the file through pwrite, the memory directly) and every byte
 * the receiver has mapped must stay as received; after the receiver unmaps and both close,
 * the source's pages can move (pages_held()) and the FOLL_PIN counters are back. Premise,
 * else SKIP: the kernel has TCP_ZEROCOPY_RECEIVE, and in zc-anon it mapped some bytes (the
 * mapping path ran; for the other sources a copy is the right answer, and the check of the
 * received bytes holds either way).
 * Part of pin_matrix.c, after borrow_cells.h (zc_notes()).
 */
#include <netinet/tcp.h>
#include <sys/sendfile.h>

#ifndef TCP_ZEROCOPY_RECEIVE
#define TCP_ZEROCOPY_RECEIVE 35
#endif
#define TZ_LEN (64 * PAGE)
#define TZ_MSS (7 * PAGE)  /* TCP_MAXSEG takes at most MAX_TCP_WINDOW, 32767 */

/* the fields of include/uapi/linux/tcp.h's struct tcp_zerocopy_receive this uses (the kernel
 * takes a shorter struct: it fills what fits) */
struct tz_zc {
	uint64_t address;
	uint32_t length, recv_skip_hint, inq;
	int32_t err;
};

enum tz_src { TZ_ZC_ANON, TZ_SEND_ANON, TZ_SENDFILE, TZ_SPLICE_MEMFD, TZ_VMSPLICE, NTZ };
static const char *const tz_names[NTZ] = {"zc-anon", "send-anon", "sendfile-ext4", "splice-memfd", "vmsplice-anon"};

static int tz_pair(struct cell *c, int *snd, int *rcv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int mss = TZ_MSS, big = 4 << 20, one = 1, l = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tmo = {10, 0};  /* a stalled send or recv fails the cell (EAGAIN) instead of hanging */

	*snd = *rcv = -1;
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big)) ||
	    setsockopt(l, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss)) || bind(l, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(l, (struct sockaddr *)&a, &al) || listen(l, 1)) {
		cfail(c, "cannot make a loopback TCP socket: %s", strerror(errno));
		goto out;
	}
	*snd = socket(AF_INET, SOCK_STREAM, 0);
	if (*snd < 0 || setsockopt(*snd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)) ||
	    setsockopt(*snd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss)) ||
	    setsockopt(*snd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)) || connect(*snd, (struct sockaddr *)&a, sizeof(a)) ||
	    setsockopt(*snd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo)) ||
	    (*rcv = accept(l, NULL, NULL)) < 0 || setsockopt(*rcv, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo))) {
		cfail(c, "cannot connect over loopback TCP: %s", strerror(errno));
		if (*snd >= 0)
			close(*snd);
		*snd = -1;
	}
out:
	if (l >= 0)
		close(l);
	return *rcv < 0 ? -1 : 0;
}

/* Sender: TZ_LEN bytes of src (the file c->fd, or memory mem) into the socket; 0 or -1. */
static int tz_send(struct cell *c, enum tz_src s, int snd, char *mem)
{
	size_t sent = 0;
	loff_t at = 0;
	int p[2] = {-1, -1};
	unsigned done = 0, calls = 0;
	int copied = 0;

	if ((s == TZ_SPLICE_MEMFD || s == TZ_VMSPLICE) && pipe(p)) {
		cfail(c, "pipe: %s", strerror(errno));
		return -1;
	}
	while (sent < TZ_LEN && !c->failed[0]) {
		ssize_t r, n = TZ_LEN - sent > 16 * PAGE ? 16 * PAGE : TZ_LEN - sent;
		struct iovec v = {mem + sent, n};

		switch (s) {
		case TZ_ZC_ANON:
		case TZ_SEND_ANON:
			r = send(snd, mem + sent, n, s == TZ_ZC_ANON ? MSG_ZEROCOPY : 0);
			break;
		case TZ_SENDFILE:
			r = sendfile(snd, c->fd, &at, n);
			break;
		default:
			r = s == TZ_VMSPLICE ? vmsplice(p[1], &v, 1, SPLICE_F_GIFT)
					     : splice(c->fd, &at, p[1], NULL, n, 0);
			for (ssize_t left = r, k; r > 0 && left > 0; left -= k)
				if ((k = splice(p[0], NULL, snd, NULL, left, SPLICE_F_MORE)) <= 0) {
					r = -1;
					break;
				}
			break;
		}
		if (r <= 0) {
			cfail(c, "%s: sending %zd bytes at %zu: %s", tz_names[s], n, sent, r < 0 ? strerror(errno) : "sent nothing");
		} else {
			sent += r;
			calls++;
		}
	}
	close_pair(p);
	if (s != TZ_ZC_ANON || c->failed[0])
		return c->failed[0] ? -1 : 0;
	/* the sender's pages are its own again once every send completed: every call notified (at
	 * once once the receiver read; 15 s: a loaded TCG guest stalls for seconds) */
	for (int i = 0; i < 1500 && done < calls && !c->failed[0]; i++) {
		usleep(10 * 1000);
		zc_notes(c, snd, &done, &copied);
	}
	if (!c->failed[0] && done < calls)
		cfail(c, "%u of %u MSG_ZEROCOPY sends notified their completion in 15 s", done, calls);
	return c->failed[0] ? -1 : 0;
}

struct tz_chunk {
	size_t off, len;  /* in the stream */
	char *at;         /* where the receiver has it mapped */
};

static void tz_cell(enum tz_src s)
{
	struct cell c = {.mem = ANON, .fd = -1};
	double began = now_s();
	char *src = NULL, *want = malloc(TZ_LEN), *got = malloc(TZ_LEN), *win = MAP_FAILED, *next;
	struct tz_chunk chunks[TZ_LEN / PAGE];
	int snd = -1, rcv = -1, nch = 0, is_file = s == TZ_SENDFILE || s == TZ_SPLICE_MEMFD;
	size_t have = 0, mapped = 0, winlen = 2 * TZ_LEN;
	long p0, first, held;
	char why[200];

	snprintf(c.name, sizeof(c.name), "borrow/tcp-zc-recv/%s", tz_names[s]);
	if (!borrow_runs(c.name))
		goto free;
	p0 = pins_outstanding();
	if (!want || !got) {
		cfail(&c, "out of memory");
		goto out;
	}
	if (is_file) {
		if (!(src = shared_file(&c, s == TZ_SENDFILE, "tcp-zc", TZ_LEN)))
			goto out;
	} else if ((src = mmap(NULL, TZ_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED) {
		src = NULL;
		cfail(&c, "cannot map the source: %s", strerror(errno));
		goto out;
	}
	fill64(src, TZ_LEN, 71);
	memcpy(want, src, TZ_LEN);
	if (tz_pair(&c, &snd, &rcv) || tz_send(&c, s, snd, src))
		goto out;
	win = mmap(NULL, winlen, PROT_READ, MAP_SHARED, rcv, 0);
	if (win == MAP_FAILED) {
		cskip(&c, "mmap of the TCP socket: %s (no TCP_ZEROCOPY_RECEIVE)", strerror(errno));
		goto out;
	}
	next = win;
	/* bytes not queued yet are waited for up to 10 s (2000 polls 1 ms apart before): they are there
	 * at once on loopback, but a loaded TCG guest stalls for seconds */
	for (double t0 = now_s(); have < TZ_LEN && now_s() - t0 < 10;) {
		struct tz_zc zc = {.address = (uintptr_t)next, .length = (uint32_t)((win + winlen - next) & ~(PAGE - 1))};
		socklen_t zl = sizeof(zc);

		if (getsockopt(rcv, IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE, &zc, &zl)) {
			if (errno == EOPNOTSUPP || errno == ENOPROTOOPT)
				cskip(&c, "TCP_ZEROCOPY_RECEIVE: %s", strerror(errno));
			else
				cfail(&c, "TCP_ZEROCOPY_RECEIVE: %s", strerror(errno));
			goto out;
		}
		if (zc.length) {
			if (have + zc.length > TZ_LEN) {
				cfail(&c, "TCP_ZEROCOPY_RECEIVE mapped %u bytes, past the %d sent", zc.length, TZ_LEN);
				goto out;
			}
			chunks[nch++] = (struct tz_chunk){have, zc.length, next};
			memcpy(got + have, next, zc.length);
			have += zc.length;
			mapped += zc.length;
			next += (zc.length + PAGE - 1) & ~(size_t)(PAGE - 1);
		}
		for (size_t left = zc.recv_skip_hint; left > 0 && have < TZ_LEN;) {
			ssize_t r = recv(rcv, got + have, left < TZ_LEN - have ? left : TZ_LEN - have, 0);

			if (r <= 0) {
				cfail(&c, "recv of the %u bytes to skip: %s", zc.recv_skip_hint, r < 0 ? strerror(errno) : "end of stream");
				goto out;
			}
			have += r;
			left -= r;
		}
		if (!zc.length && !zc.recv_skip_hint) {  /* nothing queued yet */
			if (next + PAGE > win + winlen)
				break;
			usleep(1000);
		}
		if (nch == TZ_LEN / PAGE || next + PAGE > win + winlen)
			break;
	}
	if (have < TZ_LEN) {  /* the rest by recv: the window is used up */
		for (ssize_t r; have < TZ_LEN && (r = recv(rcv, got + have, TZ_LEN - have, MSG_DONTWAIT)) > 0;)
			have += r;
	}
	if (have != TZ_LEN) {
		cfail(&c, "the receiver got %zu of %d bytes", have, TZ_LEN);
		goto out;
	}
	if ((first = first_diff(got, want, TZ_LEN)) >= 0) {
		cfail(&c, "the receiver got other bytes than were sent at byte %ld", first);
		goto out;
	}
	/* the sender changes its source: what the receiver mapped must not follow */
	fill64(got, TZ_LEN, 72);
	if (is_file ? pwrite(c.fd, got, TZ_LEN, 0) != TZ_LEN : !memcpy(src, got, TZ_LEN)) {
		cfail(&c, "cannot rewrite the source: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < nch; i++)
		if ((first = first_diff(chunks[i].at, want + chunks[i].off, chunks[i].len)) >= 0) {
			cfail(&c, "a byte the receiver had mapped (stream byte %zu) changed when the sender rewrote its %s: the sender's page itself is mapped into the receiver",
			      chunks[i].off + first, is_file ? "file" : "memory");
			goto out;
		}
	if (s == TZ_ZC_ANON && !mapped)
		cskip(&c, "TCP_ZEROCOPY_RECEIVE mapped no byte of %d (all copied): the mapping path not reached", TZ_LEN);
	printf("# %s: %zu of %lu bytes mapped into the receiver in %d chunk(s), the rest read\n", c.name, mapped, (unsigned long)TZ_LEN, nch);
out:
	if (win != MAP_FAILED)
		munmap(win, winlen);
	close(snd);
	close(rcv);
	if (src && !c.failed[0] && (held = pages_held(src, TZ_LEN, 1000, &first, why, sizeof(why))) > 0)
		cfail(&c, "%ld page(s) of the sender's %s still held after both sides closed (first: page %ld)", held,
		      is_file ? "file" : "memory", first);
	else if (src && !c.failed[0] && held < 0)
		cskip(&c, "no page-reference check of the sender's %s: %s", is_file ? "file" : "memory", why);
	cell_finish(&c, src, TZ_LEN, p0, began);
free:
	free(want);
	free(got);
}

static void tcpzc_cells(void)
{
	for (enum tz_src s = 0; s < NTZ; s++)
		tz_cell(s);
}
