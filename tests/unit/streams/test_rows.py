"""ClickHouse batches from the state: the same bytes as rows, the client's own DateTime64 ticks."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from clickhouse_connect.datatypes.registry import get_from_name
from clickhouse_connect.driver.insert import InsertContext
from clickhouse_connect.driver.transform import NativeTransform

from sinks.batches import Columns
from sinks.schema import MIGRATIONS, TABLE_COLUMNS
from streams.partition import PartitionState
from streams.rows import _lib_ticks, _ticks, _ticks_of, rows_for_checkpoint
from streams.windows import MICRO, MICRO_FIELDS, WIDTH
from tests.unit.streams.events import (
    DECODER,
    NOW,
    completed,
    oracle_lines,
    topic_of,
)


def _native(table: str, batch: object) -> bytes:
    """clickhouse-connect's Native encoding of a batch: the bytes an insert sends."""

    statement = next(s for m in MIGRATIONS for s in m.statements if f"EXISTS {table} (" in s)
    body = re.search(r"\((.*?)\n\) ENGINE", statement, re.S)
    assert body is not None
    types = [
        get_from_name(re.match(r"\s*\w+ (.+?),?\s*$", line).group(1))  # type: ignore[union-attr]
        for line in body.group(1).strip().splitlines()
    ]
    # Columns added by later migrations, in their order (the version columns).
    for migration in MIGRATIONS:
        for s in migration.statements:
            added = re.match(
                rf"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS \w+ (.+?)(?: DEFAULT .*)?$", s
            )
            if added:
                types.append(get_from_name(added.group(1)))
    context = InsertContext(
        table, list(TABLE_COLUMNS[table]), types, column_oriented=isinstance(batch, Columns)
    )
    context.data = batch
    return b"".join(NativeTransform.build_insert(context))


def _reference_rows(
    state: PartitionState, pending: list[tuple[Any, str, int]], version: int, now_us: int
) -> dict[str, list[list[Any]]]:
    """The row-per-list batches rows_for_checkpoint built before it built columns."""

    def utc(seconds: int) -> datetime:
        return datetime.fromtimestamp(seconds, UTC)

    updated_at = datetime.fromtimestamp(now_us / MICRO, UTC)
    out: dict[str, list[list[Any]]] = {
        k: [] for k in ("task_events", "audit_events", "metrics_1m", "audit_errors_1m")
    }
    for key in state.dirty_windows:
        agg = state.store.windows[key][:WIDTH]
        values = [v / MICRO if i in MICRO_FIELDS else v for i, v in enumerate(agg)]
        out["metrics_1m"].append([utc(key[0]), *key[1:], *values, version, updated_at])
    for key, category in state.dirty_errors:
        n = state.store.errors[(key, category)]
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
                version = [event.submission_id, event.revision, event.retracted, occurred]
            else:
                extra = [
                    event.auditor_id,
                    event.verdict,
                    event.score,
                    event.error_categories,
                    event.audit_kind,
                    event.audit_time_s,
                ]
                version = [event.revision, event.retracted, occurred]
            out[table].append([*common, *extra, *ingest, *version])
    return out


def test_column_batches_encode_to_the_same_bytes_as_the_former_rows() -> None:
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
