"""A catalogue bug's `catch:` (series.yaml): the cases that must fail when the bench works.

    catch:
      - workload/odirect                                  # this workload's case must FAIL
      - {case: workload/pin-balance, message: "pins? leaked"}  # ... with a message matching
      - report/^BUG: Bad page state                       # a kernel report whose title matches
      - pages/smoke                                       # what smoke's exited processes left (bench/run/leaks.py)

A bug is caught only when every entry fails (with its message, when one is given) and none of
them fails in the control run (the tree without the bug): an entry that fails on a clean
kernel proves nothing. Entries the bug's workloads never run are refused before any build.
Keys are patterns of bench/base/casekey.py (docs/case-keys.md): a workload name may be a glob.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.base import casekey, regexcost
from bench.base.errors import UserError
from bench.report.issues import any_title
from bench.run.result import Case, RunResult, Status

_PER_WORKLOAD = ("workload", "pages")  # case groups named after a workload
MESSAGE_SHOWN = 100  # characters of a failing case's message in the per-bug line


@dataclass(frozen=True)
class Catch:
    case: str  # workload/NAME, pages/NAME or report/TITLE-REGEX (a bench/base/casekey.py pattern)
    message: str = ""  # a regex the failing case's message must match ("": any message)
    where: str = ""  # series.yaml:line, for errors

    def __str__(self) -> str:
        return self.case + (f" ~/{self.message}/" if self.message else "")

    @property
    def pattern(self) -> casekey.KeyPattern:
        return casekey.KeyPattern(self.case)

    @property
    def workload_pattern(self) -> casekey.KeyPattern | None:
        """workload/W for an entry about workload W's own cases (workload/W, pages/W); else None."""
        if self.pattern.group not in _PER_WORKLOAD:
            return None
        return casekey.KeyPattern(f"workload/{self.pattern.name}")

    def matches(self, case: Case) -> bool:
        """case is a failure this entry asks for."""
        if case.status is not Status.FAIL or not self.pattern.matches(case.key):
            return False
        return not self.message or re.search(self.message, case.message) is not None


def _regex(where: str, what: str, text: str) -> str:
    try:
        re.compile(text)
    except re.error as e:
        raise UserError(f"{where}: catch {what} {text!r}: not a regex: {e}") from e
    if why := regexcost.why_slow(text):
        raise UserError(f"{where}: catch {what} {text!r} {why}")
    return text


def parse(where: str, raw: Any) -> tuple[Catch, ...]:
    """The catch: list of a series.yaml (where: file:line of the key)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise UserError(f"{where}: catch must be a list of cases")
    out = []
    for item in raw:
        message = ""
        if isinstance(item, dict):
            if set(item) - {"case", "message"} or not isinstance(item.get("case"), str) \
                    or not isinstance(item.get("message", ""), str):
                raise UserError(f"{where}: catch item {str(item)[:80]!r}: want {{case: KEY, message: REGEX}}")
            key, message = item["case"], _regex(where, "message", item.get("message", ""))
        elif isinstance(item, str):
            key = item
        else:
            raise UserError(f"{where}: catch item {str(item)[:80]!r}: want a case key or {{case: KEY, message: REGEX}}")
        if key == "report":
            raise UserError(f"{where}: catch 'report': name the report, report/TITLE-REGEX"
                            " (any report at all would catch any bug)")
        pattern = casekey.parse(key, where, "catch", (*_PER_WORKLOAD, "report"))
        if pattern.group == "report" and any_title(pattern.name):
            raise UserError(f"{where}: catch {key!r}: the title regex matches any report (an empty"
                            " title, or every one of unrelated titles): it cannot fail to match; name the report")
        out.append(Catch(pattern.text, message, where))
    return tuple(out)


def check_workloads(catches: Iterable[Catch], workloads: Sequence[str]) -> None:
    """Refuse (before any build) a catch entry for a workload the bug's run never runs."""
    for c in catches:
        pattern = c.workload_pattern
        name = pattern.workload if pattern else None
        if pattern is not None and name is not None and not any(casekey.picks_workload(pattern, w) for w in workloads):
            raise UserError(f"{c.where}: catch {c.case!r}: the bug's run never runs workload {name!r}"
                            f" (it runs: {', '.join(workloads) or 'none'})")


def passed(control: RunResult, c: Catch) -> bool:
    """The control (the tree without the bug) ran this entry's case and it passed: its workload
    ran and passed, or (a report) the control booted and showed no report of that title. A
    control that stopped before (a boot failure, an infrastructure error) or skipped the
    workload proves nothing: "no failure there" is not "passed"."""
    if c.pattern.group in _PER_WORKLOAD:
        return any(c.pattern.matches(k.key) and k.status is Status.PASS for k in control.cases)
    booted = any(k.group == "boot" and k.status is Status.PASS for k in control.cases)
    return booted and control.verdict is not Status.ERROR and \
        not any(k.group == "report" and c.pattern.matches(k.key) for k in control.cases)


def hits(result: RunResult, catches: Iterable[Catch]) -> list[Catch]:
    """The entries that failed in result."""
    return [c for c in catches if any(c.matches(case) for case in result.cases)]


def failures(result: RunResult) -> tuple[tuple[str, str], ...]:
    """(case key, first line of its message, cut) of every failing case."""
    return tuple((c.key, _first(c.message)) for c in result.cases if c.status is Status.FAIL)


def _first(message: str) -> str:
    line = message.splitlines()[0] if message else ""
    return line if len(line) <= MESSAGE_SHOWN else line[:MESSAGE_SHOWN - 3] + "..."
