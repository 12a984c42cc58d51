"""Generic webhooks: plain JSON or the Alertmanager v4 body, to a URL given or from the env."""

from __future__ import annotations

import orjson
import pytest

from alerts.receivers.settings import ReceiverConfigError
from alerts.receivers.webhook import Webhook, WebhookReceiver, alertmanager_payload, json_payload
from tests.alert_events import event

URL = "http://127.0.0.1:9093/api/v2/alerts?token=Tk9secret"


def test_json_and_alertmanager_bodies_for_one_group() -> None:
    events = [event(vendor="供应商甲"), event(vendor="供应商乙")]
    labels = {"rule": "vendor_quality_low", "project_id": "医疗影像"}
    plain = Webhook.from_config("hook", WebhookReceiver(type="webhook", url=URL), {}, "")
    [request] = plain.requests(events, labels)
    assert orjson.loads(request.body) == json_payload(events)
    assert request.events == tuple(events)
    assert request.url is not None and request.url.reveal() == URL
    assert (plain.kind, plain.target) == ("webhook/json", "127.0.0.1:9093")

    config = WebhookReceiver(type="webhook", url=URL, format="alertmanager")
    am = Webhook.from_config("am", config, {}, "http://annotel.example")
    [request] = am.requests(events, labels)
    expected = alertmanager_payload(events, "am", labels, "http://annotel.example")
    assert orjson.loads(request.body) == expected
    assert am.kind == "webhook/alertmanager"


def test_exactly_one_of_url_and_url_env() -> None:
    for config in (
        WebhookReceiver(type="webhook"),
        WebhookReceiver(type="webhook", url=URL, url_env="HOOK_URL"),
    ):
        with pytest.raises(ReceiverConfigError, match="set exactly one of url and url_env"):
            Webhook.check("hook", config, None)
    from_env = WebhookReceiver(type="webhook", url_env="HOOK_URL")
    Webhook.check("hook", from_env, None)  # --no-env: the value is not read
    with pytest.raises(ReceiverConfigError, match="HOOK_URL is not set"):
        Webhook.check("hook", from_env, {})
    hook = Webhook.from_config("hook", from_env, {"HOOK_URL": URL}, "")
    assert hook.target == "127.0.0.1:9093"
