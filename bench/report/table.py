"""The oops table: which console lines start a kernel report and how each is titled.

Data only (see bench/report/scanner.py for the scanner that walks it). Modelled on syzkaller's
pkg/report linuxOopses: an ordered list of header patterns, each with a title template and a
rule for picking the guilty function, plus the helper-function list used to skip frames that
belong to the reporting machinery rather than to the bug.

Patterns are matched with ``re.match`` against a line whose printk/syslog prefix has been
stripped and whose leading blanks are removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OopsFormat:
    """One row of the table.

    ``type``/``title``/``detail`` are ``str.format`` templates over the header's named groups,
    the body fields, ``func`` (the guilty function) and ``kind`` (BUG or WARN, for dumps whose
    macro is only known once the BUG/WARNING line arrives).
    """

    type: str
    header: re.Pattern[str]
    title: str
    detail: str = ""
    rank: int = 1  # when two headers merge into one report, the higher rank names it
    absorbs: frozenset[str] = frozenset()  # types of later headers folded into this report...
    window: int = 0  # ...when they arrive within this many lines of its header
    func_from: tuple[str, ...] = ("header", "rip", "stack")
    file_from_header: bool = False  # the header's FILE:LINE is where the check fired
    banner: bool = False  # sanitizer style: the report ends at its closing ===== line
    end_unindented: bool = False  # kmemleak style: the report ends at the first flush-left line
    # (field, pattern, only after a line matching this) -> first match wins
    body: tuple[tuple[str, re.Pattern[str], re.Pattern[str] | None], ...] = field(default=())

    @property
    def wants_func(self) -> bool:
        return "{func}" in self.title


def _c(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# A function name as printed by %pS (no leading digit, so 0x... addresses never match).
_FN = r"[A-Za-z_$][\w.$]*"
# Optional "+0x1a/0x30", " [module]" and syzbot's symbolized " path/file.c:123" after a symbol.
_SYM_TAIL = r"(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?(?: \[[\w-]+\])?(?: (?P<hfile>[\w./-]+\.[chS]):\d+)?"

# "at: func+0x.." in lockdep lock descriptions; [inline] entries (no +0x) are skipped on purpose
# because a raw console never has them and titles must match across symbolized/raw logs.
_LOCK_AT = _c(r".*, at: (?P<v>" + _FN + r")\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[[\w-]+\])?(?: (?P<f>[\w./-]+\.[chS]):\d+)?")
_HELD = _c(r"but task is already holding lock:")
_DEADLOCK_BODY = (("held", _LOCK_AT, _HELD), ("lock", _LOCK_AT, None))
_COMPANIONS = frozenset({"BUG", "WARNING", "OOPS"})

F = OopsFormat
OOPS_TABLE: tuple[OopsFormat, ...] = (
    # dump_page()/dump_vma()/dump_mm() print their block *before* the BUG()/WARN() line.
    F("VM_{kind}_ON_{obj}",
      _c(r"page dumped because: (?P<macro>VM_(?P<kind>BUG|WARN)_ON(?:_ONCE)?_(?P<obj>PAGE|FOLIO))\((?P<cond>.*)\)\s*$"),
      "{macro}({cond}) in {func}", detail="{macro}({cond})", rank=9, absorbs=_COMPANIONS,
      window=80, file_from_header=True),
    F("VM_{kind}_ON_VMA", _c(r"vma [0-9a-f]{8,} start [0-9a-f]{8,} end [0-9a-f]{8,}"),
      "VM_{kind}_ON_VMA in {func}", rank=9, absorbs=_COMPANIONS, window=16, file_from_header=True),
    F("VM_{kind}_ON_MM", _c(r"mm [0-9a-f]{8,} task_size \d+"),
      "VM_{kind}_ON_MM in {func}", rank=9, absorbs=_COMPANIONS, window=60, file_from_header=True),
    # Sanitizers.
    F("KASAN", _c(r"BUG: KASAN: (?P<what>.+?) in (?P<hfunc>" + _FN + ")" + _SYM_TAIL),
      "KASAN: {what} {access} in {func}", detail="{what} {access}", rank=8, banner=True,
      body=(("access", _c(r"(?P<v>Read|Write) of size"), None),)),
    F("KFENCE", _c(r"BUG: KFENCE: (?P<what>.+?) in (?P<hfunc>" + _FN + ")" + _SYM_TAIL),
      "KFENCE: {what} in {func}", detail="{what}", rank=8, banner=True),
    F("KMSAN", _c(r"BUG: KMSAN: (?P<what>.+?) in (?P<hfunc>" + _FN + ")" + _SYM_TAIL),
      "KMSAN: {what} in {func}", detail="{what}", rank=8, banner=True),
    F("KCSAN", _c(r"BUG: KCSAN: (?P<what>.+?) in (?P<hfunc>" + _FN + ")"),
      "KCSAN: {what} in {func}", detail="{what}", rank=8, banner=True),
    F("UBSAN", _c(r"UBSAN: (?P<what>.+?) in (?P<hfile>[^\s:]+):\d+"),
      "UBSAN: {what} in {func}", detail="{what}", rank=8, banner=True,
      func_from=("stack",), file_from_header=True),
    # Page state.
    F("BAD_PAGE", _c(r"BUG: Bad page state in process "), "BUG: Bad page state in {func}",
      rank=6, func_from=("stack",)),
    F("BAD_PAGE", _c(r"BUG: Bad page map in process "), "BUG: Bad page map in {func}",
      rank=6, func_from=("stack",)),
    F("BAD_PAGE", _c(r"BUG: Bad rss-counter state "), "BUG: Bad rss-counter state", rank=6),
    # Messages printed next to a WARN()/BUG() line (before it on new kernels, after on old ones).
    F("REFCOUNT", _c(r"refcount_t: (?P<what>.+?)\.?\s*$"), "WARNING: refcount bug in {func}",
      detail="{what}", rank=7, absorbs=frozenset({"WARNING"}), window=2),
    F("LIST_CORRUPTION", _c(r"list_(?:add|del) (?:corruption|double add)"),
      "BUG: corrupted list in {func}", rank=7, absorbs=_COMPANIONS, window=4),
    # Lockdep and friends (before the generic WARNING rows: they start with "WARNING:").
    F("LOCKDEP", _c(r"WARNING: possible circular locking dependency detected"),
      "possible deadlock in {func}", rank=6, func_from=("held", "lock", "stack"), body=_DEADLOCK_BODY),
    F("LOCKDEP", _c(r"WARNING: possible recursive locking detected"),
      "possible deadlock in {func}", rank=6, func_from=("held", "lock", "stack"), body=_DEADLOCK_BODY),
    F("LOCKDEP", _c(r"WARNING: (?:possible irq lock inversion dependency|(?:SOFT|HARD)IRQ-(?:READ-)?safe -> (?:SOFT|HARD)IRQ-(?:READ-)?unsafe lock order) detected"),
      "possible deadlock in {func}", rank=6, func_from=("lock", "stack"), body=_DEADLOCK_BODY),
    F("LOCKDEP", _c(r"WARNING: inconsistent lock state"), "inconsistent lock state in {func}",
      rank=6, func_from=("lock", "stack"), body=_DEADLOCK_BODY),
    F("LOCKDEP", _c(r"WARNING: suspicious RCU usage"), "WARNING: suspicious RCU usage in {func}",
      rank=6, func_from=("stack",)),
    F("LOCKDEP", _c(r"WARNING: bad unlock balance detected!"), "WARNING: bad unlock balance in {func}",
      rank=6, func_from=("stack",)),
    F("LOCKDEP", _c(r"WARNING: held lock freed!"), "WARNING: held lock freed in {func}",
      rank=6, func_from=("stack",)),
    F("LOCKDEP", _c(r"WARNING: lock held when returning to user space!"),
      "WARNING: lock held when returning to user space in {func}", rank=6,
      func_from=("lock", "stack"), body=_DEADLOCK_BODY),
    F("LOCKDEP", _c(r"BUG: sleeping function called from invalid context at (?P<hfile>[^\s:]+):\d+"),
      "BUG: sleeping function called from invalid context in {func}", rank=6, func_from=("stack",)),
    F("LOCKDEP", _c(r"BUG: scheduling while atomic: "), "BUG: scheduling while atomic in {func}",
      rank=6, func_from=("stack",)),
    F("LOCKDEP", _c(r"INFO: trying to register non-static key"),
      "INFO: trying to register non-static key in {func}", rank=6, func_from=("stack",)),
    # WARN(): old "CPU: N PID: N at FILE:LINE func", older "at FILE:LINE func()", and the 6.19+
    # "FILE:LINE at func+0x.., CPU#N: comm/pid" form.
    F("WARNING", _c(r"WARNING: CPU: \d+ PID: \d+ at (?:(?P<hfile>[^\s:]+):\d+ )?(?:(?P<hfunc>" + _FN + r"))?"),
      "WARNING in {func}", rank=2, absorbs=frozenset({"REFCOUNT", "LIST_CORRUPTION"}), window=1,
      file_from_header=True),
    F("WARNING", _c(r"WARNING: (?P<hfile>[^\s:]+):\d+ at (?:(?P<hfunc>" + _FN + r")\+0x\S*|\S+).*, CPU#\d+: "),
      "WARNING in {func}", rank=2, absorbs=frozenset({"REFCOUNT", "LIST_CORRUPTION"}), window=1,
      file_from_header=True),
    F("WARNING", _c(r"WARNING: at (?P<hfile>[^\s:]+):\d+ (?P<hfunc>" + _FN + ")"),
      "WARNING in {func}", rank=2, absorbs=frozenset({"REFCOUNT", "LIST_CORRUPTION"}), window=1,
      file_from_header=True),
    F("BUG", _c(r"[Kk]ernel BUG at (?P<hfile>[^\s:]+):\d+"), "kernel BUG in {func}", rank=3,
      absorbs=frozenset({"OOPS"}), window=4, func_from=("rip", "stack"), file_from_header=True),
    # Faults.
    F("PAGE_FAULT", _c(r"BUG: (?:kernel NULL pointer dereference, address|unable to handle kernel NULL pointer dereference)"),
      "BUG: unable to handle kernel NULL pointer dereference in {func}", rank=4,
      absorbs=frozenset({"OOPS"}), window=24, func_from=("rip", "stack")),
    F("PAGE_FAULT", _c(r"BUG: unable to handle (?:page fault for address|kernel paging request)"),
      "BUG: unable to handle kernel paging request in {func}", rank=4,
      absorbs=frozenset({"OOPS"}), window=24, func_from=("rip", "stack")),
    F("PAGE_FAULT", _c(r"Unable to handle kernel NULL pointer dereference at virtual address"),
      "BUG: unable to handle kernel NULL pointer dereference in {func}", rank=4,
      absorbs=frozenset({"OOPS"}), window=24, func_from=("rip", "stack")),
    F("PAGE_FAULT", _c(r"Unable to handle kernel paging request at virtual address"),
      "BUG: unable to handle kernel paging request in {func}", rank=4,
      absorbs=frozenset({"OOPS"}), window=24, func_from=("rip", "stack")),
    F("PAGE_FAULT", _c(r"Unable to handle kernel (?P<what>[a-z -]+?) at virtual address"),
      "Unable to handle kernel {what} in {func}", rank=4,
      absorbs=frozenset({"OOPS"}), window=24, func_from=("rip", "stack")),
    F("GPF", _c(r"(?:Oops: )?general protection fault\b"), "general protection fault in {func}",
      rank=4, func_from=("rip", "stack")),
    F("GPF", _c(r"(?:Oops: )?stack segment: "), "stack segment fault in {func}",
      rank=4, func_from=("rip", "stack")),
    F("OOPS", _c(r"(?:Oops: )?(?P<what>invalid opcode|divide error|int3)(?:: [0-9a-f]+)? \[#\d+\]"),
      "{what} in {func}", rank=1, func_from=("rip", "stack")),
    F("OOPS", _c(r"(?:Internal error: )?Oops(?: - \w+)?: .*\[#\d+\]"), "Oops in {func}",
      rank=1, func_from=("rip", "stack")),
    # Hangs.
    F("HUNG_TASK", _c(r"INFO: task .+:\d+ blocked for more than \d+ seconds"),
      "INFO: task hung in {func}", rank=5, func_from=("stack",)),
    F("RCU_STALL", _c(r"(?:rcu: )?INFO: rcu\w* (?:self-detected stall|detected stall|detected expedited stall)"),
      "INFO: rcu detected stall in {func}", rank=5, func_from=("stack", "rip")),
    F("SOFT_LOCKUP", _c(r"(?:(?:NMI )?watchdog: )?BUG: soft lockup - CPU#\d+ stuck for \d+s!"),
      "BUG: soft lockup in {func}", rank=5, func_from=("rip", "stack")),
    F("HARD_LOCKUP", _c(r"(?:(?:NMI )?watchdog: )?Watchdog detected hard LOCKUP on cpu \d+"),
      "BUG: hard lockup in {func}", rank=5, func_from=("rip", "stack")),
    F("KMEMLEAK", _c(r"unreferenced object 0x[0-9a-f]+ \(size \d+\):"), "memory leak in {func}",
      rank=5, func_from=("stack",), end_unindented=True),
    F("BUG", _c(r"(?:BUG: stack guard page was hit at|kernel stack overflow)"),
      "BUG: stack overflow in {func}", rank=3, func_from=("rip", "stack")),
    F("BUG", _c(r"BUG: using (?P<what>__this_cpu_\w+\(\)|smp_processor_id\(\)) in preemptible"),
      "BUG: using {what} in preemptible code in {func}", rank=3, func_from=("stack",)),
    F("BUG", _c(r"BUG (?P<cache>[\w-]+) \((?:Not tainted|Tainted: [^)]*)\): (?P<what>.+)"),
      "SLUB: {what} in {func}", detail="{cache}: {what}", rank=3, func_from=("stack",)),
    F("PANIC", _c(r"Kernel panic - not syncing: (?P<msg>.*?)\s*$"), "kernel panic: {msg}",
      detail="{msg}", rank=0, func_from=()),
    # Anything else the kernel calls a BUG: keep it, titled by its (normalised) message.
    F("BUG", _c(r"BUG: (?P<msg>.+?)\s*$"), "BUG: {msg}", detail="{msg}", rank=3, func_from=()),
)

# Cheap first test for every console line: does it start like any header above?
HEADER_PREFILTER = _c(
    r"(?:WARNING: |BUG[: ]|page dumped because: VM_|vma [0-9a-f]|mm [0-9a-f]|refcount_t: |list_(?:add|del) "
    r"|[Kk]ernel (?:BUG|panic|stack)|INFO: |rcu: INFO: |general protection|(?:Oops: )?(?:invalid opcode|divide error|int3|stack segment)"
    r"|Oops|Internal error: |Unable to handle kernel|UBSAN: |(?:NMI )?watchdog: |Watchdog detected|unreferenced object)"
)

# Panic messages that are the consequence of an earlier report (they get attached to it).
CONSEQUENCE_PANIC = _c(
    r"(?:Fatal exception|Attempted to kill (?:the idle task|init)|panic_on_warn set|softlockup: hung tasks"
    r"|hung_task: blocked tasks|Hard LOCKUP|RCU Stall|kasan\.fault|KFENCE|UBSAN|Oops|corrupted stack end)"
)

# --- stack parsing ----------------------------------------------------------------------------

# One stack frame: x86/arm64 "func+0x1/0x2", old "[<addr>] func+..", powerpc "[addr] [addr] func+..",
# arm32 "func from caller+0x..", syzbot's symbolized "func file.c:12 [inline]".
FRAME = _c(
    r"\(?(?:\[<?[0-9a-f]+>?\] ){0,2}(?P<q>\? )?(?P<func>" + _FN + r")"
    r"(?:\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[[\w-]+\])?(?: \(\w\))?(?: (?P<file>[\w./-]+\.[chS]):\d+)?"
    r"| from [\w.$]+\+0x| (?P<ifile>[\w./-]+\.[chS]):\d+ \[inline\])"
)
# The faulting instruction pointer, per architecture.
RIP = _c(
    r"(?:RIP: [0-9a-f]{4}:|PC is at |pc : |NIP \[[0-9a-f]+\] |EIP: (?:[0-9a-f]{4}:)?(?:\[<[0-9a-f]+>\] )?|IP: (?:\[<[0-9a-f]+>\] )?|RIP  \[<[0-9a-f]+>\] |epc : [0-9a-f]+ |ERA: )"
    r"(?P<func>" + _FN + r")(?P<tail>\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[[\w-]+\])?(?: (?P<file>[\w./-]+\.[chS]):\d+)?| \S+:\d+ \[inline\])"
)
STACK_MARKER = _c(r"(?:Call Trace|Call trace|Backtrace):?\s*$")
IMPLICIT_MARKER = _c(r"backtrace(?: \(crc [0-9a-f]+\))?:\s*$")  # kmemleak
SECONDARY_MARKER = _c(
    r"(?:Allocated by task|Freed by task|allocated by task|freed by task|Uninit was (?:created|stored)"
    r"|Local variable|Last potentially related|Second to last potentially|page last (?:allocated|free)"
    r"|page_owner |The buggy address|Memory state around|-> #\d+|Preemption disabled at|irq event stamp"
    r"|\{[A-Z-]+\} state was registered at|Showing all locks|NMI backtrace for cpu|Task dump for CPU)"
)
DECORATION = _c(r"</?(?:TASK|IRQ|NMI|SOFTIRQ|EOI)>\s*$")
BANNER = _c(r"(?:={20,}|-{20,})\s*$")
CUT_HERE = _c(r"-+\[ cut here \]-+\s*$")
END_TRACE = _c(r"---\[ end trace")
# Lines that still belong to a report after its stack (so they do not end it).
CONTINUATION = _c(
    r"(?:Modules linked in|---\[ end |RIP: |Code: |RSP: |R[A-Z0-9]{2}: |[ER]?[A-Z]{2}: [0-9a-f]|FS: |CS: |CR2: |DR\d: "
    r"|PKRU: |EFLAGS|Kernel panic|Kernel Offset|CPU features|Memory Limit|PHYS_OFFSET|SMP: stopping"
    r"|Rebooting in|Allocated by|Freed by|Last potentially|Second to last|The buggy address|Memory state"
    r"|Call [Tt]race|NMI backtrace|Sending NMI|CPU: \d|Hardware name|Workqueue: |Showing all locks"
    r"|\d+ locks? held by|#\d+: |INFO: lockdep|other info|irq event stamp|hardirqs |softirqs "
    r"|Disabling lock debugging|task:\S+|rcu: |Exception stack|[0-9a-f]{4}: |pc : |lr : |sp : |x\d+ ?: "
    r"|Tainted: |Uninit was|Local variable|page last|page_owner|LR is at|r\d+ ?: |Flags: |Control: "
    r"|Register r\d+ information|Process \S+ \(pid|Stack: \(|note: |Fixing recursive fault|={5,}|-{5,}|\(t=\d+)"
)
# Lines allowed after "---[ end trace" (x86 repeats the registers, then maybe panics).
TAIL = _c(
    r"(?:RIP: |Code: |RSP: |R[A-Z0-9]{2}: |FS: |CS: |CR2: |DR\d: |PKRU: |Kernel panic|Kernel Offset|---\[ end Kernel panic"
    r"|CPU features|Memory Limit|PHYS_OFFSET|SMP: stopping|Rebooting in|note: |Fixing recursive fault|pc : |lr : |sp : |x\d+ ?: )"
)
MODULES = _c(r"Modules linked in:")
TAINT_FIELD = _c(r"Tainted: ((?:[A-Z] +)+)")
TAINT_BRACKET = _c(r"\[([A-Z])\]=")
# Kernel order of taint letters (kernel/panic.c taint_flags); G is "no taint" so it is dropped.
TAINT_ORDER = "PFSRMBUDAWCIOELKXTNJ"

# --- guilty-frame selection ------------------------------------------------------------------

# Reporting machinery and generic plumbing: never the guilty function (cf. syzkaller's stack
# "skip" lists). Exact names, then prefixes.
SKIP_FUNCS: frozenset[str] = frozenset({
    "__warn", "warn_slowpath_fmt", "warn_slowpath_null", "__warn_printk", "report_bug", "handle_bug",
    "exc_invalid_op", "do_trap", "do_error_trap", "do_invalid_op", "die", "__die", "die_addr",
    "dump_stack", "dump_stack_lvl", "__dump_stack", "show_stack", "show_regs", "unwind_backtrace",
    "dump_backtrace", "show_trace_log_lvl", "dump_page", "__dump_page", "dump_vma", "dump_mm",
    "panic", "nmi_panic", "bad_page", "free_page_is_bad", "free_page_is_bad_report", "check_new_page",
    "check_new_pages", "check_free_page", "print_bad_pte", "vm_normal_page", "print_bad_page_map",
    "refcount_warn_saturate", "__refcount_add", "__refcount_inc", "__refcount_sub_and_test",
    "__refcount_dec_and_test", "refcount_inc", "refcount_dec_and_test", "refcount_add",
    "__list_add_valid", "__list_del_entry_valid", "__list_add_valid_or_report",
    "__list_del_entry_valid_or_report", "list_add", "list_del", "__list_add", "__list_del_entry",
    "__might_sleep", "___might_sleep", "__might_resched", "__might_fault", "might_fault", "might_sleep",
    "lockdep_rcu_suspicious", "print_circular_bug", "check_noncircular", "check_prev_add",
    "check_prevs_add", "validate_chain", "__lock_acquire", "lock_acquire", "lock_release",
    "print_usage_bug", "mark_lock", "register_lock_class", "__lock_release",
    "kasan_report", "__kasan_report", "kasan_check_range", "check_memory_region", "print_report",
    "print_address_description", "kasan_report_invalid_free", "kfence_report_error",
    "kmsan_report", "kmsan_internal_report", "ubsan_epilogue",
    "__schedule", "schedule", "schedule_timeout", "io_schedule", "io_schedule_timeout",
    "schedule_preempt_disabled", "preempt_schedule", "preempt_schedule_common",
    "nmi_cpu_backtrace", "nmi_trigger_cpumask_backtrace", "arch_trigger_cpumask_backtrace",
    "rcu_dump_cpu_stacks", "print_cpu_stall", "check_cpu_stall", "rcu_pending",
    "rcu_sched_clock_irq", "update_process_times", "tick_sched_handle", "tick_sched_timer",
    "__hrtimer_run_queues", "hrtimer_interrupt", "__sysvec_apic_timer_interrupt",
    "sysvec_apic_timer_interrupt", "smp_apic_timer_interrupt", "apic_timer_interrupt",
    "irq_exit", "irq_exit_rcu", "__irq_exit_rcu", "__do_softirq", "do_softirq", "handle_softirqs",
    "invoke_softirq", "watchdog_timer_fn", "watchdog_overflow_callback", "kmemleak_alloc",
    "kthread", "ret_from_fork", "ret_from_fork_asm", "worker_thread", "process_one_work",
    "do_syscall_64", "do_syscall_x64", "x64_sys_call", "entry_SYSCALL_64_after_hwframe",
    "entry_SYSCALL_64_fastpath", "el0_svc", "el0_svc_common", "do_el0_svc", "invoke_syscall",
    "bit_wait", "bit_wait_io", "out_of_line_wait_on_bit", "wait_for_completion", "wait_on_page_bit",
    "wait_on_page_bit_common", "folio_wait_bit", "folio_wait_bit_common", "__folio_lock", "folio_lock",
    "__lock_page", "lock_page",
})
SKIP_PREFIXES: tuple[str, ...] = (
    "__pfx_", "asm_", "kasan_", "__kasan_", "__asan_", "__msan_", "kmsan_", "__ubsan_handle_",
    "kfence_", "dump_stack", "__warn", "warn_", "_raw_", "do_raw_", "queued_spin", "__mutex_lock",
    "mutex_lock", "down_read", "down_write", "rwsem_down", "__down", "__rt_mutex", "rt_mutex",
    "percpu_down", "__percpu_down", "__wait_for_common", "wait_for_common", "do_wait_for_common",
    "wait_for_completion", "__flush_work", "flush_work", "__synchronize_srcu", "synchronize_rcu",
    "wait_rcu_gp", "__wait_rcu_gp", "__wait_on_bit", "rmqueue", "get_page_from_freelist",
    "__alloc_pages", "alloc_pages", "__alloc_frozen_pages", "__free_pages", "free_pages",
    "free_unref_", "free_pcppages", "__folio_put", "folio_put", "__put_page", "put_page",
    "release_pages", "__kmalloc", "kmalloc", "kmem_cache_alloc", "__kmem_cache_alloc", "slab_",
    "kzalloc", "kvmalloc", "__kvmalloc", "krealloc", "__vmalloc", "vmalloc", "kmemleak_",
    "sysvec_", "__sysvec_", "handle_irq_event", "__handle_irq_event", "handle_edge_irq",
    "handle_fasteoi_irq", "__common_interrupt", "common_interrupt", "lapic_", "x86_64_start",
    "secondary_startup", "start_secondary", "cpu_startup_entry", "do_idle", "entry_SYSCALL",
    "el0t_", "el0_", "el1_", "el1h_", "lock_acquire", "lockdep_",
)
