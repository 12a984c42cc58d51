"""SLA attainment from hand-built rule windows, judged as the alert evaluator judges them."""

from __future__ import annotations

from typing import Any

from reports.period import Period
from reports.sections.sla import rule_span, sla_attainment
from tests.unit.reports.rows import (
    APEX,
    DRIVING,
    HUASHU,
    IN_HOUSE,
    MEDICAL,
    at,
    quality_rule,
    ruleset,
    sums,
)

PERIOD = Period(at("2026-12-07 01:07"), at("2026-12-07 02:00"))


def audits(project: str, vendor: str, bucket: str, total: int, approved: int) -> dict[str, Any]:
    return sums(
        project_id=project,
        vendor_id=vendor,
        bucket=at(bucket),
        audits=total,
        audits_approved=approved,
    )


def stalled_rule(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "queue_stalled",
        "metric": "throughput_per_hour",
        "scope": ["project_id", "queue_id"],
        "window": "5m",
        "op": "<",
        "threshold": 1,
        "absent_lookback": 2,
        "severity": "error",
        "receivers": ["log"],
        **overrides,
    }


def test_rule_span_is_the_full_windows_inside_the_period() -> None:
    rules = ruleset(quality_rule(), quality_rule(name="hourly", window="1h"))
    quarter, hour = rules.rules
    assert rule_span(PERIOD, quarter) == Period(at("2026-12-07 01:15"), at("2026-12-07 02:00"))
    assert rule_span(PERIOD, hour) is None  # 01:07 - 02:00 holds no whole UTC hour
    assert rule_span(Period(at("2026-12-07 01:07"), at("2026-12-07 01:20")), quarter) is None


def test_attainment_per_project_from_the_windows_of_each_vendor() -> None:
    rows = [
        # 华数标注: 27/30 met, 15/25 = 0.6 breached, 10 audits < min_samples 20: no data.
        audits(MEDICAL, HUASHU, "2026-12-07 01:15", 30, 27),
        audits(MEDICAL, HUASHU, "2026-12-07 01:30", 25, 15),
        audits(MEDICAL, HUASHU, "2026-12-07 01:45", 10, 2),
        # in-house: met, 16/20 = 0.8 breached, 17/20 = 0.85 met (not < 0.85).
        audits(MEDICAL, IN_HOUSE, "2026-12-07 01:15", 40, 40),
        audits(MEDICAL, IN_HOUSE, "2026-12-07 01:30", 20, 16),
        audits(MEDICAL, IN_HOUSE, "2026-12-07 01:45", 20, 17),
        audits(DRIVING, APEX, "2026-12-07 01:15", 50, 50),
    ]
    section = sla_attainment(PERIOD, ruleset(quality_rule()), {"vendor_quality_low": rows})
    assert [r.name for r in section.rules] == ["vendor_quality_low"]
    assert section.rules[0].target == "audit_pass_rate >= 85.0%"
    assert section.skipped == []

    medical = section.cell("vendor_quality_low", MEDICAL)
    assert medical is not None
    assert (medical.windows, medical.met, medical.no_data) == (5, 3, 1)
    assert medical.attainment == 3 / 5
    assert (medical.scopes, medical.scopes_breached) == (2, 2)
    # The worst scope: 华数标注 met 1 of 2 (in-house 2 of 3); its worst window 0.6 at 01:30.
    assert medical.worst is not None
    assert medical.worst.scope == {"vendor_id": "华数标注"}
    assert (medical.worst.windows, medical.worst.met) == (2, 1)
    assert medical.worst.worst_value == 0.6
    assert medical.worst.worst_window == at("2026-12-07 01:30")

    driving = section.cell("vendor_quality_low", DRIVING)
    assert driving is not None
    assert (driving.windows, driving.met, driving.scopes_breached, driving.worst) == (1, 1, 0, None)
    assert section.project_attainment(MEDICAL) == (3, 5)
    assert section.project_attainment("no-such-project") == (0, 0)


def test_a_scope_with_only_thin_windows_has_no_attainment() -> None:
    rows = [audits(MEDICAL, HUASHU, "2026-12-07 01:15", 19, 0)]
    section = sla_attainment(PERIOD, ruleset(quality_rule()), {"vendor_quality_low": rows})
    [cell] = section.cells
    assert (cell.windows, cell.met, cell.no_data, cell.scopes) == (0, 0, 1, 0)
    assert cell.attainment is None


def test_a_throughput_window_without_events_counts_as_zero_after_recent_activity() -> None:
    period = Period(at("2026-12-07 01:00"), at("2026-12-07 01:30"))

    def tasks(bucket: str, n: int) -> dict[str, Any]:
        return sums(
            project_id=DRIVING, queue_id="lidar-boxes", bucket=at(bucket), tasks_submitted=n
        )

    # 01:00 10 tasks (120/h, met); 01:05 and 01:10 empty within 2 windows of 01:00: 0/h,
    # breached; 01:15 empty but 3 windows after: not judged; 01:20 3 tasks (36/h, met);
    # 01:25 empty right after: breached.
    rows = [tasks("2026-12-07 01:00", 10), tasks("2026-12-07 01:20", 3)]
    section = sla_attainment(period, ruleset(stalled_rule()), {"queue_stalled": rows})
    [cell] = section.cells
    assert (cell.project_id, cell.windows, cell.met, cell.no_data) == (DRIVING, 5, 2, 0)
    assert cell.worst is not None
    assert cell.worst.scope == {"queue_id": "lidar-boxes"}
    assert (cell.worst.worst_value, cell.worst.worst_window) == (0.0, at("2026-12-07 01:05"))

    # Without a lookback an empty window is simply not judged.
    rules = ruleset(stalled_rule(absent_lookback=0))
    [cell] = sla_attainment(period, rules, {"queue_stalled": rows}).cells
    assert (cell.windows, cell.met) == (2, 2)


def test_a_rule_without_project_in_its_scope_covers_all_projects() -> None:
    rule = {
        "name": "aht_high",
        "metric": "aht_s",
        "window": "15m",
        "op": ">",
        "threshold": 300,
        "min_samples": 30,
        "receivers": ["log"],
    }
    rows = [
        sums(bucket=at("2026-12-07 01:15"), tasks_submitted=40, handle_time_sum_s=14_000.0),
        sums(bucket=at("2026-12-07 01:30"), tasks_submitted=40, handle_time_sum_s=8_000.0),
    ]
    section = sla_attainment(PERIOD, ruleset(rule), {"aht_high": rows})
    [cell] = section.cells
    assert cell.project_id is None
    assert (cell.windows, cell.met) == (2, 1)  # 350 s breached, 200 s met
    assert cell.worst is not None and cell.worst.worst_value == 350.0
    assert section.rules[0].target == "aht_s <= 5m"


def test_anomaly_rules_and_rules_without_a_full_window_are_skipped() -> None:
    anomaly = {
        "name": "aht_anomaly",
        "type": "anomaly",
        "metric": "aht_s",
        "scope": ["project_id", "queue_id"],
        "window": "5m",
        "baseline_windows": 12,
        "z": 3,
        "receivers": ["log"],
    }
    rules = ruleset(anomaly, quality_rule(name="hourly", window="1h"), quality_rule())
    section = sla_attainment(PERIOD, rules, {})
    assert section.skipped == [
        ("aht_anomaly", "anomaly rule: judged against its own baseline"),
        ("hourly", "no full 1h window in the period"),
    ]
    assert [r.name for r in section.rules] == ["hourly", "vendor_quality_low"]
    assert section.cells == []  # no rows: nothing judged
