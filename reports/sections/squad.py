"""The squad page: members ranked fairly, who needs coaching, who is ready, gold warnings.

Pure. Members are ranked by the lower bound of their audit pass rate
(``schemas.stats.rank_fairly``) from ``min_audits`` audits and ``min_tasks``
submitted tasks; the others are listed after, unranked, and said to have too
few samples. Needs coaching is ordered by how far the best case falls short.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reports.coaching_types import (
    Advancement,
    CoachingOptions,
    MemberRow,
    Person,
    SquadPage,
)
from reports.sections.coaching import gold_warning, needs_coaching
from schemas import units
from schemas.stats import rank_fairly


def member_rows(
    members: Sequence[Person], ready: Mapping[str, Advancement], options: CoachingOptions
) -> list[MemberRow]:
    """Ranked members first (best first), then the active ones with too few samples, then
    the roster's members without activity in the period."""
    active = [p for p in members if p.active]
    busy = [p for p in active if p.figures.n("tasks_submitted") >= options.min_tasks]
    ranked, _small = rank_fairly(
        busy,
        lambda p: p.bounds["audit_pass_rate"],
        min_trials=options.min_audits,
        name=lambda p: p.annotator_id,
    )
    placed = {p.annotator_id for p in ranked}
    small = sorted(
        (p for p in active if p.annotator_id not in placed), key=lambda p: p.annotator_id
    )
    idle = sorted((p for p in members if not p.active), key=lambda p: p.annotator_id)

    def row(person: Person, rank: int | None) -> MemberRow:
        verdict = ready.get(person.annotator_id)
        return MemberRow(
            person,
            rank,
            needs_coaching(person, options),
            verdict is not None and verdict.ready,
            gold_warning(person, options) is not None,
        )

    return (
        [row(p, i + 1) for i, p in enumerate(ranked)]
        + [row(p, None) for p in small]
        + [row(p, None) for p in idle]
    )


def coaching_order(rows: Sequence[MemberRow]) -> list[MemberRow]:
    """Those who need coaching, the largest shortfall first."""
    flagged = [r for r in rows if r.coaching]
    return sorted(
        flagged, key=lambda r: (-max(c.shortfall for c in r.coaching), r.person.annotator_id)
    )


def squad_summary(page: SquadPage) -> list[str]:
    options = page.header.options
    members = page.members
    active = sum(1 for m in members if m.person.active)
    ranked = sum(1 for m in members if m.rank is not None)
    listed = sum(1 for m in members if m.person.listed)
    out = [
        f"Squad {page.squad}"
        + (f" (manager {', '.join(page.managers)})" if page.managers else "")
        + f": {len(members)} members"
        + (f" on the roster ({listed})" if listed != len(members) else "")
        + f", {active} active in the period, {ranked} with enough samples to be ranked "
        f"({options.min_tasks} submitted tasks and {options.min_audits} audits).",
    ]
    totals = page.totals
    if totals is not None and totals.n("tasks_submitted"):
        out.append(
            f"Together: {units.count(totals.n('tasks_submitted'))} tasks, AHT "
            f"{units.duration(totals.rate('aht_s'))}, audit pass rate "
            f"{units.percent(totals.rate('audit_pass_rate'))} of {units.count(totals.n('audits'))} "
            f"audits, "
            f"gold accuracy {units.percent(totals.rate('gold_accuracy'))} of "
            f"{units.count(totals.n('gold_submitted'))} gold tasks."
        )
    if page.coaching:
        names = ", ".join(r.person.name for r in page.coaching)
        out.append(f"Needs coaching ({len(page.coaching)}): {names}.")
    else:
        out.append("Nobody is demonstrably below a quality target.")
    ready = [a for a in page.advancement if a.ready]
    if ready:
        out.append(
            f"Ready for advancement ({len(ready)}): "
            + ", ".join(a.person.name for a in ready)
            + f", judged on the {page.weeks_covered} of the last {options.advance_weeks} weeks "
            "that the data covers."
        )
    else:
        out.append("Nobody is ready for advancement yet.")
    if page.gold_warnings:
        out.append(
            f"Gold warnings ({len(page.gold_warnings)}): "
            + ", ".join(
                f"{w.person.name} {units.percent(w.rate)} of {w.gold}" for w in page.gold_warnings
            )
            + "."
        )
    return out
