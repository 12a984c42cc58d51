"""Slack: the message people read on a phone, within Block Kit's limits."""

from __future__ import annotations

import orjson
import pytest

from alerts.receivers.settings import ReceiverConfigError
from alerts.receivers.slack import SLACK_MAX_BLOCKS, Slack, SlackReceiver, slack_message
from tests.alert_events import event


def test_slack_message_stays_within_block_limits() -> None:
    events = [event(vendor=f"供应商{i}", minute=i) for i in range(120)]
    message = slack_message(events)
    assert len(message["blocks"]) == SLACK_MAX_BLOCKS
    assert message["blocks"][-1]["elements"][0]["text"] == "+72 more alerts not shown"
    resolved = slack_message([event(status="resolved")])
    assert ":white_check_mark:" in resolved["blocks"][1]["text"]["text"]


def test_a_group_is_one_message_to_the_webhook_whose_url_is_never_shown() -> None:
    url = "https://hooks.slack.example/services/T0/B0/Xq9secretpath"
    config = SlackReceiver(type="slack", webhook_url_env="SLACK_URL", group_wait="5s")
    slack = Slack.from_config("zh-slack", config, {"SLACK_URL": url}, "")
    events = [event(vendor="供应商甲"), event(vendor="供应商乙")]
    [request] = slack.requests(events, {"rule": "vendor_quality_low"})
    assert request.url is not None and request.url.reveal() == url
    assert orjson.loads(request.body) == slack_message(events)
    assert request.events == tuple(events)
    assert (slack.kind, slack.target, slack.group_wait_s) == ("slack", "hooks.slack.example", 5.0)
    assert "secretpath" not in repr(request) + repr(slack.__dict__)


def test_the_webhook_url_comes_from_the_environment_and_is_checked() -> None:
    config = SlackReceiver(type="slack", webhook_url_env="SLACK_URL")
    Slack.check("zh-slack", config, None)  # --no-env: nothing to read
    with pytest.raises(ReceiverConfigError, match="SLACK_URL is not set"):
        Slack.check("zh-slack", config, {})
    with pytest.raises(ReceiverConfigError, match="the value of SLACK_URL is not an http"):
        Slack.from_config("zh-slack", config, {"SLACK_URL": "hooks.slack.example/x"}, "")
