"""The demo's feed holds simulated lines until the wall clock reaches their time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import orjson

from annotel.demo.feed import not_ahead_of_clock


class FakeClock:
    """A wall clock that moves only when the feed waits (the waits are recorded)."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now


class Stop(threading.Event):
    def __init__(self, clock: FakeClock, stop_after: int | None = None) -> None:
        super().__init__()
        self.clock = clock
        self.stop_after = stop_after

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.clock.waits.append(timeout)
        self.clock.now += timeout
        return self.stop_after is not None and len(self.clock.waits) >= self.stop_after


def line(at: str) -> bytes:
    return orjson.dumps({"event_type": "task_completed", "occurred_at": at})


T0 = 1_796_000_000.0  # an instant in 2026, in epoch seconds


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def test_lines_in_the_past_pass_at_once_and_future_ones_wait_for_their_time() -> None:
    clock = FakeClock(T0)
    lines = [line(iso(T0 - 3600)), line(iso(T0)), line(iso(T0 + 2.5)), b"not json"]
    out = list(not_ahead_of_clock(lines, Stop(clock), clock))
    assert out == lines
    assert sum(clock.waits) == 2.5 and max(clock.waits) <= 1.0
    assert clock.now == T0 + 2.5  # never yielded before its time


def test_a_stop_while_waiting_ends_the_feed() -> None:
    clock = FakeClock(T0)
    lines = [line(iso(T0)), line(iso(T0 + 3600)), line(iso(T0 + 3601))]
    out = list(not_ahead_of_clock(lines, Stop(clock, stop_after=2), clock))
    assert out == lines[:1]
