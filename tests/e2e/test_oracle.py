"""Oracle test: a bounded replay on the real broker and chDB equals an independent recomputation."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from embedded.broker import embedded_broker
from streams.kafka_config import EMBEDDED_CLUSTER_ID
from tests.e2e.worker_helpers import (
    TOPICS,
    assert_exact,
    create_topics,
    drained_totals,
    publish,
    run_until_drained,
    worker_env,
)
from tests.oracle import Stream, generate, read_tables

pytestmark = pytest.mark.e2e


def test_bounded_replay_equals_oracle(kafka_broker: str, tmp_path: Path) -> None:
    stream = generate(seed=11, count=6000)
    create_topics(kafka_broker)
    publish(kafka_broker, stream.lines, TOPICS)
    env = worker_env(kafka_broker, tmp_path / "data", ANNOTEL_BATCH_SIZE="500")
    text = run_until_drained(env, tmp_path / "worker.log")

    assert_exact(stream, text, "chdb://" + str(tmp_path / "data" / "clickhouse"))
    assert drained_totals(text).get("late", 0) > 0, "the stream was built with corrections"


def _counted(dsn: str) -> tuple[dict[Any, Any], dict[Any, int]]:
    """metrics_1m FINAL and audit_errors_1m FINAL without all-zero rows.

    Whether a window whose only work was superseded or retracted has a row of
    zeros (written over the row it had) or none depends on the arrival order:
    both read the same (docs/metrics.md), and ``metrics_1m_final`` leaves them out.
    """
    metrics, errors, _counts = read_tables(dsn)
    return {k: v for k, v in metrics.items() if any(v.values())}, errors


def _reshuffled(stream: Stream, seed: int) -> Stream:
    """The same messages in another order: each moved by up to 40 positions."""
    rng = random.Random(seed)
    order = sorted(range(len(stream.lines)), key=lambda i: i + rng.uniform(0, 40))
    return Stream(
        lines=[stream.lines[i] for i in order],
        valid=stream.valid,
        duplicates=stream.duplicates,
        invalid=stream.invalid,
    )


def test_versions_equal_the_oracle_in_any_order_and_batching(
    kafka_broker: str, tmp_path: Path
) -> None:
    """Edits, deletions, re-deletions, re-audits, versions out of order, duplicates of versions.

    The stream (tests/oracle.py ``generate(versions=True)``) also holds events
    without the new fields. metrics_1m FINAL and audit_errors_1m FINAL equal
    the oracle's own version rule field by field, maxima included; the
    ``_current`` views hold exactly the versions that count; the counters
    ``superseded`` and ``retractions`` equal the oracle's (``assert_exact``).
    Then the same messages in another order, read in other batch sizes: the
    same tables.
    """
    stream = generate(seed=17, count=6000, versions=True)
    create_topics(kafka_broker)
    publish(kafka_broker, stream.lines, TOPICS)
    env = worker_env(kafka_broker, tmp_path / "data", ANNOTEL_BATCH_SIZE="500")
    text = run_until_drained(env, tmp_path / "worker.log")
    dsn = "chdb://" + str(tmp_path / "data" / "clickhouse")
    assert_exact(stream, text, dsn)
    totals = drained_totals(text)
    assert totals["superseded"] > 100 and totals["retractions"] > 10, totals
    first = _counted(dsn)

    # The same messages in another order, read in other batch sizes, by a fresh
    # worker on a broker of its own.
    again = _reshuffled(stream, 3)
    assert again.lines != stream.lines
    with embedded_broker(cluster_id=EMBEDDED_CLUSTER_ID) as bootstrap:
        create_topics(bootstrap)
        publish(bootstrap, again.lines, TOPICS)
        env = worker_env(bootstrap, tmp_path / "again", ANNOTEL_BATCH_SIZE="97")
        text = run_until_drained(env, tmp_path / "again.log")
    dsn = "chdb://" + str(tmp_path / "again" / "clickhouse")
    assert_exact(again, text, dsn)
    assert _counted(dsn) == first
