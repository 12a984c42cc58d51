"""Toloka: assignment notifications -> submissions and verdicts.

A notification is ``{"events": [...]}``; an assignment event carries ``uuid``
(the event's id), ``event_time`` (UTC, no offset), ``project_id``,
``pool_id``, ``task_suite_id``, ``assignment_id`` and ``type``
(toloka.ai/docs/api/using-webhook-subscriptions). Toloka's assignment
statuses are ours one to one:

* ``ASSIGNMENT_SUBMITTED`` / ``SKIPPED`` / ``EXPIRED``: a ``task_completed``
  submitted / skipped / expired; ``task_id`` the task suite, ``submission_id``
  the assignment.
* ``ASSIGNMENT_APPROVED`` / ``REJECTED``: a ``task_audited`` approve / reject
  of that assignment's work, by the requester (the source's ``auditor_id``
  mapping; Toloka does not say who accepted).
* ``ASSIGNMENT_CREATED``, ``POOL_CLOSED``, ``DYNAMIC_OVERLAP_COMPLETED``: no
  work (ignored).

The notification names no Toloker: the annotator is the event's ``user_id``
when present, else the ``annotator_id`` mapping (a path or a constant); an
assignment with neither is unmappable. No handle time either (0 unless
mapped). The event id is Toloka's own ``uuid``.

Signature: ``Toloka-Signature: {v=1, ts=<Unix ms>, sign=<hex HMAC-SHA256(secret,
"<ts>.<v>.<body>")>}`` when the subscription has a ``secret_key``
(toloka.ai/docs/api/concepts/authentication); ``ts`` must be within the
tolerance of the clock.
"""

from __future__ import annotations

import re
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
    Unmapped,
    each,
    event_id,
    ident,
    instant,
    obj,
)
from gateway.connectors.signing import Verdict, hmac_hex, same

PLATFORM = "toloka"
SIGNATURE_HEADER = "toloka-signature"
STATUSES = {
    "ASSIGNMENT_SUBMITTED": "submitted",
    "ASSIGNMENT_SKIPPED": "skipped",
    "ASSIGNMENT_EXPIRED": "expired",
}
VERDICTS = {"ASSIGNMENT_APPROVED": "approve", "ASSIGNMENT_REJECTED": "reject"}
_FIELD = re.compile(r"\s*(v|ts|sign)\s*=\s*([^,{}\s]+)\s*")
REQUESTER = "requester"


def sign(secret: bytes, version: str, timestamp_ms: int, body: bytes) -> str:
    return hmac_hex(secret, f"{timestamp_ms}.{version}.".encode() + body)


def verify(
    secret: bytes, body: bytes, headers: Mapping[str, str], now: datetime, tolerance_s: float
) -> Verdict:
    header = headers.get(SIGNATURE_HEADER)
    if not header:
        return "missing"
    fields: dict[str, str] = {}
    for part in header.strip().removeprefix("{").removesuffix("}").split(","):
        match = _FIELD.fullmatch(part)
        if match is None:
            return "malformed"
        fields[match.group(1)] = match.group(2)
    if set(fields) != {"v", "ts", "sign"} or not fields["ts"].isdigit() or len(fields["ts"]) > 15:
        return "malformed"
    if abs(now.timestamp() - int(fields["ts"]) / 1000) > tolerance_s:
        return "stale"
    expected = sign(secret, fields["v"], int(fields["ts"]), body)
    return "ok" if same(expected, fields["sign"].lower()) else "mismatch"


def events(delivery: Delivery, mapping: SourceMapping) -> list[Item]:
    body = delivery.body
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        return [Unmappable("expected a Toloka notification: a JSON object with events")]
    return each(body["events"], lambda event: _event(event, mapping))


def _event(event: Any, mapping: SourceMapping) -> Item:
    event = obj(event, "events[]")
    kind = event.get("type")
    if not isinstance(kind, str):
        raise Unmapped("events[].type: expected the event type's name")
    status, verdict = STATUSES.get(kind), VERDICTS.get(kind)
    if status is None and verdict is None:
        return Ignored(f"{kind}: not work to count")
    when = instant(event.get("event_time"), "event_time")
    assignment = ident(event.get("assignment_id"), "assignment_id")
    mapper = Mapper(mapping, event)
    common = mapper.common(
        "task_completed" if status else "task_audited",
        event_id=event_id("toloka", ident(event.get("uuid"), "uuid")),
        occurred_at=when,
        project=ident(event.get("project_id"), "project_id"),
    )
    task = ident(event.get("task_suite_id"), "task_suite_id")
    user = event.get("user_id")
    worker = None if user is None else ident(user, "user_id")
    if status is not None:
        return mapper.completion(
            common,
            task=task,
            annotator=worker,
            status=status,
            handle_time_s=None,
            submission=assignment,
        )
    assert verdict is not None
    return mapper.audit(common, task=task, annotator=worker, auditor=REQUESTER, verdict=verdict)
