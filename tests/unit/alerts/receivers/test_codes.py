"""A 200 from a chat platform is delivered only with result code 0."""

from __future__ import annotations

import pytest

from alerts.receivers.base import Outcome, Verdict
from alerts.receivers.dingtalk import DingTalk, DingTalkReceiver
from alerts.receivers.email import Email, EmailReceiver
from alerts.receivers.feishu import Feishu, FeishuReceiver
from alerts.receivers.msteams import Teams, TeamsReceiver
from alerts.receivers.wecom import WeCom, WeComReceiver

ENV = {"URL": "https://robot.example/hook/tok"}


def verdict(result: Outcome | Verdict) -> tuple[Outcome, str | None, float | None]:
    if isinstance(result, Verdict):
        return result.outcome, result.reason, result.pause_s
    return result, None, None


FEISHU = Feishu.from_config("f", FeishuReceiver(type="feishu", url_env="URL"), ENV, "")
DINGTALK = DingTalk.from_config("d", DingTalkReceiver(type="dingtalk", url_env="URL"), ENV, "")
WECOM = WeCom.from_config("w", WeComReceiver(type="wecom", url_env="URL"), ENV, "")


@pytest.mark.parametrize(
    ("receiver", "status", "body", "outcome", "reason", "pause"),
    [
        (FEISHU, 200, b'{"code":0,"data":{},"msg":"success"}', Outcome.DELIVERED, None, None),
        (FEISHU, 200, b'{"StatusCode":0,"StatusMessage":"success"}', Outcome.DELIVERED, None, None),
        (FEISHU, 200, b'{"code":9499,"msg":"too many request"}', Outcome.THROTTLED, "9499", 60.0),
        (FEISHU, 200, b'{"code":11232,"msg":"frequency limited"}', Outcome.THROTTLED, "11232", 60),
        (FEISHU, 200, b'{"code":19021,"msg":"sign match fail"}', Outcome.REJECTED, "19021", None),
        (
            FEISHU,
            200,
            b'{"code":19024,"msg":"Key Words Not Found"}',
            Outcome.REJECTED,
            "keyword",
            None,
        ),
        (FEISHU, 200, b'{"code":12345}', Outcome.REJECTED, "code 12345", None),
        (FEISHU, 200, b"<html>proxy</html>", Outcome.REJECTED, "without a result code", None),
        (FEISHU, 429, b"", Outcome.THROTTLED, None, None),
        (FEISHU, 500, b"", Outcome.RETRY, None, None),
        (DINGTALK, 200, b'{"errcode":0,"errmsg":"ok"}', Outcome.DELIVERED, None, None),
        (
            DINGTALK,
            200,
            b'{"errcode":130101,"errmsg":"send too fast"}',
            Outcome.THROTTLED,
            "130101",
            600.0,
        ),
        (DINGTALK, 200, b'{"errcode":-1,"errmsg":"busy"}', Outcome.RETRY, "system busy", None),
        (
            DINGTALK,
            200,
            b'{"errcode":310000,"errmsg":"sign not match"}',
            Outcome.REJECTED,
            "310000",
            None,
        ),
        (
            DINGTALK,
            200,
            b'{"errcode":460101,"errmsg":"too long"}',
            Outcome.REJECTED,
            "too long",
            None,
        ),
        (WECOM, 200, b'{"errcode":0,"errmsg":"ok"}', Outcome.DELIVERED, None, None),
        (WECOM, 200, b'{"errcode":45009,"errmsg":"freq"}', Outcome.THROTTLED, "45009", 60.0),
        (WECOM, 200, b'{"errcode":40058,"errmsg":"exceed 4096"}', Outcome.REJECTED, "40058", None),
        (WECOM, 404, b"", Outcome.REJECTED, None, None),
    ],
)
def test_platform_codes(
    receiver: Feishu | DingTalk | WeCom,
    status: int,
    body: bytes,
    outcome: Outcome,
    reason: str | None,
    pause: float | None,
) -> None:
    got_outcome, got_reason, got_pause = verdict(receiver.classify(status, body))
    assert got_outcome is outcome
    assert got_pause == pause
    if reason is None:
        assert got_reason is None
    else:
        assert got_reason is not None and reason in got_reason
        assert "msg" not in got_reason and "sign not match" not in got_reason  # never reply text


def test_teams_and_email_classify_by_status() -> None:
    teams = Teams.from_config("t", TeamsReceiver(type="msteams", url_env="URL"), ENV, "")
    assert teams.classify(202, b"") is Outcome.DELIVERED
    assert teams.classify(429, b"") is Outcome.THROTTLED
    assert teams.classify(400, b"") is Outcome.REJECTED
    config = EmailReceiver.model_validate(
        {"type": "email", "smarthost": "127.0.0.1:25", "from": "a@example.com", "to": ["b@x.cn"]}
    )
    email = Email.from_config("e", config, {}, "")
    assert email.classify(250, b"OK") is Outcome.DELIVERED
    assert email.classify(451, b"try later") is Outcome.RETRY
    assert email.classify(535, b"bad login") is Outcome.REJECTED
