#!/usr/bin/python3
"""RDMA traffic through memory regions on rxe, the payload checked where the process sees it.

Two RC QPs on one rxe device, connected to each other (INIT -> RTR -> RTS with each other's
QPN and the port's GID), move data between an anonymous source MR and a target MR over each
kind of memory rxe_mr.py registers:
  write  RDMA WRITE source -> target; the process reads the payload through its own mapping
         (the pinned pages must be the mapped pages)
  read   the process writes the target through its mapping; RDMA READ target -> source
         returns it
  send   SEND from the source into a RECV posted on the target
  dereg  deregistration gives back every FOLL_PIN the registration took (/proc/vmstat)
Then events while an MR is held: fork, mprotect + write fault, MADV_DONTNEED (private and
shared), move_pages to the other NUMA node, compaction, munmap before deregistration.

Each step prints `CASE mr/<memory>/<step> PASS|FAIL|SKIP[: why]` (bench/run/subcases.py). Every
completion is awaited at most OP_SECONDS, then the step fails naming the op; a failed op
reconnects the QPs so that the next step starts clean.

usage: rxe_traffic.py DEVICE GID_INDEX EXT4_DIR SIZE_KB
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import platform
import select
import sys
import time
from collections.abc import Callable

import pyverbs.enums as e
from pyverbs.addr import AHAttr, GlobalRoute
from pyverbs.cq import CQ
from pyverbs.device import Context
from pyverbs.mr import MR
from pyverbs.pd import PD
from pyverbs.pyverbs_error import PyverbsError, PyverbsRDMAError
from pyverbs.qp import QP, QPAttr, QPCap, QPInitAttr
from pyverbs.wr import SGE, RecvWR, SendWR

# REMOTE_ATOMIC: the responder's atomics read-modify-write 8 bytes of the pinned page itself
# (rxe_mr_do_atomic_op() on the MR's page list), the one path where rxe's CPU writes the page
RW = (e.IBV_ACCESS_LOCAL_WRITE | e.IBV_ACCESS_REMOTE_WRITE | e.IBV_ACCESS_REMOTE_READ
      | e.IBV_ACCESS_REMOTE_ATOMIC)
RO = e.IBV_ACCESS_REMOTE_READ
PAGE = mmap.PAGESIZE
HPAGE = 2 << 20
CHUNK = 512 * PAGE  # ib_umem_get pins at most one page of struct page pointers at a time
OP_SECONDS = 90.0  # one completion; rxe under a loaded TCG guest moves ~5-20 MB/s, and a control run
# on a host at load 7 waited over 30 s for one 256 KiB WRITE (prove 20261205-190144): not the kernel's fault
PORT = 1
SYS_MOVE_PAGES = 279  # x86_64
PM_PRESENT = 1 << 63
PFN_MASK = (1 << 55) - 1

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.mprotect.argtypes = libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
libc.syscall.restype = ctypes.c_long


class Skip(Exception):
    """The step's premise could not be set up."""


def oserr(what: str) -> OSError:
    n = ctypes.get_errno()
    return OSError(n, f"{what}: {os.strerror(n)}")


class Buf:
    """A mapping made with libc mmap (munmap, mprotect and madvise are ours to call)."""

    def __init__(self, size: int, flags: int, fd: int = -1, align: int = PAGE) -> None:
        total = size + (align if align > PAGE else 0)
        base = libc.mmap(None, total, mmap.PROT_READ | mmap.PROT_WRITE, flags, fd, 0)
        if base is None or base == ctypes.c_void_p(-1).value:
            raise oserr("mmap")
        self.base, self.total, self.size, self.fd = base, total, size, fd
        self.addr = (base + align - 1) // align * align

    def read(self, n: int = -1) -> bytes:
        return ctypes.string_at(self.addr, self.size if n < 0 else n)

    def write(self, data: bytes) -> None:
        ctypes.memmove(self.addr, data, len(data))

    def pagemap(self) -> list[int]:
        with open("/proc/self/pagemap", "rb") as f:
            f.seek(self.addr // PAGE * 8)
            raw = f.read(self.size // PAGE * 8)
        return [int.from_bytes(raw[i:i + 8], "little") for i in range(0, len(raw), 8)]

    def pfns(self) -> list[int]:
        return [v & PFN_MASK if v & PM_PRESENT else -1 for v in self.pagemap()]

    def madvise(self, advice: int) -> None:
        if libc.madvise(self.addr, self.size, advice):
            raise oserr("madvise")

    def mprotect(self, prot: int) -> None:
        if libc.mprotect(self.addr, self.size, prot):
            raise oserr("mprotect")

    def unmap(self) -> None:
        if self.base is not None:
            libc.munmap(self.base, self.total)
            self.base = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def pins() -> tuple[int, int]:
    # The counters are per-CPU deltas folded into /proc/vmstat lazily; fold them now.
    with open("/proc/sys/vm/stat_refresh", "w") as f:
        f.write("1")
    return vmstat("nr_foll_pin_acquired"), vmstat("nr_foll_pin_released")


def vmstat(key: str) -> int:
    with open("/proc/vmstat") as f:
        for line in f:
            k, v = line.split()
            if k == key:
                return int(v)
    return -1


def differs(got: bytes, want: bytes, where: str) -> str | None:
    """None when equal, else which pages differ and what the first one holds instead."""
    if got == want:
        return None
    bad = [p for p in range(0, len(want), PAGE) if got[p:p + PAGE] != want[p:p + PAGE]]
    first = got[bad[0]:bad[0] + PAGE]
    what = "zeroes" if not any(first) else "other data"
    return f"{where}: {len(bad)} of {len(want) // PAGE} page(s) differ, the first (page {bad[0] // PAGE}) holds {what}"


class Link:
    """QP a (the requester) and QP b, RC, on one port, connected to each other."""

    def __init__(self, ctx: Context, pd: PD, gid_index: int) -> None:
        self.ctx, self.pd, self.gid_index = ctx, pd, gid_index
        self.mtu = ctx.query_port(PORT).active_mtu
        self.connect()

    def connect(self) -> None:
        self.cqa, self.cqb = CQ(self.ctx, 8), CQ(self.ctx, 8)
        cap = QPCap(max_send_wr=4, max_recv_wr=4, max_send_sge=1, max_recv_sge=1)
        self.a = QP(self.pd, QPInitAttr(qp_type=e.IBV_QPT_RC, scq=self.cqa, rcq=self.cqa, cap=cap, sq_sig_all=1))
        self.b = QP(self.pd, QPInitAttr(qp_type=e.IBV_QPT_RC, scq=self.cqb, rcq=self.cqb, cap=cap, sq_sig_all=1))
        gid = self.ctx.query_gid(PORT, self.gid_index)
        for qp, peer in ((self.a, self.b), (self.b, self.a)):
            attr = QPAttr(port_num=PORT, path_mtu=self.mtu)
            attr.pkey_index = 0
            attr.qp_access_flags = RW
            qp.to_init(attr)
            attr.ah_attr = AHAttr(port_num=PORT, is_global=1, gr=GlobalRoute(dgid=gid, sgid_index=self.gid_index))
            attr.dest_qp_num = peer.qp_num
            attr.rq_psn = attr.sq_psn = 0
            attr.max_dest_rd_atomic = attr.max_rd_atomic = 1
            attr.min_rnr_timer = 12
            qp.to_rtr(attr)
            attr.timeout, attr.retry_cnt, attr.rnr_retry = 14, 7, 7
            qp.to_rts(attr)

    def reconnect(self) -> None:
        for obj in (self.a, self.b, self.cqa, self.cqb):
            try:
                obj.close()
            except PyverbsError as err:
                print(f"rxe_traffic: closing after a failed op: {err}")
        self.connect()

    def _wait(self, cq: CQ, what: str, nbytes: int = -1) -> str | None:
        deadline = time.monotonic() + OP_SECONDS
        while True:
            n, wcs = cq.poll()
            if n:
                wc = wcs[0]
                if wc.status != e.IBV_WC_SUCCESS:
                    return f"{what}: completion status {wc.status} (vendor error {wc.vendor_err})"
                if nbytes >= 0 and wc.byte_len != nbytes:
                    return f"{what}: completion says {wc.byte_len} bytes, {nbytes} sent"
                return None
            if time.monotonic() > deadline:
                return f"{what}: no completion within {OP_SECONDS:.0f} s"
            time.sleep(0.001)

    def _ok(self, problem: str | None) -> str | None:
        if problem:
            self.reconnect()
        return problem

    def rdma(self, opcode: int, local: tuple[int, int, int], remote: int, rkey: int) -> str | None:
        """RDMA WRITE/READ of local (addr, length, lkey) to/from remote addr under rkey."""
        what = f"RDMA {'WRITE' if opcode == e.IBV_WR_RDMA_WRITE else 'READ'} of {local[1]} bytes"
        wr = SendWR(wr_id=1, opcode=opcode, num_sge=1, sg=[SGE(*local)], send_flags=e.IBV_SEND_SIGNALED)
        wr.set_wr_rdma(rkey, remote)
        try:
            self.a.post_send(wr)
        except PyverbsRDMAError as err:
            return self._ok(f"{what}: post_send: {err}")
        return self._ok(self._wait(self.cqa, what))

    def atomic(self, opcode: int, local: tuple[int, int, int], remote: int, rkey: int,
               compare_add: int, swap: int = 0) -> str | None:
        """One 8-byte atomic at remote; the value it found lands in local (host byte order)."""
        name = "FETCH_AND_ADD" if opcode == e.IBV_WR_ATOMIC_FETCH_AND_ADD else "CMP_AND_SWP"
        what = f"atomic {name} at {remote:#x}"
        wr = SendWR(wr_id=4, opcode=opcode, num_sge=1, sg=[SGE(*local)], send_flags=e.IBV_SEND_SIGNALED)
        wr.set_wr_atomic(rkey, remote, compare_add, swap)
        try:
            self.a.post_send(wr)
        except PyverbsRDMAError as err:
            return self._ok(f"{what}: post_send: {err}")
        return self._ok(self._wait(self.cqa, what))

    def send(self, local: tuple[int, int, int], target: tuple[int, int, int]) -> str | None:
        what = f"SEND/RECV of {local[1]} bytes"
        try:
            self.b.post_recv(RecvWR(wr_id=2, num_sge=1, sg=[SGE(*target)]))
            self.a.post_send(SendWR(wr_id=3, opcode=e.IBV_WR_SEND, num_sge=1, sg=[SGE(*local)],
                                    send_flags=e.IBV_SEND_SIGNALED))
        except PyverbsRDMAError as err:
            return self._ok(f"{what}: post: {err}")
        return self._ok(self._wait(self.cqa, f"{what} (send side)")
                        or self._wait(self.cqb, f"{what} (receive side)", local[1]))


class Env:
    """The link, one anonymous source MR big enough for every target, and the arguments."""

    def __init__(self, link: Link, pd: PD, directory: str, size: int, biggest: int) -> None:
        self.link, self.pd, self.dir, self.size = link, pd, directory, size
        self.src = Buf(biggest, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self.src.write(b"\0" * biggest)
        self.src_mr = MR(pd, biggest, RW, address=self.src.addr)

    def local(self, n: int) -> tuple[int, int, int]:
        return self.src.addr, n, self.src_mr.lkey

    def write_into(self, buf: Buf, mr: MR, where: str) -> str | None:
        """RDMA WRITE fresh data into the target; the process must read it through its mapping."""
        data = os.urandom(buf.size)
        self.src.write(data)
        return (self.link.rdma(e.IBV_WR_RDMA_WRITE, self.local(buf.size), buf.addr, mr.rkey)
                or differs(buf.read(), data, f"the process view after RDMA WRITE{where}"))

    def read_back(self, buf: Buf, mr: MR, where: str, want: bytes | None = None) -> str | None:
        """RDMA READ the target; it must return want (default: what the process writes now)."""
        if want is None:
            want = os.urandom(buf.size)
            buf.write(want)
        self.src.write(b"\0" * buf.size)
        return (self.link.rdma(e.IBV_WR_RDMA_READ, self.local(buf.size), buf.addr, mr.rkey)
                or differs(self.src.read(buf.size), want, f"RDMA READ{where}"))

    def atomics(self, buf: Buf, mr: MR) -> str | None:
        """Fetch-and-add and compare-and-swap (one that must match, one that must not) at the first
        word, a word inside a middle page and the last word of the target: each must return the
        word the process holds, leave the result the process then reads, and touch no other byte;
        then the process writes a word and an add of 0 must fetch it (the other direction)."""
        pages = buf.size // PAGE
        for off in sorted({0, pages // 2 * PAGE + PAGE // 2 + 8, buf.size - 8}):
            at = f" (word at byte {off} of {buf.size})"
            before = bytearray(buf.read())
            cur = int.from_bytes(before[off:off + 8], "little")
            add, swap = int.from_bytes(os.urandom(8), "little"), int.from_bytes(os.urandom(8), "little")
            for opcode, cmp_add, sw, found, after in (
                    (e.IBV_WR_ATOMIC_FETCH_AND_ADD, add, 0, cur, (cur + add) % 2**64),
                    (e.IBV_WR_ATOMIC_CMP_AND_SWP, (cur + add) % 2**64, swap, (cur + add) % 2**64, swap),
                    (e.IBV_WR_ATOMIC_CMP_AND_SWP, swap ^ 1, cur, swap, swap)):  # no match: no swap
                self.src.write(b"\xa5" * 8)
                problem = self.link.atomic(opcode, self.local(8), buf.addr + off, mr.rkey, cmp_add, sw)
                if problem:
                    return problem + at
                got = int.from_bytes(self.src.read(8), "little")
                if got != found:
                    return f"an atomic fetched {got:#x}, the process held {found:#x}{at}"
                before[off:off + 8] = after.to_bytes(8, "little")
                problem = differs(buf.read(), bytes(before), f"the process view after an atomic{at}")
                if problem:
                    return problem
            mine = int.from_bytes(os.urandom(8), "little")
            ctypes.memmove(buf.addr + off, mine.to_bytes(8, "little"), 8)
            self.src.write(b"\xa5" * 8)
            problem = self.link.atomic(e.IBV_WR_ATOMIC_FETCH_AND_ADD, self.local(8), buf.addr + off, mr.rkey, 0)
            got = int.from_bytes(self.src.read(8), "little")
            if problem or got != mine:
                return problem or f"an atomic add of 0 fetched {got:#x}, the process wrote {mine:#x}{at}"
        return None

    def send_into(self, buf: Buf, mr: MR) -> str | None:
        data = os.urandom(buf.size)
        self.src.write(data)
        return (self.link.send(self.local(buf.size), (buf.addr, buf.size, mr.lkey))
                or differs(buf.read(), data, "the process view after SEND/RECV"))


RESULTS = {"PASS": 0, "FAIL": 0, "SKIP": 0}


def case(name: str, problem: str | None, note: str = "") -> None:
    status = "FAIL" if problem else "PASS"
    RESULTS[status] += 1
    why = problem or note
    print(f"CASE mr/{name} {status}" + (f": {why}" if why else ""), flush=True)


def skip(name: str, why: str) -> None:
    RESULTS["SKIP"] += 1
    print(f"CASE mr/{name} SKIP: {why}", flush=True)


# --- memory kinds: (name, make(env) -> (buf, note), MR access) ---------------------------

def anon(size: int, align: int = PAGE) -> Buf:
    return Buf(size, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, align=align)


def thp(size: int) -> Buf:
    buf = anon(2 * HPAGE, HPAGE)
    buf.madvise(mmap.MADV_HUGEPAGE)
    return buf


def memfd(size: int, flags: int = 0) -> Buf:
    fd = os.memfd_create("pinbench-traffic", flags)
    os.ftruncate(fd, size)
    return Buf(size, mmap.MAP_SHARED, fd)


def ext4(directory: str, name: str, size: int, flags: int, content: bytes) -> Buf:
    fd = os.open(os.path.join(directory, name), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    os.ftruncate(fd, size)
    os.pwrite(fd, content, 0)
    return Buf(size, flags, fd)


def thp_pages(buf: Buf) -> int:
    """How many of buf's pages sit in a THP (/proc/kpageflags bit 22, KPF_THP)."""
    n = 0
    with open("/proc/kpageflags", "rb") as f:
        for pfn in buf.pfns():
            if pfn >= 0:
                f.seek(pfn * 8)
                n += bool(int.from_bytes(f.read(8), "little") >> 22 & 1)
    return n


def traffic(env: Env, name: str, buf: Buf, access: int, note: Callable[[Buf], str] | None = None,
            after_write: Callable[[], str | None] | None = None) -> None:
    """Register buf, run write/read/send through it, deregister; one CASE line a step."""
    steps = ["write", "read", "atomic", "send", "dereg"]
    try:
        _traffic(env, name, buf, access, note, after_write, steps)
    except (OSError, PyverbsError) as err:
        for step in steps:
            case(f"{name}/{step}", f"{type(err).__name__}: {err}")
    finally:
        buf.unmap()


def _traffic(env: Env, name: str, buf: Buf, access: int, note: Callable[[Buf], str] | None,
             after_write: Callable[[], str | None] | None, steps: list[str]) -> None:
    buf.write(os.urandom(buf.size))  # fault every page in (and COW-break MAP_PRIVATE files)
    a0, r0 = pins()
    try:
        mr = MR(env.pd, buf.size, access, address=buf.addr)
    except PyverbsRDMAError as err:
        code = err.error_code or errno.EIO
        refused = name == "ext4-shared-rw" and code == errno.EFAULT
        while steps:
            step = steps.pop(0)
            if refused:  # rxe_mr.py judges the refusal itself
                skip(f"{name}/{step}", "the kernel refuses a writable long-term pin of ext4 MAP_SHARED (EFAULT)")
            else:
                case(f"{name}/{step}", f"ibv_reg_mr: {errno.errorcode.get(code, str(code))}")
        return
    if access & e.IBV_ACCESS_REMOTE_WRITE:
        problem = env.write_into(buf, mr, "")
        case(f"{name}/write", problem or (after_write() if after_write else None))
    else:
        skip(f"{name}/write", "a read-only MR (IBV_ACCESS_REMOTE_READ only)")
    steps.remove("write")
    case(f"{name}/read", env.read_back(buf, mr, " of what the process wrote"), note(buf) if note else "")
    steps.remove("read")
    if access & e.IBV_ACCESS_REMOTE_ATOMIC:
        case(f"{name}/atomic", env.atomics(buf, mr))
    else:
        skip(f"{name}/atomic", "a read-only MR (no IBV_ACCESS_REMOTE_ATOMIC)")
    steps.remove("atomic")
    if access & e.IBV_ACCESS_LOCAL_WRITE:
        case(f"{name}/send", env.send_into(buf, mr))
    else:
        skip(f"{name}/send", "a read-only MR (no IBV_ACCESS_LOCAL_WRITE for a RECV)")
    steps.remove("send")
    mr.close()
    a1, r1 = pins()
    pages = buf.size // PAGE
    problem = None
    if a1 - a0 < pages:
        problem = f"only {a1 - a0} pins acquired for {pages} pages"
    elif a1 - a0 != r1 - r0:
        problem = f"{(a1 - a0) - (r1 - r0)} pin(s) still held after deregistration"
    steps.remove("dereg")
    case(f"{name}/dereg", problem, f"+{a1 - a0}/-{r1 - r0}")


def kinds(env: Env) -> None:
    size, d = env.size, env.dir
    traffic(env, "anon", anon(size), RW)
    traffic(env, "anon-2chunks", anon(2 * CHUNK + 3 * PAGE), RW)
    traffic(env, "thp", thp(size), RW, lambda b: f"{thp_pages(b)} of {b.size // PAGE} pages in THPs while held")
    traffic(env, "memfd", memfd(size), RW)
    try:
        huge = memfd(HPAGE, os.MFD_HUGETLB)
    except OSError as err:  # the pool is ours (rxe.sh reserves it): not a skip
        for step in ("write", "read", "atomic", "send", "dereg"):
            case(f"hugetlb/{step}", f"cannot map a hugetlb memfd: {err}")
    else:
        traffic(env, "hugetlb", huge, RW)
    # read-only first: its long-term pin migrates the file's pages out of ZONE_MOVABLE
    traffic(env, "ext4-shared-ro", ext4(d, "traffic-ro.buf", size, mmap.MAP_SHARED, b""), RO)
    traffic(env, "ext4-shared-rw", ext4(d, "traffic-rw.buf", size, mmap.MAP_SHARED, b""), RW)
    orig = os.urandom(size)
    private = ext4(d, "traffic-private.buf", size, mmap.MAP_PRIVATE, orig)

    def file_untouched() -> str | None:
        return differs(os.pread(private.fd, size, 0), orig, "the file behind a MAP_PRIVATE MR after RDMA WRITE")
    traffic(env, "ext4-private", private, RW, after_write=file_untouched)


# --- events while an MR is held -----------------------------------------------------------

def held(env: Env, buf: Buf) -> MR:
    buf.write(os.urandom(buf.size))
    return MR(env.pd, buf.size, RW, address=buf.addr)


def both_ways(env: Env, buf: Buf, mr: MR, where: str) -> str | None:
    return env.write_into(buf, mr, where) or env.read_back(buf, mr, f" of what the process wrote{where}")


def moved(before: list[int], buf: Buf) -> str | None:
    n = sum(1 for a, b in zip(before, buf.pfns()) if a != b)
    return f"{n} of {len(before)} pinned page(s) moved: the MR holds pages the process no longer maps" if n else None


def ev_fork(env: Env, buf: Buf) -> str | None:
    """The parent writes and does RDMA after fork; the child's copy must see none of it."""
    mr = held(env, buf)
    before, mine = buf.pfns(), buf.read()
    go_r, go_w = os.pipe()
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 4
        try:
            if select.select([go_r], [], [], 4 * OP_SECONDS)[0]:
                code = 3 if buf.read() != mine else 0
                buf.write(os.urandom(buf.size))  # the child writes its copy
            os.write(done_w, b"d")
        finally:
            os._exit(code)
    problem: str | None = None
    try:
        problem = (both_ways(env, buf, mr, " in the parent after fork") or moved(before, buf))
        now = buf.read()
    finally:
        os.write(go_w, b"g")
        child_done = bool(select.select([done_r], [], [], 4 * OP_SECONDS)[0])
        _, status = os.waitpid(pid, 0)
        for fd in (go_r, go_w, done_r, done_w):
            os.close(fd)
    code = os.waitstatus_to_exitcode(status)
    problem = problem or ({3: "the child's copy changed: the parent's writes or RDMA reached it",
                           4: "the child never heard from the parent"}.get(code)
                          or (f"the child exited {code}" if code else None))
    if not problem and not child_done:
        problem = "the child never said it wrote its copy"
    problem = problem or env.read_back(buf, mr, " after the child wrote its copy", want=now)
    mr.close()
    return problem


def ev_mprotect(env: Env, buf: Buf) -> str | None:
    """RDMA WRITE while the mapping is read-only, then a write fault on the pinned pages."""
    mr = held(env, buf)
    before = buf.pfns()
    buf.mprotect(mmap.PROT_READ)
    problem = env.write_into(buf, mr, " into a PROT_READ mapping")
    buf.mprotect(mmap.PROT_READ | mmap.PROT_WRITE)
    problem = problem or env.read_back(buf, mr, " after the write fault") or moved(before, buf)
    mr.close()
    return problem


def ev_dontneed(env: Env, buf: Buf, shared: bool) -> tuple[str | None, str]:
    """madvise(2): after MADV_DONTNEED a private anonymous mapping refaults zero-fill pages,
    a shared one the up-to-date contents of its file. The MR keeps the pages it pinned, so
    for a private mapping the MR and the process part ways; for memfd they stay one."""
    mr = held(env, buf)
    before = buf.pfns()
    buf.madvise(mmap.MADV_DONTNEED)
    left = sum(1 for v in buf.pagemap() if v & PM_PRESENT)
    if left:
        mr.close()
        return f"MADV_DONTNEED left {left} page(s) mapped", ""
    data = os.urandom(buf.size)
    env.src.write(data)
    problem = env.link.rdma(e.IBV_WR_RDMA_WRITE, env.local(buf.size), buf.addr, mr.rkey)
    if problem:
        mr.close()
        return problem, ""
    view = buf.read()
    if shared:
        problem = (differs(view, data, "the process view after MADV_DONTNEED and RDMA WRITE")
                   or moved(before, buf) or env.read_back(buf, mr, " after MADV_DONTNEED"))
        mr.close()
        return problem, "shared: the process refaults the pinned page cache pages"
    if any(view):
        problem = ("the process reads " + ("RDMA's data" if view == data else "non-zero data")
                   + " after MADV_DONTNEED of a private mapping (madvise(2): zero-fill-on-demand)")
    buf.write(os.urandom(buf.size))
    again = set(buf.pfns()) & {p for p in before if p >= 0}
    if not problem and again:
        problem = f"the process maps {len(again)} pinned page(s) again after MADV_DONTNEED"
    # the MR still holds the old pages: RDMA READ returns RDMA's data, not the process's
    problem = problem or env.read_back(buf, mr, " of the MR after MADV_DONTNEED", want=data)
    mr.close()
    return problem, "private: the MR keeps the old pages, the process faults in new ones (pagemap)"


def move_pages(buf: Buf, node: int | None) -> list[int]:
    """move_pages(2) of every page of buf to node (None: query); the per-page status."""
    n = buf.size // PAGE
    pages = (ctypes.c_void_p * n)(*[buf.addr + i * PAGE for i in range(n)])
    status = (ctypes.c_int * n)(*([-999] * n))
    nodes = (ctypes.c_int * n)(*([node] * n)) if node is not None else None
    libc.syscall(ctypes.c_long(SYS_MOVE_PAGES), ctypes.c_long(0), ctypes.c_ulong(n), pages, nodes, status,
                 ctypes.c_int(0))
    return list(status)


def ev_migrate(env: Env, buf: Buf) -> str | None:
    if not os.path.exists("/sys/devices/system/node/node1"):
        raise Skip("one NUMA node only (numa=fake=2 on the command line?)")
    mr = held(env, buf)
    witness = anon(buf.size)
    try:
        witness.write(os.urandom(witness.size))
        before, wbefore = buf.pfns(), witness.pfns()
        here = move_pages(buf, None)[0]
        if here < 0:
            raise Skip(f"move_pages cannot say which node holds the buffer ({here})")
        move_pages(buf, 1 - here)
        wstatus = move_pages(witness, 1 - here)
        wmoved = sum(1 for a, b in zip(wbefore, witness.pfns()) if a != b)
        if not wmoved:
            raise Skip(f"the unpinned witness did not migrate to node {1 - here} either (status {wstatus[0]})")
        return moved(before, buf) or both_ways(env, buf, mr, " after move_pages")
    finally:
        mr.close()
        witness.unmap()


def ev_compact(env: Env, buf: Buf) -> str | None:
    mr = held(env, buf)
    try:
        before, migrated = buf.pfns(), vmstat("pgmigrate_success")
        with open("/proc/sys/vm/compact_memory", "w") as f:
            f.write("1")
        if vmstat("pgmigrate_success") == migrated:
            raise Skip("compaction migrated nothing (pgmigrate_success unchanged)")
        return moved(before, buf) or both_ways(env, buf, mr, " after compaction")
    finally:
        mr.close()


def ev_munmap(env: Env, buf: Buf) -> str | None:
    """munmap before deregistration: the MR keeps the pinned pages, dereg gives them back."""
    a0, r0 = pins()
    mr = held(env, buf)
    last = os.urandom(buf.size)
    buf.write(last)
    addr, size = buf.addr, buf.size
    buf.unmap()
    problem = env.read_back(buf, mr, " of the MR after munmap", want=last)
    if not problem:
        data = os.urandom(size)
        env.src.write(data)
        problem = (env.link.rdma(e.IBV_WR_RDMA_WRITE, env.local(size), addr, mr.rkey)
                   or env.read_back(buf, mr, " after RDMA WRITE into the unmapped MR", want=data))
    mr.close()
    a1, r1 = pins()
    if not problem and a1 - a0 != r1 - r0:
        problem = f"{(a1 - a0) - (r1 - r0)} pin(s) still held after deregistration (+{a1 - a0}/-{r1 - r0})"
    return problem


def events(env: Env) -> None:
    size = env.size

    def run(name: str, fn: Callable[[Buf], str | None | tuple[str | None, str]], buf: Buf) -> None:
        try:
            got = fn(buf)
        except Skip as why:
            skip(name, str(why))
        except (OSError, PyverbsError) as err:
            case(name, f"{type(err).__name__}: {err}")
        else:
            problem, note = got if isinstance(got, tuple) else (got, "")
            case(name, problem, note)
        finally:
            buf.unmap()

    run("anon/fork", lambda b: ev_fork(env, b), anon(size))
    run("thp/fork", lambda b: ev_fork(env, b), thp(size))
    run("anon/mprotect", lambda b: ev_mprotect(env, b), anon(size))
    run("anon/dontneed", lambda b: ev_dontneed(env, b, False), anon(size))
    run("memfd/dontneed", lambda b: ev_dontneed(env, b, True), memfd(size))
    run("anon/migrate", lambda b: ev_migrate(env, b), anon(size))
    run("anon/compact", lambda b: ev_compact(env, b), anon(size))
    run("anon/munmap", lambda b: ev_munmap(env, b), anon(size))


def main() -> int:
    device, gid_index, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    size = int(sys.argv[4]) * 1024
    began = time.monotonic()
    print(f"rxe_traffic: kernel {platform.release()}, {size // 1024} KiB MRs, completion limit {OP_SECONDS:.0f} s")
    with Context(name=device) as ctx, PD(ctx) as pd:
        link = Link(ctx, pd, gid_index)
        print(f"rxe_traffic: QP {link.a.qp_num} <-> QP {link.b.qp_num} on {device} port {PORT}, GID index {gid_index}")
        env = Env(link, pd, directory, size, max(size, 2 * CHUNK + 3 * PAGE, 2 * HPAGE))
        kinds(env)
        events(env)
        env.src_mr.close()
        for obj in (link.a, link.b, link.cqa, link.cqb):
            obj.close()
    print(f"rxe_traffic: {RESULTS['PASS']} passed, {RESULTS['FAIL']} failed, {RESULTS['SKIP']} skipped "
          f"in {time.monotonic() - began:.1f} s")
    return 1 if RESULTS["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
