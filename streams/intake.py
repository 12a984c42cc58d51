"""Reads the input topics in batches and hands them to the processor.

Why not a Faust agent: Faust delivers one message at a time (two tasks per
message in ``Consumer._drain_messages``, then the conductor, a channel queue
and a per-event ack). Profiled on a 100 k replay, that delivery took 56 % of
the event loop, more than decoding, aggregation, the ClickHouse rows and the
alert stage together (docs/performance.md). The processor already owns what
Faust's per-message machinery is for: it checkpoints its input offsets with
its state and resumes from them. So the input topics are read here with
aiokafka's ``getmany`` (the batches the broker returns), in a consumer group
of their own, and the Faust app keeps everything else (producer, web pages,
timers, the dead-letter and alert agents, the worker's lifecycle).

The intake knows no framework: ``streams.faust_app`` runs it as a service of
the Faust worker (``open`` at start, ``run`` as its task, ``close`` at stop)
and tells it how to crash the worker (``on_crash``).

Both input topics are partitioned by project and share one state per
partition number, so partition *p* of both topics must go to the same
worker: the range assignor does that for topics with equal partition counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import ConsumerStoppedError, IllegalStateError, KafkaError

from streams.kafka_config import aiokafka_security
from streams.processor import CheckpointFailed, Processor
from streams.settings import Settings

log = logging.getLogger(__name__)

GROUP_SUFFIX = ".input"
FINAL_CHECKPOINT_S = 15.0


def consumer_options(settings: Settings, flavor: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if flavor == "tansu":
        # Measured for the embedded broker (shared/notes): it holds JoinGroup
        # for about half the session timeout, so keep the timeouts short.
        options.update(
            session_timeout_ms=10_000, rebalance_timeout_ms=10_000, heartbeat_interval_ms=1_000
        )
    return options


class Intake:
    """The input consumer: group membership, positions, batches, checkpoints."""

    def __init__(
        self,
        settings: Settings,
        processor: Processor,
        *,
        group_id: str,
        flavor: str,
    ) -> None:
        self.settings = settings
        self.processor = processor
        self.group_id = group_id
        self.flavor = flavor
        self.ready = False  # assigned and recovered; False again while rebalancing
        self.consumer: Any = None
        self.last_checkpoint = time.monotonic()
        self.unflushed = 0  # messages processed since the last checkpoint
        self.busy_s = 0.0  # processing time since the last checkpoint
        self.crashed = False
        self.crash_reason: BaseException | None = None
        # Set by whoever runs the intake (streams.faust_app): how to crash the
        # worker, and whether it is stopping.
        self.on_crash: Callable[[BaseException], Awaitable[None]] | None = None
        self.host_stopping: Callable[[], bool] = lambda: False

    @property
    def should_stop(self) -> bool:
        return self.crashed or self.host_stopping()

    async def crash(self, reason: BaseException) -> None:
        """Stop for good: a failed checkpoint leaves a state whose changes never landed."""
        self.crashed = True
        self.crash_reason = reason
        if self.on_crash is not None:
            await self.on_crash(reason)

    # -- lifecycle ------------------------------------------------------------------

    async def open(self) -> None:
        """Create the consumer and join the group (the join finishes in the background).

        Called early by the worker, so that joining this group overlaps the
        Faust app's own group join instead of following it.
        """
        if self.consumer is not None:
            return
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            group_id=self.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            partition_assignment_strategy=(RangePartitionAssignor,),
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_wait_ms=100,
            **consumer_options(self.settings, self.flavor),
            **aiokafka_security(self.settings),
        )
        await self.consumer.start()
        self.consumer.subscribe(list(self.settings.input_topics), listener=_Listener(self))
        log.info("input consumer started", extra={"group": self.group_id})

    async def close(self) -> None:
        consumer, self.consumer = self.consumer, None
        if consumer is None:
            return
        # Keep what was processed: a final checkpoint spares the next owner a
        # replay. Bounded, because ClickHouse may be the reason we stop; the
        # checkpoint log makes a skipped one harmless.
        try:
            await asyncio.wait_for(self.processor.checkpoint(), FINAL_CHECKPOINT_S)
        except Exception as exc:  # shutting down either way
            log.warning("final checkpoint skipped", extra={"error": type(exc).__name__})
        await consumer.stop()

    # -- the loop -------------------------------------------------------------------

    async def run(self) -> None:
        """Read, process and checkpoint until the worker stops (or the consumer does)."""
        interval = self.settings.commit_interval
        batch_size = self.settings.batch_size
        processor = self.processor
        while not self.should_stop:
            consumer = self.consumer
            if consumer is None:
                return
            # With nothing unwritten, wait a whole interval for input; otherwise
            # only until the checkpoint is due. Never zero: that would spin.
            wait = interval
            if self.unflushed:
                wait -= time.monotonic() - self.last_checkpoint
            try:
                fetched = await consumer.getmany(
                    timeout_ms=max(10, int(wait * 1000)),
                    max_records=max(1, batch_size - self.unflushed),
                )
            except ConsumerStoppedError:
                return
            started = time.monotonic()
            # aiokafka's records as they are: no copy per message.
            messages = [record for records in fetched.values() for record in records]
            if messages:
                await processor.process(messages)
                self.unflushed += len(messages)
            self.busy_s += time.monotonic() - started
            due = time.monotonic() - self.last_checkpoint >= interval
            if self.unflushed >= batch_size or (due and self.unflushed):
                await self.checkpoint(wait=False)

    async def checkpoint(self, *, wait: bool = True) -> None:
        """Write out what was processed, then tell the group how far we are.

        The read loop does not wait for the write: it processes the next batch
        meanwhile (the next checkpoint waits for this one).
        """
        started = time.monotonic()
        await self.processor.checkpoint(wait=wait)
        self.last_checkpoint = time.monotonic()
        self.processor.record_batch(self.unflushed, self.busy_s + time.monotonic() - started)
        self.unflushed = 0
        self.busy_s = 0.0
        await self.commit()

    async def commit(self) -> None:
        """Commit the positions of the last checkpoint written, for lag tools only.

        Recovery never reads these: the checkpoint log holds the offsets that
        match the state. A commit that fails during a rebalance is harmless.
        """
        consumer = self.consumer
        if consumer is None:
            return
        assigned = consumer.assignment()
        offsets = {}
        for partition, positions in self.processor.durable_offsets.items():
            for topic, offset in positions.items():
                tp = TopicPartition(topic, partition)
                if tp in assigned:
                    offsets[tp] = offset
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            log.debug("offset commit skipped", extra={"error": type(exc).__name__})

    # -- positions ------------------------------------------------------------------

    async def seek(self, topic: str, partition: int, offset: int) -> None:
        if self.consumer is None:
            return
        # Not ours any more: the next owner starts from the checkpoint log.
        with contextlib.suppress(IllegalStateError):
            self.consumer.seek(TopicPartition(topic, partition), offset)

    def highwater(self, topic: str, partition: int) -> int | None:
        """The high-water mark from the last fetch, or None while unknown."""
        if self.consumer is None:
            return None
        try:
            value = self.consumer.highwater(TopicPartition(topic, partition))
        except IllegalStateError:
            return None
        return None if value is None else int(value)

    # -- rebalances -----------------------------------------------------------------

    async def revoked(self, partitions: Sequence[Any]) -> None:
        self.ready = False
        numbers = {tp.partition for tp in partitions}
        try:
            await self.processor.on_revoked(numbers)
        except CheckpointFailed as exc:
            # aiokafka logs a listener's exception and carries on with the
            # rebalance: crash the worker here, as a failed checkpoint does
            # anywhere else (a restart replays from the last one written).
            await self.crash(exc)
            raise
        self.unflushed = 0
        self.busy_s = 0.0
        self.last_checkpoint = time.monotonic()

    async def assigned(self, partitions: Sequence[Any]) -> None:
        """Recover each partition's state, then read from exactly its checkpointed offsets."""
        if self.should_stop:
            return  # stopping or crashed: a rebalance finishing on the way out
        topics = set(self.settings.input_topics)
        numbers = {tp.partition for tp in partitions}
        for number in sorted(numbers):
            missing = topics - {tp.topic for tp in partitions if tp.partition == number}
            if missing:
                # Unequal partition counts: events of one partition number would
                # be split across workers. Say so; the processor stays exact per
                # topic-partition it owns.
                log.error(
                    "input topics are not co-partitioned: partition %d assigned without %s",
                    number,
                    ", ".join(sorted(missing)),
                )
        await self.processor.on_assigned(numbers)
        for tp in partitions:
            state = self.processor.states.get(tp.partition)
            offset = state.offsets.get(tp.topic) if state is not None else None
            if offset is None:
                await self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, offset)
        self.ready = True
        log.info("input partitions assigned", extra={"partitions": sorted(numbers)})


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """aiokafka awaits these before and after the group rebalances."""

    def __init__(self, intake: Intake) -> None:
        self.intake = intake

    async def on_partitions_revoked(self, revoked: Sequence[Any]) -> None:
        await self.intake.revoked(revoked)

    async def on_partitions_assigned(self, assigned: Sequence[Any]) -> None:
        await self.intake.assigned(assigned)
