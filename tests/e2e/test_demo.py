"""`annotel demo` end to end: the summary adds up, ClickHouse holds exactly what the
simulator says it generated, and the injected incidents raise their alerts.

The simulated run is small (28 k lines) but keeps the default run's shape: the
same seed, projects and annotators, and a task rate that stretches 28 k lines
(versions and queue snapshots among them) over about three simulated hours,
long enough for the shipped rules' 15-minute windows and the AHT anomaly
rule's one-hour baseline. If the simulator's
calibration changes, the alert assertions may need a new seed or knobs (see
DEFAULT_TASKS_PER_SECOND in annotel/demo/plan.py for the constraints).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alerts.rules import AnomalyRule, load_rules
from annotel.resources import shipped_rules
from reports.period import Period
from reports.queries import alert_episodes
from reports.sections.incidents import incidents
from simulator import Simulator
from sinks.client import connect

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
# 1.3 tasks/s (not less): with calibrated healthy quality, fewer failed audits mean
# less rework, and the vendor drop needs 20 audits in a 15-minute window to fire.
# 28 k: versions and queue snapshots add lines per simulated minute; 26 k lines with
# both spanned 2 h 35 min, too short for the vendor drop's alert (28 k: 2 h 49 min).
SIM_EVENTS = 28_000
SIM_ARGS = ["--events", str(SIM_EVENTS), "--tasks-per-second", "1.3"]
# Which shipped rules an incident must raise (any one of them), on the incident's scope.
INCIDENT_RULES = {
    "vendor_quality_drop": {"vendor_quality_low"},
    "queue_stall": {"queue_stalled"},
    "aht_spike": {"aht_anomaly", "aht_high"},
}
SUMMED = (
    "tasks_submitted",
    "tasks_skipped",
    "tasks_expired",
    "rework_submitted",
    "gold_submitted",
    "gold_correct",
    "audits",
    "audits_approved",
    "audits_fixed",
    "audits_rejected",
    "handle_time_sum_s",
    "audit_score_sum",
)


def run_demo(*args: str, timeout: float = 240) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "annotel", "demo", "--json", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-4000:]
    lines = [line for line in out.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"--json must print exactly one line:\n{out.stdout[-2000:]}"
    summary: dict[str, Any] = json.loads(lines[0])
    return summary


def assert_adds_up(summary: dict[str, Any]) -> None:
    for key in (
        "events_in",
        "accepted",
        "duplicates",
        "late",
        "dead_lettered",
        "windows",
        "alerts_fired",
        "alerts_resolved",
        "data_dir",
        "elapsed_s",
        "alerts_by_rule",
        "tables",
    ):
        assert key in summary, key
    dead = sum(summary["dead_lettered"].values())
    assert summary["events_in"] == summary["accepted"] + summary["duplicates"] + dead
    tables = summary["tables"]
    # Queue snapshots are accepted events without an events table (their forecasts are).
    snapshots = summary.get("queue_status", 0)
    assert summary["accepted"] == tables["task_events"] + tables["audit_events"] + snapshots
    assert tables["dlq_events"] == dead
    assert summary["windows"] == tables["metrics_1m"] > 0
    assert summary["alerts_fired"] == sum(r["fired"] for r in summary["alerts_by_rule"].values())


def query(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    client = connect(dsn)
    try:
        return [tuple(row) for row in client.query(sql).result_rows]
    finally:
        client.close()


def ground_truth(summary: dict[str, Any]) -> dict[str, Any]:
    """Regenerate the run from the parameters the demo reports: the simulator's own manifest."""
    params = summary["source"]["simulator"]
    start = datetime.fromisoformat(params["start"].replace("Z", "+00:00"))
    sim = Simulator(params["seed"], start, None, **params["knobs"])
    for _ in sim.events(n=params["events"]):
        pass
    manifest: dict[str, Any] = sim.manifest
    assert manifest["complete"]
    return manifest


# The samples behind each metric of a shipped rule that resolves for lack of data.
# Where a rule's samples are, one row per accepted version: (table, the row is a sample).
SAMPLES = {"audit_pass_rate": ("audit_events", "1"), "gold_accuracy": ("task_events", "is_gold")}


def assert_no_alert_fires_on_without_data(dsn: str) -> None:
    """No alert still firing at the end has had no data for its rule's ``no_data_for``
    windows: each such scope had ``min_samples`` in one of its last closed windows.

    Counted over every accepted version (``audit_events`` / ``task_events``, not
    the ``_current`` views): the evaluator judges a window as it closes, and a
    re-audit or edit arriving later may move a sample out of it in BI only.
    Every version is what the evaluator can have seen, so a scope short of
    ``min_samples`` even so must have resolved."""
    rules = {r.name: r for r in load_rules(shipped_rules()).rules}
    last_minute = _utc(query(dsn, "SELECT max(window_start) FROM metrics_1m FINAL")[0][0])
    firing = query(
        dsn,
        "SELECT argMax(rule, window_start), argMax(status, window_start), "
        "argMax(labels, window_start) FROM alerts FINAL GROUP BY fingerprint",
    )
    checked = 0
    for name, status, labels in firing:
        rule = rules[name]
        if status != "firing" or rule.no_data != "resolve" or rule.metric not in SAMPLES:
            continue
        window = rule.window
        closed_end = (int(last_minute.timestamp()) + 60) // window * window
        first = closed_end - rule.no_data_for * window
        where = " AND ".join(f"ifNull({d}, '') = {{{d}:String}}" for d in rule.scope)
        client = connect(dsn)
        try:
            table, sample = SAMPLES[rule.metric]
            per_window = client.query(
                f"SELECT intDiv(toUnixTimestamp(window_start), {window}) * {window} AS w, "
                f"countIf({sample}) FROM {table} FINAL WHERE {where} AND NOT retracted "
                "AND toUnixTimestamp(window_start) >= {first:Int64} "
                "AND toUnixTimestamp(window_start) < {end:Int64} GROUP BY w",
                parameters={
                    **{d: labels[d] for d in rule.scope},
                    "first": first,
                    "end": closed_end,
                },
            ).result_rows
        finally:
            client.close()
        assert any(samples >= rule.min_samples for _w, samples in per_window), (name, labels)
        checked += 1
    assert checked > 0  # the run ends with per-annotator alerts firing on real data


def assert_worst_values_are_the_tables(dsn: str) -> None:
    """The report's worst value of each episode is the table's lowest (rules firing below)
    or highest (above) value of its firing rows."""
    rules = {r.name: r for r in load_rules(shipped_rules()).rules}
    period = Period(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    client = connect(dsn)
    try:
        found, _ = incidents(alert_episodes(client, period), period, period.end)
    finally:
        client.close()
    table: dict[tuple[str, datetime], list[float]] = {}
    for fingerprint, starts_at, value in query(
        dsn,
        "SELECT fingerprint, starts_at, value FROM alerts FINAL "
        "WHERE status = 'firing' AND value IS NOT NULL",
    ):
        table.setdefault((fingerprint, _utc(starts_at)), []).append(value)
    compared = 0
    for episode in found:
        rule = rules[episode.rule]
        if isinstance(rule, AnomalyRule):
            continue  # its side is the anomaly's, not a fixed operator's
        values = table[(episode.fingerprint, _utc(episode.starts_at))]
        expected = min(values) if rule.op in ("<", "<=") else max(values)
        assert episode.worst_value == pytest.approx(expected), episode
        compared += 1
    assert compared > 0


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def test_simulated_demo_matches_the_simulators_ground_truth(
    broker_kind: str, tmp_path: Path
) -> None:
    """On either broker the same seed gives the same ground truth, so the same summary."""
    data_dir = tmp_path / "demo"
    summary = run_demo("--data-dir", str(data_dir), "--broker", broker_kind, *SIM_ARGS)
    assert_adds_up(summary)
    assert summary["broker"] == broker_kind
    assert summary["data_dir"] == str(data_dir)
    # The demo can restart a crashed worker, but a crash is a bug to see here.
    assert summary.get("worker_restarts", 0) == 0
    truth = ground_truth(summary)
    counts = truth["counts"]

    # The summary against the ground truth.
    assert summary["events_in"] == counts["lines"] == SIM_EVENTS
    assert summary["accepted"] == counts["unique_events"]
    assert summary["duplicates"] == counts["duplicates"] > 0
    assert summary["dead_lettered"] == counts["malformed_by_reason"]
    # The demo runs with versions on: edits, deletions and re-audits, by the rule.
    assert summary["source"]["simulator"]["knobs"]["versions"] is True
    assert summary["superseded"] == counts["superseded"] > 0
    assert summary["retractions"] == counts["retractions"] > 0
    assert summary["alerts_fired"] > 0 and summary["alerts_resolved"] > 0

    # ClickHouse against the ground truth: per-project sums, event and dead-letter tables.
    dsn = summary["clickhouse"]
    assert dsn == "chdb://" + str(data_dir / "clickhouse")
    columns = ", ".join(f"sum({name})" for name in SUMMED)
    stored = {
        row[0]: dict(zip(SUMMED, row[1:], strict=True))
        for row in query(dsn, f"SELECT project_id, {columns} FROM metrics_1m FINAL GROUP BY 1")
    }
    assert set(stored) == set(truth["per_project"])
    for project_id, expected in truth["per_project"].items():
        for name in SUMMED:
            assert stored[project_id][name] == pytest.approx(expected[name], rel=1e-9, abs=1e-3), (
                project_id,
                name,
            )
    events = dict(
        query(
            dsn,
            "SELECT project_id, count() FROM (SELECT project_id FROM task_events FINAL "
            "UNION ALL SELECT project_id FROM audit_events FINAL) GROUP BY 1",
        )
    )
    assert events == {p: row["events"] for p, row in truth["per_project"].items()}
    assert query(dsn, "SELECT count() FROM task_events FINAL")[0][0] == counts["task_completed"]
    assert query(dsn, "SELECT count() FROM audit_events FINAL")[0][0] == counts["task_audited"]
    # The current views hold the versions that count: the accepted ones but the
    # superseded, and no retraction (queue snapshots are accepted events of neither table).
    current = query(
        dsn,
        "SELECT (SELECT count() FROM task_events_current) + (SELECT count() FROM "
        "audit_events_current)",
    )[0][0]
    retracted_now = query(
        dsn,
        "SELECT count() FROM (SELECT argMax(retracted, (occurred_at_us, revision, event_id)) "
        "AS r FROM task_events FINAL WHERE submission_id IS NOT NULL "
        "GROUP BY project_id, submission_id UNION ALL SELECT argMax(retracted, "
        "(occurred_at_us, revision, event_id)) AS r FROM audit_events FINAL "
        "GROUP BY project_id, task_id, annotator_id) WHERE r",
    )[0][0]
    assert (
        current
        == counts["unique_events"] - counts["queue_status"] - counts["superseded"] - retracted_now
    )
    assert (
        dict(query(dsn, "SELECT reason, count() FROM dlq_events FINAL GROUP BY 1"))
        == counts["malformed_by_reason"]
    )

    # Every injected incident with a rule raised it on its own scope, inside its
    # interval, and the alert resolved afterwards.
    alerts = query(
        dsn,
        "SELECT rule, status, labels, window_start, window_end, fingerprint "
        "FROM alerts FINAL ORDER BY window_start",
    )
    for incident in truth["incidents"]:
        rules = INCIDENT_RULES.get(incident["name"])
        if rules is None:
            continue
        start = datetime.fromisoformat(incident["start"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(incident["end"].replace("Z", "+00:00"))
        fired = [
            (rule, fingerprint, _utc(window_start))
            for rule, status, labels, window_start, window_end, fingerprint in alerts
            if rule in rules
            and status == "firing"
            and all(labels.get(k) == v for k, v in incident["scope"].items())
            and _utc(window_end) > start
            and _utc(window_start) < end
        ]
        assert fired, f"{incident['name']} on {incident['scope']} raised none of {rules}"
        resolved = {
            (rule, fingerprint)
            for rule, status, _labels, window_start, _end, fingerprint in alerts
            if status == "resolved"
            and any((rule, fingerprint) == (r, f) and _utc(window_start) > w for r, f, w in fired)
        }
        assert resolved, f"the alert for {incident['name']} never resolved"

    # The stalled queue falls behind its delivery plan: the delivery alert fires on that
    # queue inside the stall and resolves; every queue has a forecast in the summary.
    stall = next(i for i in truth["incidents"] if i["name"] == "queue_stall")
    delivery = [
        (status, labels)
        for rule, status, labels, *_ in alerts
        if rule == "delivery_at_risk" and all(labels.get(k) == v for k, v in stall["scope"].items())
    ]
    assert [status for status, _ in delivery] == ["firing", "resolved"], delivery
    plans = truth["delivery"]["queues"]
    assert {(r["project_id"], r["queue_id"]) for r in summary["delivery"]} == {
        (p["project_id"], p["queue_id"]) for p in plans
    }
    assert counts["queue_status"] == truth["delivery"]["snapshots"] > 0

    # The demo's own incident report agrees, and the ground truth is kept beside the data.
    reported = {i["name"]: i for i in summary["incidents"]}
    for name in INCIDENT_RULES:
        assert reported[name]["alerts"], name
    kept = json.loads((data_dir / "simulation-manifest.json").read_text(encoding="utf-8"))
    assert kept["counts"] == counts

    assert_no_alert_fires_on_without_data(dsn)
    assert_worst_values_are_the_tables(dsn)

    # The simulator's roster is loaded: the coaching commands work on this data at once.
    roster = truth["world"]["roster"]
    listed = {m for squad in roster["squads"].values() for m in squad["members"]}
    assert summary["roster"] == {
        "file": str(data_dir / "roster.csv"),
        "annotators": len(listed),
        "squads": len(roster["squads"]),
    }
    stored_roster = dict(query(dsn, "SELECT annotator_id, squad FROM roster FINAL"))
    assert stored_roster == {
        m: name for name, squad in roster["squads"].items() for m in squad["members"]
    }


def test_input_file_replay_and_a_second_run_starts_clean(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    sample = str(ROOT / "examples" / "sample-events.jsonl")
    first = run_demo("--input", sample, "--data-dir", str(data_dir))
    assert_adds_up(first)
    assert first["events_in"] == 78
    assert first["duplicates"] == 1  # the shipped sample holds one redelivery
    assert first["dead_lettered"] == {"invalid_json": 1, "missing_field": 1}
    assert first["previous_data"] is None
    assert "roster" not in first  # a replayed file has no simulated organisation

    # Same data dir again: the previous demo's ClickHouse data is cleared, not added to.
    second = run_demo("--input", sample, "--data-dir", str(data_dir))
    assert "cleared the previous demo" in second["previous_data"]
    for key in ("events_in", "accepted", "duplicates", "dead_lettered", "windows", "tables"):
        assert second[key] == first[key], key
