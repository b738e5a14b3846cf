#!/usr/bin/env python3
"""What coverage costs: the same one-patch series run with and without it, on the same slot.

Runs `bench run SERIES --workload W` alternately with --no-coverage and with coverage (the
default), ROUNDS times each, all on one work slot (BENCH_SLOTS=1), and reads each run's
summary.json timeline: the build stage (an incremental make: switching coverage on or off
changes the touched objects' flags, so every run here recompiles them, as a new series would)
and the boot stage (guest time: boot plus the workloads plus the guest's saving of counters),
and the coverage stage (host gcov and mapping). Prints each run and the ratios of the medians,
with coverage over without (targets from issue 23: guest <= 1.10, build <= 1.05).

    python3 benchmarks/coverage_cost.py [--series patches/bugs/gup-fast-fallback]
        [--workload gup-test] [--kconfig mm-events] [--rounds 2]
    python3 benchmarks/coverage_cost.py --default-set --rounds 1   # what `bench run` costs

The first run (without coverage) only warms the slot and is not counted. Run it on a quiet
machine: other builds and boots change every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HOME = Path(__file__).resolve().parent.parent


def stage_secs(summary: dict[str, Any], stage: str) -> float:
    return sum(float(t["secs"]) for t in summary["info"].get("timeline", []) if t["stage"] == stage)


def bench_run(args: argparse.Namespace, results: Path, coverage: bool) -> dict[str, Any]:
    before = set(results.iterdir())
    argv = [sys.executable, "-m", "bench", "run", args.series, "--results", str(results),
            *(a for w in args.workload for a in ("--workload", w)),
            *(a for k in args.kconfig for a in ("--kconfig", k)), *([] if coverage else ["--no-coverage"])]
    rc = subprocess.run(argv, cwd=HOME, env={**os.environ, "BENCH_SLOTS": "1"},
                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT).returncode
    (run_dir,) = set(results.iterdir()) - before
    summary: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    if rc == 2 or not any(c["group"] == "boot" and c["status"] == "pass" for c in summary["cases"]):
        sys.exit(f"{run_dir}: the run did not boot (exit {rc}): no figure taken; its results are kept")
    return summary


def ratio(with_: list[float], without: list[float]) -> str:
    a, b = statistics.median(with_), statistics.median(without)
    return f"{a / b:.2f}x ({a:.1f} s / {b:.1f} s)" if b else "n/a"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", default="patches/bugs/gup-fast-fallback")
    ap.add_argument("--workload", action="append", default=None)
    ap.add_argument("--kconfig", action="append", default=None)
    ap.add_argument("--default-set", action="store_true",
                    help="the whole default set with its own config (a slot built for it is reused)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--results", type=Path, default=None, help="where the runs go (default: a new temp folder)")
    args = ap.parse_args()
    if args.default_set:  # what `bench run SERIES` costs a user: every default workload, its config
        if args.workload or args.kconfig:
            ap.error("--default-set runs the default set's workloads with their own config: no --workload/--kconfig")
        args.workload, args.kconfig = [], []
    args.workload = args.workload if args.workload is not None else ["gup-test"]
    args.kconfig = args.kconfig if args.kconfig is not None else ["mm-events"]
    results = args.results or Path(tempfile.mkdtemp(prefix="pinbench-covcost-"))
    results.mkdir(parents=True, exist_ok=True)
    print(f"runs in {results}", flush=True)
    bench_run(args, results, coverage=False)  # warm: the slot holds this series' build
    got: dict[bool, dict[str, list[float]]] = {True: {}, False: {}}
    for r in range(args.rounds):
        for cov in (True, False):
            s = bench_run(args, results, cov)
            row = {st: stage_secs(s, st) for st in ("build", "boot", "coverage")}
            for st, secs in row.items():
                got[cov].setdefault(st, []).append(secs)
            head = (s["info"].get("coverage") or {}).get("text", "")
            print(f"round {r + 1} {'coverage   ' if cov else 'no coverage'} ({s['info'].get('slot')}):"
                  f" build {row['build']:.1f} s,"
                  f" guest {row['boot']:.1f} s, coverage stage {row['coverage']:.1f} s  {head}", flush=True)
    print(f"build: {ratio(got[True]['build'], got[False]['build'])} (target <= 1.05)")
    print(f"guest: {ratio(got[True]['boot'], got[False]['boot'])} (target <= 1.10)")
    print(f"coverage stage (host gcov + mapping): median {statistics.median(got[True]['coverage']):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
