"""Mail parsing for patch series: mbox splitting, one message's headers, [PATCH n/N] order.

Pure parsing of text, no files: bench/run/series.py reads them. Counts from subjects are outside
input: a series over LIMITS.patches is refused before anything is sized by it.
"""

from __future__ import annotations

import base64
import binascii
import email.header
import email.message
import email.parser
import email.policy
import re
from dataclasses import dataclass
from pathlib import Path

from bench.base.errors import UserError, quote
from bench.base.limits import LIMITS

MBOX_FROM = "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
# The separator git mailsplit accepts: "From <who> Mon Sep 17 00:00:00 2001" (ctime-like date).
FROM_LINE = re.compile(
    r"From \S+ +\w{3} \w{3} +\d{1,2} \d{1,2}:\d\d(:\d\d)? (\S+ )?\d{4}\r?(\n|$)")
HAS_DIFF = re.compile(r"^(diff --git |\+\+\+ \S|GIT binary patch)", re.M)
_BASE_COMMIT = re.compile(r"^base-commit: *([0-9a-fA-F]{7,64})\s*$", re.M)
_REPLY = re.compile(r"^\s*(re|fwd?|aw|sv)\s*:", re.I)
_PREFIX = re.compile(r"^\s*((\[[^\]]*\]\s*)+)")
_COUNTER = re.compile(r"\b(\d+)/(\d+)\b")
# "[PATCH v2 1/3]", and "[PATCHv2 1/3]" as some write it (read as v1, a resend was applied over its first version)
_REVISION = re.compile(r"(?:\b|(?<=PATCH)|(?<=patch))[vV](\d+)\b")


@dataclass(frozen=True)
class Message:
    text: str  # starts with a "From " separator line
    subject: str  # prefix stripped
    author: str | None
    index: int | None  # n of [n/N]
    total: int | None
    revision: int
    is_reply: bool
    has_diff: bool
    prefix: str = ""  # the subject's [PATCH ...] prefix as written, quoted in errors


def order(path: Path, msgs: list[Message]) -> list[Message]:
    """Sort numbered patches by n of [n/N]; unnumbered ones keep file order.

    Counts come from subjects: over LIMITS.patches is refused before anything is sized by them.
    """
    if len(msgs) > LIMITS.patches:
        raise UserError(f"{path}: {len(msgs)} patches, over the limit of {LIMITS.patches} in a series")
    numbered = [m for m in msgs if m.index is not None]
    if not numbered:
        return msgs
    if big := next((m for m in numbered if max(m.index or 0, m.total or 0) > LIMITS.patches), None):
        raise UserError(f"{path}: subject {quote(big.prefix)} counts over the limit of {LIMITS.patches}"
                        " patches in a series")
    if len(numbered) != len(msgs):
        raise UserError(f"{path}: mixes numbered [n/N] and unnumbered patches")
    totals = sorted({m.total or 0 for m in numbered})
    if len(totals) != 1:
        raise UserError(f"{path}: patches disagree on the series length: "
                        + ", ".join(f"/{t}" for t in totals))
    total = totals[0]
    slots: dict[int, Message] = {}
    for m in numbered:
        assert m.index is not None
        if m.index in slots:
            raise UserError(f"{path}: patch {m.index}/{total} appears twice")
        slots[m.index] = m
    missing = [i for i in range(1, total + 1) if i not in slots]
    if missing:
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise UserError(f"{path}: patch {', '.join(f'{i}/{total}' for i in missing[:10])}{more} missing")
    extra = [i for i in slots if i > total]
    if extra:
        raise UserError(f"{path}: patch {extra[0]}/{total} is beyond the series length")
    return [slots[i] for i in range(1, total + 1)]


_SEPARATOR = re.compile("^" + FROM_LINE.pattern, re.M)
_QUOTED_FROM = re.compile(r"^>(>*From )", re.M)


def split_mbox(text: str) -> list[str]:
    """Split at "From " separator lines; undo mboxrd ">From " quoting in the bodies. Whole-text
    regexes, not a loop over lines: a 100 MB patch took 22 s here (1.5 million lines)."""
    cuts = [0, *(m.start() for m in _SEPARATOR.finditer(text) if m.start()), len(text)]
    msgs = [_QUOTED_FROM.sub(r"\1", text[a:b]) for a, b in zip(cuts, cuts[1:])]
    return [m if FROM_LINE.match(m) else MBOX_FROM + m for m in msgs if m.strip()]


def parse_message(text: str) -> Message:
    parts = re.split(r"\r?\n\r?\n", text, maxsplit=1)
    body = parts[1] if len(parts) > 1 else ""
    # the headers only: the parser copies the body too (8 s of a 100 MB patch)
    headers = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(parts[0] + "\n\n")
    raw_subject = header(headers, "subject")
    prefix_match = _PREFIX.match(raw_subject)
    prefix = prefix_match.group(1) if prefix_match else ""
    counter = _COUNTER.search(prefix)
    revision = _REVISION.search(prefix)
    return Message(
        text=text,
        subject=raw_subject[len(prefix_match.group(0)):] if prefix_match else raw_subject.strip(),
        author=header(headers, "from") or None,
        index=_number(counter.group(1)) if counter else None,
        total=_number(counter.group(2)) if counter else None,
        revision=_number(revision.group(1)) if revision else 1,
        is_reply=bool(_REPLY.match(raw_subject)),
        has_diff=bool(HAS_DIFF.search(body)) or _encoded_diff(text),
        prefix=prefix.strip(),
    )


def _encoded_diff(text: str) -> bool:
    """A diff git am would find once it decodes the mail: a body sent base64-encoded (some
    mailers do, for non-ASCII text), or a MIME part (a patch attached as a base64 file). The
    bench left such a patch out of an mbox without a word, while git am applies it."""
    if not re.search(r"^content-transfer-encoding:\s*base64", text, re.I | re.M):
        return False
    mail = email.parser.Parser(policy=email.policy.compat32).parsestr(text)
    for part in mail.walk():
        if part.is_multipart() or part.get("content-transfer-encoding", "").strip().lower() != "base64":
            continue
        payload = part.get_payload()
        try:
            data = base64.b64decode("".join(payload.split()).encode("ascii", "ignore")) if isinstance(payload, str) else b""
        except (binascii.Error, ValueError):
            continue
        if HAS_DIFF.search(data.decode("utf-8", "replace")):
            return True
    return False


def _number(digits: str) -> int:
    """A count from a subject; one with more digits than LIMITS.int_digits (int() refuses 4300)
    becomes a number over every limit, so order() names it."""
    return int(digits) if len(digits) <= LIMITS.int_digits else 10 ** LIMITS.int_digits


def header(headers: email.message.Message, name: str) -> str:
    """Unfolded, RFC 2047-decoded header value; the raw value if it will not decode."""
    raw = headers.get(name)
    if raw is None:
        return ""
    try:
        value = str(email.header.make_header(email.header.decode_header(str(raw))))
    except (ValueError, LookupError, UnicodeError):  # bad encoded word or charset
        value = str(raw)
    return " ".join(value.split())


def find_base(text: str) -> str | None:
    m = _BASE_COMMIT.search(text)
    return m.group(1).lower() if m else None


def slug(subject: str) -> str:
    # Like format-patch file names: runs of other characters become "-".
    return re.sub(r"[^A-Za-z0-9._]+", "-", subject).strip("-.")[:52].rstrip("-.") or "patch"


