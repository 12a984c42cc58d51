"""PagerDuty (Events API v2): one event per request, trigger while firing, resolve after.

PagerDuty takes one event per request, so this kind's events are neither
grouped nor kept waiting. ``dedup_key`` is the alert's fingerprint: repeats fold
into the open incident and a retried request that did arrive is folded too.
The fields PagerDuty shows (web, push, SMS, voice) get unsafe characters from
the data as escapes; ``custom_details`` keep the exact values, as data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import orjson
from pydantic import Field

from alerts.digest import Digest
from alerts.formats import explanation_lines, link_safe, summary, truncate, window_text
from alerts.model import IN_HOUSE, AlertEvent, display_scope
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
from schemas.display import visible
from schemas.units import metric_value, rfc3339

PD_DEDUP_KEY_MAX = 255
PD_SUMMARY_MAX = 1024
PD_SEVERITIES = frozenset(("critical", "error", "warning", "info"))

# Scope labels PagerDuty shows as "group" (the broad owner) and "component" (what broke).
_PD_GROUP_LABELS = ("project_id",)
_PD_COMPONENT_LABELS = ("queue_id", "vendor_id", "annotator_id", "locale", "source")


class PagerDutyReceiver(Grouping):
    model_config = STRICT
    type: Literal["pagerduty"]
    routing_key_env: str
    url: str = "https://events.pagerduty.com/v2/enqueue"
    timeout_s: float = Field(10.0, gt=0)


def _no_digest(name: str, config: PagerDutyReceiver) -> None:
    if config.digest is not None:
        raise ReceiverConfigError(
            f"receiver {name!r}: PagerDuty takes one event per request, so it cannot "
            "receive a digest (one message per period): use a chat, email or webhook receiver"
        )


class PagerDuty:
    """A PagerDuty service's integration, by its routing key (kept in the environment)."""

    one_event_per_message = True
    uses_http = True

    def __init__(
        self,
        name: str,
        config: PagerDutyReceiver,
        routing_key: Secret,
        wait_s: float,
        external_url: str,
    ) -> None:
        self.name = name
        self.kind = config.type
        self.target = redacted_host(config.url)
        self.group_by = config.group_by
        self.group_wait_s = wait_s
        self.max_per_second = config.max_per_second
        self.timeout_s = config.timeout_s
        self._url = Secret(config.url)
        self._routing_key = routing_key
        self._external_url = external_url
        self._in_house = config.in_house or IN_HOUSE

    @classmethod
    def check(cls, name: str, config: PagerDutyReceiver, env: Mapping[str, str] | None) -> None:
        _no_digest(name, config)
        group_wait_s(name, config)
        check_url(config.url, name, "url")
        if env is not None:
            env_secret(env, config.routing_key_env, name)

    @classmethod
    def from_config(
        cls, name: str, config: PagerDutyReceiver, env: Mapping[str, str], external_url: str
    ) -> PagerDuty:
        _no_digest(name, config)
        wait_s = group_wait_s(name, config)
        check_url(config.url, name, "url")
        routing_key = env_secret(env, config.routing_key_env, name)
        return cls(name, config, routing_key, wait_s, external_url)

    def requests(
        self, events: Sequence[AlertEvent], group_labels: Mapping[str, str]
    ) -> list[Request]:
        key = self._routing_key.reveal()
        return [
            Request(
                HttpPost(self._url),
                orjson.dumps(pagerduty_event(e, key, self._external_url, self._in_house)),
                (e,),
            )
            for e in events
        ]

    def digest_requests(self, digest: Digest) -> list[Request]:
        """Never called: a PagerDuty receiver with ``digest:`` is refused (``_no_digest``)."""
        return []

    def classify(self, status: int, body: bytes) -> Outcome:
        return http_outcome(status)


def _first_label(scope: Mapping[str, str], names: Sequence[str]) -> str | None:
    for name in names:
        if scope.get(name):
            return scope[name]
    return None


def pagerduty_event(
    event: AlertEvent, routing_key: str, external_url: str = "", in_house: str = IN_HOUSE
) -> dict[str, Any]:
    """One Events API v2 event: trigger while firing, resolve on resolution.

    ``dedup_key`` is the fingerprint, so PagerDuty folds repeats into the open
    incident and the resolve closes exactly that incident. A resolve carries
    only the three fields PagerDuty reads for it.
    """
    dedup_key = event.fingerprint[:PD_DEDUP_KEY_MAX]
    if event.status == "resolved":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": dedup_key}
    severity = event.severity if event.severity in PD_SEVERITIES else "error"
    details: dict[str, Any] = {
        "rule": event.rule,
        "metric": event.metric,
        "value": event.value,
        "value_text": metric_value(event.metric, event.value),
        "threshold": event.threshold,
        "threshold_text": metric_value(event.metric, event.threshold),
        "window": window_text(event),
        "window_start": rfc3339(event.window_start),
        "window_end": rfc3339(event.window_end),
        "starts_at": rfc3339(event.starts_at),
        "scope": dict(event.scope),
        "labels": dict(event.labels),
        "repeat": event.repeat,
    }
    if event.annotations.get("description"):
        details["description"] = event.annotations["description"]
    if event.explanation:
        details["explanation"] = explanation_lines(event, "en", in_house)
        details["contributors"] = [item.to_dict() for item in event.explanation]
    # The fields PagerDuty shows (web, push, SMS, voice) get unsafe characters as escapes;
    # custom_details keep the exact values, as data.
    payload: dict[str, Any] = {
        "summary": truncate(visible(summary(event)), PD_SUMMARY_MAX),
        "source": visible("annotel:" + "/".join(display_scope(event.scope, in_house).values()))
        if event.scope
        else "annotel",
        "severity": severity,
        "timestamp": rfc3339(event.window_end),
        "class": visible(event.rule),
        "custom_details": details,
    }
    group = _first_label(event.scope, _PD_GROUP_LABELS)
    if group:
        payload["group"] = visible(group)
    component = _first_label(event.scope, _PD_COMPONENT_LABELS)
    if component:
        payload["component"] = visible(component)
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": payload,
    }
    runbook = event.annotations.get("runbook_url", "")
    if link_safe(runbook):
        body["links"] = [{"href": runbook, "text": "Runbook"}]
    if external_url:
        body["client"] = "annotation-telemetry"
        body["client_url"] = external_url
    return body
