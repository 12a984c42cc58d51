"""The pure partition state: dedup, watermark per topic, closing, corrections, checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

from schemas.decode import DecodeError, Decoder
from schemas.metrics import AGGREGATE_FIELDS
from streams.dedup import dedup_mark
from streams.partition import PartitionState
from streams.windows import MICRO_FIELDS

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


# -- packed minutes, dedup marks, column batches ------------------------------------

ORACLE_TOPICS = {"task_completed": TASKS, "task_audited": AUDITS}


def oracle_lines(seed: int, count: int) -> list[bytes]:
    from tests.oracle import generate

    return generate(seed=seed, count=count).lines


def topic_of(raw: bytes) -> str:
    try:
        return ORACLE_TOPICS.get(orjson.loads(raw).get("event_type"), TASKS)
    except (orjson.JSONDecodeError, AttributeError):
        return TASKS


def test_a_packed_minute_round_trips_exactly() -> None:
    from streams.windows import pack_minute, packed_counts, unpack_minute

    start = minute_start(3)
    hostile = ['quote"\\x', "emoji🙂", "ctl\x1f\n\x00", "", "标注员-1"]
    keys = [
        (start, f"p{i}", "队列", hostile[i % 5], f"loc\x1f{i}", "human", hostile[(i + 1) % 5])
        for i in range(40)
    ]
    aggregates = [[(i * 7919 + j) % 5 for j in range(len(AGGREGATE_FIELDS))] for i in range(40)]
    aggregates[0] = [2**64 - 1] * len(AGGREGATE_FIELDS)  # the largest a checkpoint can carry
    errors = [((keys[i], hostile[i % 5] + "漏标"), i + 1) for i in range(0, 40, 3)]
    blob = pack_minute(keys, aggregates, errors)
    windows, unpacked_errors = unpack_minute(blob)
    assert windows == list(zip(keys, aggregates, strict=True))
    assert unpacked_errors == errors
    assert packed_counts(blob) == (40, len(errors))
    assert unpack_minute(pack_minute([], [], [])) == ([], [])
    assert len(blob) < 40 * 100


def checkpointed_run(
    lines: list[bytes], every: int, **options: int | bool
) -> tuple[PartitionState, list[str], list[dict[str, object]]]:
    """Feed lines with a checkpoint every ``every`` lines; returns state, results, records."""
    state = PartitionState(0, lateness_us=120 * 10**6, retention_us=6 * 3600 * 10**6, **options)
    results = []
    records = []
    for i, raw in enumerate(lines):
        results.append(feed(state, topic_of(raw), raw))
        if i % every == every - 1 or i == len(lines) - 1:
            state.move_watermark()
            state.advance(close_all=i == len(lines) - 1)
            state.next_version(1)
            delta = state.delta()
            records.append(
                {"windows": sorted(delta["windows"], key=repr), "errors": sorted(delta["errors"])}
            )
            state.mark_checkpointed()
    return state, results, records


def test_corrections_to_packed_minutes_give_what_never_packing_gives() -> None:
    lines = oracle_lines(seed=21, count=4000)  # 2 % corrections, 5 to 90 minutes late
    packed, packed_results, packed_records = checkpointed_run(lines, 97, pack_after_s=0)
    plain, plain_results, plain_records = checkpointed_run(lines, 97, pack_closed=False)
    assert packed.packed_minutes > 10 and plain.packed_minutes == 0
    assert packed_results.count("late") > 20
    assert packed_results == plain_results
    # Every checkpoint wrote the same windows with the same values, corrections included.
    assert packed_records == plain_records
    assert dict(packed.windows.items()) == dict(plain.windows.items())
    assert len(packed.windows) == len(plain.windows)
    assert dict(packed.errors.items()) == dict(plain.errors.items())
    assert len(packed.errors) == len(plain.errors)
    assert packed.seen == plain.seen
    assert packed.counters == plain.counters


def test_packed_state_equals_the_oracle() -> None:
    from decimal import Decimal

    from tests.oracle import generate, oracle

    stream = generate(seed=23, count=3000)
    state, _, _ = checkpointed_run(stream.lines, 50, pack_after_s=0)
    assert state.packed_minutes > 0
    expected_metrics, expected_errors = oracle(stream.valid)
    actual = {}
    for key, agg in state.windows.items():
        start = datetime.fromtimestamp(key[0], UTC).replace(tzinfo=None)
        actual[(start, *key[1:])] = {
            name: float(Decimal(agg[i]) / 10**6) if i in MICRO_FIELDS else agg[i]
            for i, name in enumerate(AGGREGATE_FIELDS)
        }
    assert actual == expected_metrics
    errors = {
        (datetime.fromtimestamp(k[0][0], UTC).replace(tzinfo=None), *k[0][1:], k[1]): n
        for k, n in state.errors.items()
    }
    assert errors == expected_errors


def test_a_correction_keeps_its_minute_unpacked_for_a_while() -> None:
    state = PartitionState(0, lateness_us=120 * 10**6, retention_us=3600 * 10**6, pack_after_s=300)
    for i in range(30):
        feed(state, TASKS, completed(f"t{i}", i))
        state.move_watermark()
        state.advance()
        state.mark_checkpointed()
    assert state.is_packed(minute_start(0)) and not state.is_packed(minute_start(25))
    assert feed(state, TASKS, completed("late", 0.5)) == "late"
    assert not state.is_packed(minute_start(0))
    state.mark_checkpointed()
    assert not state.is_packed(minute_start(0)), "held as objects after a correction"
    for i in range(30, 40):
        feed(state, TASKS, completed(f"t{i}", i))
        state.move_watermark()
        state.advance()
        state.mark_checkpointed()
    assert state.is_packed(minute_start(0))
    key = next(k for k in state.windows if k[0] == minute_start(0))
    assert state.windows[key][SUBMITTED] == 2


def test_a_full_snapshot_with_packed_minutes_rebuilds_the_state() -> None:
    from streams.statelog import decode_checkpoints, encode_checkpoint, encode_chunks

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


def test_dedup_marks_are_exact_for_short_ids_and_distinct_for_long_ones() -> None:
    from streams.dedup import EXACT_MARK_BYTES

    short = ["", "a", "\x00a", "a\x00", "tc-c16f00-0000005", "标注-7", "x" * EXACT_MARK_BYTES]
    long = ["x" * (EXACT_MARK_BYTES + 1), "x" * (EXACT_MARK_BYTES + 2), "y" * 120]
    marks = [dedup_mark(i) for i in short + long]
    assert len(set(marks)) == len(marks)
    for event_id in short:  # exact: the id can be read back from its mark
        raw = dedup_mark(event_id).to_bytes(EXACT_MARK_BYTES + 1, "big").lstrip(b"\x00")
        assert raw[1:].decode() == event_id
    assert all(m.bit_length() <= 8 * (EXACT_MARK_BYTES + 1) + 1 for m in marks)
    state = new_state()
    for event_id in ["a", "tc-c16f00-0000005", "标注-7", "x" * EXACT_MARK_BYTES, *long]:
        raw = completed(event_id, 0)
        assert feed(state, TASKS, raw) == "accepted"
        assert feed(state, TASKS, raw) == "duplicate"


def _native(table: str, batch: object) -> bytes:
    """clickhouse-connect's Native encoding of a batch: the bytes an insert sends."""
    import re

    from clickhouse_connect.datatypes.registry import get_from_name
    from clickhouse_connect.driver.insert import InsertContext
    from clickhouse_connect.driver.transform import NativeTransform

    from sinks.batches import Columns
    from sinks.schema import MIGRATIONS, TABLE_COLUMNS

    statement = next(s for m in MIGRATIONS for s in m.statements if f"EXISTS {table} (" in s)
    body = re.search(r"\((.*?)\n\) ENGINE", statement, re.S)
    assert body is not None
    types = [
        get_from_name(re.match(r"\s*\w+ (.+?),?\s*$", line).group(1))  # type: ignore[union-attr]
        for line in body.group(1).strip().splitlines()
    ]
    context = InsertContext(
        table, list(TABLE_COLUMNS[table]), types, column_oriented=isinstance(batch, Columns)
    )
    context.data = batch
    return b"".join(NativeTransform.build_insert(context))


def _reference_rows(
    state: PartitionState, pending: list[tuple[Any, str, int]], version: int, now_us: int
) -> dict[str, list[list[Any]]]:
    """The row-per-list batches rows_for_checkpoint built before it built columns."""
    from streams.windows import MICRO

    def utc(seconds: int) -> datetime:
        return datetime.fromtimestamp(seconds, UTC)

    updated_at = datetime.fromtimestamp(now_us / MICRO, UTC)
    out: dict[str, list[list[Any]]] = {
        k: [] for k in ("task_events", "audit_events", "metrics_1m", "audit_errors_1m")
    }
    for key in state.dirty_windows:
        agg = state.open_windows[key]
        values = [v / MICRO if i in MICRO_FIELDS else v for i, v in enumerate(agg)]
        out["metrics_1m"].append([utc(key[0]), *key[1:], *values, version, updated_at])
    for key, category in state.dirty_errors:
        n = state.open_errors[(key, category)]
        out["audit_errors_1m"].append([utc(key[0]), *key[1:], category, n, version, updated_at])
    for table in ("task_events", "audit_events"):
        for event, topic, offset in pending:
            if (event.event_type == "task_completed") != (table == "task_events"):
                continue
            occurred = (event.occurred_at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
                microseconds=1
            )
            common = [
                event.event_id,
                event.occurred_at,
                utc(occurred // 60_000_000 * 60),
                event.project_id,
                event.queue_id,
                event.task_id,
                event.annotator_id,
                event.vendor_id,
                event.locale,
                event.source,
            ]
            ingest = [topic, state.partition, offset, updated_at]
            if table == "task_events":
                extra = [
                    event.status,
                    event.handle_time_s,
                    event.task_created_at,
                    event.attempt,
                    event.is_gold,
                    event.gold_correct,
                    event.task_type,
                    event.tags,
                ]
            else:
                extra = [
                    event.auditor_id,
                    event.verdict,
                    event.score,
                    event.error_categories,
                    event.audit_kind,
                    event.audit_time_s,
                ]
            out[table].append([*common, *extra, *ingest])
    return out


def test_column_batches_encode_to_the_same_bytes_as_the_former_rows() -> None:
    from streams.rows import rows_for_checkpoint

    ancient = orjson.loads(completed("ancient", 1))
    ancient["task_created_at"] = "0001-01-01T00:00:00.999999Z"  # beyond float-exact seconds
    lines = [orjson.dumps(ancient), *oracle_lines(seed=27, count=2500)]
    state = PartitionState(
        0, lateness_us=120 * 10**6, retention_us=3650 * 86400 * 10**6, pack_after_s=0
    )
    now_us = 1_900_000_000_123_456
    pending: list[tuple[Any, str, int]] = []
    compared = 0
    for i, raw in enumerate(lines):
        topic = topic_of(raw)
        offset = state.offsets.get(topic, 0)
        decoded = DECODER.decode(raw, NOW)
        if state.process(decoded, raw, topic, offset) in ("accepted", "late"):
            pending.append((decoded, topic, offset))
        if i % 500 == 499 or i == len(lines) - 1:
            state.move_watermark()
            state.advance()
            batches = rows_for_checkpoint([state], now_us)
            reference = _reference_rows(state, pending, state.version, now_us)
            for table, rows in reference.items():
                assert batches[table].rows == len(rows)
                if rows:
                    assert _native(table, batches[table]) == _native(table, rows), table
                    compared += 1
            state.mark_checkpointed()
            pending = []
            now_us += 1_000_003
    assert compared >= 18


def test_datetime64_ticks_are_the_clients_own() -> None:
    import random

    from streams.rows import _lib_ticks, _ticks, _ticks_of

    rng = random.Random(5)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    low = (datetime(1, 1, 2, tzinfo=UTC) - epoch) // timedelta(microseconds=1)
    high = (datetime(9999, 12, 30, tzinfo=UTC) - epoch) // timedelta(microseconds=1)
    samples = [rng.randint(low, high) for _ in range(3000)]
    samples += [rng.randint(-(2**32) * 10**6, 2**32 * 10**6) for _ in range(3000)]
    samples += [s * 10**6 + d for s in (-(2**34), -1, 0, 2**33) for d in (-1, 0, 1, 999_999)]
    tz8 = timezone(timedelta(hours=8))
    for us in samples:
        moment = epoch + timedelta(microseconds=us)
        assert _lib_ticks(us) == _ticks_of(moment) == _ticks_of(moment.astimezone(tz8))
    inside = [u for u in samples if abs(u) < 2**32 * 10**6]
    assert _ticks(inside) == [u // 1000 for u in inside] == [_lib_ticks(u) for u in inside]
    assert _ticks(samples) == [_lib_ticks(u) for u in samples]


def test_the_writer_inserts_columns_or_rows_as_the_client_takes_them() -> None:

    from sinks.batches import Columns
    from sinks.writer import ClickHouseWriter

    class Context:
        def __init__(self) -> None:
            self.column_types = ["types"]

    class Columnar:
        def __init__(self) -> None:
            self.calls: list[tuple[Any, ...]] = []
            self.contexts = 0

        def create_insert_context(self, table: str, names: list[str]) -> Context:
            self.contexts += 1
            return Context()

        def insert(
            self,
            table: str,
            data: Any,
            column_names: Any = None,
            column_types: Any = None,
            column_oriented: bool = False,
        ) -> None:
            self.calls.append((table, [list(c) for c in data], column_types, column_oriented))

    class RowsOnly:
        def __init__(self) -> None:
            self.calls: list[tuple[Any, ...]] = []

        def insert(self, table: str, rows: Any, column_names: list[str]) -> None:
            self.calls.append((table, [list(r) for r in rows]))

    batch = Columns([[1, 2], ["a", "b"]], 2)
    columnar = Columnar()
    writer = ClickHouseWriter(lambda: columnar)
    writer.write({"metrics_1m": batch, "alerts": [[9]], "task_events": Columns([[], []], 0)})
    writer.write({"metrics_1m": batch})
    assert columnar.calls[0] == ("metrics_1m", [[1, 2], ["a", "b"]], ["types"], True)
    assert columnar.calls[1][0] == "alerts" and columnar.calls[1][3] is False
    assert len(columnar.calls) == 3 and columnar.contexts == 1, "types read once per table"
    assert writer.stats.rows == {"metrics_1m": 4, "alerts": 1}
    rows_only = RowsOnly()
    ClickHouseWriter(lambda: rows_only).write({"metrics_1m": batch})
    assert rows_only.calls == [("metrics_1m", [[1, "a"], [2, "b"]])]


def test_projects_without_marks_are_forgotten() -> None:
    state = new_state()  # retention 60 min
    for i in range(100):
        assert feed(state, TASKS, completed(f"e{i}", i, project=f"p{i}")) == "accepted"
    feed(state, TASKS, completed("now", 300))
    state.move_watermark()
    state.advance()
    assert len(state.seen) == 1
    assert len(state.marks.project_base) == 1  # only the project still holding a mark
    assert feed(state, TASKS, completed("e5", 250, project="p5")) == "late"  # a new mark
    assert feed(state, TASKS, completed("e5", 250, project="p5")) == "duplicate"
    assert feed(state, TASKS, completed("now", 300)) == "duplicate"
    assert ("项目甲", dedup_mark("now")) in state.seen


def test_a_too_late_event_leaves_no_dedup_mark() -> None:
    state = new_state()
    feed(state, TASKS, completed("new", 200))
    state.move_watermark()
    state.advance()
    held = len(state.seen)
    assert feed(state, TASKS, completed("old", 0)) == "dead"
    assert feed(state, TASKS, completed("old", 0)) == "dead"  # not a duplicate
    assert len(state.seen) == held
    assert state.counters["dead_too_late"] == 2 and state.counters["duplicates"] == 0


def test_chunks_built_from_pieces_are_the_chunks_of_the_whole_record() -> None:
    import random

    import orjson

    from streams.statelog import CHUNK_BYTES, decode_checkpoints, encode_checkpoint, encode_chunks

    rng = random.Random(5)
    record = {
        "seq": 9,
        "windows": [[f"项目-{i}", i, "x" * rng.randrange(200)] for i in range(12_000)],
    }
    whole = encode_checkpoint(record, base=3)
    assert len(whole) > 2  # the record spans several chunks
    body = orjson.dumps(record)
    for _ in range(5):
        cuts = {*rng.sample(range(1, len(body)), 40), CHUNK_BYTES, 2 * CHUNK_BYTES}
        cuts = sorted(c for c in cuts if c < len(body))
        pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        assert encode_chunks(pieces, 9, base=3) == whole
    assert decode_checkpoints(whole) == [record]
    # A body of exactly one chunk is one message, never a trailing empty chunk.
    assert len(encode_chunks([b"x" * CHUNK_BYTES], 1)) == 1


def _held(state: PartitionState) -> dict[str, Any]:
    """What the state holds, packed or not, but offsets and counters (every message moves them)."""
    return {
        "windows": dict(state.windows.items()),
        "errors": dict(state.errors.items()),
        "seen": set(state.seen),
        "by_minute": {m: sorted(marks) for m, marks in state.marks.by_minute.items()},
        "clock": (state.max_event_us, dict(state.topic_max), state.closed_before),
        "pending": state.accepted,
        "dirty": (set(state.dirty_windows), set(state.dirty_errors)),
        "projects": dict(state.marks.project_base),
    }


def test_an_event_whose_processing_raises_is_unprocessable_and_changes_nothing() -> None:
    """audit_time_s 1e308 overflowed round(x * MICRO) after the dedup mark was set.

    Built past the contract (model_copy does not validate), as a value the
    bounds did not foresee would be: the event is a dead letter with its
    bytes and the error, the state is exactly as before, and the same event
    id later, valid, is not taken for a duplicate.
    """
    state = new_state()
    assert feed(state, AUDITS, audited("a-0", 0)) == "accepted"
    feed(state, TASKS, completed("c-0", 30))
    state.move_watermark()
    state.advance()
    state.mark_checkpointed()
    assert state.is_packed(minute_start(0))  # the hostile event is a correction to it
    before = _held(state)
    raw = audited("a-1", 0)
    event = DECODER.decode(raw, NOW)
    assert not isinstance(event, DecodeError)
    for hostile in (
        event.model_copy(update={"audit_time_s": 1e308}),
        event.model_copy(update={"score": float("nan")}),
        event.model_copy(update={"event_id": "a-\ud800"}),
        event.model_copy(update={"verdict": "shrug"}),
    ):
        offset = state.offsets[AUDITS]
        assert state.process(hostile, raw, AUDITS, offset) == "dead"
        assert state.offsets[AUDITS] == offset + 1
        assert _held(state) == before
        letter = state.dead_letters[-1]
        assert letter.reason == "unprocessable"
        assert letter.payload == raw and letter.source_offset == offset
        assert letter.message.startswith("processing failed: ")
        assert letter.event_id is not None and letter.project_id == "项目甲"
        letter.to_json()  # publishable: hidden characters of the hints are escaped
    assert "OverflowError" in state.dead_letters[0].message
    assert state.counters["dead_unprocessable"] == 4
    assert state.counters["events_in"] == 2 + 4
    assert feed(state, AUDITS, raw) == "late"  # a correction, not a duplicate
    (first,) = [agg for key, agg in state.windows.items() if key[0] == minute_start(0)]
    assert first[AUDITS_IDX] == 2


def test_the_decoder_never_raises() -> None:
    """What the decoder itself cannot handle is unprocessable, not an exception."""

    class Exploding(Decoder):
        def decode_object(self, obj: dict[str, Any], now: datetime | None = None) -> Any:
            raise RecursionError("maximum recursion depth exceeded")

    result = Exploding().decode(completed("c-1", 0), NOW)
    assert isinstance(result, DecodeError)
    assert result.reason == "unprocessable"
    assert "RecursionError" in result.message
