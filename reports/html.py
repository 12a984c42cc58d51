"""The report as one self-contained HTML file: inline CSS, inline SVG, no script, no network.

Every string from the data (project, queue, vendor and annotator names,
alert annotations) is escaped; charts carry ``data-chart`` attributes so
tests and tools can find them. This module lays out the page (style, header,
summary, footer); ``reports.html_operations`` and ``reports.html_workforce``
render the sections.
"""

from __future__ import annotations

from alerts.rules import THROUGHPUT
from reports.figures import METRICS
from reports.html_delivery import render_delivery
from reports.html_operations import render_incidents, render_projects, render_sla, render_trends
from reports.html_parts import esc
from reports.html_workforce import render_annotators, render_errors, render_vendors
from reports.types import Report
from schemas import units
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


def _kpis(report: Report) -> str:
    t = report.totals
    ongoing = sum(1 for e in report.incidents if e.ongoing)
    tiles = [
        (
            "Tasks submitted",
            units.count(t.n("tasks_submitted")),
            f"{units.duration(t.seconds)} period",
        ),
        ("Throughput", units.per_hour(t.rate(THROUGHPUT)), "tasks per hour"),
        ("AHT", units.duration(t.rate("aht_s")), "average handle time"),
        (
            "Audit pass rate",
            units.percent(t.rate("audit_pass_rate")),
            f"{units.count(t.n('audits'))} audits",
        ),
        (
            "Gold accuracy",
            units.percent(t.rate("gold_accuracy")),
            f"{units.count(t.n('gold_submitted'))} gold tasks",
        ),
        ("Alert episodes", units.count(len(report.incidents)), f"{ongoing} still firing"),
    ]
    return (
        '<div class="kpis">'
        + "".join(
            f'<div class="kpi"><div class="label">{esc(label)}</div>'
            f'<div class="value">{esc(value)}</div><div class="sub">{esc(sub)}</div></div>'
            for label, value, sub in tiles
        )
        + "</div>"
    )


def _summary(report: Report) -> str:
    out = ['<section id="summary"><h2>Summary</h2>', _kpis(report)]
    out.append('<ul class="narrative">')
    out.extend(f"<li>{esc(sentence)}</li>" for sentence in report.summary)
    out.append("</ul>")
    changes = report.changes
    if changes is not None and changes.movers:
        out.append("<h3>What changed: the biggest movers</h3>")
        out.append(
            f'<p class="note">Compared: {esc(changes.basis_text)}.</p><ul class="narrative">'
        )
        for mover in changes.movers:
            arrow = "▲" if mover.change > 0 else "▼"
            css = "good" if mover.better else "bad"
            verdict = "better" if mover.better else "worse"
            out.append(
                f'<li><span class="{css}" title="{verdict}">{arrow}</span> {esc(mover.sentence)}'
                f' <span class="note">({esc(verdict)}; '
                f"{esc(units.count(mover.before_samples))} → "
                f"{esc(units.count(mover.after_samples))} "
                f"{esc(METRICS[mover.metric].samples.replace('_', ' '))})</span></li>"
            )
        out.append("</ul>")
    out.append("</section>")
    return "".join(out)


def _footer(report: Report) -> str:
    definitions = "".join(
        f"<li><code>{esc(name)}</code> = {esc(rate.description)}</li>"
        for name, rate in RATES.items()
    )
    return (
        "<footer><h3>Definitions</h3><ul>"
        "<li><code>throughput_per_hour</code> = tasks_submitted / hours</li>"
        f"{definitions}</ul><p>Rates are computed from summed numerators and denominators, "
        "never averaged; a rate with a zero denominator is shown as –. Event time, UTC. "
        f"Generated by annotel report at {esc(units.when(report.generated_at))} from "
        f"{esc(report.source)}.</p></footer>"
    )


def render_html(report: Report) -> str:
    period = units.interval(report.period.start, report.period.end)
    head = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Annotation operations report · {esc(period)}</title>"
        f"<style>{CSS}</style></head><body><main>"
        "<header><h1>Annotation operations report</h1>"
        f'<p class="meta">Period {esc(period)} ({esc(units.duration(report.period.seconds))}) · '
        f"rules: {esc(report.rules_file)} · data: {esc(report.source)}</p></header>"
    )
    if report.notice is not None:
        body = f'<p class="notice" id="notice">{esc(report.notice)}</p>' + render_incidents(report)
    else:
        body = (
            render_delivery(report.delivery)
            + _summary(report)
            + render_projects(report)
            + render_sla(report)
            + render_trends(report)
            + render_incidents(report)
            + render_vendors(report)
            + render_annotators(report)
            + render_errors(report)
        )
    return head + body + _footer(report) + "</main></body></html>\n"
