"""Hostile input from an outside red-team pass (branch hostile): each test failed on the code
before its fix."""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import io
import lzma
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.base import files, proc, yamlmap
from bench.cli import main as cli_main
from bench.drivers.nightly import matrix as nightly_matrix
from bench.base.errors import InfraError, UserError
from bench.base.limits import LIMITS
from bench.report import issues_file

HOME = Path(__file__).resolve().parent.parent
from bench.run import build, guests, kcmdline, kconfig, plan as plan_mod, series, series_yaml, slot, subcases, tree, worktree
from bench.run.printer import Printer
from bench.run.result import Case, RunResult, Status

# -- a YAML integer's hex digits are digits --------------------------------------------------


@pytest.mark.parametrize("value", ["0x" + "f" * 4000, "-0x" + "f" * 40, "0x_" + "f_" * 40, "!!int 0x" + "a" * 40])
def test_a_hex_integer_over_the_digit_limit_is_refused_with_its_line(tmp_path: Path, value: str) -> None:
    """Before: only 0-9 were counted, so `0xfff...` passed the int_digits limit; 4000 f's made an
    int str() refuses (over 4300 decimal digits), and an error quoting it was an internal error."""
    path = tmp_path / "x.yaml"
    with pytest.raises(UserError, match=rf"^{path}:2: integer of \d+ characters, over the limit"):
        yamlmap.load(path, f"a: 1\nmin: {value}\n")


def test_hex_integers_within_the_limit_still_load(tmp_path: Path) -> None:
    assert yamlmap.load(tmp_path / "x.yaml", "a: 0x" + "f" * LIMITS.int_digits + "\nb: deadbeef" * 1 + "\n") == {
        "a": int("f" * LIMITS.int_digits, 16), "b": "deadbeef"}


def test_a_known_issues_format_of_4000_hex_digits_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "known-issues.yaml"
    path.write_text("issues: []\nformat: 0x" + "f" * 4000 + "\n")
    with pytest.raises(UserError, match=rf"^{path}:2: integer of 4002 characters"):
        issues_file.load(path)


# -- a dangling symlink is named, never passed over ------------------------------------------

DIFF = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"


@pytest.mark.parametrize("name", [series.YAML_FILE, series.SERIES_FILE])
def test_a_series_yaml_or_quilt_file_that_is_a_dangling_link_is_named(tmp_path: Path, name: str) -> None:
    """Before: Path.exists() says no to a link whose target is gone, so a series.yaml moved from
    under its link was passed over (the run without its base, workloads, expect: or catch:) and a
    quilt `series` link made the folder a plain *.patch folder (every patch file applied, in name
    order, whatever the series file listed)."""
    d = tmp_path / "s"
    d.mkdir()
    (d / "a.patch").write_text(DIFF)
    (d / name).symlink_to(d / "moved")
    with pytest.raises(UserError, match=rf"^{d / name}: a symlink to '{d / 'moved'}', which does not exist$"):
        series.load_series(str(d), tmp_path)


def test_a_series_known_issues_file_that_is_a_dangling_link_is_named(tmp_path: Path) -> None:
    """Before: passed over, its known issues dropped: every report it names failed the series."""
    d = tmp_path / "s"
    d.mkdir()
    (d / "a.patch").write_text(DIFF)
    (d / issues_file.FILE).symlink_to("moved")
    s = series.load_series(str(d), tmp_path)
    with pytest.raises(UserError, match=rf"^{d / issues_file.FILE}: a symlink to .*, which does not exist$"):
        plan_mod.load_known_issues(tmp_path, s, ())


# -- a fragment or a cache in a folder with a blank ------------------------------------------

# scripts/kconfig/merge_config.sh of 6.12, as it reads its arguments: `MERGE_LIST=$*` and
# `for ORIG_MERGE_FILE in $MERGE_LIST`, unquoted (split on blanks, globs expanded)
_SPLITTING_MERGE_CONFIG = """#!/bin/sh
[ "$1" = "-n" ] && shift
[ "$1" = "-O" ] && { OUTPUT=$(echo $2 | sed 's/\\/*$//'); shift 2; }
MERGE_LIST=$*
: > "$OUTPUT/.config"
for ORIG_MERGE_FILE in $MERGE_LIST ; do
    if [ ! -r "$ORIG_MERGE_FILE" ]; then
        echo "The merge file '$ORIG_MERGE_FILE' does not exist.  Exit." >&2
        exit 1
    fi
    grep '^CONFIG_' $ORIG_MERGE_FILE >> "$OUTPUT/.config"
done
"""


def test_a_fragment_in_a_folder_with_a_blank_reaches_merge_config_whole(tmp_path: Path) -> None:
    """Before: merge_config.sh got the fragment's own path and split it ("The merge file
    '/home/me/my' does not exist"): exit 1, a config FAIL of the series (exit 1) for the name of
    the user's folder (`--kconfig "~/my frags/x.config"`, a bench home under "My Projects")."""
    src = tmp_path / "src"
    (src / "scripts" / "kconfig").mkdir(parents=True)
    (src / "scripts" / "kconfig" / "merge_config.sh").write_text(_SPLITTING_MERGE_CONFIG)
    (tmp_path / "my frags").mkdir()
    a = tmp_path / "my frags" / "a b.config"
    a.write_text("CONFIG_A=y\n")
    star = tmp_path / "my frags" / "*.config"  # a glob: every fragment of the folder, twice
    star.write_text("CONFIG_B=y\n")
    frags = (kconfig.parse_fragment(a), kconfig.parse_fragment(star))
    res = kconfig.configure(src, tmp_path / "build", frags, tmp_path / "config.log")
    assert res.rc == 0 and res.ok, (tmp_path / "config.log").read_text()
    assert res.config.read_text() == "CONFIG_A=y\nCONFIG_B=y\n"
    again = kconfig.configure(src, tmp_path / "build", frags[1:], tmp_path / "config.log")  # no stale copy
    assert again.ok and again.config.read_text() == "CONFIG_B=y\n"


@pytest.mark.parametrize("name", ["my cache", "c:d", "c#d"])
def test_a_cache_folder_kbuild_cannot_build_in_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str], name: str) -> None:
    """Before: taken; the kernel's Makefile stops on a blank or a colon in its source folder
    ("source directory cannot contain spaces or colons") and merge_config.sh splits its output
    folder: a config or build FAIL of the series, exit 1, for the name of the user's cache."""
    def refuse(*_: object) -> Path:
        raise AssertionError("the tree was resolved: the bad input went through")
    monkeypatch.setattr(plan_mod.tree, "resolve_tree", refuse)
    monkeypatch.setenv("BENCH_HOME", str(HOME))
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / name))
    assert cli_main.main(["run", "canary", "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error" not in err
    assert f"$BENCH_CACHE {tmp_path / name}: the kernel is built in the cache folder, and kbuild cannot" in err
    assert not (tmp_path / name).exists()


# -- a name or value checked with `^...$` took a trailing newline -----------------------------


def test_names_and_values_with_a_trailing_newline_are_refused(tmp_path: Path) -> None:
    """Before: re.match(r"^[a-z_]+$") matches "nr_foo\\n" (`$` matches before a final newline):
    a vmstat counter nothing reads (an ERROR "cannot tell" after the whole run), a workload's
    parameter name or value (a new line in plan.tsv: the runner's next "workload") and a matrix
    config name (a run folder's name) too: quoted YAML keeps the "\\n"."""
    y = tmp_path / "series.yaml"
    with pytest.raises(UserError, match="bad expect item"):
        series_yaml.read(y, 'expect: [{vmstat: "nr_foo\\n"}]\n')
    (tmp_path / "matrix.yaml").write_text('configs: {"a\\n": []}\n')
    with pytest.raises(UserError, match="config name 'a\\\\n'"):
        nightly_matrix.load(tmp_path / "matrix.yaml", HOME / "patches")
    spec = guests.ParamSpec("MATRIX", "str")
    assert spec.check("default\n") is not None and spec.check("default") is None
    w = tmp_path / "w.yaml"
    (tmp_path / "w.sh").write_text("true\n")
    w.write_text('params: {"X\\n": 1}\n')
    with pytest.raises(UserError, match="must be UPPER_CASE"):
        guests.load(w)
    w.write_text('params: {X: "a\\n"}\n')
    with pytest.raises(UserError, match="default: value"):
        guests.load(w)


# -- text from a patch or the guest cannot move the terminal's cursor -------------------------


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_control_characters_in_names_and_messages_are_printed_escaped() -> None:
    """Before: a guest's `CASE x FAIL: ESC[1A ESC[2K...` or a patch subject holding ESC (an
    RFC 2047 word decodes to any byte) was written as it is: on a terminal it erased the FAIL
    lines and the verdict and wrote "verdict: PASS" in their place (the exit code stayed 1)."""
    forged = "\x1b[1A\x1b[2K\x1b[1A\x1b[2K\rverdict: PASS (9 pass)\x9b2J\x07"
    out = _Tty()
    result = RunResult("r1", "s\x1b]0;title\x07", Path("/results/r1"),
                       (Case("workload", "pin-matrix/x", Status.FAIL, 0.0, forged),), 1.0)
    printer = Printer(out)
    printer.say(f"apply: 0001 {forged}")
    printer.summary(result)
    text = out.getvalue()
    assert "\\x1b[1A\\x1b[2K" in text and "\\x0dverdict: PASS" in text and "\\x9b2J\\x07" in text
    assert "\x9b" not in text and "\r" not in text and "\x07" not in text
    # the printer's own colours only: ESC [ 1 ; 3 1 m FAIL ESC [ 0 m
    assert [m for m in re.findall(r"\x1b\[[0-9;]*m", text)] == text.count("\x1b") // 2 * ["\x1b[1;31m", "\x1b[0m"]
    assert "\x1b[1;31mFAIL\x1b[0m" in text and "verdict: \x1b[1;31mFAIL\x1b[0m (1 fail)" in text



# -- a compressed console log is not a log without reports ------------------------------------

_WARNING_LOG = ("------------[ cut here ]------------\n"
                "WARNING: CPU: 0 PID: 1 at mm/gup.c:100 try_grab_folio+0x10/0x20\n"
                "Call Trace:\n <TASK>\n gup_fast+0x1/0x2\n </TASK>\n---[ end trace 0000000000000000 ]---\n")


@pytest.mark.parametrize("kind,pack", [("gzip", gzip.compress), ("xz", lzma.compress), ("bzip2", bz2.compress)])
def test_scan_of_a_compressed_log_is_a_one_line_error_not_a_clean_log(tmp_path: Path, kind: str, pack: Any,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Before: read as text, a console.log.gz (as CI keeps artifacts) held no report: "no kernel
    reports", exit 0, for the log of a kernel that WARNed."""
    log = tmp_path / "console.log.z"
    log.write_bytes(pack(_WARNING_LOG.encode()))
    assert cli_main.main(["scan", str(log)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bench: error: {log}: {kind} data, not a console log: `") and err.count("\n") == 1
    plain = tmp_path / "console.log"
    plain.write_text(_WARNING_LOG)
    assert cli_main.main(["scan", str(plain)]) == 1


def test_scan_of_a_binary_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.main(["scan", sys.executable]) == 2
    assert "ELF data, not a console log" in capsys.readouterr().err


# -- results the bench would delete itself -----------------------------------------------------


@pytest.mark.parametrize("below", ["work", "work/results", "work/slot-1/src/results"])
def test_results_inside_the_caches_work_folder_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str], below: str) -> None:
    """Before: taken; `bench gc` removes every folder of work/ that is not a slot (the run folders
    with it) and each run's slot reset is `git clean -fdx` of its tree: the results were lost."""
    def refuse(*_: object) -> Path:
        raise AssertionError("the tree was resolved: the bad input went through")
    monkeypatch.setattr(plan_mod.tree, "resolve_tree", refuse)
    monkeypatch.setenv("BENCH_HOME", str(HOME))
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    (tmp_path / "cache" / "work" / "results").mkdir(parents=True)
    assert slot.gc(tmp_path / "cache", 0) == [tmp_path / "cache" / "work" / "results"]  # what gc does there
    assert cli_main.main(["run", "canary", "--results", str(tmp_path / "cache" / below)]) == 2
    err = capsys.readouterr().err
    assert f"--results {tmp_path / 'cache' / below}: inside the cache's work folder" in err and err.count("\n") == 1
    assert not (tmp_path / "cache" / below).exists() or below == "work"


# -- a quota or a read-only disk under the build is the host's --------------------------------


@pytest.mark.parametrize("line,what", [
    ("mm/gup.c:1:1: fatal error: error writing to /tmp/ccX.s: Disk quota exceeded", "disk full (quota)"),
    ("{standard input}: Fatal error: can't close mm/.tmp_gup.o: Disk quota exceeded", "disk full (quota)"),
    ("mm/gup.c:1:1: fatal error: opening dependency file mm/.gup.o.d: Read-only file system",
     "read-only file system"),
])
def test_a_quota_or_a_read_only_disk_failing_the_build_is_host_trouble(line: str, what: str) -> None:
    """Before: only ENOSPC's words were the host's; EDQUOT's and EROFS's, which docs/promises.md
    counts with it, failed the series (build FAIL, exit 1)."""
    assert build.host_trouble([line, "make[3]: *** [scripts/Makefile.build:229: mm/gup.o] Error 1"]) == what


def test_git_am_failing_for_a_full_disk_is_the_machines(kernel_repo: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: git am's "unable to write ...: No space left on device" was the patch's failure to
    apply: an apply FAIL, exit 1, for the machine's disk."""
    real = tree.proc.run

    def full_disk(argv: Any, **kw: Any) -> Any:
        if "am" in argv and "--abort" not in argv:
            for line in ("Applying: mm: say No space left on device", "error: could not build fake ancestor",
                         "error: unable to write file 'mm/gup.c' mode 100644: No space left on device"):
                kw["on_line"](line)
            return proc.ProcResult(tuple(argv), 128, False, 0.1, None, ())
        return real(argv, **kw)

    s = series.load_series(str(HOME / "tests" / "data" / "series" / "cover-3.mbox"), tmp_path)
    log = tmp_path / "apply.log"
    monkeypatch.setattr(tree.proc, "run", full_disk)
    with worktree.worktree(kernel_repo, tree.resolve_base(kernel_repo, None), tmp_path / "wt") as wt:
        with pytest.raises(InfraError, match=r"git am could not write the tree: disk full \(log: "):
            tree.apply_series(wt, s, log)


def test_a_patch_whose_subject_names_a_full_disk_still_fails_to_apply(kernel_repo: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def conflict(argv: Any, **kw: Any) -> Any:
        if "am" in argv and "--abort" not in argv:
            for line in ("Applying: fs: return ENOSPC: No space left on device", "error: patch failed: mm/gup.c:3"):
                kw["on_line"](line)
            return proc.ProcResult(tuple(argv), 128, False, 0.1, None, ())
        return real(argv, **kw)

    real = tree.proc.run
    s = series.load_series(str(HOME / "tests" / "data" / "series" / "cover-3.mbox"), tmp_path)
    monkeypatch.setattr(tree.proc, "run", conflict)
    with worktree.worktree(kernel_repo, tree.resolve_base(kernel_repo, None), tmp_path / "wt") as wt:
        assert not tree.apply_series(wt, s, tmp_path / "apply.log").ok


# -- a guest's case names are bounded as its messages are -------------------------------------


def test_case_names_are_cut_as_their_messages_are() -> None:
    """Before: a name was as long as a console line (64K characters): 2000 of them made a
    summary.json, a junit.xml and a terminal summary of 128 MB each."""
    lines = [f"CASE {i:04d}{'a' * 65000} PASS" for i in range(LIMITS.subcases)]
    subs = subcases.parse(lines)
    assert len(subs) == LIMITS.subcases and sum(len(s.name) for s in subs) <= LIMITS.subcases * subcases.NAME_CHARS
    # two names alike in their first NAME_CHARS are one case, and its failure is kept
    same = subcases.parse(["CASE " + "b" * 400 + "x PASS", "CASE " + "b" * 400 + "y FAIL: why"])
    assert [(s.name, s.status) for s in same] == [("b" * subcases.NAME_CHARS, Status.FAIL)]


# -- a series names only its own files ----------------------------------------------------------


@pytest.mark.parametrize("spec", ["/etc/shadow", "../outside.config", "link/x.config"])
def test_a_series_yaml_fragment_path_out_of_its_folder_is_refused(tmp_path: Path, spec: str) -> None:
    """Before: `kconfigs: [/etc/shadow]` was read (relative paths from the cwd), and its first line
    quoted in the one-line error: a CI job running a series from outside printed root's hash."""
    d = tmp_path / "s"
    d.mkdir()
    (tmp_path / "outside.config").write_text("CONFIG_A=y\n")
    (d / "link").symlink_to(tmp_path)
    (d / "a.patch").write_text(DIFF)
    (d / "series.yaml").write_text(f"kconfigs: [{spec}]\n")
    with pytest.raises(UserError, match=rf"^{d}/series.yaml: kconfigs: fragment '{spec}' is outside {d} "):
        series.load_series(str(d), tmp_path)


def test_a_series_yaml_fragment_path_is_the_folders_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative to the series folder, wherever the bench is run from (it was the cwd)."""
    d = tmp_path / "s"
    (d / "frags").mkdir(parents=True)
    (d / "frags" / "extra.config").write_text("CONFIG_A=y\n")
    (d / "a.patch").write_text(DIFF)
    (d / "series.yaml").write_text("kconfigs: [rdma, frags/extra.config]\n")
    monkeypatch.chdir(tmp_path)
    s = series.load_series(str(d), tmp_path)
    assert s.kconfigs == ("rdma", str(d / "frags" / "extra.config"))
    assert kconfig.find_fragment(s.kconfigs[1], HOME / "kconfigs").options[0].name == "CONFIG_A"


@pytest.mark.parametrize("name", [series.YAML_FILE, series.SERIES_FILE, issues_file.FILE])
def test_a_series_file_that_is_a_link_out_of_its_folder_is_refused(tmp_path: Path, name: str) -> None:
    """Before: read through the link, as patches are not: a series.yaml linked to /etc/shadow
    had its first line quoted in the error ("unknown key 'root:$y$...'"), a quilt series file's
    became a patch name "not found"."""
    d = tmp_path / "s"
    d.mkdir()
    (d / "a.patch").write_text(DIFF)
    secret = tmp_path / "secret"
    secret.write_text("root:$y$j9T$hash:20228:0:99999:7:::\n")
    (d / name).symlink_to(secret)
    with pytest.raises(UserError, match=rf"^{d}: '{name}' is outside {d} ") as e:
        plan_mod.load_known_issues(tmp_path, series.load_series(str(d), tmp_path), ())
    assert "hash" not in str(e.value)


# -- a series cannot turn the bench's own checks off -------------------------------------------


@pytest.mark.parametrize("word", ["page_owner=off", "page_owner", "page_poison=0", "debug_pagealloc=off",
                                  "oops=continue", "hung_task_panic=0", "softlockup_panic=0"])
def test_a_word_that_turns_off_one_of_the_benchs_own_is_refused_everywhere(tmp_path: Path, word: str) -> None:
    """Before: the series' `cmdline:` comes after the bench's own words and wins: `page_owner=off`
    made every pages/ case SKIP ("page_owner is off on the kernel command line"), the run a PASS
    (exit 0) for a series that leaks pages; `page_poison=0` silenced "pagealloc: memory corruption"."""
    with pytest.raises(UserError, match=rf"series.yaml:1: kernel parameter '{word}' would turn off the bench's own"):
        series_yaml.read(tmp_path / "series.yaml", f"cmdline: [{word}]\n")
    with pytest.raises(UserError, match="would turn off the bench's own"):
        kcmdline.check([word], "--append")
    w = tmp_path / "w.yaml"
    (tmp_path / "w.sh").write_text("true\n")
    w.write_text(f"cmdline: [{word}]\n")
    with pytest.raises(UserError, match="would turn off the bench's own"):
        guests.load(w)


def test_the_benchs_own_words_and_others_still_pass() -> None:
    assert kcmdline.check([*kcmdline.OWN, "movablecore=256M", "numa=fake=2", "page_owner_extra=1"], "x")


@pytest.mark.parametrize("word", ["nosoftlockup", "nowatchdog", "watchdog_thresh=0", "no_debug_objects",
                                  "lockdep.prove_locking=0", "kfence.sample_interval=0",
                                  "sysctl.kernel.panic_on_oops=0", "sysctl.kernel.hung_task_timeout_secs=0"])
def test_a_word_that_turns_off_a_detector_is_refused(tmp_path: Path, word: str) -> None:
    """Before: taken; `sysctl.kernel.panic_on_oops=0` undid the bench's oops=panic, `nosoftlockup`
    and the rest turned off what the fragments build in to find a series' bugs."""
    with pytest.raises(UserError, match=rf"series.yaml:1: kernel parameter '{word}' would turn off a check"):
        series_yaml.read(tmp_path / "series.yaml", f"cmdline: [{word}]\n")
    assert kcmdline.check(["kfence.sample_interval=100", "lockdep.prove_locking=1"], "x")


# -- a huge file given as input is not read whole ----------------------------------------------


def test_a_sparse_file_of_20_gb_as_the_series_or_a_fragment_is_one_line(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: read_input read it whole: "internal error: MemoryError" under a memory limit (the
    OOM killer without one). Now at most input_bytes + 1 are read."""
    big = tmp_path / "big.mbox"
    with open(big, "wb") as f:
        f.truncate(20 << 30)  # sparse: no disk
    monkeypatch.setattr(files, "LIMITS", dataclasses.replace(LIMITS, input_bytes=1 << 20))
    with pytest.raises(UserError, match=rf"^{big}: 21474836480 bytes, over the limit of 1048576 .*\(input_bytes\)$"):
        series.load_series(str(big), tmp_path)
    frag = tmp_path / "big.config"
    frag.symlink_to(big)
    with pytest.raises(UserError, match=r"over the limit of 1048576"):
        kconfig.find_fragment(str(frag), HOME / "kconfigs")
    d = tmp_path / "s"
    d.mkdir()
    (d / "a.patch").write_text(DIFF)
    with open(d / "series.yaml", "wb") as f:
        f.truncate(20 << 30)
    with pytest.raises(UserError, match=rf"^{d}/series.yaml: 21474836480 bytes, over the limit of 1048576"):
        series.load_series(str(d), tmp_path)


# -- a lock file held by a stopped process: a bounded wait, then one line naming it (exit 2) --

def test_a_lock_held_by_a_stopped_process_is_waited_for_a_bounded_time(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the tarball's unpack lock and the slot pool's lock were taken with a blocking
    flock(LOCK_EX): a run stopped with SIGSTOP while holding one hung every later run, silently."""
    import dataclasses
    import subprocess
    import sys
    import time

    from bench.base import files as files_mod
    from bench.base.errors import InfraError
    from bench.base.limits import LIMITS
    from bench.run import tree

    cache = tmp_path / "cache"
    cache.mkdir()
    lock = cache / ".linux-source-6.12.lock"
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a');"
                               " fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)", str(lock)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        monkeypatch.setattr(files_mod, "LIMITS", dataclasses.replace(LIMITS, lock_wait_s=1))
        tarball = tmp_path / "linux-source-6.12.tar.xz"
        tarball.write_bytes(b"")
        start = time.monotonic()
        with pytest.raises(InfraError, match=rf"^{lock}: held by another process for over 1 s "
                                             r"\(unpacking linux-source-6.12.tar.xz into "):
            tree.default_tree(tarball, cache)
        assert time.monotonic() - start < 10
    finally:
        holder.kill()
        holder.wait()
    with files_mod.locked(lock, "x", wait_s=0):  # free again: taken at once
        pass
