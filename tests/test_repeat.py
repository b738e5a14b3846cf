"""`bench run --repeat N`: fail:runs per case, flaky cases, and regressions by Fisher's test.

End to end in the shared test world: a one-patch series whose marker makes the fake vng
replay the real canary boot (rxe and pin-balance fail), on every boot or (FAKE_VNG_FLAKY=N)
only on every Nth one; the base and the other boots replay the real baseline boot.
"""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from math import comb
from pathlib import Path
from typing import Any

import pytest
from conftest import BOOTS, World, commit_files, git

from bench.base import rundir, stats
from bench.base.errors import InfraError
from bench.cli.main import main as bench_main
from bench.run import rates
from bench.run.result import Case, RunResult, Status

LEAKY = ("workload/pin-balance", "workload/rxe")


@pytest.fixture
def world(world: World) -> World:
    world.mp.setenv("FAKE_VNG_DEFAULT", str(BOOTS / "baseline-tcg"))
    world.mp.setenv("FAKE_VNG_RULES", f"BISECT_LEAK={BOOTS / 'canary-tcg'}")
    tree = world.tree
    git(tree, "checkout", "-q", "-b", "leak")
    commit_files(tree, {"mm/gup.c": (tree / "mm/gup.c").read_text() + "/* BISECT_LEAK */\n"}, "mm/gup: leak")
    out = world.home / "patches" / "leak"
    git(tree, "format-patch", "-q", "-o", str(out), "master..leak")
    (out / "series.yaml").write_text("workloads: [rxe, gup-test, pin-balance]\n")
    git(tree, "checkout", "-q", "master")
    return world


def repeat(world: World, *args: str) -> tuple[int, dict[str, Any], Path]:
    rc = bench_main(["run", "leak", "--accel", "tcg", "--results", str(world.results), *args])
    folders = list(world.results.iterdir()) if world.results.exists() else []
    if not folders:
        return rc, {}, world.results
    (folder,) = folders
    return rc, json.loads((folder / "summary.json").read_text()), folder


def rate(summary: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in summary["info"]["repeat"]["rates"] if r["key"] == key)
    return found


def test_a_failure_in_some_runs_without_a_kernel_report_is_flaky(world: World,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    world.mp.setenv("FAKE_VNG_FLAKY", "2")  # the leak shows on the 2nd boot only
    world.mp.setenv("FAKE_VNG_COUNT", str(world.tmp / "count"))
    rc, summary, folder = repeat(world, "--repeat", "3")
    assert rc == 0 and summary["verdict"] == "pass"
    for key in LEAKY:
        r = rate(summary, key)
        assert (r["fails"], r["runs"], r["flaky"], r["status"]) == (1, 3, True, "skip"), r
        assert r["message"] == "flaky: failed 1:3, passed in the other runs, no kernel report with it"
    assert rate(summary, "workload/gup-test")["message"] == "0:3"
    assert sorted(d.name for d in folder.iterdir() if d.is_dir()) == ["r1", "r2", "r3"]
    builds = [json.loads((folder / r / "summary.json").read_text())["cases"] for r in ("r1", "r2", "r3")]
    made = [next(c["message"] for c in cases if c["group"] == "build") for cases in builds]
    assert not made[0].startswith("reused") and all(m.startswith("reused") for m in made[1:])  # built once
    table = (folder / "rates.txt").read_text()
    assert table in capsys.readouterr().out
    assert "  workload/rxe" in table and "1:3  FLAKY: flaky: failed 1:3" in table


def test_a_failure_in_every_run_fails(world: World) -> None:
    rc, summary, _ = repeat(world, "--repeat", "2")
    assert rc == 1 and rate(summary, "workload/rxe")["message"] == "2:2: fails (in every run)"


def test_with_the_base_a_regression_is_a_rate_above_the_base_s(world: World,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    rc, summary, folder = repeat(world, "--repeat", "3", "--baseline")
    assert rc == 1, summary["cases"]
    r = rate(summary, "workload/pin-balance")
    assert (r["fails"], r["runs"], r["base_fails"], r["base_runs"], r["p"]) == (3, 3, 0, 3, 0.05)
    assert r["message"] == "regression: 3:3 vs 0:3 on the base (one-sided Fisher p=0.05 <= 0.05)"
    assert sorted(d.name for d in folder.iterdir() if d.is_dir()) == ["base-r1", "base-r2", "base-r3", "r1", "r2", "r3"]
    base, r1 = (json.loads((folder / name / "summary.json").read_text()) for name in ("base-r1", "r1"))
    assert base["series"] == r1["series"] + "-base" and base["info"]["base"] == r1["info"]["base"]  # plan.unpatched
    assert [c["name"] for c in base["cases"] if c["group"] == "apply"] == ["(no patches)"]
    assert summary["info"]["repeat"]["test"] == "one-sided Fisher exact"
    assert "one-sided Fisher exact test, p <= 0.05" in capsys.readouterr().out



@pytest.mark.parametrize("stop", [KeyboardInterrupt("SIGINT"), InfraError("results: cannot create the run's folder")])
@pytest.mark.parametrize("at, runs, base_runs", [(3, ["r1", "r2"], []), (5, ["r1", "r2", "r3"], ["base-r1"])])
def test_a_repeat_stopped_keeps_the_runs_that_ran(world: World, stop: BaseException, at: int, runs: list[str],
                                                  base_runs: list[str]) -> None:
    """Stopped in the series' runs or the base's: the summary counts the runs made so far and
    says it was stopped. Before the sweep a Ctrl-C dropped every run of the side it stopped
    (the summary said runs: []), and an InfraError left no summary at all."""
    world.stop_run(at, stop)
    rc, summary, folder = repeat(world, "--repeat", "3", "--baseline")
    rep = summary["info"]["repeat"]
    assert rc == 2 and (rep["runs"], rep["base_runs"]) == (runs, base_runs)
    stopped = next(c for c in summary["cases"] if c["name"] == "interrupted")
    assert stopped["status"] == "error" and stopped["message"].endswith(": not every run was made")
    assert rate(summary, "workload/pin-balance")["runs"] == len(runs)
    assert (folder / "junit.xml").is_file() and (folder / "rates.txt").is_file()


def test_a_rate_the_test_cannot_tell_from_the_base_s_is_not_counted(world: World) -> None:
    world.mp.setenv("FAKE_VNG_FLAKY", "2")  # the leak shows on every 2nd boot of the series
    world.mp.setenv("FAKE_VNG_COUNT", str(world.tmp / "count"))
    rc, summary, _ = repeat(world, "--repeat", "4", "--baseline")
    r = rate(summary, "workload/pin-balance")
    assert rc == 0 and (r["fails"], r["runs"], r["base_fails"], r["base_runs"]) == (2, 4, 0, 4)
    assert r["p"] == round(comb(6, 2) / comb(8, 4), 6) and r["status"] == "skip" and r["flaky"]
    assert r["message"] == "flaky, not above the base: 2:4 vs 0:4 on the base (one-sided Fisher p=0.214 > 0.05)"


def test_too_few_runs_to_ever_show_a_regression_is_refused(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, _ = repeat(world, "--repeat", "2", "--baseline")
    assert rc == 2 and "repeat 3 times or more" in capsys.readouterr().err
    assert bench_main(["run", "leak", "--repeat", "2", "--each"]) == 2


@pytest.mark.parametrize("given", [["--alpha", "0.01"], ["--alpha", "0.01", "--repeat", "3"],
                                   ["--alpha", "0.01", "--baseline"], ["--alpha", "7", "--repeat", "1", "--baseline"]])
def test_alpha_without_repeat_and_baseline_is_a_usage_error(world: World, capsys: pytest.CaptureFixture[str],
                                                            given: list[str]) -> None:
    """Before: --alpha was taken and did nothing (any value: 7 too) unless --repeat N and --baseline
    were both given: the run went on at the default level."""
    rc, summary, _ = repeat(world, *given)
    err = capsys.readouterr().err
    assert rc == 2 and not summary and err.count("\n") == 1
    assert err.startswith("bench: error: --alpha ") and "needs --repeat N (N >= 2) and --baseline" in err


def test_alpha_with_repeat_and_baseline_sets_the_level(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, _ = repeat(world, "--repeat", "3", "--baseline", "--alpha", "0.01")  # 3 runs: enough at 0.05 only
    assert rc == 2 and "at alpha 0.01: repeat 5 times or more" in capsys.readouterr().err


def test_a_build_failure_is_deterministic_and_not_repeated(world: World) -> None:
    world.mp.setenv("FAIL", "build")
    rc, summary, folder = repeat(world, "--repeat", "3")
    assert rc == 1 and rate(summary, "build/kernel")["message"] == "1:1: fails (deterministic)"
    assert [d.name for d in folder.iterdir() if d.is_dir()] == ["r1"]


# -- the test and the decision on their own -------------------------------------------------


def brute_force_p(a: int, b: int, c: int, d: int) -> Fraction:
    """P(X >= a) by listing every way to pick which of the failures fall on the series' side."""
    fails = [1] * (a + c) + [0] * (b + d)
    picks = list(itertools.combinations(range(len(fails)), a + b))
    return Fraction(sum(sum(fails[i] for i in pick) >= a for pick in picks), len(picks))


@pytest.mark.parametrize("table", [(3, 0, 0, 3), (2, 1, 0, 3), (3, 2, 0, 5), (1, 2, 1, 2), (0, 3, 2, 1), (4, 1, 2, 3)])
def test_fisher_is_exact(table: tuple[int, int, int, int]) -> None:
    assert stats.fisher_greater(*table) == pytest.approx(float(brute_force_p(*table)), abs=1e-12)


def test_fisher_known_values_and_the_fewest_runs() -> None:
    assert stats.fisher_greater(3, 0, 0, 3) == pytest.approx(0.05)  # 1 / C(6, 3)
    assert stats.fisher_greater(3, 2, 0, 5) == pytest.approx(21 / 252)
    assert stats.fisher_greater(0, 3, 0, 3) == 1.0
    assert (stats.min_runs(0.05), stats.min_runs(0.01), stats.min_runs(0.001)) == (3, 5, 7)


def run(*cases: Case, rid: str = "r") -> RunResult:
    return RunResult(rid, "s", Path("/x"), (Case("boot", "boot", Status.PASS), *cases), 1.0)


def test_a_failure_with_a_kernel_report_is_not_flaky() -> None:
    crash = Case("report", "BUG: unable to handle page fault", Status.FAIL)
    runs = [run(Case("workload", "odirect", Status.FAIL), crash), run(Case("workload", "odirect", Status.PASS))]
    found = {r.key: r for r in rates.rates(runs, None, stats.ALPHA)}
    assert found["workload/odirect"].status is Status.FAIL and not found["workload/odirect"].flaky
    assert found["workload/odirect"].message == "1:2: fails (with a kernel report)"
    report = found["report/BUG: unable to handle page fault"]
    assert (report.series.fails, report.series.runs, report.status) == (1, 2, Status.FAIL)


def test_runs_with_infrastructure_trouble_are_not_counted() -> None:
    trouble = RunResult("r2", "s", Path("/x"), (Case("infra", "InfraError", Status.ERROR, 0.0, "disk full"),), 1.0)
    runs = [run(Case("workload", "rxe", Status.PASS)), trouble]
    found = rates.rates(runs, None, stats.ALPHA)
    assert [(r.key, str(r.series)) for r in found] == [("boot/boot", "0:1"), ("workload/rxe", "0:1")]
    assert rates.cases(found, runs)[-1] == Case("repeat", "r2", Status.SKIP, 1.0, "not counted: disk full")


# -- oracles that make a case only when they fail: taint windows, and expectations ------------


def guest_run(tmp: Path, rid: str, *cases: Case, read: tuple[str, ...] = ("odirect",)) -> RunResult:
    """A run whose guest folder has the taint readings of the runner: tainted.start and the
    windows of `read` (the workloads it finished)."""
    guest = tmp / rid / "guest"
    guest.mkdir(parents=True)
    (guest / "tainted.start").write_text("0\n")
    for name in read:
        (guest / f"{name}.tainted.start").write_text("0\n")
        (guest / f"{name}.tainted.end").write_text("0\n")
    return RunResult(rid, "s", tmp / rid, (Case("boot", "boot", Status.PASS), *cases), 1.0)


TAINTED = Case("taint", "odirect", Status.FAIL, 0.0, "unexplained taint W during odirect")
ODIRECT_FAILS = Case("workload", "odirect", Status.FAIL, 0.0, "exit 1: FAIL: data mismatch")


def test_a_taint_failing_every_run_against_a_clean_base_is_a_regression(tmp_path: Path) -> None:
    series = [guest_run(tmp_path, f"r{i}", TAINTED) for i in (1, 2, 3)]
    base = [guest_run(tmp_path, f"base-r{i}") for i in (1, 2, 3)]  # clean: no taint case at all
    found = {r.key: r for r in rates.rates(series, base, stats.ALPHA)}["taint/odirect"]
    assert (str(found.series), str(found.base), found.status) == ("3:3", "0:3", Status.FAIL)
    assert found.message == "regression: 3:3 vs 0:3 on the base (one-sided Fisher p=0.05 <= 0.05)"


def test_a_taint_in_one_run_of_three_is_flaky(tmp_path: Path) -> None:
    runs = [guest_run(tmp_path, "r1", TAINTED), guest_run(tmp_path, "r2"), guest_run(tmp_path, "r3")]
    found = {r.key: r for r in rates.rates(runs, None, stats.ALPHA)}
    assert found["taint/odirect"].flaky and found["taint/odirect"].status is Status.SKIP
    assert str(found["taint/odirect"].series) == "1:3"
    # the whole-run window (taint/run) passes where the runner wrote its first reading
    runs.append(guest_run(tmp_path, "r4", Case("taint", "run", Status.FAIL, 0.0, "unexplained taint W")))
    assert str({r.key: r for r in rates.rates(runs, None, stats.ALPHA)}["taint/run"].series) == "1:4"


def test_a_taint_window_never_read_decides_nothing(tmp_path: Path) -> None:
    unfinished = Case("workload", "odirect", Status.FAIL, 0.0, "did not finish: the kernel died while it ran")
    runs = [guest_run(tmp_path, "r1", TAINTED, ODIRECT_FAILS), guest_run(tmp_path, "r2", unfinished, read=())]
    assert str({r.key: r for r in rates.rates(runs, None, stats.ALPHA)}["taint/odirect"].series) == "1:1"
    # without guest files a workload with an exit code (pass, skip) had its window read
    passed = RunResult("r3", "s", Path("/nonexistent"), (Case("workload", "odirect", Status.PASS),), 1.0)
    assert str({r.key: r for r in rates.rates([*runs, passed], None, stats.ALPHA)}["taint/odirect"].series) == "1:2"


EXPECT = "expect/vmstat pinned_folio_mkclean +1"


@pytest.mark.parametrize("series, base, status, says", [
    ("ppp", "fff", Status.PASS, "0:3 vs 3:3 on the base: the unpatched base never does it"),
    ("ppp", "ffp", Status.FAIL, "0:3 vs 2:3 on the base: the unpatched base does it too (in 1 of its 3 runs)"),
    ("fff", "fff", Status.FAIL, "3:3: fails (in every run)"),  # the series never does it: not "not above the base"
    ("fpp", "fff", Status.SKIP, "flaky: failed 1:3"),
])
def test_an_expectation_with_the_base_is_checked_both_ways(series: str, base: str, status: Status,
                                                           says: str) -> None:
    def runs(prefix: str, outcomes: str) -> list[RunResult]:
        return [run(Case("expect", EXPECT.split("/", 1)[1], Status.PASS if o == "p" else Status.FAIL),
                    rid=f"{prefix}{i}") for i, o in enumerate(outcomes)]

    found = {r.key: r for r in rates.rates(runs("r", series), runs("base-r", base), stats.ALPHA)}[EXPECT]
    assert found.status is status and found.message.startswith(says), found.message


def test_a_repeat_started_in_the_same_second_as_another_run_gets_its_own_folder(world: World) -> None:
    world.mp.setattr(rundir, "new_name", lambda root, label="": "20261130-120000-leak")
    (world.results / "20261130-120000-leak").mkdir(parents=True)  # the other run was faster
    rc = bench_main(["run", "leak", "--accel", "tcg", "--results", str(world.results), "--repeat", "3"])
    summary = json.loads((world.results / "20261130-120000-leak-2" / "summary.json").read_text())
    assert rc == 1 and summary["run_id"] == "20261130-120000-leak-2"
