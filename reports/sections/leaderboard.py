"""Annotators: who ranks highest, and who needs coaching, among those with enough evidence.

Fair by construction (``schemas.stats``): ranked by the lower bound of the
Wilson score interval of the audit pass rate, and flagged for coaching only
when the upper bound is below the floor, so 3 approvals out of 3 do not
outrank 95 out of 100 and 1 reject out of 3 audits is not yet a verdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from alerts.rules import RuleSet, ThresholdRule
from reports import fmt
from reports.figures import METRICS, Figures, combine
from reports.types import AnnotatorRow, Leaderboard, Options
from schemas import units
from schemas.stats import Bounded, bounded, rank_fairly

# The shares a contributor is judged on, as (successes, trials) fields.
JUDGED = {
    "audit_pass_rate": ("audits_approved", "audits"),
    "gold_accuracy": ("gold_correct", "gold_submitted"),
}
UNITS = {"audit_pass_rate": "audits", "gold_accuracy": "gold tasks"}


def coaching_thresholds(ruleset: RuleSet) -> dict[str, tuple[float, str]]:
    """Quality floors for contributors: from the rules, the narrowest scope first."""
    found: dict[str, tuple[int, float, str]] = {}
    for rule in ruleset.rules:
        if not isinstance(rule, ThresholdRule) or rule.op not in ("<", "<="):
            continue
        if rule.metric not in ("audit_pass_rate", "gold_accuracy"):
            continue
        rank = 0 if "annotator_id" in rule.scope else 1
        best = found.get(rule.metric)
        if best is None or rank < best[0]:
            found[rule.metric] = (rank, rule.threshold, f"rule {rule.name}")
    return {metric: (value, origin) for metric, (_rank, value, origin) in found.items()}


def bounds_of(figures: Figures, confidence: float) -> dict[str, Bounded]:
    """The Wilson interval of each judged share of a contributor."""
    return {
        metric: bounded(figures.n(successes), figures.n(trials), confidence)
        for metric, (successes, trials) in JUDGED.items()
    }


def _upper(a: AnnotatorRow, metric: str) -> float:
    high = a.bounds[metric].high
    return high if high is not None else 1.0


def leaderboard(
    rows: Sequence[Mapping[str, Any]], seconds: float, ruleset: RuleSet, options: Options
) -> Leaderboard:
    """The section from ``reports.queries.annotator_sums`` rows (machine labels excluded).

    Ranked: contributors with ``min_tasks`` submitted tasks and ``min_audits``
    audits, by the lower bound of their audit pass rate (``options.confidence``),
    then audits (more evidence first), then id. Needs coaching: ranked
    contributors whose upper bound is below a quality floor of the rules (audit
    pass rate; gold accuracy when they have ``min_gold`` gold tasks), lowest
    upper bound first; without such rules, the lowest upper bounds.
    """
    everyone = []
    for row in rows:
        figures = Figures(combine([row]), seconds)
        everyone.append(
            AnnotatorRow(
                str(row["annotator_id"]),
                fmt.vendor(str(row["vendor_id"] or "")),
                list(row["projects"]),
                figures,
                bounds=bounds_of(figures, options.confidence),
            )
        )
    active = [a for a in everyone if a.figures.n("tasks_submitted") + a.figures.n("audits") > 0]
    busy = [a for a in active if a.figures.n("tasks_submitted") >= options.min_tasks]
    ranked, _small = rank_fairly(
        busy,
        lambda a: a.bounds["audit_pass_rate"],
        min_trials=options.min_audits,
        name=lambda a: a.annotator_id,
    )
    thresholds = coaching_thresholds(ruleset)
    coaching: list[AnnotatorRow] = []
    for a in ranked:
        reasons = []
        for metric, (floor, origin) in thresholds.items():
            b = a.bounds[metric]
            if metric == "gold_accuracy" and b.trials < options.min_gold:
                continue
            if b.rate is not None and b.high is not None and b.high < floor:
                label = METRICS[metric].label.lower()
                reasons.append(
                    f"{label} {units.percent(b.rate)} of {units.count(b.trials)} {UNITS[metric]}, "
                    f"at most {units.percent(b.high)}: below {units.percent(floor)} ({origin})"
                )
        if reasons:
            coaching.append(replace(a, reasons=reasons))
    if not thresholds:
        coaching = [replace(a, reasons=["lowest audit pass rate"]) for a in ranked]
    coaching.sort(key=lambda a: (_upper(a, "audit_pass_rate"), a.annotator_id))
    return Leaderboard(
        options.confidence,
        options.min_tasks,
        options.min_audits,
        options.min_gold,
        len(active),
        len(ranked),
        ranked[: options.top_n],
        coaching[: options.coaching_n],
        len(coaching),
        thresholds,
    )
