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
from alerts.receivers.pagerduty import PagerDuty, PagerDutyReceiver
from alerts.receivers.slack import Slack, SlackReceiver
from alerts.receivers.stdout import Stdout, StdoutReceiver
from alerts.receivers.webhook import Webhook, WebhookReceiver

ReceiverConfig = Annotated[
    WebhookReceiver | SlackReceiver | PagerDutyReceiver | StdoutReceiver,
    Field(discriminator="type"),
]

KINDS: dict[str, ReceiverKind] = {
    "webhook": Webhook,
    "slack": Slack,
    "pagerduty": PagerDuty,
    "stdout": Stdout,
}
