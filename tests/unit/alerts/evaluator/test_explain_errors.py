"""Error categories explain audit alerts: handed over with the closed windows, counted per
rule window, each checked against a recomputation by hand.

Times are offsets from T0 = 2024-01-01T00:00:00Z (``tests.alert_windows``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import pytest

from alerts import handoff
from alerts.evaluator import Evaluator
from alerts.handoff import ClosedWindow, encode_reports
from alerts.model import AlertEvent, Contributor
from alerts.rules import RulesError
from alerts.stage import AlertStage
from streams.window_store import WindowStore
from tests.alert_windows import NOW, T0, key, quality, ruleset
from tests.unit.alerts.evaluator.steps import audits, put, restart, step

ANNOTATORS = {"a1": (2, 10), "a2": (5, 10), "a3": (9, 10)}  # approved, audits
# minute offset, annotator, category, errors found
ERRORS = [
    (0, "a1", "label_wrong", 5),
    (0, "a1", "box_loose", 2),
    (60, "a2", "label_wrong", 3),
    (60, "a2", "missed_object", 4),
    (120, "a3", "box_loose", 1),
    (180, "a1", "label_wrong", 1),
]


def _rows(
    minute_offset: int, annotator: str, category: str, n: int, vendor: str = "v1"
) -> list[Any]:
    """An error row as on the windows topic: the six key dimensions, category, count."""
    return [*key(T0 + minute_offset, vendor=vendor, annotator=annotator)[1:], category, n]


def _feed(ev: Evaluator, errors: Sequence[tuple[int, str, str, int]] = ERRORS) -> None:
    for i, (annotator, (approved, total)) in enumerate(ANNOTATORS.items()):
        put(ev, i * 60, audits(approved, total), annotator=annotator)
    for offset, annotator, category, n in errors:
        ev.add_errors(T0 + offset, [_rows(offset, annotator, category, n)])


def _vendor(events: list[AlertEvent]) -> AlertEvent:
    [fired] = [e for e in events if e.scope.get("vendor_id") == "v1" and e.status == "firing"]
    return fired


# By hand: audits not approved a1 8, a2 5, a3 1 (14); errors label_wrong 5 + 3 + 1 = 9,
# missed_object 4, box_loose 2 + 1 = 3 (16 in all).
EXPECTED = (
    Contributor("annotator_id", "a1", 8, 8 / 14),
    Contributor("annotator_id", "a2", 5, 5 / 14),
    Contributor("annotator_id", "a3", 1, 1 / 14),
    Contributor("error_category", "label_wrong", 9, 9 / 16),
    Contributor("error_category", "missed_object", 4, 4 / 16),
    Contributor("error_category", "box_loose", 3, 3 / 16),
)


def test_an_audit_alert_names_its_annotators_and_error_categories_by_default() -> None:
    ev = Evaluator(ruleset(quality()))  # no ``explain``: annotators, then error categories
    _feed(ev)
    ev.add_errors(T0, [_rows(0, "a9", "label_wrong", 50, vendor="v2")])  # not v1's
    ev.add_errors(T0 + 300, [_rows(300, "a1", "label_wrong", 70)])  # the next window's
    fired = _vendor(step(ev, 300))
    assert fired.value == pytest.approx(16 / 30)
    assert fired.explanation == EXPECTED


def test_explain_can_name_error_categories_alone_and_an_annotator_rule_gets_them() -> None:
    only = quality(explain=["error_category"])
    person = quality(
        name="annotator_low", scope=["project_id", "vendor_id", "annotator_id"], min_samples=5
    )
    ev = Evaluator(ruleset(only, person))
    _feed(ev)
    events = step(ev, 300)
    vendor = _vendor([e for e in events if e.rule == "vendor_quality_low"])
    assert vendor.explanation == EXPECTED[3:]
    a1 = next(e for e in events if e.rule == "annotator_low" and e.scope["annotator_id"] == "a1")
    # a1's own errors: label_wrong 5 + 1, box_loose 2
    assert a1.explanation == (
        Contributor("error_category", "label_wrong", 6, 6 / 8),
        Contributor("error_category", "box_loose", 2, 2 / 8),
    )
    with pytest.raises(RulesError, match="unknown dimension"):
        ruleset(quality(name="x", explain=["error_kind"]))


def test_a_rule_on_another_metric_keeps_no_error_counts() -> None:
    aht = quality(name="aht", metric="aht_s", op=">", threshold=1, min_samples=1)
    ev = Evaluator(ruleset(aht))
    _feed(ev)
    stored = ev.state()["rules"]["aht"]["breakdowns"]
    assert {dim for _, dim, _ in stored} == {"annotator_id"}


def test_error_counts_survive_a_restart_mid_window() -> None:
    rules = ruleset(quality())
    ev = Evaluator(rules)
    _feed(ev, ERRORS[:3])
    ev = restart(ev, rules)
    for offset, annotator, category, n in ERRORS[3:]:
        ev.add_errors(T0 + offset, [_rows(offset, annotator, category, n)])
    assert _vendor(step(ev, 300)).explanation == EXPECTED


def _closed() -> list[ClosedWindow]:
    windows = []
    for i, (annotator, (approved, total)) in enumerate(ANNOTATORS.items()):
        start = T0 + i * 60
        errors = {
            (key(start, annotator=a), category): n
            for offset, a, category, n in ERRORS
            if T0 + offset == start
        }
        aggregates = {key(start, annotator=annotator): audits(approved, total)}
        windows.append(ClosedWindow(0, start, aggregates, errors=errors))
    last = T0 + 180
    windows.append(
        ClosedWindow(0, last, {}, errors={(key(last, annotator="a1"), "label_wrong"): 1})
    )
    return windows


def _stage_events(records: list[bytes]) -> list[AlertEvent]:
    stage = AlertStage(ruleset(quality()), 1)
    for offset, record in enumerate(records):
        stage.apply(offset, record)
    return stage.new_events(stage.evaluate(NOW))


@pytest.mark.parametrize("piece_keys", [2000, 2])
def test_the_windows_topic_hands_the_error_counts_to_the_stage(
    monkeypatch: pytest.MonkeyPatch, piece_keys: int
) -> None:
    monkeypatch.setattr(handoff, "PIECE_KEYS", piece_keys)  # 2: counts split across pieces
    records = encode_reports(0, T0 + 300, False, _closed())
    assert _vendor(_stage_events(records)).explanation == EXPECTED


def test_an_older_record_without_error_counts_still_reads() -> None:
    """Pieces as written before error counts travelled: ``[start, rows]`` entries only."""
    entries = [
        [T0 + i * 60, [[*key(T0 + i * 60, annotator=a)[1:], *audits(ok, n)]]]
        for i, (a, (ok, n)) in enumerate(ANNOTATORS.items())
    ]
    piece = orjson.dumps({"k": "piece", "p": 0, "a": "old", "m": entries})
    mark = {"k": "mark", "p": 0, "a": "old", "n": 1, "closed_before": T0 + 300, "idle": False}
    fired = _vendor(_stage_events([piece, orjson.dumps(mark)]))
    assert fired.value == pytest.approx(16 / 30)
    assert fired.explanation == EXPECTED[:3]


def test_a_close_hands_on_the_error_counts_of_the_closed_minutes_only() -> None:
    store = WindowStore()
    k0, k1, k2 = key(T0), key(T0 + 60, annotator="a2"), key(T0 + 120)
    store.errors = {(k0, "label_wrong"): 2, (k0, "box_loose"): 0, (k1, "label_wrong"): 1}
    store.errors[(k2, "label_wrong")] = 4  # not closed yet
    assert store.closing_errors(T0, T0 + 120) == {
        T0: {(k0, "label_wrong"): 2},  # a count retracted to zero goes
        T0 + 60: {(k1, "label_wrong"): 1},
    }
