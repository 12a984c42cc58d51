"""The ClickHouse reads of the delivery forecast: each queue's latest forecast, its burn-down.

Read-only, parameterized, over ``delivery_1m`` / ``delivery_current``
(``sinks.delivery_schema``). Times come back as epoch microseconds (``eta_us``,
``due_us``, ``now_us``), the unit of ``schemas.forecast`` and
``schemas.forecast_text``, so what the report and the terminal print is what
the alerts say.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from reports.queries import fetch_rows, tables
from schemas.forecast_text import QueueForecast

_CURRENT = """
SELECT project_id, queue_id, toUnixTimestamp(window_start) AS minute, open_tasks,
    target_total, daily_target, window_s, submitted_24h, throughput_per_hour,
    throughput_24h_per_hour, toUnixTimestamp64Micro(eta) AS eta_us,
    toUnixTimestamp64Micro(due_at) AS due_us, slack_h, required_per_hour, aht_s,
    annotators_needed, annotators_active, annotators_gap
FROM delivery_1m FINAL
WHERE window_start < {end:DateTime('UTC')}
ORDER BY project_id, queue_id, window_start DESC
LIMIT 1 BY project_id, queue_id
"""

_BURN_DOWN = """
SELECT project_id, queue_id, toUnixTimestamp(window_start) AS minute, open_tasks
FROM delivery_1m FINAL
WHERE window_start >= {start:DateTime('UTC')} AND window_start < {end:DateTime('UTC')}
ORDER BY project_id, queue_id, window_start
"""


def has_delivery(client: Any) -> bool:
    """Whether the database has the forecast's table (a database migrated before it has not)."""
    return "delivery_1m" in tables(client)


def current(client: Any, end: datetime) -> list[dict[str, Any]]:
    """Each queue's latest forecast before ``end``, at risk first (``at_risk_order``)."""
    rows = fetch_rows(client, _CURRENT, {"end": end.astimezone(UTC)})
    for row in rows:
        row["now_us"] = (int(row["minute"]) + 60) * 1_000_000
    return sorted(rows, key=at_risk_order)


def at_risk_order(row: Mapping[str, Any]) -> tuple[int, float, str, str]:
    """Stalled queues with a deadline first, then by slack (least first), no deadline last."""
    if row["due_us"] is None:
        return (2, 0.0, row["project_id"], row["queue_id"])
    if row["slack_h"] is None:
        return (0, 0.0, row["project_id"], row["queue_id"])
    return (1, float(row["slack_h"]), row["project_id"], row["queue_id"])


def burn_down(
    client: Any, start: datetime, end: datetime
) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """(project, queue) -> [(minute epoch s, open tasks)] over ``[start, end)``."""
    series: dict[tuple[str, str], list[tuple[int, int]]] = {}
    params = {"start": start.astimezone(UTC), "end": end.astimezone(UTC)}
    for row in fetch_rows(client, _BURN_DOWN, params):
        key = (row["project_id"], row["queue_id"])
        series.setdefault(key, []).append((int(row["minute"]), int(row["open_tasks"])))
    return series


def queue_forecast(row: Mapping[str, Any]) -> QueueForecast:
    """A ``current`` row as ``schemas.forecast_text`` reads it."""
    return QueueForecast(
        now_us=int(row["now_us"]),
        open_tasks=int(row["open_tasks"]),
        throughput_per_hour=float(row["throughput_per_hour"]),
        window_s=int(row["window_s"]),
        eta_us=None if row["eta_us"] is None else int(row["eta_us"]),
        due_us=None if row["due_us"] is None else int(row["due_us"]),
        slack_h=None if row["slack_h"] is None else float(row["slack_h"]),
        annotators_needed=row["annotators_needed"],
        annotators_active=int(row["annotators_active"]),
        annotators_gap=row["annotators_gap"],
    )
