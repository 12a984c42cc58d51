"""Delivery plans: what a program manager promised, per project and queue.

A queue's snapshot (``queue_status``) may carry its own ``due_at`` and
``target_total``; a plan's values take precedence, since the plan is what the
delivery is judged against and platforms often know no deadline at all. The
file is ``ANNOTEL_PLANS_FILE`` (YAML), checked by ``annotel plans check``.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.events import EventTime, Identifier
from schemas.forecast import DEFAULT_HOURS_PER_DAY, DEFAULT_UTILIZATION
from schemas.queue_status import COUNT_MAX

PLANS_VERSION = 1


class Plan(BaseModel):
    """One queue's plan."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    project_id: Identifier
    queue_id: Identifier
    due_at: EventTime | None = None
    target_total: int | None = Field(default=None, ge=0, le=COUNT_MAX)
    daily_target: int | None = Field(default=None, ge=0, le=COUNT_MAX)
    utilization: float = Field(default=DEFAULT_UTILIZATION, gt=0, le=1)
    hours_per_day: float = Field(default=DEFAULT_HOURS_PER_DAY, gt=0, le=24)


class PlansFile(BaseModel):
    """The file: a version and the plans, one per (project_id, queue_id)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(PLANS_VERSION, ge=PLANS_VERSION, le=PLANS_VERSION)
    plans: list[Plan] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> PlansFile:
        seen: set[tuple[str, str]] = set()
        for plan in self.plans:
            key = (plan.project_id, plan.queue_id)
            if key in seen:
                raise ValueError(f"two plans for project {key[0]!r}, queue {key[1]!r}")
            seen.add(key)
        return self


PlanKey = tuple[str, str]


def plans_by_queue(plans: Sequence[Plan]) -> dict[PlanKey, Plan]:
    return {(plan.project_id, plan.queue_id): plan for plan in plans}
