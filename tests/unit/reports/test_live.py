"""The terminal views of ``annotel top`` and ``annotel alerts list`` (pure renderers)."""

from __future__ import annotations

from typing import Any

from reports import fmt
from reports.live import alert_order, render_alerts, render_status
from reports.period import Period
from reports.sections.status import status
from tests.unit.reports.rows import DRIVING, HUASHU, IN_HOUSE, MEDICAL, at, sums

SPAN = Period(at("2026-12-07 01:48"), at("2026-12-07 02:48"))


def test_top_aligns_chinese_names_and_marks_quiet_and_stale_data() -> None:
    state = status(
        SPAN,
        [],
        [sums(project_id=MEDICAL, tasks_submitted=1716, audits=229, audits_approved=216)],
        [
            {"project_id": MEDICAL, "last_minute": at("2026-12-07 02:47")},
            {"project_id": DRIVING, "last_minute": at("2026-12-07 02:40")},  # 8 minutes quiet
        ],
    )
    text = render_status(state, "chdb:///data", now=at("2026-12-07 03:18"))
    lines = text.splitlines()
    assert lines[0] == "annotel top · chdb:///data"
    assert lines[1] == (
        "last hour: 2026-12-07 01:48–02:48 UTC (event time; the newest data is 30m old)"
    )
    header, rule, medical, driving = lines[3:7]
    assert header.startswith("project") and header.endswith("last data")
    assert medical.startswith("医疗影像标注  ") and medical.endswith("02:47")
    assert "94.3% (229)" in medical  # 216 / 229
    assert driving.startswith("autonomous-driving") and driving.endswith("02:40 quiet")
    # CJK characters take two columns: the quiet row is as wide as the rule line, the
    # other one shorter by "quiet" and its space.
    assert fmt.text_width(driving) == fmt.text_width(rule)
    assert fmt.text_width(medical) == fmt.text_width(rule) - 6
    assert lines[-1] == "no alerts firing"
    fresh = render_status(state, "s", now=at("2026-12-07 02:50"))
    assert "(event time)" in fresh.splitlines()[1]
    assert render_status(status(None, [], [], []), "s") == "no metrics yet in s"


def alert(status_: str, severity: str, rule: str, starts: str, **extra: Any) -> dict[str, Any]:
    return {
        "fingerprint": f"fp-{rule}-{starts}",
        "rule": rule,
        "status": status_,
        "severity": severity,
        "labels": {"project_id": MEDICAL, "vendor_id": IN_HOUSE, "team": "zh-ops"},
        "annotations": {"summary": "供应商 在项目 医疗影像标注 的审核通过率为 62%（SLA 85%）"},
        "metric": "audit_pass_rate",
        "value": 0.62,
        "threshold": 0.85,
        "window_start": at("2026-12-07 01:30"),
        "window_end": at("2026-12-07 01:45"),
        "starts_at": at(starts),
        "ends_at": None,
        **extra,
    }


def test_alerts_firing_first_then_by_severity_and_recency() -> None:
    alerts = [
        alert(
            "resolved",
            "critical",
            "vendor_quality_low",
            "2026-12-07 01:00",
            ends_at=at("2026-12-07 01:45"),
        ),
        alert("firing", "warning", "annotator_quality_low", "2026-12-07 01:30"),
        alert("firing", "critical", "vendor_quality_low", "2026-12-07 01:15"),
        alert("firing", "critical", "vendor_quality_low", "2026-12-07 01:45"),
    ]
    ordered = sorted(alerts, key=alert_order)
    assert [(a["status"], a["severity"], a["starts_at"]) for a in ordered] == [
        ("firing", "critical", at("2026-12-07 01:45")),
        ("firing", "critical", at("2026-12-07 01:15")),
        ("firing", "warning", at("2026-12-07 01:30")),
        ("resolved", "critical", at("2026-12-07 01:00")),
    ]
    text = render_alerts(ordered, None)
    assert text.endswith("\n\n4 alert series, 3 firing")
    first = text.splitlines()[2]
    assert "project_id=医疗影像标注, vendor_id=(in-house)" in first
    assert "62.0%" in first and "85.0%" in first
    assert "2026-12-07 01:45 UTC" in first
    resolved = text.splitlines()[5]
    assert "2026-12-07 01:45 UTC" in resolved  # since it resolved
    assert render_alerts([], "firing") == "no firing alerts"
    assert render_alerts([], None) == "no alerts"


def test_long_summaries_are_clipped_to_60_columns() -> None:
    long = alert("firing", "critical", "vendor_quality_low", "2026-12-07 01:45")
    long["annotations"] = {"summary": f"供应商 {HUASHU} " + "审核通过率过低" * 10}
    summary = render_alerts([long], None).splitlines()[2].split("  ")[-1]
    assert summary.endswith("…")
    assert fmt.text_width(summary) <= 60
