/* ra/<reader>: buffered reads of a cold ext4 file by a process in a memory cgroup of its own
 * with RA_HEAD pages of room left, so that readahead's page-cache charges fail: readahead
 * allocates with __GFP_NORETRY (readahead_gfp_mask()), and try_charge_memcg() gives up after
 * one reclaim pass when that pass finds nothing to free, which is the rule here: the reader's
 * own memory is anonymous with memory.swap.max 0 (its buffer mlocked too), and every folio of
 * the batch being inserted is locked. Readahead then stops early (mm/readahead.c
 * page_cache_ra_unbounded(): -ENOMEM ends the batch) and the read falls back to ->read_folio(),
 * whose charge may reclaim and retry. A path that forgets the folio it allocated for the failed
 * insert leaks a page per failed batch, uncharged and in no mapping.
 *
 * reader: read (one pread() of the whole file: the first window is the request, up to the
 *         device's io_pages), mmap (faults through a shared mapping, page by page, each page
 *         unmapped once read, fault-around off: read-around, ra_pages (32) wide, with
 *         RA_HEAD_MMAP pages of room), readahead (the readahead(2) call, then pread),
 *         fadvise (POSIX_FADV_WILLNEED, then pread), madvise (MADV_WILLNEED on the mapping,
 *         then pread). The reader stays on one CPU.
 * Each of RA_ROUNDS rounds drops the file's cache (fadvise DONTNEED) and reads it again.
 * Checks: every byte read is the file's pattern; the pages the rounds kept allocated
 * (pgalloc_* minus pgfree, exec_cells.h alloc_settled(), read by the reader before its first
 * round and after its last, the file's cache dropped) stay under RA_KEPT_MAX; the pages oracle
 * sees them too.
 * Premise: memory.events of the group counts max hits (charges met the limit), and for the
 * readahead calls mincore() saw a round where the call brought in less than the file (else
 * SKIP); an OOM kill of the reader (memory.events oom_kill) is a SKIP saying so, not a FAIL.
 * The group gives back everything charged to it (file cache dropped, memory.reclaim) before it
 * goes: 6.12's page_owner reader crashes on a user page charged to a removed group
 * (guests/pin-matrix.sh memcg_drop). Part of pin_matrix.c (memcg_dir, ext4_dir, exec_cells.h).
 */
#define RA_LEN (1 << 20)  /* 256 pages: past the loop device's io_pages window is not needed */
/* Pages of room above what the reader holds: more than a read holds referenced at once (a
 * folio_batch, 31) with a page to spare, less than the readahead batches here (256). 16 got the
 * reader OOM-killed: a pread() holding its batch needed a page nothing could give. */
#define RA_HEAD 48
/* The mmap reader maps one page at a time (fault-around off: RA_FAULT_AROUND) and unmaps each
 * page it read, so its room can be less than read-around's 32 pages. (With fault-around on, 16
 * pages of room got it OOM-killed: the pages mapped ahead were all the group held; with it off
 * and the reader free to move between CPUs, twice in four runs: the new folios waited in the
 * other CPU's LRU batch, where reclaim's drain of its own CPU does not reach. MADV_HUGEPAGE's
 * two-PMD window thrashed for 10 s at 48 pages: not a reader for the default set.) */
#define RA_HEAD_MMAP 24
#define RA_FAULT_AROUND "/sys/kernel/debug/fault_around_bytes"
#define RA_ROUNDS 24
#define RA_KEPT_MAX 40  /* healthy runs kept 15 or fewer; a folio a failed batch: 54-120 */

enum rareader { RA_READ, RA_MMAP, RA_CALL, RA_FADVISE, RA_MADVISE, NRA };
static const char *const ra_names[NRA] = {"read", "mmap", "readahead", "fadvise", "madvise"};

/* The group's FILE (memory.max, ...) path into p */
static void ra_path(char *p, size_t n, const char *grp, const char *file) { snprintf(p, n, "%s/%s", grp, file); }

static long ra_event(const char *grp, const char *name)
{
	char p[600];

	ra_path(p, sizeof(p), grp, "memory.events");
	return key_value(p, name);
}

/* Pages of [map, map+RA_LEN) in the page cache */
static long ra_resident(const char *map)
{
	static unsigned char vec[RA_LEN / PAGE];
	long n = 0;

	if (mincore((void *)map, RA_LEN, vec))
		return -1;
	for (size_t i = 0; i < sizeof(vec); i++)
		n += vec[i] & 1;
	return n;
}

/* The reader, in the group; waits on go for the limit to be set. Exit 0, or 3 with why on out */
static void ra_child(enum rareader r, const char *grp, const char *file, int go, int out, unsigned seed)
{
	char p[600], why[200] = "", pid[32], x;
	char *buf = NULL, *map;
	int fd = open(file, O_RDONLY), cut = 0;
	long before;
	cpu_set_t one;

	/* on one CPU: the folios it adds wait in that CPU's LRU batch, which reclaim drains */
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
	sched_setaffinity(0, sizeof(one), &one);
	ra_path(p, sizeof(p), grp, "cgroup.procs");
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (fd < 0 || !write_file(p, pid))
		snprintf(why, sizeof(why), "open %.80s or join %.100s: %s", file, grp, strerror(errno));
	/* everything the rounds touch is there before the limit: anon pinned, page tables made */
	if (!why[0] && (posix_memalign((void **)&buf, PAGE, RA_LEN) || (memset(buf, 0, RA_LEN), mlock(buf, RA_LEN))))
		snprintf(why, sizeof(why), "buffer or mlock: %s", strerror(errno));
	map = why[0] ? MAP_FAILED : mmap(NULL, RA_LEN, PROT_READ, MAP_SHARED, fd, 0);
	if (!why[0] && map == MAP_FAILED)
		snprintf(why, sizeof(why), "mmap: %s", strerror(errno));
	if (!why[0]) {
		volatile char sink = map[RA_LEN - 1] + map[0];  /* page tables of both ends */

		(void)sink;
	}
	if (write(out, "r", 1) != 1 || read(go, &x, 1) != 1)  /* the parent sets the limit */
		_exit(1);
	before = alloc_net();
	for (int i = 0; !why[0] && i < RA_ROUNDS; i++) {
		ssize_t got = 0;
		long d = -1, res = RA_LEN / PAGE;

		madvise(map, RA_LEN, MADV_DONTNEED);  /* unmapped, so that DONTNEED drops it all */
		posix_fadvise(fd, 0, RA_LEN, POSIX_FADV_DONTNEED);
		if (r == RA_CALL && readahead(fd, 0, RA_LEN))
			snprintf(why, sizeof(why), "readahead: %s", strerror(errno));
		else if (r == RA_FADVISE && (errno = posix_fadvise(fd, 0, RA_LEN, POSIX_FADV_WILLNEED)))
			snprintf(why, sizeof(why), "posix_fadvise(WILLNEED): %s", strerror(errno));
		else if (r == RA_MADVISE && madvise(map, RA_LEN, MADV_WILLNEED))
			snprintf(why, sizeof(why), "madvise(WILLNEED): %s", strerror(errno));
		if (r >= RA_CALL)
			res = ra_resident(map);  /* what the call brought in */
		cut += res >= 0 && res < RA_LEN / PAGE;
		if (why[0])
			break;
		if (r == RA_MMAP) {
			for (size_t off = 0; d < 0 && off < RA_LEN; off += PAGE) {
				if ((d = check(map + off, PAGE, off, seed)) >= 0)
					d += (long)off;
				/* what was read, unmapped: clean cache reclaim can take, not the OOM killer's */
				madvise(map + off, PAGE, MADV_DONTNEED);
			}
		} else if ((got = pread(fd, buf, RA_LEN, 0)) != RA_LEN) {
			snprintf(why, sizeof(why), "round %d: pread %zd of %d: %s", i, got, RA_LEN, strerror(errno));
		} else {
			d = check(buf, RA_LEN, 0, seed);
		}
		if (d >= 0)
			snprintf(why, sizeof(why), "round %d: byte %ld read 0x%02x, the file holds 0x%02x", i, d,
				 (unsigned char)(r == RA_MMAP ? map[d] : buf[d]),
				 (unsigned char)pattern_at((uint64_t)d, seed));
	}
	if (!why[0]) {  /* the file's cache dropped, what the rounds kept */
		madvise(map, RA_LEN, MADV_DONTNEED);
		posix_fadvise(fd, 0, RA_LEN, POSIX_FADV_DONTNEED);
		snprintf(why, sizeof(why), "cut %d kept %ld", cut, alloc_settled(before, RA_KEPT_MAX / 2));
	}
	if (write(out, why, strlen(why)) < 0)
		_exit(1);
	_exit(strncmp(why, "cut ", 4) ? 3 : 0);
}

/* Everything charged to the group given back (reclaim), then the group removed; what stays, said */
static void ra_group_drop(const char *grp)
{
	char p[600], s[600];
	long left = -1;

	ra_path(p, sizeof(p), grp, "memory.reclaim");
	ra_path(s, sizeof(s), grp, "memory.stat");
	for (int i = 0; i < 3 && left; i++) {
		write_file(p, "1G");
		left = key_value(s, "anon") + key_value(s, "file");
	}
	if (left) {  /* pin-matrix.sh's cleanup tries again */
		printf("# %s: %ld bytes of anon+file still charged: left for the workload's cleanup\n", grp, left);
		return;
	}
	if (rmdir(grp))
		printf("# cannot remove %s: %s\n", grp, strerror(errno));
}

static void ra_cell(struct cell *c, enum rareader r)
{
	char grp[600], p[600], file[300], why[256] = "", v[32], x;
	unsigned seed = 0x5a00 + r;
	int fd, up[2] = {-1, -1}, go[2] = {-1, -1}, st = 0;
	long cur, kept = 0;
	int cut = 0;
	pid_t pid;
	ssize_t n;

	if (!memcg_dir || !ext4_dir) {
		cskip(c, "no %s given", memcg_dir ? "ext4 directory (-d)" : "memory cgroup (-m)");
		return;
	}
	snprintf(grp, sizeof(grp), "%.*s/pinbench-ra.%d", (int)(strrchr(memcg_dir, '/') - memcg_dir), memcg_dir, getpid());
	snprintf(file, sizeof(file), "%s/ra.%d", ext4_dir, getpid());
	char *data = malloc(RA_LEN);

	fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (!data || fd < 0 || (fill(data, RA_LEN, 0, seed), write(fd, data, RA_LEN)) != RA_LEN || fsync(fd) ||
	    posix_fadvise(fd, 0, RA_LEN, POSIX_FADV_DONTNEED)) {
		cfail(c, "cannot write %s: %s", file, strerror(errno));
		goto out;
	}
	if (mkdir(grp, 0755)) {
		cfail(c, "mkdir %s: %s", grp, strerror(errno));
		goto out;
	}
	ra_path(p, sizeof(p), grp, "memory.swap.max");
	write_file(p, "0");  /* best effort: the buffer is mlocked anyway */
	if (pipe(up) || pipe(go) || (pid = cell_fork()) < 0) {
		cfail(c, "pipe/fork: %s", strerror(errno));
		goto drop;
	}
	if (pid == 0) {
		close(up[0]);
		close(go[1]);
		ra_child(r, grp, file, go[0], up[1], seed);
	}
	close(up[1]);
	close(go[0]);
	up[1] = go[0] = -1;
	if (read(up[0], &x, 1) == 1) {
		/* memory.high under the usage drains the per-CPU charge stocks (memory_high_write()), so
		 * that memory.current is what the group holds; it then reclaims without the OOM killer */
		ra_path(p, sizeof(p), grp, "memory.high");
		write_file(p, "0");
		write_file(p, "max");
		ra_path(p, sizeof(p), grp, "memory.current");
		cur = read_long(p);
		snprintf(v, sizeof(v), "%ld", cur + (r == RA_MMAP ? RA_HEAD_MMAP : RA_HEAD) * (long)PAGE);
		ra_path(p, sizeof(p), grp, "memory.max");
		if (cur < 0 || !write_file(p, v))
			cfail(c, "cannot set %s to %s: %s", p, v, strerror(errno));
		if (write(go[1], "g", 1) != 1)
			cfail(c, "the reader is gone: %s", strerror(errno));
	}
	n = read(up[0], why, sizeof(why) - 1);
	why[n > 0 ? n : 0] = 0;
	if (waitpid(pid, &st, 0) != pid)
		cfail(c, "wait: %s", strerror(errno));
	long maxed = ra_event(grp, "max"), oomk = ra_event(grp, "oom_kill");

	ra_path(p, sizeof(p), grp, "memory.max");
	write_file(p, "max");
	posix_fadvise(fd, 0, RA_LEN, POSIX_FADV_DONTNEED);  /* the page cache this cell read, gone */
	if (c->failed[0]) {
		/* said */
	} else if (oomk > 0) {
		cskip(c, "the reader was OOM-killed in its group (memory.events oom_kill %ld, status 0x%x): too little room", oomk, st);
	} else if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		cfail(c, "%s (reader status 0x%x)", why[0] ? why : "the reader ended abnormally", st);
	} else if (maxed <= 0) {
		cskip(c, "no charge met the group's limit (memory.events max %ld)", maxed);
	} else if (sscanf(why, "cut %d kept %ld", &cut, &kept) != 2) {
		cfail(c, "the reader said: %s", why);
	} else if (r >= RA_CALL && !cut) {
		cskip(c, "%s brought the whole file in every round (mincore): no charge failed", ra_names[r]);
	} else if (kept > RA_KEPT_MAX) {
		cfail(c, "%d rounds of reading %d KiB at the group's limit kept %ld page(s) allocated, the file's cache dropped"
		      " (pgalloc - pgfree over them; most %d)", RA_ROUNDS, RA_LEN >> 10, kept, RA_KEPT_MAX);
	}
	printf("# %s: memory.events max %ld oom_kill %ld, %ld page(s) kept", c->name, maxed, oomk, kept);
	if (r >= RA_CALL)
		printf(", %d of %d rounds' readahead short (mincore)", cut, RA_ROUNDS);
	printf("\n");
drop:
	close_pair(up);
	close_pair(go);
	if (fd >= 0)
		posix_fadvise(fd, 0, RA_LEN, POSIX_FADV_DONTNEED);
	ra_group_drop(grp);
out:
	if (fd >= 0)
		close(fd);
	unlink(file);
	free(data);
}

/* One reader's cell; the mmap reader with fault-around at one page (debugfs), put back after the
 * cell (run_cells()) */
static void ra_run(struct cell *c, int k)
{
	enum rareader r = (enum rareader)k;

	if (r == RA_MMAP && cell_knob(c, RA_FAULT_AROUND, "4096", NULL))
		return;
	ra_cell(c, r);
}

static void ra_cells(void)
{
	static const struct cell_entry table[] = {{"ra/", ra_run, ra_names, NRA}};

	run_cells(table, 1, NULL, NULL);
}
