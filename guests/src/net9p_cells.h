/* Two borrowers of user pages the guest runs all the time and no other cell checks (issue 20 of
 * `issues`, docs/entrypoints.md): unbuffered I/O on 9p and splice of user pages into sockets.
 * Part of pin_matrix.c (its struct cell, verdict(), fill64(), first_diff(), is_thp(),
 * map_aligned(); borrow_cells.h's borrow_refs()/borrow_pins()/lo_up()), entered by net9p_cells()
 * from main. docs/matrix.md "9p and splice into sockets" says what each cell checks and why.
 *
 * p9/<read|write>/<memory>[/<event>]: read(2)/write(2) of a file in a 9p directory ($P9_DIR, else
 * $BENCH_OUT: the results folder virtme-ng shares read-write). With no cache= option 6.12 opens
 * the file P9L_DIRECT (fs/9p/fid.h v9fs_fid_add_modes()), so the call is netfs unbuffered I/O:
 * fs/netfs/iterator.c netfs_extract_user_iter() pins the user buffer (FOLL_PIN: the premise,
 * read from nr_foll_pin_acquired) into one bvec a page, and net/9p/trans_virtio.c
 * p9_get_mapped_pages() takes a reference on each page for a zero-copy request (one bvec, so one
 * page, a request: p9_client_read_once()/p9_client_write_subreq() go zero-copy above 1024 bytes,
 * up to it they copy). The file is written in one call and read back in pieces of 1024 bytes
 * (the copying requests): what the reader gets is checked against a model both ways, the bytes
 * around the range are untouched, no pin and no page reference is left.
 *
 * splice-sock/<tcp|unix>/<memory>/<event>: vmsplice(2) of user memory into a pipe (fs/splice.c
 * iter_to_pipe(): page references), then splice(2) of the pipe into a loopback TCP or AF_UNIX
 * stream socket (splice_to_socket(), MSG_SPLICE_PAGES, net/core/skbuff.c skb_splice_from_iter():
 * the skb takes its own reference, skb_append_pagefrags()). The data waits in the receiver's
 * queue on the process's pages (the premise: pages_held() sees them held before the receiver
 * reads). vmsplice lends the pages (iter_to_pipe() keeps references, copies nothing): a later
 * write of the process may show through, so "write" only asks each byte to be the old or the
 * new one (6.12 delivers the new ones); every
 * other event must leave the receiver the bytes of splice time: munmap, MADV_DONTNEED, a fork
 * whose child and parent then write (COW must copy, not write into the lent page), and a child
 * that vmsplices the pages it shares with the parent and exits before the parent writes
 * (CVE-2020-29374's class).
 *
 * splice-udp/<memory>/<shape>, splice-gift/<file|tcp>/<memory> (splice_udp_cells(), below):
 * the same pages spliced into loopback UDP (ip_append_data()'s zero-copy frags), and gifted
 * (SPLICE_F_GIFT) into a file and TCP.
 */
#include <linux/sockios.h>  /* SIOCOUTQ */
#include <sys/un.h>

#ifndef F_SETPIPE_SZ
#define F_SETPIPE_SZ 1031
#endif
#define N_LEN (16 * PAGE)

/* The default set's cells (docs/matrix.md gives their guest time); the rest run in pin-matrix-deep. */
static const char *const net9p_quick[] = {
	"p9/read/anon", "p9/write/anon", "p9/read/hugetlb", "p9/read/anon/odd", "p9/read/anon/bad", "p9/write/anon/bad",
	"splice-sock/tcp/anon/none", "splice-sock/unix/anon/none", "splice-sock/tcp/anon/write",
	"splice-sock/tcp/anon/munmap", "splice-sock/unix/anon/fork", "splice-sock/tcp/anon/fork-child",
	"splice-sock/unix/anon/pieces", "splice-sock/tcp/anon/bad", "splice-sock/tcp/thp/dontneed",
	"splice-sock/unix/shmem/none",
};

static int net9p_wanted(const char *name) { return BLOCK_WANTED(name, net9p_quick); }

enum nmem { N_ANON, N_THP, N_SHMEM, N_HUGE, N_EXT4, NNMEM };
static const char *const nmem_names[NNMEM] = {"anon", "thp", "shmem", "hugetlb", "ext4-shared"};

/* N_LEN bytes of buf as up to 64 odd pieces (1000, 3000, 5000, 700, 9000, 333, 2100, ...)
 * that share pages; how many. */
static int net_pieces(struct iovec iov[64], char *buf)
{
	static const size_t sz[] = {1000, 3000, 5000, 700, 9000, 333, 2100};
	size_t at = 0;
	int n = 0;

	for (int i = 0; at < N_LEN && n < 64; i++, n++) {
		size_t len = sz[i % 7] < N_LEN - at ? sz[i % 7] : N_LEN - at;

		iov[n] = (struct iovec){buf + at, len};
		at += len;
	}
	return n;
}

/* N_LEN bytes of memory of kind m at *map (*maplen to unmap), filled with seed; 0, else -1 with
 * the cell failed or skipped */
static int net_map(struct cell *c, enum nmem m, char **map, size_t *maplen, unsigned seed)
{
	*maplen = m == N_THP || m == N_HUGE ? HPAGE : N_LEN + PAGE;
	*map = NULL;
	switch (m) {
	case N_THP:
		*map = map_aligned(HPAGE, HPAGE, MADV_HUGEPAGE);
		break;
	case N_HUGE:
		*map = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (*map == MAP_FAILED) {
			*map = NULL;
			cskip(c, "no hugetlb page (mmap MAP_HUGETLB: %s)", strerror(errno));
			return -1;
		}
		break;
	case N_SHMEM:
	case N_EXT4:
		if (m == N_EXT4 && !ext4_dir) {
			cskip(c, "no ext4 directory given (-d)");
			return -1;
		}
		if (m == N_SHMEM) {
			c->fd = memfd_create("net9p", 0);
		} else {
			snprintf(c->path, sizeof(c->path), "%s/net9p.%d", ext4_dir, getpid());
			c->fd = open(c->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		}
		if (c->fd < 0 || ftruncate(c->fd, *maplen)) {
			cfail(c, "cannot make the %s file: %s", nmem_names[m], strerror(errno));
			return -1;
		}
		*map = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
		break;
	default:
		*map = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	}
	if (!*map || *map == MAP_FAILED) {
		*map = NULL;
		cfail(c, "cannot map %s memory: %s", nmem_names[m], strerror(errno));
		return -1;
	}
	fill64(*map, *maplen, seed);
	if (m == N_THP && !is_thp(*map)) {
		cskip(c, "no THP behind the buffer (kpageflags)");
		return -1;
	}
	return 0;
}

static void net_unmap(struct cell *c, char *map, size_t maplen)
{
	if (map)
		munmap(map, maplen);
	cell_file_close(c);
}

/* -- 9p: netfs unbuffered read/write ------------------------------------------------------------ */

enum p9ev { P9E_NONE, P9E_ODD, P9E_PIECES, P9E_BAD, P9E_FORK, NP9EV };
static const char *const p9ev_names[NP9EV] = {"", "odd", "pieces", "bad", "fork"};
#define P9_BAD_PAGE 5
#define P9_CHUNK 1024  /* the other side's requests: not above trans_virtio's zero-copy threshold (1024) */
#define P9_FLEN (N_LEN + 2 * PAGE)  /* the file: the buffer's length and the odd cells' file offset */

static const char *p9_dir(void)
{
	const char *d = getenv("P9_DIR");

	return d && *d ? d : getenv("BENCH_OUT");
}

/* whether dir is on 9p over virtio with no cache= option: the mount of the longest mount point
 * that is a prefix of its real path (/proc/mounts; statfs() cannot tell: 9P2000.L passes the
 * server's f_type through, ext4 on this host); "" or why not */
static void p9_mount_check(const char *dir, char *why, size_t n)
{
	char line[1024], dev[256], mnt[512], type[64], opts[512], best_opts[512] = "", best_type[64] = "", real[512];
	size_t best = 0, ml;
	FILE *f;

	why[0] = 0;
	if (!realpath(dir, real)) {
		snprintf(why, n, "cannot resolve %.200s: %s", dir, strerror(errno));
		return;
	}
	f = fopen("/proc/mounts", "r");
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%255s %511s %63s %511s", dev, mnt, type, opts) != 4)
			continue;
		ml = strlen(mnt);
		if (strncmp(real, mnt, ml) || (ml > 1 && real[ml] && real[ml] != '/') || ml < best)
			continue;
		best = ml;  /* the last of equal mount points is the one on top */
		snprintf(best_type, sizeof(best_type), "%s", type);
		snprintf(best_opts, sizeof(best_opts), "%s", opts);
	}
	if (f)
		fclose(f);
	printf("# p9: %s is on %s, options %s\n", real, best_type[0] ? best_type : "(no mount found)", best_opts);
	if (strcmp(best_type, "9p"))
		snprintf(why, n, "%.200s is not on 9p (%s)", real, best_type);
	else if (!strstr(best_opts, "trans=virtio"))
		snprintf(why, n, "the 9p mount of %.60s is not trans=virtio (%.150s)", real, best_opts);
	else if (strstr(best_opts, "cache="))
		snprintf(why, n, "the 9p mount of %.60s has a cache= option (%.150s): buffered, not netfs unbuffered I/O", real,
			 best_opts);
}

/* [off, off+len) of fd read in P9_CHUNK requests (each copied by 9p, none zero-copy) */
static int p9_chunked(int fd, char *buf, size_t len, off_t off)
{
	for (size_t i = 0; i < len;) {
		size_t n = len - i < P9_CHUNK ? len - i : P9_CHUNK;
		ssize_t r = pread(fd, buf + i, n, off + i);

		if (r <= 0)
			return -1;
		i += r;
	}
	return 0;
}

static void p9_cell(int wr, enum nmem m, enum p9ev ev)
{
	struct cell c = {.mem = ANON, .fd = -1};
	double began = now_s();
	const char *dir = p9_dir();
	char fpath[512], why[300], *map = NULL, *file = malloc(P9_FLEN), *got = malloc(P9_FLEN);
	char *want = malloc(N_LEN + PAGE);
	size_t maplen = 0, boff = 0, len = N_LEN, reach;
	off_t foff = 0;
	struct iovec iov[64];
	int niov = 0, fd = -1, p2c[2] = {-1, -1}, st, err;
	long p0, acq0, rel0, acq1, rel1, d;
	ssize_t r;
	pid_t kid = -1;

	snprintf(c.name, sizeof(c.name), "p9/%s/%s%s%s", wr ? "write" : "read", nmem_names[m], ev ? "/" : "",
		 p9ev_names[ev]);
	if (!net9p_wanted(c.name))
		goto free;
	if (!begins(c.name))
		goto free;
	p0 = pins_outstanding();  /* after begins(): the output written out first */
	if (!dir || !*dir) {
		cskip(&c, "no 9p directory ($P9_DIR or $BENCH_OUT)");
		goto out;
	}
	p9_mount_check(dir, why, sizeof(why));
	if (why[0]) {
		cskip(&c, "%s", why);
		goto out;
	}
	if (net_map(&c, m, &map, &maplen, 61))
		goto out;
	/* the file, written in one call (checked below by the copying reads) */
	snprintf(fpath, sizeof(fpath), "%s/p9cell.%d", dir, getpid());
	fill64(file, P9_FLEN, 62);
	fd = open(fpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || pwrite(fd, file, P9_FLEN, 0) != (ssize_t)P9_FLEN) {
		cfail(&c, "cannot write %s: %s", fpath, strerror(errno));
		goto out;
	}
	if (ev == P9E_ODD) {
		/* first piece 596 bytes (a copying request), then whole pages (zero-copy), an odd tail */
		boff = PAGE - 596;
		foff = PAGE + 77;
		len = N_LEN - boff - 777;
	}
	if (ev == P9E_PIECES)  /* readv/writev of odd pieces that share pages */
		niov = net_pieces(iov, map);
	memcpy(want, map, N_LEN + (maplen > N_LEN ? PAGE : 0));
	if (ev == P9E_BAD && mprotect(map + P9_BAD_PAGE * PAGE, PAGE, PROT_NONE)) {
		cfail(&c, "mprotect PROT_NONE: %s", strerror(errno));
		goto out;
	}
	if (ev == P9E_FORK) {
		if (pipe(p2c)) {
			cfail(&c, "pipe: %s", strerror(errno));
			goto out;
		}
		kid = cell_fork();
		if (kid == 0) {  /* keeps its copy: the parent's read must not reach it */
			char b, *old = malloc(N_LEN);

			fill64(old, N_LEN, 61);
			if (read(p2c[0], &b, 1) != 1)
				_exit(6);
			_exit(first_diff(map, old, N_LEN) >= 0 ? 3 : 0);
		}
	}
	pin_counts(&acq0, &rel0);
	if (niov)
		r = wr ? pwritev(fd, iov, niov, foff) : preadv(fd, iov, niov, foff);
	else
		r = wr ? pwrite(fd, map + boff, len, foff) : pread(fd, map + boff, len, foff);
	err = errno;  /* before pin_counts() reads /proc */
	pin_counts(&acq1, &rel1);
	reach = ev == P9E_BAD ? P9_BAD_PAGE * PAGE : len;
	printf("# %s: %s of %zu bytes at buffer offset %zu, file offset %ld: %zd (%s), %ld page pin(s) taken\n",
	       c.name, wr ? "write" : "read", len, boff, (long)foff, r, r < 0 ? strerror(err) : "bytes",
	       acq1 - acq0);
	if (kid > 0) {
		if (write(p2c[1], "c", 1) != 1 || waitpid(kid, &st, 0) != kid)
			cfail(&c, "cannot tell the child to look");
		else if (!WIFEXITED(st) || WEXITSTATUS(st))
			cfail(&c, "the child %s (status 0x%x)",
			      WIFEXITED(st) && WEXITSTATUS(st) == 3 ? "reads other bytes than its copy after the parent's 9p read into the buffer it shares by fork" : "ended badly",
			      st);
		kid = -1;
	}
	if (ev == P9E_BAD && r < 0 && err != EFAULT)
		cfail(&c, "the %s over a PROT_NONE page failed with %s, not EFAULT or a short count", wr ? "write" : "read",
		      strerror(err));
	else if (ev == P9E_BAD && r > (ssize_t)reach)
		cfail(&c, "the %s went past the PROT_NONE page: %zd bytes, at most %zu", wr ? "write" : "read", r, reach);
	else if (ev != P9E_BAD && r != (ssize_t)len)
		cfail(&c, "the %s returned %zd, not %zu%s%s", wr ? "write" : "read", r, len, r < 0 ? ": " : "",
		      r < 0 ? strerror(err) : "");
	if (ev == P9E_BAD)
		mprotect(map + P9_BAD_PAGE * PAGE, PAGE, PROT_READ | PROT_WRITE);
	if (r < 0)
		r = 0;
	/* the model: the file and the buffer after the call */
	if (wr)
		memcpy(file + foff, map + boff, r);  /* the buffer is not changed by a write */
	else
		memcpy(want + boff, file + foff, r);
	if (c.failed[0])
		goto refs;
	if ((d = first_diff(map, want, N_LEN + (maplen > N_LEN ? PAGE : 0))) >= 0)
		cfail(&c, "after the %s the process reads other bytes at buffer byte %ld (%s)", wr ? "write" : "read", d,
		      (size_t)d >= boff && (size_t)d < boff + r ? "in the range" : "outside the range");
	else if (p9_chunked(fd, got, P9_FLEN, 0))
		cfail(&c, "cannot read %s back in %d-byte pieces: %s", fpath, P9_CHUNK, strerror(errno));
	else if ((d = first_diff(got, file, P9_FLEN)) >= 0)
		cfail(&c, "the 9p file reads other bytes at %ld after the %s (%s)", d, wr ? "write" : "read",
		      d >= foff && d < foff + r ? "in the range" : "outside the range");
	if (!c.failed[0] && r && acq1 - acq0 < (long)((r + PAGE - 1) / PAGE))
		cskip(&c, "%ld page pin(s) taken for a %zd-byte %s: not netfs unbuffered I/O (nr_foll_pin_acquired)",
		      acq1 - acq0, r, wr ? "write" : "read");
refs:
	if (m != N_HUGE)
		borrow_refs(&c, map, N_LEN, "the buffer");
	else
		printf("# %s: no page-reference check of a 2 MiB page (the FOLL_PIN counters only)\n", c.name);
	borrow_pins(&c, p0);
out:
	if (kid > 0) {
		kill(kid, SIGKILL);
		waitpid(kid, &st, 0);
	}
	close_pair(p2c);
	if (fd >= 0) {
		close(fd);
		unlink(fpath);
	}
	net_unmap(&c, map, maplen);
	verdict(&c, began);
free:
	free(file);
	free(got);
	free(want);
}

/* -- vmsplice into a pipe, splice into a socket ------------------------------------------------ */

enum sev { S_NONE, S_WRITE, S_DONTNEED, S_MUNMAP, S_FORK, S_CHILD, S_ODD, S_PIECES, S_BAD, NSEV };
static const char *const sev_names[NSEV] = {"none", "write", "dontneed", "munmap", "fork", "fork-child", "odd",
					    "pieces", "bad"};

/* A connected stream pair: loopback TCP (RCVBUF on the receiver, SNDBUF on the sender; 0: the
 * defaults) or AF_UNIX; a blocked send or receive gives up after secs (0: waits) */
static int ss_pair(struct cell *c, int tcp, int rcvbuf, int sndbuf, int secs, int *snd, int *rcv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {secs, 0};
	socklen_t al = sizeof(a);
	int l = -1, sv[2];

	*snd = *rcv = -1;
	if (!tcp) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) {
			cfail(c, "socketpair(AF_UNIX): %s", strerror(errno));
			return -1;
		}
		*snd = sv[0];
		*rcv = sv[1];
	} else {
		lo_up();
		if ((l = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
		    (rcvbuf && setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf))) ||
		    bind(l, (struct sockaddr *)&a, sizeof(a)) || getsockname(l, (struct sockaddr *)&a, &al) || listen(l, 1) ||
		    (*snd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
		    (sndbuf && setsockopt(*snd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf))) ||
		    connect(*snd, (struct sockaddr *)&a, sizeof(a)) || (*rcv = accept(l, NULL, NULL)) < 0) {
			cfail(c, "cannot make a loopback TCP pair: %s", strerror(errno));
			if (*snd >= 0)
				close(*snd);
			*snd = *rcv = -1;
		}
		if (l >= 0)
			close(l);
		if (*snd < 0)
			return -1;
	}
	if (secs && (setsockopt(*rcv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
		     setsockopt(*snd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))) {
		cfail(c, "SO_RCVTIMEO, SO_SNDTIMEO: %s", strerror(errno));
		close(*snd);
		close(*rcv);
		*snd = *rcv = -1;
		return -1;
	}
	return 0;
}

/* vmsplice iov into the pipe, then splice all of it into the socket: bytes moved, -1 with why */
static ssize_t ss_send(struct cell *c, int pw, int pr, int snd, struct iovec *iov, int niov)
{
	ssize_t v = vmsplice(pw, iov, niov, 0), moved = 0, s;
	int left = -1;

	if (v < 0) {
		cfail(c, "vmsplice: %s", strerror(errno));
		return -1;
	}
	while (moved < v) {
		s = splice(pr, NULL, snd, NULL, v - moved, 0);
		if (s <= 0) {
			cfail(c, "splice of the pipe into the socket: %s after %zd of %zd bytes",
			      s < 0 ? strerror(errno) : "0", moved, v);
			return -1;
		}
		moved += s;
	}
	if (ioctl(pr, FIONREAD, &left) || left) {
		cfail(c, "the pipe still holds %d bytes after the splice", left);
		return -1;
	}
	return v;
}

/* the receiver reads n bytes (20 s at most) */
static int ss_recv(struct cell *c, int rcv, char *buf, size_t n)
{
	size_t got = 0;
	double t0 = now_s();

	while (got < n) {
		struct pollfd p = {rcv, POLLIN, 0};
		ssize_t r;

		if (now_s() - t0 > 20) {
			cfail(c, "the receiver got %zu of %zu bytes in 20 s", got, n);
			return -1;
		}
		if (poll(&p, 1, 100) <= 0)
			continue;
		r = recv(rcv, buf + got, n - got, MSG_DONTWAIT);
		if (r < 0 && errno != EAGAIN) {
			cfail(c, "recv: %s", strerror(errno));
			return -1;
		}
		got += r > 0 ? r : 0;
	}
	return 0;
}

static int ss_applies(enum nmem m, enum sev e)
{
	if (m == N_HUGE)
		return 0;  /* no page-reference premise: a 2 MiB hugetlb page does not migrate here */
	if (m == N_SHMEM || m == N_EXT4)  /* shared: a child's write, DONTNEED and munmap promise nothing new */
		return e == S_NONE || e == S_WRITE || e == S_ODD;
	return m == N_ANON || e == S_NONE || e == S_WRITE || e == S_DONTNEED || e == S_FORK;
}

/* The sender's queue drained (SIOCOUTQ 0: TCP's data acknowledged, a unix or UDP skb freed),
 * waited for at most 5 s: until then the skb still holds the spliced pages, on a loaded host
 * longer than pages_held()'s own settling (a FAIL of a healthy kernel, control run of
 * 20261207-165550-prove). Milliseconds waited, -1 if it never drained. */
static int ss_drained(int snd)
{
	int q = 0;

	for (int ms = 0; ms <= 5000; ms += 20) {
		if (ioctl(snd, SIOCOUTQ, &q) || q == 0)
			return ms;
		usleep(20 * 1000);
	}
	return -1;
}

static void ss_cell(int tcp, enum nmem m, enum sev e)
{
	struct cell c = {.mem = ANON, .fd = -1};
	double began = now_s();
	char *map = NULL, *old = malloc(N_LEN), *neww = malloc(N_LEN), *rbuf = malloc(N_LEN), why[200];
	size_t maplen = 0, boff = 0, len = N_LEN;
	struct iovec iov[64];
	int niov = 0, pfd[2] = {-1, -1}, snd = -1, rcv = -1, st, drained;
	long p0, held = -1, first, d;
	ssize_t v = -1;
	pid_t kid = -1;

	snprintf(c.name, sizeof(c.name), "splice-sock/%s/%s/%s", tcp ? "tcp" : "unix", nmem_names[m], sev_names[e]);
	if (!net9p_wanted(c.name))
		goto free;
	if (!begins(c.name))
		goto free;
	p0 = pins_outstanding();  /* after begins(): the output written out first */
	if (net_map(&c, m, &map, &maplen, 71))
		goto out;
	memcpy(old, map, N_LEN);
	fill64(neww, N_LEN, 72);
	if (pipe(pfd) || fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20) < 0) {
		cfail(&c, "pipe of 1 MiB: %s", strerror(errno));
		goto out;
	}
	if (ss_pair(&c, tcp, 1 << 20, 0, 0, &snd, &rcv))  /* the receiver's buffer takes all the data */
		goto out;
	if (e == S_ODD) {
		boff = 1234;
		len = N_LEN - boff - 567;
	}
	if (e == S_PIECES) {  /* pieces that share pages: the skb coalesces them into one frag */
		niov = net_pieces(iov, map);
	} else {
		iov[0] = (struct iovec){map + boff, len};
		niov = 1;
	}
	if (e == S_BAD && mprotect(map + P9_BAD_PAGE * PAGE, PAGE, PROT_NONE)) {
		cfail(&c, "mprotect PROT_NONE: %s", strerror(errno));
		goto out;
	}
	if (e == S_CHILD) {
		/* the child lends the pages it shares with the parent, then exits */
		kid = cell_fork();
		if (kid == 0)
			_exit(ss_send(&c, pfd[1], pfd[0], snd, iov, niov) == (ssize_t)len ? 0 : 3);
		if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st)) {
			cfail(&c, "the child that spliced the shared pages ended with status 0x%x", st);
			goto out;
		}
		kid = -1;
		v = len;
	} else {
		v = ss_send(&c, pfd[1], pfd[0], snd, iov, niov);
		if (v < 0)
			goto out;
	}
	if (e == S_BAD) {
		mprotect(map + P9_BAD_PAGE * PAGE, PAGE, PROT_READ | PROT_WRITE);
		if (v != P9_BAD_PAGE * PAGE)
			cfail(&c, "vmsplice over a PROT_NONE page at %d took %zd bytes, not the %lu before it", P9_BAD_PAGE, v,
			      P9_BAD_PAGE * PAGE);
	} else if (v != (ssize_t)len) {
		cfail(&c, "vmsplice took %zd of %zu bytes", v, len);
	}
	if (c.failed[0])
		goto out;
	held = pages_held(map, N_LEN, 0, &first, why, sizeof(why));  /* the premise: the skb holds them */
	switch (e) {
	case S_WRITE:
	case S_CHILD:
		memcpy(map, neww, N_LEN);
		break;
	case S_DONTNEED:
		if (madvise(map, maplen, MADV_DONTNEED))
			cfail(&c, "MADV_DONTNEED: %s", strerror(errno));
		break;
	case S_MUNMAP:
		munmap(map, maplen);
		map = NULL;
		break;
	case S_FORK:
		kid = cell_fork();
		if (kid == 0) {  /* writes its copy, which must be its own */
			memcpy(map, neww, N_LEN);
			_exit(first_diff(map, neww, N_LEN) >= 0 ? 3 : 0);
		}
		if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st))
			cfail(&c, "the child that wrote its copy ended with status 0x%x", st);
		kid = -1;
		fill64(neww, N_LEN, 73);
		memcpy(map, neww, N_LEN);  /* and the parent writes its own */
		break;
	default:
		break;
	}
	if (c.failed[0] || ss_recv(&c, rcv, rbuf, v))
		goto out;
	/* the receiver: the bytes of splice time, or with "write" each byte old or new */
	for (size_t i = 0, nnew = 0, ndiff = 0; i < (size_t)v; i++) {
		char o = old[boff + i], n = neww[boff + i];

		if (rbuf[i] == o || (e == S_WRITE && rbuf[i] == n)) {
			nnew += e == S_WRITE && rbuf[i] == n && n != o;
			ndiff += n != o;
			if (i + 1 == (size_t)v && e == S_WRITE)
				printf("# %s: the receiver got %zu of the %zu rewritten bytes new (allowed without SPLICE_F_GIFT)\n",
				       c.name, nnew, ndiff);
			continue;
		}
		cfail(&c, "the receiver got other bytes at %zu than %s (%s)", i,
		      e == S_WRITE ? "the old or the new ones" : "were spliced",
		      e == S_FORK ? "a write after fork reached the lent page"
		      : e == S_CHILD ? "the parent's write after the child lent the shared page reached it"
		      : e == S_MUNMAP || e == S_DONTNEED ? "the pages were freed under the skb" : "changed in the socket");
		break;
	}
	/* the process: what it wrote, zeros after DONTNEED of private memory, else its bytes */
	if (map && !c.failed[0]) {
		char *mine = e == S_WRITE || e == S_FORK || e == S_CHILD ? neww : old;

		if (e == S_DONTNEED && (m == N_ANON || m == N_THP))
			memset(old, 0, N_LEN);
		if ((d = first_diff(map, mine, N_LEN)) >= 0)
			cfail(&c, "after the splice and %s the process reads other bytes at %ld", sev_names[e], d);
	}
	drained = ss_drained(snd);  /* before the reference check: until then the skb holds the pages */
	printf("# %s: %zd bytes spliced, %ld of 16 buffer pages held before the receiver read%s; the sender's queue "
	       "drained after %d ms\n", c.name, v, held, held < 0 ? " (not measured)" : "", drained);
	if (map && e != S_DONTNEED)
		borrow_refs(&c, map, N_LEN, "the buffer");
	else
		printf("# %s: the buffer's pages left the process (%s): no page-reference check (the pages oracle counts what is left)\n",
		       c.name, sev_names[e]);
	borrow_pins(&c, p0);
	if (!c.failed[0] && held == 0)
		cskip(&c, "no page of the buffer was held while the data waited in the socket: the splice copied");
	else if (!c.failed[0] && held < 0)
		cskip(&c, "no page-reference premise: %s", why);
out:
	if (kid > 0) {
		kill(kid, SIGKILL);
		waitpid(kid, &st, 0);
	}
	close_pair(pfd);
	if (snd >= 0)
		close(snd);
	if (rcv >= 0)
		close(rcv);
	net_unmap(&c, map, maplen);
	verdict(&c, began);
free:
	free(old);
	free(neww);
	free(rbuf);
}

static void splice_udp_cells(void);

static void net9p_cells(void)
{
	for (int wr = 0; wr < 2; wr++)
		for (enum nmem m = 0; m < NNMEM; m++)
			for (enum p9ev e = 0; e < NP9EV; e++)
				if ((m == N_ANON || e == P9E_NONE || (e == P9E_ODD && m != N_HUGE) ||
				     (e == P9E_FORK && m == N_THP)) && (!wr || e != P9E_FORK))
					p9_cell(wr, m, e);
	if (!list_only)
		lo_up();
	for (int tcp = 1; tcp >= 0; tcp--)
		for (enum nmem m = 0; m < NNMEM; m++)
			for (enum sev e = 0; e < NSEV; e++)
				if (ss_applies(m, e))
					ss_cell(tcp, m, e);
	splice_udp_cells();
}

/* -- vmsplice into a pipe, splice into UDP; SPLICE_F_GIFT ----------------------------------------
 * splice-udp/<memory>/<shape>: the pipe's pages spliced into a connected loopback UDP socket.
 * 6.12: splice_to_socket() sends them with MSG_SPLICE_PAGES (MSG_MORE while the pipe holds more
 * than the 16 bvecs of one call), udp_sendmsg() -> ip_append_data()/ip_make_skb() ->
 * __ip_append_data(): lo has NETIF_F_SG, so skb_splice_from_iter() adds the pages to the skb's
 * frags with a reference each, no copy; the datagram waits in the receiver's queue on the
 * process's pages (premise: pages_held() before the receiver reads). Shapes: one datagram
 * (none, gift: vmsplice SPLICE_F_GIFT, odd: 20000 bytes at offset 1234), more (24 pieces that
 * share pages: two sendmsg calls, the first with MSG_MORE, one datagram), cork (UDP_CORK around
 * two splices), gso (UDP_SEGMENT 1400: the loopback receiver gets the skb segmented,
 * __udp_gso_segment() shares the frags), munmap (the process unmaps before the receiver reads),
 * bad (page 5 PROT_NONE: vmsplice takes the 5 pages before it), too-big (65536 bytes: EMSGSIZE
 * from __ip_append_data() before a page is taken; the pipe keeps them), closed-peer (the
 * receiver closed: the ICMP error makes a splice fail ECONNREFUSED; the pipe keeps its pages).
 * Every shape: the receiver gets exactly the bytes of splice time (the process writes only
 * afterwards), and once received or refused no page of the buffer is held, no pin.
 * splice-gift/<file|tcp>/<memory>: vmsplice SPLICE_F_GIFT, then splice into an ext4 file
 * (iter_file_splice_write() copies into the page cache: the file holds the bytes on disk, a
 * later write of the process does not reach it) or a loopback TCP socket (as splice-sock's none).
 * 6.12 steals no gifted page here: the only pipe_buf_try_steal() caller is FUSE's
 * fuse_try_move_page() (fs/fuse/dev.c); the gift is a flag the pages carry, dropped by tee. */
#include <netinet/udp.h>
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

enum suev { SU_NONE, SU_GIFT, SU_ODD, SU_MORE, SU_CORK, SU_GSO, SU_MUNMAP, SU_BAD, SU_BIG, SU_CLOSED, NSUEV };
static const char *const suev_names[NSUEV] = {"none", "gift", "odd", "more", "cork", "gso", "munmap", "bad",
					      "too-big", "closed-peer"};
#define SU_LEN (8 * PAGE)  /* one datagram: under UDP's 65507 */
#define SU_SEGSZ 1400

static const char *const sudp_quick[] = {
	"splice-udp/anon/none", "splice-udp/anon/gift", "splice-udp/anon/more", "splice-udp/anon/gso",
	"splice-udp/anon/munmap", "splice-udp/anon/too-big", "splice-udp/anon/closed-peer", "splice-udp/thp/odd",
	"splice-udp/anon/cork", "splice-udp/anon/bad",
	"splice-gift/file/anon", "splice-gift/tcp/anon",
};

/* A receiver bound on 127.0.0.1 (1 MiB of queue, 5 s timeout) and a sender connected to it */
static int su_pair(struct cell *c, int *snd, int *rcv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {5, 0};
	socklen_t al = sizeof(a);
	int big = 1 << 20;

	*snd = socket(AF_INET, SOCK_DGRAM, 0);
	*rcv = socket(AF_INET, SOCK_DGRAM, 0);
	if (*snd < 0 || *rcv < 0 || setsockopt(*rcv, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big)) ||
	    setsockopt(*rcv, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) || bind(*rcv, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(*rcv, (struct sockaddr *)&a, &al) || connect(*snd, (struct sockaddr *)&a, sizeof(a))) {
		cfail(c, "cannot make a loopback UDP pair: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* 24 pieces of 1000, 700, 333, 2100 bytes from buf: they share pages, more than 16 pipe buffers */
static int su_pieces(struct iovec *iov, char *buf, size_t *len)
{
	static const size_t sz[] = {1000, 700, 333, 2100};

	*len = 0;
	for (int i = 0; i < 24; i++) {
		iov[i] = (struct iovec){buf + *len, sz[i % 4]};
		*len += sz[i % 4];
	}
	return 24;
}

/* vmsplice iov (flags: SPLICE_F_GIFT or 0) and splice all of it into fd: bytes, -1 with why;
 * *err: the splice's errno (with the bytes still in the pipe) when want_err says it may fail */
static ssize_t su_send(struct cell *c, int pfd[2], int fd, struct iovec *iov, int niov, unsigned flags, int *err)
{
	ssize_t v = vmsplice(pfd[1], iov, niov, flags), moved = 0, s;

	if (v < 0) {
		cfail(c, "vmsplice: %s", strerror(errno));
		return -1;
	}
	while (moved < v) {
		s = splice(pfd[0], NULL, fd, NULL, v - moved, 0);
		if (s < 0 && err) {
			*err = errno;
			return moved;
		}
		if (s <= 0) {
			cfail(c, "splice of the pipe into the socket: %s after %zd of %zd bytes", s < 0 ? strerror(errno) : "0",
			      moved, v);
			return -1;
		}
		moved += s;
	}
	return v;
}

/* The receiver's datagrams: want bytes in all, each of seg bytes but the last (one datagram
 * when seg is 0); they must be exactly want */
static void su_recv(struct cell *c, int rcv, const char *want, size_t len, size_t seg)
{
	char *buf = malloc(65536);
	size_t got = 0;
	int n = 0;
	long d;

	while (got < len && !c->failed[0]) {
		ssize_t r = recv(rcv, buf, 65536, MSG_TRUNC);
		size_t should = seg && len - got > seg ? seg : len - got;

		if (r < 0)
			cfail(c, "recv of datagram %d (%zu of %zu bytes in): %s", n, got, len, strerror(errno));
		else if ((size_t)r != should)
			cfail(c, "datagram %d has %zd bytes, not %zu", n, r, should);
		else if ((d = first_diff(buf, want + got, r)) >= 0)
			cfail(c, "datagram %d differs from the spliced bytes at byte %ld (stream byte %zu)", n, d, got + d);
		got += r > 0 ? r : 0;
		n++;
	}
	if (!c->failed[0] && recv(rcv, buf, 65536, MSG_DONTWAIT) >= 0)
		cfail(c, "one more datagram after the %d expected", n);
	printf("# %s: %d datagram(s), %zu bytes received\n", c->name, n, got);
	free(buf);
}

/* A cell's pipe, sockets (-1: none) and buffer gone */
static void su_close(struct cell *c, int pfd[2], int snd, int rcv, char *map, size_t maplen)
{
	close_pair(pfd);
	if (snd >= 0)
		close(snd);
	if (rcv >= 0)
		close(rcv);
	net_unmap(c, map, maplen);
}

static int su_applies(enum nmem m, enum suev e)
{
	if (m == N_HUGE)
		return 0;  /* no page-reference premise: a 2 MiB hugetlb page does not migrate here */
	return m == N_ANON || e == SU_NONE || e == SU_GIFT || e == SU_ODD;
}

static void su_cell(struct cell *c, enum nmem m, enum suev e)
{
	char *map = NULL, *old = malloc(N_LEN), why[200];
	size_t maplen = 0, off = 0, len = SU_LEN;
	struct iovec iov[24];
	int niov = 1, pfd[2] = {-1, -1}, snd = -1, rcv = -1, one = 1, zero = 0, seg = SU_SEGSZ, err = 0, left = -1;
	long p0 = pins_outstanding(), held = -1, first;
	ssize_t v = 0;

	if (net_map(c, m, &map, &maplen, 81))
		goto out;
	memcpy(old, map, N_LEN);
	if (pipe(pfd) || fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20) < 0) {
		cfail(c, "pipe of 1 MiB: %s", strerror(errno));
		goto out;
	}
	if (su_pair(c, &snd, &rcv))
		goto out;
	if (e == SU_ODD)
		off = 1234, len = 20000;
	if (e == SU_BIG)
		len = N_LEN;
	iov[0] = (struct iovec){map + off, len};
	if (e == SU_MORE)
		niov = su_pieces(iov, map, &len);
	if (e == SU_GSO && setsockopt(snd, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg)))
		cfail(c, "UDP_SEGMENT %d: %s", seg, strerror(errno));
	if (e == SU_BAD && mprotect(map + P9_BAD_PAGE * PAGE, PAGE, PROT_NONE))
		cfail(c, "mprotect PROT_NONE: %s", strerror(errno));
	if (e == SU_CLOSED) {
		close(rcv);
		rcv = -1;
	}
	if (c->failed[0])
		goto out;
	if (e == SU_CORK) {  /* two splices of 4 pages, one datagram when uncorked */
		iov[0].iov_len = len / 2;
		iov[1] = (struct iovec){map + len / 2, len / 2};
		if (setsockopt(snd, SOL_UDP, UDP_CORK, &one, sizeof(one)))
			cfail(c, "UDP_CORK: %s", strerror(errno));
		else if ((v = su_send(c, pfd, snd, &iov[0], 1, 0, NULL)) >= 0 && (v = su_send(c, pfd, snd, &iov[1], 1, 0, NULL)) >= 0)
			v = len;
		if (!c->failed[0] && setsockopt(snd, SOL_UDP, UDP_CORK, &zero, sizeof(zero)))
			cfail(c, "UDP_CORK off: %s", strerror(errno));
	} else if (e == SU_CLOSED) {  /* the first may still go (and be dropped), a later one must fail */
		for (int i = 0; i < 3 && !err && !c->failed[0]; i++)
			v = su_send(c, pfd, snd, iov, 1, 0, &err);
		if (!c->failed[0] && err != ECONNREFUSED)
			cfail(c, "splice into a UDP socket whose peer is closed: %s, not ECONNREFUSED",
			      err ? strerror(err) : "three datagrams sent");
	} else {
		v = su_send(c, pfd, snd, iov, niov, e == SU_GIFT ? SPLICE_F_GIFT : 0, e == SU_BIG ? &err : NULL);
		if (e == SU_BIG && !c->failed[0] && (v || err != EMSGSIZE))
			cfail(c, "splice of %zu bytes into UDP: %zd bytes, %s, not EMSGSIZE", len, v, err ? strerror(err) : "sent");
	}
	if (e == SU_BAD) {
		mprotect(map + P9_BAD_PAGE * PAGE, PAGE, PROT_READ | PROT_WRITE);
		if (!c->failed[0] && v != P9_BAD_PAGE * PAGE)
			cfail(c, "vmsplice over a PROT_NONE page at %d took %zd bytes, not the %lu before it", P9_BAD_PAGE, v,
			      P9_BAD_PAGE * PAGE);
		len = P9_BAD_PAGE * PAGE;
	} else if (!c->failed[0] && e != SU_BIG && e != SU_CLOSED && v != (ssize_t)len) {
		cfail(c, "vmsplice and splice moved %zd of %zu bytes", v, len);
	}
	if (c->failed[0])
		goto out;
	if (e == SU_BIG || e == SU_CLOSED) {
		/* refused: the pipe keeps what the refused splice did not send; nothing else holds */
		if (ioctl(pfd[0], FIONREAD, &left) || left <= 0)
			cfail(c, "after the refused splice the pipe holds %d bytes, not the refused ones", left);
		close_pair(pfd);
		printf("# %s: the splice refused (%s), the pipe held %d bytes\n", c->name, strerror(err), left);
		goto done;
	}
	held = pages_held(map, N_LEN, 0, &first, why, sizeof(why));  /* premise: the skb holds them */
	if (e == SU_MUNMAP) {
		munmap(map, maplen);
		map = NULL;
	}
	su_recv(c, rcv, old + off, len, e == SU_GSO ? SU_SEGSZ : 0);
	printf("# %s: %zd bytes spliced, %ld of 16 buffer pages held before the receiver read\n", c->name, v, held);
	if (map && !c->failed[0] && first_diff(map, old, N_LEN) >= 0)
		cfail(c, "after the splice the process reads other bytes");
done:
	if (map && !c->failed[0])
		borrow_refs(c, map, N_LEN, "the buffer");
	borrow_pins(c, p0);
	if (!c->failed[0] && held == 0)
		cskip(c, "no page of the buffer was held while the datagram waited: the splice copied");
	else if (!c->failed[0] && held < 0 && e != SU_BIG && e != SU_CLOSED)
		cskip(c, "no page-reference premise: %s", why);
out:
	su_close(c, pfd, snd, rcv, map, maplen);
	free(old);
}

/* splice-gift/<file|tcp>/<memory>: gifted pages spliced into an ext4 file or a TCP socket */
static void gift_cell(struct cell *c, enum nmem m, int tcp)
{
	char *map = NULL, *old = malloc(N_LEN), *buf = NULL, why[200];
	size_t maplen = 0;
	struct iovec iov;
	int pfd[2] = {-1, -1}, snd = -1, rcv = -1, fd = -1, drained;
	long p0 = pins_outstanding(), held = -1, first, d;
	ssize_t v;

	if (!tcp && !ext4_dir) {
		cskip(c, "no ext4 directory given (-d)");
		goto out;
	}
	if (net_map(c, m, &map, &maplen, 91))
		goto out;
	memcpy(old, map, N_LEN);
	iov = (struct iovec){map, SU_LEN};
	if (pipe(pfd) || fcntl(pfd[1], F_SETPIPE_SZ, 1 << 20) < 0) {
		cfail(c, "pipe of 1 MiB: %s", strerror(errno));
		goto out;
	}
	if (tcp) {
		if (ss_pair(c, 1, 1 << 20, 0, 5, &snd, &rcv))
			goto out;
	} else {
		snprintf(why, sizeof(why), "%s/splice-gift.%d", ext4_dir, getpid());
		fd = open(why, O_RDWR | O_CREAT | O_TRUNC, 0600);
		unlink(why);
		if (fd < 0) {
			cfail(c, "cannot make the ext4 file: %s", strerror(errno));
			goto out;
		}
	}
	if ((v = su_send(c, pfd, tcp ? snd : fd, &iov, 1, SPLICE_F_GIFT, NULL)) < 0)
		goto out;
	if (v != SU_LEN) {
		cfail(c, "vmsplice and splice moved %zd of %lu bytes", v, SU_LEN);
		goto out;
	}
	held = pages_held(map, N_LEN, 0, &first, why, sizeof(why));
	buf = malloc(SU_LEN);
	if (tcp) {
		/* the receiver reads before the process writes: exactly the gifted bytes */
		if (held == 0)  /* the premise: the skb lends the pages */
			cskip(c, "no page of the buffer was held while the data waited: the splice copied");
		else if (!ss_recv(c, rcv, buf, SU_LEN) && (d = first_diff(buf, old, SU_LEN)) >= 0)
			cfail(c, "the receiver got other bytes at %ld than were gifted", d);
		else if ((d = first_diff(map, old, N_LEN)) >= 0)
			cfail(c, "after the gift the process reads other bytes at %ld", d);
	} else {
		/* the file has its own copy: the process's write must not reach it, on disk either */
		fill64(map, N_LEN, 92);
		if (fsync(fd) || !drop_caches() || pread(fd, buf, SU_LEN, 0) != (ssize_t)SU_LEN)
			cfail(c, "fsync, drop_caches, pread of the file: %s", strerror(errno));
		else if ((d = first_diff(buf, old, SU_LEN)) >= 0)
			cfail(c, "the file on disk differs from the gifted bytes at %ld%s", d,
			      buf[d] == map[d] ? ": the process's later write reached it" : "");
		else if (held > 0)
			cfail(c, "%ld page(s) of the gifted buffer held after splicing it into a file (it copies)", held);
	}
	drained = tcp ? ss_drained(snd) : 0;  /* before the reference check, as in ss_cell() */
	printf("# %s: %zd gifted bytes spliced, %ld of 16 buffer pages held after it%s\n", c->name, v, held,
	       drained < 0 ? "; the TCP sender's queue never drained" : "");
	if (!c->failed[0])
		borrow_refs(c, map, N_LEN, "the buffer");
	borrow_pins(c, p0);
	if (!c->failed[0] && held < 0)
		cskip(c, "no page-reference premise: %s", why);
out:
	if (fd >= 0)
		close(fd);
	su_close(c, pfd, snd, rcv, map, maplen);
	free(old);
	free(buf);
}

static void splice_udp_cells(void)
{
	for (enum nmem m = 0; m < NNMEM; m++)
		for (int k = 0; k < NSUEV + 2; k++) {
			struct cell c = {.mem = ANON, .fd = -1};
			double began = now_s();

			if (k < NSUEV && !su_applies(m, k))
				continue;
			if (k >= NSUEV && (m == N_HUGE || (k == NSUEV + 1 && m != N_ANON && m != N_THP)))
				continue;
			if (k < NSUEV)
				snprintf(c.name, sizeof(c.name), "splice-udp/%s/%s", nmem_names[m], suev_names[k]);
			else
				snprintf(c.name, sizeof(c.name), "splice-gift/%s/%s", k == NSUEV ? "file" : "tcp", nmem_names[m]);
			if (!BLOCK_WANTED(c.name, sudp_quick) || !begins(c.name))
				continue;
			if (k < NSUEV)
				su_cell(&c, m, k);
			else
				gift_cell(&c, m, k == NSUEV + 1);
			verdict(&c, began);
		}
}
