"""DingTalk custom robots: ``markdown`` (or ``actionCard`` with runbook buttons), signed when set.

Signing (``secret_env``, the robot's ``SEC...`` secret), DingTalk's scheme,
which is Feishu's mirror image: ``sign = urlencode(base64(HMAC-SHA256(
key=secret, msg=f"{timestamp_ms}\\n{secret}")))`` with the timestamp in
milliseconds, both in the query string, made for each attempt. Mentions go in
``at`` (``atMobiles``, ``atUserIds``, ``isAtAll``) and, as DingTalk requires
for the highlight, ``@mobile`` in the text too; an ``actionCard`` cannot
mention (a platform limit), so mentions need ``markdown``. A ``keyword`` is
put in every message's title and text.

Limits: 20 messages a minute per robot, past which DingTalk throttles the
robot for 10 minutes (errcode 130101): the robot's destination then pauses
10 minutes for every receiver posting there. A body is at most 20000 bytes; a
larger group is split into numbered messages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import quote_plus
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
from alerts.receivers.settings import (
    STRICT,
    ReceiverConfigError,
    Secret,
    env_secret,
    group_wait_s,
    redacted_host,
)
from alerts.receivers.split import split

DINGTALK_BODY_MAX = 20_000  # bytes (errcode 460101, earlier 101002, beyond)
DINGTALK_RATES = (Rate(20, 60.0),)
DINGTALK_BACKOFF_S = 600.0  # "send too fast": the robot is throttled for 10 minutes
DINGTALK_CODES: dict[int, Code] = {
    130101: Code("send too fast, throttled for 10 minutes", Outcome.THROTTLED, DINGTALK_BACKOFF_S),
    -1: Code("system busy", Outcome.RETRY),
    310000: Code("security check failed: signature, keyword or IP address"),
    300001: Code("access token invalid"),
    400102: Code("robot disabled"),
    460101: Code("message too long"),
    101002: Code("message too long"),
}
_TONE_COLOUR = {"red": "#D93026", "orange": "#ED7B00", "blue": "#1F6FEB", "green": "#1A7F37"}


class DingTalkReceiver(ChatSettings):
    model_config = STRICT
    type: Literal["dingtalk"]
    secret_env: str | None = None  # the robot's signing secret (加签), starts with SEC
    keyword: str | None = None  # the robot's custom keyword (自定义关键词)
    msgtype: Literal["markdown", "actionCard"] = "markdown"


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature, URL-encoded: HMAC of "timestamp_ms\\nsecret" keyed by the secret."""
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


@dataclass(frozen=True)
class DingTalkSigner:
    """Appends ``timestamp`` (milliseconds) and ``sign`` to the URL of each attempt."""

    secret: Secret

    def __call__(self, url: str, body: bytes, now: float) -> tuple[str, bytes]:
        timestamp_ms = int(now * 1000)
        sign = dingtalk_sign(self.secret.reveal(), timestamp_ms)
        joiner = "&" if "?" in url else "?"
        return f"{url}{joiner}timestamp={timestamp_ms}&sign={sign}", body


def _at_text(person: str, language: Language) -> str:
    if person == EVERYONE:
        return "@所有人" if language == "zh" else "@all"
    return f"@{person}"


@lru_cache(maxsize=ALERT_CACHE)
def _alert_markdown(alert: AlertText, language: Language, with_link: bool) -> str:
    words = WORDS[language]
    esc = md_literal
    colour = _TONE_COLOUR["green" if alert.status == "resolved" else "red"]
    scope = " · ".join(f"{esc(k)}={esc(v)}" for k, v in alert.scope) or words["scope_all"]
    lines = [
        f"**{esc(alert.rule)}** · "
        f'<font color="{colour}">{alert.severity_word} · {alert.state}</font>',
        esc(alert.summary),
        *(f"> {esc(line)}" for line in alert.details),
        f"- **{words['value']}**: {esc(alert.metric)} {alert.value}",
        f"- **{words['scope']}**: {scope}",
        f"- **{words['window']}**: {alert.window}",
        f"- **{words['since']}**: {alert.since}",
    ]
    if alert.until is not None:
        lines.append(f"- **{words['until']}**: {alert.until}")
    if with_link and alert.runbook:
        lines.append(f"[{words['runbook']}]({alert.runbook})")
    return "\n\n".join(lines)


def dingtalk_message(
    alerts: Sequence[AlertText],
    language: Language,
    tz: ZoneInfo,
    keyword: str | None = None,
    part: str = "",
    msgtype: Literal["markdown", "actionCard"] = "markdown",
) -> dict[str, Any]:
    """The body for some alerts of a group (unsigned: signing is in the URL)."""
    heading = title(alerts, language, part)
    if keyword:
        heading = f"{keyword} · {heading}"
    runbooks = list(dict.fromkeys(a.runbook for a in alerts if a.runbook))
    card = msgtype == "actionCard" and bool(runbooks)
    sections = [f"#### {md_literal(heading)}"]
    sections.extend(_alert_markdown(a, language, with_link=not card) for a in alerts)
    people = all_people(alerts) if not card else ()
    if people:
        sections.append(" ".join(_at_text(p, language) for p in people))
    sections.append(f"###### {footer(language, tz)}")
    text = "\n\n---\n\n".join(sections[:-1]) + "\n\n" + sections[-1]
    if card:
        words = WORDS[language]
        action: dict[str, Any] = {"title": heading, "text": text}
        if len(runbooks) == 1:
            action.update(singleTitle=words["runbook"], singleURL=runbooks[0])
        else:
            action["btnOrientation"] = "0"
            action["btns"] = [
                {"title": f"{words['runbook']} {i}", "actionURL": url}
                for i, url in enumerate(runbooks, start=1)
            ]
        return {"msgtype": "actionCard", "actionCard": action}
    at: dict[str, Any] = {
        "atMobiles": [p for p in people if is_mobile(p)],
        "atUserIds": [p for p in people if p != EVERYONE and not is_mobile(p)],
        "isAtAll": EVERYONE in people,
    }
    return {"msgtype": "markdown", "markdown": {"title": heading, "text": text}, "at": at}


def _secret(name: str, config: DingTalkReceiver, env: Mapping[str, str]) -> Secret | None:
    if config.secret_env is None:
        return None
    secret = env_secret(env, config.secret_env, name)
    if not secret.reveal().startswith("SEC"):
        raise ReceiverConfigError(
            f"receiver {name!r}: the value of {config.secret_env} is not a DingTalk signing "
            "secret (those start with SEC)"
        )
    return secret


class DingTalk:
    """A DingTalk group's custom robot; URL and signing secret from the environment."""

    one_event_per_message = False
    uses_http = True

    def __init__(
        self,
        name: str,
        config: DingTalkReceiver,
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
        signer = DingTalkSigner(secret) if secret is not None else None
        self._destination = HttpPost(url, DINGTALK_RATES, signer)

    @classmethod
    def check(cls, name: str, config: DingTalkReceiver, env: Mapping[str, str] | None) -> None:
        check_chat(name, config, env, config.keyword)
        if env is not None:
            _secret(name, config, env)

    @classmethod
    def from_config(
        cls, name: str, config: DingTalkReceiver, env: Mapping[str, str], external_url: str
    ) -> DingTalk:
        tz = check_chat(name, config, None, config.keyword)
        url = webhook_url(name, config, env)
        return cls(name, config, url, _secret(name, config, env), group_wait_s(name, config), tz)

    def requests(
        self, events: Sequence[AlertEvent], group_labels: Mapping[str, str]
    ) -> list[Request]:
        config = self._config
        texts = [
            alert_text(e, config.language, self._tz, config.mentions, config.in_house)
            for e in events
        ]

        def render(alerts: Sequence[AlertText], part: str) -> tuple[bytes, int]:
            message = dingtalk_message(
                alerts, config.language, self._tz, config.keyword, part, config.msgtype
            )
            body = orjson.dumps(message)
            return body, len(body)

        messages = split(
            texts, render, DINGTALK_BODY_MAX, lambda i, n: part_label(config.language, i, n)
        )
        return [
            Request(self._destination, body, tuple(events[i] for i in indices))
            for indices, body in messages
        ]

    def digest_requests(self, digest: Digest) -> list[Request]:
        language = self._config.language
        title = digest_title(digest, language, self._tz)
        if self._config.keyword:  # the platform refuses a message without it
            title = f"{self._config.keyword} · {title}"
        room = DINGTALK_BODY_MAX - 2 * len(title.encode()) - 512
        text = f"### {title}\n\n" + digest_body(
            digest,
            language,
            in_house_name(self._config.in_house, language),
            limit=room,
            heading="#### {}",
        )
        payload = {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
        return [Request(self._destination, orjson.dumps(payload), digest.events)]

    def classify(self, status: int, body: bytes) -> Outcome | Verdict:
        return code_verdict(status, body, ("errcode",), DINGTALK_CODES)
