"""Each queue's latest delivery forecast as terminal lines, at risk first.

``annotel top`` and the demo summary print these: open tasks, ETA, deadline and
slack per queue (``delivery_current`` through ``reports.delivery_queries``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from annotel.live_view import fit, pad
from reports.delivery_queries import current, has_delivery
from schemas.units import count, duration, from_epoch_us, hhmm


def read_delivery(client: Any) -> list[dict[str, Any]]:
    """``delivery_current`` as plain values (JSON-ready for ``--json``)."""
    if not has_delivery(client):
        return []
    rows = current(client, datetime(2106, 1, 1, tzinfo=UTC))
    return [
        {
            "project_id": row["project_id"],
            "queue_id": row["queue_id"],
            "open_tasks": int(row["open_tasks"]),
            "throughput_per_hour": float(row["throughput_per_hour"]),
            "eta_us": row["eta_us"],
            "due_us": row["due_us"],
            "slack_h": row["slack_h"],
            "annotators_gap": row["annotators_gap"],
        }
        for row in rows
    ]


def _time(micros: int | None) -> str:
    return "stalled" if micros is None else hhmm(from_epoch_us(micros))


def delivery_lines(
    rows: list[dict[str, Any]],
    title: str = "delivery forecast at the end of the feed (UTC; annotel report has the burn-down)",
) -> list[str]:
    """A title, then open tasks, ETA, deadline and slack per queue, one line each."""
    if not rows:
        return []
    out = [f"  {title}"]
    out.append(f"    {pad('queue', 46)}{'open':>8}{'ETA':>9}{'due':>7}  slack")
    for row in rows:
        queue = f"{row['project_id']} / {row['queue_id']}"
        slack = row["slack_h"]
        if slack is None:
            slack_text = "-" if row["due_us"] is None else "stalled"
        else:
            slack_text = ("-" if slack < 0 else "+") + duration(abs(slack) * 3600)
        due = "-" if row["due_us"] is None else hhmm(from_epoch_us(row["due_us"]))
        out.append(
            f"    {pad(fit(queue, 45), 46)}{count(row['open_tasks']):>8}"
            f"{_time(row['eta_us']):>9}{due:>7}  {slack_text}"
        )
    return out
