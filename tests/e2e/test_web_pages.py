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

import pytest

from schemas.loopback import free_port
from tests.e2e.worker_helpers import create_topics, start_worker, worker_env

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
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)
