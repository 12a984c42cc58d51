"""The state of one input partition: dedup horizon, windows, watermark, offsets.

Pure and I/O-free. Everything the worker knows about a partition lives here
and is persisted as one checkpoint record (see ``delta``), together with the
input offsets it covers, so state, offsets and what was emitted can never
disagree after a crash: recovery replays the records and resumes reading at
exactly the recorded offsets.

Memory. Windows and dedup marks are kept for the whole retention horizon
(48 h by default) so that late corrections stay exact, so their size per key
is what bounds the worker's memory:

- A minute the watermark has closed, once its windows are written, is packed
  into one compressed bytes object (``streams.windows.pack_minute``, about
  25 bytes per window instead of about 800 for a dict entry of a 7-tuple and
  a list of 18 ints). A late correction unpacks that minute, updates it
  exactly as if it had never been packed, and the next checkpoint packs it
  again. Only the open minutes (the allowed lateness) and freshly corrected
  ones are held as Python objects.
- A dedup mark is one int instead of the ``project_id \\x1f event_id`` string
  (60 to 150 bytes): the project's index in a small table, then the event
  id's own UTF-8 bytes when it has at most 17 of them (exact: no two ids
  share a mark), else the id's 128-bit BLAKE2b digest (``dedup_mark``). Two
  different long ids of one project share a digest with probability about
  n² / 2¹²⁹ for n held: about 1e-27 for a million, i.e. never in practice (a
  collision would drop one event as a duplicate). Such an int takes 48 bytes.
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter
from collections.abc import Collection, ItemsView, Iterator, KeysView, Mapping, ValuesView
from collections.abc import Set as AbstractSet
from datetime import timedelta
from typing import Any

import orjson

from alerts.handoff import ClosedWindow
from schemas.deadletter import DeadLetter
from schemas.decode import DecodeError, unprocessable
from schemas.events import TaskAudited, TaskCompleted
from schemas.json_pieces import json_array
from schemas.metrics import WINDOW_SECONDS
from schemas.units import EPOCH
from streams.windows import (
    IDX,
    MICRO,
    WIDTH,
    Aggregate,
    ErrorKey,
    WindowKey,
    pack_minute,
    packed_counts,
    unpack_minute,
)

MINUTE_US = WINDOW_SECONDS * MICRO
# Checkpoint records of format 2: a delta carries its new dedup marks as the
# events' (minute, project_id, event_id) columns ("seen_ids"); a full snapshot
# carries every mark held (hex, grouped by minute and project: "seen") and the
# packed minutes as they are (base64). Recovery still reads format 1 records
# (marks as "project\x1fevent_id" strings).
RECORD_FORMAT = 2
EXACT_MARK_BYTES = 17  # event ids up to this many UTF-8 bytes are their own mark
_DIGEST_MARKS = 1 << (8 * (EXACT_MARK_BYTES + 1))  # digests sit above every exact mark
# A held mark is ``project index << PROJECT_SHIFT | dedup_mark(event_id)``: up to
# 180 bits (2**35 projects), a 6-digit int of 48 bytes.
PROJECT_SHIFT = 8 * (EXACT_MARK_BYTES + 1) + 1
_EVENT_BITS = (1 << PROJECT_SHIFT) - 1
# A closed minute is packed once the watermark has closed this much past it.
PACK_AFTER_S = 600

_US = timedelta(microseconds=1)
_blake2b = hashlib.blake2b
_SUBMITTED = IDX["tasks_submitted"]
_SKIPPED = IDX["tasks_skipped"]
_EXPIRED = IDX["tasks_expired"]
_REWORK = IDX["rework_submitted"]
_HT_SUM = IDX["handle_time_sum_s"]
_HT_MAX = IDX["handle_time_max_s"]
_TA_COUNT = IDX["turnaround_count"]
_TA_SUM = IDX["turnaround_sum_s"]
_TA_MAX = IDX["turnaround_max_s"]
_GOLD = IDX["gold_submitted"]
_GOLD_OK = IDX["gold_correct"]
_AUDITS = IDX["audits"]
_VERDICT = {
    "approve": IDX["audits_approved"],
    "fix": IDX["audits_fixed"],
    "reject": IDX["audits_rejected"],
}
_SCORE_SUM = IDX["audit_score_sum"]
_SCORE_COUNT = IDX["audit_score_count"]
_AUDIT_TIME = IDX["audit_time_sum_s"]

# Accepted events waiting to be written out are kept as the values of their
# task_events / audit_events rows, flat, TASK_ROW (AUDIT_ROW) values per event,
# read while the event is at hand: no object per event (the decoded event is
# freed at once) and a column is a slice. Per event: event_id, occurred_us,
# window start (epoch s), project_id, queue_id, task_id, annotator_id,
# vendor_id, locale, source, then the type's own fields in table order
# (task_created_at as a datetime), topic, offset, dedup mark. The partition
# is the state's.
TASK_FIELDS = (
    "status",
    "handle_time_s",
    "task_created_at",
    "attempt",
    "is_gold",
    "gold_correct",
    "task_type",
    "tags",
)
AUDIT_FIELDS = (
    "auditor_id",
    "verdict",
    "score",
    "error_categories",
    "audit_kind",
    "audit_time_s",
)
TASK_ROW = 10 + len(TASK_FIELDS) + 3
AUDIT_ROW = 10 + len(AUDIT_FIELDS) + 3


def dedup_mark(event_id: str) -> int:
    """The part of a dedup mark that comes from the event id (see PROJECT_SHIFT).

    Up to EXACT_MARK_BYTES of UTF-8: the bytes themselves behind a 0x01 byte
    (injective). Longer ids: their 128-bit BLAKE2b digest, above all of those.
    Below 2**PROJECT_SHIFT either way.
    """
    raw = event_id.encode()
    if len(raw) <= EXACT_MARK_BYTES:
        return int.from_bytes(b"\x01" + raw, "big")
    return _digest_mark(raw)


def _digest_mark(raw: bytes) -> int:
    return _DIGEST_MARKS | int.from_bytes(_blake2b(raw, digest_size=16).digest(), "big")


def decode_marks(text: str) -> list[int]:
    return [int(mark, 16) for mark in text.split(",")] if text else []


class PartitionState:
    __slots__ = (
        "_audits",
        "_errors",
        "_forget_at",
        "_marked_in",
        "_open_by_minute",
        "_other_counters",
        "_packed",
        "_packed_errors",
        "_packed_windows",
        "_project_base",
        "_projects",
        "_seen",
        "_tasks",
        "_too_late_us",
        "_unpacked_at",
        "_windows",
        "accepted_count",
        "closed_before",
        "counters_dirty",
        "dead_letters",
        "dirty_errors",
        "dirty_windows",
        "duplicates",
        "events_in",
        "late",
        "lateness_us",
        "max_event_us",
        "offsets",
        "pack_after_s",
        "pack_closed",
        "partition",
        "retention_us",
        "seen_by_minute",
        "seq",
        "since_snapshot",
        "snapshot_base",
        "topic_max",
        "version",
    )

    def __init__(
        self,
        partition: int,
        lateness_us: int,
        retention_us: int,
        *,
        pack_closed: bool = True,
        pack_after_s: int = PACK_AFTER_S,
    ) -> None:
        self.partition = partition
        self.lateness_us = lateness_us
        self.retention_us = retention_us
        # Pack closed, written minutes at each checkpoint (off only to compare in tests).
        self.pack_closed = pack_closed
        self.pack_after_s = pack_after_s
        self._too_late_us = lateness_us + retention_us  # behind the watermark base
        self.offsets: dict[str, int] = {}  # topic -> next offset to read
        # The watermark's base: only grows, moved by ``advance`` (see there) and the idle rule.
        self.max_event_us: int | None = None
        self.topic_max: dict[str, int] = {}  # topic -> newest event time read
        self.closed_before = 0  # window starts below this (epoch s) have been closed
        self.version = 0  # last row version written for this partition
        self.seq = 0  # checkpoint sequence number
        self.snapshot_base = 0  # state-log offset of the latest full snapshot (0: none)
        self.since_snapshot = 0  # checkpoint records written after it
        # Windows held as objects (open minutes, and closed ones not packed yet or
        # unpacked for a correction), indexed by minute: closing and eviction touch
        # only the minutes concerned.
        self._windows: dict[WindowKey, Aggregate] = {}
        self._open_by_minute: dict[int, list[WindowKey]] = {}
        self._errors: dict[ErrorKey, int] = {}
        # Packed minutes: window start -> pack_minute(...); never also in the above.
        self._packed: dict[int, bytes] = {}
        self._packed_windows = 0
        self._packed_errors = 0
        self._unpacked_at: dict[int, int] = {}  # minute -> closed_before when a correction came
        # Dedup marks (see PROJECT_SHIFT), and minute -> its marks. Projects get
        # an index in order of appearance (never reused: see _forget_projects).
        self._seen: set[int] = set()
        self.seen_by_minute: dict[int, list[int]] = {}
        self._project_base: dict[str, int] = {}  # project -> index << PROJECT_SHIFT
        self._projects: list[str | None] = []  # index -> project (None: forgotten)
        self._forget_at = 64
        # Counters, as plain ints on the hot path (``counters`` assembles them).
        self.events_in = 0
        self.duplicates = 0
        self.accepted_count = 0
        self.late = 0
        self._other_counters: Counter[str] = Counter()  # dead_<reason>, and unknown names
        # Changes since the last checkpoint.
        self.dirty_windows: set[WindowKey] = set()
        self.dirty_errors: set[ErrorKey] = set()
        self._tasks: list[Any] = []  # flat, TASK_ROW values per event
        self._audits: list[Any] = []
        self.dead_letters: list[DeadLetter] = []
        self.counters_dirty = False
        self._marked_in = 0  # events_in at the last checkpoint

    # -- views ---------------------------------------------------------------------

    @property
    def windows(self) -> WindowsView:
        """Every window held, packed or not (read-only; packed values are copies)."""
        return WindowsView(self)

    @property
    def errors(self) -> ErrorsView:
        """Every (window, category) error count held (read-only)."""
        return ErrorsView(self)

    @property
    def open_windows(self) -> dict[WindowKey, Aggregate]:
        """The windows held as objects; every dirty window is among them."""
        return self._windows

    @property
    def open_errors(self) -> dict[ErrorKey, int]:
        return self._errors

    @property
    def by_minute(self) -> dict[int, list[WindowKey]]:
        """Window start -> its keys, packed minutes included (introspection; unpacks)."""
        out = {m: list(keys) for m, keys in self._open_by_minute.items()}
        for start, blob in self._packed.items():
            out[start] = [key for key, _ in unpack_minute(blob)[0]]
        return out

    @property
    def seen(self) -> SeenView:
        """Every dedup mark held, as (project_id, mark) pairs (read-only)."""
        return SeenView(self)

    @property
    def packed_minutes(self) -> int:
        return len(self._packed)

    def is_packed(self, start: int) -> bool:
        return start in self._packed

    @property
    def counters(self) -> Counter[str]:
        """Totals since the partition began: a fresh Counter (read it, do not update it)."""
        out = Counter(self._other_counters)
        for name, value in (
            ("events_in", self.events_in),
            ("accepted", self.accepted_count),
            ("duplicates", self.duplicates),
            ("late", self.late),
        ):
            if value:
                out[name] = value
        return out

    @property
    def pending_events(self) -> int:
        """Accepted events and dead letters not written out yet (cheap: no rows built)."""
        return (
            len(self._tasks) // TASK_ROW + len(self._audits) // AUDIT_ROW + len(self.dead_letters)
        )

    @property
    def accepted(self) -> list[tuple[Any, ...]]:
        """Accepted events not written out yet, as their row values (tasks, then audits)."""
        return [*self._rows_of(self._tasks, TASK_ROW), *self._rows_of(self._audits, AUDIT_ROW)]

    @staticmethod
    def _rows_of(flat: list[Any], width: int) -> list[tuple[Any, ...]]:
        return list(zip(*[flat[i::width] for i in range(width)], strict=True))

    def pending_columns(self, audits: bool) -> list[list[Any]]:
        """The accepted tasks (or audits) not written out yet, column by column."""
        flat, width = (self._audits, AUDIT_ROW) if audits else (self._tasks, TASK_ROW)
        return [flat[i::width] for i in range(width)]

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
        """Classify and apply one message; returns accepted/duplicate/late/dead.

        Two phases, so that no event can leave the state half-updated. First
        everything that could fail is computed from the event alone (its dedup
        mark, window, its contribution in integer micro-units, its row);
        nothing of the state changes. If that raises, the message becomes an
        ``unprocessable`` dead letter with the error and its bytes, and the
        stream goes on. Then the state is changed with those values only:
        set, dict and list updates and integer sums, which cannot fail. (The
        contract's bounds make the first phase succeed for every accepted
        event; it is the guard for what the bounds did not foresee.)
        """
        self.offsets[topic] = offset + 1
        self.events_in += 1
        if isinstance(decoded, DecodeError):
            self._dead(decoded, raw, topic, offset)
            return "dead"
        event = decoded
        # -- phase 1: compute; the state is not touched ---------------------------
        try:
            project = event.project_id
            event_id = event.event_id
            raw_id = event_id.encode()
            if len(raw_id) <= EXACT_MARK_BYTES:
                event_mark = int.from_bytes(b"\x01" + raw_id, "big")
            else:
                event_mark = _digest_mark(raw_id)
            occurred_at = event.occurred_at
            occurred_us = (occurred_at - EPOCH) // _US
            minute = occurred_us // MINUTE_US
            start = minute * WINDOW_SECONDS
            queue = event.queue_id
            vendor = event.vendor_id
            locale = event.locale
            source = event.source
            annotator = event.annotator_id
            key = (start, project, queue, vendor, locale, source, annotator)
            if isinstance(event, TaskCompleted):
                completed = True
                status = event.status
                handle_time = event.handle_time_s
                created = event.task_created_at
                attempt = event.attempt
                is_gold = event.is_gold
                gold_correct = event.gold_correct
                handle = turnaround = 0
                if status == "submitted":
                    handle = round((handle_time or 0.0) * MICRO)
                    if created is not None:
                        turnaround = (occurred_at - created) // _US
                row: tuple[Any, ...] = (
                    event_id,
                    occurred_us,
                    start,
                    project,
                    queue,
                    event.task_id,
                    annotator,
                    vendor,
                    locale,
                    source,
                    status,
                    handle_time,
                    created,
                    attempt,
                    is_gold,
                    gold_correct,
                    event.task_type,
                    event.tags,
                    topic,
                    offset,
                )
            else:
                completed = False
                verdict_index = _VERDICT[event.verdict]
                score = event.score
                audit_time = event.audit_time_s
                categories = event.error_categories
                score_micro = None if score is None else round(score * MICRO)
                audit_micro = None if audit_time is None else round(audit_time * MICRO)
                row = (
                    event_id,
                    occurred_us,
                    start,
                    project,
                    queue,
                    event.task_id,
                    annotator,
                    vendor,
                    locale,
                    source,
                    event.auditor_id,
                    event.verdict,
                    score,
                    categories,
                    event.audit_kind,
                    audit_time,
                    topic,
                    offset,
                )
            if start in self._packed and key not in self._windows:
                # A correction to a packed minute: hold it as objects again (the
                # same content; the blob goes only once it is unpacked).
                self._unpack(start)
        except Exception as exc:
            self._dead(unprocessable(exc, event), raw, topic, offset)
            return "dead"
        # -- phase 2: apply; nothing below can fail -------------------------------
        base = self._project_base.get(project)
        if base is None:
            base = self._new_project(project)
        mark = base | event_mark
        seen = self._seen
        held = len(seen)
        seen.add(mark)  # one hash of the mark instead of two (``in``, then ``add``)
        if len(seen) == held:
            self.duplicates += 1
            return "duplicate"
        newest = self.max_event_us
        if newest is not None and occurred_us < newest - self._too_late_us:
            seen.discard(mark)
            self._dead(
                DecodeError(
                    "too_late",
                    "occurred_at: older than the retention horizon "
                    f"({self.retention_us // MICRO}s behind the watermark)",
                    "occurred_at",
                    event.event_type,
                    project,
                    event_id,
                ),
                raw,
                topic,
                offset,
            )
            return "dead"
        listed = self.seen_by_minute.get(minute)
        if listed is None:
            self.seen_by_minute[minute] = [mark]
        else:
            listed.append(mark)
        topic_max = self.topic_max
        if occurred_us > topic_max.get(topic, -1):
            topic_max[topic] = occurred_us
        windows = self._windows
        agg = windows.get(key)
        if agg is None:
            agg = windows[key] = [0] * WIDTH
            keys = self._open_by_minute.get(start)
            if keys is None:
                self._open_by_minute[start] = [key]
            else:
                keys.append(key)
        if completed:
            if status == "submitted":
                agg[_SUBMITTED] += 1
                if attempt > 1:
                    agg[_REWORK] += 1
                agg[_HT_SUM] += handle
                if handle > agg[_HT_MAX]:
                    agg[_HT_MAX] = handle
                if created is not None:
                    agg[_TA_COUNT] += 1
                    agg[_TA_SUM] += turnaround
                    if turnaround > agg[_TA_MAX]:
                        agg[_TA_MAX] = turnaround
                if is_gold:
                    agg[_GOLD] += 1
                    if gold_correct:
                        agg[_GOLD_OK] += 1
            elif status == "skipped":
                agg[_SKIPPED] += 1
            else:
                agg[_EXPIRED] += 1
            self._tasks.extend(row)
            self._tasks.append(mark)
        else:
            agg[_AUDITS] += 1
            agg[verdict_index] += 1
            if score_micro is not None:
                agg[_SCORE_SUM] += score_micro
                agg[_SCORE_COUNT] += 1
            if audit_micro is not None:
                agg[_AUDIT_TIME] += audit_micro
            if categories:
                errors = self._errors
                dirty_errors = self.dirty_errors
                for category in categories:
                    error_key = (key, category)
                    errors[error_key] = errors.get(error_key, 0) + 1
                    dirty_errors.add(error_key)
            self._audits.extend(row)
            self._audits.append(mark)
        self.dirty_windows.add(key)
        self.accepted_count += 1
        if start < self.closed_before:
            self.late += 1
            return "late"
        return "accepted"

    def _dead(self, error: DecodeError, raw: bytes, topic: str, offset: int) -> None:
        self.dead_letters.append(
            error.to_dead_letter(raw, topic=topic, partition=self.partition, offset=offset)
        )
        self._other_counters[f"dead_{error.reason}"] += 1

    def _new_project(self, project: str) -> int:
        base = len(self._projects) << PROJECT_SHIFT
        self._projects.append(project)
        self._project_base[project] = base
        return base

    def _forget_projects(self) -> None:
        """Drop projects no held mark names (their indexes are not reused).

        Runs when the table has doubled since last time: a scan of the marks
        held, rare enough to cost nothing per event.
        """
        held = {mark >> PROJECT_SHIFT for mark in self._seen}
        for index, project in enumerate(self._projects):
            if project is not None and index not in held:
                del self._project_base[project]
                self._projects[index] = None
        self._forget_at = max(64, 2 * len(self._project_base))

    def marks_of_minute(self, minute: int) -> set[tuple[str, int]]:
        """The dedup marks held for a minute, as (project_id, dedup_mark) pairs."""
        return {
            (self._project_of(mark), mark & _EVENT_BITS)
            for mark in self.seen_by_minute.get(minute, ())
        }

    def _project_of(self, mark: int) -> str:
        project = self._projects[mark >> PROJECT_SHIFT]
        assert project is not None
        return project

    def _add_marks(self, minute: int, project: str, event_marks: list[int]) -> None:
        """Recovery: marks of one project and minute, as dedup_mark gave them."""
        base = self._project_base.get(project)
        if base is None:
            base = self._new_project(project)
        seen = self._seen
        listed = self.seen_by_minute.setdefault(minute, [])
        for event_mark in event_marks:
            mark = base | event_mark
            if mark not in seen:
                seen.add(mark)
                listed.append(mark)
        if not listed:
            del self.seen_by_minute[minute]

    def _marks_by_project(self, marks: Iterator[tuple[int, int]]) -> Iterator[list[Any]]:
        """Record entries [minute, project, "hex,hex,..."] of (minute, mark) pairs."""
        groups: dict[tuple[int, int], list[int]] = {}
        for minute, mark in marks:
            group = (minute, mark >> PROJECT_SHIFT)
            listed = groups.get(group)
            if listed is None:
                groups[group] = [mark]
            else:
                listed.append(mark)
        projects = self._projects
        return (
            [m, projects[p], ",".join([format(mark & _EVENT_BITS, "x") for mark in marks])]
            for (m, p), marks in groups.items()
        )

    # -- packing ---------------------------------------------------------------------

    def _unpack(self, start: int) -> None:
        """Hold a packed minute as objects again (a correction is about to update it)."""
        windows, errors = unpack_minute(self._packed[start])  # before anything changes
        del self._packed[start]
        self._packed_windows -= len(windows)
        self._packed_errors -= len(errors)
        keys = self._open_by_minute.setdefault(start, [])
        for key, agg in windows:
            if key not in self._windows:
                keys.append(key)
                self._windows[key] = agg
        for error_key, n in errors:
            self._errors.setdefault(error_key, n)
        # More corrections often follow: keep it as objects for a while.
        self._unpacked_at[start] = self.closed_before

    def _pack(self) -> None:
        """Pack the closed minutes held as objects, once written and no longer recent.

        A minute is packed once the watermark has closed minutes ``pack_after_s``
        past it (and as long after a correction unpacked it), so corrections
        arriving soon after the close, or in bursts, find it as objects.
        """
        limit = self.closed_before - self.pack_after_s
        starts = [m for m in self._open_by_minute if m < limit]
        if self._unpacked_at:
            starts = [m for m in starts if self._unpacked_at.get(m, limit) <= limit]
        if not starts:
            return
        dirty = self.dirty_windows
        if dirty:
            starts = [m for m in starts if not any(k in dirty for k in self._open_by_minute[m])]
        errors_of: dict[int, list[tuple[ErrorKey, int]]] = {}
        if self._errors:
            wanted = set(starts)
            for error_key, n in self._errors.items():
                if error_key[0][0] in wanted:
                    errors_of.setdefault(error_key[0][0], []).append((error_key, n))
        windows = self._windows
        for start in starts:
            keys = self._open_by_minute[start]
            errors = errors_of.get(start, [])
            try:
                blob = pack_minute(keys, [windows[k] for k in keys], errors)
            except orjson.JSONEncodeError:
                continue  # a value beyond 64 bits: keep the minute as objects
            self._packed[start] = blob
            del self._open_by_minute[start]
            for key in keys:
                del windows[key]
            for error_key, _ in errors:
                del self._errors[error_key]
            self._packed_windows += len(keys)
            self._packed_errors += len(errors)
            self._unpacked_at.pop(start, None)

    def _store_packed(self, start: int, blob: bytes) -> None:
        """Recovery: a packed minute from a full snapshot."""
        if start in self._packed or start in self._open_by_minute:
            # Already held: apply the snapshot's values over it, like rows.
            windows, errors = unpack_minute(blob)
            if start in self._packed:
                self._unpack(start)
            keys = self._open_by_minute.setdefault(start, [])
            for key, agg in windows:
                if key not in self._windows:
                    keys.append(key)
                self._windows[key] = agg
            for error_key, n in errors:
                self._errors[error_key] = n
            return
        self._packed[start] = blob
        windows_n, errors_n = packed_counts(blob)
        self._packed_windows += windows_n
        self._packed_errors += errors_n

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
        is checkpointed with the rest. (Minutes not closed yet are never packed.)
        """
        if close_all:
            self.move_watermark()
        watermark = self.watermark_us
        target = self.closed_before
        if watermark is not None:
            target = max(target, watermark // MINUTE_US * WINDOW_SECONDS)
        if close_all and self._open_by_minute:
            target = max(target, max(self._open_by_minute) + WINDOW_SECONDS)
        closed: dict[int, dict[WindowKey, Aggregate]] = {}
        if target > self.closed_before:
            for start in [m for m in self._open_by_minute if self.closed_before <= m < target]:
                closed[start] = {
                    key: list(self._windows[key]) for key in self._open_by_minute[start]
                }
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
        old_minutes = [m for m in self.seen_by_minute if m < horizon_minute]
        for minute in old_minutes:
            self._seen.difference_update(self.seen_by_minute.pop(minute))
        if old_minutes and len(self._project_base) >= self._forget_at:
            self._forget_projects()
        horizon_s = horizon_minute * WINDOW_SECONDS
        dropped = False
        for start in [m for m in self._packed if m < horizon_s]:
            windows_n, errors_n = packed_counts(self._packed.pop(start))
            self._packed_windows -= windows_n
            self._packed_errors -= errors_n
            dropped = True
        # Unwritten (dirty) windows stay until the next checkpoint has written them.
        stale: list[WindowKey] = []
        for start in [m for m in self._open_by_minute if m < horizon_s]:
            keys = self._open_by_minute[start]
            keep = [k for k in keys if k in self.dirty_windows]
            stale.extend(k for k in keys if k not in self.dirty_windows)
            if keep:
                self._open_by_minute[start] = keep
            else:
                del self._open_by_minute[start]
                self._unpacked_at.pop(start, None)
        for key in stale:
            del self._windows[key]
        if stale or dropped:
            for error_key in [
                k for k in self._errors if k[0][0] < horizon_s and k not in self.dirty_errors
            ]:
                del self._errors[error_key]

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
            or self.events_in != self._marked_in
            or self.dirty_windows
            or self.dirty_errors
            or self._tasks
            or self._audits
            or self.dead_letters
        )

    def next_version(self, now_us: int) -> int:
        """Row versions grow across restarts: a replay always supersedes a stale write."""
        self.version = max(self.version + 1, now_us)
        return self.version

    def delta(self) -> dict[str, Any]:
        """The checkpoint record: everything that changed, plus offsets and clock."""
        minutes: list[int] = []
        projects: list[str] = []
        event_ids: list[str] = []
        for flat, width in ((self._tasks, TASK_ROW), (self._audits, AUDIT_ROW)):
            minutes.extend([occurred_us // MINUTE_US for occurred_us in flat[1::width]])
            projects.extend(flat[3::width])
            event_ids.extend(flat[0::width])
        windows = self._windows
        errors = self._errors
        return {
            "v": RECORD_FORMAT,
            "p": self.partition,
            "seq": self.record_seq,
            "offsets": dict(self.offsets),
            "max_us": self.max_event_us,
            "topic_max": dict(self.topic_max),
            "closed_before": self.closed_before,
            "version": self.version,
            "counters": dict(self.counters),
            # The marks added since the last checkpoint, as the events' own keys.
            "seen": [],
            "seen_ids": {"minute": minutes, "project": projects, "event_id": event_ids},
            "windows": [[*k, *windows[k]] for k in self.dirty_windows if k in windows],
            "errors": [[*k[0], k[1], errors[k]] for k in self.dirty_errors if k in errors],
        }

    @property
    def record_seq(self) -> int:
        """The sequence number the next checkpoint record of this partition carries."""
        return self.seq + 1

    def full_record(self) -> dict[str, Any]:
        """A delta that holds everything: replaying from it alone rebuilds this state."""
        record: dict[str, Any] = orjson.loads(b"".join(self.full_record_json()))
        return record

    def full_record_json(self) -> Iterator[bytes]:
        """``full_record`` as consecutive pieces of its JSON, for ``encode_chunks``.

        Written piece by piece because a full record of a partition with
        hundreds of thousands of windows would otherwise exist three times at
        once (objects, JSON, chunks): the worker's memory peak at scale.
        """
        head = self.delta()
        del head["windows"], head["errors"], head["seen"]
        head["seen_ids"] = {"minute": [], "project": [], "event_id": []}
        head["full"] = True
        yield orjson.dumps(head)[:-1]
        del head
        # Every mark held (the event ids are not kept), grouped by minute and project.
        yield b',"seen":'
        yield from json_array(
            self._marks_by_project(
                (m, mark) for m, marks in self.seen_by_minute.items() for mark in marks
            ),
            batch=64,
        )
        yield b',"windows":'
        yield from json_array([*k, *agg] for k, agg in self._windows.items())
        yield b',"errors":'
        yield from json_array([*k[0], k[1], n] for k, n in self._errors.items())
        yield b',"packed":'
        yield from json_array(
            ([start, base64.b64encode(blob).decode()] for start, blob in self._packed.items()),
            batch=16,  # a packed minute is kilobytes, not a few numbers
        )
        yield b"}"

    def mark_checkpointed(self) -> None:
        self.seq += 1
        self.dirty_windows.clear()
        self.dirty_errors.clear()
        self._tasks = []
        self._audits = []
        self.dead_letters = []
        self.counters_dirty = False
        self._marked_in = self.events_in
        if self.pack_closed:
            self._pack()

    def apply_delta(self, record: dict[str, Any]) -> None:
        """Recovery: apply one checkpoint record, as the live state did when writing it."""
        self.seq = record["seq"]
        self.offsets = dict(record["offsets"])
        self.max_event_us = record["max_us"]
        self.topic_max = dict(record.get("topic_max", {}))
        self.closed_before = record["closed_before"]
        self.version = record["version"]
        counters = Counter(record["counters"])
        self.events_in = counters.pop("events_in", 0)
        self.accepted_count = counters.pop("accepted", 0)
        self.duplicates = counters.pop("duplicates", 0)
        self.late = counters.pop("late", 0)
        self._other_counters = counters
        self._marked_in = self.events_in
        for entry in record["seen"]:
            if record.get("v", 1) >= 2:
                minute, project, text = entry
                self._add_marks(minute, project, decode_marks(text))
            else:  # format 1: [minute, "project_id\x1fevent_id"]
                minute, dedup_key = entry
                project, _, event_id = dedup_key.partition("\x1f")
                self._add_marks(minute, project, [dedup_mark(event_id)])
        ids = record.get("seen_ids")
        if ids:
            for minute, project, event_id in zip(
                ids["minute"], ids["project"], ids["event_id"], strict=True
            ):
                self._add_marks(minute, project, [dedup_mark(event_id)])
        for start, text in record.get("packed", ()):
            self._store_packed(start, base64.b64decode(text))
        for row in record["windows"]:
            key: WindowKey = tuple(row[:7])  # type: ignore[assignment]
            if key[0] in self._packed:
                self._unpack(key[0])
            if key not in self._windows:
                self._open_by_minute.setdefault(key[0], []).append(key)
            self._windows[key] = list(row[7:])
        for row in record["errors"]:
            start = row[0]
            if start in self._packed:
                self._unpack(start)
            self._errors[(tuple(row[:7]), row[7])] = row[8]  # type: ignore[index]
        self.evict()
        if self.pack_closed:
            self._pack()


class _PackedView(Mapping[Any, Any]):
    """Live entries plus those in packed minutes, as one read-only mapping.

    Subclasses name the live dict, the part of an unpacked minute they read
    (0: windows, 1: error counts), the packed count and a key's minute.
    """

    __slots__ = ("_state",)
    _part: int

    def __init__(self, state: PartitionState) -> None:
        self._state = state

    def _live(self) -> dict[Any, Any]:
        raise NotImplementedError

    def _packed_count(self) -> int:
        raise NotImplementedError

    @staticmethod
    def _minute(key: Any) -> int:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._live()) + self._packed_count()

    def __contains__(self, key: object) -> bool:
        try:
            self[key]
        except (KeyError, TypeError, IndexError):
            return False
        return True

    def __getitem__(self, key: Any) -> Any:
        value = self._live().get(key)
        if value is not None:
            return value
        blob = self._state._packed.get(self._minute(key))
        if blob is not None:
            for packed_key, packed_value in unpack_minute(blob)[self._part]:
                if packed_key == key:
                    return packed_value
        raise KeyError(key)

    def _items(self) -> Iterator[tuple[Any, Any]]:
        yield from self._live().items()
        for blob in list(self._state._packed.values()):
            yield from unpack_minute(blob)[self._part]

    def __iter__(self) -> Iterator[Any]:
        return (key for key, _ in self._items())

    def items(self) -> ItemsView[Any, Any]:
        return _Items(self)

    def keys(self) -> KeysView[Any]:
        return KeysView(self)

    def values(self) -> ValuesView[Any]:
        return _Values(self)


class WindowsView(_PackedView):
    """All windows of a partition, packed or not, as a read-only mapping."""

    __slots__ = ()
    _part = 0

    def _live(self) -> dict[Any, Any]:
        return self._state._windows  # type: ignore[return-value]

    def _packed_count(self) -> int:
        return self._state._packed_windows

    @staticmethod
    def _minute(key: Any) -> int:
        return int(key[0])


class ErrorsView(_PackedView):
    """All (window, category) error counts of a partition, as a read-only mapping."""

    __slots__ = ()
    _part = 1

    def _live(self) -> dict[Any, Any]:
        return self._state._errors  # type: ignore[return-value]

    def _packed_count(self) -> int:
        return self._state._packed_errors

    @staticmethod
    def _minute(key: Any) -> int:
        return int(key[0][0])


class _Items(ItemsView[Any, Any]):
    """Items of a view without one lookup (and unpacking) per key."""

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return self._mapping._items()  # type: ignore[attr-defined, no-any-return]


class _Values(ValuesView[Any]):
    def __iter__(self) -> Iterator[Any]:
        return (value for _, value in self._mapping._items())  # type: ignore[attr-defined]


class SeenView(AbstractSet[tuple[str, int]]):
    """The dedup marks of a partition as a read-only set of (project_id, dedup_mark)."""

    __slots__ = ("_state",)

    def __init__(self, state: PartitionState) -> None:
        self._state = state

    def __len__(self) -> int:
        return len(self._state._seen)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, tuple) or len(item) != 2:
            return False
        base = self._state._project_base.get(item[0])
        return base is not None and base | item[1] in self._state._seen

    def __iter__(self) -> Iterator[tuple[str, int]]:
        state = self._state
        for mark in state._seen:
            yield state._project_of(mark), mark & _EVENT_BITS
