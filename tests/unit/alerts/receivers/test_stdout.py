"""Standard output: one line per event, nothing over HTTP."""

from __future__ import annotations

import orjson

from alerts.receivers.stdout import Stdout, StdoutReceiver
from tests.alert_events import event


def test_one_message_of_one_line_per_event_that_decodes_to_the_event() -> None:
    stdout = Stdout.from_config("log", StdoutReceiver(type="stdout", group_wait="0s"), {}, "")
    events = [event(vendor="供应商甲"), event(vendor="供应商乙\u202e", status="resolved")]
    [request] = stdout.requests(events, {})
    assert request.url is None and request.events == tuple(events)
    lines = request.body.decode().splitlines()
    assert [orjson.loads(line) for line in lines] == [e.to_dict() for e in events]
    assert "\u202e" not in request.body.decode()  # shown as an escape, not obeyed
    assert not stdout.uses_http and stdout.target == "stdout"
