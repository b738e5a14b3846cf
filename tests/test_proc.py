from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from bench.base import proc
from bench.base.errors import InfraError


def alive(pid: int) -> bool:
    """Running, not just a zombie waiting for an init that may never reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_output_copied_to_log_and_tail(tmp_path: Path) -> None:
    lines: list[str] = []
    res = proc.run(["sh", "-c", "echo one; echo two >&2; exit 3"], log=tmp_path / "log", on_line=lines.append)
    assert res.rc == 3 and not res.ok and not res.timed_out
    assert lines == ["one", "two"] and res.tail == ("one", "two")
    assert (tmp_path / "log").read_text() == "$ sh -c 'echo one; echo two >&2; exit 3'\none\ntwo\n"


def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    start = time.monotonic()
    # The grandchild would outlive a plain kill of the shell.
    res = proc.run(["sh", "-c", f"sleep 60 & echo $! > {pidfile}; wait"], timeout=1, log=tmp_path / "log")
    assert res.timed_out and time.monotonic() - start < 15
    child = int(pidfile.read_text())
    time.sleep(0.2)
    assert not alive(child)
    assert "killed after 1s timeout" in (tmp_path / "log").read_text()


def test_env_and_cwd(tmp_path: Path) -> None:
    res = proc.run(["sh", "-c", "echo $PINBENCH_X; pwd"], env={"PINBENCH_X": "42"}, cwd=tmp_path)
    assert res.tail == ("42", str(tmp_path))


def test_missing_program_is_infra_error() -> None:
    with pytest.raises(InfraError, match="cannot run no-such-program-pinbench"):
        proc.run(["no-such-program-pinbench"])


def test_check_names_command_and_last_line() -> None:
    res = proc.run(["sh", "-c", "echo bad thing; exit 1"])
    with pytest.raises(InfraError, match=r"make tea failed \(exit 1\): sh -c .*: bad thing"):
        proc.check(res, "make tea")


def test_end_group_kills_every_process_of_a_group_and_waits(tmp_path: Path) -> None:
    child = subprocess.Popen(["sh", "-c", "sleep 301 & sleep 302; :"], cwd=tmp_path, start_new_session=True)
    deadline = time.monotonic() + 5
    while len(proc.group_pids(child.pid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(proc.group_pids(child.pid)) == 3 and proc.works_in(child.pid, tmp_path)  # sh runs in tmp_path
    assert not proc.works_in(child.pid, tmp_path / "elsewhere")
    proc.end_group(child.pid)
    assert proc.group_pids(child.pid) == [] and child.wait(timeout=5) == -9
    proc.end_group(os.getpgrp())  # never our own group
