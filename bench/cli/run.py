"""`bench run SERIES` and `bench list series|kconfigs|workloads`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from bench.base.errors import UserError
from bench.base.stats import ALPHA
from bench.cli import options
from bench.drivers import doctor, repeat
from bench.drivers.each import export as each_export, walk as each
from bench.run import guests, pipeline, series, slot
from bench.run.plan import default_cache, default_home, make_plan
from bench.run.printer import Printer


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="apply, build, boot and test a patch series")
    p.add_argument("series", type=options.series_name,
                   help="a name under patches/, a quilt/format-patch folder, or an mbox file")
    options.add_run_options(p)
    p.add_argument("--each", action="store_true",
                   help="build and boot every prefix of the series (the base, then 1..n patches, one"
                        " incremental build each) and say what each patch changed; names the first"
                        " patch that brings a failure")
    p.add_argument("--repeat", type=options.int_in(1, 100), default=1, metavar="N",
                   help="run the kernel N times: fail:runs per case, flaky cases (failed and passed, no"
                        " kernel report) marked; with --baseline the base N times too, and a case fails only"
                        " when its failure rate is above the base's (one-sided Fisher exact test, --alpha)")
    p.add_argument("--alpha", type=float, metavar="P",
                   help=f"significance level of the --repeat N --baseline test (default {ALPHA}; only with both)")
    p.set_defaults(func=cmd_run)
    lst = sub.add_parser("list", help="list series, kconfig fragments or workloads")
    lst.add_argument("what", choices=("series", "kconfigs", "workloads"))
    lst.set_defaults(func=cmd_list)
    doc = sub.add_parser("doctor", help="check this machine: tools, packages, disk, KVM (the preflight of every run)",
                         description="Check what runs need: host tools and files (scripts/requirements-debian.txt,"
                                     " the list scripts/setup-debian.sh installs), Python packages, vng, free disk"
                                     " and /dev/kvm. Exit 0 when all is there, 2 when something is missing.")
    doc.add_argument("--workload", action="append", default=[], metavar="NAME",
                     help="only what these workloads need (default: every workload)")
    doc.add_argument("--results", type=options.folder, help="results root to check for space (default: <home>/results)")
    doc.set_defaults(func=cmd_doctor)
    gc = sub.add_parser("gc", help="reclaim disk: remove work slots beyond the most recently used ones",
                        description="Work slots (a worktree and a build dir each, ~2 GB) are kept between runs "
                                    "so builds are incremental; this removes all but the KEEP most recently used.")
    gc.add_argument("--keep", type=options.int_in(0), default=1, help="slots to keep (default 1)")
    gc.set_defaults(func=cmd_gc)


def cmd_run(args: argparse.Namespace) -> int:
    printer = Printer()
    if args.each and args.baseline:
        raise UserError("--each runs the base itself (prefix 0): drop --baseline")
    if args.each and args.repeat > 1:
        raise UserError("--each and --repeat: one at a time (repeat the prefix you doubt)")
    if args.alpha is not None and not (args.repeat > 1 and args.baseline):
        # it was taken and silently did nothing (an out-of-range value too)
        raise UserError(f"--alpha {args.alpha}: needs --repeat N (N >= 2) and --baseline: it is the level of their"
                        " test (the series' failure rate against the base's)")
    alpha = ALPHA if args.alpha is None else args.alpha
    options.coverage_objects_used(args, args.coverage is not False)
    if args.repeat > 1:
        repeat.check(args.repeat, args.baseline, alpha)
    plan = make_plan(options.request(args, args.series, coverage=True), default_home())
    options.preflight([plan])
    if args.repeat > 1:
        result = repeat.run_repeat(plan, printer, args.repeat, alpha)
        printer.text(repeat.table(result))
        return result.exit_code
    if args.each:
        walk = each.run_each(plan, printer)
        printer.text(each_export.table(walk))
        return each_export.exit_code(walk)
    result = pipeline.run(plan, printer)
    printer.summary(result)
    return result.exit_code


def cmd_list(args: argparse.Namespace) -> int:
    home = default_home()
    if args.what == "series":
        items = series.list_series(home / "patches")
    elif args.what == "kconfigs":
        items = sorted(p.stem for p in (home / "kconfigs").glob("*.config"))
    else:
        items = guests.available(home / "guests")
    for item in items:
        print(item)
    return 0


def cmd_gc(args: argparse.Namespace) -> int:
    removed = slot.gc(default_cache(), args.keep)
    for path in removed:
        print(f"removed {path}")
    print(f"{len(removed)} work dir(s) removed")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    home = default_home()
    if args.workload:  # an unknown name is a usage error, not "0 missing" for nothing checked
        guests.select(list(args.workload), home / "guests")
    names = args.workload or guests.available(home / "guests")
    checks = doctor.preflight(home, default_cache(), args.results or home / "results", names,
                              tree_given=bool(os.environ.get("BENCH_TREE")))
    for c in checks:
        mark = "ok" if c.ok else ("MISSING" if c.fatal else "note")
        print(f"  {mark:<7} {c.name}: {c.detail}")
    problems = doctor.missing(checks)
    print(f"doctor: {len(checks)} checks, {len(problems)} missing" + (f"; {doctor.summary(problems)}" if problems else ""))
    return 2 if problems else 0
