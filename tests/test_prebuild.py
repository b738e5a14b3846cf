"""The guest programs built on the host before the boot (bench/run/prebuild.py, guests/lib.sh
gcc_once and prebuild_done): what is built once is not built again with the same arguments, a
script stops at its builds in prebuild mode, and a failed prebuild is a note, not a verdict."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import HOME

from bench.run import guests, prebuild

GUESTS = HOME / "guests"
LIB = GUESTS / "lib.sh"


def fake_gcc(tmp: Path) -> Path:
    """a gcc on PATH that writes its -o argument and logs each call"""
    bin_dir = tmp / "fakebin"
    bin_dir.mkdir()
    gcc = bin_dir / "gcc"
    gcc.write_text('#!/bin/bash\necho "$*" >> "$GCC_CALLS"\n[ -n "${GCC_FAIL:-}" ] && exit 1\n'
                   'while [ $# -gt 0 ]; do\n  [ "$1" = -o ] && { echo built > "$2"; chmod +x "$2"; }\n'
                   '  shift\ndone\n')
    gcc.chmod(0o755)
    return bin_dir


def bash(body: str, tmp: Path, **env: str) -> subprocess.CompletedProcess[str]:
    path = f"{fake_gcc(tmp)}:{os.environ['PATH']}" if not (tmp / "fakebin").exists() else \
        f"{tmp / 'fakebin'}:{os.environ['PATH']}"
    return subprocess.run(["bash", "-c", f"set -u; . {LIB}\n{body}"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": path, "GCC_CALLS": str(tmp / "calls"), **env})


def calls(tmp: Path) -> list[str]:
    return (tmp / "calls").read_text().splitlines() if (tmp / "calls").exists() else []


def test_gcc_once_builds_once_per_argument_list(tmp_path: Path) -> None:
    out = tmp_path / "prog"
    r = bash(f"gcc_once {out} -O1 a.c && gcc_once {out} -O1 a.c && gcc_once {out} -O2 a.c", tmp_path)
    assert r.returncode == 0, r.stderr
    assert calls(tmp_path) == [f"-O1 a.c -o {out}", f"-O2 a.c -o {out}"]  # the same arguments: not again
    assert (tmp_path / "prog.args").read_text() == f"{tmp_path}/fakebin/gcc -O2 a.c "  # which gcc, and how


def test_gcc_once_names_the_gcc_by_its_real_path(tmp_path: Path) -> None:
    # the host's PATH finds /usr/bin/gcc, the guest's /bin/gcc (the same file on a merged /usr):
    # the key must be the same on both sides, or every prebuilt program is built again
    out = tmp_path / "prog"
    fake_gcc(tmp_path)
    (tmp_path / "alias").mkdir()
    (tmp_path / "alias" / "gcc").symlink_to(tmp_path / "fakebin" / "gcc")
    assert bash(f"gcc_once {out} a.c", tmp_path).returncode == 0
    r = bash(f"PATH={tmp_path}/alias:$PATH; gcc_once {out} a.c", tmp_path)
    assert r.returncode == 0 and len(calls(tmp_path)) == 1  # not built again through the alias


def test_gcc_once_rebuilds_an_output_without_its_arguments_and_says_a_failure(tmp_path: Path) -> None:
    out = tmp_path / "prog"
    out.write_text("stale")  # no prog.args: not known to be these arguments' output
    assert bash(f"gcc_once {out} x.c", tmp_path).returncode == 0 and len(calls(tmp_path)) == 1
    r = bash(f"gcc_once {out} y.c", tmp_path, GCC_FAIL="1")
    # a failed build leaves nothing to run: not the old binary, not a key
    assert r.returncode == 1 and not (tmp_path / "prog.args").exists() and not out.exists()
    assert bash(f"gcc_once {out} y.c", tmp_path).returncode == 0 and len(calls(tmp_path)) == 3


def test_prebuild_done_ends_only_a_prebuild(tmp_path: Path) -> None:
    assert bash("prebuild_done; echo after", tmp_path).stdout == "after\n"
    r = bash("prebuild_done; echo after", tmp_path, BENCH_PREBUILD="1")
    assert r.returncode == 0 and r.stdout == ""


def test_gcc_once_keys_on_the_gcc_and_hides_the_variables_that_change_its_output(tmp_path: Path) -> None:
    out = tmp_path / "prog"
    env_dump = tmp_path / "fakebin" / "gcc"
    fake_gcc(tmp_path)
    env_dump.write_text('#!/bin/bash\nenv > "$GCC_CALLS.env"\nwhile [ $# -gt 0 ]; do [ "$1" = -o ] && echo x > "$2"; shift;'
                        ' done\n')
    assert bash(f"gcc_once {out} a.c", tmp_path, CPATH="/evil", LIBRARY_PATH="/evil").returncode == 0
    seen = (tmp_path / "calls.env").read_text()
    assert "CPATH=" not in seen and "LIBRARY_PATH=" not in seen


@pytest.mark.parametrize("helper", ["make_ext4 64 /run/x", "drop_ext4 /run/x /dev/loop9", "hugepages 4",
                                    "memcg_make x max", "swap_on 64", "movable_hold"])
def test_the_helpers_that_change_the_machine_refuse_a_prebuild(tmp_path: Path, helper: str) -> None:
    r = bash(f"{helper}; echo REACHED", tmp_path, BENCH_PREBUILD="1")
    assert r.returncode == 3 and "REACHED" not in r.stdout
    assert f"prebuild: {helper.split()[0]} refused on the host" in r.stderr


def test_need_gup_test_touches_nothing_in_a_prebuild(tmp_path: Path) -> None:
    # on the host there is no tested kernel: no debugfs mount, no verdict
    r = bash("mount() { echo MOUNTED; }; DEBUGFS=/nonexistent; need_gup_test; echo rc=$?", tmp_path,
             BENCH_PREBUILD="1", BENCH_BUILD=str(tmp_path))
    assert r.stdout == "rc=0\n"


def test_the_compiling_workloads_prebuild_and_the_others_do_not() -> None:
    by_name = {w.name: w for w in guests.select(guests.available(GUESTS), GUESTS)}
    assert {n for n, w in by_name.items() if w.prebuild} >= {
        "gup-test", "mm-selftests", "iouring", "odirect", "pin-matrix", "rxe", "pin-matrix-deep", "mm-selftests-deep"}
    assert not by_name["smoke"].prebuild and not by_name["pin-balance"].prebuild


@pytest.mark.parametrize("script", sorted({w.script.name for w in guests.select(guests.available(GUESTS), GUESTS)
                                          if w.prebuild}))
def test_a_prebuild_script_does_nothing_before_its_builds_but_build(script: str) -> None:
    # what runs on the host before prebuild_done: variables, lib.sh, need_gup_test (a no-op
    # there) and compiles; never a mount, a loop device, /proc or /sys
    text = (GUESTS / script).read_text()
    head = re.sub(r"(^|\s)#.*", "", text[:text.index("\nprebuild_done\n")])  # comments aside
    for bad in ("mount", "losetup", "mkfs", ">/proc", "> /proc", ">/sys", "> /sys", "tee ", "sysctl", "hugepages ",
                "modprobe", "swapon", "swap_on", "movable_hold", "make_ext4", "memcg_", "rdma ", "ip "):
        assert bad not in head, f"{script} runs {bad!r} before prebuild_done"


def workload(tmp: Path, name: str, body: str, **params: str) -> guests.Workload:
    script = tmp / f"{name}.sh"
    script.write_text(f"set -u\n. {LIB}\n{body}\nprebuild_done\necho GUEST ONLY > \"$BENCH_OUT/{name}.ran\"\n")
    return guests.Workload(name, "", script, 60, None, (), tuple(params.items()), prebuild=True)


def test_prebuild_runs_each_script_to_its_builds_with_the_guest_env(tmp_path: Path) -> None:
    gdir = tmp_path / "guest"
    gdir.mkdir()
    ws = (workload(tmp_path, "a", 'echo "$BENCH_OUT $BENCH_SRC $BENCH_WORKLOAD $N" > "$BENCH_OUT/a.env"', N="7"),
          workload(tmp_path, "b", "false || { echo 'FAIL: cannot compile b'; exit 1; }"),
          guests.Workload("c", "", tmp_path / "a.sh", 60, None, (), ()))  # no prebuild: never run
    got = prebuild.prebuild(ws, gdir, {"BENCH_SRC": "/src"}, tmp_path / "prebuild.log")
    assert [(p.workload, p.ok) for p in got] == [("a", True), ("b", False)]
    assert got[1].why == "FAIL: cannot compile b"
    assert (gdir / "a.env").read_text() == f"{gdir} /src a 7\n"
    assert not list(gdir.glob("*.ran"))  # nothing past prebuild_done ran on the host
    assert "cannot compile b" in (tmp_path / "prebuild.log").read_text()
