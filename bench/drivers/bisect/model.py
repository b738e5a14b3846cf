"""A bisection's result as data: the conclusion, the culprit and every step."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.drivers.bisect.journal import Step
from bench.drivers.bisect.judge import Evidence, Signature


class Conclusion(str, enum.Enum):
    FOUND = "found"
    AMBIGUOUS = "ambiguous"  # only untestable patches/commits left between good and bad
    NOT_REPRODUCIBLE = "not-reproducible"  # the tip does not fail (the way asked)
    BASE_FAILS = "base-fails"  # the good end already fails: nothing of ours to blame
    INFRA = "infra"


    @property
    def exit_code(self) -> int:
        """0 found; 1 nothing to find (not reproducible, the base fails, ambiguous); 2 infrastructure."""
        return {"found": 0, "infra": 2}.get(self.value, 1)


@dataclass(frozen=True)
class Culprit:
    name: str  # patch file name, or the commit id
    subject: str
    commit: str
    index: int | None  # 1-based patch number (series mode)
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Options:
    signature: Signature | None = None  # None: established at the tip
    repeat: int = 1
    check: bool = False  # also verify the good end (ktest BISECT_CHECK): one more build
    all_workloads: bool = False  # steps run every workload, not only those the signature needs


@dataclass(frozen=True)
class BisectResult:
    run_id: str
    mode: str  # series | range
    series: str
    results_dir: Path
    conclusion: Conclusion
    message: str
    signature: tuple[str, ...]
    steps: tuple[Step, ...]
    culprit: Culprit | None
    candidates: tuple[str, ...]  # AMBIGUOUS: where the first bad may be
    secs: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return self.conclusion.exit_code

    @property
    def builds(self) -> int:
        return sum(s.builds for s in self.steps)

    @property
    def runs(self) -> int:
        return sum(len(s.runs) for s in self.steps)
