#!/usr/bin/python3
"""O_DIRECT reads into a MAP_SHARED file-backed buffer while its pages are written back.

Jan Kara's 2018 race (lore 20180103100430.GE4911@quack2.suse.cz): DIO pins the
buffer's pages (FOLL_PIN since 6.5) while writeback of the buffer's own file
write-protects and cleans them. Each buffer page is split: bytes [0, 512) are
dirtied through the mapping by a writer process that msyncs and fsyncs the
buffer file in a loop; bytes [512, 4096) are the target of O_DIRECT reads (7
sectors) from a data file whose every sector holds its own number. Both sides
verify their bytes, so lost or torn data is caught, not only kernel reports.
At the end the buffer file is fsynced, dropped from the page cache and re-read
from disk: every page must hold the writer's last stamp and the reader's last
read there (a page cleaned while a read was in flight and not re-dirtied at
completion loses the read's data on disk).

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


def writer(buf_path: str, pages: int, deadline: float, last_path: str) -> int:
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
    with open(last_path, "w") as f:
        f.write(str(rounds - 1))
    print(f"writer: {rounds} dirty+msync+fsync rounds over {pages} pages")
    return 0


def reader(data_path: str, buf_path: str, pages: int, sectors: int, deadline: float,
           last: list[int]) -> int:
    dfd = os.open(data_path, os.O_RDONLY | os.O_DIRECT)
    bfd = os.open(buf_path, os.O_RDWR)
    mm = mmap.mmap(bfd, pages * PAGE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    view = memoryview(mm)
    reads = 0
    start_sector = 0
    target: memoryview | None = None
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
            last[p] = start_sector
            reads += 1
    target = None  # drop the last slice of the view, or the mapping cannot close
    view.release()
    mm.close()
    os.close(bfd)
    print(f"reader: {reads} O_DIRECT reads of {SPAN} bytes verified")
    return 0


def on_disk(buf_path: str, pages: int, last: list[int], stamp_round: int) -> int:
    """The buffer file after fsync and a page cache drop: writer's and reader's last bytes."""
    fd = os.open(buf_path, os.O_RDWR)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, pages * PAGE, os.POSIX_FADV_DONTNEED)
    data = os.pread(fd, pages * PAGE, 0)
    os.close(fd)
    stamp = struct.pack("<Q", stamp_round) * (HEAD // 8)
    for p in range(pages):
        page = data[p * PAGE : (p + 1) * PAGE]
        if stamp_round >= 0 and page[:HEAD] != stamp:
            print(f"FAIL: on disk, page {p} lacks the writer's last stamp (round {stamp_round})")
            return 1
        want = b"".join(sector_pattern(last[p] + i) for i in range(SPAN // SECTOR))
        if last[p] >= 0 and page[HEAD:] != want:
            print(f"FAIL: on disk, page {p} lacks the last O_DIRECT read into it (sector {last[p]}): "
                  "the read's data was lost (page cleaned during the read, not re-dirtied)")
            return 1
    print(f"on disk: all {pages} pages hold the last stamp and the last O_DIRECT read")
    return 0


def main() -> int:
    directory, seconds, pages = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    data, buf = os.path.join(directory, "race.data"), os.path.join(directory, "race.buf")
    sectors = 8192
    make_data(data, sectors)
    with open(buf, "wb") as f:  # pre-sized: a MAP_SHARED mapping past EOF would SIGBUS
        f.truncate(pages * PAGE)
    last_path = os.path.join(directory, "race.last")
    deadline = time.monotonic() + seconds
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        code = writer(buf, pages, deadline, last_path)
        sys.stdout.flush()  # os._exit skips it: the writer's lines would be lost
        os._exit(code)
    last = [-1] * pages
    rc = reader(data, buf, pages, sectors, deadline, last)
    _, status = os.waitpid(pid, 0)
    wrc = os.waitstatus_to_exitcode(status)
    if wrc != 0:
        print(f"FAIL: writer exited {wrc}")
    if rc or wrc:
        return 1
    with open(last_path) as f:
        stamp_round = int(f.read())
    if stamp_round < 0 or max(last) < 0:  # a side that never finished a round raced nothing
        print(f"FAIL: the race did not run: {stamp_round + 1} writer round(s), reads into"
              f" {sum(x >= 0 for x in last)} of {pages} pages in {seconds:g} s")
        return 1
    return on_disk(buf, pages, last, stamp_round)


if __name__ == "__main__":
    sys.exit(main())
