"""Oracle test: a bounded replay on the real broker and chDB equals an independent recomputation."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.worker_helpers import (
    TOPICS,
    create_topics,
    drained_totals,
    publish,
    run_until_drained,
    worker_env,
)
from tests.oracle import compare_metrics, generate, oracle, read_tables

pytestmark = pytest.mark.e2e


def test_bounded_replay_equals_oracle(fresh_broker: str, tmp_path: Path) -> None:
    stream = generate(seed=11, count=6000)
    create_topics(fresh_broker)
    publish(fresh_broker, stream.lines, TOPICS)
    env = worker_env(fresh_broker, tmp_path / "data")
    text = run_until_drained(env, tmp_path / "worker.log")

    totals = drained_totals(text)
    dead = sum(v for k, v in totals.items() if k.startswith("dead_"))
    assert totals["events_in"] == len(stream.lines)
    assert totals["accepted"] == len(stream.valid)
    assert totals["duplicates"] == stream.duplicates
    assert dead == stream.invalid
    assert totals["events_in"] == totals["accepted"] + totals["duplicates"] + dead
    assert totals.get("late", 0) > 0, "the stream was built with corrections"

    expected_metrics, expected_errors = oracle(stream.valid)
    actual_metrics, actual_errors, counts = read_tables(
        "chdb://" + str(tmp_path / "data" / "clickhouse")
    )
    problems = compare_metrics(actual_metrics, expected_metrics)
    assert not problems, "\n".join(problems[:20])
    assert actual_errors == expected_errors
    valid_tasks = sum(1 for e in stream.valid if e["event_type"] == "task_completed")
    assert counts["task_events"] == valid_tasks
    assert counts["audit_events"] == len(stream.valid) - valid_tasks
    assert counts["dlq_events"] == stream.invalid
