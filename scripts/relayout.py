#!/usr/bin/env python3
"""Issue 22 item 5: move bench/'s modules into packages that show the layers, once, after the merges.

    cli -> drivers -> run (plan, pipeline and its stages) -> report (kernel reports) -> base

Run from the repository's top: `python3 scripts/relayout.py` (--dry-run: print, change nothing).
It `git mv`s every module of MOVES (a package line moves the whole folder, including modules
added since this table was written), then rewrites in every tracked file:
- imports and dotted mentions of moved modules (`import bench.x`, `from bench import x`,
  `from bench.x import y`, `bench.x.f`, "bench.x.y" in mock.patch strings) in *.py and docs;
  a `from bench import a, b` whose modules now sit in different packages is split;
- a renamed module's binding (`from bench import verdict` -> `from bench.run import cases`:
  `verdict.f` -> `cases.f`) when that is unambiguous in the file, else `... import cases as verdict`
  (reported: rename by hand);
- `bench/x.py` and `bench/x/` path mentions (docs, README, docstrings, comments, shell scripts),
  and a renamed module's shorter ones (`nightly/report.py`; `verdict.py` when its name is unique);
- `Path(__file__).resolve().parent.parent` / `.parents[N]` in a moved module, for its new depth;
and creates each new package's __init__.py. A top-level bench/*.py it does not know stays put
and is reported. Deterministic and idempotent: a second run changes nothing (no new path is an
old one). Prints what it did.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

# old path -> new path, and why. A path ending in "/" moves a package (every file under it).
MOVES: list[tuple[str, str, str]] = [
    # drivers: run the pipeline more than once, or check the machine
    ("bench/nightly/", "bench/drivers/nightly/", "a driver: a matrix of runs, each night"),
    ("bench/nightly/report.py", "bench/drivers/nightly/night_pages.py",
     "it makes the night's pages (junit, summary.md, index.html), not a kernel report"),
    ("bench/each/", "bench/drivers/each/", "a driver: every prefix of a series"),
    ("bench/each/run.py", "bench/drivers/each/walk.py", "the walk over the prefixes; bench/run/ is now the run layer"),
    ("bench/bisect/", "bench/drivers/bisect/", "a driver: a binary search over runs"),
    ("bench/prove.py", "bench/drivers/prove.py", "a driver: the bug catalogue through the bench"),
    ("bench/repeat.py", "bench/drivers/repeat.py", "a driver: one kernel N times"),
    ("bench/doctor.py", "bench/drivers/doctor.py", "a command the cli runs: the preflight of the machine"),
    # the run: the plan, the pipeline and its stages, what a run writes
    ("bench/plan.py", "bench/run/plan.py", "the run's plan"),
    ("bench/pipeline.py", "bench/run/pipeline.py", "the run: the stages in order"),
    ("bench/series.py", "bench/run/series.py", "stage: the series"),
    ("bench/mbox.py", "bench/run/mbox.py", "stage: the series (mail)"),
    ("bench/series_meta.py", "bench/run/series_yaml.py", "it reads series.yaml"),
    ("bench/catch.py", "bench/run/catch.py", "series.yaml catch: and judging a run by it (prove and nightly use it)"),
    ("bench/kcmdline.py", "bench/run/kcmdline.py", "the run's kernel command line"),
    ("bench/tree.py", "bench/run/tree.py", "stage: the kernel tree"),
    ("bench/slot.py", "bench/run/slot.py", "stage: the work slot"),
    ("bench/worktree.py", "bench/run/worktree.py", "stage: the worktree"),
    ("bench/kconfig.py", "bench/run/kconfig.py", "stage: the config"),
    ("bench/build.py", "bench/run/build.py", "stage: the build"),
    ("bench/buildwarn.py", "bench/run/buildwarn.py", "the build's warnings"),
    ("bench/guests.py", "bench/run/guests.py", "stage: the workloads"),
    ("bench/vm.py", "bench/run/vm.py", "stage: the boot"),
    ("bench/qemu.py", "bench/run/qemu.py", "the boot's QEMU wrapper"),
    ("bench/subcases.py", "bench/run/subcases.py", "a workload's own cases"),
    ("bench/verdict.py", "bench/run/cases.py",
     "it makes the Cases of every stage; 'verdict' had four meanings"),
    ("bench/oracles.py", "bench/run/oracles.py", "stage: the oracles"),
    ("bench/leaks.py", "bench/run/leaks.py", "stage: the pages oracle"),
    ("bench/page_owner.py", "bench/run/page_owner.py", "the pages oracle's parser"),
    ("bench/pins.py", "bench/run/pins.py", "the run's FOLL_PIN counters"),
    ("bench/result.py", "bench/run/result.py", "the run's result"),
    ("bench/runfacts.py", "bench/run/runfacts.py", "the run's facts (branch house3, issue 22 item 1)"),
    ("bench/junit.py", "bench/run/junit.py", "the run's JUnit"),
    ("bench/printer.py", "bench/run/printer.py", "the run's progress lines and summary"),
    ("bench/rates.py", "bench/run/rates.py", "rates over runs (repeat and prove use it: below both drivers)"),
    ("bench/pages/", "bench/run/pages/", "what a run leaves for people, written by the run"),
    ("bench/coverage/", "bench/run/coverage/", "stage: which changed lines ran"),
    # kernel reports: bench/report/ stays
    ("bench/report/table.py", "bench/report/groups.py",
     "the oops table's types and its BUG:/WARNING:/INFO: groups, not the whole table"),
    ("bench/report/table_more.py", "bench/report/oops_table.py", "the whole oops table (GROUPS), not 'more' of it"),
    # base helpers: no knowledge of kernels or runs
    ("bench/errors.py", "bench/base/errors.py", "base"),
    ("bench/files.py", "bench/base/files.py", "base"),
    ("bench/proc.py", "bench/base/proc.py", "base"),
    ("bench/paths.py", "bench/base/paths.py", "base"),
    ("bench/limits.py", "bench/base/limits.py", "base"),
    ("bench/formats.py", "bench/base/formats.py", "base"),
    ("bench/yamlmap.py", "bench/base/yamlmap.py", "base"),
    ("bench/env.py", "bench/base/env.py", "base"),
    ("bench/console_lines.py", "bench/base/console_lines.py", "base"),
    ("bench/stats.py", "bench/base/stats.py", "base: a statistics test"),
    ("bench/rundir.py", "bench/base/rundir.py", "base: the results folder's names, used by every layer above"),
    ("bench/casekey.py", "bench/base/casekey.py", "base: the case-key pattern language (report/issues uses it)"),
]

# Top-level modules that stay in bench/ (the entry point and the package itself).
STAYS = {"bench/__init__.py", "bench/__main__.py"}

NEW_PACKAGES: dict[str, str] = {
    "bench/drivers/__init__.py":
        '"""The drivers: each runs the run (bench/run/) more than once and compares, or checks the\n'
        'machine (doctor). Layer 2 of 5: cli -> drivers -> run -> report -> base; a driver imports\n'
        'no other driver but nightly, which runs the others (tests/test_architecture.py)."""\n',
    "bench/run/__init__.py":
        '"""The run: a Plan, the pipeline and its stages (series, tree, slot, kconfig, build, vm, guests,\n'
        'cases, oracles, result, junit, pages, coverage). Layer 3 of 5: cli -> drivers -> run -> report\n'
        '-> base; nothing here imports a driver or the cli (tests/test_architecture.py)."""\n',
    "bench/base/__init__.py":
        '"""The base helpers: errors, files, subprocesses, limits, formats, the YAML loader, the results\n'
        'folder\'s names, case keys. Layer 5 of 5: they import nothing of bench but each other\n'
        '(tests/test_architecture.py)."""\n',
}

SKIP = {"scripts/relayout.py", "tests/test_relayout.py"}  # they spell the old names on purpose
TEXT_SUFFIXES = {".py", ".md", ".sh", ".txt", ".yaml", ".yml", ".toml", ".cfg", ".ini", ""}
MODULE_REF = re.compile(r"(?<![\w.])bench(?:\.\w+)+")
PATH_REF = re.compile(r"(?<![\w./-])bench/[\w/]*(?:\.py|/)")
DEPTH = re.compile(r"Path\(__file__\)\.resolve\(\)((?:\.parent)+(?![\w\[])|\.parents\[(\d+)\])")


def git(*args: str, root: Path) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, text=True, capture_output=True).stdout


def module_of(path: str) -> str:
    parts = Path(path).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def file_moves(tracked: list[str]) -> tuple[dict[str, str], list[str]]:
    """old file -> new file for every tracked file under a moved path; the unknown top-level modules."""
    files, dirs = {}, {}
    for old, new, _ in MOVES:
        (dirs if old.endswith("/") else files)[old] = new
    moves: dict[str, str] = {}
    for f in tracked:
        if f in files:
            moves[f] = files[f]
        elif hit := max((d for d in dirs if f.startswith(d)), key=len, default=None):
            moves[f] = dirs[hit] + f[len(hit):]
    known = {n for _, n, _ in MOVES} | set(files) | STAYS
    unknown = [f for f in tracked if f.startswith("bench/") and f.count("/") == 1 and f.endswith(".py")
               and f not in known and f not in moves]
    return moves, unknown


def module_map(moves: dict[str, str]) -> dict[str, str]:
    """old module -> new module, from the file moves (a package by its __init__.py)."""
    out = {module_of(o): module_of(n) for o, n in moves.items() if o.endswith(".py")}
    for old, new, _ in MOVES:  # a package moved without a tracked __init__ still maps
        if old.endswith("/"):
            out.setdefault(module_of(old.rstrip("/") + ".py"), module_of(new.rstrip("/") + ".py"))
    return out


def map_dotted(name: str, mods: dict[str, str]) -> str:
    """bench.a.b.attr -> its new spelling, by the longest moved module prefix."""
    parts = name.split(".")
    for i in range(len(parts), 1, -1):
        head = ".".join(parts[:i])
        if head in mods:
            return ".".join([mods[head], *parts[i:]])
    return name


def map_path(text: str, paths: dict[str, str]) -> str:
    """bench/x.py or bench/x/ -> its new path (a folder by the longest moved prefix)."""
    if text in paths:
        return paths[text]
    if text.endswith("/"):
        hit = max((p for p in paths if p.endswith("/") and text.startswith(p)), key=len, default=None)
        if hit:
            return paths[hit] + text[len(hit):]
    return text


def bound_names(tree: ast.AST) -> set[str]:
    """Every name the file binds or reads (a renamed module's new name must not be among them)."""
    names: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            names.add(n.id)
        elif isinstance(n, ast.arg):
            names.add(n.arg)
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
        elif isinstance(n, ast.alias):
            names.add((n.asname or n.name).split(".")[0])
    return names


def offsets(text: str) -> list[int]:
    out, pos = [0], 0
    for line in text.splitlines(keepends=True):
        pos += len(line)
        out.append(pos)
    return out


def rewrite_imports(text: str, mods: dict[str, str], where: str, notes: list[str]) -> str:
    """`from bench[.x] import a, b`: names that are moved modules go to their new package (split
    when they now sit apart); a renamed module's binding is renamed in the file when unambiguous."""
    try:
        tree = ast.parse(text)
    except SyntaxError as e:
        notes.append(f"{where}: not parsed ({e.msg}), imports left as they are")
        return text
    starts = offsets(text)
    at = lambda line, col: starts[line - 1] + col  # noqa: E731
    used = bound_names(tree)
    froms = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0 and n.module
             and (n.module == "bench" or n.module.startswith("bench."))]
    # Renamed modules imported without `as`: rename the binding where the file uses the old name
    # for nothing else and the new name for nothing at all.
    renames: dict[str, str] = {}
    for node in froms:
        for a in node.names:
            target = mods.get(f"{node.module}.{a.name}")
            if target and a.asname is None and target.rsplit(".", 1)[1] != a.name:
                renames[a.name] = target.rsplit(".", 1)[1]
    spots: dict[str, list[ast.Name]] = {}
    for old, new in list(renames.items()):
        names = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == old]
        stored = any(not isinstance(n.ctx, ast.Load) for n in names) or \
            any(isinstance(n, ast.arg) and n.arg == old for n in ast.walk(tree)) or \
            sum(1 for n in ast.walk(tree) if isinstance(n, ast.alias) and (n.asname or n.name) == old) > 1
        exact = all(text[at(n.lineno, n.col_offset):at(n.lineno, n.col_offset) + len(old)] == old for n in names)
        if stored or not exact or new in used:
            notes.append(f"{where}: kept `{new} as {old}` ({old} or {new} has another use here): rename by hand")
            del renames[old]
        else:
            spots[old] = names
    edits: list[tuple[int, int, str]] = []
    for node in froms:
        if not any(f"{node.module}.{a.name}" in mods for a in node.names):
            continue  # only the module part moves: MODULE_REF rewrites it in place, comments kept
        groups: dict[str, list[str]] = {}
        for a in node.names:
            target = mods.get(f"{node.module}.{a.name}")
            if target:
                pkg, leaf = target.rsplit(".", 1)
                alias = a.asname or (a.name if leaf != a.name and a.name not in renames else None)
                groups.setdefault(pkg, []).append(leaf + (f" as {alias}" if alias else ""))
            else:
                groups.setdefault(map_dotted(node.module, mods), []).append(
                    a.name + (f" as {a.asname}" if a.asname else ""))
        indent = " " * node.col_offset
        lines = []
        for pkg, names in groups.items():
            lines.append(f"from {pkg} import {', '.join(names)}")  # tidy_imports wraps a long one
        start, end = at(node.lineno, node.col_offset), at(node.end_lineno or node.lineno, node.end_col_offset or 0)
        if "#" in text[start:end]:
            notes.append(f"{where}:{node.lineno}: a comment inside the import was dropped")
        edits.append((start, end, ("\n" + indent).join(lines)))
    for old, names in spots.items():
        edits += [(at(n.lineno, n.col_offset), at(n.lineno, n.col_offset) + len(old), renames[old]) for n in names]
    for start, end, new_text in sorted(edits, reverse=True):
        text = text[:start] + new_text + text[end:]
    return text


ONE_LINE_IMPORT = re.compile(r"^from (bench[\w.]*) import ([\w, ]+)$")


def tidy_imports(text: str) -> str:
    """Runs of one-line `from bench... import a, b` at the top level: sorted by module, one line a
    module (a file whose imports were rewritten; others are left as they are)."""
    out: list[str] = []
    run: dict[str, list[str]] = {}

    def flush() -> None:
        for module in sorted(run):
            names = sorted(dict.fromkeys(run[module]))
            line = f"from {module} import {', '.join(names)}"
            if len(line) > 110:  # filled, continuation lines under the first name
                head = f"from {module} import ("
                line = textwrap.fill(", ".join(names) + ")", 110, initial_indent=head, subsequent_indent=" " * len(head),
                                     break_on_hyphens=False)
            out.append(line)
        run.clear()

    for line in text.split("\n"):
        if m := ONE_LINE_IMPORT.match(line):
            run.setdefault(m.group(1), []).extend(n.strip() for n in m.group(2).split(","))
            continue
        flush()
        out.append(line)
    flush()
    return "\n".join(out)


def rewrite_depth(text: str, shift: int) -> str:
    """Path(__file__).resolve().parent.parent in a module moved `shift` folders deeper."""
    def fix(m: re.Match[str]) -> str:
        levels = int(m.group(2)) + 1 if m.group(2) else m.group(1).count(".parent")
        return f"Path(__file__).resolve().parents[{levels + shift - 1}]"
    return DEPTH.sub(fix, text)


def short_names(moves: dict[str, str], tracked: list[str]) -> dict[str, str]:
    """A renamed module's shorter mentions: `nightly/report.py`, and `verdict.py` alone when no
    other module of bench/ has that name (`run.py` has several: left alone)."""
    leaves = [Path(f).name for f in tracked if f.startswith("bench/") and f.endswith(".py")]
    out: dict[str, str] = {}
    for old, new in moves.items():
        o, n = Path(old), Path(new)
        if o.name == n.name or not old.endswith(".py"):
            continue
        if o.parent.name != "bench":
            out[f"{o.parent.name}/{o.name}"] = f"{n.parent.name}/{n.name}"
        if leaves.count(o.name) == 1:
            out[o.name] = n.name
    assert not set(out) & set(out.values()), "a short name is old and new: not idempotent"
    return out


def rewrite_text(text: str, mods: dict[str, str], paths: dict[str, str], short: dict[str, str]) -> str:
    text = MODULE_REF.sub(lambda m: map_dotted(m.group(0), mods), text)
    text = PATH_REF.sub(lambda m: map_path(m.group(0), paths), text)
    if short:
        pattern = r"(?<![\w./-])(" + "|".join(re.escape(k) for k in sorted(short, key=len, reverse=True)) + r")(?![\w/])"
        text = re.sub(pattern, lambda m: short[m.group(1)], text)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    ap.add_argument("--root", type=Path, default=Path.cwd())
    args = ap.parse_args(argv)
    root: Path = args.root.resolve()
    olds = {o for o, _, _ in MOVES}
    assert not olds & {n for _, n, _ in MOVES}, "a new path is an old one: the script would not be idempotent"
    tracked = git("ls-files", root=root).splitlines()
    moves, unknown = file_moves(tracked)
    mods = module_map(moves)
    paths = {o: n for o, n, _ in MOVES} | moves
    short = short_names(moves, tracked)
    # 1. the moves
    for old, new in sorted(moves.items()):
        print(f"git mv {old} {new}")
        if not args.dry_run:
            (root / new).parent.mkdir(parents=True, exist_ok=True)
            git("mv", old, new, root=root)
    for init, doc in NEW_PACKAGES.items():
        if not (root / init).exists():
            print(f"create {init}")
            if not args.dry_run:
                (root / init).write_text(doc)
                git("add", init, root=root)
    if not args.dry_run:  # folders emptied by the moves (left with __pycache__ only)
        for old in sorted({str(Path(o).parent) for o in moves}, key=len, reverse=True):
            d = root / old
            if d.is_dir() and not [p for p in d.rglob("*") if p.is_file() and "__pycache__" not in p.parts]:
                subprocess.run(["rm", "-rf", str(d)], check=True)
    # 2. the rewrites, in every tracked text file (a dry run reads them where they are now)
    back = {n: o for o, n in moves.items()}
    tracked = [moves.get(f, f) for f in tracked] if args.dry_run else git("ls-files", root=root).splitlines()
    notes: list[str] = []
    rewritten = 0
    for rel in tracked:
        src = root / (back.get(rel, rel) if args.dry_run else rel)
        if rel in SKIP or Path(rel).suffix not in TEXT_SUFFIXES or not src.is_file():
            continue
        try:
            text = src.read_text()
        except UnicodeDecodeError:
            continue
        new = text
        if rel.endswith(".py"):
            new = rewrite_imports(new, mods, rel, notes)
            shift = rel.count("/") - back[rel].count("/") if rel in back else 0
            if shift:
                new = rewrite_depth(new, shift)
                if "__file__" in new and not DEPTH.search(new):
                    notes.append(f"{rel}: uses __file__ in a form not rewritten: check its depth by hand")
        new = rewrite_text(new, mods, paths, short)
        if new != text and rel.endswith(".py"):
            new = tidy_imports(new)
        if new != text:
            rewritten += 1
            print(f"rewrite {rel}")
            if not args.dry_run:
                src.write_text(new)
    for f in unknown:
        notes.append(f"{f}: not in MOVES, left in bench/: place it in a layer (scripts/relayout.py MOVES)")
    for n in notes:
        print(f"note: {n}")
    print(f"relayout: {len(moves)} files moved, {rewritten} files rewritten, {len(unknown)} unknown modules"
          + (" (dry run)" if args.dry_run else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
