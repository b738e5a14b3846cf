"""`bench run SERIES --repeat N`: the same kernel run N times, each case decided by its rate.

The runs are ordinary `pipeline.run`s in one folder (r1..rN; with --baseline also base-r1..
base-rN, the unpatched base with the same config and workloads), sharing a work slot: the
kernel is built once per side and its image reused. A setup failure (apply, config, build)
is deterministic: the runs stop there. The folder's summary.json and junit.xml hold a case
per key with its fail:runs and decision (bench/run/rates.py), rates.txt the table.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from bench.base import rundir
from bench.base.errors import UserError
from bench.base.files import write_atomic
from bench.base.stats import ALPHA, min_runs
from bench.run import junit, pipeline, rates, tree
from bench.run.plan import Plan
from bench.run.printer import Printer
from bench.run.result import Case, RunResult, Status, write_summary_json
from bench.run.runfacts import RunFacts
from bench.run.sweep import Sweep


def check(n: int, baseline: bool, alpha: float, what: str = "") -> None:
    """Refuse a run set that could never show a regression against the base."""
    if not 0 < alpha < 1:
        raise UserError(f"--alpha {alpha}: want a probability between 0 and 1, e.g. 0.05")
    if baseline and n > 1 and n < (need := min_runs(alpha)):
        raise UserError(f"{what or f'--repeat {n}'} --baseline: with {n} runs a side, even a case failing in every"
                        f" run and never on the base is not significant at alpha {alpha}: repeat {need} times or more")


def _series(plan: Plan, sweep: Sweep, stem: str, n: int, printer: Printer, runs: list[RunResult]) -> None:
    """Run plan n times into runs (a list the caller holds: a stopped sweep writes what is in it)."""
    for i in range(1, n + 1):
        name = rundir.again(stem, i)  # r1, r2... (base-r1... for the base)
        printer.say(f"repeat: {name} of {n}")
        result = sweep.run(dataclasses.replace(plan, baseline=False), name, printer.nested(f"{name}: "))
        runs.append(result)
        if any(c.group in rates.DETERMINISTIC and c.status is Status.FAIL for c in result.cases):
            printer.say(f"repeat: {result.failures()[0].group} failed: deterministic, not repeated")
            break


def base_plan(plan: Plan) -> Plan:
    return plan.unpatched(tree.resolve_base(plan.tree, plan.base or plan.series.base))


def run_repeat(plan: Plan, printer: Printer, n: int, alpha: float = ALPHA) -> RunResult:
    """Run plan n times (and its base n times with plan.baseline); the rates as a RunResult."""
    check(n, plan.baseline, alpha)
    sweep, plan = Sweep.of_run(plan, pipeline.run)  # like a single run's: same-second runs get -2...
    folder = sweep.dir
    start = time.monotonic()
    with_base = plan.baseline and bool(plan.series.patches)
    printer.say(f"repeat: {plan.series.name} {n} time(s){' and its base as often' if with_base else ''} in {folder}")
    series: list[RunResult] = []
    base: list[RunResult] | None = None
    with sweep.stopping(lambda why: finish(plan, series, base, alpha, n, start, stopped=why)):
        base_of = base_plan(plan) if with_base else None
        _series(plan, sweep, "", n, printer, series)
        if base_of is not None:
            base = []
            _series(base_of, sweep, "base", n, printer, base)
    return finish(plan, series, base, alpha, n, start)


def finish(plan: Plan, series: list[RunResult], base: list[RunResult] | None, alpha: float, n: int,
           start: float, stopped: str = "") -> RunResult:
    """The folder's summary.json, junit.xml and rates.txt; `stopped`: why not every run was made."""
    found = rates.rates(series, base, alpha)
    cases = rates.cases(found, [*series, *(base or [])])
    if not rates.decided(series):
        cases.append(Case("repeat", "runs", Status.ERROR, 0.0, "no run decided anything (infrastructure)"))
    if stopped:
        cases.append(Case("infra", "interrupted", Status.ERROR, 0.0, f"{stopped}: not every run was made"))
    first = series[0].facts if series else RunFacts()
    rep = {"n": n, "alpha": alpha, "test": "one-sided Fisher exact" if base is not None else None,
           "runs": [r.run_id for r in series], "base_runs": [r.run_id for r in base or []],
           "rates": [r.to_json() for r in found]}
    facts = RunFacts(plan.series.name, str(plan.tree), {**plan.extra_info, "repeat": rep},
                     base=first.base, kernel_version=first.kernel_version, notes=first.notes or None,
                     head=first.head, accel=first.accel, known_issues=tuple(merged_known(series)) or None)
    result = RunResult(plan.run_id, plan.series.name, plan.results_dir, tuple(cases), time.monotonic() - start, facts)
    write_summary_json(result, plan.results_dir / rundir.SUMMARY)
    junit.write(result, plan.results_dir / rundir.JUNIT)
    write_atomic(plan.results_dir / rundir.RATES, table(result))
    return result


def merged_known(runs: list[RunResult]) -> list[dict[str, Any]]:
    """The runs' known issues (summary.json info), what each matched in any run."""
    by_id: dict[str, dict[str, Any]] = {}
    for r in runs:
        for k in r.facts.known_issues or ():
            record = by_id.setdefault(k["id"], {**k, "matched": []})
            record["matched"] = sorted(set(record["matched"]) | set(k.get("matched", [])))
    return list(by_id.values())


def table(result: RunResult) -> str:
    """The cases that failed in some run, with their rates and decisions; the rest counted."""
    rep = result.facts.labels["repeat"]  # finish's own label
    found: list[dict[str, Any]] = rep["rates"]
    with_base = bool(rep["base_runs"])
    shown = [r for r in found if r["fails"] or r.get("base_fails") or r["status"] != Status.PASS.value]
    out = [f"==== pinbench {result.series} --repeat {rep['n']} ({result.run_id}) ====",
           f"  {'case':<44}  {'series':>6}  " + (f"{'base':>6}  {'p':>7}  " if with_base else "") + "decision"]
    for r in shown:
        side = ""
        if with_base:
            p = "-" if r.get("p") is None else f"{r['p']:.3g}"
            side = f"{r.get('base_fails', 0)}:{r.get('base_runs', 0)}".rjust(6) + f"  {p:>7}  "
        word = "FLAKY" if r["flaky"] and r["status"] != Status.FAIL.value else r["status"].upper()
        out.append(f"  {r['key'][:44]:<44}  {str(r['fails']) + ':' + str(r['runs']):>6}  {side}{word}: {r['message']}")
    if len(found) > len(shown):
        out.append(f"  ({len(found) - len(shown)} other case(s) passed in every run)")
    if with_base:
        out.append(f"regression: the series' failure rate above the base's, one-sided Fisher exact test,"
                   f" p <= {rep['alpha']}")
    out.append(f"verdict: {result.verdict.name} (exit {result.exit_code}) in {result.secs:.0f}s")
    out.append(f"results: {result.results_dir}")
    return "\n".join(out) + "\n"
