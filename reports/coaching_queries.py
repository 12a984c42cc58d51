"""The ClickHouse I/O of ``annotel coach`` and ``annotel squad``: plain rows, nothing computed.

Like ``reports.queries`` (whose helpers it shares): values travel as query
parameters, sums come back and rates are derived later from them. Machine
labels are never people: every query here leaves ``source = 'machine'`` out.

The roster is joined at query time (``LEFT JOIN roster FINAL``): whoever the
current roster puts in a squad brings their whole history with them, and an
annotator missing from it comes back with ``listed = 0`` (the sections put
them in the squad ``unassigned``). A database migrated before the roster
existed reads as an empty roster.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from reports.figures import MACHINE_SOURCE
from reports.period import Period
from reports.queries import SUMS_SQL, fetch_rows, period_params, tables
from schemas.units import utc

ROSTER_FIELDS = ("display_name", "squad", "manager", "vendor_id", "start_date", "level", "tags")
_PERIOD = "window_start >= {start:DateTime('UTC')} AND window_start < {end:DateTime('UTC')}"
_HUMANS = "source != {machine:String}"


def has_roster(client: Any) -> bool:
    return "roster" in tables(client)


def roster_rows(client: Any) -> list[dict[str, Any]]:
    """Every annotator of the current roster."""
    if not has_roster(client):
        return []
    sql = f"""SELECT annotator_id, {", ".join(ROSTER_FIELDS)}
FROM roster FINAL
ORDER BY squad, annotator_id"""
    return fetch_rows(client, sql, {})


def _roster_join(client: Any) -> tuple[str, str]:
    """(columns, join) adding the roster's fields and ``listed`` to a subquery ``m``."""
    if has_roster(client):
        columns = ", ".join(f"r.{name} AS roster_{name}" for name in ROSTER_FIELDS)
        join = f"""LEFT JOIN (
    SELECT annotator_id, {", ".join(ROSTER_FIELDS)}, toUInt8(1) AS listed FROM roster FINAL
) AS r ON m.annotator_id = r.annotator_id"""
        return f"{columns}, r.listed = 1 AS listed", join
    empty = (
        "'' AS roster_display_name, '' AS roster_squad, '' AS roster_manager, "
        "'' AS roster_vendor_id, CAST(NULL, 'Nullable(Date)') AS roster_start_date, "
        "'' AS roster_level, CAST([], 'Array(String)') AS roster_tags, false AS listed"
    )
    return empty, ""


def people(client: Any, period: Period) -> list[dict[str, Any]]:
    """Per annotator active in the period: their main vendor, projects, sums, and their
    roster entry (``roster_*`` fields, ``listed``)."""
    columns, join = _roster_join(client)
    sql = f"""SELECT m.*, {columns}
FROM (
    SELECT annotator_id,
        topK(1)(vendor_id)[1] AS vendor_id,
        arraySort(groupUniqArray(project_id)) AS projects,
        {SUMS_SQL}
    FROM metrics_1m_final
    WHERE {_PERIOD} AND {_HUMANS}
    GROUP BY annotator_id
) AS m
{join}
ORDER BY m.annotator_id"""
    rows = fetch_rows(client, sql, {**period_params(period), "machine": MACHINE_SOURCE})
    for row in rows:
        row["listed"] = bool(row["listed"])
    return rows


def weekly(
    client: Any, end: datetime, weeks: int, annotators: Sequence[str]
) -> list[dict[str, Any]]:
    """Sums per annotator and week, the weeks counted back from ``end`` (``week`` 0 is the
    oldest of ``weeks``; each is 7 days, the last one ends at ``end``)."""
    if not annotators:
        return []
    start = end - timedelta(weeks=weeks)
    sql = f"""SELECT annotator_id,
    intDiv(toUInt32(window_start) - toUInt32({{start:DateTime('UTC')}}), 604800) AS week,
    {SUMS_SQL}
FROM metrics_1m_final
WHERE {_PERIOD} AND {_HUMANS} AND annotator_id IN {{ids:Array(String)}}
GROUP BY annotator_id, week
ORDER BY annotator_id, week"""
    parameters = {
        **period_params(Period(start, end)),
        "machine": MACHINE_SOURCE,
        "ids": list(annotators),
    }
    return fetch_rows(client, sql, parameters)


def buckets(
    client: Any, period: Period, bucket_s: int, annotators: Sequence[str] | None
) -> list[dict[str, Any]]:
    """Sums per time bucket (aligned to UTC) and annotator; every human when ``annotators``
    is ``None``."""
    if bucket_s <= 0 or bucket_s % 60:
        raise ValueError("buckets are whole minutes")
    if annotators is not None and not annotators:
        return []
    chosen = "" if annotators is None else " AND annotator_id IN {ids:Array(String)}"
    sql = f"""SELECT
    toDateTime(intDiv(toUInt32(window_start), {{bucket:UInt32}}) * {{bucket:UInt32}}, 'UTC')
        AS bucket,
    annotator_id,
    {SUMS_SQL}
FROM metrics_1m_final
WHERE {_PERIOD} AND {_HUMANS}{chosen}
GROUP BY bucket, annotator_id
ORDER BY bucket, annotator_id"""
    parameters: dict[str, Any] = {
        **period_params(period),
        "bucket": bucket_s,
        "machine": MACHINE_SOURCE,
    }
    if annotators is not None:
        parameters["ids"] = list(annotators)
    rows = fetch_rows(client, sql, parameters)
    for row in rows:
        row["bucket"] = utc(row["bucket"])
    return rows


def categories(client: Any, period: Period, annotators: Sequence[str]) -> list[dict[str, Any]]:
    """Per error category of the annotators' audits: audits carrying it, and of those the
    fixes and the rejects (a category repeated in one audit counts once)."""
    if not annotators:
        return []
    sql = f"""SELECT category,
    count() AS audits,
    countIf(verdict = 'fix') AS fixes,
    countIf(verdict = 'reject') AS rejects
FROM audit_events_current
ARRAY JOIN arrayDistinct(error_categories) AS category
WHERE {_PERIOD} AND {_HUMANS} AND annotator_id IN {{ids:Array(String)}}
GROUP BY category
ORDER BY rejects DESC, audits DESC, category"""
    parameters = {**period_params(period), "machine": MACHINE_SOURCE, "ids": list(annotators)}
    return fetch_rows(client, sql, parameters)


def audited_tasks(
    client: Any, period: Period, annotator: str, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """The annotator's audits of the period that asked for a fix or rejected, newest first
    (at most ``limit``), and how many there are in all."""
    where = f"{_PERIOD} AND annotator_id = {{annotator:String}} AND verdict IN ('fix', 'reject')"
    parameters = {**period_params(period), "annotator": annotator, "limit": limit}
    sql = f"""SELECT occurred_at, project_id, queue_id, task_id, verdict, error_categories,
    auditor_id, score, audit_kind
FROM audit_events_current
WHERE {where}
ORDER BY occurred_at DESC, task_id
LIMIT {{limit:UInt32}}"""
    rows = fetch_rows(client, sql, parameters)
    for row in rows:
        row["occurred_at"] = utc(row["occurred_at"])
    sql = f"SELECT count() AS n FROM audit_events_current WHERE {where}"
    total = fetch_rows(client, sql, parameters)
    return rows, int(total[0]["n"]) if total else 0
