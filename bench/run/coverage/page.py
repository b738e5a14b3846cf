"""The run page's coverage section: the totals, per file, and every hunk of the series with its
changed lines (as built) marked executed, partly, never ran, not code or not measured, from
coverage.json. Uses the page's own classes (pass, fail, skip, error)."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.base import rundir

MARK = {"executed": ("pass", "ran"), "partial": ("skip", "partly"), "missed": ("fail", "NEVER"),
        "not code": ("", "-"), "not measured": ("error", "n/m")}


def section(run_dir: Path, cov: Mapping[str, Any] | None) -> list[str]:
    if not cov:
        return []
    if cov.get("error"):
        return ["<h2>Coverage of the changed lines</h2>", f"<p>not measured: {html.escape(str(cov['error']))}</p>"]
    out = ["<h2>Coverage of the changed lines</h2>", f"<p>{html.escape(str(cov['text']))} (workloads only:"
           " the counters were reset when they started; <a href=\"coverage.json\">coverage.json</a>)</p>",
           "<table><tr><th>file</th><th>%</th><th>never ran</th><th>partly</th><th>not measured</th></tr>"]
    for f in cov.get("files", []):
        nm = "; ".join(f"{w}: {why}" for why, w in f["not_measured"].items())
        pct = "" if f["percent"] is None else f"{f['percent']}%"
        out.append(_row(f["path"], pct, f["never_ran"], f["partly"], nm))
    out.append("</table>")
    out += _around(cov)
    try:
        lines = json.loads((run_dir / rundir.COVERAGE).read_text())
    except (OSError, ValueError):
        return out
    by = {(ln["path"], ln["line"]): ln for ln in lines}
    for p in cov.get("patches", []):
        for h in p["hunks"]:
            out.append(f"<h3>[{p['index']}] {html.escape(h['path'])}:{h['start']}-{h['end']}</h3><pre>")
            for n in range(h["start"], h["end"] + 1):
                ln = by.get((h["path"], n))
                if ln is None or ln["patch"] != p["index"]:
                    continue
                cls, word = MARK.get(ln["status"], ("", "?"))
                who = f" [{', '.join(ln['workloads'])}]" if ln["workloads"] else (" [boot]" if ln["boot"] else "")
                tip = html.escape(ln["why"], quote=True)
                out.append(f"<span class=\"{cls}\" title=\"{tip}\">{n:>6} {word:<6} "
                           f"{html.escape(ln['text'])}{html.escape(who)}</span>")
            out.append("</pre>")
    return out


def _around(cov: Mapping[str, Any]) -> list[str]:
    """The removals (told by the lines around them) and the touched functions' unrun lines."""
    out: list[str] = []
    if rs := cov.get("removals"):
        out += ["<h3>Removed lines (told by the lines of their function around the gap)</h3>",
                "<table><tr><th>file</th><th>after line</th><th>lines</th><th>function</th><th>status</th>"
                "<th>workloads / why</th></tr>"]
        out += [_row(r["path"], r["after"], r["count"], r["function"], r["status"],
                      ", ".join(r["workloads"]) or r["why"]) for r in rs]
        out.append("</table>")
    if fs := cov.get("functions"):
        out += ["<h3>Functions the series touches</h3>",
                "<table><tr><th>file</th><th>function</th><th>lines ran</th><th>never ran</th></tr>"]
        out += [_row(f["path"], f["function"], f"{f['ran']} of {f['lines']}", f["never_ran"]) for f in fs]
        out.append("</table>")
    return out


def _row(*vals: object) -> str:
    return "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in vals) + "</tr>"
