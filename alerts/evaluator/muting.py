"""Which transitions go out muted, and by what: inhibit rules first, then silences.

Muting is decided once every rule whose window ends at the same time has been
evaluated, so an inhibiting alert that fires in the same step already mutes.
A muted event is still emitted and stored (``muted_by`` says why; the
dispatcher does not send it). Whatever mutes, a resolve is never muted when
the firing it closes was sent, and a firing that was muted is sent (as a
repeat) at the first evaluation after the mute lifts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from alerts.evaluator.series import Candidate, RuleState
from alerts.model import AlertEvent, fingerprint
from alerts.rules import InhibitRule, RuleSet
from alerts.silences import Silences

# Per inhibit rule: target label values -> (source fingerprint, end of its breach).
Inhibitors = list[dict[tuple[str, ...], tuple[str, datetime | None]]]


def emit(
    rules: RuleSet,
    states: Mapping[str, RuleState],
    candidates: list[Candidate],
    end: int,
    now: datetime,
    silences: Silences | None,
) -> list[AlertEvent]:
    """The events of one step (rule windows ending at ``end``), each with its mute reason.

    Records on each series what went out (``last_notified``, ``event``,
    ``delivered``), which the next repeat and a later resolve depend on.
    """
    sources = _inhibitors(rules, states, [c.event for c in candidates if c.kind == "resolve"])
    events: list[AlertEvent] = []
    for candidate in candidates:
        reason = _mute_reason(rules.inhibit, candidate.event, sources, now, silences)
        if candidate.kind == "resolve":
            # Whoever was paged must hear that it is over, mute or not.
            events.append(
                replace(candidate.event, muted_by=None if candidate.delivered else reason)
            )
            continue
        if candidate.kind == "catchup" and reason is not None:
            continue
        event = replace(candidate.event, muted_by=reason)
        series = candidate.series
        series.last_notified, series.event = end, event
        series.delivered = series.delivered or reason is None
        events.append(event)
    return events


def _inhibitors(
    rules: RuleSet, states: Mapping[str, RuleState], resolving: Sequence[AlertEvent] = ()
) -> Inhibitors:
    """Per inhibit rule: target label values -> (source fingerprint, end of its breach).

    The end is None while the source fires. A source resolving in this very
    step still mutes every target window of the step (its end is taken as the
    step's end): they were judged while the source was firing, and an
    annotator paged at the very moment their vendor's incident ends is that
    incident's noise. If the target still breaches at the next evaluation, it
    is sent then (the catch-up of a muted firing).
    """
    result: Inhibitors = []
    for inhibit in rules.inhibit:
        source = rules.rule(inhibit.source.rule)
        index: dict[tuple[str, ...], tuple[str, datetime | None]] = {}
        dims = inhibit.target_scope_contains
        for event in resolving:
            if event.rule == source.name and all(d in event.scope for d in dims):
                values = tuple(event.scope[d] for d in dims)
                index.setdefault(values, (event.fingerprint, event.window_end))
        series_map = states[source.name].series
        for key in sorted(series_map):
            series = series_map[key]
            if series.status != "firing":
                continue
            scope = dict(zip(source.scope, key, strict=True))
            values = tuple(scope[dim] for dim in inhibit.target_scope_contains)
            if values not in index or index[values][1] is not None:
                # (its event may be emitted in this very step)
                index[values] = (fingerprint(source.name, scope), None)
        result.append(index)
    return result


def _mute_reason(
    inhibit_rules: Sequence[InhibitRule],
    event: AlertEvent,
    sources: Inhibitors,
    now: datetime,
    silences: Silences | None,
) -> str | None:
    for inhibit, index in zip(inhibit_rules, sources, strict=True):
        dims = inhibit.target_scope_contains
        if not inhibit.mutes(event.rule) or not all(d in event.scope for d in dims):
            continue
        source = index.get(tuple(event.scope[d] for d in dims))
        if source is not None and (source[1] is None or event.window_start < source[1]):
            return f"inhibit:{source[0]}"
    if silences is not None:
        silence = silences.match(event.labels, now)
        if silence is not None:
            return f"silence:{silence.id}"
    return None
