"""What every run leaves for people: reproducer.sh, report.txt and index.html.

The world is faked at its edges as in test_pipeline.py (tests/conftest.py World): a tiny git
"kernel" whose kbuild is tests/fakelinux, and tests/bin/vng replaying real recorded boots.
The reproducer is run for real against that world: it clones, applies, configures, builds
and boots (the fake vng) exactly as its text says.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import WARNING, World, commit_files, git, hrefs

from bench.cli import main as cli
from bench.run import qemu
from bench.run.pages import facts, mail, reproducer, svg
from bench.run.pages.facts import Context

WORKLOADS = ["rxe", "odirect", "gup-test", "pin-balance"]


@pytest.fixture
def world(world: World) -> World:
    world.series("two", "description: two small patches\nkconfigs: [rdma, debug-vm]\n"
                        f"workloads: [{', '.join(WORKLOADS)}]\n")
    return world


def run(world: World, *extra: str) -> tuple[int, Path, dict[str, Any]]:
    rc = cli.main(["run", "two", "--accel", "tcg", "--results", str(world.results), *extra])
    (run_dir,) = world.results.iterdir()
    return rc, run_dir, json.loads((run_dir / "summary.json").read_text())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def reproduce(run_dir: Path, tree: Path, out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """run_dir/reproducer.sh TREE OUT, as a user would run it (the fake world on PATH)."""
    return subprocess.run([str(run_dir / "reproducer.sh"), str(tree), str(out)], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=120)


# -- reproducer.sh ----------------------------------------------------------------------------


def test_reproducer_rebuilds_the_same_kernel_and_boots_it_the_same_way(world: World) -> None:
    world.replay("baseline-tcg")
    argv_log = world.root / "vng-argv"
    world.mp.setenv("FAKE_VNG_ARGV", str(argv_log))
    rc, run_dir, summary = run(world)
    assert rc == 0
    out = world.root / "again"
    res = reproduce(run_dir, world.tree, out)
    assert res.returncode == 0, res.stderr
    assert sha256(out / "build" / ".config") == sha256(run_dir / ".config")
    assert f".config sha256 {sha256(run_dir / '.config')}: the same as in the run (after the build)" in res.stderr
    assert (out / "build" / "arch/x86/boot/bzImage").is_file()
    # The same commits (identity and committer date fixed), so the same tree and even the same head.
    assert git(out / "src", "rev-parse", "HEAD").strip() == summary["info"]["head"]
    # The same workload plan and vng arguments, with the run's paths swapped for the new ones.
    plan = (out / "guest" / "plan.tsv").read_text()
    assert plan == (run_dir / "guest" / "plan.tsv").read_text().replace(str(world.home / "guests"),
                                                                         str(run_dir / "guests"))
    first, again = argv_log.read_text().splitlines()
    # ... but for the bench's QEMU wrapper (bench/run/qemu.py), a file of this machine's cache only.
    wrapper = str(qemu.wrapper_path(world.cache))
    assert f" --qemu {wrapper} " in first and "--qemu" not in again
    assert wrapper not in (run_dir / "reproducer.sh").read_text()
    first = first.replace(f" --qemu {wrapper}", "")
    swap = {summary["info"]["image"]: str(out / "build/arch/x86/boot/bzImage"),
            str(run_dir / "guest"): str(out / "guest"), str(world.home / "guests"): str(run_dir / "guests")}
    for old, new in swap.items():
        first = first.replace(old, new)
    assert again == first
    assert all(f"reproducer: {w}: pass" in res.stderr for w in WORKLOADS)
    assert (out / "console.log").read_text().count("Linux version") == 1


def test_the_reproducers_vng_has_no_qemu_wrapper() -> None:
    """Only `--qemu X` / `--qemu=X` before the guest command go; the guest command is kept whole."""
    argv = ["vng", "--run", "/b", "--qemu", "/c/qemu-wrap-x86_64", "--verbose", "--qemu=/w", "--memory", "2G",
            "--", "bash", "--qemu", "x"]
    assert reproducer.portable_vng(argv) == ["vng", "--run", "/b", "--verbose", "--memory", "2G",
                                             "--", "bash", "--qemu", "x"]


def test_reproducer_stops_on_another_config(world: World) -> None:
    world.replay("baseline-tcg")
    _, run_dir, _ = run(world)
    res = reproduce(run_dir, world.tree, world.root / "again", FAKE_KCONFIG_DROP="CONFIG_RDMA_RXE")
    assert res.returncode == 2 and "not the same kernel: .config sha256" in res.stderr
    assert "-CONFIG_RDMA_RXE=y" in res.stderr  # the difference is shown
    assert not (world.root / "again" / "console.log").exists()


def test_reproducer_finds_the_base_by_its_content(world: World) -> None:
    """Another machine unpacks the same tarball: other commit ids, the same tree."""
    world.replay("canary-tcg")
    rc, run_dir, summary = run(world)
    assert rc == 1
    other = world.root / "other"
    other.mkdir()
    git(other, "init", "-q", "-b", "master")
    subprocess.run(f"git -C {world.tree} archive HEAD | tar -x -C {other}", shell=True, check=True)
    commit_files(other, {}, "unpacked elsewhere")
    assert git(other, "rev-parse", "HEAD").strip() != summary["info"]["base"]
    res = reproduce(run_dir, other, world.root / "again")
    # canary-tcg's workloads fail again: exit 1, as the run did, with the same .config.
    assert res.returncode == 1 and "rxe: FAIL (exit 1)" in res.stderr, res.stderr
    assert sha256(world.root / "again" / "build" / ".config") == sha256(run_dir / ".config")
    commit_files(other, {"mm/gup.c": "/* changed */\n"}, "another kernel")
    res = reproduce(run_dir, other, world.root / "third")
    assert res.returncode == 2 and "neither commit" in res.stderr


def test_reproducer_stops_where_the_run_stopped(world: World) -> None:
    commit_files(world.tree, {"include/linux/mm.h": "/* rewritten upstream */\n"}, "conflict")
    rc, run_dir, _ = run(world)
    assert rc == 1
    res = reproduce(run_dir, world.tree, world.root / "again")
    assert res.returncode == 1 and "0002-declare.patch does not apply, as in the run" in res.stderr
    assert not (world.root / "again" / "build").exists()


def test_reproducer_of_a_failed_build(world: World) -> None:
    world.mp.setenv("FAIL", "build")
    rc, run_dir, _ = run(world)
    assert rc == 1
    res = reproduce(run_dir, world.tree, world.root / "again")
    assert res.returncode == 1 and "the build failed, as in the run" in res.stderr
    res = reproduce(run_dir, world.tree, world.root / "fixed", FAIL="")
    assert res.returncode == 2 and "the build passed here, but not in the run" in res.stderr


def test_reproducer_checks_the_patches(world: World) -> None:
    world.replay("baseline-tcg")
    _, run_dir, _ = run(world)
    patch = run_dir / "patches" / "0001-gup-comment.patch"
    patch.write_text(patch.read_text() + "\n")
    res = reproduce(run_dir, world.tree, world.root / "again")
    assert res.returncode == 2 and "patches/ changed since the run" in res.stderr


# -- report.txt and index.html ----------------------------------------------------------------


def test_every_run_leaves_its_pages(world: World) -> None:
    world.replay("canary-tcg")
    rc, run_dir, summary = run(world)
    assert rc == 1
    text = (run_dir / "report.txt").read_text()
    assert text.startswith("Subject: [pinbench] FAIL: two: workload/rxe, workload/pin-balance\n")
    assert f"base:         {summary['info']['base']}" in text and summary["info"]["head"] in text
    assert f".config sha256 {sha256(run_dir / '.config')}" in text
    assert "[1/2] mm/gup: say what this file is" in text and "test machine: virtme-ng, QEMU TCG" in text
    assert "workload/pin-balance:" in text and "pin imbalance" in text
    assert "The lines of workload/rxe's output that say FAIL:" in text
    assert "  memfd/shmem MAP_SHARED rw    registered pins while held +64/-0, after dereg +64/-7  FAIL: 57 pins" in text
    assert f"  {run_dir / 'reproducer.sh'} /path/to/linux" in text
    page = (run_dir / "index.html").read_text()
    links = hrefs(run_dir / "index.html")
    for name in ("report.txt", "reproducer.sh", "console.log", "build.log", "config.log", "apply.log",
                 "summary.json", "junit.xml", "reports.json", ".config", "guest/rxe.log", "guest/plan.tsv",
                 "patches/0001-gup-comment.patch"):
        assert name in links, name
    for href in links:
        assert not href.startswith("/") and (run_dir / href).is_file(), href
    # The stage timeline: a bar per stage and per workload, in run order.
    svg_text = re.search(r"<svg.*?</svg>", page, re.S)
    assert svg_text is not None
    stages = [row["stage"] for row in summary["info"]["timeline"]]
    assert stages[:3] == ["apply", "config", "build"] and "boot" in stages and stages[-1] == "scan"
    assert {f"workload/{w}" for w in WORKLOADS} <= set(stages)
    assert svg_text.group(0).count("<rect") == len(stages)
    assert "pin imbalance" in page and "<td class=fail>FAIL</td>" in page
    for row in summary["info"]["timeline"]:
        assert row["start"] >= 0 and row["secs"] >= 0


def test_report_of_a_kernel_report_quotes_it(world: World) -> None:
    world.replay(world.boot_with("warning", WARNING, "workload rxe start"))
    rc, run_dir, _ = run(world)
    assert rc == 1
    text = (run_dir / "report.txt").read_text()
    assert 'The first kernel report ("WARNING in unpin_user_pages", during rxe):' in text
    assert "  [   10.000001] WARNING: CPU: 1 PID: 123 at mm/gup.c:100 unpin_user_pages+0x10/0x20" in text
    page = (run_dir / "index.html").read_text()
    assert "<h2>Kernel reports</h2>" in page and "ib_umem_release+0x30/0x80" in page


def test_pages_whatever_the_verdict(world: World) -> None:
    world.replay("baseline-tcg")
    world.mp.setenv("FAKE_VNG_CONSOLE", os.devnull)  # QEMU trouble: no kernel output at all
    rc, run_dir, _ = run(world)
    assert rc == 2
    text = (run_dir / "report.txt").read_text()
    assert "could not decide on the series below: infrastructure trouble" in text
    assert "boot/boot:" in text and "vng/QEMU trouble" in text
    assert (run_dir / "index.html").is_file() and os.access(run_dir / "reproducer.sh", os.X_OK)
    shutil.rmtree(world.results)
    world.replay("baseline-tcg")
    rc, run_dir, _ = run(world)
    assert rc == 0
    text = (run_dir / "report.txt").read_text()
    assert text.startswith("Subject: [pinbench] PASS: two\n") and "found no problem (exit 0)" in text
    assert "Passed: workload/rxe, workload/odirect, workload/gup-test, workload/pin-balance." in text
    assert not list(run_dir.rglob(".*.tmp"))  # atomic writes leave no temporaries


def test_pages_show_what_newer_results_carry() -> None:
    """A case with fail:runs (repeats) shows it, in the mail and on the page."""
    data = {"run_id": "r", "verdict": "fail", "exit_code": 1, "secs": 1.0, "info": {},
            "cases": [{"group": "workload", "name": "rxe", "status": "fail", "secs": 1.0,
                       "message": "flaky", "output": "", "fails": 2, "runs": 3, "flaky": True}]}
    ctx = Context("s", (), ("base",), ("rxe",), "/tree", "2G", 2)
    text = mail.report(ctx, data, Path("/nonexistent"))
    assert "workload/rxe:  flaky (fail:runs 2:3; flaky: True)" in text
    assert facts.case_extras(data["cases"][0]) == "fail:runs 2:3; flaky: True"


def test_pins_per_workload(tmp_path: Path) -> None:
    (tmp_path / "rxe.vmstat.start").write_text("nr_foll_pin_acquired 882\nnr_foll_pin_released 882\n")
    (tmp_path / "rxe.vmstat.end").write_text("nr_foll_pin_acquired 1714\nnr_foll_pin_released 1646\n")
    (tmp_path / "odirect.vmstat.start").write_text("")  # a kernel without the counters
    (tmp_path / "odirect.vmstat.end").write_text("")
    assert facts.pins(tmp_path, ["rxe", "odirect"]) == [facts.Pins("rxe", 832, 764)]
    assert facts.pins(tmp_path, ["rxe", "odirect"])[0].held == 68
    assert facts.pins(tmp_path, ["gup-test"]) == []


def test_svg_pictures() -> None:
    assert [svg.nice_step(s) for s in (9, 60, 170, 1000)] == [2.0, 10.0, 50.0, 200.0]
    bars = [svg.Bar("build", 0, 60, "pass"), svg.Bar("boot", 60, 100, "fail"), svg.Bar("rxe", 70, 10, "fail", True)]
    picture = svg.timeline(bars)
    assert picture.count("<rect") == 3 and "boot: started at 60s, took 100s (fail)" in picture
    assert svg.timeline([]) == ""
    line = svg.spark([("a", 1.0), ("b", None), ("c", 3.0), ("d", 4.0)])
    assert line.count("<circle") == 3 and line.count("<polyline") == 1  # a gap where b has no value
