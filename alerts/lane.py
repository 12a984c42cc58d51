"""One receiver's delivery: its queue of open groups, its task, its rate, its retries.

The ``Dispatcher`` (``alerts.dispatch``, whose docstring states the guarantees)
routes each event to a lane per receiver; everything a lane does is the same
for every kind, and what differs (messages, where they go, reading a reply) it
asks its ``Receiver`` (``alerts.receivers.base``). A request's destination
picks the transport (``alerts.transport``: HTTP or SMTP) and names the limits
it shares with every other lane sending there (``alerts.limits``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sys
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TextIO

from alerts.digest import Digest
from alerts.http_transport import read_bounded
from alerts.limits import Limits
from alerts.model import AlertEvent
from alerts.receivers.base import Outcome, Receiver, Request, Verdict
from alerts.transport import RESPONSE_BODY_MAX, Reply, Transport, TransportError

__all__ = ["RESPONSE_BODY_MAX", "Attempt", "Lane", "ReceiverStats", "RetryPolicy", "read_bounded"]

log = logging.getLogger(__name__)

SEEN_IDS_MAX = 100_000  # event ids remembered per receiver to refuse a second send
Sleep = Callable[[float], Awaitable[None]]


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


@dataclass(frozen=True)
class Attempt:
    """One attempt at one message, for an observer (``annotel receivers test`` prints them).

    ``reply`` is None when there was no answer (``reason`` says why); its body
    is the bounded read and may echo the request: an observer that prints it
    redacts it first. The lane itself never logs a body.
    """

    receiver: str
    events: tuple[AlertEvent, ...]
    number: int
    reply: Reply | None
    reason: str
    outcome: str  # delivered, retry, throttled, rejected, failed (no attempts left)


Observer = Callable[[Attempt], None]


@dataclass
class _Group:
    labels: dict[str, str]
    deadline: float
    events: list[tuple[int, AlertEvent]] = field(default_factory=list)
    digest: Digest | None = None  # a digest is its own message, never merged or dropped


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
        limits: Limits,
        sleep: Sleep = asyncio.sleep,
        observer: Observer | None = None,
    ) -> None:
        self.receiver = receiver
        self.name = receiver.name
        self.kind = receiver.kind
        self.target = receiver.target
        self._queue_size = queue_size
        self._clock = clock
        self._retry = retry
        self._stdout = stdout
        self._limits = limits
        self._sleep = sleep
        self._observer = observer
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
        self.transports: Mapping[type, Transport] = {}  # by destination type, set at start
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

    def enqueue_digest(self, digest: Digest) -> None:
        """A digest (``alerts.digest``) goes out as one message at once; its id, like an
        event's, is accepted once."""
        if self._closing:
            self.dropped += len(digest.events)
            log.warning("receiver %s: dispatcher closing, dropped a digest", self.name)
            return
        if digest.digest_id in self._seen:
            self.duplicates += 1
            return
        self._seen[digest.digest_id] = None
        self._seq += 1
        group = _Group({}, self._clock(), digest=digest)
        group.events = [(self._seq, event) for event in digest.events]
        self._groups[("\x00digest", digest.digest_id)] = group
        self._pending += len(group.events)
        self._wake.set()

    def _drop_oldest(self) -> None:
        droppable = [k for k, g in self._groups.items() if g.digest is None]
        if not droppable:
            return
        key = min(droppable, key=lambda k: self._groups[k].events[0][0])
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
                await self._deliver(group, events)
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

    async def _deliver(self, group: _Group, events: list[AlertEvent]) -> None:
        if group.digest is not None:
            requests = self.receiver.digest_requests(group.digest)
        else:
            requests = self.receiver.requests(events, group.labels)
        for request in requests:
            if request.destination is None:
                self._write_stdout(request)
            else:
                await self._send(request)

    def _write_stdout(self, request: Request) -> None:
        """A message without a destination is text for standard output: written at once."""
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
            await self._sleep(wait)
        self._next_request = self._clock() + self._interval

    def _observe(
        self, request: Request, number: int, reply: Reply | None, reason: str, outcome: str
    ) -> None:
        if self._observer is not None:
            self._observer(Attempt(self.name, request.events, number, reply, reason, outcome))

    async def _send(self, request: Request) -> None:
        """One message until it is delivered, rejected, or the attempt budget runs out."""
        destination = request.destination
        assert destination is not None
        transport = self.transports[type(destination)]
        events = request.events
        if len(events) == 1:
            what = f"{events[0].rule} ({events[0].fingerprint})"
        elif events:
            what = f"{len(events)} event(s)"
        else:
            what = "a message without events"  # one that accompanies others (a mention)
        attempt = 0
        while True:
            attempt += 1
            await self._throttle()  # this receiver's own max_per_second
            await self._limits.acquire(destination.key, destination.rates)  # the platform's
            wait: float | None = None
            paused = False
            reply: Reply | None = None
            try:
                reply = await transport.send(destination, request.body, self._timeout_s)
            except TransportError as exc:
                reason = str(exc)
                outcome = Outcome.RETRY
            else:
                verdict = self.receiver.classify(reply.status, reply.body)
                if not isinstance(verdict, Verdict):
                    verdict = Verdict(verdict)
                outcome = verdict.outcome
                reason = (
                    reply.label if verdict.reason is None else f"{reply.label} {verdict.reason}"
                )
                if outcome is Outcome.DELIVERED:
                    self._observe(request, attempt, reply, reason, "delivered")
                    self._record_success(len(events))
                    log.debug("receiver %s: delivered %s (%s)", self.name, what, reason)
                    return
                if outcome is Outcome.THROTTLED:
                    wait = verdict.pause_s
                    if wait is None:
                        wait = _retry_after(reply.retry_after, time.time())
                        if wait is not None:
                            wait = min(wait, self._retry.max_retry_after_s)
                    if wait is not None:
                        # The platform counts per destination: every lane posting there waits.
                        self._limits.pause(destination.key, wait)
                        paused = True
                elif outcome is Outcome.REJECTED:
                    self._observe(request, attempt, reply, reason, "rejected")
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
                self._observe(request, attempt, reply, reason, "failed")
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
            self._observe(request, attempt, reply, reason, outcome.value)
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
            if not paused:  # a destination's pause is waited in acquire(), by every lane
                await self._sleep(wait)

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
