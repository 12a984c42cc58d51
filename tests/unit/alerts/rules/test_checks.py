"""Checks of one rule across its fields, labels and annotations, with their location."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alerts.rules import check_file
from tests.rule_files import SPEC_EXAMPLE, problems_of, rule


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"resolve_threshold": 0.8}, "rules[0] (r).resolve_threshold: must be >= threshold"),
        (
            {"op": ">", "threshold": 300, "resolve_threshold": 310},
            "rules[0] (r).resolve_threshold: must be <= threshold",
        ),
        ({"labels": {"severity": "x"}}, "rules[0] (r).labels.severity: set by the evaluator"),
        ({"labels": {"vendor_id": "x"}}, "rules[0] (r).labels.vendor_id: set by the evaluator"),
        ({"labels": {"on-call": "x"}}, "rules[0] (r).labels.on-call: label names are letters"),
        ({"absent_lookback": 2}, "rules[0] (r).absent_lookback: only applies to throughput"),
        (
            {"metric": "throughput_per_hour", "threshold": 1, "for": 5},
            "rules[0] (r).for: 5 exceeds absent_lookback (4): a stalled queue could never fire",
        ),
    ],
)
def test_cross_field_problems(overrides: dict[str, Any], expected: str) -> None:
    found = problems_of(rule(**overrides))
    assert len(found) == 1, found
    assert found[0].startswith(expected), found


def test_cross_field_problems_of_a_valid_rule_have_lines(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(SPEC_EXAMPLE.replace("resolve_threshold: 0.9", "resolve_threshold: 0.5"))
    assert check_file(path) == [
        "line 9: rules[0] (vendor_quality_low).resolve_threshold: must be >= threshold (0.85) "
        "for op '<': an alert resolves on the good side"
    ]
