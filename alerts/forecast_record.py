"""A delivery forecast as it travels from the worker to the alert stage, field by field.

One list per queue and closed minute, inside the windows topic's ``piece``
records (``alerts.handoff``): built by ``streams.delivery.handoff_record``,
read by ``alerts.evaluator.delivery``. Its own module, so both sides import
the layout without importing each other.
"""

from __future__ import annotations

FORECAST_FIELDS = (
    "project_id",
    "queue_id",
    "now_us",
    "open_tasks",
    "throughput_per_hour",
    "window_s",
    "eta_us",
    "due_us",
    "slack_h",
    "annotators_needed",
    "annotators_active",
    "annotators_gap",
)
