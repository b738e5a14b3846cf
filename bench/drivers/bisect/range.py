"""Range mode: `git bisect run` over good..bad in a scratch worktree, `bench bisect-step` as the test."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from bench.base import proc, rundir
from bench.base.errors import InfraError
from bench.drivers.bisect.bisection import Aborted, Bisection
from bench.drivers.bisect.journal import bad_step
from bench.drivers.bisect.judge import Signature, Verdict
from bench.drivers.bisect.model import BisectResult, Conclusion, Culprit, Options
from bench.run import tree
from bench.run.plan import Plan, RunRequest, write_request
from bench.run.printer import Printer
from bench.run.worktree import worktree

_FIRST_BAD = re.compile(r"^# first bad commit: \[([0-9a-f]{7,64})\]")
_POSSIBLE = re.compile(r"^# possible first bad commit: \[([0-9a-f]{7,64})\]")


PACKAGE_ROOT = Path(__file__).resolve().parents[3]


def step_command(bisect_dir: Path, opts: Options, signature: Signature) -> list[str]:
    """The `git bisect run` command: one `bench bisect-step` reading the bisect's request.json.

    The child runs in the scratch worktree (--tree and --base HEAD are added by the caller);
    everything else it needs is in the request file, so no option is lost on the way.
    """
    return [sys.executable, "-m", "bench", "bisect-step", "--request", str(bisect_dir / rundir.REQUEST),
            "--bisect-dir", str(bisect_dir), "--patches", "0", "--repeat", str(opts.repeat),
            *(a for key in sorted(p.spelled for p in signature) for a in ("--signature", key))]


def child_env(home: Path) -> dict[str, str]:
    """What `python -m bench` needs in a scratch worktree: this package and the project."""
    path = os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "BENCH_HOME": str(home)}


def bisect_range(plan: Plan, request: RunRequest, printer: Printer, opts: Options,
                 good: str, bad: str) -> BisectResult:
    """`git bisect run` over good..bad of plan.tree, in a scratch worktree.

    plan.series brings kconfigs, workloads and suppressions; its patches are not applied.
    request is what made plan: each step rebuilds its plan from it, on the step's commit.
    """
    good_sha, bad_sha = tree.resolve_base(plan.tree, good), tree.resolve_base(plan.tree, bad)
    plan = plan.with_patches(0)
    b = Bisection(plan, printer, opts, "range")
    write_request(replace(request, results=b.dir, run_id=None), b.dir / rundir.REQUEST)
    b.info.update(good=good_sha, bad=bad_sha)
    b.journal.note(f"bisect {plan.tree}: good {good_sha} bad {bad_sha}, repeat {opts.repeat}")
    with b.sweep.stopping(b.stopped):
        try:
            if ended := b.check_ends((replace(plan, base=bad_sha), f"bad {bad_sha[:12]}"),
                                     (replace(plan, base=good_sha), f"good {good_sha[:12]}")):
                return ended
            assert b.signature is not None
            if b.workloads is not None:  # the children read their plan from here
                write_request(replace(request, results=b.dir, run_id=None, workloads=b.workloads),
                              b.dir / rundir.REQUEST)
            end = _git_bisect(b, good_sha, bad_sha, step_command(b.dir, opts, b.signature), child_env(plan.home))
            if end.culprit and _parent(plan.tree, end.culprit.commit) == good_sha:
                if ended := b.good_end_fails((replace(plan, base=good_sha), f"good {good_sha[:12]}")):
                    return ended
        except Aborted as e:
            return b.aborted(e)
        except InfraError as e:  # git itself failed: still leave a summary behind
            return b.finish(Conclusion.INFRA, str(e))
    return b.finish(end.conclusion, end.message, end.culprit, end.candidates)


@dataclass(frozen=True)
class _End:
    """How git bisect run ended, before the bisection is finished (its files written)."""

    conclusion: Conclusion
    message: str
    culprit: Culprit | None = None
    candidates: tuple[str, ...] = ()


def _git_bisect(b: Bisection, good: str, bad: str, argv: list[str], env: Mapping[str, str]) -> _End:
    scratch = b.plan.cache_dir / "bisect" / b.run_id
    log = b.dir / rundir.GIT_BISECT_LOG
    with worktree(b.plan.tree, bad, scratch):
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
    (b.dir / rundir.GIT_BISECT_REPLAY).write_text(bisect_log)
    return _range_conclusion(b, run, bisect_log)


def _parent(repo: Path, commit: str) -> str:
    try:
        return proc.output(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{commit}^"]).strip()
    except InfraError:
        return ""


def _echo(printer: Printer, line: str) -> None:
    """A step child's output: already timestamped by its own Printer."""
    printer.stream.write(line + "\n")
    printer.stream.flush()


def parse_bisect_log(text: str) -> tuple[str | None, list[str]]:
    """`git bisect log` -> (first bad commit, possible first bad commits if only skips left)."""
    first = next((m.group(1) for line in text.splitlines() if (m := _FIRST_BAD.match(line))), None)
    maybe = [m.group(1) for line in text.splitlines() if (m := _POSSIBLE.match(line))]
    return first, maybe


def _range_conclusion(b: Bisection, run: proc.ProcResult | None, bisect_log: str) -> _End:
    first, maybe = parse_bisect_log(bisect_log)
    if first:
        step = bad_step(b.journal.steps(), lambda s: s.commit == first)
        subject = _subject(b.plan.tree, first)
        culprit = Culprit(first, subject, first, None, step.evidence if step else ())
        return _End(Conclusion.FOUND, f"first bad commit: {first[:12]} {subject}", culprit)
    if maybe:
        return _End(Conclusion.AMBIGUOUS, "only untestable commits left: the first bad is one of "
                    + ", ".join(c[:12] for c in maybe), candidates=tuple(maybe))
    last = next((s for s in reversed(b.journal.steps()) if s.verdict is Verdict.ABORT), None)
    said = run.tail[-1] if run and run.tail else f"exit {run.rc if run else '?'}"
    why = last.reason if last else said
    return _End(Conclusion.INFRA, f"git bisect run stopped: {why}")


def _subject(repo: Path, commit: str) -> str:
    try:
        return proc.output(["git", "-C", str(repo), "log", "-1", "--format=%s", commit]).strip()
    except InfraError:
        return ""

