"""Known issues: failures that are understood, with a reason, a link, a scope and an expiry.

An entry names a kernel report title (a regex) or a failing case key (a bench/base/casekey.py
pattern such as `workload/rxe` or `workload/pin-*`, docs/case-keys.md), or both (the case is then known only when such a report was seen while it
ran), says why it is known and where to read about it, for which series,
kconfig fragments and kernel versions it holds, and optionally the commit that fixes it.
Judged against what a run tests, an entry is

- active: in scope, and its fix (if any) is not in the tested base: a matching failure is
  reported as known and does not fail the run;
- fixed: its fix commit is an ancestor of the tested base, so the failure must be gone;
  if it shows, it is counted, and the run says so ("known issue X is fixed here");
- out of scope: another series, configuration or kernel version.

Entries without metadata (series.yaml `suppress:`, plain --suppress files) are active
everywhere. Pure: git questions come in as a function (bench/run/pipeline.py asks the tree).
"""

from __future__ import annotations

import enum
import fnmatch
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from bench.base import casekey, regexcost
from bench.base.errors import UserError

_CONSTRAINT = re.compile(r"^\s*(>=|<=|==|!=|>|<)?\s*(\d+(?:\.\d+){0,2})\s*$")
_OPS: dict[str, Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    "<": lambda a, b: a < b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}


def version_tuple(text: str) -> tuple[int, ...]:
    """"6.12" -> (6, 12, 0): missing parts are 0, so 6.12 sorts before 6.12.1."""
    parts = [int(p) for p in text.split(".")[:3]]
    return tuple(parts + [0] * (3 - len(parts)))


# Unrelated report titles and case names: a title regex that finds all of them, or finds the
# empty title, finds any report (`.*`, `.`, `..`, `$`); a case glob that matches every name of a
# group (`workload/*`, `*`) any failure of it. Such an entry cannot fail to match: as a known
# issue it would hide every report (a false PASS), as a catch catch any bug. The titles are as
# the scanner makes them: the sample once held "x" and "0", shorter than any real title, and
# `..` or `[^x]` (every title but those) went through.
UNRELATED_TITLES = ("BUG: Bad page state in process a", "WARNING in b", "INFO: task c blocked",
                    "general protection fault in d", "KASAN: use-after-free Read in e", "kernel panic")
_UNRELATED_NAMES = ("rxe", "gup-test", "kernel", "boot")  # no "x" or "0" either: `workload/??*` hid every failure
_GROUPS = ("workload", "report", "boot", "build", "apply", "config", "taint", "expect")


def any_title(regex: str) -> bool:
    """The title regex matches any report (see UNRELATED_TITLES)."""
    return re.search(regex, "") is not None or all(re.search(regex, t) for t in UNRELATED_TITLES)


def any_case(key: str) -> bool:
    """The case pattern (bench/base/casekey.py) matches every case of some group."""
    pattern = casekey.KeyPattern(key)
    return any(all(pattern.matches(f"{g}/{n}") for n in _UNRELATED_NAMES) for g in _GROUPS)


def too_broad(where: str, title: str, case: str) -> None:
    """Refuse an entry that would mark every report, or every failure of a kind, as known."""
    if title and (why := regexcost.why_slow(title)):
        raise UserError(f"{where}: title regex {title!r} {why}")
    if title and any_title(title):
        raise UserError(f"{where}: title regex {title!r} matches any report (an empty title, or every one"
                        " of unrelated titles): it would hide every kernel report; name the report")
    if case and not title and any_case(case):
        raise UserError(f"{where}: case {case!r} matches every failure of its kind: it would hide them all;"
                        " name the case, or give a title too")


def check_range(where: str, text: str) -> str:
    """A kernel version range: comparisons joined by commas, e.g. ">=6.5, <6.13"."""
    for part in text.split(","):
        if not _CONSTRAINT.match(part):
            raise UserError(f"{where}: kernel range {text!r}: want comparisons like '>=6.5, <6.13'")
    return text


def in_range(version: str, text: str) -> bool:
    have = version_tuple(version)
    for part in text.split(","):
        m = _CONSTRAINT.match(part)
        assert m is not None  # checked when loaded
        if not _OPS[m.group(1) or "=="](have, version_tuple(m.group(2))):
            return False
    return True


class State(str, enum.Enum):
    ACTIVE = "active"
    FIXED = "fixed"
    OUT_OF_SCOPE = "out-of-scope"


@dataclass(frozen=True)
class Scope:
    series: tuple[str, ...] = ()  # series names or globs; empty: every series
    configs: tuple[str, ...] = ()  # kconfig fragments that must all be in the run
    kernel: str = ""  # version range of the tested tree; "": any


@dataclass(frozen=True)
class Issue:
    id: str
    where: str  # file:line, for people and for errors
    title: str = ""  # regex searched in a kernel report's title
    case: str = ""  # a case-key pattern (bench/base/casekey.py): "workload/rxe"
    reason: str = ""
    link: str = ""
    scope: Scope = field(default_factory=Scope)
    fixed_by: str = ""  # commit that fixes it: the entry expires where it is in the base

    def matches(self, key: str, reports: Iterable[str] = ()) -> bool:
        """Does a case key ("workload/rxe", "report/<title>") fall under this entry? A report
        key by its title. With both a title and a case, a case key only when a report matching
        the title was seen with it (`reports`: the titles seen while that case ran): the entry
        describes that report making that case fail, not every failure of the case."""
        group, _, name = key.partition("/")
        if self.title and group == "report" and re.search(self.title, name):
            return True
        if not self.case or not casekey.KeyPattern(self.case).matches(key):
            return False
        return not self.title or any(re.search(self.title, t) for t in reports)

    @property
    def label(self) -> str:
        why = f": {self.reason}" if self.reason else ""
        return f"known issue {self.id}{why}" + (f" ({self.link})" if self.link else "")


def bare(regexes: Iterable[str], where: str, what: str) -> tuple[Issue, ...]:
    """Title regexes without metadata (series.yaml suppress:, expect:, plain --suppress files)."""
    found = tuple(Issue(f"{what} {rx!r}", where, title=rx) for rx in regexes)
    for i in found:
        too_broad(f"{where}: {what}", i.title, "")
    return found


@dataclass(frozen=True)
class Target:
    """What a run tests, as far as scopes and fixes care."""

    series: str
    configs: tuple[str, ...]
    kernel: str | None  # "6.12.117"; None: unknown


@dataclass(frozen=True)
class Judged:
    issue: Issue
    state: State
    why: str  # one line: why this state

    def to_json(self, matched: Sequence[str] = ()) -> dict[str, object]:
        i = self.issue
        return {"id": i.id, "where": i.where, "state": self.state.value, "why": self.why,
                "reason": i.reason, "link": i.link, "fixed_by": i.fixed_by, "matched": list(matched)}


def _scope_says(scope: Scope, target: Target) -> str:
    """Why the entry is out of scope for target; "" when it is in scope."""
    if scope.series and not any(fnmatch.fnmatchcase(target.series, s) for s in scope.series):
        return f"series {target.series} is not in {', '.join(scope.series)}"
    if missing := [c for c in scope.configs if c not in target.configs]:
        return f"config fragment {missing[0]} is not in this run"
    if scope.kernel and not target.kernel:
        return f"the tree's kernel version is unknown (entry is for {scope.kernel})"
    if scope.kernel and target.kernel and not in_range(target.kernel, scope.kernel):
        return f"kernel {target.kernel} is outside {scope.kernel}"
    return ""


def judge_one(issue: Issue, target: Target, is_ancestor: Callable[[str], bool | None]) -> Judged:
    if why := _scope_says(issue.scope, target):
        return Judged(issue, State.OUT_OF_SCOPE, why)
    if not issue.fixed_by:
        return Judged(issue, State.ACTIVE, "in scope, no fix named")
    fixed = is_ancestor(issue.fixed_by)
    if fixed:
        return Judged(issue, State.FIXED, f"its fix {issue.fixed_by[:12]} is in the tested base")
    if fixed is None:
        return Judged(issue, State.ACTIVE, f"its fix {issue.fixed_by[:12]} is not a commit of this tree: still applies")
    return Judged(issue, State.ACTIVE, f"its fix {issue.fixed_by[:12]} is not in the tested base")


@dataclass(frozen=True)
class KnownIssues:
    """The registry judged for one run."""

    judged: tuple[Judged, ...] = ()

    def find(self, key: str, reports: Sequence[str] = ()) -> Judged | None:
        """The entry a case key falls under (`reports`: the titles seen with it): an active one
        first, else a fixed one."""
        hits = [j for j in self.judged if j.state is not State.OUT_OF_SCOPE and j.issue.matches(key, reports)]
        return next((j for j in hits if j.state is State.ACTIVE), hits[0] if hits else None)

    def is_known(self, title: str) -> bool:
        j = self.find(f"report/{title}")
        return j is not None and j.state is State.ACTIVE

    def fixed(self) -> list[Judged]:
        return [j for j in self.judged if j.state is State.FIXED]

    def to_json(self, failed_keys: Iterable[str]) -> list[dict[str, object]]:
        """Every entry with its state and the case keys it matched (failed or known) here; an
        entry naming a title and a case matches the case only in a run with such a report."""
        keys = sorted(set(failed_keys))
        titles = [k.partition("/")[2] for k in keys if k.startswith("report/")]
        return [j.to_json([k for k in keys if j.state is not State.OUT_OF_SCOPE and j.issue.matches(k, titles)])
                for j in self.judged]


def judge(issues: Iterable[Issue], target: Target, is_ancestor: Callable[[str], bool | None]) -> KnownIssues:
    return KnownIssues(tuple(judge_one(i, target, is_ancestor) for i in issues))


def everywhere(issues: Iterable[Issue]) -> KnownIssues:
    """Every entry active, scope and fix unchecked (`bench scan` of saved consoles has no tree)."""
    return KnownIssues(tuple(Judged(i, State.ACTIVE, "scope not checked offline") for i in issues))


def fixed_note(j: Judged) -> str:
    return f"known issue {j.issue.id} is fixed here ({j.why}): now counted"
