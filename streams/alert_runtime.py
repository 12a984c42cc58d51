"""The alert stage inside the worker: recovery, batches, outputs in a safe order.

Order per batch (see ``streams.alerting`` for why it is exact):
1. apply windows-topic records (only the next expected offset; a gap seeks back);
2. evaluate rule windows the global watermark passed;
3. write the new alert events to the ``alerts`` table, then the alerts topic;
4. snapshot the stage (with the windows-topic offset) to the alert-state topic;
5. hand the events to the receivers' dispatcher (never blocks the stream).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from alerts.dispatch import Dispatcher
from alerts.model import AlertEvent
from alerts.rules import RuleSet
from alerts.silences import Silences, load_silences
from streams.alerting import AlertStage, alert_row
from streams.processor import Message, Publisher, Sink
from streams.statelog import encode_checkpoint

log = logging.getLogger(__name__)

ReadTopic = Callable[[str], Awaitable[list[bytes]]]
Seek = Callable[[str, int, int], Awaitable[None]]


class AlertRuntime:
    def __init__(
        self,
        *,
        rules: RuleSet,
        partitions: int,
        sink: Sink,
        publisher: Publisher,
        dispatcher: Dispatcher | None,
        read_topic: ReadTopic,
        read_state: Callable[[], Awaitable[list[bytes]]],
        seek: Seek,
        run_blocking: Callable[[Callable[[], None]], Awaitable[None]],
        windows_topic: str,
        state_topic: str,
        alerts_topic: str,
    ):
        self.rules = rules
        self.stage = AlertStage(rules, partitions)
        self.sink = sink
        self.publisher = publisher
        self.dispatcher = dispatcher
        self.read_topic = read_topic
        self.read_state = read_state
        self.snapshot_base = 0  # alert-state offset of the latest complete snapshot
        self.seek = seek
        self.run_blocking = run_blocking
        self.windows_topic = windows_topic
        self.state_topic = state_topic
        self.alerts_topic = alerts_topic
        self.recovered = False
        self.lock = asyncio.Lock()
        self.counts: dict[str, int] = {"firing": 0, "resolved": 0, "repeats": 0, "muted": 0}
        self._silences: tuple[float, Silences | None] = (-1.0, None)

    async def recover(self) -> None:
        """Latest snapshot, plus every alert id already on the alerts topic (replay guard)."""
        async with self.lock:
            from streams.statelog import decode_checkpoints

            snapshots = decode_checkpoints(await self.read_state())
            if snapshots:
                self.stage.restore(snapshots[-1])
            published = self.stage.published
            known = set(published)
            for value in await self.read_topic(self.alerts_topic):
                try:
                    event_id = orjson.loads(value).get("event_id")
                except orjson.JSONDecodeError:
                    continue
                if isinstance(event_id, str) and event_id not in known:
                    published.append(event_id)
                    known.add(event_id)
            self.recovered = True
            log.info(
                "alert stage recovered",
                extra={
                    "offset": self.stage.offset,
                    "closed_before": self.stage.closed_before,
                    "firing": len(self.stage.evaluator.active()),
                },
            )
            await self.seek(self.windows_topic, 0, self.stage.offset)

    async def process(self, messages: Sequence[Message]) -> list[AlertEvent]:
        async with self.lock:
            if not self.recovered:
                return []
            expected = self.stage.offset
            for message in messages:
                if message.offset < expected:
                    continue  # redelivered
                if message.offset > expected:
                    log.warning(
                        "windows topic: offset gap, seeking back",
                        extra={"offset": expected, "got": message.offset},
                    )
                    await self.seek(self.windows_topic, 0, expected)
                    break
                self.stage.apply(message.offset, message.value)
                expected = self.stage.offset
            self.stage.forget_orphans()
            events = self.stage.evaluate(datetime.now(UTC), self._current_silences())
            fresh = self.stage.new_events(events)
            if fresh:
                rows = [alert_row(e) for e in fresh]
                await self.run_blocking(lambda: self.sink.write({"alerts": rows}))
                await self.publisher.publish(
                    [(self.alerts_topic, None, e.fingerprint.encode(), e.to_json()) for e in fresh]
                )
            offsets = await self.publisher.publish(
                [
                    (self.state_topic, 0, None, chunk)
                    for chunk in encode_checkpoint(self.stage.snapshot(), self.snapshot_base)
                ]
            )
            if offsets and offsets[0] >= 0:
                self.snapshot_base = offsets[0]
            for event in fresh:
                self._count(event)
                log.info(
                    "alert " + event.status,
                    extra={
                        "rule": event.rule,
                        "fingerprint": event.fingerprint,
                        "window_start": event.window_start.isoformat(),
                        "muted_by": event.muted_by,
                    },
                )
                if self.dispatcher is not None:
                    self.dispatcher.submit(event)
            return fresh

    async def emit_meta(self, events: Sequence[AlertEvent]) -> None:
        """Self-monitoring transitions: same outputs and order, no evaluator state involved.

        When ClickHouse itself is failing the table write would block behind it, so
        meta-alerts then skip the table and still reach the topic and the receivers.
        """
        rows = [alert_row(e) for e in events]
        clickhouse_down = any(e.rule == "annotel_clickhouse_failing" for e in events)
        if not clickhouse_down:
            await self.run_blocking(lambda: self.sink.write({"alerts": rows}))
        await self.publisher.publish(
            [(self.alerts_topic, None, e.fingerprint.encode(), e.to_json()) for e in events]
        )
        for event in events:
            log.warning(
                "meta-alert " + event.status,
                extra={"rule": event.rule, "summary": event.annotations.get("summary", "")},
            )
            if self.dispatcher is not None:
                self.dispatcher.submit(event)

    def _count(self, event: AlertEvent) -> None:
        if event.muted_by:
            self.counts["muted"] += 1
        if event.repeat:
            self.counts["repeats"] += 1
        else:
            self.counts[event.status] += 1

    def _current_silences(self) -> Silences | None:
        path: Path | None = self.rules.silences_file
        if path is None or not path.exists():
            return None
        mtime = path.stat().st_mtime
        if mtime != self._silences[0]:
            try:
                self._silences = (mtime, load_silences(path))
            except ValueError as exc:
                log.error("silences file unreadable; keeping the previous one: %s", exc)
                self._silences = (mtime, self._silences[1])
        return self._silences[1]

    def caught_up(self, highwater: int | None) -> bool:
        return self.recovered and highwater is not None and self.stage.offset >= highwater

    def summary(self) -> dict[str, Any]:
        return {
            "alerts_fired": self.counts["firing"],
            "alerts_resolved": self.counts["resolved"],
            "alerts_firing_now": len(self.stage.evaluator.active()),
        }
