"""Small inline SVG charts for the pages: drawn in Python, no script, no external file.

Every text placed in a chart is escaped, so labels taken from the data are safe.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from markupsafe import Markup
from markupsafe import escape as escape_html

from sybilgraph.views.cells import visible_controls

__all__ = ["bar_chart", "line_chart", "raster"]

PALETTE = ["#d62728", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
WIDTH = 520
HEIGHT = 220
PAD_LEFT = 48
PAD_BOTTOM = 42
PAD_TOP = 14
PAD_RIGHT = 22


def escape(value: object) -> Markup:
    """A text taken from the data, escaped for SVG, its control characters shown."""
    return escape_html(visible_controls(str(value)))


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    if value <= 8:  # small counts: whole-number ticks
        return 4.0 if value <= 4 else 8.0
    step = 10 ** len(str(int(value))) / 10
    for mult in (1, 2, 2.5, 5, 10):
        if value <= step * mult:
            return step * mult
    return value


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or float(value).is_integer() else f"{value:.1f}"


def _axes(top: float, title: str) -> list[str]:
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    parts = [f"<title>{escape(title)}</title>"]
    for i in range(5):
        value = top * i / 4
        y = PAD_TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#eee"/>'
            f'<text x="{PAD_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10" '
            f'fill="#666">{escape(_fmt(value))}</text>'
        )
    return parts


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    colors: Sequence[str] | None = None,
) -> Markup:
    """Vertical bars, one per label, each with its value written above it."""
    top = _nice_max(max(values, default=0))
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    n = max(len(values), 1)
    slot = plot_w / n
    parts = _axes(top, title)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = plot_h * value / top
        x = PAD_LEFT + i * slot + slot * 0.15
        y = PAD_TOP + plot_h - h
        color = colors[i % len(colors)] if colors else PALETTE[1]
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{h:.1f}" fill="{escape(color)}"><title>{escape(label)}: '
            f"{escape(_fmt(value))}</title></rect>"
            f'<text x="{x + slot * 0.35:.1f}" y="{y - 3:.1f}" text-anchor="middle" '
            f'font-size="10">{escape(_fmt(value))}</text>'
            f'<text x="{x + slot * 0.35:.1f}" y="{HEIGHT - PAD_BOTTOM + 14}" '
            f'text-anchor="middle" font-size="10" fill="#444">{escape(label)}</text>'
        )
    return _svg(parts, title)


def line_chart(
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
) -> Markup:
    """One line per named series over the same x positions, with a legend below."""
    top = _nice_max(max((v for _, values in series for v in values), default=0))
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    n = max(len(x_labels), 1)
    step = plot_w / max(n - 1, 1)
    parts = _axes(top, title)
    for i, label in enumerate(x_labels):
        x = PAD_LEFT + i * step
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - PAD_BOTTOM + 14}" text-anchor="middle" '
            f'font-size="10" fill="#444">{escape(label)}</text>'
        )
    for k, (name, values) in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        points = " ".join(
            f"{PAD_LEFT + i * step:.1f},{PAD_TOP + plot_h - plot_h * v / top:.1f}"
            for i, v in enumerate(values)
        )
        parts.append(
            f'<polyline class="series" points="{points}" fill="none" stroke="{color}" '
            f'stroke-width="2"><title>{escape(name)}</title></polyline>'
        )
        lx = PAD_LEFT + (k % 4) * 120
        ly = HEIGHT - 12 + (k // 4) * 12
        parts.append(
            f'<rect x="{lx}" y="{ly - 8}" width="10" height="10" fill="{color}"/>'
            f'<text x="{lx + 14}" y="{ly + 1}" font-size="10">{escape(name)}</text>'
        )
    extra = 12 * max(0, (len(series) - 1) // 4)
    return _svg(parts, title, extra_height=extra)


#: a raster's left margin, for the row names, and its height above a row at most/least
RASTER_LABEL_WIDTH = 96
RASTER_ROW_MAX = 14.0
RASTER_ROW_MIN = 7.0
#: the height a raster's rows share when there are many (each keeps RASTER_ROW_MIN)
RASTER_ROWS_HEIGHT = 480.0


def raster(
    rows: Sequence[tuple[str, str]],
    columns: int,
    cells: Iterable[tuple[int, int, float]],
    *,
    title: str,
    ticks: Sequence[tuple[int, str]] = (),
    width: int = 450,
) -> Markup:
    """A grid of shaded cells: one row per name, one column per step, darker where busier.

    Parameters
    ----------
    rows
        (name, tooltip) of each row, top first; the name is shortened to fit the margin.
    columns
        Number of columns.
    cells
        (row, column, value) of each non-empty cell; others stay blank. The shade grows
        with log(1 + value), relative to the largest value, so that one very busy cell
        does not wash out the rest.
    title
        The chart's accessible name.
    ticks
        (column, label) marks written under the grid, at the start of their column.
    width
        Width in pixels, margin included.
    """
    cells = list(cells)
    n = max(len(rows), 1)
    row_h = max(RASTER_ROW_MIN, min(RASTER_ROW_MAX, RASTER_ROWS_HEIGHT / n))
    col_w = (width - RASTER_LABEL_WIDTH - 4) / max(columns, 1)
    grid_h = row_h * len(rows)
    top = max((v for _, _, v in cells), default=0.0)
    scale = math.log1p(top) or 1.0
    by_row: list[list[str]] = [[] for _ in rows]
    for r, c, v in cells:
        shade = 0.12 + 0.88 * math.log1p(max(v, 0.0)) / scale
        by_row[r].append(
            f'<rect x="{RASTER_LABEL_WIDTH + c * col_w:.2f}" y="{r * row_h:.2f}" '
            f'width="{col_w:.2f}" height="{row_h - 1:.2f}" fill-opacity="{shade:.2f}"/>'
        )
    font = min(10.0, row_h - 1)
    parts = [
        f"<title>{escape(title)}</title>",
        f'<rect x="{RASTER_LABEL_WIDTH}" y="0" width="{col_w * columns:.2f}" '
        f'height="{grid_h:.2f}" fill="#f6f6f6"/>',
    ]
    for r, ((name, tip), shapes) in enumerate(zip(rows, by_row, strict=True)):
        parts.append(
            f'<g class="raster-row"><title>{escape(tip)}</title>'
            f'<text x="{RASTER_LABEL_WIDTH - 4}" y="{r * row_h + font - 0.5:.2f}" '
            f'text-anchor="end" font-size="{font:.1f}" fill="#444">'
            f"{escape(_fit(name, (RASTER_LABEL_WIDTH - 4) / (font * 0.7)))}</text>"
            f'<g fill="{PALETTE[1]}" shape-rendering="crispEdges">{"".join(shapes)}</g></g>'
        )
    for c, label in ticks:
        x = RASTER_LABEL_WIDTH + c * col_w
        parts.append(
            f'<line x1="{x:.2f}" x2="{x:.2f}" y1="0" y2="{grid_h + 4:.2f}" stroke="#bbb" '
            'stroke-width="0.5"/>'
            f'<text x="{x:.2f}" y="{grid_h + 14:.2f}" text-anchor="middle" font-size="9" '
            f'fill="#555">{escape(label)}</text>'
        )
    height = math.ceil(grid_h + 20)
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        'font-family="system-ui, sans-serif" overflow="visible">' + "".join(parts) + "</svg>"
    )


def _fit(text: str, chars: float) -> str:
    n = max(int(chars), 2)
    return text if len(text) <= n else text[: n - 1] + "…"


def _svg(parts: list[str], title: str, extra_height: int = 0) -> Markup:
    height = HEIGHT + extra_height
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        'font-family="system-ui, sans-serif">' + "".join(parts) + "</svg>"
    )
