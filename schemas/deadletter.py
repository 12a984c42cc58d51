"""Dead letters: a rejected message, kept losslessly with the reason it was rejected.

Nothing that enters the system is dropped silently: a message that fails the
contract (or arrives beyond the retention horizon, or whose processing or
storage failed: ``unprocessable``; or a platform's webhook the gateway could
not map to the contract: ``unmappable``, with the platform's raw body)
becomes a DeadLetter on the dead-letter topic, and the sink stores it in
``dlq_events``.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from datetime import UTC, datetime
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from schemas.storage import DATETIME64_RANGE, int_range

Producer = Literal["ingest", "stream", "gateway"]
"""Who refused the message: ``annotel ingest``, the worker, or the HTTP gateway."""

DeadLetterReason = Literal[
    "invalid_json",
    "not_an_object",
    "unknown_event_type",
    "unsupported_version",
    "missing_field",
    "invalid_field",
    "too_large",
    "future_timestamp",
    "too_late",
    "unprocessable",
    "unmappable",
]
REASONS: tuple[DeadLetterReason, ...] = (
    "invalid_json",
    "not_an_object",
    "unknown_event_type",
    "unsupported_version",
    "missing_field",
    "invalid_field",
    "too_large",
    "future_timestamp",
    "too_late",
    "unprocessable",
    "unmappable",
)

# Kafka's default message limit is 1 MB; a dead letter must fit in one message
# together with its base64 overhead. Above this the payload is cut, and the
# digest and size of the original are kept so it can still be identified.
MAX_KEPT_PAYLOAD = 512 * 1024


class DeadLetter(BaseModel):
    """A rejected message. ``payload_b64`` is the original value, base64-encoded."""

    model_config = ConfigDict(frozen=True)

    dead_letter_id: str = Field(
        description="Deterministic for messages read from Kafka (topic/partition/offset), "
        "so a redelivered rejection is stored once."
    )
    reason: DeadLetterReason
    message: str = Field(description="Human-readable, names the offending field.")
    field: str | None = None
    payload_b64: str
    # Bounded by their dlq_events columns (a dead letter read back from the topic
    # is checked like an event: one that could not be stored is not one).
    payload_size: int = Field(ge=0, le=int_range("UInt64")[1])
    payload_sha256: str
    payload_truncated: bool = False
    event_type: str | None = None
    project_id: str | None = None
    event_id: str | None = None
    source_topic: str | None = None
    source_partition: int | None = Field(default=None, ge=0, le=int_range("Int32")[1])
    source_offset: int | None = Field(default=None, ge=0, le=int_range("Int64")[1])
    producer: Producer = "stream"
    received_at: datetime = Field(ge=DATETIME64_RANGE[0], le=DATETIME64_RANGE[1])

    @classmethod
    def build(
        cls,
        payload: bytes,
        reason: DeadLetterReason,
        message: str,
        *,
        field: str | None = None,
        event_type: str | None = None,
        project_id: str | None = None,
        event_id: str | None = None,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        producer: Producer = "stream",
        received_at: datetime | None = None,
    ) -> DeadLetter:
        if topic is not None and partition is not None and offset is not None:
            dead_letter_id = hashlib.sha256(
                f"{topic}\x00{partition}\x00{offset}".encode()
            ).hexdigest()[:32]
        else:
            dead_letter_id = uuid.uuid4().hex
        kept = payload[:MAX_KEPT_PAYLOAD]
        return cls(
            dead_letter_id=dead_letter_id,
            reason=reason,
            message=message,
            field=field,
            payload_b64=base64.b64encode(kept).decode("ascii"),
            payload_size=len(payload),
            payload_sha256=hashlib.sha256(payload).hexdigest(),
            payload_truncated=len(kept) < len(payload),
            event_type=event_type,
            project_id=project_id,
            event_id=event_id,
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            producer=producer,
            received_at=received_at or datetime.now(UTC),
        )

    @property
    def payload(self) -> bytes:
        return base64.b64decode(self.payload_b64)

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_json(cls, data: bytes) -> DeadLetter:
        return cls.model_validate_json(data)
