"""PagerDuty: one request per event, to the configured URL, with the routing key from the env."""

from __future__ import annotations

import orjson
import pytest

from alerts.receivers.pagerduty import PagerDuty, PagerDutyReceiver, pagerduty_event
from alerts.receivers.settings import ReceiverConfigError
from tests.alert_events import event

KEY = "Rk7routingkey0123456789"


def test_every_event_is_its_own_request_and_never_waits() -> None:
    config = PagerDutyReceiver(type="pagerduty", routing_key_env="PD_KEY", group_wait="30s")
    pd = PagerDuty.from_config("oncall", config, {"PD_KEY": KEY}, "http://annotel.example")
    events = [event(vendor="供应商甲"), event(vendor="供应商乙", status="resolved")]
    requests = pd.requests(events, {})
    assert [r.events for r in requests] == [(e,) for e in events]
    for request, e in zip(requests, events, strict=True):
        assert request.url is not None
        assert request.url.reveal() == "https://events.pagerduty.com/v2/enqueue"
        assert orjson.loads(request.body) == pagerduty_event(e, KEY, "http://annotel.example")
    assert pd.one_event_per_message
    assert (pd.kind, pd.target) == ("pagerduty", "events.pagerduty.com")


def test_the_routing_key_is_checked_only_where_the_environment_is_read() -> None:
    config = PagerDutyReceiver(type="pagerduty", routing_key_env="PD_KEY")
    PagerDuty.check("oncall", config, None)
    with pytest.raises(ReceiverConfigError, match="PD_KEY is not set"):
        PagerDuty.check("oncall", config, {"PD_KEY": "  "})
    bad_url = PagerDutyReceiver(type="pagerduty", routing_key_env="PD_KEY", url="ftp://pd")
    with pytest.raises(ReceiverConfigError, match="'oncall': url is not an http"):
        PagerDuty.check("oncall", bad_url, None)
