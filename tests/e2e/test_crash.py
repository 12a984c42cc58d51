"""Crash test: SIGKILL the worker at random instants; the final tables still equal the oracle."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.broker import free_port
from tests.e2e.worker_helpers import (
    TOPICS,
    assert_exact,
    create_topics,
    events_read,
    publish,
    run_until_drained,
    start_worker,
    worker_env,
)
from tests.oracle import generate, read_tables

pytestmark = pytest.mark.e2e


def test_sigkill_at_random_instants_changes_nothing(fresh_broker: str, tmp_path: Path) -> None:
    stream = generate(seed=23, count=50_000)
    create_topics(fresh_broker)
    publish(fresh_broker, stream.lines, TOPICS)
    # Snapshots every few checkpoints: recoveries start from a snapshot, not the log's start.
    env = worker_env(fresh_broker, tmp_path / "data", ANNOTEL_SNAPSHOT_EVERY="4")
    log = tmp_path / "worker.log"
    rng = random.Random(5)
    kills = 0
    progress = []
    dsn = "chdb://" + str(tmp_path / "data" / "clickhouse")
    for _ in range(3):
        # Kill at a random point of the progress the worker reports, not at a
        # wall-clock instant: the instant would depend on the machine's speed.
        port = free_port()
        process = start_worker(env, until_drained=True, log=log, web_port=port)
        target = rng.uniform(0.15, 0.85) * len(stream.lines)
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            if events_read(port) >= target:
                break
            time.sleep(0.02)
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
    assert_exact(stream, text, dsn)
    # Recoveries started from snapshots: the log's records point past its beginning.
    from streams.statelog import base_of
    from tests.kafka_helpers import consume_all

    assert any(
        base_of(r.value) > 0 for r in consume_all(fresh_broker, "annotation-telemetry.state")
    )


@pytest.mark.parametrize("kill_after", [1, 4])
def test_sigkill_between_clickhouse_write_and_checkpoint(
    fresh_broker: str, tmp_path: Path, kill_after: int
) -> None:
    stream = generate(seed=31 + kill_after, count=5_000)
    create_topics(fresh_broker)
    publish(fresh_broker, stream.lines, TOPICS)
    env = worker_env(fresh_broker, tmp_path / "data", ANNOTEL_BATCH_SIZE="300")
    log = tmp_path / "worker.log"
    with open(log, "ab") as handle:
        killed = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.e2e.kill_after_flush",
                "worker",
                "--until-drained",
                "--web-port",
                "0",
            ],
            env={**env, "KILL_AFTER_WRITES": str(kill_after)},
            stdout=handle,
            stderr=subprocess.STDOUT,
            timeout=300,
        )
    assert killed.returncode == -signal.SIGKILL, log.read_text(errors="replace")[-3000:]
    dsn = "chdb://" + str(tmp_path / "data" / "clickhouse")
    _, _, partial = read_tables(dsn)
    assert 0 < partial["task_events"] + partial["audit_events"] < len(stream.valid)

    text = run_until_drained(env, log)
    assert_exact(stream, text, dsn)
