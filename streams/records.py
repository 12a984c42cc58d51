"""The checkpoint record of a partition: what it holds, how it is built, how recovery applies it.

A record carries everything that changed since the previous one (windows,
error counts, the new dedup marks, counters) with the input offsets and the
watermark it covers, so that state, offsets and what was emitted can never
disagree after a crash: recovery applies the records in order and resumes
reading at exactly the recorded offsets. A full record (a snapshot) holds the
whole state; replaying from it alone rebuilds the partition. Records are JSON
(orjson keeps strings and integers exact); ``streams.statelog`` cuts them into
chunks for the state topic. Pure: no I/O.

Format 3: a delta carries its new dedup marks as the events' (minute,
project_id, event_id) columns (``seen_ids``); a full snapshot carries every
mark held (hex, grouped by minute and project: ``seen``) and the packed
minutes as they are (base64). Windows carry the state's two floors after
their fields (``streams.windows.HELD``), and ``versions`` the records of the
entities changed since the previous checkpoint (a full snapshot: all of them;
``streams.entities.EntityTable.entries``). Recovery still reads format 2
records (windows of WIDTH fields, no entities: every contribution before
versions was permanent) and format 1 (marks as ``project\\x1fevent_id``
strings).
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson

from schemas.json_pieces import json_array
from streams.dedup import decode_marks, dedup_mark
from streams.pending import dedup_keys
from streams.windows import MINUTE_US, WindowKey, held

if TYPE_CHECKING:
    from streams.partition import PartitionState

RECORD_FORMAT = 3


def delta(state: PartitionState) -> dict[str, Any]:
    """The checkpoint record: everything that changed, plus offsets and clock."""
    minutes, projects, event_ids = dedup_keys(state.pending_tasks, state.pending_audits, MINUTE_US)
    windows = state.store.windows
    errors = state.store.errors
    return {
        "v": RECORD_FORMAT,
        "p": state.partition,
        "seq": state.record_seq,
        "offsets": dict(state.offsets),
        "max_us": state.max_event_us,
        "topic_max": dict(state.topic_max),
        "closed_before": state.closed_before,
        "version": state.version,
        "counters": dict(state.counters),
        # The marks added since the last checkpoint, as the events' own keys.
        "seen": [],
        "seen_ids": {"minute": minutes, "project": projects, "event_id": event_ids},
        "windows": [[*k, *windows[k]] for k in state.dirty_windows if k in windows],
        "errors": [[*k[0], k[1], errors[k]] for k in state.dirty_errors if k in errors],
        "versions": state.entities.entries(state.entities.dirty),
    }


def full_record(state: PartitionState) -> dict[str, Any]:
    """A delta that holds everything: replaying from it alone rebuilds this state."""
    record: dict[str, Any] = orjson.loads(b"".join(full_record_json(state)))
    return record


def full_record_json(state: PartitionState) -> Iterator[bytes]:
    """``full_record`` as consecutive pieces of its JSON, for ``encode_chunks``.

    Written piece by piece because a full record of a partition with
    hundreds of thousands of windows would otherwise exist three times at
    once (objects, JSON, chunks): the worker's memory peak at scale.
    """
    head = delta(state)
    del head["windows"], head["errors"], head["seen"], head["versions"]
    head["seen_ids"] = {"minute": [], "project": [], "event_id": []}
    head["full"] = True
    yield orjson.dumps(head)[:-1]
    del head
    store = state.store
    # Every mark held (the event ids are not kept), grouped by minute and project.
    yield b',"seen":'
    yield from json_array(state.marks.by_project(), batch=64)
    yield b',"windows":'
    yield from json_array([*k, *agg] for k, agg in store.windows.items())
    yield b',"errors":'
    yield from json_array([*k[0], k[1], n] for k, n in store.errors.items())
    yield b',"packed":'
    yield from json_array(
        ([start, base64.b64encode(blob).decode()] for start, blob in store.packed.items()),
        batch=16,  # a packed minute is kilobytes, not a few numbers
    )
    entities = state.entities
    yield b',"versions":{"dims":'
    yield orjson.dumps(entities.snapshot_dims())
    yield b',"entities":'
    yield from json_array(entities.snapshot_entries())
    yield b"}}"


def apply(state: PartitionState, record: dict[str, Any]) -> None:
    """Recovery: apply one checkpoint record, as the live state did when writing it."""
    state.seq = record["seq"]
    state.offsets = dict(record["offsets"])
    state.max_event_us = record["max_us"]
    state.topic_max = dict(record.get("topic_max", {}))
    state.closed_before = closed_before = record["closed_before"]
    state.version = record["version"]
    counters = Counter(record["counters"])
    state.events_in = counters.pop("events_in", 0)
    state.accepted_count = counters.pop("accepted", 0)
    state.duplicates = counters.pop("duplicates", 0)
    state.late = counters.pop("late", 0)
    state.superseded = counters.pop("superseded", 0)
    state.retractions = counters.pop("retractions", 0)
    state.other_counters = counters
    state.marked_in = state.events_in
    marks = state.marks
    for entry in record["seen"]:
        if record.get("v", 1) >= 2:
            minute, project, text = entry
            marks.restore(minute, project, decode_marks(text))
        else:  # format 1: [minute, "project_id\x1fevent_id"]
            minute, dedup_key = entry
            project, _, event_id = dedup_key.partition("\x1f")
            marks.restore(minute, project, [dedup_mark(event_id)])
    ids = record.get("seen_ids")
    if ids:
        for minute, project, event_id in zip(
            ids["minute"], ids["project"], ids["event_id"], strict=True
        ):
            marks.restore(minute, project, [dedup_mark(event_id)])
    store = state.store
    for start, text in record.get("packed", ()):
        store.restore_packed(start, base64.b64decode(text), closed_before)
    for row in record["windows"]:
        key: WindowKey = tuple(row[:7])  # type: ignore[assignment]
        store.restore_window(key, held(list(row[7:])), closed_before)
    for row in record["errors"]:
        store.restore_error((tuple(row[:7]), row[7]), row[8], closed_before)  # type: ignore[arg-type]
    state.entities.restore(record.get("versions", {}))
    state.evict()
    if state.pack_closed:
        state.pack()
