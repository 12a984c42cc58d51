"""One-minute aggregates: pure functions, no I/O.

Sums of seconds and scores are kept as integers of micro-units, so the result
is exact and independent of the order in which events arrive (float addition
is not associative; a replay in a different order would change the last bits).
They are converted to floats only when written out.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.events import TaskAudited, TaskCompleted
from schemas.metrics import AGGREGATE_FIELDS, MAX_FIELDS, SUM_FIELDS, WINDOW_SECONDS
from schemas.metrics import MICRO as MICRO

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

# Positions in the aggregate list.
IDX = {name: i for i, name in enumerate(AGGREGATE_FIELDS)}
_SUBMITTED = IDX["tasks_submitted"]
_SKIPPED = IDX["tasks_skipped"]
_EXPIRED = IDX["tasks_expired"]
_REWORK = IDX["rework_submitted"]
_HT_SUM = IDX["handle_time_sum_s"]
_HT_MAX = IDX["handle_time_max_s"]
_TA_COUNT = IDX["turnaround_count"]
_TA_SUM = IDX["turnaround_sum_s"]
_TA_MAX = IDX["turnaround_max_s"]
_GOLD = IDX["gold_submitted"]
_GOLD_OK = IDX["gold_correct"]
_AUDITS = IDX["audits"]
_VERDICT = {
    "approve": IDX["audits_approved"],
    "fix": IDX["audits_fixed"],
    "reject": IDX["audits_rejected"],
}
_SCORE_SUM = IDX["audit_score_sum"]
_SCORE_COUNT = IDX["audit_score_count"]
_AUDIT_TIME = IDX["audit_time_sum_s"]
MICRO_FIELDS = frozenset(IDX[name] for name in (*SUM_FIELDS, *MAX_FIELDS))
_MAXES = tuple(IDX[name] for name in MAX_FIELDS)
WIDTH = len(AGGREGATE_FIELDS)

# (window_start epoch seconds, project, queue, vendor, locale, source, annotator)
WindowKey = tuple[int, str, str, str, str, str, str]
Aggregate = list[int]


def epoch_us(moment: datetime) -> int:
    """Exact microseconds since the epoch (no float rounding)."""
    return (moment - EPOCH) // _US


def micro(value: float) -> int:
    return round(value * MICRO)


def window_start(occurred_us: int) -> int:
    return occurred_us // (WINDOW_SECONDS * MICRO) * WINDOW_SECONDS


def key_of(event: TaskCompleted | TaskAudited, occurred_us: int) -> WindowKey:
    return (
        window_start(occurred_us),
        event.project_id,
        event.queue_id,
        event.vendor_id,
        event.locale,
        event.source,
        event.annotator_id,
    )


def new_aggregate() -> Aggregate:
    return [0] * WIDTH


def apply_completed(agg: Aggregate, event: TaskCompleted, occurred_us: int) -> None:
    status = event.status
    if status == "submitted":
        agg[_SUBMITTED] += 1
        if event.attempt > 1:
            agg[_REWORK] += 1
        handle = micro(event.handle_time_s or 0.0)
        agg[_HT_SUM] += handle
        if handle > agg[_HT_MAX]:
            agg[_HT_MAX] = handle
        if event.task_created_at is not None:
            turnaround = occurred_us - epoch_us(event.task_created_at)
            agg[_TA_COUNT] += 1
            agg[_TA_SUM] += turnaround
            if turnaround > agg[_TA_MAX]:
                agg[_TA_MAX] = turnaround
        if event.is_gold:
            agg[_GOLD] += 1
            if event.gold_correct:
                agg[_GOLD_OK] += 1
    elif status == "skipped":
        agg[_SKIPPED] += 1
    else:
        agg[_EXPIRED] += 1


def apply_audited(agg: Aggregate, event: TaskAudited) -> None:
    agg[_AUDITS] += 1
    agg[_VERDICT[event.verdict]] += 1
    if event.score is not None:
        agg[_SCORE_SUM] += micro(event.score)
        agg[_SCORE_COUNT] += 1
    if event.audit_time_s is not None:
        agg[_AUDIT_TIME] += micro(event.audit_time_s)


def merge(into: Aggregate, other: Aggregate) -> None:
    for i in range(WIDTH):
        if i in _MAXES:
            if other[i] > into[i]:
                into[i] = other[i]
        else:
            into[i] += other[i]


def public_values(agg: Aggregate) -> dict[str, float | int]:
    """Aggregate in public units (seconds and scores as floats)."""
    return {
        name: (agg[i] / MICRO if i in MICRO_FIELDS else agg[i])
        for i, name in enumerate(AGGREGATE_FIELDS)
    }
