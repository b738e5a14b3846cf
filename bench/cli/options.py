"""Option groups shared by the commands, and the typed request each command builds from them.

argparse stops here: handlers turn a Namespace into a RunRequest (bench/run/plan.py) at once, and
nothing below the CLI ever sees a Namespace. Numbers are checked by their argparse type, so a
bad value is a usage error before any work starts.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from bench.base.errors import UserError
from bench.drivers import doctor
from bench.run.plan import ACCELS, Plan, RunRequest


def int_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: not a whole number") from None
        if value < low or (high is not None and value > high):
            bound = f"{low} to {high}" if high is not None else f"{low} or more"
            raise argparse.ArgumentTypeError(f"{text}: want {bound}")
        return value
    parse.__name__ = "number"  # argparse names the type in its errors
    return parse


def series_name(text: str) -> str:
    """An argparse type for a SERIES argument: never blank. `bench run "$SERIES"` with the variable
    unset must not run the bare tree and PASS (the bare tree is the `baseline` series)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: an empty series name (for the tree without patches,"
                                         " run the baseline series)")
    return text


def given(what: str) -> Callable[[str], str]:
    """An argparse type for an option naming a commit or a tree: never blank. `--base "$BASE"`
    with the variable unset silently tested HEAD; the option left out means the default."""
    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"{text!r}: empty {what} (leave the option out for the default)")
        return text
    parse.__name__ = what
    return parse


def folder(text: str) -> Path:
    """An argparse type for a path option: never blank. `--results ""` was Path("") (the current
    folder): a run wrote its results into whatever folder the job ran in. Nor a symlink loop:
    Path.resolve() raises RuntimeError on one, which was an "internal error" with a crash log."""
    path = Path(given("path")(text))
    try:
        path.resolve()
    except (RuntimeError, OSError) as e:
        raise argparse.ArgumentTypeError(f"{text!r}: cannot resolve it: a symlink loop ({e})") from None
    return path


def add_run_options(p: argparse.ArgumentParser) -> None:
    """The options every command that runs kernels shares (run, bisect, nightly, prove)."""
    p.add_argument("--tree", type=given("tree"), help="kernel git tree (default: $BENCH_TREE or the cached linux-source tree)")
    p.add_argument("--base", type=given("commit"), help="commit to apply the series on (default: series.yaml base, else HEAD)")
    p.add_argument("--kconfig", action="append", default=[], metavar="FRAG",
                   help="extra kconfig fragment (name in kconfigs/ or a path); repeatable")
    p.add_argument("--workload", action="append", default=[], metavar="NAME",
                   help="guest workload or workload set (replaces the series' list); repeatable")
    p.add_argument("--param", action="append", default=[], metavar="W.NAME=VALUE",
                   help="override a workload parameter, e.g. odirect.RACE_SECONDS=30")
    p.add_argument("--accel", choices=ACCELS, default="auto",
                   help="auto: use KVM only if a probe boot proves it works")
    p.add_argument("--jobs", type=int_in(0, 1024), default=0, help="make -j (default 0: all cores)")
    p.add_argument("--memory", default="2G", help="guest memory, e.g. 2G or 1536M (default 2G)")
    p.add_argument("--cpus", type=int_in(1, 64), default=2, help="guest CPUs (default 2)")
    p.add_argument("--append", action="append", default=[], metavar="ARG",
                   help="extra kernel command line (words of letters, digits and . , : / = %% + - _)")
    p.add_argument("--suppress", action="append", default=[], type=folder, metavar="FILE",
                   help="known issues: a known-issues.yaml, or title regexes (one a line); repeatable")
    p.add_argument("--results", type=folder, help="results root (default: <home>/results)")
    p.add_argument("--baseline", action="store_true",
                   help="also boot the unpatched base: reports also found there are marked, not failed")
    p.add_argument("--coverage", action=argparse.BooleanOptionalAction, default=None,
                   help="gcov of the C files the series touches, mapped to its changed lines (default: on for"
                        " `bench run`, off for bisect steps, nightly and prove; docs/coverage.md)")
    p.add_argument("--coverage-object", action="append", default=[], metavar="PATH.o",
                   help="also profile this object (build-relative, e.g. mm/gup.o: for header hunks); repeatable")


def coverage_objects_used(args: argparse.Namespace, on: bool) -> None:
    """--coverage-object names more objects for the coverage stage; `on`: whether the command
    measures coverage with the options given. Without it the objects were taken and profiled nothing."""
    if args.coverage_object and not on:
        why = "--no-coverage turns it off" if args.coverage is False else "it is off by default here: add --coverage"
        raise UserError(f"--coverage-object {args.coverage_object[0]}: needs coverage, and {why}")


def request(args: argparse.Namespace, series: str, coverage: bool = False) -> RunRequest:
    """The RunRequest of the shared run options (add_run_options) for `series`; `coverage`: the
    command's default when neither --coverage nor --no-coverage is given."""
    asked = getattr(args, "coverage", None)
    return RunRequest(
        series=series,
        tree=args.tree,
        base=args.base,
        kconfigs=tuple(args.kconfig),
        workloads=tuple(args.workload),
        params=tuple(args.param),
        accel=args.accel,
        jobs=args.jobs,
        memory=args.memory,
        cpus=args.cpus,
        append=tuple(w for a in args.append for w in a.split()),  # "--append 'a b'" is two words
        suppress=tuple(p.resolve() for p in args.suppress),
        results=args.results.resolve() if args.results else None,
        baseline=bool(getattr(args, "baseline", False)),
        coverage=coverage if asked is None else bool(asked),
        coverage_objects=tuple(getattr(args, "coverage_object", None) or ()),
    )


def preflight(plans: Iterable[Plan]) -> None:
    """The preflight of the commands that run kernels, once for all their plans (before any
    build); $BENCH_PREFLIGHT=0 skips it (the unit tests' fake world has no QEMU)."""
    plans = list(plans)
    if not plans or os.environ.get("BENCH_PREFLIGHT") == "0":
        return
    first = plans[0]
    doctor.require(first.home, first.cache_dir, first.results_root,
                   {w.name for p in plans for w in p.workloads},
                   tree_given=all(not p.tree.is_relative_to(p.cache_dir) for p in plans))
