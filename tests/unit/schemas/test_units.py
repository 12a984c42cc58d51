"""``schemas.units``: one spelling per value, whoever prints it; the epoch and RFC 3339 once."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.formats import comparison
from alerts.receivers.pagerduty import pagerduty_event
from alerts.receivers.slack import slack_message
from annotel.live_view import AlertNote, FeedProgress, ViewState, render
from reports.figures import METRICS
from reports.types import SlaRule
from schemas.units import (
    EPOCH,
    NO_DATA,
    change,
    count,
    duration,
    epoch_us,
    from_epoch_s,
    from_epoch_us,
    hhmm,
    interval,
    metric_value,
    number,
    parse_utc,
    per_hour,
    percent,
    points,
    rfc3339,
    utc,
    when,
)
from tests.alert_events import event

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("schemas", "streams", "sinks", "embedded", "alerts", "simulator", "reports", "annotel")
BEIJING = timezone(timedelta(hours=8))


@pytest.mark.parametrize(
    ("metric", "value", "text"),
    [
        ("audit_pass_rate", 0.953, "95.3%"),
        ("skip_rate", 0.05, "5.0%"),
        ("gold_accuracy", 1.0, "100.0%"),
        ("aht_s", 42.3, "42.3s"),
        ("aht_s", 42.46, "42.5s"),
        ("aht_s", 125, "2m 05s"),
        ("aht_s", 365.0, "6m 05s"),
        ("turnaround_max_s", 7300, "2h 01m"),
        ("turnaround_max_s", 7800.0, "2h 10m"),
        ("throughput_per_hour", 12.5, "12.5 tasks/h"),
        ("throughput_per_hour", 56.25, "56.2 tasks/h"),
        ("throughput_per_hour", 1056.4, "1,056 tasks/h"),
        ("throughput_per_hour", 123_456.0, "123,456 tasks/h"),
        ("mean_audit_score", 0.876, "0.876"),
        ("aht_s", None, "no data"),
        ("audit_pass_rate", None, "no data"),
        ("throughput_per_hour", None, "no data"),
        ("mean_audit_score", None, "no data"),
    ],
)
def test_values_read_as_people_read_them(metric: str, value: float | None, text: str) -> None:
    assert metric_value(metric, value) == text


def test_a_rate_reads_the_same_in_every_output() -> None:
    """0.953 in Slack and PagerDuty, the live view, the report and the SLA target."""
    expected = "95.3%"
    alert = event(value=0.953)
    assert comparison(alert).startswith(f"{expected} ")
    assert pagerduty_event(alert, "key")["payload"]["custom_details"]["value_text"] == expected
    section = slack_message([alert])["blocks"][1]["text"]["text"]
    assert f"{expected} (threshold 85.0%)" in section
    note = AlertNote(
        "firing",
        "vendor_quality_low",
        {"project_id": "医疗影像"},
        "audit_pass_rate",
        0.953,
        datetime(2026, 11, 23, 8, tzinfo=UTC),
    )
    view = ViewState("demo", 1, FeedProgress("feed", 10), None, None, alerts=[note])
    assert any(line.endswith(f" {expected}") for line in render(view, width=200))
    assert METRICS["audit_pass_rate"].show(0.953) == expected
    rule = SlaRule("r", "audit_pass_rate", "<", 0.953, 900, (), 1, "warning")
    assert rule.target == f"audit_pass_rate >= {expected}"


def test_rates_and_changes() -> None:
    assert percent(0.953) == "95.3%"
    assert percent(0.85, 0) == "85%"  # axis ticks
    assert percent(None) == NO_DATA == "no data"
    assert points(0.031) == "+3.1 pp"
    assert points(-0.3012) == "-30.1 pp"
    assert change(0.12) == "+12%"
    assert change(-0.149) == "-15%"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.04, "0.0s"),
        (42.46, "42.5s"),
        (59.94, "59.9s"),
        (59.96, "1m"),  # would round to 60.0s
        (60, "1m"),
        (125, "2m 05s"),
        (360, "6m"),
        (3599.6, "1h"),
        (7200, "2h"),
        (7300, "2h 01m"),
        (47 * 3600 + 59 * 60, "47h 59m"),
        (48 * 3600, "2d"),
        (52 * 3600 + 1800, "2d 4h"),
        (None, "no data"),
    ],
)
def test_durations(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_counts_and_plain_numbers() -> None:
    assert count(12345) == "12,345"
    assert count(12345.6) == "12,346"
    assert count(10**20 + 1) == "100,000,000,000,000,000,001"  # exact, not through a float
    assert count(None) == NO_DATA
    assert per_hour(56.25) == "56.2"
    assert per_hour(3938.4) == "3,938"
    assert per_hour(None) == NO_DATA
    assert number(0.876) == "0.876"
    assert number(3) == "3"
    assert number(150_000) == "150,000"
    assert number(None) == NO_DATA


def test_times_for_programs_are_rfc3339_utc_with_z() -> None:
    moment = datetime(2026, 11, 23, 16, 0, tzinfo=BEIJING)
    assert rfc3339(moment) == "2026-11-23T08:00:00Z"
    assert rfc3339(moment + timedelta(microseconds=500)) == "2026-11-23T08:00:00.000500Z"
    assert rfc3339(moment, "milliseconds") == "2026-11-23T08:00:00.000Z"
    assert rfc3339(moment.replace(second=7, microsecond=900), "seconds") == "2026-11-23T08:00:07Z"
    assert rfc3339(None) is None
    assert rfc3339(datetime(2026, 11, 23, 8)) == "2026-11-23T08:00:00Z"  # naive: UTC


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23T08:00:00Z",
        "2026-11-23T16:00:00+08:00",
        "2026-11-23T08:00:00",
        "2026-11-23 08:00",
    ],
)
def test_parse_utc_reads_our_own_and_typed_times(text: str) -> None:
    parsed = parse_utc(text)
    assert parsed == datetime(2026, 11, 23, 8, tzinfo=UTC)
    assert parsed.tzinfo is UTC
    with pytest.raises(ValueError):
        parse_utc("23/11/2026")


def test_times_for_people_say_utc_once() -> None:
    start = datetime(2026, 11, 23, 16, 0, tzinfo=BEIJING)
    assert hhmm(start) == "08:00"
    assert when(start) == "2026-11-23 08:00 UTC"
    assert when(None) == NO_DATA
    assert interval(start, start + timedelta(minutes=15)) == "2026-11-23 08:00–08:15 UTC"
    late = datetime(2026, 11, 23, 23, 55, tzinfo=UTC)
    assert interval(late, late + timedelta(minutes=15)) == "2026-11-23 23:55–2026-11-24 00:10 UTC"
    assert utc(datetime(2026, 11, 23, 8)).tzinfo is UTC


@given(st.datetimes(timezones=st.just(UTC)))
def test_epoch_microseconds_round_trip_exactly(moment: datetime) -> None:
    assert from_epoch_us(epoch_us(moment)) == moment


@given(st.integers(-62_135_596_800 * 10**6, 253_402_300_799 * 10**6))
def test_every_microsecond_count_is_one_instant(micros: int) -> None:
    """Exact where a float of seconds is not (2**53 us is only 285 years)."""
    assert epoch_us(from_epoch_us(micros)) == micros


def test_epoch_arithmetic() -> None:
    assert datetime(1970, 1, 1, tzinfo=UTC) == EPOCH
    assert epoch_us(datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=UTC)) == 1_000_005
    assert epoch_us(datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)) == -1
    assert from_epoch_s(1_795_392_000) == datetime(2026, 11, 23, tzinfo=UTC)
    assert from_epoch_s(1_795_392_000).tzinfo is UTC


# Spellings that belong to schemas.units alone: a second epoch, a second RFC 3339
# "Z" spelling or parser, a percentage built by hand.
_DUPLICATES = re.compile(
    r"datetime\(1970\b"
    r"|[\"']\+00:00[\"'],\s*[\"']Z[\"']"
    r"|[\"']Z[\"'],\s*[\"']\+00:00[\"']"
    r"|\*\s*100\s*:"
    r"|:\.\d%\}"
)


def test_no_module_spells_values_or_instants_itself() -> None:
    sources = [path for package in (*PACKAGES, "bench") for path in (ROOT / package).rglob("*.py")]
    assert len(sources) > 100
    found = [
        f"{path.relative_to(ROOT)}:{number + 1}: {line.strip()}"
        for path in sources
        if path != ROOT / "schemas" / "units.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines())
        if _DUPLICATES.search(line)
    ]
    assert found == []
