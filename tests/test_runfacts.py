"""RunFacts: summary.json's info, typed; older runs' summaries still read and write back as they were."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.run.pages import facts as page_facts
from bench.run.result import Case, RunResult, Status, write_summary_json
from bench.run.runfacts import Baseline, Probe, RunFacts, Stage

# The info of a real run's summary.json (bench run canary-pages, 2026-12-05 08:08 UTC, this shared
# 2-core VM, TCG; written before RunFacts existed), its timeline cut to three rows and its vng
# command line shortened; then the keys that run had no reason to write, in the pipeline's order.
REAL = {"series": "canary-pages", "tree": "/root/.cache/pinbench/linux-source-6.12",
        "started": "2026-12-05T08:08:49+00:00",
        "timeline": [{"stage": "apply", "start": 0.02, "secs": 1.65}, {"stage": "config", "start": 1.67, "secs": 4.46},
                     {"stage": "build", "start": 6.12, "secs": 23.76}],
        "base": "5553fe22a7652aa7ce6f244d364861523d5b9d9d", "kernel_version": "6.12.118", "slot": "slot-2",
        "mtimes_kept": 0, "head": "ae0e0270a39b83c0f2dd4cfbd55e42ee62ad27a2",
        "image": "/root/.cache/pinbench/work/slot-2/build/arch/x86/boot/bzImage", "accel": "tcg",
        "vng": "vng --run /root/.cache/pinbench/work/slot-2/build/arch/x86/boot/bzImage --disable-kvm",
        "vng_argv": ["vng", "--run", "/root/.cache/pinbench/work/slot-2/build/arch/x86/boot/bzImage", "--disable-kvm"],
        "vm_timeout": 780, "qemu": "exited 0"}
MORE = {"coverage": {"text": "12 of 14 changed lines ran", "coverable": 14},
        "probe": {"files": ["mm/gup.c"], "ok": True, "secs": 9.5},
        "baseline": {"verdict": "pass", "reports": ["WARNING in folio_mkclean"]},
        "known_issues": [{"id": "mkclean", "state": "active", "matched": []}]}


def test_a_real_runs_info_reads_typed_and_writes_back_byte_for_byte() -> None:
    labelled = {"series": REAL["series"], "tree": REAL["tree"], "nightly": "20261205-0100", "config": "default",
                **REAL, **MORE}  # plan.extra_info comes right after series and tree
    for info in (REAL, labelled):
        facts = RunFacts.from_json(json.loads(json.dumps(info)))
        assert json.dumps(facts.to_json()) == json.dumps(info)
    facts = RunFacts.from_json({**REAL, "nightly": "n", **MORE})
    assert facts.head == REAL["head"] and facts.vm_timeout == 780 and facts.vng_argv == tuple(REAL["vng_argv"])
    assert facts.timeline and facts.timeline[2] == Stage("build", 6.12, 23.76)
    assert facts.probe == Probe(("mm/gup.c",), True, 9.5)
    assert facts.baseline == Baseline("pass", ("WARNING in folio_mkclean",))
    assert facts.labels == {"nightly": "n"}  # a driver's label: kept, written where it was


def test_facts_not_known_are_left_out_and_a_null_reads_as_not_known() -> None:
    assert RunFacts().to_json() == {}
    assert RunFacts(known_issues=()).to_json() == {"known_issues": []}  # judged, none: still written
    old = RunFacts.from_json({"series": "s", "tree": "/t", "kernel_version": None, "head": None})
    assert old.kernel_version is None and old.head is None and old.to_json() == {"series": "s", "tree": "/t"}


@pytest.mark.parametrize("info, key", [
    ({"head": 7}, "info.head"), ({"vm_timeout": "780"}, "info.vm_timeout"),
    ({"timeline": [{"start": 1}]}, "info.timeline"), ({"timeline": {"stage": "x"}}, "info.timeline"),
    ({"probe": {"files": "mm/gup.c"}}, "info.probe"),
    ({"known_issues": ["mkclean"]}, "info.known_issues"), ({"mtimes_kept": True}, "info.mtimes_kept")])
def test_a_typed_key_of_another_type_is_named(info: dict[str, object], key: str) -> None:
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        RunFacts.from_json(info)


def test_a_summary_whose_info_does_not_read_is_named_on_one_line_and_left_out(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_summary_json(RunResult("r", "s", tmp_path, (Case("boot", "boot", Status.PASS),), 1.0,
                                 RunFacts("s", "/t", head="a" * 40)), tmp_path / "summary.json")
    assert page_facts.run_facts(page_facts.summary(tmp_path)).head == "a" * 40
    data = json.loads((tmp_path / "summary.json").read_text())
    data["info"]["timeline"] = "soon"
    (tmp_path / "summary.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"info\.timeline"):
        RunResult.from_json(data, tmp_path)
    assert page_facts.summary(tmp_path) == {}
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / "summary.json") in err and "info.timeline" in err
