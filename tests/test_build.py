from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.run import build

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


COMPILE_ERROR = ["mm/gup.c:42:9: error: 'FOLL_PIN' undeclared (first use in this function)",
                 "make[3]: *** [scripts/Makefile.build:229: mm/gup.o] Error 1",
                 "make[2]: *** [scripts/Makefile.build:478: mm] Error 2"]


@pytest.mark.parametrize("earlier", [
    "/bin/sh: 1: python3: not found",  # a harmless probe of a Makefile, long before the error
    "scripts/check.sh: line 3: Cannot allocate memory",
    "ld: mm/x.o: No space left on device (tried once, retried fine)",
])
def test_a_compile_error_is_the_series_whatever_came_before(earlier: str) -> None:
    lines = [earlier, *[f"  CC      mm/f{i}.o" for i in range(50)], *COMPILE_ERROR]
    assert build.host_trouble(lines) == ""


def test_only_the_lines_above_make_s_error_are_read() -> None:
    harmless = ["/bin/sh: 1: rsync: not found", *[f"  CC      mm/f{i}.o" for i in range(50)]]
    # no compiler error: what failed is what is just above make's *** line
    oom = ["gcc: fatal error: Killed signal terminated program cc1", "compilation terminated.",
           "make[3]: *** [scripts/Makefile.build:229: mm/gup.o] Error 1"]
    assert build.host_trouble([*harmless, *oom]) == "the compiler was killed (out of memory?)"
    series = ["  GEN     mm/table.h", "mm/Makefile:9: recipe for target failed",
              "make[3]: *** [mm/Makefile:9: mm/table.h] Error 1"]
    assert build.host_trouble([*harmless, *series]) == ""


def test_a_command_the_series_makefile_calls_is_not_a_host_tool() -> None:
    lines = ["  GEN     mm/table.h", "/bin/sh: 1: gen-pin-table: not found",
             "make[3]: *** [mm/Makefile:9: mm/table.h] Error 127"]
    assert build.host_trouble(lines) == ""
    assert build.host_trouble([ln.replace("gen-pin-table", "bison") for ln in lines]) == "missing host tool bison"
    assert build.host_trouble(["make[2]: gen-pin-table: Command not found"]) == ""


def test_a_full_disk_in_the_compiler_s_own_error_is_the_host() -> None:
    lines = ["mm/gup.c:1:1: fatal error: error writing to /tmp/ccX.s: No space left on device",
             "make[3]: *** [scripts/Makefile.build:229: mm/gup.o] Error 1"]
    assert build.host_trouble(lines) == "disk full"


def test_the_preflight_s_build_tools_are_host_tools() -> None:
    from bench.drivers import doctor
    reqs = doctor.read_requirements(Path(__file__).parent.parent / doctor.REQUIREMENTS)
    assert {r.what for r in reqs if r.kind == "cmd" and r.needed in ("tree", "build")} <= build.HOST_TOOLS


def test_a_series_compile_error_after_a_harmless_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = fake_tree(tmp_path)
    mk = (src / "Makefile").read_text().replace("bzImage: $(OBJS)\n", "bzImage: $(OBJS)\n\t@echo '/bin/sh: 1: rsync: not found'\n", 1)
    (src / "Makefile").write_text(mk)
    monkeypatch.setenv("FAIL", "build")
    res = build.build(src, tmp_path / "build", tmp_path / "build.log", cache_dir=tmp_path, njobs=1)
    assert "rsync: not found" in (tmp_path / "build.log").read_text()  # harmless: the recipe went on
    assert not res.ok and res.host_trouble == ""
