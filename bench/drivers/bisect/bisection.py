"""One bisection: its folder, journal and ends, one step (N runs of one kernel), the result.

Every step is a whole `pipeline.run` under the series' own name, so all steps share one
work slot: one incremental build dir, warm ccache. Each step's run folder lands in the
bisect's folder next to bisect.log (one line a step), steps.jsonl (the same, for machines
and for the parent of `git bisect run`), summary.json and junit.xml."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.base import rundir
from bench.drivers.bisect.export import write_results
from bench.drivers.bisect.journal import Journal, Step, step_name
from bench.run import pipeline
from bench.drivers.bisect.judge import (
    Evidence,
    Outcome,
    Signature,
    Verdict,
    classify,
    decide,
    evidence_of,
    exact,
    failing_keys,
    setup_failed,
    shown,
    signature_workloads,
)
from bench.drivers.bisect.model import BisectResult, Conclusion, Culprit, Options
from bench.run.plan import Plan
from bench.run.printer import Printer
from bench.run.result import RunResult
from bench.run.sweep import Sweep


class Aborted(Exception):
    """A step could not be run at all (infrastructure): the bisection stops."""

    def __init__(self, step: Step) -> None:
        super().__init__(step.reason)
        self.step = step


def run_step(plan: Plan, printer: Printer, *, sweep: Sweep, signature: Signature | None, repeat: int,
             seq: int, label: str, run_id: str) -> Step:
    """Run plan up to `repeat` times in the sweep's folder (run ids run_id, run_id-r2, ...) and judge it."""
    outcomes: list[tuple[Outcome, str]] = []
    runs: list[str] = []
    failing: set[str] = set()
    evidence: tuple[Evidence, ...] = ()
    commit, secs, builds = "", 0.0, 0
    for r in range(1, repeat + 1):
        rid = run_id if repeat == 1 else rundir.again(run_id, r)
        result = sweep.run(plan, rid, printer)
        runs.append(result.run_id)  # the id the run claimed (rid, or rid-2 on a clash)
        secs += result.secs
        builds += made_a_build(result)
        commit = result.facts.head or result.facts.base or commit
        outcome = classify(result, signature)
        outcomes.append(outcome)
        failing |= failing_keys(result)
        if outcome[0] is Outcome.REPRODUCED and not evidence:
            evidence = evidence_of(result, signature)
        if outcome[0] is Outcome.INFRA or setup_failed(result):
            break
    verdict, reason = decide(outcomes)
    return Step(seq, label, commit, len(plan.series.patches), verdict, reason, secs,
                sum(o is Outcome.REPRODUCED for o, _ in outcomes), tuple(runs),
                tuple(sorted(failing)), evidence, builds)


def report_workloads(run_dir: Path) -> dict[str, str | None] | None:
    """Title -> the workload each report of a run was seen in (its reports.json)."""
    try:
        found = json.loads((run_dir / rundir.REPORTS).read_text())
        return {str(r["title"]): r.get("workload") for r in found}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def made_a_build(result: RunResult) -> bool:
    """make ran in this run (it got to the build stage and did not reuse the slot's image)."""
    return any(c.group == "build" and not c.reused for c in result.cases)


class Bisection:
    """Shared by both modes: the folder, the journal, the ends, and the final files."""

    def __init__(self, plan: Plan, printer: Printer, opts: Options, mode: str) -> None:
        self.plan, self.printer, self.opts, self.mode = plan, printer, opts, mode
        self.sweep = Sweep.new(plan.results_root, f"bisect-{plan.series.name}", pipeline.run)
        self.run_id, self.dir = self.sweep.dir.name, self.sweep.dir
        self.journal = Journal(self.dir)
        self.signature: Signature | None = opts.signature
        self.workloads: tuple[str, ...] | None = None  # the steps' workloads, once the signature is known
        self.start = time.monotonic()
        self.info: dict[str, Any] = {"mode": mode, "series": plan.series.name, "tree": str(plan.tree),
                                     "repeat": opts.repeat, "check": opts.check}

    def say(self, text: str) -> None:
        self.printer.say(f"bisect: {text}")

    def step(self, plan: Plan, label: str) -> Step:
        """One step in this process, journalled; Aborted if it could not be run."""
        seq = self.journal.next_seq()
        name = step_name(seq, label)
        plan = replace(plan, extra_info={**plan.extra_info, "bisect": self.run_id, "bisect_step": label})
        if self.workloads is not None:
            plan = replace(plan, workloads=tuple(w for w in plan.workloads if w.name in self.workloads))
        self.say(f"step {seq}: {label}")
        step = run_step(plan, self.printer, sweep=self.sweep, signature=self.signature, repeat=self.opts.repeat,
                        seq=seq, label=label, run_id=name)
        self.journal.add(step)
        self.say(f"step {seq}: {label} is {step.verdict.value.upper()} ({step.reason}) in {step.secs:.0f}s")
        if step.verdict is Verdict.ABORT:
            raise Aborted(step)
        return step

    def check_ends(self, bad: tuple[Plan, str], good: tuple[Plan, str]) -> BisectResult | None:
        """Run the bad end (it sets the signature) and check the good one; a result ends it."""
        if self.signature is None or self.opts.check:
            tip = self.step(*bad)
            if tip.verdict is not Verdict.BAD:
                return self.finish(Conclusion.NOT_REPRODUCIBLE,
                                   f"the bad end ({tip.label}) does not reproduce: {tip.reason}")
            self.signature = self.signature or exact(tip.failing)
            seen = report_workloads(self.dir / tip.runs[0])
        else:
            self.say("bad end assumed bad (--signature without --check)")
            seen = None
        assert self.signature is not None
        self.journal.note(f"signature: {', '.join(shown(self.signature))}")
        self.say(f"signature: {', '.join(shown(self.signature))}")
        if not self.opts.all_workloads:
            self.workloads = signature_workloads(self.signature, seen, [(w.name, w.last) for w in bad[0].workloads])
        if self.workloads is not None:
            self.journal.note(f"steps run the signature's workloads: {', '.join(self.workloads)}")
            self.say(f"steps run only the workloads the signature needs: {', '.join(self.workloads)}")
        if self.opts.check:
            base = self.step(*good)
            if base.verdict is Verdict.BAD:
                return self.finish(Conclusion.BASE_FAILS,
                                   f"the good end ({base.label}) already reproduces: {base.reason}")
            if base.verdict is Verdict.SKIP:
                self.say(f"good end could not be checked ({base.reason}): assumed good")
        return None

    def finish(self, conclusion: Conclusion, message: str, culprit: Culprit | None = None,
               candidates: Sequence[str] = ()) -> BisectResult:
        result = BisectResult(
            self.run_id, self.mode, self.plan.series.name, self.dir, conclusion, message,
            tuple(shown(self.signature)), tuple(self.journal.steps()), culprit,
            tuple(candidates), time.monotonic() - self.start, dict(self.info))
        self.journal.note(f"{conclusion.value}: {message}")
        write_results(result)
        return result

    def good_end_fails(self, good: tuple[Plan, str]) -> BisectResult | None:
        """Before blaming the first patch or commit: does the unchecked good end fail too?"""
        if self.opts.check:
            return None  # check_ends ran it already
        self.say("the first bad is the first after the good end: checking the good end once")
        base = self.step(*good)
        if base.verdict is Verdict.BAD:
            return self.finish(Conclusion.BASE_FAILS,
                               f"the good end ({base.label}) already reproduces: {base.reason}")
        return None

    def stopped(self, why: str) -> None:
        """Stopped by Ctrl-C or an error (Sweep.stopping): the steps so far, concluded INFRA."""
        self.finish(Conclusion.INFRA, why)

    def aborted(self, e: Aborted) -> BisectResult:
        return self.finish(Conclusion.INFRA, f"step {e.step.seq} ({e.step.label}): {e.step.reason}")
