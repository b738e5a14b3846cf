"""Night-to-night comparison rules and the nightly exit code (pure data, no runs)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.drivers.nightly.history import compare, exit_code, history
from bench.drivers.nightly.night_data import Comparison, Night, NightEntry

WORKLOADS = ("rxe", "pin-balance")


def entry(entry_id: str, *failing: str, verdict: str | None = None, errors: tuple[str, ...] = (),
          booted: bool = True, ran: tuple[str, ...] = WORKLOADS) -> NightEntry:
    cases = {"build/kernel": "pass", "boot/boot": "pass" if booted else "fail"}
    cases.update({f"workload/{w}": "pass" for w in ran})
    cases.update({k: "fail" for k in failing})
    cases.update({k: "error" for k in errors})
    fails = [{"key": k, "status": "fail", "message": f"{k} broke"} for k in failing]
    fails += [{"key": k, "status": "error", "message": "machine"} for k in errors]
    verdict = verdict or ("fail" if failing else "error" if errors else "pass")
    return NightEntry.from_json({"id": entry_id, "run_id": entry_id.replace("/", "--"), "verdict": verdict,
                                 "cases": cases, "failing": fails})


def night(name: str, *entries: NightEntry, **extra: Any) -> Night:
    return Night.from_json({"name": name, "started": f"2026-01-{name}", "complete": True, "shard": None,
                            "entries": [e.to_json() for e in entries], "missing": [], **extra})


def keys(result: Comparison, kind: str) -> set[tuple[str, str]]:
    return {(i.id, i.key) for i in result.of(kind)}


def test_new_fixed_still() -> None:
    before = night("01", entry("a/x", "workload/rxe"), entry("b/x", "workload/rxe", "report/BUG in foo"))
    now = [entry("a/x", "workload/rxe", "workload/pin-balance"), entry("b/x"), entry("c/x", "build/kernel")]
    c = compare(now, [before])
    assert keys(c, "still") == {("a/x", "workload/rxe")}
    assert keys(c, "new") == {("a/x", "workload/pin-balance"), ("c/x", "build/kernel")}
    assert keys(c, "fixed") == {("b/x", "workload/rxe"), ("b/x", "report/BUG in foo")}
    assert c.baseline == {"a/x": "01", "b/x": "01", "c/x": None}


def test_gone_is_not_fixed_unless_decided_again() -> None:
    before = night("01", entry("a/x", "workload/rxe", "report/BUG in foo"))
    # The kernel died: no verdict on rxe (ERROR inside a FAIL run) nor on the report.
    now = entry("a/x", "boot/boot", errors=("workload/rxe",), booted=False, ran=())
    now = replace(now, verdict="fail")
    c = compare([now], [before])
    assert keys(c, "new") == {("a/x", "boot/boot")} and not c.infra and not c.fixed
    assert keys(c, "untested") == {("a/x", "workload/rxe"), ("a/x", "report/BUG in foo")}
    # The workload left the matrix: untested, not fixed.
    c = compare([entry("a/x", ran=("pin-balance",))], [before])
    assert keys(c, "untested") == {("a/x", "workload/rxe")} and keys(c, "fixed") == {("a/x", "report/BUG in foo")}


def test_infra_error_is_not_new_and_the_baseline_skips_it() -> None:
    ok = night("01", entry("a/x", "workload/rxe"))
    broken = night("02", entry("a/x", errors=("boot/boot",)))
    c = compare([entry("a/x", errors=("boot/boot",))], [ok])
    assert keys(c, "infra") == {("a/x", "boot/boot")} and not c.new
    assert keys(c, "untested") == {("a/x", "workload/rxe")}
    # The next good night compares with the last decided one, not with the broken one.
    c = compare([entry("a/x", "workload/rxe")], [broken, ok])
    assert keys(c, "still") == {("a/x", "workload/rxe")} and c.baseline["a/x"] == "01"


def test_exit_code_rules() -> None:
    def code(entries: list[NightEntry], past: list[Night], **extra: Any) -> int:
        n = night("09", *entries, **extra)
        return exit_code(replace(n, comparison=compare(n.entries, past)))

    past = [night("01", entry("a/x", "workload/rxe"))]
    assert code([entry("a/x", "workload/rxe")], past) == 0  # still failing only
    assert code([entry("a/x")], past) == 0  # fixed
    assert code([entry("a/x", "workload/pin-balance")], past) == 1
    assert code([entry("a/x", "workload/rxe"), entry("b/x", errors=("boot/boot",))], past) == 2
    assert code([entry("a/x", "workload/pin-balance"), entry("b/x", errors=("boot/boot",))], past) == 1
    assert code([entry("a/x", "workload/rxe")], past, missing=["b/x"]) == 2
    assert code([entry("a/x", "workload/rxe")], past, complete=False) == 2
    assert code([entry("a/x", "workload/rxe")], []) == 1  # first night: every failure is news


def test_history_takes_complete_unsharded_earlier_nights(tmp_path: Path) -> None:
    def put(name: str, **extra: Any) -> None:
        (tmp_path / name).mkdir()
        (tmp_path / name / "night.json").write_text(json.dumps(night(name, **extra).to_json()))

    put("01")
    put("02", shard={"index": 1, "count": 2})
    put("03", complete=False)
    put("04")
    put("06")
    (tmp_path / "05").mkdir()  # no night.json: ignored
    found = history(tmp_path, "2026-01-05", tmp_path / "04")
    assert [n.name for n in found] == ["01"]
    assert [n.name for n in history(tmp_path, "2026-01-07", tmp_path / "x")] == ["06", "04", "01"]
