"""A YAML file holding one mapping, read so that every error names the file and line.

series.yaml and the nightly matrix both need the same things PyYAML alone does not
give: the line of each key, duplicate keys refused (PyYAML keeps the last one
silently), unknown keys refused, and typed getters with one-line errors.
"""

from __future__ import annotations

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
    """Parse text (the file's content) as a mapping with only `known` keys; empty: {}."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
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
