"""Pictures for a night's index.html, made from the night folders next to it: a history grid
(entries x the last nights, each cell coloured by the run's verdict and linked to that run's
page) and trends per entry (time per stage, FOLL_PIN pins per workload) as inline SVG.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bench.base import rundir
from bench.drivers.nightly.night_data import Night, NightEntry
from bench.drivers.nightly.night_file import beside
from bench.run.pages import facts, svg
from bench.run.pages.html import esc

GRID_NIGHTS = 14
LETTER = {"pass": "P", "fail": "F", "error": "E", "missing": "?"}


def recent(night_dir: Path, night: Night, limit: int = GRID_NIGHTS) -> list[tuple[Path, Night]]:
    """This night and the unsharded nights beside it that started before it, oldest first."""
    found = [(night_dir, night)]
    for folder, other in beside(night_dir):
        if not other.shard and other.started < night.started:
            found.append((folder, other))
    found.sort(key=lambda n: (n[1].started, n[0].name))
    return found[-limit:]


def _href(night_dir: Path, folder: Path, run_id: str | None) -> str:
    """The run's page (or what it has) in that night's folder, else the night's own page."""
    prefix = "" if folder == night_dir else f"../{folder.name}/"
    for name in (rundir.INDEX, rundir.SUMMARY, rundir.CONSOLE) if run_id else ():
        if (folder / str(run_id) / name).is_file():
            return f"{prefix}{run_id}/{name}"
    page = (folder / rundir.INDEX).is_file() or folder == night_dir  # this night's is being written
    return f"{prefix}{rundir.INDEX}" if page else f"{prefix}{rundir.NIGHT}"


def _heading(name: str) -> str:
    """A night's column heading: MM-DD and HH:MM of a stamped name, else the name."""
    if re.match(r"^\d{8}-\d{6}", name):
        return f"{name[4:6]}-{name[6:8]}<br>{name[9:11]}:{name[11:13]}"
    return esc(name[:10])


def _cell(night_dir: Path, folder: Path, n: Night, entry_id: str) -> str:
    e = next((e for e in n.entries if e.id == entry_id), None)
    if e is None:
        if entry_id not in n.missing:
            return "<td></td>"  # not in that night's matrix
        verdict, href, tip = "missing", _href(night_dir, folder, None), "no results"
    else:
        verdict, href = e.verdict, _href(night_dir, folder, e.run_id)
        tip = "; ".join(f"{f.key}: {f.message}" for f in e.failing)[:400] or "nothing failed"
    new = {i.key for i in (n.comparison.new if n.comparison else ()) if i.id == entry_id}
    letter = "N" if new else LETTER.get(verdict, "?")
    title = f"{n.name}: {entry_id}: {verdict.upper()}" + (f", {len(new)} new" if new else "") + f" - {tip}"
    return (f'<td class="cell bg-{esc(verdict)}"><a href="{esc(href)}" title="{esc(title)}">'
            f"{letter}</a></td>")


def grid(night_dir: Path, nights: list[tuple[Path, Night]]) -> list[str]:
    ids = sorted({e.id for _, n in nights for e in n.entries} | set(nights[-1][1].missing))
    if not ids:
        return []
    head = "".join(f'<th title="{esc(n.name)}">{_heading(n.name)}</th>' for _, n in nights)
    out = [f"<h2>History (last {len(nights)} night{'s' if len(nights) > 1 else ''})</h2>",
           ("<p>P pass, F fail, N fail with a new failure, E infrastructure trouble, ? no results;"
            " each cell links to that night's run.</p>"),
           f"<table><tr><th>entry</th>{head}</tr>"]
    for entry_id in ids:
        cells = "".join(_cell(night_dir, folder, n, entry_id) for folder, n in nights)
        out.append(f"<tr><td><code>{esc(entry_id)}</code></td>{cells}</tr>")
    return out + ["</table>"]


def _run(folder: Path, n: Night, entry_id: str) -> tuple[NightEntry, dict[str, Any]] | None:
    """The entry in that night and its run's summary.json."""
    e = next((e for e in n.entries if e.id == entry_id), None)
    return (e, facts.summary(folder / e.run_id)) if e else None


def _stage_plot(nights: list[tuple[Path, Night]], entry_id: str) -> str:
    columns: list[tuple[str, dict[str, float]]] = []
    for folder, n in nights:
        got = _run(folder, n, entry_id)
        if got:
            secs = facts.stage_secs(got[1]) or {"total": float(got[0].secs or 0)}
            columns.append((n.name, secs))
    used = {k for _, parts in columns for k in parts}
    keys = [k for k in (*facts.STAGES, "total") if k in used]
    return svg.stacked(columns, keys)


def _pin_plots(nights: list[tuple[Path, Night]], entry_id: str) -> str:
    series: dict[str, list[tuple[str, float | None]]] = {}
    for i, (folder, n) in enumerate(nights):
        got = _run(folder, n, entry_id)
        found = facts.pins(folder / got[0].run_id / rundir.GUEST, list(got[0].workloads)) if got else []
        for p in found:
            points = series.setdefault(p.workload, [(m.name, None) for _, m in nights])
            points[i] = (n.name, p.acquired)
    return "".join(f"<div><code>{esc(w)}</code> {svg.spark(points)}</div>" for w, points in series.items())


def trends(nights: list[tuple[Path, Night]]) -> list[str]:
    ids = [e.id for e in nights[-1][1].entries]
    if not ids:
        return []
    out = [f"<h2>Trends (last {len(nights)} night{'s' if len(nights) > 1 else ''})</h2>",
           ("<table><tr><th>entry</th><th>time per stage, a bar a night</th>"
            "<th>FOLL_PIN pins taken during each workload, a point a night</th></tr>")]
    for entry_id in ids:
        pins = _pin_plots(nights, entry_id) or "no counters (the guest kept none, or the kernel has none)"
        out.append(f"<tr><td><code>{esc(entry_id)}</code></td><td>{_stage_plot(nights, entry_id)}</td>"
                   f"<td>{pins}</td></tr>")
    return out + ["</table>"]


def sections(night_dir: Path, night: Night) -> tuple[list[str], list[str]]:
    """(the history grid, the trends) for night's index.html."""
    nights = recent(night_dir, night)
    return grid(night_dir, nights), trends(nights)
