"""Work slots: a worktree (`src`) and an incremental build dir (`build`) kept between runs.

A run takes a slot from a small pool under `<cache>/work/`, preferring one that last built
the same tree with the same configuration (so make rebuilds only what the series changes),
moves it to the new base and series with git, and leaves it for the next run: no worktree is
made or removed on the way to a verdict. Each slot has a lock (one run at a time), and a
`state.json` saying what its build dir holds: the commit last built, the .config and the
image made from them. Nothing in state.json is trusted without checking: a slot whose
worktree is broken is made again, and a build dir is only called up to date when the
commit, the .config and the image all match the record.

This module is the one writer of that record: prepare() moves the worktree (mtimes kept for the
last build), reused() says whether make must run, build() and probe() run it (make's process
group recorded while it runs); the pipeline's stages only call them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import IO, Any

from bench.base import env, files, formats, proc
from bench.base.errors import BenchError, InfraError
from bench.base.files import write_atomic
from bench.run import build as build_mod, kconfig, tree, worktree
from bench.run.series import Series

DEFAULT_CAP = 4  # slots kept; $BENCH_SLOTS changes it
DEFAULT_WAIT = 6 * 3600  # seconds to wait for a free slot; $BENCH_SLOT_WAIT
STATE = "state.json"


@dataclass(frozen=True)
class State:
    """What a slot's folders hold (every field may be stale: check before trusting)."""

    tree: str = ""  # the repository src is a worktree of (its common git dir)
    config_key: str = ""  # digest of the requested fragments (what the build dir was configured for)
    series: str = ""
    head: str = ""  # src's commit after the last apply
    built: str = ""  # commit of the last successful build ("" : none, or a build failed since)
    config_sha: str = ""  # sha256 of build/.config of that build
    image_sha: str = ""  # sha256 of the image it made
    profiled: str = ""  # the objects that build profiled with gcov (bench/run/coverage/objects.py)
    used: float = 0.0
    # While make runs: its process group and start time. Left set by a run killed with SIGKILL,
    # whose make may still run (its own session): the next taker kills it (see _reclaim).
    building: int = 0
    building_since: float = 0.0


_BLANK = State()


@dataclass(frozen=True)
class Slot:
    path: Path
    state: State

    @property
    def src(self) -> Path:
        return self.path / "src"

    @property
    def build(self) -> Path:
        return self.path / "build"

    @property
    def image(self) -> Path:
        return self.build / build_mod.IMAGE

    def save(self, state: State) -> Slot:
        write_atomic(self.path / STATE, json.dumps(formats.stamp(asdict(state), formats.STATE), indent=1) + "\n")
        return replace(self, state=state)

    def reread(self) -> Slot:
        """The slot as state.json says now (a stage after the build sees what it left)."""
        return replace(self, state=read_state(self.path))


PID_MAX = 1 << 22  # the kernel's largest pid_max (PID_MAX_LIMIT on 64-bit)


def _typed(path: Path, data: dict[str, Any]) -> State:
    """State from state.json's object, every field present and of its type (FormatProblem
    naming the first that is not: an older or hand-edited file, never a crash where it is used)."""
    for f in fields(State):
        want = type(getattr(_BLANK, f.name))  # str, int or float, as the defaults say
        if f.name not in data:
            raise formats.FormatProblem(f"{path}: {f.name}: missing")
        value = data[f.name]
        if isinstance(value, bool) or not isinstance(value, (int, float) if want is float else want):
            raise formats.FormatProblem(f"{path}: {f.name}: {type(value).__name__}, not {want.__name__}")
    state = State(**{f.name: data[f.name] for f in fields(State)})
    if not 0 <= state.building <= PID_MAX:
        raise formats.FormatProblem(f"{path}: building: {state.building} is not a process group")
    return replace(state, used=float(state.used), building_since=float(state.building_since))


def read_state(path: Path) -> State:
    """The slot's state; State() (nothing to reuse: the next run builds afresh) when it is
    missing (a new slot), or broken, older or of another format (named on one line)."""
    file = path / STATE
    if not file.exists():
        return State()
    try:
        return _typed(file, formats.check(file, formats.load_json(file), formats.STATE))
    except formats.FormatProblem as e:
        formats.warn(f"{e}; the slot is rebuilt")
        return State()


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError:
        return ""
    return h.hexdigest()


def _score(state: State, repo: str, config_key: str, series: str) -> int:
    """How much of the last build a run can reuse: 0 unless same tree and configuration
    (another configuration rebuilds nearly everything); the same series too is best."""
    if state.tree != repo or state.config_key != config_key:
        return 0
    return 1 + (state.series == series)


def _slots(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("slot-*") if p.is_dir())


def _try_lock(lock_path: Path) -> IO[str] | None:
    f = open(lock_path, "a")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None
    return f


def _cap() -> int:
    return env.whole("BENCH_SLOTS", DEFAULT_CAP, 1, 1000)


def _wait() -> float:
    return env.number("BENCH_SLOT_WAIT", DEFAULT_WAIT, 0, 7 * 24 * 3600)


WORK = "work"  # the cache's folder of work slots: emptied by their resets (git clean -x) and `bench gc`


def check_env() -> None:
    """$BENCH_SLOTS and $BENCH_SLOT_WAIT, checked when a run is planned, not when it needs a slot."""
    _cap(), _wait()


@contextlib.contextmanager
def acquire(cache_dir: Path, repo: str, config_key: str, series: str,
            say: Callable[[str], None] = lambda s: None) -> Iterator[Slot]:
    """A locked slot for one run, the best match first; a new one while under the cap."""
    root = cache_dir / WORK
    root.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + _wait()
    waited = False
    while True:
        with files.locked(root / ".pool.lock", "choosing a work slot"):  # one chooser at a time
            found = _choose(root, repo, config_key, series)
        if found is not None:
            break
        if time.monotonic() >= deadline:
            raise InfraError(f"{root}: all {_cap()} work slots are busy (other bench runs); "
                             "raise $BENCH_SLOTS or wait")
        if not waited:
            say(f"slot: all {_cap()} work slots are busy; waiting for one")
            waited = True
        time.sleep(2)
    path, lock = found
    try:
        _reclaim(path, say)
        yield Slot(path, read_state(path))
    finally:
        lock.close()


def _reclaim(path: Path, say: Callable[[str], None]) -> None:
    """Under the slot's lock, what a killed run left: a make still running in the build dir
    (killed, and what it wrote since it started removed: a half-written object newer than its
    source would otherwise be linked as up to date), and git lock files of a git that died."""
    state = read_state(path)
    if state.building:
        # Only a group still working in this slot is ours (the id may be reused since).
        if any(proc.works_in(pid, path) for pid in proc.group_pids(state.building)):
            say(f"slot: {path.name}: the build of a stopped run is still running "
                f"(process group {state.building}): killing it")
            proc.end_group(state.building)
        removed = _remove_newer(path / "build", state.building_since - 1)
        if removed:
            say(f"slot: {path.name}: {removed} file(s) the interrupted build wrote removed (make redoes them)")
        Slot(path, state).save(replace(state, built="", config_sha="", image_sha="", building=0,
                                       building_since=0.0))
    for lock in worktree.stale_locks(path / "src"):
        say(f"slot: {path.name}: removing {lock}, left by a git that was killed")
        lock.unlink(missing_ok=True)


def _remove_newer(root: Path, since: float) -> int:
    n = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            f = Path(dirpath, name)
            with contextlib.suppress(OSError):
                if f.lstat().st_mtime >= since:
                    f.unlink()
                    n += 1
    return n


def _choose(root: Path, repo: str, config_key: str, series: str) -> tuple[Path, IO[str]] | None:
    """A slot that built this tree and configuration, else a new one under the cap, else the
    least recently used free one; None when all are busy."""
    existing = _slots(root)
    states = {p: read_state(p) for p in existing}
    ranked = sorted(existing, key=lambda p: (-_score(states[p], repo, config_key, series), -states[p].used))
    for path in ranked:
        if _score(states[path], repo, config_key, series) and (lock := _try_lock(path.with_suffix(".lock"))):
            return path, lock
    if len(existing) < _cap():
        n = 1
        while (root / f"slot-{n}").exists():
            n += 1
        path = root / f"slot-{n}"
        path.mkdir()
        lock = _try_lock(path.with_suffix(".lock"))
        assert lock is not None  # new, and we hold the pool lock
        return path, lock
    for path in sorted(existing, key=lambda p: states[p].used):
        if lock := _try_lock(path.with_suffix(".lock")):
            return path, lock
    return None


def gc(cache_dir: Path, keep: int) -> list[Path]:
    """Remove all but the `keep` most recently used slots that no run holds, and work dirs of
    older pinbench versions (one per series); the removed ones."""
    root = cache_dir / WORK
    removed = []
    for old in sorted(p for p in root.glob("*") if p.is_dir() and not p.name.startswith("slot-")):
        if lock := _try_lock(old.with_suffix(".lock")):
            with lock:
                shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    repos = set()
    for path in sorted(_slots(root), key=lambda p: read_state(p).used, reverse=True)[keep:]:
        if lock := _try_lock(path.with_suffix(".lock")):
            with lock:
                repos.add(read_state(path).tree)
                shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    for repo in sorted(r for r in repos if r and Path(r).is_dir()):  # forget the removed worktrees
        proc.run(["git", f"--git-dir={repo}", "worktree", "prune"])
    return removed


# -- incremental builds: the only writer of built, config_sha, image_sha, profiled, building ---


@dataclass(frozen=True)
class Prepared:
    slot: Slot  # its state saying what the worktree holds now
    applied: tree.ApplyResult
    mtimes_kept: int | None  # files whose old mtimes were given back; None: no build to keep them for


def prepare(s: Slot, kernel: Path, base: str, series: Series, config_key: str, log: Path) -> Prepared:
    """Move the slot's worktree to base and apply series; files git rewrote with the content the
    last successful build compiled get their old mtimes back, so make redoes only what differs."""
    repo = worktree.repo_id(kernel)
    made = worktree.ensure(kernel, s.src, base)
    state = s.state if not made and s.state.tree == repo else State()
    saved: dict[str, int] = {}
    if state.built:  # the files git may write: their mtimes, to give back where nothing changed
        saved = worktree.mtimes(s.src, worktree.changed(s.src, "HEAD", base) | worktree.dirty(s.src)
                                | worktree.touched_by(series.patches))
    worktree.reset(s.src, base, log)
    applied = tree.apply_series(s.src, series, log)
    kept = None
    if state.built:
        try:
            kept = worktree.restore_mtimes(s.src, saved, worktree.changed(s.src, state.built, applied.head))
        except BenchError:  # the built commit is gone: make decides by the new mtimes
            state = replace(state, built="")
    s = s.save(replace(state, tree=repo, config_key=config_key, series=series.name, head=applied.head,
                       used=time.time()))
    return Prepared(s, applied, kept)


@dataclass(frozen=True)
class Make:
    """How a stage wants make run in the slot (bench/run/build.py's options)."""

    cache_dir: Path
    njobs: int | None = None
    timeout: float | None = None
    make_vars: tuple[str, ...] = ()  # the coverage run's GCOV_PROFILE_* words
    progress: Callable[[str], None] | None = None


@dataclass(frozen=True)
class Reuse:
    """The slot's image is what the plan needs: make need not run."""

    image: Path
    image_sha: str
    config_sha: str
    built: str


def reused(s: Slot, profiled: str) -> Reuse | None:
    """The slot's image if it was built from the slot's head, its .config and the same profiled
    objects, and is still the file that build made; None when make must run."""
    state, config_sha = s.state, sha256_of(s.build / kconfig.DOT_CONFIG)
    if state.built == state.head and state.config_sha == config_sha and state.image_sha \
            and state.profiled == profiled and sha256_of(s.image) == state.image_sha:
        return Reuse(s.image, state.image_sha, config_sha, state.built)
    return None


def build(s: Slot, log: Path, make: Make, profiled: str) -> build_mod.BuildResult:
    """make in the slot; on success the state says its image is of the head and this .config."""
    head, config_sha = s.state.head, sha256_of(s.build / kconfig.DOT_CONFIG)
    return _make(s, log, make, lambda state, image: replace(
        state, built=head, config_sha=config_sha, image_sha=sha256_of(image), profiled=profiled))


def probe(s: Slot, names: list[str], log: Path, make: Make) -> build_mod.BuildResult:
    """--each: touch names (files of the slot's worktree) and make again; the build is still of
    the last built commit afterwards (the files are the same), its new image recorded."""
    head, now = s.state.built, time.time()
    for name in names:
        os.utime(s.src / name, (now, now))
    return _make(s, log, make, lambda state, image: replace(state, built=head, image_sha=sha256_of(image)))


def _make(s: Slot, log: Path, make: Make, done: Callable[[State, Path], State]) -> build_mod.BuildResult:
    """make, the state saying while it runs that the build dir is in flux (built "") and which
    process group makes: if bench is SIGKILLed, make goes on in its own session, and the slot's
    next taker must stop it first (_reclaim); done(state, image) is the state after a success."""
    s = s.save(replace(s.state, built=""))
    since = time.time()

    def started(pgid: int) -> None:
        nonlocal s
        s = s.save(replace(s.state, building=pgid, building_since=since))
    res = build_mod.build(s.src, s.build, log, cache_dir=make.cache_dir, njobs=make.njobs, timeout=make.timeout,
                          progress=make.progress, started=started, make_vars=make.make_vars)
    state = replace(s.state, building=0, building_since=0.0)
    s.save(done(state, res.image) if res.ok and res.image else state)
    return res
