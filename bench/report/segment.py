"""The scanner's first pass: which console lines start a kernel report, and which of them
belong together (one report: a header, the lines printed before it by dump_page() or list
debugging, and its consequences such as the panic that follows).

A handful of passes over the whole log for anchor words (C speed), then the oops table
(bench/report/groups.py, oops_table.py) on the few lines that contain one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.report.groups import Group
from bench.report.prefix import strip_prefix
from bench.report.oops_table import (
    ANCHOR_RES,
    ANCHOR_WORDS,
    CONTINUES,
    COUNTERS,
    DIE_LINE,
    EXTRA,
    GROUPS,
    INLINE_HEADER,
    INLINE_LEVELS,
    PRE,
    PRE_ANCHORS,
    PRE_NEAR,
    REBOOT,
    SAME_OBJECT,
    SAME_OBJECT_LINES,
    Pre,
)

PRE_LOOKBACK = 80  # dump_page() prints up to this many lines before the BUG/WARNING line
ATTACH = 300  # a consequence (panic, Oops line...) this close after a report belongs to it
_CONSEQUENCE_PANIC = re.compile(
    r"Kernel panic - not syncing: (?:kernel: )?(?:Fatal exception|Attempted to kill|panic_on_warn set"
    r"|softlockup: hung tasks|hung_task: blocked tasks|Hard LOCKUP|RCU Stall|kasan\.fault|KFENCE|UBSAN|Oops"
    r"|corrupted stack end|corrupted shadow stack|panic_on_oops|panic_on_taint set|kmsan\.panic"
    # __schedule_bug() before check_panic_on_warn() (5.x), and kernel.warn_limit
    r"|scheduling while atomic|system warned too often"
    # x86 exc_double_fault(): die() and then panic("Machine halted.") (arch/x86/kernel/traps.c)
    r"|Machine halted)")
# A stack frame of panic(): the report was printed while the kernel panicked.
_IN_PANIC = re.compile(r"[\s>\]]panic\+0x[0-9a-f]+/")
PANIC_LOOK = 80  # lines after such a header its stack is looked for in
# The exit path of a task dying of an oops, after the oops was printed: make_task_dead() (5.17+),
# x86's rewind_stack_*(), or do_exit() called by die() (powerpc, arm64 and arm before 5.17). A
# report whose stack runs through it (a sleeping function, scheduling while atomic, a lock held
# at exit...) was printed by the oopsing task on its way out: the fallout of its oops. __die(),
# oops_end() and "?" frames are left out: the oops's own stack may show them.
_DEATH = frozenset({"make_task_dead", "rewind_stack_do_exit", "rewind_stack_and_make_dead"})
_FRAME_NAME = re.compile(r"^\s*(?:\[<?[0-9a-f]+>?\]\s*){0,2}(\?\s)?\.?(\w+)\+0x[0-9a-f]+/")
# Where the stack of one report ends and another report's begins.
_STACK_END = re.compile(r"---\[ end trace|\[ cut here \]|Kernel panic - not syncing")
_FAR_ANCHORS = tuple(a for a, window in PRE_ANCHORS if window > PRE_NEAR)
_NEAR_ANCHORS = tuple(a for a, window in PRE_ANCHORS if window <= PRE_NEAR)
_NO_DIE = ("INFO:", "WARNING:")
# Groups whose header, on a die() line (DIE_LINE), is the die() line of the report already open:
# it does not cut the other open reports, and it joins (_joins() also takes "Oops: " there).
_DIE_HEADERS = ("Kernel BUG", "Internal error:", "BUG:", "Oops - ", "[#")
# printk's marker before it prints again a record that an interrupting record cut short.
_REPLAY = "** replaying previous printk message **"
_EXTRA = frozenset(map(id, EXTRA))  # identity: comparing frozen dataclasses compares every field
# warn_slowpath_fmt() (arches without __WARN_FLAGS: arm, ...) prints WARN()'s message after the
# "WARNING:" line, not before it: a refcount_t/ODEBUG line this close after one is its message.
WARN_MESSAGE = 3
_CUT_HERE = "[ cut here ]"


@dataclass(frozen=True)
class Hit:
    line: int
    ctx: str
    group: Group | None
    pre: Pre | None
    detail: str = ""


@dataclass
class Open:
    ctx: str
    start: int
    main: Hit | None
    pre: Hit | None = None
    extra: list[int] = field(default_factory=list)  # lines of merged hits (Oops, panic...)
    cut: int = -1  # syzkaller ends the title text here (console logs: the next header)
    panicked: bool = False
    panic_line: int = -1  # its "Kernel panic - not syncing" line: what follows is the panic's fallout


def _candidates(text: str) -> list[int]:
    """Indexes of the lines containing an anchor (the log joined by newlines), in order."""
    starts: set[int] = set()
    for rx in ANCHOR_RES:
        starts.update(m.start() for m in rx.finditer(text))
    for word in ANCHOR_WORDS:
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
        if id(group) in _EXTRA and not group.formats[0].title.search(strip_prefix(raw)[0]):
            continue
        if group.header == "Booting the kernel." and not booted:
            continue
        return strip_prefix(raw)[1], group
    return "", None


def header_of(raw: str) -> Group | None:
    """The group of a console line that is a report header (before any chatter check)."""
    return _classify(raw, True)[1]


def _pre_hit(lines: list[str], lo: int, main: int) -> Hit | None:
    """The earliest pre-report line (dump_page(), refcount, list debugging) in [lo, main)."""
    first = max(lo, main - PRE_LOOKBACK)
    far = "\n".join(lines[first:main])
    if not any(a in far for a in _FAR_ANCHORS):  # the usual case: no anchor within its window
        near = "\n".join(lines[max(lo, main - PRE_NEAR):main])
        if not any(a in near for a in _NEAR_ANCHORS):
            return None
    for j in range(first, main):
        line = lines[j]
        if not any(a in line for a, _ in PRE_ANCHORS):
            continue
        text, ctx = strip_prefix(line)
        for pre in PRE:
            m = pre.pattern.search(text)
            if m and main - j <= pre.window:
                return Hit(j, ctx, None, pre, pre.detail.format(**m.groupdict()))
    return None


def hits(lines: list[str], text: str, chatter: Callable[[Hit], bool]) -> list[Hit]:
    """The header lines and pre-report lines of the log (text: its lines joined by newlines);
    chatter(hit) tells a header that is no report after all."""
    first_kernel = next((i for i, line in enumerate(lines) if strip_prefix(line)[1]), len(lines))
    hits: list[Hit] = []
    after = 0  # pre-report lines are looked for between the previous header and this one
    warned: Hit | None = None  # the previous header, when it is a WARNING whose message may follow
    for i in _candidates(text):
        if i + 1 < len(lines) and _REPLAY in lines[i + 1]:
            continue  # a cut-off header that printk prints again in full on the next lines
        ctx, group = _classify(lines[i], i > first_kernel)
        if group is None or chatter(Hit(i, ctx, group, None)):
            continue
        pre = _pre_hit(lines, _after_message(lines, warned, after, i), i)
        if pre is not None and pre.ctx == ctx:
            hits.append(pre)
        hit = Hit(i, ctx, group, None)
        hits.append(hit)
        warned = hit if group.header == "WARNING:" else None
        after = i + 1
    return hits


def _after_message(lines: list[str], warned: Hit | None, after: int, main: int) -> int:
    """Where pre-report lines for the header at main may start: past the message lines that
    follow a WARNING line of the same context, unless a new "cut here" starts a report first."""
    if warned is None:
        return after
    end = min(after + WARN_MESSAGE, main)
    for j in range(after, end):
        if _CUT_HERE in lines[j]:
            return j
        if strip_prefix(lines[j])[1] != warned.ctx:
            return j
    return end


def _in_panic(lines: list[str], at: int) -> bool:
    """Does the stack after this header pass through panic() (before a panic of its own)?"""
    for x in lines[at + 1:at + PANIC_LOOK]:
        if "Kernel panic - not syncing" in x:
            return False
        if _IN_PANIC.search(x):
            return True
    return False


def _dying(lines: list[str], at: int) -> bool:
    """Does the one stack after this header pass through the exit path of an oopsing task?"""
    markers, prev = 0, ""
    for x in lines[at + 1:at + PANIC_LOOK]:
        if _STACK_END.search(x):
            return False
        if "Call Trace" in x or "Call trace" in x:
            markers += 1
            if markers > 1:  # the stack of a later report
                return False
        m = _FRAME_NAME.match(strip_prefix(x)[0])
        if m is None or m.group(1):
            continue
        name = m.group(2)
        if name in _DEATH or (prev == "do_exit" and name == "die"):
            return True
        prev = name
    return False


def _inline_level(hit: Hit, line: str, lines: list[str]) -> bool:
    """Is this header the next inlined level of the symbolized sanitizer header just before it?"""
    m = INLINE_HEADER.search(strip_prefix(lines[hit.line - 1])[0]) if hit.line > 0 else None
    return m is not None and m.group(1) in line


def _in_order(last: re.Match[str], m: re.Match[str]) -> bool:
    """Can check_mm() print Bad rss-counter line m after line last, or is it the next check (an
    earlier counter)? The same counter again is taken for a copy (a doubled console without stamps)."""
    def place(x: re.Match[str]) -> int:  # -1: not said, or a name not known here
        if x.group(2) is not None:
            return int(x.group(2))
        return COUNTERS.index(x.group(3)) if x.group(3) in COUNTERS else -1
    a, b = place(last), place(m)
    return a < 0 or b < 0 or b >= a


def _joins(rep: Open, hit: Hit, line: str, lines: list[str]) -> bool:
    """Does this header belong to the open report (a consequence of it) rather than start one?"""
    assert hit.group is not None and rep.main is not None
    after = hit.line - rep.main.line
    if 0 <= rep.panic_line and hit.line - rep.panic_line <= ATTACH and _in_panic(lines, hit.line) and \
            not any(REBOOT.search(x) for x in lines[rep.panic_line:hit.line]):
        return True  # printed by panic() itself (a WARNING in smp_call_function_many...): its fallout
    if hit.group.header == "Kernel panic":
        return bool(_CONSEQUENCE_PANIC.search(line)) and after <= 5 * ATTACH
    if after <= ATTACH and rep.main.group is not None and rep.main.group.header not in _NO_DIE \
            and _dying(lines, hit.line):
        return True  # printed by the task dying of this oops (die() -> do_exit()): its fallout
    if CONTINUES.search(line):
        return after <= ATTACH
    if 0 < after <= INLINE_LEVELS and _inline_level(hit, line, lines):
        return True  # the next inlined level of the same symbolized sanitizer header
    if after <= SAME_OBJECT_LINES and (m := SAME_OBJECT.search(line)) is not None and (
            (first := SAME_OBJECT.search(lines[rep.main.line])) is not None and first.group(1) == m.group(1)
            and _in_order(next(filter(None, (SAME_OBJECT.search(lines[k]) for k in reversed(rep.extra))), first), m)):
        return True  # the next line of one check about one object (check_mm()'s counters of one mm)
    # "unreferenced object" after syzkaller's "BUG: memory leak", a periodic message repeated; but a
    # slab debugging report of the same kind again is another object's corruption
    if id(hit.group) in _EXTRA and after <= 10 and not (hit.group is rep.main.group and hit.group.kind == "SLAB"):
        return True
    if rep.main.group is not None and rep.main.group.kind == "SLAB" and hit.group.header == "INFO:" and after <= 40:
        return True  # SLUB's own "INFO: Allocated in ..." lines
    # die()'s "Internal error:"/"Oops:" line follows the fault it reports; a hung task, stall or
    # WARNING never prints one, so an oops after those is a report of its own
    return after <= 40 and (rep.main.group is None or rep.main.group.header not in _NO_DIE) and (
        DIE_LINE.search(line) is not None and hit.group.header in _DIE_HEADERS + ("Oops: ",))


def _cut_die_line(open_: dict[str, Open], hit: Hit, line: str, lines: list[str]) -> Open | None:
    """The open fault whose die() line another CPU's record cut in two ("Internal " / "error: Oops:
    5 [#1]"): the unprefixed tail is that fault's, not an oops of its own."""
    if hit.group is None or DIE_LINE.search(line) is None or hit.group.header not in _DIE_HEADERS + ("Oops: ",) \
            or hit.line < 2:
        return None
    cut, other = strip_prefix(lines[hit.line - 2]), strip_prefix(lines[hit.line - 1])[1]
    rep = open_.get(cut[1])
    if rep is None or not other or other == cut[1] or not cut[0] or cut[0][-1:] in ".:]" or rep.main is None:
        return None  # the line before the other record must be the fault's own, cut (no closing character)
    if 0 < hit.line - rep.main.line <= 40 and (rep.main.group is None or rep.main.group.header not in _NO_DIE):
        return rep
    return None


def segment(hits: list[Hit], lines: list[str]) -> list[Open]:
    reports: list[Open] = []
    open_: dict[str, Open] = {}
    for hit in hits:
        line = lines[hit.line]
        if hit.group is not None and id(hit.group) not in _EXTRA and not CONTINUES.search(line) \
                and not (hit.group.header in _DIE_HEADERS and DIE_LINE.search(line)) \
                and not _inline_level(hit, line, lines):
            for other in open_.values():  # syzkaller cuts a console report at the next header
                if other.ctx in ("k", "") and other.main and other.cut < 0 and other.main.line < hit.line:
                    other.cut = hit.line
        rep = open_.get(hit.ctx)
        if hit.pre is not None:
            new = Open(hit.ctx, hit.line, None, hit)
        elif rep and rep.main is None and rep.pre and rep.pre.pre and hit.line - rep.pre.line <= rep.pre.pre.window:
            rep.main = hit
            rep.cut = -1
            continue
        elif not hit.ctx and (host := _cut_die_line(open_, hit, line, lines)) is not None:
            host.extra.append(hit.line)
            continue
        elif rep and rep.main and _joins(rep, hit, line, lines):
            rep.extra.append(hit.line)
            if hit.group is not None and hit.group.header == "Kernel panic" and rep.panic_line < 0:
                rep.panicked, rep.panic_line = True, hit.line
            continue
        else:
            new = Open(hit.ctx, hit.line, hit)
            if hit.group is not None and hit.group.header == "Kernel panic":
                new.panic_line = hit.line
        reports.append(new)
        open_[hit.ctx] = new
    return reports
