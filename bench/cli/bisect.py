"""`bench bisect` and `bench bisect-step`: the command lines of bench/drivers/bisect/.

    bench bisect SERIES [--signature KEY]... [--repeat N] [--check] [run options]
    bench bisect [SERIES] --good REV --bad REV [--tree PATH] [...]
    bench bisect-step [SERIES] [--patches K] [--signature KEY]... [--repeat N] [run options]
    bench bisect-step --request FILE [--tree PATH] [--base REV] [...]

bisect exits 0 when it found the first bad patch/commit, 1 when there is none to find
(the tip does not reproduce, the base fails too, or only untestable ones are left), 2 on
infrastructure or usage errors. bisect-step speaks `git bisect run`: 0 good, 1 bad, 125
skip, 128 abort, and nothing else (bench/cli/main.py turns every error into 128).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from bench.base.errors import UserError
from bench.cli import options
from bench.drivers.bisect import export, judge
from bench.drivers.bisect.bisection import run_step
from bench.drivers.bisect.journal import Journal, step_name
from bench.drivers.bisect.model import Options
from bench.drivers.bisect.range import bisect_range
from bench.drivers.bisect.series import bisect_series
from bench.run import pipeline
from bench.run.plan import RunRequest, default_home, make_plan, read_request
from bench.run.printer import Printer
from bench.run.sweep import Sweep
from bench.run.tree import resolve_base


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "bisect", help="find the first patch (or commit) that reproduces the tip's failure",
        description="Binary-search a series' patches (or --good..--bad commits with git bisect run)"
                    " for the first kernel that fails the way the tip does.")
    p.add_argument("series", nargs="?", type=options.series_name,
                   help="series to bisect; with --good/--bad it only brings kconfigs, workloads, suppressions")
    p.add_argument("--good", metavar="REV", help="range mode: a commit without the failure")
    p.add_argument("--bad", metavar="REV", help="range mode: a commit with the failure")
    p.add_argument("--all-workloads", action="store_true",
                   help="steps run every workload (default: only those the signature needs, plus the"
                        " `last` ones such as pin-balance)")
    p.add_argument("--check", action="store_true",
                   help="also verify the good end (one more build), and the bad end even with --signature;"
                        " off by default so a bisect stays within ceil(log2 n)+1 builds")
    _add_step_options(p)
    options.add_run_options(p)
    p.set_defaults(func=handle)

    s = subparsers.add_parser(
        "bisect-step", help="one bisect step for git bisect run: exit 0 good, 1 bad, 125 skip, 128 abort",
        description="Run SERIES (or the tree as it is) on --tree at --base (default HEAD) and say"
                    " whether it reproduces the signature, in git bisect run's exit codes.")
    s.add_argument("series", nargs="?", type=options.series_name,
                   help="series to apply (default: none, the tree as it is)")
    s.add_argument("--patches", type=options.int_in(0), metavar="K", help="apply only the first K patches")
    s.add_argument("--bisect-dir", type=options.folder, metavar="DIR",
                   help="the bisect's folder: the step's runs go there and it joins bisect.log")
    s.add_argument("--request", type=options.folder, metavar="FILE",
                   help="the run request (request.json of a range bisect) instead of run options")
    _add_step_options(s)
    options.add_run_options(s)
    s.set_defaults(func=handle_step)


def _add_step_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--signature", action="append", default=[], metavar="KEY",
                   help="failure to look for: workload/NAME or report/TITLE; repeatable"
                        " (default: whatever fails at the tip; for bisect-step: any workload/report failure)")
    p.add_argument("--repeat", type=options.int_in(1, 100), default=1, metavar="N",
                   help="runs a step (flaky failures): bad if any run reproduces")


def handle(args: argparse.Namespace) -> int:
    printer = Printer()
    options.coverage_objects_used(args, args.coverage is True)
    opts = Options(judge.parse_signature(args.signature), args.repeat, args.check, args.all_workloads)
    home = default_home()
    if (args.good is None) != (args.bad is None):
        raise UserError("--good and --bad go together (range mode)")
    if args.good is None:
        if not args.series:
            raise UserError("bench bisect: give a SERIES to bisect, or --good REV --bad REV")
        plan = make_plan(options.request(args, args.series), home)
        options.preflight([plan])
        result = bisect_series(plan, printer, opts)
    else:
        req = options.request(args, args.series or "")
        plan = make_plan(req, home)
        options.preflight([plan])
        result = bisect_range(plan, req, printer, opts, args.good, args.bad)
    printer.text(export.summary(result))
    return result.exit_code


def handle_step(args: argparse.Namespace) -> int:
    """One step; main() turns every error into git bisect run's abort code."""
    printer = Printer()
    options.coverage_objects_used(args, args.coverage is True)
    signature = judge.parse_signature(args.signature)
    req = _step_request(args)
    plan = make_plan(req, default_home())
    options.preflight([plan])
    n, k = len(plan.series.patches), args.patches
    if k is not None and k > n:
        raise UserError(f"--patches {k}: series {plan.series.name} has only {n}")
    k = n if k is None else k
    plan = plan.with_patches(k)
    sha = resolve_base(plan.tree, plan.base or plan.series.base)
    label = sha[:12] if k == 0 else f"{sha[:12]}+{k}/{n}"
    journal = Journal(args.bisect_dir.resolve()) if args.bisect_dir else None
    seq = journal.next_seq() if journal else 1
    # with --bisect-dir the step's runs go into the bisect's folder, else into the results root
    sweep = Sweep(journal.dir if journal else plan.results_root, pipeline.run)
    if journal:
        plan = replace(plan, extra_info={**plan.extra_info, "bisect": journal.dir.name, "bisect_step": label})
    step = run_step(plan, printer, sweep=sweep, signature=signature, repeat=args.repeat, seq=seq, label=label,
                    run_id=step_name(seq, label) if journal else plan.run_id)
    if journal:
        journal.add(step)
    printer.say(f"bisect-step {seq}: {label} is {step.verdict.value.upper()} ({step.reason})")
    return judge.GIT_BISECT_RC[step.verdict]


def _step_request(args: argparse.Namespace) -> RunRequest:
    """--request FILE (what a range bisect wrote), with --tree/--base from git bisect run; else the options."""
    if args.request is None:
        return options.request(args, args.series or "")
    req = read_request(args.request)
    return replace(req, tree=args.tree or req.tree, base=args.base or req.base)
