"""night.json typed (bench/drivers/nightly/night_data.py): what a later run reads back (the
nights beside a new one, `bench merge`'s shards, kcidb.json and the pages) is the same file,
byte for byte, and nothing in it is lost (issue 22 item 1). The nights are recorded ones
(tests/data/nights/README.md)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bench.drivers.nightly import night_file
from bench.drivers.nightly.night_data import Comparison, Night, NightEntry, Record

NIGHTS = sorted((Path(__file__).parent / "data" / "nights").glob("*.json"))


def records(value: object) -> list[Record]:
    """Every typed part of a night, the night included."""
    if isinstance(value, Record):
        return [value, *(r for v in vars(value).values() for r in records(v))]
    if isinstance(value, tuple):
        return [r for v in value for r in records(v)]
    return []


@pytest.mark.parametrize("path", NIGHTS, ids=lambda p: p.stem)
@pytest.mark.parametrize("shape", ["PAST", "SHARD"])
def test_a_recorded_night_is_written_back_byte_for_byte(tmp_path: Path, path: Path, shape: str) -> None:
    night = night_file.parse(path, path.read_bytes(), getattr(night_file, shape))
    night_file.write(tmp_path, night)
    assert (tmp_path / "night.json").read_bytes() == path.read_bytes()


@pytest.mark.parametrize("path", [p for p in NIGHTS if not p.stem.startswith("older-")], ids=lambda p: p.stem)
def test_the_types_hold_every_key_this_bench_writes(path: Path) -> None:
    """No label and no absent key in a night this bench wrote: a night made in memory writes
    the same keys in the same order as the one read back."""
    night = night_file.parse(path, path.read_bytes(), night_file.SHARD)
    assert len(records(night)) >= 4  # the night, its matrix, tree, comparison at least
    def lacks(r: Record) -> set[str]:  # absent keys the bench writes (not the ones it leaves out)
        return {k for k in r.absent if getattr(r, k) is not None or k in r.NULLABLE}
    assert [(type(r).__name__, dict(r.labels), lacks(r)) for r in records(night) if r.labels or lacks(r)] == []


def test_keys_it_does_not_type_and_values_it_cannot_read_are_kept_in_place(tmp_path: Path) -> None:
    data: dict[str, Any] = json.loads((NIGHTS[0].parent / "history-third.json").read_text())
    data["from_a_newer_bench"] = {"x": [1, 2]}
    entry = data["entries"][2]
    entry["coverage"] = 3  # typed as a string: kept as it was, read as not known
    entry["reports"] = "garbage"
    entry["newer"] = True
    entry["failing"][0]["hint"] = "a newer bench's"
    data["comparison"]["still"][0]["blame"] = "abc"
    text = json.dumps(data, indent=2) + "\n"
    night = night_file.parse(tmp_path / "night.json", text)
    assert night.entries[2].coverage is None and night.entries[2].reports == ()
    assert dict(night.entries[2].labels) == {"coverage": 3, "reports": "garbage", "newer": True}
    night_file.write(tmp_path, night)
    assert (tmp_path / "night.json").read_text() == text


def test_an_older_night_stays_without_the_keys_it_lacked_until_they_are_set(tmp_path: Path) -> None:
    """An interrupted night read back (cli/nightly.py on ^C) is finished: what it lacked and
    is now known (comparison, exit code) is written, what it lacked and still is not is not."""
    path = NIGHTS[0].parent / "older-interrupted.json"
    night = night_file.parse(path, path.read_bytes())
    assert {"comparison", "exit_code", "stale_known"} <= night.absent
    assert "coverage" in night.entries[0].absent
    done = replace(night, comparison=Comparison(previous=None), exit_code=0)
    written = done.to_json()
    assert written["comparison"]["previous"] is None and written["exit_code"] == 0
    assert "stale_known" not in written and "coverage" not in written["entries"][0]
    assert list(written)[-2:] == ["comparison", "exit_code"]


def test_a_key_a_type_needs_is_named() -> None:
    with pytest.raises(ValueError, match="^verdict: missing$"):
        NightEntry.from_json({"id": "a/b", "run_id": "a--b"})
    with pytest.raises(ValueError, match="^entries: unreadable$"):
        Night.from_json({"name": "n", "started": "s", "complete": True, "entries": [{"id": "a/b"}]})
