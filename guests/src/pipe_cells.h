/* Pages a pipe borrows, against writes into the same pipe (issue 20 of `issues`, after round 3
 * of docs/redteam.md): splice(2) from a file puts the file's page-cache page itself into the
 * pipe (mm/filemap.c filemap_splice_read() for ext4, mm/shmem.c shmem_file_splice_read() for a
 * memfd; a hole of a memfd puts the shared zero page there, splice_zeropage_into_pipe()),
 * vmsplice(2) puts the process's own page there (fs/splice.c iter_to_pipe()), tee(2)
 * puts a second reference to a buffer into another pipe (link_pipe()). Only a buffer that the
 * pipe owns may take the bytes of a later write(2) (pipe_write() appends into the last buffer
 * when PIPE_BUF_FLAG_CAN_MERGE is set, which only anon_pipe_buf_ops' buffers may carry); a
 * borrowed buffer that carries it anyway hands the writer someone else's page: the file's
 * cached page (CVE-2022-0847, "Dirty Pipe": 9d2231c5d74e "lib/iov_iter: initialize "flags" in
 * new pipe_buffer") or the process's memory. Part of pin_matrix.c (its struct cell, verdict(),
 * fill64(), first_diff(); pagerefs.h's page_refs()), entered by pipe_cells() from main.
 * docs/matrix.md "Pipes that borrow pages" says what each cell checks and why.
 *
 * pipe/<source>/<ring>: PIPE_SPL_LEN bytes at offset PIPE_SPL_OFF of the source's first page go
 * into the pipe, then PIPE_WR_LEN bytes are written into the pipe, which fit in that page after
 * the spliced bytes (where a merge would put them). The source must keep its bytes (the file
 * through read(2): its page cache; the process's memory) and the pipe must give back exactly
 * what went in, in order. <ring> is the state of the pipe's ring slot the borrowed buffer lands
 * in: fresh (a new pipe: zeroed slots), stale (every slot used once by a write() and drained:
 * each slot last held an anonymous buffer, so a producer that fills the slot without setting
 * every field leaves CAN_MERGE behind), behind-write (an anonymous buffer written before the
 * borrowed one, still in the pipe). Premise, from gup_test's page dump: the source page's
 * reference count drops by at least one when the pipe is read empty (the pipe held the page
 * itself, it did not copy; by two through a tee), else SKIP; for the memfd hole, SEEK_DATA
 * still finds no data (no page was allocated: shmem_file_splice_read() then lends the zero
 * page, read in the source, not measured), and the zero page itself is checked through a
 * fresh private mapping as well as the file.
 */
#ifndef F_GETPIPE_SZ
#define F_GETPIPE_SZ 1032
#endif
#define PIPE_SPL_OFF 1      /* Dirty Pipe's own shape: a splice that starts past a page's first byte */
#define PIPE_SPL_LEN 100
#define PIPE_PRE_LEN 300    /* behind-write: bytes in the pipe before the borrowed buffer */
#define PIPE_WR_LEN 200

enum psrc { PS_EXT4, PS_MEMFD, PS_HOLE, PS_VMSPLICE, PS_EXT4_TEE, NPSRC };
static const char *const psrc_names[NPSRC] = {"ext4", "memfd", "memfd-hole", "vmsplice-anon", "ext4-tee"};
enum pring { PR_FRESH, PR_STALE, PR_BEHIND, NPRING };
static const char *const pring_names[NPRING] = {"fresh", "stale", "behind-write"};

/* All of them run in the default set: 15 cells of a few milliseconds each, and the 3 of
 * pipe/anon-shared/ below. */
static int pipe_wanted(const char *name) { return block_wanted(name, NULL, 0); }

/* Bring a new pipe's ring to state r; 0, or -1 with the cell failed. */
static int pipe_ring(struct cell *c, int p[2], enum pring r, const char *pre)
{
	char page[PAGE];
	int size = fcntl(p[1], F_GETPIPE_SZ);

	if (r == PR_BEHIND && write(p[1], pre, PIPE_PRE_LEN) != PIPE_PRE_LEN) {
		cfail(c, "write of %d bytes into the pipe: %s", PIPE_PRE_LEN, strerror(errno));
		return -1;
	}
	if (r != PR_STALE)
		return 0;
	if (size < PAGE) {
		cfail(c, "F_GETPIPE_SZ: %s", size < 0 ? strerror(errno) : "less than a page");
		return -1;
	}
	memset(page, 0x5c, sizeof(page));
	for (int i = 0; i < size / PAGE; i++)  /* one page a write: one slot each, all of them */
		if (write(p[1], page, PAGE) != PAGE) {
			cfail(c, "filling the pipe's %d slots: write %d: %s", size / PAGE, i, strerror(errno));
			return -1;
		}
	for (int i = 0; i < size / PAGE; i++)
		if (read(p[0], page, PAGE) != PAGE) {
			cfail(c, "draining the pipe's %d slots: read %d: %s", size / PAGE, i, strerror(errno));
			return -1;
		}
	return 0;
}

/* Reads exactly n bytes of the pipe into buf and checks that nothing is left; 0 or -1 (failed).
 * Non-blocking: the write end is still open, so a pipe holding fewer bytes fails, not hangs. */
static int pipe_drain(struct cell *c, int fd, char *buf, size_t n, const char *which)
{
	size_t got = 0;
	int left = -1;
	ssize_t r;

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	while (got < n && (r = read(fd, buf + got, n - got)) > 0)
		got += r;
	if (got != n) {
		cfail(c, "%s gave %zu of the %zu bytes put in", which, got, n);
		return -1;
	}
	if (ioctl(fd, FIONREAD, &left) || left) {
		cfail(c, "%s holds %d bytes more than were put in", which, left);
		return -1;
	}
	return 0;
}

/* the source page's reference count (gup_test's dump of the caller's mapping of it), -1 unread */
static long pipe_src_refs(const char *map)
{
	struct page_refs r;
	long idx = 0;

	return page_refs(gup_fd, map, &idx, 1, &r) == 1 ? r.refcount : -1;
}

/* The shared zero page as any process reads it: a fresh private anonymous page read, never written. */
static void pipe_zero_page(struct cell *c)
{
	char *z = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (z == MAP_FAILED) {
		cfail(c, "mmap: %s", strerror(errno));
		return;
	}
	for (size_t i = 0; i < PAGE; i++)
		if (z[i]) {
			cfail(c, "a write into the pipe after splicing a memfd hole changed the shared zero page (byte %zu reads %#x)",
			      i, (unsigned char)z[i]);
			break;
		}
	munmap(z, PAGE);
}

static void pipe_cell(enum psrc s, enum pring r)
{
	struct cell c = {.mem = ANON, .fd = -1};
	double began = now_s();
	char *src = malloc(2 * PAGE), *got = malloc(2 * PAGE), *pre = malloc(PIPE_PRE_LEN), *wr = malloc(PIPE_WR_LEN);
	char *want = malloc(PIPE_PRE_LEN + PIPE_SPL_LEN + PIPE_WR_LEN), *map = MAP_FAILED;
	int p[2] = {-1, -1}, t[2] = {-1, -1}, wp;  /* t: the first pipe of a tee, p the one written */
	long held = -1, after = -1, d;
	size_t nwant = 0;

	snprintf(c.name, sizeof(c.name), "pipe/%s/%s", psrc_names[s], pring_names[r]);
	if (!pipe_wanted(c.name) || !begins(c.name))
		goto free;
	if (!src || !got || !pre || !wr || !want) {
		cfail(&c, "out of memory");
		goto out;
	}
	if (s == PS_HOLE)
		memset(src, 0, 2 * PAGE);
	else
		fill64(src, 2 * PAGE, 91);
	fill64(pre, PIPE_PRE_LEN, 92);
	fill64(wr, PIPE_WR_LEN, 93);
	if (s == PS_VMSPLICE) {
		map = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (map != MAP_FAILED)
			memcpy(map, src, 2 * PAGE);
	} else {
		if (s == PS_MEMFD || s == PS_HOLE) {
			c.fd = memfd_create("pipe_cells", 0);
		} else if (ext4_dir) {
			snprintf(c.path, sizeof(c.path), "%s/pipe.%d", ext4_dir, getpid());
			c.fd = open(c.path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		} else {
			cskip(&c, "no ext4 directory given (-d)");
			goto out;
		}
		if (c.fd < 0 || (s == PS_HOLE ? ftruncate(c.fd, 2 * PAGE) : pwrite(c.fd, src, 2 * PAGE, 0) != 2 * PAGE) ||
		    fsync(c.fd)) {
			cfail(&c, "cannot make the %s file: %s", psrc_names[s], strerror(errno));
			goto out;
		}
		/* mapped only so that gup_test can dump the cached page's reference count; the hole
		 * stays unmapped (a fault would fill it): its own premise below */
		if (s != PS_HOLE)
			map = mmap(NULL, 2 * PAGE, PROT_READ, MAP_SHARED, c.fd, 0);
	}
	if (map == MAP_FAILED && s != PS_HOLE) {
		cfail(&c, "mmap: %s", strerror(errno));
		goto out;
	}
	if (map != MAP_FAILED)
		(void)*(volatile char *)map;
	if (pipe(p) || (s == PS_EXT4_TEE && pipe(t))) {
		cfail(&c, "pipe: %s", strerror(errno));
		goto out;
	}
	if (pipe_ring(&c, p, r, pre))
		goto out;
	/* the borrowed buffer goes into p (through t for the tee) */
	if (s == PS_VMSPLICE) {
		struct iovec iov = {map + PIPE_SPL_OFF, PIPE_SPL_LEN};

		d = vmsplice(p[1], &iov, 1, 0);
	} else {
		loff_t off = PIPE_SPL_OFF;

		wp = s == PS_EXT4_TEE ? t[1] : p[1];
		d = splice(c.fd, &off, wp, NULL, PIPE_SPL_LEN, 0);
		if (d == PIPE_SPL_LEN && s == PS_EXT4_TEE)
			d = tee(t[0], p[1], PIPE_SPL_LEN, 0);
	}
	if (d != PIPE_SPL_LEN) {
		cfail(&c, "%s moved %ld of %d bytes: %s", s == PS_VMSPLICE ? "vmsplice" : s == PS_EXT4_TEE ? "splice+tee" : "splice",
		      d, PIPE_SPL_LEN, d < 0 ? strerror(errno) : "short");
		goto out;
	}
	held = map != MAP_FAILED ? pipe_src_refs(map) : -1;
	if (write(p[1], wr, PIPE_WR_LEN) != PIPE_WR_LEN) {
		cfail(&c, "write of %d bytes into the pipe after the %s: %s", PIPE_WR_LEN, psrc_names[s], strerror(errno));
		goto out;
	}
	/* the source first: the write must not have reached it */
	if (s == PS_VMSPLICE) {
		if ((d = first_diff(map, src, 2 * PAGE)) >= 0)
			cfail(&c, "a write into the pipe changed the vmspliced memory at byte %ld (the pipe buffer that borrowed the page took the write)", d);
	} else if (pread(c.fd, got, 2 * PAGE, 0) != 2 * PAGE) {
		cfail(&c, "read of the %s file: %s", psrc_names[s], strerror(errno));
	} else if ((d = first_diff(got, src, 2 * PAGE)) >= 0) {
		cfail(&c, "a write into the pipe changed the %s file's cached page at byte %ld (the pipe buffer that borrowed it took the write: a stale PIPE_BUF_FLAG_CAN_MERGE, Dirty Pipe's class)",
		      psrc_names[s], d);
	} else if (s == PS_HOLE) {
		pipe_zero_page(&c);
	}
	if (c.failed[0])
		goto out;
	/* then the pipe: what went in, in order */
	if (r == PR_BEHIND) {
		memcpy(want, pre, PIPE_PRE_LEN);
		nwant = PIPE_PRE_LEN;
	}
	memcpy(want + nwant, src + PIPE_SPL_OFF, PIPE_SPL_LEN);
	memcpy(want + nwant + PIPE_SPL_LEN, wr, PIPE_WR_LEN);
	nwant += PIPE_SPL_LEN + PIPE_WR_LEN;
	if (pipe_drain(&c, p[0], got, nwant, "the pipe"))
		goto out;
	if ((d = first_diff(got, want, nwant)) >= 0)
		cfail(&c, "the pipe gave other bytes at %ld than were put in", d);
	else if (s == PS_EXT4_TEE && !pipe_drain(&c, t[0], got, PIPE_SPL_LEN, "the tee's first pipe") &&
		 (d = first_diff(got, src + PIPE_SPL_OFF, PIPE_SPL_LEN)) >= 0)
		cfail(&c, "the tee's first pipe gave other bytes at %ld than the file's", d);
	if (c.failed[0])
		goto out;
	if (s == PS_EXT4_TEE)  /* the first pipe still held its own reference until drained */
		close_pair(t);
	if (s == PS_HOLE) {  /* no page allocated: 6.12's shmem_file_splice_read() then lends the zero page */
		if (lseek(c.fd, 0, SEEK_DATA) != -1 || errno != ENXIO)
			cskip(&c, "the memfd has data after the splice (SEEK_DATA): the hole was filled, not spliced as a hole");
		goto out;
	}
	after = pipe_src_refs(map);
	printf("# %s: the source page's refcount %ld with the data in the pipe, %ld once read\n", c.name, held, after);
	if (held < 0 || after < 0)
		cskip(&c, "gup_test's page dump could not be read: no premise that the pipe held the page");
	else if (held - after < (s == PS_EXT4_TEE ? 2 : 1))  /* the tee: both pipes hold the page */
		cskip(&c, "the pipe%s held no reference to the source page (refcount %ld, then %ld): %s",
		      s == PS_EXT4_TEE ? "s" : "", held, after, s == PS_EXT4_TEE ? "the tee did not share it" : "it copied");
out:
	close_pair(p);
	close_pair(t);
	if (map != MAP_FAILED)
		munmap(map, 2 * PAGE);
	cell_file_close(&c);
	verdict(&c, began);
free:
	free(src);
	free(got);
	free(pre);
	free(wr);
	free(want);
}

/* pipe/anon-shared/<to>: the other way round, a page the pipe owns and lends. write(2) fills
 * pages the pipe allocated (anon_pipe_buf_ops); tee(2) puts a second reference to one into
 * another pipe, splice(2) into a socket hands it to an skb (MSG_SPLICE_PAGES). When the first
 * pipe lets go of its buffer, it may keep the page as its one-deep cache for the next write
 * only if nobody else holds it (fs/pipe.c anon_pipe_buf_release(): page_count() == 1); a page
 * recycled while lent takes the next write's bytes under the other holder. Each of PS_ROUNDS
 * rounds: a page of bytes written into the pipe, lent (tee into a second pipe, or spliced into
 * a unix or TCP socket nobody reads yet), the first pipe drained, a page of other bytes
 * written into it and drained; then the holder must give back the first bytes. Written after
 * reading round 5's pipe-tmp-page-recycle-shared (docs/redteam.md), for its class. */
#define PS_ROUNDS 8
enum pshare { PSH_TEE, PSH_UNIX, PSH_TCP, NPSH };
static const char *const psh_names[NPSH] = {"tee", "unix-splice", "tcp-splice"};

static void pipe_shared_cell(enum pshare how)
{
	struct cell c = {.mem = ANON, .fd = -1};
	double began = now_s();
	char first[PAGE], next[PAGE], got[PAGE];
	int p[2] = {-1, -1}, h[2] = {-1, -1};  /* h: the holder (the tee's pipe, or a socket pair) */
	long d;

	snprintf(c.name, sizeof(c.name), "pipe/anon-shared/%s", psh_names[how]);
	if (!pipe_wanted(c.name) || !begins(c.name))
		return;
	if (how == PSH_TCP && zc_pair(&c, 1, &h[0], &h[1]))  /* its receive buffer small: the lent page waits */
		goto out;
	if (pipe(p) || (how == PSH_TEE ? pipe(h) : how == PSH_UNIX ? socketpair(AF_UNIX, SOCK_STREAM, 0, h) : 0)) {
		cfail(&c, "pipe or socket pair: %s", strerror(errno));
		goto out;
	}
	int to = how == PSH_TEE ? h[1] : h[0], from = how == PSH_TEE ? h[0] : h[1];

	if (how != PSH_TEE)  /* bytes that never arrive fail the cell, not hang it */
		setsockopt(from, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){10, 0}, sizeof(struct timeval));
	for (int round = 0; round < PS_ROUNDS && !c.failed[0]; round++) {
		ssize_t r;

		fill64(first, PAGE, 100 + round);
		fill64(next, PAGE, 200 + round);
		if (write(p[1], first, PAGE) != PAGE) {
			cfail(&c, "round %d: write into the pipe: %s", round, strerror(errno));
			break;
		}
		r = how == PSH_TEE ? tee(p[0], to, PAGE, 0) : splice(p[0], NULL, to, NULL, PAGE, 0);
		if (r != PAGE) {
			cfail(&c, "round %d: %s of a page: %zd (%s)", round, psh_names[how], r, r < 0 ? strerror(errno) : "short");
			break;
		}
		if (how == PSH_TEE && pipe_drain(&c, p[0], got, PAGE, "the first pipe"))
			break;
		if (write(p[1], next, PAGE) != PAGE || pipe_drain(&c, p[0], got, PAGE, "the pipe's next page")) {
			if (!c.failed[0])
				cfail(&c, "round %d: the next write into the pipe: %s", round, strerror(errno));
			break;
		}
		if ((d = first_diff(got, next, PAGE)) >= 0) {
			cfail(&c, "round %d: the pipe gave other bytes than its next write at %ld", round, d);
			break;
		}
		for (size_t n = 0; n < PAGE; n += (size_t)r)
			if ((r = read(from, got + n, PAGE - n)) <= 0) {
				cfail(&c, "round %d: read from the %s: %s", round, psh_names[how], r < 0 ? strerror(errno) : "end");
				break;
			}
		if (!c.failed[0] && (d = first_diff(got, first, PAGE)) >= 0)
			cfail(&c, "round %d: the %s gave other bytes at %ld than the page lent to it (%s): the pipe took the"
			      " lent page back for its next write", round, psh_names[how], d,
			      first_diff(got + d, next + d, PAGE - d) == -1 ? "the next write's" : "neither");
	}
	if (!c.failed[0])
		printf("# %s: %d rounds, each lent page kept its bytes under the pipe's next write\n", c.name, PS_ROUNDS);
out:
	close_pair(p);
	close_pair(h);
	verdict(&c, began);
}

static void pipe_cells(void)
{
	for (enum psrc s = 0; s < NPSRC; s++)
		for (enum pring r = 0; r < NPRING; r++)
			pipe_cell(s, r);
	for (enum pshare how = 0; how < NPSH; how++)
		pipe_shared_cell(how);
}
