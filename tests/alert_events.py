"""Alert events as receivers get them, for the receiver tests (unit and integration).

Chinese scopes and a runbook link by default, the shape of a rule's event.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from alerts.model import AlertEvent, fingerprint

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def event(
    *,
    rule: str = "vendor_quality_low",
    status: str = "firing",
    severity: str = "critical",
    project: str = "医疗影像",
    vendor: str = "供应商甲",
    receivers: Iterable[str] = ("r",),
    minute: int = 0,
    value: float | None = 0.82,
    muted_by: str | None = None,
) -> AlertEvent:
    scope = {"project_id": project, "vendor_id": vendor}
    start = T0 + timedelta(minutes=minute)
    return AlertEvent(
        fingerprint=fingerprint(rule, scope),
        rule=rule,
        status=status,  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        scope=scope,
        labels={"alertname": rule, "severity": severity, **scope, "team": "zh-ops"},
        annotations={
            "summary": f"审核通过率 {value or 0:.0%}：{vendor} / {project}",
            "runbook_url": "https://wiki.example/runbooks/vendor-quality",
        },
        metric="audit_pass_rate",
        value=value,
        threshold=0.85,
        window_start=start,
        window_end=start + timedelta(minutes=15),
        starts_at=T0,
        ends_at=start if status == "resolved" else None,
        receivers=tuple(receivers),
        muted_by=muted_by,
    )
