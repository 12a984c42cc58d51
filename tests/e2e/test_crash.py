"""Crash test: SIGKILL the worker at random instants; the final tables still equal the oracle."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from schemas.loopback import free_port
from tests.e2e.worker_helpers import (
    TOPICS,
    assert_exact,
    create_topics,
    drained_totals,
    events_read,
    publish,
    run_until_drained,
    start_worker,
    worker_env,
)
from tests.oracle import Stream, generate, read_tables

pytestmark = pytest.mark.e2e


def test_sigkill_at_random_instants_changes_nothing(kafka_broker: str, tmp_path: Path) -> None:
    """With versions: edits, deletions, re-audits, out of order, duplicates of versions.

    The entity table is checkpointed and recovered with the rest: a version
    arriving after a recovery must take back what the version recorded before
    the kill added, or the tables would differ from the oracle.
    """
    stream = generate(seed=23, count=50_000, versions=True)
    create_topics(kafka_broker)
    publish(kafka_broker, stream.lines, TOPICS)
    # Snapshots every few checkpoints: recoveries start from a snapshot, not the log's start.
    env = worker_env(kafka_broker, tmp_path / "data", ANNOTEL_SNAPSHOT_EVERY="4")
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
    assert_exact(stream, text, dsn)  # counters superseded / retractions included
    totals = drained_totals(text)
    assert totals["superseded"] > 500 and totals["retractions"] > 50, totals
    # Recoveries started from snapshots: the log's records point past its beginning.
    from streams.statelog import base_of
    from tests.kafka_helpers import consume_all

    # Up to tens of 512 KB chunks: kafka-python checks each batch's CRC32C in pure
    # Python (about 0.4 s per chunk on 2 busy cores), so the read gets time for that.
    state = consume_all(kafka_broker, "annotation-telemetry.state", timeout=120)
    assert any(base_of(r.value) > 0 for r in state)


def _published(broker: str, tmp_path: Path, seed: int, count: int) -> tuple[Stream, dict[str, str]]:
    """A seeded stream on the input topics, and a worker environment that checkpoints often."""
    stream = generate(seed=seed, count=count, versions=True)
    create_topics(broker)
    publish(broker, stream.lines, TOPICS)
    return stream, worker_env(broker, tmp_path / "data", ANNOTEL_BATCH_SIZE="300")


def _run_wrapped(
    wrapper: str, env: dict[str, str], log: Path, *args: str, timeout: float, **fault: str
) -> int:
    """Run the worker through a fault-injection wrapper (tests/e2e); its exit status."""
    with open(log, "ab") as handle:
        return subprocess.run(
            [sys.executable, "-m", wrapper, "worker", "--web-port", "0", *args],
            env={**env, **fault},
            stdout=handle,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        ).returncode


def _restart_loses_nothing(
    stream: Stream, env: dict[str, str], log: Path, tmp_path: Path, timeout: float = 300
) -> None:
    """Part of the stream reached ClickHouse; a plain restart then completes it exactly."""
    dsn = "chdb://" + str(tmp_path / "data" / "clickhouse")
    _, _, partial = read_tables(dsn)
    assert 0 < partial["task_events"] + partial["audit_events"] < len(stream.valid)
    assert_exact(stream, run_until_drained(env, log, timeout), dsn)


@pytest.mark.parametrize("kill_after", [1, 4])
def test_sigkill_between_clickhouse_write_and_checkpoint(
    kafka_broker: str, tmp_path: Path, kill_after: int
) -> None:
    stream, env = _published(kafka_broker, tmp_path, 31 + kill_after, 5_000)
    log = tmp_path / "worker.log"
    code = _run_wrapped(
        "tests.e2e.kill_after_flush",
        env,
        log,
        "--until-drained",
        timeout=300,
        KILL_AFTER_WRITES=str(kill_after),
    )
    assert code == -signal.SIGKILL, log.read_text(errors="replace")[-3000:]
    _restart_loses_nothing(stream, env, log, tmp_path)


def test_a_failed_checkpoint_write_exits_the_worker_and_a_restart_loses_nothing(
    kafka_broker: str, tmp_path: Path
) -> None:
    """A write that raises (not one retried) stops the whole process with a failure status.

    A supervisor restarts it; recovery replays from the last checkpoint record
    that landed and the tables end up equal to the oracle.
    """
    from tests.e2e.fail_after_flush import MARK

    stream, env = _published(kafka_broker, tmp_path, 41, 3_000)
    log = tmp_path / "worker.log"
    # A live worker (no --until-drained): it would never exit on its own.
    code = _run_wrapped("tests.e2e.fail_after_flush", env, log, timeout=120, FAIL_AFTER_WRITES="3")
    exited_at = time.time()
    text = log.read_text(errors="replace")
    assert code > 0, f"exit {code}:\n{text[-3000:]}"
    injected = [float(ln.split(MARK, 1)[1]) for ln in text.splitlines() if MARK in ln]
    assert len(injected) == 1, text[-3000:]  # no write was tried after the failed one
    # Exits on its own, well before a live worker's run would end (the timeout's 120 s).
    assert exited_at - injected[0] < 60, text[-3000:]
    assert "CheckpointFailed" in text and "checkpoint failed: DatabaseError" in text
    assert "final checkpoint skipped" in text  # even on the way out, nothing more is written
    # Logged as JSON lines (stderr is not a terminal), before and after mode took over
    # logging; the crash is an error record with the cause in it.
    records = [orjson.loads(ln) for ln in text.splitlines() if ln.startswith("{")]
    crash = [r for r in records if r["level"] == "error" and "Crashed" in r["msg"]]
    assert crash and "CheckpointFailed" in crash[0]["msg"], text[-3000:]
    assert not [ln for ln in text.splitlines() if ln.startswith("[20")]  # mode's own format
    _restart_loses_nothing(stream, env, log, tmp_path, timeout=120)
