"""Every stage's result -> Cases: apply, config, build, boot, workloads, kernel reports.

Pure: takes data, returns data (the pipeline reads files and writes results). The guest runner writes
`pinbench: workload NAME start` / `... end rc=N` to /dev/kmsg, so markers and
kernel reports share one ordered stream (the console) and each report can be
blamed on the workload that was running when it appeared.
"""

from __future__ import annotations

import math
import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bench.base import files, rundir
from bench.base.errors import quote
from bench.base.limits import LIMITS
from bench.report import taint
from bench.report.issues import KnownIssues, State, fixed_note
from bench.report.scanner import Report, scan
from bench.run import subcases
from bench.run.build import BuildResult, host_trouble
from bench.run.guests import SKIP_RC, TIMEOUT_RC, Workload
from bench.run.kconfig import ConfigResult, describe_dropped, dropped_verdict, requested
from bench.run.qemu import SIGNALLED, QemuStatus
from bench.run.result import Case, Status
from bench.run.tree import ApplyResult
from bench.run.vm import EXIT_KERNEL_DIED

_MARK = re.compile(r"pinbench: workload (\S+) (start|end rc=(\d+))")
READY = "pinbench: guest ready"
DONE = "pinbench: all workloads done"
RUNNER_REFUSED = 3  # guests/runner.sh, before "ready": the results folder is not writable or has no plan
# Reports that end (or stop) a kernel under kcmdline.FATAL_ENDS_THE_VM (oops=panic, hung_task_panic,
# softlockup_panic): the evidence that a VM which stopped early died of its kernel.
_FATAL_TYPES = frozenset({"BUG", "PAGE_FAULT", "GPF", "PANIC", "OOPS", "DOUBLE_FAULT", "LIST_CORRUPTION",
                          "HUNG_TASK", "RCU_STALL", "SOFT_LOCKUP", "HARD_LOCKUP"})
# Console lines that say the same even when no report was titled (the guest's own OOM killer too).
_FATAL_LINE = re.compile(r"Kernel panic - not syncing|Out of memory: Killed process|\bOops: ")
# QEMU exits 0 on SIGTERM, SIGINT and SIGHUP, saying so on stderr (the console): a host stop too.
# Read from the console only when the QEMU wrapper could not tell (host_signal).
_QEMU_SIGNALLED = re.compile(SIGNALLED)
REPORTS_SEEN = "---- kernel reports seen while it ran (console.log) ----"
OUTPUT_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Span:
    start: int
    end: int | None  # None: the workload never finished (kernel died or hung)
    rc: int | None = None  # the exit its end marker gave (the runner writes the same to its rc file)


@dataclass(frozen=True)
class BootFacts:
    rc: int | None
    timed_out: bool
    secs: float
    console: Path
    qemu: QemuStatus = QemuStatus()  # from the QEMU wrapper: exited(code), killed(signal) or unknown
    flooded: bool = False  # the bench stopped the VM for its console's size (timed_out is set too)

    def stop_why(self) -> str:
        """Why the bench stopped the VM (timed_out), as the cases say it."""
        return "the console passed its limit (a printk storm)" if self.flooded else "the VM timed out"


def spans(lines: Sequence[str]) -> dict[str, Span]:
    found: dict[str, Span] = {}
    for i, line in enumerate(lines):
        m = _MARK.search(line)
        if not m:
            continue
        name = m.group(1)
        if m.group(2) == "start":
            # the runner's start comes first: a later one (a process the workload left behind, the
            # kernel) must not erase the runner's end marker, which verdict checks the rc file against
            found.setdefault(name, Span(i, None))
        elif name in found:  # the span ends at the last end marker
            rc = files.guest_int(m.group(3))  # the guest's console: 5000 digits crashed int() (exit 2, no cases)
            rc = -1 if rc is None else rc
            if found[name].rc not in (None, rc):  # markers that disagree (one forged): no exit to trust, never 0
                rc = -1
            found[name] = Span(found[name].start, i, rc)
    return found


def blame(line: int, where: dict[str, Span]) -> str | None:
    """The workload running at console line `line` (None: boot or between workloads)."""
    for name, span in where.items():
        if span.start <= line and (span.end is None or line <= span.end):
            return name
    return None


def tail(text: str, limit: int = OUTPUT_LIMIT) -> str:
    return text if len(text) <= limit else "[... cut ...]\n" + text[-limit:]


def fatal(report: Report) -> bool:
    return (report.panicked or report.type in _FATAL_TYPES or report.type.startswith("VM_BUG_ON")
            or "D" in taint.taints_of(report.title, report.type))


def host_signal(boot: BootFacts, lines: Sequence[str]) -> int | None:
    """The signal QEMU got on the host from someone other than the bench (its timeout): the
    wrapper saw QEMU die of it (SIGKILL: the OOM killer), or QEMU said it exited on it. What QEMU
    said is read from its own stderr by the wrapper when the wrapper saw QEMU end: the console
    shares the line with the guest, which could print it to turn a failure into exit 2. Only
    without the wrapper's word (no wrapper, or it died with QEMU) is the console's line taken."""
    if boot.timed_out or boot.qemu.sent:
        return None
    if boot.qemu.signal is not None:
        return boot.qemu.signal
    if boot.qemu.known:
        return boot.qemu.said
    found = next((m for line in lines if (m := _QEMU_SIGNALLED.search(line))), None)
    return int(found.group(1)) if found else None


def _why_killed(sig: int) -> str:
    """A guess at who sent sig: SIGKILL is the OOM killer's; SIGSEGV, SIGBUS, SIGABRT, SIGILL and
    SIGFPE are QEMU's own crash (seen: a TCG QEMU with SIGSEGV while probing PCI, 2026-12-07)."""
    if sig == signal.SIGKILL:
        return " (OOM killer?)"
    if sig in (signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL, signal.SIGFPE):
        return " (QEMU crashed)"
    return ""


def host_stop(boot: BootFacts, lines: Sequence[str]) -> str:
    """Who stopped QEMU on the host, "" if nobody did as far as we know."""
    sig = host_signal(boot, lines)
    if sig is None:
        return ""
    if boot.qemu.signal == sig:
        return f"QEMU was killed by signal {sig} on the host{_why_killed(sig)}"
    return f"QEMU was stopped by signal {sig} on the host (it said so)"


def _fatal_seen(lines: Sequence[str], reports: Sequence[Report]) -> bool:
    return any(_FATAL_LINE.search(line) for line in lines) or any(fatal(r) for r in reports)


def stopped_from_outside(boot: BootFacts, lines: Sequence[str], reports: Sequence[Report] | None = None) -> bool:
    """The guest was running its workloads and did not finish them, the VM did not time out,
    and QEMU was stopped from the host (OOM killer, SIGKILL), so nothing can be said about the
    kernel. vng exits 255 for a dead kernel and for a killed QEMU alike; the QEMU wrapper tells
    them apart. Without it (status unknown) we guess: no fatal kernel report in the console.
    reports: the console's, when the caller has scanned it already (else it is scanned here)."""
    if boot.timed_out or not any(READY in line for line in lines) or any(DONE in line for line in lines):
        return False
    if host_signal(boot, lines) is not None:
        return True
    if boot.qemu.code is not None:  # QEMU exited by itself: the kernel ended the VM
        return False
    return not _fatal_seen(lines, scan(lines) if reports is None else reports)


def with_reports(case: Case, titles: Sequence[str]) -> Case:
    """A case plus the titles of the kernel reports seen with it: as data (`reports`, which
    known_case() matches an entry naming both a title and a case against) and in its evidence
    for people."""
    if not titles:
        return case
    seen = tuple(dict.fromkeys(titles))
    head = case.output.rstrip() + "\n" if case.output.strip() else ""
    return replace(case, output=head + REPORTS_SEEN + "\n" + "\n".join(seen) + "\n", reports=seen)


def boot_case(boot: BootFacts, lines: Sequence[str], reports: Sequence[Report] | None = None) -> Case:
    """reports: the console's, when the caller has scanned it already (else it is scanned here)."""
    found = scan(lines) if reports is None else reports
    case = _boot_case(boot, lines, found)
    if case.status is Status.FAIL:  # what the kernel said, for known issues naming boot/boot
        return with_reports(case, [r.title for r in found])
    return case


def _boot_case(boot: BootFacts, lines: Sequence[str], reports: Sequence[Report]) -> Case:
    ready = any(READY in line for line in lines)
    started = any("Linux version" in line for line in lines)
    excerpt = tail("\n".join(lines[-60:]), 16 * 1024)
    if ready:
        if boot.flooded:
            return Case("boot", "boot", Status.FAIL, boot.secs, "the kernel flooded the console (more than"
                        f" {LIMITS.console_chars} characters, a printk storm): the VM was stopped", excerpt)
        if boot.timed_out:
            return Case("boot", "boot", Status.FAIL, boot.secs, "the VM hit its timeout and was killed", excerpt)
        done = any(DONE in line for line in lines)
        if stopped_from_outside(boot, lines, reports):
            if why := host_stop(boot, lines):
                return Case("boot", "boot", Status.ERROR, boot.secs, f"{why}: not the series", excerpt)
            return Case("boot", "boot", Status.ERROR, boot.secs,
                        f"the VM stopped before the workloads were done, without a kernel report (vng exit"
                        f" {boot.rc}): killed from the host?", excerpt)
        if not done and boot.qemu.code is not None and not _fatal_seen(lines, reports):
            # QEMU ended by itself (the wrapper says so): a triple fault under -no-reboot, panic=-1
            return Case("boot", "boot", Status.FAIL, boot.secs, "the kernel stopped the VM (reset or power-off)"
                        f" before the workloads were done, without a report (QEMU exit {boot.qemu.code})", excerpt)
        if boot.rc == EXIT_KERNEL_DIED or not done:
            return Case("boot", "boot", Status.FAIL, boot.secs, f"the kernel died (vng exit {boot.rc})", excerpt)
        return Case("boot", "boot", Status.PASS, boot.secs, f"booted to user space (vng exit {boot.rc})")
    why = ("console flood" if boot.flooded else "timed out") if boot.timed_out else f"vng exit {boot.rc}"
    if not started:
        return Case("boot", "boot", Status.ERROR, boot.secs, f"no kernel output at all ({why}): vng/QEMU trouble", excerpt)
    if boot.rc == RUNNER_REFUSED and not boot.timed_out:  # user space ran: the runner refused the folder
        return Case("boot", "boot", Status.ERROR, boot.secs, f"the guest runner could not use the results folder"
                    f" (runner exit {RUNNER_REFUSED}: not writable, or no plan.tsv): host trouble, not the series",
                    excerpt)
    if why := host_stop(boot, lines):  # e.g. the OOM killer during boot
        return Case("boot", "boot", Status.ERROR, boot.secs, f"{why} before the guest was ready: not the series",
                    excerpt)
    if boot.rc is not None and 128 < boot.rc < EXIT_KERNEL_DIED and not boot.timed_out:
        # pexpect's 128+N: vng itself was killed by signal N (vng passes on only the runner's 0 or 3)
        return Case("boot", "boot", Status.ERROR, boot.secs, f"vng was killed by signal {boot.rc - 128} before"
                    " the guest was ready: host trouble, not the series", excerpt)
    return Case("boot", "boot", Status.FAIL, boot.secs, f"the kernel did not reach user space ({why})", excerpt)


def why_failed(output: str) -> str:
    """The first line a script marked FAIL, else its last line; spaces folded, bounded."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    line = next((ln for ln in lines if "FAIL" in ln), lines[-1] if lines else "")
    return " ".join(line.split())[:200]


def _read_rc(path: Path) -> tuple[int, float] | str:
    """(exit, seconds) from a workload's rc file ("EXIT START END", guests/runner.sh), else what is
    wrong with it ("" when there is none). The guest writes it: times that are not finite or run
    backwards count 0 s (NaN or Infinity made summary.json JSON that no reader takes, the
    bench's own included, and junit.xml time="nan")."""
    text = files.read_guest(path, 4096)
    if text is None:
        return ""
    fields = text.split()
    if not fields:
        return "its rc file is empty"
    try:
        rc = int(fields[0])
    except ValueError:
        return f"its rc file holds {quote(text.strip(), 40)}, not an exit code"
    try:
        secs = float(fields[2]) - float(fields[1]) if len(fields) >= 3 else 0.0
    except ValueError:
        secs = 0.0
    return rc, secs if math.isfinite(secs) and secs >= 0 else 0.0


def workload_case(w: Workload, guest_dir: Path, span: Span | None, boot: BootFacts,
                  stopped: str = "") -> Case:
    """stopped: why the VM was stopped from the host while the guest ran ("" if it was not)."""
    log = guest_dir / rundir.of_workload(w.name, rundir.LOG)
    output = tail(files.read_guest(log, OUTPUT_LIMIT + 1, end=True) or "")
    got = _read_rc(guest_dir / rundir.of_workload(w.name, rundir.RC))
    if isinstance(got, str):
        if span is None:
            return Case("workload", w.name, Status.ERROR, 0.0, "not run: the VM ended before it started", output)
        if span.end is not None:  # it ended (the console says so) but its rc file is missing or garbage
            why = got or "no result file: the guest could not write to the results folder (disk full?)"
            if span.rc not in (None, 0, SKIP_RC):  # the console's end marker says it failed: so it did
                return Case("workload", w.name, Status.FAIL, 0.0, f"exit {span.rc} (the console's end marker); {why}",
                            output)
            return Case("workload", w.name, Status.ERROR, 0.0, why, output)
        if stopped:  # the host stopped the VM, the kernel is not to blame
            return Case("workload", w.name, Status.ERROR, 0.0, f"did not finish: {stopped} while it ran", output)
        why = boot.stop_why() if boot.timed_out else "the kernel died"
        return Case("workload", w.name, Status.FAIL, 0.0, f"did not finish: {why} while it ran", output)
    rc, secs = got
    if span is not None and span.rc is not None and span.rc != rc:
        # the runner wrote both from one $rc: one was overwritten (a process the workload left
        # behind, a broken shared folder); never a PASS, a FAIL if either says it failed
        bad = {rc, span.rc} - {0, SKIP_RC}
        return Case("workload", w.name, Status.FAIL if bad else Status.ERROR, secs,
                    f"its rc file says exit {rc}, the console's end marker exit {span.rc}: one was overwritten",
                    output)
    if rc == 0:
        return Case("workload", w.name, Status.PASS, secs, "", output)
    if rc == SKIP_RC:
        reason = next((ln for ln in reversed(output.splitlines()) if ln.strip()), "skipped")
        return Case("workload", w.name, Status.SKIP, secs, reason[:200], output)
    if rc == TIMEOUT_RC:
        return Case("workload", w.name, Status.FAIL, secs, f"timed out after {w.timeout}s{w.scaled}", output)
    return Case("workload", w.name, Status.FAIL, secs, f"exit {rc}: {why_failed(output)}", output)


def workload_cases(
    workloads: Sequence[Workload], guest_dir: Path, lines: Sequence[str], boot: BootFacts,
    reports: Sequence[Report] | None = None,
) -> list[Case]:
    """reports: the console's, when the caller has scanned it already (else it is scanned here)."""
    where = spans(lines)
    found = scan(lines) if reports is None else reports
    stopped = ""
    if stopped_from_outside(boot, lines, found):
        stopped = host_stop(boot, lines) or "the VM stopped without a kernel report (killed from the host?)"
    cases = [workload_case(w, guest_dir, where.get(w.name), boot, stopped) for w in workloads]
    if any(c.status is Status.FAIL for c in cases):
        # the reports blamed on each failing workload, for known issues and people
        cases = [with_reports(c, [r.title for r in found if blame(r.first_line, where) == c.name])
                 if c.status is Status.FAIL else c for c in cases]
    # each workload's own cases (CASE lines of its log) right after it
    return [sub for w, c in zip(workloads, cases) for sub in [c, *_subcases(w.name, guest_dir)]]


def _subcases(name: str, guest_dir: Path) -> list[Case]:
    log = guest_dir / rundir.of_workload(name, rundir.LOG)
    # the guest wrote it: every line looked at, read as a stream and bounded; only CASE lines kept
    got = files.guest_lines(log, subcases.is_case, LIMITS.console_chars)
    return subcases.cases(name, got[0], unread=got[1]) if got else []


# -- the stages before the boot ----------------------------------------------------------


def apply_cases(applied: ApplyResult, n_patches: int) -> list[Case]:
    cases = []
    for r in applied.results:
        if r.ok:
            cases.append(Case("apply", r.patch.name, Status.PASS, 0.0, r.patch.subject))
        else:
            where = f" in {', '.join(r.failed_files)}" if r.failed_files else ""
            cases.append(Case("apply", r.patch.name, Status.FAIL, 0.0, f"does not apply{where}", r.message))
    for patch in applied.skipped:
        cases.append(Case("apply", patch.name, Status.SKIP, 0.0, "not tried: an earlier patch failed"))
    if n_patches == 0:
        cases.append(Case("apply", "(no patches)", Status.PASS, 0.0, "baseline: the tree as it is"))
    return cases


def config_case(cfg: ConfigResult, log_tail: str, series_touches_kconfig: bool) -> Case:
    names = ", ".join(f.name for f in cfg.fragments)
    if cfg.rc != 0 and (why := host_trouble(log_tail.splitlines())):
        return Case("config", "kconfig", Status.ERROR, cfg.secs, f"host trouble, not the series: {why}", log_tail)
    if cfg.rc != 0:
        return Case("config", "kconfig", Status.FAIL, cfg.secs, f"merge_config.sh exit {cfg.rc}", log_tail)
    if cfg.dropped:
        theirs, message = dropped_verdict(cfg.dropped, series_touches_kconfig)
        return Case("config", "kconfig", Status.FAIL if theirs else Status.ERROR, cfg.secs, message,
                    "\n".join(describe_dropped(d) for d in cfg.dropped))
    n = len(requested(cfg.fragments))
    return Case("config", "kconfig", Status.PASS, cfg.secs, f"all {n} requested options set ({names})")


def build_case(res: BuildResult, log_tail: str) -> Case:
    if not res.ok and res.host_trouble:
        return Case("build", "kernel", Status.ERROR, res.secs, f"host trouble, not the series: {res.host_trouble}",
                    "\n".join(res.errors) or log_tail)
    if not res.ok:
        why = "timed out" if res.timed_out else f"make exit {res.rc}"
        first = next((e for e in res.errors if "error" in e.lower()), why)
        return Case("build", "kernel", Status.FAIL, res.secs, f"{why}: {first[:200]}",
                    "\n".join(res.errors) or log_tail)
    return Case("build", "kernel", Status.PASS, res.secs, f"{res.warnings} warning(s)")


# -- kernel reports ---------------------------------------------------------------------


def report_cases(folded: Sequence[tuple[Report, int]], known: KnownIssues, where: dict[str, Span],
                 in_base: frozenset[str] | None) -> list[Case]:
    """A Case per distinct report: a known issue (skip), also in the base (skip), else a failure.
    A report under a known issue whose fix is in the base is counted, and says so."""
    cases = []
    for report, count in folded:
        during = blame(report.first_line, where) or "boot"
        times = f" x{count}" if count > 1 else ""
        corrupt = " (corrupted)" if report.corrupted else ""
        text = "\n".join(report.raw)
        issue = known.find(f"report/{report.title}")
        note = f"; {fixed_note(issue)}" if issue and issue.state is State.FIXED else ""
        if issue and issue.state is State.ACTIVE:
            cases.append(Case("report", report.title, Status.SKIP, 0.0,
                              f"known report during {during}{times}: {issue.issue.label}", text))
        elif in_base is not None and report.title in in_base:
            cases.append(Case("report", report.title, Status.SKIP, 0.0,
                              f"also in base: {report.type} during {during}{times}{note}", text))
        else:
            new = "new " if in_base is not None else ""
            cases.append(Case("report", report.title, Status.FAIL, 0.0,
                              f"{new}{report.type} during {during}{times}{corrupt}{note}", text))
    return cases


def known_case(case: Case, known: KnownIssues) -> Case:
    """A failing case (not a report: those are judged by title above) under a known issue: an
    active one makes it known (skip, the message kept); a fixed one says it is counted now."""
    if case.status is not Status.FAIL or case.group in ("report", "infra"):
        return case
    issue = known.find(case.key, case.reports)
    if issue is None:
        return case
    if issue.state is State.FIXED:
        return replace(case, message=f"{case.message}; {fixed_note(issue)}")
    return replace(case, status=Status.SKIP, message=f"{issue.issue.label}; was: {case.message}")
