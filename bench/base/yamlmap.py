"""A YAML file holding one mapping, read so that every error names the file and line.

series.yaml and the nightly matrix both need the same things PyYAML alone does not
give: the line of each key, duplicate keys refused (PyYAML keeps the last one
silently), unknown keys refused, and typed getters with one-line errors.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.base.errors import UserError, quote
from bench.base.limits import LIMITS


@dataclass(frozen=True)
class YamlMap:
    path: Path
    data: dict[Any, Any]
    lines: dict[Any, int]  # key -> 1-based line

    def where(self, key: str) -> str:
        return f"{self.path}:{self.lines.get(key, 1)}"

    def string(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is not None and not isinstance(value, str):
            # An unquoted sha like 1234567 or 12e4567 loads as a number.
            raise UserError(f"{self.where(key)}: {key} must be a string (quote it)")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        return strings(self.data.get(key), f"{self.where(key)}: {key}")


def strings(value: Any, what: str) -> tuple[str, ...]:
    """A YAML list of non-empty strings (absent: empty); `what` names it in the error."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise UserError(f"{what} must be a list of non-empty strings")
    return tuple(value)


def read(path: Path, text: str, known: tuple[str, ...]) -> YamlMap:
    """Parse text (the file's content) as a mapping with only `known` keys; empty: {}.

    Bytes that are not UTF-8 (read with surrogateescape) and control characters are refused
    with the line they are on, as duplicate keys are at any depth; so is what is over a limit
    (bench/base/limits.py): size, aliases, depth, integer digits.
    """
    node = compose(path, text)
    data = _construct(path, node)
    if data is None:
        return YamlMap(path, {}, {})
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise UserError(f"{path}: expected a mapping of keys ({', '.join(known)})")
    lines = _key_lines(path, node)
    for key in data:
        if key not in known:
            raise UserError(f"{path}:{lines.get(key, 1)}: unknown key {quote(key)} (known: {', '.join(known)})")
    return YamlMap(path, data, lines)


def load(path: Path, text: str) -> Any:
    """Any YAML document within the limits, duplicate keys refused: the one yaml.safe_load of the bench."""
    return _construct(path, compose(path, text))


def compose(path: Path, text: str) -> yaml.Node | None:
    """The node graph of text, after its events were checked against the limits (bench/base/limits.py):
    composing and constructing recurse and expand aliases, so nothing over a limit gets there.
    Duplicate keys are refused at any depth (PyYAML keeps one of them silently)."""
    check_characters(path, text)
    if (size := len(text.encode("utf-8", errors="surrogateescape"))) > LIMITS.yaml_bytes:
        raise UserError(f"{path}: {size} bytes, over the limit of {LIMITS.yaml_bytes} for a YAML file")
    try:
        try:  # libyaml's parser finds what is over a limit in microseconds, PyYAML's in 0.5 s
            _check_events(path, yaml.parse(text, Loader=_FAST))
        except yaml.YAMLError:  # PyYAML's own words for it, as before
            _check_events(path, yaml.parse(text, Loader=yaml.SafeLoader))
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f":{mark.line + 1}" if mark else ""
        raise UserError(f"{path}{where}: invalid YAML: {e.problem or e.context}") from e
    except yaml.YAMLError as e:
        raise UserError(f"{path}: invalid YAML: {e}") from e
    if node is not None:  # every reader walks nodes or constructs from them: none sees a duplicate
        _no_duplicate_keys(path, node)
    return node


_INT_TAG = "tag:yaml.org,2002:int"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_FAST = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Digits of a YAML integer in any of its bases: a hex one's letters are digits too. Counting only
# 0-9 let `0xfff...` (4000 f's, 0 counted) through, an int str() refuses (over 4300 decimal
# digits): an error message quoting it was an "internal error".
_DIGITS = frozenset("0123456789abcdefABCDEF")
_BASE = re.compile(r"[-+]?0[xXoObB]")


def _digits(value: str) -> int:
    """The digits of a scalar if it is an integer, in its base (the 0x of a hex one not counted)."""
    prefix = _BASE.match(value)
    return sum(c in _DIGITS for c in value[prefix.end() if prefix else 0:])


def _check_events(path: Path, events: Iterator[yaml.Event]) -> None:
    """Refuse aliases, nesting deeper than the limit and integers with too many digits, at the
    first event that is over (linear in the file, constant stack)."""
    depth = 0
    resolver = yaml.resolver.Resolver()
    for event in events:
        line = f"{path}:{event.start_mark.line + 1}" if event.start_mark else str(path)
        if isinstance(event, yaml.AliasEvent):
            raise UserError(f"{line}: YAML alias *{event.anchor}: aliases are not allowed"
                            f" (limit {LIMITS.yaml_aliases}); write the value out")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > LIMITS.yaml_depth:
                raise UserError(f"{line}: nested over {LIMITS.yaml_depth} levels deep (the limit)")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif (isinstance(event, yaml.ScalarEvent) and _digits(event.value) > LIMITS.int_digits
              and _INT_TAG in (event.tag, event.implicit[0] and resolver.resolve(yaml.ScalarNode, event.value,
                                                                                 (True, False)))):
            raise UserError(f"{line}: integer of {len(event.value)} characters, over the limit of"
                            f" {LIMITS.int_digits} digits")


def _construct(path: Path, node: yaml.Node | None) -> Any:
    if node is None:
        return None
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f":{mark.line + 1}" if mark else ""
        raise UserError(f"{path}{where}: invalid YAML: {e.problem or e.context}") from e
    except (yaml.YAMLError, ValueError, TypeError, LookupError, OverflowError) as e:  # a tagged value PyYAML cannot convert
        raise UserError(f"{path}: invalid YAML: a value cannot be read ({type(e).__name__}: {e})") from e
    finally:
        loader.dispose()


_BAD_CHAR = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def check_characters(path: Path, text: str) -> None:
    if m := _BAD_CHAR.search(text):
        line = text.count("\n", 0, m.start()) + 1
        ch = m.group()
        what = (f"byte 0x{ord(ch) - 0xDC00:02x} that is not UTF-8" if "\udc80" <= ch <= "\udcff"
                else f"control character {ord(ch):#04x}")
        raise UserError(f"{path}:{line}: {what} (YAML files must be UTF-8 text)")


def _no_duplicate_keys(path: Path, node: yaml.Node) -> None:
    """PyYAML keeps the last of two equal keys silently, at every depth: refuse them."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.tag == _MERGE_TAG:  # {<<: {a: 1}, a: 2}: PyYAML keeps one a silently, as with duplicates
                    raise UserError(f"{path}:{key.start_mark.line + 1}: YAML merge key '<<': not allowed"
                                    " (as aliases are not); write the keys out")
                if key.value in seen:
                    raise UserError(f"{path}:{key.start_mark.line + 1}: duplicate key {quote(key.value)}")
                seen.add(key.value)
            _no_duplicate_keys(path, value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _no_duplicate_keys(path, item)


def _key_lines(path: Path, node: yaml.MappingNode) -> dict[Any, int]:
    lines: dict[Any, int] = {}
    for key_node, _ in node.value:
        line = key_node.start_mark.line + 1
        if not isinstance(key_node, yaml.ScalarNode):
            raise UserError(f"{path}:{line}: keys must be plain names")
        if key_node.value in lines:
            raise UserError(f"{path}:{line}: duplicate key {quote(key_node.value)}")
        lines[key_node.value] = line
    return lines
