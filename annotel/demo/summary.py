"""The demo's results: read back from ClickHouse, matched to the injected incidents, printed.

Everything the summary states is read from where it ended up (the tables,
the worker's counters, the simulator's manifest), not from what the demo
meant to do: a summary that adds up is evidence, not an echo.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotel.delivery_view import delivery_lines, read_delivery
from annotel.demo.feed import Feed
from annotel.demo.gateway_feed import GatewayFeed
from annotel.demo.plan import Plan
from annotel.live_view import WorkerSample, display_width, fit, pad, scope_text
from schemas.display import visible
from schemas.metrics import KEY_DIMENSIONS
from schemas.units import count, duration, hhmm, interval, parse_utc, rfc3339, utc
from sinks.client import connect

# Which metrics an injected incident should move (rules are matched by metric
# and exact scope, so a custom --rules file with other rule names still maps).
INCIDENT_METRICS: dict[str, tuple[str, ...]] = {
    "vendor_quality_drop": ("audit_pass_rate", "gold_accuracy", "mean_audit_score"),
    "queue_stall": ("throughput_per_hour", "slack_h"),
    "aht_spike": ("aht_s",),
}
TABLES = (
    "metrics_1m",
    "audit_errors_1m",
    "task_events",
    "audit_events",
    "dlq_events",
    "alerts",
    "delivery_1m",
)


@dataclass
class Results:
    tables: dict[str, int]
    per_rule: dict[str, dict[str, int]]
    alerts: list[dict[str, Any]]
    delivery: list[dict[str, Any]] = field(default_factory=list)  # delivery_current rows


def read_results(dsn: str) -> Results:
    """Row counts, alert transitions per rule, and every alert row (from ClickHouse)."""
    client = connect(dsn)
    try:
        tables = {
            table: int(client.query(f"SELECT count() FROM {table} FINAL").result_rows[0][0])
            for table in TABLES
        }
        per_rule: dict[str, dict[str, int]] = {}
        # A repeat of a still-firing alert keeps its starts_at: count episodes, not rows.
        for rule, fired, resolved in client.query(
            "SELECT rule, uniqExactIf((fingerprint, starts_at), status = 'firing'), "
            "countIf(status = 'resolved') FROM alerts FINAL GROUP BY rule ORDER BY rule"
        ).result_rows:
            per_rule[str(rule)] = {"fired": int(fired), "resolved": int(resolved)}
        alerts = [
            {
                "rule": str(rule),
                "status": str(status),
                "metric": str(metric),
                "labels": dict(labels),
                "window_start": utc(window_start),
                "window_end": utc(window_end),
            }
            for rule, status, metric, labels, window_start, window_end in client.query(
                "SELECT rule, status, metric, labels, window_start, window_end "
                "FROM alerts FINAL ORDER BY window_start, rule, status"
            ).result_rows
        ]
        return Results(tables, per_rule, alerts, read_delivery(client))
    finally:
        client.close()


def incident_alerts(
    incidents: list[dict[str, Any]], alerts: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Per injected incident: the alerts on its exact scope whose window overlaps it.

    A firing counts when its rule window overlaps the incident interval; its
    resolve is the next resolved transition of the same rule and scope.
    """
    out = []
    for incident in incidents:
        metrics = INCIDENT_METRICS.get(incident["name"])
        entry: dict[str, Any] = {
            "name": incident["name"],
            "scope": incident["scope"],
            "start": incident["start"],
            "end": incident["end"],
            "alerts": [],
        }
        out.append(entry)
        if metrics is None:
            continue
        start, end = parse_utc(incident["start"]), parse_utc(incident["end"])
        for row in alerts:
            if row["metric"] not in metrics or row["status"] != "firing":
                continue
            scope = {k: v for k, v in row["labels"].items() if k in KEY_DIMENSIONS}
            if scope != incident["scope"]:
                continue
            if not (row["window_end"] > start and row["window_start"] < end):
                continue
            if any(a["rule"] == row["rule"] for a in entry["alerts"]):
                continue  # the first firing per rule tells the story
            resolved = next(
                (
                    other
                    for other in alerts
                    if other["rule"] == row["rule"]
                    and other["status"] == "resolved"
                    and other["labels"] == row["labels"]
                    and other["window_start"] > row["window_start"]
                ),
                None,
            )
            entry["alerts"].append(
                {
                    "rule": row["rule"],
                    "fired_window": [rfc3339(row["window_start"]), rfc3339(row["window_end"])],
                    "resolved_window": (
                        None
                        if resolved is None
                        else [rfc3339(resolved["window_start"]), rfc3339(resolved["window_end"])]
                    ),
                }
            )
    return out


def build_summary(
    plan: Plan,
    feed: Feed,
    totals: dict[str, int],
    results: Results,
    *,
    previous: str | None,
    restarts: int,
    elapsed_s: float,
) -> dict[str, Any]:
    """The summary (printed, or one JSON object); writes the simulator's manifest beside it."""
    dead: Counter[str] = Counter(feed.by_reason)
    for key, value in totals.items():
        if key.startswith("dead_"):
            dead[key[5:]] += value
    summary: dict[str, Any] = {
        "events_in": feed.published + feed.dead_lettered,
        "accepted": totals.get("accepted", 0),
        "duplicates": totals.get("duplicates", 0),
        "late": totals.get("late", 0),
        "superseded": totals.get("superseded", 0),
        "retractions": totals.get("retractions", 0),
        "dead_lettered": dict(sorted(dead.items())),
        "windows": results.tables["metrics_1m"],
        "alerts_fired": sum(v["fired"] for v in results.per_rule.values()),
        "alerts_resolved": sum(v["resolved"] for v in results.per_rule.values()),
        "alerts_by_rule": results.per_rule,
        "delivery": results.delivery,
        "tables": results.tables,
        "data_dir": str(plan.data_dir),
        "clickhouse": plan.dsn,
        "logs": str(plan.data_dir / "logs"),
        "rules": str(plan.rules),
        "mode": "follow" if plan.follow else "until-drained",
        "broker": plan.broker,
        "processed": totals.get("events_in", 0),
        "worker_restarts": restarts,
        "previous_data": previous,
        "elapsed_s": round(elapsed_s, 2),
    }
    if isinstance(feed, GatewayFeed):
        summary["gateway"] = {
            "label_studio_project": feed.ls_project,
            "label_studio_events": feed.via_hooks,
            "label_studio_requests": feed.hook_requests,
            "contract_events": feed.published - feed.via_hooks,
        }
    if plan.input is not None:
        summary["source"] = {"input": str(plan.input)}
        return summary
    manifest_path = plan.data_dir / "simulation-manifest.json"
    manifests = feed.manifests
    if manifests:
        manifest_path.write_text(
            json.dumps(
                manifests[0] if len(manifests) == 1 else manifests, ensure_ascii=False, indent=2
            )
            + "\n",
            encoding="utf-8",
        )
    assert plan.start is not None
    summary["source"] = {
        "simulator": {
            "seed": plan.seed,
            "events": plan.events,
            "start": rfc3339(plan.start),
            "knobs": plan.knobs,
            "runs": len(manifests),
            "manifest": str(manifest_path) if manifests else None,
            "span": manifests[0]["span"] if manifests else None,
        }
    }
    summary["queue_status"] = sum(m["counts"].get("queue_status", 0) for m in manifests)
    # A --follow run stopped mid-way: only incidents that had begun.
    incidents = [
        incident
        for m in manifests
        if m["span"]["last_occurred_at"]
        for incident in m["incidents"]
        if parse_utc(incident["start"]) <= parse_utc(m["span"]["last_occurred_at"])
    ]
    summary["incidents"] = incident_alerts(incidents, results.alerts)
    return summary


def totals_from_sample(sample: WorkerSample | None) -> dict[str, int]:
    """The worker's counters from its last ``/metrics`` (``--follow`` has no drained line)."""
    if sample is None:
        return {}
    totals = {
        "events_in": sample.events_in,
        "accepted": sample.accepted,
        "duplicates": sample.duplicates,
        "late": sample.late,
        "superseded": sample.superseded,
        "retractions": sample.retractions,
    }
    totals.update({f"dead_{k}": v for k, v in sample.dead_letters.items()})
    return totals


def _hhmm(text: str) -> str:
    return hhmm(parse_utc(text))


def print_summary(summary: dict[str, Any], plan: Plan) -> None:
    """The human summary: counts, alerts per rule, incidents, where the data lives."""
    out: list[str] = [""]
    source = summary["source"]
    if "simulator" in source:
        sim = source["simulator"]
        span = sim.get("span") or {}
        when = ""
        if span.get("first_occurred_at"):
            first, last = (parse_utc(span[k]) for k in ("first_occurred_at", "last_occurred_at"))
            when = f", event time {interval(first, last)}"
        out.append(f"  annotation-telemetry demo: simulated feed, seed {sim['seed']}{when}")
    else:
        out.append(f"  annotation-telemetry demo: {source['input']}")
    dead_total = sum(summary["dead_lettered"].values())
    rows = [
        ("events in", summary["events_in"]),
        ("accepted", summary["accepted"]),
        ("duplicates", summary["duplicates"]),
        ("late (corrections)", summary["late"]),
        ("superseded (versions)", summary["superseded"]),
        ("retractions", summary["retractions"]),
        ("dead letters", dead_total),
    ]
    for label, value in rows:
        out.append(f"  {label:<24}{count(value):>9}")
    for reason, number in summary["dead_lettered"].items():
        out.append(f"    {reason:<22}{count(number):>9}")
    out.append(f"  {'windows written':<24}{count(summary['windows']):>9}   (metrics_1m rows)")
    if "gateway" in summary:
        via = summary["gateway"]
        out.append(
            f"  via annotel gateway: {count(via['label_studio_events'])} events of "
            f"{via['label_studio_project']} as Label Studio webhooks "
            f"({count(via['label_studio_requests'])} requests), "
            f"{count(via['contract_events'])} as NDJSON to /v1/events"
        )
    out.append(f"  {'alerts fired':<24}{count(summary['alerts_fired']):>9}")
    out.append(f"  {'alerts resolved':<24}{count(summary['alerts_resolved']):>9}")
    if summary["alerts_by_rule"]:
        out.append(f"    {'rule':<24}{'fired':>7}{'resolved':>10}")
        for rule, counts in summary["alerts_by_rule"].items():
            out.append(f"    {rule:<24}{counts['fired']:>7}{counts['resolved']:>10}")
    if summary.get("incidents"):
        manifest = source["simulator"]["manifest"]
        out.append(f"  injected incidents and their alerts (ground truth: {manifest})")
        for incident in summary["incidents"]:
            times = f"{_hhmm(incident['start'])}–{_hhmm(incident['end'])}"
            scope = scope_text(incident["scope"]) or "-"
            head = f"    {pad(incident['name'], 20)} {pad(fit(scope, 34), 34)} {times}"
            if incident["name"] not in INCIDENT_METRICS:
                out.append(f"{head}  (counted above)")
                continue
            if not incident["alerts"]:
                out.append(f"{head}  no alert")
                continue
            for i, alert in enumerate(incident["alerts"]):
                # An alert is raised when its rule window closes: show window ends.
                fired = _hhmm(alert["fired_window"][1])
                resolved = alert["resolved_window"]
                what = f"{alert['rule']} fired {fired}" + (
                    f", resolved {_hhmm(resolved[1])}" if resolved else ", still firing"
                )
                out.append(f"{head if i == 0 else ' ' * display_width(head)}  {what}")
    out.extend(delivery_lines(summary.get("delivery") or []))
    if plan.follow:
        out.append(f"  {'read by the worker':<24}{count(summary['processed']):>9}   (at Ctrl-C)")
    if summary.get("previous_data"):
        out.append(f"  note: {summary['previous_data']}")
    if summary.get("worker_restarts"):
        out.append(
            f"  note: the worker crashed {summary['worker_restarts']} time(s) and was restarted "
            f"from its checkpoints (see {summary['logs']}/worker.log)"
        )
    roster = summary.get("roster")
    if roster:
        out.append(
            f"  roster    {roster['file']}: {roster['annotators']:,} annotators in "
            f"{roster['squads']} squads (annotel squad SQUAD, annotel coach ANNOTATOR)"
        )
    out.append(f"  data      {summary['data_dir']}")
    out.append(f"  ClickHouse {summary['clickhouse']}   logs {summary['logs']}")
    out.append(f"  elapsed   {duration(summary['elapsed_s'])}")
    out.append(
        f'  query it:  {_python()} -c "from sinks.client import connect; '
        f"print(connect('{summary['clickhouse']}').query("
        "'SELECT * FROM metrics_hourly LIMIT 5').result_rows)\""
    )
    print(visible("\n".join(out), keep="\n"))  # ids as escapes, never terminal commands


def _python() -> str:
    """This interpreter, spelled relative to the working directory when inside it."""
    path = Path(sys.executable)
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)
