"""A night as KCIDB v5 JSON (checkouts -> builds -> tests, issues, incidents) for KernelCI's
common database.

One checkout per series (the base commit plus its patchset), one build per matrix entry
(the series built with one kconfig set), one test per boot, workload and kernel report:
paths pinbench.boot, pinbench.workload.<name>, pinbench.report.<title>. Ids are
"pinbench:<night>:..." so every night submits new objects. Each distinct kernel report
title is an issue ("pinbench:report:<slug>-<hash of the title>": the same issue every night,
so KernelCI links them), culprit the code, categories the scanner's logspec/KCIDB category
("linux.kernel" when it gave none); each report found is an incident (present) on its build
and test, and a report the comparison calls fixed is an incident marked absent. Log URLs
point into the night folder: file:// by default, or under --log-url where the folder is published. Send the file
with kcidb's own client (`kcidb-submit`). The export is validated against the real schema
(the kcidb-io package) before it is written, so KernelCI never sees a file it would refuse.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.parse
from pathlib import Path
from typing import Any

import jsonschema
import kcidb_io

from bench.base import rundir
from bench.base.errors import InfraError
from bench.base.files import write_atomic
from bench.drivers.nightly.night_data import Night, NightEntry, Tree
from bench.run.pages import facts
from bench.run.runfacts import RunFacts

ORIGIN = "pinbench"
VERSION = {"major": 5, "minor": 3}
EXCERPT_MAX = 16384  # schema maxLength of log_excerpt
STATUS = {"pass": "PASS", "fail": "FAIL", "error": "ERROR", "skip": "SKIP"}
SCHEMA = kcidb_io.schema.V5_3
TEST_GROUPS = ("boot", "workload", "report", "infra")
ISSUE_VERSION = 1  # bump when what an issue says (its fields) changes meaning
CATEGORY_FALLBACK = "linux.kernel"
_PATH = re.compile(r"^[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*$")  # the schema's dot-separated path
_SHA1 = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")  # sha1 or sha256 object names
_GIT_URL = re.compile(r"^(https|git)://.*$")


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]+", "_", text).strip("_") or "unnamed"


def _excerpt(text: str) -> str:
    return text if len(text) <= EXCERPT_MAX else text[-EXCERPT_MAX:]


class _Urls:
    def __init__(self, night_dir: Path, base: str | None) -> None:
        self.dir, self.base = night_dir, base.rstrip("/") if base else None

    def _inside(self, rel: str) -> bool:
        """A file of the night: a name read from night.json (a patch's `file`) or a symlink in
        the folder must not lead a link out of it (../../etc/passwd would be published)."""
        path = self.dir / rel
        return path.is_file() and path.resolve().is_relative_to(self.dir.resolve())

    def __call__(self, rel: str) -> str | None:
        if not self._inside(rel):
            # an entry run with repeat: N keeps each run's files in r1..rN: link the first's
            run_id, _, rest = rel.partition("/")
            rel = f"{run_id}/r1/{rest}"
            if not rest or not self._inside(rel):
                return None
        if self.base:
            return f"{self.base}/{urllib.parse.quote(rel)}"
        return (self.dir / rel).resolve().as_uri()


def _summary(night_dir: Path, run_id: str) -> dict[str, Any]:
    return facts.summary(night_dir / run_id)


def export(night_dir: Path, night: Night, log_url: str | None = None) -> dict[str, Any]:
    url = _Urls(night_dir, log_url)
    prefix = f"{ORIGIN}:{night.name}"
    tree = night.tree or Tree()
    checkouts: dict[str, dict[str, Any]] = {}
    builds: list[dict[str, Any]] = []
    tests: list[dict[str, Any]] = []
    for e in night.entries:
        if e.catch or e.control:  # the catalogue's kernels: patched on purpose, not to report
            continue
        summary = _summary(night_dir, e.run_id)
        cases = summary.get("cases") or []
        checkout_id = f"{prefix}:{_slug(e.series)}"
        applies = [c for c in cases if c["group"] == "apply"]
        co = checkouts.setdefault(checkout_id, _checkout(checkout_id, e, tree, url))
        co["start_time"] = min(co["start_time"], e.started)
        if applies:  # no apply cases: the run stopped before it, validity unknown
            co["valid"] = co.get("valid", True) and all(c["status"] == "pass" for c in applies)
        if failed := next((c for c in applies if c["status"] != "pass"), None):
            if log := url(f"{e.run_id}/{rundir.APPLY_LOG}"):
                co["log_url"] = log
            co["log_excerpt"] = _excerpt(failed.get("output") or failed.get("message", ""))
            continue  # nothing was built from a checkout that did not apply
        build_id = f"{prefix}:{_slug(e.id)}"
        builds.append(_build(build_id, checkout_id, e, cases, url))
        if any(c["group"] == "build" and c["status"] == "pass" for c in cases):
            tests += _tests(build_id, e, cases, facts.run_facts(summary), url)
    for missing in night.missing:
        series, _, config = missing.partition("/")
        checkout_id = f"{prefix}:{_slug(series)}"
        checkouts.setdefault(checkout_id, {"id": checkout_id, "origin": ORIGIN, "misc": {"series": series}})
        builds.append({"id": f"{prefix}:{_slug(missing)}", "checkout_id": checkout_id, "origin": ORIGIN,
                       "config_name": config, "status": "MISS",
                       "comment": f"{missing}: no results (its shard or run did not report)"})
    issues, incidents = _issues(night_dir, night, builds, tests)
    return {"version": dict(VERSION), "checkouts": list(checkouts.values()), "builds": builds, "tests": tests,
            "issues": issues, "incidents": incidents}


def _checkout(checkout_id: str, e: NightEntry, tree: Tree, url: _Urls) -> dict[str, Any]:
    co: dict[str, Any] = {"id": checkout_id, "origin": ORIGIN, "start_time": e.started,
                          "patchset_hash": e.patchset_hash,
                          "patchset_files": [{"name": Path(p.file).name, "url": u}
                                             for p in e.patches if (u := url(p.file))],
                          "comment": f"series {e.series}", "misc": {"series": e.series}}
    if tree.name:
        co["tree_name"] = tree.name
    if tree.url and _GIT_URL.match(tree.url):
        co["git_repository_url"] = tree.url
    if e.base and _SHA1.match(e.base):
        co["git_commit_hash"] = e.base
    return co


def _build(build_id: str, checkout_id: str, e: NightEntry, cases: list[dict[str, Any]],
           url: _Urls) -> dict[str, Any]:
    by_group = {c["group"]: c for c in cases if c["group"] in ("config", "build")}
    config, built = by_group.get("config"), by_group.get("build")
    # A kconfig failure is a build failure; no build case at all: stopped before (infra).
    decisive = config if config and config["status"] != "pass" else built
    status = STATUS.get(decisive["status"], "ERROR") if decisive else "MISS"
    build: dict[str, Any] = {
        "id": build_id, "checkout_id": checkout_id, "origin": ORIGIN, "start_time": e.started,
        "architecture": "x86_64", "config_name": e.config, "status": status,
        "comment": f"{e.id}: {', '.join(e.fragments)}",
        "misc": {"entry": e.id, "run_id": e.run_id, "fragments": list(e.fragments)},
    }
    if built:
        build["duration"] = float(built.get("secs", 0.0))
    for key, rel in (("log_url", rundir.BUILD_LOG), ("config_url", rundir.KCONFIG)):
        if u := url(f"{e.run_id}/{rel}"):
            build[key] = u
    if decisive and decisive["status"] != "pass":
        build["log_excerpt"] = _excerpt(decisive.get("output") or decisive.get("message", ""))
    elif not decisive:
        infra = next((c for c in cases if c["status"] == "error"), None)
        build["log_excerpt"] = _excerpt(infra["message"] if infra else "the run stopped before the build")
    return build


def _tests(build_id: str, e: NightEntry, cases: list[dict[str, Any]], info: RunFacts,
           url: _Urls) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    console = url(f"{e.run_id}/{rundir.CONSOLE}")
    for c in cases:
        if c["group"] not in TEST_GROUPS:
            continue
        path = "pinbench.boot" if c["group"] == "boot" else f"pinbench.{c['group']}.{_slug(c['name'])}"
        base, n = path, 1
        while path in seen:  # two titles can slug alike
            n += 1
            path = f"{base}_{n}"
        seen.add(path)
        known = c["group"] == "report" and c["status"] == "skip"
        test: dict[str, Any] = {
            "id": f"{build_id}:{path}", "build_id": build_id, "origin": ORIGIN, "path": path,
            # A suppressed report was still found: a waived FAIL, not a test that did not apply.
            "status": "FAIL" if known else STATUS.get(c["status"], "ERROR"),
            "start_time": e.started, "duration": float(c.get("secs", 0.0)),
            "comment": f"{c['name']}: {c.get('message', '')}".strip().rstrip(":"),
            "environment": {"comment": f"virtme-ng, {info.accel or 'qemu'}"},
        }
        if c["group"] == "report":  # v5 has no waived field
            test["misc"] = {"report": c["name"], **({"waived": True} if known else {})}
        own_log = rundir.of_workload(c["name"], rundir.LOG)
        log = url(f"{e.run_id}/{rundir.GUEST}/{own_log}") if c["group"] == "workload" else None
        if log or console:
            test["log_url"] = log or console
        if c["status"] != "pass" and (c.get("output") or c.get("message")):
            test["log_excerpt"] = _excerpt(c.get("output") or c["message"])
        out.append(test)
    return out


def issue_id(title: str) -> str:
    """One id per report title, the same every night."""
    return f"{ORIGIN}:report:{_slug(title)[:80]}-{hashlib.sha256(title.encode()).hexdigest()[:12]}"


def _issue(title: str, report: dict[str, Any]) -> dict[str, Any]:
    category = str(report.get("category") or "")
    what = [str(report[k]) for k in ("type", "guilty_func", "guilty_file") if report.get(k)]
    issue: dict[str, Any] = {
        "id": issue_id(title), "version": ISSUE_VERSION, "origin": ORIGIN, "report_subject": title,
        "categories": [category if _PATH.match(category) else CATEGORY_FALLBACK],
        "culprit": {"code": True, "tool": False, "harness": False},  # a kernel report: the kernel's doing
        "misc": {k: report[k] for k in ("type", "guilty_func", "guilty_file") if report.get(k)},
    }
    if what:
        issue["comment"] = " ".join(what)
    return issue


def _issues(night_dir: Path, night: Night, builds: list[dict[str, Any]],
            tests: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """An issue per report title; an incident per report test (present) and per fixed report
    (absent, on the entry's build of this night)."""
    run_ids = {b["id"]: b["misc"]["run_id"] for b in builds if "run_id" in b.get("misc", {})}
    found: dict[str, dict[str, Any]] = {}
    for run_id in set(run_ids.values()):
        for r in facts.reports(night_dir / run_id):
            found.setdefault(f"{run_id}\0{r.get('title')}", r)
    issues: dict[str, dict[str, Any]] = {}
    incidents: list[dict[str, Any]] = []
    for t in tests:
        title = (t.get("misc") or {}).get("report")
        if title is None:
            continue
        report = found.get(f"{run_ids.get(t['build_id'])}\0{title}", {})
        issue = issues.setdefault(issue_id(title), _issue(title, report))
        misc = {k: report[k] for k in ("workload", "count", "known", "in_base") if report.get(k) is not None}
        incidents.append({"id": f"{t['id']}:incident", "origin": ORIGIN, "issue_id": issue["id"],
                          "issue_version": ISSUE_VERSION, "build_id": t["build_id"], "test_id": t["id"],
                          "present": True, "comment": t["comment"], "misc": misc})
    by_entry = {b["misc"]["entry"]: b["id"] for b in builds if b.get("status") not in (None, "MISS")}
    for item in night.comparison.fixed if night.comparison else ():
        title = item.key.partition("/")[2]
        if item.key.startswith("report/") and (build_id := by_entry.get(item.id)):
            issue = issues.setdefault(issue_id(title), _issue(title, {}))
            incidents.append({"id": f"{build_id}:absent:{issue['id'].split(':', 2)[2]}", "origin": ORIGIN,
                              "issue_id": issue["id"], "issue_version": ISSUE_VERSION, "build_id": build_id,
                              "present": False, "comment": f"{title}: not found this night (fixed)"})
    return list(issues.values()), incidents


def write(night_dir: Path, night: Night, log_url: str | None = None) -> Path:
    """kcidb.json, after checking it against the schema (a bug of ours, not the night's)."""
    path = night_dir / rundir.KCIDB
    data = export(night_dir, night, log_url)
    if problems := validate(data):
        raise InfraError(f"{path}: pinbench made invalid KCIDB data (a bug of ours): {problems[0]}")
    write_atomic(path, json.dumps(data, indent=2) + "\n")
    return path


def validate(data: dict[str, Any]) -> list[str]:
    """Problems with data as KCIDB v5 (kcidb-io's schema); [] when it is fine."""
    try:
        SCHEMA.validate(data)
    except jsonschema.exceptions.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "(top)"
        return [f"{where}: {e.message}"]
    return []
