"""Fast path from Kafka bytes to a validated event or a precise rejection.

Order of checks is part of the contract: size, JSON, object, event type,
schema version, fields, then the clock. Each failure maps to exactly one
reason code and names the field, so a feed owner can fix the producer from
the dead letter alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson
from pydantic import ValidationError

from schemas.deadletter import DeadLetter, DeadLetterReason
from schemas.events import SCHEMA_VERSION, AnnotationEvent, TaskAudited, TaskCompleted

_MODELS: dict[str, type[TaskCompleted] | type[TaskAudited]] = {
    "task_completed": TaskCompleted,
    "task_audited": TaskAudited,
}


@dataclass(frozen=True, slots=True)
class DecodeError:
    """Why a message was rejected; becomes a DeadLetter once its origin is known."""

    reason: DeadLetterReason
    message: str
    field: str | None = None
    event_type: str | None = None
    project_id: str | None = None
    event_id: str | None = None

    def to_dead_letter(
        self,
        payload: bytes,
        *,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        producer: Literal["ingest", "stream"] = "stream",
        received_at: datetime | None = None,
    ) -> DeadLetter:
        return DeadLetter.build(
            payload,
            self.reason,
            self.message,
            field=self.field,
            event_type=self.event_type,
            project_id=self.project_id,
            event_id=self.event_id,
            topic=topic,
            partition=partition,
            offset=offset,
            producer=producer,
            received_at=received_at,
        )


Decoded = AnnotationEvent | DecodeError


def _hint(obj: dict[str, Any], name: str) -> str | None:
    value = obj.get(name)
    return value[:128] if isinstance(value, str) else None


def _from_validation_error(exc: ValidationError, obj: dict[str, Any]) -> DecodeError:
    errors = exc.errors(include_url=False)
    first = errors[0]
    kind = first["type"]
    ctx = first.get("ctx") or {}
    loc = ".".join(str(part) for part in first["loc"])
    field = str(ctx.get("field") or loc) or None
    if kind in ("missing", "missing_field"):
        reason: DeadLetterReason = "missing_field"
    else:
        reason = "invalid_field"
    if kind == "missing":
        text = f"{field}: required field is missing"
    else:
        text = f"{field}: {first['msg']}"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem(s))"
    return DecodeError(
        reason,
        text,
        field,
        _hint(obj, "event_type"),
        _hint(obj, "project_id"),
        _hint(obj, "event_id"),
    )


class Decoder:
    """Validates raw message values against contract v1.

    Holds only the two limits that come from settings, so it can be built once
    per worker and called per message without allocation beyond the event.
    """

    def __init__(self, max_event_bytes: int = 65536, max_future_skew_s: float = 86400.0):
        self.max_event_bytes = max_event_bytes
        self.max_future_skew = timedelta(seconds=max_future_skew_s)

    def decode(self, raw: bytes, now: datetime | None = None) -> Decoded:
        if len(raw) > self.max_event_bytes:
            return DecodeError(
                "too_large",
                f"message is {len(raw)} bytes, over the limit of {self.max_event_bytes}",
            )
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return DecodeError("invalid_json", f"not valid UTF-8 JSON: {exc}")
        if not isinstance(obj, dict):
            return DecodeError("not_an_object", f"expected a JSON object, got {type(obj).__name__}")
        return self.decode_object(obj, now)

    def decode_object(self, obj: dict[str, Any], now: datetime | None = None) -> Decoded:
        event_type = obj.get("event_type")
        model = _MODELS.get(event_type) if isinstance(event_type, str) else None
        if model is None:
            if "event_type" not in obj:
                return DecodeError(
                    "unknown_event_type", "event_type: required field is missing", "event_type"
                )
            return DecodeError(
                "unknown_event_type",
                f"event_type: {event_type!r} is not one of task_completed, task_audited",
                "event_type",
                project_id=_hint(obj, "project_id"),
                event_id=_hint(obj, "event_id"),
            )
        version = obj.get("schema_version")
        if type(version) is not int or version != SCHEMA_VERSION:
            if "schema_version" not in obj:
                return DecodeError(
                    "missing_field",
                    "schema_version: required field is missing",
                    "schema_version",
                    event_type,
                    _hint(obj, "project_id"),
                    _hint(obj, "event_id"),
                )
            return DecodeError(
                "unsupported_version",
                f"schema_version: {version!r} is not supported (only {SCHEMA_VERSION})",
                "schema_version",
                event_type,
                _hint(obj, "project_id"),
                _hint(obj, "event_id"),
            )
        try:
            event = model.model_validate(obj)
        except ValidationError as exc:
            return _from_validation_error(exc, obj)
        current = now or datetime.now(UTC)
        if event.occurred_at - current > self.max_future_skew:
            return DecodeError(
                "future_timestamp",
                f"occurred_at: {event.occurred_at.isoformat()} is more than "
                f"{self.max_future_skew} ahead of the processing clock",
                "occurred_at",
                event.event_type,
                event.project_id,
                event.event_id,
            )
        return event


def encode_event(event: AnnotationEvent) -> bytes:
    """Canonical JSON for an event; in-house vendor is written as null."""
    data = event.model_dump(mode="json")
    if data.get("vendor_id") == "":
        data["vendor_id"] = None
    return orjson.dumps(data)
