"""Accepted events waiting to be written out: their rows, flat, with no object per event.

The per-event path (``PartitionState.process``) keeps the values of an
accepted event's task_events / audit_events row, read while the event is at
hand, as TASK_ROW (AUDIT_ROW) consecutive values of one flat list: the decoded
event is freed at once, and a column is a slice. Per event: event_id,
occurred_us, window start (epoch s), project_id, queue_id, task_id,
annotator_id, vendor_id, locale, source, then the type's own fields in table
order (task_created_at as a datetime), topic, offset, the version fields
(``TASK_VERSION`` / ``AUDIT_VERSION``), dedup mark. Every accepted version is
kept, retractions and superseded ones too: the event tables hold them all,
and their ``_current`` views the ones that count. The
partition is the state's. ``streams.rows`` turns them into ClickHouse columns
(and checks the table order); the checkpoint record takes their dedup keys.
Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

TASK_FIELDS = (
    "status",
    "handle_time_s",
    "task_created_at",
    "attempt",
    "is_gold",
    "gold_correct",
    "task_type",
    "tags",
)
AUDIT_FIELDS = (
    "auditor_id",
    "verdict",
    "score",
    "error_categories",
    "audit_kind",
    "audit_time_s",
)
TASK_VERSION = ("submission_id", "revision", "retracted")
AUDIT_VERSION = ("revision", "retracted")
TASK_ROW = 10 + len(TASK_FIELDS) + 2 + len(TASK_VERSION) + 1
AUDIT_ROW = 10 + len(AUDIT_FIELDS) + 2 + len(AUDIT_VERSION) + 1


def columns_of(flat: list[Any], width: int) -> list[list[Any]]:
    """The pending rows of one table, column by column."""
    return [flat[i::width] for i in range(width)]


def rows_of(flat: list[Any], width: int) -> list[tuple[Any, ...]]:
    """The pending rows of one table, row by row (introspection and tests)."""
    return list(zip(*columns_of(flat, width), strict=True))


def dedup_keys(
    tasks: list[Any], audits: list[Any], minute_us: int
) -> tuple[list[int], list[str], list[str]]:
    """(minute, project_id, event_id) of every pending event, column by column."""
    minutes: list[int] = []
    projects: list[str] = []
    event_ids: list[str] = []
    for flat, width in ((tasks, TASK_ROW), (audits, AUDIT_ROW)):
        minutes.extend([occurred_us // minute_us for occurred_us in flat[1::width]])
        projects.extend(flat[3::width])
        event_ids.extend(flat[0::width])
    return minutes, projects, event_ids
