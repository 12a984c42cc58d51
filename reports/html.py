"""The report as one self-contained HTML file: inline CSS, inline SVG, no script, no network.

Every string from the data (project, queue, vendor and annotator names,
alert annotations) is escaped; charts carry ``data-chart`` attributes so
tests and tools can find them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from alerts.rules import THROUGHPUT
from reports import charts, fmt
from reports.model import (
    METRICS,
    MIN_POINT_SAMPLES,
    TARGET_POINT_SAMPLES,
    TREND_METRICS,
    AnnotatorRow,
    Figures,
    Report,
    SlaCell,
    incident_order,
    show_value,
)
from schemas.display import visible
from schemas.metrics import RATES

CSS = """
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d1d9e0;
  --bg-soft: #f6f8fa; --good: #1a7f37; --warn: #9a6700; --bad: #cf222e; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "Noto Sans CJK SC", "Noto Sans SC", "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei",
  "WenQuanYi Micro Hei", sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 10px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
h3 { font-size: 15px; margin: 20px 0 8px; }
p, li { max-width: 80ch; }
.meta { color: var(--muted); margin: 0; }
.note { color: var(--muted); font-size: 12.5px; }
.notice { padding: 12px 16px; border: 1px solid var(--warn); background: #fff8c5;
  border-radius: 6px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr));
  gap: 10px; margin: 14px 0; }
.kpi { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px;
  background: var(--bg-soft); }
.kpi .label { color: var(--muted); font-size: 12px; }
.kpi .value { font-size: 22px; font-weight: 600; }
.kpi .sub { color: var(--muted); font-size: 12px; }
ul.narrative li { margin: 4px 0; }
.good { color: var(--good); } .bad { color: var(--bad); }
table { border-collapse: collapse; width: 100%; margin: 8px 0 4px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left;
  vertical-align: top; }
th { background: var(--bg-soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td .small, th .small { display: block; color: var(--muted); font-size: 11.5px;
  font-weight: normal; }
td.att-good { background: #dafbe1; }
td.att-warn { background: #fff8c5; }
td.att-bad { background: #ffebe9; }
.sev { display: inline-block; padding: 0 6px; border-radius: 10px; font-size: 11.5px;
  color: #fff; }
.sev-critical { background: #a40e26; } .sev-error { background: #cf222e; }
.sev-warning { background: #9a6700; } .sev-info { background: #0969da; }
.ongoing { font-weight: 600; color: var(--bad); }
figure { margin: 12px 0 20px; }
figcaption { color: var(--muted); font-size: 12.5px; }
svg.chart { display: block; max-width: 100%; height: auto; font-size: 12px; }
svg.chart text { fill: var(--ink); font-family: inherit; }
svg.chart .chart-title { font-size: 14px; font-weight: 600; }
svg.chart .tick, svg.chart .bar-value { fill: var(--muted); }
svg.chart .axis-label { fill: var(--muted); font-size: 12px; }
svg.chart .grid { stroke: #e6e9ec; stroke-width: 1; }
svg.chart .axis { stroke: #8c959f; stroke-width: 1; }
svg.chart .series { stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
svg.chart .threshold { stroke-width: 1.5; }
footer { margin-top: 40px; color: var(--muted); font-size: 12.5px; }
@media print { main { max-width: none; padding: 0; } h2 { break-after: avoid; }
  figure, table, .kpis { break-inside: avoid; } }
"""


def _e(value: object) -> str:
    """Text and attribute values: HTML-escaped, unsafe characters shown (schemas.display)."""
    return escape(visible(str(value)), quote=True)


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int] | None = None
) -> str:
    """Headers are escaped; cells are HTML already (callers escape data)."""
    numeric = numeric or set()
    head = "".join(
        f'<th class="num">{_e(h)}</th>' if i in numeric else f"<th>{_e(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _with_n(value: str, samples: int, unit: str) -> str:
    return f'{_e(value)}<span class="small">{_e(fmt.num(samples))} {_e(unit)}</span>'


def _scope(scope: dict[str, str]) -> str:
    if not scope:
        return "everything"
    parts = []
    for key, value in scope.items():
        shown = fmt.vendor(value) if key == "vendor_id" else value
        parts.append(f"{key.removesuffix('_id')} {shown}")
    return ", ".join(parts)


def _kpis(report: Report) -> str:
    t = report.totals
    ongoing = sum(1 for e in report.incidents if e.ongoing)
    tiles = [
        ("Tasks submitted", fmt.num(t.n("tasks_submitted")), f"{fmt.duration(t.seconds)} period"),
        ("Throughput", fmt.num(t.rate(THROUGHPUT)), "tasks per hour"),
        ("AHT", fmt.seconds(t.rate("aht_s")), "average handle time"),
        ("Audit pass rate", fmt.pct(t.rate("audit_pass_rate")), f"{fmt.num(t.n('audits'))} audits"),
        (
            "Gold accuracy",
            fmt.pct(t.rate("gold_accuracy")),
            f"{fmt.num(t.n('gold_submitted'))} gold tasks",
        ),
        ("Alert episodes", fmt.num(len(report.incidents)), f"{ongoing} still firing"),
    ]
    return (
        '<div class="kpis">'
        + "".join(
            f'<div class="kpi"><div class="label">{_e(label)}</div>'
            f'<div class="value">{_e(value)}</div><div class="sub">{_e(sub)}</div></div>'
            for label, value, sub in tiles
        )
        + "</div>"
    )


def _summary(report: Report) -> str:
    out = ['<section id="summary"><h2>Summary</h2>', _kpis(report)]
    out.append('<ul class="narrative">')
    out.extend(f"<li>{_e(sentence)}</li>" for sentence in report.summary)
    out.append("</ul>")
    changes = report.changes
    if changes is not None and changes.movers:
        out.append("<h3>What changed: the biggest movers</h3>")
        out.append(f'<p class="note">Compared: {_e(changes.basis_text)}.</p><ul class="narrative">')
        for mover in changes.movers:
            arrow = "▲" if mover.change > 0 else "▼"
            css = "good" if mover.better else "bad"
            verdict = "better" if mover.better else "worse"
            out.append(
                f'<li><span class="{css}" title="{verdict}">{arrow}</span> {_e(mover.sentence)}'
                f' <span class="note">({_e(verdict)}; '
                f"{_e(fmt.num(mover.before_samples))} → {_e(fmt.num(mover.after_samples))} "
                f"{_e(METRICS[mover.metric].samples.replace('_', ' '))})</span></li>"
            )
        out.append("</ul>")
    out.append("</section>")
    return "".join(out)


def _projects(report: Report) -> str:
    rows = []
    for p in report.projects:
        f = p.figures
        met, windows = report.sla.project_attainment(p.project_id) if report.sla else (0, 0)
        rows.append(
            [
                _e(p.project_id),
                _e(p.queues),
                _e(fmt.num(f.n("tasks_submitted"))),
                _e(fmt.num(f.rate(THROUGHPUT))),
                _e(fmt.seconds(f.rate("aht_s"))),
                _with_n(fmt.pct(f.rate("audit_pass_rate")), f.n("audits"), "audits"),
                _with_n(fmt.pct(f.rate("gold_accuracy")), f.n("gold_submitted"), "gold"),
                _e(fmt.pct(f.rate("rework_rate"))),
                _e(fmt.pct(f.rate("skip_rate"))),
                _with_n(fmt.pct(met / windows if windows else None), windows, "windows"),
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
        + _table(headers, rows, set(range(1, 11)))
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


def _sla(report: Report) -> str:
    sla = report.sla
    if sla is None:
        return ""
    out = ['<section id="sla"><h2>SLA attainment</h2>']
    out.append(
        f"<p>Measured against the alert rules ({_e(report.rules_file)}): each rule's "
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
            f'<th class="num">{_e(r.name)}<span class="small">{_e(r.target)} · '
            f"{_e(fmt.window(r.window_s))}</span></th>"
            for r in rules
        )
        body = []
        for project in projects:
            cells = [f"<td>{_e(project if project is not None else 'all projects')}</td>"]
            for rule in rules:
                cell = sla.cell(rule.name, project)
                if cell is None or not cell.windows:
                    extra = f" ({cell.no_data} below min samples)" if cell and cell.no_data else ""
                    cells.append(
                        f'<td class="num">{_e(fmt.NA)}<span class="small">'
                        f"no judged window{_e(extra)}</span></td>"
                    )
                    continue
                detail = f"{cell.met}/{cell.windows} windows"
                worst = ""
                if cell.worst is not None:
                    w = cell.worst
                    worst = (
                        f'<span class="small">worst: {_e(_scope(w.scope))} '
                        f"{w.met}/{w.windows}, {_e(show_value(rule.metric, w.worst_value))}"
                        "</span>"
                    )
                cells.append(
                    f'<td class="num {_att_class(cell)}">{_e(fmt.pct(cell.attainment))}'
                    f'<span class="small">{_e(detail)}</span>{worst}</td>'
                )
            body.append(f"<tr>{''.join(cells)}</tr>")
        out.append(
            f"<table><thead><tr><th>{_e(headers[0])}</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>"
        )
    if sla.skipped:
        out.append('<p class="note">Not measured: ')
        out.append("; ".join(f"{_e(name)} ({_e(why)})" for name, why in sla.skipped))
        out.append(".</p>")
    out.append("</section>")
    return "".join(out)


def _trends(report: Report) -> str:
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
        THROUGHPUT: ("throughput", "tasks submitted per hour", lambda v: fmt.num(v), False),
        "aht_s": ("aht", "average handle time (seconds)", lambda v: fmt.num(v), False),
        "audit_pass_rate": (
            "audit-pass-rate",
            "audit pass rate (%)",
            lambda v: fmt.pct(v, 0),
            True,
        ),
        "gold_accuracy": ("gold-accuracy", "gold accuracy (%)", lambda v: fmt.pct(v, 0), True),
    }
    for metric in TREND_METRICS:
        chart_id, y_label, y_format, share = specs[metric]
        info = METRICS[metric]
        lines = [
            charts.Line(s.name, [(p.at, p.value) for p in s.points]) for s in trends.series[metric]
        ]
        if not any(p[1] is not None for line in lines for p in line.points):
            out.append(f"<h3>{_e(info.label)}</h3><p>No data with enough samples.</p>")
            continue
        svg = charts.line_chart(
            chart_id,
            f"{info.label} per project ({fmt.window(trends.buckets[metric])} buckets)",
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
    return lambda value: show_value(metric, value)


def _incidents(report: Report) -> str:
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
            f'<span class="sev sev-{_e(r.severity)}">{_e(r.severity)}</span>',
            _e(r.rule),
            _e(r.episodes),
            f'<span class="ongoing">{r.ongoing}</span>' if r.ongoing else "0",
            _e(fmt.duration(r.total_s)),
            _e(fmt.duration(r.longest_s)),
        ]
        for r in report.incidents_by_rule
    ]
    out.append("<h3>By rule</h3>")
    out.append(
        _table(
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
            '<span class="ongoing">still firing</span>' if e.ongoing else _e(fmt.when(e.ends_at))
        )
        duration = ("≥ " if e.ongoing else "") + fmt.duration(e.duration_s)
        started = fmt.when(e.starts_at) + (" (before the period)" if e.before_period else "")
        rows.append(
            [
                f'<span class="sev sev-{_e(e.severity)}">{_e(e.severity)}</span>',
                _e(e.rule),
                _e(_scope(e.scope)),
                _e(started),
                status,
                _e(duration),
                f'{_e(show_value(e.metric, e.worst_value))}<span class="small">threshold '
                f"{_e(show_value(e.metric, e.threshold))}</span>",
                _e(e.summary),
            ]
        )
    out.append("<h3>Episodes</h3>")
    out.append(
        _table(
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


def _figures_cells(f: Figures) -> list[str]:
    return [
        _e(fmt.num(f.n("tasks_submitted"))),
        _e(fmt.num(f.rate(THROUGHPUT))),
        _e(fmt.seconds(f.rate("aht_s"))),
        _with_n(fmt.pct(f.rate("audit_pass_rate")), f.n("audits"), "audits"),
        _e(fmt.pct(f.rate("audit_reject_rate"))),
        _with_n(fmt.pct(f.rate("gold_accuracy")), f.n("gold_submitted"), "gold"),
        _e(fmt.pct(f.rate("rework_rate"))),
        _e(fmt.num(f.rate("mean_audit_score"), 2)),
    ]


def _vendor_threshold(report: Report) -> tuple[float, str] | None:
    for rule in report.sla.rules if report.sla else []:
        if rule.metric == "audit_pass_rate" and "vendor_id" in rule.scope and rule.op in "<=":
            return rule.threshold, f"SLA {rule.name}: {fmt.pct(rule.threshold, 0)}"
    return None


def _vendors(report: Report) -> str:
    if not report.vendors:
        return ""
    out = ['<section id="vendors"><h2>Vendor comparison</h2>']
    rows = [
        [
            _e(v.vendor),
            _e(fmt.num(v.contributors)),
            _e(fmt.pct(v.share)),
            *_figures_cells(v.figures),
            _e(v.top_error or fmt.NA),
        ]
        for v in report.vendors
    ]
    out.append(
        _table(
            [
                "vendor",
                "contributors",
                "share",
                "tasks",
                "tasks/h",
                "AHT",
                "pass rate",
                "reject rate",
                "gold acc.",
                "rework",
                "audit score",
                "top error",
            ],
            rows,
            set(range(1, 11)),
        )
    )
    out.append(
        '<p class="note">Share: of all submitted tasks. Contributors: distinct annotator ids '
        "(models, for machine labels). Audit score: mean audit score (0-1).</p>"
    )
    bars = [
        (v.vendor, rate, f"{fmt.pct(rate)} ({fmt.num(v.figures.n('audits'))} audits)")
        for v in report.vendors
        if (rate := v.figures.rate("audit_pass_rate")) is not None
    ]
    if bars:
        svg = charts.bar_chart(
            "vendor-pass-rate",
            "Audit pass rate by vendor",
            bars,
            x_label="audit pass rate (% of audits approved)",
            x_format=lambda v: fmt.pct(v, 0),
            threshold=_vendor_threshold(report),
            share=True,
        )
        out.append(f"<figure>{svg}</figure>")
    vendors = [v.vendor for v in report.vendors]
    rows = []
    for project in [p.project_id for p in report.projects]:
        cells = [_e(project)]
        for vendor in vendors:
            f = report.vendor_matrix.get(project, {}).get(vendor)
            if f is None or not f.n("audits"):
                cells.append(_e(fmt.NA))
            else:
                cells.append(_with_n(fmt.pct(f.rate("audit_pass_rate")), f.n("audits"), "audits"))
        rows.append(cells)
    out.append("<h3>Audit pass rate by project and vendor</h3>")
    out.append(_table(["project", *vendors], rows, set(range(1, len(vendors) + 1))))
    out.append("</section>")
    return "".join(out)


def _annotators(report: Report) -> str:
    board = report.leaderboard
    if board is None:
        return ""
    out = ['<section id="annotators"><h2>Annotators</h2>']
    out.append(
        f"<p>{board.active} contributors were active (machine labels excluded). "
        f"{board.ranked} had at least {board.min_tasks} submitted tasks and "
        f"{board.min_audits} audits and are ranked; the other {board.active - board.ranked} "
        "have too few samples to be judged fairly and are not ranked.</p>"
    )

    def row(rank: int | None, a: AnnotatorRow) -> list[str]:
        f = a.figures
        cells = [] if rank is None else [_e(rank)]
        cells += [
            _e(a.annotator_id),
            _e(a.vendor),
            _e(", ".join(a.projects)),
            _e(fmt.num(f.n("tasks_submitted"))),
            _e(fmt.seconds(f.rate("aht_s"))),
            _with_n(fmt.pct(f.rate("audit_pass_rate")), f.n("audits"), "audits"),
            _with_n(fmt.pct(f.rate("gold_accuracy")), f.n("gold_submitted"), "gold"),
        ]
        if rank is None:
            cells.append(_e("; ".join(a.reasons)))
        return cells

    out.append("<h3>Leaderboard</h3>")
    if board.top:
        out.append(
            _table(
                ["#", "annotator", "vendor", "projects", "tasks", "AHT", "pass rate", "gold acc."],
                [row(i + 1, a) for i, a in enumerate(board.top)],
                {0, 4, 5, 6, 7},
            )
        )
        out.append(
            '<p class="note">Ranked by audit pass rate, then by number of audits (more evidence '
            "first), then by AHT.</p>"
        )
    else:
        out.append("<p>Nobody has enough samples to be ranked in this period.</p>")
    out.append("<h3>Needs coaching</h3>")
    floors = ", ".join(
        f"{METRICS[m].label.lower()} below {fmt.pct(v, 0)} ({origin})"
        for m, (v, origin) in board.thresholds.items()
    )
    gold_note = ""
    if "gold_accuracy" in board.thresholds:
        gold_note = f" (gold accuracy judged from {board.min_gold} gold tasks)"
    if board.coaching:
        out.append(
            f"<p>Ranked contributors with {_e(floors or 'the lowest audit pass rates')}"
            f"{_e(gold_note)}, lowest pass rate first.</p>"
        )
        out.append(
            _table(
                [
                    "annotator",
                    "vendor",
                    "projects",
                    "tasks",
                    "AHT",
                    "pass rate",
                    "gold acc.",
                    "why",
                ],
                [row(None, a) for a in board.coaching],
                {3, 4, 5, 6},
            )
        )
        if board.coaching_total > len(board.coaching):
            out.append(
                f'<p class="note">… and {board.coaching_total - len(board.coaching)} more.</p>'
            )
    else:
        out.append(f"<p>Nobody ranked is below {_e(floors or 'the quality floors')}.</p>")
    out.append("</section>")
    return "".join(out)


def _errors(report: Report) -> str:
    if not report.errors:
        return ""
    out = ['<section id="errors"><h2>Top error categories</h2>']
    rows = [
        [
            _e(r.category),
            _e(fmt.num(r.errors)),
            _e(fmt.pct(r.share_of_audits)),
            _e(fmt.pct(r.share_of_flags)),
            f'{_e(r.top_project)}<span class="small">{_e(fmt.num(r.top_project_errors))} '
            "audits</span>",
        ]
        for r in report.errors
    ]
    out.append(
        _table(
            [
                "error category",
                "audits flagged",
                "% of audits",
                "% of flags",
                "most affected project",
            ],
            rows,
            {1, 2, 3},
        )
    )
    bars = [
        (r.category, r.share_of_audits, f"{fmt.pct(r.share_of_audits)} ({fmt.num(r.errors)})")
        for r in report.errors
        if r.share_of_audits is not None
    ]
    if bars:
        svg = charts.bar_chart(
            "error-categories",
            "Top error categories (share of all audits)",
            bars,
            x_label="audits flagged with the category (% of all audits)",
            x_format=lambda v: fmt.pct(v, 0),
        )
        out.append(f"<figure>{svg}</figure>")
    out.append(
        '<p class="note">An audit can list several categories; a category repeated in one audit '
        "counts once.</p></section>"
    )
    return "".join(out)


def _footer(report: Report) -> str:
    definitions = "".join(
        f"<li><code>{_e(name)}</code> = {_e(rate.description)}</li>" for name, rate in RATES.items()
    )
    return (
        "<footer><h3>Definitions</h3><ul>"
        "<li><code>throughput_per_hour</code> = tasks_submitted / hours</li>"
        f"{definitions}</ul><p>Rates are computed from summed numerators and denominators, "
        "never averaged; a rate with a zero denominator is shown as –. Event time, UTC. "
        f"Generated by annotel report at {_e(fmt.when(report.generated_at))} from "
        f"{_e(report.source)}.</p></footer>"
    )


def render_html(report: Report) -> str:
    period = f"{fmt.when(report.period.start)} – {fmt.when(report.period.end)}"
    head = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Annotation operations report · {_e(period)}</title>"
        f"<style>{CSS}</style></head><body><main>"
        "<header><h1>Annotation operations report</h1>"
        f'<p class="meta">Period {_e(period)} ({_e(fmt.duration(report.period.seconds))}) · '
        f"rules: {_e(report.rules_file)} · data: {_e(report.source)}</p></header>"
    )
    if report.notice is not None:
        body = f'<p class="notice" id="notice">{_e(report.notice)}</p>' + _incidents(report)
    else:
        body = (
            _summary(report)
            + _projects(report)
            + _sla(report)
            + _trends(report)
            + _incidents(report)
            + _vendors(report)
            + _annotators(report)
            + _errors(report)
        )
    return head + body + _footer(report) + "</main></body></html>\n"
