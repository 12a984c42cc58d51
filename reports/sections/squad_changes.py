"""What changed in a squad from one week to the next: the hook of the weekly digest.

The weekly message per squad to its contributor manager (who newly needs
coaching, who no longer does, who became ready for advancement, who no longer
is): ``reports.coaching_model.build_squad_changes`` builds the squad page at
the end of this week and of the week before and hands both here;
``annotel squad-digest`` sends the text. Pure: two ``SquadPage`` values in, the changes out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from reports.coaching_types import SquadPage


@dataclass
class SquadChanges:
    squad: str
    managers: list[str]
    period_end: datetime  # the end of the week the changes lead up to
    newly_coaching: list[str] = field(default_factory=list)  # display names (ids if none)
    no_longer_coaching: list[str] = field(default_factory=list)
    newly_ready: list[str] = field(default_factory=list)
    no_longer_ready: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (
            self.newly_coaching
            or self.no_longer_coaching
            or self.newly_ready
            or self.no_longer_ready
        )


def _names(page: SquadPage, ids: set[str]) -> list[str]:
    people = {m.person.annotator_id: m.person for m in page.members}
    return sorted(people[i].name if i in people else i for i in ids)


def squad_changes(before: SquadPage, after: SquadPage) -> SquadChanges:
    """The coaching and advancement lists of ``after`` against those of ``before``."""
    coaching_before = {r.person.annotator_id for r in before.coaching}
    coaching_after = {r.person.annotator_id for r in after.coaching}
    ready_before = {a.person.annotator_id for a in before.advancement if a.ready}
    ready_after = {a.person.annotator_id for a in after.advancement if a.ready}
    return SquadChanges(
        squad=after.squad,
        managers=list(after.managers),
        period_end=after.header.period.end,
        newly_coaching=_names(after, coaching_after - coaching_before),
        no_longer_coaching=_names(after, coaching_before - coaching_after),
        newly_ready=_names(after, ready_after - ready_before),
        no_longer_ready=_names(after, ready_before - ready_after),
    )


def digest_text(changes: SquadChanges) -> str:
    """The message body, one line per kind of change (plain text; the sender escapes it for
    its channel)."""
    lines = [f"Squad {changes.squad}: changes since last week"]
    for label, names in (
        ("needs coaching now", changes.newly_coaching),
        ("no longer needs coaching", changes.no_longer_coaching),
        ("ready for advancement now", changes.newly_ready),
        ("no longer ready for advancement", changes.no_longer_ready),
    ):
        if names:
            lines.append(f"- {label}: {', '.join(names)}")
    if changes.empty:
        lines.append("- no change in coaching or advancement")
    return "\n".join(lines)
