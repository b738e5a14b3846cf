/* fuse/...: FUSE direct I/O (fs/fuse/file.c), the user buffer pinned for the daemon to fill or
 * read. Part of pin_matrix.c (struct cell, mem_map()/mem_unmap(), fill64(),
 * first_diff(); kentry_cells.h's pin_mark()/pins_back()/none_held()/kentry_missing();
 * dio_paths.h's dio_aio()/dio_uring()), entered by fuse_cells() from main.
 *
 * 6.12, read in the tree: a file opened with FOPEN_DIRECT_IO reads and writes through
 * fuse_direct_io(), which pins the user buffer a request at a time (fuse_get_user_pages():
 * iov_iter_extract_pages(), FOLL_PIN, at most max_pages (32) pages or max_write bytes a request),
 * sends it and releases it (fuse_release_user_pages(): set_page_dirty_lock() for a read,
 * `should_dirty`, then unpin_user_page()); a short reply or an error ends the loop with the
 * bytes so far. An aio or io_uring call on an O_DIRECT open goes through fuse_direct_IO(): with
 * FUSE_ASYNC_DIO every request is sent in the background and released by
 * fuse_aio_complete_req() when its reply comes (or the connection ends it), the call completed
 * by fuse_aio_complete() with the shortest contiguous count. The daemon's side (fs/fuse/dev.c)
 * borrows its own buffers: fuse_copy_fill() takes each page of the buffer it reads requests
 * into with iov_iter_get_pages2() (a reference, dirtied and put by fuse_copy_finish()); splice
 * on /dev/fuse copies user pages into fresh ones (fuse_copy_page(): a pipe cannot hold a pin).
 *
 * The daemon is this file's own, no libfuse: a thread speaking the raw protocol
 * (include/uapi/linux/fuse.h) on /dev/fuse, mounted with mount(2) ("fd=N,rootmode=40000,..."),
 * serving one file "f" held in its memory. INIT (FUSE_ASYNC_DIO, FUSE_ABORT_ERROR, max_write
 * 64 KiB), LOOKUP, GETATTR, OPEN (FOPEN_DIRECT_IO), READ, WRITE, FLUSH, RELEASE, FORGET,
 * INTERRUPT; anything else ENOSYS. It logs every READ/WRITE (offset, size) and takes knobs: reply
 * the n-th one short or with an error, signal the caller and answer the INTERRUPT that follows
 * with EINTR, abort the connection (/sys/fs/fuse/connections/N/abort), run a hook before the
 * reply, hold the ones before the n-th unanswered (in flight when it acts), read its requests
 * into a buffer of a given memory kind, or through a pipe (splice).
 *
 * Each cell checks: the call's count; data both ways (what a read brought is the daemon's bytes
 * at that offset and nothing else of the memory changed; what a write sent is what the daemon
 * received, and nothing else of its file changed); the FOLL_PIN counters back after the call;
 * pages_held() on private memory (no pin or reference left). Premise: the daemon saw READ/WRITE
 * requests covering exactly the range asked, split in more than one where the cell says so
 * (direct I/O, not the page cache), and the call took a pin for each page of its buffer.
 *
 * fuse/<read|write|preadv|pwritev|aio-read|aio-write|uring-read|uring-write>/<memory>: memory
 *   anon, thp, shmem, hugetlb, ext4-shared (mem_map()); read/write: one buffer 100 bytes into
 *   the memory, to 50 bytes before its end, at file offset 1000 (one READ for the 32 pages of
 *   the small kinds); the others six iovecs with gaps, odd addresses and lengths (more pages
 *   than one request's 32: split, the premise); aio and uring on an O_DIRECT open (the async
 *   path: every request in flight at once). ext4-shared reads: the memory msynced clean first, the
 *   daemon fsyncs the ext4 file while it holds each request (writeback meets the pinned pages);
 *   after the read the file on disk (fsync, drop_caches, O_DIRECT) must hold what was read:
 *   only fuse_release_user_pages()'s set_page_dirty_lock() says those pages changed (premise:
 *   nr_written moved in the hooks).
 * fuse/err/...: 72 pages of private anon memory, three READ or five WRITE requests:
 *   hole-read, hole-write: page 40 unmapped: the count stops there, the pins back;
 *   short-read, short-write: the second request answered 1000 bytes short;
 *   eio-read: the second request answered EIO (count of the first); eio-write: the first (EIO);
 *   intr-read, intr-write: SIGUSR2 to the caller while the daemon holds the second (the first)
 *     request, answered EINTR after the kernel's INTERRUPT;
 *   abort-read: the connection aborted while the daemon holds the second request: the count of
 *     the first, then ENOTCONN for the next read;
 *   aio-abort: an aio read whose first two requests the daemon holds when it aborts at the
 *     third: the event's res ECONNABORTED, every request's pins back;
 *   aio-short: the second request short, async: the count up to there;
 *   aio-eio-write: the second request EIO, async: EIO;
 *   kill-read: a child reading is SIGKILLed while the daemon holds its request, answered after:
 *     the child dies of it, the pins back (premise: the kernel's INTERRUPT came).
 * fuse/dev-buf/<memory>: the daemon reads its requests into the memory (fuse_copy_fill()):
 *   four 64 KiB writes, each received byte for byte; ext4-shared: the last one's bytes reach the
 *   disk; no page of private memory held after.
 * fuse/splice/read, fuse/splice/write: the daemon reads requests and writes replies through
 *   pipes (fuse_dev_splice_read/_write); write: while it holds each WRITE, before it reads the
 *   payload from the pipe, it overwrites that part of the caller's buffer: the pipe must hold the
 *   copy made at the splice.
 */
#include <linux/fuse.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>

#define FU_MAX_WRITE (64 * 1024)  /* write requests of 16 pages; reads split at max_pages, 32 */
#define FU_REQS 128
#define FU_HOLD 16
#define FU_CONNS "/sys/fs/fuse/connections"
#define FU_CTL_MAGIC 0x65735543   /* fusectl's statfs f_type */
#define FU_OFF 1000               /* file offset of every transfer: not page-aligned */
#define FU_ERR_PAGES 72
#define FU_KILL_S 30              /* kill-read: the killed reader reaped within this, else aborted */
#define FU_STUCK_S 10             /* held requests with no act, an INTERRUPT that never came: abort */

enum fu_act { FU_NONE, FU_SHORT, FU_ERROR, FU_INTR, FU_ABORT, FU_HOOK };

struct fu_seen {
	uint32_t opcode, size;
	uint64_t off;
};

struct fu {
	int dev, abort_fd, pin[2], pout[2];
	char mnt[64], path[80];
	char *data;   /* the file, the daemon's memory */
	size_t size;
	char *rbuf;   /* where the daemon reads its requests */
	size_t rlen;
	int own_rbuf, thread;
	pthread_t thr, io;
	/* knobs, set before the I/O */
	enum fu_act act;
	int act_at;   /* the READ/WRITE (0-based) the act is for; -1: every one (FU_HOOK) */
	int hold;     /* READ/WRITEs before act_at stay unanswered: in flight when it acts */
	uint32_t short_by;
	int err;
	int splice;   /* requests in and replies out through pipes */
	void (*hook)(struct fu *f);
	struct cell *hook_cell;
	long hook_written;  /* nr_written moved in the hooks */
	long hook_cleaned;  /* pages of the ext4 mapping dirty before a hook's fsync, clean after */
	char *scribble;     /* splice: the caller's buffer, overwritten before the payload is read */
	size_t scribble_len;
	/* what it saw */
	struct fu_seen seen[FU_REQS];
	int nseen, interrupts, intr_done, holding;
	uint64_t intr_unique;
	int kill_child;  /* FU_INTR: SIGKILL to the victim instead of SIGUSR2 to the caller */
	pid_t victim;
	char why[200];
};

static int fu_ctl_mounted;

static void fu_usr2(int sig) { (void)sig; }

/* One reply: header, then up to two pieces; err a positive errno (no pieces) */
static void fu_reply(struct fu *f, uint64_t unique, int err, const void *a, size_t alen, const void *b, size_t blen)
{
	struct fuse_out_header h = {.len = sizeof(h) + (err ? 0 : alen + blen), .error = -err, .unique = unique};
	struct iovec iov[3] = {{&h, sizeof(h)}, {(void *)a, alen}, {(void *)b, blen}};
	int n = err ? 1 : 3;
	ssize_t w;

	if (!f->splice) {
		w = writev(f->dev, iov, n);
	} else {  /* fuse_dev_splice_write(): the reply's pages come out of the pipe */
		w = writev(f->pout[1], iov, n);
		if (w == (ssize_t)h.len)
			w = splice(f->pout[0], NULL, f->dev, NULL, h.len, SPLICE_F_MOVE);
	}
	/* ENOENT: the request is gone (interrupted, aborted); ENODEV/ECONNABORTED: the connection */
	if (w != (ssize_t)h.len && errno != ENOENT && errno != ENODEV && errno != ECONNABORTED && !f->why[0])
		snprintf(f->why, sizeof(f->why), "reply to request %llu: %zd of %u bytes (%s)", (unsigned long long)unique,
			 w, h.len, strerror(errno));
}

static void fu_attr(struct fu *f, uint64_t node, struct fuse_attr *a)
{
	*a = (struct fuse_attr){.ino = node, .nlink = 1, .blksize = (uint32_t)PAGE};
	if (node == FUSE_ROOT_ID) {
		a->mode = S_IFDIR | 0755;
		a->nlink = 2;
	} else {
		a->mode = S_IFREG | 0644;
		a->size = f->size;
		a->blocks = (f->size + 511) / 512;
	}
}

/* READ or WRITE: logged, then the knobs; in points past fuse_read_in/fuse_write_in's common head */
static void fu_rw(struct fu *f, const struct fuse_in_header *h, const void *arg, const char *payload)
{
	const struct fuse_read_in *in = arg;  /* fh, offset, size: the same in fuse_write_in */
	int wr = h->opcode == FUSE_WRITE, i = f->nseen;
	uint32_t size = in->size, n;

	if (i < FU_REQS)
		f->seen[i] = (struct fu_seen){h->opcode, in->size, in->offset};
	__atomic_store_n(&f->nseen, i + 1, __ATOMIC_RELEASE);
	if (f->act != FU_NONE && (f->act_at < 0 || i == f->act_at)) {
		switch (f->act) {
		case FU_SHORT:
			size = size > f->short_by ? size - f->short_by : 0;
			break;
		case FU_ERROR:
			fu_reply(f, h->unique, f->err, NULL, 0, NULL, 0);
			return;
		case FU_INTR:  /* the caller is waiting in request_wait_answer(): the INTERRUPT follows */
			f->intr_unique = h->unique;
			if (!f->kill_child) {
				pthread_kill(f->io, SIGUSR2);
				return;
			}
			/* kill-read: the child's pid is stored right after its fork */
			for (int w = 0; w < 2000 && !__atomic_load_n(&f->victim, __ATOMIC_ACQUIRE); w++)
				usleep(1000);
			if (!f->victim || kill(f->victim, SIGKILL))
				snprintf(f->why, sizeof(f->why), "no reader to kill (%d): %s", (int)f->victim, strerror(errno));
			return;
		case FU_ABORT:
			if (f->abort_fd < 0 || write(f->abort_fd, "1", 1) != 1)
				snprintf(f->why, sizeof(f->why), "cannot abort the connection: %s", strerror(errno));
			return;
		case FU_HOOK:
			f->hook(f);
			break;
		default:
			break;
		}
	} else if (f->hold && i < f->act_at) {
		f->holding++;
		return;  /* in flight until the act */
	}
	n = in->offset < f->size ? (uint32_t)(f->size - in->offset < size ? f->size - in->offset : size) : 0;
	if (wr) {
		struct fuse_write_out out = {.size = n};

		memcpy(f->data + in->offset, payload, n);
		fu_reply(f, h->unique, 0, &out, sizeof(out), NULL, 0);
	} else {
		fu_reply(f, h->unique, 0, f->data + in->offset, n, NULL, 0);
	}
}

/* n bytes out of the request pipe (splice mode) */
static int fu_pipe_read(struct fu *f, char *to, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(f->pin[0], to + got, n - got);

		if (r <= 0) {
			snprintf(f->why, sizeof(f->why), "read of a request from its pipe: %s", r ? strerror(errno) : "EOF");
			return -1;
		}
		got += r;
	}
	return 0;
}

/* Until a request is there. A daemon that holds requests for an act that never comes (fewer
 * requests than the cell expects), or waits for an INTERRUPT that never comes, would leave the
 * caller waiting for ever: after FU_STUCK_S it says so and aborts the connection, which ends them */
static void fu_wait(struct fu *f)
{
	struct pollfd p = {.fd = f->dev, .events = POLLIN};
	double since = now_s();

	while (!poll(&p, 1, 100)) {
		int intr = f->intr_unique && !__atomic_load_n(&f->intr_done, __ATOMIC_ACQUIRE);

		if ((f->holding || intr) && now_s() - since > FU_STUCK_S) {
			snprintf(f->why, sizeof(f->why), "%s %d s, no request came: the connection aborted",
				 intr ? "waited for the INTERRUPT of the request it held" : "held requests for its act",
				 FU_STUCK_S);
			if (f->abort_fd < 0 || write(f->abort_fd, "1", 1) != 1)
				return;  /* nothing ends them: the runner's timeout will */
			since = now_s();
		}
	}
}

/* The next request into rbuf: its length, 0 when the connection ended, -1 on error */
static ssize_t fu_next(struct fu *f)
{
	struct fuse_in_header *h = (void *)f->rbuf;
	size_t head = sizeof(*h) + sizeof(struct fuse_write_in);
	ssize_t n;

	fu_wait(f);
	for (;;) {
		n = f->splice ? splice(f->dev, NULL, f->pin[1], NULL, f->rlen, 0) : read(f->dev, f->rbuf, f->rlen);
		if (n >= 0 || errno != EINTR)
			break;
	}
	if (n < 0 && (errno == ENODEV || errno == ECONNABORTED))
		return 0;
	if (n < (ssize_t)sizeof(*h)) {
		snprintf(f->why, sizeof(f->why), "read of /dev/fuse: %zd (%s)", n, n < 0 ? strerror(errno) : "short");
		return -1;
	}
	if (!f->splice)
		return n;
	if (fu_pipe_read(f, f->rbuf, sizeof(*h)))
		return -1;
	if (h->opcode == FUSE_WRITE && f->scribble && h->len > head) {
		/* the payload is still in the pipe: it must be a copy of the caller's bytes, not the
		 * caller's pages (fuse_copy_page()), so overwriting them now must not change it */
		const struct fuse_write_in *wi = (void *)(h + 1);

		if (fu_pipe_read(f, f->rbuf + sizeof(*h), head - sizeof(*h)))
			return -1;
		for (uint64_t i = wi->offset - FU_OFF; i < wi->offset - FU_OFF + wi->size && i < f->scribble_len; i++)
			f->scribble[i] ^= 0x5a;  /* this request's part of the buffer (at file offset FU_OFF) */
		return fu_pipe_read(f, f->rbuf + head, h->len - head) ? -1 : n;
	}
	return fu_pipe_read(f, f->rbuf + sizeof(*h), h->len - sizeof(*h)) ? -1 : n;
}

static void *fu_daemon(void *arg)
{
	struct fu *f = arg;
	sigset_t all;
	ssize_t n;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);  /* SIGUSR2 is the caller's */
	while ((n = fu_next(f)) > 0) {
		struct fuse_in_header *h = (void *)f->rbuf;
		void *in = h + 1;

		switch (h->opcode) {
		case FUSE_INIT: {
			const struct fuse_init_in *ii = in;
			struct fuse_init_out o = {.major = FUSE_KERNEL_VERSION, .minor = FUSE_KERNEL_MINOR_VERSION,
						  .max_readahead = ii->max_readahead,
						  .flags = FUSE_ASYNC_DIO | FUSE_ABORT_ERROR | FUSE_BIG_WRITES,
						  .max_background = 16, .congestion_threshold = 12,
						  .max_write = FU_MAX_WRITE, .time_gran = 1};

			fu_reply(f, h->unique, 0, &o, sizeof(o), NULL, 0);
			break;
		}
		case FUSE_LOOKUP: {
			struct fuse_entry_out e = {.nodeid = 2, .generation = 1, .entry_valid = 3600, .attr_valid = 3600};

			if (h->nodeid != FUSE_ROOT_ID || strcmp(in, "f")) {
				fu_reply(f, h->unique, ENOENT, NULL, 0, NULL, 0);
				break;
			}
			fu_attr(f, 2, &e.attr);
			fu_reply(f, h->unique, 0, &e, sizeof(e), NULL, 0);
			break;
		}
		case FUSE_GETATTR: {
			struct fuse_attr_out a = {.attr_valid = 3600};

			fu_attr(f, h->nodeid, &a.attr);
			fu_reply(f, h->unique, 0, &a, sizeof(a), NULL, 0);
			break;
		}
		case FUSE_OPEN: {
			struct fuse_open_out o = {.fh = 1, .open_flags = FOPEN_DIRECT_IO};

			fu_reply(f, h->unique, 0, &o, sizeof(o), NULL, 0);
			break;
		}
		case FUSE_READ:
			fu_rw(f, h, in, NULL);
			break;
		case FUSE_WRITE:
			fu_rw(f, h, in, (char *)in + sizeof(struct fuse_write_in));
			break;
		case FUSE_INTERRUPT: {
			const struct fuse_interrupt_in *ii = in;

			f->interrupts++;
			if (f->intr_unique && ii->unique == f->intr_unique) {
				__atomic_store_n(&f->intr_done, 1, __ATOMIC_RELEASE);  /* before the caller can return */
				fu_reply(f, f->intr_unique, EINTR, NULL, 0, NULL, 0);
			}
			break;
		}
		case FUSE_FORGET:
		case FUSE_BATCH_FORGET:
			break;  /* no reply */
		case FUSE_FLUSH:
		case FUSE_RELEASE:
		case FUSE_FSYNC:
		case FUSE_DESTROY:
			fu_reply(f, h->unique, 0, NULL, 0, NULL, 0);
			break;
		default:
			fu_reply(f, h->unique, ENOSYS, NULL, 0, NULL, 0);
			break;
		}
	}
	if (n < 0) {  /* an error (f->why says which): the requests in flight and to come would wait for ever */
		int afd;
		size_t w = strlen(f->why);

		for (int i = 0; i < 50 && (afd = __atomic_load_n(&f->abort_fd, __ATOMIC_ACQUIRE)) < 0; i++)
			usleep(100 * 1000);  /* fu_start() opens it just after it started us */
		if (afd < 0 || write(afd, "1", 1) != 1)
			snprintf(f->why + w, sizeof(f->why) - w, "; the connection could not be aborted: %s",
				 afd < 0 ? "no abort file" : strerror(errno));
	}
	return NULL;
}

/* fusectl, where each connection's abort file is: mounted once if it is not */
static void fu_ctl(void)
{
	struct statfs s;

	if (!statfs(FU_CONNS, &s) && s.f_type == FU_CTL_MAGIC)
		return;
	if (!mount("fusectl", FU_CONNS, "fusectl", 0, NULL))
		fu_ctl_mounted = 1;
}

static void fu_init(struct fu *f)
{
	f->dev = f->abort_fd = -1;
	f->pin[0] = f->pin[1] = f->pout[0] = f->pout[1] = -1;
}

/* A fresh connection serving "f" of size bytes (pattern seed 3), its requests read into rbuf
 * (NULL: the daemon's own); the knobs are set by the caller before. 0, or -1 with the cell judged */
static int fu_start(struct cell *c, struct fu *f, size_t size, char *rbuf, size_t rlen)
{
	char opts[128], ctl[96];
	struct stat st;

	f->io = pthread_self();
	f->size = size;
	f->data = malloc(size);
	f->rbuf = rbuf;
	f->rlen = rlen;
	if (!rbuf) {
		f->rlen = FU_MAX_WRITE + 2 * PAGE;
		f->rbuf = malloc(f->rlen);
		f->own_rbuf = 1;
	}
	if (!f->data || !f->rbuf) {
		cfail(c, "out of memory");
		return -1;
	}
	fill64(f->data, size, 3);
	f->dev = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (f->dev < 0) {
		kentry_missing(c, "fuse", "no /dev/fuse (CONFIG_FUSE_FS)");
		return -1;
	}
	if (f->splice && (pipe(f->pin) || pipe(f->pout) || fcntl(f->pin[1], F_SETPIPE_SZ, 1 << 20) < 0 ||
			  fcntl(f->pout[1], F_SETPIPE_SZ, 1 << 20) < 0)) {
		cfail(c, "pipes of 1 MiB for splice: %s", strerror(errno));
		return -1;
	}
	snprintf(f->mnt, sizeof(f->mnt), "/run/pin_matrix.fuse.%d", getpid());
	snprintf(f->path, sizeof(f->path), "%s/f", f->mnt);
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", f->dev);
	if ((mkdir(f->mnt, 0700) && errno != EEXIST) || mount("pinbench", f->mnt, "fuse", MS_NOSUID | MS_NODEV, opts)) {
		cfail(c, "mount -t fuse -o %s %s: %s", opts, f->mnt, strerror(errno));
		rmdir(f->mnt);
		f->mnt[0] = 0;
		return -1;
	}
	if (pthread_create(&f->thr, NULL, fu_daemon, f)) {
		cfail(c, "pthread_create of the daemon");
		umount2(f->mnt, MNT_DETACH);
		return -1;
	}
	f->thread = 1;
	if (!stat(f->mnt, &st)) {  /* the connection's name is the kernel's dev_t of the super block */
		snprintf(ctl, sizeof(ctl), FU_CONNS "/%u/abort", major(st.st_dev) << 20 | minor(st.st_dev));
		__atomic_store_n(&f->abort_fd, open(ctl, O_WRONLY | O_CLOEXEC), __ATOMIC_RELEASE);
	}
	return 0;
}

/* Unmounted (the connection ends, the daemon reads ENODEV), the daemon joined; its own error fails
 * the cell. Idempotent: everything it ends is marked ended. */
static void fu_stop(struct cell *c, struct fu *f)
{
	struct timespec ts;

	if (f->mnt[0] && umount2(f->mnt, MNT_DETACH))
		cfail(c, "umount %s: %s", f->mnt, strerror(errno));
	if (f->thread) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 10;
		if (pthread_timedjoin_np(f->thr, NULL, &ts)) {
			cfail(c, "the daemon did not see its connection end within 10 s of the unmount");
			if (f->abort_fd >= 0 && write(f->abort_fd, "1", 1) < 0) { /* the cancel below then */ }
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 5;
			if (pthread_timedjoin_np(f->thr, NULL, &ts)) {
				pthread_cancel(f->thr);
				pthread_join(f->thr, NULL);
			}
		}
		f->thread = 0;
	}
	if (f->why[0])
		cfail(c, "the daemon: %s", f->why);
	if (f->mnt[0])
		rmdir(f->mnt);
	f->mnt[0] = 0;
	if (f->abort_fd >= 0)
		close(f->abort_fd);
	if (f->dev >= 0)
		close(f->dev);
	f->abort_fd = f->dev = -1;
	close_pair(f->pin);
	close_pair(f->pout);
	free(f->data);
	f->data = NULL;
	if (f->own_rbuf)
		free(f->rbuf);
	f->rbuf = NULL;
	f->own_rbuf = 0;
}

/* A cell's end: its open of "f" closed (-1: none), then fu_stop() */
static void fu_end(struct cell *c, struct fu *f, int fd)
{
	if (fd >= 0)
		close(fd);
	fu_stop(c, f);
}

/* The READ/WRITE requests the daemon saw from index from on: in order and contiguous from off,
 * total bytes; their number, or -1 with the cell failed */
static int fu_covered(struct cell *c, struct fu *f, int from, uint32_t op, uint64_t off, size_t total)
{
	int n = __atomic_load_n(&f->nseen, __ATOMIC_ACQUIRE);
	uint64_t at = off;

	if (n > FU_REQS) {
		cfail(c, "the daemon saw %d requests, more than it logs (%d)", n, FU_REQS);
		return -1;
	}
	for (int i = from; i < n; i++) {
		if (f->seen[i].opcode != op || f->seen[i].off != at) {
			cfail(c, "the daemon's request %d: %s of %u bytes at %llu, expected a %s at %llu (direct I/O in "
			      "order)", i, f->seen[i].opcode == FUSE_READ ? "READ" : "WRITE", f->seen[i].size,
			      (unsigned long long)f->seen[i].off, op == FUSE_READ ? "READ" : "WRITE",
			      (unsigned long long)at);
			return -1;
		}
		at += f->seen[i].size;
	}
	if (at - off != total) {
		cfail(c, "the daemon saw %d %s request(s) for %llu bytes at %llu, the call was for %zu", n - from,
		      op == FUSE_READ ? "READ" : "WRITE", (unsigned long long)(at - off), (unsigned long long)off, total);
		return -1;
	}
	return n - from;
}

/* Pages the iovecs touch (a pin each) */
static long fu_pages(const struct iovec *iov, int n)
{
	long p = 0;

	for (int i = 0; i < n; i++)
		if (iov[i].iov_len)
			p += ((uintptr_t)iov[i].iov_base + iov[i].iov_len - 1) / PAGE - (uintptr_t)iov[i].iov_base / PAGE + 1;
	return p;
}

enum fu_how { FU_SYNC, FU_AIO, FU_URING };

/* The call: read/write (one iovec), preadv/pwritev, or aio/io_uring on the O_DIRECT fd; its
 * count, or -1 with errno; -2: no aio in this kernel */
static ssize_t fu_call(enum fu_how how, int fd, int rd, struct iovec *iov, int n, off_t off)
{
	if (how == FU_AIO)
		return dio_aio(fd, rd, iov, n, off);
	if (how == FU_URING)
		return dio_uring(fd, rd, iov, n, off);
	if (n == 1) {
		if (lseek(fd, off, SEEK_SET) != off)
			return -1;
		return rd ? read(fd, iov->iov_base, iov->iov_len) : write(fd, iov->iov_base, iov->iov_len);
	}
	return rd ? preadv(fd, iov, n, off) : pwritev(fd, iov, n, off);
}

/* Six iovecs with gaps, odd addresses and lengths over [p, p+len) (len a multiple of 6 pages
 * or bigger than 32 pages), or one from byte 100 to 50 before the end; the total */
static size_t fu_iovs(char *p, size_t len, int six, struct iovec *iov, int *n)
{
	size_t total = 0, step = len / 6;

	if (!six) {
		iov[0] = (struct iovec){p + 100, len - 150};
		*n = 1;
		return len - 150;
	}
	for (int j = 0; j < 6; j++) {
		iov[j] = (struct iovec){p + j * step + 100 + 8 * j, step - 300 - 16 * j};
		total += iov[j].iov_len;
	}
	*n = 6;
	return total;
}

/* ext4-shared reads: while the daemon holds a request, writeback of the file meets its pinned
 * pages (cleaned, write-protected): after the reply only set_page_dirty_lock() marks them */
/* ext4-shared reads: fsync of the file while the daemon holds the READ (its pages pinned and,
 * by the pin's write fault, dirty). The premise is the file's own: pages of the mapping dirty
 * before the fsync and clean after (kpageflags), counted in hook_cleaned; nr_written (global)
 * only for the note */
static void fu_fsync_hook(struct fu *f)
{
	struct cell *c = f->hook_cell;
	size_t np = 2 * c->half / PAGE;
	long before = vmstat("nr_written");
	unsigned char *dirty = calloc(np, 1);

	for (size_t i = 0; dirty && i < np; i++)
		dirty[i] = (kpageflags(c->map + i * PAGE) >> KPF_DIRTY) & 1;
	if (fsync(c->fd) && !f->why[0])
		snprintf(f->why, sizeof(f->why), "fsync of the ext4 file in the hook: %s", strerror(errno));
	f->hook_written += vmstat("nr_written") - before;
	for (size_t i = 0; dirty && i < np; i++)
		f->hook_cleaned += dirty[i] && !((kpageflags(c->map + i * PAGE) >> KPF_DIRTY) & 1);
	free(dirty);
}

/* Opens "f" (O_DIRECT for the async paths); -1 with the cell failed */
static int fu_open(struct cell *c, struct fu *f, int direct)
{
	int fd = open(f->path, O_RDWR | (direct ? O_DIRECT : 0));

	if (fd < 0)
		cfail(c, "open %s%s: %s", f->path, direct ? " O_DIRECT" : "", strerror(errno));
	return fd;
}

/* The ext4 file behind c on disk (msync, fsync, drop_caches, O_DIRECT) at [off, off+n) against want */
static void fu_disk(struct cell *c, size_t off, const char *want, size_t n, const char *what)
{
	size_t len = 2 * c->half;
	char *buf = NULL;
	int fd;
	long d;

	if (msync(c->map, len, MS_SYNC) || fsync(c->fd))
		cfail(c, "msync/fsync: %s", strerror(errno));
	drop_caches();
	fd = open(c->path, O_RDONLY | O_DIRECT);
	if (fd < 0 || posix_memalign((void **)&buf, PAGE, len))
		cfail(c, "cannot open %s with O_DIRECT", c->path);
	else if (pread(fd, buf, len, 0) != (ssize_t)len)
		cfail(c, "O_DIRECT read of %s: %s", c->path, strerror(errno));
	else if ((d = first_diff(buf + off, want, n)) >= 0)
		cfail(c, "%s: the file on disk differs at byte %ld", what, (long)off + d);
	if (fd >= 0)
		close(fd);
	free(buf);
}

static const enum mem fu_mems[] = {ANON, THP, SHMEM, HUGE, FILESH};
#define FU_NMEM (sizeof(fu_mems) / sizeof(fu_mems[0]))
#define FU_M(s) s "/anon", s "/thp", s "/shmem", s "/hugetlb", s "/ext4-shared"
static const char *const fu_names[] = {FU_M("read"),	 FU_M("write"),	    FU_M("preadv"),	FU_M("pwritev"),
				       FU_M("aio-read"), FU_M("aio-write"), FU_M("uring-read"), FU_M("uring-write")};

/* fuse/<shape>/<memory> */
static void fu_shape(struct cell *c, int k)
{
	int shape = k / (int)FU_NMEM, rd = !(shape & 1), six = shape >= 2, fd = -1, n, nreq;
	enum fu_how how = shape >= 6 ? FU_URING : shape >= 4 ? FU_AIO : FU_SYNC;
	struct fu f = {.act = FU_NONE};
	struct iovec iov[6];
	struct pinmark pm;
	size_t len, total, off;
	char *want = NULL, *fwant = NULL;
	long a0, r0, a1, r1, d;
	ssize_t got;

	fu_init(&f);
	c->mem = fu_mems[k % FU_NMEM];
	if (c->mem == FILESH && !ext4_dir) {
		cskip(c, "no ext4 folder (-d)");
		return;
	}
	if (how == FU_URING && pinner_missing(c, URING))
		return;
	if (mem_map(c))
		goto out;
	len = 2 * c->half;
	total = fu_iovs(c->map, len, six, iov, &n);
	if (c->mem == FILESH && rd) {
		if (msync(c->map, len, MS_SYNC)) {  /* clean and write-protected before the pins */
			cfail(c, "msync: %s", strerror(errno));
			goto out;
		}
		f.act = FU_HOOK;
		f.act_at = -1;
		f.hook = fu_fsync_hook;
		f.hook_cell = c;
	}
	if (!(want = malloc(len)) || fu_start(c, &f, FU_OFF + total + 2 * PAGE, NULL, 0) ||
	    (fd = fu_open(c, &f, how != FU_SYNC)) < 0 || !(fwant = malloc(f.size)))
		goto stop;
	memcpy(want, c->map, len);
	memcpy(fwant, f.data, f.size);
	off = 0;
	for (int j = 0; j < n; off += iov[j].iov_len, j++) {  /* what each side must hold after */
		if (rd)
			memcpy(want + ((char *)iov[j].iov_base - c->map), f.data + FU_OFF + off, iov[j].iov_len);
		else
			memcpy(fwant + FU_OFF + off, iov[j].iov_base, iov[j].iov_len);
	}
	pin_mark(&pm);
	pin_counts(&a0, &r0);
	got = fu_call(how, fd, rd, iov, n, FU_OFF);
	pin_counts(&a1, &r1);
	if (got == -2) {
		cskip(c, "no aio (io_setup: %s)", strerror(errno));
		goto stop;
	}
	if (got != (ssize_t)total) {
		cfail(c, "%s of %zu bytes in %d iovec(s): %zd (%s)", fu_names[k], total, n, got, got < 0 ? strerror(errno) : "short");
		goto stop;
	}
	if ((nreq = fu_covered(c, &f, 0, rd ? FUSE_READ : FUSE_WRITE, FU_OFF, total)) < 0)
		goto stop;
	if (rd && (d = first_diff(c->map, want, len)) >= 0) {
		cfail(c, "after the read byte %ld of the memory is %#x, expected %#x (the daemon's byte, or unchanged "
		      "outside the iovecs)", d, c->map[d] & 0xff, want[d] & 0xff);
		goto stop;
	}
	if (!rd && (d = first_diff(f.data, fwant, f.size)) >= 0) {
		cfail(c, "after the write byte %ld of the daemon's file is %#x, expected %#x (the memory's byte, or "
		      "unchanged outside the range)", d, f.data[d] & 0xff, fwant[d] & 0xff);
		goto stop;
	}
	if (!rd && (d = first_diff(c->map, want, len)) >= 0) {
		cfail(c, "the write changed byte %ld of the memory", d);
		goto stop;
	}
	close(fd);
	fd = -1;
	pins_back(c, &pm, "the call");
	if (c->mem == FILESH && rd && !c->failed[0]) {
		fu_disk(c, 0, want, len, "after the read into the MAP_SHARED memory");
	}
	if (!c->failed[0] && (c->mem == ANON || c->mem == THP))
		none_held(c, c->map, len, "the call");
	if (!c->failed[0] && a1 - a0 < fu_pages(iov, n))
		cskip(c, "the call took %ld pin(s) for the %ld page(s) of its buffer: not the pinning path", a1 - a0,
		      fu_pages(iov, n));
	else if (!c->failed[0] && six && nreq < 2)
		cskip(c, "%zu bytes in six iovecs went in %d request: not split", total, nreq);
	else if (!c->failed[0] && c->mem == FILESH && rd && f.hook_cleaned < 1)
		cskip(c, "the fsyncs in the daemon's hooks cleaned no dirty page of the mapping (kpageflags; nr_written "
		      "+%ld): the pinned pages were not cleaned under the pin", f.hook_written);
	else if (!c->failed[0] && c->mem == FILESH && rd)
		printf("# %s: %zu bytes in %d request(s), %ld pin(s), the file written back under each: %ld page(s) of "
		       "the mapping dirty before a hook's fsync and clean after (nr_written +%ld)\n", c->name, total,
		       nreq, a1 - a0, f.hook_cleaned, f.hook_written);
	else if (!c->failed[0])
		printf("# %s: %zu bytes in %d request(s), %ld pin(s)\n", c->name, total, nreq, a1 - a0);
stop:
	fu_end(c, &f, fd);
out:
	mem_unmap(c);
	free(want);
	free(fwant);
}

/* -- error paths: 72 pages of private anon memory (three READs of 32, 32, 8 pages; five WRITEs) -- */

static const char *const fu_err_names[] = {"hole-read", "hole-write", "short-read", "short-write", "eio-read",
					   "eio-write", "intr-read", "intr-write", "abort-read", "aio-abort",
					   "aio-short", "aio-eio-write", "kill-read"};

/* The bytes request i asked for (0 past the log) */
static size_t fu_req_size(struct fu *f, int i)
{
	return i < __atomic_load_n(&f->nseen, __ATOMIC_ACQUIRE) && i < FU_REQS ? f->seen[i].size : 0;
}

/* kill-read: a child reads; the daemon SIGKILLs it when its READ comes and answers the INTERRUPT
 * that follows (the request was the daemon's: request_wait_answer() waits it out) */
static void fu_kill_read(struct cell *c, struct fu *f, int fd, char *buf, size_t len)
{
	int status;
	pid_t pid, got;

	if ((pid = cell_fork()) == 0) {
		ssize_t r = pread(fd, buf + 100, len - 150, FU_OFF);

		_exit(r < 0 ? 1 : 0);
	}
	if (pid < 0) {
		cfail(c, "fork: %s", strerror(errno));
		return;
	}
	__atomic_store_n(&f->victim, pid, __ATOMIC_RELEASE);
	/* bounded: a reader still there after FU_KILL_S (its request never ended) has its
	 * connection aborted, which ends the request and lets the SIGKILL act */
	for (int i = 0; i < 10 * FU_KILL_S && (got = waitpid(pid, &status, WNOHANG)) == 0; i++)
		usleep(100 * 1000);
	if (got == 0) {
		kill(pid, SIGKILL);
		if (f->abort_fd >= 0 && write(f->abort_fd, "1", 1) < 0) { /* the wait below says so */ }
		for (int i = 0; i < 50 && (got = waitpid(pid, &status, WNOHANG)) == 0; i++)
			usleep(100 * 1000);
		cfail(c, "the reader was still there %d s after its READ was sent%s", FU_KILL_S,
		      got == pid ? ": ended by aborting the connection" : ", and 5 s after the connection was aborted");
	} else if (got != pid)
		cfail(c, "waitpid: %s", strerror(errno));
	else if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		cfail(c, "the reader ended with status %#x, not by the SIGKILL sent while its request was the daemon's",
		      status);
	else if (!__atomic_load_n(&f->intr_done, __ATOMIC_ACQUIRE))
		cfail(c, "the killed reader's request ended without the INTERRUPT the daemon waits for (%d request(s), "
		      "%d INTERRUPT(s))", f->nseen, f->interrupts);
}

static void fu_err(struct cell *c, int k)
{
	const char *name = fu_err_names[k];
	int rd = strstr(name, "write") == NULL, aio = !strncmp(name, "aio-", 4), hole = !strncmp(name, "hole", 4);
	int fd = -1, nreq, err = 0;
	size_t len = FU_ERR_PAGES * PAGE, expect = 0, total = len - 150, hole_at = 40 * PAGE, sent = 0;
	char *buf = map_aligned(len, PAGE, MADV_NOHUGEPAGE), *want = malloc(len), *fwant = NULL;
	struct fu f = {.act = FU_NONE};
	struct iovec iov = {NULL, total};
	struct sigaction sa = {.sa_handler = fu_usr2}, old;
	struct pinmark pm;
	long d, a0, r0, a1, r1;
	ssize_t got;

	fu_init(&f);
	c->mem = ANON;
	if (!buf || !want) {
		cfail(c, "out of memory");
		goto out;
	}
	fill64(buf, len, 11);
	iov.iov_base = buf + 100;
	if (!strncmp(name, "short", 5) || !strcmp(name, "aio-short")) {
		f.act = FU_SHORT;
		f.act_at = 1;
		f.short_by = 1000;
	} else if (!strcmp(name, "eio-read") || !strcmp(name, "aio-eio-write") || !strcmp(name, "eio-write")) {
		f.act = FU_ERROR;
		f.act_at = strcmp(name, "eio-write") ? 1 : 0;
		f.err = EIO;
	} else if (!strncmp(name, "intr", 4) || !strcmp(name, "kill-read")) {
		f.act = FU_INTR;
		f.act_at = !strcmp(name, "intr-read");
		f.kill_child = !strcmp(name, "kill-read");
	} else if (!strcmp(name, "abort-read")) {
		f.act = FU_ABORT;
		f.act_at = 1;
	} else if (!strcmp(name, "aio-abort")) {
		f.act = FU_ABORT;
		f.act_at = 2;
		f.hold = 1;  /* the first two in flight when the third aborts */
	}
	if (fu_start(c, &f, FU_OFF + len + PAGE, NULL, 0) || (fd = fu_open(c, &f, aio)) < 0 || !(fwant = malloc(f.size)))
		goto stop;
	if (f.act == FU_ABORT && f.abort_fd < 0) {
		cskip(c, "no abort file of the connection under " FU_CONNS " (fusectl)");
		goto stop;
	}
	memcpy(want, buf, len);
	memcpy(fwant, f.data, f.size);
	if (hole && munmap(buf + hole_at, PAGE)) {
		cfail(c, "munmap of page 40: %s", strerror(errno));
		goto stop;
	}
	pin_mark(&pm);
	if (f.kill_child) {
		fu_kill_read(c, &f, fd, buf, len);
		close(fd);
		fd = -1;
		pins_back(c, &pm, "the killed reader's end");
		if (!c->failed[0])
			printf("# %s: the reader killed while the daemon held its READ, the INTERRUPT answered\n", c->name);
		goto stop;
	}
	sigaction(SIGUSR2, &sa, &old);  /* no SA_RESTART: the call returns */
	pin_counts(&a0, &r0);
	got = fu_call(aio ? FU_AIO : FU_SYNC, fd, rd, &iov, 1, FU_OFF);
	err = errno;
	pin_counts(&a1, &r1);
	sigaction(SIGUSR2, &old, NULL);
	if (got == -2) {
		cskip(c, "no aio (io_setup: %s)", strerror(err));
		goto stop;
	}
	if (f.act != FU_NONE && (fu_req_size(&f, f.act_at) == 0 || (f.act == FU_INTR && !f.intr_done))) {
		cfail(c, "the daemon did not get to act (%d request(s), INTERRUPT %s): the call returned %zd (%s)", f.nseen,
		      f.intr_done ? "answered" : "not seen", got, got < 0 ? strerror(err) : "bytes");
		goto stop;
	}
	/* what the call must have returned, from the requests the daemon saw */
	if (hole)
		expect = hole_at - 100;
	else if (f.act == FU_SHORT)
		expect = fu_req_size(&f, 0) + fu_req_size(&f, 1) - f.short_by;
	else if (f.act_at == 1 && !aio)
		expect = fu_req_size(&f, 0);
	if (expect == 0) {  /* the call fails as a whole */
		int want_err = f.act == FU_INTR ? EINTR : f.act == FU_ABORT ? ECONNABORTED : EIO;

		if (got != -1 || err != want_err)
			cfail(c, "the call returned %zd (%s), expected %s", got, got < 0 ? strerror(err) : "bytes",
			      strerror(want_err));
	} else if (got != (ssize_t)expect) {
		cfail(c, "the call returned %zd (%s), expected %zu (what the daemon answered before it %s)", got,
		      got < 0 ? strerror(err) : "bytes", expect, hole ? "met the unmapped page" : "acted");
	}
	if (c->failed[0])
		goto stop;
	if (rd)
		memcpy(want + 100, f.data + FU_OFF, expect);
	else
		memcpy(fwant + FU_OFF, buf + 100, expect);
	/* sync: nothing past the count changed; async: later requests may have filled theirs */
	if (rd && (d = first_diff(buf, want, aio ? 100 + expect : hole ? hole_at : len)) >= 0)
		cfail(c, "after the read byte %ld of the memory is %#x, expected %#x (the daemon's byte before the count, "
		      "else unchanged)", d, buf[d] & 0xff, want[d] & 0xff);
	else if (rd && hole && (d = first_diff(buf + hole_at + PAGE, want + hole_at + PAGE, len - hole_at - PAGE)) >= 0)
		cfail(c, "the read changed byte %ld past the unmapped page", (long)(hole_at + PAGE) + d);
	else if (!rd && !aio && (d = first_diff(f.data, fwant, f.size)) >= 0)
		cfail(c, "after the write byte %ld of the daemon's file is %#x, expected %#x (the memory's byte before the "
		      "count, else unchanged)", d, f.data[d] & 0xff, fwant[d] & 0xff);
	else if (f.act == FU_ABORT && !aio && (pread(fd, want, PAGE, FU_OFF) != -1 || errno != ENOTCONN))
		cfail(c, "a read after the abort: not ENOTCONN (%s)", strerror(errno));
	close(fd);
	fd = -1;
	pins_back(c, &pm, "the call");
	if (c->failed[0])
		goto stop;
	nreq = __atomic_load_n(&f.nseen, __ATOMIC_ACQUIRE);
	if (hole)
		nreq = fu_covered(c, &f, 0, rd ? FUSE_READ : FUSE_WRITE, FU_OFF, expect);
	/* premise: a pin for every page of the buffer that the requests the daemon saw covered
	 * (each was pinned before it was sent; from byte 100 of the first page, contiguous) */
	for (int i = 0; i < __atomic_load_n(&f.nseen, __ATOMIC_ACQUIRE) && i < FU_REQS; i++)
		sent += f.seen[i].size;
	sent = sent < total ? sent : total;
	if (!c->failed[0] && a1 - a0 < (long)((100 + sent + PAGE - 1) / PAGE))
		cskip(c, "the call took %ld pin(s) for the %zu page(s) its requests covered (%zu bytes): not the pinning "
		      "path", a1 - a0, (100 + sent + PAGE - 1) / PAGE, sent);
	else if (!c->failed[0])
		printf("# %s: %d request(s), the call returned %zd%s%s, %ld pin(s) for the %zu page(s) its requests "
		       "covered\n", c->name, nreq, got, got < 0 ? " " : "", got < 0 ? strerror(err) : "", a1 - a0,
		       (100 + sent + PAGE - 1) / PAGE);
stop:
	fu_end(c, &f, fd);
	if (!c->failed[0] && !c->skip[0] && buf)
		none_held(c, buf, len, "the call and the daemon's end");
out:
	if (buf)
		munmap(buf, len);
	free(want);
	free(fwant);
}

/* -- the daemon's own buffer --------------------------------------------------------------- */

static const char *const fu_devbuf_names[] = {"anon", "thp", "shmem", "hugetlb", "ext4-shared"};

/* fuse/dev-buf/<memory>: four 64 KiB writes read by the daemon into the memory */
static void fu_devbuf(struct cell *c, int k)
{
	size_t total = 4 * FU_MAX_WRITE, head = sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in);
	char *src = malloc(total), *fwant = NULL;
	struct fu f = {.act = FU_NONE};
	struct pinmark pm;
	int fd = -1, nreq;
	long d;

	fu_init(&f);
	c->mem = fu_mems[k];
	if (c->mem == FILESH && !ext4_dir) {
		cskip(c, "no ext4 folder (-d)");
		goto out;
	}
	if (!src || mem_map(c))
		goto out;
	fill64(src, total, 13);
	if (fu_start(c, &f, total + PAGE, c->map, 2 * c->half) || (fd = fu_open(c, &f, 0)) < 0 ||
	    !(fwant = malloc(f.size)))
		goto stop;
	memcpy(fwant, f.data, f.size);
	memcpy(fwant, src, total);
	pin_mark(&pm);
	if (pwrite(fd, src, total, 0) != (ssize_t)total) {
		cfail(c, "pwrite of %zu bytes: %s", total, strerror(errno));
		goto stop;
	}
	close(fd);
	fd = -1;
	if ((nreq = fu_covered(c, &f, 0, FUSE_WRITE, 0, total)) < 0)
		goto stop;
	if ((d = first_diff(f.data, fwant, f.size)) >= 0) {
		cfail(c, "byte %ld of the daemon's file is %#x, expected %#x: a request read into %s memory lost bytes", d,
		      f.data[d] & 0xff, fwant[d] & 0xff, mem_names[c->mem]);
		goto stop;
	}
	if ((d = first_diff(c->map + head, src + total - FU_MAX_WRITE, FU_MAX_WRITE)) >= 0) {
		cfail(c, "the daemon's buffer does not hold the last WRITE's payload (byte %ld)", d);
		goto stop;
	}
	fu_stop(c, &f);  /* the daemon ended: nothing of its buffer borrowed any more */
	pins_back(c, &pm, "the daemon's reads");
	/* on disk: the copy reached the file's pages. Not a test of fuse_copy_finish()'s dirtying:
	 * iov_iter_get_pages2()'s write fault (page_mkwrite) already dirtied them, in the same read(2) */
	if (c->mem == FILESH && !c->failed[0])
		fu_disk(c, head, src + total - FU_MAX_WRITE, FU_MAX_WRITE, "the last request read into the MAP_SHARED file");
	if (!c->failed[0] && (c->mem == ANON || c->mem == THP))
		none_held(c, c->map, 2 * c->half, "the daemon's reads");
	if (!c->failed[0])
		printf("# %s: %d WRITE request(s) read into %s memory\n", c->name, nreq, mem_names[c->mem]);
stop:
	fu_end(c, &f, fd);
out:
	mem_unmap(c);
	free(src);
	free(fwant);
}

/* -- splice on /dev/fuse ------------------------------------------------------------------- */

static const char *const fu_splice_names[] = {"read", "write"};

static void fu_splice(struct cell *c, int k)
{
	struct fu f = {.act = FU_NONE, .splice = 1};
	size_t len, total;
	struct iovec iov;
	struct pinmark pm;
	char *orig = NULL, *fwant = NULL;
	int fd = -1, n, nreq, rd = k == 0;
	ssize_t got;
	long d;

	fu_init(&f);
	c->mem = ANON;
	if (mem_map(c))
		goto out;
	len = 2 * c->half;
	total = fu_iovs(c->map, len, 0, &iov, &n);
	if (!rd) {
		f.scribble = iov.iov_base;
		f.scribble_len = total;
	}
	if (!(orig = malloc(len)) || fu_start(c, &f, FU_OFF + total + PAGE, NULL, 0) || (fd = fu_open(c, &f, 0)) < 0 ||
	    !(fwant = malloc(f.size)))
		goto stop;
	memcpy(orig, c->map, len);
	memcpy(fwant, f.data, f.size);
	if (rd)
		memcpy(orig + 100, f.data + FU_OFF, total);
	else
		memcpy(fwant + FU_OFF, iov.iov_base, total);
	pin_mark(&pm);
	got = rd ? pread(fd, iov.iov_base, total, FU_OFF) : pwrite(fd, iov.iov_base, total, FU_OFF);
	if (got != (ssize_t)total) {
		cfail(c, "%s of %zu bytes: %zd (%s)", rd ? "pread" : "pwrite", total, got, got < 0 ? strerror(errno) : "short");
		goto stop;
	}
	if ((nreq = fu_covered(c, &f, 0, rd ? FUSE_READ : FUSE_WRITE, FU_OFF, total)) < 0)
		goto stop;
	if (rd && (d = first_diff(c->map, orig, len)) >= 0)
		cfail(c, "after a read answered through a pipe byte %ld of the memory is %#x, expected %#x", d,
		      c->map[d] & 0xff, orig[d] & 0xff);
	else if (!rd && (d = first_diff(f.data, fwant, f.size)) >= 0)
		cfail(c, "byte %ld of what the daemon read from the pipe is %#x, expected %#x (the caller's byte at the "
		      "write, before the daemon overwrote the buffer: the pipe held the caller's page, not a copy)", d,
		      f.data[d] & 0xff, fwant[d] & 0xff);
	close(fd);
	fd = -1;
	pins_back(c, &pm, "the call");
	if (!c->failed[0])
		none_held(c, c->map, len, "the call");
	if (!c->failed[0])
		printf("# %s: %zu bytes in %d request(s) through pipes\n", c->name, total, nreq);
stop:
	fu_end(c, &f, fd);
out:
	mem_unmap(c);
	free(orig);
	free(fwant);
}

/* every error path and both directions of each path, on anon; the large folios and should_dirty
 * once each (1.6-3.5 s together, runs 20261207-154412 and -145852; the others are as cheap but
 * add no path) */
static const char *const fuse_quick[] = {
	"fuse/preadv/anon",	 "fuse/pwritev/anon",	   "fuse/preadv/ext4-shared", "fuse/preadv/thp",
	"fuse/pwritev/hugetlb",	 "fuse/aio-read/anon",	   "fuse/aio-write/anon",     "fuse/uring-read/anon",
	"fuse/uring-write/shmem", "fuse/err/hole-read",	   "fuse/err/hole-write",     "fuse/err/short-read",
	"fuse/err/short-write",	 "fuse/err/eio-read",	   "fuse/err/eio-write",      "fuse/err/intr-read",
	"fuse/err/intr-write",	 "fuse/err/abort-read",	   "fuse/err/aio-abort",      "fuse/err/aio-short",
	"fuse/err/aio-eio-write", "fuse/err/kill-read",	   "fuse/dev-buf/anon",	      "fuse/dev-buf/ext4-shared",
	"fuse/splice/read",	 "fuse/splice/write"};

static const struct cell_entry fuse_table[] = {
	{"fuse/", fu_shape, fu_names, sizeof(fu_names) / sizeof(fu_names[0]), fuse_quick,
	 sizeof(fuse_quick) / sizeof(fuse_quick[0])},
	{"fuse/err/", fu_err, fu_err_names, sizeof(fu_err_names) / sizeof(fu_err_names[0]), fuse_quick,
	 sizeof(fuse_quick) / sizeof(fuse_quick[0])},
	{"fuse/dev-buf/", fu_devbuf, fu_devbuf_names, sizeof(fu_devbuf_names) / sizeof(fu_devbuf_names[0]), fuse_quick,
	 sizeof(fuse_quick) / sizeof(fuse_quick[0])},
	{"fuse/splice/", fu_splice, fu_splice_names, 2, fuse_quick, sizeof(fuse_quick) / sizeof(fuse_quick[0])}};

static void fuse_cells(void)
{
	if (!list_only)
		fu_ctl();
	run_cells(fuse_table, sizeof(fuse_table) / sizeof(fuse_table[0]), NULL, NULL);
	if (fu_ctl_mounted)
		umount2(FU_CONNS, MNT_DETACH);
}
