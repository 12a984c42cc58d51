"""Argilla's response webhooks -> submissions and retractions; Standard Webhooks signatures."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any

import pytest

from gateway.connectors import argilla
from gateway.connectors.base import Ignored, PayloadPath, SourceMapping, User
from tests.unit.gateway.payloads import ARGILLA_UPDATED, NO_MAPPING, RECEIVED, contract, deliver


def events(body: dict[str, Any], mapping: SourceMapping = NO_MAPPING) -> list[Any]:
    return argilla.events(deliver(body), mapping)


def created(status: str) -> dict[str, Any]:
    body = copy.deepcopy(ARGILLA_UPDATED)
    body["type"] = "response.created"
    body["data"]["status"] = status
    return body


def test_discarded_response_updated_is_a_skip_of_revision_2() -> None:
    assert contract(events(ARGILLA_UPDATED)) == [
        {
            "event_type": "task_completed",
            "schema_version": 1,
            "event_id": "argilla:response:38e4d8a9-5ba1-4b6e-9a8c-7d5c35e1a6b3:1727360002206179",
            "occurred_at": "2024-09-26T14:13:22.206179Z",
            "project_id": "ae29b6a8-8a3e-44a7-8cbb-3b4d7e0f2c55",
            "queue_id": "ae29b6a8-8a3e-44a7-8cbb-3b4d7e0f2c55",
            "locale": "und",
            "revision": 2,
            "task_id": "54b1f5c2-0b9e-4b38-8a4a-2fe3b7ac8f11",
            "annotator_id": "df114b3c-1f2e-4a5d-9d6c-0a1b2c3d4e5f",
            "vendor_id": None,
            "source": "human",
            "status": "skipped",
            "submission_id": "38e4d8a9-5ba1-4b6e-9a8c-7d5c35e1a6b3",
            "task_type": None,
            "tags": [],
        }
    ]


def test_submitted_created_is_revision_1_drafts_are_ignored() -> None:
    mapping = SourceMapping(
        {"locale": PayloadPath.parse("data.record.metadata.language"), "project_id": "fineweb"},
        {"argilla": User("标注员-7")},
    )
    [event] = contract(events(created("submitted"), mapping))
    assert (event["status"], event["revision"], event["handle_time_s"]) == ("submitted", 1, 0.0)
    assert event["occurred_at"] == "2024-09-26T14:06:06.672138Z"  # inserted_at, UTC
    assert (event["locale"], event["project_id"], event["annotator_id"]) == (
        "en",
        "fineweb",
        "标注员-7",  # found by user name
    )
    assert events(created("draft")) == [Ignored("response status 'draft': not submitted work")]
    assert isinstance(events({**ARGILLA_UPDATED, "type": "dataset.created"})[0], Ignored)


def test_response_deleted_is_a_retraction() -> None:
    body = copy.deepcopy(ARGILLA_UPDATED)
    body["type"] = "response.deleted"
    [retraction] = contract(events(body))
    assert retraction["retracted"] is True
    assert retraction["submission_id"] == ARGILLA_UPDATED["data"]["id"]
    assert retraction["occurred_at"] == "2026-11-23T08:00:00Z"


SECRET = "whsec_" + base64.b64encode(b"argilla signing key 0123456789").decode()


def signed(body: bytes, secret: str, timestamp: int, message_id: str = "msg_abc") -> dict[str, str]:
    """A signature computed here, from the Standard Webhooks spec (not with the code under test)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


def test_signature_vectors() -> None:
    key = argilla.key(SECRET)
    body = json.dumps(ARGILLA_UPDATED).encode()
    now = int(RECEIVED.timestamp())
    assert argilla.verify(key, body, signed(body, SECRET, now), RECEIVED, 300) == "ok"
    assert argilla.verify(key, body + b"\n", signed(body, SECRET, now), RECEIVED, 300) == (
        "mismatch"
    )
    stale = signed(body, SECRET, now - 301)
    assert argilla.verify(key, body, stale, RECEIVED, 300) == "stale"
    future = signed(body, SECRET, now + 301)
    assert argilla.verify(key, body, future, RECEIVED, 300) == "stale"
    other = "whsec_" + base64.b64encode(b"someone else").decode()
    assert argilla.verify(key, body, signed(body, other, now), RECEIVED, 300) == "mismatch"
    rotated = signed(body, SECRET, now)
    rotated["webhook-signature"] = "v1,AAAA " + rotated["webhook-signature"]  # a rotation
    assert argilla.verify(key, body, rotated, RECEIVED, 300) == "ok"
    assert argilla.verify(key, body, {}, RECEIVED, 300) == "missing"
    bad_time = {**signed(body, SECRET, now), "webhook-timestamp": "soon"}
    assert argilla.verify(key, body, bad_time, RECEIVED + timedelta(0), 300) == "malformed"


def test_a_secret_that_is_not_base64_is_refused() -> None:
    with pytest.raises(argilla.SecretError):
        argilla.key("whsec_not base64!")


def test_a_status_that_is_not_text_is_no_submitted_work_not_a_crash() -> None:
    body = created("submitted")
    body["data"]["status"] = ["submitted"]
    [item] = events(body)
    assert isinstance(item, Ignored) and "not submitted work" in item.reason
