"""Console line prefixes: printk time stamps, caller ids, syslog levels and syslog headers.

Every other module works on the text after the prefix; the prefix only tells which context
(task or CPU, when CONFIG_PRINTK_CALLER is on) printed the line.
"""

from __future__ import annotations

import re

# What may follow printk's time stamp: its caller id, or a field that tells the same.
_CALLER = (
    r"(?: ?\[ *(?P<caller>[TC]\d+)\]"
    # MediaTek's "(cpu)[pid:comm]", "-" before it when IRQs were off (no separator after it)
    r"|[ -]\((?P<mcpu>\d+)\)\[(?P<mpid>\d+):[^\]]*\]"
    # PREEMPT_RT's CPU number, "000: " (the space after it is printk's, frames keep their own indent)
    r"| (?P<rt>\d{3}): "
    # the journal's (or syslog's) "[host ]kernel: " after the time stamp (journalctl -o short-monotonic)
    r"|(?<=\]) (?:[\w.-]+ )?(?P<jkern>kernel: )"
    # Samsung's "[cpu:  comm:  pid]" (the comm may hold a colon: "kworker/4:2")
    r"| {1,2}\[(?P<scpu>\d+): *[^\]]*?: *(?P<spid>\d+)\]"
    # Samsung's (3.x Exynos) CPU field "c1 " (one space after it is printk's)
    r"| c(?P<ccpu>\d{1,2})(?= ))?"
    # MediaTek's module tag "[name:mrdump&]" before the text (the tag ends in "&")
    r"(?P<mtk> ?\[name:[\w.-]*&\])?"
)
_PREFIX = re.compile(
    r"\s*(?P<lvl><\d{1,3}>)?"
    # dmesg --time-format=iso: "2026-12-04T17:43:58,123456+00:00 " (no host name follows)
    r"(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d,\d{6}[+-]\d\d:\d\d(?= ))?"
    # syslog/journal: "Dec  4 17:43:58[.123456] host ", ISO 8601 time stamps; a log reader may
    # leave the host out before "kernel: " ("2021-03-16 11:27:14.269 kernel: WARNING: ...")
    # journalctl -o short-full "Fri 2026-12-04 17:43:58 UTC host ", -o short-unix "1764870238.123456 host "
    r"(?P<sys>(?:[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d(?:\.\d+)?|\d{4}-\d\d-\d\d[T ][\d:.,]+(?:Z|[+-]\d\d:?\d\d)?"
    r"|[A-Z][a-z]{2} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: (?:[A-Z]{2,5}|[+-]\d\d(?:\d\d)?))?|\d{10}\.\d{6}"
    # a mail's excerpt with the date and host left out: "... kernel: INFO: task ..."
    r"|\.\.\.(?= kernel: ))"
    r"(?: (?!kernel: )\S+)? )?"
    r"(?P<kern>kernel: )?(?P<lvl2><\d{1,3}>)?"
    # printk's "[   12.345678]", or dmesg -T's "[Fri Dec  4 17:43:58 2026]" (any locale: "[Mi Jul 30 ...]",
    # "[St okt 15 ...]")
    # and dmesg -H/--reltime's "[Mar 8 17:07]" (each new minute) and "[  +0.000005]" (the delta since)
    # (some serial tools print a blank before its "]": "[    1.531195 ] BUG: KFENCE: ...", printk's
    # six digits always: a program's "[ 2.0 ] BUG: expected" is not taken for the kernel)
    r"(?P<ts>\[ *\d+\.(?:\d+|\d{6} )\]|\[[^\W\d_]{1,3}\.? [^\W\d_]{3,5}\.? +\d{1,2} \d\d:\d\d:\d\d \d{4}\]"
    r"|\[ *\+\d+\.\d+\]|\[[^\W\d_]{3,4}\.? +\d{1,2} \d\d:\d\d\]"
    # dmesg -d/--show-delta "[  123.456789 <    0.000010>]" (util-linux: "[%5ld.%06ld <%12.06f>] "), the
    # delta alone with -t "[<    0.000010>]", journalctl -o short-delta "[  123.456789 <    0.000010 >]"
    r"|\[ *\d+\.\d{6} < *\d+\.\d{6}[ *]?>\]|\[< *\d+\.\d{6}>\]"
    # printk's stamp whose "[" other output on the serial line ate ("[[1] 1149" then "  484.818219] BUG:")
    r"|\d+\.\d{6}\](?= ))?" + _CALLER
)
# The fields after a printk time stamp that the fast paths (_TIME, _BATCH) leave to _PREFIX.
_FIELDS = (r"(?![ -]\(\d+\)\[\d+:| \d{3}: | (?:[\w.-]+ )?kernel: | {1,2}\[\d+: | c\d{1,2} "
           r"|(?: ?\[ *[TC]\d+\])? ?\[name:)")
_TIME = re.compile(r"\[ *\d+\.(?:\d+|\d{6} )\]" + _FIELDS + r"(?: ?\[ *([TC]\d+)\])? ?")
# /dev/kmsg and extended netconsole records: "level,seq,usec,flags[,caller=T1][,ncfrag=..];text",
# the text as printed, with no separator (a one-digit level: the kernel's own facility; programs
# writing to /dev/kmsg log as user)
_EXT = re.compile(r"\d,\d+,\d+,[-c](?:[^;]*?,caller=([TC]\d+))?[^;]*;")
_MONTHS = frozenset(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"])
_DAYS = frozenset(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])  # journalctl -o short-full
_HEX = re.compile(r"0x[0-9a-fA-F]+|\b[0-9a-fA-F]{8,}\b")
_NUM = re.compile(r"\d+")
# The kernel tree's top-level directories: a path already starting with one is in the tree.
TOP_DIRS = ("arch", "block", "certs", "crypto", "drivers", "fs", "include", "init", "io_uring", "ipc",
            "kernel", "lib", "mm", "net", "rust", "samples", "scripts", "security", "sound", "tools", "usr",
            "virt")
# make O=build prints paths relative to the build directory: "../src/mm/rmap.c" (the source tree's own
# directory goes), or with the build directory inside the tree "../drivers/misc/lkdtm.c" (only "../").
_OUT_OF_TREE = re.compile(r"^(?:\.\./)+(?:(?=(?:" + "|".join(TOP_DIRS) + r")/)|[^/]+/)")


def strip_prefix(line: str) -> tuple[str, str]:
    """Split a console line into (text without printk/syslog prefix, context).

    The context is the caller id ("T123"/"C0") when present, "k" for other prefixed lines and
    "" for lines with no kernel prefix at all (user space, or a log without time stamps).
    """
    if line.startswith("["):  # fast path: the usual "[  12.345678] [ T123] " console line
        m = _TIME.match(line)
        if m:
            return line[m.end():], m.group(1) or "k"
    elif not line or not (line[0] in "< \t" or line[:3] in _MONTHS or line[:3] in _DAYS or line[0].isdigit()
                          or line.startswith(("kernel: ", "... kernel: "))):
        return _embedded(line)
    elif line[1:2] == ",":
        ext = _EXT.match(line)
        if ext:
            return line[ext.end():], ext.group(1) or "k"
    m = _PREFIX.match(line)
    assert m is not None  # every part is optional
    g = m.groupdict()
    if not (g["ts"] or g["caller"] or g["lvl"] or g["lvl2"] or g["kern"] or g["iso"]):
        # MediaTek's tag alone tells no more than no prefix: its lines stay with unprefixed ones
        return (line[m.end():], "") if g["mtk"] else _embedded(line)
    return _split(line, m)


def _split(line: str, m: re.Match[str]) -> tuple[str, str]:
    """(text, context) of a line whose prefix m matched (ending with _CALLER)."""
    g = m.groupdict()
    text = line[m.end():]
    # the separator printk puts after its prefix; after a syslog "kernel: " it is already gone, and
    # one more space is a stack line's own indentation ("kernel:  ? foo+0x1/0x2"); MediaTek's
    # field has none ("(5)[7247:insmod]  ESR = ...")
    if text.startswith(" ") and line[m.end() - 1] != " " and g["mpid"] is None and g["mtk"] is None:
        text = text[1:]
    return text, _context(g)


def _context(g: dict[str, str | None]) -> str:
    """The caller id of a prefix: printk's own, or the same one told by another field."""
    if g["caller"]:
        return g["caller"]
    if g["mpid"] is not None:  # pid 0 is each CPU's idle task: its CPU tells them apart
        return f"C{g['mcpu']}" if g["mpid"] == "0" else f"T{g['mpid']}"
    if g["rt"] is not None:
        return f"C{int(g['rt'])}"
    if g["spid"] is not None:
        return f"C{g['scpu']}" if g["spid"] == "0" else f"T{g['spid']}"
    if g["ccpu"] is not None:
        return f"C{g['ccpu']}"
    return "k"


def _embedded(line: str) -> tuple[str, str]:
    """A kernel line that user-space output on the same serial console cut into: the printk
    prefix comes after the other program's bytes ("el.service [0m.[  288.56][T215] WARNING: ...")."""
    f = _FACILITY.match(line)
    if f is not None:
        rest = line[f.end():]
        t = _MID.match(rest)
        return _split(rest, t) if t else (rest, "k")
    if "]" not in line:
        return line, ""
    m = _MID.search(line)
    if m is None:
        return line, ""
    return _split(line, m)


# dmesg -x's "facility:level : " (KernelCI's baseline dmesg tests print it, after LAVA's own time stamp:
# "2021-12-12T17:36:04.539783  kern  :emerg : BUG: ...")
_FACILITY = re.compile(r"(?:\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d)? +)?"
                       r"(?:kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|authpriv|ftp|local[0-7]) *:"
                       r"(?:emerg|alert|crit|err|warn|notice|info|debug) *: ?")
# printk's own time stamp (%5lu.%06lu) or dmesg -T's in mid-line (after dmesg -x's "kern  :warn  : "
# or another program's bytes), with or without a caller id.
_MID = re.compile(r"\[(?: *\d+\.\d{6} ?|[^\W\d_]{1,3}\.? [^\W\d_]{3,5}\.? +\d{1,2} \d\d:\d\d:\d\d \d{4})\]"
                  + _CALLER)
# The usual "[ts] [caller] " prefix; group 1 is just its "[" (a cached one-character string).
_BATCH = re.compile(r"^(?:(\[) *\d+\.(?:\d+|\d{6} )\]" + _FIELDS + r"(?: ?\[ *([TC]\d+)\])? ?)?(.*)$", re.MULTILINE)
_OTHER: dict[str, tuple[str, str]] = {}  # strip_prefix() of lines without a time stamp, per distinct line


def strip_many(lines: list[str]) -> list[tuple[str, str]]:
    """strip_prefix() of each line; one regex pass over them all for the usual time stamps."""
    other = _OTHER.get
    return [(text, caller or "k") if ts else (other(line) or _other(line))
            for line, (ts, caller, text) in zip(lines, _BATCH.findall("\n".join(lines)))]


def _other(line: str) -> tuple[str, str]:
    if len(_OTHER) >= 1 << 15:
        _OTHER.clear()
    got = _OTHER[line] = strip_prefix(line)
    return got


def source_path(file: str) -> str:
    """The path inside the kernel tree: out-of-tree builds print it relative to O=."""
    return _OUT_OF_TREE.sub("", file.removeprefix("./"))


def normalize(text: str, numbers: bool = False) -> str:
    """Make a message boot-independent: addresses become ADDR (and numbers NUM if asked)."""
    text = _HEX.sub("ADDR", text)
    return _NUM.sub("NUM", text) if numbers else text
