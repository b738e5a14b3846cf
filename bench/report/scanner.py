"""Kernel report scanner: console lines in, frozen ``Report`` objects out.

Two passes, both linear. The first finds the lines that start a report: a handful of
``str.find`` scans over the whole log for anchor words (C speed), then the oops table
(bench/report/table.py, table_more.py) on the few lines that contain one. The second walks
each report's own lines: where it ends and its stack (walk.py), and its syzkaller-style title
(describe.py). Lines carry printk time stamps, caller ids (``[ T123]``/``[ C0]``), syslog
levels or ``host kernel:`` prefixes (prefix.py) and may interleave with other tasks' records:
a report only takes lines of its own context (its caller id, "k" for other prefixed lines,
"" for unprefixed ones).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from bench.report import frames as fr
from bench.report.describe import describe
from bench.report.kinds import category_of, detail_of, type_of
from bench.report.prefix import normalize, source_path, strip_many, strip_prefix
from bench.report.table import Group
from bench.report.table_more import (
    ANCHORS,
    CONTINUES,
    EXTRA,
    GROUPS,
    PRE,
    PRE_ANCHORS,
    Pre,
)
from bench.report.taint import order
from bench.report.walk import (
    BANNER,
    CUT_HERE,
    SKIP_FUNCS,
    SKIP_PREFIXES,
    Walk,
    base_func,
)

__all__ = ["Report", "fold", "is_helper", "normalize", "scan", "source_path", "strip_prefix"]

LOOKBACK = 40  # how far back a dump_page() block or a "cut here" banner is looked for
MAX_WINDOW = 2000  # lines of a context a report's title may be looked for in
MAX_FRAMES = 64
PRE_LOOKBACK = 80  # dump_page() prints up to this many lines before the BUG/WARNING line
GAP = 100  # this many lines of other contexts in a row end a report
TITLE_MARGIN = 30  # lines after a report's end still searched for the frames of its title
ATTACH = 300  # a consequence (panic, Oops line...) this close after a report belongs to it
_CONSEQUENCE_PANIC = re.compile(
    r"Kernel panic - not syncing: (?:kernel: )?(?:Fatal exception|Attempted to kill|panic_on_warn set"
    r"|softlockup: hung tasks|hung_task: blocked tasks|Hard LOCKUP|RCU Stall|kasan\.fault|KFENCE|UBSAN|Oops"
    r"|corrupted stack end|panic_on_oops)")
_QUESTIONABLE = re.compile(r"(\[\<[0-9a-f]+\>\])? \? ")
_SRC = re.compile(r"(?:at |\) |: )(?P<f>[\w./-]+\.[chS]):\d+")


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


@dataclass(frozen=True)
class _Hit:
    line: int
    ctx: str
    group: Group | None
    pre: Pre | None
    detail: str = ""


@dataclass
class _Open:
    ctx: str
    start: int
    main: _Hit | None
    pre: _Hit | None = None
    extra: list[int] = field(default_factory=list)  # lines of merged hits (Oops, panic...)
    cut: int = -1  # syzkaller ends the title text here (console logs: the next header)
    panicked: bool = False


def _candidates(lines: list[str]) -> list[int]:
    """Indexes of the lines containing an anchor word, in order."""
    text = "\n".join(lines)
    starts: set[int] = set()
    for word in ANCHORS:
        pos = text.find(word)
        while pos != -1:
            starts.add(pos)
            nl = text.find("\n", pos)
            pos = -1 if nl == -1 else text.find(word, nl)
    out: list[int] = []
    line, at = 0, 0
    for pos in sorted(starts):
        line += text.count("\n", at, pos)
        at = pos
        if not out or out[-1] != line:
            out.append(line)
    return out


def _classify(raw: str, booted: bool) -> tuple[str, Group | None]:
    if "---[ end " in raw:  # the closing marker of a report or panic is never a header
        return "", None
    for group in GROUPS:
        if group.header not in raw or any(s.search(raw) for s in group.suppress):
            continue
        if group in EXTRA and not group.formats[0].title.search(strip_prefix(raw)[0]):
            continue
        if group.header == "Booting the kernel." and not booted:
            continue
        return strip_prefix(raw)[1], group
    return "", None


def _pre_hit(lines: list[str], lo: int, main: int) -> _Hit | None:
    """The earliest pre-report line (dump_page(), refcount, list debugging) in [lo, main)."""
    first = max(lo, main - PRE_LOOKBACK)
    block = "\n".join(lines[first:main])
    if not any(a in block for a in PRE_ANCHORS):  # the usual case: one scan of the whole block
        return None
    for j in range(first, main):
        line = lines[j]
        if not any(a in line for a in PRE_ANCHORS):
            continue
        text, ctx = strip_prefix(line)
        for pre in PRE:
            m = pre.pattern.search(text)
            if m and main - j <= pre.window:
                return _Hit(j, ctx, None, pre, pre.detail.format(**m.groupdict()))
    return None


def _hits(lines: list[str]) -> list[_Hit]:
    first_kernel = next((i for i, line in enumerate(lines) if strip_prefix(line)[1]), len(lines))
    hits: list[_Hit] = []
    after = 0  # pre-report lines are looked for between the previous header and this one
    for i in _candidates(lines):
        ctx, group = _classify(lines[i], i > first_kernel)
        if group is None:
            continue
        pre = _pre_hit(lines, after, i)
        if pre is not None and pre.ctx == ctx:
            hits.append(pre)
        hits.append(_Hit(i, ctx, group, None))
        after = i + 1
    return hits


def _joins(rep: _Open, hit: _Hit, line: str) -> bool:
    """Does this header belong to the open report (a consequence of it) rather than start one?"""
    assert hit.group is not None and rep.main is not None
    after = hit.line - rep.main.line
    if hit.group.header == "Kernel panic":
        return bool(_CONSEQUENCE_PANIC.search(line)) and after <= 5 * ATTACH
    if CONTINUES.search(line):
        return after <= ATTACH
    if hit.group in EXTRA and after <= 10:  # "unreferenced object" after syzkaller's "BUG: memory leak"
        return True
    if rep.main.group is not None and rep.main.group.kind == "SLAB" and hit.group.header == "INFO:" and after <= 40:
        return True  # SLUB's own "INFO: Allocated in ..." lines
    return after <= 40 and (hit.group.header in ("Internal error:", "Oops: ") or
                            hit.group.header == "BUG:" and "Internal error:" in line)


def _segment(hits: list[_Hit], lines: list[str]) -> list[_Open]:
    reports: list[_Open] = []
    open_: dict[str, _Open] = {}
    for hit in hits:
        line = lines[hit.line]
        if hit.group is not None and hit.group not in EXTRA and not CONTINUES.search(line):
            for other in open_.values():  # syzkaller cuts a console report at the next header
                if other.ctx in ("k", "") and other.main and other.cut < 0 and other.main.line < hit.line:
                    other.cut = hit.line
        rep = open_.get(hit.ctx)
        if hit.pre is not None:
            new = _Open(hit.ctx, hit.line, None, hit)
        elif rep and rep.main is None and rep.pre and rep.pre.pre and hit.line - rep.pre.line <= rep.pre.pre.window:
            rep.main = hit
            rep.cut = -1
            continue
        elif rep and rep.main and _joins(rep, hit, line):
            rep.extra.append(hit.line)
            rep.panicked = rep.panicked or hit.group is not None and hit.group.header == "Kernel panic"
            continue
        else:
            new = _Open(hit.ctx, hit.line, hit)
        reports.append(new)
        open_[hit.ctx] = new
    return reports


class _Window:
    """Lines [lo, hi) of the log around one report, prefixes stripped in chunks as it is read."""

    def __init__(self, raw: list[str], lo: int, hi: int) -> None:
        self.raw, self.lo, self.hi = raw, lo, min(hi, len(raw))
        self.items: list[tuple[str, str]] = []

    def get(self, i: int) -> tuple[str, str]:
        self._strip(i + 1)
        return self.items[i - self.lo]

    def _strip(self, upto: int) -> None:
        have = self.lo + len(self.items)
        if have < upto:
            self.items.extend(strip_many(self.raw[have:min(max(upto, have + 32), self.hi)]))

    def context(self, start: int, end: int, ctx: str) -> Iterator[tuple[int, str]]:
        """(index, text) of the lines of `ctx` in [start, end); indented unprefixed lines right
        after a line of `ctx` continue its multi-line record."""
        prev = False
        end = min(end, self.hi)
        i = last = start
        while i < end and i - last <= GAP:
            self._strip(i + 32)
            for text, c in self.items[i - self.lo:min(i + 32, end) - self.lo]:
                if c == ctx or (prev and not c and (not text.strip() or text[:1].isspace())):
                    prev = True
                    last = i
                    yield i, text
                elif c:
                    prev = False
                i += 1


def _start(rep: _Open, win: _Window) -> int:
    """A dump_page() block starts at its "page:" line; a "cut here"/===== banner just before counts."""
    first = rep.pre.line if rep.pre else rep.start
    back = list(win.context(win.lo, first, rep.ctx))
    if rep.pre and rep.pre.detail.startswith("VM_") and rep.pre.detail.endswith(")"):
        for i, text in reversed(back):
            if text.strip().startswith("page:"):
                return i
    if back and (BANNER.match(back[-1][1].strip()) or CUT_HERE.match(back[-1][1].strip())):
        return back[-1][0]
    return first


def _title_lines(rep: _Open, win: _Window, end: int) -> list[str]:
    """The text syzkaller titles the report from: its context from the header on."""
    assert rep.main is not None
    main = rep.main.line
    stop = min(rep.cut if rep.cut > main else end, win.hi)
    win.get(stop - 1)
    out: list[str] = []
    nmi = False
    for text, c in win.items[main - win.lo:stop - win.lo]:
        if c != rep.ctx and not (nmi and c.startswith("C")):
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


def _build(rep: _Open, raw: list[str], end: int) -> Report:
    main = rep.main or rep.pre
    assert main is not None
    first = rep.pre.line if rep.pre else rep.start
    vm = rep.pre is not None and rep.pre.detail.startswith("VM_")
    win = _Window(raw, max(0, first - (LOOKBACK if vm else 3)), min(end, first + MAX_WINDOW))
    start = _start(rep, win)
    walk = Walk(banner=BANNER.match(win.get(start)[0].strip()) is not None,
                end_unindented=main.group is not None and main.group.kind == "KMEMLEAK")
    for i, text in win.context(start, win.hi, rep.ctx):
        if not walk.feed(i, text):
            break
    taken = walk.taken or [main.line]
    taken = sorted(set(taken) | {x for x in rep.extra if x > taken[-1]})
    if rep.main is not None and rep.main.group is not None:
        desc = describe(_title_lines(rep, win, taken[-1] + 1 + TITLE_MARGIN), rep.main.group)
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
        call_trace=tuple(f for f, _ in frames[:MAX_FRAMES]), raw=tuple(raw[i] for i in taken),
        first_line=taken[0], last_line=taken[-1], corrupted=bool(reason), corrupted_reason=reason,
        taint=order(walk.taint), detail=detail_of(title, pre, header),
        panicked=rep.panicked or (main.group is not None and main.group.header == "Kernel panic"),
        alt_titles=alts, category=category_of(rtype, title))


def _pre_title(rep: _Open, walk: Walk) -> str:
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
    raw = [line.rstrip("\r\n") for line in lines]
    reports = _segment(_hits(raw), raw)
    built = []
    nxt: dict[str, int] = {}  # where the next report of each context starts
    for rep in reversed(reports):
        built.append(_build(rep, raw, nxt.get(rep.ctx, len(raw))))
        nxt[rep.ctx] = rep.start
    return sorted(built, key=lambda r: r.first_line)


def fold(reports: Iterable[Report]) -> list[tuple[Report, int]]:
    """Deduplicate by title, keeping the first report of each title and counting the rest."""
    first: dict[str, Report] = {}
    count: dict[str, int] = {}
    for rep in reports:
        first.setdefault(rep.title, rep)
        count[rep.title] = count.get(rep.title, 0) + 1
    return [(rep, count[title]) for title, rep in first.items()]
