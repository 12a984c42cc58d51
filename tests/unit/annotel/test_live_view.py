"""The demo's live view: counters parsed from ``/metrics``, frames that fit the terminal."""

from __future__ import annotations

import json

from annotel.demo.summary import totals_from_sample
from annotel.live_view import (
    AlertNote,
    FeedProgress,
    ViewState,
    display_width,
    render,
    sample_from_metrics,
)


def test_live_view_reads_metrics_and_fits_chinese_scopes_in_the_terminal() -> None:
    """The view's pure parts: Prometheus text in, a frame no wider than the terminal out."""
    text = "\n".join(
        [
            "# HELP annotel_ready 1 once partition state is recovered",
            "annotel_ready 1",
            "annotel_events_total 120.0",
            "annotel_events_accepted_total 100.0",
            "annotel_events_duplicate_total 15.0",
            "annotel_events_late_total 2.0",
            "annotel_events_superseded_total 6.0",
            "annotel_events_retractions_total 1.0",
            'annotel_dead_letters_total{reason="too_late"} 5.0',
            'annotel_consumer_lag{partition="0",topic="annotation.task-completed"} 7.0',
            'annotel_consumer_lag{partition="1",topic="annotation.task-audited"} 3.0',
            "annotel_windows_closed_total 42.0",
            'annotel_clickhouse_rows_total{table="metrics_1m"} 40.0',
            'annotel_clickhouse_rows_total{table="task_events"} 90.0',
        ]
    )
    sample = sample_from_metrics(text, at=1.0)
    assert sample.ready and sample.events_in == 120 and sample.lag == 10
    assert sample.dead_letters == {"too_late": 5}
    assert (sample.superseded, sample.retractions) == (6, 1)
    assert totals_from_sample(sample)["superseded"] == 6
    assert totals_from_sample(sample)["retractions"] == 1
    assert sample.rows == {"metrics_1m": 40, "task_events": 90}

    note = AlertNote.from_json(
        json.dumps(
            {
                "status": "firing",
                "rule": "vendor_quality_low",
                "scope": {"project_id": "医疗影像标注", "vendor_id": "华数标注"},
                "metric": "audit_pass_rate",
                "value": 0.31,
                "window_start": "2026-11-23T02:00:00Z",
                "window_end": "2026-11-23T02:15:00Z",
            },
            ensure_ascii=False,
        ).encode()
    )
    assert note is not None and AlertNote.from_json(b"not json") is None
    state = ViewState(
        title="annotel demo",
        elapsed_s=65,
        feed=FeedProgress(label="simulated feed", target=1000, lines=500),
        worker=sample,
        rate=250.0,
        alerts=[note] * 3,
        fired=3,
        firing_now=1,
    )
    frame = render(state, width=60)
    assert any("02:15 FIRING" in line and "31.0%" not in line for line in frame)  # cut to fit
    assert all(display_width(line) <= 60 for line in frame)
    wide = render(state, width=160)
    assert any("医疗影像标注 · 华数标注" in line and "31.0%" in line for line in wide)
