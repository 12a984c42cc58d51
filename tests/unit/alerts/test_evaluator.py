"""The pure alert evaluator on hand-built window sequences.

Times are epoch seconds from T0 = 2024-01-01T00:00:00Z; every expected value
below is computed by hand from the aggregates fed in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.evaluator import Evaluator, WindowKey
from alerts.model import AlertEvent, fingerprint
from alerts.rules import RuleSet
from alerts.silences import Silence, Silences
from tests.alert_windows import (
    NOW,
    STREAM_RULES,
    T0,
    agg,
    anomaly,
    key,
    quality,
    reference_add_minute,
    ruleset,
    stalled,
)

SCOPE = {"project_id": "p1", "vendor_id": "v1"}


def at(offset: int) -> datetime:
    return datetime.fromtimestamp(T0 + offset, UTC)


def audits(approved: int, total: int) -> list[int]:
    return agg(audits=total, audits_approved=approved)


def handled(tasks: int, aht: float) -> list[int]:
    return agg(tasks_submitted=tasks, handle_time_sum_s=tasks * aht)


def put(ev: Evaluator, minute_offset: int, vector: list[int], **dims: str) -> None:
    minute = T0 + minute_offset
    ev.add_minute(minute, {key(minute, **dims): vector})


def step(ev: Evaluator, offset: int, now: datetime = NOW, **kw: Any) -> list[AlertEvent]:
    return ev.advance(T0 + offset, now, **kw)


def brief(events: list[AlertEvent]) -> list[tuple[str, str, int, bool, str | None]]:
    """(rule, status, window_start offset, repeat, muted_by) of each event."""
    return [
        (e.rule, e.status, int(e.window_start.timestamp()) - T0, e.repeat, e.muted_by)
        for e in events
    ]


# -- lifecycle -------------------------------------------------------------------------------


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


def test_repeat_after_repeat_interval_in_event_time_even_without_data() -> None:
    rule = quality(
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


def test_advance_is_idempotent_and_rounds_up_to_whole_minutes() -> None:
    ev = Evaluator(ruleset(quality()))
    put(ev, 0, audits(1, 10))
    assert len(ev.advance(T0 + 241, NOW)) == 1  # minute 240 started before 241: complete
    assert ev.closed_before == T0 + 300
    assert step(ev, 300) == []
    assert step(ev, 200) == []


# -- composition of minutes --------------------------------------------------------------------


def test_pieces_of_one_minute_from_several_partitions_are_summed() -> None:
    ev = Evaluator(ruleset(quality(min_samples=20)))
    ev.add_minute(T0, {key(T0, annotator="a1"): audits(4, 10)})
    ev.add_minute(T0, {key(T0, annotator="a2"): audits(4, 10)})
    [event] = step(ev, 300)
    assert (event.value, event.extra["samples"]) == (0.4, 20)


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


def test_turnaround_max_is_a_maximum_over_the_window() -> None:
    rule = quality(
        name="turnaround", metric="turnaround_max_s", op=">", threshold=5000, min_samples=1
    )
    ev = Evaluator(ruleset(rule))
    put(ev, 0, agg(turnaround_count=3, turnaround_sum_s=9000, turnaround_max_s=3600))
    put(ev, 60, agg(turnaround_count=2, turnaround_sum_s=9000, turnaround_max_s=7200))
    [event] = step(ev, 300)
    assert (event.value, event.extra["samples"]) == (7200.0, 5)


# -- absence ---------------------------------------------------------------------------------


def test_a_queue_that_goes_silent_evaluates_to_zero_and_fires() -> None:
    ev = Evaluator(ruleset(stalled()))
    put(ev, 0, agg(tasks_submitted=10))
    assert step(ev, 600) == []  # first absent window: pending
    [event] = step(ev, 900)
    assert event.status == "firing"
    assert (event.value, event.extra["samples"]) == (0.0, 0)
    assert (event.window_start, event.starts_at) == (at(600), at(300))
    assert event.scope == {"project_id": "p1", "queue_id": "q1"}


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


def test_absence_is_remembered_only_for_absent_lookback_windows() -> None:
    spike = stalled(name="spike", op=">", threshold=1000, absent_lookback=2, **{"for": 1})
    ev = Evaluator(ruleset(spike))
    put(ev, 0, agg(tasks_submitted=10))
    step(ev, 600)
    assert len(ev.state()["rules"]["spike"]["series"]) == 1
    step(ev, 900)  # two absent windows evaluated: nothing left to remember
    assert ev.state()["rules"]["spike"]["series"] == []


# -- anomaly ---------------------------------------------------------------------------------


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


# -- inhibition and silences -------------------------------------------------------------------


def vendor_and_annotator(**annotator: Any) -> RuleSet:
    target = quality(
        name="annotator_quality_low",
        scope=["project_id", "vendor_id", "annotator_id"],
        min_samples=5,
        **annotator,
    )
    return ruleset(
        quality(window="15m", min_samples=20),
        target,
        inhibit=[
            {
                "source": {"rule": "vendor_quality_low"},
                "target_scope_contains": ["project_id", "vendor_id"],
            }
        ],
    )


VENDOR_FP = fingerprint("vendor_quality_low", SCOPE)


def test_inhibition_mutes_narrower_alerts_and_renotifies_when_lifted() -> None:
    ev = Evaluator(vendor_and_annotator(**{"for": 3}))
    for window in range(6):
        put(ev, window * 300, audits(2, 10), annotator="a1")
    for window in range(3):
        put(ev, window * 300, audits(1, 5), vendor="v2", annotator="a2")
    put(ev, 900, audits(200, 200), annotator="a3")
    events = step(ev, 1800)
    assert brief(events) == [
        ("vendor_quality_low", "firing", 0, False, None),  # v1: 6/30; v2: 15 < 20 audits
        ("annotator_quality_low", "firing", 600, False, f"inhibit:{VENDOR_FP}"),
        ("annotator_quality_low", "firing", 600, False, None),  # v2: no vendor alert
        ("vendor_quality_low", "resolved", 900, False, None),  # 206/230
        ("annotator_quality_low", "firing", 1500, True, None),  # muted until now
    ]
    assert events[1].scope == {"project_id": "p1", "vendor_id": "v1", "annotator_id": "a1"}
    assert events[2].scope["vendor_id"] == "v2"


def test_a_source_resolving_in_the_same_step_still_mutes_windows_it_overlapped() -> None:
    # The annotator's hour [0, 3600) was judged over the vendor's incident [0, 2700):
    # it is the vendor's problem even though the vendor resolves at the same end.
    ev = Evaluator(vendor_and_annotator(window="1h"))
    for window in range(9):
        put(ev, window * 300, audits(2, 10), annotator="a1")
    put(ev, 2700, audits(200, 200), annotator="a3")
    events = step(ev, 3600)
    assert brief(events) == [
        ("vendor_quality_low", "firing", 0, False, None),
        ("vendor_quality_low", "resolved", 2700, False, None),
        ("annotator_quality_low", "firing", 0, False, f"inhibit:{VENDOR_FP}"),
    ]


def test_a_resolve_is_never_muted_when_its_firing_was_sent() -> None:
    ev = Evaluator(vendor_and_annotator(repeat_interval="5m"))
    for window in range(3):
        put(ev, window * 300, audits(2, 10), annotator="a1")
    put(ev, 900, audits(10, 10), annotator="a1")
    events = step(ev, 1200)
    assert brief(events) == [
        ("annotator_quality_low", "firing", 0, False, None),
        ("annotator_quality_low", "firing", 300, True, None),
        ("vendor_quality_low", "firing", 0, False, None),
        ("annotator_quality_low", "firing", 600, True, f"inhibit:{VENDOR_FP}"),
        ("annotator_quality_low", "resolved", 900, False, None),
    ]


def test_target_rules_limit_what_an_inhibit_rule_mutes() -> None:
    rules = ruleset(
        quality(window="15m", min_samples=20),
        quality(name="vendor_aht_high", metric="aht_s", op=">", threshold=60, min_samples=1)
        | {"for": 3},
        quality(name="annotator_low", scope=["project_id", "vendor_id", "annotator_id"])
        | {"for": 3},
        inhibit=[
            {
                "source": {"rule": "vendor_quality_low"},
                "target_scope_contains": ["project_id", "vendor_id"],
                "target_rules": ["annotator_low"],
            }
        ],
    )
    ev = Evaluator(rules)
    for window in range(3):
        put(ev, window * 300 + 60, audits(2, 10))
        put(ev, window * 300, handled(1, 90.0))
    assert [(e.rule, e.muted_by) for e in step(ev, 900)] == [
        ("vendor_quality_low", None),
        ("vendor_aht_high", None),  # same scope, but not a target rule
        ("annotator_low", f"inhibit:{VENDOR_FP}"),
    ]


def test_silences_flag_events_until_they_expire() -> None:
    silence = Silence(id="s1", matchers={"vendor_id": "v1"}, ends_at=NOW + timedelta(hours=1))
    silences = Silences((silence,))
    ev = Evaluator(ruleset(quality()))
    for window in range(2):
        put(ev, window * 300, audits(1, 10), vendor="v1")
        put(ev, window * 300, audits(1, 10), vendor="v2")
    first = step(ev, 300, NOW, silences=silences)
    assert [(e.scope["vendor_id"], e.muted_by) for e in first] == [
        ("v1", "silence:s1"),
        ("v2", None),
    ]
    later = NOW + timedelta(hours=2)  # the silence expired: v1 is sent now, once
    second = step(ev, 600, later, silences=silences)
    assert brief(second) == [("vendor_quality_low", "firing", 300, True, None)]
    assert second[0].scope["vendor_id"] == "v1"


def test_a_silence_that_has_not_started_does_not_mute() -> None:
    silence = Silence(
        id="s2",
        matchers={"alertname": "vendor_quality_low"},
        starts_at=NOW + timedelta(hours=1),
        ends_at=NOW + timedelta(hours=2),
    )
    ev = Evaluator(ruleset(quality()))
    put(ev, 0, audits(1, 10))
    assert [e.muted_by for e in step(ev, 300, silences=Silences((silence,)))] == [None]


# -- identity, text, memory ----------------------------------------------------------------


def test_fingerprint_is_stable() -> None:
    ev = Evaluator(ruleset(quality()))
    put(ev, 0, audits(1, 10))
    [event] = step(ev, 300)
    # Pinned: it is the PagerDuty dedup_key, so it must never change between releases.
    assert event.fingerprint == "d8922e5811b19c13"
    assert fingerprint("vendor_quality_low", {"vendor_id": "v1", "project_id": "p1"}) == (
        event.fingerprint
    )


def test_chinese_labels_and_annotations_round_trip() -> None:
    rule = quality(
        labels={"team": "中文运营组"},
        annotations={"summary": "供应商 {vendor_id} 在 {project_id} 审核通过率 {value:.0%}"},
    )
    ev = Evaluator(ruleset(rule))
    put(ev, 0, audits(6, 10), project="项目一", vendor="供应商甲")
    [event] = step(ev, 300)
    assert event.annotations == {"summary": "供应商 供应商甲 在 项目一 审核通过率 60%"}
    assert event.labels["team"] == "中文运营组"
    payload = event.to_json()
    assert "供应商甲".encode() in payload
    restored = AlertEvent.from_dict(orjson.loads(payload))
    assert (restored.labels, restored.annotations) == (event.labels, event.annotations)


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


# -- restarts and chunking ---------------------------------------------------------------------


def restart(ev: Evaluator, rules: RuleSet) -> Evaluator:
    return Evaluator(rules, state=orjson.loads(orjson.dumps(ev.state())))


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
MINUTES = 45
KEYS = [("q1", "v1", "a1"), ("q1", "v1", "a2"), ("q2", "v2", "a3")]
# (audits approved, tasks submitted, audits not approved, turnaround max s) of one key
cells = st.tuples(st.integers(0, 4), st.integers(0, 6), st.integers(0, 2), st.integers(60, 900))


def minute_data(
    minute: int, drawn: Mapping[int, tuple[int, int, int, int]]
) -> dict[WindowKey, list[int]]:
    data: dict[WindowKey, list[int]] = {}
    for index, (approved, tasks, failed, turnaround) in drawn.items():
        queue, vendor, annotator = KEYS[index]
        data[key(minute, queue=queue, vendor=vendor, annotator=annotator)] = agg(
            audits=approved + failed,
            audits_approved=approved,
            tasks_submitted=tasks,
            handle_time_sum_s=tasks * (60 + 7 * approved),
            turnaround_count=min(tasks, 1),
            turnaround_max_s=turnaround if tasks else 0,
        )
    return data


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


# -- rows straight into rules grouped by scope, against the accumulation they replaced --------
#
# ``reference_add_minute`` (tests/alert_windows.py) is the accumulation as it was before rules
# were grouped by scope: every key projected for every rule, field by field.


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_add_rows_and_add_minute_equal_the_old_accumulation(data: st.DataObject) -> None:
    """Keys that collide per scope, pieces, shared and restored partial windows: same results."""
    minutes = {
        T0 + m * 60: minute_data(
            T0 + m * 60,
            data.draw(st.dictionaries(st.integers(0, len(KEYS) - 1), cells, max_size=3)),
        )
        for m in range(MINUTES)
    }
    old, by_rows, by_keys = (Evaluator(STREAM_RULES) for _ in range(3))
    expected: list[AlertEvent] = []
    got_rows: list[AlertEvent] = []
    got_keys: list[AlertEvent] = []
    for close in range(5, MINUTES + 1, 5):
        for minute in [m for m in minutes if m < T0 + close * 60]:
            items = list(minutes.pop(minute).items())
            cut = data.draw(st.integers(0, len(items)))
            for piece in (dict(items[:cut]), dict(items[cut:])):
                reference_add_minute(old, minute, piece)
                by_rows.add_rows(minute, [[*k[1:], *v] for k, v in piece.items()])
                by_keys.add_minute(minute, piece)
                if data.draw(st.integers(0, 4)) == 0:
                    by_rows = restart(by_rows, STREAM_RULES)
        expected += old.advance(T0 + close * 60, NOW)
        got_rows += by_rows.advance(T0 + close * 60, NOW)
        got_keys += by_keys.advance(T0 + close * 60, NOW)
    assert got_rows == got_keys == expected
    assert by_rows.state() == by_keys.state() == old.state()


def test_a_malformed_row_changes_nothing() -> None:
    ev = Evaluator(STREAM_RULES)
    good = [*key(T0)[1:], *audits(1, 10)]
    with pytest.raises(ValueError, match="fields"):
        ev.add_rows(T0, [good, good[:-1]])
    assert ev.state() == Evaluator(STREAM_RULES).state()
