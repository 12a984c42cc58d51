"""Packed minutes: a round trip gives every key, value and error count back exactly."""

from __future__ import annotations

from schemas.metrics import AGGREGATE_FIELDS
from streams.windows import pack_minute, packed_counts, unpack_minute
from tests.unit.streams.events import (
    minute_start,
)


def test_a_packed_minute_round_trips_exactly() -> None:
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
