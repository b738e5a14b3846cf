/* User-page borrowers outside gup_test, io_uring fixed buffers, O_DIRECT, process_vm, vmsplice
 * and RDMA (issue 20 of `issues`). Part of pin_matrix.c (uses its struct cell, verdict(),
 * first_diff(), fill64(), pin_start()/pin_read(), is_thp()): one block of its own, entered by
 * borrow_cells() from main. docs/matrix.md "Other borrowers" says what each cell checks and why.
 *
 * borrow/force-<how>/<memory>: FOLL_FORCE writes through access_remote_vm()
 * (get_user_pages_remote(FOLL_FORCE | FOLL_WRITE)): how = self-mem (this process writes its own
 * /proc/self/mem), child-mem (/proc/<child>/mem), poke (PTRACE_POKEDATA into a traced child).
 * Every cell forks: the written process must read the new bytes (and the same through
 * /proc/self/mem), the other process, the file (after drop_caches) or the memfd keep the old
 * ones (Dirty COW's class); a read-only MAP_SHARED mapping or a read-only hugetlb mapping must
 * refuse the write (EIO: check_vma_flags() in mm/gup.c says -EFAULT, mem_rw() and
 * generic_ptrace_pokedata() turn "nothing copied" into -EIO).
 *
 * borrow/zc-<tcp|udp|uring>/<memory>: MSG_ZEROCOPY sends (and io_uring IORING_OP_SEND_ZC) over
 * loopback: the receiver must get the bytes of send time, the buffer is changed only after the
 * completion notification, then sent again; no page of it may stay held (pages_held()).
 * Loopback makes a deferred copy (Documentation/networking/msg_zerocopy.rst, "Loopback"): the
 * TCP cells hold the data in the sender's queue with a small receive window, so the kernel
 * holds user pages (seen with pages_held(): the premise) until the receiver reads. In the TCP
 * cells net/core/datagram.c zerocopy_fill_skb_from_iter() never coalesced the pages of one
 * folio into one frag (it then drops the references of the pages it merged): its line counts
 * in the default set of round 3 (docs/redteam.md) show that branch ran 0 times, the small
 * window keeping each skb small; zc-udp/thp sends datagrams of 4 pages of a THP, which are
 * coalesced (24 times in its run, the same counts).
 *
 * borrow/futex/<memory> (get_futex_key() borrows the page of a shared futex) and
 * borrow/proc-cmdline/child (access_remote_vm() of a child's argument and environment pages).
 *
 * The read side (PTRACE_PEEKDATA, a futex through a read-only mapping, setproctitle,
 * PTRACE_SINGLESTEP) is in borrow_reads.h, entered at the end of borrow_cells().
 */
#include <linux/errqueue.h>
#include <linux/futex.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ptrace.h>
#include <sys/socket.h>

#ifndef SO_ZEROCOPY
#define SO_ZEROCOPY 60
#endif
#ifndef MSG_ZEROCOPY
#define MSG_ZEROCOPY 0x4000000
#endif
#ifndef IORING_SEND_ZC_REPORT_USAGE  /* include/uapi/linux/io_uring.h (6.12); liburing 2.3 lacks them */
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

/* The default set's borrow cells, 5.6 s of TCG guest time together (the read side's six 1.4 s of
 * it, the two perf-phys cells 0.17 s; docs/matrix.md); the rest (the other ways to write each kind, the ext4 THP cells that skip
 * on 6.12, the other memory kinds of the read side) run in pin-matrix-deep. */
static const char *const borrow_quick[] = {
	"borrow/force-self-mem/ext4-private", "borrow/force-self-mem/anon-fork",
	"borrow/force-self-mem/shmem-private", "borrow/force-self-mem/hugetlb-private",
	"borrow/force-self-mem/ext4-shared", "borrow/force-self-mem/shmem-shared",
	"borrow/force-self-mem/anon-uring-pinned",
	"borrow/force-child-mem/anon-fork", "borrow/force-child-mem/hugetlb-fork",
	"borrow/force-poke/ext4-private", "borrow/force-poke/anon-gup-pinned",
	"borrow/zc-tcp/anon", "borrow/zc-tcp/thp", "borrow/zc-tcp/shmem", "borrow/zc-tcp/ext4-shared",
	"borrow/zc-tcp/anon-fork", "borrow/zc-tcp/anon-munmap", "borrow/zc-udp/anon", "borrow/zc-udp/thp", "borrow/zc-uring/anon",
	"borrow/futex/shmem", "borrow/futex/ext4-shared", "borrow/proc-cmdline/child",
	"borrow/peek/anon-swapped", "borrow/peek/anon-uring-pinned", "borrow/peek/prot-none", "borrow/futex-ro/shmem",
	"borrow/proc-cmdline/proctitle", "borrow/singlestep/anon-swapped",
	"borrow/perf-phys/anon/cow-fork", "borrow/perf-phys/hugetlb/write-ro",
	"borrow/tcp-zc-recv/zc-anon", "borrow/tcp-zc-recv/send-anon", "borrow/tcp-zc-recv/sendfile-ext4",
	"borrow/tcp-zc-recv/splice-memfd", "borrow/tcp-zc-recv/vmsplice-anon",
};

static int borrow_wanted(const char *name) { return BLOCK_WANTED(name, borrow_quick); }

/* Whether the cell runs now: 0 when it is not wanted or only listed (-l prints its name). */
static int borrow_runs(const char *name)
{
	return borrow_wanted(name) && begins(name);
}

/* No page of [addr, addr+len) may stay held once the borrower is done (the reference oracle). */
static void borrow_refs(struct cell *c, char *addr, size_t len, const char *what)
{
	char why[200];
	long first, h = pages_held(addr, len, 1000, &first, why, sizeof(why));

	if (h < 0)
		cskip(c, "no page-reference check of %s: %s", what, why);
	else if (h > 0)
		cfail(c, "%ld page(s) of %s still held after %s (first: page %ld; a leaked reference or pin: they do not migrate)",
		      h, what, c->name, first);
}

static void borrow_pins(struct cell *c, long p0)
{
	long now = pins_settle(p0);

	if (now != p0)
		cfail(c, "%ld pin(s) outstanding after the borrower was done (FOLL_PIN counters)", now - p0);
}

/* A cell's end: its mapping (NULL: none) and file gone, the FOLL_PIN counters back to p0, the verdict. */
static void cell_finish(struct cell *c, char *map, size_t len, long p0, double began)
{
	if (map)
		munmap(map, len);
	cell_file_close(c);
	borrow_pins(c, p0);
	verdict(c, began);
}

/* -- FOLL_FORCE writes ------------------------------------------------------------------------ */

enum fhow { H_SELF, H_CHILD, H_POKE, NFHOW };
static const char *const fhow_names[NFHOW] = {"force-self-mem", "force-child-mem", "force-poke"};
enum fmem { F_EXT4, F_EXT4_THP, F_ANON, F_SHMEM, F_HUGE_RO, F_HUGE_RW, F_EXT4_SH, F_SHMEM_SH, F_GUP_PINNED,
	    F_URING_PINNED, NFMEM };
static const char *const fmem_names[NFMEM] = {"ext4-private", "ext4-private-thp", "anon-fork", "shmem-private",
					      "hugetlb-private", "hugetlb-fork", "ext4-shared", "shmem-shared",
					      "anon-gup-pinned", "anon-uring-pinned"};

/* the write must be refused: read-only MAP_SHARED (not a COW mapping), read-only hugetlb */
static int force_refused(enum fmem m) { return m == F_HUGE_RO || m == F_EXT4_SH || m == F_SHMEM_SH; }

#define F_OFF (PAGE - 504)   /* the write: 8-byte aligned (POKEDATA), over three pages */
#define F_LEN (PAGE + 1000)

/* The write of new bytes into pid's [at, at+F_LEN): 0, or -errno of the first failure. */
static int force_write(enum fhow h, pid_t pid, char *at, const char *src)
{
	char path[64];
	ssize_t r;
	int fd;

	if (h == H_POKE) {
		for (size_t i = 0; i < F_LEN; i += 8) {
			long w;

			memcpy(&w, src + i, 8);
			if (ptrace(PTRACE_POKEDATA, pid, at + i, (void *)w))
				return -errno;
		}
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/%d/mem", h == H_SELF ? getpid() : pid);
	fd = open(path, O_RDWR);
	if (fd < 0)
		return -errno;
	r = pwrite(fd, src, F_LEN, (off_t)(uintptr_t)at);
	close(fd);
	return r == F_LEN ? 0 : r < 0 ? -errno : -ENOSPC;  /* a short write: the model is off */
}

/* In the written or the other process: compare the mapping with want, and what /proc/self/mem
 * reads of its first 4 pages (the written range and a page after it; a page a call under TCG, so
 * not all of a 2 MiB page) with what the process sees; "" or why. */
static void force_look(const char *map, size_t len, const char *want, char *why, size_t n)
{
	size_t mlen = len < 4 * PAGE ? len : 4 * PAGE;
	char *seen = malloc(mlen);
	int fd = open("/proc/self/mem", O_RDONLY);
	long d;

	why[0] = 0;
	if ((d = first_diff(map, want, len)) >= 0)
		snprintf(why, n, "reads other bytes at %ld (%s)", d,
			 d >= F_OFF && d < F_OFF + F_LEN ? "in the written range" : "outside the written range");
	else if (fd < 0 || pread(fd, seen, mlen, (off_t)(uintptr_t)map) != (ssize_t)mlen)
		snprintf(why, n, "cannot read itself through /proc/self/mem: %s", strerror(errno));
	else if ((d = first_diff(seen, map, mlen)) >= 0)
		snprintf(why, n, "/proc/self/mem reads other bytes than the process sees at %ld", d);
	if (fd >= 0)
		close(fd);
	free(seen);
}

static void force_cell(enum fhow h, enum fmem m)
{
	struct cell c = {.mem = ANON, .fd = -1};
	double began = now_s();
	int large = m == F_EXT4_THP || m == F_HUGE_RO || m == F_HUGE_RW;
	size_t len = large ? HPAGE : 4 * PAGE;
	int p2c[2] = {-1, -1}, c2p[2] = {-1, -1}, st, err = 0, refused = force_refused(m);
	char *map = NULL, *old = malloc(len), *neww = malloc(len), *src = malloc(F_LEN), why[300] = "";
	char *raw = NULL;
	long p0;
	enum pin pin = m == F_GUP_PINNED ? GUP_FAST : URING;
	int pinned = 0;
	pid_t kid = -1, target;

	snprintf(c.name, sizeof(c.name), "borrow/%s/%s", fhow_names[h], fmem_names[m]);
	if (!borrow_runs(c.name))
		goto free;
	p0 = pins_outstanding();  /* after begins(): the output written out first */
	fill64(old, len, 21);
	fill64(src, F_LEN, 22);
	memcpy(neww, old, len);
	memcpy(neww + F_OFF, src, F_LEN);
	if ((m == F_EXT4 || m == F_EXT4_THP || m == F_EXT4_SH) && !ext4_dir) {
		cskip(&c, "no ext4 directory given (-d)");
		goto out;
	}
	if (m == F_GUP_PINNED && gup_fd < 0) {
		cskip(&c, "no /sys/kernel/debug/gup_test");
		goto out;
	}
	/* the memory, read-only but where the kind says otherwise (hugetlb-fork: writable, the
	 * write needs no force but must still break COW with the child) */
	switch (m) {
	case F_EXT4:
	case F_EXT4_THP:
	case F_EXT4_SH:
		snprintf(c.path, sizeof(c.path), "%s/borrow.%d", ext4_dir, getpid());
		c.fd = open(c.path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (c.fd < 0 || pwrite(c.fd, old, len, 0) != (ssize_t)len || fsync(c.fd)) {
			cfail(&c, "cannot write %s: %s", c.path, strerror(errno));
			goto out;
		}
		if (m == F_EXT4_THP) {  /* a 2 MiB-aligned range, so that a large folio could be mapped by a PMD */
			raw = mmap(NULL, 2 * HPAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			map = mmap((char *)(((uintptr_t)raw + HPAGE - 1) & ~(HPAGE - 1)), len, PROT_READ,
				   MAP_PRIVATE | MAP_FIXED, c.fd, 0);
			madvise(map, len, MADV_HUGEPAGE);
		} else {
			map = mmap(NULL, len, PROT_READ, m == F_EXT4_SH ? MAP_SHARED : MAP_PRIVATE, c.fd, 0);
		}
		break;
	case F_SHMEM:
	case F_SHMEM_SH:
		c.fd = memfd_create("borrow", 0);
		if (c.fd < 0 || pwrite(c.fd, old, len, 0) != (ssize_t)len) {
			cfail(&c, "cannot make the memfd: %s", strerror(errno));
			goto out;
		}
		map = mmap(NULL, len, PROT_READ, m == F_SHMEM_SH ? MAP_SHARED : MAP_PRIVATE, c.fd, 0);
		break;
	case F_HUGE_RO:
	case F_HUGE_RW:
		map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (map == MAP_FAILED) {
			map = NULL;
			cskip(&c, "no hugetlb page (mmap MAP_HUGETLB: %s)", strerror(errno));
			goto out;
		}
		memcpy(map, old, len);
		if (m == F_HUGE_RO)
			mprotect(map, len, PROT_READ);
		break;
	default:  /* private anonymous, pinned or not */
		map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (map == MAP_FAILED)
			break;
		memcpy(map, old, len);
		if (m == F_GUP_PINNED || m == F_URING_PINNED) {
			c.half = len;
			if (pin_start(&c, pin, map, len))
				goto out;
			pinned = 1;
		}
		mprotect(map, len, PROT_READ);
		break;
	}
	if (map == MAP_FAILED || !map) {
		map = NULL;
		cfail(&c, "cannot map the memory: %s", strerror(errno));
		goto out;
	}
	if (first_diff(map, old, len) >= 0) {  /* faults every page in: read-only PTEs the write meets */
		cfail(&c, "the mapping does not read what was put there");
		goto out;
	}
	if (m == F_EXT4_THP && !is_thp(map)) {
		cskip(&c, "no large folio behind a read-only MAP_PRIVATE ext4 mapping (kpageflags: ext4 on 6.12 has no large folios, CONFIG_READ_ONLY_THP_FOR_FS is off)");
		goto out;
	}
	if (pipe(p2c) || pipe(c2p)) {
		cfail(&c, "pipe: %s", strerror(errno));
		goto out;
	}
	kid = cell_fork();
	if (kid == 0) {
		/* the child: traced for poke; waits for the word, then looks at its copy */
		char b, cwhy[300];
		int target_me = h != H_SELF && !refused;

		/* fork copies no page table of a file mapping without anonymous pages: fault its
		 * pages in, so that the write meets present read-only PTEs here too */
		if (first_diff(map, old, len) >= 0)
			_exit(8);
		if (h == H_POKE && ptrace(PTRACE_TRACEME, 0, 0, 0))
			_exit(7);
		if (h == H_POKE)
			raise(SIGSTOP);
		else if (write(c2p[1], "r", 1) != 1)
			_exit(6);
		if (read(p2c[0], &b, 1) != 1)
			_exit(6);
		force_look(map, len, target_me ? neww : old, cwhy, sizeof(cwhy));
		if (cwhy[0])
			dprintf(c2p[1], "the %s process %s", target_me ? "written (child)" : "other (child)", cwhy);
		else if (target_me && !large && m != F_GUP_PINNED && m != F_URING_PINNED) {
			/* its written pages are its own now (COW copies): none may stay held */
			long first, held = pages_held(map, 3 * PAGE, 1000, &first, cwhy, sizeof(cwhy));

			if (held > 0)
				dprintf(c2p[1], "%ld written page(s) of the child still held after the write (first %ld)", held,
					first);
		}
		_exit(0);
	}
	if (kid < 0) {
		cfail(&c, "fork: %s", strerror(errno));
		goto out;
	}
	target = h == H_SELF ? getpid() : kid;
	if (h != H_POKE && read(c2p[0], why, 1) != 1) {
		cfail(&c, "the child did not get ready");
		kill(kid, SIGKILL);
		goto reap;
	}
	if (h == H_POKE && (waitpid(kid, &st, WUNTRACED) != kid || !WIFSTOPPED(st))) {
		cfail(&c, "the child did not stop for the tracer (status 0x%x)", st);
		kill(kid, SIGKILL);
		goto reap;
	}
	err = force_write(h, target, map + F_OFF, src);
	if (h == H_POKE)
		ptrace(PTRACE_DETACH, kid, 0, 0);
	printf("# %s: the FOLL_FORCE write of %d bytes at %d %s\n", c.name, (int)F_LEN, (int)F_OFF,
	       err ? strerror(-err) : "went through");
	if (refused && !err)
		cfail(&c, "FOLL_FORCE wrote through a read-only %s mapping (must fail: mm/gup.c check_vma_flags())",
		      m == F_HUGE_RO ? "hugetlb" : "MAP_SHARED");
	else if (refused && err != -EIO)
		cfail(&c, "the refused write failed with %s, not EIO", strerror(-err));
	else if (!refused && err)
		cfail(&c, "the FOLL_FORCE write failed: %s", strerror(-err));
	/* this process: the written one for self-mem, else the other */
	force_look(map, len, h == H_SELF && !refused ? neww : old, why, sizeof(why));
	if (why[0])
		cfail(&c, "the %s process %s", h == H_SELF && !refused ? "written (parent)" : "other (parent)", why);
	if (pinned) {
		/* the pin holds the parent's pages: the write of self-mem went into them (an exclusive
		 * anonymous page is written in place), a child's write never */
		char *got = malloc(len);

		if (!pin_read(&c, pin, map, got) && first_diff(got, h == H_SELF ? neww : old, len) >= 0)
			cfail(&c, "the pin reads other bytes than the parent sees after the write");
		free(got);
	}
	if (write(p2c[1], "c", 1) != 1)
		cfail(&c, "cannot tell the child to look");
reap:
	close(c2p[1]);
	c2p[1] = -1;
	{
		ssize_t n = read(c2p[0], why, sizeof(why) - 1);

		why[n > 0 ? n : 0] = 0;
	}
	if (waitpid(kid, &st, 0) != kid)
		cfail(&c, "cannot reap the child");
	else if (why[0])
		cfail(&c, "%s", why);
	else if (!WIFEXITED(st) || WEXITSTATUS(st))
		cfail(&c, "the child ended with status 0x%x", st);
	kid = -1;
	if (pinned) {
		pin_stop(&c, pin);
		pinned = 0;
	}
	borrow_pins(&c, p0);
	if (!large)
		borrow_refs(&c, map, len, "the parent's mapping");
	else  /* hugetlb cannot migrate here (no per-node pool), a file THP would move whole */
		printf("# %s: no page-reference check of a 2 MiB page (the FOLL_PIN counters only)\n", c.name);
	/* the file (on disk, after drop_caches) or the memfd keep the old bytes */
	if (c.fd >= 0) {
		char *buf = NULL;
		int fd = -1;
		long d;

		munmap(map, len);
		map = NULL;
		if (c.path[0]) {
			drop_caches();
			fd = open(c.path, O_RDONLY | O_DIRECT);
		}
		if (posix_memalign((void **)&buf, PAGE, len) ||
		    pread(c.path[0] ? fd : c.fd, buf, len, 0) != (ssize_t)len) {
			cfail(&c, "cannot read the %s back: %s", c.path[0] ? "file" : "memfd", strerror(errno));
		} else if ((d = first_diff(buf, old, len)) >= 0) {
			/* said also when an earlier check failed first: the verdict keeps the first */
			printf("# %s: the %s changed at byte %ld\n", c.name, c.path[0] ? "file on disk" : "memfd", d);
			cfail(&c, "the %s changed at byte %ld (a FOLL_FORCE write reached the %s)",
			      c.path[0] ? "file on disk" : "memfd", d, c.path[0] ? "page cache" : "shmem page");
		} else {
			printf("# %s: the %s keeps its bytes\n", c.name, c.path[0] ? "file on disk (drop_caches, O_DIRECT)" : "memfd");
		}
		free(buf);
		if (fd >= 0)
			close(fd);
	}
out:
	if (kid > 0) {
		kill(kid, SIGKILL);
		waitpid(kid, &st, 0);
	}
	if (pinned)
		pin_stop(&c, pin);
	close_pair(p2c);
	close_pair(c2p);
	if (map)
		munmap(map, len);
	if (raw)
		munmap(raw, 2 * HPAGE);
	cell_file_close(&c);
	verdict(&c, began);
free:
	free(old);
	free(neww);
	free(src);
}

/* -- MSG_ZEROCOPY and IORING_OP_SEND_ZC over loopback ----------------------------------------- */

enum zhow { Z_TCP, Z_UDP, Z_URING, NZHOW };
static const char *const zhow_names[NZHOW] = {"zc-tcp", "zc-udp", "zc-uring"};
enum zmem { Z_ANON, Z_THP, Z_SHMEM, Z_EXT4, Z_FORK, Z_MUNMAP, NZMEM };
static const char *const zmem_names[NZMEM] = {"anon", "thp", "shmem", "ext4-shared", "anon-fork", "anon-munmap"};

#define Z_LEN (16 * PAGE)
#define Z_DGRAM (4 * PAGE)  /* UDP: 4 datagrams of 4 pages */

static void lo_up(void)
{
	struct ifreq ifr = {0};
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	snprintf(ifr.ifr_name, IFNAMSIZ, "lo");
	if (s >= 0 && !ioctl(s, SIOCGIFFLAGS, &ifr) && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr))
			printf("# borrow: cannot bring lo up: %s\n", strerror(errno));
	}
	if (s >= 0)
		close(s);
}

/* A connected loopback pair: snd (SO_ZEROCOPY) and rcv. TCP: the receiver's buffer is small, so
 * that sent data waits in the sender's queue (on the user pages) until the receiver reads. */
static int zc_pair(struct cell *c, int tcp, int *snd, int *rcv)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int one = 1, small = 4096, big = 1 << 20, l;

	*snd = *rcv = -1;
	l = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_RCVBUF, tcp ? &small : &big, sizeof(int)) ||
	    bind(l, (struct sockaddr *)&a, sizeof(a)) || getsockname(l, (struct sockaddr *)&a, &al) ||
	    (tcp && listen(l, 1))) {
		cfail(c, "cannot make a loopback %s socket: %s", tcp ? "TCP" : "UDP", strerror(errno));
		goto err;
	}
	*snd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (*snd < 0 || setsockopt(*snd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big))) {
		cfail(c, "socket: %s", strerror(errno));
		goto err;
	}
	if (setsockopt(*snd, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one))) {
		cskip(c, "SO_ZEROCOPY refused: %s", strerror(errno));
		goto err;
	}
	if (connect(*snd, (struct sockaddr *)&a, sizeof(a))) {
		cfail(c, "connect over loopback: %s", strerror(errno));
		goto err;
	}
	*rcv = tcp ? accept(l, NULL, NULL) : l;
	if (*rcv < 0) {
		cfail(c, "accept: %s", strerror(errno));
		goto err;
	}
	if (tcp)
		close(l);
	return 0;
err:
	if (l >= 0)
		close(l);
	if (*snd >= 0)
		close(*snd);
	*snd = *rcv = -1;
	return -1;
}

/* Zerocopy notifications of the error queue: adds the calls they complete to *done, sets
 * *copied when one says SO_EE_CODE_ZEROCOPY_COPIED; -1 on a malformed one. */
static int zc_notes(struct cell *c, int fd, unsigned *done, int *copied)
{
	char ctl[128];
	struct msghdr msg = {.msg_control = ctl, .msg_controllen = sizeof(ctl)};
	struct cmsghdr *cm;

	while (recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) >= 0) {
		for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			struct sock_extended_err *e = (void *)CMSG_DATA(cm);

			if (cm->cmsg_level != SOL_IP || cm->cmsg_type != IP_RECVERR)
				continue;
			if (e->ee_errno || e->ee_origin != SO_EE_ORIGIN_ZEROCOPY) {
				cfail(c, "a notification with errno %u origin %u (want 0, SO_EE_ORIGIN_ZEROCOPY)", e->ee_errno,
				      e->ee_origin);
				return -1;
			}
			*done += e->ee_data - e->ee_info + 1;
			if (e->ee_code & SO_EE_CODE_ZEROCOPY_COPIED)
				*copied = 1;
		}
		msg.msg_controllen = sizeof(ctl);
	}
	return 0;
}

struct zrun {
	int how, snd, rcv;
	struct io_uring *zr;
	char *buf, *rbuf;
	unsigned calls, done, notifs_due;  /* send calls made, completed by notifications */
	int copied;
	long held_mid;                     /* buffer pages held while the receiver had not read */
};

/* One round: send Z_LEN bytes of buf with zerocopy, hold (the receiver waits) and do event
 * (fork: a child writes its copy; munmap), then receive all and wait for every notification. */
static void zc_round(struct cell *c, struct zrun *z, int event, char *exp)
{
	size_t sent = 0, got = 0, inflight = 0;
	double t0 = now_s();
	char why[200];
	long first;
	pid_t kid = -1;
	int st;

	z->calls = z->done = z->notifs_due = 0;
	z->copied = 0;
	/* phase 1: send what the window takes, nobody reads */
	while (sent < Z_LEN && z->how != Z_URING) {
		size_t n = z->how == Z_UDP ? Z_DGRAM : Z_LEN - sent;
		ssize_t r = send(z->snd, z->buf + sent, n, MSG_ZEROCOPY | MSG_DONTWAIT);

		if (r < 0 && errno == EAGAIN)
			break;
		if (r < 0) {
			cfail(c, "send(MSG_ZEROCOPY): %s", strerror(errno));
			return;
		}
		sent += r;
		z->calls++;
	}
	if (z->how == Z_URING) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(z->zr);

		io_uring_prep_send_zc(sqe, z->snd, z->buf, Z_LEN, 0, IORING_SEND_ZC_REPORT_USAGE);
		io_uring_submit(z->zr);
		inflight = 1;
		usleep(20 * 1000);
	}
	z->held_mid = pages_held(z->buf, Z_LEN, 0, &first, why, sizeof(why));
	if (event == Z_FORK) {
		kid = cell_fork();
		if (kid == 0) {  /* the child's write goes to its own copy, never to the data in flight */
			char *w = malloc(Z_LEN);

			fill64(z->buf, Z_LEN, 77);
			fill64(w, Z_LEN, 77);
			_exit(first_diff(z->buf, w, Z_LEN) >= 0 ? 3 : 0);
		}
	} else if (event == Z_MUNMAP) {
		munmap(z->buf, Z_LEN);
		z->buf = NULL;
	}
	/* phase 2: receive everything, send the rest, collect the completions */
	while (got < Z_LEN || inflight || z->done < z->calls) {
		struct pollfd p[2] = {{z->rcv, POLLIN, 0}, {z->snd, POLLOUT, 0}};
		ssize_t r;

		if (now_s() - t0 > 20) {
			cfail(c, "stuck: %zu of %d bytes received, %u of %u sends completed%s", got, (int)Z_LEN, z->done,
			      z->calls, inflight ? ", an io_uring send in flight" : "");
			break;
		}
		if (got < Z_LEN) {
			r = recv(z->rcv, z->rbuf + got, Z_LEN - got, MSG_DONTWAIT);
			if (r > 0)
				got += r;
			else if (r < 0 && errno != EAGAIN) {
				cfail(c, "recv: %s", strerror(errno));
				break;
			}
		}
		if (z->how != Z_URING && sent < Z_LEN && z->buf) {
			r = send(z->snd, z->buf + sent, z->how == Z_UDP ? Z_DGRAM : Z_LEN - sent, MSG_ZEROCOPY | MSG_DONTWAIT);
			if (r > 0) {
				sent += r;
				z->calls++;
			} else if (r < 0 && errno != EAGAIN) {
				cfail(c, "send(MSG_ZEROCOPY): %s", strerror(errno));
				break;
			}
		} else if (z->how != Z_URING && sent < Z_LEN) {
			cfail(c, "the window took only %zu bytes before the munmap", sent);
			break;
		}
		if (z->how == Z_URING) {
			struct io_uring_cqe *cqe;

			while (!io_uring_peek_cqe(z->zr, &cqe)) {
				if (cqe->flags & IORING_CQE_F_NOTIF) {
					z->done++;
					if (cqe->res & IORING_NOTIF_USAGE_ZC_COPIED)
						z->copied = 1;
				} else {
					inflight = 0;
					if (cqe->res < 0) {
						cfail(c, "IORING_OP_SEND_ZC: %s", strerror(-cqe->res));
						io_uring_cqe_seen(z->zr, cqe);
						goto end;
					}
					sent += cqe->res;
					if (cqe->flags & IORING_CQE_F_MORE)
						z->calls++;
					if (sent < Z_LEN && z->buf) {
						struct io_uring_sqe *sqe = io_uring_get_sqe(z->zr);

						io_uring_prep_send_zc(sqe, z->snd, z->buf + sent, Z_LEN - sent, 0,
								      IORING_SEND_ZC_REPORT_USAGE);
						io_uring_submit(z->zr);
						inflight = 1;
					}
				}
				io_uring_cqe_seen(z->zr, cqe);
			}
		} else if (zc_notes(c, z->snd, &z->done, &z->copied)) {
			break;
		}
		if (got < Z_LEN || inflight || z->done < z->calls)
			poll(p, z->how == Z_URING ? 1 : 2, 10);
	}
end:
	if (kid > 0 && (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st)))
		cfail(c, "the child that wrote its copy ended with status 0x%x", st);
	if (!c->failed[0] && got == Z_LEN && (first = first_diff(z->rbuf, exp, Z_LEN)) >= 0)
		cfail(c, "the receiver got other bytes than were sent at byte %ld (%s)", first,
		      event == Z_FORK ? "the child's write after fork reached the data in flight"
		      : event == Z_MUNMAP ? "the pages were freed under the data in flight" : "changed in flight");
}

static void zc_cell(enum zhow how, enum zmem m)
{
	struct cell c = {.mem = ANON, .fd = -1};
	struct zrun z = {.how = how, .snd = -1, .rcv = -1};
	struct io_uring zr;
	double began = now_s();
	char *exp = malloc(Z_LEN), *map = NULL;
	size_t maplen = m == Z_THP ? HPAGE : Z_LEN;
	int ring = 0, copied1;
	long p0, held1;

	snprintf(c.name, sizeof(c.name), "borrow/%s/%s", zhow_names[how], zmem_names[m]);
	if (!borrow_runs(c.name))
		goto free;
	p0 = pins_outstanding();  /* after begins(): the output written out first */
	if (m == Z_EXT4 && !ext4_dir) {
		cskip(&c, "no ext4 directory given (-d)");
		goto out;
	}
	switch (m) {
	case Z_THP:
		map = map_aligned(HPAGE, HPAGE, MADV_HUGEPAGE);
		break;
	case Z_SHMEM:
	case Z_EXT4:
		if (m == Z_SHMEM) {
			c.fd = memfd_create("borrow-zc", 0);
		} else {
			snprintf(c.path, sizeof(c.path), "%s/borrow-zc.%d", ext4_dir, getpid());
			c.fd = open(c.path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		}
		if (c.fd < 0 || ftruncate(c.fd, Z_LEN)) {
			cfail(&c, "cannot make the file: %s", strerror(errno));
			goto out;
		}
		map = mmap(NULL, Z_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, c.fd, 0);
		break;
	default:
		map = mmap(NULL, Z_LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	}
	if (!map || map == MAP_FAILED) {
		map = NULL;
		cfail(&c, "cannot map the buffer: %s", strerror(errno));
		goto out;
	}
	z.buf = map;
	z.rbuf = malloc(Z_LEN);
	fill64(z.buf, Z_LEN, 31);
	memcpy(exp, z.buf, Z_LEN);
	if (m == Z_THP && !is_thp(z.buf)) {
		cskip(&c, "no THP behind the buffer (kpageflags)");
		goto out;
	}
	if (how == Z_URING) {
		if (io_uring_queue_init(8, &zr, 0)) {
			cskip(&c, "io_uring_queue_init failed");
			goto out;
		}
		ring = 1;
		z.zr = &zr;
	}
	if (zc_pair(&c, how != Z_UDP, &z.snd, &z.rcv))
		goto out;
	zc_round(&c, &z, m, exp);
	if (c.failed[0])
		goto out;
	held1 = z.held_mid;
	copied1 = z.copied;
	if (m == Z_MUNMAP) {
		map = NULL;
		printf("# %s: %u send call(s), completed %s; the buffer was unmapped before the completion: no page-reference check (the pages oracle counts what is left)\n",
		       c.name, z.calls, z.copied ? "with SO_EE_CODE_ZEROCOPY_COPIED (a deferred copy)" : "as zerocopy");
		goto pins;
	}
	/* round 2: the buffer changed only after every completion, sent again */
	fill64(z.buf, Z_LEN, 32);
	memcpy(exp, z.buf, Z_LEN);
	zc_round(&c, &z, Z_ANON, exp);
	printf("# %s: round 1: %u send call(s), completed %s, %ld of 16 buffer pages held before the receiver read%s; round 2: %u call(s), %s\n",
	       c.name, z.calls, copied1 ? "with the COPIED code (loopback's deferred copy)" : "as zerocopy", held1,
	       held1 < 0 ? " (not measured)" : "", z.calls, z.copied ? "COPIED" : "zerocopy");
	if (c.failed[0])
		goto out;
	borrow_refs(&c, z.buf, Z_LEN, "the send buffer");
	if (how == Z_TCP && held1 == 0 && !c.failed[0])
		cskip(&c, "no page of the buffer was held while the data waited in the sender's queue: the send copied");
pins:
	borrow_pins(&c, p0);
out:
	if (z.snd >= 0)
		close(z.snd);
	if (z.rcv >= 0)
		close(z.rcv);
	if (ring)
		io_uring_queue_exit(&zr);
	if (map)
		munmap(map, maplen);
	cell_file_close(&c);
	free(z.rbuf);
	verdict(&c, began);
free:
	free(exp);
}

/* -- futex on shared memory: get_futex_key() looks the page up (get_user_pages_fast) ---------- */

/* A cell's file: a memfd or an ext4 file (c->fd, c->path) of len bytes, mapped MAP_SHARED and
 * writable; NULL when the cell failed or skipped (no ext4 directory). */
static char *shared_file(struct cell *c, int ext4, const char *stem, size_t len)
{
	char *map;

	if (ext4 && !ext4_dir) {
		cskip(c, "no ext4 directory given (-d)");
		return NULL;
	}
	if (ext4) {
		snprintf(c->path, sizeof(c->path), "%s/%s.%d", ext4_dir, stem, getpid());
		c->fd = open(c->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	} else {
		c->fd = memfd_create(stem, 0);
	}
	if (c->fd < 0 || ftruncate(c->fd, len)) {
		cfail(c, "cannot make the file: %s", strerror(errno));
		return NULL;
	}
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (map == MAP_FAILED) {
		cfail(c, "mmap: %s", strerror(errno));
		return NULL;
	}
	return map;
}

static void futex_cell(int ext4)
{
	struct cell c = {.mem = ANON, .fd = -1};
	double began = now_s();
	size_t len = 4 * PAGE;
	char *map = NULL, *want = malloc(len);
	uint32_t *word;
	long p0, woken = 0, first;
	pid_t kid = -1;
	int st;

	snprintf(c.name, sizeof(c.name), "borrow/futex/%s", ext4 ? "ext4-shared" : "shmem");
	if (!borrow_runs(c.name))
		goto free;
	p0 = pins_outstanding();  /* after begins(): the output written out first */
	map = shared_file(&c, ext4, "borrow-futex", len);
	if (!map)
		goto out;
	fill64(map, len, 41);
	word = (uint32_t *)(map + PAGE + 128);  /* a shared (not FUTEX_PRIVATE) futex in page 1 */
	*word = 0;
	kid = cell_fork();
	if (kid == 0) {
		/* waits until woken with the word 1, then must see the parent's page 2 and answers in page 3 */
		char *exp2 = malloc(PAGE);

		while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == 0)
			syscall(SYS_futex, word, FUTEX_WAIT, 0, NULL, NULL, 0);
		fill64(exp2, PAGE, 42);
		if (first_diff(map + 2 * PAGE, exp2, PAGE) >= 0)
			_exit(3);
		fill64(map + 3 * PAGE, PAGE, 43);
		_exit(0);
	}
	/* wake until the child was woken by a FUTEX_WAKE (it may not wait yet) */
	for (int i = 0; i < 500 && woken < 1; i++) {
		usleep(10 * 1000);
		if (i == 10) {
			fill64(map + 2 * PAGE, PAGE, 42);
			__atomic_store_n(word, 1, __ATOMIC_RELEASE);
		}
		if (i >= 10)
			woken = syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
		if (i >= 10 && waitpid(kid, &st, WNOHANG) == kid) {
			kid = -1;  /* it saw the word before waiting: no wake to count */
			break;
		}
	}
	if (kid > 0 && (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st)))
		cfail(&c, "the child woken by the futex ended with status 0x%x%s", st,
		      WIFEXITED(st) && WEXITSTATUS(st) == 3 ? " (it does not see the parent's page)" : "");
	kid = -1;
	printf("# %s: FUTEX_WAKE woke %ld waiter(s)\n", c.name, woken);
	/* what both wrote: the word, page 2 the parent's, page 3 the child's answer */
	fill64(want, len, 41);
	*(uint32_t *)(want + PAGE + 128) = 1;
	fill64(want + 2 * PAGE, PAGE, 42);
	fill64(want + 3 * PAGE, PAGE, 43);
	if (!c.failed[0] && (first = first_diff(map, want, len)) >= 0)
		cfail(&c, "the shared mapping reads other bytes than the two processes wrote at byte %ld%s", first,
		      first >= 3 * (long)PAGE ? " (the child's answer is not seen)" : "");
	if (!c.failed[0] && !woken)
		cskip(&c, "the child never waited on the futex (FUTEX_WAKE woke nobody)");
	borrow_refs(&c, map, len, "the shared mapping");
	borrow_pins(&c, p0);
	if (ext4 && !c.failed[0]) {
		c.cur = map;
		c.mapped = 1;
		c.half = len;
		c.mem = FILESH;
		check_disk(&c, want, 0, "the futex mapping");
	}
out:
	if (kid > 0) {
		kill(kid, SIGKILL);
		waitpid(kid, &st, 0);
	}
	if (map)
		munmap(map, len);
	cell_file_close(&c);
	verdict(&c, began);
free:
	free(want);
}

/* -- /proc/<child>/cmdline and environ: access_remote_vm() of its stack pages ----------------- */

static int stat_args(unsigned long v[4])  /* arg_start arg_end env_start env_end (fields 48-51) */
{
	char buf[2048], *p;
	FILE *f = fopen("/proc/self/stat", "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	if (f)
		fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	for (int field = 2; p && field < 48; field++)
		p = strchr(p + 1, ' ');
	return p && sscanf(p, " %lu %lu %lu %lu", &v[0], &v[1], &v[2], &v[3]) == 4 ? 0 : -1;
}

/* Up to n bytes of a file, read in pieces of chunk bytes (each read() of /proc/<pid>/cmdline a
 * get_mm_cmdline() at its own *ppos); -1 when it cannot be opened. */
static ssize_t slurp_chunks(const char *path, char *buf, size_t n, size_t chunk)
{
	int fd = open(path, O_RDONLY);
	ssize_t got = 0, r;

	if (fd < 0)
		return -1;
	while ((size_t)got < n && (r = read(fd, buf + got, chunk < n - got ? chunk : n - got)) > 0)
		got += r;
	close(fd);
	return got;
}

static ssize_t slurp(const char *path, char *buf, size_t n) { return slurp_chunks(path, buf, n, n); }

static void cmdline_cell(void)
{
	struct cell c = {.mem = ANON, .fd = -1};
	double began = now_s();
	unsigned long v[4];
	int p2c[2], c2p[2], st;
	char path[64], b, why[200] = "";
	static char mine[2][65536], theirs[2][65536];
	ssize_t nm[2], nt[2];
	pid_t kid;
	long p0;

	snprintf(c.name, sizeof(c.name), "borrow/proc-cmdline/child");
	if (!borrow_runs(c.name))
		return;
	p0 = pins_outstanding();  /* after begins(): the output written out first */
	if (stat_args(v) || v[3] <= v[0]) {
		cfail(&c, "cannot read arg_start..env_end from /proc/self/stat");
		goto out;
	}
	if (pipe(p2c) || pipe(c2p)) {
		cfail(&c, "pipe: %s", strerror(errno));
		goto out;
	}
	kid = cell_fork();
	if (kid == 0) {
		/* its argument pages made its own (a write breaks COW), then the parent reads them;
		 * afterwards none of them may stay held */
		char *lo = (char *)(v[0] & ~(PAGE - 1)), *hi = (char *)((v[3] + PAGE - 1) & ~(PAGE - 1));
		long first, held;

		for (char *q = lo; q < hi; q += PAGE)
			*(volatile char *)(q > (char *)v[0] ? q : (char *)v[0]) += 0;
		if (write(c2p[1], "r", 1) != 1 || read(p2c[0], &b, 1) != 1)
			_exit(6);
		held = pages_held(lo, hi - lo, 1000, &first, why, sizeof(why));
		if (held < 0)
			dprintf(c2p[1], "S%s", why);
		else if (held)
			dprintf(c2p[1], "F%ld of its %ld argument/environment page(s) still held after the reads (first %ld)",
				held, (long)((hi - lo) / PAGE), first);
		_exit(0);
	}
	close(c2p[1]);
	if (read(c2p[0], &b, 1) != 1) {
		cfail(&c, "the child did not get ready");
		goto reap;
	}
	nm[0] = slurp("/proc/self/cmdline", mine[0], sizeof(mine[0]));
	nm[1] = slurp("/proc/self/environ", mine[1], sizeof(mine[1]));
	snprintf(path, sizeof(path), "/proc/%d/cmdline", kid);
	nt[0] = slurp(path, theirs[0], sizeof(theirs[0]));
	snprintf(path, sizeof(path), "/proc/%d/environ", kid);
	nt[1] = slurp(path, theirs[1], sizeof(theirs[1]));
	printf("# %s: cmdline %zd bytes, environ %zd bytes (arg pages %#lx..%#lx)\n", c.name, nt[0], nt[1], v[0], v[3]);
	for (int i = 0; i < 2; i++)
		if (nt[i] <= 0 || nt[i] != nm[i] || memcmp(mine[i], theirs[i], nm[i]))
			cfail(&c, "/proc/<child>/%s reads %zd bytes unlike the child's own (%zd, which fork copied)",
			      i ? "environ" : "cmdline", nt[i], nm[i]);
reap:
	if (write(p2c[1], "c", 1) != 1)
		cfail(&c, "cannot tell the child to look");
	{
		ssize_t n = read(c2p[0], why, sizeof(why) - 1);

		why[n > 0 ? n : 0] = 0;
	}
	if (waitpid(kid, &st, 0) != kid || !WIFEXITED(st) || WEXITSTATUS(st))
		cfail(&c, "the child ended with status 0x%x", st);
	else if (why[0] == 'F')
		cfail(&c, "%s", why + 1);
	else if (why[0] == 'S')
		cskip(&c, "no page-reference check in the child: %s", why + 1);
	close(p2c[0]);
	close(p2c[1]);
	close(c2p[0]);
	borrow_pins(&c, p0);
out:
	verdict(&c, began);
}

#include "borrow_reads.h"  /* borrow/peek, futex-ro, proc-cmdline/proctitle, singlestep: the read side */
#include "perf_phys.h"  /* borrow/perf-phys: perf_virt_to_phys()'s GUP-fast of a page-fault sample */

static void borrow_cells(void)
{
	if (!list_only)
		lo_up();
	for (enum fhow h = 0; h < NFHOW; h++)
		for (enum fmem m = 0; m < NFMEM; m++)
			force_cell(h, m);
	for (enum zhow h = 0; h < NZHOW; h++)
		for (enum zmem m = 0; m < NZMEM; m++)
			if (h == Z_TCP || m == Z_ANON || m == Z_FORK || (h == Z_URING && m == Z_SHMEM) ||
			    (h == Z_UDP && m == Z_THP))
				zc_cell(h, m);
	futex_cell(0);
	futex_cell(1);
	cmdline_cell();
	borrow_reads();
	perf_phys_cells();
}
