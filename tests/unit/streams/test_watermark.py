"""The watermark policy: per input topic, never back, with the clock only when live and idle."""

from __future__ import annotations

from datetime import timedelta

from streams import watermark
from tests.unit.streams.events import (
    AUDITS,
    T0,
    TASKS,
    audited,
    completed,
    feed,
    minute_start,
    new_state,
)


def test_a_lagging_topic_holds_the_watermark() -> None:
    state = new_state()
    for i in range(10):
        feed(state, TASKS, completed(f"t{i}", i))
    feed(state, AUDITS, audited("a0", 1))
    # Audits still have a backlog: the watermark stays at their newest time - lateness.
    state.move_watermark(behind=[AUDITS])
    assert state.watermark_us == int((T0 + timedelta(minutes=1 - 2)).timestamp()) * 10**6
    closed = state.advance()
    assert closed == []
    # An audit for minute 3 is not a correction: its window is still open.
    assert feed(state, AUDITS, audited("a1", 3)) == "accepted"
    # Both caught up: the newest time of all topics counts.
    state.move_watermark(behind=[])
    closed = state.advance()
    assert [c.window_start for c in closed] == [minute_start(m) for m in range(7)]
    assert feed(state, AUDITS, audited("a2", 3)) == "late"


def test_a_lagging_topic_with_nothing_read_holds_everything() -> None:
    state = new_state()
    feed(state, TASKS, completed("t", 30))
    state.move_watermark(behind=[AUDITS])
    assert state.watermark_us is None
    assert state.advance() == []


def test_the_watermark_never_moves_back() -> None:
    state = new_state()
    feed(state, TASKS, completed("t", 30))
    state.move_watermark()
    high = state.watermark_us
    feed(state, AUDITS, audited("a", 5))
    state.move_watermark(behind=[AUDITS])
    assert state.watermark_us == high


# -- the rules themselves, on plain values ------------------------------------------------

MINUTE_US = 60 * 10**6


def test_an_unknown_high_water_mark_is_behind_in_a_replay_and_caught_up_live() -> None:
    marks = {TASKS: None, AUDITS: 10}
    offsets = {TASKS: 0, AUDITS: 10}
    assert watermark.behind([TASKS, AUDITS], offsets, marks.get, live=False) == [TASKS]
    assert watermark.behind([TASKS, AUDITS], offsets, marks.get, live=True) == []
    assert watermark.behind([TASKS, AUDITS], {AUDITS: 9}, {AUDITS: 10}.get, live=True) == [AUDITS]
    assert watermark.behind([TASKS], offsets, None, live=False) == []  # no consumer: none


def test_the_base_moves_to_the_slowest_behind_topic_or_the_newest_of_all() -> None:
    seen = {TASKS: 50 * MINUTE_US, AUDITS: 20 * MINUTE_US}
    assert watermark.moved_base(None, seen, [AUDITS]) == 20 * MINUTE_US
    assert watermark.moved_base(None, seen) == 50 * MINUTE_US
    assert watermark.moved_base(30 * MINUTE_US, seen, [AUDITS]) is None  # never back
    assert watermark.moved_base(None, {TASKS: 1}, [AUDITS]) is None  # behind, nothing read
    assert watermark.moved_base(None, {}) is None


def test_windows_close_whole_minutes_below_the_watermark_and_all_when_drained() -> None:
    assert watermark.close_target(0, None) == 0
    assert watermark.close_target(0, 5 * MINUTE_US + 1) == 5 * 60
    assert watermark.close_target(600, 5 * MINUTE_US) == 600  # never back
    assert watermark.close_target(0, 5 * MINUTE_US, newest_open=9 * 60) == 10 * 60


def test_the_clock_leads_only_live_data_of_a_quiet_partition() -> None:
    now = 1_000 * MINUTE_US
    lateness = 2 * MINUTE_US
    # Quiet for the idle timeout, newest event 1 min old: the clock leads.
    assert watermark.follows_clock(now - MINUTE_US, now, 30.0, 30.0, lateness)
    assert not watermark.follows_clock(now - MINUTE_US, now, 29.9, 30.0, lateness)  # not quiet
    # Replayed history (older than lateness + idle timeout) never follows the clock.
    assert not watermark.follows_clock(now - 3 * MINUTE_US, now, 60.0, 30.0, lateness)
    assert not watermark.follows_clock(now, now, 60.0, 30.0, lateness)  # not behind the clock
    assert not watermark.follows_clock(None, now, 60.0, 30.0, lateness)


def test_a_caught_up_partition_with_nothing_open_stops_holding_the_global_watermark() -> None:
    newest = {TASKS: 10 * MINUTE_US + 5}
    assert watermark.idle(
        [], newest, closed_before=11 * 60, quiet_s=0, live=False, idle_timeout_s=30
    )
    assert watermark.idle([], {}, closed_before=0, quiet_s=0, live=False, idle_timeout_s=30)
    assert not watermark.idle([AUDITS], {}, 0, quiet_s=99, live=True, idle_timeout_s=30)
    # Open windows: only live and quiet for the idle timeout.
    assert not watermark.idle([], newest, 10 * 60, quiet_s=99, live=False, idle_timeout_s=30)
    assert not watermark.idle([], newest, 10 * 60, quiet_s=29, live=True, idle_timeout_s=30)
    assert watermark.idle([], newest, 10 * 60, quiet_s=30, live=True, idle_timeout_s=30)
