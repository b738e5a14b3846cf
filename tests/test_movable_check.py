"""The ZONE_MOVABLE check of the long-term pins (docs/oracles.md "ZONE_MOVABLE after a long-term
pin") against real guest output: a scratch bug that leaves every long-term pin in ZONE_MOVABLE
(tests/data/guest/movable-bugs/longterm-skip-pinned) and the bare tree, same workloads, same
`movablecore=256M` boot. Each oracle's output goes through the parser the bench uses for it:
pin-matrix's CASE lines (bench/run/subcases.py), iouring's FAIL lines (bench/run/cases.py
why_failed()), gup_test's WARN in the console (bench/report/scanner.py)."""

from __future__ import annotations

import re
from pathlib import Path

from bench.report import scanner
from bench.run import cases, subcases
from bench.run.result import Status

GUEST_LOGS = Path(__file__).parent / "data" / "guest"
# the cells of the runs, in their order (pin-matrix ONLY=...): every held-pin kind and memory
CELLS = ["gup-fast/anon/fork", "gup-fast/thp/fork", "gup-fast/ext4-shared/none", "gup-fast/shmem-thp/seal",
         "gup-slow/anon/fork", "gup-slow/thp/fork", "uring/anon/none", "uring/anon/fork", "uring/thp/fork",
         "uring/shmem/fork", "uring/ext4-private/fork", "uring/hugetlb/fork", "uring/shmem-thp/fork",
         "udmabuf/shmem/none", "udmabuf/hugetlb/none"]
_HELD = re.compile(r"^(\d+) of \1 page\(s\) stay in ZONE_MOVABLE under a long-term (gup-fast|gup-slow|uring) pin$")
_DMABUF = re.compile(r"^(\d+) page\(s\) the dma-buf pins are in ZONE_MOVABLE$")


def _lines(name: str) -> list[str]:
    return (GUEST_LOGS / name).read_text().splitlines()


def _failed_on_movable(lines: list[str]) -> list[str]:
    """The cells that failed for the reason the ZONE_MOVABLE check gives, every page of their
    range named (16 small pages, 512 in a THP or hugetlb page), the pin kind their own."""
    got = []
    for s in subcases.parse(lines):
        held = _HELD.match(s.message)
        if s.status is Status.FAIL and held and held[1] in ("16", "512") and s.name.startswith(held[2] + "/"):
            got.append(s.name)
        elif s.status is Status.FAIL and (m := _DMABUF.match(s.message)) and m[1] in ("16", "512"):
            got.append(s.name)
    return got


def test_every_long_term_pin_left_in_zone_movable_fails_its_cell() -> None:
    # run 20261206-023308: every cell fails on the check, each with the whole range named
    lines = _lines("pin-matrix-longterm-skip-pinned-6.12-tcg.log")
    assert [s.name for s in subcases.parse(lines)] == CELLS
    assert _failed_on_movable(lines) == CELLS
    got = {c.name: c for c in subcases.cases("pin-matrix", lines)}
    assert got["pin-matrix/uring/hugetlb/fork"].status is Status.FAIL
    assert got["pin-matrix/uring/hugetlb/fork"].message == \
        "512 of 512 page(s) stay in ZONE_MOVABLE under a long-term uring pin"


def test_before_the_fix_a_failed_check_left_its_pin_held() -> None:
    # the same bug before pin_start() let go of the pin whose check failed (run
    # 20261206-020534): only the first gup_test and the first io_uring cell failed on
    # ZONE_MOVABLE, every later one on the pin still held (gup_test: EINVAL, io_uring: EBUSY)
    lines = _lines("pin-matrix-longterm-skip-pinned-held-pin-6.12-tcg.log")
    cells = {s.name: s for s in subcases.parse(lines)}
    assert list(cells) == CELLS and all(s.status is Status.FAIL for s in cells.values())
    assert _failed_on_movable(lines) == ["gup-fast/anon/fork", "uring/anon/none", "udmabuf/shmem/none",
                                         "udmabuf/hugetlb/none"]
    assert cells["gup-slow/anon/fork"].message == "PIN_LONGTERM_TEST_START: Invalid argument"
    assert cells["uring/thp/fork"].message == "io_uring_register_buffers failed"


def test_the_same_cells_pass_on_the_bare_tree_after_moving_their_pages() -> None:
    # run 20261206-022416-baseline: the same boot, the pins moved every page out first
    lines = _lines("pin-matrix-movable-baseline-6.12-tcg.log")
    cells = subcases.parse(lines)
    assert [s.name for s in cells] == CELLS and all(s.status is Status.PASS for s in cells)
    assert _failed_on_movable(lines) == []
    # the premise: pages in ZONE_MOVABLE before the pin, printed by pin_start()
    moved = [ln for ln in lines if "page(s) in ZONE_MOVABLE before the long-term pin, none after" in ln]
    assert moved


def test_iouring_names_the_registered_pages_left_in_zone_movable() -> None:
    # the pin counts still balance (no FAIL of its own): the ZONE_MOVABLE check is what fails
    text = (GUEST_LOGS / "iouring-longterm-skip-pinned-6.12-tcg.log").read_text()
    assert cases.why_failed(text) == "FAIL: anon small pages: 260 long-term pinned page(s) still in ZONE_MOVABLE"
    fails = [ln for ln in text.splitlines() if ln.startswith("FAIL")]
    assert len(fails) == 5 and all(ln.endswith("long-term pinned page(s) still in ZONE_MOVABLE") for ln in fails)
    # the bare tree, same boot: the same five buffers pass
    base = _lines("iouring-movable-baseline-6.12-tcg.log")
    assert not [ln for ln in base if "FAIL" in ln]
    assert sum(ln.startswith("ok: ") and ln.endswith("balanced") for ln in base) == 5


def test_gup_test_long_term_pins_in_zone_movable_warn_in_the_console() -> None:
    # gup_test's PIN_LONGTERM_BENCHMARK WARNs on each call whose first pinned folio is not
    # folio_is_longterm_pinnable(): 12 calls of -L (4 memory kinds x 3 shapes); the workload
    # itself exits 0, the console scanner fails the run
    lines = _lines("console-gup-test-longterm-skip-pinned-6.12-tcg.log")
    reports = scanner.scan(lines)
    assert len(reports) == 12
    assert {r.title for r in reports} == {"WARNING in gup_test_ioctl"}
    # WARN()'s message is the console line before the report's own first line (the console's
    # "\r\r\n" line ends read as a line and an empty one)
    before = [next(ln for ln in reversed(lines[:r.first_line]) if ln.strip()) for r in reports]
    assert all(ln.endswith("pages[0] is NOT pinnable but pinned") for ln in before)
