"""Whether the code a patch changes ran in a run of the tree it applies to (`bench prove`'s
control): a bug the bench missed although the workloads ran its hunks is an oracle problem
(nothing checked what went wrong); one whose hunks never ran is a workload-reach problem.

Read on the pre-image, the control's own tree, so a patch that only deletes lines (a check
dropped) is measured like any other: a hunk's lines are the ones it removes, or, for a hunk
that only adds, the lines on both sides of where it adds. Counts come from the control's
coverage (stage.COUNTS: every line of every profiled file, per window).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bench.run.coverage.mapping import BOOT

_FILE = re.compile(r"^--- (?:a/)?(\S+)")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,(\d+))? @@")
CODE_SUFFIXES = (".c", ".h")

# window -> path -> line -> hits: what stage.COUNTS holds
Windows = Mapping[str, Mapping[str, Mapping[int, int]]]


@dataclass(frozen=True)
class PreHunk:
    path: str
    lines: tuple[int, ...]  # pre-image line numbers that stand for the hunk
    first: int  # the hunk's first pre-image line, for the report
    context: tuple[int, ...] = ()  # its unchanged lines: stand in when none of `lines` is code
    inserted: bool = False  # it only adds: `lines` are the two around the insertion point


@dataclass(frozen=True)
class HunkReach:
    hunk: PreHunk
    status: str  # ran | boot only | never ran | not measured
    workloads: tuple[str, ...] = ()
    why: str = ""  # for not measured; for the others, "by its context lines" when they stood in

    def text(self) -> str:
        where = f"{self.hunk.path}:{self.hunk.first}"
        if self.status == "ran":
            return f"{where} ran ({', '.join(self.workloads)}{'; ' + self.why if self.why else ''})"
        return f"{where} {self.status}" + (f" ({self.why})" if self.why else "")


def pre_image_hunks(patch: str) -> list[PreHunk]:
    """The hunks of a unified diff, each as the pre-image lines that stand for it. A hunk ends
    when its header's line counts are used up (a mail's "-- " signature is not a removal)."""
    out: list[PreHunk] = []
    lines = patch.splitlines()
    path, i = "", 0
    while i < len(lines):
        line, i = lines[i], i + 1
        if m := _FILE.match(line):
            path = m.group(1)
        elif (m := _HUNK.match(line)) and path:
            first = int(m.group(1))
            hunk, context, inserted, i = _hunk_lines(lines, i, first, int(m.group(2) or 1), int(m.group(3) or 1))
            if hunk:
                out.append(PreHunk(path, hunk, first, context, inserted))
    return [h for h in out if h.path.endswith(CODE_SUFFIXES)]


def _hunk_lines(lines: Sequence[str], i: int, old: int, left: int, added: int
                ) -> tuple[tuple[int, ...], tuple[int, ...], bool, int]:
    """A hunk body from lines[i]: the pre-image lines it removes, or both sides of what it
    only adds (and that it only adds); its context lines; and the index after the body."""
    removed: list[int] = []
    around: list[int] = []
    context: list[int] = []
    while i < len(lines) and (left > 0 or added > 0):
        body, i = lines[i], i + 1
        if body.startswith("-"):
            removed.append(old)
            old, left = old + 1, left - 1
        elif body.startswith("+"):
            around += [n for n in (old - 1, old) if n > 0 and n not in around]
            added -= 1
        elif not body.startswith("\\"):  # context ("\ No newline at end of file" is not)
            context.append(old)
            old, left, added = old + 1, left - 1, added - 1
    return tuple(removed or around), tuple(context), not removed, i


def reach(hunks: Iterable[PreHunk], windows: Windows, unmeasured: Mapping[str, str]) -> list[HunkReach]:
    """Each hunk's status in the windows (boot, then each workload) of a coverage run;
    unmeasured: path -> why that file has no counts to trust. A hunk none of whose lines is
    code to gcov (one statement of several lines, optimised into its neighbour) is told by its
    context lines, and says so."""
    out: list[HunkReach] = []
    seen = {p for counts in windows.values() for p in counts}
    for h in hunks:
        if why := unmeasured.get(h.path, "" if h.path in seen else "not profiled in the control"):
            out.append(HunkReach(h, "not measured", why=why))
            continue
        first = ((h.lines, "by the lines around it", True) if h.inserted else (h.lines, "", False))
        for lines, how, every in (first, (h.context, "by its context lines", False)):
            if coded := [n for n in lines if any(n in c.get(h.path, {}) for c in windows.values())]:
                out.append(_status(h, coded, windows, how, every))
                break
        else:
            out.append(HunkReach(h, "not measured", why="no line of it or its context compiled to code"))
    return out


def _status(h: PreHunk, lines: Sequence[int], windows: Windows, how: str, every: bool) -> HunkReach:
    """every: the hunk ran in a window only if all of `lines` did (code added between two lines
    runs when both do: a branch's opening line alone says nothing of its body)."""
    def hit(window: str) -> bool:
        counts = windows.get(window, {}).get(h.path, {})
        ran = [counts.get(n, 0) > 0 for n in lines]
        return all(ran) if every else any(ran)
    ran = tuple(w for w in windows if w != BOOT and hit(w))
    return HunkReach(h, "ran" if ran else "boot only" if hit(BOOT) else "never ran", ran, how)


def judgement(reached: Sequence[HunkReach], missed: bool) -> str:
    """One line for the prove table: where the bug's code ran and, for a bug nothing saw, what
    that says of the miss (a bug caught, or failing elsewhere, gets the where only)."""
    if not reached:
        return "reach: no C hunk to measure"
    said = "; ".join(r.text() for r in reached)
    measured = [r for r in reached if r.status != "not measured"]
    if not missed or not measured:
        return f"reach: {said}"
    if any(r.status == "ran" for r in measured):
        return f"reach: {said}: the workloads ran its code, no check saw the bug (an oracle problem)"
    return f"reach: {said}: no workload ran its code (a workload-reach problem)"
