"""``type: delivery``: a queue's delivery forecast against its deadline or its staffing.

A threshold rule in every respect (op, threshold, resolve_threshold, for,
repeat, no data, silences, inhibition) whose value is not a rate of the
window's sums but the queue's forecast (``schemas.forecast``) as of the
window's last closed minute: ``slack_h`` (hours from the ETA to the deadline;
``op: "<"``, ``threshold: 0`` fires when the forecast misses the deadline) or
``annotators_gap`` (annotators needed at today's AHT minus those active;
``op: ">"``). Its scope is always the queue.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from alerts.rules.model import ThresholdRule

DELIVERY_METRICS = ("slack_h", "annotators_gap")
DELIVERY_SCOPE = ("project_id", "queue_id")
# What a delivery rule's annotations may use besides a threshold rule's fields.
DELIVERY_FIELDS = (
    "open_tasks",
    "throughput_per_hour",
    "annotators_needed",
    "annotators_active",
    "annotators_gap",
    "slack_h",
    "forecast",
)


class DeliveryRule(ThresholdRule):
    """Fires when a queue's forecast compares with ``threshold`` by ``op``."""

    type: Literal["delivery"] = "delivery"  # type: ignore[assignment]
    window: int = 60
    scope: tuple[str, ...] = Field(DELIVERY_SCOPE, strict=False)

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if value not in DELIVERY_METRICS:
            raise ValueError(
                f"unknown delivery metric {value!r}; expected one of {', '.join(DELIVERY_METRICS)}"
            )
        return value

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if tuple(value) != DELIVERY_SCOPE:
            raise ValueError("a delivery rule's scope is [project_id, queue_id] (the queue)")
        return tuple(value)
