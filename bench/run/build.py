"""Build the kernel out of tree (O=) with ccache, and excerpt compiler errors.

ccache gets CCACHE_BASEDIR set to the directory holding both the worktree and
the build dir, so the absolute source paths in compiler command lines become
relative (../src/mm/gup.c) and objects are shared between runs and series
whose worktrees live in different places.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.base import proc

IMAGE = Path("arch/x86/boot/bzImage")
_ERROR = re.compile(r"(\berror:|\bError \d|undefined reference to|\*\*\* )")
_WARNING = re.compile(r"\bwarning:")
# The machine failing the build, not the series (the first match names it); {tool}: only a
# tool in HOST_TOOLS counts (a command the series' own Makefile calls is the series' problem).
_HOST_TROUBLE = (
    (re.compile(r"(?:^|: )([\w.+-]+): (?:[Cc]ommand )?not found$"), "missing host tool {tool}"),
    (re.compile(r"^make(?:\[\d+\])?: ([\w.+-]+): No such file or directory$"), "missing host tool {tool}"),
    (re.compile(r"No space left on device"), "disk full"),
    # the other two a full disk is (EDQUOT, EROFS: bench/base/files.py): a quota's "Disk quota
    # exceeded" from cc1 or as was a FAIL of the series
    (re.compile(r"Disk quota exceeded"), "disk full (quota)"),
    (re.compile(r"Read-only file system"), "read-only file system"),
    (re.compile(r"Killed signal terminated program|fatal error: Killed|virtual memory exhausted|"
                r"Cannot allocate memory|out of memory allocating"), "the compiler was killed (out of memory?)"),
    (re.compile(r"^ccache: error: (.*)"), "ccache: {0}"),
)
# What the kernel build runs on the host: the preflight's build tools
# (scripts/requirements-debian.txt, tests/test_build.py keeps them in step) and kbuild's others.
HOST_TOOLS = frozenset((
    "make", "gcc", "cc", "ccache", "flex", "bison", "bc", "perl", "rsync", "cpio", "pahole", "depmod",
    "git", "xz", "tar", "ld", "as", "ar", "nm", "objcopy", "objdump", "strip", "readelf", "openssl",
    "python3", "python", "sh", "bash", "awk", "gawk", "sed", "gzip", "bzip2", "lzma", "lz4", "lzop",
    "zstd", "kmod", "dtc", "clang", "ld.lld", "llvm-ar", "llvm-nm", "llvm-objcopy", "rustc", "bindgen",
    "gcov",  # not kbuild's: the coverage step reads the profiled objects with it (bench/run/coverage/)
))
# make's own failure line: the failing command's output is just above it (--output-sync=line).
_MAKE_ERROR = re.compile(r"^make(?:\[\d+\])?: \*\*\* .*(?:Error \d+|Killed)")
# A compiler or linker saying the source is wrong: the series' failure, whatever else the log says.
_SOURCE_ERROR = re.compile(r"^[^\s:]+:\d+(?::\d+)?: (?:fatal )?error: |undefined reference to ")
NEAR = 8  # lines above a make error line that belong to the failing command
_PROGRESS = re.compile(r"^\s+(CC|LD|AR|AS|HOSTCC|GEN|OBJCOPY|BUILD)\s+")


@dataclass(frozen=True)
class BuildResult:
    image: Path | None
    rc: int
    timed_out: bool
    secs: float
    log: Path
    errors: tuple[str, ...]  # excerpt: each error line with a little context
    warnings: int
    host_trouble: str = ""  # set when the machine, not the series, failed the build

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out and self.image is not None


def jobs() -> int:
    return len(os.sched_getaffinity(0))


def make_argv(src: Path, build_dir: Path, njobs: int, targets: Iterable[str]) -> list[str]:
    cc = "ccache gcc" if shutil.which("ccache") else "gcc"
    return [
        "make",
        "-C",
        str(src),
        f"O={build_dir}",
        f"-j{njobs}",
        # Each object's kbuild line and its compiler output together, not interleaved with
        # other jobs': warnings are told per object (bench/run/buildwarn.py), as NIPA's -Oline.
        "--output-sync=line",
        f"CC={cc}",
        f"HOSTCC={cc}",
        *targets,
    ]


def ccache_env(cache_dir: Path, base_dir: Path) -> dict[str, str]:
    return {
        "CCACHE_DIR": os.environ.get("CCACHE_DIR", str(cache_dir / "ccache")),
        "CCACHE_BASEDIR": str(base_dir),
        "CCACHE_NOHASHDIR": "1",
        "CCACHE_MAXSIZE": os.environ.get("CCACHE_MAXSIZE", "8G"),
        # Reproducible version string: no host name or date in the image.
        "KBUILD_BUILD_USER": "pinbench",
        "KBUILD_BUILD_HOST": "pinbench",
    }


def excerpt_errors(lines: Iterable[str], context: int = 3, limit: int = 40) -> tuple[str, ...]:
    """Each error line with up to `context` lines before it, at most `limit` lines in all."""
    out: list[str] = []
    window: list[str] = []
    for line in lines:
        if _ERROR.search(line):
            for prev in window[-context:]:
                if prev not in out:
                    out.append(prev)
            if line not in out:
                out.append(line)
            if len(out) >= limit:
                break
        window.append(line)
        window = window[-context:]
    return tuple(out[:limit])


def host_trouble(lines: Iterable[str]) -> str:
    """What in a failed make's output says the host failed (a missing tool, a full disk, OOM); "" if
    nothing, or if the compiler reported errors in the source (then it is the series' failure).

    Only the lines just above make's `*** ... Error` lines are read (all of them when there are
    none, e.g. a config log's tail): an earlier harmless "not found" must not turn the series'
    compile error into host trouble.
    """
    lines = [line.strip() for line in lines]
    trouble = [line for line in lines if _host_match(line)]
    if any(_SOURCE_ERROR.search(line) and line not in trouble for line in lines):
        return ""
    marks = [i for i, line in enumerate(lines) if _MAKE_ERROR.search(line)]
    near = [lines[j] for i in marks for j in range(max(0, i - NEAR), i)] if marks else lines
    for line in near:
        if what := _host_match(line):
            return what
    return ""


def _host_match(line: str) -> str:
    for rx, what in _HOST_TROUBLE:
        if m := rx.search(line):
            if "{tool}" in what:
                if m.group(1) not in HOST_TOOLS:
                    continue
                return what.format(tool=m.group(1))
            return what.format(*m.groups())
    return ""


def build(
    src: Path,
    build_dir: Path,
    log: Path,
    *,
    cache_dir: Path,
    njobs: int | None = None,
    timeout: float | None = None,
    progress: Callable[[str], None] | None = None,
    started: Callable[[int], None] | None = None,
    make_vars: Sequence[str] = (),
) -> BuildResult:
    """make bzImage headers_install; started() gets make's process group as soon as it runs;
    make_vars: VAR=value words for make's command line (the coverage run's GCOV_PROFILE_*)."""
    counter = {"n": 0}

    def on_line(line: str) -> None:
        if progress and _PROGRESS.match(line):
            counter["n"] += 1
            if counter["n"] % 250 == 0:
                progress(f"{counter['n']} objects, now {line.split()[-1]}")

    result = proc.run(
        # headers_install: guest workloads compile selftests against the tree's uapi.
        make_argv(src, build_dir, njobs or jobs(), [*make_vars, "bzImage", "headers_install"]),
        env=ccache_env(cache_dir, build_dir.parent),
        log=log,
        timeout=timeout,
        on_line=on_line,
        started=started,
    )
    text = log.read_text(encoding="utf-8", errors="replace").splitlines()
    image = build_dir / IMAGE
    return BuildResult(
        image=image if result.ok and image.is_file() else None,
        rc=result.rc,
        timed_out=result.timed_out,
        secs=result.secs,
        log=log,
        errors=() if result.ok else excerpt_errors(text),
        warnings=sum(1 for line in text if _WARNING.search(line)),
        host_trouble="" if result.ok or result.timed_out else host_trouble(text),
    )
