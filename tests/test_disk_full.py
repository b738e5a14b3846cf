"""A full (or read-only) results disk while a run's results are written: one line naming the
file, exit 2, no temporary file or folder left, what was written before stays. Issue 21
item 8. Faults injected at the write calls; then a real 64 kB tmpfs where mount is allowed."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import World
from test_pipeline import run

from bench.base import files
from bench.run import pipeline



@pytest.fixture(name="two")
def two_world(world: World) -> World:
    world.series("two", "description: two small patches\nkconfigs: [rdma, debug-vm]\n"
                        "workloads: [rxe, odirect, gup-test, pin-balance]\n")
    return world


def fail_after_summary(monkeypatch: pytest.MonkeyPatch, err: int, where: str) -> None:
    """While the pages are written (after summary.json and junit.xml), every rename of a
    temp file (where="replace") or every file copied (where="copy") fails with err."""
    replace, copyfile, write_pages = os.replace, shutil.copyfile, pipeline.run_files.write
    full = [False]

    def full_replace(src: Any, dst: Any, **kw: Any) -> None:
        if full[0] and where == "replace":
            raise OSError(err, os.strerror(err), str(dst))
        replace(src, dst, **kw)

    def full_copy(src: Any, dst: Any, **kw: Any) -> Any:
        if full[0] and where == "copy":
            raise OSError(err, os.strerror(err), str(dst))
        return copyfile(src, dst, **kw)

    def pages(*args: Any) -> None:
        full[0] = True
        try:
            write_pages(*args)
        finally:
            full[0] = False
    monkeypatch.setattr(os, "replace", full_replace)
    monkeypatch.setattr(shutil, "copyfile", full_copy)
    monkeypatch.setattr(pipeline.run_files, "write", pages)


@pytest.mark.parametrize("where", ["replace", "copy"])
@pytest.mark.parametrize(("err", "says"), [(errno.ENOSPC, "disk full"), (errno.EDQUOT, "disk full"),
                                           (errno.EROFS, "read-only file system")])
def test_a_full_disk_while_the_pages_are_written_is_one_line(
        two: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        err: int, says: str, where: str) -> None:
    world = two
    world.replay("baseline-tcg")
    fail_after_summary(monkeypatch, err, where)
    rc, run_dir, _, summary = run(world)
    lines = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and summary["verdict"] == "pass"  # written before the disk filled: kept
    assert (run_dir / "junit.xml").is_file() and (run_dir / "console.log").is_file()
    errors = [ln for ln in lines if ln.startswith("bench: error:")]
    assert len(errors) == 1 and says in errors[0] and str(run_dir) in errors[0], lines
    assert len(errors[0]) < 300 and not any("Traceback" in ln for ln in lines)
    assert not [p for p in run_dir.rglob("*") if ".tmp" in p.name], list(run_dir.rglob("*.tmp*"))


def test_write_atomic_names_the_file_and_leaves_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: Any, **kw: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "replace", full)
    (tmp_path / "index.html").write_text("old\n")
    with pytest.raises(files.InfraError, match=r"index.html: cannot write: disk full$"):
        files.write_atomic(tmp_path / "index.html", "new\n")
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]
    assert (tmp_path / "index.html").read_text() == "old\n"  # the old file stays whole


def test_copy_tree_leaves_no_temp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    for i in range(30):
        (src / "sub" / f"f{i}").write_text("x" * 100)
    copyfile = shutil.copyfile
    calls = []

    def third_fails(a: Any, b: Any, **kw: Any) -> Any:
        calls.append(b)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(b))
        return copyfile(a, b, **kw)
    monkeypatch.setattr(shutil, "copyfile", third_fails)
    (tmp_path / "out").mkdir()
    with pytest.raises(files.InfraError) as e:
        files.copy_tree(src, tmp_path / "out" / "guests")
    assert str(e.value).endswith(": cannot write: disk full") and "\n" not in str(e.value)
    assert str(e.value).startswith(str(tmp_path / "out" / "guests" / "sub" / "f"))  # the file written
    assert list((tmp_path / "out").iterdir()) == []


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Any:
    where = tmp_path / "tiny"
    where.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a 64 kB tmpfs needs root and mount(8)")
    got = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)],
                         capture_output=True, text=True)
    if got.returncode != 0:
        pytest.skip(f"mount -t tmpfs not permitted here: {got.stderr.strip()}")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_real_full_tmpfs(tiny_disk: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tiny_disk / "filler").write_bytes(b"\0" * 40_000)
    files.write_atomic(tiny_disk / "small.txt", "fits\n")
    with pytest.raises(files.InfraError, match=r"big.html: cannot write: disk full$"):
        files.write_atomic(tiny_disk / "big.html", "x" * 100_000)
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler", "small.txt"]
    src = tiny_disk.parent / "guests"
    src.mkdir()
    for i in range(10):
        (src / f"w{i}.sh").write_text("y" * 5000)
    with pytest.raises(files.InfraError, match="cannot write: disk full$"):
        files.copy_tree(src, tiny_disk / "guests")
    assert sorted(p.name for p in tiny_disk.iterdir()) == ["filler", "small.txt"]
