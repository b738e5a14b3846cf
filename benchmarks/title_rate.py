"""How well does the scanner find and title the real console fixtures? (a script, not a test)

Every tests/data/console/**/*.log with ``#@ TITLE:`` headers is a crash log (the first TITLE is
the title of its first report: syzkaller's for the syzkaller/ and syzbot fixtures); a log
without one is clean and must give no report. Prints the detection rate, the exact first-title
rate and the number of false reports on clean logs; -v lists every miss.

    python benchmarks/title_rate.py [-v] [DIR...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report.scanner import scan  # noqa: E402

CONSOLE = ROOT / "tests" / "data" / "console"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="list every missed or wrong title")
    ap.add_argument("dirs", nargs="*", type=Path, default=[CONSOLE])
    args = ap.parse_args()
    crash = detected = exact = clean = false = 0
    for path in sorted(p for d in args.dirs for p in d.glob("**/*.log")):
        text = path.read_text(encoding="utf-8").splitlines()
        want = [line[9:].strip() for line in text if line.startswith("#@ TITLE:")]
        reports = scan(line for line in text if not line.startswith("#@ "))
        if not want:
            clean += 1
            false += len(reports)
            if reports and args.verbose:
                print(f"FALSE   {path.name}: {reports[0].title}")
            continue
        crash += 1
        detected += bool(reports)
        got = reports[0].title if reports else ""
        exact += got == want[0]
        if got != want[0] and args.verbose:
            print(f"{'TITLE' if reports else 'MISSED'}   {path.name}: got {got!r}, want {want[0]!r}")
    print(f"crash logs: {crash}, detected {detected} ({100 * detected / max(crash, 1):.1f}%), "
          f"exact first title {exact} ({100 * exact / max(crash, 1):.1f}%)")
    print(f"clean logs: {clean}, false reports: {false}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
