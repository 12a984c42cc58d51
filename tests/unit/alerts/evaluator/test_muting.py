"""Inhibit rules and silences: what goes out muted, and what is sent when the mute lifts.

Times are offsets from T0 = 2024-01-01T00:00:00Z (``tests.alert_windows``);
every expected value is computed by hand from the aggregates fed in.
"""

from __future__ import annotations

from datetime import timedelta

from alerts.evaluator import Evaluator
from alerts.silences import Silence, Silences
from tests.alert_windows import NOW, quality, ruleset
from tests.unit.alerts.evaluator.steps import (
    VENDOR_FP,
    audits,
    brief,
    handled,
    put,
    step,
    vendor_and_annotator,
)


def test_inhibition_mutes_narrower_alerts_and_renotifies_when_lifted() -> None:
    ev = Evaluator(vendor_and_annotator(**{"for": 3}))
    for window in range(6):
        put(ev, window * 300, audits(2, 10), annotator="a1")
    for window in range(3):
        put(ev, window * 300, audits(1, 5), vendor="v2", annotator="a2")
    put(ev, 900, audits(200, 200), annotator="a3")
    put(ev, 1800, audits(2, 10), annotator="a1")
    events = step(ev, 2100)
    assert brief(events) == [
        ("vendor_quality_low", "firing", 0, False, None),  # v1: 6/30; v2: 15 < 20 audits
        ("annotator_quality_low", "firing", 600, False, f"inhibit:{VENDOR_FP}"),
        ("annotator_quality_low", "firing", 600, False, None),  # v2: no vendor alert
        ("vendor_quality_low", "resolved", 900, False, None),  # 206/230
        # a2: no audits in 900, 1200, 1500 (no_data_for 3)
        ("annotator_quality_low", "resolved", 1500, False, None),
        # a1's window [1500, 1800) closes as v1 resolves: still muted, sent one window later
        ("annotator_quality_low", "firing", 1800, True, None),
    ]
    assert events[1].scope == {"project_id": "p1", "vendor_id": "v1", "annotator_id": "a1"}
    assert events[2].scope["vendor_id"] == "v2"
    assert events[4].scope["vendor_id"] == "v2"
    assert events[4].resolved_reason == "no_data"


def test_a_target_closing_as_its_source_resolves_is_muted_for_that_window() -> None:
    # The vendor's quarter [900, 1800) is good (a3's audits): it resolves at 1800, where
    # a1's window [1500, 1800) also closes, still breaching. Paging a1 at the very moment
    # the vendor's incident ends would be its noise: a1 is sent one window later.
    ev = Evaluator(vendor_and_annotator(**{"for": 3}))
    for minute in range(0, 2100, 60):
        put(ev, minute, audits(2, 10), annotator="a1")
    for minute in range(900, 1800, 60):
        put(ev, minute, audits(300, 300), annotator="a3")
    events = step(ev, 2100)
    assert brief(events) == [
        ("vendor_quality_low", "firing", 0, False, None),
        ("annotator_quality_low", "firing", 600, False, f"inhibit:{VENDOR_FP}"),
        ("vendor_quality_low", "resolved", 900, False, None),  # 4530/4650
        ("annotator_quality_low", "firing", 1800, True, None),
    ]


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
