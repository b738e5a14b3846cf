"""Kernel taint letters (kernel/panic.c taint_flags) and which reports account for them.

A workload that taints the kernel must leave a report behind: explained_taint() gives the
letters the found reports explain, so the pipeline can fail "unexplained taint W" when the
kernel says W but the scanner found no WARN-like report. Which report sets which flag was read
from linux 6.12: __warn() and __schedule_bug()/__might_resched() add W, die()/oops_end() add D,
bad_page(), print_bad_pte(), SLUB's slab_bug() and the KASAN/KFENCE/KMSAN reporters add B,
the soft lockup watchdog adds L. UBSAN, lockdep, RCU stalls, hung tasks and kmemleak taint
nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

# Kernel order of taint letters; G ("not tainted by a proprietary module") is no taint.
TAINT_ORDER = "PFSRMBUDAWCIOELKXTNJ"

_SANITIZER = re.compile(r"^(?:KASAN|KFENCE|KMSAN): |^(?:bad-access|invalid-free) in ")
_BAD_PAGE = re.compile(r"^BUG: (?:Bad page (?:state|map|cache)|Object already free)|^INFO: (?:Freed|Allocated) in ")
_DIE = re.compile(r"^(?:kernel BUG|BUG: unable to handle|BUG: corrupted list|BUG: bad usercopy|general protection fault"
                  r"|stack segment fault|invalid opcode|divide error|Internal error|Unhandled fault|Alignment trap"
                  r"|PANIC: double fault|Oops in|BUG: unable to handle kernel|BUG: stack guard page)")
_WARN = re.compile(r"^(?:WARNING in |WARNING: (?:ODEBUG|refcount|kmalloc|bad usercopy|kobject|proc registration"
                   r"|locking|zero-size vmalloc|nested lock) |BUG: sleeping function called from invalid context"
                   r"|BUG: scheduling while atomic|BUG: assuming )")
_SOFTLOCKUP = re.compile(r"^BUG: soft lockup")
_SLAB_TYPE = frozenset({"SLAB"})


class _Titled(Protocol):
    @property
    def title(self) -> str: ...

    @property
    def type(self) -> str: ...


def taints_of(title: str, kind: str = "") -> frozenset[str]:
    """The taint letters the kernel sets when it prints the report titled `title`."""
    letters = set()
    if _SANITIZER.match(title) or _BAD_PAGE.match(title) or kind in _SLAB_TYPE:
        letters.add("B")
    if _DIE.match(title):
        letters.add("D")
    if _WARN.match(title):
        letters.add("W")
    if _SOFTLOCKUP.match(title):
        letters.add("L")
    return frozenset(letters)


def explained_taint(reports: Iterable[_Titled]) -> frozenset[str]:
    """Taint letters accounted for by these reports (a pure function of their titles/types)."""
    out: set[str] = set()
    for rep in reports:
        out |= taints_of(rep.title, rep.type)
    return frozenset(out)


def order(letters: Iterable[str]) -> str:
    """Letters in kernel order, without duplicates or G."""
    have = set(letters)
    return "".join(c for c in TAINT_ORDER if c in have)


# The flags that say the kernel misbehaved (the others are modules, firmware, tests...).
PROBLEMS = frozenset("MBDWL")


def letters(mask: int) -> str:
    """The flags of a /proc/sys/kernel/tainted value, in kernel order (bit n is TAINT_ORDER[n])."""
    return "".join(ch for bit, ch in enumerate(TAINT_ORDER) if mask >> bit & 1)


def parse_mask(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def new_problems(start: int, end: int) -> frozenset[str]:
    """Problem flags set at `end` that were not at `start`."""
    return frozenset(letters(end & ~start)) & PROBLEMS
