"""The nightly's `repeat:` (rates per entry) and its list of known issues gone quiet.

The nightly test world of test_nightly.py (series alpha, beta, gamma; the fake vng replaying
a real recorded boot per series folder).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import World
from test_nightly import Nights

from bench.base.errors import UserError
from bench.cli.main import main as bench_main
from bench.drivers.nightly import matrix as nightly_matrix

KNOWN = """issues:
  - id: rxe-leak
    case: workload/rxe
    reason: the canary leaks pins
    link: https://example.org/rxe
    scope: {series: [alpha]}
  - id: never-seen
    title: '^BUG: never seen'
    reason: fixed long ago somewhere
    link: https://example.org/old
"""


@pytest.fixture(name="nights")
def nights_world(world: World) -> Nights:
    return Nights(world)


def entry(night: dict[str, Any], entry_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(e for e in night["entries"] if e["id"] == entry_id)
    return found


def test_repeat_gives_an_entry_its_rates(nights: Nights) -> None:
    nights.matrix.write_text("series: [alpha, beta]\nrepeat: 2\noverrides:\n  'beta/*': {repeat: 3}\n")
    rc, folder, night = nights.night("alpha=canary-tcg")
    alpha, beta = entry(night, "alpha/default"), entry(night, "beta/default")
    assert (alpha["repeat"], beta["repeat"]) == (2, 3)
    assert rc == 1 and alpha["verdict"] == "fail" and beta["verdict"] == "pass"
    assert sorted(d.name for d in (folder / "beta--default").iterdir() if d.is_dir()) == ["r1", "r2", "r3"]
    summary = json.loads((folder / "alpha--default" / "summary.json").read_text())
    rxe = next(r for r in summary["info"]["repeat"]["rates"] if r["key"] == "workload/rxe")
    assert (rxe["fails"], rxe["runs"], rxe["message"]) == (2, 2, "2:2: fails (in every run)")
    assert {f["key"] for f in alpha["failing"]} == {"workload/rxe", "workload/pin-balance"}
    # KCIDB links of a repeated entry point at its first run's files (r1/), which exist
    kcidb = json.loads((folder / "kcidb.json").read_text())
    build = next(b for b in kcidb["builds"] if b["misc"]["entry"] == "beta/default")
    assert build["log_url"].endswith("/beta--default/r1/build.log") and build["config_url"].endswith("/r1/.config")
    urls = [t.get("log_url", "") for t in kcidb["tests"] if t["build_id"] == build["id"]]
    assert urls and all("/beta--default/r1/" in u for u in urls)


@pytest.mark.parametrize("text, message", [
    ("series: [alpha]\nrepeat: 0\n", "matrix.yaml:2: repeat must be a whole number from 1 to 100"),
    ("series: [alpha]\noverrides: {'alpha/*': {repeat: true}}\n", "repeat must be a whole number"),
    ("series: [alpha]\nknown_stale_after: 99\n", "known_stale_after must be a whole number from 1 to 15"),
])
def test_repeat_and_stale_after_are_counts(nights: Nights, text: str, message: str) -> None:
    nights.matrix.write_text(text)
    with pytest.raises(UserError, match=message):
        nightly_matrix.load(nights.matrix, nights.home / "patches")


def test_repeat_with_the_base_needs_enough_runs(nights: Nights, capsys: pytest.CaptureFixture[str]) -> None:
    nights.matrix.write_text("series: [alpha]\nrepeat: 2\n")
    assert bench_main(["nightly", str(nights.matrix), "--baseline", "--results", str(nights.results)]) == 2
    assert "alpha/default: repeat 2 --baseline: with 2 runs a side" in capsys.readouterr().err
    assert not nights.nights()


def test_known_issues_that_match_nothing_for_n_nights_are_listed(nights: Nights) -> None:
    (nights.home / "known-issues.yaml").write_text(KNOWN)
    nights.matrix.write_text("series: [alpha, beta]\nknown_stale_after: 2\n")
    _, first, night = nights.night("alpha=canary-tcg")
    alpha = entry(night, "alpha/default")
    assert {k["id"]: k["matched"] for k in alpha["known_issues"]} == {"rxe-leak": ["workload/rxe"], "never-seen": []}
    assert alpha["cases"]["workload/rxe"] == "skip"  # known here
    assert night["stale_known"] == []  # one night is not two
    _, second, night = nights.night("alpha=canary-tcg")
    assert [k["id"] for k in night["stale_known"]] == ["never-seen"]
    assert night["stale_known"][0]["nights"] == 2 and night["stale_known"][0]["link"] == "https://example.org/old"
    md = (second / "summary.md").read_text()
    assert "## Known issues that matched nothing for 2 nights" in md and "`never-seen`" in md
    assert "never-seen" in (second / "index.html").read_text()
