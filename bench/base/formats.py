"""Format versions of the files the bench writes and later reads back.

night.json, request.json, summary.json, a slot's state.json and known-issues.yaml may have
been written by an older or newer bench, or half by a crash. Each carries `format: N`.
A file without the key is today's format (version 1: results written before versions
existed stay readable); another version, or a file that is not what it claims to be, is
named on one warning line and left out: it never crashes a later step.
"""

from __future__ import annotations

import json
import math
import os
import stat
import sys
from pathlib import Path
from typing import Any

from bench.base import files
from bench.base.limits import LIMITS

KEY = "format"
NIGHT = 1  # bench/drivers/nightly/night_file.py
REQUEST = 1  # bench/run/plan.py RunRequest
SUMMARY = 1  # bench/run/result.py RunResult
STATE = 1  # bench/run/slot.py State
KNOWN_ISSUES = 1  # bench/report/issues_file.py
PROVE = 1  # bench/drivers/prove/state.py: a prove folder's prove.json

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


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def _int(text: str) -> int:
    if len(text.lstrip("-")) > LIMITS.int_digits:  # int() of 4300 digits raises; of 4000 is slow
        raise ValueError(f"an integer of {len(text)} characters, over the limit of {LIMITS.int_digits} digits")
    return int(text)


def _bad_value(data: object) -> str | None:
    """What no file the bench wrote holds: nesting over the limit, a number that is not finite
    (1e999 is read as inf), a string with a lone surrogate (it cannot be written back)."""
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, (dict, list)):
            if depth > LIMITS.json_depth:
                return f"nested over the limit of {LIMITS.json_depth} levels"
            items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            stack += [(v, depth + 1) for v in items]
        elif isinstance(value, float) and not math.isfinite(value):
            return f"a number out of range ({value})"
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return f"a string with a lone surrogate ({value.encode('utf-8', 'backslashreplace')[:40]!r})"
    return None


def parse_json(path: Path, raw: bytes) -> object:
    """A JSON file the bench wrote, read strictly (FormatProblem naming path and the problem):
    UTF-8, within the limits, finite numbers, no lone surrogates, so no later step (a page, a
    night's files, the printer) meets a value it cannot handle."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FormatProblem(f"{path}: not UTF-8 (byte {e.start})") from e
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_int=_int)
    except RecursionError as e:
        raise FormatProblem(f"{path}: not JSON: nested over the limit of {LIMITS.json_depth} levels") from e
    except ValueError as e:
        raise FormatProblem(f"{path}: not JSON: {str(e)[:200]}") from e
    if problem := _bad_value(data):
        raise FormatProblem(f"{path}: {problem}")
    return data


def read_bytes(path: Path) -> bytes:
    """A file read back (FormatProblem if it cannot be read, naming why): a regular file of at
    most LIMITS.json_bytes. A shard or a folder beside a night may hold anything: a FIFO named
    summary.json hung `bench merge`, a link to /dev/zero read until the OOM killer."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise FormatProblem(f"{path}: cannot read: {e.strerror or e}") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FormatProblem(f"{path}: not a regular file ({files.kind(st.st_mode)})")
        if st.st_size > LIMITS.json_bytes:  # said before reading half a gigabyte of it
            raise FormatProblem(f"{path}: over the limit of {LIMITS.json_bytes} bytes")
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(LIMITS.json_bytes + 1)
    except OSError as e:
        raise FormatProblem(f"{path}: cannot read: {e.strerror or e}") from e
    finally:
        os.close(fd)
    if len(raw) > LIMITS.json_bytes:
        raise FormatProblem(f"{path}: over the limit of {LIMITS.json_bytes} bytes")
    return raw


def load_json(path: Path) -> object:
    """parse_json of the file (FormatProblem if it cannot be read, naming why)."""
    return parse_json(path, read_bytes(path))


def warn(message: str) -> None:
    """One line on stderr, once per message a process (nights are read back several times)."""
    line = " ".join(message.split())[:300]
    if line not in _warned:
        _warned.add(line)
        print(f"warning: {line}", file=sys.stderr, flush=True)
