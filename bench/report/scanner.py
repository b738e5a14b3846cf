"""Kernel report scanner: console lines in, frozen ``Report`` objects out.

Pure and one-pass (linear in the input). Modelled on syzkaller's pkg/report: the header table
lives in bench/report/table.py, the guilty function is the first frame that is not reporting
machinery, and titles are normalised so one bug gets one title on every boot.

Console lines may carry printk time stamps, caller ids (``[ T123]``/``[ C0]``), syslog levels
(``<4>``), syslog ``host kernel:`` prefixes, and may interleave with other tasks' records or
with user-space output. A report only takes lines from its own context: its caller id, or
"prefixed"/"unprefixed" when there are no caller ids.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from re import Match

from bench.report import table as T

MAX_REPORT_LINES = 400  # a report never takes more lines of its context than this
LOOKBACK = 40  # how far back a dump_page() block or a "cut here" banner is looked for
PANIC_ATTACH = 100  # a "Fatal exception"-style panic this close after a report belongs to it
MAX_FRAMES = 64

_PREFIX = re.compile(
    r"\s*(?P<lvl><\d{1,3}>)?"
    r"(?P<sys>(?:[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d|\d{4}-\d\d-\d\d[T ][\d:.,]+(?:Z|[+-]\d\d:?\d\d)?) \S+ )?"
    r"(?P<kern>kernel: )?(?P<lvl2><\d{1,3}>)?"
    r"(?P<ts>\[ *\d+\.\d+\])?"
    r"(?: ?\[ *(?P<caller>[TC]\d+)\])?"
)
_TIME = re.compile(r"\[ *\d+\.\d+\](?: ?\[ *([TC]\d+)\])? ?")
_MONTHS = frozenset("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())
_HEX = re.compile(r"0x[0-9a-fA-F]+|\b[0-9a-fA-F]{8,}\b")
_NUM = re.compile(r"\d+")
_SPACES = re.compile(r" {2,}")


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


def strip_prefix(line: str) -> tuple[str, str]:
    """Split a console line into (text without printk/syslog prefix, context).

    The context is the caller id ("T123"/"C0") when present, "k" for other prefixed lines and
    "" for lines with no kernel prefix at all (user space, or a log without time stamps).
    """
    if line.startswith("["):  # fast path: the usual "[  12.345678][ T123] " console line
        m = _TIME.match(line)
        if m:
            return line[m.end():], m.group(1) or "k"
    elif not line or not (line[0] in "< \t" or line[:3] in _MONTHS or line[:4].isdigit()
                          or line.startswith("kernel: ")):
        return line, ""
    m = _PREFIX.match(line)
    assert m is not None  # every part is optional
    g = m.groupdict()
    if not (g["ts"] or g["caller"] or g["lvl"] or g["lvl2"] or g["kern"]):
        return line, ""
    text = line[m.end():]
    if text.startswith(" "):  # the separator printk puts after the prefix
        text = text[1:]
    return text, g["caller"] or "k"


_OUT_OF_TREE = re.compile(r"^(?:\.\./)+[^/]+/")  # make O=build: "../src/mm/rmap.c"


def source_path(file: str) -> str:
    """The path inside the kernel tree: out-of-tree builds print it relative to O=."""
    return _OUT_OF_TREE.sub("", file.removeprefix("./"))


def _match_header(text: str) -> tuple[T.OopsFormat, Match[str]] | None:
    for fmt in T.OOPS_TABLE:
        m = fmt.header.match(text)
        if m:
            return fmt, m
    return None


def _base_func(name: str) -> str:
    return name.split(".", 1)[0]  # drop compiler clone suffixes: .isra.0, .cold, .constprop.0


def is_helper(func: str) -> bool:
    """True for reporting machinery and plumbing that is never the guilty frame."""
    return func in T.SKIP_FUNCS or func.startswith(T.SKIP_PREFIXES)


def normalize(text: str, numbers: bool = False) -> str:
    """Make a message boot-independent: addresses become ADDR (and numbers NUM if asked)."""
    text = _HEX.sub("ADDR", text)
    return _NUM.sub("NUM", text) if numbers else text


class _Fields(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass
class _Open:
    """A report being collected (mutable; frozen into a Report at the end)."""

    fmt: T.OopsFormat
    ctx: str
    fields: dict[str, str]
    lines: list[tuple[int, str]]
    seen: int = 0
    absorbed: set[str] = field(default_factory=set)
    rip: tuple[str, str] | None = None
    primary: list[tuple[str, str]] = field(default_factory=list)
    implicit: list[tuple[str, str]] = field(default_factory=list)
    state: str = "none"  # none | explicit | secondary
    explicit_seen: bool = False
    implicit_done: bool = False
    after_seen: set[str] = field(default_factory=set)
    taint: set[str] = field(default_factory=set)
    tail: bool = False
    in_modules: bool = False
    panicked: bool = False
    standalone_consequence: bool = False
    closed_by: str = "eof"

    def absorbs(self, fmt: T.OopsFormat) -> bool:
        if fmt.type == "PANIC":
            return True
        return fmt.type in self.fmt.absorbs and self.seen + 1 <= self.fmt.window and not self.tail

    def merge(self, fmt: T.OopsFormat, m: Match[str], i: int, raw: str) -> None:
        self.seen += 1
        self.lines.append((i, raw))
        self.absorbed.add(fmt.type)
        for k, v in m.groupdict().items():
            if v is not None:
                self.fields.setdefault(k, v)
        if fmt.type == "PANIC":
            self.panicked = self.tail = True
        elif fmt.rank > self.fmt.rank:
            self.fmt = fmt

    def feed(self, i: int, raw: str, text: str, t: str) -> str:
        """Take one line of this report's context: "take", "take-close" or "reject"."""
        self.seen += 1
        if self.seen > MAX_REPORT_LINES:
            return "reject"
        if self.tail:
            return self._take(i, raw, t) if (not t or T.TAIL.match(t)) else "reject"
        if T.END_TRACE.match(t):
            self.tail = True
            return self._take(i, raw, t)
        if self.fmt.banner and t.startswith("=" * 20):
            self._take(i, raw, t)
            return "take-close"
        if self.fmt.end_unindented and self.implicit and t and not text[:1].isspace():
            return "reject"
        if T.MODULES.match(t):
            self.in_modules = True
            return self._take(i, raw, t)
        if self.in_modules and text[:1].isspace():
            return self._take(i, raw, t)
        self.in_modules = False
        kind = self._track(t)
        if kind == "unknown" and self.primary and self.state == "explicit" and not self.fmt.banner:
            return "reject"  # the line after a finished stack is not ours (old kernels: no </TASK>)
        return self._take(i, raw, t)

    def _take(self, i: int, raw: str, t: str) -> str:
        self.lines.append((i, raw))
        if "Tainted: " in t:
            self._taint(t)
        for name, pat, after in self.fmt.body:
            if name not in self.fields and (after is None or name in self.after_seen):
                m = pat.match(t)
                if m:
                    self.fields[name] = m.group("v")
                    self.fields[name + "_file"] = m.groupdict().get("f") or ""
            if after is not None and after.match(t):
                self.after_seen.add(name)
        return "take"

    def _taint(self, t: str) -> None:
        m = T.TAINT_FIELD.search(t)
        if m:
            self.taint.update(c for c in m.group(1) if c.isalpha())
        self.taint.update(T.TAINT_BRACKET.findall(t))

    def _track(self, t: str) -> str:
        """Update the stack state for one line; return what kind of line it was."""
        if not t:
            return "blank"
        if T.STACK_MARKER.match(t):
            self.state = "secondary" if self.explicit_seen else "explicit"
            self.explicit_seen = True
            return "marker"
        if T.IMPLICIT_MARKER.match(t) or T.SECONDARY_MARKER.match(t):
            self.implicit_done = self.implicit_done or bool(self.implicit)
            self.state = "none" if T.IMPLICIT_MARKER.match(t) else "secondary"
            return "marker"
        if T.DECORATION.match(t):
            return "decoration"
        m = T.RIP.match(t)
        if m:
            if not m.group("tail").startswith(" "):  # [inline] RIPs never occur on a raw console
                entry = (_base_func(m.group("func")), m.group("file") or "")
                if self.state == "explicit" and self.primary:
                    self.primary.append(entry)  # the interrupted context inside a stack
                elif self.rip is None:
                    self.rip = entry
            return "rip"
        m = T.FRAME.match(t)
        if m:
            self._frame(m)
            return "frame"
        if T.CONTINUATION.match(t):
            return "cont"
        if self.implicit:
            self.implicit_done = True
        return "unknown"

    def _frame(self, m: Match[str]) -> None:
        if m.group("q") or m.group("ifile"):  # unreliable "? " frames and [inline] frames
            return
        entry = (_base_func(m.group("func")), m.group("file") or "")
        if self.state == "explicit":
            self.primary.append(entry)
        elif self.state == "none" and not self.implicit_done:
            self.implicit.append(entry)

    def build(self) -> Report:
        while len(self.lines) > 1 and not strip_prefix(self.lines[-1][1])[0].strip():
            self.lines.pop()  # trailing blank lines are not part of the excerpt
        frames = self.primary or self.implicit
        fields = _Fields(self.fields)
        fields.setdefault("kind", "WARN" if "WARNING" in self.absorbed else "BUG")
        if "msg" in fields:
            fields["msg"] = normalize(fields["msg"], numbers=self.fmt.type != "PANIC")
        func, file = self._guilty(frames)
        fields["func"] = func
        reason = self._corrupted(frames, func)
        title = self.fmt.title if func else self.fmt.title.replace(" in {func}", "")
        return Report(
            type=self.fmt.type.format_map(fields),
            title=_SPACES.sub(" ", title.format_map(fields)),
            guilty_func=func,
            guilty_file=source_path(file),
            call_trace=tuple(f for f, _ in frames[:MAX_FRAMES]),
            raw=tuple(r for _, r in self.lines),
            first_line=self.lines[0][0],
            last_line=self.lines[-1][0],
            corrupted=bool(reason),
            corrupted_reason=reason,
            taint="".join(c for c in T.TAINT_ORDER if c in self.taint),
            detail=_SPACES.sub(" ", self.fmt.detail.format_map(fields)).strip(),
            panicked=self.panicked,
        )

    def _candidates(self, frames: list[tuple[str, str]]) -> Iterator[tuple[str, str, str]]:
        for source in self.fmt.func_from:
            if source == "stack":
                yield from ((f, fl, source) for f, fl in frames)
            elif source == "rip" and self.rip:
                yield (*self.rip, source)
            elif source == "header" and self.fields.get("hfunc"):
                yield _base_func(self.fields["hfunc"]), self.fields.get("hfile") or "", source
            elif source in ("held", "lock") and self.fields.get(source):
                yield self.fields[source], self.fields.get(source + "_file", ""), source

    def _guilty(self, frames: list[tuple[str, str]]) -> tuple[str, str]:
        for func, file, source in self._candidates(frames):
            if source in ("held", "lock") or not is_helper(func):
                if not file and self.fmt.file_from_header and (
                        source in ("header", "rip") or self.fmt.func_from == ("stack",)):
                    file = self.fields.get("hfile") or ""
                return func, file
        return "", ""

    def _corrupted(self, frames: list[tuple[str, str]], func: str) -> str:
        if self.standalone_consequence:
            return "panic without the report that caused it"
        if not (self.fmt.func_from and self.fmt.wants_func):
            return ""
        if not frames and self.rip is None:
            return {"eof": "report truncated at end of log",
                    "header": "interrupted by another report"}.get(self.closed_by, "no frames in call trace")
        return "" if func else "no guilty frame found"


class _Scanner:
    """The one-pass state machine behind scan(): one open report per context."""

    def __init__(self) -> None:
        self.open: dict[str, _Open] = {}
        self.done: list[_Open] = []
        self.ring: dict[str, deque[tuple[int, str, str]]] = {}
        self.count: dict[str, int] = {}
        self.last_closed: dict[str, tuple[_Open, int]] = {}
        self.last_ctx = ""

    def feed(self, i: int, raw: str) -> None:
        text, ctx = strip_prefix(raw)
        t = text.strip()
        if ctx:
            self.last_ctx = ctx
        elif self.last_ctx in self.open and (not t or text[:1].isspace()):
            ctx = self.last_ctx  # continuation line of a multi-line printk record
        self.count[ctx] = self.count.get(ctx, 0) + 1
        rep = self.open.get(ctx)
        hit = _match_header(t) if T.HEADER_PREFILTER.match(t) else None
        if hit:
            self._header(rep, hit[0], hit[1], ctx, i, raw)
            return
        if rep:
            verdict = rep.feed(i, raw, text, t)
            if verdict == "take":
                return
            self._close(rep, "end")
            if verdict == "take-close":
                return
        ring = self.ring.get(ctx)
        if ring is None:
            ring = self.ring[ctx] = deque(maxlen=LOOKBACK)
        ring.append((i, raw, t))

    def _header(self, rep: _Open | None, fmt: T.OopsFormat, m: Match[str], ctx: str, i: int, raw: str) -> None:
        if rep and rep.absorbs(fmt):
            rep.merge(fmt, m, i, raw)
            return
        if rep:
            self._close(rep, "header")
        elif fmt.type == "PANIC" and self._attach_panic(ctx, m, i, raw):
            return
        new = _Open(fmt, ctx, {k: v for k, v in m.groupdict().items() if v is not None},
                    self._lookback(fmt, m, ctx) + [(i, raw)])
        if fmt.type == "PANIC":
            new.standalone_consequence = bool(T.CONSEQUENCE_PANIC.match(m.group("msg")))
        self.open[ctx] = new

    def _attach_panic(self, ctx: str, m: Match[str], i: int, raw: str) -> bool:
        last = self.last_closed.get(ctx)
        if not last or not T.CONSEQUENCE_PANIC.match(m.group("msg")):
            return False
        if self.count[ctx] - last[1] > PANIC_ATTACH:
            return False
        last[0].lines.append((i, raw))
        last[0].panicked = True
        return True

    def _lookback(self, fmt: T.OopsFormat, m: Match[str], ctx: str) -> list[tuple[int, str]]:
        """Lines printed before the header that belong to the report (dump_page block, banner)."""
        ring = self.ring.pop(ctx, None)
        if not ring:
            return []
        entries = list(ring)
        if "obj" in m.groupdict():  # dump_page(): the block starts at its "page:" line
            for pos in range(len(entries) - 1, -1, -1):
                if entries[pos][2].startswith("page:"):
                    return [(i, r) for i, r, _ in entries[pos:]]
        i, r, t = entries[-1]
        return [(i, r)] if (T.BANNER.match(t) or T.CUT_HERE.match(t)) else []

    def _close(self, rep: _Open, why: str) -> None:
        rep.closed_by = why
        self.done.append(rep)
        del self.open[rep.ctx]
        self.last_closed[rep.ctx] = (rep, self.count.get(rep.ctx, 0))

    def finish(self) -> list[Report]:
        for rep in list(self.open.values()):
            self._close(rep, "eof")
        return sorted((r.build() for r in self.done), key=lambda r: r.first_line)


def scan(lines: Iterable[str]) -> list[Report]:
    """Find the kernel reports in console output (one pass, linear time), in log order."""
    scanner = _Scanner()
    for i, line in enumerate(lines):
        scanner.feed(i, line.rstrip("\r\n"))
    return scanner.finish()


def fold(reports: Iterable[Report]) -> list[tuple[Report, int]]:
    """Deduplicate by title, keeping the first report of each title and counting the rest."""
    first: dict[str, Report] = {}
    count: dict[str, int] = {}
    for rep in reports:
        first.setdefault(rep.title, rep)
        count[rep.title] = count.get(rep.title, 0) + 1
    return [(rep, count[title]) for title, rep in first.items()]
