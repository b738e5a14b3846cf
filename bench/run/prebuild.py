"""The guest programs, built on the host before the boot.

The guest runs the host's own user space (virtme-ng shares the root), so a program gcc builds
here runs there, and gcc under TCG is some ten times slower: the default set's workloads spent
100-170 s of their guest time compiling. A workload script that calls `prebuild_done`
(guests/lib.sh) has its builds first; run with BENCH_PREBUILD=1 it builds into the run's guest
folder and exits there, before anything that touches the machine. In the guest the same
script's `gcc_once` finds each output with the arguments it would use and skips gcc. A
prebuild that fails is only a note: the guest then compiles (and fails) as it always did, so a
compile error still lands on the workload's own case.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.base import proc
from bench.run.guests import Workload

LOG = "prebuild.log"  # in the run folder: every prebuild's commands and output
TIMEOUT = 600  # seconds for one script's builds: ~20 s on a loaded 2-core host (2026-12-06)


@dataclass(frozen=True)
class Prebuilt:
    workload: str
    ok: bool
    secs: float
    why: str = ""  # when not ok: the last line of its output, or the timeout


def prebuild(workloads: tuple[Workload, ...], gdir: Path, env: dict[str, str], log: Path) -> tuple[Prebuilt, ...]:
    """Run each workload's builds on the host (one script at a time: they share the run's bin/);
    env: what the guest's runner exports (guests/runner.sh, the run's env file)."""
    done: list[Prebuilt] = []
    for w in workloads:
        if not w.prebuild:
            continue
        res = proc.run(["bash", str(w.script)], cwd=gdir, log=log, timeout=TIMEOUT,
                       env={**env, **dict(w.params), "BENCH_OUT": str(gdir), "BENCH_WORKLOAD": w.name,
                            "BENCH_PREBUILD": "1"})
        why = "" if res.ok else (f"timed out after {TIMEOUT}s" if res.timed_out
                                 else (res.tail[-1] if res.tail else f"exit {res.rc}"))
        done.append(Prebuilt(w.name, res.ok, res.secs, why))
    return tuple(done)
