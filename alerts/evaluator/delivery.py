"""Delivery rules: each queue's forecast judged with the lifecycle of every other alert.

The forecasts arrive with their closed minute (``alerts.handoff``,
``FORECAST_FIELDS``). A delivery rule's window ``[start, end)`` takes, per
queue, the forecast of the latest minute in it that has one (the forecast as
of the window's end); its verdict is the threshold rule's (``op``,
``threshold``, ``resolve_threshold``), and ``Series`` runs the lifecycle,
``muting.emit`` inhibition and silences, exactly as for the other rules. A
queue without a forecast in a window is no data. A stalled queue (work open,
nothing submitted in the trailing window) has no ETA, hence no slack: for a
``slack_h`` rule that fires below a threshold it breaches (its value is
``no data``, its text says "stalled").

Evaluated beside ``Evaluator`` by the alert stage, with a state of its own
in the stage's snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from alerts.evaluator.muting import emit
from alerts.evaluator.series import Candidate, RuleState, Series
from alerts.evaluator.snapshot import series_from_state, series_state
from alerts.evaluator.verdict import Verdict
from alerts.forecast_record import FORECAST_FIELDS
from alerts.model import AlertEvent
from alerts.rules import RuleSet, compare
from alerts.rules.delivery_rule import DeliveryRule
from alerts.silences import Silences
from schemas.forecast_text import QueueForecast, forecast_text
from schemas.metrics import WINDOW_SECONDS, throughput_rate

STATE_VERSION = 1
_AT = {name: i for i, name in enumerate(FORECAST_FIELDS)}
QueueKey = tuple[str, ...]


def without_delivery(rules: RuleSet) -> RuleSet:
    """The rules ``Evaluator`` judges from sums: all but the delivery rules (and the
    inhibit rules whose source is one)."""
    names = {rule.name for rule in rules.rules if isinstance(rule, DeliveryRule)}
    if not names:
        return rules
    return replace(
        rules,
        rules=tuple(r for r in rules.rules if r.name not in names),
        inhibit=tuple(i for i in rules.inhibit if i.source.rule not in names),
    )


def queue_forecast(record: Sequence[Any]) -> QueueForecast:
    return QueueForecast(**{name: record[_AT[name]] for name in QueueForecast.__slots__})


def verdict_of(rule: DeliveryRule, record: Sequence[Any] | None) -> Verdict:
    """The rule's verdict on a queue's forecast (None: no forecast in the window)."""
    if record is None:
        return Verdict(None, 0, False, None, False, rule.threshold)
    value = record[_AT[rule.metric]]
    forecast = queue_forecast(record)
    extra = {
        "open_tasks": float(forecast.open_tasks),
        "throughput_per_hour": float(forecast.throughput_per_hour),
        "annotators_active": float(forecast.annotators_active),
    }
    for name in ("annotators_needed", "annotators_gap", "slack_h"):
        if record[_AT[name]] is not None:
            extra[name] = float(record[_AT[name]])
    if value is None:
        stalled = (
            rule.metric == "slack_h"
            and forecast.eta_us is None
            and forecast.due_us is not None
            and rule.op in ("<", "<=")
        )
        if stalled:  # no ETA: later than any threshold
            return Verdict(None, 1, True, True, True, rule.threshold, extra)
        return Verdict(None, 0, False, None, False, rule.threshold, extra)
    breach = compare(rule.op, value, rule.threshold)
    keep = compare(rule.op, value, rule.resolve_at)
    return Verdict(float(value), 1, True, breach, keep, rule.threshold, extra)


class DeliveryEvaluator:
    """Forecasts of closed minutes in, delivery alert transitions out, in event time."""

    def __init__(self, rules: RuleSet, state: Mapping[str, Any] | None = None) -> None:
        self._rules = [rule for rule in rules.rules if isinstance(rule, DeliveryRule)]
        names = {rule.name for rule in self._rules}
        # Muting among the delivery rules: their inhibit rules, and the silences.
        self._own = replace(
            rules,
            rules=tuple(self._rules),
            inhibit=tuple(i for i in rules.inhibit if i.source.rule in names),
        )
        self._states = {rule.name: RuleState() for rule in self._rules}
        self._forecasts: dict[int, dict[QueueKey, list[Any]]] = {}
        self._text: dict[tuple[str, datetime], str] = {}  # (fingerprint, window end) -> text
        if state:
            self._restore(state)

    def add(self, minute: int, forecasts: Iterable[Sequence[Any]]) -> None:
        """The forecasts of one closed minute (one list per queue)."""
        if not self._rules:
            return
        held = self._forecasts.setdefault(minute, {})
        for record in forecasts:
            held[(record[0], record[1])] = list(record)

    def advance(
        self, closed_before: int, now: datetime, silences: Silences | None = None
    ) -> list[AlertEvent]:
        """Evaluate every delivery rule window ending at or before ``closed_before``."""
        target = -(-closed_before // WINDOW_SECONDS) * WINDOW_SECONDS
        events: list[AlertEvent] = []
        while True:
            end: int | None = None
            due: list[DeliveryRule] = []
            for rule in self._rules:
                start = self._next_start(rule)
                if start is None or start + rule.window > target:
                    continue
                if end is None or start + rule.window < end:
                    end, due = start + rule.window, [rule]
                elif start + rule.window == end:
                    due.append(rule)
            if end is None:
                break
            candidates: list[Candidate] = []
            for rule in due:
                candidates.extend(self._evaluate(rule, end))
            if candidates:
                events.extend(emit(self._own, self._states, candidates, end, now, silences))
        events = [self._with_text(event) for event in events]
        self._forget(target)
        return events

    def _next_start(self, rule: DeliveryRule) -> int | None:
        state = self._states[rule.name]
        if state.series and state.next_start is not None:
            return state.next_start
        later = [m for m in self._forecasts if state.next_start is None or m >= state.next_start]
        if not later:
            return None
        first = min(later)
        return first - first % rule.window

    def _evaluate(self, rule: DeliveryRule, end: int) -> list[Candidate]:
        state = self._states[rule.name]
        start = end - rule.window
        state.next_start = end
        latest: dict[QueueKey, list[Any]] = {}
        for minute in sorted(m for m in self._forecasts if start <= m < end):
            latest.update(self._forecasts[minute])
        throughput = throughput_rate(rule.window)
        candidates: list[Candidate] = []
        for key in sorted(latest.keys() | state.series.keys()):
            series = state.series.get(key) or Series()
            record = latest.get(key)
            verdict = verdict_of(rule, record)
            found = series.on_window(
                rule, key, start, end, None, throughput, self._own.names.in_house, judged=verdict
            )
            if record is not None:
                series.last_seen = start
                text = forecast_text(queue_forecast(record))
                for candidate in found:
                    self._text[(candidate.event.fingerprint, candidate.event.window_end)] = text
            candidates.extend(found)
            if series.remember(rule, end):
                state.series[key] = series
            else:
                state.series.pop(key, None)
        return candidates

    def _with_text(self, event: AlertEvent) -> AlertEvent:
        """The event with the forecast in words (``forecast``; ``summary`` unless the rule
        has its own) and its template fields rendered again with it."""
        text = self._text.get((event.fingerprint, event.window_end))
        if text is None:
            return event
        annotations = {**event.annotations, "forecast": text}
        queue = f"{event.scope.get('queue_id')} ({event.scope.get('project_id')})"
        annotations.setdefault("summary", f"{queue}: {text}")
        return replace(event, annotations=annotations)

    def _forget(self, target: int) -> None:
        """Forecasts every rule has evaluated past are dropped (bounded memory)."""
        floor = min(
            (s.next_start for s in self._states.values() if s.next_start is not None),
            default=target,
        )
        for minute in [m for m in self._forecasts if m < floor]:
            del self._forecasts[minute]
        self._text.clear()

    # -- state ------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "forecasts": [
                [minute, list(held.values())] for minute, held in sorted(self._forecasts.items())
            ],
            "rules": {
                rule.name: {
                    "signature": [rule.metric, rule.window],
                    "next_start": self._states[rule.name].next_start,
                    "series": [
                        [list(key), series_state(series)]
                        for key, series in sorted(self._states[rule.name].series.items())
                    ],
                }
                for rule in self._rules
            },
        }

    def _restore(self, state: Mapping[str, Any]) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported delivery state version {state.get('version')!r}")
        for minute, records in state.get("forecasts", []):
            self.add(int(minute), records)
        for rule in self._rules:
            stored = state.get("rules", {}).get(rule.name)
            if stored is None or stored.get("signature") != [rule.metric, rule.window]:
                continue
            target = self._states[rule.name]
            target.next_start = stored["next_start"]
            target.series = {tuple(k): series_from_state(s) for k, s in stored["series"]}
