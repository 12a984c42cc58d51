"""The processor between the intake and the state: odd records and overlapped checkpoints.

The sink and publisher here record what they are given (``streams.testing``;
the real ones are exercised end to end in tests/e2e); these tests pin the
processor's own rules.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from schemas.decode import ContractDecoder
from streams.partition import PartitionState
from streams.ports import Message
from streams.processor import YIELD_EVERY, CheckpointFailed, Processor
from streams.statelog import decode_checkpoints
from streams.testing import Recorder
from tests.oracle import generate

TOPIC = "annotation.task-completed"


def processor(recorder: Recorder, snapshot_every: int = 200) -> Processor:
    async def load_state(partition: int) -> tuple[list[dict[str, Any]], int]:
        return [], 0

    async def seek(topic: str, partition: int, offset: int) -> None:
        return None

    return Processor(
        decoder=ContractDecoder(),
        sink=recorder,
        publisher=recorder,
        load_state=load_state,
        seek=seek,
        state_topic="state",
        dlq_topic="dlq",
        lateness_s=120,
        retention_s=48 * 3600,
        idle_timeout_s=30,
        live=False,
        input_topics=(TOPIC,),
        snapshot_every=snapshot_every,
    )


async def test_a_tombstone_becomes_a_dead_letter_and_processing_goes_on() -> None:
    recorder = Recorder()
    proc = processor(recorder)
    line = generate(seed=3, count=50).lines[0]
    await proc.process([Message(TOPIC, 0, 0, None), Message(TOPIC, 0, 1, line)])
    await proc.checkpoint()
    letters = [orjson.loads(v) for t, _, _, v in recorder.records if t == "dlq"]
    assert [(d["reason"], d["source_offset"]) for d in letters] == [("invalid_json", 0)]
    assert proc.totals()["events_in"] == 2
    assert proc.states[0].offsets[TOPIC] == 2


async def test_checkpoints_are_written_in_order_while_the_next_batch_is_processed() -> None:
    recorder = Recorder()
    proc = processor(recorder)
    lines = generate(seed=4, count=400).lines
    recorder.gate.clear()  # the first flush cannot publish yet
    await proc.process([Message(TOPIC, 0, i, v) for i, v in enumerate(lines[:200])])
    await proc.checkpoint(wait=False)
    for _ in range(1000):  # the flush thread picks the checkpoint up
        if recorder.rows:
            break
        await asyncio.sleep(0.01)
    # The next batch is processed while the first checkpoint is still in flight.
    await proc.process([Message(TOPIC, 0, 200 + i, v) for i, v in enumerate(lines[200:])])
    assert recorder.records == [] and len(recorder.rows) == 1
    second = asyncio.ensure_future(proc.checkpoint())
    await asyncio.sleep(0.05)
    assert len(recorder.rows) == 1  # prepared only once the first flush finished
    recorder.gate.set()
    await second
    states = decode_checkpoints(v for t, _, _, v in recorder.records if t == "state")
    assert [s["offsets"][TOPIC] for s in states] == [200, len(lines)]
    assert proc.durable_offsets[0][TOPIC] == len(lines)


async def test_a_failed_flush_stops_the_processor() -> None:
    recorder = Recorder(fail_after=1)
    proc = processor(recorder)
    lines = generate(seed=5, count=20).lines
    await proc.process([Message(TOPIC, 0, 0, lines[0])])
    await proc.checkpoint()
    await proc.process([Message(TOPIC, 0, 1, lines[1])])
    await proc.checkpoint(wait=False)
    with pytest.raises(CheckpointFailed):
        await proc.checkpoint()
    # Its changes already left the state: nothing more may be processed or written.
    with pytest.raises(CheckpointFailed):
        await proc.process([Message(TOPIC, 0, 2, lines[2])])
    assert len([r for r in recorder.records if r[0] == "state"]) == 1


async def test_one_full_snapshot_per_checkpoint_and_each_rebuilds_its_partition() -> None:
    recorder = Recorder()
    proc = processor(recorder, snapshot_every=3)
    lines = generate(seed=6, count=1200).lines
    offsets = [0, 0, 0, 0]
    fulls_per_checkpoint = []
    for start in range(0, len(lines), 60):
        batch = []
        for i, line in enumerate(lines[start : start + 60]):
            partition = (start + i) % 4  # every partition changes at every checkpoint
            batch.append(Message(TOPIC, partition, offsets[partition], line))
            offsets[partition] += 1
        await proc.process(batch)
        before = len(recorder.records)
        await proc.checkpoint()
        written = decode_checkpoints(v for t, _, _, v in recorder.records[before:] if t == "state")
        fulls_per_checkpoint.append(sum(1 for r in written if r.get("full")))
    # The four partitions reach the interval together; their snapshots are spread out.
    assert max(fulls_per_checkpoint) == 1
    assert sum(fulls_per_checkpoint) >= 4
    for partition, live in proc.states.items():
        log = [v for t, p, _, v in recorder.records if t == "state" and p == partition]
        records = decode_checkpoints(log)
        last_full = max(i for i, r in enumerate(records) if r.get("full"))
        assert len(records) - last_full <= 3 + 4  # the interval, plus waiting for the others
        rebuilt = PartitionState(partition, live.lateness_us, live.retention_us)
        for record in records[last_full:]:
            rebuilt.apply_delta(record)
        assert dict(rebuilt.windows.items()) == dict(live.windows.items())
        assert dict(rebuilt.errors.items()) == dict(live.errors.items())
        assert rebuilt.seen == live.seen
        assert (rebuilt.counters, rebuilt.offsets) == (live.counters, live.offsets)
        assert rebuilt.closed_before == live.closed_before


async def test_a_large_batch_lets_the_event_loop_serve_other_tasks() -> None:
    """/health and /metrics share the loop: a batch must not hold it from start to end."""
    recorder = Recorder()
    proc = processor(recorder)
    lines = generate(seed=6, count=3_500).lines
    ticks = 0
    done = False

    async def other_task() -> None:
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0)

    other = asyncio.ensure_future(other_task())
    await asyncio.sleep(0)
    before = ticks
    await proc.process([Message(TOPIC, 0, i, v) for i, v in enumerate(lines)])
    during = ticks - before
    done = True
    await other
    assert proc.totals()["events_in"] == len(lines)
    # At least one turn of the other task per YIELD_EVERY messages.
    assert during >= len(lines) // YIELD_EVERY
