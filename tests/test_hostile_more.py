"""A second adversarial pass (issue 21): files the guest plants in the results folder are neither
followed nor written through by the host's oracles and pages; odd bytes in a patch never crash
the run; a blank or wrong option value naming a commit, a tree or a folder is a one-line usage
error before any work (a blank one silently meant HEAD, the default tree, or the current folder)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HOME, World

from bench.base import proc
from bench.base.errors import UserError
from bench.cli import main as cli
from bench.run import leaks
from bench.run.pages import reproducer
from bench.run.result import Status
from bench.run.series import load_series

MEM = {"MemTotal": 2_000_000, "MemFree": 1_500_000, "HugePages_Total": 0, "HugePages_Free": 0,
       "AnonHugePages": 0, "ShmemHugePages": 0, "FileHugePages": 0}


def _readings(g: Path, name: str, end: dict[str, int]) -> None:
    (g / "cmdline").write_text("quiet\n")
    (g / "page_owner.state").write_text("missing\n")
    (g / f"{name}.pids").write_text("100\n200\n")
    for which, mem in (("start", MEM), ("end", {**MEM, **end})):
        (g / f"{name}.meminfo.{which}").write_text("".join(f"{k}: {v} kB\n" for k, v in mem.items()))


def test_the_pages_oracle_never_appends_through_a_link_the_guest_planted(tmp_path: Path) -> None:
    """A failing pages case appends its evidence to the workload's log: the old code opened
    guest/NAME.log with open("a"), so a log the guest made a symlink to a host file got the
    host's text appended to that host file (a write outside the results folder)."""
    g = tmp_path / "guest"
    g.mkdir()
    _readings(g, "w", {"HugePages_Total": 1})
    host = tmp_path / "host-file.txt"
    host.write_text("host data\n")
    (g / "w.log").symlink_to(host)
    (case,) = leaks.pages_cases(["w"], g, tmp_path / "no.config")
    assert case.status is Status.FAIL
    assert host.read_text() == "host data\n"
    (g / "w.log").unlink()
    (g / "w.log").write_text("own log\n")
    leaks.pages_cases(["w"], g, tmp_path / "no.config")
    assert "pinbench pages oracle (host): FAIL" in (g / "w.log").read_text()  # a real log still gets it


def test_the_pages_oracle_reads_no_reading_through_a_link(tmp_path: Path) -> None:
    """The old code read guest/NAME.meminfo.end (and page_owner, pids...) with read_text(): through
    a symlink to any host file, or forever from a FIFO or /dev/zero. Now such a reading is none."""
    g = tmp_path / "guest"
    g.mkdir()
    _readings(g, "w", {})
    real = tmp_path / "elsewhere.end"
    (g / "w.meminfo.end").rename(real)
    (g / "w.meminfo.end").symlink_to(real)
    assert leaks.pages_cases(["w"], g, tmp_path / "no.config") == []  # no end reading: no case
    (g / "w.meminfo.end").unlink()
    os.mkfifo(g / "w.meminfo.end")  # opened without blocking and passed over, never waited on
    assert leaks.pages_cases(["w"], g, tmp_path / "no.config") == []


def test_a_page_owner_dump_over_the_snapshot_limit_is_still_read_whole(tmp_path: Path) -> None:
    """page_owner records (up to 5000 of ~700 bytes) are read up to their own limit."""
    from bench.base.limits import LIMITS
    assert LIMITS.guest_page_owner >= 5000 * 700 * 2 and LIMITS.guest_page_owner > LIMITS.guest_file


@pytest.mark.parametrize("plant", ["link", "latin1"])
def test_the_reproducer_reads_the_guest_folders_plan_as_a_guest_file(tmp_path: Path, plant: str) -> None:
    """guest/plan.tsv lives in the folder the guest writes: a link there put a host file into
    reproducer.sh; bytes that are not UTF-8 crashed the pages (UnicodeDecodeError is no OSError)."""
    g = tmp_path / "guest"
    g.mkdir()
    if plant == "link":
        secret = tmp_path / "secret.tsv"
        secret.write_text("HOSTSECRET\t1\tx\t\n")
        (g / "plan.tsv").symlink_to(secret)
        assert reproducer._plan_rows(tmp_path, HOME / "guests") == ()
    else:
        (g / "plan.tsv").write_bytes(b"gup-test\t60\t/x/gup-test.sh\tA=\xe9\n")
        (row,) = reproducer._plan_rows(tmp_path, HOME / "guests")
        assert row[0] == "gup-test"


def test_query_output_that_is_not_utf8_comes_back_escaped() -> None:
    """proc.output decoded strictly: git blame of a Latin-1 line crashed the coverage stage."""
    assert proc.output(["printf", "caf\\351"]) == "caf\udce9"


LATIN1_PATCH = (b"From: A <a@example.org>\nSubject: [PATCH] mm: caf\xe9 fix\n\nWhy \xe9.\n---\n"
                b"diff --git a/mm/rmap.c b/mm/rmap.c\n--- a/mm/rmap.c\n+++ b/mm/rmap.c\n@@ -1 +1,2 @@\n"
                b" /* rmap */\n+int x = 1; /* \xe9 */\n")


def test_a_patch_with_latin1_bytes_runs_and_passes(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """A mail without a charset whose body adds a Latin-1 byte applied, built and booted, then
    ended in infra/crash (UnicodeDecodeError in the coverage stage's git blame): exit 2."""
    world.replay("baseline-tcg")
    d = world.home / "patches" / "latin1"
    d.mkdir()
    (d / "series.yaml").write_text("workloads: [gup-test]\n")
    (d / "0001-l.patch").write_bytes(LATIN1_PATCH)
    rc = cli.main(["run", "latin1", "--accel", "tcg", "--results", str(world.results)])
    (run_dir,) = world.results.iterdir()
    cases = json.loads((run_dir / "summary.json").read_text())["cases"]
    assert rc == 0 and not [c for c in cases if c["group"] == "infra"], cases


def _bench(world: World, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *argv], cwd=world.root, env={**os.environ, "PYTHONPATH": str(HOME)},
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("argv, says", [
    (["run", "two", "--results", ""], "argument --results: '': empty path"),
    (["run", "two", "--base", ""], "argument --base: '': empty commit"),
    (["run", "two", "--tree", " "], "argument --tree: ' ': empty tree"),
    (["run", "two", "--suppress", ""], "argument --suppress: '': empty path"),
    (["nightly", "--out", ""], "argument --out: '': empty path"),
    (["merge", "", "--out", "x"], "argument DIR: '': empty path"),
])
def test_a_blank_option_value_is_a_usage_error(world: World, argv: list[str], says: str) -> None:
    """`--results "$OUT"` with the variable unset wrote the run into the job's current folder;
    `--base "$BASE"` tested HEAD, `--tree "$TREE"` the default tree: each said PASS of something
    else than asked. Now a one-line usage error, exit 2, nothing written."""
    world.series("two", "workloads: [gup-test]\n")
    world.replay("baseline-tcg")
    cp = _bench(world, *argv)
    assert cp.returncode == 2 and says in cp.stderr, cp.stderr[-2000:]
    assert not [p.name for p in world.root.iterdir() if p.name.startswith("20")]  # no run folder in the cwd


def test_a_base_that_is_no_commit_is_one_line_before_any_work(world: World) -> None:
    """`--base nosuch` made a run folder with an infra/UserError case and said nothing on stderr."""
    world.series("two", "workloads: [gup-test]\n")
    cp = _bench(world, "run", "two", "--base", "nosuch", "--results", str(world.results))
    assert cp.returncode == 2 and "base 'nosuch': no such commit" in cp.stderr, cp.stderr
    assert len(cp.stderr.strip().splitlines()) == 1
    assert not world.results.exists() or not list(world.results.iterdir())


@pytest.mark.parametrize("base", ["''", "'  '", "'-x'"])
def test_a_blank_base_in_series_yaml_is_named(tmp_path: Path, base: str) -> None:
    d = tmp_path / "s"
    d.mkdir()
    (d / "series.yaml").write_text(f"description: x\nbase: {base}\n")
    with pytest.raises(UserError, match=r"series.yaml:2: base .* is not a commit"):
        load_series(str(d), tmp_path)


def test_the_latin1_fixture_is_what_the_test_says() -> None:
    with pytest.raises(UnicodeDecodeError):
        LATIN1_PATCH.decode()
