"""The 1:1 packet and the squad page as Markdown (``--format md``): for wikis, tickets, e-mail.

The same content as the HTML pages, with text sparklines for the trends.
Every value from the data goes through ``reports.markdown.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

from reports import fmt
from reports.coaching_types import CategoryRow, Header, Packet, SquadPage, TrendChart
from reports.html_coaching import bucket_name, interval, judgement_notes, period_line, tenure
from reports.markdown import Md, _table, md, sparkline
from reports.sections.coaching import shown
from reports.sections.packet import change_text
from reports.sections.people import VOLUME
from schemas import units


def _trends(trends: Sequence[TrendChart]) -> list[str]:
    out = ["## Trends", ""]
    rows = []
    for chart in trends:
        for line in chart.lines:
            values = [p.value for p in line.points]
            present = [v for v in values if v is not None]
            rows.append(
                [
                    chart.label,
                    line.name,
                    shown(chart.metric, present[0]) if present else units.NO_DATA,
                    shown(chart.metric, present[-1]) if present else units.NO_DATA,
                    Md(f"`{sparkline(values)}`") if present else units.NO_DATA,
                ]
            )
    bucket = trends[0].bucket_s if trends else 86400
    out += [
        f"Per {bucket_name(bucket)} (UTC); a bucket with fewer than 5 samples is a gap.",
        "",
        _table(["metric", "who", "first", "last", "trend"], rows, {2, 3}),
        "",
    ]
    return out


def _categories(categories: Sequence[CategoryRow], focus: str | None) -> list[str]:
    out = ["## Error categories", ""]
    if not categories:
        return [*out, "No audit of the period carried an error category.", ""]
    out += [
        _table(
            ["error category", "audits", "fixes", "rejects", "share of rejects"],
            [
                [c.category, c.audits, c.fixes, c.rejects, units.percent(c.share_of_rejects)]
                for c in categories
            ],
            {1, 2, 3, 4},
        ),
        "",
    ]
    if focus:
        out += [f"**Suggested focus:** {md(focus)}", ""]
    return out


def _footer(header: Header) -> list[str]:
    return [
        "---",
        *[f"- {md(note)}" for note in judgement_notes(header.options)],
        "",
        "Rates are computed from summed numerators and denominators, never averaged; machine "
        "labels are left out. Event time, UTC.",
    ]


def render_packet_markdown(packet: Packet) -> str:
    p = packet.person
    header = packet.header
    out = [
        f"# 1:1 packet: {md(p.name)}",
        "",
        md(
            f"id {p.annotator_id} · squad {p.squad} · manager {p.manager or fmt.NONE} · "
            f"vendor "
            f"{p.vendor} · level {p.level or fmt.NONE} · {tenure(p, header)}"
            + (f" · tags {', '.join(p.tags)}" if p.tags else "")
        ),
        "",
        md(period_line(header)),
        "",
    ]
    if packet.notice is not None:
        return "\n".join([*out, f"> {md(packet.notice)}", "", *_footer(header)]) + "\n"
    out += ["## Summary", "", *[f"- {md(s)}" for s in packet.summary], ""]
    conf = f"{units.percent(header.options.confidence, 0)}"
    out += [
        "## The period against the squad, the vendor and before",
        "",
        _table(
            [
                "metric",
                "this period",
                f"{conf} interval",
                "squad median",
                "vendor median",
                "earlier",
                "later",
                "change",
            ],
            [
                [
                    line.label + (" ★" if line.strength else ""),
                    shown(line.metric, line.value)
                    + (
                        ""
                        if line.metric == VOLUME
                        else f" ({units.count(line.samples)} {line.unit})"
                    ),
                    interval(line.bounds),
                    f"{shown(line.metric, line.squad_median)} ({line.squad_peers})",
                    f"{shown(line.metric, line.vendor_median)} ({line.vendor_peers})",
                    shown(line.metric, line.previous),
                    shown(line.metric, line.later),
                    change_text(line),
                ]
                for line in packet.lines
            ],
            {1, 2, 3, 4, 5, 6, 7},
        ),
        "",
        md(f"Earlier and later: {header.basis or 'no earlier data'}. ★: the squad's top quarter."),
        "",
    ]
    out += _trends(packet.trends)
    out += _categories(packet.categories, packet.focus)
    out += ["## Audited tasks fixed or rejected", ""]
    if packet.tasks:
        out += [
            _table(
                ["task", "queue", "verdict", "error categories", "auditor", "when"],
                [
                    [
                        t.task_id,
                        f"{t.queue_id} ({t.project_id})",
                        t.verdict,
                        ", ".join(t.categories) or fmt.NONE,
                        t.auditor_id,
                        units.when(t.occurred_at),
                    ]
                    for t in packet.tasks
                ],
                set(),
            ),
            "",
        ]
        if packet.tasks_total > len(packet.tasks):
            out += [f"The newest {len(packet.tasks)} of {packet.tasks_total}.", ""]
    else:
        out += ["No audit of the period asked for a fix or rejected.", ""]
    return "\n".join([*out, *_footer(header)]).rstrip() + "\n"


def render_squad_markdown(page: SquadPage) -> str:
    header = page.header
    options = header.options
    out = [
        f"# Squad {md(page.squad)}",
        "",
        md(
            (f"manager {', '.join(page.managers)} · " if page.managers else "")
            + f"{len(page.members)} members"
        ),
        "",
        md(period_line(header)),
        "",
        "## Summary",
        "",
        *[f"- {md(s)}" for s in page.summary],
        "",
        "## Members, ranked fairly",
        "",
    ]
    status = {
        "coaching": "needs coaching",
        "ready": "ready for advancement",
        "ranked": "",
        "small": "too few samples to rank",
        "inactive": "no activity",
    }
    rows = []
    for row in page.members:
        p, f = row.person, row.person.figures
        pr, gold = p.bounds["audit_pass_rate"], p.bounds["gold_accuracy"]
        rows.append(
            [
                row.rank if row.rank is not None else "",
                p.name if not p.display_name else f"{p.name} ({p.annotator_id})",
                p.level or fmt.NONE,
                tenure(p, header),
                units.count(f.n(VOLUME)),
                units.duration(f.rate("aht_s")),
                f"{units.percent(pr.rate)} ({units.count(pr.trials)}; {interval(pr)})",
                f"{units.percent(gold.rate)} ({units.count(gold.trials)}; {interval(gold)})",
                "; ".join(
                    text
                    for text in (status[row.status], "gold warning" if row.gold_warning else "")
                    if text
                ),
            ]
        )
    out += [
        _table(
            ["#", "member", "level", "tenure", "tasks", "AHT", "pass rate", "gold acc.", "status"],
            rows,
            {0, 4, 5, 6, 7},
        ),
        "",
        "## Needs coaching",
        "",
    ]
    if page.coaching:
        out += [
            _table(
                ["member", "why"],
                [
                    [row.person.name, "; ".join(r.text(options.confidence) for r in row.coaching)]
                    for row in page.coaching
                ],
                set(),
            ),
            "",
        ]
    else:
        out += ["Nobody is below a quality target.", ""]
    out += [
        "## Ready for advancement",
        "",
        md(
            f"Judged on the {page.weeks_covered} of the last {options.advance_weeks} weeks the "
            "data covers."
        ),
        "",
    ]
    ready = [a for a in page.advancement if a.ready]
    if ready:
        out += [
            _table(
                ["member", "tenure", "tasks in the window", "squad median"],
                [
                    [
                        a.person.name,
                        units.NO_DATA if a.tenure_weeks is None else f"{a.tenure_weeks:.0f} weeks",
                        units.count(a.volume),
                        units.count(a.squad_median_volume),
                    ]
                    for a in ready
                ],
                {2, 3},
            ),
            "",
        ]
    else:
        out += ["Nobody is ready yet.", ""]
    out += ["## Gold-accuracy warnings", ""]
    if page.gold_warnings:
        out += [
            _table(
                ["member", "gold accuracy", "gold tasks"],
                [[w.person.name, units.percent(w.rate), w.gold] for w in page.gold_warnings],
                {1, 2},
            ),
            "",
        ]
    else:
        out += ["None.", ""]
    out += _trends(page.trends)
    out += _categories(page.categories, None)
    return "\n".join([*out, *_footer(header)]).rstrip() + "\n"
