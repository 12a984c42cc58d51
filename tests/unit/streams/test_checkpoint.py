"""The checkpoint protocol: one order, steps skipped when empty, nothing after a failure."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import orjson
import pytest

from schemas.decode import ContractDecoder
from sinks.batches import RejectedRow
from streams.checkpoint import Checkpoint, Rows
from streams.ports import Message, Outgoing
from streams.processor import Processor
from streams.statelog import decode_checkpoints
from streams.testing import Recorder
from tests.oracle import generate
from tests.unit.streams.test_processor import TOPIC

REFUSED = RejectedRow("task_events", ["e-7"], "Value out of range")


class Log:
    """A sink, a publisher and the checkpoint's callbacks, writing one log of what happened."""

    def __init__(self, fail_at: str | None = None, refuse: bool = False) -> None:
        self.log: list[Any] = []
        self.fail_at = fail_at
        self.refuse = refuse

    def _step(self, entry: Any) -> None:
        if entry[0] == self.fail_at:
            raise ConnectionError(f"injected: {entry[0]}")
        self.log.append(entry)

    async def write_rows(self, rows: Rows, rejectable: Collection[str]) -> Sequence[RejectedRow]:
        self._step(("rows", sorted(rows), tuple(rejectable)))
        return [REFUSED] if self.refuse else []

    async def publish(self, records: list[Outgoing]) -> list[int]:
        self._step((records[0][0], [value for *_, value in records]))
        return list(range(len(records)))

    def refused(self, rows: Sequence[RejectedRow]) -> list[Outgoing]:
        return [("dlq", None, None, b"refused " + row.values[0].encode()) for row in rows]

    async def state(self) -> list[Outgoing]:
        self._step(("build state",))
        return [("state", 0, None, b"chunk 0"), ("state", 0, None, b"chunk 1")]

    def on_state(self, offsets: list[int], seconds: float) -> None:
        assert seconds >= 0
        self._step(("recorded", offsets))

    async def after(self) -> None:
        self._step(("after",))

    def checkpoint(self, **fields: Any) -> Checkpoint:
        return Checkpoint(
            rows={"metrics_1m": [[1]], "task_events": [["e-1"]]},
            rejectable=("task_events",),
            refused=self.refused,
            dead_letters=[("dlq", None, None, b"letter")],
            outputs=[("windows", 0, None, b"report")],
            state=self.state,
            on_state=self.on_state,
            after=self.after,
            **fields,
        )


async def test_the_steps_run_in_order_and_refused_rows_join_the_dead_letters() -> None:
    log = Log(refuse=True)
    await log.checkpoint().commit(log.write_rows, log)
    assert log.log == [
        ("rows", ["metrics_1m", "task_events"], ("task_events",)),  # 1
        ("dlq", [b"letter", b"refused e-7"]),  # 2, dead letters first
        ("windows", [b"report"]),  # 2, then the outputs
        ("build state",),  # 3, built only when its turn comes
        ("state", [b"chunk 0", b"chunk 1"]),
        ("recorded", [0, 1]),
        ("after",),  # 4
    ]


@pytest.mark.parametrize(
    ("fail_at", "written"),
    [("rows", 0), ("dlq", 1), ("windows", 2), ("state", 4), ("recorded", 5), ("after", 6)],
)
async def test_a_failed_step_writes_nothing_after_it(fail_at: str, written: int) -> None:
    log = Log(fail_at=fail_at)
    with pytest.raises(ConnectionError):
        await log.checkpoint().commit(log.write_rows, log)
    assert len(log.log) == written
    assert [entry[0] for entry in log.log] == [
        "rows",
        "dlq",
        "windows",
        "build state",
        "state",
        "recorded",
    ][:written]


async def test_empty_steps_are_skipped_and_the_owner_still_hears_of_step_3() -> None:
    log = Log()
    await Checkpoint(on_state=log.on_state, after=log.after).commit(log.write_rows, log)
    assert log.log == [("recorded", []), ("after",)]  # no write, no publish


async def test_the_processor_writes_through_the_protocol_in_its_order() -> None:
    """Rows, then the dead letter, then the closed-window reports, then the state record."""
    recorder = Recorder()

    async def no_state(partition: int) -> tuple[list[dict[str, Any]], int]:
        return [], 0

    async def no_seek(topic: str, partition: int, offset: int) -> None:
        return None

    proc = Processor(
        decoder=ContractDecoder(),
        sink=recorder,
        publisher=recorder,
        load_state=no_state,
        seek=no_seek,
        state_topic="state",
        dlq_topic="dlq",
        lateness_s=120,
        retention_s=48 * 3600,
        idle_timeout_s=30,
        live=False,
        input_topics=(TOPIC,),
        windows_topic="windows",
    )
    lines = generate(seed=8, count=40).lines
    await proc.process([Message(TOPIC, 0, 0, None)])  # a tombstone: a dead letter
    await proc.process([Message(TOPIC, 0, i + 1, line) for i, line in enumerate(lines)])
    await proc.checkpoint(close_all=True)
    assert len(recorder.rows) == 1
    topics = [topic for topic, *_ in recorder.records]
    assert topics == sorted(topics, key=["dlq", "windows", "state"].index)
    assert topics[0] == "dlq" and topics[-1] == "state" and "windows" in topics
    (record,) = decode_checkpoints(v for t, _, _, v in recorder.records if t == "state")
    assert record["offsets"] == {TOPIC: len(lines) + 1}
    assert orjson.loads(recorder.records[0][3])["reason"] == "invalid_json"
    assert proc.closed_windows > 0 and proc.durable_offsets == {0: {TOPIC: len(lines) + 1}}
