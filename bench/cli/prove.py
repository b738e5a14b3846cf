"""`bench prove [CATALOGUE]`: the bug catalogue through the bench, with the catch table."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli import options
from bench.drivers import prove
from bench.run.plan import default_home
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
    options.add_run_options(p)
    p.set_defaults(func=cmd_prove)


def cmd_prove(args: argparse.Namespace) -> int:
    home = default_home()
    folder = (args.catalogue or home / "patches" / "bugs").resolve()
    request = options.request(args, "")
    bugs = prove.plans(request, home, folder, args.bug)
    options.preflight(bugs)
    printer = Printer()
    # the control profiles the bugs' files (whether each bug's code ran) unless --no-coverage;
    # --coverage also maps each bug run's own changed lines
    control, verdicts, out = prove.prove(request, home, bugs, printer, args.repeat, args.coverage is not False)
    printer.text(prove.summary(control, verdicts, out, printer.status))
    return prove.exit_code(control, verdicts)
