#!/usr/bin/python3
"""Register RDMA memory regions (ibv_reg_mr via pyverbs) on rxe over several kinds of memory.

ibv_reg_mr pins the pages with pin_user_pages_fast(FOLL_LONGTERM [|FOLL_WRITE])
(ib_umem_get), so each registration must show in nr_foll_pin_acquired and its
deregistration in nr_foll_pin_released. The kernel's documented answer differs by
memory: anonymous, memfd/shmem and hugetlb always pin; a *writable* long-term pin
of a file-backed MAP_SHARED mapping on a filesystem that needs dirty tracking
(ext4) is refused with EFAULT since v6.5 (Lorenzo Stoakes, "mm/gup: disallow
FOLL_LONGTERM GUP-nonfast writing to file-backed mappings"); read-only and
MAP_PRIVATE registrations of the same file succeed.

Beyond the kinds of memory: MRs larger than one page_list chunk of ib_umem_get
(512 pages), THP-backed MRs, an MR over a range with a PROT_NONE page past the
first chunk (EFAULT, and every pin of the part already pinned must be dropped:
the error unwind), and fork while an MR is registered (parent and child both
write; the parent's pages must stay the pinned ones, checked by PFN).

ib_umem_get() also charges every registration to mm->pinned_vm (VmPin in
/proc/self/status), whatever the caller's capabilities, and ib_umem_release() and the
error unwind give it back: VmPin must grow by the MR's pages while it is held and be
back where it was after the deregistration or the failure (a charge that is kept
refuses the user's later registrations; one given back twice lets them pin past
RLIMIT_MEMLOCK). And a child without CAP_IPC_LOCK, under a 64 KiB RLIMIT_MEMLOCK,
must be refused (ENOMEM) an MR over it with no pin left and its charge given back, and
granted one of exactly the limit afterwards.

usage: rxe_mr.py DEVICE EXT4_DIR SIZE_KB
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import platform
import sys

import pyverbs.enums as e
from pyverbs.device import Context
from pyverbs.mr import MR
from pyverbs.pd import PD
from pyverbs.pyverbs_error import PyverbsRDMAError

RW = e.IBV_ACCESS_LOCAL_WRITE | e.IBV_ACCESS_REMOTE_WRITE | e.IBV_ACCESS_REMOTE_READ
RO = e.IBV_ACCESS_REMOTE_READ


def pins() -> tuple[int, int]:
    # The counters are per-CPU deltas folded into /proc/vmstat lazily; fold them now.
    with open("/proc/sys/vm/stat_refresh", "w") as f:
        f.write("1")
    vals = {}
    with open("/proc/vmstat") as f:
        for line in f:
            k, v = line.split()
            vals[k] = int(v)
    return vals.get("nr_foll_pin_acquired", -1), vals.get("nr_foll_pin_released", -1)


def vmpin() -> int:
    """mm->pinned_vm of this process in pages (VmPin in kB)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmPin:"):
                return int(line.split()[1]) * 1024 // mmap.PAGESIZE
    return -1


def kernel_at_least(major: int, minor: int) -> bool:
    parts = platform.release().split(".")
    return (int(parts[0]), int(parts[1].split("-")[0])) >= (major, minor)


CHUNK = 512 * 4096  # ib_umem_get pins at most one page of struct page pointers at a time


def anon(size: int, _dir: str) -> mmap.mmap:
    return mmap.mmap(-1, size, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)


def big_anon(size: int, _dir: str) -> mmap.mmap:
    return anon(2 * CHUNK + 3 * mmap.PAGESIZE, _dir)


def thp_anon(size: int, _dir: str) -> mmap.mmap:
    mm = anon(2 * CHUNK, _dir)
    mm.madvise(mmap.MADV_HUGEPAGE)
    return mm


def memfd(size: int, _dir: str) -> mmap.mmap:
    fd = os.memfd_create("pinbench")
    os.ftruncate(fd, size)
    return mmap.mmap(fd, size, mmap.MAP_SHARED)


def hugetlb(size: int, _dir: str) -> mmap.mmap:
    fd = os.memfd_create("pinbench-huge", os.MFD_HUGETLB)
    size = max(size, 2 << 20)
    os.ftruncate(fd, size)
    return mmap.mmap(fd, size, mmap.MAP_SHARED)


def ext4_file(flags: int):
    def make(size: int, directory: str) -> mmap.mmap:
        path = os.path.join(directory, f"mr-{flags}.buf")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.ftruncate(fd, size)
        return mmap.mmap(fd, size, flags)
    return make


def pfns(addr: int, pages: int) -> list[int]:
    with open("/proc/self/pagemap", "rb") as f:
        f.seek(addr // mmap.PAGESIZE * 8)
        raw = f.read(pages * 8)
    return [int.from_bytes(raw[i:i + 8], "little") & ((1 << 55) - 1) for i in range(0, len(raw), 8)]


def fork_check(mm: mmap.mmap, addr: int) -> str | None:
    """Both sides write after fork; the parent must keep the pinned pages (same PFNs)."""
    pages = len(mm) // mmap.PAGESIZE
    before = pfns(addr, pages)
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        mm[:: mmap.PAGESIZE] = b"\2" * pages
        os.write(wfd, b"x")
        os._exit(0 if mm[:: mmap.PAGESIZE] == b"\2" * pages else 3)
    os.read(rfd, 1)
    mm[:: mmap.PAGESIZE] = b"\3" * pages
    _, status = os.waitpid(pid, 0)
    os.close(rfd)
    os.close(wfd)
    moved = sum(1 for a, b in zip(before, pfns(addr, pages)) if a != b)
    if os.waitstatus_to_exitcode(status):
        return "the child lost its own writes after fork"
    if mm[:: mmap.PAGESIZE] != b"\3" * pages:
        return "the parent lost its own writes after fork"
    if moved:
        return f"{moved} page(s) of the parent moved after fork: the MR now holds pages the parent no longer maps"
    return None


def register(pd: PD, mm: mmap.mmap, access: int, hole: int = -1, fork: bool = False):
    """Register and deregister; return (errno or 0, pin deltas while held, deltas after, problem).
    problem also says where VmPin was not the MR's pages while held, or not back after."""
    mm[:: mmap.PAGESIZE] = b"\1" * len(range(0, len(mm), mmap.PAGESIZE))  # fault every page in
    anchor = ctypes.c_char.from_buffer(mm)
    addr = ctypes.addressof(anchor)
    if hole >= 0:  # a PROT_NONE page: ib_umem_get must fail there and unpin what it pinned
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mprotect(ctypes.c_void_p(addr + hole), ctypes.c_size_t(mmap.PAGESIZE), 0)
    a0, r0 = pins()
    v0 = vmpin()
    try:
        mr = MR(pd, len(mm), access, address=addr)
    except PyverbsRDMAError as err:
        del anchor
        a2, r2 = pins()
        return err.error_code or errno.EIO, (0, 0), (a2 - a0, r2 - r0), vmpin_back(v0, "the failure")
    a1, r1 = pins()
    v1 = vmpin() - v0
    problem = fork_check(mm, addr) if fork else None
    mr.close()
    a2, r2 = pins()
    del anchor
    if v1 != len(mm) // mmap.PAGESIZE:
        problem = problem or f"VmPin grew by {v1} pages while the MR of {len(mm) // mmap.PAGESIZE} pages was held"
    return 0, (a1 - a0, r1 - r0), (a2 - a0, r2 - r0), problem or vmpin_back(v0, "the deregistration")


def vmpin_back(v0: int, after: str) -> str | None:
    v = vmpin()
    return None if v == v0 else f"VmPin {v - v0:+d} pages after {after} (mm->pinned_vm charge not given back)"


CAP_IPC_LOCK = 14
LIMIT = 64 * 1024  # the rlimit child's RLIMIT_MEMLOCK


def drop_ipc_lock() -> None:
    """capset(2) without CAP_IPC_LOCK (uid stays 0): ib_umem_get then charges RLIMIT_MEMLOCK."""
    libc = ctypes.CDLL(None, use_errno=True)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # two of {effective, permitted, inheritable}
    if libc.syscall(125, header, data):  # SYS_capget (x86_64)
        raise OSError(ctypes.get_errno(), "capget")
    for i in range(3):
        data[i] &= ~(1 << CAP_IPC_LOCK)
    if libc.syscall(126, header, data):  # SYS_capset (x86_64)
        raise OSError(ctypes.get_errno(), "capset")


def rlimit_child(device: str) -> str:
    """In a child: without CAP_IPC_LOCK, under LIMIT, an MR over it refused with nothing kept,
    then one of exactly LIMIT granted and given back. "ok", "SKIP: why" or "FAIL: why"."""
    import resource

    if platform.machine() != "x86_64":
        return "SKIP: capget/capset syscall numbers are x86_64's"
    drop_ipc_lock()
    resource.setrlimit(resource.RLIMIT_MEMLOCK, (LIMIT, LIMIT))
    with Context(name=device) as ctx, PD(ctx) as pd:
        over = anon(2 * LIMIT, "")
        got, _held, after, problem = register(pd, over, RW)
        if got == 0:
            return f"FAIL: an MR of {len(over) // 1024} KiB was granted over a {LIMIT // 1024} KiB RLIMIT_MEMLOCK"
        if got != errno.ENOMEM:
            return f"FAIL: an MR over RLIMIT_MEMLOCK got {errno.errorcode.get(got, got)}, not ENOMEM"
        if after[0] != after[1] or problem:
            return f"FAIL: the refused MR left {after[0] - after[1]} pin(s); {problem or 'VmPin back'}"
        exact = anon(LIMIT, "")
        got, held, after, problem = register(pd, exact, RW)
        if got:
            return (f"FAIL: an MR of exactly the {LIMIT // 1024} KiB limit was refused after the refusal "
                    f"({errno.errorcode.get(got, got)}): a charge was kept")
        if problem or after[0] != after[1] or held[0] < LIMIT // mmap.PAGESIZE:
            return f"FAIL: the MR of the whole limit: {problem or f'pins +{held[0]} held, {after[0] - after[1]} left'}"
    return "ok"


def rlimit_case(device: str) -> str:
    """rlimit_child in a forked child (before the parent opens the device): its line."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        try:
            say = rlimit_child(device)
        except Exception as err:  # its own words, whatever broke
            say = f"FAIL: {type(err).__name__}: {err}"
        os.write(wfd, say.encode())
        os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as f:
        say = f.read().decode() or "FAIL: the child said nothing"
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status):
        say = f"FAIL: the child ended with status {status:#x}"
    return f"{'anon over RLIMIT_MEMLOCK':28} {say}"


def main() -> int:
    device, directory, size = sys.argv[1], sys.argv[2], int(sys.argv[3]) * 1024
    refused = errno.EFAULT if kernel_at_least(6, 5) else 0
    cases = [  # name, memory, access, expected errno, PROT_NONE page offset, fork
        ("anonymous rw", anon, RW, 0, -1, False),
        ("memfd/shmem MAP_SHARED rw", memfd, RW, 0, -1, False),
        ("hugetlb memfd rw", hugetlb, RW, 0, -1, False),
        # read-only first: its long-term pin migrates the file's pages out of ZONE_MOVABLE,
        # so the rw case meets them in GUP-fast (which hands movable pages to the slow path)
        ("ext4 MAP_SHARED read-only", ext4_file(mmap.MAP_SHARED), RO, 0, -1, False),
        ("ext4 MAP_SHARED rw", ext4_file(mmap.MAP_SHARED), RW, refused, -1, False),
        ("ext4 MAP_PRIVATE rw", ext4_file(mmap.MAP_PRIVATE), RW, 0, -1, False),
        ("anon > 2 chunks rw", big_anon, RW, 0, -1, False),
        ("anon THP rw", thp_anon, RW, 0, -1, False),
        ("anon, PROT_NONE past chunk 1", big_anon, RW, errno.EFAULT, CHUNK + 5 * 4096, False),
        ("anon, PROT_NONE in chunk 2", big_anon, RW, errno.EFAULT, 2 * CHUNK + 4096, False),
        ("anon rw, fork while held", big_anon, RW, 0, -1, True),
        ("anon THP rw, fork while held", thp_anon, RW, 0, -1, True),
    ]
    sys.stdout.flush()  # nothing written to the 9p results folder (netfs pins) between the readings
    a0, r0 = pins()
    said = rlimit_case(device)
    a1, r1 = pins()
    print(said)
    failed = int(" FAIL" in said)
    if a1 - a0 != r1 - r0:
        print(f"FAIL: anon over RLIMIT_MEMLOCK: {a1 - a0 - (r1 - r0)} pins still held after the child exited")
        failed += 1
    with Context(name=device) as ctx, PD(ctx) as pd:
        for name, make, access, want, hole, fork in cases:
            try:
                mm = make(size, directory)
            except OSError as err:  # the setup is ours (hugetlb pages reserved): not a skip
                print(f"FAIL: {name}: cannot map: {err}")
                failed += 1
                continue
            pages = len(mm) // mmap.PAGESIZE
            got, held, after, problem = register(pd, mm, access, hole, fork)
            mm.close()
            verdict = "ok"
            if got != want:
                verdict = f"FAIL: {name}: got {errno.errorcode.get(got, got)}, want {errno.errorcode.get(want, want)}"
            elif got == 0 and held[0] < pages:
                verdict = f"FAIL: {name}: only {held[0]} pins acquired for {pages} pages"
            elif after[0] != after[1]:
                verdict = f"FAIL: {name}: {after[0] - after[1]} pins still held after deregistration or failure"
            elif problem:
                verdict = f"FAIL: {name}: {problem}"
            failed += verdict != "ok"
            result = errno.errorcode.get(got, str(got)) if got else "registered"
            print(f"{name:28} {result:10} pins while held +{held[0]}/-{held[1]}, "
                  f"after dereg +{after[0]}/-{after[1]}  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
