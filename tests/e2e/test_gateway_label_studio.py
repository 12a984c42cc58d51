"""A Label Studio project's webhooks over HTTP to a running gateway, then the worker drained.

The sequence a project sends while people work: a bulk creation, a single
creation, an edit, a delete, a review, its update, and a review then deleted.
The contract events it means are written here by hand from Label Studio's
fields (not by the connector's code), and ``metrics_1m FINAL`` must equal what
the versions rule gives for them. Then the platform redelivers the whole
sequence (a retry after a timeout on its side): the worker drained again, the
tables are unchanged and every redelivered event counts as a duplicate.

Times are in the last hour, as a live project's are: deletes carry no time of
their own and become retractions at the moment the gateway received them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from embedded.broker import embedded_broker
from sinks.client import connect
from streams.kafka_config import EMBEDDED_CLUSTER_ID
from tests.e2e.worker_helpers import drained_totals, run_until_drained, worker_env
from tests.gateway_process import GatewayProcess
from tests.oracle import compare_metrics, oracle, read_tables
from tests.webhook_signers import CONNECTORS_YAML, SECRETS_ENV, label_studio

pytestmark = pytest.mark.e2e

PROJECT = {"id": 2, "title": "Radiology reports", "maximum_annotations": 1}
BASE = (datetime.now(UTC) - timedelta(minutes=40)).replace(second=0, microsecond=0)


def at(minutes: float) -> str:
    return (BASE + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def micros(minutes: float) -> int:
    """A time as the connectors stamp versions: whole microseconds since the epoch."""
    return round((BASE + timedelta(minutes=minutes)).timestamp() * 1_000_000)


def task(task_id: int, queue: str, created: float) -> dict[str, Any]:
    return {"id": task_id, "data": {"text": "…", "queue": queue}, "created_at": at(created)}


def annotation(ann_id: int, task_id: int, user: int, minute: float, **extra: Any) -> dict[str, Any]:
    return {
        "id": ann_id,
        "result": [{"value": {"choices": ["Normal"]}, "from_name": "c", "to_name": "t"}],
        "was_cancelled": False,
        "ground_truth": False,
        "created_at": at(minute),
        "updated_at": at(minute),
        "lead_time": 20.5,
        "prediction": {},
        "task": task_id,
        "completed_by": user,
        **extra,
    }


def deliveries() -> list[dict[str, Any]]:
    """What Label Studio posts, in order."""
    a21 = annotation(21, 31, 1, 1.25, lead_time=20.5)
    a22 = annotation(22, 32, 2, 1.5, was_cancelled=True, lead_time=3.0)
    a23 = annotation(23, 33, 1, 2.75, lead_time=12.25)
    a24 = annotation(24, 34, 2, 3.5, lead_time=40.0)
    a21_edited = {**a21, "updated_at": at(6.0), "lead_time": 55.0}
    return [
        {
            "action": "ANNOTATIONS_CREATED",
            "annotation": [a21, a22, a23],
            "task": [task(31, "triage", 0), task(32, "triage", 0.5), task(33, "second-read", 1)],
            "project": PROJECT,
        },
        {
            "action": "ANNOTATION_CREATED",
            "annotation": a24,
            "task": task(34, "triage", 2),
            "project": PROJECT,
        },
        {
            "action": "ANNOTATION_UPDATED",
            "annotation": a21_edited,
            "task": task(31, "triage", 0),
            "project": PROJECT,
        },
        {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 23}], "project": PROJECT},
        {
            "action": "REVIEW_CREATED",
            "review": {
                "id": 5,
                "annotation": {**a24, "task": task(34, "triage", 2)},
                "accepted": False,
                "created_by": 3,
                "started_at": at(7.0),
                "created_at": at(7.5),
            },
            "project": PROJECT,
        },
        {
            "action": "REVIEW_UPDATED",
            "review": {
                "id": 5,
                "annotation": {**a24, "task": task(34, "triage", 2)},
                "accepted": True,
                "created_by": 3,
                "started_at": at(7.0),
                "created_at": at(7.5),
                "updated_at": at(9.25),
            },
            "project": PROJECT,
        },
        {
            "action": "REVIEW_CREATED",
            "review": {
                "id": 6,
                "annotation": {**a21_edited, "task": task(31, "triage", 0)},
                "accepted": True,
                "created_by": 3,
                "started_at": at(10.0),
                "created_at": at(10.5),
            },
            "project": PROJECT,
        },
        {
            "action": "REVIEWS_DELETED",
            "reviews": [{"id": 6, "annotation": {**a21_edited, "task": task(31, "triage", 0)}}],
            "project": PROJECT,
        },
    ]


def contract_events(received: str) -> list[dict[str, Any]]:
    """The events the sequence means, by docs/gateway.md's Label Studio mapping."""
    common = {"schema_version": 1, "project_id": "2", "locale": "und"}

    def done(ann: int, task_id: int, user: int, minute: float, queue: str, **f: Any) -> Any:
        return {
            **common,
            "event_type": "task_completed",
            "event_id": f"ls:ann:{ann}:{micros(minute)}",
            "occurred_at": at(minute),
            "queue_id": queue,
            "task_id": str(task_id),
            "annotator_id": str(user),
            "submission_id": str(ann),
            **f,
        }

    def review(rev: int, minute: float, verdict: str, **f: Any) -> Any:
        return {
            **common,
            "event_type": "task_audited",
            "event_id": f"ls:rev:{rev}:{micros(minute)}",
            "occurred_at": at(minute),
            "queue_id": "triage",
            "auditor_id": "3",
            "verdict": verdict,
            **f,
        }

    return [
        done(21, 31, 1, 1.25, "triage", status="submitted", handle_time_s=20.5,
             task_created_at=at(0)),
        done(22, 32, 2, 1.5, "triage", status="skipped", task_created_at=at(0.5)),
        done(23, 33, 1, 2.75, "second-read", status="submitted", handle_time_s=12.25,
             task_created_at=at(1)),
        done(24, 34, 2, 3.5, "triage", status="submitted", handle_time_s=40.0,
             task_created_at=at(2)),
        # The edit: revision 2 at its updated_at, in another minute than the first.
        done(21, 31, 1, 6.0, "triage", status="submitted", handle_time_s=55.0,
             task_created_at=at(0), revision=2),
        {**common, "event_type": "task_completed", "event_id": "ls:ann:23:deleted",
         "occurred_at": received, "submission_id": "23", "retracted": True},
        review(5, 7.5, "reject", task_id="34", annotator_id="2", audit_time_s=30.0),
        review(5, 9.25, "approve", task_id="34", annotator_id="2", revision=2,
               audit_time_s=30.0),
        review(6, 10.5, "approve", task_id="31", annotator_id="1", audit_time_s=30.0),
        {**common, "event_type": "task_audited", "event_id": "ls:rev:6:deleted",
         "occurred_at": received, "task_id": "31", "annotator_id": "1", "retracted": True},
    ]  # fmt: skip


def post_all(gateway: GatewayProcess) -> list[dict[str, Any]]:
    answers = []
    for delivery in deliveries():
        body = json.dumps(delivery).encode()
        reply = gateway.post_hook("ls", body, label_studio(body))
        assert reply.status == 200, (reply.status, reply.body)
        answers.append(reply.json())
    return answers


@dataclass
class Run:
    answers: list[dict[str, Any]]
    received: str
    first: dict[str, int]
    second: dict[str, int]
    tables: tuple[Any, Any, dict[str, int]]
    tables_again: tuple[Any, Any, dict[str, int]]
    letters: list[tuple[str, str]]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The sequence posted, the worker drained; posted again, drained again."""
    tmp_path = tmp_path_factory.mktemp("label-studio")
    connectors = tmp_path / "connectors.yaml"
    connectors.write_text(CONNECTORS_YAML, encoding="utf-8")
    data = tmp_path / "data"
    dsn = "chdb://" + str(data / "clickhouse")
    with (
        embedded_broker(cluster_id=EMBEDDED_CLUSTER_ID) as bootstrap,
        GatewayProcess(
            bootstrap, tmp_path, ANNOTEL_CONNECTORS_FILE=str(connectors), **SECRETS_ENV
        ) as gateway,
    ):
        received = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        answers = post_all(gateway)
        env = worker_env(bootstrap, data)
        first = drained_totals(run_until_drained(env, tmp_path / "worker-1.log"))
        tables = read_tables(dsn)
        post_all(gateway)  # the platform redelivers everything
        second = drained_totals(run_until_drained(env, tmp_path / "worker-2.log"))
        tables_again = read_tables(dsn)
    client = connect(dsn)
    try:
        letters = client.query("SELECT reason, message FROM dlq_events FINAL").result_rows
    finally:
        client.close()
    return Run(answers, received, first, second, tables, tables_again, letters)


def test_every_delivery_is_accepted_and_retries_change_nothing(run: Run) -> None:
    assert [a["accepted"] for a in run.answers] == [3, 1, 1, 1, 1, 1, 1, 1]
    assert all(a["rejected"] == [] and a["ignored"] == [] for a in run.answers)
    assert run.first["events_in"] == 10
    metrics, errors, counts = run.tables
    metrics_again, errors_again, counts_again = run.tables_again
    assert metrics_again == metrics and errors_again == errors
    assert counts_again["task_events"] == counts["task_events"]
    assert counts_again["audit_events"] == counts["audit_events"]
    # The worker's totals run on across restarts: the redelivery added 10 events in,
    # nothing accepted, and every event (the two retractions too) came back a duplicate.
    assert run.second["events_in"] == 20, run.second
    assert run.second["accepted"] == run.first["accepted"] == 10, run.second
    assert run.second["retractions"] == run.first["retractions"] == 2, run.second
    assert run.second["duplicates"] == 10, run.second


def test_metrics_follow_the_versions_rule(run: Run) -> None:
    metrics, errors, _counts = run.tables
    assert run.letters == []  # the two deletions are retractions, not dead letters
    expected, expected_errors = oracle(contract_events(run.received))
    assert compare_metrics(metrics, expected) == []
    assert errors == expected_errors == {}
    # Counted: 21 (as edited), 22 (skipped), 24; the review of 24 as updated.
    assert sum(row["tasks_submitted"] for row in metrics.values()) == 2
    assert sum(row["tasks_skipped"] for row in metrics.values()) == 1
    assert sum(row["audits_approved"] for row in metrics.values()) == 1
    assert sum(row["audits"] for row in metrics.values()) == 1
