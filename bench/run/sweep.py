"""A sweep: a folder of sub-runs, each an ordinary `pipeline.run` under a name of its own.

Every driver that runs the pipeline more than once is one: --each (a run a prefix), --repeat
(r1..rN), bisect (a run a step), prove (00-control, 01-BUG...), the nightly (a run an entry),
and a run's own --baseline (its `baseline/` sub-run). The sweep claims the folder (rundir),
names each sub-run (rundir.sub_name, rundir.again, rundir.BASELINE: the driver's choice), and
`sub()` is the one place a plan's results root and run id change (plan.claim_run claims a
top-level run's own folder; tests/test_architecture.py holds every other module to it).

When the sub-runs are stopped (`stopping()`): a KeyboardInterrupt (Ctrl-C, SIGTERM, SIGHUP:
bench/cli/main.py raises it) or a BenchError (a sub-run's folder could not be claimed or its
results written, a base that does not resolve) leaves the finished sub-runs' folders as they
are, and the one that was running has its own summary.json (pipeline.run writes it whatever
happens). The driver's `write(why)` then writes its own summary.json, junit.xml and table,
marked incomplete (each file atomically: files.write_atomic), and the exception goes on up:
exit 2, "interrupted" or the error's one line. Should that write fail too (a full disk), its
error is the one that goes up (exit 2 all the same). The drivers render their own summaries:
the sweep only says when, and why.

A stopped sweep can be finished later (`reopen()`, `bench prove --resume`): a sub-run whose
summary.json says it finished is read back instead of run again; one that was stopped, hit the
machine or left no summary is set aside (NAME.stopped: rundir.set_aside) and run again. A
finished summary of another run (its id, series or base commit not the plan's: a folder copied
or renamed by hand, a branch that moved) is refused, never read back as this one. While its
sub-runs run a sweep holds its folder (`held()`, flock): a second `--resume` of it, or one while
the first still runs, is refused instead of setting a running sub-run's folder aside.

The sweep is given the run function (pipeline.run) rather than importing it: the pipeline's
--baseline is a sweep of its own, so the pipeline imports this module.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.base import formats, rundir
from bench.base.errors import BenchError, UserError, one_line, quote
from bench.run import tree
from bench.run.plan import Plan, claim_run
from bench.run.printer import Printer
from bench.run.result import RunResult, Status

Runner = Callable[[Plan, Printer], RunResult]  # pipeline.run


@dataclass(frozen=True)
class Sweep:
    dir: Path  # the folder the sub-runs' folders are made in
    runner: Runner
    resume: bool = False  # reopen(): a sub-run that finished before is read back, not run again

    @classmethod
    def new(cls, root: Path, label: str, runner: Runner) -> Sweep:
        """A new folder `<YYYYmmdd-HHMMSS>-<label>` under root, minted and claimed (-2, -3...)."""
        return cls(root / rundir.new_folder(root, label), runner)

    @classmethod
    def of_run(cls, plan: Plan, runner: Runner) -> tuple[Sweep, Plan]:
        """The plan's own folder claimed as a top-level run's would be (a minted id moves on to
        -2...; one the caller chose must be new), with the plan as claimed: --repeat's folder."""
        claimed = claim_run(plan)
        return cls(claimed.results_dir, runner), claimed

    @classmethod
    def reopen(cls, folder: Path, runner: Runner) -> Sweep:
        """An earlier sweep's folder, to finish what it did not (see above)."""
        if not folder.is_dir():
            raise UserError(f"{folder}: no such folder to resume")
        return cls(folder, runner, resume=True)

    def sub(self, plan: Plan, name: str) -> Plan:
        """plan as the sub-run `name` of this folder (its folder is claimed when it runs)."""
        return dataclasses.replace(plan, results_root=self.dir, run_id=name)

    def run(self, plan: Plan, name: str, printer: Printer) -> RunResult:
        """Run plan as the sub-run `name`; its result (its folder: result.results_dir). Resumed:
        the result of a sub-run that finished before, else the stopped one set aside and run again."""
        if self.resume:
            if (done := finished(self.dir / name, plan)) is not None:
                printer.say(f"finished before: {done.verdict.name}, read back from {name}/{rundir.SUMMARY}")
                return done
            if aside := rundir.set_aside(self.dir, name):
                printer.say(f"did not finish before: kept as {aside}, run again")
        return self.runner(self.sub(plan, name), printer)

    @contextmanager
    def held(self) -> Iterator[None]:
        """The folder held by this process while the sub-runs run (released when it ends, however)."""
        try:
            fd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as e:
            raise UserError(f"{self.dir}: cannot open the folder: {e.strerror}") from e
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UserError(f"{self.dir}: in use by another bench (its proof still runs, or is being"
                                " resumed): wait for it to end") from None
            except OSError:
                pass  # a filesystem without flock (some network ones): not held, as before --resume
            yield
        finally:
            os.close(fd)

    @contextmanager
    def stopping(self, write: Callable[[str], object]) -> Iterator[None]:
        """Around the sub-runs: when a KeyboardInterrupt or a BenchError stops them, write(why)
        writes the driver's files from what finished, then the exception goes on (see above)."""
        try:
            yield
        except KeyboardInterrupt as e:
            write(f"interrupted by {e}" if str(e) else "interrupted")
            raise
        except BenchError as e:
            write(one_line(str(e)))
            raise


def finished(folder: Path, plan: Plan) -> RunResult | None:
    """The result a sub-run of plan left, if it finished: its summary.json reads back and neither
    the machine nor a stop ended it (an ERROR verdict, an infra case: such a run decided nothing).
    A UserError when it finished but is not plan's run in this folder (see above)."""
    path = folder / rundir.SUMMARY
    try:
        result = RunResult.from_json(formats.check(path, formats.load_json(path), formats.SUMMARY), folder)
    except (formats.FormatProblem, AttributeError, KeyError, TypeError, ValueError):
        return None  # none (stopped before it was written), half a file, another bench's
    if result.verdict is Status.ERROR or any(c.group == "infra" for c in result.cases):
        return None
    base = tree.resolve_base(plan.tree, plan.base or plan.series.base)  # as pipeline.run records it
    if (result.run_id, result.series, result.facts.base) != (folder.name, plan.series.name, base):
        raise UserError(f"{path}: the run {quote(result.run_id, 60)} of {quote(result.series, 60)} on"
                        f" {quote((result.facts.base or '?')[:12])}, not {folder.name} of {plan.series.name} on"
                        f" {base[:12]}: not a run of this sweep (start a new one)")
    return result
