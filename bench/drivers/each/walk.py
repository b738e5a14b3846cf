"""`bench run SERIES --each`: the base, then every prefix of the series, each a whole run.

All prefixes are ordinary `pipeline.run`s under the series' name, so they share one work
slot: consecutive prefixes differ by one patch, and each build recompiles only that patch's
objects. After its boot, prefix k-1 makes again with patch k's files touched (the probe,
bench/run/buildwarn.py), so patch k's compiler warnings are told against its objects without it.
A patch that does not apply ends the walk: every later prefix contains it.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from bench.base import rundir
from bench.base.errors import UserError
from bench.drivers.each import compare, export
from bench.drivers.each.model import EachResult, Prefix
from bench.run import buildwarn, pins, pipeline, worktree
from bench.run.plan import Plan
from bench.run.printer import Printer
from bench.run.result import RunResult, Status
from bench.run.sweep import Sweep


def prefix_name(k: int, plan: Plan) -> str:
    return rundir.sub_name(plan.series.patches[k - 1].name.removesuffix(".patch") if k else "base", k, cut=48)


def read_prefix(k: int, plan: Plan, result: RunResult) -> Prefix:
    """What the comparison needs from a prefix's folder: warnings of its builds, pin counters."""
    folder, slot = result.results_dir, plan.cache_dir / "work" / (result.facts.slot or "")
    made = any(c.group == "build" and not c.reused for c in result.cases)
    built = buildwarn.read(folder / rundir.BUILD_LOG, slot / "src", slot / "build") if made else None
    probe_ok = result.facts.probe is not None and result.facts.probe.ok
    probe = buildwarn.read(folder / rundir.PROBE_LOG, slot / "src", slot / "build") if probe_ok else None
    counters = pins.of_run(folder / rundir.GUEST, [w.name for w in plan.workloads])
    return Prefix(k, plan.series.patches[k - 1] if k else None, result, built, probe, counters)


def applied(result: RunResult, k: int, plan: Plan) -> bool:
    """Did this prefix's last patch apply? (False: no later prefix can.)"""
    if k == 0:
        return True
    name = plan.series.patches[k - 1].name
    return not any(c.group == "apply" and c.name == name and c.status is Status.FAIL for c in result.cases)


def run_each(plan: Plan, printer: Printer) -> EachResult:
    patches = plan.series.patches
    if not patches:
        raise UserError(f"{plan.series.source}: series {plan.series.name} has no patches: --each needs some")
    sweep = Sweep.new(plan.results_root, f"each-{plan.series.name}", pipeline.run)
    run_id, folder = sweep.dir.name, sweep.dir
    n, start = len(patches), time.monotonic()
    printer.say(f"each: the base and {n} prefix(es) of {plan.series.name} in {folder}")
    prefixes: list[Prefix] = []
    stopped = False
    # stopped by Ctrl-C or an error: the prefixes so far, marked incomplete
    with sweep.stopping(lambda why: finish(run_id, plan, folder, prefixes, start, complete=False)):
        for k in range(n + 1):
            if stopped:
                prefixes.append(Prefix(k, patches[k - 1], None))
                continue
            sub = replace(plan.with_patches(k), baseline=False,
                          probe=tuple(sorted(worktree.touched_by([patches[k]]))) if k < n else (),
                          extra_info={**plan.extra_info, "each": run_id, "each_prefix": k})
            printer.say(f"each: [{k}/{n}] {patches[k - 1].name if k else 'the base (no patches)'}")
            result = sweep.run(sub, prefix_name(k, plan), printer.nested(f"{k:02d}: "))
            printer.say(f"each: [{k}/{n}] {result.verdict.name} in {result.secs:.0f}s")
            prefixes.append(read_prefix(k, sub, result))
            stopped = not applied(result, k, plan)
    return finish(run_id, plan, folder, prefixes, start, complete=True)


def finish(run_id: str, plan: Plan, folder: Path, prefixes: list[Prefix], start: float,
           complete: bool) -> EachResult:
    result = EachResult(run_id, plan.series.name, folder, tuple(prefixes), tuple(compare.deltas(prefixes)),
                        time.monotonic() - start, complete)
    export.write(result)
    return result
