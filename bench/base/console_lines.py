"""Console text as it streams in (chunks of any size) -> whole lines, in linear time.

pexpect's expect("\n") searched the whole pending buffer again after every read: a guest that
prints 20 MB without a newline took 203 s to read (quadratic), back-pressuring the serial console
into the VM timeout. Here each chunk is searched once, and a line longer than
LIMITS.console_line is cut there (the rest of it dropped, the cut said in the line); console.log
keeps every byte regardless.
"""

from __future__ import annotations

from typing import TextIO

from bench.base.errors import UserError
from bench.base.limits import LIMITS

CUT = " [pinbench: line cut at {limit} characters, {dropped} more dropped]"


class LineSplitter:
    def __init__(self, limit: int = LIMITS.console_line) -> None:
        self.limit = limit
        self._parts: list[str] = []  # the line so far, at most `limit` characters in all
        self._kept = 0
        self._dropped = 0

    def feed(self, chunk: str) -> list[str]:
        """The lines chunk completes (without "\\n" or a trailing "\\r")."""
        lines = []
        start = 0
        while (end := chunk.find("\n", start)) >= 0:
            self._keep(chunk, start, end)
            lines.append(self._take())
            start = end + 1
        self._keep(chunk, start, len(chunk))
        return lines

    def close(self) -> list[str]:
        """The last line when the stream ended without a newline."""
        return [self._take()] if self._kept or self._dropped else []

    def _keep(self, chunk: str, start: int, end: int) -> None:
        room = max(0, self.limit - self._kept)
        take = min(room, end - start)
        if take:
            self._parts.append(chunk[start:start + take])
            self._kept += take
        self._dropped += end - start - take

    def _take(self) -> str:
        line = "".join(self._parts).rstrip("\r")
        if self._dropped:
            line += CUT.format(limit=self.limit, dropped=self._dropped)
        self._parts, self._kept, self._dropped = [], 0, 0
        return line


def read_log(f: TextIO, name: str, limit: int = LIMITS.console_line) -> list[str]:
    """The lines of a saved console log (`bench scan`), each ending "\n" as its text-mode reader
    gives them, cut at `limit` characters by the live reader's LineSplitter; more than
    LIMITS.console_chars in all (more than any console the bench keeps) is a UserError. A log of
    one endless line (a corrupt file, /dev/zero behind a pipe) was read whole into memory until
    the OOM killer came."""
    splitter = LineSplitter(limit)
    lines: list[str] = []
    total = 0
    while chunk := f.read(1 << 16):
        total += len(chunk)
        if total > LIMITS.console_chars:
            raise UserError(f"{name}: more than {LIMITS.console_chars} characters, over the limit of a console"
                            " (console_chars)")
        lines += (line + "\n" for line in splitter.feed(chunk))
    return lines + splitter.close()
