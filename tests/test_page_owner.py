"""bench/run/page_owner.py on real page_owner output: tests/data/page_owner/ (see its README.md)."""

from __future__ import annotations

from pathlib import Path

from bench.run import leaks, page_owner

DATA = Path(__file__).parent / "data" / "page_owner"
CANARY = DATA / "canary-pages-tcg"


def canary() -> page_owner.Dump:
    return page_owner.parse((CANARY / "mm-selftests.page_owner").read_text().splitlines())


def test_every_record_of_a_real_read_is_parsed() -> None:
    dump = canary()
    assert (dump.read, dump.seen, dump.kept, len(dump.records), dump.bad_lines) == (13211, 179, 179, 179, 0)
    assert dump.complete
    assert all(r.pfn > 0 and r.migratetype and r.stack for r in dump.records)


def test_a_leaked_thp_record() -> None:
    thp = next(r for r in canary().records if r.comm == "cow" and r.order == 9)
    assert (thp.pid, thp.tgid, thp.pages, thp.pfn, thp.migratetype) == (171, 171, 512, 0x8200, "Movable")
    assert thp.gfp == ("GFP_TRANSHUGE", "__GFP_NORETRY", "__GFP_THISNODE") and thp.user
    assert "head" in thp.flags.split("|") and "swapbacked" in thp.flags.split("|")
    assert thp.stack[0] == "prep_new_page+0xc6/0xf0" and "do_huge_pmd_anonymous_page+0xbc/0x990" in thp.stack


def test_migrated_pages_keep_their_reason() -> None:
    assert {r.migrated for r in canary().records} >= {"", "compaction"}


def test_slab_pages_with_a_user_gfp_are_not_user_pages() -> None:
    """ext4's buffer heads are allocated with the mapping's gfp, __GFP_HARDWALL included."""
    slab = [r for r in canary().records if any(f.startswith("allocate_slab+") for f in r.stack)]
    assert any("__GFP_HARDWALL" in r.gfp for r in slab)
    assert slab and not any(r.user for r in slab)
    assert not any(r.user for r in canary().records if r.gfp[0] in ("GFP_KERNEL", "GFP_NOFS") and "__GFP_HARDWALL" not in r.gfp)


def test_a_read_that_did_not_finish_reads_as_none() -> None:
    text = (CANARY / "mm-selftests.page_owner").read_text().split("pinbench: ")[0]
    dump = page_owner.parse(text.splitlines())
    assert dump.read == 0 and len(dump.records) == 179


def test_lines_of_no_known_format_are_counted_not_guessed() -> None:
    dump = page_owner.parse(["Page allocated via order x, nonsense", " frame+0x1/0x2", ""])
    assert dump.records == () and dump.bad_lines == 2


def test_mapcounts() -> None:
    assert page_owner.mapcounts(["0x8200                    0", "0x11003 2", "0x11004", "junk 1"]) == {0x8200: 0, 0x11003: 2}


def test_the_canary_fails_with_its_stacks_and_hugetlb_pages() -> None:
    """patches/canary-pages (a vmsplice reference leak, no pin) on a real boot: the THPs and the
    hugetlb pages cow vmspliced stay allocated after it exited, while pin-balance passed."""
    assert "OK: pins balanced" in (CANARY / "pin-balance.log").read_text()
    sup = leaks.support(CANARY, (CANARY / "config").read_text())
    case = leaks.pages_case("mm-selftests", CANARY, sup)
    assert case is not None and case.status.value == "fail"
    assert case.message.startswith("mm-selftests left memory behind: 102")  # 8192 THP + 2048 hugetlb + page cache
    assert "4 hugetlb page(s) still in use" in case.message
    first = case.output.splitlines()
    assert first[0].startswith("8192 page(s) allocated by cow (pid 171") and first[1] == "    do_huge_pmd_anonymous_page+0xbc/0x990"
    assert "    alloc_pool_huge_folio+0x76/0xe0" in first


BASELINE = DATA / "baseline-tcg"


def test_the_unpatched_tree_passes_within_the_tolerance() -> None:
    """iouring on the unpatched tree (a real boot): what its exited processes still have is a log
    on tmpfs; the page cache of udev workers and of the setup tools (mount, mkfs: 2 pages here)
    and the pages live processes map are not counted."""
    sup = leaks.support(BASELINE, (BASELINE / "config").read_text())
    case = leaks.pages_case("iouring", BASELINE, sup)
    assert case is not None and case.status.value == "pass", case.message
    assert case.message.startswith("1 user page(s) left by its exited processes, 0 of them anonymous, tolerance 32 and 0")
    strict = leaks.pages_case("iouring", BASELINE, sup, leaks.Tolerance(leaked_pages=0))
    assert strict is not None and strict.status.value == "fail"
    assert "allocated by (udev-worker)" not in strict.output and "allocated by fio" in strict.output


def test_pages_a_live_process_maps_are_not_left_behind() -> None:
    """Without the map counts the runner looked up, more pages would count as left behind."""
    dump = page_owner.parse((BASELINE / "iouring.page_owner").read_text().splitlines())
    alive = {int(t) for t in (BASELINE / "iouring.alive").read_text().split()}
    mapped = page_owner.mapcounts((BASELINE / "iouring.mapcount").read_text().splitlines())
    assert any(n > 0 for n in mapped.values())
    with_counts = sum(r.pages for r in leaks.leaked(dump, alive, mapped))
    without = sum(r.pages for r in leaks.leaked(dump, alive))
    assert with_counts == 1 and without > with_counts


def test_anonymous_pages_left_fail_whatever_the_page_tolerance() -> None:
    """An exited process's anonymous page has no owner: the canary's leaked THPs fail even under
    a page tolerance above their count, and only the anonymous one is what fails then."""
    sup = leaks.support(CANARY, (CANARY / "config").read_text())
    loose = leaks.Tolerance(leaked_pages=100_000, hugetlb_pages=100)
    case = leaks.pages_case("mm-selftests", CANARY, sup, loose)
    assert case is not None and case.status.value == "fail", case.message
    assert "8192 of them anonymous (tolerance 100000, anonymous 0)" in case.message
    looser = leaks.pages_case("mm-selftests", CANARY, sup, leaks.Tolerance(leaked_pages=100_000, leaked_anon_pages=8192,
                                                                           hugetlb_pages=100))
    assert looser is not None and looser.status.value == "pass", looser.message


def test_records_of_an_unknown_format_make_the_count_an_error(tmp_path: Path) -> None:
    """A page_owner whose record headers changed (a series touching mm/page_owner.c, another
    kernel) parses to no record: the count is not made, never called zero."""
    import shutil
    shutil.copytree(BASELINE, tmp_path / "g")
    g = tmp_path / "g"
    text = (g / "iouring.page_owner").read_text()
    (g / "iouring.page_owner").write_text(text.replace(" ns\n", " ns, free_ts 0 ns\n"))
    sup = leaks.support(g, (g / "config").read_text())
    case = leaks.pages_case("iouring", g, sup)
    assert case is not None and case.status.value == "error", case.message
    assert "in no format this bench reads" in case.message


def test_a_udev_workers_page_cache_is_not_a_workload_leak() -> None:
    """A real healthy boot: pin-matrix's loop devices woke udev, whose worker left 44 page cache
    pages (library and rules files its siblings still mapped at the drop): not the workload's."""
    udev = DATA / "udev-baseline-tcg"
    sup = leaks.support(udev, (udev / "config").read_text())
    case = leaks.pages_case("pin-matrix", udev, sup)
    assert case is not None and case.status.value == "pass", case.message
    assert case.message.startswith("2 user page(s) left by its exited processes, 0 of them anonymous")
    dump = page_owner.parse((udev / "pin-matrix.page_owner").read_text().splitlines())
    assert sum(r.pages for r in dump.records if r.comm == "(udev-worker)" and r.user) >= 44
    # the setup tools' page cache (mount's, losetup's: their binary and libraries) is not counted
    # either: 2 pages here, which the count had before they were left out
    tools = sum(r.pages for r in dump.records if r.comm in leaks.SETUP_TOOLS and r.user and not leaks.anonymous(r))
    assert tools >= 2


def test_a_workload_stopped_at_its_timeout_is_not_counted(tmp_path: Path) -> None:
    """The canary's real leak, but the runner stopped the workload at its timeout (rc 124, as
    odirect on a loaded host, harmless-doc run r5 2026-12-05): its clean-up never ran, so the
    pages are no verdict; its workload case already fails on the timeout."""
    import shutil
    shutil.copytree(CANARY, tmp_path / "g")
    g = tmp_path / "g"
    (g / "mm-selftests.rc").write_text("124 1796483460.46 1796483870.10\n")
    case = leaks.pages_case("mm-selftests", g, leaks.support(g, (g / "config").read_text()))
    assert case is not None and case.status.value == "skip", case.message
    assert "stopped at its timeout" in case.message
    (g / "mm-selftests.rc").write_text("1 1796483460.46 1796483870.10\n")  # a plain failure still counts
    again = leaks.pages_case("mm-selftests", g, leaks.support(g, (g / "config").read_text()))
    assert again is not None and again.status.value == "fail"


def test_a_compaction_that_never_finished_fails_the_pages_case(tmp_path: Path) -> None:
    """guests/pages.sh stops a compaction that waits for ever on folios left isolated and says
    so in NAME.compaction: the pages case fails on it whatever the page counts (the readings are
    the real iouring ones of the unpatched tree, which pass without it)."""
    import shutil
    guest = tmp_path / "guest"
    shutil.copytree(BASELINE, guest)
    sup = leaks.support(guest, (guest / "config").read_text())
    (guest / "iouring.compaction").write_text(
        "did not finish in 60 s (nr_isolated_anon 568, nr_isolated_file 24)\n")
    case = leaks.pages_case("iouring", guest, sup)
    assert case is not None and case.status.value == "fail"
    assert case.message.startswith("iouring left memory behind: the compaction after it did not finish in 60 s"
                                   " (nr_isolated_anon 568, nr_isolated_file 24): folios left isolated off the LRU")
    (guest / "iouring.compaction").unlink()
    passed = leaks.pages_case("iouring", guest, sup)
    assert passed is not None and passed.status.value == "pass"


FUTEX = DATA / "futex-ro-leak-tcg"
SIXTEEN = DATA / "sixteen-pages-tcg"


def _case(guest: Path) -> leaks.Case:
    case = leaks.pages_case("pin-matrix", guest, leaks.support(guest, (guest / "config").read_text()))
    assert case is not None
    return case


def test_a_page_with_an_anonymous_fault_mask_is_named_not_failed() -> None:
    """Round 4's futex-ro-anon-key-ref-leak on a real boot: one anonymous page of an exited
    pin_matrix child stays referenced. 6.12 inlines do_anonymous_page() into __handle_mm_fault(),
    so no frame names it anonymous; its zeroed movable fault mask does, and the case says so,
    under the page tolerance: healthy runs leave such pages too (the next test)."""
    case = _case(FUTEX)
    assert case.status.value == "pass", case.message
    assert case.message.startswith("1 user page(s) left by its exited processes, 0 of them anonymous (1 more by an"
                                   " anonymous fault's mask, under the page tolerance), tolerance 32 and 0")
    dump = page_owner.parse((FUTEX / "pin-matrix.page_owner").read_text().splitlines())
    left = leaks.leaked(dump, {int(t) for t in (FUTEX / "pin-matrix.alive").read_text().split()})
    assert [r.pages for r in left] == [1] and leaks.anonymous_by_mask(left[0]) and not leaks.anonymous(left[0])
    # with the page tolerance below it, the page fails the case, its fault stack shown
    strict = leaks.pages_case("pin-matrix", FUTEX, leaks.support(FUTEX, (FUTEX / "config").read_text()),
                              leaks.Tolerance(leaked_pages=0))
    assert strict is not None and strict.status.value == "fail"
    assert "GFP_HIGHUSER_MOVABLE|__GFP_COMP|__GFP_ZERO" in strict.output and "    __handle_mm_fault+0x10b0/0x1770" in strict.output


def test_sixteen_pages_a_healthy_pin_matrix_left_do_not_fail_it() -> None:
    """Round 5's truncate-split-fail-drop-dirty run (20261206-230649): 16 pages of pin_matrix's
    main process with an anonymous fault's mask stayed allocated after it exited, through the
    runner's second read 3 s later (the first reading, page_owner.first, had the same 16). The same 16
    showed in runs of the bare tree and of bugs that cannot leak them: they are named, under
    the page tolerance, not failed."""
    case = _case(SIXTEEN)
    assert case.status.value == "pass", case.message
    assert "0 of them anonymous (16 more by an anonymous fault's mask, under the page tolerance)" in case.message
    first = page_owner.parse((SIXTEEN / "pin-matrix.page_owner.first").read_text().splitlines())
    alive = {int(t) for t in (SIXTEEN / "pin-matrix.alive").read_text().split()}
    assert sum(r.pages for r in leaks.leaked(first, alive) if leaks.anonymous_by_mask(r)) == 16


def test_a_page_in_the_swap_cache_or_not_from_a_fault_has_no_anonymous_mask() -> None:
    import dataclasses
    dump = page_owner.parse((FUTEX / "pin-matrix.page_owner").read_text().splitlines())
    rec = next(r for r in dump.records if "__GFP_ZERO" in r.gfp and "GFP_HIGHUSER_MOVABLE" in r.gfp)
    assert leaks.anonymous_by_mask(rec)
    assert not leaks.anonymous_by_mask(dataclasses.replace(rec, flags=rec.flags + "|swapcache"))
    no_fault = tuple(f for f in rec.stack if "handle_mm_fault" not in f)
    assert not leaks.anonymous_by_mask(dataclasses.replace(rec, stack=no_fault))
    # a page the fault did not zero (page cache, shmem) has no anonymous mask
    assert not leaks.anonymous_by_mask(dataclasses.replace(rec, gfp=("GFP_HIGHUSER_MOVABLE", "__GFP_COMP")))
    # a page its frames call anonymous is counted there, not twice
    framed = dataclasses.replace(rec, stack=("do_anonymous_page+0x1/0x2",) + rec.stack)
    assert leaks.anonymous(framed) and not leaks.anonymous_by_mask(framed)


EXEC_LEAK = DATA / "exec-e2big-leak-tcg"


def test_pages_an_exec_kept_count_against_the_page_tolerance() -> None:
    """Round 6's exec-arg-page-e2big-leak on a real boot (the exec/ cells, 4 x 128 failed execs):
    the new stack's page each E2BIG exit kept, faulted by get_arg_page() through GUP. Named only
    by its anonymous fault's mask (no frame says anonymous), and still counted: 512 pages over
    the page tolerance fail the case, their stack shown."""
    case = _case(EXEC_LEAK)
    assert case.status.value == "fail", case.message
    assert case.message == ("pin-matrix left memory behind: 512 user page(s) still allocated to its exited processes"
                            " after sync, drop_caches and compaction, 0 of them anonymous (512 more by an anonymous"
                            " fault's mask, under the page tolerance) (tolerance 32, anonymous 0)")
    # two stacks: the stack page the path's copy faulted in (copy_string_kernel(), 384: the
    # cells whose first argv or envp string was copied into it) and copy_strings()' own (128)
    groups = case.output.split("page(s) allocated by ")
    assert [int(g.split()[-1]) for g in groups[:-1]] == [384, 128]
    assert all("    get_arg_page+" in g for g in groups[1:])


def test_pages_swapoff_read_back_for_other_owners_are_not_the_workloads() -> None:
    """A real healthy default-set run (20261207-131230): pin-matrix's swapoff cells read back 176
    pages of other owners (tmpfs/shmem files through shmem_unuse(), readahead neighbours through
    unuse_pte_range()), which page_owner charged to pin_matrix; the pages case failed on them."""
    g = DATA / "swapoff-others-tcg"
    case = leaks.pages_case("pin-matrix", g, leaks.support(g, (g / "config").read_text()))
    assert case is not None and case.status.value == "pass", case.message
    dump = page_owner.parse((g / "pin-matrix.page_owner").read_text().splitlines())
    others = [r for r in dump.records if r.user and leaks.for_others(r)]
    assert sum(r.pages for r in others) >= 176 and not any(leaks.anonymous(r) for r in others)
    assert all(r.comm == "pin_matrix" for r in others)
