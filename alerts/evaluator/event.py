"""The ``AlertEvent`` of one transition: scope, labels, rendered annotations, event times.

Built from the rule, the series' scope values and the window's verdict only
(no clock, no randomness), so a replay of the same minutes builds the same
event with the same id. A template that fails to render keeps its raw text and
adds ``template_error``: it never costs the alert itself.
"""

from __future__ import annotations

from alerts.evaluator.verdict import Verdict
from alerts.model import AlertEvent, fingerprint
from alerts.rules import AnomalyRule, InHouse, Rule, render_annotations
from schemas.durations import format_duration
from schemas.units import from_epoch_s


def alert_event(
    rule: Rule,
    key: tuple[str, ...],
    verdict: Verdict,
    starts_at: int | None,
    start: int,
    end: int,
    repeat: bool,
    ends_at: int | None = None,
    in_house: InHouse | None = None,
) -> AlertEvent:
    """The event for the rule window ``[start, end)`` of the series ``key`` (its scope values).

    ``starts_at``: start of the first breaching window of the run; ``ends_at``
    (a resolve): start of the window that resolved it; ``in_house``: the names of the
    empty vendor in the annotations.
    """
    scope = dict(zip(rule.scope, key, strict=True))
    # A window that could not be judged (too few samples) reports no value: its rate
    # over a handful of samples is no measure of the alert (and never its "worst").
    value = verdict.value if verdict.has_data else None
    fields: dict[str, object] = {**rule.labels, **scope}
    if isinstance(rule, AnomalyRule):
        fields.update(mean=None, std=None)
    fields.update(
        value=value,
        threshold=verdict.threshold,
        rule=rule.name,
        metric=rule.metric,
        severity=rule.severity,
        window=format_duration(rule.window),
        samples=verdict.samples,
        **verdict.extra,
    )
    annotations, errors = render_annotations(rule.annotations, fields, in_house)
    if errors:
        annotations["template_error"] = "; ".join(errors)
    assert starts_at is not None
    return AlertEvent(
        fingerprint=fingerprint(rule.name, scope),
        rule=rule.name,
        status="resolved" if ends_at is not None else "firing",
        severity=rule.severity,
        scope=scope,
        labels={"alertname": rule.name, "severity": rule.severity, **scope, **rule.labels},
        annotations=annotations,
        metric=rule.metric,
        value=value,
        threshold=verdict.threshold,
        window_start=from_epoch_s(start),
        window_end=from_epoch_s(end),
        starts_at=from_epoch_s(starts_at),
        ends_at=None if ends_at is None else from_epoch_s(ends_at),
        receivers=rule.receivers,
        repeat=repeat,
        extra={"samples": verdict.samples, **verdict.extra},
    )
