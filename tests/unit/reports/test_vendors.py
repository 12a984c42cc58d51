"""Vendors from per-contributor rows: figures, contributors, shares, top errors, the matrix."""

from __future__ import annotations

from typing import Any

import pytest

from reports.sections.vendors import vendors
from tests.unit.reports.rows import APEX, DRIVING, HUASHU, IN_HOUSE, MEDICAL, SPEECH, sums

HOUR = 3600.0


def work(project: str, vendor: str, source: str, annotator: str, **fields: Any) -> dict[str, Any]:
    return sums(
        project_id=project, vendor_id=vendor, source=source, annotator_id=annotator, **fields
    )


def flagged(vendor: str, source: str, category: str, errors: int) -> dict[str, Any]:
    return {"vendor_id": vendor, "source": source, "error_category": category, "errors": errors}


ROWS = [
    work(MEDICAL, HUASHU, "human", "华数-0033", tasks_submitted=100, audits=20, audits_approved=18),
    work(MEDICAL, HUASHU, "human", "华数-0042", tasks_submitted=60, audits=10, audits_approved=5),
    work(SPEECH, HUASHU, "human", "华数-0033", tasks_submitted=40),  # the same person again
    work(DRIVING, APEX, "human", "apx-0022", tasks_submitted=150, audits=30, audits_approved=30),
    work(MEDICAL, IN_HOUSE, "human", "staff-01", tasks_submitted=30),
    work(DRIVING, APEX, "machine", "model-v3", tasks_submitted=500),
    work(DRIVING, IN_HOUSE, "machine", "model-v3", tasks_submitted=20),
]
ERRORS = [
    flagged(HUASHU, "human", "意图错误", 5),
    flagged(HUASHU, "human", "漏标", 3),
    flagged(HUASHU, "hybrid", "漏标", 3),  # the same vendor: 6 in all
    flagged(APEX, "human", "wrong-class", 3),
    flagged(APEX, "human", "missed-box", 3),  # a tie: the first by name
    flagged(APEX, "machine", "wrong-class", 9),  # machine labels, not apex-labeling
]


def test_vendors_in_order_with_figures_and_shares() -> None:
    rows, _matrix = vendors(ROWS, ERRORS, HOUR, total_submitted=900)
    # External vendors by submitted tasks (160 + 40 = 200, then 150); in-house; machine.
    assert [r.vendor for r in rows] == ["华数标注", APEX, "(in-house)", "(machine labels)"]
    huashu, apex, in_house, machine = rows
    assert huashu.figures.n("tasks_submitted") == 200
    assert huashu.figures.rate("audit_pass_rate") == pytest.approx(23 / 30)
    assert huashu.figures.rate("throughput_per_hour") == 200.0
    assert huashu.contributors == 2
    assert huashu.share == pytest.approx(200 / 900)
    assert apex.share == pytest.approx(150 / 900)
    assert in_house.share == pytest.approx(30 / 900)
    assert machine.figures.n("tasks_submitted") == 520
    assert machine.contributors == 1
    assert [r.top_error for r in rows] == ["漏标", "missed-box", None, "wrong-class"]


def test_the_vendor_by_project_matrix() -> None:
    _rows, matrix = vendors(ROWS, ERRORS, HOUR, total_submitted=900)
    assert {p: sorted(v) for p, v in matrix.items()} == {
        MEDICAL: ["(in-house)", "华数标注"],
        SPEECH: ["华数标注"],
        DRIVING: ["(machine labels)", APEX],
    }
    assert matrix[MEDICAL]["华数标注"].n("tasks_submitted") == 160
    assert matrix[MEDICAL]["华数标注"].rate("audit_pass_rate") == pytest.approx(23 / 30)
    assert matrix[DRIVING]["(machine labels)"].n("tasks_submitted") == 520


def test_no_submitted_tasks_no_share() -> None:
    rows, _ = vendors(
        [work(MEDICAL, HUASHU, "human", "华数-0033", audits=4, audits_approved=4)], [], HOUR, 0
    )
    assert rows[0].share is None and rows[0].top_error is None


def test_no_rows() -> None:
    assert vendors([], ERRORS, HOUR, 0) == ([], {})
