"""Labelbox label and workflow webhooks -> contract events; X-Hub-Signature (SHA-1 and SHA-256)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from typing import Any

from gateway.connectors import labelbox
from gateway.connectors.base import Ignored, PayloadPath, SourceMapping, Unmappable
from tests.unit.gateway.payloads import LABELBOX_CREATED, NO_MAPPING, contract, deliver


def events(body: dict[str, Any], topic: str, mapping: SourceMapping = NO_MAPPING) -> list[Any]:
    return labelbox.events(deliver(body, {"x-labelbox-event": topic}), mapping)


def test_label_created_is_a_submission_with_seconds_to_create() -> None:
    mapping = SourceMapping({"queue_id": PayloadPath.parse("project.project_details.task_name")})
    assert contract(events(LABELBOX_CREATED, "LABEL_CREATED", mapping)) == [
        {
            "event_type": "task_completed",
            "schema_version": 1,
            "event_id": "lb:label:cllabel0001:1709287200000000",
            "occurred_at": "2024-03-01T10:00:00Z",
            "project_id": "clproj0001",
            "queue_id": "Initial review",
            "locale": "und",
            "revision": 1,
            "task_id": "clrow0001",
            "annotator_id": "ann@example.com",
            "vendor_id": None,
            "source": "human",
            "status": "submitted",
            "submission_id": "cllabel0001",
            "task_type": None,
            "tags": [],
            "handle_time_s": 42.5,
        }
    ]


def test_updated_deleted_and_skipped() -> None:
    body = copy.deepcopy(LABELBOX_CREATED)
    label = body["projects"]["clproj0001"]["labels"][0]
    label["label_details"]["updated_at"] = "2024-03-01T11:30:00+00:00"
    label["performance_details"]["skipped"] = True
    [update] = contract(events(body, "LABEL_UPDATED"))
    assert (update["revision"], update["occurred_at"], update["status"]) == (
        2,
        "2024-03-01T11:30:00Z",
        "skipped",
    )
    [gone] = contract(events(body, "label_deleted"))  # the header's case does not matter
    assert gone["retracted"] is True and gone["submission_id"] == "cllabel0001"


def test_workflow_actions_are_verdicts() -> None:
    action = {
        "action": "Rework",
        "performed_by": "reviewer@example.com",
        "created_at": "2024-03-01T12:00:00Z",
        "data_row": {"id": "clrow0001"},
        "project": {"id": "clproj0001"},
        "label": LABELBOX_CREATED["projects"]["clproj0001"]["labels"][0],
    }
    [audit] = contract(events(action, "WORKFLOW_ACTION"))
    assert (audit["verdict"], audit["auditor_id"], audit["annotator_id"]) == (
        "reject",  # sent back to be redone
        "reviewer@example.com",
        "ann@example.com",
    )
    [approved] = contract(events({**action, "action": "APPROVE"}, "WORKFLOW_ACTION"))
    assert approved["verdict"] == "approve" and approved["event_id"] != audit["event_id"]
    moved = events({**action, "action": "MOVE"}, "WORKFLOW_ACTION")
    assert moved == [Ignored("WORKFLOW_ACTION 'MOVE': no verdict")]


def test_without_a_topic_or_labels() -> None:
    [item] = labelbox.events(deliver(LABELBOX_CREATED), NO_MAPPING)
    assert isinstance(item, Unmappable) and "X-Labelbox-Event" in item.message
    [item] = events({"data_row": {"id": "x"}}, "LABEL_CREATED")
    assert isinstance(item, Unmappable) and "project" in item.message


def test_labels_that_are_not_a_list_are_unmappable_not_a_crash() -> None:
    body = copy.deepcopy(LABELBOX_CREATED)
    body["projects"]["clproj0001"]["labels"] = 5
    [item] = events(body, "LABEL_CREATED")
    assert isinstance(item, Unmappable)
    assert item.message == "projects.clproj0001.labels: expected a list of labels"


SECRET = b"labelbox secret"


def test_signature_vectors() -> None:
    body = json.dumps(LABELBOX_CREATED).encode()
    sha1 = "sha1=" + hmac.new(SECRET, body, hashlib.sha1).hexdigest()
    sha256 = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    assert labelbox.verify(SECRET, body, {"x-hub-signature": sha1}) == "ok"
    assert labelbox.verify(SECRET, body, {"x-hub-signature-256": sha256}) == "ok"
    both = {"x-hub-signature": sha1, "x-hub-signature-256": sha256}
    assert labelbox.verify(SECRET, body, both) == "ok"
    assert labelbox.verify(SECRET, body + b"x", {"x-hub-signature": sha1}) == "mismatch"
    assert labelbox.verify(b"other", body, {"x-hub-signature": sha1}) == "mismatch"
    one_bad = {"x-hub-signature": sha1, "x-hub-signature-256": "sha256=" + "0" * 64}
    assert labelbox.verify(SECRET, body, one_bad) == "mismatch"
    assert labelbox.verify(SECRET, body, {}) == "missing"
