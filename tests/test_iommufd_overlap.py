"""iommufd/<memory>/overlap-<holder>-<event> (guests/src/iommufd_cells.h, ov_cells()) on recorded
guest logs: on the bare tree every cell passes with the FOLL_PIN deltas its layout predicts; with
patches/redteam/iommufd-batch-carry-order (batch_clear_carry() carrying the start of a run, not
its tail) every cell whose carried run crosses folios fails (tests/data/guest/README.md says where
each log came from)."""

from __future__ import annotations

import re
from pathlib import Path

from bench.run import subcases
from bench.run.result import Status

GUEST_LOGS = Path(__file__).parent / "data" / "guest"
SOURCE = Path(__file__).resolve().parent.parent / "guests" / "src" / "iommufd_cells.h"


def _table(name: str) -> str:
    """The body of the C array NAME in iommufd_cells.h."""
    return re.split(rf"\b{name}(?:\[[\w +]*\])+ = {{", SOURCE.read_text(), maxsplit=1)[1].split("};", 1)[0]


def _strings(name: str) -> list[str]:
    return re.findall(r'"([^"]+)"', _table(name))


def _every_cell() -> list[str]:
    """The cells ov_cells() runs: every memory kind, holder and event."""
    return [f"iommufd/{m}/overlap-{h}-{e}" for m in _strings("ov_mem_names") for h in _strings("oh_names")
            for e in _strings("oe_names")]


def _layout(pages: int) -> tuple[list[int], list[tuple[int, int]]]:
    """A's piece boundaries and B's ranges in pages, as ov_cell() scales the 1024ths."""
    cuts = [int(x) * pages // 1024 for x in re.findall(r"\d+", _table("ov_piece_at"))]
    ends = [int(x) * pages // 1024 for x in re.findall(r"\d+", _table("ov_hold_at"))]
    return cuts, list(zip(ends[::2], ends[1::2]))


def _uncovered(lo: int, hi: int, holds: list[tuple[int, int]]) -> int:
    return sum(1 for i in range(lo, hi) if not any(a <= i < b for a, b in holds))


def _log(name: str) -> tuple[list[str], dict[str, subcases.Subcase]]:
    lines = (GUEST_LOGS / name).read_text().splitlines()
    return lines, {s.name: s for s in subcases.parse(lines) if "/overlap-" in s.name}


def _one_run(lines: list[str], cell: str) -> bool:
    """The cell's region was one physical run of PFNs (its own comment line says)."""
    said = [line for line in lines if line.startswith(f"# {cell}: ") and "physical run" in line]
    assert len(said) == 1, cell
    return " in 1 physical run(s)" in said[0]


def test_the_bare_tree_passes_every_overlap_cell_with_the_models_deltas() -> None:
    every = _every_cell()
    assert len(every) == 16 and set(_strings("ov_quick")) <= set(every) and len(_strings("ov_quick")) == 4
    lines, got = _log("pin-matrix-iommufd-overlap-baseline-6.12-tcg.log")
    assert sorted(got) == sorted(every)
    assert all(s.status is Status.PASS for s in got.values())
    for cell in every:
        pages = 32 if "/anon/" in cell else 1024
        cuts, holds = _layout(pages)
        said = dict(line.split(": ", 2)[1:] for line in lines
                    if line.startswith(f"# {cell}: ") and ": FOLL_PIN acquired +" in line)
        # each copy into A pinned its piece, B's copies pinned nothing (A's domain had the PFNs)
        for lo, hi in zip(cuts, cuts[1:]):
            assert said[f"IOAS_COPY of pages {lo}-{hi - 1} into A (two domains)"] == \
                f"FOLL_PIN acquired +{hi - lo}, released +0", cell
        released = [_uncovered(lo, hi, holds) for lo, hi in zip(cuts, cuts[1:])]
        if cell.endswith("-unmap"):  # each piece gives back what B does not cover
            for (lo, hi), n in zip(zip(cuts, cuts[1:]), released):
                assert said[f"IOAS_UNMAP of A's pages {lo}-{hi - 1}"] == f"FOLL_PIN acquired +0, released +{n}", cell
        else:  # the storage domain hands over, the last one gives back everything B does not cover
            assert said["A's mock device destroyed (the storage domain's; the other takes over)"] == \
                "FOLL_PIN acquired +0, released +0", cell
            assert said["A's last domain destroyed"] == f"FOLL_PIN acquired +0, released +{sum(released)}", cell
        for a, b in holds:  # B lets go of what it held alone
            key = f"the access's pages {a}-{b - 1} unpinned" if "-access-" in cell else f"IOAS_UNMAP of B's pages {a}-{b - 1}"
            assert said[key] == f"FOLL_PIN acquired +0, released +{b - a}", cell
    # the carry is reached: the huge kinds and the split THPs have contiguous PFNs across both
    # hole-to-holder edges inside a piece of A
    for cell in every:
        if "/anon/" not in cell:
            assert any(line.startswith(f"# {cell}: 1024 pages in ") and "; 2 of 2 hole-to-holder edges" in line
                       for line in lines), cell


def test_the_overlap_cells_catch_the_batch_carry_order() -> None:
    # patches/redteam/iommufd-batch-carry-order: the carried entry starts where the run started,
    # so the next hole unpins pages already unpinned (pages 198-210 of the first piece) and
    # never the run's tail. Pins are the folio's: a THP or hugetlb cell fails only when its
    # region was one physical run (the two folios adjacent), the split THP always, anon (no
    # long run from the hole's start) never
    lines, got = _log("pin-matrix-iommufd-overlap-batch-carry-order-6.12-tcg.log")
    assert sorted(got) == sorted(_every_cell())
    failed = {n for n, s in got.items() if s.status is Status.FAIL}
    assert all(got[n].status is Status.PASS for n in got if n not in failed)
    split = {n for n in got if "/thp-split/" in n}
    assert split <= failed
    assert all(got[n].message.endswith("MD_CHECK_REFS of page 198 (pages 0-300 should have 0 pin(s)): ENOMEM: GUP "
                                       "refuses a folio whose refcount is at or below 0, mm/gup.c try_grab_folio(), "
                                       "as after more unpins than pins (or out of memory)") for n in split)
    huge = {n for n in got if "/thp/" in n or "/hugetlb/" in n}
    assert {n for n in huge if n in failed} == {n for n in huge if _one_run(lines, n)}
    assert len(huge & failed) == 7
    assert not {n for n in got if "/anon/" in n} & failed
    # the default set's two split-THP cells are among them
    assert set(_strings("ov_quick")) & failed >= {"iommufd/thp-split/overlap-domain-unmap",
                                                  "iommufd/thp-split/overlap-access-detach"}
    # the FOLL_PIN counters cannot tell (a wrong page counts as one page): every step the failed
    # cells got to moved them exactly as on the bare tree
    bare = set((GUEST_LOGS / "pin-matrix-iommufd-overlap-baseline-6.12-tcg.log").read_text().splitlines())
    steps = [line for line in lines if "FOLL_PIN acquired +" in line and line.split(": ", 1)[0][2:] in failed]
    assert len(steps) > 100 and all(line in bare for line in steps)
    assert "# iommufd/thp-split/overlap-domain-unmap: IOAS_UNMAP of A's pages 0-600: FOLL_PIN acquired +0, released " \
        "+403" in steps
