"""Publish a JSON-lines file of events to the input topics.

Each line is validated with the same decoder the stream uses: valid lines go
to the topic of their ``event_type`` keyed by ``project_id`` (the partitioning
contract: all events of a project share a partition, so per-project state is
local to one worker); invalid lines go to the dead-letter topic with their
reason. Every non-blank line ends up in exactly one of the two.

The publishing loop is library code (``annotel ingest``, ``annotel simulate``
and the demo's feed call it); showing progress is the caller's.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from schemas import DecodeError, Decoder
from streams.settings import Settings


@dataclass
class IngestResult:
    published: int = 0
    dead_lettered: int = 0
    blank: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)
    by_topic: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "dead_lettered": self.dead_lettered,
            "blank": self.blank,
            "by_reason": dict(sorted(self.by_reason.items())),
            "by_topic": dict(sorted(self.by_topic.items())),
        }


def read_lines(stream: IO[bytes]) -> Iterator[bytes]:
    for line in stream:
        yield line.rstrip(b"\r\n")


def paced(lines: Iterable[bytes], rate: float | None) -> Iterator[bytes]:
    """Yield ``lines`` no faster than ``rate`` per second of wall-clock time."""
    if rate is None:
        yield from lines
        return
    began = time.monotonic()
    for number, line in enumerate(lines):
        delay = began + number / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield line


# Called with the running result after each batch the broker acknowledged, and
# once more at the end with ``final=True`` (the command line's progress display).
Progress = Callable[[IngestResult, bool], None]


def ingest(
    settings: Settings,
    lines: Iterable[bytes],
    *,
    producer: Any,
    progress: Progress | None = None,
) -> IngestResult:
    decoder = Decoder(settings.max_event_bytes, settings.max_future_skew)
    topics = {
        "task_completed": settings.topic_task_completed,
        "task_audited": settings.topic_task_audited,
        # Snapshots share the completed-tasks topic (docs/architecture.md, "Delivery").
        "queue_status": settings.topic_task_completed,
    }
    result = IngestResult()
    pending: list[tuple[Any, str, str | None]] = []

    def settle() -> None:
        for future, topic, reason in pending:
            future.get(timeout=60)  # raises if the broker did not store it
            if reason is None:
                result.published += 1
            else:
                result.dead_lettered += 1
                result.by_reason[reason] += 1
            result.by_topic[topic] += 1
        pending.clear()

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            result.blank += 1
            continue
        decoded = decoder.decode(line, datetime.now(UTC))
        if isinstance(decoded, DecodeError):
            letter = decoded.to_dead_letter(line, producer="ingest")
            letter = letter.model_copy(update={"message": f"line {number}: {letter.message}"})
            key = decoded.project_id.encode() if decoded.project_id else None
            future = producer.send(settings.topic_dlq, key=key, value=letter.to_json())
            pending.append((future, settings.topic_dlq, decoded.reason))
        else:
            topic = topics[decoded.event_type]
            future = producer.send(topic, key=decoded.project_id.encode(), value=line)
            pending.append((future, topic, None))
        if len(pending) >= 5000:
            producer.flush()
            settle()
            if progress is not None:
                progress(result, False)
    producer.flush()
    settle()
    if progress is not None:
        progress(result, True)
    return result
