"""Incidents matched to alerts: the exact scope, an overlapping window, the next resolve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from annotel.demo.summary import incident_alerts

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
SCOPE = {"project_id": "医疗影像标注", "vendor_id": "华数标注"}


def alert(
    status: str, start_min: int, labels: dict[str, str], rule: str = "vendor_quality_low"
) -> dict[str, Any]:
    return {
        "rule": rule,
        "status": status,
        "metric": "audit_pass_rate",
        "labels": {**labels, "severity": "critical"},
        "window_start": T0 + timedelta(minutes=start_min),
        "window_end": T0 + timedelta(minutes=start_min + 15),
    }


def incident(name: str = "vendor_quality_drop") -> dict[str, Any]:
    return {
        "name": name,
        "scope": SCOPE,
        "start": "2026-11-23T02:30:00Z",
        "end": "2026-11-23T03:30:00Z",
    }


def test_an_incident_gets_its_first_firing_and_the_next_resolve() -> None:
    rows = [
        alert("firing", 0, SCOPE),  # ends 02:15, before the incident
        alert("firing", 30, {**SCOPE, "vendor_id": "other"}),  # another vendor
        alert("firing", 45, SCOPE),
        alert("firing", 60, SCOPE),  # a repeat: the first firing tells the story
        alert("resolved", 15, SCOPE),  # before the firing: not its resolve
        alert("resolved", 90, SCOPE),
    ]
    [entry] = incident_alerts([incident()], rows)
    assert entry["alerts"] == [
        {
            "rule": "vendor_quality_low",
            "fired_window": ["2026-11-23T02:45:00Z", "2026-11-23T03:00:00Z"],
            "resolved_window": ["2026-11-23T03:30:00Z", "2026-11-23T03:45:00Z"],
        }
    ]


def test_no_alert_and_incidents_without_a_rule() -> None:
    [quiet, malformed] = incident_alerts(
        [incident(), incident("malformed")],
        [alert("firing", 45, SCOPE, rule="x") | {"metric": "aht_s"}],
    )
    assert quiet["alerts"] == [] and malformed["alerts"] == []
    assert malformed["name"] == "malformed" and malformed["scope"] == SCOPE
