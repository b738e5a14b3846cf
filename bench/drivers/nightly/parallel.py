"""`bench nightly --parallel N`: the night as N shards run at once, merged into one night.

Each shard is an ordinary `bench nightly --request FILE --shard I/N` child process with the
parent's run options in FILE (its share of the cores as their jobs), writing into a scratch
folder next to the night; `bench merge`'s code then makes the night folder exactly as an
unsharded night would be. Work slots make concurrent
runs safe: each run locks its own slot.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from bench.base import proc, rundir
from bench.run.plan import RunRequest, write_request

def shard_commands(matrix: Path, request: Path, n: int, work: Path) -> list[tuple[list[str], Path]]:
    """Each shard's command line and log: the matrix, the run options as one request file
    (typed, written by bench: no rewriting of the user's command line), its slice and folder."""
    base = [sys.executable, "-m", "bench", "nightly", str(matrix), "--request", str(request)]
    return [([*base, "--shard", f"{i}/{n}", "--out", str(work / f"shard-{i}")], work / f"shard-{i}.log")
            for i in range(1, n + 1)]


def run_shards(matrix: Path, request: RunRequest, n: int, night_dir: Path) -> tuple[list[Path], Path]:
    """Run the n shards (each with `request`, its jobs already its share of the cores); the
    folders of those that wrote a night, and the scratch folder."""
    work = work_dir(night_dir)
    work.mkdir(parents=True, exist_ok=True)
    write_request(request, work / rundir.REQUEST)
    proc.run_all(shard_commands(matrix, work / rundir.REQUEST, n, work))
    return written(work, n), work


def work_dir(night_dir: Path) -> Path:
    return night_dir.parent / f".{night_dir.name}-parallel"


def written(work: Path, n: int) -> list[Path]:
    """The shard folders that wrote a night (all of it, or, stopped, what ran: complete false)."""
    return [work / f"shard-{i}" for i in range(1, n + 1) if (work / f"shard-{i}" / rundir.NIGHT).is_file()]


def clean(work: Path) -> None:
    """The shards' folders, once merged (merge copies the runs), except their logs and request."""
    for folder in work.glob("shard-*"):
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
