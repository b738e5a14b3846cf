"""docs/limits.md's table is bench/base/limits.py's limits, row for row (the doc cannot drift), and
the one-line error printer keeps its promise."""

from __future__ import annotations

import re
from pathlib import Path

from bench.base.errors import one_line, quote
from bench.base.limits import LIMITS

DOC = Path(__file__).resolve().parent.parent / "docs" / "limits.md"


def test_the_doc_table_is_the_limits() -> None:
    rows = re.findall(r"^\| `(\w+)` \| (\d+) \|", DOC.read_text(), re.M)
    assert [(name, int(value)) for name, value in rows] == LIMITS.rows()


def test_the_readme_links_the_doc() -> None:
    assert "docs/limits.md" in (DOC.parent.parent / "README.md").read_text()


def test_one_line_escapes_and_cuts() -> None:
    assert one_line("a\nb\rc\x1bd\u2028e") == "a\\nb\\rc\\x1bd\\u2028e"
    long = one_line("x" * 10_000_000)
    assert len(long) < LIMITS.error_chars + 50 and long.endswith("(cut, 10000000 characters)")
    assert quote("ab") == "'ab'" and quote("y" * 200) == repr("y" * LIMITS.quoted_chars) + "... (200 characters)"
