"""Batches of rows for the writer: pivoted columns, single rows, parts by month.

Tables partitioned by ``toYYYYMM`` refuse an insert whose rows fall into more
than ``max_partitions_per_insert_block`` partitions (100 by default; error
252, "Too many partitions for single INSERT block"), and refuse it every
time. One checkpoint can span that much: a fresh partition, or a backfill
with a long retention. Such a batch is inserted in parts of at most
``MONTHS_PER_INSERT`` months each (``split_by_month``); a batch spanning less
than two years (the usual case) is left whole without looking at months.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sinks.schema import COLUMN_TYPES, PARTITION_MONTH, TABLE_COLUMNS

# Well under the server's default of 100 (a server may be configured lower).
MONTHS_PER_INSERT = 64
# Two years of seconds: a batch spanning less covers at most 25 months.
_NO_SPLIT_SPAN_S = 2 * 365 * 86400


class Columns(list[list[Any]]):
    """A batch already pivoted into columns: one list per column, in the table's order.

    The stream builds its ClickHouse batches this way (no per-row lists, and
    the client does not pivot them again). ``rows`` is the row count.
    """

    __slots__ = ("rows",)

    def __init__(self, columns: Sequence[list[Any]], rows: int):
        super().__init__(columns)
        self.rows = rows

    def as_rows(self) -> list[list[Any]]:
        return [list(row) for row in zip(*self, strict=True)]

    def take(self, indexes: Sequence[int]) -> Columns:
        """The rows at these positions, as a batch of its own."""
        return Columns([[column[i] for i in indexes] for column in self], len(indexes))


Batch = Sequence[Sequence[Any]]


@dataclass(frozen=True)
class RejectedRow:
    """A row ClickHouse refuses for its own values: no retry can store it.

    ``values`` are in the table's column order; ``error`` is the refusal's
    text. The writer's caller turns it into a dead letter (``unprocessable``).
    """

    table: str
    values: list[Any]
    error: str


def row_count(batch: Batch) -> int:
    return batch.rows if isinstance(batch, Columns) else len(batch)


def take(batch: Batch, indexes: Sequence[int]) -> Batch:
    if isinstance(batch, Columns):
        return batch.take(indexes)
    return [batch[i] for i in indexes]


def row(batch: Batch, index: int) -> list[Any]:
    """One row's values in the table's column order."""
    if isinstance(batch, Columns):
        return [column[index] for column in batch]
    return list(batch[index])


def _seconds(value: Any, ticks_per_second: int) -> float:
    """Epoch seconds of a partition column's value: the rows' integers, or a datetime."""
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value) / ticks_per_second


def _month(value: Any, ticks_per_second: int) -> int:
    """year * 12 + month (UTC); -1 for a value that is no time at all.

    Such a row cannot be stored either: the part it lands in fails, and the
    writer's search for the rows at fault finds it.
    """
    try:
        utc = time.gmtime(_seconds(value, ticks_per_second))
    except (TypeError, ValueError, OverflowError, OSError):
        return -1
    return utc.tm_year * 12 + utc.tm_mon


def split_by_month(table: str, batch: Batch) -> list[Batch]:
    """The batch in parts of at most MONTHS_PER_INSERT partition months (usually: itself)."""
    column = PARTITION_MONTH.get(table)
    n = row_count(batch)
    if column is None or n <= 1:
        return [batch]
    position = TABLE_COLUMNS[table].index(column)
    ticks = 1000 if COLUMN_TYPES[table][column].startswith("DateTime64") else 1
    values = batch[position] if isinstance(batch, Columns) else [r[position] for r in batch]
    try:
        seconds = [_seconds(v, ticks) for v in values]
        if max(seconds) - min(seconds) < _NO_SPLIT_SPAN_S:
            return [batch]
    except (TypeError, ValueError, OverflowError):
        pass  # a value that is no time: look at each row
    by_month: dict[int, list[int]] = {}
    for index, value in enumerate(values):
        by_month.setdefault(_month(value, ticks), []).append(index)
    months = sorted(by_month)
    parts = []
    for first in range(0, len(months), MONTHS_PER_INSERT):
        indexes = [i for m in months[first : first + MONTHS_PER_INSERT] for i in by_month[m]]
        parts.append(take(batch, indexes))
    return parts
