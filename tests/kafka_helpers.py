"""Read back what landed on topics, with a real consumer."""

from __future__ import annotations

import time
from typing import Any

from kafka import KafkaConsumer, TopicPartition


def consume_all(bootstrap: str, topic: str, timeout: float = 15.0) -> list[Any]:
    """Every record on a topic when called, from the beginning, across partitions.

    Reads up to the end offsets taken at the start rather than until the
    consumer has been idle a while: a slow first fetch is not the end of the
    topic. Past ``timeout`` it fails instead of returning part of the topic.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while any(consumer.position(tp) < end[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: {len(records)} records read, end offsets {end}")
            for recs in consumer.poll(timeout_ms=500).values():
                records.extend(recs)
        return records
    finally:
        consumer.close()
