"""`bench run SERIES` and `bench list series|kconfigs|workloads`."""

from __future__ import annotations

import argparse

from bench import guests, pipeline, series
from bench.cli import options
from bench.plan import default_home, make_plan
from bench.printer import Printer


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="apply, build, boot and test a patch series")
    p.add_argument("series", help="a name under patches/, a quilt/format-patch folder, or an mbox file")
    options.add_run_options(p)
    p.set_defaults(func=cmd_run)
    lst = sub.add_parser("list", help="list series, kconfig fragments or workloads")
    lst.add_argument("what", choices=("series", "kconfigs", "workloads"))
    lst.set_defaults(func=cmd_list)


def cmd_run(args: argparse.Namespace) -> int:
    printer = Printer()
    plan = make_plan(options.request(args, args.series), default_home())
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
