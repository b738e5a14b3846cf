"""Human output: timestamped progress lines and the end-of-run summary.

Parsers and stages never print; they hand text to a Printer. Colour only on a tty. The
drivers (prove, bisect, nightly) render their own summaries and hand them over as text, so
the printer knows none of their types.
"""

from __future__ import annotations

import codecs
import re
import sys
import time
from typing import TextIO

from bench.run.result import RunResult, Status

_COLOURS = {Status.PASS: "32", Status.FAIL: "31", Status.ERROR: "33", Status.SKIP: "36"}


# Control characters but newline and tab (C0, DEL, C1): a patch subject (an RFC 2047 word decodes to
# any byte) or a guest's CASE message could hold ESC [1A ESC [2K and move the cursor over the
# summary's lines, a FAIL erased and "verdict: PASS" written in its place on the terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escaped(text: str) -> str:
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class _Clean:
    """A stream that takes any str: a name or title read from a console or a file may hold a lone
    surrogate (bytes that were not UTF-8, a JSON escape) or a character the stream cannot encode,
    which a strict stdout refuses with UnicodeEncodeError; those are written escaped (\\udcff).
    So are control characters (\\x1b): only the printer's own colours (raw) reach the terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.inner = stream
        try:
            self.encoding = codecs.lookup(getattr(stream, "encoding", None) or "utf-8").name
        except LookupError:
            self.encoding = "utf-8"

    def write(self, text: str) -> int:
        return self.raw(escaped(text))

    def raw(self, text: str) -> int:
        """text as it is: the printer's colour codes."""
        try:
            text.encode(self.encoding)
        except UnicodeEncodeError:
            text = text.encode(self.encoding, "backslashreplace").decode(self.encoding)
        return self.inner.write(text)

    def flush(self) -> None:
        self.inner.flush()

    def isatty(self) -> bool:
        return self.inner.isatty()


class Printer:
    def __init__(self, stream: TextIO | _Clean | None = None, prefix: str = "") -> None:
        given = stream or sys.stdout
        self.stream = given if isinstance(given, _Clean) else _Clean(given)
        self.colour = self.stream.isatty()
        self.prefix = prefix

    def nested(self, prefix: str) -> Printer:
        """The same output, each line marked as belonging to a sub-run (a baseline, a bisect step)."""
        return Printer(self.stream, self.prefix + prefix)

    def say(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        self.stream.write(f"[{stamp}] {self.prefix}{text}\n")
        self.stream.flush()

    def status(self, status: Status) -> str:
        word = status.name
        return f"\033[1;{_COLOURS[status]}m{word}\033[0m" if self.colour else word

    def text(self, text: str) -> None:
        """A block made elsewhere (a table), as it is."""
        self.stream.write("\n" + text)
        self.stream.flush()

    def summary(self, result: RunResult) -> None:
        out = self.stream
        out.write(f"\n==== pinbench {result.series} ({result.run_id}) ====\n")
        for case in result.cases:
            msg = f"  {case.message}" if case.message else ""
            out.write("  ")
            out.raw(f"{self.status(case.status):<5}")
            out.write(f" {case.key} ({case.secs:.1f}s){msg}\n")
        counts = {s: sum(1 for c in result.cases if c.status is s) for s in Status}
        tally = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
        out.write("verdict: ")
        out.raw(self.status(result.verdict))
        out.write(f" ({tally}) in {result.secs:.0f}s\n")
        for case in result.failures():
            out.write(f"  - {case.key}: {case.message}\n")
        for note in result.facts.notes or ():
            out.write(f"note: {note}\n")
        out.write(f"results: {result.results_dir}\n")
        out.flush()
