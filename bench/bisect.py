"""`bench bisect`: find the first patch (or commit) whose kernel reproduces the tip's failure.

Series mode binary-searches, in this process, over how many of the series' patches are
applied (0 = the base, n = the tip). Range mode drives `git bisect run` in a scratch
worktree with `bench bisect-step` as the test command. Both match the *signature* of the
tip's failure (its failing workload/* and report/* cases), so a step that fails some other
way is a "skip", not "bad" (a foreign crash steering a bisection: syzkaller #3855).

Every step is a whole `pipeline.run` under the series' own name, so all steps share one
work slot: one incremental build dir, warm ccache. Each step's run folder lands in the
bisect's folder next to bisect.log (one line a step), steps.jsonl (the same, for
machines and for the parent of `git bisect run`), summary.json and junit.xml.
"""

from __future__ import annotations

import enum
import json
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench import junit, pipeline, proc, tree
from bench.errors import InfraError, UserError
from bench.pipeline import Plan
from bench.printer import Printer
from bench.result import Case, RunResult, Status
from bench.series import Patch
from bench.verdict import tail

Signature = frozenset[str]  # failing case keys, "workload/NAME" or "report/TITLE"

SETUP_GROUPS = ("apply", "config", "build")  # a failure here: nothing was tested
SIGNATURE_GROUPS = ("workload", "report")
EVIDENCE_LIMIT = 16 * 1024
LOG_NAME, STEPS_NAME = "bisect.log", "steps.jsonl"
_FIRST_BAD = re.compile(r"^# first bad commit: \[([0-9a-f]{7,64})\]")
_POSSIBLE = re.compile(r"^# possible first bad commit: \[([0-9a-f]{7,64})\]")


class Outcome(str, enum.Enum):
    """One run judged against the signature."""

    REPRODUCED = "reproduced"
    CLEAN = "clean"
    OTHER = "other"  # failed, but not with the signature
    UNTESTABLE = "untestable"  # did not apply/configure/build, or no kernel output
    INFRA = "infra"  # the machine failed, not the kernel


class Verdict(str, enum.Enum):
    """One step (N runs of one kernel); the values git bisect run understands are below."""

    GOOD = "good"
    BAD = "bad"
    SKIP = "skip"
    ABORT = "abort"


GIT_BISECT_RC = {Verdict.GOOD: 0, Verdict.BAD: 1, Verdict.SKIP: 125, Verdict.ABORT: 128}


class Conclusion(str, enum.Enum):
    FOUND = "found"
    AMBIGUOUS = "ambiguous"  # only untestable patches/commits left between good and bad
    NOT_REPRODUCIBLE = "not-reproducible"  # the tip does not fail (the way asked)
    BASE_FAILS = "base-fails"  # the good end already fails: nothing of ours to blame
    INFRA = "infra"


EXIT_CODES = {Conclusion.FOUND: 0, Conclusion.AMBIGUOUS: 1, Conclusion.NOT_REPRODUCIBLE: 1,
              Conclusion.BASE_FAILS: 1, Conclusion.INFRA: 2}


@dataclass(frozen=True)
class Evidence:
    """A signature case of a reproducing run: what the first-bad report shows."""

    key: str
    message: str
    output: str


@dataclass(frozen=True)
class Step:
    seq: int
    label: str  # "tip 6/6", "4/6", "bad 0123456789ab", a commit
    commit: str  # the kernel's HEAD ("" if it never got that far)
    patches: int | None  # patches applied (series mode)
    verdict: Verdict
    reason: str
    secs: float
    reproduced: int
    runs: tuple[str, ...]  # run folder names, inside the bisect folder
    failing: tuple[str, ...]  # failing signature-group keys, over all runs
    evidence: tuple[Evidence, ...] = ()

    @property
    def score(self) -> str:
        return f"{self.reproduced}/{len(self.runs)}"

    def log_line(self) -> str:
        commit = self.commit[:12] or "-"
        return (f"{self.seq:>3}  {self.label:<18} {commit:<12}  {self.verdict.value:<5} "
                f"{self.secs:>6.0f}s  {self.reason}")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict.value, "secs": round(self.secs, 1)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Step:
        return cls(**{**data, "verdict": Verdict(data["verdict"]), "runs": tuple(data["runs"]),
                      "failing": tuple(data["failing"]),
                      "evidence": tuple(Evidence(**e) for e in data.get("evidence", ()))})


@dataclass(frozen=True)
class Culprit:
    name: str  # patch file name, or the commit id
    subject: str
    commit: str
    index: int | None  # 1-based patch number (series mode)
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Options:
    signature: Signature | None = None  # None: established at the tip
    repeat: int = 1
    check: bool = False  # also verify the good end (ktest BISECT_CHECK): one more build


@dataclass(frozen=True)
class BisectResult:
    run_id: str
    mode: str  # series | range
    series: str
    results_dir: Path
    conclusion: Conclusion
    message: str
    signature: tuple[str, ...]
    steps: tuple[Step, ...]
    culprit: Culprit | None
    candidates: tuple[str, ...]  # AMBIGUOUS: where the first bad may be
    secs: float
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.conclusion]

    @property
    def builds(self) -> int:
        return sum(len(s.runs) for s in self.steps)


class Aborted(Exception):
    """A step could not be run at all (infrastructure): the bisection stops."""

    def __init__(self, step: Step) -> None:
        super().__init__(step.reason)
        self.step = step


# -- judging runs -----------------------------------------------------------------------


def case_key(case: Case) -> str:
    return f"{case.group}/{case.name}"


def parse_signature(keys: Iterable[str]) -> Signature | None:
    """--signature values: "workload/NAME" or "report/TITLE"; none given: None."""
    found = tuple(keys)
    for key in found:
        group, _, name = key.partition("/")
        if group not in SIGNATURE_GROUPS or not name:
            raise UserError(f"--signature {key!r}: want workload/NAME or report/TITLE"
                            " (the failing case keys of a run's summary.json)")
    return frozenset(found) if found else None


def failing_keys(result: RunResult) -> Signature:
    """The failing workload/* and report/* cases.

    When the kernel died or hung, the workloads it cut short say nothing about the
    signature (they fail whatever killed it); only its reports count then.
    """
    died = any(c.group == "boot" and c.status is Status.FAIL for c in result.cases)
    groups = ("report",) if died else SIGNATURE_GROUPS
    return frozenset(case_key(c) for c in result.cases if c.group in groups and c.status is Status.FAIL)


def _first(cases: Iterable[Case]) -> Case | None:
    return next(iter(cases), None)


def _said(case: Case) -> str:
    return f"{case_key(case)}: {case.message}".rstrip(": ")


def classify(result: RunResult, signature: Signature | None) -> tuple[Outcome, str]:
    """One run against the signature (None: any workload/report failure reproduces)."""
    cases = result.cases
    if infra := _first(c for c in cases if c.group == "infra"):
        return Outcome.INFRA, _said(infra)
    if setup := _first(c for c in cases if c.group in SETUP_GROUPS and c.status is Status.FAIL):
        return Outcome.UNTESTABLE, _said(setup)
    failing = failing_keys(result)
    hit = failing if signature is None else failing & signature
    if hit:
        case = next(c for c in cases if case_key(c) in hit)
        return Outcome.REPRODUCED, _said(case)
    if dead := _first(c for c in cases if c.group == "boot" and c.status is Status.ERROR):
        return Outcome.UNTESTABLE, _said(dead)
    if other := _first(c for c in cases if c.status in (Status.FAIL, Status.ERROR)):
        return Outcome.OTHER, f"different failure: {_said(other)}"
    if untested := _untested(result, signature):
        return Outcome.UNTESTABLE, f"{untested} did not run to a verdict"
    return Outcome.CLEAN, "no failure"


def _untested(result: RunResult, signature: Signature | None) -> str | None:
    """A signature workload that was skipped or not run: its silence proves nothing."""
    passed = {case_key(c) for c in result.cases if c.status is Status.PASS}
    return next((k for k in sorted(signature or ()) if k.startswith("workload/") and k not in passed), None)


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
    hit = failing_keys(result) if signature is None else failing_keys(result) & signature
    return tuple(Evidence(case_key(c), c.message, tail(c.output, EVIDENCE_LIMIT))
                 for c in result.cases if case_key(c) in hit)


# -- running a step ---------------------------------------------------------------------


def run_step(plan: Plan, printer: Printer, *, signature: Signature | None, repeat: int,
             seq: int, label: str, run_id: str) -> Step:
    """Run plan up to `repeat` times (run ids run_id, run_id-r2, ...) and judge it."""
    outcomes: list[tuple[Outcome, str]] = []
    runs: list[str] = []
    failing: set[str] = set()
    evidence: tuple[Evidence, ...] = ()
    commit, secs = "", 0.0
    for r in range(1, repeat + 1):
        rid = run_id if repeat == 1 else f"{run_id}-r{r}"
        result = pipeline.run(replace(plan, run_id=rid), printer)
        runs.append(rid)
        secs += result.secs
        commit = str(result.info.get("head") or result.info.get("base") or commit)
        outcome = classify(result, signature)
        outcomes.append(outcome)
        failing |= failing_keys(result)
        if outcome[0] is Outcome.REPRODUCED and not evidence:
            evidence = evidence_of(result, signature)
        if outcome[0] is Outcome.INFRA or setup_failed(result):
            break
    verdict, reason = decide(outcomes)
    return Step(seq, label, commit, len(plan.series.patches), verdict, reason, secs,
                sum(o is Outcome.REPRODUCED for o, _ in outcomes), tuple(runs),
                tuple(sorted(failing)), evidence)


class Journal:
    """A bisect folder's running record: bisect.log for people, steps.jsonl for machines.

    Range-mode steps run in `git bisect run`'s child processes; they append here and the
    parent reads the steps back, so both kinds of step share one numbering and one log.
    """

    def __init__(self, folder: Path) -> None:
        self.dir = folder
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = folder / LOG_NAME
        self.jsonl = folder / STEPS_NAME

    def note(self, text: str) -> None:
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(f"# {text}\n")

    def add(self, step: Step) -> None:
        with open(self.log, "a", encoding="utf-8") as f:
            f.write(step.log_line() + "\n")
        with open(self.jsonl, "a", encoding="utf-8") as f:
            f.write(json.dumps(step.to_json()) + "\n")

    def steps(self) -> list[Step]:
        if not self.jsonl.is_file():
            return []
        return [Step.from_json(json.loads(line)) for line in self.jsonl.read_text().splitlines() if line]

    def next_seq(self) -> int:
        return len(self.steps()) + 1


def step_name(seq: int, label: str) -> str:
    """A run folder name for a step: "03-4of6", "05-0123456789ab"."""
    return f"{seq:02d}-" + re.sub(r"[^\w.-]+", "-", label.replace("/", "of")).strip("-")


# -- the search -------------------------------------------------------------------------


def next_candidate(good: int, bad: int, skipped: set[int]) -> int | None:
    """The untested point nearest the middle of (good, bad): a skip tries a neighbour."""
    left = [k for k in range(good + 1, bad) if k not in skipped]
    if not left:
        return None
    mid = (good + bad) // 2
    return min(left, key=lambda k: (abs(k - mid), k))


def search(good: int, bad: int, test: Callable[[int], Verdict]) -> tuple[int, int, set[int]]:
    """Binary search for the first bad k in (good, bad]; returns the final good, bad, skips.

    bad - good == 1 means found; otherwise only skipped points are left between them.
    """
    skipped: set[int] = set()
    while (k := next_candidate(good, bad, skipped)) is not None:
        verdict = test(k)
        if verdict is Verdict.BAD:
            bad = k
        elif verdict is Verdict.GOOD:
            good = k
        else:
            skipped.add(k)
    return good, bad, skipped


def max_builds(n: int) -> int:
    """Steps a bisection of n >= 1 patches needs at most without skips: the tip + ceil(log2 n)."""
    return math.ceil(math.log2(n)) + 1


# -- one bisection ----------------------------------------------------------------------


class Bisection:
    """Shared by both modes: the folder, the journal, the ends, and the final files."""

    def __init__(self, plan: Plan, printer: Printer, opts: Options, mode: str) -> None:
        self.plan, self.printer, self.opts, self.mode = plan, printer, opts, mode
        self.run_id = pipeline.new_run_id(plan.results_root, f"bisect-{plan.series.name}")
        self.dir = plan.results_root / self.run_id
        self.journal = Journal(self.dir)
        self.signature: Signature | None = opts.signature
        self.start = time.monotonic()
        self.info: dict[str, Any] = {"mode": mode, "series": plan.series.name, "tree": str(plan.tree),
                                     "repeat": opts.repeat, "check": opts.check}

    def say(self, text: str) -> None:
        self.printer.say(f"bisect: {text}")

    def step(self, plan: Plan, label: str) -> Step:
        """One step in this process, journalled; Aborted if it could not be run."""
        seq = self.journal.next_seq()
        name = step_name(seq, label)
        plan = replace(plan, results_root=self.dir,
                       extra_info={**plan.extra_info, "bisect": self.run_id, "bisect_step": label})
        self.say(f"step {seq}: {label}")
        step = run_step(plan, self.printer, signature=self.signature, repeat=self.opts.repeat,
                        seq=seq, label=label, run_id=name)
        self.journal.add(step)
        self.say(f"step {seq}: {label} is {step.verdict.value.upper()} ({step.reason}) in {step.secs:.0f}s")
        if step.verdict is Verdict.ABORT:
            raise Aborted(step)
        return step

    def check_ends(self, bad: tuple[Plan, str], good: tuple[Plan, str]) -> BisectResult | None:
        """Run the bad end (it sets the signature) and check the good one; a result ends it."""
        if self.signature is None or self.opts.check:
            tip = self.step(*bad)
            if tip.verdict is not Verdict.BAD:
                return self.finish(Conclusion.NOT_REPRODUCIBLE,
                                   f"the bad end ({tip.label}) does not reproduce: {tip.reason}")
            self.signature = self.signature or frozenset(tip.failing)
        else:
            self.say("bad end assumed bad (--signature without --check)")
        assert self.signature is not None
        self.journal.note(f"signature: {', '.join(sorted(self.signature))}")
        self.say(f"signature: {', '.join(sorted(self.signature))}")
        if self.opts.check:
            base = self.step(*good)
            if base.verdict is Verdict.BAD:
                return self.finish(Conclusion.BASE_FAILS,
                                   f"the good end ({base.label}) already reproduces: {base.reason}")
            if base.verdict is Verdict.SKIP:
                self.say(f"good end could not be checked ({base.reason}): assumed good")
        return None

    def finish(self, conclusion: Conclusion, message: str, culprit: Culprit | None = None,
               candidates: Sequence[str] = ()) -> BisectResult:
        result = BisectResult(
            self.run_id, self.mode, self.plan.series.name, self.dir, conclusion, message,
            tuple(sorted(self.signature or ())), tuple(self.journal.steps()), culprit,
            tuple(candidates), time.monotonic() - self.start, dict(self.info))
        self.journal.note(f"{conclusion.value}: {message}")
        write_results(result)
        return result

    def aborted(self, e: Aborted) -> BisectResult:
        return self.finish(Conclusion.INFRA, f"step {e.step.seq} ({e.step.label}): {e.step.reason}")


# -- series mode ------------------------------------------------------------------------


def bisect_series(plan: Plan, printer: Printer, opts: Options) -> BisectResult:
    """The first patch of plan.series whose kernel reproduces the tip's failure."""
    patches = plan.series.patches
    n = len(patches)
    if n == 0:
        raise UserError(f"{plan.series.source}: series {plan.series.name} has no patches to bisect")
    b = Bisection(plan, printer, opts, "series")
    b.info["patches"] = n
    b.journal.note(f"bisect {plan.series.name}: {n} patches, repeat {opts.repeat}")
    b.say(f"{n} patches of {plan.series.name} in {b.dir} (at most {max_builds(n)} steps"
          f"{' + the base check' if opts.check else ''} without skips)")

    def at(k: int) -> Plan:
        return replace(plan, series=replace(plan.series, patches=patches[:k]))

    try:
        if ended := b.check_ends((at(n), f"tip {n}/{n}"), (at(0), f"base 0/{n}")):
            return ended
        good, bad, _ = search(0, n, lambda k: b.step(at(k), f"{k}/{n}").verdict)
    except Aborted as e:
        return b.aborted(e)
    except KeyboardInterrupt:
        b.finish(Conclusion.INFRA, "interrupted by the user")
        raise
    if bad - good == 1:
        return b.finish(Conclusion.FOUND, f"first bad patch: {patches[bad - 1].name}",
                        _patch_culprit(b, patches[bad - 1], bad))
    maybe = [p.name for p in patches[good:bad]]
    return b.finish(Conclusion.AMBIGUOUS,
                    f"only untestable patches left: the first bad is one of {', '.join(maybe)}",
                    candidates=maybe)


def _patch_culprit(b: Bisection, patch: Patch, k: int) -> Culprit:
    step = _bad_step(b.journal.steps(), lambda s: s.patches == k)
    return Culprit(patch.name, patch.subject, step.commit if step else "", k,
                   step.evidence if step else ())


def _bad_step(steps: Sequence[Step], which: Callable[[Step], bool]) -> Step | None:
    return next((s for s in steps if s.verdict is Verdict.BAD and which(s)), None)


# -- range mode -------------------------------------------------------------------------


def bisect_range(plan: Plan, printer: Printer, opts: Options, good: str, bad: str,
                 step_argv: Sequence[str], env: Mapping[str, str]) -> BisectResult:
    """`git bisect run` over good..bad of plan.tree, in a scratch worktree.

    step_argv is the `bench bisect-step` command (with the run options); the tree,
    signature, repeat count and folder are added here. plan.series brings kconfigs,
    workloads and suppressions; its patches are not applied.
    """
    good_sha, bad_sha = tree.resolve_base(plan.tree, good), tree.resolve_base(plan.tree, bad)
    plan = replace(plan, series=replace(plan.series, patches=()))
    b = Bisection(plan, printer, opts, "range")
    b.info.update(good=good_sha, bad=bad_sha)
    b.journal.note(f"bisect {plan.tree}: good {good_sha} bad {bad_sha}, repeat {opts.repeat}")
    try:
        if ended := b.check_ends((replace(plan, base=bad_sha), f"bad {bad_sha[:12]}"),
                                 (replace(plan, base=good_sha), f"good {good_sha[:12]}")):
            return ended
        assert b.signature is not None
        argv = [*step_argv, "--patches", "0", "--repeat", str(opts.repeat), "--bisect-dir", str(b.dir),
                *(a for key in sorted(b.signature) for a in ("--signature", key))]
        return _git_bisect(b, good_sha, bad_sha, argv, env)
    except Aborted as e:
        return b.aborted(e)
    except InfraError as e:  # git itself failed: still leave a summary behind
        return b.finish(Conclusion.INFRA, str(e))
    except KeyboardInterrupt:
        b.finish(Conclusion.INFRA, "interrupted by the user")
        raise


def _git_bisect(b: Bisection, good: str, bad: str, argv: list[str], env: Mapping[str, str]) -> BisectResult:
    scratch = b.plan.cache_dir / "bisect" / b.run_id
    log = b.dir / "git-bisect.log"
    with tree.worktree(b.plan.tree, bad, scratch):
        git = ["git", "-C", str(scratch), *tree.QUIET_GIT, "bisect"]
        try:
            proc.check(proc.run([*git, "start", bad, good], log=log, on_line=b.printer.say),
                       "git bisect start")
            run = None
            if parse_bisect_log(proc.output([*git, "log"]))[0] is None:  # one commit: already known
                step = [*argv, "--tree", str(scratch), "--base", "HEAD"]
                run = proc.run([*git, "run", *step], cwd=scratch, env=env, log=log,
                               on_line=lambda line: _echo(b.printer, line))
            bisect_log = proc.output([*git, "log"])
        finally:
            proc.run([*git, "reset"], log=log)
    (b.dir / "git-bisect-log.txt").write_text(bisect_log)
    return _range_conclusion(b, run, bisect_log)


def _echo(printer: Printer, line: str) -> None:
    """A step child's output: already timestamped by its own Printer."""
    printer.stream.write(line + "\n")
    printer.stream.flush()


def parse_bisect_log(text: str) -> tuple[str | None, list[str]]:
    """`git bisect log` -> (first bad commit, possible first bad commits if only skips left)."""
    first = next((m.group(1) for line in text.splitlines() if (m := _FIRST_BAD.match(line))), None)
    maybe = [m.group(1) for line in text.splitlines() if (m := _POSSIBLE.match(line))]
    return first, maybe


def _range_conclusion(b: Bisection, run: proc.ProcResult | None, bisect_log: str) -> BisectResult:
    first, maybe = parse_bisect_log(bisect_log)
    if first:
        step = _bad_step(b.journal.steps(), lambda s: s.commit == first)
        subject = _subject(b.plan.tree, first)
        culprit = Culprit(first, subject, first, None, step.evidence if step else ())
        return b.finish(Conclusion.FOUND, f"first bad commit: {first[:12]} {subject}", culprit)
    if maybe:
        return b.finish(Conclusion.AMBIGUOUS,
                        "only untestable commits left: the first bad is one of "
                        + ", ".join(c[:12] for c in maybe), candidates=maybe)
    last = next((s for s in reversed(b.journal.steps()) if s.verdict is Verdict.ABORT), None)
    said = run.tail[-1] if run and run.tail else f"exit {run.rc if run else '?'}"
    why = last.reason if last else said
    return b.finish(Conclusion.INFRA, f"git bisect run stopped: {why}")


def _subject(repo: Path, commit: str) -> str:
    try:
        return proc.output(["git", "-C", str(repo), "log", "-1", "--format=%s", commit]).strip()
    except InfraError:
        return ""


# -- results ----------------------------------------------------------------------------


_STEP_STATUS = {Verdict.GOOD: Status.PASS, Verdict.BAD: Status.PASS, Verdict.SKIP: Status.SKIP,
                Verdict.ABORT: Status.ERROR}


def step_case(step: Step) -> Case:
    # A bad step is the bisection working, not a failure of it: only "first bad" fails.
    runs = "\n".join(step.runs)
    return Case("step", f"{step.seq:02d} {step.label}", _STEP_STATUS[step.verdict], step.secs,
                f"{step.verdict.value}: {step.reason}",
                f"{step.verdict.value} ({step.score} reproduced) at {step.commit or '-'}\nruns:\n{runs}")


def first_bad_case(result: BisectResult) -> Case:
    c = result.culprit
    if c is not None:
        sig = ", ".join(result.signature)
        evidence = "\n\n".join(f"== {e.key}: {e.message}\n{e.output}" for e in c.evidence)
        where = f" ({c.commit[:12]})" if c.commit and c.commit != c.name else ""
        return Case("bisect", "first bad", Status.FAIL, result.secs,
                    f"{c.name}{where}: {c.subject} [{sig}]", evidence)
    status = Status.ERROR if result.conclusion is Conclusion.INFRA else Status.SKIP
    return Case("bisect", "first bad", status, result.secs, result.message)


def to_run_result(result: BisectResult) -> RunResult:
    cases = (*(step_case(s) for s in result.steps), first_bad_case(result))
    return RunResult(result.run_id, result.series, result.results_dir, cases, result.secs,
                     {**result.info, "bisect": result.conclusion.value})


def to_json(result: BisectResult) -> dict[str, Any]:
    base = to_run_result(result).to_json()
    return {**base, "verdict": result.conclusion.value, "exit_code": result.exit_code,
            "bisect": {
                "mode": result.mode,
                "conclusion": result.conclusion.value,
                "message": result.message,
                "signature": list(result.signature),
                "first_bad": asdict(result.culprit) if result.culprit else None,
                "candidates": list(result.candidates),
                "builds": result.builds,
                "steps": [s.to_json() for s in result.steps],
            }}


def write_results(result: BisectResult) -> None:
    (result.results_dir / "summary.json").write_text(
        json.dumps(to_json(result), indent=2, default=str) + "\n", encoding="utf-8")
    junit.write(to_run_result(result), result.results_dir / "junit.xml")
