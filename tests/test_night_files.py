"""night.json read back: a garbage or older night beside a new one (or named by --previous,
or a shard given to `bench merge`) is named on one line and left out; it never costs the new
night its junit.xml, kcidb.json, summary.md or index.html; names read from it stay inside.
Issue 21 items 2 and 5. The nights are run with the fakes of tests/test_nightly.py."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from test_nightly import Nights

from bench.base import formats
from bench.cli.main import main
from bench.drivers.nightly import kcidb, night_file

FINAL = ("junit.xml", "kcidb.json", "summary.md", "index.html")


@pytest.fixture(name="nights")
def nights_world(world: Nights) -> Nights:
    formats._warned.clear()  # each test sees its own warnings
    n = Nights(world)
    n.matrix.write_text("series: [alpha]\n")
    return n


def garbage(root: Path, name: str, data: Any, raw: str | None = None) -> Path:
    """A night folder an older bench (or a crash) left, started before any real one."""
    folder = root / "nightly" / name
    folder.mkdir(parents=True)
    (folder / "night.json").write_text(raw if raw is not None else json.dumps(data))
    return folder


def old_night(**changes: Any) -> dict[str, Any]:
    entry = {"id": "alpha/default", "series": "alpha", "config": "default", "run_id": "alpha--default",
             "cases": {}, "failing": []}  # no verdict: what broke every later night
    night = {"name": "00000000-000000", "started": "2000-01-01T00:00:00+00:00", "complete": True,
             "shard": None, "matrix": {"digest": "x", "ids": ["alpha/default"]},
             "entries": [entry], "missing": []}
    return {**night, **changes}


def test_garbage_nights_beside_are_left_out_and_the_night_ends_with_its_files(
        nights: Nights, capsys: pytest.CaptureFixture[str]) -> None:
    bad = [garbage(nights.results, "00-no-verdict", old_night()),
           garbage(nights.results, "01-newer", old_night(format=99)),
           garbage(nights.results, "02-cut", None, raw='{"name": "x", "entr'),
           garbage(nights.results, "03-list", [1, 2])]
    rc, folder, night = nights.night("alpha=canary-tcg")
    assert rc == 1 and night["comparison"]["previous"] is None
    for name in FINAL:
        assert (folder / name).is_file(), name
    assert night["format"] == formats.NIGHT
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    for b in bad:  # each named once, on one line
        assert sum(str(b / "night.json") in w for w in warnings) == 1, (b, warnings)
    assert any("entries[0].verdict: missing" in w for w in warnings)
    assert any("format 99" in w for w in warnings)
    assert kcidb.validate(json.loads((folder / "kcidb.json").read_text())) == []


def test_a_garbage_previous_is_refused_before_the_night_runs(nights: Nights,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = garbage(nights.results, "old", old_night())
    assert main(["nightly", str(nights.matrix), "--accel", "tcg", "--results", str(nights.results),
                 "--previous", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "verdict: missing" in err and str(bad) in err and len(err.splitlines()) == 1
    assert nights.nights() == [bad]  # no night was started


def test_an_unversioned_night_of_todays_format_is_still_read(nights: Nights) -> None:
    _, first, _ = nights.night("alpha=canary-tcg")
    data = json.loads((first / "night.json").read_text())
    del data["format"]  # results written before format versions existed
    (first / "night.json").write_text(json.dumps(data))
    rc, _, night = nights.night("alpha=canary-tcg")
    assert rc == 0 and night["comparison"]["previous"] == first.name and night["comparison"]["still"]


def shards(nights: Nights) -> tuple[Path, Path]:
    nights.matrix.write_text("series: [alpha, beta]\n")
    _, s1, _ = nights.night("", "--shard", "1/2", out="s1")
    _, s2, _ = nights.night("", "--shard", "2/2", out="s2")
    return s1, s2


def edit(folder: Path, change: Any) -> None:
    path = folder / "night.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_merge_never_follows_a_run_id_out_of_the_shard(nights: Nights,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    s1, s2 = shards(nights)
    secret = nights.root / "outside"
    secret.mkdir()
    (secret / "private.txt").write_text("not for the night\n")
    edit(s1, lambda d: d["entries"][0].update(run_id="../../../outside"))
    out = nights.root / "merged"
    assert main(["merge", str(s1), str(s2), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "../../../outside" in err and len(err.splitlines()) == 1
    assert not out.exists() and not list(nights.root.rglob("private.txt"))[1:]


def test_merge_names_a_shard_without_a_matrix(nights: Nights, capsys: pytest.CaptureFixture[str]) -> None:
    s1, s2 = shards(nights)
    edit(s2, lambda d: d.pop("matrix"))
    assert main(["merge", str(s1), str(s2), "--out", str(nights.root / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("matrix: missing") and str(s2) in err and len(err.splitlines()) == 1


def test_merge_with_a_run_folder_gone_counts_it_missing(nights: Nights,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    s1, s2 = shards(nights)
    gone = json.loads((s1 / "night.json").read_text())["entries"][0]
    shutil.rmtree(s1 / gone["run_id"])
    out = nights.root / "m"
    assert main(["merge", str(s1), str(s2), "--out", str(out)]) == 2  # missing: infrastructure
    merged = json.loads((out / "night.json").read_text())
    assert merged["missing"] == [gone["id"]]
    for name in FINAL:
        assert (out / name).is_file(), name
    assert "counted as missing" in capsys.readouterr().err


PASSED = [{**old_night()["entries"][0], "verdict": "pass"}]


@pytest.mark.parametrize(("data", "says"), [
    ({"format": "1"}, "not a version number"),
    (old_night(entries=[{**old_night()["entries"][0], "verdict": "maybe"}]), "verdict 'maybe'"),
    (old_night(entries=PASSED, missing="alpha"), "missing: not a list"),
    (old_night(entries=PASSED, shard={"index": True, "count": 2}), "shard.index: bool, not int"),
])
def test_night_file_names_what_is_wrong(tmp_path: Path, data: Any, says: str) -> None:
    with pytest.raises(formats.FormatProblem, match=says):
        night_file.parse(tmp_path / "night.json", json.dumps(data))
    assert night_file.parse(tmp_path / "night.json", json.dumps(old_night(entries=PASSED)))


def test_merge_names_a_shard_entry_without_what_the_night_files_need(
        nights: Nights, capsys: pytest.CaptureFixture[str]) -> None:
    """A hand-made or older shard whose entries lack `started` crashed kcidb.json's export."""
    s1, s2 = shards(nights)
    edit(s1, lambda d: d["entries"][0].pop("started"))
    assert main(["merge", str(s1), str(s2), "--out", str(nights.root / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("entries[0].started: missing") and len(err.splitlines()) == 1
    assert not (nights.root / "m").exists()


def test_a_newer_format_is_named_as_such_not_as_bad_json(tmp_path: Path) -> None:
    with pytest.raises(formats.FormatProblem) as e:
        night_file.parse(tmp_path / "night.json", json.dumps(old_night(format=99)))
    assert str(e.value) == f"{tmp_path / 'night.json'}: format 99, this bench reads format 1"


def test_merge_onto_a_full_disk_is_one_line_and_leaves_no_temp_folder(
        nights: Nights, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """shutil.copytree gathered every file's ENOSPC into one shutil.Error: a dump, not a line."""
    s1, s2 = shards(nights)
    out = nights.root / "m"
    copyfile = shutil.copyfile

    def full(src: Any, dst: Any, **kw: Any) -> Any:
        if str(dst).startswith(str(out)):
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return copyfile(src, dst, **kw)
    monkeypatch.setattr(shutil, "copyfile", full)
    assert main(["merge", str(s1), str(s2), "--out", str(out)]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("bench: error:")]
    assert len(err) == 1 and err[0].endswith(": cannot write: disk full") and str(out) in err[0], err
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]
    # nor a half-merged --out, which made the retry "exists and is not empty"
    assert not out.exists()
    monkeypatch.setattr(shutil, "copyfile", copyfile)
    assert main(["merge", str(s1), str(s2), "--out", str(out)]) == 0


@pytest.mark.parametrize("raw, says", [
    pytest.param(b"[" * 100000 + b"]" * 100000, "nested over the limit", id="deep"),  # RecursionError: a crash
    pytest.param(json.dumps(old_night(entries=[])).replace('"started": "2000', '"secs": 1e999, "started": "2000').encode(),
                 "out of range", id="1e999"),  # read as inf
    pytest.param(json.dumps(old_night(name="\ud800", entries=[])).encode(), "lone surrogate", id="surrogate"),
    pytest.param(json.dumps(old_night(name="caf\u00e9", entries=[]), ensure_ascii=False).encode("latin-1"), "not UTF-8",
                 id="latin-1"),
])
def test_a_night_no_bench_wrote_is_named_and_left_out(nights: Nights, raw: bytes, says: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Read with surrogateescape and json.loads, these crashed the night (deep nesting) or
    carried a value no later step could write or print (inf, lone surrogates)."""
    bad = garbage(nights.results, "00-bad", None, raw="")
    (bad / "night.json").write_bytes(raw)
    rc, folder, night = nights.night("alpha=canary-tcg")
    assert rc == 1 and night["comparison"]["previous"] is None
    for name in FINAL:
        assert (folder / name).is_file(), name
    warnings = [line for line in capsys.readouterr().err.splitlines() if str(bad) in line]
    assert len(warnings) == 1 and says in warnings[0], warnings
    assert main(["merge", str(bad), "--out", str(nights.root / "m")]) == 2  # named, refused
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err and "internal error" not in err, err


def test_merge_never_follows_a_symlink_out_of_the_shard(nights: Nights, capsys: pytest.CaptureFixture[str]) -> None:
    """A run id is checked, but what the shard's folders hold was copied as found: a patches/
    series folder that is a symlink was walked (its target copied into --out), and a symlink in
    a run folder was copied as a symlink out of --out."""
    s1, s2 = shards(nights)
    secret = nights.root / "outside"
    (secret / "sub").mkdir(parents=True)
    (secret / "private.txt").write_text("not for the night\n")
    (secret / "sub" / "deeper.txt").write_text("nor this\n")
    shard = next(s for s in (s1, s2) if (s / "patches").is_dir())  # the one that ran alpha
    (shard / "patches" / "evil").symlink_to(secret)
    run_id = json.loads((shard / "night.json").read_text())["entries"][0]["run_id"]
    (shard / run_id / "link.txt").symlink_to(secret / "private.txt")
    (shard / run_id / "linkdir").symlink_to(secret / "sub")
    (shard / run_id / "guests" / "escape").symlink_to("../../../../outside")
    out = nights.root / "merged"
    main(["merge", str(s1), str(s2), "--out", str(out)])
    assert (out / run_id / "summary.json").is_file() and (out / "patches" / "alpha").is_dir()
    assert [p for p in out.rglob("*") if p.is_symlink()] == []
    assert not [p for p in out.rglob("*") if p.name in ("private.txt", "deeper.txt", "evil")]
    err = capsys.readouterr().err
    assert "patches/evil" in err and "link.txt" in err and "internal error" not in err, err


def test_a_patch_file_named_out_of_the_night_is_never_linked(nights: Nights) -> None:
    """kcidb.json linked any existing path a shard's entry named as a patch file."""
    s1, s2 = shards(nights)
    secret = nights.root / "outside.patch"
    secret.write_text("not for the night\n")
    edit(s1, lambda d: [e.update(patches=[{"file": "../../../outside.patch"}, {"file": str(secret)}])
                        for e in d["entries"]])
    out = nights.root / "merged"
    main(["merge", str(s1), str(s2), "--out", str(out)])
    text = (out / "kcidb.json").read_text()
    assert "outside.patch" not in text and (out / "night.json").is_file()


@pytest.mark.parametrize("change, says", [
    ({"verdict": "fail", "failing": []}, "verdict 'fail' with no failing case of status 'fail'"),
    ({"verdict": "fail", "failing": [{"key": "workload/rxe", "status": "FAIL", "message": "x"}]},
     "failing[0].status 'FAIL'"),
    ({"verdict": "pass", "failing": [{"key": "workload/rxe", "status": "fail", "message": "x"}]},
     "verdict 'pass' with failing cases"),
])
def test_merge_refuses_an_entry_whose_verdict_and_failing_list_disagree(
        nights: Nights, change: dict[str, Any], says: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A failed entry with nothing in its failing list gave the comparison nothing new: the
    merged night exited 0 over a failure."""
    s1, s2 = shards(nights)
    edit(s1, lambda d: d["entries"][0].update(change))
    assert main(["merge", str(s1), str(s2), "--out", str(nights.root / "m")]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and str(s1) in err and len(err.splitlines()) == 1, err


def test_a_symlink_loop_or_link_beside_the_night_is_passed_over(nights: Nights,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """history() resolved every folder beside the night: a symlink loop crashed the night's
    final step (RuntimeError), after its runs, before its junit.xml and pages."""
    _, first, _ = nights.night("alpha=canary-tcg")
    root = nights.results / "nightly"
    (root / "loop1").symlink_to("loop2")
    (root / "loop2").symlink_to("loop1")
    (root / "latest").symlink_to(first.name)  # the same night again: never counted twice
    rc, folder, night = nights.night("alpha=canary-tcg")
    assert rc == 0 and night["comparison"]["previous"] == first.name
    for name in FINAL:
        assert (folder / name).is_file(), name
    assert "internal error" not in capsys.readouterr().err


@pytest.mark.parametrize("summary", [pytest.param("[" * 100000 + "]" * 100000, id="deep"),
                                     pytest.param('{"format": 7}', id="newer"), pytest.param(None, id="gone")])
def test_merge_counts_an_entry_whose_run_summary_is_unreadable_as_missing(
        nights: Nights, summary: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    """A shard's run folder with a garbage summary.json (and no junit.xml) crashed the merge
    (RecursionError), or its entry's 'pass' was taken on the word of night.json alone."""
    s1, s2 = shards(nights)
    run_id = json.loads((s1 / "night.json").read_text())["entries"][0]["run_id"]
    (s1 / run_id / "junit.xml").unlink()
    if summary is None:
        (s1 / run_id / "summary.json").unlink()
    else:
        (s1 / run_id / "summary.json").write_text(summary)
    out = nights.root / "m"
    assert main(["merge", str(s1), str(s2), "--out", str(out)]) == 2  # missing: infrastructure
    merged = json.loads((out / "night.json").read_text())
    assert len(merged["missing"]) == 1 and run_id not in [e["run_id"] for e in merged["entries"]]
    err = capsys.readouterr().err
    assert "counted as missing" in err and "internal error" not in err
    for name in FINAL:
        assert (out / name).is_file(), name
