from __future__ import annotations

from pathlib import Path

import pytest

from bench import guests
from bench.errors import UserError

GUESTS = Path(__file__).resolve().parent.parent / "guests"


def test_shipped_workloads_load() -> None:
    names = guests.available(GUESTS)
    assert {"smoke", "rxe", "odirect", "gup-test", "pin-balance"} <= set(names)
    for w in guests.select(names, GUESTS):
        assert w.script.is_file() and w.timeout > 0


def test_pin_balance_always_runs_last() -> None:
    chosen = guests.select(["pin-balance", "gup-test", "smoke"], GUESTS)
    assert [w.name for w in chosen] == ["gup-test", "smoke", "pin-balance"]


def test_rxe_needs_a_nic_and_rdma_config() -> None:
    (rxe,) = guests.select(["rxe"], GUESTS)
    assert rxe.network == "loop" and "rdma" in rxe.kconfigs


def test_unknown_workload_names_known_ones() -> None:
    with pytest.raises(UserError, match=r"nosuch\.yaml: no such workload \(known: .*smoke"):
        guests.select(["nosuch"], GUESTS)


@pytest.mark.parametrize("text, err", [
    ("script: x.sh\ntimeout: -1\n", "'timeout' must be a positive number"),
    ("script: x.sh\nbogus: 1\n", "unknown key\\(s\\): bogus"),
    ("script: missing.sh\n", "script missing.sh not found"),
    ("script: x.sh\nparams: {lower: 1}\n", "param name 'lower' must be UPPER_CASE"),
    ("script: x.sh\nparams: {A: 'has space'}\n", "param A value 'has space' has spaces"),
    ("script: x.sh\nnetwork: wifi\n", "'network' must be one of loop, user"),
    ("script: [x\n", "invalid YAML"),
])
def test_bad_yaml_is_one_line_error_naming_file(tmp_path: Path, text: str, err: str) -> None:
    (tmp_path / "x.sh").write_text("true\n")
    (tmp_path / "w.yaml").write_text(text)
    with pytest.raises(UserError, match=r"w\.yaml: " + err):
        guests.load(tmp_path / "w.yaml")


def test_param_override_and_plan() -> None:
    chosen = guests.override(guests.select(["odirect"], GUESTS), ["odirect.RACE_SECONDS=3"])
    assert ("RACE_SECONDS", "3") in chosen[0].params
    name, timeout, script, params = guests.plan_text(chosen).rstrip("\n").split("\t")
    assert name == "odirect" and script.endswith("guests/odirect.sh") and "RACE_SECONDS=3" in params.split()
    with pytest.raises(UserError, match="workload rxe is not selected"):
        guests.override(chosen, ["rxe.ITERS=1"])
    with pytest.raises(UserError, match="want WORKLOAD.NAME=value"):
        guests.override(chosen, ["odirect.lower=1"])
