"""Every receiver kind, by the ``type:`` of its entry in the rules file.

The one place a new kind is added: its module's settings model joins the
``ReceiverConfig`` union (which pydantic validates ``receivers:`` entries
against) and its class joins ``KINDS`` (which the dispatcher and the checks
look a ``type`` up in).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from alerts.receivers.base import ReceiverKind
from alerts.receivers.dingtalk import DingTalk, DingTalkReceiver
from alerts.receivers.email import Email, EmailReceiver
from alerts.receivers.feishu import Feishu, FeishuReceiver
from alerts.receivers.msteams import Teams, TeamsReceiver
from alerts.receivers.pagerduty import PagerDuty, PagerDutyReceiver
from alerts.receivers.slack import Slack, SlackReceiver
from alerts.receivers.stdout import Stdout, StdoutReceiver
from alerts.receivers.webhook import Webhook, WebhookReceiver
from alerts.receivers.wecom import WeCom, WeComReceiver

ReceiverConfig = Annotated[
    WebhookReceiver
    | SlackReceiver
    | PagerDutyReceiver
    | StdoutReceiver
    | FeishuReceiver
    | DingTalkReceiver
    | WeComReceiver
    | TeamsReceiver
    | EmailReceiver,
    Field(discriminator="type"),
]

KINDS: dict[str, ReceiverKind] = {
    "webhook": Webhook,
    "slack": Slack,
    "pagerduty": PagerDuty,
    "stdout": Stdout,
    "feishu": Feishu,
    "dingtalk": DingTalk,
    "wecom": WeCom,
    "msteams": Teams,
    "email": Email,
}
