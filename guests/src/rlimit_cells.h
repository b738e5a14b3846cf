/* rlimit/<entry>/<memory>: the RLIMIT_MEMLOCK path of the long-term pinners (issue 20, error
 * paths). A caller without CAP_IPC_LOCK is charged for what it pins: io_uring
 * (io_uring/rsrc.c io_buffer_account_pin(), after the pages are pinned: user->locked_vm and
 * mm->pinned_vm), AF_XDP (net/xdp/xdp_umem.c xdp_umem_account_pages(), before:
 * user->locked_vm), iommufd (drivers/iommu/iommufd/pages.c do_update_pinned(), after:
 * user->locked_vm and mm->pinned_vm; "iommufd-mm": IOMMU_OPTION_RLIMIT_MODE 1, the VFIO way,
 * mm->locked_vm through mm/util.c __account_locked_vm()). A charge over the limit must fail
 * the call and give back every pin and every charge it took. Root runs every other cell, so
 * none of them reaches this path. (RDMA's ib_umem_get() charge: guests/rxe_mr.py.)
 * Part of pin_matrix.c (struct cell, verdict(), pinlib.h's counters), after iommufd_cells.h.
 *
 * Each cell forks a child that drops CAP_IPC_LOCK (capset: uid stays 0, so files, the AF_XDP
 * socket's CAP_NET_RAW and iommufd's CAP_SYS_RESOURCE still work), sets RLIMIT_MEMLOCK to
 * RL_LIMIT, and registers a buffer larger than that: the call must fail (ENOMEM; AF_XDP
 * ENOBUFS) with the FOLL_PIN counters where they were. On anon memory the child first
 * registers RL_SMALL (under the limit): it must succeed and give its pins back when
 * unregistered, which shows the charge is there and not already used up by someone else
 * (else SKIP). Before the refusal the child finds the most of other anon memory it is granted
 * (RL_LIMIT, less what the user is charged already: newer kernels charge an io_uring's rings
 * too); after it, that much must be granted again: a charge the refusal or a release kept
 * would refuse it. At the end the
 * child's VmPin and VmLck (/proc/self/status: mm->pinned_vm, mm->locked_vm) are where they
 * started. The parent checks the counters again after the child is gone: a pin the error
 * path kept outlives the process.
 */
#include <linux/capability.h>
#include <sys/resource.h>

#define RL_LIMIT (64 * 1024)       /* the child's RLIMIT_MEMLOCK */
#define RL_SMALL (4 * PAGE)        /* a registration under it */
#define RL_BIG (32 * PAGE)         /* small pages: over it; THP and hugetlb take a 2 MiB page */

enum rl_entry { RL_URING, RL_XDP, RL_IOMMUFD, RL_IOMMUFD_MM, NRL };
static const char *const rl_names[NRL] = {"uring", "xdp", "iommufd", "iommufd-mm"};
static const char *const rlimit_quick[] = {"rlimit/uring/anon", "rlimit/uring/thp", "rlimit/xdp/anon",
					   "rlimit/iommufd/anon", "rlimit/iommufd-mm/anon"};

static int rlimit_wanted(const char *name) { return BLOCK_WANTED(name, rlimit_quick); }

struct rl_note {
	int status;  /* 0 pass, 1 fail, 2 skip */
	char msg[240];
};

static void rl_say(struct rl_note *n, int status, const char *fmt, ...)
{
	va_list ap;

	if (n->status)
		return;  /* the first word stands */
	n->status = status;
	va_start(ap, fmt);
	vsnprintf(n->msg, sizeof(n->msg), fmt, ap);
	va_end(ap);
}

static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -1;
	d[0].effective &= ~(1u << CAP_IPC_LOCK);
	d[0].permitted &= ~(1u << CAP_IPC_LOCK);
	d[0].inheritable &= ~(1u << CAP_IPC_LOCK);
	return (int)syscall(SYS_capset, &h, d);
}

/* what a child registers with: its ring, or its iommufd with an IOAS and a mock domain */
struct rl_ctx {
	struct io_uring r;
	struct iofd io;
};

/* One registration by the child, released again on success: 0 or -errno. */
static int rl_register(enum rl_entry entry, struct rl_ctx *x, char *addr, size_t len)
{
	struct iovec iov = {addr, len};
	int fd, ret;

	switch (entry) {
	case RL_URING:
		ret = io_uring_register_buffers(&x->r, &iov, 1);
		if (!ret)
			io_uring_unregister_buffers(&x->r);
		return ret;
	case RL_XDP:
		fd = socket(AF_XDP, SOCK_RAW, 0);
		if (fd < 0)
			return -errno;
		ret = umem_reg(fd, addr, len, 2048, 0);
		close(fd);
		return ret;
	default:  /* the mock domain makes IOAS_MAP pin (and charge) at once */
		ret = io_map(&x->io, addr, len, 1);
		if (!ret)
			io_unmap(&x->io, x->io.iova, len, NULL);
		return ret;
	}
}

/* The child's entry, set up: 0, or a note (2: the kernel lacks it) and -1 */
static int rl_open(enum rl_entry entry, struct rl_ctx *x, struct rl_note *n)
{
	struct iommu_ioas_alloc a = {.size = sizeof(a)};
	struct iommu_option o = {.size = sizeof(o), .option_id = IOMMU_OPTION_RLIMIT_MODE, .op = IOMMU_OPTION_OP_SET,
				 .val64 = 1};
	struct iommu_test_cmd cmd = {.op = IOMMU_TEST_OP_MOCK_DOMAIN};
	int ret;

	switch (entry) {
	case RL_URING:  /* ctx->user: charged from here on */
		if ((ret = io_uring_queue_init(4, &x->r, 0)))
			rl_say(n, 2, "io_uring_queue_init: %s", strerror(-ret));
		return ret ? -1 : 0;
	case RL_XDP:
		if ((ret = socket(AF_XDP, SOCK_RAW, 0)) < 0) {
			rl_say(n, 2, "socket(AF_XDP): %s", strerror(errno));
			return -1;
		}
		close(ret);
		return 0;
	default:
		x->io.afd = -1;
		if ((x->io.fd = open("/dev/iommu", O_RDWR)) < 0) {
			rl_say(n, 2, "open /dev/iommu: %s", strerror(errno));
			return -1;
		}
		/* the mode is the context's, set while it holds no object (ioas.c: -EBUSY after) */
		if (entry == RL_IOMMUFD_MM && ioctl(x->io.fd, IOMMU_OPTION, &o)) {
			rl_say(n, 1, "IOMMU_OPTION_RLIMIT_MODE 1 with CAP_SYS_RESOURCE: %s", strerror(errno));
			return -1;
		}
		if (ioctl(x->io.fd, IOMMU_IOAS_ALLOC, &a)) {
			rl_say(n, 1, "IOMMU_IOAS_ALLOC: %s", strerror(errno));
			return -1;
		}
		x->io.ioas = cmd.id = a.out_ioas_id;
		if ((ret = io_test(&x->io, &cmd))) {
			rl_say(n, ret == -ENOTTY ? 2 : 1, "IOMMU_TEST_OP_MOCK_DOMAIN: %s", strerror(-ret));
			return -1;
		}
		return 0;
	}
}

/* rl_register(), tried again for up to 2 s while it is refused: a released registration may give
 * its charge back later (6.12 releases an AF_XDP UMEM from RCU and then a work item, unpinning
 * before it uncharges: xdp_umem_release()); a charge really kept never comes back. */
static int rl_register_patient(enum rl_entry entry, struct rl_ctx *x, char *addr, size_t len, int refused)
{
	int ret = rl_register(entry, x, addr, len);

	for (int i = 0; i < 20 && ret == -refused; i++) {
		usleep(100 * 1000);
		ret = rl_register(entry, x, addr, len);
	}
	return ret;
}

/* The most pages of whole (RL_LIMIT bytes) a registration is granted, from the top: 0 none,
 * -1 when one failed otherwise (said in n) */
static int rl_most(enum rl_entry entry, struct rl_ctx *x, char *whole, int refused, struct rl_note *n)
{
	for (int k = RL_LIMIT / PAGE; k > 0; k--) {
		int ret = k == RL_LIMIT / PAGE ? rl_register_patient(entry, x, whole, (size_t)k * PAGE, refused)
					       : rl_register(entry, x, whole, (size_t)k * PAGE);

		if (!ret)
			return k;
		if (ret != -refused) {
			rl_say(n, 1, "a registration of %d KiB under RLIMIT_MEMLOCK: %s", k * PAGE / 1024, strerror(-ret));
			return -1;
		}
	}
	return 0;
}

/* VmPin or VmLck of the calling process, in kB; -1 unknown */
static long vm_kb(const char *key)
{
	char line[128];
	size_t k = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, k) && line[k] == ':')
			v = strtol(line + k + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static void rl_child(enum rl_entry entry, enum mem m, struct rl_note *n)
{
	static const char *const what[NRL] = {"io_uring_register_buffers", "XDP_UMEM_REG", "IOAS_MAP", "IOAS_MAP"};
	const int refused = entry == RL_XDP ? ENOBUFS : ENOMEM;
	struct rlimit lim = {RL_LIMIT, RL_LIMIT};
	struct rl_ctx x;
	size_t len = m == ANON ? RL_BIG : HPAGE;
	char *buf, *whole;
	long p0, pin0, lck0;
	int ret, most;

	if (drop_ipc_lock() || setrlimit(RLIMIT_MEMLOCK, &lim)) {
		rl_say(n, 1, "cannot drop CAP_IPC_LOCK or set RLIMIT_MEMLOCK: %s", strerror(errno));
		return;
	}
	if (rl_open(entry, &x, n))
		return;
	if (m == HUGE)
		buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	else
		buf = map_aligned(len, m == THP ? HPAGE : PAGE, m == THP ? MADV_HUGEPAGE : -1);
	whole = map_aligned(RL_LIMIT, PAGE, -1);
	if (!buf || buf == MAP_FAILED || !whole) {
		rl_say(n, 2, "cannot map %zu bytes of %s memory", len, mem_names[m]);
		return;
	}
	memset(buf, 7, len);
	memset(whole, 8, RL_LIMIT);
	if (m == THP && !is_thp(buf)) {
		rl_say(n, 2, "no THP behind the buffer (kpageflags)");
		return;
	}
	p0 = pins_outstanding();
	pin0 = vm_kb("VmPin");
	lck0 = vm_kb("VmLck");
	if (m == ANON) {
		ret = rl_register(entry, &x, buf, RL_SMALL);
		if (ret == -refused) {
			rl_say(n, 2, "%s of %d KiB under a %d KiB RLIMIT_MEMLOCK refused: the user's charge is used up"
			       " elsewhere", what[entry], RL_SMALL / 1024, RL_LIMIT / 1024);
			return;
		}
		if (ret)
			rl_say(n, 1, "%s of %d KiB under a %d KiB RLIMIT_MEMLOCK: %s", what[entry], RL_SMALL / 1024,
			       RL_LIMIT / 1024, strerror(-ret));
		else if (pins_settle(p0) != p0)
			rl_say(n, 1, "%ld pin(s) outstanding after %s of %d KiB was released", pins_settle(p0) - p0,
			       what[entry], RL_SMALL / 1024);
	}
	if ((most = rl_most(entry, &x, whole, refused, n)) <= 0) {
		if (!most)
			rl_say(n, 2, "no %s of even one page is granted under a %d KiB RLIMIT_MEMLOCK: the user's charge"
			       " is used up elsewhere", what[entry], RL_LIMIT / 1024);
		return;
	}
	ret = rl_register(entry, &x, buf, len);
	if (!ret)
		rl_say(n, 1, "%s of %zu KiB granted over a %d KiB RLIMIT_MEMLOCK without CAP_IPC_LOCK", what[entry],
		       len / 1024, RL_LIMIT / 1024);
	else if (ret != -refused)
		rl_say(n, 1, "%s of %zu KiB over the limit: %s, not %s", what[entry], len / 1024, strerror(-ret),
		       strerror(refused));
	else if (pins_settle(p0) != p0)
		rl_say(n, 1, "%ld pin(s) outstanding after %s of %zu KiB was refused over RLIMIT_MEMLOCK",
		       pins_settle(p0) - p0, what[entry], len / 1024);
	if ((ret = rl_register_patient(entry, &x, whole, (size_t)most * PAGE, refused)))
		rl_say(n, 1, "%s of %d KiB, granted before the refusal, refused after it for 2 s (%s): a charge was kept",
		       what[entry], most * PAGE / 1024, strerror(-ret));
	else if (pins_settle(p0) != p0)
		rl_say(n, 1, "%ld pin(s) outstanding after %s of %d KiB was released", pins_settle(p0) - p0, what[entry],
		       most * PAGE / 1024);
	if (vm_kb("VmPin") != pin0 || vm_kb("VmLck") != lck0)
		rl_say(n, 1, "VmPin %+ld kB, VmLck %+ld kB after every registration was released or refused (a charge"
		       " of mm->pinned_vm or mm->locked_vm not given back)", vm_kb("VmPin") - pin0, vm_kb("VmLck") - lck0);
}

static void rlimit_cells(void)
{
	static const enum mem mems[] = {ANON, THP, HUGE};
	int failed_before = 0;  /* rlimit cells failed so far: a charge they kept may be what a later one lacks */

	for (int entry = 0; entry < NRL; entry++)
		for (size_t i = 0; i < sizeof(mems) / sizeof(mems[0]); i++) {
			struct cell c = {.fd = -1, .mem = mems[i], .ev = NONE};
			struct rl_note *n;
			double began = now_s();
			long p0;
			pid_t kid;
			int st;

			snprintf(c.name, sizeof(c.name), "rlimit/%s/%s", rl_names[entry], mem_names[mems[i]]);
			if (!rlimit_wanted(c.name) || !begins(c.name))
				continue;
			if (entry == RL_URING && !ring_ok) {
				cskip(&c, "no io_uring");
				verdict(&c, began);
				continue;
			}
			n = mmap(NULL, sizeof(*n), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
			if (n == MAP_FAILED) {
				cfail(&c, "mmap: %s", strerror(errno));
				verdict(&c, began);
				continue;
			}
			memset(n, 0, sizeof(*n));
			p0 = pins_outstanding();
			kid = cell_fork();
			if (kid == 0) {
				rl_child((enum rl_entry)entry, mems[i], n);
				_exit(0);
			}
			if (kid < 0 || waitpid(kid, &st, 0) != kid)
				cfail(&c, "fork/waitpid: %s", strerror(errno));
			else if (!WIFEXITED(st) || WEXITSTATUS(st))
				cfail(&c, "the child ended with status 0x%x", st);
			else if (n->status == 1)
				cfail(&c, "%s", n->msg);
			else if (entry == RL_XDP && n->status == 2 && strstr(n->msg, "socket"))
				kentry_missing(&c, "xdp", n->msg);
			else if (entry >= RL_IOMMUFD && n->status == 2 && strstr(n->msg, "iommu"))
				kentry_missing(&c, "iommufd", n->msg);
			else if (n->status == 2 && strstr(n->msg, "used up elsewhere") && !failed_before)
				/* root's other registrations are not charged (CAP_IPC_LOCK) and no rlimit cell
				 * failed before: nothing else of this user holds a charge */
				cfail(&c, "%s, but no earlier rlimit cell failed and root charges nothing: the kernel keeps a"
				      " charge or refuses what it must grant", n->msg);
			else if (n->status == 2)
				cskip(&c, "%s", n->msg);
			if (!c.failed[0] && pins_settle(p0) != p0)
				cfail(&c, "%ld pin(s) outstanding after the child that registered over RLIMIT_MEMLOCK exited",
				      pins_settle(p0) - p0);
			munmap(n, sizeof(*n));
			failed_before += c.failed[0] != 0;
			verdict(&c, began);
		}
}
