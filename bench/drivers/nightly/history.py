"""Night-to-night comparison: which failures are new, fixed, still there, or infrastructure.

A failure is keyed by (entry id, case key), the case key being "<group>/<name>" of the
run's Case: "workload/pin-balance", "report/WARNING in folio_mkclean", "build/kernel"...

Rules (the exit code follows from them, see exit_code):
- an entry whose run was an infrastructure ERROR proves nothing: its failing cases are
  "infra", and the previous failures of that entry are neither fixed nor still failing;
- a FAIL case is "still" failing if it failed in the entry's baseline, else "new";
- a baseline FAIL that is gone is "fixed" only if this night decided that case again (the
  case passed or was skipped; for a kernel report: the kernel booted to user space),
  otherwise it is "untested" (the run stopped earlier, the workload left the matrix...);
- an ERROR case inside a FAIL run is a consequence of that failure (a workload that never
  ran because the kernel died), not a finding of its own.
The baseline of an entry is its newest earlier night whose run was decided (not ERROR), so
one night of machine trouble does not turn every old failure into a new one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.drivers.nightly.night_data import Comparison, Item, Night, NightEntry, StaleKnown
from bench.drivers.nightly.night_file import beside

HISTORY_LIMIT = 14  # nights looked back for an entry's baseline
CATEGORIES = ("new", "fixed", "still", "infra", "untested")


def history(nightly_root: Path, before: str, exclude: Path) -> list[Night]:
    """Complete, unsharded nights in nightly_root that started before `before`, newest first."""
    nights = [night for _, night in beside(nightly_root / exclude.name)
              if night.complete and not night.shard and night.started < before]
    nights.sort(key=lambda n: (n.started, n.name), reverse=True)
    return nights[:HISTORY_LIMIT]


def _fails(entry: NightEntry, status: str = "fail") -> dict[str, str]:
    return {f.key: f.message for f in entry.failing if f.status == status}


def _item(entry: NightEntry, key: str, message: str) -> Item:
    return Item(id=entry.id, key=key, message=message, run_id=entry.run_id)


def compare(entries: Sequence[NightEntry], past: Sequence[Night]) -> Comparison:
    """Classify every failure of this night's entries against their baselines in `past`."""
    out: dict[str, list[Item]] = {c: [] for c in CATEGORIES}
    baseline: dict[str, str | None] = {}
    for entry in entries:
        base_night, base = _baseline(entry.id, past)
        baseline[entry.id] = base_night
        before = _fails(base) if base else {}
        if entry.verdict == "error":
            for key, msg in {**_fails(entry, "fail"), **_fails(entry, "error")}.items():
                out["infra"].append(_item(entry, key, msg))
            out["untested"] += [_item(entry, key, msg) for key, msg in before.items()]
            continue
        failing = _fails(entry)
        for key, msg in failing.items():
            out["still" if key in before else "new"].append(_item(entry, key, msg))
        cases = entry.cases
        booted = cases.get("boot/boot") == "pass"
        for key, msg in before.items():
            if key in failing:
                continue  # "still", above
            decided = cases.get(key) in ("pass", "skip") or (key.startswith("report/") and booted)
            out["fixed" if decided else "untested"].append(_item(entry, key, msg))
    new, fixed, still, infra, untested = (tuple(sorted(out[c], key=lambda i: (i.id, i.key))) for c in CATEGORIES)
    return Comparison(new=new, fixed=fixed, still=still, infra=infra, untested=untested, baseline=baseline)


def _baseline(entry_id: str, past: Sequence[Night]) -> tuple[str | None, NightEntry | None]:
    for night in past:
        for e in night.entries:
            if e.id == entry_id and e.verdict != "error":
                return night.name, e
    return None, None


def exit_code(night: Night) -> int:
    """1 if anything failed that did not fail before; else 2 on infrastructure trouble; else 0.

    New failures win over infrastructure trouble: they are what a maintainer must act on,
    and the report lists the infrastructure trouble either way.
    """
    comparison = night.comparison or Comparison()
    if comparison.new:
        return 1
    trouble = (comparison.infra or night.missing or not night.complete
               or any(e.verdict == "error" for e in night.entries))
    return 2 if trouble else 0


def _known(night: Night) -> dict[str, tuple[bool, Mapping[str, Any]]] | None:
    """Per known-issue id in a night: (matched anything, the entry as recorded), for the ids
    that applied (active) to some entry; None if the night recorded no known issues at all."""
    if not any(e.known_issues is not None for e in night.entries):
        return None
    out: dict[str, tuple[bool, Mapping[str, Any]]] = {}
    for e in night.entries:
        for k in e.known_issues or ():
            if k.get("state") != "active":
                continue
            matched = bool(k.get("matched")) or out.get(k["id"], (False, k))[0]
            out[k["id"]] = (matched, k)
    return out


def stale_known(night: Night, past: Sequence[Night], nights: int) -> tuple[StaleKnown, ...]:
    """Known issues that applied in each of the last `nights` nights (this one included) and
    matched nothing in any of them: candidates for removal from known-issues.yaml."""
    seen = [_known(n) for n in [night, *past][:nights]]
    if len(seen) < nights or any(s is None for s in seen):
        return ()  # not enough recorded history to say
    first = seen[0] or {}
    stale = []
    for ident, (_, record) in sorted(first.items()):
        if all(ident in s and not s[ident][0] for s in seen if s is not None):
            stale.append(StaleKnown(id=ident, where=str(record.get("where", "")), reason=str(record.get("reason", "")),
                                    link=str(record.get("link", "")), nights=nights))
    return tuple(stale)
