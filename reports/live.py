"""The running system at a glance: ``annotel top`` (per-project status of the last hour)
and ``annotel alerts list`` (the current state of every alert series)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.rules import THROUGHPUT
from reports import fmt
from reports import queries as q
from reports.sections import status as top
from reports.sections.incidents import SEVERITY_ORDER
from reports.sections.status import HOUR, Status
from schemas import units
from schemas.metrics import KEY_DIMENSIONS


def status(client: Any) -> Status:
    """The last hour of every project, up to the newest minute with data (event time):
    the rows from ``reports.queries``, the figures from ``reports.sections.status``."""
    q.check_schema(client)
    firing = q.current_alerts(client, "firing")
    span = top.status_span(q.data_bounds(client))
    if span is None:
        return top.status(None, firing, [], [])
    sums = q.grouped_sums(client, span, ["project_id"])
    return top.status(span, firing, sums, q.latest_minutes(client))


def render_status(state: Status, source: str, now: datetime | None = None) -> str:
    if state.as_of is None or state.start is None:
        return f"no metrics yet in {source}"
    now = now or datetime.now(UTC)
    age = now - state.as_of
    stale = ""
    if age > timedelta(minutes=10):
        stale = f"; the newest data is {units.duration(age.total_seconds())} old"
    span = state.as_of - state.start
    label = "last hour" if span >= HOUR else f"last {units.duration(span.total_seconds())}"
    lines = [
        f"annotel top · {source}",
        f"{label}: {units.interval(state.start, state.as_of)} (event time{stale})",
        "",
    ]
    rows = []
    for p in state.projects:
        f = p.figures
        quiet = p.last_minute is not None and p.last_minute < state.as_of - timedelta(minutes=5)
        rows.append(
            [
                p.project_id,
                units.count(f.n("tasks_submitted")),
                units.per_hour(f.rate(THROUGHPUT)),
                units.duration(f.rate("aht_s")),
                f"{units.percent(f.rate('audit_pass_rate'))} ({units.count(f.n('audits'))})",
                f"{units.percent(f.rate('gold_accuracy'))} ({units.count(f.n('gold_submitted'))})",
                str(p.firing),
                (units.hhmm(p.last_minute) if p.last_minute else units.NO_DATA)
                + (" quiet" if quiet else ""),
            ]
        )
    lines.append(
        fmt.table(
            [
                "project",
                "tasks",
                "tasks/h",
                "AHT",
                "pass rate (audits)",
                "gold acc. (gold)",
                "firing",
                "last data",
            ],
            rows,
            right={1, 2, 3, 4, 5, 6},
        )
    )
    if state.firing:
        by_rule = Counter(str(a["rule"]) for a in state.firing)
        listed = ", ".join(f"{rule} ×{n}" for rule, n in sorted(by_rule.items()))
        lines += ["", f"{len(state.firing)} alerts firing: {listed}"]
    else:
        lines += ["", "no alerts firing"]
    return "\n".join(lines)


# -- alerts list ---------------------------------------------------------------------------


def alert_order(alert: dict[str, Any]) -> tuple[Any, ...]:
    return (
        alert["status"] != "firing",
        SEVERITY_ORDER.get(str(alert["severity"]), 9),
        -alert["starts_at"].timestamp(),
        alert["rule"],
        alert["fingerprint"],
    )


def current_alerts(client: Any, status_filter: str | None) -> list[dict[str, Any]]:
    q.check_schema(client)
    return sorted(q.current_alerts(client, status_filter), key=alert_order)


def alert_json(alert: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in alert.items():
        out[name] = units.rfc3339(value) if isinstance(value, datetime) else value
    out["scope"] = _scope(alert)
    return out


def _scope(alert: dict[str, Any]) -> dict[str, str]:
    labels = alert["labels"] or {}
    return {d: str(labels[d]) for d in KEY_DIMENSIONS if d in labels}


def _clip(text: str, width: int) -> str:
    if fmt.text_width(text) <= width:
        return text
    out = ""
    for ch in text:
        if fmt.text_width(out + ch) > width - 1:
            break
        out += ch
    return out + "…"


def render_alerts(alerts: list[dict[str, Any]], status_filter: str | None) -> str:
    if not alerts:
        return f"no {status_filter or ''} alerts".replace("  ", " ")
    rows = []
    for a in alerts:
        scope = ", ".join(
            f"{k}={fmt.vendor(v) if k == 'vendor_id' else v}" for k, v in _scope(a).items()
        )
        since = a["starts_at"] if a["status"] == "firing" else a["ends_at"] or a["window_end"]
        rows.append(
            [
                str(a["status"]),
                str(a["severity"]),
                str(a["rule"]),
                scope or "-",
                units.when(since),
                units.metric_value(str(a["metric"]), a["value"]),
                units.metric_value(str(a["metric"]), a["threshold"]),
                _clip(str((a["annotations"] or {}).get("summary", "")), 60),
            ]
        )
    firing = sum(1 for a in alerts if a["status"] == "firing")
    table = fmt.table(
        ["status", "severity", "rule", "scope", "since", "value", "threshold", "summary"],
        rows,
        right={5, 6},
    )
    return f"{table}\n\n{len(alerts)} alert series, {firing} firing"
