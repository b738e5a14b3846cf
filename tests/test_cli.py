from __future__ import annotations

from pathlib import Path

import pytest

from bench import plan as plan_mod
from bench.cli import main as cli_main
from bench.cli import options

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
