"""The alert stage inside the worker: recovery, batches, outputs in a safe order.

Order per batch (see ``alerts.stage`` for why it is exact):
1. apply windows-topic records (only the next expected offset; a gap seeks back);
2. evaluate rule windows the global watermark passed (one *step*);
3. write a checkpoint (``streams.checkpoint``, the processor's protocol too):
   the new alert events to the ``alerts`` table, then the alerts topic; then
   the step on the alert-state topic: a full snapshot of the stage (with the
   windows-topic offset) at most every ``snapshot_interval_s`` seconds or
   ``snapshot_max_steps`` steps and when all input partitions fall idle,
   otherwise a small step record (offset and the ``now`` the step used); then
   the events to the receivers' dispatcher (never blocks the stream).

A full snapshot copies all retained state (partial windows, series, recent
event ids), so writing one per batch made the per-batch cost grow with
history; a step record costs the same whatever the history.

Recovery restores the last complete full snapshot, then replays the windows
topic from its offset, evaluating exactly where the recorded steps say (and
with their ``now``), so the replay recomputes the same transitions as the run
that crashed: its events carry the same deterministic ids and the ids already
on the alerts topic are not published again, and no transition is lost since
the evaluator state is rebuilt exactly. Records after the last recorded step
(the batch that was in flight) are evaluated as they come, as before this
scheme (that batch was never recorded). No state record is written while
recorded steps remain (they are already on the topic); the first step after
the replay writes a full snapshot.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from alerts.digest import Digest
from alerts.dispatch import Dispatcher
from alerts.model import AlertEvent
from alerts.rules import RuleSet
from alerts.silences import Silences, load_silences
from alerts.stage import STEP, AlertStage
from sinks.batches import RejectedRow
from streams.checkpoint import Checkpoint, Rows
from streams.ports import Message, Outgoing, Publisher, Seek, Sink
from streams.recovery import latest_snapshot
from streams.rows import alert_row
from streams.statelog import decode_checkpoints, encode_checkpoint, encode_chunks

log = logging.getLogger(__name__)

ReadTopic = Callable[[str], Awaitable[list[bytes]]]

SNAPSHOT_INTERVAL_S = 10.0  # wall clock between full snapshots of the alert stage
SNAPSHOT_MAX_STEPS = 100  # steps between full snapshots at most (bounds the replay)


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
        run_blocking: Callable[[Callable[[], object]], Awaitable[None]],
        windows_topic: str,
        state_topic: str,
        alerts_topic: str,
        snapshot_interval_s: float = SNAPSHOT_INTERVAL_S,
        snapshot_max_steps: int = SNAPSHOT_MAX_STEPS,
        clock: Callable[[], float] = time.monotonic,
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
        self.counts: dict[str, int] = {
            "firing": 0,
            "resolved": 0,
            "repeats": 0,
            "muted": 0,
            "digests": 0,
        }
        self.digests_replayed = 0  # digests of recorded steps, already handed over
        self._silences: tuple[float, Silences | None] = (-1.0, None)
        self.snapshot_interval_s = snapshot_interval_s
        self.snapshot_max_steps = snapshot_max_steps
        self.clock = clock
        self.replay: deque[tuple[int, datetime]] = deque()  # recorded steps still ahead
        self.stepped = 0  # windows-topic offset of the latest step (state is evaluated there)
        self.steps_since_full = 0
        self.full_due = True  # the first step of a worker writes a full snapshot
        self.quiet = False  # the last step saw every input partition idle
        self.last_full = clock()
        self.state_records = {"full": 0, STEP: 0}

    async def recover(self) -> None:
        """Latest full snapshot and the steps after it, plus the alert ids a replay may repeat."""
        async with self.lock:
            snapshot, steps = latest_snapshot(decode_checkpoints(await self.read_state()))
            if snapshot is not None:
                self.stage.restore(snapshot)
            self.replay = deque(steps)
            self.stepped = self.stage.offset
            self.steps_since_full, self.full_due = 0, True
            published = []
            for value in await self.read_topic(self.alerts_topic):
                try:
                    event = orjson.loads(value)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(event, dict):
                    published.append(event)
            guarded = self.stage.guard(published)
            self.recovered = True
            log.info(
                "alert stage recovered",
                extra={
                    "offset": self.stage.offset,
                    "closed_before": self.stage.closed_before,
                    "firing": len(self.stage.evaluator.active()),
                    "steps_to_replay": len(self.replay),
                    "replay_guard": guarded,
                },
            )
            await self.seek(self.windows_topic, 0, self.stage.offset)

    async def process(self, messages: Sequence[Message]) -> list[AlertEvent]:
        async with self.lock:
            if not self.recovered:
                return []
            events: list[AlertEvent] = []
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
                self.stage.apply(message.offset, message.value or b"")
                expected = self.stage.offset
                if self.replay and expected >= self.replay[0][0]:
                    _, now = self.replay.popleft()
                    events.extend(self._step(now))
                    # A recorded step's digests were handed to the receivers after its
                    # record was written: rebuilding the book must not send them again.
                    self.digests_replayed += len(self.stage.take_digests())
                # A closing mark applies a whole checkpoint's minutes (~0.1 s at
                # 10 k annotators): give /health and the intake a turn in between.
                await asyncio.sleep(0)
            record: dict[str, Any] | None = None
            if not self.replay and self.stage.offset > self.stepped:
                now = datetime.now(UTC)
                events.extend(self._step(now))
                await asyncio.sleep(0)
                record = self._state_record(now)
            fresh = self.stage.new_events(events)
            digests = self.stage.take_digests()
            checkpoint = Checkpoint(
                rows={"alerts": [alert_row(e) for e in fresh]} if fresh else None,
                outputs=self._published(fresh),
                after=functools.partial(self._announce, fresh, digests),
            )
            if record is not None:
                checkpoint.state = functools.partial(self._state_chunks, record)
                checkpoint.on_state = functools.partial(self._state_written, record)
            await checkpoint.commit(self._write_rows, self.publisher)
            return fresh

    async def _write_rows(self, rows: Rows, rejectable: Collection[str]) -> Sequence[RejectedRow]:
        """Step 1: the alerts table, on the worker's ClickHouse thread (nothing is rejectable)."""
        await self.run_blocking(lambda: self.sink.write(rows))
        return ()

    def _published(self, events: Sequence[AlertEvent]) -> list[Outgoing]:
        """Step 2: the events on the alerts topic, keyed by fingerprint."""
        return [(self.alerts_topic, None, e.fingerprint.encode(), e.to_json()) for e in events]

    async def _announce(self, fresh: Sequence[AlertEvent], digests: Sequence[Digest]) -> None:
        """Step 4: count, log and hand each new event, and each digest whose period the
        step closed, to the receivers (never blocks)."""
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
        for digest in digests:
            self.counts["digests"] += 1
            log.info(
                "alert digest",
                extra={
                    "receiver": digest.receiver,
                    "period_end": digest.period_end.isoformat(),
                    "alerts": len(digest.events),
                },
            )
            if self.dispatcher is not None:
                self.dispatcher.submit_digest(digest)

    def _step(self, now: datetime) -> list[AlertEvent]:
        """What the stage does at every evaluation point, live or replayed."""
        self.stage.forget_orphans()
        events = self.stage.evaluate(now, self._current_silences())
        self.stepped = self.stage.offset
        return events

    def _state_record(self, now: datetime) -> dict[str, Any]:
        """The step record, or ``{"kind": "full"}`` when a full snapshot is due.

        ``_state_chunks`` builds the full snapshot itself, on a thread, so that
        copying the evaluator does not hold the event loop.

        Also due when every input partition has just gone idle (the end of a bounded
        run, a quiet spell): the stream may stop here, and a restart should then
        find a snapshot at the end of the topic rather than replay up to an interval.
        """
        quiet = self.stage.partitions > 0 and all(
            self.stage.idle.get(p, False) for p in range(self.stage.partitions)
        )
        fell_quiet, self.quiet = quiet and not self.quiet, quiet
        elapsed = self.clock() - self.last_full
        if (
            self.full_due
            or fell_quiet
            or elapsed >= self.snapshot_interval_s
            or self.steps_since_full >= self.snapshot_max_steps
        ):
            return {"kind": "full"}
        return self.stage.step_record(now)

    async def _state_chunks(self, record: dict[str, Any]) -> list[Outgoing]:
        """Step 3: the step record, or the full snapshot built now, as state-topic chunks."""
        base = self.snapshot_base
        if record.get("kind") != STEP:
            # A full snapshot copies and encodes every partial window and series:
            # over a second, and tens of MB, at 10 k annotators. A thread keeps the
            # loop serving meanwhile; nothing changes the evaluator while this
            # coroutine holds the lock, and the thread only reads it.
            def encode_full() -> list[bytes]:
                return encode_chunks(self.stage.snapshot_json(record), self.stage.offset, base)

            chunks = await asyncio.to_thread(encode_full)
        else:
            chunks = encode_checkpoint(record, base)
        return [(self.state_topic, 0, None, chunk) for chunk in chunks]

    def _state_written(self, record: dict[str, Any], offsets: list[int], seconds: float) -> None:
        """Step 3, stored: where the latest full snapshot starts, and when the next is due."""
        if record.get("kind") != STEP:
            self.state_records["full"] += 1
            self.steps_since_full, self.full_due, self.last_full = 0, False, self.clock()
            if offsets and offsets[0] >= 0:
                self.snapshot_base = offsets[0]
        else:
            self.state_records[STEP] += 1
            self.steps_since_full += 1

    async def emit_meta(self, events: Sequence[AlertEvent]) -> None:
        """Self-monitoring transitions: same outputs and order, no evaluator state involved.

        When ClickHouse itself is failing the table write would block behind it, so
        meta-alerts then skip the table and still reach the topic and the receivers.
        """
        clickhouse_down = any(e.rule == "annotel_clickhouse_failing" for e in events)
        checkpoint = Checkpoint(
            rows=None if clickhouse_down else {"alerts": [alert_row(e) for e in events]},
            outputs=self._published(events),
            after=functools.partial(self._announce_meta, events),
        )
        await checkpoint.commit(self._write_rows, self.publisher)

    async def _announce_meta(self, events: Sequence[AlertEvent]) -> None:
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
