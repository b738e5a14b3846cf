/* v4l2/<memory>/<event>: V4L2 USERPTR buffers on vivid (CONFIG_VIDEO_VIVID, kconfigs/pinners.config),
 * a long-term pin of user pages no other cell reaches. Part of pin_matrix.c (struct cell, cfail/cskip,
 * run_cells(), cell_fork(), wait_child(), fill64(), first_diff(), vmstat(), is_thp(); kentry_cells.h's
 * pin_mark()/pins_back()/none_held()/kentry_missing()), entered by v4l2_cells() from main.
 *
 * What 6.12 does (drivers/media/common/videobuf2): VIDIOC_QBUF of a V4L2_MEMORY_USERPTR buffer
 * goes to __prepare_userptr() (videobuf2-core.c), which keeps the pages of a buffer index across
 * DQBUF and re-QBUF as long as the userptr and length stay the same ("already verified": no new
 * pin, whatever the process did to its mapping meanwhile); a changed userptr puts the old pages
 * (put_userptr) and gets the new ones. vivid's only USERPTR allocator is vmalloc
 * (vivid-core.c vivid_create_queue(): allocators=1, dma-contig, leaves VB2_USERPTR out), so
 * get_userptr is vb2_vmalloc_get_userptr(): vb2_create_framevec() -> get_vaddr_frames() ->
 * pin_user_pages_fast(FOLL_LONGTERM, plus FOLL_WRITE for capture buffers: DMA_FROM_DEVICE), all
 * pages or -EFAULT (a short count is unpinned), then vm_map_ram() of the pinned pages; the kernel
 * reads output frames and writes capture frames through that vmap. vb2_vmalloc_put_userptr()
 * dirties capture pages (set_page_dirty_lock()) and unpins. The pins go at REQBUFS(0) or when the
 * queue owner's fd is closed (vb2_queue_release()).
 *
 * vivid's capture loops its output (vivid-kthread-cap.c vivid_copy_buffer()): an HDMI input
 * "connected to" an HDMI output of the same instance (the VIVID_CID_HDMI_IS_CONNECTED_TO_OUTPUT
 * control), same DV timings (640x480p59.94, the smallest standard one), same format (GREY, one
 * byte a pixel: 307200 bytes, 75 pages a frame), no scaling, OSD text off: each capture frame is
 * a memcpy of the output buffer at the head of the queue, which the output thread keeps while it
 * is the only one queued (vivid-kthread-out.c). So one output buffer, written by the process in
 * place, and two capture buffers, read by the process at each DQBUF and scribbled on before
 * each re-QBUF: every frame after a write must carry the process's last output bytes exactly,
 * into the pages the process maps (data both ways through the pins).
 *
 * Every cell: the FOLL_PIN counters grew by the buffers' pages at the first QBUFs (premise: it
 * pinned), no pinned page in ZONE_MOVABLE, frames carry the first pattern (premise: it loops; a
 * frame without our first bytes is vivid's test pattern: SKIP), the event, a second pattern
 * written in place must arrive (3 frames settle, then 2 exact ones), then REQBUFS(0) (or close)
 * gives every pin back and no buffer page stays held (pages_held()). Events (docs/matrix.md):
 *   none, fork (a child writes its copies: private memory keeps them from the pins, shared
 *   memory hands them to the pins), mprotect (capture buffers read-only while queued: frames
 *   still arrive), read-only (a capture buffer PROT_READ at its first QBUF: EFAULT, nothing held,
 *   then it works), dontneed and munmap (of queued capture buffers: the same userptr re-queued
 *   keeps the old pins, whose frames the process no longer sees, or re-pins: each state checked;
 *   then the buffer index re-queued with a new userptr: the old pins go, the frames arrive in the
 *   new pages), pageout and migrate (pinned pages stay: PFN kept, frames arrive; an unpinned
 *   witness goes, the premise), free (capture buffers MADV_FREE'd before their first QBUF: the
 *   captured pages must be dirtied at the unpin, else reclaim discards them as clean lazyfree
 *   pages), close (the fds closed while streaming), hole (a page of a capture buffer unmapped:
 *   EFAULT, nothing held), small (a buffer shorter than the frame: EINVAL, no pin);
 *   ext4-shared/capture (a writable long-term pin of ext4 page cache: refused), ext4-shared/output
 *   (a read-only one: allowed, the file's bytes loop).
 */
#include <linux/videodev2.h>
#include <linux/v4l2-dv-timings.h>
#include <poll.h>
#include <sys/ioctl.h>

#define VL_W 640
#define VL_H 480
#define VL_SIZE ((size_t)VL_W * VL_H)  /* GREY: a byte a pixel, 75 pages */
#define VL_PAGES (VL_SIZE / PAGE)
#define VL_NCAP 2
#define VL_WIT 16  /* witness pages (pageout, migrate, free), never queued */
#define VL_REGION HPAGE  /* out, 2 capture, 2 spare buffers and the witness: 391 of 512 pages */
#define VL_SCRIBBLE 0xee

enum vmem { VM_ANON, VM_THP, VM_SHMEM, VM_HUGE, VM_EXT4, NVM };
static const char *const vmem_names[NVM] = {"anon", "thp", "shmem", "hugetlb", "ext4-shared"};
enum vev { VE_NONE, VE_FORK, VE_MPROTECT, VE_RO, VE_DONTNEED, VE_MUNMAP, VE_PAGEOUT, VE_MIGRATE, VE_FREE, VE_CLOSE,
	   VE_HOLE, VE_SMALL, VE_CAPTURE, VE_OUTPUT, NVE };
static const char *const vev_names[NVE] = {"none", "fork", "mprotect", "read-only", "dontneed", "munmap", "pageout",
					   "migrate", "free", "close", "hole", "small", "capture", "output"};

static const char *const vl_anon_ev[] = {"none", "fork", "mprotect", "read-only", "dontneed", "munmap", "pageout",
					 "migrate", "free", "close", "hole", "small"};
static const char *const vl_thp_ev[] = {"none", "fork"};
static const char *const vl_shmem_ev[] = {"none", "fork", "dontneed"};
static const char *const vl_ext4_ev[] = {"capture", "output"};

/* The default set's cells (the rest run with QUICK=0) */
static const char *const v4l2_quick[] = {
	"v4l2/anon/none", "v4l2/anon/fork", "v4l2/anon/dontneed", "v4l2/anon/pageout", "v4l2/anon/migrate",
	"v4l2/anon/free", "v4l2/anon/close", "v4l2/anon/hole", "v4l2/thp/fork", "v4l2/shmem/fork",
	"v4l2/shmem/dontneed", "v4l2/hugetlb/fork", "v4l2/ext4-shared/capture", "v4l2/ext4-shared/output",
};

static char vl_cap_path[64], vl_out_path[64];  /* /dev/videoN of vivid's instance 0 */

struct vl {
	struct cell *c;
	enum vmem m;
	enum vev e;
	int cap, out;
	char *map;       /* VL_REGION: out, cap0, cap1, spare0, spare1, witness */
	char *obuf, *cbuf[VL_NCAP], *spare[VL_NCAP], *wit;
	char *qptr[VL_NCAP];  /* the userptr each capture index is queued with now */
	char *want;      /* what the output buffer holds (and every frame must) */
	unsigned seed;
	int scribble;    /* the process writes each dequeued capture buffer before re-QBUF */
	int frames;      /* frames dequeued in all */
	int looped;      /* a frame carried our bytes */
	int dqbuf_seen[VL_NCAP];
	long last_seq;
};

/* vivid's video capture and output nodes of instance 0, by their sysfs names; 0 or -1 */
static int vl_find(void)
{
	char path[96], name[64];

	if (vl_cap_path[0] && vl_out_path[0])
		return 0;
	for (int i = 0; i < 64; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "/sys/class/video4linux/video%d/name", i);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(name, sizeof(name), f)) {
			name[strcspn(name, "\n")] = 0;
			if (!strcmp(name, "vivid-000-vid-cap"))
				snprintf(vl_cap_path, sizeof(vl_cap_path), "/dev/video%d", i);
			else if (!strcmp(name, "vivid-000-vid-out"))
				snprintf(vl_out_path, sizeof(vl_out_path), "/dev/video%d", i);
		}
		fclose(f);
	}
	return vl_cap_path[0] && vl_out_path[0] ? 0 : -1;
}

static int vl_ioctl(struct cell *c, int fd, unsigned long req, void *arg, const char *what)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		cfail(c, "%s: %s", what, strerror(errno));
	return r;
}

/* The control of fd whose name starts with prefix and ends with suffix: its id, 0 if none */
static unsigned vl_ctrl_id(int fd, const char *prefix, const char *suffix)
{
	struct v4l2_query_ext_ctrl q = {.id = V4L2_CTRL_FLAG_NEXT_CTRL};

	while (!ioctl(fd, VIDIOC_QUERY_EXT_CTRL, &q)) {
		size_t n = strlen(q.name), s = strlen(suffix);

		if (!strncmp(q.name, prefix, strlen(prefix)) && n >= s && !strcmp(q.name + n - s, suffix))
			return q.id;
		q.id |= V4L2_CTRL_FLAG_NEXT_CTRL;
	}
	return 0;
}

/* The index of the menu item of control id named name, -1 if none */
static int vl_menu_index(int fd, unsigned id, const char *name)
{
	for (int i = 0; i < 64; i++) {
		struct v4l2_querymenu m = {.id = id, .index = (unsigned)i};

		if (!ioctl(fd, VIDIOC_QUERYMENU, &m) && !strcmp((char *)m.name, name))
			return i;
	}
	return -1;
}

/* The menu control of fd named prefix..suffix set to its item named item: 0, or -1 (the cell failed) */
static int vl_set_menu(struct cell *c, int fd, const char *prefix, const char *suffix, const char *item)
{
	unsigned id = vl_ctrl_id(fd, prefix, suffix);
	struct v4l2_control ctl = {.id = id, .value = id ? vl_menu_index(fd, id, item) : -1};

	if (ctl.value < 0) {
		cfail(c, "vivid has no %s%s control with a %s item", prefix, suffix, item);
		return -1;
	}
	return vl_ioctl(c, fd, VIDIOC_S_CTRL, &ctl, "VIDIOC_S_CTRL of a vivid menu control");
}

/* The first input (output) with DV timings: vivid's HDMI ones; -1 if none */
static int vl_hdmi_port(int fd, int output)
{
	for (unsigned i = 0; i < 16; i++) {
		struct v4l2_input in = {.index = i};
		struct v4l2_output o = {.index = i};

		if (output ? ioctl(fd, VIDIOC_ENUMOUTPUT, &o) : ioctl(fd, VIDIOC_ENUMINPUT, &in))
			return -1;
		if (output ? o.capabilities & V4L2_OUT_CAP_DV_TIMINGS : in.capabilities & V4L2_IN_CAP_DV_TIMINGS)
			return (int)i;
	}
	return -1;
}

/* Both nodes opened and set up to loop: HDMI in and out, 640x480p59.94, GREY, OSD off, the input
 * connected to the output; REQBUFS of USERPTR buffers. 0, or -1 with the cell told why. */
static int vl_open(struct vl *v)
{
	struct cell *c = v->c;
	struct v4l2_dv_timings t = V4L2_DV_BT_CEA_640X480P59_94;
	int in, outp;

	if (vl_find()) {
		kentry_missing(c, "vivid", "no vivid-000-vid-cap/-vid-out in /sys/class/video4linux (CONFIG_VIDEO_VIVID)");
		return -1;
	}
	v->cap = open(vl_cap_path, O_RDWR | O_NONBLOCK);
	v->out = open(vl_out_path, O_RDWR | O_NONBLOCK);
	if (v->cap < 0 || v->out < 0) {
		cfail(c, "open %s / %s: %s", vl_cap_path, vl_out_path, strerror(errno));
		return -1;
	}
	if ((in = vl_hdmi_port(v->cap, 0)) < 0 || (outp = vl_hdmi_port(v->out, 1)) < 0) {
		cfail(c, "vivid has no HDMI input or output (ENUMINPUT/ENUMOUTPUT with DV timings)");
		return -1;
	}
	if (vl_ioctl(c, v->cap, VIDIOC_S_INPUT, &in, "VIDIOC_S_INPUT (HDMI)") ||
	    vl_ioctl(c, v->out, VIDIOC_S_OUTPUT, &outp, "VIDIOC_S_OUTPUT (HDMI)") ||
	    vl_ioctl(c, v->cap, VIDIOC_S_DV_TIMINGS, &t, "VIDIOC_S_DV_TIMINGS of the capture (640x480p59.94)"))
		return -1;
	t = (struct v4l2_dv_timings)V4L2_DV_BT_CEA_640X480P59_94;
	if (vl_ioctl(c, v->out, VIDIOC_S_DV_TIMINGS, &t, "VIDIOC_S_DV_TIMINGS of the output (640x480p59.94)"))
		return -1;
	for (int k = 0; k < 2; k++) {
		struct v4l2_format f = {.type = k ? V4L2_BUF_TYPE_VIDEO_OUTPUT : V4L2_BUF_TYPE_VIDEO_CAPTURE};

		f.fmt.pix = (struct v4l2_pix_format){.width = VL_W, .height = VL_H, .pixelformat = V4L2_PIX_FMT_GREY,
						     .field = V4L2_FIELD_NONE};
		if (vl_ioctl(c, k ? v->out : v->cap, VIDIOC_S_FMT, &f, k ? "VIDIOC_S_FMT of the output" : "VIDIOC_S_FMT of the capture"))
			return -1;
		if (f.fmt.pix.pixelformat != V4L2_PIX_FMT_GREY || f.fmt.pix.width != VL_W || f.fmt.pix.height != VL_H ||
		    f.fmt.pix.bytesperline != VL_W || f.fmt.pix.sizeimage != VL_SIZE) {
			cfail(c, "vivid's %s format is %.4s %ux%u, %u bytes a line, %u an image: want GREY %ux%u",
			      k ? "output" : "capture", (char *)&f.fmt.pix.pixelformat, f.fmt.pix.width, f.fmt.pix.height,
			      f.fmt.pix.bytesperline, f.fmt.pix.sizeimage, VL_W, VL_H);
			return -1;
		}
	}
	/* no text drawn over the frames; the HDMI input fed by the HDMI output */
	if (vl_set_menu(c, v->cap, "OSD Text Mode", "", "None") ||
	    vl_set_menu(c, v->cap, "HDMI 000-0 ", "Is Connected To", "Output HDMI 000-0"))
		return -1;
	for (int k = 0; k < 2; k++) {
		struct v4l2_requestbuffers rb = {.count = k ? 1 : VL_NCAP, .memory = V4L2_MEMORY_USERPTR,
						 .type = k ? V4L2_BUF_TYPE_VIDEO_OUTPUT : V4L2_BUF_TYPE_VIDEO_CAPTURE};

		if (vl_ioctl(c, k ? v->out : v->cap, VIDIOC_REQBUFS, &rb, "VIDIOC_REQBUFS of USERPTR buffers"))
			return -1;
		if (rb.count < (k ? 1u : VL_NCAP)) {
			cfail(c, "VIDIOC_REQBUFS granted %u buffers", rb.count);
			return -1;
		}
	}
	return 0;
}

/* QBUF of index i with userptr p of len bytes: 0 or -errno (the cell not told) */
static int vl_qbuf(struct vl *v, int output, int i, char *p, size_t len)
{
	struct v4l2_buffer b = {.index = (unsigned)i, .memory = V4L2_MEMORY_USERPTR, .m.userptr = (unsigned long)p,
				.length = (unsigned)len,
				.type = output ? V4L2_BUF_TYPE_VIDEO_OUTPUT : V4L2_BUF_TYPE_VIDEO_CAPTURE};

	if (output)
		b.bytesused = (unsigned)len;
	if (ioctl(output ? v->out : v->cap, VIDIOC_QBUF, &b))
		return -errno;
	if (!output)
		v->qptr[i] = p;
	return 0;
}

static int vl_stream(struct vl *v, int output, int on)
{
	int type = output ? V4L2_BUF_TYPE_VIDEO_OUTPUT : V4L2_BUF_TYPE_VIDEO_CAPTURE;

	return vl_ioctl(v->c, output ? v->out : v->cap, on ? VIDIOC_STREAMON : VIDIOC_STREAMOFF, &type,
			on ? "VIDIOC_STREAMON" : "VIDIOC_STREAMOFF");
}

/* The next capture frame (10 s at most: vivid's thread makes one in tens of ms, later on a loaded
 * TCG guest; none at all in 10 s is the driver stuck): its index, or -1 with the cell failed */
static int vl_dqbuf(struct vl *v)
{
	struct v4l2_buffer b = {.memory = V4L2_MEMORY_USERPTR, .type = V4L2_BUF_TYPE_VIDEO_CAPTURE};
	struct pollfd pf = {.fd = v->cap, .events = POLLIN};

	for (int tries = 0; tries < 2; tries++) {
		if (poll(&pf, 1, 10000) <= 0) {
			cfail(v->c, "no capture frame in 10 s (%d dequeued so far)", v->frames);
			return -1;
		}
		if (!ioctl(v->cap, VIDIOC_DQBUF, &b))
			break;
		if (errno != EAGAIN) {
			cfail(v->c, "VIDIOC_DQBUF: %s", strerror(errno));
			return -1;
		}
	}
	if (b.index >= VL_NCAP || (b.flags & V4L2_BUF_FLAG_ERROR)) {
		cfail(v->c, "VIDIOC_DQBUF: index %u, flags %#x", b.index, b.flags);
		return -1;
	}
	if (b.m.userptr != (unsigned long)v->qptr[b.index] || b.bytesused != VL_SIZE) {
		cfail(v->c, "VIDIOC_DQBUF of index %u: userptr %#lx (queued %p), %u bytes used", b.index, b.m.userptr,
		      (void *)v->qptr[b.index], b.bytesused);
		return -1;
	}
	v->frames++;
	v->dqbuf_seen[b.index] = 1;
	v->last_seq = b.sequence;
	return (int)b.index;
}

/* Re-QBUF of capture index i with the userptr it had (scribbled on first when v->scribble) */
static int vl_requeue(struct vl *v, int i)
{
	int r;

	if (v->scribble)
		memset(v->qptr[i], VL_SCRIBBLE, VL_SIZE);
	if ((r = vl_qbuf(v, 0, i, v->qptr[i], VL_SIZE)))
		cfail(v->c, "re-QBUF of capture buffer %d: %s", i, strerror(-r));
	return r;
}

/* A new pattern written by the process into the output buffer, in place, while it is queued */
static void vl_pattern(struct vl *v, unsigned seed)
{
	v->seed = seed;
	fill64(v->want, VL_SIZE, seed);
	memcpy(v->obuf, v->want, VL_SIZE);
}

/* Frames after the last pattern: `settle` dequeued and requeued unchecked (filled before or while
 * the pattern was written), then `need` that must each read exactly v->want in the process's
 * mapping of the capture buffer. A frame without our first bytes (any seed) before the first good
 * frame of the cell is vivid's own pattern: not looped (SKIP). 0 or -1. */
static int vl_loop_proved;  /* some cell of this run got its bytes back: vivid loops */

static int vl_expect(struct vl *v, int settle, int need, const char *when)
{
	for (int n = 0; n < settle + need; n++) {
		int i = vl_dqbuf(v);
		long d;

		if (i < 0)
			return -1;
		if (n >= settle && (d = first_diff(v->qptr[i], v->want, VL_SIZE)) >= 0) {
			unsigned char got = (unsigned char)v->qptr[i][d];

			/* vivid's own pattern: only before any cell of the run saw a looped frame, and
			 * never zeros (what a broken output pin reads: a fresh or the zero page) */
			if (!v->looped && !vl_loop_proved && d == 0 && got != VL_SCRIBBLE && got != 0) {
				cskip(v->c, "frame %ld %s does not start with the output buffer's bytes (%#x, want %#x): vivid "
				      "did not loop its output (its own test pattern)", v->last_seq, when, got,
				      (unsigned char)v->want[0]);
				return -1;
			}
			cfail(v->c, "frame %ld %s (capture buffer %d) differs from the output buffer at byte %ld of %zu: %#x, "
			      "want %#x (%s)", v->last_seq, when, i, d, VL_SIZE, got, (unsigned char)v->want[d],
			      got == VL_SCRIBBLE && v->scribble ? "the process's scribble: the frame went to pages it does "
			      "not map" : "not what the process wrote last: the pin reads other pages");
			return -1;
		}
		if (n >= settle)
			v->looped = vl_loop_proved = 1;
		if (vl_requeue(v, i))
			return -1;
	}
	return 0;
}

/* The buffers carved out of the region (page aligned, 75 pages each) */
static void vl_layout(struct vl *v)
{
	v->obuf = v->map;
	for (int i = 0; i < VL_NCAP; i++) {
		v->cbuf[i] = v->map + (1 + i) * VL_SIZE;
		v->spare[i] = v->map + (1 + VL_NCAP + i) * VL_SIZE;
	}
	v->wit = v->map + (1 + 2 * VL_NCAP) * VL_SIZE;
}

/* The region of memory kind m (VL_REGION bytes), written (faulted in) with seed 1; fd of its file */
static char *vl_map(struct vl *v, int *fd, char *path, size_t pathlen)
{
	struct cell *c = v->c;
	char *p = NULL;

	*fd = -1;
	switch (v->m) {
	case VM_ANON:
		p = map_aligned(VL_REGION, PAGE, MADV_NOHUGEPAGE);
		break;
	case VM_THP:
		p = map_aligned(VL_REGION, HPAGE, MADV_HUGEPAGE);
		break;
	case VM_HUGE:
		p = mmap(NULL, VL_REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (p == MAP_FAILED) {
			cskip(c, "no hugetlb page (mmap MAP_HUGETLB: %s)", strerror(errno));
			return NULL;
		}
		break;
	case VM_SHMEM:
	case VM_EXT4:
		if (v->m == VM_EXT4 && !ext4_dir) {
			cskip(c, "no ext4 directory given (-d)");
			return NULL;
		}
		if (v->m == VM_SHMEM) {
			*fd = memfd_create("pin_matrix_v4l2", 0);
		} else {
			snprintf(path, pathlen, "%s/v4l2.%d", ext4_dir, getpid());
			*fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		}
		if (*fd < 0 || ftruncate(*fd, VL_REGION)) {
			cfail(c, "the %s file: %s", vmem_names[v->m], strerror(errno));
			return NULL;
		}
		p = mmap(NULL, VL_REGION, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
		break;
	default:
		break;
	}
	if (!p || p == MAP_FAILED) {
		cfail(c, "cannot map %s memory: %s", vmem_names[v->m], strerror(errno));
		return NULL;
	}
	fill64(p, VL_REGION, 1);
	return p;
}

/* The FOLL_PIN counters' acquired count now */
static long vl_acquired(void)
{
	long a, r;

	return pin_counts(&a, &r) ? -1 : a;
}

/* Phase one: the output buffer (seed 2) and both capture buffers queued, streaming on, frames
 * looped. Premises: the QBUFs pinned every page (nr_foll_pin_acquired), frames carry seed 2. */
static int vl_start(struct vl *v)
{
	long a0 = vl_acquired(), got, in_movable = 0;
	int r;

	vl_pattern(v, 2);
	if ((r = vl_qbuf(v, 1, 0, v->obuf, VL_SIZE))) {
		cfail(v->c, "QBUF of the output buffer (%s memory): %s", vmem_names[v->m], strerror(-r));
		return -1;
	}
	for (int i = 0; i < VL_NCAP; i++)
		if ((r = vl_qbuf(v, 0, i, v->cbuf[i], VL_SIZE))) {
			cfail(v->c, "QBUF of capture buffer %d (%s memory): %s", i, vmem_names[v->m], strerror(-r));
			return -1;
		}
	got = vl_acquired() - a0;
	if (got < (long)((1 + VL_NCAP) * VL_PAGES)) {  /* vivid's USERPTR is vb2_vmalloc's: always pinned */
		cfail(v->c, "QBUF of 3 USERPTR buffers of %zu pages took %ld FOLL_PIN pins, want %zu: get_vaddr_frames() "
		      "did not pin every page", VL_PAGES, got, (1 + VL_NCAP) * VL_PAGES);
		return -1;
	}
	in_movable = pages_in_movable(v->obuf, (1 + VL_NCAP) * VL_SIZE);
	if (in_movable) {
		cfail(v->c, "%ld page(s) of the long-term pinned buffers in ZONE_MOVABLE after QBUF", in_movable);
		return -1;
	}
	if (vl_stream(v, 1, 1) || vl_stream(v, 0, 1))
		return -1;
	return vl_expect(v, 1, 2, "after STREAMON");
}

/* REQBUFS(0) on both queues (after STREAMOFF): the pins must be back; no buffer page held */
static void vl_release(struct vl *v, const struct pinmark *m)
{
	for (int k = 0; k < 2; k++) {
		struct v4l2_requestbuffers rb = {.count = 0, .memory = V4L2_MEMORY_USERPTR,
						 .type = k ? V4L2_BUF_TYPE_VIDEO_OUTPUT : V4L2_BUF_TYPE_VIDEO_CAPTURE};
		int type = rb.type;

		ioctl(k ? v->out : v->cap, VIDIOC_STREAMOFF, &type);
		if (!v->c->failed[0])
			vl_ioctl(v->c, k ? v->out : v->cap, VIDIOC_REQBUFS, &rb, "VIDIOC_REQBUFS(0)");
	}
	if (!v->c->failed[0])
		pins_back(v->c, m, "REQBUFS(0) of both queues");
}

static void vl_close(struct vl *v)
{
	if (v->cap >= 0)
		close(v->cap);
	if (v->out >= 0)
		close(v->out);
	v->cap = v->out = -1;
}

/* pages of [p, p+len) whose PFN changed from pfn[] (or are gone) */
static long vl_moved(const char *p, size_t len, const uint64_t *pfn)
{
	long n = 0;

	for (size_t i = 0; i < len / PAGE; i++)
		n += pfn_of(p + i * PAGE) != pfn[i];
	return n;
}

/* fork: a child writes its copies of the output and capture buffers. Private memory: the pins
 * stay with the parent's pages (the parent writes the next pattern, its capture buffers get the
 * frames); shared memory: the child's output bytes are the pins' (the child writes the pattern). */
static void vl_fork(struct vl *v)
{
	int shared = v->m == VM_SHMEM || v->m == VM_EXT4;
	pid_t pid;

	/* shared: the child writes the next frames' bytes; private: bytes of its own (33) that no
	 * frame may carry once the parent wrote 3, so an output pin left on the child's page fails */
	fill64(v->want, VL_SIZE, shared ? 3 : 33);
	if ((pid = cell_fork()) == 0) {
		memcpy(v->obuf, v->want, VL_SIZE);
		for (int i = 0; i < VL_NCAP; i++)
			memset(v->cbuf[i], 0xc1, VL_SIZE);
		_exit(first_diff(v->obuf, v->want, VL_SIZE) >= 0 ? 3 : 0);
	}
	if (pid < 0) {
		cfail(v->c, "fork: %s", strerror(errno));
		return;
	}
	wait_child(v->c, pid, "the v4l2 child");
	if (v->c->failed[0])
		return;
	if (!shared) {
		long d = first_diff(v->obuf, v->want, VL_SIZE);

		if (d < 0) {
			cfail(v->c, "the parent reads the child's bytes in its private output buffer");
			return;
		}
		vl_pattern(v, 3);  /* the parent writes the same pattern itself */
	} else {
		v->seed = 3;
	}
	vl_expect(v, 3, 2, shared ? "after the child wrote the shared output buffer" :
		  "after fork, the parent writing its output buffer");
}

/* MADV_DONTNEED or munmap (+ a fresh mapping at the same place) of both queued capture buffers.
 * The same userptr re-queued: 6.12 keeps the old pins (vb2 "already verified"): the frames go to
 * pages the process no longer maps (private: it reads zeros; shared: the file's pages, the
 * frames); a kernel that re-pins must deliver the frames. Then each index re-queued with a spare
 * buffer's userptr: the old pages unpinned, the new ones pinned, the frames there. */
static void vl_drop(struct vl *v)
{
	struct cell *c = v->c;
	int shared = v->m == VM_SHMEM;
	long out0 = pins_outstanding(), a0 = 0, rel0 = 0, a1 = 0, rel1 = 0;
	size_t len = VL_NCAP * VL_SIZE;
	char *at = v->cbuf[0];

	if (v->e == VE_DONTNEED) {
		if (madvise(at, len, MADV_DONTNEED)) {
			cfail(c, "MADV_DONTNEED of the queued capture buffers: %s", strerror(errno));
			return;
		}
	} else if (munmap(at, len) || mmap(at, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != at) {
		cfail(c, "munmap and a new mapping at the queued capture buffers: %s", strerror(errno));
		return;
	}
	if (pins_outstanding() != out0) {
		cfail(c, "%s of the queued capture buffers changed the outstanding pins by %+ld: the driver's pins are its own",
		      vev_names[v->e], pins_outstanding() - out0);
		return;
	}
	/* the same userptrs re-queued, nothing written: what lands where? */
	v->scribble = 0;
	pin_counts(&a0, &rel0);
	for (int n = 0; n < 4; n++) {
		int i = vl_dqbuf(v);
		long d;

		if (i < 0 || vl_requeue(v, i))
			return;
		if (n < 2)
			continue;  /* filled before the event, maybe */
		pin_counts(&a1, &rel1);
		if (a1 - a0 >= (long)VL_PAGES || shared) {
			if ((d = first_diff(v->qptr[i], v->want, VL_SIZE)) >= 0)
				cfail(c, "after %s and re-QBUF of the same userptr (%s) frame %ld differs at byte %ld", vev_names[v->e],
				      shared ? "shared memory: the pinned pages are still the file's" : "re-pinned",
				      v->last_seq, d);
		} else {
			for (size_t k = 0; k < VL_SIZE; k++)
				if (v->qptr[i][k]) {
					cfail(c, "after %s, the same userptr re-queued without a new pin (acquired +%ld): the process's "
					      "new page reads %#x at byte %zu of capture buffer %d, want 0 (the frames go to the old "
					      "pinned pages)", vev_names[v->e], a1 - a0, (unsigned char)v->qptr[i][k], k, i);
					break;
				}
		}
		if (c->failed[0])
			return;
	}
	printf("# %s: the same userptrs re-queued after %s: FOLL_PIN acquired +%ld (%s)\n", c->name, vev_names[v->e],
	       a1 - a0, a1 - a0 >= (long)VL_PAGES ? "re-pinned" : "the old pins kept");
	/* each index with a new userptr: the changed-userptr path (put_userptr, get_userptr) */
	pin_counts(&a0, &rel0);
	for (int n = 0; n < VL_NCAP; n++) {
		int i = vl_dqbuf(v), r;

		if (i < 0)
			return;
		if ((r = vl_qbuf(v, 0, i, v->spare[i], VL_SIZE))) {
			cfail(c, "QBUF of capture index %d with a new userptr: %s", i, strerror(-r));
			return;
		}
	}
	pin_counts(&a1, &rel1);
	if (a1 - a0 < (long)(VL_NCAP * VL_PAGES) || rel1 - rel0 < (long)(VL_NCAP * VL_PAGES)) {
		cfail(c, "both capture indexes re-queued with new userptrs: FOLL_PIN acquired +%ld, released +%ld, want +%zu "
		      "each (the old pages unpinned, the new pinned)", a1 - a0, rel1 - rel0, VL_NCAP * VL_PAGES);
		return;
	}
	v->scribble = 1;
	vl_pattern(v, 4);
	vl_expect(v, 3, 2, "in the new userptrs");
}

/* MADV_PAGEOUT (with the witness) or move_pages of the queued buffers: pinned pages stay where
 * they are (PFN), the unpinned witness goes (premise), the frames keep coming */
static void vl_move(struct vl *v)
{
	struct cell *c = v->c;
	size_t len = (1 + VL_NCAP) * VL_SIZE, np = len / PAGE;
	uint64_t *pfn = calloc(np, sizeof(*pfn));
	long went = 0, moved;

	if (!pfn) {
		cfail(c, "out of memory");
		return;
	}
	for (size_t i = 0; i < np; i++)
		pfn[i] = pfn_of(v->obuf + i * PAGE);
	if (v->e == VE_PAGEOUT) {
		if (!swap_on()) {
			cskip(c, "no swap in /proc/swaps");
			goto out;
		}
		if (madvise(v->obuf, len, MADV_PAGEOUT) || madvise(v->wit, VL_WIT * PAGE, MADV_PAGEOUT)) {
			cfail(c, "MADV_PAGEOUT: %s", strerror(errno));
			goto out;
		}
		/* the witness again after drain_lru() */
		for (int tries = 0; tries < 3; tries++) {
			went = 0;
			for (int i = 0; i < VL_WIT; i++)
				went += swap_entry_of(v->wit + i * PAGE) != 0;
			if (went)
				break;
			drain_lru();
			madvise(v->wit, VL_WIT * PAGE, MADV_PAGEOUT);
		}
	} else {
		void *pages[VL_WIT];
		int was[VL_WIT], to[VL_WIT], st[VL_WIT];
		void **bp = malloc(np * sizeof(void *));
		int *bw = malloc(np * sizeof(int)), *bt = malloc(np * sizeof(int)), *bs = malloc(np * sizeof(int));

		for (int i = 0; i < VL_WIT; i++)
			pages[i] = v->wit + i * PAGE;
		for (size_t i = 0; bp && i < np; i++)
			bp[i] = v->obuf + i * PAGE;
		if (!bp || !bw || !bt || !bs)
			cfail(c, "out of memory");
		else if (!nodes_and_other(c, bp, np, bw, bt) && !nodes_and_other(c, pages, VL_WIT, was, to)) {
			if (syscall(SYS_move_pages, 0, np, bp, bt, bs, 0) < 0)
				cfail(c, "move_pages of the queued buffers: %s", strerror(errno));
			else if (syscall(SYS_move_pages, 0, VL_WIT, pages, to, st, 0) < 0)
				cfail(c, "move_pages of the witness: %s", strerror(errno));
			for (int i = 0; i < VL_WIT && !c->failed[0]; i++)
				went += st[i] == to[i];
		}
		free(bp);
		free(bw);
		free(bt);
		free(bs);
		if (c->failed[0] || c->skip[0])
			goto out;
	}
	moved = vl_moved(v->obuf, len, pfn);
	printf("# %s: %s: %ld of %d witness pages went, %ld of %zu pinned pages moved\n", c->name, vev_names[v->e], went,
	       VL_WIT, moved, np);
	if (moved)
		cfail(c, "%s moved %ld of %zu long-term pinned buffer pages (first PFN now %#llx)", vev_names[v->e], moved, np,
		      (unsigned long long)pfn_of(v->obuf));
	else if (!went)
		cfail(c, "%s: no witness page %s (an unpinned page must)", vev_names[v->e],
		      v->e == VE_PAGEOUT ? "swapped out" : "moved to the other node");
	else {
		vl_pattern(v, 5);
		vl_expect(v, 3, 2, v->e == VE_PAGEOUT ? "after MADV_PAGEOUT" : "after move_pages");
	}
out:
	free(pfn);
}

/* The capture buffers MADV_FREE'd (with the witness) before their first QBUF and never written by
 * the process after: pinned clean lazyfree pages, written by the kernel through its vmap. After
 * the unpin (REQBUFS(0): vb2_vmalloc_put_userptr() dirties them) MADV_PAGEOUT must keep them:
 * reclaim discards only clean lazyfree pages (the witness: premise). */
static void vl_free(struct vl *v, const struct pinmark *m)
{
	struct cell *c = v->c;
	long lf = vmstat("pglazyfree"), lfd, d;
	int gone = 0;

	char *dummy = map_aligned(PAGE, PAGE, -1);

	if (!dummy) {
		cfail(c, "out of memory");
		return;
	}
	if (madvise(v->cbuf[0], VL_NCAP * VL_SIZE, MADV_FREE) || madvise(v->wit, VL_WIT * PAGE, MADV_FREE)) {
		cfail(c, "MADV_FREE: %s", strerror(errno));
		munmap(dummy, PAGE);
		return;
	}
	drain_all_lru(dummy);  /* pglazyfree counts a page when its CPU's batch is drained */
	munmap(dummy, PAGE);
	if (vmstat("pglazyfree") - lf < (long)(VL_NCAP * VL_PAGES + VL_WIT)) {
		cskip(c, "MADV_FREE made %ld pages lazyfree, want %zu", vmstat("pglazyfree") - lf, VL_NCAP * VL_PAGES + VL_WIT);
		return;
	}
	v->scribble = 0;  /* a write would make them dirty again */
	if (vl_start(v))
		return;
	/* both capture buffers hold a whole frame once each was dequeued after a settled one */
	for (int n = 0; n < 4 && !(v->dqbuf_seen[0] && v->dqbuf_seen[1]); n++)
		if (vl_expect(v, 0, 1, "into MADV_FREE'd capture buffers"))
			return;
	vl_release(v, m);
	if (c->failed[0])
		return;
	lfd = vmstat("pglazyfreed");
	for (int tries = 0; tries < 2 && !gone; tries++) {
		if (tries)
			drain_lru();
		madvise(v->cbuf[0], VL_NCAP * VL_SIZE, MADV_PAGEOUT);
		madvise(v->wit, VL_WIT * PAGE, MADV_PAGEOUT);
		for (int i = 0; i < VL_WIT; i++)
			gone += !(pagemap(v->wit + i * PAGE) & (PM_PRESENT | PM_SWAP));
	}
	printf("# %s: after the unpin, MADV_PAGEOUT: pglazyfreed +%ld, %d of %d witness pages discarded\n", c->name,
	       vmstat("pglazyfreed") - lfd, gone, VL_WIT);
	for (int i = 0; i < VL_NCAP; i++)
		if ((d = first_diff(v->cbuf[i], v->want, VL_SIZE)) >= 0) {
			cfail(c, "capture buffer %d lost its frame to reclaim after the unpin (byte %ld reads %#x): the pages "
			      "written through the pin were not dirtied, reclaim discarded them as clean lazyfree", i, d,
			      (unsigned char)v->cbuf[i][d]);
			return;
		}
	if (!gone)
		cskip(c, "reclaim discarded no lazyfree witness page (pglazyfreed +%ld)", vmstat("pglazyfreed") - lfd);
}

/* QBUF that must fail (a hole, read-only, too short, ext4 MAP_SHARED capture): the error, and not
 * a pin left; then (read-only, hole) the buffer made whole and queued: it must work */
static void vl_refused(struct vl *v, char *p, size_t len, int want_err, const char *what)
{
	struct cell *c = v->c;
	long out0 = pins_quiet(), a0 = vl_acquired();
	int r = vl_qbuf(v, 0, 0, p, len);

	if (!r) {
		cfail(c, "QBUF of a capture buffer %s succeeded", what);
		return;
	}
	if (r != -want_err)
		cfail(c, "QBUF of a capture buffer %s: %s, want %s", what, strerror(-r), strerror(want_err));
	else if (pins_settle(out0) != out0)
		cfail(c, "QBUF of a capture buffer %s failed (%s) and left %+ld pins (acquired +%ld)", what, strerror(-r),
		      pins_outstanding() - out0, vl_acquired() - a0);
	else if (want_err == EINVAL && vl_acquired() != a0)
		cfail(c, "QBUF of a capture buffer %s pinned %ld pages before refusing it", what, vl_acquired() - a0);
	if (!c->failed[0])
		printf("# %s: QBUF %s: %s, FOLL_PIN acquired +%ld, all released\n", c->name, what, strerror(-r),
		       vl_acquired() - a0);
}

static void vl_cell(struct cell *c, enum vmem m, enum vev e)
{
	struct vl v = {.c = c, .m = m, .e = e, .cap = -1, .out = -1, .scribble = 1};
	struct pinmark pm;
	char path[300] = "";
	int fd = -1;
	long d;

	if (!(v.want = malloc(VL_SIZE))) {
		cfail(c, "out of memory");
		return;
	}
	if (!(v.map = vl_map(&v, &fd, path, sizeof(path))))
		goto out;
	vl_layout(&v);
	if (m == VM_THP && !(is_thp(v.obuf) && is_thp(v.cbuf[0]) && is_thp(v.cbuf[1]))) {
		cskip(c, "no THP behind the buffers (kpageflags)");
		goto out;
	}
	/* ext4-shared/output: the output buffer is the file's (a read-only long-term pin of ext4 page
	 * cache), the capture buffers anonymous */
	if (m == VM_EXT4 && e == VE_OUTPUT &&
	    mmap(v.cbuf[0], VL_NCAP * VL_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
		    v.cbuf[0]) {
		cfail(c, "anonymous capture buffers after the ext4 output buffer: %s", strerror(errno));
		goto out;
	}
	pins_quiet();
	pin_mark(&pm);
	if (vl_open(&v))
		goto out;
	switch (e) {
	case VE_CAPTURE:
		vl_refused(&v, v.cbuf[0], VL_SIZE, EFAULT, "in ext4 MAP_SHARED memory (FOLL_LONGTERM|FOLL_WRITE)");
		goto release;
	case VE_SMALL:
		vl_refused(&v, v.cbuf[0], VL_SIZE - PAGE, EINVAL, "one page shorter than the frame");
		goto release;
	case VE_HOLE:
	case VE_RO: {
		char *bad = v.cbuf[0] + (e == VE_HOLE ? VL_PAGES / 2 * PAGE : 0);
		size_t blen = e == VE_HOLE ? PAGE : VL_SIZE;

		if (e == VE_HOLE ? munmap(bad, blen) : mprotect(bad, blen, PROT_READ)) {
			cfail(c, "%s: %s", e == VE_HOLE ? "munmap" : "mprotect", strerror(errno));
			goto release;
		}
		vl_refused(&v, v.cbuf[0], VL_SIZE, EFAULT, e == VE_HOLE ? "with an unmapped page in the middle" :
			   "mapped PROT_READ (FOLL_WRITE)");
		if (e == VE_HOLE ? mmap(bad, blen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != bad
				 : mprotect(bad, blen, PROT_READ | PROT_WRITE))
			cfail(c, "the bad page made good again: %s", strerror(errno));
		if (c->failed[0])
			goto release;
		break;  /* now it must work */
	}
	default:
		break;
	}
	if (e == VE_FREE) {
		vl_free(&v, &pm);
		vl_close(&v);
		goto held;
	}
	if (vl_start(&v))
		goto release;
	switch (e) {
	case VE_FORK:
		vl_fork(&v);
		break;
	case VE_MPROTECT:
		if (mprotect(v.cbuf[0], VL_NCAP * VL_SIZE, PROT_READ)) {
			cfail(c, "mprotect PROT_READ of the queued capture buffers: %s", strerror(errno));
			break;
		}
		v.scribble = 0;
		vl_pattern(&v, 6);
		if (vl_expect(&v, 3, 2, "into capture buffers mapped read-only"))
			break;
		if (mprotect(v.cbuf[0], VL_NCAP * VL_SIZE, PROT_READ | PROT_WRITE)) {
			cfail(c, "mprotect back: %s", strerror(errno));
			break;
		}
		v.scribble = 1;
		vl_pattern(&v, 7);
		vl_expect(&v, 3, 2, "after mprotect back to read-write");
		break;
	case VE_DONTNEED:
	case VE_MUNMAP:
		vl_drop(&v);
		break;
	case VE_PAGEOUT:
	case VE_MIGRATE:
		vl_move(&v);
		break;
	case VE_CLOSE: {
		/* the fds closed while streaming with buffers queued: vb2_queue_release() */
		vl_close(&v);
		if (!c->failed[0])
			pins_back(c, &pm, "closing both fds while streaming");
		goto held;
	}
	default:
		vl_pattern(&v, 8);
		vl_expect(&v, 3, 2, "after the process wrote the queued output buffer");
		break;
	}
release:
	vl_release(&v, &pm);
	vl_close(&v);
held:
	/* no buffer page held (private pages only: pages_held() moves them) */
	if (!c->failed[0] && (m == VM_ANON || m == VM_THP))
		none_held(c, v.obuf, (1 + 2 * VL_NCAP) * VL_SIZE, "REQBUFS(0) and close");
	if (!c->failed[0] && !c->skip[0] && e != VE_CAPTURE && e != VE_SMALL && (d = first_diff(v.obuf, v.want, VL_SIZE)) >= 0)
		cfail(c, "the output buffer no longer holds what the process wrote (byte %ld)", d);
	if (!c->failed[0] && !c->skip[0])
		printf("# %s: %d frames dequeued, the last sequence %ld\n", c->name, v.frames, v.last_seq);
out:
	vl_close(&v);
	if (v.map)
		munmap(v.map, VL_REGION);
	if (fd >= 0)
		close(fd);
	if (path[0])
		unlink(path);
	free(v.want);
}

static enum vev vl_event(const char *name)
{
	for (int e = 0; e < NVE; e++)
		if (!strcmp(vev_names[e], name))
			return (enum vev)e;
	return NVE;
}

static void vl_anon(struct cell *c, int k) { vl_cell(c, VM_ANON, vl_event(vl_anon_ev[k])); }
static void vl_thp(struct cell *c, int k) { vl_cell(c, VM_THP, vl_event(vl_thp_ev[k])); }
static void vl_shmem(struct cell *c, int k) { vl_cell(c, VM_SHMEM, vl_event(vl_shmem_ev[k])); }
static void vl_huge(struct cell *c, int k) { vl_cell(c, VM_HUGE, vl_event(vl_thp_ev[k])); }
static void vl_ext4(struct cell *c, int k) { vl_cell(c, VM_EXT4, vl_event(vl_ext4_ev[k])); }

#define VL_N(a) (int)(sizeof(a) / sizeof(a[0]))
static const struct cell_entry vl_table[] = {
	{"v4l2/anon/", vl_anon, vl_anon_ev, VL_N(vl_anon_ev), v4l2_quick, VL_N(v4l2_quick)},
	{"v4l2/thp/", vl_thp, vl_thp_ev, VL_N(vl_thp_ev), v4l2_quick, VL_N(v4l2_quick)},
	{"v4l2/shmem/", vl_shmem, vl_shmem_ev, VL_N(vl_shmem_ev), v4l2_quick, VL_N(v4l2_quick)},
	{"v4l2/hugetlb/", vl_huge, vl_thp_ev, VL_N(vl_thp_ev), v4l2_quick, VL_N(v4l2_quick)},
	{"v4l2/ext4-shared/", vl_ext4, vl_ext4_ev, VL_N(vl_ext4_ev), v4l2_quick, VL_N(v4l2_quick)},
};

static void v4l2_cells(void)
{
	run_cells(vl_table, sizeof(vl_table) / sizeof(vl_table[0]), NULL, NULL);
}
