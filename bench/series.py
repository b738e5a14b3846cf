"""Patch series: a quilt folder, a `git format-patch` folder or an mbox -> patches in order.

Pure parsing, no git. Every patch comes out as one mbox message (`Patch.text`) that
`git am` accepts. Files are decoded with surrogateescape and never newline-translated,
so writing `text` back with the same codec gives the original bytes (`git am --keep-cr`).
"""

from __future__ import annotations

import email.header
import email.message
import email.parser
import email.policy
import re
from dataclasses import dataclass
from pathlib import Path

from bench import series_meta
from bench.errors import UserError
from bench.series_meta import Meta

SERIES_FILE = "series"
YAML_FILE = "series.yaml"
MBOX_FROM = "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
SYNTH_AUTHOR = "pinbench <pinbench@localhost>"
SYNTH_DATE = "Mon, 1 Jan 2001 00:00:00 +0000"  # fixed, so re-applying gives the same commit ids

# The separator git mailsplit accepts: "From <who> Mon Sep 17 00:00:00 2001" (ctime-like date).
_FROM_LINE = re.compile(
    r"From \S+ +\w{3} \w{3} +\d{1,2} \d{1,2}:\d\d(:\d\d)? (\S+ )?\d{4}\r?(\n|$)")
_HEADER_LINE = re.compile(r"[A-Za-z][A-Za-z0-9-]*:( |\t|\r?$)")
_DIFF_START = re.compile(r"^(diff --git |diff -|Index: |--- \S|GIT binary patch)", re.M)
_HAS_DIFF = re.compile(r"^(diff --git |\+\+\+ \S|GIT binary patch)", re.M)
_BASE_COMMIT = re.compile(r"^base-commit: *([0-9a-fA-F]{7,64})\s*$", re.M)
_REPLY = re.compile(r"^\s*(re|fwd?|aw|sv)\s*:", re.I)
_PREFIX = re.compile(r"^\s*((\[[^\]]*\]\s*)+)")
_COUNTER = re.compile(r"\b(\d+)/(\d+)\b")
_REVISION = re.compile(r"\b[vV](\d+)\b")
_FORMAT_PATCH_NAME = re.compile(r"^(\d{4})-.+\.patch$")


@dataclass(frozen=True)
class Patch:
    index: int  # 1-based position in the series
    name: str  # file name, or "NNNN-subject" for a patch from an mbox
    subject: str  # without the [PATCH ...] prefix
    author: str | None
    path: Path | None  # the file it came from
    text: str  # one mbox message, ready for `git am`


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


@dataclass(frozen=True)
class _Message:
    text: str  # starts with a "From " separator line
    subject: str  # prefix stripped
    author: str | None
    index: int | None  # n of [n/N]
    total: int | None
    revision: int
    is_reply: bool
    has_diff: bool


# -- entry points ---------------------------------------------------------------------------


def load_series(spec: str, patches_dir: Path) -> Series:
    """Load a series by name (patches_dir/<name>), directory path, or mbox/.patch file path."""
    path = _resolve_spec(spec, patches_dir)
    if path.is_dir():
        return _load_dir(path)
    text = _read_text(path)
    if path.suffix == ".patch" and len(_split_mbox(text)) <= 1:
        # One patch file is one patch, whatever its [n/N] says.
        patch = _patch_from_file(path, 1, path.name, text)
        return Series(path.stem, path, (patch,), _find_base(text), (), (), (), "")
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
        is_file_series = p.is_file() and p.suffix in (".mbox", ".patch")
        if is_file_series or (p.is_dir() and _looks_like_series_dir(p)):
            names.append(p.name)
    return names


def _looks_like_series_dir(d: Path) -> bool:
    return ((d / SERIES_FILE).is_file() or (d / YAML_FILE).is_file()
            or any(_FORMAT_PATCH_NAME.match(p.name) for p in d.iterdir()))


def _resolve_spec(spec: str, patches_dir: Path) -> Path:
    # A bare name means patches/<name>; anything else is a path (relative to the cwd).
    if not spec.strip():
        raise UserError("empty series name")
    named = patches_dir / spec
    if "/" not in spec and named.exists():
        return named.resolve()
    as_path = Path(spec)
    if as_path.exists():
        return as_path.resolve()
    known = ", ".join(list_series(patches_dir)) or "none"
    raise UserError(f"series {spec!r} not found: no {named} and no file {spec} (known: {known})")


# -- folders --------------------------------------------------------------------------------


def _load_dir(d: Path) -> Series:
    yaml_path = d / YAML_FILE
    meta = series_meta.read(yaml_path, _read_text(yaml_path)) if yaml_path.exists() else Meta()
    series_path = d / SERIES_FILE
    base: str | None = None
    description = meta.description
    if meta.mbox is not None:
        if series_path.exists():
            raise UserError(f"{yaml_path}: has mbox: but {series_path} also exists; keep one")
        mbox = d / meta.mbox
        if not mbox.is_file():
            raise UserError(f"{yaml_path}: mbox file {meta.mbox!r} not found in {d}")
        patches, base, cover = _read_mbox(mbox)
        description = description or cover
    elif series_path.exists():
        patches = _read_quilt(series_path)
    else:
        patches, base, cover = _read_format_patch_dir(d, allow_empty=yaml_path.exists())
        description = description or cover
    return Series(d.name, d, patches, meta.base or base, meta.kconfigs, meta.workloads,
                  meta.suppress, description, meta)


def _read_quilt(series_path: Path) -> tuple[Patch, ...]:
    patches: list[Patch] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(_read_text(series_path).split("\n"), 1):
        words = re.sub(r"(^|\s)#.*", "", line).split()
        if not words:
            continue
        _check_quilt_options(series_path, lineno, words[1:])
        file = series_path.parent / words[0]
        if not file.is_file():
            raise UserError(f"{series_path}:{lineno}: patch file {words[0]} not found")
        if words[0] in seen:
            raise UserError(f"{series_path}:{lineno}: patch {words[0]} is listed twice (line {seen[words[0]]})")
        seen[words[0]] = lineno
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


def _read_format_patch_dir(d: Path, allow_empty: bool
                           ) -> tuple[tuple[Patch, ...], str | None, str]:
    """NNNN-*.patch files in name order, base-commit, cover-letter subject."""
    files = sorted(p for p in d.iterdir() if _FORMAT_PATCH_NAME.match(p.name) and p.is_file())
    if not files and not allow_empty:
        raise UserError(f"{d}: no {SERIES_FILE} file, no {YAML_FILE} and no NNNN-*.patch files")
    base, cover = None, ""
    patches: list[Patch] = []
    for f in files:
        text = _read_text(f)
        base = base or _find_base(text)
        if f.name.startswith("0000-"):  # format-patch --cover-letter
            cover = _parse_message(text).subject
            continue
        patches.append(_patch_from_file(f, len(patches) + 1, f.name, text))
    _order(d, [_parse_message(p.text) for p in patches])  # a deleted file leaves a gap in [n/N]
    return tuple(patches), base, cover


def _patch_from_file(path: Path, index: int, name: str, text: str | None = None) -> Patch:
    """One patch file: a mail (format-patch output) or a bare quilt diff with a description."""
    text = _read_text(path) if text is None else text
    if not text.strip():
        raise UserError(f"{path}: empty patch file")
    if not _HAS_DIFF.search(text):
        raise UserError(f"{path}: no diff found in patch file")
    if not _is_mail(text):
        text = _synthesize_mail(text, path.name)
    elif not _FROM_LINE.match(text.lstrip("\r\n")):
        text = MBOX_FROM + text.lstrip("\r\n")
    return _to_patch(_parse_message(text), index, name, path)


def _to_patch(msg: _Message, index: int, name: str, path: Path) -> Patch:
    text = msg.text
    if msg.author is None:  # git am refuses a mail without From:
        first, rest = text.split("\n", 1)
        text = f"{first}\nFrom: {SYNTH_AUTHOR}\n{rest}"
    author = None if msg.author == SYNTH_AUTHOR else msg.author
    return Patch(index, name, msg.subject, author, path, text)


def _is_mail(text: str) -> bool:
    """True if text starts with a mbox separator or a mail header block (From:/Subject:)."""
    lines = re.split(r"(?<=\n)", text.lstrip("\r\n"))
    if _FROM_LINE.match(lines[0]):
        return True
    names: list[str] = []
    for line in lines:
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
    return (f"{MBOX_FROM}From: {SYNTH_AUTHOR}\nDate: {SYNTH_DATE}\nSubject: [PATCH] {subject}\n"
            "MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n"
            "Content-Transfer-Encoding: 8bit\n\n"
            + (f"{body}\n\n" if body else "") + diff)


# -- mbox -----------------------------------------------------------------------------------


def _read_mbox(path: Path) -> tuple[tuple[Patch, ...], str | None, str]:
    """Patches of the newest revision in index order, base-commit, cover-letter subject."""
    text = _read_text(path)
    if not text.strip():
        raise UserError(f"{path}: empty mbox")
    messages = [_parse_message(m) for m in _split_mbox(text)]
    base = next((b for m in messages if (b := _find_base(m.text))), None)
    candidates = [m for m in messages if not m.is_reply and m.index != 0 and m.has_diff]
    # Several revisions in one thread: take the newest, like b4.
    newest = max((m.revision for m in candidates), default=1)
    ordered = _order(path, [m for m in candidates if m.revision == newest])
    if not ordered:
        raise UserError(f"{path}: no patches found")
    cover = next((m.subject for m in messages
                  if m.index == 0 and not m.is_reply and m.revision == newest), "")
    patches = tuple(_to_patch(m, i, f"{i:04d}-{_slug(m.subject)}", path)
                    for i, m in enumerate(ordered, 1))
    return patches, base, cover


def _order(path: Path, msgs: list[_Message]) -> list[_Message]:
    """Sort numbered patches by n of [n/N]; unnumbered ones keep file order."""
    numbered = [m for m in msgs if m.index is not None]
    if not numbered:
        return msgs
    if len(numbered) != len(msgs):
        raise UserError(f"{path}: mixes numbered [n/N] and unnumbered patches")
    totals = sorted({m.total or 0 for m in numbered})
    if len(totals) != 1:
        raise UserError(f"{path}: patches disagree on the series length: "
                        + ", ".join(f"/{t}" for t in totals))
    total = totals[0]
    slots: dict[int, _Message] = {}
    for m in numbered:
        assert m.index is not None
        if m.index in slots:
            raise UserError(f"{path}: patch {m.index}/{total} appears twice")
        slots[m.index] = m
    missing = [str(i) for i in range(1, total + 1) if i not in slots]
    if missing:
        raise UserError(f"{path}: patch {', '.join(f'{i}/{total}' for i in missing)} missing")
    extra = [i for i in slots if i > total]
    if extra:
        raise UserError(f"{path}: patch {extra[0]}/{total} is beyond the series length")
    return [slots[i] for i in range(1, total + 1)]


def _split_mbox(text: str) -> list[str]:
    """Split at "From " separator lines; undo mboxrd ">From " quoting in the bodies."""
    chunks: list[list[str]] = []
    for line in re.split(r"(?<=\n)", text):
        if not line:
            continue
        if _FROM_LINE.match(line) or not chunks:
            chunks.append([])
        chunks[-1].append(re.sub(r"^>(>*From )", r"\1", line))
    msgs = ["".join(c) for c in chunks]
    return [m if _FROM_LINE.match(m) else MBOX_FROM + m for m in msgs if m.strip()]


def _parse_message(text: str) -> _Message:
    headers = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(text)
    raw_subject = _header(headers, "subject")
    prefix_match = _PREFIX.match(raw_subject)
    prefix = prefix_match.group(1) if prefix_match else ""
    counter = _COUNTER.search(prefix)
    revision = _REVISION.search(prefix)
    parts = re.split(r"\r?\n\r?\n", text, maxsplit=1)
    body = parts[1] if len(parts) > 1 else ""
    return _Message(
        text=text,
        subject=raw_subject[len(prefix_match.group(0)):] if prefix_match else raw_subject.strip(),
        author=_header(headers, "from") or None,
        index=int(counter.group(1)) if counter else None,
        total=int(counter.group(2)) if counter else None,
        revision=int(revision.group(1)) if revision else 1,
        is_reply=bool(_REPLY.match(raw_subject)),
        has_diff=bool(_HAS_DIFF.search(body)),
    )


def _header(headers: email.message.Message, name: str) -> str:
    """Unfolded, RFC 2047-decoded header value; the raw value if it will not decode."""
    raw = headers.get(name)
    if raw is None:
        return ""
    try:
        value = str(email.header.make_header(email.header.decode_header(str(raw))))
    except (ValueError, LookupError, UnicodeError):  # bad encoded word or charset
        value = str(raw)
    return " ".join(value.split())


def _find_base(text: str) -> str | None:
    m = _BASE_COMMIT.search(text)
    return m.group(1).lower() if m else None


def _slug(subject: str) -> str:
    # Like format-patch file names: runs of other characters become "-".
    return re.sub(r"[^A-Za-z0-9._]+", "-", subject).strip("-.")[:52].rstrip("-.") or "patch"


# -- files ----------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    # Bytes in, no newline translation: CRs and non-UTF-8 bytes must reach git am unchanged.
    try:
        return path.read_bytes().decode("utf-8", errors="surrogateescape")
    except OSError as e:
        raise UserError(f"{path}: cannot read: {e.strerror}") from e
