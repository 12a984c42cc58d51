"""Every receiver kind renders a digest as one message: its title and its list.

Built from rules-file entries by the worker's own ``build``; what goes over the
wire is decoded as the platform would read it.
"""

from __future__ import annotations

import email
from email.policy import SMTP
from typing import Any

import orjson
import pytest

from alerts.digest import DigestBook
from alerts.receiver_config import build
from alerts.rules import rules_from_data
from tests.alert_events import T0, event
from tests.rule_files import rule

URL = "https://hooks.example/T000/B000/digest"
ENV = {"HOOK": URL}
KINDS: dict[str, dict[str, Any]] = {
    "slack": {"type": "slack", "webhook_url_env": "HOOK"},
    "json": {"type": "webhook", "url_env": "HOOK", "format": "json"},
    "alertmanager": {"type": "webhook", "url_env": "HOOK", "format": "alertmanager"},
    "stdout": {"type": "stdout"},
    "feishu": {"type": "feishu", "url_env": "HOOK", "language": "zh"},
    "dingtalk": {"type": "dingtalk", "url_env": "HOOK", "language": "zh"},
    "wecom": {"type": "wecom", "url_env": "HOOK", "language": "zh"},
    "msteams": {"type": "msteams", "url_env": "HOOK"},
    "email": {
        "type": "email",
        "smarthost": "127.0.0.1:2525",
        "tls": "none",
        "from": "alerts@example.com",
        "to": ["cm@example.com"],
    },
}


def receivers(name: str) -> Any:
    """The rules file's ``receivers:`` with this kind as a digest receiver."""
    return rules_from_data(
        {
            "version": 1,
            "rules": [rule(receivers=[name])],
            "receivers": {name: {**KINDS[name], "digest": {"every": "1h"}}},
        }
    ).receivers


def digest_for(name: str) -> Any:
    book = DigestBook.from_receivers(receivers(name))
    fired = [event(vendor="甲", value=0.6, receivers=(name,)), event(vendor="", receivers=(name,))]
    (digest,) = book.collect(fired, int(T0.timestamp()) + 3600)
    return digest


def text_of(name: str, body: bytes) -> str:
    if name == "email":
        message = email.message_from_bytes(body, policy=SMTP)
        part = message.get_body(("plain",))
        assert part is not None
        return str(message["Subject"]) + "\n" + part.get_content()
    return orjson.dumps(orjson.loads(body)).decode()


@pytest.mark.parametrize("name", list(KINDS))
def test_every_kind_sends_a_digest_as_one_message(name: str) -> None:
    receiver = build(name, receivers(name)[name], ENV)
    digest = digest_for(name)
    (request,) = receiver.digest_requests(digest)
    assert request.events == digest.events and len(digest.events) == 2
    text = text_of(name, request.body)
    for alert in digest.events:
        assert alert.rule in text
    assert "甲" in text
    if name in ("json", "stdout"):
        assert orjson.loads(request.body)["digest"]["digest_id"] == digest.digest_id
    elif name == "alertmanager":
        assert len(orjson.loads(request.body)["alerts"]) == 2
    else:
        zh = name in ("feishu", "dingtalk", "wecom")
        assert ("新触发 2" if zh else "2 fired") in text
        assert ("自有团队" if zh else "in-house") in text  # the empty vendor, by name
    if name != "stdout":
        assert request.destination is not None
