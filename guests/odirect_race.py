#!/usr/bin/python3
"""O_DIRECT reads into a MAP_SHARED file-backed buffer while its pages are written back.

Jan Kara's 2018 race (lore 20180103100430.GE4911@quack2.suse.cz): DIO pins the
buffer's pages (FOLL_PIN since 6.5) while writeback of the buffer's own file
write-protects and cleans them. Each buffer page is split: bytes [0, 512) are
dirtied through the mapping by a writer process that msyncs and fsyncs the
buffer file in a loop; bytes [512, 4096) are the target of O_DIRECT reads (7
sectors) from a data file whose every sector holds its own number. Both sides
verify their bytes, so lost or torn data is caught, not only kernel reports.

usage: odirect_race.py DIR SECONDS PAGES
"""

from __future__ import annotations

import mmap
import os
import struct
import sys
import time

PAGE = 4096
SECTOR = 512
HEAD = SECTOR  # writer-owned bytes at the start of each page
SPAN = PAGE - HEAD  # 7 sectors read by O_DIRECT into each page


def sector_pattern(n: int) -> bytes:
    return struct.pack("<Q", n) * (SECTOR // 8)


def make_data(path: str, sectors: int) -> None:
    with open(path, "wb") as f:
        f.write(b"".join(sector_pattern(n) for n in range(sectors)))
        os.fsync(f.fileno())


def writer(buf_path: str, pages: int, deadline: float) -> int:
    fd = os.open(buf_path, os.O_RDWR)
    mm = mmap.mmap(fd, pages * PAGE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    rounds = 0
    while time.monotonic() < deadline:
        stamp = struct.pack("<Q", rounds) * (HEAD // 8)
        for p in range(pages):
            mm[p * PAGE : p * PAGE + HEAD] = stamp
        mm.flush()  # msync(MS_SYNC): writeback write-protects and cleans the pages
        os.fsync(fd)
        for p in range(pages):
            if mm[p * PAGE : p * PAGE + HEAD] != stamp:
                print(f"FAIL: writer bytes of page {p} changed under us in round {rounds}")
                return 1
        rounds += 1
    print(f"writer: {rounds} dirty+msync+fsync rounds over {pages} pages")
    return 0


def reader(data_path: str, buf_path: str, pages: int, sectors: int, deadline: float) -> int:
    dfd = os.open(data_path, os.O_RDONLY | os.O_DIRECT)
    bfd = os.open(buf_path, os.O_RDWR)
    mm = mmap.mmap(bfd, pages * PAGE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    view = memoryview(mm)
    reads = 0
    start_sector = 0
    while time.monotonic() < deadline:
        for p in range(pages):
            start_sector = (start_sector + 7) % (sectors - 7)
            target = view[p * PAGE + HEAD : (p + 1) * PAGE]
            got = os.preadv(dfd, [target], start_sector * SECTOR)
            if got != SPAN:
                print(f"FAIL: short O_DIRECT read: {got} of {SPAN} bytes")
                return 1
            want = b"".join(sector_pattern(start_sector + i) for i in range(SPAN // SECTOR))
            if bytes(target) != want:
                print(f"FAIL: page {p} holds the wrong data after an O_DIRECT read of sector {start_sector}")
                return 1
            reads += 1
    view.release()
    print(f"reader: {reads} O_DIRECT reads of {SPAN} bytes verified")
    return 0


def main() -> int:
    directory, seconds, pages = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    data, buf = os.path.join(directory, "race.data"), os.path.join(directory, "race.buf")
    sectors = 8192
    make_data(data, sectors)
    with open(buf, "wb") as f:  # pre-sized: a MAP_SHARED mapping past EOF would SIGBUS
        f.truncate(pages * PAGE)
    deadline = time.monotonic() + seconds
    pid = os.fork()
    if pid == 0:
        os._exit(writer(buf, pages, deadline))
    rc = reader(data, buf, pages, sectors, deadline)
    _, status = os.waitpid(pid, 0)
    wrc = os.waitstatus_to_exitcode(status)
    if wrc != 0:
        print(f"FAIL: writer exited {wrc}")
    return rc or (1 if wrc else 0)


if __name__ == "__main__":
    sys.exit(main())
