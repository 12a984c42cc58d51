"""Argilla (v2 webhooks): responses -> submissions.

Envelope ``{"type", "version": 1, "timestamp", "data"}``
(``argilla_server/webhooks/v1``); a response event's ``data`` is the response
(``id``, ``status``, ``values``, ``inserted_at``, ``updated_at``) with its
``record`` (``id``, ``metadata``, ``dataset`` ``{id, name}``) and ``user``
(``id``, ``username``). Times carry no offset: they are UTC.

* ``response.created`` / ``response.updated``: ``submitted`` is a submission,
  ``discarded`` is ``skipped``, ``draft`` is not work yet (ignored); by the
  response's user, on the record (``task_id``), ``submission_id`` the
  response id; created is revision 1 at ``inserted_at``, updated revision 2 at
  ``updated_at``. ``project_id`` is the dataset id.
* ``response.deleted``: a retraction of the response, at the moment the
  gateway received it.
* ``dataset.*``, ``record.*``: no work (ignored). Argilla has no review, and
  measures no handle time (0 unless mapped).

Signature: Standard Webhooks. ``webhook-signature`` holds space-separated
``v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>``
(several while a secret rotates; one match suffices); the key is the secret
without its ``whsec_`` prefix, base64-decoded; ``webhook-timestamp`` (Unix
seconds) must be within the tolerance of the clock, so a captured delivery
cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gateway.connectors.base import (
    Delivery,
    Ignored,
    Item,
    Mapper,
    SourceMapping,
    Unmappable,
    at_path,
    each,
    event_id,
    ident,
    instant,
    obj,
    stamp,
)
from gateway.connectors.signing import Verdict, same

PLATFORM = "argilla"
STATUSES = {"submitted": "submitted", "discarded": "skipped"}


class SecretError(ValueError):
    """A Standard Webhooks secret that is not ``whsec_`` + base64."""


def key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret (``whsec_<base64>``, the prefix optional)."""
    text = secret.strip().removeprefix("whsec_")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SecretError("not a Standard Webhooks secret (whsec_ followed by base64)") from None


def sign(secret_key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.digest(secret_key, signed, "sha256")).decode()


def verify(
    secret_key: bytes,
    body: bytes,
    headers: Mapping[str, str],
    now: datetime,
    tolerance_s: float,
) -> Verdict:
    message_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not message_id or not timestamp or not signatures:
        return "missing"
    if not timestamp.isdigit() or len(timestamp) > 12:
        return "malformed"
    if abs(now.timestamp() - int(timestamp)) > tolerance_s:
        return "stale"
    expected = sign(secret_key, message_id, int(timestamp), body)
    matched = False
    for candidate in signatures.split():
        if candidate.startswith("v1,"):
            matched = same(expected, candidate) or matched  # every candidate compared
    return "ok" if matched else "mismatch"


def events(delivery: Delivery, mapping: SourceMapping) -> list[Item]:
    body = delivery.body
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        return [Unmappable("expected an Argilla webhook: a JSON object with a type")]
    kind = body["type"]
    if kind in ("response.created", "response.updated"):
        revision = 2 if kind == "response.updated" else 1
        return each([body], lambda b: _response(b, mapping, revision))
    if kind == "response.deleted":
        return each([body], lambda b: _deleted(b, mapping, delivery.received_at))
    return [Ignored(f"{kind}: not work to count")]


def _ids(body: dict[str, Any]) -> tuple[dict[str, Any], str, str | None]:
    response = obj(body.get("data"), "data")
    response_id = ident(response.get("id"), "data.id")
    dataset = at_path(response, ("record", "dataset", "id"))
    return response, response_id, None if dataset is None else ident(dataset, "dataset.id")


def _response(body: dict[str, Any], mapping: SourceMapping, revision: int) -> Item:
    response, response_id, dataset = _ids(body)
    raw_status = response.get("status")
    status = STATUSES.get(raw_status) if isinstance(raw_status, str) else None
    if status is None:
        return Ignored(f"response status {response.get('status')!r}: not submitted work")
    record = obj(response.get("record"), "data.record")
    occurred = instant(
        response.get("inserted_at" if revision == 1 else "updated_at"),
        "data.inserted_at" if revision == 1 else "data.updated_at",
    )
    version = response.get("updated_at")
    mapper = Mapper(mapping, body)
    common = mapper.common(
        "task_completed",
        event_id=event_id(
            "argilla",
            "response",
            response_id,
            stamp(instant(version, "data.updated_at") if version else occurred),
        ),
        occurred_at=occurred,
        project=dataset,
        revision=revision,
    )
    user = obj(response.get("user"), "data.user")
    name = user.get("username")
    return mapper.completion(
        common,
        task=ident(record.get("id"), "data.record.id"),
        annotator=ident(user.get("id"), "data.user.id"),
        annotator_aliases=(name if isinstance(name, str) else None,),
        status=status,
        handle_time_s=None,
        submission=response_id,
    )


def _deleted(body: dict[str, Any], mapping: SourceMapping, received_at: datetime) -> Item:
    _response_obj, response_id, dataset = _ids(body)
    mapper = Mapper(mapping, body)
    common = mapper.common(
        "task_completed",
        event_id=event_id("argilla", "response", response_id, "deleted"),
        occurred_at=received_at,
        project=dataset,
    )
    return mapper.retraction(common, submission_id=response_id)
