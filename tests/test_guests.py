from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.base.errors import UserError
from bench.run import guests

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
    with pytest.raises(UserError, match=r"nosuch\.yaml: no such workload or set \(known: .*smoke"):
        guests.select(["nosuch"], GUESTS)


@pytest.mark.parametrize("text, err", [
    ("script: x.sh\ntimeout: -1\n", "'timeout' must be a positive number"),
    ("script: x.sh\nbogus: 1\n", "unknown key\\(s\\): bogus"),
    ("script: missing.sh\n", "script missing.sh not found"),
    ("script: x.sh\nparams: {lower: 1}\n", "param name 'lower' must be UPPER_CASE"),
    ("script: x.sh\nparams: {A: 'has space'}\n", "param A default: value 'has space' has spaces"),
    ("script: x.sh\nnetwork: wifi\n", "'network' must be one of loop, user"),
    ("script: [x\n", "invalid YAML"),
])
def test_bad_yaml_is_one_line_error_naming_file(tmp_path: Path, text: str, err: str) -> None:
    (tmp_path / "x.sh").write_text("true\n")
    (tmp_path / "w.yaml").write_text(text)
    with pytest.raises(UserError, match=r"w\.yaml(:\d+)?: " + err):  # YAML errors name the line too
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


def test_sets_expand_in_place_and_default_set_reaches_every_guard() -> None:
    by_set = guests.sets(GUESTS)
    assert {"default", "deep"} <= set(by_set)
    chosen = [w.name for w in guests.select(["default"], GUESTS)]
    assert chosen[-1] == "pin-balance" and len(chosen) == len(set(chosen))
    assert {"gup-test", "mm-selftests", "iouring", "rxe", "odirect"} <= set(chosen)
    assert [w.name for w in guests.select(["smoke", "default"], GUESTS)][0] == "smoke"


def test_cmdline_of_selected_workloads() -> None:
    chosen = guests.select(["default"], GUESTS)
    assert any(a.startswith("movablecore=") for a in guests.cmdline(chosen))
    assert guests.cmdline(guests.select(["smoke"], GUESTS)) == ()


def test_bad_sets_file_names_it(tmp_path: Path) -> None:
    (tmp_path / "x.sh").write_text("true\n")
    (tmp_path / "x.yaml").write_text("script: x.sh\n")
    (tmp_path / "sets.yaml").write_text("mine: [x, nosuch]\n")
    with pytest.raises(UserError, match=r"sets\.yaml: set 'mine': no such workload\(s\) nosuch"):
        guests.select(["mine"], tmp_path)
    (tmp_path / "sets.yaml").write_text("x: [x]\n")
    with pytest.raises(UserError, match=r"sets\.yaml: set 'x' has the name of a workload"):
        guests.select(["x"], tmp_path)


@pytest.mark.parametrize("item, err", [
    ("odirect.NOSUCH=1", r"odirect\.yaml: odirect has no parameter NOSUCH \(declared: FS_MB"),
    ("odirect.RACE_SECONDS=abc", r"odirect\.yaml: RACE_SECONDS must be an integer"),
    ("odirect.RACE_SECONDS=0", r"odirect\.yaml: RACE_SECONDS=0 is below its minimum 1"),
    ("odirect.FS_MB=99999", r"odirect\.yaml: FS_MB=99999 is above its maximum 4096"),
])
def test_param_override_checks_name_type_and_range(item: str, err: str) -> None:
    chosen = guests.select(["odirect"], GUESTS)
    with pytest.raises(UserError, match=err):
        guests.override(chosen, [item])


@pytest.mark.parametrize("text, err", [
    ("script: x.sh\nparams: {A: {default: 1, type: float}}\n", "param A: type must be one of int, str"),
    ("script: x.sh\nparams: {A: {type: int}}\n", r"param A: want \{default, type, min, max\}"),
    ("script: x.sh\nparams: {A: {default: 0, type: int, min: 1}}\n", "param A default: A=0 is below its minimum 1"),
    ("script: x.sh\nparams: {A: {default: x, type: str, max: 3}}\n", "param A: min/max need type int"),
    ("script: x.sh\ncmdline: 'a b'\n", "'cmdline' must be a list of kernel command-line words"),
])
def test_bad_typed_params_and_cmdline(tmp_path: Path, text: str, err: str) -> None:
    (tmp_path / "x.sh").write_text("true\n")
    (tmp_path / "w.yaml").write_text(text)
    with pytest.raises(UserError, match=r"w\.yaml(:\d+)?: " + err):  # YAML errors name the line too
        guests.load(tmp_path / "w.yaml")


def test_typed_param_default_and_plain_value() -> None:
    (w,) = guests.select(["gup-test"], GUESTS)
    assert ("MB", "8") in w.params
    assert guests.override((w,), ["gup-test.MB=16"])[0].params[0] == ("MB", "16")


def test_timeouts_scale_with_the_hosts_load() -> None:
    from bench.run import plan
    assert plan.timeout_scale({}, load=1.9, cpus=2) == (1.0, "host load 1.9 on 2 CPU(s) when the run was planned")
    assert plan.timeout_scale({}, load=7.3, cpus=2)[0] == 4.0  # capped: a host to fix, not to wait for
    assert plan.timeout_scale({}, load=5.1, cpus=2)[0] == 3.0  # in halves, up
    assert plan.timeout_scale({"BENCH_TIMEOUT_SCALE": "2.5"}, load=9.0, cpus=1) == (2.5, "$BENCH_TIMEOUT_SCALE")
    with pytest.raises(UserError, match=r"BENCH_TIMEOUT_SCALE='0.5': want 1 to 10"):
        plan.timeout_scale({"BENCH_TIMEOUT_SCALE": "0.5"})
    w = guests.select(["odirect"], GUESTS)
    scaled = guests.scale_timeouts(w, 2.5, "host load 5.0 on 2 CPU(s)")
    assert scaled[0].timeout == math.ceil(w[0].timeout * 2.5)
    assert scaled[0].scaled == f" (its {w[0].timeout}s x2.5: host load 5.0 on 2 CPU(s))"
    assert guests.scale_timeouts(w, 1.0, "quiet") == w and w[0].scaled == ""
    assert f"\t{scaled[0].timeout}\t" in guests.plan_text(scaled)  # what the guest enforces
