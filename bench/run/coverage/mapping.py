"""Each changed line's status, from the counts of every window (boot, then each workload).

executed / partial (it ran, but some of its blocks or inlined copies did not) / missed (no
workload ran it; `boot` says whether it ran while the kernel booted) / not code (no
instructions: say why) / not measured (no profiled object could tell: say why). Only the first
three are coverable: they make the ratio.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from bench.run.coverage.changed import Line
from bench.run.coverage.gcov import Count, Counts
from bench.run.coverage.objects import object_of

BOOT = "boot"  # the window from power-on to the first workload
COVERABLE = ("executed", "partial", "missed")
_COMMENT = re.compile(r"^\s*(/\*.*|\*.*|//.*|.*\*/\s*)?$")
_NO_PROFILE = re.compile(r"\bnoinstr\b|\b__no_profile\b|\b__noinstr_section\b")


@dataclass(frozen=True)
class Status:
    line: Line
    status: str  # executed | partial | missed | not code | not measured
    why: str = ""  # for not code / not measured
    workloads: tuple[str, ...] = ()  # the workloads that ran it
    boot: bool = False  # it ran while the kernel booted
    count: int = 0  # workload hits, summed


def enclosing_noinstr(source: Sequence[str], number: int) -> bool:
    """Whether line `number` (1-based) is inside a function declared noinstr/__no_profile: the
    lines at column 0 between the previous function's closing brace and it are its signature."""
    i = number - 1
    while i > 0:
        i -= 1
        text = source[i] if i < len(source) else ""
        if text.startswith("}"):
            return False
        if text[:1].isalpha() and _NO_PROFILE.search(text):
            return True
    return False


def no_code_reason(text: str) -> str:
    if not text.strip():
        return "blank"
    if _COMMENT.match(text):
        return "comment"
    if text.lstrip().startswith("#"):
        return "preprocessor"
    return "no line record in gcov (a declaration, code merged into another line or dropped, or #if'd out)"


def unmeasured_why(path: str, unmeasured: Mapping[str, str], seen: Collection[str]) -> str:
    """Why no count of path can be trusted ("" when they can): unmeasured names a path or its
    object; seen: the paths some window has counts of."""
    why = unmeasured.get(path) or unmeasured.get(object_of(path), "")
    if path.endswith(".S"):
        return why or "assembly: gcov profiles C only"
    if not why and path not in seen:
        return ("no profiled object includes it (name one with --coverage-object)" if path.endswith(".h")
                else "no counters for this file")
    return why


def classify(lines: Sequence[Line], windows: Mapping[str, Counts], unmeasured: Mapping[str, str],
             source: Callable[[str], Sequence[str]]) -> list[Status]:
    """unmeasured: path -> why no count of that file can be trusted (its object not profiled, the
    guest saved no counters); source(path): the file's lines as built, for the noinstr test."""
    out: list[Status] = []
    seen = {path for counts in windows.values() for path in counts}
    for ln in lines:
        if why := unmeasured_why(ln.path, unmeasured, seen):
            out.append(Status(ln, "not measured", why))
            continue
        hits = {w: c[ln.path].get(ln.number) for w, c in windows.items() if ln.path in c}
        found = {w: c for w, c in hits.items() if c is not None}
        if not found:
            if enclosing_noinstr(source(ln.path), ln.number):
                out.append(Status(ln, "not measured", "in a noinstr/__no_profile function: never profiled"))
            elif ln.path.endswith(".h"):
                out.append(Status(ln, "not measured", "no profiled object compiled this line into code"))
            else:
                out.append(Status(ln, "not code", no_code_reason(ln.text)))
            continue
        boot = found.pop(BOOT, Count(0, False)).count > 0
        ran = {w: c for w, c in found.items() if c.count > 0}
        if not ran:
            out.append(Status(ln, "missed", boot=boot))
            continue
        partial = all(c.partial for c in ran.values())
        out.append(Status(ln, "partial" if partial else "executed", workloads=tuple(ran), boot=boot,
                          count=sum(c.count for c in ran.values())))
    return out
