"""Recovery: reading the worker's own logs back after a start or a rebalance.

A partition's state is rebuilt from its checkpoint records on the state
topic, the alert stage's from the alert-state topic, never from the input
topics or the group's commits (docs/architecture.md, *Why the numbers stay
exact*). Both logs are read from the latest full snapshot on: the last
message's header names it (``streams.statelog.base_of``), so recovery time
follows the snapshot interval, not the age of the log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from alerts.stage import STEP, step_time
from streams.kafka_config import aiokafka_security
from streams.ports import LoadState
from streams.settings import Settings
from streams.statelog import base_of, decode_checkpoints


class TopicReader:
    """Reads the worker's own logs for recovery (never the input topics)."""

    def __init__(self, settings: Settings):
        self.settings = settings

    async def _consumer(self) -> Any:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **aiokafka_security(self.settings),
        )
        await consumer.start()
        return consumer

    async def read(self, topic: str, partition: int | None = None, start: int = 0) -> list[bytes]:
        """From ``start`` (each partition, or the one given) to the end."""
        values: list[bytes] = []
        for _, value in await self._read(topic, partition, start):
            values.append(value)
        return values

    async def tail(self, topic: str, partition: int) -> tuple[int, bytes] | None:
        """The last message of a partition and its offset (None when empty)."""
        consumer = await self._consumer()
        try:
            tp = TopicPartition(topic, partition)
            end = (await consumer.end_offsets([tp]))[tp]
        finally:
            await consumer.stop()
        if end == 0:
            return None
        found = await self._read(topic, partition, max(0, end - 1))
        return found[-1] if found else None

    async def _read(self, topic: str, partition: int | None, start: int) -> list[tuple[int, bytes]]:
        consumer = await self._consumer()
        try:
            if partition is None:
                numbers = sorted(consumer.partitions_for_topic(topic) or [])
                if not numbers:
                    await consumer.topics()
                    numbers = sorted(consumer.partitions_for_topic(topic) or [])
            else:
                numbers = [partition]
            found: list[tuple[int, bytes]] = []
            for number in numbers:
                tp = TopicPartition(topic, number)
                consumer.assign([tp])
                consumer.seek(tp, start)
                end = (await consumer.end_offsets([tp]))[tp]
                # Read to the reported end, then until quiet: some brokers report
                # a low end offset for multi-record batches.
                while True:
                    batch = await consumer.getmany(tp, timeout_ms=300, max_records=10_000)
                    records = batch.get(tp, [])
                    found.extend((r.offset, r.value) for r in records)
                    if not records and await consumer.position(tp) >= end:
                        break
            return found
        finally:
            await consumer.stop()


def state_loader(settings: Settings) -> LoadState:
    """The processor's ``load_state``: a partition's records from its latest full snapshot on."""
    reader = TopicReader(settings)

    async def load(partition: int) -> tuple[list[dict[str, Any]], int]:
        """Checkpoint records from the latest full snapshot on, and that snapshot's offset."""
        last = await reader.tail(settings.topic_state, partition)
        if last is None:
            return [], 0
        base = base_of(last[1])
        records = decode_checkpoints(await reader.read(settings.topic_state, partition, base))
        if base and (not records or not records[0].get("full")):
            # The pointer did not lead to a complete snapshot: replay everything.
            base = 0
            records = decode_checkpoints(await reader.read(settings.topic_state, partition))
        return records, base

    return load


def alert_state_reader(settings: Settings) -> Callable[[], Awaitable[list[bytes]]]:
    """The alert stage's ``read_state``: its state log from the latest full snapshot on."""
    reader = TopicReader(settings)

    async def read_state() -> list[bytes]:
        """From the snapshot before the last one: at most two snapshots to read."""
        last = await reader.tail(settings.topic_alert_state, 0)
        if last is None:
            return []
        return await reader.read(settings.topic_alert_state, 0, base_of(last[1]))

    return read_state


def latest_snapshot(
    records: Sequence[Mapping[str, Any]],
) -> tuple[Mapping[str, Any] | None, list[tuple[int, datetime]]]:
    """The last full snapshot of an alert-state log and the steps recorded after it.

    Records without ``kind`` are full snapshots (written before step records
    existed). Steps at or below the snapshot's offset, or not after the previous
    step, are ignored; without a full snapshot there is nothing to replay against.
    """
    last = None
    for index, record in enumerate(records):
        if record.get("kind") != STEP:
            last = index
    if last is None:
        return None, []
    snapshot = records[last]
    steps: list[tuple[int, datetime]] = []
    position = int(snapshot["offset"])
    for record in records[last + 1 :]:
        offset = int(record["offset"])
        if offset > position:
            steps.append((offset, step_time(record)))
            position = offset
    return snapshot, steps
