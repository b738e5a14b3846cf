"""Title one report: pick the oops format that matches earliest, fill in the guilty frames,
make the title boot-independent, and decide whether the report is corrupted.

The rules follow syzkaller's pkg/report (extractDescription, isCorrupted and its dynamic
title replacements), so a report gets the title syzbot would give it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from bench.report.frames import ARM_FRAMES, CALL_TRACE, extract, facts
from bench.report.groups import Format, Group

NO_FRAMES = "extracted no frames"

# Boot-dependent parts of a title (pids, addresses, line numbers, offsets, CPU numbers...).
_REPLACE = (
    (re.compile(r"syz-executor\.?[0-9]+((/|:)[0-9]+)?"), "syz-executor"),
    (re.compile(r"syzkaller[0-9]+((/|:)[0-9]+)?"), "syzkaller"),
    (re.compile(r"(?<![\w:.])(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}(?![\w:])"), "IPV6ADDR"),
    (re.compile(r"([^a-zA-Z0-9])(?:0x)?[0-9a-f]{6,}"), r"\1ADDR"),
    (re.compile(r"([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})"), "IP"),
    (re.compile(r"(\.\w+)(:[0-9]+)+"), r"\1:LINE"),
    (re.compile(r"([a-zA-Z][a-zA-Z0-9_.]+)\+0x[0-9a-z]+/0x[0-9a-z]+"), r"\1"),
    (re.compile(r"CPU#[0-9]+"), "CPU"),
    (re.compile(r"(\W)(\d+)(\W|$)"), r"\1NUM\3"),
    (re.compile(r"(\d+){7,}"), "NUM"),
)
_TIMESTAMP = re.compile(r"\[ *[0-9]+\.[0-9]+\]")
MAX_TITLE = 120


@dataclass(frozen=True)
class Description:
    title: str
    corrupted_reason: str
    alt_titles: tuple[str, ...]
    frames: tuple[str, ...]  # the guilty frame(s) the title names, raw (with syscall prefixes)
    format: Format | None


@lru_cache(maxsize=4096)
def clean_title(title: str) -> str:
    """syzkaller's replacement table, then printable ASCII, single spaces, at most 120 chars."""
    for pattern, repl in _REPLACE:
        while True:
            new = pattern.sub(repl, title)
            if new == title:
                break
            title = new
    out: list[str] = []
    prev = " "
    for ch in title[:MAX_TITLE]:
        if ch == "\t":
            ch = " "
        elif ch < " " or ch > "~":
            continue
        if ch == " " and prev == " ":
            continue
        out.append(ch)
        prev = ch
    return "".join(out).strip()


_FIRST: dict[tuple[str, str], tuple[tuple[int, int], ...]] = {}


def _first_line_hits(group: Group, first: str, text: str) -> list[tuple[int, int, Format]]:
    """(start, table index, format) of the formats whose title matches in the first line."""
    key = (group.header, first)
    cached = _FIRST.get(key)
    if cached is None:  # the formats searched in the first line only, once per distinct line
        found = []
        for i, f in enumerate(group.formats):
            if "\\n" not in f.title.pattern:
                m = f.title.search(first)
                if m and m.start() < len(first):
                    found.append((m.start(), i))
        if len(_FIRST) >= 1 << 14:
            _FIRST.clear()
        cached = _FIRST[key] = tuple(found)
    hits = [(start, i, group.formats[i]) for start, i in cached]
    for i in group.multiline:
        f = group.formats[i]
        m = f.title.search(text)
        if m and m.start() < len(first):
            hits.append((m.start(), i, f))
    return hits


def title_known(group: Group, line: str) -> bool:
    """Does some format of the group title this header line (on its own)?"""
    first = line + "\n"
    return bool(_first_line_hits(group, first, first))


def describe(lines: list[str], group: Group) -> Description:
    """Title the report whose text (prefixes stripped) is `lines`, header line first."""
    if lines and "\t" in lines[0]:  # printk's headers have spaces; a mail or a commit message made a tab
        lines = [lines[0].replace("\t", " ")] + lines[1:]
    text = "\n".join(lines)
    first = lines[0] + "\n" if lines else ""
    hits = _first_line_hits(group, first, text)
    if not hits:  # the title may only match further down (rare): search the whole text
        hits = [(m.start(), i, f) for i, f in enumerate(group.formats) if (m := f.title.search(text))]
    best = min((start for start, _, _ in hits), default=-1)
    desc, corrupted, fmt = "", "", None
    alts: list[str] = []
    frames: tuple[str, ...] = ()
    for start, _, f in sorted(hits, key=lambda h: h[1]):
        if start != best or desc:
            continue
        m = f.report.search(text) if f.report else f.title.search(text, start)
        if m is None:
            continue
        args = [g or "" for g in m.groups()]
        corrupted = ""
        raw: list[str] = []
        if f.stack is not None:
            found, ok = extract(text[m.start():], f.stack)
            corrupted = "" if ok else NO_FRAMES
            args += [canon for canon, _ in found]
            raw = [r for _, r in found]
        desc = _format(f.fmt, args)
        alts = [_format(a, args) for a in f.alt]
        raw_args = args[:len(args) - len(raw)] + raw  # frames as printed: __x64_sys_rmdir
        alts += [_format(f.fmt, raw_args)] + [_format(a, raw_args) for a in f.alt]
        fmt, frames = f, tuple(raw)
    if not desc:
        corrupted = "matched title but not report regexp" if hits else ""
        pos = text.find(group.header)
        desc = text[pos:].split("\n", 1)[0] if pos >= 0 else (lines[0] if lines else "")
    if not corrupted and fmt is not None and fmt.corrupted:
        corrupted = "report format is marked as corrupted"
    title = clean_title(desc)
    if not corrupted:
        corrupted = _corrupted(title, lines, fmt, own_stack=bool(frames) and fmt is not None and fmt.stack is not None
                               and CALL_TRACE not in fmt.stack.parts + fmt.stack.parts2)
    alt = tuple(dict.fromkeys(t for a in alts if (t := clean_title(a)) != title))
    return Description(title, corrupted, alt, frames, fmt)


def _format(template: str, args: list[str]) -> str:
    try:
        return template.format(*args)
    except IndexError:  # fewer frames than the template names: syzkaller prints a marker too
        return template.format(*(args + ["corrupted"] * 4))


def _corrupted(title: str, lines: list[str], fmt: Format | None, own_stack: bool) -> str:
    """own_stack: the frames came from a stack with no "Call Trace" keyword (KFENCE, KMSAN)."""
    if _TIMESTAMP.search(title):
        return "title matches corrupted regexp"
    if fmt is None or fmt.no_stack or own_stack:
        return ""
    has_stack = False
    for i, line in enumerate(lines):
        if not facts(line)[1]:
            continue
        after = lines[i + 1:i + 16]
        if len(lines) - i < 4:
            return "call trace is missed"
        ok = False
        for nxt in after:
            _, stack_start, frame = facts(nxt)
            if "(stack is not available)" in nxt or frame is not None:  # arm32's unwind_backtrace line too
                ok = True
                break
            if stack_start:
                break
        if not ok and not line.lstrip().startswith("status: "):
            return "no frames in a stack trace"
        has_stack = has_stack or ok
        break  # syzkaller checks the first occurrence of each keyword; the first one decides here
    if not has_stack and any(ARM_FRAMES.search(line) for line in lines):
        return ""  # arm32 unwinding without "Backtrace:" prints its "(f) from (g)" frames after the raw stack
    return "" if has_stack else "no stack trace in report"
