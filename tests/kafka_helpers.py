"""Read back what landed on topics, with a real consumer."""

from __future__ import annotations

import time
from typing import Any

from kafka import KafkaConsumer, TopicPartition


def consume_all(bootstrap: str, topic: str, timeout: float = 15.0) -> list[Any]:
    """Every record on a topic, from the beginning, across partitions."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=1500,
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        idle_rounds = 0
        while time.monotonic() < deadline and idle_rounds < 3:
            batch = consumer.poll(timeout_ms=500)
            if not batch:
                idle_rounds += 1
                continue
            idle_rounds = 0
            for recs in batch.values():
                records.extend(recs)
        return records
    finally:
        consumer.close()
