"""What the delivery forecast needs of a partition, kept with its checkpoints.

Per queue: the snapshots of its remaining work (``queue_status``) and, per
closed minute, what the queue submitted (tasks, handle time in microseconds,
who submitted). When minutes close, each queue with a snapshot gets one
forecast per minute (``schemas.forecast``), as of the minute's end: from the
latest snapshot at or before that minute (greatest ``(occurred_at,
event_id)``) and the trailing window of closed minutes. The rows go to
``delivery_1m`` in the same checkpoint as the minute's aggregates, and the
state goes into the same checkpoint record, so a crash replays them exactly
like the rest.

Pure and I/O-free. What counts is what the partition knew when the minute
closed: a submission for a minute that arrives after it closed updates
``metrics_1m`` but not the forecasts already made (as for alerts).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from alerts.forecast_record import FORECAST_FIELDS
from schemas.forecast import DAY_US, ForecastInput, forecast
from schemas.plans import Plan, PlanKey
from schemas.queue_status import QueueStatus
from schemas.units import epoch_us
from sinks.delivery_schema import DELIVERY_FIELDS
from streams.windows import HT_SUM, MINUTE_US, SUBMITTED, Aggregate, WindowKey

MINUTE_S = MINUTE_US // 1_000_000
# A snapshot as held: (occurred_us, event_id, open_tasks, in_progress, target_total, due_us).
Snapshot = tuple[int, str, int, int | None, int | None, int | None]
# A queue's closed minute: [submitted, handle_time_us, annotators who submitted (sorted)].
MinuteSummary = list[Any]
QueueKey = tuple[str, str]  # (project_id, queue_id)


def snapshot_of(event: QueueStatus) -> Snapshot:
    due = None if event.due_at is None else epoch_us(event.due_at)
    return (
        epoch_us(event.occurred_at),
        event.event_id,
        event.open_tasks,
        event.in_progress,
        event.target_total,
        due,
    )


def later(a: Snapshot | None, b: Snapshot) -> Snapshot:
    """The snapshot that counts of two: greatest (occurred_at, event_id by UTF-8 bytes)."""
    if a is None or (b[0], b[1].encode()) > (a[0], a[1].encode()):
        return b
    return a


class _Trailing:
    """A queue's minute summaries as prefix sums: any trailing range's sums by bisection.

    Built once per queue and close, so forecasting a long range of minutes (a
    replay, a partition catching up) costs a logarithm per minute, not a day of
    minutes per minute.
    """

    def __init__(self, held: Mapping[int, MinuteSummary]) -> None:
        self.starts = sorted(held)
        self.summaries = [held[start] for start in self.starts]
        self.submitted = list(accumulate((s[0] for s in self.summaries), initial=0))
        self.handle = list(accumulate((s[1] for s in self.summaries), initial=0))

    def _range(self, low: int, high: int) -> tuple[int, int]:
        return bisect_left(self.starts, low), bisect_right(self.starts, high)

    def first(self, low: int, high: int) -> int | None:
        i, j = self._range(low, high)
        return self.starts[i] if i < j else None

    def sums(self, low: int, high: int) -> tuple[int, int]:
        """Submitted tasks and handle time (µs) of the minutes starting in ``[low, high]``."""
        i, j = self._range(low, high)
        return self.submitted[j] - self.submitted[i], self.handle[j] - self.handle[i]

    def annotators(self, low: int, high: int) -> int:
        i, j = self._range(low, high)
        return len({name for summary in self.summaries[i:j] for name in summary[2]})


@dataclass
class DeliveryConfig:
    """The worker's settings for the forecast: its trailing window and the plans."""

    window_us: int = 2 * 3_600_000_000
    plans: Mapping[PlanKey, Plan] = field(default_factory=dict)

    def __post_init__(self) -> None:
        minutes = max(1, round(self.window_us / MINUTE_US))
        self.window_us = min(minutes * MINUTE_US, DAY_US)


@dataclass
class DeliveryState:
    """Snapshots and per-queue minute summaries of one partition, and what is not written yet."""

    config: DeliveryConfig = field(default_factory=DeliveryConfig)
    # Per queue: the latest snapshot of minutes already folded, and newer ones by minute start.
    base: dict[QueueKey, Snapshot] = field(default_factory=dict)
    by_minute: dict[QueueKey, dict[int, Snapshot]] = field(default_factory=dict)
    minutes: dict[QueueKey, dict[int, MinuteSummary]] = field(default_factory=dict)
    # Since the last checkpoint: snapshots accepted, summaries made, rows to write.
    new_snapshots: list[list[Any]] = field(default_factory=list)
    new_minutes: list[list[Any]] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)

    @property
    def dirty(self) -> bool:
        return bool(self.new_snapshots or self.new_minutes or self.rows)

    def add(self, project: str, queue: str, snapshot: Snapshot, closed_before: int) -> None:
        """Hold an accepted snapshot (a duplicate never gets here: the dedup marks)."""
        self._hold((project, queue), snapshot, closed_before)
        self.new_snapshots.append([project, queue, *snapshot])

    def _hold(self, key: QueueKey, snapshot: Snapshot, closed_before: int) -> None:
        start = snapshot[0] // MINUTE_US * MINUTE_S
        if start < closed_before:
            self.base[key] = later(self.base.get(key), snapshot)
        else:
            held = self.by_minute.setdefault(key, {})
            held[start] = later(held.get(start), snapshot)

    def close(
        self, start: int, target: int, closed: Mapping[int, Mapping[WindowKey, Aggregate]]
    ) -> None:
        """Minutes ``[start, target)`` closed (``closed``: those with windows): forecast them."""
        for minute in sorted(closed):
            per_queue: dict[QueueKey, MinuteSummary] = {}
            for key, agg in closed[minute].items():
                if agg[SUBMITTED]:
                    summary = per_queue.setdefault((key[1], key[2]), [0, 0, set()])
                    summary[0] += agg[SUBMITTED]
                    summary[1] += agg[HT_SUM]
                    summary[2].add(key[6])
            for queue, summary in per_queue.items():
                summary[2] = sorted(summary[2])
                self.minutes.setdefault(queue, {})[minute] = summary
                self.new_minutes.append([*queue, minute, *summary])
        for queue in sorted({*self.base, *self.by_minute}):
            self._forecast_queue(queue, start, target)
        self.evict(target)

    def _forecast_queue(self, queue: QueueKey, start: int, target: int) -> None:
        held = self.by_minute.get(queue, {})
        pending = sorted(held)
        first = min(pending) if queue not in self.base and pending else start
        minute = max(start, first, target - 2 * DAY_US // 1_000_000)
        index = 0
        current = self.base.get(queue)
        while index < len(pending) and pending[index] < minute:
            current = later(current, held.pop(pending[index]))
            index += 1
        trailing = _Trailing(self.minutes.get(queue, {}))
        while minute < target:
            while index < len(pending) and pending[index] <= minute:
                current = later(current, held.pop(pending[index]))
                index += 1
            if current is not None:
                self.rows.append(self._row(queue, minute, current, trailing))
            minute += MINUTE_S
        if current is not None:
            self.base[queue] = current
        if not held:
            self.by_minute.pop(queue, None)

    def _row(
        self, queue: QueueKey, minute: int, snapshot: Snapshot, trailing: _Trailing
    ) -> list[Any]:
        """One ``delivery_1m`` row (``DELIVERY_FIELDS`` order) for the queue as of minute's end."""
        config = self.config
        plan = config.plans.get(queue)
        now_us = (minute + MINUTE_S) * 1_000_000
        day_start = (now_us - DAY_US) // 1_000_000
        # The window reaches back no further than the queue's first submission of the
        # day: before it the stream knows nothing of the queue, not that it was idle.
        first = trailing.first(day_start, minute)
        window_start = max(
            (now_us - config.window_us) // 1_000_000, minute if first is None else first
        )
        window_us = now_us - window_start * 1_000_000
        submitted_24h, handle_24h = trailing.sums(day_start, minute)
        submitted, _ = trailing.sums(window_start, minute)
        active = trailing.annotators(window_start, minute)
        occurred_us, event_id, open_tasks, in_progress, target_total, due_us = snapshot
        if plan is not None:
            if plan.due_at is not None:
                due_us = epoch_us(plan.due_at)
            if plan.target_total is not None:
                target_total = plan.target_total
        result = forecast(
            ForecastInput(
                now_us=now_us,
                open_tasks=open_tasks,
                due_us=due_us,
                window_us=window_us,
                submitted=submitted,
                submitted_24h=submitted_24h,
                handle_time_24h_us=handle_24h,
                annotators_active=active,
                **(
                    {"utilization": plan.utilization, "hours_per_day": plan.hours_per_day}
                    if plan is not None
                    else {}
                ),
            )
        )
        return [
            minute,
            *queue,
            open_tasks,
            in_progress,
            target_total,
            None if plan is None else plan.daily_target,
            due_us,
            window_us // 1_000_000,
            submitted,
            submitted_24h,
            handle_24h,
            active,
            result.throughput_per_hour,
            result.throughput_24h_per_hour,
            result.eta_us,
            result.slack_h,
            result.required_per_hour,
            result.aht_s,
            result.annotators_needed,
            result.annotators_gap,
            occurred_us,
            event_id,
        ]

    def evict(self, closed_before: int) -> None:
        """Forget minute summaries no forecast can reach again (older than a day)."""
        horizon = closed_before - DAY_US // 1_000_000
        for queue in list(self.minutes):
            held = self.minutes[queue]
            for start in [s for s in held if s < horizon]:
                del held[start]
            if not held:
                del self.minutes[queue]

    # -- checkpoints -------------------------------------------------------------------

    def delta(self) -> dict[str, Any]:
        return {"snapshots": self.new_snapshots, "minutes": self.new_minutes}

    def full(self) -> dict[str, Any]:
        snapshots = [[*queue, *snap] for queue, snap in self.base.items()]
        snapshots += [
            [*queue, *snap] for queue, held in self.by_minute.items() for snap in held.values()
        ]
        minutes = [
            [*queue, start, *summary]
            for queue, held in self.minutes.items()
            for start, summary in held.items()
        ]
        return {"snapshots": snapshots, "minutes": minutes}

    def apply(self, record: Mapping[str, Any] | None, closed_before: int) -> None:
        """Recovery: hold what a checkpoint record carried, as the live state did."""
        if not record:
            return
        for row in record.get("snapshots", ()):
            project, queue, *snapshot = row
            self._hold((project, queue), tuple(snapshot), closed_before)  # type: ignore[arg-type]
        for project, queue, start, submitted, handle, annotators in record.get("minutes", ()):
            self.minutes.setdefault((project, queue), {})[start] = [submitted, handle, annotators]
        self.evict(closed_before)

    def mark_checkpointed(self) -> None:
        self.new_snapshots = []
        self.new_minutes = []
        self.rows = []


def handoff_record(row: Sequence[Any]) -> list[Any]:
    """A ``delivery_1m`` row as the alert stage receives it (``alerts.handoff.FORECAST_FIELDS``)."""
    named = dict(zip(DELIVERY_FIELDS, row, strict=True))
    named["now_us"] = (named["window_start"] + MINUTE_S) * 1_000_000
    named["eta_us"], named["due_us"] = named["eta"], named["due_at"]
    return [named[name] for name in FORECAST_FIELDS]


def snapshot_rows(record: Mapping[str, Any] | None) -> Iterable[tuple[str, str, int, str]]:
    """(project, queue, occurred_us, event_id) of the snapshots a record carries (their marks)."""
    for row in (record or {}).get("snapshots", ()):
        yield row[0], row[1], row[2], row[3]
