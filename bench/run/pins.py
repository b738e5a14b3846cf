"""FOLL_PIN counters of a run, from what the guest runner wrote into its guest/ folder.

guests/runner.sh snapshots /proc/vmstat at guest start and end (vmstat.start, vmstat.end)
and the nr_foll_pin_* counters around each workload (<name>.vmstat.start/.end), folding the
per-CPU deltas first. Older runs have vmstat.start only: what is not there is not reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.base import files, rundir
from bench.base.limits import LIMITS
from bench.run.oracles import vmstat

ACQUIRED, RELEASED = "nr_foll_pin_acquired", "nr_foll_pin_released"
RUN = "(run)"  # the key of the whole run's span


@dataclass(frozen=True)
class Pins:
    """Pin counter growth over one span (a workload, or the whole run)."""

    acquired: int
    released: int

    @property
    def held(self) -> int:
        """Pins taken in the span and not released by its end (a leak if it stays > 0)."""
        return self.acquired - self.released

    def to_json(self) -> dict[str, int]:
        return {"acquired": self.acquired, "released": self.released, "held": self.held}


def _read(path: Path) -> dict[str, int] | None:
    text = files.read_guest(path, LIMITS.guest_file)  # the guest wrote it: bounded, no FIFO or link
    return None if text is None else vmstat(text)


def span(guest: Path, stem: str) -> Pins | None:
    """<stem>.start -> <stem>.end; None unless both files have both counters."""
    start, end = _read(guest / f"{stem}.start"), _read(guest / f"{stem}.end")
    if not start or not end or not all(k in start and k in end for k in (ACQUIRED, RELEASED)):
        return None
    return Pins(end[ACQUIRED] - start[ACQUIRED], end[RELEASED] - start[RELEASED])


def of_run(guest: Path, workloads: Iterable[str]) -> dict[str, Pins]:
    """The whole run (key RUN) and each workload with both snapshots."""
    found = {RUN: span(guest, rundir.VMSTAT)} | {w: span(guest, rundir.of_workload(w, rundir.VMSTAT))
                                                  for w in workloads}
    return {k: v for k, v in found.items() if v is not None}


def changes(before: Mapping[str, Pins], after: Mapping[str, Pins]) -> dict[str, tuple[int, int]]:
    """Spans whose held pins differ: key -> (held before, held after)."""
    return {k: (before[k].held, after[k].held) for k in after if k in before and before[k].held != after[k].held}
