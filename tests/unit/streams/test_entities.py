"""Versions in the partition state: undo and redo, maxima recomputed, eviction, checkpoints.

Hand-built sequences on the real per-event path (``PartitionState.process``
with the contract's decoder), checked against the windows the version rule
gives, and the oracle's independent recomputation on generated versioned
streams in any arrival order.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest

from schemas.metrics import AGGREGATE_FIELDS
from streams.entities import (
    EntityTable,
    audit_values,
    entity_mark,
    is_audit,
    is_retraction,
    order_of,
    pack_audit,
    pack_retraction,
    pack_task,
    task_values,
)
from streams.partition import PartitionState
from streams.statelog import decode_checkpoints, encode_checkpoint, encode_chunks
from streams.windows import MICRO_FIELDS, WIDTH
from tests.oracle import Stream, compare_metrics, counting, generate, oracle
from tests.unit.streams.events import (
    AUDITS,
    T0,
    TASKS,
    audited,
    completed,
    feed,
    minute_start,
    new_state,
    topic_of,
)

F = {name: i for i, name in enumerate(AGGREGATE_FIELDS)}
PROJECT = "项目甲"


def version(
    event_id: str,
    minute: float,
    submission: str = "s-1",
    revision: int | None = None,
    **fields: Any,
) -> bytes:
    """A completion of submission ``submission``: ``fields`` replace the defaults."""
    data = orjson.loads(completed(event_id, minute))
    data["submission_id"] = submission
    if revision is not None:
        data["revision"] = revision
    data.update(fields)
    return orjson.dumps({k: v for k, v in data.items() if v is not None})


def delete(event_id: str, minute: float, submission: str = "s-1", revision: int = 9) -> bytes:
    """A retraction of a submission: only what identifies it."""
    return orjson.dumps(
        {
            "schema_version": 1,
            "event_type": "task_completed",
            "event_id": event_id,
            "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(),
            "project_id": PROJECT,
            "submission_id": submission,
            "revision": revision,
            "retracted": True,
        }
    )


def audit(event_id: str, minute: float, task: str = "t-1", **fields: Any) -> bytes:
    data = orjson.loads(audited(event_id, minute, task_id=task))
    data.update(fields)
    return orjson.dumps({k: v for k, v in data.items() if v is not None})


def counted(state: PartitionState) -> dict[tuple[Any, ...], list[int]]:
    """The windows with something counted, their WIDTH fields (all-zero ones are no row)."""
    return {k: list(a[:WIDTH]) for k, a in state.windows.items() if any(a[:WIDTH])}


def window_of(state: PartitionState, minute: int) -> list[int]:
    (agg,) = [a for k, a in state.windows.items() if k[0] == minute_start(minute)]
    return list(agg)


# -- the record of a version ------------------------------------------------------------


def test_records_round_trip_what_a_version_added() -> None:
    table = EntityTable()
    dims = table.intern(("p", "q", "", "und", "human", "标注员"))
    task = pack_task(123_456, 3, dims, "é-1".encode(), "submitted", True, 5, True, 7, True, False)
    assert order_of(task) == (123_456, 3, "é-1".encode())
    assert task_values(task) == ("submitted", True, 5, True, 7, True, False)
    assert not is_audit(task) and not is_retraction(task)
    categories = ["漏标", "emoji🙂", "with space"]
    record = pack_audit(9, 1, dims, b"a", 2, None, 1_500_000, categories)
    assert is_audit(record) and order_of(record) == (9, 1, b"a")
    assert audit_values(record) == (2, None, 1_500_000, categories)
    assert audit_values(pack_audit(9, 1, dims, b"a", 0, 0, None, [])) == (0, 0, None, [])
    gone = pack_retraction(-5, 2, b"x" * 128, audit=True)
    assert is_retraction(gone) and is_audit(gone) and order_of(gone) == (-5, 2, b"x" * 128)
    # The two kinds of entity never share a mark, whatever their parts.
    assert entity_mark(("p", "a\x1fb")) != entity_mark(("p", "a", "b"))
    assert entity_mark(("p", "s")) == entity_mark(("p", "s"))
    assert entity_mark(("p", "s")) != entity_mark(("p", "s", "a"))


# -- undo and redo ---------------------------------------------------------------------


def test_an_edit_moves_the_work_to_its_own_minute_and_dimensions() -> None:
    state = new_state()
    assert feed(state, TASKS, version("v1", 0, handle_time_s=30.0)) == "accepted"
    assert feed(state, TASKS, version("v2", 3, revision=2, queue_id="队列-b")) == "accepted"
    assert state.counters["superseded"] == 1
    (key, agg), *rest = counted(state).items()
    assert not rest and key[0] == minute_start(3) and key[2] == "队列-b"
    assert agg[F["tasks_submitted"]] == 1
    # The first minute's window is all zeros: written over, read as no row.
    assert window_of(state, 0)[:WIDTH] == [0] * WIDTH


def test_a_lower_version_arriving_later_is_superseded_at_once() -> None:
    """Out of order: revision 1 after revision 2 changes nothing but the counter."""
    state = new_state()
    feed(state, TASKS, version("v2", 5, revision=2, handle_time_s=20.0))
    before = counted(state)
    assert feed(state, TASKS, version("v1", 4, handle_time_s=99.0)) == "accepted"
    assert counted(state) == before
    assert state.counters["superseded"] == 1 and state.counters["accepted"] == 2


def test_ties_on_occurred_at_go_to_the_revision_then_the_event_id_bytes() -> None:
    for arrival in ([0, 1, 2], [2, 1, 0], [1, 2, 0]):
        state = new_state()
        lines = [
            version("b", 1, revision=1, handle_time_s=1.0),
            version("a", 1, revision=2, handle_time_s=2.0),  # revision beats event id
            version("c", 1, revision=2, handle_time_s=3.0),  # "c" > "a" at revision 2
        ]
        for i in arrival:
            feed(state, TASKS, lines[i])
        agg = window_of(state, 1)
        assert agg[F["tasks_submitted"]] == 1
        assert agg[F["handle_time_sum_s"]] == agg[F["handle_time_max_s"]] == 3_000_000


def test_a_retraction_removes_the_work_and_a_later_version_brings_it_back() -> None:
    state = new_state()
    feed(state, TASKS, version("v1", 0))
    assert feed(state, TASKS, delete("d1", 1)) == "accepted"
    assert counted(state) == {}
    assert state.counters["retractions"] == 1 and state.counters["superseded"] == 1
    # A second retraction (re-retraction) is one more superseded version, still nothing.
    feed(state, TASKS, delete("d2", 2, revision=10))
    assert counted(state) == {}
    feed(state, TASKS, version("v3", 4, revision=11, handle_time_s=8.0))
    (key, agg), *rest = counted(state).items()
    assert not rest and key[0] == minute_start(4) and agg[F["handle_time_max_s"]] == 8_000_000
    assert state.counters["retractions"] == 2 and state.counters["superseded"] == 3
    # A retraction older than the counting version loses: nothing changes.
    feed(state, TASKS, delete("d0", 3))
    assert list(counted(state).values()) == [agg]
    assert state.counters["retractions"] == 3 and state.counters["superseded"] == 4


def test_only_the_latest_audit_counts_with_its_error_categories() -> None:
    state = new_state()
    feed(state, AUDITS, audit("a1", 0, verdict="reject", error_categories=["漏标", "typo"]))
    feed(state, AUDITS, audit("a2", 0.5, verdict="approve", error_categories=[], score=1.0))
    agg = window_of(state, 0)
    assert agg[F["audits"]] == agg[F["audits_approved"]] == 1
    assert agg[F["audits_rejected"]] == 0 and agg[F["audit_score_sum"]] == 1_000_000
    assert {k[1]: n for k, n in state.errors.items()} == {"漏标": 0, "typo": 0}
    # Another task, or another annotator's work on it, is another entity.
    feed(state, AUDITS, audit("a3", 0.7, task="t-2"))
    feed(state, AUDITS, audit("a4", 0.8, annotator_id="标注员-2"))
    assert sum(a[F["audits"]] for a in counted(state).values()) == 3


def test_a_withdrawn_maximum_is_recomputed_from_what_still_counts() -> None:
    state = new_state()
    # A completion without submission_id can never be undone: the window's floor.
    feed(state, TASKS, completed("plain", 0.1))  # handle 12.5 s
    feed(state, TASKS, version("s1-1", 0.2, "s1", handle_time_s=40.0))
    feed(state, TASKS, version("s2-1", 0.3, "s2", handle_time_s=30.0))
    assert window_of(state, 0)[F["handle_time_max_s"]] == 40_000_000
    feed(state, TASKS, version("s1-2", 0.4, "s1", revision=2, handle_time_s=1.0))
    assert window_of(state, 0)[F["handle_time_max_s"]] == 30_000_000  # s2 still counts
    feed(state, TASKS, delete("s2-x", 0.5, "s2"))
    assert window_of(state, 0)[F["handle_time_max_s"]] == 12_500_000  # the floor
    agg = window_of(state, 0)
    assert agg[F["tasks_submitted"]] == 2
    assert agg[F["handle_time_sum_s"]] == 13_500_000
    # The same maxima as if only the counting versions had ever arrived.
    fresh = new_state()
    feed(fresh, TASKS, completed("plain", 0.1))
    feed(fresh, TASKS, version("s1-2", 0.4, "s1", revision=2, handle_time_s=1.0))
    assert window_of(fresh, 0)[:WIDTH] == agg[:WIDTH]


def test_turnaround_maxima_follow_the_counting_version() -> None:
    created = (T0 - timedelta(hours=1)).isoformat()
    state = new_state()
    feed(state, TASKS, version("v1", 0, task_created_at=created))
    assert window_of(state, 0)[F["turnaround_max_s"]] == 3600 * 10**6
    feed(state, TASKS, version("v2", 0.5, revision=2, task_created_at=None))
    agg = window_of(state, 0)
    assert agg[F["turnaround_max_s"]] == agg[F["turnaround_count"]] == 0
    assert agg[F["turnaround_sum_s"]] == 0 and agg[F["tasks_submitted"]] == 1


def test_a_version_correcting_a_closed_and_packed_minute_is_late_and_exact() -> None:
    state = PartitionState(0, lateness_us=120 * 10**6, retention_us=3600 * 10**6, pack_after_s=0)
    feed(state, TASKS, version("v1", 0))
    feed(state, TASKS, completed("later", 30))
    state.move_watermark()
    state.advance()
    state.mark_checkpointed()
    assert state.store.is_packed(minute_start(0))
    # Its own minute is open; the one it takes the work from is closed: a correction.
    assert feed(state, TASKS, version("v2", 29, revision=2)) == "late"
    assert state.counters["late"] == 1
    assert window_of(state, 0)[:WIDTH] == [0] * WIDTH
    assert window_of(state, 29)[F["tasks_submitted"]] == 1
    assert any(k[0] == minute_start(0) for k in state.dirty_windows)  # the zeros are written


# -- eviction --------------------------------------------------------------------------


def test_entities_leave_with_the_horizon_and_a_later_version_starts_afresh() -> None:
    state = new_state()  # retention 60 min
    feed(state, TASKS, version("v1", 0))
    feed(state, AUDITS, audit("a1", 0))
    assert len(state.entities) == 2
    for i in range(1, 80):
        feed(state, TASKS, completed(f"t{i}", i))
    state.move_watermark()
    state.advance()
    state.mark_checkpointed()
    state.evict()
    assert len(state.entities) == 0
    assert not state.entities.dims  # their dimension tuples went with them
    horizon = state.horizon_us
    assert horizon is not None
    assert all(m >= horizon // 60_000_000 for m in state.entities.by_minute)
    # A version within the horizon: the entity starts afresh, nothing to undo.
    assert feed(state, TASKS, version("v2", 70, revision=2)) == "late"
    assert state.counters.get("superseded", 0) == 0
    assert len(state.entities) == 1


def test_the_dimension_table_keeps_only_what_records_use() -> None:
    state = new_state()
    for i in range(20):
        feed(state, TASKS, version(f"v{i}", 0, queue_id=f"q{i}", revision=i + 1))
    state.evict()
    table = state.entities
    table.sweep()
    used = [parts for parts in table.dims_of if parts is not None]
    assert used == [(PROJECT, "q19", "", "zh-CN", "human", "标注员-1")]
    assert table.refs[table.dims[used[0]]] == 1


# -- checkpoints -----------------------------------------------------------------------


def _versioned_lines(seed: int, count: int) -> Stream:
    return generate(seed=seed, count=count, versions=True)


def _run(
    lines: list[bytes], every: int, full_at: int | None = None
) -> tuple[PartitionState, list[bytes], int]:
    state = PartitionState(
        0, lateness_us=120 * 10**6, retention_us=6 * 3600 * 10**6, pack_after_s=0
    )
    log: list[bytes] = []
    snapshot_at = 0
    for i, raw in enumerate(lines):
        feed(state, topic_of(raw), raw)
        if i % every == every - 1 or i == len(lines) - 1:
            state.move_watermark()
            state.advance(close_all=i == len(lines) - 1)
            state.next_version(1)
            if full_at is not None and i // every == full_at // every:
                snapshot_at = len(log)
                log.extend(encode_chunks(state.full_record_json(), state.record_seq))
            else:
                log.extend(encode_checkpoint(state.delta()))
            state.mark_checkpointed()
            state.evict()
    return state, log, snapshot_at


def _as_rows(state: PartitionState) -> dict[tuple[Any, ...], dict[str, Any]]:
    out = {}
    for key, agg in state.windows.items():
        start = datetime.fromtimestamp(key[0], UTC).replace(tzinfo=None)
        out[(start, *key[1:])] = {
            name: float(Decimal(agg[i]) / 10**6) if i in MICRO_FIELDS else agg[i]
            for i, name in enumerate(AGGREGATE_FIELDS)
        }
    return out


@pytest.mark.parametrize("full_at", [None, 1500])
def test_checkpoint_records_rebuild_the_entity_table(full_at: int | None) -> None:
    stream = _versioned_lines(seed=31, count=2500)
    live, log, start = _run(stream.lines, 97, full_at)
    records = decode_checkpoints(log[start:])
    recovered = PartitionState(
        0, lateness_us=120 * 10**6, retention_us=6 * 3600 * 10**6, pack_after_s=0
    )
    for record in records:
        recovered.apply_delta(record)
    assert recovered.entities.records.keys() == live.entities.records.keys()
    assert len(live.entities) > 1000
    # Records equal up to the dims index numbering: compare what they mean.
    for mark, record in live.entities.records.items():
        again = recovered.entities.records[mark]
        assert order_of(again) == order_of(record)
        assert is_retraction(again) == is_retraction(record)
        if not is_retraction(record):
            assert live.entities.window_of(record) == recovered.entities.window_of(again)
            values = audit_values if is_audit(record) else task_values
            assert values(again) == values(record)
    assert dict(recovered.windows.items()) == dict(live.windows.items())
    assert recovered.counters == live.counters
    # Both go on identically: later versions undo what the recovered table recorded.
    more = _versioned_lines(seed=32, count=600).lines
    for raw in stream.lines[-300:] + more:
        topic = topic_of(raw)
        assert feed(recovered, topic, raw) == feed(live, topic, raw)
    assert dict(recovered.windows.items()) == dict(live.windows.items())
    assert recovered.counters["superseded"] == live.counters["superseded"] > 0


# -- the rule, whatever the arrival order ----------------------------------------------


def test_a_versioned_stream_in_any_order_and_batching_equals_the_oracle() -> None:
    stream = _versioned_lines(seed=11, count=3000)
    expected, expected_errors = oracle(stream.valid)
    numbers = counting(stream.valid)[1]
    assert numbers["superseded"] > 50 and numbers["retractions"] > 5
    rng = random.Random(3)
    orders = [list(stream.lines), list(reversed(stream.lines))]
    shuffled = list(stream.lines)
    rng.shuffle(shuffled)
    orders.append(shuffled)
    for lines, every in zip(orders, (50, 211, 1000), strict=True):
        state, _, _ = _run(lines, every)
        assert not compare_metrics(_as_rows(state), expected)
        errors = {
            (datetime.fromtimestamp(k[0][0], UTC).replace(tzinfo=None), *k[0][1:], k[1]): n
            for k, n in state.errors.items()
            if n
        }
        assert errors == expected_errors
        assert state.counters["superseded"] == numbers["superseded"]
        assert state.counters["retractions"] == numbers["retractions"]
