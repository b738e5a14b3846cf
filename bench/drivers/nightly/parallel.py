"""`bench nightly --parallel N`: the night as N shards run at once, merged into one night.

Each shard is an ordinary `bench nightly --shard I/N` child process with its share of the
cores (`--jobs`), writing into a scratch folder next to the night; `bench merge`'s code then
makes the night folder exactly as an unsharded night would be. Work slots make concurrent
runs safe: each run locks its own slot.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from bench.base import proc, rundir

# Options the children get from us, not from the user's command line (name -> takes a value).
OWN = {"--parallel": True, "--out": True, "--shard": True, "--jobs": True, "--previous": True,
       "--log-url": True, "--list": False}


def child_argv(argv: Sequence[str]) -> list[str]:
    """The user's `bench nightly ...` arguments without the ones each shard gets its own of."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in OWN:
            skip = OWN[name] and "=" not in arg
            continue
        out.append(arg)
    return out


def run_shards(argv: Sequence[str], n: int, jobs: int, night_dir: Path) -> tuple[list[Path], Path]:
    """Run the n shards; the folders of those that wrote a night, and the scratch folder."""
    work = work_dir(night_dir)
    work.mkdir(parents=True, exist_ok=True)
    base = [sys.executable, "-m", "bench", *child_argv(argv)]
    commands = [([*base, "--shard", f"{i}/{n}", "--out", str(work / f"shard-{i}"), "--jobs", str(jobs)],
                 work / f"shard-{i}.log") for i in range(1, n + 1)]
    proc.run_all(commands)
    return written(work, n), work


def work_dir(night_dir: Path) -> Path:
    return night_dir.parent / f".{night_dir.name}-parallel"


def written(work: Path, n: int) -> list[Path]:
    """The shard folders that wrote a night (all of it, or, stopped, what ran: complete false)."""
    return [work / f"shard-{i}" for i in range(1, n + 1) if (work / f"shard-{i}" / rundir.NIGHT).is_file()]


def clean(work: Path) -> None:
    """The shards' folders, once merged (merge copies the runs), except their logs."""
    for folder in work.glob("shard-*"):
        if folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
