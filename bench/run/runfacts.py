"""What a run learned about itself besides its cases: summary.json's `info` object, typed.

The pipeline builds it stage by stage (dataclasses.replace) as each fact becomes known; the
drivers (repeat, bisect, --each) make their own; the pages, the nightly, bisect, --each, repeat
and coverage read it by attribute. On disk it is the `info` object of summary.json, with the same
keys as before it was typed (a fact not known, None, is left out as before; a null read back is
not known either), so older runs still read:
a key this bench does not type (a driver's label, an older or newer bench's fact) is kept in
`labels` and written back as it was. A typed key of the wrong type is a formats.FormatProblem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from bench.base import jsonvalues


@dataclass(frozen=True)
class Stage:
    """One row of the timeline: a stage (or workload/NAME) and when it ran."""
    stage: str  # apply, config, build, boot, workload/NAME, probe, coverage, baseline, scan
    start: float  # seconds into the run
    secs: float  # how long it took


@dataclass(frozen=True)
class Probe:
    """--each's probe: the next patch's files touched and make run again (bench/run/buildwarn.py)."""
    files: tuple[str, ...]  # the files touched, relative to the source tree
    ok: bool  # make succeeded
    secs: float


@dataclass(frozen=True)
class Baseline:
    """--baseline: how the unpatched tree's own run went."""
    verdict: str  # its Status value
    reports: tuple[str, ...]  # the titles of its kernel reports, sorted


@dataclass(frozen=True)
class RunFacts:
    series: str | None = None  # the series' name
    tree: str | None = None  # the kernel tree's path
    # What the driver that started the run (plan.extra_info: nightly, config, bisect, bisect_step,
    # each, each_prefix, a request's info) or a driver's own summary (repeat, bisect, --each's
    # patch) says, and any key this bench does not type: written flat beside the typed keys.
    labels: Mapping[str, Any] = field(default_factory=dict)
    started: str | None = None  # when the run began, UTC, ISO 8601 to the second
    timeline: tuple[Stage, ...] | None = None  # the stages in the order they ended (the run page draws it)
    base: str | None = None  # the commit the series was applied on
    kernel_version: str | None = None  # the base's Makefile version ("6.12.117")
    notes: tuple[str, ...] | None = None  # lines for people (a known issue fixed in the base); never empty
    slot: str | None = None  # the build slot's folder name under the cache's work/
    mtimes_kept: int | None = None  # files whose old mtimes were given back (incremental build)
    head: str | None = None  # the commit with the series applied
    image: str | None = None  # the kernel image booted (the slot's)
    accel: str | None = None  # kvm or tcg
    vng: str | None = None  # the vng command line, as one string (the run page shows it)
    vng_argv: tuple[str, ...] | None = None  # the same, word by word (reproducer.sh)
    vm_timeout: int | None = None  # seconds the VM was given
    qemu: str | None = None  # how QEMU ended (bench/run/qemu.py)
    coverage: Mapping[str, Any] | None = None  # the changed lines' coverage summary (bench/run/coverage/text.py)
    probe: Probe | None = None  # --each's probe build
    baseline: Baseline | None = None  # --baseline's unpatched run
    known_issues: tuple[Mapping[str, Any], ...] | None = None  # judged known issues (None: never judged)

    def to_json(self) -> dict[str, Any]:
        """summary.json's info: series, tree, the labels, then each fact known, in this order."""
        known: dict[str, Any] = {f.name: _json(v) for f in fields(self) if f.name != "labels"
                 and (v := getattr(self, f.name)) is not None}  # not known: left out, as before
        first: dict[str, Any] = {k: known.pop(k) for k in ("series", "tree") if k in known}
        return {**first, **self.labels, **known}

    @classmethod
    def from_json(cls, info: object) -> RunFacts:
        """summary.json's info back (ValueError naming the key if a typed one is of another type)."""
        if not isinstance(info, Mapping):
            raise ValueError(f"info: {type(info).__name__}, not an object")
        typed = {f.name for f in fields(cls)} - {"labels"}
        labels = {k: v for k, v in info.items() if k not in typed}
        got: dict[str, Any] = {}
        for name, read in _READERS.items():
            if info.get(name) is not None:
                try:
                    got[name] = read(info[name])
                except KeyError as e:
                    raise ValueError(f"info.{name}: no {e}") from e
                except (TypeError, ValueError) as e:
                    raise ValueError(f"info.{name}: {e}") from e
        return cls(labels=labels, **got)


def _json(value: object) -> object:
    if isinstance(value, (Stage, Probe, Baseline)):
        return {f.name: _json(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple):
        return [_json(v) for v in value]
    if isinstance(value, Mapping):
        return dict(value)
    return value


_str, _int, _obj = jsonvalues.string, jsonvalues.integer, jsonvalues.obj


def _num(v: object) -> float:
    return float(jsonvalues.number(v))


def _list(v: object) -> list[object]:
    if not isinstance(v, list):
        raise TypeError(f"{type(v).__name__}, not a list")
    return v


def _strs(v: object) -> tuple[str, ...]:
    return tuple(_str(s) for s in _list(v))


def _stage(v: object) -> Stage:
    row = _obj(v)
    return Stage(_str(row["stage"]), _num(row.get("start", 0.0)), _num(row.get("secs", 0.0)))


def _probe(v: object) -> Probe:
    p = _obj(v)
    return Probe(_strs(p.get("files", [])), p.get("ok") is True, _num(p.get("secs", 0.0)))


def _baseline(v: object) -> Baseline:
    b = _obj(v)
    return Baseline(_str(b["verdict"]), _strs(b.get("reports", [])))


_READERS: dict[str, Any] = {
    "series": _str, "tree": _str, "started": _str,
    "timeline": lambda v: tuple(_stage(r) for r in _list(v)),
    "base": _str, "kernel_version": _str, "notes": _strs, "slot": _str, "mtimes_kept": _int,
    "head": _str, "image": _str, "accel": _str, "vng": _str, "vng_argv": _strs, "vm_timeout": _int,
    "qemu": _str, "coverage": _obj, "probe": _probe, "baseline": _baseline,
    "known_issues": lambda v: tuple(_obj(k) for k in _list(v)),
}
