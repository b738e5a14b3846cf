"""The whole `bench run` through the CLI with the world faked at its edges.

A tiny git "kernel" with a fake Makefile and merge_config.sh (tests/fakelinux),
a real quilt series applied with real git, and tests/bin/vng replaying real
recorded boots (tests/data/boots/*: console + the guest's output files).
"""

from __future__ import annotations

import concurrent.futures
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import BOOTS, HOME, TESTS, World, commit_files, gone

from bench.base import rundir
from bench.base.errors import InfraError, UserError
from bench.cli import main as cli
from bench.run import pipeline, plan as plan_mod
from bench.run.plan import RunRequest, make_plan
from bench.run.printer import Printer

WORKLOADS = ["rxe", "odirect", "gup-test", "pin-balance"]


@pytest.fixture
def world(world: World) -> World:
    world.series("two", "description: two small patches\nkconfigs: [rdma, debug-vm]\n"
                        f"workloads: [{', '.join(WORKLOADS)}]\nsuppress: ['WARNING in folio_mkclean']\n")
    return world


def run(world: World, *extra: str) -> tuple[int, Path, dict[str, str], dict[str, Any]]:
    rc = cli.main(["run", "two", "--accel", "tcg", "--results", str(world.results), *extra])
    (run_dir,) = world.results.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    statuses = {f"{c['group']}/{c['name']}": c["status"] for c in summary["cases"]}
    return rc, run_dir, statuses, summary


def test_clean_run_passes_and_keeps_everything(world: World, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    world.replay("baseline-tcg")
    rc, run_dir, statuses, summary = run(world)
    assert rc == 0 and summary["verdict"] == "pass", statuses
    assert statuses["apply/01-gup-comment.patch"] == "pass"
    assert statuses["apply/02-declare.patch"] == "pass"
    assert statuses["config/kconfig"] == "pass" and statuses["build/kernel"] == "pass"
    assert statuses["boot/boot"] == "pass"
    assert all(statuses[f"workload/{w}"] == "pass" for w in WORKLOADS)
    for name in ("apply.log", "config.log", ".config", "build.log", "console.log", "junit.xml",
                 "summary.json", "reports.json", "guest/plan.tsv", "guest/rxe.log"):
        assert (run_dir / name).is_file(), name
    assert "CONFIG_RDMA_RXE=y" in (run_dir / ".config").read_text()
    assert summary["info"]["accel"] == "tcg" and len(summary["info"]["head"]) == 40
    assert "--append oops=panic --append hung_task_panic=1" in summary["info"]["vng"]  # a dead kernel ends the VM
    out = capsys.readouterr().out
    assert "verdict: PASS" in out and str(run_dir) in out
    # The base tree is untouched and the worktree is gone.
    assert "mm: declare" not in os.popen(f"git -C {world.tree} log --oneline").read()
    assert not (Path(os.environ["BENCH_CACHE"]) / "work" / "two" / "src").exists()


def test_leaking_kernel_fails_the_right_workloads(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.replay("canary-tcg")
    rc, run_dir, statuses, summary = run(world)
    assert rc == 1 and summary["verdict"] == "fail"
    assert statuses["workload/pin-balance"] == "fail" and statuses["workload/rxe"] == "fail"
    assert statuses["workload/odirect"] == "pass"
    cases = {c["name"]: c for c in summary["cases"]}
    assert "pin imbalance" in cases["pin-balance"]["message"]
    suite = ET.parse(run_dir / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    failed = {c.get("name") for c in suite.findall("testcase") if c.find("failure") is not None}
    assert {"rxe", "pin-balance"} <= failed


def test_build_failure_stops_the_run(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIL", "build")
    rc, run_dir, statuses, summary = run(world)
    assert rc == 1 and statuses["build/kernel"] == "fail" and "boot/boot" not in statuses
    build = next(c for c in summary["cases"] if c["group"] == "build")
    assert "error: 'FOLL_PIN' undeclared" in build["message"]
    assert (run_dir / "build.log").is_file() and (run_dir / "junit.xml").is_file()


RXE_KCONFIG = "config INFINIBAND\n\tbool\nconfig RDMA_RXE\n\ttristate \"rxe\"\n\tdepends on INFINIBAND\n"


def test_dropped_option_is_named(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # the series changes no Kconfig file: an option its dependencies dropped is the fragment's
    # or the tree's trouble (exit 2), named with the fragment's file and line
    commit_files(world.tree, {"drivers/infiniband/Kconfig": RXE_KCONFIG}, "rxe's Kconfig")
    monkeypatch.setenv("FAKE_KCONFIG_DROP", "CONFIG_RDMA_RXE")
    rc, _, statuses, summary = run(world)
    assert rc == 2 and statuses["config/kconfig"] == "error" and "build/kernel" not in statuses
    case = next(c for c in summary["cases"] if c["group"] == "config")
    line = next(n for n, t in enumerate((world.home / "kconfigs/rdma.config").read_text().splitlines(), 1)
                if t.startswith("CONFIG_RDMA_RXE="))
    assert case["message"].startswith(f"{world.home}/kconfigs/rdma.config:{line}: CONFIG_RDMA_RXE=y requested by")
    assert "the series changes no Kconfig file, so not the series'" in case["message"]


def test_a_typo_in_a_series_fragment_is_refused_with_its_line(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: CONFIG_RDMA_RXEE=y in the series' own fragment was 'dropped' and failed the series
    (exit 1) after a full build; now the symbol is looked up in the tree's Kconfig files."""
    commit_files(world.tree, {"drivers/infiniband/Kconfig": RXE_KCONFIG}, "rxe's Kconfig")
    folder = world.home / "patches" / "two"
    (folder / "extra.config").write_text("# mine\nCONFIG_RDMA_RXEE=y\n")
    (folder / "series.yaml").write_text((folder / "series.yaml").read_text().replace(
        "kconfigs: [rdma, debug-vm]", "kconfigs: [rdma, debug-vm, extra.config]"))
    monkeypatch.setenv("FAKE_KCONFIG_DROP", "CONFIG_RDMA_RXEE")  # as kconfig drops a symbol it does not know
    rc, _, statuses, summary = run(world)
    assert rc == 2 and statuses["config/kconfig"] == "error" and "build/kernel" not in statuses
    case = next(c for c in summary["cases"] if c["group"] == "config")
    assert case["message"].startswith(f"{folder}/extra.config:2: CONFIG_RDMA_RXEE is defined by no Kconfig file")


def test_a_series_that_changes_kconfig_owns_its_dropped_options(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    commit_files(world.tree, {"drivers/infiniband/Kconfig": RXE_KCONFIG}, "rxe's Kconfig")
    folder = world.home / "patches" / "two"
    (folder / "03-kconfig.patch").write_text(
        "From: A <a@b>\nSubject: [PATCH] rxe: depend on more\n\n---\n"
        "diff --git a/drivers/infiniband/Kconfig b/drivers/infiniband/Kconfig\n"
        "--- a/drivers/infiniband/Kconfig\n+++ b/drivers/infiniband/Kconfig\n"
        "@@ -5 +5 @@ config RDMA_RXE\n-\tdepends on INFINIBAND\n+\tdepends on INFINIBAND && BROKEN\n")
    with open(folder / "series", "a") as f:
        f.write("03-kconfig.patch\n")
    monkeypatch.setenv("FAKE_KCONFIG_DROP", "CONFIG_RDMA_RXE")
    rc, _, statuses, summary = run(world)
    assert rc == 1 and statuses["config/kconfig"] == "fail" and "build/kernel" not in statuses
    case = next(c for c in summary["cases"] if c["group"] == "config")
    assert "(the series changes a Kconfig file)" in case["message"]
    assert "CONFIG_RDMA_RXE=y requested by rdma.config" in case["output"]


def test_patch_that_does_not_apply_names_the_file(world: World) -> None:
    commit_files(world.tree, {"mm/gup.c": "/* rewritten upstream */\n"}, "conflict")
    rc, _, statuses, summary = run(world)
    assert rc == 1 and statuses["apply/01-gup-comment.patch"] == "fail"
    assert statuses["apply/02-declare.patch"] == "skip" and "config/kconfig" not in statuses
    case = next(c for c in summary["cases"] if c["name"] == "01-gup-comment.patch")
    assert "mm/gup.c" in case["message"]


def test_second_patch_conflict(world: World) -> None:
    commit_files(world.tree, {"include/linux/mm.h": "/* rewritten upstream */\n"}, "conflict")
    rc, _, statuses, summary = run(world)
    assert rc == 1 and statuses["apply/02-declare.patch"] == "fail"
    case = next(c for c in summary["cases"] if c["name"] == "02-declare.patch")
    assert "include/linux/mm.h" in case["message"]


def test_kernel_death_is_a_failure(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.replay("baseline-tcg", rc=255)
    rc, _, statuses, _ = run(world)
    assert rc == 1 and statuses["boot/boot"] == "fail"


def test_bad_series_is_a_one_line_usage_error(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    (world.home / "patches" / "two" / "series.yaml").write_text("kconfigs: rdma\n")
    rc = cli.main(["run", "two", "--results", str(world.results)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and "series.yaml" in err


@pytest.mark.parametrize("base_boot, status, message", [
    ("baseline-tcg", "fail", "new WARNING during odirect"),
    ("put-user-page-tcg", "skip", "also in base: WARNING during odirect"),
])
def test_baseline_marks_reports_new_or_also_in_base(world: World, monkeypatch: pytest.MonkeyPatch,
                                                   base_boot: str, status: str, message: str) -> None:
    text = (world.home / "patches" / "two" / "series.yaml").read_text().replace("suppress: ['WARNING in folio_mkclean']", "")
    (world.home / "patches" / "two" / "series.yaml").write_text(text)
    world.replay("put-user-page-tcg")  # a real boot with "WARNING in folio_mkclean"
    monkeypatch.setenv("FAKE_VNG_MAP", f"/baseline/guest={BOOTS / base_boot}")
    rc, run_dir, statuses, summary = run(world, "--baseline")
    assert statuses["baseline/unpatched"] == "pass"
    assert statuses["report/WARNING in folio_mkclean"] == status
    case = next(c for c in summary["cases"] if c["group"] == "report")
    assert case["message"] == message
    assert rc == (1 if status == "fail" else 0)
    assert (run_dir / "baseline" / "summary.json").is_file()  # the base run is kept beside
    base = json.loads((run_dir / "baseline" / "summary.json").read_text())
    assert not [c for c in base["cases"] if c["group"] == "apply" and c["name"] != "(no patches)"]
    assert base["series"] == "two-base" and base["info"]["base"] == summary["info"]["base"]  # plan.unpatched
    reports = json.loads((run_dir / "reports.json").read_text())
    assert reports[0]["in_base"] is (status == "skip") and reports[0]["workload"] == "odirect"


def booting_run(world: World, sleep: str) -> subprocess.Popen[str]:
    """`bench run two` in a child, returned once its VM (a fake vng sleeping `sleep` s, a value
    nobody else sleeps) is booting."""
    world.replay("baseline-tcg")
    world.mp.setenv("FAKE_VNG_SLEEP", sleep)
    child = subprocess.Popen([sys.executable, "-m", "bench", "run", "two", "--accel", "tcg",
                              "--results", str(world.results)], cwd=HOME, env=dict(os.environ),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not list(world.results.glob("*/console.log")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    return child


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_mid_boot_keeps_every_result_file(world: World, sig: signal.Signals) -> None:
    child = booting_run(world, "30.75")
    child.send_signal(sig)
    out, err = child.communicate(timeout=30)
    (run_dir,) = world.results.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert child.returncode == 2 and summary["verdict"] == "error", (out, err)
    assert f"bench: {sig.name}: stopping" in err and f"interrupted by {sig.name}" in err
    assert (run_dir / "junit.xml").is_file() and (run_dir / "console.log").is_file()
    assert all((run_dir / name).is_file() for name in ("report.txt", "index.html", "reproducer.sh"))
    assert any(c["group"] == "infra" and c["name"] == "interrupted" for c in summary["cases"])
    assert gone("sleep 30.75")  # vng is gone


def test_a_full_results_disk_after_the_build_is_an_error_not_a_pass(world: World, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    def full(self: pipeline.Run, src: Path, build_dir: Path) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device", str(self.dir / "guest" / "plan.tsv"))
    monkeypatch.setattr(pipeline.Run, "prepare_guest", full)
    rc, run_dir, statuses, summary = run(world)
    assert statuses["build/kernel"] == "pass" and statuses["infra/crash"] == "error"
    assert rc == 2 and summary["verdict"] == "error" and summary["exit_code"] == 2
    crash = next(c for c in summary["cases"] if c["name"] == "crash")
    assert crash["message"].startswith(f"results disk full: {run_dir / 'guest' / 'plan.tsv'}")
    assert "(at pipeline.py:" in crash["message"] and (run_dir / rundir.CRASH_LOG).is_file()
    suite = ET.parse(run_dir / "junit.xml").getroot().find("testsuite")
    assert suite is not None and any(c.find("error") is not None for c in suite.findall("testcase"))
    assert "verdict: ERROR" in capsys.readouterr().out


def test_a_bug_of_the_bench_mid_run_is_an_error_with_its_traceback_kept(world: World,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom\nsecond line")
    monkeypatch.setattr(pipeline.vm, "boot", boom)
    rc, run_dir, statuses, summary = run(world)
    crash = next(c for c in summary["cases"] if c["name"] == "crash")
    assert rc == 2 and summary["verdict"] == "error"
    assert crash["message"].startswith("RuntimeError: boom (at pipeline.py:") and "in boot" in crash["message"]
    assert "raise RuntimeError" in (run_dir / rundir.CRASH_LOG).read_text()
    assert (run_dir / "index.html").is_file()  # the pages still made


def test_results_are_written_as_far_as_the_disk_allows(world: World, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    world.replay("baseline-tcg")

    def no_junit(result: Any, path: Path) -> None:
        raise InfraError(f"{path}: cannot write: disk full")
    monkeypatch.setattr(pipeline.junit, "write", no_junit)
    rc, run_dir, _, summary = run(world)
    assert rc == 2 and summary["verdict"] == "pass"  # summary.json made it; junit.xml did not
    assert (run_dir / "index.html").is_file() and not (run_dir / "junit.xml").exists()
    assert "junit.xml: cannot write: disk full" in capsys.readouterr().err


def test_two_runs_minted_the_same_second_get_two_folders(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.replay("baseline-tcg")
    # one second for both mints: on a loaded machine make_plan can take longer than a second
    real = time.strftime
    monkeypatch.setattr(rundir.time, "strftime",
                        lambda fmt, *a: "20261204-120000" if fmt == "%Y%m%d-%H%M%S" else real(fmt, *a))
    req = RunRequest("two", accel="tcg", results=world.results)
    first, second = make_plan(req, world.home), make_plan(req, world.home)
    assert first.run_id == second.run_id  # minted before either folder existed
    a = pipeline.run(first, Printer())
    b = pipeline.run(second, Printer())
    assert b.run_id == f"{a.run_id}-2" and b.results_dir == world.results / b.run_id
    assert json.loads((b.results_dir / "summary.json").read_text())["run_id"] == b.run_id
    (world.results / "fixed").mkdir()
    with pytest.raises(UserError, match="exists already"):  # an id the caller chose must be new
        pipeline.run(replace(first, run_id="fixed"), Printer())


def test_claim_is_atomic_under_concurrency(tmp_path: Path) -> None:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        names = list(pool.map(lambda _: rundir.claim(tmp_path / "r", "20261130-120000-canary"), range(16)))
    assert len(set(names)) == 16 and "20261130-120000-canary-16" in names
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == sorted(names)


def test_a_signal_after_the_command_returned_keeps_its_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    """Between the command's return and the exit, a signal raised KeyboardInterrupt outside any
    handler: a traceback and exit 1 ("the series failed") after a run that had passed."""
    assert cli.main(["list", "kconfigs"]) == 0
    cli._terminate(signal.SIGTERM, None)  # no KeyboardInterrupt
    assert "the command has finished; exiting with its code" in capsys.readouterr().err


def test_a_second_signal_during_cleanup_only_says_wait(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["list", "kconfigs"]) == 0  # main() starts with no stop under way
    cli._done = False  # as while a command runs
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        cli._terminate(signal.SIGTERM, None)
    cli._terminate(signal.SIGINT, None)  # during the cleanup: no second KeyboardInterrupt
    cli._terminate(signal.SIGTERM, None)
    err = capsys.readouterr().err
    assert err.count("stopping, the results so far are being saved") == 1
    assert err.count("stopping, please wait") == 2


def test_signals_in_a_row_still_leave_every_result_file(world: World) -> None:
    child = booting_run(world, "30.85")
    n = 0
    while child.poll() is None and n < 500:  # Ctrl-C held down: signals all through the cleanup
        child.send_signal((signal.SIGINT, signal.SIGTERM)[n % 2])
        n += 1
        time.sleep(0.01)
    out, err = child.communicate(timeout=30)
    (run_dir,) = world.results.iterdir()
    assert child.returncode == 2, (out, err)
    assert json.loads((run_dir / "summary.json").read_text())["verdict"] == "error"
    assert (run_dir / "junit.xml").is_file() and "Traceback" not in err and n > 5
    assert "stopping, please wait" in err
    assert gone("sleep 30.85")  # vng is gone


def test_files_the_guest_makes_hostile_are_read_bounded_never_followed(world: World) -> None:
    """The guest writes the workload results the host reads: a FIFO in place of a log hung the
    host's verdict forever, a link to /dev/zero filled its memory, a link to a host file put
    that file into the results. Each is now no result (an ERROR, never a PASS) and the run ends."""
    boot = world.root / "boots" / "hostile"
    shutil.copytree(BOOTS / "baseline-tcg", boot)
    secret = world.root / "host-secret.txt"
    secret.write_text("HOST SECRET\n")
    guest = boot / "guest"
    (guest / "gup-test.log").unlink()
    os.mkfifo(guest / "gup-test.log")
    (guest / "odirect.rc").unlink()
    (guest / "odirect.rc").symlink_to("/dev/zero")
    (guest / "rxe.log").unlink()
    (guest / "rxe.log").symlink_to(secret)
    with open(guest / "pin-balance.log", "a") as f:  # a runaway workload's output
        f.write("x" * (8 << 20) + "\nlast line\n")
    world.replay(boot)
    child = subprocess.run([sys.executable, "-m", "bench", "run", "two", "--accel", "tcg", "--results",
                            str(world.results)], cwd=HOME, env=dict(os.environ), capture_output=True,
                           text=True, timeout=120)
    (run_dir,) = world.results.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    statuses = {f"{c['group']}/{c['name']}": c["status"] for c in summary["cases"]}
    assert child.returncode == 2 and statuses["workload/odirect"] == "error", (statuses, child.stderr[-2000:])
    assert statuses["workload/gup-test"] == "pass"  # its .rc is fine; its log, a FIFO, is not read
    assert "HOST SECRET" not in (run_dir / "summary.json").read_text()
    pin = next(c for c in summary["cases"] if c["name"] == "pin-balance")
    assert pin["output"].endswith("last line\n") and len(pin["output"]) < (1 << 20)


def test_a_series_and_patch_named_in_bytes_that_are_not_utf8_run_and_pass(world: World,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A folder named caf\\xe9 (Latin-1) read back as a lone surrogate crashed the run's apply.log,
    then its junit.xml (ExpatError): exit 2 over a series that applied and booted fine."""
    world.replay("baseline-tcg")
    folder = os.fsencode(world.home / "patches") + b"/caf\xe9"
    os.mkdir(folder)
    for f in (TESTS / "data" / "series" / "quilt").iterdir():
        name = b"01-caf\xe9.patch" if f.name.startswith("01-") else os.fsencode(f.name)
        data = f.read_bytes().replace(b"01-gup-comment.patch", b"01-caf\xe9.patch")
        with open(folder + b"/" + name, "wb") as out:
            out.write(data)
    with open(folder + b"/series.yaml", "wb") as out:
        out.write(b"workloads: [gup-test]\n")
    rc = cli.main(["run", os.fsdecode(b"caf\xe9"), "--accel", "tcg", "--results", str(world.results)])
    (run_dir,) = world.results.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert rc == 0 and summary["verdict"] == "pass", summary["cases"]
    assert "apply/01-caf\ufffd.patch" in {f"{c['group']}/{c['name']}" for c in summary["cases"]}
    assert ET.parse(run_dir / "junit.xml").getroot() is not None
    assert "caf\ufffd" in capsys.readouterr().out
