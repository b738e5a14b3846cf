"""A finished bisection as files: summary.json and junit.xml (a testcase per step + "first bad"),
and as the text printed at its end."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from bench.base import rundir
from bench.base.files import write_atomic
from bench.drivers.bisect.journal import Step
from bench.drivers.bisect.judge import Verdict
from bench.drivers.bisect.model import BisectResult, Conclusion
from bench.run import junit
from bench.run.result import Case, RunResult, Status
from bench.run.runfacts import RunFacts

_STEP_STATUS = {Verdict.GOOD: Status.PASS, Verdict.BAD: Status.PASS, Verdict.SKIP: Status.SKIP,
                Verdict.ABORT: Status.ERROR}


def step_case(step: Step) -> Case:
    # A bad step is the bisection working, not a failure of it: only "first bad" fails.
    runs = "\n".join(step.runs)
    return Case("step", f"{step.seq:02d} {step.label}", _STEP_STATUS[step.verdict], step.secs,
                f"{step.verdict.value}: {step.reason}",
                f"{step.verdict.value} ({step.score} reproduced) at {step.commit or '-'}\nruns:\n{runs}")


def first_bad_case(result: BisectResult) -> Case:
    c = result.culprit
    if c is not None:
        sig = ", ".join(result.signature)
        evidence = "\n\n".join(f"== {e.key}: {e.message}\n{e.output}" for e in c.evidence)
        where = f" ({c.commit[:12]})" if c.commit and c.commit != c.name else ""
        return Case("bisect", "first bad", Status.FAIL, result.secs,
                    f"{c.name}{where}: {c.subject} [{sig}]", evidence)
    status = Status.ERROR if result.conclusion is Conclusion.INFRA else Status.SKIP
    return Case("bisect", "first bad", status, result.secs, result.message)


def to_run_result(result: BisectResult) -> RunResult:
    cases = (*(step_case(s) for s in result.steps), first_bad_case(result))
    return RunResult(result.run_id, result.series, result.results_dir, cases, result.secs,
                     RunFacts.from_json({**result.info, "bisect": result.conclusion.value}))


def to_json(result: BisectResult) -> dict[str, Any]:
    base = to_run_result(result).to_json()
    return {**base, "verdict": result.conclusion.value, "exit_code": result.exit_code,
            "bisect": {
                "mode": result.mode,
                "conclusion": result.conclusion.value,
                "message": result.message,
                "signature": list(result.signature),
                "first_bad": asdict(result.culprit) if result.culprit else None,
                "candidates": list(result.candidates),
                "builds": result.builds,
                "runs": result.runs,
                "steps": [s.to_json() for s in result.steps],
            }}


def write_results(result: BisectResult) -> None:
    write_atomic(result.results_dir / rundir.SUMMARY, json.dumps(to_json(result), indent=2, default=str) + "\n")
    junit.write(to_run_result(result), result.results_dir / rundir.JUNIT)


def summary(result: BisectResult) -> str:
    """What the bisection found, step by step, as printed at its end."""
    lines = [f"==== pinbench bisect {result.series} ({result.run_id}) ===="]
    lines += [f"  {step.log_line()}" for step in result.steps]
    lines.append(f"{result.conclusion.value.upper()}: {result.message}")
    if c := result.culprit:
        lines.append(f"  subject:   {c.subject}")
        if c.commit and c.commit != c.name:
            lines.append(f"  commit:    {c.commit}")
        lines.append(f"  signature: {', '.join(result.signature)}")
        lines += [f"  {e.key}: {e.message}" for e in c.evidence]
    lines.append(f"builds: {result.builds} in {len(result.steps)} step(s) of {result.runs} run(s), {result.secs:.0f}s")
    lines.append(f"results: {result.results_dir}")
    return "\n".join(lines) + "\n"
