"""One-minute aggregates: their layout, what one event adds, and packed minutes. Pure.

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
from datetime import datetime

import orjson

from schemas.metrics import AGGREGATE_FIELDS, MAX_FIELDS, SUM_FIELDS, WINDOW_SECONDS
from schemas.metrics import MICRO as MICRO

# Positions in the aggregate list.
IDX = {name: i for i, name in enumerate(AGGREGATE_FIELDS)}
MICRO_FIELDS = frozenset(IDX[name] for name in (*SUM_FIELDS, *MAX_FIELDS))
WIDTH = len(AGGREGATE_FIELDS)
# A window held by the state carries two more ints after the WIDTH fields: the
# maxima of handle time and turnaround over the contributions that can never be
# undone (completions without a submission_id). A maximum cannot be decremented:
# when the version that set it is superseded or retracted, the window's maximum
# is recomputed as the greater of this floor and what the versions still
# counting there hold (``streams.entities``). Only the WIDTH fields leave the
# state (rows, closed windows).
HT_FLOOR = WIDTH
TA_FLOOR = WIDTH + 1
HELD = WIDTH + 2

# (window_start epoch seconds, project, queue, vendor, locale, source, annotator)
WindowKey = tuple[int, str, str, str, str, str, str]
Aggregate = list[int]
ErrorKey = tuple[WindowKey, str]  # (window, error category)

MINUTE_US = WINDOW_SECONDS * MICRO

# Where an event adds (``add_task``, ``add_audit``). tests/oracle.py recomputes
# the same arithmetic independently.
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


# -- what one event adds -------------------------------------------------------------
#
# Called by the per-event path (``streams.partition.PartitionState.process``)
# with values it computed first (micro-units, turnaround), so that nothing here
# can fail: the state is never left half-updated. One call per event, the
# arithmetic written out inside: that call costs about 1.5 % of the per-event
# path (instructions counted under cachegrind), a call per field would cost
# several times that.


def add_task(
    agg: Aggregate,
    status: str,
    attempt: int,
    handle: int,
    created: datetime | None,
    turnaround: int,
    is_gold: bool,
    gold_correct: bool | None,
    permanent: bool,
) -> None:
    """A task outcome: handle time and turnaround in µs, counted only when submitted.

    ``permanent``: a completion without a submission_id, which nothing can
    supersede; its maxima also raise the window's floors (HT_FLOOR, TA_FLOOR).
    """
    if status == "submitted":
        agg[SUBMITTED] += 1
        if attempt > 1:
            agg[REWORK] += 1
        agg[HT_SUM] += handle
        if handle > agg[HT_MAX]:
            agg[HT_MAX] = handle
        if permanent and handle > agg[HT_FLOOR]:
            agg[HT_FLOOR] = handle
        if created is not None:
            agg[TA_COUNT] += 1
            agg[TA_SUM] += turnaround
            if turnaround > agg[TA_MAX]:
                agg[TA_MAX] = turnaround
            if permanent and turnaround > agg[TA_FLOOR]:
                agg[TA_FLOOR] = turnaround
        if is_gold:
            agg[GOLD] += 1
            if gold_correct:
                agg[GOLD_OK] += 1
    elif status == "skipped":
        agg[SKIPPED] += 1
    else:
        agg[EXPIRED] += 1


def add_audit(
    agg: Aggregate, verdict_index: int, score_micro: int | None, audit_micro: int | None
) -> None:
    """An audit: its verdict's field (``VERDICT``), score and audit time in micro-units."""
    agg[AUDITS] += 1
    agg[verdict_index] += 1
    if score_micro is not None:
        agg[SCORE_SUM] += score_micro
        agg[SCORE_COUNT] += 1
    if audit_micro is not None:
        agg[AUDIT_TIME] += audit_micro


# -- what a superseded or retracted version takes back ---------------------------------
#
# The exact inverse of ``add_task`` / ``add_audit`` for a version of an entity
# (never permanent: the floors are untouched), from the values its entity
# record kept (``streams.entities``). Integer sums make the inverse exact. A
# maximum cannot be taken back: ``remove_task`` says whether the one it held
# may have been the window's, and the caller recomputes it.


def remove_task(
    agg: Aggregate,
    status: str,
    rework: bool,
    handle: int,
    has_turnaround: bool,
    turnaround: int,
    is_gold: bool,
    gold_correct: bool,
) -> bool:
    """Take back a task outcome; True when a maximum may have been this one's."""
    if status == "submitted":
        agg[SUBMITTED] -= 1
        if rework:
            agg[REWORK] -= 1
        agg[HT_SUM] -= handle
        recompute = handle == agg[HT_MAX] and handle > agg[HT_FLOOR]
        if has_turnaround:
            agg[TA_COUNT] -= 1
            agg[TA_SUM] -= turnaround
            recompute = recompute or (turnaround == agg[TA_MAX] and turnaround > agg[TA_FLOOR])
        if is_gold:
            agg[GOLD] -= 1
            if gold_correct:
                agg[GOLD_OK] -= 1
        return recompute
    if status == "skipped":
        agg[SKIPPED] -= 1
    else:
        agg[EXPIRED] -= 1
    return False


def remove_audit(
    agg: Aggregate, verdict_index: int, score_micro: int | None, audit_micro: int | None
) -> None:
    """Take back an audit (``add_audit``'s inverse)."""
    agg[AUDITS] -= 1
    agg[verdict_index] -= 1
    if score_micro is not None:
        agg[SCORE_SUM] -= score_micro
        agg[SCORE_COUNT] -= 1
    if audit_micro is not None:
        agg[AUDIT_TIME] -= audit_micro


def set_maxima(agg: Aggregate, handle: int, turnaround: int) -> None:
    """A window's maxima after an undo: its floors, or what still counts there if greater."""
    agg[HT_MAX] = max(agg[HT_FLOOR], handle)
    agg[TA_MAX] = max(agg[TA_FLOOR], turnaround)


def held(aggregate: list[int]) -> Aggregate:
    """A window as the state holds it, from the WIDTH fields a record of format 2 carried.

    Every contribution before versions was permanent: its maxima are the floors.
    """
    if len(aggregate) == WIDTH:
        return [*aggregate, aggregate[HT_MAX], aggregate[TA_MAX]]
    return aggregate


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
    """The windows and error counts of a packed minute, as packed (fresh objects).

    A minute packed before versions holds WIDTH fields per window: it comes
    back as the state holds windows now (``held``).
    """
    keys, aggregates, error_rows = orjson.loads(zlib.decompress(blob[_HEADER.size :]))
    windows: list[tuple[WindowKey, Aggregate]] = [
        (tuple(key), held(agg))  # type: ignore[misc]
        for key, agg in zip(keys, aggregates, strict=True)
    ]
    errors: list[tuple[ErrorKey, int]] = [
        ((tuple(row[:7]), row[7]), row[8])  # type: ignore[misc]
        for row in error_rows
    ]
    return windows, errors
