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


def statuses_of(run: Path) -> tuple[dict[str, str], dict[str, object]]:
    summary = json.loads((run / "summary.json").read_text())
    return {f"{c['group']}/{c['name']}": c["status"] for c in summary["cases"]}, summary


# Order matters for time: baseline builds cold, canary then hits ccache almost everywhere.
def test_baseline_builds_boots_and_runs_all_workloads(tmp_path: Path) -> None:
    need_prerequisites()
    rc, out = bench("baseline", results=tmp_path)
    run = only_run(tmp_path)
    for name in ("console.log", "build.log", ".config", "junit.xml", "summary.json", "apply.log"):
        assert (run / name).is_file(), name
    statuses, summary = statuses_of(run)
    assert statuses["build/kernel"] == "pass", statuses
    assert statuses["boot/boot"] == "pass", statuses
    for w in ("smoke", "rxe", "odirect", "gup-test", "pin-balance"):
        assert statuses[f"workload/{w}"] == "pass", (w, statuses)
    assert not [k for k in statuses if k.startswith("report/")], statuses
    assert rc == 0 and summary["verdict"] == "pass" and "verdict: PASS" in out
    console = (run / "console.log").read_text()
    assert "Linux version 6.12" in console and "pinbench: workload gup-test end rc=0" in console
    assert "pin counters: present" in (run / "guest" / "smoke.log").read_text()
    assert "ext4 MAP_SHARED rw           EFAULT" in (run / "guest" / "rxe.log").read_text()
    suite = ET.parse(run / "junit.xml").getroot().find("testsuite")
    assert suite is not None and {"boot", "smoke", "rxe", "odirect", "gup-test", "pin-balance"} <= {
        c.get("name") for c in suite.findall("testcase")}


def test_canary_fails_on_its_leaked_pins(tmp_path: Path) -> None:
    need_prerequisites()
    rc, out = bench("canary", results=tmp_path)
    statuses, summary = statuses_of(only_run(tmp_path))
    assert statuses["build/kernel"] == "pass" and statuses["boot/boot"] == "pass", statuses
    assert statuses["workload/pin-balance"] == "fail", statuses
    assert statuses["workload/rxe"] == "fail", statuses
    assert statuses["workload/gup-test"] == "pass" and statuses["workload/odirect"] == "pass", statuses
    assert rc == 1 and summary["verdict"] == "fail" and "pin imbalance" in out


def test_put_user_page_passes_with_only_its_intended_warning(tmp_path: Path) -> None:
    need_prerequisites()
    rc, out = bench("put-user-page", results=tmp_path)
    statuses, summary = statuses_of(only_run(tmp_path))
    for w in ("rxe", "odirect", "gup-test", "pin-balance"):
        assert statuses[f"workload/{w}"] == "pass", (w, statuses)
    reports = {k: v for k, v in statuses.items() if k.startswith("report/")}
    # The folio_mkclean WARN of patch 0005 is intended (series.yaml suppress:); it fires when the
    # odirect race catches writeback on a pinned folio, which is likely but timing-dependent.
    assert set(reports) <= {"report/WARNING in folio_mkclean"}, reports
    assert all(v == "skip" for v in reports.values()), reports
    assert rc == 0 and summary["verdict"] == "pass"
