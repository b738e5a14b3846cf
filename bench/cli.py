"""The `bench` command: argparse in, exit code out (0 pass, 1 fail, 2 infrastructure/usage)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bench import bisect_cli, guests, kconfig, nightly_cli, pipeline, scan_cli, series, tree
from bench.errors import BenchError
from bench.printer import Printer


def default_home() -> Path:
    """The project folder (kconfigs/, guests/, patches/): $BENCH_HOME, the cwd, or the source checkout."""
    if env := os.environ.get("BENCH_HOME"):
        return Path(env).resolve()
    cwd = Path.cwd()
    if (cwd / "kconfigs").is_dir() and (cwd / "guests").is_dir():
        return cwd
    return Path(__file__).resolve().parent.parent


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("BENCH_CACHE", Path(base) / "pinbench"))


def add_run_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("run", help="apply, build, boot and test a patch series")
    p.add_argument("series", help="a name under patches/, a quilt/format-patch folder, or an mbox file")
    add_run_options(p)
    p.set_defaults(func=cmd_run)


def add_run_options(p: argparse.ArgumentParser) -> None:
    """The options every command that runs kernels shares (run, bisect, nightly)."""
    p.add_argument("--tree", help="kernel git tree (default: $BENCH_TREE or the cached linux-source tree)")
    p.add_argument("--base", help="commit to apply the series on (default: series.yaml base, else HEAD)")
    p.add_argument("--kconfig", action="append", default=[], metavar="FRAG",
                   help="extra kconfig fragment (name in kconfigs/ or a path); repeatable")
    p.add_argument("--workload", action="append", default=[], metavar="NAME",
                   help="guest workload (replaces the series' list); repeatable")
    p.add_argument("--param", action="append", default=[], metavar="W.NAME=VALUE",
                   help="override a workload parameter, e.g. odirect.SECONDS=30")
    p.add_argument("--accel", choices=("auto", "kvm", "tcg"), default="auto",
                   help="auto: use KVM only if a probe boot proves it works")
    p.add_argument("--jobs", type=int, default=0, help="make -j (default: all cores)")
    p.add_argument("--memory", default="2G", help="guest memory (default 2G)")
    p.add_argument("--cpus", type=int, default=2, help="guest CPUs (default 2)")
    p.add_argument("--append", action="append", default=[], metavar="ARG", help="extra kernel command line")
    p.add_argument("--suppress", action="append", default=[], type=Path, metavar="FILE",
                   help="known-report title patterns (one regex a line)")
    p.add_argument("--results", type=Path, help="results root (default: <home>/results)")
    p.add_argument("--baseline", action="store_true",
                   help="also boot the unpatched base: reports also found there are marked, not failed")


def make_plan(args: argparse.Namespace, home: Path, spec: str | None = None) -> pipeline.Plan:
    """A Plan from the shared run options; spec overrides args.series."""
    cache = default_cache()
    s = series.load_series(spec or args.series, home / "patches")
    names = args.workload or list(s.workloads) or [guests.DEFAULT_SET]
    workloads = guests.override(guests.select(names, home / "guests"), args.param)
    frag_names = [kconfig.BASE_NAME, *s.kconfigs, *(k for w in workloads for k in w.kconfigs), *args.kconfig]
    fragments = tuple(kconfig.find_fragment(n, home / "kconfigs") for n in dict.fromkeys(frag_names))
    results_root = (args.results or home / "results").resolve()
    results_root.mkdir(parents=True, exist_ok=True)
    for f in args.suppress:
        if not f.is_file():
            raise BenchError(f"{f}: suppression file not found")
    return pipeline.Plan(
        series=s,
        tree=tree.resolve_tree(args.tree, os.environ, cache),
        base=args.base,
        fragments=fragments,
        workloads=workloads,
        home=home,
        results_root=results_root,
        cache_dir=cache,
        accel=args.accel,
        jobs=args.jobs,
        suppress_files=tuple(f.resolve() for f in args.suppress),
        memory=args.memory,
        cpus=args.cpus,
        append=tuple(args.append),
        run_id=pipeline.new_run_id(results_root, s.name),
        baseline=getattr(args, "baseline", False),
    )


def cmd_run(args: argparse.Namespace) -> int:
    printer = Printer()
    plan = make_plan(args, default_home())
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    add_run_parser(sub)
    scan_cli.add_parser(sub)
    bisect_cli.add_parser(sub)
    nightly_cli.add_parser(sub)
    p = sub.add_parser("list", help="list series, kconfig fragments or workloads")
    p.add_argument("what", choices=("series", "kconfigs", "workloads"))
    p.set_defaults(func=cmd_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch(build_parser().parse_args(argv))


def dispatch(args: argparse.Namespace) -> int:
    """Run the chosen command; a BenchError becomes its one-line message and exit code."""
    try:
        return int(args.func(args))
    except BenchError as e:
        print(f"bench: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `bench scan ... | head`: the reader left, not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
