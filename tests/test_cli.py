from __future__ import annotations

import argparse
import errno
import os
import signal
from pathlib import Path

import pytest

from bench.cli import main as cli_main, options
from bench.run import plan as plan_mod

HOME = Path(__file__).resolve().parent.parent


def test_list(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BENCH_HOME", str(HOME))
    assert cli_main.main(["list", "workloads"]) == 0
    assert {"rxe", "odirect", "gup-test", "pin-balance", "smoke"} <= set(capsys.readouterr().out.split())
    assert cli_main.main(["list", "series"]) == 0
    assert {"baseline", "canary", "put-user-page"} <= set(capsys.readouterr().out.split())
    assert cli_main.main(["list", "kconfigs"]) == 0
    assert {"base", "rdma", "debug-vm", "kasan", "lockdep"} <= set(capsys.readouterr().out.split())


def test_unknown_series_is_a_one_line_error(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.setenv("BENCH_HOME", str(HOME))
    assert cli_main.main(["run", "no-such-series", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("bench: error: ") and "no-such-series" in err and len(err.splitlines()) == 1


def test_unknown_workload_and_kconfig(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                      tmp_path: Path) -> None:
    monkeypatch.setenv("BENCH_HOME", str(HOME))

    def no_tree(*_: object) -> Path:
        raise AssertionError("the tree was resolved (the tarball unpacked) before the names were checked")
    monkeypatch.setattr(plan_mod.tree, "resolve_tree", no_tree)
    assert cli_main.main(["run", "baseline", "--workload", "nope", "--results", str(tmp_path)]) == 2
    assert "nope.yaml: no such workload" in capsys.readouterr().err
    assert cli_main.main(["run", "baseline", "--kconfig", "nope", "--results", str(tmp_path)]) == 2
    assert "nope.config: no such kconfig fragment" in capsys.readouterr().err


def test_plan_merges_kconfigs_in_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BENCH_HOME", str(HOME))
    args = cli_main.build_parser().parse_args(
        ["run", "canary", "--kconfig", "lockdep", "--workload", "rxe", "--workload", "pin-balance",
         "--param", "rxe.ITERS=5", "--results", str(tmp_path)])
    monkeypatch.setattr(plan_mod.tree, "resolve_tree", lambda *a: tmp_path)
    plan = plan_mod.make_plan(options.request(args, args.series), HOME)
    assert [f.name for f in plan.fragments] == ["base", "rdma", "debug-vm", "lockdep"]
    assert [w.name for w in plan.workloads] == ["rxe", "pin-balance"]
    assert ("ITERS", "5") in plan.workloads[0].params
    assert plan.run_id.endswith("-canary") and plan.tree == tmp_path


@pytest.mark.parametrize("bad, says", [
    (["--jobs", "-3"], "--jobs"), (["--cpus", "0"], "--cpus"), (["--memory", "lots"], "--memory"),
    (["--memory", "64M"], "--memory"), (["--accel", "warp"], "--accel"),
])
def test_bad_option_values_are_usage_errors_before_any_work(bad: list[str], says: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BENCH_HOME", str(HOME))
    monkeypatch.setattr(plan_mod.tree, "resolve_tree", lambda *a: tmp_path)
    assert cli_main.main(["run", "baseline", *bad, "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert says in err and not list(tmp_path.iterdir())  # no run folder: nothing started


def _crashing(e: Exception, results: Path | None) -> argparse.Namespace:
    def handler(args: argparse.Namespace) -> int:
        raise e
    return argparse.Namespace(func=handler, results=results)


def test_an_unexpected_exception_is_one_line_exit_2_with_the_traceback_kept(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli_main.dispatch(_crashing(KeyError("slot"), tmp_path)) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("bench: error: internal error: KeyError: 'slot'")
    (log,) = tmp_path.glob("crash-*.log")
    assert f"traceback in {log}" in err and "raise e" in log.read_text()
    assert cli_main.dispatch(_crashing(OSError(errno.ENOSPC, "No space left on device", "/r/x"), tmp_path)) == 2
    # a full disk is the machine's trouble: one line naming the file, no traceback to keep
    assert capsys.readouterr().err == "bench: error: /r/x: cannot write: disk full\n"
    assert len(list(tmp_path.glob("crash-*.log"))) == 1


def test_bisect_step_aborts_with_128_on_any_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli_main.dispatch(_crashing(ValueError("bug"), tmp_path), abort=cli_main.BISECT_ABORT) == 128
    assert "internal error: ValueError: bug" in capsys.readouterr().err


def test_a_traceback_with_nowhere_to_go_is_printed(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def full(path: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(cli_main, "write_atomic", full)
    monkeypatch.setenv("BENCH_HOME", str(tmp_path / "home"))  # the fallbacks: results root, cache
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    assert cli_main.dispatch(_crashing(RuntimeError("boom"), tmp_path)) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.endswith("(traceback above)\n")


@pytest.mark.parametrize("argv", [["list", "kconfigs"], ["list", "nothing"]])  # a command, a usage error
def test_an_in_process_main_gives_the_host_its_signal_handlers_back(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Before: main() left its own handler (_terminate) on SIGINT, SIGTERM and SIGHUP when it
    returned, and once the command was done that handler only said so: a test runner that had
    called main() could no longer be stopped by SIGTERM (nor Ctrl-C, nor SIGHUP)."""
    monkeypatch.setenv("BENCH_HOME", str(HOME))
    got: list[int] = []

    def host(signum: int, _frame: object) -> None:
        got.append(signum)
    before = {sig: signal.getsignal(sig) for sig in cli_main.SIGNALS}
    try:
        signal.signal(signal.SIGTERM, host)  # the host's own
        cli_main.main(argv)
        assert signal.getsignal(signal.SIGTERM) is host
        assert all(signal.getsignal(sig) == before[sig] for sig in (signal.SIGINT, signal.SIGHUP))
        os.kill(os.getpid(), signal.SIGTERM)
        assert got == [signal.SIGTERM] and "the command has finished" not in capsys.readouterr().err
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
