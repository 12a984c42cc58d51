"""The version rule's comparison: which of an entity's accepted events counts.

Platforms re-send work: an annotation is edited, deleted, re-reviewed. The
versions of one piece of work share an *entity*, and among the accepted
(valid, non-duplicate) events of an entity exactly one counts: the greatest
by ``order_key``. If that one is a retraction, the entity counts nowhere.
The result depends on the set of events only, never on the order they
arrive in, so the comparison is a total order over what the contract
accepts (two events of one entity with equal keys have the same event_id,
i.e. are duplicates).

This module is the one definition of that comparison: the state that applies
the rule calls these functions; nothing else re-implements them (the test
oracle does, on purpose, independently).
"""

from __future__ import annotations

from schemas.events import (
    ContractEvent,
    TaskAudited,
    TaskAuditedRetraction,
)
from schemas.units import epoch_us

CompletionEntity = tuple[str, str]
"""``(project_id, submission_id)``: a submission, however often edited."""
AuditEntity = tuple[str, str, str]
"""``(project_id, task_id, annotator_id)``: the audited annotator's work on a task."""
Entity = CompletionEntity | AuditEntity
OrderKey = tuple[int, int, bytes]
"""``(occurred_at in epoch µs, revision, event_id as UTF-8)``, compared in that order."""


def entity(event: ContractEvent) -> Entity | None:
    """The entity an event is a version of; None for a task_completed without submission_id.

    Such a completion is a piece of work of its own (the rule before versions):
    nothing can supersede or retract it. Every audit has an entity, with or
    without the version fields: only the latest audit of a piece of work counts.
    The two kinds of entity differ in length, so they never compare equal.
    """
    # By the event type's literal, not isinstance: the models' metaclass is an
    # ABCMeta, whose isinstance costs about a microsecond on the per-event path.
    if event.event_type == "task_audited":
        audit: TaskAudited | TaskAuditedRetraction = event  # type: ignore[assignment]
        return (audit.project_id, audit.task_id, audit.annotator_id)
    if event.submission_id is None:  # type: ignore[union-attr]
        return None
    return (event.project_id, event.submission_id)  # type: ignore[union-attr]


def order_key(event: ContractEvent) -> OrderKey:
    """The greatest key of an entity's versions counts.

    The source's event time first (a later edit wins whatever its revision),
    then the revision (two versions stamped in the same microsecond), then the
    event_id's UTF-8 bytes, so that any two distinct events are ordered.
    """
    return (epoch_us(event.occurred_at), event.revision, event.event_id.encode())


def contributes(event: ContractEvent) -> bool:
    """Whether the event, when it is the version that counts, adds to its window."""
    return not event.retracted
