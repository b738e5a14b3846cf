"""scripts/unreached.py: which functions of the profiled files no workload entered, read from
gcov's own function records of a real run (tests/data/coverage/unreached)."""

from __future__ import annotations

import json
from pathlib import Path

from scripts import unreached

DATA = Path(__file__).parent / "data" / "coverage" / "unreached"
SRC = Path("/root/.cache/pinbench/work/slot-1/src")  # the run's source folder, as gcov named it


def table() -> dict:
    return unreached.tabulate({w: json.loads((DATA / f"{w}.json").read_text())
                               for w in ("boot", "mm-selftests", "pin-matrix")}, SRC)


def by_name(path: str) -> dict:
    return {f.name: f for f in table().values() if f.path == path}


def test_statuses_from_the_recorded_run() -> None:
    mremap = by_name("mm/mremap.c")
    assert len(mremap) == 21
    assert mremap["move_huge_pud"].status == "never ran"  # no PUD-sized THP here
    assert mremap["move_page_tables"].workloads == ["mm-selftests", "pin-matrix"]
    secret = by_name("mm/secretmem.c")
    assert secret["secretmem_init"].status == "boot only"
    assert secret["secretmem_active"].status == "never ran"
    assert secret["secretmem_fault"].status == "ran"


def test_counts_are_summed_per_window_and_kept_apart() -> None:
    fault = by_name("mm/secretmem.c")["secretmem_fault"]
    assert set(fault.entries) == {"boot", "mm-selftests", "pin-matrix"}
    assert fault.entries["boot"] == 0 and fault.entries["pin-matrix"] > 0


def test_markdown_counts_and_lists_what_did_not_run() -> None:
    out = unreached.render(table(), "md", [])
    assert "| mm/mremap.c | 21 | 20 | 0 | 1 |" in out
    assert "mm/mremap.c: move_huge_pud:372" in out
    line = next(x for x in out if x.startswith("mm/secretmem.c: "))
    assert "secretmem_init:370 (boot)" in line and "secretmem_active:47" in line
    assert "secretmem_fault" not in line


def test_tsv_has_a_column_per_window_and_headers_need_asking() -> None:
    out = unreached.render(table(), "tsv", [])
    assert out[0].split("\t") == ["path", "function", "line", "status", "boot", "mm-selftests", "pin-matrix"]
    assert all(row.split("\t")[0].endswith(".c") for row in out[1:])
    only = unreached.render(table(), "tsv", ["mm/secretmem.c"])
    assert {row.split("\t")[0] for row in only[1:]} == {"mm/secretmem.c"}


def test_a_source_outside_the_tree_is_not_counted() -> None:
    doc = json.loads((DATA / "boot.json").read_text())[0]
    moved = {**doc, "files": [{**doc["files"][0], "file": "/elsewhere/mm/secretmem.c"}]}
    assert unreached.tabulate({"boot": [moved]}, SRC) == {}
