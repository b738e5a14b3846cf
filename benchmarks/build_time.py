#!/usr/bin/env python3
"""Cold kernel build time: pinbench's minimal base vs. virtme-ng's defconfig-based config.

Both configs ask for the same pinbench fragments (rdma, debug-vm by default) on top of
their base, both are built cold (ccache disabled, fresh build dirs) from one worktree of
the same tree, one after the other, with the same -j. Prints each wall time, the number
of =y options, and the ratio (the issue's target: minimal <= 40% of defconfig-based).

    python3 benchmarks/build_time.py [--tree PATH] [--fragment NAME]... [--jobs N]

Takes ~25 minutes on 2 cores. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import build, kconfig, tree
from bench.base import proc  # noqa: E402
from bench.run.worktree import worktree  # noqa: E402
from bench.run.plan import default_cache, default_home  # noqa: E402


def count_y(config: Path) -> int:
    return sum(1 for line in config.read_text().splitlines() if line.endswith("=y"))


def configure_vng(src: Path, out: Path, fragments: list[kconfig.Fragment], log: Path) -> None:
    """What `vng --kconfig` does: virtme-configkernel --defconfig, plus our fragments."""
    customs = [arg for f in fragments for arg in ("--custom", str(f.path))]
    proc.check(proc.run(["virtme-configkernel", "--defconfig", *customs, f"O={out}"], cwd=src, log=log),
               "virtme-configkernel --defconfig")


def configure_min(src: Path, out: Path, fragments: list[kconfig.Fragment], log: Path) -> None:
    res = kconfig.configure(src, out, tuple(fragments), log)
    if not res.ok:
        sys.exit(f"minimal config failed: {[kconfig.describe_dropped(d) for d in res.dropped]} (log {log})")


def cold_build(src: Path, out: Path, njobs: int, log: Path) -> float:
    env = {"CCACHE_DISABLE": "1", "KBUILD_BUILD_USER": "pinbench", "KBUILD_BUILD_HOST": "pinbench"}
    start = time.monotonic()
    proc.check(proc.run(build.make_argv(src, out, njobs, ["bzImage"]), env=env, log=log), "cold build")
    return time.monotonic() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", help="kernel tree (default: the cached linux-source tree)")
    ap.add_argument("--fragment", action="append", default=None, help="pinbench fragment on both (default: rdma, debug-vm)")
    ap.add_argument("--jobs", type=int, default=build.jobs())
    ap.add_argument("--keep", action="store_true", help="keep the build dirs")
    args = ap.parse_args()
    home, cache = default_home(), default_cache()
    kdir = tree.resolve_tree(args.tree, os.environ, cache)
    names = args.fragment or ["rdma", "debug-vm"]
    extra = [kconfig.find_fragment(n, home / "kconfigs") for n in names]
    base = kconfig.find_fragment(kconfig.BASE_NAME, home / "kconfigs")
    work = Path(tempfile.mkdtemp(prefix="pinbench-buildtime-", dir=cache))
    results = {}
    done = False
    try:
        with worktree(kdir, tree.resolve_base(kdir, None), work / "src") as src:
            for name, configure, frags in (("virtme-ng defconfig", configure_vng, extra),
                                           ("pinbench minimal", configure_min, [base, *extra])):
                out = work / name.split()[-1]
                log = work / f"{name.split()[-1]}.log"
                configure(src, out, frags, log)
                print(f"{name}: {count_y(out / '.config')} options =y; building cold with -j{args.jobs}...", flush=True)
                secs = cold_build(src, out, args.jobs, log)
                results[name] = secs
                print(f"{name}: {secs:.0f} s ({secs / 60:.1f} min), bzImage "
                      f"{(out / build.IMAGE).stat().st_size // 1024} KiB", flush=True)
        done = True
    finally:
        if done and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        elif not done:  # a failed build's logs are the only evidence of why
            print(f"build_time: failed; its build dirs and logs are kept in {work}", file=sys.stderr)
    ratio = results["pinbench minimal"] / results["virtme-ng defconfig"]
    print(f"ratio minimal/defconfig: {ratio:.2f} ({'meets' if ratio <= 0.40 else 'misses'} the 0.40 target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
