"""CVAT's job webhooks -> submissions, audits and retractions; its X-Signature-256."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from typing import Any

from gateway.connectors import cvat
from gateway.connectors.base import Ignored, SourceMapping, Unmappable, User
from tests.unit.gateway.payloads import (
    CVAT_JOB_COMPLETED,
    CVAT_TASK_UPDATED,
    NO_MAPPING,
    contract,
    deliver,
)


def events(body: dict[str, Any], mapping: SourceMapping = NO_MAPPING) -> list[Any]:
    return cvat.events(deliver(body), mapping)


def test_a_job_completed_in_annotation_is_a_submission() -> None:
    assert contract(events(CVAT_JOB_COMPLETED)) == [
        {
            "event_type": "task_completed",
            "schema_version": 1,
            "event_id": "cvat:job:19:1664874723100000:completed",
            "occurred_at": "2022-10-04T09:12:03.100000Z",
            "project_id": "7",
            "queue_id": "7",
            "locale": "und",
            "revision": 1,
            "task_id": "19",
            "annotator_id": "4",
            "vendor_id": None,
            "source": "human",
            "status": "submitted",
            "submission_id": "19",
            "task_type": None,
            "tags": [],
            "handle_time_s": 0.0,
            "task_created_at": "2022-10-04T08:05:50.419259Z",
        }
    ]


def test_validation_to_acceptance_approves_and_rejected_rejects() -> None:
    approved = copy.deepcopy(CVAT_JOB_COMPLETED)
    approved["job"].update(stage="acceptance", state="new")
    approved["before_update"] = {"stage": "validation"}
    approved["sender"] = {"id": 1, "username": "reviewer1"}
    [audit] = contract(events(approved))
    assert audit["event_type"] == "task_audited"
    assert (audit["verdict"], audit["auditor_id"], audit["annotator_id"]) == ("approve", "1", "4")
    assert audit["event_id"] == "cvat:job:19:1664874723100000:approved"
    rejected = copy.deepcopy(CVAT_JOB_COMPLETED)
    rejected["job"].update(stage="validation", state="rejected")
    rejected["before_update"] = {"state": "completed"}
    [audit] = contract(events(rejected))
    assert audit["verdict"] == "reject" and audit["task_id"] == "19"


def test_users_are_found_by_name_too_and_gold_jobs_need_correctness() -> None:
    mapping = SourceMapping({"gold_correct": True}, {"annotator4": User("标注员-4", "apex", True)})
    body = copy.deepcopy(CVAT_JOB_COMPLETED)
    body["job"]["type"] = "ground_truth"
    [gold] = contract(events(body, mapping))
    assert (gold["annotator_id"], gold["vendor_id"]) == ("标注员-4", "apex")
    assert (gold["is_gold"], gold["gold_correct"]) == (True, True)
    [item] = events(body)
    assert isinstance(item, Unmappable) and "gold_correct" in item.message


def test_deleted_task_retracts_its_jobs_and_other_changes_are_ignored() -> None:
    gone = copy.deepcopy(CVAT_TASK_UPDATED)
    gone["event"] = "delete:task"
    assert contract(events(gone)) == [
        {
            "event_type": "task_completed",
            "schema_version": 1,
            "event_id": "cvat:job:19:deleted",
            "occurred_at": "2026-11-23T08:00:00Z",
            "project_id": "7",
            "revision": 1,
            "submission_id": "19",
            "retracted": True,
        }
    ]
    assert events(CVAT_TASK_UPDATED) == [Ignored("update:task: not work to count")]
    reassigned = copy.deepcopy(CVAT_JOB_COMPLETED)
    reassigned["before_update"] = {"assignee": None}
    assert isinstance(events(reassigned)[0], Ignored)
    assert events({"event": "ping"}) == [Ignored("ping: not work to count")]


def test_a_job_outside_any_project_needs_project_id_mapped() -> None:
    body = copy.deepcopy(CVAT_JOB_COMPLETED)
    body["job"]["project_id"] = None
    [item] = events(body)
    assert isinstance(item, Unmappable) and "project_id" in item.message
    [event] = contract(events(body, SourceMapping({"project_id": "lidar"})))
    assert (event["project_id"], event["queue_id"]) == ("lidar", "lidar")


SECRET = b"cvat webhook secret"


def test_signature_vectors() -> None:
    body = json.dumps(CVAT_JOB_COMPLETED).encode()
    signature = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    assert cvat.verify(SECRET, body, {"x-signature-256": "sha256=" + signature}) == "ok"
    assert cvat.verify(SECRET, body, {"x-signature-256": signature}) == "ok"  # the docs' spelling
    assert cvat.verify(SECRET, body + b" ", {"x-signature-256": "sha256=" + signature}) == (
        "mismatch"
    )
    assert cvat.verify(b"another secret", body, {"x-signature-256": signature}) == "mismatch"
    assert cvat.verify(SECRET, body, {}) == "missing"
    assert cvat.verify(SECRET, body, {"x-signature-256": "sha256=zz"}) == "malformed"
