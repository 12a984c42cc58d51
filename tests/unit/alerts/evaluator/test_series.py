"""One alert's lifecycle: pending, firing, resolved, repeated, absent, forgotten.

Times are offsets from T0 = 2024-01-01T00:00:00Z (``tests.alert_windows``);
every expected value is computed by hand from the aggregates fed in.
"""

from __future__ import annotations

from alerts.evaluator import Evaluator
from alerts.model import fingerprint
from tests.alert_windows import T0, agg, quality, ruleset, stalled
from tests.unit.alerts.evaluator.steps import SCOPE, at, audits, brief, put, restart, step


def test_fires_after_for_consecutive_breaching_windows() -> None:
    ev = Evaluator(ruleset(quality(**{"for": 2})))
    put(ev, 0, audits(8, 10))
    assert step(ev, 300) == []  # pending
    put(ev, 300, audits(7, 10))
    [event] = step(ev, 600)
    assert event.status == "firing"
    assert event.rule == "vendor_quality_low"
    assert event.value == 0.7
    assert event.threshold == 0.85
    assert event.scope == SCOPE
    assert event.labels == {
        "alertname": "vendor_quality_low",
        "severity": "warning",
        "project_id": "p1",
        "vendor_id": "v1",
    }
    assert (event.window_start, event.window_end) == (at(300), at(600))
    assert event.starts_at == at(0)  # the first breaching window of the run
    assert event.ends_at is None
    assert event.fingerprint == fingerprint("vendor_quality_low", SCOPE)
    assert event.receivers == ("log",)
    assert (event.repeat, event.muted_by) == (False, None)
    assert event.extra["samples"] == 10
    assert ev.active() == [event]


def test_a_good_window_resets_pending() -> None:
    ev = Evaluator(ruleset(quality(**{"for": 2})))
    for minute, (approved, total) in enumerate([(8, 10), (9, 10), (8, 10), (8, 10)]):
        put(ev, minute * 300, audits(approved, total))
    events = step(ev, 1200)
    assert brief(events) == [("vendor_quality_low", "firing", 900, False, None)]
    assert events[0].starts_at == at(600)


def test_no_data_neither_counts_nor_resets_nor_resolves() -> None:
    ev = Evaluator(ruleset(quality(**{"for": 2})))
    put(ev, 0, audits(8, 10))  # breach
    put(ev, 300, audits(5, 5))  # 5 < min_samples 10: no data, though 100 %
    put(ev, 600, audits(7, 10))  # breach: the second of the run
    [fired] = step(ev, 900)
    assert (fired.window_start, fired.starts_at, fired.value) == (at(600), at(0), 0.7)
    put(ev, 900, audits(9, 9))  # no data while firing: stays firing
    assert step(ev, 1200) == []
    assert step(ev, 1500) == []  # no events at all: also no data
    put(ev, 1500, audits(10, 10))
    [resolved] = step(ev, 1800)
    assert resolved.status == "resolved"
    assert (resolved.window_start, resolved.ends_at) == (at(1500), at(1500))
    assert resolved.starts_at == at(0)
    assert resolved.value == 1.0
    assert ev.active() == []


def test_repeat_after_repeat_interval_in_event_time_even_without_data() -> None:
    rule = quality(
        no_data="keep",
        repeat_interval="15m",
        annotations={"summary": "pass rate {value:.0%} for {vendor_id}"},
    )
    ev = Evaluator(ruleset(rule))
    for window in range(4):
        put(ev, window * 300, audits(5, 10))
    events = step(ev, 2100)  # windows 4..6 have no events at all
    assert brief(events) == [
        ("vendor_quality_low", "firing", 0, False, None),
        ("vendor_quality_low", "firing", 900, True, None),  # ends 1200 >= 300 + 900
        ("vendor_quality_low", "firing", 1800, True, None),  # ends 2100 >= 1200 + 900
    ]
    assert events[0].annotations == {"summary": "pass rate 50% for v1"}
    assert events[2].value is None
    assert events[2].annotations == {"summary": "pass rate no data for v1"}
    assert all(e.starts_at == at(0) for e in events)


def test_no_data_for_consecutive_windows_resolves_with_reason_no_data() -> None:
    ev = Evaluator(ruleset(quality(no_data_for=3)))
    put(ev, 0, audits(5, 10))
    [fired] = step(ev, 300)
    assert fired.status == "firing"
    put(ev, 300, audits(2, 2))  # 100 % of 2 audits: no data (min_samples 10)
    put(ev, 900, audits(10, 10))  # a good window breaks nothing: it resolves
    assert step(ev, 900) == []  # windows 300 and 600: two without data
    [resolved] = step(ev, 1200)
    assert (resolved.status, resolved.resolved_reason) == ("resolved", None)
    assert resolved.value == 1.0

    ev = Evaluator(ruleset(quality(no_data_for=3)))
    put(ev, 0, audits(5, 10))
    put(ev, 300, audits(2, 2))
    put(ev, 900, audits(9, 9))
    events = step(ev, 1200)
    assert brief(events) == [
        ("vendor_quality_low", "firing", 0, False, None),
        ("vendor_quality_low", "resolved", 900, False, None),
    ]
    resolved = events[1]
    assert resolved.resolved_reason == "no_data"
    # resolved at the start of the first window without data; no value from 9 audits
    assert (resolved.ends_at, resolved.starts_at) == (at(300), at(0))
    assert (resolved.value, resolved.extra["samples"]) == (None, 9)
    assert resolved.to_dict()["resolved_reason"] == "no_data"
    assert ev.active() == []
    assert ev.state()["rules"]["vendor_quality_low"]["series"] == []


def test_data_in_between_restarts_the_count_of_windows_without_data() -> None:
    ev = Evaluator(ruleset(quality(no_data_for=2, resolve_threshold=0.9)))
    put(ev, 0, audits(5, 10))
    put(ev, 600, audits(88, 100))  # 0.88: above 0.85, below resolve_at: keeps firing
    events = step(ev, 1200)  # windows 300 and 900 without data, but never two in a row
    assert brief(events) == [("vendor_quality_low", "firing", 0, False, None)]
    [resolved] = step(ev, 1500)  # 900 and 1200: two in a row
    assert resolved.resolved_reason == "no_data"
    assert resolved.ends_at == at(900)


def test_no_data_keep_fires_on_and_survives_a_restart() -> None:
    rules = ruleset(quality(no_data="keep", no_data_for=1, repeat_interval="10m"))
    ev = Evaluator(rules)
    put(ev, 0, audits(5, 10))
    step(ev, 300)
    ev = restart(ev, rules)
    assert brief(step(ev, 1500)) == [
        ("vendor_quality_low", "firing", 600, True, None),
        ("vendor_quality_low", "firing", 1200, True, None),
    ]
    assert len(ev.active()) == 1


def test_the_count_of_windows_without_data_survives_a_restart() -> None:
    rules = ruleset(quality(no_data_for=3))
    ev = Evaluator(rules)
    put(ev, 0, audits(5, 10))
    step(ev, 900)  # 300, 600: two windows without data
    ev = restart(ev, rules)
    [resolved] = step(ev, 1200)
    assert (resolved.resolved_reason, resolved.ends_at) == ("no_data", at(300))


def test_an_absent_queue_is_a_value_not_no_data() -> None:
    ev = Evaluator(ruleset(stalled(no_data_for=1, absent_lookback=2)))
    put(ev, 0, agg(tasks_submitted=10))
    events = step(ev, 3000)  # silent since 300: absent (0/h) for 2 windows, then unknown
    assert brief(events)[:1] == [("queue_stalled", "firing", 600, False, None)]
    assert all(e.status == "firing" for e in events)
    assert len(ev.active()) == 1


def test_a_queue_that_goes_silent_evaluates_to_zero_and_fires() -> None:
    ev = Evaluator(ruleset(stalled()))
    put(ev, 0, agg(tasks_submitted=10))
    assert step(ev, 600) == []  # first absent window: pending
    [event] = step(ev, 900)
    assert event.status == "firing"
    assert (event.value, event.extra["samples"]) == (0.0, 0)
    assert (event.window_start, event.starts_at) == (at(600), at(300))
    assert event.scope == {"project_id": "p1", "queue_id": "q1"}


def test_absence_is_remembered_only_for_absent_lookback_windows() -> None:
    spike = stalled(name="spike", op=">", threshold=1000, absent_lookback=2, **{"for": 1})
    ev = Evaluator(ruleset(spike))
    put(ev, 0, agg(tasks_submitted=10))
    step(ev, 600)
    assert len(ev.state()["rules"]["spike"]["series"]) == 1
    step(ev, 900)  # two absent windows evaluated: nothing left to remember
    assert ev.state()["rules"]["spike"]["series"] == []


def test_memory_keeps_only_what_future_windows_need() -> None:
    rule = quality(name="per_annotator", scope=["annotator_id"], min_samples=1)
    ev = Evaluator(ruleset(rule))
    for annotator in range(50):
        put(ev, 0, audits(10, 10), annotator=f"a{annotator}")
        put(ev, 300, audits(10, 10), annotator=f"a{annotator}")
    step(ev, 300)
    stored = ev.state()["rules"]["per_annotator"]
    assert stored["series"] == []  # all fine: nothing to remember
    assert [start for start, _ in stored["partials"]] == [T0 + 300]  # not evaluated yet
