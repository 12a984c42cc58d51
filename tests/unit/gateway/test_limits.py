"""The per-client token bucket: a burst, then the rate, and the wait it answers with."""

from __future__ import annotations

from gateway.limits import RateLimiter, SnapshotLimiter, retry_after


def test_a_burst_then_the_rate() -> None:
    limiter = RateLimiter(burst=3)
    assert [limiter.take("a", 2.0, 100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take("a", 2.0, 100.0)
    assert wait == 0.5  # one token every half second at 2/s
    assert limiter.take("b", 2.0, 100.0) == 0.0  # another client has its own bucket
    assert limiter.take("a", 2.0, 100.5) == 0.0
    assert limiter.take("a", 2.0, 100.5) > 0
    assert limiter.take("a", 2.0, 200.0) == 0.0  # refilled, up to the burst only
    assert [limiter.take("a", 2.0, 200.0) for _ in range(3)][-1] > 0


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after(s) for s in (0.01, 1.0, 1.2, 29.5)] == ["1", "1", "2", "30"]


def test_one_snapshot_per_queue_and_minute() -> None:
    limiter = SnapshotLimiter()
    assert limiter.first("ls:queue:p:q1:60", 60) and limiter.first("ls:queue:p:q2:60", 60)
    assert not limiter.first("ls:queue:p:q1:60", 60)
    assert limiter.first("ls:queue:p:q1:120", 120)  # the next minute: a new snapshot
    assert not limiter.first("ls:queue:p:q1:120", 120)
    assert limiter._seen == {"ls:queue:p:q1:120"}
