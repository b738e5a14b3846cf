/* zero/<entry>/<small|thp>: entries that pin or borrow memory a process only ever read, so that
 * its page tables map the shared zero page (small) or the huge zero folio (a THP-aligned region
 * read with use_zero_page on). FOLL_PIN takes no pin on the shared zero page and counts none
 * (mm/gup.c try_grab_folio(), gup_put_folio(): "Don't take a pin on the zero page", 6.5 on),
 * the huge zero folio is pinned like any folio; the bio code (block/bio.c bio_release_pages())
 * and the pipe (vmsplice's iter_to_pipe()) give back what GUP handed them. One page handed out
 * many times (every small page of the buffer is the same zero page) is where a count that
 * should be skipped, or skipped where it should be counted, shows. mm-selftests' cow covers the
 * zero pages under gup_test's pins; these cover the entries that pin for I/O.
 *
 * entry: dio-ext4-write and dio-blk-write (an O_DIRECT pwrite of the never-written buffer to an
 *        ext4 file and to the raw loop device: read back, zeros), vmsplice (the buffer into a
 *        pipe, read out: zeros), pvm-readv (process_vm_readv of a child's never-written buffer:
 *        zeros).
 * Checks: the bytes are zeros where they arrive; the buffer still reads zeros and every page of
 * it is still the zero page (kpageflags KPF_ZERO_PAGE: nothing may have replaced the mapping of
 * memory that was only read); the FOLL_PIN counters back. Premise: every page of the buffer is
 * the zero page before (else SKIP: use_zero_page off, or THP not available).
 * Part of pin_matrix.c (struct cell, kentry_cells.h's pin_mark()/pins_back(), dio_paths.h's
 * blk_dev, ext4_dir).
 */
#define ZC_LEN HPAGE  /* one huge zero folio, or 512 small zero pages */
#define ZC_PIPE (16 * PAGE)  /* what a default pipe holds */

enum zentry { ZE_DIO_EXT4, ZE_DIO_BLK, ZE_VMSPLICE, ZE_PVM, NZE };
static const char *const ze_names[NZE] = {"dio-ext4-write", "dio-blk-write", "vmsplice", "pvm-readv"};

static int zero_wanted(const char *name) { return block_wanted(name, NULL, 0); }

/* How many pages of [p, p+len) are not the zero page (kpageflags; unreadable counts as not) */
static long zc_not_zero(const char *p, size_t len)
{
	long n = 0;

	for (size_t off = 0; off < len; off += PAGE)
		n += !((kpageflags(p + off) >> KPF_ZERO_PAGE) & 1);
	return n;
}

/* The buffer read, never written: zero pages mapped (thp: one huge zero folio) */
static char *zc_map(int thp)
{
	char *p = map_aligned(ZC_LEN, thp ? HPAGE : PAGE, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	volatile char sink = 0;

	for (size_t off = 0; p && off < ZC_LEN; off += PAGE)
		sink += p[off];
	(void)sink;
	return p;
}

/* The entry's I/O of the buffer; where the bytes arrived, into out (ZC_LEN); 0 or why not */
static int zc_io(struct cell *c, enum zentry e, char *buf, char *out, int thp)
{
	char path[256];
	int fd, p[2];
	ssize_t r = -1;

	switch (e) {
	case ZE_DIO_EXT4:
	case ZE_DIO_BLK:
		if (e == ZE_DIO_BLK ? !blk_dev : !ext4_dir) {
			cskip(c, "no %s given", e == ZE_DIO_BLK ? "block device (-b)" : "ext4 directory (-d)");
			return -1;
		}
		snprintf(path, sizeof(path), "%s/zero.%d", ext4_dir ? ext4_dir : "", getpid());
		fd = e == ZE_DIO_BLK ? open(blk_dev, O_RDWR | O_DIRECT) : open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
		if (fd < 0) {
			cfail(c, "open with O_DIRECT: %s", strerror(errno));
			return -1;
		}
		memset(out, 0x6b, ZC_LEN);  /* the target holds other bytes first */
		if (pwrite(fd, out, ZC_LEN, 0) != (ssize_t)ZC_LEN || (r = pwrite(fd, buf, ZC_LEN, 0)) != (ssize_t)ZC_LEN ||
		    pread(fd, out, ZC_LEN, 0) != (ssize_t)ZC_LEN)
			cfail(c, "O_DIRECT write of the zero-page buffer and read back: %zd, %s", r, strerror(errno));
		close(fd);
		if (e == ZE_DIO_EXT4)
			unlink(path);
		break;
	case ZE_VMSPLICE:
		if (pipe(p)) {
			cfail(c, "pipe: %s", strerror(errno));
			return -1;
		}
		for (size_t at = 0; !c->failed[0] && at < ZC_LEN; at += ZC_PIPE) {  /* a default pipe's worth at a time */
			if ((r = vmsplice(p[1], &(struct iovec){buf + at, ZC_PIPE}, 1, 0)) != (ssize_t)ZC_PIPE)
				cfail(c, "vmsplice of the zero-page buffer at %zu: %zd (%s)", at, r, r < 0 ? strerror(errno) : "short");
			for (size_t got = 0; !c->failed[0] && got < ZC_PIPE; got += (size_t)r)
				if ((r = read(p[0], out + at + got, ZC_PIPE - got)) <= 0)
					cfail(c, "read from the pipe: %s", r < 0 ? strerror(errno) : "end of file");
		}
		close_pair(p);
		break;
	default: {
		pid_t pid;
		int up[2], go[2] = {-1, -1};
		char x;

		if (pipe(up) || pipe(go)) {
			cfail(c, "pipe: %s", strerror(errno));
			return -1;
		}
		if ((pid = cell_fork()) == 0) {  /* its own never-written buffer, at an address the parent knows */
			char *mine = zc_map(thp);

			if (!mine || write(up[1], &mine, sizeof(mine)) != sizeof(mine))
				_exit(1);
			if (read(go[0], &x, 1) < 0)
				_exit(1);
			_exit(zc_not_zero(mine, ZC_LEN) ? 2 : 0);
		}
		char *theirs = NULL;

		if (pid < 0 || read(up[0], &theirs, sizeof(theirs)) != sizeof(theirs)) {
			cfail(c, "fork or the child's address: %s", strerror(errno));
		} else if ((r = process_vm_readv(pid, &(struct iovec){out, ZC_LEN}, 1, &(struct iovec){theirs, ZC_LEN}, 1, 0)) !=
			   (ssize_t)ZC_LEN) {
			cfail(c, "process_vm_readv of the child's zero-page buffer: %zd (%s)", r, r < 0 ? strerror(errno) : "short");
		}
		if (pid > 0) {
			int st = 0;

			if (write(go[1], "x", 1) != 1 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) == 1)
				cfail(c, "the child ended with status 0x%x", st);
			else if (WEXITSTATUS(st) == 2)
				cfail(c, "after process_vm_readv the child's buffer is no longer all zero pages");
		}
		close_pair(go);
		close_pair(up);
	}
	}
	return c->failed[0] ? -1 : 0;
}

static void zero_cell(struct cell *c, enum zentry e, int thp)
{
	char *buf = zc_map(thp), *out = aligned_alloc(PAGE, ZC_LEN), *zeros = calloc(1, ZC_LEN);  /* out: O_DIRECT's */
	struct pinmark m;
	long n, first;

	if (!buf || !out || !zeros) {
		cfail(c, "out of memory");
		goto out;
	}
	if ((n = zc_not_zero(buf, ZC_LEN)) != 0) {
		cskip(c, "%ld of %zu pages of the read buffer are not the zero page (kpageflags)%s", n, ZC_LEN / PAGE,
		      thp ? ": no huge zero folio (THP or use_zero_page off?)" : "");
		goto out;
	}
	pin_mark(&m);
	if (zc_io(c, e, buf, out, thp))
		goto out;
	if ((first = first_diff(out, zeros, ZC_LEN)) >= 0)
		cfail(c, "%s of a zero-page buffer delivered a non-zero byte at %ld", ze_names[e], first);
	else if ((first = first_diff(buf, zeros, ZC_LEN)) >= 0)
		cfail(c, "after %s the buffer itself reads a non-zero byte at %ld", ze_names[e], first);
	else if ((n = zc_not_zero(buf, ZC_LEN)) != 0)
		cfail(c, "after %s %ld page(s) of the buffer, only ever read, are no longer the zero page", ze_names[e], n);
	if (!c->failed[0])
		pins_back(c, &m, ze_names[e]);
	if (!c->failed[0])
		printf("# %s: %zu bytes of %s zero page(s), zeros where they arrived, the buffer still the zero page\n",
		       c->name, ZC_LEN, thp ? "the huge" : "the shared");
out:
	if (buf)
		munmap(buf, ZC_LEN);
	free(out);
	free(zeros);
}

static void zero_cells(void)
{
	for (enum zentry e = 0; e < NZE; e++)
		for (int thp = 0; thp < 2; thp++) {
			struct cell c = {.fd = -1};
			double began = now_s();

			snprintf(c.name, sizeof(c.name), "zero/%s/%s", ze_names[e], thp ? "thp" : "small");
			if (!zero_wanted(c.name) || !begins(c.name))
				continue;
			zero_cell(&c, e, thp);
			verdict(&c, began);
		}
}
