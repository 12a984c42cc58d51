"""The report's composition: read the rows of every section, then compute the sections.

``build_report`` is the only place that pairs a query (``reports.queries``)
with a section (``reports.sections``); the sections are pure functions of
their rows, and ``reports.html`` / ``reports.markdown`` only lay out the
``Report`` it returns.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.evaluator.delivery import without_delivery
from alerts.rules import RuleSet, ThresholdRule
from reports import queries as q
from reports.figures import Figures, combine
from reports.period import Period, resolve_period
from reports.sections.changes import comparison, entity_figures, what_changed
from reports.sections.delivery import delivery_section
from reports.sections.errors import error_rows
from reports.sections.incidents import incidents
from reports.sections.leaderboard import leaderboard
from reports.sections.projects import project_rows
from reports.sections.sla import rule_span, sla_attainment
from reports.sections.summary import notice, summary_sentences
from reports.sections.trends import trend_buckets, trends
from reports.sections.vendors import vendors
from reports.types import Changes, Options, Report, SlaSection, Trends
from schemas.metrics import WINDOW_SECONDS


def build_report(
    client: Any,
    ruleset: RuleSet,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    options: Options | None = None,
    source: str = "",
    rules_file: str = "",
    now: datetime | None = None,
) -> Report:
    """Everything the report shows. Raises ``NoData`` on a database without metrics
    when the period is not given; an empty period gives a report with a notice."""
    options = options or Options()
    # Delivery rules judge forecasts, not sums: the Delivery section shows them.
    ruleset = without_delivery(ruleset)
    q.check_schema(client)
    bounds = q.data_bounds(client)
    period = resolve_period(bounds, start, end)
    totals_rows = q.grouped_sums(client, period)
    totals = Figures(combine(totals_rows), period.seconds)
    report = Report(
        period=period,
        generated_at=now or datetime.now(UTC),
        source=source,
        rules_file=rules_file,
        data_first=bounds[0] if bounds else None,
        data_last=bounds[1] if bounds else None,
        options=options,
        totals=totals,
    )
    horizon = period.end  # the end of the data, for episodes still firing
    if bounds is not None:
        horizon = min(period.end, bounds[1] + timedelta(seconds=WINDOW_SECONDS))
    report.incidents, report.incidents_by_rule = incidents(
        q.alert_episodes(client, period), period, horizon
    )
    if not totals_rows:
        report.notice = notice(bounds)
        report.summary = [report.notice]
        return report
    assert bounds is not None  # rows in the period, so the database has data

    report.projects = project_rows(
        q.grouped_sums(client, period, ["project_id", "queue_id"]), report.incidents, period.seconds
    )
    report.sla = _sla(client, period, ruleset)
    report.trends = _trends(client, period, ruleset, report)
    report.vendors, report.vendor_matrix = vendors(
        q.grouped_sums(client, period, ["project_id", "vendor_id", "source", "annotator_id"]),
        q.error_categories_by_vendor(client, period),
        period.seconds,
        totals.n("tasks_submitted"),
    )
    report.leaderboard = leaderboard(
        q.annotator_sums(client, period), period.seconds, ruleset, options
    )
    report.errors = error_rows(
        q.error_categories(client, period), totals.n("audits"), options.errors_n
    )
    report.changes = _changes(client, period, bounds[0])
    report.summary = summary_sentences(report)
    report.delivery = delivery_section(client, period)
    return report


def _sla(client: Any, period: Period, ruleset: RuleSet) -> SlaSection:
    """Each threshold rule's full windows in the period, grouped by its scope."""
    windows = {}
    for rule in ruleset.rules:
        if isinstance(rule, ThresholdRule) and (span := rule_span(period, rule)) is not None:
            windows[rule.name] = q.grouped_sums(client, span, rule.scope, bucket_s=rule.window)
    return sla_attainment(period, ruleset, windows)


def _trends(client: Any, period: Period, ruleset: RuleSet, report: Report) -> Trends:
    """The per-project sums in each bucket length a trend chart is drawn in."""
    buckets = trend_buckets(period, report.projects)
    rows = {
        bucket: q.grouped_sums(client, period, ["project_id"], bucket_s=bucket)
        for bucket in sorted(set(buckets.values()))
    }
    return trends(period, ruleset, report.projects, buckets, rows)


def _changes(client: Any, period: Period, data_first: datetime) -> Changes | None:
    """Projects, vendors and queues in the two spans compared."""
    compared = comparison(period, data_first)
    if compared is None:
        return None
    figures = [
        entity_figures(
            q.grouped_sums(client, span, ["project_id", "vendor_id", "source"]),
            q.grouped_sums(client, span, ["project_id", "queue_id"]),
            span.seconds,
        )
        for span in (compared.before, compared.after)
    ]
    return what_changed(compared, figures[0], figures[1])
