"""The JSON of an event: the fields both event types share, and a template's fixed parts.

Audits and versions are built as dicts and serialised by orjson; a
task_completed line, the most frequent, is filled into a text template whose
fixed parts (who labels where) are JSON-escaped by orjson once per
(queue, annotator, source) and kept: the same bytes, about twice as fast.
The ``malformed`` incident's messages start from such events too, broken by
``simulator.incidents.break_event`` and never published whole.
"""

from __future__ import annotations

from typing import Any

import orjson

from simulator.calibration import TRANSPORT
from simulator.incidents import break_event
from simulator.state import BAD, RunState
from simulator.world import Queue


class EventLines(RunState):
    """Builds event lines (and malformed ones) from the run's counters and timestamps."""

    def _head(
        self,
        kind: str,
        t: float,
        queue: Queue,
        task_id: str,
        annotator_id: str,
        vendor_id: str | None,
        source: str,
    ) -> dict[str, Any]:
        """The fields both event types share, in contract order."""
        project = queue.project
        self.event_seq += 1
        event: dict[str, Any] = {
            "event_type": "task_completed" if kind == "tc" else "task_audited",
            "schema_version": 1,
            "event_id": f"{kind}-{self.token}-{self.event_seq:07d}",
            "occurred_at": self._fmt(t, project),
            "project_id": project.project_id,
            "queue_id": queue.queue_id,
            "task_id": task_id,
            "annotator_id": annotator_id,
        }
        if vendor_id is not None or project.inhouse_null:
            event["vendor_id"] = vendor_id  # in-house: null, or absent in some feeds
        event["locale"] = queue.locale
        event["source"] = source
        return event

    def _static(
        self, queue: Queue, annotator_id: str, vendor_id: str | None, source: str, tags: Any
    ) -> tuple[str, str, str]:
        """The JSON fragments of a task_completed line that depend on who labels where."""
        project = queue.project
        middle = orjson.dumps({"project_id": project.project_id, "queue_id": queue.queue_id})
        who: dict[str, Any] = {"annotator_id": annotator_id}
        if vendor_id is not None or project.inhouse_null:
            who["vendor_id"] = vendor_id  # in-house: null, or absent in some feeds
        who.update(locale=queue.locale, source=source, task_type=queue.task_type.name)
        tail = orjson.dumps(who).decode()[1:-1]
        tags_text = ',"tags":' + orjson.dumps(tags).decode() if tags else ""
        parts = (middle.decode()[1:-1] + ",", tail, tags_text)
        self.static[(queue.index, annotator_id, source)] = parts
        return parts

    def _malformed(self, t: float, kind: str) -> None:
        """Build the malformed message of ``kind`` from events that are never published."""
        zh = [q for q in self.world.queues if q.language == "zh"]
        pool = zh if kind in ("gbk_encoded", "chinese_timestamp") and zh else self.world.queues
        queue = pool[int(self.rnd() * len(pool))]
        person = queue.annotators[0]
        task_id = f"{self.token}-bad-{len(self.malformed) + 1}"
        completed = self._head(
            "tc", t, queue, task_id, person.annotator_id, person.vendor_id, "human"
        )
        completed.update(
            task_type=queue.task_type.name,
            status="submitted",
            handle_time_s=45.2,
            task_created_at=self._fmt(t - 3600, queue.project),
            attempt=1,
        )
        audited = self._head(
            "ta", t, queue, task_id, person.annotator_id, person.vendor_id, "human"
        )
        audited.update(auditor_id=queue.project.auditors[0], verdict="approve", score=0.9)
        line = break_event(kind, completed, audited)
        self._push(t + self.rnd() * TRANSPORT, BAD, (line, kind, queue.project.index))
