/* sendzc/fixed/<event>: io_uring zero-copy sends from a registered buffer, and the buffer given
 * back while the data still waits (after red-team round 7 of docs/redteam.md, whose
 * `uring-sendzc-node-on-request` no cell reached: borrow/zc-uring sends from plain user memory,
 * never with IORING_RECVSEND_FIXED_BUF). A fixed-buffer send puts the registered pages into skb
 * frags without page references (io_uring/net.c io_send_zc_import(), SKBFL_MANAGED_FRAG_REFS):
 * the registration's FOLL_PIN keeps them, and the notification (the second CQE, posted when the
 * last skb is freed) holds the buffer table's resource node, so that unregistering or replacing
 * the buffer waits for it (io_uring/rsrc.c io_rsrc_ref_quiesce(); a replaced buffer is unpinned,
 * and its tag CQE posted, only when the node is free). The data waits on the pages because the
 * receiver's window is small (borrow_cells.h zc_pair(): TCP over lo, SO_RCVBUF 4096) and nobody
 * reads until the event is done.
 * Events: none; unregister (IORING_UNREGISTER_BUFFERS from another thread: 6.12 waits in it for
 * the notification, later kernels return and keep the buffer; the buffer's tag CQE must not come
 * before the notification either way); update (IORING_REGISTER_BUFFERS_UPDATE
 * puts another buffer in the slot: the old one's tag CQE must come after the notification). Then
 * the old buffer is unmapped and new memory written, so pages given back too early are reused
 * under the data. Checks: the receiver reads the bytes that were sent, every CQE in its order,
 * the buffers' FOLL_PINs all still held after the event while bytes wait (16, 32 after an update),
 * the FOLL_PIN counters back after the ring is gone. Premise: the send's CQE came with
 * IORING_CQE_F_MORE and its notification had not, the unregistering thread inside
 * io_uring_register(2), bytes still in the sender's queue (SIOCOUTQ) after the event, else SKIP.
 * Part of pin_matrix.c, after borrow_cells.h (zc_pair(), borrow_pins(), IORING_SEND_ZC_REPORT_USAGE).
 */
#include <linux/sockios.h>

#define SZ_LEN (16 * PAGE)
#define SZ_SEND 100          /* the send's user_data */
#define SZ_TAG_OLD 0x7a6     /* the tags of the first and of the replacing buffer */
#define SZ_TAG_NEW 0x7a7

enum sz_ev { SZ_NONE, SZ_UNREGISTER, SZ_UPDATE, NSZ };
static const char *const sz_names[NSZ] = {"none", "unregister", "update"};

struct sz_unreg {
	struct io_uring *r;
	atomic_int done, tid;
	int ret;
};

static void sz_noop(int sig) { (void)sig; }

static void *sz_unreg_thread(void *arg)
{
	struct sz_unreg *u = arg;

	atomic_store(&u->tid, (int)gettid());
	u->ret = io_uring_unregister_buffers(u->r);
	atomic_store(&u->done, 1);
	return NULL;
}

/* The unregistering thread is in io_uring_register(2) (its /proc syscall file, x86-64's 427) or
 * done; 0 when it got to neither in 5 s */
static int sz_unreg_started(struct sz_unreg *u)
{
	return await_syscall(&u->tid, &u->done, 427) >= 0;
}

/* The thread ended: signalled (no SA_RESTART: a signal ends 6.12's quiesce) every 10 ms, 5 s at
 * most; 0 when it never returned (then it is left, with its state, and the ring) */
static int sz_unreg_stop(pthread_t th, struct sz_unreg *u)
{
	for (double t0 = now_s(); !atomic_load(&u->done) && now_s() - t0 < 5; usleep(10 * 1000))
		pthread_kill(th, SIGUSR1);
	if (!atomic_load(&u->done)) {
		pthread_detach(th);
		return 0;
	}
	pthread_join(th, NULL);
	return 1;
}

/* What has come so far, in order: seq numbers of the notification and of each tag CQE (0: not yet) */
struct sz_seen {
	int seq, notif, tag_old, tag_new, send_res, more, copied;
};

/* Every CQE that is there, noted; -1 with the cell failed on an unexpected one */
static int sz_reap(struct cell *c, struct io_uring *r, struct sz_seen *s)
{
	struct io_uring_cqe *cqe;

	while (!io_uring_peek_cqe(r, &cqe)) {
		unsigned long long ud = cqe->user_data;
		int res = cqe->res, flags = (int)cqe->flags;

		io_uring_cqe_seen(r, cqe);
		s->seq++;
		if (ud == SZ_SEND && (flags & IORING_CQE_F_NOTIF)) {
			s->notif = s->seq;
			s->copied = !!(res & IORING_NOTIF_USAGE_ZC_COPIED);
		} else if (ud == SZ_SEND && !s->send_res) {
			s->send_res = res ? res : -1;
			s->more = !!(flags & IORING_CQE_F_MORE);
		} else if (ud == SZ_TAG_OLD) {
			s->tag_old = s->seq;
		} else if (ud == SZ_TAG_NEW) {
			s->tag_new = s->seq;
		} else {
			cfail(c, "an unexpected CQE: user_data %#llx res %d flags %#x", ud, res, flags);
			return -1;
		}
	}
	return 0;
}

/* A 16-page anonymous buffer written with seed; NULL with the cell failed */
static char *sz_buffer(struct cell *c, unsigned seed)
{
	char *p = mmap(NULL, SZ_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		cfail(c, "mmap: %s", strerror(errno));
		return NULL;
	}
	fill64(p, SZ_LEN, seed);
	return p;
}

static void sendzc_cell(struct cell *c, int k)
{
	enum sz_ev ev = (enum sz_ev)k;
	struct io_uring r;
	struct io_uring_sqe *sqe;
	struct sz_unreg *u = calloc(1, sizeof(*u));  /* left to a thread that never returns */
	struct sz_seen s = {0};
	struct sigaction sa = {.sa_handler = sz_noop}, old_sa;
	pthread_t th;
	char *buf = NULL, *other = NULL, *exp = malloc(SZ_LEN), *rbuf = malloc(SZ_LEN);
	struct iovec iov;
	__u64 tag = SZ_TAG_OLD, tag2 = SZ_TAG_NEW;
	int ring = 0, registered = 0, thread = 0, snd = -1, rcv = -1, queued = 0, err;
	size_t got = 0;
	double t0;
	long p0 = pins_outstanding(), first;

	c->mem = ANON;
	if (!u || !exp || !rbuf || !(buf = sz_buffer(c, 41)))
		goto out;
	u->r = &r;
	memcpy(exp, buf, SZ_LEN);
	if (io_uring_queue_init(16, &r, 0)) {
		cskip(c, "io_uring_queue_init failed");
		goto out;
	}
	ring = 1;
	iov = (struct iovec){buf, SZ_LEN};
	if ((first = io_uring_register_buffers_tags(&r, &iov, &tag, 1))) {
		cfail(c, "IORING_REGISTER_BUFFERS2: %s", strerror((int)-first));
		goto out;
	}
	registered = 1;
	if (zc_pair(c, 1, &snd, &rcv))
		goto out;
	if (!(sqe = io_uring_get_sqe(&r))) {
		cfail(c, "no SQE free in a new ring");
		goto out;
	}
	io_uring_prep_send_zc_fixed(sqe, snd, buf, SZ_LEN, 0, IORING_SEND_ZC_REPORT_USAGE, 0);
	io_uring_sqe_set_data64(sqe, SZ_SEND);
	io_uring_submit(&r);
	/* the send's CQE comes at once; 15 s: a loaded TCG guest stalls for seconds */
	for (t0 = now_s(); !s.send_res && now_s() - t0 < 15 && !sz_reap(c, &r, &s);)
		usleep(1000);
	if (c->failed[0])
		goto out;
	if (s.send_res != (int)SZ_LEN) {
		cfail(c, "IORING_OP_SEND_ZC from the fixed buffer: %s", s.send_res < 0 ? strerror(-s.send_res)
			  : s.send_res ? "a short send" : "no completion in 15 s");
		goto out;
	}
	if (!s.more || s.notif) {
		cskip(c, "the send's notification %s before the receiver read", s.more ? "came" : "was not announced");
		goto out;
	}
	if (ioctl(snd, SIOCOUTQ, &queued) || queued <= 0) {
		cskip(c, "nothing waited in the sender's queue (SIOCOUTQ %d)", queued);
		goto out;
	}
	if (ev == SZ_UNREGISTER) {
		sigaction(SIGUSR1, &sa, &old_sa);  /* no SA_RESTART: the signal ends a stuck quiesce */
		if ((err = pthread_create(&th, NULL, sz_unreg_thread, u))) {
			sigaction(SIGUSR1, &old_sa, NULL);
			cfail(c, "pthread_create: %s", strerror(err));
			goto out;
		}
		thread = 1;
		if (!sz_unreg_started(u)) {
			cskip(c, "the unregistering thread was not in io_uring_register(2) within 5 s");
			goto out;
		}
	} else if (ev == SZ_UPDATE) {
		if (!(other = sz_buffer(c, 42)))
			goto out;
		iov = (struct iovec){other, SZ_LEN};
		if ((first = io_uring_register_buffers_update_tag(&r, 0, &iov, &tag2, 1)) != 1) {
			cfail(c, "IORING_REGISTER_BUFFERS_UPDATE: %s", first < 0 ? strerror((int)-first) : "no slot updated");
			goto out;
		}
	}
	usleep(100 * 1000);
	if (sz_reap(c, &r, &s))
		goto out;
	if (ioctl(snd, SIOCOUTQ, &queued) || queued <= 0) {
		cskip(c, "nothing waited in the sender's queue any more after the %s (SIOCOUTQ %d)", sz_names[ev], queued);
		goto out;
	}
	/* the pins are the pages' only hold: 6.12 keeps them by waiting, later kernels by the
	 * notification's reference on the buffer's node */
	if (ev != SZ_NONE && (first = pins_outstanding() - p0) < (ev == SZ_UPDATE ? 32 : 16)) {
		cfail(c, "%ld FOLL_PIN(s) left of the %d the buffer%s held while %d byte(s) sent from it still waited in "
		      "the socket", first, ev == SZ_UPDATE ? 32 : 16, ev == SZ_UPDATE ? "s (old and new)" : "", queued);
		goto out;
	}
	/* 6.12 unregisters by waiting for the notification, later kernels return at once and keep
	 * the buffer's node referenced: either way its tag CQE says when it is really given back */
	if (ev != SZ_NONE && s.tag_old) {
		cfail(c, "the buffer was given back (its tag CQE came) while %d byte(s) sent from it still waited in the "
		      "socket", queued);
		goto out;
	}
	if (ev != SZ_NONE) {  /* the old buffer unmapped and new memory written: early-freed pages get reused */
		munmap(buf, SZ_LEN);
		if (!(buf = sz_buffer(c, 43)))
			goto out;
	}
	for (t0 = now_s(); got < SZ_LEN || !s.notif || (thread && !atomic_load(&u->done));) {
		ssize_t n;

		if (now_s() - t0 > 20) {
			cfail(c, "stuck: %zu of %d bytes received, notification %s%s", got, (int)SZ_LEN,
			      s.notif ? "came" : "not come", thread && !atomic_load(&u->done) ? ", unregister not returned" : "");
			break;
		}
		n = got < SZ_LEN ? recv(rcv, rbuf + got, SZ_LEN - got, MSG_DONTWAIT) : 0;
		if (n > 0)
			got += (size_t)n;
		else if (n < 0 && errno != EAGAIN) {
			cfail(c, "recv: %s", strerror(errno));
			break;
		}
		if (sz_reap(c, &r, &s))
			break;
		if (n <= 0)
			usleep(1000);
	}
	if (thread && atomic_load(&u->done)) {
		pthread_join(th, NULL);
		sigaction(SIGUSR1, &old_sa, NULL);
		thread = 0;
		registered = 0;
		if (!c->failed[0] && u->ret)
			cfail(c, "IORING_UNREGISTER_BUFFERS: %s", strerror(-u->ret));
	}
	if (c->failed[0])
		goto out;
	if ((first = first_diff(rbuf, exp, SZ_LEN)) >= 0) {
		cfail(c, "the receiver got other bytes than were sent at byte %ld (%s)", first,
		      ev == SZ_NONE ? "changed in flight" : "the buffer's pages were given back under the data in flight");
		goto out;
	}
	/* a replaced buffer's tag always comes (at once: 10 s for a loaded TCG guest); an unregistered
	 * one's only on later kernels (6.12's __io_sqe_buffers_unregister() posts none) */
	for (t0 = now_s(); ev != SZ_NONE && !s.tag_old && now_s() - t0 < (ev == SZ_UPDATE ? 10 : 0.2) &&
			   !sz_reap(c, &r, &s);)
		usleep(1000);
	if (!c->failed[0] && s.tag_old && s.tag_old < s.notif)
		cfail(c, "the old buffer's tag CQE came before the send's notification");
	else if (!c->failed[0] && ev == SZ_UPDATE && !s.tag_old)
		cfail(c, "the replaced buffer's tag CQE never came");
	if (!c->failed[0])
		printf("# %s: %d bytes sent from a registered buffer, %d waited in the socket at the %s; notification %s"
		       "%s\n", c->name, (int)SZ_LEN, queued, sz_names[ev], s.copied ? "COPIED" : "zerocopy",
		       s.tag_old ? ", the old buffer's tag after it" : "");
out:
	if (snd >= 0)  /* first: the skbs freed, the notification can come and a quiesce end */
		close(snd);
	if (rcv >= 0)
		close(rcv);
	if (thread && !sz_unreg_stop(th, u)) {
		cfail(c, "IORING_UNREGISTER_BUFFERS never returned, even after the sockets closed and signals");
		ring = registered = 0;  /* left to the thread, as u */
		u = NULL;
	}
	if (thread)
		sigaction(SIGUSR1, &old_sa, NULL);
	if (registered)
		io_uring_unregister_buffers(&r);
	if (ring)
		io_uring_queue_exit(&r);
	if (buf)
		munmap(buf, SZ_LEN);
	if (other)
		munmap(other, SZ_LEN);
	free(exp);
	free(rbuf);
	free(u);
	if (!c->failed[0] || strncmp(c->failed, "IORING_UNREGISTER_BUFFERS never", 31))
		borrow_pins(c, p0);
}

static void sendzc_cells(void)
{
	const struct cell_entry table[] = {{"sendzc/fixed/", sendzc_cell, sz_names, NSZ}};

	run_cells(table, 1, NULL, NULL);
}
