"""Poison test: every hostile case of the corpus in the middle of normal traffic.

Each poison case reaches the input topics twice: straight from a producer
that does not validate, and through ``annotel ingest``; the valid cases at
their bounds and a backfill go in once. One bounded worker run on the real
broker and chDB must drain and exit 0, aggregate every other event exactly
(the oracle), and leave each poison message in ``dlq_events`` with its
reason. Among the cases: values ClickHouse cannot store (attempt 65536, a
date before 1970), one that overflowed the state's arithmetic (audit_time_s
1e308), control and bidi characters, and a backfill spanning 130 months in
one checkpoint (ClickHouse error 252 unless inserts are split by month).
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from sinks.client import connect
from tests import corpus
from tests.e2e.worker_helpers import (
    TOPICS,
    assert_tables,
    create_topics,
    drained_totals,
    ingest_file,
    publish,
    run_until_drained,
    worker_env,
)
from tests.oracle import Stream, generate, read_tables

pytestmark = pytest.mark.e2e


def _with_cases(stream: Stream, cases: list[corpus.Case], rng: random.Random) -> None:
    """Insert each case's messages into the middle of the stream (in order, for a span)."""
    for case in cases:
        position = rng.randint(len(stream.lines) // 4, 3 * len(stream.lines) // 4)
        stream.lines[position:position] = list(case.lines)
        if case.poison:
            stream.invalid += len(case.lines)
        else:
            stream.valid.extend(orjson.loads(line) for line in case.lines)


def _publish_keyed(bootstrap: str, lines: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        for line in lines:
            event = orjson.loads(line)
            topic = TOPICS[event["event_type"]]
            producer.send(topic, key=event["project_id"].encode(), value=line)
        producer.flush()
    finally:
        producer.close()


def test_poison_events_are_dead_letters_and_the_rest_is_exact(
    kafka_broker: str, tmp_path: Path
) -> None:
    cases = corpus.load()
    poison = [case for case in cases if case.poison]
    # Valid at their bounds, or a backfill: stored and aggregated like any event.
    stored = [c for c in cases if not (c.poison or c.fresh_only or c.micro_units)]
    assert len(poison) >= 30 and any(len(case.lines) > 100 for case in stored)
    rng = random.Random(19)

    raw = generate(seed=31, count=3000)
    _with_cases(raw, poison, rng)
    ingested = generate(seed=37, count=1000)
    ingest_lines = list(ingested.lines)
    for case in poison:
        position = rng.randint(len(ingest_lines) // 4, 3 * len(ingest_lines) // 4)
        ingest_lines[position:position] = list(case.lines)

    create_topics(kafka_broker)
    publish(kafka_broker, raw.lines, TOPICS)  # no validation on the way in
    # Then the valid cases, keyed by their project as the partitioning contract
    # wants (publish's json cannot parse the one nested 1000 deep).
    backfill = Stream()
    _with_cases(backfill, stored, rng)
    _publish_keyed(kafka_broker, backfill.lines)
    raw.lines += backfill.lines
    raw.valid += backfill.valid
    path = tmp_path / "events.jsonl"
    # Lines of a file cannot hold a newline; the corpus has none outside JSON strings.
    assert not any(b"\n" in line for line in ingest_lines)
    path.write_bytes(b"\n".join(ingest_lines) + b"\n")
    summary = ingest_file(kafka_broker, path)
    assert summary["dead_lettered"] == ingested.invalid + len(poison) - summary["blank"]

    # A retention long enough for the backfill (2015-2025) to be corrections, not too_late.
    env = worker_env(kafka_broker, tmp_path / "data", ANNOTEL_RETENTION="5000d")
    text = run_until_drained(env, tmp_path / "worker.log", timeout=240)

    totals = drained_totals(text)
    dead = {k[5:]: v for k, v in totals.items() if k.startswith("dead_")}
    assert totals["events_in"] == len(raw.lines) + summary["published"]
    assert totals["accepted"] == len(raw.valid) + len(ingested.valid)
    assert totals["duplicates"] == raw.duplicates + ingested.duplicates
    assert sum(dead.values()) == raw.invalid
    # All of them refused by the contract: the fallbacks behind it had nothing to do.
    assert "unprocessable" not in dead

    everything = Stream(
        lines=raw.lines + ingest_lines,
        valid=raw.valid + ingested.valid,
        duplicates=raw.duplicates + ingested.duplicates,
        invalid=raw.invalid + summary["dead_lettered"],
    )
    dsn = "chdb://" + str(tmp_path / "data" / "clickhouse")
    assert_tables(everything, *read_tables(dsn))

    # Each poison message is a dead letter with its reason (and field), once per path.
    client = connect(dsn)
    try:
        letters = client.query(
            "SELECT hex(payload), reason, field, producer FROM dlq_events FINAL"
        ).result_rows
    finally:
        client.close()
    found = Counter((bytes.fromhex(p), r, f, who) for p, r, f, who in letters)
    for case in poison:
        for line in case.lines:
            # A blank line of a file is skipped by ingest (counted as blank), not published.
            for producer in ("stream", "ingest") if line.strip() else ("stream",):
                key = (line, case.expect, case.field, producer)
                assert found[key] >= 1, f"{case.name}: no {producer} dead letter {key[1:]}"
