"""The known-issues registry: known-issues.yaml files, scopes, and fixes that expire entries.

The fix rule runs on a real tiny git tree (the shared test world's): an entry applies on a
base without its fix commit and stops applying, counted and said, on a base that has it.
Boots are real recorded ones (tests/data/boots) replayed by the fake vng.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import BOOTS, HOME, WARNING, World, commit_files, git

from bench.base.errors import UserError
from bench.cli.main import main as bench_main
from bench.report import issues_file
from bench.report.issues import Issue, Scope, State, Target, judge
from bench.report.scanner import fold, scan
from bench.run import series_yaml

WORKLOADS = "[rxe, odirect, gup-test, pin-balance]"
MKCLEAN = "WARNING in folio_mkclean"


def entry(**extra: str) -> str:
    lines = ["issues:", "  - id: mkclean", f"    title: '^{MKCLEAN}'", "    reason: intended by the series",
             "    link: https://lore.kernel.org/r/x"]
    return "\n".join(lines + [f"    {k}: {v}" for k, v in extra.items()]) + "\n"


def run(world: World, series: str, *extra: str) -> tuple[int, dict[str, Any]]:
    world.results.mkdir(exist_ok=True)
    before = set(world.results.iterdir())
    rc = bench_main(["run", series, "--accel", "tcg", "--results", str(world.results), *extra])
    (new,) = set(world.results.iterdir()) - before
    return rc, json.loads((new / "summary.json").read_text())


def case(summary: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in summary["cases"] if f"{c['group']}/{c['name']}" == key)
    return found


# -- the rule on a real git tree, through `bench run` ------------------------------------------


@pytest.fixture
def fixed_tree(world: World) -> tuple[World, str, str]:
    """The world's tree plus one commit, "the fix"; (world, base before it, the fix)."""
    before = git(world.tree, "rev-parse", "HEAD").strip()
    fix = commit_files(world.tree, {"Documentation/fix.txt": "the fix\n"}, "mm: the fix")
    world.replay("put-user-page-tcg")  # a real boot whose odirect race fires the WARNING
    return world, before, fix


def test_a_known_issue_stops_applying_where_its_fix_is_in_the_base(fixed_tree: tuple[World, str, str],
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    world, before, fix = fixed_tree
    folder = world.series("s", f"workloads: {WORKLOADS}\n", quilt=False)
    (folder / "known-issues.yaml").write_text(entry(fixed_by=f"'{fix}'"))

    rc, summary = run(world, "s", "--base", before)  # the fix is not there: known
    assert rc == 0, summary["cases"]
    report = case(summary, f"report/{MKCLEAN}")
    assert report["status"] == "skip" and "known issue mkclean: intended by the series" in report["message"]
    (judged,) = summary["info"]["known_issues"]
    assert judged["state"] == "active" and judged["matched"] == [f"report/{MKCLEAN}"]
    assert "not in the tested base" in judged["why"]

    rc, summary = run(world, "s", "--base", fix)  # the base has the fix: counted again, and said
    assert rc == 1
    report = case(summary, f"report/{MKCLEAN}")
    assert report["status"] == "fail"
    assert f"known issue mkclean is fixed here (its fix {fix[:12]} is in the tested base): now counted" \
        in report["message"]
    assert summary["info"]["known_issues"][0]["state"] == "fixed"
    assert summary["info"]["notes"] == [f"known issue mkclean is fixed here (its fix {fix[:12]} is in the tested"
                                        " base): now counted"]
    assert "known issue mkclean is fixed here" in capsys.readouterr().out


def test_a_fix_the_tree_does_not_have_keeps_the_entry(fixed_tree: tuple[World, str, str]) -> None:
    world, _, _ = fixed_tree
    folder = world.series("s", f"workloads: {WORKLOADS}\n", quilt=False)
    (folder / "known-issues.yaml").write_text(entry(fixed_by="'0123456789abcdef0123'"))
    rc, summary = run(world, "s")
    assert rc == 0 and case(summary, f"report/{MKCLEAN}")["status"] == "skip"
    assert "is not a commit of this tree: still applies" in summary["info"]["known_issues"][0]["why"]


def test_a_failing_case_can_be_a_known_issue(world: World) -> None:
    world.replay("canary-tcg")  # rxe and pin-balance fail
    (world.home / "known-issues.yaml").write_text(
        "issues:\n  - id: leak\n    case: workload/pin-*\n    reason: r\n    link: l\n"
        "    scope: {series: [s*], kernel: '>=6.12, <6.13'}\n"
        "  - id: other-kernel\n    case: workload/rxe\n    reason: r\n    link: l\n    scope: {kernel: '<6.12'}\n")
    world.series("s", f"workloads: {WORKLOADS}\n", quilt=False)
    rc, summary = run(world, "s")
    pins = case(summary, "workload/pin-balance")
    assert pins["status"] == "skip" and pins["message"].startswith("known issue leak: r (l); was: exit 1: FAIL: pin")
    assert case(summary, "workload/rxe")["status"] == "fail" and rc == 1  # out of scope: 6.12.117 is not < 6.12
    states = {j["id"]: (j["state"], j["why"]) for j in summary["info"]["known_issues"]}
    assert states == {"leak": ("active", "in scope, no fix named"),
                      "other-kernel": ("out-of-scope", "kernel 6.12.117 is outside <6.12")}


def test_series_yaml_suppress_still_works_as_entries_without_metadata(world: World) -> None:
    world.replay("put-user-page-tcg")
    world.series("s", f"workloads: {WORKLOADS}\nsuppress: ['folio_mkclean']\n", quilt=False)
    rc, summary = run(world, "s")
    assert rc == 0 and case(summary, f"report/{MKCLEAN}")["message"].startswith(
        "known report during odirect: known issue suppress 'folio_mkclean'")


def test_the_repo_registry_knows_put_user_page_s_intended_warning() -> None:
    (issue,) = issues_file.load(HOME / "patches" / "put-user-page" / "known-issues.yaml")
    console = (HOME / "tests" / "data" / "boots" / "put-user-page-tcg" / "console.log").read_text().splitlines()
    titles = [r.title for r, _ in fold(scan(console))]
    assert titles == [MKCLEAN]
    known = judge([issue], Target("put-user-page", ("base", "rdma", "debug-vm"), "6.12.117"), lambda c: None)
    assert known.is_known(titles[0])
    assert not judge([issue], Target("put-user-page", ("base",), "6.12.117"), lambda c: None).is_known(titles[0])
    assert issues_file.load(HOME / "known-issues.yaml") == ()


# -- scopes and ranges --------------------------------------------------------------------------


@pytest.mark.parametrize("scope, target, state", [
    (Scope(), Target("x", (), None), State.ACTIVE),
    (Scope(series=("canary", "put-*")), Target("put-user-page", (), None), State.ACTIVE),
    (Scope(series=("canary",)), Target("put-user-page", (), None), State.OUT_OF_SCOPE),
    (Scope(configs=("kasan", "debug-vm")), Target("x", ("base", "debug-vm"), None), State.OUT_OF_SCOPE),
    (Scope(configs=("debug-vm",)), Target("x", ("base", "debug-vm"), None), State.ACTIVE),
    (Scope(kernel=">=6.5, <6.13"), Target("x", (), "6.12.117"), State.ACTIVE),
    (Scope(kernel=">=6.5, <6.12"), Target("x", (), "6.12.117"), State.OUT_OF_SCOPE),
    (Scope(kernel="<6.12.100"), Target("x", (), "6.12.117"), State.OUT_OF_SCOPE),
    (Scope(kernel="6.12"), Target("x", (), "6.12"), State.ACTIVE),
    (Scope(kernel=">=6.5"), Target("x", (), None), State.OUT_OF_SCOPE),  # unknown version: not applied
])
def test_scope(scope: Scope, target: Target, state: State) -> None:
    issue = Issue("i", "f:1", title="x", reason="r", link="l", scope=scope)
    assert judge([issue], target, lambda c: None).judged[0].state is state


# -- the file ---------------------------------------------------------------------------------


def test_a_registry_file_with_every_key(tmp_path: Path) -> None:
    f = tmp_path / "known-issues.yaml"
    f.write_text(entry(case="'workload/*'", fixed_by="1234567",
                       scope="{series: [a], configs: [kasan], kernel: '>=6.1'}"))
    with pytest.raises(UserError, match=r"known-issues.yaml:2: fixed_by must be a non-empty string \(quote it\)"):
        issues_file.load(f)  # an unquoted all-digit sha reads as a number
    f.write_text(entry(case="'workload/*'", fixed_by="'1234567'", scope="{series: [a], configs: [kasan], kernel: '>=6.1'}"))
    (issue,) = issues_file.load(f)
    assert issue == Issue("mkclean", f"{f}:2", title=f"^{MKCLEAN}", case="workload/*", reason="intended by the series",
                          link="https://lore.kernel.org/r/x", scope=Scope(("a",), ("kasan",), ">=6.1"), fixed_by="1234567")


@pytest.mark.parametrize("text, message", [
    ("issues:\n  - id: a\n    title: x\n    link: l\n", ":2: reason is required"),
    ("issues:\n  - id: a\n    title: x\n    reason: r\n", ":2: link is required"),
    ("issues:\n  - id: a\n    reason: r\n    link: l\n", ":2: entry a: give a title regex or a case key"),
    ("issues:\n  - id: a\n    title: '(x'\n    reason: r\n    link: l\n", ":2: bad title regex '(x'"),
    ("issues:\n  - id: a\n    case: rxe\n    reason: r\n    link: l\n", ":2: case 'rxe': want workload/NAME, report/TITLE-REGEX or GROUP/GLOB"),
    ("issues:\n  - {id: a, title: x, reason: r, link: l}\n  - {id: a, title: y, reason: r, link: l}\n",
     ":3: id 'a' is also at"),
    ("issues:\n  - {id: a, title: x, reason: r, link: l, scope: {kernel: 'new'}}\n", ":2: kernel range 'new'"),
    ("issues:\n  - {id: a, title: x, reason: r, link: l, scope: {arch: x86}}\n", ":2: scope: unknown key 'arch'"),
    ("issues:\n  - {id: a, title: x, reason: r, link: l, until: 1}\n", ":2: unknown key 'until'"),
    ("issues: {id: a}\n", ":1: issues must be a list"),
    ("issues: []\nother: 1\n", ":2: unknown key 'other'"),
])
def test_bad_entries_name_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "known-issues.yaml"
    f.write_text(text)
    with pytest.raises(UserError) as err:
        issues_file.load(f)
    assert str(err.value).startswith(f"{f}{message}"), str(err.value)


def test_one_id_in_two_files_is_refused(world: World) -> None:
    (world.home / "known-issues.yaml").write_text(entry())
    folder = world.series("s", f"workloads: {WORKLOADS}\n", quilt=False)
    (folder / "known-issues.yaml").write_text(entry())
    rc = bench_main(["run", "s", "--results", str(world.results)])
    assert rc == 2 and not world.results.exists()


# -- an entry naming a title and a case: that report making that case fail ------------------


def test_title_and_case_together_need_the_report_with_the_case() -> None:
    both = Issue("rxe", "f:1", title="^WARNING in rxe_", case="workload/rxe")
    assert not both.matches("workload/rxe")  # a failure of its own (a pin leak): not this issue
    assert not both.matches("workload/rxe", ["WARNING in folio_mkclean"])
    assert both.matches("workload/rxe", ["WARNING in rxe_mr_cleanup"])
    assert not both.matches("workload/odirect", ["WARNING in rxe_mr_cleanup"])
    assert both.matches("report/WARNING in rxe_mr_cleanup")  # the report itself, by its title
    # one of the two alone: as before
    assert Issue("c", "f:1", case="workload/rxe").matches("workload/rxe")
    assert Issue("t", "f:1", title="^WARNING in rxe_").matches("report/WARNING in rxe_x")
    known = judge([both], Target("s", (), None), lambda c: None)
    assert known.find("workload/rxe") is None
    assert known.find("workload/rxe", ["WARNING in rxe_x"]) is not None
    assert known.to_json(["workload/rxe"])[0]["matched"] == []
    assert known.to_json(["workload/rxe", "report/WARNING in rxe_x"])[0]["matched"] == [
        "report/WARNING in rxe_x", "workload/rxe"]


@pytest.mark.parametrize("after, rxe", [
    (None, "fail"),  # rxe fails without the report: a real leak stays a failure
    ("workload rxe start", "skip"),  # the report during rxe: the known issue
    ("workload odirect start", "fail"),  # the report, but while another workload ran
])
def test_a_title_and_case_entry_in_a_run(world: World, after: str | None, rxe: str) -> None:
    folder = world.tmp / "boots" / "canary"
    shutil.copytree(BOOTS / "canary-tcg", folder)  # rxe and pin-balance fail: pins leak
    if after is not None:
        lines = (folder / "console.log").read_text().splitlines(keepends=True)
        at = next(i for i, line in enumerate(lines) if after in line) + 1
        (folder / "console.log").write_text("".join(lines[:at]) + WARNING + "".join(lines[at:]))
    world.replay(folder)
    (world.home / "known-issues.yaml").write_text(
        "issues:\n  - id: unpin-warn\n    title: '^WARNING in unpin_user_pages'\n    case: workload/rxe\n"
        "    reason: r\n    link: l\n")
    world.series("s", f"workloads: {WORKLOADS}\n", quilt=False)
    rc, summary = run(world, "s")
    assert case(summary, "workload/rxe")["status"] == rxe and rc == 1  # pin-balance fails anyway
    if after is not None:
        assert case(summary, "report/WARNING in unpin_user_pages")["status"] == "skip"


@pytest.mark.parametrize("text, line", [
    ("suppressions:\n  - '^WARNING in rxe_'\nsuppressions:\n  - 'other'\n", 3),  # the second list won silently
    ("- title: '^WARNING in rxe_'\n  title: 'other'\n", 2),
])
def test_plain_suppression_yaml_refuses_duplicate_keys(tmp_path: Path, text: str, line: int) -> None:
    """Plain suppression files walk YAML nodes: they get the one loader's duplicate-key check too."""
    f = tmp_path / "known.yaml"
    f.write_text(text)
    with pytest.raises(UserError, match=f"^{f}:{line}: duplicate key "):
        issues_file.load(f)


# -- entries that cannot fail to match: they would hide every report (a false PASS) -----------


@pytest.mark.parametrize("item, says", [
    ("    title: '.*'", "title regex '.*' matches any report"),
    ("    title: '.'", "title regex '.' matches any report"),
    ("    title: '$'", "title regex '$' matches any report"),
    ("    case: 'workload/*'", "case 'workload/*' matches every failure of its kind"),
    ("    case: 'report/.*'", "case 'report/.*' matches every failure of its kind"),
])
def test_a_known_issue_that_matches_everything_is_refused(tmp_path: Path, item: str, says: str) -> None:
    """title: '.*' made every kernel report of every run 'known': the series PASSed over them."""
    path = tmp_path / "known-issues.yaml"
    path.write_text(f"issues:\n  - id: all\n{item}\n    reason: r\n    link: https://x\n")
    with pytest.raises(UserError, match=rf"known-issues.yaml:2: {re.escape(says)}"):
        issues_file.load(path)


def test_a_narrow_case_or_a_broad_case_with_a_title_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "known-issues.yaml"
    path.write_text("issues:\n  - {id: a, case: 'workload/gup*', reason: r, link: x}\n"
                    "  - {id: b, case: 'report/.*', title: '^BUG: Bad page', reason: r, link: x}\n")
    assert [i.id for i in issues_file.load(path)] == ["a", "b"]


@pytest.mark.parametrize("yaml, says", [
    ("suppress: ['.*']\n", "series.yaml:1: suppress: title regex '.*' matches any report"),
    ("expect: [{report: '(?s).'}]\n", "series.yaml:1: expect report: title regex '(?s).' matches any report"),
])
def test_series_yaml_suppress_or_expect_that_matches_everything_is_refused(tmp_path: Path, yaml: str,
                                                                         says: str) -> None:
    (tmp_path / "series.yaml").write_text(yaml)
    with pytest.raises(UserError, match=re.escape(says)):
        series_yaml.read(tmp_path / "series.yaml", yaml)
