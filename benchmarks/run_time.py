#!/usr/bin/env python3
"""What a run costs against its floor, measured in one go (a script, not a test).

1. `bench run` of the unpatched tree (the base), so the work slot holds a build of it;
2. `bench run` of a one-patch mm/ change (canary's 0001, a kernel-doc fix in mm/gup.c) on the
   same slot: the run timed;
3. the floor, by hand in the same slot: the same incremental `make` of that change (the base
   rebuilt first, untimed) and the same `vng` command the bench ran, into a scratch folder;
4. (unless --no-bisect) `bench run canary` from a slot holding another build, and `bench bisect
   canary` after it.
Prints each time and the ratios: run / floor (target <= 1.2), the boot stage / bare vng, the
time from the VM's end to the verdict (target <= 5 s), bisect / one full run (target <= 2).

    python3 benchmarks/run_time.py [--workload NAME]... [--no-bisect]

Run it on an otherwise quiet machine: other builds change every figure.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HOME = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HOME))

from bench.run import build  # noqa: E402
from bench.run.plan import default_cache  # noqa: E402

ONE_PATCH = HOME / "patches" / "canary" / "0001-mm-gup-fix-the-kernel-doc-of-the-unpin_user_pages-fa.patch"
KCONFIGS = "[rdma, debug-vm]"  # canary's, so every run here shares one slot configuration


class Kept(Exception):
    """A run that should have passed did not: its results folder is kept (the message says where)."""


def bench(*args: str, results: Path, must_pass: bool = False) -> tuple[float, float | None, dict[str, Any]]:
    """Run `python3 -m bench ARGS`; its wall time, seconds from its boot verdict line to its exit, summary.
    A run that ends in exit 2, or (must_pass) not PASS, raises Kept naming its results folder."""
    before = set(results.iterdir())
    start = time.monotonic()
    child = subprocess.Popen([sys.executable, "-m", "bench", *args, "--results", str(results)], cwd=HOME,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    booted = None
    assert child.stdout is not None
    for line in child.stdout:
        if "boot/boot:" in line:
            booted = time.monotonic()
    rc = child.wait()
    end = time.monotonic()
    # This command's own folder, the one it made: the newest folder with a summary.json was an
    # earlier run's when this one wrote none (a crash, exit 2), and its verdict was judged instead.
    new = sorted(p for p in set(results.iterdir()) - before if p.is_dir())
    mine = new[0] if len(new) == 1 else None
    summary = json.loads((mine / "summary.json").read_text()) if mine and (mine / "summary.json").is_file() else {}
    if rc == 2 or not summary or (must_pass and summary.get("verdict") != "pass"):
        where = mine or (f"{results} ({len(new)} new folders)" if new else f"{results} (no new folder)")
        failed = [f"{c['group']}/{c['name']}: {c.get('message', '')}" for c in summary.get("cases", [])
                  if c.get("status") in ("fail", "error")]
        raise Kept(f"bench {' '.join(args)}: exit {rc}, verdict {summary.get('verdict')}"
                   f"{' (' + '; '.join(failed)[:400] + ')' if failed else ''}; results kept in {where}")
    return end - start, (end - booted) if booted else None, summary


def series(folder: Path, name: str, patch: Path | None, workloads: list[str]) -> Path:
    d = folder / name
    d.mkdir()
    if patch:  # a quilt series: one patch of a [n/6] series is not a format-patch folder
        shutil.copy(patch, d / patch.name)
        (d / "series").write_text(patch.name + "\n")
    (d / "series.yaml").write_text(f"kconfigs: {KCONFIGS}\nworkloads: [{', '.join(workloads)}]\n")
    return d


def timed(argv: list[str], **kw: object) -> float:
    start = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)  # type: ignore[call-overload]
    return time.monotonic() - start


def floor(summary: dict[str, Any], scratch: Path) -> tuple[float, float]:
    """The same incremental make and the same vng command, by hand, in the run's slot."""
    info = summary["info"]
    slot = default_cache() / "work" / str(info["slot"])
    src, out = slot / "src", slot / "build"
    with open(slot.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the slot is ours while we measure
        make = build.make_argv(src, out, build.jobs(), ["bzImage", "headers_install"])
        env = {**os.environ, **build.ccache_env(default_cache(), slot)}
        subprocess.run(["git", "-C", str(src), "checkout", "-q", "-f", "--detach", str(info["base"])], check=True)
        timed(make, env=env)  # back to the base build, untimed
        subprocess.run(["git", "-C", str(src), "checkout", "-q", "-f", "--detach", str(info["head"])], check=True)
        t_make = timed(make, env=env)
    guest = scratch / "guest"
    old = next(a.split("=", 1)[1] for a in shlex.split(str(info["vng"])) if a.startswith("--rwdir="))
    shutil.copytree(old, guest, ignore=shutil.ignore_patterns("*.log", "*.rc", "*.start", "*.end", "gup_test*"))
    argv = [a.replace(old, str(guest)) for a in shlex.split(str(info["vng"]))]
    t_vng = timed(argv)
    return t_make, t_vng


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", action="append", default=None,
                    help="workloads of the timed run (default: rxe, odirect, gup-test, pin-balance)")
    ap.add_argument("--no-bisect", action="store_true", help="skip the canary run and bisect")
    args = ap.parse_args()
    workloads = args.workload or ["rxe", "odirect", "gup-test", "pin-balance"]
    tmpd = Path(tempfile.mkdtemp(prefix="pinbench-runtime-"))
    try:
        measure(args, workloads, tmpd)
    except Kept as e:  # the results of a run that failed are the only evidence of why: kept
        print(f"run_time: {e}", file=sys.stderr)
        return 1
    except BaseException:
        print(f"run_time: stopped; results kept in {tmpd}", file=sys.stderr)
        raise
    shutil.rmtree(tmpd, ignore_errors=True)
    return 0


def measure(args: argparse.Namespace, workloads: list[str], tmpd: Path) -> None:
    """The runs and the floor, into tmpd (removed by main only when every run went as expected)."""
    results = tmpd / "results"
    results.mkdir()
    base = series(tmpd, "rt-base", None, workloads)
    one = series(tmpd, "rt-one-patch", ONE_PATCH, workloads)
    print(f"run_time: workloads {', '.join(workloads)}; results in {results}", flush=True)
    bench("run", str(base), "--accel", "tcg", results=results, must_pass=True)
    t_run, after_vm, summary = bench("run", str(one), "--accel", "tcg", results=results, must_pass=True)
    cases = {f"{c['group']}/{c['name']}": c for c in summary["cases"]}
    t_make, t_vng = floor(summary, tmpd)
    boot = float(cases["boot/boot"]["secs"])
    print(f"bench run (one-patch mm/ change, warm slot): {t_run:6.1f} s "
          f"(build {cases['build/kernel']['secs']:.1f} s, boot {boot:.1f} s), verdict {summary['verdict']}")
    print(f"floor: incremental make {t_make:6.1f} s + bare vng {t_vng:6.1f} s = {t_make + t_vng:6.1f} s")
    print(f"ratio run / floor = {t_run / (t_make + t_vng):.2f} (target <= 1.20)")
    print(f"boot stage / bare vng = {boot / t_vng:.2f}")
    if after_vm is not None:
        print(f"from the VM's end to the verdict: {after_vm:.1f} s (target <= 5)")
    if not args.no_bisect:
        t_canary, _, canary = bench("run", "canary", "--accel", "tcg", results=results)
        t_bisect, _, bis = bench("bisect", "canary", "--accel", "tcg", results=results)
        b = bis.get("bisect", {})
        print(f"bench run canary: {t_canary:6.1f} s ({canary.get('verdict')}); bench bisect canary: "
              f"{t_bisect:6.1f} s ({b.get('conclusion')}, {b.get('builds')} builds, {len(b.get('steps', []))} steps)")
        print(f"ratio bisect / run = {t_bisect / t_canary:.2f} (target <= 2.0)")


if __name__ == "__main__":
    sys.exit(main())
