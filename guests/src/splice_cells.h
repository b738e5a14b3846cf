/* splice/...: pipe buffers drained and filled in odd pieces, with short counts, against a model of
 * the byte stream (round 6 of docs/redteam.md: its two splice bugs ran where no cell looked). The
 * class: every consumer of pipe buffers (a file's ->write_iter() through fs/splice.c
 * iter_file_splice_write(), splice_to_socket(), splice_pipe_to_pipe(), link_pipe() for tee,
 * fs/pipe.c pipe_read()) must take exactly the bytes it reports and leave a buffer it stopped
 * inside at the byte where it stopped; every producer (net/core/skbuff.c skb_splice_bits():
 * spd_fill_page() extends the previous piece only when the next one starts where it ended on the
 * same page) must hand out the bytes in the order and at the offsets they were sent. A wrong
 * offset or a wrong merge keeps every count right and changes only the bytes, so each cell
 * compares the bytes end to end, whatever the sizes.
 *
 * The stream: SP_NPIECES pieces of four source pages (SP_LEN): out of order, with gaps, of odd
 * lengths, several on one page at non-adjacent offsets, one across a page boundary, two adjacent.
 * The pipe is filled by
 *   vmsplice: one vmsplice(2) of the pieces' iovecs: a buffer per piece per page on the process's
 *             own page (fs/splice.c iter_to_pipe(), nothing copied);
 *   memfd:    one splice(2) from a memfd per piece: buffers on its page-cache pages
 *             (mm/shmem.c shmem_file_splice_read());
 *   write:    one write(2) per piece: pipe-owned pages, a write merged into the last buffer when it
 *             fits there (fs/pipe.c pipe_write()).
 * Where the pipe buffers end in the stream is modelled from those rules (page-granular: a large
 * folio only removes ends), to tell whether a count ended inside a buffer.
 *
 * splice/<sink>/<source>, the pipe drained by
 *   file-pieces:  splice(2) into an ext4 file in odd pieces (1 to 5000 bytes),
 *   file-fsize:   splice(2) of all of it into an ext4 file under an odd RLIMIT_FSIZE (SIGXFSZ
 *                 ignored): ->write_iter() writes up to the limit; then the limit is lifted and the
 *                 rest goes in odd pieces,
 *   tmpfs-enospc: splice(2) of all of it into a file of a two-page tmpfs the cell mounts: ENOSPC
 *                 at the file's third page; then a remount to 1 MiB and one splice of the rest,
 *   pipe-pieces:  splice(2) into a second pipe, tee(2) of that into a third, read(2) of both,
 *                 all in odd pieces,
 *   tcp-short:    splice(2) into a nonblocking loopback TCP socket with small buffers, the
 *                 receiver reading odd amounts only when the sender gets EAGAIN: short sends.
 * Checks: each count is what was asked, or when short no more than the limit lets through; after
 * each call the pipe holds exactly what is left (FIONREAD); the file (its first SP_OUT_OFF bytes
 * kept, its size), the other pipes, the receiver get the stream byte for byte; the sources keep
 * their bytes. Premise (file-fsize, tmpfs-enospc, tcp-short): a call came back short at a stream
 * position inside a pipe buffer of the model, else SKIP.
 * splice/sendfile-fsize/memfd: the same short write through sendfile(2) (do_splice_direct(): the
 * kernel's own pipe into iter_file_splice_write(), whose write stops at the limit): the count, the
 * source offset advanced by exactly it, the file; then the rest in odd pieces.
 * splice/copy-range-fsize/ext4: copy_file_range(2) within ext4 under the same limit. Its count is
 * cut to the limit before anything is copied (fs/read_write.c generic_copy_file_checks() ->
 * generic_write_check_limits()), so no write comes back short inside a pipe buffer here: the cell
 * checks the cut count, the source offset, the file, then the rest, through splice_file_range()'s
 * own pipe.
 *
 * splice/from-<tcp|unix>/<vmsplice|memfd>/<pipe|file>: the pipe spliced into a loopback TCP or
 * AF_UNIX stream socket (MSG_SPLICE_PAGES: net/core/skbuff.c skb_splice_from_iter() ->
 * skb_append_pagefrags() makes each piece a frag of its own unless it continues the last frag on
 * the same page: the skb holds frags of one page at non-adjacent offsets), the receiver splices
 * the socket into a pipe in odd lengths (net/ipv4/tcp.c tcp_splice_read(), net/unix/af_unix.c
 * unix_stream_splice_read(), both skb_splice_bits()), then the source pages are rewritten and the
 * receiver's pipe is read in odd pieces (pipe) or spliced into an ext4 file in odd pieces and read
 * back (file). Every byte must be its piece's byte at the piece's own offset of the page.
 * Premise: every piece arrives with the rewritten bytes, so the receiver's pipe held the sender's
 * pages themselves, end to end (a copy anywhere on the way delivers the old bytes: SKIP).
 * MSG_ZEROCOPY is not used: on loopback the skb's user pages are copied into new pages before
 * delivery (net/core/dev.c __netif_receive_skb_core() -> skb_orphan_frags_rx() ->
 * skb_copy_ubufs()), so the receiver never gets them as frags of one page.
 * Part of pin_matrix.c (struct cell, verdict(), fill64(), first_diff(); borrow_cells.h's lo_up()),
 * entered by splice_cells() from main. docs/matrix.md "Pipes drained and filled in pieces".
 */
#include <sys/mount.h>
#include <sys/sendfile.h>

#define SP_PAGES 4
#define SP_LEN (SP_PAGES * PAGE)
#define SP_OUT_OFF 1234  /* the out file's own first bytes: the stream lands at an odd file offset */
#define SP_CUT 5000      /* file-fsize: RLIMIT_FSIZE lets this much of the stream in */
#define SP_TMPFS_PAGES 2 /* tmpfs-enospc: the tmpfs' size, so ENOSPC comes at SP_TMPFS_PAGES*PAGE */
#define SP_PIPE (256 * 1024)
#define SP_MAXENDS 64

struct sp_piece {
	unsigned off, len;  /* in the source's SP_LEN bytes */
};

/* Out of order, gaps, odd lengths, repeated pages (every write() piece under a page: the model) */
static const struct sp_piece sp_pieces[] = {
	{PAGE + 1000, 300}, {PAGE + 100, 700}, {5, 3001}, {2 * PAGE + 3900, 1500}, {PAGE + 3000, 1096},
	{PAGE + 1500, 13}, {2 * PAGE + 2000, 500}, {2 * PAGE + 2500, 333}, {3 * PAGE + 1423, 2000},
	{3 * PAGE + 100, 1}, {3500, 596}, {3100, 399}, {PAGE, 99}, {2 * PAGE + 17, 1700}, {3 * PAGE + 3600, 496},
};
#define SP_NPIECES (sizeof(sp_pieces) / sizeof(sp_pieces[0]))

/* Odd counts the consumers ask for, in turn */
static const size_t sp_odd[] = {777, 1, 4097, 2900, 333, 5000, 13, 1500, 64, 3001};
#define SP_NODD (sizeof(sp_odd) / sizeof(sp_odd[0]))

enum sp_src { SPS_VMSPLICE, SPS_MEMFD, SPS_WRITE, NSPS };
static const char *const sp_src_names[NSPS] = {"vmsplice", "memfd", "write"};
enum sp_sink { SPK_PIECES, SPK_FSIZE, SPK_ENOSPC, SPK_PIPE, SPK_TCP, NSPK };
static const char *const sp_sink_names[NSPK] = {"file-pieces", "file-fsize", "tmpfs-enospc", "pipe-pieces",
						"tcp-short"};

/* All of them in the default set: each moves 12 KiB, a few hundredths of a second under TCG. */
static int splice_wanted(const char *name) { return block_wanted(name, NULL, 0); }

struct sp_stream {
	char *src;                 /* the source pages (vmsplice lends them; write copies them) */
	int memfd;                 /* the same bytes in a memfd (-1: none) */
	char want[SP_LEN];         /* the stream, in order */
	size_t len;
	size_t ends[SP_MAXENDS];   /* the model: where the producer's pipe buffers end in the stream */
	int nends;
	int pipe[2];
};

/* The stream's bytes of source bytes SRC, piece after piece, into OUT; the length */
static size_t sp_gather(const char *src, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < SP_NPIECES; i++) {
		memcpy(out + n, src + sp_pieces[i].off, sp_pieces[i].len);
		n += sp_pieces[i].len;
	}
	return n;
}

/* Whether stream position POS falls inside a pipe buffer of the model (not at an end) */
static int sp_inside(const struct sp_stream *s, size_t pos)
{
	if (pos == 0 || pos >= s->len)
		return 0;
	for (int i = 0; i < s->nends; i++)
		if (s->ends[i] == pos)
			return 0;
	return 1;
}

static void sp_end(struct sp_stream *s, size_t end)
{
	if (s->nends < SP_MAXENDS)
		s->ends[s->nends++] = end;
}

/* The model of the pipe buffers SRC makes of the pieces (fs/splice.c iter_to_pipe(), mm/shmem.c
 * shmem_file_splice_read(): a buffer per piece per page; fs/pipe.c pipe_write(): a write of less
 * than a page goes into the last buffer when the pipe is not empty and it fits after its bytes) */
static void sp_model(struct sp_stream *s, enum sp_src src)
{
	size_t pos = 0, fill = 0;

	s->nends = 0;
	for (size_t i = 0; i < SP_NPIECES; i++) {
		size_t off = sp_pieces[i].off, len = sp_pieces[i].len;

		if (src == SPS_WRITE) {
			if (i && fill + len <= PAGE) {
				fill += len;
				s->ends[s->nends - 1] += len;
			} else {
				fill = len;
				sp_end(s, pos + len);
			}
			pos += len;
			continue;
		}
		while (len) {
			size_t part = PAGE - off % PAGE < len ? PAGE - off % PAGE : len;

			pos += part;
			off += part;
			len -= part;
			sp_end(s, pos);
		}
	}
}

static long sp_pipe_holds(int fd)
{
	int n = -1;

	return ioctl(fd, FIONREAD, &n) ? -1 : n;
}

/* After DONE bytes of the stream left the pipe it must hold the rest; 0, or -1 with the cell failed */
static int sp_holds_rest(struct cell *c, const struct sp_stream *s, size_t done, const char *after)
{
	long n = sp_pipe_holds(s->pipe[0]);

	if (n != (long)(s->len - done)) {
		cfail(c, "after %s (%zu of %zu bytes out) the pipe holds %ld bytes, not %zu", after, done, s->len, n,
		      s->len - done);
		return -1;
	}
	return 0;
}

/* A pipe of SP_PIPE bytes (the stream, split odd ways, needs more than 16 slots) */
static int sp_pipe(struct cell *c, int p[2])
{
	if (pipe(p) || fcntl(p[1], F_SETPIPE_SZ, SP_PIPE) < 0) {
		cfail(c, "pipe of %d bytes: %s", SP_PIPE, strerror(errno));
		return -1;
	}
	return 0;
}

/* The source (SEED's bytes in the process's pages and the memfd), the pipe filled from SRC, the model */
static int sp_fill(struct cell *c, struct sp_stream *s, enum sp_src src, unsigned seed)
{
	struct iovec iov[SP_NPIECES];
	ssize_t r = 0;

	if (!(s->src = map_aligned(SP_LEN, PAGE, MADV_NOHUGEPAGE))) {
		cfail(c, "mmap of the source: %s", strerror(errno));
		return -1;
	}
	fill64(s->src, SP_LEN, seed);
	s->len = sp_gather(s->src, s->want);
	sp_model(s, src);
	if ((s->memfd = memfd_create("splice-src", 0)) < 0 || pwrite(s->memfd, s->src, SP_LEN, 0) != (ssize_t)SP_LEN) {
		cfail(c, "memfd of the source: %s", strerror(errno));
		return -1;
	}
	if (sp_pipe(c, s->pipe))
		return -1;
	for (size_t i = 0; i < SP_NPIECES; i++) {
		loff_t off = sp_pieces[i].off;

		iov[i] = (struct iovec){s->src + sp_pieces[i].off, sp_pieces[i].len};
		if (src == SPS_MEMFD)
			r = splice(s->memfd, &off, s->pipe[1], NULL, sp_pieces[i].len, 0);
		else if (src == SPS_WRITE)
			r = write(s->pipe[1], iov[i].iov_base, iov[i].iov_len);
		if (src != SPS_VMSPLICE && r != (ssize_t)sp_pieces[i].len) {
			cfail(c, "%s of piece %zu (%u bytes at %u) into the pipe: %zd (%s)", src == SPS_MEMFD ? "splice" : "write",
			      i, sp_pieces[i].len, sp_pieces[i].off, r, r < 0 ? strerror(errno) : "short");
			return -1;
		}
	}
	if (src == SPS_VMSPLICE && (r = vmsplice(s->pipe[1], iov, SP_NPIECES, 0)) != (ssize_t)s->len) {
		cfail(c, "vmsplice of the %zu pieces (%zu bytes): %zd (%s)", SP_NPIECES, s->len, r,
		      r < 0 ? strerror(errno) : "short");
		return -1;
	}
	return sp_holds_rest(c, s, 0, "filling it");
}

/* A stream with no source and no pipe yet (sp_free() may follow at once) */
static struct sp_stream *sp_new(void)
{
	struct sp_stream *s = calloc(1, sizeof(*s));

	if (s)
		s->memfd = s->pipe[0] = s->pipe[1] = -1;
	return s;
}

static void sp_free(struct sp_stream *s)
{
	close_pair(s->pipe);
	if (s->memfd >= 0)
		close(s->memfd);
	s->memfd = -1;
	if (s->src)
		munmap(s->src, SP_LEN);
	s->src = NULL;
}

/* The sources still hold SEED's bytes (nothing wrote into them through the pipe) */
static void sp_sources_kept(struct cell *c, const struct sp_stream *s, unsigned seed)
{
	char *exp = malloc(SP_LEN), *got = malloc(SP_LEN);
	long d;

	if (!exp || !got) {
		cfail(c, "out of memory");
	} else {
		fill64(exp, SP_LEN, seed);
		if ((d = first_diff(s->src, exp, SP_LEN)) >= 0)
			cfail(c, "the process's source pages read other bytes at %ld afterwards", d);
		else if (pread(s->memfd, got, SP_LEN, 0) != (ssize_t)SP_LEN)
			cfail(c, "read of the memfd: %s", strerror(errno));
		else if ((d = first_diff(got, exp, SP_LEN)) >= 0)
			cfail(c, "the memfd source reads other bytes at %ld afterwards", d);
	}
	free(exp);
	free(got);
}

/* The first differing byte of the stream GOT against the model, said with its piece */
static void sp_compare(struct cell *c, const char *want, const char *got, size_t len, const char *where)
{
	long d = first_diff(got, want, len);
	size_t at = 0, i = 0;

	if (d < 0)
		return;
	for (; i < SP_NPIECES && at + sp_pieces[i].len <= (size_t)d; i++)
		at += sp_pieces[i].len;
	cfail(c, "%s holds other bytes than the stream at its byte %ld (piece %zu, %u bytes from source byte %u, "
	      "its byte %zu)", where, d, i, i < SP_NPIECES ? sp_pieces[i].len : 0, i < SP_NPIECES ? sp_pieces[i].off : 0,
	      (size_t)d - at);
}

/* -- sinks ---------------------------------------------------------------------------------- */

/* An out file in DIR (its own SP_OUT_OFF first bytes written), its fd, or -1 with the cell failed */
static int sp_outfile(struct cell *c, const char *dir, const char *prefix)
{
	snprintf(c->path, sizeof(c->path), "%s/splice-out.%d", dir, getpid());
	c->fd = open(c->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (c->fd < 0 || pwrite(c->fd, prefix, SP_OUT_OFF, 0) != SP_OUT_OFF) {
		cfail(c, "out file %s: %s", c->path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The out file holds PREFIX, then WANT (LEN bytes), and ends there */
static void sp_check_file(struct cell *c, const char *prefix, const char *want, size_t len)
{
	char *got = malloc(SP_OUT_OFF + len + 1);
	ssize_t r;
	long d;

	if (!got) {
		cfail(c, "out of memory");
		return;
	}
	r = pread(c->fd, got, SP_OUT_OFF + len + 1, 0);
	if (r != (ssize_t)(SP_OUT_OFF + len))
		cfail(c, "the out file holds %zd bytes, not %zu (%d of its own and the stream's %zu)", r,
		      SP_OUT_OFF + len, SP_OUT_OFF, len);
	else if ((d = first_diff(got, prefix, SP_OUT_OFF)) >= 0)
		cfail(c, "the out file's own first bytes changed at %ld", d);
	else
		sp_compare(c, want, got + SP_OUT_OFF, len, "the out file");
	free(got);
}

/* Splice the pipe's next N bytes into FD at *POS in odd pieces, each taken in full (a file with
 * room takes every byte asked); *DONE counts the stream out of the pipe; 0 or -1 */
static int sp_splice_file(struct cell *c, struct sp_stream *s, int fd, loff_t *pos, size_t n, size_t *done,
			  int *inside)
{
	for (size_t k = 0, left = n; left; k++) {
		size_t ask = sp_odd[k % SP_NODD] < left ? sp_odd[k % SP_NODD] : left;
		ssize_t r = splice(s->pipe[0], NULL, fd, pos, ask, 0);

		if (r != (ssize_t)ask) {
			cfail(c, "splice of %zu bytes into the file at stream byte %zu: %zd (%s)", ask, *done, r,
			      r < 0 ? strerror(errno) : "short");
			return -1;
		}
		left -= r;
		*done += r;
		*inside += sp_inside(s, *done);
		if (sp_holds_rest(c, s, *done, "a splice into the file"))
			return -1;
	}
	return 0;
}

/* RLIMIT_FSIZE's soft limit to LIM (SIGXFSZ ignored), or back to *OLD / SIGXFSZ to *WAS */
static int sp_fsize(struct rlimit *old, void (**was)(int), rlim_t lim)
{
	struct rlimit r;
	int err;

	if (lim) {
		if (getrlimit(RLIMIT_FSIZE, old))
			return -1;
		r = (struct rlimit){lim, old->rlim_max};
		*was = signal(SIGXFSZ, SIG_IGN);
		if (!setrlimit(RLIMIT_FSIZE, &r))
			return 0;
		err = errno;  /* no limit set: the signal back as it was, setrlimit's errno kept */
		signal(SIGXFSZ, *was);
		errno = err;
		return -1;
	}
	signal(SIGXFSZ, *was);
	return setrlimit(RLIMIT_FSIZE, old);
}

/* One splice of the whole stream into the out file, which comes back short; the premise and the
 * pipe's rest checked; the count (-1: failed, 0: skipped) */
static ssize_t sp_short(struct cell *c, struct sp_stream *s, loff_t *pos, size_t most, const char *why)
{
	ssize_t r = splice(s->pipe[0], NULL, c->fd, pos, s->len, 0);
	int err = errno;

	if (r <= 0) {
		cfail(c, "splice of the %zu-byte stream into the file (%s): %zd (%s)", s->len, why, r,
		      r < 0 ? strerror(err) : "nothing");
		return -1;
	}
	if ((size_t)r > most) {
		cfail(c, "splice into the file took %zd bytes, %s lets only %zu in", r, why, most);
		return -1;
	}
	if (sp_holds_rest(c, s, r, "the short splice"))
		return -1;
	if ((size_t)r == s->len)
		cskip(c, "the splice took the whole stream: %s did not cut it", why);
	else if (!sp_inside(s, r))
		cskip(c, "the short splice (%zd bytes) ended at a pipe buffer's end, not inside one", r);
	else
		printf("# %s: the splice came back short at stream byte %zd, inside a pipe buffer (%s)\n", c->name, r, why);
	return c->skip[0] ? 0 : r;
}

static void sp_to_file(struct cell *c, struct sp_stream *s, enum sp_sink k, const char *prefix)
{
	char dir[] = "/run/pm-splice.XXXXXX", opts[64];
	int mounted = 0, inside = 0;
	size_t done = 0;
	loff_t pos = SP_OUT_OFF;
	ssize_t r;

	if (k == SPK_ENOSPC) {
		snprintf(opts, sizeof(opts), "size=%lu", SP_TMPFS_PAGES * PAGE);
		if (!mkdtemp(dir)) {
			cskip(c, "mkdtemp in /run: %s", strerror(errno));
			return;
		}
		if (mount("tmpfs", dir, "tmpfs", 0, opts)) {
			cskip(c, "cannot mount a tmpfs of %s: %s", opts, strerror(errno));
			rmdir(dir);
			return;
		}
		mounted = 1;
	} else if (!ext4_dir) {
		cskip(c, "no ext4 directory given (-d)");
		return;
	}
	if (sp_outfile(c, mounted ? dir : ext4_dir, prefix))
		goto out;
	if (k == SPK_PIECES) {
		if (!sp_splice_file(c, s, c->fd, &pos, s->len, &done, &inside) && !inside)
			cskip(c, "no splice ended inside a pipe buffer");
	} else if (k == SPK_FSIZE) {
		struct rlimit old;
		void (*was)(int) = SIG_DFL;

		if (sp_fsize(&old, &was, SP_OUT_OFF + SP_CUT)) {
			cskip(c, "setrlimit(RLIMIT_FSIZE): %s", strerror(errno));
			goto out;
		}
		r = sp_short(c, s, &pos, SP_CUT, "RLIMIT_FSIZE");
		if (sp_fsize(&old, &was, 0))
			cfail(c, "RLIMIT_FSIZE back: %s", strerror(errno));
		if (r <= 0 || c->failed[0])
			goto out;
		done = r;
		sp_splice_file(c, s, c->fd, &pos, s->len - done, &done, &inside);  /* the rest, limit lifted */
	} else {
		r = sp_short(c, s, &pos, SP_TMPFS_PAGES * PAGE - SP_OUT_OFF, "a full tmpfs (ENOSPC)");
		if (r <= 0)
			goto out;
		done = r;
		if (mount("tmpfs", dir, "tmpfs", MS_REMOUNT, "size=1m")) {
			cfail(c, "remount of the tmpfs to 1 MiB: %s", strerror(errno));
			goto out;
		}
		r = splice(s->pipe[0], NULL, c->fd, &pos, s->len - done, 0);  /* the rest in one */
		if (r != (ssize_t)(s->len - done)) {
			cfail(c, "splice of the rest (%zu bytes) after the remount: %zd (%s)", s->len - done, r,
			      r < 0 ? strerror(errno) : "short");
			goto out;
		}
		done += r;
		sp_holds_rest(c, s, done, "the splice of the rest");
	}
	if (!c->failed[0])
		sp_check_file(c, prefix, s->want, s->len);
out:
	cell_file_close(c);
	if (mounted && umount2(dir, 0))
		cfail(c, "umount of %s: %s", dir, strerror(errno));
	if (mounted)
		rmdir(dir);
}

/* pipe-pieces: the pipe into a second one by splice, that into a third by tee, both read */
static void sp_to_pipe(struct cell *c, struct sp_stream *s)
{
	int b[2] = {-1, -1}, t[2] = {-1, -1};
	char *got = malloc(s->len), *teed = malloc(SP_LEN);
	size_t moved = 0, out = 0;
	ssize_t r;

	if (!got || !teed) {
		cfail(c, "out of memory");
		goto done;
	}
	if (sp_pipe(c, b) || sp_pipe(c, t))
		goto done;
	for (size_t k = 0; out < s->len; k++) {
		size_t ask = sp_odd[k % SP_NODD], held;

		if (moved < s->len) {  /* splice_pipe_to_pipe(): whole buffers, the last one split */
			ask = ask < s->len - moved ? ask : s->len - moved;
			if ((r = splice(s->pipe[0], NULL, b[1], NULL, ask, 0)) != (ssize_t)ask) {
				cfail(c, "splice of %zu bytes pipe to pipe at stream byte %zu: %zd (%s)", ask, moved, r,
				      r < 0 ? strerror(errno) : "short");
				goto done;
			}
			moved += r;
			if (sp_holds_rest(c, s, moved, "a splice into the second pipe"))
				goto done;
		}
		held = moved - out;
		ask = sp_odd[(k + 3) % SP_NODD] < held ? sp_odd[(k + 3) % SP_NODD] : held;
		if (ask) {  /* link_pipe(): the same buffers, the last one cut short */
			/* nonblocking: a second pipe holding less than splice said fails, not waits */
			if ((r = tee(b[0], t[1], ask, SPLICE_F_NONBLOCK)) != (ssize_t)ask) {
				cfail(c, "tee of %zu of the %zu bytes the second pipe holds: %zd (%s)", ask, held, r,
				      r < 0 ? strerror(errno) : "short");
				goto done;
			}
			if (read(t[0], teed, ask) != (ssize_t)ask) {
				cfail(c, "read of the %zu teed bytes: %s", ask, strerror(errno));
				goto done;
			}
			if (memcmp(teed, s->want + out, ask)) {
				sp_compare(c, s->want + out, teed, ask, "the teed copy");
				goto done;
			}
			if (sp_pipe_holds(b[0]) != (long)held) {
				cfail(c, "after a tee the second pipe holds %ld bytes, not %zu", sp_pipe_holds(b[0]), held);
				goto done;
			}
		}
		ask = sp_odd[(k + 7) % SP_NODD] < held ? sp_odd[(k + 7) % SP_NODD] : held;
		if (ask && (r = read(b[0], got + out, ask)) != (ssize_t)ask) {  /* pipe_read() from the offset */
			cfail(c, "read of %zu of the %zu bytes the second pipe holds: %zd (%s)", ask, held, r,
			      r < 0 ? strerror(errno) : "short");
			goto done;
		}
		out += ask;
	}
	if (sp_pipe_holds(b[0]) || sp_pipe_holds(t[0]))
		cfail(c, "the second and third pipes hold %ld and %ld bytes at the end, not 0", sp_pipe_holds(b[0]),
		      sp_pipe_holds(t[0]));
	else
		sp_compare(c, s->want, got, s->len, "the second pipe");
done:
	close_pair(b);
	close_pair(t);
	free(got);
	free(teed);
}

/* tcp-short: the pipe into a nonblocking TCP socket whose receiver reads only on EAGAIN */
static void sp_to_tcp(struct cell *c, struct sp_stream *s)
{
	int snd = -1, rcv = -1, shorts = 0, inside = 0;
	char *got = malloc(s->len);
	size_t sent = 0, out = 0;
	double t0 = now_s();
	ssize_t r;

	if (!got) {
		cfail(c, "out of memory");
		return;
	}
	if (ss_pair(c, 1, 4096, 4096, 20, &snd, &rcv))
		goto done;
	if (fcntl(snd, F_SETFL, O_NONBLOCK)) {
		cfail(c, "O_NONBLOCK: %s", strerror(errno));
		goto done;
	}
	for (size_t k = 0; out < s->len; k++) {
		if (now_s() - t0 > 20) {
			cfail(c, "20 s and %zu bytes sent, %zu received of %zu", sent, out, s->len);
			break;
		}
		r = sent < s->len ? splice(s->pipe[0], NULL, snd, NULL, s->len - sent, 0) : -1;
		if (r > 0) {
			sent += r;
			shorts += sent < s->len;
			inside += sp_inside(s, sent);
			if (sp_holds_rest(c, s, sent, "a splice into the socket"))
				break;
			continue;
		}
		if (sent < s->len && (r == 0 || errno != EAGAIN)) {
			cfail(c, "splice into the socket at stream byte %zu: %zd (%s)", sent, r, r < 0 ? strerror(errno) : "0");
			break;
		}
		/* the sender is stuck or done: the receiver takes an odd amount */
		struct pollfd p = {rcv, POLLIN, 0};
		size_t ask = sp_odd[k % SP_NODD] < s->len - out ? sp_odd[k % SP_NODD] : s->len - out;

		if (poll(&p, 1, 100) <= 0)
			continue;
		r = recv(rcv, got + out, ask, MSG_DONTWAIT);
		if (r < 0 && errno != EAGAIN) {
			cfail(c, "recv: %s", strerror(errno));
			break;
		}
		out += r > 0 ? r : 0;
	}
	if (!c->failed[0]) {
		sp_compare(c, s->want, got, s->len, "the receiver");
		printf("# %s: %d short send(s), %d of them inside a pipe buffer\n", c->name, shorts, inside);
		if (!inside)
			cskip(c, "no splice into the socket came back short inside a pipe buffer (%d short at buffer ends)",
			      shorts);
	}
done:
	if (snd >= 0)
		close(snd);
	if (rcv >= 0)
		close(rcv);
	free(got);
}

static void sp_sink_cell(enum sp_sink k, enum sp_src src)
{
	struct cell c = {.fd = -1};
	struct sp_stream *s;
	char prefix[SP_OUT_OFF];
	double began = now_s();

	snprintf(c.name, sizeof(c.name), "splice/%s/%s", sp_sink_names[k], sp_src_names[src]);
	if (!splice_wanted(c.name) || !begins(c.name))
		return;
	fill64(prefix, SP_OUT_OFF, 93);
	if (!(s = sp_new())) {
		cfail(&c, "out of memory");
		verdict(&c, began);
		return;
	}
	if (!sp_fill(&c, s, src, 91)) {
		if (k == SPK_PIPE)
			sp_to_pipe(&c, s);
		else if (k == SPK_TCP)
			sp_to_tcp(&c, s);
		else
			sp_to_file(&c, s, k, prefix);
		if (!c.failed[0])
			sp_sources_kept(&c, s, 91);
	}
	sp_free(s);
	free(s);
	verdict(&c, began);
}

/* -- sendfile and copy_file_range: the kernel's own pipe ------------------------------------ */

/* sendfile(2) from the memfd or copy_file_range(2) from an ext4 file, odd offsets, under an odd
 * RLIMIT_FSIZE, then the rest in odd pieces */
static void sp_direct_cell(int cfr)
{
	struct cell c = {.fd = -1};
	char name_src[256] = "", prefix[SP_OUT_OFF], *src = malloc(SP_LEN), *want;
	double began = now_s();
	struct rlimit old;
	void (*was)(int) = SIG_DFL;
	loff_t soff = 123, doff = SP_OUT_OFF;
	size_t len = SP_LEN - 123 - 45;
	int in = -1;
	ssize_t r;

	snprintf(c.name, sizeof(c.name), "splice/%s", cfr ? "copy-range-fsize/ext4" : "sendfile-fsize/memfd");
	if (!splice_wanted(c.name) || !begins(c.name)) {
		free(src);
		return;
	}
	if (!src) {
		cfail(&c, "out of memory");
		goto out;
	}
	want = src + soff;
	fill64(src, SP_LEN, 94);
	fill64(prefix, SP_OUT_OFF, 95);
	if (!ext4_dir) {
		cskip(&c, "no ext4 directory given (-d)");
		goto out;
	}
	if (cfr) {
		snprintf(name_src, sizeof(name_src), "%s/splice-in.%d", ext4_dir, getpid());
		in = open(name_src, O_RDWR | O_CREAT | O_TRUNC, 0600);
	} else {
		in = memfd_create("splice-sendfile", 0);
	}
	if (in < 0 || pwrite(in, src, SP_LEN, 0) != (ssize_t)SP_LEN) {
		cfail(&c, "the source file: %s", strerror(errno));
		goto out;
	}
	if (sp_outfile(&c, ext4_dir, prefix) || lseek(c.fd, SP_OUT_OFF, SEEK_SET) != SP_OUT_OFF) {
		cfail(&c, "the out file: %s", strerror(errno));
		goto out;
	}
	if (sp_fsize(&old, &was, SP_OUT_OFF + SP_CUT)) {
		cskip(&c, "setrlimit(RLIMIT_FSIZE): %s", strerror(errno));
		goto out;
	}
	r = cfr ? copy_file_range(in, &soff, c.fd, &doff, len, 0) : sendfile(c.fd, in, &soff, len);
	if (sp_fsize(&old, &was, 0))
		cfail(&c, "RLIMIT_FSIZE back: %s", strerror(errno));
	if (r <= 0 || r > SP_CUT) {
		cfail(&c, "%s of %zu bytes under RLIMIT_FSIZE (room for %d): %zd (%s)", cfr ? "copy_file_range" : "sendfile", len,
		      SP_CUT, r, r < 0 ? strerror(errno) : r ? "past the limit" : "nothing");
		goto out;
	}
	if (soff != 123 + r) {
		cfail(&c, "after a short %s of %zd bytes the source offset moved by %lld", cfr ? "copy_file_range" : "sendfile",
		      r, (long long)(soff - 123));
		goto out;
	}
	sp_check_file(&c, prefix, want, r);
	if (c.failed[0])
		goto out;
	if ((size_t)r == len) {
		cskip(&c, "the first call took everything: no short write");
		goto out;
	}
	printf("# %s: came back short at %zd of %zu bytes\n", c.name, r, len);
	for (size_t k = 0, done = r; done < len; k++) {  /* the rest in odd pieces, limit lifted */
		size_t ask = sp_odd[k % SP_NODD] < len - done ? sp_odd[k % SP_NODD] : len - done;
		loff_t at = soff;

		r = cfr ? copy_file_range(in, &soff, c.fd, &doff, ask, 0) : sendfile(c.fd, in, &soff, ask);
		if (r != (ssize_t)ask || soff != at + r) {
			cfail(&c, "%s of %zu bytes at source byte %lld: %zd (%s), the offset moved by %lld",
			      cfr ? "copy_file_range" : "sendfile", ask, (long long)at, r, r < 0 ? strerror(errno) : "short",
			      (long long)(soff - at));
			goto out;
		}
		done += r;
	}
	sp_check_file(&c, prefix, want, len);
out:
	if (in >= 0)
		close(in);
	if (name_src[0])
		unlink(name_src);
	cell_file_close(&c);
	free(src);
	verdict(&c, began);
}

/* -- out of a socket ------------------------------------------------------------------------ */

/* from-<tcp|unix>/<src>/<pipe|file>: the stream through a socket, spliced out of it into a pipe */
static void sp_from_sock_cell(int tcp, enum sp_src src, int to_file)
{
	struct cell c = {.fd = -1};
	struct sp_stream *s = sp_new();
	char prefix[SP_OUT_OFF], *now = malloc(SP_LEN), *got = malloc(SP_LEN), *newsrc = malloc(SP_LEN);
	double began = now_s();
	int snd = -1, rcv = -1, b[2] = {-1, -1}, inside = 0, lent = 0, copied = 0;
	char readerr[200] = "";
	size_t sent = 0, in = 0, done = 0;
	loff_t pos = SP_OUT_OFF;
	ssize_t r;

	snprintf(c.name, sizeof(c.name), "splice/from-%s/%s/%s", tcp ? "tcp" : "unix", sp_src_names[src],
		 to_file ? "file" : "pipe");
	if (!splice_wanted(c.name) || !begins(c.name))
		goto free;
	if (!s || !now || !got || !newsrc) {
		cfail(&c, "out of memory");
		goto out;
	}
	fill64(prefix, SP_OUT_OFF, 96);
	if (to_file && !ext4_dir) {
		cskip(&c, "no ext4 directory given (-d)");
		goto out;
	}
	if (sp_fill(&c, s, src, 97) || ss_pair(&c, tcp, 0, 0, 20, &snd, &rcv) || sp_pipe(&c, b))
		goto out;
	while (sent < s->len) {  /* splice_to_socket(): MSG_SPLICE_PAGES, a frag per piece */
		if ((r = splice(s->pipe[0], NULL, snd, NULL, s->len - sent, 0)) <= 0) {
			cfail(&c, "splice of the pipe into the socket at stream byte %zu: %zd (%s)", sent, r,
			      r < 0 ? strerror(errno) : "0");
			goto out;
		}
		sent += r;
		if (sp_holds_rest(&c, s, sent, "a splice into the socket"))
			goto out;
	}
	for (size_t k = 0; in < s->len; k++) {  /* skb_splice_bits(), odd lengths */
		size_t ask = sp_odd[(k + 5) % SP_NODD] < s->len - in ? sp_odd[(k + 5) % SP_NODD] : s->len - in;

		if ((r = splice(rcv, NULL, b[1], NULL, ask, 0)) <= 0 || (size_t)r > ask) {
			cfail(&c, "splice of %zu bytes out of the socket at stream byte %zu: %zd (%s)", ask, in, r,
			      r < 0 ? strerror(errno) : r ? "more than asked" : "end of stream");
			goto out;
		}
		in += r;
		if (sp_pipe_holds(b[0]) != (long)in) {
			cfail(&c, "after splicing %zu bytes out of the socket its pipe holds %ld", in, sp_pipe_holds(b[0]));
			goto out;
		}
	}
	/* the sources rewritten: what the receiver's pipe lent shows the new bytes */
	fill64(newsrc, SP_LEN, 98);
	memcpy(s->src, newsrc, SP_LEN);
	if (pwrite(s->memfd, newsrc, SP_LEN, 0) != (ssize_t)SP_LEN) {
		cfail(&c, "rewrite of the memfd: %s", strerror(errno));
		goto out;
	}
	sp_gather(newsrc, now);
	if (to_file) {  /* the receiver's pipe into a file, odd pieces (iter_file_splice_write()) */
		struct sp_stream f = {.len = s->len, .pipe = {b[0], b[1]}};

		if (sp_outfile(&c, ext4_dir, prefix) || sp_splice_file(&c, &f, c.fd, &pos, s->len, &done, &inside) ||
		    pread(c.fd, got, s->len, SP_OUT_OFF) != (ssize_t)s->len) {
			cfail(&c, "the out file: %s", strerror(errno));
			goto out;
		}
	} else {
		for (size_t k = 0; done < s->len; k++) {  /* pipe_read(); a short read is judged after the bytes */
			size_t ask = sp_odd[(k + 2) % SP_NODD] < s->len - done ? sp_odd[(k + 2) % SP_NODD] : s->len - done;

			if ((r = read(b[0], got + done, ask)) != (ssize_t)ask) {
				snprintf(readerr, sizeof(readerr), "read of %zu bytes from the receiver's pipe at stream byte %zu: %zd (%s)",
					 ask, done, r, r < 0 ? strerror(errno) : "short, the pipe holding more");
				done += r > 0 ? r : 0;
				break;
			}
			done += r;
		}
	}
	/* each piece: its bytes the page's bytes now (lent end to end) or as sent (copied), none other */
	for (size_t i = 0, at = 0; i < SP_NPIECES && at < done && !c.failed[0]; at += sp_pieces[i++].len) {
		size_t n = done - at < sp_pieces[i].len ? done - at : sp_pieces[i].len;
		int nnew = !memcmp(got + at, now + at, n), nold = !memcmp(got + at, s->want + at, n);

		lent += nnew && n == sp_pieces[i].len;
		copied += nold && !nnew;
		for (size_t j = 0; j < n && !nnew && !nold; j++)
			if (got[at + j] != now[at + j] && got[at + j] != s->want[at + j]) {
				cfail(&c, "%s holds other bytes at stream byte %zu than were sent or the page holds now (piece %zu, "
				      "%u bytes from source byte %u, its byte %zu)", to_file ? "the out file" : "the receiver's pipe",
				      at + j, i, sp_pieces[i].len, sp_pieces[i].off, j);
				break;
			}
		if (!nnew && !nold && !c.failed[0])
			cfail(&c, "piece %zu arrived part as sent, part as the page holds now", i);
	}
	if (!c.failed[0] && readerr[0])
		cfail(&c, "%s", readerr);
	if (!c.failed[0] && to_file)
		sp_check_file(&c, prefix, got, s->len);  /* and nothing past the stream, the prefix kept */
	if (!c.failed[0])
		sp_sources_kept(&c, s, 98);
	if (!c.failed[0] && sp_pipe_holds(b[0]))
		cfail(&c, "the receiver's pipe holds %ld bytes at the end", sp_pipe_holds(b[0]));
	if (!c.failed[0] && lent < (int)SP_NPIECES)
		cskip(&c, "%d of %zu pieces reached the receiver's pipe as copies (the bytes sent, not the page's now): "
		      "no same-page pieces out of the skb", copied, SP_NPIECES);
	else if (!c.failed[0])
		printf("# %s: all %zu pieces (%zu bytes) came out of the socket on the sender's own pages\n", c.name,
		       SP_NPIECES, s->len);
out:
	close_pair(b);
	if (snd >= 0)
		close(snd);
	if (rcv >= 0)
		close(rcv);
	cell_file_close(&c);
	if (s)
		sp_free(s);
	verdict(&c, began);
free:
	free(s);
	free(now);
	free(got);
	free(newsrc);
}

static void splice_cells(void)
{
	for (enum sp_sink k = 0; k < NSPK; k++)
		for (enum sp_src src = 0; src < NSPS; src++)
			sp_sink_cell(k, src);
	sp_direct_cell(0);
	sp_direct_cell(1);
	for (int tcp = 1; tcp >= 0; tcp--)
		for (enum sp_src src = 0; src < SPS_WRITE; src++)
			for (int to_file = 0; to_file < 2; to_file++)
				sp_from_sock_cell(tcp, src, to_file);
}
