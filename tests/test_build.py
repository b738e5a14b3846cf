from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench import build

FAKELINUX = Path(__file__).parent / "fakelinux"


def fake_tree(root: Path) -> Path:
    """tests/fakelinux's kbuild with one source file whose compile warns."""
    src = root / "src"
    (src / "mm").mkdir(parents=True)
    shutil.copy(FAKELINUX / "Makefile", src / "Makefile")
    (src / "mm" / "rmap.c").write_text("/* rmap */\nint x; /* fake-warning: unused variable 'x' [-Wunused-variable] */\n")
    return src


def test_build_finds_image_and_counts_warnings(tmp_path: Path) -> None:
    seen: list[str] = []
    res = build.build(fake_tree(tmp_path), tmp_path / "build", tmp_path / "build.log", cache_dir=tmp_path,
                      njobs=1, progress=seen.append)
    assert res.ok and res.image == tmp_path / "build" / "arch/x86/boot/bzImage"
    assert res.warnings == 1 and res.errors == ()
    log = (tmp_path / "build.log").read_text()
    assert log.startswith("$ make -C ") and f"O={tmp_path / 'build'}" in log


def test_build_failure_excerpts_the_compiler_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAIL", "build")
    res = build.build(FAKELINUX, tmp_path / "build", tmp_path / "build.log", cache_dir=tmp_path, njobs=1)
    assert not res.ok and res.image is None and res.rc != 0
    assert "mm/gup.c:42:9: error: 'FOLL_PIN' undeclared (first use in this function)" in res.errors
    assert any("Error 1" in line for line in res.errors)


def test_ccache_env_shares_objects_across_work_dirs(tmp_path: Path) -> None:
    env = build.ccache_env(tmp_path, tmp_path / "work" / "canary")
    assert env["CCACHE_BASEDIR"] == str(tmp_path / "work" / "canary")
    assert env["CCACHE_NOHASHDIR"] == "1"


def test_excerpt_keeps_context_and_limit() -> None:
    lines = [f"line {i}" for i in range(10)] + ["x.c:1:1: error: boom"] + ["after"] * 5
    assert build.excerpt_errors(lines, context=2) == ("line 8", "line 9", "x.c:1:1: error: boom")
    many = ["a.c:1: error: e%d" % i for i in range(100)]
    assert len(build.excerpt_errors(many, limit=10)) == 10
