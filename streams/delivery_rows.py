"""The forecasts of a checkpoint as a ``delivery_1m`` batch, in the table's column order.

Instants go out as ClickHouse wants them from integers (``streams.rows`` does
the same): epoch seconds for ``DateTime``, epoch milliseconds for
``DateTime64(3)``. An ETA past the last instant the contract's times may take
(2106) is stored as NULL, like a stalled queue's, with its slack kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from schemas.storage import OCCURRED_AT_RANGE
from schemas.units import epoch_us
from sinks.batches import Columns
from sinks.delivery_schema import DELIVERY_COLUMNS, DELIVERY_FIELDS
from streams.delivery_partition import DeliveryPartitionState

_DUE = DELIVERY_FIELDS.index("due_at")
_ETA = DELIVERY_FIELDS.index("eta")
_SNAPSHOT_AT = DELIVERY_FIELDS.index("snapshot_at")
_HANDLE = DELIVERY_FIELDS.index("handle_time_24h_s")
_LAST_US = epoch_us(OCCURRED_AT_RANGE[1])


def _ms(micros: int | None) -> int | None:
    return None if micros is None or micros > _LAST_US else micros // 1000


def delivery_batch(states: Sequence[DeliveryPartitionState], stamp_ms: int) -> Columns:
    """Rows of every state's forecasts not written yet; ``state.version`` as their version.

    Called after ``streams.rows.rows_for_checkpoint`` gave each state its
    checkpoint's version, so a replay's rows supersede a crashed attempt's.
    """
    rows: list[list[Any]] = []
    for state in states:
        for row in state.delivery.rows:
            out = list(row)
            out[_DUE] = _ms(row[_DUE])
            out[_ETA] = _ms(row[_ETA])
            out[_SNAPSHOT_AT] = row[_SNAPSHOT_AT] // 1000
            out[_HANDLE] = row[_HANDLE] / 1_000_000
            out.append(state.version)
            out.append(stamp_ms)
            rows.append(out)
    if not rows:
        return Columns([[] for _ in DELIVERY_COLUMNS], 0)
    return Columns([list(column) for column in zip(*rows, strict=True)], len(rows))
