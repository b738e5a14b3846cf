"""Small static SVG pictures, inlined in the HTML pages: a stage timeline, stacked bars per
night, a sparkline. Plain strings, no plotting library; every mark has a <title> tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bench.run.pages.html import FILL, esc

LABEL_W = 120  # px for the row labels of a timeline
ROW_H = 16


@dataclass(frozen=True)
class Bar:
    label: str
    start: float  # seconds from the run's start
    secs: float
    status: str = ""  # pass, fail, error, skip or "" (a key of html.FILL)
    indent: bool = False  # a part of the row above (a workload inside the boot)


def nice_step(span: float, ticks: int = 6) -> float:
    """A round tick step (1, 2 or 5 x 10^k) giving about `ticks` ticks over span."""
    raw = max(span, 1e-9) / ticks
    power = 10 ** math.floor(math.log10(raw))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def _secs(secs: float) -> str:
    return f"{secs:.0f}s" if secs >= 10 or secs == 0 else f"{secs:.1f}s"


def _clock(secs: float) -> str:
    return f"{int(secs // 60)}m{int(secs % 60):02d}" if secs >= 120 else _secs(secs)


def timeline(bars: Sequence[Bar], width: int = 720) -> str:
    """One row per bar: when it started and how long it took, on one time axis."""
    if not bars:
        return ""
    end = max(b.start + b.secs for b in bars) or 1.0
    plot = width - LABEL_W - 50
    scale = plot / end
    height = ROW_H * len(bars) + 24
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    step = nice_step(end)
    t = 0.0
    while t <= end + 1e-9:
        x = LABEL_W + t * scale
        out.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height - 16}" stroke="#ddd"/>'
                   f'<text x="{x:.1f}" y="{height - 4}" text-anchor="middle">{_clock(t)}</text>')
        t += step
    for i, b in enumerate(bars):
        y = i * ROW_H + 2
        x, w = LABEL_W + b.start * scale, max(b.secs * scale, 1.5)
        label = ("  " if b.indent else "") + b.label
        opacity = ' opacity="0.7"' if b.indent else ""
        tip = f"{b.label}: started at {_clock(b.start)}, took {_secs(b.secs)}" + (f" ({b.status})" if b.status else "")
        fill = FILL.get(b.status, FILL[""])
        out.append(f'<text x="{(12 if b.indent else 2)}" y="{y + 11}">{esc(label)}</text>'
                   f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW_H - 4}" fill="{fill}"'
                   f'{opacity}><title>{esc(tip)}</title></rect>'
                   f'<text x="{x + w + 3:.1f}" y="{y + 11}">{_secs(b.secs)}</text>')
    out.append("</svg>")
    return "".join(out)


PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f")


def stacked(columns: Sequence[tuple[str, Mapping[str, float]]], keys: Sequence[str],
            width: int = 260, height: int = 70) -> str:
    """A bar per column (a night), its parts (stages) stacked, each key its own colour; a legend below."""
    if not columns or not keys:
        return ""
    top = max(sum(parts.get(k, 0.0) for k in keys) for _, parts in columns) or 1.0
    bar_w = max(min(width / len(columns) - 2, 24), 3)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 14}" role="img">']
    for i, (name, parts) in enumerate(columns):
        x, y = i * (bar_w + 2), float(height)
        for j, key in enumerate(keys):
            value = parts.get(key, 0.0)
            h = value / top * (height - 12)
            if h <= 0:
                continue
            y -= h
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                       f'fill="{PALETTE[j % len(PALETTE)]}"><title>{esc(name)}: {esc(key)} {_secs(value)}'
                       f'</title></rect>')
    out.append(f'<text x="{width - 2}" y="10" text-anchor="end">max {_clock(top)}</text>')
    lx = 0
    for j, key in enumerate(keys):
        out.append(f'<rect x="{lx}" y="{height + 4}" width="8" height="8" fill="{PALETTE[j % len(PALETTE)]}"/>'
                   f'<text x="{lx + 10}" y="{height + 12}">{esc(key)}</text>')
        lx += 18 + 7 * len(key)
    out.append("</svg>")
    return "".join(out)


def spark(points: Sequence[tuple[str, float | None]], width: int = 150, height: int = 36) -> str:
    """A small line over the columns (nights); None leaves a gap. The last value is printed."""
    values = [v for _, v in points if v is not None]
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    n = len(points)
    dx = (width - 50) / max(n - 1, 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    segments: list[list[str]] = [[]]
    for i, (name, v) in enumerate(points):
        if v is None:
            segments.append([])  # a gap in the line
            continue
        x, y = 3 + i * dx, height - 4 - (v - lo) / span * (height - 8)
        segments[-1].append(f"{x:.1f},{y:.1f}")
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="#4e79a7"><title>{esc(name)}: {v:g}'
                   f'</title></circle>')
    out += [f'<polyline points="{" ".join(seg)}" fill="none" stroke="#4e79a7"/>' for seg in segments if len(seg) > 1]
    out.append(f'<text x="{width - 2}" y="{height / 2 + 4:.0f}" text-anchor="end">{values[-1]:g}</text></svg>')
    return "".join(out)
