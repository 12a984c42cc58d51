"""Delivery oracle: delivery_1m FINAL after a replay on the real broker and chDB equals
an independent recomputation, with snapshots out of order and redelivered, and a plan
that overrides a snapshot's deadline."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.delivery_oracle import PROJECTS, QUEUES, generate, oracle
from tests.e2e.worker_helpers import (
    TOPICS,
    create_topics,
    drained_totals,
    publish,
    run_until_drained,
    worker_env,
)

pytestmark = pytest.mark.e2e

START = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
PLANNED = (PROJECTS[1], QUEUES[0])
PLAN_DUE = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
COLUMNS = (
    "project_id, queue_id, toUnixTimestamp(window_start), open_tasks, target_total, "
    "toUnixTimestamp64Milli(due_at), window_s, submitted, submitted_24h, annotators_active, "
    "throughput_per_hour, toUnixTimestamp64Milli(eta), slack_h, required_per_hour, aht_s, "
    "annotators_needed, annotators_gap, snapshot_event_id"
)
NAMES = (
    "open_tasks",
    "target_total",
    "due_ms",
    "window_s",
    "submitted",
    "submitted_24h",
    "annotators_active",
    "throughput_per_hour",
    "eta_ms",
    "slack_h",
    "required_per_hour",
    "aht_s",
    "annotators_needed",
    "annotators_gap",
    "snapshot_event_id",
)


def _read(dsn: str) -> dict[tuple[str, str, int], dict[str, Any]]:
    from sinks.client import connect

    client = connect(dsn, open_timeout=120)
    try:
        result = client.query(f"SELECT {COLUMNS} FROM delivery_1m FINAL")
        return {
            (row[0], row[1], int(row[2])): dict(zip(NAMES, row[3:], strict=True))
            for row in result.result_rows
        }
    finally:
        client.close()


def _same(actual: Any, expected: Any) -> bool:
    if expected is None or actual is None:
        return actual is None and expected is None
    if isinstance(actual, float):
        return math.isclose(actual, float(expected), rel_tol=1e-12, abs_tol=1e-9)
    return bool(actual == expected)


def _assert_equal(
    actual: dict[tuple[str, str, int], dict[str, Any]],
    expected: dict[tuple[str, str, int], dict[str, Any]],
) -> None:
    assert set(actual) == set(expected)
    wrong = [
        (key, name, actual[key][name], expected[key][name])
        for key in sorted(expected)
        for name in NAMES
        if not _same(actual[key][name], expected[key][name])
    ]
    assert not wrong, wrong[:10]


def test_a_sigkill_after_a_write_and_a_restart_give_the_same_rows(
    fresh_broker: str, tmp_path: Path
) -> None:
    """Killed right after a ClickHouse write (its checkpoint record not written), with full
    snapshots every other checkpoint: recovery rebuilds the forecast state exactly."""
    stream = generate(seed=26, minutes=90, start=START)
    create_topics(fresh_broker)
    publish(fresh_broker, stream.lines, TOPICS)
    env = worker_env(
        fresh_broker, tmp_path / "data", ANNOTEL_BATCH_SIZE="300", ANNOTEL_SNAPSHOT_EVERY="2"
    )
    log = tmp_path / "worker.log"
    with open(log, "ab") as handle:
        code = subprocess.run(
            [sys.executable, "-m", "tests.e2e.kill_after_flush", "worker", "--until-drained"],
            env={**env, "KILL_AFTER_WRITES": "6"},
            stdout=handle,
            stderr=subprocess.STDOUT,
            timeout=300,
        ).returncode
    assert code == -signal.SIGKILL, log.read_text(errors="replace")[-3000:]
    dsn = "chdb://" + str(tmp_path / "data" / "clickhouse")
    partial = _read(dsn)
    expected = oracle(stream, {})
    assert 0 < len(partial) < len(expected)
    run_until_drained(env, log)
    _assert_equal(_read(dsn), expected)


def test_delivery_1m_equals_the_oracle(fresh_broker: str, tmp_path: Path) -> None:
    stream = generate(seed=25, minutes=150, start=START)
    plans_file = tmp_path / "plans.yaml"
    plans_file.write_text(
        "version: 1\nplans:\n"
        f"  - project_id: {PLANNED[0]}\n    queue_id: {PLANNED[1]}\n"
        f"    due_at: {PLAN_DUE.isoformat()}\n    target_total: 1234\n"
        "    utilization: 0.8\n    hours_per_day: 10\n",
        encoding="utf-8",
    )
    create_topics(fresh_broker)
    publish(fresh_broker, stream.lines, TOPICS)
    env = worker_env(
        fresh_broker,
        tmp_path / "data",
        ANNOTEL_BATCH_SIZE="300",
        ANNOTEL_PLANS_FILE=str(plans_file),
    )
    text = run_until_drained(env, tmp_path / "worker.log")
    totals = drained_totals(text)
    assert totals["events_in"] == len(stream.lines)
    assert totals["duplicates"] == stream.duplicates
    assert totals.get("late", 0) == 0

    plan = {
        "due_us": int(PLAN_DUE.timestamp()) * 1_000_000,
        "target_total": 1234,
        "utilization": "0.8",
        "hours_per_day": 10,
    }
    expected = oracle(stream, {PLANNED: plan})
    _assert_equal(_read("chdb://" + str(tmp_path / "data" / "clickhouse")), expected)
    # What the stream covers: stalled minutes, the plan's deadline, ties of snapshots.
    assert any(row["eta_ms"] is None for row in expected.values())
    planned = [row for key, row in expected.items() if key[:2] == PLANNED]
    assert planned and all(row["due_ms"] == plan["due_us"] // 1000 for row in planned)
    assert all(row["target_total"] == 1234 for row in planned)
    assert any(row["slack_h"] is not None and row["slack_h"] < 0 for row in expected.values())
    assert any(row["slack_h"] is not None and row["slack_h"] > 0 for row in expected.values())
