"""The HTML building blocks every section of the report uses: escaping, tables, a value
with the samples it rests on."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from alerts.rules import THROUGHPUT
from reports import fmt
from reports.figures import Figures
from schemas import units
from schemas.display import visible


def esc(value: object) -> str:
    """Text and attribute values: HTML-escaped, unsafe characters shown (schemas.display)."""
    return escape(visible(str(value)), quote=True)


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int] | None = None
) -> str:
    """Headers are escaped; cells are HTML already (callers escape data)."""
    numeric = numeric or set()
    head = "".join(
        f'<th class="num">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>"
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


def with_n(value: str, samples: int, unit: str) -> str:
    return f'{esc(value)}<span class="small">{esc(units.count(samples))} {esc(unit)}</span>'


def scope_text(scope: dict[str, str]) -> str:
    if not scope:
        return "everything"
    parts = []
    for key, value in scope.items():
        shown = fmt.vendor(value) if key == "vendor_id" else value
        parts.append(f"{key.removesuffix('_id')} {shown}")
    return ", ".join(parts)


def figures_cells(f: Figures) -> list[str]:
    return [
        esc(units.count(f.n("tasks_submitted"))),
        esc(units.per_hour(f.rate(THROUGHPUT))),
        esc(units.duration(f.rate("aht_s"))),
        with_n(units.percent(f.rate("audit_pass_rate")), f.n("audits"), "audits"),
        esc(units.percent(f.rate("audit_reject_rate"))),
        with_n(units.percent(f.rate("gold_accuracy")), f.n("gold_submitted"), "gold"),
        esc(units.percent(f.rate("rework_rate"))),
        esc(units.number(f.rate("mean_audit_score"))),
    ]
