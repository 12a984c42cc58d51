"""The status-quo baseline: the straightforward Faust app a team would write.

The way the Faust documentation teaches windowed aggregation: one windowed
``Table`` (tumbling 60 s, expiring after an hour), event time taken from the
record's ``occurred_at`` (``relative_to`` a custom timestamp), and one table
update per event -- so one changelog record per event. It computes the same
per-minute aggregates as ``metrics_1m`` (counts, sums and maxima of every
field, keyed like the table) and is written as well as that style allows:

- no ``group_by``: the input is already keyed by project, and every aggregate
  key contains the project, so the table is co-partitioned with its source
  (Faust writes the changelog to the source event's partition);
- raw values decoded with orjson (no Faust ``Record`` parsing, no validation
  beyond what the aggregation needs; a malformed message is skipped instead of
  crashing the agent, which is what a Faust decode error does);
- one agent over both input topics, one ``WindowSet.apply`` per event (one
  read, one write, one changelog record).

It does *less* than the pipeline: no deduplication, no ClickHouse rows, no
dead letters, no alerts, no watermark. The ratio pipeline/baseline is
therefore conservative.

Run as its own process by the benchmark::

    python -m bench.baseline_app --bootstrap 127.0.0.1:PORT --expect N

It stops after ``N`` input messages and prints one JSON line: events,
seconds from the first event to the last one (producer flushed, so every
changelog record is stored), events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import datetime, timedelta
from typing import Any

import faust
import orjson
from mode import Worker

from schemas.loopback import free_port

FIELDS = (
    "tasks_submitted",
    "tasks_skipped",
    "tasks_expired",
    "rework_submitted",
    "handle_time_sum_s",
    "handle_time_max_s",
    "turnaround_count",
    "turnaround_sum_s",
    "turnaround_max_s",
    "gold_submitted",
    "gold_correct",
    "audits",
    "audits_approved",
    "audits_fixed",
    "audits_rejected",
    "audit_score_sum",
    "audit_score_count",
    "audit_time_sum_s",
)
_I = {name: i for i, name in enumerate(FIELDS)}
_VERDICT = {
    "approve": _I["audits_approved"],
    "fix": _I["audits_fixed"],
    "reject": _I["audits_rejected"],
}


def new_aggregate() -> list[float]:
    return [0] * len(FIELDS)


def timestamp(text: str) -> float:
    """RFC 3339 (``Z`` or an offset) to epoch seconds."""
    return datetime.fromisoformat(text).timestamp()


def key_of(event: dict[str, Any]) -> tuple[str, str, str, str, str, str]:
    """The metrics_1m key without the window (the table's window adds it)."""
    return (
        event["project_id"],
        event["queue_id"],
        event.get("vendor_id") or "",
        event.get("locale", "und"),
        event.get("source", "human"),
        event["annotator_id"],
    )


def add_event(agg: list[float], event: dict[str, Any], occurred: float) -> list[float]:
    """A new aggregate: ``agg`` plus one event (the table gets a new value, not a mutation)."""
    out = list(agg)
    if event["event_type"] == "task_completed":
        status = event["status"]
        if status == "submitted":
            out[0] += 1
            if event.get("attempt", 1) > 1:
                out[3] += 1
            handle = float(event["handle_time_s"])
            out[4] += handle
            if handle > out[5]:
                out[5] = handle
            created = event.get("task_created_at")
            if created is not None:
                turnaround = occurred - timestamp(created)
                out[6] += 1
                out[7] += turnaround
                if turnaround > out[8]:
                    out[8] = turnaround
            if event.get("is_gold"):
                out[9] += 1
                if event.get("gold_correct"):
                    out[10] += 1
        elif status == "skipped":
            out[1] += 1
        else:
            out[2] += 1
    else:
        out[11] += 1
        out[_VERDICT[event["verdict"]]] += 1
        score = event.get("score")
        if score is not None:
            out[15] += score
            out[16] += 1
        audit_time = event.get("audit_time_s")
        if audit_time is not None:
            out[17] += audit_time
    return out


def parse(value: bytes) -> tuple[dict[str, Any], float] | None:
    """The event and its event time, or None for a message the app cannot use."""
    try:
        event = orjson.loads(value)
        if event["event_type"] not in ("task_completed", "task_audited"):
            return None
        if event["event_type"] == "task_audited" and event["verdict"] not in _VERDICT:
            return None
        if event["event_type"] == "task_completed" and event["status"] == "submitted":
            float(event["handle_time_s"])
        return event, timestamp(event["occurred_at"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def aggregate_all(events: list[dict[str, Any]]) -> dict[tuple[Any, ...], list[float]]:
    """The same aggregation without Faust (for tests): (window_start, *key) -> aggregate."""
    out: dict[tuple[Any, ...], list[float]] = {}
    for event in events:
        occurred = timestamp(event["occurred_at"])
        full = (int(occurred // 60 * 60), *key_of(event))
        out[full] = add_event(out.get(full) or new_aggregate(), event, occurred)
    return out


def create_app(bootstrap: str, expect: int, result: dict[str, Any], web_port: int) -> Any:
    app = faust.App(
        "annotel-bench-baseline",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        topic_partitions=4,
        consumer_auto_offset_reset="earliest",
        # The embedded broker's measured rejoin settings (as the worker uses).
        broker_session_timeout=10,
        broker_rebalance_timeout=10,
        broker_heartbeat_interval=1,
        web_enabled=False,
        web_bind="127.0.0.1",
        web_host="127.0.0.1",
        web_port=web_port,
    )
    events_topic = app.topic(
        "annotation.task-completed",
        "annotation.task-audited",
        key_serializer="raw",
        value_serializer="raw",
    )
    # The event time of the event being processed: Faust asks ``relative_to`` for it.
    current_time = [0.0]
    aggregates: Any = (
        app.Table("bench-baseline-metrics-1m", default=new_aggregate, partitions=4)
        .tumbling(60, expires=timedelta(hours=1))
        .relative_to(lambda event=None: current_time[0])  # type: ignore[attr-defined]
    )
    done = asyncio.Event()

    @app.agent(events_topic, name="bench-baseline-aggregate", concurrency=1)
    async def aggregate(stream: Any) -> None:
        seen = skipped = 0
        async for value in stream:
            if seen == 0:
                result["first_at"] = time.perf_counter()
            seen += 1
            parsed = parse(value)
            if parsed is None:
                skipped += 1
            else:
                event, occurred = parsed
                current_time[0] = occurred
                aggregates[key_of(event)].apply(
                    lambda agg, e, t=occurred: add_event(agg, e, t), event
                )
            if seen >= expect:
                await app.producer.flush()
                result["last_at"] = time.perf_counter()
                result["events"] = seen
                result["skipped"] = skipped
                done.set()

    reported = asyncio.Event()

    @app.task  # type: ignore[untyped-decorator]
    async def stop_when_done() -> None:
        await done.wait()
        result["keys"] = len(aggregates.table.data)
        reported.set()

    return app, reported


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline_app")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--web-port", type=int, default=0)
    args = parser.parse_args(argv)

    result: dict[str, Any] = {}
    app, done = create_app(args.bootstrap, args.expect, result, args.web_port or free_port())
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    worker: Any = Worker(app, loop=loop, loglevel="WARNING", quiet=True)

    async def report() -> None:
        await done.wait()
        seconds = result["last_at"] - result["first_at"]
        summary = {
            "events": result["events"],
            "skipped": result["skipped"],
            "keys": result["keys"],
            "seconds": seconds,
            "eps": result["events"] / seconds if seconds > 0 else 0.0,
        }
        print("baseline: " + orjson.dumps(summary).decode(), flush=True)
        # Faust's shutdown (and leaving the group) is not part of the measurement.
        os._exit(0)

    reporter = loop.create_task(report())
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        reporter.cancel()
    return 1


if __name__ == "__main__":
    sys.exit(main())
