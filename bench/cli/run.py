"""`bench run SERIES` and `bench list series|kconfigs|workloads`."""

from __future__ import annotations

import argparse

from bench import guests, pipeline, series, slot
from bench.cli import options
from bench.plan import default_cache, default_home, make_plan
from bench.printer import Printer


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="apply, build, boot and test a patch series")
    p.add_argument("series", help="a name under patches/, a quilt/format-patch folder, or an mbox file")
    options.add_run_options(p)
    p.set_defaults(func=cmd_run)
    lst = sub.add_parser("list", help="list series, kconfig fragments or workloads")
    lst.add_argument("what", choices=("series", "kconfigs", "workloads"))
    lst.set_defaults(func=cmd_list)
    gc = sub.add_parser("gc", help="reclaim disk: remove work slots beyond the most recently used ones",
                        description="Work slots (a worktree and a build dir each, ~2 GB) are kept between runs "
                                    "so builds are incremental; this removes all but the KEEP most recently used.")
    gc.add_argument("--keep", type=options.int_in(0), default=1, help="slots to keep (default 1)")
    gc.set_defaults(func=cmd_gc)


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


def cmd_gc(args: argparse.Namespace) -> int:
    removed = slot.gc(default_cache(), args.keep)
    for path in removed:
        print(f"removed {path}")
    print(f"{len(removed)} work dir(s) removed")
    return 0
