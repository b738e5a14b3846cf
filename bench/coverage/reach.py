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

from bench.coverage.mapping import BOOT

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


@dataclass(frozen=True)
class HunkReach:
    hunk: PreHunk
    status: str  # ran | boot only | never ran | not measured
    workloads: tuple[str, ...] = ()
    why: str = ""  # for not measured

    def text(self) -> str:
        where = f"{self.hunk.path}:{self.hunk.first}"
        if self.status == "ran":
            return f"{where} ran ({', '.join(self.workloads)})"
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
            hunk, i = _hunk_lines(lines, i, first, int(m.group(2) or 1), int(m.group(3) or 1))
            if hunk:
                out.append(PreHunk(path, hunk, first))
    return [h for h in out if h.path.endswith(CODE_SUFFIXES)]


def _hunk_lines(lines: Sequence[str], i: int, old: int, left: int, added: int) -> tuple[tuple[int, ...], int]:
    """A hunk body from lines[i]: the pre-image lines it removes, or both sides of what it
    only adds; and the index after the body."""
    removed: list[int] = []
    around: list[int] = []
    while i < len(lines) and (left > 0 or added > 0):
        body, i = lines[i], i + 1
        if body.startswith("-"):
            removed.append(old)
            old, left = old + 1, left - 1
        elif body.startswith("+"):
            around += [n for n in (old - 1, old) if n > 0 and n not in around]
            added -= 1
        elif not body.startswith("\\"):  # context ("\ No newline at end of file" is not)
            old, left, added = old + 1, left - 1, added - 1
    return tuple(removed or around), i


def reach(hunks: Iterable[PreHunk], windows: Windows, unmeasured: Mapping[str, str]) -> list[HunkReach]:
    """Each hunk's status in the windows (boot, then each workload) of a coverage run;
    unmeasured: path -> why that file has no counts to trust."""
    out: list[HunkReach] = []
    seen = {p for counts in windows.values() for p in counts}
    for h in hunks:
        why = unmeasured.get(h.path, "" if h.path in seen else "not profiled in the control")
        records = [c[h.path][n] for c in windows.values() if h.path in c for n in h.lines if n in c[h.path]]
        if why or not records:
            out.append(HunkReach(h, "not measured", why=why or "no line of it compiled to code"))
            continue
        ran = tuple(w for w, c in windows.items()
                    if w != BOOT and any(c.get(h.path, {}).get(n, 0) > 0 for n in h.lines))
        boot = any(windows.get(BOOT, {}).get(h.path, {}).get(n, 0) > 0 for n in h.lines)
        out.append(HunkReach(h, "ran" if ran else "boot only" if boot else "never ran", ran))
    return out


def judgement(reached: Sequence[HunkReach], caught: bool) -> str:
    """One line for the prove table: where the bug's code ran and what that says of a miss."""
    if not reached:
        return "reach: no C hunk to measure"
    said = "; ".join(r.text() for r in reached)
    measured = [r for r in reached if r.status != "not measured"]
    if caught or not measured:
        return f"reach: {said}"
    if any(r.status == "ran" for r in measured):
        return f"reach: {said}: the workloads ran its code, no check saw the bug (an oracle problem)"
    return f"reach: {said}: no workload ran its code (a workload-reach problem)"
