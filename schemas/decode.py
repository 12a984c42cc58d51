"""Fast path from Kafka bytes to a validated event or a precise rejection.

Order of checks is part of the contract: size, JSON, object, event type,
schema version, fields, then the clock. Each failure maps to exactly one
reason code and names the field, so a feed owner can fix the producer from
the dead letter alone. A message whose ``retracted`` is JSON true is checked
as a retraction (``TaskCompletedRetraction``, ``TaskAuditedRetraction``),
any other as a version of its event type.

Two paths produce the same results. The reference path
(``ContractDecoder.decode_reference``) validates with the pydantic models of
``schemas.events`` and turns the first error into a DecodeError. The fast path
(``ContractDecoder.decode``) first tries a native "shadow" validator of the same
fields (see below); it only ever *accepts*. Whenever the shadow refuses a
message, the reference path runs, so every rejection (reason, field, message)
and every unusual but valid spelling is handled by pydantic exactly as before.
Differential tests in tests/unit/test_contract.py hold the two paths equal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from pydantic_core import SchemaValidator, core_schema

from schemas.deadletter import DeadLetter, DeadLetterReason, Producer
from schemas.display import visible
from schemas.events import (
    SCHEMA_VERSION,
    ContractEvent,
    TaskAudited,
    TaskAuditedRetraction,
    TaskCompleted,
    TaskCompletedRetraction,
    _dedupe,
    _EventBase,
    _visible_text,
    hidden_class,
    parse_rfc3339,
)
from schemas.queue_status import QueueStatus

_Model = (
    type[TaskCompleted]
    | type[TaskAudited]
    | type[TaskCompletedRetraction]
    | type[TaskAuditedRetraction]
    | type[QueueStatus]
)
# The model of a message: by its event type, and by whether it is a retraction
# (``retracted`` is JSON true; any other value is validated, and refused, by
# the version's own model).
_MODELS: dict[str, _Model] = {
    "task_completed": TaskCompleted,
    "task_audited": TaskAudited,
    "queue_status": QueueStatus,
}
_RETRACTION_MODELS: dict[str, _Model] = {
    "task_completed": TaskCompletedRetraction,
    "task_audited": TaskAuditedRetraction,
    "queue_status": QueueStatus,  # a snapshot has no retraction: ``retracted`` is ignored
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
        producer: Producer = "stream",
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


Decoded = ContractEvent | QueueStatus | DecodeError
"""What the contract makes of a message: a version, a retraction, a queue snapshot, or why not."""

# How much of an error's text a dead letter keeps.
MAX_ERROR_TEXT = 1000


def unprocessable(error: BaseException, event: object = None) -> DecodeError:
    """An ``unprocessable`` rejection: handling the message raised ``error``.

    For failures the contract did not foresee (a bug, a value the bounds let
    through): the message becomes a dead letter with the error text instead
    of stopping the stream. ``event`` (the decoded event, if any) gives the
    ids to find it by.
    """
    text = visible(f"processing failed: {type(error).__name__}: {error}")
    hints = {
        name: visible(value[:128])
        for name in ("event_type", "project_id", "event_id")
        if isinstance(value := getattr(event, name, None), str)
    }
    return DecodeError(
        "unprocessable",
        text[:MAX_ERROR_TEXT],
        None,
        hints.get("event_type"),
        hints.get("project_id"),
        hints.get("event_id"),
    )


def _hint(obj: dict[str, Any], name: str) -> str | None:
    """A rejected message's own id, to find it by: hidden characters spelt as escapes.

    The hint is stored and shown (dlq_events, its Kafka key) although the
    message was refused, possibly for that very character.
    """
    value = obj.get(name)
    return visible(value[:128]) if isinstance(value, str) else None


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
    elif field == "retracted":
        text = "retracted: must be true (a retraction) or false, a JSON boolean"
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


# --- fast path -------------------------------------------------------------
#
# Most of the reference cost is the Python code pydantic calls back into for
# every event: the text check (7 to 9 times), parse_rfc3339 (twice), the
# vendor_id validator and the model validator. The shadow validators below are
# the models' own core schemas with each of those callbacks replaced by a
# pydantic-core-native equivalent that accepts the same inputs (or fewer), so
# the per-field work (strict types, lengths, literals, ranges, defaults, list
# copies, fields_set) is done by the very same pydantic-core code as in the
# reference. What is left in Python runs once per event: ``_finish_*`` (null
# vendor_id -> "", TaskAudited._unique), setting the instance's four slots as
# pydantic-core's model validator does, then TaskCompleted._rules itself on
# the instance (the models' validators are called, never copied).
#
# The shadow only ever accepts. When it rejects (or anything raises), the
# reference path runs and produces the dead-letter reason, field and message.

# events._visible_text as a pydantic-core (Rust regex) pattern that must match
# the whole string: none of events.HIDDEN_RANGES anywhere. Rust's $ is end of
# text. (Lone surrogates, which the Python check also refuses, are no Rust
# text: pydantic-core fails such a string before the pattern, so the
# reference path decides.)
_VISIBLE = f"^[^{hidden_class()}]*$"

# The common shape of events._RFC3339: ASCII digits, upper-case T, Z or
# +hh:mm, at most 6 fraction digits. For such text parse_rfc3339 hands the
# very same string to datetime.fromisoformat (only Z is first spelt +00:00,
# which fromisoformat maps to the same timezone.utc), so calling fromisoformat
# directly gives the same value. Other spellings the contract allows (t, z, a
# space, 7+ fraction digits) are left to the reference path.
#
# The field's bounds (ge/le) are kept by accepting only the years whose every
# instant, under any offset (less than a day), lies within them: a timestamp
# in another year, near a bound, takes the reference path, which compares.
# No comparison is added to the fast path.
_TIMESTAMP = (
    r"^{years}-[0-9]{{2}}-[0-9]{{2}}T[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}(?:\.[0-9]{{1,6}})?"
    r"(?:[+-][0-9]{{2}}:[0-9]{{2}}|Z)$"
)
_DAY = timedelta(days=1)


def _timestamp_pattern(low: datetime, high: datetime) -> str:
    """_TIMESTAMP for the years entirely within [low, high] whatever the offset."""
    first = low.astimezone(UTC).year + 1
    while datetime(first, 1, 1, tzinfo=UTC) - _DAY < low:
        first += 1
    last = high.astimezone(UTC).year - 1
    while datetime(last + 1, 1, 1, tzinfo=UTC) + _DAY > high:
        last -= 1
    if first > last:
        raise _UnknownValidator("bounds narrower than a year")
    years = "|".join(f"{year:04d}" for year in range(first, last + 1))
    return _TIMESTAMP.format(years=f"(?:{years})")


def _unbound(function: Any) -> Any:
    return getattr(function, "__func__", function)


# Python validators of schemas.events, by what replaces them in a shadow.
# Called by the fast path on the values or the instance.
_AFTER_IN_FINISH = (_unbound(TaskCompleted._rules), _dedupe)
_VENDOR = _unbound(_EventBase._vendor)
_DROP = frozenset(("serialization", "metadata", "ref"))


class _UnknownValidator(Exception):
    """The model gained a Python validator the shadow does not know how to replace."""


def _shadow(node: Any) -> Any:
    """A copy of a core schema with every known Python validator made native.

    Each replacement is checked against the schema it wraps, so that a later
    change to events.py (a pattern on Identifier, a new constraint on EventTime...)
    disables the fast path instead of being silently dropped by it.
    """
    if isinstance(node, list):
        return [_shadow(item) for item in node]
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if isinstance(kind, str) and kind.startswith("function-"):
        function = _unbound(node["function"]["function"])
        inner = _shadow(node["schema"])
        if function is _visible_text and kind == "function-before" and _plain_str(inner):
            return {**inner, "pattern": _VISIBLE}
        if (
            function is _VENDOR
            and kind == "function-before"
            and _plain_str(inner)
            and inner.get("min_length", 0) <= 1
        ):
            return core_schema.nullable_schema({**inner, "min_length": 1, "pattern": _VISIBLE})
        if function is parse_rfc3339 and kind == "function-before" and _bounded_datetime(inner):
            return core_schema.no_info_after_validator_function(
                datetime.fromisoformat,
                core_schema.str_schema(pattern=_timestamp_pattern(inner["ge"], inner["le"])),
            )
        if function in _AFTER_IN_FINISH and kind == "function-after":
            return inner
        raise _UnknownValidator(function)
    return {key: _shadow(value) for key, value in node.items() if key not in _DROP}


def _bounded_datetime(schema: dict[str, Any]) -> bool:
    """What a bounded timestamp's parse_rfc3339 hands its result to: a datetime in [ge, le].

    Bounds are required (every time field has them) and must be aware.
    """
    return (
        set(schema) == {"type", "microseconds_precision", "ge", "le"}
        and schema["type"] == "datetime"
        and schema["microseconds_precision"] == "truncate"
        and all(
            isinstance(schema[k], datetime) and schema[k].utcoffset() is not None
            for k in ("ge", "le")
        )
    )


def _plain_str(schema: dict[str, Any]) -> bool:
    """A str schema with at most length limits (nothing the shadow would override)."""
    return schema.get("type") == "str" and set(schema) <= {"type", "min_length", "max_length"}


def _shadow_validator(model: type[BaseModel]) -> Callable[[Any], Any] | None:
    """validate_python of the model's fields, native; returns (values, extra, fields_set).

    Only the model-fields part is compiled: a ``model`` schema naming the class
    would make pydantic-core reuse the class's own (prebuilt) validator, Python
    callbacks and all. The instance is built in ``ContractDecoder.decode_object``.
    """
    schema: Any = model.__pydantic_core_schema__
    try:
        while schema["type"] == "function-after":  # model validators, called after the fields
            if _unbound(schema["function"]["function"]) not in _AFTER_IN_FINISH:
                raise _UnknownValidator(schema["function"]["function"])
            schema = schema["schema"]
        if (
            schema["type"] != "model"
            or schema["cls"] is not model
            or schema.get("custom_init")
            or schema.get("root_model")
            or schema.get("post_init")
            or model.__pydantic_post_init__
            or model.__private_attributes__
            or schema["schema"]["type"] != "model-fields"
        ):
            raise _UnknownValidator(schema.get("type"))
        fields = _shadow(schema["schema"])
    except _UnknownValidator:
        return None  # every event of this type takes the reference path
    return SchemaValidator(fields, schema.get("config")).validate_python


def _finish_completed(values: dict[str, Any]) -> None:
    """vendor_id null -> "" (what _EventBase._vendor does); the rules run on the instance."""
    if values["vendor_id"] is None:
        values["vendor_id"] = ""


def _finish_audited(values: dict[str, Any]) -> None:
    """vendor_id null -> "", then the models' own error_categories validator."""
    if values["vendor_id"] is None:
        values["vendor_id"] = ""
    values["error_categories"] = TaskAudited._unique(values["error_categories"])


_MODEL_RULES: Any = _unbound(TaskCompleted._rules)


def _rules_completed(event: Any) -> None:
    _MODEL_RULES(event)  # the model's own rules: one definition, raises when broken


def _no_rules(event: Any) -> None:
    return None


_new = object.__new__
_set = object.__setattr__
_Fast = tuple[
    Callable[[Any], Any],
    Callable[[dict[str, Any]], None],
    Callable[[Any], None],
    type[BaseModel],
]
_FAST: dict[str, _Fast] = {}  # versions, by event type
_FAST_RETRACTION: dict[str, _Fast] = {}  # retractions, by event type
for _fast, _type, _model, _finish, _rules in (
    (_FAST, "task_completed", TaskCompleted, _finish_completed, _rules_completed),
    (_FAST, "task_audited", TaskAudited, _finish_audited, _no_rules),
    (_FAST_RETRACTION, "task_completed", TaskCompletedRetraction, _finish_completed, _no_rules),
    (_FAST_RETRACTION, "task_audited", TaskAuditedRetraction, _finish_audited, _no_rules),
):
    _validate = _shadow_validator(_model)
    if _validate is not None:
        _fast[_type] = (_validate, _finish, _rules, _model)


class ContractDecoder:
    """Validates raw message values against contract v1: versions and retractions.

    Holds only the two limits that come from settings, so it can be built once
    per worker and called per message without allocation beyond the event.

    ``decode`` / ``decode_object`` try the fast path and fall back to the
    reference path; ``decode_reference`` / ``decode_object_reference`` are the
    pure-pydantic path alone, kept as the definition the fast path is tested
    against.
    """

    def __init__(self, max_event_bytes: int = 65536, max_future_skew_s: float = 86400.0):
        self.max_event_bytes = max_event_bytes
        self.max_future_skew = timedelta(seconds=max_future_skew_s)

    def decode(self, raw: bytes, now: datetime | None = None) -> Decoded:
        """The event, or why not; never raises (what cannot be decoded is ``unprocessable``)."""
        try:
            obj = self._load(raw)
            if isinstance(obj, DecodeError):
                return obj
            return self.decode_object(obj, now)
        except Exception as exc:
            return unprocessable(exc)

    def decode_reference(self, raw: bytes, now: datetime | None = None) -> Decoded:
        """``decode`` through the pure-pydantic path only (same checks, same order)."""
        obj = self._load(raw)
        if isinstance(obj, DecodeError):
            return obj
        return self.decode_object_reference(obj, now)

    def _load(self, raw: bytes) -> dict[str, Any] | DecodeError:
        """The checks before any field: size, JSON, object."""
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
        return obj

    def decode_object(self, obj: dict[str, Any], now: datetime | None = None) -> Decoded:
        event_type = obj.get("event_type")
        table = _FAST_RETRACTION if obj.get("retracted") is True else _FAST
        fast = table.get(event_type) if type(event_type) is str else None
        version = obj.get("schema_version")
        if fast is not None and type(version) is int and version == SCHEMA_VERSION:
            validate, finish, rules, model = fast
            try:
                values, extra, fields_set = validate(obj)
                finish(values)
                # What pydantic-core's model validator does with the same three results.
                event = _new(model)
                _set(event, "__dict__", values)
                _set(event, "__pydantic_extra__", extra)
                _set(event, "__pydantic_private__", None)
                _set(event, "__pydantic_fields_set__", fields_set)
                rules(event)
            except Exception:  # a broken rule or anything unexpected: the reference decides
                return self.decode_object_reference(obj, now)
            if values["occurred_at"] - (now or datetime.now(UTC)) > self.max_future_skew:
                return self._too_far_ahead(event)  # type: ignore[arg-type]
            return event  # type: ignore[return-value]
        return self.decode_object_reference(obj, now)

    def decode_object_reference(self, obj: dict[str, Any], now: datetime | None = None) -> Decoded:
        event_type = obj.get("event_type")
        models = _RETRACTION_MODELS if obj.get("retracted") is True else _MODELS
        model = models.get(event_type) if isinstance(event_type, str) else None
        if model is None:
            if "event_type" not in obj:
                return DecodeError(
                    "unknown_event_type", "event_type: required field is missing", "event_type"
                )
            return DecodeError(
                "unknown_event_type",
                f"event_type: {event_type!r} is not one of task_completed, task_audited, "
                "queue_status",
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
            return self._too_far_ahead(event)
        return event

    def _too_far_ahead(self, event: ContractEvent | QueueStatus) -> DecodeError:
        return DecodeError(
            "future_timestamp",
            f"occurred_at: {event.occurred_at.isoformat()} is more than "
            f"{self.max_future_skew} ahead of the processing clock",
            "occurred_at",
            event.event_type,
            event.project_id,
            event.event_id,
        )


def encode_event(event: ContractEvent) -> bytes:
    """Canonical JSON for an event; in-house vendor is written as null."""
    data = event.model_dump(mode="json")
    if data.get("vendor_id") == "":
        data["vendor_id"] = None
    return orjson.dumps(data)
