"""Annotators: who ranks highest, and who needs coaching, among those with enough evidence."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from alerts.rules import RuleSet, ThresholdRule
from reports import fmt
from reports.figures import METRICS, Figures, combine
from reports.types import AnnotatorRow, Leaderboard, Options
from schemas import units


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


def _order(a: AnnotatorRow) -> tuple[float, int, float, str]:
    rate = a.figures.rate("audit_pass_rate")
    aht = a.figures.rate("aht_s")
    return (
        -(rate or 0.0),
        -a.figures.n("audits"),
        aht if aht is not None else math.inf,
        a.annotator_id,
    )


def leaderboard(
    rows: Sequence[Mapping[str, Any]], seconds: float, ruleset: RuleSet, options: Options
) -> Leaderboard:
    """The section from ``reports.queries.annotator_sums`` rows (machine labels excluded).

    Ranked: contributors with ``min_tasks`` submitted tasks and ``min_audits``
    audits, by audit pass rate, then audits (more evidence first), then AHT.
    Needs coaching: ranked contributors below a quality floor of the rules
    (audit pass rate; gold accuracy when they have ``min_gold`` gold tasks),
    lowest pass rate first; without such rules, the lowest pass rates.
    """
    everyone = [
        AnnotatorRow(
            str(row["annotator_id"]),
            fmt.vendor(str(row["vendor_id"] or "")),
            list(row["projects"]),
            Figures(combine([row]), seconds),
        )
        for row in rows
    ]
    active = [a for a in everyone if a.figures.n("tasks_submitted") + a.figures.n("audits") > 0]
    ranked = [
        a
        for a in active
        if a.figures.n("tasks_submitted") >= options.min_tasks
        and a.figures.n("audits") >= options.min_audits
    ]
    ranked.sort(key=_order)
    thresholds = coaching_thresholds(ruleset)
    coaching: list[AnnotatorRow] = []
    for a in ranked:
        reasons = []
        for metric, (floor, origin) in thresholds.items():
            value = a.figures.rate(metric)
            if metric == "gold_accuracy" and a.figures.n("gold_submitted") < options.min_gold:
                continue
            if value is not None and value < floor:
                label = METRICS[metric].label.lower()
                reasons.append(
                    f"{label} {units.percent(value)} < {units.percent(floor)} ({origin})"
                )
        if reasons:
            coaching.append(replace(a, reasons=reasons))
    if not thresholds:
        coaching = [replace(a, reasons=["lowest audit pass rate"]) for a in reversed(ranked)]
    coaching.sort(key=lambda a: (a.figures.rate("audit_pass_rate") or 0.0, a.annotator_id))
    return Leaderboard(
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
