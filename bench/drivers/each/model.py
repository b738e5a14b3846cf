"""`bench run --each` as data: each prefix run, each patch's changes, the whole walk."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.run import buildwarn
from bench.run.pins import Pins
from bench.run.result import RunResult, Status
from bench.run.series import Patch


@dataclass(frozen=True)
class Prefix:
    """One prefix run, and what was read from its folder."""

    k: int
    patch: Patch | None  # the last patch applied (None: the base)
    result: RunResult | None  # None: not run (an earlier patch does not apply)
    built: buildwarn.Warnings | None = None  # its build.log, when make ran
    probe: buildwarn.Warnings | None = None  # its build-next.log: the next patch's objects without it
    pins: dict[str, Pins] = field(default_factory=dict)

    @property
    def decided(self) -> bool:
        return self.result is not None and self.result.verdict is not Status.ERROR

    @property
    def label(self) -> str:
        return self.patch.name if self.patch else "base"


@dataclass(frozen=True)
class PatchDelta:
    k: int
    patch: Patch
    against: int | None  # the prefix compared with (None: no earlier prefix was decided)
    new_failures: tuple[str, ...] = ()
    fixed: tuple[str, ...] = ()
    workloads: tuple[tuple[str, str, str], ...] = ()  # (name, status before, status now)
    reports_new: tuple[str, ...] = ()
    reports_gone: tuple[str, ...] = ()
    warnings: buildwarn.Delta | None = None
    warnings_why: str = ""  # why not compared, when warnings is None
    pins: dict[str, tuple[int, int]] = field(default_factory=dict)  # span -> (held before, now)
    why: str = ""  # why nothing was compared (against is None, or this prefix not decided)


@dataclass(frozen=True)
class EachResult:
    run_id: str
    series: str
    results_dir: Path
    prefixes: tuple[Prefix, ...]
    deltas: tuple[PatchDelta, ...]
    secs: float
    complete: bool  # every prefix ran (or could not, after a patch that does not apply)

    @property
    def first_failing(self) -> PatchDelta | None:
        """The first patch with a new failure: what a bisect of the tip's failure finds."""
        return next((d for d in self.deltas if d.new_failures), None)
