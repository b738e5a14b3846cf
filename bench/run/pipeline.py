"""`bench run`: apply -> config -> build -> boot + workloads -> scan -> results.

Each stage's result becomes Cases (bench/run/cases.py); the first stage that fails ends the
run (there is nothing to boot without a build). Whatever happens, the results folder keeps
what was produced so far plus summary.json and junit.xml.
"""

from __future__ import annotations

import dataclasses
import datetime
import errno
import functools
import json
import re
import shlex
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar, cast

from bench.base import files, rundir
from bench.base.errors import BenchError, InfraError
from bench.base.files import write_atomic
from bench.report import issues, render, scanner
from bench.run import (cases, guests, junit, kcmdline, kconfig, kernel_checks, leaks, oracles, prebuild, qemu,
                       slot as slot_mod, tree, vm, worktree)
from bench.run.coverage import stage as cov
from bench.run.pages import run_files
from bench.run.plan import Plan, claim_run
from bench.run.printer import Printer
from bench.run.result import Case, RunResult, Status, write_summary_json
from bench.run.runfacts import Baseline, Probe, RunFacts, Stage
from bench.run.sweep import Sweep

BOOT_MARGIN = {True: 60, False: 180}  # seconds to reach user space: KVM, TCG
WORKLOAD_SLACK = 45  # seconds a workload may run past its timeout in the guest (see boot())
_MARK = re.compile(r"pinbench: workload (\S+) (start|end)")
F = TypeVar("F", bound=Callable[..., Any])


def timed(stage: str) -> Callable[[F], F]:
    """Record when a stage method started (seconds into the run) and how long it took, in
    summary.json info["timeline"]: the run page draws it, the nightly plots it per night."""
    def wrap(method: F) -> F:
        @functools.wraps(method)
        def inner(self: Run, *args: Any, **kwargs: Any) -> Any:
            start = time.monotonic()
            try:
                return method(self, *args, **kwargs)
            finally:
                self.mark(stage, start, time.monotonic())
        return cast(F, inner)
    return wrap


def tail_of(path: Path, n: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


class Run:
    """One run's mutable state while the stages go; frozen into a RunResult at the end."""

    def __init__(self, plan: Plan, printer: Printer) -> None:
        self.plan = plan = claim_run(plan)
        self.printer = printer
        self.say = printer.say
        self.cases: list[Case] = []
        self.facts = RunFacts(plan.series.name, str(plan.tree), dict(plan.extra_info),
                              datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
        self.dir = plan.results_dir
        self.start = time.monotonic()
        self.known = issues.KnownIssues()  # judged once the base is known
        self.timeline: list[Stage] = []
        self.workload_start: dict[str, float] = {}
        self.instr: cov.Instrument | None = None  # the objects profiled with gcov (coverage runs)

    def mark(self, stage: str, start: float, end: float) -> None:
        self.timeline.append(Stage(stage, round(start - self.start, 2), round(end - start, 2)))

    def add(self, *added: Case) -> bool:
        """Record cases (a failure under a known issue becomes known); False if any of them
        failed (the run stops)."""
        found = tuple(cases.known_case(c, self.known) for c in added)
        for case in found:
            self.cases.append(case)
            mark = "" if case.status is Status.PASS else f" {case.status.name}"
            self.say(f"{case.key}:{mark or ' ok'} {case.message}".rstrip())
        return not any(c.status in (Status.FAIL, Status.ERROR) for c in found)

    def crashed(self, e: Exception) -> None:
        """A bug of the bench or an OSError nobody expected: an ERROR case (never the series'
        failure, never a pass), its traceback kept in crash.log."""
        frames = traceback.extract_tb(e.__traceback__)
        at = ([f for f in frames if "/bench/" in f.filename] or frames)[-1:]  # the bench's, not shutil's
        where = f" (at {Path(at[0].filename).name}:{at[0].lineno} in {at[0].name})" if at else ""
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            results = not e.filename or str(e.filename).startswith(str(self.dir))
            text = f"{'results disk' if results else 'disk'} full: {e.filename or ''}".rstrip(": ")
        else:
            text = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".rstrip(": ")
        try:
            write_atomic(self.dir / rundir.CRASH_LOG, "".join(traceback.format_exception(e)))
            kept = f"; traceback in {rundir.CRASH_LOG}"
        except BenchError:
            kept = ""
        self.add(Case("infra", "crash", Status.ERROR, 0.0, f"{text}{where}{kept}"))

    def write_results(self, result: RunResult) -> None:
        """summary.json, junit.xml, then the pages: each tried even when one before failed
        (a full disk), the first failure raised after."""
        first: BenchError | None = None
        writers: tuple[Callable[[], None], ...] = (
            functools.partial(write_summary_json, result, self.dir / rundir.SUMMARY),
            functools.partial(junit.write, result, self.dir / rundir.JUNIT),
            functools.partial(run_files.write, result, self.plan))  # reproducer.sh, report.txt, index.html
        for write in writers:
            try:
                write()
            except KeyboardInterrupt as e:  # summary.json and junit.xml said the run's verdict, the command exits 2
                self._say_stopped(result, e)
                raise
            except BenchError as e:
                first = first or e
            except OSError as e:  # not through write_atomic/copy_tree: still one line naming the file
                first = first or files.cannot_write(Path(e.filename or self.dir), e)
            except Exception as e:  # noqa: BLE001 - a bug in one writer must not cost the others
                what = str(e).splitlines()[0][:200] if str(e) else ""
                first = first or InfraError(f"{self.dir}: writing the results: {type(e).__name__}: {what}")
        if first is not None:
            raise first

    def _say_stopped(self, result: RunResult, e: KeyboardInterrupt) -> None:
        """summary.json and junit.xml again, with the stop as an ERROR case: a stop while the pages
        were written left them saying "pass" (exit_code 0) of a command that exits 2. A second
        signal only says "please wait" (bench/cli/main.py), so these writes finish."""
        stop = Case("infra", "interrupted", Status.ERROR, 0.0, f"interrupted by {e or 'SIGINT'} while writing the results")
        stopped = replace(result, cases=(*result.cases, stop)) if stop.key not in {c.key for c in result.cases} else result
        for write in (functools.partial(write_summary_json, stopped, self.dir / rundir.SUMMARY),
                      functools.partial(junit.write, stopped, self.dir / rundir.JUNIT)):
            try:
                write()
            except (BenchError, OSError):
                pass  # the stop is what the command says; a full disk now changes nothing

    def result(self) -> RunResult:
        if self.known.judged:
            self.facts = replace(self.facts, known_issues=tuple(self.known.to_json(
                c.key for c in self.cases if c.status is not Status.PASS)))
        return RunResult(self.plan.run_id, self.plan.series.name, self.dir, tuple(self.cases),
                         time.monotonic() - self.start, replace(self.facts, timeline=tuple(self.timeline)))

    # -- stages ---------------------------------------------------------------

    @timed("apply")
    def apply(self, s: slot_mod.Slot) -> tuple[slot_mod.Slot, bool]:
        """Move the slot's worktree to the base and apply the series; the slot's new state."""
        p, base = self.plan, str(self.facts.base)
        self.say(f"apply: {len(p.series.patches)} patch(es) of {p.series.name} on {base[:12]} in {s.path}")
        prep = slot_mod.prepare(s, p.tree, base, p.series, kconfig.digest(p.fragments), self.dir / rundir.APPLY_LOG)
        self.facts = replace(self.facts, head=prep.applied.head, mtimes_kept=prep.mtimes_kept)
        return prep.slot, self.add(*cases.apply_cases(prep.applied, len(p.series.patches))) and prep.applied.ok

    @timed("config")
    def config(self, src: Path, build_dir: Path) -> bool:
        self.say(f"config: allnoconfig + {', '.join(f.name for f in self.plan.fragments)}")
        cfg = kconfig.configure(src, build_dir, self.plan.fragments, self.dir / rundir.CONFIG_LOG)
        if cfg.config.is_file():
            shutil.copy(cfg.config, self.dir / rundir.KCONFIG)
        touched = kconfig.touches_kconfig(p.text for p in self.plan.series.patches)
        return self.add(cases.config_case(cfg, tail_of(self.dir / rundir.CONFIG_LOG, 150), touched))

    @timed("build")
    def build(self, s: slot_mod.Slot) -> Path | None:
        self.instr = cov.instrument(self.plan, s.src, str(self.facts.base), str(self.facts.head))
        if reuse := slot_mod.reused(s, cov.key(self.instr)):
            self.facts = replace(self.facts, image=str(reuse.image))
            why = f"reused: the slot's image is of this commit and .config ({reuse.built[:12]})"
            # every run folder has its build.log: here it says why make did not run
            write_atomic(self.dir / rundir.BUILD_LOG, f"{why}\nimage {reuse.image} sha256 {reuse.image_sha}\n"
                                                 f".config sha256 {reuse.config_sha}\n")
            self.add(Case("build", "kernel", Status.PASS, 0.0, why, reused=True))
            return reuse.image
        self.say(f"build: make O={s.build} bzImage (ccache)")
        res = slot_mod.build(s, self.dir / rundir.BUILD_LOG, self._make(lambda text: self.say(f"build: {text}")),
                             cov.key(self.instr))
        if res.ok and res.image:
            self.facts = replace(self.facts, image=str(res.image))
        self.add(cases.build_case(res, tail_of(self.dir / rundir.BUILD_LOG)))
        return res.image if res.ok else None

    def _make(self, progress: Callable[[str], None] | None = None) -> slot_mod.Make:
        p = self.plan
        return slot_mod.Make(p.cache_dir, p.jobs or None, p.build_timeout, cov.make_vars(self.instr), progress)

    def prepare_guest(self, src: Path, build_dir: Path) -> Path:
        gdir = self.dir / rundir.GUEST
        gdir.mkdir()
        (gdir / rundir.GUEST_PLAN).write_text(guests.plan_text(self.plan.workloads))
        # sourced by guests/runner.sh: values quoted (a project folder "my home" ran `home` in the guest)
        env = {"BENCH_SRC": src, "BENCH_BUILD": build_dir, "BENCH_HOME": self.plan.home}
        (gdir / rundir.GUEST_ENV).write_text("".join(f"{k}={shlex.quote(str(v))}\n" for k, v in env.items())
                                             + cov.guest_env(self.instr))
        return gdir

    @timed("prebuild")
    def prebuild(self, src: Path, build_dir: Path, gdir: Path) -> None:
        """The workloads' programs built here, not under TCG (run/prebuild.py); a failure is
        only said: the guest compiles it again, and its compile error fails its workload."""
        env = {"BENCH_SRC": str(src), "BENCH_BUILD": str(build_dir), "BENCH_HOME": str(self.plan.home)}
        built = prebuild.prebuild(self.plan.workloads, gdir, env, self.dir / prebuild.LOG)
        if built:
            self.say(f"prebuild: {sum(b.ok for b in built)} of {len(built)} workload script(s) built their programs"
                     f" on the host in {sum(b.secs for b in built):.1f}s")
        for b in built:
            if not b.ok:
                self.say(f"prebuild: {b.workload}: {b.why} (the guest compiles it; {prebuild.LOG})")

    @timed("boot")
    def boot(self, image: Path, gdir: Path) -> tuple[list[str], list[scanner.Report]]:
        """The console's lines and kernel reports (scanned once: the boot and workload verdicts
        need them, and so does the scan stage)."""
        p = self.plan
        accel = vm.choose_accel(p.accel, image, p.cache_dir, self.dir, self.say)
        self.facts = replace(self.facts, accel="kvm" if accel.kvm else "tcg")
        self.say(f"boot: {accel.reason}")
        # Per workload the guest may take past its own timeout: `timeout -k 10`, PIN_SETTLE
        # (8 s) for late unpins, and the sync + drop_caches after it (runner.sh), and the pages
        # oracle's readings (guests/pages.sh: 2-9 s a workload measured under load, TCG).
        timeout = BOOT_MARGIN[accel.kvm] + sum(w.timeout + WORKLOAD_SLACK for w in p.workloads)
        opts = vm.VmOptions(
            memory=p.memory, cpus=p.cpus,
            network=next((w.network for w in p.workloads if w.network), None),
            # The guest sees the host root read-only; the results folder is shared
            # writable at its own path (a new mount point could not be created).
            rwdirs=((str(gdir), gdir),),
            # the bench's own words first: kcmdline.check keeps the others off them
            append=(*kcmdline.OWN, *p.append, *p.series.meta.cmdline, *guests.cmdline(p.workloads)),
        )
        names = ", ".join(w.name for w in p.workloads) or "none"
        self.say(f"boot: workloads {names} (VM timeout {timeout}s)")
        try:
            config = (self.dir / rundir.KCONFIG).read_text(errors="replace")
        except OSError:
            config = ""
        for state in kernel_checks.states(config, opts.append):
            self.say(f"boot: {state}")
        console = self.dir / rundir.CONSOLE
        res = vm.boot(
            image, ["bash", str(p.home / "guests" / "runner.sh"), str(gdir)], console,
            accel=accel, opts=opts, timeout=timeout, on_line=self._progress,
            qemu_wrapper=qemu.write_wrapper(p.cache_dir),  # how QEMU ended, which vng's 255 hides
        )
        self.facts = replace(self.facts, vng=" ".join(res.argv), vng_argv=tuple(res.argv), vm_timeout=timeout,
                             qemu=str(res.qemu))
        lines = console.read_text(encoding="utf-8", errors="replace").splitlines()
        facts = cases.BootFacts(res.rc, res.timed_out, res.secs, console, res.qemu, res.flooded)
        reports = scanner.scan(lines)
        self.add(cases.boot_case(facts, lines, reports),
                 *cases.workload_cases(p.workloads, gdir, lines, facts, reports))
        return lines, reports

    @timed("probe")
    def probe(self, s: slot_mod.Slot) -> None:
        """--each: touch the files the next patch changes and make again, so the objects it will
        recompile are compiled here without it: the "before" of its warnings (bench/run/buildwarn.py)."""
        s, log = s.reread(), self.dir / rundir.PROBE_LOG
        names = sorted(n for n in self.plan.probe if (s.src / n).is_file())
        if not s.state.built:
            return
        if not names:
            write_atomic(log, "pinbench: the next patch only adds files: nothing to compile before it\n")
            self.facts = replace(self.facts, probe=Probe((), True, 0.0))
            return
        self.say(f"probe: make again with {len(names)} file(s) of the next patch touched (its warnings before it)")
        res = slot_mod.probe(s, names, log, self._make())
        self.facts = replace(self.facts, probe=Probe(tuple(names), res.ok, round(res.secs, 1)))

    @timed("coverage")
    def coverage(self, s: slot_mod.Slot, gdir: Path) -> None:  # while the slot is still this run's
        found = cov.collect(self.plan, self.instr, s.src, s.build, gdir, str(self.facts.base), str(self.facts.head),
                            self.dir)
        self.facts = replace(self.facts, coverage=found)

    def _progress(self, line: str) -> None:
        if "pinbench: workload" in line:
            self.say("guest: " + line.split("pinbench: ", 1)[1].strip())
        if m := _MARK.search(line):  # host time of the guest's markers, for the timeline
            if m.group(2) == "start":
                self.workload_start[m.group(1)] = time.monotonic()
            elif (began := self.workload_start.pop(m.group(1), None)) is not None:
                self.mark(f"workload/{m.group(1)}", began, time.monotonic())

    def judge_known(self) -> None:
        """The known issues for this run: in scope for its series, fragments and kernel
        version, and not fixed in its base (git merge-base --is-ancestor FIX BASE)."""
        p, base = self.plan, str(self.facts.base)
        expected = issues.bare((e.what for e in p.series.meta.expect if e.kind == "report"),
                               f"{p.series.source}/series.yaml", "expect")
        target = issues.Target(p.series.name, tuple(f.name for f in p.fragments), tree.kernel_version(p.tree, base))
        self.facts = replace(self.facts, kernel_version=target.kernel)
        self.known = issues.judge((*p.known_issues, *expected), target, lambda c: tree.is_ancestor(p.tree, c, base))
        if notes := [issues.fixed_note(j) for j in self.known.fixed()]:
            self.facts = replace(self.facts, notes=tuple(notes))
            for note in notes:
                self.say(note)

    @timed("baseline")
    def baseline(self) -> tuple[frozenset[str], Path] | None:
        """Boot the unpatched base with the same config and workloads: its report titles and
        guest folder (None if it did not boot)."""
        p = self.plan
        base = dataclasses.replace(p.unpatched(str(self.facts.base)), baseline=False, coverage=False)
        self.say("baseline: the same config and workloads on the unpatched tree")
        res = Sweep(self.dir, run).run(base, rundir.BASELINE, self.printer.nested("baseline: "))
        booted = any(c.group == "boot" and c.status is Status.PASS for c in res.cases)
        titles = frozenset(c.name for c in res.cases if c.group == "report")
        self.facts = replace(self.facts, baseline=Baseline(res.verdict.value, tuple(sorted(titles))))
        if not booted:
            self.add(Case("baseline", "unpatched", Status.ERROR, res.secs,
                          f"the unpatched tree did not boot ({res.verdict.value}): reports not compared"))
            return None
        self.add(Case("baseline", "unpatched", Status.PASS, res.secs,
                      f"unpatched: {res.verdict.value}, {len(titles)} distinct report(s)"))
        return titles, res.results_dir / rundir.GUEST

    @timed("scan")
    def scan(self, lines: list[str], reports: list[scanner.Report], gdir: Path,
             base: tuple[frozenset[str], Path] | None) -> None:
        """Kernel reports (scanned by boot()), unexplained taint, and what the series said would happen."""
        known = self.known
        in_base = base[0] if base else None
        where = cases.spans(lines)
        folded = scanner.fold(reports)
        found = [{**render.report_to_dict(r, n), "known": known.is_known(r.title),
                  "workload": cases.blame(r.first_line, where),
                  "in_base": None if in_base is None else r.title in in_base} for r, n in folded]
        write_atomic(self.dir / rundir.REPORTS, json.dumps(found, indent=2) + "\n")
        self.add(*cases.report_cases(folded, known, where, in_base))
        self.add(*oracles.taint_cases([w.name for w in self.plan.workloads], gdir, [r for r, _ in folded], where))
        self.add(*leaks.pages_cases([w.name for w in self.plan.workloads], gdir, self.dir / rundir.KCONFIG))
        titles = [r.title for r, _ in folded]
        base_seen = (sorted(base[0]), base[1]) if base else None
        self.add(*oracles.expect_cases(self.plan.series.meta.expect, titles, gdir, base_seen))


def run(plan: Plan, printer: Printer) -> RunResult:
    r = Run(plan, printer)
    plan = r.plan
    r.say(f"run {plan.run_id}: results in {r.dir}")
    console: tuple[list[str], list[scanner.Report]] | None = None
    gdir = r.dir / rundir.GUEST
    try:
        r.facts = replace(r.facts, base=tree.resolve_base(plan.tree, plan.base or plan.series.base))
        r.judge_known()
        repo = worktree.repo_id(plan.tree)
        with slot_mod.acquire(plan.cache_dir, repo, kconfig.digest(plan.fragments), plan.series.name,
                              r.say) as s:
            r.facts = replace(r.facts, slot=s.path.name)
            s, applied = r.apply(s)
            if applied and r.config(s.src, s.build):
                image = r.build(s)
                if image is not None:
                    gdir = r.prepare_guest(s.src, s.build)
                    r.prebuild(s.src, s.build, gdir)
                    console = r.boot(image, gdir)
                    r.coverage(s, gdir)
                    if plan.probe:
                        r.probe(s)
        if console is not None:
            r.scan(*console, gdir, r.baseline() if plan.baseline and plan.series.patches else None)
    except BenchError as e:
        r.add(Case("infra", type(e).__name__, Status.ERROR, 0.0, str(e)))
    except KeyboardInterrupt as e:
        r.add(Case("infra", "interrupted", Status.ERROR, 0.0, f"interrupted by {e or 'SIGINT'}"))
        raise
    except Exception as e:  # noqa: BLE001 - a crash is the bench's, and the results must say so
        r.crashed(e)
    finally:
        result = r.result()
        r.write_results(result)
    return result
