"""One-minute aggregates: their layout, where an event adds, and packed minutes. Pure.

Sums of seconds and scores are kept as integers of micro-units, so the result
is exact and independent of the order in which events arrive (float addition
is not associative; a replay in a different order would change the last bits).
They are converted to floats only when written out.

Closed minutes are kept packed (``pack_minute``): one compressed bytes object
per minute instead of a dict of tuples and lists, about 25 bytes per window
instead of about 800, unpacked again only for the rare late correction.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime

import orjson

from schemas.metrics import AGGREGATE_FIELDS, MAX_FIELDS, SUM_FIELDS, WINDOW_SECONDS
from schemas.metrics import MICRO as MICRO

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Positions in the aggregate list.
IDX = {name: i for i, name in enumerate(AGGREGATE_FIELDS)}
MICRO_FIELDS = frozenset(IDX[name] for name in (*SUM_FIELDS, *MAX_FIELDS))
WIDTH = len(AGGREGATE_FIELDS)

# (window_start epoch seconds, project, queue, vendor, locale, source, annotator)
WindowKey = tuple[int, str, str, str, str, str, str]
Aggregate = list[int]
ErrorKey = tuple[WindowKey, str]  # (window, error category)

MINUTE_US = WINDOW_SECONDS * MICRO

# Where an event adds. The per-event arithmetic itself (which field an event
# adds to, micro-unit rounding, turnaround) is inlined in
# ``streams.partition.PartitionState.process``: it runs for every event, and a
# function call there would cost more than the whole split of the state into
# modules may (bench/hotpath.py). tests/oracle.py recomputes it independently.
SUBMITTED = IDX["tasks_submitted"]
SKIPPED = IDX["tasks_skipped"]
EXPIRED = IDX["tasks_expired"]
REWORK = IDX["rework_submitted"]
HT_SUM = IDX["handle_time_sum_s"]
HT_MAX = IDX["handle_time_max_s"]
TA_COUNT = IDX["turnaround_count"]
TA_SUM = IDX["turnaround_sum_s"]
TA_MAX = IDX["turnaround_max_s"]
GOLD = IDX["gold_submitted"]
GOLD_OK = IDX["gold_correct"]
AUDITS = IDX["audits"]
VERDICT = {
    "approve": IDX["audits_approved"],
    "fix": IDX["audits_fixed"],
    "reject": IDX["audits_rejected"],
}
SCORE_SUM = IDX["audit_score_sum"]
SCORE_COUNT = IDX["audit_score_count"]
AUDIT_TIME = IDX["audit_time_sum_s"]


# -- packed minutes ------------------------------------------------------------------
#
# Layout: an uncompressed header (windows, error rows), then zlib (level 1) of
# the JSON ``[[key of each window], [aggregate of each window], [[*key,
# category, count] of each error row]]``. orjson keeps strings and integers
# exact (the checkpoint records are the same JSON), and a minute's keys repeat
# the same few values, so a window costs about 25 bytes. The format is
# portable, so full snapshots carry packed minutes as they are.

_HEADER = struct.Struct("<II")


def pack_minute(
    keys: Sequence[WindowKey],
    aggregates: Sequence[Aggregate],
    errors: Sequence[tuple[ErrorKey, int]] = (),
) -> bytes:
    """One minute's windows (``keys[i]`` holds ``aggregates[i]``) and error counts, packed."""
    text = orjson.dumps([keys, aggregates, [[*key, category, n] for (key, category), n in errors]])
    return _HEADER.pack(len(keys), len(errors)) + zlib.compress(text, 1)


def packed_counts(blob: bytes) -> tuple[int, int]:
    """(windows, error rows) in a packed minute, without unpacking it."""
    windows, errors = _HEADER.unpack_from(blob)
    return windows, errors


def unpack_minute(
    blob: bytes,
) -> tuple[list[tuple[WindowKey, Aggregate]], list[tuple[ErrorKey, int]]]:
    """The windows and error counts of a packed minute, as packed (fresh objects)."""
    keys, aggregates, error_rows = orjson.loads(zlib.decompress(blob[_HEADER.size :]))
    windows: list[tuple[WindowKey, Aggregate]] = [
        (tuple(key), agg)  # type: ignore[misc]
        for key, agg in zip(keys, aggregates, strict=True)
    ]
    errors: list[tuple[ErrorKey, int]] = [
        ((tuple(row[:7]), row[7]), row[8])  # type: ignore[misc]
        for row in error_rows
    ]
    return windows, errors
