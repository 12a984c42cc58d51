"""``Simulator(delivery=True)``: a queue_status per queue and minute boundary against a plan;
the other lines are the bytes of a run without it, and the manifest says what was sent."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from simulator import Simulator

START = datetime(2026, 11, 23, 1, tzinfo=UTC)
KNOBS = {"projects": 2, "annotators": 60, "tasks_per_second": 1.0}


def test_snapshots_are_added_and_nothing_else_changes() -> None:
    # The same simulated span (a count of lines would end a run with snapshots earlier).
    span = timedelta(minutes=45)
    plain = list(Simulator(5, START, None, **KNOBS).events(duration=span))
    sim = Simulator(5, START, None, delivery=True, **KNOBS)
    lines = list(sim.events(duration=span))
    others = [line for line in lines if b'"queue_status"' not in line]
    assert others == plain  # the same lines, in the same order
    snapshots = [json.loads(line) for line in lines if b'"queue_status"' in line]
    manifest = sim.manifest
    assert manifest["knobs"]["delivery"] is True
    assert manifest["counts"]["queue_status"] == len(snapshots) > 0
    assert manifest["delivery"]["snapshots"] == len(snapshots)
    by_queue: dict[tuple[str, str], list[dict[str, object]]] = defaultdict(list)
    for snap in snapshots:
        by_queue[(snap["project_id"], snap["queue_id"])].append(snap)
    plans = {(q["project_id"], q["queue_id"]): q for q in manifest["delivery"]["queues"]}
    assert set(by_queue) == set(plans)
    for key, snaps in by_queue.items():
        minutes = [s["occurred_at"] for s in snaps]
        assert minutes == sorted(minutes) and all(m.endswith(":00Z") for m in minutes)
        opens = [s["open_tasks"] for s in snaps]
        assert opens == sorted(opens, reverse=True) and opens[0] <= plans[key]["target_total"]
        assert {s["due_at"] for s in snaps} == {manifest["delivery"]["due_at"]}


def test_off_the_manifest_has_no_delivery() -> None:
    sim = Simulator(5, START, None, **KNOBS)
    list(sim.events(n=500))
    assert "delivery" not in sim.manifest and "delivery" not in sim.manifest["knobs"]
