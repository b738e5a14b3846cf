/* ktls/...: software kTLS (net/tls/tls_sw.c, CONFIG_TLS) over user pages. Part of pin_matrix.c
 * (struct cell, mem_map()/mem_unmap(), run_cells(), fill64(), first_diff(), key_value();
 * net9p_cells.h's ss_pair(); kentry_cells.h's pin_mark()/pins_back()/none_held()/kentry_missing();
 * events_cells.h's anon_huge_kb()), entered by ktls_cells() from main.
 *
 * What 6.12 does with the user's pages (read in net/tls/tls_sw.c): sendmsg() of a record's worth
 * (or the end of a message) takes the user pages themselves into the record's plaintext
 * (sk_msg_zerocopy_from_iter(): iov_iter_get_pages2(), a reference each) when the AEAD is
 * synchronous (no AES-NI, no cryptd in the pinners config: gcm(aes) generic), encrypts at once and
 * keeps the references until the record has gone to TCP; MSG_MORE copies (sk_msg_memcopy_from_iter());
 * splice and sendfile hand pipe or page-cache pages to tls_sw_sendmsg_splice() (iov_iter_extract_pages()
 * of the bvec, sk_msg_page_add(): get_page). recvmsg() decrypts a data record straight into the
 * reader's pages when the record fits what is left of the buffer, not MSG_PEEK, and the socket is
 * TLS 1.2 or TLS 1.3 with TLS_RX_EXPECT_NO_PAD (tls_setup_from_iter(): iov_iter_get_pages2(),
 * put_page() after); else into a clear-text skb, copied from there (records partly read wait on
 * rx_list). TLS 1.3's inner type is known only after decryption: a control record decrypted into
 * the user's pages is decrypted again into an skb (TlsDecryptRetry).
 *
 * The zero-copy decrypt's premise: gcm(aes) generic writes the clear text to its destination
 * before it checks the tag (crypto/gcm.c gcm_dec_hash_continue()), so a record with one byte of
 * its cipher text flipped, received into the buffer, leaves that record with that one byte
 * flipped in the user's pages when they were the destination, and nothing there when an skb
 * was; recvmsg fails EBADMSG either way (and TlsDecryptError moves). The records are made by a
 * TLS_TX socket whose peer reads them raw (kt_tape()), then written by a plain socket to the
 * TLS_RX one: whole, corrupted, in pieces.
 *
 * ktls/recv/<ver>/<memory>/<whole|small>: records of 16384, 5003, 16384, 16384, 77 bytes received
 *   into <memory> (anon, thp, shmem, hugetlb, ext4-shared) at a byte offset 20003 before the
 *   middle of the region (over page and, for THP and hugetlb, huge-page boundaries), by recv()s
 *   of whatever is left (whole: every record fits: zero-copy on tls12 and tls13-nopad) or of 3001
 *   bytes (small: copied, records read in pieces). Then the corrupted record: on the zero-copy
 *   cells it must be seen in the buffer (else SKIP: the path did not run), on the others never.
 * ktls/recv/<ver>/anon/splice: splice(2) out of the TLS socket (tls_sw_splice_read()), read
 *   from the pipe into the memory.
 * ktls/send/<ver>/<memory>/<how>: the same records sent from <memory> by sendmsg (a send per
 *   message), more (odd pieces with MSG_MORE), vmsplice (each message vmspliced into a pipe and
 *   spliced into the socket), sendfile (the file behind shmem and ext4-shared), stalled (sends
 *   with MSG_DONTWAIT, 20 ms apart, until EAGAIN, into a peer with 4 KiB buffers that does not
 *   read: its TLS strparser takes in the first record whole, the next one waits partly sent;
 *   premise: pages of the source held then (pages_held()), else SKIP; the bytes taken rewritten,
 *   then a thread reads while the rest is sent: the old bytes).
 *   Every send cell: the source unchanged by the send, then rewritten before the peer reads
 *   (records are encrypted when sent: the peer must read the old bytes).
 * ktls/edge/<ver>/<case>: efault (recv into a buffer with an unmapped page part way: EFAULT or a
 *   short count, the bytes before right, the stream then resumes where the count says or the
 *   socket is dead, never other bytes), send-efault (the same for send), peek (MSG_PEEK, then the
 *   reads from the first byte), control (a handshake record between two data records, sent
 *   with TLS_SET_RECORD_TYPE: a recv stops before it, EIO without room for its cmsg, then the
 *   record with its type; tls13-nopad premise: TlsDecryptRetry moved), split (the records written
 *   in pieces of 1 byte to 9000, read by recv()s of 1 byte to 64 KiB), dontneed / remap / munmap
 *   (a thread waits in recvmsg() on an empty socket while its buffer is dropped, replaced by new
 *   memory at the same address, or unmapped: the record lands in the pages mapped when it comes,
 *   or EFAULT; premise: the thread was in recvmsg() (/proc/self/task/<tid>/syscall) and still is).
 * Every cell: the FOLL_PIN counters back and no page of the user memory still held once the
 * sockets are closed (pages_held(); not hugetlb); ext4-shared receive cells check the file on disk.
 */
#include <linux/tls.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>

#ifndef TCP_ULP
#define TCP_ULP 31
#endif
#ifndef SOL_TLS
#define SOL_TLS 282
#endif
#define KT_CHUNK 3001    /* small receives: less than most records */
#define KT_PREM 6007     /* the corrupted record */
#define KT_FLIP 1234     /* its clear-text byte that is flipped */
#define KT_BACK 20003    /* the stream starts this far before the middle of the region */
#define KT_TYPE_DATA 23
#define KT_TYPE_HS 22

enum kv { KV_12, KV_13, KV_13NP, NKV };
static const char *const kv_names[NKV] = {"tls12", "tls13", "tls13-nopad"};
static const size_t kt_msgs[] = {16384, 5003, 32845};  /* records 16384 5003 16384 16384 77 */
#define KT_LEN (16384 + 5003 + 32845)
static const enum mem kt_mems[] = {ANON, THP, SHMEM, HUGE, FILESH};
#define NKM (sizeof(kt_mems) / sizeof(kt_mems[0]))
enum krecv { KR_WHOLE, KR_SMALL, NKR };
static const char *const kr_names[NKR] = {"whole", "small"};
enum ksend { KS_SENDMSG, KS_MORE, KS_VMSPLICE, KS_SENDFILE, KS_STALLED, NKS };
static const char *const ks_names[NKS] = {"sendmsg", "more", "vmsplice", "sendfile", "stalled"};
enum kedge { KE_EFAULT, KE_SEFAULT, KE_PEEK, KE_CONTROL, KE_SPLIT, KE_DONTNEED, KE_REMAP, KE_MUNMAP, NKE };
static const char *const ke_names[NKE] = {"efault", "send-efault", "peek", "control", "split", "dontneed", "remap",
					  "munmap"};

static const char *const kt_quick[] = {
	"ktls/recv/tls12/anon/whole", "ktls/recv/tls12/shmem/whole", "ktls/recv/tls13-nopad/thp/whole",
	"ktls/recv/tls12/anon/small", "ktls/recv/tls13/shmem/small",
	"ktls/send/tls12/anon/stalled", "ktls/send/tls12/thp/sendmsg", "ktls/send/tls13/anon/more",
	"ktls/send/tls13/shmem/vmsplice", "ktls/send/tls12/ext4-shared/sendfile",
	"ktls/edge/tls12/efault", "ktls/edge/tls13/efault", "ktls/edge/tls12/send-efault", "ktls/edge/tls12/peek",
	"ktls/edge/tls13-nopad/control", "ktls/edge/tls12/split", "ktls/edge/tls12/remap",
};

static const unsigned char kt_key[16] = "pinbench-ktls-k!", kt_iv[8] = "ktls-iv", kt_salt[4] = "slt";

/* The TLS ULP and one direction's AES-GCM-128 state on a connected TCP socket (rec_seq 0);
 * tls13-nopad's receiver also TLS_RX_EXPECT_NO_PAD. 0, or -1 with the cell told why. */
static int kt_tls(struct cell *c, int fd, int dir, enum kv v)
{
	struct tls12_crypto_info_aes_gcm_128 ci = {0};
	int one = 1;

	ci.info.version = v == KV_12 ? TLS_1_2_VERSION : TLS_1_3_VERSION;
	ci.info.cipher_type = TLS_CIPHER_AES_GCM_128;
	memcpy(ci.key, kt_key, sizeof(ci.key));
	memcpy(ci.iv, kt_iv, sizeof(ci.iv));
	memcpy(ci.salt, kt_salt, sizeof(ci.salt));
	if (setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof("tls"))) {
		if (errno == ENOENT)
			kentry_missing(c, "ktls", "TCP_ULP \"tls\": ENOENT (CONFIG_TLS off)");
		else
			cfail(c, "TCP_ULP \"tls\": %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_TLS, dir, &ci, sizeof(ci))) {
		cfail(c, "%s %s AES-GCM-128: %s", dir == TLS_TX ? "TLS_TX" : "TLS_RX", kv_names[v], strerror(errno));
		return -1;
	}
	if (dir == TLS_RX && v == KV_13NP && setsockopt(fd, SOL_TLS, TLS_RX_EXPECT_NO_PAD, &one, sizeof(one))) {
		cfail(c, "TLS_RX_EXPECT_NO_PAD: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* A loopback TCP pair with 1 MiB buffers (or rcv's small: a peer that holds the sender back),
 * 10 s timeouts, the sender TLS_TX, the receiver TLS_RX (either -1: left plain) */
static int kt_pair(struct cell *c, enum kv tx, enum kv rx, int small, int *snd, int *rcv)
{
	if (ss_pair(c, 1, small ? 4096 : 1 << 20, small ? 4096 : 1 << 20, 10, snd, rcv))
		return -1;
	if (((int)tx >= 0 && kt_tls(c, *snd, TLS_TX, tx)) || ((int)rx >= 0 && kt_tls(c, *rcv, TLS_RX, rx))) {
		close(*snd);
		close(*rcv);
		*snd = *rcv = -1;
		return -1;
	}
	return 0;
}

/* One record type's send: TLS_SET_RECORD_TYPE in a cmsg unless data; flags as send(2) */
static ssize_t kt_send(int fd, const char *p, size_t n, unsigned char type, int flags)
{
	char cbuf[CMSG_SPACE(1)] = {0};
	struct iovec v = {(void *)p, n};
	struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
	struct cmsghdr *cm;

	if (type != KT_TYPE_DATA) {
		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&m);
		cm->cmsg_level = SOL_TLS;
		cm->cmsg_type = TLS_SET_RECORD_TYPE;
		cm->cmsg_len = CMSG_LEN(1);
		*CMSG_DATA(cm) = type;
	}
	return sendmsg(fd, &m, flags);
}

/* the record's bytes after its 5-byte header that are not clear text */
static size_t kt_extra(enum kv v) { return v == KV_12 ? 8 + 16 : 16 + 1; }

/* Raw records read from raw into t until *plain (their clear-text bytes so far) reaches want;
 * *have bytes read, *parsed of them whole records. 0, or -1 with the cell failed. */
static int kt_raw_until(struct cell *c, enum kv v, int raw, char *t, size_t cap, size_t *have, size_t *parsed,
			size_t *plain, size_t want)
{
	while (*plain < want) {
		ssize_t got = recv(raw, t + *have, cap - *have, 0);

		if (got <= 0) {
			cfail(c, "reading the records raw: %s", got < 0 ? strerror(errno) : "end of stream");
			return -1;
		}
		*have += got;
		while (*parsed + 5 <= *have) {
			size_t rl = ((size_t)(unsigned char)t[*parsed + 3] << 8) | (unsigned char)t[*parsed + 4];

			if (*parsed + 5 + rl > *have)
				break;
			*plain += rl - kt_extra(v);
			*parsed += 5 + rl;
		}
	}
	return 0;
}

/* The records of n messages of sizes[] (types[]: NULL, all data) from data, as a TLS_TX socket
 * sends them (a send each), read raw by its plain peer: malloc'ed, its length in *len, where
 * the last message's first record starts in *last. NULL with the cell told why. */
static char *kt_tape(struct cell *c, enum kv v, const char *data, const size_t *sizes, const unsigned char *types,
		     int n, size_t *len, size_t *last)
{
	size_t want = 0, plain = 0, have = 0, parsed = 0, cap, off = 0;
	int tx, raw;
	char *t;

	for (int i = 0; i < n; i++)
		want += sizes[i];
	cap = want + (want / 16384 + n + 1) * 64;
	if (!(t = malloc(cap))) {
		cfail(c, "out of memory");
		return NULL;
	}
	if (kt_pair(c, v, -1, 0, &tx, &raw)) {
		free(t);
		return NULL;
	}
	for (int i = 0; i < n && !c->failed[0]; off += sizes[i], i++) {
		ssize_t r = kt_send(tx, data + off, sizes[i], types ? types[i] : KT_TYPE_DATA, 0);

		*last = parsed;  /* each send ends its records: the ones before are all parsed */
		if (r != (ssize_t)sizes[i])
			cfail(c, "making the records: send of %zu bytes: %zd (%s)", sizes[i], r, r < 0 ? strerror(errno) : "short");
		else
			kt_raw_until(c, v, raw, t, cap, &have, &parsed, &plain, off + sizes[i]);
	}
	close(tx);
	close(raw);
	if (!c->failed[0] && (have != parsed || plain != want))
		cfail(c, "the raw records: %zu bytes read, %zu parsed, %zu of %zu bytes of clear text", have, parsed, plain, want);
	if (c->failed[0]) {
		free(t);
		return NULL;
	}
	*len = have;
	return t;
}

static long kt_stat(const char *name) { return key_value("/proc/net/tls_stat", name); }

/* All n bytes of p written to fd; 0, or -1 with the cell failed */
static int kt_write_all(struct cell *c, int fd, const char *p, size_t n)
{
	for (size_t done = 0; done < n;) {
		ssize_t r = write(fd, p + done, n - done);

		if (r <= 0) {
			cfail(c, "writing the records: %s after %zu of %zu bytes", r < 0 ? strerror(errno) : "0", done, n);
			return -1;
		}
		done += r;
	}
	return 0;
}

/* n bytes received into buf by recv()s of at most chunk; 0, or -1 with the cell failed */
static int kt_recv_all(struct cell *c, int fd, char *buf, size_t n, size_t chunk)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = recv(fd, buf + got, n - got < chunk ? n - got : chunk, 0);

		if (r <= 0) {
			cfail(c, "recv at byte %zu of %zu: %s", got, n, r < 0 ? strerror(errno) : "end of stream");
			return -1;
		}
		got += r;
	}
	return 0;
}

/* recvmsg() of one call with room for a TLS_GET_RECORD_TYPE cmsg (or none): the record type
 * the kernel said (0: none) and the flags */
static ssize_t kt_recvmsg(int fd, char *buf, size_t n, int with_cmsg, unsigned char *type, int *flags)
{
	char cbuf[CMSG_SPACE(1)] = {0};
	struct iovec v = {buf, n};
	struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
	ssize_t r;

	if (with_cmsg) {
		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
	}
	r = recvmsg(fd, &m, 0);
	*type = 0;
	*flags = m.msg_flags;
	for (struct cmsghdr *cm = with_cmsg && r >= 0 ? CMSG_FIRSTHDR(&m) : NULL; cm; cm = CMSG_NXTHDR(&m, cm))
		if (cm->cmsg_level == SOL_TLS && cm->cmsg_type == TLS_GET_RECORD_TYPE)
			*type = *CMSG_DATA(cm);
	return r;
}

/* No page of [p, p+n) (whole pages around it) still held, unless hugetlb (its pages need
 * per-node pools to move) */
static void kt_refs(struct cell *c, char *p, size_t n, const char *after)
{
	char *lo = (char *)((uintptr_t)p & ~(PAGE - 1)), *hi = (char *)(((uintptr_t)p + n + PAGE - 1) & ~(PAGE - 1));

	if (!c->failed[0] && c->mem != HUGE)
		none_held(c, lo, hi - lo, after);
}

/* The memory of a recv or send cell: mem_map(), THP with its smaps premise; 0 or -1 (told) */
static int kt_map(struct cell *c)
{
	long kb;

	if (c->mem == FILESH && !ext4_dir) {
		cskip(c, "no ext4 directory given (-d)");
		return -1;
	}
	if (mem_map(c))
		return -1;
	if (c->mem == THP && (kb = anon_huge_kb(c->map)) < (long)(2 * c->half >> 10)) {
		cskip(c, "smaps AnonHugePages of the region is %ld kB, not %lu: no THP behind it", kb, 2 * c->half >> 10);
		return -1;
	}
	return 0;
}

/* A recv or send cell's end: both sockets closed, then the FOLL_PIN counters back and no page
 * of the stream's part of the memory held; the memory unmapped */
static void kt_finish(struct cell *c, int s, int r, const struct pinmark *pm, const char *after)
{
	if (s >= 0)
		close(s);
	if (r >= 0)
		close(r);
	pins_back(c, pm, after);
	if (c->map)
		kt_refs(c, c->map + c->half - KT_BACK, KT_LEN, after);
	mem_unmap(c);
}

/* -- receiving into each kind of memory ------------------------------------------------------ */

/* recv cells: (version, memory, whole|small), then (version, anon, splice) */
#define KT_NRECV (NKV * NKM * NKR + NKV)
static char kt_recv_text[KT_NRECV][48];
static const char *kt_recv_names[KT_NRECV];

/* splice(2) out of the TLS socket into a pipe (tls_sw_splice_read()), read into buf */
static int kt_splice_all(struct cell *c, int fd, char *buf, size_t n)
{
	int p[2];

	if (pipe(p)) {
		cfail(c, "pipe: %s", strerror(errno));
		return -1;
	}
	for (size_t got = 0; got < n && !c->failed[0];) {
		ssize_t s = splice(fd, NULL, p[1], NULL, n - got, 0), r;

		if (s <= 0) {
			cfail(c, "splice out of the TLS socket at byte %zu of %zu: %s", got, n, s < 0 ? strerror(errno) : "0");
			break;
		}
		for (ssize_t left = s; left > 0; left -= r, got += r)
			if ((r = read(p[0], buf + got, left)) <= 0) {
				cfail(c, "read of the pipe: %s", r < 0 ? strerror(errno) : "0");
				break;
			}
	}
	close_pair(p);
	return c->failed[0] ? -1 : 0;
}

static void kt_recv_cell(struct cell *c, int k)
{
	int spl = k >= (int)(NKV * NKM * NKR);
	enum kv v = spl ? (enum kv)(k - NKV * NKM * NKR) : (enum kv)(k / (NKM * NKR));
	enum krecv h = spl ? KR_WHOLE : (enum krecv)(k % NKR);
	int zc = !spl && h == KR_WHOLE && v != KV_13;  /* 6.12 decrypts into the user's pages */
	size_t sizes[] = {16384, 5003, 32845, KT_PREM}, tlen, last, off, len, plen = !spl && h == KR_WHOLE ? KT_PREM : KT_CHUNK;
	char *want = malloc(KT_LEN + KT_PREM), *tape = NULL, *image = NULL, *buf, *bad = NULL;
	long err0, d, moved;
	int w = -1, r = -1, in_buf, untouched;
	struct pinmark pm;
	ssize_t n;

	c->mem = spl ? ANON : kt_mems[k / NKR % NKM];
	pin_mark(&pm);
	if (!want || kt_map(c))
		goto out;
	len = 2 * c->half;
	buf = c->map + c->half - KT_BACK;
	off = buf - c->map;
	fill64(want, KT_LEN + KT_PREM, 41 + (unsigned)k);
	if (!(tape = kt_tape(c, v, want, sizes, NULL, 4, &tlen, &last)) || !(image = malloc(len)) ||
	    !(bad = malloc(KT_PREM)) || kt_pair(c, -1, v, 0, &w, &r))
		goto out;
	memcpy(image, c->map, len);
	if (kt_write_all(c, w, tape, last))
		goto out;
	if (spl ? kt_splice_all(c, r, buf, KT_LEN) : kt_recv_all(c, r, buf, KT_LEN, h == KR_WHOLE ? KT_LEN : KT_CHUNK))
		goto out;
	memcpy(image + off, want, KT_LEN);
	if ((d = first_diff(c->map, image, len)) >= 0) {
		if (d >= (long)off && d < (long)(off + KT_LEN))
			cfail(c, "stream byte %ld (byte %ld of the memory) reads %#x after the receive, not %#x", d - (long)off,
			      d, c->map[d] & 0xff, image[d] & 0xff);
		else
			cfail(c, "byte %ld of the memory, outside the receive buffer, changed to %#x", d, c->map[d] & 0xff);
		goto out;
	}
	if (c->mem == FILESH) {
		check_disk(c, image, 0, "the received bytes");
		check_disk(c, image + c->half, c->half, "the received bytes");
		if (c->failed[0])
			goto out;
	}
	/* the last record with one byte of its cipher text flipped */
	tape[last + 5 + (v == KV_12 ? 8 : 0) + KT_FLIP] ^= 1;
	memcpy(bad, want + KT_LEN, KT_PREM);
	bad[KT_FLIP] ^= 1;
	err0 = kt_stat("TlsDecryptError");
	if (kt_write_all(c, w, tape + last, tlen - last))
		goto out;
	n = recv(r, buf, plen, 0);  /* splice cells: the refused record by a copy, as small's */
	if (n >= 0 || errno != EBADMSG) {
		cfail(c, "a record with a flipped byte of cipher text: recv returned %zd (%s), not EBADMSG", n,
		      n < 0 ? strerror(errno) : "bytes");
		goto out;
	}
	if ((moved = kt_stat("TlsDecryptError") - err0) != 1)
		cfail(c, "TlsDecryptError moved by %ld for the one refused record", moved);
	in_buf = !memcmp(buf, bad, KT_PREM);
	untouched = first_diff(buf, want, KT_PREM) < 0;
	d = first_diff(c->map, image, off);
	if (d < 0 && (d = first_diff(buf + KT_PREM, image + off + KT_PREM, len - off - KT_PREM)) >= 0)
		d += (long)(off + KT_PREM);
	if (d >= 0)
		cfail(c, "the refused record changed byte %ld of the memory, outside where it was received", d);
	else if (zc && !in_buf && !untouched)
		cfail(c, "the refused record's decryption left other bytes in the buffer than its own clear text (first "
		      "differing byte %ld): decrypted to another place", first_diff(buf, bad, KT_PREM));
	else if (zc && untouched)
		cskip(c, "the refused record left the buffer untouched: decrypted into an skb, the zero-copy path did not run");
	else if (!zc && !untouched)
		cfail(c, "the refused record's bytes reached the buffer (%s) on the copy path", in_buf ? "its clear text" :
		      "other bytes");
	if (!c->failed[0])
		printf("# %s: %d bytes in %s, then the refused record %s; TlsDecryptError +%ld\n", c->name, KT_LEN,
		       spl ? "splice()s" : h == KR_WHOLE ? "recv()s of all that is left" : "recv()s of 3001 bytes",
		       in_buf ? "decrypted in the buffer (zero-copy)" : "kept out of it", moved);
out:
	kt_finish(c, w, r, &pm, "the receive");
	free(want);
	free(tape);
	free(image);
	free(bad);
}

/* -- sending from each kind of memory -------------------------------------------------------- */

/* A thread that receives: n bytes in recv()s (once: one recvmsg() call, its result in ret) */
struct kt_reader {
	int fd, once;
	char *buf;
	size_t n, got;
	ssize_t ret;
	int err;
	atomic_int tid, done;
};

static void *kt_reader_thread(void *arg)
{
	struct kt_reader *k = arg;

	atomic_store(&k->tid, (int)gettid());
	if (k->once) {
		struct iovec v = {k->buf, k->n};
		struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};

		k->ret = recvmsg(k->fd, &m, 0);
		k->err = errno;
	}
	while (!k->once && k->got < k->n) {
		ssize_t r = recv(k->fd, k->buf + k->got, k->n - k->got, 0);

		if (r <= 0) {
			k->err = r < 0 ? errno : 0;
			break;
		}
		k->got += r;
	}
	atomic_store(&k->done, 1);
	return NULL;
}

/* The thread joined once done, 15 s at most (its recv()s time out in 10); 0 when it never
 * returned (left running with its struct) */
static int kt_reader_join(struct cell *c, pthread_t th, struct kt_reader *k)
{
	for (double t0 = now_s(); !atomic_load(&k->done) && now_s() - t0 < 15; usleep(2000))
		;
	if (!atomic_load(&k->done)) {
		cfail(c, "the receiving thread did not return from recv in 15 s (SO_RCVTIMEO is 10 s)");
		pthread_detach(th);
		return 0;
	}
	pthread_join(th, NULL);
	return 1;
}

/* send cells: (version tls12|tls13, memory, how) where how applies */
#define KT_NSEND (2 * NKM * NKS)
static char kt_send_text[KT_NSEND][48];
static const char *kt_send_names[KT_NSEND];
static int kt_send_code[KT_NSEND], kt_nsend;

static int ks_applies(enum mem m, enum ksend h)
{
	if (h == KS_SENDFILE)
		return m == SHMEM || m == FILESH;
	return h != KS_STALLED || m != HUGE;  /* stalled's premise needs the reference oracle */
}

/* The messages from src into the socket by how (not stalled): 0, or -1 with the cell failed */
static int kt_send_by(struct cell *c, enum ksend how, int s, char *src)
{
	static const size_t pieces[] = {7000, 3, 20000, KT_LEN - 27003};
	int p[2] = {-1, -1};
	size_t off = 0;

	if (how == KS_VMSPLICE && pipe(p)) {
		cfail(c, "pipe: %s", strerror(errno));
		return -1;
	}
	if (how == KS_MORE) {
		for (size_t i = 0; i < 4 && !c->failed[0]; off += pieces[i], i++) {
			ssize_t r = send(s, src + off, pieces[i], i < 3 ? MSG_MORE : 0);

			if (r != (ssize_t)pieces[i])
				cfail(c, "send of %zu bytes at %zu%s: %zd (%s)", pieces[i], off, i < 3 ? " with MSG_MORE" : "", r,
				      r < 0 ? strerror(errno) : "short");
		}
		return c->failed[0] ? -1 : 0;
	}
	for (size_t i = 0; i < 3 && !c->failed[0]; off += kt_msgs[i], i++) {
		struct iovec v = {src + off, kt_msgs[i]};
		loff_t at = (src - c->map) + (loff_t)off;
		ssize_t r = 0, part;

		switch (how) {
		case KS_SENDMSG:
			r = kt_send(s, src + off, kt_msgs[i], KT_TYPE_DATA, 0);
			break;
		case KS_VMSPLICE:
			r = ss_send(c, p[1], p[0], s, &v, 1);  /* vmsplice, then splice all of it */
			break;
		default:  /* sendfile of the file behind the memory, from the same bytes */
			for (r = 0; r < (ssize_t)kt_msgs[i]; r += part)
				if ((part = sendfile(s, c->fd, &at, kt_msgs[i] - r)) <= 0) {
					cfail(c, "sendfile at file byte %lld: %s", (long long)at, part < 0 ? strerror(errno) : "0");
					break;
				}
			break;
		}
		if (!c->failed[0] && r != (ssize_t)kt_msgs[i])
			cfail(c, "%s of %zu bytes at %zu: %zd (%s)", ks_names[how], kt_msgs[i], off, r, r < 0 ? strerror(errno) : "short");
	}
	close_pair(p);
	return c->failed[0] ? -1 : 0;
}

static void kt_send_cell(struct cell *c, int k)
{
	int code = kt_send_code[k];
	enum kv v = code / (NKM * NKS) ? KV_13 : KV_12;
	enum ksend how = code % NKS;
	char *want = malloc(KT_LEN), *got = malloc(KT_LEN), *src;
	struct kt_reader *rd = NULL;
	struct pinmark pm;
	pthread_t th;
	int s = -1, r = -1;
	long d, held = 0, first;
	ssize_t n = KT_LEN;
	char why[200];

	c->mem = kt_mems[code / NKS % NKM];
	pin_mark(&pm);
	if (!want || !got || kt_map(c))
		goto out;
	src = c->map + c->half - KT_BACK;
	memcpy(want, src, KT_LEN);
	if (kt_pair(c, v, v, how == KS_STALLED, &s, &r))
		goto out;
	if (how == KS_STALLED) {
		/* sends until EAGAIN, 20 ms apart (the ACKs wait in the backlog while a send holds the
		 * socket): the peer's TLS strparser takes in the first record whole, the next one
		 * fills its TCP window and waits, partly sent, with its clear text's pages */
		for (n = 0; n < KT_LEN; usleep(20 * 1000)) {
			ssize_t x = send(s, src + n, KT_LEN - n, MSG_DONTWAIT);

			if (x > 0) {
				n += x;
			} else if (x < 0 && errno == EAGAIN) {
				break;
			} else {
				cfail(c, "send with MSG_DONTWAIT at byte %zd to a peer that does not read: %zd (%s)", n, x,
				      x < 0 ? strerror(errno) : "0");
				goto out;
			}
		}
		if (!n) {
			cfail(c, "send with MSG_DONTWAIT to a peer that does not read took nothing (EAGAIN)");
			goto out;
		}
		held = pages_held((char *)((uintptr_t)src & ~(PAGE - 1)), ((src - c->map) % PAGE + n + PAGE - 1) & ~(PAGE - 1),
				  0, &first, why, sizeof(why));
	} else if (kt_send_by(c, how, s, src)) {
		goto out;
	}
	if ((d = first_diff(src, want, n)) >= 0) {
		cfail(c, "the send changed byte %ld of the sender's buffer", d);
		goto out;
	}
	fill64(src, n, 97);  /* sent: the records are encrypted, the peer must read the old bytes */
	if (how == KS_STALLED) {  /* the rest sent while a thread reads */
		if (!(rd = calloc(1, sizeof(*rd)))) {
			cfail(c, "out of memory");
			goto out;
		}
		*rd = (struct kt_reader){.fd = r, .buf = got, .n = KT_LEN};
		if ((errno = pthread_create(&th, NULL, kt_reader_thread, rd))) {
			cfail(c, "pthread_create: %s", strerror(errno));
			free(rd);
			rd = NULL;
			goto out;
		}
		for (ssize_t done = n, part; done < KT_LEN; done += part)
			if ((part = send(s, src + done, KT_LEN - done, 0)) <= 0) {
				cfail(c, "send of the rest at %zd: %s", done, part < 0 ? strerror(errno) : "0");
				break;
			}
		if (!kt_reader_join(c, th, rd)) {
			rd = NULL;  /* still running: its struct stays */
			got = NULL;
			goto out;
		}
		if (!c->failed[0] && rd->got != KT_LEN)
			cfail(c, "the peer read %zu of %d bytes: %s", rd->got, KT_LEN, rd->err ? strerror(rd->err) : "end of stream");
	} else {
		kt_recv_all(c, r, got, KT_LEN, KT_LEN);
	}
	if (!c->failed[0] && (d = first_diff(got, want, KT_LEN)) >= 0)
		cfail(c, "the peer read other bytes than were sent at byte %ld (%s)", d,
		      d < n && got[d] == src[d] ? "the sender's later write: the record was not encrypted when sent" : "neither the sent nor the later bytes");
	if (!c->failed[0] && how == KS_STALLED && held < 0)
		cskip(c, "no page-reference check while the records waited: %s", why);
	else if (!c->failed[0] && how == KS_STALLED && !held)
		cskip(c, "no page of the %zd bytes sent was held while their records waited for the peer: copied, not "
		      "referenced, or no record left partly sent", n);
	if (!c->failed[0] && how == KS_STALLED)
		printf("# %s: the sends with MSG_DONTWAIT took %zd bytes, %ld page(s) of them held while their records waited\n",
		       c->name, n, held);
	if (!c->failed[0])
		printf("# %s: %d bytes sent by %s from %s at byte %ld, the source rewritten before the peer read\n", c->name,
		       KT_LEN, ks_names[how], mem_names[c->mem], (long)(src - c->map));
out:
	kt_finish(c, s, r, &pm, "the send");
	free(rd);
	free(want);
	free(got);
}

/* -- error and edge paths -------------------------------------------------------------------- */

#define KE_PAGES 32

/* A piece of the records at a time, 2 ms apart (split's writer) */
struct kt_writer {
	int fd;
	const char *p;
	size_t n;
	int err;
};

static void *kt_writer_thread(void *arg)
{
	static const size_t pieces[] = {1, 4, 13, 700, 4101, 9000};
	struct kt_writer *w = arg;

	for (size_t done = 0, i = 0; done < w->n; i++) {
		size_t want = pieces[i % 6] < w->n - done ? pieces[i % 6] : w->n - done;
		ssize_t r = write(w->fd, w->p + done, want);

		if (r <= 0) {
			w->err = r < 0 ? errno : EPIPE;
			break;
		}
		done += r;
		usleep(2000);
	}
	return NULL;
}

/* The page at hole unmapped, and a buffer for the 21387 bytes of the stream read after; NULL with
 * the cell failed */
static char *ke_hole(struct cell *c, char *hole)
{
	char *b = malloc(16384 + 5003);

	if (!b || munmap(hole, PAGE)) {
		cfail(c, "munmap of the hole: %s", b ? strerror(errno) : "out of memory");
		free(b);
		return NULL;
	}
	return b;
}

/* recv over an unmapped page part way: EFAULT or a short count, the bytes before the hole
 * untouched (orig) or the record's, then the stream where the count says or an error, never
 * other bytes */
static void ke_efault(struct cell *c, char *map, const char *orig, const char *want, int fd)
{
	char *buf = map + 2 * PAGE + 100, *hole = map + 4 * PAGE, *rest = ke_hole(c, hole);
	ssize_t x, y, at;
	int e;

	if (!rest)
		return;
	x = recv(fd, buf, 16384, 0);
	e = errno;
	at = x > 0 ? x : 0;
	if (x == 0)
		cfail(c, "recv over the unmapped page: end of stream");
	else if (x < 0 && e != EFAULT)
		cfail(c, "recv over the unmapped page: %s, not EFAULT", strerror(e));
	else if (x > hole - buf)
		cfail(c, "recv returned %zd bytes into a buffer whose byte %ld is unmapped", x, (long)(hole - buf));
	else if (x > 0 && first_diff(buf, want, x) >= 0)
		cfail(c, "recv returned %zd bytes over the unmapped page, byte %ld of them wrong", x, first_diff(buf, want, x));
	for (char *p = buf + at; !c->failed[0] && p < hole; p++)
		if (*p != orig[p - map] && *p != want[p - buf])
			cfail(c, "byte %ld of the buffer, before the unmapped page and past the %zd returned, is neither what it "
			      "held nor the record's", (long)(p - buf), at);
	if (c->failed[0] || mmap(hole, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
		free(rest);
		return;
	}
	/* then: the stream resumes at the count, or an error (the zero-copy path's EFAULT sets the socket's error) */
	y = recv(fd, rest, 16384 + 5003 - at, 0);
	e = errno;
	if (y > 0 && first_diff(rest, want + at, y) >= 0)
		cfail(c, "after the refused recv the next returned %zd bytes, byte %ld of them not the stream's from byte %zd", y,
		      first_diff(rest, want + at, y), at);
	else if (y == 0 || (y < 0 && e == EAGAIN))
		cfail(c, "after the refused recv the next %s: the record was dropped without an error",
		      y == 0 ? "saw the end of the stream" : "timed out");
	if (!c->failed[0])
		printf("# %s: recv over the unmapped page: %s; the next recv: %zd%s%s\n", c->name, x < 0 ? "EFAULT" : "short count",
		       y, y < 0 ? " " : " bytes", y < 0 ? strerror(e) : "");
	free(rest);
}

/* send from a buffer with an unmapped page part way: EFAULT or a short count; the peer reads
 * exactly the bytes counted, then the next send's */
static void ke_send_efault(struct cell *c, char *map, const char *orig, const char *want, int s, int r)
{
	char *src = map + 2 * PAGE + 100, *hole = map + 4 * PAGE, *got = ke_hole(c, hole);
	ssize_t x, at;
	int e;

	if (!got)
		return;
	x = send(s, src, 16384, 0);
	e = errno;
	at = x > 0 ? x : 0;
	if (x == 0 || (x < 0 && e != EFAULT))
		cfail(c, "send over the unmapped page: %s, not EFAULT or a short count", x ? strerror(e) : "0");
	else if (x > hole - src)
		cfail(c, "send took %zd bytes from a buffer whose byte %ld is unmapped", x, (long)(hole - src));
	else if (kt_send(s, want, 5003, KT_TYPE_DATA, 0) != 5003)
		cfail(c, "the next send of 5003 bytes: %s", strerror(errno));
	else if (!kt_recv_all(c, r, got, at + 5003, at + 5003)) {
		long d = first_diff(got, orig + (src - map), at);

		if (d < 0 && (d = first_diff(got + at, want, 5003)) >= 0)
			d += at;
		if (d >= 0)
			cfail(c, "the peer read other bytes at %ld of the %zd sent over the unmapped page and the 5003 after", d, at);
	}
	if (mmap(hole, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		cfail(c, "mmap over the hole again: %s", strerror(errno));
	if (!c->failed[0])
		printf("# %s: send over the unmapped page: %s, the peer read it and the next send's 5003 bytes\n", c->name,
		       x < 0 ? "EFAULT" : "a short count");
	free(got);
}

/* data, a handshake record, data: the reads stop at the record's edges, it needs room for its
 * cmsg (EIO without), and comes with its type */
static void ke_control(struct cell *c, enum kv v, char *map, const char *want, int s, int r)
{
	static const size_t len[3] = {7000, 1000, 9000};
	static const unsigned char type[3] = {KT_TYPE_DATA, KT_TYPE_HS, KT_TYPE_DATA};
	char *buf = map + 3 * PAGE + 7;
	long retry0 = kt_stat("TlsDecryptRetry"), retried;
	unsigned char t;
	int fl;
	ssize_t x;

	for (size_t i = 0, off = 0; i < 3; off += len[i], i++)
		if (kt_send(s, want + off, len[i], type[i], 0) != (ssize_t)len[i]) {
			cfail(c, "send of the %s record: %s", type[i] == KT_TYPE_HS ? "handshake" : "data", strerror(errno));
			return;
		}
	for (size_t i = 0, off = 0; i < 3 && !c->failed[0]; off += len[i], i++) {
		if (i == 1 && ((x = kt_recvmsg(r, buf, 20000, 0, &t, &fl)) >= 0 || errno != EIO)) {
			cfail(c, "recvmsg without room for a cmsg at the handshake record: %zd (%s), not EIO", x,
			      x < 0 ? strerror(errno) : "bytes");
			break;
		}
		x = kt_recvmsg(r, buf, 20000, 1, &t, &fl);
		if (x != (ssize_t)len[i] || t != type[i])
			cfail(c, "recvmsg %zu (20000 bytes of room): %zd (%s), record type %u: want the %zu bytes of the %s record, type %u",
			      i + 1, x, x < 0 ? strerror(errno) : "bytes", t, len[i], type[i] == KT_TYPE_HS ? "handshake" : "data",
			      type[i]);
		else if (first_diff(buf, want + off, len[i]) >= 0)
			cfail(c, "recvmsg %zu: byte %ld of the %s record wrong", i + 1, first_diff(buf, want + off, len[i]),
			      type[i] == KT_TYPE_HS ? "handshake" : "data");
		else if (i == 1 && !(fl & MSG_EOR))
			cfail(c, "the handshake record came without MSG_EOR");
	}
	retried = kt_stat("TlsDecryptRetry") - retry0;
	if (!c->failed[0] && v == KV_13NP && retried < 1)
		cskip(c, "TlsDecryptRetry did not move: the handshake record was never tried in the user's pages");
	if (!c->failed[0])
		printf("# %s: 7000 data, 1000 handshake (EIO without a cmsg buffer), 9000 data; TlsDecryptRetry +%ld\n", c->name,
		       retried);
}

/* split: the records written in pieces by a thread, read by recv()s of changing sizes */
static void ke_split(struct cell *c, char *map, const char *want, const char *tape, size_t tlen, int w, int r)
{
	static const size_t sizes[] = {1, 100, 3001, 20000, 65536};
	struct kt_writer wr = {.fd = w, .p = tape, .n = tlen};
	char *buf = map + 5;
	pthread_t th;
	size_t got = 0;
	int calls = 0;

	if ((errno = pthread_create(&th, NULL, kt_writer_thread, &wr))) {
		cfail(c, "pthread_create: %s", strerror(errno));
		return;
	}
	while (got < KT_LEN) {
		size_t n = sizes[calls++ % 5];
		ssize_t x = recv(r, buf + got, n < KT_LEN - got ? n : KT_LEN - got, 0);

		if (x <= 0) {
			cfail(c, "recv %d at byte %zu: %s", calls, got, x < 0 ? strerror(errno) : "end of stream");
			break;
		}
		got += x;
	}
	pthread_join(th, NULL);
	if (!c->failed[0] && wr.err)
		cfail(c, "the writer: %s", strerror(wr.err));
	else if (!c->failed[0] && first_diff(buf, want, KT_LEN) >= 0)
		cfail(c, "stream byte %ld wrong after records written in pieces and read in %d recv()s", first_diff(buf, want, KT_LEN),
		      calls);
	if (!c->failed[0])
		printf("# %s: %d bytes written in pieces of 1 to 9000 bytes, read in %d recv()s\n", c->name, KT_LEN, calls);
}

/* a thread waits in recvmsg() while its buffer is dropped, replaced or unmapped; then the records come */
static void ke_waiting(struct cell *c, enum kedge e, char **mapp, const char *want, const char *tape, size_t tlen, int w,
		       int r)
{
	char *map = *mapp, *buf = map + PAGE + 100, *fresh = malloc(KE_PAGES * PAGE);
	struct kt_reader *rd = calloc(1, sizeof(*rd));
	size_t n = 16384 + 5003;
	pthread_t th;
	long d;

	if (!rd || !fresh) {
		cfail(c, "out of memory");
		goto out;
	}
	*rd = (struct kt_reader){.fd = r, .buf = buf, .n = n, .once = 1};
	if ((errno = pthread_create(&th, NULL, kt_reader_thread, rd))) {
		cfail(c, "pthread_create: %s", strerror(errno));
		goto out;
	}
	if (await_syscall(&rd->tid, &rd->done, 47) <= 0) {
		cskip(c, "the reader was not seen in recvmsg in 5 s");
	} else if (e == KE_DONTNEED) {
		if (madvise(map, KE_PAGES * PAGE, MADV_DONTNEED))
			cfail(c, "MADV_DONTNEED: %s", strerror(errno));
		memset(fresh, 0, KE_PAGES * PAGE);
	} else if (e == KE_REMAP) {
		if (mmap(map, KE_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
			cfail(c, "mmap over the buffer: %s", strerror(errno));
		else
			fill64(map, KE_PAGES * PAGE, 67);
		memcpy(fresh, map, KE_PAGES * PAGE);
	} else if (munmap(map, KE_PAGES * PAGE)) {
		cfail(c, "munmap of the buffer: %s", strerror(errno));
	} else {
		*mapp = NULL;
	}
	if (!c->skip[0] && !c->failed[0] && (atomic_load(&rd->done) || await_syscall(&rd->tid, &rd->done, 47) <= 0))
		cskip(c, "the reader left recvmsg before the records came (returned %zd)", rd->ret);
	kt_write_all(c, w, tape, tlen);
	if (!kt_reader_join(c, th, rd)) {
		rd = NULL;  /* still running: its struct stays */
		goto out;
	}
	if (c->failed[0] || c->skip[0])
		goto out;
	if (e == KE_MUNMAP) {
		if (rd->ret >= 0 || rd->err != EFAULT)
			cfail(c, "recvmsg into a buffer unmapped while it waited: %zd (%s), not EFAULT", rd->ret,
			      rd->ret < 0 ? strerror(rd->err) : "bytes");
		else
			printf("# %s: the waiting recvmsg returned EFAULT\n", c->name);
		goto out;
	}
	if (rd->ret <= 0) {
		cfail(c, "recvmsg into a buffer %s while it waited: %zd (%s)", e == KE_DONTNEED ? "dropped" : "replaced", rd->ret,
		      rd->ret < 0 ? strerror(rd->err) : "end of stream");
		goto out;
	}
	if (!kt_recv_all(c, r, buf + rd->ret, n - rd->ret, n)) {
		memcpy(fresh + (buf - map), want, n);
		if ((d = first_diff(map, fresh, KE_PAGES * PAGE)) >= 0)
			cfail(c, "byte %ld of the %s memory reads %#x, not %#x (%s)", d, e == KE_DONTNEED ? "dropped" : "new",
			      map[d] & 0xff, fresh[d] & 0xff, d >= buf - map && d < buf - map + (long)n ? "a received byte" :
			      e == KE_DONTNEED ? "outside the buffer: zeros" : "outside the buffer: the new memory's own");
		else
			printf("# %s: the waiting recvmsg returned %zd bytes, in the pages mapped when they came\n", c->name, rd->ret);
	}
out:
	free(rd);
	free(fresh);
}

static void kt_edge_cell(struct cell *c, int k)
{
	enum kv v = (enum kv)(k / NKE);
	enum kedge e = (enum kedge)(k % NKE);
	size_t sizes[] = {16384, 5003, 32845}, tlen = 0, last;
	char *map = map_aligned(KE_PAGES * PAGE, PAGE, -1), *orig = malloc(KE_PAGES * PAGE), *want = malloc(KT_LEN);
	char *tape = NULL;
	int s = -1, r = -1, direct = e == KE_SEFAULT || e == KE_CONTROL;
	struct pinmark pm;

	c->mem = ANON;
	pin_mark(&pm);
	if (!map || !orig || !want) {
		cfail(c, "out of memory");
		goto out;
	}
	fill64(map, KE_PAGES * PAGE, 61);
	memcpy(orig, map, KE_PAGES * PAGE);
	fill64(want, KT_LEN, 62 + (unsigned)k);
	if (!direct && !(tape = kt_tape(c, v, want, sizes, NULL, e == KE_SPLIT ? 3 : 2, &tlen, &last)))
		goto out;
	if (kt_pair(c, direct ? v : (enum kv)-1, v, 0, &s, &r))
		goto out;
	switch (e) {
	case KE_EFAULT:
		if (!kt_write_all(c, s, tape, tlen))
			ke_efault(c, map, orig, want, r);
		break;
	case KE_SEFAULT:
		ke_send_efault(c, map, orig, want, s, r);
		break;
	case KE_PEEK: {
		char *buf = map + PAGE + 33;
		size_t n = 16384 + 5003;
		ssize_t x;

		if (kt_write_all(c, s, tape, tlen))
			break;
		x = recv(r, buf, n, MSG_PEEK);
		if (x <= 0 || first_diff(buf, want, x) >= 0)
			cfail(c, "recv with MSG_PEEK: %zd (%s)", x, x < 0 ? strerror(errno) : x ? "other bytes" : "end of stream");
		else if (!kt_recv_all(c, r, buf, n, n) && first_diff(buf, want, n) >= 0)
			cfail(c, "the reads after a MSG_PEEK of %zd bytes: stream byte %ld wrong", x, first_diff(buf, want, n));
		else if (!c->failed[0] && first_diff(buf + n, orig + (buf - map) + n, PAGE) >= 0)
			cfail(c, "a byte past the buffer changed");
		else if (!c->failed[0])
			printf("# %s: MSG_PEEK saw %zd bytes, the reads then all %zu from the first\n", c->name, x, n);
		break;
	}
	case KE_CONTROL:
		ke_control(c, v, map, want, s, r);
		break;
	case KE_SPLIT:
		ke_split(c, map, want, tape, tlen, s, r);
		break;
	default:
		ke_waiting(c, e, &map, want, tape, tlen, s, r);
		break;
	}
out:
	if (s >= 0)
		close(s);
	if (r >= 0)
		close(r);
	pins_back(c, &pm, "the cell");
	if (map) {
		kt_refs(c, map, KE_PAGES * PAGE, "the cell");
		munmap(map, KE_PAGES * PAGE);
	}
	free(orig);
	free(want);
	free(tape);
}

/* -- the table ------------------------------------------------------------------------------- */

static void ktls_cells(void)
{
	static char edge_text[NKV * NKE][40];
	static const char *edge_names[NKV * NKE];
	int n = 0;

	for (int v = 0; v < NKV; v++)
		for (size_t m = 0; m < NKM; m++)
			for (int h = 0; h < NKR; h++, n++) {
				snprintf(kt_recv_text[n], sizeof(kt_recv_text[n]), "%s/%s/%s", kv_names[v], mem_names[kt_mems[m]],
					 kr_names[h]);
				kt_recv_names[n] = kt_recv_text[n];
			}
	for (int v = 0; v < NKV; v++, n++) {
		snprintf(kt_recv_text[n], sizeof(kt_recv_text[n]), "%s/anon/splice", kv_names[v]);
		kt_recv_names[n] = kt_recv_text[n];
	}
	kt_nsend = 0;
	for (int v = 0; v < 2; v++)
		for (size_t m = 0; m < NKM; m++)
			for (int h = 0; h < NKS; h++) {
				if (!ks_applies(kt_mems[m], h))
					continue;
				snprintf(kt_send_text[kt_nsend], sizeof(kt_send_text[0]), "%s/%s/%s", kv_names[v],
					 mem_names[kt_mems[m]], ks_names[h]);
				kt_send_names[kt_nsend] = kt_send_text[kt_nsend];
				kt_send_code[kt_nsend++] = (v * (int)NKM + (int)m) * NKS + h;
			}
	for (int k = 0; k < NKV * NKE; k++) {
		snprintf(edge_text[k], sizeof(edge_text[k]), "%s/%s", kv_names[k / NKE], ke_names[k % NKE]);
		edge_names[k] = edge_text[k];
	}
	const struct cell_entry t[] = {
		{"ktls/recv/", kt_recv_cell, kt_recv_names, KT_NRECV, kt_quick, sizeof(kt_quick) / sizeof(kt_quick[0])},
		{"ktls/send/", kt_send_cell, kt_send_names, kt_nsend, kt_quick, sizeof(kt_quick) / sizeof(kt_quick[0])},
		{"ktls/edge/", kt_edge_cell, edge_names, NKV * NKE, kt_quick, sizeof(kt_quick) / sizeof(kt_quick[0])},
	};

	run_cells(t, sizeof(t) / sizeof(t[0]), NULL, NULL);
}
