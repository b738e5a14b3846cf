/* User-reachable pinners that need a driver the other kconfig fragments do not build
 * (issue 20, kconfigs/pinners.config): udmabuf, AF_ALG and SG_IO. Part of pin_matrix.c (its
 * struct cell, verdict(), mem_map(), the memcg helpers, pinlib.h's counters and pages_held()),
 * one block of its own entered by kentry_cells() from main. docs/matrix.md "udmabuf, AF_ALG,
 * SG_IO" says what each cell checks and why.
 *
 * udmabuf/<memory>/<event>: a memfd (shmem, shmem-thp, hugetlb) of three units (16 small pages,
 *   or three 2 MiB folios), sealed F_SEAL_SHRINK; UDMABUF_CREATE over [unit/2, unit*3/2), which
 *   pins its folios with memfd_pin_folios() (mm/gup.c) until the dma-buf is released. The
 *   dma-buf is mmapped (udmabuf_vm_fault() inserts the pinned folios' PFNs) and both mappings
 *   must show the same bytes both ways while it lives; the events are a PUNCH_HOLE of the
 *   range, move_pages of the whole memfd, memory.reclaim, a two-item UDMABUF_CREATE_LIST; the
 *   error paths (range past the end, unsealed, F_SEAL_FUTURE_WRITE, an unaligned offset, a
 *   list whose second item is bad, a file that is not a memfd) must fail and leave the pins
 *   where they were.
 * af-alg-hash/<memory>/<path>, af-alg-skcipher/...: sha256 and cbc(aes) through AF_ALG from and
 *   into anon, THP, shmem and ext4 MAP_SHARED buffers, by sendmsg/recvmsg (the user buffer is
 *   extracted with iov_iter_extract_pages(): pinned), by vmsplice + splice into the op socket
 *   (the hash reads the pipe's pages from the spliced bvec iterator, no pin, no copy; 6.12's
 *   af_alg_sendmsg() has no MSG_SPLICE_PAGES path, so the skcipher copies its spliced input),
 *   and with a PROT_NONE page part way; compared with refcrypto.h.
 * sg-io/<memory>/<dir>: SG_IO WRITE(10)/READ(10) on the scsi_debug disk from and into a
 *   buffer (blk_rq_map_user_io(): bio_map_user_iov() pins it), a PROT_NONE page part way, and
 *   requests larger than one bio (sg_bios_cell()).
 * Every cell then checks the FOLL_PIN counters back where they were and, for memory that can
 * migrate, that no page of the buffer is still held (pages_held()).
 */
#include "refcrypto.h"
#include <linux/dma-buf.h>
#include <linux/falloc.h>
#include <linux/if_alg.h>
#include <linux/udmabuf.h>
#include <scsi/sg.h>
#include <sys/socket.h>

#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef SOL_ALG
#define SOL_ALG 279
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

/* The default set's cells (the rest run in pin-matrix-deep). */
static const char *const kentry_quick[] = {
	"udmabuf/shmem/none", "udmabuf/shmem/punch-hole", "udmabuf/shmem/migrate", "udmabuf/shmem/reclaim",
	"udmabuf/shmem/list", "udmabuf/shmem/unpopulated", "udmabuf/hugetlb/unpopulated", "udmabuf/shmem/past-end", "udmabuf/shmem/unsealed", "udmabuf/shmem/write-sealed",
	"udmabuf/shmem/unaligned", "udmabuf/shmem/list-bad", "udmabuf/shmem-thp/none", "udmabuf/shmem-thp/punch-hole",
	"udmabuf/hugetlb/none", "udmabuf/hugetlb/punch-hole", "udmabuf/hugetlb/list-bad", "udmabuf/tmpfs/not-memfd",
	"udmabuf/ext4/not-memfd",
	"af-alg-hash/anon/sendmsg", "af-alg-hash/thp/sendmsg", "af-alg-hash/shmem/splice", "af-alg-hash/ext4-shared/sendmsg",
	"af-alg-hash/anon/fault", "af-alg-skcipher/anon/sendmsg", "af-alg-skcipher/shmem/sendmsg",
	"af-alg-skcipher/thp/splice", "af-alg-skcipher/ext4-shared/splice", "af-alg-skcipher/anon/fault",
	"sg-io/anon/write", "sg-io/anon/read", "sg-io/thp/read", "sg-io/shmem/write", "sg-io/ext4-shared/read",
	"sg-io/hugetlb/write", "sg-io/anon/fault", "sg-io/anon/write-two-bios", "sg-io/anon/read-two-bios",
};

static int kentry_wanted(const char *name) { return BLOCK_WANTED(name, kentry_quick); }

/* KENTRY_REQUIRED (pin-matrix.sh, from the kernel's .config) names the entries the kernel has:
 * their cells fail rather than skip when the entry is missing. */
static void kentry_missing(struct cell *c, const char *entry, const char *why)
{
	const char *req = getenv("KENTRY_REQUIRED");

	if (req && strstr(req, entry))
		cfail(c, "%s (the kernel is built with it)", why);
	else
		cskip(c, "%s", why);
}

/* The FOLL_PIN counters at a cell's start, and the check that they are back. */
struct pinmark {
	long acq, rel;
};

static void pin_mark(struct pinmark *m)
{
	if (pin_counts(&m->acq, &m->rel))
		m->acq = m->rel = -1;
}

static void pins_back(struct cell *c, const struct pinmark *m, const char *after)
{
	long start = m->acq - m->rel, now = pins_settle(start), acq, rel;

	if (m->acq < 0) {
		cfail(c, "no nr_foll_pin_acquired/released in /proc/vmstat: the pins cannot be checked");
		return;
	}
	if (now == start)
		return;
	pin_counts(&acq, &rel);
	cfail(c, "FOLL_PIN acquired - released is %+ld after %s (acquired +%ld, released +%ld): %s", now - start, after,
	      acq - m->acq, rel - m->rel, now > start ? "pins leaked" : "released more than acquired");
}

/* No page of [p, p+len) may stay held once the entry let go (a leaked pin or reference). */
static void none_held(struct cell *c, char *p, size_t len, const char *after)
{
	char why[200];
	long first, held = pages_held(p, len, 2000, &first, why, sizeof(why));

	if (held < 0)
		cskip(c, "page-reference oracle: %s", why);
	else if (held)
		cfail(c, "%ld page(s) still held after %s (first: page %ld): a leaked pin or reference", held, after,
		      first);
}

/* -- udmabuf -------------------------------------------------------------------------------- */

enum ukind { UK_SHMEM, UK_SHMTHP, UK_HUGE, UK_TMPFS, UK_EXT4, NUK };
static const char *const uk_names[NUK] = {"shmem", "shmem-thp", "hugetlb", "tmpfs", "ext4"};
enum uev { UE_NONE, UE_PUNCH, UE_MIGRATE, UE_RECLAIM, UE_LIST, UE_UNPOP, UE_PASTEND, UE_UNSEALED, UE_WSEALED,
	   UE_UNALIGNED, UE_LISTBAD, UE_NOTMEMFD, NUE };
static const char *const ue_names[NUE] = {"none", "punch-hole", "migrate", "reclaim", "list", "unpopulated",
					  "past-end", "unsealed", "write-sealed", "unaligned", "list-bad", "not-memfd"};
static int udmabuf_dev = -2;

static int ue_applies(enum ukind k, enum uev e)
{
	if (k == UK_TMPFS || k == UK_EXT4)
		return e == UE_NOTMEMFD;
	if (e == UE_NOTMEMFD)
		return 0;
	if (k == UK_HUGE)  /* never reclaimed; migration needs per-node pools (not set up) */
		return e != UE_MIGRATE && e != UE_RECLAIM;
	if (k == UK_SHMTHP)
		return e <= UE_LIST || e == UE_PASTEND || e == UE_LISTBAD;
	return 1;
}

struct ubuf {
	int mfd, dfd;
	char *mem;      /* the memfd, all three units, MAP_SHARED */
	char *dma;      /* the dma-buf's mapping */
	size_t unit, len, off, size;  /* the dma-buf covers [off, off + size) of the memfd */
	char *exp;      /* what the memfd holds */
};

static long udmabuf_make(int fd, size_t off, size_t size)
{
	struct udmabuf_create cr = {.memfd = (uint32_t)fd, .flags = UDMABUF_FLAGS_CLOEXEC, .offset = off, .size = size};

	return ioctl(udmabuf_dev, UDMABUF_CREATE, &cr);
}

static long udmabuf_make_list(int fd, size_t off1, size_t size1, size_t off2, size_t size2)
{
	struct {
		struct udmabuf_create_list head;
		struct udmabuf_create_item item[2];
	} l = {.head = {.flags = UDMABUF_FLAGS_CLOEXEC, .count = 2},
	       .item = {{.memfd = (uint32_t)fd, .offset = off1, .size = size1},
			{.memfd = (uint32_t)fd, .offset = off2, .size = size2}}};

	return ioctl(udmabuf_dev, UDMABUF_CREATE_LIST, &l);
}

/* The memfd of three units, filled and sealed F_SEAL_SHRINK (unless the cell tests seals).
 * unpopulated: never touched, so that UDMABUF_CREATE itself allocates the folios of its range
 * (memfd_pin_folios() -> memfd_alloc_folio(), mm/gup.c and mm/memfd.c): the premise (mincore:
 * nothing resident before) is checked, and the cell then checks the bytes both ways (zeros
 * first) and that those folios are neither held (shmem) nor kept out of the pool (hugetlb)
 * once the dma-buf is gone, where an allocation's own reference would stay. */
static int ubuf_map(struct cell *c, enum ukind k, enum uev e, struct ubuf *u)
{
	u->unit = k == UK_SHMEM ? 16 * PAGE : HPAGE;
	u->len = 3 * u->unit;
	u->off = u->unit / 2;
	u->size = u->unit;
	if (k == UK_SHMTHP) {
		c->half = u->len / 2;  /* map_memfd_thp() maps 2 * half, 2 MiB aligned */
		if (map_memfd_thp(c))
			return -1;
		u->mfd = c->fd;
		c->fd = -1;
		u->mem = c->map;
		c->map = NULL;
		if (!u->mem) {
			cfail(c, "cannot map the shmem-thp memfd: %s", strerror(errno));
			return -1;
		}
	} else {
		u->mfd = memfd_create("kentry_udmabuf", MFD_ALLOW_SEALING | (k == UK_HUGE ? MFD_HUGETLB : 0));
		if (u->mfd < 0 || ftruncate(u->mfd, u->len)) {
			cfail(c, "cannot make the %s memfd: %s", uk_names[k], strerror(errno));
			return -1;
		}
		u->mem = mmap(NULL, u->len, PROT_READ | PROT_WRITE, MAP_SHARED, u->mfd, 0);
		if (u->mem == MAP_FAILED) {
			u->mem = NULL;
			cfail(c, "cannot map the %s memfd: %s", uk_names[k], strerror(errno));
			return -1;
		}
	}
	u->exp = malloc(u->len);
	if (e == UE_UNPOP) {
		unsigned char *vec = calloc(u->len / PAGE, 1);
		size_t in = 0;

		if (vec && !mincore(u->mem, u->len, vec))
			for (size_t i = 0; i < u->len / PAGE; i++)
				in += vec[i] & 1;
		free(vec);
		memset(u->exp, 0, u->len);
		if (in) {
			cfail(c, "%zu page(s) of a memfd never touched are resident (mincore)", in);
			return -1;
		}
	} else {
		fill64(u->mem, u->len, 1);
		memcpy(u->exp, u->mem, u->len);
	}
	if (k == UK_SHMTHP && !(is_thp(u->mem) && is_thp(u->mem + HPAGE) && is_thp(u->mem + 2 * HPAGE))) {
		cskip(c, "no THP behind the shmem memfd (kpageflags: %d %d %d)", is_thp(u->mem), is_thp(u->mem + HPAGE),
		      is_thp(u->mem + 2 * HPAGE));
		return -1;
	}
	if (e == UE_UNSEALED)
		return 0;
	if (fcntl(u->mfd, F_ADD_SEALS, F_SEAL_SHRINK | (e == UE_WSEALED ? F_SEAL_FUTURE_WRITE : 0))) {
		cfail(c, "F_ADD_SEALS: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* The process and the dma-buf see the same bytes both ways over [from, from + n) of the
 * dma-buf (memfd offset moff): the memfd's own bytes, then a write through each side. */
static void ubuf_coherent(struct cell *c, struct ubuf *u, size_t from, size_t moff, size_t n, unsigned seed,
			  const char *when)
{
	struct dma_buf_sync sync = {.flags = DMA_BUF_SYNC_START | DMA_BUF_SYNC_RW};
	long d;

	if (ioctl(u->dfd, DMA_BUF_IOCTL_SYNC, &sync)) {
		cfail(c, "DMA_BUF_IOCTL_SYNC start %s: %s", when, strerror(errno));
		return;
	}
	if ((d = first_diff(u->dma + from, u->mem + moff, n)) >= 0) {
		cfail(c, "%s: the dma-buf differs from the memfd at byte %ld of the range", when, (long)from + d);
		return;
	}
	fill64(u->mem + moff, n, seed);  /* the process writes: the dma-buf must show it */
	memcpy(u->exp + moff, u->mem + moff, n);
	if ((d = first_diff(u->dma + from, u->exp + moff, n)) >= 0) {
		cfail(c, "%s: a write through the memfd does not show in the dma-buf (byte %ld)", when, (long)from + d);
		return;
	}
	fill64(u->dma + from, n, seed + 1);  /* written through the dma-buf: the memfd must show it */
	memcpy(u->exp + moff, u->dma + from, n);
	if ((d = first_diff(u->mem + moff, u->exp + moff, n)) >= 0) {
		cfail(c, "%s: a write through the dma-buf does not show in the memfd (byte %ld)", when, (long)moff + d);
	} else {
		char *f = malloc(n);  /* and in the file itself, not only in this mapping */

		if (pread(u->mfd, f, n, moff) != (ssize_t)n)
			cfail(c, "pread of the memfd: %s", strerror(errno));
		else if ((d = first_diff(f, u->exp + moff, n)) >= 0)
			cfail(c, "%s: pread of the memfd differs from the dma-buf's write at byte %ld", when, (long)moff + d);
		free(f);
	}
	sync.flags = DMA_BUF_SYNC_END | DMA_BUF_SYNC_RW;
	if (ioctl(u->dfd, DMA_BUF_IOCTL_SYNC, &sync))
		cfail(c, "DMA_BUF_IOCTL_SYNC end %s: %s", when, strerror(errno));
}

/* move_pages of the memfd while the dma-buf lives: the witness unit (wholly outside the range)
 * must move, a pinned page must not (else the dma-buf maps a page the file no longer has). */
static void ubuf_migrate(struct cell *c, struct ubuf *u)
{
	size_t n = u->len / PAGE, pin0 = u->off / PAGE, pin1 = (u->off + u->size) / PAGE;
	void **pages = calloc(n, sizeof(void *));
	int *nodes = calloc(n, sizeof(int)), *was = calloc(n, sizeof(int)), *now = calloc(n, sizeof(int));
	long before = vmstat("pgmigrate_success"), moved_pinned = 0, moved_witness = 0, first_moved = -1;

	for (size_t i = 0; i < n; i++)
		pages[i] = u->mem + i * PAGE;
	if (nodes_and_other(c, pages, n, was, nodes))
		goto out;
	/* the pages of pinned folios, then each side of them, each call on its own: the first
	 * page that cannot move ends a call's work (do_pages_move() in mm/migrate.c flushes its
	 * batch there and gives up on the rest), and the nodes are read back below */
	if (u->unit == HPAGE)
		pin0 = 0, pin1 = 2 * HPAGE / PAGE;
	/* up to three rounds 100 ms apart while no witness page moved: a page a loaded TCG guest
	 * still holds a moment (EAGAIN) moves on a later one; none after that stays a FAIL */
	for (int tries = 0; tries < 3; tries++) {
		if (tries)
			usleep(100 * 1000);
		syscall(SYS_move_pages, 0, pin1 - pin0, pages + pin0, nodes + pin0, now + pin0, 0);
		if (pin0)
			syscall(SYS_move_pages, 0, pin0, pages, nodes, now, 0);
		syscall(SYS_move_pages, 0, n - pin1, pages + pin1, nodes + pin1, now + pin1, 0);
		if (syscall(SYS_move_pages, 0, n, pages, NULL, now, 0)) {
			cfail(c, "move_pages (read back): %s", strerror(errno));
			goto out;
		}
		moved_witness = 0;
		for (size_t i = 2 * u->unit / PAGE; i < n; i++)
			moved_witness += was[i] >= 0 && now[i] != was[i];
		if (moved_witness)
			break;
	}
	moved_witness = 0;
	for (size_t i = 0; i < n; i++) {
		int pinned = u->unit == HPAGE ? i < 2 * HPAGE / PAGE : (i >= pin0 && i < pin1);

		if (now[i] == was[i] || was[i] < 0)
			continue;
		if (pinned && first_moved < 0)
			first_moved = (long)i;
		moved_pinned += pinned;
		moved_witness += i >= 2 * u->unit / PAGE;
	}
	printf("# %s: move_pages: %ld witness page(s) moved, %ld page(s) of pinned folios moved, pgmigrate_success +%ld\n",
	       c->name, moved_witness, moved_pinned, vmstat("pgmigrate_success") - before);
	if (!moved_witness || vmstat("pgmigrate_success") == before)
		cfail(c, "the witness unit (outside the dma-buf) did not migrate (pgmigrate_success +%ld)",
		      vmstat("pgmigrate_success") - before);
	else if (moved_pinned)
		cfail(c, "%ld page(s) of folios the dma-buf pins migrated (first: memfd page %ld)", moved_pinned,
		      first_moved);
out:
	free(pages);
	free(nodes);
	free(was);
	free(now);
}

/* memory.reclaim while the dma-buf lives: the witness unit must go (swap), the pinned folios
 * must stay the file's (a swapped-out pinned folio would leave the dma-buf on a stale page). */
static void ubuf_reclaim(struct cell *c, struct ubuf *u)
{
	unsigned char vec[2 * HPAGE / PAGE];
	long steal = memcg_stat("pgsteal"), cur;
	size_t wit = 2 * u->unit, out = 0;
	int err;

	err = memcg_reclaim_all((long)u->len, &cur);
	if (err && err != EAGAIN) {
		cfail(c, "memory.reclaim: %s", strerror(err));
		return;
	}
	if (!mincore(u->mem + wit, u->unit, vec))
		for (size_t i = 0; i < u->unit / PAGE; i++)
			out += !(vec[i] & 1);
	printf("# %s: memory.reclaim of %ld bytes: %s, pgsteal +%ld, %zu of %zu witness pages out\n", c->name, cur,
	       err ? strerror(err) : "done", memcg_stat("pgsteal") - steal, out, u->unit / PAGE);
	if (!out)
		cskip(c, "memory.reclaim took no witness page (pgsteal +%ld)", memcg_stat("pgsteal") - steal);
}

/* PUNCH_HOLE of the dma-buf's range. The file must read zeros there. The dma-buf keeps its
 * pinned folios: a folio the punch removed from the file (a whole small or huge page) still
 * holds the old bytes and no longer follows the file; a folio the punch only zeroed in part
 * (shmem THP: truncate_inode_partial_folio() cannot split a pinned folio; hugetlb:
 * hugetlbfs_zero_partial_page()) stays the file's, zeroed and shared. Each page must be one
 * or the other. */
static void ubuf_punch(struct cell *c, struct ubuf *u)
{
	size_t np = u->size / PAGE, detached = 0, shared = 0;
	char *zero = calloc(1, PAGE), *mark = malloc(PAGE);

	if (fallocate(u->mfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, u->off, u->size)) {
		cfail(c, "fallocate PUNCH_HOLE of the dma-buf's range: %s", strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < np && !c->failed[0]; i++) {
		char *m = u->mem + u->off + i * PAGE, *d = u->dma + i * PAGE;

		if (memcmp(m, zero, PAGE)) {
			cfail(c, "memfd page %zu does not read zeros after PUNCH_HOLE", u->off / PAGE + i);
		} else if (!memcmp(d, u->exp + u->off + i * PAGE, PAGE)) {
			/* detached: a write to the dma-buf must not reach the file */
			fill64(mark, PAGE, 40 + (unsigned)i);
			memcpy(d, mark, PAGE);
			if (memcmp(m, zero, PAGE))
				cfail(c, "dma-buf page %zu kept the old bytes, yet a write to it shows in the punched file",
				      i);
			detached++;
		} else if (!memcmp(d, zero, PAGE)) {
			fill64(mark, PAGE, 80 + (unsigned)i);
			memcpy(m, mark, PAGE);
			if (memcmp(d, mark, PAGE))
				cfail(c, "dma-buf page %zu reads zeros like the file, but does not follow it", i);
			shared++;
		} else {
			cfail(c, "dma-buf page %zu after PUNCH_HOLE holds neither its old bytes nor zeros", i);
		}
	}
	/* the file outside the range is untouched */
	if (!c->failed[0] && (first_diff(u->mem, u->exp, u->off) >= 0 ||
			      first_diff(u->mem + u->off + u->size, u->exp + u->off + u->size,
					 u->len - u->off - u->size) >= 0))
		cfail(c, "PUNCH_HOLE changed the memfd outside its range");
	printf("# %s: after PUNCH_HOLE %zu page(s) detached (old bytes, the file reads zeros), %zu zeroed and shared\n",
	       c->name, detached, shared);
	memcpy(u->exp + u->off, u->mem + u->off, u->size);
out:
	free(zero);
	free(mark);
}

static void udmabuf_cell(struct cell *c, enum ukind k, enum uev e)
{
	struct ubuf u = {.mfd = -1, .dfd = -1};
	struct pinmark m;
	long hfree = k == UK_HUGE ? read_long(HUGE_FREE) : 0, acq, rel, r, want, mig0;
	int err = 0;

	if (udmabuf_dev == -2)
		udmabuf_dev = open("/dev/udmabuf", O_RDWR);
	if (udmabuf_dev < 0) {
		kentry_missing(c, "udmabuf", "no /dev/udmabuf (CONFIG_UDMABUF)");
		return;
	}
	if (e == UE_RECLAIM && memcg_cell_enter(c))
		return;
	if (e == UE_NOTMEMFD) {
		/* a regular file: not shmem at all (ext4), or shmem without memfd's seals (tmpfs: born
		 * F_SEAL_SEAL, so F_SEAL_SHRINK can never be added) */
		char path[300];

		if (k == UK_EXT4 && !ext4_dir) {
			cskip(c, "no ext4 directory given (-d)");
			return;
		}
		snprintf(path, sizeof(path), "%s/kentry_udmabuf.%d", k == UK_EXT4 ? ext4_dir : "/dev/shm", getpid());
		if (k == UK_TMPFS && access("/dev/shm", W_OK))
			snprintf(path, sizeof(path), "/run/kentry_udmabuf.%d", getpid());
		u.mfd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		unlink(path);
		if (u.mfd < 0 || ftruncate(u.mfd, 3 * 16 * PAGE)) {
			cfail(c, "cannot make %s: %s", path, strerror(errno));
			goto out;
		}
		u.len = 3 * 16 * PAGE;
		u.mem = mmap(NULL, u.len, PROT_READ | PROT_WRITE, MAP_SHARED, u.mfd, 0);
		if (u.mem == MAP_FAILED) {
			u.mem = NULL;
			cfail(c, "cannot map %s: %s", path, strerror(errno));
			goto out;
		}
		fill64(u.mem, u.len, 1);
		pin_mark(&m);
		r = udmabuf_make(u.mfd, 8 * PAGE, 16 * PAGE);
		err = errno;
		printf("# %s: UDMABUF_CREATE on a %s file: %s\n", c->name, uk_names[k], r < 0 ? strerror(err) : "granted");
		if (r >= 0) {
			cfail(c, "UDMABUF_CREATE granted a dma-buf over a %s file that is not a memfd", uk_names[k]);
			close((int)r);
		}
		pins_back(c, &m, "the refused UDMABUF_CREATE");
		goto out;
	}
	if (ubuf_map(c, k, e, &u))
		goto out;
	mig0 = vmstat("pgmigrate_success");
	pin_mark(&m);
	switch (e) {
	case UE_PASTEND:
		r = udmabuf_make(u.mfd, 2 * u.unit, 2 * u.unit);  /* ends a unit past the file */
		break;
	case UE_UNALIGNED:
		r = udmabuf_make(u.mfd, u.off + 512, u.size);
		break;
	case UE_LISTBAD:  /* the first item pins, the second is past the end: all must be undone */
		r = udmabuf_make_list(u.mfd, u.off, u.size, 2 * u.unit, 2 * u.unit);
		break;
	case UE_LIST:  /* two ranges: [off, off + unit/2) and the first half of the witness unit */
		r = udmabuf_make_list(u.mfd, u.off, u.unit / 2, 2 * u.unit, u.unit / 2);
		break;
	default:
		r = udmabuf_make(u.mfd, u.off, u.size);
		break;
	}
	err = errno;
	pin_counts(&acq, &rel);
	if (e >= UE_PASTEND) {
		printf("# %s: UDMABUF_CREATE%s: %s; FOLL_PIN acquired +%ld, released +%ld\n", c->name,
		       e == UE_LISTBAD ? "_LIST" : "", r < 0 ? strerror(err) : "granted", acq - m.acq, rel - m.rel);
		if (r >= 0) {
			cfail(c, "UDMABUF_CREATE granted a dma-buf (%s)", ue_names[e]);
			close((int)r);
		} else if (err != EINVAL) {
			cfail(c, "UDMABUF_CREATE failed with %s, not EINVAL", strerror(err));
		}
		pins_back(c, &m, "the refused UDMABUF_CREATE");
		if (e == UE_LISTBAD && !c->failed[0] && acq == m.acq)
			cskip(c, "the first item pinned nothing: no unwind to test");
		if (k != UK_HUGE && !c->failed[0])
			none_held(c, u.mem, u.len, "the refused UDMABUF_CREATE");
		goto out;
	}
	if (r < 0) {
		cfail(c, "UDMABUF_CREATE over [%zu, %zu) of a sealed memfd: %s", u.off, u.off + u.size, strerror(err));
		goto out;
	}
	u.dfd = (int)r;
	/* memfd_pin_folios() pins each folio once: small pages one by one, THP/hugetlb per folio */
	if (e == UE_LIST)
		want = k == UK_SHMEM ? (long)(u.unit / PAGE) : 2;
	else
		want = k == UK_SHMEM ? (long)(u.size / PAGE) : 2;
	/* Under movablecore= (the default set boots so, for gup-test) a folio in ZONE_MOVABLE is
	 * pinned, unpinned and migrated out, then pinned again (check_and_migrate_movable_folios()
	 * in memfd_pin_folios()): the extra acquisitions are then all released again. */
	if (acq - m.acq - (rel - m.rel) != want ||
	    (rel != m.rel && !have_movable()))
		cfail(c, "UDMABUF_CREATE: FOLL_PIN acquired +%ld, released +%ld; want +%ld (one per folio), +0%s", acq - m.acq,
		      rel - m.rel, want, have_movable() ? " (or a re-pin released for each"
		      " folio migrated out of ZONE_MOVABLE)" : "");
	else if (rel != m.rel)
		printf("# %s: UDMABUF_CREATE: FOLL_PIN acquired +%ld, released +%ld, pgmigrate_success +%ld: folios migrated out"
		       " of ZONE_MOVABLE before the long-term pin\n", c->name, acq - m.acq, rel - m.rel,
		       vmstat("pgmigrate_success") - mig0);
	/* a long-term pin must not stay in ZONE_MOVABLE (the memfd now maps the pinned folios) */
	if (!c->failed[0] && (r = e == UE_LIST ? pages_in_movable(u.mem + u.off, u.unit / 2) +
						 pages_in_movable(u.mem + 2 * u.unit, u.unit / 2) :
						 pages_in_movable(u.mem + u.off, u.size)))
		cfail(c, "%ld page(s) the dma-buf pins are in ZONE_MOVABLE", r);
	u.dma = mmap(NULL, u.size, PROT_READ | PROT_WRITE, MAP_SHARED, u.dfd, 0);
	if (u.dma == MAP_FAILED) {
		u.dma = NULL;
		cfail(c, "mmap of the dma-buf: %s", strerror(errno));
		goto out;
	}
	if (e == UE_LIST) {
		ubuf_coherent(c, &u, 0, u.off, u.unit / 2, 3, "first item");
		ubuf_coherent(c, &u, u.unit / 2, 2 * u.unit, u.unit / 2, 5, "second item");
	} else {
		ubuf_coherent(c, &u, 0, u.off, u.size, 3, "created");
	}
	if (c->failed[0])
		goto out;
	switch (e) {
	case UE_PUNCH:
		ubuf_punch(c, &u);
		break;
	case UE_MIGRATE:
		ubuf_migrate(c, &u);
		if (!c->failed[0])
			ubuf_coherent(c, &u, 0, u.off, u.size, 7, "after move_pages");
		break;
	case UE_RECLAIM:
		ubuf_reclaim(c, &u);
		if (!c->failed[0])
			ubuf_coherent(c, &u, 0, u.off, u.size, 7, "after memory.reclaim");
		break;
	default:
		break;
	}
	if (c->failed[0])
		goto out;
	/* the dma-buf goes when its fd and its mapping are gone: release_udmabuf() unpins */
	munmap(u.dma, u.size);
	u.dma = NULL;
	close(u.dfd);
	u.dfd = -1;
	pins_back(c, &m, "the dma-buf was closed and unmapped");
	if (first_diff(u.mem, u.exp, u.len) >= 0)
		cfail(c, "the memfd differs from what was written at byte %ld after the dma-buf went",
		      first_diff(u.mem, u.exp, u.len));
	if (k != UK_HUGE && !c->failed[0])
		none_held(c, u.mem, u.len, "the dma-buf was released");
out:
	if (u.dma)
		munmap(u.dma, u.size);
	if (u.dfd >= 0)
		close(u.dfd);
	if (u.mem)
		munmap(u.mem, u.len);
	if (u.mfd >= 0)
		close(u.mfd);
	free(u.exp);
	if (k == UK_HUGE && !c->failed[0] && read_long(HUGE_FREE) != hfree)
		cfail(c, "free hugetlb pages %ld before the cell, %ld after the memfd and dma-buf are gone", hfree,
		      read_long(HUGE_FREE));
	memcg_leave();
}

/* race/udmabuf-vs-seal: UDMABUF_CREATE of a fresh memfd against F_ADD_SEALS(F_SEAL_WRITE) from
 * another thread. udmabuf checks the seals and pins the folios under the inode lock, which
 * memfd_add_seals() takes exclusively, and F_SEAL_WRITE waits for pins to go and fails while
 * any stays (mm/memfd.c memfd_wait_for_pins(): EBUSY): so one of the two must fail. Both
 * succeeding leaves a dma-buf that writes into a file sealed against writes. Each round makes
 * a new memfd that is never touched (the create allocates its folios: a wider window), lets
 * the two threads go together, and delays the sealer by a round-dependent spin, so that the
 * seal sweeps across the create's path. A race whose both orders never happened skips. */
#include <stdatomic.h>

struct seal_race {
	atomic_int phase;         /* odd: a round is on; the threads meet at each change */
	atomic_int sealer_done;
	int mfd, seal_ok;
	unsigned spin;
	volatile int stop;
};

static void spin_for(unsigned n)
{
	for (volatile unsigned i = 0; i < n; i++)
		;
}

static void *seal_side(void *arg)
{
	struct seal_race *s = arg;

	for (int seen = 0;;) {
		while (atomic_load(&s->phase) == seen && !s->stop)
			;
		seen = atomic_load(&s->phase);
		if (s->stop)
			return NULL;
		spin_for(s->spin);
		s->seal_ok = !fcntl(s->mfd, F_ADD_SEALS, F_SEAL_WRITE);
		atomic_store(&s->sealer_done, seen);
	}
}

static void udmabuf_seal_race(double secs)
{
	const char *name = "race/udmabuf-vs-seal";
	static struct seal_race s;  /* static: a sealer stuck in the kernel may outlive this call */
	long rounds = 0, create_won = 0, seal_won = 0, both = 0;
	double t0;
	pthread_t t;
	char why[200] = "";

	if (!wanted(name) || !begins(name))
		return;
	s.mfd = -1;
	if (udmabuf_dev == -2)
		udmabuf_dev = open("/dev/udmabuf", O_RDWR);
	if (udmabuf_dev < 0) {
		printf("CASE %s SKIP: no /dev/udmabuf (CONFIG_UDMABUF)\n", name);
		cells_skip++;
		return;
	}
	if ((errno = pthread_create(&t, NULL, seal_side, &s))) {
		printf("CASE %s FAIL: pthread_create: %s\n", name, strerror(errno));
		cells_fail++;
		return;
	}
	for (t0 = now_s(); now_s() - t0 < secs && !both && !why[0]; rounds++) {
		long r;
		double waited;

		s.mfd = memfd_create("kentry_seal_race", MFD_ALLOW_SEALING);
		if (s.mfd < 0 || ftruncate(s.mfd, 64 * PAGE) || fcntl(s.mfd, F_ADD_SEALS, F_SEAL_SHRINK)) {
			snprintf(why, sizeof(why), "memfd of 64 pages sealed F_SEAL_SHRINK: %s", strerror(errno));
			if (s.mfd >= 0)
				close(s.mfd);
			break;
		}
		s.spin = (unsigned)(rounds % 64) * 50;  /* the sealer's delay sweeps 0..3150 spins */
		atomic_fetch_add(&s.phase, 1);
		r = udmabuf_make(s.mfd, 0, 64 * PAGE);
		for (waited = now_s(); atomic_load(&s.sealer_done) != atomic_load(&s.phase);)
			if (now_s() - waited > 30) {  /* F_ADD_SEALS blocked: say so rather than hang */
				snprintf(why, sizeof(why), "F_ADD_SEALS(F_SEAL_WRITE) did not return in 30 s");
				break;
			}
		if (why[0]) {
			if (r >= 0)
				close((int)r);
			break;  /* the sealer still holds the memfd: left open */
		}
		both += r >= 0 && s.seal_ok;
		create_won += r >= 0 && !s.seal_ok;
		seal_won += r < 0 && s.seal_ok;
		if (r >= 0)
			close((int)r);
		close(s.mfd);
	}
	s.stop = 1;
	atomic_fetch_add(&s.phase, 1);
	if (!why[0] || !strstr(why, "did not return"))
		pthread_join(t, NULL);  /* a sealer stuck in the kernel is left there: the case says why */
	printf("# %s: %.1f s, %ld rounds: the create won %ld, the seal won %ld, both %ld\n", name, now_s() - t0, rounds,
	       create_won, seal_won, both);
	if (why[0]) {
		printf("CASE %s FAIL: %s\n", name, why);
		cells_fail++;
	} else if (both) {
		printf("CASE %s FAIL: UDMABUF_CREATE and F_ADD_SEALS(F_SEAL_WRITE) both succeeded on one memfd (round %ld):"
		       " a writable dma-buf over a file sealed against writes\n", name, rounds);
		cells_fail++;
	} else if (!create_won || !seal_won) {
		printf("CASE %s SKIP: only one order happened (the create first %ld times, the seal first %ld)\n", name,
		       create_won, seal_won);
		cells_skip++;
	} else {
		printf("CASE %s PASS\n", name);
		cells_pass++;
	}
}

/* -- AF_ALG --------------------------------------------------------------------------------- */

enum apath { AP_SENDMSG, AP_SPLICE, AP_FAULT, NAP };
static const char *const ap_names[NAP] = {"sendmsg", "splice", "fault"};
static const enum mem alg_mems[] = {ANON, THP, SHMEM, FILESH};
#define ALG_CHUNK (16 * PAGE)  /* one pipe's worth (16 buffers), under the socket's buffer limits */
static const unsigned char alg_key[16] = "pinbench-kentry!";

/* An op socket for sha256 or cbc(aes); -1 with why in c */
static int alg_open(struct cell *c, int cipher)
{
	struct sockaddr_alg sa = {.salg_family = AF_ALG};
	int tfm = socket(AF_ALG, SOCK_SEQPACKET, 0), op;

	if (tfm < 0) {
		kentry_missing(c, "af-alg", "no AF_ALG socket (CONFIG_CRYPTO_USER_API)");
		return -1;
	}
	strcpy((char *)sa.salg_type, cipher ? "skcipher" : "hash");
	strcpy((char *)sa.salg_name, cipher ? "cbc(aes)" : "sha256");
	if (bind(tfm, (struct sockaddr *)&sa, sizeof(sa))) {
		kentry_missing(c, "af-alg", cipher ? "AF_ALG bind skcipher cbc(aes) failed" : "AF_ALG bind hash sha256 failed");
		close(tfm);
		return -1;
	}
	if (cipher && setsockopt(tfm, SOL_ALG, ALG_SET_KEY, alg_key, 16)) {
		cfail(c, "ALG_SET_KEY: %s", strerror(errno));
		close(tfm);
		return -1;
	}
	op = accept(tfm, NULL, 0);
	close(tfm);
	if (op < 0)
		cfail(c, "accept on the AF_ALG socket: %s", strerror(errno));
	return op;
}

/* The control message of one skcipher request: operation and IV (per chunk: the chunk index). */
static ssize_t alg_sendmsg(int op, int enc, unsigned ivseed, const void *data, size_t len, int flags)
{
	char cbuf[CMSG_SPACE(sizeof(uint32_t)) + CMSG_SPACE(sizeof(struct af_alg_iv) + 16)] = {0};
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct msghdr msg = {.msg_control = cbuf, .msg_controllen = sizeof(cbuf), .msg_iov = &iov,
			     .msg_iovlen = len ? 1 : 0};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	struct af_alg_iv *iv;

	cm->cmsg_level = SOL_ALG;
	cm->cmsg_type = ALG_SET_OP;
	cm->cmsg_len = CMSG_LEN(sizeof(uint32_t));
	*(uint32_t *)CMSG_DATA(cm) = enc ? ALG_OP_ENCRYPT : ALG_OP_DECRYPT;
	cm = CMSG_NXTHDR(&msg, cm);
	cm->cmsg_level = SOL_ALG;
	cm->cmsg_type = ALG_SET_IV;
	cm->cmsg_len = CMSG_LEN(sizeof(struct af_alg_iv) + 16);
	iv = (struct af_alg_iv *)CMSG_DATA(cm);
	iv->ivlen = 16;
	for (int i = 0; i < 16; i++)
		iv->iv[i] = (unsigned char)(ivseed * 31 + i);
	return sendmsg(op, &msg, flags);
}

static void alg_iv(unsigned ivseed, unsigned char iv[16])
{
	for (int i = 0; i < 16; i++)
		iv[i] = (unsigned char)(ivseed * 31 + i);
}

/* vmsplice n bytes of p into the pipe and splice them into the op socket (MSG_SPLICE_PAGES) */
static int alg_splice(struct cell *c, int op, int pfd[2], char *p, size_t n, int more)
{
	struct iovec iov = {.iov_base = p, .iov_len = n};
	ssize_t v = vmsplice(pfd[1], &iov, 1, 0), s;

	if (v != (ssize_t)n) {
		cfail(c, "vmsplice of %zu bytes: %zd (%s)", n, v, v < 0 ? strerror(errno) : "short");
		return -1;
	}
	s = splice(pfd[0], NULL, op, NULL, n, more ? SPLICE_F_MORE : 0);
	if (s != (ssize_t)n) {
		cfail(c, "splice of %zu bytes into the op socket: %zd (%s)", n, s, s < 0 ? strerror(errno) : "short");
		return -1;
	}
	return 0;
}

/* sha256 of the buffer through the op socket, by sendmsg or splice; 0 and the digest, or -1 */
static int alg_hash(struct cell *c, int op, enum apath p, char *buf, size_t len, unsigned char d[32])
{
	int pfd[2] = {-1, -1}, rc = -1;

	if (p == AP_SENDMSG) {
		ssize_t s = send(op, buf, len, 0);

		if (s != (ssize_t)len) {
			cfail(c, "send of %zu bytes to the hash socket: %zd (%s)", len, s, s < 0 ? strerror(errno) : "short");
			return -1;
		}
	} else {
		if (pipe(pfd)) {
			cfail(c, "pipe: %s", strerror(errno));
			return -1;
		}
		for (size_t off = 0; off < len; off += ALG_CHUNK)
			if (alg_splice(c, op, pfd, buf + off, len - off < ALG_CHUNK ? len - off : ALG_CHUNK,
				       off + ALG_CHUNK < len))
				goto out;
	}
	if (read(op, d, 32) != 32) {
		cfail(c, "read of the digest: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (pfd[0] >= 0) {
		close(pfd[0]);
		close(pfd[1]);
	}
	return rc;
}

/* cbc(aes) of in to out, chunk by chunk (IV: the chunk's index + ivbase), by sendmsg or splice
 * of the input; out is read back with read() (af_alg_get_rsgl(): extracted, pinned) */
static int alg_cipher(struct cell *c, int op, enum apath p, int enc, char *in, char *out, size_t len, unsigned ivbase)
{
	int pfd[2] = {-1, -1}, rc = -1;

	if (p == AP_SPLICE && pipe(pfd)) {
		cfail(c, "pipe: %s", strerror(errno));
		return -1;
	}
	for (size_t off = 0; off < len; off += ALG_CHUNK) {
		size_t n = len - off < ALG_CHUNK ? len - off : ALG_CHUNK;
		unsigned ivs = ivbase + (unsigned)(off / ALG_CHUNK);
		ssize_t s, r;

		if (p == AP_SPLICE) {
			s = alg_sendmsg(op, enc, ivs, NULL, 0, MSG_MORE);  /* operation and IV only */
			if (s < 0 || alg_splice(c, op, pfd, in + off, n, 0))
				goto fail_send;
		} else {
			s = alg_sendmsg(op, enc, ivs, in + off, n, 0);
			if (s != (ssize_t)n)
				goto fail_send;
		}
		r = read(op, out + off, n);
		if (r != (ssize_t)n) {
			cfail(c, "read of %zu bytes of %s: %zd (%s)", n, enc ? "ciphertext" : "plaintext", r,
			      r < 0 ? strerror(errno) : "short");
			goto out;
		}
		continue;
fail_send:
		if (!c->failed[0])
			cfail(c, "sendmsg of %zu bytes to the skcipher socket: %zd (%s)", n, s, s < 0 ? strerror(errno) : "short");
		goto out;
	}
	rc = 0;
out:
	if (pfd[0] >= 0) {
		close(pfd[0]);
		close(pfd[1]);
	}
	return rc;
}

static void alg_ref_cipher(const char *in, char *out, size_t len, unsigned ivbase)
{
	unsigned char iv[16];

	for (size_t off = 0; off < len; off += ALG_CHUNK) {
		size_t n = len - off < ALG_CHUNK ? len - off : ALG_CHUNK;

		alg_iv(ivbase + (unsigned)(off / ALG_CHUNK), iv);
		aes128_cbc_encrypt(alg_key, iv, in + off, out + off, n);
	}
}

/* a PROT_NONE page part way: sendmsg from it (hash) or read into it (skcipher) must fail or
 * stop short of the page; bytes past it unchanged; the socket still works afterwards. */
static void alg_fault(struct cell *c, int op, int cipher)
{
	size_t len = 2 * c->half, bad = c->half + 4 * PAGE;  /* a page of the second half */
	char *keep = malloc(len), *ref = malloc(len > 4 * ALG_CHUNK ? len : 4 * ALG_CHUNK);
	unsigned char d[32], want[32];
	ssize_t r;
	long diff;

	memcpy(keep, c->map, len);  /* the PROT_NONE page included: nothing may change it */
	if (mprotect(c->map + bad, PAGE, PROT_NONE)) {
		cfail(c, "mprotect PROT_NONE: %s", strerror(errno));
		goto out;
	}
	if (!cipher) {
		r = send(op, c->map, len, 0);
		printf("# %s: send of %zu bytes, page %zu PROT_NONE: %zd%s%s\n", c->name, len, bad / PAGE, r,
		       r < 0 ? " " : "", r < 0 ? strerror(errno) : "");
		if (r > (ssize_t)bad)
			cfail(c, "send returned %zd bytes: more than the %zu before the PROT_NONE page", r, bad);
		else if (r < 0 && errno != EFAULT)
			cfail(c, "send failed with %s, not EFAULT", strerror(errno));
	} else {
		/* one request of two chunks (32 pages), read into the buffer 20 pages before the
		 * bad page: af_alg_get_rsgl() extracts the first 16 pages into one RX SGL, and the
		 * second extraction meets the bad page, so the request is given up with pages pinned */
		size_t n = 2 * ALG_CHUNK, before = 20 * PAGE;
		char *dst = c->map + bad - before;
		unsigned char iv[16];

		fill64(ref, n, 77);
		if (alg_sendmsg(op, 1, 9, ref, n, 0) != (ssize_t)n) {
			cfail(c, "sendmsg of %zu bytes: %s", n, strerror(errno));
			goto restore;
		}
		r = read(op, dst, n);
		printf("# %s: read of %zu bytes of ciphertext, PROT_NONE page %zu pages in: %zd%s%s\n", c->name, n,
		       before / PAGE, r, r < 0 ? " " : "", r < 0 ? strerror(errno) : "");
		if (r > (ssize_t)before) {
			cfail(c, "read returned %zd bytes: more than the %zu before the PROT_NONE page", r, before);
		} else if (r < 0 && errno != EFAULT) {
			cfail(c, "read failed with %s, not EFAULT", strerror(errno));
		} else if (r > 0) {
			alg_iv(9, iv);
			aes128_cbc_encrypt(alg_key, iv, ref, ref + n, n);
			if (memcmp(dst, ref + n, r))
				cfail(c, "the %zd bytes read before the PROT_NONE page are not the ciphertext", r);
			memcpy(keep + (dst - c->map), dst, r);
		} else {
			memcpy(keep + (dst - c->map), dst, before);  /* EFAULT: what came before is not judged */
		}
	}
restore:
	if (mprotect(c->map + bad, PAGE, PROT_READ | PROT_WRITE))
		cfail(c, "mprotect back: %s", strerror(errno));
	if ((diff = first_diff(c->map, keep, len)) >= 0 && !c->failed[0])
		cfail(c, "the buffer changed at byte %ld (the PROT_NONE page is at %zu)", diff, bad);
	if (c->failed[0])
		goto out;
	/* a fresh op socket does the whole buffer right (the failed request left nothing behind) */
	close(op);
	op = -1;
	if ((op = alg_open(c, cipher)) < 0)
		goto out;
	if (!cipher) {
		if (!alg_hash(c, op, AP_SENDMSG, c->map, len, d)) {
			sha256(c->map, len, want);
			if (memcmp(d, want, 32))
				cfail(c, "after the fault, the digest of the whole buffer is wrong");
		}
	} else if (!alg_cipher(c, op, AP_SENDMSG, 1, c->map, ref, c->half, 3)) {
		alg_ref_cipher(c->map, keep, c->half, 3);
		if (memcmp(ref, keep, c->half))
			cfail(c, "after the fault, the ciphertext of the first half is wrong");
	}
out:
	if (op >= 0)
		close(op);
	free(keep);
	free(ref);
}

static void alg_cell(struct cell *c, int cipher, enum apath p)
{
	struct pinmark m;
	int op;
	long acq, rel;

	if (mem_map(c))
		return;
	pin_mark(&m);
	if ((op = alg_open(c, cipher)) < 0)
		return;
	if (p == AP_FAULT) {
		alg_fault(c, op, cipher);  /* closes op */
	} else if (!cipher) {
		size_t len = 2 * c->half;
		unsigned char d[32], want[32];

		/* the kernel hashes the buffer (pinned for sendmsg, pipe references for splice),
		 * then the process writes it and the kernel must hash the new bytes */
		for (unsigned seed = 1; seed <= 2 && !c->failed[0]; seed++) {
			if (seed == 2)
				fill64(c->map, len, 2);
			if (alg_hash(c, op, p, c->map, len, d))
				break;
			sha256(c->map, len, want);
			if (memcmp(d, want, 32))
				cfail(c, "sha256 through AF_ALG (%s) of the %s buffer differs from the reference%s", ap_names[p],
				      mem_names[c->mem], seed == 2 ? " after the process rewrote it" : "");
		}
		close(op);
	} else {
		/* plaintext in the first half, ciphertext into the second (pinned by read), then
		 * decrypted from the second back into the first */
		char *pt = malloc(c->half), *ct = malloc(c->half);

		memcpy(pt, c->map, c->half);
		alg_ref_cipher(pt, ct, c->half, 1);
		if (!alg_cipher(c, op, p, 1, c->map, c->map + c->half, c->half, 1)) {
			long d = first_diff(c->map + c->half, ct, c->half);

			if (d >= 0)
				cfail(c, "cbc(aes) through AF_ALG (%s) into the %s buffer differs from the reference at byte %ld",
				      ap_names[p], mem_names[c->mem], d);
			else if (memset(c->map, 0, c->half), !alg_cipher(c, op, p, 0, c->map + c->half, c->map, c->half, 1) &&
				 (d = first_diff(c->map, pt, c->half)) >= 0)
				cfail(c, "decrypting it back into the %s buffer gives other bytes at %ld", mem_names[c->mem], d);
		}
		free(pt);
		free(ct);
		close(op);
	}
	pin_counts(&acq, &rel);
	if (!c->failed[0] && p == AP_SENDMSG)
		printf("# %s: FOLL_PIN acquired +%ld, released +%ld\n", c->name, acq - m.acq, rel - m.rel);
	pins_back(c, &m, "the AF_ALG requests");
	if (!c->failed[0] && p == AP_SENDMSG && acq == m.acq)
		cskip(c, "AF_ALG pinned nothing (FOLL_PIN acquired +0): not the extraction path");
	if (!c->failed[0])
		none_held(c, c->map, 2 * c->half, "the AF_ALG requests");
}

/* -- SG_IO on the scsi_debug disk ----------------------------------------------------------- */

static const enum mem sg_mems[] = {ANON, THP, SHMEM, FILESH, HUGE};
static char sg_dev[64];

/* /dev/sdX whose model is scsi_debug, never another disk; "" when there is none */
static const char *sg_find(void)
{
	char path[128], model[64];

	if (sg_dev[0])
		return sg_dev;
	for (char x = 'a'; x <= 'z'; x++) {
		FILE *f;

		snprintf(path, sizeof(path), "/sys/block/sd%c/device/model", x);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(model, sizeof(model), f) && !strncmp(model, "scsi_debug", 10))
			snprintf(sg_dev, sizeof(sg_dev), "/dev/sd%c", x);
		fclose(f);
		if (sg_dev[0])
			break;
	}
	return sg_dev;
}

/* READ(10) or WRITE(10) of n bytes at block lba (512-byte blocks) through SG_IO */
static int sg_rw(int fd, int write, char *buf, size_t n, unsigned lba, char *why, size_t wn)
{
	unsigned char cdb[10] = {write ? 0x2a : 0x28}, sense[32];
	unsigned blocks = (unsigned)(n / 512);
	struct sg_io_hdr h = {.interface_id = 'S', .dxfer_direction = write ? SG_DXFER_TO_DEV : SG_DXFER_FROM_DEV,
			      .cmd_len = 10, .mx_sb_len = sizeof(sense), .dxfer_len = (unsigned)n, .dxferp = buf,
			      .cmdp = cdb, .sbp = sense, .timeout = 20000};

	cdb[2] = lba >> 24, cdb[3] = lba >> 16, cdb[4] = lba >> 8, cdb[5] = lba;
	cdb[7] = blocks >> 8, cdb[8] = blocks;
	if (ioctl(fd, SG_IO, &h)) {
		snprintf(why, wn, "SG_IO %s(10): %s", write ? "WRITE" : "READ", strerror(errno));
		return -errno;
	}
	if (h.status || h.host_status || h.driver_status || h.resid) {
		snprintf(why, wn, "SG_IO %s(10): status %#x host %#x driver %#x resid %d", write ? "WRITE" : "READ",
			 h.status, h.host_status, h.driver_status, h.resid);
		return -EIO;
	}
	return 0;
}

/* len bytes between buf and the disk from block 0, checked both ways: write sends buf's bytes
 * to the disk and reads them back into plain; read writes plain's bytes (a pattern) to the disk
 * and reads them into buf. 0, or -1 with the cell failed. */
static int sg_both_ways(struct cell *c, int fd, int write, char *buf, char *plain, size_t len, const char *what)
{
	char why[200];
	long d;

	if (write)
		memset(plain, 0, len);
	else
		fill64(plain, len, 21);
	if (sg_rw(fd, write, write ? buf : plain, len, 0, why, sizeof(why)) ||
	    sg_rw(fd, 0, write ? plain : buf, len, 0, why, sizeof(why)))
		cfail(c, "%s", why);
	else if ((d = first_diff(plain, buf, len)) >= 0)
		cfail(c, write ? "WRITE(10) from the %s buffer: the disk differs at byte %ld"
			       : "READ(10) into the %s buffer differs from the disk at byte %ld", what, d);
	return c->failed[0] ? -1 : 0;
}

/* After the transfers from m on: the pins given back, and the premise that `pages` pages were
 * mapped into the bios (bio_map_user_iov(): a pin a page, THP and hugetlb included), not copied
 * (bio_copy_user_iov(), when blk_rq_map_user_iov() finds a buffer misaligned). */
static long sg_pins_after(struct cell *c, const struct pinmark *m, long pages)
{
	long acq, rel;

	pin_counts(&acq, &rel);
	if (!c->failed[0])
		printf("# %s: FOLL_PIN acquired +%ld, released +%ld\n", c->name, acq - m->acq, rel - m->rel);
	pins_back(c, m, "SG_IO");
	if (!c->failed[0] && acq - m->acq < pages)
		cskip(c, "SG_IO pinned %ld page(s) for transfers of %ld pages: copied, not mapped", acq - m->acq, pages);
	return acq - m->acq;
}

/* write: the buffer's bytes go to the disk (read back by a plain buffer); read: the disk's
 * bytes (written from a plain buffer) come into the buffer; fault: a PROT_NONE page part way */
static void sg_cell(struct cell *c, int write, int fault)
{
	const char *dev = sg_find();
	size_t len;
	char why[200], *plain = NULL;
	struct pinmark m;
	int fd = -1, r;
	long d;

	if (!dev[0]) {
		kentry_missing(c, "sg-io", "no scsi_debug disk in /sys/block (CONFIG_SCSI_DEBUG)");
		return;
	}
	if (mem_map(c))
		return;
	len = c->half < 64 * PAGE ? c->half : 64 * PAGE;  /* 256 KiB at most: one request */
	fd = open(dev, O_RDWR);
	if (fd < 0) {
		cfail(c, "open %s: %s", dev, strerror(errno));
		return;
	}
	plain = aligned_alloc(PAGE, len);
	pin_mark(&m);
	if (fault) {
		if (mprotect(c->map + 4 * PAGE, PAGE, PROT_NONE)) {
			cfail(c, "mprotect: %s", strerror(errno));
		} else {
			r = sg_rw(fd, 0, c->map, 8 * PAGE, 0, why, sizeof(why));
			printf("# %s: READ(10) of 8 pages into a buffer whose page 4 is PROT_NONE: %s\n", c->name,
			       r ? why : "done");
			if (!r)
				cfail(c, "SG_IO READ(10) into a buffer with a PROT_NONE page succeeded");
			else if (r != -EFAULT)
				cfail(c, "%s, not EFAULT", why);
			mprotect(c->map + 4 * PAGE, PAGE, PROT_READ | PROT_WRITE);
			if (!c->failed[0] && (d = first_diff(c->map + 5 * PAGE, c->exp + 5 * PAGE, 3 * PAGE)) >= 0)
				cfail(c, "the refused READ(10) wrote past the PROT_NONE page (byte %ld)", 5 * (long)PAGE + d);
		}
	} else if (!sg_both_ways(c, fd, write, c->map, plain, len, mem_names[c->mem])) {
		if (write && (d = first_diff(c->map, c->exp, c->half < len ? c->half : len)) >= 0)
			cfail(c, "WRITE(10) changed the %s buffer at byte %ld", mem_names[c->mem], d);
		else if (!write && c->mem == FILESH)
			check_disk(c, plain, 0, "the ext4 file under the buffer READ(10) filled");
	}
	close(fd);
	free(plain);
	sg_pins_after(c, &m, fault ? 0 : 2 * (long)(len / PAGE));
	if (!c->failed[0] && c->mem != HUGE)
		none_held(c, c->map, len, "SG_IO");
}

/* sg-io/anon/<write|read>-two-bios: one request of SG_BIOS_PAGES pages from anon memory, more
 * than one bio of bio_map_user_iov() holds (nr_vecs is at most BIO_MAX_VECS, 256 pages, and on
 * the scsi_debug disk every page is a segment of its own: dma_boundary PAGE_SIZE - 1 without
 * clustering). The first batch of 256 extracted pages fills the bio; the next batch is refused
 * at its first page by the mapping loop and must be given back whole, and blk_rq_map_user_iov()
 * maps it into a second bio: the limit path of every passthrough request larger than a bio.
 * The request must fit the disk's max_hw_sectors and max_segments (else SKIP). Premise: more pins than pages
 * (the pages extracted past the full bio were pinned, handed back, and pinned again for the
 * next; 6.12: 2 x (272 + 16)), else the limit path did not run: SKIP. */
#define SG_BIOS_PAGES (256 + 16)

static void sg_bios_cell(struct cell *c, int write)
{
	const char *dev = sg_find();
	size_t len = SG_BIOS_PAGES * (size_t)PAGE;
	char path[128], *buf = MAP_FAILED, *plain = NULL;
	struct pinmark m;
	long max_kb;
	int fd;

	if (!dev[0]) {
		kentry_missing(c, "sg-io", "no scsi_debug disk in /sys/block (CONFIG_SCSI_DEBUG)");
		return;
	}
	snprintf(path, sizeof(path), "/sys/block/%s/queue/max_hw_sectors_kb", dev + strlen("/dev/"));
	max_kb = read_long(path);
	if (max_kb < 0) {
		cskip(c, "cannot read %s", path);
		return;
	}
	if ((size_t)max_kb * 1024 < len) {  /* sg_io() refuses more than max_hw_sectors: EIO */
		cskip(c, "%s takes at most %ld KiB a request: no request fills a bio of 256 pages and goes on", dev, max_kb);
		return;
	}
	snprintf(path, sizeof(path), "/sys/block/%s/queue/max_segments", dev + strlen("/dev/"));
	if (read_long(path) < SG_BIOS_PAGES) {  /* blk_rq_append_bio() would refuse the second bio: EINVAL */
		cskip(c, "%s takes %ld segments a request (%s), fewer than the %d pages: one page a segment here",
		      dev, read_long(path), path, SG_BIOS_PAGES);
		return;
	}
	fd = open(dev, O_RDWR);
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	plain = aligned_alloc(PAGE, len);
	if (fd < 0 || buf == MAP_FAILED || !plain) {
		cfail(c, "open %s, mmap or alloc of %zu bytes: %s", dev, len, strerror(errno));
	} else {
		long acq;

		fill64(buf, len, 22);
		pin_mark(&m);
		sg_both_ways(c, fd, write, buf, plain, len, "anon");
		acq = sg_pins_after(c, &m, 2 * SG_BIOS_PAGES);
		none_held(c, buf, len, "SG_IO");
		if (!c->failed[0] && !c->skip[0] && acq <= 2 * SG_BIOS_PAGES)
			cskip(c, "SG_IO pinned %ld page(s) for two requests of %d: none extracted past a full bio (the limit path did not run)",
			      acq, SG_BIOS_PAGES);
	}
	if (fd >= 0)
		close(fd);
	if (buf != MAP_FAILED)
		munmap(buf, len);
	free(plain);
}

static void kentry_cells(void)
{
	const char *bad = ref_selftest();

	for (enum ukind k = 0; k < NUK; k++)
		for (enum uev e = 0; e < NUE; e++) {
			struct cell c = {.fd = -1, .mem = SHMEM};
			double began = now_s();

			if (!ue_applies(k, e))
				continue;
			snprintf(c.name, sizeof(c.name), "udmabuf/%s/%s", uk_names[k], ue_names[e]);
			if (!kentry_wanted(c.name))
				continue;
			if (!begins(c.name))
				continue;
			udmabuf_cell(&c, k, e);
			verdict(&c, began);
		}
	for (int cipher = 0; cipher <= 1; cipher++)
		for (size_t i = 0; i < sizeof(alg_mems) / sizeof(alg_mems[0]); i++)
			for (enum apath p = 0; p < NAP; p++) {
				struct cell c = {.fd = -1, .mem = alg_mems[i], .ev = NONE};
				double began = now_s();

				snprintf(c.name, sizeof(c.name), "af-alg-%s/%s/%s", cipher ? "skcipher" : "hash",
					 mem_names[c.mem], ap_names[p]);
				if (!kentry_wanted(c.name))
					continue;
				if (!begins(c.name))
					continue;
				if (bad)
					cfail(&c, "the userspace reference is wrong: %s", bad);
				else if (c.mem == FILESH && !ext4_dir)
					cskip(&c, "no ext4 directory given (-d)");
				else
					alg_cell(&c, cipher, p);
				mem_unmap(&c);
				verdict(&c, began);
			}
	for (size_t i = 0; i < sizeof(sg_mems) / sizeof(sg_mems[0]); i++)
		for (int s = 0; s < 3; s++) {
			struct cell c = {.fd = -1, .mem = sg_mems[i], .ev = NONE};
			double began = now_s();

			if (s == 2 && c.mem != ANON && c.mem != THP)
				continue;
			snprintf(c.name, sizeof(c.name), "sg-io/%s/%s", mem_names[c.mem], s == 0 ? "write" : s == 1 ? "read" : "fault");
			if (!kentry_wanted(c.name))
				continue;
			if (!begins(c.name))
				continue;
			if (c.mem == FILESH && !ext4_dir)
				cskip(&c, "no ext4 directory given (-d)");
			else
				sg_cell(&c, s == 0, s == 2);
			mem_unmap(&c);
			verdict(&c, began);
		}
	for (int write = 1; write >= 0; write--) {
		struct cell c = {.fd = -1, .mem = ANON, .ev = NONE};
		double began = now_s();

		snprintf(c.name, sizeof(c.name), "sg-io/anon/%s-two-bios", write ? "write" : "read");
		if (!kentry_wanted(c.name) || !begins(c.name))
			continue;
		sg_bios_cell(&c, write);
		verdict(&c, began);
	}
}
