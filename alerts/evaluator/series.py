"""One alert's lifecycle: inactive, pending, firing, resolved, repeated.

A series is one rule over one set of scope values (a vendor in a project, a
queue). Each evaluated rule window moves it at most one step, in event time;
what it remembers between windows is kept only while a future window needs it
(``Series.remember``), so high-cardinality scopes stay bounded in memory.
Whether the transition goes out muted is decided afterwards, for the whole
step at once (``alerts.evaluator.muting``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from alerts.evaluator.event import alert_event
from alerts.evaluator.trailing import Trailing
from alerts.evaluator.verdict import Verdict, judge
from alerts.model import NO_DATA_REASON, AlertEvent
from alerts.rules import THROUGHPUT, AnomalyRule, InHouse, Rule
from schemas.metrics import Rate

SeriesKey = tuple[str, ...]  # the values of the rule's scope, in scope order
Status = Literal["inactive", "pending", "firing"]
DAY_S = 86_400


@dataclass
class Candidate:
    """An event before muting is known (inhibition needs the whole step evaluated)."""

    kind: Literal["fire", "repeat", "catchup", "resolve"]
    event: AlertEvent
    series: Series
    delivered: bool


@dataclass
class Series:
    """Lifecycle and memory of one (rule, scope values). Times are epoch seconds."""

    status: Status = "inactive"
    breaches: int = 0  # consecutive breaching windows with data
    starts_at: int | None = None  # start of the first breaching window of the run
    last_seen: int | None = None  # start of the last window with any event (absence)
    last_data: int | None = None  # start of the last window with data (retention)
    baseline: list[float] = field(default_factory=list)  # anomaly rules
    last_notified: int | None = None  # window end of the last firing / repeat event
    delivered: bool = False  # an unmuted firing or repeat went out for this run
    event: AlertEvent | None = None  # the latest firing event (``active``)
    no_data: int = 0  # consecutive windows without data while firing (``no_data_for``)

    def reset(self) -> None:
        self.status, self.breaches, self.starts_at = "inactive", 0, None
        self.last_notified, self.delivered, self.event = None, False, None
        self.no_data = 0

    def on_window(
        self,
        rule: Rule,
        key: SeriesKey,
        start: int,
        end: int,
        vector: list[int] | None,
        throughput: Rate,
        in_house: InHouse | None = None,
        *,
        judged: Verdict | None = None,
    ) -> list[Candidate]:
        """Take the step the rule window ``[start, end)`` calls for.

        ``vector`` is the window's sums (None: no events in it). Called by the
        evaluator once per tracked or present series and window, in time
        order; the returned candidates are the step's events, not yet muted.
        ``judged``: the verdict, when the value is not a rate of sums (a delivery
        rule's forecast, ``alerts.evaluator.delivery``).
        """
        absent = vector is None and self.absence_armed(rule, start)
        last = self.event.threshold if self.event is not None else 0.0
        verdict = judged or judge(rule, vector, absent, self.baseline, last, throughput)
        if vector is not None:
            self.last_seen = start
        if verdict.has_data:
            self.last_data = start

        def candidate(kind: Literal["fire", "repeat", "catchup"]) -> list[Candidate]:
            event = alert_event(
                rule,
                key,
                verdict,
                self.starts_at,
                start,
                end,
                repeat=kind != "fire",
                in_house=in_house,
            )
            return [Candidate(kind, event, self, self.delivered)]

        if self.status == "firing":
            if verdict.breach is not None and not verdict.keep_firing:
                return [self._resolve(rule, key, verdict, start, end, in_house=in_house)]
            if self._without_data(rule, verdict, vector):
                self.no_data += 1
                if rule.no_data == "resolve" and self.no_data >= rule.no_data_for:
                    return [self._resolve(rule, key, verdict, start, end, NO_DATA_REASON, in_house)]
            else:
                self.no_data = 0
            assert self.last_notified is not None
            if end >= self.last_notified + rule.repeat_interval:
                return candidate("repeat")
            return candidate("catchup") if not self.delivered else []
        if verdict.breach is None:
            return []  # no data: neither counts toward `for` nor resets it
        if not verdict.breach:
            self.reset()
            return []
        if self.breaches == 0:
            self.starts_at = start
        self.breaches += 1
        if self.breaches < rule.for_:
            self.status = "pending"
            return []
        self.status, self.delivered = "firing", False
        return candidate("fire")

    @staticmethod
    def _without_data(rule: Rule, verdict: Verdict, vector: list[int] | None) -> bool:
        """A window that cannot be judged, for ``no_data``: too few samples, or no events
        at all, except for throughput, where a window without events is a value (0)
        while absence is armed and the scope's silence afterwards is no news either."""
        if verdict.has_data:
            return False
        return not (rule.metric == THROUGHPUT and vector is None)

    def _resolve(
        self,
        rule: Rule,
        key: SeriesKey,
        verdict: Verdict,
        start: int,
        end: int,
        reason: str | None = None,
        in_house: InHouse | None = None,
    ) -> Candidate:
        """``reason`` None: a good window resolved it; ``no_data``: ``no_data_for`` windows
        without data did (``ends_at`` is then the start of the first of them)."""
        ends_at = start if reason is None else end - self.no_data * rule.every
        event = alert_event(
            rule,
            key,
            verdict,
            self.starts_at,
            start,
            end,
            repeat=False,
            ends_at=ends_at,
            in_house=in_house,
        )
        if reason is not None:
            event = replace(event, resolved_reason=reason)
        delivered = self.delivered
        self.reset()
        return Candidate("resolve", event, self, delivered)

    def remember(self, rule: Rule, end: int) -> bool:
        """Keep only what a future window needs: bounded memory on high-cardinality scopes."""
        if self.status == "firing":
            return True
        lookback = rule.baseline_windows if isinstance(rule, AnomalyRule) else 0
        retention = max(DAY_S, (max(lookback, rule.absent_lookback) + 1) * rule.window)
        recent = self.last_data is not None and self.last_data >= end - retention
        if self.status == "pending":
            return recent
        if self.baseline and recent:
            return True
        return self.absence_armed(rule, end)

    def absence_armed(self, rule: Rule, start: int) -> bool:
        """Whether a window starting at ``start`` with no events counts as throughput 0."""
        return (
            rule.metric == THROUGHPUT
            and rule.absent_lookback > 0
            and self.last_seen is not None
            and self.last_seen >= start - rule.absent_lookback * rule.every
        )


@dataclass
class RuleState:
    """What the evaluator keeps per rule between calls (and snapshots)."""

    next_start: int | None = None  # start of the next rule window to evaluate
    partials: dict[int, dict[SeriesKey, list[int]]] = field(default_factory=dict)
    series: dict[SeriesKey, Series] = field(default_factory=dict)
    # The same windows broken down one level below the scope, for explanations:
    # start -> dimension -> (*series key, member) -> sums (``alerts.evaluator.explain``).
    breakdowns: dict[int, dict[str, dict[SeriesKey, list[int]]]] = field(default_factory=dict)
    trailing: Trailing | None = None  # a trailing rule's running sums over its window
