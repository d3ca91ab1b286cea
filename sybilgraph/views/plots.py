"""Small inline SVG charts for the report: drawn in Python, no script, no external file.

Every text placed in a chart is escaped, so labels taken from the data are safe.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart", "line_chart"]

PALETTE = ["#d62728", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
WIDTH = 520
HEIGHT = 220
PAD_LEFT = 48
PAD_BOTTOM = 42
PAD_TOP = 14
PAD_RIGHT = 22


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


def _svg(parts: list[str], title: str, extra_height: int = 0) -> Markup:
    height = HEIGHT + extra_height
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        'font-family="system-ui, sans-serif">' + "".join(parts) + "</svg>"
    )
