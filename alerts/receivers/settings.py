"""What every receiver kind's settings share, and the checks they are built from.

A ``receivers:`` entry of the rules file is validated by pydantic (``Grouping``
plus the kind's own model); what a model cannot know (durations, URLs, values
from the environment) is checked by the kind with these helpers, at the
worker's start and by ``annotel rules check`` alike (``alerts.receiver_config``).
Secrets read here (a Slack webhook URL, a PagerDuty routing key, ``url_env``
URLs) are kept in ``Secret`` holders and registered with the redactor; messages
name receivers and variables, never a value. No network client is imported:
``annotel rules check`` stays quick.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from schemas.durations import parse_duration
from schemas.redact import add_secret

STRICT = ConfigDict(extra="forbid", frozen=True)


class Grouping(BaseModel):
    """Notifications to one receiver within ``group_wait`` sharing ``group_by`` go out as one."""

    model_config = STRICT
    group_by: tuple[str, ...] = ("rule", "project_id")
    group_wait: str = "30s"  # a duration (schemas.durations)
    max_per_second: float = Field(1.0, gt=0)
    # The in-house team's name (the empty vendor) in this receiver's text; the loader
    # fills in the rules file's ``labels.in_house`` in the receiver's language.
    in_house: str | None = Field(None, min_length=1, max_length=64)


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


def group_wait_s(name: str, config: Grouping) -> float:
    """The first check of every kind: ``group_wait`` is a duration."""
    try:
        return parse_duration(config.group_wait)
    except ValueError as exc:
        raise ReceiverConfigError(f"receiver {name!r}: group_wait: {exc}") from None


def check_url(url: str, receiver: str, where: str) -> None:
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        ok = False
    if not ok:
        raise ReceiverConfigError(f"receiver {receiver!r}: {where} is not an http(s) URL")


def env_secret(env: Mapping[str, str], variable: str, receiver: str) -> Secret:
    """A secret read from the environment; unset or blank is a configuration error."""
    value = env.get(variable, "")
    if not value.strip():
        raise ReceiverConfigError(
            f"receiver {receiver!r}: environment variable {variable} is not set (or empty)"
        )
    add_secret(value.strip())  # and no log line or traceback of this process can show it
    return Secret(value.strip())


def redacted_host(url: str) -> str:
    """Host and port only: paths, queries and user info can all carry tokens."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        return "<invalid url>"
    if not host:
        return "<invalid url>"
    return f"{host}:{port}" if port else host
