"""The state of one input partition, and the per-event path that changes it.

Everything the worker knows about a partition lives here: dedup marks
(``streams.dedup``), windows (``streams.window_store``), the versions that
count per piece of work (``streams.entities``), the watermark's base
and what it closed (policy: ``streams.watermark``), the input offsets,
counters and the events not written out yet (``streams.pending``). Its
lifecycle is short: ``process`` every message; at each checkpoint
``move_watermark`` and ``advance`` (close what the watermark passed), then
``delta`` (the checkpoint record, ``streams.records``) and
``mark_checkpointed``; on recovery ``apply_delta`` each record (all but
``process`` and the records in ``streams.partition_lifecycle``, its base
class). Pure and I/O-free: the processor does the reading and writing.

``process`` is the per-event path, top to bottom in one method: decode result
→ dedup → lateness → version resolution → window update. It runs for every
event, so its lookups and updates are written out here rather than called
(each call costs about 1.5 % of it; bench/hotpath.py), all but what the event
adds to its window (one call into ``streams.windows``) and, for a version of
an entity, its record (``streams.entities``); taking a superseded version's
contribution back is rare and a method of its own (``_withdraw``). The data
and rules of each job live in the modules named above.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from schemas import versions
from schemas.deadletter import DeadLetter
from schemas.decode import Decoded, DecodeError, unprocessable
from schemas.events import (
    ContractEvent,
    TaskAudited,
    TaskAuditedRetraction,
    TaskCompleted,
    TaskCompletedRetraction,
)
from schemas.metrics import WINDOW_SECONDS
from schemas.units import EPOCH
from streams import records, watermark
from streams.dedup import EXACT_MARK_BYTES, DedupMarks, digest_mark
from streams.entities import (
    EntityTable,
    audit_values,
    entity_mark,
    is_audit,
    is_retraction,
    order_of,
    pack_audit,
    pack_retraction,
    pack_task,
    task_values,
)
from streams.partition_lifecycle import PartitionLifecycle
from streams.window_store import WindowStore
from streams.windows import (
    HELD,
    MICRO,
    MINUTE_US,
    VERDICT,
    ErrorKey,
    WindowKey,
    add_audit,
    add_task,
    remove_audit,
    remove_task,
    set_maxima,
)

# A closed minute is packed once the watermark has closed this much past it.
PACK_AFTER_S = 600

_US = timedelta(microseconds=1)


class PartitionState(PartitionLifecycle):
    __slots__ = ()  # all of them in the base class (streams.partition_lifecycle)

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
        self._too_late_us = watermark.too_late_behind(lateness_us, retention_us)
        self.offsets: dict[str, int] = {}  # topic -> next offset to read
        # The watermark's base: only grows, moved by ``move_watermark`` and the idle rule.
        self.max_event_us: int | None = None
        self.topic_max: dict[str, int] = {}  # topic -> newest event time read
        self.closed_before = 0  # window starts below this (epoch s) have been closed
        self.version = 0  # last row version written for this partition
        self.seq = 0  # checkpoint sequence number
        self.snapshot_base = 0  # state-log offset of the latest full snapshot (0: none)
        self.since_snapshot = 0  # checkpoint records written after it
        self.store = WindowStore()
        self.marks = DedupMarks()
        self.entities = EntityTable()
        # Counters, as plain ints on the hot path (``counters`` assembles them).
        self.events_in = 0
        self.duplicates = 0
        self.accepted_count = 0
        self.late = 0
        self.superseded = 0  # accepted versions that lost to a greater one of their entity
        self.retractions = 0  # accepted retractions
        self.other_counters: Counter[str] = Counter()  # dead_<reason>, and unknown names
        # Changes since the last checkpoint.
        self.dirty_windows: set[WindowKey] = set()
        self.dirty_errors: set[ErrorKey] = set()
        self.pending_tasks: list[Any] = []  # flat, TASK_ROW values per event (streams.pending)
        self.pending_audits: list[Any] = []
        self.dead_letters: list[DeadLetter] = []
        self.counters_dirty = False
        self.marked_in = 0  # events_in at the last checkpoint

    # -- the per-event path ----------------------------------------------------------

    def process(self, decoded: Decoded, raw: bytes, topic: str, offset: int) -> str:
        """Classify and apply one message; returns accepted/duplicate/late/dead.

        Two phases, so that no event can leave the state half-updated. First
        everything that could fail is computed from the event alone (its dedup
        mark, window, its contribution in integer micro-units, its row, its
        entity's record) and from what the state holds (the entity's current
        version); nothing any result sees changes (a packed minute about to be
        corrected is unpacked to the same content, a new dimension tuple gets
        an index). If that raises, the message becomes an ``unprocessable``
        dead letter with the error and its bytes, and the stream goes on. Then
        the state is changed with those values only: set, dict and list
        updates and integer sums, which cannot fail. (The contract's bounds
        make the first phase succeed for every accepted event; it is the guard
        for what the bounds did not foresee.)
        """
        self.offsets[topic] = offset + 1
        self.events_in += 1
        # -- 1. the decode result: an event, or why not ----------------------------------
        if type(decoded) is DecodeError:
            self._dead(decoded, raw, topic, offset)
            return "dead"
        event: ContractEvent = decoded  # type: ignore[assignment]
        store = self.store
        entities = self.entities
        # -- phase 1: compute; the state is not touched -------------------------------
        try:
            project = event.project_id
            event_id = event.event_id
            raw_id = event_id.encode()  # its dedup mark: streams.dedup.dedup_mark
            if len(raw_id) <= EXACT_MARK_BYTES:
                event_mark = int.from_bytes(b"\x01" + raw_id, "big")
            else:
                event_mark = digest_mark(raw_id)
            occurred_at = event.occurred_at
            occurred_us = (occurred_at - EPOCH) // _US
            minute = occurred_us // MINUTE_US
            start = minute * WINDOW_SECONDS
            retracted = event.retracted
            completed = event.event_type == "task_completed"
            # A retraction may lack the dimensions; it counts in no window.
            queue = event.queue_id or ""
            vendor = event.vendor_id
            locale = event.locale
            source = event.source
            annotator = event.annotator_id or ""
            key = (start, project, queue, vendor, locale, source, annotator)
            revision = event.revision
            identity = versions.entity(event)  # None: a piece of work of its own
            if completed:
                task: TaskCompleted | TaskCompletedRetraction = event  # type: ignore[assignment]
                status = task.status
                handle_time = task.handle_time_s
                created = task.task_created_at
                attempt = task.attempt
                is_gold = task.is_gold
                gold_correct = task.gold_correct
                handle = turnaround = 0
                if status == "submitted":
                    handle = round((handle_time or 0.0) * MICRO)
                    if created is not None:
                        turnaround = (occurred_at - created) // _US
                row: tuple[Any, ...] = (  # in table order: streams.pending
                    event_id,
                    occurred_us,
                    start,
                    project,
                    queue,
                    event.task_id or "",
                    annotator,
                    vendor,
                    locale,
                    source,
                    status or "",
                    handle_time,
                    created,
                    attempt,
                    is_gold,
                    gold_correct,
                    task.task_type,
                    task.tags,
                    topic,
                    offset,
                    task.submission_id,
                    revision,
                    retracted,
                )
            else:
                audit: TaskAudited | TaskAuditedRetraction = event  # type: ignore[assignment]
                verdict = audit.verdict
                score = audit.score
                audit_time = audit.audit_time_s
                categories = audit.error_categories
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
                    audit.auditor_id or "",
                    verdict or "",
                    score,
                    categories,
                    audit.audit_kind,
                    audit_time,
                    topic,
                    offset,
                    revision,
                    retracted,
                )
            previous = undo = None
            wins = True
            if identity is not None:
                # -- the entity's record of this version (streams.entities)
                entity_key = entity_mark(identity)
                if retracted:
                    record = pack_retraction(occurred_us, revision, raw_id, not completed)
                else:
                    dims = entities.intern((project, queue, vendor, locale, source, annotator))
                    if completed:
                        record = pack_task(
                            occurred_us,
                            revision,
                            dims,
                            raw_id,
                            status,  # type: ignore[arg-type]
                            attempt > 1,
                            handle,
                            created is not None,
                            turnaround,
                            is_gold,
                            gold_correct,
                        )
                    else:
                        record = pack_audit(
                            occurred_us,
                            revision,
                            dims,
                            raw_id,
                            VERDICT[verdict],  # type: ignore[index]
                            score_micro,
                            audit_micro,
                            categories,
                        )
                previous = entities.records.get(entity_key)
                if previous is not None:
                    wins = versions.order_key(event) > order_of(previous)
                    if wins and not is_retraction(previous):
                        undo = entities.window_of(previous)  # what it added is taken back
                        if undo[0] in store.packed and undo not in store.windows:
                            store.unpack(undo[0], self.closed_before)
                        if undo not in store.windows:  # held as long as its entity is
                            raise LookupError("the window of the counting version is not held")
            if not retracted and start in store.packed and key not in store.windows:
                # A correction to a packed minute: hold it as objects again (the
                # same content; the blob goes only once it is unpacked).
                store.unpack(start, self.closed_before)
        except Exception as exc:
            self._dead(unprocessable(exc, event), raw, topic, offset)
            return "dead"
        # -- phase 2: apply; nothing below can fail -------------------------------
        # -- 2. dedup: a mark already held is a duplicate (streams.dedup) -----------------
        marks = self.marks
        base = marks.project_base.get(project)
        if base is None:
            base = marks.new_project(project)
        mark = base | event_mark
        seen = marks.seen
        held = len(seen)
        seen.add(mark)  # one hash of the mark instead of two (``in``, then ``add``)
        if len(seen) == held:
            self.duplicates += 1
            return "duplicate"
        # -- 3. lateness: beyond the retention horizon is too_late (streams.watermark) -------
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
        listed = marks.by_minute.get(minute)
        if listed is None:
            marks.by_minute[minute] = [mark]
        else:
            listed.append(mark)
        topic_max = self.topic_max
        if occurred_us > topic_max.get(topic, -1):
            topic_max[topic] = occurred_us
        if completed:
            self.pending_tasks.extend(row)
            self.pending_tasks.append(mark)
        else:
            self.pending_audits.extend(row)
            self.pending_audits.append(mark)
        self.accepted_count += 1
        late = start < self.closed_before
        # -- 4. version resolution: which version of the piece of work counts --------
        # (schemas.versions; the records: streams.entities)
        counts = wins and not retracted
        if retracted:
            self.retractions += 1
        if previous is not None:
            self.superseded += 1  # the lower of the two versions: this one or the previous
        if identity is not None and wins:
            entities.put(entity_key, record, previous)
            if undo is not None:
                self._withdraw(undo, previous)  # type: ignore[arg-type]
                late = late or undo[0] < self.closed_before
        # -- 5. the window update: what the event adds (streams.windows) -----------------
        if counts:
            windows = store.windows
            agg = windows.get(key)
            if agg is None:
                agg = windows[key] = [0] * HELD
                keys = store.open_by_minute.get(start)
                if keys is None:
                    store.open_by_minute[start] = [key]
                else:
                    keys.append(key)
            if completed:
                add_task(
                    agg,
                    status,  # type: ignore[arg-type]
                    attempt,
                    handle,
                    created,
                    turnaround,
                    is_gold,
                    gold_correct,
                    identity is None,
                )
            else:
                add_audit(agg, VERDICT[verdict], score_micro, audit_micro)  # type: ignore[index]
                if categories:
                    errors = store.errors
                    dirty_errors = self.dirty_errors
                    for category in categories:
                        error_key = (key, category)
                        errors[error_key] = errors.get(error_key, 0) + 1
                        dirty_errors.add(error_key)
            self.dirty_windows.add(key)
        if late:
            self.late += 1
            return "late"
        return "accepted"

    def _withdraw(self, key: WindowKey, record: bytes) -> None:
        """Take a superseded version's contribution back from its window (``key``).

        The window is held as objects (phase 1 unpacked it). A maximum it may
        have set is recomputed from the window's floor and the versions still
        counting there (the entity table already holds the new version).
        """
        agg = self.store.windows[key]
        if is_audit(record):
            verdict_index, score_micro, audit_micro, categories = audit_values(record)
            remove_audit(agg, verdict_index, score_micro, audit_micro)
            errors = self.store.errors
            for category in categories:
                error_key = (key, category)
                errors[error_key] -= 1
                self.dirty_errors.add(error_key)
        elif remove_task(agg, *task_values(record)):
            minute = key[0] // WINDOW_SECONDS
            set_maxima(agg, *self.entities.maxima(minute, key[1:]))  # type: ignore[arg-type]
        self.dirty_windows.add(key)

    def _dead(self, error: DecodeError, raw: bytes, topic: str, offset: int) -> None:
        self.dead_letters.append(
            error.to_dead_letter(raw, topic=topic, partition=self.partition, offset=offset)
        )
        self.other_counters[f"dead_{error.reason}"] += 1

    # -- checkpoint records (streams.records) ------------------------------------

    def delta(self) -> dict[str, Any]:
        """The checkpoint record: everything that changed, plus offsets and clock."""
        return records.delta(self)

    def full_record(self) -> dict[str, Any]:
        """A delta that holds everything: replaying from it alone rebuilds this state."""
        return records.full_record(self)

    def full_record_json(self) -> Iterator[bytes]:
        """``full_record`` as consecutive pieces of its JSON (see ``records.full_record_json``)."""
        return records.full_record_json(self)

    def apply_delta(self, record: dict[str, Any]) -> None:
        """Recovery: apply one checkpoint record, as the live state did when writing it."""
        records.apply(self, record)
