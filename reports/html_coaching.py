"""The HTML pieces the 1:1 packet and the squad page share: the page, charts, categories, notes.

Same rules as the report (``reports.html``): one self-contained file, inline
CSS and SVG, no script, every value from the data escaped with ``esc``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reports import charts, fmt
from reports.coaching_types import CategoryRow, CoachingOptions, Header, Person, TrendChart
from reports.html import CSS
from reports.html_parts import esc, table
from reports.sections.coaching import shown
from reports.sections.people import VOLUME
from schemas import units
from schemas.durations import format_duration
from schemas.metrics import RATES
from schemas.stats import Bounded, ranking_note

EXTRA_CSS = """
.who { color: var(--muted); margin: 2px 0 0; }
.tag { display: inline-block; padding: 0 6px; margin-right: 4px; border-radius: 10px;
  background: var(--bg-soft); border: 1px solid var(--line); font-size: 11.5px; }
.status-coaching { color: var(--bad); font-weight: 600; }
.status-ready { color: var(--good); font-weight: 600; }
.star { color: var(--good); }
td .why { display: block; color: var(--muted); font-size: 11.5px; }
"""

CHART_SPECS: dict[str, tuple[str, str, Callable[[float], str], bool]] = {
    VOLUME: (
        "volume",
        "tasks submitted",
        lambda v: units.count(v) if v >= 10 else units.number(v),
        False,
    ),
    "aht_s": ("aht", "average handle time (seconds)", lambda v: units.count(v), False),
    "audit_pass_rate": ("pass-rate", "audit pass rate (%)", lambda v: units.percent(v, 0), True),
    "gold_accuracy": ("gold-accuracy", "gold accuracy (%)", lambda v: units.percent(v, 0), True),
}


def page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}{EXTRA_CSS}</style></head><body><main>"
        f"{body}</main></body></html>\n"
    )


def period_line(header: Header) -> str:
    period = header.period
    asked = f"the last {header.days} days"
    if header.data_first is not None and period.start <= header.data_first:
        asked += f", cut to the data, which starts {units.when(header.data_first)}"
    return (
        f"Period {units.when(period.start)} – {units.when(period.end)} "
        f"({units.duration(period.seconds)}: {asked}) · data: {header.source}"
    )


def bucket_name(seconds: int) -> str:
    return {86400: "day", 3600: "hour"}.get(seconds) or format_duration(seconds)


def interval(b: Bounded | None) -> str:
    if b is None or b.low is None or b.high is None:
        return units.NO_DATA
    return f"{units.percent(b.low)} – {units.percent(b.high)}"


def rate_cell(b: Bounded, unit: str) -> str:
    """A share with its samples and interval, as a table cell (HTML)."""
    return (
        f'{esc(units.percent(b.rate))}<span class="small">{esc(units.count(b.trials))} '
        f"{esc(unit)} · "
        f"{esc(interval(b))}</span>"
    )


def tenure(person: Person, header: Header) -> str:
    weeks = person.tenure_weeks(header.period.end.date())
    return fmt.NONE if weeks is None else f"{weeks:.0f} weeks"


def trend_section(
    prefix: str, trends: Sequence[TrendChart], note: str, volume_note: str = ""
) -> str:
    out = [f'<section id="trends"><h2>Trends</h2><p class="note">{esc(note)}</p>']
    for chart in trends:
        chart_id, y_label, y_format, share = CHART_SPECS[chart.metric]
        bucket = bucket_name(chart.bucket_s)
        if not chart.drawable:
            out.append(
                f"<h3>{esc(chart.label)}</h3><p>No {esc(bucket)} with enough samples to draw "
                "(a point needs 5).</p>"
            )
            continue
        lines = [
            charts.Line(line.name, [(p.at, p.value) for p in line.points]) for line in chart.lines
        ]
        thresholds = [] if chart.target is None else [(chart.target, "target")]
        svg = charts.line_chart(
            f"{prefix}-{chart_id}",
            f"{chart.label} per {bucket}",
            lines,
            y_label=f"{y_label} per {bucket}{volume_note}" if chart.metric == VOLUME else y_label,
            y_format=y_format,
            tooltip_format=_shower(chart.metric),
            thresholds=thresholds,
            zero_based=not share,
            share=share,
        )
        out.append(f"<figure>{svg}</figure>")
    out.append("</section>")
    return "".join(out)


def _shower(metric: str) -> Callable[[float], str]:
    return lambda value: shown(metric, value)


def categories_section(
    prefix: str, categories: Sequence[CategoryRow], rejects: int, fixes: int, focus: str | None
) -> str:
    out = ['<section id="errors"><h2>Error categories</h2>']
    if not categories:
        out.append("<p>No audit of the period carried an error category.</p></section>")
        return "".join(out)
    out.append(
        f"<p>{esc(units.count(rejects))} rejected and {esc(units.count(fixes))} fixed audits "
        f"in the "
        "period; an audit can carry several categories (counted once each).</p>"
    )
    rows = [
        [
            esc(c.category),
            esc(units.count(c.audits)),
            esc(units.count(c.fixes)),
            esc(units.count(c.rejects)),
            esc(units.percent(c.share_of_rejects)),
        ]
        for c in categories
    ]
    out.append(
        table(
            ["error category", "audits", "fixes", "rejects", "share of rejects"], rows, {1, 2, 3, 4}
        )
    )
    bars = [
        (c.category, float(c.audits), f"{units.count(c.audits)} audits") for c in categories[:12]
    ]
    svg = charts.bar_chart(
        f"{prefix}-errors",
        "Audits flagged with each error category",
        bars,
        x_label="audits flagged",
        x_format=lambda v: f"{v:g}",
    )
    out.append(f"<figure>{svg}</figure>")
    if focus:
        out.append(f'<p id="focus"><strong>Suggested focus:</strong> {esc(focus)}</p>')
    out.append("</section>")
    return "".join(out)


def judgement_notes(options: CoachingOptions) -> list[str]:
    """The one-line rules every coaching page states."""
    level = f"{units.percent(options.confidence, 0)}"
    return [
        ranking_note(options.confidence, options.min_audits, "audits")
        + f" People also need {options.min_tasks} submitted tasks to be ranked.",
        f"Needs coaching: the {level} Wilson upper bound of the audit pass rate (from "
        f"{options.min_audits} audits) or of gold accuracy (from {options.min_gold} gold tasks) "
        f"is below its target ({units.percent(options.target_pass_rate)}, "
        f"{units.percent(options.target_gold)}): the judgement holds with the samples we have.",
        f"Ready for advancement: in each of the last {options.advance_weeks} weeks the data "
        "covers, the lower bound of every quality rate at or above its target on the minimum "
        f"sample; volume in the squad's upper half; at least {options.tenure_weeks} weeks since "
        "the roster's start date.",
        f"Gold warning (the platforms' convention): gold accuracy below "
        f"{units.percent(options.gold_warn_below)} after more than {options.gold_warn_after} gold "
        "tasks.",
    ]


def footer(header: Header, command: str) -> str:
    notes = "".join(f"<li>{esc(n)}</li>" for n in judgement_notes(header.options))
    definitions = "".join(
        f"<li><code>{esc(name)}</code> = {esc(rate.description)}</li>"
        for name, rate in RATES.items()
        if name in ("aht_s", "audit_pass_rate", "gold_accuracy", "rework_rate", "skip_rate")
    )
    roster = (
        "Squads come from the roster table as loaded now (annotel roster load); annotators "
        "missing from it are in the squad unassigned."
        if header.roster_loaded
        else "No roster is loaded (annotel roster load FILE): everyone is in the squad unassigned."
    )
    return (
        f'<footer><h3>How people are judged</h3><ul id="judgement">{notes}</ul>'
        f"<h3>Definitions</h3><ul>{definitions}</ul>"
        f"<p>{esc(roster)} Rates are computed from summed numerators and denominators, never "
        "averaged; machine labels are not people and are left out. Event time, UTC. Generated "
        f"by annotel {esc(command)} at {esc(units.when(header.generated_at))} from "
        f"{esc(header.source)}.</p></footer>"
    )
