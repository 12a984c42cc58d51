"""All the ClickHouse I/O of the reports (``annotel report``, ``top``, ``alerts list``).

Each function takes a client and parameters and returns plain rows (dicts
keyed by column name, times made UTC-aware); the sections in
``reports.sections`` compute from those rows and never see a client. The SQL
is read-only, over the public tables and views.

Values always travel as ``{name:Type}`` query parameters, never inside the SQL
text. The only names spliced into SQL are grouping columns, and those must be
one of ``schemas.metrics.KEY_DIMENSIONS`` (checked here). Aggregates are
summed first and divided last: queries return sums, and the derived rates are
computed from them by ``schemas.metrics.RATES`` (one definition everywhere).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from reports.figures import MACHINE_SOURCE
from reports.period import Period
from schemas import units
from schemas.metrics import AGGREGATE_FIELDS, KEY_DIMENSIONS, MAX_FIELDS

REQUIRED_TABLES = ("metrics_1m_final", "audit_errors_1m", "alerts")

# Every aggregate field, summed over the group (maxima for the max fields).
SUMS_SQL = ",\n    ".join(
    f"{'max' if name in MAX_FIELDS else 'sum'}({name}) AS {name}" for name in AGGREGATE_FIELDS
)


class NotAnnotelDatabase(Exception):
    """The database lacks the annotel tables (never migrated, or the wrong database)."""


def period_params(period: Period) -> dict[str, Any]:
    """The ``{start}`` and ``{end}`` query parameters of a period."""
    return {"start": period.start.astimezone(UTC), "end": period.end.astimezone(UTC)}


def _dims(dims: Sequence[str]) -> list[str]:
    unknown = [d for d in dims if d not in KEY_DIMENSIONS]
    if unknown:
        raise ValueError(f"not a key dimension: {', '.join(unknown)}")
    return list(dims)


def fetch_rows(client: Any, sql: str, parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
    result = client.query(sql, parameters=dict(parameters))
    names = list(result.column_names)
    return [dict(zip(names, row, strict=True)) for row in result.result_rows]


def tables(client: Any) -> set[str]:
    result = client.query("SELECT name FROM system.tables WHERE database = currentDatabase()")
    return {row[0] for row in result.result_rows}


def check_schema(client: Any) -> None:
    missing = [t for t in REQUIRED_TABLES if t not in tables(client)]
    if missing:
        raise NotAnnotelDatabase(
            f"no {', '.join(missing)} table(s): not an annotel database "
            "(run `annotel migrate`, the worker or `annotel demo` first)"
        )


def data_bounds(client: Any) -> tuple[datetime, datetime] | None:
    """First and last minute with metrics (``None`` when there are none)."""
    rows = fetch_rows(
        client,
        "SELECT count() AS n, min(window_start) AS first, max(window_start) AS last "
        "FROM metrics_1m_final",
        {},
    )
    if not rows or not rows[0]["n"]:
        return None
    return units.utc(rows[0]["first"]), units.utc(rows[0]["last"])


def grouped_sums(
    client: Any,
    period: Period,
    dims: Sequence[str] = (),
    *,
    bucket_s: int | None = None,
    humans_only: bool = False,
) -> list[dict[str, Any]]:
    """Sums of every aggregate field over the period, per ``dims`` (and per time bucket);
    ``minute_rows`` counts the ``metrics_1m`` rows summed.

    Buckets are aligned to the Unix epoch (so to UTC), like the alert
    evaluator's rule windows: ``bucket`` is the start of each. ``humans_only``
    leaves out machine labels (``source = 'machine'``).
    """
    columns = _dims(dims)
    parameters: dict[str, Any] = period_params(period)
    keys = list(columns)
    select = list(columns)
    if bucket_s is not None:
        if bucket_s <= 0 or bucket_s % 60:
            raise ValueError("buckets are whole minutes")
        parameters["bucket"] = bucket_s
        select.insert(
            0,
            "toDateTime(intDiv(toUInt32(window_start), {bucket:UInt32}) * {bucket:UInt32}, "
            "'UTC') AS bucket",
        )
        keys.insert(0, "bucket")
    where = "window_start >= {start:DateTime('UTC')} AND window_start < {end:DateTime('UTC')}"
    if humans_only:
        where += " AND source != {machine:String}"
        parameters["machine"] = MACHINE_SOURCE
    group = f"GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}" if keys else ""
    sql = f"""SELECT {", ".join([*select, "count() AS minute_rows", SUMS_SQL])}
FROM metrics_1m_final
WHERE {where}
{group}"""
    rows = fetch_rows(client, sql, parameters)
    for row in rows:
        if "bucket" in row:
            row["bucket"] = units.utc(row["bucket"])
    # An aggregate without GROUP BY returns one row even over no input.
    return [row for row in rows if row["minute_rows"]]


def annotator_sums(client: Any, period: Period) -> list[dict[str, Any]]:
    """Per contributor (machine labels excluded): sums, vendor and the projects worked on."""
    sql = f"""SELECT annotator_id,
    topK(1)(vendor_id)[1] AS vendor_id,
    arraySort(groupUniqArray(project_id)) AS projects,
    {SUMS_SQL}
FROM metrics_1m_final
WHERE window_start >= {{start:DateTime('UTC')}} AND window_start < {{end:DateTime('UTC')}}
  AND source != {{machine:String}}
GROUP BY annotator_id
ORDER BY annotator_id"""
    return fetch_rows(client, sql, {**period_params(period), "machine": MACHINE_SOURCE})


def error_categories(client: Any, period: Period) -> list[dict[str, Any]]:
    """Audits flagged with each error category, with the project that has most of them."""
    sql = """SELECT error_category,
    sum(n) AS errors,
    argMax(project_id, n) AS top_project,
    max(n) AS top_project_errors
FROM (
    SELECT error_category, project_id, sum(errors) AS n
    FROM audit_errors_1m FINAL
    WHERE window_start >= {start:DateTime('UTC')} AND window_start < {end:DateTime('UTC')}
    GROUP BY error_category, project_id
)
GROUP BY error_category
ORDER BY errors DESC, error_category"""
    return fetch_rows(client, sql, period_params(period))


def error_categories_by_vendor(client: Any, period: Period) -> list[dict[str, Any]]:
    sql = """SELECT vendor_id, source, error_category, sum(errors) AS errors
FROM audit_errors_1m FINAL
WHERE window_start >= {start:DateTime('UTC')} AND window_start < {end:DateTime('UTC')}
GROUP BY vendor_id, source, error_category
ORDER BY vendor_id, source, errors DESC, error_category"""
    return fetch_rows(client, sql, period_params(period))


_ALERT_TIMES = (
    "window_start",
    "window_end",
    "starts_at",
    "ends_at",
    "emitted_at",
    "fired_at",
    "last_window_end",
)


def _alert_times(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        for name in _ALERT_TIMES:
            if row.get(name) is not None:
                row[name] = units.utc(row[name])
    return rows


def alert_episodes(client: Any, period: Period) -> list[dict[str, Any]]:
    """Alert episodes that overlap the period: one row per ``(fingerprint, starts_at)``.

    An episode is a firing, its repeats and its resolve: the evaluator keeps
    ``starts_at`` (the start of the first breaching window) on all of them.
    ``ends_at`` is ``None`` while it is still firing.
    """
    first = "(window_start, emitted_at)"
    sql = f"""SELECT fingerprint,
    starts_at,
    argMin(rule, {first}) AS a_rule,
    argMin(severity, {first}) AS a_severity,
    argMin(labels, {first}) AS a_labels,
    argMin(annotations, {first}) AS a_annotations,
    argMin(metric, {first}) AS a_metric,
    argMin(threshold, {first}) AS a_threshold,
    minIf(window_end, status = 'firing') AS a_fired_at,
    groupArrayIf(value, status = 'firing') AS a_firing_values,
    argMinIf(value, {first}, status = 'firing' AND NOT repeat) AS a_fired_value,
    countIf(status = 'resolved') AS a_resolves,
    maxIf(assumeNotNull(ends_at), status = 'resolved' AND ends_at IS NOT NULL) AS a_resolved_at,
    max(window_end) AS a_last_window_end
FROM alerts FINAL
WHERE starts_at < {{end:DateTime('UTC')}}
GROUP BY fingerprint, starts_at
HAVING a_resolves = 0 OR a_resolved_at > {{start:DateTime('UTC')}}
ORDER BY starts_at, a_rule, fingerprint"""
    rows = [
        {name.removeprefix("a_"): value for name, value in row.items()}
        for row in fetch_rows(client, sql, period_params(period))
    ]
    for row in rows:
        resolved_at = row.pop("resolved_at")
        row["ends_at"] = resolved_at if row["resolves"] else None
    return _alert_times(rows)


ALERT_COLUMNS = (
    "rule",
    "status",
    "severity",
    "labels",
    "annotations",
    "metric",
    "value",
    "threshold",
    "window_start",
    "window_end",
    "starts_at",
    "ends_at",
    "emitted_at",
)


def current_alerts(client: Any, status: str | None = None) -> list[dict[str, Any]]:
    """The latest transition of every alert series (fingerprint), optionally of one status."""
    latest = "(window_start, emitted_at)"
    inner = ",\n        ".join(f"argMax({name}, {latest}) AS last_{name}" for name in ALERT_COLUMNS)
    outer = ", ".join(f"last_{name} AS {name}" for name in ALERT_COLUMNS)
    where = "WHERE last_status = {status:String}" if status is not None else ""
    sql = f"""SELECT fingerprint, {outer}
FROM (
    SELECT fingerprint,
        {inner}
    FROM alerts FINAL
    GROUP BY fingerprint
)
{where}
ORDER BY last_starts_at DESC, last_rule, fingerprint"""
    parameters = {"status": status} if status is not None else {}
    return _alert_times(fetch_rows(client, sql, parameters))


def latest_minutes(client: Any) -> list[dict[str, Any]]:
    """The last minute with metrics, per project."""
    sql = """SELECT project_id, max(window_start) AS last_minute
FROM metrics_1m_final
GROUP BY project_id
ORDER BY project_id"""
    rows = fetch_rows(client, sql, {})
    for row in rows:
        row["last_minute"] = units.utc(row["last_minute"])
    return rows
