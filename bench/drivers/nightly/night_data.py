"""A night typed: night.json as frozen dataclasses (Night, NightEntry and their parts).

bench/drivers/nightly/night.py makes a Night, history.py compares them, night_pages.py,
pictures.py and kcidb.py read them by attribute; night_file.py checks night.json's shape and
reads it with Night.from_json. On disk nothing changed: to_json writes the keys in the order
the bench always wrote them, so a night read back and written again is the same bytes. Like
bench/run/runfacts.py, nothing read back is lost: a key this bench does not type (a newer
bench's, a hand edit) is kept in `labels` and written back after the typed keys, and so is a
typed key whose value does not read (it is then left at its default; written back in its
place). A night whose keys are in another order is read the same, and written in this
order: the ~100 night.json files on the project machine (2026-12-05) all have them in it.
A typed key absent from the file (an older bench's night) is remembered in `absent` and,
while still at its default, not written back. A None is written as null only for the keys
the bench writes as null (NULLABLE); any other None is a key left out (a catalogue field of
a plain entry, the comparison of a night not finished yet).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from bench.base import jsonvalues

R = TypeVar("R", bound="Record")
Reader = Callable[[Any], Any]


@dataclass(frozen=True, kw_only=True)
class Record:
    """What every part of a night shares: the keys it keeps untyped, the keys it was read without."""
    labels: Mapping[str, Any] = field(default_factory=dict)  # untyped (or unreadable) keys, as read
    absent: frozenset[str] = frozenset()  # typed keys the file did not have
    READERS: ClassVar[Mapping[str, Reader]] = {}
    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The typed keys, in the order night.json has them."""
        return tuple(f.name for f in fields(cls) if f.name not in ("labels", "absent"))

    def to_json(self) -> dict[str, Any]:
        order = self.keys()
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("labels", "absent"):
                continue
            value = getattr(self, f.name)
            if f.name in self.absent and value == _default(f):
                continue
            if value is None and f.name not in self.NULLABLE:
                continue
            out[f.name] = _json(value)
        merged = {**out, **self.labels}
        rank = {k: i for i, k in enumerate(order)}  # labels not typed keep their order, after the typed
        return dict(sorted(merged.items(), key=lambda kv: rank.get(kv[0], len(rank))))

    @classmethod
    def from_json(cls: type[R], data: object) -> R:
        """data read back (ValueError naming the key if one this type needs is missing)."""
        if not isinstance(data, Mapping):
            raise ValueError(f"{type(data).__name__}, not an object")
        got: dict[str, Any] = {}
        labels: dict[str, Any] = {}
        absent: set[str] = set()
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        for key, value in data.items():
            if key not in cls.READERS:
                labels[key] = value
            elif value is None and key in cls.NULLABLE:
                got[key] = None
            else:
                try:
                    got[key] = cls.READERS[key](value)
                except (TypeError, ValueError, KeyError):
                    labels[key] = value  # kept as it was; the field stays at its default
        for name in cls.keys():
            if name not in got:
                if name in required:
                    raise ValueError(f"{name}: " + ("missing" if name not in data else "unreadable"))
                absent.add(name)
        return cls(labels=labels, absent=frozenset(absent), **got)


def _default(f: Any) -> object:
    return f.default_factory() if f.default_factory is not MISSING else f.default


def _json(value: object) -> object:
    if isinstance(value, Record):
        return value.to_json()
    if isinstance(value, tuple):
        return [_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _json(v) for k, v in value.items()}
    return value


# -- readers: the value as read (an int stays an int: 12 is written back as 12, not 12.0) --------

_str, _int, _num = jsonvalues.string, jsonvalues.integer, jsonvalues.number
_bool, _obj = jsonvalues.boolean, jsonvalues.obj


def _list(item: Reader) -> Reader:
    def read(v: object) -> tuple[Any, ...]:
        if not isinstance(v, list):
            raise TypeError(f"{type(v).__name__}, not a list")
        return tuple(item(x) for x in v)
    return read


def _map(item: Reader) -> Reader:
    return lambda v: {k: item(x) for k, x in _obj(v).items()}


def _opt(item: Reader) -> Reader:
    return lambda v: None if v is None else item(v)


_strs = _list(_str)


# -- the parts of a night ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Failing(Record):
    """A case that failed (or was an error): what the comparison keys on."""
    key: str  # "<group>/<name>" of the run's Case
    status: str  # fail or error
    message: str = ""
    READERS: ClassVar[Mapping[str, Reader]] = {"key": _str, "status": _str, "message": _str}


@dataclass(frozen=True, kw_only=True)
class Report(Record):
    """A kernel report the run found (known: suppressed by a known issue)."""
    title: str
    known: bool
    message: str = ""
    READERS: ClassVar[Mapping[str, Reader]] = {"title": _str, "known": _bool, "message": _str}


@dataclass(frozen=True, kw_only=True)
class PatchFile(Record):
    """A patch as applied, copied into the night (KCIDB's patchset_files)."""
    file: str  # relative to the night folder
    sha256: str = ""
    READERS: ClassVar[Mapping[str, Reader]] = {"file": _str, "sha256": _str}


@dataclass(frozen=True, kw_only=True)
class NightEntry(Record):
    """One matrix entry's run in the night. A night beside this one (shape PAST of night_file)
    may have only id, run_id, verdict, cases and failing: the rest is then at its default."""
    id: str  # <series>/<config>
    series: str = ""
    config: str = ""
    run_id: str  # its run folder inside the night
    verdict: str  # pass, fail or error
    exit_code: int | None = None
    cases: Mapping[str, str] = field(default_factory=dict)  # case key -> status
    failing: tuple[Failing, ...] = ()
    reports: tuple[Report, ...] = ()
    workloads: tuple[str, ...] = ()
    fragments: tuple[str, ...] = ()
    base: str | None = None  # the commit the series was applied on
    patches: tuple[PatchFile, ...] = ()
    patchset_hash: str = ""
    started: str = ""
    secs: float | None = None
    repeat: int | None = None
    known_issues: tuple[Mapping[str, Any], ...] | None = None  # as RunFacts has them; None: not recorded
    coverage: str | None = None  # the grid's coverage cell
    catch: tuple[str, ...] | None = None  # a catalogue bug: the cases that must fail
    control: bool | None = None  # a catalogue control
    caught: str | None = None  # a catalogue entry's prove.Outcome
    READERS: ClassVar[Mapping[str, Reader]] = {
        "id": _str, "series": _str, "config": _str, "run_id": _str, "verdict": _str, "exit_code": _int,
        "cases": _map(_str), "failing": _list(Failing.from_json), "reports": _list(Report.from_json),
        "workloads": _strs, "fragments": _strs, "base": _str, "patches": _list(PatchFile.from_json),
        "patchset_hash": _str, "started": _str, "secs": _num, "repeat": _int,
        "known_issues": _list(_obj), "coverage": _str, "catch": _strs, "control": _bool, "caught": _str}
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"exit_code", "base", "secs"})


@dataclass(frozen=True, kw_only=True)
class Shard(Record):
    index: int  # 1-based
    count: int
    READERS: ClassVar[Mapping[str, Reader]] = {"index": _int, "count": _int}


@dataclass(frozen=True, kw_only=True)
class MatrixRef(Record):
    """The matrix the night ran: shards of one night share its digest."""
    path: str | None = None
    digest: str
    ids: tuple[str, ...]  # every entry of the whole matrix
    READERS: ClassVar[Mapping[str, Reader]] = {"path": _str, "digest": _str, "ids": _strs}
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"path"})


@dataclass(frozen=True, kw_only=True)
class Tree(Record):
    """The kernel tree (KCIDB's tree_name and git_repository_url)."""
    path: str | None = None
    name: str | None = None
    url: str | None = None
    READERS: ClassVar[Mapping[str, Reader]] = {"path": _str, "name": _str, "url": _str}
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"path", "name", "url"})


@dataclass(frozen=True, kw_only=True)
class Item(Record):
    """A failure as the comparison classed it."""
    id: str  # the entry
    key: str  # the case
    message: str = ""
    run_id: str = ""
    READERS: ClassVar[Mapping[str, Reader]] = {"id": _str, "key": _str, "message": _str, "run_id": _str}


_items = _list(Item.from_json)


@dataclass(frozen=True, kw_only=True)
class Comparison(Record):
    """This night against its baselines (bench/drivers/nightly/history.py)."""
    new: tuple[Item, ...] = ()
    fixed: tuple[Item, ...] = ()
    still: tuple[Item, ...] = ()
    infra: tuple[Item, ...] = ()
    untested: tuple[Item, ...] = ()
    baseline: Mapping[str, str | None] = field(default_factory=dict)  # entry -> the night compared with
    previous: str | None = None  # the newest night compared with
    READERS: ClassVar[Mapping[str, Reader]] = {
        "new": _items, "fixed": _items, "still": _items, "infra": _items, "untested": _items,
        "baseline": _map(_opt(_str)), "previous": _str}
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"previous"})

    def of(self, kind: str) -> tuple[Item, ...]:
        """The items of one of history.CATEGORIES."""
        items: tuple[Item, ...] = getattr(self, kind)
        return items


@dataclass(frozen=True, kw_only=True)
class StaleKnown(Record):
    """A known issue that matched nothing for `nights` nights: a candidate for removal."""
    id: str
    where: str = ""
    reason: str = ""
    link: str = ""
    nights: int
    READERS: ClassVar[Mapping[str, Reader]] = {
        "id": _str, "where": _str, "reason": _str, "link": _str, "nights": _int}


@dataclass(frozen=True, kw_only=True)
class Night(Record):
    """night.json (its `format` aside: bench/drivers/nightly/night_file.py stamps and checks it)."""
    name: str  # the night folder's name
    started: str  # ISO UTC
    finished: str | None = None  # None: still running
    complete: bool  # every entry ran
    shard: Shard | None = None
    matrix: MatrixRef | None = None  # None: a night beside this one from an older bench
    tree: Tree | None = None
    entries: tuple[NightEntry, ...]  # sorted by id
    missing: tuple[str, ...] = ()  # ids that should have run here but did not
    merged_from: tuple[str, ...] = ()  # the shard nights `bench merge` made it from
    known_stale_after: int | None = None
    comparison: Comparison | None = None  # None until the night is finished
    stale_known: tuple[StaleKnown, ...] | None = None
    exit_code: int | None = None
    READERS: ClassVar[Mapping[str, Reader]] = {
        "name": _str, "started": _str, "finished": _str, "complete": _bool, "shard": Shard.from_json,
        "matrix": MatrixRef.from_json, "tree": Tree.from_json, "entries": _list(NightEntry.from_json),
        "missing": _strs, "merged_from": _strs, "known_stale_after": _int, "comparison": Comparison.from_json,
        "stale_known": _list(StaleKnown.from_json), "exit_code": _int}
    NULLABLE: ClassVar[frozenset[str]] = frozenset({"finished", "shard", "tree", "known_stale_after"})
