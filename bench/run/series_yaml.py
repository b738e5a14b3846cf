"""series.yaml: what a series says about itself besides its patches (every key optional).

    description: text
    base: v6.12                   # commit to apply on
    kconfigs: [rdma, debug-vm]    # fragments in kconfigs/ (or paths)
    workloads: [default]          # workloads or workload sets; absent: the default set
    suppress: ['^WARNING in x']   # title regexes of known, intended kernel reports
    mbox: v2.mbox                 # the patches are in this mbox of the folder
    cmdline: [movablecore=25%]    # extra kernel command line
    expect:                       # what must happen, or the series fails:
      - report: 'WARNING in folio_mkclean'       # a report whose title matches (then not a failure)
      - vmstat: pinned_folio_mkclean             # a /proc/vmstat counter that grows over the run
        min: 1                                   # ... by at least this much (default 1)
    fixes: 'abc123def456 ("mm/gup: ...")'        # bug catalogue: the upstream fix this undoes
    catch: [workload/cow, report/^BUG: Bad page]  # bug catalogue: cases that must all fail (bench/run/catch.py)
                                                 # (workload/NAME, report, report/TITLE-REGEX)
    control: true                 # bug catalogue: a harmless refactor, not a bug: its run must PASS
                                  # (no fixes:, no catch:; `bench prove` calls a failure a false alarm)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.base import yamlmap
from bench.base.errors import UserError
from bench.report.issues import too_broad
from bench.run import kcmdline
from bench.run.catch import Catch, parse as parse_catch

KEYS = ("description", "base", "kconfigs", "workloads", "suppress", "mbox", "cmdline", "expect",
        "fixes", "catch", "control")
_COUNTER = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Expect:
    """Something the series must make happen (checked after the boot)."""

    kind: str  # report | vmstat
    what: str  # a title regex, or a /proc/vmstat counter name
    min: int = 1  # vmstat: the least growth over the run

    def __str__(self) -> str:
        return f"report matching {self.what!r}" if self.kind == "report" else f"vmstat {self.what} +{self.min}"


@dataclass(frozen=True)
class Meta:
    description: str = ""
    base: str | None = None
    kconfigs: tuple[str, ...] = ()
    workloads: tuple[str, ...] = ()
    suppress: tuple[str, ...] = ()
    mbox: str | None = None
    cmdline: tuple[str, ...] = ()
    expect: tuple[Expect, ...] = ()
    fixes: str = ""
    catch: tuple[Catch, ...] = ()
    control: bool = False  # a catalogue control: a behaviour-preserving patch the bench must pass


def _regex(where: str, what: str, rx: str) -> str:
    try:
        re.compile(rx)
    except re.error as e:
        raise UserError(f"{where}: bad {what} regex {rx!r}: {e}") from e
    too_broad(f"{where}: {what}", rx, "")  # would mark every report as known or intended
    return rx


def _expects(where: str, raw: Any) -> tuple[Expect, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise UserError(f"{where}: expect must be a list of {{report: REGEX}} or {{vmstat: NAME, min: N}}")
    out = []
    for item in raw:
        if isinstance(item, dict) and set(item) == {"report"} and isinstance(item["report"], str):
            out.append(Expect("report", _regex(where, "expect report", item["report"])))
        elif (isinstance(item, dict) and "vmstat" in item and set(item) <= {"vmstat", "min"}
              and isinstance(item["vmstat"], str) and _COUNTER.fullmatch(item["vmstat"])
              and isinstance(item.get("min", 1), int) and item.get("min", 1) >= 1):
            out.append(Expect("vmstat", item["vmstat"], item.get("min", 1)))
        else:
            raise UserError(f"{where}: bad expect item {item!r}: want {{report: REGEX}} or"
                            " {vmstat: counter_name, min: N >= 1}")
    return tuple(out)


def _base(y: yamlmap.YamlMap) -> str | None:
    """base: a commit, never blank (`base: ''` silently meant HEAD) nor an option ('-x')."""
    base = y.string("base")
    if base is not None and (not base.strip() or base.startswith("-")):
        raise UserError(f"{y.where('base')}: base {base!r} is not a commit (leave it out for HEAD)")
    return base


def read(path: Path, text: str) -> Meta:
    y = yamlmap.read(path, text, KEYS)
    suppress = tuple(_regex(y.where("suppress"), "suppress", rx) for rx in y.strings("suppress"))
    mbox = y.string("mbox")
    if mbox is not None and (not mbox or "/" in mbox):
        raise UserError(f"{y.where('mbox')}: mbox must be a file name in {path.parent}")
    cmdline = kcmdline.check(y.strings("cmdline"), y.where("cmdline"))
    control = y.data.get("control", False)
    if not isinstance(control, bool):
        raise UserError(f"{y.where('control')}: control must be true or false, not {control!r}"[:300])
    return Meta(description=(y.string("description") or "").strip(), base=_base(y),
                kconfigs=y.strings("kconfigs"), workloads=y.strings("workloads"), suppress=suppress,
                mbox=mbox, cmdline=cmdline, expect=_expects(y.where("expect"), y.data.get("expect")),
                fixes=(y.string("fixes") or "").strip(), catch=parse_catch(y.where("catch"), y.data.get("catch")), control=control)
