"""Receivers' secrets read from the environment become unprintable in the worker's process."""

from __future__ import annotations

from alerts.dispatch import Dispatcher
from alerts.receivers.pagerduty import PagerDutyReceiver
from alerts.receivers.slack import SlackReceiver
from schemas.redact import redact

WEBHOOK = "https://hooks.slack.example/services/T0/B0/Xq9webhookpath"
ROUTING_KEY = "Rk7routingkey0123456789"


def test_webhook_url_and_routing_key_are_registered_with_the_redactor() -> None:
    Dispatcher(
        {
            "slack": SlackReceiver(type="slack", webhook_url_env="SLACK_URL"),
            "pd": PagerDutyReceiver(type="pagerduty", routing_key_env="PD_KEY"),
        },
        {"SLACK_URL": WEBHOOK, "PD_KEY": ROUTING_KEY},
    )
    text = f"Task exception: ClientConnectorError({WEBHOOK}) while sending {ROUTING_KEY}"
    assert redact(text) == "Task exception: ClientConnectorError(***) while sending ***"
