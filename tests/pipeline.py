"""The production aggregation path without Kafka: decode → partition state → rows → writer.

For tests of what lands in ClickHouse (hostile strings, views, dashboards)
where the broker adds nothing; the Kafka path is proven by the e2e tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import orjson

from schemas.decode import Decoder
from sinks.writer import ClickHouseWriter
from streams.partition import PartitionState
from streams.rows import rows_for_checkpoint

TOPIC_OF = {
    "task_completed": "annotation.task-completed",
    "task_audited": "annotation.task-audited",
}
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def aggregate(lines: Iterable[bytes], partition: int = 0) -> PartitionState:
    """Run lines through one partition's state and close every window."""
    decoder = Decoder(1 << 20, 3650 * 86400)
    state = PartitionState(partition, lateness_us=120 * 10**6, retention_us=3650 * 86400 * 10**6)
    for raw in lines:
        try:
            topic = TOPIC_OF.get(orjson.loads(raw).get("event_type"), "annotation.task-completed")
        except (orjson.JSONDecodeError, AttributeError):
            topic = "annotation.task-completed"
        state.process(decoder.decode(raw, NOW), raw, topic, state.offsets.get(topic, 0))
    state.advance(close_all=True)
    return state


def write(writer: ClickHouseWriter, lines: Iterable[bytes], partition: int = 0) -> PartitionState:
    state = aggregate(lines, partition)
    writer.write(rows_for_checkpoint([state], int(NOW.timestamp() * 1_000_000)))
    state.mark_checkpointed()
    return state
