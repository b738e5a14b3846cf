"""Kernel configuration: the base plus fragments, merged and then verified.

The base (`kconfigs/base.config`) is merged over `make allnoconfig` with the
tree's own scripts/kconfig/merge_config.sh, so nothing is switched on that no
fragment asked for; that is what keeps a cold build short. Kconfig silently
drops an option whose dependencies are not met, so afterwards every requested
option is compared with the final .config and each dropped one is reported by
name, with the fragment that asked for it, and whether the tree defines it at all.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.base import files, proc
from bench.base.errors import UserError, quote

BASE_NAME = "base"
DOT_CONFIG = ".config"  # the kernel's configuration in a build tree (a run keeps a copy: rundir.KCONFIG)
_SET = re.compile(r"^(CONFIG_[A-Za-z0-9_]+)=(.*)$")
_UNSET = re.compile(r"^# (CONFIG_[A-Za-z0-9_]+) is not set$")
# What kconfig takes as a value: a tristate, a decimal or hex number, a double-quoted string.
_VALUE = re.compile(r'[ymn]|-?[0-9]+|0[xX][0-9a-fA-F]+|"(?:[^"\\]|\\.)*"')


@dataclass(frozen=True)
class Option:
    name: str
    value: str  # "y", "m", "n" (for "is not set"), a number or a quoted string
    source: Path  # the fragment that asked for it
    line: int = field(default=0, compare=False)  # where in it


@dataclass(frozen=True)
class Fragment:
    name: str
    path: Path
    options: tuple[Option, ...]


@dataclass(frozen=True)
class Dropped:
    option: Option
    actual: str  # what .config ended up with ("n" when absent)
    defined: bool = True  # False: no Kconfig file of the tree defines the symbol (a typo, or another tree's)


@dataclass(frozen=True)
class ConfigResult:
    config: Path  # the final .config
    fragments: tuple[Fragment, ...]
    dropped: tuple[Dropped, ...]
    rc: int
    secs: float
    log: Path

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.dropped


def parse_fragment(path: Path, name: str | None = None) -> Fragment:
    """Read a .config fragment; any line that is not an option or a comment is an error."""
    try:
        text = files.read_input(path).decode("utf-8")  # bounded (input_bytes), a FIFO refused
        text = text.replace("\r\n", "\n").replace("\r", "\n")  # as read_text() read it
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start})") from e
    options: dict[str, Option] = {}
    first: dict[str, int] = {}
    for lineno, line in enumerate(text.split("\n"), 1):  # merge_config.sh's lines: \v or \x1c end none
        line = line.strip()
        if m := _SET.match(line):
            if not _VALUE.fullmatch(m.group(2)):
                # kconfig reads 'y # on' or 'yes' as y, so the option came out "dropped": a FAIL
                # of the series after the whole build, for a typo in the fragment
                raise UserError(f"{path}:{lineno}: {m.group(1)}: value {quote(m.group(2))} is not y, m, n, a number"
                                " or a \"quoted string\" (no comment after it)")
            opt = Option(m.group(1), m.group(2), path, lineno)
        elif m := _UNSET.match(line):
            opt = Option(m.group(1), "n", path, lineno)
        elif line and not line.startswith("#"):
            raise UserError(
                f"{path}:{lineno}: not a kconfig line (want CONFIG_X=y or '# CONFIG_X is not set'): {line!r}"
            )
        else:
            continue
        if opt.name in options and options[opt.name].value != opt.value:  # which one is meant?
            raise UserError(f"{path}:{lineno}: {opt.name} asked for twice, differently (line {first[opt.name]}"
                            f" says {_said(options[opt.name])}, this one {_said(opt)})")
        first.setdefault(opt.name, lineno)
        options[opt.name] = opt
    return Fragment(name or path.stem, path, tuple(options.values()))


def _said(opt: Option) -> str:
    return "is not set" if opt.value == "n" else f"={opt.value}"


def is_path(spec: str) -> bool:
    """Whether a fragment is named by its path (else it is kconfigs/<spec>.config)."""
    return spec.endswith(".config") or "/" in spec


def find_fragment(spec: str, kconfig_dir: Path) -> Fragment:
    """A fragment by name (kconfigs/<name>.config) or by path."""
    path = Path(spec)
    if not is_path(spec):
        path = kconfig_dir / f"{spec}.config"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in kconfig_dir.glob("*.config")))
        raise UserError(f"{path}: no such kconfig fragment (known: {known})")
    return parse_fragment(path.resolve(), path.stem)


def keep_base(fragments: tuple[Fragment, ...]) -> None:
    """Refuse a fragment after the base (fragments[0]) that turns off (n, or m: the guest loads no modules) an
    option base.config sets to y: the later fragment wins, and `# CONFIG_BUG is not set`
    compiled every WARN_ON() out (a series' WARNINGs unseen, a PASS); CONFIG_PRINTK=n or 9p as
    a module cost a build and a boot that could not work, blamed on the series."""
    if not fragments:
        return
    base, *rest = fragments  # the plan's order: the base first (a user's own base.config is not it)
    needed = {o.name for o in base.options if o.value == "y"}
    for frag in rest:
        for opt in frag.options:
            if opt.name in needed and opt.value != "y":
                raise UserError(f"{opt.source}:{opt.line}: {opt.name}{'=' + opt.value if opt.value != 'n' else ' is not set'}:"
                                f" the bench needs {opt.name}=y (kconfigs/{BASE_NAME}.config: the boot, the console,"
                                " kernel reports); a fragment cannot turn it off")


def requested(fragments: tuple[Fragment, ...]) -> dict[str, Option]:
    """The merged request: a later fragment overrides an earlier one, as merge_config does."""
    merged: dict[str, Option] = {}
    for frag in fragments:
        for opt in frag.options:
            merged[opt.name] = opt
    return merged


def read_config(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if m := _SET.match(line):
            values[m.group(1)] = m.group(2)
    return values


def check(config: Path, fragments: tuple[Fragment, ...]) -> tuple[Dropped, ...]:
    actual = read_config(config)
    dropped = []
    for opt in requested(fragments).values():
        got = actual.get(opt.name, "n")
        if got != opt.value:
            dropped.append(Dropped(opt, got))
    return tuple(dropped)


def configure(
    src: Path, build_dir: Path, fragments: tuple[Fragment, ...], log: Path
) -> ConfigResult:
    """allnoconfig + fragments (in order) into build_dir/.config, then verify.

    A .config that comes out the same as it was keeps its mtime, so an incremental make
    does not take it for a new configuration.
    """
    build_dir.mkdir(parents=True, exist_ok=True)
    script = src / "scripts" / "kconfig" / "merge_config.sh"
    if not script.is_file():
        raise UserError(f"{script}: missing; is {src} a kernel tree?")
    config = build_dir / DOT_CONFIG
    old = _content_and_mtime(config)
    result = proc.run(
        ["sh", str(script), "-n", "-O", str(build_dir), *(str(p) for p in _plain_copies(build_dir, fragments))],
        cwd=src,
        log=log,
    )
    new = _content_and_mtime(config)
    if old and new and result.ok and new[0] == old[0]:
        os.utime(config, ns=(old[1], old[1]))
    dropped = check(config, fragments) if result.ok and config.is_file() else ()
    if dropped:  # only then: the walk over the tree's Kconfig files takes a second or two
        known = symbols(src)
        dropped = tuple(replace(d, defined=d.option.name.removeprefix("CONFIG_") in known) for d in dropped)
    return ConfigResult(config, fragments, dropped, result.rc, result.secs, log)


_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")
FRAGMENTS_DIR = "pinbench-fragments"  # in the build folder: the fragments as merge_config.sh is given them


def _plain_copies(build_dir: Path, fragments: tuple[Fragment, ...]) -> list[Path]:
    """Each fragment copied into build_dir under a plain name (NN-name.config), for merge_config.sh:
    it splits its file arguments on blanks and expands globs (`for f in $MERGE_LIST`), so a
    fragment in `~/my frags/` was "does not exist", merge_config.sh exit 1: a config FAIL of the
    series for the user's folder name. The build folder is the cache's, whose name plan.py checks."""
    folder = build_dir / FRAGMENTS_DIR
    folder.mkdir(exist_ok=True)
    copies = []
    for i, frag in enumerate(fragments, 1):
        copy = folder / f"{i:02d}-{_UNSAFE.sub('_', frag.name)[:60]}.config"
        data = files.read_input(frag.path)  # the user's: a FIFO or a vanished file is theirs
        try:
            copy.write_bytes(data)
        except OSError as e:  # the cache's disk: the machine's
            raise files.cannot_write(copy, e) from e
        copies.append(copy)
    for stale in set(folder.iterdir()) - set(copies):
        stale.unlink()
    return copies


def _content_and_mtime(path: Path) -> tuple[bytes, int] | None:
    try:
        return path.read_bytes(), path.stat().st_mtime_ns
    except OSError:
        return None


def digest(fragments: tuple[Fragment, ...]) -> str:
    """What a build dir is configured for: the merged request (options and values), so the
    same options asked in another order or by other fragments give the same digest."""
    merged = sorted((name, opt.value) for name, opt in requested(fragments).items())
    return hashlib.sha256("\n".join(f"{n}={v}" for n, v in merged).encode()).hexdigest()


_SYMBOL = re.compile(r"^\s*(?:menu)?config\s+([A-Za-z0-9_]+)\s*(?:#.*)?$")


def defined_symbols(lines: Iterable[str]) -> set[str]:
    """The symbols one Kconfig file's lines define (`config X`, `menuconfig X`)."""
    return {m.group(1) for line in lines if (m := _SYMBOL.match(line))}


# a Kconfig file (Kconfig, Kconfig.debug, scripts/Kconfig.include) or kconfig's own sources
_KCONFIG_HUNK = re.compile(r"^(?:diff --git a/|--- a/|\+\+\+ b/)(?:\S*Kconfig[^/\s]*|scripts/kconfig/\S+)(?:\s|$)", re.M)


def touches_kconfig(patch_texts: Iterable[str]) -> bool:
    """Whether a series changes a Kconfig file: only then may a dropped option be its doing."""
    return any(_KCONFIG_HUNK.search(t) for t in patch_texts)


def symbols(src: Path) -> frozenset[str]:
    """Every symbol some Kconfig file of the tree defines (Kconfig, Kconfig.debug, ...)."""
    found: set[str] = set()
    for root, dirs, names in os.walk(src):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if name.startswith("Kconfig"):
                with open(os.path.join(root, name), encoding="utf-8", errors="replace") as f:
                    found |= defined_symbols(f)
    return frozenset(found)


def describe_dropped(d: Dropped) -> str:
    if not d.defined:
        return (f"{d.option.source}:{d.option.line}: {d.option.name} is defined by no Kconfig file of this tree"
                " (a typo, or an option of another kernel version)")
    want = "is not set" if d.option.value == "n" else f"={d.option.value}"
    got = "not set" if d.actual == "n" else f"={d.actual}"
    return (
        f"{d.option.source}:{d.option.line}: {d.option.name}{want} requested by {d.option.source.name}"
        f" but .config has it {got}"
        " (unmet dependency? add the options it depends on to the fragment)"
    )


def dropped_verdict(dropped: tuple[Dropped, ...], series_touches_kconfig: bool) -> tuple[bool, str]:
    """Whether the dropped options are the series' doing, and the one-line message: only a series
    that changes a Kconfig file can drop an option; otherwise the fragment or the tree is wrong
    (a typo first: it names the FILE:LINE to fix)."""
    if not series_touches_kconfig:
        first = next((d for d in dropped if not d.defined), dropped[0])
        return False, (f"{describe_dropped(first)}; the series changes no Kconfig file, so not the series'"
                       f" ({len(dropped)} option(s) dropped)")
    return True, (f"{len(dropped)} requested option(s) dropped: {dropped[0].option.name}..."
                  " (the series changes a Kconfig file)")
