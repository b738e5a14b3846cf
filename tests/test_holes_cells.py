"""holes/ (guests/src/holes_cells.h) on recorded guest logs: the bare tree passes every cell, and
each scratch bug of tests/data/guest/holes-bugs fails the cells of its class with the stale bytes
it leaves (tests/data/guest/README.md says where each log came from)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.run import subcases
from bench.run.result import Status

GUEST_LOGS = Path(__file__).parent / "data" / "guest"
SOURCE = Path(__file__).resolve().parent.parent / "guests" / "src" / "holes_cells.h"


def _every_cell() -> set[str]:
    """The cells holes_cells.h lists: each file system's prefix with its shape list."""
    text = SOURCE.read_text()
    lists = {name: re.findall(r'"(\w+)"', body) for name, body in
             re.findall(r"static const char \*const (hl_\w+)\[\] = \{([^}]*)\};", text)}
    table = re.findall(r'\{"(holes/[\w-]+/)", \w+, (hl_\w+), HL_N', text)
    return {prefix + shape for prefix, names in table for shape in lists[names]}


def _cells(log: str) -> dict[str, subcases.Subcase]:
    return {s.name: s for s in subcases.parse((GUEST_LOGS / log).read_text().splitlines())}


def test_the_bare_tree_passes_every_holes_cell() -> None:
    every = _every_cell()
    assert len(every) == 17
    got = _cells("pin-matrix-holes-baseline-6.12-tcg.log")
    assert set(got) == every
    assert {n for n, s in got.items() if s.status is not Status.PASS} == set()


@pytest.mark.parametrize("bug, failed, said", [
    # truncate_inode_partial_folio() zeroing large folios only: the cut-off bytes of a small page
    # stay in the page cache (tmpfs and ext4; FAT zeroes the tail itself, THPs are large)
    ("truncate-small-no-zero", {"holes/tmpfs/trunc", "holes/tmpfs/punch", "holes/ext4/trunc", "holes/ext4/punch"},
     "in the page cache: read(2) finds byte"),
    # iomap's head zeroing of a new block skipped under 2 KiB: the ext4 image's old text shows
    ("dio-head-pad-small", {"holes/ext4/dio"}, "where the file holds a hole (0x00)"),
])
def test_the_holes_cells_catch_their_scratch_bugs(bug: str, failed: set[str], said: str) -> None:
    got = _cells(f"pin-matrix-holes-{bug}-6.12-tcg.log")
    assert set(got) == _every_cell()
    assert {n for n, s in got.items() if s.status is Status.FAIL} == failed
    assert all(said in got[n].message for n in failed)
