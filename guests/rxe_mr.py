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


def kernel_at_least(major: int, minor: int) -> bool:
    parts = platform.release().split(".")
    return (int(parts[0]), int(parts[1].split("-")[0])) >= (major, minor)


def anon(size: int, _dir: str) -> mmap.mmap:
    return mmap.mmap(-1, size, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)


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


def register(pd: PD, mm: mmap.mmap, access: int) -> tuple[int, tuple[int, int], tuple[int, int]]:
    """Register and deregister; return (errno or 0, pin deltas while held, deltas after)."""
    mm[:: mmap.PAGESIZE] = b"\1" * len(range(0, len(mm), mmap.PAGESIZE))  # fault every page in
    anchor = ctypes.c_char.from_buffer(mm)
    addr = ctypes.addressof(anchor)
    a0, r0 = pins()
    try:
        mr = MR(pd, len(mm), access, address=addr)
    except PyverbsRDMAError as err:
        del anchor
        return err.error_code or errno.EIO, (0, 0), (0, 0)
    a1, r1 = pins()
    mr.close()
    a2, r2 = pins()
    del anchor
    return 0, (a1 - a0, r1 - r0), (a2 - a0, r2 - r0)


def main() -> int:
    device, directory, size = sys.argv[1], sys.argv[2], int(sys.argv[3]) * 1024
    refused = errno.EFAULT if kernel_at_least(6, 5) else 0
    cases = [  # name, memory, access, expected errno
        ("anonymous rw", anon, RW, 0),
        ("memfd/shmem MAP_SHARED rw", memfd, RW, 0),
        ("hugetlb memfd rw", hugetlb, RW, 0),
        ("ext4 MAP_SHARED rw", ext4_file(mmap.MAP_SHARED), RW, refused),
        ("ext4 MAP_SHARED read-only", ext4_file(mmap.MAP_SHARED), RO, 0),
        ("ext4 MAP_PRIVATE rw", ext4_file(mmap.MAP_PRIVATE), RW, 0),
    ]
    failed = 0
    with Context(name=device) as ctx, PD(ctx) as pd:
        for name, make, access, want in cases:
            try:
                mm = make(size, directory)
            except OSError as err:
                print(f"SKIP {name}: cannot map: {err}")
                continue
            got, held, after = register(pd, mm, access)
            mm.close()
            pages = size // mmap.PAGESIZE
            verdict = "ok"
            if got != want:
                verdict = f"FAIL: want {errno.errorcode.get(want, want)}"
                failed += 1
            elif got == 0 and held[0] < pages:
                verdict = f"FAIL: only {held[0]} pins acquired for {pages} pages"
                failed += 1
            elif got == 0 and after[0] != after[1]:
                verdict = f"FAIL: {after[0] - after[1]} pins still held after deregistration"
                failed += 1
            result = errno.errorcode.get(got, str(got)) if got else "registered"
            print(f"{name:28} {result:10} pins while held +{held[0]}/-{held[1]}, "
                  f"after dereg +{after[0]}/-{after[1]}  {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
