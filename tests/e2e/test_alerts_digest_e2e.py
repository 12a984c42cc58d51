"""A digest end to end: annotators' quality alerts on the real broker and chDB are not sent
one by one to the contributor managers' receiver (a JSON webhook on 127.0.0.1) but
collected and sent once, when the event-time period ends, as one message: one annotator
whose alert fired and is still firing, one whose alert fired and resolved for lack of
data. The alerts topic and table keep every transition, as for any receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from sinks.client import connect
from tests.e2e.worker_helpers import (
    TOPICS,
    create_topics,
    drained_totals,
    publish,
    run_until_drained,
    worker_env,
)
from tests.kafka_helpers import consume_all

pytestmark = pytest.mark.e2e

RULES = """
version: 1
rules:
  - name: annotator_quality_low
    metric: audit_pass_rate
    scope: [project_id, vendor_id, annotator_id]
    window: 5m
    op: "<"
    threshold: 0.75
    min_samples: 6
    no_data_for: 2
    severity: warning
    receivers: [managers]
receivers:
  managers: {type: webhook, url: "URL", format: json, group_wait: 0s, digest: {every: 15m}}
"""
START = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
PROJECT = "医疗影像标注"
GONE, STAYS = "ih-0034", "ih-0035"  # stops getting audits after minute 4; gets them throughout


class _Hook(BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def hook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    bodies: list[dict[str, Any]] = []
    handler = type("Hook", (_Hook,), {"bodies": bodies})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alerts", bodies
    finally:
        server.shutdown()
        server.server_close()


def _audit(annotator: str, minute: int, i: int, verdict: str) -> bytes:
    event: dict[str, Any] = {
        "schema_version": 1,
        "event_type": "task_audited",
        "event_id": f"{annotator}-{minute}-{i}",
        "occurred_at": (START + timedelta(minutes=minute, seconds=10 * i)).isoformat(),
        "project_id": PROJECT,
        "queue_id": "分割",
        "task_id": f"{annotator}-t-{minute}-{i}",
        "annotator_id": annotator,
        "auditor_id": "审核员-1",
        "vendor_id": None,
        "verdict": verdict,
    }
    return json.dumps(event, ensure_ascii=False).encode()


def _lines() -> list[bytes]:
    """Three audits a minute: GONE in minutes 0-4 (one approved in three), STAYS in minutes
    0-19 (none approved); other projects keep every partition's watermark moving."""
    lines = []
    for minute in range(20):
        for i in range(3):
            if minute < 5:
                lines.append(_audit(GONE, minute, i, "approve" if i == 0 else "reject"))
            lines.append(_audit(STAYS, minute, i, "reject"))
        for project in ("p-a", "p-b", "p-c", PROJECT):
            completed = {
                "schema_version": 1,
                "event_type": "task_completed",
                "event_id": f"{project}-{minute}",
                "occurred_at": (START + timedelta(minutes=minute)).isoformat(),
                "project_id": project,
                "queue_id": "q",
                "task_id": f"{project}-t-{minute}",
                "annotator_id": "x",
                "status": "submitted",
                "handle_time_s": 30,
            }
            lines.append(json.dumps(completed, ensure_ascii=False).encode())
    return lines


def test_a_digest_arrives_as_one_message(
    fresh_broker: str, tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = hook
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.replace("URL", url), encoding="utf-8")
    create_topics(fresh_broker)
    env = worker_env(fresh_broker, tmp_path / "data", ANNOTEL_RULES_FILE=str(rules))
    publish(fresh_broker, _lines(), TOPICS)
    totals = drained_totals(run_until_drained(env, tmp_path / "w.log"))
    assert (totals["alerts_fired"], totals["alerts_resolved"]) == (2, 1)

    # Every transition is history, as for any receiver...
    on_topic = [json.loads(r.value) for r in consume_all(fresh_broker, "annotation.alerts")]
    assert sorted((a["scope"]["annotator_id"], a["status"]) for a in on_topic) == [
        (GONE, "firing"),
        (GONE, "resolved"),
        (STAYS, "firing"),
    ]
    client = connect("chdb://" + str(tmp_path / "data" / "clickhouse"))
    try:
        stored = client.query("SELECT count() FROM alerts FINAL").result_rows[0][0]
    finally:
        client.close()
    assert stored == 3

    # ...but the managers got one message: the period [10:00, 10:15] (event time) ended
    # when the windows up to 10:15 were evaluated; the next one (10:30) has not.
    assert len(bodies) == 1
    digest = bodies[0]["digest"]
    assert (digest["receiver"], digest["period_start"], digest["period_end"]) == (
        "managers",
        "2026-11-02T10:00:00Z",
        "2026-11-02T10:15:00Z",
    )
    assert [a["scope"]["annotator_id"] for a in digest["fired"]] == [STAYS]
    assert digest["fired"][0]["value"] == 0.0
    assert digest["still_firing"] == []
    assert [(a["scope"]["annotator_id"], a["resolved_reason"]) for a in digest["resolved"]] == [
        (GONE, "no_data")
    ]
