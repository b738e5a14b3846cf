"""Every stage's result -> Cases: apply, config, build, boot, workloads, kernel reports.

Pure: takes data, returns data (the pipeline reads files and writes results). The guest runner writes
`pinbench: workload NAME start` / `... end rc=N` to /dev/kmsg, so markers and
kernel reports share one ordered stream (the console) and each report can be
blamed on the workload that was running when it appeared.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from bench.build import BuildResult, host_trouble
from bench.guests import SKIP_RC, Workload
from bench.kconfig import ConfigResult, describe_dropped, requested
from bench.report import taint
from bench.report.issues import KnownIssues, State, fixed_note
from bench.report.scanner import Report, scan
from bench.result import Case, Status
from bench.series_meta import Expect
from bench.tree import ApplyResult
from bench.vm import EXIT_KERNEL_DIED

_MARK = re.compile(r"pinbench: workload (\S+) (start|end rc=(\d+))")
READY = "pinbench: guest ready"
DONE = "pinbench: all workloads done"
RUNNER_REFUSED = 3  # guests/runner.sh, before "ready": the results folder is not writable or has no plan
TIMEOUT_RC = 124  # coreutils timeout(1)
# Reports that end (or stop) a kernel under FATAL_ENDS_THE_VM (oops=panic, hung_task_panic,
# softlockup_panic): the evidence that a VM which stopped early died of its kernel.
_FATAL_TYPES = frozenset({"BUG", "PAGE_FAULT", "GPF", "PANIC", "OOPS", "DOUBLE_FAULT", "LIST_CORRUPTION",
                          "HUNG_TASK", "RCU_STALL", "SOFT_LOCKUP", "HARD_LOCKUP"})
# Console lines that say the same even when no report was titled (the guest's own OOM killer too).
_FATAL_LINE = re.compile(r"Kernel panic - not syncing|Out of memory: Killed process|\bOops: ")
REPORTS_SEEN = "---- kernel reports seen while it ran (console.log) ----"
OUTPUT_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Span:
    start: int
    end: int | None  # None: the workload never finished (kernel died or hung)


@dataclass(frozen=True)
class BootFacts:
    rc: int | None
    timed_out: bool
    secs: float
    console: Path


def spans(lines: Sequence[str]) -> dict[str, Span]:
    found: dict[str, Span] = {}
    for i, line in enumerate(lines):
        m = _MARK.search(line)
        if not m:
            continue
        name = m.group(1)
        if m.group(2) == "start":
            found[name] = Span(i, None)
        elif name in found:
            found[name] = Span(found[name].start, i)
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


def stopped_from_outside(boot: BootFacts, lines: Sequence[str]) -> bool:
    """The guest was running its workloads and did not finish them, the VM did not time out,
    and the console holds no fatal kernel report: QEMU was stopped from the host (OOM killer,
    SIGKILL), so nothing can be said about the kernel. vng exits 255 for a dead kernel and for
    a killed QEMU alike (no exit code from the guest), so its code cannot tell them apart."""
    if boot.timed_out or not any(READY in line for line in lines) or any(DONE in line for line in lines):
        return False
    return not any(_FATAL_LINE.search(line) for line in lines) and not any(fatal(r) for r in scan(lines))


def with_reports(output: str, titles: Sequence[str]) -> str:
    """A case's evidence plus the titles of the kernel reports seen with it: for people, and for
    known_case(), which matches an entry naming both a title and a case against them."""
    if not titles:
        return output
    head = output.rstrip() + "\n" if output.strip() else ""
    return head + REPORTS_SEEN + "\n" + "\n".join(dict.fromkeys(titles)) + "\n"


def reports_seen(output: str) -> tuple[str, ...]:
    _, sep, rest = output.rpartition(REPORTS_SEEN + "\n")
    return tuple(line for line in rest.splitlines() if line) if sep else ()


def boot_case(boot: BootFacts, lines: Sequence[str]) -> Case:
    case = _boot_case(boot, lines)
    if case.status is Status.FAIL:  # what the kernel said, for known issues naming boot/boot
        return replace(case, output=with_reports(case.output, [r.title for r in scan(lines)]))
    return case


def _boot_case(boot: BootFacts, lines: Sequence[str]) -> Case:
    ready = any(READY in line for line in lines)
    started = any("Linux version" in line for line in lines)
    excerpt = tail("\n".join(lines[-60:]), 16 * 1024)
    if ready:
        if boot.timed_out:
            return Case("boot", "boot", Status.FAIL, boot.secs, "the VM hit its timeout and was killed", excerpt)
        if stopped_from_outside(boot, lines):
            return Case("boot", "boot", Status.ERROR, boot.secs,
                        f"the VM stopped before the workloads were done, without a kernel report (vng exit"
                        f" {boot.rc}): killed from the host?", excerpt)
        if boot.rc == EXIT_KERNEL_DIED or not any(DONE in line for line in lines):
            return Case("boot", "boot", Status.FAIL, boot.secs, f"the kernel died (vng exit {boot.rc})", excerpt)
        return Case("boot", "boot", Status.PASS, boot.secs, f"booted to user space (vng exit {boot.rc})")
    why = "timed out" if boot.timed_out else f"vng exit {boot.rc}"
    if not started:
        return Case("boot", "boot", Status.ERROR, boot.secs, f"no kernel output at all ({why}): vng/QEMU trouble", excerpt)
    if boot.rc == RUNNER_REFUSED and not boot.timed_out:  # user space ran: the runner refused the folder
        return Case("boot", "boot", Status.ERROR, boot.secs, f"the guest runner could not use the results folder"
                    f" (runner exit {RUNNER_REFUSED}: not writable, or no plan.tsv): host trouble, not the series",
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


def _read_rc(path: Path) -> tuple[int, float] | None:
    try:
        fields = path.read_text().split()
        rc = int(fields[0])
        secs = float(fields[2]) - float(fields[1]) if len(fields) >= 3 else 0.0
        return rc, secs
    except (OSError, ValueError, IndexError):
        return None


def workload_case(w: Workload, guest_dir: Path, span: Span | None, boot: BootFacts,
                  stopped: bool = False) -> Case:
    try:
        output = tail((guest_dir / f"{w.name}.log").read_text(encoding="utf-8", errors="replace"))
    except OSError:
        output = ""
    got = _read_rc(guest_dir / f"{w.name}.rc")
    if got is None:
        if span is None:
            return Case("workload", w.name, Status.ERROR, 0.0, "not run: the VM ended before it started", output)
        if span.end is not None:  # it ended (the console says so) but its files are not there
            return Case("workload", w.name, Status.ERROR, 0.0,
                        "no result file: the guest could not write to the results folder (disk full?)", output)
        if stopped:  # no kernel report: the host stopped the VM, the kernel is not to blame
            return Case("workload", w.name, Status.ERROR, 0.0,
                        "did not finish: the VM stopped without a kernel report while it ran (killed from the host?)",
                        output)
        why = "the VM timed out" if boot.timed_out else "the kernel died"
        return Case("workload", w.name, Status.FAIL, 0.0, f"did not finish: {why} while it ran", output)
    rc, secs = got
    if rc == 0:
        return Case("workload", w.name, Status.PASS, secs, "", output)
    if rc == SKIP_RC:
        reason = next((ln for ln in reversed(output.splitlines()) if ln.strip()), "skipped")
        return Case("workload", w.name, Status.SKIP, secs, reason[:200], output)
    if rc == TIMEOUT_RC:
        return Case("workload", w.name, Status.FAIL, secs, f"timed out after {w.timeout}s", output)
    return Case("workload", w.name, Status.FAIL, secs, f"exit {rc}: {why_failed(output)}", output)


def workload_cases(
    workloads: Sequence[Workload], guest_dir: Path, lines: Sequence[str], boot: BootFacts
) -> list[Case]:
    where = spans(lines)
    stopped = stopped_from_outside(boot, lines)
    cases = [workload_case(w, guest_dir, where.get(w.name), boot, stopped) for w in workloads]
    if not any(c.status is Status.FAIL for c in cases):
        return cases
    found = scan(lines)  # the reports blamed on each failing workload, for known issues and people
    return [replace(c, output=with_reports(c.output, [r.title for r in found
                                                      if blame(r.first_line, where) == c.name]))
            if c.status is Status.FAIL else c for c in cases]


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


def config_case(cfg: ConfigResult, log_tail: str) -> Case:
    names = ", ".join(f.name for f in cfg.fragments)
    if cfg.rc != 0 and (why := host_trouble(log_tail.splitlines())):
        return Case("config", "kconfig", Status.ERROR, cfg.secs, f"host trouble, not the series: {why}", log_tail)
    if cfg.rc != 0:
        return Case("config", "kconfig", Status.FAIL, cfg.secs, f"merge_config.sh exit {cfg.rc}", log_tail)
    if cfg.dropped:
        lines = [describe_dropped(d) for d in cfg.dropped]
        return Case("config", "kconfig", Status.FAIL, cfg.secs,
                    f"{len(lines)} requested option(s) dropped: {cfg.dropped[0].option.name}...",
                    "\n".join(lines))
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
    issue = known.find(f"{case.group}/{case.name}", reports_seen(case.output))
    if issue is None:
        return case
    if issue.state is State.FIXED:
        return replace(case, message=f"{case.message}; {fixed_note(issue)}")
    return replace(case, status=Status.SKIP, message=f"{issue.issue.label}; was: {case.message}")


# -- oracles beyond the workloads' own: taint and expectations --------------------------------


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def taint_cases(names: Sequence[str], guest_dir: Path, reports: Sequence[Report],
                where: dict[str, Span]) -> list[Case]:
    """Problem taint flags (W, D, B, L, M) that no kernel report found accounts for.

    Per workload (<name>.tainted.start|end): a flag set during it that no report blamed on it
    explains fails taint/<name>. The whole run, from boot (the kernel starts untainted) to the
    last reading (tainted.end, or the latest of any if the guest did not finish): a flag no
    report at all explains and no workload already failed for fails taint/run, so taint set
    during boot, between workloads or after the last one is checked too."""
    cases: list[Case] = []
    failed: set[str] = set()
    readings: list[int] = []
    for name in names:
        start = taint.parse_mask(_read(guest_dir / f"{name}.tainted.start"))
        end = taint.parse_mask(_read(guest_dir / f"{name}.tainted.end"))
        readings += [m for m in (start, end) if m is not None]
        if start is None or end is None:
            continue
        mine = [r for r in reports if blame(r.first_line, where) == name]
        if unexplained := taint.new_problems(start, end) - taint.explained_taint(mine):
            failed |= unexplained
            cases.append(_taint_case(name, f"during {name}", unexplained, start, end, mine))
    first = taint.parse_mask(_read(guest_dir / "tainted.start"))
    last = taint.parse_mask(_read(guest_dir / "tainted.end"))
    readings += [m for m in (first, last) if m is not None]
    if not readings:
        return cases
    run_end = 0
    for mask in readings:  # taint flags are sticky: the union is the latest state
        run_end |= mask
    if unexplained := taint.new_problems(0, run_end) - taint.explained_taint(reports) - failed:
        at_boot = first is not None and unexplained <= set(taint.letters(first))
        during = ("during boot, before the workloads" if at_boot else
                  "outside the workloads (boot, between them or after the last)" if any(
                      (guest_dir / f"{n}.tainted.end").is_file() for n in names) else "during the run")
        cases.append(_taint_case("run", during, unexplained, 0, run_end, reports))
    return cases


def _taint_case(name: str, during: str, flags: frozenset[str], start: int, end: int,
                reports: Sequence[Report]) -> Case:
    return Case("taint", name, Status.FAIL, 0.0,
                f"unexplained taint {taint.order(flags)} {during}: the kernel flagged a problem"
                " but no kernel report was found (see console.log)",
                with_reports(f"tainted before: {taint.letters(start) or '-'}, after: {taint.letters(end)}",
                             [r.title for r in reports]))


def vmstat(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def expect_met(e: Expect, titles: Sequence[str], guest_dir: Path) -> tuple[bool, str]:
    """Did this boot do what the series said it would? (met, what was seen)"""
    if e.kind == "report":
        hits = [t for t in titles if re.search(e.what, t)]
        return bool(hits), f"found: {hits[0]}" if hits else "no such report"
    start, end = vmstat(_read(guest_dir / "vmstat.start")), vmstat(_read(guest_dir / "vmstat.end"))
    if e.what not in end:
        return False, f"{e.what} is not in /proc/vmstat (this kernel has no such counter)"
    grew = end[e.what] - start.get(e.what, 0)
    return grew >= e.min, f"{e.what} grew by {grew}"


def expect_cases(expects: Sequence[Expect], titles: Sequence[str], guest_dir: Path,
                 base: tuple[Sequence[str], Path] | None) -> list[Case]:
    """A case per expectation; with the unpatched base's titles and guest folder, one the base
    meets too is a failure: the series did not make it happen (checked in both directions)."""
    cases = []
    for e in expects:
        met, seen = expect_met(e, titles, guest_dir)
        if not met:
            cases.append(Case("expect", str(e), Status.FAIL, 0.0, f"did not happen: {seen}"))
            continue
        if base is not None:
            base_met, base_seen = expect_met(e, *base)
            if base_met:
                cases.append(Case("expect", str(e), Status.FAIL, 0.0,
                                  f"the unpatched base does it too ({base_seen}): not the series' doing"))
                continue
            seen += f"; the unpatched base does not ({base_seen})"
        cases.append(Case("expect", str(e), Status.PASS, 0.0, seen))
    return cases
