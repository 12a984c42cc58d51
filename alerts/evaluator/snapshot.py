"""The evaluator's state as JSON and back, so a restarted worker continues identically.

What is kept per rule: where its next window starts, its partial windows (and
their breakdowns for explanations), its series' lifecycles (baselines
included); a rule whose definition changed (``_signature``) starts fresh
instead of judging new windows by old sums. The
alert stage writes this inside its snapshot (``alerts.stage``), one rule at
a time (``rule_states``), and restores it after a crash: a restart neither
re-fires nor loses a resolve.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from alerts.evaluator.series import RuleState, Series
from alerts.model import AlertEvent
from alerts.rules import Rule, RuleSet

STATE_VERSION = 1

# One rule of ``Evaluator.state``: name, signature and next_start, the partial
# windows (start, their [key, vector] items), the series ([key, state] items).
RuleStateParts = tuple[
    str, dict[str, Any], Iterator[tuple[int, Iterator[list[Any]]]], Iterator[list[Any]]
]


def _signature(rule: Rule) -> list[Any]:
    """What a rule's stored windows depend on; a change discards its stored state."""
    signature: list[Any] = [rule.type, rule.metric, list(rule.scope), rule.window]
    # (only trailing rules add ``every``: a tumbling rule's state outlives this version)
    return [*signature, rule.every] if rule.trailing else signature


def series_state(series: Series) -> dict[str, Any]:
    event = None
    if series.event is not None:
        event = {"event": series.event.to_dict(), "extra": series.event.extra}
    return {
        "status": series.status,
        "breaches": series.breaches,
        "starts_at": series.starts_at,
        "last_seen": series.last_seen,
        "last_data": series.last_data,
        "baseline": list(series.baseline),
        "last_notified": series.last_notified,
        "delivered": series.delivered,
        "event": event,
        "no_data": series.no_data,
    }


def series_from_state(data: Mapping[str, Any]) -> Series:
    event = None
    if data.get("event") is not None:
        stored = data["event"]
        event = replace(AlertEvent.from_dict(stored["event"]), extra=dict(stored["extra"]))
    return Series(
        status=data["status"],
        breaches=data["breaches"],
        starts_at=data["starts_at"],
        last_seen=data["last_seen"],
        last_data=data["last_data"],
        baseline=[float(v) for v in data["baseline"]],
        last_notified=data["last_notified"],
        delivered=data["delivered"],
        event=event,
        no_data=int(data.get("no_data", 0)),
    )


def state_head(closed_before: int | None, ignored_late_minutes: int) -> dict[str, Any]:
    """The keys of ``Evaluator.state`` before ``rules``."""
    return {
        "version": STATE_VERSION,
        "closed_before": closed_before,
        "ignored_late_minutes": ignored_late_minutes,
    }


def rule_states(rules: RuleSet, states: Mapping[str, RuleState]) -> Iterator[RuleStateParts]:
    """``Evaluator.state()["rules"]`` one rule at a time, its items built as they are read.

    For a snapshot written piece by piece: at 10 000 annotators the copy of
    every series and partial window is tens of MB of small objects, the
    largest short-lived allocation of the worker when built all at once.
    """
    for rule in rules.rules:
        state = states[rule.name]
        head = {
            "signature": _signature(rule),
            "next_start": state.next_start,
            "breakdowns": [
                [start, dim, [[list(key), list(vector)] for key, vector in sorted(parts.items())]]
                for start, dims in sorted(state.breakdowns.items())
                for dim, parts in sorted(dims.items())
            ],
        }
        if state.trailing is not None:
            head["trailing"] = list(state.trailing.state())
        partials = (
            (start, ([list(key), list(vector)] for key, vector in sorted(bucket.items())))
            for start, bucket in sorted(state.partials.items())
        )
        lifecycles = (
            [list(key), series_state(series)] for key, series in sorted(state.series.items())
        )
        yield rule.name, head, partials, lifecycles


def restore(
    rules: RuleSet, states: Mapping[str, RuleState], data: Mapping[str, Any]
) -> tuple[int | None, int]:
    """Fill ``states`` from a ``state()`` copy; returns its (closed_before, ignored minutes)."""
    if data.get("version") != STATE_VERSION:
        raise ValueError(f"unsupported evaluator state version {data.get('version')!r}")
    closed: int | None = data["closed_before"]
    ignored: int = data.get("ignored_late_minutes", 0)
    stored_rules = data.get("rules", {})
    for rule in rules.rules:
        stored = stored_rules.get(rule.name)
        if stored is None or stored.get("signature") != _signature(rule):
            continue  # new or redefined rule: starts fresh
        state = states[rule.name]
        state.next_start = stored["next_start"]
        state.partials = {
            int(start): {tuple(key): list(vector) for key, vector in bucket}
            for start, bucket in stored["partials"]
        }
        state.series = {tuple(key): series_from_state(s) for key, s in stored["series"]}
        if state.trailing is not None:
            state.trailing.restore(stored.get("trailing", ()))
        state.breakdowns = {}
        for start, dim, parts in stored.get("breakdowns", ()):
            state.breakdowns.setdefault(int(start), {})[dim] = {
                tuple(key): list(vector) for key, vector in parts
            }
    return closed, ignored
