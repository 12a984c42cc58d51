"""A rule window's value and whether it breaches: hysteresis, rates, absence, anomaly.

Times are offsets from T0 = 2024-01-01T00:00:00Z (``tests.alert_windows``);
every expected value is computed by hand from the aggregates fed in.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from alerts.evaluator import Evaluator
from alerts.model import AlertEvent
from tests.alert_windows import T0, agg, anomaly, quality, ruleset, stalled
from tests.unit.alerts.evaluator.steps import at, audits, brief, handled, put, step


def test_hysteresis_keeps_firing_between_threshold_and_resolve_threshold() -> None:
    ev = Evaluator(ruleset(quality(resolve_threshold=0.9)))
    put(ev, 0, audits(16, 20))  # 0.8 fires
    assert brief(step(ev, 300)) == [("vendor_quality_low", "firing", 0, False, None)]
    put(ev, 300, audits(87, 100))  # 0.87: above threshold, below resolve_threshold
    assert step(ev, 600) == []
    put(ev, 600, audits(89, 100))
    assert step(ev, 900) == []
    assert [e.value for e in ev.active()] == [0.8]
    put(ev, 900, audits(90, 100))  # 0.9 >= resolve_threshold
    [resolved] = step(ev, 1200)
    assert (resolved.status, resolved.value, resolved.ends_at) == ("resolved", 0.9, at(900))


def test_without_resolve_threshold_the_threshold_itself_resolves() -> None:
    ev = Evaluator(ruleset(quality()))
    put(ev, 0, audits(8, 10))
    put(ev, 300, audits(85, 100))  # 0.85 is not < 0.85
    assert [e.status for e in step(ev, 600)] == ["firing", "resolved"]


def test_hysteresis_for_an_upper_bound() -> None:
    rule = quality(
        name="aht_high",
        metric="aht_s",
        scope=["queue_id"],
        op=">",
        threshold=300,
        resolve_threshold=270,
        min_samples=1,
    )
    ev = Evaluator(ruleset(rule))
    for window, aht in enumerate([310.0, 280.0, 270.0]):
        put(ev, window * 300, handled(4, aht))
    events = step(ev, 900)
    assert [(e.status, e.value, int(e.window_start.timestamp()) - T0) for e in events] == [
        ("firing", 310.0, 0),
        ("resolved", 270.0, 600),
    ]


def test_throughput_per_hour_uses_the_rule_window_length() -> None:
    def value(window: str) -> float | None:
        rule = quality(
            name="slow", metric="throughput_per_hour", window=window, threshold=1000, min_samples=0
        )
        ev = Evaluator(ruleset(rule))
        for minute in range(3):
            put(ev, minute * 60, agg(tasks_submitted=10))
        [event] = step(ev, 3600)
        return event.value

    assert value("15m") == 120.0  # 30 tasks in a quarter hour
    assert value("1h") == 30.0


def test_absence_counts_as_data_whatever_min_samples() -> None:
    ev = Evaluator(ruleset(stalled(min_samples=5, **{"for": 1})))
    put(ev, 0, agg(tasks_submitted=10))
    put(ev, 60, agg(tasks_skipped=1), queue="q2")  # 1 < 5: no data, but events
    put(ev, 360, agg(tasks_skipped=1), queue="q3")  # present, 1 < 5: no data, no fire
    events = step(ev, 600)
    assert [(e.scope["queue_id"], e.value, e.window_start) for e in events] == [
        ("q1", 0.0, at(300)),
        ("q2", 0.0, at(300)),
    ]


def run_aht(rule: dict[str, Any], series: list[tuple[int, float]]) -> list[AlertEvent]:
    ev = Evaluator(ruleset(rule))
    for window, (tasks, aht) in enumerate(series):
        put(ev, window * 300, handled(tasks, aht))
    return step(ev, 300 * len(series))


def test_anomaly_fires_above_mean_plus_z_std_and_resolves() -> None:
    events = run_aht(anomaly(), [(10, 100), (10, 110), (10, 90), (10, 100), (10, 130), (10, 120)])
    fired, resolved = events
    std = math.sqrt(200 / 3)  # sample std of 100, 110, 90, 100
    assert (fired.status, fired.value, fired.window_start) == ("firing", 130.0, at(1200))
    assert fired.threshold == pytest.approx(100 + 3 * std, rel=1e-12)
    assert fired.extra["mean"] == 100.0
    assert fired.extra["std"] == pytest.approx(std, rel=1e-12)
    # Baseline now 110, 90, 100, 130: mean 107.5, std sqrt(875 / 3) ~ 17.08; 120 is normal.
    assert (resolved.status, resolved.window_start) == ("resolved", at(1500))
    assert resolved.threshold == pytest.approx(107.5 + 3 * math.sqrt(875 / 3), rel=1e-12)


def test_anomaly_needs_a_full_baseline() -> None:
    assert run_aht(anomaly(), [(10, 100), (10, 100), (10, 100), (10, 1000)]) == []


def test_anomaly_baseline_skips_no_data_windows() -> None:
    events = run_aht(anomaly(), [(10, 100), (10, 110), (5, 500), (10, 90), (10, 100), (10, 130)])
    assert [(e.window_start, e.extra["mean"]) for e in events] == [(at(1500), 100.0)]


@pytest.mark.parametrize(
    ("direction", "last", "fires"),
    [("above", 50, False), ("below", 50, True), ("both", 50, True), ("below", 130, False)],
)
def test_anomaly_direction(direction: str, last: float, fires: bool) -> None:
    series = [(10, 100), (10, 110), (10, 90), (10, 100), (10, last)]
    events = run_aht(anomaly(direction=direction), series)
    assert [e.status for e in events] == (["firing"] if fires else [])
    if fires:
        assert events[0].threshold == pytest.approx(100 - 3 * math.sqrt(200 / 3), rel=1e-12)


def test_anomaly_flat_baseline_uses_the_std_floor() -> None:
    flat = [(10, 100.0)] * 4
    # std 0: sigma = 5 % of the mean = 5, so the bound is 115.
    assert run_aht(anomaly(), [*flat, (10, 114)]) == []
    [event] = run_aht(anomaly(), [*flat, (10, 116)])
    assert event.threshold == 115.0
    # Noise on a flat baseline never fires (the std it creates stays under the floor).
    assert run_aht(anomaly(), [*flat, (10, 101), (10, 102), (10, 99), (10, 103)]) == []


def test_anomaly_flat_at_zero_cannot_fire_without_min_std() -> None:
    rule = anomaly(metric="rework_rate", min_samples=1)

    def rework(values: list[int]) -> list[AlertEvent]:
        ev = Evaluator(ruleset(rule))
        for window, reworked in enumerate(values):
            put(ev, window * 300, agg(tasks_submitted=10, rework_submitted=reworked))
        return step(ev, 300 * len(values))

    assert rework([0, 0, 0, 0, 5]) == []
    rule["min_std"] = 0.1  # bound 0.3: 5/10 = 0.5 fires
    assert [e.value for e in rework([0, 0, 0, 0, 5])] == [0.5]
