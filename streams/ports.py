"""The worker's ports: what the processor and the alert stage need from the outside world.

The stream logic is written against these Protocols, not against Kafka,
Faust or ClickHouse clients: ``streams.faust_app`` plugs in the real ones
(the app's producer, ``sinks.writer.ClickHouseWriter``, ``streams.recovery``),
the tests plug in recording doubles (``streams.testing``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sinks.batches import RejectedRow

# (topic, partition or None for the key's, key, value): what a Publisher produces.
Outgoing = tuple[str, int | None, bytes | None, bytes]


@dataclass(frozen=True, slots=True)
class Message:
    """A consumed record, as the alert stage's agent hands it on."""

    topic: str
    partition: int
    offset: int
    value: bytes | None


class Record(Protocol):
    """What the processor reads of a message (aiokafka's ConsumerRecord has it)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...


class Sink(Protocol):
    """ClickHouse, as the checkpoint protocol writes to it (``streams.checkpoint``, step 1)."""

    def write(
        self,
        batches: Mapping[str, Sequence[Sequence[Any]]],
        *,
        rejectable: Collection[str] = (),
    ) -> Sequence[RejectedRow]:
        """Store every row, or return those of ``rejectable`` tables refused for their values.

        Called on the worker's ClickHouse thread, one call at a time, with rows
        that are idempotent to write again. The real writer retries transient
        failures for as long as it takes; an exception aborts the checkpoint
        and stops the processor or alert stage (a restart replays from the
        last state record that landed).
        """
        ...


class Publisher(Protocol):
    """The broker, as the checkpoint protocol produces to it (steps 2 and 3)."""

    async def publish(self, records: list[Outgoing]) -> list[int]:
        """Produce the records and wait until the broker stored every one of them.

        Returns the offsets they got, in order (-1 where the broker did not
        say). Called by the checkpoint protocol, in order, one batch at a
        time; an exception aborts the checkpoint like a failed write.
        """
        ...


# The checkpoint records of a partition from its latest full snapshot on, and
# that snapshot's offset on the state topic (``streams.recovery.state_loader``).
LoadState = Callable[[int], Awaitable[tuple[list[dict[str, Any]], int]]]
# Move a consumer's position on (topic, partition) to offset: the gap guard's way back.
Seek = Callable[[str, int, int], Awaitable[None]]
