"""``annotel demo``: the product on the embedded stack, bounded, in one command."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from streams.broker import EmbeddedBroker

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "sample-events.jsonl"


def _topic_counts(bootstrap: str, topics: list[str]) -> dict[str, int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        counts: Counter[str] = Counter()
        for topic in topics:
            tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            if not tps:
                continue
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            idle = 0
            while idle < 2:
                batch = consumer.poll(timeout_ms=500)
                if not batch:
                    idle += 1
                for records in batch.values():
                    counts[topic] += len(records)
        return dict(counts)
    finally:
        consumer.close()


def cmd_demo(args: argparse.Namespace) -> int:
    started = time.monotonic()
    source = Path(args.input) if args.input else SAMPLE
    broker = EmbeddedBroker()
    bootstrap = broker.start()
    print(f"embedded broker on {bootstrap}", file=sys.stderr)
    try:
        env = {**os.environ, "ANNOTEL_KAFKA_BOOTSTRAP_SERVERS": bootstrap}
        out = subprocess.run(
            [sys.executable, "-m", "streams.cli", "ingest", str(source), "--json"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        ingested = json.loads(out.stdout)
        topics = ["annotation.task-completed", "annotation.task-audited", "annotation.dlq"]
        counts = _topic_counts(bootstrap, topics)
    finally:
        broker.stop()
    summary = {
        "ingest": ingested,
        "topics": counts,
        "elapsed_s": round(time.monotonic() - started, 2),
    }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        print(
            f"ingested {source.name}: {ingested['published']} published, "
            f"{ingested['dead_lettered']} dead-lettered {ingested['by_reason']}"
        )
        for topic, count in counts.items():
            print(f"  {topic:<28} {count:>6} message(s)")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="run the product on the embedded stack")
    demo.add_argument("--input", help="JSON-lines file to replay (default: shipped sample)")
    demo.add_argument("--json", action="store_true")
    demo.set_defaults(func=cmd_demo)
