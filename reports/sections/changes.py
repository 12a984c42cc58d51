"""What changed: the biggest movers between two spans, and the overall rates of both.

The spans are the previous period of the same length when the data covers
it, otherwise the two halves of the period. A mover is a project, a vendor on
a project or a queue whose metric changed materially: with enough samples on
both sides, at least ``MATERIAL`` apart, and for shares a two-proportion
|z| of at least ``MIN_Z``. Per metric and project only the biggest mover
stays; movers are ranked by how many times their change exceeds the floor.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from alerts.rules import THROUGHPUT
from reports import fmt
from reports.figures import METRICS, TREND_METRICS, Figures, combine, vendor_key
from reports.period import Period
from reports.types import Changes, Mover
from schemas import units
from schemas.metrics import WINDOW_SECONDS

Kind = Literal["project", "vendor", "queue"]
Entity = tuple[Kind, str, str]  # (kind, project, name): name is the project, vendor or queue

# Least evidence for a comparison; a change is material from 2 percentage points
# (and |z| >= 2) for shares, 10 % for AHT, 15 % for throughput.
MIN_CHANGE_SAMPLES = {THROUGHPUT: 30, "aht_s": 30, "audit_pass_rate": 30, "gold_accuracy": 20}
MATERIAL = {THROUGHPUT: 0.15, "aht_s": 0.10, "audit_pass_rate": 0.02, "gold_accuracy": 0.02}
MIN_Z = 2.0


@dataclass(frozen=True)
class Comparison:
    """The two spans compared, and how the report says which they are."""

    basis: Literal["halves", "previous"]
    before: Period
    after: Period
    text: str


def comparison(period: Period, data_first: datetime) -> Comparison | None:
    """The previous period of the same length when the data (from ``data_first``) covers
    it, otherwise the halves of the period in whole minutes; ``None`` below two minutes."""
    length = period.end - period.start
    previous = Period(period.start - length, period.start)
    if data_first <= previous.start:
        text = (
            "the previous period of the same length "
            f"({units.interval(previous.start, previous.end)})"
        )
        return Comparison("previous", previous, period, text)
    half = timedelta(seconds=length.total_seconds() // 2 // WINDOW_SECONDS * WINDOW_SECONDS)
    if half < timedelta(minutes=1):
        return None
    middle = period.start + half
    before, after = Period(period.start, middle), Period(middle, period.end)
    text = (
        f"the first half of the period ({units.interval(before.start, before.end)}) "
        f"vs. the second half ({units.interval(after.start, after.end)})"
    )
    return Comparison("halves", before, after, text)


def entity_figures(
    vendor_rows: Sequence[Mapping[str, Any]],
    queue_rows: Sequence[Mapping[str, Any]],
    seconds: float,
) -> dict[Entity, Figures]:
    """Projects, vendors on projects and queues, from the sums of one span per
    ``project_id``, ``vendor_id`` and ``source`` and per ``project_id`` and ``queue_id``."""
    out: dict[Entity, Figures] = {}
    by_project: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    by_vendor: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for row in vendor_rows:
        by_project[str(row["project_id"])].append(row)
        by_vendor[(str(row["project_id"]), vendor_key(row))].append(row)
    for project, group in by_project.items():
        out[("project", project, project)] = Figures(combine(group), seconds)
    for (project, vendor), group in by_vendor.items():
        out[("vendor", project, vendor)] = Figures(combine(group), seconds)
    for row in queue_rows:
        key: Entity = ("queue", str(row["project_id"]), str(row["queue_id"]))
        out[key] = Figures(combine([row]), seconds)
    return out


def what_changed(
    compared: Comparison,
    before: Mapping[Entity, Figures],
    after: Mapping[Entity, Figures],
    limit: int = 6,
) -> Changes:
    """The section from the ``entity_figures`` of both spans."""
    overall_a = Figures(
        combine([f.sums for k, f in before.items() if k[0] == "project"]), compared.before.seconds
    )
    overall_b = Figures(
        combine([f.sums for k, f in after.items() if k[0] == "project"]), compared.after.seconds
    )
    overall = {m: (overall_a.rate(m), overall_b.rate(m)) for m in TREND_METRICS}
    best: dict[tuple[str, str], Mover] = {}
    for key, a in before.items():
        kind, project, name = key
        b = after.get(key, Figures(combine([]), compared.after.seconds))
        for metric in TREND_METRICS:
            mover = _mover(kind, project, name, metric, a, b)
            if mover is None:
                continue
            slot = (metric, project)
            if slot not in best or mover.score > best[slot].score:
                best[slot] = mover
    movers = sorted(best.values(), key=lambda m: (-m.score, m.metric, m.project_id, m.name))
    return Changes(
        compared.basis, compared.before, compared.after, overall, movers[:limit], compared.text
    )


def _entity_text(kind: str, project: str, name: str) -> str:
    if kind == "project":
        return f"project {project}"
    if kind == "vendor" and name == fmt.MACHINE:
        return f"machine labels on {project}"
    if kind == "vendor" and name == fmt.IN_HOUSE:
        return f"in-house staff on {project}"
    if kind == "vendor":
        return f"vendor {name} on {project}"
    return f"queue {name} ({project})"


def two_proportion_z(a: float, na: int, b: float, nb: int) -> float:
    """The z statistic of two shares ``a`` of ``na`` and ``b`` of ``nb`` (pooled)."""
    pooled = (a * na + b * nb) / (na + nb)
    se = math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    return (b - a) / se if se > 0 else 0.0


def _mover(
    kind: Kind, project: str, name: str, metric: str, a: Figures, b: Figures
) -> Mover | None:
    info = METRICS[metric]
    na, nb = a.samples(metric), b.samples(metric)
    need = MIN_CHANGE_SAMPLES[metric]
    if na < need or (metric != THROUGHPUT and nb < need):
        return None
    before, after = a.rate(metric), b.rate(metric)
    if before is None or after is None:
        return None
    if info.is_share:
        change = after - before
        if abs(two_proportion_z(before, na, after, nb)) < MIN_Z:
            return None
        shown = units.points(change)
    else:
        if before == 0:
            return None
        change = after / before - 1
        shown = units.change(change)
    score = abs(change) / MATERIAL[metric]
    if score < 1:
        return None
    better = (change > 0) == info.higher_is_better
    verb = "rose" if change > 0 else "fell"
    sentence = (
        f"{info.label} of {_entity_text(kind, project, name)} {verb} from "
        f"{info.show(before)} to {info.show(after)} ({shown})."
    )
    return Mover(
        kind, project, name, metric, before, after, na, nb, change, score, better, sentence
    )
