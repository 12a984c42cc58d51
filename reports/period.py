"""The period a report covers, and how ``--from`` / ``--to`` resolve against the data.

Pure: the bounds of the data come in as values (``reports.queries.data_bounds``
reads them), so the edge cases (no data, an empty or reversed period) are
testable without a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from schemas import units
from schemas.metrics import WINDOW_SECONDS


@dataclass(frozen=True)
class Period:
    """A half-open UTC interval ``[start, end)`` of event time (``window_start``)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("period bounds must carry a time zone")
        if self.end <= self.start:
            raise ValueError("the period must end after it starts")

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


class NoData(Exception):
    """The database has no metrics at all: there is nothing to report on."""


class PeriodError(ValueError):
    """``--from`` / ``--to`` leave no time between them."""


def resolve_period(
    bounds: tuple[datetime, datetime] | None, start: datetime | None, end: datetime | None
) -> Period:
    """``--from`` / ``--to``, each defaulting to the edge of the data (end exclusive).

    ``bounds`` are the first and the last minute with metrics; the data ends one
    minute after the start of the last one.
    """
    if bounds is None and (start is None or end is None):
        raise NoData("the database has no metrics yet")
    first = bounds[0] if bounds else None
    last_end = bounds[1] + timedelta(seconds=WINDOW_SECONDS) if bounds else None
    chosen_start = start if start is not None else first
    chosen_end = end if end is not None else last_end
    assert chosen_start is not None and chosen_end is not None
    if chosen_end <= chosen_start:
        covers = ""
        if first is not None and last_end is not None:
            covers = f"; the data covers {units.interval(first, last_end)}"
        raise PeriodError(f"empty period {units.interval(chosen_start, chosen_end)}{covers}")
    return Period(chosen_start.astimezone(UTC), chosen_end.astimezone(UTC))
