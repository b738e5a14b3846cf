"""`bench nightly`: every entry of a matrix through the pipeline, into one night folder.

    results/nightly/<YYYYmmdd-HHMMSS>[-shard-I-of-N]/
        <series>--<config>/   one `bench run` results folder per entry
        patches/<series>/     the patches as applied (KCIDB patchset_files)
        night.json            entries, comparison with the previous night, exit code
        junit.xml summary.md index.html kcidb.json

night.json: name, started/finished (ISO UTC), complete (every entry ran), shard
({index, count} or null), matrix {path, digest, ids (the whole matrix)}, tree {path, name,
url}, entries (sorted by id: id, series, config, run_id, verdict, exit_code, cases
{key: status}, failing [{key, status, message}], reports [{title, known, message}],
workloads, fragments, base, patches, patchset_hash, started, secs), missing (ids that
should have run here but did not), merged_from, comparison (bench/drivers/nightly/history.py),
exit_code. `bench merge` builds the same folder from shard folders.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import shutil
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.base import formats, rundir
from bench.base.errors import UserError
from bench.base.files import copy_tree
from bench.base.paths import contained
from bench.base.stats import ALPHA
from bench.drivers import prove, repeat
from bench.drivers.nightly import kcidb, night_file, night_pages as nightly_report
from bench.drivers.nightly.history import compare, exit_code, history, stale_known
from bench.drivers.nightly.matrix import Entry, Matrix
from bench.drivers.nightly.night_data import (
    Comparison, Failing, MatrixRef, Night, NightEntry, PatchFile, Report, Shard, Tree)
from bench.drivers.nightly.night_file import SHARD, load_night, require_night
from bench.run import pipeline
from bench.run.catch import Catch, check_workloads, failures
from bench.run.pages.reproducer import patch_file_name
from bench.run.plan import Plan, RunRequest, make_plan, selected_params
from bench.run.printer import Printer
from bench.run.result import Case, RunResult, Status
from bench.run.series import Series
from bench.run.sweep import Sweep


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="microseconds")


def new_night_dir(root: Path, shard: tuple[int, int] | None) -> Path:
    return root / rundir.new_folder(root, f"shard-{shard[0]}-of-{shard[1]}" if shard else "")


def fresh_dir(folder: Path) -> Path:
    """A night folder must start empty: run folders are never overwritten."""
    if folder.exists() and any(folder.iterdir()):
        raise UserError(f"{folder}: exists and is not empty")
    folder.mkdir(parents=True, exist_ok=True)
    return folder.resolve()


# -- planning -------------------------------------------------------------------------------


def plan_entries(request: RunRequest, home: Path, matrix: Matrix, entries: tuple[Entry, ...],
                 night_dir: Path) -> list[tuple[Entry, Plan]]:
    """Every entry's Plan, made before anything runs, so a bad matrix costs no build.

    request carries the command line's run options: its tree, base and workloads win over the
    matrix's, its kconfigs come after each entry's, its params join the matrix-wide ones.
    """
    plans: list[tuple[Entry, Plan]] = []
    used: set[str] = set()
    night = Sweep(night_dir, pipeline.run)  # each entry a run folder in the night's, named by its id
    for entry in entries:
        req = dataclasses.replace(
            request, series=entry.spec, tree=request.tree or matrix.tree, base=request.base or matrix.base,
            workloads=request.workloads or entry.workloads, kconfigs=(*entry.kconfigs, *request.kconfigs),
            params=(), results=night_dir, memory=entry.memory or request.memory,
            coverage=request.coverage or entry.coverage,
            info={**request.info, "nightly": entry.id, "config": entry.config})
        try:  # a workload, fragment or param of the matrix names its file and entry, not only guests/x.yaml
            # Matrix-wide params only apply where their workload was selected.
            selected = tuple(w.name for w in make_plan(req, home).workloads)
            params = selected_params((*entry.params, *request.params), selected)
            used.update(p.split(".", 1)[0] for p in params)
            plan = night.sub(make_plan(dataclasses.replace(req, params=params), home), entry.run_id)
        except UserError as e:
            raise UserError(f"{matrix.path}: entry {entry.id}: {e}") from e
        check_workloads(entry.catch, [w.name for w in plan.workloads])  # before any build
        repeat.check(entry.repeat, plan.baseline, ALPHA, f"{matrix.path}: {entry.id}: repeat {entry.repeat}")
        plans.append((entry, plan))
    wanted = {p.split(".", 1)[0] for e in entries for p in (*e.params, *request.params)}
    if plans and (unused := sorted(wanted - used)):
        raise UserError(f"{matrix.path}: params for workload {unused[0]!r}, which no entry selects")
    return plans


def write_patchset(night_dir: Path, series: Series) -> tuple[tuple[PatchFile, ...], str]:
    """Copy the series' patches into the night (git-apply-able); KCIDB's patchset hash."""
    folder = night_dir / rundir.PATCHES / series.name
    files, digests = [], []
    for p in series.patches:
        name = patch_file_name(p)  # NNNN- first: `sha256sum *` (KCIDB's recipe) sees them in order
        data = p.text.encode("utf-8", errors="surrogateescape")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        digests.append(digest)
        files.append(PatchFile(file=f"patches/{series.name}/{name}", sha256=digest))
    joined = "".join(f"{d}\n" for d in digests)
    return tuple(files), (hashlib.sha256(joined.encode()).hexdigest() if digests else "")


# -- running --------------------------------------------------------------------------------


def entry_record(entry: Entry, plan: Plan, result: RunResult, started: str,
                 night_dir: Path) -> NightEntry:
    patches, patchset_hash = write_patchset(night_dir, plan.series)
    record = NightEntry(
        id=entry.id, series=entry.series, config=entry.config, run_id=entry.run_id,
        verdict=result.verdict.value, exit_code=result.exit_code,
        cases={c.key: c.status.value for c in result.cases},
        failing=tuple(Failing(key=c.key, status=c.status.value, message=c.message) for c in result.failures()),
        reports=tuple(Report(title=c.name, known=c.status is Status.SKIP, message=c.message)
                      for c in result.cases if c.group == "report"),
        workloads=tuple(w.name for w in plan.workloads), fragments=tuple(f.name for f in plan.fragments),
        base=result.facts.base, patches=patches, patchset_hash=patchset_hash,
        started=started, secs=round(result.secs, 1), repeat=entry.repeat,
        known_issues=tuple(dict(k) for k in result.facts.known_issues or ()),
        coverage=coverage_text(result.facts.coverage))
    if entry.control:
        return control_record(record, result)
    return catalogue_record(record, entry.catch, result) if entry.catch else record


def coverage_text(cov: Mapping[str, Any] | None) -> str:
    """The grid's coverage cell: the run's headline ("" when it measured none)."""
    if cov is None:
        return ""
    return f"not measured: {cov['error']}" if cov.get("error") else str(cov.get("text", ""))


def catalogue_record(record: NightEntry, catch: tuple[Catch, ...], result: RunResult) -> NightEntry:
    """A catalogue bug's entry is judged the other way round: it passes when the bench catches
    the bug (every catch case fails), so a bug the bench stops catching is a new failure."""
    outcome = prove.judge(result, catch)
    verdict = {prove.Outcome.CAUGHT: "pass", prove.Outcome.INFRA: "error"}.get(outcome, "fail")
    key = "catalogue/caught"
    failed = ", ".join(prove.failed_keys(result)) or "nothing"
    message = f"{outcome.value}: must fail {', '.join(map(str, catch))}; failed: {failed}"
    return replace(record, verdict=verdict, exit_code={"pass": 0, "fail": 1}.get(verdict, 2),
                   cases={key: verdict}, reports=(), catch=tuple(str(c) for c in catch), caught=outcome.value,
                   failing=() if verdict == "pass" else (Failing(key=key, status=verdict, message=message),))


def control_record(record: NightEntry, result: RunResult) -> NightEntry:
    """A catalogue control (a harmless refactor) passes when its run passes: a failure is the
    bench's false alarm, one case that says what failed (and, like a bug, never sent to KCIDB)."""
    outcome = prove.judge_control(result)
    verdict = {prove.Outcome.HELD: "pass", prove.Outcome.INFRA: "error"}.get(outcome, "fail")
    key = "catalogue/held"
    failed = "; ".join(f"{k}: {m}" if m else k for k, m in failures(result)) or "nothing"
    message = f"{outcome.value}: a control must pass; failed: {failed}"
    return replace(record, verdict=verdict, exit_code={"pass": 0, "fail": 1}.get(verdict, 2),
                   cases={key: verdict}, reports=(), control=True, caught=outcome.value,
                   failing=() if verdict == "pass" else (Failing(key=key, status=verdict, message=message),))


def run_one(plan: Plan, printer: Printer, runs: int = 1) -> RunResult:
    """One entry (`runs` > 1: its rates); a crash of ours becomes that entry's infrastructure
    error, not the night's end."""
    try:
        return repeat.run_repeat(plan, printer, runs) if runs > 1 else pipeline.run(plan, printer)
    except Exception as e:  # noqa: BLE001 - the other entries must still run
        case = Case("infra", "crash", Status.ERROR, 0.0, f"{type(e).__name__}: {e}")
        return RunResult(plan.run_id, plan.series.name, plan.results_root / plan.run_id, (case,), 0.0)


def run_night(plans: list[tuple[Entry, Plan]], matrix: Matrix, entries: tuple[Entry, ...],
              shard: tuple[int, int] | None, night_dir: Path, printer: Printer) -> Night:
    """Run the planned entries (plan_entries) into night_dir; night.json is written whatever happens."""
    tree = plans[0][1].tree if plans else None
    night = Night(
        name=night_dir.name, started=now(), finished=None, complete=False,
        shard=Shard(index=shard[0], count=shard[1]) if shard else None,
        matrix=MatrixRef(path=str(matrix.path), digest=matrix.digest, ids=tuple(matrix.ids)),
        tree=Tree(path=str(tree) if tree else None, name=matrix.tree_name or (tree.name if tree else None),
                  url=matrix.tree_url),
        entries=(), missing=tuple(e.id for e in entries), merged_from=(),
        known_stale_after=matrix.known_stale_after)
    ran: list[NightEntry] = []
    printer.say(f"nightly {night_dir.name}: {len(plans)} of {len(matrix.entries)} entries"
                + (f" (shard {shard[0]}/{shard[1]})" if shard else "") + f" into {night_dir}")
    try:
        for i, (entry, plan) in enumerate(plans, 1):
            printer.say(f"nightly: [{i}/{len(plans)}] {entry.id}: "
                        f"{', '.join(f.name for f in plan.fragments)}; {', '.join(w.name for w in plan.workloads)}")
            started = now()
            result = run_one(plan, printer, entry.repeat)
            ran.append(entry_record(entry, plan, result, started, night_dir))
            printer.say(f"nightly: {entry.id}: {result.verdict.name} in {result.secs:.0f}s")
        night = replace(night, complete=True)
    finally:
        done = {e.id for e in ran}
        night = replace(night, finished=now(), entries=tuple(sorted(ran, key=lambda e: e.id)),
                        missing=tuple(i for i in night.missing if i not in done))
        night_file.write(night_dir, night)  # an interrupted night keeps what it has (complete: false)
    return night


# -- merging and finishing ------------------------------------------------------------------


def _unusable(run_dir: Path) -> str | None:
    """Why a shard's run folder cannot back its entry: gone, a symlink, or its summary.json
    unreadable (the entry's verdict would stand on nothing: a 'pass' with no evidence)."""
    if run_dir.is_symlink() or not run_dir.is_dir():
        return f"no run folder {run_dir}"
    path = run_dir / rundir.SUMMARY
    try:
        formats.check(path, formats.load_json(path), formats.SUMMARY)
    except formats.FormatProblem as e:
        return str(e)
    return None


def _copy_shards(runs: list[tuple[Path, NightEntry]], shards: list[Path], out_dir: Path) -> None:
    """The shards' run folders and patches copied into out_dir (a full disk: one line naming
    the file). A shard's symlinks are neither followed nor copied: they would lead out of it."""
    links = []
    for run_dir, e in runs:
        links += copy_tree(run_dir, contained(out_dir, e.run_id))
    for folder in shards:
        patches = folder / rundir.PATCHES
        if patches.is_symlink():
            links.append(patches)
            continue
        for series_dir in sorted(patches.iterdir()) if patches.is_dir() else ():
            if series_dir.is_symlink():
                links.append(series_dir)
            elif series_dir.is_dir() and not (out_dir / rundir.PATCHES / series_dir.name).exists():
                (out_dir / rundir.PATCHES).mkdir(exist_ok=True)
                links += copy_tree(series_dir, out_dir / "patches" / series_dir.name)
    for link in links:
        formats.warn(f"{link}: a symlink in a shard; not copied")


def merge(shard_dirs: list[Path], out_dir: Path) -> Night:
    """Shard nights (same matrix) -> one night folder, as if the matrix had run in one go.

    Each shard's night.json is checked (night_file) and its run ids must be plain names
    inside the shard; a run folder that is gone makes its entry missing (a warning), not a crash.
    """
    shards = [(d.resolve(), require_night(d, SHARD)) for d in shard_dirs]
    digests = {_matrix(n).digest for _, n in shards}
    if len(digests) != 1:
        raise UserError(f"{shard_dirs[0]}: the shards ran different matrices; not merging")
    seen: dict[str, Path] = {}
    runs: list[tuple[Path, NightEntry]] = []
    for folder, night in shards:
        for e in night.entries:
            if e.id in seen:
                raise UserError(f"{folder}: entry {e.id} also in {seen[e.id]}")
            seen[e.id] = folder
            run_dir = contained(folder, e.run_id, f"{folder / rundir.NIGHT}: entry {e.id}")
            if why := _unusable(run_dir):
                formats.warn(f"{folder / rundir.NIGHT}: entry {e.id}: {why}; counted as missing")
                del seen[e.id]
            else:
                runs.append((run_dir, e))
    counts = {n.shard.count for _, n in shards if n.shard}
    indexes = sorted(n.shard.index for _, n in shards if n.shard)
    whole = any(not n.shard for _, n in shards)
    all_shards = len(counts) == 1 and indexes == list(range(1, next(iter(counts)) + 1))
    made = not out_dir.exists()
    fresh_dir(out_dir)
    try:
        _copy_shards(runs, [f for f, _ in shards], out_dir)
    except BaseException:  # a full disk, a signal: no half-merged --out is left to refuse the retry
        if made:
            shutil.rmtree(out_dir, ignore_errors=True)
        else:
            for p in list(out_dir.iterdir()):
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)
        raise
    ids = _matrix(shards[0][1]).ids
    first = min(shards, key=lambda s: s[1].started)[1]
    return Night(
        name=out_dir.name, started=first.started,
        finished=max(n.finished or n.started for _, n in shards),
        complete=(whole or all_shards) and all(n.complete for _, n in shards),
        shard=None, matrix=first.matrix, tree=first.tree,
        entries=tuple(sorted((e for _, e in runs), key=lambda e: e.id)),
        missing=tuple(i for i in ids if i not in seen),
        merged_from=tuple(sorted(n.name for _, n in shards)),
        known_stale_after=first.known_stale_after)


def _matrix(night: Night) -> MatrixRef:
    """A shard's matrix (night_file's SHARD shape requires it)."""
    assert night.matrix is not None, f"{night.name}: read without the SHARD shape"
    return night.matrix


def finish(night_dir: Path, night: Night, previous: Path | None, log_url: str | None,
           printer: Printer) -> int:
    """Compare with the past, write every night file, say what is new; the exit code."""
    if previous is not None:  # checked before the night ran; a night gone bad since is left out
        past = [n] if (n := load_night(previous)) is not None else []
    else:
        past = history(night_dir.parent, night.started, night_dir)
    night = replace(night, comparison=replace(compare(night.entries, past), previous=past[0].name if past else None))
    if stale_after := night.known_stale_after:
        night = replace(night, stale_known=stale_known(night, history(night_dir.parent, night.started, night_dir),
                                                       stale_after))
    night = replace(night, exit_code=exit_code(night))
    night_file.write(night_dir, night)
    kcidb.write(night_dir, night, log_url)
    nightly_report.write_all(night_dir, night)
    say_summary(printer, night_dir, night)
    return exit_code(night)


def say_summary(printer: Printer, night_dir: Path, night: Night) -> None:
    """What is new since the last night, in progress lines."""
    c = night.comparison or Comparison()
    printer.say(f"nightly {night.name}: compared with {c.previous or 'nothing (first night)'}: "
                + ", ".join(f"{len(c.of(k))} {k}" for k in ("new", "fixed", "still", "infra", "untested")))
    for kind in ("new", "fixed", "infra"):
        for item in c.of(kind):
            printer.say(f"  {kind}: {item.id}: {item.key} {item.message}".rstrip())
    if night.missing:
        printer.say(f"  missing: {', '.join(night.missing)}")
    for k in night.stale_known or ():
        printer.say(f"  known issue {k.id} matched nothing for {k.nights} nights: remove it? ({k.where})")
    printer.say(f"nightly: exit {night.exit_code}; report {night_dir / rundir.INDEX}")
