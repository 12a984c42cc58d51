"""``annotel gateway`` on the real embedded broker: routes, credentials, limits, dead letters.

A real gateway process on loopback, a real Tansu broker; what each request
did is read back from the topics with a real consumer.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest

from embedded.broker import embedded_broker
from schemas.deadletter import DeadLetter
from streams.kafka_config import EMBEDDED_CLUSTER_ID
from tests.gateway_process import TOKEN, GatewayProcess
from tests.kafka_helpers import consume_all
from tests.unit.gateway.payloads import CVAT_JOB_COMPLETED, LS_CREATED
from tests.webhook_signers import CONNECTORS_YAML, LS_TOKEN, SECRETS_ENV, cvat, label_studio

pytestmark = pytest.mark.integration

COMPLETED, AUDITED, DLQ = "annotation.task-completed", "annotation.task-audited", "annotation.dlq"
SLOW_CLIENT = "slow-client-token-0123456789"


def event(event_id: str, **fields: Any) -> dict[str, Any]:
    data = {
        "event_type": "task_completed",
        "schema_version": 1,
        "event_id": event_id,
        "occurred_at": "2026-11-23T08:00:00Z",
        "project_id": "医疗影像标注",
        "queue_id": "队列A",
        "task_id": "t-1",
        "annotator_id": "标注员-1",
        "status": "submitted",
        "handle_time_s": 12.5,
    }
    data.update(fields)
    return data


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, GatewayProcess]]:
    workdir = tmp_path_factory.mktemp("gateway")
    connectors = workdir / "connectors.yaml"
    connectors.write_text(
        CONNECTORS_YAML + "clients:\n  slow: {token_env: SLOW_TOKEN, rate_limit: 0.001}\n",
        encoding="utf-8",
    )
    with embedded_broker(cluster_id=EMBEDDED_CLUSTER_ID) as bootstrap:
        gateway = GatewayProcess(
            bootstrap,
            workdir,
            ANNOTEL_CONNECTORS_FILE=str(connectors),
            ANNOTEL_GATEWAY_MAX_BODY_BYTES="65536",
            ANNOTEL_GATEWAY_MAX_ITEMS="50",
            ANNOTEL_GATEWAY_RATE_BURST="20",
            SLOW_TOKEN=SLOW_CLIENT,
            **SECRETS_ENV,
        )
        with gateway:
            yield bootstrap, gateway


def values(bootstrap: str, topic: str) -> list[bytes]:
    return [record.value for record in consume_all(bootstrap, topic)]


def seen(bootstrap: str, topic: str) -> set[tuple[int, int]]:
    return {(record.partition, record.offset) for record in consume_all(bootstrap, topic)}


def since(bootstrap: str, topic: str, before: set[tuple[int, int]]) -> list[bytes]:
    """What landed on the topic after ``before`` (partitions interleave: no global order)."""
    return [
        record.value
        for record in consume_all(bootstrap, topic)
        if (record.partition, record.offset) not in before
    ]


def test_contract_events_one_object_an_array_and_ndjson(stack: tuple[str, GatewayProcess]) -> None:
    bootstrap, gateway = stack
    before = seen(bootstrap, COMPLETED)
    one = gateway.post_events(orjson.dumps(event("e-one")))
    assert (one.status, one.json()) == (200, {"accepted": 1, "rejected": []})
    many = [event("e-arr-1"), event("e-arr-2", status="skipped")]
    assert gateway.post_events(orjson.dumps(many)).json() == {"accepted": 2, "rejected": []}
    retraction = {
        "event_type": "task_completed",
        "schema_version": 1,
        "event_id": "e-gone",
        "occurred_at": "2026-11-23T09:00:00Z",
        "project_id": "医疗影像标注",
        "submission_id": "ann-17",
        "retracted": True,
    }
    ndjson = b"\n".join([orjson.dumps(event("e-nd-1")), b"", orjson.dumps(retraction), b""])
    reply = gateway.post_events(ndjson, "application/x-ndjson")
    assert reply.json() == {"accepted": 2, "rejected": []}  # the contract takes retractions
    records = [
        r for r in consume_all(bootstrap, COMPLETED) if (r.partition, r.offset) not in before
    ]
    ids = [json.loads(r.value)["event_id"] for r in records]
    assert sorted(ids) == sorted(["e-one", "e-arr-1", "e-arr-2", "e-nd-1", "e-gone"])
    assert {r.key for r in records} == {"医疗影像标注".encode()}  # keyed by project_id
    # The line itself is what lands, as ingest publishes it.
    assert orjson.dumps(retraction) in [r.value for r in records]


def test_refused_items_are_dead_letters_with_deterministic_ids(
    stack: tuple[str, GatewayProcess],
) -> None:
    bootstrap, gateway = stack
    body = b'{"event_type":"task_completed","schema_version":2}\n{oops\n' + orjson.dumps(
        event("e-ok-between")
    )
    before = seen(bootstrap, DLQ)
    first = gateway.post_events(body, "application/x-ndjson").json()
    assert first["accepted"] == 1
    assert [(r["index"], r["reason"]) for r in first["rejected"]] == [
        (0, "unsupported_version"),
        (1, "invalid_json"),
    ]
    gateway.post_events(body, "application/x-ndjson")  # the client retries the same body
    letters = [DeadLetter.from_json(v) for v in since(bootstrap, DLQ, before)]
    assert len(letters) == 4
    assert {letter.producer for letter in letters} == {"gateway"}
    oops = [letter for letter in letters if letter.reason == "invalid_json"]
    assert [letter.payload for letter in oops] == [b"{oops", b"{oops"]
    assert oops[0].message.startswith("/v1/events item 1: not valid UTF-8 JSON")
    # A retried request leaves the same dead letters (dlq_events keeps one of each).
    ids = Counter(letter.dead_letter_id for letter in letters)
    assert sorted(ids.values()) == [2, 2]


def test_a_label_studio_webhook_with_a_numeric_id_past_64_bits(
    stack: tuple[str, GatewayProcess],
) -> None:
    bootstrap, gateway = stack
    body = copy.deepcopy(LS_CREATED)
    body["annotation"]["id"] = 2**70 + 1
    body["task"] = {"id": 19, "data": {"queue": "队列-文本"}}
    raw = json.dumps(body).encode()
    before = seen(bootstrap, COMPLETED)
    reply = gateway.post_hook("ls", raw, label_studio(raw))
    assert reply.json() == {"accepted": 1, "rejected": [], "ignored": []}
    [landed] = [json.loads(v) for v in since(bootstrap, COMPLETED, before)]
    assert landed["submission_id"] == str(2**70 + 1)
    assert landed["queue_id"] == "队列-文本"  # the connectors file's path


def test_bad_credentials_are_401_and_publish_nothing(stack: tuple[str, GatewayProcess]) -> None:
    bootstrap, gateway = stack
    before = {topic: len(values(bootstrap, topic)) for topic in (COMPLETED, AUDITED, DLQ)}
    body = orjson.dumps(event("e-never"))
    assert gateway.post_events(body, token=None).status == 401
    assert gateway.post_events(body, token=TOKEN + "x").status == 401
    ls = json.dumps(LS_CREATED).encode()
    assert gateway.post_hook("ls", ls).status == 401
    assert gateway.post_hook("ls", ls, label_studio(ls, token="wrong-token")).status == 401
    job = json.dumps(CVAT_JOB_COMPLETED).encode()
    assert gateway.post_hook("cvat", job + b" ", cvat(job)).status == 401  # tampered
    assert gateway.post_hook("cvat", job, cvat(job, secret="another")).status == 401
    reply = gateway.post_hook("cvat", job)
    assert reply.status == 401 and reply.headers["www-authenticate"].startswith("Bearer")
    after = {topic: len(values(bootstrap, topic)) for topic in (COMPLETED, AUDITED, DLQ)}
    assert after == before
    metrics = gateway.metrics()
    failures = {k: v for k, v in metrics.items() if k.startswith("annotel_gateway_auth_fail")}
    assert (
        failures['annotel_gateway_auth_failures_total{route="/v1/events",source="",reason="token"}']
        >= 2
    )
    assert (
        failures[
            'annotel_gateway_auth_failures_total{route="/v1/hooks/{source}",source="cvat",'
            'reason="signature_mismatch"}'
        ]
        >= 2
    )
    assert (
        metrics[
            'annotel_gateway_requests_total{route="/v1/hooks/{source}",source="ls",status="401"}'
        ]
        >= 2
    )
    assert gateway.post_hook("cvat", job, cvat(job)).json()["accepted"] == 1  # signed: taken


def test_unknown_routes_and_sources_are_404(stack: tuple[str, GatewayProcess]) -> None:
    _bootstrap, gateway = stack
    assert gateway.post_hook("nobody", b"{}", label_studio(b"{}")).status == 404
    assert gateway.request("POST", "/v2/events", b"{}").status == 404
    assert gateway.request("GET", "/v1/events").status == 405


def test_bodies_over_the_limit_are_413(stack: tuple[str, GatewayProcess]) -> None:
    bootstrap, gateway = stack
    before = len(values(bootstrap, COMPLETED))
    big = b"[" + b",".join([orjson.dumps(event("e-big", task_type="x" * 60))] * 400) + b"]"
    assert len(big) > 65536
    reply = gateway.post_events(big)
    assert reply.status == 413 and "65536" in reply.json()["error"]
    many = b"\n".join(orjson.dumps(event(f"e-many-{i}")) for i in range(51))
    reply = gateway.post_events(many, "application/x-ndjson")
    assert reply.status == 413 and "51 items" in reply.json()["error"]
    hook = json.dumps({**LS_CREATED, "padding": "x" * 70_000}).encode()
    assert gateway.post_hook("ls", hook, label_studio(hook)).status == 413
    assert len(values(bootstrap, COMPLETED)) == before


def test_a_client_over_its_rate_gets_429_with_retry_after(
    stack: tuple[str, GatewayProcess],
) -> None:
    _bootstrap, gateway = stack
    statuses = [gateway.post_events(b"{}", token=SLOW_CLIENT).status for _ in range(22)]
    assert statuses[:20] == [200] * 20  # the burst
    assert statuses[20:] == [429, 429]
    reply = gateway.post_events(b"{}", token=SLOW_CLIENT)
    assert int(reply.headers["retry-after"]) >= 1
    assert gateway.post_events(orjson.dumps(event("e-other-client"))).status == 200


def test_unmappable_and_ignored_webhooks(stack: tuple[str, GatewayProcess]) -> None:
    bootstrap, gateway = stack
    before = seen(bootstrap, DLQ)
    broken = copy.deepcopy(LS_CREATED)
    broken["annotation"]["created_at"] = "last tuesday"
    raw = json.dumps(broken).encode()
    reply = gateway.post_hook("ls", raw, label_studio(raw)).json()
    assert reply["accepted"] == 0
    [rejected] = reply["rejected"]
    assert rejected["reason"] == "unmappable" and "annotation.created_at" in rejected["message"]
    [letter] = [DeadLetter.from_json(v) for v in since(bootstrap, DLQ, before)]
    assert (letter.reason, letter.payload, letter.producer) == ("unmappable", raw, "gateway")
    ping = b'{"event": "ping", "webhook_id": 7}'
    reply = gateway.post_hook("cvat", ping, cvat(ping)).json()
    assert reply == {
        "accepted": 0,
        "rejected": [],
        "ignored": [{"index": 0, "reason": "ping: not work to count"}],
    }
    empty = json.dumps({"action": "ANNOTATIONS_DELETED", "annotations": [], "project": {"id": 2}})
    reply = gateway.post_hook("ls", empty.encode(), label_studio(empty.encode())).json()
    assert reply["accepted"] == 0 and reply["rejected"] == []
    nothing = "the delivery lists no work (an empty list)"
    assert reply["ignored"] == [{"index": 0, "reason": nothing}]
    deep = b"[" * 300 + b"]" * 300
    before = seen(bootstrap, DLQ)
    body = b'[{"a": ' + deep + b"}]"
    reply = gateway.post_events(body).json()
    assert [r["reason"] for r in reply["rejected"]] == ["invalid_field"]
    [letter] = [DeadLetter.from_json(v) for v in since(bootstrap, DLQ, before)]
    assert letter.payload == body
    garbage = b"\xff not json"
    before = seen(bootstrap, DLQ)
    reply = gateway.post_hook("cvat", garbage, cvat(garbage)).json()
    assert reply["rejected"][0]["reason"] == "invalid_json"
    [letter] = [DeadLetter.from_json(v) for v in since(bootstrap, DLQ, before)]
    assert letter.payload == garbage


def test_openapi_describes_every_route_and_the_contract(stack: tuple[str, GatewayProcess]) -> None:
    _bootstrap, gateway = stack
    doc = gateway.request("GET", "/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {
        "/v1/events",
        "/v1/hooks/{source}",
        "/health",
        "/metrics",
        "/openapi.json",
    }
    schemas = doc["components"]["schemas"]
    validator = jsonschema.Draft202012Validator(schemas["task_completed"])
    assert validator.is_valid(event("e-schema"))
    assert not validator.is_valid(event("e-schema", status="done"))
    for path in ("/v1/events", "/v1/hooks/{source}"):
        assert {"200", "401", "413", "429", "503"} <= set(doc["paths"][path]["post"]["responses"])
    assert gateway.request("GET", "/health").json()["sources"] == sorted(
        ["argilla", "cvat", "labelbox", "ls", "toloka"]
    )


def test_access_logs_carry_no_secret_and_no_payload(stack: tuple[str, GatewayProcess]) -> None:
    _bootstrap, gateway = stack
    marker = "payload-marker-7d1f"
    gateway.post_events(orjson.dumps(event(marker)))
    gateway.post_events(orjson.dumps(event(marker)), token="a-wrong-token-" + marker)
    raw = json.dumps({**LS_CREATED, "note": marker}).encode()
    gateway.post_hook("ls", raw, label_studio(raw))
    logs = gateway.logs()
    access = [json.loads(line) for line in logs.splitlines() if '"annotel.gateway.access"' in line]
    assert any(line["route"] == "/v1/hooks/{source}" and line["status"] == 200 for line in access)
    assert {"method", "route", "source", "status", "items", "duration_ms"} <= set(access[-1])
    for secret in (
        TOKEN,
        LS_TOKEN,
        SLOW_CLIENT,
        marker,
        *json.loads(json.dumps(list(SECRETS_ENV.values()))),
    ):
        assert secret not in logs


def test_on_apache_kafka(apache_kafka: str, tmp_path: Path) -> None:
    """The same producer settings and routing on the other broker the suite runs."""
    connectors = tmp_path / "connectors.yaml"
    connectors.write_text(CONNECTORS_YAML, encoding="utf-8")
    prefix = "gw-" + tmp_path.name[-12:]
    topics = {
        "ANNOTEL_TOPIC_TASK_COMPLETED": f"{prefix}.completed",
        "ANNOTEL_TOPIC_TASK_AUDITED": f"{prefix}.audited",
        "ANNOTEL_TOPIC_DLQ": f"{prefix}.dlq",
    }
    with GatewayProcess(
        apache_kafka, tmp_path, ANNOTEL_CONNECTORS_FILE=str(connectors), **SECRETS_ENV, **topics
    ) as gateway:
        reply = gateway.post_events(orjson.dumps([event("e-apache"), {"event_type": "x"}]))
        assert reply.json()["accepted"] == 1
        raw = json.dumps(LS_CREATED).encode()
        assert gateway.post_hook("ls", raw, label_studio(raw)).json()["accepted"] == 1
    completed = [
        json.loads(r.value)["event_id"]
        for r in consume_all(apache_kafka, topics["ANNOTEL_TOPIC_TASK_COMPLETED"])
    ]
    assert sorted(completed) == ["e-apache", "ls:ann:17:1629208368536370"]
    [letter] = consume_all(apache_kafka, topics["ANNOTEL_TOPIC_DLQ"])
    assert DeadLetter.from_json(letter.value).reason == "unknown_event_type"
