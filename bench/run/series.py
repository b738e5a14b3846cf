"""Patch series: a quilt folder, a `git format-patch` folder or an mbox -> patches in order.

Pure parsing, no git. Every patch comes out as one mbox message (`Patch.text`) that
`git am` accepts. Files are decoded with surrogateescape and never newline-translated,
so writing `text` back with the same codec gives the original bytes (`git am --keep-cr`).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

from bench.base import files, paths
from bench.base.errors import UserError, quote
from bench.base.limits import LIMITS
from bench.run import kconfig, mbox, series_yaml
from bench.run.series_yaml import Meta

SERIES_FILE = "series"
YAML_FILE = "series.yaml"
SYNTH_AUTHOR = "pinbench <pinbench@localhost>"
SYNTH_DATE = "Mon, 1 Jan 2001 00:00:00 +0000"  # fixed, so re-applying gives the same commit ids

_HEADER_LINE = re.compile(r"[A-Za-z][A-Za-z0-9-]*:( |\t|\r?$)")
_DIFF_START = re.compile(r"^(diff --git |diff -|Index: |--- \S|GIT binary patch)", re.M)
# format-patch's names: NNNN-subject.patch, and vN-NNNN-subject.patch with -vN (v2-0000-cover-letter.patch)
_FORMAT_PATCH_NAME = re.compile(r"^(v\d+-)?(\d{4})-.+\.patch$")
PATCH_SUFFIXES = (".patch", ".diff")  # what a folder without a series file applies
BARE_FILES = (YAML_FILE, "known-issues.yaml")  # all a bare-tree series folder holds (and README*)


def shown(text: str) -> str:
    """A name as written into logs, JSON and XML: bytes that were not UTF-8 (a file or folder
    name, a subject, read with surrogateescape) become U+FFFD. A lone surrogate crashed the
    run's apply.log and its junit.xml (a series folder named caf\\xe9: an internal error)."""
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogateescape" if all(
        "\udc80" <= c <= "\udcff" for c in text if "\ud800" <= c <= "\udfff") else "replace").decode("utf-8", "replace")


@dataclass(frozen=True)
class Patch:
    index: int  # 1-based position in the series
    name: str  # file name, or "NNNN-subject" for a patch from an mbox
    subject: str  # without the [PATCH ...] prefix
    author: str | None
    path: Path | None  # the file it came from (its real name: `name` is for showing)
    text: str  # one mbox message, ready for `git am`

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", shown(self.name))
        object.__setattr__(self, "subject", shown(self.subject))
        object.__setattr__(self, "author", None if self.author is None else shown(self.author))


@dataclass(frozen=True)
class Series:
    name: str
    source: Path
    patches: tuple[Patch, ...]
    base: str | None
    kconfigs: tuple[str, ...]
    workloads: tuple[str, ...]
    suppress: tuple[str, ...]  # title regexes of known/intended kernel reports
    description: str
    meta: Meta = Meta()  # the rest of series.yaml: cmdline, expect, fixes, catch

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", shown(self.name))


# -- entry points ---------------------------------------------------------------------------


def load_series(spec: str, patches_dir: Path) -> Series:
    """Load a series by name (patches_dir/<name>), directory path, or mbox/.patch file path."""
    path = _resolve_spec(spec, patches_dir)
    if path.is_dir():
        return _load_dir(path)
    text = _read_text(path)
    if path.suffix in PATCH_SUFFIXES and len(mbox.split_mbox(text)) <= 1:
        # One patch file is one patch, whatever its [n/N] says (a `git diff > fix.diff` too).
        patch = _patch_from_file(path, 1, path.name, text)
        return Series(path.stem, path, (patch,), mbox.find_base(text), (), (), (), "")
    patches, base, cover = _read_mbox(path)
    return Series(path.stem, path, patches, base, (), (), (), cover)


def empty(name: str) -> Series:
    """No patches: the tree as it is (a range bisect, a bisect step on a bare commit)."""
    return Series(name, Path(), (), None, (), (), (), "the tree as it is (no patches)")


def list_series(patches_dir: Path) -> list[str]:
    """Names under patches_dir that load_series accepts: series folders and mbox/patch files."""
    if not patches_dir.is_dir():
        return []
    names: list[str] = []
    for p in sorted(patches_dir.iterdir()):
        if p.name.startswith("."):
            continue
        is_file_series = p.is_file() and p.suffix in (".mbox", *PATCH_SUFFIXES)
        if is_file_series or (p.is_dir() and _looks_like_series_dir(p)):
            names.append(p.name)
    return names


def _looks_like_series_dir(d: Path) -> bool:
    return ((d / SERIES_FILE).is_file() or (d / YAML_FILE).is_file()
            or any(p.suffix in PATCH_SUFFIXES for p in d.iterdir()))


def _resolve_spec(spec: str, patches_dir: Path) -> Path:
    # A bare name means patches/<name>; anything else is a path (relative to the cwd).
    if not spec.strip():
        raise UserError("empty series name")
    # "." and ".." are paths (the cwd's series, not patches/ itself or the project home);
    # "name/" (a shell's completion) is patches/<name> when the cwd has no such path
    name = spec.rstrip("/")
    named = patches_dir / name
    if "/" not in spec and paths.plain(name) and named.exists():
        return named.resolve()
    as_path = Path(spec)
    if as_path.exists():
        return as_path.resolve()
    if paths.plain(name) and named.exists():
        return named.resolve()
    known = ", ".join(list_series(patches_dir)) or "none"
    raise UserError(f"series {quote(spec)} not found: no {named} and no file {quote(spec)} (known: {known})")


# -- folders --------------------------------------------------------------------------------


def _load_dir(d: Path) -> Series:
    yaml_path, series_path = own_file(d, YAML_FILE), own_file(d, SERIES_FILE)
    meta = series_yaml.read(yaml_path, _read_text(yaml_path)) if files.present(yaml_path) else Meta()
    quilt = files.present(series_path)
    base: str | None = None
    description = meta.description
    if meta.mbox is not None:
        if quilt:
            raise UserError(f"{yaml_path}: has mbox: but {series_path} also exists; keep one")
        mbox_path = inside(d, meta.mbox, f"{yaml_path}: mbox")
        if not mbox_path.is_file():
            raise UserError(f"{yaml_path}: mbox file {quote(meta.mbox)} not found in {d}")
        patches, base, cover = _read_mbox(mbox_path)
        description = description or cover
    elif quilt:
        patches = _read_quilt(series_path)
    else:
        patches, base, cover = _read_patch_dir(d, allow_empty=files.present(yaml_path))
        description = description or cover
    if not patches:
        _check_bare(d, quilt)
    # a fragment named by its path is the folder's own, as its patches are: relative to it (it was
    # to the cwd), never out of it (`kconfigs: [/etc/shadow]` quoted the file's first line in an error)
    kconfigs = tuple(str(inside(d, k, f"{yaml_path}: kconfigs: fragment")) if kconfig.is_path(k) else k
                     for k in meta.kconfigs)
    return Series(d.name, d, patches, meta.base or base, kconfigs, meta.workloads,
                  meta.suppress, description, meta)


def _check_bare(d: Path, quilt: bool) -> None:
    """A folder that yields no patches runs the bare tree (patches/baseline): only when it holds
    nothing but what describes a run, never when patches are there under names not picked up."""
    found = sorted(p.name for p in d.iterdir() if p.name not in (*BARE_FILES, SERIES_FILE)
                   and not p.name.startswith(".") and not p.name.upper().startswith("README"))
    if found:
        shown = ", ".join(quote(n, 40) for n in found[:8]) + (f" and {len(found) - 8} more" if len(found) > 8 else "")
        why = f"its {SERIES_FILE} file lists none" if quilt else "none is a *.patch/*.diff file, a format-patch NNNN-*.patch or a series.yaml mbox:"
        raise UserError(f"{d}: no patches to apply ({why}) but it holds {shown};"
                        f" a bare-tree series holds only {', '.join(BARE_FILES)} (or an empty {SERIES_FILE})")


def own_file(d: Path, name: str) -> Path:
    """d/name, a file the series folder describes itself with (series.yaml, series,
    known-issues.yaml): refused when it is a symlink out of d, as a patch is. Read, a link to
    /etc/shadow had its first line quoted in the error ("unknown key 'root:$y$...'")."""
    path = d / name
    return inside(d, name, f"{d}:") if files.present(path) else path


def inside(d: Path, name: str, where: str) -> Path:
    """d/name, refused when it leaves d: "..", an absolute path or a symlink out."""
    if "\0" in name:  # a UTF-16 series file, a "\0" escape in series.yaml: os calls raise ValueError
        raise UserError(f"{where} {quote(name)} holds a NUL byte (not a UTF-8 text file?)")
    path = d / name
    try:
        out = Path(name).is_absolute() or not path.resolve().is_relative_to(d.resolve())
    except (RuntimeError, OSError) as e:  # RuntimeError: a symlink loop
        raise UserError(f"{where} {quote(name)}: cannot resolve: {e}") from e
    if out:
        raise UserError(f"{where} {quote(name)} is outside {d} (.., an absolute path or a symlink out)")
    return path


def _read_quilt(series_path: Path) -> tuple[Patch, ...]:
    patches: list[Patch] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(_read_text(series_path).split("\n"), 1):
        words = re.sub(r"(^|\s)#.*", "", line).split()
        if not words:
            continue
        _check_quilt_options(series_path, lineno, words[1:])
        file = inside(series_path.parent, words[0], f"{series_path}:{lineno}: patch")
        if not file.is_file():
            what = "not a regular file" if file.exists() else "not found"
            raise UserError(f"{series_path}:{lineno}: patch file {words[0]} {what}")
        real = str(file.resolve())  # ./a.patch, sub/../a.patch or a link to it: the same patch, applied twice
        if real in seen:
            raise UserError(f"{series_path}:{lineno}: patch {words[0]} is listed twice (line {seen[real]})")
        if len(patches) >= LIMITS.patches:
            raise UserError(f"{series_path}:{lineno}: over the limit of {LIMITS.patches} patches in a series")
        seen[real] = lineno
        patches.append(_patch_from_file(file, len(patches) + 1, words[0]))
    return tuple(patches)


def _check_quilt_options(series_path: Path, lineno: int, opts: list[str]) -> None:
    # quilt allows "-p1", "-p 1", "-pab" per patch; git am applies with -p1 only.
    joined = " ".join(opts)
    rest = re.sub(r"^-p ?(1|ab)(\s|$)", "", joined).strip()
    if rest.startswith("-p"):
        raise UserError(f"{series_path}:{lineno}: strip level {rest.split()[0]} not supported"
                        " (patches must apply with -p1)")
    if rest:
        raise UserError(f"{series_path}:{lineno}: unsupported quilt option {rest.split()[0]!r}")


def _read_patch_dir(d: Path, allow_empty: bool) -> tuple[tuple[Patch, ...], str | None, str]:
    """A folder without a series file: its format-patch NNNN-*.patch files, or else its *.patch
    and *.diff files, in name order (as `git am *.patch` takes them); base-commit, cover subject."""
    files = sorted(p for p in d.iterdir() if p.suffix in PATCH_SUFFIXES and not p.name.startswith("."))
    formatted = [f for f in files if _FORMAT_PATCH_NAME.match(f.name)]
    if formatted and len(formatted) != len(files):
        others = ", ".join([quote(f.name, 40) for f in files if f not in formatted][:8])
        raise UserError(f"{d}: NNNN-*.patch files from format-patch and other patch files ({others}):"
                        f" list the ones to apply, in order, in a {SERIES_FILE} file")
    revisions = sorted({m.group(1) or "v1-" for f in formatted if (m := _FORMAT_PATCH_NAME.match(f.name))})
    if len(revisions) > 1:
        raise UserError(f"{d}: two revisions of a format-patch series ({', '.join(r.rstrip('-') for r in revisions)}):"
                        " keep one in the folder, or list the patches to apply in a series file")
    if not files and not allow_empty:
        raise UserError(f"{d}: no {SERIES_FILE} file, no {YAML_FILE} and no *.patch files")
    if len(files) > LIMITS.patches:
        raise UserError(f"{d}: {len(files)} patch files, over the limit of {LIMITS.patches} in a series")
    base, cover = None, ""
    patches: list[Patch] = []
    for f in files:
        inside(d, f.name, f"{d}: patch file")
        if not f.is_file():
            raise UserError(f"{f}: not a file")
        text = _read_text(f)
        base = base or mbox.find_base(text)
        if (m := _FORMAT_PATCH_NAME.match(f.name)) and m.group(2) == "0000":  # format-patch --cover-letter
            cover = mbox.parse_message(text).subject
            continue
        patches.append(_patch_from_file(f, len(patches) + 1, f.name, text))
    mbox.order(d, [mbox.parse_message(p.text) for p in patches])  # a deleted file leaves a gap in [n/N]
    _check_numbers(d, [f.name for f in formatted])  # ... and in the file names, [n/N] or not
    return tuple(patches), base, cover


def _check_numbers(d: Path, names: list[str]) -> None:
    """format-patch's NNNN- numbers run on without a gap or a repeat (from 0001, or the first
    of --start-number): a deleted or doubled file is caught even when the subjects carry no
    [n/N] (format-patch -N), instead of testing a series without one of its patches."""
    numbers = [int(m.group(2)) for n in names if (m := _FORMAT_PATCH_NAME.match(n)) and m.group(2) != "0000"]
    if not numbers:
        return
    want = range(numbers[0], numbers[0] + len(numbers))
    if numbers != list(want):
        seen = set(numbers)
        twice = next((n for n in numbers if numbers.count(n) > 1), None)
        gap = next((n for n in range(numbers[0], numbers[-1]) if n not in seen), None)
        what = f"two {twice:04d}-*.patch files" if twice is not None else f"no {gap:04d}-*.patch between"\
            f" {numbers[0]:04d} and {numbers[-1]:04d}"
        raise UserError(f"{d}: {what}: a format-patch series is numbered without gaps (list the patches"
                        f" to apply in a {SERIES_FILE} file)")


def _patch_from_file(path: Path, index: int, name: str, text: str | None = None) -> Patch:
    """One patch file: a mail (format-patch output) or a bare quilt diff with a description."""
    text = _read_text(path) if text is None else text
    if not text.strip():
        raise UserError(f"{path}: empty patch file")
    if not mbox.HAS_DIFF.search(text) and not (_is_mail(text) and mbox.parse_message(text).has_diff):
        raise UserError(f"{path}: no diff found in patch file")
    if not _is_mail(text):
        text = _synthesize_mail(text, path.name)
    elif not mbox.FROM_LINE.match(text.lstrip("\r\n")):
        text = mbox.MBOX_FROM + text.lstrip("\r\n")
    return _to_patch(mbox.parse_message(text), index, name, path)


def _to_patch(msg: mbox.Message, index: int, name: str, path: Path) -> Patch:
    text = msg.text
    if msg.author is None:  # git am refuses a mail without From:
        first, rest = text.split("\n", 1)
        text = f"{first}\nFrom: {SYNTH_AUTHOR}\n{rest}"
    author = None if msg.author == SYNTH_AUTHOR else msg.author
    return Patch(index, name, msg.subject, author, path, text)


def _is_mail(text: str) -> bool:
    """True if text starts with a mbox separator or a mail header block (From:/Subject:)."""
    lines = (m.group(0) for m in re.finditer(r"[^\n]*\n?", text.lstrip("\r\n")))  # lazily: only the head is read
    first = next(lines, "")
    if mbox.FROM_LINE.match(first):
        return True
    names: list[str] = []
    for line in itertools.chain([first], lines):
        if not line.strip():
            break
        if line[0] in " \t" and names:  # folded header continuation
            continue
        if not _HEADER_LINE.match(line):
            return False  # e.g. "mm: fix foo" followed by prose
        names.append(line.split(":", 1)[0].lower())
    return "from" in names or "subject" in names


def _synthesize_mail(text: str, file_name: str) -> str:
    """Give a header-less quilt patch the mail headers git am needs."""
    start = _DIFF_START.search(text)
    desc, diff = (text[: start.start()], text[start.start():]) if start else (text, "")
    lines = desc.strip("\r\n").split("\n") if desc.strip() else []
    subject = lines[0].strip() if lines else file_name
    # The first description line becomes the subject, the rest the body; git am ends the
    # commit message where the diff starts.
    body = "\n".join(lines[1:]).strip("\r\n")
    return (f"{mbox.MBOX_FROM}From: {SYNTH_AUTHOR}\nDate: {SYNTH_DATE}\nSubject: [PATCH] {subject}\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
            "Content-Transfer-Encoding: 8bit\n\n"
            + (f"{body}\n\n" if body else "") + diff)


# -- mbox -----------------------------------------------------------------------------------


def _read_mbox(path: Path) -> tuple[tuple[Patch, ...], str | None, str]:
    """Patches of the newest revision in index order, base-commit, cover-letter subject."""
    text = _read_text(path)
    if not text.strip():
        raise UserError(f"{path}: empty mbox")
    messages = [mbox.parse_message(m) for m in mbox.split_mbox(text)]
    candidates = [m for m in messages if not m.is_reply and m.index != 0 and m.has_diff]
    # Several revisions in one thread: take the newest, like b4, on its own base-commit (its cover
    # letter's or a patch's: the first trailer of the file was v1's), else any the file gives.
    newest = max((m.revision for m in candidates), default=1)
    base = next((b for m in messages if not m.is_reply and m.revision == newest and (b := mbox.find_base(m.text))),
                None) or next((b for m in messages if (b := mbox.find_base(m.text))), None)
    ordered = mbox.order(path, [m for m in candidates if m.revision == newest])
    if not ordered:
        raise UserError(f"{path}: no patches found")
    cover = next((m.subject for m in messages
                  if m.index == 0 and not m.is_reply and m.revision == newest), "")
    patches = tuple(_to_patch(m, i, f"{i:04d}-{mbox.slug(m.subject)}", path)
                    for i, m in enumerate(ordered, 1))
    return patches, base, cover


# -- files ----------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    # Bytes in, no newline translation: CRs and non-UTF-8 bytes must reach git am unchanged.
    # a leading byte-order mark (a Windows editor) is no part of the text: it hid a quilt file's first name
    return files.read_input(path).decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
