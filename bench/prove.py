"""`bench prove`: run the bug catalogue and show that the bench catches every bug.

A catalogue is a folder of single-patch series (patches/bugs/<name>/), each bringing back one
realistic bug that upstream fixed (series.yaml `fixes:`) and naming the cases that must fail
when the bench works (`catch:`: workload/NAME, report, report/TITLE-REGEX). First the control,
the tree as it is with the same workloads, must pass: a bench that fails a clean kernel proves
nothing by failing a buggy one. Then each bug: caught when its run fails in one of its catch
cases. Every run is an ordinary `bench run` in the prove folder; they share a work slot (same
configuration), so each bug costs its incremental build and its boot.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import junit, pipeline, series
from bench.errors import UserError
from bench.files import write_atomic
from bench.plan import Plan, RunRequest, make_plan, new_folder
from bench.printer import Printer
from bench.result import Case, RunResult, Status


class Outcome(str, enum.Enum):
    CAUGHT = "caught"  # failed in a catch case
    OTHER = "other"  # failed, but not in any catch case (a crash elsewhere, a build error...)
    MISSED = "missed"  # passed: the bench did not see the bug
    INFRA = "infra"  # the machine failed: says nothing


@dataclass(frozen=True)
class Verdict:
    name: str
    outcome: Outcome
    expected: tuple[str, ...]  # the catch keys
    failed: tuple[str, ...]  # what failed (case keys)
    fixes: str
    secs: float
    run_id: str


def catalogue(folder: Path) -> list[str]:
    """The bug series of a catalogue folder (their paths, by name)."""
    if not folder.is_dir():
        raise UserError(f"{folder}: no such catalogue folder")
    names = [str(folder / n) for n in series.list_series(folder)]
    if not names:
        raise UserError(f"{folder}: no bug series in it (want <name>/ folders with a patch and series.yaml)")
    return names


def check_bug(s: series.Series) -> None:
    """A catalogue entry must say what it brings back and what must catch it."""
    where = s.source / "series.yaml"
    if len(s.patches) != 1:
        raise UserError(f"{s.source}: a catalogue bug is one patch, not {len(s.patches)}")
    if not s.meta.fixes:
        raise UserError(f"{where}: fixes: missing (the upstream fix this bug undoes)")
    if not s.meta.catch:
        raise UserError(f"{where}: catch: missing (the cases that must fail)")


def failed_keys(result: RunResult) -> tuple[str, ...]:
    return tuple(f"{c.group}/{c.name}" for c in result.cases if c.status is Status.FAIL)


def judge(result: RunResult, catch: Sequence[str]) -> Outcome:
    if any(c.group == "infra" for c in result.cases) or (result.verdict is Status.ERROR):
        return Outcome.INFRA
    failed = failed_keys(result)
    if not failed:
        return Outcome.MISSED
    for key in catch:
        group, _, name = key.partition("/")
        for f in failed:
            fgroup, _, fname = f.partition("/")
            if (key == "report" and fgroup == "report") or f == key \
                    or (group == "report" and fgroup == "report" and name and re.search(name, fname)):
                return Outcome.CAUGHT
    return Outcome.OTHER


def _run(plan: Plan, printer: Printer, run_id: str) -> RunResult:
    return pipeline.run(dataclasses.replace(plan, run_id=run_id), printer)


def plans(request: RunRequest, home: Path, folder: Path, only: Sequence[str] = ()) -> list[Plan]:
    """Every bug of the catalogue (or those named in `only`), planned and checked before any run."""
    bugs = [make_plan(dataclasses.replace(request, series=spec, run_id="-"), home) for spec in catalogue(folder)]
    if unknown := sorted(set(only) - {b.series.name for b in bugs}):
        raise UserError(f"{folder}: no bug named {unknown[0]} (known: {', '.join(b.series.name for b in bugs)})")
    bugs = [b for b in bugs if not only or b.series.name in only]
    for b in bugs:
        check_bug(b.series)
    return bugs


def prove(request: RunRequest, home: Path, bugs: Sequence[Plan], printer: Printer
          ) -> tuple[RunResult, list[Verdict], Path]:
    """The control run, then every bug; the prove folder with its files."""
    root = bugs[0].results_root
    out = root / new_folder(root, "prove")
    workloads = tuple(dict.fromkeys(w.name for b in bugs for w in b.workloads))
    kconfigs = tuple(dict.fromkeys(k for b in bugs for k in b.series.kconfigs))
    control = make_plan(dataclasses.replace(request, series="", workloads=request.workloads or workloads,
                                            kconfigs=(*kconfigs, *request.kconfigs), results=out,
                                            run_id="00-control"), home)
    printer.say(f"prove: control (the tree as it is) then {len(bugs)} bug(s), into {out}")
    base = _run(control, printer.nested("control: "), "00-control")
    verdicts: list[Verdict] = []
    for i, bug in enumerate(bugs, 1):
        run_id = f"{i:02d}-{bug.series.name}"
        printer.say(f"prove: [{i}/{len(bugs)}] {bug.series.name}: must fail {', '.join(bug.series.meta.catch)}")
        result = _run(dataclasses.replace(bug, results_root=out), printer.nested(f"{bug.series.name}: "), run_id)
        outcome = judge(result, bug.series.meta.catch)
        verdicts.append(Verdict(bug.series.name, outcome, bug.series.meta.catch, failed_keys(result),
                                bug.series.meta.fixes, result.secs, run_id))
        printer.say(f"prove: {bug.series.name}: {outcome.value.upper()} ({', '.join(failed_keys(result)) or 'nothing failed'})")
    write_results(out, base, verdicts)
    return base, verdicts, out


def exit_code(control: RunResult, verdicts: Sequence[Verdict]) -> int:
    """0: the control passed and every bug was caught; 2: the machine failed; else 1."""
    if control.verdict is Status.ERROR or any(v.outcome is Outcome.INFRA for v in verdicts):
        return 2
    ok = control.verdict is Status.PASS and all(v.outcome is Outcome.CAUGHT for v in verdicts)
    return 0 if ok else 1


def cases(control: RunResult, verdicts: Sequence[Verdict]) -> tuple[Case, ...]:
    status = {Outcome.CAUGHT: Status.PASS, Outcome.OTHER: Status.FAIL, Outcome.MISSED: Status.FAIL,
              Outcome.INFRA: Status.ERROR}
    first = Case("prove", "control", control.verdict, control.secs,
                 "the tree as it is passes" if control.verdict is Status.PASS else
                 f"the tree as it is does not pass: {', '.join(failed_keys(control)) or control.verdict.value}")
    return (first, *(Case("prove", v.name, status[v.outcome], v.secs,
                          f"{v.outcome.value}: must fail {', '.join(v.expected)}; failed: {', '.join(v.failed) or 'nothing'}",
                          f"fixes: {v.fixes}\nrun: {v.run_id}") for v in verdicts))


def write_results(out: Path, control: RunResult, verdicts: Sequence[Verdict]) -> None:
    caught = sum(v.outcome is Outcome.CAUGHT for v in verdicts)
    result = RunResult(out.name, "prove", out, cases(control, verdicts), control.secs + sum(v.secs for v in verdicts),
                       {"caught": caught, "bugs": len(verdicts)})
    data: dict[str, Any] = {**result.to_json(), "exit_code": exit_code(control, verdicts),
                            "control": control.verdict.value, "caught": caught, "bugs": len(verdicts),
                            "verdicts": [{**dataclasses.asdict(v), "outcome": v.outcome.value} for v in verdicts],
                            "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
    write_atomic(out / "summary.json", json.dumps(data, indent=2) + "\n")
    junit.write(result, out / "junit.xml")
