"""Events and how to feed them to a partition, for the tests of the partition state's parts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from schemas.decode import ContractDecoder
from schemas.metrics import AGGREGATE_FIELDS
from streams.partition import PartitionState
from tests.oracle import generate

TASKS = "annotation.task-completed"
AUDITS = "annotation.task-audited"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SUBMITTED = AGGREGATE_FIELDS.index("tasks_submitted")
AUDITS_IDX = AGGREGATE_FIELDS.index("audits")
DECODER = ContractDecoder(1 << 20, 10 * 365 * 86400)
NOW = datetime(2027, 1, 1, tzinfo=UTC)
ORACLE_TOPICS = {"task_completed": TASKS, "task_audited": AUDITS}


def completed(event_id: str, minute: float, project: str = "项目甲") -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "event_type": "task_completed",
            "event_id": event_id,
            "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(),
            "project_id": project,
            "queue_id": "队列",
            "task_id": "t-" + event_id,
            "annotator_id": "标注员-1",
            "vendor_id": None,
            "locale": "zh-CN",
            "source": "human",
            "status": "submitted",
            "handle_time_s": 12.5,
        }
    )


def audited(event_id: str, minute: float, task_id: str | None = None) -> bytes:
    """An audit of its own piece of work (task ``t-<event_id>``), unless ``task_id`` says."""
    return orjson.dumps(
        {
            "schema_version": 1,
            "event_type": "task_audited",
            "event_id": event_id,
            "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(),
            "project_id": "项目甲",
            "queue_id": "队列",
            "task_id": task_id or "t-" + event_id,
            "annotator_id": "标注员-1",
            "auditor_id": "审核员",
            "vendor_id": None,
            "locale": "zh-CN",
            "source": "human",
            "verdict": "approve",
            "score": 0.9,
            "error_categories": ["漏标"],
        }
    )


def feed(state: PartitionState, topic: str, raw: bytes) -> str:
    offset = state.offsets.get(topic, 0)
    return state.process(DECODER.decode(raw, NOW), raw, topic, offset)


def new_state() -> PartitionState:
    return PartitionState(0, lateness_us=120 * 10**6, retention_us=3600 * 10**6)


def minute_start(minute: int) -> int:
    return int((T0 + timedelta(minutes=minute)).timestamp())


def oracle_lines(seed: int, count: int) -> list[bytes]:
    return generate(seed=seed, count=count).lines


def topic_of(raw: bytes) -> str:
    try:
        return ORACLE_TOPICS.get(orjson.loads(raw).get("event_type"), TASKS)
    except (orjson.JSONDecodeError, AttributeError):
        return TASKS


def checkpointed_run(
    lines: list[bytes], every: int, **options: int | bool
) -> tuple[PartitionState, list[str], list[dict[str, object]]]:
    """Feed lines with a checkpoint every ``every`` lines; returns state, results, records."""
    state = PartitionState(0, lateness_us=120 * 10**6, retention_us=6 * 3600 * 10**6, **options)
    results = []
    records = []
    for i, raw in enumerate(lines):
        results.append(feed(state, topic_of(raw), raw))
        if i % every == every - 1 or i == len(lines) - 1:
            state.move_watermark()
            state.advance(close_all=i == len(lines) - 1)
            state.next_version(1)
            delta = state.delta()
            records.append(
                {"windows": sorted(delta["windows"], key=repr), "errors": sorted(delta["errors"])}
            )
            state.mark_checkpointed()
    return state, results, records


def held(state: PartitionState) -> dict[str, Any]:
    """What the state holds, packed or not, but offsets and counters (every message moves them)."""
    return {
        "windows": dict(state.windows.items()),
        "errors": dict(state.errors.items()),
        "seen": set(state.seen),
        "by_minute": {m: sorted(marks) for m, marks in state.marks.by_minute.items()},
        "clock": (state.max_event_us, dict(state.topic_max), state.closed_before),
        "pending": state.accepted,
        "dirty": (set(state.dirty_windows), set(state.dirty_errors)),
        "projects": dict(state.marks.project_base),
        "entities": (dict(state.entities.records), set(state.entities.dirty)),
        "entity_minutes": {m: list(v) for m, v in state.entities.by_minute.items()},
    }
