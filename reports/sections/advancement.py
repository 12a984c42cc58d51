"""Who is ready for advancement: quality sustained week after week, volume, and tenure.

Ready means all of:

- on the roster, with a start date at least ``tenure_weeks`` (M) before the end;
- in each of the last ``advance_weeks`` (N) weeks that the data reaches
  (7-day spans counted back from the end of the period), at least the minimum
  sample on every quality metric and its lower bound at or above the target:
  good work that held every week, not one lucky stretch. Gold accuracy is not
  required when the person had no gold task in the whole window (a queue
  without gold); the audit pass rate always is;
- volume over those weeks in the squad's upper half (at least the median of
  the squad members active then).

Weeks before the first data are not counted against anyone (a new database
has one week of history); the page says how many weeks the judgement rests on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from reports.coaching_types import QUALITY, Advancement, CoachingOptions, Person, WeekCheck
from reports.figures import Figures, combine
from reports.period import Period
from reports.sections.people import COACH_METRICS
from schemas import units
from schemas.stats import bounded

WEEK = timedelta(weeks=1)


def advancement_weeks(
    end: datetime, weeks: int, data_first: datetime | None, data_end: datetime | None
) -> list[tuple[Period, bool]]:
    """The window's weeks, oldest first, each with whether the data reaches into it."""
    out = []
    for k in range(weeks):
        span = Period(end - (weeks - k) * WEEK, end - (weeks - k - 1) * WEEK)
        covered = (
            data_first is not None
            and data_end is not None
            and data_first < span.end
            and data_end > span.start
        )
        out.append((span, covered))
    return out


def window_sums(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[int, Figures]]:
    """``coaching_queries.weekly`` rows as annotator -> week index -> sums."""
    out: dict[str, dict[int, Figures]] = {}
    for row in rows:
        out.setdefault(str(row["annotator_id"]), {})[int(row["week"])] = Figures(
            combine([row]), WEEK.total_seconds()
        )
    return out


def _week_label(span: Period) -> str:
    last = (span.end - timedelta(seconds=1)).date()
    return f"{span.start:%m-%d}–{last:%m-%d}"


def advancement(
    person: Person,
    weeks: Sequence[tuple[Period, bool]],
    by_week: Mapping[int, Figures],
    squad_median_volume: float | None,
    on: date,
    options: CoachingOptions,
) -> Advancement:
    """The verdict for one person, with every reason it is not (yet) a yes."""
    missing: list[str] = []
    total = Figures(combine([f.sums for f in by_week.values()]), 0.0)
    # Gold accuracy is not judged without any gold task in the window (a queue without gold).
    required = [m for m in QUALITY if m == "audit_pass_rate" or total.n(_trials(m)) > 0]
    checks: list[WeekCheck] = []
    for index, (span, reached) in enumerate(weeks):
        check = WeekCheck(span, reached, ok=True)
        checks.append(check)
        if not reached:
            continue
        sums = by_week.get(index, Figures(combine([]), WEEK.total_seconds()))
        for metric in required:
            info = COACH_METRICS[metric]
            assert info.share is not None
            successes, (trials,) = info.share
            b = bounded(sums.n(successes), sums.n(trials), options.confidence)
            target = options.targets[metric]
            if b.trials < options.min_samples(metric):
                check.ok = False
                check.notes.append(
                    f"{info.label.lower()}: {b.trials} {info.unit} (fewer than "
                    f"{options.min_samples(metric)})"
                )
            elif b.low is None or b.low < target:
                check.ok = False
                check.notes.append(
                    f"{info.label.lower()} at least {units.percent(b.low)} of {b.trials} "
                    f"{info.unit}, below the {units.percent(target)} target"
                )
    judged_weeks = [c for c in checks if c.covered]
    if not judged_weeks:
        missing.append("no data in the window")
    for check in judged_weeks:
        if not check.ok:
            missing.append(f"week {_week_label(check.period)}: " + "; ".join(check.notes))
    volume = total.n("tasks_submitted")
    if squad_median_volume is None or volume < squad_median_volume:
        missing.append(
            f"volume {units.count(volume)} tasks, below the squad median "
            f"{units.count(squad_median_volume)}"
        )
    tenure = person.tenure_weeks(on)
    if not person.listed:
        missing.append("not on the roster")
    elif tenure is None:
        missing.append("no start date on the roster")
    elif tenure < options.tenure_weeks:
        missing.append(f"tenure {tenure:.1f} weeks, fewer than {options.tenure_weeks}")
    return Advancement(
        person=person,
        ready=not missing,
        weeks=checks,
        volume=volume,
        squad_median_volume=squad_median_volume,
        tenure_weeks=tenure,
        missing=missing,
    )


def _trials(metric: str) -> str:
    share = COACH_METRICS[metric].share
    assert share is not None
    return share[1][0]
