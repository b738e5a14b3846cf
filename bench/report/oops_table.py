"""The rest of the oops table (see groups.py): faults, panics, arm64, VFS, and reports syzkaller
has no header for (raw kmemleak output, page_pool stalls, hard lockups, old SLUB and powerpc
oopses), plus the *pre-report* lines printed before a report's own header line.

GROUPS is the whole table in matching order: a line belongs to the first group whose header
it contains (and no suppression matches).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bench.report.frames import CALL_TRACE, PARSE, RIP, rx, stall_frame
from bench.report.groups import BUG, F, FAULT, Group, INFO, LEAK, S, TRACE, WARNING, sup

_ONLY_RIP = S(RIP)

SYZKALLER: tuple[Group, ...] = (
    BUG, WARNING, INFO,
    Group("Unable to handle kernel", (
        F(r"Unable to handle kernel (paging request|NULL pointer dereference|access to user memory)",
          "BUG: unable to handle kernel {0} in {1}", alt=("bad-access in {1}",), stack=FAULT),
        # arm64 permission faults (arch/arm64/mm/fault.c __do_kernel_fault()), x86's "paging request"
        # with "#PF: ... permissions violation": no syzkaller format, which titles the line itself
        F(r"Unable to handle kernel ((?:write to read-only|execute from non-executable|read from unreadable) memory)",
          "BUG: unable to handle kernel paging request in {1}", stack=FAULT,
          alt=("bad-access in {1}", "Unable to handle kernel {0} at virtual address ADDR")),
        # s390 (arch/s390/mm/fault.c): no syzkaller format, which titles the line itself (kept as ALT)
        F(r"Unable to handle kernel pointer dereference in virtual kernel address space",
          "BUG: unable to handle kernel paging request in {0}", stack=FAULT,
          alt=("bad-access in {0}", "Unable to handle kernel pointer dereference in virtual kernel address space")),
        F(r"Unable to handle kernel pointer dereference in virtual user address space",
          "BUG: unable to handle kernel access to user memory in {0}", stack=FAULT,
          alt=("bad-access in {0}", "Unable to handle kernel pointer dereference in virtual user address space")),
    ), kind="PAGE_FAULT"),
    Group("general protection fault", (
        F(r"general protection fault.*:", "general protection fault in {0}", alt=("bad-access in {0}",),
          stack=FAULT),), sup(r"general protection fault .* error:\d+ in ", r"general protection fault ip:"),  # user space
          "GPF"),
    Group("stack segment: ", (F(r"stack segment: ", "stack segment fault in {0}", stack=FAULT),), kind="GPF"),
    Group("Kernel panic", (
        F(r"Kernel panic - not syncing: stack-protector:", "kernel panic: stack is corrupted in {0}",
          report=r"Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: {{FUNC}}",
          no_stack=True),
        F(r"Kernel panic - not syncing: stack-protector:", "kernel panic: stack is corrupted in {0}",
          report=r"Kernel panic - not syncing: stack-protector: Kernel stack is corrupted in: [a-f0-9]+",
          stack=S(CALL_TRACE, PARSE, skip=("stack_chk",))),
        F(r"Kernel panic - not syncing: corrupted stack end", "kernel panic: corrupted stack end in {0}",
          report=r"Kernel panic - not syncing: corrupted stack end detected inside scheduler",
          alt=("stack-overflow in {0}",),
          stack=S(CALL_TRACE, PARSE, skip=("schedule", "retint_kernel"), ex=stall_frame)),
        F(r"Kernel panic - not syncing: kernel stack overflow", "kernel stack overflow in {0}",
          alt=("stack-overflow in {0}",), stack=S(CALL_TRACE, PARSE, skip=("bad_stack",), ex=stall_frame)),
        F(r"Kernel panic - not syncing: Attempted to kill init!", "kernel panic: Attempted to kill init!"),
        F(r"Kernel panic - not syncing: Couldn't open N_TTY ldisc for [^ ]+ --- error -[0-9]+",
          "kernel panic: Couldn't open N_TTY ldisc"),
        F(r"Kernel panic - not syncing: Fatal exception", "kernel panic: Fatal exception", corrupted=True),
        F(r"Kernel panic - not syncing: panic_on_warn set", "kernel panic: panic_on_warn set", corrupted=True),
        F(r"Kernel panic - not syncing: hung_task: blocked tasks", "kernel panic: hung_task: blocked tasks",
          corrupted=True),
        F(r"Kernel panic - not syncing: (.*)", "kernel panic: {0}"),
        # 2.4 and 2.6.0-2.6.9: "Kernel panic: %s", no stack dumped (panic() only printed the reason)
        F(r"Kernel panic: (.*)", "kernel panic: {0}", no_stack=True),
    ), kind="PANIC"),
    Group("PANIC: double fault", (F(r"PANIC: double fault", "PANIC: double fault in {0}", stack=_ONLY_RIP),),
          kind="DOUBLE_FAULT"),
    Group("rust_kernel: panicked", (
        F(r"rust_kernel: panicked", "{0} in {1}", report=r"rust_kernel: panicked at [^\n]*?\n(.+?)\n",
          stack=S(CALL_TRACE, PARSE, skip=(re.escape("__rustc::rust_begin_unwind"),))),), kind="PANIC"),
    Group("kernel BUG", (
        F(r"kernel BUG at mm/usercopy.c", "BUG: bad usercopy in {0}",
          stack=S(CALL_TRACE, PARSE, skip=("usercopy", "__check"))),
        F(r"kernel BUG at lib/list_debug.c", "BUG: corrupted list in {0}", alt=("bad-access in {0}",),
          stack=TRACE),
        F(r"kernel BUG at (.*)", "kernel BUG in {1}", stack=S(RIP, CALL_TRACE, PARSE, skip=("^skb_",))),
        # powerpc before the generic BUG() of 2.6.19 names the function itself:
        # "kernel BUG in grow_buffers at fs/buffer.c:1189!" (its NIP line has no symbol)
        F(r"kernel BUG in [a-zA-Z0-9_]+ at {{SRC}}!", "kernel BUG in {1}",
          stack=S(rx(r"kernel BUG in ([a-zA-Z0-9_]+) at"))),
    ), kind="BUG"),
    Group("Kernel BUG", (
        # lib/bug.c without CONFIG_DEBUG_BUGVERBOSE: "Kernel BUG at %pB [verbose debug info
        # unavailable]" (%p, a bare address, before 4.x)
        F(r"Kernel BUG at (?:[\w.]+\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[[\w-]+\])?|(?:0x)?[0-9a-f]+)"
          r" \[verbose debug info unavailable\]",
          "kernel BUG in {0}", stack=S(RIP, CALL_TRACE, PARSE, skip=("^skb_",))),
        # riscv/sh die() after a BUG trap: the same report as a "kernel BUG at" just before (DIE_LINE)
        F(r"Kernel BUG \[#\d+\]", "kernel BUG in {0}", stack=S(RIP, CALL_TRACE, PARSE, skip=("^skb_",))),
        F(r"Kernel BUG (.*)", "kernel BUG {0}"),
    ), kind="BUG"),
    Group("BUG kmalloc-", (F(r"BUG kmalloc-.*: Object already free", "BUG: Object already free"),), kind="SLAB"),
    Group("divide error:", (F(r"divide error: ", "divide error in {0}", stack=_ONLY_RIP),), kind="OOPS"),
    Group("divide_error:", (F(r"divide_error: ", "divide error in {0}", stack=_ONLY_RIP),), kind="OOPS"),
    Group("invalid opcode:", (F(r"invalid opcode: ", "invalid opcode in {0}", stack=_ONLY_RIP),), kind="OOPS"),
    Group("UBSAN:", (
        F(r"UBSAN:", "UBSAN: undefined-behaviour in {0}", report=r"UBSAN: Undefined behaviour in",
          stack=S(CALL_TRACE, PARSE, skip=("ubsan", "overflow"))),
        F(r"UBSAN: array-index-out-of-bounds in", "UBSAN: array-index-out-of-bounds in {0}",
          alt=("bad-access in {0}",), stack=S(CALL_TRACE, PARSE, skip=("ubsan", "overflow"))),
        F(r"UBSAN:", "UBSAN: {0} in {1}", report=r"UBSAN: (.*?) in",
          stack=S(CALL_TRACE, PARSE, skip=("ubsan", "overflow"))),
    ), kind="UBSAN"),
    Group("Booting the kernel.", (F(r"^Booting the kernel", "unexpected kernel reboot", no_stack=True),),
          sup(r"Parsing ELF|Decompressing Linux|Unknown parameter '"), "REBOOT"),
    Group("unregister_netdevice: waiting for", (
        F(r"unregister_netdevice: waiting for (?:.*) to become free",
          "unregister_netdevice: waiting for DEV to become free", no_stack=True),), kind="HANG"),
    Group("VFS: Close: file count is 0", (
        F(r"VFS: Close: file count is 0", "VFS: Close: file count is zero (use-after-free)", no_stack=True),),
          kind="VFS"),
    Group("VFS: Busy inodes after unmount", (
        F(r"VFS: Busy inodes after unmount", "VFS: Busy inodes after unmount (use-after-free)", no_stack=True),),
          kind="VFS"),
    Group("Internal error:", (  # die() always numbers the oops; drivers print "Internal error: %d" too
        # arm/arm64 die() after a BUG() trap, "Internal error: Oops - BUG: 0 [#1] SMP": the report of a
        # "kernel BUG at" line before it, which a console left out (a syslogd wall message shows only
        # the KERN_EMERG die() line): titled as that kernel BUG would be
        F(r"Internal error: Oops - BUG: ", "kernel BUG in {0}", stack=S(RIP, CALL_TRACE, PARSE, skip=("^skb_",))),
        F(r"Internal error:", "Internal error in {0}", alt=("bad-access in {0}",), stack=FAULT),),
          sup(r"Internal error:(?!.*\[#\d+\])"), "OOPS"),
    Group("Unhandled fault:", (
        F(r"Unhandled fault:", "Unhandled fault in {0}", alt=("bad-access in {0}",), stack=FAULT),),
          sup(r"Unhandled fault: status 0x"), "PAGE_FAULT"),  # ipmmu-vmsa's IOMMU fault message
    Group("Alignment trap:", (F(r"Alignment trap:", "Alignment trap in {0}", stack=FAULT),),
          sup(r"Alignment trap: .*\(\d+\) PC=0x"), "OOPS"),  # arm32's warning for a user task, fixed up
    Group("trusty: panic", (
        F(r"trusty: panic.* ASSERT FAILED", "trusty: ASSERT FAILED: {0}", no_stack=True,
          report=r"trusty: panic \(.*?\):(?: DEBUG)? ASSERT FAILED at \(.*?\): (.+)"),
        F(r"trusty: panic.* ASSERT FAILED.*: *(.*)", "trusty: ASSERT FAILED: {0}", corrupted=True),
        F(r"trusty: panic", "trusty: panic: {0}", report=r"trusty: panic \(.*?\): (.+)", no_stack=True),
    ), kind="PANIC"),
    Group("SYZFAIL:", (F(r"SYZFAIL:(.*)", "SYZFAIL:{0}", no_stack=True),), kind="SYZ"),
    Group("SYZFATAL:", (F(r"SYZFATAL:(.*)", "SYZFATAL:{0}", no_stack=True),), kind="SYZ"),
)

# Reports syzkaller has no header for (their own titles, in syzkaller's style).
EXTRA: tuple[Group, ...] = (
    Group("unreferenced object 0x", (F(r"unreferenced object", "memory leak in {0}", stack=LEAK),),
          kind="KMEMLEAK"),
    Group("new suspected memory leak", (
        F(r"kmemleak: [0-9]+ new suspected memory leaks?", "kmemleak: new suspected memory leaks", no_stack=True),),
          kind="KMEMLEAK"),
    # mm/page_poison.c: a freed page no longer holds its poison when it is allocated again, so
    # something wrote into it while it was free. The stack is the next allocator's, not the
    # writer's: no frame in the title.
    Group("pagealloc: ", (
        F(r"pagealloc: memory corruption", "pagealloc: memory corruption", no_stack=True),
        F(r"pagealloc: single bit error", "pagealloc: single bit error", no_stack=True),
    ), kind="PAGE_POISON"),
    # mm/slab.c check_poison_obj() (CONFIG_DEBUG_SLAB, until 6.7): a freed object's poison was
    # overwritten. It prints no stack and the kernel goes on, so the cache names the report.
    Group("Slab corruption", (
        F(r"Slab corruption \((?:Not tainted|Tainted: [^)]*)\): ([\w.:-]+) start=", "BUG: Slab corruption (cache {0})",
          no_stack=True),), kind="SLAB"),
    Group("stalled pool shutdown", (
        F(r"page_pool\S* stalled pool shutdown", "page_pool: stalled pool shutdown", no_stack=True),),
          kind="HANG"),
    Group("hard LOCKUP", (
        F(r"Watchdog detected hard LOCKUP", "BUG: hard lockup in {0}", alt=("stall in {0}",),
          stack=S(RIP, CALL_TRACE, PARSE, ex=stall_frame)),), sup(r"Kernel panic"), "HARD_LOCKUP"),
    Group("Oops: ", (F(r"Oops: ", "Oops in {0}", alt=("bad-access in {0}",), stack=FAULT),),
          sup(r"Oops: (?!.*(?:\[#\d+\]|, sig: \d+))"), "OOPS"),  # die() numbers it; drivers say "Oops: ..." too
    # die() lines with no other header before them: riscv's traps ("Oops - illegal instruction [#1]",
    # arch/riscv/kernel/traps.c), LoongArch's "Oops - BUG[#1]:", and MIPS/LoongArch/csky traps in
    # kernel mode ("Reserved instruction in kernel code[#1]:", "Kernel ade access[#1]:"). After a
    # page fault's "Unable to handle kernel ..." line such a line joins that report (DIE_LINE).
    Group("Oops - ", (F(r"(?m)^(Oops - [^\[\]]{1,80}?) ?\[#\d+\]:?\s*$", "{0} in {1}", alt=("bad-access in {1}",),
                        stack=FAULT),), kind="OOPS"),
    Group("[#", (F(r"(?m)^([A-Za-z][^\[\]]{0,80}?(?:[Kk]ernel|BUG|[Bb]ug)[^\[\]]{0,40}?) ?\[#\d+\]:?\s*$", "{0} in {1}",
                   alt=("bad-access in {1}",), stack=FAULT),), kind="OOPS"),
    Group("BUG ", (F(r"BUG [\w-]+ \((?:Not tainted|Tainted: [^)]*)\): (.*)", "BUG: {0} in {1}",
                     stack=S(CALL_TRACE, PARSE, skip=("slab", "kmem", "kfree", "free_debug")), no_stack=True),),
          sup(r"\): kasan: "), "SLAB"),  # old KASAN's object dump inside its own report (syzkaller's report 1)
)


@dataclass(frozen=True)
class Pre:
    """A line printed before a report's header (by dump_page(), refcount, list debugging...)."""

    pattern: re.Pattern[str]
    window: int  # the header must follow within this many lines of the same context
    detail: str  # str.format over the pattern's named groups, kept as the report's detail


PRE: tuple[Pre, ...] = (
    Pre(re.compile(r"page dumped because: (?P<d>VM_(?:BUG|WARN)_ON(?:_ONCE)?_(?:PAGE|FOLIO)\(.*\))\s*$"), 80, "{d}"),
    Pre(re.compile(r"vma [0-9a-f]{8,} start [0-9a-f]{8,} end [0-9a-f]{8,}"), 16, "VM_BUG_ON_VMA"),
    Pre(re.compile(r"mm [0-9a-f]{8,} task_size \d+"), 60, "VM_BUG_ON_MM"),
    Pre(re.compile(r"refcount_t: (?P<d>.+?)\.?\s*$"), 4, "refcount_t: {d}"),
    Pre(re.compile(r"(?P<d>list_(?:add|del) (?:corruption|double add))"), 6, "{d}"),
    Pre(re.compile(r"ODEBUG: (?P<d>.*)"), 4, "ODEBUG: {d}"),
)
# Each PRE pattern contains one of these; with the largest window of the patterns containing it,
# so an anchor is only looked for that far back (tested).
PRE_ANCHORS = (("dumped because", 80), ("vma ", 16), ("task_size", 60), ("refcount_t", 4), ("corruption", 6),
               ("double add", 6), ("ODEBUG", 4))
PRE_NEAR = 16  # anchors with a window up to this are looked for in the last PRE_NEAR lines only
GROUPS: tuple[Group, ...] = SYZKALLER + EXTRA
# A new boot: what a console prints before the kernel of the next boot can report anything.
REBOOT = re.compile(r"Linux version \d+\.\d+|Booting the kernel\.|SeaBIOS \(version|U-Boot \d{4}")
# die()'s own line after a trap: it follows the BUG()/fault report it belongs to (arm "Internal
# error:", x86 "Oops:", riscv and sh "Kernel BUG [#1]") and never starts a second report there.
DIE_LINE = re.compile(r"Internal error:.*\[#\d+\]|Oops: |Kernel BUG \[#\d+\]|\[#\d+\]:?\s*$")
# Checks that print one header line per item of one object: kernel/fork.c check_mm() prints a
# "Bad rss-counter state" line for each counter of the mm it frees. The lines naming the same
# object (the group) one after another are one report, not one per counter. check_mm() goes through
# the counters in order (idx:N before 5.x's type:NAME, kernel/fork.c resident_page_types[]): a
# counter before the one before is the next mm's check (mm:(____ptrval____) names no mm).
SAME_OBJECT = re.compile(r"BUG: Bad rss-counter state mm:(\S+)(?: idx:(\d+)| type:(\w+))?")
COUNTERS = ("MM_FILEPAGES", "MM_ANONPAGES", "MM_SWAPENTS", "MM_SHMEMPAGES")
SAME_OBJECT_LINES = 8  # at most this far apart (NR_MM_COUNTERS lines, blank lines between)
# syzbot's symbolizer prints a sanitizer's header once per inlined frame, innermost first ("BUG: KMSAN:
# kernel-infoleak in instrument_copy_to_user include/linux/instrumented.h:121 [inline]", then "... in
# _copy_to_user+0x1c9/0x270 lib/usercopy.c:33"): a header right after such a line, with the same
# words before the frame, is the same report's next level.
INLINE_HEADER = re.compile(r"(BUG: K[A-Z]SAN: [\w-]+ in )[\w.]+ \S+:\d+ \[inline\]\s*$")
INLINE_LEVELS = 12  # at most this many header lines for one report
# syzkaller keeps these inside the report they interrupt rather than starting a new one.
CONTINUES = re.compile(r"invalid opcode: 0000|Kernel panic - not syncing|unregister_netdevice: waiting for"
                       r"|PANIC: double fault")
# The first pass over the whole log looks for these; every header contains one of them (tested).
# A pass costs ~1.5 ms per 8 MB whatever it looks for, so there are few: alternatives sharing a
# rare capital letter are one regex (sre skips to that letter at C speed), the other words are
# str.find() needles, cut to end in a rare character (fastsearch compares on the last one).
ANCHOR_RES: tuple[re.Pattern[str], ...] = tuple(re.compile(p) for p in (
    "BUG|Booting the kernel", "N(?:ING:|FO:|IC: double fault)", "U(?:nable to handle kernel|BSAN:|nhandled fault:)",
    "Kernel panic", "F(?:S: Busy inodes|S: Close: file count|AIL:|ATAL:)", "O(?:ops|CKUP)"))
ANCHOR_WORDS = ("[#", "protection fault", "stack segment:", "rust_kernel: panick", "trusty: panic", "error:",
                "invalid opcode:", "unregister_netdev", "Alignment trap:", "unreferenced obj",
                "suspected memory leak", "stalled pool shutdow", "pagealloc:", "Slab corrup")
