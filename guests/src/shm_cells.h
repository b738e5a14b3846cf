/* shm/...: System V shared memory (ipc/shm.c), the memory databases hand to O_DIRECT and RDMA:
 * a segment is a shmem file (or a hugetlbfs one with SHM_HUGETLB) that lives on after IPC_RMID
 * until its last detach, and SHM_LOCK makes its pages unevictable (shmem_lock(),
 * mm/mlock.c user_shm_lock()) until SHM_UNLOCK puts them back on the LRU
 * (shmem_unlock_mapping(), mm/vmscan.c check_move_unevictable_folios()). The measured reach of
 * the default set never entered those (docs/entrypoints.md). Part of pin_matrix.c (struct cell,
 * pin_start()/pin_read()/pin_write()/pin_stop(), the -m memory cgroup; kentry_cells.h's
 * pin_mark()/pins_back()), entered by shm_cells() from main.
 *
 * Each cell attaches one segment twice (views a and b of the same pages) and checks data both
 * ways: what goes in through the pin the other view reads, what the process writes the pin reads.
 * shm/<small|huge>/rmid: an io_uring fixed buffer over view a; IPC_RMID, then a detached while
 *   the pin holds its pages, then b detached too (the segment is destroyed): both ways through
 *   b while it lives, and through the pin alone after; the FOLL_PIN counters back after the unpin.
 * shm/<small|huge>/fork: a writable long-term GUP-fast pin (gup_test) of view a; a child (the
 *   attaches are inherited) writes through b and exits (its detach): the pin must read the
 *   child's bytes, then the parent's through a.
 * shm/small/lock: in the -m cgroup, SHM_LOCK, io_uring pins the first half; memory.reclaim
 *   must take no page of the locked segment and put all of it on the unevictable LRU
 *   (/proc/vmstat nr_unevictable: the premise, else SKIP); SHM_UNLOCK must take all of it
 *   off again (shmem_unlock_mapping()); memory.reclaim again: the unpinned half goes to swap
 *   (premise: mincore, else SKIP), the pinned half stays; both ways through the pin, every byte
 *   of the unpinned half back when faulted.
 * shm/small/dio: O_DIRECT read of an ext4 file into view a, O_DIRECT write out of view b:
 *   the bytes both ways, the pins back.
 * Premise of huge: a SHM_HUGETLB segment could be made (hugetlb pages free), else SKIP.
 */
#include <sys/ipc.h>
#include <sys/shm.h>

#define SHM_SMALL (16 * PAGE)

static const char *const shm_small_ops[] = {"rmid", "fork", "lock", "dio"};
static const char *const shm_huge_ops[] = {"rmid", "fork"};

struct shm_seg {
	int id;
	size_t len;
	char *a, *b;  /* two attaches of the segment; NULL once detached */
	char *pinned; /* where a was when the pin was taken (the fixed buffer's address) */
};

static int shm_make(struct cell *c, int huge, struct shm_seg *s)
{
	*s = (struct shm_seg){.id = -1, .len = huge ? HPAGE : SHM_SMALL};
	c->half = s->len;
	c->mem = SHMEM;
	s->id = shmget(IPC_PRIVATE, s->len, IPC_CREAT | 0600 | (huge ? SHM_HUGETLB : 0));
	if (s->id < 0) {
		if (huge)
			cskip(c, "shmget(SHM_HUGETLB) of one huge page: %s (hugetlb pages free: %ld)", strerror(errno),
			      key_value("/proc/meminfo", "HugePages_Free:"));
		else
			cfail(c, "shmget: %s", strerror(errno));
		return -1;
	}
	s->a = shmat(s->id, NULL, 0);
	s->b = shmat(s->id, NULL, 0);
	if (s->a == (void *)-1 || s->b == (void *)-1) {
		cfail(c, "shmat: %s", strerror(errno));
		s->a = s->a == (void *)-1 ? NULL : s->a;
		s->b = s->b == (void *)-1 ? NULL : s->b;
		return -1;
	}
	fill64(s->a, s->len, 1);  /* every page faulted in through a */
	s->pinned = s->a;
	return 0;
}

static void shm_drop(struct shm_seg *s)
{
	if (s->a)
		shmdt(s->a);
	if (s->b)
		shmdt(s->b);
	if (s->id >= 0)
		shmctl(s->id, IPC_RMID, NULL);
	s->a = s->b = NULL;
	s->id = -1;
}

/* Both ways between pin p and view (NULL: the pin alone, both ways through it): fresh bytes in
 * through the pin must show in view, the process's bytes in view must show through the pin. */
static int shm_both_ways(struct cell *c, enum pin p, struct shm_seg *s, char *view, unsigned seed, const char *when)
{
	size_t len = c->half;  /* the pinned range, from s->pinned (the start of view) */
	char *want = malloc(len), *got = malloc(len);
	long at;
	int w;

	if (!want || !got) {
		cfail(c, "out of memory");
		goto out;
	}
	fill64(want, len, seed);
	if ((w = pin_write(c, p, s->pinned, want)) < 0)
		goto out;
	if (w && view && (at = first_diff(view, want, len)) >= 0)
		cfail(c, "%s: the process reads other bytes than were written through the pin (byte %ld)", when, at);
	if (w && !view && !pin_read(c, p, s->pinned, got) && (at = first_diff(got, want, len)) >= 0)
		cfail(c, "%s: the pin reads back other bytes than were written through it (byte %ld)", when, at);
	if (c->failed[0] || !view)
		goto out;
	fill64(want, len, seed + 100);
	memcpy(view, want, len);
	if (!pin_read(c, p, s->pinned, got) && (at = first_diff(got, want, len)) >= 0)
		cfail(c, "%s: the pin reads other bytes than the process wrote (byte %ld)", when, at);
out:
	free(want);
	free(got);
	return c->failed[0] ? -1 : 0;
}

static void shm_rmid(struct cell *c, int huge)
{
	struct shm_seg s = {.id = -1};
	struct pinmark pm;

	pin_mark(&pm);
	if (pinner_missing(c, URING) || shm_make(c, huge, &s) || pin_start(c, URING, s.a, s.len))
		goto out;
	if (shm_both_ways(c, URING, &s, s.b, 2, "both attaches"))
		goto unpin;
	if (shmctl(s.id, IPC_RMID, NULL)) {
		cfail(c, "IPC_RMID: %s", strerror(errno));
		goto unpin;
	}
	s.id = -1;  /* marked for destruction: it ends with its last detach */
	if (shmdt(s.a)) {
		cfail(c, "shmdt of the pinned attach: %s", strerror(errno));
		goto unpin;
	}
	s.a = NULL;
	if (shm_both_ways(c, URING, &s, s.b, 4, "after IPC_RMID and the pinned attach's shmdt"))
		goto unpin;
	if (shmdt(s.b)) {
		cfail(c, "shmdt of the last attach: %s", strerror(errno));
		goto unpin;
	}
	s.b = NULL;  /* the segment is destroyed; its pages are the pin's alone */
	if (!shm_both_ways(c, URING, &s, NULL, 6, "the segment destroyed, the pin alone"))
		printf("# %s: %zu bytes pinned across IPC_RMID, both detaches and the segment's end\n", c->name, s.len);
unpin:
	pin_stop(c, URING);
out:
	shm_drop(&s);
	pins_back(c, &pm, "the unpin");
}

static void shm_fork(struct cell *c, int huge)
{
	struct shm_seg s = {.id = -1};
	struct pinmark pm;
	char *want = NULL, *got = NULL;
	long at;
	pid_t pid;

	pin_mark(&pm);
	if (pinner_missing(c, GUP_FAST) || shm_make(c, huge, &s) || !(want = malloc(s.len)) || !(got = malloc(s.len)) ||
	    pin_start(c, GUP_FAST, s.a, s.len))
		goto out;
	fill64(want, s.len, 5);
	if ((pid = cell_fork()) == 0) {  /* the attaches are the child's too */
		memcpy(s.b, want, s.len);
		_exit(0);
	}
	if (pid < 0)
		cfail(c, "fork: %s", strerror(errno));
	else
		wait_child(c, pid, "the child writing through its attach");
	if (!c->failed[0] && !pin_read(c, GUP_FAST, s.a, got) && (at = first_diff(got, want, s.len)) >= 0)
		cfail(c, "the pin does not read what the child wrote through its attach (byte %ld)", at);
	if (!c->failed[0]) {
		fill64(want, s.len, 6);
		memcpy(s.a, want, s.len);
		if (!pin_read(c, GUP_FAST, s.a, got) && (at = first_diff(got, want, s.len)) >= 0)
			cfail(c, "after the child's exit the pin does not read the parent's write (byte %ld)", at);
	}
	pin_stop(c, GUP_FAST);
out:
	free(want);
	free(got);
	shm_drop(&s);
	pins_back(c, &pm, "the unpin");
}

/* Pages of [p, p+len) mincore() says are resident */
static size_t shm_resident(const char *p, size_t len)
{
	unsigned char vec[SHM_SMALL / PAGE];
	size_t n = 0;

	if (len > SHM_SMALL || mincore((void *)p, len, vec))
		return (size_t)-1;
	for (size_t i = 0; i < len / PAGE; i++)
		n += vec[i] & 1;
	return n;
}

static void shm_lock(struct cell *c)
{
	struct shm_seg s = {.id = -1};
	struct pinmark pm;
	size_t half = SHM_SMALL / 2, left;
	char *want = malloc(SHM_SMALL);
	long at, unev, unev0;
	int pinned = 0;

	pin_mark(&pm);
	if (!want || pinner_missing(c, URING) || memcg_cell_enter(c))  /* before the segment's pages are charged */
		goto out;
	unev0 = vmstat("nr_unevictable");  /* global and exact after stat_refresh: memory.stat lags below 128 pages */
	if (shm_make(c, 0, &s))
		goto out;
	if (shmctl(s.id, SHM_LOCK, NULL)) {
		cfail(c, "SHM_LOCK: %s", strerror(errno));
		goto out;
	}
	c->half = half;  /* the pin: the first half; the second, the witness, stays unpinned */
	if (pin_start(c, URING, s.a, half))
		goto out;
	pinned = 1;
	memcpy(want, s.a, SHM_SMALL);
	memcg_reclaim_all((long)SHM_SMALL * 4, NULL);  /* reclaim must meet the segment's folios */
	unev = (vmstat("nr_unevictable") - unev0) * (long)PAGE;  /* reclaim met the locked pages: unevictable LRU */
	if ((left = shm_resident(s.b, SHM_SMALL)) != SHM_SMALL / PAGE) {
		cfail(c, "memory.reclaim took %zu page(s) of a SHM_LOCKed segment", SHM_SMALL / PAGE - left);
		goto out;
	}
	if (unev < (long)SHM_SMALL) {
		cskip(c, "memory.reclaim left %ld bytes of the locked segment's %lu on the unevictable LRU (nr_unevictable)",
		      unev, SHM_SMALL);
		goto out;
	}
	if (shmctl(s.id, SHM_UNLOCK, NULL)) {
		cfail(c, "SHM_UNLOCK: %s", strerror(errno));
		goto out;
	}
	if ((unev = (vmstat("nr_unevictable") - unev0) * (long)PAGE) > 0) {  /* shmem_unlock_mapping() moved them back */
		cfail(c, "after SHM_UNLOCK /proc/vmstat still counts %ld bytes more unevictable than before SHM_LOCK", unev);
		goto out;
	}
	memcg_reclaim_all((long)SHM_SMALL * 4, NULL);  /* reclaim must meet the segment's folios */
	if ((left = shm_resident(s.b + half, half)) == half / PAGE) {
		cskip(c, "memory.reclaim took no page of the unpinned half after SHM_UNLOCK (pgsteal %ld)",
		      memcg_stat("pgsteal"));
		goto out;
	}
	if (shm_resident(s.b, half) != half / PAGE)
		cfail(c, "after SHM_UNLOCK memory.reclaim took a page the pin holds");
	else if ((at = first_diff(s.b + half, want + half, half)) >= 0)
		cfail(c, "the unpinned half reads other bytes after swap (byte %ld)", at);
	else if (!shm_both_ways(c, URING, &s, s.b, 8, "after SHM_UNLOCK and reclaim"))
		printf("# %s: locked, nothing reclaimed, %lu bytes unevictable; unlocked, none; %zu of %zu unpinned"
		       " page(s) went out and came back\n", c->name, SHM_SMALL, half / PAGE - left, half / PAGE);
out:
	if (pinned)
		pin_stop(c, URING);
	memcg_leave();
	free(want);
	shm_drop(&s);
	pins_back(c, &pm, "the unpin");
}

static void shm_dio(struct cell *c)
{
	struct shm_seg s = {.id = -1};
	struct pinmark pm;
	char path[300], *want = malloc(SHM_SMALL), *got = NULL;
	int fd = -1;
	long at;

	pin_mark(&pm);
	if (!ext4_dir) {
		cskip(c, "no ext4 folder (-d)");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/shm-dio.%d", ext4_dir, getpid());
	if (!want || shm_make(c, 0, &s) || (fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600)) < 0 ||
	    posix_memalign((void **)&got, PAGE, SHM_SMALL)) {
		if (!c->failed[0] && !c->skip[0])
			cfail(c, "open %s O_DIRECT: %s", path, strerror(errno));
		goto out;
	}
	fill64(got, SHM_SMALL, 9);
	memcpy(want, got, SHM_SMALL);
	if (pwrite(fd, got, SHM_SMALL, 0) != SHM_SMALL || pread(fd, s.a, SHM_SMALL, 0) != SHM_SMALL)
		cfail(c, "O_DIRECT read into the segment: %s", strerror(errno));
	else if ((at = first_diff(s.b, want, SHM_SMALL)) >= 0)
		cfail(c, "the other attach reads other bytes than O_DIRECT read into the segment (byte %ld)", at);
	fill64(s.b, SHM_SMALL, 10);
	memcpy(want, s.b, SHM_SMALL);
	if (!c->failed[0] && (pwrite(fd, s.a, SHM_SMALL, SHM_SMALL) != SHM_SMALL ||
			      pread(fd, got, SHM_SMALL, SHM_SMALL) != SHM_SMALL))
		cfail(c, "O_DIRECT write out of the segment: %s", strerror(errno));
	else if (!c->failed[0] && (at = first_diff(got, want, SHM_SMALL)) >= 0)
		cfail(c, "the file holds other bytes than O_DIRECT wrote out of the segment (byte %ld)", at);
out:
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
	free(want);
	free(got);
	shm_drop(&s);
	pins_back(c, &pm, "the O_DIRECT calls");
}

static void shm_small(struct cell *c, int k)
{
	if (k == 0)
		shm_rmid(c, 0);
	else if (k == 1)
		shm_fork(c, 0);
	else if (k == 2)
		shm_lock(c);
	else
		shm_dio(c);
}

static void shm_huge(struct cell *c, int k)
{
	if (k == 0)
		shm_rmid(c, 1);
	else
		shm_fork(c, 1);
}

static const struct cell_entry shm_table[] = {
	{"shm/small/", shm_small, shm_small_ops, sizeof(shm_small_ops) / sizeof(shm_small_ops[0])},
	{"shm/huge/", shm_huge, shm_huge_ops, sizeof(shm_huge_ops) / sizeof(shm_huge_ops[0])}};

static void shm_cells(void)
{
	run_cells(shm_table, sizeof(shm_table) / sizeof(shm_table[0]), NULL, NULL);
}
