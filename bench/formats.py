"""Format versions of the files the bench writes and later reads back.

night.json, request.json, summary.json, a slot's state.json and known-issues.yaml may have
been written by an older or newer bench, or half by a crash. Each carries `format: N`.
A file without the key is today's format (version 1: results written before versions
existed stay readable); another version, or a file that is not what it claims to be, is
named on one warning line and left out: it never crashes a later step.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

KEY = "format"
NIGHT = 1  # bench/nightly/night_file.py
REQUEST = 1  # bench/plan.py RunRequest
SUMMARY = 1  # bench/result.py RunResult
STATE = 1  # bench/slot.py State
KNOWN_ISSUES = 1  # bench/report/issues_file.py

_warned: set[str] = set()


class FormatProblem(ValueError):
    """A file another bench (or a crash) wrote; the message names the file and the problem."""


def stamp(data: dict[str, Any], version: int) -> dict[str, Any]:
    """The data as written: the version first, so `head` shows it."""
    return {KEY: version, **{k: v for k, v in data.items() if k != KEY}}


def check(path: Path, data: object, version: int) -> dict[str, Any]:
    """data as read from path, if it is an object of this format (else FormatProblem)."""
    if not isinstance(data, dict):
        raise FormatProblem(f"{path}: not a JSON object")
    found = data.get(KEY, 1)  # un-versioned: written before versions, today's format
    if isinstance(found, bool) or not isinstance(found, int):
        raise FormatProblem(f"{path}: format {str(found)[:40]!r} is not a version number")
    if found != version:
        raise FormatProblem(f"{path}: format {found}, this bench reads format {version}")
    return data


def warn(message: str) -> None:
    """One line on stderr, once per message a process (nights are read back several times)."""
    line = " ".join(message.split())[:300]
    if line not in _warned:
        _warned.add(line)
        print(f"warning: {line}", file=sys.stderr, flush=True)
