"""A catalogue bug's `catch:` (series.yaml): the cases that must fail when the bench works.

    catch:
      - workload/odirect                                  # this workload's case must FAIL
      - {case: workload/pin-balance, message: "pins? leaked"}  # ... with a message matching
      - report/^BUG: Bad page state                       # a kernel report whose title matches
      - pages/smoke                                       # what smoke's exited processes left (bench/leaks.py)

A bug is caught only when every entry fails (with its message, when one is given) and none of
them fails in the control run (the tree without the bug): an entry that fails on a clean
kernel proves nothing. Entries the bug's workloads never run are refused before any build.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.errors import UserError
from bench.result import Case, RunResult, Status

_PER_WORKLOAD = ("workload", "pages")  # case groups named after a workload
MESSAGE_SHOWN = 100  # characters of a failing case's message in the per-bug line


@dataclass(frozen=True)
class Catch:
    case: str  # workload/NAME, pages/NAME or report/TITLE-REGEX
    message: str = ""  # a regex the failing case's message must match ("": any message)
    where: str = ""  # series.yaml:line, for errors

    def __str__(self) -> str:
        return self.case + (f" ~/{self.message}/" if self.message else "")

    @property
    def workload(self) -> str | None:
        group, _, name = self.case.partition("/")
        return name if group in _PER_WORKLOAD else None

    def matches(self, case: Case) -> bool:
        """case is a failure this entry asks for."""
        if case.status is not Status.FAIL:
            return False
        group, _, name = self.case.partition("/")
        if group in _PER_WORKLOAD:
            hit = case.group == group and case.name == name
        else:
            hit = case.group == "report" and re.search(name, case.name) is not None
        return hit and (not self.message or re.search(self.message, case.message) is not None)


def _regex(where: str, what: str, text: str) -> str:
    try:
        re.compile(text)
    except re.error as e:
        raise UserError(f"{where}: catch {what} {text!r}: not a regex: {e}") from e
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
        group, _, name = key.partition("/")
        if key == "report":
            raise UserError(f"{where}: catch 'report': name the report, report/TITLE-REGEX"
                            " (any report at all would catch any bug)")
        if group not in (*_PER_WORKLOAD, "report") or not name:
            raise UserError(f"{where}: catch {key!r}: want workload/NAME, pages/NAME or report/TITLE-REGEX")
        if group == "report":
            _regex(where, "report title", name)
        out.append(Catch(key, message, where))
    return tuple(out)


def check_workloads(catches: Iterable[Catch], workloads: Sequence[str]) -> None:
    """Refuse (before any build) a catch entry for a workload the bug's run never runs."""
    for c in catches:
        if c.workload is not None and c.workload not in workloads:
            raise UserError(f"{c.where}: catch {c.case!r}: the bug's run never runs workload {c.workload!r}"
                            f" (it runs: {', '.join(workloads) or 'none'})")


def hits(result: RunResult, catches: Iterable[Catch]) -> list[Catch]:
    """The entries that failed in result."""
    return [c for c in catches if any(c.matches(case) for case in result.cases)]


def failures(result: RunResult) -> tuple[tuple[str, str], ...]:
    """(case key, first line of its message, cut) of every failing case."""
    return tuple((f"{c.group}/{c.name}", _first(c.message)) for c in result.cases if c.status is Status.FAIL)


def _first(message: str) -> str:
    line = message.splitlines()[0] if message else ""
    return line if len(line) <= MESSAGE_SHOWN else line[:MESSAGE_SHOWN - 3] + "..."
