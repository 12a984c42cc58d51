"""Trailing windows: a rule evaluated every ``every`` over the last ``window``, from sums.

Times are offsets from T0 = 2024-01-01T00:00:00Z (``tests.alert_windows``);
every expected value is computed by hand from the aggregates fed in.
"""

from __future__ import annotations

import pytest

from alerts.evaluator import Evaluator
from alerts.evaluator.trailing import Trailing
from alerts.rules import RulesError
from tests.alert_windows import T0, agg, quality, ruleset
from tests.unit.alerts.evaluator.steps import at, audits, brief, put, restart, step

H = 3600


def annotator(**overrides: object) -> dict[str, object]:
    """ "At least 20 audits over the last day, judged hourly": a contributor manager's SLA."""
    rule = quality(
        name="annotator_day",
        scope=["annotator_id"],
        window="24h",
        every="1h",
        threshold=0.75,
        min_samples=20,
        repeat_interval="24h",
    )
    rule.update(overrides)
    return rule


def test_first_evaluations_judge_what_the_window_holds_so_far() -> None:
    ev = Evaluator(ruleset(annotator()))
    put(ev, 0, audits(5, 8))  # hour 0: 8 audits, not yet 20
    put(ev, H, audits(6, 8))  # hour 1: 16
    assert step(ev, 2 * H) == []
    put(ev, 2 * H, audits(2, 8))  # hour 2: 13 of 24 approved = 54 %
    [fired] = step(ev, 3 * H)
    assert fired.value == pytest.approx(13 / 24)
    assert fired.extra["samples"] == 24
    # the window is the last 24 h, even while fewer hours have passed
    assert (fired.window_start, fired.window_end) == (at(3 * H - 24 * H), at(3 * H))
    assert fired.starts_at == at(3 * H - 24 * H)


def test_buckets_leave_the_window_and_it_resolves() -> None:
    ev = Evaluator(ruleset(annotator(resolve_threshold=0.8)))
    put(ev, 0, audits(0, 20))  # hour 0: 0 of 20
    [fired] = step(ev, H)
    assert fired.value == 0.0
    for hour in range(1, 24):
        put(ev, hour * H, audits(2, 2))  # 2 of 2 an hour: hours 1-23 = 46 of 46
    assert step(ev, 24 * H) == []  # [0, 24h): 46 of 66 = 70 %, still firing
    put(ev, 24 * H, audits(2, 2))
    [resolved] = step(ev, 25 * H)  # [1h, 25h): hour 0 left: 48 of 48
    assert resolved.status == "resolved"
    assert resolved.value == 1.0
    assert (resolved.window_start, resolved.window_end) == (at(H), at(25 * H))
    assert resolved.resolved_reason is None


def test_tumbling_rules_are_unchanged_beside_a_trailing_one() -> None:
    ev = Evaluator(ruleset(quality(), annotator()))
    put(ev, 0, audits(5, 10))
    put(ev, 60, audits(0, 10))
    events = [e for e in step(ev, H) if e.status == "firing"]
    assert brief(events) == [
        ("vendor_quality_low", "firing", 0, False, None),  # 5 of 20 over [0, 5m)
        ("annotator_day", "firing", H - 24 * H, False, None),  # 5 of 20 over the day
    ]


def test_a_restart_between_buckets_continues_identically() -> None:
    rules = ruleset(annotator(resolve_threshold=0.8))
    straight, resumed = Evaluator(rules), Evaluator(rules)
    for ev in (straight, resumed):
        put(ev, 0, audits(0, 20))
        step(ev, H)
    resumed = restart(resumed, rules)
    for ev in (straight, resumed):
        for hour in range(1, 25):
            put(ev, hour * H, audits(2, 2))
    assert step(resumed, 25 * H) == step(straight, 25 * H)
    assert resumed.state() == straight.state()


def test_no_data_counts_evaluations() -> None:
    ev = Evaluator(ruleset(annotator(window="3h", no_data_for=2)))
    put(ev, 0, audits(0, 20))
    events = step(ev, 6 * H)
    # [0, 3h) .. fires at 1h; no audits left in the window from [1h, 4h) on (ends 4h, 5h)
    assert [(e.status, e.resolved_reason) for e in events] == [
        ("firing", None),
        ("resolved", "no_data"),
    ]
    assert events[1].window_end == at(5 * H)
    assert events[1].ends_at == at(3 * H)  # the end of the last evaluation with data


def test_trailing_options_are_checked() -> None:
    with pytest.raises(RulesError, match="not a whole number of every"):
        ruleset(annotator(every="7m"))
    with pytest.raises(RulesError, match="at most 168"):
        ruleset(annotator(window="7d", every="30m"))
    with pytest.raises(RulesError, match="longer than 24h: a longer window is a trailing one"):
        ruleset(quality(window="2d"))
    with pytest.raises(RulesError, match="cannot keep from sums"):
        ruleset(annotator(metric="turnaround_max_s"))
    ruleset(annotator(window="7d", every="1h"))  # a week judged hourly


def test_running_sums_equal_a_recount() -> None:
    trailing = Trailing(1)
    buckets = {hour: {("a",): agg(audits=hour + 1)} for hour in range(10)}
    for hour, bucket in buckets.items():
        trailing.push(hour * H, bucket, (hour - 3) * H)  # keeps hours hour-3 .. hour
        expected = sum(h + 1 for h in range(max(0, hour - 3), hour + 1))
        assert trailing.sums[("a",)] == agg(audits=expected)
    assert len(trailing.history) == 4
    assert T0 > 0
