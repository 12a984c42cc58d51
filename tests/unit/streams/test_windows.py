"""What one event adds to its window, and packed minutes that round-trip exactly."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.metrics import AGGREGATE_FIELDS
from streams.windows import (
    VERDICT,
    WIDTH,
    add_audit,
    add_task,
    pack_minute,
    packed_counts,
    unpack_minute,
)
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


def test_what_one_event_adds_to_its_window() -> None:
    agg = [0] * WIDTH
    created = datetime(2026, 3, 2, tzinfo=UTC)
    add_task(agg, "submitted", 2, 12_500_000, created, 90_000_000, True, True)
    add_task(agg, "submitted", 1, 7_000_000, None, 0, True, False)
    add_task(agg, "skipped", 1, 0, created, 0, True, True)  # only counted as skipped
    add_task(agg, "expired", 3, 0, None, 0, False, None)
    add_audit(agg, VERDICT["reject"], 450_000, 30_000_000)
    add_audit(agg, VERDICT["approve"], None, None)
    values = dict(zip(AGGREGATE_FIELDS, agg, strict=True))
    assert {name: n for name, n in values.items() if n} == {
        "tasks_submitted": 2,
        "tasks_skipped": 1,
        "tasks_expired": 1,
        "rework_submitted": 1,
        "handle_time_sum_s": 19_500_000,
        "handle_time_max_s": 12_500_000,
        "turnaround_count": 1,
        "turnaround_sum_s": 90_000_000,
        "turnaround_max_s": 90_000_000,
        "gold_submitted": 2,
        "gold_correct": 1,
        "audits": 2,
        "audits_approved": 1,
        "audits_rejected": 1,
        "audit_score_sum": 450_000,
        "audit_score_count": 1,
        "audit_time_sum_s": 30_000_000,
    }
