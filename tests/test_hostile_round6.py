"""Hostile input, sixth pass (a fresh-eyes review, branch hostile): each test failed on the code
before its fix."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HOME, WARNING

from bench.cli import main as cli_main

# -- a reader that leaves (`bench scan LOG | head`) never turns a failure into a pass --------


def test_a_reader_that_leaves_never_turns_a_new_report_into_exit_0(tmp_path: Path) -> None:
    """Before: stdout a pipe nobody reads (`bench scan console.log | head -1` once head has its
    line, with pipefail) and the BrokenPipeError of the first print was exit 0, a PASS for a log
    with a new kernel report (and for `bench bisect-step`, a "good" commit)."""
    log = tmp_path / "console.log"
    log.write_text(WARNING * 300)  # more than a pipe's buffer of output
    r, w = os.pipe()
    os.close(r)
    try:
        cp = subprocess.run([sys.executable, "-m", "bench", "scan", str(log)], stdout=w, stderr=subprocess.PIPE,
                            text=True, timeout=60, cwd=HOME)
    finally:
        os.close(w)
    assert cp.returncode == 1, (cp.returncode, cp.stderr[-500:])
    assert cp.stderr == ""


class _Gone(io.StringIO):
    """A stdout whose reader left: every write is EPIPE."""

    def write(self, s: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_command_goes_on_to_its_own_exit_code_when_stdout_is_gone(monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The command is not cut short by its printing: it ends as it would have (a run writes its
    summary.json), with its own code; bisect-step's abort stays 128, never git's "good"."""
    done = []

    def handler(_args: argparse.Namespace) -> int:
        print("FAIL workload/smoke")
        done.append(True)
        return 1

    monkeypatch.setattr(sys, "stdout", _Gone())
    assert cli_main.dispatch(argparse.Namespace(func=handler)) == 1
    assert done == [True]
    assert cli_main.dispatch(argparse.Namespace(func=handler), abort=cli_main.BISECT_ABORT) == 1
