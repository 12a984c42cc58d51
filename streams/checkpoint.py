"""The checkpoint protocol: the one order in which the worker writes what its state produced.

The input processor (``streams.processor``) and the alert stage
(``streams.alert_stage``) both turn changes of their state into rows in
ClickHouse, records on Kafka and notifications, and a crash can come between
any two of those writes. Both take a checkpoint out of their state in one step
and hand it to ``Checkpoint.commit``, which writes it in one order, the same
for both.

``Checkpoint.commit`` numbers the steps. An exception at any step ends the
commit there: nothing after it is written, and the caller stops (a restart
replays from the last state record that landed). docs/architecture.md,
*Why the numbers stay exact* and *Alerts*, holds the argument.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sinks.batches import RejectedRow
from streams.ports import Outgoing, Publisher

Rows = Mapping[str, Sequence[Sequence[Any]]]
# Step 1's writer: store every row, return those of ``rejectable`` tables refused
# for their values (``Sink.write`` on the worker's ClickHouse thread).
WriteRows = Callable[[Rows, Collection[str]], Awaitable[Sequence[RejectedRow]]]


@dataclass
class Checkpoint:
    """One checkpoint's writes, taken out of the state in one step, and their order."""

    rows: Rows | None = None  # step 1 (None: no write at all)
    rejectable: Collection[str] = ()  # tables whose refused rows become dead letters
    refused: Callable[[Sequence[RejectedRow]], list[Outgoing]] | None = None  # their letters
    dead_letters: list[Outgoing] = field(default_factory=list)  # step 2, first
    outputs: list[Outgoing] = field(default_factory=list)  # step 2, then
    # Step 3: the chunks, or how to build them when their turn comes (off the loop).
    state: list[Outgoing] | Callable[[], Awaitable[list[Outgoing]]] = field(default_factory=list)
    # Step 3, done: the offsets the chunks got, and the seconds steps 1 to 3 took.
    on_state: Callable[[list[int], float], None] | None = None
    after: Callable[[], Awaitable[None]] | None = None  # step 4

    def __post_init__(self) -> None:
        assert self.refused is not None or not self.rejectable, "refused rows need letters"

    async def commit(self, write_rows: WriteRows, publisher: Publisher) -> None:
        """Write the checkpoint, in this order; a step with nothing to write is skipped.

        1. Rows to ClickHouse, and wait until they are stored. Idempotent: rows have
           deterministic keys, and windows carry versions that grow across restarts,
           so a replay rewrites them with the same or newer values. Rows of
           ``rejectable`` tables that ClickHouse refuses for their values come back
           and become dead letters (step 2).
        2. Derived records, one batch after the other, each stored by the broker
           before the next: dead letters first, then the outputs (the closed-window
           reports for alerting, or the alert events). Idempotent for their readers:
           a dead letter's id is deterministic (``dlq_events`` keeps one), a closed
           window counts only under the attempt its mark names, an alert id already
           on the topic is skipped on replay.
        3. The state record (a checkpoint record, or the alert stage's snapshot or
           step record), in chunks, with the input offsets it covers: what makes
           steps 1 and 2 count. Once it is stored, a restart resumes after it; a crash
           before replays from the previous record and does steps 1 and 2 again. Its
           owner then learns the offsets the chunks got (where the latest snapshot
           starts) and how long steps 1 to 3 took.
        4. Side effects, which must follow the record: handing the closed windows on
           within the process, counting, logging, submitting alerts to the
           receivers. Guarded against repeats: a restart never redoes them for what
           a state record already covers, nor for alerts already on the topic (the
           replay guard), so a crash before them can lose a notification but never
           doubles one.

        An exception at any step ends the commit there: nothing after it is written.
        """
        started = time.monotonic()
        # Step 1. Rows to ClickHouse; the refused ones come back.
        refused: Sequence[RejectedRow] = ()
        if self.rows is not None:
            refused = await write_rows(self.rows, self.rejectable)
        # Step 2. Derived records: dead letters (refused rows' included), then outputs.
        dead_letters = self.dead_letters
        if refused and self.refused is not None:
            dead_letters = [*dead_letters, *self.refused(refused)]
        if dead_letters:
            await publisher.publish(dead_letters)
        if self.outputs:
            await publisher.publish(self.outputs)
        # Step 3. The state record that makes them count; then its owner's bookkeeping.
        chunks = self.state if isinstance(self.state, list) else await self.state()
        offsets = await publisher.publish(chunks) if chunks else []
        if self.on_state is not None:
            self.on_state(offsets, time.monotonic() - started)
        # Step 4. Side effects, guarded against repeats; never before the record.
        if self.after is not None:
            await self.after()
