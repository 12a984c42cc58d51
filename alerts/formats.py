"""Pure payload builders: the same ``AlertEvent`` values shaped for each receiver.

No I/O and no configuration lookups here, so every shape can be checked in a
unit test and the dispatcher stays about delivery only. Each builder follows
the receiving tool's published contract (Alertmanager webhook v4, PagerDuty
Events API v2, Slack incoming webhooks) because on-call people already have
tooling and habits around those shapes.

Values from the data (ids in scopes, labels and rendered annotations) are
made literal for the text a person reads: ``slack_text`` for Slack's mrkdwn
and fallback text; unsafe characters as escapes in PagerDuty's display
fields. JSON and Alertmanager payloads are data for machines, whose routing
matches exact label values: JSON encoding is their only escaping.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from alerts.model import SEVERITIES, AlertEvent
from schemas.display import visible
from schemas.durations import format_duration

# Alertmanager's zero time: what it puts in ``endsAt`` while an alert is firing.
AM_ZERO_TIME = "0001-01-01T00:00:00Z"

PD_DEDUP_KEY_MAX = 255
PD_SUMMARY_MAX = 1024
PD_SEVERITIES = frozenset(("critical", "error", "warning", "info"))

# Slack Block Kit limits (https://api.slack.com/reference/block-kit/blocks).
SLACK_MAX_BLOCKS = 50
SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
SLACK_TEXT_MAX = 3000  # the hard limit is 40 000; fallback text is read in a notification

_SEVERITY_EMOJI = {
    "critical": ":red_circle:",
    "error": ":large_orange_circle:",
    "warning": ":large_yellow_circle:",
    "info": ":large_blue_circle:",
}
_RESOLVED_EMOJI = ":white_check_mark:"

# Scope labels PagerDuty shows as "group" (the broad owner) and "component" (what broke).
_PD_GROUP_LABELS = ("project_id",)
_PD_COMPONENT_LABELS = ("queue_id", "vendor_id", "annotator_id", "locale", "source")


def rfc3339(moment: datetime) -> str:
    """UTC with a ``Z`` suffix: the spelling Alertmanager and PagerDuty both parse."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _truncate(text: str, limit: int) -> str:
    """Cut by characters (never inside a code point, so Chinese stays intact)."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


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


def format_value(metric: str, value: float | None) -> str:
    """Show a value the way a program manager reads it: rates as %, seconds as durations."""
    if value is None:
        return "no data"
    if metric.endswith(("_rate", "_accuracy")):
        return f"{value * 100:.1f}%"
    if metric.endswith("_s"):
        if value >= 60:
            minutes, seconds = divmod(round(value), 60)
            hours, minutes = divmod(minutes, 60)
            if hours:
                return f"{hours}h {minutes:02d}m"
            return f"{minutes}m {seconds:02d}s"
        return f"{value:.1f}s"
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def _comparison(event: AlertEvent) -> str:
    value = format_value(event.metric, event.value)
    threshold = format_value(event.metric, event.threshold)
    op = event.extra.get("op")
    if isinstance(op, str) and op:
        return f"{value} {op} {threshold} (threshold)"
    return f"{value} (threshold {threshold})"


def _scope_text(scope: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in scope.items()) or "all"


def _window_text(event: AlertEvent) -> str:
    start = event.window_start.astimezone(UTC)
    end = event.window_end.astimezone(UTC)
    length = format_duration((end - start).total_seconds())
    end_text = (
        end.strftime("%H:%M") if end.date() == start.date() else end.strftime("%Y-%m-%d %H:%M")
    )
    return f"{start:%Y-%m-%d %H:%M}–{end_text} UTC ({length})"


def summary(event: AlertEvent) -> str:
    """The rule's rendered ``summary`` annotation, or one built from the event itself."""
    given = event.annotations.get("summary", "").strip()
    if given:
        return given
    state = "resolved" if event.status == "resolved" else "firing"
    return (
        f"{event.rule} {state}: {event.metric} {_comparison(event)} for {_scope_text(event.scope)}"
    )


# -- Alertmanager webhook v4 ------------------------------------------------------------------


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
        annotations.append(dict(event.annotations))
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


# -- PagerDuty Events API v2 --------------------------------------------------------------------


def _first_label(scope: Mapping[str, str], names: Sequence[str]) -> str | None:
    for name in names:
        if scope.get(name):
            return scope[name]
    return None


def pagerduty_event(event: AlertEvent, routing_key: str, external_url: str = "") -> dict[str, Any]:
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
        "value_text": format_value(event.metric, event.value),
        "threshold": event.threshold,
        "threshold_text": format_value(event.metric, event.threshold),
        "window": _window_text(event),
        "window_start": rfc3339(event.window_start),
        "window_end": rfc3339(event.window_end),
        "starts_at": rfc3339(event.starts_at),
        "scope": dict(event.scope),
        "labels": dict(event.labels),
        "repeat": event.repeat,
    }
    if event.annotations.get("description"):
        details["description"] = event.annotations["description"]
    # The fields PagerDuty shows (web, push, SMS, voice) get unsafe characters as escapes;
    # custom_details keep the exact values, as data.
    payload: dict[str, Any] = {
        "summary": _truncate(visible(summary(event)), PD_SUMMARY_MAX),
        "source": visible("annotel:" + "/".join(event.scope.values()))
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
    if _link_safe(runbook):
        body["links"] = [{"href": runbook, "text": "Runbook"}]
    if external_url:
        body["client"] = "annotation-telemetry"
        body["client_url"] = external_url
    return body


# -- Slack incoming webhook ---------------------------------------------------------------------


# @here, @channel, @everyone as words (not the "@here" of "me@here.example").
_SLACK_MENTION = re.compile(r"(?<!\w)@(?=(?:channel|here|everyone)(?!\w))", re.IGNORECASE)


def slack_text(text: str) -> str:
    """Text from the data, made literal for Slack's ``mrkdwn`` and top-level ``text``.

    ``& < >`` become entities, as Slack requires: no ``<!channel>``, ``<!here>``,
    ``<@U123>`` or ``<url|label>`` can form from an id. A plain ``@here`` /
    ``@channel`` / ``@everyone`` (a mention when a workspace parses names) gets
    a full-width ＠. Unsafe characters are shown as escapes (``schemas.display``).
    Everything else, Chinese included, passes as is.
    """
    text = visible(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SLACK_MENTION.sub("＠", text)


def _emoji(event: AlertEvent) -> str:
    if event.status == "resolved":
        return _RESOLVED_EMOJI
    return _SEVERITY_EMOJI.get(event.severity, ":red_circle:")


def _slack_section(event: AlertEvent) -> dict[str, Any]:
    state = "RESOLVED" if event.status == "resolved" else "FIRING"
    if event.repeat and event.status == "firing":
        state = "STILL FIRING (repeat)"
    esc = slack_text
    lines = [
        f"{_emoji(event)} *{esc(event.rule)}* · {event.severity} · {state}",
        esc(summary(event)),
        "*Scope:* " + (" · ".join(f"{esc(k)}=`{esc(v)}`" for k, v in event.scope.items()) or "all"),
        f"*{esc(event.metric)}:* {esc(_comparison(event))}",
        f"*Window:* {_window_text(event)}",
    ]
    runbook = event.annotations.get("runbook_url", "")
    if _link_safe(runbook):
        lines.append(f"<{runbook}|Runbook>")
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": _truncate("\n".join(lines), SLACK_SECTION_MAX)},
    }


def _link_safe(url: str) -> bool:
    """An http(s) URL that cannot break out of Slack's ``<url|label>`` (templates take ids)."""
    return (
        url.startswith(("https://", "http://"))
        and url.isprintable()
        and not any(char in url for char in "|<> ")
    )


def _head_emoji(events: Sequence[AlertEvent]) -> str:
    """The worst firing severity sets the tone of the header; all resolved is a check mark."""
    firing = [e for e in events if e.status == "firing"]
    if not firing:
        return _RESOLVED_EMOJI
    rank = {name: i for i, name in enumerate(SEVERITIES)}
    return _emoji(min(firing, key=lambda e: rank.get(e.severity, 0)))


def _slack_title(events: Sequence[AlertEvent]) -> str:
    firing = sum(1 for e in events if e.status == "firing")
    resolved = len(events) - firing
    rules = sorted({e.rule for e in events})
    parts = []
    if firing:
        parts.append(f"{firing} firing")
    if resolved:
        parts.append(f"{resolved} resolved")
    return f"{', '.join(parts)}: {', '.join(rules)}"


def slack_message(events: Sequence[AlertEvent]) -> dict[str, Any]:
    """A message people read on a phone: one header, one section per alert, links last.

    Stays within Block Kit limits (50 blocks, 150-char header, 3000-char
    sections): beyond 49 alerts the tail is replaced by a "+N more" line, since
    Slack rejects the whole message otherwise.
    """
    if not events:
        return {"text": "no alerts", "blocks": []}
    head_emoji = _head_emoji(events)
    title = _slack_title(events)
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                # plain_text: Slack parses nothing in it; only unsafe characters to show.
                "text": _truncate(visible(f"{head_emoji} {title}"), SLACK_HEADER_MAX),
                "emoji": True,
            },
        }
    ]
    room = SLACK_MAX_BLOCKS - 1
    shown = events if len(events) <= room else events[: room - 1]
    blocks.extend(_slack_section(e) for e in shown)
    hidden = len(events) - len(shown)
    if hidden:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"+{hidden} more alerts not shown"}],
            }
        )
    # The fallback (notifications, screen readers) is parsed like mrkdwn: escaped the same way.
    text_lines = [f"{head_emoji} {slack_text(title)}"]
    text_lines.extend(f"{_emoji(e)} {slack_text(summary(e))}" for e in events[:10])
    if len(events) > 10:
        text_lines.append(f"+{len(events) - 10} more")
    return {"text": _truncate("\n".join(text_lines), SLACK_TEXT_MAX), "blocks": blocks}


# -- plain JSON ------------------------------------------------------------------------------------


def json_payload(events: Sequence[AlertEvent]) -> dict[str, Any]:
    """The events as on the ``annotation.alerts`` topic, wrapped so a group is one document."""
    return {
        "status": _overall_status(events),
        "count": len(events),
        "alerts": [e.to_dict() for e in events],
    }
