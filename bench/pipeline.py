"""`bench run`: apply -> config -> build -> boot + workloads -> scan -> results.

Each stage appends its Cases; the first stage that fails ends the run (there
is nothing to boot without a build). Whatever happens, the results folder
keeps what was produced so far plus summary.json and junit.xml.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import build as build_mod
from bench.report import known as known_mod, render, scanner
from bench import guests, junit, kconfig, tree, verdict, vm
from bench.errors import BenchError, UserError
from bench.printer import Printer
from bench.result import Case, RunResult, Status, write_summary_json
from bench.series import Series

BOOT_MARGIN = {True: 60, False: 180}  # seconds to reach user space: KVM, TCG


@dataclass(frozen=True)
class Plan:
    series: Series
    tree: Path
    base: str | None
    fragments: tuple[kconfig.Fragment, ...]
    workloads: tuple[guests.Workload, ...]
    home: Path  # the project: kconfigs/, guests/, patches/
    results_root: Path
    cache_dir: Path
    accel: str = "auto"  # auto | kvm | tcg
    jobs: int = 0  # 0: all cores
    build_timeout: float = 3 * 3600
    suppress_files: tuple[Path, ...] = ()
    memory: str = "2G"
    cpus: int = 2
    append: tuple[str, ...] = ()
    run_id: str = ""
    baseline: bool = False  # also boot the unpatched tree; reports found there are not new
    extra_info: dict[str, Any] = field(default_factory=dict)


def safe_name(name: str) -> str:
    """A series name made fit for a folder name (run ids, work slots)."""
    return re.sub(r"[^\w.-]+", "_", name)


def new_run_id(results_root: Path, series: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = safe_name(series)
    run_id, n = f"{stamp}-{safe}", 1
    while (results_root / run_id).exists():
        n += 1
        run_id = f"{stamp}-{safe}-{n}"
    return run_id


@contextlib.contextmanager
def work_slot(cache_dir: Path, name: str) -> Iterator[Path]:
    """A per-series work dir (worktree `src` + incremental `build`), one run at a time."""
    slot = cache_dir / "work" / safe_name(name)
    slot.mkdir(parents=True, exist_ok=True)
    with open(slot.with_suffix(".lock"), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise UserError(f"{slot}: another bench run of '{name}' is using this work dir") from e
        yield slot


class Run:
    """One run's mutable state while the stages go; frozen into a RunResult at the end."""

    def __init__(self, plan: Plan, printer: Printer) -> None:
        self.plan = plan
        self.printer = printer
        self.say = printer.say
        self.cases: list[Case] = []
        self.info: dict[str, Any] = {"series": plan.series.name, "tree": str(plan.tree), **plan.extra_info}
        self.dir = plan.results_root / plan.run_id
        self.dir.mkdir(parents=True, exist_ok=False)
        self.start = time.monotonic()

    def add(self, case: Case) -> bool:
        self.cases.append(case)
        mark = "" if case.status is Status.PASS else f" {case.status.name}"
        self.say(f"{case.group}/{case.name}:{mark or ' ok'} {case.message}".rstrip())
        return case.status not in (Status.FAIL, Status.ERROR)

    def result(self) -> RunResult:
        return RunResult(
            self.plan.run_id, self.plan.series.name, self.dir, tuple(self.cases),
            time.monotonic() - self.start, dict(self.info),
        )

    # -- stages ---------------------------------------------------------------

    def apply(self, src: Path) -> bool:
        series = self.plan.series
        self.say(f"apply: {len(series.patches)} patch(es) of {series.name} on {self.info['base'][:12]}")
        applied = tree.apply_series(src, series, self.dir / "apply.log")
        self.info["head"] = applied.head
        ok = True
        for r in applied.results:
            if r.ok:
                ok &= self.add(Case("apply", r.patch.name, Status.PASS, 0.0, r.patch.subject))
            else:
                where = f" in {', '.join(r.failed_files)}" if r.failed_files else ""
                ok &= self.add(Case("apply", r.patch.name, Status.FAIL, 0.0,
                                    f"does not apply{where}", r.message))
        for patch in applied.skipped:
            self.add(Case("apply", patch.name, Status.SKIP, 0.0, "not tried: an earlier patch failed"))
        if not series.patches:
            self.add(Case("apply", "(no patches)", Status.PASS, 0.0, "baseline: the tree as it is"))
        return ok and applied.ok

    def config(self, src: Path, build_dir: Path) -> bool:
        names = ", ".join(f.name for f in self.plan.fragments)
        self.say(f"config: allnoconfig + {names}")
        cfg = kconfig.configure(src, build_dir, self.plan.fragments, self.dir / "config.log")
        if cfg.config.is_file():
            shutil.copy(cfg.config, self.dir / ".config")
        if cfg.rc != 0:
            out = (self.dir / "config.log").read_text(errors="replace")[-8000:]
            return self.add(Case("config", "kconfig", Status.FAIL, cfg.secs, f"merge_config.sh exit {cfg.rc}", out))
        if cfg.dropped:
            lines = [kconfig.describe_dropped(d) for d in cfg.dropped]
            return self.add(Case("config", "kconfig", Status.FAIL, cfg.secs,
                                 f"{len(lines)} requested option(s) dropped: {cfg.dropped[0].option.name}...",
                                 "\n".join(lines)))
        n = len(kconfig.requested(self.plan.fragments))
        return self.add(Case("config", "kconfig", Status.PASS, cfg.secs, f"all {n} requested options set ({names})"))

    def build(self, src: Path, build_dir: Path) -> Path | None:
        self.say(f"build: make O={build_dir} bzImage (ccache)")
        res = build_mod.build(
            src, build_dir, self.dir / "build.log", cache_dir=self.plan.cache_dir,
            njobs=self.plan.jobs or None, timeout=self.plan.build_timeout,
            progress=lambda s: self.say(f"build: {s}"),
        )
        if not res.ok:
            why = "timed out" if res.timed_out else f"make exit {res.rc}"
            first = next((e for e in res.errors if "error" in e.lower()), why)
            self.add(Case("build", "kernel", Status.FAIL, res.secs, f"{why}: {first[:200]}",
                          "\n".join(res.errors) or "\n".join(self.tail_of(self.dir / "build.log"))))
            return None
        self.info["image"] = str(res.image)
        self.add(Case("build", "kernel", Status.PASS, res.secs, f"{res.warnings} warning(s)"))
        return res.image

    @staticmethod
    def tail_of(path: Path, n: int = 60) -> list[str]:
        try:
            return path.read_text(errors="replace").splitlines()[-n:]
        except OSError:
            return []

    def prepare_guest(self, src: Path, build_dir: Path) -> Path:
        gdir = self.dir / "guest"
        gdir.mkdir()
        (gdir / "plan.tsv").write_text(guests.plan_text(self.plan.workloads))
        (gdir / "env").write_text(f"BENCH_SRC={src}\nBENCH_BUILD={build_dir}\nBENCH_HOME={self.plan.home}\n")
        return gdir

    def boot(self, image: Path, gdir: Path) -> list[str]:
        p = self.plan
        accel = vm.choose_accel(p.accel, image, p.cache_dir, self.dir, self.say)
        self.info["accel"] = "kvm" if accel.kvm else "tcg"
        self.say(f"boot: {accel.reason}")
        timeout = BOOT_MARGIN[accel.kvm] + sum(w.timeout + 15 for w in p.workloads)
        opts = vm.VmOptions(
            memory=p.memory, cpus=p.cpus,
            network=next((w.network for w in p.workloads if w.network), None),
            # The guest sees the host root read-only; the results folder is shared
            # writable at its own path (a new mount point could not be created).
            rwdirs=((str(gdir), gdir),), append=p.append + guests.cmdline(p.workloads),
        )
        names = ", ".join(w.name for w in p.workloads) or "none"
        self.say(f"boot: workloads {names} (VM timeout {timeout}s)")
        console = self.dir / "console.log"
        res = vm.boot(
            image, ["bash", str(p.home / "guests" / "runner.sh"), str(gdir)], console,
            accel=accel, opts=opts, timeout=timeout,
            on_line=lambda line: self._progress(line),
        )
        self.info["vng"] = " ".join(res.argv)
        lines = console.read_text(encoding="utf-8", errors="replace").splitlines()
        facts = verdict.BootFacts(res.rc, res.timed_out, res.secs, console)
        self.add(verdict.boot_case(facts, lines))
        for case in verdict.workload_cases(p.workloads, gdir, lines, facts):
            self.add(case)
        return lines

    def _progress(self, line: str) -> None:
        if "pinbench: workload" in line:
            self.say("guest: " + line.split("pinbench: ", 1)[1].strip())

    def suppressions(self) -> known_mod.Suppressions:
        """series.yaml `suppress:` plus every --suppress file."""
        patterns = [re.compile(rx) for rx in self.plan.series.suppress]
        for path in self.plan.suppress_files:
            patterns.extend(known_mod.load_suppressions(path).patterns)
        return known_mod.Suppressions(tuple(patterns))

    def baseline(self) -> frozenset[str] | None:
        """Boot the unpatched base with the same config and workloads; its report titles."""
        p = self.plan
        series = dataclasses.replace(p.series, name=f"{p.series.name}-base", patches=())
        sub = dataclasses.replace(p, series=series, base=self.info["base"], results_root=self.dir,
                                  run_id="baseline", baseline=False)
        self.say("baseline: the same config and workloads on the unpatched tree")
        res = run(sub, self.printer.nested("baseline: "))
        booted = any(c.group == "boot" and c.status is Status.PASS for c in res.cases)
        titles = frozenset(c.name for c in res.cases if c.group == "report")
        self.info["baseline"] = {"verdict": res.verdict.value, "reports": sorted(titles)}
        if not booted:
            self.add(Case("baseline", "unpatched", Status.ERROR, res.secs,
                          f"the unpatched tree did not boot ({res.verdict.value}): reports not compared"))
            return None
        self.add(Case("baseline", "unpatched", Status.PASS, res.secs,
                      f"unpatched: {res.verdict.value}, {len(titles)} distinct report(s)"))
        return titles

    def scan(self, lines: list[str], in_base: frozenset[str] | None = None) -> None:
        known = self.suppressions()
        where = verdict.spans(lines)
        folded = scanner.fold(scanner.scan(lines))
        found = [{**render.report_to_dict(r, n), "known": known.is_known(r),
                  "workload": verdict.blame(r.first_line, where),
                  "in_base": None if in_base is None else r.title in in_base} for r, n in folded]
        (self.dir / "reports.json").write_text(json.dumps(found, indent=2) + "\n")
        for report, count in folded:
            during = verdict.blame(report.first_line, where) or "boot"
            times = f" x{count}" if count > 1 else ""
            corrupt = " (corrupted)" if report.corrupted else ""
            text = "\n".join(report.raw)
            if known.is_known(report):
                self.add(Case("report", report.title, Status.SKIP, 0.0,
                              f"known report during {during}{times}", text))
            elif in_base is not None and report.title in in_base:
                self.add(Case("report", report.title, Status.SKIP, 0.0,
                              f"also in base: {report.type} during {during}{times}", text))
            else:
                new = "new " if in_base is not None else ""
                self.add(Case("report", report.title, Status.FAIL, 0.0,
                              f"{new}{report.type} during {during}{times}{corrupt}", text))


def run(plan: Plan, printer: Printer) -> RunResult:
    r = Run(plan, printer)
    r.say(f"run {plan.run_id}: results in {r.dir}")
    lines: list[str] | None = None
    try:
        r.info["base"] = tree.resolve_base(plan.tree, plan.base or plan.series.base)
        with work_slot(plan.cache_dir, plan.series.name) as slot:
            src, build_dir = slot / "src", slot / "build"
            with tree.worktree(plan.tree, r.info["base"], src):
                if r.apply(src) and r.config(src, build_dir):
                    image = r.build(src, build_dir)
                    if image is not None:
                        lines = r.boot(image, r.prepare_guest(src, build_dir))
        if lines is not None:
            r.scan(lines, r.baseline() if plan.baseline and plan.series.patches else None)
    except BenchError as e:
        r.add(Case("infra", type(e).__name__, Status.ERROR, 0.0, str(e)))
    except KeyboardInterrupt:
        r.add(Case("infra", "interrupted", Status.ERROR, 0.0, "interrupted by the user"))
        raise
    finally:
        result = r.result()
        write_summary_json(result, r.dir / "summary.json")
        junit.write(result, r.dir / "junit.xml")
    return result
