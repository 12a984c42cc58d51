"""Why an alert fires: the largest contributors one level below its scope, from the same
rule window, each checked against a recomputation by hand.

Times are offsets from T0 = 2024-01-01T00:00:00Z (``tests.alert_windows``).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from alerts.evaluator import Evaluator
from alerts.model import AlertEvent, Contributor
from alerts.receivers.chat import alert_text
from alerts.receivers.webhook import alertmanager_payload
from alerts.rules import RulesError
from streams.rows import alert_row
from tests.alert_windows import quality, ruleset
from tests.unit.alerts.evaluator.steps import audits, handled, put, restart, step


def _fire(ev: Evaluator) -> AlertEvent:
    [fired] = step(ev, 300)
    assert fired.status == "firing"
    return fired


def test_a_vendor_quality_alert_names_the_annotators_with_most_audits_not_approved() -> None:
    ev = Evaluator(ruleset(quality()))  # scope [project_id, vendor_id]: explained by annotator
    put(ev, 0, audits(2, 10), annotator="a1")  # 8 not approved
    put(ev, 60, audits(5, 10), annotator="a2")  # 5
    put(ev, 120, audits(9, 10), annotator="a3")  # 1
    put(ev, 180, audits(10, 10), annotator="a4")  # 0: not a contributor
    put(ev, 0, audits(0, 50), vendor="v2", annotator="a9")  # another vendor: not in v1's list
    fired = _fire_vendor(ev)
    assert fired.value == pytest.approx(26 / 40)
    # 14 audits not approved in v1's window: 8, 5 and 1 of them
    assert fired.explanation == (
        Contributor("annotator_id", "a1", 8, 8 / 14),
        Contributor("annotator_id", "a2", 5, 5 / 14),
        Contributor("annotator_id", "a3", 1, 1 / 14),
    )


def _fire_vendor(ev: Evaluator) -> AlertEvent:
    events = step(ev, 300)
    [fired] = [e for e in events if e.scope["vendor_id"] == "v1"]
    return fired


def test_at_most_five_largest_first_ties_by_name() -> None:
    ev = Evaluator(ruleset(quality()))
    for i, bad in enumerate([1, 3, 3, 2, 4, 1, 5]):
        put(ev, 0, audits(10 - bad, 10), annotator=f"a{i}")
    fired = _fire(ev)
    assert [(c.value, c.count) for c in fired.explanation] == [
        ("a6", 5),
        ("a4", 4),
        ("a1", 3),
        ("a2", 3),
        ("a3", 2),
    ]
    assert [c.share for c in fired.explanation] == [5 / 19, 4 / 19, 3 / 19, 3 / 19, 2 / 19]


def test_a_handle_time_alert_names_who_moved_it_over_the_threshold() -> None:
    rule = quality(
        name="queue_aht_high",
        metric="aht_s",
        scope=["project_id", "queue_id"],
        op=">",
        threshold=60,
        min_samples=1,
    )
    ev = Evaluator(ruleset(rule))
    put(ev, 0, handled(10, 100.0), annotator="a1")
    put(ev, 0, handled(10, 50.0), annotator="a2")
    fired = _fire(ev)
    assert fired.value == 75.0  # 1500 s / 20 tasks
    # a1: (1000 - 60 × 10) / 20 = +20 s; a2: (500 - 600) / 20 = -5 s (pulls it down: not
    # listed). They add up to 75 - 60 = 15 s, so a1's share of the breach is 20 / 15.
    assert fired.explanation == (Contributor("annotator_id", "a1", delta=20.0, share=20 / 15),)


def test_explain_chooses_the_breakdown_and_an_annotator_scope_has_none() -> None:
    by_queue = quality(explain=["queue_id"])
    annotator = quality(name="annotator_low", scope=["project_id", "vendor_id", "annotator_id"])
    ev = Evaluator(ruleset(by_queue, annotator))
    put(ev, 0, audits(2, 10), queue="q1", annotator="a1")
    put(ev, 0, audits(4, 10), queue="q2", annotator="a1")
    vendor, person = step(ev, 300)
    assert vendor.explanation == (
        Contributor("queue_id", "q1", 8, 8 / 14),
        Contributor("queue_id", "q2", 6, 6 / 14),
    )
    assert person.explanation == ()
    with pytest.raises(RulesError, match="annotator_id is in the scope"):
        ruleset(quality(name="x", scope=["annotator_id"], explain=["annotator_id"]))


def test_the_breakdown_survives_a_restart_mid_window() -> None:
    rules = ruleset(quality())
    ev = Evaluator(rules)
    put(ev, 0, audits(2, 10), annotator="a1")
    ev = restart(ev, rules)
    put(ev, 60, audits(5, 10), annotator="a2")
    put(ev, 120, audits(1, 10), annotator="a1")
    fired = _fire(ev)
    assert fired.explanation == (
        Contributor("annotator_id", "a1", 17, 17 / 22),
        Contributor("annotator_id", "a2", 5, 5 / 22),
    )


def test_receivers_and_the_table_carry_the_explanation() -> None:
    ev = Evaluator(ruleset(quality()))
    put(ev, 0, audits(2, 10), annotator="a1")
    put(ev, 0, audits(8, 10), annotator="a2")
    fired = _fire(ev)
    line = "Largest contributors by annotator_id: a1 8 (80.0%), a2 2 (20.0%)"
    assert line in alert_text(fired, "en", ZoneInfo("UTC")).details
    assert "主要影响（按 annotator_id）：a1 8 (80.0%)，a2 2 (20.0%)" in (
        alert_text(fired, "zh", ZoneInfo("UTC")).details
    )
    [alert] = alertmanager_payload([fired], "am", {})["alerts"]
    assert alert["annotations"]["explanation"] == line
    row = alert_row(fired)
    assert row[-1] == (
        '[{"dimension": "annotator_id", "value": "a1", "count": 8, "share": 0.8, "delta": null}, '
        '{"dimension": "annotator_id", "value": "a2", "count": 2, "share": 0.2, "delta": null}]'
    )
    assert AlertEvent.from_dict(fired.to_dict()).explanation == fired.explanation
