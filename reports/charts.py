"""Inline SVG charts drawn in Python: no script, no network, no plotting library.

Each chart is one ``<svg data-chart="NAME">`` with a title, labelled axes with
units, a legend, and a native tooltip (``<title>``) on every data point, so
the report stays one self-contained file that prints and mails well.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from reports.fmt import text_width
from schemas import units
from schemas.display import visible

# Okabe-Ito: distinguishable with the common colour-vision deficiencies (yellow left out:
# it vanishes on white).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999")
THRESHOLD_COLOUR = "#B22222"
FONT_PX = 12
WIDTH = 960


def _e(text: str) -> str:
    """Text and attribute values: HTML-escaped, unsafe characters shown (schemas.display)."""
    return escape(visible(text), quote=True)


def _n(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _text_px(text: str, size: int = FONT_PX) -> float:
    """Rough rendered width: CJK glyphs are about 1 em, latin ones about 0.6 em."""
    return text_width(text) * size * 0.56


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[low, high]``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high <= low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * magnitude
        if raw <= step:
            break
    first = math.floor(low / step + 1e-9) * step
    last = math.ceil(high / step - 1e-9) * step
    ticks = []
    value = first
    while value <= last + step / 2:
        ticks.append(round(value, 10))
        value += step
    return ticks


_TIME_STEPS = (
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
    2 * 86400,
    7 * 86400,
    14 * 86400,
    28 * 86400,
)


def time_ticks(start: float, end: float, most: int = 8) -> tuple[list[float], str]:
    """Tick positions (epoch s, aligned to UTC) and their strftime format."""
    span = max(end - start, 60.0)
    step = next((s for s in _TIME_STEPS if span / s <= most), _TIME_STEPS[-1])
    first = math.ceil(start / step) * step
    ticks = [float(t) for t in range(int(first), int(end) + 1, step)]
    if span <= 86400 and step < 86400:
        pattern = "%H:%M"
    elif step < 86400:
        pattern = "%m-%d %H:%M"
    else:
        pattern = "%Y-%m-%d"
    return ticks, pattern


@dataclass(frozen=True)
class Line:
    name: str
    points: Sequence[tuple[datetime, float | None]]


def _legend(
    items: Sequence[tuple[str, str, str]], x0: float, y0: float, width: float
) -> tuple[str, float]:
    """Legend items (label, colour, kind: line|dash); returns the SVG and its height."""
    parts = ['<g class="legend">']
    x, y = x0, y0
    row_h = 20
    for label, colour, kind in items:
        item_w = 30 + _text_px(label) + 18
        if x + item_w > x0 + width and x > x0:
            x, y = x0, y + row_h
        dash = ' stroke-dasharray="6 4"' if kind == "dash" else ""
        parts.append(
            f'<line x1="{_n(x)}" y1="{_n(y)}" x2="{_n(x + 22)}" y2="{_n(y)}" stroke="{colour}" '
            f'stroke-width="2.5"{dash}/>'
        )
        if kind == "line":
            parts.append(f'<circle cx="{_n(x + 11)}" cy="{_n(y)}" r="3" fill="{colour}"/>')
        parts.append(f'<text x="{_n(x + 28)}" y="{_n(y + 4)}">{_e(label)}</text>')
        x += item_w
    parts.append("</g>")
    return "".join(parts), y - y0 + row_h


def line_chart(
    chart_id: str,
    title: str,
    lines: Sequence[Line],
    *,
    y_label: str,
    y_format: Callable[[float], str],
    tooltip_format: Callable[[float], str] | None = None,
    thresholds: Sequence[tuple[float, str]] = (),
    zero_based: bool = True,
    share: bool = False,
    x_label: str = "time (UTC)",
    height: int = 300,
) -> str:
    """A time-series chart: one line per series, gaps where a value is missing."""
    tooltip_format = tooltip_format or y_format
    left, right, top = 78.0, 24.0, 40.0
    plot_bottom = float(height - 52)
    x0, x1 = left, WIDTH - right
    times = sorted({p[0].timestamp() for line in lines for p in line.points})
    values = [v for line in lines for _t, v in line.points if v is not None]
    values += [t for t, _label in thresholds]
    if not times or not values:
        raise ValueError(f"chart {chart_id}: nothing to draw")
    t0, t1 = times[0], times[-1]
    if t1 == t0:
        t0, t1 = t0 - 60, t1 + 60
    low = 0.0 if zero_based else min(values)
    high = max(values)
    if share:
        low, high = max(0.0, low - 0.02), min(1.0, high + 0.02)
    ticks = nice_ticks(low, high)
    if share:
        ticks = [t for t in ticks if -1e-9 <= t <= 1 + 1e-9] or [0.0, 1.0]
        if len(ticks) < 2:
            ticks = [0.0, 1.0]
    y_low, y_high = ticks[0], ticks[-1]

    def sx(ts: float) -> float:
        return x0 + (ts - t0) / (t1 - t0) * (x1 - x0)

    def sy(value: float) -> float:
        return plot_bottom - (value - y_low) / (y_high - y_low) * (plot_bottom - top)

    parts: list[str] = []
    # grid and y axis
    for tick in ticks:
        y = sy(tick)
        parts.append(
            f'<line class="grid" x1="{_n(x0)}" y1="{_n(y)}" x2="{_n(x1)}" y2="{_n(y)}"/>'
            f'<text class="tick" x="{_n(x0 - 8)}" y="{_n(y + 4)}" text-anchor="end">'
            f"{_e(y_format(tick))}</text>"
        )
    parts.append(
        f'<text class="axis-label" transform="translate(16 {_n((top + plot_bottom) / 2)}) '
        f'rotate(-90)" text-anchor="middle">{_e(y_label)}</text>'
    )
    # x axis
    x_ticks, pattern = time_ticks(t0, t1)
    parts.append(
        f'<line class="axis" x1="{_n(x0)}" y1="{_n(plot_bottom)}" x2="{_n(x1)}" '
        f'y2="{_n(plot_bottom)}"/>'
    )
    for tick in x_ticks:
        x = sx(tick)
        label = units.from_epoch_s(tick).strftime(pattern)
        parts.append(
            f'<line class="axis" x1="{_n(x)}" y1="{_n(plot_bottom)}" x2="{_n(x)}" '
            f'y2="{_n(plot_bottom + 5)}"/>'
            f'<text class="tick" x="{_n(x)}" y="{_n(plot_bottom + 18)}" text-anchor="middle">'
            f"{_e(label)}</text>"
        )
    day = units.from_epoch_s(t0).strftime("%Y-%m-%d")
    if pattern == "%H:%M":
        x_label = (
            f"{x_label}, {day}" if day == units.from_epoch_s(t1).strftime("%Y-%m-%d") else x_label
        )
    parts.append(
        f'<text class="axis-label" x="{_n((x0 + x1) / 2)}" y="{_n(plot_bottom + 38)}" '
        f'text-anchor="middle">{_e(x_label)}</text>'
    )
    # thresholds
    legend: list[tuple[str, str, str]] = []
    for value, label in thresholds:
        if not y_low <= value <= y_high:
            continue
        y = sy(value)
        parts.append(
            f'<line class="threshold" x1="{_n(x0)}" y1="{_n(y)}" x2="{_n(x1)}" y2="{_n(y)}" '
            f'stroke="{THRESHOLD_COLOUR}" stroke-dasharray="6 4"><title>{_e(label)}: '
            f"{_e(tooltip_format(value))}</title></line>"
        )
        legend.append((f"{label}: {tooltip_format(value)}", THRESHOLD_COLOUR, "dash"))
    # series
    for index, line in enumerate(lines):
        colour = PALETTE[index % len(PALETTE)]
        legend.insert(index, (line.name, colour, "line"))
        path: list[str] = []
        pen_down = False
        dots: list[str] = []
        for moment, point in line.points:
            if point is None:
                pen_down = False
                continue
            x, y = sx(moment.timestamp()), sy(point)
            path.append(f"{'L' if pen_down else 'M'}{_n(x)} {_n(y)}")
            pen_down = True
            tip = f"{line.name} · {units.when(moment)}: {tooltip_format(point)}"
            dots.append(
                f'<circle cx="{_n(x)}" cy="{_n(y)}" r="3" fill="{colour}"><title>{_e(tip)}</title>'
                "</circle>"
            )
        if path:
            parts.append(
                f'<path class="series" d="{" ".join(path)}" stroke="{colour}" fill="none" '
                f'data-series="{_e(line.name)}"/>'
            )
        parts.extend(dots)
    legend_svg, legend_h = _legend(legend, x0, plot_bottom + 62, x1 - x0)
    total_h = plot_bottom + 62 + legend_h
    title_id = f"chart-{chart_id}-title"
    return (
        f'<svg class="chart" data-chart="{_e(chart_id)}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH} {_n(total_h)}" width="100%" role="img" '
        f'aria-labelledby="{title_id}"><title id="{title_id}">{_e(title)}</title>'
        f'<text class="chart-title" x="{_n(x0)}" y="22">{_e(title)}</text>'
        + "".join(parts)
        + legend_svg
        + "</svg>"
    )


def bar_chart(
    chart_id: str,
    title: str,
    bars: Sequence[tuple[str, float, str]],
    *,
    x_label: str,
    x_format: Callable[[float], str],
    threshold: tuple[float, str] | None = None,
    share: bool = False,
) -> str:
    """Horizontal bars: (label, value, text shown at the bar's end)."""
    if not bars:
        raise ValueError(f"chart {chart_id}: nothing to draw")
    label_w = min(260.0, max(_text_px(label) for label, _v, _t in bars) + 16)
    left, right, top, row_h = label_w + 12, 120.0, 40.0, 26.0
    x0, x1 = left, WIDTH - right
    plot_bottom = top + row_h * len(bars)
    values = [v for _l, v, _t in bars] + ([threshold[0]] if threshold else [])
    high = max(values)
    if share:
        high = min(1.0, high)
    ticks = nice_ticks(0.0, high if high > 0 else 1.0)
    if share:
        ticks = [t for t in ticks if t <= 1 + 1e-9]
    x_high = ticks[-1]

    def sx(value: float) -> float:
        return x0 + value / x_high * (x1 - x0)

    parts: list[str] = []
    for tick in ticks:
        x = sx(tick)
        parts.append(
            f'<line class="grid" x1="{_n(x)}" y1="{_n(top)}" x2="{_n(x)}" y2="{_n(plot_bottom)}"/>'
            f'<text class="tick" x="{_n(x)}" y="{_n(plot_bottom + 18)}" text-anchor="middle">'
            f"{_e(x_format(tick))}</text>"
        )
    for index, (label, value, text) in enumerate(bars):
        y = top + index * row_h
        width = max(sx(value) - x0, 0.0)
        colour = PALETTE[0]
        parts.append(
            f'<text class="bar-label" x="{_n(x0 - 8)}" y="{_n(y + row_h / 2 + 4)}" '
            f'text-anchor="end">{_e(label)}</text>'
            f'<rect x="{_n(x0)}" y="{_n(y + 4)}" width="{_n(width)}" height="{_n(row_h - 8)}" '
            f'fill="{colour}"><title>{_e(label)}: {_e(text)}</title></rect>'
            f'<text class="bar-value" x="{_n(x0 + width + 6)}" y="{_n(y + row_h / 2 + 4)}">'
            f"{_e(text)}</text>"
        )
    parts.append(
        f'<line class="axis" x1="{_n(x0)}" y1="{_n(top)}" x2="{_n(x0)}" y2="{_n(plot_bottom)}"/>'
    )
    parts.append(
        f'<text class="axis-label" x="{_n((x0 + x1) / 2)}" y="{_n(plot_bottom + 38)}" '
        f'text-anchor="middle">{_e(x_label)}</text>'
    )
    total_h = plot_bottom + 50
    if threshold is not None and 0 <= threshold[0] <= x_high:
        x = sx(threshold[0])
        parts.append(
            f'<line class="threshold" x1="{_n(x)}" y1="{_n(top - 6)}" x2="{_n(x)}" '
            f'y2="{_n(plot_bottom)}" stroke="{THRESHOLD_COLOUR}" stroke-dasharray="6 4">'
            f"<title>{_e(threshold[1])}</title></line>"
        )
        legend_svg, legend_h = _legend(
            [(threshold[1], THRESHOLD_COLOUR, "dash")], x0, plot_bottom + 58, x1 - x0
        )
        parts.append(legend_svg)
        total_h = plot_bottom + 58 + legend_h
    title_id = f"chart-{chart_id}-title"
    return (
        f'<svg class="chart" data-chart="{_e(chart_id)}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH} {_n(total_h)}" width="100%" role="img" '
        f'aria-labelledby="{title_id}"><title id="{title_id}">{_e(title)}</title>'
        f'<text class="chart-title" x="{_n(min(x0, 24.0))}" y="22">{_e(title)}</text>'
        + "".join(parts)
        + "</svg>"
    )
