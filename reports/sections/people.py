"""People for coaching: who they are (the roster), what they did (the sums), how sure we are.

Pure: rows of ``reports.coaching_queries`` in, ``Person`` values out. An
annotator missing from the roster is in the squad ``unassigned``; a roster
member without activity in the period is a ``Person`` with zero sums. Every
share carries its Wilson interval (``schemas.stats``), so whatever compares
people can compare what the samples vouch for.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from reports import fmt
from reports.coaching_types import CoachingOptions, Person
from reports.figures import Figures, combine
from reports.roster import UNASSIGNED
from schemas.stats import Bounded, bounded


@dataclass(frozen=True)
class CoachMetric:
    name: str
    label: str
    higher_is_better: bool
    unit: str  # what its samples are
    share: tuple[str, tuple[str, ...]] | None  # (successes, trials) fields of a share


VOLUME = "tasks_submitted"
COACH_METRICS: dict[str, CoachMetric] = {
    m.name: m
    for m in (
        CoachMetric(VOLUME, "Volume (tasks submitted)", True, "tasks", None),
        CoachMetric("aht_s", "Average handle time (AHT)", False, "tasks", None),
        CoachMetric(
            "audit_pass_rate", "Audit pass rate", True, "audits", ("audits_approved", ("audits",))
        ),
        CoachMetric(
            "gold_accuracy",
            "Gold accuracy",
            True,
            "gold tasks",
            ("gold_correct", ("gold_submitted",)),
        ),
        CoachMetric(
            "rework_rate", "Rework rate", False, "tasks", ("rework_submitted", ("tasks_submitted",))
        ),
        CoachMetric(
            "skip_rate",
            "Skip rate",
            False,
            "task outcomes",
            ("tasks_skipped", ("tasks_submitted", "tasks_skipped", "tasks_expired")),
        ),
    )
}


def share_bounds(figures: Figures, confidence: float) -> dict[str, Bounded]:
    """The Wilson interval of every share metric of a group's sums."""
    out = {}
    for name, metric in COACH_METRICS.items():
        if metric.share is not None:
            successes, trials = metric.share
            out[name] = bounded(figures.n(successes), sum(figures.n(t) for t in trials), confidence)
    return out


def samples(person: Person, metric: str) -> int:
    info = COACH_METRICS[metric]
    if info.share is not None:
        return person.bounds[metric].trials
    return person.figures.n("tasks_submitted")


def value(person: Person, metric: str) -> float | None:
    if metric == VOLUME:
        return float(person.figures.n(VOLUME))
    return person.figures.rate(metric)


def judged(person: Person, metric: str, options: CoachingOptions) -> bool:
    """Enough samples to compare this metric of this person (volume: any activity)."""
    if metric == VOLUME:
        return person.active
    return samples(person, metric) >= max(1, options.min_samples(metric))


def median(values: Iterable[float]) -> float | None:
    present = list(values)
    return statistics.median(present) if present else None


def peer_values(people: Sequence[Person], metric: str, options: CoachingOptions) -> list[float]:
    """The metric of everyone judged on it (the population of a median)."""
    out = []
    for p in people:
        v = value(p, metric)
        if v is not None and judged(p, metric, options):
            out.append(v)
    return out


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def person_from_row(row: Mapping[str, Any], seconds: float, confidence: float) -> Person:
    """A ``coaching_queries.people`` row."""
    figures = Figures(combine([row]), seconds)
    listed = bool(row.get("listed"))
    vendor_id = _text(row.get("vendor_id"))
    start = row.get("roster_start_date") if listed else None
    return Person(
        annotator_id=str(row["annotator_id"]),
        squad=_text(row.get("roster_squad")) if listed else UNASSIGNED,
        listed=listed,
        figures=figures,
        bounds=share_bounds(figures, confidence),
        display_name=_text(row.get("roster_display_name")) if listed else "",
        manager=_text(row.get("roster_manager")) if listed else "",
        vendor=fmt.vendor(vendor_id),
        vendor_id=vendor_id,
        level=_text(row.get("roster_level")) if listed else "",
        start_date=start if isinstance(start, date) else None,
        tags=[str(t) for t in row.get("roster_tags") or []] if listed else [],
        projects=[str(p) for p in row.get("projects") or []],
    )


def person_from_roster(row: Mapping[str, Any], seconds: float, confidence: float) -> Person:
    """A roster member without activity in the period (a ``roster_rows`` row)."""
    figures = Figures(combine([]), seconds)
    start = row.get("start_date")
    vendor_id = _text(row.get("vendor_id"))
    return Person(
        annotator_id=str(row["annotator_id"]),
        squad=_text(row.get("squad")),
        listed=True,
        figures=figures,
        bounds=share_bounds(figures, confidence),
        display_name=_text(row.get("display_name")),
        manager=_text(row.get("manager")),
        vendor=fmt.vendor(vendor_id),
        vendor_id=vendor_id,
        level=_text(row.get("level")),
        start_date=start if isinstance(start, date) else None,
        tags=[str(t) for t in row.get("tags") or []],
    )


def everyone(
    rows: Sequence[Mapping[str, Any]],
    roster: Sequence[Mapping[str, Any]],
    seconds: float,
    confidence: float,
) -> list[Person]:
    """The active people of the period, then the roster's members who were not active."""
    people = [person_from_row(row, seconds, confidence) for row in rows]
    seen = {p.annotator_id for p in people}
    people += [
        person_from_roster(row, seconds, confidence)
        for row in roster
        if str(row["annotator_id"]) not in seen
    ]
    return people
