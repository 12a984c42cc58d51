"""The report's Delivery section: per queue, the latest forecast and its burn-down.

Will each queue be delivered by its deadline? Read from ``delivery_1m`` as of
the period's end (``reports.delivery_queries``): queues at risk first (stalled,
then by slack), each with its open tasks over the period, the projection to
its ETA, the deadline, the staffing figure and the forecast in words
(``schemas.forecast_text``, the delivery alerts' own text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reports import delivery_queries as dq
from reports.period import Period
from schemas.forecast_text import forecast_text


@dataclass
class DeliveryQueue:
    project_id: str
    queue_id: str
    forecast: dict[str, Any]  # the latest delivery_1m row (reports.delivery_queries.current)
    text: str
    burn_down: list[tuple[int, int]] = field(default_factory=list)  # (minute, open tasks)


@dataclass
class DeliverySection:
    queues: list[DeliveryQueue] = field(default_factory=list)


def delivery_section(client: Any, period: Period) -> DeliverySection | None:
    """The section, or None for a database without the forecast's table."""
    if not dq.has_delivery(client):
        return None
    series = dq.burn_down(client, period.start, period.end)
    return DeliverySection(
        [
            DeliveryQueue(
                row["project_id"],
                row["queue_id"],
                row,
                forecast_text(dq.queue_forecast(row)),
                series.get((row["project_id"], row["queue_id"]), []),
            )
            for row in dq.current(client, period.end)
        ]
    )
