"""The pure alert evaluator: closed 1-minute windows in, alert transitions out.

No I/O and no wall clock: everything is decided in event time, so a replay of
the same minutes gives the same events, in the same order, with the same ids.
The only wall-clock input is the ``now`` given to ``advance``, used for
nothing but silence expiry.

Choices where the spec is silent (docs/alerts.md explains them to users):

- samples: the rate's denominator; ``turnaround_count`` for
  ``turnaround_max_s``; task outcomes (submitted + skipped + expired) for
  ``throughput_per_hour``.
- absence: an absent scope evaluates to throughput 0 with data, whatever
  ``min_samples`` says; otherwise a stalled queue could never fire.
- anomaly: sample standard deviation (n - 1) of the previous
  ``baseline_windows`` values with data, floored at ``min_std`` and at
  ``min_std_ratio`` (default 5 %) of |mean|, so a flat or nearly flat baseline
  cannot fire on noise; when the floored value is still 0 (flat at 0, no
  ``min_std``) the window cannot breach. Breaching windows join the baseline,
  so a lasting level shift becomes the new normal and resolves.
- a resolve is never muted when the firing it closes was sent; a firing that
  was muted is sent (as a repeat) at the first evaluation after the mute lifts.
- memory: series that are not firing are forgotten after
  ``max(24 h, (lookback + 1) windows)`` without data, pending ones included.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from operator import add, itemgetter
from typing import Any, Literal, cast

from alerts.model import AlertEvent, fingerprint
from alerts.rules import (
    THROUGHPUT,
    TURNAROUND_MAX,
    AnomalyRule,
    Rule,
    RuleSet,
    compare,
    render_annotations,
)
from alerts.silences import Silences
from schemas.durations import format_duration
from schemas.metrics import (
    AGGREGATE_FIELDS,
    KEY_DIMENSIONS,
    MAX_FIELDS,
    MICRO,
    MICRO_FIELD_NAMES,
    RATES,
    WINDOW_SECONDS,
    Rate,
    throughput_rate,
)
from schemas.units import from_epoch_s

# (window_start epoch s, project_id, queue_id, vendor_id, locale, source, annotator_id)
WindowKey = tuple[int, str, str, str, str, str, str]
SeriesKey = tuple[str, ...]
Status = Literal["inactive", "pending", "firing"]
STATE_VERSION = 1
DAY_S = 86_400

_WIDTH = len(AGGREGATE_FIELDS)
_IDX = {name: i for i, name in enumerate(AGGREGATE_FIELDS)}
_MAX_INDEXES = tuple(i for i, name in enumerate(AGGREGATE_FIELDS) if name in MAX_FIELDS)
_DIVISORS = tuple(MICRO if name in MICRO_FIELD_NAMES else 1 for name in AGGREGATE_FIELDS)
_DIM_POSITION = {dim: i + 1 for i, dim in enumerate(KEY_DIMENSIONS)}
_KEY_WIDTH = len(KEY_DIMENSIONS)  # dimensions at the head of a windows-topic row
_OUTCOMES = tuple(_IDX[name] for name in ("tasks_submitted", "tasks_skipped", "tasks_expired"))


Projector = Callable[[Sequence[Any]], SeriesKey]
# One rule of ``Evaluator.state``: name, signature and next_start, the partial
# windows (start, their [key, vector] items), the series ([key, state] items).
RuleStateParts = tuple[
    str, dict[str, Any], Iterator[tuple[int, Iterator[list[Any]]]], Iterator[list[Any]]
]


def _projector(positions: Sequence[int]) -> Projector:
    """``row -> tuple(row[p] for p in positions)``, in C for two or more positions."""
    if not positions:
        return lambda _row: ()
    if len(positions) == 1:
        (position,) = positions
        return lambda row: (row[position],)
    return cast(Projector, itemgetter(*positions))


def _combine(acc: Sequence[int], values: Sequence[int]) -> list[int]:
    """A new vector: ``acc`` and ``values`` summed field by field, maxima kept as maxima."""
    out = list(map(add, acc, values))
    for i in _MAX_INDEXES:
        out[i] = values[i] if values[i] > acc[i] else acc[i]  # max(acc[i], values[i])
    return out


@dataclass
class _Series:
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

    def reset(self) -> None:
        self.status, self.breaches, self.starts_at = "inactive", 0, None
        self.last_notified, self.delivered, self.event = None, False, None

    def to_state(self) -> dict[str, Any]:
        event = None
        if self.event is not None:
            event = {"event": self.event.to_dict(), "extra": self.event.extra}
        return {
            "status": self.status,
            "breaches": self.breaches,
            "starts_at": self.starts_at,
            "last_seen": self.last_seen,
            "last_data": self.last_data,
            "baseline": list(self.baseline),
            "last_notified": self.last_notified,
            "delivered": self.delivered,
            "event": event,
        }

    @classmethod
    def from_state(cls, data: Mapping[str, Any]) -> _Series:
        event = None
        if data.get("event") is not None:
            stored = data["event"]
            event = replace(AlertEvent.from_dict(stored["event"]), extra=dict(stored["extra"]))
        return cls(
            status=data["status"],
            breaches=data["breaches"],
            starts_at=data["starts_at"],
            last_seen=data["last_seen"],
            last_data=data["last_data"],
            baseline=[float(v) for v in data["baseline"]],
            last_notified=data["last_notified"],
            delivered=data["delivered"],
            event=event,
        )


@dataclass
class _RuleState:
    next_start: int | None = None  # start of the next rule window to evaluate
    partials: dict[int, dict[SeriesKey, list[int]]] = field(default_factory=dict)
    series: dict[SeriesKey, _Series] = field(default_factory=dict)


@dataclass(frozen=True)
class _Verdict:
    """One rule window of one series. ``breach`` None: not judged (no data, or no baseline)."""

    value: float | None
    samples: int
    has_data: bool  # enough samples (or absent throughput): it may enter a baseline
    breach: bool | None
    keep_firing: bool
    threshold: float
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class _Candidate:
    """An event before muting is known (inhibition needs the whole step evaluated)."""

    kind: Literal["fire", "repeat", "catchup", "resolve"]
    event: AlertEvent
    series: _Series
    delivered: bool


def _signature(rule: Rule) -> list[Any]:
    """What a rule's stored windows depend on; a change discards its stored state."""
    return [rule.type, rule.metric, list(rule.scope), rule.window]


class Evaluator:
    """Composes closed minutes into rule windows and runs each alert's lifecycle.

    ``state()`` / ``Evaluator(rules, state=...)`` continue identically, so a
    restarted worker neither re-fires nor loses a resolve.
    """

    def __init__(self, rules: RuleSet, state: dict[str, Any] | None = None) -> None:
        self._rules = rules
        self._closed: int | None = None
        self._ignored = 0
        self._states = {rule.name: _RuleState() for rule in rules.rules}
        self._positions = {
            rule.name: tuple(_DIM_POSITION[dim] for dim in rule.scope) for rule in rules.rules
        }
        self._throughput = {rule.name: throughput_rate(rule.window) for rule in rules.rules}
        # Rules grouped by scope, then by window length: a closed key is projected once
        # per distinct scope, the keys of one piece of a minute are summed per scope
        # first, and rules with the same scope and window length share their partial
        # windows (see ``_accumulate``). Per group: projector of a WindowKey, projector
        # of a windows-topic row (the six dimensions first), (window, rules) pairs.
        groups: dict[tuple[int, ...], dict[int, list[_RuleState]]] = {}
        for rule in rules.rules:
            windows = groups.setdefault(self._positions[rule.name], {})
            windows.setdefault(rule.window, []).append(self._states[rule.name])
        self._groups = [
            (_projector(positions), _projector([p - 1 for p in positions]), list(windows.items()))
            for positions, windows in groups.items()
        ]
        if state is not None:
            self._restore(state)

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
            self._accumulate(window_start, list(aggregates), list(aggregates.values()), False)

    def add_rows(self, window_start: int, rows: Sequence[Sequence[Any]]) -> None:
        """``add_minute`` for rows laid out as on the windows topic, without re-keying them.

        A row is the six key dimensions (``KEY_DIMENSIONS`` order) followed by
        the aggregate; the keys of one call are distinct (one closed window).
        """
        if self._admit(window_start) and rows:
            self._accumulate(window_start, rows, [row[_KEY_WIDTH:] for row in rows], True)

    def _admit(self, window_start: int) -> bool:
        if window_start % WINDOW_SECONDS:
            raise ValueError(f"window_start {window_start} is not a whole minute")
        if self._closed is not None and window_start < self._closed:
            self._ignored += 1
            return False
        return True

    def _accumulate(
        self,
        minute: int,
        keys: Sequence[Sequence[Any]],
        vectors: Sequence[Sequence[int]],
        rows: bool,
    ) -> None:
        """Sum the keys per distinct scope once, then into the rules' partial windows.

        Every vector is validated before any state changes. Stored vectors are
        always new lists (``list`` / ``_combine``), never the caller's. Rules of
        the same scope and window length hold the same bucket object for a
        window start (their contents would be equal anyway), so it is summed
        into once; nothing changes a bucket once its window is evaluated (later
        minutes are ignored as late). Buckets restored from a snapshot are
        separate objects and are summed into separately; only rules that had no
        bucket for that start share the new one.
        """
        if set(map(len, vectors)) - {_WIDTH}:
            bad = next(i for i, v in enumerate(vectors) if len(v) != _WIDTH)
            raise ValueError(
                f"aggregate of {keys[bad]} has {len(vectors[bad])} fields, not {_WIDTH}"
            )
        for key_projector, row_projector, members in self._groups:
            summed: dict[SeriesKey, Sequence[int]] = {}
            get = summed.get
            for series_key, values in zip(
                map(row_projector if rows else key_projector, keys), vectors, strict=True
            ):
                acc = get(series_key)
                summed[series_key] = values if acc is None else _combine(acc, values)
            for window, states in members:
                start = minute - minute % window
                buckets: list[dict[SeriesKey, list[int]]] = []
                new: dict[SeriesKey, list[int]] | None = None  # shared by rules without one
                for state in states:
                    bucket = state.partials.get(start)
                    if bucket is None:
                        if new is None:
                            new = {}
                            buckets.append(new)
                        state.partials[start] = new
                    elif not any(bucket is seen for seen in buckets):
                        buckets.append(bucket)
                for bucket in buckets:
                    for series_key, values in summed.items():
                        acc = bucket.get(series_key)
                        bucket[series_key] = list(values) if acc is None else _combine(acc, values)

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
            candidates: list[_Candidate] = []
            for rule in due:
                candidates.extend(self._evaluate_window(rule, end))
            if candidates:
                events.extend(self._emit(candidates, end, now, silences))

    def _next_due(self, target: int) -> tuple[int | None, list[Rule]]:
        end: int | None = None
        due: list[Rule] = []
        for rule in self._rules.rules:
            start = self._next_start(rule)
            if start is None or start + rule.window > target:
                continue
            candidate = start + rule.window
            if end is None or candidate < end:
                end, due = candidate, [rule]
            elif candidate == end:
                due.append(rule)
        return end, due

    def _next_start(self, rule: Rule) -> int | None:
        """Consecutive windows while series are tracked; otherwise skip to the next data."""
        state = self._states[rule.name]
        if state.series:
            return state.next_start
        return min(state.partials) if state.partials else None

    def _evaluate_window(self, rule: Rule, end: int) -> list[_Candidate]:
        state = self._states[rule.name]
        start = end - rule.window
        partial = state.partials.pop(start, {})
        state.next_start = end
        candidates: list[_Candidate] = []
        for key in sorted(partial.keys() | state.series.keys()):
            series = state.series.get(key) or _Series()
            candidates.extend(self._lifecycle(rule, key, series, start, end, partial.get(key)))
            if self._remember(rule, series, end):
                state.series[key] = series
            else:
                state.series.pop(key, None)
        return candidates

    def _lifecycle(
        self,
        rule: Rule,
        key: SeriesKey,
        series: _Series,
        start: int,
        end: int,
        vector: list[int] | None,
    ) -> list[_Candidate]:
        verdict = self._verdict(rule, series, start, vector)
        if vector is not None:
            series.last_seen = start
        if verdict.has_data:
            series.last_data = start

        def candidate(kind: Literal["fire", "repeat", "catchup"]) -> list[_Candidate]:
            event = self._event(rule, key, series, verdict, start, end, repeat=kind != "fire")
            return [_Candidate(kind, event, series, series.delivered)]

        if series.status == "firing":
            if verdict.breach is not None and not verdict.keep_firing:
                return [self._resolve(rule, key, series, verdict, start, end)]
            assert series.last_notified is not None
            if end >= series.last_notified + rule.repeat_interval:
                return candidate("repeat")
            return candidate("catchup") if not series.delivered else []
        if verdict.breach is None:
            return []  # no data: neither counts toward `for` nor resets it
        if not verdict.breach:
            series.reset()
            return []
        if series.breaches == 0:
            series.starts_at = start
        series.breaches += 1
        if series.breaches < rule.for_:
            series.status = "pending"
            return []
        series.status, series.delivered = "firing", False
        return candidate("fire")

    def _resolve(
        self, rule: Rule, key: SeriesKey, series: _Series, verdict: _Verdict, start: int, end: int
    ) -> _Candidate:
        event = self._event(rule, key, series, verdict, start, end, repeat=False, ends_at=start)
        delivered = series.delivered
        series.reset()
        return _Candidate("resolve", event, series, delivered)

    def _remember(self, rule: Rule, series: _Series, end: int) -> bool:
        """Keep only what a future window needs: bounded memory on high-cardinality scopes."""
        if series.status == "firing":
            return True
        lookback = rule.baseline_windows if isinstance(rule, AnomalyRule) else 0
        retention = max(DAY_S, (max(lookback, rule.absent_lookback) + 1) * rule.window)
        recent = series.last_data is not None and series.last_data >= end - retention
        if series.status == "pending":
            return recent
        if series.baseline and recent:
            return True
        return self._absence_armed(rule, series, end)

    @staticmethod
    def _absence_armed(rule: Rule, series: _Series, start: int) -> bool:
        """Whether a window starting at ``start`` with no events counts as throughput 0."""
        return (
            rule.metric == THROUGHPUT
            and rule.absent_lookback > 0
            and series.last_seen is not None
            and series.last_seen >= start - rule.absent_lookback * rule.window
        )

    # -- values -----------------------------------------------------------------------------

    def _measure(self, rule: Rule, vector: list[int]) -> tuple[float | None, int]:
        """The rule window's value and samples (the denominator that makes it trustworthy)."""
        if rule.metric == THROUGHPUT:
            samples = sum(vector[i] for i in _OUTCOMES)
            sums = {"tasks_submitted": float(vector[_IDX["tasks_submitted"]])}
            return self._throughput[rule.name].value(sums), samples
        if rule.metric == TURNAROUND_MAX:
            samples = vector[_IDX["turnaround_count"]]
            value = vector[_IDX["turnaround_max_s"]] / MICRO if samples else None
            return value, samples
        rate: Rate = RATES[rule.metric]
        sums = {
            name: vector[i] / _DIVISORS[i] if _DIVISORS[i] != 1 else float(vector[i])
            for i, name in enumerate(AGGREGATE_FIELDS)
        }
        return rate.value(sums), int(rate.denominator(sums))

    def _verdict(
        self, rule: Rule, series: _Series, start: int, vector: list[int] | None
    ) -> _Verdict:
        absent = vector is None and self._absence_armed(rule, series, start)
        value: float | None = None
        samples = 0
        if absent:
            value = 0.0
        elif vector is not None:
            value, samples = self._measure(rule, vector)
        has_data = value is not None and (absent or samples >= rule.min_samples)
        if isinstance(rule, AnomalyRule):
            return self._anomaly(rule, series, value if has_data else None, samples)
        if not has_data or value is None:
            return _Verdict(value, samples, False, None, False, rule.threshold)
        breach = compare(rule.op, value, rule.threshold)
        keep_firing = compare(rule.op, value, rule.resolve_at)
        return _Verdict(value, samples, True, breach, keep_firing, rule.threshold)

    @staticmethod
    def _anomaly(rule: AnomalyRule, series: _Series, value: float | None, samples: int) -> _Verdict:
        """Judge against the previous windows with data, then add this one to the baseline."""
        last = series.event.threshold if series.event is not None else 0.0
        if value is None:
            return _Verdict(None, samples, False, None, False, last)
        baseline = series.baseline
        verdict = _Verdict(value, samples, True, None, False, last)
        if len(baseline) >= rule.baseline_windows:
            mean = statistics.mean(baseline)
            std = statistics.stdev(baseline)
            sigma = rule.sigma(mean, std)
            upper, lower = mean + rule.z * sigma, mean - rule.z * sigma
            above = rule.direction != "below" and sigma > 0 and value > upper
            below = rule.direction != "above" and sigma > 0 and value < lower
            use_lower = rule.direction == "below" or (rule.direction == "both" and value < mean)
            breach = above or below
            extra = {"mean": mean, "std": std}
            bound = lower if use_lower else upper
            verdict = _Verdict(value, samples, True, breach, breach, bound, extra)
        baseline.append(value)
        del baseline[: -rule.baseline_windows]
        return verdict

    # -- events -----------------------------------------------------------------------------

    def _event(
        self,
        rule: Rule,
        key: SeriesKey,
        series: _Series,
        verdict: _Verdict,
        start: int,
        end: int,
        repeat: bool,
        ends_at: int | None = None,
    ) -> AlertEvent:
        scope = dict(zip(rule.scope, key, strict=True))
        fields: dict[str, object] = {**rule.labels, **scope}
        if isinstance(rule, AnomalyRule):
            fields.update(mean=None, std=None)
        fields.update(
            value=verdict.value,
            threshold=verdict.threshold,
            rule=rule.name,
            metric=rule.metric,
            severity=rule.severity,
            window=format_duration(rule.window),
            samples=verdict.samples,
            **verdict.extra,
        )
        annotations, errors = render_annotations(rule.annotations, fields)
        if errors:
            annotations["template_error"] = "; ".join(errors)
        assert series.starts_at is not None
        return AlertEvent(
            fingerprint=fingerprint(rule.name, scope),
            rule=rule.name,
            status="resolved" if ends_at is not None else "firing",
            severity=rule.severity,
            scope=scope,
            labels={"alertname": rule.name, "severity": rule.severity, **scope, **rule.labels},
            annotations=annotations,
            metric=rule.metric,
            value=verdict.value,
            threshold=verdict.threshold,
            window_start=from_epoch_s(start),
            window_end=from_epoch_s(end),
            starts_at=from_epoch_s(series.starts_at),
            ends_at=None if ends_at is None else from_epoch_s(ends_at),
            receivers=rule.receivers,
            repeat=repeat,
            extra={"samples": verdict.samples, **verdict.extra},
        )

    def _emit(
        self, candidates: list[_Candidate], end: int, now: datetime, silences: Silences | None
    ) -> list[AlertEvent]:
        sources = self._inhibitors([c.event for c in candidates if c.kind == "resolve"])
        events: list[AlertEvent] = []
        for candidate in candidates:
            reason = self._mute_reason(candidate.event, sources, now, silences)
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
        self, resolving: Sequence[AlertEvent] = ()
    ) -> list[dict[tuple[str, ...], tuple[str, datetime | None]]]:
        """Per inhibit rule: target label values -> (source fingerprint, end of its breach).

        The end is None while the source fires. A source resolving in this very
        step still mutes target windows that began before its breach ended: they
        were judged over time in which the source was firing (an annotator's
        hour that overlaps their vendor's incident is the vendor's problem).
        """
        result: list[dict[tuple[str, ...], tuple[str, datetime | None]]] = []
        for inhibit in self._rules.inhibit:
            source = self._rules.rule(inhibit.source.rule)
            index: dict[tuple[str, ...], tuple[str, datetime | None]] = {}
            dims = inhibit.target_scope_contains
            for event in resolving:
                if event.rule == source.name and all(d in event.scope for d in dims):
                    values = tuple(event.scope[d] for d in dims)
                    index.setdefault(values, (event.fingerprint, event.ends_at))
            series_map = self._states[source.name].series
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
        self,
        event: AlertEvent,
        sources: list[dict[tuple[str, ...], tuple[str, datetime | None]]],
        now: datetime,
        silences: Silences | None,
    ) -> str | None:
        for inhibit, index in zip(self._rules.inhibit, sources, strict=True):
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
        return {
            "version": STATE_VERSION,
            "closed_before": self._closed,
            "ignored_late_minutes": self._ignored,
        }

    def rule_states(self) -> Iterator[RuleStateParts]:
        """``state()["rules"]`` one rule at a time, its items built as they are read.

        For a snapshot written piece by piece: at 10 000 annotators the copy of
        every series and partial window is tens of MB of small objects, the
        largest short-lived allocation of the worker when built all at once.
        """
        for rule in self._rules.rules:
            state = self._states[rule.name]
            head = {"signature": _signature(rule), "next_start": state.next_start}
            partials = (
                (start, ([list(key), list(vector)] for key, vector in sorted(bucket.items())))
                for start, bucket in sorted(state.partials.items())
            )
            lifecycles = (
                [list(key), series.to_state()] for key, series in sorted(state.series.items())
            )
            yield rule.name, head, partials, lifecycles

    def _restore(self, data: Mapping[str, Any]) -> None:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported evaluator state version {data.get('version')!r}")
        self._closed = data["closed_before"]
        self._ignored = data.get("ignored_late_minutes", 0)
        stored_rules = data.get("rules", {})
        for rule in self._rules.rules:
            stored = stored_rules.get(rule.name)
            if stored is None or stored.get("signature") != _signature(rule):
                continue  # new or redefined rule: starts fresh
            state = self._states[rule.name]
            state.next_start = stored["next_start"]
            state.partials = {
                int(start): {tuple(key): list(vector) for key, vector in bucket}
                for start, bucket in stored["partials"]
            }
            state.series = {tuple(key): _Series.from_state(s) for key, s in stored["series"]}
