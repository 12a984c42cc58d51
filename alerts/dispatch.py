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
* Rate limit: at most ``max_per_second`` requests per receiver, retries
  included (Slack allows about one per second per webhook).
* Retries: connection errors, timeouts and what the receiver classifies as
  retryable (5xx) are retried with exponential backoff and jitter; a throttled
  reply (429) waits ``Retry-After``; a rejected one (any other 4xx) is a
  permanent failure (retrying a malformed or unauthorised request cannot help).
  Redirects are not followed, so a secret URL or body is never replayed to
  another host.
* At most once per process per receiver, with one at-least-once edge: an
  event id accepted by a receiver's queue is never accepted again; a 2xx ends
  delivery. A request that timed out may still have been received, and it is
  retried: the receiver may then see it twice. PagerDuty (same ``dedup_key``)
  and Alertmanager (same fingerprint) fold such duplicates; Slack shows two.
* A reply's body is read up to ``RESPONSE_BODY_MAX`` bytes and never
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
import contextlib
import logging
import random
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TextIO

import aiohttp

from alerts.model import AlertEvent
from alerts.receiver_config import ReceiverConfigError, build, receiver_problems
from alerts.receivers.base import Outcome, Receiver, Request
from alerts.receivers.registry import ReceiverConfig

log = logging.getLogger(__name__)

__all__ = ["Dispatcher", "ReceiverConfigError", "RetryPolicy", "read_bounded", "receiver_problems"]

DEFAULT_QUEUE_SIZE = 1000
SEEN_IDS_MAX = 100_000  # event ids remembered per receiver to refuse a second send
RESPONSE_BODY_MAX = 64 * 1024  # bytes of a reply read: room for an error text, no more
_USER_AGENT = "annotation-telemetry-alerts/1"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one message before counting it failed.

    ``max_attempts`` bounds every kind of retry (429 included) so a dead
    receiver cannot pin a message forever; ``max_retry_after_s`` caps how long
    a ``Retry-After`` may park a receiver.
    """

    max_attempts: int = 6
    base_s: float = 0.5
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 120.0

    def backoff(self, retry: int) -> float:
        """Exponential with "equal jitter": spreads retries, yet never retries instantly."""
        ceiling = min(self.max_backoff_s, self.base_s * (2**retry))
        return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class ReceiverStats:
    """A snapshot for dashboards and for the receiver-failing meta-alert.

    Counts are in events except ``messages`` and ``retries`` (requests).
    ``last_success`` / ``last_error`` are readings of the dispatcher's clock
    (monotonic by default), so "failing for longer than X" is
    ``clock() - last_success``.
    """

    name: str
    type: str
    target: str  # redacted: host[:port] only
    sent: int
    messages: int
    failed: int
    retries: int
    dropped: int
    duplicates: int
    muted: int
    queue_depth: int
    in_flight: int
    last_success: float | None
    last_error: float | None
    last_error_reason: str | None
    consecutive_failures: int


def _retry_after(header: str | None, now_wall: float) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(header).timestamp() - now_wall)
    except (TypeError, ValueError):
        return None


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


def _session() -> aiohttp.ClientSession:
    """No automatic decompression: a small compressed reply must not expand in memory."""
    return aiohttp.ClientSession(auto_decompress=False)


@dataclass
class _Group:
    labels: dict[str, str]
    deadline: float
    events: list[tuple[int, AlertEvent]] = field(default_factory=list)


class _Lane:
    """One receiver: its queue of open groups, its task, its counters."""

    def __init__(
        self,
        receiver: Receiver,
        *,
        queue_size: int,
        clock: Callable[[], float],
        retry: RetryPolicy,
        stdout: TextIO | None,
    ) -> None:
        self.receiver = receiver
        self.name = receiver.name
        self.kind = receiver.kind
        self.target = receiver.target
        self._queue_size = queue_size
        self._clock = clock
        self._retry = retry
        self._stdout = stdout
        self._group_wait = receiver.group_wait_s
        self._interval = 1.0 / receiver.max_per_second
        self._timeout_s = receiver.timeout_s
        self._groups: dict[tuple[str, ...], _Group] = {}
        self._pending = 0
        self._seq = 0
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._in_flight: list[AlertEvent] = []
        self._next_request = 0.0
        self._wake = asyncio.Event()
        self._closing = False
        self.task: asyncio.Task[None] | None = None
        self.session: aiohttp.ClientSession | None = None
        # counters
        self.sent = 0
        self.messages = 0
        self.failed = 0
        self.retries = 0
        self.dropped = 0
        self.duplicates = 0
        self.muted = 0
        self.last_success: float | None = None
        self.last_error: float | None = None
        self.last_error_reason: str | None = None
        self.consecutive_failures = 0

    def __repr__(self) -> str:
        return f"<receiver {self.name} {self.kind} -> {self.target}>"

    # -- queueing (synchronous, called from submit) ---------------------------------------------

    def _group_key(self, event: AlertEvent) -> tuple[tuple[str, ...], dict[str, str]]:
        if self.receiver.one_event_per_message:
            return ("\x00event", str(self._seq)), {}
        labels: dict[str, str] = {}
        for name in self.receiver.group_by:
            if name in ("rule", "alertname"):
                value = event.rule
            else:
                value = event.labels.get(name) or event.scope.get(name) or ""
            labels[name] = value
        return tuple(labels.values()), {k: v for k, v in labels.items() if v}

    def enqueue(self, event: AlertEvent) -> None:
        if self._closing:
            self.dropped += 1
            log.warning(
                "receiver %s: dispatcher closing, dropped %s (%s)",
                self.name,
                event.rule,
                event.fingerprint,
            )
            return
        event_id = event.event_id
        if event_id in self._seen:
            self.duplicates += 1
            log.debug("receiver %s: event %s already accepted, not sent again", self.name, event_id)
            return
        self._seen[event_id] = None
        if len(self._seen) > SEEN_IDS_MAX:
            self._seen.popitem(last=False)
        self._seq += 1
        key, labels = self._group_key(event)
        group = self._groups.get(key)
        if group is None:
            wait = 0.0 if self.receiver.one_event_per_message else self._group_wait
            group = self._groups[key] = _Group(labels, self._clock() + wait)
        group.events.append((self._seq, event))
        self._pending += 1
        if self._pending > self._queue_size:
            self._drop_oldest()
        self._wake.set()

    def _drop_oldest(self) -> None:
        key = min(self._groups, key=lambda k: self._groups[k].events[0][0])
        group = self._groups[key]
        _, oldest = group.events.pop(0)
        if not group.events:
            del self._groups[key]
        self._pending -= 1
        self.dropped += 1
        # Never sent: a later resubmission of the same event may go out.
        self._seen.pop(oldest.event_id, None)
        log.warning(
            "receiver %s: queue full (%d events), dropped the oldest: %s %s (%s); %d dropped",
            self.name,
            self._queue_size,
            oldest.rule,
            oldest.status,
            oldest.fingerprint,
            self.dropped,
        )

    @property
    def queue_depth(self) -> int:
        return self._pending

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    # -- the task --------------------------------------------------------------------------------

    def begin_close(self) -> None:
        self._closing = True
        self._wake.set()

    async def run(self) -> None:
        """Send groups as they come due; on close, flush everything left without waiting."""
        while True:
            if not self._groups:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            key = min(self._groups, key=lambda k: self._groups[k].deadline)
            delay = self._groups[key].deadline - self._clock()
            if delay > 0 and not self._closing:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                continue
            group = self._groups.pop(key)
            events = [event for _, event in group.events]
            self._pending -= len(events)
            self._in_flight = events
            try:
                await self._deliver(group.labels, events)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug must not kill the lane; the type name is safe to log
                self._record_failure(len(events), f"internal error ({type(exc).__name__})")
                log.error(
                    "receiver %s: internal error %s delivering %d event(s)",
                    self.name,
                    type(exc).__name__,
                    len(events),
                )
            finally:
                self._in_flight = []

    async def _deliver(self, group_labels: dict[str, str], events: list[AlertEvent]) -> None:
        for request in self.receiver.requests(events, group_labels):
            if request.url is None:
                self._write_stdout(request)
            else:
                await self._post(request)

    def _write_stdout(self, request: Request) -> None:
        """A message without a URL is text for standard output: written at once, not retried."""
        stream = self._stdout if self._stdout is not None else sys.stdout
        count = len(request.events)
        try:
            stream.write(request.body.decode())
            stream.flush()
        except (OSError, ValueError) as exc:
            self._record_failure(count, f"write error ({type(exc).__name__})")
            log.error("receiver %s: cannot write to stdout: %s", self.name, type(exc).__name__)
            return
        self._record_success(count)

    async def _throttle(self) -> None:
        wait = self._next_request - self._clock()
        if wait > 0:
            await asyncio.sleep(wait)
        self._next_request = self._clock() + self._interval

    async def _post(self, request: Request) -> None:
        """One message until it is delivered, rejected, or the attempt budget runs out."""
        assert self.session is not None and request.url is not None
        events = request.events
        what = (
            f"{len(events)} event(s)"
            if len(events) > 1
            else f"{events[0].rule} ({events[0].fingerprint})"
        )
        attempt = 0
        while True:
            attempt += 1
            await self._throttle()
            wait: float | None = None
            try:
                async with self.session.post(
                    request.url.reveal(),
                    data=request.body,
                    headers={"Content-Type": "application/json", "User-Agent": _USER_AGENT},
                    timeout=aiohttp.ClientTimeout(total=self._timeout_s),
                    allow_redirects=False,
                ) as response:
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
                    reply = await read_bounded(response)
            except TimeoutError:
                reason = f"timeout after {self._timeout_s:g}s"
            except aiohttp.ClientError as exc:
                reason = f"connection error ({type(exc).__name__})"
            else:
                outcome = self.receiver.classify(status, reply)
                if outcome is Outcome.DELIVERED:
                    self._record_success(len(events))
                    log.debug("receiver %s: delivered %s (HTTP %d)", self.name, what, status)
                    return
                reason = f"HTTP {status}"
                if outcome is Outcome.THROTTLED:
                    wait = _retry_after(retry_after, time.time())
                    if wait is not None:
                        wait = min(wait, self._retry.max_retry_after_s)
                elif outcome is Outcome.REJECTED:
                    self._record_failure(len(events), reason)
                    log.error(
                        "receiver %s (%s): %s rejected with %s, not retried",
                        self.name,
                        self.target,
                        what,
                        reason,
                    )
                    return
            self.last_error = self._clock()
            self.last_error_reason = reason
            if attempt >= self._retry.max_attempts:
                self._record_failure(len(events), reason)
                log.error(
                    "receiver %s (%s): giving up on %s after %d attempts, last: %s",
                    self.name,
                    self.target,
                    what,
                    attempt,
                    reason,
                )
                return
            if wait is None:
                wait = self._retry.backoff(attempt - 1)
            self.retries += 1
            log.warning(
                "receiver %s (%s): %s for %s, retry %d in %.2fs",
                self.name,
                self.target,
                reason,
                what,
                attempt,
                wait,
            )
            await asyncio.sleep(wait)

    def _record_success(self, count: int) -> None:
        self.sent += count
        self.messages += 1
        self.last_success = self._clock()
        self.consecutive_failures = 0

    def _record_failure(self, count: int, reason: str) -> None:
        self.failed += count
        self.last_error = self._clock()
        self.last_error_reason = reason
        self.consecutive_failures += 1

    def stats(self) -> ReceiverStats:
        return ReceiverStats(
            name=self.name,
            type=self.kind,
            target=self.target,
            sent=self.sent,
            messages=self.messages,
            failed=self.failed,
            retries=self.retries,
            dropped=self.dropped,
            duplicates=self.duplicates,
            muted=self.muted,
            queue_depth=self.queue_depth,
            in_flight=self.in_flight,
            last_success=self.last_success,
            last_error=self.last_error,
            last_error_reason=self.last_error_reason,
            consecutive_failures=self.consecutive_failures,
        )


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
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self._clock = clock
        self._session_factory = session_factory
        self._session: aiohttp.ClientSession | None = None
        self._lanes: dict[str, _Lane] = {}
        for name, config in receivers.items():
            self._lanes[name] = _Lane(
                build(name, config, env, external_url),
                queue_size=queue_size,
                clock=clock,
                retry=retry or RetryPolicy(),
                stdout=stdout,
            )
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
        if any(lane.receiver.uses_http for lane in self._lanes.values()):
            factory = self._session_factory or _session
            self._session = factory()
        for lane in self._lanes.values():
            lane.session = self._session
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
