"""Hand-built rows shaped as ``reports.coaching_queries`` returns them, and a small squad.

The squad 华数-一组 (manager 华数-组长-1) has a standout, a steady member, a
low-quality member with plenty of audits, one with a low rate on too few
audits to judge, a new joiner and a member without activity; apx-0031 is not
on the roster (squad ``unassigned``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from reports.coaching_types import CoachingOptions, Person
from reports.sections.people import person_from_roster, person_from_row
from tests.unit.reports.rows import APEX, HUASHU, MEDICAL, sums

DAY = 86400.0
SQUAD = "华数-一组"
MANAGER = "华数-组长-1"
END = date(2026, 11, 23)


def row(
    annotator: str,
    vendor: str = HUASHU,
    *,
    squad: str | None = SQUAD,
    start: date | None = date(2025, 1, 6),
    display: str = "",
    level: str = "L2",
    **fields: Any,
) -> dict[str, Any]:
    """A ``coaching_queries.people`` row; ``squad=None``: not on the roster."""
    listed = squad is not None
    return sums(
        annotator_id=annotator,
        vendor_id=vendor,
        projects=[MEDICAL],
        roster_display_name=display if listed else "",
        roster_squad=squad or "",
        roster_manager=MANAGER if listed else "",
        roster_vendor_id=vendor if listed else "",
        roster_start_date=start if listed else None,
        roster_level=level if listed else "",
        roster_tags=["night-shift"] if listed else [],
        listed=listed,
        **fields,
    )


def work(
    tasks: int, audits: int, approved: int, gold: int = 0, gold_ok: int = 0, aht: float = 30.0
) -> dict[str, Any]:
    """The fields of a period's work: no skips or rework, every non-approval a reject."""
    return {
        "tasks_submitted": tasks,
        "handle_time_sum_s": aht * tasks,
        "audits": audits,
        "audits_approved": approved,
        "audits_rejected": audits - approved,
        "gold_submitted": gold,
        "gold_correct": gold_ok,
    }


ROWS = [
    row("华数-0001", display="标注员 1 号", **work(600, 80, 80, 60, 59, aht=20.0)),  # standout
    row("华数-0002", display="标注员 2 号", **work(200, 40, 38, 20, 18)),  # steady
    row("华数-0003", display="标注员 3 号", **work(300, 60, 30, 30, 15)),  # low quality
    row("华数-0004", display="标注员 4 号", **work(40, 6, 3, 4, 2)),  # low, but too few audits
    row(
        "华数-0005",
        display="标注员 5 号",
        start=date(2026, 11, 2),
        level="L1",
        **work(150, 30, 29, 12, 12),
    ),  # new joiner: good, but 3 weeks in
    row("apx-0031", APEX, squad=None, **work(100, 20, 19, 10, 9)),  # not on the roster
]
ROSTER = [
    {
        "annotator_id": "华数-0006",
        "display_name": "标注员 6 号",
        "squad": SQUAD,
        "manager": MANAGER,
        "vendor_id": HUASHU,
        "start_date": date(2024, 3, 4),
        "level": "L3",
        "tags": [],
    }
]


def people(options: CoachingOptions | None = None, seconds: float = 14 * DAY) -> list[Person]:
    options = options or CoachingOptions()
    active = [person_from_row(r, seconds, options.confidence) for r in ROWS]
    idle = [person_from_roster(r, seconds, options.confidence) for r in ROSTER]
    return active + idle


def by_id(everyone: list[Person]) -> dict[str, Person]:
    return {p.annotator_id: p for p in everyone}
