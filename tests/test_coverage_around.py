"""bench/run/coverage/around.py: removals told by the lines around them, and the rest of each
touched function, on the real counters of tests/data/coverage/gup-fast-fallback (see its
README.md) and on git's own diff of a real repo."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import DATA, commit_files, git, make_kernel_repo

from bench.run.coverage import around, changed, gcov, mapping, text

REAL = DATA / "coverage" / "gup-fast-fallback"
SRC = Path("/root/.cache/pinbench/work/slot-2/src")  # where the recorded run's worktree was (gcov names it)


def real() -> tuple[dict[str, gcov.Counts], list[str]]:
    windows = {w: gcov.parse(json.loads((REAL / f"{w}.gcov.json").read_text()), SRC) for w in ("boot", "gup-test")}
    post = {int(k): v for k, v in json.loads((REAL / "gup.c.post.json").read_text()).items()}
    return windows, [post.get(n, "") for n in range(1, max(post) + 1)]


def test_gcov_line_records_carry_their_function() -> None:
    windows, _ = real()
    assert windows["gup-test"]["mm/gup.c"][3479].function == "gup_fast_fallback"
    assert windows["boot"]["mm/gup.c"][3428].function == "gup_fast"


def test_removals_are_the_pure_deletions_of_git_diff(tmp_path: Path) -> None:
    repo = make_kernel_repo(tmp_path / "linux")
    base = git(repo, "rev-parse", "HEAD").strip()
    gup = (repo / "mm/gup.c").read_text().splitlines()
    assert len(gup) > 8
    # one patch deletes lines 3-4, rewrites line 7 and deletes the last line; a file it adds has no removal
    new = gup[:2] + gup[4:6] + ["\tchanged();"] + gup[7:-1]
    commit_files(repo, {"mm/gup.c": "\n".join(new) + "\n", "mm/new.c": "int x;\n"}, "one")
    head = git(repo, "rev-parse", "HEAD").strip()
    got = changed.removals(repo, base, head, changed.changed_files(repo, base, head))
    assert got == [changed.Removal("mm/gup.c", 2, 2), changed.Removal("mm/gup.c", len(new), 1)]


def test_a_removal_is_told_by_the_lines_of_its_function_around_the_gap() -> None:
    windows, source = real()
    # gup-fast-fallback's own removal: the closing brace of `if (ret < 0) {` went after line 3480,
    # `return ret;`, which has no line record: 3479 and 3481 stand for it, and gup-test ran both
    (r,) = around.removal_reach([changed.Removal("mm/gup.c", 3480, 1)], windows, {}, lambda p: source)
    assert (r.status, r.function, r.told_by, r.workloads) == ("ran", "gup_fast_fallback", (3479, 3481), ("gup-test",))
    # a removal inside the fork race path of gup_fast, which nothing ran
    (r,) = around.removal_reach([changed.Removal("mm/gup.c", 3428, 2)], windows, {}, lambda p: source)
    assert (r.status, r.function, r.told_by) == ("never ran", "gup_fast", (3428, 3429))


def test_a_removal_says_why_it_cannot_be_told() -> None:
    windows, source = real()
    closing = next(n for n in range(3481, len(source) + 1) if source[n - 1].startswith("}"))
    rs = around.removal_reach([changed.Removal("mm/gup.c", closing, 9), changed.Removal("mm/gup.c", 0, 1),
                               changed.Removal("mm/memory.c", 40, 1), changed.Removal("mm/gup.c", 3479, 1)],
                              windows, {"mm/memory.o": "not built: not built in this config"}, lambda p: source)
    assert [(r.status, r.why.split(":")[0]) for r in rs] == [
        ("not measured", "between functions"), ("not measured", "between functions"),
        ("not measured", "not built"), ("ran", "")]


def test_touched_functions_list_the_lines_no_workload_ran() -> None:
    windows, source = real()
    changed_line = changed.Line("mm/gup.c", 3479, 1, source[3478])
    st = mapping.classify([changed_line], windows, {}, lambda p: source)
    removed = around.removal_reach([changed.Removal("mm/gup.c", 3428, 2)], windows, {}, lambda p: source)
    fs = {f.function: f for f in around.functions(st, removed, windows, lambda p: source)}
    assert set(fs) == {"gup_fast", "gup_fast_fallback"}
    assert (fs["gup_fast"].never_ran, fs["gup_fast"].boot_only) == ((3428, 3429), ())
    assert fs["gup_fast"].ran == fs["gup_fast"].lines - 2
    assert fs["gup_fast_fallback"].never_ran == () and fs["gup_fast_fallback"].lines > 10


def test_a_series_that_only_removes_gets_a_headline_and_a_report() -> None:
    windows, source = real()
    removed = around.removal_reach([changed.Removal("mm/gup.c", 3428, 2), changed.Removal("mm/gup.c", 3480, 1)],
                                   windows, {}, lambda p: source)
    funcs = around.functions([], removed, windows, lambda p: source)
    cov = text.summary([], [], ["mm/gup: drop a check"], [], ["boot", "gup-test"],
                       [r.record() for r in removed], [f.record() for f in funcs])
    assert cov["text"] == "no added or changed line; 1 of 2 removals where the workloads ran"
    report = "\n".join(text.report_lines(cov))
    assert "mm/gup.c: 2 lines after line 3428 in gup_fast(): never ran [lines 3428-3429]" in report
    assert "mm/gup.c: 1 line after line 3480 in gup_fast_fallback(): ran (gup-test) [lines 3479, 3481]" in report
    assert "Functions the series touches: 1 of 2 ran every line" in report
    assert "mm/gup.c gup_fast(): " in report and "never ran 3428-3429" in report
    c = {"executed": 3, "coverable": 4, "percent": 75, "partial": 0, "not_code": 0, "not_measured": 0}
    assert text.headline(c, cov["removals"]) == ("3 of 4 changed coverable lines executed (75%); "
                                                 "1 of 2 removals where the workloads ran")


def test_run_page_shows_removals_and_functions(tmp_path: Path) -> None:
    from bench.run.coverage import page
    windows, source = real()
    removed = around.removal_reach([changed.Removal("mm/gup.c", 3428, 2)], windows, {}, lambda p: source)
    cov = text.summary([], [], ["x"], [], ["boot", "gup-test"], [r.record() for r in removed],
                       [f.record() for f in around.functions([], removed, windows, lambda p: source)])
    html = "\n".join(page.section(tmp_path, cov))
    assert "<td>mm/gup.c</td><td>3428</td><td>2</td><td>gup_fast</td><td>never ran</td>" in html
    assert "<td>gup_fast</td><td>" in html and "<td>3428-3429</td></tr>" in html


def test_a_removal_at_the_top_of_a_function_is_told_by_that_function_only() -> None:
    """A gap right after a function's opening brace: the nearest recorded line before it is in
    the function above (gup_fast_permitted(), 3386 if it had a record); the function's extent,
    read from the source's column-0 braces, keeps it to gup_fast()'s own lines, and names it
    from its signature when gcov's records carry no name (an inlined static function's)."""
    windows, source = real()
    (r,) = around.removal_reach([changed.Removal("mm/gup.c", 3392, 3)], windows, {}, lambda p: source)
    assert r.told_by == (3401,) and r.function == "gup_fast" and r.status == "ran"
    assert around.extent(source, 3392) == (3388, 3435)
    nameless = {w: {p: {n: gcov.Count(c.count, c.partial) for n, c in lines.items()} for p, lines in per.items()}
                for w, per in windows.items()}
    (r,) = around.removal_reach([changed.Removal("mm/gup.c", 3392, 3)], nameless, {}, lambda p: source)
    assert r.function == "gup_fast"  # from "static unsigned long gup_fast(unsigned long start, ..."
