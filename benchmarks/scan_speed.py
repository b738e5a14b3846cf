"""How fast is bench.report.scanner.scan()? (a script, not a test)

Builds a large console log by repeating the real fixtures in tests/data/console (and its
subfolders): the clean logs, with every crash log mixed in so that crash logs make --crash-share
of the bytes (default 5%: a real run's console is megabytes of boot and workload output around a
few reports; the scan's cost per line is far higher inside a report than outside one), or, with
--clean-weight N, N copies of the clean logs per copy of the crash logs (the mix of the first
version of this script, which used 4), then times, over the same lines and in the same run:

  strip   a plain loop that only strips the printk/syslog prefixes (the floor for any scanner)
  grep    one regex searched in every line (what LKP's grep_crash_head does)
  scan    bench.report.scanner.scan()

and prints MB/s for each and scan's cost relative to both baselines. Each is the best of --runs,
the three interleaved, in CPU time of this process (time.process_time): the machine is shared,
and wall time would charge other jobs' load to whichever loop it fell on. The scanner keeps
small per-line caches (frames, line kinds, titles); "first scan" is the first call, caches cold.

    python benchmarks/scan_speed.py [--mb 8] [--runs 5] [--crash-share 0.05 | --clean-weight N] [--clean LOG...]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report.scanner import scan, strip_prefix  # noqa: E402

CONSOLE = ROOT / "tests" / "data" / "console"
GREP = re.compile(r"BUG:|WARNING:|Oops|Kernel panic|general protection|UBSAN:|INFO: task|"
                  r"detected stall|soft lockup|hard LOCKUP|unreferenced object|kernel BUG|page dumped because")


def load_logs(extra_clean: list[Path]) -> tuple[list[list[str]], list[list[str]]]:
    """(clean logs, crash logs): fixture bodies without their #@ header, plus --clean logs."""
    clean: list[list[str]] = []
    crash: list[list[str]] = []
    for path in sorted(CONSOLE.glob("**/*.log")) + extra_clean:
        text = path.read_text(encoding="utf-8").splitlines()
        header = [line for line in text if line.startswith("#@ ")]
        body = [line for line in text if not line.startswith("#@ ")]
        (crash if any(h.startswith("#@ TITLE:") for h in header) else clean).append(body)
    return clean, crash


def build_input(megabytes: float, crash_share: float, extra_clean: list[Path],
                clean_weight: int = 0) -> tuple[list[str], int]:
    clean, crash = load_logs(extra_clean)
    clean_block = [line for log in clean for line in log]
    crash_block = [line for log in crash for line in log]
    clean_bytes = sum(len(line) + 1 for line in clean_block)
    crash_bytes = sum(len(line) + 1 for line in crash_block)
    # clean copies per crash copy so that crash logs are crash_share of the bytes
    weight = clean_weight or max(1, round(crash_bytes * (1 - crash_share) / (crash_share * clean_bytes)))
    block = clean_block * weight + crash_block
    block_bytes = clean_bytes * weight + crash_bytes
    repeats = max(1, int(megabytes * 1e6 / block_bytes))
    return block * repeats, block_bytes * repeats


def timed(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def strip_only(lines: list[str]) -> int:
    return sum(1 for line in lines if strip_prefix(line)[0])


def grep_only(lines: list[str]) -> int:
    return sum(1 for line in lines if GREP.search(line))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=8.0, help="input size in MB (default 8)")
    ap.add_argument("--runs", type=int, default=5, help="best of this many runs (default 5)")
    ap.add_argument("--crash-share", type=float, default=0.05, help="share of the input bytes from crash logs")
    ap.add_argument("--clean-weight", type=int, default=0, metavar="N",
                    help="instead: N copies of the clean logs per copy of the crash logs (the first mix: 4)")
    ap.add_argument("--clean", type=Path, nargs="*", default=[], metavar="LOG",
                    help="more real clean console logs to mix in (e.g. a results/<run>/console.log)")
    args = ap.parse_args()

    lines, size = build_input(args.mb, args.crash_share, args.clean, args.clean_weight)
    mb = size / 1e6
    clean, crash = load_logs(args.clean)
    if args.clean_weight:
        clean_bytes = sum(len(line) + 1 for log in clean for line in log)
        crash_bytes = sum(len(line) + 1 for log in crash for line in log)
        share = crash_bytes / (args.clean_weight * clean_bytes + crash_bytes)
        mix = f"{args.clean_weight} clean copies per crash copy: crash logs {100 * share:.0f}% of the bytes"
    else:
        mix = f"crash logs {100 * args.crash_share:.0f}% of the bytes"
    print(f"input: {len(lines):,} lines, {mb:.1f} MB ({len(clean)} clean and {len(crash)} crash logs repeated, {mix})")
    reports: list[int] = []
    t_first = timed(lambda: reports.append(len(scan(lines))))
    t_strip = t_grep = t_scan = float("inf")
    for _ in range(args.runs):
        t_strip = min(t_strip, timed(lambda: strip_only(lines)))
        t_grep = min(t_grep, timed(lambda: grep_only(lines)))
        t_scan = min(t_scan, timed(lambda: scan(lines)))
    print(f"strip  {mb / t_strip:7.1f} MB/s  ({t_strip:.3f} s CPU)")
    print(f"grep   {mb / t_grep:7.1f} MB/s  ({t_grep:.3f} s CPU)")
    print(f"scan   {mb / t_scan:7.1f} MB/s  ({t_scan:.3f} s CPU, {reports[0]} reports; first scan {t_first:.3f} s)")
    print(f"scan / strip = {t_scan / t_strip:.2f}x the time, scan / grep = {t_scan / t_grep:.2f}x the time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
