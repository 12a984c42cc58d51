"""Slack incoming webhooks: a message people read on a phone.

One header, one section per alert, links last, within Block Kit's limits.
Values from the data (ids in scopes, labels and rendered annotations) are made
literal for Slack's mrkdwn and fallback text (``slack_text``): no mention, link
or markup can form from an id. The webhook URL is a secret (it is the
credential), read from the environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import orjson
from pydantic import Field

from alerts.digest import Digest
from alerts.digest_text import digest_body, digest_title
from alerts.formats import (
    comparison,
    explanation_lines,
    link_safe,
    no_data_line,
    summary,
    truncate,
    window_text,
)
from alerts.model import IN_HOUSE, SEVERITIES, AlertEvent, display_scope
from alerts.note import Note
from alerts.receivers.base import HttpPost, Outcome, Request, http_outcome
from alerts.receivers.settings import (
    STRICT,
    Grouping,
    Secret,
    check_url,
    env_secret,
    group_wait_s,
    redacted_host,
)
from schemas.display import visible

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


class SlackReceiver(Grouping):
    model_config = STRICT
    type: Literal["slack"]
    webhook_url_env: str
    timeout_s: float = Field(10.0, gt=0)


def _webhook_url(name: str, config: SlackReceiver, env: Mapping[str, str]) -> Secret:
    url = env_secret(env, config.webhook_url_env, name)
    check_url(url.reveal(), name, f"the value of {config.webhook_url_env}")
    return url


class Slack:
    """A Slack channel's incoming webhook; the URL comes from the environment."""

    one_event_per_message = False
    uses_http = True

    def __init__(self, name: str, config: SlackReceiver, url: Secret, wait_s: float) -> None:
        self.name = name
        self.kind = config.type
        self.target = redacted_host(url.reveal())
        self.group_by = config.group_by
        self.group_wait_s = wait_s
        self.max_per_second = config.max_per_second
        self.timeout_s = config.timeout_s
        self._url = url
        self._in_house = config.in_house or IN_HOUSE

    @classmethod
    def check(cls, name: str, config: SlackReceiver, env: Mapping[str, str] | None) -> None:
        group_wait_s(name, config)
        if env is not None:
            _webhook_url(name, config, env)

    @classmethod
    def from_config(
        cls, name: str, config: SlackReceiver, env: Mapping[str, str], external_url: str
    ) -> Slack:
        wait_s = group_wait_s(name, config)
        return cls(name, config, _webhook_url(name, config, env), wait_s)

    def requests(
        self, events: Sequence[AlertEvent], group_labels: Mapping[str, str]
    ) -> list[Request]:
        return [
            Request(
                HttpPost(self._url),
                orjson.dumps(slack_message(events, self._in_house)),
                tuple(events),
            )
        ]

    def digest_requests(self, digest: Digest) -> list[Request]:
        text = (
            slack_text(digest_title(digest))
            + "\n"
            + slack_text(
                digest_body(
                    digest, in_house=self._in_house, limit=35_000, heading="*{}*", item="• {}"
                )
            )
        )
        return [Request(HttpPost(self._url), orjson.dumps({"text": text}), digest.events)]

    def note_requests(self, note: Note) -> list[Request]:
        """The title in bold and the text, escaped (Slack has no id to deduplicate by)."""
        text = f"*{slack_text(note.title)}*\n{slack_text(note.text)}"
        return [Request(HttpPost(self._url), orjson.dumps({"text": text}), ())]

    def classify(self, status: int, body: bytes) -> Outcome:
        return http_outcome(status)


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


def _slack_section(event: AlertEvent, in_house: str = IN_HOUSE) -> dict[str, Any]:
    state = "RESOLVED" if event.status == "resolved" else "FIRING"
    if event.repeat and event.status == "firing":
        state = "STILL FIRING (repeat)"
    esc = slack_text
    lines = [
        f"{_emoji(event)} *{esc(event.rule)}* · {event.severity} · {state}",
        esc(summary(event)),
        "*Scope:* "
        + (
            " · ".join(
                f"{esc(k)}=`{esc(v)}`" for k, v in display_scope(event.scope, in_house).items()
            )
            or "all"
        ),
        f"*{esc(event.metric)}:* {esc(comparison(event))}",
        f"*Window:* {window_text(event)}",
    ]
    reason = no_data_line(event)
    if reason is not None:
        lines.insert(2, f"_{esc(reason)}_")
    lines.extend(esc(line) for line in explanation_lines(event, "en", in_house))
    runbook = event.annotations.get("runbook_url", "")
    if link_safe(runbook):
        lines.append(f"<{runbook}|Runbook>")
    return {
        "type": "section",
        "text": {"type": "mrkdwn", "text": truncate("\n".join(lines), SLACK_SECTION_MAX)},
    }


def _reason_suffix(event: AlertEvent) -> str:
    reason = no_data_line(event)
    return f" ({slack_text(reason)})" if reason is not None else ""


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


def slack_message(events: Sequence[AlertEvent], in_house: str = IN_HOUSE) -> dict[str, Any]:
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
                "text": truncate(visible(f"{head_emoji} {title}"), SLACK_HEADER_MAX),
                "emoji": True,
            },
        }
    ]
    room = SLACK_MAX_BLOCKS - 1
    shown = events if len(events) <= room else events[: room - 1]
    blocks.extend(_slack_section(e, in_house) for e in shown)
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
    text_lines.extend(
        f"{_emoji(e)} {slack_text(summary(e))}{_reason_suffix(e)}" for e in events[:10]
    )
    if len(events) > 10:
        text_lines.append(f"+{len(events) - 10} more")
    return {"text": truncate("\n".join(text_lines), SLACK_TEXT_MAX), "blocks": blocks}
