"""The HTML of the operations sections: projects, SLA attainment, trends, incidents.

Every string from the data is escaped (``esc``); table cells are HTML already.
"""

from __future__ import annotations

from collections.abc import Callable

from alerts.rules import THROUGHPUT
from reports import charts
from reports.figures import METRICS, TREND_METRICS
from reports.html_parts import esc, scope_text, table, with_n
from reports.sections.incidents import incident_order
from reports.sections.trends import MIN_POINT_SAMPLES, TARGET_POINT_SAMPLES
from reports.types import Report, SlaCell
from schemas import units
from schemas.durations import format_duration


def render_projects(report: Report) -> str:
    rows = []
    for p in report.projects:
        f = p.figures
        met, windows = report.sla.project_attainment(p.project_id) if report.sla else (0, 0)
        rows.append(
            [
                esc(p.project_id),
                esc(p.queues),
                esc(units.count(f.n("tasks_submitted"))),
                esc(units.per_hour(f.rate(THROUGHPUT))),
                esc(units.duration(f.rate("aht_s"))),
                with_n(units.percent(f.rate("audit_pass_rate")), f.n("audits"), "audits"),
                with_n(units.percent(f.rate("gold_accuracy")), f.n("gold_submitted"), "gold"),
                esc(units.percent(f.rate("rework_rate"))),
                esc(units.percent(f.rate("skip_rate"))),
                with_n(units.percent(met / windows if windows else None), windows, "windows"),
                f'<span class="ongoing">{p.firing_at_end}</span>' if p.firing_at_end else "0",
            ]
        )
    headers = [
        "project",
        "queues",
        "tasks",
        "tasks/h",
        "AHT",
        "pass rate",
        "gold acc.",
        "rework",
        "skip",
        "SLA met",
        "firing",
    ]
    return (
        '<section id="projects"><h2>Projects</h2>'
        + table(headers, rows, set(range(1, 11)))
        + '<p class="note">SLA met: share of all rule windows with enough samples, over every '
        "rule scoped by project (see below). Firing: alerts still firing at the end of the "
        "period.</p></section>"
    )


def _att_class(cell: SlaCell) -> str:
    value = cell.attainment
    if value is None:
        return ""
    if value >= 0.99:
        return "att-good"
    return "att-warn" if value >= 0.9 else "att-bad"


def render_sla(report: Report) -> str:
    sla = report.sla
    if sla is None:
        return ""
    out = ['<section id="sla"><h2>SLA attainment</h2>']
    out.append(
        f"<p>Measured against the alert rules ({esc(report.rules_file)}): each rule's "
        "windows (tumbling, aligned to UTC, whole windows inside the period) judged the way "
        "the alert evaluator judges them. A window meets the SLA when it is not on the breaching "
        "side of the threshold; windows below the rule's <code>min_samples</code> are not "
        "counted. Each cell: the share of windows met, how many were judged, and the scope "
        "(vendor, queue, ...) that did worst.</p>"
    )
    rules = [r for r in sla.rules if any(c.rule == r.name for c in sla.cells)]
    if not rules:
        out.append("<p>No threshold rule had a judged window in this period.</p>")
    else:
        projects: list[str | None] = [p.project_id for p in report.projects]
        if any(c.project_id is None for c in sla.cells):
            projects.append(None)
        headers = ["project"] + [f"{r.name}" for r in rules]
        head = "".join(
            f'<th class="num">{esc(r.name)}<span class="small">{esc(r.target)} · '
            f"{esc(format_duration(r.window_s))}</span></th>"
            for r in rules
        )
        body = []
        for project in projects:
            cells = [f"<td>{esc(project if project is not None else 'all projects')}</td>"]
            for rule in rules:
                cell = sla.cell(rule.name, project)
                if cell is None or not cell.windows:
                    extra = f" ({cell.no_data} below min samples)" if cell and cell.no_data else ""
                    cells.append(
                        f'<td class="num">{esc(units.NO_DATA)}<span class="small">'
                        f"no judged window{esc(extra)}</span></td>"
                    )
                    continue
                detail = f"{cell.met}/{cell.windows} windows"
                worst = ""
                if cell.worst is not None:
                    w = cell.worst
                    worst = (
                        f'<span class="small">worst: {esc(scope_text(w.scope))} '
                        f"{w.met}/{w.windows}, "
                        f"{esc(units.metric_value(rule.metric, w.worst_value))}"
                        "</span>"
                    )
                cells.append(
                    f'<td class="num {_att_class(cell)}">{esc(units.percent(cell.attainment))}'
                    f'<span class="small">{esc(detail)}</span>{worst}</td>'
                )
            body.append(f"<tr>{''.join(cells)}</tr>")
        out.append(
            f"<table><thead><tr><th>{esc(headers[0])}</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>"
        )
    if sla.skipped:
        out.append('<p class="note">Not measured: ')
        out.append("; ".join(f"{esc(name)} ({esc(why)})" for name, why in sla.skipped))
        out.append(".</p>")
    out.append("</section>")
    return "".join(out)


def render_trends(report: Report) -> str:
    trends = report.trends
    if trends is None:
        return ""
    out = ['<section id="trends"><h2>Trends</h2>']
    out.append(
        '<p class="note">Per project, in buckets of event time (UTC). Rates are computed '
        "from each bucket's sums; quality charts use wider buckets until a point rests on about "
        f"{TARGET_POINT_SAMPLES} audits or gold tasks, and a bucket with fewer than "
        f"{MIN_POINT_SAMPLES} leaves a gap rather than a noisy point. The newest bucket may be "
        "incomplete while data is still arriving. Dashed red lines: thresholds of the alert "
        "rules on the same metric. Hover a point for its value.</p>"
    )
    specs = {
        THROUGHPUT: ("throughput", "tasks submitted per hour", lambda v: units.count(v), False),
        "aht_s": ("aht", "average handle time (seconds)", lambda v: units.count(v), False),
        "audit_pass_rate": (
            "audit-pass-rate",
            "audit pass rate (%)",
            lambda v: units.percent(v, 0),
            True,
        ),
        "gold_accuracy": (
            "gold-accuracy",
            "gold accuracy (%)",
            lambda v: units.percent(v, 0),
            True,
        ),
    }
    for metric in TREND_METRICS:
        chart_id, y_label, y_format, share = specs[metric]
        info = METRICS[metric]
        lines = [
            charts.Line(s.name, [(p.at, p.value) for p in s.points]) for s in trends.series[metric]
        ]
        if not any(p[1] is not None for line in lines for p in line.points):
            out.append(f"<h3>{esc(info.label)}</h3><p>No data with enough samples.</p>")
            continue
        svg = charts.line_chart(
            chart_id,
            f"{info.label} per project ({format_duration(trends.buckets[metric])} buckets)",
            lines,
            y_label=y_label,
            y_format=y_format,
            tooltip_format=_shower(metric),
            thresholds=trends.thresholds.get(metric, []),
            zero_based=not share,
            share=share,
        )
        out.append(f"<figure>{svg}</figure>")
    out.append("</section>")
    return "".join(out)


def _shower(metric: str) -> Callable[[float], str]:
    return lambda value: units.metric_value(metric, value)


def render_incidents(report: Report) -> str:
    out = ['<section id="incidents"><h2>Incidents</h2>']
    if not report.incidents:
        out.append("<p>No alert fired in this period.</p></section>")
        return "".join(out)
    out.append(
        "<p>Alert episodes from the <code>alerts</code> table that overlap the period: from the "
        "start of the first breaching window to the resolve. Still-firing episodes are measured "
        "to the end of the data.</p>"
    )
    rows = [
        [
            f'<span class="sev sev-{esc(r.severity)}">{esc(r.severity)}</span>',
            esc(r.rule),
            esc(r.episodes),
            f'<span class="ongoing">{r.ongoing}</span>' if r.ongoing else "0",
            esc(units.duration(r.total_s)),
            esc(units.duration(r.longest_s)),
        ]
        for r in report.incidents_by_rule
    ]
    out.append("<h3>By rule</h3>")
    out.append(
        table(
            ["severity", "rule", "episodes", "still firing", "time in alert", "longest"],
            rows,
            {2, 3, 4, 5},
        )
    )
    ordered = sorted(report.incidents, key=incident_order)
    shown = ordered[: report.options.incidents_n]
    rows = []
    for e in shown:
        status = (
            '<span class="ongoing">still firing</span>' if e.ongoing else esc(units.when(e.ends_at))
        )
        duration = ("≥ " if e.ongoing else "") + units.duration(e.duration_s)
        started = units.when(e.starts_at) + (" (before the period)" if e.before_period else "")
        rows.append(
            [
                f'<span class="sev sev-{esc(e.severity)}">{esc(e.severity)}</span>',
                esc(e.rule),
                esc(scope_text(e.scope)),
                esc(started),
                status,
                esc(duration),
                f'{esc(units.metric_value(e.metric, e.worst_value))}<span class="small">threshold '
                f"{esc(units.metric_value(e.metric, e.threshold))}</span>",
                esc(e.summary),
            ]
        )
    out.append("<h3>Episodes</h3>")
    out.append(
        table(
            ["severity", "rule", "scope", "started", "resolved", "duration", "worst", "summary"],
            rows,
            {5, 6},
        )
    )
    if len(ordered) > len(shown):
        out.append(
            f'<p class="note">… and {len(ordered) - len(shown)} more (most severe, still firing '
            "and longest first); <code>annotel alerts list</code> shows the current state.</p>"
        )
    out.append("</section>")
    return "".join(out)
