"""The weekly digest's content (not sent yet): coaching and advancement changes of a squad."""

from __future__ import annotations

from datetime import UTC, datetime

from reports.coaching_types import Advancement, CoachingOptions, Header, SquadPage
from reports.period import Period
from reports.sections.squad import coaching_order, member_rows
from reports.sections.squad_changes import digest_text, squad_changes
from tests.unit.reports.coaching_rows import SQUAD, by_id, people

OPTIONS = CoachingOptions()
PERIOD = Period(datetime(2026, 11, 9, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC))


def page(coached: set[str], ready: set[str]) -> SquadPage:
    """A squad page whose coaching and advancement lists hold exactly these members."""
    members = [p for p in people() if p.squad == SQUAD]
    found = by_id(members)
    header = Header(PERIOD, 14, PERIOD.end, "x", None, None, None, True, OPTIONS)
    result = SquadPage(header=header, squad=SQUAD, managers=["华数-组长-1"])
    result.members = member_rows(members, {}, OPTIONS)
    result.coaching = [
        r for r in coaching_order(result.members) if r.person.annotator_id in coached
    ]
    result.advancement = [Advancement(found[i], True, [], 0, None, None, []) for i in sorted(ready)]
    return result


def test_changes_between_two_weeks() -> None:
    before = page({"华数-0003"}, {"华数-0002"})
    after = page(set(), {"华数-0001"})
    changes = squad_changes(before, after)
    assert changes.newly_coaching == []
    assert changes.no_longer_coaching == ["标注员 3 号"]
    assert changes.newly_ready == ["标注员 1 号"]
    assert changes.no_longer_ready == ["标注员 2 号"]
    assert digest_text(changes) == (
        "Squad 华数-一组: changes since last week\n"
        "- no longer needs coaching: 标注员 3 号\n"
        "- ready for advancement now: 标注员 1 号\n"
        "- no longer ready for advancement: 标注员 2 号"
    )
    same = squad_changes(after, after)
    assert same.empty
    assert digest_text(same).endswith("- no change in coaching or advancement")
    assert squad_changes(after, before).newly_coaching == ["标注员 3 号"]
