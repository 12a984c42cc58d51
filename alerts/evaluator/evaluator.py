"""The evaluator: closed minutes in, rule windows evaluated in time order, transitions out.

It owns the order of things (module docstring of ``alerts.evaluator``): a
minute is admitted only while it is open; ``advance`` evaluates every rule
window the closed minutes complete, ending earliest first, and rules whose
windows end together are all evaluated before muting is decided. What each
step does is in the modules it drives: ``partials`` (sums), ``series``
(lifecycle, with ``verdict`` and ``event``), ``muting``, ``snapshot``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import alerts.evaluator.snapshot as snapshot
from alerts.evaluator.delivery import without_delivery
from alerts.evaluator.explain import by_series, explain
from alerts.evaluator.muting import emit
from alerts.evaluator.partials import KEY_WIDTH, PartialWindows, WindowKey
from alerts.evaluator.series import Candidate, RuleState, Series, SeriesKey
from alerts.evaluator.trailing import Trailing
from alerts.model import AlertEvent
from alerts.rules import Rule, RuleSet
from alerts.silences import Silences
from schemas.metrics import AGGREGATE_FIELDS, MAX_FIELDS, WINDOW_SECONDS, throughput_rate

# Positions of the aggregate's maxima: a trailing window keeps sums only.
MAX_POSITIONS = tuple(i for i, name in enumerate(AGGREGATE_FIELDS) if name in MAX_FIELDS)


class Evaluator:
    """Composes closed minutes into rule windows and runs each alert's lifecycle.

    ``state()`` / ``Evaluator(rules, state=...)`` continue identically, so a
    restarted worker neither re-fires nor loses a resolve.
    """

    def __init__(self, rules: RuleSet, state: dict[str, Any] | None = None) -> None:
        rules = without_delivery(rules)  # judged by alerts.evaluator.delivery
        self._rules = rules
        self._closed: int | None = None
        self._ignored = 0
        self._states = {
            rule.name: RuleState(trailing=Trailing(len(rule.scope), MAX_POSITIONS))
            if rule.trailing
            else RuleState()
            for rule in rules.rules
        }
        self._throughput = {rule.name: throughput_rate(rule.window) for rule in rules.rules}
        self._partials = PartialWindows(rules.rules, self._states)
        if state is not None:
            self._closed, self._ignored = snapshot.restore(rules, self._states, state)

    # -- input ------------------------------------------------------------------------------

    @property
    def closed_before(self) -> int | None:
        return self._closed

    @property
    def ignored_late_minutes(self) -> int:
        """``add_minute`` calls for already closed minutes (corrections do not re-evaluate)."""
        return self._ignored

    def add_minute(self, window_start: int, aggregates: Mapping[WindowKey, Sequence[int]]) -> None:
        """Add (part of) one closed minute; pieces of the same minute are summed."""
        if self._admit(window_start) and aggregates:
            self._partials.add(window_start, list(aggregates), list(aggregates.values()), False)

    def add_rows(self, window_start: int, rows: Sequence[Sequence[Any]]) -> None:
        """``add_minute`` for rows laid out as on the windows topic, without re-keying them.

        A row is the six key dimensions (``KEY_DIMENSIONS`` order) followed by
        the aggregate; the keys of one call are distinct (one closed window).
        """
        if self._admit(window_start) and rows:
            self._partials.add(window_start, rows, [row[KEY_WIDTH:] for row in rows], True)

    def add_errors(self, window_start: int, rows: Sequence[Sequence[Any]]) -> None:
        """The error-category counts of (part of) one closed minute, laid out as on the
        windows topic: the six key dimensions, the category, the count. They only
        explain alerts, so a minute already evaluated ignores them silently."""
        if window_start % WINDOW_SECONDS:
            raise ValueError(f"window_start {window_start} is not a whole minute")
        if self._closed is None or window_start >= self._closed:
            self._partials.add_errors(window_start, rows)

    def _admit(self, window_start: int) -> bool:
        if window_start % WINDOW_SECONDS:
            raise ValueError(f"window_start {window_start} is not a whole minute")
        if self._closed is not None and window_start < self._closed:
            self._ignored += 1
            return False
        return True

    # -- evaluation -------------------------------------------------------------------------

    def advance(
        self, closed_before: int, now: datetime, silences: Silences | None = None
    ) -> list[AlertEvent]:
        """Evaluate every rule window that ends at or before ``closed_before``, in time order.

        ``closed_before`` is rounded up to a whole minute (a minute that
        starts before it is complete). Rules whose windows end together are
        evaluated in file order before muting is decided, so an inhibiting
        alert that fires in the same step already mutes.
        """
        target = -(-closed_before // WINDOW_SECONDS) * WINDOW_SECONDS
        if self._closed is not None and target <= self._closed:
            return []
        self._closed = target
        events: list[AlertEvent] = []
        while True:
            end, due = self._next_due(target)
            if end is None:
                return events
            candidates: list[Candidate] = []
            for rule in due:
                candidates.extend(self._evaluate_window(rule, end))
            if candidates:
                events.extend(emit(self._rules, self._states, candidates, end, now, silences))

    def _next_due(self, target: int) -> tuple[int | None, list[Rule]]:
        end: int | None = None
        due: list[Rule] = []
        for rule in self._rules.rules:
            start = self._next_start(rule)
            if start is None or start + rule.every > target:
                continue
            candidate = start + rule.every
            if end is None or candidate < end:
                end, due = candidate, [rule]
            elif candidate == end:
                due.append(rule)
        return end, due

    def _next_start(self, rule: Rule) -> int | None:
        """Consecutive windows while series are tracked; otherwise skip to the next data."""
        state = self._states[rule.name]
        if state.series or (state.trailing is not None and state.trailing.history):
            return state.next_start
        return min(state.partials) if state.partials else None

    def _evaluate_window(self, rule: Rule, end: int) -> list[Candidate]:
        state = self._states[rule.name]
        start = end - rule.window
        partial = state.partials.pop(end - rule.every, {})
        if state.trailing is not None:
            # The newest bucket in, the buckets that left the window out: the window's sums.
            state.trailing.push(end - rule.every, partial, start)
            partial = state.trailing.sums
        breakdown = state.breakdowns.pop(start, {})
        state.next_start = end
        throughput = self._throughput[rule.name]
        candidates: list[Candidate] = []
        members: dict[SeriesKey, dict[str, dict[str, list[int]]]] | None = None
        for key in sorted(partial.keys() | state.series.keys()):
            series = state.series.get(key) or Series()
            found = series.on_window(
                rule, key, start, end, partial.get(key), throughput, self._rules.names.in_house
            )
            for candidate in found:
                if candidate.kind != "resolve" and candidate.event.value is not None and breakdown:
                    if members is None:
                        members = by_series(breakdown)
                    candidate.event = replace(
                        candidate.event,
                        explanation=explain(
                            rule,
                            candidate.event.value,
                            candidate.event.threshold,
                            rule.window / 3600,
                            members.get(key, {}),
                            None,
                        ),
                    )
            candidates.extend(found)
            if series.remember(rule, end):
                state.series[key] = series
            else:
                state.series.pop(key, None)
        return candidates

    # -- state ------------------------------------------------------------------------------

    def active(self) -> list[AlertEvent]:
        """The latest event of every firing alert, oldest breach first."""
        events = [
            series.event
            for state in self._states.values()
            for series in state.series.values()
            if series.status == "firing" and series.event is not None
        ]
        return sorted(events, key=lambda e: (e.starts_at, e.rule, e.fingerprint))

    def state(self) -> dict[str, Any]:
        """A JSON-serializable copy (orjson): partial windows, baselines and lifecycles."""
        return {
            **self.state_head(),
            "rules": {
                name: {
                    **head,
                    "partials": [[start, list(items)] for start, items in partials],
                    "series": list(series),
                }
                for name, head, partials, series in self.rule_states()
            },
        }

    def state_head(self) -> dict[str, Any]:
        """The keys of ``state`` before ``rules``."""
        return snapshot.state_head(self._closed, self._ignored)

    def rule_states(self) -> Iterator[snapshot.RuleStateParts]:
        """``state()["rules"]`` one rule at a time (``snapshot.rule_states``)."""
        return snapshot.rule_states(self._rules, self._states)
