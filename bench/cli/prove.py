"""`bench prove [CATALOGUE]`: the bug catalogue through the bench, with the catch table."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.base.errors import UserError
from bench.cli import options
from bench.drivers import prove
from bench.drivers.prove import state as prove_state
from bench.run.plan import RunRequest, default_home
from bench.run.printer import Printer


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "prove", help="run the bug catalogue: every bug must be caught and the unpatched tree must pass",
        description="Run the control (the tree as it is) and every bug series of CATALOGUE (default"
                    " patches/bugs) with the same workloads, print the catch table and write junit.xml"
                    " and summary.json. A bug is caught when every case of its series.yaml catch: fails"
                    " (with its message regex, if given) and the control failed none of them. Exit 0 when"
                    " the control passes and every bug is caught, 1 otherwise, 2 on infrastructure trouble.")
    p.add_argument("catalogue", nargs="?", type=options.folder, help="folder of bug series (default: <home>/patches/bugs)")
    p.add_argument("--bug", action="append", default=[], metavar="NAME", help="only this bug; repeatable")
    p.add_argument("--repeat", type=options.int_in(1, 100), default=1, metavar="N",
                   help="run each bug's kernel N times and print its catch rate (a bug is CAUGHT only"
                        " when every run that decided anything caught it)")
    p.add_argument("--resume", type=options.folder, metavar="DIR",
                   help="finish a stopped proof: DIR is its folder; the runs that finished are read back, the"
                        " rest run, with the options, catalogue and bugs it started with (refused when the"
                        " bench, its guests, kconfigs or catalogue, or the tree's base changed since)")
    options.add_run_options(p)
    p.set_defaults(func=cmd_prove)


def cmd_prove(args: argparse.Namespace) -> int:
    home = default_home()
    # the control profiles the bugs' files and --coverage-object's unless --no-coverage
    options.coverage_objects_used(args, args.coverage is not False)
    if args.resume:
        folder = args.resume.resolve()
        request, started = resumed(args, folder)
    else:
        folder = None
        request = options.request(args, "")
        # the control profiles the bugs' files (whether each bug's code ran) unless --no-coverage;
        # --coverage also maps each bug run's own changed lines
        catalogue = (args.catalogue or home / "patches" / "bugs").resolve()
        started = prove_state.Started(catalogue, tuple(args.bug), args.repeat, args.coverage is not False, "", ())
    bugs = prove.plans(request, home, started.catalogue, started.bugs)
    if folder is not None:
        prove_state.check_same(folder, started, home, bugs)
    options.preflight(bugs)
    printer = Printer()
    control, verdicts, out = prove.prove(request, home, bugs, printer, started.repeat, started.reach,
                                         started.catalogue, resume=folder)
    printer.text(prove.summary(control, verdicts, out, printer.status))
    return prove.exit_code(control, verdicts)


def resumed(args: argparse.Namespace, folder: Path) -> tuple[RunRequest, prove_state.Started]:
    """`--resume DIR`: what the proof in DIR started with; any other choice on the command line
    is refused (a resumed proof is the one that was started, or it proves nothing)."""
    given = [what for what, set_ in (("a catalogue", args.catalogue), ("--bug", args.bug), ("--repeat", args.repeat != 1),
                                      ("run options", options.request(args, "") != RunRequest(series="")))
             if set_]
    if given:
        raise UserError(f"--resume continues {args.resume} as it was started: leave out {given[0]}")
    return prove_state.read(folder)
