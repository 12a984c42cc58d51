"""The 1:1 packet as one self-contained HTML file (``annotel coach``)."""

from __future__ import annotations

from reports import fmt
from reports.coaching_types import MetricLine, Packet
from reports.html_coaching import (
    categories_section,
    footer,
    interval,
    page,
    period_line,
    tenure,
    trend_section,
)
from reports.html_parts import esc, table
from reports.sections.coaching import shown
from reports.sections.packet import advancement_text, change_text
from reports.sections.people import VOLUME
from schemas import units


def _head(packet: Packet) -> str:
    p = packet.person
    facts = [
        f"id {p.annotator_id}",
        f"squad {p.squad}",
        f"manager {p.manager or fmt.NONE}",
        f"vendor {p.vendor}",
        f"level {p.level or fmt.NONE}",
        f"started {p.start_date.isoformat() if p.start_date else fmt.NONE} "
        f"({tenure(p, packet.header)})",
    ]
    tags = "".join(f'<span class="tag">{esc(t)}</span>' for t in p.tags)
    return (
        f"<header><h1>1:1 packet: {esc(p.name)}</h1>"
        f'<p class="who">{esc(" · ".join(facts))} {tags}</p>'
        f'<p class="meta">{esc(period_line(packet.header))}</p></header>'
    )


def _kpis(packet: Packet) -> str:
    tiles = []
    for line in packet.lines:
        sub = "" if line.metric == VOLUME else f"{units.count(line.samples)} {line.unit}"
        if line.bounds is not None and line.bounds.low is not None:
            sub += f" · {interval(line.bounds)}"
        tiles.append((line.label, shown(line.metric, line.value), sub))
    return (
        '<div class="kpis">'
        + "".join(
            f'<div class="kpi"><div class="label">{esc(label)}</div>'
            f'<div class="value">{esc(value)}</div><div class="sub">{esc(sub)}</div></div>'
            for label, value, sub in tiles
        )
        + "</div>"
    )


def _compare_row(line: MetricLine) -> list[str]:
    star = (
        ' <span class="star" title="in the squad\'s top quarter">★</span>' if line.strength else ""
    )
    value = esc(shown(line.metric, line.value))
    if not line.judged:
        value += '<span class="small">too few samples to compare</span>'
    change = esc(change_text(line))
    if line.better is not None:
        css = "good" if line.better else "bad"
        change = f'<span class="{css}">{change}</span>'
    if line.metric != VOLUME:
        value += f'<span class="small">{esc(units.count(line.samples))} {esc(line.unit)}</span>'
    return [
        esc(line.label) + star,
        value,
        esc(interval(line.bounds)),
        f"{esc(shown(line.metric, line.squad_median))}"
        f'<span class="small">{esc(line.squad_peers)} members</span>',
        f"{esc(shown(line.metric, line.vendor_median))}"
        f'<span class="small">{esc(line.vendor_peers)} people</span>',
        esc(shown(line.metric, line.previous)),
        esc(shown(line.metric, line.later)),
        change,
    ]


def _compare(packet: Packet) -> str:
    options = packet.header.options
    out = ['<section id="compare"><h2>The period against the squad, the vendor and before</h2>']
    out.append(
        table(
            [
                "metric",
                "this period",
                f"{units.percent(options.confidence, 0)} interval",
                f"squad {packet.person.squad} median",
                f"vendor {packet.person.vendor} median",
                "earlier",
                "later",
                "change",
            ],
            [_compare_row(line) for line in packet.lines],
            {1, 2, 3, 4, 5, 6, 7},
        )
    )
    basis = packet.header.basis or "no earlier data to compare with"
    out.append(
        f'<p class="note">Medians are over the people judged on each metric (enough samples), '
        f"the person included. Earlier and later: {esc(basis)}. ★: in the squad's top quarter "
        "(rates compared by the bound that vouches for them).</p></section>"
    )
    return "".join(out)


def _judgements(packet: Packet) -> str:
    options = packet.header.options
    out = ['<section id="judgements"><h2>Coaching and advancement</h2>']
    if packet.coaching:
        items = "".join(f"<li>{esc(r.text(options.confidence))}</li>" for r in packet.coaching)
        out.append(f'<h3 class="status-coaching">Needs coaching</h3><ul id="coaching">{items}</ul>')
    else:
        out.append(
            '<p id="coaching">Not below a quality target with '
            f"{esc(units.percent(options.confidence, 0))} confidence.</p>"
        )
    if packet.gold_warning is not None:
        w = packet.gold_warning
        out.append(
            f'<p class="status-coaching" id="gold-warning">Gold warning: '
            f"{esc(units.percent(w.rate))} "
            f"of {esc(w.gold)} gold tasks.</p>"
        )
    if packet.strengths:
        items = "".join(f"<li>{esc(s)}</li>" for s in packet.strengths)
        out.append(f'<h3>Strengths</h3><ul id="strengths">{items}</ul>')
    if packet.advancement is not None:
        css = "status-ready" if packet.advancement.ready else ""
        text = advancement_text(packet.advancement, options)
        out.append(f'<p class="{css}" id="advancement">{esc(text)}</p>')
    out.append("</section>")
    return "".join(out)


def _tasks(packet: Packet) -> str:
    out = ['<section id="tasks"><h2>Audited tasks fixed or rejected</h2>']
    if not packet.tasks:
        out.append("<p>No audit of the period asked for a fix or rejected.</p></section>")
        return "".join(out)
    rows = [
        [
            esc(t.task_id),
            f'{esc(t.queue_id)}<span class="small">{esc(t.project_id)}</span>',
            f'<span class="{"bad" if t.verdict == "reject" else ""}">{esc(t.verdict)}</span>',
            esc(", ".join(t.categories) or fmt.NONE),
            esc(t.auditor_id),
            esc(units.number(t.score)),
            esc(units.when(t.occurred_at)),
        ]
        for t in packet.tasks
    ]
    out.append(
        table(
            ["task", "queue", "verdict", "error categories", "auditor", "score", "when"], rows, {5}
        )
    )
    if packet.tasks_total > len(packet.tasks):
        out.append(
            f'<p class="note">The newest {len(packet.tasks)} of {packet.tasks_total}; '
            "audit_events_current holds all of them.</p>"
        )
    out.append("</section>")
    return "".join(out)


def render_packet_html(packet: Packet) -> str:
    title = f"1:1 packet · {packet.person.name} · {units.when(packet.header.period.end)}"
    body = [_head(packet)]
    if packet.notice is not None:
        body.append(f'<p class="notice" id="notice">{esc(packet.notice)}</p>')
        return page(title, "".join(body) + footer(packet.header, "coach"))
    items = "".join(f"<li>{esc(s)}</li>" for s in packet.summary)
    body.append(
        f'<section id="summary"><h2>Summary</h2>{_kpis(packet)}'
        f'<ul class="narrative">{items}</ul></section>'
    )
    body.append(_judgements(packet))
    body.append(_compare(packet))
    body.append(
        trend_section(
            "coach",
            packet.trends,
            "The person against their squad, in buckets of event time (UTC). Volume: the "
            "person's tasks and the squad's tasks per active member. Rates: from each bucket's "
            "sums; a bucket with fewer than 5 samples leaves a gap. Dashed: the target.",
            volume_note=" (squad: per active member)",
        )
    )
    f = packet.person.figures
    body.append(
        categories_section(
            "coach", packet.categories, f.n("audits_rejected"), f.n("audits_fixed"), packet.focus
        )
    )
    body.append(_tasks(packet))
    return page(title, "".join(body) + footer(packet.header, "coach"))
