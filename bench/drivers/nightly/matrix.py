"""The nightly matrix: series x named kconfig sets, with per-entry overrides, and its shards.

matrix.yaml (every key optional):

    tree: ~/linux            # kernel tree (relative paths: to this file); --tree wins
    base: v6.12              # commit to apply every series on; --base wins
    tree_name: linux-6.12    # KCIDB checkout tree_name (default: the tree folder's name)
    tree_url: https://...    # KCIDB git_repository_url
    series: [baseline]       # default: every series in patches/
    configs:                 # name -> kconfig fragments on top of each series' own
      default: []
      lockdep: [lockdep]
    workloads: [rxe]         # replaces every series' own list; --workload wins
    params: [rxe.ITERS=5]    # like --param; applied where that workload is selected
    repeat: 3                # run each entry N times: fail:runs per case (bench/run/rates.py)
    coverage: true           # changed-line coverage of each series (docs/coverage.md); --coverage: all
    known_stale_after: 14    # list known issues that matched nothing for this many nights
    overrides:               # key: entry id "<series>/<config>" or a glob ("canary/*")
      "canary/*": {workloads: [...], params: [...], kconfigs: [...], repeat: 5, memory: 3G, coverage: true,
                   skip: false}
    catalogue: patches/bugs  # bug series (relative to the project): "<bug>/catalogue" entries
    catalogue_days: [Sun]    # ... on these weekdays only (default: every night)
    catalogue_configs: [default, debug]  # ... on these configs ("<bug>/catalogue-debug"; default:
                             # one "<bug>/catalogue" entry without config fragments)

Pure parsing: series are loaded (no git) only to learn their names.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.base import files, rundir, yamlmap
from bench.base.errors import UserError
from bench.drivers.nightly.history import HISTORY_LIMIT
from bench.run import series as series_mod
from bench.run.catch import Catch
from bench.run.plan import memory_mib

TOP_KEYS = ("tree", "base", "tree_name", "tree_url", "series", "configs", "workloads", "params",
            "repeat", "coverage", "known_stale_after", "overrides", "catalogue", "catalogue_days",
            "catalogue_configs")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
OVERRIDE_KEYS = ("workloads", "params", "kconfigs", "repeat", "memory", "coverage", "skip")
MAX_REPEAT = 100
STALE_AFTER = 14  # nights: two weeks of a matrix run nightly
_NAME = re.compile(r"^[\w.-]+$")


@dataclass(frozen=True)
class Entry:
    id: str  # "<series>/<config>"
    spec: str  # what load_series takes: a name under patches/ or a path
    series: str
    config: str
    kconfigs: tuple[str, ...]  # the config set's fragments + override fragments
    workloads: tuple[str, ...]  # empty: the series' own (or --workload)
    params: tuple[str, ...]
    catch: tuple[Catch, ...] = ()  # a catalogue bug: the cases that must fail (then the entry passes)
    repeat: int = 1  # runs of the entry's kernel (> 1: decided by rates)
    memory: str | None = None  # guest memory for this entry (a debug kernel needs more); None: --memory
    coverage: bool = False  # changed-line coverage of the series (--coverage turns it on for all)
    control: bool = False  # a catalogue control (a harmless refactor): passes when its run passes

    @property
    def run_id(self) -> str:
        """The entry's results folder name inside the night folder."""
        return rundir.sub_name(self.id.replace("/", "--"))


@dataclass(frozen=True)
class Matrix:
    path: Path
    tree: str | None
    base: str | None
    tree_name: str | None
    tree_url: str | None
    entries: tuple[Entry, ...]  # every entry of the matrix, sorted by id
    known_stale_after: int = STALE_AFTER

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(e.id for e in self.entries)

    @property
    def digest(self) -> str:
        """Same matrix, same digest: shards refuse to merge across different matrices."""
        text = json.dumps([e.__dict__ for e in self.entries], sort_keys=True, default=str)  # a Catch as its key
        return hashlib.sha256(text.encode()).hexdigest()


def parse_shard(text: str) -> tuple[int, int]:
    """"I/N" -> (I, N) with 1 <= I <= N."""
    m = re.fullmatch(r"(\d{1,9})/(\d{1,9})", text.strip())  # int() of 5000 digits raises
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise UserError(f"--shard {text!r}: want I/N with 1 <= I <= N, e.g. 1/4")
    return int(m.group(1)), int(m.group(2))


def shard(entries: tuple[Entry, ...], index: int, count: int) -> tuple[Entry, ...]:
    """The index-th of count slices, dealt round-robin in the order of sha256(id).

    Stable whatever the order of the file, and balanced (sizes differ by at most one),
    which hashing each id modulo count alone is not for small matrices.
    """
    dealt = sorted(entries, key=lambda e: hashlib.sha256(e.id.encode()).hexdigest())
    mine = {e.id for i, e in enumerate(dealt) if i % count == index - 1}
    return tuple(e for e in entries if e.id in mine)


def load(path: Path, patches_dir: Path, weekday: str | None = None) -> Matrix:
    """The matrix of path; weekday (Mon..Sun, default today) decides catalogue_days."""
    text = files.read_input(path).decode("utf-8", errors="surrogateescape")  # bad bytes: yamlmap names them
    y = yamlmap.read(path, text, TOP_KEYS)
    data, where, string = y.data, y.where, y.string
    specs = y.strings("series") or tuple(series_mod.list_series(patches_dir))
    if not specs:
        raise UserError(f"{where('series')}: no series given and none in {patches_dir}")
    configs = _configs(data.get("configs"), where("configs"))
    workloads = y.strings("workloads")
    params = y.strings("params")
    overrides = data.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise UserError(f"{where('overrides')}: overrides must map entry ids or globs to settings")

    repeat = _count(data.get("repeat", 1), where("repeat"), "repeat", MAX_REPEAT)
    coverage = _flag(data.get("coverage", False), where("coverage"), "coverage")
    stale = _count(data.get("known_stale_after", STALE_AFTER), where("known_stale_after"), "known_stale_after",
                   HISTORY_LIMIT + 1)
    entries: list[Entry] = []
    for spec in dict.fromkeys(specs):
        try:
            name = series_mod.load_series(spec, patches_dir).name
        except UserError as e:  # which line of the matrix named it
            raise UserError(f"{where('series')}: {e}") from e
        for config, frags in configs.items():
            entries.append(Entry(f"{name}/{config}", spec, name, config, frags, workloads, params, repeat=repeat,
                                 coverage=coverage))
    entries += _catalogue(y, patches_dir.parent, workloads, params, weekday, configs)
    entries = _apply_overrides(entries, overrides, where("overrides"))
    ids = [e.id for e in entries]
    if dup := next((i for i in ids if ids.count(i) > 1), None):
        raise UserError(f"{where('series')}: entry {dup!r} appears twice (two series with one name?)")
    runs = [e.run_id for e in entries]
    if dup := next((r for r in runs if runs.count(r) > 1), None):
        raise UserError(f"{path}: two entries share the results folder name {dup!r}")
    for key in ("tree", "base", "tree_name", "tree_url"):  # `base: ''` was blamed on --base; a blank tree is a path
        if (value := string(key)) is not None and (not value.strip() or value.startswith("-")):
            raise UserError(f"{where(key)}: {key} {value!r}: blank or an option (leave it out for the default)")
    tree = string("tree")
    if tree:
        try:
            tree = str((path.parent / Path(tree).expanduser()).resolve())
        except (RuntimeError, OSError) as e:  # a symlink loop: RuntimeError, which was an internal error
            raise UserError(f"{where('tree')}: tree {tree!r}: cannot resolve it: a symlink loop ({e})") from None
    return Matrix(path.resolve(), tree, string("base"), string("tree_name"), string("tree_url"),
                  tuple(sorted(entries, key=lambda e: e.id)), stale)


def _count(value: object, where: str, key: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise UserError(f"{where}: {key} must be a whole number from 1 to {high}")
    return value


def _flag(value: object, where: str, key: str) -> bool:
    if not isinstance(value, bool):
        raise UserError(f"{where}: {key} must be true or false, not {value!r}"[:300])
    return value


def _catalogue_configs(y: yamlmap.YamlMap, configs: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """`catalogue_configs: [default, debug]`: the catalogue's entries on each of these configs
    (names of configs:); absent, one entry a bug without config fragments, as before the key."""
    if "catalogue_configs" not in y.data:
        return {"": ()}
    where = y.where("catalogue_configs")
    names = yamlmap.strings(y.data["catalogue_configs"], f"{where}: catalogue_configs")
    if not names:
        raise UserError(f"{where}: catalogue_configs is empty (leave it out for the default entry)")
    if not y.string("catalogue"):
        raise UserError(f"{where}: catalogue_configs without catalogue: (the folder of bug series)")
    if bad := [n for n in names if n not in configs]:
        raise UserError(f"{where}: catalogue_configs: {bad[0]!r} is not a config of configs: ({', '.join(configs)})")
    if dup := next((n for n in names if names.count(n) > 1), None):
        raise UserError(f"{where}: catalogue_configs: {dup!r} twice")
    return {("" if n == "default" else n): configs[n] for n in names}


def _catalogue(y: yamlmap.YamlMap, home: Path, workloads: tuple[str, ...], params: tuple[str, ...],
               weekday: str | None, configs: dict[str, tuple[str, ...]]) -> list[Entry]:
    """`catalogue: patches/bugs` (relative to the project): an entry "<bug>/catalogue" per bug
    series, passing when the bench catches it (a control: when its run passes);
    `catalogue_days: [Sun]` runs them on those days only; `catalogue_configs: [default, debug]`
    on each of these configs ("<bug>/catalogue" for default, "<bug>/catalogue-debug" ...)."""
    folder = y.string("catalogue")
    days = y.strings("catalogue_days")
    if bad := [d for d in days if d not in WEEKDAYS]:
        raise UserError(f"{y.where('catalogue_days')}: {bad[0]!r} is not one of {', '.join(WEEKDAYS)}")
    on = _catalogue_configs(y, configs)  # checked every night, not only on catalogue days
    if not folder or (days and (weekday or time.strftime("%a")) not in days):
        return []
    root = (home / folder).resolve()
    if not root.is_dir():
        raise UserError(f"{y.where('catalogue')}: {root}: no such catalogue folder")
    entries = []
    for name in series_mod.list_series(root):
        s = series_mod.load_series(str(root / name), root)
        if not s.meta.catch and not s.meta.control:
            raise UserError(f"{s.source / 'series.yaml'}: catch: missing (a catalogue bug names the cases that must fail)")
        for config, frags in on.items():
            kind = f"catalogue-{config}" if config else "catalogue"
            entries.append(Entry(f"{s.name}/{kind}", str(root / name), s.name, kind, frags, workloads, params,
                                 s.meta.catch, control=s.meta.control))
    return entries


def _configs(raw: Any, where: str) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {"default": ()}
    if not isinstance(raw, dict) or not raw:
        raise UserError(f"{where}: configs must map names to lists of kconfig fragments")
    out: dict[str, tuple[str, ...]] = {}
    for name, frags in raw.items():
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise UserError(f"{where}: config name {name!r}: letters, digits, '.', '_' and '-' only")
        out[name] = yamlmap.strings(frags, f"{where}: configs.{name}")
    return out


def _memory(raw: Any, what: str) -> str:
    memory_mib(raw, f"{what}: memory")  # the rule of --memory, found when the matrix is read
    return str(raw)


def _apply_overrides(entries: list[Entry], overrides: dict[Any, Any], where: str) -> list[Entry]:
    out = list(entries)
    for key, settings in overrides.items():
        what = f"{where}: overrides[{key!r}]"
        if not isinstance(settings, dict):
            raise UserError(f"{what}: must be a mapping ({', '.join(OVERRIDE_KEYS)})")
        if bad := [k for k in settings if k not in OVERRIDE_KEYS]:
            raise UserError(f"{what}: unknown key {bad[0]!r} (known: {', '.join(OVERRIDE_KEYS)})")
        hits = [i for i, e in enumerate(out) if fnmatch.fnmatchcase(e.id, str(key))]
        if not hits:  # a typo would silently change nothing
            raise UserError(f"{what}: matches no entry (entries: {', '.join(e.id for e in out)})")
        for i in hits:
            e = out[i]
            out[i] = Entry(
                e.id, e.spec, e.series, e.config,
                e.kconfigs + yamlmap.strings(settings.get("kconfigs"), f"{what}.kconfigs"),
                yamlmap.strings(settings.get("workloads"), f"{what}.workloads") or e.workloads,
                e.params + yamlmap.strings(settings.get("params"), f"{what}.params"), e.catch,
                _count(settings["repeat"], what, "repeat", MAX_REPEAT) if "repeat" in settings else e.repeat,
                _memory(settings["memory"], what) if "memory" in settings else e.memory,
                _flag(settings["coverage"], what, "coverage") if "coverage" in settings else e.coverage,
                e.control,
            )
        if _flag(settings.get("skip", False), what, "skip"):  # 'no' (quoted) or 1 skipped the entries
            skipped = {out[i].id for i in hits}
            out = [e for e in out if e.id not in skipped]
    if entries and not out:  # a night that runs nothing passes: never by accident
        raise UserError(f"{where}: every entry is skipped: the night would test nothing")
    return out
