"""Guest workloads: a registry loaded from guests/<name>.yaml.

A workload is data, not a class: a script (run by guests/runner.sh inside the
VM from the host root that virtme-ng shares), a timeout, the kconfig fragments
it needs, whether it needs a guest NIC, extra kernel command line, and typed
parameters with defaults that the CLI may override (`--param rxe.SIZE_KB=64`).
Scripts exit 0 pass, 4 skip (kselftest's code), anything else fail.
guests/sets.yaml names sets of workloads (`default`, `deep`); a set name is
accepted wherever a workload name is.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.base import yamlmap
from bench.base.errors import UserError, quote
from bench.base.limits import LIMITS
from bench.run import kcmdline

SKIP_RC = 4
TIMEOUT_RC = 124  # coreutils timeout(1): guests/runner.sh stopped the workload at its timeout
NETWORKS = ("loop", "user")
SETS_FILE = "sets.yaml"
DEFAULT_SET = "default"
_KEYS = {"description", "script", "timeout", "network", "kconfigs", "params", "last", "cmdline"}
_PARAM_KEYS = {"default", "type", "min", "max"}
_TYPES = {"int": int, "str": str}
_PARAM = re.compile(r"^[A-Z][A-Z0-9_]*$")
_VALUE = re.compile(r"^[^\s'\"\\$`]*$")  # passed through a tab-separated plan: no quoting games
_PREBUILD = re.compile(r"^prebuild_done$", re.M)  # guests/lib.sh: the script's builds end here


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    script: Path
    timeout: int  # seconds, enforced inside the guest
    network: str | None  # vng --network: "loop" (NICs joined only to each other) or "user"
    kconfigs: tuple[str, ...]
    params: tuple[tuple[str, str], ...]
    last: bool = False  # runs after every other workload (pin-balance)
    source: Path = field(default=Path(), compare=False)
    cmdline: tuple[str, ...] = ()  # kernel command line words the workload needs (movablecore=...)
    specs: tuple[ParamSpec, ...] = field(default=(), compare=False)
    scaled: str = field(default="", compare=False)  # how timeout was scaled for a busy host, "" if not
    prebuild: bool = False  # its script has its builds first, ended by prebuild_done (run/prebuild.py)


def scale_timeouts(workloads: tuple[Workload, ...], factor: float, why: str) -> tuple[Workload, ...]:
    """Timeouts multiplied by factor (a busy host runs the guest slower: a host problem must
    not end as a workload's timeout); each says so, for the case that times out all the same."""
    if factor <= 1:
        return workloads
    return tuple(replace(w, timeout=math.ceil(w.timeout * factor),
                         scaled=f" (its {w.timeout}s x{factor:g}: {why})") for w in workloads)


@dataclass(frozen=True)
class ParamSpec:
    """A declared parameter: `NAME: value` (a str) or `NAME: {default, type, min, max}`."""

    name: str
    type: str  # int | str
    lo: int | None = None
    hi: int | None = None

    def check(self, value: str) -> str | None:
        """Why value does not fit, or None."""
        if not _VALUE.fullmatch(value):
            return f"value {value!r} has spaces, quotes or $"
        if self.type != "int":
            return None
        if not re.fullmatch(r"-?[0-9]+", value):  # ASCII digits: '٣٠' passed int(), then failed in the guest
            return f"{self.name} must be an integer, not {quote(value)}"
        if len(value.lstrip("-")) > LIMITS.int_digits:  # int() refuses 4300 digits with a ValueError
            return f"{self.name}: an integer of {len(value)} characters, over the limit of {LIMITS.int_digits} digits"
        if self.lo is not None and int(value) < self.lo:
            return f"{self.name}={value} is below its minimum {self.lo}"
        if self.hi is not None and int(value) > self.hi:
            return f"{self.name}={value} is above its maximum {self.hi}"
        return None


def _fail(path: Path, what: str) -> UserError:
    return UserError(f"{path}: {what}")


def _spec(path: Path, key: str, raw: Any) -> tuple[ParamSpec, str]:
    if not isinstance(raw, dict):
        return ParamSpec(key, "int" if isinstance(raw, int) and not isinstance(raw, bool) else "str"), str(raw)
    unknown = set(raw) - _PARAM_KEYS
    if unknown or "default" not in raw:
        raise _fail(path, f"param {key}: want {{default, type, min, max}}, got {sorted(raw)}")
    kind = raw.get("type", "str")
    if kind not in _TYPES:
        raise _fail(path, f"param {key}: type must be one of {', '.join(_TYPES)}, not {kind!r}")
    bounds = [raw.get(b) for b in ("min", "max")]
    if any(b is not None and (kind != "int" or not isinstance(b, int)) for b in bounds):
        raise _fail(path, f"param {key}: min/max need type int and integer bounds")
    return ParamSpec(key, kind, bounds[0], bounds[1]), str(raw["default"])


def _params(path: Path, raw: Any) -> tuple[tuple[tuple[str, str], ...], tuple[ParamSpec, ...]]:
    if raw is None:
        return (), ()
    if not isinstance(raw, dict):
        raise _fail(path, "'params' must be a mapping of NAME: value")
    out, specs = [], []
    for key, value in raw.items():
        if not isinstance(key, str) or not _PARAM.fullmatch(key):
            raise _fail(path, f"param name {key!r} must be UPPER_CASE")
        spec, default = _spec(path, key, value)
        why = spec.check(default)
        if why:
            raise _fail(path, f"param {key} default: {why}")
        out.append((key, default))
        specs.append(spec)
    return tuple(out), tuple(specs)


def _cmdline(path: Path, raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _fail(path, "'cmdline' must be a list of kernel command-line words (no spaces or quotes)")
    return kcmdline.check(raw, f"{path}: cmdline")


def _network(path: Path, raw: Any) -> str | None:
    if raw in (None, False):
        return None
    if raw not in NETWORKS:
        raise _fail(path, f"'network' must be one of {', '.join(NETWORKS)}, not {raw!r}")
    return str(raw)


def _flag(path: Path, key: str, raw: Any) -> bool:
    if not isinstance(raw, bool):  # bool("false") is True
        raise _fail(path, f"'{key}' must be true or false, not {quote(raw)}")
    return raw


def load(path: Path) -> Workload:
    try:
        data = yamlmap.load(path, path.read_bytes().decode("utf-8", errors="surrogateescape"))
    except OSError as e:
        raise _fail(path, f"cannot read: {e.strerror}") from e
    if not isinstance(data, dict):
        raise _fail(path, "must be a YAML mapping")
    unknown = set(data) - _KEYS
    if unknown:
        raise _fail(path, f"unknown key(s): {', '.join(sorted(unknown))} (known: {', '.join(sorted(_KEYS))})")
    script = path.parent / str(data.get("script", f"{path.stem}.sh"))
    if not script.is_file():
        raise _fail(path, f"script {script.name} not found next to it")
    timeout = data.get("timeout", 120)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0:  # `true` is the int 1
        raise _fail(path, f"'timeout' must be a positive number of seconds, not {timeout!r}")
    kconfigs = data.get("kconfigs", [])
    if not isinstance(kconfigs, list) or not all(isinstance(k, str) for k in kconfigs):
        raise _fail(path, "'kconfigs' must be a list of fragment names")
    params, specs = _params(path, data.get("params"))
    try:
        prebuilds = _PREBUILD.search(script.read_text(errors="replace")) is not None
    except OSError as e:
        raise _fail(path, f"cannot read its script {script.name}: {e.strerror}") from e
    return Workload(
        name=path.stem,
        description=str(data.get("description", "")).strip(),
        script=script.resolve(),
        timeout=timeout,
        network=_network(path, data.get("network")),
        kconfigs=tuple(kconfigs),
        params=params,
        last=_flag(path, "last", data.get("last", False)),
        source=path.resolve(),
        cmdline=_cmdline(path, data.get("cmdline")),
        specs=specs,
        prebuild=prebuilds,
    )


def available(guests_dir: Path) -> list[str]:
    return sorted(p.stem for p in guests_dir.glob("*.yaml") if p.name != SETS_FILE)


def sets(guests_dir: Path) -> dict[str, tuple[str, ...]]:
    """guests/sets.yaml: set name -> workload names (every name checked)."""
    path = guests_dir / SETS_FILE
    if not path.is_file():
        return {}
    try:
        data = yamlmap.load(path, path.read_bytes().decode("utf-8", errors="surrogateescape"))
    except OSError as e:
        raise _fail(path, f"cannot read: {e.strerror}") from e
    if not isinstance(data, (dict, type(None))):
        raise _fail(path, "must be a YAML mapping of set name: [workload, ...]")
    known = set(available(guests_dir))
    out: dict[str, tuple[str, ...]] = {}
    for name, members in (data or {}).items():
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise _fail(path, f"set {name!r} must be a list of workload names")
        if name in known:
            raise _fail(path, f"set {name!r} has the name of a workload")
        bad = [m for m in members if m not in known]
        if bad:
            raise _fail(path, f"set {name!r}: no such workload(s) {', '.join(bad)}")
        out[str(name)] = tuple(members)
    return out


def expand(names: list[str], guests_dir: Path) -> list[str]:
    """Set names replaced by their workloads, order kept, duplicates dropped."""
    by_set = sets(guests_dir)
    flat = [m for n in names for m in by_set.get(n, (n,))]
    return list(dict.fromkeys(flat))


def select(names: list[str], guests_dir: Path) -> tuple[Workload, ...]:
    """Workloads (or sets of them) by name, in the order given, `last` ones moved to the end."""
    known = available(guests_dir)
    chosen = []
    for name in expand(names, guests_dir):
        if name not in known:
            with_sets = known + sorted(sets(guests_dir))
            raise UserError(f"{guests_dir / (name + '.yaml')}: no such workload or set (known: {', '.join(with_sets)})")
        chosen.append(load(guests_dir / f"{name}.yaml"))
    return tuple(sorted(chosen, key=lambda w: w.last))


def cmdline(workloads: tuple[Workload, ...]) -> tuple[str, ...]:
    """The kernel command line the selected workloads need, each word once."""
    return tuple(dict.fromkeys(a for w in workloads for a in w.cmdline))


def override(workloads: tuple[Workload, ...], assignments: list[str]) -> tuple[Workload, ...]:
    """Apply `--param workload.NAME=value` overrides."""
    by_name = {w.name: dict(w.params) for w in workloads}
    for item in assignments:
        m = re.fullmatch(r"([\w-]+)\.([A-Z][A-Z0-9_]*)=(.*)", item)  # "=30\n" is not 30
        if not m:
            raise UserError(f"--param {quote(item)}: want WORKLOAD.NAME=value")
        name, key, value = m.groups()
        if name not in by_name:
            raise UserError(f"--param {quote(item)}: workload {name} is not selected")
        w = next(w for w in workloads if w.name == name)
        spec = next((s for s in w.specs if s.name == key), None)
        if spec is None:
            declared = ", ".join(s.name for s in w.specs) or "none"
            raise UserError(f"--param {quote(item)}: {w.source}: {name} has no parameter {key} (declared: {declared})")
        why = spec.check(value)
        if why:
            raise UserError(f"--param {quote(item)}: {w.source}: {why}")
        by_name[name][key] = value
    return tuple(
        Workload(**{**w.__dict__, "params": tuple(by_name[w.name].items())}) for w in workloads
    )


def plan_text(workloads: tuple[Workload, ...]) -> str:
    """The tab-separated plan guests/runner.sh reads: name, timeout, script, params."""
    rows = []
    for w in workloads:
        params = " ".join(f"{k}={v}" for k, v in w.params)
        rows.append(f"{w.name}\t{w.timeout}\t{w.script}\t{params}")
    return "\n".join(rows) + "\n"
