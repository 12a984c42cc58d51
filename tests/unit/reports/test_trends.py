"""Trend series from per-project bucket rows; bucket lengths chosen for enough evidence."""

from __future__ import annotations

from typing import Any

from reports.figures import Figures, combine
from reports.period import Period
from reports.sections.trends import choose_bucket, trend_bucket, trend_buckets, trends
from reports.types import ProjectRow
from tests.unit.reports.rows import DRIVING, MEDICAL, at, quality_rule, ruleset, sums

HOUR48 = Period(at("2026-12-07 01:00"), at("2026-12-07 01:48"))  # 48 minutes


def project(name: str, **fields: Any) -> ProjectRow:
    return ProjectRow(name, Figures(combine([sums(**fields)]), HOUR48.seconds), queues=1)


def test_the_time_bucket_draws_the_period_in_at_most_30_points() -> None:
    assert choose_bucket(30 * 60) == 60  # 30 points of a minute
    assert choose_bucket(48 * 60) == 120  # 48 minutes: 24 points of 2 minutes
    assert choose_bucket(7 * 86400) == 21600  # a week: 28 points of 6 hours
    assert choose_bucket(90 * 86400) == 86400  # longest bucket, even past 30 points


def test_a_rate_bucket_widens_until_points_rest_on_50_samples() -> None:
    # 600 samples over 3 series = 200 a series: 24 points of 2 m (8.3 each), 10 of 5 m (20),
    # 5 of 10 m (40), 4 of 15 m (50): 15 minutes.
    assert trend_bucket(HOUR48, 600, 3) == 900
    assert trend_bucket(HOUR48, 6000, 3) == 120  # 2000 / 24 = 83 already
    # No evidence: widened while 4 points remain (30 m would leave 2).
    assert trend_bucket(HOUR48, 0, 3) == 900


def test_buckets_per_metric_from_the_projects_samples() -> None:
    projects = [
        project(MEDICAL, tasks_submitted=3000, audits=400, gold_submitted=200),
        project(DRIVING, tasks_submitted=3000, audits=200, gold_submitted=0),
    ]
    buckets = trend_buckets(HOUR48, projects)
    # AHT: 6000 tasks / 2 series over 24 points = 125 a point; audits 300 a series:
    # 12.5, 30, 60 at 10 m; gold 100 a series: 4.2, 10, 20, 25 at 15 m.
    assert buckets == {
        "throughput_per_hour": 120,
        "aht_s": 120,
        "audit_pass_rate": 600,
        "gold_accuracy": 900,
    }


def test_series_points_from_bucket_rows() -> None:
    period = Period(at("2026-12-07 01:07"), at("2026-12-07 01:37"))
    buckets = {
        "throughput_per_hour": 600,
        "aht_s": 600,
        "audit_pass_rate": 900,
        "gold_accuracy": 900,
    }

    def row(bucket: str, **fields: Any) -> dict[str, Any]:
        return sums(project_id=MEDICAL, bucket=at(bucket), **fields)

    rows = {
        600: [
            row("2026-12-07 01:00", tasks_submitted=6, handle_time_sum_s=300.0),
            row("2026-12-07 01:10", tasks_submitted=20, handle_time_sum_s=1000.0),
            row("2026-12-07 01:30", tasks_submitted=14, handle_time_sum_s=1400.0),
        ],
        900: [
            row("2026-12-07 01:15", audits=40, audits_approved=30, gold_submitted=9, gold_correct=9)
        ],
    }
    projects = [project(MEDICAL), project(DRIVING)]
    gold_rule = {
        "name": "gold_accuracy_low",
        "metric": "gold_accuracy",
        "window": "1h",
        "op": "<",
        "threshold": 0.75,
        "receivers": ["log"],
    }
    stalled = {
        "name": "queue_stalled",
        "metric": "throughput_per_hour",
        "window": "5m",
        "op": "<",
        "threshold": 1,
        "receivers": ["log"],
    }
    rules = ruleset(
        quality_rule(),
        quality_rule(name="annotator_quality_low", scope=["annotator_id"]),  # same 0.85: once
        gold_rule,
        stalled,  # throughput rules draw no line
    )
    result = trends(period, rules, projects, buckets, rows)
    assert result.buckets == buckets

    medical, driving = result.series["throughput_per_hour"]
    assert (medical.name, driving.name) == (MEDICAL, DRIVING)
    assert [p.at for p in medical.points] == [
        at("2026-12-07 01:00"),
        at("2026-12-07 01:10"),
        at("2026-12-07 01:20"),
        at("2026-12-07 01:30"),
    ]
    # The cut buckets are measured over the part inside the period: 01:07-01:10 (180 s)
    # and 01:30-01:37 (420 s). 6 tasks in 3 minutes, 20 in 10, none, 14 in 7: 120/h each.
    assert [p.value for p in medical.points] == [120.0, 120.0, 0.0, 120.0]
    assert [p.samples for p in medical.points] == [6, 20, 0, 14]
    assert [p.value for p in driving.points] == [0.0, 0.0, 0.0, 0.0]

    aht = result.series["aht_s"][0]
    assert [p.value for p in aht.points] == [None, 50.0, None, 100.0]  # 6 tasks < 10 samples

    passes = result.series["audit_pass_rate"][0]
    assert [p.at for p in passes.points] == [
        at("2026-12-07 01:00"),
        at("2026-12-07 01:15"),
        at("2026-12-07 01:30"),
    ]
    assert [p.value for p in passes.points] == [None, 0.75, None]
    gold = result.series["gold_accuracy"][0]
    assert [(p.value, p.samples) for p in gold.points] == [(None, 0), (None, 9), (None, 0)]

    assert result.thresholds == {
        "throughput_per_hour": [],
        "aht_s": [],
        "audit_pass_rate": [(0.85, "SLA vendor_quality_low")],
        "gold_accuracy": [(0.75, "SLA gold_accuracy_low")],
    }


def test_no_projects_no_series() -> None:
    result = trends(HOUR48, ruleset(quality_rule()), [], trend_buckets(HOUR48, []), {})
    assert result.series == {m: [] for m in result.buckets}
