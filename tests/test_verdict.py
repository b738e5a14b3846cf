"""Verdicts from a real recorded boot (tests/data/boots/canary-tcg: `bench run canary`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import BOOTS, World

from bench import guests, verdict
from bench.cli.main import main as bench_main
from bench.result import Status

BOOT = Path(__file__).parent / "data" / "boots" / "canary-tcg"
GUESTS = Path(__file__).resolve().parent.parent / "guests"
LINES = (BOOT / "console.log").read_text().splitlines()
WORKLOADS = guests.select(["rxe", "odirect", "gup-test", "pin-balance"], GUESTS)
CONSOLE = Path(__file__).parent / "data" / "console"
KERNEL_BUG = [ln for ln in (CONSOLE / "vm-bug-on-page-xen-boot.log").read_text().splitlines()
              if not ln.startswith("#@")]


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
    # Keep the console up to the middle of odirect, then a real kernel BUG: the kernel died there.
    cut = verdict.spans(LINES)["odirect"].start + 1
    lines = LINES[:cut] + KERNEL_BUG
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


def cut_at_odirect(tmp_path: Path) -> tuple[list[str], Path]:
    """The canary console up to the start of odirect (rxe's files kept): the VM stopped there."""
    lines = LINES[:verdict.spans(LINES)["odirect"].start + 1]
    guest = tmp_path / "guest"
    guest.mkdir()
    for name in ("rxe.log", "rxe.rc"):
        (guest / name).write_bytes((BOOT / "guest" / name).read_bytes())
    return lines, guest


@pytest.mark.parametrize("rc", [255, 137, 0])  # vng says 255 for a killed QEMU too: no exit code came back
def test_a_vm_stopped_without_a_kernel_report_is_infrastructure(tmp_path: Path, rc: int) -> None:
    lines, guest = cut_at_odirect(tmp_path)
    boot = verdict.boot_case(facts(rc=rc), lines)
    assert boot.status is Status.ERROR
    assert boot.message == f"the VM stopped before the workloads were done, without a kernel report (vng exit {rc})" \
        ": killed from the host?"
    cases = {c.name: c for c in verdict.workload_cases(WORKLOADS, guest, lines, facts(rc=rc))}
    assert cases["rxe"].status is Status.FAIL  # it finished before: its own verdict stands
    assert cases["odirect"].status is Status.ERROR and "without a kernel report" in cases["odirect"].message
    assert cases["gup-test"].status is Status.ERROR and "not run" in cases["gup-test"].message


@pytest.mark.parametrize("evidence", [
    KERNEL_BUG,
    ["[  120.000000] Out of memory: Killed process 321 (fio) total-vm:1048576kB, anon-rss:900000kB"],
    ["[  120.000000] Kernel panic - not syncing: hung_task: blocked tasks"],
])
def test_a_vm_that_stopped_after_a_fatal_kernel_report_failed(tmp_path: Path, evidence: list[str]) -> None:
    lines, guest = cut_at_odirect(tmp_path)
    lines += evidence
    for rc in (255, 137):
        assert verdict.boot_case(facts(rc=rc), lines).message == f"the kernel died (vng exit {rc})"
        cases = {c.name: c for c in verdict.workload_cases(WORKLOADS, guest, lines, facts(rc=rc))}
        assert cases["odirect"].status is Status.FAIL and "kernel died" in cases["odirect"].message


def test_the_runner_refusing_its_results_folder_is_infrastructure() -> None:
    head = [ln for ln in LINES if "pinbench:" not in ln][:200]
    case = verdict.boot_case(facts(rc=verdict.RUNNER_REFUSED), head)
    assert case.status is Status.ERROR and "runner exit 3" in case.message and "not the series" in case.message
    assert verdict.boot_case(facts(rc=None, timed_out=True), head).status is Status.FAIL  # a hang is the kernel's
    killed = verdict.boot_case(facts(rc=128 + 9), head)  # vng SIGKILLed before the guest was ready
    assert killed.status is Status.ERROR and "killed by signal 9" in killed.message


def test_a_failing_workload_lists_the_reports_seen_while_it_ran(tmp_path: Path) -> None:
    lines, guest = cut_at_odirect(tmp_path)
    lines += KERNEL_BUG
    cases = {c.name: c for c in verdict.workload_cases(WORKLOADS, guest, lines, facts(rc=255))}
    odirect = cases["odirect"]
    assert verdict.reports_seen(odirect.output) == ("kernel BUG in xen_pin_page",)
    assert verdict.reports_seen(cases["rxe"].output) == ()  # the BUG came after rxe
    assert verdict.reports_seen("a log\n") == () and verdict.with_reports("x\n", []) == "x\n"


@pytest.mark.parametrize("cut, rc, code", [(False, 255, 1), (True, 255, 2), (True, 137, 2)])
def test_end_to_end_a_vm_killed_from_the_host_exits_2(world: World, cut: bool, rc: int, code: int) -> None:
    """A recorded boot cut in the middle of odirect (as if QEMU was SIGKILLed there): exit 2, not 1;
    the whole boot with vng exit 255 (the kernel died on the way out) stays a failure."""
    folder = world.tmp / "boots" / "killed"
    shutil.copytree(BOOTS / "baseline-tcg", folder)
    if cut:
        lines = (folder / "console.log").read_text().splitlines(keepends=True)
        at = next(i for i, ln in enumerate(lines) if "workload odirect start" in ln) + 1
        (folder / "console.log").write_text("".join(lines[:at]))
        for name in ("odirect", "gup-test", "pin-balance"):
            for suffix in (".rc", ".log"):
                (folder / "guest" / f"{name}{suffix}").unlink(missing_ok=True)
    world.replay(folder, rc=rc)
    world.series("s", "workloads: [rxe, odirect, gup-test, pin-balance]\n", quilt=False)
    assert bench_main(["run", "s", "--accel", "tcg", "--results", str(world.results)]) == code
