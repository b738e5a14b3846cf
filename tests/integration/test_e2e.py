"""Real end to end: the preflight, then the default tree built and booted, then the canary.

Slow the first time (a cold build is ~10 min on 2 cores); the canary's build is incremental
in the same work slot and both boots run a few short workloads only (the bug catalogue is
`bench prove`'s job, not CI's). Runs in CI. Without its prerequisites (linux-source tarball or
--tree, vng, qemu) it skips locally and fails under CI=true, so CI can never pass without
really booting a kernel.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

HOME = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.vm


def need_prerequisites() -> None:
    missing = [t for t in ("vng", "qemu-system-x86_64", "ccache", "make", "rsync") if not shutil.which(t)]
    if not (os.environ.get("BENCH_TREE") or glob.glob("/usr/src/linux-source-*.tar.xz")):
        missing.append("linux-source-6.12 (or BENCH_TREE)")
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI lacks {', '.join(missing)}: .ci/run must install them")
        pytest.skip(f"needs {', '.join(missing)}")


def bench(*args: str, results: Path | None = None) -> tuple[int, str]:
    where = ["--results", str(results)] if results else []
    cp = subprocess.run([sys.executable, "-m", "bench", *args, *where], cwd=HOME, capture_output=True,
                        text=True, timeout=3600)
    sys.stdout.write(cp.stdout[-6000:])
    sys.stderr.write(cp.stderr[-3000:])
    return cp.returncode, cp.stdout


def only_run(results: Path) -> tuple[Path, dict[str, str], dict[str, object]]:
    (run,) = [p for p in results.iterdir() if p.is_dir()]
    summary = json.loads((run / "summary.json").read_text())
    return run, {f"{c['group']}/{c['name']}": c["status"] for c in summary["cases"]}, summary


def test_the_machine_passes_the_preflight() -> None:
    need_prerequisites()
    rc, out = bench("doctor")
    assert rc == 0 and "0 missing" in out


# Order matters for time: the baseline builds (cold the first time), the canary is incremental.
def test_baseline_builds_boots_and_passes(tmp_path: Path) -> None:
    need_prerequisites()
    rc, out = bench("run", "baseline", "--workload", "smoke", "--workload", "gup-test",
                    "--workload", "pin-balance", results=tmp_path)
    run, statuses, summary = only_run(tmp_path)
    for name in ("console.log", "build.log", ".config", "junit.xml", "summary.json", "apply.log", "reports.json"):
        assert (run / name).is_file(), name
    assert statuses["build/kernel"] == "pass" and statuses["boot/boot"] == "pass", statuses
    for w in ("smoke", "gup-test", "pin-balance"):
        assert statuses[f"workload/{w}"] == "pass", (w, statuses)
    assert not [k for k in statuses if k.startswith(("report/", "taint/"))], statuses
    assert rc == 0 and summary["verdict"] == "pass" and "verdict: PASS" in out
    console = (run / "console.log").read_text()
    assert "Linux version 6.12" in console and "pinbench: workload gup-test end rc=0" in console
    assert "pin counters: present" in (run / "guest" / "smoke.log").read_text()
    suite = ET.parse(run / "junit.xml").getroot().find("testsuite")
    assert suite is not None and {"boot", "smoke", "gup-test", "pin-balance"} <= {
        c.get("name") for c in suite.findall("testcase")}
    assert (run / "guest" / "vmstat.start").is_file()


def test_canary_fails_on_its_leaked_pins(tmp_path: Path) -> None:
    need_prerequisites()
    rc, out = bench("run", "canary", "--workload", "rxe", "--workload", "pin-balance", "--no-coverage",
                    results=tmp_path)  # its time budget: no gcov rebuild (docs/coverage.md)
    _, statuses, summary = only_run(tmp_path)
    assert statuses["build/kernel"] == "pass" and statuses["boot/boot"] == "pass", statuses
    assert statuses["workload/rxe"] == "fail" and statuses["workload/pin-balance"] == "fail", statuses
    assert rc == 1 and summary["verdict"] == "fail" and "pin" in out
