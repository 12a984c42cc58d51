"""Meta-alerts: a monitor that goes blind must say so.

Pure: the worker samples its own health every few seconds (``Observation``)
and ``SelfMonitor.observe`` turns conditions that hold into firing / resolved
``AlertEvent`` values with the same lifecycle guarantees as rule alerts (one
event per transition, stable fingerprints). Wall-clock based by nature: these
watch the machinery, not the data.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from alerts.model import AlertEvent, Severity, Status, fingerprint
from schemas.units import count, duration, percent


@dataclass(frozen=True)
class Limits:
    lag_messages: int = 100_000  # consumer lag per partition
    dead_letter_share: float = 0.05  # of messages read over ``share_window_s``
    share_window_s: float = 300.0
    share_min_messages: int = 200  # below this volume the share is not judged
    clickhouse_failing_s: float = 60.0
    watermark_stall_s: float = 600.0  # events arrive but the watermark does not move
    receiver_failures: int = 3  # consecutive failed deliveries


@dataclass
class Observation:
    """One sample of a worker's health (cumulative counters, current gauges)."""

    lag: Mapping[str, int] = field(default_factory=dict)  # "topic/partition" -> messages
    events_in: int = 0
    dead_letters: int = 0
    watermarks: Mapping[int, float | None] = field(default_factory=dict)  # partition -> epoch s
    events_by_partition: Mapping[int, int] = field(default_factory=dict)  # cumulative
    clickhouse_failing_s: float = 0.0
    receiver_failures: Mapping[str, int] = field(default_factory=dict)  # consecutive


@dataclass
class _Firing:
    since: datetime
    value: float
    threshold: float


class SelfMonitor:
    def __init__(self, limits: Limits, instance: str, receivers: tuple[str, ...] = ()) -> None:
        self.limits = limits
        self.instance = instance
        self.receivers = receivers
        self.firing: dict[str, tuple[str, Severity, dict[str, str], _Firing]] = {}
        self._share: deque[tuple[float, int, int]] = deque()
        self._watermark_moved: dict[int, tuple[float | None, int, float]] = {}

    def observe(self, now: datetime, sample: Observation) -> list[AlertEvent]:
        conditions: dict[str, tuple[str, dict[str, str], float, float, Severity, str]] = {}
        limits = self.limits

        def condition(
            rule: str,
            scope: dict[str, str],
            value: float,
            threshold: float,
            severity: Severity,
            summary: str,
        ) -> None:
            scope = {"instance": self.instance, **scope}
            conditions[fingerprint(rule, scope)] = (
                rule,
                scope,
                value,
                threshold,
                severity,
                summary,
            )

        for where, lag in sorted(sample.lag.items()):
            if lag > limits.lag_messages:
                condition(
                    "annotel_consumer_lag_high",
                    {"partition": where},
                    lag,
                    limits.lag_messages,
                    "warning",
                    f"consumer lag {count(lag)} messages on {where}",
                )
        share = self._dead_letter_share(now.timestamp(), sample)
        if share is not None and share > limits.dead_letter_share:
            condition(
                "annotel_dead_letter_share_high",
                {},
                share,
                limits.dead_letter_share,
                "warning",
                f"{percent(share)} of recent messages were dead-lettered",
            )
        if sample.clickhouse_failing_s > limits.clickhouse_failing_s:
            condition(
                "annotel_clickhouse_failing",
                {},
                sample.clickhouse_failing_s,
                limits.clickhouse_failing_s,
                "critical",
                f"ClickHouse writes failing for {duration(sample.clickhouse_failing_s)}; "
                "consumption is paused",
            )
        for partition, stalled_s in self._stalled(now.timestamp(), sample).items():
            condition(
                "annotel_watermark_stalled",
                {"partition": str(partition)},
                stalled_s,
                limits.watermark_stall_s,
                "error",
                f"events arrive on partition {partition} but its watermark has not moved "
                f"for {duration(stalled_s)}",
            )
        for receiver, failures in sorted(sample.receiver_failures.items()):
            if failures >= limits.receiver_failures:
                condition(
                    "annotel_receiver_failing",
                    {"receiver": receiver},
                    failures,
                    limits.receiver_failures,
                    "error",
                    f"receiver {receiver}: {failures} deliveries failed in a row",
                )
        return self._transitions(now, conditions)

    def _dead_letter_share(self, now_s: float, sample: Observation) -> float | None:
        self._share.append((now_s, sample.events_in, sample.dead_letters))
        while self._share and self._share[0][0] < now_s - self.limits.share_window_s:
            self._share.popleft()
        _, events_then, dead_then = self._share[0]
        events = sample.events_in - events_then
        if events < self.limits.share_min_messages:
            return None
        return (sample.dead_letters - dead_then) / events

    def _stalled(self, now_s: float, sample: Observation) -> dict[int, float]:
        stalled: dict[int, float] = {}
        for partition, watermark in sample.watermarks.items():
            events = sample.events_by_partition.get(partition, 0)
            previous = self._watermark_moved.get(partition)
            if previous is None or watermark != previous[0]:
                self._watermark_moved[partition] = (watermark, events, now_s)
                continue
            _, events_then, since = previous
            if events > events_then and now_s - since > self.limits.watermark_stall_s:
                stalled[partition] = now_s - since
        return stalled

    def _transitions(
        self,
        now: datetime,
        conditions: Mapping[str, tuple[str, dict[str, str], float, float, Severity, str]],
    ) -> list[AlertEvent]:
        events: list[AlertEvent] = []
        for fp, (rule, scope, value, threshold, severity, summary) in conditions.items():
            if fp in self.firing:
                continue
            self.firing[fp] = (rule, severity, scope, _Firing(now, value, threshold))
            events.append(
                self._event(fp, rule, "firing", severity, scope, value, threshold, now, summary)
            )
        for fp in [fp for fp in self.firing if fp not in conditions]:
            rule, severity, scope, state = self.firing.pop(fp)
            events.append(
                self._event(
                    fp,
                    rule,
                    "resolved",
                    severity,
                    scope,
                    state.value,
                    state.threshold,
                    now,
                    "condition cleared",
                    starts_at=state.since,
                )
            )
        return events

    def _event(
        self,
        fp: str,
        rule: str,
        status: Status,
        severity: Severity,
        scope: dict[str, str],
        value: float,
        threshold: float,
        now: datetime,
        summary: str,
        starts_at: datetime | None = None,
    ) -> AlertEvent:
        return AlertEvent(
            fingerprint=fp,
            rule=rule,
            status=status,
            severity=severity,
            scope=scope,
            labels={"alertname": rule, "severity": severity, "meta": "true", **scope},
            annotations={"summary": summary},
            metric=rule.removeprefix("annotel_"),
            value=value,
            threshold=threshold,
            window_start=starts_at or now,
            window_end=now,
            starts_at=starts_at or now,
            ends_at=now if status == "resolved" else None,
            receivers=self.receivers,
        )
