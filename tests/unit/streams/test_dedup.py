"""Dedup marks: exact for short ids, distinct for long ones, forgotten with the horizon."""

from __future__ import annotations

from streams.dedup import EXACT_MARK_BYTES, dedup_mark
from tests.unit.streams.events import (
    TASKS,
    completed,
    feed,
    new_state,
)


def test_dedup_marks_are_exact_for_short_ids_and_distinct_for_long_ones() -> None:
    short = ["", "a", "\x00a", "a\x00", "tc-c16f00-0000005", "标注-7", "x" * EXACT_MARK_BYTES]
    long = ["x" * (EXACT_MARK_BYTES + 1), "x" * (EXACT_MARK_BYTES + 2), "y" * 120]
    marks = [dedup_mark(i) for i in short + long]
    assert len(set(marks)) == len(marks)
    for event_id in short:  # exact: the id can be read back from its mark
        raw = dedup_mark(event_id).to_bytes(EXACT_MARK_BYTES + 1, "big").lstrip(b"\x00")
        assert raw[1:].decode() == event_id
    assert all(m.bit_length() <= 8 * (EXACT_MARK_BYTES + 1) + 1 for m in marks)
    state = new_state()
    for event_id in ["a", "tc-c16f00-0000005", "标注-7", "x" * EXACT_MARK_BYTES, *long]:
        raw = completed(event_id, 0)
        assert feed(state, TASKS, raw) == "accepted"
        assert feed(state, TASKS, raw) == "duplicate"


def test_projects_without_marks_are_forgotten() -> None:
    state = new_state()  # retention 60 min
    for i in range(100):
        assert feed(state, TASKS, completed(f"e{i}", i, project=f"p{i}")) == "accepted"
    feed(state, TASKS, completed("now", 300))
    state.move_watermark()
    state.advance()
    assert len(state.seen) == 1
    assert len(state.marks.project_base) == 1  # only the project still holding a mark
    assert feed(state, TASKS, completed("e5", 250, project="p5")) == "late"  # a new mark
    assert feed(state, TASKS, completed("e5", 250, project="p5")) == "duplicate"
    assert feed(state, TASKS, completed("now", 300)) == "duplicate"
    assert ("项目甲", dedup_mark("now")) in state.seen


def test_a_too_late_event_leaves_no_dedup_mark() -> None:
    state = new_state()
    feed(state, TASKS, completed("new", 200))
    state.move_watermark()
    state.advance()
    held = len(state.seen)
    assert feed(state, TASKS, completed("old", 0)) == "dead"
    assert feed(state, TASKS, completed("old", 0)) == "dead"  # not a duplicate
    assert len(state.seen) == held
    assert state.counters["dead_too_late"] == 2 and state.counters["duplicates"] == 0
