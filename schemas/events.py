"""Pydantic v2 models of event contract v1.

The models are the single definition of the contract: the decoder validates
with them, the JSON Schema export is generated from them, and the README
table describes them. Validation is strict (no "1" for 1, no 1 for true) so
that a feed's bug surfaces as a dead letter instead of a silently coerced
number that changes an aggregate.

Each event type has two models: a version (``TaskCompleted``,
``TaskAudited``), and a retraction (``retracted: true``), which needs only
what identifies the piece of work it withdraws. Which version of a piece of
work counts is ``schemas.versions``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetPydanticSchema,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError, core_schema

from schemas.storage import (
    ATTEMPT_MAX,
    MAX_DURATION_S,
    OCCURRED_AT_RANGE,
    REVISION_MAX,
    TASK_CREATED_AT_RANGE,
)
from schemas.units import rfc3339

SCHEMA_VERSION = 1
EVENT_TYPES = ("task_completed", "task_audited")

# Characters no string of the contract may contain (one check for every
# free-text field, identifiers included): C0 and C1 controls and DEL; the
# bidirectional formatting characters, which reorder what a terminal or a
# dashboard shows; zero-width and other invisible format characters, which
# make two labels that look the same count apart (values are compared
# exactly); line and paragraph separators; tag characters (invisible text).
# Strings end up in dashboards, alert texts and terminals, where an ``ESC ]0;``
# sequence retitles the window and U+202E reverses what follows.
HIDDEN_RANGES = (
    (0x0000, 0x001F),  # C0 controls
    (0x007F, 0x009F),  # DEL, C1 controls
    (0x00AD, 0x00AD),  # soft hyphen
    (0x061C, 0x061C),  # Arabic letter mark
    (0x180E, 0x180E),  # Mongolian vowel separator
    (0x200B, 0x200F),  # zero-width space, non-joiner, joiner; LRM, RLM
    (0x2028, 0x202E),  # line and paragraph separators; LRE, RLE, PDF, LRO, RLO
    (0x2060, 0x206F),  # word joiner, invisible operators, LRI, RLI, FSI, PDI, deprecated
    (0xFEFF, 0xFEFF),  # zero-width no-break space (byte-order mark)
    (0xFFF9, 0xFFFB),  # interlinear annotation
    (0xE0000, 0xE007F),  # tag characters
)


def hidden_class(ranges: tuple[tuple[int, int], ...] = HIDDEN_RANGES) -> str:
    """The ranges as a regex character class body (escapes Python, Rust and ECMA share)."""

    def escape(code: int) -> str:
        return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"

    return "".join(
        escape(low) if low == high else f"{escape(low)}-{escape(high)}" for low, high in ranges
    )


# Lone surrogates as well, which JSON cannot carry but a Python caller can
# (a String column stores UTF-8, which has no surrogates).
HIDDEN = re.compile(f"[{hidden_class()}\\uD800-\\uDFFF]")

# RFC 3339 date-time; the offset is mandatory (a naive time is ambiguous).
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def _visible_text(value: Any) -> Any:
    if isinstance(value, str):
        found = HIDDEN.search(value)
        if found is not None:
            raise PydanticCustomError(
                "invalid_field",
                "must not contain control, bidirectional or invisible characters "
                "(U+{code} at position {position})",
                {"code": f"{ord(found.group()):04X}", "position": found.start()},
            )
    return value


def parse_rfc3339(value: Any) -> datetime:
    """Parse an RFC 3339 timestamp that carries an offset.

    Fractions beyond microseconds are truncated (ClickHouse keeps
    milliseconds; Python keeps microseconds).
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise PydanticCustomError("invalid_field", "timestamp must carry a UTC offset")
        return value
    if not isinstance(value, str):
        raise PydanticCustomError(
            "invalid_field", "must be an RFC 3339 timestamp string with an offset"
        )
    match = _RFC3339.match(value)
    if match is None:
        raise PydanticCustomError(
            "invalid_field",
            "must be an RFC 3339 timestamp with an offset, e.g. 2026-11-23T08:15:00+08:00",
        )
    fraction = match.group(7) or ""
    offset = match.group(8)
    if offset in ("Z", "z"):
        offset = "+00:00"
    text = (
        f"{match.group(1)}-{match.group(2)}-{match.group(3)}T"
        f"{match.group(4)}:{match.group(5)}:{match.group(6)}"
        f"{fraction[:7]}{offset}"
    )
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        raise PydanticCustomError(
            "invalid_field", "not a valid date-time: {error}", {"error": str(exc)}
        ) from exc


def _format_rfc3339(value: datetime) -> str:
    return value.isoformat()


def _time_schema(bounds: tuple[datetime, datetime]) -> WithJsonSchema:
    low, high = (rfc3339(moment) for moment in bounds)
    # formatMinimum / formatMaximum: the JSON Schema vocabulary validators such as
    # ajv-formats apply to dates; the description says it for everyone else.
    return WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "formatMinimum": low,
            "formatMaximum": high,
            "description": f"RFC 3339 with an offset, from {low} to {high}.",
        }
    )


# The text check, also as a JSON Schema pattern for feeds (surrogates and
# characters beyond U+FFFF are left out: ECMA patterns without the u flag
# see UTF-16 halves).
_VISIBLE_PATTERN = f"^[^{hidden_class(tuple(r for r in HIDDEN_RANGES if r[1] <= 0xFFFF))}]*$"
_VISIBLE_SCHEMA = {"pattern": _VISIBLE_PATTERN}

Identifier = Annotated[
    str,
    Field(min_length=1, max_length=128, json_schema_extra=_VISIBLE_SCHEMA),
    BeforeValidator(_visible_text),
]
# Event time: stored as itself (DateTime64(3)) and as its minute (DateTime).
EventTime = Annotated[
    datetime,
    Field(ge=OCCURRED_AT_RANGE[0], le=OCCURRED_AT_RANGE[1]),
    BeforeValidator(parse_rfc3339),
    PlainSerializer(_format_rfc3339, return_type=str, when_used="json"),
    _time_schema(OCCURRED_AT_RANGE),
]
CreatedTime = Annotated[
    datetime,
    Field(ge=TASK_CREATED_AT_RANGE[0], le=TASK_CREATED_AT_RANGE[1]),
    BeforeValidator(parse_rfc3339),
    PlainSerializer(_format_rfc3339, return_type=str, when_used="json"),
    _time_schema(TASK_CREATED_AT_RANGE),
]
ShortText = Annotated[
    str, Field(max_length=64, json_schema_extra=_VISIBLE_SCHEMA), BeforeValidator(_visible_text)
]
Locale = Annotated[
    str, Field(max_length=35, json_schema_extra=_VISIBLE_SCHEMA), BeforeValidator(_visible_text)
]
Seconds = Annotated[float, Field(ge=0, le=MAX_DURATION_S)]
Labels = Annotated[list[ShortText], Field(max_length=32)]
Source = Literal["human", "machine", "hybrid"]


class _Contract(BaseModel):
    """What every model of the contract shares: strict validation, the in-house vendor."""

    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        strict=True,
        allow_inf_nan=False,
    )

    @field_validator("vendor_id", mode="before", check_fields=False)
    @classmethod
    def _vendor(cls, value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, str):
            if not value:
                raise PydanticCustomError(
                    "invalid_field", "must be 1-128 characters, or null for in-house"
                )
            _visible_text(value)
        return value


# The fields both event types and both kinds (version, retraction) share, one
# definition each (a function, since a Field cannot be shared between models).
def _schema_version() -> Any:
    return Field(description="Contract version; only 1 is supported.")


def _event_id() -> Any:
    return Field(description="Unique per project; (project_id, event_id) is the deduplication key.")


def _occurred_at() -> Any:
    return Field(
        description="Event time, RFC 3339 with an offset (Z or +08:00); fractions allowed; "
        f"from {rfc3339(OCCURRED_AT_RANGE[0])} to {rfc3339(OCCURRED_AT_RANGE[1])}."
    )


def _vendor_id() -> Any:
    return Field(
        default="",
        max_length=128,
        description="Vendor of the annotator; null or absent means in-house (stored as '').",
        json_schema_extra={"type": ["string", "null"], "minLength": 1, **_VISIBLE_SCHEMA},
    )


def _locale() -> Any:
    return Field(default="und", description="BCP 47 tag, e.g. zh-CN.")


def _source() -> Any:
    return Field(default="human", description="Who produced the label: human, machine or hybrid.")


def _revision() -> Any:
    return Field(
        default=1,
        ge=1,
        le=REVISION_MAX,
        description="Version of the entity's state at the source; with occurred_at and "
        "event_id it orders the versions of one entity. Stored as UInt32.",
    )


def _flag(value: bool) -> GetPydanticSchema:
    """A strict boolean that must be ``value``.

    ``Literal[False]`` alone would take 0 and 0.0 (equal to False in Python),
    which the contract's JSON Schema (``const: false``) refuses; a strict bool
    first, then the literal, refuses them as any other strict bool does.
    """
    return GetPydanticSchema(
        lambda _type, _handler: core_schema.chain_schema(
            [core_schema.bool_schema(strict=True), core_schema.literal_schema([value])]
        )
    )


NotRetracted = Annotated[
    Literal[False], _flag(False), WithJsonSchema({"type": "boolean", "const": False})
]
Retracted = Annotated[
    Literal[True], _flag(True), WithJsonSchema({"type": "boolean", "const": True})
]
Status = Literal["submitted", "skipped", "expired"]
Verdict = Literal["approve", "fix", "reject"]
AuditKind = Literal["spot", "full", "speed", "gold", "consensus"]

_HANDLE_TIME = "Seconds spent, at most a day; required when status is submitted."
_CREATED_AT = "When the task was created; not after occurred_at."
_ATTEMPT = "Above 1 means rework; stored as UInt16."
_GOLD_CORRECT = "Required (true/false) for a submitted gold task; null otherwise."
_SUBMISSION_ID = (
    "Identity of the submission in the source platform (e.g. a Label Studio annotation id): "
    "versions sharing (project_id, submission_id) are one piece of work, of which only the "
    "latest counts. Absent: the event is a piece of work of its own."
)
_RETRACTED = "true makes the event a retraction: the entity then contributes nothing."
_CATEGORIES = "A category repeated in one audit counts once."
_AUDIT_TIME = "Seconds the audit took, at most a day."
_ANNOTATOR = "The annotator who produced the label (for an audit: the audited one)."


def _dedupe(cls: Any, value: list[str]) -> list[str]:
    """A category repeated in one audit counts once (one function for both audit
    models, which the fast path of schemas.decode calls by identity)."""
    return list(dict.fromkeys(value))


class _EventBase(_Contract):
    """Fields common to both event types (a version that counts, not a retraction)."""

    schema_version: Literal[1] = _schema_version()
    event_id: Identifier = _event_id()
    occurred_at: EventTime = _occurred_at()
    project_id: Identifier
    queue_id: Identifier
    task_id: Identifier
    annotator_id: Identifier = Field(description=_ANNOTATOR)
    vendor_id: str = _vendor_id()
    locale: Locale = _locale()
    source: Source = _source()


# TaskCompleted._rules in JSON Schema, for the export: all but "task_created_at
# not after occurred_at", a comparison of two instants JSON Schema cannot make.
_COMPLETED_RULES: list[Any] = [
    {
        "if": {"properties": {"status": {"const": "submitted"}}, "required": ["status"]},
        "then": {
            "required": ["handle_time_s"],
            "properties": {"handle_time_s": {"type": "number"}},
        },
    },
    {
        "if": {
            "properties": {"status": {"const": "submitted"}, "is_gold": {"const": True}},
            "required": ["status", "is_gold"],
        },
        "then": {"required": ["gold_correct"], "properties": {"gold_correct": {"type": "boolean"}}},
    },
    {
        "if": {"properties": {"is_gold": {"const": True}}, "required": ["is_gold"]},
        "else": {"properties": {"gold_correct": {"type": "null"}}},
    },
]


class TaskCompleted(_EventBase):
    """An annotator finished, skipped or let a labeling task expire."""

    model_config = ConfigDict(
        title="task_completed",
        json_schema_extra={
            "$id": "https://annotation-telemetry/schemas/v1/task_completed",
            "allOf": _COMPLETED_RULES,
        },
    )

    event_type: Literal["task_completed"]
    status: Status
    handle_time_s: Seconds | None = Field(default=None, description=_HANDLE_TIME)
    task_created_at: CreatedTime | None = Field(default=None, description=_CREATED_AT)
    attempt: int = Field(default=1, ge=1, le=ATTEMPT_MAX, description=_ATTEMPT)
    is_gold: bool = False
    gold_correct: bool | None = Field(default=None, description=_GOLD_CORRECT)
    task_type: ShortText | None = None
    tags: Labels = Field(default_factory=list, description="Worker tags.")
    submission_id: Identifier | None = Field(default=None, description=_SUBMISSION_ID)
    revision: int = _revision()
    retracted: NotRetracted = Field(default=False, description=_RETRACTED)

    @model_validator(mode="after")
    def _rules(self) -> TaskCompleted:
        if self.status == "submitted" and self.handle_time_s is None:
            raise PydanticCustomError(
                "missing_field",
                "handle_time_s is required when status is submitted",
                {"field": "handle_time_s"},
            )
        if self.task_created_at is not None and self.task_created_at > self.occurred_at:
            raise PydanticCustomError(
                "invalid_field",
                "task_created_at must not be after occurred_at",
                {"field": "task_created_at"},
            )
        if self.is_gold and self.status == "submitted" and self.gold_correct is None:
            raise PydanticCustomError(
                "missing_field",
                "gold_correct must be true or false for a submitted gold task",
                {"field": "gold_correct"},
            )
        if not self.is_gold and self.gold_correct is not None:
            raise PydanticCustomError(
                "invalid_field",
                "gold_correct must be null or absent when is_gold is false",
                {"field": "gold_correct"},
            )
        return self


class TaskAudited(_EventBase):
    """A reviewer audited a label: approve, fix or reject."""

    model_config = ConfigDict(
        title="task_audited",
        json_schema_extra={"$id": "https://annotation-telemetry/schemas/v1/task_audited"},
    )

    event_type: Literal["task_audited"]
    auditor_id: Identifier
    verdict: Verdict
    score: float | None = Field(default=None, ge=0, le=1)
    error_categories: Labels = Field(default_factory=list, description=_CATEGORIES)
    audit_kind: AuditKind = "spot"
    audit_time_s: Seconds | None = Field(default=None, description=_AUDIT_TIME)
    revision: int = _revision()
    retracted: NotRetracted = Field(default=False, description=_RETRACTED)

    _unique = field_validator("error_categories", mode="after")(classmethod(_dedupe))


# -- retractions ----------------------------------------------------------------
#
# A retraction (``retracted: true``) is a tombstone: it needs only what
# identifies its entity, and every other field is optional, validated on its own
# if present (type, bounds, characters) but bound by none of the rules between
# fields of a version that counts (it contributes nothing, so nothing of it is
# counted). Separate models rather than optional fields on the ones above, so
# that a version that counts keeps every required field typed as present.


class _RetractionBase(_Contract):
    """Fields common to both retractions."""

    schema_version: Literal[1] = _schema_version()
    event_id: Identifier = _event_id()
    occurred_at: EventTime = _occurred_at()
    project_id: Identifier
    vendor_id: str = _vendor_id()
    locale: Locale = _locale()
    source: Source = _source()
    queue_id: Identifier | None = None


class TaskCompletedRetraction(_RetractionBase):
    """A submission withdrawn at its source (deleted as spam, say): it counts nowhere."""

    model_config = ConfigDict(
        title="task_completed retraction",
        json_schema_extra={
            "$id": "https://annotation-telemetry/schemas/v1/task_completed_retraction"
        },
    )

    event_type: Literal["task_completed"]
    submission_id: Identifier = Field(description=_SUBMISSION_ID)
    retracted: Retracted = Field(description=_RETRACTED)
    revision: int = _revision()
    task_id: Identifier | None = None
    annotator_id: Identifier | None = Field(default=None, description=_ANNOTATOR)
    status: Status | None = None
    handle_time_s: Seconds | None = Field(default=None, description=_HANDLE_TIME)
    task_created_at: CreatedTime | None = Field(default=None, description=_CREATED_AT)
    attempt: int = Field(default=1, ge=1, le=ATTEMPT_MAX, description=_ATTEMPT)
    is_gold: bool = False
    gold_correct: bool | None = Field(default=None, description=_GOLD_CORRECT)
    task_type: ShortText | None = None
    tags: Labels = Field(default_factory=list, description="Worker tags.")


class TaskAuditedRetraction(_RetractionBase):
    """An audit withdrawn at its source: the audited work then has no audit that counts."""

    model_config = ConfigDict(
        title="task_audited retraction",
        json_schema_extra={
            "$id": "https://annotation-telemetry/schemas/v1/task_audited_retraction"
        },
    )

    event_type: Literal["task_audited"]
    task_id: Identifier
    annotator_id: Identifier = Field(description=_ANNOTATOR)
    retracted: Retracted = Field(description=_RETRACTED)
    revision: int = _revision()
    auditor_id: Identifier | None = None
    verdict: Verdict | None = None
    score: float | None = Field(default=None, ge=0, le=1)
    error_categories: Labels = Field(default_factory=list, description=_CATEGORIES)
    audit_kind: AuditKind = "spot"
    audit_time_s: Seconds | None = Field(default=None, description=_AUDIT_TIME)

    _unique = field_validator("error_categories", mode="after")(classmethod(_dedupe))


AnnotationEvent = TaskCompleted | TaskAudited
"""A version that counts (when it is the latest of its entity)."""
Retraction = TaskCompletedRetraction | TaskAuditedRetraction
ContractEvent = AnnotationEvent | Retraction
"""Every event the contract accepts."""
