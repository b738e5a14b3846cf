"""Hostile input, sixth pass (a fresh-eyes review, branch hostile): each test failed on the code
before its fix."""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import HOME, WARNING

from bench.base import casekey, formats
from bench.base.errors import UserError
from bench.base.limits import LIMITS
from bench.cli import main as cli_main
from bench.drivers.nightly import matrix as nightly_matrix, night_file
from bench.report import issues_file
from bench.report.scanner import scan
from bench.run import cases, catch, guests, junit, kconfig, mbox, plan as plan_mod, series, subcases, tree
from bench.run.result import Case, RunResult, Status
from bench.run.runfacts import RunFacts

# -- a reader that leaves (`bench scan LOG | head`) never turns a failure into a pass --------


def test_a_reader_that_leaves_never_turns_a_new_report_into_exit_0(tmp_path: Path) -> None:
    """Before: stdout a pipe nobody reads (`bench scan console.log | head -1` once head has its
    line, with pipefail) and the BrokenPipeError of the first print was exit 0, a PASS for a log
    with a new kernel report (and for `bench bisect-step`, a "good" commit)."""
    log = tmp_path / "console.log"
    log.write_text(WARNING * 300)  # more than a pipe's buffer of output
    r, w = os.pipe()
    os.close(r)
    try:
        cp = subprocess.run([sys.executable, "-m", "bench", "scan", str(log)], stdout=w, stderr=subprocess.PIPE,
                            text=True, timeout=60, cwd=HOME)
    finally:
        os.close(w)
    assert cp.returncode == 1, (cp.returncode, cp.stderr[-500:])
    assert cp.stderr == ""


class _Gone(io.StringIO):
    """A stdout whose reader left: every write is EPIPE."""

    def write(self, s: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_command_goes_on_to_its_own_exit_code_when_stdout_is_gone(monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The command is not cut short by its printing: it ends as it would have (a run writes its
    summary.json), with its own code; bisect-step's abort stays 128, never git's "good"."""
    done = []

    def handler(_args: argparse.Namespace) -> int:
        print("FAIL workload/smoke")
        done.append(True)
        return 1

    monkeypatch.setattr(sys, "stdout", _Gone())
    assert cli_main.dispatch(argparse.Namespace(func=handler)) == 1
    assert done == [True]
    assert cli_main.dispatch(argparse.Namespace(func=handler), abort=cli_main.BISECT_ABORT) == 1


def test_an_error_said_to_a_stderr_that_is_gone_keeps_its_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """`bench bisect-step ... 2>&1 | head -1`: the BrokenPipeError of the error line escaped
    dispatch, a traceback's exit 1, which git bisect run reads as "bad"."""
    def handler(_args: argparse.Namespace) -> int:
        print("progress")
        raise UserError("series.yaml:1: bad")

    monkeypatch.setattr(sys, "stdout", _Gone())
    monkeypatch.setattr(sys, "stderr", _Gone())
    assert cli_main.dispatch(argparse.Namespace(func=handler)) == 2
    assert cli_main.dispatch(argparse.Namespace(func=handler), abort=cli_main.BISECT_ABORT) == cli_main.BISECT_ABORT
    assert cli_main.main(["bisect-step", "--no-such-option"]) == cli_main.BISECT_ABORT  # argparse's usage
    assert cli_main.main(["run", "--no-such-option"]) == 2


# -- the end markers of a workload: a later one, or a later start, never hides the runner's --

def _judged(tmp_path: Path, rc_file: str, console: list[str]) -> Case:
    (tmp_path / "w.rc").write_text(rc_file)
    (tmp_path / "w.log").write_text("")
    w = guests.Workload("w", "", tmp_path / "w.sh", 60, None, (), ())
    boot = cases.BootFacts(0, False, 1.0, tmp_path / "console.log")
    return cases.workload_case(w, tmp_path, cases.spans(console).get("w"), boot)


RUNNER = ["[    1.0] pinbench: guest ready: 6.12", "[    2.0] pinbench: workload w start",
          "[    3.0] pinbench: workload w end rc=1"]


@pytest.mark.parametrize("after", [
    ["[    4.0] pinbench: workload w end rc=0"],  # a process it left behind, after the runner's marker
    ["[    4.0] pinbench: workload w start"],  # the same, erasing the runner's end marker
    ["[    4.0] pinbench: workload w start", "[    5.0] pinbench: workload w end rc=0"],
])
def test_a_leftover_that_rewrites_the_rc_file_and_the_markers_never_passes(tmp_path: Path, after: list[str]) -> None:
    """Before: the runner wrote `end rc=1` and `1` to w.rc; a process the workload left behind
    rewrote w.rc to `0` and wrote a later marker to /dev/kmsg (an end rc=0, or a start, which
    dropped the runner's end marker): the two readings agreed, or there was no marker to compare,
    and the workload PASSed. Every end marker after its first start must agree."""
    case = _judged(tmp_path, "0 1 2\n", [*RUNNER, *after, "[    9.0] pinbench: all workloads done"])
    assert case.status is Status.FAIL, case


def test_end_markers_that_agree_still_pass(tmp_path: Path) -> None:
    ok = [ln.replace("rc=1", "rc=0") for ln in RUNNER]
    assert _judged(tmp_path, "0 1 2\n", ok).status is Status.PASS
    assert _judged(tmp_path, "0 1 2\n", [*ok, ok[-1]]).status is Status.PASS
    assert _judged(tmp_path, "1 1 2\n", RUNNER).status is Status.FAIL


# -- text the guest wrote that XML cannot hold never costs the run its junit.xml -------------

def test_guest_text_xml_cannot_hold_still_makes_a_junit_xml(tmp_path: Path) -> None:
    """Before: a workload whose log held U+FFFE or U+FFFF (valid UTF-8: EF BF BE, in a CASE
    line's reason or anywhere in its output; a process name of the same bytes in a kernel
    report) made junit_xml raise ExpatError: no junit.xml, "writing the results", exit 2 for a
    run whose workload failed. The same for a lone surrogate (a name read surrogate-escaped)."""
    guest = tmp_path / "guest"
    guest.mkdir()
    (guest / "w.log").write_bytes(b"CASE cell FAIL: pinned page reads \xef\xbf\xbe\xef\xbf\xbf\nout \xef\xbf\xbe\n")
    (guest / "w.rc").write_text("1 1 2\n")
    w = guests.Workload("w", "", tmp_path / "w.sh", 60, None, (), ())
    console = ["[    2.0] pinbench: workload w start", "[    3.0] pinbench: workload w end rc=1"]
    found = cases.workload_cases([w], guest, console, cases.BootFacts(0, False, 1.0, tmp_path / "console.log"))
    found.append(Case("report", "WARNING in f\ufffe\udcff", Status.FAIL, 0.0, "new WARNING", "Comm: \uffff\ud800"))
    result = RunResult("20261207-000000-x", "x\ufffe", tmp_path, tuple(found), 1.0, RunFacts())
    assert result.exit_code == 1
    junit.write(result, tmp_path / "junit.xml")
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "3"
    names = [c.get("name") for c in suite.iter("testcase")]
    assert names == ["w", "w/cell", "WARNING in f\ufffd\ufffd"]


# -- an mbox: a patch git am applies is never left out -----------------------------------

_DIFF = "diff --git a/README b/README\n--- a/README\n+++ b/README\n@@ -1 +1 @@\n-a\n+b\n"


def _mail(subject: str, body: str, headers: str = "") -> str:
    return (mbox.MBOX_FROM + f"From: A <a@example.org>\nSubject: {subject}\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
            + headers + "\n" + body)


def test_a_patch_sent_as_an_attachment_is_a_patch(tmp_path: Path) -> None:
    """Before: a mail whose diff is a base64 MIME attachment had no diff for the bench, so it
    was left out of an unnumbered mbox without a word, while git am applies it: the run passed
    without it (and a .patch file of it was "no diff found")."""
    import base64
    attached = _mail("[PATCH] second, attached", "--XX\nContent-Type: text/plain\n\nsee attached\n--XX\n"
                     "Content-Type: text/x-patch; name=\"0001.patch\"\nContent-Transfer-Encoding: base64\n"
                     "Content-Disposition: attachment; filename=\"0001.patch\"\n\n"
                     + base64.encodebytes(_DIFF.encode()).decode() + "--XX--\n",
                     "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"XX\"\n")
    (tmp_path / "two.mbox").write_text(_mail("[PATCH] first", "one\n---\n" + _DIFF) + attached)
    s = series.load_series(str(tmp_path / "two.mbox"), tmp_path)
    assert [p.subject for p in s.patches] == ["first", "second, attached"]
    (tmp_path / "one.patch").write_text(attached)
    assert [p.subject for p in series.load_series(str(tmp_path / "one.patch"), tmp_path).patches] == ["second, attached"]


# -- a console line far longer than any printk record never stalls the scanner -------------

def test_long_console_lines_are_scanned_in_time_linear_in_the_console() -> None:
    """Before: a 60K-character line (a guest's root process may write the console; the live
    reader keeps 64K of a line) took 10 s to title (syzkaller's title replacements and the
    oops formats are quadratic in a line's length): a console of such lines, hours. The
    patterns now see LIMITS.report_line characters of a line, the cut said in it."""
    lines = []
    for head, fill in (("general protection fault", "a"), ("Oops: ", "WARNING: "),
                       ("------------[ cut here ]------------", "WARNING: ")):
        lines += ["[   10.000001] " + head + fill * (60_000 // len(fill))] * 2
    start = time.monotonic()
    found = scan(lines)
    assert time.monotonic() - start < 8, time.monotonic() - start
    assert found and all(len(r.title) <= 120 for r in found)
    assert any("line cut at 2048 characters" in "\n".join(r.raw) for r in found)
    assert LIMITS.report_line >= 1024 + 64  # printk's longest record and its prefixes are never cut


# -- a title regex that backtracks without end is refused where it is written --------------

_REPORT = ("[   10.000000] ------------[ cut here ]------------\n"
           "[   10.000001] WARNING: CPU: 1 PID: 123 at mm/gup.c:100 folio_try_grab_refs_for_the_long_term_pin_path+0x10/0x20\n"
           "[   10.000002] Call Trace:\n[   10.000003]  <TASK>\n"
           "[   10.000004]  folio_try_grab_refs_for_the_long_term_pin_path+0x10/0x20\n"
           "[   10.000005]  </TASK>\n[   10.000006] ---[ end trace 0000000000000000 ]---\n")


@pytest.mark.parametrize("regex", [r"^WARNING in (\w+_?)+lock$", r"(a+)+$", r"(?:x*y?)*z", r"((ab)*c?)+$"])
def test_a_suppress_regex_that_nests_unbounded_repeats_is_refused_not_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], regex: str) -> None:
    """Before: `bench scan --suppress` with `^WARNING in (\\w+_?)+lock$` (a known issue as people
    write them) over a report titled `WARNING in folio_try_grab_refs_for_the_long_term_pin_path`
    ran until killed (the regex tries 2^45 ways to split the name): the scan, a run's verdict,
    a night hung. Nested unbounded repeats are refused with the file and line."""
    sup = tmp_path / "suppress.txt"
    sup.write_text("# known\n" + regex + "\n")
    log = tmp_path / "console.log"
    log.write_text(_REPORT)
    start = time.monotonic()
    assert cli_main.main(["scan", "--suppress", str(sup), str(log)]) == 2
    err = capsys.readouterr().err
    assert f"{sup}:2: suppress: title regex" in err and "nests" in err and err.count("\n") == 1, err
    assert time.monotonic() - start < 5


def test_known_issue_and_catch_regexes_follow_the_same_rule(tmp_path: Path) -> None:
    known = tmp_path / "known-issues.yaml"
    known.write_text("format: 1\nissues:\n  - id: a\n    title: 'WARNING in (\\w+_?)+lock'\n")
    with pytest.raises(UserError, match=r"known-issues.yaml:3: title regex .*nests"):
        issues_file.load(known)
    with pytest.raises(UserError, match="nests"):
        casekey.parse(r"report/(a+)+$", "series.yaml:3", "catch")
    for fine in (r"WARNING in (foo|bar)_lock", r"(ab)+c", r"x{2,3}(\d+)?", r"^BUG: .* in \w+$", r"(a\+)+"):
        casekey.parse("report/" + fine)
        issues_file.load(_write(tmp_path / "ok.txt", fine + "\n"))


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# -- a results file read back that is a FIFO or a device is refused, not waited on ---------

@pytest.mark.parametrize("kind", ["fifo", "zero"])
def test_a_results_json_that_is_a_fifo_or_a_device_is_refused_at_once(tmp_path: Path, kind: str,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Before: formats.load_json and night.json's reader read the whole path: a shard's
    summary.json made a FIFO hung `bench merge`, a night.json beside the night made a FIFO hung
    the nightly's last step, and a link to /dev/zero read until the OOM killer."""
    night = tmp_path / "nightly" / "old"
    night.mkdir(parents=True)
    for name in ("summary.json", "night.json"):
        if kind == "fifo":
            os.mkfifo(night / name)
        else:
            (night / name).symlink_to("/dev/zero")
    start = time.monotonic()
    with pytest.raises(formats.FormatProblem, match="not a regular file"):
        formats.load_json(night / "summary.json")
    assert night_file.load_night(night) is None
    assert "not a regular file" in capsys.readouterr().err
    assert time.monotonic() - start < 5


def test_a_results_json_over_its_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    with path.open("wb") as f:
        f.truncate(LIMITS.json_bytes + 1)  # sparse: no disk used
    with pytest.raises(formats.FormatProblem, match=f"over the limit of {LIMITS.json_bytes} bytes"):
        formats.load_json(path)


# -- a path option that is a symlink loop is a usage error, not an internal error -----------

@pytest.mark.parametrize("argv", [
    ["run", "canary", "--results", "{loop}"], ["run", "canary", "--suppress", "{loop}"],
    ["scan", "--suppress", "{loop}", "{log}"], ["merge", "{loop}", "--out", "{out}"], ["doctor", "--results", "{loop}"],
])
def test_a_path_option_that_is_a_symlink_loop_is_a_usage_error(tmp_path: Path, argv: list[str],
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Before: `--results DIR` with DIR a symlink loop: "internal error: RuntimeError: Symlink loop
    from ..." (Path.resolve raises RuntimeError, not OSError), a crash log, for bad input."""
    monkeypatch.setenv("BENCH_HOME", str(HOME))
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    (tmp_path / "console.log").write_text("")
    args = [a.format(loop=loop, log=tmp_path / "console.log", out=tmp_path / "out") for a in argv]
    assert cli_main.main(args) == 2
    err = capsys.readouterr().err
    assert "internal error" not in err and "symlink loop" in err, err


def test_a_tree_or_tarball_that_is_a_symlink_loop_is_named(tmp_path: Path) -> None:
    """Before: --tree, $BENCH_TREE or $BENCH_TARBALL naming a symlink loop: RuntimeError, an
    internal error (exit 2 with a crash log) for bad input."""
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    for call in (lambda: tree.resolve_tree(str(loop), {}, tmp_path),
                 lambda: tree.resolve_tree(None, {"BENCH_TREE": str(loop)}, tmp_path),
                 lambda: tree.resolve_tree(None, {"BENCH_TARBALL": str(loop)}, tmp_path)):
        with pytest.raises(UserError, match="symlink loop"):
            call()


def test_a_matrix_tree_that_is_a_symlink_loop_names_the_matrix_line(tmp_path: Path) -> None:
    """Before: matrix.yaml `tree: loop` (a symlink loop): internal error, RuntimeError."""
    (tmp_path / "loop").symlink_to("loop")
    (tmp_path / "matrix.yaml").write_text("series: [baseline]\ntree: loop\n")
    with pytest.raises(UserError, match=r"matrix.yaml:2: tree 'loop': cannot resolve it: a symlink loop"):
        nightly_matrix.load(tmp_path / "matrix.yaml", HOME / "patches")


def test_a_catch_message_regex_that_nests_unbounded_repeats_is_refused() -> None:
    """A catch: entry's message regex is matched against every failing case's message (up to
    hundreds of characters): `(\\w+ ?)+leaked` hung prove on a message that did not end so."""
    with pytest.raises(UserError, match=r"series.yaml:4: catch message .*nests"):
        catch.parse("series.yaml:4", [{"case": "workload/odirect", "message": r"(\w+ ?)+leaked$"}])
    assert catch.parse("series.yaml:4", [{"case": "workload/odirect", "message": r"pins? leaked"}])


# -- a CASE FAIL line with trailing blanks still fails ---------------------------------------

@pytest.mark.parametrize("line", ["CASE cell FAIL \n", "CASE cell FAIL\t\r\n", "CASE cell FAIL: 3 pins held  \n"])
def test_a_case_fail_line_with_trailing_blanks_is_a_fail(line: str) -> None:
    """Before: `CASE cell FAIL ` (a printf with a trailing space or tab) did not match the
    CASE line's pattern, which ends at FAIL|PASS|SKIP: the failure was dropped without a word,
    the workload judged by its exit code alone."""
    (sub,) = subcases.parse(["CASE cell PASS\n", line])
    assert sub.name == "cell" and sub.status is Status.FAIL


# -- a fragment that turns off what the bench needs is refused before any build ------------

@pytest.mark.parametrize("line", ["# CONFIG_BUG is not set", "CONFIG_PRINTK=n", "CONFIG_9P_FS=m"])
def test_a_fragment_turning_off_what_the_base_needs_is_refused(tmp_path: Path, line: str,
                                                               monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Before: `--kconfig frag` (or a series' kconfigs:) saying `# CONFIG_BUG is not set` was
    merged after base.config and won: WARN_ON()s compiled out, every WARNING of the series
    unseen, a PASS; CONFIG_PRINTK=n or 9p as a module: a whole build, then a boot that cannot
    work blamed on the series. Options base.config sets to y stay y."""
    monkeypatch.setenv("BENCH_HOME", str(HOME))

    def refuse(*_: object) -> Path:
        raise AssertionError("the tree was resolved: the bad input went through")
    monkeypatch.setattr(plan_mod.tree, "resolve_tree", refuse)
    frag = tmp_path / "mine.config"
    frag.write_text("# my options\nCONFIG_DEBUG_VM=y\n" + line + "\n")
    assert cli_main.main(["run", "canary", "--kconfig", str(frag), "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    name = line.replace("# ", "").split()[0].split("=")[0]
    assert f"{frag}:3: {name}" in err and "base.config" in err and err.count("\n") == 1, err


def test_a_users_fragment_named_base_is_checked_too(tmp_path: Path) -> None:
    mine = tmp_path / "base.config"
    mine.write_text("# CONFIG_BUG is not set\n")
    fragments = (kconfig.find_fragment("base", HOME / "kconfigs"), kconfig.find_fragment(str(mine), HOME / "kconfigs"))
    with pytest.raises(UserError, match=r"base.config:1: CONFIG_BUG is not set: the bench needs CONFIG_BUG=y"):
        kconfig.keep_base(fragments)
    kconfig.keep_base(fragments[:1])


# -- bench scan on a named FIFO nobody writes to: a one-line error after pipe_wait_s, not a wait for ever --

def test_scan_of_a_fifo_with_no_writer_is_refused_in_bounded_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import dataclasses
    from bench.cli import scan as scan_cli
    monkeypatch.setattr(scan_cli, "LIMITS", dataclasses.replace(LIMITS, pipe_wait_s=1))
    os.mkfifo(tmp_path / "console.log")
    t0 = time.monotonic()
    assert cli_main.main(["scan", str(tmp_path / "console.log")]) == 2
    assert time.monotonic() - t0 < 10
    err = capsys.readouterr().err.strip()
    assert "console.log: a pipe with nothing written to it in 1 s (no writer?)" in err and len(err.splitlines()) == 1


def test_scan_of_a_fifo_reads_what_its_writer_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "console.log"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"sleep 0.3; printf '%s\\n' '{WARNING}' > '{fifo}'"])
    try:
        assert cli_main.main(["scan", str(fifo)]) == 1
    finally:
        writer.wait(10)
    assert "1 new" in capsys.readouterr().out
