"""The gateway's aiohttp application: routes, the order of checks, answers, metrics, access logs.

Each request goes through the same steps, cheapest refusal first:
unknown route or source (``404``), declared or actual body size (``413``),
credentials (``401``: nothing published, counted in ``/metrics``), the
client's rate (``429``), the items (``400``/``413``), the contract and the
connector (``intake``), then publishing: the answer is ``200`` only once the
broker stored every record of the request (``publisher``), else ``503`` with
``Retry-After``.

The access log is one structured line per request at info level: method,
route, source or client, status, item counts, bytes and duration. Never a
header, a query string, a token or a payload.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from gateway.auth import Credentials, bearer, check_source, client_of
from gateway.body import BodyError, event_items, webhook_json
from gateway.connectors import CONNECTORS
from gateway.connectors.base import Delivery, Ignored, Item, Unmappable
from gateway.intake import Outcome, contract_items, unreadable_webhook, webhook_items
from gateway.limits import RateLimiter, SnapshotLimiter, retry_after
from gateway.metrics import GatewayMetrics
from gateway.openapi import document
from gateway.publisher import Publisher, PublishError
from gateway.sources import Connectors
from schemas.redact import describe_error
from streams.publishing import Publication

log = logging.getLogger("annotel.gateway")
access = logging.getLogger("annotel.gateway.access")

EVENTS = "/v1/events"
HOOKS = "/v1/hooks/{source}"
_INFO = web.RequestKey("annotel_request", dict)


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 4 * 1024 * 1024
    max_items: int = 1000
    rate_limit: float = 50.0
    rate_burst: int = 100
    retry_after_s: float = 30.0
    signature_tolerance_s: float = 300.0


class _Refused(Exception):
    """Answer the request now with this status and message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    text = json.dumps(data, ensure_ascii=False)
    return web.Response(text=text, status=status, content_type="application/json", headers=headers)


class Gateway:
    """One gateway: its configuration, publisher, limiter and metrics, and the app's handlers."""

    def __init__(
        self,
        publication: Publication,
        connectors: Connectors,
        credentials: Credentials,
        publisher: Publisher,
        limits: Limits,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.publication = publication
        self.connectors = connectors
        self.credentials = credentials
        self.publisher = publisher
        self.limits = limits
        self.limiter = RateLimiter(limits.rate_burst)
        self.snapshots = SnapshotLimiter()
        self.metrics = GatewayMetrics()
        self.clock = clock
        self.now = now
        self.openapi = json.dumps(document(), ensure_ascii=False)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post(EVENTS, self.events)
        app.router.add_post(HOOKS, self.hook)
        app.router.add_get("/health", self.health)
        app.router.add_get("/metrics", self.metrics_page)
        app.router.add_get("/openapi.json", self.openapi_page)
        return app

    # -- the steps every ingest request takes -------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.monotonic()
        info: dict[str, Any] = {"source": "", "items": 0, "accepted": 0, "rejected": 0}
        request[_INFO] = info
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        try:
            response = await handler(request)
        except _Refused as refusal:
            response = _json({"error": refusal.message}, refusal.status, refusal.headers)
        except web.HTTPException as exc:  # 404 / 405 of the router
            response = _json({"error": exc.reason}, exc.status)
        except Exception as exc:  # a bug: answered, logged, never the payload
            log.error("request failed", extra={"route": route, "error": describe_error(exc)})
            response = _json({"error": "internal error"}, 500)
        self.metrics.requests[(route, info["source"], str(response.status))] += 1
        access.info(
            "request",
            extra={
                "method": request.method,
                "route": route,
                "source": info["source"],
                "status": response.status,
                "items": info["items"],
                "accepted": info["accepted"],
                "rejected": info["rejected"],
                "bytes": request.content_length or 0,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )
        return response

    async def _body(self, request: web.Request) -> bytes:
        limit = self.limits.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            raise _Refused(413, f"body of {request.content_length} bytes; at most {limit}")
        body = bytearray()
        async for chunk in request.content.iter_chunked(1 << 16):
            body += chunk
            if len(body) > limit:
                raise _Refused(413, f"body over {limit} bytes")
        return bytes(body)

    def _unauthorized(self, route: str, source: str, reason: str) -> _Refused:
        self.metrics.auth_failures[(route, source, reason)] += 1
        return _Refused(
            401, "missing or invalid credentials", {"WWW-Authenticate": 'Bearer realm="annotel"'}
        )

    def _rate(self, principal: str, rate: float | None) -> None:
        wait = self.limiter.take(principal, rate or self.limits.rate_limit, self.clock())
        if wait > 0:
            raise _Refused(429, "rate limit exceeded", {"Retry-After": retry_after(wait)})

    async def _publish(self, outcome: Outcome, route: str, source: str) -> None:
        started = time.monotonic()
        try:
            await self.publisher.publish(outcome.records)
        except PublishError as exc:
            self.metrics.publish_failures[source] += 1
            log.warning("publish failed", extra={"source": source, "error": str(exc)})
            seconds = retry_after(self.limits.retry_after_s)
            raise _Refused(
                503,
                "the broker did not store every event of this request; send it again",
                {"Retry-After": seconds},
            ) from None
        if outcome.records:
            self.metrics.latency.observe(time.monotonic() - started)
        self.metrics.published[(route, source)] += outcome.accepted
        for reason, count in outcome.reasons.items():
            self.metrics.rejected[(source, reason)] += count

    # -- routes --------------------------------------------------------------------------

    async def events(self, request: web.Request) -> web.Response:
        info = request[_INFO]
        body = await self._body(request)
        client = client_of(bearer(request.headers), self.credentials.clients)
        if client is None:
            raise self._unauthorized(EVENTS, "", "token")
        info["source"] = client
        rate = (
            self.connectors.clients[client].rate_limit
            if client in self.connectors.clients
            else None
        )
        self._rate(f"client:{client}", rate)
        try:
            items = event_items(body, request.content_type, self.limits.max_items)
        except BodyError as exc:
            raise _Refused(exc.status, exc.message) from None
        outcome = contract_items(self.publication, items, body, self.now())
        info.update(items=len(items), accepted=outcome.accepted, rejected=len(outcome.rejected))
        await self._publish(outcome, EVENTS, client)
        return _json(outcome.answer(webhook=False))

    async def hook(self, request: web.Request) -> web.Response:
        info = request[_INFO]
        source = self.connectors.sources.get(request.match_info["source"])
        if source is None:
            raise _Refused(404, "no such source in the connectors file")
        info["source"] = source.name
        body = await self._body(request)
        headers = {name.lower(): value for name, value in request.headers.items()}
        now = self.now()
        verdict = check_source(
            source, self.credentials, body, headers, now, self.limits.signature_tolerance_s
        )
        if verdict != "ok":
            raise self._unauthorized(HOOKS, source.name, verdict)
        self._rate(f"source:{source.name}", source.rate_limit)
        try:
            parsed = webhook_json(body)
        except ValueError as exc:
            outcome = unreadable_webhook(self.publication, source.name, body, str(exc), now)
        else:
            items = self._map(
                source.name, source.type, Delivery(parsed, headers, now, source.name), source
            )
            if len(items) > self.limits.max_items:
                raise _Refused(
                    413, f"{len(items)} items in one delivery; at most {self.limits.max_items}"
                )
            items = [self._snapshot_once(item) for item in items]
            outcome = webhook_items(self.publication, source.name, items, body, now)
        info.update(items=len(outcome.rejected) + outcome.accepted + len(outcome.ignored))
        info.update(accepted=outcome.accepted, rejected=len(outcome.rejected))
        self.metrics.ignored[source.name] += len(outcome.ignored)
        await self._publish(outcome, HOOKS, source.name)
        return _json(outcome.answer(webhook=True))

    def _snapshot_once(self, item: Item) -> Item:
        """A queue snapshot already published for its queue and minute is ignored."""
        if not isinstance(item, dict) or item.get("event_type") != "queue_status":
            return item
        if self.snapshots.first(str(item.get("event_id")), item.get("occurred_at")):
            return item
        return Ignored("queue_status: this queue's snapshot for this minute was already sent")

    def _map(self, name: str, kind: str, delivery: Delivery, source: Any) -> list[Item]:
        """The connector's items; a connector that fails on a payload makes it unmappable.

        A delivery whose list of work is empty (``"annotations": []``) yields no
        item; the answer still says what became of it.
        """
        try:
            items = CONNECTORS[kind](delivery, source.mapping)
        except Exception as exc:
            log.warning("connector failed", extra={"source": name, "error": describe_error(exc)})
            return [Unmappable(f"the {kind} connector could not read it: {type(exc).__name__}")]
        return items or [Ignored("the delivery lists no work (an empty list)")]

    async def health(self, _request: web.Request) -> web.Response:
        return _json({"status": "ok", "sources": sorted(self.connectors.sources)})

    async def metrics_page(self, _request: web.Request) -> web.Response:
        return web.Response(text=self.metrics.text(), content_type="text/plain")

    async def openapi_page(self, _request: web.Request) -> web.Response:
        return web.Response(text=self.openapi, content_type="application/json")
