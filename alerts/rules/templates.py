"""Annotation templates: the fields a rule's annotations may use, and rendering them.

One formatter serves both sides: the checker tries every template with sample
values when the file is loaded, and the evaluator renders the same templates
when an alert fires, so a template that passed the check renders at 3 a.m.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from typing import Any

from alerts.model import IN_HOUSE_DIMENSION
from alerts.rules.delivery_rule import DELIVERY_FIELDS, DeliveryRule
from alerts.rules.model import AnomalyRule, InHouse, Rule
from schemas.durations import format_duration
from schemas.units import NO_DATA

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Formatter(string.Formatter):
    """``str.format`` that renders a missing value (a no-data repeat) as ``no data``."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return NO_DATA
        return str(super().format_field(value, format_spec))


_FORMATTER = _Formatter()


def allowed_fields(scope: Sequence[str], labels: Sequence[str], anomaly: bool) -> set[str]:
    names = {"value", "threshold", "rule", "metric", "severity", "window", "samples"}
    names.update(scope)
    names.update(label for label in labels if IDENTIFIER.match(label))
    if anomaly:
        names.update(("mean", "std"))
    return names


def template_fields(rule: Rule) -> set[str]:
    """Names an annotation of ``rule`` may use."""
    names = allowed_fields(rule.scope, list(rule.labels), isinstance(rule, AnomalyRule))
    return names | set(DELIVERY_FIELDS) if isinstance(rule, DeliveryRule) else names


def template_problems(template: str, allowed: set[str]) -> list[str]:
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as exc:
        return [f"invalid template: {exc} (write {{{{ and }}}} for literal braces)"]
    problems = []
    for _literal, name, spec, _conversion in parsed:
        if name is None:
            continue
        if not IDENTIFIER.match(name):
            problems.append(f"field {{{name}}}: use a plain name such as {{value}}")
        elif name not in allowed:
            problems.append(f"unknown field {{{name}}}; known: {', '.join(sorted(allowed))}")
        if spec and ("{" in spec or "}" in spec):
            problems.append(f"field {{{name}}}: nested fields in a format spec are not supported")
    return problems


def sample_fields(rule: Rule) -> dict[str, object]:
    """Plausible values, used to try every template when the file is checked."""
    sample: dict[str, object] = {name: "x" for name in template_fields(rule)}
    sample.update(
        value=0.5,
        threshold=0.5,
        mean=0.5,
        std=0.1,
        samples=10,
        rule=rule.name,
        metric=rule.metric,
        severity=rule.severity,
        window=format_duration(rule.window),
    )
    sample.update(rule.labels)
    if isinstance(rule, DeliveryRule):  # numbers, so that numeric format specs are tried
        sample.update(dict.fromkeys(DELIVERY_FIELDS, 12.5), forecast="the forecast")
    return sample


def render_annotations(
    templates: Mapping[str, str], fields: Mapping[str, object], in_house: InHouse | None = None
) -> tuple[dict[str, str], list[str]]:
    """Render every template; a failing one keeps its raw text and is reported, never raised.

    A template that fails at alert time must not cost the alert itself. An empty
    ``vendor_id`` (the in-house team) renders as ``in_house``'s name in the
    template's language, never as nothing (``供应商  在项目``).
    """
    rendered: dict[str, str] = {}
    errors: list[str] = []
    names = in_house or InHouse()
    unnamed = fields.get(IN_HOUSE_DIMENSION) == ""
    for key, template in templates.items():
        values = dict(fields)
        if unnamed:
            values[IN_HOUSE_DIMENSION] = names.for_template(template)
        try:
            rendered[key] = _FORMATTER.vformat(template, (), values)
        except (KeyError, IndexError, ValueError, TypeError, AttributeError) as exc:
            rendered[key] = template
            errors.append(f"{key}: {type(exc).__name__}: {exc}")
    return rendered, errors
