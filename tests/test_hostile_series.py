"""Hostile series input (issue 21, items 1 and 4): a run that would apply nothing is refused unless
the folder is a bare-tree series; patch names never leave their folder; [n/N] counts are limited."""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

import pytest

from bench.base import rundir
from bench.base.errors import UserError
from bench.base.limits import LIMITS
from bench.cli import main as cli_main
from bench.run import plan as plan_mod, series
from bench.run.series import load_series

HOME = Path(__file__).resolve().parent.parent
QUILT = Path(__file__).parent / "data" / "series" / "quilt"
DIFF = (QUILT / "01-gup-comment.patch").read_text()
MBOX_FROM = "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"


@pytest.fixture
def no_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks come before the tree: resolving it (unpacking the tarball) is a failure here."""
    def refuse(*_: object) -> Path:
        raise AssertionError("the tree was resolved: the run went on")
    monkeypatch.setattr(plan_mod.tree, "resolve_tree", refuse)
    monkeypatch.setenv("BENCH_HOME", str(HOME))


@pytest.mark.parametrize("spec", ["", "   ", "\t"])
def test_bench_run_with_an_empty_series_is_a_usage_error(spec: str, tmp_path: Path, no_tree: None,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.main(["run", spec, "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "empty series name" in err and "internal error" not in err, err


def test_bisect_step_with_an_empty_series_aborts(tmp_path: Path, no_tree: None,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.main(["bisect-step", "", "--signature", "boot", "--results", str(tmp_path)]) == 128
    assert "empty series name" in capsys.readouterr().err


def _folder(tmp_path: Path, files: dict[str, str], yaml: str | None = "description: x\n") -> Path:
    d = tmp_path / "s"
    d.mkdir(parents=True)
    if yaml is not None:
        (d / "series.yaml").write_text(yaml)
    for name, text in files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text)
    return d


def test_plain_patch_files_are_applied_in_name_order(tmp_path: Path) -> None:
    """fix.patch and 0001.patch (no series file, not format-patch names): `git am *.patch` order."""
    d = _folder(tmp_path, {"fix.patch": DIFF.replace("say what", "fix what"), "0001.patch": DIFF})
    s = load_series(str(d), tmp_path)
    assert [p.name for p in s.patches] == ["0001.patch", "fix.patch"]
    assert s.patches[1].subject == "mm/gup: fix what this file is"


@pytest.mark.parametrize("files, says", [
    ({"fix.txt": DIFF}, "'fix.txt'"),
    ({"patches/series": "a.patch\n", "patches/a.patch": DIFF}, "'patches'"),
    ({"series": "# none yet\n", "a.patch": DIFF}, "'a.patch'"),
])
def test_a_folder_that_applies_nothing_but_holds_files_is_refused(tmp_path: Path, files: dict[str, str],
                                                                  says: str) -> None:
    d = _folder(tmp_path, files)
    with pytest.raises(UserError, match="no patches to apply") as err:
        load_series(str(d), tmp_path)
    assert str(d) in str(err.value) and says in str(err.value)


def test_format_patch_and_other_patch_files_mixed_are_refused(tmp_path: Path) -> None:
    d = _folder(tmp_path, {"0001-mm-x.patch": DIFF, "fixup.patch": DIFF})
    with pytest.raises(UserError, match="'fixup.patch'.*series file"):
        load_series(str(d), tmp_path)


def test_bare_tree_series_still_load(tmp_path: Path) -> None:
    assert load_series("baseline", HOME / "patches").patches == ()
    d = _folder(tmp_path, {"known-issues.yaml": "issues: []\n", "README.md": "the bare tree\n"})
    assert load_series(str(d), tmp_path).patches == ()


def test_a_series_folder_of_fix_patch_does_not_boot_the_bare_tree(world: object, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """End to end: the folder the issue met ("apply: 0 patch(es)", then a PASS of the bare tree)."""
    d = _folder(tmp_path, {"notes.txt": DIFF})
    assert cli_main.main(["run", str(d), "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no patches to apply" in err and "'notes.txt'" in err, err


@pytest.mark.parametrize("line", ["../outside.patch", "{abs}", "link.patch", "sub/../../outside.patch"])
def test_quilt_names_never_leave_the_folder(tmp_path: Path, line: str) -> None:
    (tmp_path / "outside.patch").write_text(DIFF)
    d = _folder(tmp_path, {"series": line.format(abs=tmp_path / "outside.patch") + "\n", "sub/x": ""})
    (d / "link.patch").symlink_to(tmp_path / "outside.patch")
    with pytest.raises(UserError, match=r"series:1: patch '.*' is outside"):
        load_series(str(d), tmp_path)


def test_quilt_patches_in_subfolders_still_load(tmp_path: Path) -> None:
    d = _folder(tmp_path, {"series": "mm/a.patch\n", "mm/a.patch": DIFF})
    assert [p.name for p in load_series(str(d), tmp_path).patches] == ["mm/a.patch"]


def test_patch_files_and_mbox_that_are_symlinks_out_are_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.patch").write_text(DIFF)
    d = _folder(tmp_path, {})
    (d / "0001.patch").symlink_to(tmp_path / "outside.patch")
    with pytest.raises(UserError, match="is outside"):
        load_series(str(d), tmp_path)
    shutil.copy(HOME / "tests/data/series/v2.mbox", tmp_path / "v2.mbox")
    e = _folder(tmp_path / "m", {}, yaml="mbox: v2.mbox\n")
    (e / "v2.mbox").symlink_to(tmp_path / "v2.mbox")
    with pytest.raises(UserError, match="mbox 'v2.mbox' is outside"):
        load_series(str(e), tmp_path)
    for bad in ("..", "../v2.mbox"):
        (e / "series.yaml").write_text(f"mbox: '{bad}'\n")
        with pytest.raises(UserError, match="mbox"):
            load_series(str(e), tmp_path)


def _mbox(tmp_path: Path, counter: str, n: int = 1) -> Path:
    mails = []
    for i in range(1, n + 1):
        mails.append(f"{MBOX_FROM}From: A <a@example.org>\nSubject: [PATCH {counter.format(i=i)}] mm: x{i}\n\n"
                     + DIFF.split("---\n", 1)[1])
    path = tmp_path / "s.mbox"
    path.write_text("".join(mails))
    return path


@pytest.mark.parametrize("counter", ["{i}/999999999", "{i}/1000000", "{i}/" + "9" * 5000, "{i}/" + "0" * 5000 + "1",
                                     "9999999999999/3"])
def test_huge_patch_counts_in_subjects_are_one_short_line_at_once(tmp_path: Path, counter: str) -> None:
    path = _mbox(tmp_path, counter)
    start = time.monotonic()
    with pytest.raises(UserError) as err:
        load_series(str(path), tmp_path)
    assert time.monotonic() - start < 1
    msg = str(err.value)
    assert len(msg) < LIMITS.error_chars and "\n" not in msg and str(path) in msg, msg[:300]


def test_a_short_gap_is_still_listed(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"patch 2/3, 3/3 missing"):
        load_series(str(_mbox(tmp_path, "{i}/3")), tmp_path)
    with pytest.raises(UserError, match=r"patch 2/40, .* 11/40 and 29 more missing"):
        load_series(str(_mbox(tmp_path, "{i}/40")), tmp_path)


def test_the_patch_count_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.run import mbox

    small = dataclasses.replace(LIMITS, patches=2)
    monkeypatch.setattr(mbox, "LIMITS", small)
    monkeypatch.setattr(series, "LIMITS", small)
    with pytest.raises(UserError, match="over the limit of 2"):
        load_series(str(_mbox(tmp_path, "{i}/3", 3)), tmp_path)
    names = {f"{i:04d}.patch": DIFF for i in range(3)}
    with pytest.raises(UserError, match="3 patch files, over the limit of 2"):
        load_series(str(_folder(tmp_path, names)), tmp_path)
    q = _folder(tmp_path / "q", {**names, "series": "\n".join(names) + "\n"})
    with pytest.raises(UserError, match="series:3: over the limit of 2"):
        load_series(str(q), tmp_path)


def test_a_series_name_with_a_newline_is_a_one_line_error(tmp_path: Path, no_tree: None,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # os.chdir left the cwd there: later `python -m bench` children found no bench
    assert cli_main.main(["run", "evil\nname\rhere", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "evil\\nname\\rhere" in err, err


@pytest.mark.parametrize("fifo", ["series.yaml", "series", "01-gup-comment.patch", "known-issues.yaml"])
def test_a_fifo_in_the_series_folder_is_refused_not_waited_on(tmp_path: Path, no_tree: None, fifo: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """read_bytes() of a FIFO blocks until a writer comes: the run hung before any work."""
    d = tmp_path / "s"
    shutil.copytree(QUILT, d)
    (d / fifo).unlink(missing_ok=True)
    os.mkfifo(d / fifo)
    started = time.monotonic()
    assert cli_main.main(["run", str(d), "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    says = "series:2: patch file 01-gup-comment.patch not a regular file" if fifo.endswith(".patch") \
        else f"{d / fifo}: not a regular file"
    assert says in err and len(err.splitlines()) == 1, err
    assert time.monotonic() - started < 10


def test_a_symlink_loop_in_a_series_is_named(tmp_path: Path, no_tree: None, capsys: pytest.CaptureFixture[str]) -> None:
    """Path.resolve() raised RuntimeError on the loop: an internal error with a crash log."""
    d = _folder(tmp_path, {"0001-a.patch": DIFF})
    (d / "0002-loop.patch").symlink_to("0002-loop.patch")
    assert cli_main.main(["run", str(d), "--results", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert "'0002-loop.patch': cannot resolve: Symlink loop" in err and "internal error" not in err, err


def test_an_mbox_whose_patch_body_is_base64_is_a_patch(tmp_path: Path) -> None:
    """git am decodes a base64 body (some mailers send one for non-ASCII text); the bench looked
    for the diff in the encoded text and said "no patches found"."""
    import base64
    body = "Signed-off-by: Zo\u00eb <z@example.org>\n---\n" + DIFF.split("\n---\n", 1)[1]
    mail = (MBOX_FROM + "From: Zo\u00eb <z@example.org>\nSubject: [PATCH 1/1] mm/gup: say it\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n"
            + base64.encodebytes(body.encode()).decode())
    (tmp_path / "b64.mbox").write_text(mail)
    s = load_series(str(tmp_path / "b64.mbox"), tmp_path)
    assert [p.subject for p in s.patches] == ["mm/gup: say it"]


def test_dot_is_the_cwd_and_a_trailing_slash_still_names_the_series(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`bench run .` in a series folder loaded patches/ itself (a bare name: patches/.), which
    holding *.patch file series applied all of them; `bench run two/` said patches/two did not exist."""
    patches = tmp_path / "patches"
    shutil.copytree(QUILT, patches / "two")
    (patches / "other.patch").write_text(DIFF)  # a file series in patches/ itself
    here = _folder(tmp_path / "cwd", {"0001-a.patch": DIFF})
    monkeypatch.chdir(here)
    assert load_series(".", patches).source == here
    (here / "sub").mkdir()
    monkeypatch.chdir(here / "sub")
    assert load_series("..", patches).source == here  # not patches/.. (the project home)
    monkeypatch.chdir(tmp_path)
    assert load_series("two/", patches).source == patches / "two"


def test_a_long_series_name_makes_a_folder_name_that_fits(tmp_path: Path) -> None:
    """A 250-character series folder name (valid) made a run folder name over NAME_MAX: an
    internal error (ENAMETOOLONG) when the run claimed its folder."""
    for name in ("s" * 250, "\u00fc" * 200):
        run_id = rundir.new_name(tmp_path, name)
        assert len(run_id.encode()) <= 255 - 20  # room for -N and bisect/each suffixes
        rundir.claim(tmp_path, run_id)
    from bench.drivers.nightly.matrix import Entry
    entry = Entry(id="s" * 250 + "/default", spec="s", series="s", config="default", kconfigs=(), workloads=(), params=())
    assert len(entry.run_id.encode()) < 200


def test_a_patch_with_the_longest_file_name_is_copied_into_the_results(tmp_path: Path) -> None:
    """A 255-byte patch name (valid) became NNNN-<name>, over NAME_MAX: the run ended in an
    ERROR (cannot write: File name too long) over a series that applied fine."""
    from bench.run.pages import reproducer
    d = _folder(tmp_path, {"p" * 249 + ".patch": DIFF, "series": "p" * 249 + ".patch\n"})
    s = load_series(str(d), tmp_path)
    (name, _), = reproducer.copy_patches(s, tmp_path / "out")
    assert name.startswith("0001-ppp") and name.endswith(".patch") and len(name.encode()) <= 255
    assert (tmp_path / "out" / name).read_text() == s.patches[0].text
