"""Top error categories from ``error_categories`` rows."""

from __future__ import annotations

from typing import Any

import pytest

from reports.sections.errors import error_rows
from tests.unit.reports.rows import DRIVING, MEDICAL, SPEECH


def category(name: str, errors: int, project: str, on_project: int) -> dict[str, Any]:
    return {
        "error_category": name,
        "errors": errors,
        "top_project": project,
        "top_project_errors": on_project,
    }


ROWS = [
    category("意图错误", 50, SPEECH, 41),
    category("漏标", 30, MEDICAL, 30),
    category("wrong-class", 20, DRIVING, 12),
]


def test_shares_of_audits_and_of_all_flags() -> None:
    first, second, third = error_rows(ROWS, audits=1000, limit=10)
    assert (first.category, first.errors, first.top_project) == ("意图错误", 50, SPEECH)
    assert first.top_project_errors == 41
    assert first.share_of_audits == pytest.approx(0.05)
    assert first.share_of_flags == pytest.approx(0.5)  # 50 of 100 flags
    assert second.share_of_flags == pytest.approx(0.3)
    assert third.share_of_audits == pytest.approx(0.02)


def test_the_limit_keeps_shares_of_every_flag() -> None:
    rows = error_rows(ROWS, audits=1000, limit=2)
    assert [r.category for r in rows] == ["意图错误", "漏标"]
    assert rows[1].share_of_flags == pytest.approx(0.3)  # still of 100, not of 80


def test_no_audits_no_share() -> None:
    [row] = error_rows(ROWS[:1], audits=0, limit=10)
    assert row.share_of_audits is None and row.share_of_flags == 1.0
    assert error_rows([], audits=1000, limit=10) == []
