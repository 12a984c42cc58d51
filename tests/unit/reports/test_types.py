"""The report as plain JSON values (``Report.to_dict``) and the SLA as people say it."""

from __future__ import annotations

import json

from reports.figures import Figures, combine
from reports.period import Period
from reports.types import Options, Report, SlaCell, SlaRule, SlaSection
from tests.unit.reports.rows import MEDICAL, at, sums

PERIOD = Period(at("2026-12-07 01:00"), at("2026-12-07 02:00"))


def test_to_dict_is_plain_json() -> None:
    totals = Figures(combine([sums(tasks_submitted=90, audits=10, audits_approved=9)]), 3600)
    report = Report(
        period=PERIOD,
        generated_at=at("2030-01-01 00:00"),
        source="chdb:///data",
        rules_file="rules.yaml",
        data_first=PERIOD.start,
        data_last=None,
        options=Options(),
        totals=totals,
        sla=SlaSection(
            [], [SlaCell("vendor_quality_low", MEDICAL, windows=4, met=3)], [("x", "y")]
        ),
    )
    out = report.to_dict()
    json.dumps(out)  # nothing left that JSON cannot hold
    assert out["period"] == {"start": "2026-12-07T01:00:00Z", "end": "2026-12-07T02:00:00Z"}
    assert out["generated_at"] == "2030-01-01T00:00:00Z"
    assert out["data_last"] is None
    assert out["totals"]["sums"]["tasks_submitted"] == 90
    assert out["totals"]["seconds"] == 3600
    assert out["totals"]["rates"]["audit_pass_rate"] == 0.9
    assert out["totals"]["rates"]["throughput_per_hour"] == 90.0
    assert out["sla"]["cells"][0]["attainment"] == 0.75
    assert out["sla"]["cells"][0]["project_id"] == "医疗影像标注"
    assert out["sla"]["skipped"] == [["x", "y"]]
    assert out["options"]["min_tasks"] == 20
    assert out["notice"] is None and out["projects"] == []


def test_sla_targets_name_the_good_side() -> None:
    def target(metric: str, op: str, threshold: float) -> str:
        return SlaRule("r", metric, op, threshold, 900, (), 0, "warning").target

    assert target("audit_pass_rate", "<", 0.85) == "audit_pass_rate >= 85.0%"
    assert target("rework_rate", ">=", 0.1) == "rework_rate < 10.0%"
    assert target("aht_s", ">", 300) == "aht_s <= 5m"
    assert target("turnaround_max_s", ">", 86400) == "turnaround_max_s <= 24h"
    assert target("throughput_per_hour", "<", 1) == "throughput_per_hour >= 1.0 tasks/h"
    assert target("throughput_per_hour", "<=", 2.5) == "throughput_per_hour > 2.5 tasks/h"
    assert target("mean_audit_score", "<", 0.8) == "mean_audit_score >= 0.8"
