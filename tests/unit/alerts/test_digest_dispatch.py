"""The dispatcher and a digest receiver: alerts routed there are not sent one by one, the
period's digest is sent once even if handed over twice."""

from __future__ import annotations

import io

import orjson

from alerts.digest import DigestBook
from alerts.dispatch import Dispatcher
from alerts.rules import rules_from_data
from tests.alert_events import T0, event
from tests.rule_files import rule


async def test_alerts_wait_for_the_digest_which_goes_out_once() -> None:
    receivers = rules_from_data(
        {
            "version": 1,
            "rules": [rule(receivers=["managers", "log"])],
            "receivers": {
                "managers": {"type": "stdout", "digest": {"every": "1h"}, "group_wait": "0s"},
                "log": {"type": "stdout", "group_wait": "0s"},
            },
        }
    ).receivers
    out = io.StringIO()
    dispatcher = Dispatcher(receivers, {}, stdout=out)
    await dispatcher.start()
    alert = event(receivers=("managers", "log"))
    dispatcher.submit(alert)  # to "log" now; to "managers" only in the digest
    (digest,) = DigestBook.from_receivers(receivers).collect([alert], int(T0.timestamp()) + 3600)
    dispatcher.submit_digest(digest)
    dispatcher.submit_digest(digest)  # handed over twice: accepted once
    assert await dispatcher.close() == {}
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    digests = [line["digest"] for line in lines if "digest" in line]
    alerts = [line for line in lines if "digest" not in line]  # the lanes run apart
    assert [a["event_id"] for a in alerts] == [alert.event_id]
    assert [[a["event_id"] for a in d["fired"]] for d in digests] == [[alert.event_id]]
    stats = dispatcher.stats()
    assert (stats["managers"].sent, stats["managers"].messages) == (1, 1)
    assert stats["managers"].duplicates == 1
    assert (stats["log"].sent, stats["log"].messages) == (1, 1)
