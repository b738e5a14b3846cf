"""bench/coverage: which objects are profiled (through GNU make itself), the changed lines (git
blame of a real repo), and the mapping of recorded gcov JSON of a real run (tests/data/coverage,
see its README) to statuses and the report's words. Nothing is built or booted here."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import DATA, World, commit_files, git, make_kernel_repo

from bench.run.coverage import changed, gcov, mapping, objects, text

# scripts/Makefile.lib of linux 6.12 (lines 134-137 and 205-208), as kbuild evaluates it for each
# object: the make variables bench passes are judged by this very expression.
KBUILD_GCOV = r"""
target-stem = $(basename $(patsubst $(obj)/%,%,$@))
is-kernel-object = $(or $(part-of-builtin),$(part-of-module))
part-of-builtin = $(if $(filter $(basename $@).o, $(real-obj-y) $(lib-y)),y)
part-of-module = $(if $(filter $(basename $@).o, $(real-obj-m)),y)
_c_flags = $(if $(patsubst n%,, \
		$(GCOV_PROFILE_$(target-stem).o)$(GCOV_PROFILE)$(if $(is-kernel-object),$(CONFIG_GCOV_PROFILE_ALL))), \
		$(CFLAGS_GCOV))
CFLAGS_GCOV = -fprofile-arcs
real-obj-y = $(OBJS)
ifeq ($(obj),net/rds)
GCOV_PROFILE := n
endif
%.o:
	@echo "$@ [$(_c_flags)]"
"""


def kbuild_flags(tmp: Path, inst: objects.Instrument) -> dict[str, str]:
    """Each object's gcov flags when a kbuild-like recursive make gets inst's variables."""
    if not shutil.which("make"):
        pytest.skip("no make")
    (tmp / "sub.mk").write_text(KBUILD_GCOV)
    dirs = {"mm": ["mm/gup.o", "mm/other.o"], "fs": ["fs/inode.o"], "fs/ext4": ["fs/ext4/inode.o"],
            "net/rds": ["net/rds/send.o"], "arch/x86/boot": ["arch/x86/boot/gup.o"]}
    # the boot code is not in real-obj-y: not a kernel object, as in kbuild
    recipe = "".join(f"\t$(MAKE) -s -f sub.mk obj={d} OBJS='{' '.join(o for o in objs if 'boot' not in o)}'"
                     f" {' '.join(objs)}\n" for d, objs in dirs.items())
    (tmp / "Makefile").write_text(f"all:\n{recipe}")
    cp = subprocess.run(["make", "-s", "-C", str(tmp), "--no-print-directory", *inst.make_vars()],
                        capture_output=True, text=True, check=True)
    return {line.split()[0]: "".join(line.split()[1:]) for line in cp.stdout.splitlines()}


def test_make_vars_profile_only_the_asked_paths_of_a_stem(tmp_path: Path) -> None:
    inst = objects.Instrument(("mm/gup.o", "fs/ext4/inode.o", "net/rds/send.o", "arch/x86/boot/gup.o"), ())
    flags = kbuild_flags(tmp_path, inst)
    assert flags["mm/gup.o"] == "[-fprofile-arcs]"
    assert flags["fs/ext4/inode.o"] == "[-fprofile-arcs]"
    assert flags["fs/inode.o"] == "[]"  # same stem, not asked
    assert flags["mm/other.o"] == "[]"
    assert flags["net/rds/send.o"] == "[]"  # its directory said GCOV_PROFILE := n
    assert flags["arch/x86/boot/gup.o"] == "[]"  # not a vmlinux/module object


def test_a_makefile_exclusion_is_refused_with_its_reason(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "Makefile").write_text("GCOV_PROFILE_test_bitmap.o := n\nobj-y += test_bitmap.o sort.o\n")
    for name in ("test_bitmap.c", "sort.c"):
        (tmp_path / "lib" / name).write_text("")
    inst = objects.choose(tmp_path, ["lib/test_bitmap.c", "lib/sort.c", "lib/gone.c", "lib/Makefile"], ["mm/x.o"])
    assert inst.objects == ("lib/sort.o", "mm/x.o")
    assert inst.refused == (("lib/test_bitmap.o", "GCOV_PROFILE_test_bitmap.o := n in lib/Makefile"),)


def test_changed_lines_are_the_post_image_lines_of_each_patch(tmp_path: Path) -> None:
    repo = make_kernel_repo(tmp_path / "linux")
    base = git(repo, "rev-parse", "HEAD").strip()
    gup = (repo / "mm/gup.c").read_text().splitlines()
    # patch 1 adds two lines after line 5; patch 2 rewrites the second of them and adds a header line
    one = gup[:5] + ["\tnr++;", "\tnr--;"] + gup[5:]
    commit_files(repo, {"mm/gup.c": "\n".join(one) + "\n"}, "one")
    two = one[:6] + ["\tnr -= 1;"] + one[7:]
    mm = (repo / "include/linux/mm.h").read_text().replace("#endif", "/* pinned */\n#endif")
    commit_files(repo, {"mm/gup.c": "\n".join(two) + "\n", "include/linux/mm.h": mm}, "two")
    head = git(repo, "rev-parse", "HEAD").strip()
    files = changed.changed_files(repo, base, head)
    lines = changed.changed_lines(repo, base, head, files)
    assert [(ln.path, ln.number, ln.patch, ln.text) for ln in lines] == [
        ("include/linux/mm.h", 6, 2, "/* pinned */"), ("mm/gup.c", 6, 1, "\tnr++;"), ("mm/gup.c", 7, 2, "\tnr -= 1;")]
    assert [(h.path, h.patch, h.start, h.end) for h in changed.hunks(lines)] == [
        ("include/linux/mm.h", 2, 6, 6), ("mm/gup.c", 1, 6, 6), ("mm/gup.c", 2, 7, 7)]


def test_ranges_and_headline() -> None:
    assert text.ranges([1302, 1234, 1235, 1236, 1250]) == "1234-1236, 1250, 1302"
    c = {"executed": 41, "coverable": 57, "percent": 72, "partial": 0}
    assert text.headline(c) == "41 of 57 changed coverable lines executed (72%)"


def test_inline_copies_make_a_line_partial() -> None:
    doc = {"current_working_directory": "/w/build", "files": [{"file": "../src/include/linux/mm.h", "lines": [
        {"line_number": 5, "count": 3, "unexecuted_block": False},
        {"line_number": 5, "count": 0, "unexecuted_block": True},
        {"line_number": 6, "count": 0, "unexecuted_block": True}]}, {"file": "/usr/include/x.h", "lines": []}]}
    counts = gcov.parse(doc, Path("/w/src"))
    assert counts == {"include/linux/mm.h": {5: gcov.Count(3, True), 6: gcov.Count(0, False)}}


def test_noinstr_function_is_not_measured() -> None:
    src = ["static int a;", "", "noinstr void enter(void)", "{", "\tx = 1;", "}", "void f(void)", "{", "\ty();", "}"]
    assert mapping.enclosing_noinstr(src, 5)
    assert not mapping.enclosing_noinstr(src, 9)


def test_coverage_is_on_for_bench_run_of_a_series_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from bench.run import plan as plan_mod
    from bench.cli import main as cli_main
    from bench.cli import options
    from conftest import HOME
    monkeypatch.setattr(plan_mod.tree, "resolve_tree", lambda *a: tmp_path)
    parse = cli_main.build_parser().parse_args

    def plan(argv: list[str], default: bool) -> plan_mod.Plan:
        args = parse([*argv, "--results", str(tmp_path)])
        return plan_mod.make_plan(options.request(args, args.series, coverage=default), HOME)
    assert plan(["run", "canary"], True).coverage  # what cmd_run asks
    assert not plan(["run", "canary", "--no-coverage"], True).coverage
    assert not plan(["run", "baseline"], True).coverage  # no patches: no changed line
    assert not plan(["bisect", "canary", "--good", "HEAD~1"], False).coverage  # the other commands' default
    on = plan(["bisect", "canary", "--good", "HEAD~1", "--coverage", "--coverage-object", "mm/util.o"], False)
    assert on.coverage and on.coverage_objects == ("mm/util.o",)
    with pytest.raises(Exception, match="--coverage-object '../x.o'"):
        plan(["run", "canary", "--coverage-object", "../x.o"], True)


@pytest.mark.parametrize("argv, why", [
    (["run", "canary", "--no-coverage"], "--no-coverage turns it off"),
    (["prove", "--no-coverage"], "--no-coverage turns it off"),
    (["bisect", "canary"], "it is off by default here: add --coverage"),
    (["bisect-step", "canary"], "it is off by default here: add --coverage"),
])
def test_a_coverage_object_with_coverage_off_is_a_usage_error(world: World, capsys: pytest.CaptureFixture[str],
                                                              argv: list[str], why: str) -> None:
    """Before: the object was taken and profiled nothing: the run went on without coverage."""
    from bench.cli import main as cli_main
    world.replay("baseline-tcg")
    rc = cli_main.main([*argv, "--coverage-object", "mm/gup.o", "--accel", "tcg", "--results", str(world.results)])
    err = capsys.readouterr().err
    assert rc == (128 if argv[0] == "bisect-step" else 2) and not world.results.exists()
    assert err == f"bench: error: --coverage-object mm/gup.o: needs coverage, and {why}\n"


def test_a_run_without_counters_says_not_measured_never_missed(world: World) -> None:
    """The fake world's make builds mm/gup.o without gcov and its guest saves no counters: every
    changed line is "not measured", with the reason, in summary.json, report.txt and JUnit."""
    from bench.cli import main as cli_main
    world.series("two", "description: two patches\nworkloads: [gup-test]\n")
    world.replay("baseline-tcg")
    assert cli_main.main(["run", "two", "--accel", "tcg", "--results", str(world.results)]) == 0
    (run_dir,) = world.results.iterdir()
    cov = json.loads((run_dir / "summary.json").read_text())["info"]["coverage"]
    assert cov["coverable"] == 0 and cov["executed"] == 0 and cov["not_measured"] == 2
    assert cov["objects"] == [{"object": "mm/gup.o", "status": "not profiled", "why": cov["objects"][0]["why"]}]
    lines = json.loads((run_dir / "coverage.json").read_text())
    assert {(ln["path"], ln["status"], ln["why"]) for ln in lines} == {
        ("mm/gup.c", "not measured", "the guest saved no counters"),
        ("include/linux/mm.h", "not measured", "the guest saved no counters")}
    report = (run_dir / "report.txt").read_text()
    assert "no changed line could be measured as code" in report
    assert "mm/gup.c: not measured (the guest saved no counters): 1" in report
    assert "mm/gup.o: not profiled: kbuild compiled it without gcov" in report
    assert 'name="coverage" value="no changed line could be measured as code"' in (run_dir / "junit.xml").read_text()
    assert "BENCH_COVERAGE=1" in (run_dir / "guest" / "env").read_text()


def test_no_coverage_leaves_the_run_as_it_was(world: World) -> None:
    from bench.cli import main as cli_main
    world.series("two", "description: two patches\nworkloads: [gup-test]\n")
    world.replay("baseline-tcg")
    assert cli_main.main(["run", "two", "--accel", "tcg", "--no-coverage", "--results", str(world.results)]) == 0
    (run_dir,) = world.results.iterdir()
    assert "coverage" not in json.loads((run_dir / "summary.json").read_text())["info"]
    assert not (run_dir / "coverage.json").exists() and "Coverage" not in (run_dir / "report.txt").read_text()


REAL = DATA / "coverage" / "gup-fast-fallback"  # recorded from a real run: see its README.md


def real_statuses() -> dict[int, mapping.Status]:
    """Lines 805-815 and 3418-3500 of the built mm/gup.c taken as if a patch had changed them,
    mapped with the real counters of the boot and gup-test windows."""
    src = Path("/root/.cache/pinbench/work/slot-2/src")  # where the run's worktree was (gcov names it)
    windows = {w: gcov.parse(json.loads((REAL / f"{w}.gcov.json").read_text()), src) for w in ("boot", "gup-test")}
    post = {int(k): v for k, v in json.loads((REAL / "gup.c.post.json").read_text()).items()}
    lines = [changed.Line("mm/gup.c", n, 1, post[n]) for n in (*range(805, 816), *range(3418, 3501))]
    source = [post.get(n, "") for n in range(1, max(post) + 1)]
    return {s.line.number: s for s in mapping.classify(lines, windows, {}, lambda path: source)}


def test_real_counters_map_to_each_status() -> None:
    st = real_statuses()
    # the line the patch really changed: gup-test ran it 45 times, and it ran while booting too
    assert (st[3479].status, st[3479].count, st[3479].workloads, st[3479].boot) == ("executed", 45, ("gup-test",), True)
    assert st[3445].status == "partial"  # WARN_ON_ONCE(...): ran, its warning branch did not
    assert [st[n].status for n in (3428, 3429)] == ["missed", "missed"]  # the fork race path
    assert not st[3428].boot
    assert (st[811].status, st[811].boot) == ("missed", True)  # ran only while booting
    assert (st[3473].status, st[3473].why) == ("not code", "comment")
    assert (st[3444].status, st[3444].why) == ("not code", "blank")
    assert st[3480].status == "not code"  # `return ret;`: gcc gave it no line record of its own
    assert {s.status for n, s in st.items() if 3484 <= n <= 3500} == {"not code"}  # kernel-doc


def test_real_counters_make_the_report() -> None:
    st = list(real_statuses().values())
    hunk = changed.hunks([s.line for s in st])
    cov = text.summary(st, hunk, ["mm/gup: as if"], [{"object": "mm/gup.o", "status": "profiled", "why": ""}],
                       ["boot", "gup-test"])
    ran, coverable = cov["executed"], cov["coverable"]
    assert cov["text"] == f"{ran} of {coverable} changed coverable lines executed ({round(100 * ran / coverable)}%)" \
        + f", {cov['partial']} of them partly"
    assert 0 < ran < coverable and cov["not_code"] > 0 and cov["not_measured"] == 0
    (f,) = cov["files"]
    assert "3428-3429" in f["never_ran"] and "811" in f["boot_only"] and "3445" in f["partly"]
    report = "\n".join(text.report_lines(cov))
    assert f"mm/gup.c ({f['percent']}%): never ran {f['never_ran']}" in report
    assert "Hunks that never ran:" in report


def test_not_measured_lines_stay_out_of_the_ratio() -> None:
    ln = changed.Line("mm/gup.c", 3479, 1, "\tif (ret < 0)")
    hdr = changed.Line("include/linux/mm.h", 10, 1, "\treturn 1;")
    st = mapping.classify([ln, hdr], {"gup-test": {}}, {"mm/gup.o": "refused: GCOV_PROFILE := n in mm/Makefile"},
                          lambda path: [])
    assert [(s.status, s.why) for s in st] == [
        ("not measured", "refused: GCOV_PROFILE := n in mm/Makefile"),
        ("not measured", "no profiled object includes it (name one with --coverage-object)")]
    assert text.summary(st, changed.hunks([ln, hdr]), ["x"], [], [])["coverable"] == 0


def test_run_page_marks_each_changed_line(tmp_path: Path) -> None:
    from bench.run.coverage import page
    st = list(real_statuses().values())
    cov = text.summary(st, changed.hunks([s.line for s in st]), ["mm/gup: as if"], [], ["boot", "gup-test"])
    (tmp_path / "coverage.json").write_text(json.dumps(text.line_records(st)))
    html = "\n".join(page.section(tmp_path, cov))
    assert '<span class="fail" title="">  3428 NEVER ' in html
    assert '<span class="skip" title="">  3445 partly ' in html
    assert '<span class="pass" title="">  3479 ran    \tif (ret &lt; 0) [gup-test]</span>' in html


def test_an_image_is_reused_only_with_the_same_profiled_objects(world: World) -> None:
    """The slot records which objects its build profiled: switching coverage on or off makes
    make run again (kbuild recompiles the objects whose flags changed), the same twice reuses."""
    from bench.cli import main as cli_main
    world.series("two", "description: two patches\nworkloads: [gup-test]\n")
    world.replay("baseline-tcg")
    messages = []
    for extra in ([], ["--no-coverage"], ["--no-coverage"], []):
        before = set(world.results.iterdir()) if world.results.is_dir() else set()
        assert cli_main.main(["run", "two", "--accel", "tcg", "--results", str(world.results), *extra]) == 0
        (newest,) = set(world.results.iterdir()) - before
        cases = json.loads((newest / "summary.json").read_text())["cases"]
        messages.append(next(c["message"] for c in cases if c["group"] == "build"))
    assert [m.startswith("reused") for m in messages] == [False, False, True, False]


def test_a_stale_gcno_does_not_make_an_object_profiled(tmp_path: Path) -> None:
    """A .gcno left by an earlier coverage build stays in the build dir when a later build
    compiles the object without gcov: kbuild's .cmd record of the last compile decides."""
    from bench.run.coverage import stage
    (tmp_path / "mm").mkdir()
    for name in ("gup.o", "gup.gcno"):
        (tmp_path / "mm" / name).write_text("")
    cmd = tmp_path / "mm" / ".gup.o.cmd"
    cmd.write_text("savedcmd_mm/gup.o := gcc -c -o mm/gup.o mm/gup.c\n\nsource_mm/gup.o := mm/gup.c\n")
    inst = objects.Instrument(("mm/gup.o", "mm/gone.o"), ())
    assert [o["status"] for o in stage.object_states(inst, tmp_path)] == ["not profiled", "not built"]
    cmd.write_text("savedcmd_mm/gup.o := gcc -fprofile-arcs -ftest-coverage -c -o mm/gup.o mm/gup.c\n")
    assert stage.object_states(inst, tmp_path)[0]["status"] == "profiled"


def test_each_shows_coverage_per_prefix(world: World) -> None:
    from test_each import each, make_series
    make_series(world, ["tidy", "warn"])
    rc, summary, folder = each(world)
    table = (folder / "each.txt").read_text()
    assert "  coverage 1: no changed line could be measured as code" in table
    assert "  coverage 2: " in table and "  coverage 0:" not in table  # the base has no changed line
