"""How a lane hands a message to the world: one attempt, one reply.

A ``Transport`` makes a single attempt at delivering a request's body to its
destination (``alerts.receivers.base.HttpPost`` over HTTP, ``SmtpSend`` over
SMTP) and reports the reply; the lane (``alerts.lane``) owns what is the same
for every transport: limits, retries, back-off, counters. So email is a
destination like a webhook, not a branch in the lane.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from alerts.receivers.base import Destination

RESPONSE_BODY_MAX = 64 * 1024  # bytes of a reply read: room for an error text, no more


@dataclass(frozen=True)
class Reply:
    """What the other side answered to one attempt.

    ``status`` is the HTTP status or the SMTP reply code; ``label`` says which,
    safe to log (``HTTP 500``, ``SMTP 451``); ``body`` is at most
    ``RESPONSE_BODY_MAX`` bytes and never logged (it may echo the request).
    """

    status: int
    label: str
    body: bytes = b""
    retry_after: str | None = None


class TransportError(Exception):
    """No reply: a timeout, a refused connection, a TLS failure. Always retried.

    The message is our own words and an exception's type, never the
    exception's text (clients put the URL, or the server's greeting, in it).
    """


class Transport(Protocol):
    async def send(self, destination: Destination, body: bytes, timeout_s: float) -> Reply:
        """One attempt; raises ``TransportError`` when there is no reply to classify."""
