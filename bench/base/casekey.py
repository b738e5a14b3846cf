"""Case keys, and the one language that picks cases by key (docs/case-keys.md).

A case's key is GROUP/NAME (`Case.key`: workload/rxe, boot/boot, report/<title>). A pattern is

    workload/GLOB        a workload case by name (fnmatch: `*`, `?`, `[...]`; a plain name is itself)
    report/TITLE-REGEX   a kernel report case whose title the regex finds (re.search)
    GROUP/GLOB           any other case by name (boot/boot, build/*)

and it always matches the key spelled exactly like it, so a key copied from a summary.json
picks its case even when its title holds regex characters. prove's `catch:`, bisect's
`--signature` and known-issues' `case:` all speak it; each says which groups it allows.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bench.base import regexcost
from bench.base.errors import UserError

REGEX_GROUPS = ("report",)  # names are titles: searched with a regex, not a glob
GRAMMAR = "workload/NAME, report/TITLE-REGEX or GROUP/GLOB"


@dataclass(frozen=True)
class KeyPattern:
    text: str  # as written: GROUP/NAME
    exact: bool = False  # only the key spelled like it (a key read from a run, not a pattern)

    def __str__(self) -> str:
        return self.text

    @property
    def group(self) -> str:
        return self.text.partition("/")[0]

    @property
    def name(self) -> str:
        return self.text.partition("/")[2]

    @property
    def workload(self) -> str | None:
        """The workload name (or glob) this pattern picks, also for a workload's own case
        (workload/pin-matrix/CELL); None: not a workload pattern."""
        return self.name.partition("/")[0] if self.group == "workload" else None

    @property
    def spelled(self) -> str:
        """The pattern as a command-line or file value that means the same (an exact key escaped)."""
        if not self.exact:
            return self.text
        if self.group in REGEX_GROUPS:
            return f"{self.group}/^{re.escape(self.name)}$"
        return self.group + "/" + re.sub(r"([*?[])", r"[\1]", self.name)

    def matches(self, case_key: str) -> bool:
        if case_key == self.text:
            return True
        if self.exact:
            return False
        group, _, name = case_key.partition("/")
        if group != self.group:
            return False
        if group in REGEX_GROUPS:
            rx = _regex(self.name)
            return rx is not None and rx.search(name) is not None
        return fnmatch.fnmatchcase(name, self.name)


@functools.lru_cache(maxsize=1024)
def _regex(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text)
    except re.error:
        return None  # parse() refused it where people wrote it; a key read from a run is exact


_SHAPES = {"workload": "workload/NAME", "pages": "pages/NAME", "report": "report/TITLE-REGEX"}


def parse(text: str, where: str = "", what: str = "case", groups: Sequence[str] = ()) -> KeyPattern:
    """A pattern people wrote. The one-line error names `where` (file:line; "" for an option)
    and `what` (the key or option: case, catch, --signature); `groups`: those the caller
    allows (empty: any)."""
    head = f"{where}: {what} {text!r}" if where else f"{what} {text!r}"
    group, slash, name = text.partition("/")
    want = " or ".join(_SHAPES.get(g, f"{g}/GLOB") for g in groups) if groups else GRAMMAR
    if not slash or not group or not name or (groups and group not in groups):
        raise UserError(f"{head}: want {want}")
    if group in REGEX_GROUPS:
        try:
            re.compile(name)
        except re.error as e:
            raise UserError(f"{head}: {name!r} is not a regex ({e}); escape regex characters of a"
                            " title, e.g. \\(") from e
        if why := regexcost.why_slow(name):
            raise UserError(f"{head}: {why}")
    return KeyPattern(text)


def exact(case_key: str) -> KeyPattern:
    """The pattern of one key read from a run: it picks that case only."""
    return KeyPattern(case_key, exact=True)


def any_matches(patterns: Iterable[KeyPattern], case_key: str) -> bool:
    return any(p.matches(case_key) for p in patterns)


def picks_workload(pattern: KeyPattern, name: str) -> bool:
    """The pattern picks the case of workload `name`, or one of that workload's own cases."""
    if pattern.matches(f"workload/{name}"):
        return True
    w = pattern.workload
    if w is None or "/" not in pattern.name:
        return False
    return w == name or (not pattern.exact and fnmatch.fnmatchcase(name, w))
