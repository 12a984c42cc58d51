"""A receiver that answers with a huge body costs the worker a bounded read, not the body.

A real aiohttp server on 127.0.0.1 streams 150 MiB (from one reused 1 MiB
chunk, so the server itself holds almost nothing) after the status line. The
dispatcher's peak Python allocations (tracemalloc) during the delivery must stay
far below the body, and the delivery must still be classified by its status.
"""

from __future__ import annotations

import asyncio
import contextlib
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web

from alerts.dispatch import Dispatcher, RetryPolicy
from alerts.lane import RESPONSE_BODY_MAX, read_bounded
from alerts.model import AlertEvent, fingerprint
from alerts.receivers.webhook import WebhookReceiver

MIB = 1024 * 1024
BODY_MIB = 150
CHUNK = b"x" * MIB
PEAK_LIMIT = 8 * MIB  # the body is 150 MiB; a bounded read stays under a few hundred KiB


@dataclass
class BigReplies:
    """Answers every POST with the status given for its path and a 150 MiB body."""

    port: int = 0
    requests: dict[str, int] = field(default_factory=dict)
    bytes_sent: dict[str, int] = field(default_factory=dict)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        path = request.path
        self.requests[path] = self.requests.get(path, 0) + 1
        status = int(path.rsplit("/", 1)[1])
        response = web.StreamResponse(status=status)
        response.content_length = BODY_MIB * MIB
        await response.prepare(request)
        sent = 0
        # The client hangs up after its bounded read: the rest of the body has nowhere to go.
        with contextlib.suppress(ConnectionError, RuntimeError):
            for _ in range(BODY_MIB):
                await response.write(CHUNK)
                sent += len(CHUNK)
        self.bytes_sent[path] = self.bytes_sent.get(path, 0) + sent
        return response


@pytest.fixture
async def server() -> AsyncIterator[BigReplies]:
    replies = BigReplies()
    app = web.Application()
    app.router.add_post("/{tail:.*}", replies.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    replies.port = runner.addresses[0][1]
    yield replies
    await runner.cleanup()


def _event() -> AlertEvent:
    start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    scope = {"project_id": "p1"}
    return AlertEvent(
        fingerprint=fingerprint("r", scope),
        rule="r",
        status="firing",
        severity="warning",
        scope=scope,
        labels={"alertname": "r", "severity": "warning", **scope},
        annotations={},
        metric="audit_pass_rate",
        value=0.5,
        threshold=0.8,
        window_start=start,
        window_end=start + timedelta(minutes=15),
        starts_at=start,
        receivers=("r",),
    )


async def _deliver(server: BigReplies, status: int, attempts: int) -> tuple[Dispatcher, int]:
    """Send one event; return the dispatcher and the peak of traced allocations meanwhile."""
    url = f"http://127.0.0.1:{server.port}/reply/{status}"
    receiver = WebhookReceiver(
        type="webhook", url=url, group_wait="0s", max_per_second=100, timeout_s=30
    )
    retry = RetryPolicy(max_attempts=attempts, base_s=0.01, max_backoff_s=0.02)
    dispatcher = Dispatcher({"r": receiver}, {}, retry=retry)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        await dispatcher.start()
        dispatcher.submit(_event())
        left = await dispatcher.close(60)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert left == {}
    return dispatcher, peak


async def test_a_huge_success_reply_is_read_bounded_and_counts_as_delivered(
    server: BigReplies,
) -> None:
    dispatcher, peak = await _deliver(server, 200, attempts=3)
    stats = dispatcher.stats()["r"]
    assert (stats.sent, stats.messages, stats.failed, stats.retries) == (1, 1, 0, 0)
    assert server.requests == {"/reply/200": 1}
    assert peak < PEAK_LIMIT, f"peak {peak / MIB:.1f} MiB for a {BODY_MIB} MiB reply"
    await asyncio.sleep(0.2)  # the handler notices the hang-up
    # The client stopped reading: most of the body was never transferred.
    assert server.bytes_sent.get("/reply/200", 0) < BODY_MIB * MIB // 2


async def test_a_huge_error_reply_is_still_retried_then_failed(server: BigReplies) -> None:
    dispatcher, peak = await _deliver(server, 503, attempts=2)
    stats = dispatcher.stats()["r"]
    assert (stats.sent, stats.failed, stats.retries) == (0, 1, 1)
    assert stats.last_error_reason == "HTTP 503"
    assert server.requests == {"/reply/503": 2}
    assert peak < PEAK_LIMIT, f"peak {peak / MIB:.1f} MiB for a {BODY_MIB} MiB reply"


async def test_a_huge_client_error_reply_is_a_permanent_failure(server: BigReplies) -> None:
    dispatcher, peak = await _deliver(server, 400, attempts=3)
    stats = dispatcher.stats()["r"]
    assert (stats.sent, stats.failed, stats.retries) == (0, 1, 0)
    assert stats.last_error_reason == "HTTP 400"
    assert peak < PEAK_LIMIT


async def test_read_bounded_returns_the_start_of_the_body(server: BigReplies) -> None:
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.post(f"http://127.0.0.1:{server.port}/reply/200") as response,
    ):
        body = await read_bounded(response)
    assert body == b"x" * RESPONSE_BODY_MAX
