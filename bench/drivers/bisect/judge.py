"""Judging runs against a bisection's signature: the failing workload/* and report/* cases.

A run that fails some other way is not "bad" (a foreign crash steering a bisection:
syzkaller #3855); a run whose series did not apply or build is untestable (skip); a run the
machine failed (any ERROR case: host trouble) aborts the bisection instead of being skipped."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bench.base import casekey
from bench.base.casekey import KeyPattern
from bench.run.cases import tail
from bench.run.result import Case, RunResult, Status

# Failing cases to look for: --signature patterns (workload/NAME, report/TITLE-REGEX, see
# bench/base/casekey.py), or the tip's failing keys, each picking exactly its case.
Signature = frozenset[KeyPattern]

SETUP_GROUPS = ("apply", "config", "build")  # a failure here: nothing was tested
SIGNATURE_GROUPS = ("workload", "report")
EVIDENCE_LIMIT = 16 * 1024


class Outcome(str, enum.Enum):
    """One run judged against the signature."""

    REPRODUCED = "reproduced"
    CLEAN = "clean"
    OTHER = "other"  # failed, but not with the signature
    UNTESTABLE = "untestable"  # did not apply/configure/build (FAIL), or its workloads did not run
    INFRA = "infra"  # the machine failed, not the kernel (any ERROR case: bisect aborts)


class Verdict(str, enum.Enum):
    """One step (N runs of one kernel); the values git bisect run understands are below."""

    GOOD = "good"
    BAD = "bad"
    SKIP = "skip"
    ABORT = "abort"


GIT_BISECT_RC = {Verdict.GOOD: 0, Verdict.BAD: 1, Verdict.SKIP: 125, Verdict.ABORT: 128}


@dataclass(frozen=True)
class Evidence:
    """A signature case of a reproducing run: what the first-bad report shows."""

    key: str
    message: str
    output: str


def parse_signature(keys: Iterable[str]) -> Signature | None:
    """--signature values: workload/NAME or report/TITLE-REGEX patterns; none given: None."""
    found = frozenset(casekey.parse(k, "", "--signature", SIGNATURE_GROUPS) for k in keys)
    return found or None


def exact(keys: Iterable[str]) -> Signature:
    """The signature of failing keys seen at the tip: each picks only its own case."""
    return frozenset(casekey.exact(k) for k in keys)


def shown(signature: Signature | None) -> list[str]:
    """The signature as people read it (sorted; summary.json, bisect.log)."""
    return sorted(map(str, signature or ()))


def _hits(failing: frozenset[str], signature: Signature | None) -> frozenset[str]:
    return failing if signature is None else frozenset(k for k in failing if casekey.any_matches(signature, k))


def failing_keys(result: RunResult) -> frozenset[str]:
    """The failing workload/* and report/* cases.

    When the kernel died or hung, the workloads it cut short say nothing about the
    signature (they fail whatever killed it); only its reports count then.
    """
    died = any(c.group == "boot" and c.status is Status.FAIL for c in result.cases)
    groups = ("report",) if died else SIGNATURE_GROUPS
    return frozenset(c.key for c in result.cases if c.group in groups and c.status is Status.FAIL)


def _first(cases: Iterable[Case]) -> Case | None:
    return next(iter(cases), None)


def _said(case: Case) -> str:
    return f"{case.key}: {case.message}".rstrip(": ")


def _infra(result: RunResult) -> Case | None:
    """A case that says the machine failed: the bench's own errors (group infra) and every
    case the verdict marked ERROR (a build/config host trouble, a boot with no kernel output or
    a VM stopped from the host, a workload with no result file), except the workloads a dead or
    hung kernel never got to (ERROR "not run"): those are the kernel's doing."""
    died = any(c.group == "boot" and c.status is Status.FAIL for c in result.cases)
    return _first(c for c in result.cases if c.group == "infra" or (
        c.status is Status.ERROR and not (died and c.group == "workload")))


def classify(result: RunResult, signature: Signature | None) -> tuple[Outcome, str]:
    """One run against the signature (None: any workload/report failure reproduces)."""
    cases = result.cases
    infra = _infra(result)
    if infra is not None and (infra.group == "infra" or infra.group in SETUP_GROUPS):
        return Outcome.INFRA, _said(infra)  # nothing was tested
    if setup := _first(c for c in cases if c.group in SETUP_GROUPS and c.status is Status.FAIL):
        return Outcome.UNTESTABLE, _said(setup)  # the series' own fault at this step: skip it
    failing = failing_keys(result)
    hit = _hits(failing, signature)
    if hit:  # seen is seen, whatever went wrong on the host afterwards
        case = next(c for c in cases if c.key in hit)
        return Outcome.REPRODUCED, _said(case)
    if infra is not None:
        return Outcome.INFRA, _said(infra)
    if other := _first(c for c in cases if c.status in (Status.FAIL, Status.ERROR)):
        return Outcome.OTHER, f"different failure: {_said(other)}"
    if untested := _untested(result, signature):
        return Outcome.UNTESTABLE, f"{untested} did not run to a verdict"
    return Outcome.CLEAN, "no failure"


def _untested(result: RunResult, signature: Signature | None) -> str | None:
    """A signature workload that was skipped or not run: its silence proves nothing."""
    passed = [c.key for c in result.cases if c.status is Status.PASS]
    return next((str(p) for p in sorted(signature or (), key=str)
                 if p.workload is not None and not any(p.matches(k) for k in passed)), None)


def setup_failed(result: RunResult) -> bool:
    """Apply/config/build failed: deterministic, so repeating the step is pointless."""
    return any(c.group in SETUP_GROUPS and c.status is Status.FAIL for c in result.cases)


def decide(outcomes: Sequence[tuple[Outcome, str]]) -> tuple[Verdict, str]:
    """The step's verdict: bad if the signature reproduced in any run (k/N said)."""
    kinds = [o for o, _ in outcomes]

    def why(kind: Outcome) -> str:
        return next(r for o, r in outcomes if o is kind)

    k = kinds.count(Outcome.REPRODUCED)
    if k:
        return Verdict.BAD, f"{k}/{len(outcomes)} reproduced: {why(Outcome.REPRODUCED)}"
    if Outcome.INFRA in kinds:
        return Verdict.ABORT, f"infrastructure: {why(Outcome.INFRA)}"
    if Outcome.OTHER in kinds:
        return Verdict.SKIP, f"0/{len(outcomes)} reproduced, {why(Outcome.OTHER)}"
    if Outcome.UNTESTABLE in kinds:
        return Verdict.SKIP, f"untestable: {why(Outcome.UNTESTABLE)}"
    return Verdict.GOOD, f"0/{len(outcomes)} reproduced"


def evidence_of(result: RunResult, signature: Signature | None) -> tuple[Evidence, ...]:
    hit = _hits(failing_keys(result), signature)
    return tuple(Evidence(c.key, c.message, tail(c.output, EVIDENCE_LIMIT))
                 for c in result.cases if c.key in hit)



def signature_workloads(signature: Signature, report_workloads: dict[str, str | None] | None,
                        workloads: Sequence[tuple[str, bool]]) -> tuple[str, ...] | None:
    """The workloads a step needs to see the signature: those it names, those its reports were
    seen in (report_workloads: title -> workload at the bad end), and every `last` one; None
    (all of them) when that cannot be known: a report seen during boot or not seen at all, or a
    signature naming only `last` workloads (a leak pin-balance sees may come from any other).
    workloads: (name, last) in plan order."""
    last = {name for name, is_last in workloads if is_last}
    named = {name for name, _ in workloads for p in signature if casekey.picks_workload(p, name)}
    for p in signature:
        if p.group == "report":
            seen = [w for title, w in (report_workloads or {}).items() if p.matches(f"report/{title}")]
            if not seen or None in seen:
                return None
            named.update(w for w in seen if w is not None)
    if not named - last:
        return None
    keep = tuple(name for name, _ in workloads if name in named | last)
    return keep if len(keep) < len(workloads) else None
