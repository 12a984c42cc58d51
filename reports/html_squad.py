"""The squad page as one self-contained HTML file (``annotel squad``)."""

from __future__ import annotations

from reports import charts, fmt
from reports.coaching_types import MemberRow, SquadPage
from reports.html_coaching import (
    categories_section,
    footer,
    page,
    period_line,
    rate_cell,
    tenure,
    trend_section,
)
from reports.html_parts import esc, table
from reports.sections.coaching import shown
from reports.sections.packet import lower_first
from reports.sections.people import COACH_METRICS, VOLUME
from schemas import units
from schemas.stats import ranking_note

STATUS = {
    "coaching": ("needs coaching", "status-coaching"),
    "ready": ("ready for advancement", "status-ready"),
    "ranked": ("", ""),
    "small": ("too few samples to rank", ""),
    "inactive": ("no activity in the period", ""),
}


def _who(row: MemberRow) -> str:
    p = row.person
    name = esc(p.name)
    if p.display_name:
        name += f'<span class="small">{esc(p.annotator_id)}</span>'
    return name


def _member(row: MemberRow, page_: SquadPage) -> list[str]:
    p = row.person
    f = p.figures
    label, css = STATUS[row.status]
    status = f'<span class="{css}">{esc(label)}</span>' if label else ""
    if row.gold_warning:
        status += '<span class="why">gold warning</span>'
    return [
        esc(row.rank if row.rank is not None else ""),
        _who(row),
        esc(p.level or fmt.NONE),
        esc(tenure(p, page_.header)),
        esc(units.count(f.n(VOLUME))),
        esc(units.duration(f.rate("aht_s"))),
        rate_cell(p.bounds["audit_pass_rate"], "audits"),
        rate_cell(p.bounds["gold_accuracy"], "gold"),
        esc(units.percent(f.rate("rework_rate"))),
        esc(units.percent(f.rate("skip_rate"))),
        status,
    ]


def _members(page_: SquadPage) -> str:
    options = page_.header.options
    out = ['<section id="members"><h2>Members, ranked fairly</h2>']
    out.append(
        table(
            [
                "#",
                "member",
                "level",
                "tenure",
                "tasks",
                "AHT",
                "audit pass rate",
                "gold accuracy",
                "rework",
                "skip",
                "status",
            ],
            [_member(row, page_) for row in page_.members],
            {0, 3, 4, 5, 6, 7, 8, 9},
        )
    )
    out.append(
        f'<p class="note" id="fair-ranking">'
        f"{esc(ranking_note(options.confidence, options.min_audits, 'audits'))} Members also need "
        f"{esc(options.min_tasks)} submitted tasks. Under each rate: its samples and its "
        f"{esc(units.percent(options.confidence, 0))} Wilson interval.</p>"
    )
    bars = [
        (
            row.person.name,
            low,
            f"≥ {units.percent(low)} ({units.count(row.person.bounds['audit_pass_rate'].trials)} "
            f"audits)",
        )
        for row in page_.members
        if row.rank is not None and (low := row.person.bounds["audit_pass_rate"].low) is not None
    ]
    if bars:
        svg = charts.bar_chart(
            "squad-ranking",
            "Audit pass rate the samples vouch for (lower bound), ranked members",
            bars,
            x_label=f"audit pass rate, {units.percent(options.confidence, 0)} lower bound",
            x_format=lambda v: units.percent(v, 0),
            threshold=(
                options.target_pass_rate,
                f"target {units.percent(options.target_pass_rate)}",
            ),
            share=True,
        )
        out.append(f"<figure>{svg}</figure>")
    medians = ", ".join(
        f"{lower_first(info.label)} {shown(metric, page_.medians.get(metric))}"
        for metric, info in COACH_METRICS.items()
    )
    out.append(f'<p class="note">Squad medians (of members judged on each): {esc(medians)}.</p>')
    out.append("</section>")
    return "".join(out)


def _coaching(page_: SquadPage) -> str:
    options = page_.header.options
    out = ['<section id="coaching"><h2>Needs coaching</h2>']
    if not page_.coaching:
        out.append(
            "<p>Nobody is below a quality target with "
            f"{esc(units.percent(options.confidence, 0))} confidence.</p></section>"
        )
        return "".join(out)
    rows = [
        [
            _who(row),
            "".join(
                f'<span class="why">{esc(r.text(options.confidence))}</span>' for r in row.coaching
            ),
            esc(units.points(max(r.shortfall for r in row.coaching), signed=False)),
        ]
        for row in page_.coaching
    ]
    out.append(table(["member", "why (metric, samples, how far)", "shortfall"], rows, {2}))
    out.append(
        '<p class="note">Shortfall: how far below the target the best case (the upper bound) '
        "is. Largest first.</p></section>"
    )
    return "".join(out)


def _advancement(page_: SquadPage) -> str:
    options = page_.header.options
    out = ['<section id="advancement"><h2>Ready for advancement</h2>']
    out.append(
        f"<p>Judged on the {page_.weeks_covered} of the last {options.advance_weeks} weeks that "
        f"the data covers; targets {units.percent(options.target_pass_rate)} audit pass rate and "
        f"{units.percent(options.target_gold)} gold accuracy (lower bounds, every week), volume in "
        f"the squad's upper half, at least {options.tenure_weeks} weeks since joining.</p>"
    )
    ready = [a for a in page_.advancement if a.ready]
    if ready:
        rows = [
            [
                esc(a.person.name)
                + (
                    f'<span class="small">{esc(a.person.annotator_id)}</span>'
                    if a.person.display_name
                    else ""
                ),
                esc(a.person.level or fmt.NONE),
                esc(units.NO_DATA if a.tenure_weeks is None else f"{a.tenure_weeks:.0f} weeks"),
                f'{esc(units.count(a.volume))}<span class="small">squad median '
                f"{esc(units.count(a.squad_median_volume))}</span>",
                esc(sum(1 for w in a.weeks if w.covered)),
            ]
            for a in ready
        ]
        out.append(
            table(
                ["member", "level", "tenure", "tasks in the window", "weeks judged"],
                rows,
                {2, 3, 4},
            )
        )
    else:
        out.append("<p>Nobody is ready yet.</p>")
    close = [a for a in page_.advancement if not a.ready and len(a.missing) == 1]
    if close:
        items = "".join(f"<li>{esc(a.person.name)}: {esc(a.missing[0])}</li>" for a in close[:10])
        out.append(f'<h3>One step away</h3><ul id="close">{items}</ul>')
    out.append("</section>")
    return "".join(out)


def _gold(page_: SquadPage) -> str:
    options = page_.header.options
    out = ['<section id="gold"><h2>Gold-accuracy warnings</h2>']
    if not page_.gold_warnings:
        out.append(
            f"<p>Nobody below {esc(units.percent(options.gold_warn_below))} after more than "
            f"{esc(options.gold_warn_after)} gold tasks.</p></section>"
        )
        return "".join(out)
    rows = [
        [
            esc(w.person.name),
            esc(units.percent(w.rate)),
            esc(units.count(w.correct)),
            esc(units.count(w.gold)),
        ]
        for w in page_.gold_warnings
    ]
    out.append(table(["member", "gold accuracy", "correct", "gold tasks"], rows, {1, 2, 3}))
    out.append(
        f'<p class="note">The platforms\' convention: below '
        f"{esc(units.percent(options.gold_warn_below))} after more than "
        f"{esc(options.gold_warn_after)} gold tasks (the raw rate, as contributors are "
        "told).</p></section>"
    )
    return "".join(out)


def render_squad_html(page_: SquadPage) -> str:
    title = f"Squad {page_.squad} · {units.when(page_.header.period.end)}"
    managers = f"manager {', '.join(page_.managers)} · " if page_.managers else ""
    body = [
        f"<header><h1>Squad {esc(page_.squad)}</h1>"
        f'<p class="who">{esc(managers)}{esc(len(page_.members))} members</p>'
        f'<p class="meta">{esc(period_line(page_.header))}</p></header>'
    ]
    if page_.notice is not None:
        body.append(f'<p class="notice" id="notice">{esc(page_.notice)}</p>')
    items = "".join(f"<li>{esc(s)}</li>" for s in page_.summary)
    body.append(
        f'<section id="summary"><h2>Summary</h2><ul class="narrative">{items}</ul></section>'
    )
    body.append(_members(page_))
    body.append(_coaching(page_))
    body.append(_advancement(page_))
    body.append(_gold(page_))
    body.append(
        trend_section(
            "squad",
            page_.trends,
            "The squad against all annotators, in buckets of event time (UTC). Volume: tasks per "
            "active member. Rates: from each bucket's sums; a bucket with fewer than 5 samples "
            "leaves a gap. Dashed: the target.",
            volume_note=" per active member",
        )
    )
    totals = page_.totals
    if totals is not None:
        body.append(
            categories_section(
                "squad",
                page_.categories,
                totals.n("audits_rejected"),
                totals.n("audits_fixed"),
                None,
            )
        )
    return page(title, "".join(body) + footer(page_.header, "squad"))
