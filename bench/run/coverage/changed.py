"""The lines a series adds or changes, as lines of the tree it built (its post-image).

`git blame base..head` tells, for every line of a file at head, the commit that last wrote it:
a line of one of the series' commits is a changed line of that patch (a line patch 1 added and
patch 3 rewrote is patch 3's; a line patch 1 added and patch 3 removed is in no built tree and
is not counted). A hunk here is a run of one patch's changed lines in one file, at most
HUNK_GAP unchanged lines apart (a diff's context).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.base import proc

HUNK_GAP = 3
_U0_FILE = re.compile(r"^\+\+\+ (?:b/)?(\S+)")
_U0_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
SOURCE_SUFFIXES = (".c", ".h", ".S")  # files whose lines can be code; the rest are listed apart


@dataclass(frozen=True)
class Line:
    path: str  # repository-relative
    number: int  # 1-based, in the built tree
    patch: int  # 1-based index in the series
    text: str


@dataclass(frozen=True)
class Hunk:
    path: str
    patch: int
    lines: tuple[Line, ...]

    @property
    def start(self) -> int:
        return self.lines[0].number

    @property
    def end(self) -> int:
        return self.lines[-1].number


@dataclass(frozen=True)
class Removal:
    """Lines the series removes with nothing in their place: no line of the built tree stands
    for them, so they are told by the lines around where they were."""
    path: str
    after: int  # the built tree's line they followed (0: the top of the file)
    count: int  # how many lines went


def parse_removals(lines: Iterable[str]) -> list[Removal]:
    """`git diff -U0 base head` -> its pure removals (a hunk whose post-image is empty: with no
    context, "+N,0" names the line before the gap). A hunk that also adds is a change, and its
    added lines are counted as changed lines."""
    out: list[Removal] = []
    path, body = "", 0  # body: lines of the current hunk still to skip (a "+++ x" in one is code)
    for line in lines:
        if body > 0:
            body -= not line.startswith("\\")  # "\ No newline at end of file" is not a line
        elif m := _U0_FILE.match(line):
            path = m.group(1)
        elif m := _U0_HUNK.match(line):
            old, new = int(m.group(1) or 1), int(m.group(3) or 1)
            body = old + new
            if path and new == 0:
                out.append(Removal(path, int(m.group(2)), old))
    return out


def removals(src: Path, base: str, head: str, files: Sequence[str]) -> list[Removal]:
    if not files:
        return []
    text = proc.output(["git", "-C", str(src), "diff", "--no-renames", "-U0", base, head, "--", *files])
    return parse_removals(text.splitlines())


def parse_blame(lines: Iterable[str], path: str, patch_of: dict[str, int]) -> list[Line]:
    """`git blame --porcelain` output -> the lines written by the commits in patch_of."""
    out: list[Line] = []
    sha, final = "", 0
    for line in lines:
        if line.startswith("\t"):
            if sha in patch_of:
                out.append(Line(path, final, patch_of[sha], line[1:]))
            continue
        head = line.split(" ")
        if len(head) >= 3 and len(head[0]) == 40 and head[1].isdigit() and head[2].isdigit():
            sha, final = head[0], int(head[2])
    return out


def commits(src: Path, base: str, head: str) -> list[str]:
    """The series' commits, oldest first: commit k is patch k (git am, one commit a patch)."""
    return proc.output(["git", "-C", str(src), "rev-list", "--reverse", f"{base}..{head}"]).split()


def changed_files(src: Path, base: str, head: str) -> list[str]:
    out = proc.output(["git", "-C", str(src), "diff", "--no-renames", "--name-only", "--diff-filter=AM",
                       "-z", base, head])
    return sorted(n for n in out.split("\0") if n)


def changed_lines(src: Path, base: str, head: str, files: Sequence[str]) -> list[Line]:
    patch_of = {sha: k for k, sha in enumerate(commits(src, base, head), 1)}
    out: list[Line] = []
    for name in files:
        text = proc.output(["git", "-C", str(src), "blame", "--porcelain", f"{base}..{head}", "--", name])
        out += parse_blame(text.splitlines(), name, patch_of)
    return out


def hunks(lines: Iterable[Line]) -> list[Hunk]:
    """Runs of one patch's lines in one file, in file order."""
    out: list[Hunk] = []
    run: list[Line] = []
    for line in sorted(lines, key=lambda x: (x.path, x.number)):
        if run and (line.path != run[-1].path or line.patch != run[-1].patch
                    or line.number - run[-1].number > HUNK_GAP + 1):
            out.append(Hunk(run[0].path, run[0].patch, tuple(run)))
            run = []
        run.append(line)
    if run:
        out.append(Hunk(run[0].path, run[0].patch, tuple(run)))
    return out
