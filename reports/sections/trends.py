"""Trends: one series per project and metric, each metric drawn in its own time bucket.

Buckets are aligned to the Unix epoch (so to UTC), like the rule windows. A
rate's point needs ``MIN_POINT_SAMPLES`` samples to be drawn; its bucket is
widened until a point rests on ``TARGET_POINT_SAMPLES`` samples on average.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from alerts.rules import THROUGHPUT, RuleSet, ThresholdRule
from reports.figures import TREND_METRICS, Figures, combine
from reports.period import Period
from reports.types import Point, ProjectRow, Series, Trends
from schemas import units

Rows = Sequence[Mapping[str, Any]]

# Least evidence for a trend point (a bucket), and the evidence a bucket is widened to reach.
MIN_POINT_SAMPLES = 10
TARGET_POINT_SAMPLES = 50

BUCKETS_S = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
MAX_POINTS = 30


def choose_bucket(seconds: float) -> int:
    """The smallest usual bucket that draws the period in at most ``MAX_POINTS`` points."""
    for bucket in BUCKETS_S:
        if seconds / bucket <= MAX_POINTS:
            return bucket
    return BUCKETS_S[-1]


def trend_bucket(period: Period, samples: int, series: int) -> int:
    """The bucket of a rate's chart: the time bucket, widened until a point rests on
    ``TARGET_POINT_SAMPLES`` samples on average (while at least 4 points remain)."""
    base = choose_bucket(period.seconds)
    chosen = base
    for bucket in BUCKETS_S:
        if bucket < base:
            continue
        points = math.ceil(period.seconds / bucket)
        if points < 4:
            break
        chosen = bucket
        if samples / max(series, 1) / points >= TARGET_POINT_SAMPLES:
            break
    return chosen


def trend_buckets(period: Period, projects: Sequence[ProjectRow]) -> dict[str, int]:
    """Per metric, its bucket length (s): the rows ``trends`` needs are the per-project sums
    in each distinct one."""
    buckets: dict[str, int] = {}
    for metric in TREND_METRICS:
        if metric == THROUGHPUT:
            buckets[metric] = choose_bucket(period.seconds)
        else:
            total = sum(p.figures.samples(metric) for p in projects)
            buckets[metric] = trend_bucket(period, total, len(projects))
    return buckets


def trends(
    period: Period,
    ruleset: RuleSet,
    projects: Sequence[ProjectRow],
    buckets: Mapping[str, int],
    rows: Mapping[int, Rows],
) -> Trends:
    """The section from ``rows``: per bucket length, the sums per ``project_id`` and
    ``bucket`` over the period. The first and the last bucket may be cut by the period:
    a throughput point is measured over the part inside it."""
    start_s, end_s = int(period.start.timestamp()), int(period.end.timestamp())
    series: dict[str, list[Series]] = {metric: [] for metric in TREND_METRICS}
    for bucket in sorted(set(buckets.values())):
        by_project: dict[str, dict[int, Mapping[str, Any]]] = defaultdict(dict)
        for row in rows.get(bucket, ()):
            by_project[str(row["project_id"])][int(row["bucket"].timestamp())] = row
        starts = list(range(start_s // bucket * bucket, end_s, bucket))
        for project in projects:
            found = by_project.get(project.project_id, {})
            for metric in TREND_METRICS:
                if buckets[metric] != bucket:
                    continue
                points = []
                for start in starts:
                    covered = min(start + bucket, end_s) - max(start, start_s)
                    bucket_row = found.get(start)
                    figures = Figures(combine([bucket_row] if bucket_row else []), covered)
                    value = figures.rate(metric)
                    samples = figures.samples(metric)
                    if metric != THROUGHPUT and samples < MIN_POINT_SAMPLES:
                        value = None
                    points.append(Point(units.from_epoch_s(start), value, samples))
                series[metric].append(Series(project.project_id, points))
    return Trends(dict(buckets), series, _thresholds(ruleset))


def _thresholds(ruleset: RuleSet) -> dict[str, list[tuple[float, str]]]:
    """The SLA lines drawn on the rate charts: each threshold of a rule on that metric once."""
    thresholds: dict[str, list[tuple[float, str]]] = {metric: [] for metric in TREND_METRICS}
    for rule in ruleset.rules:
        if (
            isinstance(rule, ThresholdRule)
            and rule.metric in thresholds
            and rule.metric != THROUGHPUT
        ):
            known = [value for value, _label in thresholds[rule.metric]]
            if rule.threshold not in known:
                thresholds[rule.metric].append((rule.threshold, f"SLA {rule.name}"))
    return thresholds
