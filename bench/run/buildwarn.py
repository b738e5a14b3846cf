"""Compiler warnings of a build log, per object, and what a patch added or removed.

An incremental build only prints the warnings of the objects it recompiles, so the warning
count of one build says nothing about a patch. What does (NIPA's build checks): the warnings
of the objects a patch makes recompile, compiled before the patch and after it. `bench run
--each` gets both: after prefix k-1 boots, it touches the files patch k changes and runs
make again (the "before" build: those objects at k-1, cheap with ccache, which replays
warnings on a hit); the build of prefix k recompiles the same objects with the patch.

make runs with --output-sync=line (bench/run/build.py), so each object's kbuild line ("  CC
mm/gup.o") and the compiler's output for it arrive together; a warning belongs to the object
whose line came last. A warning is keyed by its file and message, without line and column
numbers (a patch moves lines); the same warning twice (a header included by two objects)
counts twice.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

# kbuild's quiet lines: "  CC      mm/gup.o", "  CC [M]  fs/x.o", "  LD      vmlinux.o"
_STEP = re.compile(r"^\s{1,4}([A-Z][A-Z0-9_]*(?: \[M\])?)\s+(\S+)\s*$")
_COMPILE = ("CC", "CC [M]", "AS", "AS [M]")
_LOCATED = re.compile(r"^(?P<file>[^\s:][^:]*?):(?:\d+:){1,2} warning: (?P<msg>.+)$")
_OTHER = re.compile(r"(?:^|: )(?:warning|WARNING): (?P<msg>.+)$")  # ld, objtool, modpost
LINKER = "(link)"  # the target of warnings printed outside any compile (ld, objtool, modpost)


@dataclass(frozen=True)
class Warnings:
    """One build log's warnings: object -> Counter of "file: message"."""

    by_object: Mapping[str, Counter[str]]
    compiled: frozenset[str]  # every object the log compiled (with or without warnings)

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.by_object.values())


@dataclass(frozen=True)
class Delta:
    """What a patch did to the warnings of the objects it made recompile."""

    added: tuple[str, ...]  # "file: message", once per extra occurrence
    removed: tuple[str, ...]
    compared: int  # objects compiled both before and after (or new with the patch)
    unknown: tuple[str, ...] = ()  # objects recompiled after but not before: not compared


def _strip(path: str, prefixes: Iterable[str]) -> str:
    for p in prefixes:
        if p and path.startswith(p):
            return path[len(p):]
    return path


def parse(lines: Iterable[str], src: Path | None = None, build: Path | None = None) -> Warnings:
    """The warnings of a make log, per object; paths made relative to the source tree."""
    prefixes: list[str] = []
    if src is not None:
        prefixes.append(f"{src}/")
        if build is not None:
            prefixes.append(f"{os.path.relpath(src, build)}/")
    by_object: dict[str, Counter[str]] = {}
    compiled: set[str] = set()
    target = LINKER
    for line in lines:
        line = line.rstrip("\n")
        if m := _STEP.match(line):
            target = m.group(2) if m.group(1) in _COMPILE else LINKER
            if m.group(1) in _COMPILE:
                compiled.add(target)
            continue
        if m := _LOCATED.match(line):
            key = f"{_strip(m.group('file'), prefixes)}: {m.group('msg').strip()}"
        elif m := _OTHER.search(line):
            key = m.group("msg").strip()
        else:
            continue
        by_object.setdefault(target, Counter())[key] += 1
    return Warnings(by_object, frozenset(compiled))


def read(log: Path, src: Path | None = None, build: Path | None = None) -> Warnings | None:
    """parse() of a log file; None if there is none."""
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            return parse(f, src, build)
    except OSError:
        return None


def compare(before: Warnings, after: Warnings, new_sources: Iterable[str] = ()) -> Delta:
    """Warnings the patch added and removed, object by object.

    before: the "before" build (the patch's objects compiled without it); after: the build
    with it. An object of a source file the patch adds had no warnings before it; any other
    object compiled only after is not compared (it was not rebuilt before: a stale work
    slot, a Makefile change), and is named.
    """
    new_objects = {re.sub(r"\.[cS]$", ".o", s) for s in new_sources}
    added: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    unknown = []
    compared = 0
    for obj in sorted(after.compiled):
        if obj not in before.compiled and obj not in new_objects:
            unknown.append(obj)
            continue
        compared += 1
        old = before.by_object.get(obj, Counter())
        new = after.by_object.get(obj, Counter())
        added += new - old
        removed += old - new
    # Linker-level warnings (objtool, modpost) are of the whole image: both builds link it.
    old_link = before.by_object.get(LINKER, Counter())
    new_link = after.by_object.get(LINKER, Counter())
    added += new_link - old_link
    removed += old_link - new_link
    return Delta(tuple(sorted(added.elements())), tuple(sorted(removed.elements())), compared, tuple(unknown))
