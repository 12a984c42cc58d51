"""Versions of a piece of work: per entity, the version that counts and what it added. Pure.

The contract's version rule (``schemas.versions``): among the accepted
versions of an entity (a submission, or the audited annotator's work on a
task) exactly one counts, the greatest by (occurred_at, revision, event_id),
in the window of its own time and dimensions, and nothing if it is a
retraction. To apply it event by event, whatever the arrival order, a
partition keeps per entity within the retention horizon one record: the
current greatest version's order key and, unless it is a retraction, what it
added to its window, so that a greater version arriving later can take that
contribution back exactly (integer sums) and the window's maxima can be
recomputed from the versions still counting there (``maxima``).

Every audit is an entity, so this table holds about as many records as the
horizon holds audits plus completions with a submission_id: its size per
entity bounds the worker's memory next to the dedup marks. A record is one
bytes object (``pack``): about 60 bytes of fields and the event id, keyed by a
128-bit digest of the entity's identity (like long dedup marks: two entities
share one with probability about n² / 2¹²⁹, never in practice). The window's
dimensions are an index into a table of the distinct dimension tuples
(``dims``), counted by the records that use them and freed at eviction when
no record does.

An entity is forgotten when the minute of its current version leaves the
retention horizon, with the windows and dedup marks of that minute: every
version of it is then beyond the horizon. A later version (within the horizon
by its own time) starts it afresh and counts, while the old one stays
counted in its minute: the documented limit of the rule
(docs/metrics.md).

No I/O; the per-event path (``streams.partition``) calls ``intern``,
``record_of`` / ``pack_*``, ``put``; eviction, checkpoint records and
recovery go through the other methods.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator
from typing import Any

from streams.windows import MINUTE_US, WindowKey

Dims = tuple[str, str, str, str, str, str]
"""A window key without its minute: project, queue, vendor, locale, source, annotator."""

_blake2b = hashlib.blake2b

# Record layout: HEAD, then the body of its kind (TASK or AUDIT, none for a
# retraction), then the event id's UTF-8 bytes, then (audits) the error
# categories joined by U+001F, which no category can contain (the contract
# refuses control characters).
_HEAD = struct.Struct("<qIIBH")  # occurred_us, revision, dims index, flags, len(event_id)
_TASK = struct.Struct("<Bqq")  # bits, handle µs, turnaround µs
_AUDIT = struct.Struct("<BiqB")  # verdict index, score micro, audit time µs, categories
_FLAGS = _HEAD.size - 3  # the flags byte's position
RETRACTED = 1
AUDIT = 2
NO_DIMS = 0xFFFFFFFF  # a retraction counts nowhere
NONE = -1  # score or audit time absent

# A task record's bits: the status, then flags.
STATUS_CODE = {"submitted": 0, "skipped": 1, "expired": 2}
STATUS = ("submitted", "skipped", "expired")
REWORK = 4
CREATED = 8
GOLD = 16
GOLD_OK = 32

TaskValues = tuple[str, bool, int, bool, int, bool, bool]
"""(status, rework, handle µs, has turnaround, turnaround µs, is_gold, gold_correct)."""
AuditValues = tuple[int, int | None, int | None, list[str]]
"""(verdict index, score micro, audit time µs, error categories)."""


def entity_mark(identity: tuple[str, ...]) -> int:
    """The key of an entity (``schemas.versions.entity``): a 128-bit digest of its parts.

    The parts are joined by U+001F, which no identifier can contain (the
    contract refuses control characters), behind the number of parts, which
    tells the two kinds of entity apart: distinct identities have distinct
    inputs.
    """
    raw = bytes((len(identity),)) + "\x1f".join(identity).encode()
    return int.from_bytes(_blake2b(raw, digest_size=16).digest(), "big")


def pack_task(
    occurred_us: int,
    revision: int,
    dims: int,
    event_id: bytes,
    status: str,
    rework: bool,
    handle: int,
    has_turnaround: bool,
    turnaround: int,
    is_gold: bool,
    gold_correct: bool | None,
) -> bytes:
    """The record of a completion that counts (when it is the greatest of its entity)."""
    bits = STATUS_CODE[status]
    if rework:
        bits |= REWORK
    if has_turnaround:
        bits |= CREATED
    if is_gold:
        bits |= GOLD
    if gold_correct:
        bits |= GOLD_OK
    return (
        _HEAD.pack(occurred_us, revision, dims, 0, len(event_id))
        + _TASK.pack(bits, handle, turnaround)
        + event_id
    )


def pack_audit(
    occurred_us: int,
    revision: int,
    dims: int,
    event_id: bytes,
    verdict_index: int,
    score_micro: int | None,
    audit_micro: int | None,
    categories: list[str],
) -> bytes:
    """The record of an audit that counts (when it is the greatest of its entity)."""
    body = _AUDIT.pack(
        verdict_index,
        NONE if score_micro is None else score_micro,
        NONE if audit_micro is None else audit_micro,
        len(categories),
    )
    tail = "\x1f".join(categories).encode() if categories else b""
    return _HEAD.pack(occurred_us, revision, dims, AUDIT, len(event_id)) + body + event_id + tail


def pack_retraction(occurred_us: int, revision: int, event_id: bytes, audit: bool) -> bytes:
    """The record of a retraction: an order key, nothing counted."""
    flags = RETRACTED | (AUDIT if audit else 0)
    return _HEAD.pack(occurred_us, revision, NO_DIMS, flags, len(event_id)) + event_id


def order_of(record: bytes) -> tuple[int, int, bytes]:
    """A record's order key, as ``schemas.versions.order_key`` gives it for its event."""
    occurred_us, revision, _dims, flags, length = _HEAD.unpack_from(record)
    start = _HEAD.size + (0 if flags & RETRACTED else _AUDIT.size if flags & AUDIT else _TASK.size)
    return occurred_us, revision, record[start : start + length]


def minute_of(record: bytes) -> int:
    occurred_us: int = _HEAD.unpack_from(record)[0]
    return occurred_us // MINUTE_US


def is_retraction(record: bytes) -> bool:
    return bool(record[_FLAGS] & RETRACTED)


def is_audit(record: bytes) -> bool:
    return bool(record[_FLAGS] & AUDIT)


def task_values(record: bytes) -> TaskValues:
    """What a task record's version added (its record must be a task's, not a retraction)."""
    bits, handle, turnaround = _TASK.unpack_from(record, _HEAD.size)
    return (
        STATUS[bits & 3],
        bool(bits & REWORK),
        handle,
        bool(bits & CREATED),
        turnaround,
        bool(bits & GOLD),
        bool(bits & GOLD_OK),
    )


def audit_values(record: bytes) -> AuditValues:
    """What an audit record's version added (its record must be an audit's)."""
    length = _HEAD.unpack_from(record)[4]
    verdict, score, audit_time, n = _AUDIT.unpack_from(record, _HEAD.size)
    start = _HEAD.size + _AUDIT.size + length
    categories = record[start:].decode().split("\x1f") if n else []
    return (
        verdict,
        None if score == NONE else score,
        None if audit_time == NONE else audit_time,
        categories,
    )


class EntityTable:
    """The entities of one partition: mark -> record of the version that counts now."""

    __slots__ = ("by_minute", "dims", "dims_of", "dirty", "free", "records", "refs", "unused")

    def __init__(self) -> None:
        self.records: dict[int, bytes] = {}
        # minute of an entity's current version -> marks listed there. An entity's
        # current minute only grows (a greater version is not earlier), so it is
        # listed at most once per minute; a mark listed under a minute its entity
        # left is skipped where read (eviction, maxima).
        self.by_minute: dict[int, list[int]] = {}
        self.dims: dict[Dims, int] = {}
        self.dims_of: list[Dims | None] = []
        self.refs: list[int] = []  # records using each dims index
        self.unused: list[int] = []  # indexes whose count fell to 0 (or never rose): see sweep
        self.free: list[int] = []
        self.dirty: set[int] = set()  # marks changed since the last checkpoint

    def __len__(self) -> int:
        return len(self.records)

    # -- the per-event path -------------------------------------------------------------

    def intern(self, dims: Dims) -> int:
        """The index of a dimension tuple, given one if new (unused until a record takes it).

        Called in the per-event path's first phase: an index nobody takes is
        freed at the next eviction, so this changes nothing any result sees.
        """
        index = self.dims.get(dims)
        if index is None:
            if self.free:
                index = self.free.pop()
                self.dims_of[index] = dims
                self.refs[index] = 0
            else:
                index = len(self.dims_of)
                self.dims_of.append(dims)
                self.refs.append(0)
            self.dims[dims] = index
            self.unused.append(index)
        return index

    def put(self, mark: int, record: bytes, previous: bytes | None) -> None:
        """``record`` is now the entity's counting version (``previous`` was, if any)."""
        self.records[mark] = record
        occurred_us, _revision, dims, flags, _length = _HEAD.unpack_from(record)
        if not flags & RETRACTED:
            self.refs[dims] += 1
        minute = occurred_us // MINUTE_US
        if previous is not None:
            old_us, _revision, old_dims, old_flags, _length = _HEAD.unpack_from(previous)
            if not old_flags & RETRACTED:
                self._unref(old_dims)
            if old_us // MINUTE_US == minute:
                self.dirty.add(mark)
                return
        listed = self.by_minute.get(minute)
        if listed is None:
            self.by_minute[minute] = [mark]
        else:
            listed.append(mark)
        self.dirty.add(mark)

    def _unref(self, index: int) -> None:
        self.refs[index] -= 1
        if not self.refs[index]:
            self.unused.append(index)

    def window_of(self, record: bytes) -> WindowKey:
        """The window a (non-retraction) record's version counts in."""
        occurred_us, _revision, dims, _flags, _length = _HEAD.unpack_from(record)
        parts = self.dims_of[dims]
        assert parts is not None
        return (occurred_us // MINUTE_US * 60, *parts)

    def maxima(self, minute: int, dims: Dims) -> tuple[int, int]:
        """Handle time and turnaround maxima (µs) of the completions counting in a window.

        The recomputation after an undo (``streams.windows.remove_task``): the
        versions counting in the window are those listed under its minute
        whose current record is still there, with its dimensions.
        """
        index = self.dims.get(dims)
        handle = turnaround = 0
        if index is None:
            return handle, turnaround
        records = self.records
        for mark in self.by_minute.get(minute, ()):
            record = records.get(mark)
            if record is None:
                continue
            occurred_us, _revision, dims_index, flags, _length = _HEAD.unpack_from(record)
            if dims_index != index or flags or occurred_us // MINUTE_US != minute:
                continue  # another window, an audit or retraction, or moved on
            bits, h, t = _TASK.unpack_from(record, _HEAD.size)
            if bits & 3:
                continue  # not submitted: no handle time counted
            if h > handle:
                handle = h
            if bits & CREATED and t > turnaround:
                turnaround = t
        return handle, turnaround

    # -- eviction -------------------------------------------------------------------

    def evict(self, horizon_minute: int) -> None:
        """Forget entities whose counting version is older than the horizon, then free dims."""
        records = self.records
        for minute in [m for m in self.by_minute if m < horizon_minute]:
            for mark in self.by_minute.pop(minute):
                record = records.get(mark)
                if record is not None and minute_of(record) == minute:
                    del records[mark]
                    self.dirty.discard(mark)
                    if not is_retraction(record):
                        self._unref(_HEAD.unpack_from(record)[2])
        self.sweep()

    def sweep(self) -> None:
        """Free the dims indexes no record uses (never during the per-event path)."""
        for index in self.unused:
            parts = self.dims_of[index]
            if parts is not None and not self.refs[index]:
                del self.dims[parts]
                self.dims_of[index] = None
                self.free.append(index)
        self.unused = []

    # -- checkpoint records ---------------------------------------------------------------
    #
    # A record's entities: ``{"dims": [[project, queue, vendor, locale, source,
    # annotator], ...], "entities": [entry, ...]}``, an entry being ``[mark hex,
    # occurred_us, revision, event_id, dims]`` and then ``[bits, handle,
    # turnaround]`` for a completion, ``[verdict, score, audit_time,
    # categories]`` for an audit (score and audit time -1 when absent), or
    # ``"task"`` / ``"audit"`` for a retraction (whose ``dims`` is -1).
    # ``dims`` is a position in the record's own list: indexes of this table
    # never leave memory, so recovery may number them differently.

    def _entry(self, mark: int, record: bytes, position: int) -> list[Any]:
        occurred_us, revision, _dims, flags, length = _HEAD.unpack_from(record)
        if flags & RETRACTED:
            event_id = record[_HEAD.size : _HEAD.size + length].decode()
            kind = "audit" if flags & AUDIT else "task"
            return [format(mark, "x"), occurred_us, revision, event_id, -1, kind]
        if flags & AUDIT:
            start = _HEAD.size + _AUDIT.size
            verdict, score, audit_time, _n = _AUDIT.unpack_from(record, _HEAD.size)
            values: Any = [verdict, score, audit_time, audit_values(record)[3]]
        else:
            start = _HEAD.size + _TASK.size
            values = list(_TASK.unpack_from(record, _HEAD.size))
        event_id = record[start : start + length].decode()
        return [format(mark, "x"), occurred_us, revision, event_id, position, values]

    def entries(self, marks: Iterable[int]) -> dict[str, list[Any]]:
        """The records of these marks (those still held), for a delta record."""
        local: dict[int, int] = {}
        dims_out: list[list[str]] = []
        out: list[list[Any]] = []
        records = self.records
        for mark in marks:
            record = records.get(mark)
            if record is None:
                continue
            position = -1
            if not record[_FLAGS] & RETRACTED:
                dims = _HEAD.unpack_from(record)[2]
                position = local.get(dims, -1)
                if position < 0:
                    position = local[dims] = len(dims_out)
                    parts = self.dims_of[dims]
                    assert parts is not None
                    dims_out.append(list(parts))
            out.append(self._entry(mark, record, position))
        return {"dims": dims_out, "entities": out}

    def snapshot_dims(self) -> list[list[str] | None]:
        """Every dims tuple by its index (None where free), for a full snapshot."""
        return [None if parts is None else list(parts) for parts in self.dims_of]

    def snapshot_entries(self) -> Iterator[list[Any]]:
        """Every record, positions being this table's indexes (``snapshot_dims``)."""
        for mark, record in self.records.items():
            yield self._entry(mark, record, _HEAD.unpack_from(record)[2])

    def restore(self, part: dict[str, list[Any]]) -> None:
        """Recovery: the entries of a checkpoint record (``entries``), over what is held."""
        dims_list = part.get("dims", [])
        for mark_hex, occurred_us, revision, event_id, position, values in part.get("entities", ()):
            mark = int(mark_hex, 16)
            raw_id = event_id.encode()
            if position < 0:
                record = pack_retraction(occurred_us, revision, raw_id, values == "audit")
            else:
                dims = self.intern(tuple(dims_list[position]))  # type: ignore[arg-type]
                if len(values) == 3:
                    bits, handle, turnaround = values
                    record = (
                        _HEAD.pack(occurred_us, revision, dims, 0, len(raw_id))
                        + _TASK.pack(bits, handle, turnaround)
                        + raw_id
                    )
                else:
                    verdict, score, audit_time, categories = values
                    record = pack_audit(
                        occurred_us,
                        revision,
                        dims,
                        raw_id,
                        verdict,
                        None if score == NONE else score,
                        None if audit_time == NONE else audit_time,
                        categories,
                    )
            self.put(mark, record, self.records.get(mark))
        self.dirty.clear()
