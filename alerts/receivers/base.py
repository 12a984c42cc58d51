"""The port between the dispatcher and the receiver kinds.

The dispatcher (``alerts.dispatch``, with an ``alerts.lane.Lane`` per receiver)
owns what is the same for every kind: queues, grouping, rate limits, retries,
``Retry-After``, bounded reads of replies, counters. A kind owns what differs:
its settings and their checks, the shape of its messages and how to read a
reply. So adding a kind (Feishu, DingTalk, WeCom, Teams, email) is one module
with a class that fits ``ReceiverKind`` and ``Receiver``, plus one line in
``alerts.receivers.registry``; the dispatcher has no branch by kind.

Nothing here does I/O or imports a network client: ``annotel rules check``
loads every kind to check a rules file and must stay quick.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from alerts.model import AlertEvent
from alerts.receivers.settings import Secret


@dataclass(frozen=True)
class Request:
    """One message, as the dispatcher sends it, and sends again on a retry.

    ``url`` None: the body is text for the worker's standard output, written at
    once, neither rate-limited nor retried. ``events`` are those the message
    carries: they count as sent, or failed, together.
    """

    url: Secret | None
    body: bytes
    events: tuple[AlertEvent, ...]


class Outcome(Enum):
    """What a reply means for the message that caused it."""

    DELIVERED = "delivered"
    RETRY = "retry"  # after a backoff, within the attempt budget
    THROTTLED = "throttled"  # after the reply's Retry-After (else a backoff), within the budget
    REJECTED = "rejected"  # permanent: sending the same message again cannot help


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
        """The messages that deliver a group: one, or one per event.

        Called by the dispatcher when a group is due (``group_labels``: the
        ``group_by`` values the group shares, empty ones left out). Pure: the same
        events give the same messages. If it raises, the group's events count as
        failed with "internal error (<type>)" and the lane goes on.
        """

    def classify(self, status: int, body: bytes) -> Outcome:
        """What an HTTP reply means; connection errors and timeouts are always retried.

        Called by the dispatcher for every reply to one of this receiver's
        requests, with the status and the first ``alerts.lane.RESPONSE_BODY_MAX`` bytes of the
        body, never decompressed (APIs that answer 200 with an error code in the
        body can look there). Never log the body: a reply may echo the request.
        If it raises, the message counts as failed, as in ``requests``.
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
