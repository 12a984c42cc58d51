"""The guards of the report SQL that hold before any query is sent.

What the queries return is checked against real chDB in
``tests/integration/test_report.py``; here, only what needs no database.
"""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest

from reports import queries as q
from reports.period import Period
from tests.unit.reports.rows import at

PERIOD = Period(at("2026-12-07 01:00"), at("2026-12-07 02:00"))


def test_only_key_dimensions_are_spliced_into_the_sql() -> None:
    # Rejected before the client is touched (there is none).
    with pytest.raises(ValueError, match="not a key dimension: vendor_id; DROP TABLE alerts"):
        q.grouped_sums(None, PERIOD, ["project_id", "vendor_id; DROP TABLE alerts"])


@pytest.mark.parametrize("bucket", [0, -60, 90])
def test_buckets_are_whole_minutes(bucket: int) -> None:
    with pytest.raises(ValueError, match="whole minutes"):
        q.grouped_sums(None, PERIOD, ["project_id"], bucket_s=bucket)


def test_period_parameters_are_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    period = Period(PERIOD.start.astimezone(beijing), PERIOD.end.astimezone(beijing))
    params = q.period_params(period)
    assert params == {"start": at("2026-12-07 01:00"), "end": at("2026-12-07 02:00")}
    assert all(value.utcoffset() == timedelta(0) for value in params.values())
    assert params["start"].tzname() == "UTC"
