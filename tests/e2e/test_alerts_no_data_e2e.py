"""No data is not forever, end to end: an annotator's quality alert fires on the real broker
and chDB, the annotator gets no more audits while the rest of the stream flows on, and
the alert resolves with ``resolved_reason: no_data``, which a real HTTP receiver (an
Alertmanager-format webhook on 127.0.0.1) is told and the ``alerts`` table stores.

The annotator works in-house (no vendor): the summary names the team."""

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
    annotations:
      summary: "标注员 {annotator_id}（{vendor_id}）审核通过率 {value:.0%}"
    receivers: [hook]
receivers:
  hook: {type: webhook, url: "URL", format: alertmanager, group_wait: 0s}
"""
START = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
PROJECT, ANNOTATOR = "医疗影像标注", "ih-0034"


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


def _lines() -> list[bytes]:
    """Three audits a minute for the annotator in minutes 0-4, one approved in three; then
    none, while other projects keep every partition's watermark moving to minute 20."""
    lines = []
    for minute in range(20):
        if minute < 5:
            for i in range(3):
                event: dict[str, Any] = {
                    "schema_version": 1,
                    "event_type": "task_audited",
                    "event_id": f"a-{minute}-{i}",
                    "occurred_at": (START + timedelta(minutes=minute, seconds=10 * i)).isoformat(),
                    "project_id": PROJECT,
                    "queue_id": "分割",
                    "task_id": f"t-{minute}-{i}",
                    "annotator_id": ANNOTATOR,
                    "auditor_id": "审核员-1",
                    "vendor_id": None,
                    "verdict": "approve" if i == 0 else "reject",
                }
                lines.append(json.dumps(event, ensure_ascii=False).encode())
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


def test_an_annotator_alert_resolves_for_lack_of_data(
    fresh_broker: str, tmp_path: Path, hook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = hook
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES.replace("URL", url), encoding="utf-8")
    create_topics(fresh_broker)
    env = worker_env(fresh_broker, tmp_path / "data", ANNOTEL_RULES_FILE=str(rules))
    publish(fresh_broker, _lines(), TOPICS)
    totals = drained_totals(run_until_drained(env, tmp_path / "w.log"))
    assert (totals["alerts_fired"], totals["alerts_resolved"]) == (1, 1)

    on_topic = [json.loads(r.value) for r in consume_all(fresh_broker, "annotation.alerts")]
    on_topic.sort(key=lambda a: a["window_start"])
    assert [(a["status"], a["window_start"], a["resolved_reason"]) for a in on_topic] == [
        ("firing", "2026-11-02T10:00:00Z", None),
        # [10:05, 10:10) and [10:10, 10:15) without audits: resolved at the first's start
        ("resolved", "2026-11-02T10:10:00Z", "no_data"),
    ]
    assert on_topic[0]["value"] == pytest.approx(1 / 3)
    assert on_topic[0]["annotations"]["summary"] == "标注员 ih-0034（自有团队）审核通过率 33%"
    assert on_topic[1]["ends_at"] == "2026-11-02T10:05:00Z"
    assert on_topic[1]["value"] is None

    # The receiver was told, in Alertmanager's shape: why it resolved, in the annotations.
    alerts = [alert for body in bodies for alert in body["alerts"]]
    assert [a["status"] for a in alerts] == ["firing", "resolved"]
    resolved = alerts[1]
    assert resolved["annotations"]["resolved_reason"] == "no_data"
    assert resolved["annotations"]["resolved_note"].startswith("Resolved for lack of data")
    assert resolved["endsAt"] == "2026-11-02T10:05:00Z"
    assert "resolved_reason" not in alerts[0]["annotations"]

    client = connect("chdb://" + str(tmp_path / "data" / "clickhouse"))
    try:
        rows = client.query(
            "SELECT status, labels['annotator_id'], window_start, resolved_reason "
            "FROM alerts FINAL ORDER BY window_start"
        ).result_rows
    finally:
        client.close()
    assert [(r[0], r[1], r[2].strftime("%H:%M"), r[3]) for r in rows] == [
        ("firing", ANNOTATOR, "10:00", None),
        ("resolved", ANNOTATOR, "10:10", "no_data"),
    ]
