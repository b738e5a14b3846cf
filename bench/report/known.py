"""Known reports: title regexes that mark a found report as known (reported, not failed).

The scanner (report/scanner.py) finds and titles reports; this module decides which
ones are known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.base import files, yamlmap
from bench.base.errors import UserError
from bench.report.issues import too_broad


@dataclass(frozen=True)
class Suppressions:
    """Title regexes of known reports (a report matching one is reported but does not fail)."""

    patterns: tuple[re.Pattern[str], ...] = ()


def load_suppressions(path: Path) -> Suppressions:
    """Read title regexes: a text file (one per line, # comments) or YAML (.yaml/.yml) holding a
    list, or a mapping with a "suppressions" list, of regexes or {title: regex} items."""
    try:  # bounded, a FIFO refused; utf-8-sig: a byte-order mark (a Windows editor) made the
        # first regex '\ufeffWARNING in foo', which no title holds: the known report failed the series
        text = files.read_input(path).decode("utf-8-sig")
    except (UserError, UnicodeDecodeError) as e:
        why = str(e).removeprefix(f"{path}: ").removeprefix("cannot read: ")
        raise UserError(f"{path}: cannot read suppressions file: {why}") from e
    if path.suffix in (".yaml", ".yml"):
        entries = _yaml_entries(path, text)
    else:
        entries = [(n, s.strip()) for n, s in enumerate(text.splitlines(), 1)
                   if s.strip() and not s.lstrip().startswith("#")]
    patterns = []
    for line_no, regex in entries:
        try:
            patterns.append(re.compile(regex))
        except re.error as e:
            raise UserError(f"{path}:{line_no}: bad title regex {regex!r}: {e}") from e
        too_broad(f"{path}:{line_no}: suppress", regex, "")  # here, where its line is known
    return Suppressions(tuple(patterns))


def _yaml_entries(path: Path, text: str) -> list[tuple[int, str]]:
    node = yamlmap.compose(path, text)
    if node is None:
        return []
    if isinstance(node, yaml.MappingNode):
        node = _yaml_key(node, "suppressions") or node
    if not isinstance(node, yaml.SequenceNode):
        raise UserError(f"{path}:{node.start_mark.line + 1}: expected a list of title regexes")
    out = []
    for item in node.value:
        scalar = _yaml_key(item, "title") if isinstance(item, yaml.MappingNode) else item
        if not isinstance(scalar, yaml.ScalarNode):
            raise UserError(f"{path}:{item.start_mark.line + 1}: expected a title regex (a string)")
        out.append((scalar.start_mark.line + 1, str(scalar.value)))
    return out


def _yaml_key(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    return next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
