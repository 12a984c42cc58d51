"""The 1:1 packet's comparisons and narrative: the person against the squad, the vendor and
their own previous period; the audited tasks; the sentences that open the packet.

Pure: ``Person`` values and query rows in, packet pieces out. Medians are of
the people judged on the metric (enough samples), the person included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from reports.coaching_types import (
    Advancement,
    AuditedTask,
    CoachingOptions,
    MetricLine,
    Packet,
    Person,
)
from reports.sections.coaching import shown
from reports.sections.people import (
    COACH_METRICS,
    VOLUME,
    judged,
    median,
    peer_values,
    samples,
    value,
)
from schemas import units


def metric_lines(
    person: Person,
    squad: Sequence[Person],
    vendor: Sequence[Person],
    compared: tuple[Person | None, Person | None] | None,
    strong: set[str],
    options: CoachingOptions,
) -> list[MetricLine]:
    """Per metric: the person's value, the squad and vendor medians, and the change between
    the two compared spans (``compared``: the person in the earlier and the later span)."""
    lines = []
    earlier, later = compared or (None, None)
    for metric, info in COACH_METRICS.items():
        v = value(person, metric)
        before = after = None
        before_n = 0
        if earlier is not None and judged(earlier, metric, options):
            before = value(earlier, metric)
            before_n = samples(earlier, metric)
        if later is not None and judged(later, metric, options):
            after = value(later, metric)
        change = better = None
        if after is not None and before is not None:
            if info.share is not None:
                change = after - before
            elif before:
                change = after / before - 1
            if change is not None and change != 0:
                better = (change > 0) == info.higher_is_better
        squad_values = peer_values(squad, metric, options)
        vendor_values = peer_values(vendor, metric, options)
        lines.append(
            MetricLine(
                metric=metric,
                label=info.label,
                value=v,
                samples=samples(person, metric),
                unit=info.unit,
                judged=judged(person, metric, options),
                bounds=person.bounds[metric] if info.share else None,
                squad_median=median(squad_values),
                squad_peers=len(squad_values),
                vendor_median=median(vendor_values),
                vendor_peers=len(vendor_values),
                previous=before,
                previous_samples=before_n,
                later=after,
                change=change,
                better=better,
                strength=metric in strong,
            )
        )
    return lines


def audited_tasks(rows: Sequence[Mapping[str, Any]]) -> list[AuditedTask]:
    """``coaching_queries.audited_tasks`` rows."""
    return [
        AuditedTask(
            occurred_at=_aware(row["occurred_at"]),
            project_id=str(row["project_id"]),
            queue_id=str(row["queue_id"]),
            task_id=str(row["task_id"]),
            verdict=str(row["verdict"]),
            categories=[str(c) for c in row.get("error_categories") or []],
            auditor_id=str(row["auditor_id"]),
            score=None if row.get("score") is None else float(row["score"]),
        )
        for row in rows
    ]


def _aware(moment: datetime) -> datetime:
    """The client hands back naive UTC times."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def change_text(line: MetricLine) -> str:
    """``+3.2 pp`` for a share, ``-5 %`` otherwise; ``–`` without a comparison."""
    if line.change is None:
        return units.NO_DATA
    return (
        units.points(line.change) if COACH_METRICS[line.metric].share else units.change(line.change)
    )


def advancement_text(a: Advancement, options: CoachingOptions) -> str:
    covered = sum(1 for w in a.weeks if w.covered)
    if a.ready:
        tenure = "" if a.tenure_weeks is None else f", {a.tenure_weeks:.0f} weeks since joining"
        weeks = "the one week" if covered == 1 else f"each of the {covered} weeks"
        return (
            f"Ready for advancement: quality above target in {weeks} the data covers (of the "
            f"last {options.advance_weeks}), volume {units.count(a.volume)} tasks in the squad's "
            f"upper half{tenure}."
        )
    return "Not yet ready for advancement: " + "; ".join(a.missing) + "."


def lower_first(label: str) -> str:
    """``Average handle time (AHT)`` → ``average handle time (AHT)``."""
    return label[:1].lower() + label[1:]


def packet_summary(packet: Packet) -> list[str]:
    """The sentences that open the packet, generated from its numbers."""
    p = packet.person
    options = packet.header.options
    by_metric = {line.metric: line for line in packet.lines}
    who = [f"squad {p.squad}"]
    if p.level:
        who.append(f"level {p.level}")
    tenure = p.tenure_weeks(packet.header.period.end.date())
    if tenure is not None:
        who.append(f"{tenure:.0f} weeks since joining")
    volume = by_metric[VOLUME]
    pass_rate = by_metric["audit_pass_rate"]
    gold = by_metric["gold_accuracy"]
    out = [
        f"{p.name} ({p.annotator_id}; {', '.join(who)}) submitted {units.count(volume.value)} "
        f"tasks "
        f"(squad median {units.count(volume.squad_median)}), AHT "
        f"{units.duration(by_metric['aht_s'].value)}, audit pass rate "
        f"{units.percent(pass_rate.value)} "
        f"of {units.count(pass_rate.samples)} audits{_interval(pass_rate, options)}, gold accuracy "
        f"{units.percent(gold.value)} of {units.count(gold.samples)} gold "
        f"tasks{_interval(gold, options)}."
    ]
    if packet.coaching:
        out.append(
            "Needs coaching: "
            + "; ".join(r.text(options.confidence) for r in packet.coaching)
            + "."
        )
    else:
        out.append(
            "No quality rate is demonstrably below its target "
            f"({units.percent(options.target_pass_rate)} audit pass rate, "
            f"{units.percent(options.target_gold)} gold accuracy) with "
            f"{units.percent(options.confidence, 0)} confidence."
        )
    if packet.gold_warning is not None:
        w = packet.gold_warning
        out.append(
            f"Gold warning: {units.percent(w.rate)} of {w.gold} gold tasks, below "
            f"{units.percent(options.gold_warn_below)} after more than {options.gold_warn_after}."
        )
    changes = [
        f"{lower_first(line.label)} {shown(line.metric, line.previous)} → "
        f"{shown(line.metric, line.later)} ({change_text(line)})"
        for line in packet.lines
        if line.change is not None
    ]
    if changes and packet.header.basis:
        out.append(f"Compared: {packet.header.basis}: " + "; ".join(changes) + ".")
    strong = [lower_first(line.label) for line in packet.lines if line.strength]
    if strong:
        out.append("Strengths (the squad's top quarter): " + ", ".join(strong) + ".")
    else:
        out.append("No metric in the squad's top quarter this period.")
    if packet.focus:
        out.append(f"Suggested focus: {packet.focus}")
    if packet.advancement is not None:
        out.append(advancement_text(packet.advancement, options))
    return out


def _interval(line: MetricLine, options: CoachingOptions) -> str:
    b = line.bounds
    if b is None or b.low is None or b.high is None:
        return ""
    level = units.percent(options.confidence, 0)
    return f" ({level} interval {units.percent(b.low)}–{units.percent(b.high)})"
