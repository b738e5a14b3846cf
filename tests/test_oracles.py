"""The oracles beyond the workloads' own exit codes: unexplained taint and series expectations.

Real recorded boots (tests/data/boots), replayed by the fake vng; where a boot is changed for a
case (a taint value, a vmstat counter), the change is the one thing the test is about.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import BOOTS, World

from bench.cli.main import main as bench_main
from bench.report import taint

WORKLOADS = "[rxe, odirect, gup-test, pin-balance]"


def run(world: World, *extra: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    rc = bench_main(["run", "s", "--accel", "tcg", "--results", str(world.results), *extra])
    (run_dir,) = [d for d in world.results.iterdir() if d.is_dir()]
    summary = json.loads((run_dir / "summary.json").read_text())
    return rc, {f"{c['group']}/{c['name']}": c["status"] for c in summary["cases"]}, summary


def message(summary: dict[str, Any], key: str) -> str:
    return next(c["message"] for c in summary["cases"] if f"{c['group']}/{c['name']}" == key)


def boot(world: World, name: str, like: str, files: dict[str, str]) -> Path:
    """A copy of a recorded boot with some guest files replaced."""
    dest = world.tmp / "boots" / name
    shutil.copytree(BOOTS / like, dest)
    for file, text in files.items():
        (dest / "guest" / file).write_text(text)
    return dest


def test_taint_masks() -> None:
    assert taint.letters(512) == "W" and taint.letters(512 | 128 | 4096) == "DWO"
    assert taint.new_problems(4096, 4096 | 512) == {"W"}  # O (out-of-tree module) is not a problem
    assert taint.parse_mask("512\n") == 512 and taint.parse_mask("") is None


def test_a_taint_no_report_explains_fails_the_run(world: World) -> None:
    world.series("s", f"workloads: {WORKLOADS}\n", quilt=False)
    world.replay(boot(world, "silent-warn", "baseline-tcg", {"tainted.start": "0\n", "tainted.end": "512\n"}))
    rc, statuses, summary = run(world)
    assert rc == 1 and statuses["taint/run"] == "fail"
    assert message(summary, "taint/run").startswith("unexplained taint W during the run")
    assert all(v == "pass" for k, v in statuses.items() if k.startswith("workload/"))


def test_a_taint_per_workload_is_blamed_on_it(world: World) -> None:
    world.series("s", f"workloads: {WORKLOADS}\n", quilt=False)
    files = {f"{w}.tainted.{end}": "0\n" for w in ("rxe", "odirect", "gup-test", "pin-balance")
             for end in ("start", "end")}
    files["gup-test.tainted.end"] = "544\n"  # W and B
    world.replay(boot(world, "silent-gup", "baseline-tcg", files))
    rc, statuses, summary = run(world)
    assert rc == 1 and statuses["taint/gup-test"] == "fail" and "taint/rxe" not in statuses
    assert message(summary, "taint/gup-test").startswith("unexplained taint BW during gup-test")


def test_a_taint_with_its_report_is_explained(world: World) -> None:
    world.series("s", f"workloads: {WORKLOADS}\nsuppress: ['WARNING in folio_mkclean']\n", quilt=False)
    world.replay("put-user-page-tcg")  # tainted W, and the WARNING that did it is in the console
    rc, statuses, _ = run(world)
    assert rc == 0 and not [k for k in statuses if k.startswith("taint/")]


EXPECT = "expect:\n  - report: 'WARNING in folio_mkclean'\n  - vmstat: pinned_folio_mkclean\n    min: 2\n"


@pytest.mark.parametrize("end, status, says", [
    ("nr_foll_pin_acquired 10\npinned_folio_mkclean 3\n", "pass", "pinned_folio_mkclean grew by 3"),
    ("nr_foll_pin_acquired 10\npinned_folio_mkclean 1\n", "fail", "did not happen: pinned_folio_mkclean grew by 1"),
    ("nr_foll_pin_acquired 10\n", "fail", "is not in /proc/vmstat"),
])
def test_expectations_of_a_series(world: World, end: str, status: str, says: str) -> None:
    world.series("s", f"workloads: {WORKLOADS}\n{EXPECT}", quilt=False)
    world.replay(boot(world, "mkclean", "put-user-page-tcg",
                      {"vmstat.start": "pinned_folio_mkclean 0\n", "vmstat.end": end}))
    rc, statuses, summary = run(world)
    assert statuses["expect/report matching 'WARNING in folio_mkclean'"] == "pass"
    assert statuses["report/WARNING in folio_mkclean"] == "skip"  # expected, so not a failure
    assert statuses["expect/vmstat pinned_folio_mkclean +2"] == status
    assert says in message(summary, "expect/vmstat pinned_folio_mkclean +2")
    assert rc == (0 if status == "pass" else 1)


def test_an_expected_report_that_does_not_appear_fails(world: World) -> None:
    world.series("s", f"workloads: {WORKLOADS}\nexpect:\n  - report: 'WARNING in folio_mkclean'\n", quilt=False)
    world.replay("baseline-tcg")
    rc, statuses, summary = run(world)
    assert rc == 1 and statuses["expect/report matching 'WARNING in folio_mkclean'"] == "fail"
    assert message(summary, "expect/report matching 'WARNING in folio_mkclean'") == "did not happen: no such report"


@pytest.mark.parametrize("base_boot, status", [("baseline-tcg", "pass"), ("put-user-page-tcg", "fail")])
def test_expectations_are_checked_in_both_directions_with_baseline(world: World, base_boot: str,
                                                                  status: str) -> None:
    world.series("s", f"workloads: {WORKLOADS}\nexpect:\n  - report: 'WARNING in folio_mkclean'\n")
    world.replay("put-user-page-tcg")
    world.mp.setenv("FAKE_VNG_MAP", f"/baseline/guest={BOOTS / base_boot}")
    rc, statuses, summary = run(world, "--baseline")
    key = "expect/report matching 'WARNING in folio_mkclean'"
    assert statuses[key] == status
    assert ("the unpatched base does not" if status == "pass" else "the unpatched base does it too") \
        in message(summary, key)


def windows(value: str = "0\n", **ends: str) -> dict[str, str]:
    """Per-workload taint files (every window clean unless named), as the runner writes them."""
    files = {f"{w}.tainted.{end}": value for w in ("rxe", "odirect", "gup-test", "pin-balance")
             for end in ("start", "end")}
    files |= {f"{w.replace('_', '-')}.tainted.end": v for w, v in ends.items()}
    return files


@pytest.mark.parametrize("files, says", [
    # W set after the last workload (between pin-balance's end and the runner's end)
    ({**windows(), "tainted.start": "0\n", "tainted.end": "512\n"}, "unexplained taint W outside the workloads"),
    # W set during boot: every window starts with it, so no window sees it change
    ({**windows("512\n"), "tainted.start": "512\n", "tainted.end": "512\n"},
     "unexplained taint W during boot, before the workloads"),
])
def test_taint_outside_every_workload_window_fails_the_run(world: World, files: dict[str, str], says: str) -> None:
    world.series("s", f"workloads: {WORKLOADS}\n", quilt=False)
    world.replay(boot(world, "silent-outside", "baseline-tcg", files))
    rc, statuses, summary = run(world)
    assert rc == 1 and statuses["taint/run"] == "fail" and message(summary, "taint/run").startswith(says)
    assert not [k for k in statuses if k.startswith("taint/") and k != "taint/run"]


def test_a_taint_a_workload_failed_for_is_not_failed_again_for_the_run(world: World) -> None:
    world.series("s", f"workloads: {WORKLOADS}\n", quilt=False)
    files = {**windows(gup_test="512\n"), "pin-balance.tainted.start": "512\n",
             "pin-balance.tainted.end": "512\n", "tainted.start": "0\n", "tainted.end": "640\n"}  # W, then D
    world.replay(boot(world, "silent-both", "baseline-tcg", files))
    rc, statuses, summary = run(world)
    assert rc == 1 and statuses["taint/gup-test"] == "fail" and message(summary, "taint/gup-test").startswith("unexplained taint W")
    assert message(summary, "taint/run").startswith("unexplained taint D outside the workloads")


def test_a_run_taint_explained_by_a_report_anywhere_passes(world: World) -> None:
    world.series("s", f"workloads: {WORKLOADS}\nsuppress: ['WARNING in folio_mkclean']\n", quilt=False)
    # put-user-page's WARNING fires during odirect; say its W showed only after the last window
    world.replay(boot(world, "explained", "put-user-page-tcg", {**windows(), "tainted.end": "512\n"}))
    rc, statuses, _ = run(world)
    assert rc == 0 and not [k for k in statuses if k.startswith("taint/")]
