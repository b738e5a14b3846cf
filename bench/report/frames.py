"""Guilty-frame extraction, the way syzkaller's pkg/report picks the frame of a title.

A title format names a sequence of *parts* to walk through the report text: a regex that must
match a later line (and may capture a frame, e.g. the RIP: line), or PARSE, which reads a stack
trace from there to the next stack-start keyword. The first captured frame that is not a
helper (reporting machinery, locking, string and allocation wrappers...) names the title; a
format may instead pick it with an extractor (stalls and hangs look deeper in the stack).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache

PC = r"\[\<?(?:0x)?[0-9a-f]+\>?\]"
# powerpc64 ELFv1 kernels (big-endian) name text symbols with a leading dot: ".schedule+0x.."
FUNC = r"\.?([a-zA-Z0-9_]+)(?:\.|\+)"
SRC = r"([a-zA-Z0-9-_/.]+\.[a-z]+:[0-9]+)"


def rx(pattern: str) -> re.Pattern[str]:
    """Compile with syzkaller's placeholders: {{PC}}, {{FUNC}} (captured), {{SRC}}, {{ADDR}}."""
    return re.compile(pattern.replace("{{PC}}", PC).replace("{{FUNC}}", FUNC)
                      .replace("{{SRC}}", SRC).replace("{{ADDR}}", "0x[0-9a-f]+"))


PARSE = re.compile(r"(?!)")  # marker part: "parse a stack trace from here"
# The faulting PC; the code segment may be hex (Xen PV guests print "RIP: e030:").
# i386 before 2.6.3x: "EIP is at schedule+0x7cd/0x950". s390 prints the PSW (mask, address) and
# the function: "Krnl PSW : 0704c00180000000 0000000134f026d0 (mutex_lock+0x10/0x28)". MIPS and
# LoongArch print the address, then the function: "epc   : 8048b3a4 __dev_fwnode+0x0/0xc",
# "   ERA: ffff80000200be34 foo+0x74/0x200".
# decode_stacktrace.sh replaces the RIP's offset too: "RIP: func (mm/huge_memory.c:2059 ...)" (2015),
# "RIP: 0010:iput.cold (fs/inode.c:1746 (discriminator 1))" (since 4.x, with the code segment).
RIP = rx(r"(?:(?:IP|NIP|pc |PC is at|EIP is at):? (?:(?:[0-9a-f]+:)?(?:{{PC}} +){0,2}{{FUNC}}|(?:[0-9]+:)?0x[0-9a-f]+"
         r"|(?:[0-9a-f]{4}:)?([a-zA-Z0-9_]+)(?:\.[a-zA-Z0-9_.]+)? \([\w./-]+\.[chS]:\d+[ )]"
         r"|(?:[0-9]+:)?{{PC}} +\[< *\(null\)>\] +\(null\)|[0-9]+: +\(null\))|Krnl PSW : [0-9a-f]+ [0-9a-f]+ \({{FUNC}}"
         r"|(?:epc|ERA) *: [0-9a-f]{8,16} {{FUNC}})")
RISCV_STACK = re.compile(r"status: [0-9a-f]{16} badaddr: [0-9a-f]{16} cause: [0-9a-f]{16}")
# arm32's unwinder (CONFIG_ARM_UNWIND) prints no "Backtrace:" before a dump_stack() trace: its first
# frame starts it ("(unwind_backtrace) from (show_stack+..)", since 5.x "unwind_backtrace from
# show_stack+.."; 6.x kernels may print "Call trace:" before it, and then that line starts it).
ARM_UNWIND = r"\(unwind_backtrace(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?\) from |^ *unwind_backtrace from show_stack"
# riscv's die() prints its frames right after the status/badaddr/cause line, without "Call Trace:"
CALL_TRACE = re.compile(r"Call (?:T|t)race:|Backtrace:|" + RISCV_STACK.pattern + "|" + ARM_UNWIND)
# A line that starts a stack and is itself a frame (ARM_UNWIND) only ends a stack that has frames.
STACK_START = re.compile(
    r"Call (?:T|t)race|Allocated:|Allocated by task [0-9]+:|Freed:|Freed by task [0-9]+:"
    r"|[^k] backtrace(?: \(crc [0-9a-fA-F]*\))?:|Backtrace:|Uninit was stored to memory at|" + RISCV_STACK.pattern
    + "|" + ARM_UNWIND)
# arm: two frames a line, "[<pc>] (f) from [<lr>] (g+0x..)"; before 4.x "(f+0x../0x..)" too
ARM_FRAMES = rx(r"^ *{{PC}} \(([a-zA-Z0-9_.]+)(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?\) from {{PC}} \({{FUNC}}")
FRAME_RES = (rx(r"^ *(?:{{PC}} ){0,2}{{FUNC}}"),
             ARM_FRAMES,
             re.compile(r"^ *([a-zA-Z0-9_]+)(?:\.[a-zA-Z0-9_.]+)? from [a-zA-Z0-9_.]+\+0x"),  # arm since 5.x
             # decode_stacktrace.sh: "func (file.c:12 file.h:3)" instead of "func+0x1/0x2"
             re.compile(r"^ *([a-zA-Z0-9_]+)(?:\.[a-zA-Z0-9_.]+)? \([\w./-]+\.[chS]:\d+[ )]"))
CORRUPTED_LINE = re.compile(r"^( \[\<?(?:0x)?[0-9a-f]+\>?\])? should_fail(slab)?(\.[a-z0-9.]+)?\+0x")

# Frames that are never guilty (matched as regex searches, like syzkaller's skip list).
SKIP = (
    "__sanitizer", "__asan", "kasan", "hwasan", "__msan", "kmsan", "kcsan_setup_watchpoint",
    "check_memory_region", "check_heap_object", "check_object", "read_word_at_a_time",
    "(read|write)_once_.*nocheck", "print_address_description", "panic", "invalid_op", "report_bug",
    "fixup_bug", "print_report", "print_usage_bug", "do_error", "_trap$|do_trap", "show_stack",
    "dump_stack", "walk_stack", "dump_backtrace", "warn_slowpath", "warn_alloc", "warn_bogus", "__warn",
    "alloc_page", "k?v?(?:m|z|c)alloc", "krealloc", "kmem_cache", "allocate_slab",
    "__alloc_frozen_pages_noprof", "folio_(?:alloc|unlock)", "filemap_alloc_folio", "__filemap_get_folio",
    "find_or_create_page", "do_read_cache_folio", "read_cache_page", "pagecache_get_page",
    "grab_cache_page_write_begin", "slab_", "debug_object", "timer_is_static_object",
    "work_is_static_object", "__might_fault", "print_unlock", "imbalance_bug", "lockdep", "bh_enable",
    "bh_disable", "perf_trace", "lock_acquire", "lock_release", "lock_class", "mark_lock",
    "(reacquire|mark)_held_locks", "raw_spin_rq", "spin_lock", "spin_trylock", "spin_unlock",
    "read_lock", "read_trylock", "write_lock", "write_trylock", "read_unlock", "write_unlock", "^down$",
    "down_read", "down_write", "down_read_trylock", "down_write_trylock", "down_trylock", "up_read",
    "up_write", "^mutex_", "^__mutex_", "^rt_mutex_", "owner_on_cpu", "osq_lock", "osq_unlock",
    "atomic(64)?_(dec|inc|read|set|or|xor|and|add|sub|fetch|xchg|cmpxchg|try)", "(set|clear|change|test)_bit",
    "__wake_up", "^refcount_", "^kref_", "ref_tracker", "seqprop_assert", "memcpy", "memcmp", "memset",
    "memchr", "memmove", "memdup", "strcmp", "strncmp", "strcpy", "strlcpy", "strncpy", "strscpy",
    "strlen", "strstr", "strnstr", "strnlen", "strchr", "strdup", "strndup", "copy_to_user",
    "copy_from_user", "copy_to_iter", "copy_from_iter", "copy_page_to_iter", "copy_page_from_iter",
    "copy_folio_to_iter", "^copyin$", "^copyout$", "put_user", "get_user", "might_fault", "might_sleep",
    "list_add", "list_del", "list_replace", "list_move", "list_splice", "^rb_", "^__rb_",
    "_indirect_thunk_", "string", "pointer", "snprintf", "scnprintf", "kasprintf", "kvasprintf",
    "printk", "va_format", "dev_info", "dev_notice", "dev_warn", "dev_err", "dev_alert", "dev_crit",
    "dev_emerg", "program_check_exception", "program_check_common", "del_timer", "flush_work",
    "__cancel_work_timer", "cancel_work_sync", "try_to_grab_pending", "flush_workqueue",
    "drain_workqueue", "destroy_workqueue", "queue_work", "finish_wait", "kthread_stop", "kobject_",
    "add_uevent_var", "get_device_parent", "device_add", "device_del", "device_unregister",
    "device_destroy", "device_release", "devres_release_all", "hwrng_unregister", "i2c_del_adapter",
    "__unregister_client", "device_for_each_child", "rollback_registered", "unregister_netdev",
    "sysfs_remove", "device_remove_file", "tty_unregister_device", "dummy_urb_enqueue", "usb_kill_urb",
    "usb_kill_anchored_urbs", "usb_control_msg", "usb_hcd_submit_urb", "usb_submit_urb", "^complete$",
    "wait_for_completion", "^kv?free$", "kfree_skb", "readb$", "readw$", "readl$", "readq$", "writeb$",
    "writew$", "writel$", "writeq$", "logic_in", "logic_out", "^crc\\d+", "crc_itu_t", "__might_resched",
    "assertfail", "^iput$", "^iput_final$", "^ihold$", "hex_dump_to_buffer", "print_hex_dump", "^klist_",
    "(trace|lockdep)_(hard|soft)irq", "^(un)?lock_page", "stack_trace_consume_entry", "arch_stack_walk",
    "stack_trace_save", "insert_work", "__queue_delayed_work", "queue_delayed_work_on", "ida_free",
    "do_(kernel|translation)_fault", "do_mem_abort", "el1_abort", "el1h_64_sync(?:_handler)?",
    "print_tainted", "xas_(?:start|load|find)", "find_lock_entries", "truncate_inode_pages_range",
    "__phys_addr", "__fortify_report", "cleanup_srcu_struct", "rhashtable_lookup",
    "extract_(user|iter)_to_sg", "drop_nlink", "^get_taint$", "^put_device$", "lock_timer_base",
    "__timer_delete_sync", "sk_stop_timer_sync", "__mod_timer", "fast_dput", "dput",
    # Seen as the top frame of real reports syzbot titles by their caller.
    "^valid_state$", "lock_sock_nested", "^console_(?:un)?lock", "check_preemption_disabled",
    "should_fail", "^unwind_backtrace$", "^proc_register$", "^ifs_free$", "^truncate_cleanup_folio$",
    "iomap_invalidate_folio",
)
# Exception entry frames. In the report of a fault the frames above the first of them are the
# kernel's handling of it (do_page_fault, die(), die notifiers, crash dumpers); the guilty frame is
# the interrupted code's, below them: syzkaller likewise looks for a stall's guilty file from its
# interrupt entry on (apic_timer_interrupt, el1h_64_irq) rather than listing the frames above it.
# arm64 kernel-mode entries (4.x el1_da/el1_sync, 5.x el1_abort/el1_sync_handler, 5.13+ el1h_64_sync)
# and do_mem_abort, which dispatches them; user-mode entries (el0_da, el0t_64_sync) end a trace with
# no kernel code below; x86 (asm_)exc_*, before 5.8 page_fault/general_protection/invalid_op; arm32
# __dabt_svc/__pabt_svc.
EXCEPTION_ENTRY = (r"^(?:el[01]_(?:da|ia|sync|abort|undef|dbg|pc|sp_pc|inv|bti|fpac)(?:_handler)?"
                   r"|el[01][th]_64_sync(?:_handler)?|do_(?:mem|sp_pc)_abort|asm_exc_\w+"
                   r"|exc_(?:page_fault|general_protection|invalid_op)|(?:async_)?page_fault|general_protection"
                   r"|invalid_op|__[dp]abt_svc)$")
STRIP_PREFIXES = ("SYSC_", "SyS_", "sys_", "__x64_", "__ia32_", "__arm64_", "____sys_", "___sys_",
                  "__sys_", "__se_", "__se_sys_", "__do_sys_", "compat_SYSC_", "compat_SyS_", "ksys_")

Extractor = Callable[[list[str]], tuple[str, int]]  # (name, index of its frame) or ("", -1)


@dataclass(frozen=True)
class StackFmt:
    parts: tuple[re.Pattern[str], ...]
    parts2: tuple[re.Pattern[str], ...] = ()
    skip: tuple[str, ...] = ()
    # the last resort when parts and parts2 find no frame: a report whose usual markers are not
    # there (an excerpt without its register dump, an arch without the x86 interrupt frames)
    parts3: tuple[re.Pattern[str], ...] = ()
    extractor: Extractor | None = field(default=None, compare=False)
    past_entry: bool = False  # the report is an exception's: its guilty frame is below the entry


@cache
def skip_re(extra: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(SKIP + extra))


_HELPER = skip_re(())


@lru_cache(maxsize=1 << 14)
def strip_frame(frame: str) -> str:
    """The shortest form of a frame once one syscall-entry prefix is removed."""
    best = frame
    for prefix in STRIP_PREFIXES:
        if frame.startswith(prefix) and len(frame) - len(prefix) < len(best):
            best = frame[len(prefix):]
    return best


def is_skipped(func: str) -> bool:
    return skipped(_HELPER, func)


# Per distinct line (and frame name) caches: a report's frame lines recur in every report of
# the same bug, and helper names in most reports. Bounded: cleared when full.
_MAX = 1 << 15
# Keyed by id(pattern): hashing a compiled pattern hashes its whole code. The patterns live as
# long as the module (constants, or skip_re()'s cache).
_SKIPPED: dict[tuple[int, str], bool] = {}
_SEARCH: dict[tuple[int, str], tuple[str | None, ...] | None] = {}
LineFacts = tuple[bool, bool, "tuple[str | None, ...] | None"]
_FACTS: dict[str, LineFacts] = {}


def skipped(skip: re.Pattern[str], frame: str) -> bool:
    key = (id(skip), frame)
    hit = _SKIPPED.get(key)
    if hit is None:
        if len(_SKIPPED) >= _MAX:
            _SKIPPED.clear()
        hit = _SKIPPED[key] = skip.search(frame) is not None
    return hit


def search(part: re.Pattern[str], line: str) -> tuple[str | None, ...] | None:
    """The groups of part.search(line), or None when it does not match."""
    key = (id(part), line)
    try:
        return _SEARCH[key]
    except KeyError:
        pass
    m = part.search(line)
    if len(_SEARCH) >= _MAX:
        _SEARCH.clear()
    found = _SEARCH[key] = m.groups() if m else None
    return found


def facts(line: str) -> LineFacts:
    """(CORRUPTED_LINE matches, STACK_START matches, groups of the first FRAME_RES match)."""
    got = _FACTS.get(line)
    if got is None:
        frame = None
        for fre in FRAME_RES:
            m = fre.search(line)
            if m:
                frame = m.groups()
                break
        if len(_FACTS) >= _MAX:
            _FACTS.clear()
        got = _FACTS[line] = (CORRUPTED_LINE.search(line) is not None, STACK_START.search(line) is not None,
                              frame)
    return got


def extract(text: str, stack: StackFmt) -> tuple[list[tuple[str, str]], bool]:
    """(canonical, raw) key frames, one per PARSE section, and whether all were found."""
    skip = skip_re(stack.skip)
    lines = text.split("\n")
    fail = "should_fail" in text  # fault injection makes the rest of a report unreliable
    # below the entry, further entry frames are not guilty either (a trace with nothing else below
    # its entry is titled as before: syzkaller's "Unhandled fault in __dabt_svc")
    entry_skip = skip_re(stack.skip + (EXCEPTION_ENTRY,)) if stack.past_entry else None
    frames, ok = _extract(lines, stack.parts, skip, stack.extractor, fail, entry_skip)
    for parts in (stack.parts2, stack.parts3):
        if ok or not parts:
            break
        frames, ok = _extract(lines, parts, skip, stack.extractor, fail, entry_skip)
    return frames, ok


_ENTRY = re.compile(EXCEPTION_ENTRY)


def past_entry(lines: Sequence[str], pos: int, nxt: re.Pattern[str] | None, skip: re.Pattern[str]) -> int:
    """Where the stack at lines[pos:] (up to the next stack start, or the line nxt matches) may
    name its guilty frame: at the first frame (not skipped) below its first exception entry
    frames, or pos when it has none or nothing but skipped frames follows them."""
    seen = False
    for i in range(pos, len(lines)):
        ln = lines[i]
        corrupted, stack_start, frame = facts(ln)
        if corrupted or (stack_start and (frame is None or i > pos)) or (
                nxt is not None and search(nxt, ln) is not None):
            break
        for name in frame or ():
            if name is None:
                continue
            if _ENTRY.search(name):
                seen = True
            elif seen and not skipped(skip, name):
                return i
    return pos


def _key(raw: list[str], extractor: Extractor | None) -> tuple[str, str] | None:
    if not raw:
        return None
    if extractor is None:
        return strip_frame(raw[0]), raw[0]
    name, idx = extractor([strip_frame(f) for f in raw])
    return (name, raw[idx]) if idx >= 0 else None


def _add(raw: list[str], groups: tuple[str | None, ...] | None, skip: re.Pattern[str]) -> None:
    if groups is None:
        return
    for frame in groups:
        if frame is not None and not skipped(skip, frame):
            raw.append(frame)


def _extract(lines: Sequence[str], parts: Sequence[re.Pattern[str]], skip: re.Pattern[str],
             extractor: Extractor | None, fail: bool,
             entry_skip: re.Pattern[str] | None = None) -> tuple[list[tuple[str, str]], bool]:
    """entry_skip: set for a fault's report (StackFmt.past_entry), skip plus the entry frames."""
    results: list[tuple[str, str]] = []
    raw: list[str] = []
    ok, parsed, pos, idx, n = True, 0, 0, 0, len(lines)
    while True:
        if idx == len(parts) or (parts[idx] is PARSE and parsed):
            key = _key(raw, extractor)
            if key is None:
                key, ok = ("corrupted", "corrupted"), False
            results.append(key)
            raw = []
        if idx == len(parts):
            return results, ok
        part = parts[idx]
        if part is PARSE:
            parsed += 1
            nxt = parts[idx + 1] if idx + 1 < len(parts) else None
            eager = extractor is None and nxt is None  # only the first frame counts
            sk = skip
            if entry_skip is not None and (below := past_entry(lines, pos, nxt, entry_skip)) != pos:
                pos, sk = below, entry_skip
            first = pos
            while pos < n:
                ln = lines[pos]
                pos += 1
                corrupted, stack_start, frame = facts(ln)
                if corrupted:
                    ok = False
                    break
                if stack_start and (frame is None or pos - 1 > first):
                    break
                if nxt is not None:
                    found = search(nxt, ln)
                    if found is not None:
                        _add(raw, found, skip)
                        idx += 1
                        break
                if eager and raw:
                    ok = ok and not (fail and any("should_fail" in rest for rest in lines[pos:]))
                    pos = n
                    break
                _add(raw, frame, sk)
        else:
            while pos < n:
                ln = lines[pos]
                pos += 1
                if facts(ln)[0]:
                    ok = False
                    break
                found = search(part, ln)
                if found is not None:
                    _add(raw, found, skip)
                    break
        idx += 1


# --- extractors for stalls and hangs ------------------------------------------------------------

_STALL_ANCHORS = re.compile("|".join((
    "process_one_work", "do_syscall_", "do_fast_syscall_", "sysenter_dispatch", "tracesys_phase2",
    "el0_svc_handler", "invoke_syscall", "ret_fast_syscall", "netif_receive_skb", "do_softirq",
    "call_timer_fn", "_run_timers", "run_timer_softirq", "hrtimer_run", "run_ksoftirqd",
    "smpboot_thread_fn", "^kthread$", "start_secondary", "cpu_startup_entry", "ret_from_fork",
    "vfs_write", "vfs_read", "vfs_iter_read", "vfs_iter_write", "do_iter_read", "do_iter_write",
    "call_read_iter", "call_write_iter", "new_sync_read", "new_sync_write", "vfs_ioctl", "ksys_ioctl",
    "compat_ioctl", "compat_sys_ioctl", "blkdev_driver_ioctl", "blkdev_ioctl", "do_iter_readv_writev",
    "^call_mmap", "mmap_region", "do_mmap", "do_dentry_open", "vfs_open", "^sock_sendmsg",
    "^sock_recvmsg", "^sock_release", "^__sock_release", "^setsockopt$", "kernel_setsockopt",
    "sock_common_setsockopt", "^listen$", "kernel_listen", "sk_common_release", "^sock_mmap",
    "^accept$", "kernel_accept", "^sock_do_ioctl", "^sock_ioctl", "^compat_sock_ioctl",
    "^nfnetlink_rcv_msg", "^rtnetlink_rcv_msg", "^netlink_dump", "^(sys_)?(socketpair|connect|ioctl)",
    "__do_fault", "do_page_fault", "^page_fault$", "__fput", "task_work_run", "exit_to_usermode",
    "smp_call_function", "tasklet_action", "tasklet_hi_action")))


def stall_frame(frames: list[str]) -> tuple[str, int]:
    """Stalls loop somewhere: name them by the frame just above the dispatch point."""
    prev = 0
    for i, frame in enumerate(frames):
        if _STALL_ANCHORS.search(frame):
            if "smp_call_function" in frame:
                return "smp_call_function", i
            return frames[prev], prev
        prev = i
    return "", -1


_HANG_ANCHORS = ("rtnl_lock", "synchronize_rcu", "synchronize_srcu", "synchronize_net", "synchronize_sched")
_HANG_SKIP = ("sched", "_lock", "_slowlock", "down", "rwsem", "completion", "kthread", "wait",
              "synchronize", "context_switch", "__switch_to", "cancel_delayed_work", "rcu_barrier")


def hang_frame(frames: list[str]) -> tuple[str, int]:
    """Hung tasks are victims: group waits on rtnl and on RCU grace periods together."""
    for i, frame in enumerate(frames):
        for anchor in _HANG_ANCHORS:
            if anchor in frame:
                return (frame if anchor == "rtnl_lock" else "synchronize_rcu"), i
    for i, frame in enumerate(frames):
        if not any(s in frame for s in _HANG_SKIP):
            return frame, i
    return "", -1
