"""What each patch of a series changed, from the runs of its prefixes (pure: data in, data out).

Prefix k is the base plus the first k patches. Patch k is judged by prefix k against the
nearest earlier prefix that was decided (normally k-1): cases that fail now and did not
(its new failures), cases that failed and pass now, workload status changes, kernel reports
that appeared or went away, compiler warnings added or removed in the objects it made
recompile, and FOLL_PIN counter changes. The first patch with a new failure is the first
failing patch: what a bisect of the tip's failure would find, without the bisect.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bench.drivers.each.model import PatchDelta, Prefix
from bench.run import buildwarn, pins
from bench.run.result import Case, RunResult, Status
from bench.run.series import Patch

_NEW_FILE = re.compile(r"^diff --git a/\S+ b/(\S+)\nnew file mode", re.M)


def statuses(result: RunResult) -> dict[str, Status]:
    return {c.key: c.status for c in result.cases}


def failing(result: RunResult) -> set[str]:
    return {k for k, s in statuses(result).items() if s is Status.FAIL}


def new_files(patch: Patch) -> tuple[str, ...]:
    return tuple(_NEW_FILE.findall(patch.text))


def warnings_delta(prev: Prefix, now: Prefix) -> tuple[buildwarn.Delta | None, str]:
    """The patch's warnings: prefix k-1's probe build against prefix k's build."""
    if now.built is None:
        return None, "no build with the patch"
    if prev.k != now.k - 1 or prev.probe is None:
        return None, "no build of its objects without it (the previous prefix did not build)"
    assert now.patch is not None
    return buildwarn.compare(prev.probe, now.built, new_files(now.patch)), ""


def delta(prev: Prefix | None, now: Prefix) -> PatchDelta:
    assert now.patch is not None
    if now.result is None:
        return PatchDelta(now.k, now.patch, None, why="not run: an earlier patch does not apply")
    if prev is None or prev.result is None:
        return PatchDelta(now.k, now.patch, None, why="no earlier prefix was decided: nothing to compare with")
    if not now.decided:
        return PatchDelta(now.k, now.patch, prev.k, why=f"prefix {now.k} was not decided (infrastructure)")
    before, after = statuses(prev.result), statuses(now.result)
    was_failing, now_failing = failing(prev.result), failing(now.result)
    booted = after.get("boot/boot") is Status.PASS
    reports_before = {k for k in before if k.startswith("report/")}
    reports_now = {k for k in after if k.startswith("report/")}
    names = sorted({k for k in (*before, *after) if k.startswith("workload/")})
    moved = tuple((k.split("/", 1)[1], before.get(k, "-"), after.get(k, "-")) for k in names
                  if before.get(k) != after.get(k))
    warn, warn_why = warnings_delta(prev, now)
    return PatchDelta(
        now.k, now.patch, prev.k,
        new_failures=tuple(sorted(now_failing - was_failing)),
        fixed=tuple(sorted(k for k in was_failing - now_failing if k in after or (k.startswith("report/") and booted))),
        workloads=tuple((n, _word(b), _word(a)) for n, b, a in moved),
        reports_new=tuple(sorted(r.split("/", 1)[1] for r in reports_now - reports_before)),
        reports_gone=tuple(sorted(r.split("/", 1)[1] for r in reports_before - reports_now)) if booted else (),
        warnings=warn, warnings_why=warn_why, pins=pins.changes(prev.pins, now.pins))


def _word(status: Status | str) -> str:
    return status.value if isinstance(status, Status) else status


def deltas(prefixes: Sequence[Prefix]) -> list[PatchDelta]:
    """Every patch against the nearest earlier decided prefix."""
    out = []
    last: Prefix | None = None
    for p in prefixes:
        if p.patch is not None:
            out.append(delta(last, p))
        if p.decided:
            last = p
    return out


def patch_cases(d: PatchDelta) -> list[Case]:
    """The patch's own verdicts: did it bring a failure, did it add compiler warnings."""
    since = "" if d.against is None or d.against == d.k - 1 else f" (compared with prefix {d.against})"
    if d.why.startswith("not run"):
        failures = Case("patch", "failures", Status.SKIP, 0.0, d.why)
    elif d.why:
        failures = Case("patch", "failures", Status.ERROR, 0.0, d.why)
    elif d.new_failures:
        failures = Case("patch", "failures", Status.FAIL, 0.0,
                        f"newly failing{since}: {', '.join(d.new_failures)}")
    else:
        fixed = f"; fixes {', '.join(d.fixed)}" if d.fixed else ""
        failures = Case("patch", "failures", Status.PASS, 0.0, f"no new failure{since}{fixed}")
    if d.warnings is None:
        warn = Case("patch", "warnings", Status.SKIP, 0.0, f"not compared: {d.warnings_why or d.why}")
    elif d.warnings.added:
        warn = Case("patch", "warnings", Status.FAIL, 0.0,
                    f"{len(d.warnings.added)} new compiler warning(s): {d.warnings.added[0]}",
                    "\n".join(d.warnings.added))
    else:
        gone = f", {len(d.warnings.removed)} removed" if d.warnings.removed else ""
        warn = Case("patch", "warnings", Status.PASS, 0.0,
                    f"no new warning in the {d.warnings.compared} object(s) it recompiles{gone}")
    return [failures, warn]
