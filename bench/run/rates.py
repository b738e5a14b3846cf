"""Failure rates over repeated runs of one kernel (pure: RunResults in, Cases out).

Every case key (workload/rxe, report/<title>, taint/odirect...) gets fail:runs, LKP's
notation: the runs in which it failed, of the runs that decided it. A run that ended in
infrastructure trouble decides nothing and is left out. A kernel report's runs are the runs
whose console was scanned (the kernel booted); a taint key's the runs whose taint window was
read (both make a case only when they fail). The decision, per key:

- apply/config/build: deterministic; a failure in any run is a failure.
- without a base: failing in every run, or in a run that also had a kernel report, is a
  failure; failing in some runs and passing in the others without a kernel report is flaky
  (NIPA's rule: fails, passes on retry, did not crash), reported and not counted;
  a kernel report is never flaky.
- with the base's runs: a regression only when the series' rate is above the base's by the
  one-sided Fisher exact test at alpha (bench/base/stats.py); otherwise reported, not counted.
  An expectation (expect/*) instead must hold by the rule without a base and never hold on
  the base (the unpatched base doing it too is not the series' doing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from bench.base import rundir
from bench.base.stats import fisher_greater
from bench.run.result import Case, RunResult, Status

DETERMINISTIC = ("apply", "config", "build")


@dataclass(frozen=True)
class Count:
    fails: int = 0
    runs: int = 0  # runs that decided the case
    with_report: int = 0  # failing runs that also had a failing kernel report
    errors: int = 0  # runs in which it could not be decided
    skips: int = 0  # runs in which it was skipped (unsupported, a known issue)

    def __str__(self) -> str:
        return f"{self.fails}:{self.runs}"


@dataclass(frozen=True)
class Rate:
    key: str
    series: Count
    base: Count | None  # None: no base runs
    p: float | None  # Fisher's one-sided p (with a base)
    flaky: bool
    status: Status
    message: str

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"key": self.key, "fails": self.series.fails, "runs": self.series.runs,
                                  "flaky": self.flaky, "status": self.status.value, "message": self.message}
        if self.base is not None:
            out |= {"base_fails": self.base.fails, "base_runs": self.base.runs,
                    "p": None if self.p is None else round(self.p, 6)}
        return out


def decided(results: Sequence[RunResult]) -> list[RunResult]:
    return [r for r in results if r.verdict is not Status.ERROR]


def count(results: Sequence[RunResult], keys: Sequence[str] | None = None) -> dict[str, Count]:
    """fail:runs of every case key (or of `keys`) over the decided runs."""
    if keys is None:
        keys = sorted({c.key for r in decided(results) for c in r.cases
                       if c.group not in ("infra", "baseline")})
    out = {}
    for key in keys:
        fails = runs = with_report = errors = skips = 0
        for r in decided(results):
            status = {c.key: c.status for c in r.cases}
            reported = any(c.group == "report" and c.status is Status.FAIL for c in r.cases)
            got = status.get(key) or absent(key, r, status)
            if got is Status.FAIL:
                fails, runs, with_report = fails + 1, runs + 1, with_report + reported
            elif got is Status.PASS or (got is Status.SKIP and key.startswith("report/")):
                runs += 1  # a known report seen is not a failure of the run
            elif got is Status.ERROR:
                errors += 1
            elif got is Status.SKIP:
                skips += 1
        out[key] = Count(fails, runs, with_report, errors, skips)
    return out


def absent(key: str, run: RunResult, status: dict[str, Status]) -> Status | None:
    """A key a run has no case for: PASS where it was checked and found nothing, for the oracles
    that only make a case when they fail (a report in a scanned console, a taint window that was
    read); None (not decided) elsewhere. expect/* cases are made whether met or not."""
    group, _, name = key.partition("/")
    if group == "report":
        return Status.PASS if status.get("boot/boot") in (Status.PASS, Status.FAIL) else None
    if group == "taint":
        guest = run.results_dir / rundir.GUEST
        if name == "run":  # the whole run is read from the runner's first taint reading on
            checked = (guest / rundir.TAINTED_START).is_file()
        else:  # a workload with an exit code had its window read: the runner writes .tainted.end first
            checked = ((guest / rundir.of_workload(name, rundir.TAINTED_END)).is_file()
                       or status.get(f"workload/{name}") in (Status.PASS, Status.SKIP))
        return Status.PASS if checked else None
    return None


def decide(key: str, s: Count, b: Count | None, alpha: float) -> Rate:
    flaky = 0 < s.fails < s.runs and s.with_report == 0 and not key.startswith("report/")
    if b is not None and key.startswith("expect/"):
        return _expectation(key, s, b, alpha)
    p = fisher_greater(s.fails, s.runs - s.fails, b.fails, b.runs - b.fails) if b is not None and b.runs else None
    on_base = f" vs {b} on the base" if b is not None else ""
    if s.runs == 0:
        return Rate(key, s, b, p, False, Status.ERROR if s.errors else Status.SKIP,
                    f"not decided in any run: skipped in {s.skips}, could not tell in {s.errors}")
    if s.fails == 0:
        return Rate(key, s, b, p, False, Status.PASS, f"{s}{on_base}")
    if key.split("/", 1)[0] in DETERMINISTIC:
        return Rate(key, s, b, p, False, Status.FAIL, f"{s}: fails (deterministic)")
    if b is not None:
        if not b.runs:
            return Rate(key, s, b, None, flaky, Status.ERROR, f"{s}, but the base never decided it: no rate to compare")
        test = f"one-sided Fisher p={p:.3g}"
        if p is not None and p <= alpha:
            return Rate(key, s, b, p, flaky, Status.FAIL, f"regression: {s}{on_base} ({test} <= {alpha})")
        kind = "flaky, " if flaky else ""
        return Rate(key, s, b, p, flaky, Status.SKIP, f"{kind}not above the base: {s}{on_base} ({test} > {alpha})")
    if flaky:
        return Rate(key, s, b, p, True, Status.SKIP,
                    f"flaky: failed {s}, passed in the other runs, no kernel report with it")
    why = "with a kernel report" if s.with_report else "in every run"
    return Rate(key, s, b, p, False, Status.FAIL, f"{s}: fails ({why})")


def _expectation(key: str, s: Count, b: Count, alpha: float) -> Rate:
    """An expectation with the base's runs, both ways as one --baseline run checks it: the series
    must meet it by the rule without a base, and the unpatched base must not meet it in any of
    its runs. (The base is expected to "fail" it: a rate above the base's means nothing here.)"""
    own = decide(key, s, None, alpha)
    if own.status is not Status.PASS and not own.flaky:
        return replace(own, base=b)
    if not b.runs:
        return replace(own, base=b, status=Status.ERROR, message=f"{s}, but the base never decided it")
    if met := b.runs - b.fails:
        return replace(own, base=b, status=Status.FAIL,
                       message=f"{s} vs {b} on the base: the unpatched base does it too (in {met} of its"
                               f" {b.runs} runs): not the series' doing")
    return replace(own, base=b, message=f"{own.message} vs {b} on the base: the unpatched base never does it")


def rates(series: Sequence[RunResult], base: Sequence[RunResult] | None, alpha: float) -> list[Rate]:
    s_counts = count(series)
    # The base counted over the series' keys: a key it never had passed where it was checked.
    b_counts = count(base, list(s_counts)) if base is not None else None
    return [decide(k, c, b_counts[k] if b_counts is not None else None, alpha) for k, c in s_counts.items()]


def cases(found: Sequence[Rate], runs: Sequence[RunResult]) -> list[Case]:
    """A Case per key (its rate the message), and one per run that decided nothing."""
    out = []
    for r in found:
        group, name = r.key.split("/", 1)
        out.append(Case(group, name, r.status, 0.0, r.message))
    for run in runs:
        if run.verdict is Status.ERROR:
            why = next((c.message for c in run.cases if c.status is Status.ERROR), "infrastructure")
            out.append(Case("repeat", run.run_id, Status.SKIP, run.secs, f"not counted: {why}"))
    return out
