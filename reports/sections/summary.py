"""The narrative at the top of the report: what happened, what changed, what broke.

Written from the finished sections (a ``Report``), so it never says a figure
the sections below do not show.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from alerts.rules import THROUGHPUT
from reports.figures import METRICS, TREND_METRICS
from reports.sections.incidents import SEVERITY_ORDER
from reports.types import Report
from schemas import units


def notice(bounds: tuple[datetime, datetime] | None) -> str:
    """Why a period has nothing to show (its only sentence)."""
    if bounds is None:
        return "The database has no metrics yet."
    return (
        f"No annotation activity in this period. The data covers "
        f"{units.interval(bounds[0], bounds[1] + timedelta(minutes=1))}."
    )


def summary_sentences(report: Report) -> list[str]:
    """The narrative: what happened, then what changed (biggest movers)."""
    t = report.totals
    out = [
        f"{units.count(t.n('tasks_submitted'))} tasks were submitted "
        f"({units.per_hour(t.rate(THROUGHPUT))} per hour) across {len(report.projects)} projects; "
        f"audit pass rate {units.percent(t.rate('audit_pass_rate'))} "
        f"over {units.count(t.n('audits'))} audits, "
        f"gold accuracy {units.percent(t.rate('gold_accuracy'))} "
        f"over {units.count(t.n('gold_submitted'))} "
        f"gold tasks, AHT {units.duration(t.rate('aht_s'))}."
    ]
    out += _changes(report)
    out.append(_incidents(report))
    out += _sla(report)
    if report.errors:
        top = report.errors[0]
        out.append(
            f"Most frequent error category: {top.category} "
            f"({units.percent(top.share_of_audits)} of audits, mostly on {top.top_project})."
        )
    return out


def _changes(report: Report) -> list[str]:
    changes = report.changes
    if changes is None:
        return []
    out = []
    parts = []
    for metric in TREND_METRICS:
        a, b = changes.overall[metric]
        if a is None or b is None:
            continue
        info = METRICS[metric]
        if info.is_share:
            delta = units.points(b - a)
        elif a:
            delta = units.change(b / a - 1)
        else:
            continue
        parts.append(
            f"{info.label.split(' (')[0].lower()} {info.show(a)} → {info.show(b)} ({delta})"
        )
    if parts:
        out.append(f"Compared: {changes.basis_text}. Overall: " + "; ".join(parts) + ".")
    if not changes.movers:
        out.append("No project, vendor or queue moved materially between the two.")
    return out


def _incidents(report: Report) -> str:
    if not report.incidents:
        return "No alert fired in the period."
    ongoing = [e for e in report.incidents if e.ongoing]
    by_severity: dict[str, int] = defaultdict(int)
    for e in report.incidents:
        by_severity[e.severity] += 1
    severities = ", ".join(
        f"{n} {s}"
        for s, n in sorted(by_severity.items(), key=lambda x: SEVERITY_ORDER.get(x[0], 9))
    )
    longest = max(report.incidents, key=lambda e: e.duration_s)
    scope = ", ".join(longest.scope.values()) or "everything"
    return (
        f"{len(report.incidents)} alert episodes ({severities}); "
        f"{len(ongoing)} still firing at the end of the period. "
        f"Longest: {longest.rule} for {scope} "
        f"({'≥ ' if longest.ongoing else ''}{units.duration(longest.duration_s)})."
    )


def _sla(report: Report) -> list[str]:
    if report.sla is None:
        return []
    judged = [c for c in report.sla.cells if c.windows]
    if not judged:
        return []
    worst = min(judged, key=lambda c: (c.attainment or 0.0, -c.windows))
    if worst.met == worst.windows:
        total = sum(c.windows for c in judged)
        return [f"Every SLA was met: all {total} judged rule windows."]
    where = worst.project_id or "all projects"
    return [
        f"Lowest SLA attainment: {worst.rule} on {where}, "
        f"{units.percent(worst.attainment)} of {worst.windows} rule windows met."
    ]
