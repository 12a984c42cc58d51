"""Pydantic v2 models of event contract v1.

The models are the single definition of the contract: the decoder validates
with them, the JSON Schema export is generated from them, and the README
table describes them. Validation is strict (no "1" for 1, no 1 for true) so
that a feed's bug surfaces as a dead letter instead of a silently coerced
number that changes an aggregate.
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
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from schemas.storage import (
    ATTEMPT_MAX,
    MAX_DURATION_S,
    OCCURRED_AT_RANGE,
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


class _EventBase(BaseModel):
    """Fields common to both event types."""

    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        strict=True,
        allow_inf_nan=False,
    )

    schema_version: Literal[1] = Field(description="Contract version; only 1 is supported.")
    event_id: Identifier = Field(
        description="Unique per project; (project_id, event_id) is the deduplication key."
    )
    occurred_at: EventTime = Field(
        description="Event time, RFC 3339 with an offset (Z or +08:00); fractions allowed; "
        f"from {rfc3339(OCCURRED_AT_RANGE[0])} to {rfc3339(OCCURRED_AT_RANGE[1])}."
    )
    project_id: Identifier
    queue_id: Identifier
    task_id: Identifier
    annotator_id: Identifier = Field(
        description="The annotator who produced the label (for an audit: the audited one)."
    )
    vendor_id: str = Field(
        default="",
        max_length=128,
        description="Vendor of the annotator; null or absent means in-house (stored as '').",
        json_schema_extra={"type": ["string", "null"], "minLength": 1, **_VISIBLE_SCHEMA},
    )
    locale: Locale = Field(default="und", description="BCP 47 tag, e.g. zh-CN.")
    source: Source = Field(
        default="human",
        description="Who produced the label: human, machine or hybrid.",
    )

    @field_validator("vendor_id", mode="before")
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


class TaskCompleted(_EventBase):
    """An annotator finished, skipped or let a labeling task expire."""

    model_config = ConfigDict(
        title="task_completed",
        json_schema_extra={"$id": "https://annotation-telemetry/schemas/v1/task_completed"},
    )

    event_type: Literal["task_completed"]
    status: Literal["submitted", "skipped", "expired"]
    handle_time_s: Seconds | None = Field(
        default=None,
        description="Seconds spent, at most a day; required when status is submitted.",
    )
    task_created_at: CreatedTime | None = Field(
        default=None, description="When the task was created; not after occurred_at."
    )
    attempt: int = Field(
        default=1, ge=1, le=ATTEMPT_MAX, description="Above 1 means rework; stored as UInt16."
    )
    is_gold: bool = False
    gold_correct: bool | None = Field(
        default=None,
        description="Required (true/false) for a submitted gold task; null otherwise.",
    )
    task_type: ShortText | None = None
    tags: Labels = Field(default_factory=list, description="Worker tags.")

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
    verdict: Literal["approve", "fix", "reject"]
    score: float | None = Field(default=None, ge=0, le=1)
    error_categories: Labels = Field(
        default_factory=list, description="A category repeated in one audit counts once."
    )
    audit_kind: Literal["spot", "full", "speed", "gold", "consensus"] = "spot"
    audit_time_s: Seconds | None = Field(
        default=None, description="Seconds the audit took, at most a day."
    )

    @field_validator("error_categories", mode="after")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


AnnotationEvent = TaskCompleted | TaskAudited
