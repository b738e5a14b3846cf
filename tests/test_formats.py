"""Format versions of the files the bench reads back (bench/base/formats.py): written with each
file, checked when read; another version is named on one line and left out (or, for input
read before any work, refused), never a crash of a later step. Issue 21 item 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.base import formats
from bench.base.errors import UserError
from bench.report import issues_file
from bench.run import plan, slot
from bench.run.pages import facts
from bench.run.result import Case, RunResult, Status, write_summary_json


@pytest.fixture(autouse=True)
def fresh_warnings() -> None:
    formats._warned.clear()


def test_summary_json_carries_its_format_and_another_is_left_out(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = RunResult("r", "s", tmp_path, (Case("boot", "boot", Status.PASS),), 1.0)
    write_summary_json(result, tmp_path / "summary.json")
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["format"] == formats.SUMMARY
    assert RunResult.from_json(data, tmp_path).verdict is Status.PASS
    assert facts.summary(tmp_path)["run_id"] == "r"
    (tmp_path / "summary.json").write_text(json.dumps({**data, "format": 2}))
    assert facts.summary(tmp_path) == {}
    with pytest.raises(ValueError, match="format 2, this bench reads format 1"):
        RunResult.from_json({**data, "format": 2}, tmp_path)
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "summary.json: format 2" in err


def test_request_json_carries_its_format_and_another_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "request.json"
    plan.write_request(plan.RunRequest("canary"), path)
    assert json.loads(path.read_text())["format"] == formats.REQUEST
    assert plan.read_request(path).series == "canary"
    path.write_text(json.dumps({**json.loads(path.read_text()), "format": 3}))
    with pytest.raises(UserError, match="request.json: not a run request written by bench: format 3, this bench reads format") as e:
        plan.read_request(path)
    assert "\n" not in str(e.value)


def test_slot_state_carries_its_format_and_another_means_rebuild(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = slot.Slot(tmp_path, slot.State()).save(slot.State(tree="t", built="abc"))
    data = json.loads((tmp_path / slot.STATE).read_text())
    assert data["format"] == formats.STATE and slot.read_state(tmp_path) == s.state
    (tmp_path / slot.STATE).write_text(json.dumps({**data, "format": "two"}))
    assert slot.read_state(tmp_path) == slot.State()
    assert "state.json: format 'two' is not a version number" in capsys.readouterr().err


def test_known_issues_of_another_format_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "known-issues.yaml"
    path.write_text("# comment\nformat: 1\nissues: []\n")
    assert issues_file.load(path) == ()
    path.write_text("# comment\nformat: 2\nissues: []\n")
    with pytest.raises(UserError, match=r"known-issues.yaml:2: format '2'"):
        issues_file.load(path)
    path.write_text("issues: []\n")  # un-versioned: today's format
    assert issues_file.load(path) == ()


def test_the_repository_known_issues_file_is_versioned() -> None:
    home = Path(__file__).resolve().parent.parent
    assert "format: 1" in (home / "known-issues.yaml").read_text()
    issues_file.load(home / "known-issues.yaml")
