"""bench/base/rundir.py: the one rule that names run and sub-run folders from free text."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.base import rundir
from bench.base.errors import UserError
from bench.drivers.bisect.journal import step_name
from bench.drivers.nightly.matrix import Entry


@pytest.mark.parametrize(("text", "name"), [
    ("gup-fast-leak", "gup-fast-leak"),  # already a folder name: kept as it is
    ("v2.1_fix", "v2.1_fix"),
    ("tip 6of6", "tip-6of6"),  # each run of other characters is one '-'
    ("a  b::c", "a-b-c"),
    ("  padded  ", "padded"),
    ("..", "unnamed"),  # no folder called '..' (nor '.', nor '')
    ("", "unnamed"),
    ("-_x_-", "x"),
    ("\u00fcber", "\u00fcber"),  # letters of any script are letters
])
def test_the_one_rule(text: str, name: str) -> None:
    assert rundir.safe_name(text) == name


def test_a_long_text_is_cut_to_fit_a_file_name() -> None:
    for text in ("s" * 250, "\u00fc" * 200):
        assert len(rundir.safe_name(text).encode()) <= rundir.NAME_BYTES


def test_every_driver_names_its_sub_runs_with_the_rule() -> None:
    """The names older results hold, each from its driver's own free text."""
    assert step_name(3, "tip 6/6") == "03-tip-6of6" and step_name(5, "bad 0123456789ab") == "05-bad-0123456789ab"
    assert rundir.sub_name("control", 0) == "00-control" and rundir.sub_name("leak", 1) == "01-leak"  # prove
    assert rundir.sub_name("0001-mm-tidy-step-1", 1, cut=48) == "01-0001-mm-tidy-step-1"  # --each
    assert len(rundir.sub_name("p" * 100, 12, cut=48)) == 3 + 48
    entry = Entry(id="put-user-page/default", spec="s", series="s", config="default", kconfigs=(), workloads=(),
                  params=())
    assert entry.run_id == "put-user-page--default"  # a night's entry
    assert [rundir.again("", 1), rundir.again("base", 2), rundir.again("03-4of6", 2)] == ["r1", "base-r2", "03-4of6-r2"]


def test_new_folder_mints_and_claims_and_a_clash_moves_on(tmp_path: Path) -> None:
    first = rundir.new_folder(tmp_path, "my series")
    assert first.endswith("-my-series") and (tmp_path / first).is_dir()
    assert rundir.claim(tmp_path, first) == f"{first}-2"  # the same second: the next suffix
    with pytest.raises(UserError, match="exists already"):
        rundir.claim(tmp_path, first, retry=False)
