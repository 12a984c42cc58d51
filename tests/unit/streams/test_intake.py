"""The intake around the processor: a failed checkpoint in a rebalance crashes it; timer
checkpoints with nothing read are not batches."""

from __future__ import annotations

import pytest
from aiokafka import TopicPartition

from streams.intake import Intake
from streams.ports import Message
from streams.processor import CheckpointFailed, Processor
from streams.settings import Settings
from streams.testing import Recorder
from tests.oracle import generate
from tests.unit.streams.test_processor import TOPIC, processor


def intake(proc: Processor) -> Intake:
    """The input consumer around ``proc``, never started: no consumer, no group."""
    return Intake(Settings(_env_file=None), proc, group_id="test.input", flavor="tansu")


async def test_a_failed_flush_on_revoke_crashes_the_intake() -> None:
    """aiokafka swallows a rebalance listener's exception: the intake itself must crash.

    Otherwise a partition assigned again keeps a state whose last changes never
    landed, and the worker carries on without them.
    """
    recorder = Recorder(fail_after=1)
    proc = processor(recorder)
    reader = intake(proc)
    lines = generate(seed=6, count=20).lines
    await proc.on_assigned({0})
    await proc.process([Message(TOPIC, 0, 0, lines[0])])
    await proc.checkpoint()
    await proc.process([Message(TOPIC, 0, 1, lines[1])])
    with pytest.raises(CheckpointFailed):
        await reader.revoked([TopicPartition(TOPIC, 0)])
    assert reader.crashed
    assert isinstance(reader.crash_reason, CheckpointFailed)
    await proc.on_assigned({0})
    with pytest.raises(CheckpointFailed):
        await proc.process([Message(TOPIC, 0, 2, lines[2])])
    with pytest.raises(CheckpointFailed):
        await proc.checkpoint()
    assert len([r for r in recorder.records if r[0] == "state"]) == 1


async def test_timer_checkpoints_of_an_idle_worker_are_not_batches() -> None:
    """``annotel_batches_total`` counts batches that carried messages, not timer ticks."""
    proc = processor(Recorder())
    reader = intake(proc)
    for _ in range(3):
        await reader.checkpoint()  # the 1 s checkpoint timer, nothing read
    assert proc.stats["batches"] == 0
    assert proc.stats["batch_ms_total"] == 0
    lines = generate(seed=7, count=20).lines
    await proc.process([Message(TOPIC, 0, i, v) for i, v in enumerate(lines[:3])])
    reader.unflushed = 3  # what the read loop counts after processing them
    await reader.checkpoint()
    await reader.checkpoint()
    assert (proc.stats["batches"], proc.stats["batch_events"]) == (1, 3)
