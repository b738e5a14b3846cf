"""Kernel taint: the flags of /proc/sys/kernel/tainted, and which of them a report accounts for.

A kernel that taints itself has said something went wrong (a WARN, an oops, a bad page, a
soft lockup), and it says so even when the console text of the report was lost, cut, or is in
a form no scanner knows. So a problem flag that appears while a workload runs, with no kernel
report found in that time to account for it, is a failure of its own: "unexplained taint".
"""

from __future__ import annotations

from collections.abc import Iterable

# kernel/panic.c taint_flags, bit -> letter (6.12; stable since 4.x, N added in 5.x).
LETTERS = "PFSRMBUDAWCIOELKXTN"
# The flags that say the kernel misbehaved (the others: modules, firmware, tests, livepatch).
PROBLEMS = frozenset("MBDWL")

# Which problem flags a report of each scanner type raises (prefix match on the type).
_RAISES: tuple[tuple[str, frozenset[str]], ...] = (
    ("VM_WARN", frozenset("W")), ("VM_BUG", frozenset("D")), ("WARNING", frozenset("W")),
    ("REFCOUNT", frozenset("W")), ("LIST_CORRUPTION", frozenset("WD")), ("LOCKDEP", frozenset("W")),
    ("KASAN", frozenset("B")), ("KFENCE", frozenset("B")), ("KMSAN", frozenset("B")),
    ("BAD_PAGE", frozenset("B")), ("BUG", frozenset("DW")), ("PAGE_FAULT", frozenset("D")),
    ("GPF", frozenset("D")), ("OOPS", frozenset("D")), ("PANIC", frozenset("D")),
    ("SOFT_LOCKUP", frozenset("L")), ("HARD_LOCKUP", frozenset("W")), ("UBSAN", frozenset("W")),
)


def letters(mask: int) -> str:
    """The flags of a /proc/sys/kernel/tainted value, as the kernel prints them ("GW" style, set ones only)."""
    return "".join(ch for bit, ch in enumerate(LETTERS) if mask >> bit & 1)


def parse(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def new_problems(start: int, end: int) -> frozenset[str]:
    """Problem flags set at `end` that were not at `start`."""
    return frozenset(letters(end & ~start)) & PROBLEMS


def explained(report_types: Iterable[str]) -> frozenset[str]:
    """The problem flags that reports of these types account for."""
    out: set[str] = set()
    for t in report_types:
        for prefix, flags in _RAISES:
            if t.upper().startswith(prefix):
                out |= flags
                break
        else:
            out |= PROBLEMS  # a report the table does not know: do not call its taint unexplained
    return frozenset(out)
