"""known-issues.yaml files (and the older plain suppression files) -> Issues.

    issues:
      - id: rxe-timer-race                      # a short name, unique in a run's registry
        title: '^WARNING in rxe_'               # a report title regex, and/or
        case: 'workload/rxe'                    # a case-key pattern (docs/case-keys.md); with a title:
                                                # only when that report was seen during it
        reason: rxe's timer races teardown      # required: why it is known
        link: https://lore.kernel.org/...       # required: where to read about it
        scope:                                  # optional, every key optional
          series: [put-user-page]               #   series names or globs
          configs: [kasan]                      #   kconfig fragments that must be in the run
          kernel: '>=6.5, <6.13'                #   version range of the tested tree
        fixed_by: 0123456789abcdef              # optional: once an ancestor of the tested
                                                # base, the entry no longer applies

Any other file (.txt: one regex a line; .yaml: a list of regexes or {title: regex} items, or a
"suppressions:" list) is read as before by bench/report/known.py: entries without metadata.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bench.base import casekey, files, formats, yamlmap
from bench.base.errors import UserError
from bench.report import known
from bench.report.issues import Issue, Scope, bare, check_range, too_broad

FILE = "known-issues.yaml"
ENTRY_KEYS = ("id", "title", "case", "reason", "link", "scope", "fixed_by")
SCOPE_KEYS = ("series", "configs", "kernel")
_ID = re.compile(r"^[\w.:/+-]+$")
_REV = re.compile(r"^[^\s-][^\s]*$")


def load(path: Path) -> tuple[Issue, ...]:
    """The entries of a known-issues file, or of an older suppressions file."""
    text = files.read_input(path).decode("utf-8", errors="surrogateescape")  # a FIFO: refused, not waited on
    if path.suffix in (".yaml", ".yml") and _is_registry(path, text):
        return _registry(path, text)
    patterns = known.load_suppressions(path).patterns
    return bare((p.pattern for p in patterns), str(path), "suppress")


def _is_registry(path: Path, text: str) -> bool:
    node = yamlmap.compose(path, text)  # the limits, and a bad line named, before anything else
    return isinstance(node, yaml.MappingNode) and any(
        isinstance(k, yaml.ScalarNode) and k.value == "issues" for k, _ in node.value)


def _registry(path: Path, text: str) -> tuple[Issue, ...]:
    y = yamlmap.read(path, text, (formats.KEY, "issues"))
    version = y.data.get(formats.KEY, formats.KNOWN_ISSUES)  # none: today's format
    if version != formats.KNOWN_ISSUES or isinstance(version, bool):
        # read when the run is planned, before any work: refused, not left out (its
        # issues would fail the series as new reports)
        raise UserError(f"{y.where(formats.KEY)}: format {str(version)[:40]!r}; this bench reads "
                        f"format {formats.KNOWN_ISSUES}")
    items = y.data.get("issues")
    if items is None:
        return ()
    if not isinstance(items, list):
        raise UserError(f"{y.where('issues')}: issues must be a list of entries")
    node = yamlmap.compose(path, text)
    assert isinstance(node, yaml.MappingNode)  # read() checked
    seq = next(v for k, v in node.value if k.value == "issues")
    out: list[Issue] = []
    seen: dict[str, str] = {}
    for item, item_node in zip(items, seq.value):
        where = f"{path}:{item_node.start_mark.line + 1}"
        issue = entry(item, where)
        if issue.id in seen:
            raise UserError(f"{where}: id {issue.id!r} is also at {seen[issue.id]}")
        seen[issue.id] = where
        out.append(issue)
    return tuple(out)


def _string(item: dict[str, Any], key: str, where: str, required: bool = False) -> str:
    value = item.get(key)
    if value is None:
        if required:
            raise UserError(f"{where}: {key} is required ({', '.join(ENTRY_KEYS)})")
        return ""
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"{where}: {key} must be a non-empty string (quote it)")
    return value.strip()


def entry(item: Any, where: str) -> Issue:
    """One entry of an `issues:` list; every problem named with the entry's file:line."""
    if not isinstance(item, dict):
        raise UserError(f"{where}: an entry must be a mapping ({', '.join(ENTRY_KEYS)})")
    if bad := [k for k in item if k not in ENTRY_KEYS]:
        raise UserError(f"{where}: unknown key {bad[0]!r} (known: {', '.join(ENTRY_KEYS)})")
    ident = _string(item, "id", where, required=True)
    if not _ID.match(ident):
        raise UserError(f"{where}: id {ident!r}: letters, digits and . _ : / + - only")
    title, case = _string(item, "title", where), _string(item, "case", where)
    if not title and not case:
        raise UserError(f"{where}: entry {ident}: give a title regex or a case key (or both)")
    if title:
        try:
            re.compile(title)
        except re.error as e:
            raise UserError(f"{where}: bad title regex {title!r}: {e}") from e
    if case:
        casekey.parse(case, where, "case")
    too_broad(where, title, case)
    fixed_by = _string(item, "fixed_by", where)
    if fixed_by and not _REV.match(fixed_by):
        raise UserError(f"{where}: fixed_by {fixed_by!r}: want a commit id")
    return Issue(ident, where, title=title, case=case, reason=_string(item, "reason", where, required=True),
                 link=_string(item, "link", where, required=True), scope=_scope(item.get("scope"), where),
                 fixed_by=fixed_by)


def _scope(raw: Any, where: str) -> Scope:
    if raw is None:
        return Scope()
    if not isinstance(raw, dict):
        raise UserError(f"{where}: scope must be a mapping ({', '.join(SCOPE_KEYS)})")
    if bad := [k for k in raw if k not in SCOPE_KEYS]:
        raise UserError(f"{where}: scope: unknown key {bad[0]!r} (known: {', '.join(SCOPE_KEYS)})")
    kernel = raw.get("kernel")
    if kernel is not None and not isinstance(kernel, str):
        raise UserError(f"{where}: scope.kernel must be a string like '>=6.5, <6.13' (quote it)")
    return Scope(yamlmap.strings(raw.get("series"), f"{where}: scope.series"),
                 yamlmap.strings(raw.get("configs"), f"{where}: scope.configs"),
                 check_range(where, kernel) if kernel else "")
