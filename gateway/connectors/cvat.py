"""CVAT: job state changes -> submissions and audits.

CVAT's unit of work is a *job* (a range of frames of a task), and its
webhooks send a resource's full serializer output with ``before_update``, the
changed keys' old values (``cvat/apps/webhooks/signals.py``). The job's state
machine is ``stage`` annotation / validation / acceptance and ``state`` new /
in progress / completed / rejected; ``type`` is annotation or ground_truth.

* ``update:job`` whose ``state`` becomes ``completed`` in the annotation
  stage: a ``task_completed`` (submitted) by the job's assignee, at the job's
  ``updated_date``; ``task_id`` and ``submission_id`` are the job id (each job
  is a piece of work of its own), a ground-truth job is gold.
* ``update:job`` whose ``stage`` goes from validation to acceptance: a
  ``task_audited`` approve; whose ``state`` becomes ``rejected``: a reject.
  The auditor is the ``sender``, the audited annotator the job's assignee
  (CVAT does not say who annotated a job that was reassigned for review).
* ``delete:task``: a retraction of every job of the task (its segments).
* Everything else (tasks, issues, comments, ``ping``) is no work: ignored.

CVAT measures no handle time (its own analytics do, in another database), so
``handle_time_s`` is 0 unless the connectors file maps it.

Signature: ``X-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`` when
the webhook has a secret (``cvat/apps/webhooks/utils.py``); the docs' example
omits the ``sha256=`` prefix, so both spellings are accepted.
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
    at_path,
    each,
    event_id,
    ident,
    instant,
    obj,
    stamp,
)
from gateway.connectors.signing import Verdict, hex_signature

PLATFORM = "cvat"
SIGNATURE_HEADER = "x-signature-256"


def verify(secret: bytes, body: bytes, headers: Mapping[str, str]) -> Verdict:
    return hex_signature(
        secret, body, headers.get(SIGNATURE_HEADER), digest="sha256", prefix="sha256="
    )


def events(delivery: Delivery, mapping: SourceMapping) -> list[Item]:
    body = delivery.body
    if not isinstance(body, dict) or not isinstance(body.get("event"), str):
        return [Unmappable("expected a CVAT webhook: a JSON object with an event")]
    name = body["event"]
    if name == "update:job":
        return each([body], lambda b: _job_update(b, mapping))
    if name == "delete:task":
        task = body.get("task")
        jobs = [
            job
            for segment in (at_path(task, ("segments",)) or [])
            if isinstance(segment, dict)
            for job in (segment.get("jobs") or [])
        ]
        if not jobs:
            return [Ignored("delete:task: the task had no jobs")]
        return each(jobs, lambda job: _deleted_job(body, mapping, job, delivery.received_at))
    return [Ignored(f"{name}: not work to count")]


def _user(value: Any, what: str) -> tuple[str | None, str | None]:
    """(user id, user name) of a CVAT user object (or a bare id)."""
    if value is None:
        return None, None
    if isinstance(value, dict):
        name = value.get("username")
        return ident(value.get("id"), f"{what}.id"), name if isinstance(name, str) else None
    return ident(value, what), None


def _project(job: dict[str, Any]) -> str | None:
    project = job.get("project_id")
    return None if project is None else ident(project, "job.project_id")


def _job_update(body: dict[str, Any], mapping: SourceMapping) -> Item:
    job = obj(body.get("job"), "job")
    before = body.get("before_update") or {}
    if not isinstance(before, dict):
        before = {}
    state, stage = job.get("state"), job.get("stage")
    completed = "state" in before and before["state"] != "completed" and state == "completed"
    approved = before.get("stage") == "validation" and stage == "acceptance"
    rejected = "state" in before and before["state"] != "rejected" and state == "rejected"
    if not (completed and stage == "annotation") and not approved and not rejected:
        return Ignored("update:job: neither a completion nor a verdict")
    job_id = ident(job.get("id"), "job.id")
    when = instant(job.get("updated_date"), "job.updated_date")
    kind = "completed" if completed and stage == "annotation" else "approved"
    if rejected:
        kind = "rejected"
    mapper = Mapper(mapping, body)
    common = mapper.common(
        "task_completed" if kind == "completed" else "task_audited",
        event_id=event_id("cvat", "job", job_id, stamp(when), kind),
        occurred_at=when,
        project=_project(job),
    )
    annotator, name = _user(job.get("assignee"), "job.assignee")
    if kind == "completed":
        created = job.get("created_date")
        return mapper.completion(
            common,
            task=job_id,
            annotator=annotator,
            annotator_aliases=(name,),
            status="submitted",
            handle_time_s=None,
            submission=job_id,
            task_created_at=instant(created, "job.created_date") if created else None,
            is_gold=job.get("type") == "ground_truth",
        )
    auditor, auditor_name = _user(body.get("sender"), "sender")
    return mapper.audit(
        common,
        task=job_id,
        annotator=annotator,
        annotator_aliases=(name,),
        auditor=auditor,
        auditor_aliases=(auditor_name,),
        verdict="approve" if kind == "approved" else "reject",
    )


def _deleted_job(
    body: dict[str, Any], mapping: SourceMapping, job: Any, received_at: datetime
) -> Item:
    job = obj(job, "task.segments[].jobs[]")
    job_id = ident(job.get("id"), "task.segments[].jobs[].id")
    task = obj(body.get("task"), "task")
    project = task.get("project_id")
    mapper = Mapper(mapping, body)
    common = mapper.common(
        "task_completed",
        event_id=event_id("cvat", "job", job_id, "deleted"),
        occurred_at=received_at,
        project=None if project is None else ident(project, "task.project_id"),
    )
    return mapper.retraction(common, submission_id=job_id)
