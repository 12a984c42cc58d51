"""Feishu (and Lark) custom bots: an ``interactive`` card per group, signed when configured.

Lark is the same bot API under another domain: give the Lark webhook URL
(``https://open.larksuite.com/open-apis/bot/v2/hook/...``) and nothing else
changes. The card is coloured by status (firing red, warning orange, resolved
green) with a title, and per alert its state, the rule's summary and
description, value against threshold, scope, window and a runbook button.

Signing (``secret_env``), Feishu's scheme, which is DingTalk's mirror image:
``sign = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))`` with
the timestamp in seconds, both in the JSON body, made for each attempt (the
platform refuses a timestamp older than an hour). A ``keyword`` (Feishu's
other security option) is put in every card's title. Limits: 5 requests a
second and 100 a minute per bot, a body of at most 20 KB; a larger group is
split into numbered cards. Data text goes into ``lark_md`` with the
characters that open markup written as HTML entities, so no ``<at>`` mention,
link or emphasis can come from an id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
    WORDS,
    AlertText,
    ChatSettings,
    Language,
    alert_text,
    all_people,
    check_chat,
    footer,
    part_label,
    title,
    tone,
    webhook_url,
)
from alerts.receivers.codes import Code, code_verdict
from alerts.receivers.settings import STRICT, Secret, env_secret, group_wait_s, redacted_host
from alerts.receivers.split import split

FEISHU_BODY_MAX = 20_000  # bytes; the documented limit is 20 KB (bridges see 30 KB refused)
SIGNATURE_ROOM = 96  # bytes the signer adds: "timestamp":"1764000000","sign":"<44 base64>",
FEISHU_RATES = (Rate(5, 1.0), Rate(100, 60.0))
FEISHU_CODES: dict[int, Code] = {
    9499: Code("too many requests", Outcome.THROTTLED, 60.0),
    11232: Code("frequency limited", Outcome.THROTTLED, 60.0),
    19021: Code("signature refused: check secret_env and the clock"),
    19022: Code("IP address not allowed"),
    19024: Code("keyword not found: check keyword"),
    19036: Code("message too large"),
}
_TEMPLATE = {"red": "red", "orange": "orange", "blue": "blue", "green": "green"}


class FeishuReceiver(ChatSettings):
    model_config = STRICT
    type: Literal["feishu"]
    secret_env: str | None = None  # the bot's signing secret (签名校验)
    keyword: str | None = None  # the bot's custom keyword (自定义关键词)


def feishu_sign(secret: str, timestamp: int) -> str:
    """Feishu's signature: the HMAC of an empty message, keyed by "timestamp\\nsecret"."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class FeishuSigner:
    """Adds ``timestamp`` (seconds, as a string) and ``sign`` to the JSON body of each attempt."""

    secret: Secret

    def __call__(self, url: str, body: bytes, now: float) -> tuple[str, bytes]:
        timestamp = int(now)
        payload = orjson.loads(body)
        signed = {
            "timestamp": str(timestamp),
            "sign": feishu_sign(self.secret.reveal(), timestamp),
            **payload,
        }
        return url, orjson.dumps(signed)


_LARK = str.maketrans(
    {
        "&": "&#38;",
        "<": "&#60;",
        ">": "&#62;",
        "*": "&#42;",
        "~": "&#126;",
        "[": "&#91;",
        "]": "&#93;",
        "`": "&#96;",
    }
)
_LARK_SPECIAL = re.compile(r"[&<>*~\[\]`]")
_LARK_LINE_START = re.compile(r"^(\s*)([#\-+|])")


def lark_literal(text: str) -> str:
    """Data text for ``lark_md``: markup characters as the entities Feishu documents."""
    if _LARK_SPECIAL.search(text):
        text = text.translate(_LARK)
    return _LARK_LINE_START.sub(lambda m: f"{m.group(1)}&#{ord(m.group(2))};", text)


def _mention(person: str) -> str:
    if person == "all":
        return "<at id=all></at>"
    if "@" in person:
        return f"<at email={person}></at>"
    return f"<at id={person}></at>"


@lru_cache(maxsize=ALERT_CACHE)
def _alert_elements(alert: AlertText, language: Language) -> list[dict[str, Any]]:
    words = WORDS[language]
    esc = lark_literal
    scope = " · ".join(f"{esc(k)}={esc(v)}" for k, v in alert.scope) or words["scope_all"]
    lines = [
        f"**{esc(alert.rule)}** · {alert.severity_word} · {alert.state}",
        esc(alert.summary),
        *(esc(line) for line in alert.details),
        f"**{words['value']}**: {esc(alert.metric)} {esc(alert.value)}",
        f"**{words['scope']}**: {scope}",
        f"**{words['window']}**: {alert.window}",
        f"**{words['since']}**: {alert.since}",
    ]
    if alert.until is not None:
        lines.append(f"**{words['until']}**: {alert.until}")
    elements: list[dict[str, Any]] = [
        {"tag": "div", "text": {"tag": "lark_md", "content": "\n".join(lines)}}
    ]
    if alert.runbook:
        elements.append(
            {
                "tag": "action",
                "actions": [
                    {
                        "tag": "button",
                        "text": {"tag": "plain_text", "content": words["runbook"]},
                        "url": alert.runbook,
                        "type": "primary" if alert.status == "firing" else "default",
                    }
                ],
            }
        )
    return elements


def feishu_card(
    alerts: Sequence[AlertText],
    language: Language,
    tz: ZoneInfo,
    keyword: str | None = None,
    part: str = "",
) -> dict[str, Any]:
    """The ``interactive`` message for some alerts of a group (unsigned)."""
    heading = title(alerts, language, part)
    if keyword:
        heading = f"{keyword} · {heading}"
    elements: list[dict[str, Any]] = []
    for alert in alerts:
        if elements:
            elements.append({"tag": "hr"})
        elements.extend(_alert_elements(alert, language))
    people = all_people(alerts)
    if people:
        elements.append(
            {
                "tag": "div",
                "text": {"tag": "lark_md", "content": " ".join(_mention(p) for p in people)},
            }
        )
    elements.append(
        {"tag": "note", "elements": [{"tag": "plain_text", "content": footer(language, tz)}]}
    )
    return {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {
                "template": _TEMPLATE[tone(alerts)],
                "title": {"tag": "plain_text", "content": heading},
            },
            "elements": elements,
        },
    }


class Feishu:
    """A Feishu or Lark group's custom bot; URL and signing secret from the environment."""

    one_event_per_message = False
    uses_http = True

    def __init__(
        self,
        name: str,
        config: FeishuReceiver,
        url: Secret,
        secret: Secret | None,
        wait_s: float,
        tz: ZoneInfo,
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
        signer = FeishuSigner(secret) if secret is not None else None
        self._destination = HttpPost(url, FEISHU_RATES, signer)
        self._room = SIGNATURE_ROOM if secret is not None else 0

    @classmethod
    def check(cls, name: str, config: FeishuReceiver, env: Mapping[str, str] | None) -> None:
        check_chat(name, config, env, config.keyword)
        if env is not None and config.secret_env is not None:
            env_secret(env, config.secret_env, name)

    @classmethod
    def from_config(
        cls, name: str, config: FeishuReceiver, env: Mapping[str, str], external_url: str
    ) -> Feishu:
        tz = check_chat(name, config, None, config.keyword)
        url = webhook_url(name, config, env)
        secret = env_secret(env, config.secret_env, name) if config.secret_env else None
        return cls(name, config, url, secret, group_wait_s(name, config), tz)

    def requests(
        self, events: Sequence[AlertEvent], group_labels: Mapping[str, str]
    ) -> list[Request]:
        language = self._config.language
        texts = [
            alert_text(e, language, self._tz, self._config.mentions, self._config.in_house)
            for e in events
        ]

        def render(alerts: Sequence[AlertText], part: str) -> tuple[bytes, int]:
            card = feishu_card(alerts, language, self._tz, self._config.keyword, part)
            body = orjson.dumps(card)
            return body, len(body) + self._room

        messages = split(texts, render, FEISHU_BODY_MAX, lambda i, n: part_label(language, i, n))
        return [
            Request(self._destination, body, tuple(events[i] for i in indices))
            for indices, body in messages
        ]

    def digest_requests(self, digest: Digest) -> list[Request]:
        language = self._config.language
        title = digest_title(digest, language, self._tz)
        if self._config.keyword:  # the platform refuses a message without it
            title = f"{self._config.keyword} · {title}"
        room = FEISHU_BODY_MAX - 2 * len(title.encode()) - 1024 - self._room
        text = digest_body(
            digest,
            language,
            in_house_name(self._config.in_house, language),
            limit=room,
            heading="**{}**",
        )
        card = {
            "msg_type": "interactive",
            "card": {
                "header": {"title": {"tag": "plain_text", "content": title}},
                "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": text}}],
            },
        }
        return [Request(self._destination, orjson.dumps(card), digest.events)]

    def classify(self, status: int, body: bytes) -> Outcome | Verdict:
        # Current bots answer {"code": 0, "msg": "success"}; older ones {"StatusCode": 0, ...}.
        return code_verdict(status, body, ("code", "StatusCode"), FEISHU_CODES)
