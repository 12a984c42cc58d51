"""Trend charts of the packet and the squad page: a person or a squad against a reference.

Buckets are days when the period spans four days or more, hours when it spans
four hours or more (a short history, such as the demo's), else the report's
finest usual bucket. A rate's point needs ``MIN_POINT_SAMPLES`` samples in its
bucket and is a gap otherwise: a person's hour with two audits says nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from reports.coaching_types import TrendChart, TrendLine, TrendPoint
from reports.figures import Figures, combine
from reports.period import Period
from reports.sections.people import COACH_METRICS, VOLUME
from reports.sections.trends import choose_bucket

DAY, HOUR = 86400, 3600
MIN_POINT_SAMPLES = 5
CHARTS = (VOLUME, "aht_s", "audit_pass_rate", "gold_accuracy")


def coaching_bucket(seconds: float) -> int:
    if seconds >= 4 * DAY:
        return DAY
    if seconds >= 4 * HOUR:
        return HOUR
    return choose_bucket(seconds)


def bucket_starts(period: Period, bucket_s: int) -> list[datetime]:
    first = int(period.start.timestamp()) // bucket_s * bucket_s
    end = period.end.timestamp()
    return [datetime.fromtimestamp(t, UTC) for t in range(first, int(end), bucket_s) if t < end]


# A line: its name, whose rows it pools (None: everyone) and how volume reads for it.
LineSpec = tuple[str, Collection[str] | None, str]  # volume: "total" or "per_member"


def _point(metric: str, rows: Sequence[Mapping[str, Any]], volume: str) -> TrendPoint:
    figures = Figures(combine(rows), 0.0)
    if metric == VOLUME:
        total = figures.n(VOLUME)
        active = len({r["annotator_id"] for r in rows if r.get("tasks_submitted")})
        if volume == "per_member":
            return TrendPoint(datetime.min, total / active if active else None, active)
        return TrendPoint(datetime.min, float(total), total)
    info = COACH_METRICS[metric]
    if info.share is not None:
        successes, trials = info.share
        n = sum(figures.n(t) for t in trials)
        rate = figures.n(successes) / n if n >= MIN_POINT_SAMPLES else None
        return TrendPoint(datetime.min, rate, n)
    n = figures.n("tasks_submitted")
    return TrendPoint(datetime.min, figures.rate(metric) if n >= MIN_POINT_SAMPLES else None, n)


def trend_charts(
    period: Period,
    bucket_s: int,
    rows: Sequence[Mapping[str, Any]],
    lines: Sequence[LineSpec],
    targets: Mapping[str, float],
) -> list[TrendChart]:
    """One chart per metric of ``CHARTS``, one line per spec, from per-bucket, per-annotator
    rows (``coaching_queries.buckets``)."""
    by_bucket: dict[datetime, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_bucket[row["bucket"]].append(row)
    starts = bucket_starts(period, bucket_s)
    charts = []
    for metric in CHARTS:
        chart_lines = []
        for name, ids, volume in lines:
            points = []
            for start in starts:
                chosen = [
                    r for r in by_bucket.get(start, []) if ids is None or r["annotator_id"] in ids
                ]
                point = _point(metric, chosen, volume)
                points.append(TrendPoint(start, point.value, point.samples))
            chart_lines.append(TrendLine(name, points))
        charts.append(
            TrendChart(
                metric,
                COACH_METRICS[metric].label,
                bucket_s,
                chart_lines,
                target=targets.get(metric),
            )
        )
    return charts
