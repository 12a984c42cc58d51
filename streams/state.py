"""The state of one input partition: dedup horizon, windows, watermark, offsets.

Pure and I/O-free. Everything the worker knows about a partition lives here
and is persisted as one checkpoint record (see ``delta``), together with the
input offsets it covers, so state, offsets and what was emitted can never
disagree after a crash: recovery replays the records and resumes reading at
exactly the recorded offsets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from schemas.deadletter import DeadLetter
from schemas.decode import DecodeError
from schemas.events import TaskAudited, TaskCompleted
from schemas.metrics import WINDOW_SECONDS
from streams.windows import (
    MICRO,
    Aggregate,
    WindowKey,
    apply_audited,
    apply_completed,
    epoch_us,
    key_of,
    new_aggregate,
)

MINUTE_US = WINDOW_SECONDS * MICRO
ErrorKey = tuple[WindowKey, str]


@dataclass(slots=True)
class Accepted:
    """An accepted event with its Kafka coordinates, waiting to be written out."""

    event: TaskCompleted | TaskAudited
    topic: str
    partition: int
    offset: int


@dataclass
class ClosedWindow:
    """A minute whose aggregates are final for alerting (the watermark passed its end)."""

    partition: int
    window_start: int
    aggregates: dict[WindowKey, Aggregate]


@dataclass
class PartitionState:
    partition: int
    lateness_us: int
    retention_us: int
    offsets: dict[str, int] = field(default_factory=dict)  # topic -> next offset to read
    # The watermark's base: only grows, moved by ``advance`` (see there) and the idle rule.
    max_event_us: int | None = None
    topic_max: dict[str, int] = field(default_factory=dict)  # topic -> newest event time read
    closed_before: int = 0  # window starts below this (epoch s) have been closed
    version: int = 0  # last row version written for this partition
    seq: int = 0  # checkpoint sequence number
    snapshot_base: int = 0  # state-log offset of the latest full snapshot (0: none)
    since_snapshot: int = 0  # checkpoint records written after it
    windows: dict[WindowKey, Aggregate] = field(default_factory=dict)
    # window start -> its keys: closing and eviction touch only the minutes concerned
    # instead of scanning every window held (the state holds 48 h of them).
    by_minute: dict[int, list[WindowKey]] = field(default_factory=dict)
    errors: dict[ErrorKey, int] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    seen_by_minute: dict[int, list[str]] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)
    # Changes since the last checkpoint.
    dirty_windows: set[WindowKey] = field(default_factory=set)
    dirty_errors: set[ErrorKey] = field(default_factory=set)
    new_seen: list[tuple[int, str]] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    counters_dirty: bool = False

    # -- watermark ---------------------------------------------------------------

    @property
    def watermark_us(self) -> int | None:
        if self.max_event_us is None:
            return None
        return self.max_event_us - self.lateness_us

    @property
    def horizon_us(self) -> int | None:
        """Events older than this are beyond the retention horizon (too_late)."""
        watermark = self.watermark_us
        return None if watermark is None else watermark - self.retention_us

    # -- processing --------------------------------------------------------------

    def process(
        self,
        decoded: TaskCompleted | TaskAudited | DecodeError,
        raw: bytes,
        topic: str,
        offset: int,
    ) -> str:
        """Classify and apply one message; returns accepted/duplicate/late/dead."""
        self.offsets[topic] = offset + 1
        self.counters["events_in"] += 1
        self.counters_dirty = True
        if isinstance(decoded, DecodeError):
            self._dead(decoded, raw, topic, offset)
            return "dead"
        event = decoded
        dedup_key = f"{event.project_id}\x1f{event.event_id}"
        if dedup_key in self.seen:
            self.counters["duplicates"] += 1
            return "duplicate"
        occurred_us = epoch_us(event.occurred_at)
        horizon = self.horizon_us
        if horizon is not None and occurred_us < horizon:
            self._dead(
                DecodeError(
                    "too_late",
                    "occurred_at: older than the retention horizon "
                    f"({self.retention_us // MICRO}s behind the watermark)",
                    "occurred_at",
                    event.event_type,
                    event.project_id,
                    event.event_id,
                ),
                raw,
                topic,
                offset,
            )
            return "dead"
        minute = occurred_us // MINUTE_US
        self.seen.add(dedup_key)
        self.seen_by_minute.setdefault(minute, []).append(dedup_key)
        self.new_seen.append((minute, dedup_key))
        if occurred_us > self.topic_max.get(topic, -1):
            self.topic_max[topic] = occurred_us
        key = key_of(event, occurred_us)
        agg = self.windows.get(key)
        if agg is None:
            agg = self.windows[key] = new_aggregate()
            self.by_minute.setdefault(key[0], []).append(key)
        if isinstance(event, TaskCompleted):
            apply_completed(agg, event, occurred_us)
        else:
            apply_audited(agg, event)
            for category in event.error_categories:
                error_key = (key, category)
                self.errors[error_key] = self.errors.get(error_key, 0) + 1
                self.dirty_errors.add(error_key)
        self.dirty_windows.add(key)
        self.accepted.append(Accepted(event, topic, self.partition, offset))
        self.counters["accepted"] += 1
        if key[0] < self.closed_before:
            self.counters["late"] += 1
            return "late"
        return "accepted"

    def _dead(self, error: DecodeError, raw: bytes, topic: str, offset: int) -> None:
        self.dead_letters.append(
            error.to_dead_letter(raw, topic=topic, partition=self.partition, offset=offset)
        )
        self.counters[f"dead_{error.reason}"] += 1

    # -- closing and eviction -------------------------------------------------------

    def move_watermark(self, behind: Collection[str] = ()) -> None:
        """Move the watermark base from what each input topic has shown so far.

        Both input topics share this partition's state but are read at
        different speeds. A topic still ``behind`` its high-water mark holds
        the watermark at its own newest event time (its backlog may hold
        older events than the other topic shows); a behind topic with nothing
        read yet holds it where it is. Caught-up topics hold nothing: their
        next events are as new as anything seen. Without this, a fast topic
        would close windows a lagging topic is still filling and turn its
        events into corrections.
        """
        if not self.topic_max:
            return
        if any(topic not in self.topic_max for topic in behind):
            return
        lagging = [self.topic_max[topic] for topic in behind]
        candidate = min(lagging) if lagging else max(self.topic_max.values())
        if self.max_event_us is None or candidate > self.max_event_us:
            self.max_event_us = candidate
            self.counters_dirty = True

    def advance(self, close_all: bool = False) -> list[ClosedWindow]:
        """Close the windows the watermark passed (or all, when the input is drained).

        Returns the newly closed minutes in window order; each is handed to
        alert evaluation exactly once because ``closed_before`` only grows and
        is checkpointed with the rest.
        """
        if close_all:
            self.move_watermark()
        watermark = self.watermark_us
        target = self.closed_before
        if watermark is not None:
            target = max(target, watermark // MINUTE_US * WINDOW_SECONDS)
        if close_all and self.by_minute:
            target = max(target, max(self.by_minute) + WINDOW_SECONDS)
        closed: dict[int, dict[WindowKey, Aggregate]] = {}
        if target > self.closed_before:
            for start in [m for m in self.by_minute if self.closed_before <= m < target]:
                closed[start] = {key: list(self.windows[key]) for key in self.by_minute[start]}
            self.closed_before = target
            self.counters_dirty = True
        self.evict()
        return [ClosedWindow(self.partition, start, closed[start]) for start in sorted(closed)]

    def evict(self) -> None:
        """Forget what can no longer change: windows and dedup marks behind the horizon."""
        horizon = self.horizon_us
        if horizon is None:
            return
        horizon_minute = horizon // MINUTE_US
        for minute in [m for m in self.seen_by_minute if m < horizon_minute]:
            for dedup_key in self.seen_by_minute.pop(minute):
                self.seen.discard(dedup_key)
        horizon_s = horizon_minute * WINDOW_SECONDS
        # Unwritten (dirty) windows stay until the next checkpoint has written them.
        stale: list[WindowKey] = []
        for start in [m for m in self.by_minute if m < horizon_s]:
            keys = self.by_minute[start]
            keep = [k for k in keys if k in self.dirty_windows]
            stale.extend(k for k in keys if k not in self.dirty_windows)
            if keep:
                self.by_minute[start] = keep
            else:
                del self.by_minute[start]
        for key in stale:
            del self.windows[key]
        if stale:
            for error_key in [
                k for k in self.errors if k[0][0] < horizon_s and k not in self.dirty_errors
            ]:
                del self.errors[error_key]

    def advance_idle(self, now_us: int, live_threshold_us: int) -> bool:
        """Let an idle partition's watermark follow the wall clock, if its data is live.

        Only when the newest event time is within ``live_threshold_us`` of the
        wall clock: replayed history never gets its windows closed (or its
        events turned into too_late) by the clock.
        """
        if self.max_event_us is None or now_us - self.max_event_us > live_threshold_us:
            return False
        if now_us <= self.max_event_us:
            return False
        self.max_event_us = now_us
        self.counters_dirty = True
        return True

    # -- checkpoints ------------------------------------------------------------------

    @property
    def has_changes(self) -> bool:
        return bool(
            self.counters_dirty
            or self.dirty_windows
            or self.dirty_errors
            or self.new_seen
            or self.accepted
            or self.dead_letters
        )

    def next_version(self, now_us: int) -> int:
        """Row versions grow across restarts: a replay always supersedes a stale write."""
        self.version = max(self.version + 1, now_us)
        return self.version

    def delta(self) -> dict[str, Any]:
        """The checkpoint record: everything that changed, plus offsets and clock."""
        return {
            "p": self.partition,
            "seq": self.seq + 1,
            "offsets": dict(self.offsets),
            "max_us": self.max_event_us,
            "topic_max": dict(self.topic_max),
            "closed_before": self.closed_before,
            "version": self.version,
            "counters": dict(self.counters),
            "seen": self.new_seen,
            "windows": [[*k, *self.windows[k]] for k in self.dirty_windows if k in self.windows],
            "errors": [
                [*k[0], k[1], self.errors[k]] for k in self.dirty_errors if k in self.errors
            ],
        }

    def full_record(self) -> dict[str, Any]:
        """A delta that holds everything: replaying from it alone rebuilds this state."""
        record = self.delta()
        record["seen"] = [[m, k] for m, keys in self.seen_by_minute.items() for k in keys]
        record["windows"] = [[*k, *agg] for k, agg in self.windows.items()]
        record["errors"] = [[*k[0], k[1], n] for k, n in self.errors.items()]
        record["full"] = True
        return record

    def mark_checkpointed(self) -> None:
        self.seq += 1
        self.dirty_windows.clear()
        self.dirty_errors.clear()
        self.new_seen = []
        self.accepted = []
        self.dead_letters = []
        self.counters_dirty = False

    def apply_delta(self, record: dict[str, Any]) -> None:
        """Recovery: apply one checkpoint record, as the live state did when writing it."""
        self.seq = record["seq"]
        self.offsets = dict(record["offsets"])
        self.max_event_us = record["max_us"]
        self.topic_max = dict(record.get("topic_max", {}))
        self.closed_before = record["closed_before"]
        self.version = record["version"]
        self.counters = Counter(record["counters"])
        for minute, dedup_key in record["seen"]:
            if dedup_key not in self.seen:
                self.seen.add(dedup_key)
                self.seen_by_minute.setdefault(minute, []).append(dedup_key)
        for row in record["windows"]:
            key: WindowKey = tuple(row[:7])  # type: ignore[assignment]
            if key not in self.windows:
                self.by_minute.setdefault(key[0], []).append(key)
            self.windows[key] = list(row[7:])
        for row in record["errors"]:
            self.errors[(tuple(row[:7]), row[7])] = row[8]  # type: ignore[index]
        self.evict()
