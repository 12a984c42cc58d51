"""Aggregates, rules and a four-partition windows topic shared by the alert tests.

The evaluator's, the handoff's and the stage's unit tests (``tests/unit/alerts/``)
and the alert stage runtime's (``tests/unit/streams/test_alert_stage.py``) judge
the same stream with incidents, so it is built in one place. Times are epoch
seconds from T0 = 2024-01-01T00:00:00Z.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from alerts import handoff
from alerts.evaluator import Evaluator, WindowKey
from alerts.handoff import ClosedWindow, encode_reports
from alerts.rules import RuleSet, rules_from_data
from schemas.metrics import (
    AGGREGATE_FIELDS,
    KEY_DIMENSIONS,
    MAX_FIELDS,
    MICRO,
    MICRO_FIELD_NAMES,
)

T0 = 1_704_067_200  # 2024-01-01T00:00:00Z
NOW = datetime(2024, 1, 1, 12, tzinfo=UTC)  # wall clock, only for silences


def key(
    minute: int,
    *,
    project: str = "p1",
    queue: str = "q1",
    vendor: str = "v1",
    annotator: str = "a1",
) -> WindowKey:
    return (minute, project, queue, vendor, "zh-CN", "human", annotator)


def agg(**fields: float) -> list[int]:
    """An aggregate vector; seconds are given in seconds and stored in micro-units."""
    vector = [0] * len(AGGREGATE_FIELDS)
    for name, value in fields.items():
        index = AGGREGATE_FIELDS.index(name)
        vector[index] = round(value * MICRO) if name in MICRO_FIELD_NAMES else int(value)
    return vector


def ruleset(*rules: dict[str, Any], inhibit: list[dict[str, Any]] | None = None) -> RuleSet:
    return rules_from_data(
        {
            "version": 1,
            "rules": list(rules),
            "receivers": {"log": {"type": "stdout"}},
            "inhibit": inhibit or [],
        }
    )


def quality(**overrides: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "name": "vendor_quality_low",
        "metric": "audit_pass_rate",
        "scope": ["project_id", "vendor_id"],
        "window": "5m",
        "op": "<",
        "threshold": 0.85,
        "min_samples": 10,
        "receivers": ["log"],
    }
    rule.update(overrides)
    return rule


def stalled(**overrides: Any) -> dict[str, Any]:
    rule = quality(
        name="queue_stalled",
        metric="throughput_per_hour",
        scope=["project_id", "queue_id"],
        threshold=1,
        min_samples=0,
        **{"for": 2},
    )
    rule.update(overrides)
    return rule


def anomaly(**overrides: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "name": "aht_anomaly",
        "type": "anomaly",
        "metric": "aht_s",
        "scope": ["project_id", "queue_id"],
        "window": "5m",
        "baseline_windows": 4,
        "z": 3,
        "direction": "above",
        "min_samples": 10,
        "receivers": ["log"],
    }
    rule.update(overrides)
    return rule


def reference_add_minute(
    ev: Evaluator, window_start: int, aggregates: Mapping[WindowKey, list[int]]
) -> None:
    if not ev._admit(window_start) or not aggregates:
        return
    for rule in ev._rules.rules:
        positions = [1 + KEY_DIMENSIONS.index(dim) for dim in rule.scope]
        start = window_start - window_start % rule.window
        bucket = ev._states[rule.name].partials.setdefault(start, {})
        for window_key, values in aggregates.items():
            assert len(values) == len(AGGREGATE_FIELDS)
            series_key = tuple(window_key[p] for p in positions)
            acc = bucket.get(series_key)
            if acc is None:
                bucket[series_key] = list(values)
                continue
            for i, value in enumerate(values):
                is_max = AGGREGATE_FIELDS[i] in MAX_FIELDS
                acc[i] = max(acc[i], value) if is_max else acc[i] + value
        # The same minute broken down one level below, for explanations (not for
        # throughput or trailing rules, which nothing explains yet).
        if rule.trailing or rule.metric == "throughput_per_hour":
            continue
        for dim in rule.explain:
            if dim == "error_category":
                continue  # counted from the error rows handed over beside (``add_errors``)
            parts = ev._states[rule.name].breakdowns.setdefault(start, {}).setdefault(dim, {})
            below = 1 + KEY_DIMENSIONS.index(dim)
            for window_key, values in aggregates.items():
                part_key = (*(window_key[p] for p in positions), window_key[below])
                acc = parts.get(part_key)
                if acc is None:
                    parts[part_key] = list(values)
                    continue
                for i, value in enumerate(values):
                    is_max = AGGREGATE_FIELDS[i] in MAX_FIELDS
                    acc[i] = max(acc[i], value) if is_max else acc[i] + value


STREAM_RULES = ruleset(
    quality(**{"for": 2}, resolve_threshold=0.9, min_samples=4),
    # Same scope and window as vendor_quality_low: the two share partial windows.
    quality(name="vendor_rework_high", metric="rework_rate", op=">", threshold=0.3, min_samples=4),
    quality(
        name="annotator_quality_low",
        scope=["project_id", "vendor_id", "annotator_id"],
        threshold=0.7,
        min_samples=3,
        **{"for": 3},
    ),
    quality(
        name="annotator_quality_15m",
        scope=["project_id", "vendor_id", "annotator_id"],
        window="15m",
        threshold=0.75,
        min_samples=6,
    ),
    stalled(threshold=30, repeat_interval="10m"),
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
    stalled(name="all_quiet", scope=[], window="15m", threshold=1000, **{"for": 1}),
    inhibit=[
        {
            "source": {"rule": "vendor_quality_low"},
            "target_scope_contains": ["project_id", "vendor_id"],
            "target_rules": ["annotator_quality_low"],
        }
    ],
)
STREAM_MINUTES = 100
IDLE = range(80, 86)  # partition 3 reports idle, then closes these minutes late, all at once


def stream_minute(rng: random.Random, p: int, m: int) -> dict[WindowKey, list[int]]:
    """One closed minute of project p{p} (input partition p), with incidents."""
    minute = T0 + m * 60
    data: dict[WindowKey, list[int]] = {}
    for queue in ("q1", "q2"):
        if p == 1 and queue == "q2" and 30 <= m < 50:
            continue  # a stalled queue
        if 60 <= m < 75 and p != 0:
            continue  # a quiet spell everywhere but p0
        for vendor, annotator in (("v1", "a1"), ("v1", "a2"), ("v2", "a3")):
            if rng.random() < 0.15:
                continue
            tasks, audited = rng.randint(1, 4), rng.randint(0, 3)
            rate = 0.95
            if vendor == "v1" and p == 0 and 20 <= m < 40:
                rate = 0.5
            if annotator == "a3" and 55 <= m < 70:
                rate = 0.4
            if p == 3 and vendor == "v2" and m in IDLE:
                rate = 0.2  # only seen if these late minutes are applied before evaluation
            approved = sum(rng.random() < rate for _ in range(audited))
            aht = 400 if (p == 0 and queue == "q1" and 60 <= m < 65) else 60 + rng.randint(0, 20)
            data[key(minute, project=f"p{p}", queue=queue, vendor=vendor, annotator=annotator)] = (
                agg(
                    tasks_submitted=tasks,
                    rework_submitted=rng.randint(0, tasks) if m % 17 == 0 else 0,
                    handle_time_sum_s=tasks * aht,
                    handle_time_max_s=aht,
                    turnaround_count=tasks,
                    turnaround_max_s=2000 if (p == 3 and m == 45) else rng.randint(60, 500),
                    audits=audited,
                    audits_approved=approved,
                )
            )
    return data


def closed(p: int, minutes: list[int], data: Mapping[int, Any]) -> list[ClosedWindow]:
    return [ClosedWindow(p, T0 + m * 60, data[p, m]) for m in minutes]


def windows_topic(monkeypatch: pytest.MonkeyPatch) -> tuple[list[bytes], list[int]]:
    """The windows topic of four partitions, and where each checkpoint round ends.

    Small pieces (several per attempt); one crashed attempt (pieces, no mark)
    re-sent under a new attempt; partition 3 idle for a few rounds, then late.
    """
    monkeypatch.setattr(handoff, "PIECE_KEYS", 4)
    rng = random.Random(7)
    data = {(p, m): stream_minute(rng, p, m) for m in range(STREAM_MINUTES) for p in range(4)}
    records: list[bytes] = []
    rounds: list[int] = []
    for m in range(STREAM_MINUTES):
        closed_before = T0 + (m + 1) * 60
        for p in range(4):
            if p == 3 and m in IDLE:
                records += encode_reports(p, T0 + IDLE[0] * 60, True, [])
                continue
            minutes = [*IDLE, m] if p == 3 and m == IDLE[-1] + 1 else [m]
            if p == 2 and m == 50:  # crashed mid-checkpoint: pieces without their mark
                records += encode_reports(p, closed_before, False, closed(p, minutes, data))[:-1]
            records += encode_reports(p, closed_before, False, closed(p, minutes, data))
        rounds.append(len(records))
    return records, rounds
