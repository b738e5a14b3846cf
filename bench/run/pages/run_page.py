"""A run's index.html: the verdict, what was tested, the stage timeline (SVG), every case with
its status and message, the kernel reports with their excerpts, the pin counters per
workload, and links to every file of the results folder. Made from the folder (summary.json,
reports.json, guest/) and the run's Context; all links are relative.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.base import rundir
from bench.run.coverage import page as coverage_page
from bench.run.pages import facts, svg
from bench.run.pages.facts import Context
from bench.run.pages.html import esc, link, page

FIRST = (rundir.REPORT, rundir.REPRODUCER, rundir.CONSOLE, rundir.BUILD_LOG, rundir.SUMMARY, rundir.JUNIT)


def _row(*cells: str, head: bool = False) -> str:
    tag = "th" if head else "td"
    return "<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>"


def _facts(ctx: Context, data: dict[str, Any], run_dir: Path) -> list[str]:
    info = facts.run_facts(data)
    cfg = facts.config(run_dir)
    rows = [("series", esc(ctx.series) + (f" ({len(ctx.patches)} patches)" if ctx.patches else " (no patches)")),
            ("tree", f"<code>{esc(ctx.tree)}</code>"),
            ("base", f"<code>{esc(info.base or '?')}</code>")]
    if info.head and info.head != info.base:
        rows.append(("head", f"<code>{esc(info.head)}</code>"))
    rows.append(("config", esc(", ".join(ctx.fragments))
                 + (f" (<code>.config</code> sha256 <code>{esc(cfg.sha256)}</code>)" if cfg.sha256 else "")))
    if cfg.compiler:
        rows.append(("compiler", esc(cfg.compiler)))
    if info.vng:
        rows.append(("boot", f"<code>{esc(info.vng)}</code>"))
    rows += [("workloads", esc(", ".join(ctx.workloads) or "none")),
             ("started", esc(info.started or "?") + f", took {float(data.get('secs', 0)):.0f}s")]
    return ["<table>", *(_row(k, v) for k, v in rows), "</table>"]


def _stages(data: dict[str, Any]) -> list[str]:
    bars = facts.bars(data)
    if not bars:
        return []
    out = ["<h2>Stages</h2>", svg.timeline(bars), "<table>", _row("stage", "started at", "took", "status", head=True)]
    for b in bars:
        name = ("&nbsp;&nbsp;" if b.indent else "") + esc(b.label)
        out.append(f"<tr><td>{name}</td><td>{b.start:.1f}s</td><td>{b.secs:.1f}s</td>"
                   f"<td class={b.status or 'none'}>{esc(b.status.upper())}</td></tr>")
    return out + ["</table>"]


def _cases(cases: list[dict[str, Any]]) -> list[str]:
    out = ["<h2>Cases</h2><table>", _row("case", "status", "time", "message", head=True)]
    for c in cases:
        extra = facts.case_extras(c)
        message = esc(c.get("message", "")) + (f" <i>({esc(extra)})</i>" if extra else "")
        if c.get("output") and c["status"] != "pass":
            message += f"<details><summary>output</summary><pre>{esc(c['output'])}</pre></details>"
        out.append(f"<tr><td><code>{esc(c['group'])}/{esc(c['name'])}</code></td>"
                   f"<td class={esc(c['status'])}>{esc(c['status'].upper())}</td>"
                   f"<td>{float(c.get('secs', 0)):.1f}s</td><td>{message}</td></tr>")
    return out + ["</table>"]


def _reports(cases: list[dict[str, Any]], reports: list[dict[str, Any]]) -> list[str]:
    if not reports:
        return []
    texts = {c["name"]: (c["status"], c.get("output", "")) for c in cases if c["group"] == "report"}
    out = ["<h2>Kernel reports</h2>"]
    for r in reports:
        status, text = texts.get(str(r.get("title")), ("", ""))
        what = [str(r.get("category") or r.get("type") or ""), f"x{r.get('count', 1)}",
                f"during {r.get('workload') or 'boot'}", "known" if r.get("known") else "",
                "also in base" if r.get("in_base") else "",
                f"in {r['guilty_func']}" if r.get("guilty_func") else ""]
        out.append(f"<h3 class={esc(status or 'none')}>{esc(r.get('title'))}</h3>"
                   f"<p>{esc(', '.join(w for w in what if w))}</p>")
        excerpt = "\n".join(str(text).splitlines()[:40])
        if excerpt:
            out.append(f"<pre>{esc(excerpt)}</pre>")
    return out


def _pins(run_dir: Path, data: dict[str, Any]) -> list[str]:
    found = facts.pins(run_dir / rundir.GUEST, facts.workload_names(data))
    if not found:
        return []
    out = ["<h2>FOLL_PIN counters</h2><table>",
           _row("workload", "nr_foll_pin_acquired +", "nr_foll_pin_released +", "held at its end", head=True)]
    out += [_row(esc(p.workload), str(p.acquired), str(p.released),
                 f"<span class={'fail' if p.held else 'pass'}>{p.held}</span>") for p in found]
    return out + ["</table>"]


def _files(run_dir: Path, ctx: Context) -> list[str]:
    names = facts.files(run_dir)
    first = [n for n in FIRST if n in names]
    rest = [n for n in names if n not in first and n != rundir.INDEX]
    out = ["<h2>Files</h2><p>" + " | ".join(link(n, n) for n in first) + "</p><ul>"]
    out += [f"<li>{link(n, n)}</li>" for n in rest]
    if (run_dir / rundir.BASELINE / rundir.INDEX).is_file():
        out.append(f"<li>{link(f'{rundir.BASELINE}/{rundir.INDEX}', f'{rundir.BASELINE}/')}: the unpatched base's run</li>")
    if (run_dir / rundir.GUESTS / "runner.sh").is_file():
        out.append(f"<li>{link(f'{rundir.GUESTS}/runner.sh', f'{rundir.GUESTS}/')}: the guest runner and workload scripts"
                   " as run</li>")
    return out + ["</ul>"]


def render(ctx: Context, data: dict[str, Any], run_dir: Path) -> str:
    cases = data.get("cases") or []
    verdict = str(data.get("verdict", "error"))
    failing = [c for c in cases if c["status"] in ("fail", "error")]
    title = f"pinbench {ctx.series}: {verdict.upper()}"
    body = [f"<h1>{esc(title)}</h1>",
            f"<p>run <code>{esc(data.get('run_id', run_dir.name))}</code>: "
            f"<span class={esc(verdict)}>{esc(verdict.upper())}</span> (exit {esc(data.get('exit_code', 2))})"
            + (": " + esc(", ".join(f"{c['group']}/{c['name']}" for c in failing)) if failing else "") + "</p>",
            "<p>" + " | ".join(link(n, n) for n in (rundir.REPORT, rundir.REPRODUCER) if (run_dir / n).is_file())
            + "</p>",
            *_facts(ctx, data, run_dir), *_stages(data), *_cases(cases),
            *_reports(cases, facts.reports(run_dir)), *_pins(run_dir, data),
            *coverage_page.section(run_dir, facts.run_facts(data).coverage)]
    if ctx.patches:
        body += ["<h2>Series</h2><ol>"]
        body += [f"<li>{link('patches/' + name, name)}: {esc(subject)}</li>" for name, subject in ctx.patches]
        body += ["</ol>"]
    body += _files(run_dir, ctx)
    return page(title, body)
