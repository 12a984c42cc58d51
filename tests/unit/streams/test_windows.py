"""What one event adds to its window, and packed minutes that round-trip exactly."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.metrics import AGGREGATE_FIELDS
from streams.windows import (
    HELD,
    HT_FLOOR,
    TA_FLOOR,
    VERDICT,
    WIDTH,
    add_audit,
    add_task,
    held,
    pack_minute,
    packed_counts,
    remove_audit,
    remove_task,
    set_maxima,
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
    aggregates = [[(i * 7919 + j) % 5 for j in range(HELD)] for i in range(40)]
    aggregates[0] = [2**64 - 1] * HELD  # the largest a checkpoint can carry
    errors = [((keys[i], hostile[i % 5] + "漏标"), i + 1) for i in range(0, 40, 3)]
    blob = pack_minute(keys, aggregates, errors)
    windows, unpacked_errors = unpack_minute(blob)
    assert windows == list(zip(keys, aggregates, strict=True))
    assert unpacked_errors == errors
    assert packed_counts(blob) == (40, len(errors))
    assert unpack_minute(pack_minute([], [], [])) == ([], [])
    assert len(blob) < 40 * 100


def test_what_one_event_adds_to_its_window() -> None:
    agg = [0] * HELD
    created = datetime(2026, 3, 2, tzinfo=UTC)
    add_task(agg, "submitted", 2, 12_500_000, created, 90_000_000, True, True, True)
    add_task(agg, "submitted", 1, 7_000_000, None, 0, True, False, True)
    add_task(agg, "skipped", 1, 0, created, 0, True, True, True)  # only counted as skipped
    add_task(agg, "expired", 3, 0, None, 0, False, None, True)
    add_audit(agg, VERDICT["reject"], 450_000, 30_000_000)
    add_audit(agg, VERDICT["approve"], None, None)
    assert agg[HT_FLOOR] == 12_500_000 and agg[TA_FLOOR] == 90_000_000  # all permanent
    values = dict(zip(AGGREGATE_FIELDS, agg[:WIDTH], strict=True))
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


def test_a_packed_minute_of_the_format_before_versions_gets_its_floors() -> None:
    """Every contribution before versions was permanent: its maxima are the floors."""
    key = (minute_start(3), "p", "q", "v", "l", "human", "a")
    agg = [i + 1 for i in range(WIDTH)]
    windows, _ = unpack_minute(pack_minute([key], [agg], []))
    (only,) = windows
    assert only[1][:WIDTH] == agg and len(only[1]) == HELD
    assert only[1][HT_FLOOR:] == [
        agg[AGGREGATE_FIELDS.index("handle_time_max_s")],
        agg[AGGREGATE_FIELDS.index("turnaround_max_s")],
    ]
    assert held(list(only[1])) == only[1]


def test_removing_a_version_is_the_exact_inverse_of_adding_it() -> None:
    """Sums and counts come back bit for bit; a maximum only through set_maxima."""
    created = datetime(2026, 3, 2, tzinfo=UTC)
    base = [0] * HELD
    add_task(base, "submitted", 1, 5_000_000, created, 60_000_000, False, None, True)
    add_audit(base, VERDICT["fix"], 700_000, 10_000_000)
    agg = list(base)
    add_task(agg, "submitted", 2, 9_000_000, created, 80_000_000, True, True, False)
    add_task(agg, "skipped", 1, 0, None, 0, False, None, False)
    add_audit(agg, VERDICT["reject"], 100_000, None)
    assert agg[HT_FLOOR:] == base[HT_FLOOR:]  # versions never raise the floors
    # The submitted version held both maxima: taking it back says so.
    assert remove_task(agg, "submitted", True, 9_000_000, True, 80_000_000, True, True)
    assert not remove_task(agg, "skipped", False, 0, False, 0, False, False)
    remove_audit(agg, VERDICT["reject"], 100_000, None)
    set_maxima(agg, 0, 0)  # nothing else counting: the floors
    assert agg == base
    # A version below the floor's maximum never asks for a recomputation.
    add_task(agg, "submitted", 1, 1_000_000, None, 0, False, None, False)
    assert not remove_task(agg, "submitted", False, 1_000_000, False, 0, False, False)
    assert agg == base
