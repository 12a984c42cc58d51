"""The dead-letter topic into dlq_events: every message a row, the unstorable one replaced."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from schemas.deadletter import DeadLetter
from sinks.batches import RejectedRow
from streams.dead_letters import DeadLetterStore
from streams.ports import Message
from streams.testing import RecordingSink

LETTER = DeadLetter.build(
    b'{"event_type": 1}', "invalid_field", "event_type: not a string", topic="in", offset=3
)


class RefusingSink(RecordingSink):
    """Refuses the dlq_events row of the message at ``refused_offset`` (its last column)."""

    def __init__(self, refused_offset: int) -> None:
        super().__init__()
        self.refused_offset = refused_offset

    def write(
        self,
        batches: Mapping[str, Sequence[Sequence[Any]]],
        *,
        rejectable: Collection[str] = (),
    ) -> list[RejectedRow]:
        super().write(batches, rejectable=rejectable)
        return [
            RejectedRow("dlq_events", list(row), "Value too large")
            for row in batches["dlq_events"]
            if "dlq_events" in rejectable and row[-1] == self.refused_offset
        ]


async def test_every_message_becomes_a_row_and_positions_follow() -> None:
    sink = RecordingSink()
    store = DeadLetterStore(sink, ThreadPoolExecutor(1))
    await store.store([Message("dlq", 1, 7, LETTER.to_json()), Message("dlq", 1, 8, b"not json")])
    (batch,) = sink.rows
    rows = batch["dlq_events"]
    assert [(row[1], row[-2], row[-1]) for row in rows] == [
        ("invalid_field", 1, 7),
        ("invalid_json", 1, 8),  # not a dead letter: stored as one that says so
    ]
    assert rows[0][0] == LETTER.dead_letter_id
    assert (store.rows, store.positions) == (2, {1: 9})


async def test_a_row_the_table_refuses_is_replaced_by_one_that_keeps_the_bytes() -> None:
    sink = RefusingSink(refused_offset=8)
    store = DeadLetterStore(sink, ThreadPoolExecutor(1))
    await store.store([Message("dlq", 0, 7, LETTER.to_json()), Message("dlq", 0, 8, b"\xff")])
    first, replacement = sink.rows
    assert len(first["dlq_events"]) == 2
    (row,) = replacement["dlq_events"]
    assert row[1] == "unprocessable" and "Value too large" in row[2]
    assert row[4] == b"\xff" and (row[-2], row[-1]) == (0, 8)
    assert (store.rows, store.positions) == (2, {0: 9})
