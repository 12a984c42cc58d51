"""A partition's state with its delivery forecast: ``PartitionState`` plus ``DeliveryState``.

A subclass rather than more code in ``streams.partition``: the per-event path
of task and audit events stays as it is (the processor hands a snapshot to
``process_snapshot`` instead of ``process``: one type check per message), and
the forecast's state joins the same checkpoint record under its own key
(``delivery``), so a record, its offsets and the forecasts it wrote cannot
disagree after a crash. Pure and I/O-free.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from alerts.handoff import ClosedWindow
from schemas.decode import DecodeError, unprocessable
from schemas.queue_status import QueueStatus
from streams.dedup import dedup_mark
from streams.delivery import (
    DeliveryConfig,
    DeliveryState,
    handoff_record,
    snapshot_of,
    snapshot_rows,
)
from streams.partition import PartitionState
from streams.windows import MINUTE_US


class DeliveryPartitionState(PartitionState):
    __slots__ = ("delivery",)

    def __init__(
        self,
        partition: int,
        lateness_us: int,
        retention_us: int,
        *,
        delivery: DeliveryConfig | None = None,
        **options: Any,
    ) -> None:
        super().__init__(partition, lateness_us, retention_us, **options)
        self.delivery = DeliveryState(delivery or DeliveryConfig())

    def process_snapshot(self, event: QueueStatus, raw: bytes, topic: str, offset: int) -> str:
        """Classify and apply one ``queue_status``: accepted, duplicate, late or dead.

        The same accounting as ``process``: its dedup mark (``(project_id,
        event_id)``, shared with the other event types), the retention horizon,
        ``late`` when its minute already closed (it then counts from the next
        forecast on). Phase 1 computes, phase 2 applies operations that cannot fail.
        """
        self.offsets[topic] = offset + 1
        self.events_in += 1
        try:
            snapshot = snapshot_of(event)
            project = event.project_id
            minute = snapshot[0] // MINUTE_US
            event_mark = dedup_mark(event.event_id)
        except Exception as exc:
            self._dead(unprocessable(exc, event), raw, topic, offset)
            return "dead"
        marks = self.marks
        base = marks.project_base.get(project)
        if base is None:
            base = marks.new_project(project)
        mark = base | event_mark
        if mark in marks.seen:
            self.duplicates += 1
            return "duplicate"
        horizon = self.horizon_us
        if horizon is not None and snapshot[0] < horizon:
            self._dead(
                DecodeError(
                    "too_late",
                    "occurred_at: older than the retention horizon "
                    f"({self.retention_us // 1_000_000}s behind the watermark)",
                    "occurred_at",
                    event.event_type,
                    project,
                    event.event_id,
                ),
                raw,
                topic,
                offset,
            )
            return "dead"
        marks.seen.add(mark)
        marks.by_minute.setdefault(minute, []).append(mark)
        if snapshot[0] > self.topic_max.get(topic, -1):
            self.topic_max[topic] = snapshot[0]
        self.delivery.add(project, event.queue_id, snapshot, self.closed_before)
        self.accepted_count += 1
        if minute * 60 < self.closed_before:
            self.late += 1
            return "late"
        return "accepted"

    def advance(self, close_all: bool = False) -> list[ClosedWindow]:
        """Close as the parent does, forecast the closed minutes, and hand the forecasts on
        with their minute (a minute without windows gets an empty ``ClosedWindow``)."""
        start = self.closed_before
        closed = super().advance(close_all)
        if self.closed_before == start:
            return closed
        made = len(self.delivery.rows)
        by_start = {window.window_start: window for window in closed}
        self.delivery.close(
            start, self.closed_before, {m: window.aggregates for m, window in by_start.items()}
        )
        for row in self.delivery.rows[made:]:
            window = by_start.get(row[0])
            if window is None:
                window = by_start[row[0]] = ClosedWindow(self.partition, row[0], {})
            window.forecasts.append(handoff_record(row))
        return [by_start[minute] for minute in sorted(by_start)]

    @property
    def has_changes(self) -> bool:
        return super().has_changes or self.delivery.dirty

    def delta(self) -> dict[str, Any]:
        record = super().delta()
        record["delivery"] = self.delivery.delta()
        return record

    def full_record_json(self) -> Iterator[bytes]:
        """The parent's pieces with ``"delivery"`` (the whole forecast state) before the end."""
        previous: bytes | None = None
        for piece in super().full_record_json():
            if previous is not None:
                yield previous
            previous = piece
        assert previous is not None and previous.endswith(b"}")
        yield previous[:-1]
        yield b',"delivery":' + orjson.dumps(self.delivery.full()) + b"}"

    def apply_delta(self, record: dict[str, Any]) -> None:
        super().apply_delta(record)
        delivery = record.get("delivery")
        for project, _queue, occurred_us, event_id in snapshot_rows(delivery):
            self.marks.restore(occurred_us // MINUTE_US, project, [dedup_mark(event_id)])
        self.delivery.apply(delivery, self.closed_before)

    def mark_checkpointed(self) -> None:
        super().mark_checkpointed()
        self.delivery.mark_checkpointed()
