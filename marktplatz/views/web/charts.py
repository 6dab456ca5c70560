"""Server-rendered, accessible SVG charts (no JavaScript, no inline styles).

Each chart is an <svg role="img"> with <title> and <desc>; the page shows the same numbers
in a table next to it for screen readers and for copying.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from markupsafe import Markup, escape

_ids = itertools.count(1)
BAR = "#0b4f9c"
TEXT = "#1b1b1f"
GRID = "#c4c7ce"


def _fmt(n: float) -> str:
    return f"{n:,.0f}".replace(",", ".") if float(n).is_integer() else f"{n:.1f}".replace(".", ",")


def bar_chart(title: str, data: Sequence[tuple[str, float]], unit: str = "", width: int = 560,
              max_value: float | None = None) -> Markup:
    """Return a horizontal bar chart of (label, value) pairs as inline SVG (scale to max_value)."""
    uid = f"chart{next(_ids)}"
    row, label_w, pad = 28, 210, 8
    height = max(len(data), 1) * row + 2 * pad
    top = max_value or max((v for _, v in data), default=0) or 1
    plot_w = width - label_w - 70
    desc = "; ".join(f"{lab}: {_fmt(v)}{unit}" for lab, v in data) or "Keine Daten"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" aria-labelledby="{uid}-t {uid}-d">',
        f'<title id="{uid}-t">{escape(title)}</title><desc id="{uid}-d">{escape(desc)}</desc>',
    ]
    if not data:
        parts.append(f'<text x="{pad}" y="{pad + 18}" fill="{TEXT}" font-size="14">Keine Daten</text>')
    for i, (label, value) in enumerate(data):
        y = pad + i * row
        w = max(plot_w * value / top, 1 if value else 0)
        short = label if len(label) <= 30 else label[:29] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 18}" text-anchor="end" fill="{TEXT}" font-size="13">'
            f"{escape(short)}</text>"
            f'<rect x="{label_w}" y="{y + 5}" width="{w:.1f}" height="{row - 10}" fill="{BAR}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 18}" fill="{TEXT}" font-size="13">'
            f"{escape(_fmt(value) + unit)}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def column_chart(title: str, data: Sequence[tuple[str, float]], width: int = 560, height: int = 220) -> Markup:
    """Return a vertical column chart (for values over time) as inline SVG."""
    uid = f"chart{next(_ids)}"
    left, bottom, top_pad = 36, 40, 16
    n = max(len(data), 1)
    top = max((v for _, v in data), default=0) or 1
    plot_h = height - bottom - top_pad
    step = (width - left - 8) / n
    desc = "; ".join(f"{lab}: {_fmt(v)}" for lab, v in data) or "Keine Daten"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" aria-labelledby="{uid}-t {uid}-d">',
        f'<title id="{uid}-t">{escape(title)}</title><desc id="{uid}-d">{escape(desc)}</desc>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - 4}" y2="{height - bottom}" stroke="{GRID}"/>',
        f'<text x="{left - 6}" y="{top_pad + 4}" text-anchor="end" fill="{TEXT}" font-size="12">{_fmt(top)}</text>',
        f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end" fill="{TEXT}" font-size="12">0</text>',
    ]
    for i, (label, value) in enumerate(data):
        h = plot_h * value / top
        x = left + i * step + step * 0.15
        w = step * 0.7
        parts.append(
            f'<rect x="{x:.1f}" y="{height - bottom - h:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{BAR}"/>'
        )
        if value:
            parts.append(f'<text x="{x + w / 2:.1f}" y="{height - bottom - h - 4:.1f}" text-anchor="middle" '
                         f'fill="{TEXT}" font-size="11">{escape(_fmt(value))}</text>')
        parts.append(f'<text x="{x + w / 2:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                     f'fill="{TEXT}" font-size="11">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_bar_chart(title: str, data: Sequence[tuple[str, Sequence[float]]],
                      series: Sequence[tuple[str, str]], width: int = 640) -> Markup:
    """Return horizontal stacked bars: per label one bar split into series (name, colour).

    A legend names the series in text; the description lists every value, so the chart
    reads without colour.
    """
    uid = f"chart{next(_ids)}"
    row, label_w, pad, legend_row = 28, 220, 8, 20
    legend_h = legend_row * ((len(series) + 1) // 2) + pad
    height = legend_h + max(len(data), 1) * row + 2 * pad
    top = max((sum(vals) for _, vals in data), default=0) or 1
    plot_w = width - label_w - 80
    desc = "; ".join(
        f"{lab}: " + ", ".join(f"{name} {_fmt(v)}" for (name, _c), v in zip(series, vals, strict=True) if v)
        + f" (zusammen {_fmt(sum(vals))})" for lab, vals in data) or "Keine Daten"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" aria-labelledby="{uid}-t {uid}-d">',
        f'<title id="{uid}-t">{escape(title)}</title><desc id="{uid}-d">{escape(desc)}</desc>',
    ]
    for i, (name, colour) in enumerate(series):
        x = pad + (i % 2) * (width // 2)
        y = pad + (i // 2) * legend_row
        parts.append(f'<rect x="{x}" y="{y}" width="14" height="14" fill="{colour}"/>'
                     f'<text x="{x + 20}" y="{y + 12}" fill="{TEXT}" font-size="13">{escape(name)}</text>')
    if not data:
        parts.append(f'<text x="{pad}" y="{legend_h + 18}" fill="{TEXT}" font-size="14">Keine Daten</text>')
    for i, (label, values) in enumerate(data):
        y = legend_h + pad + i * row
        short = label if len(label) <= 27 else label[:26] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + 18}" text-anchor="end" fill="{TEXT}" font-size="13">'
                     f"{escape(short)}</text>")
        x = float(label_w)
        for (_name, colour), value in zip(series, values, strict=True):
            w = plot_w * value / top
            if w > 0:
                # A white gap between segments keeps neighbouring colours apart.
                parts.append(f'<rect x="{x:.1f}" y="{y + 5}" width="{w:.1f}" height="{row - 10}" '
                             f'fill="{colour}" stroke="#ffffff" stroke-width="1"/>')
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 18}" fill="{TEXT}" font-size="13">'
                     f"{escape(_fmt(sum(values)))}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))
