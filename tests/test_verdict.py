"""Verdicts from a real recorded boot (tests/data/boots/canary-tcg: `bench run canary`)."""

from __future__ import annotations

from pathlib import Path

from bench import guests, verdict
from bench.result import Status

BOOT = Path(__file__).parent / "data" / "boots" / "canary-tcg"
GUESTS = Path(__file__).resolve().parent.parent / "guests"
LINES = (BOOT / "console.log").read_text().splitlines()
WORKLOADS = guests.select(["rxe", "odirect", "gup-test", "pin-balance"], GUESTS)


def facts(rc: int | None = 0, timed_out: bool = False) -> verdict.BootFacts:
    return verdict.BootFacts(rc, timed_out, 80.0, BOOT / "console.log")


def test_spans_follow_the_kmsg_markers() -> None:
    where = verdict.spans(LINES)
    assert list(where) == ["rxe", "odirect", "gup-test", "pin-balance"]
    assert all(s.end is not None and s.start < s.end for s in where.values())
    odirect = where["odirect"]
    assert verdict.blame(odirect.start + 1, where) == "odirect"
    assert verdict.blame(0, where) is None  # early boot


def test_recorded_canary_verdicts() -> None:
    cases = {c.name: c for c in verdict.workload_cases(WORKLOADS, BOOT / "guest", LINES, facts())}
    assert cases["rxe"].status is Status.FAIL and "pins still held after deregistration" in cases["rxe"].message
    assert cases["pin-balance"].status is Status.FAIL and "pin imbalance" in cases["pin-balance"].message
    assert cases["odirect"].status is Status.PASS and "O_DIRECT reads" in cases["odirect"].output
    assert cases["gup-test"].status is Status.PASS and "PIN_FAST_BENCHMARK" in cases["gup-test"].output
    assert verdict.boot_case(facts(), LINES).status is Status.PASS


def test_death_and_hang_mid_workload(tmp_path: Path) -> None:
    # Keep the console up to the middle of odirect: as if the kernel died there.
    cut = verdict.spans(LINES)["odirect"].start + 1
    lines = LINES[:cut]
    guest = tmp_path / "guest"
    guest.mkdir()
    for name in ("rxe.log", "rxe.rc"):
        (guest / name).write_bytes((BOOT / "guest" / name).read_bytes())
    died = facts(rc=255)
    cases = {c.name: c for c in verdict.workload_cases(WORKLOADS, guest, lines, died)}
    assert cases["odirect"].status is Status.FAIL and "kernel died" in cases["odirect"].message
    assert cases["gup-test"].status is Status.ERROR and "not run" in cases["gup-test"].message
    assert verdict.boot_case(died, lines).message == "the kernel died (vng exit 255)"
    hung = verdict.boot_case(facts(rc=None, timed_out=True), lines)
    assert hung.status is Status.FAIL and "timeout" in hung.message


def test_no_kernel_output_is_infrastructure() -> None:
    case = verdict.boot_case(facts(rc=1), ["qemu-system-x86_64: -device virtio-net: not found"])
    assert case.status is Status.ERROR


def test_kernel_that_never_reached_user_space() -> None:
    head = [ln for ln in LINES if "pinbench:" not in ln][:80]
    case = verdict.boot_case(facts(rc=255), head)
    assert case.status is Status.FAIL and "did not reach user space" in case.message


def test_skip_and_timeout_codes(tmp_path: Path) -> None:
    (tmp_path / "gup-test.log").write_text("SKIP: /sys/kernel/debug/gup_test missing\n")
    (tmp_path / "gup-test.rc").write_text("4 1.0 2.5\n")
    (tmp_path / "odirect.log").write_text("== fio\n")
    (tmp_path / "odirect.rc").write_text("124 1.0 301.0\n")
    cases = {c.name: c for c in verdict.workload_cases(WORKLOADS, tmp_path, LINES, facts())}
    assert cases["gup-test"].status is Status.SKIP and cases["gup-test"].secs == 1.5
    assert cases["gup-test"].message.startswith("SKIP: /sys/kernel/debug/gup_test")
    assert cases["odirect"].status is Status.FAIL and cases["odirect"].message == "timed out after 300s"
