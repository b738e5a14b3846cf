"""Hostile input, fifth pass (a fresh red team, branch hostile5): each test failed on the code
before its fix. A patch that makes a tree file a symlink out, a CASE FAIL past a workload log's
first megabyte, memory sizes and --param values of non-ASCII or too many digits, a NUL in a
series' names, kconfig fragments whose values kconfig would read as something else or that ask
for one option twice, differently, an `expect: vmstat` judged without its reading at guest start,
YAML merge keys."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import BOOTS, HOME, World, git, make_kernel_repo

from bench.base import files
from bench.base.errors import UserError
from bench.base.limits import LIMITS
from bench.cli import main as cli_main
from bench.drivers.nightly import matrix as nightly_matrix
from bench.run import cases, guests, kconfig, plan as plan_mod, series, series_yaml, subcases
from bench.run.coverage import changed, objects, stage
from bench.run.result import Status

# -- a series' tree: a file the series made a symlink is never read through -----------------


def _linked_tree(tmp_path: Path, target: Path, name: str) -> tuple[Path, str, str]:
    """A repo whose head commit (a patch, as git am makes it) adds `name` as a symlink to target."""
    repo = make_kernel_repo(tmp_path / "linux")
    base = git(repo, "rev-parse", "HEAD").strip()
    os.symlink(target, repo / name)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "link")
    return repo, base, git(repo, "rev-parse", "HEAD").strip()


def test_coverage_never_reads_a_tree_file_the_series_made_a_link_out(tmp_path: Path) -> None:
    secret = tmp_path / "host-secret.c"
    secret.write_text("int host_secret(void)\n{\n\treturn 42;\n}\n")
    repo, base, head = _linked_tree(tmp_path, secret, "mm/evil.c")
    assert "mm/evil.c" in changed.changed_files(repo, base, head)  # coverage looks at it
    assert stage.tree_lines(repo, "mm/evil.c") == []  # was the host file's lines (a link to /dev/zero: read forever)
    assert stage.tree_lines(repo, "mm/gup.c") == (repo / "mm/gup.c").read_text().splitlines()
    os.mkfifo(repo / "mm/fifo.c")
    assert stage.tree_lines(repo, "mm/fifo.c") == []  # not waited on


def test_a_makefile_the_series_made_a_link_is_not_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside.mk"
    outside.write_text("GCOV_PROFILE := n\n")
    (tmp_path / "src" / "lib").mkdir(parents=True)
    (tmp_path / "src" / "lib" / "sort.c").write_text("")
    os.symlink(outside, tmp_path / "src" / "lib" / "Makefile")
    assert objects.refusal(tmp_path / "src", "lib/sort.o") == ""  # was "GCOV_PROFILE := n in lib/Makefile"
    (tmp_path / "src" / "lib" / "Makefile").unlink()
    shutil.copy(outside, tmp_path / "src" / "lib" / "Makefile")
    assert objects.refusal(tmp_path / "src", "lib/sort.o") == "GCOV_PROFILE := n in lib/Makefile"


# -- a workload's CASE lines: every one of them counts --------------------------------------


def test_a_case_fail_past_the_first_megabyte_of_the_log_is_seen(tmp_path: Path) -> None:
    filler = ("# " + "x" * 1000 + "\n") * 2048  # 2 MB of a chatty workload's own output
    (tmp_path / "w.log").write_text("CASE a PASS\n" + filler + "CASE b FAIL: lost\nCASE a FAIL: late\n")
    got = {c.name: (c.status, c.message) for c in cases._subcases("w", tmp_path)}
    assert got == {"w/a": (Status.FAIL, "late"), "w/b": (Status.FAIL, "lost")}  # were w/a PASS only


def test_a_log_past_its_limit_is_a_fail_never_a_quiet_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small = dataclasses.replace(LIMITS, console_chars=4096)
    monkeypatch.setattr(cases, "LIMITS", small)
    monkeypatch.setattr(subcases, "LIMITS", small)
    (tmp_path / "w.log").write_text("CASE a PASS\n" * 1000)
    got = {c.name: c for c in cases._subcases("w", tmp_path)}
    assert got["w/a"].status is Status.PASS
    assert got["w/(log cut)"].status is Status.FAIL and "were not read" in got["w/(log cut)"].message
    link = tmp_path / "l.log"
    os.symlink(tmp_path / "w.log", link)
    assert cases._subcases("l", tmp_path) == []  # never through a link the guest planted


def test_guest_lines_keeps_a_line_cut_across_chunks_and_the_last_without_newline(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 70000 + b"\nCASE \xc3\xa9 PASS\nCASE b FAIL")
    lines, unread = files.guest_lines(tmp_path / "f", subcases.is_case, 1 << 20) or ([], -1)
    assert lines == ["CASE \u00e9 PASS", "CASE b FAIL"] and unread == 0


# -- numbers: ASCII digits, bounded ---------------------------------------------------------


@pytest.mark.parametrize("memory", ["1" + "0" * 5000 + "G", "1\u0662G", "\u0662G", "2G\n"])
def test_a_memory_size_of_other_digits_is_a_usage_error(memory: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("BENCH_HOME", str(HOME))
    monkeypatch.setattr(plan_mod.tree, "resolve_tree", lambda *a: tmp_path)
    assert cli_main.main(["run", "baseline", "--memory", memory, "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--memory must be a size" in err and "internal error" not in err  # 5000 digits: ValueError
    assert len(err.splitlines()) == 1 and not list(tmp_path.iterdir())


def test_a_matrix_memory_follows_the_rule_of_the_flag(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text("series: [canary]\noverrides:\n  'canary/*': {memory: '1" + "0" * 5000 + "G'}\n")
    with pytest.raises(UserError, match="memory must be a size"):
        nightly_matrix.load(tmp_path / "m.yaml", HOME / "patches")
    assert plan_mod.memory_mib("1536M", "--memory") == 1536 and plan_mod.memory_mib("3G", "x") == 3072


@pytest.mark.parametrize("param, says", [
    ("odirect.RACE_SECONDS=\u0663\u0660", "must be an integer"),  # int() takes Arabic-Indic digits; bash does not
    ("odirect.RACE_SECONDS=30\n", "want WORKLOAD.NAME=value"),  # the newline was dropped silently
])
def test_param_values_are_what_the_guest_reads(param: str, says: str) -> None:
    chosen = guests.select(["odirect"], HOME / "guests")
    with pytest.raises(UserError, match=says):
        guests.override(chosen, [param])
    assert dict(guests.override(chosen, ["odirect.RACE_SECONDS=30"])[0].params)["RACE_SECONDS"] == "30"


# -- a NUL in a series' names ---------------------------------------------------------------


@pytest.mark.parametrize("series_file", [b"a\0b.patch\n", "a.patch\n".encode("utf-16")])
def test_a_nul_in_a_quilt_series_file_names_file_and_line(tmp_path: Path, series_file: bytes) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "series").write_bytes(series_file)
    (tmp_path / "s" / "a.patch").write_text("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n")
    with pytest.raises(UserError, match=r"/s/series:1: patch .* holds a NUL byte"):  # was ValueError
        series.load_series(str(tmp_path / "s"), tmp_path)


def test_a_nul_escape_in_series_yaml_mbox_is_refused(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "series.yaml").write_text('mbox: "a\\0b.mbox"\n')
    with pytest.raises(UserError, match="holds a NUL byte"):
        series.load_series(str(tmp_path / "s"), tmp_path)


# -- kconfig fragments: what merge_config.sh and kconfig will read ---------------------------


@pytest.mark.parametrize("line", ["CONFIG_X=y # on", "CONFIG_X=yes", "CONFIG_X=", "CONFIG_X=y\vCONFIG_Y=y",
                                  'CONFIG_X="open', "CONFIG_X=1 2"])
def test_a_fragment_value_kconfig_would_misread_names_file_and_line(tmp_path: Path, line: str) -> None:
    frag = tmp_path / "f.config"
    frag.write_text(f"# a fragment\n{line}\n")
    with pytest.raises(UserError, match=r"f\.config:2: CONFIG_X: value .* is not y, m, n"):
        kconfig.parse_fragment(frag)  # was accepted: a "dropped option" FAIL after the whole build


def test_a_fragment_asking_for_one_option_twice_differently_is_refused(tmp_path: Path) -> None:
    frag = tmp_path / "f.config"
    frag.write_text("CONFIG_A=y\nCONFIG_B=y\n# CONFIG_A is not set\n")
    with pytest.raises(UserError, match=r"f\.config:3: CONFIG_A asked for twice, differently \(line 1 says =y"):
        kconfig.parse_fragment(frag)  # the last one won silently


def test_fragment_values_kconfig_takes_still_parse(tmp_path: Path) -> None:
    frag = tmp_path / "f.config"
    frag.write_text('CONFIG_A=m\r\nCONFIG_B=-3\nCONFIG_C=0x1F\nCONFIG_D="a \\"b\\" c"\nCONFIG_E=""\n'
                    "CONFIG_A=m\n# CONFIG_F is not set\n")
    got = [(o.name, o.value) for o in kconfig.parse_fragment(frag).options]
    assert got == [("CONFIG_A", "m"), ("CONFIG_B", "-3"), ("CONFIG_C", "0x1F"), ("CONFIG_D", '"a \\"b\\" c"'),
                   ("CONFIG_E", '""'), ("CONFIG_F", "n")]


# -- expect: vmstat needs both readings ------------------------------------------------------


def _run(world: World) -> tuple[int, dict[str, Any]]:
    rc = cli_main.main(["run", "s", "--accel", "tcg", "--results", str(world.results)])
    (run_dir,) = [d for d in world.results.iterdir() if d.is_dir()]
    return rc, {f"{c['group']}/{c['name']}": c for c in json.loads((run_dir / "summary.json").read_text())["cases"]}


@pytest.mark.parametrize("start", [None, "nr_foll_pin_acquired 1\n"])
def test_an_expected_counter_without_its_start_reading_is_never_a_pass(world: World, start: str | None) -> None:
    world.series("s", "workloads: [gup-test]\nexpect:\n  - vmstat: pinned_folio_mkclean\n", quilt=False)
    boot = world.tmp / "boots" / "b"
    shutil.copytree(BOOTS / "baseline-tcg", boot)
    (boot / "guest" / "vmstat.end").write_text("nr_foll_pin_acquired 10\npinned_folio_mkclean 7\n")
    (boot / "guest" / "vmstat.start").unlink(missing_ok=True)
    if start is not None:
        (boot / "guest" / "vmstat.start").write_text(start)
    world.replay(boot)
    rc, got = _run(world)
    case = got["expect/vmstat pinned_folio_mkclean +1"]
    assert case["status"] == "error" and case["message"].startswith("cannot tell: ")  # was pass: "grew by 7"
    assert rc == 2


# -- YAML merge keys --------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["expect:\n  - <<: {report: 'WARNING in x'}\n    report: 'BUG: y'\n",
                                  "<<: {kconfigs: [a]}\n"])
def test_a_yaml_merge_key_is_refused_with_its_line(tmp_path: Path, text: str) -> None:
    with pytest.raises(UserError, match=r"s\.yaml:\d+: YAML merge key '<<': not allowed"):
        series_yaml.read(tmp_path / "s.yaml", text)  # hid a duplicate key: one of two regexes kept silently


def test_a_commit_adding_a_link_is_what_git_am_makes(tmp_path: Path) -> None:
    """The premise of the tree tests above: git applies a patch creating a symlink out of the tree."""
    repo = make_kernel_repo(tmp_path / "linux")
    patch = ("From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\nFrom: a <a@b>\n"
             "Date: Mon, 1 Jan 2001 00:00:00 +0000\nSubject: [PATCH] link\n\n---\n"
             "diff --git a/mm/evil.c b/mm/evil.c\nnew file mode 120000\n--- /dev/null\n+++ b/mm/evil.c\n"
             "@@ -0,0 +1 @@\n+/dev/zero\n\\ No newline at end of file\n")
    (tmp_path / "p.mbox").write_text(patch)
    git(repo, "am", "-q", str(tmp_path / "p.mbox"))
    assert os.readlink(repo / "mm/evil.c") == "/dev/zero"
    assert stage.tree_lines(repo, "mm/evil.c") == []  # read forever before


# -- a workload's own YAML and guests/sets.yaml ------------------------------------------------


@pytest.mark.parametrize("yaml, says", [("timeout: true\n", "'timeout' must be a positive number"),  # was 1 s
                                        ("last: 'false'\n", "'last' must be true or false")])  # was last
def test_workload_yaml_values_of_the_wrong_type_are_refused(tmp_path: Path, yaml: str, says: str) -> None:
    (tmp_path / "w.sh").write_text("#!/bin/sh\n")
    (tmp_path / "w.yaml").write_text(yaml)
    with pytest.raises(UserError, match=f"w.yaml: {says}"):
        guests.load(tmp_path / "w.yaml")


def test_a_sets_file_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    (tmp_path / "w.sh").write_text("#!/bin/sh\n")
    (tmp_path / "w.yaml").write_text("timeout: 5\n")
    (tmp_path / "sets.yaml").write_text("- w\n")
    with pytest.raises(UserError, match="sets.yaml: must be a YAML mapping"):  # was AttributeError
        guests.select(["w"], tmp_path)
