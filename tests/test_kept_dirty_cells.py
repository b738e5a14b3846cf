"""kept-dirty/ (guests/src/kept_dirty_cells.h) on recorded guest logs: the bare tree passes every
cell, and a bug that drops a PTE's dirty bit on one path fails exactly the cells whose move takes
that path, with the old bytes read back (tests/data/guest/README.md says where each log came
from)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.run import subcases
from bench.run.result import Status

GUEST_LOGS = Path(__file__).parent / "data" / "guest"
SOURCE = Path(__file__).resolve().parent.parent / "guests" / "src" / "kept_dirty_cells.h"
LOST = "reads the bytes it held before its last write: the write was lost"


def _every_cell() -> set[str]:
    """The cells kept_dirty_cells.h lists: each memory's prefix with its move list."""
    text = SOURCE.read_text()
    lists = {name: re.findall(r'"([\w-]+)"', body) for name, body in
             re.findall(r"static const char \*const (kd_\w+)\[\] = \{([^}]*)\};", text)}
    table = re.findall(r'\{"(kept-dirty/\w+/)", \w+, (kd_\w+), KD_N', text)
    return {prefix + move for prefix, names in table for move in lists[names]}


def _cells(log: str) -> dict[str, subcases.Subcase]:
    return {s.name: s for s in subcases.parse((GUEST_LOGS / log).read_text().splitlines())}


def test_the_bare_tree_passes_every_kept_dirty_cell() -> None:
    every = _every_cell()
    assert len(every) == 19
    got = _cells("pin-matrix-kept-dirty-baseline-6.12-tcg.log")
    assert set(got) == every
    assert {n for n, s in got.items() if s.status is not Status.PASS} == set()


def test_the_anon_cells_met_their_premise_on_the_bare_tree() -> None:
    """Every anonymous page's write lived in its PTE alone (else the cells would prove nothing)."""
    text = (GUEST_LOGS / "pin-matrix-kept-dirty-baseline-6.12-tcg.log").read_text()
    held = re.findall(r"# kept-dirty/anon/[\w-]+: (\d+) of 16 pages held their write in the PTE alone", text)
    assert len(held) == 11 and all(int(n) == 16 for n in held)


SOFT = "is not soft-dirty (pagemap bit 55): the soft-dirty bit was dropped"


def test_the_soft_dirty_half_was_checked_on_the_bare_tree() -> None:
    """Every cell but the soft-dirty move checked the half written since clear_refs 4."""
    text = (GUEST_LOGS / "pin-matrix-kept-dirty-baseline-6.12-tcg.log").read_text()
    said = set(re.findall(r"# (kept-dirty/[\w-]+/[\w-]+): .*soft-dirty (?:throughout|after the move)", text))
    assert said == {n for n in _every_cell() if not n.endswith("/soft-dirty")}


def test_a_dropped_soft_dirty_bit_fails_every_cell_that_migrates() -> None:
    """remove_migration_pte() building PTEs without soft-dirty: every move through migration
    entries (move_pages, device migration, both undone), on anon and ext4 pages."""
    got = _cells("pin-matrix-kept-dirty-migrate-drop-soft-dirty-6.12-tcg.log")
    assert set(got) == _every_cell()
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
    # the two logs recorded before uffd-move was added lack that cell alone
    assert _every_cell() - {"kept-dirty/anon/uffd-move"} <= set(got) <= _every_cell()
    assert {n for n, s in got.items() if s.status is Status.FAIL} == failed
    assert all(LOST in got[n].message for n in failed)
