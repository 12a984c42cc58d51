"""A resolve for lack of data says so in every receiver's text, in its language.

The same event goes through each kind of the shipped example channels (Chinese)
plus Slack, an Alertmanager webhook and stdout (English or machine fields).
PagerDuty is the exception: a resolve there carries no text at all (only
``dedup_key`` closes the incident).
"""

from __future__ import annotations

import email
from dataclasses import replace
from email.message import Message

import orjson
import pytest

from alerts.model import AlertEvent
from alerts.receiver_config import build
from alerts.rules import parse_rules
from tests.alert_events import event
from tests.unit.alerts.receivers.test_example_channels import uncommented

ENV = {
    "ANNOTEL_FEISHU_WEBHOOK": "https://open.feishu.cn/open-apis/bot/v2/hook/0f9e8d7c-6b5a-4321",
    "ANNOTEL_FEISHU_SECRET": "feishu-signing-secret",
    "ANNOTEL_DINGTALK_WEBHOOK": "https://oapi.dingtalk.com/robot/send?access_token=0a1b2c3d4e5f",
    "ANNOTEL_DINGTALK_SECRET": "SEC0123456789abcdef",
    "ANNOTEL_WECOM_WEBHOOK": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=0a1b2c3d",
    "ANNOTEL_TEAMS_WEBHOOK": "https://prod.example.logic.azure.com/workflows/abc/triggers/x",
    "ANNOTEL_SMTP_USER": "alerts@example.com",
    "ANNOTEL_SMTP_PASSWORD": "smtp-password",
    "ANNOTEL_SLACK_WEBHOOK": "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX",
}
EXTRA = """
  slack: {type: slack, webhook_url_env: ANNOTEL_SLACK_WEBHOOK}
  am: {type: webhook, url: "http://127.0.0.1:9093/api/v2/alerts", format: alertmanager}
"""


def _text(body: bytes) -> str:
    """Everything a person could read in a request body (JSON or a MIME message)."""
    if body.startswith(b"{") or body.startswith(b"["):
        return orjson.dumps(orjson.loads(body)).decode()
    message = email.message_from_bytes(body)
    parts: list[str] = []
    for part in message.walk():
        if isinstance(part, Message) and not part.is_multipart():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                parts.append(payload.decode(part.get_content_charset() or "utf-8"))
    return "\n".join(parts)


def _resolved(reason: str | None) -> AlertEvent:
    return replace(event(status="resolved", value=None), resolved_reason=reason)


def _receivers() -> list[tuple[str, object]]:
    text = uncommented().replace("receivers:\n", "receivers:" + EXTRA, 1)
    ruleset = parse_rules(text)
    return [(name, build(name, config, ENV)) for name, config in ruleset.receivers.items()]


def test_the_example_file_gains_slack_and_webhook() -> None:
    names = [name for name, _ in _receivers()]
    assert {"slack", "am", "zh-feishu", "zh-dingtalk", "zh-wecom", "ops-teams", "zh-mail"} <= set(
        names
    )


@pytest.mark.parametrize(
    "name", ["slack", "am", "zh-feishu", "zh-dingtalk", "zh-wecom", "ops-teams", "zh-mail", "log"]
)
def test_every_receiver_says_a_resolve_was_for_lack_of_data(name: str) -> None:
    receiver = dict(_receivers())[name]
    bodies = [r.body for r in receiver.requests([_resolved("no_data")], {})]  # type: ignore[attr-defined]
    assert bodies
    text = "".join(_text(body) if name != "log" else body.decode() for body in bodies)
    assert (
        "因无数据而恢复" in text
        or "Resolved for lack of data" in text
        or (name == "log" and '"resolved_reason":"no_data"' in text)
    )
    plain = "".join(
        _text(r.body) if name != "log" else r.body.decode()
        for r in receiver.requests([_resolved(None)], {})  # type: ignore[attr-defined]
    )
    assert "因无数据而恢复" not in plain and "Resolved for lack of data" not in plain
