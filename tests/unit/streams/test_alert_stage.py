"""The alert stage's I/O shell: snapshots every few steps, crashes, recoveries and replays.

A scripted broker holds the windows, alert-state and alerts topics and the
alerts table; the runtime under test must publish the same alerts, once each,
and end in the same state as a full snapshot after every batch (the behaviour
before step records).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping
from typing import Any

import orjson
import pytest

from alerts import stage
from alerts.handoff import encode_reports
from streams import alert_stage
from streams.alert_stage import AlertRuntime
from streams.ports import Message
from streams.statelog import base_of, decode_checkpoints, encode_checkpoint
from tests.alert_windows import IDLE, STREAM_MINUTES, STREAM_RULES, T0, windows_topic

# -- the runtime: snapshots every few steps, crashes, replays ----------------------------------


class Crash(Exception):
    pass


class Broker:
    """The windows, alert-state and alerts topics, the alerts table, and a consumer position."""

    def __init__(self, windows: list[bytes]) -> None:
        self.topics: dict[str, list[bytes]] = {"windows": windows, "state": [], "alerts": []}
        self.table: list[list[Any]] = []
        self.position = 0
        self.crash_on_state_write: int | None = None  # the n-th state write raises

    async def publish(
        self, records: list[tuple[str, int | None, bytes | None, bytes]]
    ) -> list[int]:
        offsets = []
        for topic, _partition, _key, value in records:
            if topic == "state":
                if self.crash_on_state_write == 0:
                    raise Crash
                if self.crash_on_state_write is not None:
                    self.crash_on_state_write -= 1
            self.topics[topic].append(value)
            offsets.append(len(self.topics[topic]) - 1)
        return offsets

    def write(self, batches: Mapping[str, Any]) -> None:
        self.table += batches["alerts"]

    def runtime(self, max_steps: int) -> AlertRuntime:
        async def read_topic(topic: str) -> list[bytes]:
            return list(self.topics[topic])

        async def read_state() -> list[bytes]:  # as streams.recovery: from the last record's base
            state = self.topics["state"]
            return state[base_of(state[-1]) :] if state else []

        async def seek(topic: str, partition: int, offset: int) -> None:
            self.position = offset

        async def run_blocking(fn: Any) -> None:
            fn()

        return AlertRuntime(
            rules=STREAM_RULES,
            partitions=4,
            sink=self,
            publisher=self,
            dispatcher=None,
            read_topic=read_topic,
            read_state=read_state,
            seek=seek,
            run_blocking=run_blocking,
            windows_topic="windows",
            state_topic="state",
            alerts_topic="alerts",
            snapshot_interval_s=math.inf,
            snapshot_max_steps=max_steps,
        )

    async def deliver(self, runtime: AlertRuntime, end: int) -> None:
        """The windows topic from the consumer position up to ``end``, as one batch."""
        windows = self.topics["windows"]
        start, self.position = self.position, end
        await runtime.process(
            [Message("windows", 0, offset, windows[offset]) for offset in range(start, end)]
        )

    def alerts(self) -> list[str]:
        return [orjson.loads(value)["event_id"] for value in self.topics["alerts"]]

    def rows(self) -> list[list[Any]]:
        return [row[:13] + row[14:] for row in self.table]  # without emitted_at


async def run_straight(
    records: list[bytes], ends: list[int], max_steps: int
) -> tuple[Broker, AlertRuntime, list[int]]:
    """One worker, no crash; also how many alerts were out after each batch."""
    broker = Broker(records)
    runtime = broker.runtime(max_steps)
    await runtime.recover()
    counts = []
    for end in ends:
        await broker.deliver(runtime, end)
        counts.append(len(broker.topics["alerts"]))
    return broker, runtime, counts


async def test_windows_batching_matters_for_idle_partitions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The stream below is sensitive to where evaluation happens (late minutes of an idle
    partition count or not), so the replay tests check that recovery evaluates where the
    crashed run did, not merely that batching never matters."""
    records, rounds = windows_topic(monkeypatch)
    per_round, _, _ = await run_straight(records, rounds, max_steps=0)
    all_at_once, _, _ = await run_straight(records, [len(records)], max_steps=0)
    assert per_round.alerts() != all_at_once.alerts()


async def recover_and_replay(
    broker: Broker, rng: random.Random, until: int, max_steps: int
) -> AlertRuntime:
    """A new worker: recover, then the windows topic up to ``until`` in random batches."""
    runtime = broker.runtime(max_steps)
    await runtime.recover()
    while broker.position < until:
        await broker.deliver(runtime, min(until, broker.position + rng.randint(1, 40)))
    return runtime


@pytest.mark.parametrize("seed", range(4))
async def test_sparse_snapshots_crash_and_replay_like_every_batch_snapshots(
    monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """Full snapshot every 5 steps, crashes at random batch ends and in the middle of a
    batch (alerts out, state record not), recovery, replay in other batches: the same
    alerts, each published once, the same table rows and the same final state as a full
    snapshot after every batch (the behaviour before)."""
    records, rounds = windows_topic(monkeypatch)
    monkeypatch.setattr(stage, "PUBLISHED_KEPT", 3)  # trimming must not lose the guard
    rng = random.Random(seed)
    ends = sorted({*rounds, *rng.sample(range(1, len(records)), 30)})  # uneven batches
    expected, reference, counts = await run_straight(records, ends, max_steps=0)
    assert len(expected.alerts()) == len(set(expected.alerts())) > 10

    broker = Broker(records)
    runtime = broker.runtime(max_steps=5)
    await runtime.recover()
    crashes = set(rng.sample(range(len(ends)), 8))
    alerting_batches = [i for i in range(1, len(ends)) if counts[i] > counts[i - 1]]
    torn = set(rng.sample(alerting_batches, 3))  # batches that publish alerts, then crash
    done = 0  # windows offset every processed batch reached
    for i, end in enumerate(ends):
        if i in torn:
            broker.crash_on_state_write = 0
            with pytest.raises(Crash):
                await broker.deliver(runtime, end)
            broker.crash_on_state_write = None
            assert len(broker.topics["alerts"]) == counts[i]  # its alerts went out
            runtime = await recover_and_replay(broker, rng, done, max_steps=5)
            await broker.deliver(runtime, end)  # the torn batch again, as it came
        else:
            await broker.deliver(runtime, end)
        done = end
        if i in crashes:
            runtime = await recover_and_replay(broker, rng, done, max_steps=5)
    assert broker.alerts() == expected.alerts()
    assert broker.rows() == expected.rows()
    assert runtime.stage.evaluator.state() == reference.stage.evaluator.state()
    kinds = Counter(r.get("kind", "full") for r in decode_checkpoints(broker.topics["state"]))
    assert kinds["step"] > 3 * kinds["full"] > 0


async def test_recovery_reads_old_full_snapshots_and_replays_from_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A state topic written before step records existed (a full snapshot per batch, no
    ``kind``) is recovered from as before."""
    records, rounds = windows_topic(monkeypatch)
    expected, _, _ = await run_straight(records, rounds, max_steps=0)
    broker = Broker(records)
    runtime = broker.runtime(max_steps=0)
    await runtime.recover()
    for end in rounds[:40]:
        await broker.deliver(runtime, end)
    old = [orjson.loads(v.partition(b"\n")[2]) for v in broker.topics["state"]]
    broker.topics["state"] = [
        chunk
        for record in old
        for chunk in encode_checkpoint({k: v for k, v in record.items() if k != "kind"})
    ]
    runtime = broker.runtime(max_steps=5)
    await runtime.recover()
    assert broker.position == rounds[39]
    for end in rounds[40:]:
        await broker.deliver(runtime, end)
    assert broker.alerts() == expected.alerts()


async def test_replay_evaluates_where_the_crashed_worker_did(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Crash right after partition 3's late minutes; the last full snapshot is from before
    it went idle, and the whole replay arrives as one batch. The recorded steps make the
    recovered worker evaluate round by round as the crashed one did; without them (the
    control) it evaluates once, counts the late minutes and publishes other alerts."""
    records, rounds = windows_topic(monkeypatch)
    expected, _, _ = await run_straight(records, rounds, max_steps=0)
    crash_after = IDLE[-1] + 1  # the round with partition 3's late minutes

    async def crash_and_replay() -> Broker:
        broker = Broker(records)
        runtime = broker.runtime(max_steps=10)  # full snapshots at rounds 0, 11, ..., 77, 88
        await runtime.recover()
        for end in rounds[: crash_after + 1]:
            await broker.deliver(runtime, end)
        runtime = broker.runtime(max_steps=10)
        await runtime.recover()
        assert broker.position == rounds[77] < rounds[IDLE[0]]
        await broker.deliver(runtime, rounds[crash_after])  # the replay, in one batch
        for end in rounds[crash_after + 1 :]:
            await broker.deliver(runtime, end)
        return broker

    replayed = await crash_and_replay()
    assert replayed.alerts() == expected.alerts()
    assert replayed.rows() == expected.rows()

    latest_snapshot = alert_stage.latest_snapshot
    monkeypatch.setattr(alert_stage, "latest_snapshot", lambda r: (latest_snapshot(r)[0], []))
    control = await crash_and_replay()
    assert control.alerts() != expected.alerts()


async def test_a_full_snapshot_when_every_partition_falls_idle(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The end of a bounded run (every partition idle) leaves a full snapshot at the end of
    the windows topic: a restart replays nothing."""
    records, rounds = windows_topic(monkeypatch)
    end = T0 + STREAM_MINUTES * 60
    records += [r for p in range(4) for r in encode_reports(p, end, True, [])]
    broker = Broker(records)
    runtime = broker.runtime(max_steps=50)
    await runtime.recover()
    for batch_end in [*rounds, len(records)]:
        await broker.deliver(runtime, batch_end)
    last = decode_checkpoints(broker.topics["state"])[-1]
    assert last.get("kind") == "full" and last["offset"] == len(records)
    restarted = broker.runtime(max_steps=50)
    await restarted.recover()
    assert broker.position == len(records) and not restarted.replay
