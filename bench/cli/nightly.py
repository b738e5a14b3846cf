"""`bench nightly [MATRIX]` and `bench merge SHARD_DIR...`.

Exit codes (both commands): 1 when something fails that did not fail in the previous
night (or there is no previous night), else 2 on infrastructure trouble (an entry's run
was an ERROR, an entry or shard is missing, the night was interrupted) or bad input,
else 0 (everything passed, or failed exactly as before).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
from pathlib import Path

from bench.base import rundir
from bench.base.errors import InfraError
from bench.cli import options
from bench.drivers.nightly import matrix as nightly_matrix, night as nightly, parallel
from bench.drivers.nightly.night_file import load_night, require_night
from bench.run.plan import RunRequest, default_home, read_request
from bench.run.printer import Printer


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `nightly` and `merge` (their handlers are set as `func`)."""
    p = subparsers.add_parser(
        "nightly", help="run a matrix of series x kconfig sets and compare with the previous night",
        description="Run every entry of a matrix (series x named kconfig sets) into one night folder "
                    "under <results>/nightly/, with an aggregated JUnit file, summary.md, index.html, "
                    "kcidb.json and a comparison with the previous night.")
    p.add_argument("matrix", nargs="?", type=options.folder,
                   help="matrix file (default: <home>/nightly/matrix.yaml)")
    options.add_run_options(p)
    _common(p)
    p.add_argument("--shard", metavar="I/N",
                   help="run only slice I of N (dealt by a hash of the entry ids); combine with `bench merge`")
    p.add_argument("--list", action="store_true", help="print the entry ids (of this shard) and exit")
    p.add_argument("--parallel", type=options.int_in(1, 64), default=1, metavar="N",
                   help="run N shards at once (each with its share of the cores), merged into one night")
    p.add_argument("--request", type=options.folder, metavar="FILE",
                   help="the run options as a request.json written by bench, in place of the options "
                        "above (what --parallel gives each of its shards)")
    p.set_defaults(func=cmd_nightly)

    m = subparsers.add_parser(
        "merge", help="combine shard nights into one night and compare it with the previous night",
        description="Copy the runs of the shard night folders into one night folder (the same files "
                    "as an unsharded night) and compare it with the previous night.")
    m.add_argument("shards", nargs="+", type=options.folder, metavar="DIR", help="a night folder made with --shard")
    m.add_argument("--results", type=options.folder, help="results root (default: <home>/results)")
    _common(m)
    m.set_defaults(func=cmd_merge)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=options.folder, metavar="DIR",
                   help="the night folder (default: <results>/nightly/<YYYYmmdd-HHMMSS>[-shard-I-of-N])")
    p.add_argument("--previous", type=options.folder, metavar="DIR",
                   help="compare with this night folder (default: the newest earlier complete, "
                        "unsharded night next to this one)")
    p.add_argument("--log-url", metavar="URL",
                   help="where the night folder will be published, for the links in kcidb.json "
                        "(default: file:// paths)")


def _nightly_root(args: argparse.Namespace, home: Path) -> Path:
    return (args.results or home / "results").resolve() / "nightly"


def cmd_nightly(args: argparse.Namespace) -> int:
    home = default_home()
    matrix = nightly_matrix.load(args.matrix or home / "nightly" / "matrix.yaml", home / "patches")
    shard = nightly_matrix.parse_shard(args.shard) if args.shard else None
    entries = nightly_matrix.shard(matrix.entries, *shard) if shard else matrix.entries
    if args.list:
        for entry in entries:
            print(entry.id)
        return 0
    if args.previous:  # named by the user: refused now, not after the night has run
        require_night(args.previous)
    printer = Printer()
    night_dir = nightly.fresh_dir(args.out or nightly.new_night_dir(_nightly_root(args, home), shard))
    request = read_request(args.request) if args.request else options.request(args, "")
    if args.parallel > 1 and not shard:
        return _parallel(args, request, home, matrix, entries, night_dir, printer)
    try:
        plans = nightly.plan_entries(request, home, matrix, entries, night_dir)
        options.preflight(plan for _, plan in plans)
        night = nightly.run_night(plans, matrix, entries, shard, night_dir, printer)
    except KeyboardInterrupt:
        if (partial := load_night(night_dir)) is not None:  # report what ran, marked incomplete
            nightly.finish(night_dir, partial, args.previous, args.log_url, printer)
        raise
    except BaseException:
        if not (night_dir / rundir.NIGHT).exists():  # bad input found while planning: leave nothing
            shutil.rmtree(night_dir, ignore_errors=True)
        raise
    return nightly.finish(night_dir, night, args.previous, args.log_url, printer)


def cmd_merge(args: argparse.Namespace) -> int:
    home = default_home()
    if args.previous:
        require_night(args.previous)
    out = args.out or nightly.new_night_dir(_nightly_root(args, home), None)
    night = nightly.merge(args.shards, out)
    return nightly.finish(out.resolve(), night, args.previous, args.log_url, Printer())


def _parallel(args: argparse.Namespace, request: RunRequest, home: Path, matrix: nightly_matrix.Matrix,
              entries: tuple[nightly_matrix.Entry, ...], night_dir: Path, printer: Printer) -> int:
    """--parallel N: checked and preflighted here once, run as N shard children, merged."""
    plans = nightly.plan_entries(request, home, matrix, entries, night_dir)
    options.preflight(plan for _, plan in plans)
    jobs = request.jobs or max(1, (os.cpu_count() or 1) // args.parallel)
    printer.say(f"nightly: {len(plans)} entries as {args.parallel} shards at once, make -j{jobs} each")
    try:
        shards, work = parallel.run_shards(matrix.path.resolve(), dataclasses.replace(request, jobs=jobs), args.parallel,
                                           night_dir)
    except KeyboardInterrupt:  # the shards were stopped and kept what ran: the night reports it
        if stopped := parallel.written(parallel.work_dir(night_dir), args.parallel):
            night_dir.rmdir()
            nightly.finish(night_dir, nightly.merge(stopped, night_dir), args.previous, args.log_url, printer)
        raise  # the shards' folder is kept: the stopped runs' logs are there
    if not shards:
        raise InfraError(f"{work}: no shard wrote a night (see shard-*.log there)")
    night_dir.rmdir()  # merge makes it again, from the shards
    night = nightly.merge(shards, night_dir)
    parallel.clean(work)
    return nightly.finish(night_dir, night, args.previous, args.log_url, printer)
