"""What the changed lines alone cannot tell: where the series removed code (no line of the
built tree stands for a removal), and the rest of each function the series touches (a bug in
a changed function often sits on a branch beside the changed line: a check deleted above a
path no workload takes).

Both are read from the run's own counts (gcov's line records carry the function each line
belongs to), on the built tree, so no C is parsed: a removal is told by the nearest lines of
its function that compiled to code on each side of the gap, and it "ran" in a workload when
all of those did (code that sat between two lines ran when both did).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from bench.run.coverage.changed import Removal
from bench.run.coverage.gcov import Counts
from bench.run.coverage.mapping import BOOT, COVERABLE, Status, unmeasured_why
from bench.run.coverage.text import ranges


@dataclass(frozen=True)
class RemovalReach:
    removal: Removal
    status: str  # ran | boot only | never ran | not measured
    function: str = ""
    told_by: tuple[int, ...] = ()  # the built tree's lines that stood for it
    workloads: tuple[str, ...] = ()
    why: str = ""  # for not measured

    def record(self) -> dict[str, object]:
        r = self.removal
        return {"path": r.path, "after": r.after, "count": r.count, "status": self.status,
                "function": self.function, "told_by": list(self.told_by), "workloads": list(self.workloads),
                "why": self.why}


@dataclass(frozen=True)
class FunctionReach:
    path: str
    function: str
    lines: int  # its lines that compiled to code
    ran: int  # of them, run by some workload
    never_ran: tuple[int, ...]
    boot_only: tuple[int, ...]  # never ran in a workload, did while booting

    def record(self) -> dict[str, object]:
        return {"path": self.path, "function": self.function, "lines": self.lines, "ran": self.ran,
                "never_ran": ranges(self.never_ran), "boot_only": ranges(self.boot_only)}


def _lines(windows: Mapping[str, Counts], path: str) -> dict[int, str]:
    """Every line of path that some window has a record of -> its function ("" unknown)."""
    out: dict[int, str] = {}
    for counts in windows.values():
        for n, c in counts.get(path, {}).items():
            out[n] = out.get(n) or c.function
    return out


def _ran(windows: Mapping[str, Counts], path: str, lines: Sequence[int]) -> tuple[tuple[str, ...], bool]:
    """The workloads in which every one of lines ran, and whether they all ran while booting."""
    def every(window: str) -> bool:
        counts = windows[window].get(path, {})
        return all(counts[n].count > 0 if n in counts else False for n in lines)
    return tuple(w for w in windows if w != BOOT and every(w)), BOOT in windows and every(BOOT)


def extent(text: Sequence[str], line: int) -> tuple[int, int]:
    """The lines (1-based, inclusive) of the function holding line: from after the previous
    line that starts with "}" (kernel style closes a function, and a struct initializer, at
    column 0) to the next one. Read from the source, not from gcov's function names, which an
    inlined static function's lines do not carry."""
    lo = line
    while lo >= 1 and lo <= len(text) and not text[lo - 1].startswith("}"):
        lo -= 1
    hi = line + 1
    while hi <= len(text) and not text[hi - 1].startswith("}"):
        hi += 1
    return lo + 1, min(hi, len(text))


_SIGNATURE = re.compile(r"^[A-Za-z_].*?\b([A-Za-z_]\w*)\s*\(")


def _name(text: Sequence[str], first: int, last: int, names: Iterable[str]) -> str:
    """The function's name: gcov's, for any of its lines that has one, else its signature's."""
    if got := next((n for n in names if n), ""):
        return got
    for i in range(first, min(last, len(text)) + 1):
        if m := _SIGNATURE.match(text[i - 1]):
            return m.group(1)
    return ""


def removal_reach(removals: Iterable[Removal], windows: Mapping[str, Counts], unmeasured: Mapping[str, str],
                  source: Callable[[str], Sequence[str]]) -> list[RemovalReach]:
    """Each removal told by the nearest lines of its function on each side of the gap. A gap
    right after a closing brace at column 0 (or at the top of the file) is between functions:
    a whole function or a declaration went, and no line of the built tree can tell whether it
    would have run."""
    seen = {p for counts in windows.values() for p in counts}
    out: list[RemovalReach] = []
    for r in removals:
        if why := unmeasured_why(r.path, unmeasured, seen):
            out.append(RemovalReach(r, "not measured", why=why))
            continue
        text = source(r.path)
        if r.after == 0 or (r.after <= len(text) and text[r.after - 1].startswith("}")):
            out.append(RemovalReach(r, "not measured", why="between functions: no line of the built tree runs in its place"))
            continue
        coded = _lines(windows, r.path)
        first, last = extent(text, r.after)
        before = max((n for n in coded if first <= n <= r.after), default=0)
        after = min((n for n in coded if r.after < n <= last), default=0)
        told = tuple(n for n in (before, after) if n)
        func = _name(text, first, last, (coded[n] for n in told))
        if not told:
            out.append(RemovalReach(r, "not measured", func, why="no line of its function compiled to code"))
            continue
        ran, boot = _ran(windows, r.path, told)
        out.append(RemovalReach(r, "ran" if ran else "boot only" if boot else "never ran", func, told, ran))
    return out


def functions(statuses: Iterable[Status], removed: Iterable[RemovalReach], windows: Mapping[str, Counts],
              source: Callable[[str], Sequence[str]]) -> list[FunctionReach]:
    """Each function holding a changed line that is code, or a removal told by its lines: how
    many of its lines (those gcov records) the workloads ran, and which they never did."""
    touched: set[tuple[str, int]] = set()
    for s in statuses:
        if s.status in COVERABLE:
            touched.add((s.line.path, s.line.number))
    touched |= {(r.removal.path, r.told_by[0]) for r in removed if r.told_by}
    spans: dict[tuple[str, int, int], None] = {}
    for path, line in sorted(touched):
        first, last = extent(source(path), line)
        spans[(path, first, last)] = None
    out: list[FunctionReach] = []
    for path, first, last in spans:
        coded = _lines(windows, path)
        mine = sorted(n for n in coded if first <= n <= last)
        if not mine:
            continue
        seen = {n: _ran(windows, path, (n,)) for n in mine}
        never = tuple(n for n in mine if not seen[n][0])
        out.append(FunctionReach(path, _name(source(path), first, last, (coded[n] for n in mine)), len(mine),
                                 len(mine) - len(never), never, tuple(n for n in never if seen[n][1])))
    return out
