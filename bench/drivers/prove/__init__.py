"""`bench prove`: run the bug catalogue and show that the bench catches every bug.

A catalogue is a folder of single-patch series (patches/bugs/<name>/), each bringing back one
realistic bug that upstream fixed (series.yaml `fixes:`) and naming the cases that must fail
when the bench works (`catch:`, bench/run/catch.py: workload/NAME or report/TITLE-REGEX, each with
an optional message regex). First the control, the tree as it is with the same workloads, must
pass: a bench that fails a clean kernel proves nothing by failing a buggy one. Then each bug:
caught when its run fails in every one of its catch cases and the control failed none of them.
Every run is an ordinary `bench run` in the prove folder; they share a work slot (same
configuration), so each bug costs its incremental build and its boot. With --repeat N each
bug's kernel runs N times and its catch rate is printed. A proof that was stopped is finished
with `resume` (bench prove --resume DIR): runs that finished are read back, the rest run
(state.py keeps what it started with and refuses a bench or tree that changed).

A catalogue also holds controls (series.yaml `control: true`): harmless refactors of the code
the bugs touch, judged the other way round. A control is HELD when its run passes and a FALSE
ALARM when any case fails: the bench, not the patch, is then wrong, and the proof fails (exit
1, like a control run that fails: prove's 1 says "the bench did not prove itself"; 2 stays for
a machine that could not decide). "caught N of M" counts bugs only; controls get their own line.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.base import rundir
from bench.drivers.prove import state as prove_state
from bench.base.errors import InfraError, UserError
from bench.base.files import write_atomic
from bench.run import junit, pipeline, rates, series
from bench.run.catch import Catch, check_workloads, failures, hits, passed
from bench.run.coverage import objects, reach, stage
from bench.run.plan import Plan, RunRequest, make_plan
from bench.run.printer import Printer
from bench.run.result import Case, RunResult, Status
from bench.run.runfacts import RunFacts
from bench.run.sweep import Sweep

CONTROL = rundir.sub_name("control", 0)  # the control run's folder: 00-control


class Outcome(str, enum.Enum):
    CAUGHT = "caught"  # failed in every catch case (with its message); the control in none
    PARTIAL = "partial"  # failed in some catch cases, not all
    UNPROVEN = "unproven"  # every catch case failed, but the control did not run and pass them all
    OTHER = "other"  # failed, but not in any catch case (a crash elsewhere, a build error...)
    MISSED = "missed"  # passed: the bench did not see the bug
    INFRA = "infra"  # the machine failed: says nothing
    HELD = "held"  # a control (a harmless refactor) passed: the bench did not cry wolf
    FALSE_ALARM = "false-alarm"  # a control failed: the bench blamed a behaviour-preserving patch


@dataclass(frozen=True)
class Verdict:
    name: str
    outcome: Outcome
    expected: tuple[str, ...]  # the catch keys
    failed: tuple[str, ...]  # what failed (case keys)
    fixes: str
    secs: float
    run_id: str
    failures: tuple[tuple[str, str], ...] = ()  # (case, first line of its message) of what failed
    caught_runs: int = 0  # with --repeat: runs that caught it ...
    decided_runs: int = 0  # ... of the runs that decided anything (not infrastructure)
    reach: str = ""  # whether its hunks ran in the control (coverage/reach.py), "" unmeasured
    control: bool = False  # a catalogue control (series.yaml control: true), not a bug

    def line(self) -> str:
        """One line: outcome, the catch rate of repeated runs, what failed with its message."""
        rate = f" in {self.caught_runs} of {self.decided_runs} runs" if self.decided_runs > 1 else ""
        failed = "; ".join(f"{k}: {m}" if m else k for k, m in self.failures) or "nothing failed"
        return f"{self.name}: {self.outcome.value.upper()}{rate}: {failed}"


def catalogue(folder: Path) -> list[str]:
    """The bug series of a catalogue folder (their paths, by name)."""
    if not folder.is_dir():
        raise UserError(f"{folder}: no such catalogue folder")
    names = [str(folder / n) for n in series.list_series(folder)]
    if not names:
        raise UserError(f"{folder}: no bug series in it (want <name>/ folders with a patch and series.yaml)")
    return names


def check_bug(s: series.Series, workloads: Sequence[str] = ()) -> None:
    """A catalogue entry must say what it brings back and what must catch it, in cases its
    workloads run (checked before any build: a catch no run can fail would say "missed").
    A control says neither: it brings back nothing, and every case must pass."""
    where = s.source / "series.yaml"
    kind = "control" if s.meta.control else "bug"
    if len(s.patches) != 1:
        raise UserError(f"{s.source}: a catalogue {kind} is one patch, not {len(s.patches)}")
    if s.meta.control:
        if s.meta.catch or s.meta.fixes:
            raise UserError(f"{where}: a control (control: true) has no {'catch' if s.meta.catch else 'fixes'}:"
                            " it is a harmless refactor whose run must pass")
        return
    if not s.meta.fixes:
        raise UserError(f"{where}: fixes: missing (the upstream fix this bug undoes)")
    if not s.meta.catch:
        raise UserError(f"{where}: catch: missing (the cases that must fail)")
    check_workloads(s.meta.catch, workloads)


def failed_keys(result: RunResult) -> tuple[str, ...]:
    return tuple(c.key for c in result.cases if c.status is Status.FAIL)


def judge(result: RunResult, catches: Sequence[Catch], control: RunResult | None = None) -> Outcome:
    if any(c.group == "infra" for c in result.cases) or (result.verdict is Status.ERROR):
        return Outcome.INFRA
    got = hits(result, catches)
    if catches and len(got) == len(catches):
        proven = control is None or all(passed(control, c) for c in catches)  # None: a night's catalogue entry
        return Outcome.CAUGHT if proven else Outcome.UNPROVEN
    if got:
        return Outcome.PARTIAL
    return Outcome.OTHER if failed_keys(result) else Outcome.MISSED


def judge_control(result: RunResult) -> Outcome:
    """A control's run: HELD when it passes, FALSE_ALARM when any case fails."""
    if any(c.group == "infra" for c in result.cases) or (result.verdict is Status.ERROR):
        return Outcome.INFRA
    return Outcome.FALSE_ALARM if failed_keys(result) else Outcome.HELD


def plans(request: RunRequest, home: Path, folder: Path, only: Sequence[str] = ()) -> list[Plan]:
    """Every bug of the catalogue (or those named in `only`), planned and checked before any run."""
    bugs = [make_plan(dataclasses.replace(request, series=spec), home) for spec in catalogue(folder)]
    if unknown := sorted(set(only) - {b.series.name for b in bugs}):
        raise UserError(f"{folder}: no bug named {unknown[0]} (known: {', '.join(b.series.name for b in bugs)})")
    bugs = [b for b in bugs if not only or b.series.name in only]
    for b in bugs:
        check_bug(b.series, [w.name for w in b.workloads])
    return bugs


def bug_objects(bugs: Sequence[Plan]) -> tuple[str, ...]:
    """The objects of the C files the bugs change: what the control profiles to tell whether
    each bug's hunks ran (a header's hunks are counted inside these objects, if they use it)."""
    paths = {h.path for b in bugs for p in b.series.patches for h in reach.pre_image_hunks(p.text)}
    return tuple(sorted(objects.object_of(p) for p in paths if p.endswith(objects.C_SUFFIXES)))


def bug_reach(bug: Plan, control: RunResult, outcome: Outcome) -> str:
    """Whether the bug's hunks ran in the control ("" when the control measured nothing)."""
    if not control.results_dir.joinpath(stage.COUNTS).is_file():
        return ""
    try:
        windows, unmeasured = stage.read_counts(control.results_dir)
    except InfraError as e:
        return f"reach: not measured ({e})"
    hunks = [h for p in bug.series.patches for h in reach.pre_image_hunks(p.text)]
    reached = reach.reach(hunks, windows, unmeasured)
    said = reach.judgement(reached, outcome is Outcome.MISSED)
    measured = [r for r in reached if r.status != "not measured"]
    if bug.series.meta.control and measured and not any(r.status == "ran" for r in measured):
        return f"{said}: no workload ran its code, so its pass shows little"  # a control must run to count
    return said


def prove(request: RunRequest, home: Path, bugs: Sequence[Plan], printer: Printer, runs: int = 1,
          measure_reach: bool = True, catalogue: Path | None = None,
          resume: Path | None = None) -> tuple[RunResult, list[Verdict], Path]:
    """The control run, then every bug (each `runs` times); the prove folder with its files.
    measure_reach: the control profiles the bugs' files (gcov), so each verdict says whether
    the bug's hunks ran at all. catalogue: recorded so that the proof can be resumed; resume:
    an earlier proof's folder (prove/state.py's check_same already passed) whose finished runs are kept."""
    sweep = (Sweep.reopen(resume, pipeline.run) if resume is not None
             else Sweep.new(bugs[0].results_root, "prove", pipeline.run))
    with sweep.held():  # before prove.json: no --resume of it while this runs
        if resume is None and catalogue is not None:
            prove_state.write(sweep.dir, request, prove_state.Started(
                catalogue, tuple(b.series.name for b in bugs), runs, measure_reach,
                prove_state.inputs_digest(home, catalogue, bugs), prove_state.bases(bugs)))
        return _prove(sweep, request, home, bugs, printer, runs, measure_reach, resume is not None)


def _prove(sweep: Sweep, request: RunRequest, home: Path, bugs: Sequence[Plan], printer: Printer, runs: int,
           measure_reach: bool, resumed: bool) -> tuple[RunResult, list[Verdict], Path]:
    out = sweep.dir
    workloads = tuple(dict.fromkeys(w.name for b in bugs for w in b.workloads))
    kconfigs = tuple(dict.fromkeys(k for b in bugs for k in b.series.kconfigs))
    profiled = tuple(dict.fromkeys((*request.coverage_objects, *bug_objects(bugs)))) if measure_reach else ()
    control = make_plan(dataclasses.replace(request, series="", workloads=request.workloads or workloads,
                                            kconfigs=(*kconfigs, *request.kconfigs), results=out,
                                            coverage=bool(profiled),
                                            coverage_objects=profiled or request.coverage_objects), home)
    n_controls = sum(b.series.meta.control for b in bugs)
    also = f" and {n_controls} control(s) (harmless refactors)" if n_controls else ""
    again = " (resumed: finished runs are read back)" if resumed else ""
    printer.say(f"prove: control (the tree as it is) then {len(bugs) - n_controls} bug(s){also}, into {out}{again}")
    base: RunResult | None = None
    verdicts: list[Verdict] = []

    def stopped(why: str) -> None:  # the prove folder still says what was proven so far
        stop = Case("infra", "interrupted", Status.ERROR, 0.0, why)
        write_results(out, base or RunResult(CONTROL, "", out / CONTROL, (stop,), 0.0), verdicts)

    with sweep.stopping(stopped):
        base = sweep.run(control, CONTROL, printer.nested("control: "))
        for i, bug in enumerate(bugs, 1):
            must = ("must pass (a control)" if bug.series.meta.control else
                    f"must fail {', '.join(map(str, bug.series.meta.catch))}")
            printer.say(f"prove: [{i}/{len(bugs)}] {bug.series.name}: {must}")
            same = profiled if bug.coverage else bug.coverage_objects  # the control's objects: its build reused
            v = prove_bug(dataclasses.replace(bug, coverage_objects=same), sweep,
                          rundir.sub_name(bug.series.name, i), base, runs, printer)
            verdicts.append(v)
            printer.say(f"prove: {v.line()}")
    assert base is not None  # the control ran: the sweep was not stopped
    write_results(out, base, verdicts)
    return base, verdicts, out


def prove_bug(bug: Plan, sweep: Sweep, run_id: str, control: RunResult, runs: int, printer: Printer) -> Verdict:
    """The bug's kernel run `runs` times (a setup failure is not repeated); its Verdict: the
    worst outcome of the runs that decided anything, and how many of them caught it (for a
    control: how many passed)."""
    catches, is_control = bug.series.meta.catch, bug.series.meta.control
    good = Outcome.HELD if is_control else Outcome.CAUGHT
    results: list[RunResult] = []
    for k in range(1, runs + 1):
        rid = run_id if runs == 1 else rundir.again(run_id, k)
        results.append(sweep.run(bug, rid, printer.nested(f"{bug.series.name}{'' if runs == 1 else f' r{k}'}: ")))
        if any(c.group in rates.DETERMINISTIC and c.status is Status.FAIL for c in results[-1].cases):
            break
    outcomes = [judge_control(r) if is_control else judge(r, catches, control) for r in results]
    decided = [o for o in outcomes if o is not Outcome.INFRA]
    outcome = next((o for o in decided if o is not good), good if decided else Outcome.INFRA)
    shown = results[outcomes.index(outcome)]
    return Verdict(bug.series.name, outcome, tuple(map(str, catches)), failed_keys(shown), bug.series.meta.fixes,
                   sum(r.secs for r in results), shown.run_id, failures(shown),
                   sum(o is good for o in outcomes), len(decided), bug_reach(bug, control, outcome), is_control)


def exit_code(control: RunResult, verdicts: Sequence[Verdict]) -> int:
    """0: the control passed, every bug was caught and every catalogue control held; 2: the
    machine failed; else 1 (a bug missed, or the bench failed a kernel it should pass)."""
    if control.verdict is Status.ERROR or any(v.outcome is Outcome.INFRA for v in verdicts):
        return 2
    ok = control.verdict is Status.PASS and all(v.outcome is (Outcome.HELD if v.control else Outcome.CAUGHT)
                                                for v in verdicts)
    return 0 if ok else 1


def _bugs(verdicts: Sequence[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if not v.control]


def _controls(verdicts: Sequence[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if v.control]


def _must(v: Verdict) -> str:
    return "must pass (a control)" if v.control else f"must fail {', '.join(v.expected)}"


def cases(control: RunResult, verdicts: Sequence[Verdict]) -> tuple[Case, ...]:
    status = {Outcome.CAUGHT: Status.PASS, Outcome.HELD: Status.PASS, Outcome.INFRA: Status.ERROR}
    first = Case("prove", "control", control.verdict, control.secs,
                 "the tree as it is passes" if control.verdict is Status.PASS else
                 f"the tree as it is does not pass: {', '.join(failed_keys(control)) or control.verdict.value}")
    return (first, *(Case("prove", v.name, status.get(v.outcome, Status.FAIL), v.secs,
                          f"{v.outcome.value}: {_must(v)}; failed: {', '.join(v.failed) or 'nothing'}",
                          "\n".join([v.line(), *([v.reach] if v.reach else []),
                                     *([] if v.control else [f"fixes: {v.fixes}"]), f"run: {v.run_id}"]))
                     for v in verdicts))


def write_results(out: Path, control: RunResult, verdicts: Sequence[Verdict]) -> None:
    caught = sum(v.outcome is Outcome.CAUGHT for v in verdicts)
    bugs, controls = len(_bugs(verdicts)), len(_controls(verdicts))
    held = sum(v.outcome is Outcome.HELD for v in verdicts)
    result = RunResult(out.name, "prove", out, cases(control, verdicts), control.secs + sum(v.secs for v in verdicts),
                       RunFacts(labels={"caught": caught, "bugs": bugs, "held": held, "controls": controls}))
    data: dict[str, Any] = {**result.to_json(), "exit_code": exit_code(control, verdicts),
                            "control": control.verdict.value, "caught": caught, "bugs": bugs,
                            "held": held, "controls": controls,
                            "verdicts": [{**dataclasses.asdict(v), "outcome": v.outcome.value} for v in verdicts],
                            "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
    write_atomic(out / rundir.SUMMARY, json.dumps(data, indent=2) + "\n")
    junit.write(result, out / rundir.JUNIT)


def summary(control: RunResult, verdicts: Sequence[Verdict], folder: Path,
            status: Callable[[Status], str] = lambda s: s.name) -> str:
    """The catch table printed at the end (`status` paints a Status, e.g. Printer.status)."""
    width = max((len(v.name) for v in verdicts), default=4)
    must = max((len(_must(v)) - len("must fail ") for v in verdicts), default=9)
    lines = [f"==== pinbench prove ({folder.name}) ====",
             f"  control (the tree as it is): {status(control.verdict)} in {control.secs:.0f}s",
             f"  {'bug':<{width}}  {'outcome':<8}  {'must fail':<{must}}  {'time':>5}  what failed"]
    lines += [f"  {v.name:<{width}}  {v.outcome.value:<8}  {_must(v).removeprefix('must fail '):<{must}}  "
              f"{v.secs:>4.0f}s  {', '.join(v.failed) or '-'}" for v in verdicts]
    for v in verdicts:  # a line a bug: which cases failed and with what message; where its code ran
        lines += [f"  {v.line()}", *([f"    {v.reach}"] if v.reach else [])]
    bugs, controls = _bugs(verdicts), _controls(verdicts)
    caught = sum(v.outcome is Outcome.CAUGHT for v in bugs)
    if controls:  # harmless refactors: each one failed is the bench's false alarm
        alarms = [v.name for v in controls if v.outcome is Outcome.FALSE_ALARM]
        lines.append(f"controls: {sum(v.outcome is Outcome.HELD for v in controls)} of {len(controls)} passed"
                     + (f"; FALSE ALARM: {', '.join(alarms)}" if alarms else ""))
    if control.verdict is not Status.PASS:  # a bench failing a clean kernel proves nothing
        lines.append(f"no catch figure: the control did not pass; results: {folder}")
    elif bugs or not controls:
        rate = f"{100 * caught / len(bugs):.0f}%" if bugs else "-"
        lines.append(f"caught {caught} of {len(bugs)} ({rate}); results: {folder}")
    else:
        lines.append(f"results: {folder}")
    return "\n".join(lines) + "\n"
