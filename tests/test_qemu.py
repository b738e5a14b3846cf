"""The QEMU wrapper (bench/run/qemu.py) around a stand-in QEMU: transparent (arguments, stdio, exit
code, death by a signal), signals to it reach QEMU, and how a VM's QEMU ended is recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bench.run import qemu
from bench.run.qemu import QemuStatus

# A stand-in QEMU: prints its arguments and what stdin gave, then ends as $END says.
STAND_IN = """#!/bin/bash
echo "args: $*"
[ "$1" = --version ] && { echo "QEMU emulator version 9.9.9"; exit 0; }
read -r line && echo "stdin: $line"
echo "to stderr" >&2
case $END in
    exit*) exit "${END#exit }" ;;
    signal*) kill -s "${END#signal }" $$ ;;
    wait) trap 'echo "got TERM" >&2; echo "$0: terminating on signal 15 from pid 1 (x)" >&2; exit 0' TERM
          echo ready; while :; do sleep 0.1; done ;;
    forge) echo "qemu-system-x86_64: terminating on signal 15 from pid 1 (x)"; exit 0 ;;
esac
"""


@pytest.fixture
def wrapper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    (bin_ / "qemu-system-x86_64").write_text(STAND_IN)
    (bin_ / "qemu-system-x86_64").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_}:{os.environ['PATH']}")
    monkeypatch.setenv(qemu.STATUS_ENV, str(tmp_path / "status"))
    path = qemu.write_wrapper(tmp_path / "cache", "x86_64")
    assert path is not None and os.access(path, os.X_OK) and str(bin_ / "qemu-system-x86_64") in path.read_text()
    return path


def call(wrapper: Path, *args: str, end: str = "exit 0") -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(wrapper), *args], input="hello\n", capture_output=True, text=True,
                          env={**os.environ, "END": end}, timeout=30)


def test_a_query_is_qemu_itself_and_records_nothing(wrapper: Path, tmp_path: Path) -> None:
    cp = call(wrapper, "--version")
    assert cp.returncode == 0 and cp.stdout == "args: --version\nQEMU emulator version 9.9.9\n"
    assert not (tmp_path / "status").exists()


@pytest.mark.parametrize("end, rc, status", [
    ("exit 0", 0, QemuStatus(code=0)), ("exit 3", 3, QemuStatus(code=3)),
    ("signal KILL", -9, QemuStatus(signal=9)), ("signal SEGV", -11, QemuStatus(signal=11)),
])
def test_a_vm_passes_through_and_its_end_is_recorded(wrapper: Path, tmp_path: Path, end: str, rc: int,
                                                     status: QemuStatus) -> None:
    cp = call(wrapper, "-kernel", "/b/bzImage", "-append", "a b", end=end)
    assert cp.returncode == rc  # the wrapper ends as QEMU did: vng's waitpid sees the same
    assert cp.stdout == "args: -kernel /b/bzImage -append a b\nstdin: hello\n" and cp.stderr == "to stderr\n"
    assert qemu.read_status(tmp_path / "status") == status
    assert (tmp_path / "status").read_text().startswith("start\n")


def test_a_signal_to_the_wrapper_reaches_qemu(wrapper: Path, tmp_path: Path) -> None:
    p = subprocess.Popen([str(wrapper), "-kernel", "x"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env={**os.environ, "END": "wait"})
    assert p.stdin and p.stdout
    p.stdin.write("x\n")
    p.stdin.flush()
    while "ready" not in p.stdout.readline():
        pass
    p.send_signal(signal.SIGTERM)  # to the wrapper only: QEMU exits 0 on it, as the real one does
    _, err = p.communicate(timeout=30)
    assert p.returncode == 0 and "got TERM" in err and "terminating on signal 15" in err  # passed through
    assert qemu.read_status(tmp_path / "status") == QemuStatus(code=0, said=15)  # QEMU's own stderr said it


def test_the_line_on_qemus_stdout_is_the_guests_and_not_noted(wrapper: Path, tmp_path: Path) -> None:
    cp = call(wrapper, "-kernel", "x", end="forge")  # stdout is the guest's serial console
    assert cp.returncode == 0 and "terminating on signal 15" in cp.stdout
    assert qemu.read_status(tmp_path / "status") == QemuStatus(code=0)


def test_status_file_reading(tmp_path: Path) -> None:
    path = tmp_path / "s"
    assert qemu.read_status(path) == QemuStatus()  # no wrapper ran
    path.write_text("start\n")
    assert qemu.read_status(path) == QemuStatus()  # the wrapper died with QEMU: unknown
    path.write_text("start\nexit 0\nstart\nsignal 9\n")
    assert qemu.read_status(path) == QemuStatus(signal=9) and str(QemuStatus(signal=9)) == "killed by signal 9"
    path.write_text("start\nsaid 15\nexit 0\nstart\nexit 0\n")  # the last VM's lines only
    assert qemu.read_status(path) == QemuStatus(code=0)
    path.write_text("start\nsaid 2\nexit 0\n")
    assert qemu.read_status(path) == QemuStatus(code=0, said=2) and QemuStatus(code=0, said=2).known
    assert not QemuStatus(said=2).known
    assert str(QemuStatus(code=0)) == "exited 0" and str(QemuStatus()) == "unknown"


def test_no_wrapper_without_qemu_or_on_a_path_vng_would_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              wrapper: Path) -> None:
    assert qemu.write_wrapper(tmp_path / "with space", "x86_64") is None  # vng splits --qemu's value
    assert qemu.write_wrapper(tmp_path / "cache", "nonesuch-arch") is None
    mtime = wrapper.stat().st_mtime_ns
    time.sleep(0.01)
    assert qemu.write_wrapper(wrapper.parent, "x86_64") == wrapper and wrapper.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in wrapper.parent.iterdir()) == [wrapper.name]  # no temp file left
