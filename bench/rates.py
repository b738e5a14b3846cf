"""Failure rates over repeated runs of one kernel (pure: RunResults in, Cases out).

Every case key (workload/rxe, report/<title>, taint/odirect...) gets fail:runs, LKP's
notation: the runs in which it failed, of the runs that decided it. A run that ended in
infrastructure trouble decides nothing and is left out. A kernel report's runs are the runs
whose console was scanned (the kernel booted). The decision, per key:

- apply/config/build: deterministic; a failure in any run is a failure.
- without a base: failing in every run, or in a run that also had a kernel report, is a
  failure; failing in some runs and passing in the others without a kernel report is flaky
  (NIPA's rule: fails, passes on retry, did not crash), reported and not counted;
  a kernel report is never flaky.
- with the base's runs: a regression only when the series' rate is above the base's by the
  one-sided Fisher exact test at alpha (bench/stats.py); otherwise reported, not counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.result import Case, RunResult, Status
from bench.stats import fisher_greater

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


def count(results: Sequence[RunResult]) -> dict[str, Count]:
    """fail:runs of every case key over the decided runs."""
    keys = sorted({f"{c.group}/{c.name}" for r in decided(results) for c in r.cases
                   if c.group not in ("infra", "baseline")})
    out = {}
    for key in keys:
        fails = runs = with_report = errors = skips = 0
        for r in decided(results):
            status = {f"{c.group}/{c.name}": c.status for c in r.cases}
            reported = any(c.group == "report" and c.status is Status.FAIL for c in r.cases)
            scanned = status.get("boot/boot") in (Status.PASS, Status.FAIL)
            got = status.get(key) or (Status.PASS if key.startswith("report/") and scanned else None)
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


def decide(key: str, s: Count, b: Count | None, alpha: float) -> Rate:
    flaky = 0 < s.fails < s.runs and s.with_report == 0 and not key.startswith("report/")
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


def rates(series: Sequence[RunResult], base: Sequence[RunResult] | None, alpha: float) -> list[Rate]:
    s_counts = count(series)
    b_counts = count(base) if base is not None else None
    return [decide(k, c, (b_counts.get(k, _base_default(k, base)) if b_counts is not None else None), alpha)
            for k, c in s_counts.items()]


def _base_default(key: str, base: Sequence[RunResult] | None) -> Count:
    """A key the base never had: a report it never showed passed in every scanned base run."""
    if base is None or not key.startswith("report/"):
        return Count()
    scanned = [r for r in decided(base) if any(c.group == "boot" and c.status in (Status.PASS, Status.FAIL)
                                               for c in r.cases)]
    return Count(0, len(scanned))


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
