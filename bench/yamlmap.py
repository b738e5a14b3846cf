"""A YAML file holding one mapping, read so that every error names the file and line.

series.yaml and the nightly matrix both need the same things PyYAML alone does not
give: the line of each key, duplicate keys refused (PyYAML keeps the last one
silently), unknown keys refused, and typed getters with one-line errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.errors import UserError


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
    with the line they are on, as duplicate keys are at any depth.
    """
    check_characters(path, text)
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as e:  # the reader checks the characters as it starts
        raise UserError(f"{path}: invalid YAML: {e}") from e
    try:
        node = loader.get_single_node()
        if node is not None:
            _no_duplicate_keys(path, node)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f":{mark.line + 1}" if mark else ""
        raise UserError(f"{path}{where}: invalid YAML: {e.problem or e.context}") from e
    except yaml.YAMLError as e:
        raise UserError(f"{path}: invalid YAML: {e}") from e
    finally:
        loader.dispose()
    if data is None:
        return YamlMap(path, {}, {})
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise UserError(f"{path}: expected a mapping of keys ({', '.join(known)})")
    lines = _key_lines(path, node)
    for key in data:
        if key not in known:
            raise UserError(f"{path}:{lines.get(key, 1)}: unknown key {key!r} (known: {', '.join(known)})")
    return YamlMap(path, data, lines)


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
                if key.value in seen:
                    raise UserError(f"{path}:{key.start_mark.line + 1}: duplicate key {key.value!r}")
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
            raise UserError(f"{path}:{line}: duplicate key {key_node.value!r}")
        lines[key_node.value] = line
    return lines
