"""Turn a checkpoint's changes into ClickHouse rows, in the sink's column order."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from schemas.deadletter import DeadLetter
from schemas.events import TaskAudited, TaskCompleted
from streams.state import PartitionState
from streams.windows import MICRO, MICRO_FIELDS, WIDTH, epoch_us, window_start

_MICRO_POSITIONS = tuple(i in MICRO_FIELDS for i in range(WIDTH))


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def rows_for_checkpoint(
    states: Sequence[PartitionState], now_us: int
) -> dict[str, list[list[Any]]]:
    updated_at = datetime.fromtimestamp(now_us / MICRO, UTC)
    metrics: list[list[Any]] = []
    errors: list[list[Any]] = []
    tasks: list[list[Any]] = []
    audits: list[list[Any]] = []
    for state in states:
        version = state.next_version(now_us)
        for key in state.dirty_windows:
            agg = state.windows[key]
            values = [
                v / MICRO if micro else v for v, micro in zip(agg, _MICRO_POSITIONS, strict=True)
            ]
            metrics.append([_utc(key[0]), *key[1:], *values, version, updated_at])
        for error_key in state.dirty_errors:
            key, category = error_key
            errors.append(
                [_utc(key[0]), *key[1:], category, state.errors[error_key], version, updated_at]
            )
        for item in state.accepted:
            event = item.event
            start = _utc(window_start(epoch_us(event.occurred_at)))
            common = [
                event.event_id,
                event.occurred_at,
                start,
                event.project_id,
                event.queue_id,
                event.task_id,
                event.annotator_id,
                event.vendor_id,
                event.locale,
                event.source,
            ]
            ingest = [item.topic, item.partition, item.offset, updated_at]
            if isinstance(event, TaskCompleted):
                tasks.append(
                    [
                        *common,
                        event.status,
                        event.handle_time_s,
                        event.task_created_at,
                        event.attempt,
                        event.is_gold,
                        event.gold_correct,
                        event.task_type,
                        event.tags,
                        *ingest,
                    ]
                )
            elif isinstance(event, TaskAudited):
                audits.append(
                    [
                        *common,
                        event.auditor_id,
                        event.verdict,
                        event.score,
                        event.error_categories,
                        event.audit_kind,
                        event.audit_time_s,
                        *ingest,
                    ]
                )
    return {
        "task_events": tasks,
        "audit_events": audits,
        "metrics_1m": metrics,
        "audit_errors_1m": errors,
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
