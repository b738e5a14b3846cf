"""Verdicts from a real recorded boot (tests/data/boots/canary-tcg: `bench run canary`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import BOOTS, World, ended

from bench.cli.main import main as bench_main
from bench.run import cases, guests, qemu
from bench.run.qemu import QemuStatus
from bench.run.result import Case, RunResult, Status

BOOT = Path(__file__).parent / "data" / "boots" / "canary-tcg"
GUESTS = Path(__file__).resolve().parent.parent / "guests"
LINES = (BOOT / "console.log").read_text().splitlines()
WORKLOADS = guests.select(["rxe", "odirect", "gup-test", "pin-balance"], GUESTS)
CONSOLE = Path(__file__).parent / "data" / "console"
KERNEL_BUG = [ln for ln in (CONSOLE / "vm-bug-on-page-xen-boot.log").read_text().splitlines()
              if not ln.startswith("#@")]


def facts(rc: int | None = 0, timed_out: bool = False) -> cases.BootFacts:
    return cases.BootFacts(rc, timed_out, 80.0, BOOT / "console.log")


def test_spans_follow_the_kmsg_markers() -> None:
    where = cases.spans(LINES)
    assert list(where) == ["rxe", "odirect", "gup-test", "pin-balance"]
    assert all(s.end is not None and s.start < s.end for s in where.values())
    odirect = where["odirect"]
    assert cases.blame(odirect.start + 1, where) == "odirect"
    assert cases.blame(0, where) is None  # early boot


def test_recorded_canary_verdicts() -> None:
    found = {c.name: c for c in cases.workload_cases(WORKLOADS, BOOT / "guest", LINES, facts())}
    assert found["rxe"].status is Status.FAIL and "pins still held after deregistration" in found["rxe"].message
    assert found["pin-balance"].status is Status.FAIL and "pin imbalance" in found["pin-balance"].message
    assert found["odirect"].status is Status.PASS and "O_DIRECT reads" in found["odirect"].output
    assert found["gup-test"].status is Status.PASS and "PIN_FAST_BENCHMARK" in found["gup-test"].output
    assert cases.boot_case(facts(), LINES).status is Status.PASS


def test_death_and_hang_mid_workload(tmp_path: Path) -> None:
    # Keep the console up to the middle of odirect, then a real kernel BUG: the kernel died there.
    cut = cases.spans(LINES)["odirect"].start + 1
    lines = LINES[:cut] + KERNEL_BUG
    guest = tmp_path / "guest"
    guest.mkdir()
    for name in ("rxe.log", "rxe.rc"):
        (guest / name).write_bytes((BOOT / "guest" / name).read_bytes())
    died = facts(rc=255)
    found = {c.name: c for c in cases.workload_cases(WORKLOADS, guest, lines, died)}
    assert found["odirect"].status is Status.FAIL and "kernel died" in found["odirect"].message
    assert found["gup-test"].status is Status.ERROR and "not run" in found["gup-test"].message
    assert cases.boot_case(died, lines).message == "the kernel died (vng exit 255)"
    hung = cases.boot_case(facts(rc=None, timed_out=True), lines)
    assert hung.status is Status.FAIL and "timeout" in hung.message


def test_no_kernel_output_is_infrastructure() -> None:
    case = cases.boot_case(facts(rc=1), ["qemu-system-x86_64: -device virtio-net: not found"])
    assert case.status is Status.ERROR


def test_kernel_that_never_reached_user_space() -> None:
    head = [ln for ln in LINES if "pinbench:" not in ln][:80]
    case = cases.boot_case(facts(rc=255), head)
    assert case.status is Status.FAIL and "did not reach user space" in case.message


def test_skip_and_timeout_codes(tmp_path: Path) -> None:
    (tmp_path / "gup-test.log").write_text("SKIP: /sys/kernel/debug/gup_test missing\n")
    (tmp_path / "gup-test.rc").write_text("4 1.0 2.5\n")
    (tmp_path / "odirect.log").write_text("== fio\n")
    (tmp_path / "odirect.rc").write_text("124 1.0 301.0\n")
    lines = ended(ended(LINES, "gup-test", 4), "odirect", 124)
    found = {c.name: c for c in cases.workload_cases(WORKLOADS, tmp_path, lines, facts())}
    assert found["gup-test"].status is Status.SKIP and found["gup-test"].secs == 1.5
    assert found["gup-test"].message.startswith("SKIP: /sys/kernel/debug/gup_test")
    assert found["odirect"].status is Status.FAIL and found["odirect"].message == "timed out after 300s"


@pytest.mark.parametrize("file_rc, console_rc, status", [
    (0, 1, Status.FAIL),  # a process the failing workload left behind wrote a passing rc file
    (1, 0, Status.FAIL),
    (0, 4, Status.ERROR),  # pass or skip: which one cannot be told
])
def test_an_rc_file_that_disagrees_with_the_console_is_never_a_pass(tmp_path: Path, file_rc: int, console_rc: int,
                                                                   status: Status) -> None:
    (tmp_path / "odirect.log").write_text("== fio\n")
    (tmp_path / "odirect.rc").write_text(f"{file_rc} 1.0 2.0\n")
    found = {c.name: c for c in cases.workload_cases(WORKLOADS, tmp_path, ended(LINES, "odirect", console_rc),
                                                     facts())}
    assert found["odirect"].status is status
    assert found["odirect"].message == (f"its rc file says exit {file_rc}, the console's end marker exit"
                                        f" {console_rc}: one was overwritten")


def cut_at_odirect(tmp_path: Path) -> tuple[list[str], Path]:
    """The canary console up to the start of odirect (rxe's files kept): the VM stopped there."""
    lines = LINES[:cases.spans(LINES)["odirect"].start + 1]
    guest = tmp_path / "guest"
    guest.mkdir()
    for name in ("rxe.log", "rxe.rc"):
        (guest / name).write_bytes((BOOT / "guest" / name).read_bytes())
    return lines, guest


@pytest.mark.parametrize("rc", [255, 137, 0])  # vng says 255 for a killed QEMU too: no exit code came back
def test_a_vm_stopped_without_a_kernel_report_is_infrastructure(tmp_path: Path, rc: int) -> None:
    lines, guest = cut_at_odirect(tmp_path)
    boot = cases.boot_case(facts(rc=rc), lines)
    assert boot.status is Status.ERROR
    assert boot.message == f"the VM stopped before the workloads were done, without a kernel report (vng exit {rc})" \
        ": killed from the host?"
    found = {c.name: c for c in cases.workload_cases(WORKLOADS, guest, lines, facts(rc=rc))}
    assert found["rxe"].status is Status.FAIL  # it finished before: its own verdict stands
    assert found["odirect"].status is Status.ERROR and "without a kernel report" in found["odirect"].message
    assert found["gup-test"].status is Status.ERROR and "not run" in found["gup-test"].message


@pytest.mark.parametrize("evidence", [
    KERNEL_BUG,
    ["[  120.000000] Out of memory: Killed process 321 (fio) total-vm:1048576kB, anon-rss:900000kB"],
    ["[  120.000000] Kernel panic - not syncing: hung_task: blocked tasks"],
])
def test_a_vm_that_stopped_after_a_fatal_kernel_report_failed(tmp_path: Path, evidence: list[str]) -> None:
    lines, guest = cut_at_odirect(tmp_path)
    lines += evidence
    for rc in (255, 137):
        assert cases.boot_case(facts(rc=rc), lines).message == f"the kernel died (vng exit {rc})"
        found = {c.name: c for c in cases.workload_cases(WORKLOADS, guest, lines, facts(rc=rc))}
        assert found["odirect"].status is Status.FAIL and "kernel died" in found["odirect"].message


def test_the_runner_refusing_its_results_folder_is_infrastructure() -> None:
    head = [ln for ln in LINES if "pinbench:" not in ln][:200]
    case = cases.boot_case(facts(rc=cases.RUNNER_REFUSED), head)
    assert case.status is Status.ERROR and "runner exit 3" in case.message and "not the series" in case.message
    assert cases.boot_case(facts(rc=None, timed_out=True), head).status is Status.FAIL  # a hang is the kernel's
    killed = cases.boot_case(facts(rc=128 + 9), head)  # vng SIGKILLed before the guest was ready
    assert killed.status is Status.ERROR and "killed by signal 9" in killed.message


def test_a_failing_workload_lists_the_reports_seen_while_it_ran(tmp_path: Path) -> None:
    lines, guest = cut_at_odirect(tmp_path)
    lines += KERNEL_BUG
    found = {c.name: c for c in cases.workload_cases(WORKLOADS, guest, lines, facts(rc=255))}
    odirect = found["odirect"]
    assert odirect.reports == ("kernel BUG in xen_pin_page",)  # as data, for known issues
    assert "kernel BUG in xen_pin_page" in odirect.output  # and for people
    assert found["rxe"].reports == ()  # the BUG came after rxe
    plain = Case("workload", "x", Status.FAIL, output="x\n")
    assert cases.with_reports(plain, []) == plain


def test_reports_seen_survive_summary_json(tmp_path: Path) -> None:
    """A case's report titles are data in summary.json (read back, not parsed from its output)."""
    case = cases.with_reports(Case("workload", "rxe", Status.FAIL, output="log"), ["WARNING in rxe_x", "BUG: y"])
    result = RunResult("r", "s", tmp_path, (case, Case("boot", "boot", Status.PASS)), 1.0)
    data = json.loads(json.dumps(result.to_json()))
    assert "reports" not in data["cases"][1]  # none: the case's JSON is as before
    back = RunResult.from_json(data, tmp_path)
    assert back.cases[0].reports == ("WARNING in rxe_x", "BUG: y") and back.cases == result.cases


@pytest.mark.parametrize("cut, rc, end, code", [
    (False, 255, "exit 0", 1), (True, 255, "signal KILL", 2), (True, 137, "signal KILL", 2),
    (True, 255, "exit 0", 1),  # QEMU ended by itself mid-workload: the kernel reset, no report
    (True, 255, None, 2),  # no QEMU wrapper: the guess (no fatal report) stands
])
def test_end_to_end_a_vm_killed_from_the_host_exits_2(world: World, cut: bool, rc: int, end: str | None,
                                                      code: int) -> None:
    """A recorded boot cut in the middle of odirect, its QEMU SIGKILLed there (the fake QEMU behind
    the bench's wrapper): exit 2, not 1; the whole boot with vng exit 255 (the kernel died on the
    way out) stays a failure, and so does a QEMU that exited by itself mid-workload."""
    if end is None:
        world.mp.setattr(qemu, "write_wrapper", lambda folder: None)
    else:
        world.mp.setenv("FAKE_QEMU_END", end)
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
    (run,) = world.results.iterdir()
    summary = json.loads((run / "summary.json").read_text())
    said = {"exit 0": "exited 0", "signal KILL": "killed by signal 9", None: "unknown"}[end]
    assert summary["info"]["qemu"] == said
    boot = next(c for c in summary["cases"] if c["group"] == "boot")
    if cut and end == "signal KILL":
        assert boot["message"] == "QEMU was killed by signal 9 on the host (OOM killer?): not the series"
    if cut and end == "exit 0":
        assert boot["status"] == "fail" and boot["message"].startswith("the kernel stopped the VM (reset or power-off)")


# -- how QEMU ended, from the bench's QEMU wrapper (bench/run/qemu.py) ---------------------------------


def qfacts(status: QemuStatus, rc: int = 255) -> cases.BootFacts:
    return cases.BootFacts(rc, False, 80.0, BOOT / "console.log", status)


def test_a_qemu_killed_on_the_host_is_infrastructure_even_after_a_report(tmp_path: Path) -> None:
    lines, guest = cut_at_odirect(tmp_path)
    for evidence in ([], KERNEL_BUG):  # a report does not make the host's SIGKILL the kernel's doing
        boot = cases.boot_case(qfacts(QemuStatus(signal=9)), lines + evidence)
        assert boot.status is Status.ERROR
        assert boot.message == "QEMU was killed by signal 9 on the host (OOM killer?): not the series"
        found = {c.name: c for c in cases.workload_cases(WORKLOADS, guest, lines + evidence,
                                                           qfacts(QemuStatus(signal=9)))}
        assert found["odirect"].status is Status.ERROR
        assert found["odirect"].message == ("did not finish: QEMU was killed by signal 9 on the host (OOM killer?)"
                                            " while it ran")
        assert found["rxe"].status is Status.FAIL  # finished before: its own verdict stands
    early = cases.boot_case(qfacts(QemuStatus(signal=9)), [ln for ln in LINES if "pinbench:" not in ln][:80])
    assert early.status is Status.ERROR and early.message.endswith("before the guest was ready: not the series")


def test_a_qemu_that_exited_by_itself_mid_workload_is_the_kernels_doing(tmp_path: Path) -> None:
    lines, guest = cut_at_odirect(tmp_path)
    boot = cases.boot_case(qfacts(QemuStatus(code=0)), lines)  # no report at all: a silent reset
    assert boot.status is Status.FAIL
    assert boot.message == ("the kernel stopped the VM (reset or power-off) before the workloads were done,"
                            " without a report (QEMU exit 0)")
    found = {c.name: c for c in cases.workload_cases(WORKLOADS, guest, lines, qfacts(QemuStatus(code=0)))}
    assert found["odirect"].status is Status.FAIL and "kernel died" in found["odirect"].message
    with_bug = cases.boot_case(qfacts(QemuStatus(code=0)), lines + KERNEL_BUG)
    assert with_bug.status is Status.FAIL and with_bug.message == "the kernel died (vng exit 255)"
    assert cases.boot_case(qfacts(QemuStatus(code=0), rc=0), LINES).status is Status.PASS


def test_qemu_saying_it_was_stopped_by_a_signal_is_infrastructure(tmp_path: Path) -> None:
    """QEMU exits 0 on SIGTERM/SIGINT/SIGHUP, and says so: whoever sent it, not the kernel."""
    lines, guest = cut_at_odirect(tmp_path)
    lines += ["qemu-system-x86_64: terminating on signal 15 from pid 4242 (systemd)"]
    # the wrapper read it on QEMU's own stderr; or there was no wrapper's word, only the console
    for status in (QemuStatus(code=0, said=15), QemuStatus()):
        boot = cases.boot_case(qfacts(status), lines)
        assert boot.status is Status.ERROR
        assert boot.message == "QEMU was stopped by signal 15 on the host (it said so): not the series"


def test_a_guest_forging_qemus_signal_line_does_not_make_its_failure_the_hosts(tmp_path: Path) -> None:
    """The console mixes the guest's serial output with QEMU's stderr: a guest (a workload, a
    kernel message) printing QEMU's words must not turn the kernel's stop into exit 2."""
    lines, guest = cut_at_odirect(tmp_path)
    lines += ["qemu-system-x86_64: terminating on signal 15 from pid 4242 (systemd)"]
    boot = cases.boot_case(qfacts(QemuStatus(code=0)), lines)  # the wrapper saw QEMU exit, saying nothing
    assert boot.status is Status.FAIL and "the kernel stopped the VM" in boot.message
    found = {c.name: c for c in cases.workload_cases(WORKLOADS, guest, lines, qfacts(QemuStatus(code=0)))}
    assert found["odirect"].status is Status.FAIL


def test_the_benchs_own_signals_and_timeout_are_not_the_hosts(tmp_path: Path) -> None:
    lines, _ = cut_at_odirect(tmp_path)
    mine = cases.boot_case(qfacts(QemuStatus(signal=9, sent=True)), lines + KERNEL_BUG)
    assert mine.status is Status.FAIL and "QEMU was killed" not in mine.message
    timeout = cases.BootFacts(None, True, 80.0, BOOT / "console.log", QemuStatus(code=0))
    hung = cases.boot_case(timeout, lines + ["qemu-system-x86_64: terminating on signal 15 from pid 1 (python3)"])
    assert hung.status is Status.FAIL and "timeout" in hung.message


def test_a_console_flood_fails_the_boot_and_says_so(tmp_path: Path) -> None:
    lines, guest = cut_at_odirect(tmp_path)  # the VM was stopped in odirect, its console over the limit
    flood = cases.BootFacts(None, True, 80.0, BOOT / "console.log", flooded=True)
    boot = cases.boot_case(flood, lines)
    assert boot.status is Status.FAIL and boot.message.startswith("the kernel flooded the console")
    found = {c.name: c for c in cases.workload_cases(WORKLOADS, guest, lines, flood)}
    assert found["odirect"].status is Status.FAIL
    assert found["odirect"].message == "did not finish: the console passed its limit (a printk storm) while it ran"


@pytest.mark.parametrize("sig, why", [(9, " (OOM killer?)"), (11, " (QEMU crashed)"), (6, " (QEMU crashed)"), (15, "")])
def test_the_signal_that_killed_qemu_says_whose_doing_it_likely_was(tmp_path: Path, sig: int, why: str) -> None:
    # 2026-12-07: a TCG QEMU died of SIGSEGV while the guest probed PCI (run 20261207-125656,
    # exit 2); the message blamed the OOM killer
    lines, _ = cut_at_odirect(tmp_path)
    boot = cases.boot_case(qfacts(QemuStatus(signal=sig)), lines)
    assert boot.status is Status.ERROR
    assert boot.message == f"QEMU was killed by signal {sig} on the host{why}: not the series"
