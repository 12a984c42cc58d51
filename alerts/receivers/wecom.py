"""WeCom (企业微信) group robots: ``markdown`` messages, mentions in a ``text`` beside them.

The robot has no signature option: the ``key`` in its URL is the only
credential, so the whole URL comes from the environment and is never shown
(logs and stats give the host only). A ``markdown`` message is at most 4096
bytes of content, so a larger group is split into numbered messages; WeCom's
markdown cannot mention by mobile or everyone, so when a group's alerts name
people, one short ``text`` message with ``mentioned_list`` /
``mentioned_mobile_list`` follows its messages (it carries no alert of its own).
Limits: 20 messages a minute per robot (errcode 45009 beyond: the robot's
destination pauses a minute).
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
from alerts.receivers.base import HttpPost, Outcome, Rate, Request, Verdict
from alerts.receivers.chat import (
    ALERT_CACHE,
    EVERYONE,
    WORDS,
    AlertText,
    ChatSettings,
    Language,
    alert_text,
    all_people,
    check_chat,
    footer,
    is_mobile,
    md_literal,
    part_label,
    title,
    webhook_url,
)
from alerts.receivers.codes import Code, code_verdict
from alerts.receivers.settings import STRICT, Secret, group_wait_s, redacted_host
from alerts.receivers.split import split

WECOM_MARKDOWN_MAX = 4096  # bytes of markdown.content (errcode 40058 beyond)
WECOM_TEXT_MAX = 2048  # bytes of text.content
WECOM_RATES = (Rate(20, 60.0),)
WECOM_CODES: dict[int, Code] = {
    45009: Code("api frequency out of limit", Outcome.THROTTLED, 60.0),
    -1: Code("system busy", Outcome.RETRY),
    40058: Code("content too long"),
    93000: Code("invalid webhook URL"),
    93004: Code("robot removed from the chat"),
}


class WeComReceiver(ChatSettings):
    model_config = STRICT
    type: Literal["wecom"]


@lru_cache(maxsize=ALERT_CACHE)
def _alert_markdown(alert: AlertText, language: Language) -> str:
    words = WORDS[language]
    esc = md_literal
    colour = "info" if alert.status == "resolved" else "warning"
    scope = " · ".join(f"{esc(k)}={esc(v)}" for k, v in alert.scope) or words["scope_all"]
    head = [
        f"**{esc(alert.rule)}** · "
        f'<font color="{colour}">{alert.severity_word} · {alert.state}</font>',
        esc(alert.summary),
    ]
    # WeCom breaks lines where the content does; a quote ends at an empty line.
    quote = [f"> {esc(line)}" for line in alert.details]
    facts = [
        f"**{words['value']}**: {esc(alert.metric)} {alert.value}",
        f"**{words['scope']}**: {scope}",
        f"**{words['window']}**: {alert.window}",
        f"**{words['since']}**: {alert.since}",
    ]
    if alert.until is not None:
        facts.append(f"**{words['until']}**: {alert.until}")
    if alert.runbook:
        facts.append(f"[{words['runbook']}]({alert.runbook})")
    blocks = ["\n".join(head), *(["\n".join(quote)] if quote else []), "\n".join(facts)]
    return "\n\n".join(blocks)


def wecom_markdown(
    alerts: Sequence[AlertText], language: Language, tz: ZoneInfo, part: str = ""
) -> str:
    """The ``markdown.content`` for some alerts of a group."""
    sections = [f"## {md_literal(title(alerts, language, part))}"]
    sections.extend(_alert_markdown(a, language) for a in alerts)
    sections.append(f'<font color="comment">{footer(language, tz)}</font>')
    return "\n\n".join(sections)


def wecom_mention(alerts: Sequence[AlertText], language: Language) -> dict[str, Any]:
    """The ``text`` message that mentions the people of a group's alerts (markdown cannot)."""
    people = all_people(alerts)
    words = WORDS[language]
    content = f"{words['mention']}{words['colon']}{title(alerts, language)}"
    encoded = content.encode()
    if len(encoded) > WECOM_TEXT_MAX:
        content = encoded[: WECOM_TEXT_MAX - 3].decode(errors="ignore") + "…"
    mobiles = [p for p in people if is_mobile(p)]
    ids = ["@all" if p == EVERYONE else p for p in people if not is_mobile(p)]
    text: dict[str, Any] = {"content": content}
    if ids:
        text["mentioned_list"] = ids
    if mobiles:
        text["mentioned_mobile_list"] = mobiles
    return {"msgtype": "text", "text": text}


class WeCom:
    """A WeCom group's robot; its URL (with the key) from the environment."""

    one_event_per_message = False
    uses_http = True

    def __init__(
        self, name: str, config: WeComReceiver, url: Secret, wait_s: float, tz: ZoneInfo
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
        self._destination = HttpPost(url, WECOM_RATES)

    @classmethod
    def check(cls, name: str, config: WeComReceiver, env: Mapping[str, str] | None) -> None:
        check_chat(name, config, env)

    @classmethod
    def from_config(
        cls, name: str, config: WeComReceiver, env: Mapping[str, str], external_url: str
    ) -> WeCom:
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
            content = wecom_markdown(alerts, language, self._tz, part)
            body = orjson.dumps({"msgtype": "markdown", "markdown": {"content": content}})
            return body, len(content.encode())

        messages = split(texts, render, WECOM_MARKDOWN_MAX, lambda i, n: part_label(language, i, n))
        requests = [
            Request(self._destination, body, tuple(events[i] for i in indices))
            for indices, body in messages
        ]
        if all_people(texts):  # one mention for the whole group, after its messages
            mention = wecom_mention(texts, language)
            requests.append(Request(self._destination, orjson.dumps(mention), ()))
        return requests

    def digest_requests(self, digest: Digest) -> list[Request]:
        language = self._config.language
        title = digest_title(digest, language, self._tz)
        room = WECOM_MARKDOWN_MAX - len(title.encode()) - 16
        content = f"**{title}**\n" + digest_body(
            digest,
            language,
            in_house_name(self._config.in_house, language),
            limit=room,
            heading="**{}**",
        )
        body = orjson.dumps({"msgtype": "markdown", "markdown": {"content": content}})
        return [Request(self._destination, body, digest.events)]

    def classify(self, status: int, body: bytes) -> Outcome | Verdict:
        return code_verdict(status, body, ("errcode",), WECOM_CODES)
