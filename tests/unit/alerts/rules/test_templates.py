"""Annotation templates: the fields a rule may use, checked at load, rendered at alert time."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.rules import render_annotations
from tests.rule_files import problems_of, rule


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"annotations": {"summary": "{value:.0%} in {queue_id}"}},
            "rules[0] (r).annotations.summary: unknown field {queue_id}; known: metric,",
        ),
        (
            {"annotations": {"summary": "{vendor_id:.2f}"}},
            "rules[0] (r).annotations.summary: ValueError: Unknown format code 'f'",
        ),
        (
            {"annotations": {"summary": "{value.real}"}},
            "rules[0] (r).annotations.summary: field {value.real}: use a plain name",
        ),
        (
            {"annotations": {"summary": "rate {value"}},
            "rules[0] (r).annotations.summary: invalid template: expected '}'",
        ),
    ],
)
def test_template_problems(overrides: dict[str, Any], expected: str) -> None:
    found = problems_of(rule(**overrides))
    assert len(found) == 1, found
    assert found[0].startswith(expected), found


def test_a_template_error_at_render_time_keeps_the_raw_template() -> None:
    rendered, errors = render_annotations(
        {"summary": "{value:d} tasks", "ok": "{value:.0%}"}, {"value": 0.5}
    )
    assert rendered == {"summary": "{value:d} tasks", "ok": "50%"}
    assert errors == ["summary: ValueError: Unknown format code 'd' for object of type 'float'"]
