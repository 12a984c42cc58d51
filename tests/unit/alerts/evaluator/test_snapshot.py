"""The state as JSON and back: a restart continues as if nothing happened.

Times are offsets from T0 = 2024-01-01T00:00:00Z (``tests.alert_windows``);
every expected value is computed by hand from the aggregates fed in.
"""

from __future__ import annotations

from alerts.evaluator import Evaluator
from alerts.model import AlertEvent
from tests.alert_windows import T0, quality, ruleset
from tests.unit.alerts.evaluator.steps import at, audits, put, restart, step, vendor_and_annotator


def test_state_round_trip_mid_sequence_equals_an_uninterrupted_run() -> None:
    rules = vendor_and_annotator(**{"for": 2})
    minutes = [(m * 60, 3 if m < 20 else 9) for m in range(60)]

    def feed(ev: Evaluator, offset: int, approved: int) -> None:
        put(ev, offset, audits(approved, 10), annotator="a1")

    straight = Evaluator(rules)
    for offset, approved in minutes:
        feed(straight, offset, approved)
    expected = step(straight, 3600)
    assert [(e.rule, e.status, e.window_end) for e in expected] == [
        ("annotator_quality_low", "firing", at(600)),
        ("vendor_quality_low", "firing", at(900)),
        ("annotator_quality_low", "resolved", at(1500)),  # minutes 20-24: 0.9
        ("vendor_quality_low", "resolved", at(2700)),  # [900, 1800) is 105/150 = 0.7
    ]

    ev = Evaluator(rules)
    got: list[AlertEvent] = []
    for offset, approved in minutes:
        feed(ev, offset, approved)
        ev = restart(ev, rules)  # mid-window: partial windows survive
        if offset % 420 == 0:
            got += step(ev, offset)
            ev = restart(ev, rules)
    got += step(ev, 3600)
    assert [e.to_dict() for e in got] == [e.to_dict() for e in expected]
    assert got == expected
    assert restart(ev, rules).active() == ev.active() == straight.active() == []


def test_restart_while_firing_resolves_once_and_never_refires() -> None:
    rules = ruleset(quality())
    ev = Evaluator(rules)
    put(ev, 0, audits(1, 10))
    assert len(step(ev, 300)) == 1
    ev = restart(ev, rules)
    assert [e.rule for e in ev.active()] == ["vendor_quality_low"]
    assert step(ev, 300) == []
    put(ev, 300, audits(1, 10))
    assert step(ev, 600) == []
    put(ev, 600, audits(10, 10))
    assert [e.status for e in step(ev, 900)] == ["resolved"]


def test_state_of_a_redefined_rule_is_discarded() -> None:
    ev = Evaluator(ruleset(quality()))
    put(ev, 0, audits(1, 10))
    step(ev, 300)
    changed = Evaluator(ruleset(quality(window="15m")), state=ev.state())
    assert changed.active() == []
    assert changed.closed_before == T0 + 300
