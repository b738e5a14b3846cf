"""`bench scan FILE... [--json] [--suppress FILE]`: re-scan saved console logs offline.

Exit codes: 0 when every report found is known (suppressed) or there is none, 1 when a new
kernel report is found, 2 (UserError) when a file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import stat
from pathlib import Path

from bench.base.console_lines import read_log
from bench.base.errors import UserError
from bench.base.limits import LIMITS
from bench.cli import options
from bench.report import issues, issues_file
from bench.report.render import format_report, report_to_dict
from bench.report.scanner import Report, fold, scan


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Add the `scan` subcommand (its handler is set as `func`)."""
    parser = subparsers.add_parser(
        "scan", help="scan console logs for kernel reports",
        description="Find kernel reports (WARNING, BUG, KASAN, lockdep, hangs, panics...) in console logs.")
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="console log to scan")
    parser.add_argument("--json", action="store_true", help="print one JSON object per (folded) report per line")
    parser.add_argument("--suppress", type=options.folder, metavar="FILE",
                        help="known reports: a known-issues.yaml (scope and fixes not checked offline), "
                             "or title regexes, one per line (text) or a YAML list")
    parser.set_defaults(func=handle)
    return parser


def scan_file(path: Path) -> list[Report]:
    """Scan one log (a file or a pipe such as <(dmesg), never a device: /dev/zero never ends),
    read within the limits of a console; undecodable bytes are replaced, not fatal. Opened
    without blocking: a named FIFO with no writer blocks open(2) itself."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise UserError(f"{path}: cannot read console log: {e.strerror or e}") from e
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            raise UserError(f"{path}: not a file or a pipe (a device, a socket)")
        if stat.S_ISFIFO(mode):
            _wait_for_writer(fd, path)
        os.set_blocking(fd, True)
        with os.fdopen(fd, encoding="utf-8", errors="replace") as f:
            fd = -1  # the file object owns it now
            lines = read_log(f, str(path))
    except OSError as e:
        raise UserError(f"{path}: cannot read console log: {e.strerror or e}") from e
    finally:
        if fd >= 0:
            os.close(fd)
    return scan(lines)


def _wait_for_writer(fd: int, path: Path) -> None:
    """A pipe's first byte or its writer's end, LIMITS.pipe_wait_s at most (Linux reports no
    POLLHUP on a FIFO no writer ever opened)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    if not poller.poll(LIMITS.pipe_wait_s * 1000):
        raise UserError(f"{path}: a pipe with nothing written to it in {LIMITS.pipe_wait_s} s"
                        " (no writer?)")


def handle(args: argparse.Namespace) -> int:
    known = issues.everywhere(issues_file.load(args.suppress) if args.suppress else ())
    new_reports = 0
    for path in args.files:
        folded = fold(scan_file(path))
        flags = [known.is_known(rep.title) for rep, _ in folded]
        new_reports += flags.count(False)
        if args.json:
            _print_json(path, folded, flags)
        else:
            _print_text(path, folded, flags)
    return 1 if new_reports else 0


def _print_json(path: Path, folded: list[tuple[Report, int]], known: list[bool]) -> None:
    for (rep, count), is_known in zip(folded, known):
        print(json.dumps({"file": str(path), "known": is_known, **report_to_dict(rep, count)}))


def _print_text(path: Path, folded: list[tuple[Report, int]], known: list[bool]) -> None:
    if not folded:
        print(f"{path}: no kernel reports")
        return
    total = sum(count for _, count in folded)
    print(f"{path}: {total} kernel report(s), {len(folded)} distinct, {known.count(False)} new")
    for (rep, count), is_known in zip(folded, known):
        print(format_report(rep, count, is_known))
