"""A queue's burn-down as inline SVG: open tasks, the projection to the ETA, the deadline.

The line is the open tasks of each forecast minute; a dashed line goes from
the last one to zero at the ETA (none when the queue is stalled); a vertical
line marks the deadline and another the ETA, each labelled with its time, so
a reader sees at once which comes first. ``data-chart="burn-down"`` and
``data-mark`` attributes let tests and tools find the parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from reports.charts import nice_ticks
from schemas import units
from schemas.forecast_text import day_time

WIDTH, HEIGHT = 720.0, 240.0
LEFT, RIGHT, TOP, BOTTOM = 64.0, 24.0, 34.0, 200.0
LINE, PROJECTED, DEADLINE, ETA_LATE, ETA_OK = "#0969da", "#59636e", "#cf222e", "#9a6700", "#1a7f37"


def _n(value: float) -> str:
    return f"{value:.1f}"


def burn_down_svg(
    title: str,
    points: Sequence[tuple[int, int]],
    now_s: int,
    open_tasks: int,
    eta_s: float | None,
    due_s: float | None,
) -> str:
    """The chart; ``points`` are (epoch s, open tasks), ``now_s`` is the forecast's instant."""
    series = list(points) or [(now_s, open_tasks)]
    t0 = min(t for t, _ in series)
    ends = [now_s, *(v for v in (eta_s, due_s) if v is not None)]
    t1 = max(ends)
    if t1 - t0 < 3600:
        t1 = t0 + 3600
    high = max(max(v for _, v in series), 1)
    ticks = nice_ticks(0, high)
    y_high = ticks[-1] or 1

    def sx(ts: float) -> float:
        return LEFT + (ts - t0) / (t1 - t0) * (WIDTH - LEFT - RIGHT)

    def sy(value: float) -> float:
        return BOTTOM - value / y_high * (BOTTOM - TOP)

    parts = [
        f'<svg class="chart" data-chart="burn-down" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}" width="100%" role="img">'
        f"<title>{escape(title)}</title>"
        f'<text class="chart-title" x="{LEFT:.0f}" y="20">{escape(title)}</text>'
    ]
    for tick in ticks:
        parts.append(
            f'<line class="grid" x1="{_n(LEFT)}" y1="{_n(sy(tick))}" x2="{_n(WIDTH - RIGHT)}" '
            f'y2="{_n(sy(tick))}"/><text class="tick" x="{_n(LEFT - 6)}" y="{_n(sy(tick) + 4)}" '
            f'text-anchor="end">{escape(units.count(tick))}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{_n(LEFT)}" y1="{_n(BOTTOM)}" x2="{_n(WIDTH - RIGHT)}" '
        f'y2="{_n(BOTTOM)}"/>'
        f'<text class="tick" x="{_n(LEFT)}" y="{_n(BOTTOM + 16)}">'
        f"{escape(day_time(t0 * 1_000_000))}</text>"
    )
    path = " ".join(
        f"{'M' if i == 0 else 'L'}{_n(sx(t))} {_n(sy(v))}" for i, (t, v) in enumerate(series)
    )
    parts.append(
        f'<path class="series" data-mark="open-tasks" d="{path}" stroke="{LINE}" fill="none">'
        f"<title>open tasks, last {escape(units.count(open_tasks))}</title></path>"
    )
    late = eta_s is None or (due_s is not None and eta_s > due_s)
    if eta_s is not None:
        colour = ETA_LATE if late else ETA_OK
        parts.append(
            f'<path data-mark="projection" d="M{_n(sx(now_s))} {_n(sy(open_tasks))} '
            f'L{_n(sx(eta_s))} {_n(sy(0))}" stroke="{PROJECTED}" stroke-width="2" '
            'stroke-dasharray="5 4" fill="none"/>'
            f'<line data-mark="eta" x1="{_n(sx(eta_s))}" y1="{_n(TOP)}" x2="{_n(sx(eta_s))}" '
            f'y2="{_n(BOTTOM)}" stroke="{colour}" stroke-width="1.5"/>'
            f'<text data-mark="eta-label" x="{_n(sx(eta_s) - 4)}" y="{_n(TOP + 12)}" '
            f'text-anchor="end" fill="{colour}">ETA {escape(day_time(int(eta_s) * 1_000_000))}'
            "</text>"
        )
    if due_s is not None:
        parts.append(
            f'<line data-mark="deadline" x1="{_n(sx(due_s))}" y1="{_n(TOP)}" '
            f'x2="{_n(sx(due_s))}" y2="{_n(BOTTOM)}" stroke="{DEADLINE}" stroke-width="2" '
            'stroke-dasharray="6 3"/>'
            f'<text data-mark="deadline-label" x="{_n(sx(due_s) - 4)}" y="{_n(TOP + 28)}" '
            f'text-anchor="end" fill="{DEADLINE}">deadline '
            f"{escape(day_time(int(due_s) * 1_000_000))}</text>"
        )
    if eta_s is None and open_tasks:
        parts.append(
            f'<text data-mark="stalled" x="{_n(sx(now_s))}" y="{_n(TOP + 12)}" '
            f'text-anchor="end" fill="{ETA_LATE}">stalled: no ETA</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
