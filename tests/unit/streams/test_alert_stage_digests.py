"""Digests through the alert stage's I/O shell: crashes and replays hand each period's
digest to the receivers once, with the same content as a run without a crash.

The scripted broker of ``test_alert_stage``; the rules send quality alerts to a
digest receiver (``tests.unit.alerts.test_digest.digest_rules``) and a recording
dispatcher stands in for the receivers.
"""

from __future__ import annotations

import math
import random
from typing import Any, cast

import pytest

from alerts.digest import Digest
from alerts.dispatch import Dispatcher
from alerts.model import AlertEvent
from streams.alert_stage import AlertRuntime
from tests.alert_windows import windows_topic
from tests.unit.alerts.test_digest import digest_rules
from tests.unit.streams.test_alert_stage import Broker, Crash, recover_and_replay


class Receivers:
    """What the dispatcher was handed, in order."""

    def __init__(self) -> None:
        self.digests: list[dict[str, Any]] = []
        self.events: list[str] = []

    def submit(self, event: AlertEvent) -> None:
        self.events.append(event.event_id)

    def submit_digest(self, digest: Digest) -> None:
        self.digests.append(digest.to_dict())


class DigestBroker(Broker):
    def __init__(self, windows: list[bytes]) -> None:
        super().__init__(windows)
        self.receivers = Receivers()

    def runtime(self, max_steps: int) -> AlertRuntime:
        runtime = super().runtime(max_steps)
        rules = digest_rules()
        return AlertRuntime(
            rules=rules,
            partitions=4,
            sink=self,
            publisher=self,
            dispatcher=cast(Dispatcher, self.receivers),
            read_topic=runtime.read_topic,
            read_state=runtime.read_state,
            seek=runtime.seek,
            run_blocking=runtime.run_blocking,
            windows_topic="windows",
            state_topic="state",
            alerts_topic="alerts",
            snapshot_interval_s=math.inf,
            snapshot_max_steps=max_steps,
        )


STEPS = 20  # full snapshots this far apart: replays long enough to cover period ends


@pytest.mark.parametrize("seed", range(4))
async def test_crashes_and_replays_send_each_digest_once(
    monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    records, rounds = windows_topic(monkeypatch)
    rng = random.Random(seed)
    ends = sorted({*rounds, *rng.sample(range(1, len(records)), 30)})

    straight = DigestBroker(records)
    runtime = straight.runtime(max_steps=0)
    await runtime.recover()
    for end in ends:
        await straight.deliver(runtime, end)
    expected = straight.receivers.digests
    assert len(expected) >= 3

    broker = DigestBroker(records)
    runtime = broker.runtime(max_steps=STEPS)
    await runtime.recover()
    crashes = set(rng.sample(range(len(ends)), 16))
    torn = set(rng.sample(range(1, len(ends)), 6))  # state record never written
    done = 0
    replayed = 0
    for i, end in enumerate(ends):
        if i in torn:
            broker.crash_on_state_write = 0
            with pytest.raises(Crash):
                await broker.deliver(runtime, end)
            broker.crash_on_state_write = None
            replayed += runtime.digests_replayed
            runtime = await recover_and_replay(broker, rng, done, max_steps=STEPS)
            await broker.deliver(runtime, end)
        else:
            await broker.deliver(runtime, end)
        done = end
        if i in crashes:
            replayed += runtime.digests_replayed
            runtime = await recover_and_replay(broker, rng, done, max_steps=STEPS)
    replayed += runtime.digests_replayed
    assert broker.receivers.digests == expected  # none lost, none twice, same content
    assert replayed > 0  # some were rebuilt by a replay and, rightly, not sent again
