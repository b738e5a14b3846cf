"""`bench prove` on a fake catalogue: bugs caught, missed, or failing some other way.

The shared test world; each bug is one real git patch on its tree, and the fake vng replays
the recorded boot its marker picks (BISECT_LEAK: canary-tcg, pin-balance fails; BISECT_OTHER:
a real VM_WARN report during gup-test; none: baseline-tcg, all pass).
"""

from __future__ import annotations

import json
import shutil
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from conftest import BOOTS, HOME, TESTS, World

from bench.base.errors import InfraError
from bench.cli.main import main as bench_main
from bench.drivers import prove as prove_mod
from bench.run import guests, series
from bench.run.plan import default_cache
from bench.run.result import Case, RunResult, Status

@pytest.fixture
def world(world: World) -> World:
    world.mp.setenv("FAKE_VNG_DEFAULT", str(BOOTS / "baseline-tcg"))
    other = world.boot_with("other-tcg", (TESTS / "data" / "console" / "vm-warn-on-once-folio-hmm.log").read_text(),
                            "workload gup-test start")
    world.mp.setenv("FAKE_VNG_RULES", f"BISECT_OTHER={other}\nBISECT_LEAK={BOOTS / 'canary-tcg'}")
    return world


def bug(world: World, name: str, marker: str, catch: str) -> None:
    world.bug(name, marker, catch)


def prove(world: World, *extra: str) -> tuple[int, dict[str, object], Path]:
    rc = bench_main(["prove", "--accel", "tcg", "--results", str(world.results), *extra])
    (folder,) = [d for d in world.results.iterdir() if d.name.endswith("-prove")]
    return rc, json.loads((folder / "summary.json").read_text()), folder


def test_the_catch_table(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    bug(world, "quiet", "nothing to see", "[workload/pin-balance, 'report/^WARNING']")
    bug(world, "other", "BISECT_OTHER", "[workload/rxe]")
    rc, summary, folder = prove(world)
    outcomes = {v["name"]: v["outcome"] for v in summary["verdicts"]}  # type: ignore[attr-defined]
    assert outcomes == {"leak": "caught", "quiet": "missed", "other": "other"}
    assert rc == 1 and summary["control"] == "pass" and summary["caught"] == 1
    out = capsys.readouterr().out
    assert "caught 1 of 3 (33%)" in out and "control (the tree as it is): PASS" in out
    assert re.search(r"^  leak: CAUGHT: .*workload/pin-balance: exit 1: FAIL: pin imbalance", out, re.M)
    assert re.search(r"^  quiet: MISSED: nothing failed$", out, re.M)
    assert re.search(r"^    reach: ", out, re.M), out  # the control profiled the bugs' files
    # Every run is kept in the prove folder, the control first; one work slot for all of them.
    assert sorted(d.name for d in folder.iterdir() if d.is_dir()) == ["00-control", "01-leak", "02-other", "03-quiet"]
    assert [p.name for p in (world.cache / "work").iterdir() if p.is_dir()] == ["slot-1"]
    suite = ET.parse(folder / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    failed = {c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None}
    assert failed == {"quiet", "other"}


def test_every_bug_caught_exits_zero(world: World) -> None:
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    bug(world, "quiet", "nothing to see", "['report/^BUG']")
    rc, summary, _ = prove(world, "--bug", "leak")
    assert rc == 0 and summary["caught"] == 1 and summary["bugs"] == 1


def test_a_control_that_fails_fails_the_proof(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.mp.setenv("FAKE_VNG_RULES", f"pin_user_pages={BOOTS / 'canary-tcg'}")  # the base itself leaks
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    rc, summary, _ = prove(world)
    assert rc == 1 and summary["control"] == "fail"
    # the control fails the catch case too: that proves nothing, and no "caught N of M" is said
    assert [v["outcome"] for v in summary["verdicts"]] == ["unproven"]  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    assert "caught 0 of 1" not in out and "no catch figure: the control did not pass" in out


def test_caught_only_when_every_catch_case_fails_with_its_message(world: World,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """canary-tcg fails pin-balance and rxe, passes gup-test (issue 20 item 6)."""
    bug(world, "all", "BISECT_LEAK", "[workload/pin-balance, workload/rxe]")
    bug(world, "half", "BISECT_LEAK", "[workload/pin-balance, workload/gup-test]")
    bug(world, "said", "BISECT_LEAK", "[{case: workload/pin-balance, message: 'FOLL_PIN|pin'}]")
    bug(world, "unsaid", "BISECT_LEAK", "[{case: workload/pin-balance, message: 'no such words'}]")
    rc, summary, _ = prove(world)
    outcomes = {v["name"]: v["outcome"] for v in summary["verdicts"]}  # type: ignore[attr-defined]
    assert outcomes == {"all": "caught", "half": "partial", "said": "caught", "unsaid": "other"}
    assert rc == 1 and "caught 2 of 4 (50%)" in capsys.readouterr().out


def test_repeat_prints_a_catch_rate_per_bug(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    rc, summary, folder = prove(world, "--repeat", "2")
    assert rc == 0 and summary["caught"] == 1
    out = capsys.readouterr().out
    assert re.search(r"^  leak: CAUGHT in 2 of 2 runs: .*workload/pin-balance: exit 1: FAIL: pin imbalance", out, re.M)
    assert sorted(d.name for d in folder.iterdir() if d.is_dir()) == ["00-control", "01-leak-r1", "01-leak-r2"]


@pytest.mark.parametrize("yaml, says", [
    ("catch: [workload/pin-balance]\n", "fixes: missing"),
    ("fixes: 'abc'\n", "catch: missing"),
    ("fixes: 'abc'\ncatch: [pin-balance]\n", "series.yaml:2: catch 'pin-balance': want workload/NAME or pages/NAME or report/"),
    # a bare report caught any bug that hit any report (issue 20 item 6)
    ("fixes: 'abc'\ncatch: [workload/rxe, report]\n", "series.yaml:2: catch 'report': name the report"),
    # a title regex that matches any title was a bare report in disguise
    ("fixes: 'abc'\ncatch: [workload/rxe, 'report/.*']\n", "series.yaml:2: catch 'report/.*': the title regex matches any"),
    ("fixes: 'abc'\ncatch: ['report/.']\n", "series.yaml:2: catch 'report/.': the title regex matches any"),
    ("fixes: 'abc'\ncatch: ['report/^|x']\n", "series.yaml:2: catch 'report/^|x': the title regex matches any"),
    # a workload the bug never runs: "missed" after the whole build and boot (issue 21 item 9)
    ("workloads: [rxe]\nfixes: 'abc'\ncatch: [workload/cow]\n",
     "series.yaml:3: catch 'workload/cow': the bug's run never runs workload 'cow' (it runs: rxe)"),
    ("fixes: 'abc'\ncatch: [{case: workload/rxe, message: '(('}]\n", "catch message '((': not a regex"),
    ("fixes: 'abc'\ncatch: [{case: workload/rxe, msg: x}]\n", "want {case: KEY, message: REGEX}"),
    # pages/NAME is a workload's too: refused for a workload the bug never runs
    ("workloads: [rxe]\nfixes: 'abc'\ncatch: [pages/cow]\n",
     "series.yaml:3: catch 'pages/cow': the bug's run never runs workload 'cow' (it runs: rxe)"),
])
def test_catalogue_entries_are_checked_before_any_run(world: World, yaml: str, says: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    (world.home / "patches" / "bugs" / "leak" / "series.yaml").write_text(yaml)
    assert bench_main(["prove", "--accel", "tcg", "--results", str(world.results)]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1
    assert not world.results.exists() or not any(world.results.iterdir())
    assert not (world.cache / "work").exists() or not any((world.cache / "work").iterdir())  # no build


def test_every_catalogue_bug_is_valid_under_the_catch_rules() -> None:
    """Every patches/bugs/*/series.yaml loads, and its catch names cases its workloads run."""
    folder = HOME / "patches" / "bugs"
    names = prove_mod.catalogue(folder)
    assert len(names) >= 12
    default = [w.name for w in guests.select(["default"], HOME / "guests")]
    for spec in names:
        s = series.load_series(spec, HOME / "patches")
        runs = [w.name for w in guests.select(list(s.meta.workloads), HOME / "guests")] if s.meta.workloads else default
        prove_mod.check_bug(s, runs)
        assert s.meta.control or (s.meta.catch and all(c.case != "report" for c in s.meta.catch))


@pytest.mark.parametrize("drop", [("pin-balance.rc", "pin-balance.log"), ("*",)])
def test_caught_needs_a_control_that_ran_and_passed_the_catch_cases(world: World, drop: tuple[str, ...],
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A control that never ran pin-balance (its result missing, or no workload result at all)
    failed none of the catch cases, and the bug was called CAUGHT: proven by nothing."""
    control = world.root / "boots" / "control"
    shutil.copytree(BOOTS / "baseline-tcg", control)
    for pattern in drop:
        for f in (control / "guest").glob(pattern):
            f.unlink()
    world.mp.setenv("FAKE_VNG_DEFAULT", str(control))
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    rc, summary, _ = prove(world)
    assert summary["control"] != "pass" and rc != 0
    assert [v["outcome"] for v in summary["verdicts"]] == ["unproven"]  # type: ignore[attr-defined]
    out = capsys.readouterr().out
    assert "CAUGHT" not in out and "no catch figure: the control did not pass" in out


def test_a_report_catch_needs_a_control_that_booted() -> None:
    catch = prove_mod.Catch("report/^BUG: Bad page", where="series.yaml:3")
    bug_run = RunResult("b", "bug", Path("/r/b"), (Case("boot", "boot", Status.PASS),
                                                  Case("report", "BUG: Bad page state", Status.FAIL)), 1.0)
    booted = RunResult("c", "", Path("/r/c"), (Case("boot", "boot", Status.PASS),), 1.0)
    died = RunResult("c", "", Path("/r/c"), (Case("boot", "boot", Status.ERROR, 0.0, "vng trouble"),), 1.0)
    seen = RunResult("c", "", Path("/r/c"), (*booted.cases, Case("report", "BUG: Bad page state", Status.SKIP)), 1.0)
    assert prove_mod.judge(bug_run, (catch,), booted) is prove_mod.Outcome.CAUGHT
    assert prove_mod.judge(bug_run, (catch,), died) is prove_mod.Outcome.UNPROVEN
    assert prove_mod.judge(bug_run, (catch,), seen) is prove_mod.Outcome.UNPROVEN  # known there: proves nothing
    skipped = RunResult("c", "", Path("/r/c"), (*booted.cases, Case("workload", "rxe", Status.SKIP)), 1.0)
    rxe = prove_mod.Catch("workload/rxe")
    failing = RunResult("b", "bug", Path("/r/b"), (Case("workload", "rxe", Status.FAIL, 0.0, "x"),), 1.0)
    assert prove_mod.judge(failing, (rxe,), skipped) is prove_mod.Outcome.UNPROVEN


def test_a_prove_stopped_by_a_signal_keeps_its_summary(world: World) -> None:
    """Stopped mid-bug, the prove folder kept every run but no summary.json or junit.xml."""
    import os
    import signal
    import subprocess
    import sys
    import time
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    bug(world, "slow", "SLOW_BUG", "[workload/pin-balance]")
    slow = world.root / "boots" / "slow"
    shutil.copytree(BOOTS / "canary-tcg", slow)
    world.mp.setenv("FAKE_VNG_RULES", f"BISECT_LEAK={BOOTS / 'canary-tcg'}\nSLOW_BUG={slow}")
    fake = world.root / "bin"  # a vng that takes its time for the slow bug only (its marker in the tree)
    fake.mkdir()
    (fake / "vng").write_text(
        "#!/bin/bash\n"
        "for a; do case $a in --rwdir=*) host=${a#--rwdir=} ;; esac; done\n"
        'src=$(sed -n "s/^BENCH_SRC=//p" "$host/env")\n'
        'grep -rqF --exclude-dir=.git SLOW_BUG "$src" && sleep 43.25\n'
        f'exec {TESTS / "bin" / "vng"} "$@"\n')
    (fake / "vng").chmod(0o755)
    world.mp.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    child = subprocess.Popen([sys.executable, "-m", "bench", "prove", "--accel", "tcg", "--results", str(world.results)],
                             cwd=HOME, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(world.results.glob("*-prove/02-slow/console.log")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    (folder,) = [d for d in world.results.iterdir() if d.name.endswith("-prove")]
    assert child.returncode == 2, err[-2000:]
    summary = json.loads((folder / "summary.json").read_text())
    assert [v["name"] for v in summary["verdicts"]] == ["leak"] and summary["verdicts"][0]["outcome"] == "caught"
    assert (folder / "junit.xml").is_file()


def test_a_prove_stopped_by_the_machine_keeps_its_summary(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A bug's run folder that cannot be made (an InfraError, here at the second bug) stops the
    proof, exit 2 with its one line; the summary keeps the control and the bugs judged before
    it (before the sweep it had none: the folder held the runs and no summary.json)."""
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    bug(world, "other", "BISECT_OTHER", "[workload/rxe]")
    world.stop_run(3, InfraError("results: cannot create the run's folder"))
    rc, summary, folder = prove(world)
    assert rc == 2 and "bench: error: results: cannot create the run's folder" in capsys.readouterr().err
    assert summary["control"] == "pass" and [v["name"] for v in summary["verdicts"]] == ["leak"]  # type: ignore[attr-defined]
    assert (folder / "junit.xml").is_file()


def test_a_pages_catch_matches_only_that_workloads_pages_case() -> None:
    """pages/NAME (bench/run/leaks.py's case) names the same workload's pages case, not its workload case."""
    from bench.run.catch import parse
    from bench.run.result import Case, Status
    (pages,) = parse("series.yaml:1", [{"case": "pages/mm-selftests", "message": "hugetlb page"}])
    assert pages.workload_pattern is not None and pages.workload_pattern.workload == "mm-selftests"
    failed = Case("pages", "mm-selftests", Status.FAIL, 0.0, "mm-selftests left memory behind: 4 hugetlb page(s) in use")
    assert pages.matches(failed)
    assert not pages.matches(Case("workload", "mm-selftests", Status.FAIL, 0.0, "4 hugetlb page(s)"))
    assert not pages.matches(Case("pages", "iouring", Status.FAIL, 0.0, "4 hugetlb page(s)"))


def test_every_catalogue_patch_applies_to_the_cached_tree() -> None:
    """Each bug's patch applies to the tree `bench prove` uses by default (`git apply --check`):
    a patch that stopped applying would only show as a failed apply after the control's boot."""
    trees = sorted(t for t in default_cache().glob("linux-source-*") if (t / ".git").exists())
    if not trees:
        pytest.skip(f"no cached kernel tree under {default_cache()} (the first bench run makes it)")
    bad = []
    for spec in prove_mod.catalogue(HOME / "patches" / "bugs"):
        for patch in series.load_series(spec, HOME / "patches").patches:
            cp = subprocess.run(["git", "-C", str(trees[-1]), "apply", "--check", "-"], input=patch.text,
                                capture_output=True, text=True)
            if cp.returncode:
                bad.append(f"{spec}: {patch.name}: {cp.stderr.strip()}")
    assert not bad, "\n".join(bad)


def control(world: World, name: str, marker: str) -> None:
    """A catalogue control: a one-patch series marked control: true (no fixes:, no catch:)."""
    folder = world.bug(name, marker, "[workload/pin-balance]")
    (folder / "series.yaml").write_text(f"description: {name}\nworkloads: [rxe, gup-test, pin-balance]\ncontrol: true\n")


def test_controls_are_judged_the_other_way(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A control passes (HELD) or is the bench's FALSE ALARM; "caught N of M" counts bugs only."""
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    control(world, "clean", "nothing to see")
    control(world, "noisy", "BISECT_LEAK")  # a "refactor" whose run fails pin-balance
    rc, summary, folder = prove(world)
    outcomes = {v["name"]: v["outcome"] for v in summary["verdicts"]}  # type: ignore[attr-defined]
    assert outcomes == {"leak": "caught", "clean": "held", "noisy": "false-alarm"}
    assert rc == 1 and summary["exit_code"] == 1
    assert (summary["caught"], summary["bugs"], summary["held"], summary["controls"]) == (1, 1, 1, 2)
    out = capsys.readouterr().out
    assert "caught 1 of 1 (100%)" in out and "controls: 1 of 2 passed; FALSE ALARM: noisy" in out
    assert re.search(r"^  noisy: FALSE-ALARM: .*workload/pin-balance: exit 1: FAIL: pin imbalance", out, re.M)
    assert re.search(r"^  clean: HELD: nothing failed$", out, re.M)
    suite = ET.parse(folder / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert {c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None} == {"noisy"}


def test_bugs_caught_and_controls_held_exit_zero(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    control(world, "clean", "nothing to see")
    rc, summary, _ = prove(world)
    assert rc == 0 and summary["held"] == 1 and summary["caught"] == 1 and summary["bugs"] == 1
    assert "controls: 1 of 1 passed\n" in capsys.readouterr().out


def test_judge_control() -> None:
    passed = RunResult("c", "x", Path("/r/c"), (Case("boot", "boot", Status.PASS), Case("workload", "rxe", Status.PASS)), 1.0)
    failed = RunResult("c", "x", Path("/r/c"), (*passed.cases, Case("report", "WARNING in foo", Status.FAIL)), 1.0)
    infra = RunResult("c", "x", Path("/r/c"), (Case("infra", "crash", Status.ERROR),), 1.0)
    assert prove_mod.judge_control(passed) is prove_mod.Outcome.HELD
    assert prove_mod.judge_control(failed) is prove_mod.Outcome.FALSE_ALARM
    assert prove_mod.judge_control(infra) is prove_mod.Outcome.INFRA


@pytest.mark.parametrize("yaml, says", [
    ("control: true\ncatch: [workload/rxe]\n", "series.yaml: a control (control: true) has no catch:"),
    ("control: true\nfixes: 'abc'\n", "series.yaml: a control (control: true) has no fixes:"),
    ("description: x\ncontrol: yes please\n", "series.yaml:2: control must be true or false"),
])
def test_a_control_with_a_catch_or_fixes_is_refused(world: World, yaml: str, says: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    control(world, "clean", "nothing to see")
    (world.home / "patches" / "bugs" / "clean" / "series.yaml").write_text(yaml)
    assert bench_main(["prove", "--accel", "tcg", "--results", str(world.results)]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1


# -- --resume: a stopped proof finished later -------------------------------------------------


def _count_runs(world: World) -> list[str]:
    """The run ids pipeline.run is called with from now on (after any stop_run of the test)."""
    from bench.run import pipeline
    real, calls = pipeline.run, []

    def run(plan: object, printer: object) -> object:
        calls.append(plan.run_id)  # type: ignore[attr-defined]
        return real(plan, printer)  # type: ignore[arg-type]
    world.mp.setattr(pipeline, "run", run)
    return calls


def test_a_stopped_prove_is_finished_by_resume(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """Stopped at its second bug (Ctrl-C), the proof is finished by --resume: the control and
    the first bug are read back from their folders, only the second runs, and the table holds all."""
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    bug(world, "leak2", "BISECT_LEAK", "[workload/pin-balance]")
    world.stop_run(3, KeyboardInterrupt())
    rc, stopped, folder = prove(world)
    assert rc == 2 and (folder / "prove.json").is_file() and (folder / "request.json").is_file()
    assert [v["name"] for v in stopped["verdicts"]] == ["leak"]  # type: ignore[attr-defined]
    capsys.readouterr()
    calls = _count_runs(world)
    rc = bench_main(["prove", "--resume", str(folder)])
    out = capsys.readouterr().out
    summary = json.loads((folder / "summary.json").read_text())
    assert rc == 0, out[-3000:]
    assert calls == ["02-leak2"]  # the control and the first bug were not run again
    assert out.count("finished before: PASS") == 1 and out.count("finished before: FAIL") == 1
    assert [(v["name"], v["outcome"]) for v in summary["verdicts"]] == [("leak", "caught"), ("leak2", "caught")]
    assert summary["control"] == "pass" and "caught 2 of 2" in out


def test_resume_runs_a_sub_run_that_did_not_finish_again_and_keeps_it(world: World,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A bug's run that a stop or the machine ended (its summary says ERROR, or it has none) is
    run again under its own name; what it wrote is kept beside it as NAME.stopped."""
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    rc, _, folder = prove(world)
    assert rc == 0
    run = folder / "01-leak" / "summary.json"
    data = json.loads(run.read_text())
    data["cases"].append({"group": "infra", "name": "interrupted", "status": "error", "secs": 0, "message": "stopped"})
    run.write_text(json.dumps(data))
    (folder / "00-control" / "summary.json").unlink()  # stopped before its summary was written
    calls = _count_runs(world)
    assert bench_main(["prove", "--resume", str(folder)]) == 0
    assert calls == ["00-control", "01-leak"]
    assert (folder / "01-leak.stopped" / "summary.json").read_text() == json.dumps(data)
    assert (folder / "00-control.stopped").is_dir() and (folder / "01-leak" / "summary.json").is_file()
    assert "did not finish before: kept as 01-leak.stopped" in capsys.readouterr().out


def test_resume_refuses_a_proof_whose_bench_or_catalogue_changed(world: World,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    _, _, folder = prove(world)
    capsys.readouterr()
    yaml = world.home / "patches" / "bugs" / "leak" / "series.yaml"
    yaml.write_text(yaml.read_text().replace("description: leak", "description: a leak"))
    calls = _count_runs(world)
    assert bench_main(["prove", "--resume", str(folder)]) == 2 and not calls
    err = capsys.readouterr().err
    assert f"{folder / 'prove.json'}: the bench, guests/, kconfigs/, known-issues.yaml, the catalogue" in err


@pytest.mark.parametrize("extra, says", [
    (["--bug", "leak"], "leave out --bug"),
    (["--repeat", "3"], "leave out --repeat"),
    (["--workload", "rxe"], "leave out run options"),
])
def test_resume_takes_no_other_choice(world: World, capsys: pytest.CaptureFixture[str], extra: list[str],
                                      says: str) -> None:
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    _, _, folder = prove(world)
    capsys.readouterr()
    assert bench_main(["prove", "--resume", str(folder), *extra]) == 2
    assert says in capsys.readouterr().err


def _edit_prove(folder: Path, **fields: object) -> None:
    data = json.loads((folder / "prove.json").read_text())
    (folder / "prove.json").write_text(json.dumps({**data, **fields}))


@pytest.mark.parametrize("edit, says", [
    (lambda f: (f / "prove.json").unlink(), "prove.json: missing: not a folder of `bench prove`"),
    (lambda f: (f / "prove.json").write_text('{"format": 1, "bugs": "leak"}'), "prove.json: field 'catalogue' must be a str"),
    (lambda f: (f / "prove.json").write_text("{"), "prove.json: not JSON"),
    (lambda f: (f / "request.json").write_text('{"format": 9}'), "request.json: not a run request written by bench"),
    (lambda f: _edit_prove(f, bugs=["leak", "leak"], bases=["0" * 40] * 2), "prove.json: field 'bugs' must be the catalogue's"),
    (lambda f: _edit_prove(f, catalogue="/nonexistent"), "/nonexistent: no such catalogue folder"),
    (lambda f: _edit_prove(f, catalogue=""), "prove.json: field 'catalogue' must be a folder's absolute path, not ''"),
])
def test_resume_of_a_folder_that_is_not_a_proof_is_one_line(world: World, capsys: pytest.CaptureFixture[str],
                                                            edit: Any, says: str) -> None:
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    _, _, folder = prove(world)
    capsys.readouterr()
    edit(folder)
    assert bench_main(["prove", "--resume", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err


def test_resume_digests_the_whole_bench_not_only_its_drivers() -> None:
    """The scanner, the judging, the cases decide verdicts as much as the drivers do: a change
    to any of bench/ since the proof started must refuse its resume."""
    import bench
    from bench.drivers.prove import state
    hashed = {p.relative_to(state.PACKAGE) for p in state._files(state.PACKAGE)}
    assert state.PACKAGE == Path(bench.__file__).resolve().parent
    assert Path("report/scanner.py") in hashed and Path("run/catch.py") in hashed


def test_resume_refuses_when_a_bugs_own_base_moved(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A bug whose series.yaml names its base (a branch): the branch moved since the proof
    started, so its runs so far and new ones would be of two trees: refused, nothing run."""
    from conftest import commit_files, git
    git(world.tree, "branch", "stable", "master")
    for name in ("leak", "leak2"):
        yaml = world.bug(name, "BISECT_LEAK", "[workload/pin-balance]") / "series.yaml"
        yaml.write_text(yaml.read_text() + "base: stable\n")
    world.stop_run(3, KeyboardInterrupt())
    rc, _, folder = prove(world)
    assert rc == 2
    git(world.tree, "checkout", "-q", "stable")
    commit_files(world.tree, {"README": "moved\n"}, "stable moves on")
    git(world.tree, "checkout", "-q", "master")
    capsys.readouterr()
    calls = _count_runs(world)
    assert bench_main(["prove", "--resume", str(folder)]) == 2 and not calls
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "leak's base is" in err[0], err


def test_resume_does_not_read_back_a_run_of_another_series(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A sub-run folder whose summary.json is another series' run (copied, or a folder renamed
    by hand) is not this bug's result: refused in one line, not counted as caught."""
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    bug(world, "quiet", "nothing to see", "[workload/pin-balance]")
    world.stop_run(3, KeyboardInterrupt())
    rc, _, folder = prove(world)
    assert rc == 2
    shutil.copytree(folder / "01-leak", folder / "02-quiet")
    capsys.readouterr()
    calls = _count_runs(world)
    assert bench_main(["prove", "--resume", str(folder)]) == 2 and not calls
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "02-quiet/summary.json" in err[0] and "leak" in err[0], err


def test_a_hand_edited_sub_run_summary_is_no_traceback(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A finished sub-run's summary.json with a case message that is no string: not read back
    (it is set aside and run again), never a traceback."""
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    _, _, folder = prove(world)
    run = folder / "01-leak" / "summary.json"
    data = json.loads(run.read_text())
    for c in data["cases"]:
        c["message"] = 5
    run.write_text(json.dumps(data))
    capsys.readouterr()
    calls = _count_runs(world)
    assert bench_main(["prove", "--resume", str(folder)]) == 0
    assert calls == ["01-leak"] and (folder / "01-leak.stopped").is_dir()


def test_a_proof_still_running_is_not_resumed_beside_it(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """--resume of a folder whose proof is still running (or being resumed) is refused: it would
    set the running sub-run's folder aside and run the same bug twice into one name."""
    from bench.run import pipeline
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    bug(world, "leak2", "BISECT_LEAK", "[workload/pin-balance]")
    real, inner = pipeline.run, []

    def run(plan: Any, printer: Any) -> Any:
        if plan.run_id == "02-leak2" and not inner:
            (folder,) = [d for d in world.results.iterdir() if d.name.endswith("-prove")]
            inner.append(-1)
            inner[0] = bench_main(["prove", "--resume", str(folder)])
        return real(plan, printer)
    world.mp.setattr(pipeline, "run", run)
    rc, summary, folder = prove(world)
    err = capsys.readouterr().err
    assert inner == [2] and "in use by another" in err, err
    assert rc == 0 and not list(folder.glob("*.stopped*"))


def test_resume_refuses_a_proof_whose_suppress_file_changed(world: World, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """A --suppress file decides verdicts as much as known-issues.yaml: changed since the start,
    the resume is refused."""
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    suppress = tmp_path / "suppress.yaml"
    suppress.write_text("format: 1\nissues: []\n")
    _, _, folder = prove(world, "--suppress", str(suppress))
    suppress.write_text("format: 1\nissues: []\n# edited\n")
    capsys.readouterr()
    calls = _count_runs(world)
    assert bench_main(["prove", "--resume", str(folder)]) == 2 and not calls
    assert "a --suppress or --kconfig file changed since" in capsys.readouterr().err
