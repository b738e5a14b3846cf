"""`bench run SERIES --each` with the world faked at its edges.

The shared test world (tests/conftest.py): series made of real git commits on its tree,
the fake kbuild (tests/fakelinux: real make targets, so builds are incremental, and a
"fake-warning:" line in a source makes its compile warn), and the fake vng replaying the
recorded boot a marker in the source picks (BISECT_LEAK: canary-tcg, rxe and pin-balance
fail; none: baseline-tcg, all pass).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import BOOTS, World, commit_files, git

from bench.base.errors import InfraError
from bench.cli.main import main as bench_main
from bench.run import buildwarn

WARN_Y = "int y; /* fake-warning: unused variable 'y' [-Wunused-variable] */\n"
WARN_EXTRA = "int z; /* fake-warning: 'z' defined but not used [-Wunused-variable] */\n"

EDITS: dict[str, Callable[[dict[str, str]], None]] = {
    "tidy": lambda f: f.update({"mm/gup.c": f["mm/gup.c"] + "/* tidy */\n"}),
    "warn": lambda f: f.update({"mm/rmap.c": f["mm/rmap.c"] + WARN_Y}),
    "leak": lambda f: f.update({"mm/gup.c": f["mm/gup.c"] + "/* BISECT_LEAK */\n"}),
    "swap": lambda f: f.update({"mm/rmap.c": f["mm/rmap.c"].replace(WARN_Y, ""), "mm/extra.c": WARN_EXTRA}),
    "conflict": lambda f: f.update({"mm/rmap.c": "/* rewritten */\n"}),
}


@pytest.fixture
def world(world: World) -> World:
    world.mp.setenv("FAKE_VNG_DEFAULT", str(BOOTS / "baseline-tcg"))
    world.mp.setenv("FAKE_VNG_RULES", f"BISECT_LEAK={BOOTS / 'canary-tcg'}")
    return world


def make_series(world: World, kinds: list[str], name: str = "four",
                workloads: str = "[rxe, gup-test, pin-balance]") -> None:
    """home/patches/<name>/NNNN-*.patch from real commits on a branch of the world's tree."""
    tree = world.tree
    git(tree, "checkout", "-q", "-b", name)
    for i, kind in enumerate(kinds, 1):
        files = {p: (tree / p).read_text() for p in ("mm/gup.c", "mm/rmap.c")}
        EDITS[kind](files)
        commit_files(tree, files, f"mm: {kind} step {i}")
    out = world.home / "patches" / name
    git(tree, "format-patch", "-q", "-o", str(out), f"master..{name}")
    (out / "series.yaml").write_text(f"workloads: {workloads}\n")
    git(tree, "checkout", "-q", "master")


def each(world: World, name: str = "four") -> tuple[int, dict[str, Any], Path]:
    rc = bench_main(["run", name, "--each", "--accel", "tcg", "--results", str(world.results)])
    (folder,) = [d for d in world.results.iterdir() if "-each-" in d.name]
    return rc, json.loads((folder / "summary.json").read_text()), folder


def compiled(log: Path) -> list[str]:
    return sorted(re.findall(r"^  CC +(\S+)$", log.read_text(), re.M))


def test_every_prefix_is_run_and_the_first_failing_patch_is_named(world: World,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    make_series(world, ["tidy", "warn", "leak", "swap"])
    rc, summary, folder = each(world)
    assert rc == 1 and summary["verdict"] == "fail" and summary["complete"]
    first = summary["first_failing"]
    assert first["k"] == 3 and first["patch"].startswith("0003-mm-leak-step-3")
    assert first["new_failures"] == ["workload/pin-balance", "workload/rxe"]
    rows = summary["prefixes"]
    assert [r["verdict"] for r in rows] == ["pass", "pass", "pass", "fail", "fail"]
    assert [r["run_id"] for r in rows] == ["00-base", "01-0001-mm-tidy-step-1", "02-0002-mm-warn-step-2",
                                           "03-0003-mm-leak-step-3", "04-0004-mm-swap-step-4"]
    leak = rows[3]["delta"]
    assert leak["workloads"] == [{"name": "pin-balance", "before": "pass", "now": "fail"},
                                 {"name": "rxe", "before": "pass", "now": "fail"}]
    assert rows[4]["delta"]["new_failures"] == [] and rows[4]["delta"]["against"] == 3
    # Every prefix's run folder is kept, each a whole run.
    for r in rows:
        assert (folder / r["run_id"] / "summary.json").is_file() and (folder / r["run_id"] / "console.log").is_file()
    # The table on the terminal (and in each.txt).
    out = capsys.readouterr().out
    table = (folder / "each.txt").read_text()
    assert table in out
    assert re.search(r"^   3  0003-mm-leak-step-3\.patch +fail +pass, warn \+0/-0 .*"
                     r"pin-balance pass->fail, rxe pass->fail$", table, re.M), table
    assert "first failing patch: 3/4 0003-mm-leak-step-3.patch" in table
    assert "newly failing: workload/pin-balance, workload/rxe" in table


def test_warnings_each_patch_adds_are_told_from_incremental_builds(world: World) -> None:
    make_series(world, ["tidy", "warn", "leak", "swap"])
    _, summary, folder = each(world)
    rows = summary["prefixes"]
    # One slot: every prefix after the base recompiles only what its patch changed...
    assert compiled(folder / "01-0001-mm-tidy-step-1" / "build.log") == ["mm/gup.o"]
    assert compiled(folder / "02-0002-mm-warn-step-2" / "build.log") == ["mm/rmap.o"]
    assert compiled(folder / "04-0004-mm-swap-step-4" / "build.log") == ["mm/extra.o", "mm/rmap.o"]
    # ...and the prefix before it compiled the same objects without it (the probe).
    assert compiled(folder / "01-0001-mm-tidy-step-1" / "build-next.log") == ["mm/rmap.o"]
    assert compiled(folder / "03-0003-mm-leak-step-3" / "build-next.log") == ["mm/rmap.o"]
    assert not (folder / "04-0004-mm-swap-step-4" / "build-next.log").exists()  # no next patch
    warn = rows[2]["delta"]["warnings"]
    assert warn == {"added": ["mm/rmap.c: unused variable 'y' [-Wunused-variable]"], "removed": [], "compared": 1,
                    "not_compared": []}
    swap = rows[4]["delta"]["warnings"]
    assert swap["added"] == ["mm/extra.c: 'z' defined but not used [-Wunused-variable]"]  # a new file's object
    assert swap["removed"] == ["mm/rmap.c: unused variable 'y' [-Wunused-variable]"]
    assert rows[1]["delta"]["warnings"]["added"] == [] and rows[3]["delta"]["warnings"]["added"] == []
    # JUnit: a testsuite per prefix, the patch's own cases first.
    root = ET.parse(folder / "junit.xml").getroot()
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == [f"pinbench.four.{k:02d}" for k in range(5)]
    failed = {s: sorted(c.get("classname", "").rsplit(".", 1)[-1] + "/" + str(c.get("name"))
                        for c in suite.iter("testcase") if c.find("failure") is not None)
              for s, suite in suites.items()}
    assert failed["pinbench.four.02"] == ["patch/warnings"]
    assert failed["pinbench.four.03"] == ["patch/failures", "workload/pin-balance", "workload/rxe"]
    assert failed["pinbench.four.01"] == [] and failed["pinbench.four.00"] == []
    assert [p.name for p in (world.cache / "work").iterdir() if p.is_dir()] == ["slot-1"]


def test_a_patch_that_does_not_apply_ends_the_walk(world: World) -> None:
    make_series(world, ["tidy", "conflict", "tidy"])
    commit_files(world.tree, {"mm/rmap.c": "/* changed upstream */\n"}, "upstream moved on")
    rc, summary, folder = each(world)
    rows = summary["prefixes"]
    assert rc == 1 and [r["verdict"] for r in rows] == ["pass", "pass", "fail", "not run"]
    assert summary["first_failing"]["k"] == 2
    assert summary["first_failing"]["new_failures"] == ["apply/0002-mm-conflict-step-2.patch"]
    assert rows[3]["delta"]["why"] == "not run: an earlier patch does not apply"
    assert sorted(d.name for d in folder.iterdir() if d.is_dir()) == [
        "00-base", "01-0001-mm-tidy-step-1", "02-0002-mm-conflict-step-2"]


def test_pin_counters_each_patch_changed(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """Prefixes 0 and 4 of a real `bench run canary --each` (tests/data/boots/each-*): the guest
    runner's pin counter snapshots over the run and around each workload."""
    world.mp.setenv("FAKE_VNG_DEFAULT", str(BOOTS / "each-base-tcg"))
    world.mp.setenv("FAKE_VNG_RULES", f"BISECT_LEAK={BOOTS / 'each-0004-tcg'}")
    make_series(world, ["tidy", "leak", "tidy"], workloads="[rxe, odirect, gup-test, pin-balance]")
    rc, summary, folder = each(world)
    rows = summary["prefixes"]
    assert rc == 1 and summary["first_failing"]["k"] == 2
    assert rows[0]["pins"]["(run)"] == {"acquired": 285351, "released": 285351, "held": 0}
    assert rows[2]["delta"]["pins_held"] == {"(run)": {"before": 0, "now": 654}, "rxe": {"before": 0, "now": 640},
                                             "gup-test": {"before": 0, "now": 14}}
    assert rows[1]["delta"]["pins_held"] == {} and rows[3]["delta"]["pins_held"] == {}
    table = (folder / "each.txt").read_text()
    assert "nothing fails; pins held: run 0" in table
    assert "pin-balance pass->fail, rxe pass->fail; pins held: run 0->654, rxe 0->640, gup-test 0->14" in table


def test_each_needs_patches_and_no_baseline(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.series("none", "workloads: [smoke]\n", quilt=False)
    assert bench_main(["run", "none", "--each", "--results", str(world.results)]) == 2
    assert "has no patches: --each needs some" in capsys.readouterr().err
    make_series(world, ["tidy"])
    assert bench_main(["run", "four", "--each", "--baseline", "--results", str(world.results)]) == 2
    assert "--each runs the base itself" in capsys.readouterr().err


# -- the warnings parser on its own -------------------------------------------------------


def test_warnings_belong_to_the_object_compiled_with_them() -> None:
    log = ["  CC      mm/gup.o", "In file included from /s/src/mm/gup.c:3:",
           "/s/src/include/linux/mm.h:10:5: warning: unused 'a' [-Wunused]",
           "../src/mm/gup.c:99:1: warning: no return [-Wreturn-type]",
           "  CC      mm/rmap.o", "  AR      mm/built-in.a",
           "vmlinux.o: warning: objtool: foo+0x12: unreachable instruction",
           "  CC [M]  fs/x.o", "fs/x.c:1:1: warning: w"]
    w = buildwarn.parse(log, Path("/s/src"), Path("/s/build"))
    assert w.compiled == {"mm/gup.o", "mm/rmap.o", "fs/x.o"} and w.total == 4
    assert dict(w.by_object["mm/gup.o"]) == {"include/linux/mm.h: unused 'a' [-Wunused]": 1,
                                             "mm/gup.c: no return [-Wreturn-type]": 1}
    assert list(w.by_object[buildwarn.LINKER]) == ["objtool: foo+0x12: unreachable instruction"]
    # Lines move with a patch; the same warning elsewhere in the file is the same warning.
    after = buildwarn.parse([line.replace(":99:1:", ":120:1:") for line in log[:5]] + ["  CC      mm/new.o",
                                                                                      "mm/new.c:1:1: warning: n"])
    delta = buildwarn.compare(buildwarn.parse(log[:5]), after, new_sources=["mm/new.c"])
    assert delta.added == ("mm/new.c: n",) and delta.removed == () and delta.compared == 3
    stale = buildwarn.compare(buildwarn.parse(log[:2]), after)
    assert stale.unknown == ("mm/new.o", "mm/rmap.o") and stale.compared == 1


@pytest.mark.parametrize("stop", [KeyboardInterrupt("SIGINT"), InfraError("results: cannot create the run's folder")])
def test_a_walk_stopped_keeps_the_prefixes_that_ran(world: World, stop: BaseException) -> None:
    """Ctrl-C or the machine failing at prefix 2: the folder still has its summary, JUnit and
    table with prefixes 0 and 1, marked incomplete (an InfraError left none before the sweep)."""
    make_series(world, ["tidy", "warn", "leak"], name="three")
    world.stop_run(3, stop)
    rc, summary, folder = each(world, "three")
    assert rc == 2 and not summary["complete"]
    assert [r["run_id"] for r in summary["prefixes"]] == ["00-base", "01-0001-mm-tidy-step-1"]
    assert (folder / "junit.xml").is_file() and (folder / "each.txt").is_file()
    assert sorted(d.name for d in folder.iterdir() if d.is_dir()) == ["00-base", "01-0001-mm-tidy-step-1"]
