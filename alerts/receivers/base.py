"""The port between the dispatcher and the receiver kinds.

The dispatcher (``alerts.dispatch``, with an ``alerts.lane.Lane`` per receiver)
owns what is the same for every kind: queues, grouping, rate limits per
receiver and per destination, retries, ``Retry-After``, bounded reads of
replies, counters. A kind owns what differs: its settings and their checks,
the shape of its messages, where they go (an HTTP POST, an SMTP submission,
standard output), the limits and signature its platform imposes, and how to
read a reply. So adding a kind is one module with a class that fits
``ReceiverKind`` and ``Receiver``, plus one line in
``alerts.receivers.registry``; the dispatcher has no branch by kind.

Nothing here does I/O or imports a network client: ``annotel rules check``
loads every kind to check a rules file and must stay quick.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Literal, Protocol

from alerts.digest import Digest
from alerts.model import AlertEvent
from alerts.receivers.settings import Secret


@dataclass(frozen=True)
class Rate:
    """At most ``count`` requests in any ``per_s`` seconds, to one destination."""

    count: int
    per_s: float


class Signer(Protocol):
    """Signs one attempt of a request: platforms check the timestamp, so each retry is re-signed.

    Called by the HTTP transport just before each attempt with the URL, the
    body and the wall-clock time (seconds since the epoch); returns the URL and
    body to send. Pure: no I/O, no clock of its own.
    """

    def __call__(self, url: str, body: bytes, now: float) -> tuple[str, bytes]: ...


@dataclass(frozen=True)
class HttpPost:
    """A JSON POST to ``url`` (a secret: webhook URLs embed their token).

    ``rates`` are the platform's limits for this URL: every receiver posting
    to the same URL shares them (``alerts.limits``). ``signer`` signs each
    attempt (Feishu, DingTalk).
    """

    url: Secret
    rates: tuple[Rate, ...] = ()
    signer: Signer | None = None

    @property
    def key(self) -> str:
        """Names the destination for the shared limits without holding the URL twice."""
        return "http:" + hashlib.sha256(self.url.reveal().encode()).hexdigest()[:32]


SmtpTls = Literal["starttls", "implicit", "none"]


@dataclass(frozen=True)
class SmtpSend:
    """One message submitted to an SMTP server (``host:port``), the body being the whole
    RFC 5322 message; ``username`` / ``password`` authenticate when both are set."""

    host: str
    port: int
    tls: SmtpTls
    sender: str
    recipients: tuple[str, ...]
    username: Secret | None = None
    password: Secret | None = None
    ca_file: str | None = None
    rates: tuple[Rate, ...] = ()

    @property
    def key(self) -> str:
        return f"smtp:{self.host}:{self.port}"


Destination = HttpPost | SmtpSend


@dataclass(frozen=True)
class Request:
    """One message, as the dispatcher sends it, and sends again on a retry.

    ``destination`` None: the body is text for the worker's standard output,
    written at once, neither rate-limited nor retried. ``events`` are those the
    message carries: they count as sent, or failed, together (a message that
    only accompanies another, such as a mention, may carry none).
    """

    destination: Destination | None
    body: bytes
    events: tuple[AlertEvent, ...]

    @property
    def url(self) -> Secret | None:
        """The URL of an HTTP request (None for any other destination)."""
        return self.destination.url if isinstance(self.destination, HttpPost) else None


class Outcome(Enum):
    """What a reply means for the message that caused it."""

    DELIVERED = "delivered"
    RETRY = "retry"  # after a backoff, within the attempt budget
    THROTTLED = "throttled"  # after the reply's Retry-After (else a backoff), within the budget
    REJECTED = "rejected"  # permanent: sending the same message again cannot help


@dataclass(frozen=True)
class Verdict:
    """An ``Outcome`` with what the platform said beyond its status.

    ``reason`` is added to the status in logs and stats (``HTTP 200 errcode
    130101``): our own words and the platform's numeric code, never text from
    the reply, which may echo the request. ``pause_s`` is the back-off the
    platform documents for this answer (DingTalk: 10 minutes after 130101):
    the destination is paused that long for every receiver that posts there,
    and the message retried after it.
    """

    outcome: Outcome
    reason: str | None = None
    pause_s: float | None = None


def http_outcome(status: int) -> Outcome:
    """The HTTP convention: 2xx delivered, 429 throttled, any other 4xx rejected, 5xx retried.

    A 4xx is a malformed or unauthorised request; retrying it cannot help.
    Redirects (3xx) are not followed, so a secret URL or body is never replayed
    to another host: they are rejected too.
    """
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status == 429:
        return Outcome.THROTTLED
    if status < 500:
        return Outcome.REJECTED
    return Outcome.RETRY


class Receiver(Protocol):
    """One configured receiver, as the dispatcher drives it.

    Built once per worker by its kind's ``from_config``, after every check
    passed; read-only afterwards. The dispatcher reads the settings below when
    it builds the receiver's lane, and calls the methods from that lane's task.
    """

    @property
    def name(self) -> str:
        """The name in the rules file, for routing, stats and logs."""

    @property
    def kind(self) -> str:
        """What stats and logs call it: ``slack``, ``webhook/alertmanager``..."""

    @property
    def target(self) -> str:
        """Where it delivers, safe to log: ``host[:port]`` (paths and queries carry tokens)."""

    @property
    def group_by(self) -> tuple[str, ...]:
        """Label names whose values make a group (``rule`` / ``alertname``: the rule name)."""

    @property
    def group_wait_s(self) -> float:
        """How long a group's first event waits for others before the group is sent."""

    @property
    def one_event_per_message(self) -> bool:
        """True where the receiving API takes one event per request (PagerDuty): its events
        are neither grouped nor kept waiting."""

    @property
    def max_per_second(self) -> float:
        """Requests per second at most, retries included."""

    @property
    def timeout_s(self) -> float:
        """A request's total time limit; a timeout is retried (it may have arrived)."""

    @property
    def uses_http(self) -> bool:
        """Whether its requests go over HTTP: the dispatcher opens a session only if one does."""

    def requests(
        self, events: Sequence[AlertEvent], group_labels: Mapping[str, str]
    ) -> list[Request]:
        """The messages that deliver a group: one, several (a group too large for one
        message of the platform, one per event), or none (nothing of it is to be sent).

        Called by the dispatcher when a group is due (``group_labels``: the
        ``group_by`` values the group shares, empty ones left out), once per
        group: retries resend the same requests. The same events give the same
        messages, except where a kind keeps what it needs across a group's
        messages (email threads an incident's messages). If it raises, the
        group's events count as failed with "internal error (<type>)" and the
        lane goes on.
        """

    def digest_requests(self, digest: Digest) -> list[Request]:
        """One period's digest (``alerts.digest``) as one message: a title and a list of
        what fired, is still firing and resolved (``alerts.digest_text``). Retries resend
        the same requests."""

    def classify(self, status: int, body: bytes) -> Outcome | Verdict:
        """What a reply means; connection errors and timeouts are always retried.

        Called by the dispatcher for every reply to one of this receiver's
        requests, with the status (HTTP, or the SMTP reply code) and the first
        ``alerts.transport.RESPONSE_BODY_MAX`` bytes of the body, never
        decompressed (APIs that answer 200 with an error code in the body look
        there, and return a ``Verdict`` to name the code or impose a back-off).
        Never log the body: a reply may echo the request. If it raises, the
        message counts as failed, as in ``requests``.
        """


class ReceiverKind(Protocol):
    """A receiver kind as the registry holds it: its class.

    ``config`` is the kind's own settings model (the entry's ``type`` picks the
    kind); ``env`` is where secrets come from (the worker's environment).
    """

    def check(self, name: str, config: Any, env: Mapping[str, str] | None) -> None:
        """Every check the worker runs before it starts, without building anything.

        Called for each receiver by ``alerts.receiver_config.receiver_problems``:
        by ``annotel rules check`` and by the worker before it touches the broker.
        ``env`` None skips the checks of environment values (``--no-env``); every
        other check runs as at start. Raises ``ReceiverConfigError`` (a message
        that names the receiver and the variable, never a value); the worker then
        refuses to start.
        """

    def from_config(
        self, name: str, config: Any, env: Mapping[str, str], external_url: str
    ) -> Receiver:
        """The receiver, its secrets read from ``env``; runs the same checks as ``check``.

        Called by the ``Dispatcher`` constructor for each receiver of the rules
        file (``external_url``: the link to this deployment that payloads may
        carry). Raises ``ReceiverConfigError``, which fails the dispatcher's
        construction and so the worker's start.
        """
