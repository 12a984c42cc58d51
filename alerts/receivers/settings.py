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

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field

from schemas.durations import parse_duration
from schemas.redact import add_secret

STRICT = ConfigDict(extra="forbid", frozen=True)
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


class DigestSettings(BaseModel):
    """Send what was routed here once per period, as one message: daily ``at`` a local time
    of ``timezone``, or ``every`` a duration (periods aligned to the epoch, UTC)."""

    model_config = STRICT
    at: str | None = None  # "09:00"
    timezone: str = "UTC"  # an IANA name, e.g. Asia/Shanghai
    every: str | None = None  # a duration, e.g. 24h


class Grouping(BaseModel):
    """Notifications to one receiver within ``group_wait`` sharing ``group_by`` go out as one."""

    model_config = STRICT
    group_by: tuple[str, ...] = ("rule", "project_id")
    group_wait: str = "30s"  # a duration (schemas.durations)
    max_per_second: float = Field(1.0, gt=0)
    # The in-house team's name (the empty vendor) in this receiver's text; the loader
    # fills in the rules file's ``labels.in_house`` in the receiver's language.
    in_house: str | None = Field(None, min_length=1, max_length=64)
    digest: DigestSettings | None = None  # collect, then send one message per period


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


@dataclass(frozen=True)
class DigestSchedule:
    """When a digest receiver's periods end: daily at ``at`` (hour, minute) in ``zone``, or
    every ``every_s`` seconds since the epoch."""

    zone: ZoneInfo
    at: tuple[int, int] | None = None
    every_s: int | None = None


def digest_schedule(name: str, digest: DigestSettings) -> DigestSchedule:
    """The schedule of a ``digest:`` setting; raises ``ReceiverConfigError`` naming the field."""
    try:
        zone = ZoneInfo(digest.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ReceiverConfigError(
            f"receiver {name!r}: digest.timezone {digest.timezone!r} is not a known IANA "
            "time zone (e.g. UTC, Asia/Shanghai)"
        ) from None
    if (digest.at is None) == (digest.every is None):
        raise ReceiverConfigError(f"receiver {name!r}: digest: set exactly one of at and every")
    if digest.at is not None:
        match = _HHMM.match(digest.at)
        if match is None:
            raise ReceiverConfigError(
                f"receiver {name!r}: digest.at {digest.at!r} is not a time of day (HH:MM)"
            )
        return DigestSchedule(zone, at=(int(match.group(1)), int(match.group(2))))
    assert digest.every is not None
    try:
        seconds = parse_duration(digest.every)
    except ValueError as exc:
        raise ReceiverConfigError(f"receiver {name!r}: digest.every: {exc}") from None
    if seconds < 60 or seconds % 60:
        raise ReceiverConfigError(
            f"receiver {name!r}: digest.every must be a whole number of minutes, at least 1m"
        )
    return DigestSchedule(zone, every_s=int(seconds))


def group_wait_s(name: str, config: Grouping) -> float:
    """The first checks of every kind: ``group_wait`` is a duration, a ``digest`` has a
    valid schedule."""
    if config.digest is not None:
        digest_schedule(name, config.digest)
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
