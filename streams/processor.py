"""The stream engine between Faust and the pure state: routing, offsets, checkpoints.

Exactness argument (docs/architecture.md has the long form):

1. Per partition, state and the input offsets it covers are persisted together
   in one checkpoint record (``streams.statelog``). On assignment the state is
   rebuilt from those records and reading resumes at exactly the recorded
   offsets; whatever Faust committed is ignored.
2. A message is applied only if its offset is the next expected one. An older
   offset is a redelivery (skipped); a newer one means messages were skipped
   (Faust's recovery seek race, or a commit ahead of our checkpoint): we seek
   back and drop until the expected offset arrives.
3. A checkpoint is written in the one order of ``streams.checkpoint``:
   ClickHouse rows first (idempotent: deterministic keys, versions that grow
   across restarts), then dead letters and closed-window reports, then the
   checkpoint record. A crash before the record replays from the previous
   one and rewrites the same rows with higher versions: no loss, no double
   count.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from alerts.handoff import ClosedWindow, encode_reports
from schemas.decode import ContractDecoder
from schemas.queue_status import QueueStatus
from sinks.batches import RejectedRow
from streams import watermark
from streams.checkpoint import Checkpoint, Rows
from streams.delivery import DeliveryConfig
from streams.delivery_partition import DeliveryPartitionState
from streams.delivery_rows import delivery_batch
from streams.partition import PartitionState
from streams.ports import LoadState, Outgoing, Publisher, Record, Seek, Sink
from streams.rows import rows_for_checkpoint, unstored_letter
from streams.statelog import encode_checkpoint, encode_chunks

log = logging.getLogger(__name__)

# Messages processed between two returns to the event loop (about 50 ms of work).
YIELD_EVERY = 1_000


class CheckpointFailed(RuntimeError):
    """A checkpoint could not be written; the processor refuses to go on."""


@dataclass
class _Covered:
    """What a checkpoint's state records cover, for the bookkeeping once they are stored."""

    snapshots: dict[int, int] = field(default_factory=dict)  # partition -> index of first chunk
    states: list[PartitionState] = field(default_factory=list)
    offsets: dict[int, dict[str, int]] = field(default_factory=dict)  # partition -> covered


# The tables whose refused rows become dead letters (the writer's ``rejectable``).
EVENT_TABLES = ("task_events", "audit_events")


class Processor:
    def __init__(
        self,
        *,
        decoder: ContractDecoder,
        sink: Sink,
        publisher: Publisher,
        load_state: LoadState,
        seek: Seek,
        state_topic: str,
        dlq_topic: str,
        lateness_s: float,
        retention_s: float,
        idle_timeout_s: float,
        live: bool,
        on_closed: Callable[[list[ClosedWindow]], Awaitable[None]] | None = None,
        input_topics: Sequence[str] = (),
        highwater: Callable[[str, int], int | None] | None = None,
        windows_topic: str | None = None,
        snapshot_every: int = 200,
        delivery: DeliveryConfig | None = None,
    ):
        self.decoder = decoder
        self.sink = sink
        self.publisher = publisher
        self.load_state = load_state
        self.seek = seek
        self.state_topic = state_topic
        self.dlq_topic = dlq_topic
        self.lateness_us = int(lateness_s * 1_000_000)
        self.retention_us = int(retention_s * 1_000_000)
        self.idle_timeout_s = idle_timeout_s
        self.live = live
        self.on_closed = on_closed
        self.input_topics = tuple(input_topics)
        self.highwater = highwater
        self.windows_topic = windows_topic  # where closed minutes go for alerting (None: off)
        self.reported: dict[int, tuple[int, bool]] = {}
        # A full snapshot every this many checkpoints: recovery replays at most
        # this many records after it.
        self.snapshot_every = snapshot_every
        self.delivery = delivery or DeliveryConfig()  # the forecast's window and plans
        self.states: dict[int, DeliveryPartitionState] = {}
        self.assigned: set[int] | None = None  # None: not told yet (accept all)
        self.seeking: dict[tuple[str, int], tuple[int, float]] = {}
        self.last_activity: dict[int, float] = {}
        self.last_message_at = time.monotonic()
        self.lock = asyncio.Lock()  # the state: processing, preparing checkpoints, rebalances
        self.checkpoint_lock = asyncio.Lock()  # one checkpoint prepared and flushed at a time
        self.inflight: asyncio.Future[None] | None = None  # the flush being written
        self.failed: BaseException | None = None
        # partition -> topic -> next offset, as of the last checkpoint record written
        self.durable_offsets: dict[int, dict[str, int]] = {}
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        self.stats: Counter[str] = Counter()
        self.closed_windows = 0

    # -- partitions -----------------------------------------------------------------

    async def state_for(self, partition: int) -> DeliveryPartitionState:
        state = self.states.get(partition)
        if state is None:
            state = DeliveryPartitionState(
                partition, self.lateness_us, self.retention_us, delivery=self.delivery
            )
            records, base = await self.load_state(partition)
            for record in records:
                state.apply_delta(record)
            state.snapshot_base = base
            state.since_snapshot = len(records)
            self.states[partition] = state
            log.info(
                "partition state recovered",
                extra={
                    "partition": partition,
                    "checkpoints": len(records),
                    "offsets": state.offsets,
                    "open_windows": len(state.windows),
                },
            )
        return state

    async def on_assigned(self, partitions: set[int]) -> None:
        """Recover every assigned partition's state up front (readiness waits on it)."""
        async with self.lock:
            self.assigned = set(partitions)
            for partition in sorted(partitions):
                await self.state_for(partition)

    async def on_revoked(self, partitions: set[int]) -> None:
        """Checkpoint and forget revoked partitions before the rebalance completes."""
        async with self.checkpoint_lock:
            await self._settle()
            async with self.lock:
                if self.assigned is not None:
                    self.assigned -= partitions  # from now on their messages are dropped
                prepared = await self._prepare_off_loop({p for p in partitions if p in self.states})
            if prepared is not None:
                # Through _settle like any checkpoint: a failure stops this
                # processor instead of leaving a state whose changes never landed.
                self.inflight = asyncio.ensure_future(self._flush(prepared))
                await self._settle()
            async with self.lock:
                for partition in partitions:
                    self.durable_offsets.pop(partition, None)
                    self.states.pop(partition, None)
                    self.last_activity.pop(partition, None)
                self.seeking = {k: v for k, v in self.seeking.items() if k[1] not in partitions}

    # -- processing -----------------------------------------------------------------

    async def process(self, messages: Sequence[Record]) -> None:
        self._raise_if_failed()
        async with self.lock:
            now = datetime.now(UTC)
            decode = self.decoder.decode
            wanted_seeks: dict[tuple[str, int], int] = {}
            for index, message in enumerate(messages):
                if index and not index % YIELD_EVERY:
                    # Let the loop serve /health, /metrics and the Kafka clients'
                    # heartbeats: a whole batch is ~0.5 s of Python work.
                    await asyncio.sleep(0)
                partition = message.partition
                if self.assigned is not None and partition not in self.assigned:
                    self.stats["dropped_unassigned"] += 1
                    continue
                state = self.states.get(partition) or await self.state_for(partition)
                expected = state.offsets.get(message.topic)
                if expected is not None and message.offset != expected:
                    if message.offset < expected:
                        self.stats["redelivered"] += 1
                    else:
                        wanted_seeks[(message.topic, partition)] = expected
                        self.stats["gap_dropped"] += 1
                    continue
                self.seeking.pop((message.topic, partition), None)
                raw = message.value or b""  # a tombstone is dead-lettered as empty JSON
                decoded = decode(raw, now)
                if type(decoded) is QueueStatus:  # a snapshot: streams.delivery_partition
                    state.process_snapshot(decoded, raw, message.topic, message.offset)
                else:
                    state.process(decoded, raw, message.topic, message.offset)  # type: ignore[arg-type]
                self.last_activity[partition] = time.monotonic()
            if messages:
                self.last_message_at = time.monotonic()
            for (topic, partition), offset in wanted_seeks.items():
                previous = self.seeking.get((topic, partition))
                if previous is None or previous[0] != offset or time.monotonic() - previous[1] > 5:
                    log.warning(
                        "offset gap: seeking back to the checkpointed position",
                        extra={"topic": topic, "partition": partition, "offset": offset},
                    )
                    self.seeking[(topic, partition)] = (offset, time.monotonic())
                    await self.seek(topic, partition, offset)

    def behind(self, partition: int, state: PartitionState) -> list[str]:
        """Input topics of this partition with unread messages (``watermark.behind``)."""
        highwater = self.highwater
        if highwater is None:
            return []
        return watermark.behind(
            self.input_topics, state.offsets, lambda topic: highwater(topic, partition), self.live
        )

    def _idle(self, partition: int, state: PartitionState, behind: Sequence[str]) -> bool:
        """Whether this partition may stop holding the global watermark (``watermark.idle``)."""
        quiet = time.monotonic() - self.last_activity.get(partition, 0.0)
        return watermark.idle(
            behind, state.topic_max, state.closed_before, quiet, self.live, self.idle_timeout_s
        )

    def record_batch(self, size: int, seconds: float) -> None:
        """Count a batch of ``size`` messages; a checkpoint with no new message is none."""
        if not size:
            return
        millis = int(seconds * 1000)
        self.stats["batches"] += 1
        self.stats["batch_events"] += size
        self.stats["batch_ms_total"] += millis
        self.stats["batch_ms_max"] = max(self.stats["batch_ms_max"], millis)

    def pending_events(self) -> int:
        return sum(s.pending_events for s in self.states.values())

    # -- checkpoints ------------------------------------------------------------------

    async def checkpoint(self, close_all: bool = False, *, wait: bool = True) -> None:
        """Take a checkpoint; with ``wait=False`` return once it is prepared.

        Preparing (closing windows, building rows and records) happens under
        the state lock; flushing (ClickHouse, then the topics) does not, so the
        caller can process the next batch while the previous one is written.
        Flushes run one at a time and in order: a checkpoint is prepared only
        after the previous flush finished.
        """
        async with self.checkpoint_lock:
            await self._settle()
            async with self.lock:
                if self.live and not close_all:
                    self._advance_idle()
                prepared = await self._prepare_off_loop(set(self.states), close_all)
            if prepared is None:
                return
            self.inflight = asyncio.ensure_future(self._flush(prepared))
        if wait:
            await self._settle()

    async def _settle(self) -> None:
        """Wait for the flush in flight; a failed flush stops this processor for good."""
        task, self.inflight = self.inflight, None
        if task is not None:
            try:
                await task
            except Exception as exc:
                self.failed = exc
                raise CheckpointFailed(f"checkpoint failed: {type(exc).__name__}") from exc
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        # The failed checkpoint's changes were already taken out of the state:
        # carrying on would write later records without them. Stop; a restart
        # replays from the last checkpoint that landed.
        if self.failed is not None:
            raise CheckpointFailed("an earlier checkpoint failed") from self.failed

    def _advance_idle(self) -> None:
        now_mono = time.monotonic()
        now_us = int(time.time() * 1_000_000)
        for partition, state in self.states.items():
            quiet = now_mono - self.last_activity.get(partition, now_mono)
            if state.advance_idle(now_us, quiet, self.idle_timeout_s):
                log.info(
                    "idle partition: watermark follows the clock", extra={"partition": partition}
                )

    async def _prepare_off_loop(
        self, partitions: set[int], close_all: bool = False
    ) -> Checkpoint | None:
        """``_prepare`` on a thread, the caller holding the state lock.

        Closing windows, building rows and a full snapshot take up to a second or
        more with large state; on the loop that would stall /health, /metrics and
        the consumers' heartbeats. Every change to the state is made under the
        lock, so the thread has it to itself; the loop only reads sizes meanwhile.
        """
        return await asyncio.to_thread(self._prepare, partitions, close_all)

    def _prepare(self, partitions: set[int], close_all: bool = False) -> Checkpoint | None:
        """Everything a checkpoint writes, taken out of the state in one step."""
        closed: list[ClosedWindow] = []
        states = []
        reports: list[Outgoing] = []
        for partition in sorted(partitions):
            state = self.states[partition]
            behind = self.behind(partition, state)
            state.move_watermark(behind)
            closed_now = state.advance(close_all)
            closed.extend(closed_now)
            if state.has_changes:
                states.append(state)
            if self.windows_topic is not None:
                progress = (state.closed_before, self._idle(partition, state, behind))
                if closed_now or self.reported.get(partition) != progress:
                    for value in encode_reports(partition, *progress, closed_now):
                        reports.append((self.windows_topic, 0, None, value))
                    self.reported[partition] = progress
        if not states and not reports:
            return None
        now_us = int(time.time() * 1_000_000)
        covered = _Covered()
        rows = rows_for_checkpoint(states, now_us)
        rows["delivery_1m"] = delivery_batch(states, now_us // 1000)
        checkpoint = Checkpoint(
            rows=rows,
            rejectable=EVENT_TABLES,
            refused=self._unstored_letters,
            outputs=reports,
            on_state=functools.partial(self._recorded, covered),
            after=functools.partial(self._closed, closed),
        )
        for state in states:
            for letter in state.dead_letters:
                key = letter.project_id.encode() if letter.project_id else None
                checkpoint.dead_letters.append((self.dlq_topic, None, key, letter.to_json()))
        # At most one full snapshot per checkpoint, the most overdue first: partitions
        # reach the interval together, and several large snapshots built at once
        # were the worker's memory peak. The others take theirs at the next ones.
        due = [s for s in states if s.since_snapshot >= self.snapshot_every]
        full_now = max(due, key=lambda s: s.since_snapshot, default=None)
        records: list[Outgoing] = []
        for state in states:
            if state is full_now:
                covered.snapshots[state.partition] = len(records)
                chunks = encode_chunks(
                    state.full_record_json(), state.record_seq, state.snapshot_base
                )
            else:
                chunks = encode_checkpoint(state.delta(), state.snapshot_base)
            for chunk in chunks:
                records.append((self.state_topic, state.partition, None, chunk))
            covered.states.append(state)
            covered.offsets[state.partition] = dict(state.offsets)
            state.mark_checkpointed()
        checkpoint.state = records
        return checkpoint

    async def _flush(self, checkpoint: Checkpoint) -> None:
        """Write a prepared checkpoint (``Checkpoint.commit``: rows, dead letters and
        closed-window reports, the checkpoint records, then the closed windows)."""
        await checkpoint.commit(self._write_rows, self.publisher)

    async def _write_rows(self, rows: Rows, rejectable: Collection[str]) -> Sequence[RejectedRow]:
        """Step 1 on the ClickHouse thread: one client, one write at a time."""
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, functools.partial(self.sink.write, rows, rejectable=rejectable)
        )

    def _unstored_letters(self, refused: Sequence[RejectedRow]) -> list[Outgoing]:
        """Event rows ClickHouse refused for their values, as ``unprocessable`` dead letters.

        Unreachable for rows of events the contract accepted (see
        ``streams.rows.unstored_letter``); published with the others, before the
        record: a crash in between refuses the same row again.
        """
        self.stats["unstored_rows"] += len(refused)
        letters: list[Outgoing] = []
        for rejected in refused:
            letter = unstored_letter(rejected)
            key = letter.project_id.encode() if letter.project_id else None
            letters.append((self.dlq_topic, None, key, letter.to_json()))
        return letters

    def _recorded(self, covered: _Covered, offsets: list[int], seconds: float) -> None:
        """The checkpoint records are stored: their offsets are durable, snapshots known."""
        self.durable_offsets.update(covered.offsets)
        for state in covered.states:
            self.stats["checkpoints"] += 1
            first = covered.snapshots.get(state.partition)
            if first is not None and first < len(offsets) and offsets[first] >= 0:
                state.snapshot_base = offsets[first]
                state.since_snapshot = 0
                self.stats["snapshots"] += 1
            else:
                state.since_snapshot += 1
        self.stats["checkpoint_ms_total"] += int(seconds * 1000)

    async def _closed(self, closed: list[ClosedWindow]) -> None:
        """Closed windows, once recorded: counted, and handed to ``on_closed``."""
        if closed:
            self.closed_windows += len(closed)
            if self.on_closed is not None:
                await self.on_closed(closed)

    # -- introspection ----------------------------------------------------------------

    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for state in self.states.values():
            total.update(state.counters)
        return total

    def close(self) -> None:
        self.executor.shutdown(wait=True)
