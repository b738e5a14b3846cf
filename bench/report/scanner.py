"""Kernel report scanner: console lines in, frozen ``Report`` objects out.

Two passes, both linear. The first (segment.py) finds the lines that start a report and
groups them into reports; WARNING:/INFO: lines that are chatter (firmware, drivers, user space)
are left out here. The second walks each report's own lines: where it ends and its stack
(walk.py), and its syzkaller-style title (describe.py). Lines carry printk time stamps, caller
ids (``[ T123]``/``[ C0]``), syslog levels or ``host kernel:`` prefixes (prefix.py) and may
interleave with other tasks' records: a report only takes lines of its own context (its caller
id, "k" for other prefixed lines, "" for unprefixed ones). Prefixes are stripped lazily, each
line once, and only around reports; per-line facts are cached (frames.py, walk.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from itertools import compress
from dataclasses import dataclass, replace

from bench.base.console_lines import CUT
from bench.base.limits import LIMITS
from bench.report import frames as fr
from bench.report.copies import doubled
from bench.report.describe import describe, title_known
from bench.report.groups import Group
from bench.report.kinds import category_of, detail_of, type_of
from bench.report.oops_table import CONTINUES, DIE_LINE
from bench.report.prefix import normalize, source_path, strip_many, strip_prefix
from bench.report.segment import Hit, Open, header_of, hits, segment
from bench.report.taint import order
from bench.report.walk import (
    BANNER,
    BLOCK,
    CUT_HERE,
    GAP,
    SKIP_FUNCS,
    SKIP_PREFIXES,
    Walk,
    base_func,
    continues,
    line_info,
)

__all__ = ["Report", "fold", "is_helper", "normalize", "scan", "source_path", "strip_prefix"]

LOOKBACK = 40  # how far back a dump_page() block or a "cut here" banner is looked for
MAX_WINDOW = 2000  # lines of a context a report's title may be looked for in
MAX_FRAMES = 64
_SHIFT = 5  # the log strips blocks of 1 << _SHIFT == BLOCK lines
TITLE_MARGIN = 30  # lines after a report's end still searched for the frames of its title
_QUESTIONABLE = re.compile(r"(\[\<[0-9a-f]+\>\])? \? ")
# Headers that firmware, drivers, mitigation notes and user space print too; not BUG: (syzbot
# titles message-only BUG: lines such as "BUG: Address ... is missing its host route").
_CHATTY = ("WARNING:", "INFO:")
CHATTER_LOOK = 100  # lines of its context after a WARNING:/INFO: line where its stack would be
# A program's line written to /dev/kmsg ("virtme-ng-init: WARNING: failed to run: ..."): the
# kernel's own WARNING/INFO headers never follow a "name: " tag, and an interleaved one has its
# stack right after, so such a line needs a stack within a few lines (without CONFIG_PRINTK_CALLER
# every line shares one context, and a real report further on must not adopt it).
_TAGGED = re.compile(r"[\w.@/-]+(?:\[\d+\])?: (?:WARNING|INFO):")
TAGGED_LOOK = 8
# Every stack marker, RIP and frame line (walk.LINE kinds stack, rip, frame) contains one of these
# (decode_stacktrace.sh's frames "func (file.c:12)" have no offset).
_STACK_HINTS = ("+0x", "[inline]", "Call Trace", "Call trace", "Backtrace", ".c:", ".h:", ".S:")
_SRC = re.compile(r"(?:at |\) |: )(?P<f>[\w./-]+\.[chS]):\d+")
# Serial-console noise around kernel lines: terminal escapes (systemd's colours, cursor moves),
# NUL padding, and carriage returns (what follows the last one is what the terminal shows).
_ESCAPES = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])|\x00")
_NOISE = ("\r", "\x1b", "\x00")
# kselftest/KTAP output ("# ...", "ok 1 ...", "not ok 2 ...") is a test's own, never a kernel record.
_TAP = re.compile(r"\s*(?:# |(?:not )?ok \d+ )")
# Headers a program may print with the same words; unprefixed in a log whose kernel lines carry a
# prefix, such a line is user space unless a stack trace follows it like a kernel report's.
_USER_WORDS = ("BUG:", "WARNING:", "INFO:")
USER_NEAR = 20  # lines each side looked at for the kernel's own prefixed lines


@dataclass(frozen=True)
class Report:
    """One kernel report found in a console log (line numbers are 0-based input indexes)."""

    type: str
    title: str
    guilty_func: str
    guilty_file: str
    call_trace: tuple[str, ...]
    raw: tuple[str, ...]
    first_line: int
    last_line: int
    corrupted: bool
    corrupted_reason: str
    taint: str
    detail: str = ""  # the variable part: VM_BUG_ON condition, refcount/panic message, ...
    panicked: bool = False
    alt_titles: tuple[str, ...] = ()  # other titles of the same bug, for deduplication
    category: str = ""  # KernelCI logspec / KCIDB issue category, e.g. "linux.kernel.warning"


def is_helper(func: str) -> bool:
    """True for reporting machinery and plumbing that is never the guilty frame."""
    return func in SKIP_FUNCS or func.startswith(SKIP_PREFIXES) or fr.is_skipped(func)


class _Log:
    """The console lines, their prefixes stripped lazily in aligned blocks (each line once)."""

    def __init__(self, raw: list[str]) -> None:
        self.raw = raw
        self.items: list[tuple[str, str]] = [("", "")] * len(raw)
        self.done = bytearray((len(raw) >> _SHIFT) + 1)

    def ensure(self, lo: int, hi: int) -> None:
        """Strip lines [lo, hi)."""
        done = self.done
        for b in range(lo >> _SHIFT, ((hi - 1) >> _SHIFT) + 1):
            if not done[b]:
                first = b << _SHIFT
                last = min(first + BLOCK, len(self.raw))
                self.items[first:last] = strip_many(self.raw[first:last])
                done[b] = 1

    def get(self, i: int) -> tuple[str, str]:
        self.ensure(i, i + 1)
        return self.items[i]

    def context(self, start: int, end: int, ctx: str) -> Iterator[tuple[int, str]]:
        """(index, text) of the lines of `ctx` in [start, end), until GAP lines of other
        contexts in a row; indented unprefixed lines right after a line of `ctx` continue its
        multi-line record."""
        prev: str | None = None
        i = last = start
        items = self.items
        end = min(end, len(items))
        while i < end and i - last <= GAP:
            stop = min(i + BLOCK, end)
            self.ensure(i, stop)
            for text, c in items[i:stop]:
                if c == ctx or (not c and continues(prev, text)):
                    prev = text
                    last = i
                    yield i, text
                elif c:
                    prev = None
                i += 1


def _start(rep: Open, log: _Log, lo: int) -> int:
    """A dump_page() block starts at its "page:" line; a "cut here"/===== banner just before counts."""
    first = rep.pre.line if rep.pre else rep.start
    back = list(log.context(lo, first, rep.ctx))
    if rep.pre and rep.pre.detail.startswith("VM_") and rep.pre.detail.endswith(")"):
        for i, text in reversed(back):
            if text.strip().startswith("page:"):
                return i
    if back and (BANNER.match(back[-1][1].strip()) or CUT_HERE.match(back[-1][1].strip())):
        return back[-1][0]
    return first


_TITLE_RULES = ("Sending NMI from CPU", "Kernel panic - not syncing", "WARNING: possible circular locking dependency",
                "Disabling lock debugging due to kernel taint", " (unreliable)")


def _own_lines(items: list[tuple[str, str]], ctx: str) -> list[bool]:
    """Which of these (text, context) lines syzkaller would title from: the context's own, and the
    unprefixed rest of one of them that a mail client wrapped (a line of the context ending in a
    blank, walk.continues); not the indented unprefixed lines the walk keeps in the report."""
    out: list[bool] = []
    prev: str | None = None
    for text, c in items:
        mine = c == ctx or (not c and prev is not None and prev[-1:] == " " and text.strip() != "")
        if mine:
            prev = text
        elif c:
            prev = None
        out.append(mine)
    return out


def _unwrap_header(items: list[tuple[str, str]], group: Group | None) -> list[tuple[str, str]]:
    """A header line a mail client (or a terminal) wrapped: "general protection fault, probably for" /
    "non-canonical address 0x..: 0000 [#1] SMP KASAN", "WARNING: mm/page_counter.c:60 at" /
    "page_counter_cancel+0x110/0x134, CPU#24: ...", "blocked for more than 122 " / "seconds.". When
    no title format of its group matches the header on its own, the unprefixed, unindented line
    right after it continues it if the two together are titled."""
    if group is None or len(items) < 2:
        return items
    (head, ctx), (nxt, c) = items[0], items[1]
    if c or not nxt.strip() or nxt[:1].isspace() or title_known(group, head):
        return items
    joined = head + nxt if head.endswith(" ") else f"{head} {nxt}"
    return [(joined, ctx)] + items[2:] if title_known(group, joined) else items


def _rejoin(items: list[tuple[str, str]], own: list[bool], ctx: str) -> tuple[list[tuple[str, str]], list[bool]]:
    """The report's own lines with the pieces a mail client wrapped put back together: an unprefixed
    line _own_lines() keeps (the line before it ended in a blank) continues that line, so a title
    reads it as the console printed it ("..., at: " / "rapl_package_add_pmu+0x37/0x370 [...]"). Only in
    a report whose lines have a prefix: without one no line tells a wrapped piece from the next record.
    Not the header: a header ending in a blank that titles alone takes nothing after it (a user-space
    "login: root" was read into "WARNING: possible circular locking dependency detected login: root")."""
    out: list[tuple[str, str]] = []
    keep: list[bool] = []
    last = -1  # index in out of the last own line
    for (text, c), mine in zip(items, own):
        if mine and not c and ctx and last > 0 and out[last][0].endswith(" "):  # not the header: _unwrap_header's
            out[last] = (out[last][0] + text, out[last][1])
            continue
        if mine:
            last = len(out)
        out.append((text, c))
        keep.append(mine)
    return out, keep


def _title_lines(rep: Open, log: _Log, end: int, hi: int) -> list[str]:
    """The text syzkaller titles the report from: its context from the header on."""
    assert rep.main is not None
    main = rep.main.line
    stop = min(rep.cut if main < rep.cut < end else end, hi)
    log.ensure(main, stop)
    ctx = rep.ctx
    items = _unwrap_header(log.items[main:stop], rep.main.group)
    raw = "\n".join(log.raw[main:stop])
    items, own = _rejoin(items, _own_lines(items, ctx), ctx)
    if not any(r in raw for r in _TITLE_RULES):  # the usual case: only unreliable frames go
        q = _QUESTIONABLE.search
        return [items[0][0]] + [t for (t, _), mine in zip(items[1:], own[1:])
                                if mine and (" ? " not in t or not q(t) or "<EOI>" in t)]
    out: list[str] = []
    nmi = False
    for (text, c), mine in zip(items, own):
        if not mine and not (nmi and c.startswith("C")):
            continue
        nmi = nmi or "Sending NMI from CPU" in text
        if out:
            if len(out) > 22 and ("Kernel panic - not syncing" in text or
                                  "WARNING: possible circular locking dependency detected" in text):
                break
            if "Disabling lock debugging due to kernel taint" in text or \
                    (" ? " in text and _QUESTIONABLE.search(text) and "<EOI>" not in text):
                continue
        out.append(text.removesuffix(" (unreliable)"))
    return out


def _build(rep: Open, log: _Log, end: int) -> Report:
    main = rep.main or rep.pre
    assert main is not None
    raw = log.raw
    first = rep.pre.line if rep.pre else rep.start
    vm = rep.pre is not None and rep.pre.detail.startswith("VM_")
    hi = min(end, first + MAX_WINDOW, len(raw))  # the lines the report may take
    start = _start(rep, log, max(0, first - (LOOKBACK if vm else 3)))
    walk = Walk(banner=BANNER.match(log.get(start)[0].strip()) is not None,
                end_unindented=main.group is not None and main.group.kind == "KMEMLEAK")
    walk.run(log.items, log.ensure, start, hi, rep.ctx)
    taken = walk.taken or [main.line]  # ascending
    extra = [x for x in rep.extra if x > taken[-1]]
    if extra:
        taken = sorted(set(taken) | set(extra))
    if rep.main is not None and rep.main.group is not None:
        desc = describe(_title_lines(rep, log, taken[-1] + 1 + TITLE_MARGIN, hi), rep.main.group)
        if "corrupted" in desc.frames and rep.ctx not in ("k", "") and hi < (far := min(first + MAX_WINDOW, len(raw))):
            # With caller ids syzkaller titles a report from all its context's lines after the
            # header: a report cut short by an oops of the same task (lockdep crashing while it
            # prints a lock) takes its frame from that oops's stack (syzkaller's report 655).
            more = describe(_title_lines(rep, log, far, far), rep.main.group)
            if "corrupted" not in more.frames:
                desc = more
        title, reason, alts, named = desc.title, desc.corrupted_reason, desc.alt_titles, desc.frames
    else:
        title, reason, alts, named = _pre_title(rep, walk), "", (), ()
    frames = walk.frames
    func = base_func(named[0]) if named and named[0] != "corrupted" else _first_guilty(frames, walk)
    pre = rep.pre.detail if rep.pre else ""
    rtype = type_of(title, main.group, pre)
    header = strip_prefix(raw[main.line])[0]
    return Report(
        type=rtype, title=title, guilty_func=func, guilty_file=_file_of(func, frames, walk, header),
        call_trace=tuple([f for f, _ in frames[:MAX_FRAMES]]), raw=tuple([raw[i] for i in taken]),
        first_line=taken[0], last_line=taken[-1], corrupted=bool(reason), corrupted_reason=reason,
        taint=order(walk.taint), detail=detail_of(title, pre, header),
        panicked=rep.panicked or (main.group is not None and main.group.header == "Kernel panic"),
        alt_titles=alts, category=category_of(rtype, title))


def _pre_title(rep: Open, walk: Walk) -> str:
    func = _first_guilty(walk.frames, walk)
    detail = rep.pre.detail if rep.pre else ""
    return f"{detail} in {func}" if func else detail


def _first_guilty(frames: list[tuple[str, str]], walk: Walk) -> str:
    for func, _ in ([walk.rip] if walk.rip else []) + frames:
        if not is_helper(func):
            return func
    return ""


def _file_of(func: str, frames: list[tuple[str, str]], walk: Walk, header: str) -> str:
    for f, file in frames + ([walk.rip] if walk.rip else []):
        if f == func and file:
            return source_path(file)
    m = _SRC.search(header)
    return source_path(m.group("f")) if m else ""


def scan(lines: Iterable[str]) -> list[Report]:
    """Find the kernel reports in console output (linear time), in log order."""
    raw = [ln if len(ln) <= LIMITS.report_line else _cut(ln) for ln in lines]
    text = "\n".join(raw)
    if dirty := any(c in text for c in _NOISE) or text.count("\n") != len(raw) - 1:  # else nothing to clean
        raw = [_clean(line) for line in raw]
    kept: list[int] | None = None  # the input index of each line scanned, when copies were left out
    if copies := doubled(raw):
        keep = bytearray(b"\x01") * len(raw)
        for i in copies:
            keep[i] = 0
        kept, raw = list(compress(range(len(raw)), keep)), list(compress(raw, keep))
    if dirty or copies:
        text = "\n".join(raw)
    log = _Log(raw)
    quiet = [0, 0]  # raw lines [a, b) known to hold no stack hint (chatter comes in runs)
    found = hits(raw, text, lambda hit: _chatter(hit, log, quiet))
    built = []
    nxt: dict[str, int] = {}  # where the next report of each context starts
    for rep in reversed(segment(found, raw)):
        built.append(_build(rep, log, nxt.get(rep.ctx, len(raw))))
        nxt[rep.ctx] = rep.start
    if kept is not None:  # line numbers of the input
        built = [replace(r, first_line=kept[r.first_line], last_line=kept[r.last_line]) for r in built]
    return sorted(built, key=lambda r: r.first_line)


def _cut(line: str) -> str:
    """A line longer than any printk record (a guest's process writes the console too) cut at
    LIMITS.report_line, as the patterns see it: some take time quadratic in its length."""
    return line[:LIMITS.report_line] + CUT.format(limit=LIMITS.report_line, dropped=len(line) - LIMITS.report_line)


def _clean(line: str) -> str:
    """The text a terminal would show of a console line: no line end, escapes or NULs, and only
    what follows its last carriage return."""
    if "\x1b" in line or "\x00" in line:
        line = _ESCAPES.sub("", line)
    line = line.rstrip("\r\n")
    if "\r" in line:
        shown = [part for part in line.split("\r") if part.strip()]
        line = shown[-1] if shown else ""
    return line


def _user_line(hit: Hit, log: _Log) -> bool:
    """An unprefixed BUG:/WARNING:/INFO: line among prefixed kernel lines: a program's output."""
    if hit.ctx or hit.group is None or hit.group.header not in _USER_WORDS:
        return False
    lo, hi = max(0, hit.line - USER_NEAR), min(len(log.raw), hit.line + USER_NEAR + 1)
    return any(log.get(i)[1] for i in range(lo, hi) if i != hit.line)


def _chatter(hit: Hit, log: _Log, quiet: list[int]) -> bool:
    """A header line that is no report: firmware, driver messages, mitigation notes, user space.
    WARNING:/INFO: lines no report format titles, and BUG:/WARNING:/INFO: lines of a program among
    the kernel's prefixed lines, are chatter unless a stack trace (marker, RIP or frame) follows
    within CHATTER_LOOK (TAGGED_LOOK) lines of their context; kselftest's TAP lines always are."""
    group = hit.group
    if group is None:
        return False
    text = strip_prefix(log.raw[hit.line])[0]
    if _TAP.match(text):
        return True
    user = _user_line(hit, log)
    if not user and (group.header not in _CHATTY or title_known(group, text)):
        return False
    look = TAGGED_LOOK if user or _TAGGED.match(text) else CHATTER_LOOK
    lo, hi = hit.line + 1, min(hit.line + 1 + look, len(log.raw))
    a, b = quiet
    start = b if a <= lo <= b else lo
    after = "\n".join(log.raw[start:hi])
    if not any(h in after for h in _STACK_HINTS):  # the usual case: no stack line at all near
        quiet[:] = [a, max(b, hi)] if start == b else [lo, hi]
        return True
    for i, line in log.context(hit.line + 1, hit.line + 1 + look, hit.ctx):
        if line_info(line.strip())[0] in ("stack", "rip", "frame"):
            return False
        if header_of(log.raw[i]) is not None and not (CONTINUES.search(line) or DIE_LINE.search(line)):
            return True  # a stack after the next header is that one's (a panic or die() line is this one's)
    return True


def fold(reports: Iterable[Report]) -> list[tuple[Report, int]]:
    """Deduplicate by title, keeping the first report of each title and counting the rest."""
    first: dict[str, Report] = {}
    count: dict[str, int] = {}
    for rep in reports:
        first.setdefault(rep.title, rep)
        count[rep.title] = count.get(rep.title, 0) + 1
    return [(rep, count[title]) for title, rep in first.items()]
