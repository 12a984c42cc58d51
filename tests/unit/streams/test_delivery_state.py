"""The forecast's partition state: snapshots' accounting, and checkpoints that rebuild it.

A state rebuilt from its checkpoint records (deltas, or a full record) must
forecast exactly as the live one: the same rows for the minutes that close next.
"""

from __future__ import annotations

from typing import Any

import orjson

from schemas.decode import ContractDecoder
from schemas.queue_status import QueueStatus
from streams.delivery import DeliveryConfig
from streams.delivery_partition import DeliveryPartitionState

T0 = 1_796_637_600  # 2026-12-07 10:00 UTC
LATENESS, RETENTION = 120 * 10**6, 48 * 3600 * 10**6
DECODER = ContractDecoder(1 << 20, 3650 * 86400)


def _iso(ts: float) -> str:
    from schemas.units import from_epoch_s, rfc3339

    return rfc3339(from_epoch_s(ts))


def task(i: int, ts: float, queue: str = "q1", annotator: str = "a1") -> bytes:
    return orjson.dumps(
        {
            "event_type": "task_completed",
            "schema_version": 1,
            "event_id": f"t{i}",
            "occurred_at": _iso(ts),
            "project_id": "p",
            "queue_id": queue,
            "task_id": f"task{i}",
            "annotator_id": annotator,
            "status": "submitted",
            "handle_time_s": 30.5,
        }
    )


def snapshot(i: int, ts: float, open_tasks: int, queue: str = "q1") -> bytes:
    return orjson.dumps(
        {
            "event_type": "queue_status",
            "schema_version": 1,
            "event_id": f"s{i}",
            "occurred_at": _iso(ts),
            "project_id": "p",
            "queue_id": queue,
            "open_tasks": open_tasks,
            "due_at": _iso(T0 + 4 * 3600),
        }
    )


def feed(state: DeliveryPartitionState, lines: list[bytes]) -> list[str]:
    out = []
    for raw in lines:
        decoded = DECODER.decode(raw)
        offset = state.offsets.get("in", 0)
        if type(decoded) is QueueStatus:
            out.append(state.process_snapshot(decoded, raw, "in", offset))
        else:
            out.append(state.process(decoded, raw, "in", offset))  # type: ignore[arg-type]
    return out


def new_state() -> DeliveryPartitionState:
    return DeliveryPartitionState(0, LATENESS, RETENTION, delivery=DeliveryConfig(30 * 60 * 10**6))


def traffic(minutes: range) -> list[bytes]:
    lines = []
    for m in minutes:
        base = T0 + 60 * m
        lines += [task(10 * m + k, base + 5 * k, annotator=f"a{k % 3}") for k in range(4)]
        lines.append(snapshot(m, base + 30, 1000 - 4 * m))
    return lines


def test_snapshots_are_accounted_like_events() -> None:
    state = new_state()
    first = traffic(range(3))
    results = feed(state, [*first, first[4]])  # a redelivered snapshot
    assert results.count("accepted") == 15 and results[-1] == "duplicate"
    state.move_watermark()
    state.advance()
    assert state.closed_before == T0  # a 2 min lateness: nothing closed yet
    feed(state, traffic(range(3, 6)))
    state.move_watermark()
    state.advance()
    late = feed(state, [snapshot(99, T0 + 10, 5000)])  # a snapshot of a closed minute
    assert late == ["late"]
    assert state.counters["late"] == 1 and state.counters["duplicates"] == 1
    too_old = feed(state, [snapshot(98, T0 - 3 * 86400, 1)])
    assert too_old == ["dead"] and state.counters["dead_too_late"] == 1


def _rows_after(state: DeliveryPartitionState, lines: list[bytes]) -> list[list[Any]]:
    feed(state, lines)
    state.move_watermark()
    state.advance(close_all=True)
    return state.delivery.rows


def test_deltas_and_a_full_record_rebuild_the_state_that_forecasts() -> None:
    live = new_state()
    records: list[dict[str, Any]] = []
    for chunk in (range(0, 20), range(20, 40), range(40, 60)):
        feed(live, traffic(chunk))
        live.move_watermark()
        live.advance()
        records.append(orjson.loads(orjson.dumps(live.delta())))
        live.mark_checkpointed()
    full = orjson.loads(b"".join(live.full_record_json()))
    from_deltas, from_full = new_state(), new_state()
    for record in records:
        from_deltas.apply_delta(record)
    from_full.apply_delta(full)
    assert live.delivery.rows == []  # written with their checkpoint
    later = traffic(range(60, 70))
    expected = _rows_after(live, later)
    assert len(expected) >= 10
    assert _rows_after(from_deltas, later) == expected
    assert _rows_after(from_full, later) == expected
    # The recovered dedup marks hold for snapshots too.
    assert feed(from_full, [snapshot(5, T0 + 60 * 5 + 30, 0)]) == ["duplicate"]


def test_the_latest_snapshot_of_a_minute_counts_whatever_the_order() -> None:
    def rows(order: list[bytes]) -> list[list[Any]]:
        state = new_state()
        return _rows_after(state, order)

    tasks = [task(k, T0 + 5 * k) for k in range(10)]
    snaps = [snapshot(1, T0 + 20, 700), snapshot(2, T0 + 20, 600), snapshot(3, T0 + 10, 900)]
    forward = rows([*tasks, *snaps])
    backward = rows([*snaps[::-1], *tasks])
    assert forward == backward
    assert forward[0][3] == 600  # (T0+20, "s2") is the greatest
