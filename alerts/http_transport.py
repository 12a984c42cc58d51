"""Webhooks: one JSON POST per attempt, signed just before it leaves, its reply read bounded.

Redirects are not followed, so a secret URL or body is never replayed to
another host; a reply is read up to ``RESPONSE_BODY_MAX`` bytes and never
decompressed, so a receiver answering 150 MiB (or a gzip bomb) costs the
worker 64 KiB. Failures are described by type, never by the exception's text
(aiohttp puts the full URL in it).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import aiohttp

from alerts.receivers.base import Destination, HttpPost
from alerts.transport import RESPONSE_BODY_MAX, Reply, TransportError

_USER_AGENT = "annotation-telemetry-alerts/1"


async def read_bounded(response: aiohttp.ClientResponse, limit: int = RESPONSE_BODY_MAX) -> bytes:
    """The first ``limit`` bytes of a reply body, read as they arrive.

    The rest is never read: leaving the response then closes the connection
    instead of returning it to the pool, which costs a reconnect only to a
    receiver that talks too much.
    """
    body = bytearray()
    while len(body) < limit:
        chunk = await response.content.read(limit - len(body))
        if not chunk:
            break
        body += chunk
    return bytes(body)


class HttpTransport:
    """POSTs over one shared session; ``wall_clock`` feeds the signers (seconds since the epoch)."""

    def __init__(
        self, session: aiohttp.ClientSession, wall_clock: Callable[[], float] = time.time
    ) -> None:
        self._session = session
        self._wall_clock = wall_clock

    async def send(self, destination: Destination, body: bytes, timeout_s: float) -> Reply:
        assert isinstance(destination, HttpPost)
        url = destination.url.reveal()
        if destination.signer is not None:
            url, body = destination.signer(url, body, self._wall_clock())
        try:
            async with self._session.post(
                url,
                data=body,
                headers={"Content-Type": "application/json", "User-Agent": _USER_AGENT},
                timeout=aiohttp.ClientTimeout(total=timeout_s),
                allow_redirects=False,
            ) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
                reply = await read_bounded(response)
        except TimeoutError:
            raise TransportError(f"timeout after {timeout_s:g}s") from None
        except aiohttp.ClientError as exc:
            raise TransportError(f"connection error ({type(exc).__name__})") from None
        return Reply(status, f"HTTP {status}", reply, retry_after)
