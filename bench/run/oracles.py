"""Oracles beyond the workloads' own: taint flags no kernel report explains, and a series'
`expect:` items (a report that must appear, a /proc/vmstat counter that must grow), checked
against the unpatched base too. Pure, like bench/run/cases.py: data in, Cases out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from bench.base import files, rundir
from bench.base.limits import LIMITS
from bench.report import taint
from bench.report.scanner import Report
from bench.run.cases import Span, blame, with_reports
from bench.run.result import Case, Status
from bench.run.series_yaml import Expect


def _read(path: Path) -> str:
    return files.read_guest(path, LIMITS.guest_file) or ""  # the guest wrote it: bounded, no FIFO or link


def taint_cases(names: Sequence[str], guest_dir: Path, reports: Sequence[Report],
                where: dict[str, Span]) -> list[Case]:
    """Problem taint flags (W, D, B, L, M) that no kernel report found accounts for.

    Per workload (<name>.tainted.start|end): a flag set during it that no report blamed on it
    explains fails taint/<name>. The whole run, from boot (the kernel starts untainted) to the
    last reading (tainted.end, or the latest of any if the guest did not finish): a flag no
    report at all explains and no workload already failed for fails taint/run, so taint set
    during boot, between workloads or after the last one is checked too."""
    cases: list[Case] = []
    failed: set[str] = set()
    readings: list[int] = []
    for name in names:
        start = taint.parse_mask(_read(guest_dir / rundir.of_workload(name, rundir.TAINTED_START)))
        end = taint.parse_mask(_read(guest_dir / rundir.of_workload(name, rundir.TAINTED_END)))
        readings += [m for m in (start, end) if m is not None]
        if start is None or end is None:
            continue
        mine = [r for r in reports if blame(r.first_line, where) == name]
        if unexplained := taint.new_problems(start, end) - taint.explained_taint(mine):
            failed |= unexplained
            cases.append(_taint_case(name, f"during {name}", unexplained, start, end, mine))
    first = taint.parse_mask(_read(guest_dir / rundir.TAINTED_START))
    last = taint.parse_mask(_read(guest_dir / rundir.TAINTED_END))
    readings += [m for m in (first, last) if m is not None]
    if not readings:
        return cases
    run_end = 0
    for mask in readings:  # taint flags are sticky: the union is the latest state
        run_end |= mask
    if unexplained := taint.new_problems(0, run_end) - taint.explained_taint(reports) - failed:
        at_boot = first is not None and unexplained <= set(taint.letters(first))
        during = ("during boot, before the workloads" if at_boot else
                  "outside the workloads (boot, between them or after the last)" if any(
                      (guest_dir / rundir.of_workload(n, rundir.TAINTED_END)).is_file() for n in names)
                  else "during the run")
        cases.append(_taint_case("run", during, unexplained, 0, run_end, reports))
    return cases


def _taint_case(name: str, during: str, flags: frozenset[str], start: int, end: int,
                reports: Sequence[Report]) -> Case:
    return with_reports(Case("taint", name, Status.FAIL, 0.0,
                             f"unexplained taint {taint.order(flags)} {during}: the kernel flagged a problem"
                             " but no kernel report was found (see console.log)",
                             f"tainted before: {taint.letters(start) or '-'}, after: {taint.letters(end)}"),
                        [r.title for r in reports])


def vmstat(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and (n := files.guest_int(parts[1])) is not None:
            out[parts[0]] = n
    return out


def expect_met(e: Expect, titles: Sequence[str], guest_dir: Path) -> tuple[bool | None, str]:
    """Did this boot do what the series said it would? (met, what was seen); met is None when
    the guest's readings cannot tell (no vmstat reading at guest start or end)."""
    if e.kind == "report":
        hits = [t for t in titles if re.search(e.what, t)]
        return bool(hits), f"found: {hits[0]}" if hits else "no such report"
    start, end = vmstat(_read(guest_dir / f"{rundir.VMSTAT}.start")), vmstat(_read(guest_dir / f"{rundir.VMSTAT}.end"))
    if not start or not end:  # a missing start read as 0: the counter's whole value was "growth"
        which = " and ".join(n for n, got in (("start", start), ("end", end)) if not got)
        return None, f"no /proc/vmstat reading at guest {which} ({rundir.VMSTAT}.{which.split()[0]} missing or empty)"
    if e.what not in end:
        return False, f"{e.what} is not in /proc/vmstat (this kernel has no such counter)"
    if e.what not in start:
        return None, f"{e.what} is in the reading at guest end but not in the one at guest start"
    grew = end[e.what] - start[e.what]
    return grew >= e.min, f"{e.what} grew by {grew}"


def expect_cases(expects: Sequence[Expect], titles: Sequence[str], guest_dir: Path,
                 base: tuple[Sequence[str], Path] | None) -> list[Case]:
    """A case per expectation; with the unpatched base's titles and guest folder, one the base
    meets too is a failure: the series did not make it happen (checked in both directions).
    One the readings cannot tell (either side) is an ERROR, never a PASS."""
    cases = []
    for e in expects:
        met, seen = expect_met(e, titles, guest_dir)
        if met is None:
            cases.append(Case("expect", str(e), Status.ERROR, 0.0, f"cannot tell: {seen}"))
            continue
        if not met:
            cases.append(Case("expect", str(e), Status.FAIL, 0.0, f"did not happen: {seen}"))
            continue
        if base is not None:
            base_met, base_seen = expect_met(e, *base)
            if base_met is None:
                cases.append(Case("expect", str(e), Status.ERROR, 0.0,
                                  f"{seen}; cannot tell whether the unpatched base does it too: {base_seen}"))
                continue
            if base_met:
                cases.append(Case("expect", str(e), Status.FAIL, 0.0,
                                  f"the unpatched base does it too ({base_seen}): not the series' doing"))
                continue
            seen += f"; the unpatched base does not ({base_seen})"
        cases.append(Case("expect", str(e), Status.PASS, 0.0, seen))
    return cases
