"""Checks of one rule that pydantic's per-field validation cannot make.

Across fields (a resolve threshold on the wrong side, a ``for`` a stalled
queue could never reach), label names the evaluator sets itself, and
annotation templates tried with sample values: a file that would fail when
its first alert renders is refused when it is loaded. A rule that failed
validation still has its labels and templates checked, so one run of
``annotel rules check`` reports everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from alerts.rules.delivery_rule import DELIVERY_FIELDS, DELIVERY_SCOPE
from alerts.rules.model import (
    MAX_STEPS,
    MAX_WINDOW_S,
    THROUGHPUT,
    TURNAROUND_MAX,
    AnomalyRule,
    Rule,
    ThresholdRule,
)
from alerts.rules.templates import (
    allowed_fields,
    render_annotations,
    sample_fields,
    template_fields,
    template_problems,
)
from schemas.durations import format_duration
from schemas.metrics import KEY_DIMENSIONS
from schemas.yaml_locations import Loc

RESERVED_LABELS = frozenset(("alertname", "severity"))

_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def rule_problems(rule: Rule) -> Iterator[tuple[Loc, str]]:
    """Checks across fields of one rule (pydantic reports single fields)."""
    if isinstance(rule, ThresholdRule) and rule.resolve_threshold is not None:
        lower_is_bad = rule.op in ("<", "<=")
        if lower_is_bad and rule.resolve_threshold < rule.threshold:
            yield (
                ("resolve_threshold",),
                (
                    f"must be >= threshold ({rule.threshold:g}) for op {rule.op!r}: "
                    "an alert resolves on the good side"
                ),
            )
        if not lower_is_bad and rule.resolve_threshold > rule.threshold:
            yield (
                ("resolve_threshold",),
                (
                    f"must be <= threshold ({rule.threshold:g}) for op {rule.op!r}: "
                    "an alert resolves on the good side"
                ),
            )
    if "absent_lookback" in rule.model_fields_set and not rule.is_throughput:
        yield ("absent_lookback",), f"only applies to {THROUGHPUT} rules"
    if (
        isinstance(rule, ThresholdRule)
        and rule.is_throughput
        and rule.op in ("<", "<=")
        and 0 < rule.absent_lookback < rule.for_
    ):
        yield (
            ("for",),
            (
                f"{rule.for_} exceeds absent_lookback ({rule.absent_lookback}): "
                "a stalled queue could never fire"
            ),
        )
    yield from _window_problems(rule)
    yield from _explain_problems(rule)
    yield from _label_problems(rule.labels, rule.scope)
    yield from _annotation_problems(rule.annotations, template_fields(rule), sample_fields(rule))


def _window_problems(rule: Rule) -> Iterator[tuple[Loc, str]]:
    """Tumbling windows up to a day; trailing ones a whole number of ``every``, bounded."""
    window, every = format_duration(rule.window), format_duration(rule.every)
    if rule.every > rule.window:
        yield ("every",), f"every ({every}) is longer than the window ({window})"
        return
    if not rule.trailing:
        if rule.window > MAX_WINDOW_S:
            yield (
                ("window",),
                f"window '{window}' is longer than 24h: a longer window is a trailing one "
                "(set every, e.g. every: 1h)",
            )
        return
    if rule.window % rule.every:
        yield ("every",), f"the window ({window}) is not a whole number of every ({every})"
    elif rule.window // rule.every > MAX_STEPS:
        yield (
            ("every",),
            f"{rule.window // rule.every} evaluations per window ({window} every {every}); "
            f"at most {MAX_STEPS}: evaluate less often",
        )
    if isinstance(rule, AnomalyRule):
        yield ("every",), "anomaly rules use tumbling windows: trailing baselines would overlap"
    if rule.metric == TURNAROUND_MAX:
        yield (
            ("every",),
            f"{TURNAROUND_MAX} is a maximum, which a trailing window cannot keep from sums: "
            "use turnaround_avg_s",
        )


def _explain_problems(rule: Rule) -> Iterator[tuple[Loc, str]]:
    for dim in rule.explain:
        if dim in rule.scope:
            yield ("explain",), f"{dim} is in the scope: each alert is about one {dim} already"


def _label_problems(
    labels: Mapping[str, object], scope: Sequence[str]
) -> Iterator[tuple[Loc, str]]:
    for name in labels:
        if not _LABEL_NAME.match(name):
            yield ("labels", name), "label names are letters, digits and _ (not first)"
        elif name in RESERVED_LABELS or name in scope:
            yield ("labels", name), "set by the evaluator (alertname, severity, scope labels)"


def _annotation_problems(
    annotations: Mapping[str, str], allowed: set[str], sample: Mapping[str, object] | None
) -> Iterator[tuple[Loc, str]]:
    """Unknown fields, then (with sample values) format specs that cannot render."""
    for key, template in annotations.items():
        found = template_problems(template, allowed)
        if not found and sample is not None:
            _rendered, errors = render_annotations({key: template}, sample)
            found = [error.removeprefix(f"{key}: ") for error in errors]
        for message in found:
            yield ("annotations", key), message


def raw_rule_problems(raw: Mapping[str, Any]) -> Iterator[tuple[Loc, str]]:
    """Reference checks on a rule that failed validation, so one run reports everything."""

    def strings(value: object) -> list[str]:
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    def str_map(value: object) -> dict[str, str]:
        if not isinstance(value, dict):
            return {}
        return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}

    scope = [dim for dim in strings(raw.get("scope")) if dim in KEY_DIMENSIONS]
    labels = str_map(raw.get("labels"))
    yield from _label_problems(labels, scope)
    allowed = allowed_fields(scope, list(labels), raw.get("type") == "anomaly")
    if raw.get("type") == "delivery":
        allowed |= {*DELIVERY_FIELDS, *DELIVERY_SCOPE}
    yield from _annotation_problems(str_map(raw.get("annotations")), allowed, None)
