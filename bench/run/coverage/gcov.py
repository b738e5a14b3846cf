"""Line counts from the counters the guest saved, through Debian's gcov (--json-format), never
a hand-written .gcda reader. gcov must be of the compiler's major version (the .gcno/.gcda
formats change with it): bench doctor checks that.

Each saved .gcda is paired with the .gcno the build left beside its object, in a scratch
folder, and `gcov --json-format --stdout` reads the two. The JSON names sources as the compiler
saw them (relative to its working directory, the build dir: ../src/mm/gup.c through ccache's
base dir), so each is resolved against that directory and made relative to the worktree.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from bench.base import proc
from bench.base.errors import InfraError

GCOV = "gcov"


@dataclass(frozen=True)
class Count:
    count: int
    partial: bool  # ran, but some of its blocks did not (a branch, an inlined copy)
    function: str = ""  # the function gcov puts the line in ("" when this gcov does not say)


Counts = dict[str, dict[int, Count]]  # worktree-relative source -> line -> count


def source_path(name: str, cwd: str, src: Path) -> str | None:
    """The worktree-relative path of a source gcov names; None if outside the worktree."""
    full = os.path.normpath(os.path.join(cwd, name))
    try:
        return str(PurePosixPath(Path(full).relative_to(src)))
    except ValueError:
        return None


def combine(a: Count | None, b: Count) -> Count:
    """Two records of one line (an inline function's copies, one object and another): counts
    summed; partial when it ran but some record of it has a block that did not."""
    if a is None:
        return b
    total = a.count + b.count
    return Count(total, total > 0 and (a.partial or b.partial or not a.count or not b.count),
                 a.function or b.function)


def parse(doc: Mapping[str, Any], src: Path) -> Counts:
    """One gcov JSON document -> counts per source line."""
    out: Counts = {}
    cwd = str(doc.get("current_working_directory", ""))
    for f in doc.get("files", []):
        path = source_path(str(f.get("file", "")), cwd, src)
        if path is None:
            continue
        lines = out.setdefault(path, {})
        for rec in f.get("lines", []):
            n, count = int(rec["line_number"]), int(rec.get("count", 0))
            lines[n] = combine(lines.get(n), Count(count, count > 0 and bool(rec.get("unexecuted_block")),
                                                   str(rec.get("function_name", ""))))
    return out


def merge(parts: Iterable[Counts]) -> Counts:
    """The counts of several objects (of one workload) together."""
    out: Counts = {}
    for part in parts:
        for path, lines in part.items():
            mine = out.setdefault(path, {})
            for n, c in lines.items():
                mine[n] = combine(mine.get(n), c)
    return out


def run_gcov(gcno: Path, gcda: Path) -> dict[str, Any]:
    """gcov's JSON for one object's notes and counters."""
    with tempfile.TemporaryDirectory(prefix="pinbench-gcov-") as tmp:
        stem = gcno.stem
        shutil.copyfile(gcno, Path(tmp) / f"{stem}.gcno")
        shutil.copyfile(gcda, Path(tmp) / f"{stem}.gcda")
        text = proc.output([GCOV, "--json-format", "--stdout", f"{stem}.gcda"], cwd=Path(tmp))
    try:
        doc = json.loads(text.strip().splitlines()[0])
    except (ValueError, IndexError) as e:
        raise InfraError(f"{GCOV} gave no JSON for {gcda}: {text[:200]!r}") from e
    if not isinstance(doc, dict):
        raise InfraError(f"{GCOV} gave no JSON object for {gcda}")
    return doc
