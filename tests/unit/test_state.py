"""The pure partition state: dedup, watermark per topic, closing, corrections, checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from schemas.decode import Decoder
from schemas.metrics import AGGREGATE_FIELDS
from streams.state import PartitionState

TASKS = "annotation.task-completed"
AUDITS = "annotation.task-audited"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SUBMITTED = AGGREGATE_FIELDS.index("tasks_submitted")
AUDITS_IDX = AGGREGATE_FIELDS.index("audits")
DECODER = Decoder(1 << 20, 10 * 365 * 86400)
NOW = datetime(2027, 1, 1, tzinfo=UTC)


def completed(event_id: str, minute: float, project: str = "项目甲") -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "event_type": "task_completed",
            "event_id": event_id,
            "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(),
            "project_id": project,
            "queue_id": "队列",
            "task_id": "t-" + event_id,
            "annotator_id": "标注员-1",
            "vendor_id": None,
            "locale": "zh-CN",
            "source": "human",
            "status": "submitted",
            "handle_time_s": 12.5,
        }
    )


def audited(event_id: str, minute: float) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "event_type": "task_audited",
            "event_id": event_id,
            "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(),
            "project_id": "项目甲",
            "queue_id": "队列",
            "task_id": "t-x",
            "annotator_id": "标注员-1",
            "auditor_id": "审核员",
            "vendor_id": None,
            "locale": "zh-CN",
            "source": "human",
            "verdict": "approve",
            "score": 0.9,
            "error_categories": ["漏标"],
        }
    )


def feed(state: PartitionState, topic: str, raw: bytes) -> str:
    offset = state.offsets.get(topic, 0)
    return state.process(DECODER.decode(raw, NOW), raw, topic, offset)


def new_state() -> PartitionState:
    return PartitionState(0, lateness_us=120 * 10**6, retention_us=3600 * 10**6)


def minute_start(minute: int) -> int:
    return int((T0 + timedelta(minutes=minute)).timestamp())


def test_duplicates_are_counted_once() -> None:
    state = new_state()
    assert feed(state, TASKS, completed("e1", 0)) == "accepted"
    assert feed(state, TASKS, completed("e1", 0)) == "duplicate"
    # Same event id in another project is another event.
    assert feed(state, TASKS, completed("e1", 0, project="p2")) == "accepted"
    key = next(k for k in state.windows if k[1] == "项目甲")
    assert state.windows[key][SUBMITTED] == 1
    assert state.counters["duplicates"] == 1
    assert state.counters["events_in"] == 3


def test_a_lagging_topic_holds_the_watermark() -> None:
    state = new_state()
    for i in range(10):
        feed(state, TASKS, completed(f"t{i}", i))
    feed(state, AUDITS, audited("a0", 1))
    # Audits still have a backlog: the watermark stays at their newest time - lateness.
    state.move_watermark(behind=[AUDITS])
    assert state.watermark_us == int((T0 + timedelta(minutes=1 - 2)).timestamp()) * 10**6
    closed = state.advance()
    assert closed == []
    # An audit for minute 3 is not a correction: its window is still open.
    assert feed(state, AUDITS, audited("a1", 3)) == "accepted"
    # Both caught up: the newest time of all topics counts.
    state.move_watermark(behind=[])
    closed = state.advance()
    assert [c.window_start for c in closed] == [minute_start(m) for m in range(7)]
    assert feed(state, AUDITS, audited("a2", 3)) == "late"


def test_a_lagging_topic_with_nothing_read_holds_everything() -> None:
    state = new_state()
    feed(state, TASKS, completed("t", 30))
    state.move_watermark(behind=[AUDITS])
    assert state.watermark_us is None
    assert state.advance() == []


def test_the_watermark_never_moves_back() -> None:
    state = new_state()
    feed(state, TASKS, completed("t", 30))
    state.move_watermark()
    high = state.watermark_us
    feed(state, AUDITS, audited("a", 5))
    state.move_watermark(behind=[AUDITS])
    assert state.watermark_us == high


def test_windows_close_once_in_order_and_corrections_stay_exact() -> None:
    state = new_state()
    for i in range(5):
        feed(state, TASKS, completed(f"t{i}", i))
    state.move_watermark()
    first = state.advance()
    assert [c.window_start for c in first] == [minute_start(m) for m in range(2)]
    assert state.advance() == []  # nothing new: nothing handed out again
    assert feed(state, TASKS, completed("late", 0.5)) == "late"
    key = next(k for k in state.windows if k[0] == minute_start(0))
    assert state.windows[key][SUBMITTED] == 2
    rest = state.advance(close_all=True)
    assert [c.window_start for c in rest] == [minute_start(m) for m in range(2, 5)]


def test_too_late_beyond_retention_is_a_dead_letter() -> None:
    state = new_state()
    feed(state, TASKS, completed("new", 200))
    state.move_watermark()
    state.advance()
    assert feed(state, TASKS, completed("old", 0)) == "dead"
    assert state.dead_letters[-1].reason == "too_late"
    assert state.counters["dead_too_late"] == 1


def test_memory_follows_the_horizon_not_history() -> None:
    state = new_state()
    for i in range(600):
        feed(state, TASKS, completed(f"t{i}", i))
        if i % 10 == 0:
            state.move_watermark()
            state.advance()
            state.mark_checkpointed()
    state.move_watermark()
    state.advance()
    state.mark_checkpointed()
    state.evict()
    # Retention 60 min + lateness 2 min: about 62 minutes of windows and dedup marks remain.
    assert 55 <= len(state.windows) <= 65
    assert 55 <= len(state.seen) <= 65
    # The per-minute index names exactly the windows held.
    indexed = [k for keys in state.by_minute.values() for k in keys]
    assert sorted(indexed) == sorted(state.windows)


def test_checkpoint_records_rebuild_the_same_state() -> None:
    live = new_state()
    records = []
    for i in range(40):
        feed(live, TASKS, completed(f"t{i}", i % 7))
        feed(live, AUDITS, audited(f"a{i}", i % 5))
        if i % 6 == 5:
            live.move_watermark(behind=[AUDITS])
            live.advance()
            live.next_version(1)
            records.append(orjson.loads(orjson.dumps(live.delta())))
            live.mark_checkpointed()
    live.move_watermark()
    live.advance()
    records.append(orjson.loads(orjson.dumps(live.delta())))
    live.mark_checkpointed()

    recovered = new_state()
    for record in records:
        recovered.apply_delta(record)
    assert recovered.windows == live.windows
    assert {m: sorted(k) for m, k in recovered.by_minute.items()} == {
        m: sorted(k) for m, k in live.by_minute.items()
    }
    assert recovered.errors == live.errors
    assert recovered.seen == live.seen
    assert recovered.offsets == live.offsets
    assert recovered.topic_max == live.topic_max
    assert recovered.watermark_us == live.watermark_us
    assert recovered.closed_before == live.closed_before
    assert recovered.counters == live.counters
    assert sum(a[AUDITS_IDX] for a in recovered.windows.values()) == 40


def test_a_full_snapshot_alone_rebuilds_the_state_and_later_deltas_apply_on_top() -> None:
    from streams.statelog import base_of, decode_checkpoints, encode_checkpoint

    live = new_state()
    log: list[bytes] = []
    snapshot_at = None
    for i in range(30):
        feed(live, TASKS, completed(f"t{i}", i % 9))
        feed(live, AUDITS, audited(f"a{i}", i % 4))
        live.move_watermark(behind=[AUDITS])
        live.advance()
        full = i == 17
        record = live.full_record() if full else live.delta()
        if full:
            snapshot_at = len(log)
        log.extend(encode_checkpoint(record, base=live.snapshot_base))
        live.mark_checkpointed()
        if full:
            live.snapshot_base = snapshot_at
    assert snapshot_at is not None
    # Recovery: the last message points at the snapshot; replay only from there.
    start = base_of(log[-1])
    assert start == snapshot_at
    records = decode_checkpoints(log[start:])
    assert records[0]["full"] is True and len(records) == 30 - 17
    recovered = new_state()
    for record in records:
        recovered.apply_delta(record)
    assert recovered.windows == live.windows
    assert recovered.errors == live.errors
    assert recovered.seen == live.seen
    assert recovered.offsets == live.offsets
    assert recovered.counters == live.counters
    assert recovered.closed_before == live.closed_before
