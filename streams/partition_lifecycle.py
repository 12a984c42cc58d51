"""A partition's state apart from the per-event path: watermark, checkpoints, views.

``streams.partition.PartitionState`` is the per-event path (``process``) and
the state's slots; what happens between events lives here, as its base class:
moving the watermark and closing minutes (policy: ``streams.watermark``),
eviction behind the retention horizon, the bookkeeping of a checkpoint, and
read-only views for the writer and the tests. A base class rather than
functions, so callers keep one object and the slots stay in one place. Pure
and I/O-free.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from typing import Any

from alerts.handoff import ClosedWindow
from schemas.deadletter import DeadLetter
from schemas.metrics import WINDOW_SECONDS
from streams import watermark
from streams.dedup import DedupMarks
from streams.entities import EntityTable
from streams.pending import AUDIT_ROW, TASK_ROW, columns_of, rows_of
from streams.views import ErrorsView, WindowsView
from streams.window_store import WindowStore
from streams.windows import MINUTE_US, Aggregate, ErrorKey, WindowKey


class PartitionLifecycle:
    """The watermark, checkpoint and view methods, and the slots of the whole state
    (``PartitionState`` sets them)."""

    __slots__ = (
        "_too_late_us",
        "accepted_count",
        "closed_before",
        "counters_dirty",
        "dead_letters",
        "dirty_errors",
        "dirty_windows",
        "duplicates",
        "entities",
        "events_in",
        "late",
        "lateness_us",
        "marked_in",
        "marks",
        "max_event_us",
        "offsets",
        "other_counters",
        "pack_after_s",
        "pack_closed",
        "partition",
        "pending_audits",
        "pending_tasks",
        "retention_us",
        "retractions",
        "seq",
        "since_snapshot",
        "snapshot_base",
        "store",
        "superseded",
        "topic_max",
        "version",
    )

    partition: int
    lateness_us: int
    retention_us: int
    pack_closed: bool
    pack_after_s: int
    max_event_us: int | None
    topic_max: dict[str, int]
    closed_before: int
    version: int
    seq: int
    store: WindowStore
    marks: DedupMarks
    entities: EntityTable
    events_in: int
    duplicates: int
    accepted_count: int
    late: int
    superseded: int
    retractions: int
    other_counters: Counter[str]
    dirty_windows: set[WindowKey]
    dirty_errors: set[ErrorKey]
    pending_tasks: list[Any]
    pending_audits: list[Any]
    dead_letters: list[DeadLetter]
    counters_dirty: bool
    marked_in: int

    # -- the watermark: closing and eviction --------------------------------------

    @property
    def watermark_us(self) -> int | None:
        return watermark.watermark_of(self.max_event_us, self.lateness_us)

    @property
    def horizon_us(self) -> int | None:
        """Events older than this are beyond the retention horizon (too_late)."""
        return watermark.horizon_of(self.watermark_us, self.retention_us)

    def move_watermark(self, behind: Collection[str] = ()) -> None:
        """Move the watermark base from what each input topic has shown so far.

        ``behind``: the input topics with unread messages (``watermark.behind``);
        the rule is ``watermark.moved_base``.
        """
        base = watermark.moved_base(self.max_event_us, self.topic_max, behind)
        if base is not None:
            self.max_event_us = base
            self.counters_dirty = True

    def advance(self, close_all: bool = False) -> list[ClosedWindow]:
        """Close the windows the watermark passed (or all, when the input is drained).

        Returns the newly closed minutes in window order; each is handed to
        alert evaluation exactly once because ``closed_before`` only grows and
        is checkpointed with the rest. (Minutes not closed yet are never packed.)
        """
        if close_all:
            self.move_watermark()
        open_minutes = self.store.open_by_minute
        newest_open = max(open_minutes) if close_all and open_minutes else None
        target = watermark.close_target(self.closed_before, self.watermark_us, newest_open)
        closed: dict[int, dict[WindowKey, Aggregate]] = {}
        errors: dict[int, dict[ErrorKey, int]] = {}
        if target > self.closed_before:
            closed = self.store.closing(self.closed_before, target)
            errors = self.store.closing_errors(self.closed_before, target)
            self.closed_before = target
            self.counters_dirty = True
        self.evict()
        return [
            ClosedWindow(self.partition, start, closed[start], errors=errors.get(start, {}))
            for start in sorted(closed)
        ]

    def evict(self) -> None:
        """Forget what can no longer change: windows, dedup marks and entities behind the horizon.

        An entity goes with the minute of its counting version (every version
        of it is then beyond the horizon, ``streams.entities``).
        """
        horizon = self.horizon_us
        if horizon is None:
            return
        horizon_minute = horizon // MINUTE_US
        self.marks.evict(horizon_minute)
        self.entities.evict(horizon_minute)
        self.store.evict(horizon_minute * WINDOW_SECONDS, self.dirty_windows, self.dirty_errors)

    def advance_idle(self, now_us: int, quiet_s: float, idle_timeout_s: float) -> bool:
        """Let a quiet partition's watermark follow the wall clock, if its data is live.

        Live mode only (the processor asks); the rule is ``watermark.follows_clock``.
        """
        if not watermark.follows_clock(
            self.max_event_us, now_us, quiet_s, idle_timeout_s, self.lateness_us
        ):
            return False
        self.max_event_us = now_us
        self.counters_dirty = True
        return True

    # -- checkpoints ------------------------------------------------------------------

    @property
    def has_changes(self) -> bool:
        return bool(
            self.counters_dirty
            or self.events_in != self.marked_in
            or self.dirty_windows
            or self.dirty_errors
            or self.pending_tasks
            or self.pending_audits
            or self.dead_letters
        )

    def next_version(self, now_us: int) -> int:
        """Row versions grow across restarts: a replay always supersedes a stale write."""
        self.version = max(self.version + 1, now_us)
        return self.version

    @property
    def record_seq(self) -> int:
        """The sequence number the next checkpoint record of this partition carries."""
        return self.seq + 1

    def mark_checkpointed(self) -> None:
        self.seq += 1
        self.dirty_windows.clear()
        self.dirty_errors.clear()
        self.entities.dirty.clear()
        self.pending_tasks = []
        self.pending_audits = []
        self.dead_letters = []
        self.counters_dirty = False
        self.marked_in = self.events_in
        if self.pack_closed:
            self.pack()

    def pack(self) -> None:
        """Pack the closed, written minutes held as objects (``WindowStore.pack``)."""
        self.store.pack(self.closed_before, self.pack_after_s, self.dirty_windows)

    # -- views ---------------------------------------------------------------------

    @property
    def windows(self) -> WindowsView:
        """Every window held, packed or not (read-only; packed values are copies)."""
        return WindowsView(self.store)

    @property
    def errors(self) -> ErrorsView:
        """Every (window, category) error count held (read-only)."""
        return ErrorsView(self.store)

    @property
    def seen(self) -> DedupMarks:
        """Every dedup mark held, as a set of (project_id, mark) pairs (read it only)."""
        return self.marks

    @property
    def counters(self) -> Counter[str]:
        """Totals since the partition began: a fresh Counter (read it, do not update it)."""
        out = Counter(self.other_counters)
        for name, value in (
            ("events_in", self.events_in),
            ("accepted", self.accepted_count),
            ("duplicates", self.duplicates),
            ("late", self.late),
            ("superseded", self.superseded),
            ("retractions", self.retractions),
        ):
            if value:
                out[name] = value
        return out

    @property
    def pending_events(self) -> int:
        """Accepted events and dead letters not written out yet (cheap: no rows built)."""
        return (
            len(self.pending_tasks) // TASK_ROW
            + len(self.pending_audits) // AUDIT_ROW
            + len(self.dead_letters)
        )

    @property
    def accepted(self) -> list[tuple[Any, ...]]:
        """Accepted events not written out yet, as their row values (tasks, then audits)."""
        return [
            *rows_of(self.pending_tasks, TASK_ROW),
            *rows_of(self.pending_audits, AUDIT_ROW),
        ]

    def pending_columns(self, audits: bool) -> list[list[Any]]:
        """The accepted tasks (or audits) not written out yet, column by column."""
        if audits:
            return columns_of(self.pending_audits, AUDIT_ROW)
        return columns_of(self.pending_tasks, TASK_ROW)
