"""Guest workloads: a registry loaded from guests/<name>.yaml.

A workload is data, not a class: a script (run by guests/runner.sh inside the
VM from the host root that virtme-ng shares), a timeout, the kconfig fragments
it needs, whether it needs a guest NIC, and parameters with defaults that the
CLI may override (`--param rxe.SIZE_MB=64`). Scripts exit 0 pass, 4 skip
(kselftest's code), anything else fail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench.errors import UserError

SKIP_RC = 4
NETWORKS = ("loop", "user")
_KEYS = {"description", "script", "timeout", "network", "kconfigs", "params", "last"}
_PARAM = re.compile(r"^[A-Z][A-Z0-9_]*$")
_VALUE = re.compile(r"^[^\s'\"\\$`]*$")  # passed through a tab-separated plan: no quoting games


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


def _fail(path: Path, what: str) -> UserError:
    return UserError(f"{path}: {what}")


def _params(path: Path, raw: Any) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        raise _fail(path, "'params' must be a mapping of NAME: value")
    out = []
    for key, value in raw.items():
        value = str(value)
        if not isinstance(key, str) or not _PARAM.match(key):
            raise _fail(path, f"param name {key!r} must be UPPER_CASE")
        if not _VALUE.match(value):
            raise _fail(path, f"param {key} value {value!r} has spaces, quotes or $")
        out.append((key, value))
    return tuple(out)


def _network(path: Path, raw: Any) -> str | None:
    if raw in (None, False):
        return None
    if raw not in NETWORKS:
        raise _fail(path, f"'network' must be one of {', '.join(NETWORKS)}, not {raw!r}")
    return str(raw)


def load(path: Path) -> Workload:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise _fail(path, f"cannot read: {e.strerror}") from e
    except yaml.YAMLError as e:
        raise _fail(path, f"invalid YAML: {str(e).splitlines()[0]}") from e
    if not isinstance(data, dict):
        raise _fail(path, "must be a YAML mapping")
    unknown = set(data) - _KEYS
    if unknown:
        raise _fail(path, f"unknown key(s): {', '.join(sorted(unknown))} (known: {', '.join(sorted(_KEYS))})")
    script = path.parent / str(data.get("script", f"{path.stem}.sh"))
    if not script.is_file():
        raise _fail(path, f"script {script.name} not found next to it")
    timeout = data.get("timeout", 120)
    if not isinstance(timeout, int) or timeout <= 0:
        raise _fail(path, f"'timeout' must be a positive number of seconds, not {timeout!r}")
    kconfigs = data.get("kconfigs", [])
    if not isinstance(kconfigs, list) or not all(isinstance(k, str) for k in kconfigs):
        raise _fail(path, "'kconfigs' must be a list of fragment names")
    return Workload(
        name=path.stem,
        description=str(data.get("description", "")).strip(),
        script=script.resolve(),
        timeout=timeout,
        network=_network(path, data.get("network")),
        kconfigs=tuple(kconfigs),
        params=_params(path, data.get("params")),
        last=bool(data.get("last", False)),
        source=path.resolve(),
    )


def available(guests_dir: Path) -> list[str]:
    return sorted(p.stem for p in guests_dir.glob("*.yaml"))


def select(names: list[str], guests_dir: Path) -> tuple[Workload, ...]:
    """Workloads by name, in the order given, `last` ones moved to the end."""
    known = available(guests_dir)
    chosen = []
    for name in dict.fromkeys(names):  # de-duplicate, keep order
        if name not in known:
            raise UserError(f"{guests_dir / (name + '.yaml')}: no such workload (known: {', '.join(known)})")
        chosen.append(load(guests_dir / f"{name}.yaml"))
    return tuple(sorted(chosen, key=lambda w: w.last))


def override(workloads: tuple[Workload, ...], assignments: list[str]) -> tuple[Workload, ...]:
    """Apply `--param workload.NAME=value` overrides."""
    by_name = {w.name: dict(w.params) for w in workloads}
    for item in assignments:
        m = re.match(r"^([\w-]+)\.([A-Z][A-Z0-9_]*)=(.*)$", item)
        if not m:
            raise UserError(f"--param {item!r}: want WORKLOAD.NAME=value")
        name, key, value = m.groups()
        if name not in by_name:
            raise UserError(f"--param {item!r}: workload {name} is not selected")
        if not _VALUE.match(value):
            raise UserError(f"--param {item!r}: value has spaces, quotes or $")
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
