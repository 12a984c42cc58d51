"""Receiver settings, checked before anything is sent: at the worker's start and by
``annotel rules check``.

One set of checks for both, so a rules file that passes the check is one the
worker starts on (given the same environment). Secrets (Slack webhook URL,
PagerDuty routing key, ``url_env`` URLs) are read from the environment here and
kept in ``Secret`` holders; messages name receivers and variables, never a
value. No network client is imported: ``annotel rules check`` stays quick.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from alerts.model import (
    PagerDutyReceiver,
    ReceiverConfig,
    SlackReceiver,
    StdoutReceiver,
    WebhookReceiver,
)
from schemas.durations import parse_duration
from schemas.redact import add_secret

AnyReceiver = WebhookReceiver | SlackReceiver | PagerDutyReceiver | StdoutReceiver


class ReceiverConfigError(ValueError):
    """A receiver cannot be built; the message names the receiver and variable, never a value."""


class Secret:
    """A string that refuses to be printed: repr, str and format all show a mask."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


def _check_url(url: str, receiver: str, where: str) -> None:
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        ok = False
    if not ok:
        raise ReceiverConfigError(f"receiver {receiver!r}: {where} is not an http(s) URL")


def _from_env(env: Mapping[str, str], variable: str, receiver: str) -> Secret:
    value = env.get(variable, "")
    if not value.strip():
        raise ReceiverConfigError(
            f"receiver {receiver!r}: environment variable {variable} is not set (or empty)"
        )
    add_secret(value.strip())  # and no log line or traceback of this process can show it
    return Secret(value.strip())


@dataclass(frozen=True)
class Resolved:
    """A receiver's settings once checked: secrets read, URLs and durations valid."""

    url: Secret | None
    routing_key: Secret | None
    group_wait_s: float


def resolve(name: str, config: AnyReceiver, env: Mapping[str, str] | None) -> Resolved:
    """Every check a receiver must pass before the worker starts; raises ``ReceiverConfigError``.

    With ``env`` None, values that come from the environment are not read and
    their checks are skipped (``annotel rules check --no-env``); every other
    check runs exactly as at start.
    """
    url: Secret | None = None
    routing_key: Secret | None = None
    try:
        group_wait_s = parse_duration(config.group_wait)
    except ValueError as exc:
        raise ReceiverConfigError(f"receiver {name!r}: group_wait: {exc}") from None
    if isinstance(config, SlackReceiver):
        if env is not None:
            url = _from_env(env, config.webhook_url_env, name)
            _check_url(url.reveal(), name, f"the value of {config.webhook_url_env}")
    elif isinstance(config, PagerDutyReceiver):
        _check_url(config.url, name, "url")
        url = Secret(config.url)
        if env is not None:
            routing_key = _from_env(env, config.routing_key_env, name)
    elif isinstance(config, WebhookReceiver):
        if (config.url is None) == (config.url_env is None):
            raise ReceiverConfigError(f"receiver {name!r}: set exactly one of url and url_env")
        if config.url_env is not None:
            if env is not None:
                url = _from_env(env, config.url_env, name)
                _check_url(url.reveal(), name, f"the value of {config.url_env}")
        else:
            assert config.url is not None
            _check_url(config.url, name, "url")
            url = Secret(config.url)
    return Resolved(url, routing_key, group_wait_s)


def receiver_problems(
    receivers: Mapping[str, ReceiverConfig], env: Mapping[str, str] | None
) -> list[str]:
    """Why the worker would refuse to start on these receivers (empty: it would not).

    The same checks ``Dispatcher`` runs, each receiver on its own so every
    problem is listed; messages name receivers and variables, never a value.
    ``env`` None skips the checks of environment values (see ``resolve``).
    """
    problems: list[str] = []
    for name, config in receivers.items():
        try:
            resolve(name, config, env)
        except ReceiverConfigError as exc:
            problems.append(str(exc))
    return problems
