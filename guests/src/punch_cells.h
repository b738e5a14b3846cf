/* punch/<pin>/<memory>/<op>: a hole punched, or the file truncated, inside a range of a file
 * that a pin holds. Truncation removes every page wholly inside the range from the file (the
 * pin keeps its own reference to it) and zeroes the parts of the pages at its ends in place
 * (mm/truncate.c truncate_inode_pages_range(), truncate_inode_partial_folio(); shmem's
 * shmem_undo_range()); a large folio at an end is split first, and a pinned one cannot be, so it
 * is zeroed in place and stays in the file whole. Whatever happens inside the hole, nothing
 * outside it may change: not its bytes in the file, and not its pages (the pin and the process
 * must still share them). Written after reading round 5's truncate-split-fail-drop-dirty
 * (docs/redteam.md), for its class: no event of the matrix punched or truncated a pinned file.
 *
 * pin: uring (a fixed buffer: shmem, shmem-thp), gup-slow (a long-term read-only pin: ext4
 *      MAP_SHARED, where a writable long-term pin is refused);
 * memory: shmem, shmem-thp (the pinned half one 2 MiB folio), ext4-shared;
 * op: punch (FALLOC_FL_PUNCH_HOLE | KEEP_SIZE of [3 pages + 100, half - 2 pages - 100): partial
 *     pages at both ends, inside one folio on shmem-thp), truncate (to 5 pages + 100 bytes, then
 *     back to the full size).
 * Checks, over the pinned half: the file (pread) and the process's mapping read the old bytes
 * outside the hole and zeros inside it; the pin reads the old bytes outside the hole; then the
 * process writes new bytes outside the hole and the pin must read them (the same pages: a page
 * outside the hole dropped from the file would leave the pin on a page the process no longer
 * maps); after the unpin the FOLL_PIN counters are back. Part of pin_matrix.c (mem_map(),
 * pin_start(), pin_read(), pin_stop(); kentry_cells.h's pin_mark(), pins_back()).
 */
enum pnop { PN_PUNCH, PN_TRUNCATE, NPN };
static const char *const pn_names[NPN] = {"punch", "truncate"};

static int punch_wanted(const char *name) { return block_wanted(name, NULL, 0); }

/* [lo, hi) of the pinned half that the op takes away (truncate: up to its end) */
static void pn_range(const struct cell *c, enum pnop op, size_t *lo, size_t *hi)
{
	*lo = op == PN_PUNCH ? 3 * PAGE + 100 : 5 * PAGE + 100;
	*hi = op == PN_PUNCH ? c->half - 2 * PAGE - 100 : c->half;
}

/* buf over the pinned half: old bytes outside [lo, hi), zeros inside (zeros_too) */
static long pn_diff(const struct cell *c, const char *buf, size_t lo, size_t hi, int zeros_too)
{
	long d;

	if ((d = first_diff(buf, c->exp, lo)) >= 0)
		return d;
	if ((d = first_diff(buf + hi, c->exp + hi, c->half - hi)) >= 0)
		return (long)hi + d;
	for (size_t i = lo; zeros_too && i < hi; i++)
		if (buf[i])
			return (long)i;
	return -1;
}

static void punch_cell(struct cell *c, enum pin p, enum pnop op)
{
	char *got = NULL, *now = NULL;
	size_t lo, hi;
	struct pinmark m;
	long d;
	int pinned = 0;

	if (mem_map(c))
		goto out;
	if (!(got = malloc(c->half)) || !(now = malloc(c->half))) {  /* c->half: mem_map()'s */
		cfail(c, "out of memory");
		goto out;
	}
	pn_range(c, op, &lo, &hi);
	pin_mark(&m);
	if (pin_start(c, p, c->cur, c->half))
		goto out;
	pinned = 1;
	if (op == PN_PUNCH ? fallocate(c->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)lo, (off_t)(hi - lo))
			   : (ftruncate(c->fd, (off_t)lo) || ftruncate(c->fd, (off_t)(2 * c->half)))) {
		cfail(c, "%s of [%zu, %zu): %s", pn_names[op], lo, hi, strerror(errno));
		goto out;
	}
	if (pread(c->fd, got, c->half, 0) != (ssize_t)c->half) {
		cfail(c, "pread of the file after the %s: %s", pn_names[op], strerror(errno));
		goto out;
	}
	if ((d = pn_diff(c, got, lo, hi, 1)) >= 0) {
		cfail(c, "after the %s of [%zu, %zu) under a pin the file reads %s at byte %ld", pn_names[op], lo, hi,
		      d >= (long)lo && d < (long)hi ? "a non-zero byte inside the hole" : "other bytes outside the hole", d);
		goto out;
	}
	if ((d = pn_diff(c, c->cur, lo, hi, 1)) >= 0) {
		cfail(c, "after the %s the process's mapping reads %s at byte %ld", pn_names[op],
		      d >= (long)lo && d < (long)hi ? "a non-zero byte inside the hole" : "other bytes outside the hole", d);
		goto out;
	}
	if (pin_read(c, p, c->cur, got))
		goto out;
	if ((d = pn_diff(c, got, lo, hi, 0)) >= 0) {
		cfail(c, "after the %s the pin reads other bytes outside the hole at byte %ld", pn_names[op], d);
		goto out;
	}
	/* the process writes outside the hole; the pin must see it there: the same pages */
	fill64(now, c->half, 77);
	memcpy(c->cur, now, lo);
	memcpy(c->cur + hi, now + hi, c->half - hi);
	memcpy(c->exp, now, c->half);
	if (!pin_read(c, p, c->cur, got) && (d = pn_diff(c, got, lo, hi, 0)) >= 0)
		cfail(c, "after the %s the process's write at byte %ld, outside the hole, does not reach the pin:"
		      " the pinned page is no longer the file's", pn_names[op], d);
	if (!c->failed[0])
		printf("# %s: [%zu, %zu) %s under the pin; outside it the file, the process and the pin share their bytes\n",
		       c->name, lo, hi, op == PN_PUNCH ? "punched" : "truncated and grown back");
out:
	if (pinned)
		pin_stop(c, p);
	if (pinned && !c->failed[0])
		pins_back(c, &m, "the unpin");
	free(got);
	free(now);
}

static void punch_cells(void)
{
	static const struct { enum pin p; enum mem m; } kinds[] = {{URING, SHMEM}, {URING, SHMTHP}, {GUP_SLOW, FILESH}};

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		for (enum pnop op = 0; op < NPN; op++) {
			struct cell c = {.fd = -1, .mem = kinds[k].m, .ev = NONE};
			double began = now_s();

			snprintf(c.name, sizeof(c.name), "punch/%s/%s/%s", pin_names[kinds[k].p], mem_names[c.mem], pn_names[op]);
			if (!punch_wanted(c.name) || !begins(c.name))
				continue;
			if (kinds[k].p == URING && !ring_ok)
				cskip(&c, "io_uring_queue_init failed");
			else if (c.mem == FILESH && !ext4_dir)
				cskip(&c, "no ext4 directory given (-d)");
			else
				punch_cell(&c, kinds[k].p, op);
			mem_unmap(&c);
			verdict(&c, began);
		}
}
