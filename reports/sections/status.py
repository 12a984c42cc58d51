"""``annotel top``'s status: every project over the last hour of data (event time).

Measured over the last hour before the end of the newest minute, or since the
data began when that is less; a project quiet for the whole hour is still
listed, with its last minute, so a stall shows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from alerts.rules import THROUGHPUT
from reports.figures import Figures, combine
from reports.period import Period
from schemas import units
from schemas.metrics import WINDOW_SECONDS

HOUR = timedelta(hours=1)


@dataclass
class ProjectStatus:
    project_id: str
    figures: Figures
    last_minute: datetime | None
    firing: int


@dataclass
class Status:
    as_of: datetime | None  # the end of the newest minute with data
    start: datetime | None  # the start of the span measured (an hour, or since data began)
    projects: list[ProjectStatus]
    firing: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": units.rfc3339(self.as_of),
            "window_start": units.rfc3339(self.start),
            "window_s": (self.as_of - self.start).total_seconds()
            if self.as_of and self.start
            else None,
            "projects": [
                {
                    "project_id": p.project_id,
                    "tasks_submitted": p.figures.n("tasks_submitted"),
                    "throughput_per_hour": p.figures.rate(THROUGHPUT),
                    "aht_s": p.figures.rate("aht_s"),
                    "audits": p.figures.n("audits"),
                    "audit_pass_rate": p.figures.rate("audit_pass_rate"),
                    "gold_submitted": p.figures.n("gold_submitted"),
                    "gold_accuracy": p.figures.rate("gold_accuracy"),
                    "firing_alerts": p.firing,
                    "last_minute": units.rfc3339(p.last_minute),
                }
                for p in self.projects
            ],
            "firing_alerts": len(self.firing),
        }


def status_span(bounds: tuple[datetime, datetime] | None) -> Period | None:
    """The span measured, from the first and the last minute with data (``None``: no data)."""
    if bounds is None:
        return None
    end = bounds[1] + timedelta(seconds=WINDOW_SECONDS)
    return Period(max(end - HOUR, bounds[0]), end)


def status(
    span: Period | None,
    firing: list[dict[str, Any]],
    sums: Sequence[Mapping[str, Any]],
    latest: Sequence[Mapping[str, Any]],
) -> Status:
    """The status from the firing alerts (``reports.queries.current_alerts``), the sums per
    ``project_id`` over ``span`` and each project's last minute
    (``reports.queries.latest_minutes``); busiest project first."""
    if span is None:
        return Status(None, None, [], firing)
    rows = {str(r["project_id"]): r for r in sums}
    last = {str(r["project_id"]): r["last_minute"] for r in latest}
    per_project = Counter(str((a["labels"] or {}).get("project_id", "")) for a in firing)
    projects = [
        ProjectStatus(
            project,
            Figures(combine([rows[project]] if project in rows else []), span.seconds),
            last.get(project),
            per_project.get(project, 0),
        )
        for project in sorted(set(last) | set(rows))
    ]
    projects.sort(key=lambda p: (-p.figures.n("tasks_submitted"), p.project_id))
    return Status(span.end, span.start, projects, firing)
