"""Ready for advancement, on hand-built weekly rows: sustained quality, volume, tenure."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from reports.coaching_types import CoachingOptions, Person
from reports.sections.advancement import advancement, advancement_weeks, window_sums
from reports.sections.people import everyone
from tests.unit.reports.coaching_rows import DAY, row, work
from tests.unit.reports.rows import sums

END = datetime(2026, 11, 23, 5, 10, tzinfo=UTC)
OPTIONS = CoachingOptions()  # 4 weeks, 12 weeks of tenure, 85% / 80%, 10 audits / 8 gold


def week(annotator: str, index: int, **fields: Any) -> dict[str, Any]:
    """A ``coaching_queries.weekly`` row."""
    return sums(annotator_id=annotator, week=index, **fields)


def person(annotator: str = "华数-0001", **kwargs: Any) -> Person:
    return everyone([row(annotator, **kwargs)], [], 28 * DAY, 0.95)[0]


GOOD = work(150, 40, 40, 20, 20)  # lower bounds 91.2% and 83.9%


def test_weeks_count_back_from_the_end_and_say_what_the_data_covers() -> None:
    weeks = advancement_weeks(END, 4, datetime(2026, 11, 5, tzinfo=UTC), END)
    assert [(span.start, covered) for span, covered in weeks] == [
        (datetime(2026, 10, 26, 5, 10, tzinfo=UTC), False),
        (datetime(2026, 11, 2, 5, 10, tzinfo=UTC), True),  # the data starts on the 5th
        (datetime(2026, 11, 9, 5, 10, tzinfo=UTC), True),
        (datetime(2026, 11, 16, 5, 10, tzinfo=UTC), True),
    ]
    assert weeks[-1][0].end == END
    assert [c for _, c in advancement_weeks(END, 2, None, None)] == [False, False]


def test_ready_when_every_covered_week_holds() -> None:
    weeks = advancement_weeks(END, 4, datetime(2026, 11, 5, tzinfo=UTC), END)
    rows = [week("华数-0001", i, **GOOD) for i in (1, 2, 3)]
    verdict = advancement(
        person(), weeks, window_sums(rows)["华数-0001"], 300.0, END.date(), OPTIONS
    )
    assert verdict.ready and verdict.missing == []
    assert verdict.volume == 450 and verdict.squad_median_volume == 300.0
    assert round(verdict.tenure_weeks or 0, 1) == 98.0
    assert [w.ok for w in verdict.weeks] == [True, True, True, True]
    assert [w.covered for w in verdict.weeks] == [False, True, True, True]


def test_one_weak_week_is_enough_to_wait() -> None:
    weeks = advancement_weeks(END, 4, datetime(2026, 10, 1, tzinfo=UTC), END)
    rows = [week("a", i, **GOOD) for i in (0, 1, 3)]
    rows.append(week("a", 2, **work(150, 40, 33, 20, 20)))  # 33/40: lower bound 68.1%
    verdict = advancement(person("a"), weeks, window_sums(rows)["a"], 100.0, END.date(), OPTIONS)
    assert not verdict.ready
    assert verdict.missing == [
        "week 11-09–11-16: audit pass rate at least 68.1% of 40 audits, below the 85.0% target"
    ]
    # A week with too few audits does not vouch for anything either.
    rows[-1] = week("a", 2, **work(150, 9, 9, 20, 20))
    verdict = advancement(person("a"), weeks, window_sums(rows)["a"], 100.0, END.date(), OPTIONS)
    assert verdict.missing == ["week 11-09–11-16: audit pass rate: 9 audits (fewer than 10)"]
    # A week without any work is a week without evidence.
    verdict = advancement(
        person("a"), weeks, window_sums(rows[:2] + rows[3:])["a"], 100.0, END.date(), OPTIONS
    )
    assert not verdict.ready and "fewer than 10" in verdict.missing[0]


def test_gold_is_required_only_where_there_is_gold() -> None:
    weeks = advancement_weeks(END, 2, datetime(2026, 11, 1, tzinfo=UTC), END)
    no_gold = [week("a", i, **work(150, 40, 40)) for i in (0, 1)]
    verdict = advancement(person("a"), weeks, window_sums(no_gold)["a"], 100.0, END.date(), OPTIONS)
    assert verdict.ready
    thin = [week("a", 0, **work(150, 40, 40, 20, 20)), week("a", 1, **work(150, 40, 40, 5, 5))]
    verdict = advancement(person("a"), weeks, window_sums(thin)["a"], 100.0, END.date(), OPTIONS)
    assert verdict.missing == ["week 11-16–11-23: gold accuracy: 5 gold tasks (fewer than 8)"]


def test_volume_tenure_and_the_roster() -> None:
    weeks = advancement_weeks(END, 1, datetime(2026, 11, 20, tzinfo=UTC), END)
    rows = window_sums([week("a", 0, **GOOD)])["a"]
    below = advancement(person("a"), weeks, rows, 151.0, END.date(), OPTIONS)
    assert below.missing == ["volume 150 tasks, below the squad median 151"]
    assert advancement(person("a"), weeks, rows, 150.0, END.date(), OPTIONS).ready  # the median
    new = person("a", start=date(2026, 10, 5))
    verdict = advancement(new, weeks, rows, 100.0, END.date(), OPTIONS)
    assert verdict.missing == ["tenure 7.0 weeks, fewer than 12"]
    assert advancement(new, weeks, rows, 100.0, END.date(), CoachingOptions(tenure_weeks=7)).ready
    undated = advancement(person("a", start=None), weeks, rows, 100.0, END.date(), OPTIONS)
    assert undated.missing == ["no start date on the roster"]
    stranger = advancement(person("a", squad=None), weeks, rows, 100.0, END.date(), OPTIONS)
    assert stranger.missing == ["not on the roster"]
    nothing = advancement(person("a"), weeks, {}, None, END.date(), OPTIONS)
    assert not nothing.ready and "volume 0 tasks" in nothing.missing[-1]
    uncovered = advancement_weeks(END, 1, None, None)
    assert (
        "no data in the window"
        in advancement(person("a"), uncovered, rows, 100.0, END.date(), OPTIONS).missing
    )
