"""A running worker serves /health and /metrics, and none of Faust's own pages.

Faust mounts ``/router/`` (cluster topology) and ``/table/`` (table data) by
default, an index at ``/`` (statistics and ``/assignment/`` in debug mode),
``/graph/`` and ``/performance/``. The worker's port shows only what the
worker itself registers.
"""

from __future__ import annotations

import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from schemas.loopback import free_port
from tests.e2e.worker_helpers import (
    TOPICS,
    create_topics,
    publish,
    scrape,
    start_worker,
    worker_env,
)

pytestmark = pytest.mark.e2e

FAUST_PAGES = (
    "/",
    "/router/",
    "/router/key/",
    "/table/",
    "/table/anything/",
    "/table/anything/key/",
    "/assignment/",
    "/stats/",
    "/graph/",
    "/performance/",
)


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_ready(port: int, alive: Callable[[], bool], log: Path, limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        assert alive(), log.read_text()[-3000:]
        try:
            if _get(port, "/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"the worker was not ready within {limit_s}s: {log.read_text()[-3000:]}")


def _versions() -> list[bytes]:
    """Five versions of two pieces of work: a submission edited then deleted, an audit redone."""
    base = {
        "schema_version": 1,
        "project_id": "项目甲",
        "queue_id": "队列",
        "task_id": "任务-1",
        "annotator_id": "标注员-1",
    }
    task = {**base, "event_type": "task_completed", "status": "submitted", "submission_id": "s-1"}
    audit = {**base, "event_type": "task_audited", "auditor_id": "审核员", "verdict": "reject"}
    events = [
        {**task, "event_id": "c-1", "occurred_at": "2026-11-20T01:00:10Z", "handle_time_s": 30},
        {
            **task,
            "event_id": "c-2",
            "occurred_at": "2026-11-20T01:05:00Z",
            "handle_time_s": 40,
            "revision": 2,
        },
        {
            "schema_version": 1,
            "event_type": "task_completed",
            "event_id": "c-3",
            "occurred_at": "2026-11-20T01:09:00Z",
            "project_id": "项目甲",
            "submission_id": "s-1",
            "revision": 3,
            "retracted": True,
        },
        {**audit, "event_id": "a-1", "occurred_at": "2026-11-20T01:06:00Z"},
        {**audit, "event_id": "a-2", "occurred_at": "2026-11-20T01:30:00Z", "verdict": "approve"},
    ]
    return [orjson.dumps(event) for event in events]


def _scrape_until(port: int, name: str, value: float, limit_s: float = 60) -> dict[str, float]:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        figures = scrape(port)
        if figures.get(name) == value:
            return figures
        time.sleep(0.25)
    raise AssertionError(f"{name} did not reach {value}: {scrape(port)}")


def test_only_the_workers_own_pages_are_served(fresh_broker: str, tmp_path: Path) -> None:
    create_topics(fresh_broker)
    port = free_port()
    log = tmp_path / "worker.log"
    process = start_worker(
        worker_env(fresh_broker, tmp_path / "data"), until_drained=False, log=log, web_port=port
    )
    try:
        _wait_ready(port, lambda: process.poll() is None, log)
        status, body = _get(port, "/health")
        assert (status, body) == (200, b'{"ready":true}')
        status, body = _get(port, "/metrics")
        assert status == 200 and b"annotel_events_total" in body
        served = {path: _get(port, path)[0] for path in FAUST_PAGES}
        assert served == dict.fromkeys(FAUST_PAGES, 404)
        # The version counters: an edit supersedes its first version, a delete
        # retracts the edit (and supersedes it), a re-audit supersedes the audit.
        publish(fresh_broker, _versions(), TOPICS)
        figures = _scrape_until(port, "annotel_events_total", 5.0)
        assert figures["annotel_events_accepted_total"] == 5.0
        assert figures["annotel_events_superseded_total"] == 3.0
        assert figures["annotel_events_retractions_total"] == 1.0
        assert figures["annotel_entities"] == 2.0  # the submission and the audited work
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)
