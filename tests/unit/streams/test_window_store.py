"""Windows held by minute: packed minutes and corrections to them stay exact."""

from __future__ import annotations

from streams.partition import PartitionState
from tests.unit.streams.events import (
    SUBMITTED,
    TASKS,
    checkpointed_run,
    completed,
    feed,
    minute_start,
    oracle_lines,
)


def test_corrections_to_packed_minutes_give_what_never_packing_gives() -> None:
    lines = oracle_lines(seed=21, count=4000)  # 2 % corrections, 5 to 90 minutes late
    packed, packed_results, packed_records = checkpointed_run(lines, 97, pack_after_s=0)
    plain, plain_results, plain_records = checkpointed_run(lines, 97, pack_closed=False)
    assert packed.store.packed_minutes > 10 and plain.store.packed_minutes == 0
    assert packed_results.count("late") > 20
    assert packed_results == plain_results
    # Every checkpoint wrote the same windows with the same values, corrections included.
    assert packed_records == plain_records
    assert dict(packed.windows.items()) == dict(plain.windows.items())
    assert len(packed.windows) == len(plain.windows)
    assert dict(packed.errors.items()) == dict(plain.errors.items())
    assert len(packed.errors) == len(plain.errors)
    assert packed.seen == plain.seen
    assert packed.counters == plain.counters


def test_a_correction_keeps_its_minute_unpacked_for_a_while() -> None:
    state = PartitionState(0, lateness_us=120 * 10**6, retention_us=3600 * 10**6, pack_after_s=300)
    for i in range(30):
        feed(state, TASKS, completed(f"t{i}", i))
        state.move_watermark()
        state.advance()
        state.mark_checkpointed()
    assert state.store.is_packed(minute_start(0)) and not state.store.is_packed(minute_start(25))
    assert feed(state, TASKS, completed("late", 0.5)) == "late"
    assert not state.store.is_packed(minute_start(0))
    state.mark_checkpointed()
    assert not state.store.is_packed(minute_start(0)), "held as objects after a correction"
    for i in range(30, 40):
        feed(state, TASKS, completed(f"t{i}", i))
        state.move_watermark()
        state.advance()
        state.mark_checkpointed()
    assert state.store.is_packed(minute_start(0))
    key = next(k for k in state.windows if k[0] == minute_start(0))
    assert state.windows[key][SUBMITTED] == 2
