"""Hostile input, round 8 (branch hostile8): each test failed on the code before its fix."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bench.base import files

HOME = Path(__file__).resolve().parent.parent


# -- a signal while a result file is written leaves no temporary file -----------------------


def test_a_signal_while_a_folder_is_copied_leaves_no_temporary_folder(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: Ctrl-C while a run copied guests/ into its results (reproducer.sh's copy) left
    `.guests.XXXX.tmp` in the run folder: only an OSError cleaned it up (seen with a SIGINT 3.6 s
    into `bench run` against the test world's fakes)."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        (src / f"w{i}.sh").write_text("x\n")
    copyfile, calls = shutil.copyfile, []

    def interrupted(a: Any, b: Any, **kw: Any) -> Any:
        calls.append(b)
        if len(calls) == 3:
            raise KeyboardInterrupt("SIGINT")
        return copyfile(a, b, **kw)
    monkeypatch.setattr(shutil, "copyfile", interrupted)
    (tmp_path / "out").mkdir()
    with pytest.raises(KeyboardInterrupt):
        files.copy_tree(src, tmp_path / "out" / "guests")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_signal_while_a_file_is_written_leaves_no_temporary_file(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: a KeyboardInterrupt between mkstemp and the rename left `.summary.json.XXXX.tmp`."""
    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt("SIGTERM")
    monkeypatch.setattr(os, "fsync", interrupted)
    (tmp_path / "summary.json").write_text("old\n")
    with pytest.raises(KeyboardInterrupt):
        files.write_atomic(tmp_path / "summary.json", "new\n")
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    assert (tmp_path / "summary.json").read_text() == "old\n"
