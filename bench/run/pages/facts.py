"""What a results folder holds, read back for the pages: summary.json, reports.json, the
stage timeline, pin counters per workload, the .config's hash and compiler, the files.

Readers only; a file that is missing or unreadable gives an empty answer, since a run that
stopped early (or an older pinbench) leaves less behind.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.base import formats, rundir
from bench.run import pins as pin_counters
from bench.run.pages.svg import Bar
from bench.run.runfacts import RunFacts
from bench.run.slot import sha256_of

STAGES = ("apply", "config", "build", "prebuild", "boot", "baseline", "scan")  # in run order
# The case groups whose status colours a stage's bar.
STAGE_GROUPS = {"apply": ("apply",), "config": ("config",), "build": ("build",),
                "boot": ("boot", "workload"), "baseline": ("baseline",),
                "scan": ("report", "taint", "expect")}
_CC = re.compile(r'^CONFIG_CC_VERSION_TEXT="(.*)"$', re.MULTILINE)
HIDDEN = re.compile(r"(^|/)\.[^/]*\.tmp$|(^|/)\.writable$")


def read_json(path: Path) -> Any:
    """A JSON file of a run folder, read strictly (formats.load_json); None when it is missing,
    or broken (named on one line: a shard's run folder may hold anything)."""
    if not path.exists():
        return None
    try:
        return formats.load_json(path)
    except formats.FormatProblem as e:
        formats.warn(f"{e}; left out")
        return None


def summary(run_dir: Path) -> dict[str, Any]:
    """summary.json, or {} when it is missing, broken or of another format, or its info does not
    read as RunFacts (named on one line): run_facts() of what it gives cannot fail."""
    path = run_dir / rundir.SUMMARY
    data = read_json(path)
    if data is None:
        return {}
    try:
        checked = formats.check(path, data, formats.SUMMARY)
        RunFacts.from_json(checked.get("info") or {})
        return checked
    except ValueError as e:  # a formats.FormatProblem too
        formats.warn(f"{e if isinstance(e, formats.FormatProblem) else f'{path}: {e}'}; left out")
        return {}


def run_facts(data: Mapping[str, Any]) -> RunFacts:
    """The facts of summary.json's data (from summary() or RunResult.to_json())."""
    return RunFacts.from_json(data.get("info") or {})


def reports(run_dir: Path) -> list[dict[str, Any]]:
    data = read_json(run_dir / rundir.REPORTS)
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


def worst(statuses: list[str]) -> str:
    for status in ("fail", "error", "pass", "skip"):
        if status in statuses:
            return status
    return ""


def bars(data: dict[str, Any]) -> list[Bar]:
    """summary.json's timeline as bars in start order, each stage coloured by its cases."""
    cases = data.get("cases") or []
    out = []
    for row in sorted(run_facts(data).timeline or (), key=lambda r: r.start):
        name = row.stage
        group, _, workload = name.partition("/")
        if workload:
            status = worst([c["status"] for c in cases if c["group"] == group and c["name"] == workload])
        else:
            status = worst([c["status"] for c in cases if c["group"] in STAGE_GROUPS.get(name, (name,))])
        out.append(Bar(workload or name, row.start, row.secs, status, indent=bool(workload)))
    return out


def stage_secs(data: dict[str, Any]) -> dict[str, float]:
    """Seconds per stage (workloads left out: they are part of the boot)."""
    out: dict[str, float] = {}
    for row in run_facts(data).timeline or ():
        if "/" not in row.stage:
            out[row.stage] = out.get(row.stage, 0.0) + row.secs
    return out


@dataclass(frozen=True)
class Pins:
    workload: str  # or "all workloads" when the guest kept only whole-run counters
    acquired: int  # nr_foll_pin_acquired grew by this during the workload
    released: int

    @property
    def held(self) -> int:
        return self.acquired - self.released


def pins(guest: Path, workloads: list[str]) -> list[Pins]:
    """FOLL_PIN counters per workload from <name>.vmstat.start/.end (written by the guest runner),
    else for the whole run from vmstat.start/.end; [] when the kernel has no such counters."""
    spans = pin_counters.of_run(guest, workloads)
    found = [Pins(w, spans[w].acquired, spans[w].released) for w in workloads if w in spans]
    if not found and (run := spans.get(pin_counters.RUN)):
        found = [Pins("all workloads", run.acquired, run.released)]
    return found


def workload_names(data: dict[str, Any]) -> list[str]:
    return [c["name"] for c in data.get("cases") or [] if c.get("group") == "workload"]


@dataclass(frozen=True)
class Config:
    sha256: str  # "" when the run has no .config
    compiler: str  # CONFIG_CC_VERSION_TEXT


def config(run_dir: Path) -> Config:
    path = run_dir / rundir.KCONFIG
    try:
        m = _CC.search(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return Config("", "")
    return Config(sha256_of(path), m.group(1) if m else "")


def files(run_dir: Path) -> list[str]:
    """Every file of the folder, relative, sorted; temporaries and the copied guests/ left out."""
    out = []
    for path in sorted(run_dir.rglob("*")):
        rel = path.relative_to(run_dir).as_posix()
        if path.is_file() and not HIDDEN.search(rel) and not rel.startswith(("guests/", "baseline/")):
            out.append(rel)
    return out


CASE_KEYS = {"group", "name", "status", "secs", "message", "output", "reports", "reused"}


def case_extras(case: dict[str, Any]) -> str:
    """What a case carries beyond the usual fields (a newer pinbench's fail:runs, ...), short."""
    extra = {k: v for k, v in case.items() if k not in CASE_KEYS and v not in (None, "", [], {})}
    out = []
    if "fails" in extra and "runs" in extra:  # LKP's fail:runs
        out.append(f"fail:runs {extra.pop('fails')}:{extra.pop('runs')}")
    out += [f"{k}: {v if isinstance(v, (str, int, float)) else json.dumps(v)}" for k, v in sorted(extra.items())]
    return "; ".join(out)[:300]


@dataclass(frozen=True)
class Context:
    """What a run's pages say about its inputs (from its Plan)."""

    series: str
    patches: tuple[tuple[str, str], ...]  # (file under patches/, subject)
    fragments: tuple[str, ...]
    workloads: tuple[str, ...]
    tree: str
    memory: str
    cpus: int
