"""Contract v1: valid events round-trip byte-exact; each rule rejects with its reason."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import (
    ContractDecoder,
    DeadLetter,
    DecodeError,
    TaskAudited,
    TaskAuditedRetraction,
    TaskCompleted,
    TaskCompletedRetraction,
    encode_event,
)
from schemas.export import json_schema
from tests.strategies import (
    RETRACTION_REQUIRED,
    any_events,
    events,
    identifiers,
    retraction,
    retractions,
    revisions,
    task_audited,
    task_completed,
)

DECODER = ContractDecoder()
MODELS = (TaskCompleted, TaskAudited, TaskCompletedRetraction, TaskAuditedRetraction)
NOW = datetime(2027, 1, 1, tzinfo=UTC)


def decode(data: dict[str, Any] | bytes) -> Any:
    raw = data if isinstance(data, bytes) else orjson.dumps(data)
    return DECODER.decode(raw, NOW)


@given(any_events)
@settings(max_examples=300)
def test_valid_events_round_trip_unchanged(data: dict[str, Any]) -> None:
    event = decode(data)
    assert not isinstance(event, DecodeError), event
    again = decode(encode_event(event))
    assert again == event
    # String fields survive byte-exact (Chinese, emoji, quotes).
    for name in ("event_id", "project_id", "queue_id", "task_id", "annotator_id", "submission_id"):
        if name in data:
            assert getattr(event, name).encode() == data[name].encode()
    assert event.vendor_id == (data.get("vendor_id") or "")
    assert event.revision == data.get("revision", 1)
    assert event.retracted is data.get("retracted", False)


@given(any_events)
@settings(max_examples=100)
def test_valid_events_validate_against_exported_json_schema(data: dict[str, Any]) -> None:
    jsonschema.validate(data, json_schema(data["event_type"]))


@pytest.mark.parametrize(
    "changes",
    [
        {"attempt": 65536},
        {"handle_time_s": 86400.5},
        {"locale": "zh\x1b]0;title\x07"},
        {"tags": ["a\u202eb"]},
        {"vendor_id": "v\u200b"},
        {"project_id": "\ufeffp"},
    ],
    ids=repr,
)
def test_the_exported_json_schema_refuses_what_the_storage_cannot_hold(
    changes: dict[str, Any],
) -> None:
    """Feeds that validate with the export refuse the same bounds and characters."""
    data = {**_valid_completed(), **changes}
    jsonschema.validate(_valid_completed(), json_schema("task_completed"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json_schema("task_completed"))
    assert isinstance(decode(data), DecodeError)


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


def _valid_completed_retraction() -> dict[str, Any]:
    """What a platform's delete carries: ids only (Label Studio's ANNOTATIONS_DELETED)."""
    return {
        "event_type": "task_completed",
        "schema_version": 1,
        "event_id": "删除-1",
        "occurred_at": "2026-11-23T09:00:00+08:00",
        "project_id": "医疗影像标注",
        "submission_id": "标注-17",
        "retracted": True,
    }


def _valid_audited_retraction() -> dict[str, Any]:
    return {
        "event_type": "task_audited",
        "schema_version": 1,
        "event_id": "撤销审核-1",
        "occurred_at": "2026-11-23T01:00:00Z",
        "project_id": "医疗影像标注",
        "task_id": "t-1",
        "annotator_id": "标注员-007",
        "retracted": True,
    }


C, A = _valid_completed(), _valid_audited()
RC, RA = _valid_completed_retraction(), _valid_audited_retraction()
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
    # Bounds of the storage (schemas.storage): what the columns cannot hold.
    ("attempt 65536", _with(C, attempt=65536), "invalid_field", "attempt"),
    ("attempt 2**64-1", _with(C, attempt=2**64 - 1), "invalid_field", "attempt"),
    (
        "before 1970",
        _with(C, occurred_at="1969-12-31T23:59:59.999Z"),
        "invalid_field",
        "occurred_at",
    ),
    (
        "1970 in +08:00 is 1969",
        _with(C, occurred_at="1970-01-01T07:59:59+08:00"),
        "invalid_field",
        "occurred_at",
    ),
    (
        "after DateTime",
        _with(C, occurred_at="2106-02-07T06:28:16Z"),
        "invalid_field",
        "occurred_at",
    ),
    (
        "year 1",
        _with(C, occurred_at="0001-01-01T00:00:00Z", task_created_at=None),
        "invalid_field",
        "occurred_at",
    ),
    (
        "created before 1900",
        _with(C, task_created_at="1899-12-31T23:59:59Z"),
        "invalid_field",
        "task_created_at",
    ),
    ("audit time 1e308", _with(A, audit_time_s=1e308), "invalid_field", "audit_time_s"),
    ("audit time over a day", _with(A, audit_time_s=86400.5), "invalid_field", "audit_time_s"),
    # Control, bidi and invisible characters in every free-text field.
    ("locale ESC ]0;", _with(C, locale="zh\x1b]0;title\x07"), "invalid_field", "locale"),
    ("tag RLO", _with(C, tags=["ok", "a\u202eb"]), "invalid_field", "tags.1"),
    (
        "category ZWSP",
        _with(A, error_categories=["漏\u200b标"]),
        "invalid_field",
        "error_categories.0",
    ),
    ("task_type LRI", _with(C, task_type="bbox\u2066"), "invalid_field", "task_type"),
    ("queue BOM", _with(C, queue_id="\ufeffq"), "invalid_field", "queue_id"),
    ("auditor tag char", _with(A, auditor_id="a\U000e0041"), "invalid_field", "auditor_id"),
    ("vendor LRM", _with(C, vendor_id="v\u200e"), "invalid_field", "vendor_id"),
    # Versions: revision, retracted, submission_id.
    ("revision 0", _with(C, revision=0), "invalid_field", "revision"),
    ("revision -1", _with(A, revision=-1), "invalid_field", "revision"),
    ("revision beyond UInt32", _with(C, revision=2**32), "invalid_field", "revision"),
    ("revision 2**64-1", _with(A, revision=2**64 - 1), "invalid_field", "revision"),
    (
        "revision 2**64 (a float to JSON parsers)",
        json.dumps(_with(A, revision=2**64)).encode(),
        "invalid_field",
        "revision",
    ),
    ("revision float", _with(C, revision=1.5), "invalid_field", "revision"),
    ("revision 2.0", _with(A, revision=2.0), "invalid_field", "revision"),
    ("revision string", _with(C, revision="2"), "invalid_field", "revision"),
    ("revision true", _with(A, revision=True), "invalid_field", "revision"),
    ("revision null", _with(C, revision=None), "invalid_field", "revision"),
    ("retracted string", _with(C, retracted="true"), "invalid_field", "retracted"),
    ("retracted 1", _with(A, retracted=1), "invalid_field", "retracted"),
    ("retracted 0", _with(C, retracted=0), "invalid_field", "retracted"),
    ("retracted null", _with(A, retracted=None), "invalid_field", "retracted"),
    ("empty submission_id", _with(C, submission_id=""), "invalid_field", "submission_id"),
    ("long submission_id", _with(C, submission_id="x" * 129), "invalid_field", "submission_id"),
    ("numeric submission_id", _with(C, submission_id=17), "invalid_field", "submission_id"),
    ("submission_id ZWJ", _with(C, submission_id="a\u200db"), "invalid_field", "submission_id"),
    # Retractions: what identifies the entity is required, the rest is checked if present.
    (
        "retraction no submission_id",
        _without(RC, "submission_id"),
        "missing_field",
        "submission_id",
    ),
    (
        "retraction null submission_id",
        _with(RC, submission_id=None),
        "invalid_field",
        "submission_id",
    ),
    (
        "full version retracted without submission_id",
        _with(C, retracted=True),
        "missing_field",
        "submission_id",
    ),
    ("retraction no event_id", _without(RC, "event_id"), "missing_field", "event_id"),
    ("retraction no occurred_at", _without(RA, "occurred_at"), "missing_field", "occurred_at"),
    ("retraction no project_id", _without(RC, "project_id"), "missing_field", "project_id"),
    ("retraction no version", _without(RA, "schema_version"), "missing_field", "schema_version"),
    ("retraction version 2", _with(RC, schema_version=2), "unsupported_version", "schema_version"),
    ("retraction no type", _without(RC, "event_type"), "unknown_event_type", "event_type"),
    ("audit retraction no task_id", _without(RA, "task_id"), "missing_field", "task_id"),
    (
        "audit retraction no annotator",
        _without(RA, "annotator_id"),
        "missing_field",
        "annotator_id",
    ),
    ("audit retraction null task", _with(RA, task_id=None), "invalid_field", "task_id"),
    ("retraction revision 0", _with(RC, revision=0), "invalid_field", "revision"),
    ("retraction empty queue", _with(RC, queue_id=""), "invalid_field", "queue_id"),
    ("retraction queue ESC", _with(RA, queue_id="q\x1b[2J"), "invalid_field", "queue_id"),
    ("retraction bad status", _with(RC, status="deleted"), "invalid_field", "status"),
    ("retraction negative handle", _with(RC, handle_time_s=-1), "invalid_field", "handle_time_s"),
    ("retraction attempt 0", _with(RC, attempt=0), "invalid_field", "attempt"),
    ("retraction long tag", _with(RC, tags=["x" * 65]), "invalid_field", "tags.0"),
    ("retraction bad verdict", _with(RA, verdict="ok"), "invalid_field", "verdict"),
    ("retraction score 2", _with(RA, score=2), "invalid_field", "score"),
    ("retraction empty auditor", _with(RA, auditor_id=""), "invalid_field", "auditor_id"),
    ("retraction empty vendor", _with(RA, vendor_id=""), "invalid_field", "vendor_id"),
    (
        "retraction before 1970",
        _with(RC, occurred_at="1969-12-31T23:59:59Z"),
        "invalid_field",
        "occurred_at",
    ),
    ("retraction future", _with(RA, occurred_at=FUTURE), "future_timestamp", "occurred_at"),
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
    small = ContractDecoder(max_event_bytes=300)
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


# --- fast path == reference path ----------------------------------------------
#
# ContractDecoder.decode validates the common well-formed case with native shadow
# validators and falls back to the pure-pydantic reference path for anything
# else. The two must be indistinguishable: same event (type, values, value
# types, time zones, field order, fields_set) or the same DecodeError (reason,
# message, field and hints).


class _StrSub(str):
    __slots__ = ()


def _same(fast: Any, reference: Any) -> None:
    assert type(fast) is type(reference), (fast, reference)
    if isinstance(reference, DecodeError):
        assert fast == reference
        return
    assert list(fast.__dict__) == list(reference.__dict__)
    for name, expected in reference.__dict__.items():
        actual = fast.__dict__[name]
        assert type(actual) is type(expected), (name, actual, expected)
        assert actual == expected, name
        if isinstance(expected, datetime):
            assert actual.tzinfo == expected.tzinfo, name
            assert type(actual.tzinfo) is type(expected.tzinfo), name
            assert actual.isoformat() == expected.isoformat(), name
        if isinstance(expected, str):
            assert actual.encode("utf-8", "surrogatepass") == expected.encode(
                "utf-8", "surrogatepass"
            )
    assert fast.__pydantic_fields_set__ == reference.__pydantic_fields_set__
    assert type(fast.__pydantic_fields_set__) is set
    assert fast.__pydantic_extra__ == reference.__pydantic_extra__
    assert fast.__pydantic_private__ == reference.__pydantic_private__
    assert fast == reference
    assert repr(fast) == repr(reference)
    assert _encoded(fast) == _encoded(reference)
    assert fast.model_dump() == reference.model_dump()


def _encoded(event: Any) -> bytes | str:
    try:
        return encode_event(event)
    except TypeError as exc:  # e.g. an int beyond 64 bits handed to decode_object
        return repr(exc)


def _differential(
    data: dict[str, Any] | bytes, now: datetime = NOW, decoder: ContractDecoder = DECODER
) -> Any:
    raw = data if isinstance(data, bytes) else orjson.dumps(data)
    fast = decoder.decode(raw, now)
    _same(fast, decoder.decode_reference(raw, now))
    return fast


def _differential_object(data: dict[str, Any], now: datetime = NOW) -> Any:
    """decode_object on a dict that JSON could not carry (datetimes, surrogates, tuples)."""
    fast = DECODER.decode_object(dict(data), now)
    _same(fast, DECODER.decode_object_reference(dict(data), now))
    return fast


@pytest.mark.parametrize(
    ("case", "message", "reason", "field"), MUTATIONS, ids=[m[0] for m in MUTATIONS]
)
def test_fast_path_equals_reference_on_each_rule(
    case: str, message: Any, reason: str, field: str | None
) -> None:
    result = _differential(message)
    assert isinstance(result, DecodeError) and result.reason == reason, case


def test_fast_path_equals_reference_on_base_messages() -> None:
    assert isinstance(_differential(C), TaskCompleted)
    assert isinstance(_differential(A), TaskAudited)
    small = ContractDecoder(max_event_bytes=300, max_future_skew_s=60)
    _differential(orjson.dumps(_with(C, tags=["x" * 60] * 5)), decoder=small)
    _differential(_with(A, occurred_at="2027-01-01T00:01:00.000001Z"), decoder=small)
    _differential(_with(A, occurred_at="2027-01-01T00:01:00Z"), decoder=small)


def test_fast_path_takes_valid_events_without_the_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The speed-up is real: well-formed events never reach pydantic's Python callbacks."""
    from tests.oracle import generate

    valid = [C, A, _with(A, error_categories=["漏标", "漏标"]), _with(C, vendor_id=None)]
    valid += [RC, RA, _with(RA, error_categories=["漏标", "漏标"], vendor_id=None)]
    valid += [_with(C, submission_id="标注-17", revision=3, retracted=False)]
    valid += generate(seed=11, count=300).valid
    valid += generate(seed=11, count=300, versions=True).valid
    expected = [DECODER.decode_reference(orjson.dumps(d), NOW) for d in valid]

    def no_reference(*args: Any) -> Any:
        raise AssertionError("reference path used for a well-formed event")

    monkeypatch.setattr(ContractDecoder, "decode_object_reference", no_reference)
    for data, reference in zip(valid, expected, strict=True):
        _same(DECODER.decode(orjson.dumps(data), NOW), reference)


def test_fast_path_calls_no_python_validator() -> None:
    """The shadow validators are native: no per-field Python callback runs.

    Only the models' own rules run, once per event, on the values or instance.
    """
    import sys

    from tests.oracle import generate

    versions = generate(seed=12, count=200, versions=True).valid
    raws = [orjson.dumps(d) for d in [C, A, RC, RA, *generate(seed=12, count=200).valid, *versions]]
    called: set[str] = set()

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename.endswith("events.py"):
            called.add(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        results = [DECODER.decode(raw, NOW) for raw in raws]
    finally:
        sys.setprofile(None)
    assert not any(isinstance(r, DecodeError) for r in results)
    assert called <= {"_rules", "_dedupe"}
    assert "_rules" in called
    # ...whereas the reference path does call them (the probe works).
    sys.setprofile(profile)
    try:
        DECODER.decode_reference(raws[0], NOW)
    finally:
        sys.setprofile(None)
    assert {"_visible_text", "parse_rfc3339", "_vendor", "_rules"} <= called


# Values that probe each check's edges: types strict mode refuses, lengths at
# the limits, controls, unusual timestamp spellings the contract still allows,
# numbers at the bounds, and containers where scalars belong.
_PROBES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2,
    2**63,
    2**64 - 1,
    0.0,
    -0.0,
    0.5,
    1.0,
    1.01,
    86400,
    86400.0,
    86400.5,
    86400.000001,
    65535,
    65536,
    1e308,
    5e-324,
    "",
    "x",
    "1",
    "0.5",
    "true",
    "x" * 35,
    "x" * 36,
    "x" * 64,
    "x" * 65,
    "x" * 128,
    "x" * 129,
    "标" * 128,
    "标" * 129,
    "a\x00b",
    "a\x1fb",
    "a\x7fb",
    "a\x85b",
    "a\x9fb",
    "a\xa0b",
    "a\u2028b",
    "a\u200db",
    "a\nb",
    "a\u202eb",
    "a\u2066b",
    "a\u200bb",
    "a\ufeffb",
    "a\u00adb",
    "a\u061cb",
    "a\U000e0041b",
    "a\u00acb",
    "a\u206fb",
    "a\u2070b",
    "\x1b]0;title\x07",
    "emoji🙂👩‍💻",
    "emoji🙂👍🏽",
    "队列'); DROP TABLE metrics_1m; --",
    "submitted",
    "skipped",
    "expired",
    "approve",
    "fix",
    "reject",
    "human",
    "machine",
    "hybrid",
    "spot",
    "gold",
    "task_completed",
    "task_audited",
    "2026-11-23T08:15:00Z",
    "2026-11-23T08:15:00+08:00",
    "2026-11-23T08:15:00-05:30",
    "2026-11-23T08:15:00.5+08:00",
    "2026-11-23T08:15:00.123456Z",
    "2026-11-23T08:15:00.1234567Z",
    "2026-11-23T08:15:00.123456789+08:00",
    "2026-11-23t08:15:00z",
    "2026-11-23 08:15:00Z",
    "2026-11-23T08:15:00-00:00",
    "2026-11-23T08:15:00+00:00",
    "2026-11-23T08:15:00+23:59",
    "2026-11-23T08:15:00+24:00",
    "2026-11-23T08:15:00+0800",
    "2026-11-23T08:15:00+08:00:00",
    "2026-11-23T08:15:00+08:00:30",
    "2026-11-23T08:15:00Z ",
    "2026-11-23T08:15:00+08",
    "2026-11-23T08:15:00",
    "2026-11-23T08:15Z",
    "2026-11-23T08:15:00,5Z",
    "2026-11-23T08:15:00.Z",
    "2026-11-23T08:15:00Z\n",
    "2026-11-23T23:59:60Z",
    "2026-11-23T24:00:00Z",
    "2026-02-29T00:00:00Z",
    "2028-02-29T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59.999999Z",
    "1970-01-01T07:59:59+08:00",
    "1970-01-01T08:00:00+08:00",
    "1971-01-01T00:00:00+23:59",
    "1970-12-31T23:59:59-23:59",
    "2105-12-31T23:59:59-23:59",
    "2106-02-07T06:28:15Z",
    "2106-02-07T06:28:16Z",
    "2106-02-07T14:28:15+08:00",
    "1900-01-01T00:00:00Z",
    "1900-01-01T00:59:59+01:00",
    "1899-12-31T23:59:59.999999Z",
    "2299-12-31T23:59:59.999999Z",
    "2300-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59.999999-01:00",
    "2026-W47-1T08:15:00Z",
    "20261123T081500Z",
    "２０２６-11-23T08:15:00Z",
    "2026-11-23T08:15:00.٥Z",
    "2026年11月23日",
    [],
    ["漏标"],
    ["漏标", "漏标", "边界不准"],
    ["x" * 64],
    ["x" * 65],
    ["t"] * 32,
    ["t"] * 33,
    [1],
    [None],
    ["a\x00b"],
    {},
    {"nested": [1, 2]},
]
_FIELDS = sorted({name for model in MODELS for name in model.model_fields} | {"extra"})

mutated_events = st.builds(
    lambda data, changes, drops: {
        **{k: v for k, v in data.items() if k not in drops},
        **changes,
    },
    any_events,
    st.dictionaries(st.sampled_from(_FIELDS), st.sampled_from(_PROBES), max_size=3),
    st.sets(st.sampled_from(_FIELDS), max_size=2),
)


@pytest.mark.parametrize("name", _FIELDS)
def test_fast_path_equals_reference_on_every_probe_in_every_field(name: str) -> None:
    """Each probe value in each field of the four base messages, one change at a time."""
    for base in (C, A, RC, RA):
        for value in _PROBES:
            _differential(_with(base, **{name: value}))
            if name == "occurred_at":  # also behind a task_created_at that is valid
                _differential(
                    _with(base, occurred_at=value, task_created_at="2026-01-01T00:00:00Z")
                )
        if name in base:
            _differential(_without(base, name))


@given(any_events)
@settings(max_examples=300)
def test_fast_path_equals_reference_on_valid_events(data: dict[str, Any]) -> None:
    assert not isinstance(_differential(data), DecodeError)


@given(mutated_events, st.one_of(st.just(NOW), st.datetimes(timezones=st.just(UTC))))
@settings(max_examples=1500)
def test_fast_path_equals_reference_on_mutated_events(data: dict[str, Any], now: datetime) -> None:
    _differential(data, now)


@given(
    st.sampled_from([C, A]),
    st.sampled_from(["occurred_at", "task_created_at"]),
    st.from_regex(
        r"\A[0-9]{4}-[01][0-9]-[0-3][0-9][Tt ][0-2][0-9]:[0-5][0-9]:[0-6][0-9]"
        r"(\.[0-9]{0,9})?([Zz]|[+-][0-2][0-9]:?[0-5][0-9](:[0-5][0-9])?)?[\n x]?\Z"
    ),
)
@settings(max_examples=500)
def test_fast_path_equals_reference_on_timestamps(
    base: dict[str, Any], name: str, text: str
) -> None:
    # task_created_at far in the past so that "not after occurred_at" rarely decides.
    data = _with(base, **{name: text})
    if name == "task_created_at":
        data["occurred_at"] = "9999-12-31T00:00:00Z"
    _differential(data, datetime(9999, 12, 31, tzinfo=UTC))


@given(
    st.sampled_from(["occurred_at", "task_created_at"]),
    st.sampled_from([1899, 1900, 1901, 1969, 1970, 1971, 2105, 2106, 2107, 2298, 2299, 2300]),
    st.one_of(  # the first and last day of the year, 7 February (2106's bound), any day
        st.datetimes(datetime(2001, 1, 1), datetime(2001, 1, 1, 23, 59, 59, 999999)),
        st.datetimes(datetime(2001, 12, 31), datetime(2001, 12, 31, 23, 59, 59, 999999)),
        st.datetimes(datetime(2001, 2, 6), datetime(2001, 2, 8, 23, 59, 59, 999999)),
        st.datetimes(datetime(2001, 1, 1), datetime(2001, 12, 31, 23, 59, 59, 999999)),
    ),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1),
)
@settings(max_examples=500)
def test_fast_path_equals_reference_at_the_time_bounds(
    name: str, year: int, moment: datetime, offset_minutes: int
) -> None:
    """Years at and around each bound, any time of year, any offset the contract allows."""
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    text = f"{year:04d}{moment.isoformat()[4:]}{sign}{hours:02d}:{minutes:02d}"
    data = _with(C, **{name: text})
    if name == "task_created_at":
        data["occurred_at"] = "2106-02-07T06:28:15Z"
    _differential(data, datetime(2300, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    "changes",
    [
        {"event_id": "e\ud800"},
        {"vendor_id": "v\udfff"},
        {"locale": "zh\ud800"},
        {"task_type": "\udfff"},
        {"tags": ["\ud800"]},
        {"event_id": _StrSub("subclass")},
        {"status": _StrSub("submitted")},
        {"tags": ("a", "b")},
        {"occurred_at": datetime(2026, 11, 23, 8, 15, tzinfo=UTC)},
        {"occurred_at": datetime(2026, 11, 23, 8, 15)},
        {"task_created_at": datetime(2026, 11, 23, tzinfo=UTC)},
        {"handle_time_s": 10**400},
        {"handle_time_s": float("nan")},
        {"handle_time_s": float("inf")},
        {"attempt": 10**30},
        {"schema_version": True},
        {"schema_version": 1.0},
        {"event_type": ["task_completed"]},
    ],
    ids=repr,
)
def test_fast_path_equals_reference_on_objects_json_cannot_carry(
    changes: dict[str, Any],
) -> None:
    for base in (C, A, RC, RA):
        _differential_object(_with(base, **changes))


def test_fast_path_covers_both_event_types() -> None:
    """If events.py gains a Python validator the shadow cannot replace, this fails
    (decoding stays correct, through the reference path, but loses the speed-up)."""
    from schemas.decode import _FAST, _FAST_RETRACTION

    assert set(_FAST) == {"task_completed", "task_audited"}
    assert set(_FAST_RETRACTION) == {"task_completed", "task_audited"}
    assert [_FAST[t][3] for t in _FAST] == [TaskCompleted, TaskAudited]
    assert [_FAST_RETRACTION[t][3] for t in _FAST] == [
        TaskCompletedRetraction,
        TaskAuditedRetraction,
    ]


def test_z_and_zero_offset_parse_to_the_same_utc() -> None:
    z = datetime.fromisoformat("2026-11-23T08:15:00.5Z")
    offset = datetime.fromisoformat("2026-11-23T08:15:00.5+00:00")
    assert z == offset and z.tzinfo is offset.tzinfo is UTC


def test_shadow_refuses_a_python_validator_it_does_not_know() -> None:
    from pydantic import field_validator

    from schemas.decode import _shadow_validator

    class Stricter(TaskAudited):
        @field_validator("queue_id")
        @classmethod
        def _no_spaces(cls, value: str) -> str:
            if " " in value:
                raise ValueError("no spaces")
            return value

    assert _shadow_validator(Stricter) is None
    for model in MODELS:
        assert _shadow_validator(model) is not None


# --- versions: revision, retracted, submission_id; retractions ------------------


def test_a_retraction_needs_only_what_identifies_its_entity() -> None:
    completed, audited = decode(RC), decode(RA)
    assert isinstance(completed, TaskCompletedRetraction)
    assert (completed.submission_id, completed.retracted, completed.revision) == (
        "标注-17",
        True,
        1,
    )
    assert completed.queue_id is None and completed.status is None
    assert isinstance(audited, TaskAuditedRetraction)
    assert (audited.task_id, audited.annotator_id, audited.verdict) == ("t-1", "标注员-007", None)
    # A whole version with retracted true is a retraction too (its fields are kept).
    full = decode(_with(C, submission_id="标注-17", retracted=True, revision=2))
    assert isinstance(full, TaskCompletedRetraction)
    assert (full.queue_id, full.status, full.handle_time_s, full.revision) == (
        "队列A",
        "submitted",
        42.5,
        2,
    )


def test_versions_without_the_new_fields_mean_what_they_meant() -> None:
    completed, audited = decode(C), decode(A)
    assert isinstance(completed, TaskCompleted) and isinstance(audited, TaskAudited)
    assert (completed.submission_id, completed.revision, completed.retracted) == (None, 1, False)
    assert (audited.revision, audited.retracted) == (1, False)
    explicit = decode(_with(C, submission_id="标注-17", revision=2**32 - 1, retracted=False))
    assert isinstance(explicit, TaskCompleted)
    assert (explicit.submission_id, explicit.revision) == ("标注-17", 2**32 - 1)


def test_a_retraction_is_bound_by_no_rule_between_fields() -> None:
    """Each field it carries is checked on its own; it counts nowhere, so nothing more."""
    for data in (
        _with(RC, status="submitted"),  # no handle_time_s
        _with(RC, is_gold=True, status="submitted"),  # no gold_correct
        _with(RC, gold_correct=True),  # not gold
        _with(RC, queue_id=None, task_id=None, annotator_id=None, status=None, vendor_id=None),
        _with(RA, auditor_id=None, verdict=None, score=None, queue_id=None),
    ):
        assert not isinstance(_differential(data), DecodeError), data


# Accepted by the contract (the refusals are MUTATIONS above).
VALID_CASES: list[tuple[str, dict[str, Any]]] = [
    ("completed", C),
    ("audited", A),
    ("completed retraction", RC),
    ("audited retraction", RA),
    ("version with submission_id", _with(C, submission_id="标注-17", revision=2)),
    ("version not retracted", _with(A, retracted=False, revision=2**32 - 1)),
    (
        "skipped, no handle time",
        _with(C, status="skipped", handle_time_s=None, is_gold=False, gold_correct=None),
    ),
    ("expired gold, no answer", _with(C, status="expired", gold_correct=None)),
    ("version retracted", _with(C, submission_id="s", retracted=True)),
    ("audit retracted", _with(A, retracted=True, revision=7)),
    ("retraction submitted, no handle time", _with(RC, status="submitted")),
    ("retraction answer without gold", _with(RC, gold_correct=False)),
    ("retraction nulls", _with(RC, queue_id=None, task_id=None, status=None, vendor_id=None)),
    ("audit retraction nulls", _with(RA, auditor_id=None, verdict=None, score=None)),
    ("retraction unknown field", _with(RA, reason="spam")),
    ("retraction in-house", _with(RC, vendor_id=None, locale="zh-CN", source="hybrid")),
]

# Where a JSON Schema validator cannot follow the decoder (explained in
# schemas/export.py): date-times (the format and its bounds are annotations to
# a validator without format support; two instants cannot be compared), the
# clock, characters beyond U+FFFF (ECMA patterns see UTF-16 halves), and
# integers written with a fraction. The decoder refuses each; the schema lets
# each through. Held exactly, so a gap can neither open nor close unnoticed.
SCHEMA_GAPS = {
    "naive time",
    "bad date",
    "future",
    "created after",
    "before 1970",
    "1970 in +08:00 is 1969",
    "after DateTime",
    "year 1",
    "created before 1900",
    "auditor tag char",
    "revision 2.0",
    "retraction before 1970",
    "retraction future",
}


def _schema_accepts(data: Any) -> bool:
    event_type = data.get("event_type") if isinstance(data, dict) else None
    types = [event_type] if event_type in ("task_completed", "task_audited") else list(_TYPES)
    return any(jsonschema.Draft202012Validator(_SCHEMAS[t]).is_valid(data) for t in types)


_TYPES = ("task_completed", "task_audited")
_SCHEMAS = {event_type: json_schema(event_type) for event_type in _TYPES}


def _table() -> list[tuple[str, Any]]:
    cases: list[tuple[str, Any]] = list(VALID_CASES)
    for case, message, _reason, _field in MUTATIONS:
        if isinstance(message, bytes):
            try:
                message = json.loads(message)
            except ValueError:
                continue  # not JSON at all: nothing for a JSON Schema to say
        cases.append((case, message))
    return cases


@pytest.mark.parametrize(("case", "data"), _table(), ids=[c for c, _ in _table()])
def test_the_exported_json_schema_accepts_and_refuses_what_the_decoder_does(
    case: str, data: Any
) -> None:
    for schema in _SCHEMAS.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    decoder_accepts = not isinstance(decode(json.dumps(data).encode()), DecodeError)
    if case in SCHEMA_GAPS:
        assert (decoder_accepts, _schema_accepts(data)) == (False, True), case
    else:
        assert _schema_accepts(data) == decoder_accepts, case


@pytest.mark.parametrize(("case", "data"), VALID_CASES, ids=[c for c, _ in VALID_CASES])
def test_the_valid_cases_are_valid(case: str, data: dict[str, Any]) -> None:
    assert not isinstance(_differential(data), DecodeError), case


def test_the_schema_gaps_are_all_in_the_table() -> None:
    assert {case for case, _ in _table()} >= SCHEMA_GAPS


@given(any_events)
@settings(max_examples=200)
def test_the_exported_json_schema_picks_the_decoders_model(data: dict[str, Any]) -> None:
    """A retraction validates as one, a version as one; neither as the other."""
    schema = _SCHEMAS[data["event_type"]]
    definitions = schema["$defs"]
    event = decode(data)
    kind = "retraction" if data.get("retracted") is True else "version"
    other = "version" if kind == "retraction" else "retraction"
    assert isinstance(event, (TaskCompletedRetraction, TaskAuditedRetraction)) == (
        kind == "retraction"
    )
    alone = {**schema, **definitions[kind]}
    assert jsonschema.Draft202012Validator(alone).is_valid(data)
    assert not jsonschema.Draft202012Validator({**schema, **definitions[other]}).is_valid(data)


def test_the_export_describes_the_new_fields(tmp_path: Path) -> None:
    from schemas.export import export_schemas

    written = {
        path.name: json.loads(path.read_text(encoding="utf-8")) for path in export_schemas(tmp_path)
    }
    assert set(written) == {
        "task_completed.schema.json",
        "task_audited.schema.json",
        "queue_status.schema.json",
    }
    completed = written["task_completed.schema.json"]["$defs"]
    assert completed["version"]["properties"]["revision"]["maximum"] == 2**32 - 1
    assert completed["version"]["properties"]["retracted"]["const"] is False
    assert completed["version"]["properties"]["submission_id"]["anyOf"][0]["maxLength"] == 128
    assert completed["retraction"]["properties"]["retracted"]["const"] is True
    assert set(completed["retraction"]["required"]) == {
        "event_type",
        "schema_version",
        "event_id",
        "occurred_at",
        "project_id",
        "submission_id",
        "retracted",
    }
    audited = written["task_audited.schema.json"]["$defs"]
    assert set(audited["retraction"]["required"]) == {
        "event_type",
        "schema_version",
        "event_id",
        "occurred_at",
        "project_id",
        "task_id",
        "annotator_id",
        "retracted",
    }


# Properties: every new rejection, whatever else the message holds.

_NOT_BOOLEAN = st.one_of(
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
    st.none(),
    st.just([True]),
)
_BAD_IDENTIFIER = st.one_of(
    st.just(""),
    st.text(min_size=129, max_size=200).filter(lambda t: len(t) > 128),
    st.sampled_from(["a\x00b", "a\u202eb", "\ufeffs", "s\u200b", "\x1b]0;x\x07"]),
    st.integers(-(2**63), 2**64 - 1),
    st.just(["s"]),
)


@given(any_events, st.one_of(st.integers(-(2**63), 0), st.integers(2**32, 2**64 - 1)))
@settings(max_examples=200)
def test_a_revision_beyond_its_column_is_refused(data: dict[str, Any], revision: int) -> None:
    result = _differential(_with(data, revision=revision))
    assert isinstance(result, DecodeError)
    assert (result.reason, result.field) == ("invalid_field", "revision")


@given(events, _NOT_BOOLEAN)
@settings(max_examples=200)
def test_retracted_must_be_a_json_boolean(data: dict[str, Any], value: Any) -> None:
    result = _differential(_with(data, retracted=value))
    assert isinstance(result, DecodeError)
    assert (result.reason, result.field) == ("invalid_field", "retracted")
    assert "JSON boolean" in result.message


@given(st.one_of(task_completed(), retraction("task_completed")), _BAD_IDENTIFIER)
@settings(max_examples=200)
def test_a_bad_submission_id_is_refused(data: dict[str, Any], value: Any) -> None:
    result = _differential(_with(data, submission_id=value))
    assert isinstance(result, DecodeError)
    assert (result.reason, result.field) == ("invalid_field", "submission_id")


@given(retractions, st.data())
@settings(max_examples=300)
def test_a_retraction_without_what_identifies_its_entity_is_refused(
    data: dict[str, Any], draw: st.DataObject
) -> None:
    required = [name for name in RETRACTION_REQUIRED[data["event_type"]] if name != "retracted"]
    name = draw.draw(st.sampled_from(required))
    result = _differential(_without(data, name))
    assert isinstance(result, DecodeError)
    expected = "unknown_event_type" if name == "event_type" else "missing_field"
    assert (result.reason, result.field) == (expected, name)


# A value each optional field of a retraction refuses on its own.
_INVALID = {
    "queue_id": ("", "queue_id"),
    "task_id": ("a\u202eb", "task_id"),
    "annotator_id": ("x" * 129, "annotator_id"),
    "vendor_id": ("", "vendor_id"),
    "locale": ("x" * 36, "locale"),
    "source": ("robot", "source"),
    "revision": (0, "revision"),
    "status": ("deleted", "status"),
    "handle_time_s": (-1, "handle_time_s"),
    "task_created_at": ("yesterday", "task_created_at"),
    "attempt": (0, "attempt"),
    "is_gold": ("yes", "is_gold"),
    "gold_correct": (1, "gold_correct"),
    "task_type": ("x" * 65, "task_type"),
    "tags": (["x" * 65], "tags.0"),
    "auditor_id": ("", "auditor_id"),
    "verdict": ("ok", "verdict"),
    "score": (1.5, "score"),
    "error_categories": ("漏标", "error_categories"),
    "audit_kind": ("random", "audit_kind"),
    "audit_time_s": (86400.5, "audit_time_s"),
}


def test_the_invalid_values_cover_every_optional_field_of_a_retraction() -> None:
    for model in (TaskCompletedRetraction, TaskAuditedRetraction):
        fields = {name for name, info in model.model_fields.items() if not info.is_required()}
        assert fields - {"schema_version"} == fields & set(_INVALID), model


@given(retractions, st.data())
@settings(max_examples=300)
def test_a_retraction_checks_every_field_it_carries(
    data: dict[str, Any], draw: st.DataObject
) -> None:
    model = (
        TaskCompletedRetraction if data["event_type"] == "task_completed" else TaskAuditedRetraction
    )
    optional = sorted(n for n, info in model.model_fields.items() if not info.is_required())
    name = draw.draw(st.sampled_from([n for n in optional if n in _INVALID]))
    value, field = _INVALID[name]
    result = _differential(_with(data, **{name: value}))
    assert isinstance(result, DecodeError), (name, value)
    assert (result.reason, result.field) == ("invalid_field", field)


@given(events, identifiers, revisions)
@settings(max_examples=200)
def test_the_new_fields_round_trip_byte_exact(
    data: dict[str, Any], submission_id: str, revision: int
) -> None:
    for retracted in (False, True):
        message = _with(data, revision=revision, retracted=retracted)
        if data["event_type"] == "task_completed":
            message["submission_id"] = submission_id
        event = _differential(message)
        assert not isinstance(event, DecodeError), event
        assert (event.revision, event.retracted) == (revision, retracted)
        if data["event_type"] == "task_completed":
            assert event.submission_id.encode() == submission_id.encode()
        again = _differential(encode_event(event))
        assert again == event
