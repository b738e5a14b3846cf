"""`bench bisect` and `bench bisect-step`: the command lines of bench/bisect.py.

    bench bisect SERIES [--signature KEY]... [--repeat N] [--check] [run options]
    bench bisect [SERIES] --good REV --bad REV [--tree PATH] [...]
    bench bisect-step [SERIES] [--patches K] [--signature KEY]... [--repeat N] [run options]

bisect exits 0 when it found the first bad patch/commit, 1 when there is none to find
(the tip does not reproduce, the base fails too, or only untestable ones are left), 2 on
infrastructure or usage errors. bisect-step speaks `git bisect run`: 0 good, 1 bad, 125
skip, 128 abort, and nothing else: git bisect reads any other code below 128 as "bad".
`python -m bench.bisect_cli bisect-step ...` works without the main `bench` parser.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import traceback
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from bench import bisect, cli, tree
from bench.errors import BenchError, UserError
from bench.pipeline import Plan
from bench.printer import Printer

ABORT = bisect.GIT_BISECT_RC[bisect.Verdict.ABORT]
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
_CHILD_SETS = ("tree", "base", "results")  # run options the range driver sets itself


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add `bisect` and `bisect-step` (their handlers are set as `func`)."""
    p = subparsers.add_parser(
        "bisect", help="find the first patch (or commit) that reproduces the tip's failure",
        description="Binary-search a series' patches (or --good..--bad commits with git bisect run)"
                    " for the first kernel that fails the way the tip does.")
    p.add_argument("series", nargs="?",
                   help="series to bisect; with --good/--bad it only brings kconfigs, workloads, suppressions")
    p.add_argument("--good", metavar="REV", help="range mode: a commit without the failure")
    p.add_argument("--bad", metavar="REV", help="range mode: a commit with the failure")
    p.add_argument("--check", action="store_true",
                   help="also verify the good end (one more build), and the bad end even with --signature;"
                        " off by default so a bisect stays within ceil(log2 n)+1 builds")
    _add_step_options(p)
    cli.add_run_options(p)
    p.set_defaults(func=handle)

    s = subparsers.add_parser(
        "bisect-step", help="one bisect step for git bisect run: exit 0 good, 1 bad, 125 skip, 128 abort",
        description="Run SERIES (or the tree as it is) on --tree at --base (default HEAD) and say"
                    " whether it reproduces the signature, in git bisect run's exit codes.")
    s.add_argument("series", nargs="?", help="series to apply (default: none, the tree as it is)")
    s.add_argument("--patches", type=_count, metavar="K", help="apply only the first K patches")
    s.add_argument("--bisect-dir", type=Path, metavar="DIR",
                   help="the bisect's folder: the step's runs go there and it joins bisect.log")
    _add_step_options(s)
    cli.add_run_options(s)
    s.set_defaults(func=handle_step)
    return p


def _add_step_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--signature", action="append", default=[], metavar="KEY",
                   help="failure to look for: workload/NAME or report/TITLE; repeatable"
                        " (default: whatever fails at the tip; for bisect-step: any workload/report failure)")
    p.add_argument("--repeat", type=_positive, default=1, metavar="N",
                   help="runs a step (flaky failures): bad if any run reproduces")


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: must be 0 or more")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be 1 or more")
    return value


# -- bench bisect -----------------------------------------------------------------------


def handle(args: argparse.Namespace) -> int:
    printer = Printer()
    opts = bisect.Options(bisect.parse_signature(args.signature), args.repeat, args.check)
    home = cli.default_home()
    if (args.good is None) != (args.bad is None):
        raise UserError("--good and --bad go together (range mode)")
    if args.good is None:
        if not args.series:
            raise UserError("bench bisect: give a SERIES to bisect, or --good REV --bad REV")
        result = bisect.bisect_series(cli.make_plan(args, home, args.series), printer, opts)
    else:
        result = _bisect_range(args, home, printer, opts)
    print_summary(printer, result)
    return result.exit_code


def _bisect_range(args: argparse.Namespace, home: Path, printer: Printer,
                  opts: bisect.Options) -> bisect.BisectResult:
    with tempfile.TemporaryDirectory(prefix="pinbench-bisect-") as tmp:
        spec = args.series
        if not spec:  # the tree's own commits: an empty series gives the config and work slot
            kernel = tree.resolve_tree(args.tree, os.environ, cli.default_cache())
            spec = str(empty_series(Path(tmp), f"range-{kernel.name}"))
        plan = cli.make_plan(args, home, spec)
        # The child runs in the scratch worktree: it gets the series by absolute path.
        step = [sys.executable, "-m", "bench.bisect_cli", "bisect-step", str(plan.series.source),
                *run_option_argv(args)]
        return bisect.bisect_range(plan, printer, opts, args.good, args.bad, step, child_env(home))


def empty_series(parent: Path, name: str) -> Path:
    """A series folder without patches (series.yaml only), named after the work slot."""
    folder = parent / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "series.yaml").write_text("description: the tree as it is (no patches)\n")
    return folder


def run_option_argv(args: argparse.Namespace) -> list[str]:
    """The shared run options of args as argv, for a child `bisect-step`.

    Read from add_run_options' own definitions, so an option added there is passed on
    too. Paths become absolute: the child runs in another directory.
    """
    probe = argparse.ArgumentParser(add_help=False)
    cli.add_run_options(probe)
    argv: list[str] = []
    for action in probe._actions:
        if action.dest in _CHILD_SETS or not action.option_strings:
            continue
        flag, value = action.option_strings[0], getattr(args, action.dest, None)
        if isinstance(action, argparse._AppendAction):
            for item in value or ():
                argv += [flag, _absolute(item)]
        elif action.nargs == 0:  # store_true and friends
            if value != action.default:
                argv.append(flag)
        elif value is not None and value != action.default:
            argv += [flag, _absolute(value)]
    return argv


def _absolute(value: object) -> str:
    if isinstance(value, Path) or (isinstance(value, str) and "/" in value and Path(value).exists()):
        return str(Path(value).resolve())
    return str(value)


def child_env(home: Path) -> dict[str, str]:
    """What `python -m bench.bisect_cli` needs in a scratch worktree: the package, the project."""
    path = os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "BENCH_HOME": str(home)}


def print_summary(printer: Printer, result: bisect.BisectResult) -> None:
    out = printer.stream
    out.write(f"\n==== pinbench bisect {result.series} ({result.run_id}) ====\n")
    for step in result.steps:
        out.write(f"  {step.log_line()}\n")
    out.write(f"{result.conclusion.value.upper()}: {result.message}\n")
    if c := result.culprit:
        out.write(f"  subject:   {c.subject}\n")
        if c.commit and c.commit != c.name:
            out.write(f"  commit:    {c.commit}\n")
        out.write(f"  signature: {', '.join(result.signature)}\n")
        for e in c.evidence:
            out.write(f"  {e.key}: {e.message}\n")
    out.write(f"builds: {result.builds} in {len(result.steps)} step(s), {result.secs:.0f}s\n")
    out.write(f"results: {result.results_dir}\n")
    out.flush()


# -- bench bisect-step ------------------------------------------------------------------


def handle_step(args: argparse.Namespace) -> int:
    """One step; every way out is one of git bisect run's codes."""
    try:
        return _step(args, Printer())
    except BenchError as e:
        print(f"bench: error: {e}", file=sys.stderr)
        return ABORT
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return ABORT
    except Exception:  # a traceback's exit 1 would read as "bad" to git bisect
        traceback.print_exc()
        return ABORT


def _step(args: argparse.Namespace, printer: Printer) -> int:
    signature = bisect.parse_signature(args.signature)
    plan = _step_plan(args, cli.default_home())
    n, k = len(plan.series.patches), args.patches
    if k is not None and k > n:
        raise UserError(f"--patches {k}: series {plan.series.name} has only {n}")
    k = n if k is None else k
    plan = replace(plan, series=replace(plan.series, patches=plan.series.patches[:k]))
    sha = tree.resolve_base(plan.tree, plan.base or plan.series.base)
    label = sha[:12] if k == 0 else f"{sha[:12]}+{k}/{n}"
    if args.bisect_dir is None:
        journal, seq, name = None, 1, plan.run_id
    else:
        journal = bisect.Journal(args.bisect_dir.resolve())
        seq = journal.next_seq()
        name = bisect.step_name(seq, label)
        plan = replace(plan, results_root=journal.dir,
                       extra_info={"bisect": journal.dir.name, "bisect_step": label})
    step = bisect.run_step(plan, printer, signature=signature, repeat=args.repeat,
                           seq=seq, label=label, run_id=name)
    if journal:
        journal.add(step)
    printer.say(f"bisect-step {seq}: {label} is {step.verdict.value.upper()} ({step.reason})")
    return bisect.GIT_BISECT_RC[step.verdict]


def _step_plan(args: argparse.Namespace, home: Path) -> Plan:
    if args.series:
        return cli.make_plan(args, home, args.series)
    with tempfile.TemporaryDirectory(prefix="pinbench-step-") as tmp:
        return cli.make_plan(args, home, str(empty_series(Path(tmp), "bisect-step")))


# -- python -m bench.bisect_cli ---------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """The two commands without the main parser: what `git bisect run` calls."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m bench.bisect_cli")
    add_parser(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # a usage error's 2 would read as "bad" to git bisect
        if argv[:1] == ["bisect-step"] and e.code not in (0, None):
            return ABORT
        raise
    return cli.dispatch(args)


if __name__ == "__main__":
    sys.exit(main())
