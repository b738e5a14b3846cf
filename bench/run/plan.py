"""What to run: a typed RunRequest (from the CLI, a matrix entry, a bisect step) -> a Plan.

The request holds what a user can ask for, as plain values; make_plan() loads and checks
everything it names (series, tree, kconfig fragments, workloads, parameters) before any
work starts, so bad input costs no build. A run's id is minted here (bench/base/rundir.py names it).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.base import env as env_mod, formats, rundir
from bench.base.errors import UserError, quote
from bench.base.files import present, write_atomic
from bench.report import issues_file
from bench.report.issues import Issue, bare
from bench.run import guests, kcmdline, kconfig, series, slot, tree
from bench.run.series import Series

ACCELS = ("auto", "kvm", "tcg")


@dataclass(frozen=True)
class RunRequest:
    """Everything `bench run` can be asked; the other commands build one too."""

    series: str  # a name under patches/, a folder, an mbox or .patch file; "": no patches
    tree: str | None = None  # None: $BENCH_TREE or the cached linux-source tree
    base: str | None = None  # None: series.yaml base, an mbox's base-commit:, else HEAD
    kconfigs: tuple[str, ...] = ()  # extra fragments, after the series' and workloads'
    workloads: tuple[str, ...] = ()  # replaces the series' list
    params: tuple[str, ...] = ()  # "WORKLOAD.NAME=value"
    accel: str = "auto"
    jobs: int = 0  # 0: all cores
    memory: str = "2G"
    cpus: int = 2
    append: tuple[str, ...] = ()  # extra kernel command line
    suppress: tuple[Path, ...] = ()
    results: Path | None = None  # results root; None: <home>/results
    baseline: bool = False
    coverage: bool = False  # gcov of the objects the series touches (on for a series only)
    coverage_objects: tuple[str, ...] = ()  # more objects to profile (--coverage-object)
    run_id: str | None = None  # None: minted from the time and the series name
    info: Mapping[str, str] = field(default_factory=dict)  # recorded in summary.json

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["suppress"] = [str(p) for p in self.suppress]
        data["results"] = str(self.results) if self.results else None
        data["info"] = dict(self.info)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunRequest:
        known = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in data.items() if k in known}
        for name in ("kconfigs", "workloads", "params", "append", "coverage_objects"):
            kw[name] = tuple(kw.get(name) or ())
        kw["suppress"] = tuple(Path(p) for p in kw.get("suppress") or ())
        kw["results"] = Path(kw["results"]) if kw.get("results") else None
        return cls(**kw)


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
    minted_id: str = ""  # the run_id make_plan minted (a run claims it with -2, -3... if taken)
    baseline: bool = False  # also boot the unpatched tree; reports found there are not new
    extra_info: Mapping[str, Any] = field(default_factory=dict)
    known_issues: tuple[Issue, ...] = ()  # the registry: known-issues.yaml files, suppress:, --suppress
    # --each: after the boot, recompile what these files (the next patch's) feed, at this
    # commit, so the next prefix's new compiler warnings can be told (bench/run/buildwarn.py)
    probe: tuple[str, ...] = ()
    coverage: bool = False  # profile the touched objects and map the counters (bench/run/coverage/)
    coverage_objects: tuple[str, ...] = ()  # more objects to profile, build-relative (mm/gup.o)

    @property
    def results_dir(self) -> Path:
        return self.results_root / self.run_id

    def with_patches(self, k: int) -> Plan:
        """The same plan with only the first k patches of the series."""
        return dataclasses.replace(self, series=dataclasses.replace(self.series, patches=self.series.patches[:k]))

    def unpatched(self, base: str) -> Plan:
        """The same plan on the series' base commit without its patches, named NAME-base (what
        --baseline and a repeat's base runs boot)."""
        series = dataclasses.replace(self.series, name=f"{self.series.name}-base", patches=())
        return dataclasses.replace(self, series=series, base=base)


def default_home() -> Path:
    """The project folder (kconfigs/, guests/, patches/): $BENCH_HOME, the cwd, or the source checkout."""
    if env := os.environ.get("BENCH_HOME"):
        return Path(env).resolve()
    cwd = Path.cwd()
    if (cwd / "kconfigs").is_dir() and (cwd / "guests").is_dir():
        return cwd
    return Path(__file__).resolve().parents[2]


# What kbuild (spaces, colons: its Makefile stops), make (#, $) and merge_config.sh's unquoted words
# (blanks, glob characters) do not take in the folder a kernel is built in.
_UNBUILDABLE = re.compile(r"[\s:#$*?\[\]\\'\"`;&|<>()]")
# What vng 1.42 cannot pass on in a results folder (the guest's --rwdir): it runs virtme-run through a
# shell with the path unquoted (virtme_ng/run.py _get_virtme_rwdir), and virtme splits it at '='.
_NOT_FOR_VNG = re.compile(r"[\s$*?\[\]\\'\"`;&|<>()=]")


def default_cache() -> Path:
    """$BENCH_CACHE, else $XDG_CACHE_HOME/pinbench, else ~/.cache/pinbench; always absolute. An
    empty $BENCH_CACHE is unset, as empty $BENCH_HOME and $BENCH_TREE are; a relative one is
    taken from the cwd now: a slot's worktree path relative to the cwd broke git (-C) and left
    a work/ folder in the cwd. A relative $XDG_CACHE_HOME is ignored, as the XDG spec says."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if Path(xdg).is_absolute() else Path.home() / ".cache"
    return Path(os.environ.get("BENCH_CACHE") or base / "pinbench").absolute()


def claim_run(plan: Plan) -> Plan:
    """plan with its results folder created: a minted id moves on to -2, -3... when another run
    of the same second took it; an id the caller chose must be new."""
    return dataclasses.replace(plan, run_id=rundir.claim(plan.results_root, plan.run_id,
                                                  retry=plan.run_id == plan.minted_id))


MEMORY_MIB = (256, 256 * 1024)  # the guest memory a run may ask for: 256M to 256G
_MEMORY = re.compile(r"([1-9][0-9]{0,8})([MG])")  # ASCII digits: '٢' is \d, and vng/QEMU refuse it after the build


def memory_mib(text: object, what: str) -> int:
    """A guest memory size (`--memory`, a matrix entry's `memory:`) in MiB, else a UserError
    naming `what`: 2G or 1536M, ASCII digits, 256M to 256G. 5000 digits crashed int()."""
    m = _MEMORY.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise UserError(f"{what} must be a size like 3G or 1536M (ASCII digits), not {quote(text)}")
    mib = int(m.group(1)) * (1024 if m.group(2) == "G" else 1)
    if not MEMORY_MIB[0] <= mib <= MEMORY_MIB[1]:
        raise UserError(f"{what} {text}: want {MEMORY_MIB[0]}M to {MEMORY_MIB[1] // 1024}G")
    return mib


def check_request(req: RunRequest) -> None:
    """The option values that need no file to judge; a bad one is a UserError."""
    for what, value in (("--base", req.base), ("--tree", req.tree)):  # request.json too
        if value is not None and not value.strip():
            raise UserError(f"{what} {value!r}: empty (leave it out for the default)")
    if req.accel not in ACCELS:
        raise UserError(f"--accel {req.accel!r}: want one of {', '.join(ACCELS)}")
    if not 0 <= req.jobs <= 1024:
        raise UserError(f"--jobs {req.jobs}: want 0 (all cores) to 1024")
    if not 1 <= req.cpus <= 64:
        raise UserError(f"--cpus {req.cpus}: want 1 to 64 guest CPUs")
    memory_mib(req.memory, "--memory")
    kcmdline.check(req.append, "--append")
    for obj in req.coverage_objects:
        if not re.fullmatch(r"(?:[\w.+-]+/)*[\w+-][\w.+-]*\.o", obj) or ".." in obj.split("/"):
            raise UserError(f"--coverage-object {obj!r}: want a build-relative object path like mm/gup.o")
    slot.check_env()
    for f in req.suppress:
        if not f.is_file():
            raise UserError(f"{f}: suppression file not found")


def load_known_issues(home: Path, s: Series, files: tuple[Path, ...]) -> tuple[Issue, ...]:
    """The run's registry: <home>/known-issues.yaml, the series folder's known-issues.yaml,
    series.yaml suppress: (entries without metadata) and every --suppress file."""
    paths = [home / issues_file.FILE]
    if s.source.parts and s.source.is_dir() and s.source.resolve() != home.resolve():
        paths.append(series.own_file(s.source, issues_file.FILE))
    # present(), not is_file(): a known-issues.yaml that is a FIFO, a folder or a dangling symlink
    # is named, never passed over (its issues dropped would fail the series with reports that are known)
    found = [i for p in paths if present(p) for i in issues_file.load(p)]
    found += bare(s.suppress, str(s.source / "series.yaml"), "suppress")
    found += [i for f in files for i in issues_file.load(f)]
    seen: dict[str, str] = {}
    for i in (i for i in found if i.reason):
        if i.id in seen:
            raise UserError(f"{i.where}: known issue id {i.id!r} is also at {seen[i.id]}")
        seen[i.id] = i.where
    return tuple(found)


TIMEOUT_SCALE_MAX = 4.0  # a guest 4x slower than its timeouts assume is a host to fix, not to wait for


def timeout_scale(env: Mapping[str, str] | None = None, load: float | None = None,
                  cpus: int | None = None) -> tuple[float, str]:
    """How much longer the workloads may take, and why: $BENCH_TIMEOUT_SCALE if set, else the
    host's load per CPU when the run is planned (1 minute average), in halves, 1 to 4."""
    given = env_mod.number("BENCH_TIMEOUT_SCALE", 0.0, 1.0, 10.0, env)
    if given:
        return given, "$BENCH_TIMEOUT_SCALE"
    load = os.getloadavg()[0] if load is None else load
    cpus = cpus or os.cpu_count() or 1
    factor = min(TIMEOUT_SCALE_MAX, max(1.0, math.ceil(load / cpus * 2) / 2))
    return factor, f"host load {load:.1f} on {cpus} CPU(s) when the run was planned"


def make_plan(req: RunRequest, home: Path, cache: Path | None = None) -> Plan:
    """Load and check everything the request names; nothing is built or booted."""
    check_request(req)
    cache = cache or default_cache()
    loaded = series.load_series(req.series, home / "patches") if req.series else None
    names = list(req.workloads or (loaded.workloads if loaded else ()) or (guests.DEFAULT_SET,))
    workloads = guests.scale_timeouts(guests.override(guests.select(names, home / "guests"), list(req.params)),
                                      *timeout_scale())
    frag_names = [kconfig.BASE_NAME, *(loaded.kconfigs if loaded else ()),
                  *(k for w in workloads for k in w.kconfigs), *req.kconfigs]
    fragments = tuple(kconfig.find_fragment(n, home / "kconfigs") for n in dict.fromkeys(frag_names))
    kconfig.keep_base(fragments)
    # The bare tree's series knows no issues of its own: its name (the tree's) is not needed here.
    known = load_known_issues(home, loaded or series.empty(""), tuple(f.resolve() for f in req.suppress))
    results_root = (req.results or home / "results").resolve()  # after every other input check: it is made
    work = (cache / slot.WORK).resolve()
    if results_root == work or results_root.is_relative_to(work):
        # every run resets its slot's tree (git clean -x) and `bench gc` removes what is not a slot there
        raise UserError(f"--results {results_root}: inside the cache's work folder {work}, which the work slots'"
                        " resets and `bench gc` empty: the results would be lost; choose a folder outside it")
    if bad := _NOT_FOR_VNG.search(str(results_root)):
        given = "--results " if req.results else ""
        raise UserError(f"{given}{results_root}: vng hands a run's guest folder to the VM through a shell, unquoted,"
                        f" and splits it at '=': a path holding {bad.group()!r} never reaches the guest; choose another folder")
    try:
        results_root.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a file there, a read-only filesystem, no permission: the user's choice of folder
        given = "--results " if req.results else ""
        why = "not a folder" if results_root.exists() else e.strerror
        raise UserError(f"{given}{results_root}: cannot use it as the results folder: {why}") from e
    if bad := _UNBUILDABLE.search(str(cache)):
        # the tree is built there: kbuild stops on a blank or a colon in its source path, and
        # merge_config.sh splits its output folder on blanks: a config or build FAIL of the series
        raise UserError(f"$BENCH_CACHE {cache}: the kernel is built in the cache folder, and kbuild cannot"
                        f" build in a path holding {bad.group()!r}; set $BENCH_CACHE to another folder")
    try:  # the cache holds the work slots and the unpacked tree: a file there crashed the build stage
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        why = "not a folder" if cache.exists() else e.strerror
        raise UserError(f"$BENCH_CACHE {cache}: cannot use it as the cache folder: {why}") from e
    # Last: the default tree is unpacked on first use (a minute); a bad name fails before it.
    kernel = tree.resolve_tree(req.tree, os.environ, cache)
    s = loaded or series.empty(f"tree-{kernel.name}")
    # A base that is no commit is the user's (a typo, an unfetched tag): one line now, not an
    # ERROR case in a run folder after the slot was waited for.
    if req.base or s.base:  # HEAD: resolve_tree found a repository, it has one
        tree.resolve_base(kernel, req.base or s.base)
    minted = rundir.new_name(results_root, s.name)
    return Plan(
        series=s,
        tree=kernel,
        base=req.base,
        fragments=fragments,
        workloads=workloads,
        home=home,
        results_root=results_root,
        cache_dir=cache,
        accel=req.accel,
        jobs=req.jobs,
        suppress_files=tuple(f.resolve() for f in req.suppress),
        memory=req.memory,
        cpus=req.cpus,
        append=req.append,
        run_id=req.run_id or minted,
        minted_id="" if req.run_id else minted,
        baseline=req.baseline,
        coverage=req.coverage and bool(s.patches or req.coverage_objects),  # nothing to map, nothing asked
        coverage_objects=req.coverage_objects,
        extra_info=dict(req.info),
        known_issues=known,
    )


def selected_params(params: tuple[str, ...], workloads: tuple[str, ...]) -> tuple[str, ...]:
    """The "W.NAME=value" params whose workload W is among `workloads` (matrix-wide params)."""
    return tuple(p for p in params if p.split(".", 1)[0] in workloads)


def write_request(req: RunRequest, path: Path) -> None:
    write_atomic(path, json.dumps(formats.stamp(req.to_json(), formats.REQUEST), indent=2) + "\n")


# request.json's fields and the JSON types each may have (None: null allowed); the file is read
# back by bisect-step, so a hand-edited or foreign one is named field by field, never a crash later.
_REQUEST_TYPES: dict[str, tuple[type, ...]] = {
    "series": (str,), "tree": (str, type(None)), "base": (str, type(None)), "kconfigs": (list,),
    "workloads": (list,), "params": (list,), "accel": (str,), "jobs": (int,), "memory": (str,), "cpus": (int,),
    "append": (list,), "suppress": (list,), "results": (str, type(None)), "baseline": (bool,),
    "coverage": (bool,), "coverage_objects": (list,),
    "run_id": (str, type(None)), "info": (dict,)}


def read_request(path: Path) -> RunRequest:
    try:  # strict: not UTF-8, not JSON, too deep, 1e999, lone surrogates, 5000-digit integers
        data = formats.check(path, formats.load_json(path), formats.REQUEST)
    except formats.FormatProblem as e:
        raise UserError(f"{path}: not a run request written by bench: {str(e).removeprefix(f'{path}: ')}") from e
    for name, value in data.items():
        want = _REQUEST_TYPES.get(name)
        if want is None:
            continue  # `format`, or a newer bench's field: ignored, as from_json does
        items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        bad_type = not isinstance(value, want) or (isinstance(value, bool) and bool not in want)
        if bad_type or not all(isinstance(v, str) for v in items):
            kinds = " or ".join("null" if t is type(None) else t.__name__ for t in want)
            of = " of strings" if want[0] in (list, dict) else ""
            raise UserError(f"{path}: field {quote(name)} must be {kinds}{of}, not {quote(json.dumps(value), 40)}")
    required = [f.name for f in dataclasses.fields(RunRequest) if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING]
    if missing := next((n for n in required if n not in data), None):  # {} was a TypeError: a crash
        raise UserError(f"{path}: not a run request written by bench: field {quote(missing)} missing")
    return RunRequest.from_json(data)
