"""Labelbox: label and workflow webhooks -> contract events.

Topics (``labelbox/schema/webhook.py``): ``LABEL_CREATED``, ``LABEL_UPDATED``,
``LABEL_DELETED``, ``WORKFLOW_ACTION``; the topic comes in the
``X-Labelbox-Event`` header (or a body field ``event``). The exact JSON of a
label event is not public; the v2 webhook "mimics the export payload", so the
connector reads the export's shape: ``data_row.id``, and per project
(``projects: {<id>: {labels: [...], project_details: {...}}}``, or a single
``project`` with a ``label``) each label's ``id``, ``label_details``
(``created_by``, ``created_at``, ``updated_at``) and ``performance_details``
(``seconds_to_create``, ``skipped``).

* ``LABEL_CREATED``: a ``task_completed`` per label, submitted (skipped when
  ``performance_details.skipped``), by ``created_by`` (an email), at
  ``created_at``; ``handle_time_s`` is ``seconds_to_create``; ``task_id`` the
  data row; ``submission_id`` the label id. ``LABEL_UPDATED``: revision 2 at
  ``updated_at``. ``LABEL_DELETED``: a retraction of the label.
* ``WORKFLOW_ACTION``: ``action`` approve -> approve, reject -> reject, rework
  (sent back to be redone) -> reject; by ``performed_by`` (or ``created_by``),
  at ``created_at``; the audited annotator is the reviewed label's
  ``created_by``. Moves between queues without a verdict are ignored.

Signature: ``X-Hub-Signature: sha1=<hex HMAC-SHA1(secret, body)>``; one of
Labelbox's samples checks ``X-Hub-Signature-256`` (SHA-256) instead, so that
one is accepted too. Every signature header present must match.
"""

from __future__ import annotations

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
    at_path,
    each,
    event_id,
    ident,
    instant,
    obj,
    seconds,
    stamp,
)
from gateway.connectors.signing import Verdict, hex_signature

PLATFORM = "labelbox"
EVENT_HEADER = "x-labelbox-event"
SHA1_HEADER = "x-hub-signature"
SHA256_HEADER = "x-hub-signature-256"
VERDICTS = {"approve": "approve", "reject": "reject", "rework": "reject"}


def verify(secret: bytes, body: bytes, headers: Mapping[str, str]) -> Verdict:
    present = [
        (name, digest, prefix)
        for name, digest, prefix in (
            (SHA256_HEADER, "sha256", "sha256="),
            (SHA1_HEADER, "sha1", "sha1="),
        )
        if headers.get(name)
    ]
    if not present:
        return "missing"
    for name, digest, prefix in present:
        verdict = hex_signature(secret, body, headers.get(name), digest=digest, prefix=prefix)
        if verdict != "ok":
            return verdict
    return "ok"


def events(delivery: Delivery, mapping: SourceMapping) -> list[Item]:
    body = delivery.body
    if not isinstance(body, dict):
        return [Unmappable("expected a Labelbox webhook: a JSON object")]
    topic = delivery.headers.get(EVENT_HEADER) or body.get("event")
    if not isinstance(topic, str):
        return [Unmappable("no topic: neither an X-Labelbox-Event header nor an event field")]
    topic = topic.upper()
    if topic in ("LABEL_CREATED", "LABEL_UPDATED", "LABEL_DELETED"):
        try:
            labels = _labels(body)
        except Unmapped as exc:
            return [Unmappable(str(exc))]
        if topic == "LABEL_DELETED":
            return each(labels, lambda part: _deleted(body, mapping, part, delivery.received_at))
        revision = 2 if topic == "LABEL_UPDATED" else 1
        return each(labels, lambda part: _label(body, mapping, part, revision))
    if topic == "WORKFLOW_ACTION":
        return each([body], lambda b: _workflow(b, mapping))
    return [Ignored(f"{topic}: not work to count")]


Part = tuple[str, dict[str, Any], dict[str, Any]]


def _labels(body: dict[str, Any]) -> list[Part]:
    """(project id, project entry, label) for every label in the delivery."""
    projects = body.get("projects")
    if isinstance(projects, dict):
        found = []
        for project_id, entry in projects.items():
            entry = obj(entry, f"projects.{project_id}")
            labels = entry.get("labels") or []
            if not isinstance(labels, list):
                raise Unmapped(f"projects.{project_id}.labels: expected a list of labels")
            for label in labels:
                found.append((ident(project_id, "projects key"), entry, obj(label, "label")))
        if found:
            return found
    project = obj(body.get("project"), "project")
    return [(ident(project.get("id"), "project.id"), project, obj(body.get("label"), "label"))]


def _when(details: dict[str, Any], name: str) -> datetime:
    return instant(details.get(name), f"label_details.{name}")


def _details(label: dict[str, Any]) -> dict[str, Any]:
    details = label.get("label_details")
    return details if isinstance(details, dict) else label


def _label(body: dict[str, Any], mapping: SourceMapping, part: Part, revision: int) -> Item:
    project, entry, label = part
    details = _details(label)
    label_id = ident(label.get("id"), "label.id")
    occurred = _when(details, "created_at" if revision == 1 else "updated_at")
    version = _when(details, "updated_at") if details.get("updated_at") else occurred
    performance = label.get("performance_details")
    performance = performance if isinstance(performance, dict) else {}
    view = {**body, "project": {**entry, "id": project}, "label": label}
    mapper = Mapper(mapping, view)
    common = mapper.common(
        "task_completed",
        event_id=event_id("lb", "label", label_id, stamp(version)),
        occurred_at=occurred,
        project=project,
        revision=revision,
    )
    creator = details.get("created_by")
    return mapper.completion(
        common,
        task=ident(at_path(body, ("data_row", "id")), "data_row.id"),
        annotator=None if creator is None else ident(creator, "label_details.created_by"),
        status="skipped" if performance.get("skipped") is True else "submitted",
        handle_time_s=seconds(performance.get("seconds_to_create"), "seconds_to_create"),
        submission=label_id,
    )


def _deleted(
    body: dict[str, Any], mapping: SourceMapping, part: Part, received_at: datetime
) -> Item:
    project, entry, label = part
    label_id = ident(label.get("id"), "label.id")
    mapper = Mapper(mapping, {**body, "project": {**entry, "id": project}, "label": label})
    common = mapper.common(
        "task_completed",
        event_id=event_id("lb", "label", label_id, "deleted"),
        occurred_at=received_at,
        project=project,
    )
    return mapper.retraction(common, submission_id=label_id)


def _workflow(body: dict[str, Any], mapping: SourceMapping) -> Item:
    action = body.get("action")
    verdict = VERDICTS.get(action.lower()) if isinstance(action, str) else None
    if verdict is None:
        return Ignored(f"WORKFLOW_ACTION {action!r}: no verdict")
    label = obj(body.get("label"), "label (the reviewed label)")
    details = _details(label)
    project = obj(body.get("project"), "project")
    project_id = ident(project.get("id"), "project.id")
    when = instant(body.get("created_at"), "created_at")
    row = ident(at_path(body, ("data_row", "id")), "data_row.id")
    mapper = Mapper(mapping, body)
    common = mapper.common(
        "task_audited",
        event_id=event_id("lb", "wf", row, stamp(when), action.lower()),  # type: ignore[union-attr]
        occurred_at=when,
        project=project_id,
    )
    reviewer = body.get("performed_by", body.get("created_by"))
    creator = details.get("created_by")
    return mapper.audit(
        common,
        task=row,
        annotator=None if creator is None else ident(creator, "label.created_by"),
        auditor=None if reviewer is None else ident(reviewer, "performed_by"),
        verdict=verdict,
    )
