"""Closed minutes summed into rule windows: pieces, maxima, rows and keys, malformed rows.

Times are offsets from T0 = 2024-01-01T00:00:00Z (``tests.alert_windows``);
every expected value is computed by hand from the aggregates fed in.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.evaluator import Evaluator
from alerts.model import AlertEvent
from tests.alert_windows import (
    NOW,
    STREAM_RULES,
    T0,
    agg,
    key,
    quality,
    reference_add_minute,
    ruleset,
)
from tests.unit.alerts.evaluator.steps import (
    KEYS,
    MINUTES,
    audits,
    cells,
    minute_data,
    put,
    restart,
    step,
)


def test_pieces_of_one_minute_from_several_partitions_are_summed() -> None:
    ev = Evaluator(ruleset(quality(min_samples=20)))
    ev.add_minute(T0, {key(T0, annotator="a1"): audits(4, 10)})
    ev.add_minute(T0, {key(T0, annotator="a2"): audits(4, 10)})
    [event] = step(ev, 300)
    assert (event.value, event.extra["samples"]) == (0.4, 20)


def test_turnaround_max_is_a_maximum_over_the_window() -> None:
    rule = quality(
        name="turnaround", metric="turnaround_max_s", op=">", threshold=5000, min_samples=1
    )
    ev = Evaluator(ruleset(rule))
    put(ev, 0, agg(turnaround_count=3, turnaround_sum_s=9000, turnaround_max_s=3600))
    put(ev, 60, agg(turnaround_count=2, turnaround_sum_s=9000, turnaround_max_s=7200))
    [event] = step(ev, 300)
    assert (event.value, event.extra["samples"]) == (7200.0, 5)


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
