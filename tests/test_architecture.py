"""The house rules, checked on the code itself (ast, no imports run).

- the layers, top down: cli -> drivers -> run -> report -> base (LAYERS); no import goes up a
  layer or across to another driver, counting imports under `if TYPE_CHECKING:`;
- no import circle between bench's modules, counting imports under `if TYPE_CHECKING:` (a type
  import is a design dependency even when nothing is imported at run time);
- argparse is imported only under bench/cli/, and nothing outside bench/cli/ imports bench.cli
  (feature modules never reach up into the command line);
- no module is over 400 lines;
- a results file name (summary.json, console.log, guest/...) is spelled in bench/base/rundir.py only;
- every bench/....py a docstring, comment or doc cites exists (a renamed module leaves none behind);
- a plan's results root and run id change in bench/run/sweep.py only (and plan.py's own claim).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bench"
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path) -> set[str]:
    """Every module `path` imports (bench.x.y for `from bench.x import y` when y is a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES)
    return found


def graph(modules: dict[str, Path] = MODULES) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges[name] = {m for m in imports(path) if m in modules and m != name}
        # Importing bench.a.b runs bench/a/__init__.py first: an edge to the package too.
        edges[name] |= {m.rsplit(".", 1)[0] for m in edges[name] if m.count(".") > 1} - {name}
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_circle() -> None:
    assert find_cycle(graph()) is None, " -> ".join(find_cycle(graph()) or [])


def test_a_circle_through_type_checking_imports_is_a_circle(tmp_path: Path) -> None:
    """An import only for annotations is still an arrow (printer -> prove -> pipeline -> printer was one)."""
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bench.b import B\n")
    b.write_text("import bench.a\n")
    assert find_cycle(graph({"bench.a": a, "bench.b": b})) == ["bench.a", "bench.b", "bench.a"]


def test_the_checker_sees_a_circle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


CLI = ("bench.cli", "bench.__main__")  # the command line and its `python -m bench` entry


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not n.startswith(CLI)))
def test_only_the_cli_uses_argparse_and_nothing_imports_the_cli(name: str) -> None:
    used = imports(MODULES[name])
    assert "argparse" not in used, f"{name} imports argparse: only bench/cli/ may"
    assert not {m for m in used if m == "bench.cli" or m.startswith("bench.cli.")}, \
        f"{name} imports the command line"


# Modules still over the limit, each being split elsewhere (strict: the mark must go when it lands).
SPLIT_PENDING: set[str] = set()


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason="split pending"))
                                  if n in SPLIT_PENDING else n for n in sorted(MODULES)])
def test_modules_are_small(name: str) -> None:
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name]}: {lines} lines (max {MAX_LINES}): split it"


CITED = re.compile(r"\bbench/[\w/]+\.py\b")


def test_cited_modules_exist() -> None:
    root = PACKAGE.parent
    texts = [*sorted(PACKAGE.rglob("*.py")), *sorted((root / "docs").glob("*.md")), root / "README.md"]
    missing = sorted({f"{t.relative_to(root)}: {m}" for t in texts for m in CITED.findall(t.read_text())
                      if not (root / m).is_file()})
    assert not missing, "cited modules that do not exist: " + "; ".join(missing)


def test_the_architecture_listing_names_modules_that_exist() -> None:
    """The bench/ tree in docs/ARCHITECTURE.md: each module line (`    plan.py ...`) and package
    line (`  run/ ...`), indented two spaces a level, names one that exists at that place."""
    text = (PACKAGE.parent / "docs" / "ARCHITECTURE.md").read_text()
    listing = text[text.index("\nbench/\n"):]
    listing = listing[:listing.index("```")]
    named, stack = [], []
    for indent, name in re.findall(r"^( {2,8})(\w+\.py|\w+/)\s", listing, re.M):  # not a description's next line
        stack = stack[:len(indent) // 2 - 1] + [name]
        named.append("".join(stack))
    assert len(named) > 40, "the listing moved: update this test"
    assert not [n for n in named if not (PACKAGE / n).exists()], [n for n in named if not (PACKAGE / n).exists()]


# -- the layers ---------------------------------------------------------------------------------

# Top down. A module imports its own package's modules and those of the layers below it, never
# one above, nor another package of its own layer: the drivers do not use each other, but the
# nightly, a layer of its own, runs repeats and judges catalogue bugs as prove does.
LAYERS: list[list[str]] = [
    ["bench.cli"],  # the edge: argv in, exit code out (bench/__main__.py is its entry)
    ["bench.drivers.nightly"],  # a matrix of runs and repeats each night
    ["bench.drivers.bisect", "bench.drivers.doctor", "bench.drivers.each", "bench.drivers.prove",
     "bench.drivers.repeat"],  # run the run more than once and compare; check the machine
    ["bench.run"],  # one run: the plan, the pipeline and its stages, what it writes
    ["bench.report"],  # kernel reports: the console scanner, the oops table, known issues
    ["bench.base"],  # helpers that know nothing of kernels or runs
]
UNLAYERED = {"bench": "its docstring only", "bench.drivers": "its docstring only",
             "bench.__main__": "`python -m bench`: calls bench.cli"}


def place(module: str, layers: list[list[str]] = LAYERS) -> tuple[int, str] | None:
    """(layer index, package) of a module: the longest package of LAYERS it is in."""
    hits = [(i, p) for i, layer in enumerate(layers) for p in layer if module == p or module.startswith(p + ".")]
    return max(hits, key=lambda hit: len(hit[1]), default=None)


def wrong_arrows(edges: dict[str, set[str]], layers: list[list[str]] = LAYERS) -> list[str]:
    found = []
    for src, targets in sorted(edges.items()):
        if src in UNLAYERED:
            continue
        here = place(src, layers)
        for dst in sorted(targets - set(UNLAYERED)):
            there = place(dst, layers)
            if here is None or there is None:
                found.append(f"{src} -> {dst}: {src if here is None else dst} is in no layer")
            elif there[0] < here[0]:
                found.append(f"{src} -> {dst}: up from {here[1]} to {there[1]}")
            elif there[0] == here[0] and there[1] != here[1]:
                found.append(f"{src} -> {dst}: across from {here[1]} to {there[1]}")
    return found


def test_every_module_is_in_a_layer() -> None:
    assert not [m for m in MODULES if m not in UNLAYERED and place(m) is None], \
        "put the module in a layer's package (LAYERS)"
    assert {m for m in UNLAYERED if m in MODULES} == set(UNLAYERED), "UNLAYERED names a module that is gone"


def test_no_import_goes_up_a_layer_or_across() -> None:
    assert not (found := wrong_arrows(graph())), "; ".join(found)


def test_unlayered_modules_import_only_the_cli() -> None:
    assert graph()["bench"] == set() and graph()["bench.drivers"] == set()
    assert graph()["bench.__main__"] <= {"bench.cli", "bench.cli.main"}


def test_the_checker_sees_an_arrow_up_or_across(tmp_path: Path) -> None:
    """A type import up a layer is an arrow up: a printer that names a driver's type was one."""
    layers = [["bench.cli"], ["bench.drivers.a", "bench.drivers.b"], ["bench.run"], ["bench.base"]]
    files = {"bench.run.printer": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                  "    from bench.drivers.a import Verdict\n",
             "bench.drivers.a": "import bench.drivers.b\nfrom bench.run.printer import Printer\n",
             "bench.drivers.b": "from bench.base import files\n",
             "bench.base.files": "import bench.base\n",
             "bench.base": "", "bench.run": "", "bench.drivers": "", "bench.elsewhere": "import bench.base\n"}
    modules = {}
    for name, source in files.items():
        (path := tmp_path / f"{name}.py").write_text(source)
        modules[name] = path
    assert wrong_arrows(graph(modules), layers) == [
        "bench.drivers.a -> bench.drivers.b: across from bench.drivers.a to bench.drivers.b",
        "bench.elsewhere -> bench.base: bench.elsewhere is in no layer",
        "bench.run.printer -> bench.drivers.a: up from bench.run to bench.drivers.a"]
    assert place("bench.run.pages.facts", layers) == (2, "bench.run")


# -- results file names: bench/base/rundir.py spells them, nobody else ----------------------------

def rundir_names(path: Path = PACKAGE / "base" / "rundir.py") -> dict[str, str]:
    """rundir.py's `NAME = "value"` constants."""
    return {t.id: node.value.value for node in ast.parse(path.read_text()).body if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            for t in node.targets if isinstance(t, ast.Name) and t.id.isupper()}


# Run folder names that are also the project's own folders (home / "guests", home / "patches").
PROJECT_FOLDERS = {"guests", "patches"}
# (module, name) spelled outside rundir.py, and why.
SPELLED_ELSEWHERE = {("bench/run/kconfig.py", ".config"): "the kernel's own file in a build tree; a fragment's suffix"}


def stray_names(modules: dict[str, Path], names: set[str]) -> list[str]:
    """Every string in the modules (docstrings aside) that spells a results file name: the name
    itself or a path ending in it (f"{run_id}/console.log"); a folder name (guest, baseline)
    where it is joined to a path (`run_dir / "guest"`)."""
    files = {n for n in names if "." in n}
    folders = names - files - PROJECT_FOLDERS
    found: list[tuple[str, int, str]] = []
    for path in modules.values():
        rel = path.relative_to(PACKAGE.parent).as_posix() if path.is_relative_to(PACKAGE.parent) else path.name
        tree = ast.parse(path.read_text(), str(path))
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and n.body and isinstance(n.body[0], ast.Expr)}
        joined = {id(n.right) for n in ast.walk(tree) if isinstance(n, ast.BinOp) and isinstance(n.op, ast.Div)}
        # f"{name}.log": a workload's own file's shape (rundir.of_workload), not f"shard-{i}.log"
        suffixes = {id(n.values[1]) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) and len(n.values) == 2
                    and isinstance(n.values[0], ast.FormattedValue) and isinstance(n.values[1], ast.Constant)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str) or id(node) in docs:
                continue
            text = node.value
            hit = next((n for n in sorted(files) if text == n or text.endswith("/" + n)), None)
            if hit is None and text in folders and id(node) in joined:
                hit = text
            if hit is None and id(node) in suffixes and text.startswith(".") and text[1:] in names:
                hit = text
            if hit and (rel, hit) not in SPELLED_ELSEWHERE:
                found.append((rel, node.lineno, text))
    return [f"{rel}:{line}: {text!r}" for rel, line, text in sorted(found)]


def test_only_rundir_spells_a_results_file_name() -> None:
    names = set(rundir_names().values())
    assert {"summary.json", "junit.xml", "console.log", "guest"} <= names, "rundir.py moved: update this test"
    others = {n: p for n, p in MODULES.items() if n != "bench.base.rundir"}
    assert not (found := stray_names(others, names)), "use bench/base/rundir.py's names: " + "; ".join(found)


def test_rundir_names_each_file_once() -> None:
    values = list(rundir_names().values())
    assert len(values) == len(set(values)), sorted(v for v in values if values.count(v) > 1)


def test_the_checker_sees_a_results_file_name(tmp_path: Path) -> None:
    mod = tmp_path / "m.py"
    mod.write_text('"""Writes summary.json."""\n'
                   'a = run_dir / "summary.json"\n'
                   'b = f"{run_id}/console.log"\n'
                   'c = run_dir / "guest"\n'
                   'd = home / "guests"\n'  # the project's folder
                   'e = "see console.log for more"\n'  # a message naming it
                   'f = {"guest": 1}\n'  # a word, not a path
                   'g = guest / f"{name}.log"\n'  # a workload's own file
                   'h = work / f"shard-{i}.log"\n')  # another file's suffix
    assert stray_names({"m": mod}, {"summary.json", "console.log", "guest", "guests", "log"}) == [
        "m.py:2: 'summary.json'", "m.py:3: '/console.log'", "m.py:4: 'guest'", "m.py:8: '.log'"]


# -- sub-runs: a plan's folder is named in the sweep only ----------------------------------------

# Where a plan's results_root or run_id may be replaced: the sweep names every sub-run, plan.py
# mints and claims a top-level run's id (make_plan, claim_run).
RENAMERS = {"bench/run/sweep.py", "bench/run/plan.py"}
FOLDER_FIELDS = ("results_root", "run_id")


def renamings(modules: dict[str, Path]) -> list[str]:
    """Every `replace(...)`/`dataclasses.replace(...)` or `Plan(...)` call that sets results_root,
    or run_id to anything but None (a RunRequest's run_id=None asks for a minted one: no name)."""
    found = []
    for path in modules.values():
        rel = path.relative_to(PACKAGE.parent).as_posix() if path.is_relative_to(PACKAGE.parent) else path.name
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if func not in ("replace", "Plan") or rel in RENAMERS:
                continue
            for kw in node.keywords:
                unset = isinstance(kw.value, ast.Constant) and kw.value.value is None
                if kw.arg in FOLDER_FIELDS and not (kw.arg == "run_id" and unset):
                    found.append(f"{rel}:{node.lineno}: {func}(..., {kw.arg}=...)")
    return sorted(found)


def test_only_the_sweep_names_a_sub_run() -> None:
    """A driver runs a plan under another name or folder through bench/run/sweep.py's Sweep
    (sub(), run()), which claims its folder, names the sub-run and writes the driver's files
    when stopped; a replace() of its own would bypass all three."""
    assert not (found := renamings(MODULES)), "name sub-runs through bench/run/sweep.py: " + "; ".join(found)


def test_the_checker_sees_a_sub_run_named_elsewhere(tmp_path: Path) -> None:
    mod = tmp_path / "m.py"
    mod.write_text("import dataclasses\nfrom dataclasses import replace\n"
                   "a = dataclasses.replace(plan, results_root=folder, run_id=name)\n"
                   "b = replace(plan, run_id=rid)\n"
                   "c = replace(request, results=folder, run_id=None)\n"  # a request minting its own
                   "d = replace(plan, baseline=False)\n"
                   "e = Item(run_id=entry.run_id)\n"  # a record of a run, not a plan
                   "f = Plan(series, results_root=root)\n")
    assert renamings({"m": mod}) == ["m.py:3: replace(..., results_root=...)", "m.py:3: replace(..., run_id=...)",
                                     "m.py:4: replace(..., run_id=...)", "m.py:8: Plan(..., results_root=...)"]
