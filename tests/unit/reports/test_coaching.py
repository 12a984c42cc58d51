"""Judgements about one person, on hand-built rows: people, needs coaching, gold warnings,
strengths, categories and the one suggested focus."""

from __future__ import annotations

from datetime import date

from reports.coaching_types import CoachingOptions
from reports.sections.coaching import (
    category_rows,
    focus,
    gold_warning,
    needs_coaching,
    strengths,
)
from reports.sections.people import COACH_METRICS, everyone, judged, median, peer_values, value
from tests.unit.reports.coaching_rows import DAY, ROSTER, ROWS, SQUAD, by_id, people, row, work
from tests.unit.reports.rows import APEX, HUASHU

OPTIONS = CoachingOptions()


def test_people_from_rows_and_the_roster() -> None:
    found = by_id(people())
    standout = found["华数-0001"]
    assert (standout.squad, standout.name, standout.manager, standout.level) == (
        SQUAD,
        "标注员 1 号",
        "华数-组长-1",
        "L2",
    )
    assert standout.start_date == date(2025, 1, 6) and standout.tags == ["night-shift"]
    assert standout.vendor == HUASHU and standout.active
    # Missing from the roster: squad unassigned, the id as the name, the events' vendor.
    stranger = found["apx-0031"]
    assert (stranger.squad, stranger.listed, stranger.name, stranger.vendor) == (
        "unassigned",
        False,
        "apx-0031",
        APEX,
    )
    assert stranger.start_date is None and stranger.tags == []
    # On the roster without activity: zero sums, not active.
    idle = found["华数-0006"]
    assert idle.listed and not idle.active and idle.figures.n("tasks_submitted") == 0
    assert idle.bounds["audit_pass_rate"].trials == 0
    # The roster's entry is not repeated for someone active.
    roster = [*ROSTER, {**ROSTER[0], "annotator_id": "华数-0001", "squad": "elsewhere"}]
    again = everyone(ROWS, roster, 14 * DAY, 0.95)
    assert [p.annotator_id for p in again].count("华数-0001") == 1
    assert by_id(again)["华数-0001"].squad == SQUAD


def test_every_share_carries_its_wilson_interval() -> None:
    standout = by_id(people())["华数-0001"]
    b = standout.bounds["audit_pass_rate"]
    assert (b.successes, b.trials, round(b.low or 0, 3), b.high) == (80, 80, 0.954, 1.0)
    shares = {name for name, m in COACH_METRICS.items() if m.share is not None}
    assert (
        set(standout.bounds)
        == shares
        == {
            "audit_pass_rate",
            "gold_accuracy",
            "rework_rate",
            "skip_rate",
        }
    )
    assert value(standout, "tasks_submitted") == 600.0
    assert value(standout, "aht_s") == 20.0


def test_judged_needs_the_minimum_sample() -> None:
    few = by_id(people())["华数-0004"]  # 40 tasks, 6 audits, 4 gold
    assert judged(few, "tasks_submitted", OPTIONS) and judged(few, "aht_s", OPTIONS)
    assert not judged(few, "audit_pass_rate", OPTIONS)
    assert not judged(few, "gold_accuracy", OPTIONS)
    assert judged(few, "audit_pass_rate", CoachingOptions(min_audits=6))
    squad = [p for p in people() if p.squad == SQUAD]
    # The median of the people judged on the metric: 80/80, 38/40, 30/60 and 29/30.
    rates = peer_values(squad, "audit_pass_rate", OPTIONS)
    assert sorted(rates) == [0.5, 0.95, 29 / 30, 1.0]
    assert median(rates) == (0.95 + 29 / 30) / 2
    assert median([]) is None


def test_needs_coaching_when_the_upper_bound_is_below_the_target() -> None:
    found = by_id(people())
    reasons = needs_coaching(found["华数-0003"], OPTIONS)  # 30/60 and 15/30
    assert [(r.metric, r.target) for r in reasons] == [
        ("audit_pass_rate", 0.85),
        ("gold_accuracy", 0.80),
    ]
    assert reasons[0].text(0.95) == (
        "audit pass rate 50.0% of 60 audits: at most 62.3% (95% upper bound), "
        "22.7 pp below the 85.0% target"
    )
    assert round(reasons[1].shortfall, 4) == round(0.80 - 0.6684587435946623, 4)
    # 3/6 is 50%, but 6 audits (fewer than 10) judge nothing.
    assert needs_coaching(found["华数-0004"], OPTIONS) == []
    # The upper bound of 38/40 is 98.6%: below a 99% target, so judged then.
    assert needs_coaching(found["华数-0002"], OPTIONS) == []
    strict = needs_coaching(found["华数-0002"], CoachingOptions(target_pass_rate=0.99))
    assert [r.metric for r in strict] == ["audit_pass_rate"]
    assert needs_coaching(found["华数-0006"], OPTIONS) == []


def test_gold_warning_is_the_platforms_convention() -> None:
    found = by_id(people())
    warning = gold_warning(found["华数-0003"], OPTIONS)
    assert warning is not None and (warning.correct, warning.gold, warning.rate) == (15, 30, 0.5)
    assert gold_warning(found["华数-0004"], OPTIONS) is None  # 2/4: not more than 7 gold tasks
    cases = {(0, 7): None, (5, 8): 0.625, (6, 8): None}  # 75% is not below 75%
    for (ok, gold), expected in cases.items():
        person = everyone([row("x", **work(100, 20, 20, gold, ok))], [], DAY, 0.95)[0]
        found_warning = gold_warning(person, OPTIONS)
        assert (found_warning.rate if found_warning else None) == expected, (ok, gold)


def test_strengths_are_the_squads_top_quarter_by_the_fair_bound() -> None:
    squad = [p for p in people() if p.squad == SQUAD]
    found = by_id(squad)
    mine = strengths(found["华数-0001"], squad, OPTIONS)
    assert [metric for metric, _ in mine] == [
        "tasks_submitted",
        "aht_s",
        "audit_pass_rate",
        "gold_accuracy",
        "rework_rate",
        "skip_rate",
    ]
    assert dict(mine)["audit_pass_rate"] == (
        "Audit pass rate: 100.0% of 80 audits, at least 95.4%, in the squad's top quarter of 4 "
        "(squad median 95.8%)"
    )
    # 300 tasks is the squad's third quartile and above its median; 30/60 is no strength.
    weak = [metric for metric, _ in strengths(found["华数-0003"], squad, OPTIONS)]
    assert "tasks_submitted" in weak and "audit_pass_rate" not in weak
    # Everyone else handles tasks in 30s: a tie with the median is not a strength.
    assert "aht_s" not in [metric for metric, _ in strengths(found["华数-0002"], squad, OPTIONS)]
    # 12/12 gold is 100%, but its lower bound (75.8%) is below the third quartile of the
    # four lower bounds judged: 12 gold tasks are not yet a strength.
    joiner = [metric for metric, _ in strengths(found["华数-0005"], squad, OPTIONS)]
    assert "gold_accuracy" not in joiner
    # Fewer than four people judged on a metric: no quartiles, no strengths.
    assert strengths(found["华数-0001"], squad[:3], OPTIONS) == []


def test_categories_and_the_suggested_focus() -> None:
    rows = [
        {"category": "类别错误", "audits": 20, "fixes": 5, "rejects": 15},
        {"category": "漏标", "audits": 18, "fixes": 2, "rejects": 16},
        {"category": "边界不准", "audits": 10, "fixes": 10, "rejects": 0},
    ]
    categories = category_rows(rows, 30)
    assert [(c.category, c.share_of_rejects) for c in categories] == [
        ("类别错误", 0.5),
        ("漏标", 16 / 30),
        ("边界不准", 0.0),
    ]
    assert focus(categories, 30, 17) == (
        "漏标: on 16 of the 30 rejected audits (53.3%). Go through those tasks first."
    )
    # No rejects: the most frequent category among fixes, said as such.
    fixes_only = category_rows([{**r, "rejects": 0} for r in rows], 0)
    assert fixes_only[0].share_of_rejects is None
    assert focus(fixes_only, 0, 17) == (
        "边界不准: no audit rejected work, and it is on 10 of the 17 audits that asked for "
        "changes (58.8%)."
    )
    # A tie on rejects goes to the category on more audits, then by name.
    tie = category_rows(
        [
            {"category": "b", "audits": 5, "fixes": 0, "rejects": 5},
            {"category": "a", "audits": 5, "fixes": 0, "rejects": 5},
            {"category": "c", "audits": 9, "fixes": 4, "rejects": 5},
        ],
        10,
    )
    assert (focus(tie, 10, 4) or "").startswith("c: ")
    assert (focus(tie[:2], 10, 0) or "").startswith("a: ")
    assert focus([], 0, 0) is None
