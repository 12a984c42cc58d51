"""Per-client rate limits: a token bucket per client or source, answered with ``Retry-After``.

A gateway is stateless, so the limit is per gateway process: behind a load
balancer with N gateways a client may reach N times the rate. The clock is
passed in, so the arithmetic is tested without sleeping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``take`` one request's token; the answer is 0 (go) or the seconds until one is back."""

    def __init__(self, burst: int) -> None:
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def take(self, principal: str, rate: float, now: float) -> float:
        bucket = self._buckets.get(principal)
        if bucket is None:
            bucket = self._buckets[principal] = _Bucket(float(self.burst), now)
        elapsed = max(0.0, now - bucket.updated)
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate


class SnapshotLimiter:
    """One queue snapshot per queue and minute from this gateway process.

    Label Studio repeats its project counters in every webhook; only the first
    of each queue's minute is worth a record. The connector's event id names
    the queue and the minute, so the ids seen are the memory, cleared when the
    minute changes (at most one minute's queues are held). Across gateways the
    same id reaches the topic more than once and the worker's dedup keeps one.
    """

    def __init__(self) -> None:
        self._minute: object = None
        self._seen: set[str] = set()

    def first(self, event_id: str, minute: object) -> bool:
        """Whether ``event_id`` (of the snapshot for ``minute``) is new here."""
        if minute != self._minute:
            self._minute, self._seen = minute, set()
        if event_id in self._seen:
            return False
        self._seen.add(event_id)
        return True


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds)))
