"""The report's Delivery section: per queue, the latest forecast and its burn-down.

Will each queue be delivered by its deadline? Read from ``delivery_1m`` as of
the period's end (``reports.delivery_queries``): queues at risk first (stalled,
then by slack), each with its open tasks over the period, the projection to
its ETA, the deadline, the staffing figure and the forecast in words
(``schemas.forecast_text``, the delivery alerts' own text).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from reports import delivery_queries as dq
from reports.period import Period
from schemas import units
from schemas.forecast_text import day_time, forecast_text


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


# The table's words, one spelling for the HTML and the Markdown report.


def slack_words(queue: DeliveryQueue) -> str:
    row = queue.forecast
    if row["due_us"] is None:
        return "no deadline"
    if row["slack_h"] is None:
        return "stalled"
    slack = float(row["slack_h"])
    return f"{'late by' if slack < 0 else 'ahead by'} {units.duration(abs(slack) * 3600)}"


def staffing_words(queue: DeliveryQueue) -> str:
    row = queue.forecast
    if row["annotators_needed"] is None:
        return "–"
    needed = math.ceil(float(row["annotators_needed"]))
    return f"{units.count(needed)} needed / {units.count(int(row['annotators_active']))} active"


def when_words(micros: int | None, missing: str) -> str:
    return missing if micros is None else day_time(int(micros))


def at_risk(queue: DeliveryQueue) -> bool:
    """Late or stalled against a deadline."""
    row = queue.forecast
    return row["due_us"] is not None and (row["slack_h"] is None or row["slack_h"] < 0)
