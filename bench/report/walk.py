"""Walk one report's lines: where it ends, its call trace, its faulting RIP and its taint.

Works on the lines of the report's own context, starting at its first line. A report ends at
"---[ end trace" (plus the register dump that follows it), at the closing ===== line of a
sanitizer report, or at the first line that cannot belong to it once its stack is finished.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

_FN = r"[A-Za-z_$][\w.$]*"


def _c(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# One stack frame: x86/arm64 "func+0x1/0x2", old "[<addr>] func+..", powerpc "[addr] [addr] func+..",
# arm32 "func from caller+0x.." (before 4.x "[<pc>] (func+0x..) from [<lr>] (caller+0x..)"),
# syzbot's symbolized "func file.c:12 [inline]", decode_stacktrace.sh's "func (file.c:12 file.h:3)"
# (it replaces the offset with the source lines: 0day/LKP reports print frames so).
FRAME = _c(
    r"\(?(?:\[<?[0-9a-f]+>?\] ){0,2}\(?(?P<q>\? )?\.?(?P<func>" + _FN + r")"
    r"(?:\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[[\w-]+\])?(?: \(\w\))?(?: (?P<file>[\w./-]+\.[chS]):\d+)?"
    r"| from [\w.$]+\+0x| (?P<ifile>[\w./-]+\.[chS]):\d+ \[inline\]| \((?P<dfile>[\w./-]+\.[chS]):\d+[ )])"
)
# The faulting instruction pointer, per architecture.
RIP = _c(
    r"(?:RIP: [0-9a-f]{4}:|PC is at |pc : |NIP \[[0-9a-f]+\] |EIP: (?:[0-9a-f]{4}:)?(?:\[<[0-9a-f]+>\] )?|IP: (?:\[<[0-9a-f]+>\] )?|RIP  \[<[0-9a-f]+>\] |epc +: [0-9a-f]+ |ERA: (?:[0-9a-f]+ )?|EIP is at |Krnl PSW : [0-9a-f]+ [0-9a-f]+ \()"
    r"\.?(?P<func>" + _FN + r")(?P<tail>\+0x[0-9a-f]+/0x[0-9a-f]+(?: \[[\w-]+\])?(?: (?P<file>[\w./-]+\.[chS]):\d+)?| \S+:\d+ \[inline\])"
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
    r"|Register r\d+ information|Process \S+ \(pid|Stack: \(|note: |Fixing recursive fault|={5,}|-{5,}|\(t=\d+"
    # a powerpc frame's addresses, its function wrapped onto the next line by a mail client
    r"|\[[0-9a-f]{8,16}\] \[[0-9a-f]{8,16}\]\s*$)"
)
# Lines allowed after "---[ end trace" (x86 repeats the registers, then maybe panics).
TAIL = _c(
    r"(?:RIP: |Code: |RSP: |R[A-Z0-9]{2}: |FS: |CS: |CR2: |DR\d: |PKRU: |Kernel panic|Kernel Offset|---\[ end Kernel panic"
    r"|CPU features|Memory Limit|PHYS_OFFSET|SMP: stopping|Rebooting in|note: |Fixing recursive fault|pc : |lr : |sp : |x\d+ ?: )"
)
MODULES = _c(r"Modules linked in:")
# One match tells what a report line is (the walk's hot path: one regex instead of nine); the
# RIP and FRAME groups are renamed r*/f* so they can share the pattern.
LINE = _c("|".join(f"(?P<{name}>{pattern})" for name, pattern in (
    ("end", END_TRACE.pattern), ("mod", MODULES.pattern), ("stack", STACK_MARKER.pattern),
    ("impl", IMPLICIT_MARKER.pattern), ("sec", SECONDARY_MARKER.pattern), ("deco", DECORATION.pattern),
    ("rip", RIP.pattern.replace("?P<", "?P<r")), ("frame", FRAME.pattern.replace("?P<", "?P<f")),
    ("cont", CONTINUATION.pattern))))
TAINT_FIELD = _c(r"Tainted: ((?:[A-Z] +)+)")
TAINT_BRACKET = _c(r"\[([A-Z])\]=")
# Kernel order of taint letters (kernel/panic.c taint_flags); G is "no taint" so it is dropped.
TAINT_ORDER = "PFSRMBUDAWCIOELKXTNJ"

# Reporting machinery and generic plumbing: never the guilty function (exact names, prefixes);
# syzkaller's skip list (bench/report/frames.py) is the other half of is_helper().
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

MAX_REPORT_LINES = 400  # a report never takes more lines of its context than this
GAP = 100  # this many lines of other contexts in a row end a report
BLOCK = 32  # lines the log strips at a time


FOLLOW = 3  # lines of other contexts looked past for the frame after a line inside a stack


def _frame_follows(items: list[tuple[str, str]], ensure: Callable[[int, int], None], j: int, hi: int,
                   ctx: str) -> bool:
    """Is the next line of context `ctx` after position j a stack frame? Then the unknown line
    before it is another writer's, printed between two frames of the report (a log without
    caller ids: "ipt_CLUSTERIP: unknown mode 3" inside a WARNING's panic stack), and the stack
    goes on; syzkaller's parseStackTrace also passes over lines that are no frame."""
    stop = min(j + FOLLOW + 1, hi)
    ensure(j, stop)
    for text, c in items[j:stop]:
        if c == ctx:
            return line_info(text.strip())[0] == "frame"
    return False


def continues(prev: str | None, text: str) -> bool:
    """Does an unprefixed line continue the record of the line of the report's context just
    before it (prev; None when the line before was another context's)? It does when it is blank
    or indented (the record's own next line), or when prev ends in a blank: a mail client wrapped
    the line there ("[c0000000e5adfd90] [c0080000073c359c] " / "loop_process_work+0x594/0x630")."""
    return prev is not None and (not text.strip() or text[:1].isspace() or prev[-1:] == " ")


def base_func(name: str) -> str:
    return name.split(".", 1)[0]  # drop compiler clone suffixes: .isra.0, .cold, .constprop.0


@dataclass
class Walk:
    """The state of one report's walk (mutable; read by the scanner when the walk ends)."""

    banner: bool = False  # a sanitizer-style report: it ends at its closing ===== line
    end_unindented: bool = False  # kmemleak style: ends at the first flush-left line
    taken: list[int] = field(default_factory=list)  # positions (in the walked list) taken
    rip: tuple[str, str] | None = None
    primary: list[tuple[str, str]] = field(default_factory=list)
    implicit: list[tuple[str, str]] = field(default_factory=list)
    taint: set[str] = field(default_factory=set)
    state: str = "none"  # none | explicit | secondary
    explicit_seen: bool = False
    implicit_done: bool = False
    tail: bool = False
    in_modules: bool = False

    @property
    def frames(self) -> list[tuple[str, str]]:
        return self.primary or self.implicit

    def run(self, items: list[tuple[str, str]], ensure: Callable[[int, int], None], start: int, hi: int,
            ctx: str) -> None:
        """Walk the lines of context `ctx` in items[start:hi] (prefix-stripped (text, context)
        pairs, filled by ensure(lo, hi)) until the report ends: after GAP lines of other contexts
        in a row, or at a line that cannot belong to it. Indented unprefixed lines right after a
        line of `ctx` continue its multi-line record. One loop for the hot path: a frame inside a
        call trace costs no call."""
        taken = self.taken
        prev: str | None = None
        i = last = start
        while i < hi and i - last <= GAP:
            stop = min(i + BLOCK, hi)
            ensure(i, stop)
            for text, c in items[i:stop]:
                if c == ctx or (not c and continues(prev, text)):
                    prev = text
                    last = i
                    t = text.strip()
                    if len(taken) >= MAX_REPORT_LINES:
                        return
                    kind, tail_ok, entry, taint = _INFO.get(t) or line_info(t)
                    if self.tail:
                        if not tail_ok:
                            return
                    elif kind == "end":
                        self.tail = True
                    elif self.banner and len(taken) > 1 and t.startswith("=" * 20):
                        self.tail = True  # only a panic line may still follow
                    elif self.end_unindented and self.implicit and t and not text[:1].isspace():
                        return
                    elif kind == "mod":
                        self.in_modules = True
                    elif not (self.in_modules and text[:1].isspace()):
                        self.in_modules = False
                        if kind == "frame" and self.state == "explicit":
                            if entry is not None:  # None: unreliable "? " frames and [inline] frames
                                self.primary.append(entry)
                        elif t and kind != "deco" and kind != "cont" and self._track(kind, entry) \
                                and self.primary and self.state == "explicit" and not self.banner:
                            if not _frame_follows(items, ensure, i + 1, hi, ctx):
                                return  # the line after a finished stack is not ours (old kernels: no </TASK>)
                            i += 1  # another writer's line inside the stack: not the report's
                            continue
                    taken.append(i)
                    if taint:
                        self.taint.update(taint)
                elif c:
                    prev = None
                i += 1

    def _track(self, kind: str | None, entry: tuple[str, str] | None) -> bool:
        """Update the stack state for one non-blank line; True for a line of no known kind."""
        if kind == "frame":
            if entry is not None:  # None: unreliable "? " frames and [inline] frames
                if self.state == "explicit":
                    self.primary.append(entry)
                elif self.state == "none" and not self.implicit_done:
                    self.implicit.append(entry)
        elif kind == "stack":
            self.state = "secondary" if self.explicit_seen else "explicit"
            self.explicit_seen = True
        elif kind == "impl" or kind == "sec":
            self.implicit_done = self.implicit_done or bool(self.implicit)
            self.state = "none" if kind == "impl" else "secondary"
        elif kind == "rip":
            if entry is not None:
                if self.state == "explicit" and self.primary:
                    self.primary.append(entry)  # the interrupted context inside a stack
                elif self.rip is None:
                    self.rip = entry
        else:
            if self.implicit:
                self.implicit_done = True
            return True
        return False


# What a stripped report line is: (LINE kind, allowed after "---[ end trace", RIP or frame
# entry, taint letters). Cached per distinct text: reports repeat their frames, markers and
# register labels, within a log and across logs.
LineInfo = tuple[str | None, bool, tuple[str, str] | None, tuple[str, ...]]
_INFO: dict[str, LineInfo] = {}
_INFO_MAX = 1 << 15


def line_info(t: str) -> LineInfo:
    info = _INFO.get(t)
    if info is not None:
        return info
    m = LINE.match(t)
    kind = m.lastgroup if m else None
    entry = None
    if m is not None and kind == "rip" and not m.group("rtail").startswith(" "):  # [inline] RIPs: never raw
        entry = (base_func(m.group("rfunc")), m.group("rfile") or "")
    elif m is not None and kind == "frame" and not (m.group("fq") or m.group("fifile")):
        entry = (base_func(m.group("ffunc")), m.group("ffile") or m.group("fdfile") or "")
    taint: tuple[str, ...] = ()
    if "Tainted: " in t:
        field_ = TAINT_FIELD.search(t)
        taint = tuple(c for c in field_.group(1) if c.isalpha()) if field_ else ()
        taint += tuple(TAINT_BRACKET.findall(t))
    info = (kind, not t or TAIL.match(t) is not None, entry, taint)
    if len(_INFO) >= _INFO_MAX:
        _INFO.clear()
    _INFO[t] = info
    return info
