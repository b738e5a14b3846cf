"""A workload's own cases: lines `CASE <name> PASS|FAIL|SKIP[: why]` in its output become JUnit
cases `workload/<workload>/<name>` beside the workload's own (guests/pin-matrix.sh prints one a
cell). Pure: takes lines, returns data. The workload's exit code still decides the workload's
case; a cell only adds evidence, so a script that prints no CASE line is judged as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bench.base.limits import LIMITS
from bench.run.result import Case, Status

_LINE = re.compile(r"^CASE (?P<name>[A-Za-z0-9][A-Za-z0-9._+/-]*) (?P<status>PASS|FAIL|SKIP)(?:: ?(?P<why>.*))?$")
_STATUS = {"PASS": Status.PASS, "FAIL": Status.FAIL, "SKIP": Status.SKIP}
NAME_CHARS = LIMITS.quoted_chars * 4  # of a case's name and of its message


@dataclass(frozen=True)
class Subcase:
    name: str
    status: Status
    message: str


def is_case(line: str) -> bool:
    """Whether a line of a workload's output may be a CASE line (the rest need not be kept)."""
    return line.startswith("CASE ")


def parse(lines: Iterable[str], unread: int = 0) -> tuple[Subcase, ...]:
    """Every CASE line, in order; a name seen twice keeps its first verdict unless a later one
    fails (a cell must not hide its own failure by printing PASS again). At most
    LIMITS.subcases, then one FAIL saying how many more were cut. unread: bytes of the log past
    what was read (its limit): CASE lines there are unknown, a FAIL among them too, so one FAIL
    says so."""
    found: dict[str, Subcase] = {}
    cut = 0
    for raw in lines:
        m = _LINE.match(raw.rstrip())  # a printf with a trailing blank must not drop a FAIL
        if m is None:
            continue
        # cut as its message is: a name of a console line's 64K characters, 2000 times, made a
        # summary.json, a junit.xml and a terminal summary of 128 MB each (ours: 45 at most)
        name = m["name"].strip("/")[:NAME_CHARS].rstrip("/")
        sub = Subcase(name, _STATUS[m["status"]], " ".join((m["why"] or "").split())[:NAME_CHARS])
        if name in found:
            if sub.status is Status.FAIL and found[name].status is not Status.FAIL:
                found[name] = sub
            continue
        if len(found) >= LIMITS.subcases:
            cut += 1
            continue
        found[name] = sub
    subs = list(found.values())
    if unread:
        subs.append(Subcase("(log cut)", Status.FAIL, f"{unread} byte(s) of the log past the limit of"
                            f" {LIMITS.console_chars} were not read for CASE lines (bench/base/limits.py)"))
    if cut:
        subs.append(Subcase("(more cases)", Status.FAIL,
                            f"{cut} CASE line(s) past the limit of {LIMITS.subcases} were cut (bench/base/limits.py)"))
    return tuple(subs)


def cases(workload: str, lines: Iterable[str], unread: int = 0) -> list[Case]:
    """The workload's subcases as Cases in the workload group, named <workload>/<name>."""
    return [Case("workload", f"{workload}/{s.name}", s.status, 0.0, s.message) for s in parse(lines, unread)]
