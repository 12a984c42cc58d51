"""Incidents: the alert episodes that overlap the period, and a summary per rule.

An episode is a firing, its repeats and its resolve (one ``starts_at``); one
still firing lasts until the end of the data (``horizon``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from reports.period import Period
from reports.types import Incident, RuleIncidents
from schemas.metrics import KEY_DIMENSIONS

SEVERITY_ORDER = {"critical": 0, "error": 1, "warning": 2, "info": 3}


def incidents(
    rows: Sequence[Mapping[str, Any]], period: Period, horizon: datetime
) -> tuple[list[Incident], list[RuleIncidents]]:
    """The section from ``reports.queries.alert_episodes`` rows (in their order), and the
    rules ranked by severity, then by how often they fired."""
    episodes = [_incident(row, period, horizon) for row in rows]
    per_rule: dict[str, RuleIncidents] = {}
    for episode in episodes:
        item = per_rule.setdefault(
            episode.rule, RuleIncidents(episode.rule, episode.severity, 0, 0, 0.0, 0.0)
        )
        item.episodes += 1
        item.ongoing += episode.ongoing
        item.total_s += episode.duration_s
        item.longest_s = max(item.longest_s, episode.duration_s)
    ranked = sorted(
        per_rule.values(), key=lambda r: (SEVERITY_ORDER.get(r.severity, 9), -r.episodes, r.rule)
    )
    return episodes, ranked


def _incident(row: Mapping[str, Any], period: Period, horizon: datetime) -> Incident:
    labels: Mapping[str, str] = row["labels"] or {}
    scope = {d: str(labels[d]) for d in KEY_DIMENSIONS if d in labels}
    threshold = row["threshold"]
    worst = worst_value(row["firing_values"], threshold, row.get("fired_value"))
    ongoing = row["ends_at"] is None
    until = row["ends_at"] if not ongoing else max(horizon, row["starts_at"])
    annotations: Mapping[str, str] = row["annotations"] or {}
    return Incident(
        fingerprint=row["fingerprint"],
        rule=row["rule"],
        severity=row["severity"],
        metric=row["metric"],
        scope=scope,
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        fired_at=row.get("fired_at"),
        duration_s=(until - row["starts_at"]).total_seconds(),
        ongoing=ongoing,
        worst_value=worst,
        threshold=threshold,
        summary=str(annotations.get("summary", "")),
        before_period=row["starts_at"] < period.start,
    )


def worst_value(
    values: Sequence[float | None], threshold: float | None, fired: float | None
) -> float | None:
    """The worst value of the windows that fired or kept firing, on the breaching side.

    The side is the one the firing value (always a breach) lies on: a rule that
    fires below 75 % is worst at its lowest value, never at a 100 % that a
    window within the hysteresis reported. Without a threshold or a firing value
    (older rows): the value farthest from the threshold, else the first.
    """
    known = [v for v in values if v is not None]
    if not known:
        return None
    if threshold is None:
        return known[0]
    if fired is None or fired == threshold:
        return max(known, key=lambda v: abs(v - threshold))
    return min(known) if fired < threshold else max(known)


def incident_order(episode: Incident) -> tuple[Any, ...]:
    """Most important first: severity, still firing, longest."""
    return (SEVERITY_ORDER.get(episode.severity, 9), not episode.ongoing, -episode.duration_s)
