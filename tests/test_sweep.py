"""bench/run/sweep.py: a folder of sub-runs, each named through sub(), and what a stop writes.

The drivers' own stopped sweeps are tested with them (test_each, test_repeat, test_prove,
test_bisect: `World.stop_run`); here the sweep alone, with a runner that only records.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bench.base.errors import BenchError, InfraError, UserError
from bench.run import series
from bench.run.plan import Plan
from bench.run.printer import Printer
from bench.run.result import RunResult
from bench.run.sweep import Runner, Sweep


def plan(root: Path, run_id: str = "top", minted: str = "top") -> Plan:
    return Plan(series=series.empty("s"), tree=root, base=None, fragments=(), workloads=(), home=root,
                results_root=root, cache_dir=root, run_id=run_id, minted_id=minted)


def recorder(seen: list[Plan]) -> Runner:
    def run(p: Plan, printer: Printer) -> RunResult:
        seen.append(p)
        return RunResult(p.run_id, p.series.name, p.results_dir, (), 0.0)
    return run


def test_a_sweep_claims_its_folder_and_names_each_sub_run(tmp_path: Path) -> None:
    seen: list[Plan] = []
    sweep = Sweep.new(tmp_path, "each-s", recorder(seen))
    assert sweep.dir.parent == tmp_path and sweep.dir.is_dir() and sweep.dir.name.endswith("-each-s")
    again = Sweep.new(tmp_path, "each-s", recorder(seen))  # the same second: -2, never the same folder
    assert again.dir != sweep.dir and again.dir.is_dir()
    result = sweep.run(plan(tmp_path), "00-base", Printer())
    (sub,) = seen
    assert (sub.results_root, sub.run_id, result.results_dir) == (sweep.dir, "00-base", sweep.dir / "00-base")
    assert dataclasses.replace(sub, results_root=tmp_path, run_id="top") == plan(tmp_path)  # nothing else changed


def test_a_repeat_s_folder_is_claimed_as_a_top_level_run_s(tmp_path: Path) -> None:
    (tmp_path / "top").mkdir()  # another run of the same second took the minted id
    sweep, claimed = Sweep.of_run(plan(tmp_path), recorder([]))
    assert claimed.run_id == "top-2" and sweep.dir == tmp_path / "top-2" and sweep.dir.is_dir()
    with pytest.raises(UserError, match="exists already"):  # an id the user chose must be new
        Sweep.of_run(plan(tmp_path, "top", minted=""), recorder([]))


@pytest.mark.parametrize("stop, why", [(KeyboardInterrupt("SIGTERM"), "interrupted by SIGTERM"),
                                       (KeyboardInterrupt(), "interrupted"),
                                       (InfraError("disk: full\nsecond line"), "disk: full\\nsecond line")])
def test_a_stopped_sweep_writes_what_finished_then_stops(tmp_path: Path, stop: BaseException, why: str) -> None:
    written: list[str] = []
    sweep = Sweep(tmp_path, recorder([]))
    with pytest.raises(type(stop)):
        with sweep.stopping(written.append):
            raise stop
    assert written == [why]


def test_a_sweep_that_ends_writes_nothing_itself_and_a_bug_is_not_a_stop(tmp_path: Path) -> None:
    written: list[str] = []
    sweep = Sweep(tmp_path, recorder([]))
    with sweep.stopping(written.append):
        pass
    with pytest.raises(ZeroDivisionError), sweep.stopping(written.append):
        1 / 0  # a bug of the driver's: its traceback, not a summary from a driver in an unknown state
    assert written == []


def test_a_write_that_fails_too_is_the_error_that_goes_up(tmp_path: Path) -> None:
    def full(why: str) -> None:
        raise InfraError("summary.json: disk full")
    with pytest.raises(BenchError, match="disk full") as e, Sweep(tmp_path, recorder([])).stopping(full):
        raise KeyboardInterrupt("SIGINT")
    assert isinstance(e.value.__context__, KeyboardInterrupt)
