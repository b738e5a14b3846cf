"""The printer takes any text: names and titles read from a console or a file may hold lone
surrogates (bytes that were not UTF-8, read with surrogateescape) that a strict stdout refuses."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bench.run.printer import Printer
from bench.run.result import Case, RunResult, Status


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
def test_lone_surrogates_in_names_and_titles_are_printed_escaped(encoding: str) -> None:
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding=encoding)  # errors="strict", as sys.stdout
    result = RunResult("r1", "caf\udce9", Path("/results/r1"),
                       (Case("report", "BUG: \ud800 in caf\u00e9", Status.FAIL, 0.0, "at \udcff"),), 1.0)
    printer = Printer(out)
    printer.say("apply: 0001 caf\udce9")
    printer.nested("  base: ").summary(result)
    out.flush()
    text = raw.getvalue().decode(encoding)
    assert "apply: 0001 caf\\udce9" in text and "FAIL  report/BUG: \\ud800 in caf" in text
    assert "==== pinbench caf\\udce9 (r1) ====" in text and "at \\udcff" in text
    assert ("caf\u00e9" if encoding == "utf-8" else "caf\\xe9") in text  # what it can encode, as it is
