"""Hostile input, third pass (issue 21, a fresh red team): each test failed on the code before
its fix (main at 4b881bb). A guest rc file with NaN times, garbage where its exit should be,
a relative $BENCH_CACHE, matrix values of the wrong type or blank, `bench scan` of a device or
of one endless line, a --results that is a file."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import resource
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import BOOTS, World, ended

from bench.base import console_lines, formats
from bench.base.errors import UserError
from bench.base.limits import LIMITS
from bench.cli import main as cli
from bench.drivers import doctor
from bench.drivers.nightly import matrix as nightly_matrix
from bench.report import issues_file
from bench.run import leaks, oracles, page_owner, plan as plan_mod, series


def _boot(world: World, rc_file: str | None, marker_rc: int = 0) -> Path:
    """The baseline-tcg boot with gup-test's rc file holding rc_file (None: no file) and its
    console end marker saying exit marker_rc."""
    dest = world.root / "boot"
    shutil.copytree(BOOTS / "baseline-tcg", dest)
    rc = dest / "guest" / "gup-test.rc"
    rc.unlink()
    if rc_file is not None:
        rc.write_text(rc_file)
    console = dest / "console.log"
    console.write_text("\n".join(ended(console.read_text().splitlines(), "gup-test", marker_rc)) + "\n")
    return dest


def _run(world: World, boot: Path) -> tuple[int, Path, dict[str, dict[str, object]]]:
    world.series("one", "description: one workload\nworkloads: [gup-test]\n")
    world.replay(boot)
    rc = cli.main(["run", "one", "--accel", "tcg", "--no-coverage", "--results", str(world.results)])
    (run_dir,) = world.results.iterdir()
    summary = formats.load_json(run_dir / "summary.json")  # strictly, as a night reads it back
    assert isinstance(summary, dict)
    return rc, run_dir, {f"{c['group']}/{c['name']}": c for c in summary["cases"]}


@pytest.mark.parametrize("times", ["0 nan nan", "0 0 1e999", "0 -1e308 1e308", "0 5 1"])
def test_guest_rc_times_that_are_not_finite_never_spoil_summary_json(world: World, times: str) -> None:
    """Before: summary.json held NaN/Infinity (not JSON: the night then left the run out as
    unreadable) and junit.xml time="nan"; a time running backwards gave a negative duration."""
    rc, run_dir, cases = _run(world, _boot(world, times))
    assert rc == 0 and cases["workload/gup-test"]["status"] == "pass"
    assert cases["workload/gup-test"]["secs"] == 0.0
    times_xml = [float(c.get("time", "0")) for c in ET.parse(run_dir / "junit.xml").iter("testcase")]
    assert all(0 <= t < 1e9 for t in times_xml), times_xml


@pytest.mark.parametrize("content", ["0x0", "pass", "\x00\x01"])
def test_a_garbage_rc_file_says_so_and_the_console_decides_a_failure(world: World, content: str) -> None:
    """Before: "no result file: ... (disk full?)", an ERROR (exit 2, host trouble) even when the
    console's end marker said the workload failed."""
    rc, _, cases = _run(world, _boot(world, content, marker_rc=1))
    case = cases["workload/gup-test"]
    assert rc == 1 and case["status"] == "fail", case
    assert "exit 1" in str(case["message"]) and "not an exit code" in str(case["message"])


def test_a_garbage_rc_file_is_never_a_pass(world: World) -> None:
    rc, _, cases = _run(world, _boot(world, "ok", marker_rc=0))
    case = cases["workload/gup-test"]
    assert rc == 2 and case["status"] == "error" and "'ok', not an exit code" in str(case["message"]), case


def test_a_missing_rc_file_with_a_failing_end_marker_fails(world: World) -> None:
    rc, _, cases = _run(world, _boot(world, None, marker_rc=3))
    case = cases["workload/gup-test"]
    assert rc == 1 and case["status"] == "fail" and "no result file" in str(case["message"]), case


def test_an_empty_or_relative_cache_variable_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BENCH_CACHE", "")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative")  # the XDG spec: a relative path is ignored
    assert plan_mod.default_cache() == tmp_path / ".cache" / "pinbench"
    monkeypatch.setenv("BENCH_CACHE", "c")
    assert plan_mod.default_cache() == tmp_path / "c"


def test_a_run_with_a_relative_bench_cache_passes(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the slot's worktree was named relative to the cwd, `git -C work/slot-1/src` failed:
    an infra ERROR, exit 2, and a work/ folder left in the cwd."""
    monkeypatch.chdir(world.root)
    monkeypatch.setenv("BENCH_CACHE", "cache")
    rc, _, cases = _run(world, BOOTS / "baseline-tcg")
    assert rc == 0 and cases["workload/gup-test"]["status"] == "pass"
    assert not (world.root / "work").exists()


def _matrix(tmp_path: Path, text: str) -> nightly_matrix.Matrix:
    path = tmp_path / "matrix.yaml"
    path.write_text(text)
    return nightly_matrix.load(path, Path(__file__).resolve().parent.parent / "patches")


@pytest.mark.parametrize("skip", ["'false'", "'no'", "1", "[]", "x"])
def test_a_matrix_skip_that_is_not_true_or_false_is_refused(tmp_path: Path, skip: str) -> None:
    """Before: `skip: 'false'` skipped the entry (any truthy value), and a night of 0 entries exited 0."""
    with pytest.raises(UserError, match=r"matrix.yaml:2: overrides\['baseline/\*'\]: skip must be true or false"):
        _matrix(tmp_path, f"series: [baseline]\noverrides:\n  'baseline/*': {{skip: {skip}}}\n")


def test_a_matrix_that_skips_every_entry_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "series: [baseline]\noverrides:\n  'baseline/*': {skip: true}\n"
    with pytest.raises(UserError, match=r"matrix.yaml:2: every entry is skipped"):
        _matrix(tmp_path, text)
    assert _matrix(tmp_path, text.replace("true", "false")).ids == ("baseline/default",)


@pytest.mark.parametrize("key, value", [("base", "''"), ("base", "' '"), ("base", "-x"), ("tree", "' '"),
                                        ("tree_name", "''"), ("tree_url", "' '")])
def test_a_blank_matrix_tree_or_base_names_the_matrix_line(tmp_path: Path, key: str, value: str) -> None:
    """Before: `base: ''` was reported as "--base '': empty", a flag nobody gave; `tree: ' '`
    became a folder named ' ' beside the matrix."""
    with pytest.raises(UserError, match=rf"matrix.yaml:2: {key} "):
        _matrix(tmp_path, f"series: [baseline]\n{key}: {value}\n")


def test_a_matrix_series_that_is_not_there_names_the_matrix_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"matrix.yaml:2: series 'nosuch' not found"):
        _matrix(tmp_path, "configs: {default: []}\nseries: [baseline, nosuch]\n")


def test_scan_refuses_a_device_at_once() -> None:
    """Before: `bench scan /dev/zero` read one endless line until the OOM killer (exit 137). In a
    child with its memory bounded, so that a regression fails this test, not the machine."""
    def bounded() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
    start = time.monotonic()
    cp = subprocess.run([sys.executable, "-m", "bench", "scan", "/dev/zero"], capture_output=True, text=True,
                        timeout=60, preexec_fn=bounded, cwd=Path(__file__).resolve().parent.parent)
    assert cp.returncode == 2 and cp.stderr.count("\n") == 1, (cp.returncode, cp.stderr[-500:])
    assert "/dev/zero: not a file or a pipe" in cp.stderr and time.monotonic() - start < 30


def test_scan_reads_a_log_within_the_console_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    warning = (Path(__file__).parent / "conftest.py").read_text().split('WARNING = """', 1)[1].split('"""')[0]
    log = tmp_path / "console.log"
    log.write_text("x" * 200_000 + "\n" + warning)  # one line far over console_line, then a report
    assert cli.main(["scan", "--json", str(log)]) == 1
    assert json.loads(capsys.readouterr().out)["title"] == "WARNING in unpin_user_pages"
    lines = console_lines.read_log(io.StringIO("y" * 100 + "\nend\n"), "log", limit=10)
    assert lines[0].startswith("y" * 10 + " [pinbench: line cut at 10 characters, 90 more dropped]") and lines[1] == "end\n"
    monkeypatch.setattr(console_lines, "LIMITS", dataclasses.replace(LIMITS, console_chars=1000))
    assert cli.main(["scan", str(log)]) == 2
    assert "over the limit of a console (console_chars)" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["file", "file/sub"])
def test_doctor_names_a_results_folder_that_is_a_file(tmp_path: Path, where: str) -> None:
    """Before: "ok disk: FILE: 73547 MB free", exit 0; every run then failed at its start."""
    (tmp_path / "file").write_text("x")
    checks = doctor.check_disk(tmp_path / "cache", tmp_path / where)
    bad = [c for c in checks if not c.ok]
    assert len(bad) == 1 and bad[0].fatal and f"{tmp_path / 'file'} is not a folder" in bad[0].detail


@pytest.mark.parametrize("value", ["\u00b2", "\u0663", "9" * 40])
def test_guest_counters_that_are_not_plain_numbers_are_left_out(world: World, value: str) -> None:
    """Before: a vmstat snapshot holding '²' (str.isdigit() says yes, int() refuses) ended the
    run in "writing the results: ValueError", exit 2, without its pages."""
    boot = _boot(world, (BOOTS / "baseline-tcg" / "guest" / "gup-test.rc").read_text())
    start = boot / "guest" / "vmstat.start"
    start.write_text(start.read_text().replace("nr_foll_pin_acquired 859", f"nr_foll_pin_acquired {value}"))
    rc, run_dir, cases = _run(world, boot)
    assert rc == 0 and (run_dir / "index.html").is_file(), cases
    assert oracles.vmstat(f"a {value}\nb 7\nc -3\n") == {"b": 7, "c": -3}
    assert leaks.meminfo(f"MemFree: {value} kB\nShmem: 12 kB\n") == {"Shmem": 12}


@pytest.mark.parametrize("again", ["./01-gup-comment.patch", "mm/../01-gup-comment.patch", "link.patch"])
def test_a_quilt_patch_listed_twice_under_another_spelling_is_refused(tmp_path: Path, again: str) -> None:
    """Before: only the same spelling was caught; ./a.patch after a.patch applied it twice, and the
    second "did not apply": the series FAILed (exit 1) for a mistake in its series file."""
    d = tmp_path / "s"
    shutil.copytree(Path(__file__).parent / "data" / "series" / "quilt", d)
    (d / "mm").mkdir()
    (d / "link.patch").symlink_to("01-gup-comment.patch")
    (d / "series").write_text(f"01-gup-comment.patch\n{again}\n02-declare.patch\n")
    with pytest.raises(UserError, match=rf"series:2: patch {re.escape(again)} is listed twice \(line 1\)"):
        series.load_series(str(d), tmp_path)


@pytest.mark.parametrize("drop, says", [("0002", "no 0002-\\*.patch between 0001 and 0003"), (None, "two 0002-\\*.patch files")])
def test_a_format_patch_folder_with_a_gap_or_a_repeat_is_refused(tmp_path: Path, drop: str | None, says: str) -> None:
    """Before: with subjects without [n/N] (format-patch -N), 0001 and 0003 ran as the whole
    series: the missing patch was never tested."""
    d = tmp_path / "fp"
    shutil.copytree(Path(__file__).parent / "data" / "series" / "fp", d)
    for f in d.glob("*.patch"):
        f.write_text(re.sub(r"\[PATCH \d/3\]", "[PATCH]", f.read_text()))
    if drop:
        next(d.glob(f"{drop}-*.patch")).unlink()
    else:
        shutil.copy(next(d.glob("0002-*.patch")), d / "0002-again.patch")
    with pytest.raises(UserError, match=says):
        series.load_series(str(d), tmp_path)
    if drop:  # numbering may start anywhere (--start-number)
        next(d.glob("0001-*.patch")).rename(d / "0002-mm-gup-add-pin_user_pages_fast.patch")
        assert len(series.load_series(str(d), tmp_path).patches) == 2


def test_an_end_marker_with_thousands_of_digits_is_a_disagreement_not_a_crash(world: World) -> None:
    """Before: int() of the console's `end rc=<5000 digits>` raised: infra/crash, exit 2, and
    the run had no boot or workload case at all."""
    boot = _boot(world, (BOOTS / "baseline-tcg" / "guest" / "gup-test.rc").read_text())
    console = boot / "console.log"
    console.write_text(console.read_text().replace("workload gup-test end rc=0", "workload gup-test end rc=" + "9" * 5000))
    rc, _, cases = _run(world, boot)
    case = cases["workload/gup-test"]
    assert rc == 1 and case["status"] == "fail" and "one was overwritten" in str(case["message"]), case
    assert "infra/crash" not in cases


def test_page_owner_numbers_the_guest_wrote_never_crash_the_parser() -> None:
    """Before: "PFN 0123" (int(x, 0) refuses a leading zero) or a 5000-digit pid raised ValueError."""
    record = ("Page allocated via order 0, mask 0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), pid 123, tgid 123"
              " (python3), ts 1 ns\nPFN 0123 type Movable Block 1 type Movable Flags 0x0()\n foo+0x1/0x2\n")
    assert page_owner.parse(record.splitlines()).records[0].pfn == 123
    huge = page_owner.parse(record.replace("pid 123", "pid " + "9" * 5000).splitlines())
    assert huge.records == () and huge.bad_lines == 3


@pytest.mark.parametrize("regex", ["..", "[^x]", ".{2}", "[a-z ]", "[^0]+"])
def test_a_known_issue_title_that_hides_every_real_report_is_refused(tmp_path: Path, regex: str) -> None:
    """Before: the sample of unrelated titles held "x" and "0"; a regex missing only those
    (`..`, `[^x]`) passed the check and, as a known issue, hid every real kernel report."""
    known = tmp_path / "known-issues.yaml"
    known.write_text(f"issues:\n  - id: everything\n    title: '{regex}'\n    reason: r\n    link: https://x\n")
    with pytest.raises(UserError, match="matches any report"):
        issues_file.load(known)


@pytest.mark.parametrize("case", ["workload/??*", "workload/[!x]*", "boot/??*"])
def test_a_known_issue_case_glob_that_hides_every_failure_of_its_kind_is_refused(tmp_path: Path, case: str) -> None:
    """Before: the sample names held "x" and "0"; a glob missing only those hid every failure."""
    known = tmp_path / "known-issues.yaml"
    known.write_text(f"issues:\n  - id: everything\n    case: '{case}'\n    reason: r\n    link: https://x\n")
    with pytest.raises(UserError, match="matches every failure of its kind"):
        issues_file.load(known)


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_a_signal_while_the_bench_starts_is_exit_2(sig: str) -> None:
    """Before: a SIGTERM during the second or so the imports take (a CI job cancelled at once)
    killed the bench with 143 (SIGHUP: 129), codes the promises do not have. bench.cli is
    imported first (bench/__main__.py and the console script both import bench.cli.main)."""
    code = ("import os, signal, time\nimport bench.cli\nos.kill(os.getpid(), signal." + sig + ")\n"
            "time.sleep(10)\nraise SystemExit(0)\n")
    cp = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                        cwd=Path(__file__).resolve().parent.parent)
    assert cp.returncode == 2 and cp.stderr == f"bench: interrupted by {sig} while starting\n", (cp.returncode, cp.stderr)


def test_a_suppress_file_regex_that_hides_every_report_names_its_line(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Before: "FILE: suppress: title regex '..' ...", without the line of the file it is on."""
    sup = tmp_path / "suppress.txt"
    sup.write_text("WARNING in foo\n# a comment\n.*\n")
    assert cli.main(["scan", "--suppress", str(sup), str(tmp_path / "none.log")]) == 2
    assert f"{sup}:3: suppress: title regex '.*' matches any report" in capsys.readouterr().err


def test_a_matrix_workload_that_is_not_there_names_the_matrix_and_entry(world: World,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """Before: only "guests/nosuch.yaml: no such workload": the matrix that named it was not said."""
    world.series("two", "description: two\nworkloads: [gup-test]\n")
    matrix = world.root / "matrix.yaml"
    matrix.write_text("configs: {default: []}\nseries: [two]\nworkloads: [nosuch]\n")
    assert cli.main(["nightly", str(matrix), "--results", str(world.results)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{matrix}: entry two/default: " in err and "nosuch.yaml: no such workload" in err
