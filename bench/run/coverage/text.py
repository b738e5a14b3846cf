"""What people read: the summary (summary.json info["coverage"]), the report.txt section and the
JUnit properties, in the conventions of Codecov's patch coverage and diff-cover: "41 of 57
changed coverable lines executed (72%)", then per file `path (xx%): never ran 1234-1250, 1302`;
lines that are not code stay out of the ratio, files that could not be measured are named."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bench.run.coverage.changed import Hunk
from bench.run.coverage.mapping import COVERABLE, Status

SHOWN_FUNCTIONS = 20  # touched functions with unrun lines listed in report.txt; summary.json has all


def ranges(numbers: Iterable[int]) -> str:
    """1,2,3,7 -> "1-3, 7"."""
    out: list[str] = []
    nums = sorted(set(numbers))
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else f"{nums[i]}-{nums[j]}")
        i = j + 1
    return ", ".join(out)


def percent(done: int, total: int) -> int | None:
    return round(100 * done / total) if total else None


def _counts(statuses: Sequence[Status]) -> dict[str, Any]:
    ran = [s for s in statuses if s.status in ("executed", "partial")]
    coverable = [s for s in statuses if s.status in COVERABLE]
    return {"executed": len(ran), "partial": sum(s.status == "partial" for s in statuses),
            "coverable": len(coverable), "percent": percent(len(ran), len(coverable)),
            "not_code": sum(s.status == "not code" for s in statuses),
            "not_measured": sum(s.status == "not measured" for s in statuses),
            "boot_only": sum(s.status == "missed" and s.boot for s in statuses)}


def headline(c: Mapping[str, Any], removals: Sequence[Mapping[str, Any]] = ()) -> str:
    told = [r for r in removals if r["status"] != "not measured"]
    gone = (f"{sum(r['status'] == 'ran' for r in told)} of {len(told)} removals where the workloads ran"
            if told else f"{len(removals)} removals, none measurable" if removals else "")
    if not c["coverable"] and not c["not_code"] and not c["not_measured"]:
        return (f"no added or changed line; {gone}" if removals
                else "no changed line to map (profiled for --coverage-object only)")
    if not c["coverable"]:
        return "no changed line could be measured as code" + (f"; {gone}" if gone else "")
    part = f", {c['partial']} of them partly" if c["partial"] else ""
    lines = f"{c['executed']} of {c['coverable']} changed coverable lines executed ({c['percent']}%){part}"
    return f"{lines}; {gone}" if gone else lines


def _file(path: str, mine: Sequence[Status]) -> dict[str, Any]:
    c = _counts(mine)
    out: dict[str, Any] = {"path": path, **c,
                           "never_ran": ranges(s.line.number for s in mine if s.status == "missed"),
                           "partly": ranges(s.line.number for s in mine if s.status == "partial"),
                           "boot_only": ranges(s.line.number for s in mine if s.status == "missed" and s.boot)}
    whys: dict[str, list[int]] = {}
    for s in mine:
        if s.status == "not measured":
            whys.setdefault(s.why, []).append(s.line.number)
    out["not_measured"] = {why: ranges(n) for why, n in whys.items()}
    return out


def summary(statuses: Sequence[Status], hunks: Sequence[Hunk], subjects: Sequence[str],
            objects: Sequence[Mapping[str, str]], windows: Sequence[str],
            removals: Sequence[Mapping[str, Any]] = (), functions: Sequence[Mapping[str, Any]] = ()
            ) -> dict[str, Any]:
    """info["coverage"]: totals, per file, per patch and per hunk (the lines in coverage.json),
    the removals and the functions touched (around.py's records)."""
    by_line = {(s.line.path, s.line.number): s for s in statuses}
    files = sorted({s.line.path for s in statuses})
    patches = []
    for k, subject in enumerate(subjects, 1):
        mine = [s for s in statuses if s.line.patch == k]
        hs = []
        for h in (h for h in hunks if h.patch == k):
            hst = [by_line[(h.path, ln.number)] for ln in h.lines]
            hs.append({"path": h.path, "start": h.start, "end": h.end, "first": h.lines[0].text.strip()[:120],
                       **_counts(hst), "never_ran": ranges(s.line.number for s in hst if s.status == "missed"),
                       "workloads": sorted({w for s in hst for w in s.workloads})})
        patches.append({"index": k, "subject": subject, **_counts(mine), "hunks": hs})
    c = _counts(statuses)
    return {"text": headline(c, removals), **c, "windows": list(windows), "objects": [dict(o) for o in objects],
            "files": [_file(p, [s for s in statuses if s.line.path == p]) for p in files], "patches": patches,
            "removals": [dict(r) for r in removals], "functions": [dict(f) for f in functions]}


def line_records(statuses: Sequence[Status]) -> list[dict[str, Any]]:
    """coverage.json: every changed line and what became of it."""
    return [{"path": s.line.path, "line": s.line.number, "patch": s.line.patch, "status": s.status,
             "why": s.why, "workloads": list(s.workloads), "boot": s.boot, "count": s.count,
             "text": s.line.text} for s in statuses]


def report_lines(cov: Mapping[str, Any] | None) -> list[str]:
    """The report.txt section ([] when the run measured nothing)."""
    if not cov:
        return []
    if cov.get("error"):
        return ["", f"Coverage: not measured: {cov['error']}"]
    out = ["", "Coverage of the changed lines (workloads only; the counters were reset when they started):",
           f"  {cov['text']}"]
    for f in cov.get("files", []):
        bits = []
        if f["never_ran"]:
            bits.append(f"never ran {f['never_ran']}")
        if f["partly"]:
            bits.append(f"partly {f['partly']}")
        if f["boot_only"]:
            bits.append(f"only while booting {f['boot_only']}")
        pct = f" ({f['percent']}%)" if f["percent"] is not None else ""
        if f["coverable"]:
            out.append(f"  {f['path']}{pct}: " + ("; ".join(bits) or "all ran"))
        for why, where in f["not_measured"].items():
            out.append(f"  {f['path']}: not measured ({why}): {where}")
    missed = [(p, h) for p in cov.get("patches", []) for h in p["hunks"] if h["never_ran"]]
    if missed:
        out.append("  Hunks that never ran:")
        out += [f"    [{p['index']}] {h['path']}:{h['never_ran']} {h['first']!r}" for p, h in missed]
    out += _removal_lines(cov.get("removals", []))
    out += _function_lines(cov.get("functions", []))
    for o in cov.get("objects", []):
        if o["status"] != "profiled":
            out.append(f"  {o['object']}: not profiled: {o['why']}")
    return out


def _removal_lines(removals: Sequence[Mapping[str, Any]]) -> list[str]:
    if not removals:
        return []
    out = ["  Removed lines (no line stands for them: told by the lines of their function around the gap):"]
    for r in removals:
        where = f"{r['path']}: {r['count']} line{'s' if r['count'] != 1 else ''} after line {r['after']}"
        func = f" in {r['function']}()" if r["function"] else ""
        said = {"ran": f"ran ({', '.join(r['workloads'])})", "not measured": f"not measured ({r['why']})"}
        told = f" [lines {ranges(r['told_by'])}]" if r["told_by"] else ""
        out.append(f"    {where}{func}: {said.get(r['status'], r['status'])}{told}")
    return out


def _function_lines(functions: Sequence[Mapping[str, Any]]) -> list[str]:
    """The touched functions with lines no workload ran; the rest in one count."""
    blind = [f for f in functions if f["never_ran"]]
    if not functions:
        return []
    out = [f"  Functions the series touches: {len(functions) - len(blind)} of {len(functions)} ran every line"
           + (", lines no workload ran in the others:" if blind else "")]
    for f in blind[:SHOWN_FUNCTIONS]:
        boot = f" (while booting only: {f['boot_only']})" if f["boot_only"] else ""
        out.append(f"    {f['path']} {f['function']}(): {f['ran']} of {f['lines']} lines ran; "
                   f"never ran {f['never_ran']}{boot}")
    if len(blind) > SHOWN_FUNCTIONS:
        out.append(f"    and {len(blind) - SHOWN_FUNCTIONS} more (summary.json info.coverage.functions)")
    return out


def junit_properties(cov: Mapping[str, Any]) -> dict[str, str]:
    if cov.get("error"):
        return {"coverage": f"not measured: {cov['error']}"}
    return {"coverage": str(cov["text"]), "coverage.executed": str(cov["executed"]),
            "coverage.coverable": str(cov["coverable"]), "coverage.percent": str(cov["percent"])}
