"""The report as Markdown (``annotel report --format md``): the same sections as the HTML,
with tables and text sparklines instead of charts, for wikis, tickets and e-mail.

Every value from the data (project, queue, vendor and annotator ids, error
categories, rule names, sentences built from them) goes through ``md``, so an
id cannot open a link, an image, raw HTML, a code span or a table cell; only
the report's own markup (``Md``) is written as is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from alerts.rules import THROUGHPUT
from reports import fmt
from reports.figures import METRICS, TREND_METRICS, Figures
from reports.sections.delivery import (
    DeliverySection,
    at_risk,
    slack_words,
    staffing_words,
    when_words,
)
from reports.sections.incidents import incident_order
from reports.types import AnnotatorRow, Report
from schemas import units
from schemas.display import visible
from schemas.durations import format_duration
from schemas.stats import ranking_note

SPARKS = "▁▂▃▄▅▆▇█"

# Backslash-escaped wherever they appear: \ (so a value cannot escape what follows it),
# ` (code spans), * and ~ (emphasis), [ ] (links, images), # (headings), | (table cells).
_ALWAYS = frozenset("\\`*~[]#|")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}  # raw HTML, autolinks; any renderer
_SPECIAL = re.compile(r"[\\`*~\[\]#|&<>_]")


class Md(str):
    """Markdown the report writes itself (bold, code spans): passed through ``md`` unchanged."""

    __slots__ = ()


def md(value: object) -> str:
    """``value`` as literal text in Markdown (CommonMark and GitHub's tables).

    Unsafe characters first become visible escapes (``schemas.display``); then
    ``& < >`` become entities (inert in every renderer, raw HTML ones too) and
    Markdown's punctuation is backslash-escaped. ``_`` is left alone between
    two letters or digits, where it cannot emphasise, so ``vendor_quality_low``
    stays readable in the file.
    """
    if isinstance(value, Md):
        return value
    text = visible(str(value))
    if not _SPECIAL.search(text):
        return text
    out: list[str] = []
    last = len(text) - 1
    for i, char in enumerate(text):
        if char in _ENTITIES:
            out.append(_ENTITIES[char])
        elif char in _ALWAYS:
            out.append("\\" + char)
        elif char == "_" and not (0 < i < last and text[i - 1].isalnum() and text[i + 1].isalnum()):
            out.append("\\_")
        else:
            out.append(char)
    return "".join(out)


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], right: set[int]) -> str:
    head = "| " + " | ".join(md(h) for h in headers) + " |"
    rule = "|" + "|".join("---:" if i in right else "---" for i in range(len(headers))) + "|"
    body = ["| " + " | ".join(md(c) for c in row) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def sparkline(values: Sequence[float | None]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return ""
    low, high = min(present), max(present)
    span = high - low
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif span == 0:
            out.append(SPARKS[len(SPARKS) // 2])
        else:
            out.append(SPARKS[round((v - low) / span * (len(SPARKS) - 1))])
    return "".join(out)


def _scope(scope: dict[str, str]) -> str:
    if not scope:
        return "everything"
    return ", ".join(
        f"{k.removesuffix('_id')} {fmt.vendor(v) if k == 'vendor_id' else v}"
        for k, v in scope.items()
    )


def _with_n(value: str, n: int) -> str:
    return f"{value} ({units.count(n)})"


def _figures(f: Figures) -> list[str]:
    return [
        units.count(f.n("tasks_submitted")),
        units.per_hour(f.rate(THROUGHPUT)),
        units.duration(f.rate("aht_s")),
        _with_n(units.percent(f.rate("audit_pass_rate")), f.n("audits")),
        _with_n(units.percent(f.rate("gold_accuracy")), f.n("gold_submitted")),
        units.percent(f.rate("rework_rate")),
    ]


def _delivery(section: DeliverySection | None) -> list[str]:
    """Queues by slack (at risk first), each with its forecast in words and its burn-down."""
    if section is None or not section.queues:
        return []
    rows = [
        [
            Md(f"**{md(q.queue_id)}**") if at_risk(q) else q.queue_id,
            q.project_id,
            units.count(int(q.forecast["open_tasks"])),
            units.per_hour(float(q.forecast["throughput_per_hour"])),
            when_words(q.forecast["eta_us"], "stalled"),
            when_words(q.forecast["due_us"], "none"),
            slack_words(q),
            staffing_words(q),
        ]
        for q in section.queues
    ]
    headers = ["queue", "project", "open", "tasks/h", "ETA", "deadline", "slack", "annotators"]
    out = ["## Delivery", "", "At risk (late or stalled) in bold, first.", ""]
    out += [_table(headers, rows, {2, 3}), ""]
    for q in section.queues:
        trend = sparkline([float(n) for _minute, n in q.burn_down])
        out.append(f"- {md(q.queue_id)} · {md(q.project_id)}: {md(q.text)}")
        if trend:
            out.append(f"  open tasks over the period: {trend}")
    return [*out, ""]


def render_markdown(report: Report) -> str:
    period = units.interval(report.period.start, report.period.end)
    out = [
        "# Annotation operations report",
        "",
        f"Period **{period}** ({units.duration(report.period.seconds)}) · rules: "
        f"{md(report.rules_file)} · data: {md(report.source)} · generated "
        f"{units.when(report.generated_at)}",
        "",
    ]
    if report.notice is not None:
        out += [f"> {md(report.notice)}", ""]
        out += _incidents(report)
        return "\n".join(out).rstrip() + "\n"
    out += _delivery(report.delivery)
    t = report.totals
    out += ["## Summary", ""]
    out += [f"- {md(sentence)}" for sentence in report.summary]
    out.append("")
    changes = report.changes
    if changes is not None and changes.movers:
        out += [
            "### What changed: the biggest movers",
            "",
            f"Compared: {md(changes.basis_text)}.",
            "",
        ]
        for m in changes.movers:
            arrow = "▲" if m.change > 0 else "▼"
            out.append(f"- {arrow} {md(m.sentence)} ({'better' if m.better else 'worse'})")
        out.append("")
    out += [
        "## Projects",
        "",
        _table(
            [
                "project",
                "tasks",
                "tasks/h",
                "AHT",
                "pass rate (audits)",
                "gold acc. (gold)",
                "rework",
                "SLA met",
                "firing",
            ],
            [
                [
                    p.project_id,
                    *_figures(p.figures),
                    units.percent(_att(report, p.project_id)),
                    p.firing_at_end,
                ]
                for p in report.projects
            ],
            set(range(1, 9)),
        ),
        "",
        f"All projects: {units.count(t.n('tasks_submitted'))} tasks, "
        f"{units.per_hour(t.rate(THROUGHPUT))} tasks/h.",
        "",
    ]
    out += _sla(report)
    out += _trends(report)
    out += _incidents(report)
    out += _vendors(report)
    out += _annotators(report)
    out += _errors(report)
    out += [
        "---",
        "Rates are computed from summed numerators and denominators, never averaged; – means "
        "no data (a zero denominator). Event time, UTC.",
    ]
    return "\n".join(out).rstrip() + "\n"


def _att(report: Report, project: str) -> float | None:
    if report.sla is None:
        return None
    met, windows = report.sla.project_attainment(project)
    return met / windows if windows else None


def _sla(report: Report) -> list[str]:
    sla = report.sla
    if sla is None:
        return []
    out = [
        "## SLA attainment",
        "",
        f"Share of each rule's windows (rules: {md(report.rules_file)}; judged as the alert "
        "evaluator judges them, windows below `min_samples` not counted) that met the SLA.",
        "",
    ]
    rules = [r for r in sla.rules if any(c.rule == r.name for c in sla.cells)]
    if rules:
        projects: list[str | None] = [p.project_id for p in report.projects]
        if any(c.project_id is None for c in sla.cells):
            projects.append(None)
        rows = []
        for project in projects:
            row: list[object] = [project if project is not None else "all projects"]
            for rule in rules:
                cell = sla.cell(rule.name, project)
                if cell is None or not cell.windows:
                    row.append(units.NO_DATA)
                    continue
                text = f"{units.percent(cell.attainment)} ({cell.met}/{cell.windows})"
                if cell.worst is not None:
                    text += f"; worst {_scope(cell.worst.scope)}"
                row.append(text)
            rows.append(row)
        out += [
            _table(
                [
                    "project",
                    *(f"{r.name} ({r.target}, {format_duration(r.window_s)})" for r in rules),
                ],
                rows,
                set(),
            ),
            "",
        ]
    if sla.skipped:
        skipped = "; ".join(f"{md(name)} ({md(why)})" for name, why in sla.skipped)
        out += [f"Not measured: {skipped}.", ""]
    return out


def _trends(report: Report) -> list[str]:
    trends = report.trends
    if trends is None:
        return []
    out = ["## Trends", ""]
    for metric in TREND_METRICS:
        info = METRICS[metric]
        rows = []
        for series in trends.series[metric]:
            values = [p.value for p in series.points]
            present = [v for v in values if v is not None]
            if not present:
                continue
            rows.append(
                [
                    series.name,
                    info.show(present[0]),
                    info.show(present[-1]),
                    info.show(min(present)),
                    info.show(max(present)),
                    Md(f"`{sparkline(values)}`"),
                ]
            )
        out += [
            f"### {md(info.label)} ({format_duration(trends.buckets[metric])} buckets)",
            "",
            _table(["project", "first", "last", "min", "max", "trend"], rows, {1, 2, 3, 4}),
            "",
        ]
    return out


def _incidents(report: Report) -> list[str]:
    out = ["## Incidents", ""]
    if not report.incidents:
        return [*out, "No alert fired in this period.", ""]
    out += [
        _table(
            ["severity", "rule", "episodes", "still firing", "time in alert", "longest"],
            [
                [
                    r.severity,
                    r.rule,
                    r.episodes,
                    r.ongoing,
                    units.duration(r.total_s),
                    units.duration(r.longest_s),
                ]
                for r in report.incidents_by_rule
            ],
            {2, 3, 4, 5},
        ),
        "",
    ]
    ordered = sorted(report.incidents, key=incident_order)
    shown = ordered[: report.options.incidents_n]
    rows = []
    for e in shown:
        rows.append(
            [
                e.severity,
                e.rule,
                _scope(e.scope),
                units.when(e.starts_at) + (" (before the period)" if e.before_period else ""),
                Md("**still firing**") if e.ongoing else units.when(e.ends_at),
                ("≥ " if e.ongoing else "") + units.duration(e.duration_s),
                f"{units.metric_value(e.metric, e.worst_value)} (threshold "
                f"{units.metric_value(e.metric, e.threshold)})",
            ]
        )
    out += [
        _table(
            ["severity", "rule", "scope", "started", "resolved", "duration", "worst"], rows, {5}
        ),
        "",
    ]
    if len(ordered) > len(shown):
        out += [f"… and {len(ordered) - len(shown)} more.", ""]
    return out


def _vendors(report: Report) -> list[str]:
    if not report.vendors:
        return []
    return [
        "## Vendor comparison",
        "",
        _table(
            [
                "vendor",
                "contributors",
                "share",
                "tasks",
                "tasks/h",
                "AHT",
                "pass rate (audits)",
                "gold acc. (gold)",
                "rework",
                "top error",
            ],
            [
                [
                    v.vendor,
                    v.contributors,
                    units.percent(v.share),
                    *_figures(v.figures),
                    v.top_error or fmt.NONE,
                ]
                for v in report.vendors
            ],
            set(range(1, 9)),
        ),
        "",
    ]


def _annotators(report: Report) -> list[str]:
    board = report.leaderboard
    if board is None:
        return []
    out = [
        "## Annotators",
        "",
        f"{board.active} contributors active (machine labels excluded); {board.ranked} with at "
        f"least {board.min_tasks} submitted tasks and {board.min_audits} audits are ranked, the "
        f"other {board.active - board.ranked} have too few samples.",
        "",
        "### Leaderboard",
        "",
    ]
    headers = [
        "annotator",
        "vendor",
        "projects",
        "tasks",
        "AHT",
        "pass rate (audits)",
        f"{units.percent(board.confidence, 0)} lower bound",
        "gold acc. (gold)",
    ]

    def cells(a: AnnotatorRow) -> list[object]:
        f = a.figures
        return [
            a.annotator_id,
            a.vendor,
            ", ".join(a.projects),
            units.count(f.n("tasks_submitted")),
            units.duration(f.rate("aht_s")),
            _with_n(units.percent(f.rate("audit_pass_rate")), f.n("audits")),
            units.percent(a.bounds["audit_pass_rate"].low),
            _with_n(units.percent(f.rate("gold_accuracy")), f.n("gold_submitted")),
        ]

    out += [
        _table(
            ["#", *headers],
            [[i + 1, *cells(a)] for i, a in enumerate(board.top)],
            {0, 4, 5, 6, 7, 8},
        ),
        "",
        md(ranking_note(board.confidence, board.min_audits, "audits")),
        "",
        "### Needs coaching",
        "",
        md(
            f"Ranked contributors whose {units.percent(board.confidence, 0)} upper bound "
            "is below a "
            "quality floor: the judgement holds with the samples we have."
        ),
        "",
    ]
    if board.coaching:
        out += [
            _table(
                [*headers, "why"],
                [[*cells(a), "; ".join(a.reasons)] for a in board.coaching],
                {3, 4, 5, 6, 7},
            ),
            "",
        ]
        if board.coaching_total > len(board.coaching):
            out += [f"… and {board.coaching_total - len(board.coaching)} more.", ""]
    else:
        out += ["Nobody ranked is below the quality floors.", ""]
    return out


def _errors(report: Report) -> list[str]:
    if not report.errors:
        return []
    return [
        "## Top error categories",
        "",
        _table(
            ["error category", "audits flagged", "% of audits", "most affected project"],
            [
                [
                    r.category,
                    units.count(r.errors),
                    units.percent(r.share_of_audits),
                    f"{r.top_project} ({units.count(r.top_project_errors)})",
                ]
                for r in report.errors
            ],
            {1, 2},
        ),
        "",
    ]
