"""Microsoft Teams through a Power Automate Workflows webhook: an Adaptive Card per group.

Office 365 connectors (the old incoming webhooks) are retired; a Workflows
webhook ("Post to a channel when a webhook request is received") takes a
``message`` whose attachment is an Adaptive Card. The card's title is
coloured by status (firing Attention red, warning orange, resolved Good
green); each alert is a container with its state, the rule's summary and
description, a fact set (value against threshold, scope, window, times) and
an "open runbook" action. People named by ``mentions`` (their Teams sign-in
name, an email) are mentioned through the card's ``msteams.entities``.
Limits: 4 requests a second per webhook (HTTP 429 beyond), a message of at
most 28 KB; a larger group is split into numbered cards. The workflow answers
202 once it has accepted the request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

import orjson

from alerts.digest import Digest
from alerts.digest_text import digest_body, digest_title, in_house_name
from alerts.model import AlertEvent
from alerts.receivers.base import HttpPost, Outcome, Rate, Request, Verdict, http_outcome
from alerts.receivers.chat import (
    ALERT_CACHE,
    WORDS,
    AlertText,
    ChatSettings,
    Language,
    Tone,
    alert_text,
    all_people,
    check_chat,
    footer,
    md_literal,
    part_label,
    title,
    tone,
    webhook_url,
)
from alerts.receivers.settings import STRICT, Secret, group_wait_s, redacted_host
from alerts.receivers.split import split

TEAMS_BODY_MAX = 28_000  # bytes; Teams refuses messages over 28 KB
TEAMS_RATES = (Rate(4, 1.0),)
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
_COLOUR: dict[Tone, str] = {
    "red": "Attention",
    "orange": "Warning",
    "blue": "Accent",
    "green": "Good",
}


class TeamsReceiver(ChatSettings):
    model_config = STRICT
    type: Literal["msteams"]


@lru_cache(maxsize=ALERT_CACHE)
def _container(alert: AlertText, language: Language) -> dict[str, Any]:
    words = WORDS[language]
    esc = md_literal
    colour = _COLOUR["green" if alert.status == "resolved" else tone([alert])]
    scope = " · ".join(f"{esc(k)}={esc(v)}" for k, v in alert.scope) or words["scope_all"]
    facts = [
        {"title": words["value"], "value": f"{esc(alert.metric)} {alert.value}"},
        {"title": words["scope"], "value": scope},
        {"title": words["window"], "value": alert.window},
        {"title": words["since"], "value": alert.since},
    ]
    if alert.until is not None:
        facts.append({"title": words["until"], "value": alert.until})
    items: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": f"**{esc(alert.rule)}** · {alert.severity_word} · {alert.state}",
            "wrap": True,
            "color": colour,
        },
        {"type": "TextBlock", "text": esc(alert.summary), "wrap": True},
    ]
    if alert.details:
        items.append(
            {
                "type": "TextBlock",
                "text": "\n\n".join(esc(line) for line in alert.details),
                "wrap": True,
                "isSubtle": True,
            }
        )
    items.append({"type": "FactSet", "facts": facts})
    if alert.runbook:
        items.append(
            {
                "type": "ActionSet",
                "actions": [
                    {"type": "Action.OpenUrl", "title": words["runbook"], "url": alert.runbook}
                ],
            }
        )
    return {"type": "Container", "separator": True, "spacing": "Medium", "items": items}


def teams_message(
    alerts: Sequence[AlertText], language: Language, tz: ZoneInfo, part: str = ""
) -> dict[str, Any]:
    """The Workflows ``message`` for some alerts of a group."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": md_literal(title(alerts, language, part)),
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "style": "heading",
            "color": _COLOUR[tone(alerts)],
        }
    ]
    body.extend(_container(a, language) for a in alerts)
    # Teams mentions people by their sign-in name; "all" and mobile numbers have no equivalent.
    people = [p for p in all_people(alerts) if "@" in p]
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "msteams": {"width": "Full"},
    }
    if people:
        body.append(
            {"type": "TextBlock", "text": " ".join(f"<at>{p}</at>" for p in people), "wrap": True}
        )
        content["msteams"]["entities"] = [
            {"type": "mention", "text": f"<at>{p}</at>", "mentioned": {"id": p, "name": p}}
            for p in people
        ]
    body.append(
        {
            "type": "TextBlock",
            "text": footer(language, tz),
            "size": "Small",
            "isSubtle": True,
            "wrap": True,
        }
    )
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": content}],
    }


class Teams:
    """A Teams channel's Workflows webhook; its URL (signed, so secret) from the environment."""

    one_event_per_message = False
    uses_http = True

    def __init__(
        self, name: str, config: TeamsReceiver, url: Secret, wait_s: float, tz: ZoneInfo
    ) -> None:
        self.name = name
        self.kind = config.type
        self.target = redacted_host(url.reveal())
        self.group_by = config.group_by
        self.group_wait_s = wait_s
        self.max_per_second = config.max_per_second
        self.timeout_s = config.timeout_s
        self._config = config
        self._tz = tz
        self._destination = HttpPost(url, TEAMS_RATES)

    @classmethod
    def check(cls, name: str, config: TeamsReceiver, env: Mapping[str, str] | None) -> None:
        check_chat(name, config, env)

    @classmethod
    def from_config(
        cls, name: str, config: TeamsReceiver, env: Mapping[str, str], external_url: str
    ) -> Teams:
        tz = check_chat(name, config, None)
        return cls(name, config, webhook_url(name, config, env), group_wait_s(name, config), tz)

    def requests(
        self, events: Sequence[AlertEvent], group_labels: Mapping[str, str]
    ) -> list[Request]:
        language = self._config.language
        texts = [
            alert_text(e, language, self._tz, self._config.mentions, self._config.in_house)
            for e in events
        ]

        def render(alerts: Sequence[AlertText], part: str) -> tuple[bytes, int]:
            body = orjson.dumps(teams_message(alerts, language, self._tz, part))
            return body, len(body)

        messages = split(texts, render, TEAMS_BODY_MAX, lambda i, n: part_label(language, i, n))
        return [
            Request(self._destination, body, tuple(events[i] for i in indices))
            for indices, body in messages
        ]

    def digest_requests(self, digest: Digest) -> list[Request]:
        language = self._config.language
        title = digest_title(digest, language, self._tz)
        room = TEAMS_BODY_MAX - 2 * len(title.encode()) - 1024
        text = digest_body(
            digest,
            language,
            in_house_name(self._config.in_house, language),
            limit=room,
            heading="**{}**",
        )
        card = {
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                {"type": "TextBlock", "text": title, "weight": "Bolder", "wrap": True},
                {"type": "TextBlock", "text": text.replace("\n", "\n\n"), "wrap": True},
            ],
        }
        payload = {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
            ],
        }
        return [Request(self._destination, orjson.dumps(payload), digest.events)]

    def classify(self, status: int, body: bytes) -> Outcome | Verdict:
        return http_outcome(status)
