"""Checkpoint records: deltas and full snapshots rebuild the state they were taken from."""

from __future__ import annotations

import orjson

from streams.partition import PartitionState
from streams.statelog import (
    base_of,
    decode_checkpoints,
    encode_checkpoint,
    encode_chunks,
)
from tests.unit.streams.events import (
    AUDITS,
    AUDITS_IDX,
    T0,
    TASKS,
    audited,
    completed,
    feed,
    new_state,
    oracle_lines,
    topic_of,
)


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
    assert {m: sorted(k) for m, k in recovered.store.by_minute.items()} == {
        m: sorted(k) for m, k in live.store.by_minute.items()
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


def test_a_full_snapshot_with_packed_minutes_rebuilds_the_state() -> None:
    lines = oracle_lines(seed=25, count=3000)
    live = PartitionState(0, lateness_us=120 * 10**6, retention_us=3600 * 10**6, pack_after_s=0)
    log: list[bytes] = []
    snapshot_at = 0
    for i, raw in enumerate(lines):
        feed(live, topic_of(raw), raw)
        if i % 61 == 60 or i == len(lines) - 1:
            live.move_watermark()
            live.advance()
            full = i == 1890
            if full:
                snapshot_at = len(log)
            # The full record as the processor writes it: streamed in pieces.
            log.extend(
                encode_chunks(live.full_record_json(), live.record_seq)
                if full
                else encode_checkpoint(live.delta())
            )
            live.mark_checkpointed()
    records = decode_checkpoints(log[snapshot_at:])
    assert records[0]["full"] is True and records[0]["packed"]
    recovered = PartitionState(
        0, lateness_us=120 * 10**6, retention_us=3600 * 10**6, pack_after_s=0
    )
    for record in records:
        recovered.apply_delta(record)
    assert dict(recovered.windows.items()) == dict(live.windows.items())
    assert dict(recovered.errors.items()) == dict(live.errors.items())
    assert recovered.seen == live.seen
    assert recovered.marks.by_minute.keys() == live.marks.by_minute.keys()
    for minute in live.marks.by_minute:  # each mark is evicted with its own minute
        assert recovered.marks.marks_of_minute(minute) == live.marks.marks_of_minute(minute)
    assert recovered.counters == live.counters
    assert recovered.offsets == live.offsets
    assert recovered.closed_before == live.closed_before
    # Both go on identically, duplicates of already seen events included.
    for raw in lines[-400:] + oracle_lines(seed=26, count=300):
        topic = topic_of(raw)
        assert feed(recovered, topic, raw) == feed(live, topic, raw)
    assert dict(recovered.windows.items()) == dict(live.windows.items())


def test_format_1_records_still_recover() -> None:
    """Records written before marks were ints: [minute, "project\\x1fevent_id"]."""
    live = new_state()
    feed(live, TASKS, completed("e1", 0))
    feed(live, TASKS, completed("a-very-long-event-id-beyond-21-bytes", 1))
    record = orjson.loads(orjson.dumps(live.delta()))
    minute = int((T0.timestamp() * 10**6) // (60 * 10**6))
    record.pop("v")
    record.pop("seen_ids")
    record["seen"] = [
        [minute, "项目甲\x1fe1"],
        [minute + 1, "项目甲\x1fa-very-long-event-id-beyond-21-bytes"],
    ]
    recovered = new_state()
    recovered.apply_delta(record)
    assert recovered.seen == live.seen
    assert feed(recovered, TASKS, completed("e1", 0)) == "duplicate"
    assert (
        feed(recovered, TASKS, completed("a-very-long-event-id-beyond-21-bytes", 1)) == "duplicate"
    )
    assert feed(recovered, TASKS, completed("e1", 0, project="p2")) == "accepted"
