"""A request's items -> the records to publish and the answer: every item accounted for once.

An item is accepted (its event goes to its input topic), rejected (a dead
letter with its reason goes to the dead-letter topic, and the answer names
its index, reason and message) or, for a webhook, ignored (no work to count:
a draft, a ping). The contract judges every event here with the decoder
``annotel ingest`` uses (``streams.publishing``), also the events a connector
built: a connector says what the platform said, the contract decides whether
it is valid. A webhook that cannot be mapped becomes an ``unmappable`` dead
letter holding the platform's raw body, so it can be replayed once the
mapping is fixed.

Dead letters get deterministic ids from the request's body and the item's
index: a request retried after a ``503`` leaves one dead letter per item, not
one per attempt.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from gateway.connectors.base import Ignored, Item, Unmappable
from schemas import DecodeError
from schemas.display import visible
from streams.publishing import Publication, Record

MAX_MESSAGE = 300  # characters of a rejection's message in the answer


@dataclass
class Outcome:
    records: list[Record] = field(default_factory=list)
    accepted: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    ignored: list[dict[str, Any]] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)

    def answer(self, *, webhook: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"accepted": self.accepted, "rejected": self.rejected}
        if webhook:
            out["ignored"] = self.ignored
        return out

    def reject(self, index: int, error: DecodeError, record: Record) -> None:
        self.records.append(record)
        self.reasons[error.reason] += 1
        self.rejected.append(
            {
                "index": index,
                "reason": error.reason,
                "message": visible(error.message)[:MAX_MESSAGE],
            }
        )


def _identity(route: str, body_digest: bytes, index: int) -> bytes:
    return b"\x00".join((b"gateway", route.encode(), body_digest, str(index).encode()))


def contract_items(
    publication: Publication, items: list[bytes | DecodeError], body: bytes, now: datetime
) -> Outcome:
    """``POST /v1/events``: each item is a message of the contract, as a line of ingest.

    An item refused while the body was split (``gateway.body``) has no bytes of
    its own: its dead letter holds the request's body, which contains it.
    """
    outcome = Outcome()
    digest = hashlib.sha256(body).digest()
    for index, item in enumerate(items):
        raw = body if isinstance(item, DecodeError) else item
        decoded = item if isinstance(item, DecodeError) else publication.decode(item, now)
        if isinstance(decoded, DecodeError):
            record = publication.dead_letter(
                decoded,
                raw,
                where=f"/v1/events item {index}",
                received_at=now,
                identity=_identity("events", digest, index),
            )
            outcome.reject(index, decoded, record)
        else:
            outcome.records.append(publication.event(decoded, raw))
            outcome.accepted += 1
    return outcome


def webhook_items(
    publication: Publication, source: str, items: list[Item], body: bytes, now: datetime
) -> Outcome:
    """``POST /v1/hooks/{source}``: what the connector made of the delivery, judged."""
    outcome = Outcome()
    digest = hashlib.sha256(body).digest()
    where = f"/v1/hooks/{source}"
    for index, item in enumerate(items):
        identity = _identity(f"hooks/{source}", digest, index)
        if isinstance(item, Ignored):
            outcome.ignored.append({"index": index, "reason": visible(item.reason)[:MAX_MESSAGE]})
            continue
        if isinstance(item, Unmappable):
            error = DecodeError("unmappable", item.message)
            raw = body  # the platform's own bytes: replayable once the mapping is fixed
        else:
            try:
                raw = orjson.dumps(item)
            except orjson.JSONEncodeError as exc:  # a lone surrogate the body escaped
                error, raw = DecodeError("unmappable", f"not encodable as UTF-8: {exc}"), body
            else:
                decoded = publication.decode(raw, now)
                if not isinstance(decoded, DecodeError):
                    outcome.records.append(publication.event(decoded, raw))
                    outcome.accepted += 1
                    continue
                error = decoded
        record = publication.dead_letter(
            error, raw, where=f"{where} item {index}", received_at=now, identity=identity
        )
        outcome.reject(index, error, record)
    return outcome


def unreadable_webhook(
    publication: Publication, source: str, body: bytes, problem: str, now: datetime
) -> Outcome:
    """A webhook body that is not JSON: one ``invalid_json`` dead letter with the raw body."""
    outcome = Outcome()
    error = DecodeError("invalid_json", f"not valid UTF-8 JSON: {problem}")
    identity = _identity(f"hooks/{source}", hashlib.sha256(body).digest(), 0)
    record = publication.dead_letter(
        error, body, where=f"/v1/hooks/{source}", received_at=now, identity=identity
    )
    outcome.reject(0, error, record)
    return outcome
