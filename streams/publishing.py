"""What goes where when a feed publishes: the one decode path of ``annotel ingest`` and the gateway.

Every message a feed hands us ends up in exactly one place: an event on the
input topic of its ``event_type`` keyed by ``project_id`` (a queue snapshot,
``queue_status``, on the completed-tasks topic; all events of a
project share a partition, so per-project state is local to one worker), or
a dead letter on the dead-letter topic with its reason. ``Publication``
decides which, with the contract's own decoder (``ContractDecoder``: versions
and retractions alike; which version counts is the worker's business), and
builds the Kafka record. ``annotel ingest`` (``streams.ingest``) and the HTTP
gateway (``gateway``) both publish through it, so a line and a request body
item are judged the same way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from schemas import ContractDecoder, ContractEvent, DecodeError
from schemas.deadletter import DeadLetter, DeadLetterReason, Producer
from schemas.queue_status import QueueStatus
from streams.settings import Settings


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka record to send; ``reason`` is None for an event, the code for a dead letter."""

    topic: str
    key: bytes | None
    value: bytes
    reason: DeadLetterReason | None = None


@dataclass(frozen=True, slots=True)
class Routes:
    """The topics of the partitioning contract."""

    task_completed: str
    task_audited: str
    dead_letters: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Routes:
        return cls(settings.topic_task_completed, settings.topic_task_audited, settings.topic_dlq)

    def event_topic(self, event_type: str) -> str:
        # Queue snapshots share the completed-tasks topic (docs/architecture.md, "Delivery").
        return self.task_audited if event_type == "task_audited" else self.task_completed


class Publication:
    """Raw messages in, records out: the contract's verdict and where it sends the message.

    ``producer`` names who refused a dead letter (``ingest``, ``gateway``).
    """

    def __init__(
        self,
        routes: Routes,
        producer: Producer,
        max_event_bytes: int = 65536,
        max_future_skew_s: float = 86400.0,
    ) -> None:
        self.routes = routes
        self.producer: Producer = producer
        self.decoder = ContractDecoder(max_event_bytes, max_future_skew_s)

    @classmethod
    def from_settings(cls, settings: Settings, producer: Producer) -> Publication:
        return cls(
            Routes.from_settings(settings),
            producer,
            settings.max_event_bytes,
            settings.max_future_skew,
        )

    def decode(self, raw: bytes, now: datetime) -> ContractEvent | QueueStatus | DecodeError:
        return self.decoder.decode(raw, now)

    def event(self, event: ContractEvent | QueueStatus, raw: bytes) -> Record:
        """The accepted message itself, on its event type's topic, keyed by its project."""
        topic = self.routes.event_topic(event.event_type)
        return Record(topic, event.project_id.encode(), raw)

    def dead_letter(
        self,
        error: DecodeError,
        raw: bytes,
        *,
        where: str,
        received_at: datetime | None = None,
        identity: bytes | None = None,
    ) -> Record:
        """The refused message as a dead letter; ``where`` (``line 7``) starts its message.

        ``identity`` makes the dead letter's id deterministic (a digest of it),
        so that a request redelivered after an error leaves one dead letter,
        not two; without it the id is random, as for any message not read from
        Kafka.
        """
        letter = error.to_dead_letter(raw, producer=self.producer, received_at=received_at)
        update: dict[str, object] = {"message": f"{where}: {letter.message}"}
        if identity is not None:
            update["dead_letter_id"] = hashlib.sha256(identity).hexdigest()[:32]
        letter = letter.model_copy(update=update)
        return self.letter(letter)

    def letter(self, letter: DeadLetter) -> Record:
        key = letter.project_id.encode() if letter.project_id else None
        return Record(self.routes.dead_letters, key, letter.to_json(), letter.reason)


def request_deadlines(timeout_s: float, linger_ms: int = 5) -> dict[str, int]:
    """Producer options that make every send give up within ``timeout_s``.

    For a caller that must answer someone (the gateway's HTTP client): no
    metadata wait, no retry and no buffered record outlives the answer, so a
    record of a request answered ``503`` is not stored minutes later. Kafka
    requires the delivery timeout to cover the linger and one request.
    """
    total = int(timeout_s * 1000)
    return {
        "max_block_ms": total,
        "delivery_timeout_ms": total,
        "request_timeout_ms": max(500, total - linger_ms),
        "linger_ms": linger_ms,
    }
