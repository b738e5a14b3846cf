"""The nightly matrix file and its shards (pure parsing, no runs)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.base.errors import UserError
from bench.drivers.nightly import matrix as nightly_matrix
from bench.drivers.nightly.matrix import Entry, parse_shard, shard

HOME = Path(__file__).resolve().parent.parent
PATCHES = HOME / "patches"


def load(tmp_path: Path, text: str, patches: Path = PATCHES) -> nightly_matrix.Matrix:
    path = tmp_path / "matrix.yaml"
    path.write_text(text)
    return nightly_matrix.load(path, patches)


def test_default_matrix_is_every_series_with_default_and_debug_configs() -> None:
    m = nightly_matrix.load(HOME / "nightly" / "matrix.yaml", PATCHES, weekday="Mon")
    series = ("baseline", "canary-pages", "canary", "put-user-page")
    assert m.ids == tuple(f"{s}/{c}" for s in series for c in ("debug", "default"))
    default = [e for e in m.entries if e.config == "default"]
    assert all(e.kconfigs == () and e.workloads == () for e in default)
    debug = next(e for e in m.entries if e.id == "baseline/debug")
    assert {"kasan", "lockdep", "page-table-check", "debug-vm-extra"} <= set(debug.kconfigs)
    assert m.entries[7].run_id == "put-user-page--default"


def test_default_matrix_runs_the_bug_catalogue_on_sundays() -> None:
    sunday = nightly_matrix.load(HOME / "nightly" / "matrix.yaml", PATCHES, weekday="Sun")
    bugs = [e for e in sunday.entries if e.id.endswith("/catalogue") and not e.control]
    assert len(bugs) >= 10 and all(e.catch for e in bugs)
    controls = [e for e in sunday.entries if e.id.endswith("/catalogue") and e.control]
    assert len(controls) >= 4 and not any(e.catch for e in controls)


def test_default_matrix_proves_the_catalogue_on_the_debug_config_too() -> None:
    """issue 20 item 4: the whole catalogue on the debug config set (KASAN, lockdep,
    page-table-check) on its day, with the debug config's guest memory."""
    m = nightly_matrix.load(HOME / "nightly" / "matrix.yaml", PATCHES, weekday="Sun")
    by_id = {e.id: e for e in m.entries}
    default = sorted(i.removesuffix("/catalogue") for i in by_id if i.endswith("/catalogue"))
    debug = sorted(i.removesuffix("/catalogue-debug") for i in by_id if i.endswith("/catalogue-debug"))
    assert default == debug and len(debug) >= 24
    e = by_id["fork-pinned-thp/catalogue-debug"]
    assert e.kconfigs == by_id["baseline/debug"].kconfigs and e.memory == "3G" and e.catch
    assert by_id["fork-pinned-thp/catalogue"].kconfigs == () and by_id["fork-pinned-thp/catalogue"].memory is None
    weekday = nightly_matrix.load(HOME / "nightly" / "matrix.yaml", PATCHES, weekday="Mon")
    assert not [i for i in weekday.ids if "/catalogue" in i]  # and its override glob still loads


@pytest.mark.parametrize("text, says", [
    ("catalogue: patches/bugs\ncatalogue_configs: [default, dbg]\n",
     "matrix.yaml:4: catalogue_configs: 'dbg' is not a config of configs: (default, debug)"),
    ("catalogue: patches/bugs\ncatalogue_configs: debug\n", "matrix.yaml:4: catalogue_configs"),
    ("catalogue: patches/bugs\ncatalogue_configs: []\n", "matrix.yaml:4: catalogue_configs is empty"),
    ("catalogue: patches/bugs\ncatalogue_configs: [debug, debug]\n", "matrix.yaml:4: catalogue_configs: 'debug' twice"),
    ("catalogue_configs: [debug]\n", "matrix.yaml:3: catalogue_configs without catalogue:"),
])
def test_catalogue_configs_are_checked_with_file_and_line(tmp_path: Path, text: str, says: str) -> None:
    """Checked on every night, not only on catalogue days: a typo found on Monday, not Sunday."""
    (tmp_path / "matrix.yaml").write_text("series: [baseline]\nconfigs: {default: [], debug: [kasan]}\n" + text)
    with pytest.raises(UserError) as e:
        nightly_matrix.load(tmp_path / "matrix.yaml", PATCHES, weekday="Mon")
    assert str(e.value).startswith(f"{tmp_path}/{says}"), str(e.value)


def test_configs_overrides_and_skip(tmp_path: Path) -> None:
    m = load(tmp_path, """
tree: linux
series: [canary, baseline]
configs: {default: [], lockdep: [lockdep]}
workloads: [gup-test, pin-balance]
params: [gup-test.MB=8]
overrides:
  "canary/*": {kconfigs: [kasan], params: [pin-balance.SETTLE=5]}
  canary/lockdep: {workloads: [rxe]}
  baseline/lockdep: {skip: true}
""")
    assert m.ids == ("baseline/default", "canary/default", "canary/lockdep")
    by_id = {e.id: e for e in m.entries}
    assert by_id["canary/lockdep"] == Entry("canary/lockdep", "canary", "canary", "lockdep",
                                            ("lockdep", "kasan"), ("rxe",),
                                            ("gup-test.MB=8", "pin-balance.SETTLE=5"))
    assert by_id["baseline/default"].workloads == ("gup-test", "pin-balance")
    assert m.tree == str((tmp_path / "linux").resolve())


def test_errors_name_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"matrix.yaml:2: unknown key 'serie'"):
        load(tmp_path, "configs: {default: []}\nserie: [canary]\n")
    with pytest.raises(UserError, match=r"overrides\['canry/\*'\]: matches no entry"):
        load(tmp_path, "series: [canary]\noverrides: {'canry/*': {skip: true}}\n")
    with pytest.raises(UserError, match="unknown key 'kconfig'"):
        load(tmp_path, "series: [canary]\noverrides: {'canary/*': {kconfig: [kasan]}}\n")
    with pytest.raises(UserError, match="config name 'a b'"):
        load(tmp_path, "configs: {'a b': []}\n")
    with pytest.raises(UserError, match="must be a list"):
        load(tmp_path, "series: canary\n")
    with pytest.raises(UserError, match="series 'nope' not found"):
        load(tmp_path, "series: [nope]\n")
    with pytest.raises(UserError, match=r"matrix.yaml:\d+: invalid YAML"):
        load(tmp_path, "series: [canary\n")


def test_no_series_at_all(tmp_path: Path) -> None:
    (tmp_path / "patches").mkdir()
    with pytest.raises(UserError, match="no series given and none in"):
        load(tmp_path, "", tmp_path / "patches")


def test_series_by_path(tmp_path: Path) -> None:
    shutil.copytree(PATCHES / "canary", tmp_path / "mine")
    m = load(tmp_path, f"series: [{tmp_path / 'mine'}, canary]\n")
    assert m.ids == ("canary/default", "mine/default")


def entries(*ids: str) -> tuple[Entry, ...]:
    return tuple(Entry(i, i.split("/")[0], i.split("/")[0], i.split("/")[1], (), (), ()) for i in ids)


def test_shards_are_stable_balanced_and_complete() -> None:
    ids = [f"s{n}/{c}" for n in range(7) for c in ("default", "lockdep")]
    every = entries(*ids)
    slices = [shard(every, i, 3) for i in (1, 2, 3)]
    assert sorted(e.id for s in slices for e in s) == sorted(ids)
    assert {len(s) for s in slices} <= {4, 5}
    # The order of the file does not matter, only the ids.
    backwards = [shard(entries(*reversed(ids)), i, 3) for i in (1, 2, 3)]
    assert [{e.id for e in s} for s in slices] == [{e.id for e in s} for s in backwards]
    assert shard(every, 1, 1) == every
    assert sum(len(shard(entries("a/x"), i, 4)) for i in (1, 2, 3, 4)) == 1


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_bad_shard(text: str) -> None:
    with pytest.raises(UserError, match="--shard"):
        parse_shard(text)


def test_digest_changes_with_the_matrix(tmp_path: Path) -> None:
    a = load(tmp_path, "series: [canary]\n")
    b = load(tmp_path, "series: [canary]\nconfigs: {default: [], kasan: [kasan]}\n")
    assert a.digest != b.digest and a.digest == load(tmp_path, "series: [canary]\n").digest


@pytest.mark.parametrize("text, match", [
    ("configs:\n  default: []\n  default: [kasan]\n", r"matrix.yaml:3: duplicate key 'default'"),
    ("overrides:\n  'canary/*': {skip: true, skip: false}\n", r"matrix.yaml:2: duplicate key 'skip'"),
    ("series: [canary]\ntree_name: a\x02b\n", r"matrix.yaml:2: control character 0x02"),
])
def test_bad_bytes_and_nested_duplicates_name_file_and_line(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(UserError, match=match):
        load(tmp_path, text)


def test_memory_override(tmp_path: Path) -> None:
    m = load(tmp_path, "series: [canary]\nconfigs: {default: [], debug: [kasan]}\n"
                       "overrides:\n  '*/debug': {memory: 3G}\n")
    assert {e.id: e.memory for e in m.entries} == {"canary/debug": "3G", "canary/default": None}
    with pytest.raises(UserError, match="memory must be a size like 3G"):
        load(tmp_path, "series: [canary]\noverrides:\n  'canary/*': {memory: lots}\n")


def test_coverage_key_and_override(tmp_path: Path) -> None:
    m = load(tmp_path, "series: [canary]\nconfigs: {default: [], debug: [kasan]}\ncoverage: true\n"
                       "overrides:\n  '*/debug': {coverage: false}\n")
    assert {e.id: e.coverage for e in m.entries} == {"canary/debug": False, "canary/default": True}
    assert not load(tmp_path, "series: [canary]\n").entries[0].coverage  # off unless asked
    with pytest.raises(UserError, match=r"matrix.yaml:2: coverage must be true or false, not 'yes please'"):
        load(tmp_path, "series: [canary]\ncoverage: yes please\n")
