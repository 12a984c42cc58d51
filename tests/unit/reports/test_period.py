"""``--from`` / ``--to`` against the bounds of the data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from reports.period import NoData, Period, PeriodError, resolve_period
from tests.unit.reports.rows import at

# The first and the last minute with metrics.
BOUNDS = (at("2026-12-07 01:00"), at("2026-12-07 01:47"))


def test_defaults_are_the_edges_of_the_data_end_exclusive() -> None:
    period = resolve_period(BOUNDS, None, None)
    assert period == Period(at("2026-12-07 01:00"), at("2026-12-07 01:48"))
    assert period.seconds == 48 * 60


def test_one_edge_given_the_other_from_the_data() -> None:
    assert resolve_period(BOUNDS, at("2026-12-07 01:30"), None).end == at("2026-12-07 01:48")
    assert resolve_period(BOUNDS, None, at("2026-12-07 01:10")).start == at("2026-12-07 01:00")


def test_times_with_an_offset_become_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    period = resolve_period(BOUNDS, datetime(2026, 12, 7, 9, 15, tzinfo=beijing), None)
    assert period.start == at("2026-12-07 01:15")
    assert period.start.tzinfo is UTC


def test_no_data_and_no_period_is_nothing_to_report() -> None:
    with pytest.raises(NoData):
        resolve_period(None, None, None)
    with pytest.raises(NoData):
        resolve_period(None, at("2026-12-07 01:00"), None)


def test_a_period_given_in_full_needs_no_data() -> None:
    period = resolve_period(None, at("2026-12-07 01:00"), at("2026-12-07 02:00"))
    assert period.seconds == 3600


def test_an_empty_period_says_what_the_data_covers() -> None:
    with pytest.raises(PeriodError) as caught:
        resolve_period(BOUNDS, at("2026-12-07 02:00"), None)
    assert str(caught.value) == (
        "empty period 2026-12-07 02:00–01:48 UTC; the data covers 2026-12-07 01:00–01:48 UTC"
    )


def test_a_period_must_be_aware_and_not_empty() -> None:
    with pytest.raises(ValueError, match="time zone"):
        Period(datetime(2026, 12, 7), at("2026-12-07 01:00"))
    with pytest.raises(ValueError, match="end after"):
        Period(at("2026-12-07 01:00"), at("2026-12-07 01:00"))
