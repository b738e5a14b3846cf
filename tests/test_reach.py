"""bench/run/coverage/reach.py: whether a bug's hunks ran in the control (read on the pre-image),
and what that says of a miss."""

from __future__ import annotations

from pathlib import Path

from conftest import HOME

from bench.run.coverage import reach, stage
from bench.run.coverage.mapping import BOOT

BUGS = HOME / "patches" / "bugs"


def patch_of(bug: str) -> str:
    (p,) = (BUGS / bug).glob("*.patch")
    return p.read_text()


def test_a_deletion_stands_for_its_removed_lines() -> None:
    """reclaim-pinned-private only deletes: its hunk is the ten lines it removes (a post-image
    coverage has no line of it at all)."""
    (h,) = reach.pre_image_hunks(patch_of("reclaim-pinned-private"))
    assert (h.path, h.first, h.lines) == ("mm/vmscan.c", 1333, tuple(range(1336, 1346)))


def test_a_change_stands_for_its_removed_lines_only() -> None:
    (h,) = reach.pre_image_hunks(patch_of("gup-fast-fallback"))
    assert h.path == "mm/gup.c" and h.lines == (3476, 3477, 3478, 3479, 3480, 3481, 3482, 3484)


def test_an_addition_stands_for_the_lines_on_both_sides() -> None:
    diff = ("--- a/mm/x.c\n+++ b/mm/x.c\n@@ -10,4 +10,5 @@ f\n a\n b\n+new\n c\n d\n"
            "--- a/Documentation/x.rst\n+++ b/Documentation/x.rst\n@@ -1 +1 @@\n-a\n+b\n-- \n2.39.5\n")
    (h,) = reach.pre_image_hunks(diff)  # the .rst hunk is no code
    assert (h.path, h.lines) == ("mm/x.c", (11, 12))


def test_every_catalogue_patch_has_a_code_hunk() -> None:
    for d in sorted(BUGS.iterdir()):
        hunks = reach.pre_image_hunks(patch_of(d.name))
        assert hunks and all(h.lines for h in hunks), d.name


H = reach.PreHunk("mm/vmscan.c", (1336, 1337), 1333)


def test_reach_tells_ran_boot_only_never_and_unmeasured() -> None:
    ran = {BOOT: {"mm/vmscan.c": {1336: 0}}, "odirect": {"mm/vmscan.c": {1336: 3, 1337: 0}},
           "rxe": {"mm/vmscan.c": {1336: 0}}}
    (r,) = reach.reach([H], ran, {})
    assert (r.status, r.workloads) == ("ran", ("odirect",))
    boot = {BOOT: {"mm/vmscan.c": {1336: 1}}, "odirect": {"mm/vmscan.c": {1336: 0}}}
    assert reach.reach([H], boot, {})[0].status == "boot only"
    never = {BOOT: {"mm/vmscan.c": {1336: 0}}, "odirect": {"mm/vmscan.c": {1336: 0}}}
    assert reach.reach([H], never, {})[0].status == "never ran"
    other = {"odirect": {"mm/gup.c": {1: 1}}}
    assert reach.reach([H], other, {})[0].why == "not profiled in the control"
    told = reach.reach([H], never, {"mm/vmscan.c": "not built in this config"})[0]
    assert (told.status, told.why) == ("not measured", "not built in this config")
    nocode = {"odirect": {"mm/vmscan.c": {1400: 2}}}  # the file ran, but no line of the hunk is code
    assert reach.reach([H], nocode, {})[0].status == "not measured"


def test_judgement_names_the_problem_of_a_miss_only() -> None:
    ran = reach.HunkReach(H, "ran", ("odirect",))
    never = reach.HunkReach(H, "never ran")
    assert reach.judgement([ran], missed=True).endswith("(an oracle problem)")
    assert reach.judgement([never], missed=True).endswith("(a workload-reach problem)")
    assert reach.judgement([ran], missed=False) == "reach: mm/vmscan.c:1333 ran (odirect)"
    unmeasured = reach.HunkReach(H, "not measured", why="not profiled in the control")
    assert "problem" not in reach.judgement([unmeasured], missed=True)


def test_context_lines_stand_in_when_no_removed_line_is_code() -> None:
    h = reach.PreHunk("mm/x.c", (12,), 10, (10, 11, 13))
    (r,) = reach.reach([h], {"odirect": {"mm/x.c": {11: 4}}}, {})
    assert (r.status, r.why) == ("ran", "by its context lines")
    assert r.text() == "mm/x.c:10 ran (odirect; by its context lines)"


REAL = Path(__file__).parent / "data" / "coverage" / "prove-control"  # a real control: see its README.md


def real_reach(bug: str) -> reach.HunkReach:
    windows, unmeasured = stage.read_counts(REAL)
    (r,) = reach.reach(reach.pre_image_hunks(patch_of(bug)), windows, unmeasured)
    return r


def test_real_control_counts() -> None:
    # the dropped folio_maybe_dma_pinned() test of shrink_folio_list(): pin-matrix's pageout
    # cells brought pinned folios to it (its `goto activate_locked` ran 32 times)
    assert (real_reach("reclaim-pinned-private").status, real_reach("reclaim-pinned-private").workloads) \
        == ("ran", ("mm-selftests", "pin-matrix"))
    # the changed line has no line record of its own (gcc merged it): its context tells
    swapin = real_reach("swapin-shared-exclusive")
    assert (swapin.status, swapin.why) == ("ran", "by its context lines") and "mm-selftests" in swapin.workloads
    assert real_reach("memfd-seal-pinned-thp").status == "never ran"  # nothing seals a memfd
    assert real_reach("direct-io-eof-unpin").status == "never ran"  # nothing runs fs/direct-io.c


def test_an_addition_ran_only_where_both_lines_around_it_ran() -> None:
    """Code added after `if (rare) {` runs when the branch's body does, not when the `if` does."""
    (h,) = reach.pre_image_hunks("--- a/mm/x.c\n+++ b/mm/x.c\n@@ -10,4 +10,5 @@ f\n a\n b\n+new\n c\n d\n")
    assert h.inserted and h.lines == (11, 12)
    branch_not_taken = {"odirect": {"mm/x.c": {11: 9, 12: 0}}}
    (r,) = reach.reach([h], branch_not_taken, {})
    assert (r.status, r.why) == ("never ran", "by the lines around it")
    (r,) = reach.reach([h], {"odirect": {"mm/x.c": {11: 9, 12: 3}}}, {})
    assert (r.status, r.workloads) == ("ran", ("odirect",))
