"""Judgements about one person: needs coaching, a gold warning, strengths, one focus.

Each holds with the samples we have (``schemas.stats``): needs coaching when
the upper bound of a quality rate is below its target; a strength when the
person is in the squad's top quarter, rates compared by the bound that
vouches for them (the lower bound where higher is better, the upper bound
where lower is better), strictly better than the squad's median, and only
among people judged on that metric. The
gold warning follows the platforms' convention instead (a raw rate below 75 %
after more than 7 gold tasks), because that is the rule contributors are told.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from reports.coaching_types import (
    QUALITY,
    CategoryRow,
    CoachingOptions,
    GoldWarning,
    Person,
    Reason,
)
from reports.sections.people import COACH_METRICS, VOLUME, judged, median, peer_values, value
from schemas import units

MIN_PEERS_FOR_QUARTILES = 4


def needs_coaching(person: Person, options: CoachingOptions) -> list[Reason]:
    """The quality rates whose upper bound is below the target, on enough samples."""
    reasons = []
    for metric in QUALITY:
        b = person.bounds[metric]
        if not judged(person, metric, options) or b.high is None:
            continue
        target = options.targets[metric]
        if b.high < target:
            info = COACH_METRICS[metric]
            reasons.append(Reason(metric, info.label, b, target, info.unit))
    return reasons


def gold_warning(person: Person, options: CoachingOptions) -> GoldWarning | None:
    b = person.bounds["gold_accuracy"]
    if b.trials > options.gold_warn_after and b.successes / b.trials < options.gold_warn_below:
        return GoldWarning(person, b.successes, b.trials)
    return None


def _fair_score(person: Person, metric: str) -> float | None:
    """What ranks a person on a metric: the vouched-for bound of a share, else the value."""
    info = COACH_METRICS[metric]
    if info.share is None:
        return value(person, metric)
    b = person.bounds[metric]
    return b.low if info.higher_is_better else b.high


def strengths(
    person: Person, squad: Sequence[Person], options: CoachingOptions
) -> list[tuple[str, str]]:
    """(metric, sentence) for each metric on which the person is in the squad's top quarter
    (among at least ``MIN_PEERS_FOR_QUARTILES`` members judged on it)."""
    out = []
    for metric, info in COACH_METRICS.items():
        if not judged(person, metric, options):
            continue
        scores = [
            s
            for p in squad
            if judged(p, metric, options) and (s := _fair_score(p, metric)) is not None
        ]
        mine = _fair_score(person, metric)
        if mine is None or len(scores) < MIN_PEERS_FOR_QUARTILES:
            continue
        low_q, mid, high_q = statistics.quantiles(scores, n=4, method="inclusive")
        # Strictly better than the median too: where most of the squad ties, nobody stands out.
        if info.higher_is_better:
            top = mine >= high_q and mine > mid
        else:
            top = mine <= low_q and mine < mid
        if not top:
            continue
        mine_shown = shown(metric, value(person, metric))
        middle = median(peer_values(squad, metric, options))
        if info.share is not None:
            b = person.bounds[metric]
            bound = "at least" if info.higher_is_better else "at most"
            side = b.low if info.higher_is_better else b.high
            evidence = (
                f"{mine_shown} of {units.count(b.trials)} {info.unit}, "
                f"{bound} {units.percent(side)}"
            )
        else:
            evidence = mine_shown
        out.append(
            (
                metric,
                f"{info.label}: {evidence}, in the squad's top quarter of {len(scores)} "
                f"(squad median {shown(metric, middle)})",
            )
        )
    return out


def shown(metric: str, v: float | None) -> str:
    """A metric's value as the pages show it."""
    if metric == VOLUME:
        return units.count(v)
    if metric == "aht_s":
        return units.duration(v)
    return units.percent(v)


def category_rows(rows: Sequence[Mapping[str, Any]], rejects: int) -> list[CategoryRow]:
    """``coaching_queries.categories`` rows; ``rejects`` is the period's rejected audits."""
    return [
        CategoryRow(
            str(row["category"]),
            int(row["audits"]),
            int(row["fixes"]),
            int(row["rejects"]),
            int(row["rejects"]) / rejects if rejects else None,
        )
        for row in rows
    ]


def focus(categories: Sequence[CategoryRow], rejects: int, fixes: int) -> str | None:
    """One suggested focus: the category on the biggest share of rejects (else of fixes)."""
    if rejects and any(c.rejects for c in categories):
        top = min(categories, key=lambda c: (-c.rejects, -c.audits, c.category))
        return (
            f"{top.category}: on {top.rejects} of the {rejects} rejected audits "
            f"({units.percent(top.rejects / rejects)}). Go through those tasks first."
        )
    if fixes and any(c.fixes for c in categories):
        top = min(categories, key=lambda c: (-c.fixes, -c.audits, c.category))
        return (
            f"{top.category}: no audit rejected work, and it is on {top.fixes} of the "
            f"{fixes} audits that asked for changes ({units.percent(top.fixes / fixes)})."
        )
    return None
