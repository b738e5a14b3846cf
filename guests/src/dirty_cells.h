/* dirty/<fs>/<pin>/<limit>: buffered writes throttled by a tiny dirty limit against pinned
 * MAP_SHARED pages of the same file. mm/page-writeback.c's throttling (balance_dirty_pages()
 * past its free run: wb_position_ratio(), pos_ratio_polynom(), wb_dirty_limits(),
 * balance_wb_limits(), wb_min_pause(), wb_update_dirty_ratelimit(), update_dirty_limit()), the
 * knobs that set the limits (vm.dirty_bytes and dirty_background_bytes, a bdi's strict_limit,
 * max_bytes and min_bytes, laptop_mode) and the laptop-mode timer never ran in the default set:
 * no cell dirtied more than the default 20 % of memory.
 *
 * fs: ext4 (a file on -d), vfat (a file on -v), blk (DL_LEN at DL_BLK_OFF of the raw loop device
 *   -b: block/fops.c blkdev_buffered_write(), which in 6.12 goes through
 *   iomap_file_buffered_write() with IOMAP_F_BUFFER_HEAD, not blkdev_write_begin()); each
 *   DL_LEN long, written, fsynced, mapped MAP_SHARED and faulted in (file pages, pagemap).
 * pin, held across the writing, of the mapping's first FM_LEN bytes: gup-ro (gup_test's
 *   long-term pin, read-only: a writable one of such a mapping is refused, fsmap/.../refused),
 *   vmsplice (the pages' references in a pipe).
 * limit: global (vm.dirty_bytes DL_LIMIT, dirty_background_bytes DL_LIMIT / 4), strict (the
 *   fs's bdi: strict_limit 1, max_bytes DL_LIMIT, min_bytes DL_LIMIT / 4: the bdi's own dirty
 *   pages throttle), laptop (global, laptop_mode DL_LAPTOP_S and dirty_writeback_centisecs 0:
 *   no background writeback below the limits, no periodic one, which once cleaned the pages
 *   5 s on while the timer was broken, run 20261207-114804; after the writer, pages dirtied
 *   under the limits must be written back by the laptop timer alone: dl_laptop()), sync
 *   (global, and a second process loops fsync, msync and sync_file_range over the range while
 *   the writer writes).
 *
 * A child process writes the whole range DL_PASSES_MIN or more times (until DL_WRITE_S has
 * passed), each pass seed DL_SEED + pass, in odd pieces (pwrite and a 3-iovec pwritev in
 * turn, lengths not multiples of a page or a block); the parent samples the child's
 * /proc/<pid>/wchan meanwhile. Every wait is bounded: a writer not done in DL_WAIT_S (a pause
 * that never ends) is killed and the cell fails saying where it slept. Checks: never more than
 * DL_MOST pages of the range dirty at once (cachestat: the limit held); the mapping holds the
 * last pass (every byte); the pin reads it (the pinned pages are the file's); then,
 * pin held, an O_DIRECT read from an ext4 file writes seed 3 into the pinned range (a
 * short-term FOLL_WRITE pin: the other way round) and the pin and the process read that; the
 * knobs are put back (every exit path; a SIGTERM puts back what is still changed); after the
 * unpin the FOLL_PIN counters are back and no page of the range is held; fsync must leave no
 * page dirty (cachestat), then the range leaves the page cache and a buffered read gives the
 * model, every byte (fm_finish()).
 * Premises (else SKIP): the writer was seen sleeping in balance_dirty_pages (wchan, inlined
 * into balance_dirty_pages_ratelimited_flags; it sleeps only past the free run) at least once,
 * nr_dirtied moved by twice the range's pages or more (writeback cleaned pages the writer dirtied
 * again), nr_written moved; laptop: the pages written after the writer were dirty, and stayed so
 * for half the timer's delay at least (nothing else wrote them back); sync: the syncer ran 2
 * rounds or more during the writing.
 * Part of pin_matrix.c (struct cell, run_cells(), cell_knob()/knobs_back(), gup_fd,
 * cell_fork(); fsmap_cells.h struct fmap, fm_map(), fm_finish(), fm_cachestat(); kentry_cells.h
 * pin_mark()).
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#define DL_PAGES 256
#define DL_LEN (DL_PAGES * PAGE)
#define DL_BLK_OFF (FM_BLK_OFF + (512L << 10))  /* 6.5 MiB: after fsmap's, before the dio eof cells' end */
#define DL_LIMIT (256L << 10)  /* bytes: a quarter of the range */
#define DL_SEED 40
#define DL_PASSES_MIN 3
#define DL_PASSES_MAX 40
#define DL_WRITE_S 0.4
#define DL_WAIT_S 5.0  /* healthy: 16-40 passes in 0.45 s */
#define DL_LAPTOP_S 1  /* laptop_mode: seconds after the last I/O */
#define DL_LAPTOP_WAIT_S 8.0
#define DL_LAPTOP_PAGES 8  /* under dirty_background_bytes */
#define DL_MOST (2 * DL_LIMIT / PAGE)  /* pages of the range dirty at once: more, the limit did not hold */
#define DL_STR_(x) #x
#define DL_STR(x) DL_STR_(x)
#define VM_KNOB(name) "/proc/sys/vm/" name

enum dl_pin { DP_GUP_RO, DP_VMSPLICE, NDP };
static const char *const dp_names[NDP] = {"gup-ro", "vmsplice"};
enum dl_limit { DLM_GLOBAL, DLM_STRICT, DLM_LAPTOP, DLM_SYNC, NDLM };
static const char *const dlm_names[NDLM] = {"global", "strict", "laptop", "sync"};

/* What the writer and the syncer tell the parent (MAP_SHARED anonymous) */
struct dl_shared {
	volatile int passes, err, stop;
	volatile long sync_rounds;
};

/* -- the knobs: each saved before its first change (cell_knob()), put back by knobs_back() -- */

/* The vm byte limit name (dirty_bytes) set to val: when it is in use (non-zero) it is what is put
 * back, else the ratio (writing the bytes zeroes the ratio, and writing the ratio the bytes) */
static int dl_vm_limit(struct cell *c, const char *bytes, const char *ratio, long val)
{
	char v[32], was[32];

	snprintf(v, sizeof(v), "%ld", val);
	if (first_line(bytes, was, sizeof(was))) {
		cskip(c, "cannot read %s: %s", bytes, strerror(errno));
		return -1;
	}
	return cell_knob(c, bytes, v, strcmp(was, "0") ? bytes : ratio);
}

/* The limits of the cell set (the bdi's: max_bytes and min_bytes put back through the ratios
 * they set) */
static int dl_limits(struct cell *c, struct fmap *m, enum dl_limit l)
{
	char bdi[64], p[128], back[128], v[32];
	struct stat st;

	if (l != DLM_STRICT)
		return dl_vm_limit(c, VM_KNOB("dirty_bytes"), VM_KNOB("dirty_ratio"), DL_LIMIT) ||
		       dl_vm_limit(c, VM_KNOB("dirty_background_bytes"), VM_KNOB("dirty_background_ratio"), DL_LIMIT / 4) ||
		       (l == DLM_LAPTOP && (cell_knob(c, VM_KNOB("laptop_mode"), DL_STR(DL_LAPTOP_S), NULL) ||
					    cell_knob(c, VM_KNOB("dirty_writeback_centisecs"), "0", NULL)));
	if (fstat(m->fd, &st)) {
		cfail(c, "fstat: %s", strerror(errno));
		return -1;
	}
	/* the bdi of the device the pages are written to: the file's st_dev, the device's st_rdev */
	snprintf(bdi, sizeof(bdi), "/sys/class/bdi/%u:%u", major(m->fs == FM_BLK ? st.st_rdev : st.st_dev),
		 minor(m->fs == FM_BLK ? st.st_rdev : st.st_dev));
	if (access(bdi, F_OK)) {
		cskip(c, "no %s", bdi);
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		snprintf(v, sizeof(v), "%ld", i ? DL_LIMIT / 4 : DL_LIMIT);
		snprintf(p, sizeof(p), "%s/%s_bytes", bdi, i ? "min" : "max");
		snprintf(back, sizeof(back), "%s/%s_ratio_fine", bdi, i ? "min" : "max");
		if (cell_knob(c, p, v, back))
			return -1;
	}
	snprintf(p, sizeof(p), "%s/strict_limit", bdi);
	return cell_knob(c, p, "1", NULL);
}

/* KEY's value in the debugfs stats of m's bdi (mm/backing-dev.c bdi_debug_stats_show()), -1 */
static long dl_bdi_stat(struct fmap *m, const char *key)
{
	char p[96], line[128];
	struct stat st;
	long v = -1, got;
	FILE *f;

	if (fstat(m->fd, &st))
		return -1;
	snprintf(p, sizeof(p), "/sys/kernel/debug/bdi/%u:%u/stats", major(m->fs == FM_BLK ? st.st_rdev : st.st_dev),
		 minor(m->fs == FM_BLK ? st.st_rdev : st.st_dev));
	if (!(f = fopen(p, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && sscanf(line + strlen(key), "%ld", &got) == 1)
			v = got;
	fclose(f);
	return v;
}

/* -- the writer and the syncer ------------------------------------------------------------- */

/* odd pieces: none a multiple of 512 */
static const size_t dl_pieces[] = {4093, 517, 12289, 1, 3001, 8199, 700, 20003, 2047, 65537};

/* One pass: the whole range, seed DL_SEED + pass, in pieces starting at a different one each
 * pass; every other piece through pwritev with three iovecs */
static int dl_pass(struct fmap *m, char *src, int pass)
{
	size_t o = 0, k = (size_t)pass;

	fill64(src, DL_LEN, DL_SEED + pass);
	while (o < DL_LEN) {
		size_t n = dl_pieces[k % (sizeof(dl_pieces) / sizeof(dl_pieces[0]))];
		ssize_t w;

		n = n > DL_LEN - o ? DL_LEN - o : n;
		if (k++ & 1) {
			struct iovec iov[3] = {{src + o, n / 3}, {src + o + n / 3, n / 3}, {src + o + 2 * (n / 3), n - 2 * (n / 3)}};

			w = pwritev(m->fd, iov, 3, m->off + (off_t)o);
		} else {
			w = pwrite(m->fd, src + o, n, m->off + (off_t)o);
		}
		if (w <= 0)
			return -1;
		o += (size_t)w;  /* a short write goes on where it stopped */
	}
	return 0;
}

static void dl_writer(struct fmap *m, struct dl_shared *sh)
{
	char *src = malloc(DL_LEN);
	double t0 = now_s();

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!src)
		_exit(2);
	for (int p = 0; p < DL_PASSES_MAX && (p < DL_PASSES_MIN || now_s() - t0 < DL_WRITE_S); p++) {
		if (dl_pass(m, src, p)) {
			sh->err = errno;
			_exit(1);
		}
		sh->passes = p + 1;
	}
	_exit(0);
}

static void dl_syncer(struct fmap *m, struct dl_shared *sh)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	while (!sh->stop) {
		if (fsync(m->fd) || msync(m->map, m->len, MS_SYNC) ||
		    sync_file_range(m->fd, m->off, (off_t)m->len, SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER)) {
			sh->err = errno;
			_exit(1);
		}
		sh->sync_rounds++;
	}
	_exit(0);
}

/* The child's status within secs (looked for once at least: secs 0 takes a child that has just
 * ended), else SIGKILL and -1 (the child's wchan in where) */
static int dl_reap(pid_t pid, double secs, int *st, char *where, size_t n)
{
	char p[64];

	for (double t0 = now_s();; usleep(2000)) {
		if (waitpid(pid, st, WNOHANG) == pid)
			return 0;
		if (now_s() - t0 >= secs)
			break;
	}
	snprintf(p, sizeof(p), "/proc/%d/wchan", pid);
	if (first_line(p, where, n))
		snprintf(where, n, "?");
	kill(pid, SIGKILL);
	for (double t0 = now_s(); now_s() - t0 < 5 && waitpid(pid, st, WNOHANG) != pid;)
		usleep(10000);
	return -1;
}

/* -- the cell ---------------------------------------------------------------------------- */

static int dl_open(struct cell *c, struct fmap *m, enum fm_fs fs)
{
	const char *dir = fs == FM_VFAT ? vfat_dir : ext4_dir;

	*m = (struct fmap){.fs = fs, .fd = -1, .src = -1, .len = DL_LEN};
	if (fs == FM_BLK ? !blk_dev : !dir) {
		cskip(c, "no %s given (%s)", fs == FM_BLK ? "raw block device" : fm_names[fs],
		      fs == FM_BLK ? "-b" : fs == FM_VFAT ? "-v" : "-d");
		return -1;
	}
	if (!ext4_dir) {
		cskip(c, "no ext4 directory given (-d): the O_DIRECT source");
		return -1;
	}
	if (posix_memalign((void **)&m->exp, PAGE, DL_LEN) || posix_memalign((void **)&m->buf, PAGE, DL_LEN)) {
		cfail(c, "out of memory");
		return -1;
	}
	if (fs == FM_BLK)
		snprintf(m->path, sizeof(m->path), "%s", blk_dev);
	else
		snprintf(m->path, sizeof(m->path), "%s/dirty.%d", dir, getpid());
	m->off = fs == FM_BLK ? DL_BLK_OFF : 0;
	m->fd = open(m->path, O_RDWR | (fs == FM_BLK ? 0 : O_CREAT | O_TRUNC), 0600);
	fill64(m->exp, DL_LEN, 1);
	/* a file's page past the range: what dl_laptop() reads to arm the timer (the device has one) */
	if (m->fd < 0 || pwrite(m->fd, m->exp, DL_LEN, m->off) != DL_LEN ||
	    (fs != FM_BLK && pwrite(m->fd, m->exp, PAGE, DL_LEN) != PAGE) || fsync(m->fd)) {
		cfail(c, "cannot write %s: %s", m->path, strerror(errno));
		return -1;
	}
	/* the O_DIRECT source of the pinned range's last write: seed 3 */
	snprintf(m->srcpath, sizeof(m->srcpath), "%s/dirty-src.%d", ext4_dir, getpid());
	m->src = open(m->srcpath, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
	fill64(m->buf, FM_LEN, 3);
	if (m->src < 0 || pwrite(m->src, m->buf, FM_LEN, 0) != FM_LEN) {
		cfail(c, "cannot write the O_DIRECT source %s: %s", m->srcpath, strerror(errno));
		return -1;
	}
	return fm_map(c, m, 0);
}

/* What the pin reads of the first FM_LEN bytes, into m->buf; 0 or the cell failed */
static int dl_pin_read(struct cell *c, enum dl_pin p, int fds[2], struct fmap *m)
{
	uint64_t to = (uintptr_t)m->buf;
	ssize_t r;

	if (p == DP_GUP_RO) {
		if (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &to)) {
			cfail(c, "PIN_LONGTERM_TEST_READ: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	/* the pipe's buffers are the pages: a peek by tee would copy nothing, so read once, at the end */
	if ((r = read(fds[0], m->buf, FM_LEN)) != FM_LEN) {
		cfail(c, "reading the pipe: %zd (%s)", r, strerror(errno));
		return -1;
	}
	return 0;
}

/* The writer (and the syncer) run to the end, DL_WAIT_S at most, the writer's wchan sampled
 * every millisecond meanwhile; 0, or the cell failed */
static int dl_run(struct cell *c, struct fmap *m, enum dl_limit l, struct dl_shared *sh, int *samples, int *paused,
		  long *most)
{
	long dirty;
	pid_t writer, syncer = 0;
	int wst = 0, sst = 0, done = 0;
	char path[64], wchan[80], where[80];
	double t0 = now_s();

	if ((writer = cell_fork()) == 0)
		dl_writer(m, sh);
	if (writer > 0 && l == DLM_SYNC && (syncer = cell_fork()) == 0)
		dl_syncer(m, sh);
	if (writer < 0 || syncer < 0) {
		cfail(c, "fork: %s", strerror(errno));
		sh->stop = 1;
		if (writer > 0)
			dl_reap(writer, DL_WAIT_S, &wst, where, sizeof(where));
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%d/wchan", writer);
	for (; now_s() - t0 < DL_WAIT_S; usleep(1000)) {
		if (waitpid(writer, &wst, WNOHANG) == writer) {
			done = 1;
			break;
		}
		if (fm_cachestat(m->fd, m->off, DL_LEN, &dirty) >= 0 && dirty > *most)
			*most = dirty;
		if (first_line(path, wchan, sizeof(wchan)))
			continue;
		(*samples)++;
		*paused += !!strstr(wchan, "balance_dirty_pages");
	}
	printf("# %s: %d pass(es) of %d KiB in %.2f s, the writer asleep in balance_dirty_pages in %d of %d wchan"
	       " sample(s), at most %ld page(s) of the range dirty (limit %ld)\n", c->name, sh->passes,
	       (int)(DL_LEN >> 10), now_s() - t0, *paused, *samples, *most, DL_LIMIT / PAGE);
	sh->stop = 1;
	if (!done && dl_reap(writer, 0, &wst, where, sizeof(where)) < 0)
		cfail(c, "the writer did not finish %d pass(es) of %d KiB in %.0f s (%d done): killed while asleep in %s"
		      " (%d of %d samples in balance_dirty_pages: a throttled writer never woken?)", DL_PASSES_MIN,
		      (int)(DL_LEN >> 10), DL_WAIT_S, sh->passes, where, *paused, *samples);
	else if (!WIFEXITED(wst) || WEXITSTATUS(wst) || sh->passes < DL_PASSES_MIN)
		cfail(c, "the writer failed after %d pass(es): status 0x%x (%s)", sh->passes, wst, strerror(sh->err));
	if (syncer > 0 && dl_reap(syncer, DL_WAIT_S, &sst, where, sizeof(where)) < 0)
		cfail(c, "the syncer (fsync, msync, sync_file_range) did not stop within %.0f s: asleep in %s", DL_WAIT_S,
		      where);
	else if (syncer > 0 && (!WIFEXITED(sst) || WEXITSTATUS(sst)))
		cfail(c, "the syncer failed: status 0x%x (%s)", sst, strerror(sh->err));
	if (syncer > 0)
		printf("# %s: %ld fsync+msync+sync_file_range round(s) during the writing\n", c->name, sh->sync_rounds);
	return c->failed[0] ? -1 : 0;
}

/* Laptop mode: below the limits nothing writes back but laptop mode's timer, pushed to
 * laptop_mode (1 s) after each request of the bdi ends (blk_mq_free_request() ->
 * laptop_io_completion()). Once sync(2) has written everything back (the background writeback
 * the writer started would clean pages dirtied meanwhile: run 20261207-071321), the process dirties
 * DL_LAPTOP_PAGES pages again (the writer's data: the model holds), under the background limit,
 * then reads the page past the range from the disk: that read's request arms the timer after the
 * pages were dirtied. The timer must leave no
 * page of the range dirty within DL_LAPTOP_WAIT_S, else the cell fails. The seconds it took, or
 * -1: failed, or the premise did not hold (why in why: no page dirty after the write, or clean
 * sooner than half the timer's delay, so not the timer's doing). */
static double dl_laptop(struct cell *c, struct fmap *m, char *why, size_t n)
{
	off_t past = m->off + DL_LEN;
	double t1, took = -1;
	long dirty = -1, n_cached;

	/* all written and waited for, and the timers the writer's I/O armed deleted
	 * (laptop_sync_completion()): else one could fire, or its flush still run, just after the
	 * write below (run 20261207-115524) */
	sync();
	if (fm_cachestat(m->fd, m->off, DL_LEN, &dirty) < 0 || dirty) {
		cfail(c, "sync(2) left %ld page(s) of the range dirty", dirty);
		return -1;
	}
	if (pwrite(m->fd, m->exp + FM_LEN, DL_LAPTOP_PAGES * PAGE, m->off + FM_LEN) != DL_LAPTOP_PAGES * PAGE) {
		cfail(c, "pwrite of %d page(s) after the writer: %s", DL_LAPTOP_PAGES, strerror(errno));
		return -1;
	}
	if (fm_cachestat(m->fd, m->off, DL_LEN, &dirty) < 0 || dirty < DL_LAPTOP_PAGES) {
		snprintf(why, n, "%ld page(s) of the range dirty after a write of %d in laptop mode", dirty, DL_LAPTOP_PAGES);
		return -1;
	}
	/* a read request of the bdi after the write: the page past the range (not mapped) out of the
	 * page cache, then read. No pin: an O_DIRECT read of vfat (fs/direct-io.c) would leave the
	 * FOLL_PIN counters unbalanced (folio_add_pin() counts nothing, run 20261207-113511) */
	posix_fadvise(m->fd, past, PAGE, POSIX_FADV_DONTNEED);
	if ((n_cached = fm_cached(m->fd, past, PAGE))) {
		snprintf(why, n, "the page past the range stayed cached (cachestat %ld): no read to arm laptop mode's timer",
			 n_cached);
		return -1;
	}
	if (pread(m->fd, m->buf, PAGE, past) != PAGE) {
		cfail(c, "reading the page past the range: %s", strerror(errno));
		return -1;
	}
	t1 = now_s();
	for (; now_s() - t1 < DL_LAPTOP_WAIT_S; usleep(20000))
		if (fm_cachestat(m->fd, m->off, DL_LEN, &dirty) >= 0 && !dirty) {
			took = now_s() - t1;
			break;
		}
	printf("# %s: %ld page(s) dirty %.2f s after a write of %d page(s) under the background limit and a read"
	       " (laptop mode's timer: %d s)\n", c->name, dirty, took < 0 ? DL_LAPTOP_WAIT_S : took, DL_LAPTOP_PAGES,
	       DL_LAPTOP_S);
	if (took < 0)
		cfail(c, "%ld page(s) of the range still dirty %.0f s after a write under the background limit in laptop mode"
		      " (laptop_mode %d s, the timer armed by a read of the bdi): laptop mode's timer wrote"
		      " nothing back", dirty, DL_LAPTOP_WAIT_S, DL_LAPTOP_S);
	else if (took < DL_LAPTOP_S / 2.0)
		snprintf(why, n, "the %d page(s) written in laptop mode were clean %.2f s later, before its timer (%d s) could"
			 " fire", DL_LAPTOP_PAGES, took, DL_LAPTOP_S);
	return took;
}

static void dl_cell(struct cell *c, enum fm_fs fs, enum dl_pin p, enum dl_limit l)
{
	struct fmap m;
	struct pinmark pm;
	struct dl_shared *sh = MAP_FAILED;
	int fds[2] = {-1, -1}, pinned = 0, samples = 0, paused = 0;
	long d0 = 0, w0 = 0, dd = 0, dw = 0, d, dirty = -1, most = 0;
	char laptop_why[160] = "";
	unsigned mark = knob_mark();

	if (p == DP_GUP_RO && gup_fd < 0) {
		cskip(c, "no /sys/kernel/debug/gup_test");
		return;
	}
	if (dl_open(c, &m, fs))
		goto out;
	sh = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		cfail(c, "mmap: %s", strerror(errno));
		goto out;
	}
	pin_mark(&pm);
	if (fm_pin_hold(c, &m, p == DP_GUP_RO, FM_LEN, fds, &pinned))
		goto unpin;
	if (dl_limits(c, &m, l))
		goto unpin;
	d0 = vmstat("nr_dirtied");
	w0 = vmstat("nr_written");
	if (dl_run(c, &m, l, sh, &samples, &paused, &most))
		goto unpin;
	dd = vmstat("nr_dirtied") - d0;
	dw = vmstat("nr_written") - w0;
	printf("# %s: nr_dirtied +%ld, nr_written +%ld, the bdi's dirty threshold %ld kB of %ld kB (debugfs)\n",
	       c->name, dd, dw, dl_bdi_stat(&m, "BdiDirtyThresh:"), dl_bdi_stat(&m, "DirtyThresh:"));
	fill64(m.exp, DL_LEN, DL_SEED + sh->passes - 1);
	if (most > DL_MOST) {
		cfail(c, "the dirty limit did not hold: %ld page(s) of the range dirty at once (cachestat), limit %ld; the"
		      " writer asleep in balance_dirty_pages in %d of %d samples", most, DL_LIMIT / PAGE, paused, samples);
		goto unpin;
	}
	if ((d = first_diff(m.map, m.exp, DL_LEN)) >= 0) {
		cfail(c, "the mapping reads other data than the writer's last pass at byte %ld (page %ld)", d, d / (long)PAGE);
		goto unpin;
	}
	if (l == DLM_LAPTOP && dl_laptop(c, &m, laptop_why, sizeof(laptop_why)) < 0 && c->failed[0])
		goto unpin;
	/* the other way round: a short-term FOLL_WRITE pin (O_DIRECT read) into the pinned range */
	if (pread(m.src, m.map, FM_LEN, 0) != FM_LEN) {
		cfail(c, "O_DIRECT read into the pinned range of the mapping: %s", strerror(errno));
		goto unpin;
	}
	fill64(m.exp, FM_LEN, 3);
	if ((d = first_diff(m.map, m.exp, DL_LEN)) >= 0)
		cfail(c, "the process does not read what O_DIRECT wrote into its mapping (byte %ld)", d);
	else if (!dl_pin_read(c, p, fds, &m) && (d = first_diff(m.buf, m.exp, FM_LEN)) >= 0)
		cfail(c, "the %s reads other data than the process's mapping at byte %ld after the throttled writes and the"
		      " O_DIRECT read: the pinned page is no longer the file's", dp_names[p], d);
unpin:
	if (pinned && ioctl(gup_fd, PIN_LONGTERM_TEST_STOP))
		cfail(c, "PIN_LONGTERM_TEST_STOP: %s", strerror(errno));
	close_pair(fds);
	knobs_back(c, mark);  /* the writeback below at the usual limits */
	if (c->failed[0] || c->skip[0])
		goto out;
	/* written back, nothing may stay dirty (a folio whose dirtying was lost stays out of writeback) */
	if (msync(m.map, DL_LEN, MS_SYNC) || fsync(m.fd))
		cfail(c, "msync/fsync: %s", strerror(errno));
	else if (fm_cachestat(m.fd, m.off, DL_LEN, &dirty) > 0 && dirty > 0)
		cfail(c, "%ld page(s) of the range still dirty after msync and fsync", dirty);
	else
		fm_finish(c, &m, &pm, "the unpin");
	/* the premises */
	if (c->failed[0])
		goto out;
	if (!paused)
		cskip(c, "the writer was never seen asleep in balance_dirty_pages (%d wchan samples)", samples);
	else if (dd < 2L * DL_PAGES || dw <= 0)
		cskip(c, "nr_dirtied moved by %ld (not twice the range's %d pages: writeback cleaned none for the writer"
		      " to dirty again), nr_written by %ld", dd, DL_PAGES, dw);
	else if (laptop_why[0])
		cskip(c, "%s", laptop_why);
	else if (l == DLM_SYNC && sh->sync_rounds < 2)
		cskip(c, "the syncer ran %ld round(s) during the writing", sh->sync_rounds);
out:
	knobs_back(c, mark);
	if (sh != MAP_FAILED)
		munmap(sh, PAGE);
	fm_close(&m);
}

#define DL_CELLS(fs, f)                                                                                    \
	static void dl_##f##_gup(struct cell *c, int k) { dl_cell(c, fs, DP_GUP_RO, (enum dl_limit)k); }       \
	static void dl_##f##_splice(struct cell *c, int k) { dl_cell(c, fs, DP_VMSPLICE, (enum dl_limit)k); }
DL_CELLS(FM_EXT4, ext4)
DL_CELLS(FM_VFAT, vfat)
DL_CELLS(FM_BLK, blk)

/* The default set's (the rest: QUICK=0) */
static const char *const dl_quick[] = {
	"dirty/ext4/gup-ro/global", "dirty/ext4/vmsplice/sync", "dirty/vfat/gup-ro/strict", "dirty/vfat/vmsplice/global",
	"dirty/vfat/gup-ro/laptop", "dirty/blk/gup-ro/global", "dirty/blk/gup-ro/strict",  "dirty/blk/vmsplice/sync"};
#define DL_QUICK dl_quick, sizeof(dl_quick) / sizeof(dl_quick[0])

static const struct cell_entry dl_table[] = {
	{"dirty/ext4/gup-ro/", dl_ext4_gup, dlm_names, NDLM, DL_QUICK},
	{"dirty/ext4/vmsplice/", dl_ext4_splice, dlm_names, NDLM, DL_QUICK},
	{"dirty/vfat/gup-ro/", dl_vfat_gup, dlm_names, NDLM, DL_QUICK},
	{"dirty/vfat/vmsplice/", dl_vfat_splice, dlm_names, NDLM, DL_QUICK},
	{"dirty/blk/gup-ro/", dl_blk_gup, dlm_names, NDLM, DL_QUICK},
	{"dirty/blk/vmsplice/", dl_blk_splice, dlm_names, NDLM, DL_QUICK}};

static void dirty_cells(void)
{
	run_cells(dl_table, sizeof(dl_table) / sizeof(dl_table[0]), NULL, NULL);
}
