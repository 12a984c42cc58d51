"""The report's Delivery section in HTML: queues by slack, then each queue's burn-down."""

from __future__ import annotations

from reports.delivery_chart import burn_down_svg
from reports.html_parts import esc
from reports.sections.delivery import (
    DeliverySection,
    at_risk,
    slack_words,
    staffing_words,
    when_words,
)
from schemas import units


def render_delivery(section: DeliverySection | None) -> str:
    if section is None or not section.queues:
        return ""
    out = [
        '<section id="delivery"><h2>Delivery</h2>',
        '<p class="note">Each queue\'s latest forecast (docs/metrics.md, "Delivery"): the ETA '
        "at its trailing throughput against its deadline; at risk first.</p>",
        "<table><thead><tr><th>queue</th><th class=num>open</th><th class=num>tasks/h</th>"
        "<th>ETA</th><th>deadline</th><th>slack</th><th>annotators</th></tr></thead><tbody>",
    ]
    for queue in section.queues:
        row = queue.forecast
        bad = at_risk(queue)
        out.append(
            f"<tr><td>{esc(queue.queue_id)}<span class=small>{esc(queue.project_id)}</span></td>"
            f"<td class=num>{esc(units.count(int(row['open_tasks'])))}</td>"
            f"<td class=num>{esc(units.per_hour(float(row['throughput_per_hour'])))}</td>"
            f"<td>{esc(when_words(row['eta_us'], 'stalled'))}</td>"
            f"<td>{esc(when_words(row['due_us'], 'none'))}</td>"
            f'<td class="{"bad" if bad else "good"}">{esc(slack_words(queue))}</td>'
            f"<td>{esc(staffing_words(queue))}</td></tr>"
        )
    out.append("</tbody></table>")
    for queue in section.queues:
        row = queue.forecast
        chart = burn_down_svg(
            f"{queue.queue_id} · {queue.project_id}: open tasks",
            queue.burn_down,
            int(row["now_us"]) // 1_000_000,
            int(row["open_tasks"]),
            None if row["eta_us"] is None else int(row["eta_us"]) / 1_000_000,
            None if row["due_us"] is None else int(row["due_us"]) / 1_000_000,
        )
        out.append(f"<figure>{chart}<figcaption>{esc(queue.text)}</figcaption></figure>")
    out.append("</section>")
    return "".join(out)
