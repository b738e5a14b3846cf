"""`bench bisect` / `bench bisect-step` with the world faked at its edges.

The shared test world (tests/conftest.py), series generated in its tree with real git, and
the fake vng replaying a real recorded boot chosen by markers the patches put in the source (BISECT_LEAK: canary-tcg, pin-balance fails; BISECT_OTHER: baseline-tcg plus a
real VM_WARN report, a different failure; none: baseline-tcg).
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import BOOTS, TESTS, World, commit_files, git

from bench.base.errors import InfraError, UserError
from bench.cli.main import main as bench_main
from bench.drivers.bisect import judge, range as brange, search as bsearch
from bench.drivers.bisect.bisection import made_a_build
from bench.drivers.bisect.journal import Journal, Step, step_name
from bench.drivers.bisect.judge import Evidence, Outcome, Verdict
from bench.run import slot
from bench.run.result import Case, RunResult, Status
from bench.run.runfacts import RunFacts

SIG = "workload/pin-balance"
RUN_OPTS = ["--accel", "tcg", "--workload", "gup-test", "--workload", "pin-balance"]

# What each generated patch does to the fake kernel.
EDITS: dict[str, Callable[[dict[str, str], int], None]] = {
    "tidy": lambda f, i: f.update({"mm/gup.c": f["mm/gup.c"] + f"/* tidy {i} */\n"}),
    "leak": lambda f, i: f.update({"mm/gup.c": f["mm/gup.c"] + "/* BISECT_LEAK */\n"}),
    "break": lambda f, i: f.update({"Makefile": "FAIL = build\n" + f["Makefile"]}),
    "fix": lambda f, i: f.update({"Makefile": f["Makefile"].replace("FAIL = build\n", "")}),
    "other": lambda f, i: f.update({"mm/rmap.c": "/* BISECT_OTHER */\n"}),
    "unother": lambda f, i: f.update({"mm/rmap.c": "/* rmap */\n"}),
}
CANARY_LIKE = ["tidy", "tidy", "tidy", "leak", "tidy", "tidy"]


@pytest.fixture
def world(world: World) -> World:
    """The shared world, its vng picking the boot by markers the patches put in the source."""
    world.mp.setenv("FAKE_VNG_DEFAULT", str(BOOTS / "baseline-tcg"))
    other = world.boot_with("other-tcg", (TESTS / "data" / "console" / "vm-warn-on-once-folio-hmm.log").read_text(),
                            "workload gup-test start")
    world.mp.setenv("FAKE_VNG_RULES", f"BISECT_OTHER={other}\nBISECT_LEAK={BOOTS / 'canary-tcg'}")
    world.mp.setenv("FAKE_VNG_BOOTS", str(world.tmp / "boots.txt"))
    return world


def make_series(world: World, kinds: list[str], name: str = "six") -> list[str]:
    """Patches home/patches/<name>/NNNN-*.patch from real commits on branch <name>; their ids."""
    tree = world.tree
    git(tree, "checkout", "-q", "-b", name)
    shas = []
    for i, kind in enumerate(kinds, 1):
        files = {p: (tree / p).read_text() for p in ("Makefile", "mm/gup.c", "mm/rmap.c")}
        EDITS[kind](files, i)
        shas.append(commit_files(tree, files, f"mm: {kind} step {i}"))
    out = world.home / "patches" / name
    git(tree, "format-patch", "-q", "-o", str(out), f"master..{name}")
    (out / "series.yaml").write_text(f"description: {' '.join(kinds)}\nworkloads: [gup-test, pin-balance]\n")
    git(tree, "checkout", "-q", "master")
    return shas


def bisect_cmd(world: World, *args: str) -> tuple[int, dict[str, Any], Path]:
    rc = bench_main(["bisect", *args, *RUN_OPTS, "--results", str(world.results)])
    dirs = sorted(d for d in world.results.iterdir() if d.name.split("-", 2)[-1].startswith("bisect-"))
    summary = json.loads((dirs[-1] / "summary.json").read_text()) if dirs else {}
    return rc, summary, dirs[-1] if dirs else world.results


def step_cmd(world: World, *args: str) -> int:
    return bench_main(["bisect-step", *args, *RUN_OPTS, "--results", str(world.results)])


def verdicts(summary: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["label"], s["verdict"]) for s in summary["bisect"]["steps"]]


# -- series mode --------------------------------------------------------------------------


def test_names_the_first_bad_patch_within_the_bound(world: World,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    make_series(world, CANARY_LIKE)
    rc, summary, folder = bisect_cmd(world, "six", "--check")
    b = summary["bisect"]
    assert rc == 0 and summary["verdict"] == "found" and summary["exit_code"] == 0
    assert b["first_bad"]["name"].startswith("0004-mm-leak-step-4")
    assert b["first_bad"]["subject"] == "mm: leak step 4" and b["signature"] == [SIG]
    # tip + base check + search: the canary's bound, ceil(log2 6) + 1, plus the check.
    assert verdicts(summary) == [("tip 6/6", "bad"), ("base 0/6", "good"), ("3/6", "good"), ("4/6", "bad")]
    assert b["builds"] <= bsearch.max_builds(6) + 1
    evidence = b["first_bad"]["evidence"][0]
    assert evidence["key"] == SIG and "pin imbalance" in evidence["message"]
    # Every step's run folder is inside the bisect's, with its own summary.
    for step in b["steps"]:
        (run,) = step["runs"]
        assert json.loads((folder / run / "summary.json").read_text())["info"]["bisect"] == folder.name
    log = (folder / "bisect.log").read_text().splitlines()
    lines = [ln for ln in log if not ln.startswith("#")]
    assert len(lines) == 4 and all(label in ln for ln, label in zip(lines, ["6/6", "0/6", "3/6", "4/6"]))
    assert "4/6" in log[-2] and "bad" in log[-2] and log[-1].startswith("# found: first bad patch: 0004")
    # JUnit: a testcase per step, and "first bad" failing with the subject and the evidence.
    suite = ET.parse(folder / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert len(cases) == 5
    failure = cases["first bad"].find("failure")
    assert failure is not None and "mm: leak step 4" in failure.get("message", "")
    assert "pin imbalance" in (failure.text or "")
    assert [n for n, c in cases.items() if c.find("failure") is not None] == ["first bad"]
    # One work slot for all the steps: one incremental build dir.
    assert [p.name for p in (world.cache / "work").iterdir() if p.is_dir()] == ["slot-1"]
    out = capsys.readouterr().out
    assert "FOUND: first bad patch: 0004-mm-leak-step-4.patch" in out and str(folder) in out


@pytest.mark.parametrize("first_bad", [1, 2, 5, 6])
def test_any_position_within_the_bound(world: World, first_bad: int) -> None:
    kinds = ["tidy"] * 6
    kinds[first_bad - 1] = "leak"
    make_series(world, kinds)
    rc, summary, _ = bisect_cmd(world, "six")  # default: no good-end check
    assert rc == 0 and summary["bisect"]["first_bad"]["index"] == first_bad
    assert summary["bisect"]["builds"] <= bsearch.max_builds(6)


def test_build_failure_is_a_skip(world: World) -> None:
    make_series(world, ["tidy", "tidy", "break", "fix", "leak", "tidy"])
    rc, summary, _ = bisect_cmd(world, "six", "--check")
    steps = {s["label"]: s for s in summary["bisect"]["steps"]}
    assert steps["3/6"]["verdict"] == "skip" and "build/kernel" in steps["3/6"]["reason"]
    assert rc == 0 and summary["bisect"]["first_bad"]["index"] == 5


def test_a_different_failure_is_a_skip_not_bad(world: World) -> None:
    make_series(world, ["tidy", "tidy", "other", "unother", "leak", "tidy"])
    rc, summary, folder = bisect_cmd(world, "six", "--check")
    steps = {s["label"]: s for s in summary["bisect"]["steps"]}
    assert steps["3/6"]["verdict"] == "skip"
    assert "different failure: report/WARNING in folio_lruvec_lock_irqsave" in steps["3/6"]["reason"]
    assert rc == 0 and summary["bisect"]["first_bad"]["index"] == 5
    assert "skip" in (folder / "bisect.log").read_text()


def test_only_untestable_patches_left_is_ambiguous(world: World) -> None:
    make_series(world, ["tidy", "tidy", "break", "leak", "fix", "tidy"])
    rc, summary, folder = bisect_cmd(world, "six", "--check")
    assert rc == 1 and summary["verdict"] == "ambiguous"
    assert [c[:4] for c in summary["bisect"]["candidates"]] == ["0003", "0004", "0005"]
    suite = ET.parse(folder / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.find("testcase[@name='first bad']/skipped") is not None


def test_flaky_failure_says_how_many_repeats_reproduced(world: World,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_VNG_FLAKY", "2")  # the leak shows on every other boot
    monkeypatch.setenv("FAKE_VNG_COUNT", str(world.tmp / "count"))
    make_series(world, CANARY_LIKE)
    rc, summary, folder = bisect_cmd(world, "six", "--check", "--repeat", "2")
    assert rc == 0 and summary["bisect"]["first_bad"]["index"] == 4
    for step in summary["bisect"]["steps"]:
        assert len(step["runs"]) == 2 and (folder / step["runs"][1]).is_dir()
        expect = "1/2 reproduced" if step["verdict"] == "bad" else "0/2 reproduced"
        assert step["reason"].startswith(expect), step


def test_tip_without_failure_is_not_reproducible(world: World) -> None:
    make_series(world, ["tidy"] * 3)
    rc, summary, _ = bisect_cmd(world, "six", "--check")
    assert rc == 1 and summary["verdict"] == "not-reproducible"
    assert verdicts(summary) == [("tip 3/3", "good")]


def test_tip_failing_another_way_than_asked_is_not_reproducible(world: World) -> None:
    make_series(world, CANARY_LIKE)
    rc, summary, _ = bisect_cmd(world, "six", "--check", "--signature", "report/WARNING in foo")
    assert rc == 1 and summary["verdict"] == "not-reproducible"
    assert "different failure: workload/pin-balance" in summary["bisect"]["message"]


def test_base_that_already_fails(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_VNG_RULES", f"pin_user_pages={BOOTS / 'canary-tcg'}")  # in the base
    make_series(world, CANARY_LIKE)
    rc, summary, _ = bisect_cmd(world, "six", "--check")
    assert rc == 1 and summary["verdict"] == "base-fails"
    assert verdicts(summary) == [("tip 6/6", "bad"), ("base 0/6", "bad")]


def test_base_that_fails_is_found_before_blaming_patch_one(world: World,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Without --check the good end is not run up front; the search lands on patch 1, and
    # the base is then checked once instead of blaming 0001.
    monkeypatch.setenv("FAKE_VNG_RULES", f"pin_user_pages={BOOTS / 'canary-tcg'}")
    make_series(world, CANARY_LIKE)
    rc, summary, _ = bisect_cmd(world, "six")
    assert rc == 1 and summary["verdict"] == "base-fails", verdicts(summary)
    assert verdicts(summary)[-1] == ("base 0/6", "bad")


def test_first_patch_found_after_checking_the_base(world: World) -> None:
    make_series(world, ["leak", "tidy", "tidy"])
    rc, summary, _ = bisect_cmd(world, "six")
    assert rc == 0 and summary["bisect"]["first_bad"]["index"] == 1
    assert verdicts(summary)[-1] == ("base 0/3", "good")


def test_infrastructure_trouble_aborts(world: World) -> None:
    make_series(world, CANARY_LIKE)
    world.mp.setenv("BENCH_SLOTS", "1")
    world.mp.setenv("BENCH_SLOT_WAIT", "0")
    with slot.acquire(world.cache, "", "", "other"):  # another run holds the only work slot
        rc, summary, folder = bisect_cmd(world, "six", "--check")
    assert rc == 2 and summary["verdict"] == "infra" and verdicts(summary) == [("tip 6/6", "abort")]
    suite = ET.parse(folder / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.find("testcase[@name='first bad']/error") is not None



@pytest.mark.parametrize("stop", [KeyboardInterrupt("SIGINT"), InfraError("results: cannot create the run's folder")])
def test_a_bisection_stopped_keeps_its_steps(world: World, stop: BaseException) -> None:
    """Ctrl-C or the machine failing at the third step: exit 2, and the summary and JUnit hold
    the two steps made, concluded infra (an InfraError left no summary before the sweep)."""
    make_series(world, CANARY_LIKE)
    world.stop_run(3, stop)
    rc, summary, folder = bisect_cmd(world, "six", "--check")
    assert rc == 2 and summary["verdict"] == "infra"
    assert verdicts(summary) == [("tip 6/6", "bad"), ("base 0/6", "good")]
    assert summary["bisect"]["message"] == (str(stop) if isinstance(stop, InfraError) else "interrupted by SIGINT")
    assert (folder / "junit.xml").is_file()

def test_usage_errors(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    make_series(world, CANARY_LIKE)
    assert bench_main(["bisect", "--good", "HEAD"]) == 2
    assert "--good and --bad go together" in capsys.readouterr().err
    assert bench_main(["bisect"]) == 2
    assert bench_main(["bisect", "six", "--signature", "pin-balance"]) == 2
    assert "want workload/NAME or report/TITLE" in capsys.readouterr().err


# -- range mode ---------------------------------------------------------------------------


def test_range_mode_drives_git_bisect_run(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    shas = make_series(world, ["tidy", "break", "fix", "leak", "tidy", "tidy"])
    tree = world.tree
    head = git(tree, "rev-parse", "HEAD")
    rc, summary, folder = bisect_cmd(world, "--good", "master", "--bad", "six", "--tree", str(tree), "--check")
    b = summary["bisect"]
    assert rc == 0 and b["mode"] == "range", capsys.readouterr().out
    assert b["first_bad"]["commit"] == shas[3] and b["first_bad"]["subject"] == "mm: leak step 4"
    assert b["first_bad"]["evidence"][0]["key"] == SIG
    labels = [s["label"] for s in b["steps"]]
    assert labels[:2] == [f"bad {shas[5][:12]}", f"good {git(tree, 'rev-parse', 'master')[:12]}"]
    # The children (git bisect run's steps) joined the same journal and folder.
    assert len(labels) > 2 and all(len(lb) == 12 for lb in labels[2:])
    assert all((folder / s["runs"][0] / "summary.json").is_file() for s in b["steps"])
    assert len(b["steps"]) - 1 <= bsearch.max_builds(6) + 1  # skips may cost one more
    assert (folder / "git-bisect.log").is_file() and "first bad commit" in (folder / "git-bisect-log.txt").read_text()
    # The user's checkout is untouched: same HEAD, not bisecting, no leftover worktree.
    assert git(tree, "rev-parse", "HEAD") == head
    assert not (tree / ".git" / "BISECT_LOG").exists()
    listed = git(tree, "worktree", "list", "--porcelain")  # the work slot's stays, the scratch one goes
    assert "/bisect/" not in listed and listed.count("worktree ") == 2 and "/work/slot-1/src" in listed
    assert f"FOUND: first bad commit: {shas[3][:12]}" in capsys.readouterr().out


def test_range_mode_with_a_series_for_its_config(world: World) -> None:
    shas = make_series(world, CANARY_LIKE)
    rc, summary, _ = bisect_cmd(world, "six", "--good", "master", "--bad", shas[-1],
                                "--signature", SIG)
    assert rc == 0 and summary["bisect"]["first_bad"]["commit"] == shas[3]
    assert summary["bisect"]["steps"][0]["label"] != f"bad {shas[-1][:12]}"  # ends not run
    assert summary["bisect"]["builds"] <= bsearch.max_builds(6) - 1  # git's steps: ceil(log2 6)


def test_range_of_one_commit_needs_no_git_bisect_run(world: World) -> None:
    shas = make_series(world, CANARY_LIKE)
    rc, summary, _ = bisect_cmd(world, "--good", shas[2], "--bad", shas[3], "--tree", str(world.tree), "--check")
    assert rc == 0 and summary["bisect"]["first_bad"]["commit"] == shas[3]
    assert summary["bisect"]["first_bad"]["evidence"][0]["key"] == SIG  # from the bad end's run
    assert len(summary["bisect"]["steps"]) == 2


# -- bisect-step on its own ---------------------------------------------------------------


def test_step_exit_codes_speak_git_bisect_run(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    make_series(world, ["tidy", "break", "fix", "leak"])
    assert step_cmd(world, "six", "--patches", "1", "--signature", SIG) == 0
    assert step_cmd(world, "six", "--patches", "2", "--signature", SIG) == 125  # does not build
    assert step_cmd(world, "six", "--signature", SIG) == 1
    assert step_cmd(world, "six") == 1  # no signature: any workload/report failure is bad
    assert step_cmd(world, "six", "--signature", "report/WARNING in foo") == 125  # fails otherwise
    assert step_cmd(world, "--signature", SIG) == 0  # no series: the tree as it is
    world.mp.setenv("BENCH_SLOTS", "1")
    world.mp.setenv("BENCH_SLOT_WAIT", "0")
    with slot.acquire(world.cache, "", "", "other"):
        assert step_cmd(world, "six") == 128
    assert step_cmd(world, "six", "--patches", "9") == 128
    assert step_cmd(world, "six", "--signature", "nonsense") == 128
    for usage in (["--patches", "-1"], ["--repeat", "0"], ["--patches", "abc"], ["--no-such-flag"],
                  ["--jobs", "-3"], ["--memory", "lots"], ["--cpus", "0"]):
        assert bench_main(["bisect-step", *usage]) == 128, usage  # usage: never "bad"
    assert "is BAD (1/1 reproduced: workload/pin-balance" in capsys.readouterr().out


def test_step_joins_a_bisect_folder(world: World) -> None:
    make_series(world, CANARY_LIKE)
    folder = world.tmp / "bisect-dir"
    for k in ("3", "4"):
        step_cmd(world, "six", "--patches", k, "--signature", SIG, "--bisect-dir", str(folder))
    steps = Journal(folder).steps()
    assert [(s.seq, s.verdict) for s in steps] == [(1, Verdict.GOOD), (2, Verdict.BAD)]
    assert steps[1].runs[0].startswith("02-") and (folder / steps[1].runs[0] / "console.log").is_file()
    assert len((folder / "bisect.log").read_text().splitlines()) == 2


# -- the parts, without runs ----------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 34))
def test_search_needs_at_most_ceil_log2_n_steps(n: int) -> None:
    for first_bad in range(1, n + 1):
        tested: list[int] = []

        def test(k: int, first_bad: int = first_bad) -> Verdict:
            tested.append(k)
            return Verdict.BAD if k >= first_bad else Verdict.GOOD

        good, bad, skipped = bsearch.search(0, n, test)
        assert (good, bad, skipped) == (first_bad - 1, first_bad, set())
        assert len(tested) + 1 <= bsearch.max_builds(n) == math.ceil(math.log2(n)) + 1


def test_search_steps_around_skips() -> None:
    def test(k: int) -> Verdict:
        return Verdict.SKIP if k in (3, 4) else Verdict.BAD if k >= 5 else Verdict.GOOD

    assert bsearch.search(0, 8, test) == (2, 5, {3, 4})
    assert bsearch.next_candidate(0, 8, {4}) == 3 and bsearch.next_candidate(2, 3, set()) is None


def result_of(*cases: Case) -> RunResult:
    return RunResult("r", "s", Path("/nonexistent"), cases, 1.0, RunFacts(head="a" * 40))


OK_SETUP = (Case("build", "kernel", Status.PASS), Case("boot", "boot", Status.PASS))


def test_classify() -> None:
    sig = judge.exact([SIG])
    pin_fail = Case("workload", "pin-balance", Status.FAIL, 0, "exit 1: FAIL: pin imbalance")
    pin_pass = Case("workload", "pin-balance", Status.PASS)
    warn = Case("report", "WARNING in foo", Status.FAIL, 0, "WARNING during rxe")
    assert judge.classify(result_of(*OK_SETUP, pin_fail, warn), sig)[0] is Outcome.REPRODUCED
    assert judge.classify(result_of(*OK_SETUP, pin_pass, warn), sig) == (
        Outcome.OTHER, "different failure: report/WARNING in foo: WARNING during rxe")
    assert judge.classify(result_of(*OK_SETUP, pin_pass), sig)[0] is Outcome.CLEAN
    # A skipped signature workload proves nothing.
    skipped = Case("workload", "pin-balance", Status.SKIP, 0, "no counters")
    assert judge.classify(result_of(*OK_SETUP, skipped), sig)[0] is Outcome.UNTESTABLE
    # A dead kernel's unfinished workloads are not the signature; its reports are.
    died = (Case("build", "kernel", Status.PASS), Case("boot", "boot", Status.FAIL, 0, "the kernel died"),
            Case("workload", "pin-balance", Status.FAIL, 0, "did not finish: the kernel died while it ran"))
    assert judge.classify(result_of(*died), sig)[0] is Outcome.OTHER
    assert judge.classify(result_of(*died, warn), judge.exact(["report/WARNING in foo"]))[0] is Outcome.REPRODUCED
    assert judge.classify(result_of(Case("build", "kernel", Status.FAIL, 0, "make exit 2")), sig)[0] \
        is Outcome.UNTESTABLE
    assert judge.classify(result_of(Case("infra", "InfraError", Status.ERROR, 0, "no vng")), sig)[0] \
        is Outcome.INFRA
    assert judge.classify(result_of(*OK_SETUP, pin_fail, warn), None)[0] is Outcome.REPRODUCED


def test_decide() -> None:
    bad, clean = (Outcome.REPRODUCED, "w: x"), (Outcome.CLEAN, "no failure")
    assert judge.decide([clean, bad, clean]) == (Verdict.BAD, "1/3 reproduced: w: x")
    assert judge.decide([clean, clean]) == (Verdict.GOOD, "0/2 reproduced")
    assert judge.decide([clean, (Outcome.OTHER, "different failure: r")])[0] is Verdict.SKIP
    assert judge.decide([(Outcome.UNTESTABLE, "build/kernel: e")])[0] is Verdict.SKIP
    assert judge.decide([clean, (Outcome.INFRA, "i")])[0] is Verdict.ABORT


def test_parse_bisect_log() -> None:
    found = "git bisect good abc\n# first bad commit: [0123456789abcdef0123456789abcdef01234567] mm: x\n"
    assert brange.parse_bisect_log(found) == ("0123456789abcdef0123456789abcdef01234567", [])
    maybe = ("# only skipped commits left to test\n# possible first bad commit: [aaaaaaa] a\n"
             "# possible first bad commit: [bbbbbbb] b\n")
    assert brange.parse_bisect_log(maybe) == (None, ["aaaaaaa", "bbbbbbb"])


@pytest.mark.parametrize("line, says", [
    ('{"seq": 2, "label": "4/6", "comm', "not JSON"),  # cut by a kill or a full disk
    ('{"seq": 2}', "field 'verdict' missing"),
    ('[1]', "not an object"),
    ("[" * 100000, "nested over the limit"),
    ('{"seq": 2, "label": "x", "commit": "", "patches": null, "verdict": "bad", "reason": "", "secs": 1,'
     ' "reproduced": 1, "runs": ["../../elsewhere"], "failing": []}', "'../../elsewhere' is not a plain folder name"),
], ids=["cut", "field", "list", "deep", "run-out"])
def test_a_journal_line_that_is_not_a_step_is_named(tmp_path: Path, line: str, says: str) -> None:
    """steps.jsonl is read back by every later step: a broken line crashed it (JSONDecodeError,
    KeyError: an internal error), and its run names were used as folders unchecked."""
    journal = Journal(tmp_path)
    journal.add(Step(1, "tip 6/6", "c" * 40, 6, Verdict.BAD, "1/1 reproduced", 1.0, 1, ("01-tip-6of6",), (SIG,)))
    with open(journal.jsonl, "a") as f:
        f.write(line + "\n")
    with pytest.raises(UserError, match=rf"steps.jsonl:2: not a bisect step this bench wrote: .*{re.escape(says)}") as e:
        journal.steps()
    assert "\n" not in str(e.value)


def test_step_round_trips_through_json() -> None:
    step = Step(3, "4/6", "c" * 40, 4, Verdict.BAD, "1/1 reproduced", 12.5, 1, ("03-4of6",),
                       (SIG,), (Evidence(SIG, "exit 1", "out"),))
    assert Step.from_json(json.loads(json.dumps(step.to_json()))) == step
    assert step_name(3, "tip 6/6") == "03-tip-6of6"


def test_steps_run_only_the_workloads_the_signature_needs(world: World) -> None:
    make_series(world, CANARY_LIKE)
    rc = bench_main(["bisect", "six", "--accel", "tcg", "--workload", "rxe", "--workload", "odirect",
                     "--workload", "gup-test", "--workload", "pin-balance", "--results", str(world.results)])
    (folder,) = [d for d in world.results.iterdir() if "bisect-" in d.name]
    summary = json.loads((folder / "summary.json").read_text())
    assert rc == 0 and summary["bisect"]["signature"] == ["workload/pin-balance", "workload/rxe"]
    runs = [s["runs"][0] for s in summary["bisect"]["steps"]]
    ran = [[c["name"] for c in json.loads((folder / r / "summary.json").read_text())["cases"]
            if c["group"] == "workload"] for r in runs]
    assert ran[0] == ["rxe", "odirect", "gup-test", "pin-balance"]  # the tip: everything
    assert all(r == ["rxe", "pin-balance"] for r in ran[1:])  # the steps: what the signature needs


def test_signature_workloads() -> None:
    plan = [("rxe", False), ("odirect", False), ("gup-test", False), ("pin-balance", True)]
    sig = judge.signature_workloads
    assert sig(judge.exact(["workload/rxe"]), {}, plan) == ("rxe", "pin-balance")
    assert sig(judge.exact(["workload/pin-balance"]), {}, plan) is None  # a leak may come from any
    assert sig(judge.exact(["report/WARNING in x"]), {"WARNING in x": "odirect"}, plan) == ("odirect", "pin-balance")
    assert sig(judge.exact(["report/WARNING in x"]), {"WARNING in x": None}, plan) is None  # during boot
    assert sig(judge.exact(["report/WARNING in x"]), None, plan) is None  # not seen: unknown


def test_every_error_case_is_infrastructure() -> None:
    """The verdict's ERROR status is the machine's (host trouble in config/build, no kernel output,
    a VM stopped from the host, a workload's missing result file): the bisection aborts on it."""
    sig = judge.exact([SIG])
    pin_pass = Case("workload", "pin-balance", Status.PASS)
    for case in (Case("build", "kernel", Status.ERROR, 0, "host trouble, not the series: disk full"),
                 Case("config", "kconfig", Status.ERROR, 0, "host trouble, not the series: missing tool")):
        assert judge.classify(result_of(case), sig) == (Outcome.INFRA, judge._said(case))
    no_output = (Case("build", "kernel", Status.PASS),
                 Case("boot", "boot", Status.ERROR, 0, "no kernel output at all (vng exit 1): vng/QEMU trouble"),
                 Case("workload", "pin-balance", Status.ERROR, 0, "not run: the VM ended before it started"))
    assert judge.classify(result_of(*no_output), sig)[0] is Outcome.INFRA
    full = Case("workload", "rxe", Status.ERROR, 0, "no result file: the guest could not write (disk full?)")
    assert judge.classify(result_of(*OK_SETUP, full, pin_pass), sig)[0] is Outcome.INFRA
    # seen is seen: the signature reproduced before the host trouble
    pin_fail = Case("workload", "pin-balance", Status.FAIL, 0, "exit 1: FAIL: pin imbalance")
    assert judge.classify(result_of(*OK_SETUP, full, pin_fail), sig)[0] is Outcome.REPRODUCED
    # the workloads a dead kernel never got to are the kernel's doing, not the machine's
    died = (Case("build", "kernel", Status.PASS), Case("boot", "boot", Status.FAIL, 0, "the kernel died"),
            Case("workload", "pin-balance", Status.ERROR, 0, "not run: the VM ended before it started"))
    assert judge.classify(result_of(*died), sig)[0] is Outcome.OTHER
    # the series' own build failure at a step stays a skip
    assert judge.classify(result_of(Case("build", "kernel", Status.FAIL, 0, "make exit 2")), sig)[0] \
        is Outcome.UNTESTABLE


def test_host_trouble_in_a_build_aborts_the_bisection(world: World) -> None:
    make_series(world, CANARY_LIKE)
    world.mp.setenv("FAIL", "host")  # the fake kbuild fails like a host with a missing tool
    rc, summary, _ = bisect_cmd(world, "six")
    assert rc == 2 and summary["bisect"]["conclusion"] == "infra", summary["bisect"]
    assert verdicts(summary) == [("tip 6/6", "abort")]
    assert step_cmd(world, "six", "--signature", SIG) == 128  # git bisect run stops, not skips


def test_made_a_build_reads_the_field_not_the_message(tmp_path: Path) -> None:
    """Whether make ran is the build case's `reused` field (the message is for people)."""
    def result(case: Case) -> RunResult:
        return RunResult("r", "s", tmp_path, (case,), 1.0)
    assert not made_a_build(result(Case("build", "kernel", Status.PASS, 0, "the slot's image", reused=True)))
    assert made_a_build(result(Case("build", "kernel", Status.PASS, 0, "reused 3 objects from ccache")))
    assert not made_a_build(result(Case("apply", "series", Status.FAIL, 0, "conflict")))  # never got there
