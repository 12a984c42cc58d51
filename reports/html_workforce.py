"""The HTML of the workforce sections: vendors, annotators, error categories.

Every string from the data is escaped (``esc``); table cells are HTML already.
"""

from __future__ import annotations

from reports import charts, fmt
from reports.figures import METRICS
from reports.html_parts import esc, figures_cells, table, with_n
from reports.types import AnnotatorRow, Report
from schemas import units


def _vendor_threshold(report: Report) -> tuple[float, str] | None:
    for rule in report.sla.rules if report.sla else []:
        if rule.metric == "audit_pass_rate" and "vendor_id" in rule.scope and rule.op in "<=":
            return rule.threshold, f"SLA {rule.name}: {units.percent(rule.threshold)}"
    return None


def render_vendors(report: Report) -> str:
    if not report.vendors:
        return ""
    out = ['<section id="vendors"><h2>Vendor comparison</h2>']
    rows = [
        [
            esc(v.vendor),
            esc(units.count(v.contributors)),
            esc(units.percent(v.share)),
            *figures_cells(v.figures),
            esc(v.top_error or fmt.NONE),
        ]
        for v in report.vendors
    ]
    out.append(
        table(
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
        (v.vendor, rate, f"{units.percent(rate)} ({units.count(v.figures.n('audits'))} audits)")
        for v in report.vendors
        if (rate := v.figures.rate("audit_pass_rate")) is not None
    ]
    if bars:
        svg = charts.bar_chart(
            "vendor-pass-rate",
            "Audit pass rate by vendor",
            bars,
            x_label="audit pass rate (% of audits approved)",
            x_format=lambda v: units.percent(v, 0),
            threshold=_vendor_threshold(report),
            share=True,
        )
        out.append(f"<figure>{svg}</figure>")
    vendors = [v.vendor for v in report.vendors]
    rows = []
    for project in [p.project_id for p in report.projects]:
        cells = [esc(project)]
        for vendor in vendors:
            f = report.vendor_matrix.get(project, {}).get(vendor)
            if f is None or not f.n("audits"):
                cells.append(esc(units.NO_DATA))
            else:
                cells.append(
                    with_n(units.percent(f.rate("audit_pass_rate")), f.n("audits"), "audits")
                )
        rows.append(cells)
    out.append("<h3>Audit pass rate by project and vendor</h3>")
    out.append(table(["project", *vendors], rows, set(range(1, len(vendors) + 1))))
    out.append("</section>")
    return "".join(out)


def render_annotators(report: Report) -> str:
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
        cells = [] if rank is None else [esc(rank)]
        cells += [
            esc(a.annotator_id),
            esc(a.vendor),
            esc(", ".join(a.projects)),
            esc(units.count(f.n("tasks_submitted"))),
            esc(units.duration(f.rate("aht_s"))),
            with_n(units.percent(f.rate("audit_pass_rate")), f.n("audits"), "audits"),
            with_n(units.percent(f.rate("gold_accuracy")), f.n("gold_submitted"), "gold"),
        ]
        if rank is None:
            cells.append(esc("; ".join(a.reasons)))
        return cells

    out.append("<h3>Leaderboard</h3>")
    if board.top:
        out.append(
            table(
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
        f"{METRICS[m].label.lower()} below {units.percent(v)} ({origin})"
        for m, (v, origin) in board.thresholds.items()
    )
    gold_note = ""
    if "gold_accuracy" in board.thresholds:
        gold_note = f" (gold accuracy judged from {board.min_gold} gold tasks)"
    if board.coaching:
        out.append(
            f"<p>Ranked contributors with {esc(floors or 'the lowest audit pass rates')}"
            f"{esc(gold_note)}, lowest pass rate first.</p>"
        )
        out.append(
            table(
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
        out.append(f"<p>Nobody ranked is below {esc(floors or 'the quality floors')}.</p>")
    out.append("</section>")
    return "".join(out)


def render_errors(report: Report) -> str:
    if not report.errors:
        return ""
    out = ['<section id="errors"><h2>Top error categories</h2>']
    rows = [
        [
            esc(r.category),
            esc(units.count(r.errors)),
            esc(units.percent(r.share_of_audits)),
            esc(units.percent(r.share_of_flags)),
            f'{esc(r.top_project)}<span class="small">{esc(units.count(r.top_project_errors))} '
            "audits</span>",
        ]
        for r in report.errors
    ]
    out.append(
        table(
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
        (
            r.category,
            r.share_of_audits,
            f"{units.percent(r.share_of_audits)} ({units.count(r.errors)})",
        )
        for r in report.errors
        if r.share_of_audits is not None
    ]
    if bars:
        svg = charts.bar_chart(
            "error-categories",
            "Top error categories (share of all audits)",
            bars,
            x_label="audits flagged with the category (% of all audits)",
            x_format=lambda v: units.percent(v, 0),
        )
        out.append(f"<figure>{svg}</figure>")
    out.append(
        '<p class="note">An audit can list several categories; a category repeated in one audit '
        "counts once.</p></section>"
    )
    return "".join(out)
