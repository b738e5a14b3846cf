"""The kernel tree, scratch worktrees on it, and `git am -3` one patch at a time.

The tree is `--tree`, `$BENCH_TREE`, or Debian's linux-source tarball unpacked once into
the cache as a one-commit git repo. Runs never touch the tree's HEAD, index or files:
they work in detached worktrees of it (bench/run/worktree.py).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.base import files, proc
from bench.base.errors import InfraError, UserError
from bench.run.series import Patch, Series

TARBALL_DIR = Path("/usr/src")
TARBALL_GLOB = "linux-source-*.tar.xz"
IDENTITY = ("-c", "user.name=pinbench", "-c", "user.email=pinbench@localhost")
# No hooks, signing, rerere or auto-gc from the user's config: a background gc of a
# 1.5 GB kernel repo would eat the build's CPUs.
QUIET_GIT = ("-c", "core.hooksPath=/dev/null", "-c", "commit.gpgSign=false",
             "-c", "rerere.enabled=false", "-c", "gc.auto=0", "-c", "maintenance.auto=false")
COMMITTER_DATE = "2001-01-01T00:00:00+0000"  # fixed, so the same series gives the same ids
_FAILED_FILE = (
    re.compile(r"^error: patch failed: (.+):\d+$"),
    re.compile(r"^CONFLICT \([^)]*\): Merge conflict in (.+)$"),
    re.compile(r"^CONFLICT \([^)]*\): (\S+) deleted in "),
    re.compile(r"^error: (.+): does not exist in index$"),
    re.compile(r"^error: (.+): already exists in (index|working directory)$"),
    re.compile(r"^error: (.+): patch does not apply$"),
    re.compile(r"^error: (.+): No such file or directory$"),
)
# What am -3 says when it cannot even try a 3-way merge; `git apply --check` says more.
_AM_NOISE = ("sha1 information is lacking", "could not build fake ancestor")


@dataclass(frozen=True)
class PatchResult:
    patch: Patch
    ok: bool
    commit: str | None  # the commit git am made, None on failure
    failed_files: tuple[str, ...]
    message: str  # one line: why it failed, or "applied"


@dataclass(frozen=True)
class ApplyResult:
    base: str
    head: str  # last commit that applied (== base if none did)
    results: tuple[PatchResult, ...]  # patches tried, in order; stops at the first failure
    skipped: tuple[Patch, ...] = ()  # patches after a failure, not attempted

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results) and not self.skipped


# -- which tree -----------------------------------------------------------------------------


def resolve_tree(tree_arg: str | None, env: Mapping[str, str], cache_dir: Path) -> Path:
    """--tree, else $BENCH_TREE, else the cached repo made from the linux-source tarball."""
    if tree_arg:
        return _check_tree(Path(tree_arg), "--tree")
    if env.get("BENCH_TREE"):
        return _check_tree(Path(env["BENCH_TREE"]), "$BENCH_TREE")
    return default_tree(find_tarball(env), cache_dir)


def _resolved(path: Path, what: str) -> Path:
    """path made absolute; a symlink loop named (Path.resolve raises RuntimeError on one: an
    internal error)."""
    try:
        return path.expanduser().resolve()
    except (RuntimeError, OSError) as e:
        raise UserError(f"{what} {path}: cannot resolve it: a symlink loop ({e})") from None


def _check_tree(path: Path, what: str) -> Path:
    path = _resolved(path, what)
    if not path.is_dir():
        raise UserError(f"{what} {path}: no such directory")
    if not (path / "Makefile").is_file():
        raise UserError(f"{what} {path}: no Makefile, not a kernel tree")
    top = proc.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"])
    if not top.ok:
        raise UserError(f"{what} {path}: not a git repository")
    if Path(top.tail[-1]).resolve() != path:
        raise UserError(f"{what} {path}: inside git repository {top.tail[-1]}, not its top level")
    return path


def find_tarball(env: Mapping[str, str], src_dir: Path = TARBALL_DIR) -> Path:
    """$BENCH_TARBALL, else the newest src_dir/linux-source-*.tar.xz."""
    if env.get("BENCH_TARBALL"):
        tarball = _resolved(Path(env["BENCH_TARBALL"]), "$BENCH_TARBALL")
        if not tarball.is_file():
            raise UserError(f"$BENCH_TARBALL {tarball}: no such file")
        return tarball
    found = sorted(src_dir.glob(TARBALL_GLOB), key=_version_key)
    if not found:
        raise UserError(f"no kernel tree: no {src_dir / TARBALL_GLOB}; install linux-source-6.12"
                        " (apt-get install linux-source-6.12) or pass --tree PATH")
    return found[-1]


def _version_key(tarball: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", _unpacked_name(tarball)))


def _unpacked_name(tarball: Path) -> str:
    return re.sub(r"\.tar(\.\w+)?$", "", tarball.name)


def default_tree(tarball: Path, cache_dir: Path) -> Path:
    """cache_dir/<tarball name>/: unpacked and committed once, reused afterwards."""
    dest = cache_dir / _unpacked_name(tarball)
    if (dest / ".git").exists():
        return dest
    cache_dir.mkdir(parents=True, exist_ok=True)
    with files.locked(cache_dir / f".{dest.name}.lock", f"unpacking {tarball.name} into {dest}"):
        if (dest / ".git").exists():  # another run made it while we waited
            return dest
        if dest.exists():
            raise InfraError(f"{dest} exists but is not a git repository; remove it")
        for stale in cache_dir.glob(f".{dest.name}.tmp-*"):  # left by a killed run
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=cache_dir))
        try:
            _unpack_and_commit(tarball, tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _unpack_and_commit(tarball: Path, tmp: Path, dest: Path) -> None:
    log = dest.parent / f".{dest.name}.log"  # outside tmp, so it survives a failure
    work = tmp / "src"
    work.mkdir()
    untar = proc.run(["tar", "-xf", str(tarball), "--no-same-owner", "-C", str(work)], log=log)
    proc.check(untar, f"unpacking {tarball}")
    entries = list(work.iterdir())
    root = entries[0] if len(entries) == 1 and entries[0].is_dir() else work
    steps = (
        ["git", "init", "-q"],
        ["git", "config", "gc.auto", "0"],  # see QUIET_GIT
        ["git", "config", "maintenance.auto", "false"],
        # Debian's .gitignore ends with "/*" (ignore everything at the top): force-add.
        ["git", "add", "-A", "-f"],
        ["git", *IDENTITY, *QUIET_GIT, "commit", "-q", "--no-verify",
         "-m", f"{tarball.name}\n\nUnpacked from {tarball} by pinbench."],
    )
    # Both dates fixed: the commit id then depends on the tarball alone, so a machine that unpacks
    # the same tarball gets the same base commit (a proof resumed or a run compared elsewhere).
    dates = {"GIT_AUTHOR_DATE": COMMITTER_DATE, "GIT_COMMITTER_DATE": COMMITTER_DATE}
    for argv in steps:
        proc.check(proc.run(argv, cwd=root, log=log, env=dates), f"making {dest} from {tarball.name}")
    root.rename(dest)  # atomic: dest either does not exist or is complete


def resolve_base(tree: Path, base: str | None) -> str:
    """Full commit id of base (default HEAD) in tree."""
    ref = base or "HEAD"
    if ref.startswith("-"):
        raise UserError(f"base {ref!r}: not a git revision")
    res = proc.run(["git", "-C", str(tree), "rev-parse", "--verify", "--quiet",
                    f"{ref}^{{commit}}"])
    sha = next((line for line in res.tail if re.fullmatch(r"[0-9a-f]{40,64}", line)), None)
    if not res.ok or sha is None:
        raise UserError(f"base {ref!r}: no such commit in {tree}")
    return sha


# -- applying -------------------------------------------------------------------------------


def apply_series(worktree: Path, series: Series, log: Path) -> ApplyResult:
    """git am each patch on worktree's HEAD; stop at the first that fails (after --abort)."""
    base = _rev(worktree, "HEAD")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as f:  # exists even for an empty series
        f.write(f"pinbench: {len(series.patches)} patches of {series.name} on {base}\n")
    results: list[PatchResult] = []
    with tempfile.TemporaryDirectory(prefix="pinbench-am-") as tmp:
        for patch in series.patches:
            result = _apply_one(worktree, patch, Path(tmp) / f"{patch.index:04d}.mbox", log)
            results.append(result)
            if not result.ok:
                break
    skipped = series.patches[len(results):]
    return ApplyResult(base, _rev(worktree, "HEAD"), tuple(results), skipped)


def _apply_one(worktree: Path, patch: Patch, mbox: Path, log: Path) -> PatchResult:
    mbox.write_bytes(patch.text.encode("utf-8", errors="surrogateescape"))
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"pinbench: applying [{patch.index}] {patch.name}\n")
    lines: list[str] = []
    res = proc.run(["git", *IDENTITY, *QUIET_GIT, "am", "-3", *_cr_option(patch.text), str(mbox)], cwd=worktree,
                   env={"GIT_COMMITTER_DATE": COMMITTER_DATE}, log=log, on_line=lines.append)
    if res.timed_out:
        raise InfraError(f"git am timed out in {worktree} (log: {log})")
    if res.ok:
        return PatchResult(patch, True, _rev(worktree, "HEAD"), (), "applied")
    proc.run(["git", "am", "--abort"], cwd=worktree, log=log)
    # git could not write the tree: not the patch's doing (git's own error lines only: "Applying:
    # <subject>" may say anything)
    if why := files.said_disk_trouble(ln for ln in lines if ln.startswith(("error: ", "fatal: "))):
        raise InfraError(f"{worktree}: git am could not write the tree: {why} (log: {log})")
    # am -3 silences the plain apply's errors; a dry run names the failing hunks.
    check: list[str] = []
    proc.run(["git", "apply", "--check", "--index", str(mbox)], cwd=worktree, log=log,
             on_line=check.append)
    return PatchResult(patch, False, None, _failed_files(lines + check),
                       _failure_message(lines, check))


_DIFF_START = re.compile(r"^(diff --git |--- )", re.M)


def _cr_option(text: str) -> list[str]:
    """--keep-cr, so a patch to a file with CRLF lines applies byte for byte; except when every
    line of the diff ends in CRLF, its `diff --git`, `---` and `@@` lines too (format-patch ends
    those in LF whatever the file): a patch saved or mailed with CRLF line ends, which plain
    `git am` and `patch` apply by stripping the CRs."""
    start = _DIFF_START.search(text)
    diff = text[start.start():].rstrip("\n").split("\n") if start else []
    return [] if diff and all(line.endswith("\r") for line in diff) else ["--keep-cr"]


def _failed_files(lines: list[str]) -> tuple[str, ...]:
    files: dict[str, None] = {}  # ordered set
    for line in lines:
        for rx in _FAILED_FILE:
            m = rx.match(line)
            if m:
                files[m.group(1)] = None
                break
    return tuple(files)


def _failure_message(am_lines: list[str], check_lines: list[str]) -> str:
    """One line: git am's errors, else git apply --check's, else git am's last line."""
    def errors(lines: list[str]) -> list[str]:
        return [ln for ln in lines if ln.startswith(("error:", "CONFLICT", "fatal:"))
                and not any(n in ln for n in _AM_NOISE)]

    found = errors(am_lines) or errors(check_lines)
    if not found:
        found = [ln for ln in am_lines if ln.strip() and not ln.startswith("$ ")][-1:]
    more = f" (+{len(found) - 3} more)" if len(found) > 3 else ""
    return "; ".join(found[:3]) + more if found else "git am failed"


def _rev(repo: Path, ref: str) -> str:
    return proc.output(["git", "-C", str(repo), "rev-parse", "--verify", ref]).strip()


# -- questions about the base ---------------------------------------------------------------


def is_ancestor(tree: Path, commit: str, base: str) -> bool | None:
    """Is commit in base's history? None when tree has no such commit (a one-commit tarball
    repo has no upstream history: nothing can be told)."""
    if commit.startswith("-"):
        return None
    known = proc.run(["git", "-C", str(tree), "rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}"])
    if not known.ok:
        return None
    res = proc.run(["git", "-C", str(tree), "merge-base", "--is-ancestor", commit, base])
    return res.rc == 0 if res.rc in (0, 1) else None


_MAKE_VAR = re.compile(r"^(VERSION|PATCHLEVEL|SUBLEVEL)\s*=\s*(\d+)\s*$", re.M)


def kernel_version(tree: Path, commit: str) -> str | None:
    """"6.12.117" from the top Makefile at commit; None if it does not say."""
    try:
        found = dict(_MAKE_VAR.findall(proc.output(["git", "-C", str(tree), "show", f"{commit}:Makefile"])))
    except InfraError:
        return None
    if "VERSION" not in found or "PATCHLEVEL" not in found:
        return None
    return ".".join(found[k] for k in ("VERSION", "PATCHLEVEL", "SUBLEVEL") if k in found)
