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


def removal_reach(removals: Iterable[Removal], windows: Mapping[str, Counts], unmeasured: Mapping[str, str],
                  source: Callable[[str], Sequence[str]]) -> list[RemovalReach]:
    """Each removal told by the lines of its function around the gap. A gap right after a
    closing brace at column 0 (or at the top of the file) is between functions: a whole
    function or a declaration went, and no line of the built tree can tell whether it would
    have run."""
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
        before = max((n for n in coded if n <= r.after), default=0)
        if not before:
            out.append(RemovalReach(r, "not measured", why="no line before it compiled to code"))
            continue
        func = coded[before]
        after = min((n for n in coded if n > r.after and (not func or coded[n] == func)), default=0)
        told = (before, after) if after else (before,)
        ran, boot = _ran(windows, r.path, told)
        out.append(RemovalReach(r, "ran" if ran else "boot only" if boot else "never ran", func, told, ran))
    return out


def functions(statuses: Iterable[Status], removed: Iterable[RemovalReach],
              windows: Mapping[str, Counts]) -> list[FunctionReach]:
    """Each function holding a changed line that is code, or a removal told by its lines: how
    many of its lines the workloads ran, and which they never did."""
    touched: set[tuple[str, str]] = set()
    for s in statuses:
        if s.status in COVERABLE:
            touched |= {(s.line.path, c[s.line.path][s.line.number].function) for c in windows.values()
                        if s.line.number in c.get(s.line.path, {})}
    touched |= {(r.removal.path, r.function) for r in removed if r.status != "not measured"}
    out: list[FunctionReach] = []
    for path, func in sorted(t for t in touched if t[1]):
        mine = sorted(n for n, f in _lines(windows, path).items() if f == func)
        seen = {n: _ran(windows, path, (n,)) for n in mine}
        never = tuple(n for n in mine if not seen[n][0])
        out.append(FunctionReach(path, func, len(mine), len(mine) - len(never), never,
                                 tuple(n for n in never if seen[n][1])))
    return out
