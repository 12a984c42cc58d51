"""The dead-letter topic into ``dlq_events``: what the ``annotel-dead-letters`` agent does.

Dead letters are produced to their topic by whoever finds them (the
processor, ``annotel ingest``, the gateway) and stored here, so that the
table has every one of them whichever process wrote it. The agent acks a
batch only after ``store`` returned, i.e. after its rows are durable; a
redelivered batch writes the same rows again (``dlq_events`` is a
ReplacingMergeTree on the dead letter's id).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from concurrent.futures import Executor

from schemas.deadletter import DeadLetter
from streams.ports import Record, Sink
from streams.rows import dlq_row, refused_dlq_row


class DeadLetterStore:
    """Writes batches of the dead-letter topic to ``dlq_events`` and says how far it got."""

    def __init__(self, sink: Sink, executor: Executor) -> None:
        self.sink = sink
        self.executor = executor  # the worker's ClickHouse thread
        self.rows = 0  # dlq_events rows stored
        self.positions: dict[int, int] = {}  # partition -> next offset stored

    async def store(self, messages: Sequence[Record]) -> None:
        """Store one batch; returns once its rows are durable (the caller acks after)."""
        loop = asyncio.get_running_loop()
        rows = []
        for message in messages:
            try:
                letter = DeadLetter.from_json(message.value or b"")
            except ValueError:
                letter = DeadLetter.build(
                    message.value or b"",
                    "invalid_json",
                    "the dead-letter topic held a message that is not a dead letter",
                    topic=message.topic,
                    partition=message.partition,
                    offset=message.offset,
                )
            rows.append(dlq_row(letter, message.partition, message.offset))
        refused = await loop.run_in_executor(
            self.executor,
            functools.partial(self.sink.write, {"dlq_events": rows}, rejectable=("dlq_events",)),
        )
        if refused:  # a letter its columns cannot hold: stored as one that says so
            by_position = {(m.partition, m.offset): m for m in messages}
            replacements = []
            for rejected in refused:
                # The row ends with dlq_partition, dlq_offset: the message it came from.
                message = by_position[(rejected.values[-2], rejected.values[-1])]
                replacements.append(refused_dlq_row(rejected, message.value or b"", message.topic))
            await loop.run_in_executor(
                self.executor,
                functools.partial(self.sink.write, {"dlq_events": replacements}),
            )
        self.rows += len(rows)
        for message in messages:
            position = self.positions.get(message.partition, 0)
            self.positions[message.partition] = max(position, message.offset + 1)
