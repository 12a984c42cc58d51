"""One far-future timestamp changes how no other event is judged, in every mode.

A replayed history file gets one event dated five years after the wall clock,
at the start, in the middle or at the end. It must be the dead letter
``future_timestamp`` (checked against the wall clock, replays included), and
every other event must be classified exactly as in the same run without it:
the same ``late`` count, the same ``too_late`` dead letter (an event five days
older than the rest), the same ``metrics_1m FINAL``. Checked on the worker's
own path (raw publish, ``annotel worker --until-drained``), through
``annotel ingest``, and through ``annotel demo --input``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from embedded.broker import embedded_broker
from sinks.client import connect
from streams.kafka_config import EMBEDDED_CLUSTER_ID
from tests.e2e.test_demo import run_demo
from tests.e2e.worker_helpers import (
    TOPICS,
    create_topics,
    drained_totals,
    ingest_file,
    publish,
    run_until_drained,
    worker_env,
)
from tests.oracle import generate, read_tables

pytestmark = pytest.mark.e2e

FUTURE_ID = "evt-far-future"
STALE_ID = "evt-five-days-old"


def _history() -> tuple[list[bytes], list[bytes]]:
    """Generated history (November 2026) in two deliveries; the second holds an event
    five days older than the rest (``too_late``) and the late corrections.

    Task events only, and each delivery drained before the next: which events
    are late depends on where the partition's watermark stands when they are
    read, and within one delivery that depends on how the consumer's batches
    and the two topics interleave. Across deliveries it is exact: the second
    is judged against the watermark the first left in the checkpoint.
    """
    stream = generate(seed=53, count=2000)
    lines = [line for line in stream.lines if b'"task_audited"' not in line]
    cut = len(lines) * 3 // 5
    first, second = lines[:cut], lines[cut:]
    stale = orjson.loads(next(line for line in second if b'"task_completed"' in line))
    stale.update(event_id=STALE_ID, occurred_at="2026-11-15T01:00:00.000Z")
    second.insert(len(second) // 2, orjson.dumps(stale))
    return first, second


def _far_future(like: bytes) -> bytes:
    """A valid event like ``like``, dated five years after the wall clock."""
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(days=5 * 365)
    event = orjson.loads(like)
    event.update(event_id=FUTURE_ID, occurred_at=when.isoformat().replace("+00:00", "Z"))
    event.pop("task_created_at", None)
    return orjson.dumps(event)


def _spoiled(where: str) -> tuple[list[bytes], list[bytes]]:
    """The history with the far-future event first, between the deliveries, or last."""
    first, second = _history()
    future = _far_future(next(line for line in first if b'"status": "submitted"' in line))
    if where == "first":
        return [future, *first], second
    if where == "middle":
        return first, [future, *second]
    return first, [*second, future]


def _judged(deliveries: tuple[list[bytes], list[bytes]], tmp_path: Path) -> dict[str, Any]:
    """Each delivery published, then drained by a bounded worker run, on a broker of its own."""
    totals: dict[str, int] = {}
    with embedded_broker(cluster_id=EMBEDDED_CLUSTER_ID) as bootstrap:
        create_topics(bootstrap)
        env = worker_env(bootstrap, tmp_path / "data")
        for n, lines in enumerate(deliveries):
            publish(bootstrap, lines, TOPICS)
            totals = drained_totals(run_until_drained(env, tmp_path / f"worker-{n}.log"))
    metrics, errors, _ = read_tables("chdb://" + str(tmp_path / "data" / "clickhouse"))
    return {"totals": totals, "metrics": metrics, "errors": errors}


def _without_the_future(totals: dict[str, int]) -> dict[str, int]:
    rest = dict(totals)
    assert rest.pop("dead_future_timestamp") == 1, totals
    rest["events_in"] -= 1
    return rest


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    judged = _judged(_history(), tmp_path_factory.mktemp("baseline"))
    totals = judged["totals"]
    assert totals.get("dead_too_late") == 1, f"the five-day-old event is too_late: {totals}"
    assert totals.get("late", 0) > 0, f"the second delivery holds corrections: {totals}"
    assert "dead_future_timestamp" not in totals
    return judged


@pytest.mark.parametrize("where", ["first", "last"])
def test_worker_judges_every_other_event_as_without_it(
    baseline: dict[str, Any], tmp_path: Path, where: str
) -> None:
    run = _judged(_spoiled(where), tmp_path)
    assert _without_the_future(run["totals"]) == baseline["totals"]
    assert run["metrics"] == baseline["metrics"]
    assert run["errors"] == baseline["errors"]


def test_ingest_refuses_it_and_the_worker_judges_the_rest_as_without_it(
    baseline: dict[str, Any], tmp_path: Path
) -> None:
    """Through ``annotel ingest``, the event first in the second delivery: ingest refuses it."""
    with embedded_broker(cluster_id=EMBEDDED_CLUSTER_ID) as bootstrap:
        create_topics(bootstrap)
        totals: dict[str, int] = {}
        for n, lines in enumerate(_spoiled("middle")):
            path = tmp_path / f"delivery-{n}.jsonl"
            path.write_bytes(b"\n".join(lines) + b"\n")
            assert ingest_file(bootstrap, path)["dead_lettered"] >= 1
            worker = worker_env(bootstrap, tmp_path / "data")
            totals = drained_totals(run_until_drained(worker, tmp_path / f"worker-{n}.log"))
    dsn = "chdb://" + str(tmp_path / "data" / "clickhouse")
    client = connect(dsn)
    try:
        reasons = client.query(
            "SELECT reason, producer FROM dlq_events FINAL WHERE event_id = {id:String}",
            parameters={"id": FUTURE_ID},
        ).result_rows
    finally:
        client.close()
    assert [tuple(r) for r in reasons] == [("future_timestamp", "ingest")]
    # Ingest dead-letters the other invalid lines too, so only these counters compare.
    for key in ("accepted", "late", "dead_too_late", "duplicates"):
        assert totals.get(key) == baseline["totals"].get(key), key
    metrics, errors, _ = read_tables(dsn)
    assert metrics == baseline["metrics"]
    assert errors == baseline["errors"]


def test_demo_input_dead_letters_it_and_judges_the_rest_as_without_it(tmp_path: Path) -> None:
    plain = tmp_path / "plain.jsonl"
    plain.write_bytes(b"\n".join(line for part in _history() for line in part) + b"\n")
    spoiled = tmp_path / "spoiled.jsonl"
    spoiled.write_bytes(b"\n".join(line for part in _spoiled("first") for line in part) + b"\n")
    # conftest clears ANNOTEL_* variables: the demo runs on its own defaults.
    base = run_demo("--input", str(plain), "--data-dir", str(tmp_path / "a"))
    run = run_demo("--input", str(spoiled), "--data-dir", str(tmp_path / "b"))
    assert run["dead_lettered"].pop("future_timestamp") == 1
    assert run["dead_lettered"] == base["dead_lettered"]
    assert run["late"] == base["late"]
    assert run["events_in"] == base["events_in"] + 1
    assert run["accepted"] == base["accepted"]
    metrics_a, _, _ = read_tables("chdb://" + str(tmp_path / "a" / "clickhouse"))
    metrics_b, _, _ = read_tables("chdb://" + str(tmp_path / "b" / "clickhouse"))
    assert metrics_b == metrics_a
