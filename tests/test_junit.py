from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from bench.run import junit
from bench.run.result import Case, RunResult, Status, write_summary_json
from bench.run.runfacts import RunFacts


def sample(tmp_path: Path) -> RunResult:
    cases = (
        Case("apply", "0001-mm-gup-x.patch", Status.PASS, 0.1, "mm/gup: x"),
        Case("build", "kernel", Status.PASS, 300.0, "0 warning(s)"),
        Case("workload", "gup-test", Status.FAIL, 12.0, "exit 1: FAIL", "== gup_test -a\n== rc=1\n"),
        Case("workload", "rxe", Status.SKIP, 1.0, "SKIP: no NIC"),
        Case("report", "WARNING in folio_mkclean", Status.SKIP, 0.0, "known report during odirect"),
        Case("infra", "InfraError", Status.ERROR, 0.0, "vng not found \x1b[0m"),
    )
    return RunResult("20261125-120000-canary", "canary", tmp_path, cases, 321.0, RunFacts(accel="tcg", head=None))


def test_junit_has_a_testcase_per_case_with_status(tmp_path: Path) -> None:
    result = sample(tmp_path)
    junit.write(result, tmp_path / "junit.xml")
    root = ET.parse(tmp_path / "junit.xml").getroot()
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "pinbench.canary" and suite.get("tests") == "6"
    assert suite.get("failures") == "1" and suite.get("errors") == "1" and suite.get("skipped") == "2"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    failure = cases["gup-test"].find("failure")
    assert failure is not None and failure.get("message") == "exit 1: FAIL"
    assert "== rc=1" in (cases["gup-test"].find("system-out").text or "")
    assert cases["gup-test"].get("classname") == "pinbench.canary.workload"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {"accel": "tcg"}  # None values are left out


def test_verdict_and_exit_codes(tmp_path: Path) -> None:
    result = sample(tmp_path)
    assert result.verdict is Status.FAIL and result.exit_code == 1
    only_error = RunResult("r", "s", tmp_path, (Case("infra", "x", Status.ERROR),), 1.0)
    assert only_error.exit_code == 2
    clean = RunResult("r", "s", tmp_path, (Case("boot", "boot", Status.PASS), Case("w", "x", Status.SKIP)), 1.0)
    assert clean.exit_code == 0
    assert RunResult("r", "s", tmp_path, (), 1.0).exit_code == 2  # nothing ran: not a pass


def test_summary_json(tmp_path: Path) -> None:
    import json
    write_summary_json(sample(tmp_path), tmp_path / "summary.json")
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["verdict"] == "fail" and data["exit_code"] == 1
    assert [c["status"] for c in data["cases"]][:3] == ["pass", "pass", "fail"]
