"""Hostile input from an outside red-team pass (branch hostile): each test failed on the code
before its fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.base import yamlmap
from bench.base.errors import UserError
from bench.base.limits import LIMITS
from bench.report import issues_file
from bench.run import plan as plan_mod, series

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


# -- a dangling symlink is named, never passed over ------------------------------------------

DIFF = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"


@pytest.mark.parametrize("name", [series.YAML_FILE, series.SERIES_FILE])
def test_a_series_yaml_or_quilt_file_that_is_a_dangling_link_is_named(tmp_path: Path, name: str) -> None:
    """Before: Path.exists() says no to a link whose target is gone, so a series.yaml moved from
    under its link was passed over (the run without its base, workloads, expect: or catch:) and a
    quilt `series` link made the folder a plain *.patch folder (every patch file applied, in name
    order, whatever the series file listed)."""
    d = tmp_path / "s"
    d.mkdir()
    (d / "a.patch").write_text(DIFF)
    (d / name).symlink_to(tmp_path / "moved")
    with pytest.raises(UserError, match=rf"^{d / name}: a symlink to '{tmp_path / 'moved'}', which does not exist$"):
        series.load_series(str(d), tmp_path)


def test_a_series_known_issues_file_that_is_a_dangling_link_is_named(tmp_path: Path) -> None:
    """Before: passed over, its known issues dropped: every report it names failed the series."""
    d = tmp_path / "s"
    d.mkdir()
    (d / "a.patch").write_text(DIFF)
    (d / issues_file.FILE).symlink_to(tmp_path / "moved")
    s = series.load_series(str(d), tmp_path)
    with pytest.raises(UserError, match=rf"^{d / issues_file.FILE}: a symlink to .*, which does not exist$"):
        plan_mod.load_known_issues(tmp_path, s, ())
