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


# -- Ctrl-C while the bench starts, and once it is done ---------------------------------------


def _as_the_command(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    """body run as the `bench` console script runs (a script file named bench)."""
    script = tmp_path / "bench"
    script.write_text(body)
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                          cwd=HOME, env={**os.environ, "PYTHONPATH": str(HOME)})


@pytest.mark.parametrize("argv0", ["bench", "python -m bench"])
def test_ctrl_c_while_the_bench_starts_is_exit_2(tmp_path: Path, argv0: str) -> None:
    """Before: a Ctrl-C in the seconds the imports take (3.1 s on this loaded machine) was a
    KeyboardInterrupt traceback and exit 130 (-2); SIGTERM and SIGHUP were already exit 2."""
    fake = "" if argv0 == "bench" else f"import sys\nsys.argv[0] = {str(HOME / 'bench' / '__main__.py')!r}\n"
    cp = _as_the_command(tmp_path, fake + "import os, signal, time\nimport bench.cli\n"
                         "os.kill(os.getpid(), signal.SIGINT)\ntime.sleep(10)\nraise SystemExit(0)\n")
    assert cp.returncode == 2 and cp.stderr == "bench: interrupted by SIGINT while starting\n", (cp.returncode, cp.stderr)


def test_a_host_that_imports_the_bench_keeps_its_own_ctrl_c() -> None:
    """A test runner or a script importing bench.cli: Ctrl-C stays Python's KeyboardInterrupt."""
    code = "import signal\nimport bench.cli\nassert signal.getsignal(signal.SIGINT) is signal.default_int_handler\n"
    cp = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=HOME)
    assert cp.returncode == 0, cp.stderr


def test_a_signal_once_the_command_is_done_cannot_kill_it(tmp_path: Path) -> None:
    """Before: once main() returned, Python's shutdown put the default handlers back, and a
    Ctrl-C then killed the bench silently with 130 (-2) after a run that had passed (seen 4.0 s
    into `bench run` against the test world's fakes: summary.json "pass", no word on stderr)."""
    cp = _as_the_command(tmp_path, "import os, signal, sys\nfrom bench.cli.main import main\n"
                         "rc = main(['list', 'kconfigs'])\n"
                         "assert all(signal.getsignal(s) == signal.SIG_IGN for s in"
                         " (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)), 'a signal would kill the shutdown'\n"
                         "os.kill(os.getpid(), signal.SIGINT)\nsys.exit(rc)\n")
    assert cp.returncode == 0, cp.stderr
