"""`bench run`: apply -> config -> build -> boot + workloads -> scan -> results.

Each stage's result becomes Cases (bench/verdict.py); the first stage that fails ends the
run (there is nothing to boot without a build). Whatever happens, the results folder keeps
what was produced so far plus summary.json and junit.xml.
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
from pathlib import Path
from typing import Any

from bench import build as build_mod
from bench import guests, junit, kconfig, tree, verdict, vm
from bench.errors import BenchError, UserError
from bench.files import write_atomic
from bench.plan import Plan, safe_name
from bench.printer import Printer
from bench.report import known as known_mod
from bench.report import render, scanner
from bench.result import Case, RunResult, Status, write_summary_json

BOOT_MARGIN = {True: 60, False: 180}  # seconds to reach user space: KVM, TCG


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


def tail_of(path: Path, n: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


class Run:
    """One run's mutable state while the stages go; frozen into a RunResult at the end."""

    def __init__(self, plan: Plan, printer: Printer) -> None:
        self.plan = plan
        self.printer = printer
        self.say = printer.say
        self.cases: list[Case] = []
        self.info: dict[str, Any] = {"series": plan.series.name, "tree": str(plan.tree), **plan.extra_info}
        self.dir = plan.results_dir
        self.dir.mkdir(parents=True, exist_ok=False)
        self.start = time.monotonic()

    def add(self, *cases: Case) -> bool:
        """Record cases; False if any of them failed (the run stops)."""
        for case in cases:
            self.cases.append(case)
            mark = "" if case.status is Status.PASS else f" {case.status.name}"
            self.say(f"{case.group}/{case.name}:{mark or ' ok'} {case.message}".rstrip())
        return not any(c.status in (Status.FAIL, Status.ERROR) for c in cases)

    def result(self) -> RunResult:
        return RunResult(self.plan.run_id, self.plan.series.name, self.dir, tuple(self.cases),
                         time.monotonic() - self.start, dict(self.info))

    # -- stages ---------------------------------------------------------------

    def apply(self, src: Path) -> bool:
        series = self.plan.series
        self.say(f"apply: {len(series.patches)} patch(es) of {series.name} on {self.info['base'][:12]}")
        applied = tree.apply_series(src, series, self.dir / "apply.log")
        self.info["head"] = applied.head
        return self.add(*verdict.apply_cases(applied, len(series.patches))) and applied.ok

    def config(self, src: Path, build_dir: Path) -> bool:
        self.say(f"config: allnoconfig + {', '.join(f.name for f in self.plan.fragments)}")
        cfg = kconfig.configure(src, build_dir, self.plan.fragments, self.dir / "config.log")
        if cfg.config.is_file():
            shutil.copy(cfg.config, self.dir / ".config")
        return self.add(verdict.config_case(cfg, tail_of(self.dir / "config.log", 150)))

    def build(self, src: Path, build_dir: Path) -> Path | None:
        self.say(f"build: make O={build_dir} bzImage (ccache)")
        res = build_mod.build(
            src, build_dir, self.dir / "build.log", cache_dir=self.plan.cache_dir,
            njobs=self.plan.jobs or None, timeout=self.plan.build_timeout,
            progress=lambda s: self.say(f"build: {s}"),
        )
        if res.ok:
            self.info["image"] = str(res.image)
        self.add(verdict.build_case(res, tail_of(self.dir / "build.log")))
        return res.image if res.ok else None

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
            rwdirs=((str(gdir), gdir),), append=p.append,
        )
        names = ", ".join(w.name for w in p.workloads) or "none"
        self.say(f"boot: workloads {names} (VM timeout {timeout}s)")
        console = self.dir / "console.log"
        res = vm.boot(
            image, ["bash", str(p.home / "guests" / "runner.sh"), str(gdir)], console,
            accel=accel, opts=opts, timeout=timeout, on_line=self._progress,
        )
        self.info["vng"] = " ".join(res.argv)
        lines = console.read_text(encoding="utf-8", errors="replace").splitlines()
        facts = verdict.BootFacts(res.rc, res.timed_out, res.secs, console)
        self.add(verdict.boot_case(facts, lines), *verdict.workload_cases(p.workloads, gdir, lines, facts))
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
        write_atomic(self.dir / "reports.json", json.dumps(found, indent=2) + "\n")
        self.add(*verdict.report_cases(folded, known, where, in_base))


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
