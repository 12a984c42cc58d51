"""What the ClickHouse columns can hold: the one source of the contract's bounds.

The contract must accept nothing its storage cannot hold. A value the
ClickHouse encoder refuses (``attempt`` 65536 in a ``UInt16``, a date before
1970 in a ``DateTime``) would make an insert that can never succeed, and an
insert that never succeeds stops every project of the partition. So each
numeric and time field of ``schemas.events`` (and of the dead letter) takes
its bounds from the column types it is stored in, through the functions
below; ``tests/unit/schemas/test_storage_bounds.py`` walks the models and the DDL of
``sinks.schema`` together and fails when a field can hold a value its column
cannot.

This module names column types only as strings: ``schemas`` imports nothing
else of the project (feeds may vendor it).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from schemas.units import EPOCH

# Integer column types: (smallest, largest).
INT_RANGES: dict[str, tuple[int, int]] = {
    **{f"UInt{bits}": (0, 2**bits - 1) for bits in (8, 16, 32, 64)},
    **{f"Int{bits}": (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) for bits in (8, 16, 32, 64)},
}

# ``DateTime``: unsigned 32-bit seconds since the epoch.
DATETIME_RANGE = (EPOCH, EPOCH + timedelta(seconds=2**32 - 1))  # up to 2106-02-07T06:28:15Z
# ``DateTime64(p)``: the range ClickHouse documents (and its functions keep to);
# the Native format would carry ticks beyond it, which read back as other dates.
DATETIME64_RANGE = (
    datetime(1900, 1, 1, tzinfo=UTC),
    datetime(2299, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
)

# The longest a single task or audit can take: a day. The state keeps seconds
# as integer micro-units (``round(s * 10**6)``); a finite bound keeps that
# product finite (1e308 overflowed it) and the sums exact.
MAX_DURATION_S = 86400.0

_DATETIME64 = re.compile(r"^DateTime64\(\d+(?:, *'[^']*')?\)$")
_DATETIME = re.compile(r"^DateTime(?:\('[^']*'\))?$")


def base_type(column_type: str) -> str:
    """The type of the values: without Nullable(...) and LowCardinality(...)."""
    while True:
        match = re.match(r"^(?:Nullable|LowCardinality)\((.*)\)$", column_type)
        if match is None:
            return column_type
        column_type = match.group(1)


def int_range(*column_types: str) -> tuple[int, int]:
    """The integers every one of these column types can hold."""
    ranges = [INT_RANGES[base_type(t)] for t in column_types]
    return max(low for low, _ in ranges), min(high for _, high in ranges)


def time_range(*column_types: str) -> tuple[datetime, datetime]:
    """The instants every one of these column types can hold (aware, UTC)."""
    ranges = []
    for column_type in column_types:
        kind = base_type(column_type)
        if _DATETIME64.match(kind):
            ranges.append(DATETIME64_RANGE)
        elif _DATETIME.match(kind):
            ranges.append(DATETIME_RANGE)
        else:
            raise ValueError(f"{column_type} is not a ClickHouse date-time type")
    return max(low for low, _ in ranges), min(high for _, high in ranges)


# Where the bounded fields are stored (sinks/schema.py; the bounds test checks
# these against the DDL). occurred_at is stored as itself and as its minute
# (window_start, a DateTime), and partitions the tables by month. revision is
# bounded by the column the versioned event tables give it (a UInt32: four
# billion edits of one piece of work is no limit a platform reaches, and a
# wider number would be refused by an insert that can never succeed).
ATTEMPT_TYPE = "UInt16"
REVISION_TYPE = "UInt32"
OCCURRED_AT_TYPES = ("DateTime64(3, 'UTC')", "DateTime('UTC')")
TASK_CREATED_AT_TYPE = "DateTime64(3, 'UTC')"

ATTEMPT_MAX = int_range(ATTEMPT_TYPE)[1]
REVISION_MAX = int_range(REVISION_TYPE)[1]
OCCURRED_AT_RANGE = time_range(*OCCURRED_AT_TYPES)
TASK_CREATED_AT_RANGE = time_range(TASK_CREATED_AT_TYPE)
