"""``streams.publishing``: where each event type goes (the one route of ingest and the gateway)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from schemas import DecodeError
from streams.publishing import Publication, Routes

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
ROUTES = Routes("in.completed", "in.audited", "in.dead")
COMMON = {"schema_version": 1, "event_id": "e-1", "project_id": "医疗影像标注"}
SNAPSHOT = {
    **COMMON,
    "event_type": "queue_status",
    "occurred_at": "2026-12-07T18:00:00+08:00",
    "queue_id": "队列-分割",
    "open_tasks": 1240,
}
AUDIT = {
    **COMMON,
    "event_type": "task_audited",
    "occurred_at": "2026-12-07T18:00:00+08:00",
    "queue_id": "队列-分割",
    "task_id": "t-1",
    "annotator_id": "a-1",
    "vendor_id": "v-1",
    "locale": "zh-CN",
    "source": "human",
    "auditor_id": "r-1",
    "verdict": "approve",
    "audit_kind": "spot",
}


@pytest.mark.parametrize(
    ("event", "topic"),
    [(SNAPSHOT, "in.completed"), (AUDIT, "in.audited")],
    ids=["queue_status", "task_audited"],
)
def test_an_event_goes_to_its_types_topic_keyed_by_project(
    event: dict[str, object], topic: str
) -> None:
    """Queue snapshots share the completed-tasks topic (docs/architecture.md, "Delivery")."""
    publication = Publication(ROUTES, "gateway")
    raw = orjson.dumps(event)
    decoded = publication.decode(raw, NOW)
    assert not isinstance(decoded, DecodeError), decoded
    record = publication.event(decoded, raw)
    assert (record.topic, record.key, record.value, record.reason) == (
        topic,
        "医疗影像标注".encode(),
        raw,
        None,
    )
