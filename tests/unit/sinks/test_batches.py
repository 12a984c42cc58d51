"""The writer's batches: parts of whole months, each within what one insert may hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sinks.batches import MONTHS_PER_INSERT, Columns, split_by_month
from sinks.schema import TABLE_COLUMNS

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _task_rows(moments: list[datetime]) -> Columns:
    """task_events columns where only occurred_at (epoch ms) and a row number matter."""
    names = TABLE_COLUMNS["task_events"]
    columns: list[list[Any]] = [[None] * len(moments) for _ in names]
    ms = timedelta(milliseconds=1)
    columns[names.index("occurred_at")] = [(m - EPOCH) // ms for m in moments]
    columns[0] = [f"e-{i}" for i in range(len(moments))]
    return Columns(columns, len(moments))


def _month(ms: int) -> tuple[int, int]:
    moment = EPOCH + timedelta(milliseconds=ms)
    return moment.year, moment.month


def test_a_batch_within_two_years_is_left_whole() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    batch = _task_rows([start + timedelta(days=d) for d in range(0, 700, 7)])
    assert split_by_month("task_events", batch) == [batch]
    assert split_by_month("dlq_events", [[1], [2]]) == [[[1], [2]]]  # not partitioned


def test_a_batch_spanning_130_months_is_split_into_parts_of_whole_months() -> None:
    moments = [datetime(2015 + k // 12, k % 12 + 1, 15, tzinfo=UTC) for k in range(130)]
    moments += moments[:10]  # a month's rows stay together
    batch = _task_rows(moments)
    parts = split_by_month("task_events", batch)
    occurred = TABLE_COLUMNS["task_events"].index("occurred_at")
    months = [{_month(ms) for ms in part[occurred]} for part in parts]
    assert [len(m) for m in months] == [64, 64, 2]
    assert all(len(m) <= MONTHS_PER_INSERT for m in months)
    assert not set.intersection(*months)
    assert sorted(i for part in parts for i in part[0]) == sorted(batch[0])
    assert sum(part.rows for part in parts) == batch.rows  # type: ignore[attr-defined]


def test_rows_of_datetimes_and_values_that_are_no_time_are_split_too() -> None:
    names = TABLE_COLUMNS["alerts"]
    position = names.index("window_start")
    rows = []
    for k in range(120):
        row: list[Any] = [None] * len(names)
        row[position] = datetime(2000 + k // 12, k % 12 + 1, 1, tzinfo=UTC)
        rows.append(row)
    rows[5][position] = 2**80  # no time: the part it lands in will fail and be searched
    parts = split_by_month("alerts", rows)
    assert len(parts) == 2 and sum(len(p) for p in parts) == 120
