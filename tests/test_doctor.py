"""The preflight (bench/drivers/doctor.py) and host trouble: never blamed on the series."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import HOME, World

from bench.cli.main import main as bench_main
from bench.drivers import doctor
from bench.run import guests


def test_setup_installs_everything_the_preflight_checks() -> None:
    out = subprocess.run([str(HOME / "scripts" / "setup-debian.sh"), "--print-packages"],
                         capture_output=True, text=True, check=True).stdout
    reqs = doctor.read_requirements(HOME / doctor.REQUIREMENTS)
    assert set(out.split()) == set(doctor.packages(reqs))
    # Every workload's needs are listed (a workload with no line would go unchecked).
    needed = {r.needed for r in reqs}
    for stage in ("tree", "build", "boot"):
        assert stage in needed
    for tool in ("rsync", "pahole", "flex", "bison", "bc", "qemu-system-x86_64", "ccache", "git"):
        assert any(r.what == tool for r in reqs), tool


def test_bad_requirement_lines_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "req.txt"
    path.write_text("# ok\nrsync cmd rsync build\nrsync rsync\n")
    with pytest.raises(Exception, match=r"req.txt:3: want 'package kind what needed'"):
        doctor.read_requirements(path)


def test_missing_tools_are_named_with_their_package(tmp_path: Path) -> None:
    reqs = doctor.read_requirements(HOME / doctor.REQUIREMENTS)
    fake = [doctor.Requirement("pinbench-nonesuch", "cmd", "pinbench-no-such-tool", "build", 1), *reqs]
    checks = doctor.check_requirements(doctor.selected(fake, ["build"], []))
    problems = doctor.missing(checks)
    assert [c.name for c in problems] == ["build: pinbench-no-such-tool"]
    assert "apt-get install pinbench-nonesuch" in doctor.summary(problems)
    # Workload needs only count when the workload is selected.
    assert not doctor.selected(reqs, [], ["smoke"]) and doctor.selected(reqs, [], ["rxe"])


GUESTS = HOME / "guests"
# What a workload's guest side needs beyond the boot stage and Debian's essential user space
# (coreutils, util-linux, grep, sed, awk), each found by what its script, the lib.sh helpers it
# calls and the C and Python helpers it runs contain: requirement `what` -> pattern.
GUEST_TOOLS = {
    "gcc": r"\bgcc\b|\bbuild_c\b|\bmovable_hold\b",  # build_c compiles; movable_hold builds fill_movable
    "/usr/include/liburing.h": r"-luring\b|<liburing\.h>",
    "mkfs.ext4": r"\bmake_ext4\b|\bmkfs\.ext4\b",
    "fio": r"^\s*fio\b",
    "/usr/bin/python3": r"\bpython3\b",
    "ss": r"\bclient_server\b|\bwait_listen\b|^\s*ss\b",
    "rdma": r"^\s*rdma\b",
    "/etc/libibverbs.d/rxe.driver": r"\btype rxe\b",
    "ibv_devinfo": r"\bibv_devinfo\b",
    "ibv_rc_pingpong": r"\bibv_rc_pingpong\b",
    "ib_write_bw": r"\bib_write_bw\b",
    "/usr/lib/python3/dist-packages/pyverbs": r"^(import|from) pyverbs\b",
    "-m32": r"(^|\s)-m32\b",  # pin-matrix's compat32.c (a cc line: gcc -m32 must build a program)
}


def guest_text(w: guests.Workload) -> str:
    """The workload's script and the guests/src C files and guests/*.py helpers it names."""
    text = w.script.read_text()
    named = set(re.findall(r"[\w-]+\.(?:c|py)\b", text))
    helpers = [p for p in [*(GUESTS / "src").glob("*.c"), *GUESTS.glob("*.py")] if p.name in named]
    return "\n".join([text, *(p.read_text() for p in helpers)])


def test_every_workload_preflights_what_its_guest_side_uses() -> None:
    reqs = doctor.read_requirements(HOME / doctor.REQUIREMENTS)
    assert set(GUEST_TOOLS) <= {r.what for r in reqs}  # the table names real lines
    names = guests.available(GUESTS)
    assert {r.needed[len("workload:"):] for r in reqs if r.needed.startswith("workload:")} <= set(names)
    for name in names:
        uses = {what for what, rx in GUEST_TOOLS.items() if re.search(rx, guest_text(guests.load(GUESTS / f"{name}.yaml")), re.M)}
        checked = {r.what for r in doctor.selected(reqs, [], doctor.with_kin([name], GUESTS))}
        assert uses <= checked, f"{name}: the preflight misses {sorted(uses - checked)}"
        assert bool(uses) == bool(checked), name  # nothing checked that it does not use
    picked = {w: {r.what for r in doctor.selected(reqs, [], doctor.with_kin([w], GUESTS))}
              for w in ("iouring", "mm-selftests", "gup-test-deep", "odirect-deep")}
    assert {"fio", "/usr/include/liburing.h", "gcc", "mkfs.ext4"} <= picked["iouring"]
    assert {"/usr/include/liburing.h", "mkfs.ext4", "gcc"} <= picked["mm-selftests"]
    assert {"gcc", "mkfs.ext4"} <= picked["gup-test-deep"] and "fio" in picked["odirect-deep"]


def test_a_compiler_check_builds_a_program_and_is_never_fatal(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """gcc -m32 without gcc-multilib finds no crt files: the doctor names the package, and a run
    goes on (the compat/ cells skip saying so), unlike a missing command."""
    (line,) = [r for r in doctor.read_requirements(HOME / doctor.REQUIREMENTS) if r.kind == "cc"]
    assert (line.package, line.what, line.needed) == ("gcc-multilib", "-m32", "workload:pin-matrix")
    reqs = [doctor.Requirement("pinbench-nonesuch", "cc", "-pinbench-no-such-flag", "workload:pin-matrix", 1),
            doctor.Requirement("gcc", "cc", "-O1", "workload:pin-matrix", 2)]
    bad, good = doctor.check_requirements(reqs)
    assert not bad.ok and not bad.fatal and good.ok
    assert bad.name == "workload:pin-matrix: gcc -pinbench-no-such-flag"
    assert "apt-get install pinbench-nonesuch" in bad.detail and "SKIP" in bad.detail
    assert doctor.missing([bad, good]) == []
    with_requirements(world, "git cmd git tree\npinbench-nonesuch cc -pinbench-no-such-flag workload:smoke\n")
    assert bench_main(["doctor", "--workload", "smoke", "--results", str(world.tmp)]) == 0
    out = capsys.readouterr().out
    assert "note    workload:smoke: gcc -pinbench-no-such-flag: gcc -pinbench-no-such-flag cannot build" in out
    assert "0 missing" in out


def test_deep_variants_and_sets_take_the_lines_of_their_script() -> None:
    assert set(doctor.with_kin(["mm-selftests-deep"], GUESTS)) == {"mm-selftests-deep", "mm-selftests"}
    assert set(doctor.with_kin(["deep"], GUESTS)) >= {"gup-test", "gup-test-deep", "odirect", "rxe", "pin-balance"}
    assert doctor.with_kin(["smoke"], GUESTS) == ["smoke"]


def with_requirements(world: World, text: str) -> None:
    (world.home / "scripts").mkdir()
    (world.home / "scripts" / "requirements-debian.txt").write_text(text)
    world.mp.setenv("BENCH_PREFLIGHT", "1")


def test_a_run_on_a_machine_missing_a_tool_stops_before_any_work(world: World,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    world.series("two", "workloads: [smoke]\n")
    with_requirements(world, "git cmd git tree\npinbench-nonesuch cmd pinbench-no-such-tool build\n")
    rc = bench_main(["run", "two", "--accel", "tcg", "--results", str(world.results)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "pinbench-no-such-tool" in err and "apt-get install pinbench-nonesuch" in err
    assert not world.results.exists() or not any(world.results.iterdir())  # no run was started


def test_doctor_command(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    with_requirements(world, "git cmd git tree\n")
    assert bench_main(["doctor", "--results", str(world.tmp)]) == 0
    assert "0 missing" in capsys.readouterr().out
    with_requirements_more = world.home / "scripts" / "requirements-debian.txt"
    with_requirements_more.write_text("pinbench-nonesuch cmd pinbench-no-such-tool workload:smoke\n")
    assert bench_main(["doctor", "--workload", "smoke", "--results", str(world.tmp)]) == 2
    assert "MISSING workload:smoke: pinbench-no-such-tool" in capsys.readouterr().out


def test_a_missing_host_tool_during_the_build_is_infrastructure(world: World) -> None:
    world.series("two", "workloads: [smoke]\n")
    world.mp.setenv("FAIL", "host")
    rc = bench_main(["run", "two", "--accel", "tcg", "--results", str(world.results)])
    (run,) = world.results.iterdir()
    summary = json.loads((run / "summary.json").read_text())
    build = next(c for c in summary["cases"] if c["group"] == "build")
    assert rc == 2 and summary["verdict"] == "error" and build["status"] == "error"
    assert build["message"] == "host trouble, not the series: missing host tool rsync"


@pytest.mark.parametrize("line, says", [
    ("/bin/sh: 1: rsync: not found", "missing host tool rsync"),
    ("make[2]: flex: Command not found", "missing host tool flex"),
    ("make[1]: bison: No such file or directory", "missing host tool bison"),
    ("gcc: fatal error: Killed signal terminated program cc1", "the compiler was killed (out of memory?)"),
    ("mm/gup.o: No space left on device", "disk full"),
    ("mm/gup.c:42:9: error: 'FOLL_PIN' undeclared", ""),
])
def test_host_trouble_in_a_build_log(line: str, says: str) -> None:
    from bench.run.build import host_trouble
    assert host_trouble([line]) == says


def test_doctor_refuses_an_unknown_workload(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """`doctor --workload nosuch` checked nothing and said "0 missing", exit 0 (issue 21 item 10)."""
    with_requirements(world, "git cmd git tree\n")
    assert bench_main(["doctor", "--workload", "nosuch", "--results", str(world.tmp)]) == 2
    out, err = capsys.readouterr()
    assert "0 missing" not in out and len(err.strip().splitlines()) == 1
    assert "nosuch" in err and "no such workload" in err
