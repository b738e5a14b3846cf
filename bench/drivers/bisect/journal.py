"""A bisect folder's steps: the Step record, bisect.log for people, steps.jsonl for machines."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.base import files, formats, paths, rundir
from bench.base.errors import UserError
from bench.drivers.bisect.judge import Evidence, Verdict


@dataclass(frozen=True)
class Step:
    seq: int
    label: str  # "tip 6/6", "4/6", "bad 0123456789ab", a commit
    commit: str  # the kernel's HEAD ("" if it never got that far)
    patches: int | None  # patches applied (series mode)
    verdict: Verdict
    reason: str
    secs: float
    reproduced: int
    runs: tuple[str, ...]  # run folder names, inside the bisect folder
    failing: tuple[str, ...]  # failing signature-group keys, over all runs
    evidence: tuple[Evidence, ...] = ()
    builds: int = 0  # runs in which make ran (a repeat, or an unchanged kernel, reuses the image)

    @property
    def score(self) -> str:
        return f"{self.reproduced}/{len(self.runs)}"

    def log_line(self) -> str:
        commit = self.commit[:12] or "-"
        return (f"{self.seq:>3}  {self.label:<18} {commit:<12}  {self.verdict.value:<5} "
                f"{self.secs:>6.0f}s  {self.reason}")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict.value, "secs": round(self.secs, 1)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Step:
        return cls(**{**data, "verdict": Verdict(data["verdict"]), "runs": tuple(data["runs"]),
                      "failing": tuple(data["failing"]),
                      "evidence": tuple(Evidence(**e) for e in data.get("evidence", ()))})


class Journal:
    """A bisect folder's running record: bisect.log for people, steps.jsonl for machines.

    Range-mode steps run in `git bisect run`'s child processes; they append here and the
    parent reads the steps back, so both kinds of step share one numbering and one log.
    """

    def __init__(self, folder: Path) -> None:
        self.dir = folder
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = folder / rundir.BISECT_LOG
        self.jsonl = folder / rundir.BISECT_STEPS

    def note(self, text: str) -> None:
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(f"# {text}\n")

    def add(self, step: Step) -> None:
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(step.log_line() + "\n")
        with open(self.jsonl, "a", encoding="utf-8") as f:
            f.write(json.dumps(step.to_json()) + "\n")

    def steps(self) -> list[Step]:
        """The steps so far; a line that is not one (cut by a kill or a full disk, a hand edit)
        is named with its line number, never a crash of the next step."""
        if not self.jsonl.is_file():
            return []
        steps = []
        for n, line in enumerate(files.read_input(self.jsonl).split(b"\n"), 1):
            if not line.strip():
                continue
            try:
                data = formats.parse_json(self.jsonl, line)
                if not isinstance(data, dict):
                    raise TypeError("not an object")
                step = Step.from_json(data)
                if bad := next((r for r in step.runs if not paths.plain(r)), None):  # read as folders here
                    raise ValueError(f"run {str(bad)[:60]!r} is not a plain folder name")
                steps.append(step)
            except (ValueError, KeyError, TypeError) as e:  # FormatProblem is a ValueError
                why = f"field {e} missing" if isinstance(e, KeyError) else str(e).removeprefix(f"{self.jsonl}: ")
                raise UserError(f"{self.jsonl}:{n}: not a bisect step this bench wrote: {why[:200]}") from e
        return steps

    def next_seq(self) -> int:
        return len(self.steps()) + 1


def step_name(seq: int, label: str) -> str:
    """A run folder name for a step: "03-4of6", "05-0123456789ab"."""
    return rundir.sub_name(label.replace("/", "of"), seq)


def bad_step(steps: Sequence[Step], which: Callable[[Step], bool]) -> Step | None:
    return next((s for s in steps if s.verdict is Verdict.BAD and which(s)), None)

