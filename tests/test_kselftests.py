"""guests/kselftests.sh: the tree's own selftests outside mm/, its recipes and its judging, run on
the host (the guest runs the host's user space) in a private mount namespace (its folder is
/run/kselftests), against a fake selftests tree and, where this machine has it, the real 6.12."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from test_guest_scripts import GUESTS, private_ns

TREE = Path.home() / ".cache/pinbench/linux-source-6.12"


def recipes() -> dict[str, list[str]]:
    """guests/kselftests.tests: recipe name -> program and arguments."""
    out: dict[str, list[str]] = {}
    for line in (GUESTS / "kselftests.tests").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, *argv = line.split()
            assert name not in out, f"recipe {name} twice"
            out[name] = argv
    return out


def run(tmp: Path, tests: str, src: Path) -> subprocess.CompletedProcess[str]:
    out, run_ = tmp / "out", tmp / "run"
    out.mkdir(exist_ok=True)
    run_.mkdir(exist_ok=True)
    return private_ns(f"BENCH_OUT={out} BENCH_SRC={src} BENCH_BUILD={tmp}/build TESTS={tests} "
                      f"bash {GUESTS / 'kselftests.sh'}", tmp, {"/run": run_})


def fake_tree(tmp: Path, programs: dict[str, str]) -> Path:
    """A tree whose tools/testing/selftests/<dir>/<name>.c is each program's main body."""
    src = tmp / "src"
    for path, body in programs.items():
        c = src / "tools/testing/selftests" / f"{path}.c"
        c.parent.mkdir(parents=True, exist_ok=True)
        c.write_text(f"#include <stdio.h>\nint main(void) {{ {body} }}\n")
    (src / "tools/include").mkdir(parents=True, exist_ok=True)
    return src


def test_the_default_list_names_recipes_of_programs_the_6_12_tree_has() -> None:
    have = recipes()
    tests = yaml.safe_load((GUESTS / "kselftests.yaml").read_text())["params"]["TESTS"]["default"].split(",")
    assert tests and set(tests) <= set(have) and len(tests) == len(set(tests))
    if (TREE / "tools/testing/selftests").is_dir():
        missing = [argv[0] for argv in have.values() if not any(
            (TREE / "tools/testing/selftests" / f"{argv[0]}{ext}").is_file() for ext in (".c", ""))]
        assert not missing, missing


def test_a_name_without_a_recipe_is_refused_before_anything_runs(tmp_path: Path) -> None:
    r = run(tmp_path, "exec-null-argv,no-such-test", fake_tree(tmp_path, {}))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL: TESTS names 'no-such-test', which guests/kselftests.tests has no recipe for" in r.stdout
    assert not list((tmp_path / "out").glob("kselftests.*.out"))


def test_a_failing_case_fails_and_the_next_one_still_runs(tmp_path: Path) -> None:
    src = fake_tree(tmp_path, {
        "exec/null-argv": 'puts("not ok 1 argv copy\\n# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0"); return 1;',
        "exec/non-regular": 'puts("ok 1 x\\n# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:0"); return 0;',
    })
    r = run(tmp_path, "exec-null-argv,exec-non-regular", src)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL: exec-null-argv exit 1: not ok 1 argv copy" in r.stdout
    assert "exec-non-regular totals: pass:1 fail:0" in r.stdout


def test_a_program_that_does_not_compile_fails(tmp_path: Path) -> None:
    src = fake_tree(tmp_path, {"proc/proc-empty-vm": "this is not C;"})
    r = run(tmp_path, "proc-empty-vm", src)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL: cannot compile proc/proc-empty-vm: " in r.stdout


def test_a_program_that_checked_nothing_is_no_pass(tmp_path: Path) -> None:
    src = fake_tree(tmp_path, {"proc/proc-pid-vm": 'puts("# Totals: pass:0 fail:0 xfail:0 xpass:0 skip:3 error:0"); return 4;'})
    r = run(tmp_path, "proc-pid-vm", src)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "SKIP: every selftest skipped as a whole (proc-pid-vm)" in r.stdout


@pytest.mark.skipif(not (TREE / "tools/testing/selftests/exec/execveat.c").is_file(), reason="no 6.12 tree here")
def test_the_real_exec_selftests_pass_on_this_host(tmp_path: Path) -> None:
    """execveat needs what its Makefile generates (a symlink, a denatured copy, a script, a
    subdir, the Makefile itself): the script's folder set-up gives them; a missing one fails a case."""
    r = run(tmp_path, "exec-execveat,exec-null-argv,exec-binfmt-script", TREE)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "exec-execveat totals: pass:51 fail:0" in r.stdout, r.stdout
