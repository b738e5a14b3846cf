"""`bench scan FILE... [--json] [--suppress FILE]`: re-scan saved console logs offline.

Exit codes: 0 when every report found is known (suppressed) or there is none, 1 when a new
kernel report is found, 2 (UserError) when a file cannot be read.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import select
import stat
from pathlib import Path

from bench.base import files
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
            raise UserError(f"{path}: not a file or a pipe ({files.kind(mode)})")
        if stat.S_ISFIFO(mode):
            _wait_for_writer(fd, path)
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as raw:
            fd = -1  # the file object owns it now
            _refuse_binary(raw.peek(_MAGIC_BYTES)[:_MAGIC_BYTES], path)
            lines = read_log(io.TextIOWrapper(raw, encoding="utf-8", errors="replace"), str(path))
    except OSError as e:
        raise UserError(f"{path}: cannot read console log: {e.strerror or e}") from e
    finally:
        if fd >= 0:
            os.close(fd)
    return scan(lines)


# What a console log is not, by its first bytes (and how to read it): a compressed log (CI keeps
# artifacts as console.log.gz) read as text holds no report, and `bench scan` said "no kernel
# reports", exit 0, for the log of a kernel that crashed.
_MAGIC = ((rb"\x1f\x8b", "gzip", "zcat"), (rb"\xfd7zXZ\x00", "xz", "xzcat"), (rb"\(\xb5/\xfd", "zstd", "zstdcat"),
          (rb"BZh[1-9]1AY&SY", "bzip2", "bzcat"), (rb"\x04\"M\x18", "lz4", "lz4cat"), (rb"PK\x03\x04", "zip", "unzip -p"),
          (rb"7z\xbc\xaf\x27\x1c", "7z", "7z x -so"), (rb"\x7fELF", "ELF", ""))
_MAGIC_BYTES = 10


def _refuse_binary(head: bytes, path: Path) -> None:
    for magic, kind, tool in _MAGIC:
        if re.match(magic, head):
            how = f": `{tool} {path} | bench scan /dev/stdin`" if tool else ""
            raise UserError(f"{path}: {kind} data, not a console log{how}")


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
