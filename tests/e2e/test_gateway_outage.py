"""The broker stops answering while requests arrive: 503 + Retry-After, then retries count once.

The embedded broker is frozen (SIGSTOP: connections stay open, nothing is
answered, which is what a hung or partitioned broker looks like to a client)
while a platform posts; the gateway must answer ``503`` with ``Retry-After``
within its publish timeout instead of ``200``. When the broker is back
(SIGCONT) the platform retries the same requests until they are ``200``.
Without Kafka transactions a record of a failed attempt may still have been
stored (the broker reads its socket when it wakes up), so the topic may hold
a second copy of an event: the same ``event_id``, which the worker counts as
a duplicate. The test checks exactly that: every event on the topic, the
worker's duplicates equal to the extra copies, and ``metrics_1m FINAL`` equal
to counting each event once.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from embedded.broker import EmbeddedBroker
from streams.kafka_config import EMBEDDED_CLUSTER_ID
from tests.e2e.worker_helpers import drained_totals, run_until_drained, worker_env
from tests.gateway_process import GatewayProcess, Reply
from tests.kafka_helpers import consume_all
from tests.oracle import compare_metrics, oracle, read_tables
from tests.unit.gateway.payloads import LS_CREATED
from tests.webhook_signers import CONNECTORS_YAML, SECRETS_ENV, label_studio

pytestmark = pytest.mark.e2e


def batch(name: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "event_type": "task_completed",
            "schema_version": 1,
            "event_id": f"{name}-{i}",
            "occurred_at": f"2021-08-17T13:{50 + i % 5}:{i % 60:02d}Z",
            "project_id": "医疗影像标注",
            "queue_id": "队列A",
            "task_id": f"t-{name}-{i}",
            "annotator_id": f"标注员-{i % 3}",
            "status": "submitted",
            "handle_time_s": 10.0 + i,
        }
        for i in range(count)
    ]


def ls_webhook(annotation_id: int) -> tuple[bytes, dict[str, Any]]:
    """A Label Studio delivery and the contract event it means (written here, by hand)."""
    body = copy.deepcopy(LS_CREATED)
    body["annotation"]["id"] = annotation_id
    expected = {
        "event_type": "task_completed",
        "schema_version": 1,
        "event_id": f"ls:ann:{annotation_id}:1629208368536370",
        "occurred_at": "2021-08-17T13:52:48.536303Z",
        "project_id": "2",
        "queue_id": "2",
        "task_id": "19",
        "annotator_id": "1",
        "status": "submitted",
        "submission_id": str(annotation_id),
        "handle_time_s": 37.13,
    }
    return json.dumps(body).encode(), expected


def retry_until_stored(send: Any, deadline_s: float = 90) -> list[Reply]:
    """What a platform that retries does: honour Retry-After until the answer is 200."""
    replies = []
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        reply = send()
        replies.append(reply)
        if reply.status == 200:
            return replies
        assert reply.status == 503, (reply.status, reply.body)
        time.sleep(int(reply.headers["retry-after"]))
    raise AssertionError(f"still not stored after {deadline_s}s: {replies[-1]}")


def test_a_frozen_broker_is_503_and_the_retries_count_once(tmp_path: Path) -> None:
    connectors = tmp_path / "connectors.yaml"
    connectors.write_text(CONNECTORS_YAML, encoding="utf-8")
    broker = EmbeddedBroker(cluster_id=EMBEDDED_CLUSTER_ID, log_path=tmp_path / "broker.log")
    bootstrap = broker.start()
    try:
        with GatewayProcess(
            bootstrap,
            tmp_path,
            ANNOTEL_CONNECTORS_FILE=str(connectors),
            ANNOTEL_GATEWAY_PUBLISH_TIMEOUT="2s",
            ANNOTEL_GATEWAY_RETRY_AFTER="1s",
            **SECRETS_ENV,
        ) as gateway:
            before = batch("before", 30)
            assert gateway.post_events(orjson.dumps(before)).json()["accepted"] == 30
            during = [batch(f"during{n}", 20) for n in range(3)]
            hook, hook_event = ls_webhook(901)
            assert broker.process is not None
            os.kill(broker.process.pid, signal.SIGSTOP)
            try:
                replies = []
                for events in during:
                    started = time.monotonic()
                    replies.append(gateway.post_events(orjson.dumps(events)))
                    assert time.monotonic() - started < 8  # the publish timeout, not forever
                replies.append(gateway.post_hook("ls", hook, label_studio(hook)))
                failures = gateway.metrics()
            finally:
                os.kill(broker.process.pid, signal.SIGCONT)
            assert [(r.status, r.headers.get("retry-after")) for r in replies] == [(503, "1")] * 4
            assert failures['annotel_gateway_publish_failures_total{source="default"}'] == 3
            assert failures['annotel_gateway_publish_failures_total{source="ls"}'] == 1
            for events in during:
                body = orjson.dumps(events)
                retry_until_stored(lambda body=body: gateway.post_events(body))
            retry_until_stored(lambda: gateway.post_hook("ls", hook, label_studio(hook)))

        valid = [*before, *(e for events in during for e in events), hook_event]
        landed = Counter(
            json.loads(r.value)["event_id"]
            for r in consume_all(bootstrap, "annotation.task-completed")
        )
        assert set(landed) == {e["event_id"] for e in valid}  # nothing lost
        copies = sum(landed.values()) - len(landed)
        print(f"events stored twice (an attempt answered 503 that the broker still took): {copies}")

        env = worker_env(bootstrap, tmp_path / "data", ANNOTEL_MAX_FUTURE_SKEW="3650d")
        text = run_until_drained(env, tmp_path / "worker.log")
        totals = drained_totals(text)
        assert totals["accepted"] == len(valid)
        assert totals["duplicates"] == copies
        metrics, _errors, counts = read_tables("chdb://" + str(tmp_path / "data" / "clickhouse"))
        expected, _ = oracle(valid)
        assert compare_metrics(metrics, expected) == []
        assert counts["task_events"] == len(valid)
    finally:
        broker.stop()
