"""Projects: each project's figures over the period, its queues and its alerts firing at the end."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from reports.figures import Figures, combine
from reports.types import Incident, ProjectRow


def project_rows(
    rows: Sequence[Mapping[str, Any]], incidents: Sequence[Incident], seconds: float
) -> list[ProjectRow]:
    """The section from the sums per ``project_id`` and ``queue_id`` over the period:
    the busiest project (most submitted tasks) first."""
    by_project: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        by_project[str(row["project_id"])].append(row)
    firing: dict[str, int] = defaultdict(int)
    for episode in incidents:
        if episode.ongoing:
            firing[episode.scope.get("project_id", "")] += 1
    return sorted(
        (
            ProjectRow(p, Figures(combine(group), seconds), len(group), firing.get(p, 0))
            for p, group in by_project.items()
        ),
        key=lambda r: (-r.figures.n("tasks_submitted"), r.project_id),
    )
