"""``queue_status``: a snapshot of how much work a queue has left, and when it is due.

A third event type beside the two of ``schemas.events``, additive to contract
v1. Platforms report queue counters, not the work itself (Label Studio's
``task_number - finished_task_number`` in every webhook, SageMaker Ground
Truth's label counters, Toloka's pool analytics), so the forecast's input is a
snapshot rather than a sum: per ``(project_id, queue_id)`` the latest snapshot
counts, the greatest by ``(occurred_at, event_id)`` (``snapshot_order``), the
same rule as for versions of a piece of work. A snapshot never changes an
aggregate of ``metrics_1m``.

It travels on the completed-tasks topic, keyed by ``project_id`` like every
event: the snapshot then shares the partition, and the worker, of the
submissions it is forecast from (docs/architecture.md says why).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from schemas.events import (
    EventTime,
    Identifier,
    _Contract,
    _event_id,
    _occurred_at,
    _schema_version,
)
from schemas.storage import OCCURRED_AT_RANGE

# Counts are stored as UInt32 (4 billion work units is far beyond any queue).
COUNT_MAX = 2**32 - 1
# A deadline is an event-time instant, within the same bounds as occurred_at.
DUE_AT_RANGE = OCCURRED_AT_RANGE

_OPEN = "Work units still needing a submission."
_IN_PROGRESS = "Work units being worked on now (informative; not in the forecast)."
_TARGET = "Work units the delivery plan covers."
_DUE = "The delivery deadline, RFC 3339 with an offset; a plan's due_at takes precedence."


class QueueStatus(_Contract):
    """A snapshot of a queue's remaining work; the latest per queue counts."""

    model_config = ConfigDict(
        title="queue_status",
        json_schema_extra={"$id": "https://annotation-telemetry/schemas/v1/queue_status"},
    )

    event_type: Literal["queue_status"]
    schema_version: Literal[1] = _schema_version()
    event_id: Identifier = _event_id()
    occurred_at: EventTime = _occurred_at()
    project_id: Identifier
    queue_id: Identifier
    open_tasks: int = Field(ge=0, le=COUNT_MAX, description=_OPEN)
    in_progress: int | None = Field(default=None, ge=0, le=COUNT_MAX, description=_IN_PROGRESS)
    target_total: int | None = Field(default=None, ge=0, le=COUNT_MAX, description=_TARGET)
    due_at: EventTime | None = Field(default=None, description=_DUE)


SnapshotOrder = tuple[datetime, bytes]


def snapshot_order(snapshot: QueueStatus) -> SnapshotOrder:
    """The order in which snapshots of one queue supersede each other.

    Event time first, then ``event_id`` by its UTF-8 bytes (as
    ``schemas.versions`` orders versions), so the latest is the same whatever
    order the snapshots arrived in, and a duplicate is a tie that changes nothing.
    """
    return (snapshot.occurred_at, snapshot.event_id.encode())
