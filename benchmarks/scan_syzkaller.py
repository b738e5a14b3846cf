"""Out-of-sample check: the scanner over syzkaller's own report-parser test logs (a script, not a test).

syzkaller's pkg/report/testdata/linux/report/N files start with headers (``TITLE:``, ``ALT:``,
``TYPE:``, ``CORRUPTED:``, ``SUPPRESSED:``, ``EXECUTOR:``..., ``#`` comments), a blank line, then
the console log. A file without TITLE is a log on which syzkaller finds no report. The committed
fixtures carry the same headers behind ``#@ `` (tests/data/console/syzkaller/). For each log
this compares the scanner's first report with syzkaller's: detected or not, title exactly
TITLE, one of the ALT titles, or different; logs without TITLE must give no report. A fixture's
``#@ DIFFERS:`` names our title where syzkaller's stored TITLE predates a rule change of its own
(counted apart, as "stale", when we still give exactly that title).

    python benchmarks/scan_syzkaller.py [-v] [PATH...]   (files or folders; default: the fixtures)
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.report.scanner import scan  # noqa: E402

FIXTURES = ROOT / "tests" / "data" / "console" / "syzkaller"
_KEYS = ("TITLE", "ALT", "TYPE", "CORRUPTED", "SUPPRESSED", "EXECUTOR", "PANICKED", "START", "END", "FRAME")


@dataclass(frozen=True)
class Case:
    name: str
    headers: dict[str, list[str]]
    log: list[str]

    @property
    def title(self) -> str:
        return self.headers.get("TITLE", [""])[0]

    @property
    def corrupted(self) -> bool:
        return self.headers.get("CORRUPTED", ["N"])[0].upper().startswith("Y")


def parse(path: Path) -> Case:
    """A syzkaller test file (headers, blank line, log) or a fixture with ``#@ `` headers."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    headers: dict[str, list[str]] = {}
    if any(line.startswith("#@ ") for line in lines[:12]):
        body = []
        for line in lines:
            if line.startswith("#@ "):
                key, _, value = line[3:].partition(":")
                headers.setdefault(key.strip(), []).append(value.strip())
            else:
                body.append(line)
        return Case(path.name, headers, body)
    i = 0
    while i < len(lines) and lines[i].strip():
        key, sep, value = lines[i].partition(":")
        if lines[i].startswith("#"):
            i += 1
            continue
        if not sep or key not in _KEYS:
            break  # no header block: the log starts right away
        headers.setdefault(key, []).append(value.strip())
        i += 1
    if headers and i < len(lines) and not lines[i].strip():
        i += 1
    log = lines[i:] if headers else lines
    if "REPORT:" in log:  # newer files append the expected report text after the log
        log = log[:log.index("REPORT:")]
    return Case(path.name, headers, log)


@dataclass
class Tally:
    crash: int = 0
    detected: int = 0
    exact: int = 0
    alt: int = 0
    stale: int = 0
    clean: int = 0
    false: int = 0


def judge(case: Case) -> tuple[str, str]:
    """(verdict, what the scanner said): exact, alt, stale, differs, missed, clean, false."""
    reports = scan(case.log)
    got = reports[0].title if reports else ""
    if not case.title:
        return ("false" if reports else "clean"), got
    if not reports:
        return "missed", got
    if got == case.title:
        return "exact", got
    alts = case.headers.get("ALT", [])
    if got in alts or case.title in reports[0].alt_titles:
        return "alt", got
    if got in case.headers.get("DIFFERS", []):
        return "stale", got
    return "differs", got


def measure(paths: list[Path], verbose: bool = False) -> Tally:
    t = Tally()
    for path in paths:
        case = parse(path)
        verdict, got = judge(case)
        if not case.title:
            t.clean += 1
            t.false += verdict == "false"
        else:
            t.crash += 1
            t.detected += verdict != "missed"
            t.exact += verdict == "exact"
            t.alt += verdict == "alt"
            t.stale += verdict == "stale"
        if verbose and verdict not in ("exact", "clean"):
            mark = " (CORRUPTED)" if case.corrupted else ""
            print(f"{verdict:8} {case.name}{mark}: got {got!r}, want {case.title!r}")
    return t


def files(args: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in args:
        if p.is_dir():
            out += sorted((q for q in p.iterdir() if q.is_file() and not q.name.endswith((".md", ".tsv"))),
                          key=lambda q: (len(q.name), q.name))
        else:
            out.append(p)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="list every log not titled exactly")
    ap.add_argument("paths", nargs="*", type=Path, default=[FIXTURES])
    args = ap.parse_args()
    t = measure(files(args.paths), args.verbose)
    pct = lambda n: f"{100 * n / max(t.crash, 1):.1f}%"  # noqa: E731
    print(f"crash logs: {t.crash}, detected {t.detected} ({pct(t.detected)}), exact title {t.exact} "
          f"({pct(t.exact)}), ALT title {t.alt}, exact or ALT {t.exact + t.alt} ({pct(t.exact + t.alt)}), "
          f"stale syzkaller title {t.stale}, other titles {t.crash - t.exact - t.alt - t.stale}")
    print(f"logs without a report: {t.clean}, false reports: {t.false}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
