"""The pages oracle's judge (bench/run/leaks.py): page_owner support, the counters, the page count,
and how a pages case reads. The guest's readings here are written by hand in the format the
runner writes; the page_owner text itself comes from a real boot (tests/data/page_owner/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.run import leaks
from bench.run.page_owner import Record
from bench.run.result import Status

ON = "CONFIG_PAGE_OWNER=y\n"
MEM = {"MemTotal": 2_000_000, "MemFree": 1_500_000, "HugePages_Total": 0, "HugePages_Free": 0,
       "AnonHugePages": 0, "ShmemHugePages": 0, "FileHugePages": 0}


def guest(tmp: Path, cmdline: str = "console=ttyS0 page_owner=on", state: str = "present") -> Path:
    (tmp / "cmdline").write_text(cmdline + "\n")
    (tmp / "page_owner.state").write_text(state + "\n")
    return tmp


@pytest.mark.parametrize("config, cmdline, state, ok, broken, says", [
    (ON, "page_owner=on", "present", True, False, ""),
    ("# CONFIG_PAGE_OWNER is not set\n", "page_owner=on", "missing", False, False, "unsupported: the kernel was built"),
    (ON, "quiet", "missing", False, False, "off on the kernel command line (no page_owner=on)"),
    (ON, "page_owner=on page_owner=off", "missing", False, False, "page_owner=off"),  # the last word wins
    (ON, "page_owner=on", "missing", False, True, "has no /sys/kernel/debug/page_owner"),
])
def test_support_says_whose_doing_a_missing_page_owner_is(tmp_path: Path, config: str, cmdline: str, state: str,
                                                          ok: bool, broken: bool, says: str) -> None:
    sup = leaks.support(guest(tmp_path, cmdline, state), config)
    assert (sup.ok, sup.broken) == (ok, broken)
    assert says in sup.why


def test_counters_back_to_their_start_pass() -> None:
    assert leaks.counter_problems(MEM, {**MEM, "MemFree": MEM["MemFree"] - 30_000}) == []


@pytest.mark.parametrize("end, says", [
    ({"MemFree": 1_400_000}, "MemFree 97 MiB lower than before it (tolerance 58 MiB)"),  # 3% of MemTotal
    ({"HugePages_Total": 3, "HugePages_Free": 1}, "2 hugetlb page(s) still in use"),
    ({"AnonHugePages": 2048}, "AnonHugePages 0 -> 2048 kB"),
    ({"ShmemHugePages": 2048}, "ShmemHugePages 0 -> 2048 kB"),
])
def test_counters_that_stay_up_fail(end: dict[str, int], says: str) -> None:
    problems = leaks.counter_problems(MEM, {**MEM, **end}, leaks.Tolerance(memfree_kb=32 * 1024, memfree_share=0.03))
    assert len(problems) == 1 and problems[0].startswith(says), problems


def test_a_bigger_hugetlb_pool_is_not_a_leak() -> None:
    """A workload that grew the pool and left it free: nothing in use, nothing leaked."""
    assert leaks.counter_problems(MEM, {**MEM, "HugePages_Total": 8, "HugePages_Free": 8}) == []


def rec(tgid: int, order: int = 0, gfp: str = "GFP_HIGHUSER_MOVABLE|__GFP_COMP",
        stack: tuple[str, ...] = ("post_alloc_hook+0x1/0x2", "iter_to_pipe+0x9f/0x250")) -> Record:
    return Record(order, tuple(gfp.split("|")), tgid, tgid, "cow", 0x1000, "Movable", "uptodate|lru", stack)


def test_only_user_pages_of_exited_processes_count() -> None:
    from bench.run.page_owner import Dump
    records = (rec(150), rec(151, order=9), rec(152, gfp="GFP_KERNEL|__GFP_ZERO"),  # a page table: not user memory
               rec(153))
    left = leaks.leaked(Dump(records, 4, 4, 4), alive={153})
    assert [r.tgid for r in left] == [150, 151]
    assert sum(r.pages for r in left) == 513


def test_stacks_are_grouped_and_counted_most_pages_first() -> None:
    other = ("post_alloc_hook+0x1/0x2", "__alloc_pages_noprof+0x1/0x2", "shmem_alloc_folio+0x1/0x2")
    text = leaks.stacks([rec(150), rec(151), rec(152, order=2, stack=other)])
    first, *rest = text.splitlines()
    assert first.startswith("4 page(s) allocated by cow (pid 152"), text
    assert "    shmem_alloc_folio+0x1/0x2" in rest and "    __alloc_pages_noprof+0x1/0x2" not in rest
    assert any(ln.startswith("2 page(s) allocated by cow (pid 150") for ln in rest)
    assert "    iter_to_pipe+0x9f/0x250" in rest


def readings(tmp: Path, name: str, start: dict[str, int], end: dict[str, int], owner: str = "",
             alive: str = "") -> None:
    (tmp / f"{name}.pids").write_text("100\n200\n")
    for which, mem in (("start", start), ("end", end)):
        (tmp / f"{name}.meminfo.{which}").write_text("".join(f"{k}: {v} kB\n" for k, v in mem.items()))
    (tmp / f"{name}.page_owner").write_text(owner)
    (tmp / f"{name}.alive").write_text(alive)


def test_a_workload_that_never_ended_has_no_pages_case(tmp_path: Path) -> None:
    (tmp_path / "w.pids").write_text("100\n")  # the runner never got to its end reading
    assert leaks.pages_cases(["w"], guest(tmp_path), config(tmp_path, ON)) == []


def test_unsupported_page_owner_skips_but_still_fails_on_the_counters(tmp_path: Path) -> None:
    g = guest(tmp_path, "quiet", "missing")
    readings(g, "a", MEM, MEM)
    readings(g, "b", MEM, {**MEM, "HugePages_Total": 1})
    a, b = leaks.pages_cases(["a", "b"], g, config(tmp_path, ""))
    assert a.status is Status.SKIP and a.message.startswith("pages not counted: unsupported"), a.message
    assert b.status is Status.FAIL and "1 hugetlb page(s) still in use" in b.message
    assert "page count not checked: unsupported" in b.output


def config(tmp: Path, text: str) -> Path:
    (tmp / ".config").write_text(text)
    return tmp / ".config"
