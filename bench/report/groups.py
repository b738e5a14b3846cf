"""The oops table: which console lines start a kernel report and how each report is titled.

Data only. Modelled on syzkaller's pkg/report (linux.go) so titles match the ones syzbot
gives: each *group* has a header substring (searched anywhere in a line), suppressions, and an
ordered list of *formats*. The describer (bench/report/describe.py) takes, among the formats
whose title regex matches, the one matching earliest in the report, fills its template with
the regex groups and the guilty frames, and calls the report corrupted when a frame is missing.
More groups (old kernels, kmemleak, page_pool, pre-report lines) are in oops_table.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from bench.report.frames import (
    CALL_TRACE,
    PARSE,
    RIP,
    StackFmt,
    hang_frame,
    rx,
    stall_frame,
)

Rx = re.Pattern[str]


@dataclass(frozen=True)
class Format:
    title: Rx
    fmt: str  # str.format template over the regex groups, then one frame per PARSE section
    stack: StackFmt | None = None
    report: Rx | None = None  # when set, must match too (its groups replace the title's)
    alt: tuple[str, ...] = ()
    no_stack: bool = False  # the report has no stack trace by nature
    corrupted: bool = False  # matching this format means the report is damaged


@dataclass(frozen=True)
class Group:
    header: str  # searched anywhere in the raw console line
    formats: tuple[Format, ...]
    suppress: tuple[Rx, ...] = ()
    kind: str = ""  # report type when no format decides it

    @cached_property
    def multiline(self) -> tuple[int, ...]:
        """Indexes of the formats whose title regex spans lines (searched in the whole text)."""
        return tuple(i for i, f in enumerate(self.formats) if "\\n" in f.title.pattern)


def F(title: str, fmt: str, stack: StackFmt | None = None, report: str | None = None,
      alt: tuple[str, ...] = (), no_stack: bool = False, corrupted: bool = False) -> Format:
    return Format(rx(title), fmt, stack, rx(report) if report else None, alt, no_stack, corrupted)


def S(*parts: Rx, skip: tuple[str, ...] = (), parts2: tuple[Rx, ...] = (), parts3: tuple[Rx, ...] = (),
      ex: object = None, past_entry: bool = False) -> StackFmt:
    return StackFmt(tuple(parts), parts2, skip, parts3, ex, past_entry)  # type: ignore[arg-type]


def W(*skip: str) -> StackFmt:
    """WARN(): the stack starts at the RIP (new kernels trap) or at Call Trace (old ones); in an
    excerpt without either (registers and "Call trace:" cut away) the frames right after
    __warn()'s own "WARNING: ... at ..." line (not after lockdep's "WARNING: <what>" lines)."""
    return S(rx(r"(?:" + RIP.pattern + r"|--- interrupt: [0-9]+ at ([a-zA-Z0-9_]+)(?:\.|\+))"), PARSE,
             parts2=(CALL_TRACE, PARSE), parts3=(rx(r"WARNING: (?:.* )?at "), PARSE), skip=skip)


def sup(*patterns: str) -> tuple[Rx, ...]:
    return tuple(re.compile(p) for p in patterns)


TRACE = S(CALL_TRACE, PARSE)
FAULT = S(RIP, CALL_TRACE, PARSE, past_entry=True)  # a fault's own report: below its exception entry
_AT_FUNC = r"at: (?:{{PC}} +)?{{FUNC}}"
_KFENCE = rx(r"BUG: KFENCE: (?:[a-z\- ]+) in {{FUNC}}")
# Non-capturing (syzkaller captures it, making the line itself a "frame" when the stack before is
# empty); the old format, with a "Call Trace:" line, is then read by parts2.
_KMSAN_ORIGIN = rx(r"(?:Local variable .* created at:|Uninit was created at:)")
_KMSAN_OLD = (CALL_TRACE, PARSE, _KMSAN_ORIGIN, PARSE)
_LEAK_SKIP = ("kmemleak", "mmap", "kmem", "slab", "alloc", "create_object", "idr_get", "list_lru_init",
              "kasprintf", "kvasprintf", "pcpu_create", "strdup", "strndup", "memdup")
LEAK = S(rx(r"backtrace(?: \(crc [0-9a-fA-F]*\))?:"), PARSE, skip=_LEAK_SKIP)

BUG = Group("BUG:", (
    F(r"BUG: KASAN:", "KASAN: {0} {2} in {3}", alt=("bad-access in {3}",),
      report=r"BUG: KASAN: ([a-z\-]+) in {{FUNC}}(?:.*\n)+?.*(Read|Write) (?:of size|at addr) (?:[0-9a-f]+)",
      stack=S(rx(r"BUG: KASAN: (?:[a-z\-]+) in {{FUNC}}"), CALL_TRACE, PARSE,
              skip=("kernel_fault", "tag_check", "mem_abort", "^el1_", "^el1h_"))),
    F(r"BUG: KASAN:", "KASAN: invalid-free in {1}", alt=("invalid-free in {1}",),
      report=r"BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in {{FUNC}}",
      stack=S(rx(r"BUG: KASAN: (?:double-free or invalid-free|double-free|invalid-free) in {{FUNC}}"),
              CALL_TRACE, PARSE, skip=("slab_", "kfree", "vunmap", "vfree"))),
    F(r"BUG: KASAN: ([a-z\-]+) on address(?:.*\n)+?.*(Read|Write) of size ([0-9]+)", "KASAN: {0} {1}"),
    F(r"BUG: KASAN: (.*)", "KASAN: {0}", corrupted=True),
    F(r"BUG: KMSAN: kernel-usb-infoleak", "KMSAN: kernel-usb-infoleak in {1}", no_stack=True,
      report=r"BUG: KMSAN: kernel-usb-infoleak in {{FUNC}}", alt=("KMSAN origin in {2}",),
      stack=S(PARSE, _KMSAN_ORIGIN, PARSE, parts2=_KMSAN_OLD,
              skip=("alloc_skb", "usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg", "usb_interrupt_msg",
                    "usb_control_msg"))),
    F(r"BUG: KMSAN:", "KMSAN: {0} in {2}", report=r"BUG: KMSAN: ([a-z\-]+) in {{FUNC}}",
      alt=("bad-access in {2}",), no_stack=True,
      stack=S(PARSE, _KMSAN_ORIGIN, PARSE, parts2=_KMSAN_OLD,
              skip=("alloc_skb", "netlink_ack", "netlink_rcv_skb", "_encrypt$", "^(?:crypto|cipher|drbg|rng)_"))),
    F(r"BUG: KCSAN: data-race", "KCSAN: {0}", report=r"BUG: KCSAN: (.*)", no_stack=True),
    F(r"BUG: KCSAN:", "KCSAN: {0}", report=r"BUG: KCSAN: (.*)", no_stack=True),
    F(r"BUG: KFENCE: (use-after-free|out-of-bounds) (read|write) in {{FUNC}}", "KFENCE: {0} {1} in {3}",
      alt=("bad-access in {3}",), stack=S(_KFENCE, PARSE)),
    F(r"BUG: KFENCE: invalid free in {{FUNC}}", "KFENCE: invalid free in {1}",
      alt=("invalid-free in {1}",), no_stack=True, stack=S(_KFENCE, PARSE)),
    F(r"BUG: KFENCE: invalid (read|write) in {{FUNC}}", "KFENCE: invalid {0} in {2}",
      alt=("bad-access in {2}",), stack=S(_KFENCE, PARSE)),
    F(r"BUG: KFENCE: memory corruption in {{FUNC}}", "KFENCE: memory corruption in {1}",
      no_stack=True, stack=S(_KFENCE, PARSE)),
    F(r"BUG: (?:unable to handle kernel paging request|unable to handle page fault for address"
      r"|Unable to handle kernel data access)", "BUG: unable to handle kernel paging request in {0}",
      alt=("bad-access in {0}",), stack=FAULT),
    F(r"BUG: (?:unable to handle kernel NULL pointer dereference|kernel NULL pointer dereference"
      r"|Kernel NULL pointer dereference)", "BUG: unable to handle kernel NULL pointer dereference in {0}",
      alt=("bad-access in {0}",), stack=FAULT),
    F(r"BUG: (?:unable to handle kernel|Unable to handle kernel)", "BUG: unable to handle kernel",
      corrupted=True),
    F(r"BUG: (spinlock|rwlock) (lockup suspected|already unlocked|recursion|cpu recursion|bad magic"
      r"|wrong owner|wrong CPU|trylock failure on UP)", "BUG: {0} {1} in {2}",
      stack=S(CALL_TRACE, PARSE, skip=("spin_", "_lock", "_unlock"))),
    F(r"BUG: soft lockup", "BUG: soft lockup in {0}", alt=("stall in {0}",),
      stack=S(RIP, CALL_TRACE, PARSE, ex=stall_frame)),
    F(r"BUG: .*still has locks held!", "BUG: still has locks held in {0}",
      report=r"BUG: .*still has locks held!(?:.*\n)+?.*{{PC}} +{{FUNC}}"),
    F(r"BUG: scheduling while atomic", "BUG: scheduling while atomic in {0}",
      stack=S(CALL_TRACE, PARSE, skip=("schedule",))),
    F(r"BUG: lock held when returning to user space", "BUG: lock held when returning to user space in {0}",
      report=r"BUG: lock held when returning to user space(?:.*\n)+?.*leaving the kernel with locks still"
             r" held(?:.*\n)+?.*" + _AT_FUNC, no_stack=True),
    F(r"BUG: bad unlock balance detected!", "BUG: bad unlock balance in {0}",
      stack=S(rx(r"{{PC}} +{{FUNC}}"), CALL_TRACE, PARSE)),
    F(r"BUG: held lock freed!", "BUG: held lock freed in {0}",
      report=r"BUG: held lock freed!(?:.*\n)+?.*{{PC}} +{{FUNC}}"),
    F(r"BUG: Bad rss-counter state", "BUG: Bad rss-counter state", no_stack=True),
    F(r"BUG: non-zero nr_ptes on freeing mm", "BUG: non-zero nr_ptes on freeing mm", no_stack=True),
    F(r"BUG: non-zero nr_pmds on freeing mm", "BUG: non-zero nr_pmds on freeing mm", no_stack=True),
    F(r"BUG: non-zero pgtables_bytes on freeing mm", "BUG: non-zero pgtables_bytes on freeing mm", no_stack=True),
    F(r"BUG: Dentry .* still in use", "BUG: Dentry still in use in {0}",
      report=r"BUG: Dentry .* still in use \([0-9]+\) \[(unmount) of ([^\]]+)\]",
      alt=("BUG: Dentry still in use [{0} of {1}]",)),
    F(r"BUG: Bad page (state|cache)", "BUG: Bad page {0} in {1}",
      stack=S(rx(r"page last allocated"), PARSE,
              skip=("(free|put|get|update|release)_page", "free_unref", "^_*folio", "truncate_inode_pages",
                    "page_frag_free", "alloc", "vmap", "page_owner"))),
    F(r"BUG: Bad page map", "BUG: Bad page map"),
    F(r"BUG: workqueue lockup", "BUG: workqueue lockup in {0}", no_stack=True,
      report=r"BUG: workqueue lockup(?:.*\n)+?.*Showing backtraces of busy workers(?:.*\n)+?.*Workqueue: \S+ ([a-zA-Z0-9_]+)"),
    F(r"BUG: workqueue lockup", "BUG: workqueue lockup", no_stack=True),
    F(r"BUG: sleeping function called from invalid context at (.*)",
      "BUG: sleeping function called from invalid context in {1}", stack=TRACE),
    F(r"BUG: using ([a-z_]+)\(\) in preemptible", "BUG: using {0}() in preemptible code in {1}",
      stack=S(CALL_TRACE, PARSE, skip=("dump_stack", "preemption", "preempt", "debug_", "processor_id",
                                       "this_cpu"))),
    F(r"BUG: workqueue leaked lock or atomic", "BUG: workqueue leaked lock or atomic in {0}",
      report=r"BUG: workqueue leaked lock or atomic(?:.*\n)+?.*last function: ([a-zA-Z0-9_]+)\n",
      no_stack=True),
    F(r"BUG: memory leak", "memory leak in {0}", stack=LEAK),
    F(r"BUG: .*stack guard page was hit at", "BUG: stack guard page was hit in {0}",
      alt=("stack-overflow in {0}",), stack=S(RIP, CALL_TRACE, PARSE, ex=stall_frame)),
    F(r"BUG: Invalid wait context", "WARNING: locking bug in {0}",
      stack=S(CALL_TRACE, PARSE, skip=("lock_sock", "release_sock"))),
    F(r"BUG:\s*(?:\n|$)", "BUG: corrupted", corrupted=True),
), sup(r"ODEBUG:", r"Boot_DEBUG:", r"xlog_status:", r"DEBUG:", r"BUG: no syscalls can create resource",
       r"BUG: arch topology borken",  # the scheduler's note on a firmware/VM CPU topology
       r"Oops - BUG: "), "BUG")  # arm/arm64 die() after a BUG() trap: "Internal error:"'s line

WARNING = Group("WARNING:", (
    F(r"WARNING: .*lib/debugobjects\.c.* (?:debug_print|debug_check|at)", "WARNING: ODEBUG bug in {0}",
      stack=W("debug_", "rcu", "hrtimer_", "timer_", "work_", "percpu_", "vunmap", "vfree", "__free_",
              "debug_check", "kobject_")),
    F(r"WARNING: .*mm/usercopy\.c.* (?:usercopy_warn|at)", "WARNING: bad usercopy in {0}",
      stack=W("usercopy", "__check")),
    F(r"WARNING: .*lib/kobject\.c.* (?:kobject_|at)", "WARNING: kobject bug in {0}", stack=W("kobject_")),
    F(r"WARNING: .*fs/proc/generic\.c.* (?:proc_register|at)", "WARNING: proc registration bug in {0}",
      stack=W("proc_")),
    F(r"WARNING: .*lib/refcount\.c.* (?:refcount_|at)", "WARNING: refcount bug in {0}",
      stack=W("refcount", "kobject_")),
    F(r"WARNING: .*kernel/locking/lockdep\.c.*lock_", "WARNING: locking bug in {0}",
      stack=W("lock_sock", "release_sock")),
    F(r"WARNING: .*still has locks held!", "WARNING: still has locks held in {0}",
      report=r"WARNING: .*still has locks held!(?:.*\n)+?.*at: {{FUNC}}"),
    F(r"WARNING: Nested lock was not taken", "WARNING: nested lock was not taken in {0}", stack=W()),
    F(r"WARNING: lock held when returning to user space",
      "WARNING: lock held when returning to user space in {0}", no_stack=True,
      report=r"WARNING: lock held when returning to user space(?:.*\n)+?.*leaving the kernel with locks"
             r" still held(?:.*\n)+?.*" + _AT_FUNC),
    F(r"WARNING: .*mm/.*\.c.* k?.?malloc", "WARNING: kmalloc bug in {0}",
      stack=W("kmalloc", "krealloc", "slab", "kmem")),
    F(r"WARNING: .*mm/vmalloc.c.*__vmalloc_node", "WARNING: zero-size vmalloc in {0}", stack=W()),
    F(r"WARNING: .* usb_submit_urb", "WARNING in {0}/usb_submit_urb",
      stack=W("usb_submit_urb", "usb_start_wait_urb", "usb_bulk_msg", "usb_interrupt_msg", "usb_control_msg")),
    F(r"WARNING: {{SRC}} at 0x\d+, CPU#\d+", "WARNING in {1}", stack=W()),
    F(r"WARNING: .* at {{SRC}} {{FUNC}}", "WARNING in {2}", stack=W()),
    # the function wrapped onto the next line (a mail client), or not printed, or printed as an
    # address by a kernel without CONFIG_KALLSYMS ("at fs/btrfs/inode.c:4768 0xc021035c()"): titled
    # by the stack
    F(r"(?m)WARNING: (?:.* )?at {{SRC}}(?: (?:0x)?[0-9a-f]{8,16}\(\))?[ \t]*$", "WARNING in {1}", stack=W()),
    F(r"WARNING: {{SRC}} at {{FUNC}}", "WARNING in {2}", stack=W()),
    F(r"WARNING: \[.*\] {{SRC}} at {{FUNC}}.*", "WARNING in {2}", stack=W()),
    # 2.6-3.x kernels: "WARNING: at file:line func+0x../0x..()", before the CPU/PID came first
    F(r"WARNING: at {{SRC}} {{FUNC}}", "WARNING in {2}", stack=W()),
    F(r"WARNING: at {{FUNC}}", "WARNING in {1}", stack=W()),  # no file: CONFIG_DEBUG_BUGVERBOSE=n
    F(r"WARNING: possible circular locking dependency detected", "possible deadlock in {0}",
      report=r"WARNING: possible circular locking dependency detected(?:.*\n)+?.*is trying to acquire lock",
      stack=S(rx(_AT_FUNC), rx(_AT_FUNC), PARSE,
              skip=("process_one_work", "flush_workqueue", "drain_workqueue", "destroy_workqueue"))),
    F(r"WARNING: possible irq lock inversion dependency detected", "possible deadlock in {0}",
      report=r"WARNING: possible irq lock inversion dependency detected(?:.*\n)+?.*just changed the state"
             r" of lock(?:.*\n)+?.*" + _AT_FUNC),
    F(r"WARNING: .*-safe -> .*-unsafe lock order detected", "possible deadlock in {0}",
      stack=S(rx(r"which became (?:.*) at:"), PARSE)),
    F(r"WARNING: possible recursive locking detected", "possible deadlock in {0}",
      report=r"WARNING: possible recursive locking detected(?:.*\n)+?.*is trying to acquire lock"
             r"(?:.*\n)+?.*" + _AT_FUNC),
    F(r"WARNING: inconsistent lock state", "inconsistent lock state in {1}", stack=TRACE,
      report=r"WARNING: inconsistent lock state(?:.*\n)+?.*takes(?:.*\n)+?.*" + _AT_FUNC),
    F(r"WARNING: suspicious RCU usage", "WARNING: suspicious RCU usage in {1}",
      report=r"WARNING: suspicious RCU usage(?:.*\n)+?.*?{{SRC}}",
      stack=S(CALL_TRACE, PARSE, skip=("rcu", "kmem", "slab"))),
    F(r"WARNING: kernel stack regs at [0-9a-f]+ in [^ ]* has bad '([^']+)' value",
      "WARNING: kernel stack regs has bad '{0}' value", no_stack=True),
    F(r"WARNING: kernel stack frame pointer at [0-9a-f]+ in [^ ]* has bad value",
      "WARNING: kernel stack frame pointer has bad value", no_stack=True),
    F(r"WARNING: bad unlock balance detected!", "WARNING: bad unlock balance in {0}",
      stack=S(rx(r"{{PC}} +{{FUNC}}"), CALL_TRACE, PARSE)),
    F(r"WARNING: held lock freed!", "WARNING: held lock freed in {0}",
      report=r"WARNING: held lock freed!(?:.*\n)+?.*at:(?: {{PC}})? +{{FUNC}}"),
    F(r"WARNING: kernel stack regs .* has bad 'bp' value", "WARNING: kernel stack regs has bad value",
      no_stack=True),
    F(r"WARNING: kernel stack frame pointer .* has bad value", "WARNING: kernel stack regs has bad value",
      no_stack=True),
    F(r"WARNING:\s*(?:\n|$)", "WARNING: corrupted", corrupted=True),
), sup(r"WARNING: /etc/ssh/moduli does not exist, using fixed modulus",
       r"WARNING: workqueue cpumask: online intersect > possible intersect", r"WARNING: [Tt]he mand mount option",
       r"WARNING: Unsupported flag value\(s\) of 0x%x in DT_FLAGS_1", r"WARNING: Unprivileged eBPF is enabled",
       r"WARNING: fbcon: Driver '(.*)' missed to adjust virtual screen size", r"WARNING: See https.* for mitigation",
       r"WARNING: kernel not compiled with CPU_SRSO", r"EXT4-[Ff][Ss](?: \(.*\))?:",
       r"(?i)warning: .* uses (deprecated v2 capabilities|wireless extensions)", r"XFS \(\w+\): WARNING"),
    "WARNING")

INFO = Group("INFO:", (
    F(r"INFO: possible circular locking dependency detected", "possible deadlock in {0}",
      report=r"INFO: possible circular locking dependency detected \](?:.*\n)+?.*is trying to acquire lock"
             r"(?:.*\n)+?.*at: {{PC}} +{{FUNC}}"),
    F(r"INFO: possible irq lock inversion dependency detected", "possible deadlock in {0}",
      report=r"INFO: possible irq lock inversion dependency detected \](?:.*\n)+?.*just changed the state of"
             r" lock(?:.*\n)+?.*at: {{PC}} +{{FUNC}}"),
    F(r"INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected", "possible deadlock in {0}",
      report=r"INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected \](?:.*\n)+?.*is trying to acquire"
             r"(?:.*\n)+?.*at: {{PC}} +{{FUNC}}"),
    F(r"INFO: possible recursive locking detected", "possible deadlock in {0}",
      report=r"INFO: possible recursive locking detected \](?:.*\n)+?.*is trying to acquire lock"
             r"(?:.*\n)+?.*at: {{PC}} +{{FUNC}}"),
    F(r"INFO: inconsistent lock state", "inconsistent lock state in {0}",
      report=r"INFO: inconsistent lock state \](?:.*\n)+?.*takes(?:.*\n)+?.*at: {{PC}} +{{FUNC}}"),
    # before 3.x: "INFO: rcu_sched_state detected stall on CPU 5"
    F(r"INFO: rcu_(?:preempt|sched|bh)(?:_state)? (?:self-)?detected(?: expedited)? stall",
      "INFO: rcu detected stall in {0}",
      alt=("stall in {0}",),
      stack=S(rx(r"apic_timer_interrupt"), RIP, PARSE, skip=("apic_timer_interrupt", "rcu"), ex=stall_frame,
              parts2=(rx(r"(?:apic_timer_interrupt|Exception stack|el1h_64_irq)"), PARSE),
              # s390 prints no interrupt frames: its PSW is the interrupted code (x86's RIP above)
              parts3=(rx(r"Krnl PSW : [0-9a-f]+ [0-9a-f]+ \({{FUNC}}"), CALL_TRACE, PARSE))),
    # RCU Tasks (kernel/rcu/tasks.h check_holdout_task()): the held-out task's stack follows.
    F(r"INFO: rcu_tasks detected stalls? on tasks", "INFO: rcu detected stall in {0}", alt=("stall in {0}",),
      stack=S(CALL_TRACE, PARSE, skip=("rcu",), ex=stall_frame)),
    F(r"INFO: trying to register non-static key", "INFO: trying to register non-static key in {0}",
      stack=S(CALL_TRACE, PARSE, skip=("stack", "lock", "IRQ"))),
    F(r"INFO: suspicious RCU usage", "INFO: suspicious RCU usage in {1}",
      report=r"INFO: suspicious RCU usage(?:.*\n)+?.*?{{SRC}}",
      stack=S(CALL_TRACE, PARSE, skip=("rcu", "kmem", "slab"))),
    # A task name with a newline byte in it splits the line (syzkaller's report 1001).
    F(r"INFO: task .*(?:\n.*)? blocked (?:in I/O wait )?for more than [0-9]+ seconds", "INFO: task hung in {0}",
      alt=("hang in {0}",), stack=S(CALL_TRACE, PARSE, ex=hang_frame)),
    F(r"INFO: task .* can't die for more than .* seconds", "INFO: task can't die in {0}",
      alt=("hang in {0}",), stack=S(CALL_TRACE, PARSE, skip=("schedule",))),
    F(r"INFO: (Freed|Allocated) in (.*)", "INFO: {0} in {1}", corrupted=True),
    F(r"INFO:\s*(?:\n|$)", "INFO: corrupted", corrupted=True),
), sup(r"INFO: lockdep is turned off", r"INFO: Stall ended before state dump start", r"INFO: NMI handler",
       r"INFO: recovery required on readonly filesystem", r"(handler|interrupt).*took too long",
       r"INFO: sys_.* is not present in /proc/kallsyms", r"INFO: no syscalls can create resource",
       r"rmt_storage:INFO:", r"_INFO:",
       # 6.14+ hung task detector (kernel/hung_task.c): the lock owner of the task it reports,
       # whose stack follows, inside that report ("is blocked on a mutex likely owned by task",
       # "blocked on a semaphore likely last held by task", "... but the owner is not found")
       r"INFO: task .*:\d+ (?:is )?(?:\w+ )?blocked on an? [\w-]+(?: likely|, but)"), "INFO")
