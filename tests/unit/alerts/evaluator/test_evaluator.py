"""The evaluator's order: admission of minutes, rule windows in time order, any chunking.

Times are offsets from T0 = 2024-01-01T00:00:00Z (``tests.alert_windows``);
every expected value is computed by hand from the aggregates fed in.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.evaluator import Evaluator
from alerts.model import AlertEvent
from tests.alert_windows import NOW, T0, anomaly, quality, ruleset, stalled
from tests.unit.alerts.evaluator.steps import (
    KEYS,
    MINUTES,
    at,
    audits,
    cells,
    minute_data,
    put,
    restart,
    step,
)


def test_advance_is_idempotent_and_rounds_up_to_whole_minutes() -> None:
    ev = Evaluator(ruleset(quality()))
    put(ev, 0, audits(1, 10))
    assert len(ev.advance(T0 + 241, NOW)) == 1  # minute 240 started before 241: complete
    assert ev.closed_before == T0 + 300
    assert step(ev, 300) == []
    assert step(ev, 200) == []


def test_minutes_in_any_order_before_close() -> None:
    ev = Evaluator(ruleset(quality()))
    put(ev, 360, audits(9, 10))  # second window first
    put(ev, 120, audits(3, 5))
    put(ev, 0, audits(3, 5))
    events = step(ev, 600)
    assert [(e.status, e.value) for e in events] == [("firing", 0.6), ("resolved", 0.9)]


def test_minutes_after_close_are_ignored_and_counted() -> None:
    ev = Evaluator(ruleset(quality(window="15m")))
    put(ev, 0, audits(9, 10))
    assert step(ev, 300) == []  # the 15m window is still open
    put(ev, 120, audits(0, 100))  # a correction after its minute closed
    put(ev, 600, audits(9, 10))
    assert step(ev, 900) == []  # 18/20 = 0.9; with the correction it would be 18/120
    assert ev.ignored_late_minutes == 1


def test_rule_windows_are_aligned_to_utc() -> None:
    rules = ruleset(
        quality(name="q15", window="15m"),
        quality(name="q5", window="5m"),
    )
    ev = Evaluator(rules)
    put(ev, 14 * 60, audits(1, 10))  # 00:14
    assert step(ev, 840) == []
    events = step(ev, 900)
    assert [(e.rule, e.window_start, e.window_end) for e in events] == [
        ("q15", at(0), at(900)),
        ("q5", at(600), at(900)),
    ]


def test_rules_are_interleaved_by_window_end() -> None:
    rules = ruleset(quality(name="q15", window="15m"), quality(name="q5", window="5m"))
    ev = Evaluator(rules)
    put(ev, 0, audits(1, 10))
    put(ev, 600, audits(10, 10))
    events = step(ev, 900)
    assert [(e.rule, e.status, int(e.window_end.timestamp()) - T0) for e in events] == [
        ("q5", "firing", 300),
        ("q15", "firing", 900),  # 11/20 over the quarter hour
        ("q5", "resolved", 900),
    ]


PROPERTY_RULES = ruleset(
    quality(**{"for": 2}, resolve_threshold=0.9, min_samples=4),
    stalled(scope=["queue_id"], threshold=30, repeat_interval="10m"),
    anomaly(baseline_windows=3, min_samples=2, direction="both"),
    quality(
        name="turnaround",
        metric="turnaround_max_s",
        scope=["project_id"],
        window="15m",
        op=">",
        threshold=600,
        min_samples=1,
    ),
    inhibit=[{"source": {"rule": "turnaround"}, "target_scope_contains": ["project_id"]}],
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_chunking_and_restarts_do_not_change_events(data: st.DataObject) -> None:
    """Same minutes, any split into pieces, any order before close, any restarts: same events."""
    minutes = {
        T0 + m * 60: minute_data(
            T0 + m * 60,
            data.draw(st.dictionaries(st.integers(0, len(KEYS) - 1), cells, max_size=3)),
        )
        for m in range(MINUTES)
        if data.draw(st.integers(0, 5)) > 0  # some minutes have no events at all
    }
    straight = Evaluator(PROPERTY_RULES)
    for minute, aggregates in minutes.items():
        straight.add_minute(minute, aggregates)
    expected = straight.advance(T0 + MINUTES * 60, NOW)

    closes = sorted(data.draw(st.sets(st.integers(1, MINUTES), max_size=8)) | {MINUTES})
    ev = Evaluator(PROPERTY_RULES)
    got: list[AlertEvent] = []
    pending = dict(minutes)
    for close in closes:
        closed_before = T0 + close * 60
        due = [m for m in pending if m < closed_before]
        early = [m for m in pending if m >= closed_before and data.draw(st.booleans())]
        order = data.draw(st.permutations(due + early))
        for minute in order:
            aggregates = pending.pop(minute)
            items = list(aggregates.items())
            cut = data.draw(st.integers(0, len(items)))
            for piece in (items[:cut], items[cut:]):
                ev.add_minute(minute, dict(piece))
                if data.draw(st.integers(0, 9)) == 0:
                    ev = restart(ev, PROPERTY_RULES)
        got += ev.advance(closed_before, NOW)
        if data.draw(st.booleans()):
            ev = restart(ev, PROPERTY_RULES)
    assert [e.to_dict() for e in got] == [e.to_dict() for e in expected]
    assert got == expected
    assert ev.active() == straight.active()
    assert ev.state() == straight.state()
