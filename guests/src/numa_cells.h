/* numa/...: NUMA balancing and memory policies under pins (kernel/sched/fair.c task_numa_work(),
 * mm/mprotect.c change_prot_numa(), mm/memory.c do_numa_page()/numa_migrate_check(),
 * mm/huge_memory.c do_huge_pmd_numa_page(), mm/mempolicy.c mpol_misplaced(), mm/migrate.c
 * migrate_misplaced_folio(); and the allocation policies alloc_pages_preferred_many(),
 * set_mempolicy_home_node(), weighted interleave, mbind MPOL_MF_MOVE over hugetlb). Part of
 * pin_matrix.c (struct cell, mem_map(), held_cell(), transient_cell(), pin_start()/pin_read()/
 * pin_write(), cell_knob(), cell_in_child(); kentry_cells.h's none_held(); migrate_cells.h's mg_isolated()).
 *
 * The kernel (kconfigs/mm-events.config) builds CONFIG_NUMA_BALANCING but boots with it off:
 * each cell here runs in a child process of its own (cell_in_child()), which turns down the
 * scanner's debugfs knobs (scan_delay_ms 0, scan_period_min_ms 10, scan_period_max_ms 100,
 * scan_size_mb 32: a pass over the child's memory every few ms of its CPU time instead of after a
 * second), writes 1 to kernel.numa_balancing only once its memory is in place and puts it back as
 * soon as it has what it wanted; every knob the child changed (knob_set(): the table is shared) is
 * put back by the parent when the child is gone, however it ended (and a SIGTERM's on_term() does
 * too). A fresh child also has fresh scanner state
 * (init_numa_balancing(): numa_scan_period is scan_delay_ms at fork, node_stamp 0), is
 * single-threaded, and takes its PROT_NONE hints with it when it exits.
 *
 * What the scanner skips, read in 6.12: task_numa_work() skips VMAs that are not migratable
 * (VM_IO/VM_PFNMAP, DAX), whose policy lacks MPOL_F_MOF (any mbind/set_mempolicy policy but one
 * with MPOL_F_NUMA_BALANCING; the default local policy has it), hugetlb, VM_MIXEDMAP, read-only
 * file mappings (library text) and PROT_NONE VMAs. change_pte_range() (prot_numa) skips the zero
 * page and KSM pages, in private (COW) mappings pages that are maybe DMA-pinned or mapped by more
 * than one process, dirty file pages (ext4 MAP_SHARED is msynced first here), and, for a
 * single-threaded process's private VMA, pages already on the CPU's node. change_huge_pmd() skips
 * only the huge zero page: a pinned PMD-mapped THP is made PROT_NONE. So pinned private small
 * pages are never hinted, pinned THPs and pinned shared (shmem, ext4) pages are: their hinting
 * fault tries to migrate them and must fail (the pin's reference) and put them back.
 *
 * numa/balance/<memory>/<pin>: the region (pinned half, witness half) written after clear_refs 4,
 *   moved with move_pages to node X, the process on a CPU of node Y (sched_setaffinity), the first
 *   half pinned (gup-fast: gup_test long-term, read-only for ext4-shared; uring: fixed buffer;
 *   vmsplice: a pipe's references to 16 pages; none), then balancing on while the process reads a
 *   word of every page, until every unpinned page is on Y and the premise's counters moved (at most
 *   NB_SECONDS). Premise, else SKIP: thp and thp-pte, both halves still THPs after move_pages and
 *   after the pin (a THP move_pages cannot place whole is split); numa_hint_faults moved (thp: +2
 *   and numa_huge_pte_updates +2; shmem: numa_pte_updates + the region's pages). Checks: every unpinned page reached Y (else FAIL; a THP that
 *   failed to migrate, thp_migration_fail moved, SKIPs only when buddyinfo shows no free THP-sized
 *   block on Y); no pinned page moved; every byte of the region; every page still soft-dirty
 *   (pagemap); the process's write read through the pin (gup_test, the pipe), the pin's write
 *   (io_uring) read by the process; after the unpin the FOLL_PIN
 *   counters, no page held (pages_held()), nr_isolated_* back; ext4 on disk.
 * numa/policy/<vma|task>-<bind|pmany>-<both|remote>: anonymous memory under MPOL_BIND or
 *   MPOL_PREFERRED_MANY with MPOL_F_NUMA_BALANCING (mbind on the region, or set_mempolicy), nodes
 *   {X, Y} (both) or {X} (remote): mpol_misplaced() moves a page towards the faulting CPU's node
 *   only when that node is in the policy's nodes. both: every page must reach Y; remote: none may
 *   leave X, after as many hinting faults as the region has pages (premise: the round's own wait).
 * numa/protnone/<entry>: the scanner marks the region PROT_NONE while the process spins without
 *   touching it (numa_pte_updates counts its pages, else SKIP), balancing off, then one entry meets
 *   the hinted PTEs: gup-fast, gup-slow, uring (writable pins: GUP faults the hint in), gup-ro (a
 *   read-only long-term pin: GUP follows the PROT_NONE PTE, 6.12 sets FOLL_HONOR_NUMA_FAULT for
 *   KVM only, and the process's later touch takes the hinting fault of a pinned page), dio-read,
 *   dio-write, pvm-readv, pvm-writev, fork (the child reads and writes its copy of hinted PTEs),
 *   fork-uring (fork while a pin is held), mprotect (PROT_READ and back over hinted PTEs), thp-gup
 *   and thp-gup-ro (a PROT_NONE PMD: do_huge_pmd_numa_page()). Premise: a hinting fault happened
 *   during the entry or the checks after it (the PTEs were hinted); gup-ro: a witness page moved to Y
 *   during the entry and its checks (balancing off: only the region's own hinting fault moves it);
 *   mprotect: the marking only. The parent waits for the child in sigtimedwait(), touching no memory
 *   (a polling parent would be scanned and add hinting faults of its own to the global counters).
 *   Checks as held_cell()/transient_cell(), then no page held and nr_isolated back.
 * numa/alloc/...: preferred-many-<anon|thp> (set_mempolicy MPOL_PREFERRED_MANY {X} from a CPU of Y:
 *   every page on X), home-node (mbind MPOL_BIND {X, Y} + set_mempolicy_home_node X: every page on
 *   X; a region without the home node lands on Y; its refusals: EOPNOTSUPP for an interleave VMA,
 *   EINVAL for flags and an offline node), weighted-interleave (sysfs weights X 3, Y 1; mbind
 *   MPOL_WEIGHTED_INTERLEAVE: page i on the node weighted_interleave_nid() gives its index, every
 *   page), weighted-interleave-task (set_mempolicy: 3 of 4 pages on X within 2 pages), then each
 *   pinned and checked both ways (held_cell, io_uring; the weights the child set are put back by the
 *   parent, however the child ended); hugetlb-move (two huge pages on Y, the first
 *   pinned long-term, mbind MPOL_BIND {X} MPOL_MF_MOVE: queue_folios_hugetlb(); the unpinned one
 *   must reach X, the pinned one stay, the pin see the process's write; free huge pages back
 *   per node after the unmap).
 * race/numa-pin-vs-balancing: balancing on at its fastest, one thread pins 16 pages long-term,
 *   writes, reads through the pin, unpins, while another moves the region back to X and reads it
 *   (hinting faults move it to Y). Every round's data; SKIP unless numa_pages_migrated moved.
 */
#include <sched.h>
#include <stdatomic.h>

#ifndef MPOL_PREFERRED_MANY
#define MPOL_PREFERRED_MANY 5
#endif
#ifndef MPOL_WEIGHTED_INTERLEAVE
#define MPOL_WEIGHTED_INTERLEAVE 6
#endif
#ifndef MPOL_INTERLEAVE
#define MPOL_INTERLEAVE 3
#endif
#ifndef MPOL_F_NUMA_BALANCING
#define MPOL_F_NUMA_BALANCING (1 << 13)
#endif
#ifndef __NR_set_mempolicy_home_node
#define __NR_set_mempolicy_home_node 450
#endif
#define NB_SECONDS 4.0  /* a balancing round's bound */
#define NB_CHILD_S 90   /* a cell's child that takes longer is killed */
#define NB_SYSCTL "/proc/sys/kernel/numa_balancing"
#define NB_DEBUGFS "/sys/kernel/debug/sched/numa_balancing/"
#define NB_WI "/sys/kernel/mm/mempolicy/weighted_interleave/node"

static const char *const nb_knobs[][2] = {
	{"scan_delay_ms", "0"}, {"scan_period_min_ms", "10"}, {"scan_period_max_ms", "100"}, {"scan_size_mb", "32"},
};

/* The default set's: each balancing round costs a second or more of TCG time (the scanner's first
 * pass waits for 1 s of the task's CPU time without CONFIG_SCHED_DEBUG's knobs) */
static const char *const nb_quick[] = {
	"numa/balance/thp/gup-fast", "numa/balance/shmem/gup-fast", "numa/policy/vma-bind-remote",
	"numa/protnone/gup-ro", "numa/alloc/home-node", "numa/alloc/weighted-interleave", "numa/alloc/hugetlb-move",
};

/* -- the child a cell runs in (cell_in_child()) ------------------------------------------------ */

static int nb_slow;  /* no debugfs knobs (CONFIG_SCHED_DEBUG off): the scanner at its defaults */

/* Turns the scanner's knobs down (the sysctl itself is turned on by nb_on()): 0, or -1 told why.
 * Without CONFIG_SCHED_DEBUG there is no /sys/kernel/debug/sched: the defaults then hold (a first
 * scan after 1 s of the process's CPU time, then one a second), which the rounds' bound allows.
 * cell_in_child() puts them back when the child is gone, however it ended. */
static int nb_knobs_set(struct cell *c)
{
	char path[160];

	if (access(NB_SYSCTL, F_OK)) {
		cskip(c, "no %s (CONFIG_NUMA_BALANCING off)", NB_SYSCTL);
		return -1;
	}
	nb_slow = access(NB_DEBUGFS, F_OK) != 0;
	for (size_t i = 0; !nb_slow && i < sizeof(nb_knobs) / sizeof(nb_knobs[0]); i++) {
		snprintf(path, sizeof(path), NB_DEBUGFS "%s", nb_knobs[i][0]);
		if (cell_knob(c, path, nb_knobs[i][1], NULL))
			return -1;
	}
	return 0;
}

static void (*nb_body)(struct cell *c, int k);  /* the cell nb_child() runs */
static int nb_scanner;                         /* ... with the scanner's knobs turned down */

/* The child of a numa cell: the scanner's knobs (when it needs them), then the cell */
static void nb_child(struct cell *c, int k)
{
	if (!nb_scanner || !nb_knobs_set(c))
		nb_body(c, k);
}

/* body(c, k) in a child of its own (cell_in_child()), with the scanner's knobs turned down when
 * scanner. A fresh child has fresh scanner state, and the parent waiting for it touches no
 * memory: a parent that polled would be scanned and take hinting faults of its own. */
static void nb_in_child(struct cell *c, void (*body)(struct cell *c, int k), int k, int scanner)
{
	nb_body = body;
	nb_scanner = scanner;
	cell_in_child(c, nb_child, k, NB_CHILD_S);
}

/* -- nodes, CPUs, counters ------------------------------------------------------------------- */

struct nb_where {
	int x, y, cpu;  /* the memory's node, the CPU's node, the CPU */
};

/* Y: the node of the first online CPU, as the kernel sees it (getcpu(2) on it: under numa=fake=2
 * x86 puts every CPU on node 0 whatever node1/cpulist says), the process bound to that CPU; X:
 * the next node. -1 told why */
static int nb_place_cpu(struct cell *c, struct nb_where *w)
{
	unsigned cpu = 0, node = 0;
	cpu_set_t set;

	if (numa_nodes() < 2) {
		cskip(c, "one NUMA node only (numa=fake=2 on the command line?)");
		return -1;
	}
	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set)) {
		cfail(c, "sched_getaffinity: %s", strerror(errno));
		return -1;
	}
	for (w->cpu = 0; w->cpu < CPU_SETSIZE && !CPU_ISSET(w->cpu, &set); w->cpu++)
		;
	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) || syscall(SYS_getcpu, &cpu, &node, NULL)) {
		cfail(c, "sched_setaffinity to CPU %d, getcpu: %s", w->cpu, strerror(errno));
		return -1;
	}
	if ((int)cpu != w->cpu) {
		cfail(c, "bound to CPU %d, getcpu says CPU %u", w->cpu, cpu);
		return -1;
	}
	w->y = (int)node;
	w->x = (w->y + 1) % numa_nodes();
	return 0;
}

/* Each page's node of [p, p + n pages) (move_pages without targets, -errno for a page not
 * present); 0 or -1 */
static int nb_nodes(char *p, long n, int *node)
{
	void **pages = calloc(n, sizeof(void *));
	long r;

	for (long i = 0; pages && i < n; i++)
		pages[i] = p + i * PAGE;
	r = pages ? syscall(SYS_move_pages, 0, n, pages, NULL, node, 0) : -1;
	free(pages);
	return r ? -1 : 0;
}

/* Every page of [p, p + n pages) asked to node to; how many are there after (the call may fail
 * for pinned ones) */
static long nb_move(char *p, long n, int to)
{
	void **pages = calloc(n, sizeof(void *));
	int *nodes = calloc(n, sizeof(int)), *st = calloc(n, sizeof(int));
	long there = 0;

	for (long i = 0; pages && nodes && i < n; i++) {
		pages[i] = p + i * PAGE;
		nodes[i] = to;
	}
	if (pages && nodes && st) {
		syscall(SYS_move_pages, 0, n, pages, nodes, st, MPOL_MF_MOVE);
		if (!nb_nodes(p, n, st))
			for (long i = 0; i < n; i++)
				there += st[i] == to;
	}
	free(pages);
	free(nodes);
	free(st);
	return there;
}

static long nb_count(const int *node, long n, int want)
{
	long k = 0;

	for (long i = 0; i < n; i++)
		k += node[i] == want;
	return k;
}

struct nb_stat {
	long pte, huge, hint, migrated, thp_fail, isolated;
};

static void nb_stats(struct nb_stat *s)
{
	s->pte = vmstat("numa_pte_updates");
	s->huge = key_value("/proc/vmstat", "numa_huge_pte_updates");
	s->hint = key_value("/proc/vmstat", "numa_hint_faults");
	s->migrated = key_value("/proc/vmstat", "numa_pages_migrated");
	s->thp_fail = key_value("/proc/vmstat", "thp_migration_fail");
	s->isolated = mg_isolated();
}

/* Free blocks of a THP's order or larger on node (/proc/buddyinfo, every zone): a misplaced THP's
 * migration allocates on that node without reclaim or compaction, so with none it cannot move */
static long nb_free_thp_blocks(int node)
{
	FILE *f = fopen("/proc/buddyinfo", "r");
	char line[512];
	long k = 0;
	int order9 = __builtin_ctzl(HPAGE / PAGE);

	while (f && fgets(line, sizeof(line), f)) {
		int nd, off = 0, o = 0;
		char zone[32];
		long cnt;

		if (sscanf(line, "Node %d, zone %31s%n", &nd, zone, &off) != 2 || nd != node)
			continue;
		for (char *q = line + off; sscanf(q, "%ld%n", &cnt, &off) == 1; q += off, o++)
			if (o >= order9)
				k += cnt;
	}
	if (f)
		fclose(f);
	return k;
}

static void nb_on(struct cell *c) { cell_knob(c, NB_SYSCTL, "1", NULL); }

static void nb_off(void) { knob_put_back(NB_SYSCTL); }  /* as soon as the cell has what it wanted */

/* A few ms of CPU time: task_tick_numa() counts the task's runtime, not the wall clock */
static void nb_spin(void)
{
	for (volatile unsigned long spin = 0; spin < 200000; spin++)
		;
}

/* Read one word of each page: the hinting faults of a process that uses its memory */
static uint64_t nb_touch(const char *p, long n)
{
	uint64_t sum = 0;

	for (long i = 0; i < n; i++)
		sum += *(volatile const uint64_t *)(p + i * PAGE);
	return sum;
}

/* Pages of [p, p + n) not soft-dirty in pagemap (the first one's index in *first) */
static long nb_not_soft_dirty(const char *p, long n, long *first)
{
	long k = 0;

	*first = -1;
	for (long i = 0; i < n; i++)
		if (!(pagemap(p + i * PAGE) & PM_SOFT_DIRTY)) {
			if (*first < 0)
				*first = i;
			k++;
		}
	return k;
}

/* After the cell: no page of [p, p + len) held, nr_isolated back to iso0 */
static void nb_refs_back(struct cell *c, char *p, size_t len, long iso0, const char *after)
{
	long now;

	none_held(c, p, len, after);
	if (iso0 >= 0 && (now = mg_isolated_settle(iso0)) > iso0)
		cfail(c, "nr_isolated_anon + nr_isolated_file %ld -> %ld after %s: pages left off the LRU", iso0, now, after);
}

/* -- numa/balance and numa/policy ----------------------------------------------------------- */

enum nb_pin { NBP_NONE, NBP_GUP, NBP_URING, NBP_VMSPLICE };
static const char *const nbp_names[] = {"none", "gup-fast", "uring", "vmsplice"};
enum nb_pol { NBL_DEFAULT, NBL_VMA_BIND_BOTH, NBL_VMA_BIND_REMOTE, NBL_VMA_PMANY_REMOTE, NBL_TASK_BIND_BOTH,
	      NBL_TASK_PMANY_BOTH, NBL_TASK_PMANY_REMOTE };

static const struct nb_bal {
	enum mem m;
	enum nb_pin p;
	enum nb_pol pol;
} nb_bals[] = {
	{ANON, NBP_NONE, 0}, {ANON, NBP_GUP, 0}, {ANON, NBP_URING, 0}, {ANON, NBP_VMSPLICE, 0},
	{THP, NBP_NONE, 0}, {THP, NBP_GUP, 0}, {THP, NBP_URING, 0}, {THP, NBP_VMSPLICE, 0},
	{THPTE, NBP_NONE, 0}, {THPTE, NBP_GUP, 0}, {THPTE, NBP_URING, 0},
	{SHMEM, NBP_NONE, 0}, {SHMEM, NBP_GUP, 0}, {SHMEM, NBP_URING, 0}, {SHMEM, NBP_VMSPLICE, 0},
	{FILESH, NBP_NONE, 0}, {FILESH, NBP_GUP, 0}, {FILEPR, NBP_NONE, 0}, {FILEPR, NBP_URING, 0},
};
static const char *const nb_bal_names[] = {
	"anon/none", "anon/gup-fast", "anon/uring", "anon/vmsplice", "thp/none", "thp/gup-fast", "thp/uring",
	"thp/vmsplice", "thp-pte/none", "thp-pte/gup-fast", "thp-pte/uring", "shmem/none", "shmem/gup-fast",
	"shmem/uring", "shmem/vmsplice", "ext4-shared/none", "ext4-shared/gup-fast", "ext4-private/none",
	"ext4-private/uring",
};
static const enum nb_pol nb_pols[] = {NBL_VMA_BIND_BOTH, NBL_VMA_BIND_REMOTE, NBL_VMA_PMANY_REMOTE,
				      NBL_TASK_BIND_BOTH, NBL_TASK_PMANY_BOTH, NBL_TASK_PMANY_REMOTE};
static const char *const nb_pol_names[] = {"vma-bind-both", "vma-bind-remote", "vma-pmany-remote",
					   "task-bind-both", "task-pmany-both", "task-pmany-remote"};

/* The policy of a numa/policy cell, with MPOL_F_NUMA_BALANCING (the only user policies the
 * scanner looks at): on the region (mbind) or the task (set_mempolicy); nodes {X} or {X, Y} */
static int nb_policy(struct cell *c, enum nb_pol pol, const struct nb_where *w, char *p, size_t len)
{
	int remote = pol == NBL_VMA_BIND_REMOTE || pol == NBL_VMA_PMANY_REMOTE || pol == NBL_TASK_PMANY_REMOTE;
	int pmany = pol == NBL_VMA_PMANY_REMOTE || pol == NBL_TASK_PMANY_BOTH || pol == NBL_TASK_PMANY_REMOTE;
	int mode = (pmany ? MPOL_PREFERRED_MANY : MPOL_BIND) | MPOL_F_NUMA_BALANCING;
	unsigned long mask = (1UL << w->x) | (remote ? 0 : 1UL << w->y);
	long r;

	if (pol == NBL_DEFAULT)
		return 0;
	if (pol >= NBL_TASK_BIND_BOTH)
		r = syscall(SYS_set_mempolicy, mode, &mask, MG_MAXNODE);
	else
		r = syscall(SYS_mbind, p, len, mode, &mask, MG_MAXNODE, 0);
	if (r)
		cfail(c, "%s(%s | MPOL_F_NUMA_BALANCING, nodes %#lx): %s", pol >= NBL_TASK_BIND_BOTH ? "set_mempolicy" : "mbind",
		      pmany ? "MPOL_PREFERRED_MANY" : "MPOL_BIND", mask, strerror(errno));
	return r ? -1 : 0;
}

/* A THP region's premise: both halves still THPs (move_pages splits a THP it cannot place whole,
 * a pin may migrate it out of ZONE_MOVABLE): 0, or -1 with the cell skipped */
static int nb_thp_whole(struct cell *c, const char *after)
{
	if ((c->mem == THP || c->mem == THPTE) && !(is_thp(c->map) && is_thp(c->map + c->half))) {
		cskip(c, "after %s the region is not two THPs (pinned half %s, witness half %s): the cell would run on"
		      " small pages", after, is_thp(c->map) ? "THP" : "not THP", is_thp(c->map + c->half) ? "THP" : "not THP");
		return -1;
	}
	return 0;
}

/* What the counters must show of a balancing round (since s0) for its premise: a hinting fault
 * (policy remote: as many as the round waits for); a PMD-mapped THP region, both THPs marked
 * (numa_huge_pte_updates +2); shmem, as many PTE updates as the region has pages */
static int nb_premise(const struct nb_stat *s0, const struct nb_stat *s1, long need_hint, long need_huge, long need_pte)
{
	return s1->hint - s0->hint >= need_hint && s1->huge - s0->huge >= need_huge && s1->pte - s0->pte >= need_pte;
}

static void nb_balance(struct cell *c, enum mem m, enum nb_pin pin, enum nb_pol pol)
{
	struct nb_where w;
	struct nb_stat s0, s1;
	long n, half_n, p0 = pins_outstanding(), moved, stayed, first, k, iso0 = -1, need_hint, need_huge, need_pte;
	int *was = NULL, *now = NULL, pinned = 0, fds[2] = {-1, -1}, stay = 0;
	size_t vlen = SMALL_PAGES * PAGE;
	char *got = NULL;
	double t0, done_at = 0;

	c->mem = m;
	c->ev = NONE;
	if ((pin == NBP_URING || pin == NBP_GUP) && pinner_missing(c, pin == NBP_URING ? URING : GUP_FAST))
		return;
	if ((m == FILESH || m == FILEPR) && !ext4_dir) {
		cskip(c, "no ext4 directory given (-d)");
		return;
	}
	if (nb_place_cpu(c, &w) || nb_policy(c, pol >= NBL_TASK_BIND_BOTH ? pol : NBL_DEFAULT, &w, NULL, 0) || mem_map(c))
		goto out;
	n = (long)(2 * c->half / PAGE);
	half_n = n / 2;
	was = calloc(n, sizeof(int));
	now = calloc(n, sizeof(int));
	got = malloc(c->half);
	if (pol < NBL_TASK_BIND_BOTH && nb_policy(c, pol, &w, c->map, 2 * c->half))
		goto out;
	stay = pol == NBL_VMA_BIND_REMOTE || pol == NBL_VMA_PMANY_REMOTE || pol == NBL_TASK_PMANY_REMOTE;
	/* written after clear_refs: every page soft-dirty, which hints and migration must keep */
	if (!write_file("/proc/self/clear_refs", "4")) {
		cfail(c, "cannot write 4 to /proc/self/clear_refs: %s", strerror(errno));
		goto out;
	}
	fill64(c->map, 2 * c->half, 11);
	memcpy(c->exp, c->map, c->half);
	memcpy(c->wexp, c->map + c->half, c->half);
	if (m == FILESH && msync(c->map, 2 * c->half, MS_SYNC)) {  /* the scanner skips dirty file pages */
		cfail(c, "msync: %s", strerror(errno));
		goto out;
	}
	if (nb_move(c->map, n, w.x) != n) {
		nb_nodes(c->map, n, was);
		cskip(c, "move_pages placed %ld of %ld page(s) on node %d", nb_count(was, n, w.x), n, w.x);
		goto out;
	}
	if (nb_thp_whole(c, "move_pages"))
		goto out;
	if (pin == NBP_GUP || pin == NBP_URING) {
		if (pin_start(c, pin == NBP_URING ? URING : GUP_FAST, c->map, c->half))
			goto out;
		pinned = 1;
	} else if (pin == NBP_VMSPLICE) {
		struct iovec iov = {c->map, vlen};

		if (pipe(fds) || vmsplice(fds[1], &iov, 1, 0) != (ssize_t)vlen) {
			cfail(c, "pipe/vmsplice: %s", strerror(errno));
			goto out;
		}
		pinned = 1;
	}
	if (nb_thp_whole(c, "the pin"))
		goto unpin;
	if (nb_nodes(c->map, n, was)) {  /* a long-term pin moves pages out of ZONE_MOVABLE first */
		cfail(c, "move_pages (query): %s", strerror(errno));
		goto out;
	}
	need_hint = stay || m == THP ? (c->half >= HPAGE ? 2 : n) : 1;
	need_huge = m == THP ? 2 : 0;
	need_pte = m == SHMEM ? n : 0;
	iso0 = mg_isolated();
	nb_stats(&s0);
	nb_on(c);
	t0 = now_s();
	while (!c->failed[0] && now_s() - t0 < NB_SECONDS) {
		nb_touch(c->map, n);
		if (done_at) {
			nb_spin();
			nb_stats(&s1);
			/* the pinned pages' hinting faults too, and the premise's counters */
			if (now_s() - done_at > 0.2 && nb_premise(&s0, &s1, need_hint, need_huge, need_pte))
				break;
			continue;
		}
		nb_nodes(c->map, n, now);
		for (long i = moved = 0; i < n; i++)
			moved += now[i] == w.y;
		k = stay ? key_value("/proc/vmstat", "numa_hint_faults") - s0.hint >= (c->half >= HPAGE ? 2 : n)
			 : moved >= (pin == NBP_NONE ? n : n - half_n);
		if (k)
			done_at = now_s();
		nb_spin();  /* CPU time, not sleep: the scanner runs from the task's ticks */
	}
	nb_off();
	nb_stats(&s1);
	nb_nodes(c->map, n, now);
	printf("# %s: memory on node %d, CPU %d on node %d%s: %.2f s of balancing, numa_pte_updates +%ld"
	       " (huge +%ld), numa_hint_faults +%ld, numa_pages_migrated +%ld, thp_migration_fail +%ld;"
	       " on node %d now: %ld of %ld pinned-half page(s), %ld of %ld witness page(s)\n", c->name, w.x, w.cpu,
	       w.y, nb_slow ? " (the scanner's default knobs)" : "", now_s() - t0, s1.pte - s0.pte, s1.huge - s0.huge, s1.hint - s0.hint, s1.migrated - s0.migrated,
	       s1.thp_fail - s0.thp_fail, w.y, nb_count(now, half_n, w.y), half_n, nb_count(now + half_n, n - half_n, w.y),
	       n - half_n);
	if (c->failed[0])
		goto unpin;
	if (!nb_premise(&s0, &s1, need_hint, need_huge, need_pte)) {
		cskip(c, "the scanner did not hint the region in %.1f s: numa_hint_faults +%ld (%ld wanted),"
		      " numa_huge_pte_updates +%ld (%ld wanted), numa_pte_updates +%ld (%ld wanted)", NB_SECONDS,
		      s1.hint - s0.hint, need_hint, s1.huge - s0.huge, need_huge, s1.pte - s0.pte, need_pte);
		goto unpin;
	}
	/* where each page went: the pinned ones stay, the others follow the CPU (or their policy) */
	for (long i = moved = stayed = 0; i < n; i++) {
		int is_pinned = pinned && i < (pin == NBP_VMSPLICE ? (long)(vlen / PAGE) : half_n);

		if (is_pinned && now[i] != was[i]) {
			cfail(c, "pinned page %ld moved from node %d to %d under the %s pin (numa_pages_migrated +%ld)", i,
			      was[i], now[i], nbp_names[pin], s1.migrated - s0.migrated);
			goto unpin;
		}
		if (is_pinned || (pin == NBP_VMSPLICE && c->half >= HPAGE && i < half_n))
			continue;  /* (a THP with a vmspliced part stays whole) */
		moved += now[i] == w.y;
		stayed += now[i] == w.x;
	}
	if (stay && moved)
		cfail(c, "%ld page(s) moved to node %d, which the policy's nodes leave out (mpol_misplaced)", moved, w.y);
	else if (!stay && stayed && c->half >= HPAGE && s1.thp_fail > s0.thp_fail && !nb_free_thp_blocks(w.y))
		cskip(c, "%ld unpinned page(s) stayed on node %d: no free THP-sized block on node %d to migrate to"
		      " (/proc/buddyinfo; thp_migration_fail +%ld)", stayed, w.x, w.y, s1.thp_fail - s0.thp_fail);
	else if (!stay && stayed)
		cfail(c, "NUMA balancing left %ld unpinned page(s) on node %d in %.1f s, the CPU's node is %d"
		      " (numa_hint_faults +%ld, numa_pages_migrated +%ld)", stayed, w.x, NB_SECONDS, w.y,
		      s1.hint - s0.hint, s1.migrated - s0.migrated);
	else if (moved && s1.migrated - s0.migrated < moved)
		cfail(c, "%ld page(s) moved to node %d but numa_pages_migrated counts %ld", moved, w.y,
		      s1.migrated - s0.migrated);
	if (c->failed[0])
		goto unpin;
	if ((k = first_diff(c->map, c->exp, c->half)) >= 0 || (k = first_diff(c->map + c->half, c->wexp, c->half)) >= 0) {
		cfail(c, "after the hinting faults the process reads other data (byte %ld of the %s half)", k,
		      first_diff(c->map, c->exp, c->half) >= 0 ? "first" : "witness");
		goto unpin;
	}
	if ((k = nb_not_soft_dirty(c->map, n, &first)))
		cfail(c, "%ld page(s) written after clear_refs lost their soft-dirty bit across hinting faults and migration"
		      " (first: page %ld)", k, first);
	if (m == FILESH) {
		check_disk(c, c->exp, 0, "the pinned half");
		check_disk(c, c->wexp, (off_t)c->half, "the witness half");
	}
	/* both ways through the pin: a pinned page that moved would split the two */
	fill64(c->map, c->half, 12);
	memcpy(c->exp, c->map, c->half);
	if (pin == NBP_GUP || pin == NBP_URING) {
		enum pin p = pin == NBP_URING ? URING : GUP_FAST;

		if (pin_read(c, p, c->map, got))
			goto unpin;
		if ((k = first_diff(got, c->exp, c->half)) >= 0) {
			cfail(c, "after NUMA balancing the pin does not read the process's write (byte %ld)", k);
			goto unpin;
		}
		fill64(got, c->half, 13);
		/* (gup_test has no write side: pin_write() returns 0) */
		if (pin_write(c, p, c->map, got) > 0 && (k = first_diff(c->map, got, c->half)) >= 0)
			cfail(c, "after NUMA balancing the process does not read what was written through the pin (byte %ld)", k);
	} else if (pin == NBP_VMSPLICE) {
		for (size_t off = 0; off < vlen; off += (size_t)k) {
			k = read(fds[0], got + off, vlen - off);
			if (k <= 0) {
				cfail(c, "reading the pipe: %s", strerror(errno));
				goto unpin;
			}
		}
		if ((k = first_diff(got, c->exp, vlen)) >= 0)
			cfail(c, "after NUMA balancing the pipe does not read the process's write to the spliced pages (byte %ld)", k);
	}
unpin:
	if (pinned && pin != NBP_VMSPLICE)
		pin_stop(c, pin == NBP_URING ? URING : GUP_FAST);
	close_pair(fds);
	if (pins_settle(p0) != p0)
		cfail(c, "%ld pin(s) outstanding after the unpin", pins_settle(p0) - p0);
	if (!c->failed[0] && !c->skip[0] && (m == ANON || m == THP || m == THPTE || m == FILEPR || m == SHMEM))
		nb_refs_back(c, c->map, 2 * c->half, iso0, "NUMA balancing and the unpin");
out:
	nb_off();
	mem_unmap(c);
	free(was);
	free(now);
	free(got);
}

static void nb_balance_cell(struct cell *c, int k) { nb_balance(c, nb_bals[k].m, nb_bals[k].p, NBL_DEFAULT); }
static void nb_policy_cell(struct cell *c, int k) { nb_balance(c, ANON, NBP_NONE, nb_pols[k]); }

/* -- numa/protnone: entries that meet PTEs the scanner just made PROT_NONE -------------------- */

enum nb_entry { NBE_GUP_FAST, NBE_GUP_SLOW, NBE_GUP_RO, NBE_URING, NBE_DIO_READ, NBE_DIO_WRITE, NBE_PVM_READV,
		NBE_PVM_WRITEV, NBE_FORK, NBE_FORK_URING, NBE_MPROTECT, NBE_THP_GUP, NBE_THP_GUP_RO };
static const char *const nb_entry_names[] = {"gup-fast", "gup-slow", "gup-ro", "uring", "dio-read", "dio-write",
					     "pvm-readv", "pvm-writev", "fork", "fork-uring", "mprotect", "thp-gup",
					     "thp-gup-ro"};

/* A read-only long-term pin (GUP follows a PROT_NONE PTE without faulting it), then the process
 * writes (its hinting fault on a pinned page: the migration must fail) and reads through the pin */
static void nb_ro_pin(struct cell *c)
{
	struct pin_longterm_test args = {.addr = (uintptr_t)c->map, .size = c->half, .flags = PIN_LONGTERM_TEST_FLAG_USE_FAST};
	char *got = malloc(c->half);
	long d;

	if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args)) {
		cfail(c, "PIN_LONGTERM_TEST_START read-only: %s", strerror(errno));
		free(got);
		return;
	}
	if (!pin_read(c, GUP_RO, c->map, got) && (d = first_diff(got, c->exp, c->half)) >= 0)
		cfail(c, "the read-only pin of PROT_NONE-hinted pages reads other data than they held (byte %ld)", d);
	fill64(c->map, c->half, 2);  /* the hinting fault of a pinned page */
	memcpy(c->exp, c->map, c->half);
	if (!c->failed[0] && !pin_read(c, GUP_RO, c->map, got) && (d = first_diff(got, c->exp, c->half)) >= 0)
		cfail(c, "after its hinting fault the pinned page is not the process's: the pin reads other data (byte %ld)", d);
	pin_stop(c, GUP_RO);
	if (!c->failed[0] && (d = first_diff(c->map + c->half, c->wexp, c->half)) >= 0)
		cfail(c, "the witness half reads other data after its hinting faults (byte %ld)", d);
	free(got);
}

/* fork over hinted PTEs: the child reads the parent's bytes and writes its own copy; the parent
 * then reads its own bytes, unchanged, and writes */
static void nb_fork(struct cell *c)
{
	size_t len = 2 * c->half;
	pid_t pid = cell_fork();
	long d;
	int st = 0;

	if (pid == 0) {
		char *mine = malloc(len);

		if (first_diff(c->map, c->exp, c->half) >= 0 || first_diff(c->map + c->half, c->wexp, c->half) >= 0)
			_exit(6);
		fill64(c->map, len, 9);
		fill64(mine, len, 9);
		_exit(memcmp(mine, c->map, len) ? 3 : 0);
	}
	if (pid < 0) {
		cfail(c, "fork: %s", strerror(errno));
		return;
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		if (WIFEXITED(st) && WEXITSTATUS(st) == 6)
			cfail(c, "the child of a fork over PROT_NONE-hinted PTEs reads other data than the parent held");
		else if (WIFEXITED(st) && WEXITSTATUS(st) == 3)
			cfail(c, "the child of a fork over PROT_NONE-hinted PTEs does not read back its write to its copy");
		else
			cfail(c, "the child of the fork ended with status 0x%x", st);
		return;
	}
	if ((d = first_diff(c->map, c->exp, c->half)) >= 0 || (d = first_diff(c->map + c->half, c->wexp, c->half)) >= 0)
		cfail(c, "after the child wrote its copy the parent reads other data (byte %ld)", d);
	fill64(c->map, len, 10);
	fill64(c->exp, c->half, 10);
	if ((d = first_diff(c->map, c->exp, c->half)) >= 0)
		cfail(c, "the parent does not read back its own write after the fork (byte %ld)", d);
}

static void nb_mprotect(struct cell *c)
{
	size_t len = 2 * c->half;
	long d;

	if (mprotect(c->map, len, PROT_READ)) {
		cfail(c, "mprotect PROT_READ: %s", strerror(errno));
		return;
	}
	if ((d = first_diff(c->map, c->exp, c->half)) >= 0 || (d = first_diff(c->map + c->half, c->wexp, c->half)) >= 0) {
		cfail(c, "read-only after the hint, the region reads other data (byte %ld)", d);
		return;
	}
	if (mprotect(c->map, len, PROT_READ | PROT_WRITE)) {
		cfail(c, "mprotect back: %s", strerror(errno));
		return;
	}
	fill64(c->map, c->half, 10);
	fill64(c->exp, c->half, 10);
	if ((d = first_diff(c->map, c->exp, c->half)) >= 0)
		cfail(c, "after mprotect over hinted PTEs the process does not read back its write (byte %ld)", d);
}

/* The premise of a protnone cell, from the region's own pages rather than the global counters
 * (which other memory moves): balancing is off since the marking, so only a hinting fault of the
 * region moves its witness pages (p, n pages) from X to the CPU's node (a pinned page may move
 * for its pin alone, out of ZONE_MOVABLE). None moved: SKIP, saying what the counters said. */
static void nb_witness_hinted(struct cell *c, const struct nb_where *w, char *p, long n, const struct nb_stat *s1,
			      const struct nb_stat *s2, const char *during)
{
	int *nd = calloc(n, sizeof(int));
	long k;

	if (!nd || nb_nodes(p, n, nd))
		cfail(c, "move_pages (query): %s", strerror(errno));
	else if (!(k = nb_count(nd, n, w->y)))
		cskip(c, "no witness page moved to node %d during %s and its checks: the region's PTEs were not hinted"
		      " (numa_hint_faults +%ld, thp_migration_fail +%ld: other memory's or a failed move)", w->y, during,
		      s2->hint - s1->hint, s2->thp_fail - s1->thp_fail);
	else
		printf("# %s: %ld of %ld witness page(s) moved to node %d by their hinting faults\n", c->name, k, n, w->y);
	free(nd);
}

static void nb_protnone_cell(struct cell *c, int k)
{
	enum nb_entry e = k;
	int thp = e == NBE_THP_GUP || e == NBE_THP_GUP_RO;
	struct nb_where w;
	struct nb_stat s0, s1, s2;
	long n, p0 = pins_outstanding(), iso0, want;
	double t0;

	c->mem = thp ? THP : ANON;
	c->ev = e == NBE_FORK_URING ? FORK : NONE;
	if (e <= NBE_URING || e >= NBE_FORK_URING) {
		if (e != NBE_MPROTECT && pinner_missing(c, (e == NBE_URING || e == NBE_FORK_URING) ? URING : GUP_FAST))
			return;
	}
	if ((e == NBE_DIO_READ || e == NBE_DIO_WRITE) && !ext4_dir) {
		cskip(c, "no ext4 directory given (-d)");
		return;
	}
	if (nb_place_cpu(c, &w) || mem_map(c))
		goto out;
	n = (long)(2 * c->half / PAGE);
	if (nb_move(c->map, n, w.x) != n) {
		cskip(c, "move_pages placed fewer than %ld page(s) on node %d", n, w.x);
		goto out;
	}
	/* the scanner marks the region while the process spins beside it */
	want = thp ? 2 : n;
	nb_stats(&s0);
	nb_on(c);
	for (t0 = now_s(); now_s() - t0 < NB_SECONDS;) {
		nb_spin();
		if ((thp ? key_value("/proc/vmstat", "numa_huge_pte_updates") - s0.huge
			 : vmstat("numa_pte_updates") - s0.pte) >= want)
			break;
	}
	nb_off();
	nb_stats(&s1);
	printf("# %s: memory on node %d, CPU %d on node %d%s: %.2f s spinning, numa_pte_updates +%ld (huge +%ld),"
	       " numa_hint_faults +%ld\n", c->name, w.x, w.cpu, w.y, nb_slow ? " (the scanner's default knobs)" : "", now_s() - t0, s1.pte - s0.pte, s1.huge - s0.huge,
	       s1.hint - s0.hint);
	if ((thp ? s1.huge - s0.huge : s1.pte - s0.pte) < want) {
		cskip(c, "the scanner did not mark the region in %.1f s (numa_pte_updates +%ld, huge +%ld)", NB_SECONDS,
		      s1.pte - s0.pte, s1.huge - s0.huge);
		goto out;
	}
	iso0 = mg_isolated();
	if (e == NBE_MPROTECT)  /* mprotect drops the hints it meets: the last page's read shows them */
		nb_touch(c->map + (n - 1) * PAGE, 1);
	switch (e) {
	case NBE_GUP_FAST:
	case NBE_THP_GUP:
		held_cell(c, GUP_FAST);
		break;
	case NBE_GUP_SLOW:
		held_cell(c, GUP_SLOW);
		break;
	case NBE_URING:
	case NBE_FORK_URING:
		held_cell(c, URING);
		break;
	case NBE_GUP_RO:
	case NBE_THP_GUP_RO:
		nb_ro_pin(c);
		break;
	case NBE_DIO_READ:
	case NBE_DIO_WRITE:
		transient_cell(c, DIO_EXT4, e == NBE_DIO_READ);
		break;
	case NBE_PVM_READV:
	case NBE_PVM_WRITEV:
		transient_cell(c, PVM, e == NBE_PVM_WRITEV);
		break;
	case NBE_FORK:
		nb_fork(c);
		break;
	case NBE_MPROTECT:
		nb_mprotect(c);
		break;
	}
	nb_stats(&s2);
	printf("# %s: numa_hint_faults +%ld, numa_pages_migrated +%ld during %s and its checks\n", c->name,
	       s2.hint - s1.hint, s2.migrated - s1.migrated, nb_entry_names[e]);
	if (c->failed[0])
		goto out;
	if (pins_settle(p0) != p0)
		cfail(c, "%ld pin(s) outstanding after %s", pins_settle(p0) - p0, nb_entry_names[e]);
	if (!c->failed[0] && !c->skip[0])
		nb_witness_hinted(c, &w, c->map + c->half, n - n / 2, &s1, &s2, e == NBE_MPROTECT ? "the probe read" :
				  nb_entry_names[e]);
	if (!c->failed[0] && !c->skip[0])
		nb_refs_back(c, c->map, 2 * c->half, iso0, nb_entry_names[e]);
out:
	nb_off();
	mem_unmap(c);
}

/* -- numa/alloc: where the allocation policies put new pages --------------------------------- */

enum nb_alloc { NBA_PMANY_ANON, NBA_PMANY_THP, NBA_HOME, NBA_WI, NBA_WI_TASK, NBA_HUGE_MOVE };
static const char *const nb_alloc_names[] = {"preferred-many-anon", "preferred-many-thp", "home-node",
					     "weighted-interleave", "weighted-interleave-task", "hugetlb-move"};

/* A region of 2 * half bytes made a cell's (as mem_map() would), filled (faulted in) with seed 1 */
static void nb_adopt(struct cell *c, char *map, size_t half)
{
	c->map = c->cur = map;
	c->half = half;
	c->mapped = 1;
	c->exp = malloc(half);
	c->wexp = malloc(half);
	fill64(map, 2 * half, 1);
	memcpy(c->exp, map, half);
	memcpy(c->wexp, map + half, half);
}

/* The weights of weighted interleave, node X 3 and node Y 1 (put back by cell_in_child() when the
 * child is gone, however it ended) */
static int nb_wi_weights(struct cell *c, const struct nb_where *w, int wx, int wy)
{
	char path[96], v[8];
	int nodes[2] = {w->x, w->y}, wt[2] = {wx, wy};

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), NB_WI "%d", nodes[i]);
		snprintf(v, sizeof(v), "%d", wt[i]);
		if (access(path, F_OK)) {
			cskip(c, "no %s (6.9+, CONFIG_NUMA)", path);
			return -1;
		}
		if (cell_knob(c, path, v, NULL))
			return -1;
	}
	return 0;
}

static long nb_node_free_huge(int node)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/hugepages/hugepages-2048kB/free_hugepages", node);
	return read_long(path);
}

/* hugetlb-move: queue_folios_hugetlb() isolates each huge page of the range; the pinned one cannot
 * move and must be put back, the other must reach X */
static void nb_huge_move(struct cell *c, const struct nb_where *w)
{
	long fx = nb_node_free_huge(w->x), fy = nb_node_free_huge(w->y), p0 = pins_outstanding(), r, d;
	unsigned long mask = 1UL << w->x;
	int node[2] = {-1, -1};
	char *map, *got = malloc(HPAGE);

	c->mem = HUGE;
	if (fx < 1 || fy < 2) {
		cskip(c, "free hugetlb pages: node %d %ld, node %d %ld (one and two wanted)", w->x, fx, w->y, fy);
		goto out;
	}
	map = mmap(NULL, 2 * HPAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (map == MAP_FAILED) {
		cskip(c, "mmap MAP_HUGETLB: %s", strerror(errno));
		goto out;
	}
	nb_adopt(c, map, HPAGE);
	syscall(SYS_move_pages, 0, 1, (void *[]){map}, NULL, &node[0], 0);
	syscall(SYS_move_pages, 0, 1, (void *[]){map + HPAGE}, NULL, &node[1], 0);
	if (node[0] != w->y || node[1] != w->y) {
		cskip(c, "the huge pages faulted on nodes %d and %d, not on the CPU's %d", node[0], node[1], w->y);
		goto out;
	}
	if (pinner_missing(c, GUP_FAST) || pin_start(c, GUP_FAST, map, HPAGE))
		goto out;
	syscall(SYS_move_pages, 0, 1, (void *[]){map}, NULL, &node[0], 0);  /* the pin may have moved it */
	r = syscall(SYS_mbind, map, 2 * HPAGE, MPOL_BIND, &mask, MG_MAXNODE, MPOL_MF_MOVE);
	{
		int now[2] = {-1, -1};

		syscall(SYS_move_pages, 0, 1, (void *[]){map}, NULL, &now[0], 0);
		syscall(SYS_move_pages, 0, 1, (void *[]){map + HPAGE}, NULL, &now[1], 0);
		printf("# %s: mbind MPOL_MF_MOVE to node %d: %s; the pinned huge page node %d -> %d, the other %d -> %d\n",
		       c->name, w->x, r ? strerror(errno) : "0", node[0], now[0], w->y, now[1]);
		if (r)
			cfail(c, "mbind(MPOL_BIND, node %d, MPOL_MF_MOVE) over hugetlb with a pinned page: %s", w->x,
			      strerror(errno));
		else if (now[0] != node[0])
			cfail(c, "the pinned huge page moved from node %d to %d", node[0], now[0]);
		else if (now[1] != w->x)
			cfail(c, "the unpinned huge page stayed on node %d (mbind MPOL_MF_MOVE to %d)", now[1], w->x);
	}
	if (!c->failed[0] && ((d = first_diff(map, c->exp, HPAGE)) >= 0 || (d = first_diff(map + HPAGE, c->wexp, HPAGE)) >= 0))
		cfail(c, "after mbind MPOL_MF_MOVE the process reads other data (byte %ld)", d);
	fill64(map, HPAGE, 2);
	memcpy(c->exp, map, HPAGE);
	if (!c->failed[0] && !pin_read(c, GUP_FAST, map, got) && (d = first_diff(got, c->exp, HPAGE)) >= 0)
		cfail(c, "the pin does not read the process's write after mbind (byte %ld)", d);
	pin_stop(c, GUP_FAST);
	if (pins_settle(p0) != p0)
		cfail(c, "%ld pin(s) outstanding after the unpin", pins_settle(p0) - p0);
	munmap(map, 2 * HPAGE);
	c->map = NULL;
	for (int i = 0; i < 500 && (nb_node_free_huge(w->x) != fx || nb_node_free_huge(w->y) != fy); i++)
		usleep(20 * 1000);  /* 10 s: freed at once, but a loaded TCG guest stalls for seconds */
	if (!c->failed[0] && (nb_node_free_huge(w->x) != fx || nb_node_free_huge(w->y) != fy))
		cfail(c, "free huge pages node %d %ld -> %ld, node %d %ld -> %ld after the unmap: a huge page still held",
		      w->x, fx, nb_node_free_huge(w->x), w->y, fy, nb_node_free_huge(w->y));
out:
	free(got);
}

static void nb_alloc_cell(struct cell *c, int k)
{
	enum nb_alloc a = k;
	struct nb_where w;
	unsigned long mx, both;
	long n, onx = 0, r;
	int *node = NULL;
	char *map = NULL, *ctl = NULL;

	c->mem = ANON;
	c->ev = NONE;
	if (nb_place_cpu(c, &w))
		return;
	mx = 1UL << w.x;
	both = mx | 1UL << w.y;
	switch (a) {
	case NBA_PMANY_ANON:
	case NBA_PMANY_THP:
		if (syscall(SYS_set_mempolicy, MPOL_PREFERRED_MANY, &mx, MG_MAXNODE)) {
			cfail(c, "set_mempolicy(MPOL_PREFERRED_MANY, node %d): %s", w.x, strerror(errno));
			return;
		}
		c->mem = a == NBA_PMANY_THP ? THP : ANON;
		if (mem_map(c))
			goto out;
		break;
	case NBA_HOME:
		map = map_aligned(2 * SMALL_PAGES * PAGE, PAGE, -1);
		ctl = map_aligned(2 * SMALL_PAGES * PAGE, PAGE, -1);
		if (!map || !ctl || syscall(SYS_mbind, map, 2 * SMALL_PAGES * PAGE, MPOL_BIND, &both, MG_MAXNODE, 0) ||
		    syscall(SYS_mbind, ctl, 2 * SMALL_PAGES * PAGE, MPOL_BIND, &both, MG_MAXNODE, 0)) {
			cfail(c, "mmap/mbind(MPOL_BIND): %s", strerror(errno));
			goto out;
		}
		if (syscall(__NR_set_mempolicy_home_node, map, 2 * SMALL_PAGES * PAGE, w.x, 0)) {
			cfail(c, "set_mempolicy_home_node(node %d): %s", w.x, strerror(errno));
			goto out;
		}
		/* its refusals: flags, an offline node, a VMA whose policy has no home node */
		if (syscall(__NR_set_mempolicy_home_node, map, PAGE, w.x, 1) != -1 || errno != EINVAL)
			cfail(c, "set_mempolicy_home_node with flags 1 did not fail with EINVAL");
		else if (syscall(__NR_set_mempolicy_home_node, map, PAGE, 63, 0) != -1 || errno != EINVAL)
			cfail(c, "set_mempolicy_home_node to offline node 63 did not fail with EINVAL");
		else if (syscall(SYS_mbind, ctl + SMALL_PAGES * PAGE, SMALL_PAGES * PAGE, MPOL_INTERLEAVE, &both, MG_MAXNODE, 0) ||
			 syscall(__NR_set_mempolicy_home_node, ctl + SMALL_PAGES * PAGE, PAGE, w.x, 0) != -1 ||
			 errno != EOPNOTSUPP)
			cfail(c, "set_mempolicy_home_node over an MPOL_INTERLEAVE VMA did not fail with EOPNOTSUPP");
		if (c->failed[0])
			goto out;
		nb_adopt(c, map, SMALL_PAGES * PAGE);
		memset(ctl, 1, SMALL_PAGES * PAGE);  /* the control: MPOL_BIND {X, Y} alone, local first */
		map = NULL;
		break;
	case NBA_WI:
	case NBA_WI_TASK:
		if (nb_wi_weights(c, &w, 3, 1))
			goto out;
		if (a == NBA_WI_TASK) {
			if (syscall(SYS_set_mempolicy, MPOL_WEIGHTED_INTERLEAVE, &both, MG_MAXNODE)) {
				cfail(c, "set_mempolicy(MPOL_WEIGHTED_INTERLEAVE): %s", strerror(errno));
				goto out;
			}
			map = map_aligned(4 * SMALL_PAGES * PAGE, PAGE, -1);
		} else {
			map = map_aligned(4 * SMALL_PAGES * PAGE, PAGE, -1);
			if (map && syscall(SYS_mbind, map, 4 * SMALL_PAGES * PAGE, MPOL_WEIGHTED_INTERLEAVE, &both, MG_MAXNODE, 0)) {
				cfail(c, "mbind(MPOL_WEIGHTED_INTERLEAVE): %s", strerror(errno));
				goto out;
			}
		}
		if (!map) {
			cfail(c, "mmap: %s", strerror(errno));
			goto out;
		}
		nb_adopt(c, map, 2 * SMALL_PAGES * PAGE);
		map = NULL;
		if (a == NBA_WI_TASK)
			syscall(SYS_set_mempolicy, 0, NULL, 0);  /* MPOL_DEFAULT for what follows */
		break;
	case NBA_HUGE_MOVE:
		nb_huge_move(c, &w);
		goto out;
	}
	n = (long)(2 * c->half / PAGE);
	node = calloc(n, sizeof(int));
	if (nb_nodes(c->map, n, node)) {
		cfail(c, "move_pages (query): %s", strerror(errno));
		goto out;
	}
	onx = nb_count(node, n, w.x);
	if (a == NBA_WI) {
		/* page i's node: weighted_interleave_nid(), its index in the VMA's pgoff (the page
		 * number of an anonymous VMA's address) walked over nodes 0, 1 by their weights */
		int wt[2];

		wt[w.x] = 3;
		wt[w.y] = 1;
		for (long i = 0; i < n; i++) {
			unsigned long ilx = ((uintptr_t)c->map / PAGE + i) % 4;
			int want = ilx < (unsigned long)wt[0] ? 0 : 1;

			if (node[i] != want) {
				cfail(c, "page %ld (index %lu) is on node %d, weighted interleave (node %d weight 3, node %d"
				      " weight 1) puts it on %d", i, (unsigned long)((uintptr_t)c->map / PAGE + i), node[i], w.x,
				      w.y, want);
				break;
			}
		}
	} else if (a == NBA_WI_TASK) {
		if (onx < 3 * n / 4 - 2 || onx > 3 * n / 4 + 2)
			cfail(c, "%ld of %ld page(s) on node %d, weighted interleave 3:1 puts %ld there (page tables may"
			      " take a turn or two)", onx, n, w.x, 3 * n / 4);
	} else if (onx != n) {
		cfail(c, "%ld of %ld page(s) on node %d, which the %s policy names, from a CPU of node %d", onx, n, w.x,
		      a == NBA_HOME ? "home node of the MPOL_BIND" : "MPOL_PREFERRED_MANY", w.y);
	}
	if (a == NBA_HOME && !c->failed[0]) {
		int cn[2 * SMALL_PAGES];

		if (!nb_nodes(ctl, SMALL_PAGES, cn) && nb_count(cn, SMALL_PAGES, w.x) == SMALL_PAGES)
			cskip(c, "without a home node the MPOL_BIND {%d, %d} control landed on node %d too: the home node"
			      " made no difference", w.x, w.y, w.x);
	}
	printf("# %s: CPU %d on node %d, %ld of %ld page(s) on node %d\n", c->name, w.cpu, w.y, onx, n, w.x);
	if (c->failed[0] || c->skip[0])
		goto out;
	r = mg_isolated();
	held_cell(c, URING);  /* pinned, both ways, unpinned */
	if (!c->failed[0])
		nb_refs_back(c, c->map, 2 * c->half, r, "the pin");
out:
	if (a != NBA_HUGE_MOVE)
		mem_unmap(c);
	if (map)
		munmap(map, 4 * SMALL_PAGES * PAGE);
	if (ctl)
		munmap(ctl, 2 * SMALL_PAGES * PAGE);
	free(node);
}

/* -- race/numa-pin-vs-balancing ---------------------------------------------------------- */

struct nb_race {
	char *buf;
	long n;
	int x;
	atomic_int stop;
	atomic_long moves, touches;
};

static void *nb_mover(void *arg)
{
	struct nb_race *r = arg;

	while (!atomic_load(&r->stop)) {
		atomic_fetch_add(&r->moves, nb_move(r->buf, r->n, r->x) > 0);
		for (int i = 0; i < 20 && !atomic_load(&r->stop); i++) {
			nb_touch(r->buf, r->n);
			atomic_fetch_add(&r->touches, 1);
			usleep(1000);
		}
	}
	return NULL;
}

static double nb_race_secs;

static void nb_race_body(struct cell *c, int k)
{
	static struct nb_race r;
	struct nb_where w;
	struct nb_stat s0, s1;
	long p0 = pins_outstanding(), rounds = 0, refused = 0, d, iso0;
	size_t half = SMALL_PAGES * PAGE;
	char *got = malloc(half), *wexp = malloc(half);
	pthread_t t;
	int thread = 0;
	double t0 = now_s();

	(void)k;
	c->mem = ANON;
	if (pinner_missing(c, GUP_FAST) || nb_place_cpu(c, &w))
		goto out;
	memset(&r, 0, sizeof(r));
	r.n = 2 * SMALL_PAGES;
	r.x = w.x;
	r.buf = map_aligned(2 * half, PAGE, MADV_NOHUGEPAGE);
	if (!r.buf) {
		cfail(c, "mmap: %s", strerror(errno));
		goto out;
	}
	c->half = half;
	fill64(r.buf, 2 * half, 1);
	memcpy(wexp, r.buf + half, half);
	iso0 = mg_isolated();
	nb_stats(&s0);
	nb_on(c);
	if ((errno = pthread_create(&t, NULL, nb_mover, &r))) {
		cfail(c, "pthread_create: %s", strerror(errno));
		goto off;
	}
	thread = 1;
	for (t0 = now_s(); now_s() - t0 < nb_race_secs + (nb_slow ? 1 : 0) && !c->failed[0]; rounds++) {
		struct pin_longterm_test args = {.addr = (uintptr_t)r.buf, .size = half,
						 .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE | PIN_LONGTERM_TEST_FLAG_USE_FAST};

		if (ioctl(gup_fd, PIN_LONGTERM_TEST_START, &args)) {
			if (errno == ENOMEM) {  /* a ZONE_MOVABLE page's migration failed (the mover's) */
				refused++;
				continue;
			}
			cfail(c, "round %ld: PIN_LONGTERM_TEST_START: %s", rounds, strerror(errno));
			break;
		}
		fill64(r.buf, half, 100 + (unsigned)rounds);
		if (!pin_read(c, GUP_FAST, r.buf, got) && (d = first_diff(got, r.buf, half)) >= 0)
			cfail(c, "round %ld: the pin does not read the process's write (byte %ld): a pinned page moved", rounds, d);
		pin_stop(c, GUP_FAST);
	}
	atomic_store(&r.stop, 1);
	pthread_join(t, NULL);
	thread = 0;
off:
	nb_off();
	nb_stats(&s1);
	printf("# %s: %.1f s%s, %ld pin rounds (%ld refused with ENOMEM), %ld move rounds, %ld touches; numa_pte_updates +%ld,"
	       " numa_hint_faults +%ld, numa_pages_migrated +%ld\n", c->name, now_s() - t0,
	       nb_slow ? " (the scanner's default knobs: a first scan after 1 s)" : "", rounds, refused,
	       atomic_load(&r.moves), atomic_load(&r.touches), s1.pte - s0.pte, s1.hint - s0.hint, s1.migrated - s0.migrated);
	if (pins_settle(p0) != p0)
		cfail(c, "%ld pin(s) outstanding after the race", pins_settle(p0) - p0);
	if (!c->failed[0] && (d = first_diff(r.buf + half, wexp, half)) >= 0)
		cfail(c, "the unpinned half reads other data after the race (byte %ld)", d);
	if (!c->failed[0])
		nb_refs_back(c, r.buf, 2 * half, iso0, "the race");
	if (!c->failed[0] && s1.migrated == s0.migrated)
		cskip(c, "no page migrated by a hinting fault (numa_pages_migrated unchanged)");
	else if (!c->failed[0] && rounds - refused < 2)
		cskip(c, "fewer than two pins were taken");
out:
	if (thread) {
		atomic_store(&r.stop, 1);
		pthread_join(t, NULL);
	}
	if (r.buf)
		munmap(r.buf, 2 * half);
	free(got);
	free(wexp);
}

/* -- the block -------------------------------------------------------------------------------- */

static void nb_run(const char *prefix, const char *const *names, int n, void (*body)(struct cell *c, int k), int scanner)
{
	for (int k = 0; k < n; k++) {
		struct cell c = {.fd = -1};
		double began = now_s();

		snprintf(c.name, sizeof(c.name), "%s%s", prefix, names[k]);
		if (!BLOCK_WANTED(c.name, nb_quick) || !begins(c.name))
			continue;
		nb_in_child(&c, body, k, scanner);
		verdict(&c, began);
	}
}

static void numa_cells(void)
{
	nb_run("numa/balance/", nb_bal_names, sizeof(nb_bal_names) / sizeof(nb_bal_names[0]), nb_balance_cell, 1);
	nb_run("numa/policy/", nb_pol_names, sizeof(nb_pol_names) / sizeof(nb_pol_names[0]), nb_policy_cell, 1);
	nb_run("numa/protnone/", nb_entry_names, sizeof(nb_entry_names) / sizeof(nb_entry_names[0]), nb_protnone_cell, 1);
	nb_run("numa/alloc/", nb_alloc_names, sizeof(nb_alloc_names) / sizeof(nb_alloc_names[0]), nb_alloc_cell, 0);
}

static void numa_race(double secs)
{
	const char *name = "race/numa-pin-vs-balancing";
	struct cell c = {.fd = -1};
	double began = now_s();

	snprintf(c.name, sizeof(c.name), "%s", name);
	if (!wanted(name) || !begins(name))
		return;
	nb_race_secs = secs;
	nb_in_child(&c, nb_race_body, 0, 1);
	verdict(&c, began);
}
