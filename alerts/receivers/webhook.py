"""Generic webhooks: the events as JSON, or the body Alertmanager POSTs (version 4).

``format: alertmanager`` follows Alertmanager's published webhook contract, so
tools already wired to Alertmanager take these alerts unchanged. These bodies
are data for machines, whose routing matches exact label values: JSON encoding
is their only escaping. A URL that embeds a token can come from the
environment (``url_env``) instead of the rules file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import orjson
from pydantic import Field

from alerts.digest import Digest
from alerts.formats import explanation_lines, no_data_line
from alerts.model import AlertEvent
from alerts.note import Note
from alerts.receivers.base import HttpPost, Outcome, Request, http_outcome
from alerts.receivers.settings import (
    STRICT,
    Grouping,
    ReceiverConfigError,
    Secret,
    check_url,
    env_secret,
    group_wait_s,
    redacted_host,
)
from schemas.units import rfc3339

# Alertmanager's zero time: what it puts in ``endsAt`` while an alert is firing.
AM_ZERO_TIME = "0001-01-01T00:00:00Z"


class WebhookReceiver(Grouping):
    """POSTs JSON; ``format: alertmanager`` sends the Alertmanager v4 webhook payload."""

    model_config = STRICT
    type: Literal["webhook"]
    url: str | None = None
    url_env: str | None = None  # the URL may embed a token: then keep it in the environment
    format: Literal["json", "alertmanager"] = "json"
    timeout_s: float = Field(10.0, gt=0)


def _url(name: str, config: WebhookReceiver, env: Mapping[str, str] | None) -> Secret | None:
    """The URL, checked; None when it comes from the environment and ``env`` is None."""
    if (config.url is None) == (config.url_env is None):
        raise ReceiverConfigError(f"receiver {name!r}: set exactly one of url and url_env")
    if config.url_env is not None:
        if env is None:
            return None
        url = env_secret(env, config.url_env, name)
        check_url(url.reveal(), name, f"the value of {config.url_env}")
        return url
    assert config.url is not None
    check_url(config.url, name, "url")
    return Secret(config.url)


class Webhook:
    """Any HTTP endpoint that takes a JSON POST."""

    one_event_per_message = False
    uses_http = True

    def __init__(
        self, name: str, config: WebhookReceiver, url: Secret, wait_s: float, external_url: str
    ) -> None:
        self.name = name
        self.kind = f"webhook/{config.format}"
        self.target = redacted_host(url.reveal())
        self.group_by = config.group_by
        self.group_wait_s = wait_s
        self.max_per_second = config.max_per_second
        self.timeout_s = config.timeout_s
        self._url = url
        self._format = config.format
        self._external_url = external_url

    @classmethod
    def check(cls, name: str, config: WebhookReceiver, env: Mapping[str, str] | None) -> None:
        group_wait_s(name, config)
        _url(name, config, env)

    @classmethod
    def from_config(
        cls, name: str, config: WebhookReceiver, env: Mapping[str, str], external_url: str
    ) -> Webhook:
        wait_s = group_wait_s(name, config)
        url = _url(name, config, env)
        assert url is not None  # env is given
        return cls(name, config, url, wait_s, external_url)

    def requests(
        self, events: Sequence[AlertEvent], group_labels: Mapping[str, str]
    ) -> list[Request]:
        payload: dict[str, Any]
        if self._format == "alertmanager":
            payload = alertmanager_payload(events, self.name, group_labels, self._external_url)
        else:
            payload = json_payload(events)
        return [Request(HttpPost(self._url), orjson.dumps(payload), tuple(events))]

    def digest_requests(self, digest: Digest) -> list[Request]:
        """Alertmanager's shape (its alerts, the group naming the digest's period) or the
        digest as JSON (``{"digest": {...}}``, its three lists of alert events)."""
        payload: dict[str, Any]
        if self._format == "alertmanager":
            labels = {"digest": digest.receiver, "period_end": rfc3339(digest.period_end)}
            payload = alertmanager_payload(digest.events, self.name, labels, self._external_url)
        else:
            payload = {"digest": digest.to_dict()}
        return [Request(HttpPost(self._url), orjson.dumps(payload), digest.events)]

    def note_requests(self, note: Note) -> list[Request]:
        """A note as JSON (``{"note": {...}}``, its id first), whatever the alert format:
        Alertmanager's shape has no place for a message without alerts."""
        return [Request(HttpPost(self._url), orjson.dumps({"note": note.to_dict()}), ())]

    def classify(self, status: int, body: bytes) -> Outcome:
        return http_outcome(status)


def _overall_status(events: Sequence[AlertEvent]) -> str:
    return "firing" if any(e.status == "firing" for e in events) else "resolved"


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """Key/value pairs present with the same value in every map (Alertmanager's common*)."""
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def _labels(event: AlertEvent) -> dict[str, str]:
    """The event's labels, with ``alertname`` guaranteed: receivers route and group on it."""
    labels = dict(event.labels)
    labels.setdefault("alertname", event.rule)
    labels.setdefault("severity", event.severity)
    return labels


# -- Alertmanager webhook v4 ------------------------------------------------------------------


def _annotations(event: AlertEvent) -> dict[str, str]:
    """The rule's annotations, and why a resolve is not a recovery (``resolved_reason``)."""
    annotations = dict(event.annotations)
    explained = explanation_lines(event)
    if explained:
        annotations["explanation"] = "\n".join(explained)
    reason = no_data_line(event)
    if reason is not None and event.resolved_reason is not None:
        annotations["resolved_reason"] = event.resolved_reason
        annotations["resolved_note"] = reason
    return annotations


def _group_key(receiver_name: str, group_labels: Mapping[str, str]) -> str:
    inner = ",".join(f"{k}={orjson.dumps(v).decode()}" for k, v in sorted(group_labels.items()))
    return f'{{}}/{{receiver="{receiver_name}"}}:{{{inner}}}'


def alertmanager_payload(
    events: Sequence[AlertEvent],
    receiver_name: str,
    group_labels: Mapping[str, str],
    external_url: str = "",
) -> dict[str, Any]:
    """The body Alertmanager POSTs to a webhook (version 4), so existing consumers just work.

    ``generatorURL`` is ``external_url`` as given: we do not invent UI routes.
    """
    alerts: list[dict[str, Any]] = []
    labels: list[dict[str, str]] = []
    annotations: list[dict[str, str]] = []
    for event in events:
        if event.status == "firing":
            ends_at = AM_ZERO_TIME
        else:
            ends_at = rfc3339(event.ends_at or event.window_end)
        labels.append(_labels(event))
        annotations.append(_annotations(event))
        alerts.append(
            {
                "status": event.status,
                "labels": labels[-1],
                "annotations": annotations[-1],
                "startsAt": rfc3339(event.starts_at),
                "endsAt": ends_at,
                "generatorURL": external_url,
                "fingerprint": event.fingerprint,
            }
        )
    return {
        "version": "4",
        "groupKey": _group_key(receiver_name, group_labels),
        "truncatedAlerts": 0,
        "status": _overall_status(events),
        "receiver": receiver_name,
        "groupLabels": dict(group_labels),
        "commonLabels": _common(labels),
        "commonAnnotations": _common(annotations),
        "externalURL": external_url,
        "alerts": alerts,
    }


# -- plain JSON ------------------------------------------------------------------------------------


def json_payload(events: Sequence[AlertEvent]) -> dict[str, Any]:
    """The events as on the ``annotation.alerts`` topic, wrapped so a group is one document."""
    return {
        "status": _overall_status(events),
        "count": len(events),
        "alerts": [e.to_dict() for e in events],
    }
