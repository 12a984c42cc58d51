"""Crash test: SIGKILL the worker at random instants; the final tables still equal the oracle."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.worker_helpers import (
    TOPICS,
    create_topics,
    drained_totals,
    publish,
    run_until_drained,
    start_worker,
    worker_env,
)
from tests.oracle import compare_metrics, generate, oracle, read_tables

pytestmark = pytest.mark.e2e


def test_sigkill_at_random_instants_changes_nothing(fresh_broker: str, tmp_path: Path) -> None:
    stream = generate(seed=23, count=50_000)
    create_topics(fresh_broker)
    publish(fresh_broker, stream.lines, TOPICS)
    env = worker_env(fresh_broker, tmp_path / "data")
    log = tmp_path / "worker.log"
    rng = random.Random(5)
    kills = 0
    progress = []
    dsn = "chdb://" + str(tmp_path / "data" / "clickhouse")
    for _ in range(3):
        process = start_worker(env, until_drained=True, log=log)
        time.sleep(rng.uniform(8, 14))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(30)
        _, _, partial = read_tables(dsn)
        progress.append(partial["task_events"] + partial["audit_events"])
    assert kills == 3, "the worker finished before it could be killed three times"
    # The kills landed while work was in flight, not before or after it.
    assert any(0 < done < len(stream.valid) for done in progress), progress

    text = run_until_drained(env, log, timeout=400)
    totals = drained_totals(text)
    dead = sum(v for k, v in totals.items() if k.startswith("dead_"))
    # Every input message accounted for exactly once.
    assert totals["events_in"] == len(stream.lines)
    assert totals["accepted"] == len(stream.valid)
    assert totals["duplicates"] == stream.duplicates
    assert dead == stream.invalid

    expected_metrics, expected_errors = oracle(stream.valid)
    actual_metrics, actual_errors, counts = read_tables(
        "chdb://" + str(tmp_path / "data" / "clickhouse")
    )
    problems = compare_metrics(actual_metrics, expected_metrics)
    assert not problems, "\n".join(problems[:20])
    assert actual_errors == expected_errors
    assert counts["task_events"] + counts["audit_events"] == len(stream.valid)
    assert counts["dlq_events"] == stream.invalid
