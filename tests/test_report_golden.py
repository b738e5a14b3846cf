"""Every field of every report the scanner finds in the console fixtures, against a recording.

tests/data/console/golden.json holds the full output (all Report fields, raw lines included) of
scan() over each fixture, over each fixture with its printk prefixes stripped, and over all
fixtures concatenated into one log (reports interacting across logs, as in
benchmarks/scan_speed.py). It guards speed work on the scanner: an optimisation must give
exactly the same reports. A deliberate change of output (a new fixture, a title rule) is
recorded again with

    python3 tests/test_report_golden.py --write

and the diff of golden.json shows every report it changed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from functools import cache
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report.scanner import scan, strip_prefix

CONSOLE = Path(__file__).parent / "data" / "console"
GOLDEN = CONSOLE / "golden.json"
ALL = "(all fixtures concatenated)"


def _body(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#@ ")]


def _inputs() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    paths = sorted(CONSOLE.glob("**/*.log"))
    for path in paths:
        name = str(path.relative_to(CONSOLE))
        out[name] = _body(path)
        out[name + " (bare)"] = [strip_prefix(line)[0] for line in out[name]]
    out[ALL] = [line for path in paths for line in _body(path)]
    return out


def record(lines: list[str]) -> list[dict[str, object]]:
    return [dataclasses.asdict(r) for r in scan(lines)]


@cache
def _load() -> dict[str, list[dict[str, object]]]:
    # JSON has lists where Report has tuples: compare through a JSON round trip
    return json.loads(GOLDEN.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


INPUTS = _inputs()


def test_golden_covers_every_fixture() -> None:
    assert sorted(_load()) == sorted(INPUTS), "fixtures changed: record again (see the docstring)"


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_reports_match_the_recording(name: str) -> None:
    want = _load().get(name)
    assert want is not None, f"{name} is not recorded: record again (see the docstring)"
    got = json.loads(json.dumps(record(INPUTS[name])))
    assert [r["title"] for r in got] == [r["title"] for r in want]
    assert got == want


def main() -> int:
    ap = argparse.ArgumentParser(description="record the scanner's output over the fixtures")
    ap.add_argument("--write", action="store_true", help=f"write {GOLDEN.name}")
    args = ap.parse_args()
    data = {name: record(lines) for name, lines in sorted(INPUTS.items())}
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    if args.write:
        GOLDEN.write_text(text, encoding="utf-8")
    print(f"{len(data)} inputs, {sum(len(v) for v in data.values())} reports, {len(text) / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
