"""The run's coverage step: which objects to profile (before the build), and after the boot
the counters the guest saved, through gcov, mapped to the series' changed lines.

The guest (guests/coverage.sh, sourced by runner.sh) saves every .gcda under
/sys/kernel/debug/gcov once before the first workload (window "boot": what ran while the
kernel booted) and after each workload, resetting the counters before each one, into
guest/coverage/<window>/ with the build dir's absolute path below it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from bench.base import rundir
from bench.base.errors import BenchError, InfraError
from bench.base.files import read_guest, read_tree, write_atomic
from bench.run.coverage import around, changed, gcov, mapping, objects, reach, text
from bench.run.plan import Plan

ENV = "BENCH_COVERAGE=1\n"  # guest/env line that turns the guest's saving on
FOLDER = "coverage"  # under guest/: one folder per window
GUEST_ERROR = "ERROR"  # the guest's one-line reason when it could not save counters
COUNTS = rundir.COVERAGE_COUNTS  # every line of every profiled file, per window (reach.py reads it)


def instrument(plan: Plan, src: Path, base: str, head: str) -> objects.Instrument | None:
    """The objects to profile for this run (None: the run measures no coverage): of the C files
    the applied series changed (git diff base..head in the worktree) and --coverage-object
    (which also profiles a run with no patch: prove's control, for the bugs' hunks)."""
    if not plan.coverage or not (plan.series.patches or plan.coverage_objects):  # --each's prefix 0
        return None
    touched = changed.changed_files(src, base, head)
    return objects.choose(src, touched, plan.coverage_objects)


Instrument = objects.Instrument


def key(inst: Instrument | None) -> str:
    return inst.key if inst else ""


def make_vars(inst: Instrument | None) -> tuple[str, ...]:
    return inst.make_vars() if inst else ()


def guest_env(inst: Instrument | None) -> str:
    return ENV if inst else ""


def compiled_with_gcov(build: Path, obj: str) -> bool:
    """Whether kbuild's record of the object's last compile (<dir>/.<name>.o.cmd) has gcov's
    flags: a .gcno left by an earlier coverage build proves nothing about this one."""
    p = build / obj
    try:
        cmd = (p.parent / f".{p.name}.cmd").read_text(errors="replace")
    except OSError:
        return False
    first = cmd.split("\n", 1)[0]
    return "-ftest-coverage" in first and p.with_suffix(".gcno").is_file()


def object_states(inst: objects.Instrument, build: Path) -> list[dict[str, str]]:
    out = []
    for obj in inst.objects:
        if compiled_with_gcov(build, obj):
            out.append({"object": obj, "status": "profiled", "why": ""})
        elif (build / obj).is_file():
            out.append({"object": obj, "status": "not profiled",
                        "why": "kbuild compiled it without gcov (not a vmlinux or module object: boot, vdso, realmode?)"})
        else:
            out.append({"object": obj, "status": "not built", "why": "not built in this config"})
    out += [{"object": obj, "status": "refused", "why": why} for obj, why in inst.refused]
    return out


def windows(gdir: Path, workloads: Sequence[str]) -> list[Path]:
    """The saved windows in run order: boot, then the workloads that saved counters."""
    root = gdir / FOLDER
    names = [mapping.BOOT, *workloads]
    if root.is_symlink():  # the guest made these folders: a link would walk the host's files
        return []
    return [root / n for n in names if (root / n).is_dir() and not (root / n).is_symlink()]


def counts_of(window: Path, profiled: Sequence[str], build: Path, src: Path) -> gcov.Counts:
    parts = []
    for gcda in sorted(window.rglob("*.gcda")):
        if gcda.is_symlink():  # planted by the guest: never read a host file through it
            continue
        name = PurePosixPath(gcda.relative_to(window)).as_posix()
        obj = next((o for o in profiled if name.endswith("/" + str(PurePosixPath(o).with_suffix(".gcda")))), None)
        if obj is not None:
            parts.append(gcov.parse(gcov.run_gcov((build / obj).with_suffix(".gcno"), gcda), src))
    return gcov.merge(parts)


def raw_counts(counts: Mapping[str, gcov.Counts], unmeasured: Mapping[str, str]) -> dict[str, Any]:
    """What COUNTS holds: hits per line per window, and why a profiled-asked file has none."""
    return {"format": 1,
            "windows": {w: {path: {str(n): c.count for n, c in lines.items()} for path, lines in per.items()}
                        for w, per in counts.items()},
            "unmeasured": {str(PurePosixPath(k).with_suffix(".c")) if k.endswith(".o") else k: v
                           for k, v in unmeasured.items()}}


def read_counts(run_dir: Path) -> tuple[reach.Windows, dict[str, str]]:
    """COUNTS of a run, as reach.reach takes them; a missing or broken file is an InfraError."""
    p = run_dir / COUNTS
    try:
        doc = json.loads(p.read_text())
        wins = {str(w): {str(path): {int(n): int(c) for n, c in lines.items()} for path, lines in per.items()}
                for w, per in doc["windows"].items()}
        return wins, {str(k): str(v) for k, v in doc.get("unmeasured", {}).items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise InfraError(f"{p}: no coverage counts to read ({type(e).__name__}: {str(e)[:100]})") from e


def tree_lines(src: Path, path: str) -> list[str]:
    """The lines of a file of the patched tree; none when it is not a regular file: the series
    wrote it, and a link to /dev/zero read forever, a link to a host file put its lines in the pages."""
    return (read_tree(src / path) or "").splitlines()


def collect(plan: Plan, inst: Instrument | None, src: Path, build: Path, gdir: Path,
            base: str, head: str, run_dir: Path) -> dict[str, Any] | None:
    """The run's coverage summary (RunFacts.coverage; None when the run measures none);
    coverage.json beside it. A host or guest problem is said in "error", never in the verdict."""
    if inst is None:
        return None
    try:
        return _collect(plan, inst, src, build, gdir, base, head, run_dir)
    except (BenchError, OSError) as e:
        return {"error": str(e).splitlines()[0] if str(e) else type(e).__name__}


def _collect(plan: Plan, inst: objects.Instrument, src: Path, build: Path, gdir: Path,
             base: str, head: str, run_dir: Path) -> dict[str, Any]:
    states = object_states(inst, build)
    profiled = [o["object"] for o in states if o["status"] == "profiled"]
    unmeasured = {o["object"]: f"{o['status']}: {o['why']}" for o in states if o["status"] != "profiled"}
    wins = windows(gdir, [w.name for w in plan.workloads])
    counts = {w.name: counts_of(w, profiled, build, src) for w in wins}
    files = [f for f in changed.changed_files(src, base, head) if f.endswith(changed.SOURCE_SUFFIXES)]
    lines = changed.changed_lines(src, base, head, files)
    if not wins:  # nothing came back from the guest: no line can be told, whatever its file
        err = gdir / FOLDER / GUEST_ERROR
        why = (read_guest(err, 4096) or "").strip()[:200] or "the guest saved no counters"
        unmeasured = {**{f: why for f in files}, **unmeasured}

    def source(path: str) -> list[str]:
        return tree_lines(src, path)

    statuses = mapping.classify(lines, counts, unmeasured, source)
    removed = around.removal_reach(changed.removals(src, base, head, files), counts, unmeasured, source)
    funcs = around.functions(statuses, removed, counts, source)
    write_atomic(run_dir / COUNTS, json.dumps(raw_counts(counts, unmeasured)) + "\n")
    write_atomic(run_dir / rundir.COVERAGE, json.dumps(text.line_records(statuses), indent=1) + "\n")
    subjects = [p.subject for p in plan.series.patches]
    return text.summary(statuses, changed.hunks(lines), subjects, states, [w.name for w in wins],
                        [r.record() for r in removed], [f.record() for f in funcs])
