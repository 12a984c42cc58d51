"""Dedup marks: which events a partition has accepted, in as few bytes as exactness allows.

A partition keeps a mark per accepted event for the whole retention horizon
(48 h by default), so that a redelivery, however late, is a duplicate and not
a second count. Their size per event is therefore what bounds the worker's
memory, and a mark is one int instead of the ``project_id \\x1f event_id``
string (60 to 150 bytes): the project's index in a small table, then the
event id's own UTF-8 bytes when it has at most 17 of them (exact: no two ids
share a mark), else the id's 128-bit BLAKE2b digest (``dedup_mark``). Two
different long ids of one project share a digest with probability about
n² / 2¹²⁹ for n held: about 1e-27 for a million, i.e. never in practice (a
collision would drop one event as a duplicate). Such an int takes 48 bytes.

Marks are indexed by the minute of their event, so that they leave with the
horizon minute by minute (``DedupMarks.evict``). Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from typing import Any

EXACT_MARK_BYTES = 17  # event ids up to this many UTF-8 bytes are their own mark
DIGEST_MARKS = 1 << (8 * (EXACT_MARK_BYTES + 1))  # digests sit above every exact mark
# A held mark is ``project index << PROJECT_SHIFT | dedup_mark(event_id)``: up to
# 180 bits (2**35 projects), a 6-digit int of 48 bytes.
PROJECT_SHIFT = 8 * (EXACT_MARK_BYTES + 1) + 1
EVENT_BITS = (1 << PROJECT_SHIFT) - 1

_blake2b = hashlib.blake2b


def dedup_mark(event_id: str) -> int:
    """The part of a dedup mark that comes from the event id (see PROJECT_SHIFT).

    Up to EXACT_MARK_BYTES of UTF-8: the bytes themselves behind a 0x01 byte
    (injective). Longer ids: their 128-bit BLAKE2b digest, above all of those.
    Below 2**PROJECT_SHIFT either way. (``PartitionState.process`` inlines the
    short case: it runs for every event.)
    """
    raw = event_id.encode()
    if len(raw) <= EXACT_MARK_BYTES:
        return int.from_bytes(b"\x01" + raw, "big")
    return digest_mark(raw)


def digest_mark(raw: bytes) -> int:
    """The mark of an event id longer than EXACT_MARK_BYTES (its UTF-8 bytes)."""
    return DIGEST_MARKS | int.from_bytes(_blake2b(raw, digest_size=16).digest(), "big")


def decode_marks(text: str) -> list[int]:
    """The marks of a checkpoint record's ``"hex,hex,..."`` entry."""
    return [int(mark, 16) for mark in text.split(",")] if text else []


class DedupMarks(AbstractSet[tuple[str, int]]):
    """The marks a partition holds, by minute, and its project index table.

    Read as a set of ``(project_id, dedup_mark)`` pairs. The per-event path
    (``PartitionState.process``) adds to ``seen`` and ``by_minute`` itself;
    eviction, recovery and the checkpoint records go through the methods.
    Projects get an index in order of appearance, never reused (see
    ``forget_projects``).
    """

    __slots__ = ("by_minute", "forget_at", "project_base", "projects", "seen")

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.by_minute: dict[int, list[int]] = {}  # minute -> its marks
        self.project_base: dict[str, int] = {}  # project -> index << PROJECT_SHIFT
        self.projects: list[str | None] = []  # index -> project (None: forgotten)
        self.forget_at = 64

    # -- the set of (project_id, dedup_mark) ----------------------------------------

    def __len__(self) -> int:
        return len(self.seen)

    def __contains__(self, item: object) -> bool:
        if not isinstance(item, tuple) or len(item) != 2:
            return False
        base = self.project_base.get(item[0])
        return base is not None and base | item[1] in self.seen

    def __iter__(self) -> Iterator[tuple[str, int]]:
        for mark in self.seen:
            yield self.project_of(mark), mark & EVENT_BITS

    # -- projects -------------------------------------------------------------------

    def new_project(self, project: str) -> int:
        base = len(self.projects) << PROJECT_SHIFT
        self.projects.append(project)
        self.project_base[project] = base
        return base

    def forget_projects(self) -> None:
        """Drop projects no held mark names (their indexes are not reused).

        Runs when the table has doubled since last time: a scan of the marks
        held, rare enough to cost nothing per event.
        """
        held = {mark >> PROJECT_SHIFT for mark in self.seen}
        for index, project in enumerate(self.projects):
            if project is not None and index not in held:
                del self.project_base[project]
                self.projects[index] = None
        self.forget_at = max(64, 2 * len(self.project_base))

    def project_of(self, mark: int) -> str:
        project = self.projects[mark >> PROJECT_SHIFT]
        assert project is not None
        return project

    # -- minutes --------------------------------------------------------------------

    def evict(self, horizon_minute: int) -> None:
        """Forget the marks of events older than the horizon: they can no longer be told apart."""
        old_minutes = [m for m in self.by_minute if m < horizon_minute]
        for minute in old_minutes:
            self.seen.difference_update(self.by_minute.pop(minute))
        if old_minutes and len(self.project_base) >= self.forget_at:
            self.forget_projects()

    def marks_of_minute(self, minute: int) -> set[tuple[str, int]]:
        """The dedup marks held for a minute, as (project_id, dedup_mark) pairs."""
        return {
            (self.project_of(mark), mark & EVENT_BITS) for mark in self.by_minute.get(minute, ())
        }

    # -- checkpoint records ---------------------------------------------------------

    def restore(self, minute: int, project: str, event_marks: list[int]) -> None:
        """Recovery: marks of one project and minute, as dedup_mark gave them."""
        base = self.project_base.get(project)
        if base is None:
            base = self.new_project(project)
        seen = self.seen
        listed = self.by_minute.setdefault(minute, [])
        for event_mark in event_marks:
            mark = base | event_mark
            if mark not in seen:
                seen.add(mark)
                listed.append(mark)
        if not listed:
            del self.by_minute[minute]

    def by_project(self) -> Iterator[list[Any]]:
        """Every mark held, as record entries ``[minute, project, "hex,hex,..."]``."""
        groups: dict[tuple[int, int], list[int]] = {}
        for minute, marks in self.by_minute.items():
            for mark in marks:
                group = (minute, mark >> PROJECT_SHIFT)
                listed = groups.get(group)
                if listed is None:
                    groups[group] = [mark]
                else:
                    listed.append(mark)
        projects = self.projects
        return (
            [m, projects[p], ",".join([format(mark & EVENT_BITS, "x") for mark in marks])]
            for (m, p), marks in groups.items()
        )
