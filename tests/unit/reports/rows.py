"""Hand-built rows shaped as ``reports.queries`` returns them, for the section tests.

Names are the simulator's (Chinese projects, vendors and annotators beside
ASCII ones; in-house staff have the vendor id ""), so the tests see what a
real database hands the sections.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alerts.rules import RuleSet, rules_from_data
from schemas.metrics import AGGREGATE_FIELDS, MAX_FIELDS, SUM_FIELDS

MEDICAL = "医疗影像标注"
SPEECH = "普通话语音转写"
DRIVING = "autonomous-driving"
HUASHU = "华数标注"
APEX = "apex-labeling"
IN_HOUSE = ""


def at(text: str) -> datetime:
    """``"2026-12-07 01:15"`` (UTC)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def sums(minute_rows: int = 1, **dims_and_fields: Any) -> dict[str, Any]:
    """A ``grouped_sums`` row: the dimensions given, every aggregate field (0 unless given)."""
    row: dict[str, Any] = {
        name: 0.0 if name in SUM_FIELDS or name in MAX_FIELDS else 0 for name in AGGREGATE_FIELDS
    }
    row.update(dims_and_fields)
    row["minute_rows"] = minute_rows
    return row


def ruleset(*rules: dict[str, Any]) -> RuleSet:
    return rules_from_data(
        {"version": 1, "rules": list(rules), "receivers": {"log": {"type": "stdout"}}}
    )


def quality_rule(**overrides: Any) -> dict[str, Any]:
    """The shipped vendor SLA: audit pass rate >= 85 % per project and vendor, 15 minutes."""
    return {
        "name": "vendor_quality_low",
        "metric": "audit_pass_rate",
        "scope": ["project_id", "vendor_id"],
        "window": "15m",
        "op": "<",
        "threshold": 0.85,
        "min_samples": 20,
        "severity": "critical",
        "receivers": ["log"],
        **overrides,
    }
