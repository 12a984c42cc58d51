"""Turn a checkpoint's changes into ClickHouse batches, in the sink's column order.

Batches are built column by column (``sinks.batches.Columns``): no list per
row, and the client inserts them without pivoting them again. Timestamps go
out as the integers clickhouse-connect would compute from the datetimes
(epoch seconds for ``DateTime``, epoch milliseconds for ``DateTime64(3)``),
so the stored values are the same and neither thread converts datetimes.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.model import AlertEvent
from schemas.deadletter import DeadLetter
from schemas.decode import MAX_ERROR_TEXT
from schemas.display import visible
from schemas.units import EPOCH, rfc3339
from sinks.batches import Columns, RejectedRow
from sinks.schema import (
    AUDIT_VERSION_COLUMNS,
    DLQ_COLUMNS,
    TABLE_COLUMNS,
    TASK_VERSION_COLUMNS,
)
from streams.partition import PartitionState
from streams.pending import AUDIT_FIELDS, AUDIT_VERSION, TASK_FIELDS, TASK_VERSION
from streams.windows import MICRO, MICRO_FIELDS, WIDTH, WindowKey

_MICRO_POSITIONS = tuple(i in MICRO_FIELDS for i in range(WIDTH))
# Within this range of epoch microseconds, ``datetime.timestamp()`` (a float) floors
# to the exact second, so clickhouse-connect's DateTime64(3) ticks equal
# ``epoch_us // 1000``; beyond it (before 1833, after 2106) its own formula is used.
_EXACT_US = 2**32 * MICRO
_EXACT_MS = _EXACT_US // 1000
_US = timedelta(microseconds=1)
_MS = timedelta(milliseconds=1)

_CREATED = 10 + TASK_FIELDS.index("task_created_at")
# The state keeps pending rows in the tables' column order (see streams.pending):
# the event's, the ingest columns, then the version columns and its time in µs.
_TASK_END = -4 - len(TASK_VERSION_COLUMNS)
_AUDIT_END = -4 - len(AUDIT_VERSION_COLUMNS)
assert tuple(TABLE_COLUMNS["task_events"][10:_TASK_END]) == TASK_FIELDS
assert tuple(TABLE_COLUMNS["audit_events"][10:_AUDIT_END]) == AUDIT_FIELDS
assert (*TASK_VERSION, "occurred_at_us") == TASK_VERSION_COLUMNS
assert (*AUDIT_VERSION, "occurred_at_us") == AUDIT_VERSION_COLUMNS


def _ticks_of(moment: datetime) -> int:
    """DateTime64(3) ticks exactly as clickhouse-connect computes them from a datetime."""
    return (math.floor(moment.timestamp()) * 1_000_000 + moment.microsecond) * 1000 // 1_000_000


def _created_ticks(moments: list[datetime | None]) -> list[int | None]:
    """DateTime64(3) ticks of a nullable column (``(m - EPOCH) // 1 ms`` = ``epoch_us // 1000``)."""
    ticks = [None if m is None else (m - EPOCH) // _MS for m in moments]
    known = [t for t in ticks if t is not None]
    if known and not (min(known) > -_EXACT_MS and max(known) < _EXACT_MS):
        ticks = [None if m is None else _lib_ticks((m - EPOCH) // _US) for m in moments]
    return ticks


def _lib_ticks(epoch_us: int) -> int:
    """clickhouse-connect's DateTime64(3) ticks of a datetime, from its epoch microseconds.

    It computes ``floor(dt.timestamp())`` (``epoch_us / 10**6``, correctly
    rounded, as the C code computes it) and ``dt.microsecond`` (``epoch_us mod
    10**6``: offsets are whole minutes).
    """
    seconds = math.floor(epoch_us / MICRO)
    return (seconds * MICRO + epoch_us % MICRO) * 1000 // MICRO


def _ticks(epoch_us: list[int]) -> list[int]:
    if min(epoch_us) > -_EXACT_US and max(epoch_us) < _EXACT_US:
        return [u // 1000 for u in epoch_us]
    return [_lib_ticks(u) for u in epoch_us]


def _events(table: str, states: Sequence[PartitionState], audits: bool, stamp: int) -> Columns:
    """Columns of task_events (or audit_events) from the accepted events not written yet."""
    columns: list[list[Any]] = []
    partitions: list[int] = []
    for state in states:
        pending = state.pending_columns(audits)
        if not pending[0]:
            continue
        if columns:
            for column, more in zip(columns, pending, strict=True):
                column.extend(more)
        else:
            columns = pending
        partitions.extend([state.partition] * len(pending[0]))
    n = len(partitions)
    if not n:
        return Columns([[] for _ in TABLE_COLUMNS[table]], 0)
    occurred_us = columns[1]
    columns[1] = _ticks(occurred_us)  # occurred_at
    if not audits:
        columns[_CREATED] = _created_ticks(columns[_CREATED])
    fields = 10 + len(AUDIT_FIELDS if audits else TASK_FIELDS)
    topics, offsets = columns[fields], columns[fields + 1]
    version = columns[fields + 2 : -1]  # the dedup marks are last
    return Columns(
        [*columns[:fields], topics, partitions, offsets, [stamp] * n, *version, occurred_us], n
    )


def rows_for_checkpoint(states: Sequence[PartitionState], now_us: int) -> dict[str, Columns]:
    updated_at = datetime.fromtimestamp(now_us / MICRO, UTC)
    stamp = _ticks_of(updated_at)
    metric_keys: list[WindowKey] = []
    metric_aggs: list[list[int]] = []
    metric_versions: list[int] = []
    error_rows: list[tuple[Any, ...]] = []
    for state in states:
        version = state.next_version(now_us)
        windows = state.store.windows
        keys = list(state.dirty_windows)
        metric_keys.extend(keys)
        metric_aggs.extend([windows[key][:WIDTH] for key in keys])
        metric_versions.extend([version] * len(keys))
        errors = state.store.errors
        error_rows.extend(
            (*key, category, errors[(key, category)], version)
            for key, category in state.dirty_errors
        )

    n = len(metric_keys)
    if n:
        keys_t = list(zip(*metric_keys, strict=True))
        values_t = list(zip(*metric_aggs, strict=True))
        metrics = Columns(
            [
                *[list(column) for column in keys_t],
                *[
                    [v / MICRO for v in column] if micro else list(column)
                    for column, micro in zip(values_t, _MICRO_POSITIONS, strict=True)
                ],
                metric_versions,
                [stamp] * n,
            ],
            n,
        )
    else:
        metrics = Columns([[] for _ in TABLE_COLUMNS["metrics_1m"]], 0)
    if error_rows:
        errors_t = list(zip(*error_rows, strict=True))
        errors_batch = Columns(
            [*[list(column) for column in errors_t], [stamp] * len(error_rows)], len(error_rows)
        )
    else:
        errors_batch = Columns([[] for _ in TABLE_COLUMNS["audit_errors_1m"]], 0)
    return {
        "task_events": _events("task_events", states, False, stamp),
        "audit_events": _events("audit_events", states, True, stamp),
        "metrics_1m": metrics,
        "audit_errors_1m": errors_batch,
    }


def dlq_row(letter: DeadLetter, partition: int, offset: int) -> list[Any]:
    return [
        letter.dead_letter_id,
        letter.reason,
        letter.message,
        letter.field,
        base64.b64decode(letter.payload_b64),
        letter.payload_size,
        letter.payload_sha256,
        letter.payload_truncated,
        letter.event_type,
        letter.project_id,
        letter.event_id,
        letter.source_topic,
        letter.source_partition,
        letter.source_offset,
        letter.producer,
        letter.received_at,
        partition,
        offset,
    ]


# The columns of an event row that are not the event's own fields.
_NOT_EVENT = frozenset(
    ("window_start", "topic", "partition", "offset", "ingested_at", "occurred_at_us")
)
_EVENT_TYPE = {"task_events": "task_completed", "audit_events": "task_audited"}


def _stored_time(ticks: Any) -> Any:
    """A DateTime64(3) value of a row (epoch ms) as RFC 3339, or as it is if no time."""
    try:
        moment = EPOCH + timedelta(milliseconds=ticks)
    except (TypeError, OverflowError):
        return ticks
    return rfc3339(moment, "milliseconds")


def unstored_letter(rejected: RejectedRow) -> DeadLetter:
    """An event row ClickHouse refused (``unprocessable``), as a dead letter.

    Defense in depth: the contract's bounds make every accepted event's row
    storable (tests/unit/schemas/test_storage_bounds.py), so this runs only for what
    they did not foresee. The event was accepted and stays counted in its
    window (its contribution was computed from values the contract accepted;
    a maximum cannot be taken back); only its raw row is missing from
    ``task_events`` / ``audit_events`` and held here instead. The payload is
    the event re-encoded from that row (times at the stored millisecond
    precision), not the producer's bytes, which the state does not keep for
    accepted events: those are at the source topic, partition and offset.
    """
    fields = dict(zip(TABLE_COLUMNS[rejected.table], rejected.values, strict=True))
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_type": _EVENT_TYPE[rejected.table],
    }
    for name, value in fields.items():
        if name in _NOT_EVENT:
            continue
        if name in ("occurred_at", "task_created_at") and value is not None:
            value = _stored_time(value)
        event[name] = None if name == "vendor_id" and value == "" else value
    payload = json.dumps(event, ensure_ascii=False, default=str).encode("utf-8", "backslashreplace")
    message = visible(
        f"ClickHouse refused the {rejected.table} row: {rejected.error}; the event is counted "
        "in its window, the payload is re-encoded from its row"
    )
    return DeadLetter.build(
        payload,
        "unprocessable",
        message[:MAX_ERROR_TEXT],
        event_type=event["event_type"],
        project_id=_hint(fields["project_id"]),
        event_id=_hint(fields["event_id"]),
        topic=_hint(fields["topic"]),
        partition=fields["partition"],
        offset=fields["offset"],
    )


def refused_dlq_row(rejected: RejectedRow, raw: bytes, topic: str) -> list[Any]:
    """A dlq_events row ClickHouse refused, replaced by one that says so and keeps the bytes.

    The replacement is built here from the dead-letter topic's message itself
    (every value ours, within its column), so it can be stored.
    """
    fields = dict(zip(DLQ_COLUMNS, rejected.values, strict=True))
    partition, offset = fields["dlq_partition"], fields["dlq_offset"]
    letter = DeadLetter.build(
        raw,
        "unprocessable",
        visible(f"ClickHouse refused this dead letter: {rejected.error}")[:MAX_ERROR_TEXT],
        topic=topic,
        partition=partition,
        offset=offset,
    )
    return dlq_row(letter, partition, offset)


def _hint(value: Any) -> str | None:
    return visible(value[:128]) if isinstance(value, str) else None


def alert_row(event: AlertEvent, emitted_at: datetime | None = None) -> list[Any]:
    """A row of the ``alerts`` table (column order of sinks.schema)."""
    return [
        event.fingerprint,
        event.rule,
        event.status,
        event.severity,
        event.labels,
        event.annotations,
        event.metric,
        event.value,
        event.threshold,
        event.window_start,
        event.window_end,
        event.starts_at,
        event.ends_at,
        emitted_at or datetime.now(UTC),
        event.muted_by,
        event.repeat,
        event.resolved_reason,
        json.dumps([item.to_dict() for item in event.explanation], ensure_ascii=False),
    ]
