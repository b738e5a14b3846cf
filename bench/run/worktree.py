"""Worktrees of the kernel tree: scratch ones (a range bisect) and the long-lived ones of work slots.

A slot's worktree is moved between runs with git, never re-made: `git checkout` and `git am`
only write the files that differ. Files they write whose content is what the slot's last
successful build compiled get their old mtimes back, so make rebuilds only what really differs
from that build (a bisect step that adds one patch recompiles that patch's files); which files,
against which build, is slot.prepare's to decide (bench/run/slot.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from bench.base import proc
from bench.base.errors import InfraError, UserError
from bench.run.series import Patch
from bench.run.tree import QUIET_GIT

_DIFF_FILES = re.compile(r"^diff --git a/(\S+) b/(\S+)$", re.M)


@contextlib.contextmanager
def worktree(tree: Path, base_sha: str, path: Path) -> Iterator[Path]:
    """A detached worktree of tree at base_sha in path, removed on exit whatever happens."""
    path = path.resolve()  # git lists worktrees by real path
    if path == tree.resolve():
        raise UserError(f"{path}: is the kernel tree itself, not a scratch path")
    remove_worktree(tree, path)  # stale, from a killed run
    if path.exists():
        raise UserError(f"{path}: exists and is not a worktree of {tree}; remove it")
    add_worktree(tree, base_sha, path)
    try:
        yield path
    finally:
        remove_worktree(tree, path)


def add_worktree(tree: Path, base_sha: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    add = proc.run(["git", "-C", str(tree), "worktree", "add", "--detach", "-q", str(path), base_sha])
    proc.check(add, f"creating worktree {path}")


def remove_worktree(tree: Path, path: Path) -> None:
    """Remove path if it is a worktree of tree; never raises, so it cannot hide an error."""
    if path in worktrees(tree):
        # Twice --force: also removes a locked worktree.
        proc.run(["git", "-C", str(tree), "worktree", "remove", "--force", "--force", str(path)])
        if path.exists() and path in worktrees(tree):
            shutil.rmtree(path, ignore_errors=True)
    elif path.is_dir() and not any(path.iterdir()):
        with contextlib.suppress(OSError):
            path.rmdir()
    proc.run(["git", "-C", str(tree), "worktree", "prune"])


def worktrees(tree: Path) -> list[Path]:
    """Linked worktrees of tree (never the main one, which must not be removed)."""
    try:
        out = proc.output(["git", "-C", str(tree), "worktree", "list", "--porcelain"])
    except InfraError:
        return []
    paths = [Path(ln[len("worktree "):]) for ln in out.splitlines() if ln.startswith("worktree ")]
    return paths[1:]


def repo_id(tree: Path) -> str:
    """The repository behind tree (its common git dir): one for a tree and all its worktrees."""
    out = proc.output(["git", "-C", str(tree), "rev-parse", "--path-format=absolute", "--git-common-dir"])
    return str(Path(out.strip()).resolve())


# -- long-lived slot worktrees --------------------------------------------------------------


def healthy(tree: Path, src: Path) -> bool:
    """src is a worktree of tree's repository that git can read."""
    if not (src / ".git").is_file():
        return False
    try:
        return repo_id(src) == repo_id(tree) and bool(proc.output(["git", "-C", str(src), "rev-parse", "HEAD"]))
    except InfraError:
        return False


def ensure(tree: Path, src: Path, base_sha: str) -> bool:
    """Make src a healthy worktree of tree if it is not one; True when it was (re)made."""
    if healthy(tree, src):
        return False
    remove_worktree(tree, src)
    shutil.rmtree(src, ignore_errors=True)
    add_worktree(tree, base_sha, src)
    return True


def _git(src: Path, *args: str, log: Path | None = None) -> proc.ProcResult:
    return proc.run(["git", "-C", str(src), *QUIET_GIT, *args], log=log)


def touched_by(patches: Iterable[Patch]) -> set[str]:
    """Every path a patch's diffs name (old and new names)."""
    return {name for p in patches for pair in _DIFF_FILES.findall(p.text) for name in pair}


def changed(src: Path, a: str, b: str) -> set[str]:
    out = proc.output(["git", "-C", str(src), "diff", "--no-renames", "--name-only", "-z", a, b])
    return {name for name in out.split("\0") if name}


def dirty(src: Path) -> set[str]:
    """Tracked files that differ from HEAD (a killed run, a hand edit)."""
    out = proc.output(["git", "-C", str(src), "status", "--porcelain", "-z", "--untracked-files=no"])
    return {entry[3:] for entry in out.split("\0") if len(entry) > 3}


def mtimes(src: Path, names: Iterable[str]) -> dict[str, int]:
    saved = {}
    for name in names:
        with contextlib.suppress(OSError):
            saved[name] = os.stat(src / name, follow_symlinks=False).st_mtime_ns
    return saved


def reset(src: Path, base_sha: str, log: Path) -> None:
    """src at base_sha, detached, nothing else in it: an interrupted `git am` aborted,
    local changes dropped, untracked and ignored files removed (the build is out of tree)."""
    if (Path(proc.output(["git", "-C", str(src), "rev-parse", "--git-dir"]).strip()) / "rebase-apply").exists():
        _git(src, "am", "--abort", log=log)
    proc.check(_git(src, "checkout", "-q", "-f", "--detach", base_sha, log=log), f"moving {src} to {base_sha[:12]}")
    proc.check(_git(src, "clean", "-q", "-f", "-d", "-x", log=log), f"cleaning {src}")


def stale_locks(src: Path, wait: float = 10.0) -> list[Path]:
    """The lock files in src's own git dir (index.lock, HEAD.lock) that no live git holds: a
    git killed mid-operation leaves them and every later git in src fails. The caller holds
    the slot's lock, so only a git of a killed run can still be at work: given `wait` seconds."""
    try:
        text = (src / ".git").read_text()
    except OSError:
        return []
    if not text.startswith("gitdir: "):
        return []
    gitdir = (src / text[len("gitdir: "):].strip()).resolve()
    locks = [gitdir / name for name in ("index.lock", "HEAD.lock") if (gitdir / name).exists()]
    if not locks:
        return []
    deadline = time.monotonic() + wait
    while any(proc.works_in(int(p.name), src) for p in Path("/proc").iterdir()
              if p.name.isdigit() and int(p.name) != os.getpid()):  # a bench started in src is not a git
        if time.monotonic() > deadline:
            return []  # a git still at work: leave its lock (git names it if it gets in the way)
        time.sleep(0.1)
    return locks


def restore_mtimes(src: Path, saved: dict[str, int], since_build: set[str]) -> int:
    """Give files rewritten with the content the last build compiled their old mtimes back;
    how many. Any old mtime is right for such a file: older than its object, make skips it
    (the object is of this content); newer, make recompiles it (harmless)."""
    n = 0
    for name, ns in saved.items():
        if name in since_build:
            continue
        with contextlib.suppress(OSError):
            os.utime(src / name, ns=(ns, ns), follow_symlinks=False)
            n += 1
    if n:
        _git(src, "update-index", "-q", "--refresh")  # the index learns the mtimes: a clean status
    return n
