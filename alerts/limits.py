"""Limits per destination: every receiver that posts to one webhook URL shares its quota.

The platforms count requests per robot, not per our receiver: two receivers
in a rules file (say a Chinese and an English rendering) posting to the same
DingTalk robot share its 20 messages a minute, and when DingTalk throttles
that robot for 10 minutes (errcode 130101) both must hold back. So the
dispatcher keeps one ``DestinationLimit`` per destination (by
``HttpPost.key`` / ``SmtpSend.key``) and every lane asks it before each
attempt, retries included.

Each ``Rate`` is held as a sliding window, the times of the last ``count``
requests: a request goes when the oldest of them is ``per_s`` old. That is
exact where a token bucket is not: a bucket of 20 tokens refilled at 20 a
minute lets 20 through at once and then one every 3 s, 39 within one minute,
which a platform that counts 20 per minute throttles (for 10 minutes, on
DingTalk). Memory is ``count`` floats per rate.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

from alerts.receivers.base import Rate

Sleep = Callable[[float], Awaitable[None]]


class _Window:
    """At most ``count`` requests in any ``per_s`` seconds."""

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self._sent: deque[float] = deque(maxlen=rate.count)

    def wait(self, now: float) -> float:
        if len(self._sent) < self.rate.count:
            return 0.0
        return max(0.0, self._sent[0] + self.rate.per_s - now)

    def take(self, now: float) -> None:
        self._sent.append(now)


class DestinationLimit:
    """The windows of one destination and its pause (a platform-imposed back-off)."""

    def __init__(self) -> None:
        self._windows: dict[Rate, _Window] = {}
        self.paused_until = 0.0

    def add_rates(self, rates: Iterable[Rate]) -> None:
        """Receivers of different kinds may declare different rates: all of them hold."""
        for rate in rates:
            if rate not in self._windows:
                self._windows[rate] = _Window(rate)

    def wait(self, now: float) -> float:
        waits = [window.wait(now) for window in self._windows.values()]
        return max([self.paused_until - now, 0.0, *waits])

    def take(self, now: float) -> None:
        for window in self._windows.values():
            window.take(now)


class Limits:
    """Every destination's limit, shared by the lanes of one dispatcher."""

    def __init__(self, clock: Callable[[], float], sleep: Sleep = asyncio.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._destinations: dict[str, DestinationLimit] = {}

    def _get(self, key: str) -> DestinationLimit:
        limit = self._destinations.get(key)
        if limit is None:
            limit = self._destinations[key] = DestinationLimit()
        return limit

    async def acquire(self, key: str, rates: Iterable[Rate]) -> float:
        """Wait until ``key`` may take one more request, and take it; returns the time waited.

        No await between the last check and the take: lanes run on one event
        loop, so two lanes cannot both take the last place of a window.
        """
        limit = self._get(key)
        limit.add_rates(rates)
        waited = 0.0
        while True:
            now = self._clock()
            wait = limit.wait(now)
            if wait <= 0:
                limit.take(now)
                return waited
            waited += wait
            await self._sleep(wait)

    def pause(self, key: str, seconds: float) -> None:
        """Hold every request to ``key`` back for ``seconds`` (never shortens a pause)."""
        limit = self._get(key)
        limit.paused_until = max(limit.paused_until, self._clock() + seconds)

    def paused_for(self, key: str) -> float:
        """Seconds left of the destination's pause (0 if none)."""
        limit = self._destinations.get(key)
        return 0.0 if limit is None else max(0.0, limit.paused_until - self._clock())
