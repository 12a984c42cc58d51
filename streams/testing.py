"""Test doubles of the worker, shipped with it (as bytewax ships ``bytewax.testing``).

- ``RecordingSink`` and ``RecordingPublisher`` (``Recorder`` is both): the
  ``Sink`` and ``Publisher`` ports (``streams.ports``) keeping what they are
  given, in order. The sink can fail from its n-th write on, the publisher
  can be held back (``gate``): enough to pin the checkpoint protocol's order
  and failures without ClickHouse or Kafka.
- ``aggregate`` and ``write``: the production aggregation path without Kafka:
  decode → partition state → rows → writer. For tests of what lands in
  ClickHouse (hostile strings, views, dashboards) where the broker adds
  nothing; the Kafka path is proven by the end-to-end tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.decode import ContractDecoder
from schemas.queue_status import QueueStatus
from sinks.batches import RejectedRow
from streams.delivery_partition import DeliveryPartitionState
from streams.partition import PartitionState
from streams.ports import Outgoing, Sink
from streams.rows import rows_for_checkpoint

TOPIC_OF = {
    "task_completed": "annotation.task-completed",
    "task_audited": "annotation.task-audited",
}
NOW = datetime(2030, 1, 1, tzinfo=UTC)


class RecordingSink:
    """A ``Sink`` that keeps every batch it is given; from write ``fail_after`` on, it raises."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.rows: list[Mapping[str, Sequence[Sequence[Any]]]] = []
        self.fail_after = fail_after

    def write(
        self,
        batches: Mapping[str, Sequence[Sequence[Any]]],
        *,
        rejectable: Collection[str] = (),
    ) -> list[RejectedRow]:
        if self.fail_after is not None and len(self.rows) >= self.fail_after:
            raise ConnectionError("injected: ClickHouse unreachable")
        self.rows.append(batches)
        return []


class RecordingPublisher:
    """A ``Publisher`` that keeps every record, in order; it waits while ``gate`` is clear.

    Offsets count the records of all topics together: unique and growing, as
    the callers need them to be.
    """

    def __init__(self) -> None:
        self.records: list[Outgoing] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def publish(self, records: list[Outgoing]) -> list[int]:
        await self.gate.wait()
        start = len(self.records)
        self.records.extend(records)
        return list(range(start, start + len(records)))


class Recorder(RecordingSink, RecordingPublisher):
    """Sink and publisher at once: one log of what a checkpoint wrote, in its order."""

    def __init__(self, fail_after: int | None = None) -> None:
        RecordingSink.__init__(self, fail_after)
        RecordingPublisher.__init__(self)


def aggregate(lines: Iterable[bytes], partition: int = 0) -> PartitionState:
    """Run lines through one partition's state and close every window."""
    decoder = ContractDecoder(1 << 20, 3650 * 86400)
    state = DeliveryPartitionState(
        partition, lateness_us=120 * 10**6, retention_us=3650 * 86400 * 10**6
    )
    for raw in lines:
        try:
            topic = TOPIC_OF.get(orjson.loads(raw).get("event_type"), "annotation.task-completed")
        except (orjson.JSONDecodeError, AttributeError):
            topic = "annotation.task-completed"
        decoded = decoder.decode(raw, NOW)
        if type(decoded) is QueueStatus:
            state.process_snapshot(decoded, raw, topic, state.offsets.get(topic, 0))
        else:
            state.process(decoded, raw, topic, state.offsets.get(topic, 0))  # type: ignore[arg-type]
    state.advance(close_all=True)
    return state


def write(writer: Sink, lines: Iterable[bytes], partition: int = 0) -> PartitionState:
    """``aggregate``, then write the rows as one checkpoint would."""
    state = aggregate(lines, partition)
    writer.write(rows_for_checkpoint([state], int(NOW.timestamp() * 1_000_000)))
    state.mark_checkpointed()
    return state
