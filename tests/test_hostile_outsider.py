"""Hostile input from an outside red-team pass (branch hostile): each test failed on the code
before its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.base import yamlmap
from bench.base.errors import UserError
from bench.base.limits import LIMITS
from bench.report import issues_file

# -- a YAML integer's hex digits are digits --------------------------------------------------


@pytest.mark.parametrize("value", ["0x" + "f" * 4000, "-0x" + "f" * 40, "0x_" + "f_" * 40, "!!int 0x" + "a" * 40])
def test_a_hex_integer_over_the_digit_limit_is_refused_with_its_line(tmp_path: Path, value: str) -> None:
    """Before: only 0-9 were counted, so `0xfff...` passed the int_digits limit; 4000 f's made an
    int str() refuses (over 4300 decimal digits), and an error quoting it was an internal error."""
    path = tmp_path / "x.yaml"
    with pytest.raises(UserError, match=rf"^{path}:2: integer of \d+ characters, over the limit"):
        yamlmap.load(path, f"a: 1\nmin: {value}\n")


def test_hex_integers_within_the_limit_still_load(tmp_path: Path) -> None:
    assert yamlmap.load(tmp_path / "x.yaml", "a: 0x" + "f" * LIMITS.int_digits + "\nb: deadbeef" * 1 + "\n") == {
        "a": int("f" * LIMITS.int_digits, 16), "b": "deadbeef"}


def test_a_known_issues_format_of_4000_hex_digits_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "known-issues.yaml"
    path.write_text("issues: []\nformat: 0x" + "f" * 4000 + "\n")
    with pytest.raises(UserError, match=rf"^{path}:2: integer of 4002 characters"):
        issues_file.load(path)
