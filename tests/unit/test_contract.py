"""Contract v1: valid events round-trip byte-exact; each rule rejects with its reason."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import DeadLetter, DecodeError, Decoder, TaskAudited, TaskCompleted, encode_event
from schemas.export import json_schema
from tests.strategies import events, task_audited, task_completed

DECODER = Decoder()
NOW = datetime(2027, 1, 1, tzinfo=UTC)


def decode(data: dict[str, Any] | bytes) -> Any:
    raw = data if isinstance(data, bytes) else orjson.dumps(data)
    return DECODER.decode(raw, NOW)


@given(events)
@settings(max_examples=300)
def test_valid_events_round_trip_unchanged(data: dict[str, Any]) -> None:
    event = decode(data)
    assert not isinstance(event, DecodeError), event
    again = decode(encode_event(event))
    assert again == event
    # String fields survive byte-exact (Chinese, emoji, quotes).
    for name in ("event_id", "project_id", "queue_id", "task_id", "annotator_id"):
        assert getattr(event, name).encode() == data[name].encode()
    assert event.vendor_id == (data.get("vendor_id") or "")


@given(events)
@settings(max_examples=100)
def test_valid_events_validate_against_exported_json_schema(data: dict[str, Any]) -> None:
    model = TaskCompleted if data["event_type"] == "task_completed" else TaskAudited
    jsonschema.validate(data, json_schema(model))


def _valid_completed() -> dict[str, Any]:
    return {
        "event_type": "task_completed",
        "schema_version": 1,
        "event_id": "事件-1",
        "occurred_at": "2026-11-23T08:15:00.5+08:00",
        "project_id": "医疗影像标注",
        "queue_id": "队列A",
        "task_id": "t-1",
        "annotator_id": "标注员-007",
        "vendor_id": "vendor-b",
        "status": "submitted",
        "handle_time_s": 42.5,
        "is_gold": True,
        "gold_correct": True,
    }


def _valid_audited() -> dict[str, Any]:
    return {
        "event_type": "task_audited",
        "schema_version": 1,
        "event_id": "审核-1",
        "occurred_at": "2026-11-23T00:15:00Z",
        "project_id": "医疗影像标注",
        "queue_id": "队列A",
        "task_id": "t-1",
        "annotator_id": "标注员-007",
        "auditor_id": "审核员-1",
        "verdict": "reject",
        "score": 0.4,
        "error_categories": ["漏标", "边界不准"],
    }


def _without(data: dict[str, Any], name: str) -> dict[str, Any]:
    data = dict(data)
    del data[name]
    return data


def _with(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**data, **changes}


C, A = _valid_completed(), _valid_audited()
FUTURE = (NOW + timedelta(hours=25)).isoformat()

# One case per rule of the contract table: (mutated message, reason, field).
MUTATIONS: list[tuple[str, Any, str, str | None]] = [
    ("not json", b"{not json", "invalid_json", None),
    ("invalid utf-8", b'{"a": "\xff"}', "invalid_json", None),
    ("array", b"[1, 2]", "not_an_object", None),
    ("string", b'"x"', "not_an_object", None),
    ("unknown type", _with(C, event_type="task_started"), "unknown_event_type", "event_type"),
    ("no type", _without(C, "event_type"), "unknown_event_type", "event_type"),
    ("version 2", _with(C, schema_version=2), "unsupported_version", "schema_version"),
    ("version '1'", _with(C, schema_version="1"), "unsupported_version", "schema_version"),
    ("no version", _without(C, "schema_version"), "missing_field", "schema_version"),
    ("no event_id", _without(C, "event_id"), "missing_field", "event_id"),
    ("empty event_id", _with(C, event_id=""), "invalid_field", "event_id"),
    ("long event_id", _with(C, event_id="x" * 129), "invalid_field", "event_id"),
    ("control char", _with(C, project_id="a\x07b"), "invalid_field", "project_id"),
    ("C1 control", _with(A, annotator_id="a\x85"), "invalid_field", "annotator_id"),
    ("no occurred_at", _without(C, "occurred_at"), "missing_field", "occurred_at"),
    ("naive time", _with(C, occurred_at="2026-11-23T08:15:00"), "invalid_field", "occurred_at"),
    ("epoch time", _with(C, occurred_at=1763856000), "invalid_field", "occurred_at"),
    ("bad date", _with(C, occurred_at="2026-02-30T00:00:00Z"), "invalid_field", "occurred_at"),
    ("future", _with(C, occurred_at=FUTURE), "future_timestamp", "occurred_at"),
    ("no queue", _without(A, "queue_id"), "missing_field", "queue_id"),
    ("no task", _without(C, "task_id"), "missing_field", "task_id"),
    ("no annotator", _without(A, "annotator_id"), "missing_field", "annotator_id"),
    ("empty vendor", _with(C, vendor_id=""), "invalid_field", "vendor_id"),
    ("long locale", _with(C, locale="x" * 36), "invalid_field", "locale"),
    ("bad source", _with(C, source="robot"), "invalid_field", "source"),
    ("no status", _without(C, "status"), "missing_field", "status"),
    ("bad status", _with(C, status="done"), "invalid_field", "status"),
    ("no handle time", _without(C, "handle_time_s"), "missing_field", "handle_time_s"),
    ("negative handle", _with(C, handle_time_s=-1), "invalid_field", "handle_time_s"),
    ("huge handle", _with(C, handle_time_s=86400.5), "invalid_field", "handle_time_s"),
    ("string handle", _with(C, handle_time_s="42"), "invalid_field", "handle_time_s"),
    (
        "created after",
        _with(C, task_created_at="2026-11-23T08:15:01+08:00"),
        "invalid_field",
        "task_created_at",
    ),
    ("attempt 0", _with(C, attempt=0), "invalid_field", "attempt"),
    ("attempt float", _with(C, attempt=1.5), "invalid_field", "attempt"),
    ("is_gold string", _with(C, is_gold="yes"), "invalid_field", "is_gold"),
    ("gold no answer", _without(C, "gold_correct"), "missing_field", "gold_correct"),
    (
        "answer not gold",
        _with(C, is_gold=False, gold_correct=True),
        "invalid_field",
        "gold_correct",
    ),
    ("long task_type", _with(C, task_type="x" * 65), "invalid_field", "task_type"),
    ("too many tags", _with(C, tags=["t"] * 33), "invalid_field", "tags"),
    ("long tag", _with(C, tags=["x" * 65]), "invalid_field", "tags.0"),
    ("no auditor", _without(A, "auditor_id"), "missing_field", "auditor_id"),
    ("no verdict", _without(A, "verdict"), "missing_field", "verdict"),
    ("bad verdict", _with(A, verdict="ok"), "invalid_field", "verdict"),
    ("score above 1", _with(A, score=1.01), "invalid_field", "score"),
    ("score string", _with(A, score="0.5"), "invalid_field", "score"),
    ("bad audit kind", _with(A, audit_kind="random"), "invalid_field", "audit_kind"),
    ("negative audit time", _with(A, audit_time_s=-0.1), "invalid_field", "audit_time_s"),
    ("long category", _with(A, error_categories=["x" * 65]), "invalid_field", "error_categories.0"),
]


def test_base_messages_are_valid() -> None:
    assert isinstance(decode(C), TaskCompleted)
    assert isinstance(decode(A), TaskAudited)


@pytest.mark.parametrize(
    ("case", "message", "reason", "field"), MUTATIONS, ids=[m[0] for m in MUTATIONS]
)
def test_each_rule_rejects_with_its_reason_and_field(
    case: str, message: Any, reason: str, field: str | None
) -> None:
    result = decode(message)
    assert isinstance(result, DecodeError), f"{case} was accepted"
    assert result.reason == reason
    assert result.field == field
    if field is not None:
        assert field.split(".")[0] in result.message


def test_too_large() -> None:
    small = Decoder(max_event_bytes=300)
    raw = orjson.dumps(_with(C, tags=["x" * 60] * 5))
    result = small.decode(raw, NOW)
    assert isinstance(result, DecodeError) and result.reason == "too_large"
    assert str(len(raw)) in result.message


@given(
    events,
    st.sampled_from(
        [
            "event_id",
            "project_id",
            "queue_id",
            "task_id",
            "annotator_id",
            "occurred_at",
            "event_type",
        ]
    ),
)
@settings(max_examples=200)
def test_any_valid_event_missing_a_required_field_is_rejected(
    data: dict[str, Any], name: str
) -> None:
    result = decode(_without(data, name))
    assert isinstance(result, DecodeError)
    expected = "unknown_event_type" if name == "event_type" else "missing_field"
    assert (result.reason, result.field) == (expected, name)


@given(task_completed(), st.integers(129, 300))
@settings(max_examples=50)
def test_overlong_identifier_is_rejected(data: dict[str, Any], length: int) -> None:
    result = decode(_with(data, annotator_id="标" * length))
    assert isinstance(result, DecodeError)
    assert (result.reason, result.field) == ("invalid_field", "annotator_id")


def test_unknown_fields_are_ignored() -> None:
    event = decode(_with(A, future_field={"nested": [1, 2]}, another="值"))
    assert isinstance(event, TaskAudited)


def test_repeated_error_category_counts_once() -> None:
    event = decode(_with(A, error_categories=["漏标", "漏标", "边界不准"]))
    assert isinstance(event, TaskAudited)
    assert event.error_categories == ["漏标", "边界不准"]


def test_dead_letter_keeps_original_bytes_losslessly() -> None:
    raw = '{"event_type": "task_completed", "project_id": "项目🙂", "x": "\\u0000"'.encode()
    result = decode(raw)
    assert isinstance(result, DecodeError)
    letter = result.to_dead_letter(raw, topic="annotation.task-completed", partition=3, offset=17)
    again = DeadLetter.from_json(letter.to_json())
    assert again.payload == raw
    assert base64.b64decode(json.loads(letter.to_json())["payload_b64"]) == raw
    assert (again.source_topic, again.source_partition, again.source_offset) == (
        "annotation.task-completed",
        3,
        17,
    )
    # Deterministic id: the same message rejected twice is one dead letter.
    assert (
        letter.dead_letter_id
        == result.to_dead_letter(
            raw, topic="annotation.task-completed", partition=3, offset=17
        ).dead_letter_id
    )


@given(task_audited())
@settings(max_examples=50)
def test_audit_round_trip_through_dead_letter_payload(data: dict[str, Any]) -> None:
    raw = orjson.dumps(data)
    letter = DecodeError("too_late", "window closed").to_dead_letter(
        raw, topic="t", partition=0, offset=1
    )
    assert DeadLetter.from_json(letter.to_json()).payload == raw
