"""`bench prove` on a fake catalogue: bugs caught, missed, or failing some other way.

The shared test world; each bug is one real git patch on its tree, and the fake vng replays
the recorded boot its marker picks (BISECT_LEAK: canary-tcg, pin-balance fails; BISECT_OTHER:
a real VM_WARN report during gup-test; none: baseline-tcg, all pass).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import BOOTS, TESTS, World

from bench.cli.main import main as bench_main

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
    bug(world, "quiet", "nothing to see", "[workload/pin-balance, report]")
    bug(world, "other", "BISECT_OTHER", "[workload/rxe]")
    rc, summary, folder = prove(world)
    outcomes = {v["name"]: v["outcome"] for v in summary["verdicts"]}  # type: ignore[attr-defined]
    assert outcomes == {"leak": "caught", "quiet": "missed", "other": "other"}
    assert rc == 1 and summary["control"] == "pass" and summary["caught"] == 1
    out = capsys.readouterr().out
    assert "caught 1 of 3 (33%)" in out and "control (the tree as it is): PASS" in out
    # Every run is kept in the prove folder, the control first; one work slot for all of them.
    assert sorted(d.name for d in folder.iterdir() if d.is_dir()) == ["00-control", "01-leak", "02-other", "03-quiet"]
    assert [p.name for p in (world.cache / "work").iterdir() if p.is_dir()] == ["slot-1"]
    suite = ET.parse(folder / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    failed = {c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None}
    assert failed == {"quiet", "other"}


def test_every_bug_caught_exits_zero(world: World) -> None:
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    bug(world, "quiet", "nothing to see", "[report]")
    rc, summary, _ = prove(world, "--bug", "leak")
    assert rc == 0 and summary["caught"] == 1 and summary["bugs"] == 1


def test_a_control_that_fails_fails_the_proof(world: World) -> None:
    world.mp.setenv("FAKE_VNG_RULES", f"pin_user_pages={BOOTS / 'canary-tcg'}")  # the base itself leaks
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    rc, summary, _ = prove(world)
    assert rc == 1 and summary["control"] == "fail"


@pytest.mark.parametrize("yaml, says", [
    ("catch: [workload/pin-balance]\n", "fixes: missing"),
    ("fixes: 'abc'\n", "catch: missing"),
    ("fixes: 'abc'\ncatch: [pin-balance]\n", "want workload/NAME, report or report/TITLE-REGEX"),
])
def test_catalogue_entries_are_checked_before_any_run(world: World, yaml: str, says: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    bug(world, "leak", "BISECT_LEAK", "[workload/pin-balance]")
    (world.home / "patches" / "bugs" / "leak" / "series.yaml").write_text(yaml)
    assert bench_main(["prove", "--accel", "tcg", "--results", str(world.results)]) == 2
    assert says in capsys.readouterr().err
    assert not world.results.exists() or not any(world.results.iterdir())
