"""``queue_status``: the decoder (both paths), its dead-letter reasons, the JSON Schema,
ingest's routing, and the latest-snapshot order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jsonschema
import orjson
import pytest

from schemas.decode import ContractDecoder, DecodeError
from schemas.export import json_schema
from schemas.queue_status import QueueStatus, snapshot_order

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
VALID: dict[str, Any] = {
    "event_type": "queue_status",
    "schema_version": 1,
    "event_id": "qs-1",
    "occurred_at": "2026-12-07T18:00:00+08:00",
    "project_id": "医疗影像标注",
    "queue_id": "队列-分割",
    "open_tasks": 1240,
    "in_progress": 12,
    "target_total": 50000,
    "due_at": "2026-12-11T18:00:00+08:00",
}


def _decode(data: dict[str, Any]) -> Any:
    raw = orjson.dumps(data)
    decoded = ContractDecoder().decode(raw, NOW)
    reference = ContractDecoder().decode_reference(raw, NOW)
    assert decoded == reference  # the worker's decoder and the whole contract agree
    return decoded


def test_a_snapshot_decodes_with_its_fields() -> None:
    event = _decode(VALID)
    assert type(event) is QueueStatus
    assert event.open_tasks == 1240 and event.in_progress == 12 and event.target_total == 50000
    assert event.due_at == datetime(2026, 12, 11, 10, tzinfo=UTC)
    only = {k: VALID[k] for k in list(VALID)[:7]}  # the optional fields absent
    minimal = _decode(only)
    assert (minimal.in_progress, minimal.target_total, minimal.due_at) == (None, None, None)
    jsonschema.validate(VALID, json_schema("queue_status"))
    jsonschema.validate(only, json_schema("queue_status"))


@pytest.mark.parametrize(
    ("change", "reason", "field"),
    [
        ({"open_tasks": None}, "invalid_field", "open_tasks"),
        ({"open_tasks": -1}, "invalid_field", "open_tasks"),
        ({"open_tasks": 2**32}, "invalid_field", "open_tasks"),
        ({"open_tasks": "12"}, "invalid_field", "open_tasks"),
        ({"open_tasks": 1.5}, "invalid_field", "open_tasks"),
        ({"in_progress": -3}, "invalid_field", "in_progress"),
        ({"target_total": True}, "invalid_field", "target_total"),
        ({"due_at": "2026-12-11T18:00:00"}, "invalid_field", "due_at"),
        ({"queue_id": "a\u202eb"}, "invalid_field", "queue_id"),
        ({"schema_version": 2}, "unsupported_version", "schema_version"),
        ({"event_type": "queue_state"}, "unknown_event_type", "event_type"),
    ],
)
def test_what_is_refused_and_why(change: dict[str, Any], reason: str, field: str) -> None:
    decoded = _decode({**VALID, **change})
    assert isinstance(decoded, DecodeError)
    assert (decoded.reason, decoded.field) == (reason, field)
    if reason == "invalid_field" and field != "due_at":  # a naive time: JSON Schema's gap
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**VALID, **change}, json_schema("queue_status"))


def test_a_missing_count_is_a_missing_field_and_the_message_names_it() -> None:
    data = dict(VALID)
    del data["open_tasks"]
    decoded = _decode(data)
    assert isinstance(decoded, DecodeError)
    assert (decoded.reason, decoded.message) == (
        "missing_field",
        "open_tasks: required field is missing",
    )
    assert decoded.event_type == "queue_status" and decoded.event_id == "qs-1"


def test_retracted_is_ignored_on_a_snapshot() -> None:
    assert type(_decode({**VALID, "retracted": True})) is QueueStatus


def test_the_latest_snapshot_is_the_greatest_time_then_event_id_by_bytes() -> None:
    def snap(event_id: str, occurred_at: str) -> QueueStatus:
        return QueueStatus.model_validate(
            {**VALID, "event_id": event_id, "occurred_at": occurred_at}
        )

    same = "2026-12-07T10:00:00Z"
    snaps = [snap("b", same), snap("a", same), snap("é", same), snap("z", "2026-12-07T09:59:59Z")]
    assert max(snaps, key=snapshot_order).event_id == "é"  # U+00E9 is above "b" in UTF-8
    assert min(snaps, key=snapshot_order).event_id == "z"


def test_ingest_routes_snapshots_to_the_completed_tasks_topic() -> None:
    from streams.ingest import ingest
    from streams.settings import Settings

    sent: list[tuple[str, bytes | None]] = []

    class Producer:
        def send(self, topic: str, key: bytes | None = None, value: bytes = b"") -> Any:
            sent.append((topic, key))

            class Done:
                def get(self, timeout: float) -> None:
                    return None

            return Done()

        def flush(self) -> None:
            return None

    settings = Settings(_env_file=None, max_future_skew=3650 * 86400.0)  # type: ignore[call-arg]
    result = ingest(settings, [orjson.dumps(VALID)], producer=Producer())
    assert result.published == 1
    assert sent == [(settings.topic_task_completed, "医疗影像标注".encode())]
