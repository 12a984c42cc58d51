"""Meta-alerts: each condition fires once, stays quiet while it holds, resolves once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.selfmon import Limits, Observation, SelfMonitor

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_consumer_lag_fires_once_and_resolves_once() -> None:
    monitor = SelfMonitor(Limits(lag_messages=1000), "worker-1", receivers=("log",))
    assert monitor.observe(at(0), Observation(lag={"tasks/0": 999})) == []
    fired = monitor.observe(at(5), Observation(lag={"tasks/0": 1001, "tasks/1": 5}))
    assert [(e.rule, e.status, e.scope) for e in fired] == [
        ("annotel_consumer_lag_high", "firing", {"instance": "worker-1", "partition": "tasks/0"})
    ]
    assert fired[0].receivers == ("log",)
    assert monitor.observe(at(10), Observation(lag={"tasks/0": 5000})) == []
    resolved = monitor.observe(at(15), Observation(lag={"tasks/0": 0}))
    assert [(e.status, e.fingerprint) for e in resolved] == [("resolved", fired[0].fingerprint)]
    assert resolved[0].starts_at == at(5) and resolved[0].ends_at == at(15)


def test_dead_letter_share_is_judged_over_a_window_with_enough_volume() -> None:
    limits = Limits(dead_letter_share=0.05, share_window_s=60, share_min_messages=100)
    monitor = SelfMonitor(limits, "w")
    assert monitor.observe(at(0), Observation(events_in=0, dead_letters=0)) == []
    # 10 of 50: a high share but too few messages to judge.
    assert monitor.observe(at(10), Observation(events_in=50, dead_letters=10)) == []
    fired = monitor.observe(at(20), Observation(events_in=200, dead_letters=20))
    assert [(e.rule, e.status) for e in fired] == [("annotel_dead_letter_share_high", "firing")]
    assert fired[0].value == 0.1
    # Still firing while the share over the window stays high: no repeat event.
    assert monitor.observe(at(30), Observation(events_in=300, dead_letters=40)) == []
    # Clean traffic dilutes the window's share (40 of 1000 since t=0) below 5 %.
    resolved = monitor.observe(at(50), Observation(events_in=1000, dead_letters=40))
    assert [(e.rule, e.status) for e in resolved] == [
        ("annotel_dead_letter_share_high", "resolved")
    ]


def test_watermark_stalled_only_while_events_arrive() -> None:
    monitor = SelfMonitor(Limits(watermark_stall_s=60), "w")
    sample = Observation(watermarks={0: 100.0}, events_by_partition={0: 10})
    assert monitor.observe(at(0), sample) == []
    # No new events: a quiet partition is not stalled.
    assert monitor.observe(at(120), sample) == []
    busy = Observation(watermarks={0: 100.0}, events_by_partition={0: 500})
    fired = monitor.observe(at(121), busy)
    assert [(e.rule, e.scope["partition"]) for e in fired] == [("annotel_watermark_stalled", "0")]
    moved = Observation(watermarks={0: 160.0}, events_by_partition={0: 600})
    assert [e.status for e in monitor.observe(at(130), moved)] == ["resolved"]


def test_clickhouse_and_receiver_failures() -> None:
    monitor = SelfMonitor(Limits(clickhouse_failing_s=30, receiver_failures=3), "w")
    fired = monitor.observe(
        at(0), Observation(clickhouse_failing_s=31, receiver_failures={"slack": 3, "pd": 2})
    )
    assert sorted((e.rule, e.severity) for e in fired) == [
        ("annotel_clickhouse_failing", "critical"),
        ("annotel_receiver_failing", "error"),
    ]
    assert {e.scope.get("receiver") for e in fired} == {None, "slack"}
    assert all(e.labels["meta"] == "true" for e in fired)
    resolved = monitor.observe(at(5), Observation(receiver_failures={"slack": 0}))
    assert sorted(e.rule for e in resolved) == [
        "annotel_clickhouse_failing",
        "annotel_receiver_failing",
    ]
