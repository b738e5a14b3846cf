"""The one look of pinbench's HTML pages (a run's index.html, a night's index.html).

Static pages, no script and no external resource: they work from file://, a CI artifact
or any web server, and every link is relative to the page's folder.
"""

from __future__ import annotations

import html
from pathlib import Path

CSS = """body{font-family:sans-serif;margin:2em;max-width:75em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}
.pass{color:#080}.fail{color:#b00;font-weight:bold}.error{color:#a60;font-weight:bold}.skip{color:#068}
code{background:#f4f4f4}pre{background:#f8f8f8;padding:.5em;overflow-x:auto;font-size:90%}
td.cell{padding:0;text-align:center;min-width:1.6em}td.cell a{display:block;color:#fff;text-decoration:none}
.bg-pass{background:#3a3}.bg-fail{background:#c33}.bg-error{background:#d90}.bg-missing{background:#999}
svg text{font-family:sans-serif;font-size:11px}"""

# Fill colours by status, shared by the SVG pictures and the CSS above.
FILL = {"pass": "#3a3", "fail": "#c33", "error": "#d90", "skip": "#69c", "missing": "#999", "": "#89a"}


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def link(href: str, text: str) -> str:
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def page(title: str, body: list[str]) -> str:
    return (f"<!DOCTYPE html>\n<html><head><meta charset=utf-8><title>{esc(title)}</title>"
            f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def rel(path: Path, start: Path) -> str:
    """path relative to the folder start, with / separators (for an href)."""
    return path.relative_to(start).as_posix()
