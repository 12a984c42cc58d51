"""Scale-out: two workers in one consumer group split the partitions and together are exact."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from schemas.loopback import free_port
from tests.e2e.worker_helpers import (
    TOPICS,
    assert_tables,
    create_topics,
    publish,
    scrape,
    start_worker,
    worker_env,
)
from tests.oracle import PROJECTS, generate, read_union

pytestmark = pytest.mark.e2e


def _wait(condition: object, timeout: float, what: str) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _scraped(port: int, needs: str) -> dict[str, float]:
    """One worker's metrics (by sample, with labels) once they hold ``needs``.

    A single scrape may time out on a busy machine; it gives {} then.
    """
    got: dict[str, float] = {}

    def has() -> bool:
        got.update(scrape(port, labels=True))
        return needs in got

    _wait(has, 30, f"{needs} on port {port}")
    return got


def test_two_workers_split_the_partitions_and_equal_the_oracle(
    kafka_broker: str, tmp_path: Path
) -> None:
    stream = generate(seed=29, count=12_000)
    create_topics(kafka_broker, partitions=4)
    ports = [free_port(), free_port()]
    while ports[1] == ports[0]:
        ports[1] = free_port()
    dirs = [tmp_path / "w0", tmp_path / "w1"]
    workers = [
        start_worker(
            worker_env(kafka_broker, dirs[i], ANNOTEL_BATCH_SIZE="500"),
            until_drained=False,
            log=tmp_path / f"w{i}.log",
            web_port=ports[i],
        )
        for i in range(2)
    ]
    try:
        # Both members own partitions, and together all four, before any data arrives.
        def split() -> bool:
            owned = [scrape(p).get("annotel_assigned_partitions", 0) for p in ports]
            ready = [scrape(p).get("annotel_ready", 0) for p in ports]
            return owned[0] >= 1 and owned[1] >= 1 and sum(owned) == 4 and all(ready)

        _wait(split, 120, "the group to split four partitions between two workers")
        publish(kafka_broker, stream.lines, TOPICS)

        def done() -> bool:
            scraped = [scrape(p) for p in ports]
            return (
                sum(s.get("annotel_events_total", 0) for s in scraped) == len(stream.lines)
                and sum(s.get("annotel_pending_events", 1) for s in scraped) == 0
                and sum(s.get("annotel_dead_letter_rows_total", 0) for s in scraped)
                >= stream.invalid
            )

        _wait(done, 180, "both workers to checkpoint every message")
        per_worker = [_scraped(p, "annotel_events_total")["annotel_events_total"] for p in ports]
        assert all(n > 0 for n in per_worker), per_worker
        # Each worker reports its own memory and that of its embedded ClickHouse process
        # (which holds the engine: far more than a bare interpreter).
        for port in ports:
            sampled = _scraped(port, 'annotel_process_resident_bytes{process="clickhouse"}')
            worker = sampled['annotel_process_resident_bytes{process="worker"}']
            engine = sampled['annotel_process_resident_bytes{process="clickhouse"}']
            assert worker > 30 * 2**20 and engine > 100 * 2**20, sampled
            assert sampled['annotel_process_cpu_seconds_total{process="clickhouse"}'] > 0
        # While both still run: their databases, read through their engine processes
        # (queries only), already equal the oracle, and `annotel top` reads one.
        assert_tables(
            stream, *read_union([f"chdb://{d / 'clickhouse'}" for d in dirs], read_only=True)
        )
        top = subprocess.run(
            [sys.executable, "-m", "annotel", "top", "--json"],
            env=worker_env(kafka_broker, dirs[0]),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert top.returncode == 0, top.stderr
        shown = {p["project_id"] for p in json.loads(top.stdout)["projects"]}
        assert shown and shown <= set(PROJECTS), shown
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        for process in workers:
            try:
                process.wait(60)
            except Exception:
                process.kill()
                process.wait()

    assert_tables(stream, *read_union([f"chdb://{d / 'clickhouse'}" for d in dirs]))
