"""A `--each` walk as files and text: summary.json, junit.xml (a testsuite per prefix), the table.

The verdict is the worst case of the patch testsuites (prefixes 1..n: the patch's own cases
and its run's): the series fails if any patch brings a failure or a compiler warning, or if
any prefix fails at all (as a plain run of that prefix would). The base's own failures are
shown, and compared against, but are not the series' verdict.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.base import rundir
from bench.base.files import write_atomic
from bench.drivers.each.compare import patch_cases
from bench.drivers.each.model import EachResult, PatchDelta, Prefix
from bench.run import junit, pins
from bench.run.result import Case, EXIT_CODES, RunResult, Status
from bench.run.runfacts import RunFacts


def suite(result: EachResult, p: Prefix, d: PatchDelta | None) -> RunResult:
    """Prefix p's testsuite: the patch's own cases first, then its run's cases."""
    own = patch_cases(d) if d else []
    run = list(p.result.cases) if p.result else [Case("apply", p.label, Status.SKIP, 0.0,
                                                      "not run: an earlier patch does not apply")]
    labels: dict[str, Any] = {"patch": p.label, "prefix": p.k}
    if p.patch:
        labels["subject"] = p.patch.subject
    if p.result:
        labels["run_id"] = p.result.run_id
    folder = p.result.results_dir if p.result else result.results_dir
    return RunResult(f"{result.run_id}/{p.k:02d}", f"{result.series}.{p.k:02d}", folder, (*own, *run),
                     p.result.secs if p.result else 0.0, RunFacts(labels=labels))


def suites(result: EachResult) -> list[RunResult]:
    by_k = {d.k: d for d in result.deltas}
    return [suite(result, p, by_k.get(p.k)) for p in result.prefixes]


def verdict(result: EachResult) -> Status:
    statuses = {c.status for s in suites(result)[1:] for c in s.cases}
    if not result.complete:
        statuses.add(Status.ERROR)
    for status in (Status.FAIL, Status.ERROR):
        if status in statuses:
            return status
    return Status.PASS


def exit_code(result: EachResult) -> int:
    return EXIT_CODES[verdict(result)]


def _delta_json(d: PatchDelta) -> dict[str, Any]:
    w = d.warnings
    return {"against": d.against, "new_failures": list(d.new_failures), "fixed": list(d.fixed),
            "workloads": [{"name": n, "before": b, "now": a} for n, b, a in d.workloads],
            "reports_new": list(d.reports_new), "reports_gone": list(d.reports_gone),
            "warnings": {"added": list(w.added), "removed": list(w.removed), "compared": w.compared,
                         "not_compared": list(w.unknown)} if w else {"why": d.warnings_why},
            "pins_held": {k: {"before": b, "now": a} for k, (b, a) in d.pins.items()}, "why": d.why}


def _prefix_json(p: Prefix, d: PatchDelta | None) -> dict[str, Any]:
    r = p.result
    return {"k": p.k, "patch": p.label, "subject": p.patch.subject if p.patch else "",
            "run_id": r.run_id if r else None, "verdict": r.verdict.value if r else "not run",
            "secs": round(r.secs, 1) if r else 0.0,
            "failing": sorted(c.key for c in r.cases if c.status is Status.FAIL) if r else [],
            "warnings": p.built.total if p.built else None,
            "pins": {k: v.to_json() for k, v in p.pins.items()},
            "delta": _delta_json(d) if d else None}


def to_json(result: EachResult) -> dict[str, Any]:
    by_k = {d.k: d for d in result.deltas}
    first = result.first_failing
    status = verdict(result)
    return {"run_id": result.run_id, "series": result.series, "verdict": status.value,
            "exit_code": EXIT_CODES[status], "secs": round(result.secs, 1), "complete": result.complete,
            "first_failing": {"k": first.k, "patch": first.patch.name, "subject": first.patch.subject,
                              "new_failures": list(first.new_failures)} if first else None,
            "prefixes": [_prefix_json(p, by_k.get(p.k)) for p in result.prefixes]}


def write(result: EachResult) -> None:
    folder: Path = result.results_dir
    write_atomic(folder / rundir.SUMMARY, json.dumps(to_json(result), indent=2, default=str) + "\n")
    junit.write_many(suites(result), folder / rundir.JUNIT)
    write_atomic(folder / rundir.EACH_TABLE, table(result))


# -- the table ----------------------------------------------------------------------------


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _build(p: Prefix, d: PatchDelta | None) -> str:
    case = next((c for c in p.result.cases if c.group == "build"), None) if p.result else None
    if case is None:
        return "-"
    word = "reused" if case.reused else case.status.value
    if d is None or d.warnings is None:
        return word
    return f"{word}, warn +{len(d.warnings.added)}/-{len(d.warnings.removed)}"


def _span(key: str) -> str:
    return "run" if key == pins.RUN else key


def _pins(p: Prefix, d: PatchDelta | None) -> str:
    """Pins taken and not released: the base's, then what each patch changed."""
    if d is None:
        held = {k: v.held for k, v in p.pins.items() if v.held or k == pins.RUN}
        return "pins held: " + ", ".join(f"{_span(k)} {v}" for k, v in held.items()) if held else ""
    return "pins held: " + ", ".join(f"{_span(k)} {b}->{a}" for k, (b, a) in d.pins.items()) if d.pins else ""


def _changes(p: Prefix, d: PatchDelta | None) -> str:
    if p.result is None or (d is not None and d.why):
        return d.why if d else "not run"
    if d is None:  # the base
        failing = sorted(c.key for c in p.result.cases if c.status is Status.FAIL)
        parts = [f"failing: {', '.join(failing)}" if failing else "nothing fails"]
    else:
        other = ("workload/", "report/")
        parts = [", ".join(f"{n} {b}->{a}" for n, b, a in d.workloads),
                 ", ".join([f"+report {t}" for t in d.reports_new] + [f"-report {t}" for t in d.reports_gone]),
                 ", ".join([f"{k} fails" for k in d.new_failures if not k.startswith(other)]
                           + [f"fixes {k}" for k in d.fixed if not k.startswith(other)])]
    parts.append(_pins(p, d))
    return "; ".join(part for part in parts if part) or "-"


def table(result: EachResult) -> str:
    """The per-patch table people read at the end of the run (also saved as each.txt)."""
    by_k = {d.k: d for d in result.deltas}
    out = [f"==== pinbench {result.series} --each ({result.run_id}) ====",
           f"  {'#':>2}  {'patch':<44}  {'verdict':<7}  {'build':<18}  changes (against the prefix before)"]
    for p in result.prefixes:
        d = by_k.get(p.k)
        word = p.result.verdict.value if p.result else "-"
        out.append(f"  {p.k:>2}  {_cut(p.label, 44):<44}  {word:<7}  {_build(p, d):<18}  {_changes(p, d)}")
    for p in result.prefixes:  # which of its changed lines each prefix's workloads ran (bench/run/coverage/)
        if p.result and (cov := p.result.facts.coverage) is not None:
            out.append(f"  coverage {p.k}: {cov.get('text') or 'not measured: ' + str(cov.get('error', ''))}")
    first = result.first_failing
    if first:
        out.append(f"first failing patch: {first.k}/{len(result.prefixes) - 1} {first.patch.name}")
        out.append(f"  subject: {first.patch.subject}")
        out.append(f"  newly failing: {', '.join(first.new_failures)}")
    else:
        out.append("first failing patch: none (no patch brings a new failure)")
    for d in result.deltas:
        if d.warnings and d.warnings.added:
            out.append(f"  {d.patch.name}: {len(d.warnings.added)} new warning(s): "
                       + "; ".join(d.warnings.added[:3]))
    status = verdict(result)
    out.append(f"verdict: {status.name} (exit {EXIT_CODES[status]}) in {result.secs:.0f}s"
               + ("" if result.complete else " (interrupted: not every prefix ran)"))
    out.append(f"results: {result.results_dir}")
    return "\n".join(out) + "\n"
