"""What a run found: one Case per JUnit testcase, and the run's verdict.

Verdict: FAIL if any case failed (the series is bad: exit 1), else ERROR if
any case could not be decided (infrastructure: exit 2), else PASS (exit 0).
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.base import formats, rundir
from bench.base.files import write_atomic
from bench.run.runfacts import RunFacts


class Status(str, enum.Enum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"  # could not be decided: the machine, not the series
    SKIP = "skip"


EXIT_CODES = {Status.PASS: 0, Status.SKIP: 0, Status.FAIL: 1, Status.ERROR: 2}


@dataclass(frozen=True)
class Case:
    group: str  # apply, config, build, boot, workload, report
    name: str
    status: Status
    secs: float = 0.0
    message: str = ""  # one line, shown in the summary and as the JUnit failure message
    output: str = ""  # the evidence: log excerpt, workload output, report text
    reports: tuple[str, ...] = ()  # titles of the kernel reports seen with it (known issues naming both)
    reused: bool = False  # the stage did not run, an earlier run's output stands (build: the slot's image)

    @property
    def key(self) -> str:
        """GROUP/NAME: how summaries, catch:, --signature and known issues name it (bench/base/casekey.py)."""
        return f"{self.group}/{self.name}"


@dataclass(frozen=True)
class RunResult:
    run_id: str
    series: str
    results_dir: Path
    cases: tuple[Case, ...]
    secs: float
    facts: RunFacts = field(default_factory=RunFacts)  # summary.json's info: tree, base, head, accel, image...

    @property
    def verdict(self) -> Status:
        statuses = {c.status for c in self.cases}
        for status in (Status.FAIL, Status.ERROR):
            if status in statuses:
                return status
        return Status.PASS if self.cases else Status.ERROR

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]

    def failures(self) -> list[Case]:
        return [c for c in self.cases if c.status in (Status.FAIL, Status.ERROR)]

    def to_json(self) -> dict[str, Any]:
        return {
            formats.KEY: formats.SUMMARY,
            "run_id": self.run_id,
            "series": self.series,
            "verdict": self.verdict.value,
            "exit_code": self.exit_code,
            "secs": round(self.secs, 1),
            "info": self.facts.to_json(),
            "cases": [
                _case_json(c) for c in self.cases
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], results_dir: Path) -> RunResult:
        """Back from summary.json (KeyError/ValueError/TypeError if it is not one; a
        formats.FormatProblem, a ValueError, if another bench wrote it)."""
        data = formats.check(results_dir / rundir.SUMMARY, data, formats.SUMMARY)
        cases = tuple(Case(_text(c, "group"), _text(c, "name"), Status(c["status"]), float(c.get("secs", 0.0)),
                           _text(c, "message", ""), _text(c, "output", ""), tuple(map(str, c.get("reports", ()))),
                           c.get("reused") is True)
                      for c in data["cases"])
        return cls(str(data["run_id"]), str(data["series"]), results_dir, cases,
                   float(data.get("secs", 0.0)), RunFacts.from_json(data.get("info", {})))


def _text(case: dict[str, Any], name: str, default: str | None = None) -> str:
    """A case's text field (a TypeError when it is no string: a message 5 crashed the tables later)."""
    value = case[name] if default is None else case.get(name, default)
    if not isinstance(value, str):
        raise TypeError(f"case {name}: {type(value).__name__}, not a string")
    return value


def _case_json(c: Case) -> dict[str, Any]:
    out = {**asdict(c), "status": c.status.value, "secs": round(c.secs, 2), "reports": list(c.reports)}
    for name, unset in (("reports", []), ("reused", False)):
        if out[name] == unset:  # most cases: summary.json stays as it was before these fields
            del out[name]
    return out


def write_summary_json(result: RunResult, path: Path) -> None:
    write_atomic(path, json.dumps(result.to_json(), indent=2, default=str) + "\n")
