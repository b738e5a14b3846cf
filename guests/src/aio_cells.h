/* aio/...: the Linux aio ring's other paths (fs/aio.c). Part of pin_matrix.c (struct cell,
 * cfail/cskip, fill64(), first_diff(), drop_caches(); kentry_cells.h's pin_mark()/pins_back()/sg_find();
 * migrate_cells.h's aio_ring_pages(); walk_cells.h's wk_file(), wk_data()), entered by aio_cells()
 * from main.
 *
 * race/aio-ring-vs-migrate only submits buffered reads and reaps them with io_getevents(). The
 * ring is also user space's to read (struct aio_ring at the context's address: head, tail,
 * events; libaio reaps from it without a syscall) and to move (aio_ring_mremap() makes the new
 * address the context's id), and aio has requests besides reads.
 * aio/ring-mremap: 16 O_DIRECT reads of 64 KiB of the scsi_debug disk (it completes a command
 *   a jiffy later, so the reads are still in flight; an ext4 file without it) into a buffer they
 *   pin, the ring moved by mremap(MREMAP_FIXED) right after io_submit(); the events
 *   then read from the moved ring by user space (magic, nr, head, tail) must be the ones
 *   io_getevents() on the new id returns, in order, each read's bytes the file's, and the old id
 *   refused (EINVAL). Then MADV_PAGEOUT of the ring: its pages are the context's (held in
 *   ctx->ring_folios), so reclaim can at most unmap them: they stay resident (mincore) and one
 *   more read completes through the ring. Premise: reads still in flight when the ring moved
 *   (the ring's tail read right before the mremap), else SKIP.
 * aio/poll: IOCB_CMD_POLL of a pipe: not ready, no event; a write to the pipe completes it with
 *   POLLIN; a poll of a pipe already readable completes inside io_submit().
 * aio/poll-cancel: io_cancel() of a pending poll: EINPROGRESS (6.12 always delivers the
 *   completion through the ring), then exactly one event with res 0, and a second io_cancel()
 *   of the same iocb EINVAL.
 * aio/fsync: 16 pages written to an ext4 file, IOCB_CMD_FDSYNC and IOCB_CMD_FSYNC: res 0, then
 *   the file on disk (drop_caches, O_DIRECT) holds them; nr_written moved by them.
 * aio/pgetevents: io_pgetevents() with a signal mask: SIGUSR1 pending and blocked, a mask that
 *   lets it in: EINTR and the handler ran once; a mask that blocks it, an event ready: the event,
 *   no handler; after, the process's own mask is the one it had (the signal then delivered).
 * Every cell ends with io_destroy() and the FOLL_PIN counters back.
 */
#include <linux/aio_abi.h>
#include <poll.h>

#define AIO_READS 16
#define AIO_READ_LEN (64 * 1024)
#define AIO_RING_MAGIC 0xa10a10a1

struct aio_ring_user {  /* fs/aio.c struct aio_ring: not uapi, but user space's to read */
	unsigned id, nr, head, tail, magic, compat_features, incompat_features, header_length;
	struct io_event io_events[];
};

static const char *const aio_names[] = {"ring-mremap", "poll", "poll-cancel", "fsync", "pgetevents"};

static long aio_getev(aio_context_t ctx, long min, long nr, struct io_event *ev, long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	return syscall(SYS_io_getevents, ctx, min, nr, ev, &ts);
}

static int aio_submit1(aio_context_t ctx, struct iocb *cb)
{
	struct iocb *p = cb;

	return syscall(SYS_io_submit, ctx, 1, &p) == 1 ? 0 : -1;
}

static void aio_ring_mremap_cell(struct cell *c, aio_context_t *ctx)
{
	size_t len = (size_t)AIO_READS * AIO_READ_LEN, rlen = 0;
	char *buf = map_aligned(len, PAGE, MADV_NOHUGEPAGE), *want = aligned_alloc(PAGE, len), *to = NULL;
	const char *dev = sg_find();  /* scsi_debug completes after a jiffy (delay=1): reads in flight */
	void *pages[8];
	struct iocb cbs[AIO_READS + 1], *cbp[AIO_READS];
	struct io_event ev[AIO_READS + 1], seen[AIO_READS];
	struct aio_ring_user *r;
	unsigned char vec[8];
	unsigned tail0, nseen = 0;
	int dfd = -1, npages, resident = 0;
	long n;

	if (!buf || !want || (!dev[0] && wk_file(c, len + AIO_READ_LEN, 0xa10)))
		goto out;
	fill64(want, len, 0xa10);  /* the file's first len bytes, or the disk's */
	dfd = open(dev[0] ? dev : c->path, (dev[0] ? O_RDWR : O_RDONLY) | O_DIRECT);
	npages = aio_ring_pages(*ctx, pages, 8);
	if (dfd < 0 || (dev[0] && pwrite(dfd, want, len, 0) != (ssize_t)len)) {
		cfail(c, "O_DIRECT open or write of %s: %s", dev[0] ? dev : c->path, strerror(errno));
		goto out;
	}
	if (!npages) {
		cfail(c, "the aio ring is not in /proc/self/maps");
		goto out;
	}
	rlen = npages * PAGE;
	to = mmap(NULL, rlen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);  /* where the ring goes */
	memset(buf, 0, len);
	drop_caches();
	for (int i = 0; i < AIO_READS; i++) {
		cbs[i] = (struct iocb){.aio_data = 100 + i, .aio_lio_opcode = IOCB_CMD_PREAD, .aio_fildes = dfd,
				       .aio_buf = (uintptr_t)(buf + i * AIO_READ_LEN), .aio_nbytes = AIO_READ_LEN,
				       .aio_offset = (long long)i * AIO_READ_LEN};
		cbp[i] = &cbs[i];
	}
	if (syscall(SYS_io_submit, *ctx, AIO_READS, cbp) != AIO_READS) {
		cfail(c, "io_submit of %d O_DIRECT reads: %s", AIO_READS, strerror(errno));
		goto out;
	}
	tail0 = ((struct aio_ring_user *)*ctx)->tail;
	if (to == MAP_FAILED || mremap((void *)*ctx, rlen, rlen, MREMAP_MAYMOVE | MREMAP_FIXED, to) != to) {
		cfail(c, "mremap of the aio ring: %s", strerror(errno));
		aio_getev(*ctx, AIO_READS, AIO_READS, ev, 20000);
		goto out;
	}
	r = (struct aio_ring_user *)to;
	n = aio_getev(*ctx, 1, 1, ev, 0);
	if (n >= 0 || errno != EINVAL)
		cfail(c, "io_getevents on the ring's old address after mremap: %ld (%s), expected EINVAL", n, strerror(errno));
	*ctx = (aio_context_t)to;  /* the context's id is the ring's address */
	if (r->magic != AIO_RING_MAGIC || r->header_length != sizeof(*r)) {
		cfail(c, "the moved ring's magic %#x, header_length %u", r->magic, r->header_length);
		aio_getev(*ctx, AIO_READS, AIO_READS, ev, 20000);
		goto out;
	}
	for (int t = 0; t < 2000 && (r->tail + r->nr - r->head) % r->nr < AIO_READS; t++)
		usleep(10 * 1000);
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	for (unsigned h = r->head; h != r->tail && nseen < AIO_READS; h = (h + 1) % r->nr)
		seen[nseen++] = r->io_events[h];
	printf("# %s: ring tail %u right after io_submit, %u events in the moved ring\n", c->name, tail0, nseen);
	n = aio_getev(*ctx, AIO_READS, AIO_READS, ev, 20000);
	if (n != AIO_READS)
		cfail(c, "io_getevents on the moved ring: %ld of %d events (%s)", n, AIO_READS, strerror(errno));
	else if (nseen != AIO_READS)
		cfail(c, "the moved ring held %u events between head and tail, io_getevents then returned %d", nseen,
		      AIO_READS);
	for (long i = 0; !c->failed[0] && i < n; i++) {
		if (ev[i].data != seen[i].data || ev[i].res != seen[i].res || ev[i].obj != seen[i].obj)
			cfail(c, "event %ld: io_getevents says data %llu res %lld, the ring said data %llu res %lld", i,
			      (unsigned long long)ev[i].data, (long long)ev[i].res, (unsigned long long)seen[i].data,
			      (long long)seen[i].res);
		else if (ev[i].res != AIO_READ_LEN || ev[i].data < 100 || ev[i].data >= 100 + AIO_READS)
			cfail(c, "event %ld: data %llu res %lld, expected a read of %d", i, (unsigned long long)ev[i].data,
			      (long long)ev[i].res, AIO_READ_LEN);
	}
	if (!c->failed[0] && r->head != r->tail)
		cfail(c, "the ring's head %u is not its tail %u once io_getevents reaped everything", r->head, r->tail);
	wk_data(c, buf, len, want, "O_DIRECT reads completed through the moved ring");
	/* the ring's pages are the context's: reclaim can only unmap them */
	madvise(to, rlen, MADV_PAGEOUT);
	if (!mincore(to, rlen, vec))
		for (int i = 0; i < npages; i++)
			resident += vec[i] & 1;
	printf("# %s: after MADV_PAGEOUT of the ring: %d of %d page(s) resident, page 0 %s in pagemap\n", c->name,
	       resident, npages, pagemap(to) & PM_PRESENT ? "present" : "not present");
	if (resident != npages)
		cfail(c, "%d of the ring's %d pages left memory on MADV_PAGEOUT", npages - resident, npages);
	cbs[AIO_READS] = cbs[0];
	cbs[AIO_READS].aio_data = 999;
	if (aio_submit1(*ctx, &cbs[AIO_READS]) || aio_getev(*ctx, 1, 1, ev, 20000) != 1 || ev[0].data != 999 ||
	    ev[0].res != AIO_READ_LEN)
		cfail(c, "a read after MADV_PAGEOUT of the ring: %s, data %llu res %lld", strerror(errno),
		      (unsigned long long)ev[0].data, (long long)ev[0].res);
	else if (r->head != r->tail)
		cfail(c, "after MADV_PAGEOUT the ring's head %u is not its tail %u once reaped", r->head, r->tail);
	if (!c->failed[0] && tail0 >= AIO_READS)  /* a fresh context: head and tail start at 0 */
		cskip(c, "all %d reads had completed before the mremap (ring tail %u): none in flight", AIO_READS, tail0);
out:
	if (dfd >= 0)
		close(dfd);
	if (buf)
		munmap(buf, len);
	if (to && to != MAP_FAILED && (aio_context_t)to != *ctx)
		munmap(to, rlen);
	free(want);
}

/* A pipe, a poll of its read end (IOCB_CMD_POLL, POLLIN) */
static void aio_poll_cell(struct cell *c, aio_context_t ctx, int cancel)
{
	int pfd[2] = {-1, -1};
	struct iocb cb = {0}, cb2;
	struct io_event ev[2], res;
	long n;

	if (pipe(pfd)) {
		cfail(c, "pipe: %s", strerror(errno));
		return;
	}
	cb = (struct iocb){.aio_data = 7, .aio_lio_opcode = IOCB_CMD_POLL, .aio_fildes = pfd[0], .aio_buf = POLLIN};
	if (aio_submit1(ctx, &cb)) {
		cfail(c, "io_submit of IOCB_CMD_POLL: %s", strerror(errno));
		goto out;
	}
	if ((n = aio_getev(ctx, 0, 2, ev, 0)) != 0)
		cfail(c, "io_getevents: %ld event(s) of a poll of an empty pipe", n);
	if (cancel) {
		n = syscall(SYS_io_cancel, ctx, &cb, &res);
		if (n != -1 || errno != EINPROGRESS)
			cfail(c, "io_cancel of a pending poll: %ld (%s), expected EINPROGRESS", n, strerror(errno));
		n = aio_getev(ctx, 1, 2, ev, 5000);
		if (n != 1 || ev[0].data != 7 || ev[0].res != 0)
			cfail(c, "after io_cancel: %ld event(s), data %llu res %lld, expected one, data 7 res 0", n,
			      (unsigned long long)ev[0].data, (long long)ev[0].res);
		if (write(pfd[1], "x", 1) != 1 || (n = aio_getev(ctx, 0, 2, ev, 100)) != 0)
			cfail(c, "a write to the pipe after the poll was cancelled: %ld more event(s)", n);
		n = syscall(SYS_io_cancel, ctx, &cb, &res);
		if (n != -1 || errno != EINVAL)
			cfail(c, "a second io_cancel of the same poll: %ld (%s), expected EINVAL", n, strerror(errno));
		goto out;
	}
	if (write(pfd[1], "x", 1) != 1)
		cfail(c, "write to the pipe: %s", strerror(errno));
	n = aio_getev(ctx, 1, 2, ev, 5000);
	if (n != 1 || ev[0].data != 7 || !(ev[0].res & POLLIN))
		cfail(c, "poll of a pipe written to: %ld event(s), data %llu res %#llx, expected one with POLLIN", n,
		      (unsigned long long)ev[0].data, (unsigned long long)ev[0].res);
	cb2 = cb;  /* the pipe is readable now: completes inside io_submit */
	cb2.aio_data = 8;
	if (aio_submit1(ctx, &cb2) || (n = aio_getev(ctx, 0, 2, ev, 0)) != 1 || ev[0].data != 8 || !(ev[0].res & POLLIN))
		cfail(c, "poll of a readable pipe did not complete at once with POLLIN (%s)", strerror(errno));
out:
	close_pair(pfd);
}

static void aio_fsync_cell(struct cell *c, aio_context_t ctx)
{
	size_t len = 16 * PAGE;
	char *b = malloc(len), *got = NULL;
	struct iocb cb;
	struct io_event ev;
	long written, d;
	int dfd = -1;

	if (!b || wk_file(c, 0, 0))
		goto out;
	fill64(b, len, 0xf5);
	if (pwrite(c->fd, b, len, 0) != (ssize_t)len) {
		cfail(c, "pwrite: %s", strerror(errno));
		goto out;
	}
	written = vmstat("nr_written");
	for (int i = 0; i < 2; i++) {
		cb = (struct iocb){.aio_data = 50 + i, .aio_lio_opcode = i ? IOCB_CMD_FSYNC : IOCB_CMD_FDSYNC,
				   .aio_fildes = c->fd};
		if (aio_submit1(ctx, &cb) || aio_getev(ctx, 1, 1, &ev, 20000) != 1 || ev.data != 50u + i || ev.res) {
			cfail(c, "IOCB_CMD_%s: %s, event data %llu res %lld", i ? "FSYNC" : "FDSYNC", strerror(errno),
			      (unsigned long long)ev.data, (long long)ev.res);
			goto out;
		}
		if (!i && vmstat("nr_written") - written < 16)
			cfail(c, "IOCB_CMD_FDSYNC completed and nr_written moved by %ld, not the 16 dirty pages",
			      vmstat("nr_written") - written);
	}
	drop_caches();
	dfd = open(c->path, O_RDONLY | O_DIRECT);
	if (dfd < 0 || posix_memalign((void **)&got, PAGE, len) || pread(dfd, got, len, 0) != (ssize_t)len)
		cfail(c, "O_DIRECT read back: %s", strerror(errno));
	else if ((d = first_diff(got, b, len)) >= 0)
		cfail(c, "after IOCB_CMD_FSYNC the file on disk differs at byte %ld", d);
out:
	if (dfd >= 0)
		close(dfd);
	free(b);
	free(got);
}

static volatile sig_atomic_t aio_sigs;
static void aio_on_usr1(int sig) { (void)sig; aio_sigs++; }

static void aio_pgetevents_cell(struct cell *c, aio_context_t ctx)
{
	struct { const sigset_t *mask; size_t size; } let_in, keep_out;  /* struct __aio_sigset */
	sigset_t none, usr1, old, now;
	struct sigaction sa = {.sa_handler = aio_on_usr1}, oldsa;
	struct timespec ts = {1, 0};
	struct io_event ev;
	int pfd[2] = {-1, -1};
	struct iocb cb;
	long n;

	sigemptyset(&none);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	let_in.mask = &none;
	keep_out.mask = &usr1;
	let_in.size = keep_out.size = 8;  /* the kernel's sigset_t */
	aio_sigs = 0;
	sigaction(SIGUSR1, &sa, &oldsa);
	sigprocmask(SIG_BLOCK, &usr1, &old);
	raise(SIGUSR1);
	n = syscall(SYS_io_pgetevents, ctx, 1, 1, &ev, &ts, &let_in);
	if (n != -1 || errno != EINTR || aio_sigs != 1)
		cfail(c, "io_pgetevents with SIGUSR1 pending and let in by its mask: %ld (%s), handler ran %d time(s), "
		      "expected EINTR and once", n, strerror(errno), (int)aio_sigs);
	if (pipe(pfd)) {
		cfail(c, "pipe: %s", strerror(errno));
		goto out;
	}
	cb = (struct iocb){.aio_data = 9, .aio_lio_opcode = IOCB_CMD_POLL, .aio_fildes = pfd[0], .aio_buf = POLLIN};
	raise(SIGUSR1);
	if (write(pfd[1], "x", 1) != 1 || aio_submit1(ctx, &cb)) {
		cfail(c, "a ready poll: %s", strerror(errno));
		goto out;
	}
	n = syscall(SYS_io_pgetevents, ctx, 1, 1, &ev, &ts, &keep_out);
	if (n != 1 || ev.data != 9 || aio_sigs != 1)
		cfail(c, "io_pgetevents with SIGUSR1 pending and kept out by its mask: %ld (%s), data %llu, handler ran %d "
		      "time(s) in all, expected the event and 1", n, strerror(errno), (unsigned long long)ev.data,
		      (int)aio_sigs);
	sigprocmask(SIG_SETMASK, NULL, &now);
	if (!sigismember(&now, SIGUSR1))
		cfail(c, "after io_pgetevents the process's mask no longer blocks SIGUSR1");
out:
	sigprocmask(SIG_SETMASK, &old, NULL);  /* the pending SIGUSR1 is delivered here */
	if (!c->failed[0] && aio_sigs != 2)
		cfail(c, "the SIGUSR1 kept out was delivered %d time(s) once unblocked, expected 1", (int)aio_sigs - 1);
	sigaction(SIGUSR1, &oldsa, NULL);
	close_pair(pfd);
}

static void aio_run(struct cell *c, int k)
{
	aio_context_t ctx = 0;
	struct pinmark m;

	pin_mark(&m);
	if (syscall(SYS_io_setup, 32, &ctx)) {
		if (errno == ENOSYS)
			cskip(c, "no aio (io_setup: ENOSYS)");
		else
			cfail(c, "io_setup: %s", strerror(errno));
		return;
	}
	switch (k) {
	case 0: aio_ring_mremap_cell(c, &ctx); break;
	case 1: aio_poll_cell(c, ctx, 0); break;
	case 2: aio_poll_cell(c, ctx, 1); break;
	case 3: aio_fsync_cell(c, ctx); break;
	default: aio_pgetevents_cell(c, ctx); break;
	}
	if (syscall(SYS_io_destroy, ctx))
		cfail(c, "io_destroy: %s", strerror(errno));
	cell_file_close(c);
	pins_back(c, &m, "io_destroy");
}

static const struct cell_entry aio_table[] = {{"aio/", aio_run, aio_names, sizeof(aio_names) / sizeof(aio_names[0])}};

static void aio_cells(void)
{
	run_cells(aio_table, sizeof(aio_table) / sizeof(aio_table[0]), NULL, NULL);
}
