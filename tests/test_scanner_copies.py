"""A doubled console (bench/report/copies.py) against inputs that commit 3f60a8f's tests left out:
user space's lines on the serial line between two copies, a console of one program line over
and over, and the kernel's own repeated lines in a console that is not doubled.

The kernel lines are real ones from tests/data/console (each test names its file); the program
line is the real user space output of arm64-bad-rss-counter-bad-page-map-lost-bracket-doubled-5.2.log.
"""

from __future__ import annotations

import tracemalloc

import pytest

from bench.report.copies import doubled
from bench.report.scanner import scan
from test_scanner import CONSOLE, _shape, _twice, load

# perftest's own output in the mailed 5.2 log: a program writing the serial line, no printk stamp
PROGRAM_LINE = "cqe = 5, less than minimum CQE number."


def test_a_program_line_between_two_copies_does_not_part_them() -> None:
    """A program writes the serial line between the boot console's copy of the WARNING line and
    ttyS0's (user space does not go through printk's consoles). Before: the copies were taken for
    two lines, "WARNING in corrupted" (the first copy, cut short by the second) came before the
    real report."""
    once = load(CONSOLE / "put-user-page-folio-mkclean-warn-6.12-tcg.log").lines
    lines = _twice(once)
    w = next(i for i, line in enumerate(lines) if "WARNING: CPU:" in line)
    assert lines[w] == lines[w + 1]
    lines.insert(w + 1, PROGRAM_LINE)
    got = scan(lines)
    assert [(r.title, r.corrupted) for r in got] == [("WARNING in folio_mkclean", False)]
    assert _shape(got) == _shape(scan(once))


def test_a_console_of_one_program_line_over_and_over_costs_little() -> None:
    """A guest program printing one line in a loop (the console may reach LIMITS.console_chars,
    256 MB): before, doubled() held ~220 bytes a line for it (every pair of equal neighbours, then
    a set and sorted list of them), ~18 GB for 256 MB of such a console, several times what the
    scan itself holds; now lines without a "]" (no printk stamp) are left out in C loops."""
    lines = (PROGRAM_LINE + "\n") * 200_000
    raw = lines.splitlines()
    tracemalloc.start()
    try:
        assert doubled(raw) == []
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, f"{peak / len(raw):.0f} bytes a line"


def test_two_frames_the_kernel_printed_twice_each_stay() -> None:
    """slab-corruption-old-slab-then-oops-quoted-3.6.log: its stack scan printed
    "? acpi_ut_create_generic_state" twice in a row, every line of the oops at 170.576938. The same
    scan finding the next return address twice too ("? cache_alloc_debugcheck_after" twice, the
    line copied from the log) is the kernel's output, not a doubled console: both pairs must stay.
    Before: both first copies were left out of the report (49 raw lines, not 51)."""
    lines = load(CONSOLE / "slab-corruption-old-slab-then-oops-quoted-3.6.log").lines
    i = next(k for k, line in enumerate(lines) if "cache_alloc_debugcheck_after" in line)
    assert lines[i - 1] == lines[i - 2] and lines[i - 1] != lines[i]
    lines.insert(i, lines[i])
    assert doubled(lines) == []
    oops = [r for r in scan(lines) if "paging request" in r.title]
    assert len(oops) == 1 and sum("cache_alloc_debugcheck_after" in x for x in oops[0].raw) == 2


@pytest.mark.parametrize("line, title", [
    ("WARNING: CPU:", "WARNING in folio_mkclean"),  # before: no report at all
    ("RIP: 0010:", "WARNING in folio_mkclean"),  # before: WARNING in folio_clear_dirty_for_io
])
@pytest.mark.parametrize("junk", ["[pinbench$ ", "BUG: "])
def test_the_copy_another_program_damaged_is_the_one_left_out(line: str, title: str, junk: str) -> None:
    """A program writes the serial line while the second console writes its copy: after that copy's
    "[" (as perftest's shell did in the mailed 5.2 log: "[[1] 1149" on one line, "  484.818219] BUG:"
    on the next; here without a line end) or before it. Before: the first, undamaged copy was always
    the one left out, and the damaged one left the WARNING unread (a false pass) or gave another
    title."""
    once = load(CONSOLE / "put-user-page-folio-mkclean-warn-6.12-tcg.log").lines
    lines = _twice(once)
    w = next(i for i, x in enumerate(lines) if line in x)
    assert lines[w] == lines[w + 1] and lines[w + 1].startswith("[")
    lines[w + 1] = junk + (lines[w + 1][1:] if junk.startswith("[") else lines[w + 1])
    assert len({w, w + 1} & set(doubled(lines))) == 1  # still taken for two copies
    got = scan(lines)
    assert [(r.title, r.corrupted) for r in got] == [(title, False)]
    assert _shape(got) == _shape(scan(once))
