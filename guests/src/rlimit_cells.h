/* rlimit/<entry>/<memory>: the RLIMIT_MEMLOCK path of the long-term pinners (issue 20, error
 * paths). A caller without CAP_IPC_LOCK is charged for what io_uring and AF_XDP pin
 * (io_uring/rsrc.c io_buffer_account_pin(), after the pages are pinned; net/xdp/xdp_umem.c
 * xdp_umem_account_pages(), before), and a charge over the limit must fail the call and give
 * back every pin it took. Root runs every other cell, so none of them reaches this path.
 * Part of pin_matrix.c (struct cell, verdict(), pinlib.h's counters), after xdp_cells.h.
 *
 * Each cell forks a child that drops CAP_IPC_LOCK (capset: uid stays 0, so files and the
 * AF_XDP socket's CAP_NET_RAW still work), sets RLIMIT_MEMLOCK to RL_LIMIT, and registers a
 * buffer larger than that: the call must fail (io_uring ENOMEM, AF_XDP ENOBUFS) with the
 * FOLL_PIN counters where they were. On anon memory the child first registers RL_SMALL
 * (under the limit): it must succeed and give its pins back when unregistered, which shows
 * the charge is there and not already used up by someone else (else SKIP). The parent checks
 * the counters again after the child is gone: a pin the error path kept outlives the process.
 */
#include <linux/capability.h>
#include <sys/resource.h>

#define RL_LIMIT (64 * 1024)       /* the child's RLIMIT_MEMLOCK */
#define RL_SMALL (4 * PAGE)        /* a registration under it */
#define RL_BIG (32 * PAGE)         /* small pages: over it; THP and hugetlb take a 2 MiB page */

static const char *const rlimit_quick[] = {"rlimit/uring/anon", "rlimit/uring/thp", "rlimit/xdp/anon"};

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

/* One registration by the child: 0 or -errno. entry 0: an io_uring fixed buffer (registered
 * and unregistered again on success), 1: an AF_XDP UMEM (on a socket of its own, closed). */
static int rl_register(int entry, struct io_uring *r, char *addr, size_t len)
{
	struct iovec iov = {addr, len};
	int fd, ret;

	if (entry == 0) {
		ret = io_uring_register_buffers(r, &iov, 1);
		if (!ret)
			io_uring_unregister_buffers(r);
		return ret;
	}
	fd = socket(AF_XDP, SOCK_RAW, 0);
	if (fd < 0)
		return -errno;
	ret = umem_reg(fd, addr, len, 2048, 0);
	close(fd);
	return ret;
}

static void rl_child(int entry, enum mem m, struct rl_note *n)
{
	static const char *const what[] = {"io_uring_register_buffers", "XDP_UMEM_REG"};
	const int refused = entry == 0 ? ENOMEM : ENOBUFS;
	struct rlimit lim = {RL_LIMIT, RL_LIMIT};
	struct io_uring r;
	size_t len = m == ANON ? RL_BIG : HPAGE;
	char *buf;
	long p0;
	int ret;

	if (drop_ipc_lock() || setrlimit(RLIMIT_MEMLOCK, &lim)) {
		rl_say(n, 1, "cannot drop CAP_IPC_LOCK or set RLIMIT_MEMLOCK: %s", strerror(errno));
		return;
	}
	if (entry == 1 && (ret = socket(AF_XDP, SOCK_RAW, 0)) < 0) {
		rl_say(n, 2, "socket(AF_XDP): %s", strerror(errno));
		return;
	}
	if (entry == 1)
		close(ret);
	if (entry == 0 && (ret = io_uring_queue_init(4, &r, 0))) {  /* ctx->user: charged from here on */
		rl_say(n, 2, "io_uring_queue_init: %s", strerror(-ret));
		return;
	}
	if (m == HUGE)
		buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	else
		buf = map_aligned(len, m == THP ? HPAGE : PAGE, m == THP ? MADV_HUGEPAGE : -1);
	if (!buf || buf == MAP_FAILED) {
		rl_say(n, 2, "cannot map %zu bytes of %s memory", len, mem_names[m]);
		return;
	}
	memset(buf, 7, len);
	if (m == THP && !is_thp(buf)) {
		rl_say(n, 2, "no THP behind the buffer (kpageflags)");
		return;
	}
	p0 = pins_outstanding();
	if (m == ANON) {
		ret = rl_register(entry, &r, buf, RL_SMALL);
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
	ret = rl_register(entry, &r, buf, len);
	if (!ret)
		rl_say(n, 1, "%s of %zu KiB granted over a %d KiB RLIMIT_MEMLOCK without CAP_IPC_LOCK", what[entry],
		       len / 1024, RL_LIMIT / 1024);
	else if (ret != -refused)
		rl_say(n, 1, "%s of %zu KiB over the limit: %s, not %s", what[entry], len / 1024, strerror(-ret),
		       strerror(refused));
	else if (pins_settle(p0) != p0)
		rl_say(n, 1, "%ld pin(s) outstanding after %s of %zu KiB was refused over RLIMIT_MEMLOCK",
		       pins_settle(p0) - p0, what[entry], len / 1024);
}

static void rlimit_cells(void)
{
	static const char *const entries[] = {"uring", "xdp"};
	static const enum mem mems[] = {ANON, THP, HUGE};

	for (int entry = 0; entry < 2; entry++)
		for (size_t i = 0; i < sizeof(mems) / sizeof(mems[0]); i++) {
			struct cell c = {.fd = -1, .mem = mems[i], .ev = NONE};
			struct rl_note *n;
			double began = now_s();
			long p0;
			pid_t kid;
			int st;

			snprintf(c.name, sizeof(c.name), "rlimit/%s/%s", entries[entry], mem_names[mems[i]]);
			if (!rlimit_wanted(c.name) || !begins(c.name))
				continue;
			if (entry == 0 && !ring_ok) {
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
				rl_child(entry, mems[i], n);
				_exit(0);
			}
			if (kid < 0 || waitpid(kid, &st, 0) != kid)
				cfail(&c, "fork/waitpid: %s", strerror(errno));
			else if (!WIFEXITED(st) || WEXITSTATUS(st))
				cfail(&c, "the child ended with status 0x%x", st);
			else if (n->status == 1)
				cfail(&c, "%s", n->msg);
			else if (entry == 1 && n->status == 2 && strstr(n->msg, "socket"))
				kentry_missing(&c, "xdp", n->msg);
			else if (n->status == 2)
				cskip(&c, "%s", n->msg);
			if (!c.failed[0] && pins_settle(p0) != p0)
				cfail(&c, "%ld pin(s) outstanding after the child that registered over RLIMIT_MEMLOCK exited",
				      pins_settle(p0) - p0);
			munmap(n, sizeof(*n));
			verdict(&c, began);
		}
}
