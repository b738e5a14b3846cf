"""Real end to end: build the default tree with the default config, boot it, run workloads.

Slow (a cold build is ~7-8 min on 2 cores; later builds of the same config hit
ccache). Runs in CI. Without its prerequisites (linux-source tarball or --tree,
vng, qemu) it skips locally and fails under CI=true, so CI can never pass
without really booting a kernel.
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
    missing = [t for t in ("vng", "qemu-system-x86_64", "ccache", "make") if not shutil.which(t)]
    if not (os.environ.get("BENCH_TREE") or glob.glob("/usr/src/linux-source-*.tar.xz")):
        missing.append("linux-source-6.12 (or BENCH_TREE)")
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI lacks {', '.join(missing)}: .ci/run must install them")
        pytest.skip(f"needs {', '.join(missing)}")


def bench(*args: str, results: Path) -> tuple[int, str]:
    cp = subprocess.run(
        [sys.executable, "-m", "bench", "run", *args, "--results", str(results)],
        cwd=HOME, capture_output=True, text=True, timeout=3600,
    )
    sys.stdout.write(cp.stdout[-6000:])
    sys.stderr.write(cp.stderr[-3000:])
    return cp.returncode, cp.stdout


def only_run(results: Path) -> Path:
    (run,) = [p for p in results.iterdir() if p.is_dir()]
    return run


def test_baseline_builds_boots_and_runs_workloads(tmp_path: Path) -> None:
    need_prerequisites()
    rc, out = bench("baseline", "--workload", "smoke", "--workload", "gup-test",
                    "--workload", "pin-balance", results=tmp_path)
    run = only_run(tmp_path)
    for name in ("console.log", "build.log", ".config", "junit.xml", "summary.json", "apply.log"):
        assert (run / name).is_file(), name
    summary = json.loads((run / "summary.json").read_text())
    statuses = {f"{c['group']}/{c['name']}": c["status"] for c in summary["cases"]}
    assert statuses["build/kernel"] == "pass", statuses
    assert statuses["boot/boot"] == "pass", statuses
    assert statuses["workload/smoke"] == "pass", statuses
    assert statuses["workload/gup-test"] == "pass", statuses
    assert statuses["workload/pin-balance"] == "pass", statuses
    assert rc == 0 and summary["verdict"] == "pass" and "verdict: PASS" in out
    console = (run / "console.log").read_text()
    assert "Linux version 6.12" in console and "pinbench: workload gup-test end rc=0" in console
    assert "pin counters: present" in (run / "guest" / "smoke.log").read_text()
    suite = ET.parse(run / "junit.xml").getroot().find("testsuite")
    assert suite is not None and {"boot", "smoke", "gup-test", "pin-balance"} <= {
        c.get("name") for c in suite.findall("testcase")}
