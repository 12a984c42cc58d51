"""Oracle test: a bounded replay on the real broker and chDB equals an independent recomputation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.worker_helpers import (
    TOPICS,
    assert_exact,
    create_topics,
    drained_totals,
    publish,
    run_until_drained,
    worker_env,
)
from tests.oracle import generate

pytestmark = pytest.mark.e2e


def test_bounded_replay_equals_oracle(kafka_broker: str, tmp_path: Path) -> None:
    stream = generate(seed=11, count=6000)
    create_topics(kafka_broker)
    publish(kafka_broker, stream.lines, TOPICS)
    env = worker_env(kafka_broker, tmp_path / "data", ANNOTEL_BATCH_SIZE="500")
    text = run_until_drained(env, tmp_path / "worker.log")

    assert_exact(stream, text, "chdb://" + str(tmp_path / "data" / "clickhouse"))
    assert drained_totals(text).get("late", 0) > 0, "the stream was built with corrections"
