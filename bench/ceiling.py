"""The ceiling: a bare aiokafka consumer reading every input message and decoding its JSON.

No validation, no state, no writes, no commits: how fast Python can merely
read the same messages from the same broker. Run as its own process by the
benchmark::

    python -m bench.ceiling --bootstrap 127.0.0.1:PORT --expect N

prints one JSON line: events, seconds (first fetch to the last message),
events/s, and the setup seconds (connect, assign) kept apart.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.stack import INPUT_TOPICS, PARTITIONS


async def consume(bootstrap: str, expect: int, timeout_s: float) -> dict[str, Any]:
    began = time.perf_counter()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=16 * 1024 * 1024,
    )
    await consumer.start()
    try:
        # The partitions bench.stack.create_topics made. Asked of the consumer's
        # metadata instead (partitions_for_topic after topics()), they were found
        # on Tansu but not on Apache Kafka, and the run stopped there.
        partitions = [TopicPartition(t, p) for t in INPUT_TOPICS for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        setup = time.perf_counter() - began
        count = decoded = invalid = 0
        loads = orjson.loads
        started = time.perf_counter()
        deadline = started + timeout_s
        while count < expect and time.perf_counter() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=10_000)
            for records in batches.values():
                for record in records:
                    try:
                        loads(record.value)
                        decoded += 1
                    except orjson.JSONDecodeError:
                        invalid += 1
            count += sum(len(r) for r in batches.values())
        seconds = time.perf_counter() - started
    finally:
        await consumer.stop()
    return {
        "events": count,
        "decoded": decoded,
        "invalid_json": invalid,
        "seconds": seconds,
        "eps": count / seconds if seconds > 0 else 0.0,
        "setup_s": setup,
        "complete": count >= expect,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ceiling")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    result = asyncio.run(consume(args.bootstrap, args.expect, args.timeout))
    print(orjson.dumps(result).decode(), flush=True)
    return 0 if result["complete"] else 1


if __name__ == "__main__":
    sys.exit(main())
