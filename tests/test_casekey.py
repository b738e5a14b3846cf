"""One case-key language for catch:, --signature and known-issues case: (bench/base/casekey.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.base import casekey
from bench.base.errors import UserError
from bench.drivers.bisect import judge
from bench.report import issues_file
from bench.run import catch
from bench.run.result import Case, RunResult, Status


def test_case_key() -> None:
    assert Case("workload", "rxe", Status.FAIL).key == "workload/rxe"
    assert Case("report", "WARNING in foo", Status.FAIL).key == "report/WARNING in foo"


@pytest.mark.parametrize("pattern, key, hit", [
    ("workload/rxe", "workload/rxe", True),
    ("workload/rxe", "workload/rxe-more", False),  # a workload name is whole
    ("workload/pin-*", "workload/pin-balance", True),
    ("workload/pin-*", "report/pin-balance", False),
    ("report/^BUG: Bad page", "report/BUG: Bad page state in process x", True),
    ("report/Bad page", "report/BUG: Bad page state", True),  # searched, not anchored
    ("report/^Bad page", "report/BUG: Bad page state", False),
    ("boot/*", "boot/boot", True),
    ("report/BUG: x (y)", "report/BUG: x (y)", True),  # a key spelled exactly picks itself
])
def test_one_matcher(pattern: str, key: str, hit: bool) -> None:
    assert casekey.KeyPattern(pattern).matches(key) is hit


def test_an_exact_key_picks_only_itself_and_survives_argv() -> None:
    tip = casekey.exact("report/WARNING in foo")
    assert tip.matches("report/WARNING in foo") and not tip.matches("report/WARNING in foo_bar")
    odd = casekey.exact("report/BUG: (x) [y]*")
    again = casekey.parse(odd.spelled, "", "--signature", judge.SIGNATURE_GROUPS)  # through bisect-step's argv
    assert again.matches(odd.text) and not again.matches(odd.text + "z")
    star = casekey.parse(casekey.exact("workload/a*").spelled)
    assert star.matches("workload/a*") and not star.matches("workload/ab")


@pytest.mark.parametrize("text, error", [
    ("rxe", "where:1: catch 'rxe': want workload/NAME or report/TITLE-REGEX"),
    ("boot/boot", "want workload/NAME or report/TITLE-REGEX"),
    ("workload/", "want workload/NAME"),
    ("report/((", "'((' is not a regex"),
])
def test_malformed_patterns_are_one_line_errors(text: str, error: str) -> None:
    with pytest.raises(UserError) as e:
        casekey.parse(text, "where:1", "catch", ("workload", "report"))
    assert error in str(e.value) and "\n" not in str(e.value)


def test_the_three_users_speak_it(tmp_path: Path) -> None:
    """catch:, --signature and known-issues case: accept and match the same globs and regexes
    (before: catch workload names were exact, --signature keys exact, case: a glob)."""
    case = Case("workload", "pin-balance", Status.FAIL, message="leaked")
    result = RunResult("r", "s", tmp_path, (case,), 1.0)
    (c,) = catch.parse("series.yaml:3", ["workload/pin-*"])
    assert catch.hits(result, [c]) == [c]
    catch.check_workloads([c], ["rxe", "pin-balance"])
    with pytest.raises(UserError, match="never runs workload 'pin-\\*'"):
        catch.check_workloads([c], ["rxe"])
    sig = judge.parse_signature(["workload/pin-*"])
    assert judge.classify(result, sig)[0] is judge.Outcome.REPRODUCED
    f = tmp_path / "known-issues.yaml"
    f.write_text("issues:\n  - id: leak\n    case: 'workload/pin-*'\n    reason: r\n    link: l\n")
    (issue,) = issues_file.load(f)
    assert issue.matches(case.key) and not issue.matches("workload/rxe")
    f.write_text("issues:\n  - id: bad\n    case: 'report/*'\n    reason: r\n    link: l\n")
    with pytest.raises(UserError, match=f"^{f}:2: case 'report/\\*': '\\*' is not a regex"):
        issues_file.load(f)


def test_signature_patterns_pick_the_workloads_steps_need() -> None:
    sig = judge.parse_signature(["report/^WARNING in rxe_"])
    assert sig is not None
    runs = [("smoke", False), ("rxe", False), ("pin-balance", True)]
    assert judge.signature_workloads(sig, {"WARNING in rxe_foo": "rxe"}, runs) == ("rxe", "pin-balance")
    assert judge.signature_workloads(sig, {"WARNING in other": "smoke"}, runs) is None  # not seen
