"""The text every receiver's messages share: comparisons, windows, summaries, links.

How a value or a time reads is ``schemas.units`` (tests/unit/schemas/test_units.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from alerts.formats import (
    comparison,
    link_safe,
    summary,
    truncate,
    window_text,
)
from tests.alert_events import event


def test_window_text_names_the_day_again_only_across_midnight() -> None:
    assert window_text(event()) == "2026-11-23 08:00–08:15 UTC (15m)"
    assert window_text(event(minute=955)) == "2026-11-23 23:55–2026-11-24 00:10 UTC (15m)"


def test_summary_is_the_rules_own_or_built_from_the_event() -> None:
    given = event()
    assert summary(given) == "审核通过率 82%：供应商甲 / 医疗影像"
    built = replace(given, annotations={}, extra={"op": "<"})
    assert comparison(built) == "82.0% < 85.0% (threshold)"
    assert summary(built) == (
        "vendor_quality_low firing: audit_pass_rate 82.0% < 85.0% (threshold)"
        " for project_id=医疗影像, vendor_id=供应商甲"
    )
    assert summary(replace(built, extra={}, status="resolved", scope={})) == (
        "vendor_quality_low resolved: audit_pass_rate 82.0% (threshold 85.0%) for all"
    )


def test_truncate_cuts_by_characters() -> None:
    assert truncate("供应商甲乙", 5) == "供应商甲乙"
    assert truncate("供应商甲乙", 3) == "供应…"


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://wiki.example/runbooks/q", True),
        ("http://wiki.example/q?x=1", True),
        ("javascript:alert(1)", False),
        ("https://wiki.example/a|b", False),
        ("https://wiki.example/<b>", False),
        ("https://wiki.example/a b", False),
        ("https://wiki.example/\u0007", False),
        ("", False),
    ],
)
def test_link_safe(url: str, safe: bool) -> None:
    assert link_safe(url) is safe
