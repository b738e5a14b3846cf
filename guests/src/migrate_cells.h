/* migrate/<entry>/<memory>/<shape>: the ways a process asks mm to move its pages between NUMA
 * nodes, on their success, refusal and error paths (issue 20; after round 4 of docs/redteam.md,
 * whose mbind bug no cell reached: nothing called mbind() or migrate_pages() before).
 * Every entry isolates the folios it will move (takes them off the LRU with a reference of
 * its own: mm/mempolicy.c migrate_folio_add(), mm/migrate.c add_folio_for_migration()), calls
 * migrate_pages(), and must put back what did not move (putback_movable_pages()), also when it
 * fails part way. A folio left isolated is never freed and never moves again.
 *
 * Entries: move-pages (move_pages(2), one node per page), mbind (mbind(2) MPOL_BIND with
 * MPOL_MF_MOVE), mbind-strict (and MPOL_MF_STRICT: a page that did not move makes it EIO),
 * migrate-pages (migrate_pages(2): every page of the process on one node to the other).
 * Memory: private anonymous, THP, shmem (a memfd) and ext4, both MAP_SHARED, MG_PAGES pages
 * (THP: one 2 MiB page). Shapes:
 *   all          every page asked to move: the success path;
 *   hole         the range is two VMAs (the second half made read-only) and an unmapped page
 *                after them: mbind() walks and isolates the first VMA, then fails with EFAULT
 *                at the hole (mm/mempolicy.c queue_pages_test_walk()); move_pages() gets the
 *                hole's address among the others (its status must say -EFAULT);
 *   pinned-half  the first half held by a long-term pin (pin_start()'s gup-slow: read-only for
 *                ext4, which refuses writable long-term pins) while the whole range is
 *                asked to move: the pinned folios cannot move (their references are more than
 *                their mappings explain) and must be put back; the pin must still see the
 *                process's memory (written after the call, read through the pin).
 * Checks, after the pin is dropped: the bytes are what the process wrote (and the file's, read
 * with pread), every page can move again (pages_held(): an isolated or still pinned page
 * cannot), nr_isolated_anon + nr_isolated_file in /proc/vmstat back to their start, and the
 * FOLL_PIN counters back to theirs. Premises, else SKIP: two NUMA nodes; `all` moved a page;
 * `hole` met the hole (mbind: EFAULT; move_pages: the hole's status -EFAULT); `pinned-half`
 * left a pinned page where it was.
 * Part of pin_matrix.c (struct cell, verdict(), fill64(), pin_read(), pages_held()).
 */
#ifndef MPOL_BIND
#define MPOL_BIND 2
#define MPOL_MF_STRICT (1 << 0)
#define MPOL_MF_MOVE (1 << 1)
#endif
#define MG_PAGES 16
#define MG_MAXNODE 64  /* bits of the node masks passed */

enum mg_entry { MG_MOVE_PAGES, MG_MBIND, MG_MBIND_STRICT, MG_MIGRATE_PAGES, NMG };
static const char *const mg_entry_names[NMG] = {"move-pages", "mbind", "mbind-strict", "migrate-pages"};
enum mg_mem { MGM_ANON, MGM_THP, MGM_SHMEM, MGM_EXT4, NMGM };
static const char *const mg_mem_names[NMGM] = {"anon", "thp", "shmem", "ext4-shared"};
enum mg_shape { MGS_ALL, MGS_HOLE, MGS_PINNED, NMGS };
static const char *const mg_shape_names[NMGS] = {"all", "hole", "pinned-half"};

/* All of them in the default set: each a few milliseconds but the pinned ones (migration
 * retries a pinned folio ten times before it gives up: mm/migrate.c NR_MAX_MIGRATE_PAGES_RETRY). */
static int mg_wanted(const char *name) { return block_wanted(name, NULL, 0); }

static int mg_applies(enum mg_entry e, enum mg_shape s)
{
	/* migrate_pages(2) takes no range: a hole means nothing to it; mbind-strict differs from
	 * mbind only where a page does not move */
	return !((e == MG_MIGRATE_PAGES && s == MGS_HOLE) || (e == MG_MBIND_STRICT && s == MGS_ALL));
}

static long mg_isolated(void) { return vmstat("nr_isolated_anon") + vmstat("nr_isolated_file"); }

/* Each page's node (move_pages with no target), n pages from p; 0 or -1. */
static int mg_nodes(char *p, long n, int *node)
{
	void *pages[MG_PAGES * 32];

	for (long i = 0; i < n; i++)
		pages[i] = p + i * PAGE;
	return syscall(SYS_move_pages, 0, n, pages, NULL, node, 0) ? -1 : 0;
}

/* The entry's call: ask every page of [p, p + len) (and the hole after it) to go to node to.
 * Returns the call's result (-errno on failure); *hole_status: move_pages' status of the hole. */
static long mg_call(enum mg_entry e, char *p, size_t len, int hole, int from, int to, int *hole_status)
{
	unsigned long mask = 1UL << to, old = 1UL << from;
	long n = (long)(len / PAGE) + hole, r;
	void *pages[MG_PAGES * 32 + 1];
	int nodes[MG_PAGES * 32 + 1], status[MG_PAGES * 32 + 1];

	switch (e) {
	case MG_MOVE_PAGES:
		for (long i = 0; i < n; i++) {
			pages[i] = p + i * PAGE;
			nodes[i] = to;
			status[i] = 1;
		}
		r = syscall(SYS_move_pages, 0, n, pages, nodes, status, MPOL_MF_MOVE);
		*hole_status = hole ? status[n - 1] : 0;
		break;
	case MG_MBIND:
	case MG_MBIND_STRICT:
		r = syscall(SYS_mbind, p, len + (hole ? PAGE : 0), MPOL_BIND, &mask, MG_MAXNODE,
			    MPOL_MF_MOVE | (e == MG_MBIND_STRICT ? MPOL_MF_STRICT : 0));
		break;
	default:
		r = syscall(SYS_migrate_pages, 0, MG_MAXNODE, &old, &mask);
		break;
	}
	return r < 0 ? -errno : r;
}

/* nr_isolated back to at most its start value, polled up to a second (kswapd and compaction
 * isolate for a moment on their own); the value seen last. */
static long mg_isolated_settle(long start)
{
	long now = mg_isolated();

	for (int i = 0; i < 20 && now > start; i++) {
		usleep(50 * 1000);
		now = mg_isolated();
	}
	return now;
}

static void mg_cell(enum mg_entry e, enum mg_mem m, enum mg_shape s)
{
	struct cell c = {.mem = m == MGM_EXT4 ? FILESH : ANON, .fd = -1};
	double began = now_s();
	size_t len = m == MGM_THP ? HPAGE : MG_PAGES * PAGE;
	long n = (long)(len / PAGE), iso0 = -1, p0, r = 0, held, first, moved = 0, stayed = 0;
	char *map = NULL, *want = malloc(len), *got = malloc(len), why[200];
	int *was = calloc(n, sizeof(int)), *now = calloc(n, sizeof(int)), pinned = 0, hole_status = 0;
	int from, to;

	snprintf(c.name, sizeof(c.name), "migrate/%s/%s/%s", mg_entry_names[e], mg_mem_names[m], mg_shape_names[s]);
	if (!mg_wanted(c.name) || !begins(c.name))
		goto free;
	p0 = pins_outstanding();
	if (!want || !got || !was || !now) {
		cfail(&c, "out of memory");
		goto out;
	}
	if (numa_nodes() < 2) {
		cskip(&c, "one NUMA node: nowhere to move (numa=fake=2)");
		goto out;
	}
	if (s == MGS_PINNED && gup_fd < 0) {
		cskip(&c, "no /sys/kernel/debug/gup_test: no long-term pin to hold");
		goto out;
	}
	if (m == MGM_SHMEM || m == MGM_EXT4) {
		if (!(map = shared_file(&c, m == MGM_EXT4, "migrate", len + PAGE)))
			goto out;
	} else if (!(map = map_aligned(len + PAGE, m == MGM_THP ? HPAGE : PAGE, m == MGM_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))) {
		cfail(&c, "cannot map the buffer: %s", strerror(errno));
		goto out;
	}
	fill64(map, len, 41);
	memcpy(want, map, len);
	if (m == MGM_THP && !is_thp(map)) {
		cskip(&c, "no THP behind the buffer (kpageflags)");
		goto out;
	}
	munmap(map + len, PAGE);  /* the page after the buffer: unmapped in every shape */
	if (mg_nodes(map, n, was)) {
		cfail(&c, "move_pages (query): %s", strerror(errno));
		goto out;
	}
	from = was[0] < 0 ? 0 : was[0];
	to = (from + 1) % numa_nodes();
	if (s == MGS_HOLE && mprotect(map + len / 2, len / 2, PROT_READ)) {  /* two VMAs, then the hole */
		cfail(&c, "mprotect: %s", strerror(errno));
		goto out;
	}
	iso0 = mg_isolated();
	if (s == MGS_PINNED) {
		if (pin_start(&c, GUP_SLOW, map, len / 2))  /* ext4 (c.mem FILESH): read-only */
			goto out;
		pinned = 1;
		if (mg_nodes(map, n, was)) {  /* a long-term pin moves pages out of ZONE_MOVABLE first */
			cfail(&c, "move_pages (query): %s", strerror(errno));
			goto out;
		}
	}
	r = mg_call(e, map, len, s == MGS_HOLE, from, to, &hole_status);
	if (mg_nodes(map, n, now)) {
		cfail(&c, "move_pages (query after): %s", strerror(errno));
		goto out;
	}
	for (long i = 0; i < n; i++) {
		moved += now[i] >= 0 && now[i] != was[i];
		stayed += i < n / 2 && now[i] >= 0 && now[i] == was[i];
	}
	if (pinned) {
		/* the process writes after the call; the pin must read the same bytes */
		fill64(map, len / 2, 42);
		memcpy(want, map, len / 2);
		c.half = len / 2;
		if (!pin_read(&c, GUP_SLOW, map, got) && (first = first_diff(got, want, len / 2)) >= 0)
			cfail(&c, "after %s the pin reads other bytes than the process wrote at byte %ld (a pinned page moved away from the pin)",
			      mg_entry_names[e], first);
		pin_stop(&c, GUP_SLOW);
		pinned = 0;
	}
	if (c.failed[0])
		goto out;
	if ((first = first_diff(map, want, len)) >= 0) {
		cfail(&c, "after %s (returned %ld) the process reads other bytes at byte %ld", mg_entry_names[e], r, first);
		goto out;
	}
	if (c.fd >= 0 && pread(c.fd, got, len, 0) != (ssize_t)len) {
		cfail(&c, "after %s a pread of the file: %s", mg_entry_names[e], strerror(errno));
		goto out;
	}
	if (c.fd >= 0 && (first = first_diff(got, want, len)) >= 0) {
		cfail(&c, "after %s the file reads other bytes than its mapping at byte %ld", mg_entry_names[e], first);
		goto out;
	}
	held = pages_held(map, len, 1000, &first, why, sizeof(why));
	if (held < 0) {
		cskip(&c, "no page-reference check: %s", why);
		goto out;
	}
	if (held > 0) {
		cfail(&c, "%ld of %ld page(s) cannot move after %s returned %ld (first: page %ld): held by a reference nobody owns (left isolated, or pinned)",
		      held, n, mg_entry_names[e], r, first);
		goto out;
	}
	if (iso0 >= 0 && (held = mg_isolated_settle(iso0)) > iso0) {
		cfail(&c, "nr_isolated_anon + nr_isolated_file %ld -> %ld after %s returned %ld: pages left off the LRU",
		      iso0, held, mg_entry_names[e], r);
		goto out;
	}
	if (s == MGS_ALL && !moved)
		cskip(&c, "%s moved no page (returned %ld)", mg_entry_names[e], r);
	else if (s == MGS_HOLE && e == MG_MOVE_PAGES && hole_status != -EFAULT)
		cskip(&c, "move_pages gave the hole status %d, not -EFAULT: its error path not reached", hole_status);
	else if (s == MGS_HOLE && e != MG_MOVE_PAGES && r != -EFAULT)
		cskip(&c, "%s over a hole returned %ld, not -EFAULT: its error path not reached", mg_entry_names[e], r);
	else if (s == MGS_PINNED && !stayed)
		cskip(&c, "every pinned page moved or none was present: no refusal to put back");
	printf("# %s: returned %ld, %ld of %ld page(s) moved from node %d to %d%s\n", c.name, r, moved, n, from, to,
	       s == MGS_PINNED ? " (the pinned half stays)" : "");
out:
	if (pinned)
		pin_stop(&c, GUP_SLOW);
	cell_finish(&c, map, len, p0, began);
free:
	free(want);
	free(got);
	free(was);
	free(now);
}

static void migrate_cells(void)
{
	for (enum mg_entry e = 0; e < NMG; e++)
		for (enum mg_mem m = 0; m < NMGM; m++)
			for (enum mg_shape s = 0; s < NMGS; s++)
				if (mg_applies(e, s))
					mg_cell(e, m, s);
}

/* race/aio-ring-vs-migrate: pages the kernel writes into on a process's behalf, moved while it
 * writes. An aio context's completion ring lives in the process's address space (fs/aio.c
 * aio_setup_ring(): the pages of a file of its own, mapped shared); aio_complete() writes each
 * event and the ring's tail there under ctx->completion_lock, and aio_migrate_folio() must
 * copy a ring page under the same lock, or an event written into the old page during the copy
 * is lost. The main thread submits batches of AR_BATCH buffered reads of a memfd, each
 * completing at once inside io_submit(), and reaps them with io_getevents(); a second thread
 * moves the ring's pages between the NUMA nodes with move_pages() the whole time. Every batch
 * must give back exactly its own events (aio_data), each with its 64 bytes read right.
 * Premise, else SKIP: two nodes, and ring pages moved while completions were written. */
#define AR_BATCH 32
#define AR_EVENTS 256

struct aio_race {
	void *pages[8];
	int npages;
	atomic_int stop;
	atomic_long moves;
};

/* Each round sends every ring page to the other node; a move counts only when the page's node,
 * read back, differs from the one read before (move_pages' status also names a page's node
 * when it was already there, or when the move failed and left the array as it was). */
static void *aio_mover(void *arg)
{
	struct aio_race *a = arg;
	int was[8], nodes[8], status[8], now[8], n = numa_nodes();

	while (!atomic_load(&a->stop)) {
		if (syscall(SYS_move_pages, 0, a->npages, a->pages, NULL, was, 0))
			break;
		for (int i = 0; i < a->npages; i++)
			nodes[i] = was[i] < 0 ? 0 : (was[i] + 1) % n;
		syscall(SYS_move_pages, 0, a->npages, a->pages, nodes, status, MPOL_MF_MOVE);
		if (syscall(SYS_move_pages, 0, a->npages, a->pages, NULL, now, 0))
			break;
		for (int i = 0; i < a->npages; i++)
			atomic_fetch_add(&a->moves, was[i] >= 0 && now[i] >= 0 && now[i] != was[i]);
	}
	return NULL;
}

/* The ring's mapping: from ctx to the end of its line in /proc/self/maps; pages, or 0. */
static int aio_ring_pages(aio_context_t ctx, void **pages, int max)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	char line[256];
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo == ctx) {
			for (unsigned long a = lo; a < hi && n < max; a += PAGE)
				pages[n++] = (void *)a;
			break;
		}
	if (f)
		fclose(f);
	return n;
}

static void aio_ring_race(double secs)
{
	const char *name = "race/aio-ring-vs-migrate";
	static struct aio_race a;  /* the mover thread reads it until it is joined below */
	aio_context_t ctx = 0;
	struct iocb cbs[AR_BATCH], *cbp[AR_BATCH];
	struct io_event ev[AR_BATCH];
	char bufs[AR_BATCH][64], want[64], why[240] = "";
	long batches = 0, events = 0, moves_during = 0, m0;
	int fd = -1, thread = 0;
	double t0;
	pthread_t t;

	if (!wanted(name) || !begins(name))
		return;
	memset(&a, 0, sizeof(a));
	if (numa_nodes() < 2) {
		printf("CASE %s SKIP: one NUMA node: nowhere to move the ring (numa=fake=2)\n", name);
		cells_skip++;
		return;
	}
	fd = memfd_create("aio-race", 0);
	fill64(want, sizeof(want), 81);
	if (fd >= 0 && syscall(SYS_io_setup, AR_EVENTS, &ctx) && errno == ENOSYS) {
		printf("CASE %s SKIP: no aio (io_setup: ENOSYS)\n", name);
		cells_skip++;
		close(fd);
		return;
	}
	if (fd < 0 || !ctx || pwrite(fd, want, sizeof(want), 0) != sizeof(want)) {
		snprintf(why, sizeof(why), "memfd or io_setup(%d): %s", AR_EVENTS, strerror(errno));
		goto out;
	}
	a.npages = aio_ring_pages(ctx, a.pages, 8);
	if (!a.npages) {
		snprintf(why, sizeof(why), "the aio ring at %#lx is not in /proc/self/maps", (unsigned long)ctx);
		goto out;
	}
	if ((errno = pthread_create(&t, NULL, aio_mover, &a))) {
		snprintf(why, sizeof(why), "pthread_create: %s", strerror(errno));
		goto out;
	}
	thread = 1;
	for (t0 = now_s(); now_s() - t0 < secs && !why[0]; batches++) {
		long got = 0;
		uint64_t seen = 0;  /* bit i: event i of this batch reaped */

		m0 = atomic_load(&a.moves);
		for (int i = 0; i < AR_BATCH; i++) {
			memset(&cbs[i], 0, sizeof(cbs[i]));
			memset(bufs[i], 0, sizeof(bufs[i]));
			cbs[i].aio_fildes = fd;
			cbs[i].aio_lio_opcode = IOCB_CMD_PREAD;
			cbs[i].aio_buf = (uintptr_t)bufs[i];
			cbs[i].aio_nbytes = sizeof(bufs[i]);
			cbs[i].aio_data = (uint64_t)batches << 8 | i;
			cbp[i] = &cbs[i];
		}
		if (syscall(SYS_io_submit, ctx, AR_BATCH, cbp) != AR_BATCH) {
			snprintf(why, sizeof(why), "io_submit of %d reads: %s", AR_BATCH, strerror(errno));
			break;
		}
		while (got < AR_BATCH && !why[0]) {
			struct timespec ts = {5, 0};
			long r = syscall(SYS_io_getevents, ctx, 1, AR_BATCH - got, ev, &ts);

			if (r <= 0) {
				snprintf(why, sizeof(why), "batch %ld: %ld of %d completions came back in 5 s (%s): completions lost",
					 batches, got, AR_BATCH, r < 0 ? strerror(errno) : "timeout");
				break;
			}
			for (long j = 0; j < r && !why[0]; j++) {
				uint64_t d = ev[j].data;
				int i = (int)(d & 0xff);

				if (d >> 8 != (uint64_t)batches || i >= AR_BATCH || (seen >> i & 1))
					snprintf(why, sizeof(why), "batch %ld got the event of batch %llu, read %d%s: a stale or doubled ring entry",
						 batches, (unsigned long long)(d >> 8), i, i < AR_BATCH && seen >> i & 1 ? " again" : "");
				else if (ev[j].res != sizeof(want) || memcmp(bufs[i], want, sizeof(want)))
					snprintf(why, sizeof(why), "batch %ld read %d: res %lld, bytes %s", batches, i, (long long)ev[j].res,
						 memcmp(bufs[i], want, sizeof(want)) ? "wrong" : "right");
				else
					seen |= 1ULL << i;
			}
			got += r;
		}
		events += got;
		moves_during += atomic_load(&a.moves) > m0;
	}
out:
	atomic_store(&a.stop, 1);
	if (thread)
		pthread_join(t, NULL);
	if (ctx)
		syscall(SYS_io_destroy, ctx);
	if (fd >= 0)
		close(fd);
	printf("# %s: %.1f s, %ld batches of %d reads, %ld events; %ld ring page moves, in %ld of the batches\n", name,
	       secs, batches, AR_BATCH, events, atomic_load(&a.moves), moves_during);
	case_verdict(name, why, moves_during ? NULL : "no ring page moved while a batch completed");
}
