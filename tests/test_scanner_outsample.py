"""The scanner beyond the logs it was written against: syzkaller's own parser test logs, and the
console prefixes other tools put before printk's (dmesg -T in any locale, dmesg --time-format=iso,
dmesg -x, journalctl, syslog, KernelCI/LAVA, user-space bytes on the same serial line).

The syzkaller logs (tests/data/console/syzkaller/, each with syzkaller's TITLE header and its
source commit) were not used to write the table; benchmarks/scan_syzkaller.py measures them and
docs/scanner.md records the figures. TITLE_FLOOR is the share measured when they were committed:
a change that titles fewer of them like syzkaller does fails here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.scan_syzkaller import files, measure
from bench.report.scanner import scan, strip_prefix

CONSOLE = Path(__file__).parent / "data" / "console"
SYZKALLER = CONSOLE / "syzkaller"
# exact or ALT titles / crash logs whose syzkaller TITLE is current (not marked DIFFERS): measured
# 52/52 on 2026-12-05 (second round), 58/58 after the third round, 117/117 with the fourth round's
# 56 crash logs, 158/158 with the tenth round's 39 and 5 held out and 201/201 with the eleventh
# round's 43 (docs/scanner.md); the titles syzkaller stored under older rules (DIFFERS) are at most
# STALE_MAX (13 of 214: the tenth round added three such logs, 45, 67 and 78, the eleventh 298, each
# with syzkaller's later rule named in its SOURCE) and each must be exactly ours
TITLE_FLOOR = 1.0
STALE_MAX = 13


def test_syzkaller_logs_detected_and_titled_above_the_floor() -> None:
    t = measure(files([SYZKALLER]))
    assert t.crash >= 218 and t.clean >= 16, "the committed subset is smaller than documented"
    assert t.detected == t.crash, "a syzkaller crash log gave no report"
    assert t.false == 0, "a log syzkaller finds no report in gave one"
    assert (t.exact + t.alt) / (t.crash - t.stale) >= TITLE_FLOOR
    assert t.stale <= STALE_MAX, "more syzkaller titles differ from ours than documented"
    # every other title is one whose syzkaller expectation is documented as stale (DIFFERS)
    assert t.exact + t.alt + t.stale == t.crash


# --- other tools' time stamps before printk's ---------------------------------------------------

_TS = re.compile(r"\[ *(\d+)\.\d+\](?:\[ *[TC]\d+\])? ?(.*)")


def _dmesg_t(s: int, rest: str) -> str:
    return f"[Fri Dec  4 17:{s // 60 % 60:02d}:{s % 60:02d} 2026] {rest}"


def _dmesg_t_de(s: int, rest: str) -> str:
    return f"[Mi Jul 30 16:{s // 60 % 60:02d}:{s % 60:02d} 2025] {rest}"


def _dmesg_iso(s: int, rest: str) -> str:
    return f"2026-12-04T17:{s // 60 % 60:02d}:{s % 60:02d},123456+00:00 {rest}"


def _journal_precise(s: int, rest: str) -> str:
    return f"Dec 04 17:{s // 60 % 60:02d}:{s % 60:02d}.123456 host kernel: {rest}"


def _dmesg_x(s: int, rest: str) -> str:
    return f"kern  :warn  : [{s:5d}.123456] {rest}"


def _journal(s: int, rest: str) -> str:
    return f"Dec 04 17:{s // 60 % 60:02d}:{s % 60:02d} host kernel: {rest}"


def _journal_iso(s: int, rest: str) -> str:
    return f"2026-12-04T17:{s // 60 % 60:02d}:{s % 60:02d}+0000 host kernel: {rest}"


def _rsyslog(s: int, rest: str) -> str:
    return f"Dec  4 17:{s // 60 % 60:02d}:{s % 60:02d} host kernel: [{s:5d}.123456] {rest}"


def _lava_dmesg_x(s: int, rest: str) -> str:  # KernelCI's baseline dmesg test: LAVA's time, `dmesg -x`
    return f"2026-12-04T17:{s // 60 % 60:02d}:{s % 60:02d}.123456  kern  :warn  : {rest}"


def _dmesg_r(s: int, rest: str) -> str:
    return f"<4>[{s:5d}.123456] {rest}"


def _log_reader_ms(s: int, rest: str) -> str:  # a log reader's own stamp, no host (linux-wireless, 2021)
    return f"2026-12-04 17:{s // 60 % 60:02d}:{s % 60:02d}.123 kernel: {rest}"


def _dmesg_h(s: int, rest: str) -> str:  # dmesg -H / --reltime: the delta since the previous line
    return f"[  +0.{s % 1000:06d}] {rest}"


def _dmesg_d(s: int, rest: str) -> str:  # dmesg -d (util-linux "[%5ld.%06ld <%12.06f>] ")
    return f"[{s:5d}.123456 <    0.000010>] {rest}"


def _dmesg_dt(s: int, rest: str) -> str:  # dmesg -d -t: the delta alone
    return f"[<    0.000010>] {rest}"


def _journal_full(s: int, rest: str) -> str:  # journalctl -o short-full (systemd's TIMESTAMP_PRETTY)
    return f"Fri 2026-12-04 17:{s // 60 % 60:02d}:{s % 60:02d} UTC host kernel: {rest}"


def _journal_unix(s: int, rest: str) -> str:  # journalctl -o short-unix ("%10lu.%06lu")
    return f"{1764867600 + s}.123456 host kernel: {rest}"


def _journal_delta(s: int, rest: str) -> str:  # journalctl -o short-delta ("[%5lu.%06lu <%5lu.%06lu >]")
    return f"[{s:5d}.123456 <    0.000010 >] host kernel: {rest}"


STYLES: dict[str, Callable[[int, str], str]] = {
    "dmesg -d": _dmesg_d, "dmesg -d -t": _dmesg_dt, "journalctl short-full": _journal_full,
    "journalctl short-unix": _journal_unix, "journalctl short-delta": _journal_delta,
    "dmesg -T": _dmesg_t, "dmesg -T de_DE": _dmesg_t_de, "dmesg iso": _dmesg_iso, "dmesg -x": _dmesg_x,
    "dmesg -r": _dmesg_r, "LAVA + dmesg -x": _lava_dmesg_x, "journalctl": _journal, "journalctl short-iso": _journal_iso,
    "journalctl short-precise": _journal_precise, "syslog with printk time": _rsyslog, "dmesg -H": _dmesg_h,
    "log reader, ms, no host": _log_reader_ms,
}


def _body(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#@ ")]


# A console's or log reader's own field after printk's stamp (MediaTek's "(5)[7247:insmod]",
# PREEMPT_RT's "000: ", journalctl -o short-monotonic's "kernel: "): not the record's text, so no
# other tool prints it after its own stamp.
_CONSOLE_FIELD = re.compile(r"\[ *\d+\.\d+\](?:[ -]\(\d+\)\[\d+:| \d{3}: | (?:[\w.-]+ )?kernel: )")


def _kernel_buffer_only(path: Path) -> bool:
    """No line has printk's time stamp after other bytes: dmesg and the journal read the kernel's
    buffer, so only a serial console capture (user space on the same line, a mail quote) has that;
    nor a console's own field after it."""
    return all((bool(_TS.match(line)) or not _TS.search(line)) and not _CONSOLE_FIELD.match(line)
               for line in _body(path))


# (a doubled console, "#@ DOUBLED:", is a capture too: the kernel's buffer holds each record once)
CRASH = [p for p in sorted(CONSOLE.glob("**/*.log")) if "#@ TITLE:" in (t := p.read_text(encoding="utf-8"))
         and "\n#@ DOUBLED:" not in t and _kernel_buffer_only(p)]


@pytest.mark.parametrize("style", STYLES)
def test_first_titles_do_not_depend_on_the_time_stamp_style(style: str) -> None:
    """Each real crash log re-stamped the way that tool prints it, against the same log with
    printk's own stamp: caller ids are dropped in both (the journal and syslog lose them)."""
    conv = STYLES[style]
    changed = []
    for path in CRASH:
        lines = _body(path)
        plain = [_restamp(line, lambda s, rest: f"[{s:5d}.123456] {rest}") for line in lines]
        restamped = [_restamp(line, conv) for line in lines]
        if [r.title for r in scan(restamped)][:1] != [r.title for r in scan(plain)][:1]:
            changed.append(path.name)
    assert not changed


def _restamp(line: str, conv: Callable[[int, str], str]) -> str:
    m = _TS.match(line)
    return conv(int(m.group(1)), m.group(2)) if m else line


@pytest.mark.parametrize("line, text, ctx", [
    # ROCm/ROCm#5121 (tests/data/console/warn-amdgpu-dmesg-T-de-locale-6.14.log)
    ("[Mi Jul 30 16:12:30 2025]  ? srso_alias_return_thunk+0x5/0xfbef5", " ? srso_alias_return_thunk+0x5/0xfbef5", "k"),
    # lore: a Czech-locale dmesg -T ("St okt"), and decode_stacktrace.sh's single-space day
    ("[St okt 15 20:57:24 2025] WARNING: CPU: 0 PID: 0 at", "WARNING: CPU: 0 PID: 0 at", "k"),
    ("[Sat Jan 6 07:37:23 2024] ? report_bug", "? report_bug", "k"),
    # syzkaller report 1006: systemd's status output cut into the kernel's line on the serial console
    ("el.service [0m.[  288.564375][T21583] WARNING: CPU: 72 PID: 21583 at ./include/linux/scatterlist.h:412"
     " iommu_map_sg+0x496/0xa40",
     "WARNING: CPU: 72 PID: 21583 at ./include/linux/scatterlist.h:412 iommu_map_sg+0x496/0xa40", "T21583"),
    # KernelCI baseline.dmesg.emerg results as mailed (quoted-printable decoded): LAVA's time, `dmesg -x`
    ("2021-12-12T17:36:04.539783  kern  :emerg : BUG: spinlock bad magic on CPU#0, udevd/127",
     "BUG: spinlock bad magic on CPU#0, udevd/127", "k"),
    ("2021-04-15 14:00:31.388000+00:00  kern  :emerg :  lock: emif_lock+0x0/0xffffed34 [emif], .magic: 00000000,"
     " .owner: <none>/-1, .owner_cpu: 0",
     " lock: emif_lock+0x0/0xffffed34 [emif], .magic: 00000000, .owner: <none>/-1, .owner_cpu: 0", "k"),
    ("2021-10-30T14:14:41.361207  [   20.286346] <LAVA_SIGNAL_TESTCASE TEST_CASE_ID=alert RESULT=pass UNITS=lines"
     " MEASUREMENT=0>", "<LAVA_SIGNAL_TESTCASE TEST_CASE_ID=alert RESULT=pass UNITS=lines MEASUREMENT=0>", "k"),
    # dmesg -H (--reltime): the minute when it changes, then the delta (dolohow/uksm#44, a 5.4 kernel BUG)
    ("[Mar 8 17:07] ------------[ cut here ]------------", "------------[ cut here ]------------", "k"),
    ("[  +0.000005] kernel BUG at mm/uksm.c:3328!", "kernel BUG at mm/uksm.c:3328!", "k"),
    ("[  +0.000008]  uksm_do_scan+0x145/0x2b00", " uksm_do_scan+0x145/0x2b00", "k"),
    # a log reader's "date time.ms kernel: " with no host name (warn-headers-then-hung-task-logread-ms-prefix-5.12.log)
    ("2021-03-16 11:30:24.753 kernel:  __schedule+0x275/0x660", " __schedule+0x275/0x660", "k"),
    ("2021-03-16 11:27:14.269 kernel: WARNING: CPU: 0 PID: 467 at net/core/dev.c:381 unlist_netdevice+0xdb/0xf0",
     "WARNING: CPU: 0 PID: 467 at net/core/dev.c:381 unlist_netdevice+0xdb/0xf0", "k"),
    # dmesg (-x, --time-format=iso) on a PREEMPT_RT kernel keeps its CPU field after the stamp
    # (arm64-sleeping-in-atomic-rt-cpu-prefix-5.0-rt.log re-stamped)
    ("kern  :warn  : [  363.410141] 000: BUG: sleeping function called from invalid context at kernel/locking/rtmutex.c:974",
     "BUG: sleeping function called from invalid context at kernel/locking/rtmutex.c:974", "C0"),
    ("2026-12-04T17:00:03,123456+00:00 000:  dump_backtrace+0x0/0x158", " dump_backtrace+0x0/0x158", "C0"),
    # no time stamp of printk's shape: user space, left as it is
    ("Warning: Permanently added '10.128.0.242' (ECDSA) to the list of known hosts.",
     "Warning: Permanently added '10.128.0.242' (ECDSA) to the list of known hosts.", ""),
])
def test_strip_other_prefixes(line: str, text: str, ctx: str) -> None:
    assert strip_prefix(line) == (text, ctx)


# --- serial-console noise around the kernel's lines ------------------------------------------------

ALL_CRASH = [p for p in sorted(CONSOLE.glob("**/*.log")) if "#@ TITLE:" in p.read_text(encoding="utf-8")]
NOISE: dict[str, Callable[[str], str]] = {
    "CRLF line ends (a serial capture)": lambda line: line + "\r",
    "carriage return first (getty, progress bars)": lambda line: "\r" + line,
    "a progress line the terminal overwrote": lambda line: "Loading 42%\r" + line if line else line,
    "systemd's colour reset before the line": lambda line: "\x1b[0m" + line if line else line,
    "cursor escapes and NUL padding": lambda line: "\x1b[?25l\x00" + line + "\x1b[K",
}


@pytest.mark.parametrize("noise", NOISE)
def test_titles_do_not_depend_on_terminal_noise(noise: str) -> None:
    """Every real crash log with each line wrapped in terminal noise gives the same titles (the
    scanner used to title 9 of 109 logs '... in corrupted' with a carriage return or escape first)."""
    wrap = NOISE[noise]
    changed = []
    for path in ALL_CRASH:
        lines = _body(path)
        if [r.title for r in scan([wrap(line) for line in lines])] != [r.title for r in scan(lines)]:
            changed.append(path.name)
    assert not changed


# A kselftest run on the same console as the kernel: the harness's "# " lines, TAP results, and a
# program's own "BUG:"/"WARNING:" words (printk() in tools/testing/selftests/net/ipsec.c is the
# test's own printf wrapper; the mm/protection_keys.c and xfrm_policy_add_speed.sh lines are their
# 6.12 source's messages) among prefixed kernel lines. Built from those sources, not captured.
SELFTEST_CONSOLE = [
    "[   30.101234] virtme-ng-init: starting selftests",
    "TAP version 13",
    "1..3",
    "# timeout set to 45",
    "# selftests: net: ipsec",
    "# BUG: buggy esp desc",
    "not ok 1 selftests: net: ipsec # exit=1",
    "[   31.202345] IPv6: ADDRCONF(NETDEV_CHANGE): veth0: link becomes ready",
    "WARNING: not run as root, can not do hugetlb test",
    "ok 2 selftests: mm: protection_keys # SKIP",
    "BUG: unknown proto in desc",
    "[   32.303456] random: crng init done",
    "WARNING: mismatch, have 10 policies, expected 12",
    "ok 3 selftests: net: xfrm_policy_add_speed.sh",
]


def test_selftest_output_on_the_console_is_no_report() -> None:
    assert scan(SELFTEST_CONSOLE) == []


def test_a_real_report_among_selftest_output_is_still_found() -> None:
    # A kernel report's own lines carry the prefix; a report without prefixes still counts when its
    # stack follows (a report pasted whole into a log of prefixed lines).
    oops = ["[   33.000001] BUG: kernel NULL pointer dereference, address: 0000000000000008",
            "[   33.000002] RIP: 0010:foo_probe+0x12/0x40", "[   33.000003] Call Trace:",
            "[   33.000004]  <TASK>", "[   33.000005]  bar+0x1/0x2", "[   33.000006]  </TASK>"]
    titles = [r.title for r in scan(SELFTEST_CONSOLE + oops)]
    assert titles == ["BUG: unable to handle kernel NULL pointer dereference in foo_probe"]
    bare = [line.split("] ", 1)[1] for line in oops]
    titles = [r.title for r in scan(SELFTEST_CONSOLE + bare)]
    assert titles == ["BUG: unable to handle kernel NULL pointer dereference in foo_probe"]


def test_an_unprefixed_warning_whose_panic_follows_is_the_kernels() -> None:
    # syzkaller report 500 with printk's time stamps stripped (as `dmesg -t` prints it) keeps one
    # prefixed line, where the login prompt cut into a kernel line; the WARNING line near it is no
    # program's output: the panic_on_warn panic and the stack after it are its own.
    lines = _body(SYZKALLER / "500-warn-usb-submit-urb-panic-cut.log")
    stripped = [_TS.sub(r"\2", line, count=1) if _TS.match(line) else line for line in lines]
    assert [r.title for r in scan(stripped)][:1] == [r.title for r in scan(lines)][:1]


# --- consequences that belong to the report before them (fourth round, 2026-12-05) ---------------

def _fixture(number: str) -> list[str]:
    return _body(next(SYZKALLER.glob(f"{number}-*.log")))


def test_a_warn_message_after_its_warning_line_starts_no_report() -> None:
    """syzkaller report 733 (arm32, 6.11): warn_slowpath_fmt() prints WARN()'s message
    ("refcount_t: underflow; use-after-free.") after the WARNING line; it was read as the line
    before a new report, so panic_on_warn's panic became a report of its own."""
    reports = scan(_fixture("733"))
    assert [r.title for r in reports] == ["WARNING: refcount bug in hdm_disconnect"]
    assert reports[0].panicked


def test_a_warn_message_before_its_own_warning_line_still_opens_that_report() -> None:
    # x86's order (report 157: the message, "cut here", the WARNING) after another WARNING report
    reports = scan(_fixture("640") + _fixture("157"))
    assert [r.title for r in reports] == ["WARNING in packet_release", "WARNING: refcount bug in sctp_wfree"]
    assert reports[1].detail == "refcount_t: underflow; use-after-free"


def test_the_panic_after_a_double_fault_is_part_of_it() -> None:
    """syzkaller report 315: exc_double_fault() calls die() and then panic("Machine halted.")
    (arch/x86/kernel/traps.c); that panic is the double fault's, not a second report."""
    reports = scan(_fixture("315"))
    assert [r.title for r in reports] == ["PANIC: double fault in corrupted", "WARNING: kernel stack regs has bad value"]
    assert reports[0].panicked
