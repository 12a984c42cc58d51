"""Incidents from alert-episode rows: durations, worst values, the per-rule summary."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from reports.period import Period
from reports.sections.incidents import incident_order, incidents
from tests.unit.reports.rows import HUASHU, MEDICAL, at

PERIOD = Period(at("2026-12-07 01:00"), at("2026-12-07 03:00"))
HORIZON = at("2026-12-07 02:48")  # the end of the data, inside the period


def episode(
    fingerprint: str,
    rule: str,
    severity: str,
    starts_at: datetime,
    ends_at: datetime | None,
    firing_values: list[float | None],
    threshold: float | None = 0.85,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A row as ``reports.queries.alert_episodes`` returns it."""
    return {
        "fingerprint": fingerprint,
        "starts_at": starts_at,
        "rule": rule,
        "severity": severity,
        "labels": labels if labels is not None else {"team": "zh-ops"},
        "annotations": {"summary": f"供应商 {HUASHU} 在项目 {MEDICAL} 的审核通过率为 62%"},
        "metric": "audit_pass_rate",
        "threshold": threshold,
        "fired_at": starts_at,
        "firing_values": firing_values,
        "fired_value": next((v for v in firing_values if v is not None), None),
        "resolves": 0 if ends_at is None else 1,
        "last_window_end": ends_at or HORIZON,
        "ends_at": ends_at,
    }


VENDOR_LABELS = {
    "team": "zh-ops",
    "vendor_id": HUASHU,  # labels keep insertion order; the scope follows KEY_DIMENSIONS
    "project_id": MEDICAL,
}


def test_durations_worst_values_and_scope() -> None:
    rows = [
        # Started before the period, resolved inside it: 00:45 - 01:30.
        episode(
            "fp-a",
            "vendor_quality_low",
            "critical",
            at("2026-12-07 00:45"),
            at("2026-12-07 01:30"),
            [0.80, 0.62, None, 0.84],
            labels=VENDOR_LABELS,
        ),
        # Still firing: lasts to the end of the data.
        episode("fp-b", "annotator_quality_low", "warning", at("2026-12-07 02:00"), None, [0.7]),
        # No threshold (an anomaly rule): the first value.
        episode(
            "fp-c",
            "aht_anomaly",
            "warning",
            at("2026-12-07 01:10"),
            at("2026-12-07 01:20"),
            [140.0, 200.0],
            threshold=None,
        ),
    ]
    found, by_rule = incidents(rows, PERIOD, HORIZON)
    a, b, c = found
    assert a.scope == {"project_id": MEDICAL, "vendor_id": HUASHU}
    assert list(a.scope) == ["project_id", "vendor_id"]
    assert a.duration_s == 45 * 60
    assert a.worst_value == 0.62  # farthest from 0.85
    assert a.before_period and not a.ongoing
    assert a.summary == "供应商 华数标注 在项目 医疗影像标注 的审核通过率为 62%"
    assert b.ongoing and b.ends_at is None
    assert b.duration_s == 48 * 60  # 02:00 - 02:48
    assert not b.before_period
    assert b.scope == {}
    assert c.worst_value == 140.0
    assert [r.rule for r in by_rule] == [
        "vendor_quality_low",  # critical first
        "aht_anomaly",  # then by rule name among warnings with one episode each
        "annotator_quality_low",
    ]


def test_worst_is_on_the_side_the_rule_fires() -> None:
    # Fires below 75 %; a window inside the hysteresis (or from a handful of audits in
    # older rows) reported 100 %: farther from 75 % than 50 %, but not worse.
    low = episode(
        "fp-l",
        "annotator_quality_low",
        "warning",
        at("2026-12-07 01:00"),
        None,
        [0.5, 1.0, None, 0.78],
        threshold=0.75,
    )
    # Fires above 60 s: the worst is the highest.
    high = episode(
        "fp-h",
        "aht_high",
        "warning",
        at("2026-12-07 01:00"),
        None,
        [65.0, 10.0, 80.0],
        threshold=60.0,
    )
    found, _ = incidents([low, high], PERIOD, HORIZON)
    assert [f.worst_value for f in found] == [0.5, 80.0]


def test_an_episode_starting_after_the_end_of_the_data_lasts_zero() -> None:
    row = episode("fp", "queue_stalled", "error", at("2026-12-07 02:50"), None, [0.0])
    [found], _ = incidents([row], PERIOD, HORIZON)
    assert found.duration_s == 0.0


def test_per_rule_totals() -> None:
    rows = [
        episode(
            "fp-1",
            "vendor_quality_low",
            "critical",
            at("2026-12-07 01:00"),
            at("2026-12-07 01:30"),
            [0.8],
        ),
        episode(
            "fp-2",
            "vendor_quality_low",
            "critical",
            at("2026-12-07 01:15"),
            at("2026-12-07 02:15"),
            [0.7],
        ),
        episode("fp-3", "vendor_quality_low", "critical", at("2026-12-07 02:30"), None, [0.5]),
        episode(
            "fp-4",
            "gold_accuracy_low",
            "error",
            at("2026-12-07 01:00"),
            at("2026-12-07 01:15"),
            [0.6],
        ),
        episode(
            "fp-5",
            "aht_high",
            "warning",
            at("2026-12-07 01:00"),
            at("2026-12-07 01:15"),
            [320.0],
            threshold=300.0,
        ),
        episode(
            "fp-6",
            "aht_high",
            "warning",
            at("2026-12-07 01:30"),
            at("2026-12-07 01:45"),
            [310.0],
            threshold=300.0,
        ),
    ]
    _, by_rule = incidents(rows, PERIOD, HORIZON)
    quality, gold, aht = by_rule
    assert (quality.rule, quality.episodes, quality.ongoing) == ("vendor_quality_low", 3, 1)
    assert quality.total_s == (30 + 60 + 18) * 60  # the last one to 02:48
    assert quality.longest_s == 60 * 60
    assert (gold.rule, gold.severity, gold.episodes) == ("gold_accuracy_low", "error", 1)
    assert (aht.episodes, aht.total_s, aht.longest_s) == (2, 1800.0, 900.0)


def test_most_important_first() -> None:
    rows = [
        episode("w", "aht_high", "warning", at("2026-12-07 01:00"), None, [320.0]),
        episode(
            "c-short",
            "vendor_quality_low",
            "critical",
            at("2026-12-07 01:00"),
            at("2026-12-07 01:15"),
            [0.8],
        ),
        episode(
            "c-long",
            "vendor_quality_low",
            "critical",
            at("2026-12-07 01:00"),
            at("2026-12-07 02:00"),
            [0.8],
        ),
        episode("c-firing", "vendor_quality_low", "critical", at("2026-12-07 02:40"), None, [0.8]),
    ]
    found, _ = incidents(rows, PERIOD, HORIZON)
    ordered = sorted(found, key=incident_order)
    assert [e.fingerprint for e in ordered] == ["c-firing", "c-long", "c-short", "w"]


def test_no_episodes() -> None:
    assert incidents([], PERIOD, HORIZON) == ([], [])
