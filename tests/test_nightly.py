"""`bench nightly` and `bench merge` end to end, with the world faked like test_pipeline.py.

A tiny git "kernel" (tests/fakelinux's Makefile + merge_config.sh), three series, and
tests/nightly_bin/vng replaying a recorded boot per series (FAKE_NIGHTLY_BOOTS):
baseline-tcg passes everything, canary-tcg fails rxe and pin-balance.
"""

from __future__ import annotations

import argparse
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import BOOTS, WARNING, World, gone, hrefs

from bench.base.errors import BenchError
from bench.cli import nightly as nightly_cli
from bench.drivers.nightly import kcidb, night_file

WORKLOADS = "[rxe, odirect, gup-test, pin-balance]"
TIMINGS = ("name", "started", "finished", "secs", "merged_from", "shard", "exit_code")


def bench(*argv: str) -> int:
    """Like cli.main for the nightly commands (bench/cli/main.py wires nightly_cli the same way)."""
    parser = argparse.ArgumentParser(prog="bench")
    nightly_cli.add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except BenchError as e:
        return e.exit_code


class Nights:
    """The shared test world with three series (alpha: the two-patch quilt; beta, gamma: none),
    a matrix of them, and a boot with a real-format WARNING in rxe."""

    def __init__(self, world: Nights) -> None:
        self.world = world
        self.root, self.mp, self.home, self.results = world.root, world.mp, world.home, world.results
        meta = f"kconfigs: [rdma, debug-vm]\nworkloads: {WORKLOADS}\n"
        world.series("alpha", meta)
        for name in ("beta", "gamma"):
            world.series(name, meta, quilt=False)
        world.boot_with("warning", WARNING, "workload rxe start")
        self.matrix = self.root / "matrix.yaml"
        self.matrix.write_text("series: [alpha, beta, gamma]\n")

    def night(self, boots: str, *extra: str, out: str | None = None) -> tuple[int, Path, dict[str, Any]]:
        """One night with FAKE_VNG_SERIES=boots; its exit code, folder and night.json."""
        self.mp.setenv("FAKE_VNG_SERIES", boots)
        folder = self.results / "nightly" / out if out else None
        where = ["--out", str(folder)] if folder else []
        before = set(self.nights())
        rc = bench("nightly", str(self.matrix), "--accel", "tcg", "--results", str(self.results),
                   *where, *extra)
        (new,) = set(self.nights()) - before
        return rc, new, json.loads((new / "night.json").read_text())

    def nights(self) -> list[Path]:
        root = self.results / "nightly"
        return sorted(root.iterdir()) if root.is_dir() else []


@pytest.fixture(name="world")
def nights_world(world: Nights) -> Nights:
    return Nights(world)


def items(night: dict[str, Any], kind: str) -> set[tuple[str, str]]:
    return {(i["id"], i["key"]) for i in night["comparison"][kind]}


def canary_keys(entry: str) -> set[tuple[str, str]]:
    return {(entry, "workload/rxe"), (entry, "workload/pin-balance")}


# -- two nights in a row (and more) ---------------------------------------------------------


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Nights, list[Any]]]:
    """Four nights: alpha fails throughout; beta fails, then is fixed; gamma newly fails;
    then the machine breaks for alpha. Run once for the tests below (each night ~2s)."""
    with pytest.MonkeyPatch.context() as mp:
        w = Nights(World(tmp_path_factory.mktemp("history"), mp))
        nights = [
            w.night(f"alpha=canary-tcg beta=canary-tcg gamma={w.root}/boots/warning"),
            w.night("alpha=canary-tcg gamma=canary-tcg"),
            w.night("alpha=canary-tcg gamma=canary-tcg"),
            w.night("alpha=none gamma=canary-tcg"),
        ]
        yield w, nights


def test_first_night_everything_failing_is_new(history: tuple[Nights, list[Any]]) -> None:
    _, nights = history
    rc, folder, night = nights[0]
    assert rc == 1 and night["complete"] and night["comparison"]["previous"] is None
    report = ("gamma/default", "report/WARNING in unpin_user_pages")
    assert items(night, "new") == canary_keys("alpha/default") | canary_keys("beta/default") | {report}
    assert [e["id"] for e in night["entries"]] == ["alpha/default", "beta/default", "gamma/default"]
    gamma = night["entries"][2]
    assert gamma["reports"] == [{"title": "WARNING in unpin_user_pages", "known": False,
                                 "message": "WARNING during rxe"}]
    for name in ("night.json", "junit.xml", "summary.md", "index.html", "kcidb.json",
                 "alpha--default/console.log", "alpha--default/summary.json"):
        assert (folder / name).is_file(), name


def test_second_night_new_fixed_still(history: tuple[Nights, list[Any]]) -> None:
    _, nights = history
    rc, folder, night = nights[1]
    assert rc == 1 and night["comparison"]["previous"] == nights[0][1].name
    assert items(night, "new") == canary_keys("gamma/default")
    assert items(night, "still") == canary_keys("alpha/default")
    assert items(night, "fixed") == canary_keys("beta/default") | {
        ("gamma/default", "report/WARNING in unpin_user_pages")}
    summary = (folder / "summary.md").read_text()
    assert "## New failures" in summary and "## Fixed" in summary and "## Still failing" in summary
    assert "`gamma/default` workload/rxe" in summary


def test_nothing_new_exits_zero(history: tuple[Nights, list[Any]]) -> None:
    _, nights = history
    rc, _, night = nights[2]
    assert rc == 0 and not night["comparison"]["new"] and not night["comparison"]["fixed"]
    assert items(night, "still") == canary_keys("alpha/default") | canary_keys("gamma/default")


def test_infrastructure_trouble_is_not_a_new_failure(history: tuple[Nights, list[Any]]) -> None:
    _, nights = history
    rc, _, night = nights[3]
    alpha = night["entries"][0]
    assert rc == 2 and alpha["verdict"] == "error"
    assert items(night, "infra") and {i for i, _ in items(night, "infra")} == {"alpha/default"}
    assert not night["comparison"]["new"] and not night["comparison"]["fixed"]
    assert items(night, "untested") == canary_keys("alpha/default")


def test_baseline_skips_a_night_of_infrastructure_trouble(world: Nights) -> None:
    world.matrix.write_text("series: [alpha]\n")
    assert world.night("alpha=canary-tcg")[0] == 1
    assert world.night("alpha=none")[0] == 2
    rc, _, night = world.night("alpha=canary-tcg")
    assert rc == 0 and items(night, "still") == canary_keys("alpha/default")


def test_html_links_exist(history: tuple[Nights, list[Any]]) -> None:
    _, nights = history
    folder = nights[1][1]
    links = hrefs(folder / "index.html")
    assert "alpha--default/console.log" in links and "alpha--default/build.log" in links
    assert "kcidb.json" in links and "junit.xml" in links
    for href in links:
        assert not href.startswith("/") and (folder / href).is_file(), href


_CELL = re.compile(r'<td class="cell bg-(\w+)"><a href="([^"]+)" title="[^"]*">(.)</a></td>')


def grid_rows(page: str) -> dict[str, list[tuple[str, str, str]]]:
    """The history grid of a night's index.html: entry -> [(colour, link, letter)] oldest first."""
    table = page.split("<h2>History", 1)[1].split("</table>", 1)[0]
    return {m.group(1): _CELL.findall(m.group(2))
            for m in re.finditer(r"<tr><td><code>([^<]+)</code></td>(.*?)</tr>", table)}


def test_history_grid(history: tuple[Nights, list[Any]]) -> None:
    _, nights = history
    folders = [folder for _, folder, _ in nights]
    first = (folders[0] / "index.html").read_text()
    assert "History (last 1 night)" in first  # the first night has only itself
    page = (folders[3] / "index.html").read_text()
    assert "History (last 4 nights)" in page
    rows = grid_rows(page)
    assert [(c, t) for c, _, t in rows["alpha/default"]] == [("fail", "N"), ("fail", "F"), ("fail", "F"),
                                                            ("error", "E")]
    assert [(c, t) for c, _, t in rows["beta/default"]] == [("fail", "N"), ("pass", "P"), ("pass", "P"),
                                                           ("pass", "P")]
    assert [t for _, _, t in rows["gamma/default"]] == ["N", "N", "F", "F"]
    # Each cell links to that night's run page; the links resolve from this night's folder.
    assert [link for _, link, _ in rows["beta/default"]] == [
        *(f"../{f.name}/beta--default/index.html" for f in folders[:3]), "beta--default/index.html"]
    for _, link, _ in (cell for cells in rows.values() for cell in cells):
        assert (folders[3] / link).is_file(), link


def test_trends(history: tuple[Nights, list[Any]]) -> None:
    _, nights = history
    page = (nights[3][1] / "index.html").read_text()
    trends = page.split("<h2>Trends (last 4 nights)</h2>", 1)[1]
    rows = re.findall(r"<tr><td><code>([^<]+)</code></td><td>(<svg.*?</svg>)</td>", trends)
    assert [entry for entry, _ in rows] == ["alpha/default", "beta/default", "gamma/default"]
    beta = dict(rows)["beta/default"]
    for _, folder, _ in nights:  # a bar a night, its stages stacked (each one's time in its tooltip)
        assert re.search(rf"<title>{folder.name}: boot [0-9.]+s</title>", beta), folder.name
    assert "no counters" in trends  # the recorded boots kept no per-workload pin counters


def test_two_nights_draw_pin_trends(world: Nights) -> None:
    """canary-pins-tcg is a real boot whose guest kept the FOLL_PIN counters around each workload."""
    world.matrix.write_text("series: [alpha]\n")
    _, first, _ = world.night("alpha=canary-pins-tcg")
    _, second, _ = world.night("alpha=canary-pins-tcg")
    page = (second / "index.html").read_text()
    assert [(c, t) for c, _, t in grid_rows(page)["alpha/default"]] == [("fail", "N"), ("fail", "F")]
    trends = page.split("<h2>Trends (last 2 nights)</h2>", 1)[1]
    for workload, acquired in (("rxe", 2468), ("odirect", 160612), ("gup-test", 116319), ("pin-balance", 182)):
        spark = re.search(rf"<code>{workload}</code> (<svg.*?</svg>)", trends)
        assert spark and [f"{first.name}: {acquired}", f"{second.name}: {acquired}"] == re.findall(
            r"<title>([^<]+)</title>", spark.group(1)), workload
    run_page = (second / "alpha--default" / "index.html").read_text()
    assert "<td>rxe</td><td>2468</td><td>1814</td><td><span class=fail>654</span></td>" in run_page


def test_aggregated_junit(history: tuple[Nights, list[Any]]) -> None:
    _, nights = history
    root = ET.parse(nights[1][1] / "junit.xml").getroot()
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"pinbench.alpha/default", "pinbench.beta/default", "pinbench.gamma/default"}
    failed = {(c.get("classname"), c.get("name")) for s in suites.values() for c in s.iter("testcase")
              if c.find("failure") is not None}
    assert ("pinbench.gamma.default.workload", "rxe") in failed
    assert int(root.get("failures") or 0) == 4 and int(root.get("tests") or 0) > 20


# -- KCIDB ----------------------------------------------------------------------------------


def test_kcidb_export(history: tuple[Nights, list[Any]]) -> None:
    _, nights = history
    folder = nights[0][1]
    data = json.loads((folder / "kcidb.json").read_text())
    assert kcidb.validate(data) == []
    assert data["version"]["major"] == 5
    checkouts = {c["misc"]["series"]: c for c in data["checkouts"]}
    alpha = checkouts["alpha"]
    assert len(alpha["patchset_files"]) == 2 and len(alpha["patchset_hash"]) == 64
    assert checkouts["beta"]["patchset_hash"] == "" and alpha["valid"] is True
    assert len(alpha["git_commit_hash"]) == 40 and alpha["origin"] == "pinbench"
    url = alpha["patchset_files"][0]["url"]
    assert url.startswith("file://") and Path(url[len("file://"):]).is_file()
    builds = {b["misc"]["entry"]: b for b in data["builds"]}
    assert builds["alpha/default"]["status"] == "PASS" and builds["alpha/default"]["config_name"] == "default"
    assert builds["alpha/default"]["checkout_id"] == alpha["id"]
    tests = {(t["build_id"], t["path"]): t for t in data["tests"]}
    rxe = tests[(builds["alpha/default"]["id"], "pinbench.workload.rxe")]
    assert rxe["status"] == "FAIL" and rxe["log_excerpt"] and rxe["start_time"]
    assert tests[(builds["beta/default"]["id"], "pinbench.workload.odirect")]["status"] == "PASS"
    report = tests[(builds["gamma/default"]["id"], "pinbench.report.WARNING_in_unpin_user_pages")]
    assert report["status"] == "FAIL" and "unpin_user_pages" in report["log_excerpt"]
    assert tests[(builds["gamma/default"]["id"], "pinbench.boot")]["status"] == "PASS"


def test_kcidb_issues_and_incidents(history: tuple[Nights, list[Any]]) -> None:
    _, nights = history
    title = "WARNING in unpin_user_pages"
    data = json.loads((nights[0][1] / "kcidb.json").read_text())
    (issue,) = data["issues"]
    assert issue["id"] == kcidb.issue_id(title) and issue["report_subject"] == title
    assert issue["culprit"] == {"code": True, "tool": False, "harness": False}
    (report,) = json.loads((nights[0][1] / "gamma--default" / "reports.json").read_text())
    assert issue["categories"] == [report.get("category") or "linux.kernel"]
    (incident,) = data["incidents"]
    test = next(t for t in data["tests"] if t["id"] == incident["test_id"])
    assert test["path"] == "pinbench.report.WARNING_in_unpin_user_pages" and incident["present"] is True
    assert incident["build_id"] == test["build_id"] and incident["misc"]["workload"] == "rxe"
    # The next night the report is gone: the same issue, an incident marked absent.
    data = json.loads((nights[1][1] / "kcidb.json").read_text())
    (absent,) = data["incidents"]
    assert absent["issue_id"] == issue["id"] and absent["present"] is False and "test_id" not in absent
    assert absent["build_id"].endswith(":gamma_default")
    for _, folder, _ in nights:
        assert kcidb.validate(json.loads((folder / "kcidb.json").read_text())) == []


def test_kcidb_against_the_v5_schema_subset(history: tuple[Nights, list[Any]]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    _, nights = history
    for _, folder, _ in nights:
        jsonschema.validate(json.loads((folder / "kcidb.json").read_text()), KCIDB_V5_SUBSET)


def test_kcidb_log_url_and_infra(history: tuple[Nights, list[Any]]) -> None:
    _, nights = history
    folder = nights[3][1]
    data = kcidb.export(folder, night_file.read(folder), "https://ci.example.org/night/")
    assert kcidb.validate(data) == []
    build = next(b for b in data["builds"] if b["misc"]["entry"] == "beta/default")
    assert build["log_url"] == "https://ci.example.org/night/beta--default/build.log"
    errors = [t for t in data["tests"] if t["build_id"].endswith(":alpha_default") and t["status"] == "ERROR"]
    assert errors and any(t["path"] == "pinbench.boot" for t in errors)


_ID = {"type": "string", "pattern": "^[a-z0-9_]+:.*$"}
_STATUS = {"enum": ["FAIL", "ERROR", "MISS", "PASS", "DONE", "SKIP"]}
_RESOURCES = {"type": "array", "items": {"type": "object", "required": ["name", "url"],
                                         "additionalProperties": False,
                                         "properties": {"name": {"type": "string", "pattern": "^[^/]+$"},
                                                        "url": {"type": "string"}}}}
KCIDB_V5_SUBSET: dict[str, Any] = {
    "type": "object", "required": ["version"],
    "properties": {
        "version": {"type": "object", "required": ["major", "minor"],
                    "properties": {"major": {"const": 5}, "minor": {"type": "integer"}}},
        "checkouts": {"type": "array", "items": {
            "type": "object", "required": ["id", "origin"],
            "properties": {"id": _ID, "origin": {"type": "string", "pattern": "^[a-z0-9_]+$"},
                           "tree_name": {"type": "string"},
                           "git_commit_hash": {"type": "string", "pattern": "^[0-9a-f]{40}$"},
                           "patchset_hash": {"type": "string", "pattern": "^$|^[0-9a-f]{64}$"},
                           "patchset_files": _RESOURCES, "valid": {"type": "boolean"},
                           "start_time": {"type": "string"}, "misc": {"type": "object"}}}},
        "builds": {"type": "array", "items": {
            "type": "object", "required": ["id", "checkout_id", "origin"],
            "properties": {"id": _ID, "checkout_id": _ID, "config_name": {"type": "string"},
                           "status": _STATUS, "duration": {"type": "number"},
                           "log_url": {"type": "string"}, "log_excerpt": {"type": "string", "maxLength": 16384}}}},
        "tests": {"type": "array", "items": {
            "type": "object", "required": ["id", "build_id", "origin"],
            "properties": {"id": _ID, "build_id": _ID, "status": _STATUS,
                           "path": {"type": "string", "pattern": "^([a-zA-Z0-9_-]+(\\.[a-zA-Z0-9_-]+)*)?$"},
                           "start_time": {"type": "string"}, "waived": {"type": "boolean"},
                           "log_excerpt": {"type": "string", "maxLength": 16384}}}},
    },
}


# -- shards ---------------------------------------------------------------------------------


def comparable(night: dict[str, Any]) -> Any:
    """night.json minus what differs between two runs of the same results: times and names."""
    if isinstance(night, dict):
        return {k: comparable(v) for k, v in night.items() if k not in TIMINGS}
    if isinstance(night, list):
        return [comparable(v) for v in night]
    return night


def test_sharded_night_merges_to_the_unsharded_result(world: Nights) -> None:
    world.matrix.write_text("series: [gamma, alpha, beta]\nconfigs: {default: [], lockdep: [lockdep]}\n")
    _, first, _ = world.night("beta=canary-tcg", out="first")
    boots = f"alpha=canary-tcg gamma={world.root}/boots/warning"
    prev = ["--previous", str(first)]
    rc, whole, unsharded = world.night(boots, *prev, out="whole")
    rc1, s1, shard1 = world.night(boots, "--shard", "1/2", *prev, out="s1")
    rc2, s2, shard2 = world.night(boots, "--shard", "2/2", *prev, out="s2")
    ids1, ids2 = ({e["id"] for e in n["entries"]} for n in (shard1, shard2))
    assert len(ids1) == len(ids2) == 3 and not ids1 & ids2
    merged_dir = world.results / "nightly" / "merged"
    assert bench("merge", str(s1), str(s2), "--out", str(merged_dir), *prev) == rc == 1
    merged = json.loads((merged_dir / "night.json").read_text())
    assert merged["merged_from"] == ["s1", "s2"] and merged["complete"] and not merged["missing"]
    assert comparable(merged) == comparable(unsharded)
    assert items(merged, "fixed") == canary_keys("beta/default") | canary_keys("beta/lockdep")
    assert merged["exit_code"] == unsharded["exit_code"] == 1 and {rc1, rc2} == {1}

    def junit_cases(folder: Path) -> set[tuple[str | None, str | None, bool]]:
        root = ET.parse(folder / "junit.xml").getroot()
        return {(c.get("classname"), c.get("name"), c.find("failure") is None) for c in root.iter("testcase")}

    assert junit_cases(merged_dir) == junit_cases(whole)
    assert (merged_dir / "alpha--lockdep" / "console.log").is_file()
    assert (merged_dir / "patches" / "alpha").is_dir()


def test_merge_with_a_missing_shard_is_infrastructure_trouble(world: Nights) -> None:
    world.matrix.write_text("series: [alpha, beta]\nconfigs: {default: [], lockdep: [lockdep]}\n")
    _, s1, _ = world.night("", "--shard", "1/2", out="s1")
    merged_dir = world.results / "nightly" / "merged"
    assert bench("merge", str(s1), "--out", str(merged_dir)) == 2
    merged = json.loads((merged_dir / "night.json").read_text())
    assert not merged["complete"] and len(merged["missing"]) == 2
    suites = [s.get("name") for s in ET.parse(merged_dir / "junit.xml").getroot().findall("testsuite")]
    assert all(f"pinbench.{m}" in suites for m in merged["missing"])
    data = json.loads((merged_dir / "kcidb.json").read_text())
    assert kcidb.validate(data) == [] and sum(b["status"] == "MISS" for b in data["builds"]) == 2


def test_merge_refuses_different_matrices(world: Nights) -> None:
    _, s1, _ = world.night("", "--shard", "1/2", out="s1")
    world.matrix.write_text("series: [alpha]\n")
    _, s2, _ = world.night("", "--shard", "2/2", out="s2")
    assert bench("merge", str(s1), str(s2), "--out", str(world.root / "m")) == 2
    assert not (world.root / "m").exists()


def test_list_and_bad_matrix(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    world.matrix.write_text("series: [alpha, beta, gamma]\nconfigs: {default: [], kasan: [kasan]}\n")
    assert bench("nightly", str(world.matrix), "--list") == 0
    assert capsys.readouterr().out.split() == [
        "alpha/default", "alpha/kasan", "beta/default", "beta/kasan", "gamma/default", "gamma/kasan"]
    halves = []
    for i in (1, 2):
        assert bench("nightly", str(world.matrix), "--list", "--shard", f"{i}/2") == 0
        halves.append(capsys.readouterr().out.split())
    assert sorted(halves[0] + halves[1]) == sorted(set(halves[0]) | set(halves[1])) and len(halves[0]) == 3
    world.matrix.write_text("series: [alpha]\nworkloads: [nope]\n")
    assert bench("nightly", str(world.matrix), "--results", str(world.results)) == 2
    assert world.nights() == []  # nothing left behind by a matrix that could not be planned


def test_parallel_shards_merge_to_the_unsharded_night(world: Nights) -> None:
    from bench.cli.main import main as bench_main

    world.mp.setenv("FAKE_VNG_SERIES", "alpha=canary-tcg")
    rc = bench_main(["nightly", str(world.matrix), "--accel", "tcg", "--results", str(world.results),
                     "--parallel", "2", "--out", str(world.results / "nightly" / "par")])
    shard_logs = "".join(p.read_text()[-3000:] for p in (world.results / "nightly" / ".par-parallel").glob("*.log"))
    assert (world.results / "nightly" / "par" / "night.json").is_file(), shard_logs  # what a shard said
    night = json.loads((world.results / "nightly" / "par" / "night.json").read_text())
    _, _, whole = world.night("alpha=canary-tcg", out="whole")
    strip = [{k: v for k, v in e.items() if k not in ("started", "secs")} for e in night["entries"]]
    assert strip == [{k: v for k, v in e.items() if k not in ("started", "secs")} for e in whole["entries"]]
    assert rc == 1 and night["complete"] and sorted(night["merged_from"]) == ["shard-1", "shard-2"]
    logs = sorted(p.name for p in (world.results / "nightly" / ".par-parallel").iterdir())
    # the shards' folders are gone; their logs and the request they were given are kept
    assert logs == ["request.json", "shard-1.log", "shard-2.log"]


def test_a_parallel_night_stopped_by_a_signal_still_ends_with_its_files(world: Nights) -> None:
    """The shards were stopped and kept what ran, but the parent stopped without merging them:
    the night folder stayed empty (no night.json, junit.xml or pages), its results hidden in
    the shards' scratch folder."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import HOME
    world.mp.setenv("FAKE_VNG_SERIES", "")
    world.mp.setenv("FAKE_VNG_SLEEP", "41.75")  # a value nobody else sleeps
    out = world.results / "nightly" / "par"
    child = subprocess.Popen([sys.executable, "-m", "bench", "nightly", str(world.matrix), "--accel", "tcg",
                              "--results", str(world.results), "--parallel", "2", "--out", str(out)],
                             cwd=HOME, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(list(world.results.glob("nightly/.par-parallel/shard-*/*/console.log"))) < 2 \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 2, err[-2000:]
    for name in ("night.json", "junit.xml", "kcidb.json", "summary.md", "index.html"):
        assert (out / name).is_file(), (name, err[-2000:])
    night = json.loads((out / "night.json").read_text())
    assert night["complete"] is False
    assert gone("sleep 41.75")


def test_catalogue_entries_pass_when_the_bug_is_caught(world: Nights) -> None:
    world.world.bug("leak", "BISECT_LEAK", "[workload/pin-balance]")
    world.world.bug("quiet", "nothing to see", "['report/^BUG']")
    world.mp.setenv("FAKE_VNG_RULES", f"BISECT_LEAK={BOOTS / 'canary-tcg'}")
    world.mp.setenv("FAKE_VNG_DEFAULT", str(BOOTS / "baseline-tcg"))
    world.matrix.write_text("series: [beta]\ncatalogue: patches/bugs\n")
    rc, folder, night = world.night("")
    entries = {e["id"]: e for e in night["entries"]}
    assert entries["leak/catalogue"]["verdict"] == "pass" and entries["leak/catalogue"]["caught"] == "caught"
    assert entries["quiet/catalogue"]["verdict"] == "fail" and entries["quiet/catalogue"]["caught"] == "missed"
    assert items(night, "new") == {("quiet/catalogue", "catalogue/caught")} and rc == 1
    kcidb_tests = json.loads((folder / "kcidb.json").read_text())["tests"]
    assert not [t for t in kcidb_tests if "leak" in t["id"] or "quiet" in t["id"]]  # broken on purpose


def test_catalogue_controls_pass_when_their_run_passes(world: Nights) -> None:
    """A control (a harmless refactor) is the other way round from a bug: its entry passes when
    its run passes, and fails, as the bench's false alarm, when any case fails."""
    for name, marker in (("clean", "nothing to see"), ("noisy", "BISECT_LEAK")):
        folder = world.world.bug(name, marker, "[workload/pin-balance]")
        (folder / "series.yaml").write_text(f"description: {name}\nworkloads: [rxe, gup-test, pin-balance]\n"
                                            "control: true\n")
    world.mp.setenv("FAKE_VNG_RULES", f"BISECT_LEAK={BOOTS / 'canary-tcg'}")
    world.mp.setenv("FAKE_VNG_DEFAULT", str(BOOTS / "baseline-tcg"))
    world.matrix.write_text("series: [beta]\ncatalogue: patches/bugs\n")
    rc, folder, night = world.night("")
    entries = {e["id"]: e for e in night["entries"]}
    clean, noisy = entries["clean/catalogue"], entries["noisy/catalogue"]
    assert clean["verdict"] == "pass" and clean["caught"] == "held" and clean["cases"] == {"catalogue/held": "pass"}
    assert noisy["verdict"] == "fail" and noisy["caught"] == "false-alarm"
    said = noisy["failing"][0]["message"]
    assert said.startswith("false-alarm: a control must pass; failed: ") and "workload/pin-balance: exit 1" in said
    assert items(night, "new") == {("noisy/catalogue", "catalogue/held")} and rc == 1
    kcidb_tests = json.loads((folder / "kcidb.json").read_text())["tests"]
    assert not [t for t in kcidb_tests if "clean" in t["id"] or "noisy" in t["id"]]  # patched on purpose


def test_catalogue_configs_make_an_entry_a_bug_and_config(world: Nights) -> None:
    from bench.drivers.nightly import matrix as nightly_matrix

    world.world.bug("leak", "BISECT_LEAK", "[workload/pin-balance]")
    world.matrix.write_text("series: [beta]\nconfigs: {default: [], lockdep: [lockdep]}\ncatalogue: patches/bugs\n"
                            "catalogue_configs: [default, lockdep]\n")
    m = nightly_matrix.load(world.matrix, world.home / "patches", "Sun")
    by_id = {e.id: e for e in m.entries}
    assert m.ids == ("beta/default", "beta/lockdep", "leak/catalogue", "leak/catalogue-lockdep")
    assert by_id["leak/catalogue-lockdep"].kconfigs == ("lockdep",) and by_id["leak/catalogue-lockdep"].catch
    assert by_id["leak/catalogue"].kconfigs == () and by_id["leak/catalogue"].catch


def test_catalogue_days(world: Nights) -> None:
    from bench.drivers.nightly import matrix as nightly_matrix

    world.world.bug("leak", "BISECT_LEAK", "[workload/pin-balance]")
    world.matrix.write_text("series: [beta]\ncatalogue: patches/bugs\ncatalogue_days: [Sun]\n")
    ids = lambda day: nightly_matrix.load(world.matrix, world.home / "patches", day).ids  # noqa: E731
    assert ids("Sun") == ("beta/default", "leak/catalogue") and ids("Mon") == ("beta/default",)


def test_parallel_children_get_the_request_as_a_file_and_their_own_shard_and_out(tmp_path: Path,
                                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The shards get the parent's run options as a request file (no rewriting of the user's
    command line): read back, it is the request with each shard's share of the cores."""
    from bench.drivers.nightly import parallel
    from bench.run.plan import RunRequest, read_request

    ran: list[list[tuple[list[str], Path]]] = []
    monkeypatch.setattr(parallel.proc, "run_all", ran.append)
    request = RunRequest(series="", accel="tcg", jobs=2, params=("rxe.ITERS=5",), append=("a=1",))
    shards, work = parallel.run_shards(tmp_path / "m.yaml", request, 3, tmp_path / "night")
    assert shards == [] and work == tmp_path / ".night-parallel"
    (commands,) = ran
    assert [argv[3:] for argv, _ in commands] == [
        ["nightly", str(tmp_path / "m.yaml"), "--request", str(work / "request.json"),
         "--shard", f"{i}/3", "--out", str(work / f"shard-{i}")] for i in (1, 2, 3)]
    assert [log.name for _, log in commands] == ["shard-1.log", "shard-2.log", "shard-3.log"]
    assert read_request(work / "request.json") == request


def test_a_catalogue_catch_its_workloads_never_run_is_refused_before_the_night(
        world: Nights, capsys: pytest.CaptureFixture[str]) -> None:
    """A catch naming a workload the entry never runs could only say "missed" (issue 21 item 9)."""
    from bench.cli.main import main

    world.world.bug("leak", "BISECT_LEAK", "[workload/cow]")
    world.matrix.write_text("series: [beta]\ncatalogue: patches/bugs\n")
    assert main(["nightly", str(world.matrix), "--accel", "tcg", "--results", str(world.results)]) == 2
    err = capsys.readouterr().err.strip()
    assert "leak/series.yaml:4: catch 'workload/cow': the bug's run never runs workload 'cow'" in err
    assert len(err.splitlines()) == 1 and not world.nights()


def test_coverage_column(world: Nights) -> None:
    """`coverage: true` in the matrix: alpha (two patches) shows its run's coverage headline
    (the fake guest saves no counters, so none of its lines is measured); beta has no patch,
    so no line to map: "-"."""
    world.matrix.write_text("series: [alpha, beta]\ncoverage: true\n")
    _, folder, night = world.night("alpha=baseline-tcg beta=baseline-tcg")
    cov = {e["id"]: e["coverage"] for e in night["entries"]}
    run = json.loads((folder / "alpha--default" / "summary.json").read_text())["info"]["coverage"]
    assert cov == {"alpha/default": run["text"], "beta/default": ""}
    assert run["not_measured"] > 0 and run["coverable"] == 0
    md = (folder / "summary.md").read_text()
    assert "| entry | verdict | failing | coverage | time | logs |" in md
    assert re.search(r"^\| `beta/default` \| PASS \| - \| - \|", md, re.M)
    assert f"| `alpha/default` | PASS | - | {run['text']} |" in md
    assert "<th>coverage</th>" in (folder / "index.html").read_text()
