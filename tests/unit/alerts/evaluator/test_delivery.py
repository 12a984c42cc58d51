"""Delivery rules on hand-built forecast sequences: a stalled queue, recovering
throughput, a deadline that passes; the lifecycle, the text and the snapshot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from alerts.evaluator.delivery import DeliveryEvaluator
from alerts.forecast_record import FORECAST_FIELDS
from alerts.model import AlertEvent
from alerts.rules import RulesError, parse_rules
from alerts.stage import AlertStage

T0 = 1_796_637_600  # 2026-12-07 10:00 UTC, a whole minute
HOUR_US = 3_600_000_000
DUE_US = (T0 + 6 * 3600) * 1_000_000  # 16:00
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)

RULES = """
version: 1
rules:
  - name: delivery_late
    type: delivery
    metric: slack_h
    op: "<"
    threshold: 0
    resolve_threshold: 1
    for: 2
    receivers: [log]
  - name: understaffed
    type: delivery
    metric: annotators_gap
    op: ">"
    threshold: 3
    window: 5m
    annotations:
      summary: "{queue_id}: {annotators_gap:.0f} more needed ({annotators_active:.0f} active)"
    receivers: [log]
receivers:
  log: {type: stdout}
"""


def record(
    minute: int,
    *,
    open_tasks: int = 1200,
    per_hour: float = 100.0,
    due_us: int | None = DUE_US,
    needed: float | None = 10.0,
    active: int = 8,
) -> list[Any]:
    """A forecast as the worker computes it (schemas.forecast), for minute ``minute``."""
    now_us = (minute + 60) * 1_000_000
    eta = None if per_hour == 0 else now_us + round(open_tasks / per_hour * HOUR_US)
    slack = None if eta is None or due_us is None else (due_us - eta) / HOUR_US
    values = {
        "project_id": "医疗影像标注",
        "queue_id": "队列-分割",
        "now_us": now_us,
        "open_tasks": open_tasks,
        "throughput_per_hour": per_hour,
        "window_s": 7200,
        "eta_us": eta,
        "due_us": due_us,
        "slack_h": slack,
        "annotators_needed": needed,
        "annotators_active": active,
        "annotators_gap": None if needed is None else needed - active,
    }
    return [values[name] for name in FORECAST_FIELDS]


def run(evaluator: DeliveryEvaluator, records: list[list[Any]]) -> list[AlertEvent]:
    events = []
    for rec in records:
        minute = rec[FORECAST_FIELDS.index("now_us")] // 1_000_000 - 60
        evaluator.add(minute, [rec])
        events += evaluator.advance(minute + 60, NOW)
    return events


def test_a_queue_that_falls_behind_fires_after_for_and_resolves_with_hysteresis() -> None:
    rules = parse_rules(RULES)
    evaluator = DeliveryEvaluator(rules)
    # 1,200 open at 100/h: 12 h, the deadline is in ~6 h: 6 h late.
    late = [record(T0 + 60 * i) for i in range(3)]
    # Throughput recovers to 300/h: 4 h, ~2 h early, above the resolve threshold of 1 h.
    recovered = [record(T0 + 60 * i, per_hour=300.0) for i in range(3, 5)]
    events = [e for e in run(evaluator, late + recovered) if e.rule == "delivery_late"]
    assert [(e.status, e.window_start.minute) for e in events] == [
        ("firing", 1),
        ("resolved", 3),
    ]
    fired, resolved = events
    assert fired.starts_at.minute == 0  # the first breaching window of the run
    assert fired.value == pytest.approx(-6.0, abs=0.05)
    text = fired.annotations["forecast"]
    assert text.startswith("at 100 tasks/h the queue finishes Mon 07 Dec 22:02 UTC, 6h 02m after")
    assert "after the deadline (Mon 07 Dec 16:00 UTC)" in text
    assert text.endswith("; 2 more annotators at today's AHT would close the gap")
    assert fired.annotations["summary"] == f"队列-分割 (医疗影像标注): {text}"
    assert "before the deadline" in resolved.annotations["forecast"]


def test_between_threshold_and_resolve_threshold_keeps_firing() -> None:
    evaluator = DeliveryEvaluator(parse_rules(RULES))
    # 6 h late twice (fires), then 0.5 h early: above 0, below the resolve threshold 1.
    seq = [record(T0), record(T0 + 60), record(T0 + 120, open_tasks=550)]
    events = [e for e in run(evaluator, seq) if e.rule == "delivery_late"]
    assert [e.status for e in events] == ["firing"]


def test_a_stalled_queue_breaches_without_an_eta() -> None:
    evaluator = DeliveryEvaluator(parse_rules(RULES))
    seq = [record(T0 + 60 * i, per_hour=0.0) for i in range(2)]
    events = [e for e in run(evaluator, seq) if e.rule == "delivery_late"]
    assert [e.status for e in events] == ["firing"]
    assert events[0].value is None
    assert (
        events[0]
        .annotations["forecast"]
        .startswith("the queue is stalled: 1,200 tasks open and none submitted in the last 2h")
    )


def test_a_passed_deadline_keeps_it_firing_and_says_so() -> None:
    evaluator = DeliveryEvaluator(parse_rules(RULES))
    due = (T0 + 60) * 1_000_000  # 10:01
    seq = [record(T0 + 60 * i, due_us=due, needed=None) for i in range(4)]
    events = [e for e in run(evaluator, seq) if e.rule == "delivery_late"]
    assert [e.status for e in events] == ["firing"]
    assert evaluator.advance(T0 + 300, NOW) == []
    assert (
        events[0]
        .annotations["forecast"]
        .endswith("; the deadline has passed with 1,200 tasks open")
    )


def test_no_forecast_is_no_data_and_no_deadline_never_breaches() -> None:
    evaluator = DeliveryEvaluator(parse_rules(RULES))
    seq = [record(T0 + 60 * i, due_us=None) for i in range(4)]
    assert [e for e in run(evaluator, seq) if e.rule == "delivery_late"] == []


def test_the_staffing_rule_uses_its_window_and_its_template() -> None:
    evaluator = DeliveryEvaluator(parse_rules(RULES))
    seq = [record(T0 + 60 * i, needed=20.0, active=5) for i in range(5)]
    events = [e for e in run(evaluator, seq) if e.rule == "understaffed"]
    assert [(e.status, e.window_end.minute) for e in events] == [("firing", 5)]
    assert events[0].annotations["summary"] == "队列-分割: 15 more needed (5 active)"
    assert events[0].value == 15.0


def test_a_restored_state_neither_refires_nor_loses_the_resolve() -> None:
    rules = parse_rules(RULES)
    first = DeliveryEvaluator(rules)
    run(first, [record(T0 + 60 * i) for i in range(3)])
    second = DeliveryEvaluator(rules, state=first.state())
    later = run(second, [record(T0 + 60 * i, per_hour=300.0) for i in range(3, 5)])
    assert [e.status for e in later if e.rule == "delivery_late"] == ["resolved"]


def test_the_alert_stage_routes_forecasts_to_the_delivery_rules() -> None:
    from alerts.handoff import ClosedWindow, encode_reports

    stage = AlertStage(parse_rules(RULES), partitions=1)
    offset = 0
    for i in range(3):
        window = ClosedWindow(0, T0 + 60 * i, {}, [record(T0 + 60 * i)])
        for value in encode_reports(0, T0 + 60 * (i + 1), False, [window]):
            stage.apply(offset, value)
            offset += 1
    events = stage.evaluate(NOW)
    assert [(e.rule, e.status) for e in events] == [("delivery_late", "firing")]
    restored = AlertStage(parse_rules(RULES), partitions=1)
    restored.restore(stage.snapshot())
    assert restored.delivery.state() == stage.delivery.state()


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ("metric: slack_h", "metric: throughput"),
        (
            "type: delivery\n    metric: slack_h",
            "type: delivery\n    metric: slack_h\n    scope: [project_id]",
        ),
    ],
)
def test_the_checker_refuses_a_wrong_delivery_rule(patch: str, message: str) -> None:
    with pytest.raises(RulesError) as caught:
        parse_rules(RULES.replace(patch, message, 1))
    text = str(caught.value)
    assert "line 6" in text or "line 7" in text or "line 8" in text, text
    assert "delivery" in text or "scope" in text


def test_the_shipped_rules_with_their_inhibit_rule_evaluate_delivery() -> None:
    from pathlib import Path

    from alerts.rules import load_rules

    shipped = load_rules(Path(__file__).parents[4] / "alerts" / "examples" / "rules.yaml")
    assert shipped.inhibit  # an inhibit rule whose source is not a delivery rule
    stage = AlertStage(shipped, partitions=1)
    events = run(stage.delivery, [record(T0 + 60 * i, per_hour=0.0) for i in range(10)])
    assert [(e.rule, e.status) for e in events] == [("delivery_at_risk", "firing")]


def test_the_evaluator_of_sums_leaves_delivery_rules_alone() -> None:
    from alerts.evaluator import Evaluator
    from schemas.metrics import AGGREGATE_FIELDS

    rules = parse_rules(
        RULES.replace(
            "receivers:\n  log:",
            "inhibit:\n  - source: {rule: delivery_late}\n"
            "    target_scope_contains: [project_id]\nreceivers:\n  log:",
            1,
        )
    )
    assert rules.inhibit
    evaluator = Evaluator(rules)  # a delivery rule has no rate of sums: it is skipped
    key = (T0, "p", "q", "", "und", "human", "a")
    evaluator.add_minute(T0, {key: [1] * len(AGGREGATE_FIELDS)})
    assert evaluator.advance(T0 + 600, NOW) == []
    assert evaluator.state()["rules"] == {}


def test_many_forecasts_are_split_across_pieces_and_all_arrive() -> None:
    from alerts.handoff import PIECE_KEYS, ClosedWindow, decode, encode_reports

    many = []
    for i in range(2 * PIECE_KEYS + 7):
        rec = record(T0)
        rec[FORECAST_FIELDS.index("queue_id")] = f"q{i}"
        many.append(rec)
    values = encode_reports(0, T0 + 60, False, [ClosedWindow(0, T0, {}, many)])
    assert len(values) == 4  # three pieces and the mark
    sizes = []
    for value in values[:-1]:
        piece = decode(value)
        assert piece is not None and hasattr(piece, "minutes")
        sizes.append(sum(len(entry[2]) for entry in piece.minutes if len(entry) > 2))
    assert sizes == [PIECE_KEYS, PIECE_KEYS, 7]
    stage = AlertStage(parse_rules(RULES), partitions=1)
    for offset, value in enumerate(values):
        stage.apply(offset, value)
    assert len(stage.delivery.state()["forecasts"][0][1]) == 2 * PIECE_KEYS + 7
