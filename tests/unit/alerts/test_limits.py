"""Limits per destination: exact sliding windows shared by every lane, and pauses."""

from __future__ import annotations

import asyncio

from alerts.limits import Limits
from alerts.receivers.base import Rate


class SimTime:
    """A clock and a sleep that advance it: hours of limits in milliseconds of test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await asyncio.sleep(0)


def most_in_any_window(times: list[float], width: float) -> int:
    return max(sum(1 for t in times if start <= t < start + width) for start in times)


async def test_twenty_a_minute_is_never_more_than_twenty_in_any_minute() -> None:
    sim = SimTime()
    limits = Limits(sim.clock, sim.sleep)
    rates = (Rate(20, 60.0),)
    times = []
    for _ in range(65):
        await limits.acquire("robot", rates)
        times.append(sim.now)
    assert most_in_any_window(times, 60.0) == 20
    # A token bucket of 20 refilled at 20/min would let 39 through in the first minute.
    assert times[19] == times[0] and times[20] == times[0] + 60.0


async def test_lanes_share_a_destination_and_every_rate_holds() -> None:
    sim = SimTime()
    limits = Limits(sim.clock, sim.sleep)
    feishu = (Rate(5, 1.0), Rate(100, 60.0))
    times: list[float] = []

    async def lane(count: int) -> None:
        for _ in range(count):
            await limits.acquire("bot", feishu)
            times.append(sim.now)

    await asyncio.gather(lane(70), lane(70))
    assert len(times) == 140
    assert most_in_any_window(sorted(times), 1.0) <= 5
    assert most_in_any_window(sorted(times), 60.0) <= 100
    await limits.acquire("another-bot", feishu)  # another destination is not held back
    assert sim.now == max(times)


async def test_a_pause_holds_back_the_destination_and_never_shortens() -> None:
    sim = SimTime()
    limits = Limits(sim.clock, sim.sleep)
    limits.pause("robot", 600.0)
    limits.pause("robot", 5.0)
    assert limits.paused_for("robot") == 600.0
    waited = await limits.acquire("robot", ())
    assert waited == 600.0 and sim.now == 1600.0
    assert limits.paused_for("robot") == 0.0
    assert await limits.acquire("other", ()) == 0.0
