"""kept-dirty/ (guests/src/kept_dirty_cells.h) on recorded guest logs: the bare tree passes every
cell, and a bug that drops a PTE's dirty bit on one path fails exactly the cells whose move takes
that path, with the old bytes read back (tests/data/guest/README.md says where each log came
from)."""

from __future__ import annotations

import re

import pytest

from bench.run import subcases
from bench.run.result import Status
from conftest import GUEST_LOGS, HOME, listed_cells, recorded_cells

SOURCE = HOME / "guests" / "src" / "kept_dirty_cells.h"
LOST = "reads the bytes it held before its last write: the write was lost"


def _every_cell() -> set[str]:
    return listed_cells("kept_dirty_cells.h", "kd_", r"kept-dirty/\w+/")


def _cells(log: str) -> dict[str, subcases.Subcase]:
    return recorded_cells(log)


def test_the_bare_tree_passes_every_kept_dirty_cell_but_the_io_uring_one() -> None:
    """6.12 itself loses an O_DIRECT READ_FIXED into a registered buffer of clean swap-cache pages
    (docs/matrix.md): the one failure, which keeps that cell out of the default set."""
    every = _every_cell()
    assert len(every) == 22
    got = _cells("pin-matrix-kept-dirty-baseline-6.12-tcg.log")
    assert set(got) == every
    assert {n for n, s in got.items() if s.status is not Status.PASS} == {"kept-dirty/anon/by-uring-fixed"}
    assert LOST in got["kept-dirty/anon/by-uring-fixed"].message
    assert '"kept-dirty/anon/by-uring-fixed"' not in SOURCE.read_text().split("kd_by_default[] =")[1].split(";")[0]


def test_the_anon_cells_met_their_premise_on_the_bare_tree() -> None:
    """Every anonymous page's write lived in its PTE alone (else the cells would prove nothing)."""
    text = (GUEST_LOGS / "pin-matrix-kept-dirty-baseline-6.12-tcg.log").read_text()
    held = re.findall(r"# kept-dirty/anon/[\w-]+: (\d+) of 16 pages held their write in the PTE alone", text)
    assert len(held) == 11 and all(int(n) == 16 for n in held)
    clean = re.findall(r"# kept-dirty/anon/by-[\w-]+: (\d+) of 16 pages clean in the swap cache, PTEs clean", text)
    assert len(clean) == 2 and all(int(n) == 16 for n in clean)  # the third failed before its # line


SOFT = "is not soft-dirty (pagemap bit 55): the soft-dirty bit was dropped"


def test_the_soft_dirty_half_was_checked_on_the_bare_tree() -> None:
    """Every cell but the soft-dirty move checked the half written since clear_refs 4."""
    text = (GUEST_LOGS / "pin-matrix-kept-dirty-baseline-6.12-tcg.log").read_text()
    said = set(re.findall(r"# (kept-dirty/[\w-]+/[\w-]+): .*soft-dirty (?:throughout|after the move)", text))
    assert said == {n for n in _every_cell() if not n.endswith("/soft-dirty") and "/by-" not in n}


def test_a_dropped_soft_dirty_bit_fails_every_cell_that_migrates() -> None:
    """remove_migration_pte() building PTEs without soft-dirty: every move through migration
    entries (move_pages, device migration, both undone), on anon and ext4 pages."""
    got = _cells("pin-matrix-kept-dirty-migrate-drop-soft-dirty-6.12-tcg.log")
    assert set(got) == {n for n in _every_cell() if "/by-" not in n}  # recorded before the writers
    failed = {n for n, s in got.items() if s.status is Status.FAIL}
    assert failed == {f"kept-dirty/{m}/{v}" for m in ("anon", "ext4") for v in ("migrate", "migrate-busy")} | {
        "kept-dirty/anon/device", "kept-dirty/anon/device-busy"}
    assert all(SOFT in got[n].message for n in failed)


@pytest.mark.parametrize("log, failed", [
    # move_present_pte() without it: UFFDIO_MOVE alone
    ("pin-matrix-kept-dirty-uffd-move-drop-dirty-6.12-tcg.log", {"kept-dirty/anon/uffd-move"}),
    # try_to_migrate_one() without the dirty transfer: move_pages, whether it succeeds or fails
    ("pin-matrix-kept-dirty-migrate-drop-pte-dirty-6.12-tcg.log",
     {"kept-dirty/anon/migrate", "kept-dirty/anon/migrate-busy"}),
    # migrate_vma_collect_pmd() without it (round 8): only the undone device migration loses it
    ("pin-matrix-kept-dirty-migrate-device-drop-pte-dirty-6.12-tcg.log", {"kept-dirty/anon/device-busy"}),
])
def test_a_dropped_dirty_bit_fails_the_cells_of_its_path(log: str, failed: set[str]) -> None:
    got = _cells(log)
    # recorded before the writers (and two of them before uffd-move)
    assert {n for n in _every_cell() if "/by-" not in n} - {"kept-dirty/anon/uffd-move"} <= set(got) <= _every_cell()
    assert {n for n, s in got.items() if s.status is Status.FAIL} == failed
    assert all(LOST in got[n].message for n in failed)


def test_the_catalogues_dio_read_dirty_fails_the_dio_writer_alone() -> None:
    """patches/bugs/dio-read-dirty (iomap dirtying only ITER_IOVEC reads, not a pread's ITER_UBUF):
    the O_DIRECT writer's pages come back from swap without its read; the default set's cells only."""
    got = _cells("pin-matrix-kept-dirty-dio-read-dirty-6.12-tcg.log")
    assert set(got) == _every_cell() - {"kept-dirty/anon/by-uring-fixed"}
    assert {n for n, s in got.items() if s.status is Status.FAIL} == {"kept-dirty/anon/by-dio-read"}
    assert LOST in got["kept-dirty/anon/by-dio-read"].message
