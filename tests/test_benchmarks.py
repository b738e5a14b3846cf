"""The benchmarks keep the results of a run that failed and say where (issue 21 item 13: a
false FAIL in run_time.py's timed run was lost with its deleted results folder)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import HOME


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, HOME / "benchmarks" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_time_keeps_the_results_of_a_run_that_should_have_passed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    rt = load("run_time")
    scratch = tmp_path / "rt"

    def mkdtemp(prefix: str = "") -> str:
        scratch.mkdir()
        return str(scratch)

    class Child:
        """`bench run` of the base: it wrote its results, and a timing check failed."""

        def __init__(self, argv: list[str], **kw: Any) -> None:
            run = Path(argv[argv.index("--results") + 1]) / "20261204-120000-rt-base"
            run.mkdir()
            cases = [{"group": "boot", "name": "boot", "status": "pass", "message": ""},
                     {"group": "workload", "name": "pin-balance", "status": "fail",
                      "message": "exit 1: FAIL: pin imbalance: 3 page pin(s) still held after waiting 10s"}]
            (run / "summary.json").write_text(json.dumps({"verdict": "fail", "cases": cases}))
            self.stdout = iter(["boot/boot: ok\n"])

        def wait(self) -> int:
            return 1

    monkeypatch.setattr(rt.tempfile, "mkdtemp", mkdtemp)
    monkeypatch.setattr(rt.subprocess, "Popen", Child)
    monkeypatch.setattr(sys, "argv", ["run_time.py", "--no-bisect"])
    assert rt.main() == 1
    err = capsys.readouterr().err
    kept = scratch / "results" / "20261204-120000-rt-base"
    assert f"results kept in {kept}" in err and "workload/pin-balance: exit 1: FAIL: pin imbalance" in err
    assert (kept / "summary.json").is_file()


def test_run_time_judges_the_folder_its_run_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """The newest folder with a summary.json was judged: a run that wrote none (it crashed, exit
    1 with no summary) was judged by the base run's folder before it and called PASS."""
    rt = load("run_time")
    results = tmp_path / "results"
    base = results / "20261204-120000-rt-base"
    base.mkdir(parents=True)
    (base / "summary.json").write_text(json.dumps({"verdict": "pass", "cases": []}))

    class Child:
        """`bench run` of the one-patch series: it made its folder, then died before its summary."""

        def __init__(self, argv: list[str], **kw: Any) -> None:
            (results / "20261204-120100-rt-one-patch").mkdir()
            self.stdout = iter(["boot/boot: ok\n"])

        def wait(self) -> int:
            return 1

    monkeypatch.setattr(rt.subprocess, "Popen", Child)
    with pytest.raises(rt.Kept, match=r"verdict None; results kept in .*20261204-120100-rt-one-patch$"):
        rt.bench("run", "rt-one-patch", results=results, must_pass=True)
