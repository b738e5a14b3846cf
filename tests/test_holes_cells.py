"""holes/ (guests/src/holes_cells.h) on recorded guest logs: the bare tree passes every cell, and
each scratch bug of tests/data/guest/holes-bugs fails the cells of its class with the stale bytes
it leaves (tests/data/guest/README.md says where each log came from)."""

from __future__ import annotations

import pytest

from bench.run import subcases
from bench.run.result import Status
from conftest import listed_cells, recorded_cells


def _every_cell() -> set[str]:
    return listed_cells("holes_cells.h", "hl_", r"holes/[\w-]+/")


def _cells(log: str) -> dict[str, subcases.Subcase]:
    return recorded_cells(log)


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
