"""SLA attainment: per threshold rule and project, the share of rule windows that met it.

A rule window is judged exactly as ``alerts.evaluator`` judges it: tumbling,
aligned to UTC, fully inside the period, its value from the sums of its
minutes, "no data" below ``min_samples``; for throughput rules a window
without events counts as 0 while the scope had events in one of the previous
``absent_lookback`` windows (inside the period). Met means "not breaching the
threshold". Anomaly rules have no fixed target and are listed as skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from alerts.rules import THROUGHPUT, TURNAROUND_MAX, AnomalyRule, RuleSet, ThresholdRule, compare
from reports.period import Period
from reports.types import SlaCell, SlaRule, SlaSection, WorstScope
from schemas import units
from schemas.durations import format_duration
from schemas.metrics import RATES, throughput_rate

Rows = Sequence[Mapping[str, Any]]


def rule_span(period: Period, rule: ThresholdRule) -> Period | None:
    """The rule's full windows inside the period (``None`` when there is none): the span
    whose rows, grouped by the rule's scope in buckets of its window, the section needs."""
    w = rule.window
    first = -(-int(period.start.timestamp()) // w) * w
    last_end = int(period.end.timestamp()) // w * w
    if last_end <= first:
        return None
    return Period(units.from_epoch_s(first), units.from_epoch_s(last_end))


def _measure(rule: ThresholdRule, sums: Mapping[str, float]) -> tuple[float | None, int]:
    """A rule window's value and samples, as ``alerts.evaluator`` measures them."""
    if rule.metric == THROUGHPUT:
        samples = sum(int(sums[n]) for n in ("tasks_submitted", "tasks_skipped", "tasks_expired"))
        return throughput_rate(rule.window).value(sums), samples
    if rule.metric == TURNAROUND_MAX:
        samples = int(sums["turnaround_count"])
        return (float(sums["turnaround_max_s"]) if samples else None), samples
    rate = RATES[rule.metric]
    return rate.value(sums), int(rate.denominator(sums))


def _scope_label(scope: Mapping[str, str], drop: Iterable[str] = ("project_id",)) -> dict[str, str]:
    dropped = set(drop)
    return {k: v for k, v in scope.items() if k not in dropped}


def sla_attainment(period: Period, ruleset: RuleSet, windows: Mapping[str, Rows]) -> SlaSection:
    """The section from ``windows``: per threshold rule name, the rows of its ``rule_span``
    grouped by the rule's scope and ``bucket`` (the start of each rule window)."""
    rules: list[SlaRule] = []
    cells: dict[tuple[str, str | None], SlaCell] = {}
    skipped: list[tuple[str, str]] = []
    for rule in ruleset.rules:
        if isinstance(rule, AnomalyRule):
            skipped.append((rule.name, "anomaly rule: judged against its own baseline"))
            continue
        rules.append(
            SlaRule(
                rule.name,
                rule.metric,
                rule.op,
                rule.threshold,
                rule.window,
                tuple(rule.scope),
                rule.min_samples,
                rule.severity,
            )
        )
        span = rule_span(period, rule)
        if span is None:
            skipped.append(
                (rule.name, f"no full {format_duration(rule.window)} window in the period")
            )
            continue
        _judge(rule, span, windows.get(rule.name, ()), cells)
    return SlaSection(rules, list(cells.values()), skipped)


def _judge(
    rule: ThresholdRule, span: Period, rows: Rows, cells: dict[tuple[str, str | None], SlaCell]
) -> None:
    """Add one rule's windows, scope by scope, to the cells of their projects."""
    w = rule.window
    first, last_end = int(span.start.timestamp()), int(span.end.timestamp())
    by_scope: dict[tuple[str, ...], dict[int, Mapping[str, Any]]] = defaultdict(dict)
    for row in rows:
        key = tuple(str(row[d]) for d in rule.scope)
        by_scope[key][int(row["bucket"].timestamp())] = row
    for key, found in by_scope.items():
        scope = dict(zip(rule.scope, key, strict=True))
        project = scope.get("project_id") if "project_id" in rule.scope else None
        cell = cells.setdefault((rule.name, project), SlaCell(rule.name, project))
        judged, met, no_data = 0, 0, 0
        worst_value: float | None = None
        worst_window: int | None = None
        last_seen: int | None = None
        for start in range(first, last_end, w):
            window_row = found.get(start)
            value: float | None
            if window_row is None:
                absent = (
                    rule.metric == THROUGHPUT
                    and rule.absent_lookback > 0
                    and last_seen is not None
                    and last_seen >= start - rule.absent_lookback * w
                )
                if not absent:
                    continue
                value, has_data = 0.0, True
            else:
                last_seen = start
                value, samples = _measure(rule, window_row)
                has_data = value is not None and samples >= rule.min_samples
            if not has_data or value is None:
                no_data += 1
                continue
            judged += 1
            if compare(rule.op, value, rule.threshold):
                if worst_value is None or abs(value - rule.threshold) > abs(
                    worst_value - rule.threshold
                ):
                    worst_value, worst_window = value, start
            else:
                met += 1
        cell.windows += judged
        cell.met += met
        cell.no_data += no_data
        if judged:
            cell.scopes += 1
        if met < judged:
            cell.scopes_breached += 1
            candidate = WorstScope(
                _scope_label(scope),
                judged,
                met,
                worst_value,
                units.from_epoch_s(worst_window) if worst_window is not None else None,
            )
            current = cell.worst
            if current is None or (candidate.met / candidate.windows, -candidate.windows) < (
                current.met / current.windows,
                -current.windows,
            ):
                cell.worst = candidate
