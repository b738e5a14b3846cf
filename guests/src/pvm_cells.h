/* process_vm_readv/writev over odd shapes and error paths, and fatal (and other) signals to a
 * pin that waits on a userfaultfd-missing page (issue 20 item 1). Part of pin_matrix.c (uses
 * its struct cell, verdict(), first_diff(), fill64(), wanted()'s words): one block of its own,
 * entered by pvm_cells() from main. docs/matrix.md "process_vm and signals" says what each
 * cell checks and why.
 *
 * pvm cells (pvm-readv/<memory>/<shape>, pvm-writev/...): the remote side is the memory kind
 * (anon, thp, shmem, ext4-shared, hugetlb), in this process (pin_user_pages_remote on our own
 * mm: the same code as for another mm) or in a child that dies during the copy; the local side
 * is anonymous memory. Every byte of both sides is compared with a model of what the call
 * must have moved (the segments of both iovec lists, in order, up to the count it returned):
 * bytes outside the segments or past the count must not change. Then the FOLL_PIN counters
 * and, through gup_test's page dump, the pin counts of the remote pages at the segments' ends
 * (pagerefs.h).
 *
 * uffd cells (<pin>/anon/uffd-kill, <pin>/anon/uffd-signal): a child maps 16 pages, page 8
 * missing and registered with userfaultfd (missing mode); a thread of its own reads the fault
 * message and never resolves it (kill) or resolves it after the pinning thread took a SIGUSR1
 * (signal). kill: SIGKILL once the pin waits; the child must die, and then the FOLL_PIN
 * counters be back (the pages oracle counts pages the dead process left).
 */
#include "pagerefs.h"
#include <linux/userfaultfd.h>
#include <poll.h>

#define PVM_BATCH 1024  /* PVM_MAX_USER_PAGES: 2 pages of struct page pointers a pin call (mm/process_vm_access.c, 6.12) */
#define PVM_STACK 16    /* PVM_MAX_PP_ARRAY_COUNT: more pages than this in one iovec: kmalloc'ed array */

enum pvm_shape { UNALIGNED, IOVECS, BATCH, IOVHOLE, IOVPROT, REXIT, RKILL, NSHAPE };
static const char *const shape_names[NSHAPE] = {"unaligned", "iovecs", "batch", "iov-hole", "iov-prot-none",
						"remote-exit", "remote-kill"};

/* The default set's pvm and uffd cells (the rest run in pin-matrix-deep). */
static const char *const pvm_quick[] = {
	"pvm-readv/anon/unaligned", "pvm-writev/anon/unaligned", "pvm-readv/thp/unaligned",
	"pvm-writev/hugetlb/unaligned",
	"pvm-readv/shmem/iovecs", "pvm-writev/ext4-shared/iovecs", "pvm-writev/anon/iovecs",
	"pvm-readv/anon/batch", "pvm-writev/thp/batch",
	"pvm-readv/anon/iov-hole", "pvm-writev/shmem/iov-hole", "pvm-readv/thp/iov-prot-none",
	"pvm-writev/anon/iov-prot-none",
	"pvm-readv/anon/remote-kill", "pvm-writev/shmem/remote-exit",
	"gup-fast/anon/uffd-kill", "uring/anon/uffd-kill", "dio-ext4-read/anon/uffd-kill",
	"pvm-readv/anon/uffd-kill", "pvm-readv-local/anon/uffd-kill", "vmsplice/anon/uffd-kill",
	"uring/anon/uffd-signal", "pvm-readv-local/anon/uffd-signal",
};

static int pvm_wanted(const char *name) { return BLOCK_WANTED(name, pvm_quick); }

/* -- the remote region: one memory kind, len bytes (hugetlb and THP: whole 2 MiB pages) ---- */

static char *pvm_map(struct cell *c, size_t len)
{
	char *p = NULL;

	c->fd = -1;
	switch (c->mem) {
	case ANON:
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case THP:
		p = map_aligned(len, HPAGE, MADV_HUGEPAGE);
		return p ? p : (cfail(c, "cannot map THP memory"), NULL);
	case HUGE:
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (p == MAP_FAILED) {
			cskip(c, "no hugetlb pages (mmap MAP_HUGETLB of %zu MiB: %s)", len >> 20, strerror(errno));
			return NULL;
		}
		return p;
	case SHMEM:
	case FILESH:
		if (c->mem == SHMEM) {
			c->fd = memfd_create("pvm", 0);
		} else {
			snprintf(c->path, sizeof(c->path), "%s/pvm.%d", ext4_dir, getpid());
			c->fd = open(c->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		}
		if (c->fd < 0 || ftruncate(c->fd, len)) {
			cfail(c, "cannot make the %s file: %s", mem_names[c->mem], strerror(errno));
			return NULL;
		}
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
		break;
	default:
		break;
	}
	if (p == MAP_FAILED || !p) {
		cfail(c, "cannot map %zu bytes of %s memory: %s", len, mem_names[c->mem], strerror(errno));
		return NULL;
	}
	return p;
}

/* -- a model of the call: segments of both sides, in order ---------------------------------- */

struct seg { size_t off, len; };
#define MAXSEG 40

struct pvm_call {
	int write;               /* process_vm_writev: local -> remote */
	char *rem, *loc;         /* the remote region and the local buffer */
	size_t rlen, llen;
	struct seg rs[MAXSEG], ls[MAXSEG];
	int rn, ln;
	int rseen;               /* the remote side is what this process maps (not a private child's copy) */
	long skip_lo, skip_n;    /* remote pages left out of the comparison (a hole) */
};

static size_t segs_total(const struct seg *s, int n)
{
	size_t t = 0;

	for (int i = 0; i < n; i++)
		t += s[i].len;
	return t;
}

/* Copy the first n bytes of the stream of from's segments into to's segments (the model). */
static void scatter(char *dst, const struct seg *ds, int dn, const char *src, const struct seg *ss, int sn, size_t n)
{
	int di = 0, si = 0;
	size_t doff = 0, soff = 0;

	while (n && di < dn && si < sn) {
		size_t k = ds[di].len - doff < ss[si].len - soff ? ds[di].len - doff : ss[si].len - soff;

		if (k > n)
			k = n;
		memmove(dst + ds[di].off + doff, src + ss[si].off + soff, k);
		n -= k;
		doff += k;
		soff += k;
		if (doff == ds[di].len) {
			di++;
			doff = 0;
		}
		if (soff == ss[si].len) {
			si++;
			soff = 0;
		}
	}
}

static int skipped(const struct pvm_call *k, size_t off)
{
	long pg = (long)(off / PAGE);

	return pg >= k->skip_lo && pg < k->skip_lo + k->skip_n;
}

/* The call on pid; afterwards both sides compared with the model of r bytes moved (the remote
 * side when this process sees it: k->rseen; never its pages skip_lo.. (a hole)). */
static ssize_t pvm_do(struct cell *c, struct pvm_call *k, pid_t pid)
{
	struct iovec liov[MAXSEG], riov[MAXSEG];
	char *rwant = malloc(k->rlen), *lwant = malloc(k->llen);
	ssize_t r;
	long d;

	memcpy(lwant, k->loc, k->llen);
	for (size_t off = 0; off < k->rlen; off += PAGE)  /* not the hole */
		if (k->rseen && !skipped(k, off))
			memcpy(rwant + off, k->rem + off, PAGE);
	for (int i = 0; i < k->ln; i++)
		liov[i] = (struct iovec){k->loc + k->ls[i].off, k->ls[i].len};
	for (int i = 0; i < k->rn; i++)
		riov[i] = (struct iovec){k->rem + k->rs[i].off, k->rs[i].len};
	r = k->write ? process_vm_writev(pid, liov, k->ln, riov, k->rn, 0)
		     : process_vm_readv(pid, liov, k->ln, riov, k->rn, 0);
	if (r > 0) {
		if (k->write)
			scatter(rwant, k->rs, k->rn, lwant, k->ls, k->ln, (size_t)r);
		else
			scatter(lwant, k->ls, k->ln, rwant, k->rs, k->rn, (size_t)r);
	}
	if ((d = first_diff(k->loc, lwant, k->llen)) >= 0)
		cfail(c, "after a call that returned %zd the local buffer differs from the model at byte %ld (%s)", r, d,
		      k->write ? "writev must not change it" : "moved or missed bytes");
	for (size_t off = 0; k->rseen && off < k->rlen && !c->failed[0]; off += PAGE)
		if (!skipped(k, off) && (d = first_diff(k->rem + off, rwant + off, PAGE)) >= 0)
			cfail(c, "after a call that returned %zd the remote region differs from the model at byte %zu (%s)", r,
			      off + d, k->write ? "moved or missed bytes" : "readv must not change it");
	free(rwant);
	free(lwant);
	return r;
}

/* The pins of remote pages at the segments' last bytes (where a short release leaves one), via
 * gup_test's dump: a page still pinned after the call fails the cell. */
static void pvm_page_pins(struct cell *c, struct pvm_call *k)
{
	long idx[PAGEREFS_MAX];
	struct page_refs pr[PAGEREFS_MAX];
	int n = 0, got;

	for (int i = 0; i < k->rn && n < 4; i++) {
		long last = (long)((k->rs[i].off + k->rs[i].len - 1) / PAGE);

		if (!skipped(k, (size_t)last * PAGE) && (!n || idx[n - 1] != last))
			idx[n++] = last;
	}
	if (!n || gup_fd < 0)
		return;
	got = page_refs(gup_fd, k->rem, idx, n, pr);
	if (got != n) {
		printf("# %s: the page dump read back %d of %d pages (gup_test or /dev/kmsg)\n", c->name, got, n);
		return;
	}
	for (int i = 0; i < n; i++) {
		printf("# %s: remote page %ld pfn %#llx refcount %ld mapcount %ld pincount %ld\n", c->name, idx[i],
		       (unsigned long long)pr[i].pfn, pr[i].refcount, pr[i].mapcount, pr[i].pincount);
		if (page_refs_pinned(&pr[i]))
			cfail(c, "remote page %ld is still pinned after the call (refcount %ld, mapcount %ld, pincount %ld)",
			      idx[i], pr[i].refcount, pr[i].mapcount, pr[i].pincount);
	}
}

/* Segments for a shape; remote offsets ascending (the hole's place in the stream is known).
 * spread: the gaps between remote pieces grow by it (large kinds spread them over 2 MiB pages). */
static void pvm_shape(struct pvm_call *k, enum pvm_shape s, size_t rlen, size_t spread)
{
	static const size_t sizes[] = {1, 4095, 4097, 13, 8191, 3 * PAGE + 5, 700, 2 * PAGE - 1, 77, 5 * PAGE + 333, 2,
				       20 * PAGE + 9};
	size_t off, t;
	int i;

	k->rn = k->ln = 0;
	switch (s) {
	case UNALIGNED:
		/* one iovec each side, both starting part way into a page and ending part way into one: the
		 * remote range spans one page more than its length in pages */
		k->rs[k->rn++] = (struct seg){100, 3 * PAGE};
		k->ls[k->ln++] = (struct seg){PAGE - 7, 3 * PAGE};
		break;
	case IOVECS:
		/* 12 remote pieces of odd sizes with gaps (one over PVM_STACK pages: the kmalloc'ed array),
		 * 17 local pieces of other odd sizes (more than UIO_FASTIOV on both sides) */
		for (off = 37, i = 0; i < 12; i++) {
			k->rs[k->rn++] = (struct seg){off, sizes[i]};
			off += sizes[i] + 1 + (size_t)i * spread;
		}
		t = segs_total(k->rs, k->rn);
		for (off = 3, i = 0; t; i++) {
			size_t n = sizes[(i * 5 + 3) % 12] % (3 * PAGE) + 1;

			if (n > t || i == 16)
				n = t;
			k->ls[k->ln++] = (struct seg){off, n};
			off += n + 29;
			t -= n;
		}
		break;
	default:
		/* BATCH and the dying child: more than one pin batch (PVM_BATCH pages) in one unaligned iovec,
		 * 100 bytes in, to 333 bytes short of the end */
		k->rs[k->rn++] = (struct seg){100, rlen - 433};
		k->ls[k->ln++] = (struct seg){11, rlen - 433};
		break;
	}
	k->llen = 0;
	for (i = 0; i < k->ln; i++)
		if (k->ls[i].off + k->ls[i].len > k->llen)
			k->llen = k->ls[i].off + k->ls[i].len;
	k->llen = (k->llen + PAGE - 1) / PAGE * PAGE;
}

static size_t pvm_len(enum mem m, enum pvm_shape s)
{
	if (m == THP || m == HUGE)
		return 3 * HPAGE;  /* 1536 pages: a batch boundary inside */
	return s == BATCH || s == REXIT || s == RKILL ? (PVM_BATCH + 77) * PAGE : 64 * PAGE;
}

/* remote-exit, remote-kill: calls over the whole region (more than one pin batch) back to back; a
 * thread makes the child exit (told to) or kills it half way through a call (timed by the first
 * two). Each call must move all or a correct prefix, or fail with ESRCH once the child is gone.
 * For shared memory the parent sees what writev put there; a private child's copy it cannot. */
struct dying {
	pid_t kid;
	int go, kill_it;
	double delay, at;
};

static void *dying_trigger(void *arg)
{
	struct dying *d = arg;

	usleep((useconds_t)(d->delay * 1e6));
	d->at = now_s();
	if (d->kill_it)
		kill(d->kid, SIGKILL);
	else if (write(d->go, "x", 1) != 1)
		d->at = -1;
	return NULL;
}

static void pvm_dying(struct cell *c, struct pvm_call *k, int kill_it)
{
	int go[2];
	struct dying dy = {.kill_it = kill_it};
	pthread_t th;
	double t0, t1, first = 0;
	int calls = 0, full = 0, shorts = 0, overlapped = 0, st, gone = 0, started = 0;
	ssize_t r;

	if (pipe(go)) {
		cfail(c, "pipe: %s", strerror(errno));
		return;
	}
	dy.kid = cell_fork();
	if (dy.kid == 0) {
		char b;

		close(go[1]);
		if (read(go[0], &b, 1) < 0) { /* EOF: the parent is gone */ }
		_exit(0);
	}
	close(go[0]);
	dy.go = go[1];
	k->rseen = c->mem == SHMEM || c->mem == FILESH || !k->write;
	for (; calls < 200; calls++) {
		if (calls == 2 && !started) {
			dy.delay = first / 2 + 0.001 * (getpid() % 7);
			started = !pthread_create(&th, NULL, dying_trigger, &dy);
		}
		t0 = now_s();
		r = pvm_do(c, k, dy.kid);
		t1 = now_s();
		if (calls < 2)
			first += (t1 - t0) / 2;
		if (c->failed[0])
			break;
		if (r == (ssize_t)(k->rlen - 433)) {
			full++;
		} else if (r >= 0) {
			shorts++;
		} else if (errno == ESRCH) {
			gone = 1;
		} else if (errno != EFAULT) {
			cfail(c, "call %d: %s while the child %s", calls, strerror(errno), kill_it ? "was killed" : "exited");
			break;
		}
		if (started && dy.at > 0 && t0 < dy.at && t1 > dy.at)
			overlapped++;
		if (gone)
			break;
	}
	if (started)
		pthread_join(th, NULL);
	close(go[1]);
	if (waitpid(dy.kid, &st, 0) != dy.kid)
		cfail(c, "cannot reap the child");
	printf("# %s: %d calls of %zu bytes (%d full, %d short, %.3f s each) then %s; %d in flight at the %s\n", c->name,
	       calls, k->rlen - 433, full, shorts, first, gone ? "ESRCH" : "no ESRCH", overlapped,
	       kill_it ? "SIGKILL" : "exit request");
	if (!c->failed[0] && !gone)
		cfail(c, "process_vm_%s still succeeded after the child died (%d calls)", k->write ? "writev" : "readv", calls);
	else if (!c->failed[0] && !overlapped)
		cskip(c, "no call was in flight when the child was told to go");
}

static void pvm_cell(enum mem m, enum pvm_shape s, int write)
{
	struct cell c = {.mem = m, .fd = -1};
	struct pvm_call k = {.write = write, .rseen = 1, .skip_lo = -1};
	double began = now_s();
	int large = m == THP || m == HUGE;
	long p0, now;
	ssize_t r;

	snprintf(c.name, sizeof(c.name), "pvm-%s/%s/%s", write ? "writev" : "readv", mem_names[m], shape_names[s]);
	if (!pvm_wanted(c.name))
		return;
	if (!begins(c.name))
		return;
	p0 = pins_outstanding();
	k.rlen = pvm_len(m, s);
	if (m == FILESH && !ext4_dir) {
		cskip(&c, "no ext4 directory given (-d)");
		goto out;
	}
	if (!(k.rem = pvm_map(&c, k.rlen)))
		goto out;
	fill64(k.rem, k.rlen, 1);
	if (m == THP && !(is_thp(k.rem) && is_thp(k.rem + HPAGE))) {
		cskip(&c, "no THP behind the mapping (kpageflags)");
		goto out;
	}
	pvm_shape(&k, s == IOVHOLE || s == IOVPROT ? IOVECS : s, k.rlen, large ? 37000 : 511);  /* large: the 12th piece straddles 2 MiB */
	k.loc = mmap(NULL, k.llen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (k.loc == MAP_FAILED) {
		cfail(&c, "cannot map the local buffer");
		k.loc = NULL;
		goto out;
	}
	fill64(k.loc, k.llen, 9);
	if (s == REXIT || s == RKILL) {
		pvm_dying(&c, &k, s == RKILL);
		goto settle;
	}
	if (s == IOVHOLE || s == IOVPROT) {
		/* the remote range goes bad part way, in its 8th piece (small pages: the page in its middle;
		 * large kinds: the whole second 2 MiB page): the count must cover at least the pieces
		 * wholly before it and at most the stream's bytes before it */
		size_t lo = large ? HPAGE : (k.rs[7].off + k.rs[7].len / 2) / PAGE * PAGE, n = large ? HPAGE : PAGE;
		size_t before = 0, whole = 0;

		for (int i = 0; i < k.rn; i++) {
			size_t end = k.rs[i].off + k.rs[i].len;

			if (k.rs[i].off < lo)
				before += (end < lo ? end : lo) - k.rs[i].off;
			if (end <= lo)  /* ascending: the pieces wholly before it */
				whole += k.rs[i].len;
		}
		k.skip_lo = (long)(lo / PAGE);
		k.skip_n = s == IOVHOLE ? (long)(n / PAGE) : 0;
		if (s == IOVHOLE && munmap(k.rem + lo, n))
			cfail(&c, "munmap: %s", strerror(errno));
		if (s == IOVPROT && mprotect(k.rem + lo, n, write ? PROT_READ : PROT_NONE))
			cfail(&c, "mprotect: %s", strerror(errno));
		if (s == IOVPROT)  /* compared after the call, once readable again */
			k.skip_n = (long)(n / PAGE);
		if (c.failed[0])
			goto settle;
		r = pvm_do(&c, &k, getpid());
		if (s == IOVPROT) {
			long d;

			mprotect(k.rem + lo, n, PROT_READ | PROT_WRITE);
			if (!c.failed[0]) {
				/* the bad range itself: nothing written into it (it held seed 1) */
				char *w = malloc(k.rlen);

				fill64(w, k.rlen, 1);
				if ((d = first_diff(k.rem + lo, w + lo, n)) >= 0)
					cfail(&c, "the %s range changed under the failed call (byte %zu)",
					      write ? "read-only" : "PROT_NONE", lo + d);
				free(w);
			}
			k.skip_n = 0;
		}
		printf("# %s: %zu bytes in %d remote pieces, remote bytes %zu..%zu %s (stream byte %zu; whole pieces before it %zu): returned %zd%s%s\n",
		       c.name, segs_total(k.rs, k.rn), k.rn, lo, lo + n, s == IOVHOLE ? "unmapped" : write ? "read-only" : "PROT_NONE",
		       before, whole, r, r < 0 ? " " : "", r < 0 ? strerror(errno) : "");
		if (!c.failed[0] && (r < (ssize_t)whole || r > (ssize_t)before))
			cfail(&c, "a remote range bad from stream byte %zu returned %zd (want %zu..%zu: at least the whole pieces before it, at most the bytes before it)",
			      before, r, whole, before);
		goto settle;
	}
	r = pvm_do(&c, &k, getpid());
	if (!c.failed[0] && r != (ssize_t)segs_total(k.rs, k.rn))
		cfail(&c, "process_vm_%s of %zu bytes in %d/%d pieces returned %zd (%s)", write ? "writev" : "readv",
		      segs_total(k.rs, k.rn), k.ln, k.rn, r, r < 0 ? strerror(errno) : "short");
	if (!c.failed[0] && m == FILESH && write) {
		/* what writev put in the file reaches the disk */
		c.cur = k.rem;
		c.mapped = 1;
		c.half = k.rlen;
		check_disk(&c, k.rem, 0, "process_vm_writev into a MAP_SHARED ext4 file");
	}
settle:
	if ((now = pins_settle(p0)) != p0)
		cfail(&c, "%ld pin(s) outstanding after the call (FOLL_PIN counters)", now - p0);
	if (k.rem && s != REXIT && s != RKILL)
		pvm_page_pins(&c, &k);
out:
	if (k.loc)
		munmap(k.loc, k.llen);
	if (k.rem)
		munmap(k.rem, k.rlen);
	cell_file_close(&c);
	verdict(&c, began);
}

/* -- a pin that waits on a userfaultfd-missing page ------------------------------------------ */

enum upin { U_GUP_FAST, U_URING, U_DIO, U_PVM_REMOTE, U_PVM_LOCAL, U_VMSPLICE, NUPIN };
static const char *const upin_names[NUPIN] = {"gup-fast", "uring", "dio-ext4-read", "pvm-readv", "pvm-readv-local",
					      "vmsplice"};
#define UPAGES 16
#define UMISS 8

struct uctx {
	int uffd, kid_pipe, res_pipe;  /* res_pipe: the child's verdict text to the parent */
	char *region;
	int resolve;                   /* signal cell: resolve after the signal */
};

static volatile sig_atomic_t usr1_seen;
static void on_usr1(int s) { (void)s; usr1_seen = 1; }

/* the child's fault reader: tell the parent the pin waits; for the signal cell wait for its word,
 * then give the page (its bytes: seed 1 at that place, as if it had been there) */
static void *uffd_reader(void *arg)
{
	struct uctx *u = arg;
	struct uffd_msg msg;
	struct pollfd pfd = {u->uffd, POLLIN, 0};
	char b;

	if (poll(&pfd, 1, 20000) != 1 || read(u->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		return NULL;
	if (write(u->kid_pipe, "B", 1) != 1)
		return NULL;
	if (u->resolve && read(u->kid_pipe, &b, 1) == 1) {
		char *all = aligned_alloc(PAGE, UPAGES * PAGE);
		struct uffdio_copy cp = {.dst = (uintptr_t)u->region + UMISS * PAGE, .len = PAGE};

		fill64(all, UPAGES * PAGE, 1);  /* the page as if it had been there all along */
		cp.src = (uintptr_t)all + UMISS * PAGE;
		if (ioctl(u->uffd, UFFDIO_COPY, &cp))
			dprintf(u->res_pipe, "UFFDIO_COPY: %s; ", strerror(errno));
	}
	return NULL;
}

static char *uffd_dst;  /* pvm-readv's local buffer: what it read from the registered range */

/* In the child: the pin over the region (page UMISS missing); returns its result, fills want
 * with what the pinned/written range must then hold (for the signal cell), why on failure. */
static long uffd_pin(enum upin p, char *region, const char *ext4, int *fdp)
{
	size_t len = UPAGES * PAGE;
	struct iovec iov = {region, len};

	switch (p) {
	case U_GUP_FAST: {
		struct pin_longterm_test a = {.addr = (uintptr_t)region, .size = len,
					      .flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE | PIN_LONGTERM_TEST_FLAG_USE_FAST};

		return ioctl(gup_fd, PIN_LONGTERM_TEST_START, &a) ? -errno : (long)len;
	}
	case U_URING: {
		static struct io_uring r;

		if (io_uring_queue_init(4, &r, 0))
			return -ENOSYS;
		*fdp = r.ring_fd;
		return io_uring_register_buffers(&r, &iov, 1) ? -EFAULT : (long)len;
	}
	case U_DIO: {
		char path[300];
		int fd;

		snprintf(path, sizeof(path), "%s/uffd.%d", ext4, getpid());
		fd = open(path, O_RDWR | O_CREAT | O_DIRECT, 0600);
		unlink(path);
		if (fd < 0)
			return -ENOENT;
		{
			char *src = aligned_alloc(PAGE, len);

			fill64(src, len, 4);
			if (pwrite(fd, src, len, 0) != (ssize_t)len)
				return -EIO;
			free(src);
		}
		*fdp = fd;
		return pread(fd, region, len, 0) < 0 ? -errno : (long)len;
	}
	case U_PVM_REMOTE: {  /* our own mm as the remote: pin_user_pages_remote meets the fault */
		ssize_t r;

		uffd_dst = malloc(len);
		r = process_vm_readv(getpid(), &(struct iovec){uffd_dst, len}, 1, &iov, 1, 0);

		return r < 0 ? -errno : r;
	}
	case U_PVM_LOCAL: {   /* the remote pages pinned, the copy into the local range meets the fault */
		char *src = malloc(len);
		ssize_t r;

		fill64(src, len, 4);
		r = process_vm_readv(getpid(), &iov, 1, &(struct iovec){src, len}, 1, 0);
		return r < 0 ? -errno : r;
	}
	case U_VMSPLICE: {
		int pfd[2];
		ssize_t r;

		if (pipe(pfd))
			return -EMFILE;
		*fdp = pfd[0];
		r = vmsplice(pfd[1], &iov, 1, 0);
		return r < 0 ? -errno : r;
	}
	default:
		return -EINVAL;
	}
}

/* The child: set up, pin (blocking on page UMISS), then (signal cell) check what it got. Exit 0
 * with nothing on res_pipe is a pass; text on res_pipe is the failure; exit 4: premise (SKIP). */
static void uffd_child(enum upin p, int resolve, int kid_pipe, int res_pipe)
{
	size_t len = UPAGES * PAGE;
	struct uctx u = {.kid_pipe = kid_pipe, .res_pipe = res_pipe, .resolve = resolve};
	struct uffdio_api api = {.api = UFFD_API};
	struct uffdio_register reg;
	pthread_t th;
	sigset_t set;
	long r;
	int fd = -1;
	char *want;

	u.region = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	u.uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
	if (u.uffd < 0 || ioctl(u.uffd, UFFDIO_API, &api)) {
		dprintf(res_pipe, "userfaultfd: %s", strerror(errno));
		_exit(4);
	}
	fill64(u.region, len, 1);
	madvise(u.region + UMISS * PAGE, PAGE, MADV_DONTNEED);  /* page UMISS missing, the others present */
	reg = (struct uffdio_register){.range = {(uintptr_t)u.region, len}, .mode = UFFDIO_REGISTER_MODE_MISSING};
	if (ioctl(u.uffd, UFFDIO_REGISTER, &reg)) {
		dprintf(res_pipe, "UFFDIO_REGISTER: %s", strerror(errno));
		_exit(4);
	}
	/* SIGUSR1 for the pinning (main) thread only */
	sigaction(SIGUSR1, &(struct sigaction){.sa_handler = on_usr1}, NULL);  /* no SA_RESTART */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_create(&th, NULL, uffd_reader, &u);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	r = uffd_pin(p, u.region, ext4_dir, &fd);
	/* only the signal cell gets here with the fault resolved (the kill cell dies in the pin) */
	pthread_join(th, NULL);
	want = malloc(len);
	fill64(want, len, 1);
	if (r < 0) {
		dprintf(res_pipe, "the pin failed after the signal and UFFDIO_COPY: %s", strerror((int)-r));
	} else {
		char *got = malloc(len);
		long d;

		if (p == U_DIO || p == U_PVM_LOCAL)
			fill64(want, len, 4);  /* the file's / the remote source's bytes */
		if (p == U_GUP_FAST) {
			uint64_t to = (uintptr_t)got;

			if (ioctl(gup_fd, PIN_LONGTERM_TEST_READ, &to))
				dprintf(res_pipe, "PIN_LONGTERM_TEST_READ: %s", strerror(errno));
			ioctl(gup_fd, PIN_LONGTERM_TEST_STOP);
		} else if (p == U_VMSPLICE) {
			if (read(fd, got, len) != (ssize_t)len)
				dprintf(res_pipe, "reading the pipe back: %s", strerror(errno));
		} else {
			memcpy(got, p == U_PVM_REMOTE ? uffd_dst : u.region, len);
		}
		if ((d = first_diff(got, want, (size_t)r)) >= 0)
			dprintf(res_pipe, "after the signal the %s data differs at byte %ld of %ld", upin_names[p], d, r);
	}
	/* to the parent, which prints it: a write of stdout here (9p) would pin inside the window */
	dprintf(kid_pipe, "# %s/anon/uffd-signal: SIGUSR1 %s, the pin returned %ld%s\n", upin_names[p],
		usr1_seen ? "delivered" : "not delivered", r, r == (long)len ? " (all)" : "");
	_exit(0);
}

static void uffd_cell(enum upin p, int resolve)
{
	struct cell c = {.mem = ANON, .fd = -1};
	double began = now_s();
	int kp[2], rp[2], st = 0;
	char b, why[300] = "";
	long p0, now;
	pid_t kid;
	struct pollfd pfd;
	ssize_t n;

	snprintf(c.name, sizeof(c.name), "%s/anon/%s", upin_names[p], resolve ? "uffd-signal" : "uffd-kill");
	if (!pvm_wanted(c.name))
		return;
	if (!begins(c.name))
		return;
	if (p == U_GUP_FAST && gup_fd < 0) {
		cskip(&c, "no /sys/kernel/debug/gup_test");
		goto out;
	}
	if (p == U_DIO && !ext4_dir) {
		cskip(&c, "no ext4 directory given (-d)");
		goto out;
	}
	p0 = pins_outstanding();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, kp) || pipe(rp)) {
		cfail(&c, "socketpair/pipe: %s", strerror(errno));
		goto out;
	}
	kid = cell_fork();
	if (kid == 0) {
		close(kp[0]);
		close(rp[0]);
		uffd_child(p, resolve, kp[1], rp[1]);
	}
	close(kp[1]);
	close(rp[1]);
	pfd = (struct pollfd){kp[0], POLLIN, 0};
	if (poll(&pfd, 1, 15000) != 1 || read(kp[0], &b, 1) != 1) {
		/* the child ended (its pin did not wait on the fault) or is stuck before it */
		kill(kid, SIGKILL);
		waitpid(kid, &st, 0);
		n = read(rp[0], why, sizeof(why) - 1);
		why[n > 0 ? n : 0] = 0;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 4)
			cskip(&c, "%s", why);
		else
			cskip(&c, "the pin did not wait on the missing page within 15 s%s%s", why[0] ? ": " : "", why);
		goto settle;
	}
	if (!resolve) {
		double t = now_s();
		pid_t w;

		kill(kid, SIGKILL);
		while ((w = waitpid(kid, &st, WNOHANG)) == 0 && now_s() - t < 20)
			usleep(10 * 1000);
		if (w != kid) {
			char path[64], wchan[128] = "?";
			FILE *f;

			snprintf(path, sizeof(path), "/proc/%d/wchan", kid);
			if ((f = fopen(path, "r"))) {
				if (!fgets(wchan, sizeof(wchan), f))
					wchan[0] = 0;
				fclose(f);
			}
			cfail(&c, "the process waiting in the pin did not die within 20 s of SIGKILL (wchan %s)", wchan);
			goto settle;  /* left behind: the workload's end shows what it holds */
		}
		printf("# %s: the pin waited on the missing page; SIGKILL, dead after %.2f s\n", c.name, now_s() - t);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL)
			cfail(&c, "the child waiting in the pin ended with status 0x%x, not by SIGKILL", st);
	} else {
		kill(kid, SIGUSR1);
		usleep(200 * 1000);
		if (write(kp[0], "R", 1) != 1)
			cfail(&c, "cannot tell the child to resolve the fault");
		pfd = (struct pollfd){rp[0], POLLIN, 0};
		waitpid(kid, &st, 0);
		n = read(kp[0], why, sizeof(why) - 1);  /* the child's "#" line (it has exited: no wait) */
		why[n > 0 ? n : 0] = 0;
		printf("%s", why);
		n = read(rp[0], why, sizeof(why) - 1);
		why[n > 0 ? n : 0] = 0;
		if (why[0])
			cfail(&c, "%s", why);
		else if (!WIFEXITED(st) || WEXITSTATUS(st))
			cfail(&c, "the child ended with status 0x%x", st);
	}
settle:
	if ((now = pins_settle(p0)) != p0)
		cfail(&c, "%ld pin(s) outstanding after the %s ended (FOLL_PIN counters)", now - p0,
		      resolve ? "signalled pin" : "killed process");
	close(kp[0]);
	close(rp[0]);
out:
	verdict(&c, began);
}

static void pvm_cells(void)
{
	static const enum mem kinds[] = {ANON, THP, SHMEM, FILESH, HUGE};

	for (enum pvm_shape s = 0; s < NSHAPE; s++)
		for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
			pvm_cell(kinds[i], s, 0);
			pvm_cell(kinds[i], s, 1);
		}
	for (enum upin p = 0; p < NUPIN; p++) {
		uffd_cell(p, 0);
		uffd_cell(p, 1);
	}
}
