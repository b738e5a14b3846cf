"""Records of /sys/kernel/debug/page_owner, as guests/pages.sh keeps them (lines in, data out).

The format is linux 6.12's mm/page_owner.c print_page_owner(), one record a page still
allocated, a blank line after each:

    Page allocated via order 0, mask 0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), pid 812, tgid 812 (cat), ts 5106 ns
    PFN 0x11a3f type Movable Block 141 type Movable Flags 0x...(uptodate|lru|swapbacked|node=0|zone=1)
     post_alloc_hook+0x1a4/0x1c0
     ...                                     (the allocation stack, one frame a line)
    Page has been migrated, last migrate reason: compaction        (optional)
    Charged to memcg pinbench                                       (optional, CONFIG_MEMCG)

guests/pages.sh adds lines of its own, starting "pinbench: " (how many records it read, found in
the workload's pid window, and kept).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Numbers of at most 20 digits (a u64): the guest writes these lines, and int() refuses 4300
# digits (a crash of the run's pages oracle); a longer one fits no pattern, a bad line.
_HEADER = re.compile(r"^Page allocated via order (\d{1,20}), mask (0x[0-9a-f]+)\(([^)]*)\), pid (-?\d{1,20}), "
                     r"tgid (-?\d{1,20}) \((.*)\), ts (\d{1,20}) ns$")
_PFN = re.compile(r"^PFN (0x[0-9a-f]{1,16}|\d{1,20}) type (\S+) Block \d+ type (\S+) Flags (?:0x[0-9a-f]+)?\(?([^)]*)\)?$")
_SLAB = re.compile(r"^(?:allocate_slab|new_slab)\b")
_SEEN = re.compile(r"^pinbench: (\d{1,20}) record\(s\) read, (\d{1,20}) in the window, (\d{1,20}) kept$")
_FRAME = re.compile(r"^\s+(\S.*)$")
# The gfp names that mean a user allocation: every GFP_USER-family mask carries __GFP_HARDWALL
# (gfp_types.h); %pGg prints it inside the first composite name that covers it.
_USER_GFP = frozenset({"__GFP_HARDWALL", "GFP_USER", "GFP_HIGHUSER", "GFP_HIGHUSER_MOVABLE",
                       "GFP_TRANSHUGE", "GFP_TRANSHUGE_LIGHT"})


@dataclass(frozen=True)
class Record:
    """One allocation still live: 2**order pages from pfn on."""

    order: int
    gfp: tuple[str, ...]  # the names %pGg printed, in order
    pid: int
    tgid: int
    comm: str
    pfn: int = -1
    migratetype: str = ""  # of the allocation's gfp (Movable, Unmovable, ...)
    flags: str = ""  # the page flags now, as %pGp prints them
    stack: tuple[str, ...] = ()  # innermost first, offsets kept
    migrated: str = ""  # the last migrate reason, if the page was migrated

    @property
    def pages(self) -> int:
        return 1 << self.order

    @property
    def user(self) -> bool:
        """Allocated for user memory (anon, page cache, shmem, pipe, THP, hugetlb pool); not a
        slab page, which may carry the mapping's user gfp too (buffer heads of a page cache folio)."""
        return not _USER_GFP.isdisjoint(self.gfp) and not any(_SLAB.match(f) for f in self.stack)


@dataclass(frozen=True)
class Dump:
    records: tuple[Record, ...]
    read: int  # records the guest read in all of page_owner (0: the read failed)
    seen: int  # records the guest found in the window (some may not be kept)
    kept: int
    bad_lines: int = 0  # lines that fit no part of a record (a format this parser does not know)

    @property
    def complete(self) -> bool:
        return self.seen == self.kept == len(self.records)


def _record(lines: list[str]) -> Record | None:
    m = _HEADER.match(lines[0])
    if not m:
        return None
    order, _, gfp, pid, tgid, comm, _ = m.groups()
    pfn, migratetype, flags, migrated = -1, "", "", ""
    stack: list[str] = []
    for line in lines[1:]:
        if p := _PFN.match(line):
            pfn, migratetype, flags = int(p.group(1), 16 if p.group(1).startswith("0x") else 10), p.group(2), p.group(4)
        elif line.startswith("Page has been migrated, last migrate reason: "):
            migrated = line.rsplit(": ", 1)[1]
        elif f := _FRAME.match(line):
            stack.append(f.group(1))
    return Record(int(order), tuple(g for g in gfp.split("|") if g), int(pid), int(tgid), comm,
                  pfn, migratetype, flags, tuple(stack), migrated)


def parse(lines: Iterable[str]) -> Dump:
    """The records in page_owner text (blank-line separated), and the guest's counts (read 0
    when its count line is missing: the read did not finish)."""
    records: list[Record] = []
    read = seen = kept = -1
    bad = 0
    block: list[str] = []

    def flush() -> None:
        nonlocal bad
        if block:
            rec = _record(block)
            if rec is None:
                bad += len(block)
            else:
                records.append(rec)
            block.clear()

    for raw in lines:
        line = raw.rstrip("\n")
        if line.startswith("pinbench: "):
            flush()
            if m := _SEEN.match(line):
                read, seen, kept = (int(g) for g in m.groups())
            continue
        if not line.strip():
            flush()
            continue
        if _HEADER.match(line):
            flush()
        block.append(line)
    flush()
    if seen < 0:  # no count line: the read did not finish
        read, seen, kept = 0, len(records), len(records)
    return Dump(tuple(records), read, seen, kept, bad)


def mapcounts(lines: Iterable[str]) -> dict[int, int]:
    """guests/pages.sh's "PFN MAPCOUNT" lines (/proc/kpagecount): pfn -> how many map it; a
    line without a count (no /proc/kpagecount) is left out."""
    out = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            try:
                out[int(parts[0], 0)] = int(parts[1])
            except ValueError:
                continue
    return out
