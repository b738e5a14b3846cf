"""report.txt: the run as a plain-text mail for a kernel mailing list (after kernel test robot
and syzbot: what was tested, on which base, with which config and compiler, what failed with
the first report excerpt, and how to reproduce it). Written whatever the verdict.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from bench.base import rundir
from bench.run.coverage import text as coverage_text
from bench.run.pages import facts
from bench.run.pages.facts import Context
from bench.run.runfacts import RunFacts

EXCERPT_LINES = 60
OUTPUT_LINES = 25
ACCEL = {"kvm": "QEMU with KVM", "tcg": "QEMU TCG (software emulation)"}


def _subject(ctx: Context, verdict: str, failing: list[dict[str, Any]]) -> str:
    what = ", ".join(f"{c['group']}/{c['name']}" for c in failing[:3]) + (" ..." if len(failing) > 3 else "")
    if verdict == "pass":
        return f"[pinbench] PASS: {ctx.series}"
    return f"[pinbench] {verdict.upper()}: {ctx.series}: {what}"[:200]


def _opening(verdict: str, failing: list[dict[str, Any]]) -> str:
    if verdict == "pass":
        return "pinbench tested the series below and found no problem (exit 0)."
    if verdict == "fail":
        n = sum(c["status"] == "fail" for c in failing)
        return f"pinbench tested the series below and it failed: {n} problem(s) (exit 1)."
    return ("pinbench could not decide on the series below: infrastructure trouble, not the"
            " series (exit 2).")


def _facts(ctx: Context, info: RunFacts, run_dir: Path) -> list[str]:
    cfg = facts.config(run_dir)
    n = len(ctx.patches)
    rows = [("series", f"{ctx.series} ({n} patch{'es' if n != 1 else ''})" if n else f"{ctx.series} (no patches)")]
    rows += [("", f"[{i}/{n}] {subject}") for i, (_, subject) in enumerate(ctx.patches, 1)]
    rows += [("base", f"{info.base or '?'} (tree {ctx.tree})")]
    if info.head and info.head != info.base:
        rows += [("head", f"{info.head} (the series applied with git am -3)")]
    config = ", ".join(ctx.fragments) + (f" (.config sha256 {cfg.sha256})" if cfg.sha256 else " (no .config)")
    rows += [("config", config)]
    if cfg.compiler:
        rows += [("compiler", cfg.compiler)]
    accel = ACCEL.get(str(info.accel), "QEMU (not booted)")
    rows += [("test machine", f"virtme-ng, {accel}, {ctx.cpus} CPUs, {ctx.memory}"),
             ("workloads", ", ".join(ctx.workloads) or "none"),
             ("results", str(run_dir))]
    return [f"{k + ':' if k else '':<14}{v}" for k, v in rows]


def _evidence(cases: list[dict[str, Any]], reports: list[dict[str, Any]]) -> list[str]:
    """The first failing kernel report's text, else the first failure's output."""
    first = next((c for c in cases if c["group"] == "report" and c["status"] == "fail"), None)
    if first is not None:
        where = next((r.get("workload") for r in reports if r.get("title") == first["name"]), None)
        head = f'The first kernel report ("{first["name"]}", during {where or "boot"}):'
        lines, limit = str(first.get("output", "")).splitlines(), EXCERPT_LINES
    else:
        first = next((c for c in cases if c["status"] in ("fail", "error") and c.get("output")), None)
        if first is None:
            return []
        lines = str(first["output"]).splitlines()
        flagged = [line for line in lines if "FAIL" in line]  # the guest scripts' own verdict lines
        if flagged:
            head, lines = f"The lines of {first['group']}/{first['name']}'s output that say FAIL:", flagged
        else:
            head, lines = f"The output of {first['group']}/{first['name']} (its end):", lines[-OUTPUT_LINES:]
        limit = OUTPUT_LINES
    body = [f"  {line}".rstrip() for line in lines[:limit]]
    if len(lines) > limit:
        body.append(f"  [... {len(lines) - limit} more lines in console.log]")
    return ["", head, "", *body]


def report(ctx: Context, data: dict[str, Any], run_dir: Path) -> str:
    """The mail, from the run's summary.json data and folder."""
    cases = data.get("cases") or []
    info = facts.run_facts(data)
    verdict = str(data.get("verdict", "error"))
    failing = [c for c in cases if c["status"] in ("fail", "error")]
    out = [f"Subject: {_subject(ctx, verdict, failing)}", "", "Hello,", "", _opening(verdict, failing), "",
           *_facts(ctx, info, run_dir)]
    if failing:
        width = min(max(len(f"{c['group']}/{c['name']}") for c in failing) + 2, 40)
        out += ["", "What failed:" if verdict == "fail" else "What could not be decided:"]
        for c in failing:
            more = facts.case_extras(c)
            key = f"{c['group']}/{c['name']}:"
            line = f"{key:<{width}} {c.get('message', '')}" + (f" ({more})" if more else "")
            out += textwrap.wrap(line, 100, initial_indent="  ", subsequent_indent="    ")
    elif cases:
        passed = [f"{c['group']}/{c['name']}" for c in cases if c["group"] == "workload" and c["status"] == "pass"]
        out += ["", "Passed: " + (", ".join(passed) if passed else "no workload ran") + "."]
    out += _evidence(cases, facts.reports(run_dir))
    known = [c for c in cases if c["group"] == "report" and c["status"] == "skip"]
    if known:
        out += ["", "Kernel reports found but not counted (known or also in the base):"]
        out += [f"  {c['name']}: {c.get('message', '')}" for c in known]
    out += coverage_text.report_lines(info.coverage)
    out += ["", "To reproduce on a machine with the kernel tree, gcc and virtme-ng (it rebuilds the",
            "same kernel, checking the .config's sha256, and boots it the same way):", "",
            f"  {run_dir / rundir.REPRODUCER} /path/to/linux", "",
            "-- ", f"pinbench run {data.get('run_id', '?')}, {info.started or ''}".rstrip(", ")]
    return "\n".join(out) + "\n"
