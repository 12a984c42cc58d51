"""``annotel top``'s status from hand-built rows: the span, quiet projects, firing alerts."""

from __future__ import annotations

from typing import Any

import pytest

from reports.period import Period
from reports.sections.status import status, status_span
from tests.unit.reports.rows import DRIVING, HUASHU, MEDICAL, SPEECH, at, sums


def alert(rule: str, labels: dict[str, str] | None) -> dict[str, Any]:
    """A row as ``reports.queries.current_alerts(client, "firing")`` returns it (trimmed)."""
    return {
        "fingerprint": f"fp-{rule}-{labels}",
        "rule": rule,
        "status": "firing",
        "labels": labels,
    }


def test_the_span_is_the_last_hour_of_data_or_all_of_it() -> None:
    assert status_span(None) is None
    # The newest minute starts at 02:47: the data ends at 02:48.
    assert status_span((at("2026-12-07 01:00"), at("2026-12-07 02:47"))) == Period(
        at("2026-12-07 01:48"), at("2026-12-07 02:48")
    )
    assert status_span((at("2026-12-07 01:00"), at("2026-12-07 01:29"))) == Period(
        at("2026-12-07 01:00"), at("2026-12-07 01:30")
    )
    assert status_span((at("2026-12-07 01:00"), at("2026-12-07 01:00"))) == Period(
        at("2026-12-07 01:00"), at("2026-12-07 01:01")
    )


def test_projects_busiest_first_quiet_ones_listed() -> None:
    span = Period(at("2026-12-07 01:48"), at("2026-12-07 02:48"))
    firing = [
        alert("vendor_quality_low", {"project_id": MEDICAL, "vendor_id": HUASHU}),
        alert("annotator_quality_low", {"project_id": MEDICAL, "annotator_id": "华数-0033"}),
        alert("aht_high", None),  # no labels: counted, on no project
    ]
    sums_rows = [
        sums(
            project_id=MEDICAL,
            tasks_submitted=120,
            audits=40,
            audits_approved=36,
            gold_submitted=10,
            gold_correct=9,
        ),
        sums(project_id=DRIVING, tasks_submitted=300, handle_time_sum_s=21_000.0),
    ]
    latest = [
        {"project_id": DRIVING, "last_minute": at("2026-12-07 02:46")},
        {"project_id": SPEECH, "last_minute": at("2026-12-07 01:20")},  # quiet all hour
        {"project_id": MEDICAL, "last_minute": at("2026-12-07 02:47")},
    ]
    state = status(span, firing, sums_rows, latest)
    assert (state.as_of, state.start) == (span.end, span.start)
    assert [p.project_id for p in state.projects] == [DRIVING, MEDICAL, SPEECH]
    driving, medical, speech = state.projects
    assert medical.firing == 2 and driving.firing == 0
    assert speech.figures.n("tasks_submitted") == 0
    assert speech.last_minute == at("2026-12-07 01:20")

    out = state.to_json()
    assert out["as_of"] == "2026-12-07T02:48:00Z"
    assert out["window_start"] == "2026-12-07T01:48:00Z"
    assert out["window_s"] == 3600.0
    assert out["firing_alerts"] == 3
    first, second, third = out["projects"]
    assert first["throughput_per_hour"] == 300.0  # 300 tasks in the hour
    assert first["aht_s"] == 70.0  # 21,000 s / 300
    assert second["audit_pass_rate"] == pytest.approx(0.9)
    assert second["gold_accuracy"] == pytest.approx(0.9)
    assert (second["audits"], second["gold_submitted"]) == (40, 10)
    assert second["last_minute"] == "2026-12-07T02:47:00Z"
    assert (third["throughput_per_hour"], third["aht_s"], third["audit_pass_rate"]) == (
        0.0,
        None,
        None,
    )


def test_no_data_yet_still_counts_the_firing_alerts() -> None:
    state = status(None, [alert("queue_stalled", {"project_id": DRIVING})], [], [])
    assert (state.as_of, state.start, state.projects) == (None, None, [])
    assert state.to_json() == {
        "as_of": None,
        "window_start": None,
        "window_s": None,
        "projects": [],
        "firing_alerts": 1,
    }
