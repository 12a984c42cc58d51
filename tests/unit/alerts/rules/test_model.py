"""What a rule may hold, field by field: every field problem, with its location."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.rules import rules_from_data
from tests.rule_files import problems_of, rule


def test_durations_are_seconds() -> None:
    rules = rules_from_data(
        {
            "version": 1,
            "rules": [rule(window="1h", repeat_interval="30m")],
            "receivers": {"log": {"type": "stdout"}},
        }
    )
    assert (rules.rules[0].window, rules.rules[0].repeat_interval) == (3600, 1800.0)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"name": "Vendor Quality"}, "rules[0] (Vendor Quality).name: String should match"),
        ({"metric": "quality"}, "rules[0] (r).metric: unknown metric 'quality'"),
        ({"scope": ["team"]}, "rules[0] (r).scope: unknown dimension(s) team"),
        ({"scope": ["vendor_id", "vendor_id"]}, "rules[0] (r).scope: duplicate dimension(s)"),
        ({"window": "90s"}, "rules[0] (r).window: window '90s' must be a positive multiple of 1m"),
        ({"window": "25h"}, "rules[0] (r).window: window '25h' is longer than 24h"),
        ({"window": "0m"}, "rules[0] (r).window: window '0m' must be a positive multiple"),
        ({"window": "soon"}, "rules[0] (r).window: invalid duration 'soon'"),
        ({"op": "=="}, "rules[0] (r).op: Input should be '<', '<=', '>' or '>='"),
        ({"threshold": "0.85"}, "rules[0] (r).threshold: Input should be a valid number"),
        ({"threshold": None}, "rules[0] (r).threshold: Field required"),
        ({"min_samples": -1}, "rules[0] (r).min_samples: Input should be greater than or equal"),
        ({"for": 0}, "rules[0] (r).for: Input should be greater than or equal to 1"),
        ({"severity": "page"}, "rules[0] (r).severity: Input should be 'critical', 'error'"),
        ({"repeat_interval": "0s"}, "rules[0] (r).repeat_interval: duration '0s' must be positive"),
        ({"labels": {"tier": 1}}, "rules[0] (r).labels.tier: Input should be a valid string"),
        ({"colour": "red"}, "rules[0] (r).colour: unknown field; allowed: absent_lookback,"),
    ],
)
def test_field_problems(overrides: dict[str, Any], expected: str) -> None:
    found = problems_of(rule(**overrides))
    assert len(found) == 1, found
    assert found[0].startswith(expected), found


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"baseline_windows": 1}, "rules[0] (a).baseline_windows: Input should be greater than"),
        ({"z": 0}, "rules[0] (a).z: Input should be greater than 0"),
        ({"direction": "up"}, "rules[0] (a).direction: Input should be 'above', 'below' or 'both'"),
        ({"threshold": 3}, "rules[0] (a).threshold: unknown field; allowed:"),
        ({"min_std": -1}, "rules[0] (a).min_std: Input should be greater than or equal to 0"),
    ],
)
def test_anomaly_rule_problems(overrides: dict[str, Any], expected: str) -> None:
    anomaly = {
        "name": "a",
        "type": "anomaly",
        "metric": "aht_s",
        "window": "5m",
        "baseline_windows": 12,
        "z": 3,
        "annotations": {"summary": "{value:.0f}s vs {mean:.0f}s ± {std:.0f}s"},
    }
    anomaly.update(overrides)
    found = problems_of(anomaly)
    assert len(found) == 1, found
    assert found[0].startswith(expected), found
