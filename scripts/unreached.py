#!/usr/bin/env python3
"""Which functions of the profiled files the workloads of a run never ran.

    scripts/unreached.py RUN_DIR [--notes DIR] [--format md|tsv] [--file PATH ...]

RUN_DIR is a `bench run --coverage --coverage-object X.o ...` results folder (its
guest/coverage/<window>/ holds the .gcda files the guest saved); the .gcno files are read from
the work slot's build folder its summary.json names, or from DIR (a copy of them: a later
coverage build of that slot with other sources overwrites them).
Each object's counters go through Debian's gcov (bench.run.coverage.gcov.run_gcov), and
gcov's own function records say, per function, how often it was entered in each window.

Output: per source file, the functions entered by no workload (a function that ran only while
booting is marked so), with its first line; a `--format tsv` line per function with its entries
per window. What it is for: the gap list of docs/entrypoints.md ("Reach of the mm files"), measured
instead of read. What it cannot tell: a function that ran is not a function whose every branch
ran; inline functions gcov records per object are summed over objects.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.run.coverage import gcov  # noqa: E402
from bench.run.coverage.mapping import BOOT  # noqa: E402


@dataclass
class Function:
    path: str
    name: str
    line: int
    end: int
    entries: dict[str, int] = field(default_factory=dict)  # window -> times entered

    @property
    def workloads(self) -> list[str]:
        return sorted(w for w, n in self.entries.items() if n and w != BOOT)

    @property
    def status(self) -> str:
        if self.workloads:
            return "ran"
        return "boot only" if self.entries.get(BOOT) else "never ran"


def functions_of(doc: dict[str, Any], src: Path) -> list[tuple[str, str, int, int, int]]:
    """(path, name, first line, last line, times entered) of every function in one gcov doc."""
    out = []
    cwd = str(doc.get("current_working_directory", ""))
    for f in doc.get("files", []):
        path = gcov.source_path(str(f.get("file", "")), cwd, src)
        if path is None:
            continue
        for fn in f.get("functions", []):
            out.append((path, str(fn.get("demangled_name") or fn.get("name")), int(fn.get("start_line", 0)),
                        int(fn.get("end_line", 0)), int(fn.get("execution_count", 0))))
    return out


def tabulate(windows: Mapping[str, Iterable[dict[str, Any]]], src: Path) -> dict[tuple[str, str, int], Function]:
    """Every function of the gcov documents of each window, with the times it was entered there."""
    table: dict[tuple[str, str, int], Function] = {}
    for window, docs in windows.items():
        for doc in docs:
            for path, name, first, last, n in functions_of(doc, src):
                fn = table.setdefault((path, name, first), Function(path, name, first, last))
                fn.entries[window] = fn.entries.get(window, 0) + n
    return table


def gcov_docs(window: Path, build: Path, notes: Path) -> Iterator[dict[str, Any]]:
    """gcov's JSON of each .gcda the guest saved in one window (under the build's absolute
    path), with the .gcno of the same object under notes (the build folder, or a copy of it)."""
    prefix = str(build).strip("/") + "/"
    for gcda in sorted(window.rglob("*.gcda")):
        if gcda.is_symlink():  # the guest made these files: never read a host file through a link
            continue
        rel = PurePosixPath(gcda.relative_to(window)).as_posix()
        gcno = (notes / rel[len(prefix):]).with_suffix(".gcno") if rel.startswith(prefix) else None
        if gcno is None or not gcno.is_file():
            print(f"unreached: no notes for {rel} under {notes}", file=sys.stderr)
            continue
        yield gcov.run_gcov(gcno, gcda)


def collect(run_dir: Path, build: Path, src: Path, notes: Path) -> dict[tuple[str, str, int], Function]:
    root = run_dir / "guest" / "coverage"
    wins = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
    return tabulate({w.name: gcov_docs(w, build, notes) for w in wins}, src)


def source_of(run_dir: Path) -> tuple[Path, Path]:
    """The build and source folders of a run (summary.json's build facts)."""
    doc = json.loads((run_dir / "summary.json").read_text())
    slot = str(doc.get("info", {}).get("slot", ""))
    if not slot:
        raise SystemExit(f"unreached: {run_dir}/summary.json names no work slot")
    root = Path.home() / ".cache/pinbench/work" / slot
    return root / "build", root / "src"  # the paths the guest saved under and gcov names sources by


def render(table: dict[tuple[str, str, int], Function], fmt: str, files: Sequence[str]) -> list[str]:
    by_file: dict[str, list[Function]] = defaultdict(list)
    for fn in table.values():
        if (fn.path in files) if files else fn.path.endswith(".c"):  # a header's inlines: ask by --file
            by_file[fn.path].append(fn)
    lines = []
    if fmt == "tsv":
        wins = sorted({w for fn in table.values() for w in fn.entries})
        lines.append("\t".join(["path", "function", "line", "status", *wins]))
        for path in sorted(by_file):
            for fn in sorted(by_file[path], key=lambda f: f.line):
                lines.append("\t".join([path, fn.name, str(fn.line), fn.status,
                                        *(str(fn.entries.get(w, 0)) for w in wins)]))
        return lines
    lines.append("| file | functions | ran in a workload | boot only | never ran |")
    lines.append("|---|---|---|---|---|")
    for path in sorted(by_file):
        fns = by_file[path]
        count = {s: sum(1 for f in fns if f.status == s) for s in ("ran", "boot only", "never ran")}
        lines.append(f"| {path} | {len(fns)} | {count['ran']} | {count['boot only']} | {count['never ran']} |")
    for path in sorted(by_file):
        missed = sorted((f for f in by_file[path] if f.status != "ran"), key=lambda f: f.line)
        if missed:
            lines.append("")
            lines.append(f"{path}: " + ", ".join(
                f"{f.name}:{f.line}" + (" (boot)" if f.status == "boot only" else "") for f in missed))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--notes", type=Path, help="where the run's .gcno files are (default: its build folder)")
    ap.add_argument("--format", choices=("md", "tsv"), default="md")
    ap.add_argument("--file", action="append", default=[], help="only this source file (repeatable)")
    a = ap.parse_args(argv)
    build, src = source_of(a.run_dir)
    if not (a.run_dir / "guest" / "coverage").is_dir():
        print(f"unreached: {a.run_dir}: no guest/coverage folder (was the run made with --coverage-object?)",
              file=sys.stderr)
        return 2
    print("\n".join(render(collect(a.run_dir, build, src, a.notes or build), a.format, a.file)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
