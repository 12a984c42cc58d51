"""Toloka's assignment notifications -> submissions and verdicts; its Toloka-Signature."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

from gateway.connectors import toloka
from gateway.connectors.base import Ignored, PayloadPath, SourceMapping, Unmappable
from tests.unit.gateway.payloads import NO_MAPPING, RECEIVED, TOLOKA_APPROVED, contract, deliver


def events(body: dict[str, Any], mapping: SourceMapping = NO_MAPPING) -> list[Any]:
    return toloka.events(deliver(body), mapping)


def notification(*kinds: str, user: str | None = "toloker-9") -> dict[str, Any]:
    template = TOLOKA_APPROVED["events"][0]
    out = []
    for number, kind in enumerate(kinds):
        event = {**template, "type": kind, "uuid": f"uuid-{number}"}
        if user is not None:
            event["user_id"] = user
        out.append(event)
    return {"events": out}


def test_the_documented_approval_names_no_toloker() -> None:
    [item] = events(TOLOKA_APPROVED)
    assert isinstance(item, Unmappable) and "annotator_id" in item.message
    mapping = SourceMapping({"annotator_id": "toloka-crowd", "auditor_id": "requester-7"})
    assert contract(events(TOLOKA_APPROVED, mapping)) == [
        {
            "event_type": "task_audited",
            "schema_version": 1,
            "event_id": "toloka:00000000-0000-0000-0000-000000000000",
            "occurred_at": "2000-01-01T12:00:00Z",
            "project_id": "project-1",
            "queue_id": "project-1",
            "locale": "und",
            "revision": 1,
            "task_id": "task-suite-1",
            "annotator_id": "toloka-crowd",
            "vendor_id": None,
            "source": "human",
            "auditor_id": "requester-7",
            "verdict": "approve",
        }
    ]


def test_statuses_map_one_to_one() -> None:
    body = notification(
        "ASSIGNMENT_SUBMITTED",
        "ASSIGNMENT_SKIPPED",
        "ASSIGNMENT_EXPIRED",
        "ASSIGNMENT_REJECTED",
        "ASSIGNMENT_CREATED",
        "POOL_CLOSED",
    )
    mapping = SourceMapping({"queue_id": PayloadPath.parse("pool_id")})
    items = events(body, mapping)
    assert [i["status"] for i in contract(items[:3])] == ["submitted", "skipped", "expired"]
    assert {i["submission_id"] for i in items[:3]} == {"assignment-1"}
    assert {i["queue_id"] for i in items[:4]} == {"pool-1"}
    assert (items[3]["verdict"], items[3]["auditor_id"]) == ("reject", "requester")
    assert items[4:] == [
        Ignored("ASSIGNMENT_CREATED: not work to count"),
        Ignored("POOL_CLOSED: not work to count"),
    ]
    assert contract([items[3]])[0]["annotator_id"] == "toloker-9"


SECRET = b"toloka secret key"


def header(body: bytes, secret: bytes, ts_ms: int) -> dict[str, str]:
    """Computed from Toloka's documented recipe: HMAC-SHA256(secret, "ts.v.body"), hex."""
    mac = hmac.new(secret, f"{ts_ms}.1.".encode() + body, hashlib.sha256).hexdigest()
    return {"toloka-signature": f"{{v=1, ts={ts_ms}, sign={mac}}}"}


def test_signature_vectors() -> None:
    body = b'{"events": []}'
    now_ms = int(RECEIVED.timestamp() * 1000)
    assert toloka.verify(SECRET, body, header(body, SECRET, now_ms), RECEIVED, 300) == "ok"
    assert toloka.verify(SECRET, b"{}", header(body, SECRET, now_ms), RECEIVED, 300) == "mismatch"
    stale = header(body, SECRET, now_ms - 301_000)
    assert toloka.verify(SECRET, body, stale, RECEIVED, 300) == "stale"
    assert toloka.verify(b"wrong", body, header(body, SECRET, now_ms), RECEIVED, 300) == "mismatch"
    assert toloka.verify(SECRET, body, {}, RECEIVED, 300) == "missing"
    garbled = {"toloka-signature": "v=1; ts=1"}
    assert toloka.verify(SECRET, body, garbled, RECEIVED, 300) == "malformed"


def test_the_documented_example_body_and_timestamp() -> None:
    """Toloka's documented body and ``ts`` (its secret is not published: ours is used)."""
    body = (
        b'{ "events": [ { "event_time": "2000-01-01T12:00:00", "project_id": "project-1", '
        b'"pool_id": "pool-1", "uuid": "00000000-0000-0000-0000-000000000000", '
        b'"task_suite_id": "task-suite-1", "assignment_id": "assignment-1", '
        b'"webhook_subscription_id": "subscription-1", "type": "ASSIGNMENT_APPROVED" } ]}'
    )
    mac = hmac.new(SECRET, b"946728000000.1." + body, hashlib.sha256).hexdigest()
    headers = {"toloka-signature": f"{{v=1, ts=946728000000, sign={mac}}}"}
    then = datetime(2000, 1, 1, 12, 0, tzinfo=UTC)
    assert toloka.verify(SECRET, body, headers, then, 300) == "ok"
    assert toloka.verify(SECRET, body, headers, RECEIVED, 300) == "stale"


def test_an_event_type_that_is_not_a_name_is_unmappable_not_a_crash() -> None:
    body = notification("ASSIGNMENT_SUBMITTED")
    body["events"][0]["type"] = ["ASSIGNMENT_SUBMITTED"]
    [item] = events(body)
    assert isinstance(item, Unmappable) and item.message.startswith("events[].type:")
