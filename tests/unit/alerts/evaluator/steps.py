"""Feeding the evaluator hand-built minutes and reading its events, for the evaluator tests.

Times are epoch seconds from T0 = 2024-01-01T00:00:00Z; every expected value
in the tests is computed by hand from the aggregates fed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import strategies as st

from alerts.evaluator import Evaluator, WindowKey
from alerts.model import AlertEvent, fingerprint
from alerts.rules import RuleSet
from tests.alert_windows import NOW, T0, agg, key, quality, ruleset

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


def restart(ev: Evaluator, rules: RuleSet) -> Evaluator:
    return Evaluator(rules, state=orjson.loads(orjson.dumps(ev.state())))


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
