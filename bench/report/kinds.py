"""A report's type (our short name), its KCIDB/logspec category and its detail string.

Categories follow KernelCI logspec's error_type names ("linux.kernel.warning",
"linux.kernel.bug", "linux.kernel.null_pointer_dereference", "linux.kernel.panic",
"linux.kernel.ubsan", generic "linux.kernel") and extend them in the same style for the
classes logspec does not name, so the nightly can export KCIDB issues with a stable category.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bench.report.groups import Group
from bench.report.prefix import normalize

_TYPES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), t) for p, t in (
    (r"^(KASAN|KFENCE|KMSAN|KCSAN|UBSAN):", r"\1"),
    (r"^(?:possible deadlock|inconsistent lock state|(?:WARNING|INFO): suspicious RCU usage"
     r"|(?:BUG|WARNING): (?:bad unlock balance|held lock freed|still has locks held|lock held when returning"
     r"|locking bug|nested lock)|INFO: trying to register non-static key"
     r"|BUG: (?:sleeping function called|scheduling while atomic|using \S+ in preemptible))", "LOCKDEP"),
    (r"^INFO: task (?:hung|can't die)", "HUNG_TASK"),
    (r"^INFO: rcu detected stall", "RCU_STALL"),
    (r"^BUG: soft lockup", "SOFT_LOCKUP"),
    (r"^BUG: hard lockup", "HARD_LOCKUP"),
    (r"^(?:memory leak in|kmemleak:)", "KMEMLEAK"),
    (r"^WARNING: refcount bug", "REFCOUNT"),
    (r"^BUG: corrupted list", "LIST_CORRUPTION"),
    (r"^BUG: (?:Bad page|Bad rss-counter|non-zero nr_p)", "BAD_PAGE"),
    (r"^pagealloc:", "PAGE_POISON"),
    (r"^BUG: Object already free|^BUG: Slab corruption|^BUG \S+ \(|^INFO: (?:Freed|Allocated) in", "SLAB"),
    (r"^(?:BUG: unable to handle|Unhandled fault)", "PAGE_FAULT"),
    (r"^(?:general protection fault|stack segment fault)", "GPF"),
    (r"^(?:kernel panic|kernel stack overflow)", "PANIC"),
    (r"^(?:invalid opcode|divide error|Internal error|Alignment trap|Oops) in", "OOPS"),
    (r"^PANIC: double fault", "DOUBLE_FAULT"),
    (r"^(?:kernel BUG|BUG: bad usercopy)", "BUG"),
    (r"^WARNING", "WARNING"),
    (r"^BUG", "BUG"),
))
_VM = re.compile(r"^VM_(BUG|WARN)_ON(?:_ONCE)?_(PAGE|FOLIO|VMA|MM)")

_CATEGORY = {
    "WARNING": "warning", "REFCOUNT": "warning", "BUG": "bug", "LIST_CORRUPTION": "bug", "BAD_PAGE": "bug", "PAGE_POISON": "page_poison",
    "SLAB": "bug", "PANIC": "panic", "UBSAN": "ubsan", "KASAN": "kasan", "KFENCE": "kfence",
    "KMSAN": "kmsan", "KCSAN": "kcsan", "LOCKDEP": "lockdep", "HUNG_TASK": "hung_task",
    "RCU_STALL": "rcu_stall", "SOFT_LOCKUP": "lockup", "HARD_LOCKUP": "lockup", "KMEMLEAK": "memory_leak",
    "PAGE_FAULT": "page_fault", "GPF": "oops", "OOPS": "oops", "DOUBLE_FAULT": "oops",
}
_SANITIZER_DETAIL = re.compile(r"^(?:KASAN|KFENCE|KMSAN|UBSAN): (?P<d>.+?) in \S+$")
_PANIC_DETAIL = re.compile(r"Kernel panic(?: - not syncing)?: (?P<d>.*?)\s*$")  # before 2.6.10: no "- not syncing"


def type_of(title: str, group: Group | None, pre: str) -> str:
    return _type_of(title, None if group is None else group.kind, pre)


@lru_cache(maxsize=4096)  # titles repeat: the same bug reported again and again
def _type_of(title: str, kind: str | None, pre: str) -> str:
    vm = _VM.match(pre)
    if vm and (title.startswith(("kernel BUG", "WARNING in")) or kind is None):
        return f"VM_{vm.group(1)}_ON_{vm.group(2)}"
    for pattern, name in _TYPES:
        m = pattern.match(title)
        if m:
            return m.expand(name)
    return kind or "BUG"


def category_of(rtype: str, title: str) -> str:
    if rtype == "PAGE_FAULT" and "NULL pointer" in title:
        return "linux.kernel.null_pointer_dereference"
    if rtype.startswith("VM_"):
        return "linux.kernel.bug" if "_BUG_" in rtype else "linux.kernel.warning"
    sub = _CATEGORY.get(rtype)
    return f"linux.kernel.{sub}" if sub else "linux.kernel"


def detail_of(title: str, pre: str, header: str) -> str:
    """The variable part a title leaves out: VM_BUG_ON condition, refcount message, panic reason..."""
    if pre:
        return pre
    m = _SANITIZER_DETAIL.match(title)
    if m:
        return m.group("d")
    m = _PANIC_DETAIL.search(header)
    return normalize(m.group("d")) if m else ""
