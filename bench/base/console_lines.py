"""Console text as it streams in (chunks of any size) -> whole lines, in linear time.

pexpect's expect("\n") searched the whole pending buffer again after every read: a guest that
prints 20 MB without a newline took 203 s to read (quadratic), back-pressuring the serial console
into the VM timeout. Here each chunk is searched once, and a line longer than
LIMITS.console_line is cut there (the rest of it dropped, the cut said in the line); console.log
keeps every byte regardless.
"""

from __future__ import annotations

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
