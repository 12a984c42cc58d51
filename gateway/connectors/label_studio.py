"""Label Studio: annotation (and, in Enterprise, review) webhooks -> contract events.

What Label Studio sends (``label_studio/webhooks/models.py`` and the webhook
reference): every body starts with ``action``; annotation events carry the
``annotation`` (a list for ``ANNOTATIONS_CREATED``), the nested ``task`` (a
list, likewise) and the ``project``; deletes carry ids only.

* ``ANNOTATION_CREATED`` / ``ANNOTATIONS_CREATED``: a ``task_completed`` per
  annotation, ``submission_id`` the annotation id, revision 1, at the
  annotation's ``created_at``. ``was_cancelled`` is ``skipped``; ``lead_time``
  is ``handle_time_s``; ``ground_truth`` is gold; the nested task's
  ``created_at`` is ``task_created_at``; a ``prediction`` or
  ``parent_prediction`` makes the work ``hybrid``.
* ``ANNOTATION_UPDATED``: the same annotation again, revision 2, at its
  ``updated_at``: it supersedes what came before (Label Studio numbers no
  versions; ``updated_at``, which the contract compares first, orders edits).
* ``ANNOTATIONS_DELETED`` / ``ANNOTATION_DELETED``: a retraction per id, at
  the moment the gateway received it (the delete carries no time of its own).
* ``REVIEW_CREATED`` / ``REVIEW_UPDATED`` (Enterprise): a ``task_audited`` of
  the reviewed annotation's task and annotator: ``accepted`` true is approve
  (fix when ``fixed_annotation_history`` is set), false is reject; the
  reviewer is ``created_by``; the audit time is ``created_at`` minus
  ``started_at``. The review payload is not in the public docs: the connector
  needs the reviewed annotation as an object (``review.annotation`` or the
  body's ``annotation``) to know whose work it was, and says so otherwise.
  ``REVIEWS_DELETED`` retracts the audit when the reviewed annotation is given.
* Every other action (projects, tasks, label links) is no work: ignored.
* Queue depth: Label Studio puts the project's counters in every webhook's
  ``project`` (``task_number``, ``finished_task_number``). A delivery of work
  whose project carries both also gives a ``queue_status`` of its queue:
  ``open_tasks`` = ``task_number`` - ``finished_task_number``, dated at the
  minute it was received, with the id ``ls:queue:<project>:<queue>:<minute>``:
  one snapshot per queue and minute, however many webhooks (and gateways)
  carry it; the gateway publishes the first and ignores the rest of that
  minute (``gateway.limits.SnapshotLimiter``), and the worker's dedup keeps
  one if several gateways each sent theirs.

Event ids: ``ls:ann:<annotation id>:<updated_at in µs>`` (a redelivered
webhook is the same event), ``ls:ann:<id>:deleted``, ``ls:rev:<review id>:...``.
Label Studio signs nothing: authenticate it with a header in the webhook
form (``Authorization: Bearer <token>``, the source's ``token_env``).
"""

from __future__ import annotations

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
    digest,
    each,
    event_id,
    ident,
    instant,
    obj,
    seconds,
    stamp,
)

PLATFORM = "label_studio"
REVISION_EDIT = 2


def events(delivery: Delivery, mapping: SourceMapping) -> list[Item]:
    body = delivery.body
    if not isinstance(body, dict) or not isinstance(body.get("action"), str):
        return [Unmappable("expected a Label Studio webhook: a JSON object with an action")]
    action = body["action"]
    if action in ("ANNOTATION_CREATED", "ANNOTATIONS_CREATED", "ANNOTATION_UPDATED"):
        revision = REVISION_EDIT if action == "ANNOTATION_UPDATED" else 1
        annotations = _many(body.get("annotation", body.get("annotations")))
        work = each(annotations, lambda a: _annotation(body, mapping, a, revision))
        return work + _queue_status(body, mapping, delivery.received_at)
    if action in ("ANNOTATIONS_DELETED", "ANNOTATION_DELETED"):
        gone = _many(body.get("annotations", body.get("annotation")))
        return each(gone, lambda a: _deleted_annotation(body, mapping, a, delivery.received_at))
    if action in ("REVIEW_CREATED", "REVIEW_UPDATED"):
        revision = REVISION_EDIT if action == "REVIEW_UPDATED" else 1
        reviews = _many(body.get("review", body.get("reviews")))
        work = each(reviews, lambda r: _review(body, mapping, r, revision))
        return work + _queue_status(body, mapping, delivery.received_at)
    if action in ("REVIEWS_DELETED", "REVIEW_DELETED"):
        gone = _many(body.get("reviews", body.get("review")))
        return each(gone, lambda r: _deleted_review(body, mapping, r, delivery.received_at))
    return [Ignored(f"{action}: not work to count")]


def _queue_status(
    body: dict[str, Any], mapping: SourceMapping, received_at: datetime
) -> list[Item]:
    """The queue's depth from the project counters, when the webhook carries them.

    Nothing when they are absent or not counts: the snapshot is optional, and
    the work items of the same delivery already say what is wrong with it.
    """
    project = body.get("project")
    if not isinstance(project, dict):
        return []
    total, finished = project.get("task_number"), project.get("finished_task_number")
    if type(total) is not int or type(finished) is not int or total < 0 or finished < 0:
        return []
    minute = received_at.replace(second=0, microsecond=0)
    try:
        common = Mapper(mapping, body).common(
            "queue_status",
            event_id="",
            occurred_at=minute,
            project=_project(body),
        )
    except Unmapped:
        return []
    snapshot = {k: v for k, v in common.items() if k not in ("locale", "revision")}
    snapshot["event_id"] = event_id(
        "ls", "queue", snapshot["project_id"], snapshot["queue_id"], stamp(minute)
    )
    snapshot["open_tasks"] = max(0, total - finished)
    return [snapshot]


def _many(value: Any) -> list[Any]:
    if value is None:
        return [None]  # one part, which reports what is missing
    return value if isinstance(value, list) else [value]


def _project(body: dict[str, Any]) -> str:
    return ident(at_path(body, ("project", "id")), "project.id")


def _task_of(body: dict[str, Any], annotation: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The annotation's task id and the nested task object, when the body has it."""
    task = annotation.get("task")
    if isinstance(task, dict):
        return ident(task.get("id"), "annotation.task.id"), task
    task_id = ident(task, "annotation.task")
    nested = body.get("task")
    for candidate in nested if isinstance(nested, list) else [nested]:
        if isinstance(candidate, dict) and candidate.get("id") == task:
            return task_id, candidate
    return task_id, {}


def _user(value: Any, what: str) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return None if value is None else ident(value, what)


def _annotation(
    body: dict[str, Any], mapping: SourceMapping, annotation: Any, revision: int
) -> Item:
    annotation = obj(annotation, "annotation")
    project = _project(body)
    annotation_id = ident(annotation.get("id"), "annotation.id")
    task_id, task = _task_of(body, annotation)
    created = instant(annotation.get("created_at"), "annotation.created_at")
    updated_at = annotation.get("updated_at")
    if revision == 1:
        occurred = created
        version = instant(updated_at, "annotation.updated_at") if updated_at else created
    else:
        occurred = version = instant(updated_at, "annotation.updated_at")
    mapper = Mapper(mapping, {**body, "annotation": annotation, "task": task})
    common = mapper.common(
        "task_completed",
        event_id=event_id("ls", "ann", annotation_id, stamp(version)),
        occurred_at=occurred,
        project=project,
        revision=revision,
    )
    cancelled = annotation.get("was_cancelled") is True
    hybrid = bool(annotation.get("prediction")) or annotation.get("parent_prediction") is not None
    created_at = task.get("created_at")
    return mapper.completion(
        common,
        task=task_id,
        annotator=_user(annotation.get("completed_by"), "annotation.completed_by"),
        status="skipped" if cancelled else "submitted",
        handle_time_s=seconds(annotation.get("lead_time"), "annotation.lead_time"),
        submission=annotation_id,
        task_created_at=instant(created_at, "task.created_at") if created_at else None,
        is_gold=annotation.get("ground_truth") is True,
        source="hybrid" if hybrid else "human",
    )


def _deleted_annotation(
    body: dict[str, Any], mapping: SourceMapping, annotation: Any, received_at: datetime
) -> Item:
    annotation = obj(annotation, "annotations[]")
    annotation_id = ident(annotation.get("id"), "annotations[].id")
    mapper = Mapper(mapping, {**body, "annotation": annotation})
    common = mapper.common(
        "task_completed",
        event_id=event_id("ls", "ann", annotation_id, "deleted"),
        occurred_at=received_at,
        project=_project(body),
    )
    return mapper.retraction(common, submission_id=annotation_id)


def _reviewed(body: dict[str, Any], review: dict[str, Any]) -> dict[str, Any]:
    """The reviewed annotation as an object: nested in the review, or beside it in the body."""
    target = review.get("annotation")
    if isinstance(target, dict):
        return target
    beside = body.get("annotation")
    for candidate in beside if isinstance(beside, list) else [beside]:
        if isinstance(candidate, dict) and (target is None or candidate.get("id") == target):
            return candidate
    raise Unmapped(
        "review.annotation: the review names annotation "
        f"{target!r} but the body does not carry it, so whose work was reviewed is unknown"
    )


def _review(body: dict[str, Any], mapping: SourceMapping, review: Any, revision: int) -> Item:
    review = obj(review, "review")
    project = _project(body)
    review_id = ident(review.get("id"), "review.id")
    annotation = _reviewed(body, review)
    task_id, task = _task_of(body, annotation)
    created = instant(review.get("created_at"), "review.created_at")
    updated = review.get("updated_at")
    if revision == 1 or not updated:
        # An update without updated_at keeps the review's time; revision 2 ranks it
        # above the first, and the review's content tells redeliveries apart from edits.
        occurred = created
        version = stamp(created) if revision == 1 else "d" + digest(review)
    else:
        occurred = instant(updated, "review.updated_at")
        version = stamp(occurred)
    if review.get("accepted") is True:
        fixed = review.get("fixed_annotation_history") is not None
        verdict = "fix" if fixed or review.get("last_action") == "fixed_and_accepted" else "approve"
    elif review.get("accepted") is False:
        verdict = "reject"
    else:
        raise Unmapped("review.accepted: expected true or false")
    started = review.get("started_at")
    audit_time = None
    if started:
        spent = (created - instant(started, "review.started_at")).total_seconds()
        audit_time = spent if 0 <= spent <= 86400 else None
    mapper = Mapper(mapping, {**body, "review": review, "annotation": annotation, "task": task})
    common = mapper.common(
        "task_audited",
        event_id=event_id("ls", "rev", review_id, version),
        occurred_at=occurred,
        project=project,
        revision=revision,
    )
    hybrid = bool(annotation.get("prediction")) or annotation.get("parent_prediction") is not None
    return mapper.audit(
        common,
        task=task_id,
        annotator=_user(annotation.get("completed_by"), "annotation.completed_by"),
        auditor=_user(review.get("created_by"), "review.created_by"),
        verdict=verdict,
        audit_time_s=audit_time,
        source="hybrid" if hybrid else "human",
    )


def _deleted_review(
    body: dict[str, Any], mapping: SourceMapping, review: Any, received_at: datetime
) -> Item:
    review = obj(review, "reviews[]")
    review_id = ident(review.get("id"), "reviews[].id")
    annotation = _reviewed(body, review)
    task_id, task = _task_of(body, annotation)
    mapper = Mapper(mapping, {**body, "review": review, "annotation": annotation, "task": task})
    common = mapper.common(
        "task_audited",
        event_id=event_id("ls", "rev", review_id, "deleted"),
        occurred_at=received_at,
        project=_project(body),
    )
    annotator, _vendor = mapper.person(
        "annotator_id", _user(annotation.get("completed_by"), "annotation.completed_by")
    )
    return mapper.retraction(common, task_id=task_id, annotator_id=annotator)
