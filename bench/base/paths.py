"""Names read from files (run ids, entry names) made into paths that stay in their folder."""

from __future__ import annotations

from pathlib import Path

from bench.base.errors import UserError


def plain(name: object) -> bool:
    """A single path component: no separator, not '.', '..' or empty, no NUL."""
    return (isinstance(name, str) and name not in ("", ".", "..") and "/" not in name
            and "\\" not in name and "\0" not in name)


def contained(base: Path, name: object, where: str = "") -> Path:
    """base / name, refused (UserError naming where it came from) unless name is a plain
    folder or file name: a `../x` run id in a shard's night.json must not copy ../x."""
    if not plain(name):
        raise UserError(f"{where or base}: {str(name)[:80]!r} is not a plain name inside {base}")
    return base / str(name)
