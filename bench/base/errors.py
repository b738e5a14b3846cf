"""The two roots of every error the bench reports (user input vs. the machine)."""

from __future__ import annotations

from bench.base.limits import LIMITS


class BenchError(Exception):
    """An error that ends a command with a one-line message and exit code 2."""

    exit_code = 2


class UserError(BenchError):
    """Bad input: a file, flag or name the user gave. The message names it."""


class InfraError(BenchError):
    """The machine failed us: a tool is missing, a VM would not start, a disk filled."""


def quote(text: object, limit: int | None = None) -> str:
    """text as repr() quotes it (control characters escaped: one line), cut to `limit` characters
    (default LIMITS.quoted_chars) with what was cut said, so outside input never floods an error."""
    text = str(text)
    limit = LIMITS.quoted_chars if limit is None else limit
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def one_line(message: str) -> str:
    """An error message made one bounded line: control characters escaped, cut at
    LIMITS.error_chars. The last guard, where every BenchError is printed."""
    head = message[:LIMITS.error_chars]  # cut first: a 16 MB message costs no more than a short one
    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in head)[:LIMITS.error_chars]
    return line if len(message) <= LIMITS.error_chars else f"{line}... (cut, {len(message)} characters)"
