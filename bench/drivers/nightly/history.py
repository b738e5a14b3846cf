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

from pathlib import Path
from typing import Any

from bench.drivers.nightly.night_file import Night, beside

HISTORY_LIMIT = 14  # nights looked back for an entry's baseline
CATEGORIES = ("new", "fixed", "still", "infra", "untested")


def history(nightly_root: Path, before: str, exclude: Path) -> list[Night]:
    """Complete, unsharded nights in nightly_root that started before `before`, newest first."""
    nights = [night for _, night in beside(nightly_root / exclude.name)
              if night.get("complete") and not night.get("shard") and str(night.get("started", "")) < before]
    nights.sort(key=lambda n: (str(n["started"]), str(n.get("name", ""))), reverse=True)
    return nights[:HISTORY_LIMIT]


def _fails(entry: dict[str, Any], status: str = "fail") -> dict[str, str]:
    return {f["key"]: f.get("message", "") for f in entry.get("failing", []) if f["status"] == status}


def _item(entry: dict[str, Any], key: str, message: str) -> dict[str, str]:
    return {"id": entry["id"], "key": key, "message": message, "run_id": entry.get("run_id", "")}


def compare(entries: list[dict[str, Any]], past: list[Night]) -> dict[str, Any]:
    """Classify every failure of this night's entries against their baselines in `past`."""
    out: dict[str, Any] = {c: [] for c in CATEGORIES}
    out["baseline"] = {}
    for entry in entries:
        base_night, base = _baseline(entry["id"], past)
        out["baseline"][entry["id"]] = base_night
        before = _fails(base) if base else {}
        if entry["verdict"] == "error":
            for key, msg in {**_fails(entry, "fail"), **_fails(entry, "error")}.items():
                out["infra"].append(_item(entry, key, msg))
            out["untested"] += [_item(entry, key, msg) for key, msg in before.items()]
            continue
        failing = _fails(entry)
        for key, msg in failing.items():
            out["still" if key in before else "new"].append(_item(entry, key, msg))
        cases: dict[str, str] = entry.get("cases", {})
        booted = cases.get("boot/boot") == "pass"
        for key, msg in before.items():
            if key in failing:
                continue  # "still", above
            decided = cases.get(key) in ("pass", "skip") or (key.startswith("report/") and booted)
            out["fixed" if decided else "untested"].append(_item(entry, key, msg))
    for c in CATEGORIES:
        out[c].sort(key=lambda i: (i["id"], i["key"]))
    return out


def _baseline(entry_id: str, past: list[Night]) -> tuple[str | None, dict[str, Any] | None]:
    for night in past:
        for e in night["entries"]:
            if e["id"] == entry_id and e["verdict"] != "error":
                return str(night.get("name")), e
    return None, None


def exit_code(night: Night) -> int:
    """1 if anything failed that did not fail before; else 2 on infrastructure trouble; else 0.

    New failures win over infrastructure trouble: they are what a maintainer must act on,
    and the report lists the infrastructure trouble either way.
    """
    comparison = night.get("comparison") or {}
    if comparison.get("new"):
        return 1
    trouble = (comparison.get("infra") or night.get("missing") or not night.get("complete")
               or any(e["verdict"] == "error" for e in night["entries"]))
    return 2 if trouble else 0


def _known(night: Night) -> dict[str, tuple[bool, dict[str, Any]]] | None:
    """Per known-issue id in a night: (matched anything, the entry as recorded), for the ids
    that applied (active) to some entry; None if the night recorded no known issues at all."""
    entries = night.get("entries", [])
    if not any("known_issues" in e for e in entries):
        return None
    out: dict[str, tuple[bool, dict[str, Any]]] = {}
    for e in entries:
        for k in e.get("known_issues", []):
            if k.get("state") != "active":
                continue
            matched = bool(k.get("matched")) or out.get(k["id"], (False, k))[0]
            out[k["id"]] = (matched, k)
    return out


def stale_known(night: Night, past: list[Night], nights: int) -> list[dict[str, Any]]:
    """Known issues that applied in each of the last `nights` nights (this one included) and
    matched nothing in any of them: candidates for removal from known-issues.yaml."""
    seen = [_known(n) for n in [night, *past][:nights]]
    if len(seen) < nights or any(s is None for s in seen):
        return []  # not enough recorded history to say
    first = seen[0] or {}
    stale = []
    for ident, (_, record) in sorted(first.items()):
        if all(ident in s and not s[ident][0] for s in seen if s is not None):
            stale.append({"id": ident, "where": record.get("where", ""), "reason": record.get("reason", ""),
                          "link": record.get("link", ""), "nights": nights})
    return stale
