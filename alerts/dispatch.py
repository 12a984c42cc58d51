"""The delivery engine: alert events to receivers, without ever holding up the stream.

Alert history is already on the ``annotation.alerts`` topic and in ClickHouse
before anything here runs, so this module optimises for the on-call person's
experience and for the stream's health, in that order of risk:

* ``submit`` never blocks and never raises. Each receiver has its own bounded
  queue and its own task, so a receiver that is down or slow only hurts itself.
* A full queue drops its OLDEST event (counted and logged): memory stays
  bounded and the newest state of an incident, which is what people act on,
  survives. ``queue_size`` bounds the events waiting per receiver (in open
  groups); at most one message per receiver is in flight on top of that.
* Grouping: events to one receiver that share the ``group_by`` values within
  ``group_wait`` of the group's first event go out as one message
  (Alertmanager, Slack, JSON, stdout). A kind that takes one event per request
  (PagerDuty) has its events neither wait nor merge.
* Rate limits: at most ``max_per_second`` requests per receiver, retries
  included (Slack allows about one per second per webhook), and the
  platform's own limits per destination (a DingTalk robot takes 20 messages
  a minute), shared by every receiver that posts to the same URL
  (``alerts.limits``). A platform's documented back-off (DingTalk's 10
  minutes after errcode 130101) pauses the destination for all of them.
* Retries: connection errors, timeouts and what the receiver classifies as
  retryable (5xx, SMTP 4xx) are retried with exponential backoff and jitter; a
  throttled reply (429, or a platform's rate-limit code in a 200 body) waits
  ``Retry-After`` or the platform's back-off; a rejected one (any other 4xx, a
  platform's error code) is a permanent failure (retrying a malformed or
  unauthorised request cannot help). A 200 whose body carries an error code
  is never counted delivered.
  Redirects are not followed, so a secret URL or body is never replayed to
  another host.
* At most once per process per receiver, with one at-least-once edge: an
  event id accepted by a receiver's queue is never accepted again; a 2xx ends
  delivery. A request that timed out may still have been received, and it is
  retried: the receiver may then see it twice. PagerDuty (same ``dedup_key``)
  and Alertmanager (same fingerprint) fold such duplicates; Slack shows two.
* A reply's body is read up to ``alerts.lane.RESPONSE_BODY_MAX`` bytes and never
  decompressed: a receiver answering 150 MiB (or a gzip bomb) costs the worker
  64 KiB, not the body; the receiver classifies the reply from its status
  (and may read that bounded body).
* Secrets (Slack webhook URL, PagerDuty routing key, ``url_env`` URLs) are read
  from ``env`` at construction by the receiver kinds (``alerts.receivers``, whose
  checks ``annotel rules check`` runs too) and kept in ``Secret`` holders. Logs, errors,
  ``stats()`` and ``repr`` name a receiver by its name and redacted host only,
  and failures are described by status code or exception type, never by the
  exception's text (aiohttp puts the full URL in it).

What differs by kind (settings, message shapes, reading a reply) is the
receiver's (``alerts.receivers.base.Receiver``); nothing here branches on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import TextIO

import aiohttp

from alerts.digest import Digest
from alerts.http_transport import HttpTransport
from alerts.lane import Attempt, Lane, Observer, ReceiverStats, RetryPolicy, Sleep
from alerts.limits import Limits
from alerts.model import AlertEvent
from alerts.receiver_config import ReceiverConfigError, build, receiver_problems
from alerts.receivers.base import HttpPost, SmtpSend
from alerts.receivers.registry import ReceiverConfig
from alerts.smtp_transport import SmtpTransport
from alerts.transport import Transport

log = logging.getLogger(__name__)

__all__ = ["Attempt", "Dispatcher", "ReceiverConfigError", "RetryPolicy", "receiver_problems"]

DEFAULT_QUEUE_SIZE = 1000


def _session() -> aiohttp.ClientSession:
    """No automatic decompression: a small compressed reply must not expand in memory."""
    return aiohttp.ClientSession(auto_decompress=False)


class Dispatcher:
    """Routes alert events to their receivers; see the module docstring for the guarantees."""

    def __init__(
        self,
        receivers: Mapping[str, ReceiverConfig],
        env: Mapping[str, str],
        *,
        session_factory: Callable[[], aiohttp.ClientSession] | None = None,
        clock: Callable[[], float] = time.monotonic,
        external_url: str = "",
        queue_size: int = DEFAULT_QUEUE_SIZE,
        retry: RetryPolicy | None = None,
        stdout: TextIO | None = None,
        sleep: Sleep = asyncio.sleep,
        observer: Observer | None = None,
    ) -> None:
        """``clock`` and ``sleep`` go together (a test's simulated time); ``observer`` sees
        every attempt, reply body included (``annotel receivers test``)."""
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self._clock = clock
        self._session_factory = session_factory
        self._session: aiohttp.ClientSession | None = None
        self._limits = Limits(clock, sleep)
        self._lanes: dict[str, Lane] = {}
        for name, config in receivers.items():
            self._lanes[name] = Lane(
                build(name, config, env, external_url),
                queue_size=queue_size,
                clock=clock,
                retry=retry or RetryPolicy(),
                stdout=stdout,
                limits=self._limits,
                sleep=sleep,
                observer=observer,
            )
        # Digest receivers take no event one by one: the alert stage collects their events
        # and submits each period's digest (``submit_digest``).
        self._digests = {name for name, config in receivers.items() if config.digest is not None}
        self._unrouted: dict[str, int] = {}
        self._started = False
        self._closed = False

    def __repr__(self) -> str:
        lanes = ", ".join(
            f"{lane.name}={lane.kind}->{lane.target}" for lane in self._lanes.values()
        )
        return f"Dispatcher({lanes})"

    async def start(self) -> None:
        """Open the HTTP session and start the receivers' tasks; earlier submits wait for this."""
        if self._started:
            return
        self._started = True
        transports: dict[type, Transport] = {SmtpSend: SmtpTransport()}
        if any(lane.receiver.uses_http for lane in self._lanes.values()):
            factory = self._session_factory or _session
            self._session = factory()
            transports[HttpPost] = HttpTransport(self._session)
        for lane in self._lanes.values():
            lane.transports = transports
            lane.task = asyncio.create_task(lane.run(), name=f"alert-receiver-{lane.name}")

    def submit(self, event: AlertEvent) -> None:
        """Queue ``event`` for each receiver it names; never blocks, never raises.

        Call it from the event loop's thread (the stream's agent does): the
        queues are plain structures guarded by the loop, not by locks.
        """
        if event.muted_by is not None:
            for name in event.receivers:
                lane = self._lanes.get(name)
                if lane is not None:
                    lane.muted += 1
            log.debug(
                "alert %s (%s) muted by %s: not sent", event.rule, event.fingerprint, event.muted_by
            )
            return
        for name in event.receivers:
            if name in self._digests:
                continue  # collected into the period's digest by the alert stage
            lane = self._lanes.get(name)
            if lane is None:
                count = self._unrouted.get(name, 0) + 1
                self._unrouted[name] = count
                level = logging.WARNING if count == 1 else logging.DEBUG
                log.log(
                    level,
                    "alert %s names unknown receiver %r: not sent (%d so far)",
                    event.rule,
                    name,
                    count,
                )
                continue
            lane.enqueue(event)

    def submit_digest(self, digest: Digest) -> None:
        """Queue one period's digest for its receiver; never blocks, never raises."""
        lane = self._lanes.get(digest.receiver)
        if lane is not None:
            lane.enqueue_digest(digest)

    async def close(self, timeout_s: float = 10.0) -> dict[str, int]:
        """Flush open groups, wait for deliveries up to ``timeout_s``, then give up.

        Returns the number of events left undelivered per receiver (only
        receivers with any), and logs a warning for each.
        """
        if self._closed:
            return {}
        self._closed = True
        for lane in self._lanes.values():
            lane.begin_close()
        tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout_s)
        left: dict[str, int] = {}
        for lane in self._lanes.values():
            undelivered = lane.queue_depth + lane.in_flight
            if undelivered:
                left[lane.name] = undelivered
                log.warning(
                    "receiver %s (%s): %d event(s) undelivered at shutdown",
                    lane.name,
                    lane.target,
                    undelivered,
                )
            if lane.task is not None and not lane.task.done():
                lane.task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        return left

    def stats(self) -> dict[str, ReceiverStats]:
        """Per receiver counters; secrets-free by construction (names and hosts only)."""
        return {name: lane.stats() for name, lane in self._lanes.items()}

    def unrouted(self) -> dict[str, int]:
        """Events per receiver name that is not configured (a typo in a rule's receivers)."""
        return dict(self._unrouted)
