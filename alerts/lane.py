"""One receiver's delivery: its queue of open groups, its task, its rate, its retries.

The ``Dispatcher`` (``alerts.dispatch``, whose docstring states the guarantees)
routes each event to a lane per receiver; everything a lane does is the same
for every kind, and what differs (messages, reading a reply) it asks its
``Receiver`` (``alerts.receivers.base``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TextIO

import aiohttp

from alerts.model import AlertEvent
from alerts.receivers.base import Outcome, Receiver, Request

log = logging.getLogger(__name__)

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


@dataclass
class _Group:
    labels: dict[str, str]
    deadline: float
    events: list[tuple[int, AlertEvent]] = field(default_factory=list)


class Lane:
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
