"""A workload's own cases (CASE lines): parsing, limits, their place among the run's cases, and
catch entries naming them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import ended

from bench.base.errors import UserError
from bench.base.limits import LIMITS
from bench.run import cases, catch, guests, kconfig, subcases
from bench.run.result import Case, RunResult, Status

GUESTS = Path(__file__).resolve().parent.parent / "guests"
BOOT = Path(__file__).parent / "data" / "boots" / "canary-tcg"
LINES = (BOOT / "console.log").read_text().splitlines()


def test_case_lines_and_nothing_else() -> None:
    got = subcases.parse([
        "== matrix",
        "CASE uring/anon/fork PASS\n",
        "CASE gup-fast/thp/ksm SKIP: KSM merged no witness page in 10000 ms",
        "CASE pvm-writev/anon/hole FAIL: pvm over a hole at byte 32768 moved 65536 bytes",
        "FAIL: not a case line",
        "CASE bad name PASS",        # a space in the name: not a case line
        "CASE uring/anon/none PASSED",  # not a verdict word
        "  CASE indented/x PASS",     # must start the line
        "# race/pin-vs-fork: 2.0 s, 100 rounds",
    ])
    assert [(s.name, s.status, s.message) for s in got] == [
        ("uring/anon/fork", Status.PASS, ""),
        ("gup-fast/thp/ksm", Status.SKIP, "KSM merged no witness page in 10000 ms"),
        ("pvm-writev/anon/hole", Status.FAIL, "pvm over a hole at byte 32768 moved 65536 bytes"),
    ]


def test_a_name_printed_twice_keeps_a_failure() -> None:
    got = subcases.parse(["CASE a/b PASS", "CASE a/b FAIL: later", "CASE a/b PASS", "CASE c SKIP: x", "CASE c PASS"])
    assert [(s.name, s.status) for s in got] == [("a/b", Status.FAIL), ("c", Status.SKIP)]


def test_over_the_limit_is_one_failing_case() -> None:
    lines = (f"CASE c{i} PASS" for i in range(LIMITS.subcases + 5))
    got = subcases.parse(lines)
    assert len(got) == LIMITS.subcases + 1
    assert got[-1].status is Status.FAIL and "5 CASE line(s)" in got[-1].message


def test_subcases_follow_their_workload(tmp_path: Path) -> None:
    workloads = guests.select(["rxe", "pin-matrix"], GUESTS)
    (tmp_path / "rxe.log").write_text("ok\n")
    (tmp_path / "rxe.rc").write_text("0 1.0 2.0\n")
    (tmp_path / "pin-matrix.log").write_text(
        "CASE uring/anon/fork PASS\nCASE uring/anon/ksm FAIL: KSM merged a pinned page\n"
        "pin_matrix: 1 cells passed, 1 failed, 0 skipped\n")
    (tmp_path / "pin-matrix.rc").write_text("1 2.0 9.0\n")
    found = cases.workload_cases(workloads, tmp_path, ended(ended(LINES, "rxe", 0), "pin-matrix", 1),
                                 cases.BootFacts(0, False, 1.0, BOOT / "console.log"))
    assert [(c.name, c.status) for c in found] == [
        ("rxe", Status.PASS),
        ("pin-matrix", Status.FAIL),
        ("pin-matrix/uring/anon/fork", Status.PASS),
        ("pin-matrix/uring/anon/ksm", Status.FAIL),
    ]
    assert found[3].group == "workload" and found[3].message == "KSM merged a pinned page"


def test_a_workload_that_never_ran_has_no_subcases(tmp_path: Path) -> None:
    workloads = guests.select(["pin-matrix"], GUESTS)
    found = cases.workload_cases(workloads, tmp_path, [], cases.BootFacts(0, False, 1.0, BOOT / "console.log"))
    assert [c.name for c in found] == ["pin-matrix"]


def test_catch_names_a_cell_of_a_workload_the_bug_runs() -> None:
    entries = catch.parse("s.yaml", [{"case": "workload/pin-matrix/uring/anon/soft-dirty", "message": "pin"}])
    catch.check_workloads(entries, ["smoke", "pin-matrix"])
    with pytest.raises(UserError, match="never runs workload 'pin-matrix'"):
        catch.check_workloads(entries, ["smoke"])
    failed = Case("workload", "pin-matrix/uring/anon/soft-dirty", Status.FAIL, 0.0,
                  "after soft-dirty the process's write is not seen through the pin")
    result = RunResult("r", "s", Path("."), (failed,), 1.0)
    assert catch.hits(result, entries) == list(entries)
    other = Case("workload", "pin-matrix/uring/anon/fork", Status.FAIL, 0.0, "the pin ...")
    assert catch.hits(RunResult("r", "s", Path("."), (other,), 1.0), entries) == []


GUEST_LOGS = Path(__file__).parent / "data" / "guest"


def test_a_real_pin_matrix_log() -> None:
    lines, got = _real_log("pin-matrix-baseline-6.12-tcg.log")
    assert len(got) == 66 + 6  # the default set's 66 cells and 6 races, each once
    assert got["uring/anon/soft-dirty"].status is Status.PASS
    assert got["race/pin-vs-thp-split"].status is Status.PASS
    skipped = [s for s in got.values() if s.status is Status.SKIP]
    assert [s.name for s in skipped] == ["uring/thp/ksm"]
    assert skipped[0].message.startswith("KSM merged no witness pages in 10000 ms")
    # the comment lines (# name: secs, # race/...: rounds) are not cases
    assert not any(name.startswith("#") for name in got)


def test_a_real_log_with_the_reclaim_cells() -> None:
    lines, got = _real_log("pin-matrix-reclaim-baseline-6.12-tcg.log")
    assert len(got) == 72 + 7  # the default set's 72 cells (6 of them reclaim) and 7 races
    reclaim = sorted(n for n in got if n.endswith("/reclaim") or n == "race/dio-vs-reclaim")
    assert len(reclaim) == 7 and all(got[n].status is Status.PASS for n in reclaim)
    assert all(s.status is Status.PASS for s in got.values())


def test_a_real_log_of_reclaim_taking_a_pinned_folio() -> None:
    # patches/bugs/reclaim-pinned-private: the race's data check fails; the kernel's WARNING
    # (its catch:) is on the console, not in this log
    lines = (GUEST_LOGS / "pin-matrix-reclaim-pinned-private-6.12-tcg.log").read_text().splitlines()
    failed = [s for s in subcases.parse(lines) if s.status is Status.FAIL]
    assert [s.name for s in failed] == ["race/dio-vs-reclaim"]
    assert "MAP_SHARED ext4 buffer reads other data" in failed[0].message


def test_a_real_log_of_a_caught_bug() -> None:
    lines = (GUEST_LOGS / "pin-matrix-wp-reuse-exclusive-large-6.12-tcg.log").read_text().splitlines()
    failed = [s for s in subcases.parse(lines) if s.status is Status.FAIL]
    assert [s.name for s in failed] == ["gup-fast/thp/soft-dirty", "uring/thp/soft-dirty"]
    assert all("not seen through the pin" in s.message for s in failed)
    entries = catch.parse("patches/bugs/wp-reuse-exclusive-large/series.yaml", [
        {"case": "workload/pin-matrix/gup-fast/thp/soft-dirty", "message": "not seen through the pin"},
        {"case": "workload/pin-matrix/uring/thp/soft-dirty", "message": "not seen through the pin"}])
    result = RunResult("r", "s", Path("."), tuple(subcases.cases("pin-matrix", lines)), 1.0)
    assert catch.hits(result, entries) == list(entries)


def test_a_real_log_with_the_held_pins_error_paths() -> None:
    lines, got = _real_log("pin-matrix-errpaths-baseline-6.12-tcg.log")
    assert len(got) == 74 + 6  # the default set's 74 cells (8 of them error paths and seals), 6 races
    new = ["gup-fast/anon/hole", "gup-slow/thp/prot-none", "uring/anon/hole", "uring/thp/hole",
           "uring/shmem/prot-none", "uring/shmem/seal", "uring/shmem-thp/seal", "gup-fast/shmem-thp/seal"]
    assert all(got[name].status is Status.PASS for name in new)
    # what the kernel did is in the comment lines, which are not cases
    assert "# uring/thp/hole: pinning 1024 pages, page 512 unmapped: Bad address;" \
        " the kernel took 512 pin(s) and released 512" in lines
    assert not any(name.startswith("#") for name in got)


def test_a_real_log_of_a_leak_on_an_error_path() -> None:
    # patches/bugs/iouring-partial-pin-leak: io_pin_pages() keeps the pins of a short count
    lines = (GUEST_LOGS / "pin-matrix-iouring-partial-pin-leak-6.12-tcg.log").read_text().splitlines()
    failed = {s.name: s.message for s in subcases.parse(lines) if s.status is Status.FAIL}
    assert sorted(failed) == ["uring/anon/hole", "uring/shmem/prot-none", "uring/thp/hole"]
    assert failed["uring/thp/hole"].startswith("512 pin(s) outstanding")  # the pages before the hole
    entries = catch.parse("s.yaml", [{"case": "workload/pin-matrix/uring/anon/hole", "message": "outstanding"}])
    result = RunResult("r", "s", Path("."), tuple(subcases.cases("pin-matrix", lines)), 1.0)
    assert catch.hits(result, entries) == list(entries)


def test_a_real_log_of_a_seal_granted_under_a_pin() -> None:
    # patches/bugs/memfd-seal-pinned-thp: one reference beyond the page cache's is tolerated,
    # and io_uring keeps exactly one on a coalesced THP
    lines, cells = _real_log("pin-matrix-memfd-seal-pinned-thp-6.12-tcg.log")
    failed = [name for name, s in cells.items() if s.status is Status.FAIL]
    assert failed == ["uring/shmem-thp/seal"]
    assert cells["uring/shmem-thp/seal"].message.startswith("F_SEAL_WRITE was granted while uring held a pin")
    assert cells["gup-fast/shmem-thp/seal"].status is Status.PASS  # 512 references: still refused


def test_a_real_log_with_every_o_direct_path() -> None:
    # the dio/<target>/<engine>-<dir>-<shape> cells (guests/src/dio_paths.h) on a healthy 6.12
    lines, got = _real_log("pin-matrix-dio-paths-baseline-6.12-tcg.log")
    dio = sorted(n for n in got if n.startswith("dio/"))
    assert len(dio) == 96  # 3 targets x 3 engines x 2 directions x 5 shapes, and blk's 6 big ones
    assert {n.split("/")[1] for n in dio} == {"ext4", "blk", "vfat"}
    assert all(got[n].status is Status.PASS for n in dio)
    # fs/direct-io.c's uncounted folio_add_pin() pins are comment lines, declared once for the runner
    assert "# dio/vfat/sync-read-eof: FOLL_PIN acquired +4 released +10, 0 page(s) held: 6 uncounted" \
        " (fs/direct-io.c)" in lines
    assert sum(ln.startswith("# dio/vfat: 312 pin release(s) beyond") for ln in lines) == 1
    assert not any(name.startswith("#") for name in got)


def test_a_real_log_of_an_async_block_device_write_leaking_its_pins() -> None:
    # patches/bugs/blkdev-async-write-unpin: blkdev_bio_end_io_async() no longer releases the
    # pages of a single-bio write; the sync and multi-bio (big) paths and the reads are fine
    lines = (GUEST_LOGS / "pin-matrix-blkdev-async-write-unpin-6.12-tcg.log").read_text().splitlines()
    failed = {s.name: s.message for s in subcases.parse(lines) if s.status is Status.FAIL}
    assert sorted(failed) == sorted(f"dio/blk/{e}-write-{s}" for e in ("uring", "aio")
                                    for s in ("one", "multi", "offset", "eof", "fault"))
    assert failed["dio/blk/aio-write-offset"].startswith("5 page(s) of the buffers still held")
    entries = catch.parse("s.yaml", [{"case": "workload/pin-matrix/dio/blk/uring-write-one", "message": "still held"}])
    result = RunResult("r", "s", Path("."), tuple(subcases.cases("pin-matrix", lines)), 1.0)
    assert catch.hits(result, entries) == list(entries)


def test_a_real_log_of_the_swapin_race_missing_its_bug() -> None:
    # patches/bugs/swapin-skip-swapcache-race with race/swapin-vs-swapin alone for 10 s: the race
    # ran with its premise (rounds counted, swap-ins) and saw nothing: the case passes, and its
    # comment line is not a case
    lines = (GUEST_LOGS / "pin-matrix-swapin-race-skip-swapcache-bug-6.12-tcg.log").read_text().splitlines()
    got = subcases.parse(lines)
    assert [(s.name, s.status) for s in got] == [("race/swapin-vs-swapin", Status.PASS)]
    comment = next(line for line in lines if line.startswith("# race/swapin-vs-swapin:"))
    assert "32 counted" in comment and "pswpin +1549" in comment


def test_a_real_log_of_the_swapin_race_on_its_own_swap_device() -> None:
    # the same bug, the race on a 15-slot zram device of its own (pin-matrix.sh -s): the comment
    # lines say which device and how often a page came back to its old swap entry (the premise
    # of the class); the case still passes: a known miss (docs/matrix.md)
    lines = (GUEST_LOGS / "pin-matrix-swapin-race-own-swap-bug-6.12-tcg.log").read_text().splitlines()
    assert [(s.name, s.status) for s in subcases.parse(lines)] == [("race/swapin-vs-swapin", Status.PASS)]
    reuse = next(line for line in lines if line.startswith("# race/swapin-vs-swapin: on /dev/zram1 alone"))
    assert "190 times a page of the threads' half came back to the swap entry" in reuse
    assert any(line.endswith("; its own swap device") for line in lines)


# -- the cold/free/collapse/khugepaged/mkclean events and shmem-thp's (guests/src/events_cells.h) --

def test_a_real_log_with_the_new_events() -> None:
    # every cell of the events block on a healthy 6.12: each passes with its premise, and what
    # the kernel did is in its comment line
    lines, got = _real_log("pin-matrix-events-baseline-6.12-tcg.log")
    events = ("cold", "free", "collapse", "khugepaged", "mkclean")
    new = sorted(n for n in got if n.rsplit("/", 1)[1] in events)  # 7 cold, 8 free, 6 collapse, 2 khugepaged, 3 mkclean
    assert len(new) == 26 and all(got[n].status is Status.PASS for n in new)
    shmem_thp = [n for n in got if n.split("/")[1] == "shmem-thp"]
    assert len(shmem_thp) == 41 and all(got[n].status is Status.PASS for n in shmem_thp)
    # premises seen: the witness discarded, collapsed, deactivated; the pinned half kept
    free = next(ln for ln in lines if ln.startswith("# uring/anon/free: MADV_FREE then MADV_PAGEOUT:"))
    assert "15 of 15 witness pages discarded, pinned half present" in free
    collapse = next(ln for ln in lines if ln.startswith("# uring/anon/collapse: MADV_COLLAPSE:"))
    assert "Resource temporarily unavailable" in collapse and "pinned half small pages" in collapse
    assert not any(name.startswith("#") for name in got)


def test_a_real_log_of_reclaim_discarding_pinned_lazyfree_pages() -> None:
    # scratch bug (tests/data/guest/pin-matrix-lazyfree-discard-pinned.patch): try_to_unmap_one()
    # discards a clean MADV_FREE page without comparing its refcount with its map count
    lines = (GUEST_LOGS / "pin-matrix-lazyfree-discard-pinned-6.12-tcg.log").read_text().splitlines()
    failed = {s.name: s.message for s in subcases.parse(lines) if s.status is Status.FAIL}
    assert sorted(failed) == sorted(f"{p}/{m}/free" for p in ("gup-fast", "gup-slow", "uring", "vmsplice")
                                    for m in ("anon", "thp"))
    assert all(m.startswith("reclaim discarded a pinned MADV_FREE page") for m in failed.values())
    entries = catch.parse("s.yaml", [{"case": "workload/pin-matrix/uring/anon/free", "message": "discarded a pinned"}])


# -- the borrow cells (guests/src/borrow_cells.h): FOLL_FORCE writes, zerocopy sends, futex, cmdline --

def test_a_real_log_with_every_borrow_cell() -> None:
    # ONLY=borrow/ QUICK=0 on a healthy 6.12: 44 cells, the three ext4 file-THP cells skip (no
    # large folios on ext4 in 6.12), every other one passes
    lines, got = _real_log("pin-matrix-borrow-baseline-6.12-tcg.log")
    assert len(got) == 44 and all(name.startswith("borrow/") for name in got)
    skipped = sorted(name for name, s in got.items() if s.status is Status.SKIP)
    assert skipped == [f"borrow/force-{how}/ext4-private-thp" for how in ("child-mem", "poke", "self-mem")]
    assert all("no large folio" in got[name].message for name in skipped)
    assert all(s.status is Status.PASS for name, s in got.items() if name not in skipped)
    # the refused writes say EIO, loopback's deferred copy and the held pages are comment lines
    assert "# borrow/force-poke/hugetlb-private: the FOLL_FORCE write of 5096 bytes at 3592" \
        " Input/output error" in lines
    zc = next(line for line in lines if line.startswith("# borrow/zc-tcp/anon: round 1"))
    assert "COPIED" in zc and "16 of 16 buffer pages held before the receiver read" in zc
    assert not any(name.startswith("#") for name in got)


def test_a_real_log_of_a_foll_force_write_reaching_the_page_cache() -> None:
    # tests/data/guest/borrow-bugs/force-write-pagecache: can_follow_write_pte() lets FOLL_FORCE
    # write any page but a shared anonymous one, so a read-only MAP_PRIVATE file page (ext4 or
    # shmem) is written in place: the other process sees the write (Dirty COW's class)
    lines, cells = _real_log("pin-matrix-borrow-force-write-pagecache-6.12-tcg.log")
    assert len(cells) == 22  # the default set's borrow cells
    failed = sorted(name for name, s in cells.items() if s.status is Status.FAIL)
    assert failed == ["borrow/force-poke/ext4-private", "borrow/force-self-mem/ext4-private",
                      "borrow/force-self-mem/shmem-private"]
    assert all("reads other bytes at 3592 (in the written range)" in cells[n].message for n in failed)
    # the first failure is the verdict; what reached the file and the memfd is said in comment lines
    assert "# borrow/force-self-mem/ext4-private: the file on disk changed at byte 3592" in lines
    assert "# borrow/force-self-mem/shmem-private: the memfd changed at byte 3592" in lines
    assert "# borrow/force-self-mem/ext4-shared: the file on disk (drop_caches, O_DIRECT) keeps its bytes" in lines
    # anonymous memory shared after fork still COWs, refused writes are still refused
    assert cells["borrow/force-self-mem/anon-fork"].status is Status.PASS
    assert cells["borrow/force-self-mem/ext4-shared"].status is Status.PASS
    entries = catch.parse("s.yaml", [{"case": "workload/pin-matrix/borrow/force-self-mem/ext4-private",
                                      "message": "in the written range"}])

# borrow cells of the default set written after the borrow logs were recorded (2026-12-06, round 3
# of docs/redteam.md); their own real logs are pin-matrix-zc-*-6.12-tcg.log
BORROW_LATER = {"borrow/zc-udp/thp"}
TCPZC = "borrow/tcp-zc-recv/"  # cells of tcpzc_cells.h, in borrow_quick[] since round 4 (2026-12-06)


def _borrow_quick(perf_phys: bool = False) -> list[str]:
    """The default set's borrow cells, read from the C table (borrow_quick[]); without the
    perf-phys ones unless asked (the logs of before 2026-12-06 04:30 predate them), never
    those of BORROW_LATER or TCPZC (newer than the logs)."""
    text = (GUESTS / "src" / "borrow_cells.h").read_text()
    table = text.split("borrow_quick[] = {", 1)[1].split("};", 1)[0]
    return [n for n in re.findall(r'"([^"]+)"', table)
            if (perf_phys or not n.startswith("borrow/perf-phys/")) and n not in BORROW_LATER
            and not n.startswith(TCPZC)]


READ_SIDE = ("borrow/peek/", "borrow/futex-ro/", "borrow/proc-cmdline/proctitle", "borrow/singlestep/")


def test_a_real_log_with_the_read_side_of_the_borrow_cells() -> None:
    # ONLY=borrow/ QUICK=0 on a healthy 6.12 (guests/src/borrow_reads.h): the 44 cells of before
    # and 13 read-side cells (PTRACE_PEEKDATA/PEEKTEXT, a futex through a read-only mapping,
    # setproctitle, PTRACE_SINGLESTEP); only the three ext4 file-THP cells skip
    lines, got = _real_log("pin-matrix-borrow-all-baseline-6.12-tcg.log")
    assert len(got) == 57 and all(name.startswith("borrow/") for name in got)
    reads = sorted(name for name in got if name.startswith(READ_SIDE))
    assert [sum(n.startswith(p) for n in reads) for p in READ_SIDE] == [7, 2, 1, 3]
    assert all(got[n].status is Status.PASS for n in reads)
    skipped = sorted(name for name, s in got.items() if s.status is Status.SKIP)
    assert skipped == [f"borrow/force-{how}/ext4-private-thp" for how in ("child-mem", "poke", "self-mem")]
    # every cell of the default set's list is a cell the program really runs, 6 of them read-side
    quick = _borrow_quick()
    assert set(quick) <= set(got) and len(quick) == 28 and sum(n.startswith(READ_SIDE) for n in quick) == 6
    # the premises, said in comment lines: swapped out before the peek, dropped before the step
    assert any(line.startswith("# borrow/peek/anon-swapped: PTRACE_PEEKDATA of 1538 words")
               and "each the pattern; 4 of 4 pages swapped out before, 0 after" in line for line in lines)
    assert any(line.startswith("# borrow/peek/ext4-private: PTRACE_PEEKTEXT")
               and "0 of 4 pages in the page cache before" in line for line in lines)
    steps = [line for line in lines if line.startswith("# borrow/singlestep/") and "single steps" in line]
    assert len(steps) == 3 and all("35 of them in the code" in line and "TF the tracee's (shown)" in line
                                   for line in steps)
    assert "the code page swapped out at the first step in it" in steps[1]
    assert "the code page not mapped at the first step in it" in steps[2]
    futex = [line for line in lines if line.startswith("# borrow/futex-ro/") and "woke" in line]
    assert len(futex) == 2 and all("writable mapping woke 1 (the waiter slept)" in line
                                   and "read-only one woke 1" in line for line in futex)
    assert not any(name.startswith("#") for name in got)


def test_a_real_log_of_a_futex_key_keeping_its_read_only_page() -> None:
    # tests/data/guest/borrow-bugs/futex-ro-keeps-page: get_futex_key() no longer drops the page
    # of its second, read-only lookup (a PROT_READ MAP_SHARED futex); the default set's 28 borrow
    # cells: only the read-only futex cell sees it, the page of the futex word held
    lines, cells = _real_log("pin-matrix-borrow-futex-ro-keeps-page-6.12-tcg.log")
    assert len(cells) == 28 and set(cells) == set(_borrow_quick())
    failed = sorted(name for name, s in cells.items() if s.status is Status.FAIL)
    assert failed == ["borrow/futex-ro/shmem"]
    assert cells["borrow/futex-ro/shmem"].message.startswith("1 page(s) of the shared mapping still held")
    assert "(first: page 1;" in cells["borrow/futex-ro/shmem"].message  # page 1 holds the word
    # the wake-ups themselves worked, and the writable futexes keep no page
    assert any(line.startswith("# borrow/futex-ro/shmem: a stale value EAGAIN") and "woke 1 (the waiter slept)" in line
               for line in lines)
    assert cells["borrow/futex/shmem"].status is Status.PASS and cells["borrow/futex/ext4-shared"].status is Status.PASS


# -- the kentry cells (guests/src/kentry_cells.h): udmabuf, AF_ALG, SG_IO ------------------------

KENTRY_PREFIXES = ("udmabuf/", "af-alg-hash/", "af-alg-skcipher/", "sg-io/")


def _real_log(name: str) -> tuple[list[str], dict[str, subcases.Subcase]]:
    """A recorded guest log of tests/data/guest: its lines, and its CASE lines by cell name."""
    lines = (GUEST_LOGS / name).read_text().splitlines()
    return lines, {s.name: s for s in subcases.parse(lines)}


def _c_table(header: str, table: str) -> list[str]:
    """The strings of a `static const char *const TABLE[] = {...}` in guests/src/HEADER."""
    text = (GUESTS / "src" / header).read_text()
    return re.findall(r'"([^"]+)"', text.split(f"{table}[] = {{", 1)[1].split("};", 1)[0])


# kentry cells of the default set written after the logs of every kentry cell were recorded
# (2026-12-06: udmabuf over a memfd never touched; SG_IO requests larger than a bio); their own
# real logs are pin-matrix-rlimit-udmabuf-baseline-6.12-tcg.log and
# pin-matrix-pipe-sg-bios-baseline-6.12-tcg.log
KENTRY_LATER = {"udmabuf/shmem/unpopulated", "udmabuf/hugetlb/unpopulated", "sg-io/anon/write-two-bios",
                "sg-io/anon/read-two-bios"}


def _kentry_quick() -> list[str]:
    """The default set's kentry cells, read from the C table (kentry_quick[]), but those
    written after the kentry logs were recorded (KENTRY_LATER)."""
    return [n for n in _c_table("kentry_cells.h", "kentry_quick") if n not in KENTRY_LATER]


def test_a_real_log_with_every_kentry_cell() -> None:
    # QUICK=0 on a healthy 6.12 built with kconfigs/pinners.config: all 63 cells pass, none skips
    lines, got = _real_log("pin-matrix-kentry-all-baseline-6.12-tcg.log")
    assert len(got) == 63 and all(n.startswith(KENTRY_PREFIXES) for n in got)
    assert [sum(n.startswith(p) for n in got) for p in KENTRY_PREFIXES] == [27, 12, 12, 12]
    assert all(s.status is Status.PASS for s in got.values())
    # every cell of the default set's list is a cell the program really runs
    assert set(_kentry_quick()) <= set(got)
    # what PUNCH_HOLE did under a pinned udmabuf: small folios leave the file, large ones are
    # zeroed in place (comment lines, not cases)
    assert "# udmabuf/shmem/punch-hole: after PUNCH_HOLE 16 page(s) detached (old bytes, the file reads" \
        " zeros), 0 zeroed and shared" in lines
    assert "# udmabuf/shmem-thp/punch-hole: after PUNCH_HOLE 0 page(s) detached (old bytes, the file reads" \
        " zeros), 512 zeroed and shared" in lines
    assert "# udmabuf/shmem/list-bad: UDMABUF_CREATE_LIST: Invalid argument; FOLL_PIN acquired +16, released +16" \
        in lines
    assert not any(name.startswith("#") for name in got)


def test_a_real_log_of_error_paths_leaking_in_the_kentry_entries() -> None:
    # a scratch series (docs/matrix.md): udmabuf_create(), _skcipher_recvmsg() and
    # bio_map_user_iov() each keep the pins they took before their error
    lines, cells = _real_log("pin-matrix-kentry-unwind-leaks-6.12-tcg.log")
    assert sorted(cells) == sorted(_kentry_quick())  # the default set's list, QUICK=1
    failed = {n: s.message for n, s in cells.items() if s.status is Status.FAIL}
    assert sorted(failed) == ["af-alg-skcipher/anon/fault", "sg-io/anon/fault", "udmabuf/hugetlb/list-bad",
                              "udmabuf/shmem/list-bad"]
    assert failed["udmabuf/shmem/list-bad"].startswith("FOLL_PIN acquired - released is +16 after the refused")
    assert failed["af-alg-skcipher/anon/fault"].startswith("FOLL_PIN acquired - released is +16")
    assert failed["sg-io/anon/fault"].startswith("FOLL_PIN acquired - released is +4 after SG_IO")
    entries = catch.parse("s.yaml", [{"case": "workload/pin-matrix/udmabuf/shmem/list-bad", "message": "pins leaked"}])
    result = RunResult("r", "s", Path("."), tuple(subcases.cases("pin-matrix", lines)), 1.0)
    assert catch.hits(result, entries) == list(entries)


def test_a_real_log_of_a_collapse_copying_pinned_pages() -> None:
    # scratch bug (tests/data/guest/pin-matrix-collapse-pinned-pages.patch): khugepaged's scan and
    # isolation no longer refuse pages with extra references; vmsplice's cell checks only the
    # pipe's bytes, which a copying collapse leaves intact, so it passes
    lines, cells = _real_log("pin-matrix-collapse-pinned-pages-6.12-tcg.log")
    failed = sorted(n for n, s in cells.items() if s.status is Status.FAIL)
    assert failed == ["gup-fast/anon/collapse", "gup-fast/anon/khugepaged", "gup-fast/thp-pte/collapse",
                      "gup-slow/anon/collapse", "uring/anon/collapse", "uring/anon/khugepaged",
                      "uring/thp-pte/collapse"]
    assert all("not seen through the pin" in cells[n].message for n in failed)
    assert cells["vmsplice/anon/collapse"].status is Status.PASS


def test_a_real_log_of_a_zerocopy_deferred_copy_leaking_its_user_pages() -> None:
    # tests/data/guest/borrow-bugs/zc-copy-ubufs-leak: skb_copy_ubufs(), loopback's deferred copy
    # of a MSG_ZEROCOPY skb, no longer drops its references on the user pages: every zerocopy
    # cell whose buffer is still mapped finds all 16 pages held after the last notification
    lines, cells = _real_log("pin-matrix-borrow-zc-copy-ubufs-leak-6.12-tcg.log")
    failed = sorted(name for name, s in cells.items() if s.status is Status.FAIL)
    assert failed == sorted(f"borrow/zc-tcp/{m}" for m in ("anon", "thp", "shmem", "ext4-shared", "anon-fork")) \
        + ["borrow/zc-udp/anon", "borrow/zc-uring/anon"]
    assert all(cells[n].message.startswith("16 page(s) of the send buffer still held") for n in failed)
    # the unmapped buffer cannot be looked at (the pages oracle after the workload counted it)
    assert cells["borrow/zc-tcp/anon-munmap"].status is Status.PASS
    assert all(s.status is Status.PASS for name, s in cells.items() if "/zc-" not in name)

def test_the_default_set_asks_for_the_kentry_drivers() -> None:
    # pin-matrix (in the default set) requests kconfigs/pinners.config, which names every
    # option the kentry cells' entries need
    assert "pin-matrix" in guests.sets(GUESTS)["default"]
    assert "pinners" in guests.load(GUESTS / "pin-matrix.yaml").kconfigs
    frag = kconfig.find_fragment("pinners", GUESTS.parent / "kconfigs")
    names = {o.name for o in frag.options if o.value == "y"}
    assert {"CONFIG_UDMABUF", "CONFIG_CRYPTO_USER_API_HASH", "CONFIG_CRYPTO_USER_API_SKCIPHER", "CONFIG_SCSI_DEBUG",
            "CONFIG_BLK_DEV_SD"} <= names


# -- the net9p cells (guests/src/net9p_cells.h): netfs unbuffered I/O on 9p, vmsplice + splice into sockets --

def _net9p_quick() -> list[str]:
    """The default set's p9 and splice-sock cells, read from the C table (net9p_quick[])."""
    return _c_table("net9p_cells.h", "net9p_quick")


def test_a_real_log_with_every_net9p_cell() -> None:
    # ONLY=p9,splice-sock QUICK=0 on a healthy 6.12: all 62 cells pass, none skips; the premises
    # (pins taken by netfs, pages held by the skb) are comment lines
    lines, got = _real_log("pin-matrix-net9p-baseline-6.12-tcg.log")
    assert len(got) == 62 and all(n.startswith(("p9/", "splice-sock/")) for n in got)
    assert sum(n.startswith("p9/") for n in got) == 24
    assert all(s.status is Status.PASS for s in got.values())
    assert set(_net9p_quick()) <= set(got)
    assert any(line.startswith("# p9: ") and "trans=virtio" in line and "cache=" not in line for line in lines)
    assert "# p9/read/anon: read of 65536 bytes at buffer offset 0, file offset 0: 65536 (bytes)," \
        " 16 page pin(s) taken" in lines
    assert "# splice-sock/tcp/anon/none: 65536 bytes spliced, 16 of 16 buffer pages held before the receiver read" \
        in lines


def test_a_real_log_of_netfs_and_skb_reference_leaks() -> None:
    # tests/data/guest/net9p-bugs/netfs-unwind-skb-coalesce: netfs_extract_user_iter() fails a
    # fault part way without unpinning the pages before it (the bad cells: 5 pages), and
    # skb_append_pagefrags() takes a reference for a coalesced piece (the pieces cells: 12 pages)
    lines, cells = _real_log("pin-matrix-net9p-netfs-unwind-skb-coalesce-6.12-tcg.log")
    assert len(cells) == 62  # 24 p9, 38 splice-sock
    failed = sorted(name for name, s in cells.items() if s.status is Status.FAIL)
    assert failed == ["p9/read/anon/bad", "p9/write/anon/bad", "splice-sock/tcp/anon/pieces",
                      "splice-sock/unix/anon/pieces"]
    assert all(cells[n].message.startswith("5 page(s) of the buffer still held") for n in failed[:2])
    assert all(cells[n].message.startswith("12 page(s) of the buffer still held") for n in failed[2:])
    # the failed call itself is what the kernel may say (EFAULT), the leak is what fails it
    assert "# p9/read/anon/bad: read of 65536 bytes at buffer offset 0, file offset 0: -1 (Bad address)," \
        " 5 page pin(s) taken" in lines
    assert all(s.status is Status.PASS for name, s in cells.items() if name not in failed)


# -- splice into UDP and SPLICE_F_GIFT (guests/src/net9p_cells.h, after splice-sock) ---------------

MEMS_NO_HUGE = ("anon", "thp", "shmem", "ext4-shared")


def _sudp_names() -> list[str]:
    """Every splice-udp and splice-gift cell, from the C tables (su_applies(), splice_udp_cells())."""
    text = (GUESTS / "src" / "net9p_cells.h").read_text()
    shapes = re.findall(r'"([^"]+)"', text.split("suev_names[NSUEV] = {", 1)[1].split("};", 1)[0])
    udp = [f"splice-udp/{m}/{e}" for m in MEMS_NO_HUGE for e in shapes if m == "anon" or e in ("none", "gift", "odd")]
    return udp + [f"splice-gift/file/{m}" for m in MEMS_NO_HUGE] + ["splice-gift/tcp/anon", "splice-gift/tcp/thp"]


def test_a_real_log_with_every_splice_udp_cell() -> None:
    # ONLY=iommufd-dirty/,splice-udp,splice-gift QUICK=0 on a healthy 6.12 (run 20261207-173911):
    # all 25 splice cells pass; the log's iommufd-dirty cells are the first draft's (fixed since)
    lines, got = _real_log("pin-matrix-iodirty-splice-baseline-6.12-tcg.log")
    splice = {n: s for n, s in got.items() if n.startswith("splice-")}
    assert sorted(splice) == sorted(_sudp_names()) and len(splice) == 25
    assert all(s.status is Status.PASS for s in splice.values())
    assert set(_c_table("net9p_cells.h", "sudp_quick")) <= set(splice)
    # the premise: the skb holds the spliced pages (8 of the 16) until the receiver reads
    assert "# splice-udp/anon/none: 32768 bytes spliced, 8 of 16 buffer pages held before the receiver read" in lines
    assert "# splice-udp/anon/more: 1 datagram(s), 24798 bytes received" in lines
    assert "# splice-udp/anon/gso: 24 datagram(s), 32768 bytes received" in lines
    assert "# splice-udp/anon/too-big: the splice refused (Message too long), the pipe held 65536 bytes" in lines
    assert "# splice-udp/anon/closed-peer: the splice refused (Connection refused), the pipe held 32768 bytes" in lines
    # into a file the gift is copied: nothing held once spliced
    assert "# splice-gift/file/anon: 32768 gifted bytes spliced, 0 of 16 buffer pages held after it" in lines


def test_a_real_log_of_a_bitmap_pin_leak_and_a_splice_that_never_ends() -> None:
    # tests/data/guest/iodirty-bugs/put-short+more-always (run 20261207-174513), the default
    # cells: iova_bitmap_put() unpins a window one page short (every iommufd-dirty cell fails on
    # the pins), splice_to_socket() says MSG_MORE on its last sendmsg (UDP never sends the
    # datagram; UDP_CORK's push, EMSGSIZE and the file and TCP gifts still work)
    lines, got = _real_log("pin-matrix-iodirty-put-short-more-always-6.12-tcg.log")
    assert sorted(got) == sorted(_c_table("net9p_cells.h", "sudp_quick") + _c_table("iommufd_cells.h", "idt_quick"))
    passed = sorted(n for n, s in got.items() if s.status is Status.PASS)
    assert passed == ["splice-gift/file/anon", "splice-gift/tcp/anon", "splice-udp/anon/cork", "splice-udp/anon/too-big"]
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    assert all(m.startswith("GET_DIRTY_BITMAP left FOLL_PIN outstanding +") for n, m in failed.items()
               if n.startswith("iommufd-dirty/"))
    assert all(m.startswith("recv of datagram 0 (0 of ") for n, m in failed.items()
               if n.startswith("splice-udp/") and not n.endswith("closed-peer"))
    # three refused sends corked into one datagram past UDP's limit
    assert failed["splice-udp/anon/closed-peer"] == ("splice into a UDP socket whose peer is closed: "
                                                     "Message too long, not ECONNREFUSED")


def test_a_real_log_of_a_bitmap_window_at_the_wrong_offset() -> None:
    # tests/data/guest/iodirty-bugs/bitmap-pgoff-base (run 20261207-175344): iova_bitmap_get()
    # takes the window's page offset from the bitmap's start; only a window after the first is
    # wrong: the cells that advance (two windows, a window past a bad page) fail on their bits
    lines, got = _real_log("pin-matrix-iodirty-pgoff-base-6.12-tcg.log")
    assert sorted(got) == sorted(_c_table("iommufd_cells.h", "idt_quick"))
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    assert sorted(failed) == ["iommufd-dirty/anon/hole", "iommufd-dirty/anon/read-only", "iommufd-dirty/thp/windows"]
    assert failed["iommufd-dirty/thp/windows"].startswith("2.5 MiB bitmap: bitmap byte 2093312 ")
    assert all(failed[n].startswith(f"around the {w} bitmap page, byte 12337 of the memory")
               for n, w in (("iommufd-dirty/anon/hole", "unmapped"), ("iommufd-dirty/anon/read-only", "read-only")))


def test_a_real_log_of_a_splice_keeping_the_pipes_reference() -> None:
    # tests/data/guest/iodirty-bugs/splice-sock-keeps-pipe-ref (run 20261207-175435):
    # splice_to_socket() drops a sent pipe buffer without releasing it; every default cell whose
    # pages went to a socket and are still mapped fails on the reference check
    lines, got = _real_log("pin-matrix-iodirty-splice-keeps-pipe-ref-6.12-tcg.log")
    assert sorted(got) == sorted(_c_table("net9p_cells.h", "sudp_quick"))
    passed = sorted(n for n, s in got.items() if s.status is Status.PASS)
    # unmapped (the run's page oracle counts those), never sent, or copied into a file
    assert passed == ["splice-gift/file/anon", "splice-udp/anon/munmap", "splice-udp/anon/too-big"]
    held = {"thp/odd": 16, "anon/bad": 5, "anon/more": 7}
    for n, s in got.items():
        if s.status is Status.FAIL:
            want = held.get(n.split("/", 1)[1], 8)
            assert s.message.startswith(f"{want} page(s) of the buffer still held after {n} "), n


# -- the dump cells (guests/src/dump_cells.h): core dumps, get_mempolicy(MPOL_F_ADDR) ------------

def _dump_quick() -> list[str]:
    """The default set's coredump and mempolicy cells, read from the C table (dump_quick[])."""
    return _c_table("dump_cells.h", "dump_quick")


def test_a_real_log_with_every_dump_cell() -> None:
    # ONLY=coredump,mempolicy QUICK=0 on a healthy 6.12: 29 cells pass; coredump/thp/pageout skipped
    # (its child read the parent's pagemap through pinlib.h's cached fd: fixed since)
    lines, got = _real_log("pin-matrix-dump-baseline-6.12-tcg.log")
    assert len(got) == 30 and all(n.startswith(("coredump/", "mempolicy/")) for n in got)
    assert sum(n.startswith("coredump/") for n in got) == 18
    assert [n for n, s in got.items() if s.status is not Status.PASS] == ["coredump/thp/pageout"]
    assert got["coredump/thp/pageout"].message == "MADV_PAGEOUT took no page (pagemap: none swapped)"
    assert set(_dump_quick()) <= set(got)
    # the premises and what was compared are comment lines
    assert "# coredump/shmem/pageout: 32 of 32 pages out before the dump" in lines
    assert "# coredump/hugetlb/gup-pinned: 1024 pages of the region read from the core (34 PT_LOAD headers)" in lines
    assert "# mempolicy/thp/gup-pinned: 512 of 1024 pages changed node under the pin of the first half" in lines
    assert not any(name.startswith("#") for name in got)


def test_a_real_log_of_the_dump_pageout_cells_after_the_matrix() -> None:
    # ONLY=pageout QUICK=0: the matrix's pageout cells open pinlib.h's pagemap fd in the parent
    # first; the forked children must still see their own swapped pages
    lines, got = _real_log("pin-matrix-dump-pageout-6.12-tcg.log")
    assert len(got) == 55 and all(s.status is Status.PASS for s in got.values())
    assert sorted(n for n in got if n.startswith("coredump/")) == [
        f"coredump/{m}/pageout" for m in ("anon", "ext4-shared", "shmem", "thp")]
    assert "# coredump/thp/pageout: 1024 of 1024 pages out before the dump" in lines

def test_a_real_log_of_a_core_dump_leaving_holes() -> None:
    # tests/data/guest/dump-bugs/dump-nofault: get_dump_page() neither faults (FOLL_NOFAULT) nor
    # gives a DMA-pinned page: the core has zeros where swapped, pinned or not yet mapped pages were
    # (fork copies no page table of a shared file mapping: shmem and ext4 "none" fail too)
    lines, cells = _real_log("pin-matrix-dump-nofault-6.12-tcg.log")
    assert len(cells) == 18 and all(n.startswith("coredump/") for n in cells)
    passed = sorted(n for n, s in cells.items() if s.status is Status.PASS)
    assert passed == ["coredump/anon/none", "coredump/hugetlb/none", "coredump/thp/none"]
    failed = {n: s.message for n, s in cells.items() if s.status is Status.FAIL}
    assert len(failed) == 14 and "coredump/anon/pageout" in failed
    assert failed["coredump/anon/uring-pinned"].startswith("16 of 32 page(s) of the core differ")
    assert failed["coredump/hugetlb/gup-pinned"].startswith("512 of 1024 page(s) of the core differ")
    assert all("a hole: get_dump_page() gave no page" in m for m in failed.values())
    entries = catch.parse("s.yaml", [{"case": "workload/pin-matrix/coredump/anon/pageout", "message": "a hole"}])
    result = RunResult("r", "s", Path("."), tuple(subcases.cases("pin-matrix", lines)), 1.0)
    assert catch.hits(result, entries) == list(entries)


# -- the AF_XDP cells (guests/src/xdp_cells.h): UMEM registration, frames sent from the pin -------

def _xdp_quick() -> list[str]:
    """The default set's xdp cells, read from the C table (xdp_quick[])."""
    return _c_table("xdp_cells.h", "xdp_quick")


def test_a_real_log_with_every_xdp_cell() -> None:
    # ONLY=xdp/ QUICK=0 on a healthy 6.12 built with XDP_SOCKETS: all 31 cells pass, none skips
    lines, got = _real_log("pin-matrix-xdp-baseline-6.12-tcg.log")
    assert len(got) == 31 and all(n.startswith("xdp/") for n in got)
    assert [sum(n.startswith(f"xdp/{m}/") for n in got) for m in ("anon", "thp", "shmem", "hugetlb", "ext4-shared")] \
        == [11, 7, 7, 5, 1]
    assert all(s.status is Status.PASS for s in got.values())
    assert set(_xdp_quick()) <= set(got)
    # the short pin before a hole is unwound (ENOMEM), the refusals before any pin, ext4 refused
    assert "# xdp/thp/hole: XDP_UMEM_REG of 1024 pages (unmapped): Cannot allocate memory; FOLL_PIN acquired" \
        " +512, released +512" in lines
    assert "# xdp/anon/headroom: XDP_UMEM_REG of 16 pages (a headroom of 3840 bytes in 4096-byte chunks):" \
        " Invalid argument; FOLL_PIN acquired +0, released +0" in lines
    assert "# xdp/ext4-shared/refused: XDP_UMEM_REG of 16 pages (ext4 MAP_SHARED): Bad address; FOLL_PIN" \
        " acquired +0, released +0" in lines
    # the data check happened: frames sent from the pinned pages, captured and compared
    assert "# xdp/thp/fork: 48 frame(s) in 3 round(s) sent from the pinned pages (copy mode, lo), captured, equal" \
        in lines
    assert sum("round(s) sent from the pinned pages" in line for line in lines) == 30  # all but ext4's
    assert "pin_matrix: 31 cells passed, 0 failed, 0 skipped" in lines


def test_a_real_log_of_a_leaking_xdp_unwind_and_a_short_term_umem_pin() -> None:
    # tests/data/guest/xdp-bugs/xdp-umem-unwind-longterm: xdp_umem_pin_pages() frees the page
    # array of a short pin without unpinning what it pinned, and pins without FOLL_LONGTERM
    lines, cells = _real_log("pin-matrix-xdp-umem-unwind-longterm-6.12-tcg.log")
    assert len(cells) == 31
    failed = {n: s.message for n, s in cells.items() if s.status is Status.FAIL}
    leaks = {"xdp/anon/hole": 16, "xdp/anon/prot-none": 16, "xdp/thp/hole": 512, "xdp/shmem/prot-none": 16,
             "xdp/hugetlb/prot-none": 512}
    assert sorted(failed) == sorted([*leaks, "xdp/ext4-shared/refused"])
    for name, n in leaks.items():
        assert failed[name] == f"FOLL_PIN acquired - released is +{n} after the refused XDP_UMEM_REG" \
            f" (acquired +{n}, released +0): pins leaked"
    assert failed["xdp/ext4-shared/refused"] == "XDP_UMEM_REG granted a UMEM over ext4 MAP_SHARED"
    assert "# xdp/ext4-shared/refused: XDP_UMEM_REG of 16 pages (ext4 MAP_SHARED): granted; FOLL_PIN acquired" \
        " +16, released +0" in lines
    # the refusals that pin nothing, and every cell whose UMEM registered, still pass
    assert all(s.status is Status.PASS for n, s in cells.items() if n not in failed)
    assert "xdp/anon/hole" in _xdp_quick() and "xdp/ext4-shared/refused" in _xdp_quick()


def test_a_real_log_of_the_default_xdp_cells_catching_both_scratch_bugs_under_movablecore() -> None:
    # the same series, QUICK=1 as the default set boots (movablecore=256M): without FOLL_LONGTERM
    # the UMEM's pages stay in ZONE_MOVABLE, so every default cell that registers fails too
    lines, cells = _real_log("pin-matrix-xdp-umem-unwind-longterm-movable-6.12-tcg.log")
    assert sorted(cells) == sorted(_xdp_quick())
    assert all(s.status is Status.FAIL for s in cells.values())
    movable = {n for n, s in cells.items() if "stay in ZONE_MOVABLE under XDP's long-term pin" in s.message}
    assert movable == {"xdp/anon/none", "xdp/anon/dontneed", "xdp/thp/fork", "xdp/shmem/dontneed"}
    assert cells["xdp/thp/fork"].message == "512 of 512 UMEM page(s) stay in ZONE_MOVABLE under XDP's long-term pin"
    assert cells["xdp/anon/hole"].message.startswith("FOLL_PIN acquired - released is +16")


# -- the perf-phys cells (guests/src/perf_phys.h): PERF_SAMPLE_PHYS_ADDR of page-fault samples -----

_PP_LINE = re.compile(r"^# (borrow/perf-phys/\S+): (\d+) sample\(s\), (\d+) at the target; phys_addr (0x[0-9a-f]+|0); "
                      r"pagemap PFN (0x[0-9a-f]+|0) before, (0x[0-9a-f]+|0) after")
_PP_ZERO = ("pageout", "untouched", "prot-none")  # GUP-fast cannot take the page: phys_addr 0


def _perf_phys_lines(name: str) -> dict[str, tuple[int, int, int, int]]:
    """Each cell's comment line: samples at the target, phys_addr, the PFN before and after."""
    got = {}
    for line in (GUEST_LOGS / name).read_text().splitlines():
        if m := _PP_LINE.match(line):
            got[m[1]] = (int(m[3]), int(m[4], 16), int(m[5], 16), int(m[6], 16))
    return got


def test_a_real_log_with_every_perf_phys_cell() -> None:
    # ONLY=borrow/perf-phys/ QUICK=0 on a healthy 6.12 (run 20261206-044027-baseline): every cell
    # passes, and what each comment line says agrees with the rule the cell checks
    lines, got = _real_log("pin-matrix-perf-phys-baseline-6.12-tcg.log")
    assert len(got) == 22 and all(n.startswith("borrow/perf-phys/") for n in got)
    assert all(s.status is Status.PASS for s in got.values())
    quick = [n for n in _borrow_quick(perf_phys=True) if n.startswith("borrow/perf-phys/")]
    assert quick == ["borrow/perf-phys/anon/cow-fork", "borrow/perf-phys/hugetlb/write-ro"] and set(quick) <= set(got)
    said = _perf_phys_lines("pin-matrix-perf-phys-baseline-6.12-tcg.log")
    assert set(said) == set(got)
    for name, (at_target, phys, before, after) in said.items():
        state = name.rsplit("/", 1)[1]
        assert at_target == 1, name
        if state in _PP_ZERO:
            assert phys == 0 and after, name  # the fault (or, for prot-none, nothing) left a page
            assert bool(before) == (state == "prot-none"), name  # present only behind PROT_NONE
        else:
            want = after if state == "cow-fork-min" else before
            assert phys == (want << 12) + 0x5A8, name  # the page's PFN and the offset in it
        if state.startswith("cow-fork"):
            assert before != after, name  # the write copied the page
    # a tail page of the THP and of the hugetlb page: page 300 of the 2 MiB
    assert said["borrow/perf-phys/hugetlb/write-ro"][2] % 512 == 300
    assert said["borrow/perf-phys/thp/write-ro"][2] % 512 == 300


def test_a_real_log_of_perf_virt_to_phys_forgetting_its_put_page() -> None:
    # tests/data/guest/perf-phys-bugs/virt-to-phys-no-put (run 20261206-045707): perf_virt_to_phys()
    # keeps the reference get_user_page_fast_only() took. Every cell whose sampled page GUP-fast
    # could take fails on the reference check, wherever the page went (the COW child's, the new
    # copy, the page cache's); the three states GUP-fast refuses take no reference and pass. The
    # addresses themselves stay right.
    lines, got = _real_log("pin-matrix-perf-phys-no-put-6.12-tcg.log")
    assert len(got) == 22
    passed = sorted(n for n, s in got.items() if s.status is Status.PASS)
    assert passed == sorted(n for n in got if n.rsplit("/", 1)[1] in _PP_ZERO)
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    assert len(failed) == 15
    assert all("a reference leaked" in m for m in failed.values())
    assert failed["borrow/perf-phys/anon/cow-fork"].startswith("1 page(s) of the child's copy-on-write page still held")
    assert failed["borrow/perf-phys/anon/cow-fork-min"].startswith("1 page(s) of the parent's new page still held")
    assert failed["borrow/perf-phys/thp/cow-fork"].startswith("512 page(s) of the child's copy-on-write page")
    assert failed["borrow/perf-phys/ext4-private/read-then-write"].startswith("1 page(s) of the page cache page")
    assert all("refcount - mapcount is 2, 1 before (+1" in m for n, m in failed.items() if "/hugetlb/" in n)
    said = _perf_phys_lines("pin-matrix-perf-phys-no-put-6.12-tcg.log")
    assert all(phys == ((after if n.endswith("cow-fork-min") else before) << 12) + 0x5A8
               for n, (_, phys, before, after) in said.items() if n in failed)


def test_a_real_log_of_perf_virt_to_phys_reading_the_folios_pfn() -> None:
    # tests/data/guest/perf-phys-bugs/virt-to-phys-folio-head (run 20261206-045949): phys_addr from
    # the folio's first page, not the page GUP-fast returned. Small pages are their own folio and
    # pass; every sample of a tail page (page 300 of a PMD-mapped THP or a hugetlb page) is 300
    # pages low. thp/cow-fork-min passes: the COW gave the parent a small page. No reference leaks.
    lines, got = _real_log("pin-matrix-perf-phys-folio-head-6.12-tcg.log")
    assert len(got) == 22
    failed = sorted(n for n, s in got.items() if s.status is Status.FAIL)
    assert failed == ["borrow/perf-phys/hugetlb/cow-fork", "borrow/perf-phys/hugetlb/cow-fork-min",
                      "borrow/perf-phys/hugetlb/write-ro", "borrow/perf-phys/thp/cow-fork",
                      "borrow/perf-phys/thp/write-ro"]
    assert all(got[n].message.startswith("phys_addr ") for n in failed)
    said = _perf_phys_lines("pin-matrix-perf-phys-folio-head-6.12-tcg.log")
    for n in failed:
        _, phys, before, after = said[n]
        want = after if n.endswith("cow-fork-min") else before
        assert phys == ((want - 300) << 12) + 0x5A8, n  # the head page's address, the small page's offset
    # the default set's two: one of them catches it
    assert set(_borrow_quick(perf_phys=True)) & set(failed) == {"borrow/perf-phys/hugetlb/write-ro"}


# -- the iommufd cells (guests/src/iommufd_cells.h): IOAS_MAP with a mock domain, test accesses --


def _iommufd_quick() -> list[str]:
    """The default set's iommufd cells, read from the C table (iommufd_quick[])."""
    return _c_table("iommufd_cells.h", "iommufd_quick")


def _iommufd_names() -> list[str]:
    """Every iommufd cell, from the C tables: memory kinds, ways, events (io_applies())."""
    text = (GUESTS / "src" / "iommufd_cells.h").read_text()

    def table(name: str) -> list[str]:
        return re.findall(r'"([^"]+)"', re.split(rf"{name}\[\w+\] = {{", text, maxsplit=1)[1].split("};", 1)[0])

    ways, events = table("iw_names"), table("ie_names")
    assert "mems[] = {ANON, THP, SHMEM, HUGE, FILESH}" in text
    mems = ["anon", "thp", "shmem", "hugetlb", "ext4-shared"]
    return [f"iommufd/{m}/{w}-{e}" for m in mems for w in ways for e in events
            if not (m == "hugetlb" and e in ("pageout", "migrate"))]


def test_a_real_log_with_every_iommufd_cell() -> None:
    # ONLY=iommufd/ QUICK=0 on a healthy 6.12 with pinners.config (IOMMUFD, IOMMUFD_TEST): all pass
    lines, got = _real_log("pin-matrix-iommufd-baseline-6.12-tcg.log")
    assert sorted(got) == sorted(_iommufd_names()) and len(got) == 106
    assert all(s.status is Status.PASS for s in got.values())
    assert set(_iommufd_quick()) <= set(got) and len(_iommufd_quick()) == 18
    # the premises, as comment lines: a domain pins at IOAS_MAP, an access at ACCESS_PAGES, a child
    # pins the parent's range; the pinned pages stay, the witness moves and is paged out
    assert "# iommufd/anon/domain-none: IOAS_MAP with a mock domain: FOLL_PIN acquired +16" in lines
    assert "# iommufd/thp/access-none: IOAS_MAP without a domain, then ACCESS_PAGES: FOLL_PIN acquired +512" in lines
    assert "# iommufd/hugetlb/domain-remote: pinned by a child: FOLL_PIN acquired +512" in lines
    assert "# iommufd/thp/domain-migrate: move_pages: 512 of 512 witness pages moved, 0 pinned ones" in lines
    assert "# iommufd/shmem/access-pageout: MADV_PAGEOUT: 16 of 16 witness pages out" in lines
    # without a domain, IOAS_MAP itself pins nothing
    assert not any("IOAS_MAP without a domain: FOLL_PIN acquired" in line for line in lines)


def test_a_real_log_of_an_iommufd_unwind_one_pin_short() -> None:
    # tests/data/guest/iommufd-bugs/err-unpin-short: iopt_pages_err_unpin() unpins one page short;
    # only ACCESS_PAGES's unwind (iopt_pages_fill_from_mm()) goes through it
    lines, cells = _real_log("pin-matrix-iommufd-err-unpin-short-6.12-tcg.log")
    assert sorted(cells) == sorted(_iommufd_names())
    failed = {n: s.message for n, s in cells.items() if s.status is Status.FAIL}
    mems = ("anon", "thp", "shmem", "hugetlb", "ext4-shared")
    assert sorted(failed) == sorted(f"iommufd/{m}/access-{e}" for m in mems for e in ("hole", "prot-none"))
    assert set(failed.values()) == {"the refused ACCESS_PAGES left FOLL_PIN outstanding +1"}
    assert all(s.status is Status.PASS for n, s in cells.items() if n not in failed)
    # two of them are in the default set
    assert sorted(set(failed) & set(_iommufd_quick())) == ["iommufd/anon/access-hole", "iommufd/anon/access-prot-none"]
    entries = catch.parse("s.yaml", [{"case": "workload/pin-matrix/iommufd/anon/access-hole", "message": "outstanding"}])
    result = RunResult("r", "s", Path("."), tuple(subcases.cases("pin-matrix", lines)), 1.0)
    assert catch.hits(result, entries) == list(entries)


def _iodirty_names() -> list[str]:
    """Every iommufd-dirty cell, from the C tables (idt_applies())."""
    text = (GUESTS / "src" / "iommufd_cells.h").read_text()
    shapes = re.findall(r'"([^"]+)"', text.split("idt_names[NID] = {", 1)[1].split("};", 1)[0])
    assert "idt_mems[] = {ANON, THP, SHMEM, HUGE, FILESH}" in text

    def applies(m: str, k: str) -> bool:
        if k == "windows":
            return m in ("thp", "hugetlb")
        return m != "hugetlb" or k in ("read", "fork")

    mems = ["anon", "thp", "shmem", "hugetlb", "ext4-shared"]
    return [f"iommufd-dirty/{m}/{k}" for m in mems for k in shapes if applies(m, k)]


def test_a_real_log_with_every_iommufd_dirty_cell() -> None:
    # ONLY=iommufd-dirty/ QUICK=0 on a healthy 6.12 (run 20261207-174432): all 28 pass; the
    # premises (the bitmap's pages pinned, two windows, paged out, migrated) as comment lines
    lines, got = _real_log("pin-matrix-iodirty-baseline-6.12-tcg.log")
    assert sorted(got) == sorted(_iodirty_names()) and len(got) == 28
    assert all(s.status is Status.PASS for s in got.values())
    assert set(_c_table("iommufd_cells.h", "idt_quick")) <= set(got) and len(_c_table("iommufd_cells.h", "idt_quick")) == 10
    assert "# iommufd-dirty/anon/read: NO_CLEAR: 8192 bitmap bytes over 3 pages, FOLL_PIN +3" in lines
    assert "# iommufd-dirty/thp/windows: 2.5 MiB bitmap: 2621440 bitmap bytes over 641 pages, FOLL_PIN +642" in lines
    assert "# iommufd-dirty/anon/swapped: MADV_PAGEOUT: 3 of 3 bitmap pages out" in lines
    assert "# iommufd-dirty/shmem/migrated: move_pages: 3 of 3 bitmap pages on the other node" in lines
    # 6.12 returns 0 over a bitmap page it cannot pin (its bits lost), and pins back what it took
    assert "# iommufd-dirty/anon/hole: GET_DIRTY_BITMAP with the bitmap's second page unmapped: 0, FOLL_PIN +3" in lines


def test_pin_matrix_requires_iommufd_when_the_kernel_has_it() -> None:
    # a kernel built with IOMMUFD and IOMMUFD_TEST names iommufd in KENTRY_REQUIRED: a missing
    # /dev/iommu then fails the cells (kentry_missing()), never skips them
    script = (GUESTS / "pin-matrix.sh").read_text()
    assert '[ "$(kconfig IOMMUFD)" = y ] && [ "$(kconfig IOMMUFD_TEST)" = y ] && req+=" iommufd"' in script
    assert 'kentry_missing(c, "iommufd"' in (GUESTS / "src" / "iommufd_cells.h").read_text()
    frag = kconfig.find_fragment("pinners", GUESTS.parent / "kconfigs")
    assert {"CONFIG_IOMMUFD", "CONFIG_IOMMUFD_TEST"} <= {o.name for o in frag.options if o.value == "y"}


# -- the rlimit cells (guests/src/rlimit_cells.h): registrations over RLIMIT_MEMLOCK ------------

RLIMIT_ENTRIES = ("uring", "xdp", "iommufd", "iommufd-mm")
MEMS3 = ("anon", "thp", "hugetlb")


def _rlimit_and_udmabuf_bare() -> dict[str, subcases.Subcase]:
    # ONLY=rlimit/,gup-ro/,udmabuf/,race/udmabuf,uring-pbuf QUICK=0 on a healthy 6.12
    return _real_log("pin-matrix-rlimit-udmabuf-baseline-6.12-tcg.log")[1]


def test_a_real_log_of_the_rlimit_cells() -> None:
    # every registration over the limit refused with its pins and charges back, and what was
    # granted before the refusal granted after it, for each entry (both iommufd accounting modes)
    got = {n: s for n, s in _rlimit_and_udmabuf_bare().items() if n.startswith("rlimit/")}
    assert sorted(got) == sorted(f"rlimit/{e}/{m}" for e in RLIMIT_ENTRIES for m in MEMS3)
    assert all(s.status is Status.PASS for s in got.values())
    assert set(_c_table("rlimit_cells.h", "rlimit_quick")) <= set(got)


def test_a_real_log_of_udmabuf_over_an_untouched_memfd_and_the_seal_race() -> None:
    got = _rlimit_and_udmabuf_bare()
    unpopulated = {n for n in KENTRY_LATER if n.startswith("udmabuf/")}
    assert len(unpopulated) == 2 and unpopulated <= set(got)
    assert all(got[n].status is Status.PASS for n in unpopulated)
    assert got["race/udmabuf-vs-seal"].status is Status.PASS
    assert unpopulated <= set(_c_table("kentry_cells.h", "kentry_quick"))


def test_a_real_log_of_the_read_only_pins_and_the_io_uring_rings_in_user_memory() -> None:
    # ONLY=gup-ro/,uring-pbuf,uring-nommap QUICK=0 on a healthy 6.12 (run 20261206-080722): every
    # cell passes but the compaction ones that found nothing to migrate (their premise: a skip)
    lines, got = _real_log("pin-matrix-ro-pbuf-nommap-baseline-6.12-tcg.log")
    assert [sum(n.startswith(p) for n in got) for p in ("gup-ro/", "uring-pbuf/", "uring-nommap/")] == [14, 34, 15]
    skipped = {n: s.message for n, s in got.items() if s.status is not Status.PASS}
    assert set(skipped.values()) == {"compaction migrated nothing (pgmigrate_success unchanged)"}
    assert all(got[n].status is Status.SKIP for n in skipped)
    # the premise of a read-only pin of shared pages: it unshared every one of them
    assert "# gup-ro/anon/none: the read-only pin unshared 16 of 16 page(s) the child shared" in lines
    quick = set(_c_table("uring_pbuf_cells.h", "pbuf_quick")) | set(_c_table("uring_nommap_cells.h", "nommap_quick"))
    assert quick <= set(got) and not quick & set(skipped)
    assert {n for n in _c_table("pin_matrix.c", "quick_cells") if n.startswith("gup-ro/")} <= set(got)


def test_udmabuf_over_an_untouched_memfd_catches_an_allocation_reference_kept() -> None:
    # patches/redteam/memfd-pin-alloc-ref-leak (round 2, written outside the project):
    # memfd_pin_folios() keeps the reference of each folio it allocates; the whole default set
    # passed it (run 20261206-073619); the two unpopulated cells fail, every other udmabuf cell passes
    lines, got = _real_log("pin-matrix-udmabuf-memfd-pin-alloc-ref-leak-6.12-tcg.log")
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    assert failed == {
        "udmabuf/shmem/unpopulated": "16 page(s) still held after the dma-buf was released (first: page 8): a leaked"
                                     " pin or reference",
        "udmabuf/hugetlb/unpopulated": "free hugetlb pages 12 before the cell, 10 after the memfd and dma-buf are gone"}
    assert all(s.status is Status.PASS for n, s in got.items() if n not in failed)


def test_a_real_log_of_the_pipe_cells_and_sg_io_larger_than_a_bio() -> None:
    # ONLY=pipe/,sg-io/ QUICK=0 on a healthy 6.12 (run 20261206-180547-baseline): every cell
    # passes, each with its premise in a comment line
    lines, got = _real_log("pin-matrix-pipe-sg-bios-baseline-6.12-tcg.log")
    pipe = {n: s for n, s in got.items() if n.startswith("pipe/")}
    assert len(pipe) == 15 and all(s.status is Status.PASS for s in got.values())
    # the premise: the pipe held the source page itself, one reference (two through the tee)
    drops = {m[1]: int(m[2]) - int(m[3]) for line in lines
             if (m := re.match(r"# (pipe/\S+): the source page's refcount (\d+) with the data in the pipe, (\d+) once", line))}
    assert len(drops) == 12 and all(d == (2 if "tee" in n else 1) for n, d in drops.items())
    assert set(pipe) - set(drops) == {f"pipe/memfd-hole/{r}" for r in ("fresh", "stale", "behind-write")}
    # 272 pages a request, 16 of them extracted past the full first bio, handed back, pinned again
    assert "# sg-io/anon/write-two-bios: FOLL_PIN acquired +576, released +576" in lines
    assert "# sg-io/anon/read-two-bios: FOLL_PIN acquired +576, released +576" in lines
    assert {"sg-io/anon/write-two-bios", "sg-io/anon/read-two-bios"} <= KENTRY_LATER <= set(
        _c_table("kentry_cells.h", "kentry_quick"))


def test_the_pipe_cells_catch_a_borrowed_buffer_that_takes_a_write() -> None:
    # patches/redteam/splice-pipe-stale-flags (round 3, outside): splice_folio_into_pipe() fills
    # the ring slot in place and keeps the flags of its last use; the whole default set passed it
    lines, got = _real_log("pin-matrix-pipe-splice-pipe-stale-flags-6.12-tcg.log")
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    assert sorted(failed) == ["pipe/ext4/stale", "pipe/memfd/stale"]
    assert failed["pipe/ext4/stale"].startswith("a write into the pipe changed the ext4 file's cached page at byte 101")
    # fresh slots, a slot behind a write, the tee (link_pipe() clears the flag) and vmsplice pass
    assert len(got) == 15 and all(s.status is Status.PASS for n, s in got.items() if n not in failed)


def test_sg_io_larger_than_a_bio_catches_pages_kept_at_the_limit() -> None:
    # patches/redteam/blk-map-unmapped-pages-leak (round 3, outside): bio_map_user_iov() no longer
    # gives back the extracted pages a full bio refused; the whole default set passed it (run
    # 20261206-181247), only the requests larger than a bio reach the path
    lines, got = _real_log("pin-matrix-sg-io-blk-map-unmapped-pages-leak-6.12-tcg.log")
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    assert failed == {f"sg-io/anon/{d}-two-bios": "FOLL_PIN acquired - released is +32 after SG_IO (acquired +576,"
                      " released +544): pins leaked" for d in ("write", "read")}
    assert len(got) == 14 and all(s.status is Status.PASS for n, s in got.items() if n not in failed)


def test_zerocopy_datagrams_from_a_thp_catch_references_kept_by_the_coalescing() -> None:
    # patches/redteam/zerocopy-merge-ref-leak (round 3, outside): zerocopy_fill_skb_from_iter()
    # keeps the references of the pages it coalesced last in a batch; the whole default set passed
    # it, its TCP cells' small window keeping each skb at a page. ONLY=borrow/zc- QUICK=0: on the
    # bare tree every zerocopy cell passes, on the bug only zc-udp/thp fails
    _, bare = _real_log("pin-matrix-zc-baseline-6.12-tcg.log")
    lines, got = _real_log("pin-matrix-zc-zerocopy-merge-ref-leak-6.12-tcg.log")
    assert set(bare) == set(got) and len(got) == 12 and all(s.status is Status.PASS for s in bare.values())
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    assert failed == {"borrow/zc-udp/thp": "16 page(s) of the send buffer still held after borrow/zc-udp/thp (first:"
                                           " page 0; a leaked reference or pin: they do not migrate)"}
    assert BORROW_LATER <= set(_c_table("borrow_cells.h", "borrow_quick")) and BORROW_LATER <= set(bare)


def _uffd_move_race(name: str) -> tuple[subcases.Subcase, tuple[int, ...]]:
    """race/pin-vs-uffd-move's case and its counts: pin rounds, move rounds, pages moved, EBUSY."""
    lines, got = _real_log(name)
    rounds = next(re.match(r"# race/pin-vs-uffd-move: [\d.]+ s, (\d+) rounds of the pin side, (\d+) of the other", line)
                  for line in lines if line.startswith("# race/pin-vs-uffd-move: ") and "rounds" in line)
    moved = next(re.match(r"# race/pin-vs-uffd-move: UFFDIO_MOVE moved (\d+) page\(s\), refused (\d+) move", line)
                 for line in lines if "UFFDIO_MOVE moved" in line)
    assert rounds and moved
    return got["race/pin-vs-uffd-move"], tuple(int(x) for x in (*rounds.groups(), *moved.groups()))


def test_a_real_log_of_pins_racing_uffdio_move() -> None:
    # 2 s on the bare tree (run 20261206-185109-baseline): both sides ran, pages moved and
    # moves refused for pinned pages (the premise), the pin kept every write
    case, (pins, moves, moved, busy) = _uffd_move_race("pin-matrix-race-uffd-move-baseline-6.12-tcg.log")
    assert case.status is Status.PASS and pins > 1000 and moves > 100000 and moved > 0 and busy > 0
    # 20 s on patches/redteam/uffd-move-pin-recheck (round 3): the recheck after the PTE clear is
    # gone, but a GUP-fast pin never landed in the window between the check and the clear under
    # TCG: a PASS, the miss docs/redteam.md records
    case, (pins, moves, moved, busy) = _uffd_move_race("pin-matrix-race-uffd-move-pin-recheck-20s-6.12-tcg.log")
    assert case.status is Status.PASS and pins > 10000 and moves > 1000000 and moved > 0 and busy > 0
    # tests/data/guest/race-bugs/uffd-move-no-pin-check (scratch): no pin check at all; the race
    # fails in its second round, having never seen EBUSY
    case, (pins, moves, moved, busy) = _uffd_move_race("pin-matrix-race-uffd-move-no-pin-check-6.12-tcg.log")
    assert case.status is Status.FAIL and busy == 0 and moved > 0
    assert case.message == "round 2: the pin does not see the process's write (byte 0): the process lost its pinned" \
                           " page to the other thread's pin-vs-uffd-move"


def test_the_seal_race_catches_a_seal_check_outside_the_lock() -> None:
    # patches/redteam/udmabuf-seal-pin-race (round 2, outside): udmabuf_create() drops the inode
    # lock between the seal check and the pin; the bare tree's race saw both orders and passed
    lines, got = _real_log("pin-matrix-seal-race-udmabuf-seal-pin-race-6.12-tcg.log")
    assert got["race/udmabuf-vs-seal"].status is Status.FAIL
    assert got["race/udmabuf-vs-seal"].message.startswith(
        "UDMABUF_CREATE and F_ADD_SEALS(F_SEAL_WRITE) both succeeded on one memfd")
    bare = (GUEST_LOGS / "pin-matrix-rlimit-udmabuf-baseline-6.12-tcg.log").read_text()
    said = re.search(r"^# race/udmabuf-vs-seal: .* the create won (\d+), the seal won (\d+), both 0$", bare, re.M)
    assert said and int(said[1]) > 0 and int(said[2]) > 0  # the premise: both orders happened


def test_the_rlimit_cells_fail_on_a_charge_that_is_kept() -> None:
    # tests/data/guest/rlimit-bugs/charge-kept-xdp-umem: xdp_umem_unaccount_pages() no longer
    # gives user->locked_vm back; the next registrations of the same user find the charge used up
    lines, got = _real_log("pin-matrix-rlimit-charge-kept-xdp-6.12-tcg.log")
    assert {n for n, s in got.items() if s.status is Status.FAIL} == {"rlimit/xdp/anon"}
    assert got["rlimit/xdp/anon"].message == ("XDP_UMEM_REG of 48 KiB, granted before the refusal, refused after it"
                                              " (No buffer space available): a charge was kept")
    # the cells after it cannot find the charge their premise needs: they skip, saying why
    assert all(got[n].status is Status.SKIP and "charge is used up elsewhere" in got[n].message
               for n in ("rlimit/xdp/thp", "rlimit/iommufd/anon"))


def test_the_rlimit_cells_fail_on_a_pinned_vm_charge_that_is_kept() -> None:
    # tests/data/guest/rlimit-bugs/pinned-vm-kept-iommufd: do_update_pinned() no longer takes
    # mm->pinned_vm back; the FOLL_PIN counters balance, VmPin does not
    lines, got = _real_log("pin-matrix-rlimit-iommufd-pinned-vm-kept-6.12-tcg.log")
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    assert sorted(failed) == sorted(f"rlimit/{e}/{m}" for e in ("iommufd", "iommufd-mm") for m in MEMS3)
    assert failed["rlimit/iommufd/anon"].startswith("VmPin +144 kB, VmLck +0 kB after every registration")
    assert all(got[f"rlimit/{e}/{m}"].status is Status.PASS for e in ("uring", "xdp") for m in MEMS3)


def test_the_rlimit_cells_fail_on_an_unwind_that_keeps_its_pins() -> None:
    # patches/redteam/uring-account-fail-leak: the refused io_uring registration keeps its pins
    lines, got = _real_log("pin-matrix-rlimit-uring-account-fail-leak-6.12-tcg.log")
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    assert sorted(failed) == ["rlimit/uring/anon", "rlimit/uring/hugetlb", "rlimit/uring/thp"]
    assert failed["rlimit/uring/anon"] == \
        "32 pin(s) outstanding after io_uring_register_buffers of 128 KiB was refused over RLIMIT_MEMLOCK"
    assert all(got[f"rlimit/xdp/{m}"].status is Status.PASS for m in ("anon", "thp", "hugetlb"))


def test_a_real_log_of_the_cells_written_after_round_4() -> None:
    # ONLY=migrate/,swap/,buffered/,tcp-zc-recv,futex-ro,race/aio on a healthy 6.12 (run
    # 20261206-210140-baseline, the default set's cells of these blocks): every cell passes,
    # each with its premise said in a comment line
    lines, got = _real_log("pin-matrix-round4-cells-baseline-6.12-tcg.log")
    assert all(s.status is Status.PASS for s in got.values())
    blocks = {p: sum(n.startswith(p) for n in got) for p in ("migrate/", "swap/", "buffered/", "borrow/tcp-zc-recv/",
                                                              "borrow/futex-ro/", "race/aio-ring-vs-migrate")}
    assert blocks == {"migrate/": 40, "swap/": 3, "buffered/": 28, "borrow/tcp-zc-recv/": 5, "borrow/futex-ro/": 1,
                      "race/aio-ring-vs-migrate": 1}
    # mbind over a hole fails with EFAULT and moves nothing; a pinned half stays where it was
    assert "# migrate/mbind/anon/hole: returned -14, 0 of 16 page(s) moved from node 0 to 1" in lines
    assert "# migrate/mbind-strict/anon/pinned-half: returned -5, 8 of 16 page(s) moved from node 0 to 1" \
           " (the pinned half stays)" in lines
    # the one sender whose pages TCP_ZEROCOPY_RECEIVE may map (loopback copied them into its own)
    assert "# borrow/tcp-zc-recv/zc-anon: 241664 of 262144 bytes mapped into the receiver in 9 chunk(s)," \
           " the rest read" in lines
    assert any(line.startswith("# race/aio-ring-vs-migrate: 2.0 s, 15903 batches of 32 reads") for line in lines)
    # the cells are in the default set: the migrate, swap and buffered blocks have no quick list
    # (every cell runs), the tcp-zc-recv ones are in borrow_quick[]
    assert {n for n in got if n.startswith(TCPZC)} <= set(_c_table("borrow_cells.h", "borrow_quick"))


@pytest.mark.parametrize("log, failed", [
    # patches/redteam/mbind-error-isolated-leak: do_mbind() no longer puts back the folios it
    # isolated when it fails at a hole; the whole default set passed it (run 20261206-203557)
    ("pin-matrix-migrate-mbind-error-isolated-leak-6.12-tcg.log",
     {f"migrate/{e}/{m}/hole": f"{n} of {n if m == 'thp' else 16} page(s) cannot move after {e} returned -14 (first: page 0):"
      " held by a reference nobody owns (left isolated, or pinned)"
      for e in ("mbind", "mbind-strict") for m, n in (("anon", 8), ("thp", 512), ("shmem", 8), ("ext4-shared", 8))}),
    # patches/redteam/zram-same-filled-last-word: page_same_filled() no longer looks at the last word
    ("pin-matrix-swap-zram-same-filled-last-word-6.12-tcg.log",
     {f"swap/{m}/shapes": "page 3 (one word repeated but the last) came back from swap with other bytes at byte 4088"
      " (round 1)" for m in ("anon", "thp", "shmem")}),
    # patches/redteam/tcp-zc-map-pagecache-frag: can_map_frag() no longer refuses page-cache and
    # compound pages; the senders that lend the file's pages fail, vmsplice's pages are refused late
    ("pin-matrix-tcp-zc-recv-tcp-zc-map-pagecache-frag-6.12-tcg.log",
     {"borrow/tcp-zc-recv/sendfile-ext4": "a byte the receiver had mapped (stream byte 0) changed when the sender"
      " rewrote its file: the sender's page itself is mapped into the receiver",
      "borrow/tcp-zc-recv/splice-memfd": "a byte the receiver had mapped (stream byte 0) changed when the sender"
      " rewrote its file: the sender's page itself is mapped into the receiver",
      "borrow/tcp-zc-recv/vmsplice-anon": "TCP_ZEROCOPY_RECEIVE: Invalid argument"}),
    # patches/redteam/futex-ro-anon-key-ref-leak: get_futex_key() returns EFAULT without putting the page
    ("pin-matrix-futex-ro-futex-ro-anon-key-ref-leak-6.12-tcg.log",
     {"borrow/futex-ro/shmem": "the read-only private anonymous page is still held after 16 refused shared futex"
      " calls (EFAULT): a reference the refusal kept"}),
    # patches/redteam/aio-ring-migrate-copy-unlocked: aio_migrate_folio() copies the ring page
    # before it takes completion_lock, so an event written during the copy is lost
    ("pin-matrix-race-aio-ring-migrate-copy-unlocked-6.12-tcg.log",
     {"race/aio-ring-vs-migrate": "batch 41 got the event of batch 21, read 26: a stale or doubled ring entry"}),
])
def test_the_round_4_cells_catch_the_bugs_they_were_written_for(log: str, failed: dict[str, str]) -> None:
    _, got = _real_log(log)
    assert {n: s.message for n, s in got.items() if s.status is Status.FAIL} == failed
    assert all(s.status is Status.PASS for n, s in got.items() if n not in failed)


def test_a_real_log_of_the_uring_table_cells() -> None:
    # ONLY=uring-table/ QUICK=0 on a healthy 6.12 (run 20261206-225121-baseline): all 22 pass,
    # each registration's pins as 6.12 takes them (a page each; one a huge folio, coalesced)
    lines, got = _real_log("pin-matrix-uring-table-baseline-6.12-tcg.log")
    assert len(got) == 22 and all(s.status is Status.PASS for s in got.values())
    assert "# uring-table/anon/multi: 6 buffers registered over 65536 bytes: 35 FOLL_PIN(s)" in lines
    assert "# uring-table/hugetlb/multi: 6 buffers registered over 2097152 bytes: 6 FOLL_PIN(s)" in lines
    assert "# uring-table/thp/inflight: the old buffer stayed pinned while the request held it, given back after" in lines
    assert set(_c_table("uring_table_cells.h", "table_quick")) <= set(got)


def test_the_uring_table_cells_fail_on_an_update_that_keeps_the_old_buffer() -> None:
    # tests/data/guest/scratch-bugs/uring-update-untagged-leak (run 20261206-225223-utbug)
    _, got = _real_log("pin-matrix-uring-table-update-untagged-leak-6.12-tcg.log")
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    mems = ("anon", "thp", "hugetlb", "shmem")
    assert sorted(failed) == sorted(f"uring-table/{m}/{op}" for m in mems for op in ("update", "inflight"))
    assert failed["uring-table/anon/update"] == \
        "slot 2 replaced by buffer 3 (buffer 0's pins given back?): 9 FOLL_PIN(s) outstanding, want 1"
    assert failed["uring-table/thp/inflight"] == \
        "the request done: the old buffer's pins given back: 2 FOLL_PIN(s) outstanding, want 1"
    assert all(s.status is Status.PASS for n, s in got.items() if n not in failed)


def test_a_real_log_of_the_cells_written_after_round_5() -> None:
    # ONLY=punch/,pipe/anon-shared,zero/,race/append,uffd/ QUICK=0 on a healthy 6.12 (run
    # 20261206-234437-baseline): every cell passes, each saying what it saw
    lines, got = _real_log("pin-matrix-round5-cells-baseline-6.12-tcg.log")
    assert all(s.status is Status.PASS for s in got.values())
    blocks = {p: sum(n.startswith(p) for n in got) for p in ("punch/", "pipe/anon-shared/", "zero/", "uffd/",
                                                              "race/append-vs-writeback")}
    assert blocks == {"punch/": 6, "pipe/anon-shared/": 3, "zero/": 8, "uffd/": 8, "race/append-vs-writeback": 1}
    assert "# zero/vmsplice/thp: 2097152 bytes of the huge zero page(s), zeros where they arrived, the buffer still" \
           " the zero page" in lines
    assert "# uffd/hugetlb-shared/continue: the fill, its refusals (EEXIST, EFAULT), the bytes, every hugetlb page" \
           " given back" in lines


ROUND5 = {
    # each outside bug of round 5 against the block written for its class (docs/redteam.md)
    "swap-zeromap-stale-bit": {
        f"swap/{m}/shapes": "page 0 (one word repeated, until this round zeros) came back from swap with other bytes"
        " at byte 0 (round 3, its shape changed in the swap cache)" for m in ("anon", "thp")},
    "truncate-split-fail-drop-dirty": {
        "udmabuf/shmem-thp/punch-hole": "dma-buf page 0 reads zeros like the file, but does not follow it",
        "punch/uring/shmem-thp/punch": "after the punch of [12388, 2088860) under a pin the file reads other bytes"
        " outside the hole at byte 0",
        "punch/uring/shmem-thp/truncate": "after the truncate of [20580, 2097152) under a pin the file reads other"
        " bytes outside the hole at byte 0"},
    "pipe-tmp-page-recycle-shared": {
        f"pipe/anon-shared/{h}": f"round 0: the {h} gave other bytes at 0 than the page lent to it (the next write's):"
        " the pipe took the lent page back for its next write" for h in ("tee", "unix-splice", "tcp-splice")},
    "hugetlb-uffd-eexist-pagecache-leak": {
        "uffd/hugetlb-shared/continue": "1 hugetlb page(s) still in use after the range and the file were gone"
        " (HugePages_Total - HugePages_Free 0 -> 1): a reference a refused continue kept"},
    "ext4-da-isize-after-unlock": {
        "race/append-vs-writeback": "round 24: after the appends the page cache reads other bytes at 239355 (zero):"
        " a write-back zeroed or lost bytes already appended"},
}


def test_the_huge_shape_catches_a_loop_device_that_loses_a_split_bios_offset() -> None:
    # patches/redteam/loop-split-bio-bvec-offset, ONLY=blk-dio,-huge: every huge cell fails (2 MiB
    # in bvecs of a folio, split inside one), every other blk-dio shape passes
    _, got = _real_log("pin-matrix-round5-loop-split-bio-bvec-offset-6.12-tcg.log")
    failed = {n for n, s in got.items() if s.status is Status.FAIL}
    assert failed == {n for n in got if n.endswith("-huge")} and len(failed) == 10
    assert got["dio/blk-dio/sync-write-huge"].message == \
        "write: the device holds other data at byte 1310721 than the buffers"  # the split at 1.25 MiB


def test_a_real_log_of_the_splice_cells() -> None:
    # ONLY=splice/file-,...,splice/from- on a healthy 6.12 (run 20261207-012853-baseline): all 25
    # pass, each premise met: the short counts inside a pipe buffer, the pieces lent end to end
    lines, got = _real_log("pin-matrix-splice-baseline-6.12-tcg.log")
    assert len(got) == 25 and all(s.status is Status.PASS for s in got.values())
    assert "# splice/file-fsize/write: the splice came back short at stream byte 5000, inside a pipe buffer" \
           " (RLIMIT_FSIZE)" in lines
    assert "# splice/tmpfs-enospc/memfd: the splice came back short at stream byte 6958, inside a pipe buffer" \
           " (a full tmpfs (ENOSPC))" in lines
    assert "# splice/from-unix/vmsplice/pipe: all 15 pieces (12734 bytes) came out of the socket on the sender's" \
           " own pages" in lines


def test_the_splice_cells_catch_a_merge_of_same_page_pieces_that_are_not_adjacent() -> None:
    # patches/redteam/skb-splice-coalesce-gap (run 20261207-012610): spd_can_coalesce() merges two
    # frags of one page without their offsets; every cell that splices out of a socket fails by data
    _, got = _real_log("pin-matrix-splice-skb-splice-coalesce-gap-6.12-tcg.log")
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    where = {"pipe": "the receiver's pipe", "file": "the out file"}
    want = {f"splice/from-{p}/{s}/{to}": f"{where[to]} holds other bytes at stream byte 300 than were sent or the page holds now (piece 1, 700 bytes from"
            " source byte 4196, its byte 0)" for p in ("tcp", "unix") for s in ("vmsplice", "memfd")
            for to in ("pipe", "file")}
    assert failed == want
    assert all(s.status is Status.PASS for n, s in got.items() if n not in failed) and len(got) == 25


def test_the_splice_cells_catch_a_partial_write_that_leaves_the_buffer_offset() -> None:
    # patches/redteam/splice-write-partial-offset (run 20261207-013201): iter_file_splice_write()
    # lowers a partly written buffer's length without moving its offset; every cell that splices a
    # pipe into a file and stops inside a buffer fails by data, the other consumers pass
    _, got = _real_log("pin-matrix-splice-splice-write-partial-offset-6.12-tcg.log")
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    at = {"file-pieces": "777 (piece 1, 700 bytes from source byte 4196, its byte 477)",
          "file-fsize": "5000 (piece 3, 1500 bytes from source byte 12092, its byte 999)",
          "tmpfs-enospc": "6958 (piece 6, 500 bytes from source byte 10192, its byte 348)"}
    want = {f"splice/{k}/{s}": f"the out file holds other bytes than the stream at its byte {a}"
            for k, a in at.items() for s in ("vmsplice", "memfd", "write")}
    want |= {f"splice/from-{p}/{s}/file": "the out file holds other bytes at stream byte 777 than were sent or the"
             " page holds now (piece 1, 700 bytes from source byte 4196, its byte 477)"
             for p in ("tcp", "unix") for s in ("vmsplice", "memfd")}
    assert failed == want
    assert all(s.status is Status.PASS for n, s in got.items() if n not in failed) and len(got) == 25


def test_a_real_log_of_the_secret_and_packet_cells() -> None:
    # ONLY=secret/,packet/,race/packet on a healthy 6.12 (run 20261207-015944-baseline): every
    # cell passes, each saying what it saw (the first-fault race raced: pages faulted by both)
    lines, got = _real_log("pin-matrix-secret-packet-baseline-6.12-tcg.log")
    assert all(s.status is Status.PASS for s in got.values())
    blocks = {p: sum(n.startswith(p) for n in got) for p in ("secret/", "packet/", "race/packet-opts")}
    assert blocks == {"secret/": 16, "packet/": 10, "race/packet-opts": 1}
    assert "# secret/fault-race/threads: 2 threads, 2 round(s) of 256 pages: 511 page(s) faulted by two threads or" \
           " more at once" in lines
    assert "# secret/accounting: 64 of 64 pages fit under RLIMIT_MEMLOCK before the block and after it" in lines
    assert "# packet/rx/v3: 80 frames of 60..1500 bytes through 32 slots, read by the reported version, byte exact" \
           in lines


def test_the_packet_cells_pass_and_the_race_dies_with_packet_version_unlocked() -> None:
    # patches/redteam/packet-version-unlocked (run 20261207-012800): the ten packet/ cells and
    # secret/ pass; race/packet-opts never says its verdict: its first check frame met a ring
    # built for V1/V2 on a socket that says V3, and the kernel died (the console's NULL
    # dereference in __tpacket_v3_has_room, tests/data/console/x86-packet-version-unlocked-*)
    _, got = _real_log("pin-matrix-secret-packet-packet-version-unlocked-6.12-tcg.log")
    assert all(s.status is Status.PASS for s in got.values())
    assert sum(n.startswith("packet/") for n in got) == 10 and "race/packet-opts" not in got


# -- the walkers as an oracle, KSM pages that move, SG_IO's copy path, the aio ring ------------------
# (guests/src/walk_cells.h, ksm_cells.h, sgcopy_cells.h, aio_cells.h: every cell in the default set)
KSMAIO_BLOCKS = {"walk/": ("walk_cells.h", "wk_names"), "ksm/merged/": ("ksm_cells.h", "km_names"),
                 "sg-io/": ("sgcopy_cells.h", "sgc_names"), "aio/": ("aio_cells.h", "aio_names")}


def _ksmaio_cells() -> list[str]:
    return [p + n for p, (h, t) in KSMAIO_BLOCKS.items() for n in _c_table(h, t)]


def test_a_real_log_of_the_walker_ksm_sgcopy_and_aio_cells() -> None:
    # ONLY=walk/,ksm/merged,-odd,-iov,aio/ on a healthy 6.12 (run in the README): every cell
    # passes but the two async uffd-wp ones, which the default kernel cannot run
    # (CONFIG_PTE_MARKER_UFFD_WP off: UFFDIO_API refuses UFFD_FEATURE_WP_ASYNC)
    lines, got = _real_log("pin-matrix-ksmaio-baseline-6.12-tcg.log")
    assert sorted(got) == sorted(_ksmaio_cells()) and len(got) == 35
    skipped = {n for n, s in got.items() if s.status is Status.SKIP}
    assert skipped == {"walk/uffd-wp/anon", "walk/uffd-wp/thp"}
    assert all(got[n].status is Status.PASS for n in got if n not in skipped)
    assert any(re.match(r"# ksm/merged/reclaim: \d round\(s\) of memory.reclaim .* 48 of the 48 mappings", ln)
               for ln in lines)
    assert any(re.match(r"# aio/ring-mremap: ring tail ([0-9]|1[0-5]) right after io_submit", ln) for ln in lines)


def test_the_ksm_cells_catch_a_rmap_walk_without_its_second_pass() -> None:
    # tests/data/guest/ksmaio-bugs/ksm-rmap-no-new-forks: rmap_walk_ksm() no longer looks at mms
    # forked since ksmd merged; the child forked once merged keeps the page mapped, so migration
    # gives up and reclaim swaps the other 32 mappings only
    _, got = _real_log("pin-matrix-ksmaio-ksm-rmap-no-new-forks-6.12-tcg.log")
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    assert failed == {
        "ksm/merged/migrate": "the KSM page is on node 0 after move_pages to node 1 (pgmigrate_success +0)",
        "ksm/merged/reclaim": "memory.reclaim put 32 of the KSM page's 48 mappings on its swap entry, the others not"
                              " (parent, child, child forked once merged)"}
    assert len(got) == 6 and all(s.status is Status.PASS for n, s in got.items() if n not in failed)


def test_the_walk_cells_catch_smaps_miscounting_a_private_shmem_view() -> None:
    # tests/data/guest/ksmaio-bugs/smaps-shmem-hole-addr: smaps_pte_hole() hands addresses to
    # shmem_partial_swap_usage() instead of page indices (the bug upstream's 10c848c8b4 fixed):
    # a private view of a shmem file whose pages are swapped says Swap 0
    _, got = _real_log("pin-matrix-ksmaio-smaps-shmem-hole-addr-6.12-tcg.log")
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    assert failed == {"walk/shmem-private": "smaps Swap 0 kB, expected 32 kB (private view: 8 pages of its file"
                                            " swapped, never mapped)"}
    assert sum(s.status is Status.PASS for s in got.values()) == 5


def test_the_walk_cells_catch_smaps_counting_a_pte_mapped_thp_whole() -> None:
    # tests/data/guest/ksmaio-bugs/smaps-pte-large-compound: smaps_pte_entry() accounts each page
    # of a large folio as compound: the head page's PTE counts the whole THP, each tail one page
    _, got = _real_log("pin-matrix-ksmaio-smaps-pte-large-compound-6.12-tcg.log")
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    assert failed == {"walk/thp-pte": "smaps Rss 4092 kB, expected 2048 kB (alone)"}
    assert sum(s.status is Status.PASS for s in got.values()) == 5


def test_the_sg_io_copy_cells_catch_a_read_never_copied_back() -> None:
    # tests/data/guest/ksmaio-bugs/blk-uncopy-read-inverted: bio_uncopy_user() copies back on a
    # write instead of a read: every misaligned READ(10) leaves the memory as it was, and every
    # misaligned WRITE(10) fails with EFAULT (a copy into its source iterator; the console has a
    # WARNING in blk_rq_unmap_user)
    _, got = _real_log("pin-matrix-ksmaio-blk-uncopy-read-inverted-6.12-tcg.log")
    assert len(got) == 16 and all(s.status is Status.FAIL for s in got.values())
    for m in ("anon", "thp", "shmem", "hugetlb"):
        assert got[f"sg-io/{m}/write-odd"].message == "SG_IO WRITE(10): Bad address"
        assert got[f"sg-io/{m}/write-iov"].message == "SG_IO WRITE(10) of 3 iovecs: Bad address"
        for s, into in (("odd", "a buffer one byte in"), ("iov", "3 gapped iovecs")):
            assert got[f"sg-io/{m}/read-{s}"].message.startswith(f"after READ(10) into {into} byte 1 of the memory is")


def _exec_fail(kept: int) -> str:
    return f"128 execve()s that failed kept {kept} page(s) allocated (pgalloc - pgfree over them; most 64)"


def _ra_fail(kept: int) -> str:
    return (f"24 rounds of reading 1024 KiB at the group's limit kept {kept} page(s) allocated, the file's cache"
            " dropped (pgalloc - pgfree over them; most 40)")


ROUND6 = {
    # each outside bug of round 6 against the block written for its class (docs/redteam.md,
    # docs/matrix.md exec/ and ra/): a page each failed exec or readahead batch kept, counted
    "exec-arg-page-e2big-leak": {  # run 20261207-020502: the four shapes that copy a string first
        "exec/e2big/argv-first": _exec_fail(133), "exec/e2big/argv-middle": _exec_fail(128),
        "exec/e2big/envp-middle": _exec_fail(124), "exec/e2big/stack-limit": _exec_fail(129)},
    "readahead-enomem-folio-leak": {  # run 20261207-021625: every reader but mmap (its batches fit)
        "ra/read": _ra_fail(63), "ra/readahead": _ra_fail(54), "ra/fadvise": _ra_fail(120),
        "ra/madvise": _ra_fail(120)},
}


@pytest.mark.parametrize("round_, bug", [*((5, b) for b in sorted(ROUND5)), *((6, b) for b in sorted(ROUND6))])
def test_the_cells_of_a_round_catch_the_bugs_they_were_written_for(round_: int, bug: str) -> None:
    """Each outside bug of rounds 5 and 6 against the cells written for its class: exactly the
    cells named fail, with those messages, and every other cell of the log passes."""
    want = (ROUND5 if round_ == 5 else ROUND6)[bug]
    _, got = _real_log(f"pin-matrix-round{round_}-{bug}-6.12-tcg.log")
    assert {n: s.message for n, s in got.items() if s.status is Status.FAIL} == want
    assert all(s.status is Status.PASS for n, s in got.items() if n not in want)


def test_a_real_log_of_the_exec_and_ra_cells() -> None:
    # ONLY=exec/,ra/ on a healthy 6.12: every cell passes; the failed execs and the readers kept
    # a few pages at most, far under the cells' limits (64 and 40), the readahead calls were cut
    # short in every round (the premise)
    lines, got = _real_log("pin-matrix-round6-cells-baseline-6.12-tcg.log")
    assert len(got) == 21 and all(s.status is Status.PASS for s in got.values())
    kept = [int(m.group(1)) for line in lines if (m := re.match(r"# exec/\S+: (-?\d+) page\(s\) kept", line))]
    assert len(kept) == 11 and max(kept) < 32
    ra = [m.groups() for line in lines if (m := re.match(r"# ra/(\S+): memory.events max (\d+) oom_kill 0,"
                                                          r" (-?\d+) page\(s\) kept", line))]
    assert [r[0] for r in ra] == ["read", "mmap", "readahead", "fadvise", "madvise"]
    assert all(int(mx) > 0 and int(k) < 20 for _, mx, k in ra)
    assert sum("24 of 24 rounds' readahead short (mincore)" in line for line in lines) == 3


def test_the_swap_cells_on_a_block_device_and_a_bug_of_its_asynchronous_writes() -> None:
    # ONLY=swap/,swap-bdev/ on a healthy 6.12 (run 20261207-042500-baseline): the six swap-bdev/
    # twins pass, each having read from the loop device (pswpin moved, the device's own counts)
    lines, got = _real_log("pin-matrix-swap-bdev-baseline-6.12-tcg.log")
    bdev = sorted(n for n in got if n.startswith("swap-bdev/"))
    assert bdev == sorted(f"swap-bdev/{m}/{k}" for m in ("anon", "thp", "shmem") for k in ("shapes", "swapoff"))
    assert all(s.status is Status.PASS for s in got.values())
    assert "# swap-bdev/thp/shapes: on /dev/loop4 alone: 195 reads, 4 writes completed by the device, pswpin +1534" in lines
    # tests/data/guest/swap-bugs/swap-async-write-first-page (run 20261207-042837): the async
    # write bio carries only a large folio's first page; zram's synchronous twin is untouched
    _, got = _real_log("pin-matrix-swap-bdev-swap-async-write-first-page-6.12-tcg.log")
    assert {n: s.message for n, s in got.items() if s.status is Status.FAIL} == {
        "swap-bdev/thp/shapes": "page 1 (one word repeated) came back from swap with other bytes at byte 0 (round 1)"}


def test_swap_areas_come_back_as_they_were_after_the_swapoff_cells() -> None:
    # QUICK=0 ONLY=numa/protnone/,uffd-wp/async/,walk/uffd-wp,swap-bdev/,pressure/swap-discard/ on a
    # healthy 6.12 (run 20261207-150607-baseline): every cell passes; the discarding area turned off
    # and on again by swapoff/ comes back with SWAP_FLAG_DISCARD (its second swapon discards it too),
    # and each protnone cell saw its own witness pages moved by their hinting faults
    lines, got = _real_log("pin-matrix-tidy-deep-baseline-6.12-tcg.log")
    assert len(got) == 34 and all(s.status is Status.PASS for s in got.values())
    assert any(ln.startswith("# pressure/swap-discard/anon/swapoff: on /dev/loop4 alone:")
               and ln.endswith("discards: 1 at swapon, 1 from then to swapoff") for ln in lines)
    protnone = sorted(n for n in got if n.startswith("numa/protnone/"))
    assert len(protnone) == 13
    assert all(any(ln.startswith(f"# {n}: ") and "witness page(s) moved to node 0 by their hinting faults" in ln
                   for ln in lines) for n in protnone)
    # tests/data/guest/swap-bugs/swap-least-prio (run 20261207-151142-swap-least-prio): swapoff keeps
    # least_priority, so zram0 turned off and on again comes back one lower each time; every cell that
    # turns the areas off and on fails on /proc/swaps (before sw_areas_on() each passed: run
    # 20261207-151633-swap-least-prio, main at 5e5dd4f with the same patch)
    _, got = _real_log("pin-matrix-swap-least-prio-6.12-tcg.log")
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    assert sorted(failed) == sorted(["swap/anon/swapoff", "swap/shmem/swapoff", "swap-bdev/anon/swapoff",
                                     "share/anon/swapoff/free", "uffd-wp/uring/anon/swapoff",
                                     "pressure/swap-discard/anon/swapoff"])
    assert failed["swap/anon/swapoff"] == "after swapoff: swap area /dev/zram0 came back with priority -3, it had -2"
    assert failed["swap-bdev/anon/swapoff"] == "swap area /dev/zram0 came back with priority -5, it had -4"


def test_numa_protnone_cells_skip_when_their_own_region_was_never_hinted() -> None:
    # tests/data/guest/numa-bugs/numa-target-node-inverted: change_pte_range() hints a single-threaded
    # process's local pages, not the misplaced ones. The region on the other node is never hinted, the
    # process's own heap and stack are: numa_pte_updates and numa_hint_faults move all the same.
    # Judged by the region (run 20261207-152128), every small-page protnone cell skips saying so, the
    # PMD ones (another path) pass, and numa/balance/anon/none fails on the bug itself
    small = ["gup-fast", "gup-slow", "gup-ro", "uring", "dio-read", "dio-write", "pvm-readv", "pvm-writev", "fork",
             "fork-uring", "mprotect"]
    _, got = _real_log("pin-matrix-numa-target-node-inverted-6.12-tcg.log")
    assert all(got[f"numa/protnone/{e}"].status is Status.SKIP and "the region's PTEs were not hinted"
               in got[f"numa/protnone/{e}"].message for e in small)
    assert got["numa/protnone/thp-gup"].status is Status.PASS and got["numa/protnone/thp-gup-ro"].status is Status.PASS
    assert got["numa/balance/anon/none"].status is Status.FAIL
    # judged by numa_hint_faults (main at 5e5dd4f, run 20261207-152602), all but gup-ro passed
    _, got = _real_log("pin-matrix-numa-target-node-inverted-before-6.12-tcg.log")
    assert [e for e in small if got[f"numa/protnone/{e}"].status is not Status.PASS] == ["gup-ro"]


def test_a_real_log_of_the_pmd_cells() -> None:
    # ONLY=pmd/ on a healthy 6.12 (run 20261207-045321-baseline): the 17 cells of thpmove_cells.h
    # pass, the collapses saying what they did and how the one-page-off view was faulted in
    lines, got = _real_log("pin-matrix-pmd-baseline-6.12-tcg.log")
    assert len(got) == 17 and all(s.status is Status.PASS for s in got.values())
    moves = _c_table("thpmove_cells.h", "pm_move_names")
    assert {n for n in got if n.startswith("pmd/mremap-")} == {f"pmd/mremap-{m}" for m in moves}
    assert "# pmd/collapse-none/shmem: MADV_COLLAPSE: collapsed all; thp_collapse_alloc +2, first 2 MiB THP, second" \
           " THP, ShmemPmdMapped 4096 kB" in lines
    assert "# pmd/collapse-uring/shmem: MADV_COLLAPSE: Resource temporarily unavailable; thp_collapse_alloc +1, first" \
           " 2 MiB small pages, second THP, ShmemPmdMapped 2048 kB" in lines
    assert "# pmd/pte-mapped-uring/shmem-thp: the one-page-off view read after the collapse in 65 fault(s) for 1024" \
           " pages" in lines


def test_the_pmd_cells_catch_a_move_that_drops_soft_dirty() -> None:
    # scratch bug (run 20261207-040939-pmd-move-soft-dirty): move_soft_dirty_pmd() marks only
    # migration entries; only the soft-dirty move fails, by its pagemap check
    _, got = _real_log("pin-matrix-pmd-move-soft-dirty-6.12-tcg.log")
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    assert failed == {"pmd/mremap-soft-dirty/thp": "the moved PMD is not soft-dirty (pagemap): a soft-dirty tracker"
                      " misses the move"}
    assert all(s.status is Status.PASS for n, s in got.items() if n not in failed) and len(got) == 13


def test_the_pmd_cells_catch_a_file_collapse_that_ignores_pins() -> None:
    # scratch bug (run 20261207-041325-collapse-file-extra-refs): hpage_collapse_scan_file() and
    # collapse_file() accept extra references; the pinned collapses fail by data, the unpinned passes
    _, got = _real_log("pin-matrix-pmd-collapse-file-extra-refs-6.12-tcg.log")
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    assert failed == {f"pmd/collapse-{p}/shmem": "after MADV_COLLAPSE the pin does not read what the child wrote into"
                      " the pinned pages (byte 0): the pinned pages were collapsed into a copy" for p in ("uring", "gup-fast")}
    assert got["pmd/collapse-none/shmem"].status is Status.PASS and len(got) == 3


def _fsmap_cells() -> list[str]:
    """The fsmap/ cells in their run order, from guests/src/fsmap_cells.h's own name tables."""
    once, vfat, blk = _c_table("fsmap_cells.h", "fo_names"), _c_table("fsmap_cells.h", "fe_vfat"), \
        _c_table("fsmap_cells.h", "fe_blk")
    refused = _c_table("fsmap_cells.h", "fr_names")
    names = []
    for fs, events in (("vfat", vfat), ("blk", blk[:8])):
        names += [f"fsmap/{fs}/{p}/{o}" for p in ("dio", "uring", "pvm") for o in once]
        names += [f"fsmap/{fs}/dio/race-writeback"]
        names += [f"fsmap/{fs}/{p}/{e}" for p in ("gup-ro", "vmsplice") for e in events]
        names += [f"fsmap/{fs}/refused/{r}" for r in refused]
    return names + [f"fsmap/blk/{p}/{e}" for p in ("gup-ro", "vmsplice") for e in blk[8:]]


def test_a_real_log_of_the_fsmap_cells() -> None:
    # ONLY=fsmap/ on a healthy 6.12 (run 20261207-045154-baseline): every cell passes, in the order of the
    # header's tables, each premise seen (witness out of the page cache and moved, pinned pages not)
    lines, got = _real_log("pin-matrix-fsmap-baseline-6.12-tcg.log")
    assert list(got) == _fsmap_cells() and len(got) == 52
    assert all(s.status is Status.PASS for s in got.values())
    for fs in ("vfat", "blk"):
        for p in ("gup-ro", "vmsplice"):
            assert f"# fsmap/{fs}/{p}/reclaim: after memory.reclaim 0 of 8 witness page(s) and 8 of 8 pinned one(s)" \
                   " cached" in lines
            assert f"# fsmap/{fs}/{p}/migrate: move_pages of dirty pages: 8 of 8 witness page(s) moved, 8 of 8" \
                   " pinned stayed, pgmigrate_success +8" in lines
        assert f"# fsmap/{fs}/dio/clean: dio wrote 8 page(s) in, nr_dirtied +8, 8 page(s) dirty" in lines


_FSMAP_CLEAN = "8 of 16 page(s) clean after the write after writeback cleaned the pinned pages: writeback will not" \
    " write them (page_mkwrite or the dirtying after a pin lost the write)"
FSMAP_BUGS = {
    # mm/page-writeback.c folio_clear_dirty_for_io() skips folio_mkclean() of a pinned folio
    "writeback-skip-mkclean-pinned": {f"fsmap/{fs}/gup-ro/writeback": _FSMAP_CLEAN for fs in ("vfat", "blk")},
    # block/fops.c blkdev_fallocate() punches without truncate_bdev_range(): the cache keeps the old bytes
    "blkdev-punch-keeps-cache": {f"fsmap/blk/{p}/punch": "after the cut of [12288, 24576) under a pin the mapping"
                                 " reads a non-zero byte inside it at byte 12288" for p in ("gup-ro", "vmsplice")},
    # block/bio.c bio_check_pages_dirty() never dirties a file page again after the read: each
    # race checks every round on the device under it and fails within its first 121 rounds
    "bio-dirty-skip-redirty": {f"fsmap/{fs}/dio/race-writeback": f"round {n}: once the O_DIRECT read into the mapping"
                               " was done (its pins back) and msync ran, the device holds other data at byte"
                               f" {b} (page {b // 4096}): a page writeback cleaned while the read wrote it was"
                               " not dirtied again" for fs, n, b in (("vfat", 120, 0), ("blk", 46, 57344))},
}


@pytest.mark.parametrize("bug", sorted(FSMAP_BUGS))
def test_the_fsmap_cells_catch_their_scratch_bugs(bug: str) -> None:
    """tests/data/guest/fsmap-bugs/<bug> against ONLY=fsmap/ (the final cells): exactly the cells
    named fail, with those messages; every other cell passes."""
    want = FSMAP_BUGS[bug]
    _, got = _real_log(f"pin-matrix-fsmap-{bug}-6.12-tcg.log")
    assert {n: s.message for n, s in got.items() if s.status is Status.FAIL} == want
    assert all(s.status is Status.PASS for n, s in got.items() if n not in want) and len(got) == 52


def _dirty_cells() -> list[str]:
    """The dirty/ cells in their run order, from guests/src/dirty_cells.h's own tables (the rows
    of dl_table, each with every name of its names table)."""
    text = (GUESTS / "src" / "dirty_cells.h").read_text()
    table = re.search(r"dl_table\[\] = (\{.*?);", text, re.S).group(1)
    rows = re.findall(r'\{"(dirty/[^"]+/)", \w+, (\w+), \w+(?:, \w+)?\}', table)
    names = {t: re.findall(r'"([^"]+)"', re.search(rf"\b{t}\[\w*\] = \{{(.*?)\}};", text, re.S).group(1))
             for _, t in rows}
    return [prefix + name for prefix, t in rows for name in names[t]]


def test_a_real_log_of_the_dirty_cells() -> None:
    # ONLY=dirty/ext4,dirty/vfat,dirty/blk and four fsmap/ cells, QUICK=0, on a healthy 6.12 (run
    # 20261207-120326-baseline): every cell passes, the dirty/ ones in table order, each writer throttled
    # (asleep in balance_dirty_pages), the limit held, laptop mode's timer wrote the pages back
    # about 1 s after the read that armed it
    lines, got = _real_log("pin-matrix-dirty-baseline-6.12-tcg.log")
    dirty = [n for n in got if n.startswith("dirty/")]
    assert dirty == _dirty_cells() and len(dirty) == 24 and len(got) == 28
    assert all(s.status is Status.PASS for s in got.values())
    for name in dirty:
        m = next(re.match(rf"# {re.escape(name)}: (\d+) pass\(es\) of 1024 KiB in [\d.]+ s, the writer asleep in"
                          r" balance_dirty_pages in (\d+) of (\d+) wchan sample\(s\), at most (\d+) page\(s\) of the"
                          r" range dirty \(limit 64\)$", line) for line in lines if line.startswith(f"# {name}: ") and
                 "pass(es)" in line)
        passes, asleep, samples, most = map(int, m.groups())
        assert passes >= 3 and 0 < asleep <= samples and most <= 128
        if name.endswith("/laptop"):
            took = [float(m.group(1)) for line in lines if (m := re.match(
                rf"# {re.escape(name)}: 0 page\(s\) dirty ([\d.]+) s after a write of 8 page\(s\) under the background"
                r" limit and a read \(laptop mode's timer: 1 s\)$", line))]
            assert len(took) == 1 and 0.5 <= took[0] < 8


def _dirty_failed(bug: str) -> dict[str, str]:
    return {n: s.message for n, s in _real_log(f"pin-matrix-dirty-{bug}-6.12-tcg.log")[1].items()
            if s.status is Status.FAIL}


def test_a_real_log_of_the_remote_cells() -> None:
    # ONLY=remote/ on a healthy 6.12 (run 20261207-045928-baseline): all 38 cells pass, each
    # premise met (swapped, zero page, COW-shared, the waiter asleep, the handler served faults)
    lines, got = _real_log("pin-matrix-remote-baseline-6.12-tcg.log")
    assert len(got) == 38 and all(s.status is Status.PASS for s in got.values())
    blocks = {p: sum(n.startswith(f"remote/{p}/") for n in got) for p in
              ("futex-pi", "robust", "uffd-move", "pmadvise", "swap-share", "vmsplice-to", "uffd-poison", "uffd-hugetlb",
               "remap-file-pages")}
    assert blocks == {"futex-pi": 8, "robust": 7, "uffd-move": 3, "pmadvise": 5, "swap-share": 1, "vmsplice-to": 5,
                      "uffd-poison": 5, "uffd-hugetlb": 2, "remap-file-pages": 2}
    assert got.keys() == set(_c_names("remote_cells.h"))
    assert any(re.match(r"# remote/swap-share/fork70: swap entry 0x[0-9a-f]+ shared by 70 children and the parent;"
                        r" every copy exact$", line) for line in lines)
    assert "# remote/robust/pi: the owner died holding the lock, the PI waiter took it over; word 0 after" in lines
    assert "# remote/uffd-hugetlb/dio: 2 MISSING fault(s) of the pinner served by the handler; both ways exact" in lines


def _c_names(header: str) -> list[str]:
    """The cells of a run_cells() table in guests/src/HEADER: each prefix with each name of its
    names table (the C tables read as text)."""
    text = (GUESTS / "src" / header).read_text()
    rows = re.findall(r'\{"(remote/[^"]+/)", \w+, (\w+), \w+\}', text)
    names = {t: re.findall(r'"([^"]+)"', re.search(rf"\b{t}\[\w*\] = \{{(.*?)\}};", text, re.S).group(1))
             for _, t in rows}
    return [prefix + name for prefix, table in rows for name in names[table]]


def _remote_short(n: int) -> str:
    return f"vmsplice with the third iovec running into a read-only page: {n} (bytes), want a short count of 1 to" \
           " 16584 bytes"


REMOTE_BUGS = {
    # scratch bugs of the remote/ block (tests/data/guest/remote-bugs, docs/matrix.md), each run
    # with ONLY=remote/: exactly these cells fail, with these messages
    "uffd-move-swap-not-exclusive": {  # run 20261207-041406: move_pages_pte() moves shared swap entries
        "remote/uffd-move/swap-shared": "UFFDIO_MOVE of swap entries a child shares: done (moved 32768), want EBUSY"},
    "futex-death-no-fault": {  # run 20261207-041722: handle_futex_death() gives up on -EFAULT
        "remote/robust/cow": "the waiter was not woken when the owner died: FUTEX_WAIT Connection timed out"
                             " (word 0x800000df)"},
    "splice-to-user-short-copy": {  # run 20261207-042215: pipe_to_user() counts what it did not copy
        f"remote/vmsplice-to/{m}": _remote_short(24776) for m in ("anon", "thp", "shmem", "ext4-shared", "hugetlb")},
    "pmadvise-partial-count": {  # run 20261207-042552: process_madvise() goes on past a failed iovec
        "remote/pmadvise/bad-iov": "process_madvise(bad-iov) over 3 iovec(s): 65536 (bytes), want 16384"},
}


@pytest.mark.parametrize("bug", sorted(REMOTE_BUGS))
def test_the_remote_cells_catch_their_scratch_bugs(bug: str) -> None:
    want = REMOTE_BUGS[bug]
    _, got = _real_log(f"pin-matrix-remote-{bug}-6.12-tcg.log")
    assert {n: s.message for n, s in got.items() if s.status is Status.FAIL} == want
    assert all(s.status is Status.PASS for n, s in got.items() if n not in want) and len(got) == 37


def test_the_swap_share_cell_fails_on_a_swap_count_one_short() -> None:
    # remote-bugs/swap-cont-borrow-off-by-one (run 20261207-044628, ONLY=remote/swap-share,
    # remote/uffd-move): __swap_entry_free_locked() refills the low count one short when it borrows
    # from the continuation; the exits of the children that never touched the page free the entry
    # under the parent's, whose read through GUP fails (a plain access retried VM_FAULT_OOM until
    # the workload was stopped, run 20261207-043203); the kernel then died at swapoff (BUG in
    # swap_entry_range_free)
    _, got = _real_log("pin-matrix-remote-swap-cont-borrow-off-by-one-6.12-tcg.log")
    assert {n: s.message for n, s in got.items() if s.status is Status.FAIL} == {
        "remote/swap-share/fork70": "reading the parent's page through GUP after the children: -1 (Bad address), the"
                                    " swap entry gone under it?"}
    assert sorted(n for n, s in got.items() if s.status is Status.PASS) == [
        f"remote/uffd-move/{k}" for k in ("swap", "swap-shared", "zero")]


def test_the_pi_cow_cell_fails_when_the_owner_fixup_does_not_fault_in() -> None:
    # remote-bugs/pi-owner-fixup-no-fault (run 20261207-045726, ONLY=remote/futex-pi,remote/robust):
    # fixup_pi_state_owner() gives up on -EFAULT; only pi-cow's waiter meets its word read-only
    # (copy-on-write with a child) when it takes over a dead owner's lock; robust/pi passes, the
    # robust list's walk made its page writable first (run 20261207-045404 missed the bug before
    # pi-cow was written)
    _, got = _real_log("pin-matrix-remote-pi-owner-fixup-no-fault-6.12-tcg.log")
    assert {n: s.message for n, s in got.items() if s.status is Status.FAIL} == {
        "remote/robust/pi-cow": "the PI waiter's FUTEX_LOCK_PI after the owner died: Bad address"}
    assert len(got) == 15 and sum(s.status is Status.PASS for s in got.values()) == 14


def test_the_shm_cells_and_an_unlock_that_leaves_the_segment_unevictable() -> None:
    # ONLY=shm/ on a healthy 6.12 (run 20261207-050709-baseline): the six cells pass, the lock
    # cell having seen the whole segment on the unevictable LRU while locked and none after
    lines, got = _real_log("pin-matrix-shm-baseline-6.12-tcg.log")
    assert sorted(got) == sorted([f"shm/small/{op}" for op in ("rmid", "fork", "lock", "dio")]
                                 + ["shm/huge/fork", "shm/huge/rmid"])
    assert all(s.status is Status.PASS for s in got.values())
    assert "# shm/small/lock: locked, nothing reclaimed, 65536 bytes unevictable; unlocked, none; 8 of 8 unpinned" \
           " page(s) went out and came back" in lines
    # tests/data/guest/shm-bugs/shm-unlock-keeps-unevictable (run 20261207-050802): SHM_UNLOCK's
    # walk never runs; only the lock cell can see it
    _, got = _real_log("pin-matrix-shm-unlock-keeps-unevictable-6.12-tcg.log")
    assert {n: s.message for n, s in got.items() if s.status is Status.FAIL} == {
        "shm/small/lock": "after SHM_UNLOCK /proc/vmstat still counts 65536 bytes more unevictable than before"
                          " SHM_LOCK"}


# -- userfaultfd write-protect over pinned memory (guests/src/uffdwp_cells.h) ----------------------
UFFDWP_OLDER = {"pmd/mremap-uffd-wp/thp", "walk/uffd-wp/anon", "walk/uffd-wp/thp"}  # ONLY=uffd-wp meets these too


def test_a_real_log_of_the_uffd_wp_cells() -> None:
    # ONLY=uffd-wp QUICK=0 on a healthy 6.12 with CONFIG_PTE_MARKER_UFFD_WP (run
    # 20261207-114214-baseline, the final cells): the 65 cells and the three older ones pass, none
    # skips (the walk cells had skipped on every kernel before); each says how many faults it served
    lines, got = _real_log("pin-matrix-uffdwp-baseline-6.12-tcg.log")
    mine = {n for n in got if n.startswith("uffd-wp/")}
    assert set(got) == mine | UFFDWP_OLDER and len(mine) == 65
    assert all(s.status is Status.PASS for s in got.values())
    assert set(_c_table("uffdwp_cells.h", "uw_quick")) - UFFDWP_SWAPOFF <= mine  # swapoff came later
    assert "# uffd-wp/uring/anon/fork-event: 8 write-protect fault(s) served (4 of a child), each before its write" \
           " landed" in lines
    assert "# uffd-wp/wait/dio-read/anon-empty: 16 write-protect fault(s), the first held 50 ms with nothing written" \
           in lines
    assert "# uffd-wp/uring/anon/mremap: 4 write-protect fault(s) served (0 of a child), each before its write landed" \
           in lines  # the moved half, without UFFD_FEATURE_EVENT_REMAP, took none


def test_the_uffd_wp_cells_catch_dontneed_dropping_the_shmem_markers() -> None:
    # tests/data/guest/uffdwp-bugs/zap-drops-file-uffd-wp (run 20261207-065603): a zap without
    # zap_details (MADV_DONTNEED) drops the markers of shmem; hugetlb's own zap keeps its own
    _, got = _real_log("pin-matrix-uffdwp-zap-drops-file-uffd-wp-6.12-tcg.log")
    assert {n: s.message for n, s in got.items() if s.status is Status.FAIL} == {
        n: "MADV_DONTNEED dropped the uffd-wp marker of page 0 (pagemap bit 57)"
        for n in ("uffd-wp/uring/shmem/dontneed", "uffd-wp/uring/shmem-thp/dontneed", "uffd-wp/gup-fast/shmem/dontneed")}
    assert got["uffd-wp/uring/hugetlb/dontneed"].status is Status.PASS and len(got) == 68


def test_the_uffd_wp_cells_catch_mprotect_upgrading_a_protected_pte() -> None:
    # tests/data/guest/uffdwp-bugs/mprotect-uffd-wp-writable (run 20261207-065744):
    # can_change_pte_writable() without its uffd-wp test; mprotect back to writable upgrades the
    # exclusive anonymous PTEs, whose writes then never reach the handler (pagemap still says 57)
    _, got = _real_log("pin-matrix-uffdwp-mprotect-uffd-wp-writable-6.12-tcg.log")
    assert {n: s.message for n, s in got.items() if s.status is Status.FAIL} == {
        f"uffd-wp/{p}/anon/mprotect": "the process wrote page 0 of the protected half 0 without a fault reaching"
                                      " the handler" for p in ("uring", "gup-fast")}
    assert len(got) == 68


def test_the_uffd_wp_cells_catch_a_pinned_pages_fork_copy_without_uffd_wp() -> None:
    # tests/data/guest/uffdwp-bugs/fork-pinned-copy-drops-uffd-wp (run 20261207-065849):
    # copy_present_page() (fork's copy of a pinned anonymous page) drops the bit; only the pinned
    # half's copy loses it, which the child sees in its pagemap under UFFD_FEATURE_EVENT_FORK
    _, got = _real_log("pin-matrix-uffdwp-fork-pinned-copy-drops-uffd-wp-6.12-tcg.log")
    assert {n: s.message for n, s in got.items() if s.status is Status.FAIL} == {
        f"uffd-wp/{p}/anon/fork-event": "the child's page 0 of half 0 lacks pagemap bit 57"
                                        " (UFFD_FEATURE_EVENT_FORK: the child keeps the protection)"
        for p in ("uring", "gup-fast")}
    assert len(got) == 68


def test_the_uffd_wp_cells_catch_a_hugetlb_zap_without_its_marker() -> None:
    # tests/data/guest/uffdwp-bugs/hugetlb-zap-drops-uffd-wp (run 20261207-071408):
    # __unmap_hugepage_range() leaves no marker for a present uffd-wp huge PTE; only the hugetlb
    # dontneed cell zaps one (its witness, from page 512)
    _, got = _real_log("pin-matrix-uffdwp-hugetlb-zap-drops-uffd-wp-6.12-tcg.log")
    assert {n: s.message for n, s in got.items() if s.status is Status.FAIL} == {
        "uffd-wp/uring/hugetlb/dontneed": "MADV_DONTNEED dropped the uffd-wp marker of page 512 (pagemap bit 57)"}
    assert len(got) == 68


def test_the_uffd_wp_cells_catch_an_async_fault_that_keeps_the_bit() -> None:
    # tests/data/guest/uffdwp-bugs/wp-async-keeps-uffd-wp (run 20261207-071453): do_wp_page()'s
    # UFFD_FEATURE_WP_ASYNC arm clears the bit in the PTE but not in vmf->orig_pte, which the reuse
    # maps back: the page is writable and still uffd-wp, and PAGEMAP_SCAN calls it not written.
    # hugetlb (hugetlb_wp()) and shmem-thp (its PMD zapped, the pages faulted in anew) pass
    _, got = _real_log("pin-matrix-uffdwp-wp-async-keeps-uffd-wp-6.12-tcg.log")
    fails = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    since = "six pages written since the protecting scan"
    assert fails == {
        "walk/uffd-wp/anon": "PAGEMAP_SCAN says page 2 not written, expected written (two pages written since)",
        "walk/uffd-wp/thp": "PAGEMAP_SCAN says page 100 not written, expected written (two pages written since)",
        **{f"uffd-wp/async/{m}": f"PAGEMAP_SCAN says page 1 not written, expected written ({since})"
           for m in ("anon", "thp", "shmem")},
        "uffd-wp/async/anon-empty": f"PAGEMAP_SCAN says page 0 not written, expected written ({since})"}
    assert got["uffd-wp/async/hugetlb"].status is Status.PASS and len(got) == 68


# -- one sharer's madvise against the other's bytes (guests/src/share_cells.h) ----------------------
def test_a_real_log_of_the_share_cells() -> None:
    # ONLY=share/ on a healthy 6.12 (run 20261207-120146-baseline): the 16 cells pass, each with
    # its premise said (mapped by both, reclaim scanned the group)
    lines, got = _real_log("pin-matrix-share-baseline-6.12-tcg.log")
    share = {n: s for n, s in got.items() if n.startswith("share/")}
    assert len(share) == 16 and all(s.status is Status.PASS for s in share.values())
    assert set(share) == {f"share/{m}/{s}/{o}" for m, states in (("thp", ("fork",)), ("anon", ("fork", "swapin", "swapoff")))
                          for s in states for o in ("free", "cold", "pageout", "dontneed")}
    said = [line for line in lines if line.startswith("# share/") and "mapped by parent and child" in line]
    assert len(said) == 16 and all("reclaim scanned 0," not in line for line in said)


def test_the_share_cells_catch_madvise_free_clearing_a_shared_folio_dirty() -> None:
    # patches/redteam/madvise-free-shared-dirty-clean (run 20261207-124850, the reviewed cells; the
    # same in -120515): only the state where
    # the shared folio is dirty outside the swap cache (after swapoff) meets the bug; MADV_FREE
    # cleans it and reclaim discards the child's bytes too
    _, got = _real_log("pin-matrix-share-madvise-free-shared-dirty-clean-6.12-tcg.log")
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    assert failed == {"share/anon/swapoff/free": "the child, which did nothing, reads other bytes at page 0 byte 0"
                                                 " after the parent's MADV_FREE of the pages they share and reclaim"}
    assert sum(n.startswith("share/") and s.status is Status.PASS for n, s in got.items()) == 15


UFFDWP_SWAPOFF = {"uffd-wp/uring/anon/swapoff", "uffd-wp/uring/shmem/swapoff"}


def test_the_uffd_wp_swapoff_event_passes_bare_and_catches_swapoff_dropping_the_bit() -> None:
    # The swapoff event (after red-team round 7): bare 6.12 (run 20261207-120717-baseline) both
    # cells pass with their faults served; patches/redteam/swapoff-drop-uffd-wp (unuse_pte() no
    # longer carries the swap PTE's uffd-wp bit, run 20261207-121037, ONLY=uffd-wp/): the anonymous
    # one fails at the first witness page, shmem (shmem_unuse(), markers in the PTEs) passes
    lines, got = _real_log("pin-matrix-uffdwp-swapoff-baseline-6.12-tcg.log")
    assert UFFDWP_SWAPOFF <= set(got) and all(s.status is Status.PASS for s in got.values())
    assert "# uffd-wp/uring/anon/swapoff: 8 write-protect fault(s) served (0 of a child), each before its write landed" \
        in lines
    assert UFFDWP_SWAPOFF <= set(_c_table("uffdwp_cells.h", "uw_quick"))
    _, got = _real_log("pin-matrix-uffdwp-swapoff-drop-uffd-wp-6.12-tcg.log")
    assert {n: s.message for n, s in got.items() if s.status is Status.FAIL} == {
        "uffd-wp/uring/anon/swapoff": "swapoff dropped the uffd-wp bit of page 16 (pagemap bit 57)"}
    assert len(got) == 41


# -- NUMA balancing and memory policies under pins (guests/src/numa_cells.h) -------------------------
NUMA_TABLES = {"numa/balance/": "nb_bal_names", "numa/policy/": "nb_pol_names", "numa/protnone/": "nb_entry_names",
               "numa/alloc/": "nb_alloc_names"}


def _numa_cells() -> list[str]:
    return [p + n for p, t in NUMA_TABLES.items() for n in _c_table("numa_cells.h", t)] + \
        ["race/numa-pin-vs-balancing"]


def test_a_real_log_of_every_numa_cell() -> None:
    # ONLY=numa/,race/numa-pin QUICK=0 on a healthy 6.12 (run 20261207-114040-baseline): every
    # cell passes, each premise seen in the kernel's counters (hinting faults, pages migrated)
    lines, got = _real_log("pin-matrix-numa-all-baseline-6.12-tcg.log")
    assert sorted(got) == sorted(_numa_cells()) and len(got) == 45
    assert all(s.status is Status.PASS for s in got.values())
    # the pinned half stays on node 1, the witness follows the CPU to node 0
    assert any(re.match(r"# numa/balance/thp/gup-fast: memory on node 1, CPU 0 on node 0 .* numa_hint_faults \+[1-9]"
                        r".* on node 0 now: 0 of 512 pinned-half page\(s\), 512 of 512 witness page\(s\)$", ln)
               for ln in lines)
    assert any(re.match(r"# numa/policy/vma-bind-remote: .* numa_hint_faults \+[1-9][0-9]*, numa_pages_migrated \+0,"
                        r" .* 0 of 16 witness page\(s\)$", ln) for ln in lines)
    assert "# numa/alloc/hugetlb-move: mbind MPOL_MF_MOVE to node 1: 0; the pinned huge page node 0 -> 0, the" \
           " other 0 -> 1" in lines


def test_a_real_log_of_the_default_numa_cells() -> None:
    # the same with the default set's cells (QUICK=1, run 20261207-114451-baseline): nb_quick[]
    # and the race, 8.4 s of guest time
    _, got = _real_log("pin-matrix-numa-baseline-6.12-tcg.log")
    assert sorted(got) == sorted(_c_table("numa_cells.h", "nb_quick") + ["race/numa-pin-vs-balancing"])
    assert all(s.status is Status.PASS for s in got.values())


# tests/data/guest/numa-bugs/<bug> against the default set's numa cells (ONLY=numa/,race/numa-pin):
# exactly these cells fail, with these messages, the others pass.
# numa-rebuild-pte-from-pfn (run 20261207-115011): numa_rebuild_single_mapping() makes the PTE
# from pfn and vm_page_prot, so a page whose hinting fault migrates nothing loses its soft-dirty
# bit; only the policy that keeps pages on their node rebuilds PTEs (the others migrate, or
# restore a pinned page from its migration entry). numa-misplaced-bind-curnid (run
# 20261207-115429): mpol_misplaced() tests the folio's node against an MPOL_F_NUMA_BALANCING bind
# policy instead of the CPU's. numa-prepare-extra-ref (run 20261207-120606):
# migrate_misplaced_folio_prepare() takes a reference nothing puts: a folio a hinting fault tried
# to migrate can never move (its migration fails on the reference) and stays held after the
# unmap (the run's pages oracle counted 1104 pages left).
NUMA_BUGS = {
    "numa-rebuild-pte-from-pfn": {
        "numa/policy/vma-bind-remote": "32 page(s) written after clear_refs lost their soft-dirty bit across hinting"
                                       " faults and migration (first: page 0)"},
    "numa-misplaced-bind-curnid": {
        "numa/policy/vma-bind-remote": "32 page(s) moved to node 0, which the policy's nodes leave out"
                                       " (mpol_misplaced)"},
    "numa-prepare-extra-ref": {
        "numa/balance/thp/gup-fast": "NUMA balancing left 512 unpinned page(s) on node 1 in 4.0 s, the CPU's node is 0"
                                     " (numa_hint_faults +4, numa_pages_migrated +0)",
        "numa/balance/shmem/gup-fast": "NUMA balancing left 16 unpinned page(s) on node 1 in 4.0 s, the CPU's node is"
                                       " 0 (numa_hint_faults +96, numa_pages_migrated +0)",
        "numa/protnone/gup-ro": "32 page(s) still held after gup-ro (first: page 0): a leaked pin or reference",
        "race/numa-pin-vs-balancing": "16 page(s) still held after the race (first: page 16): a leaked pin or"
                                      " reference"},
}


@pytest.mark.parametrize("bug", sorted(NUMA_BUGS))
def test_the_numa_cells_catch_their_scratch_bugs(bug: str) -> None:
    _, got = _real_log(f"pin-matrix-{bug}-6.12-tcg.log")
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    assert failed == NUMA_BUGS[bug]
    assert sorted(got) == sorted(_c_table("numa_cells.h", "nb_quick") + ["race/numa-pin-vs-balancing"])
    assert all(s.status is Status.PASS for n, s in got.items() if n not in failed)


def test_the_dirty_cells_catch_a_writer_never_throttled() -> None:
    # tests/data/guest/dirty-bugs/bdp-async-test-inverted (run 20261207-071124): balance_dirty_pages()
    # tests BDP_ASYNC the wrong way round, so no synchronous writer sleeps. Every cell fails: on ext4
    # and vfat the range's dirty pages pass twice the limit (207-256 of 256, the writer never asleep),
    # on the raw device write(2) itself fails with EAGAIN (iomap_write_iter() passes the -EAGAIN on)
    failed = _dirty_failed("bdp-async-test-inverted")
    assert list(failed) == _dirty_cells()
    for name, why in failed.items():
        if name.startswith("dirty/blk/"):
            assert re.fullmatch(r"the writer failed after [01] pass\(es\): status 0x100 \(Resource temporarily"
                                r" unavailable\)", why), why
        else:
            m = re.fullmatch(r"the dirty limit did not hold: (\d+) page\(s\) of the range dirty at once \(cachestat\),"
                             r" limit 64; the writer asleep in balance_dirty_pages in 0 of \d+ samples", why)
            assert m and int(m.group(1)) > 128, why


def test_the_dirty_cells_catch_a_laptop_timer_never_armed() -> None:
    # tests/data/guest/dirty-bugs/laptop-timer-pending-only (run 20261207-120807-laptop-timer-pending-only):
    # laptop_io_completion() only pushes back a timer already pending, so no request arms it. The 6
    # laptop cells fail (the 8 pages written in laptop mode stay dirty), the other 18 pass
    failed = _dirty_failed("laptop-timer-pending-only")
    assert list(failed) == [n for n in _dirty_cells() if n.endswith("/laptop")]
    assert set(failed.values()) == {
        "8 page(s) of the range still dirty 8 s after a write under the background limit in laptop mode (laptop_mode"
        " 1 s, the timer armed by a read of the bdi): laptop mode's timer wrote nothing back"}


def test_the_dirty_cells_catch_a_throttled_writer_nobody_writes_back_for() -> None:
    # tests/data/guest/dirty-bugs/bdp-no-writeback-kick (run 20261207-121259): balance_dirty_pages()
    # no longer starts writeback for a writer it is about to throttle. Under a bdi's strict limit the
    # global count never reaches the background threshold: nothing writes back and the writer sleeps
    # until killed; in laptop mode only the timer does, a second at a time: too slow to finish, but
    # for blk/vmsplice/laptop, whose 3 passes took 2.25 s (it passes)
    failed = _dirty_failed("bdp-no-writeback-kick")
    assert list(failed) == [n for n in _dirty_cells() if n.endswith(("/strict", "/laptop"))
                            and n != "dirty/blk/vmsplice/laptop"]
    for why in failed.values():
        assert re.fullmatch(r"the writer did not finish 3 pass\(es\) of 1024 KiB in 5 s \([012] done\): killed while"
                            r" asleep in balance_dirty_pages_ratelimited_flags \(\d+ of \d+ samples in"
                            r" balance_dirty_pages: a throttled writer never woken\?\)", why), why


# -- zero-copy sends from a registered buffer given back in flight (guests/src/sendzc_cells.h) ------
def test_a_real_log_of_the_sendzc_cells() -> None:
    # ONLY=sendzc/,borrow/zc-uring on a healthy 6.12 (run 20261207-123056-baseline): the three
    # pass, each with data waiting in the socket when its event ran
    lines, got = _real_log("pin-matrix-sendzc-baseline-6.12-tcg.log")
    assert set(got) == {"sendzc/fixed/none", "sendzc/fixed/unregister", "sendzc/fixed/update", "borrow/zc-uring/anon"}
    assert all(s.status is Status.PASS for s in got.values())
    assert "# sendzc/fixed/update: 65536 bytes sent from a registered buffer, 63488 waited in the socket at the" \
           " update; notification COPIED, the old buffer's tag after it" in lines
    assert 'sz_names[NSZ] = {"none", "unregister", "update"}' in (GUESTS / "src" / "sendzc_cells.h").read_text()


def test_the_sendzc_cells_catch_the_node_charged_to_the_request() -> None:
    # patches/redteam/uring-sendzc-node-on-request (run 20261207-124939, the reviewed cells): the
    # buffers' pins are gone while the data still waits (earlier, run -123136: the data and the
    # tag CQE's order caught it)
    _, got = _real_log("pin-matrix-sendzc-uring-sendzc-node-on-request-6.12-tcg.log")
    assert {n: s.message for n, s in got.items() if s.status is Status.FAIL} == {
        "sendzc/fixed/unregister": "0 FOLL_PIN(s) left of the 16 the buffer held while 61440 byte(s) sent from it"
                                   " still waited in the socket",
        "sendzc/fixed/update": "16 FOLL_PIN(s) left of the 32 the buffers (old and new) held while 61440 byte(s) sent"
                               " from it still waited in the socket"}
    assert got["sendzc/fixed/none"].status is Status.PASS


def test_the_reviewed_share_sendzc_and_pressure_cells_pass_bare() -> None:
    # ONLY=share/,sendzc/,pressure/ after the review fixes (run 20261207-124805-baseline): every
    # share/ cell saw shared pages leave memory in reclaim, the pressure cells count the group's
    # LRU pages after their children
    lines, got = _real_log("pin-matrix-share-sendzc-pressure-review-baseline-6.12-tcg.log")
    assert all(s.status is Status.PASS for s in got.values()) and len(got) == 33
    assert sum(n.startswith("share/") for n in got) == 16 and sum(n.startswith("sendzc/") for n in got) == 3
    gone = [int(m.group(1)) for line in lines if (m := re.search(r"^# share/.*, (\d+) page mapping\(s\) left memory", line))]
    assert len(gone) == 16 and min(gone) > 0
    assert "# pressure/memory-high: 4096 bytes on the group's LRU lists after the child exited" in lines


# -- software kTLS over user pages (guests/src/ktls_cells.h) ---------------------------------------
def test_a_real_log_of_every_ktls_cell() -> None:
    # ONLY=ktls/ QUICK=0 on a healthy 6.12 with CONFIG_TLS (run 20261207-153158-baseline): all 99
    # cells pass; the zero-copy decrypt's premise (the refused record's clear text in the user's
    # pages) held on tls12 and tls13-nopad receives of whole records and on no other; the stalled
    # sends saw their source's pages held while a record waited
    lines, got = _real_log("pin-matrix-ktls-baseline-6.12-tcg.log")
    assert len(got) == 99 and all(n.startswith("ktls/") for n in got)
    assert all(s.status is Status.PASS for s in got.values())
    zc = {line.split(":")[0][2:] for line in lines if "the refused record decrypted in the buffer (zero-copy)" in line}
    assert zc == {f"ktls/recv/{v}/{m}/whole" for v in ("tls12", "tls13-nopad")
                  for m in ("anon", "thp", "shmem", "hugetlb", "ext4-shared")}
    held = [int(m.group(1)) for line in lines if (m := re.search(r"^# ktls/send/.*/stalled: .*, (\d+) page\(s\) of them held", line))]
    assert len(held) == 8 and min(held) > 0
    assert "# ktls/edge/tls13-nopad/control: 7000 data, 1000 handshake (EIO without a cmsg buffer), 9000 data;" \
           " TlsDecryptRetry +1" in lines
    assert "# ktls/edge/tls12/munmap: the waiting recvmsg returned EFAULT" in lines
    # the default set's cells are cells of the block
    assert set(_c_table("ktls_cells.h", "kt_quick")) <= set(got)


def test_the_default_ktls_cells_catch_four_scratch_bugs_in_tls_sw() -> None:
    # tests/data/guest/ktls-bugs, each against ONLY=ktls/ (the 17 default cells)
    default = set(_c_table("ktls_cells.h", "kt_quick"))
    # zc-decrypt-put-short (run 20261207-150218): every cell that decrypts into the user's pages
    # keeps pages; the copy-only ones pass
    _, got = _real_log("pin-matrix-ktls-zc-decrypt-put-short-6.12-tcg.log")
    assert set(got) == default
    failed = {n: s.message for n, s in got.items() if s.status is Status.FAIL}
    assert set(failed) == {"ktls/recv/tls12/anon/whole", "ktls/recv/tls12/anon/small", "ktls/recv/tls12/shmem/whole",
                           "ktls/recv/tls13-nopad/thp/whole", "ktls/edge/tls12/efault", "ktls/edge/tls12/split",
                           "ktls/edge/tls12/remap", "ktls/edge/tls13-nopad/control"}
    assert all(re.fullmatch(r"\d+ page\(s\) still held after the (receive|cell) \(first: page \d+\): a leaked pin or"
                            r" reference", why) for why in failed.values())
    assert got["ktls/recv/tls13/shmem/small"].status is Status.PASS
    # zc-decrypt-page-offset (run 20261207-150850): the bytes, then the program's own heap
    lines, got = _real_log("pin-matrix-ktls-zc-decrypt-page-offset-6.12-tcg.log")
    assert got["ktls/recv/tls12/anon/whole"].message == "byte 45056 of the memory, outside the receive buffer, changed to 0x3c"
    assert got["ktls/recv/tls12/anon/small"].message.startswith("stream byte 52771 ")
    assert "free(): invalid next size (normal)" in lines
    # splice-send-extra-ref (run 20261207-151317): the two splice-path sends
    _, got = _real_log("pin-matrix-ktls-splice-send-extra-ref-6.12-tcg.log")
    assert {n: s.message for n, s in got.items() if s.status is Status.FAIL} == {
        n: "14 page(s) still held after the send (first: page 0): a leaked pin or reference"
        for n in ("ktls/send/tls12/ext4-shared/sendfile", "ktls/send/tls13/shmem/vmsplice")}
    # setup-iter-error-keeps-pages (run 20261207-151841): only the fault part way
    _, got = _real_log("pin-matrix-ktls-setup-iter-error-keeps-pages-6.12-tcg.log")
    assert {n: s.message for n, s in got.items() if s.status is Status.FAIL} == {
        "ktls/edge/tls12/efault": "2 page(s) still held after the cell (first: page 2): a leaked pin or reference"}


# -- FUSE direct I/O (guests/src/fuse_cells.h): a raw /dev/fuse daemon of the cells' own ---------

FUSE_MEMS = ("anon", "thp", "shmem", "hugetlb", "ext4-shared")


def _fuse_quick() -> list[str]:
    """The default set's fuse cells, read from the C table (fuse_quick[])."""
    return _c_table("fuse_cells.h", "fuse_quick")


def test_a_real_log_with_every_fuse_cell() -> None:
    # ONLY=fuse/ QUICK=0 on a healthy 6.12 built with FUSE_FS (run 20261207-153857-baseline): all 60
    # cells pass, the split and should_dirty premises met where asked
    lines, got = _real_log("pin-matrix-fuse-all-baseline-6.12-tcg.log")
    shapes = ("read", "write", "preadv", "pwritev", "aio-read", "aio-write", "uring-read", "uring-write")
    assert sorted(got) == sorted([f"fuse/{s}/{m}" for s in shapes for m in FUSE_MEMS]
                                 + [f"fuse/err/{e}" for e in _c_table("fuse_cells.h", "fu_err_names")]
                                 + [f"fuse/dev-buf/{m}" for m in FUSE_MEMS] + ["fuse/splice/read", "fuse/splice/write"])
    assert all(s.status is Status.PASS for s in got.values())
    assert set(_fuse_quick()) <= set(got)
    for path in ("preadv", "aio-read", "uring-read"):  # writeback met the pinned pages while the daemon held them
        assert f"# fuse/{path}/ext4-shared: 129030 bytes in 2 request(s), 36 pin(s), the file written back under" \
               " each" in lines
    assert "# fuse/pwritev/thp: 4192260 bytes in 64 request(s), 1091 pin(s)" in lines
    assert "# fuse/err/aio-abort: 3 request(s), the call returned -1 Software caused connection abort, 72 pin(s)" \
        in lines
    assert "# fuse/err/kill-read: the reader killed while the daemon held its READ, the INTERRUPT answered" in lines


def test_a_real_log_of_the_default_fuse_cells() -> None:
    # ONLY=fuse/ as the default set runs it (run 20261207-154412-baseline, the final code): 26 cells, 1.6 s
    lines, got = _real_log("pin-matrix-fuse-baseline-6.12-tcg.log")
    assert sorted(got) == sorted(_fuse_quick()) and len(got) == 26
    assert all(s.status is Status.PASS for s in got.values())
    secs = [float(m.group(1)) for line in lines if (m := re.fullmatch(r"# fuse/\S+: ([0-9.]+) s", line))]
    assert len(secs) == 26 and sum(secs) < 5


def test_the_fuse_cells_catch_their_scratch_bugs() -> None:
    # tests/data/guest/fuse-bugs/* (one file of fs/fuse each), ONLY=fuse/ QUICK=0: each caught by a
    # default cell; every other cell passes
    want = {
        "release-no-dirty": {f"fuse/{p}/ext4-shared": "after the read into the MAP_SHARED memory: the file on disk"
                             " differs at byte 100" for p in ("read", "preadv", "aio-read", "uring-read")},
        "partial-pin-leak": {
            "fuse/err/hole-read": "the call returned 130972 (bytes), expected 163740 (what the daemon answered before"
                                  " it met the unmapped page)",
            "fuse/err/hole-write": "the call returned 131072 (bytes), expected 163740 (what the daemon answered before"
                                   " it met the unmapped page)"},
        "aio-err-no-release": {
            "fuse/err/aio-abort": "FOLL_PIN acquired - released is +72 after the call (acquired +72, released +0):"
                                  " pins leaked",
            "fuse/err/aio-eio-write": "FOLL_PIN acquired - released is +17 after the call (acquired +76, released"
                                      " +59): pins leaked"},
        "short-release-twice": {
            "fuse/err/aio-short": "FOLL_PIN acquired - released is -32 after the call (acquired +72, released +104):"
                                  " released more than acquired"},
        "splice-ref-user-pages": {
            "fuse/splice/write": "byte 1000 of what the daemon read from the pipe is 0x30, expected 0x6a (the caller's"
                                 " byte at the write, before the daemon overwrote the buffer: the pipe held the"
                                 " caller's page, not a copy)"},
        "copy-finish-no-put": {
            "fuse/dev-buf/anon": "17 page(s) still held after the daemon's reads (first: page 0): a leaked pin or"
                                 " reference",
            "fuse/dev-buf/thp": "512 page(s) still held after the daemon's reads (first: page 0): a leaked pin or"
                                " reference"},
    }
    quick = set(_fuse_quick())
    for bug, failed in want.items():
        assert (GUEST_LOGS / "fuse-bugs" / bug / "series").is_file()
        _, got = _real_log(f"pin-matrix-fuse-{bug}-6.12-tcg.log")
        assert len(got) == 60
        assert {n: s.message for n, s in got.items() if s.status is Status.FAIL} == failed, bug
        assert all(s.status is Status.PASS for n, s in got.items() if n not in failed), bug
        assert quick & set(failed), bug  # the default set catches it


def test_pin_matrix_requires_fuse_when_the_kernel_has_it() -> None:
    # a kernel built with FUSE_FS names fuse in KENTRY_REQUIRED: a missing /dev/fuse then fails the
    # cells (kentry_missing()), never skips them
    script = (GUESTS / "pin-matrix.sh").read_text()
    assert '[ "$(kconfig FUSE_FS)" = y ] && req+=" fuse"' in script
    assert 'kentry_missing(c, "fuse"' in (GUESTS / "src" / "fuse_cells.h").read_text()
    frag = kconfig.find_fragment("pinners", GUESTS.parent / "kconfigs")
    assert "CONFIG_FUSE_FS" in {o.name for o in frag.options if o.value == "y"}


# -- 32-bit (compat) system calls (guests/src/compat32.c, compat_cells.h, compat_list.h) ---------

def _compat_list() -> list[tuple[str, bool]]:
    """compat_list.h's cells: (name, in the default set)"""
    text = (GUESTS / "src" / "compat_list.h").read_text()
    return [(f"compat/{n}", q == "1") for n, q in re.findall(r'^C32_CELL\("([^"]+)", \w+, ([01])\)', text, re.M)]


def test_a_real_log_of_the_compat_cells() -> None:
    # ONLY=compat/ QUICK=0 on a healthy 6.12 (run 20261207-145517-baseline): every cell of
    # compat_list.h passes, each saying what it checked; the premises (thp, hugetlb) met
    lines, got = _real_log("pin-matrix-compat-baseline-6.12-tcg.log")
    cells = _compat_list()
    assert list(got) == [n for n, _ in cells] and len(got) == 35
    assert all(s.status is Status.PASS for s in got.values())
    assert 8 <= sum(q for _, q in cells) <= 20  # the default set's share: a few seconds
    assert "# compat/iov/neg: 60 calls with a length negative as a 32-bit value (one entry, and entry 9 of 12):" \
           " EINVAL each, nothing moved" in lines
    assert "# compat/uring/register/anon: 6 compat iovecs registered over anon (10 FOLL_PINs held for 10 pages)," \
           " fixed I/O through each, two replaced by an update: byte exact, pins back" in lines
    assert "# compat/msg/zerocopy: MSG_ZEROCOPY completion of send 0 (copied: the receiver is local)" in lines
    assert "pin_matrix: exit 0 after 8s" in lines


def test_the_compat_program_is_built_32_bit_and_skips_without_a_toolchain() -> None:
    script = (GUESTS / "pin-matrix.sh").read_text()
    assert "build_c compat32 compat32.c -- -m32" in script and 'args+=(-3 "$bin32")' in script
    src = (GUESTS / "src" / "compat32.c").read_text()
    assert "#include <liburing.h>" not in src and '_Static_assert(sizeof(long) == 4' in src
    cells = (GUESTS / "src" / "compat_cells.h").read_text()
    assert "gcc-multilib" in cells and "COMPAT_REQUIRED" in cells


def _compat_failed(bug: str) -> dict[str, str]:
    """The failing cells of the default compat/ cells' run on a scratch bug of
    tests/data/guest/compat-bugs (ONLY=compat/, QUICK=1: the 16 default cells)"""
    _, got = _real_log(f"pin-matrix-compat-{bug}-6.12-tcg.log")
    assert set(got) == {n for n, q in _compat_list() if q}
    assert all(s.status in (Status.PASS, Status.FAIL) for s in got.values())
    return {n: s.message for n, s in got.items() if s.status is Status.FAIL}


def test_the_compat_cells_catch_a_compat_ring_registering_buffers_at_native_strides() -> None:
    # compat-bugs/uring-register-compat-stride (run 20261207-152041): io_sqe_buffers_register()
    # steps through a compat ring's iovec array by 16 bytes: buffer 1 comes from entry 2, the
    # last from past the array
    assert _compat_failed("uring-register-compat-stride") == {
        "compat/iov/neg": "IORING_REGISTER_BUFFERS of 12 iovec(s), entry 9 2147483648 bytes (negative as a 32-bit"
                          " length): Bad address, not EINVAL",
        "compat/uring/register/anon": "IORING_REGISTER_BUFFERS of 6 compat iovecs: Bad address",
        "compat/uring/register/bad": "IORING_REGISTER_BUFFERS whose entry 4 of 6 is negative as a 32-bit length:"
                                     " Bad address, not Invalid argument"}


def test_the_compat_cells_catch_remote_iovecs_read_as_native() -> None:
    # compat-bugs/pvm-remote-native-iovecs (run 20261207-152418): process_vm_rw() reads a 32-bit
    # caller's remote iovec array as 64-bit iovecs
    assert _compat_failed("pvm-remote-native-iovecs") == {
        "compat/iov/neg": "process_vm_writev (remote) of 1 iovec(s), entry 0 2147483648 bytes (negative as a 32-bit"
                          " length): Bad address, not EINVAL",
        "compat/pvm/anon": "process_vm_readv of 40 local and 33 remote iovecs (17124 bytes): -1 (Invalid argument)",
        "compat/pvm/bad": "process_vm_readv whose remote entry 8 of 12 is unmapped (3261 bytes before it): -1"
                          " (Invalid argument)"}


def test_the_compat_cells_catch_a_poke_of_a_native_word() -> None:
    # compat-bugs/ptrace-compat-poke-native (run 20261207-153011): compat_ptrace_request() pokes
    # through generic_ptrace_pokedata(): 4 zero bytes after each 4-byte word
    assert _compat_failed("ptrace-compat-poke-native") == {
        c: "the tracee's byte +8 after the pokes is 0x00, a 64-bit tracer's pokes leave 0x9b"
        for c in ("compat/ptrace/anon", "compat/ptrace/hole")}


def test_the_compat_cells_catch_a_single_compat_iovec_read_as_native() -> None:
    # compat-bugs/iov-compat-ubuf-native (run 20261207-153716): __import_iovec_ubuf() reads a
    # 32-bit task's one iovec as a 64-bit one; every call of two or more iovecs still works
    assert _compat_failed("iov-compat-ubuf-native") == {
        "compat/iov/neg": "readv of 1 iovec(s), entry 0 2147483648 bytes (negative as a 32-bit length): Bad address,"
                          " not EINVAL",
        "compat/iov/clamp": "writev of 1 iovec(s) summing to 0x7fffffff bytes to /dev/null returned -1 (Bad address),"
                            " a 64-bit call 0x7ffff000",
        "compat/buffered/anon": "pwritev2 of 1 iovec(s), 22028 bytes: -1 (Invalid argument)"}


def test_the_compat_cells_catch_a_compat_length_left_unchecked() -> None:
    # compat-bugs/iov-compat-len-unchecked (run 20261207-153442): copy_compat_iovec_from_user()
    # without its len < 0 test: a single entry of 0x80000000 is clamped and read into (65533
    # bytes into a 64 KiB buffer); io_uring's registration says EFAULT for it
    assert _compat_failed("iov-compat-len-unchecked") == {
        "compat/iov/neg": "readv of 1 iovec(s), entry 0 2147483648 bytes (negative as a 32-bit length): it returned"
                          " 65533, not EINVAL",
        "compat/uring/register/bad": "IORING_REGISTER_BUFFERS whose entry 4 of 6 is negative as a 32-bit length:"
                                     " Bad address, not Invalid argument"}


# -- stale TLB entries after an mm operation returns (guests/src/tlb_cells.h) ---------------------
# every memory x op cell in the default set; tlb/shmem/mremap-punch in the deep set only
def _tlb_cells() -> set[str]:
    """tlb/<memory>/<op> of tlb_cells.h's tl_list, through its two enums and name tables."""
    text = (GUESTS / "src" / "tlb_cells.h").read_text()
    mems, ops = _c_table("tlb_cells.h", "tl_mem_names"), _c_table("tlb_cells.h", "tl_op_names")
    enum = {e: i for decl in ("enum tl_mem {", "enum tl_op {")
            for i, e in enumerate(re.findall(r"\w+", text.split(decl, 1)[1].split("}", 1)[0]))}
    pairs = re.findall(r"\{(TL_\w+), (TO_\w+)\}", text.split("tl_list[] = {", 1)[1].split("};", 1)[0])
    return {f"tlb/{mems[enum[m]]}/{ops[enum[o]]}" for m, o in pairs}


def test_a_real_log_of_the_tlb_cells() -> None:
    # ONLY=tlb/anon,tlb/thp,tlb/shmem,tlb/hugetlb QUICK=0 on a healthy 6.12 (run
    # 20261207-145337-baseline): all 27 pass, and in every memory x op cell the writer on CPU 1
    # ran across the call (its premise) and every owed fault came
    lines, got = _real_log("pin-matrix-tlb-baseline-6.12-tcg.log")
    assert set(got) == _tlb_cells() | {"tlb/shmem/mremap-punch"} and len(got) == 27
    assert all(s.status is Status.PASS for s in got.values())
    said = {m[1]: (int(m[2]), int(m[3]), int(m[4])) for m in (re.match(
        r"# (tlb/\S+): (\d+) round\(s\), the (?:writer|reader) on CPU 1 ran across the call in (\d+),"
        r" (\d+) fault\(s\) where owed", line) for line in lines) if m}
    assert set(said) == _tlb_cells()
    assert all(live > 0 for _, live, _ in said.values())
    owed = {n for n in said if n.rsplit("/", 1)[1] in ("ro", "prot-none", "prot-none-read", "munmap", "mremap",
                                                        "uffd-wp")}
    assert all(said[n][2] == said[n][0] for n in owed) and len(owed) == 15
    assert "# tlb/shmem/mremap-punch: 28052 moves in 3.0 s, 20289 punches, 8918 writes landed, 11371 faulted" \
           " (the mapping elsewhere)" in lines


def test_the_default_tlb_cells_fit_their_budget() -> None:
    # the default list (QUICK=1) with the final cells (run 20261207-152703-baseline): the 26
    # memory x op cells, not mremap-punch, all pass in well under the block's 5 s
    lines, got = _real_log("pin-matrix-tlb-default-baseline-6.12-tcg.log")
    assert set(got) == _tlb_cells() and all(s.status is Status.PASS for s in got.values())
    secs = [float(m[1]) for m in (re.match(r"# tlb/\S+: ([0-9.]+) s$", line) for line in lines) if m]
    assert len(secs) == 26 and sum(secs) < 5


@pytest.mark.parametrize("bug, failed", [
    # tests/data/guest/tlb-bugs/<bug>, the same ONLY, QUICK=0 (runs 20261207-145738, -150115, -150716)
    ("mprotect-flush-empty-range", {"tlb/anon/ro", "tlb/shmem/ro", "tlb/anon/prot-none", "tlb/anon/prot-none-read",
                                    "tlb/anon/uffd-wp"}),
    ("madvise-free-no-flush", {"tlb/anon/free"}),
    ("thp-wrprotect-no-flush", {"tlb/thp/ro", "tlb/thp/prot-none", "tlb/thp/uffd-wp"}),
    # the same ONLY (run 20261207-152236), the cells reading the page through /proc/self/mem (an
    # earlier run, -151230, read it through CPU 0's own stale entry: the cell passed, and only the
    # page-poison check saw the writes into the freed THP)
    ("thp-migration-entry-no-flush", {"tlb/thp/migrate"}),
    # fs/proc/task_mmu.c (run 20261207-153807): the PTE walk's write-protect is left in the TLBs;
    # a THP's (clear_soft_dirty_pmd(): pmdp_invalidate() flushes) is not
    ("softdirty-clear-no-flush", {"tlb/anon/soft-dirty"}),
])
def test_the_tlb_cells_fail_on_a_missing_flush(bug: str, failed: set[str]) -> None:
    _, got = _real_log(f"pin-matrix-tlb-{bug}-6.12-tcg.log")
    assert {n for n, s in got.items() if s.status is Status.FAIL} == failed
    assert all(s.status is Status.PASS for n, s in got.items() if n not in failed) and len(got) == 27
    # what each says (the mprotect run is older than "(a stale TLB entry)" on the no-fault message)
    said = {"ro": "past mprotect(PROT_READ)'s return", "prot-none": "past mprotect(PROT_NONE)'s return",
            "prot-none-read": "the reader went on", "uffd-wp": "no write-protect fault in 2 s after UFFDIO_WRITEPROTECT",
            "free": "the page reads #0 (zeros, discarded as clean)",
            "migrate": "its writes go to another page (the old one, a stale TLB entry)",
            "soft-dirty": "its page is not soft-dirty (pagemap): no write faulted after the write-protect"}
    assert all(said[n.rsplit("/", 1)[1]] in got[n].message for n in failed)


# -- device-private memory against pins (guests/src/hmm_cells.h, lib/test_hmm.c) --------------------

def _hmm_cells() -> set[str]:
    """hmm/... of hmm_cells.h's hm_table, through its name tables (every cell in the default set)."""
    text = (GUESTS / "src" / "hmm_cells.h").read_text()
    rows = re.findall(r'\{"(hmm/[^"]*)", \w+, (\w+),', text.split("hm_table[] = {", 1)[1].split("};", 1)[0])
    names = {t: re.findall(r'"([^"]+)"', text.split(f"{t}[", 1)[1].split("{", 1)[1].split("};", 1)[0])
             for _, t in rows}
    return {prefix + name for prefix, table in rows for name in names[table]}


def test_a_real_log_of_the_hmm_cells() -> None:
    # ONLY=hmm/, the default list (every cell), on a healthy 6.12 with TEST_HMM + DEVICE_PRIVATE
    # (run 20261207-174004-baseline): all 25 pass in under 5 s, each premise met
    lines, got = _real_log("pin-matrix-hmm-baseline-6.12-tcg.log")
    assert set(got) == _hmm_cells() and len(got) == 25
    assert all(s.status is Status.PASS for s in got.values())
    secs = [float(m[1]) for m in (re.match(r"# hmm/\S+: ([0-9.]+) s$", line) for line in lines) if m]
    assert len(secs) == 25 and sum(secs) < 5
    for pin in ("gup-fast", "gup-slow", "uring", "vmsplice"):  # pinned pages stayed, the witness moved
        assert f"# hmm/{pin}/migrate-to-dev: 8 pinned page(s) stayed, 8 witness page(s) moved and came back," \
               " data both ways" in lines
    assert "# hmm/free/munmap: free pages +1026 after munmap of 1024 device pages" in lines
    assert "# hmm/thp/pinned: pinned: none moved; unpinned: 512 pages moved to the device (split) and back" in lines


def test_the_hmm_cells_catch_their_scratch_bugs() -> None:
    # tests/data/guest/hmm-bugs/<bug>, ONLY=hmm/ (runs 20261207-175550, -180235, -181322)
    _, got = _real_log("pin-matrix-hmm-devpriv-fault-ref-leak-6.12-tcg.log")
    assert {n: s.message for n, s in got.items() if s.status is Status.FAIL} == {
        "hmm/free/fault": "free pages fell by 1024 after 1024 device pages were faulted back (each a new system"
                          " page, its backing page freed: about 0 expected): device pages not freed"}
    assert len(got) == 25
    # copy_nonpresent_pte() without the child's reference: the kernel dies in the fork cell
    # (VM_BUG_ON_PAGE(page_ref_count(page) == 0) in unmap_page_range() at exit), no verdict after
    lines, got = _real_log("pin-matrix-hmm-fork-devpriv-no-ref-6.12-tcg.log")
    assert "# pin_matrix: stopped by a signal in cell hmm/fork/dev" in lines
    assert all(s.status is Status.PASS for s in got.values()) and "hmm/fork/dev" not in got and len(got) == 12
    # __migrate_device_pages() letting page-cache folios go (run 20261207-181322): both file cells
    _, got = _real_log("pin-matrix-hmm-migrate-device-file-folio-6.12-tcg.log")
    assert {n: s.message for n, s in got.items() if s.status is Status.FAIL} == {
        "hmm/file/shmem": "a memfd's pages after MIGRATE_TO_DEV: 16 of 16 page(s) on the device, want 0 (first page"
                          " there: 0)",
        "hmm/file/ext4-private": "the page-cache pages of a MAP_PRIVATE file: 8 of 8 page(s) on the device, want 0"
                                 " (first page there: 0)"}
    assert len(got) == 25
    for bug in ("devpriv-fault-ref-leak", "fork-devpriv-no-ref", "migrate-check-page-extra-ref",
                "migrate-device-file-folio"):
        assert (GUEST_LOGS / "hmm-bugs" / bug / "series").is_file()


def test_a_check_page_miscount_alone_migrates_no_referenced_page() -> None:
    # hmm-bugs/migrate-check-page-extra-ref (run 20261207-174842): migrate_vma_check_page() lets one
    # reference more through, yet folio_migrate_mapping()'s own count still refuses the vmspliced
    # pages: every cell passes (not a miss: the kernel's outcome is right)
    lines, got = _real_log("pin-matrix-hmm-migrate-check-page-extra-ref-6.12-tcg.log")
    assert set(got) == _hmm_cells() and all(s.status is Status.PASS for s in got.values())
    assert "# hmm/vmsplice/migrate-to-dev: 8 pinned page(s) stayed, 8 witness page(s) moved and came back," \
           " data both ways" in lines


def test_pin_matrix_requires_hmm_when_the_kernel_has_it() -> None:
    # a kernel built with TEST_HMM names hmm in KENTRY_REQUIRED: a missing /dev/hmm_dmirror0 then
    # fails the cells (kentry_missing()), never skips them
    script = (GUESTS / "pin-matrix.sh").read_text()
    assert '[ "$(kconfig TEST_HMM)" = y ] && req+=" hmm"' in script
    assert 'kentry_missing(c, "hmm"' in (GUESTS / "src" / "hmm_cells.h").read_text()
    frag = kconfig.find_fragment("pinners", GUESTS.parent / "kconfigs")
    assert {"CONFIG_TEST_HMM", "CONFIG_DEVICE_PRIVATE"} <= {o.name for o in frag.options if o.value == "y"}


# -- V4L2 USERPTR buffers on vivid (guests/src/v4l2_cells.h) ---------------------------------------

def _v4l2_cells() -> set[str]:
    """Every v4l2/ cell: its memories' event tables in v4l2_cells.h."""
    tables = {"anon": "vl_anon_ev", "thp": "vl_thp_ev", "shmem": "vl_shmem_ev", "hugetlb": "vl_thp_ev",
              "ext4-shared": "vl_ext4_ev"}
    return {f"v4l2/{m}/{e}" for m, t in tables.items() for e in _c_table("v4l2_cells.h", t)}


def test_a_real_log_of_the_default_v4l2_cells() -> None:
    # ONLY=v4l2/ (QUICK=1: the 14 default cells) with --append movablecore=256M, as the default
    # set boots, on a healthy 6.12 with CONFIG_VIDEO_VIVID (run 20261207-181434-baseline): every
    # cell passes, each within a third of a second; the same userptr re-queued kept its old pins
    lines, got = _real_log("pin-matrix-v4l2-default-baseline-6.12-tcg.log")
    assert set(got) == set(_c_table("v4l2_cells.h", "v4l2_quick")) and set(got) <= _v4l2_cells()
    assert all(s.status is Status.PASS for s in got.values())
    secs = [float(m[1]) for m in (re.match(r"# v4l2/\S+: ([0-9.]+) s$", line) for line in lines) if m]
    assert len(secs) == 14 and sum(secs) < 5
    assert "# v4l2/anon/dontneed: the same userptrs re-queued after dontneed: FOLL_PIN acquired +0 (the old pins" \
           " kept)" in lines
    assert "# v4l2/anon/free: after the unpin, MADV_PAGEOUT: pglazyfreed +16, 16 of 16 witness pages discarded" in lines


def test_a_real_log_of_every_v4l2_cell() -> None:
    # ONLY=v4l2/ QUICK=0 on a healthy 6.12 (run 20261207-181704-baseline): all 21 cells pass; the
    # refusals took no pin or gave back what they took; pageout and migrate moved the witness only
    lines, got = _real_log("pin-matrix-v4l2-all-baseline-6.12-tcg.log")
    assert set(got) == _v4l2_cells() and all(s.status is Status.PASS for s in got.values())
    assert "# v4l2/anon/hole: QBUF with an unmapped page in the middle: Bad address, FOLL_PIN acquired +37, all" \
           " released" in lines
    assert "# v4l2/anon/small: QBUF one page shorter than the frame: Invalid argument, FOLL_PIN acquired +0, all" \
           " released" in lines
    for ev in ("pageout", "migrate"):
        assert f"# v4l2/anon/{ev}: {ev}: 16 of 16 witness pages went, 0 of 225 pinned pages moved" in lines


@pytest.mark.parametrize("bug, failed, why", [
    # tests/data/guest/v4l2-bugs/<bug>, ONLY=v4l2/ QUICK=0 (every cell); put_vaddr_frames() one
    # page short (run 20261207-174957): every cell that pinned, each on the counters (the two
    # refusals before any pin pass)
    ("frame-vector-unpin-short", _v4l2_cells() - {"v4l2/ext4-shared/capture", "v4l2/anon/small"},
     r"FOLL_PIN acquired - released is \+3 after (REQBUFS\(0\) of both queues|closing both fds while streaming)"
     r" \(acquired \+225, released \+222\): pins leaked|both capture indexes re-queued with new userptrs: FOLL_PIN"
     r" acquired \+150, released \+148, want \+150 each \(the old pages unpinned, the new pinned\)|QBUF of a capture"
     r" buffer with an unmapped page in the middle failed \(Bad address\) and left \+1 pins \(acquired \+37\)"),
    # vb2_vmalloc_put_userptr() no longer dirties capture pages (run 20261207-175953): the
    # MADV_FREE'd capture buffers are discarded by reclaim after the unpin
    ("vmalloc-userptr-no-dirty", {"v4l2/anon/free"},
     r"capture buffer 0 lost its frame to reclaim after the unpin \(byte 0 reads 0\): the pages written through the"
     r" pin were not dirtied, reclaim discarded them as clean lazyfree"),
    # __prepare_userptr() keeps the pins of a changed userptr of the same length (run 20261207-181015)
    ("vb2-userptr-stale-pin", {"v4l2/anon/dontneed", "v4l2/anon/munmap", "v4l2/shmem/dontneed"},
     r"both capture indexes re-queued with new userptrs: FOLL_PIN acquired \+0, released \+0, want \+150 each"
     r" \(the old pages unpinned, the new pinned\)"),
])
def test_the_v4l2_cells_catch_three_scratch_bugs_in_videobuf2(bug: str, failed: set[str], why: str) -> None:
    assert (GUEST_LOGS / "v4l2-bugs" / bug / "series").is_file()
    _, got = _real_log(f"pin-matrix-v4l2-{bug}-6.12-tcg.log")
    assert set(got) == _v4l2_cells()
    assert {n for n, s in got.items() if s.status is Status.FAIL} == failed
    assert all(re.fullmatch(why, got[n].message) for n in failed)
    assert all(s.status is Status.PASS for n, s in got.items() if n not in failed)


# -- memory failure and soft offline (guests/src/hwpoison_cells.h) ----------------------------------

def _hw_table(path: str, table: str) -> list[str]:
    """The strings or words of a sized C table `TABLE[N] = {...}` in guests/src/PATH."""
    body = (GUESTS / "src" / path).read_text().split(f"{table}[", 1)[1].split("= {", 1)[1].split("}", 1)[0]
    return re.findall(r'"([^"]+)"', body) or re.findall(r"\w+", body)


def _hwpoison_cells() -> tuple[set[str], set[str]]:
    """Every hwpoison/ cell (built at run time from the name tables) and the default set's: all
    but the small pages' none/soft-offline, which skip under page_owner=on."""
    enum = re.findall(r"\w+", (GUESTS / "src" / "pin_matrix.c").read_text().split("enum mem {", 1)[1].split("}", 1)[0])
    mem_names = _hw_table("pin_matrix.c", "mem_names")
    kinds = [mem_names[enum.index(k)] for k in _hw_table("hwpoison_cells.h", "hm_kinds")]
    pins, entries = _hw_table("hwpoison_cells.h", "hp_names"), _hw_table("hwpoison_cells.h", "hwe_names")
    off = {f"hwpoison/{m}/{p}/soft-offline" for m in kinds for p in pins if (m, p) != ("ext4-shared", "uring")}
    rest = ({f"hwpoison/anon/{p}/poison" for p in pins} | {f"hwpoison/anon/{e}/pin-over-poison" for e in entries}
            | {"hwpoison/anon/fork/poison", "hwpoison/hugetlb/none/poison"})
    skip = {f"hwpoison/{m}/none/soft-offline" for m in kinds if m != "hugetlb"}
    return off | rest, (off | rest) - skip


def test_a_real_log_of_the_hwpoison_cells() -> None:
    # ONLY=hwpoison/ QUICK=0 on a healthy 6.12 (run 20261207-180054-baseline): every cell passes
    # but the four small pages' none/soft-offline, which skip under page_owner=on (6.12 counts a
    # soft-offlined small page's free twice once it is unpoisoned); what 6.12 returned is said
    lines, got = _real_log("pin-matrix-hwpoison-baseline-6.12-tcg.log")
    every, default = _hwpoison_cells()
    assert set(got) == every and len(every) == 40 and len(default) == 36
    assert {n for n, s in got.items() if s.status is Status.PASS} == default
    assert all(got[n].status is Status.SKIP and "page_owner=on" in got[n].message for n in every - default)
    for said in ("# hwpoison/anon/uring/pin-over-poison: io_uring_register_buffers: Bad address",
                 "# hwpoison/anon/gup-fast/pin-over-poison: PIN_LONGTERM_TEST_START: Bad address",
                 "# hwpoison/anon/pvm-readv/pin-over-poison: pvm-readv: 32768 (bytes)",
                 "# hwpoison/anon/vmsplice/pin-over-poison: vmsplice: 32768 (bytes)",
                 "# hwpoison/anon/dio-ext4-write/pin-over-poison: O_DIRECT write: -1 (Bad address)",
                 "# hwpoison/anon/populate-write/pin-over-poison: MADV_POPULATE_WRITE: Memory page has hardware error"):
        assert said in lines
    refused = [n for n in default if n.endswith("/soft-offline") and "/none/" not in n]
    assert all(any(line.startswith(f"# {n}: soft offline refused: EBUSY") for line in lines) for n in refused)
    assert any(line.startswith("# hwpoison/hugetlb/uring/soft-offline: soft offline refused: EBUSY, pinned page kept")
               and "witness moved" in line for line in lines)
    secs = {m[1]: float(m[2]) for m in (re.match(r"# (hwpoison/\S+): ([0-9.]+) s$", line) for line in lines) if m}
    assert set(secs) == every and sum(secs[n] for n in default) < 5


@pytest.mark.parametrize("bug, failed, said", [
    # tests/data/guest/hwpoison-bugs/<bug>, ONLY=hwpoison/ QUICK=0 (runs 20261207-181524, -181123, -181225, -182742)
    # soft_offline_in_use_page() without putback_movable_pages(): every pinned page whose migration
    # failed stays isolated (the THPs fail at the split, before it: they pass)
    ("soft-offline-no-putback",
     {f"hwpoison/{m}/{p}/soft-offline" for m in ("anon", "shmem", "ext4-shared") for p in ("gup-fast", "gup-slow", "uring",
                                                                                         "vmsplice")
      if (m, p) != ("ext4-shared", "uring")} | {f"hwpoison/hugetlb/{p}/soft-offline" for p in ("gup-fast", "gup-slow",
                                                                                           "uring", "vmsplice")},
     ("1 page(s) still held after the unpin (first: page 1)", "1 hugetlb page(s) not free after the cell")),
    # hwpoison_user_mappings() leaves maybe-DMA-pinned folios mapped: no SIGBUS (vmsplice's FOLL_GET
    # page is not maybe-pinned: unmapped as before)
    ("hwpoison-skip-pinned-unmap", {f"hwpoison/anon/{p}/poison" for p in ("gup-fast", "gup-slow", "uring")},
     ("no SIGBUS, want SIGBUS BUS_MCEERR_AR at once",)),
    # unpoison_memory() without its folio_ref_count() > 1 test
    ("unpoison-held-page", {f"hwpoison/anon/{p}/poison" for p in ("gup-fast", "gup-slow", "uring", "vmsplice")},
     ("was accepted while the",)),
    # mm/migrate.c __migrate_folio() refusing only fewer references than expected (run
    # 20261207-182742): vmsplice's FOLL_GET pages migrate (a hugetlb one too: EBUSY, yet moved)
    ("migrate-folio-extra-refs", {f"hwpoison/{m}/vmsplice/soft-offline" for m in ("anon", "hugetlb")},
     ("soft offline of a page a vmsplice pin holds: done, PFN", "soft offline of a page a vmsplice pin holds: Device or"
      " resource busy, PFN 0x7001 -> 0x7801")),
])
def test_the_hwpoison_cells_catch_their_scratch_bugs(bug: str, failed: set[str], said: tuple[str, ...]) -> None:
    _, got = _real_log(f"pin-matrix-hwpoison-{bug}-6.12-tcg.log")
    every, default = _hwpoison_cells()
    assert set(got) == every and {n for n, s in got.items() if s.status is Status.FAIL} == failed
    assert {n for n, s in got.items() if s.status is Status.PASS} == default - failed
    assert all(any(s in got[n].message for s in said) for n in failed)
