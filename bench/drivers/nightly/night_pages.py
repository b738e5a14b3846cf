"""A night's reports: one JUnit file for CI, summary.md for mail/chat, index.html for a browser.

Everything is made from night.json and the run folders inside the night folder, so `bench
merge` and `bench nightly` write the same files. Links in index.html are relative, so the
folder can be published anywhere (CI artifacts, a web server, file://).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from junit_xml import to_xml_report_string

from bench.base import formats, rundir
from bench.base.files import write_atomic
from bench.drivers.nightly import pictures
from bench.drivers.nightly.night_data import Comparison, Night, NightEntry
from bench.run import junit
from bench.run.pages import html
from bench.run.pages.html import esc, link as _a
from bench.run.result import Case, RunResult, Status

LOGS = (rundir.INDEX, rundir.REPORT, rundir.REPRODUCER, rundir.CONSOLE, rundir.BUILD_LOG, rundir.CONFIG_LOG,
        rundir.APPLY_LOG, rundir.JUNIT, rundir.SUMMARY, rundir.REPORTS)
TITLES = {"new": "New failures", "fixed": "Fixed", "still": "Still failing",
          "infra": "Infrastructure trouble (not judged)", "untested": "Not tested this night"}


def write_all(night_dir: Path, night: Night) -> None:
    write_junit(night_dir, night, night_dir / rundir.JUNIT)
    write_atomic(night_dir / rundir.NIGHT_SUMMARY, markdown(night_dir, night))
    write_atomic(night_dir / rundir.INDEX, page(night_dir, night))


# -- JUnit ----------------------------------------------------------------------------------


def run_suites(night_dir: Path, entry: NightEntry) -> list[ET.Element]:
    """The run's own junit.xml suites, else rebuilt from its summary.json."""
    run_dir = night_dir / entry.run_id
    try:
        root = ET.parse(run_dir / rundir.JUNIT).getroot()
        suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
        if suites:
            return suites
    except (OSError, ET.ParseError):
        pass
    try:
        data = formats.load_json(run_dir / rundir.SUMMARY)  # strict: a shard's may be anything
        result = RunResult.from_json(data, run_dir)  # type: ignore[arg-type]  # checked by from_json
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        cases = (Case("infra", "results", Status.ERROR, 0.0, f"{run_dir}: no junit.xml or summary.json"),)
        result = RunResult(entry.run_id, entry.series, run_dir, cases, 0.0)
    return list(ET.fromstring(to_xml_report_string([junit.to_suite(result)])).iter("testsuite"))


def write_junit(night_dir: Path, night: Night, path: Path) -> None:
    """All runs' suites in one <testsuites>; suites and classnames carry the config too."""
    root = ET.Element("testsuites", name=f"pinbench nightly {night.name}")
    for entry in night.entries:
        old, new = f"pinbench.{entry.series}.", f"pinbench.{entry.series}.{entry.config}."
        for suite in run_suites(night_dir, entry):
            suite.set("name", f"pinbench.{entry.id}")
            for case in suite.iter("testcase"):
                cls = case.get("classname", "")
                case.set("classname", new + cls[len(old):] if cls.startswith(old) else cls)
            root.append(suite)
    for entry_id in night.missing:
        suite = ET.SubElement(root, "testsuite", name=f"pinbench.{entry_id}", tests="1", errors="1",
                              failures="0", skipped="0")
        case = ET.SubElement(suite, "testcase", name="missing", classname=f"pinbench.{entry_id}.infra")
        ET.SubElement(case, "error", message="no results: its shard or run did not report")
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr) or 0) for s in root.findall("testsuite"))))
    write_atomic(path, "<?xml version='1.0' encoding='utf-8'?>\n" + ET.tostring(root, encoding="unicode"))


# -- markdown -------------------------------------------------------------------------------


def headline(night: Night) -> str:
    c = night.comparison or Comparison()
    counts = ", ".join(f"{len(c.of(k))} {k}" for k in ("new", "fixed", "still", "infra"))
    prev = c.previous or "nothing (first night)"
    return f"exit {night.exit_code}: {counts}; compared with {prev}"


def _logs(night_dir: Path, run_id: str) -> list[str]:
    return [f"{run_id}/{name}" for name in LOGS if (night_dir / run_id / name).is_file()]


def markdown(night_dir: Path, night: Night) -> str:
    c = night.comparison or Comparison()
    shard, matrix = night.shard, night.matrix
    out = [f"# pinbench nightly {night.name}", "",
           f"**{headline(night)}**", "",
           f"- matrix: `{matrix.path if matrix else None}` ({len(matrix.ids) if matrix else 0} entries"
           + (f", shard {shard.index}/{shard.count}" if shard else "") + ")",
           f"- ran: {len(night.entries)} entries, {night.started[:19]} to {str(night.finished)[:19]} UTC"
           + ("" if night.complete else " (**incomplete**)")]
    if night.merged_from:
        out.append(f"- merged from: {', '.join(night.merged_from)}")
    if night.missing:
        out.append(f"- **missing**: {', '.join(night.missing)}")
    for kind in ("new", "fixed", "still", "infra", "untested"):
        if c.of(kind):
            out += ["", f"## {TITLES[kind]}", ""]
            out += [f"- `{i.id}` {i.key}: {i.message} ([console]({i.run_id}/{rundir.CONSOLE}))"
                    if (night_dir / i.run_id / rundir.CONSOLE).is_file() and kind != "fixed"
                    else f"- `{i.id}` {i.key}: {i.message}" for i in c.of(kind)]
    if stale := night.stale_known:
        out += ["", f"## Known issues that matched nothing for {stale[0].nights} nights", "",
                "Candidates for removal from their known-issues.yaml:", ""]
        out += [f"- `{k.id}` ({k.where}): {k.reason} {k.link}".rstrip() for k in stale]
    out += ["", "## Entries", "", "| entry | verdict | failing | coverage | time | logs |", "|---|---|---|---|---|---|"]
    for e in night.entries:
        failing = "<br>".join(f.key for f in e.failing) or "-"
        logs = " ".join(f"[{Path(p).name}]({p})" for p in _logs(night_dir, e.run_id))
        out.append(f"| `{e.id}` | {e.verdict.upper()} | {failing} | {e.coverage or '-'} | {e.secs or 0:.0f}s"
                   f" | {logs} |")
    return "\n".join(out) + "\n"


# -- HTML -----------------------------------------------------------------------------------


def page(night_dir: Path, night: Night) -> str:
    c = night.comparison or Comparison()
    files = [f for f in (rundir.NIGHT_SUMMARY, rundir.JUNIT, rundir.KCIDB, rundir.NIGHT) if (night_dir / f).is_file()]
    history, trends = pictures.sections(night_dir, night)
    body = [f"<h1>pinbench nightly {esc(night.name)}</h1>",
            f"<p><b>{esc(headline(night))}</b></p>",
            "<p>" + " | ".join(_a(f, f) for f in files) + "</p>", *history]
    if night.missing:
        body.append(f"<p class=error>missing: {esc(', '.join(night.missing))}</p>")
    for kind in ("new", "fixed", "still", "infra", "untested"):
        if not c.of(kind):
            continue
        body.append(f"<h2>{esc(TITLES[kind])}</h2><ul>")
        for i in c.of(kind):
            link = ""
            if kind != "fixed" and (night_dir / i.run_id / rundir.CONSOLE).is_file():
                link = " (" + _a(f"{i.run_id}/{rundir.CONSOLE}", "console") + ")"
            body.append(f"<li><code>{esc(i.id)}</code> {esc(i.key)}: {esc(i.message)}{link}</li>")
        body.append("</ul>")
    if stale := night.stale_known:
        body.append(f"<h2>Known issues that matched nothing for {stale[0].nights} nights</h2><ul>")
        body += [f"<li><code>{esc(k.id)}</code> ({esc(k.where)}): {esc(k.reason)} {esc(k.link)}</li>"
                 for k in stale]
        body.append("</ul>")
    body.append("<h2>Entries</h2><table><tr><th>entry</th><th>verdict</th><th>failing</th>"
                "<th>reports</th><th>coverage</th><th>time</th><th>logs</th></tr>")
    for e in night.entries:
        failing = "<br>".join(f"{esc(f.key)}: {esc(f.message)}" for f in e.failing) or "-"
        reports = "<br>".join(esc(r.title) + (" (known)" if r.known else "") for r in e.reports) or "-"
        logs = " ".join(_a(p, Path(p).name) for p in _logs(night_dir, e.run_id))
        body.append(f"<tr><td><code>{esc(e.id)}</code></td><td class={e.verdict}>{e.verdict.upper()}</td>"
                    f"<td>{failing}</td><td>{reports}</td><td>{esc(e.coverage or '-')}</td>"
                    f"<td>{e.secs or 0:.0f}s</td><td>{logs}</td></tr>")
    body.append("</table>")
    return html.page(f"pinbench nightly {night.name}", body + trends)
