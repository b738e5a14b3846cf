"""The guest scripts' own decisions, run on the host against fakes: guests/lib.sh helpers with
their file system paths (DEBUGFS, CGROUP) pointed at temporary folders and mount stubbed out,
and whole scripts in a private mount namespace where /proc and /sys files are bind-mounted fakes
(root only: the host's real files are never written)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from conftest import HOME

GUESTS = HOME / "guests"
LIB = GUESTS / "lib.sh"
# mount and mountpoint stubbed: the tests run as root, and a real mount would land on the host.
STUBS = "mountpoint() { return 1; }; mount() { return 1; }"


def lib(body: str, tmp: Path, config: str | None = None) -> subprocess.CompletedProcess[str]:
    """body run in bash after sourcing lib.sh, with $BENCH_BUILD/.config = config (None: none)."""
    build = tmp / "build"
    build.mkdir(exist_ok=True)
    if config is not None:
        (build / ".config").write_text(config)
    script = f"set -u; . {LIB}; {STUBS}; DEBUGFS={tmp}/debug; CGROUP={tmp}/cg\n{body}\n"
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                          env={**os.environ, "BENCH_BUILD": str(build)}, timeout=60)


GUP_ON = "CONFIG_DEBUG_FS=y\nCONFIG_GUP_TEST=y\n"


def test_need_gup_test_passes_when_the_file_is_there(tmp_path: Path) -> None:
    (tmp_path / "debug").mkdir()
    (tmp_path / "debug" / "gup_test").touch()
    assert lib("need_gup_test", tmp_path, GUP_ON).returncode == 0


def test_a_missing_gup_test_fails_when_the_kernel_was_built_with_it(tmp_path: Path) -> None:
    r = lib("need_gup_test", tmp_path, GUP_ON)
    assert r.returncode == 1
    assert r.stdout.startswith(f"FAIL: kernel built with CONFIG_GUP_TEST=y has no {tmp_path}/debug/gup_test")


@pytest.mark.parametrize("config", ["CONFIG_DEBUG_FS=y\n# CONFIG_GUP_TEST is not set\n", "CONFIG_MMU=y\n"])
def test_a_missing_gup_test_skips_only_when_the_option_is_off(tmp_path: Path, config: str) -> None:
    r = lib("need_gup_test", tmp_path, config)
    assert r.returncode == 4 and r.stdout.startswith("SKIP:") and "CONFIG_GUP_TEST=n" in r.stdout


def test_a_missing_gup_test_without_a_config_to_tell_fails(tmp_path: Path) -> None:
    r = lib("need_gup_test", tmp_path, None)
    assert r.returncode == 1 and "no " in r.stdout and ".config to tell" in r.stdout


def private_ns(script: str, tmp: Path, binds: dict[str, Path]) -> subprocess.CompletedProcess[str]:
    """script in bash in a private mount namespace, each target bind-mounted from its fake."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare (a private mount namespace)")
    if subprocess.run(["unshare", "-m", "--propagation", "private", "true"], capture_output=True).returncode:
        pytest.skip("unshare -m is not allowed here")
    mounts = "".join(f"mount --bind {src} {dst} || exit 99\n" for dst, src in binds.items())
    (tmp / "ns.sh").write_text(f"set -u\n{mounts}{script}\n")
    return subprocess.run(["unshare", "-m", "--propagation", "private", "bash", str(tmp / "ns.sh")],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("script", ["gup-test.sh", "mm-selftests.sh"])
def test_the_gup_test_workloads_fail_when_the_kernel_broke_gup_test(tmp_path: Path, script: str) -> None:
    build, debug = tmp_path / "build", tmp_path / "debug"
    build.mkdir()
    debug.mkdir()  # an empty debugfs: the tested kernel registered no gup_test
    (build / ".config").write_text(GUP_ON)
    r = private_ns(f"BENCH_BUILD={build} BENCH_OUT={tmp_path} BENCH_SRC={tmp_path} bash {GUESTS / script}",
                   tmp_path, {"/sys/kernel/debug": debug})
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL: kernel built with CONFIG_GUP_TEST=y has no /sys/kernel/debug/gup_test" in r.stdout


def totals(pass_: int = 0, fail: int = 0, skip: int = 0, error: int = 0) -> str:
    return f"# Totals: pass:{pass_} fail:{fail} xfail:0 xpass:0 skip:{skip} error:{error}\n"


@pytest.mark.parametrize("rc, log, want, says", [
    (0, "ok 1 a\nok 2 b\n" + totals(2), 0, "cow totals: pass:2 fail:0"),
    (0, "# [RUN] case x\nnot ok 1 x\n" + totals(1, fail=1), 1, "FAIL: cow exit 0 but its totals count fail:1 error:0"),
    (0, totals(3, error=1), 1, "fail:0 error:1"),
    (0, totals(1) + totals(0, fail=2), 1, "fail:2"),  # every Totals line counts
    (1, "# [RUN] case y\nnot ok 3 y\n" + totals(2, fail=1), 1, "FAIL: cow exit 1: not ok 3 y (case y)"),
    (4, "# SKIP no THP\n" + totals(skip=5), 4, "cow: skipped as a whole (exit 4)"),
    (0, totals(skip=7), 4, "no case passed (pass:0 xfail:0 xpass:0 skip:7)"),
    (0, "plain program\n", 0, "no '# Totals:' line"),
    # uffd-unit-tests' own report line (6.12, a real run's, with CONFIG_PTE_MARKER_UFFD_WP off)
    (0, "Userfaults unit tests: pass=28, skip=38, fail=0 (total=66)\n", 0, "cow totals: pass:28 fail:0"),
    (0, "Userfaults unit tests: pass=0, skip=66, fail=0 (total=66)\n", 4, "no case passed (pass:0 xfail:0 xpass:0 skip:66)"),
    (0, "Userfaults unit tests: pass=27, skip=38, fail=1 (total=66)\n", 1, "fail:1 error:0"),
])
def test_ksft_verdict(tmp_path: Path, rc: int, log: str, want: int, says: str) -> None:
    (tmp_path / "out").write_text(log)
    r = lib(f"ksft_verdict cow {rc} {tmp_path}/out", tmp_path, "")
    assert r.returncode == want and says in r.stdout, r.stdout + r.stderr


def cgroup_root(tmp: Path, controllers: str = "cpu io memory pids") -> Path:
    cg = tmp / "cg"
    cg.mkdir()
    (cg / "cgroup.controllers").write_text(controllers + "\n")
    (cg / "cgroup.subtree_control").write_text("")
    return cg


def test_memcg_make_and_join_check_every_write(tmp_path: Path) -> None:
    cg = cgroup_root(tmp_path)
    r = lib(f"memcg_make grp {96 << 20} && memcg_join {cg}/grp && echo made", tmp_path, "CONFIG_MEMCG=y\n")
    assert r.returncode == 0 and r.stdout.strip() == "made", r.stdout + r.stderr
    assert (cg / "cgroup.subtree_control").read_text() == "+memory\n"
    assert (cg / "grp" / "memory.max").read_text() == f"{96 << 20}\n"
    assert (cg / "grp" / "cgroup.procs").read_text().strip().isdigit()


@pytest.mark.parametrize("broken, says", [
    ("grp/memory.max", "FAIL: cannot set"),
    ("cgroup.subtree_control", "FAIL: cannot enable the memory controller"),
])
def test_memcg_make_fails_when_a_write_fails(tmp_path: Path, broken: str, says: str) -> None:
    cg = cgroup_root(tmp_path)
    (cg / broken).unlink(missing_ok=True)
    (cg / broken).mkdir(parents=True)  # a write to a folder fails, as a refused cgroup write does
    r = lib(f"memcg_make grp {96 << 20}", tmp_path, "CONFIG_MEMCG=y\n")
    assert r.returncode == 1 and r.stdout.startswith(says), r.stdout


def test_memcg_join_fails_when_the_move_fails(tmp_path: Path) -> None:
    (tmp_path / "grp" / "cgroup.procs").mkdir(parents=True)
    r = lib(f"memcg_join {tmp_path}/grp", tmp_path, "")
    assert r.returncode == 1 and r.stdout.startswith("FAIL: cannot move process")


@pytest.mark.parametrize("config, want, says", [
    ("CONFIG_MEMCG=y\n", 1, "FAIL: kernel built with CONFIG_MEMCG=y has no cgroup v2 memory controller"),
    ("# CONFIG_MEMCG is not set\n", 4, "SKIP: no memory controller: the kernel was built without CONFIG_MEMCG"),
    (None, 1, "FAIL: no cgroup v2 memory controller"),
])
def test_memcg_missing_controller(tmp_path: Path, config: str | None, want: int, says: str) -> None:
    cgroup_root(tmp_path, controllers="cpu io pids")
    r = lib(f"memcg_make grp {96 << 20}", tmp_path, config)
    assert r.returncode == want and r.stdout.startswith(says), r.stdout


def test_odirect_sets_its_memcg_up_through_the_checked_helpers() -> None:
    text = (GUESTS / "odirect.sh").read_text()
    assert "memcg_make " in text and "memcg_join " in text
    assert not any(f in text for f in ("> \"$cg/", "subtree_control\"", "memory.max\"", "cgroup.procs\""))


def runner_fakes(fake: Path) -> None:
    """The files runner.sh writes or reads besides tainted and vmstat, as empty or quiet fakes."""
    for name in ("drop_caches", "stat_refresh", "kmsg", "compact_memory"):
        (fake / name).write_text("")
    (fake / "nr_hugepages").write_text("0\n")
    (fake / "nr_overcommit_hugepages").write_text("0\n")
    (fake / "loadavg").write_text("0.00 0.01 0.05 1/90 100\n")
    (fake / "meminfo").write_text("MemTotal: 2000000 kB\nMemFree: 1500000 kB\nHugePages_Total: 0\nHugePages_Free: 0\n")


def runner_binds(fake: Path) -> dict[str, Path]:
    """Where runner.sh's fakes go (none of the host's real files is written)."""
    return {"/proc/sys/kernel/tainted": fake / "tainted", "/proc/vmstat": fake / "vmstat",
            "/proc/sys/vm/drop_caches": fake / "drop_caches", "/proc/sys/vm/stat_refresh": fake / "stat_refresh",
            "/proc/sys/vm/compact_memory": fake / "compact_memory", "/proc/loadavg": fake / "loadavg",
            "/proc/meminfo": fake / "meminfo", "/dev/kmsg": fake / "kmsg",
            "/proc/sys/vm/nr_hugepages": fake / "nr_hugepages",
            "/proc/sys/vm/nr_overcommit_hugepages": fake / "nr_overcommit_hugepages"}


PINS_BALANCED = "nr_foll_pin_acquired 10\nnr_foll_pin_released 10\n"


@dataclass(frozen=True)
class RunnerWorld:
    """runner.sh's world under tmp: its results folder (out), the fakes of the kernel files it
    reads and writes (fake), and a bin/ of stub commands put first on its PATH."""
    tmp: Path

    @property
    def out(self) -> Path:
        return self.tmp / "out"

    @property
    def fake(self) -> Path:
        return self.tmp / "fake"

    @property
    def bin(self) -> Path:
        return self.tmp / "bin"

    def stub(self, name: str, body: str = "exit 0") -> None:
        """A command of the guest replaced by a bash script (sync, sleep)."""
        (self.bin / name).write_text(f"#!/bin/bash\n{body}\n")
        (self.bin / name).chmod(0o755)

    def plan(self, *workloads: tuple[str, str] | tuple[str, str, str]) -> None:
        """plan.tsv: (name, script[, params]): script is an existing file's absolute path, or a
        body written to <name>.sh."""
        rows = []
        for name, script, *params in workloads:
            path = Path(script)
            if not (path.is_absolute() and path.is_file()):
                path = self.tmp / f"{name}.sh"
                path.write_text(f"{script}\n")
            rows.append(f"{name}\t60\t{path}\t{''.join(params)}\n")
        (self.out / "plan.tsv").write_text("".join(rows))

    def run(self, settle: int = 1, page_owner: str = "page_owner",
            binds: dict[str, Path] | None = None) -> subprocess.CompletedProcess[str]:
        """runner.sh on out, PAGE_OWNER read from fake/<page_owner> ("" leaves it unset)."""
        owner = f" PAGE_OWNER={self.fake / page_owner}" if page_owner else ""
        return private_ns(f"PATH={self.bin}:$PATH PIN_SETTLE={settle}{owner} bash {GUESTS / 'runner.sh'} {self.out}",
                          self.tmp, binds if binds is not None else runner_binds(self.fake))


def runner_world(tmp: Path, vmstat: str = PINS_BALANCED) -> RunnerWorld:
    """A world where nothing is tainted, the pins balance (unless vmstat says otherwise) and
    sync does nothing."""
    w = RunnerWorld(tmp)
    for d in (w.out, w.fake, w.bin):
        d.mkdir()
    runner_fakes(w.fake)
    (w.fake / "tainted").write_text("0\n")
    (w.fake / "vmstat").write_text(vmstat)
    w.stub("sync")
    return w


def test_runner_taint_windows_tile_the_run(tmp_path: Path) -> None:
    """A taint the runner's own work between two workloads sets (here: the page cache teardown
    after the first, through a fake sync) falls inside a workload's window."""
    w = runner_world(tmp_path, "nr_free_pages 1000\n" + PINS_BALANCED)
    fake, out = w.fake, w.out
    # the second sync (after workload a) taints the kernel, as a WARN in its teardown would
    w.stub("sync", f"echo x >> {fake}/syncs\n[ $(wc -l < {fake}/syncs) -eq 2 ] && echo 512 > {fake}/tainted\nexit 0")
    w.plan(*((n, "exit 0") for n in "abc"))
    r = w.run()
    assert r.returncode == 0, r.stdout + r.stderr
    taint = {f.name: f.read_text().strip() for f in out.glob("*tainted.*")}
    assert taint["tainted.start"] == taint["a.tainted.start"] == "0"
    assert taint["a.tainted.end"] == taint["b.tainted.start"] == "512"  # in a's window, no gap
    assert taint["b.tainted.end"] == taint["c.tainted.start"] and taint["c.tainted.end"] == taint["tainted.end"]
    assert [(out / f"{n}.rc").read_text().split()[0] for n in "abc"] == ["0", "0", "0"]
    assert (out / "a.vmstat.start").read_text() == PINS_BALANCED


def test_runner_baseline_waits_out_a_pin_in_flight(tmp_path: Path) -> None:
    """A pin another process holds for a moment (a 9p read through netfs) when the runner takes
    a workload's baseline must not make that workload a double unpin: the baseline is taken once
    two readings agree. Here the pin is in flight at the first reading and gone by the first
    sleep (a fake sleep ends it), as seen on a real 6.12 boot ("outstanding 1 -> 0" across smoke)."""
    w = runner_world(tmp_path, "nr_foll_pin_acquired 11\nnr_foll_pin_released 10\n")
    fake = w.fake
    (fake / "balanced").write_text("nr_foll_pin_acquired 11\nnr_foll_pin_released 11\n")
    w.stub("sleep", f"cp {fake}/balanced {fake}/vmstat")
    # the pin in flight ends by the runner's first sleep, or at the latest while the workload runs
    w.plan(("a", f"cp {fake}/balanced {fake}/vmstat"))
    r = w.run(settle=2)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (w.out / "a.rc").read_text().split()[0] == "0", (w.out / "a.log").read_text()


def run_mm_selftests(tmp: Path, results: dict[str, tuple[int, str]],
                     tests: str = "", env: str = "", hang: str = "", lib_extra: str = "") -> subprocess.CompletedProcess[str]:
    """guests/mm-selftests.sh with its setup stubbed (a lib.sh bound over the real one sources it,
    then replaces the helpers that touch the kernel) and a fake gcc whose "selftest" (results:
    program -> exit code, output) prints the given output, exits with the given code and appends
    its arguments to fake/<program>.args; the program named hang sleeps 30 s first. tests: the
    TESTS recipes (default: the programs); lib_extra: more shell after the stubs."""
    fake, bin_, run = tmp / "fake", tmp / "bin", tmp / "run"
    for d in (fake, bin_, run):
        d.mkdir(exist_ok=True)
    shutil.copy(LIB, fake / "real-lib.sh")
    (fake / "lib.sh").write_text(
        f". {fake}/real-lib.sh\n"
        "need_gup_test() { return 0; }; hugepages() { return 0; }; movable_hold() { return 0; }\n"
        "movable_release() { :; }; drop_ext4() { :; }; make_ext4() { mkdir -p \"$2\" && echo /dev/loop9; }\n"
        + lib_extra)
    for name, (rc, out) in results.items():
        (fake / f"{name}.out").write_text(out)
        (fake / f"{name}.rc").write_text(str(rc))
    (bin_ / "gcc").write_text(
        "#!/bin/bash\nwhile [ $# -gt 0 ]; do case $1 in -o) o=$2; shift ;; */mm/*.c) t=${t:-${1##*/}} ;; esac; shift; done\n"
        "t=${t%.c}; [ -n \"${o:-}\" ] || exit 0\n"
        f"printf '#!/bin/bash\\necho \"$*\" >> {fake}/%s.args; [ %s = {hang or '-'} ] && sleep 30\\n"
        f"[ -z \"${{THP_ENABLED:-}}\" ] || cat \"$THP_ENABLED\" >> {fake}/%s.thp\\n"
        # the Nth run (N > 1) prints <program>.outN and exits <program>.rcN when the test gave them
        f"n=$(wc -l < {fake}/%s.args); r=; [ $n -gt 1 ] && [ -e {fake}/%s.out$n ] && r=$n\\n"
        f"cat {fake}/%s.out$r; exit $(cat {fake}/%s.rc$r)\\n' \"$t\" \"$t\" \"$t\" \"$t\" \"$t\" \"$t\" \"$t\" "
        "> \"$o\" && chmod +x \"$o\"\n")
    (bin_ / "gcc").chmod(0o755)
    tests = tests or ",".join(results)
    return private_ns(f"PATH={bin_}:$PATH BENCH_OUT={tmp} BENCH_SRC={tmp} BENCH_BUILD={tmp} THP_SIZES=all {env} "
                      f"TESTS={tests} bash {GUESTS / 'mm-selftests.sh'}",
                      tmp, {str(LIB): fake / "lib.sh", "/run": run})


PASSED = "ok 1 a\n" + totals(1)


@pytest.mark.parametrize("results, want, last", [
    ({"cow": (0, PASSED), "gup_longterm": (0, PASSED)}, 0, "gup_longterm totals: pass:1"),
    ({"cow": (0, PASSED), "gup_longterm": (4, totals(skip=3))}, 4,
     "SKIP: gup_longterm skipped as a whole although the kernel has their config; cow ran and passed"),
    ({"cow": (0, totals(skip=9)), "gup_longterm": (0, PASSED)}, 4, "SKIP: cow skipped as a whole"),
    ({"cow": (4, ""), "gup_longterm": (4, "")}, 4,
     "SKIP: every selftest skipped as a whole (cow gup_longterm): nothing was checked"),
    ({"cow": (0, "not ok 1 x\n" + totals(0, fail=1)), "gup_longterm": (4, "")}, 1, "gup_longterm: skipped"),
])
def test_mm_selftests_never_passes_what_did_not_run(tmp_path: Path, results: dict[str, tuple[int, str]],
                                                    want: int, last: str) -> None:
    r = run_mm_selftests(tmp_path, results)
    assert r.returncode == want, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1].startswith(last), r.stdout


def mm_recipes() -> dict[str, tuple[int, list[str]]]:
    """guests/mm-selftests.tests: recipe name -> (hugetlb pages, program and arguments)."""
    recipes: dict[str, tuple[int, list[str]]] = {}
    for line in (GUESTS / "mm-selftests.tests").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, pages, *argv = line.split()
            if argv[0].startswith("thp="):  # the THP mode of its run, not the program
                argv = argv[1:]
            assert name not in recipes, f"recipe {name} twice"
            recipes[name] = (int(pages), argv)
    return recipes


def test_mm_selftests_runs_each_recipe_with_its_arguments(tmp_path: Path) -> None:
    """Two recipes of one program (ksm_tests) build it once and run it with each one's arguments."""
    r = run_mm_selftests(tmp_path, {"ksm_tests": (0, PASSED), "cow": (0, PASSED)},
                         tests="ksm_tests-merge,cow,ksm_tests-unmerge")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (tmp_path / "fake" / "ksm_tests.args").read_text() == "-M -p 10\n-U\n"
    assert (tmp_path / "fake" / "cow.args").read_text() == "\n"
    assert re.search(r"^ksm_tests-unmerge: exit 0 after \d+\.\d s$", r.stdout, re.M), r.stdout


def test_mm_selftests_runs_a_thp_recipe_in_its_mode_and_puts_the_mode_back(tmp_path: Path) -> None:
    """hmm-tests' recipe (thp=madvise: 6.12's make_device_exclusive_range() refuses PTE-mapped THPs)
    runs with transparent_hugepage/enabled at madvise and leaves it as it was; cow, before and
    after it, runs in the mode it found."""
    knob = tmp_path / "thp-enabled"
    knob.write_text("[always] madvise never\n")
    r = run_mm_selftests(tmp_path, {"cow": (0, PASSED), "hmm-tests": (0, PASSED)}, tests="cow,hmm-tests",
                         env=f"THP_ENABLED={knob}")
    assert r.returncode == 0, r.stdout + r.stderr
    fake = tmp_path / "fake"
    assert (fake / "hmm-tests.thp").read_text() == "madvise\n"
    assert (fake / "cow.thp").read_text() == "[always] madvise never\n"
    assert knob.read_text() == "always\n"  # what the kernel's file takes back
    assert (fake / "hmm-tests.args").read_text() == "-V hmm_device_coherent -V hmm2_device_coherent\n"
    assert "== hmm-tests: hmm-tests -V hmm_device_coherent -V hmm2_device_coherent (transparent_hugepage/enabled:" \
           " madvise)" in r.stdout


def test_mm_selftests_refuses_a_test_it_has_no_recipe_for(tmp_path: Path) -> None:
    r = run_mm_selftests(tmp_path, {"cow": (0, PASSED)}, tests="cow,no_such_test")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL: TESTS names 'no_such_test', which guests/mm-selftests.tests has no recipe for" in r.stdout
    assert not (tmp_path / "fake" / "cow.args").exists()  # refused before anything ran


def test_mm_selftests_stops_a_hanging_test_and_runs_the_next(tmp_path: Path) -> None:
    r = run_mm_selftests(tmp_path, {"madv_populate": (0, PASSED), "cow": (0, PASSED)},
                         env="TEST_TIMEOUT=1", hang="madv_populate")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL: madv_populate did not finish within TEST_TIMEOUT=1 s" in r.stdout
    assert "cow totals: pass:1" in r.stdout  # the next one still ran


# The first try of 6.12's khugepaged in run 20261207-195208-prove/00-control (TCG, ZONE_MOVABLE
# held): MADV_COLLAPSE could not allocate its huge page (thp_collapse_alloc_failed +1).
KHUGEPAGED_NOFIT = ("Run test: collapse_compound_extreme (khugepaged:anon)\n"
                    "Collapse PTE table full of different compound pages... \x1b[31mFail: Bad return value\x1b[0m\n")


@pytest.mark.parametrize("second, nofit, want", [
    ((0, "Restore THP and khugepaged settings... OK\n"), 1, 0),  # the premise back: judged by the second try
    ((1, KHUGEPAGED_NOFIT), 1, 1),  # fails again: a failure
    (None, 0, 1),  # no allocation failed: no second try, a failure
])
def test_mm_selftests_tries_once_more_a_program_that_failed_for_want_of_a_huge_page(
        tmp_path: Path, second: tuple[int, str] | None, nofit: int, want: int) -> None:
    fake = tmp_path / "fake"
    fake.mkdir()
    if second:
        (fake / "khugepaged.out2").write_text(second[1])
        (fake / "khugepaged.rc2").write_text(str(second[0]))
    # the allocation-failure counter: 0 when read before the first try, nofit after it
    counter = f"thp_alloc_failures() {{ [ -e /run/read ] && echo {nofit} || {{ touch /run/read; echo 0; }}; }}\n"
    r = run_mm_selftests(tmp_path, {"khugepaged": (1, KHUGEPAGED_NOFIT)}, lib_extra=counter)
    assert r.returncode == want, r.stdout + r.stderr
    assert (fake / "khugepaged.args").read_text().count("\n") == (2 if nofit else 1), r.stdout
    if nofit:
        assert "# khugepaged: 1 huge page allocation(s) failed during its run" in r.stdout
        assert "# first try: FAIL: khugepaged exit 1: Collapse PTE table full of different compound pages..." \
            in r.stdout
        assert (tmp_path / "mm-selftests.khugepaged.out.first").read_text() == KHUGEPAGED_NOFIT
    fails = [ln for ln in r.stdout.splitlines() if ln.startswith("FAIL:")]
    assert bool(fails) == (want == 1), r.stdout


def test_the_default_list_is_the_one_measured() -> None:
    """The default set's list ran and passed, each program in the order of the yaml, on a real
    6.12 boot (tests/data/guest/README.md): a list changed without measuring it again fails here."""
    log = (DATA_GUEST / "mm-selftests-default-6.12-tcg.log").read_text()
    tests = yaml.safe_load((GUESTS / "mm-selftests.yaml").read_text())["params"]["TESTS"]["default"].split(",")
    assert re.findall(r"^== ([^:]+):", log, re.M) == tests
    assert set(re.findall(r"^(\S+): exit (\d+) after", log, re.M)) == {(t, "0") for t in tests}
    assert "FAIL" not in log and "skipped as a whole" not in log


def test_the_soft_dirty_selftest_of_the_default_list_catches_an_outside_bug(tmp_path: Path) -> None:
    """patches/redteam/mprotect-softdirty-vmflag (round 2): can_change_pte_writable() with the
    soft-dirty test inverted; the kernel's own soft-dirty selftest, in the default list since the
    programs are built on the host, fails its mprotect case (real output, run 20261206-080512)."""
    real = DATA_GUEST / "mm-selftests-soft-dirty-mprotect-softdirty-vmflag-6.12-tcg.out"
    assert "not ok 10 Test test_mprotect-anon soft-dirty after rewritten" in real.read_text()
    r = lib(f"ksft_verdict soft-dirty 1 {real}", tmp_path, "")
    assert r.returncode == 1 and "FAIL: soft-dirty exit 1: not ok 10 Test test_mprotect-anon" in r.stdout
    tests = yaml.safe_load((GUESTS / "mm-selftests.yaml").read_text())["params"]["TESTS"]["default"].split(",")
    assert "soft-dirty" in tests


def test_uffd_unit_tests_report_counts_as_its_totals(tmp_path: Path) -> None:
    """A real 6.12 uffd-unit-tests run without CONFIG_PTE_MARKER_UFFD_WP: 38 of its 66 cases skip
    (the write-protect ones), 28 pass; the judge reads its own report line, and a run whose every
    case skipped is no pass."""
    real = DATA_GUEST / "uffd-unit-tests-6.12-tcg.out"
    r = lib(f"ksft_verdict uffd-unit-tests 0 {real}", tmp_path, "")
    assert r.returncode == 0 and "uffd-unit-tests totals: pass:28 fail:0 xfail:0 xpass:0 skip:38" in r.stdout, r.stdout
    none = tmp_path / "none.out"
    none.write_text(re.sub(r"pass=\d+, skip=\d+", "pass=0, skip=66", real.read_text()))
    assert lib(f"ksft_verdict uffd-unit-tests 0 {none}", tmp_path, "").returncode == 4


def test_memfd_secret_fails_when_gup_fast_reaches_secretmem(tmp_path: Path) -> None:
    """Real memfd_secret outputs: a healthy 6.12, and 6.12 with the scratch bug of
    tests/data/guest/mm-selftests-secretmem-gup-fast.patch (GUP-fast no longer refuses
    secretmem folios: vmsplice gets at the secret page)."""
    healthy = lib(f"ksft_verdict memfd_secret 0 {DATA_GUEST / 'memfd_secret-6.12-tcg.out'}", tmp_path, "")
    assert healthy.returncode == 0 and "memfd_secret totals: pass:5 fail:0" in healthy.stdout, healthy.stdout
    bug = lib(f"ksft_verdict memfd_secret 1 {DATA_GUEST / 'memfd_secret-secretmem-gup-fast-6.12-tcg.out'}", tmp_path, "")
    assert bug.returncode == 1, bug.stdout
    # memfd_secret names no [RUN] case: the failure line stands alone
    assert "FAIL: memfd_secret exit 1: not ok 2 vmsplice: unexpected memory access with fresh page\n" in bug.stdout
    log = (DATA_GUEST / "mm-selftests-secretmem-gup-fast-6.12-tcg.log").read_text()
    assert "FAIL: memfd_secret exit 1" in log and log.count("FAIL") == 1  # nothing else failed


def test_mm_selftests_recipes_name_6_12_programs_and_the_sets_name_recipes() -> None:
    """Every TESTS default of both yamls is a recipe, and each recipe names one program once
    (a recipe that names the same command twice would just double its time)."""
    recipes = mm_recipes()
    commands = [" ".join(argv) for _, argv in recipes.values()]
    assert len(commands) == len(set(commands))
    for name in ("mm-selftests", "mm-selftests-deep"):
        tests = yaml.safe_load((GUESTS / f"{name}.yaml").read_text())["params"]["TESTS"]["default"].split(",")
        assert tests and set(tests) <= set(recipes), set(tests) - set(recipes)
        assert len(tests) == len(set(tests))
    src = Path.home() / ".cache/pinbench/linux-source-6.12/tools/testing/selftests/mm"
    if src.is_dir():  # the 6.12 tree, where this machine has it unpacked
        missing = {argv[0] for _, argv in recipes.values() if not (src / f"{argv[0]}.c").is_file()}
        assert not missing, missing


@pytest.mark.parametrize("release, rc", [("6.12.117", 1), ("5.7.0-rc1", 1), ("5.6.19", 4)])
def test_pin_balance_without_counters_fails_on_kernels_that_have_them(tmp_path: Path, release: str, rc: int) -> None:
    vmstat = tmp_path / "vmstat"
    vmstat.write_text("nr_free_pages 1000\nnr_zone_inactive_anon 7\n")  # a kernel that lost nr_foll_pin_*
    r = private_ns(f"uname() {{ echo {release}; }}; export -f uname\n"
                   f"BENCH_OUT={tmp_path} bash {GUESTS / 'pin-balance.sh'}", tmp_path, {"/proc/vmstat": vmstat})
    assert r.returncode == rc, r.stdout + r.stderr
    assert r.stdout.startswith("FAIL: kernel 6.12.117 has no nr_foll_pin_*" if release == "6.12.117"
                               else "FAIL:" if rc == 1 else "SKIP:")


# -- timing-dependent checks say what they measured when they fail (issue 21 item 13) ---------


def test_pin_balance_fail_says_how_long_it_waited_and_what_it_saw(tmp_path: Path) -> None:
    """A count still falling at the deadline is slow teardown on a loaded machine, not a leak:
    the message carries the wait and the counts at the first and last look to tell them apart."""
    start, now = tmp_path / "vmstat.start", tmp_path / "vmstat"
    start.write_text("nr_foll_pin_acquired 100\nnr_foll_pin_released 100\n")
    now.write_text("nr_foll_pin_acquired 164\nnr_foll_pin_released 100\n")
    r = private_ns(f"SETTLE=1 BENCH_OUT={tmp_path} bash {GUESTS / 'pin-balance.sh'}", tmp_path, {"/proc/vmstat": now})
    assert r.returncode == 1, r.stdout + r.stderr
    fail = next(ln for ln in r.stdout.splitlines() if ln.startswith("FAIL:"))
    assert re.fullmatch(r"FAIL: pin imbalance: 64 page pin\(s\) still held after waiting [12]s \(limit 1s, \d+ looks;"
                        r" outstanding 0 at start, 64 at the first look, 64 at the last\) \(leak, or a double unpin"
                        r" if negative\)", fail), fail


def test_wait_listen_says_how_long_it_waited(tmp_path: Path) -> None:
    r = lib("ss() { :; }; wait_listen 18515 2", tmp_path)
    assert r.returncode == 1, r.stderr  # a loaded machine may take a second more than the limit
    assert re.search(r"nothing listens on port 18515 after [23]s \(limit 2s\)", r.stderr), r.stderr


def test_client_server_says_a_time_limit_was_hit_and_after_how_long(tmp_path: Path) -> None:
    r = lib("ss() { echo LISTEN; }; PORT=1; client_server demo 1 -- bash -c 'sleep 5' x", tmp_path)
    # seconds are whole and a loaded machine adds one: the limit and the reason are what matter
    assert re.search(r"FAIL: demo client: exit 124 after [12]s \(limit 1s: timed out\)", r.stdout), r.stdout + r.stderr
    assert re.search(r"FAIL: demo server: exit 124 after [12]s \(limit 1s: timed out\)", r.stdout), r.stdout
    quick = lib("ss() { echo LISTEN; }; PORT=1; client_server demo 5 -- false", tmp_path)
    assert re.search(r"FAIL: demo client: exit 1 after [01]s \(limit 5s\)", quick.stdout), quick.stdout


def test_runner_saves_gcov_counters_per_window_with_cat(tmp_path: Path) -> None:
    """BENCH_COVERAGE=1: the counters are saved once before the first workload (boot) and after
    each workload, reset before each; the fake .gcda says which window wrote it, and a workload
    only sees the reset file freshly written with 0."""
    w = runner_world(tmp_path)
    debug = tmp_path / "debug"
    gcda = debug / "gcov" / "root" / "build" / "mm" / "gup.gcda"
    gcda.parent.mkdir(parents=True)
    gcda.write_text("boot\n")
    (debug / "gcov" / "reset").write_text("")
    reset = "/sys/kernel/debug/gcov/reset"
    body = (f'[ "$(cat {reset})" = 0 ] || exit 1; : > {reset}\n'
            f'echo "$BENCH_WORKLOAD" > /sys/kernel/debug/gcov/root/build/mm/gup.gcda')
    w.plan(("a", body), ("b", body))
    (w.out / "env").write_text("BENCH_COVERAGE=1\n")
    f = w.fake
    r = w.run(page_owner="", binds={
        "/proc/sys/kernel/tainted": f / "tainted", "/proc/vmstat": f / "vmstat",
        "/proc/sys/vm/drop_caches": f / "drop_caches", "/proc/sys/vm/stat_refresh": f / "stat_refresh",
        "/dev/kmsg": f / "kmsg", "/sys/kernel/debug": debug})
    assert r.returncode == 0, r.stdout + r.stderr
    assert [(w.out / f"{n}.rc").read_text().split()[0] for n in "ab"] == ["0", "0"]
    saved = {n: (w.out / "coverage" / n / "root" / "build" / "mm" / "gup.gcda").read_text() for n in ("boot", "a", "b")}
    assert saved == {"boot": "boot\n", "a": "a\n", "b": "b\n"}


def test_runner_saves_no_counters_unless_asked(tmp_path: Path) -> None:
    text = (GUESTS / "coverage.sh").read_text()
    assert 'cov_on() { [ "${BENCH_COVERAGE:-0}" = 1 ]; }' in text
    assert text.count("cov_on || return 0") == 2  # both cov_save and cov_reset
    assert 'cat "$GCOV_FS/$f"' in text and "cp " not in text.replace("cp or tar", "")


# -- the pages oracle's readings (guests/pages.sh) and the pin baselines (guests/pins.sh) --------


def _owner(tgid: int, comm: str = "cow") -> str:
    return (f"Page allocated via order 0, mask 0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), pid {tgid}, tgid {tgid}"
            f" ({comm}), ts 5106 ns\nPFN 0x11a3f type Movable Block 141 type Movable Flags 0x4000000000000028"
            "(uptodate|lru|node=0|zone=1)\n post_alloc_hook+0x1a4/0x1c0\n iter_to_pipe+0x9f/0x250\n\n")


@pytest.mark.parametrize("lo, hi, inside, outside", [
    (100, 200, [150, 200], [100, 50, 201]),
    (32700, 40, [32701, 32768, 1, 40], [32700, 41, 300]),  # the pid counter wrapped during the workload
])
def test_runner_keeps_the_page_owner_records_of_the_workloads_pids(tmp_path: Path, lo: int, hi: int,
                                                                    inside: list[int], outside: list[int]) -> None:
    w = runner_world(tmp_path)
    fake, out = w.fake, w.out
    (fake / "loadavg").write_text(f"0.00 0.01 0.05 1/90 {lo}\n")
    (fake / "page_owner").write_text("".join(_owner(t) for t in sorted(inside + outside)))
    w.plan(("w", f"echo '0.50 0.01 0.05 1/90 {hi}' > {fake}/loadavg"))  # the pids it used
    r = w.run()
    assert r.returncode == 0, r.stdout + r.stderr
    assert (out / "w.pids").read_text().split() == [str(lo), str(hi)]
    kept = (out / "w.page_owner").read_text()
    assert sorted(int(t) for t in re.findall(r", tgid (\d+) ", kept)) == sorted(inside)
    assert f"pinbench: {len(inside + outside)} record(s) read, {len(inside)} in the window, {len(inside)} kept" in kept
    assert (out / "page_owner.state").read_text() == "present\n"
    assert (out / "w.meminfo.start").read_text().startswith("MemTotal:") and (out / "w.meminfo.end").is_file()
    assert (out / "w.alive").read_text().split()  # the pids alive around the read (here: the host's)
    looked_up = [ln.split() for ln in (out / "w.mapcount").read_text().splitlines()]  # the host's kpagecount
    assert len(looked_up) == len(inside) and all(pfn == "0x11a3f" and n.isdigit() for pfn, n in looked_up)


def _anon_owner(tgid: int, pfn: int) -> str:
    """A small anonymous page's record as 6.12 prints it (fault path inlined, zeroed movable mask)."""
    return (f"Page allocated via order 0, mask 0x140dca(GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO), pid {tgid},"
            f" tgid {tgid} (pin_matrix), ts 5106 ns\nPFN {pfn:#x} type Movable Block 141 type Movable Flags"
            " 0xe0600002003c(referenced|uptodate|dirty|lru|swapbacked|node=0|zone=3)\n vma_alloc_folio_noprof+0x52/0x90\n"
            " __handle_mm_fault+0x10b0/0x1770\n handle_mm_fault+0x7f/0x290\n\n")


def test_runner_reads_page_owner_again_after_a_pause_when_anonymous_pages_are_left(tmp_path: Path) -> None:
    """A release the kernel defers (an io_uring ring's exit work) may not have run at the first
    read: the runner reads again after a pause, and the host judges the second reading; the first
    stays beside it. A page still there at the second read is still reported."""
    w = runner_world(tmp_path)
    fake, out = w.fake, w.out
    (fake / "loadavg").write_text("0.00 0.01 0.05 1/90 100\n")
    (fake / "page_owner").write_text(_anon_owner(150, 0x38a89) + _anon_owner(151, 0x38a90) + _owner(160))
    (fake / "later").write_text(_anon_owner(151, 0x38a90) + _owner(160))  # the deferred release ran
    w.stub("sleep", f'[ "$1" = 3 ] && cp {fake}/later {fake}/page_owner; exit 0')  # the pause pages.sh takes
    w.plan(("w", f"echo '0.50 0.01 0.05 1/90 200' > {fake}/loadavg"))
    r = w.run()
    assert r.returncode == 0, r.stdout + r.stderr
    first, kept = (out / "w.page_owner.first").read_text(), (out / "w.page_owner").read_text()
    assert re.findall(r", tgid (\d+) ", first) == ["150", "151", "160"]
    assert re.findall(r", tgid (\d+) ", kept) == ["151", "160"]
    assert "pinbench: 2 record(s) read, 2 in the window, 2 kept" in kept


def test_runner_reads_page_owner_once_when_no_anonymous_page_is_left(tmp_path: Path) -> None:
    w = runner_world(tmp_path)
    fake, out = w.fake, w.out
    (fake / "loadavg").write_text("0.00 0.01 0.05 1/90 100\n")
    (fake / "page_owner").write_text(_owner(150))
    w.stub("sleep", f'[ "$1" = 3 ] && echo slept >> {fake}/slept; exit 0')
    w.plan(("w", f"echo '0.50 0.01 0.05 1/90 200' > {fake}/loadavg"))
    r = w.run()
    assert r.returncode == 0, r.stdout + r.stderr
    assert not (fake / "slept").exists() and not (out / "w.page_owner.first").exists() and re.findall(r", tgid (\d+) ", (out / "w.page_owner").read_text()) == ["150"]


def test_runner_without_page_owner_still_reads_the_counters(tmp_path: Path) -> None:
    w = runner_world(tmp_path)
    w.plan(("w", "exit 0"))
    r = w.run(page_owner="no-such-file")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (w.out / "page_owner.state").read_text() == "missing\n"
    assert (w.out / "w.meminfo.end").is_file() and not (w.out / "w.page_owner").exists()


def test_pin_balance_baseline_waits_out_a_pin_in_flight(tmp_path: Path) -> None:
    """The runner's snapshot at guest start is pin-balance's baseline: a 9p read in flight then
    (netfs pins the reader's buffer for a moment) made pin-balance see a double unpin at the end
    of a clean run. The snapshot is now taken once two readings agree, as each workload's is."""
    w = runner_world(tmp_path, "nr_foll_pin_acquired 11\nnr_foll_pin_released 10\n")  # a read in flight
    (w.fake / "balanced").write_text("nr_foll_pin_acquired 11\nnr_foll_pin_released 11\n")
    w.stub("sleep", f"cp {w.fake}/balanced {w.fake}/vmstat")  # the read ends
    w.plan(("pin-balance", str(GUESTS / "pin-balance.sh"), "SETTLE=1"))
    r = w.run(settle=2)
    assert r.returncode == 0, r.stdout + r.stderr
    log = (w.out / "pin-balance.log").read_text()
    assert (w.out / "pin-balance.rc").read_text().split()[0] == "0", log
    assert "OK: pins balanced" in log


def test_runner_gives_the_hugetlb_pool_back_its_size_before_the_workload(tmp_path: Path) -> None:
    """A workload that grew the pool and left it (rxe) left free huge pages allocated in its
    name: the runner shrinks the pool back before the readings (a page in use stays, as surplus)."""
    w = runner_world(tmp_path)
    fake = w.fake
    (fake / "nr_hugepages").write_text("2\n")
    w.plan(("w", f"echo 4 > {fake}/nr_overcommit_hugepages; echo 6 > {fake}/nr_hugepages"))
    r = w.run()
    assert r.returncode == 0, r.stdout + r.stderr
    assert (fake / "nr_hugepages").read_text().split() == ["2"]
    assert (fake / "nr_overcommit_hugepages").read_text().split() == ["0"]


DATA_GUEST = Path(__file__).parent / "data" / "guest"


def test_fio_verified_needs_the_verify_phase(tmp_path: Path) -> None:
    """A fio job cut by --runtime exits 0 without verifying a byte: that is no pass."""
    ok = lib(f"fio_verified 0 {DATA_GUEST / 'fio-verified-3.33.out'} odirect", tmp_path)
    assert ok.returncode == 0 and "READ:" in ok.stdout
    cut = lib(f"fio_verified 0 {DATA_GUEST / 'fio-runtime-cut-3.33.out'} odirect", tmp_path)
    assert cut.returncode == 1 and "FAIL: odirect: fio wrote but never read back to verify" in cut.stdout
    failed = lib(f"fio_verified 1 {DATA_GUEST / 'fio-verified-3.33.out'} odirect", tmp_path)
    assert failed.returncode == 1 and "FAIL: odirect: fio exit 1" in failed.stdout


def test_a_skip_because_the_operation_failed_fails(tmp_path: Path) -> None:
    """cow's "MADV_PAGEOUT did not work" skips: the machine's fault without swap, the kernel's with it."""
    healthy = DATA_GUEST / "cow-6.12-tcg.out"
    no_swap = DATA_GUEST / "cow-no-swap-6.12-tcg.out"
    assert lib(f"ksft_failed_skips cow {healthy} on", tmp_path).returncode == 0
    assert lib(f"ksft_failed_skips cow {no_swap} off", tmp_path).returncode == 0
    r = lib(f"ksft_failed_skips cow {no_swap} on", tmp_path)
    assert r.returncode == 1
    assert r.stdout.startswith("FAIL: cow: 84 case(s) skipped because the operation under test failed: ok ")
    assert "# SKIP MADV_PAGEOUT did not work" in r.stdout
    pin = tmp_path / "pin.out"
    pin.write_text(healthy.read_text().replace("# SKIP MADV_COLLAPSE failed: Invalid argument",
                                               "# SKIP PIN_LONGTERM_TEST_START failed"))
    assert lib(f"ksft_failed_skips cow {pin} off", tmp_path).returncode == 1


@pytest.mark.parametrize("ran, acquired, rc", [(("iouring",), 100, 1), (("iouring",), 164, 0), ((), 100, 0),
                                               (("smoke",), 100, 0)])
def test_pin_balance_fails_frozen_counters_after_a_pinning_workload(tmp_path: Path, ran: tuple[str, ...],
                                                                      acquired: int, rc: int) -> None:
    """Two frozen counters balance: after a workload that always pins, acquired must have moved."""
    start, now = tmp_path / "vmstat.start", tmp_path / "vmstat"
    start.write_text("nr_foll_pin_acquired 100\nnr_foll_pin_released 100\n")
    now.write_text(f"nr_foll_pin_acquired {acquired}\nnr_foll_pin_released {acquired}\n")
    for w in ran:
        (tmp_path / f"{w}.rc").write_text("0 1 2\n")
    r = private_ns(f"SETTLE=1 BENCH_OUT={tmp_path} bash {GUESTS / 'pin-balance.sh'}", tmp_path, {"/proc/vmstat": now})
    assert r.returncode == rc, r.stdout + r.stderr
    if rc:
        assert "FAIL: nr_foll_pin_acquired did not move although iouring ran" in r.stdout


# -- releases a workload declared beyond the acquisitions counted (fs/direct-io.c on 6.12) ------


@pytest.mark.parametrize("declared, rc", [(None, 1), ("64\n", 0), ("63\n", 1), ("lots\n", 1)])
def test_pin_balance_adds_back_the_declared_uncounted_releases(tmp_path: Path, declared: str | None,
                                                               rc: int) -> None:
    """6.12's fs/direct-io.c adds pins with folio_add_pin() (no nr_foll_pin_acquired) and
    drops them with unpin_user_page() (a release): pin-matrix's dio/vfat cells declare the
    excess they measured. Exactly that excess balances; a wrong or malformed one does not."""
    start, now = tmp_path / "vmstat.start", tmp_path / "vmstat"
    start.write_text("nr_foll_pin_acquired 100\nnr_foll_pin_released 100\n")
    now.write_text("nr_foll_pin_acquired 200\nnr_foll_pin_released 264\n")
    if declared is not None:
        (tmp_path / "pin-matrix.pins-uncounted").write_text(declared)
    r = private_ns(f"SETTLE=1 BENCH_OUT={tmp_path} bash {GUESTS / 'pin-balance.sh'}", tmp_path, {"/proc/vmstat": now})
    assert r.returncode == rc, r.stdout + r.stderr
    if rc:
        assert "FAIL: pin imbalance" in r.stdout
    else:
        assert "(64 uncounted releases declared added back)" in r.stdout and "OK: pins balanced" in r.stdout


@pytest.mark.parametrize("declared, rc", [(None, 1), ("64\n", 0), ("100\n", 1)])
def test_runner_pin_check_adds_back_the_workloads_declared_uncounted_releases(tmp_path: Path,
                                                                            declared: str | None, rc: int) -> None:
    """The runner's per-workload balance takes the workload's own declaration only."""
    out, fake = tmp_path / "out", tmp_path / "fake"
    for d in (out, fake):
        d.mkdir()
    runner_fakes(fake)
    (fake / "tainted").write_text("0\n")
    (fake / "vmstat").write_text("nr_foll_pin_acquired 10\nnr_foll_pin_released 10\n")
    write = f"printf '{declared}' > $BENCH_OUT/$BENCH_WORKLOAD.pins-uncounted\n" if declared else ""
    # the workload's I/O: 100 pins counted as acquired, 164 releases
    (tmp_path / "w.sh").write_text(f"printf 'nr_foll_pin_acquired 110\\nnr_foll_pin_released 174\\n' > {fake}/vmstat\n"
                                   f"{write}exit 0\n")
    (out / "plan.tsv").write_text(f"w\t60\t{tmp_path}/w.sh\t\n")
    r = private_ns(f"PIN_SETTLE=1 PAGE_OWNER={fake}/page_owner bash {GUESTS / 'runner.sh'} {out}",
                   tmp_path, runner_binds(fake))
    assert r.returncode == 0, r.stdout + r.stderr
    assert (out / "w.rc").read_text().split()[0] == str(rc), (out / "w.log").read_text()
    if rc:
        assert "double unpin" in (out / "w.log").read_text() or "leaked" in (out / "w.log").read_text()


def test_hmm_tests_pass_at_thp_madvise_and_fail_their_exclusive_cases_at_always(tmp_path: Path) -> None:
    """Real hmm-tests outputs on a healthy 6.12 (TEST_HMM built in, the coherent variants left out):
    at THP madvise (its recipe, run 20261207-174004-baseline) every case passes in 4.7 s; at THP
    always (run 20261207-173015-baseline) the three exclusive cases fail with EBUSY, since 6.12's
    make_device_exclusive_range() refuses PTE-mapped THPs: why the recipe says thp=madvise."""
    ok = lib(f"ksft_verdict hmm-tests 0 {DATA_GUEST / 'hmm-tests-6.12-tcg.out'}", tmp_path, "")
    assert ok.returncode == 0 and "hmm-tests totals: pass:29 fail:0" in ok.stdout, ok.stdout
    bad = lib(f"ksft_verdict hmm-tests 1 {DATA_GUEST / 'hmm-tests-thp-always-6.12-tcg.out'}", tmp_path, "")
    assert bad.returncode == 1 and "FAIL: hmm-tests exit 1: not ok 22 hmm.hmm_device_private.exclusive" in bad.stdout
    out = (DATA_GUEST / "hmm-tests-thp-always-6.12-tcg.out").read_text()
    assert out.count("Expected ret (-16) == 0 (0)") == 3
    assert mm_recipes()["hmm-tests"] == (4, ["hmm-tests", "-V", "hmm_device_coherent", "-V", "hmm2_device_coherent"])
    assert "hmm-tests               4    thp=madvise hmm-tests" in (GUESTS / "mm-selftests.tests").read_text()


@pytest.mark.parametrize("fill, want_mkfs", [("stale", "-q -F -E nodiscard"), ("", "-q -F")])
def test_make_ext4_stale_fills_the_image_before_mkfs(tmp_path: Path, fill: str, want_mkfs: str) -> None:
    """With stale the free blocks hold text, not zeros, and mkfs may not discard them (it punches
    a regular file's blocks: zeros again); without it the image stays sparse."""
    run, bin_ = tmp_path / "run", tmp_path / "bin"
    run.mkdir()
    bin_.mkdir()
    for tool, body in (("mkfs.ext4", f'echo "${{@:1:$#-1}}" > {tmp_path}/mkfs.args'), ("losetup", "echo /dev/loop9"),
                       ("mount", "true")):
        (bin_ / tool).write_text(f"#!/bin/bash\n{body}\n")
        (bin_ / tool).chmod(0o755)
    r = private_ns(f"PATH={bin_}:$PATH; . {LIB}; make_ext4 1 {tmp_path}/mnt {fill}; "
                   f"cp /run/pinbench-mnt.img {tmp_path}/img", tmp_path, {"/run": run})
    assert r.returncode == 0 and r.stdout == "/dev/loop9\n", r.stdout + r.stderr
    assert (tmp_path / "mkfs.args").read_text().strip() == want_mkfs
    img = (tmp_path / "img").read_bytes()
    assert len(img) == 1 << 20
    assert (img.count(b"\0") == 0) == bool(fill)  # every byte old text, or a sparse file of zeros
