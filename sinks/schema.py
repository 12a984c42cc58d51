"""ClickHouse tables and views: the public contract BI users query.

Versioned migrations, applied in order and recorded in ``schema_migrations``,
so ``annotel migrate`` is idempotent. Column lists here are what the writer
inserts; the stream builds rows in exactly this order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from schemas.metrics import AGGREGATE_FIELDS, COUNT_FIELDS, KEY_DIMENSIONS, RATE_SQL
from schemas.stats import wilson_sql
from sinks.delivery_schema import DELIVERY_COLUMNS, DELIVERY_CURRENT_VIEW, DELIVERY_TABLE

KEY_COLUMNS = ("window_start", *KEY_DIMENSIONS)

METRICS_COLUMNS = (*KEY_COLUMNS, *AGGREGATE_FIELDS, "version", "updated_at")
ERRORS_COLUMNS = (*KEY_COLUMNS, "error_category", "errors", "version", "updated_at")
_COMMON_EVENT = (
    "event_id",
    "occurred_at",
    "window_start",
    "project_id",
    "queue_id",
    "task_id",
    "annotator_id",
    "vendor_id",
    "locale",
    "source",
)
_INGEST = ("topic", "partition", "offset", "ingested_at")
# Migration 5 (versions): every accepted version is kept, with what orders it
# (occurred_at to the microsecond, revision; event_id is there) and whether it
# is a retraction; the ``_current`` views keep the versions that count.
TASK_VERSION_COLUMNS = ("submission_id", "revision", "retracted", "occurred_at_us")
AUDIT_VERSION_COLUMNS = ("revision", "retracted", "occurred_at_us")
TASK_EVENT_COLUMNS = (
    *_COMMON_EVENT,
    "status",
    "handle_time_s",
    "task_created_at",
    "attempt",
    "is_gold",
    "gold_correct",
    "task_type",
    "tags",
    *_INGEST,
    *TASK_VERSION_COLUMNS,
)
AUDIT_EVENT_COLUMNS = (
    *_COMMON_EVENT,
    "auditor_id",
    "verdict",
    "score",
    "error_categories",
    "audit_kind",
    "audit_time_s",
    *_INGEST,
    *AUDIT_VERSION_COLUMNS,
)
DLQ_COLUMNS = (
    "dead_letter_id",
    "reason",
    "message",
    "field",
    "payload",
    "payload_size",
    "payload_sha256",
    "payload_truncated",
    "event_type",
    "project_id",
    "event_id",
    "source_topic",
    "source_partition",
    "source_offset",
    "producer",
    "received_at",
    "dlq_partition",
    "dlq_offset",
)
ALERT_COLUMNS = (
    "fingerprint",
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
    "muted_by",  # migration 3: recorded, not sent (silence:<id> / inhibit:<fingerprint>)
    "repeat",  # migration 3: a reminder of a still-firing alert
    "resolved_reason",  # migration 6: why a resolve happened (no_data), NULL for a recovery
    "explanation",  # migration 7: the largest contributors to a firing alert's breach (JSON)
)

# The roster file's columns (reports.roster.COLUMNS), then the load's bookkeeping:
# a version per load and a tombstone for annotators the new roster leaves out.
ROSTER_COLUMNS = (
    "annotator_id",
    "display_name",
    "squad",
    "manager",
    "vendor_id",
    "start_date",
    "level",
    "tags",
    "version",
    "is_deleted",
    "loaded_at",
)
# Annotators missing from the roster count under this squad everywhere.
UNASSIGNED = "unassigned"
MACHINE = "machine"  # the source of machine labels: not people, never coached

TABLE_COLUMNS = {
    "metrics_1m": METRICS_COLUMNS,
    "audit_errors_1m": ERRORS_COLUMNS,
    "task_events": TASK_EVENT_COLUMNS,
    "audit_events": AUDIT_EVENT_COLUMNS,
    "dlq_events": DLQ_COLUMNS,
    "alerts": ALERT_COLUMNS,
    "roster": ROSTER_COLUMNS,
    "delivery_1m": DELIVERY_COLUMNS,
}

_LC = "LowCardinality(String)"
_KEY_DDL = f"""
    window_start DateTime('UTC'),
    project_id {_LC},
    queue_id {_LC},
    vendor_id {_LC},
    locale {_LC},
    source {_LC},
    annotator_id String"""
# Low-cardinality columns first, time last (what BI filters on, in that order).
_KEY_ORDER = "(project_id, vendor_id, source, locale, queue_id, annotator_id, window_start)"


def _aggregate_ddl() -> str:
    lines = []
    for name in AGGREGATE_FIELDS:
        kind = "UInt32" if name in COUNT_FIELDS else "Float64"
        lines.append(f"    {name} {kind}")
    return ",\n".join(lines)


def _sums(prefix: str = "") -> str:
    parts = []
    for name in AGGREGATE_FIELDS:
        agg = "max" if name.endswith("_max_s") else "sum"
        parts.append(f"{agg}({prefix}{name}) AS {name}")
    return ",\n        ".join(parts)


def _rates(hours: float) -> str:
    rates = [f"{expr} AS {name}" for name, expr in RATE_SQL.items()]
    rates.insert(0, f"tasks_submitted / {hours} AS throughput_per_hour")
    return ",\n    ".join(rates)


def _rollup(name: str, bucket: str, hours: float, by_annotator: bool) -> str:
    dims = "project_id, queue_id, vendor_id, locale, source" + (
        ", annotator_id" if by_annotator else ""
    )
    return f"""CREATE VIEW IF NOT EXISTS {name} AS
SELECT
    *,
    {_rates(hours)}
FROM (
    SELECT
        {bucket}(window_start) AS period_start,
        {dims},
        {_sums()}
    FROM metrics_1m FINAL
    GROUP BY period_start, {dims}
)"""


# The rates people are judged on, as (rate, successes, trials): the views carry their
# Wilson bounds (schemas.stats), so BI can rank fairly too.
_JUDGED = (
    ("audit_pass_rate", "audits_approved", "audits"),
    ("gold_accuracy", "gold_correct", "gold_submitted"),
)
# The counts a coaching view sums (the other aggregate fields stay in the rollups).
_COACHING_COUNTS = (
    "tasks_submitted",
    "tasks_skipped",
    "tasks_expired",
    "rework_submitted",
    "audits",
    "audits_approved",
    "audits_fixed",
    "audits_rejected",
    "gold_submitted",
    "gold_correct",
)


def _coaching_rates(prefix: str) -> str:
    """Rates and bounds of a coaching view, from its summed columns (``prefix`` names the
    subquery they come from)."""
    c = prefix
    lines = [
        f"{c}handle_time_sum_s / nullIf({c}tasks_submitted, 0) AS aht_s",
        f"{c}audits_approved / nullIf({c}audits, 0) AS audit_pass_rate",
        f"{wilson_sql(f'{c}audits_approved', f'{c}audits', 'lower')} AS audit_pass_rate_lower",
        f"{wilson_sql(f'{c}audits_approved', f'{c}audits', 'upper')} AS audit_pass_rate_upper",
        f"{c}gold_correct / nullIf({c}gold_submitted, 0) AS gold_accuracy",
        f"{wilson_sql(f'{c}gold_correct', f'{c}gold_submitted', 'lower')} AS gold_accuracy_lower",
        f"{wilson_sql(f'{c}gold_correct', f'{c}gold_submitted', 'upper')} AS gold_accuracy_upper",
        f"{c}rework_submitted / nullIf({c}tasks_submitted, 0) AS rework_rate",
        f"{c}tasks_skipped / nullIf({c}tasks_submitted + {c}tasks_skipped + {c}tasks_expired, 0) "
        "AS skip_rate",
    ]
    return ",\n    ".join(lines)


_ROSTER_JOIN = """LEFT JOIN (
    SELECT annotator_id, display_name, squad, manager, level, start_date, toUInt8(1) AS listed
    FROM roster FINAL
) AS r ON m.annotator_id = r.annotator_id"""


def _annotator_weekly() -> str:
    """Per ISO week (from Monday), annotator and vendor; humans only; roster joined now."""
    counts = ",\n    ".join(f"m.{name} AS {name}" for name in _COACHING_COUNTS)
    sums = ",\n        ".join(f"sum({name}) AS {name}" for name in _COACHING_COUNTS)
    return f"""CREATE VIEW IF NOT EXISTS annotator_weekly AS
SELECT
    m.week AS week,
    m.annotator_id AS annotator_id,
    if(r.listed = 1, r.display_name, '') AS display_name,
    if(r.listed = 1, r.squad, '{UNASSIGNED}') AS squad,
    if(r.listed = 1, r.manager, '') AS manager,
    if(r.listed = 1, r.level, '') AS level,
    r.start_date AS start_date,
    m.vendor_id AS vendor_id,
    {counts},
    m.handle_time_sum_s AS handle_time_sum_s,
    {_coaching_rates("m.")}
FROM (
    SELECT toMonday(window_start) AS week, annotator_id, vendor_id,
        {sums},
        sum(handle_time_sum_s) AS handle_time_sum_s
    FROM metrics_1m FINAL
    WHERE source != '{MACHINE}'
    GROUP BY week, annotator_id, vendor_id
) AS m
{_ROSTER_JOIN}"""


def _squad_daily(replace: bool = False) -> str:
    """Per day and squad (the current roster's), humans only; ``members`` active that day.

    With ``replace`` (migration 5), a member is an annotator with something
    counted that day: a row of metrics_1m whose work was all superseded or
    retracted (every field 0) no longer makes one.
    """
    create = (
        "CREATE OR REPLACE VIEW squad_daily AS"
        if replace
        else "CREATE VIEW IF NOT EXISTS squad_daily AS"
    )
    members = (
        "uniqExactIf(m.annotator_id, m.tasks_submitted + m.tasks_skipped + m.tasks_expired "
        "+ m.audits > 0)"
        if replace
        else "uniqExact(m.annotator_id)"
    )
    day_sums = ",\n            ".join(f"sum({name}) AS {name}" for name in _COACHING_COUNTS)
    squad_sums = ",\n        ".join(f"sum(m.{name}) AS {name}" for name in _COACHING_COUNTS)
    return f"""{create}
SELECT
    *,
    {_coaching_rates("")}
FROM (
    SELECT
        m.day AS day,
        if(r.listed = 1, r.squad, '{UNASSIGNED}') AS squad,
        arrayStringConcat(arraySort(groupUniqArrayIf(r.manager, r.listed = 1 AND r.manager != '')),
            ', ') AS managers,
        {members} AS members,
        {squad_sums},
        sum(m.handle_time_sum_s) AS handle_time_sum_s
    FROM (
        SELECT toDate(window_start) AS day, annotator_id,
            {day_sums},
            sum(handle_time_sum_s) AS handle_time_sum_s
        FROM metrics_1m FINAL
        WHERE source != '{MACHINE}'
        GROUP BY day, annotator_id
    ) AS m
    {_ROSTER_JOIN.replace(chr(10), chr(10) + "    ")}
    GROUP BY day, squad
)"""


def _scorecard(bounds: bool = False) -> str:
    """The daily scorecard view; with ``bounds``, the Wilson bounds of its two judged rates
    appended (migration 4 replaces the view of migration 2 with that)."""
    create = (
        "CREATE OR REPLACE VIEW annotator_scorecard_daily AS"
        if bounds
        else "CREATE VIEW IF NOT EXISTS annotator_scorecard_daily AS"
    )
    extra = ""
    if bounds:
        extra = "".join(
            f",\n    {wilson_sql(f'm.{ok}', f'm.{n}', side)} AS {rate}_{side}"
            for rate, ok, n in _JUDGED
            for side in ("lower", "upper")
        )
    return f"""{create}
SELECT
    m.day AS day,
    m.project_id AS project_id,
    m.vendor_id AS vendor_id,
    m.annotator_id AS annotator_id,
    m.tasks_submitted AS tasks_submitted,
    m.tasks_skipped AS tasks_skipped,
    m.tasks_expired AS tasks_expired,
    m.audits AS audits,
    m.gold_submitted AS gold_submitted,
    m.handle_time_sum_s / nullIf(m.tasks_submitted, 0) AS aht_s,
    m.audits_approved / nullIf(m.audits, 0) AS audit_pass_rate,
    m.gold_correct / nullIf(m.gold_submitted, 0) AS gold_accuracy,
    m.rework_submitted / nullIf(m.tasks_submitted, 0) AS rework_rate,
    m.audit_score_sum / nullIf(m.audit_score_count, 0) AS mean_audit_score,
    e.top_error_categories AS top_error_categories{extra}
FROM (
    SELECT toDate(window_start) AS day, project_id, vendor_id, annotator_id,
        {_sums()}
    FROM metrics_1m FINAL
    GROUP BY day, project_id, vendor_id, annotator_id
) AS m
LEFT JOIN (
    SELECT day, project_id, vendor_id, annotator_id,
        arraySlice(arrayMap(x -> x.1, arraySort(x -> (-x.2, x.1),
            groupArray((error_category, n)))), 1, 3) AS top_error_categories
    FROM (
        SELECT toDate(window_start) AS day, project_id, vendor_id, annotator_id,
            error_category, sum(errors) AS n
        FROM audit_errors_1m FINAL
        GROUP BY day, project_id, vendor_id, annotator_id, error_category
    )
    GROUP BY day, project_id, vendor_id, annotator_id
) AS e
ON m.day = e.day AND m.project_id = e.project_id AND m.vendor_id = e.vendor_id
   AND m.annotator_id = e.annotator_id"""


# A row of metrics_1m whose every field is 0: all the work that counted in that
# window was superseded (moved to another window) or retracted. It is written,
# so that the row it replaces is overwritten; an all-zero row is the same as no
# row for every sum, maximum and rate. Its counts are all 0 iff every field is.
_COUNTS_SOMETHING = "tasks_submitted + tasks_skipped + tasks_expired + audits > 0"


def _current(table: str, entity: str, where: str = "") -> str:
    """The versions of ``table`` that count: per entity the greatest by the version rule
    (occurred_at to the microsecond, revision, event_id by its bytes), unless a retraction."""
    only = f"WHERE {where}\n    " if where else ""
    return f"""SELECT * FROM (
    SELECT * FROM {table} FINAL
    {only}ORDER BY {entity}, occurred_at_us DESC, revision DESC, event_id DESC
    LIMIT 1 BY {entity}
)
WHERE NOT retracted"""


def _versions() -> tuple[str, ...]:
    """Migration 5: the version columns, the ``_current`` views, all-zero rows left out."""
    columns = []
    for table in ("task_events", "audit_events"):
        if table == "task_events":
            columns.append(
                "ALTER TABLE task_events ADD COLUMN IF NOT EXISTS submission_id Nullable(String)"
            )
        columns += [
            f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS revision UInt32 DEFAULT 1",
            f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS retracted Bool DEFAULT false",
            f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS occurred_at_us Int64 "
            "DEFAULT toUnixTimestamp64Micro(occurred_at)",
        ]
    # A completion without submission_id is a piece of work of its own: it counts.
    tasks = f"""CREATE OR REPLACE VIEW task_events_current AS
SELECT * FROM task_events FINAL WHERE submission_id IS NULL
UNION ALL
{_current("task_events", "project_id, submission_id", "submission_id IS NOT NULL")}"""
    audits = f"""CREATE OR REPLACE VIEW audit_events_current AS
{_current("audit_events", "project_id, task_id, annotator_id")}"""
    final_view = f"""CREATE OR REPLACE VIEW metrics_1m_final AS
SELECT * EXCEPT (version, updated_at) FROM metrics_1m FINAL
WHERE {_COUNTS_SOMETHING}"""
    return (*columns, tasks, audits, final_view, _squad_daily(replace=True))


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


def _migrations() -> list[Migration]:
    metrics = f"""CREATE TABLE IF NOT EXISTS metrics_1m ({_KEY_DDL},
{_aggregate_ddl()},
    version UInt64,
    updated_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(window_start)
ORDER BY {_KEY_ORDER}"""
    errors = f"""CREATE TABLE IF NOT EXISTS audit_errors_1m ({_KEY_DDL},
    error_category {_LC},
    errors UInt32,
    version UInt64,
    updated_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(window_start)
ORDER BY (project_id, vendor_id, source, locale, queue_id, annotator_id, window_start,
          error_category)"""
    common = f"""
    event_id String,
    occurred_at DateTime64(3, 'UTC'),
    window_start DateTime('UTC'),
    project_id {_LC},
    queue_id {_LC},
    task_id String,
    annotator_id String,
    vendor_id {_LC},
    locale {_LC},
    source {_LC},"""
    ingest = """
    topic LowCardinality(String),
    partition UInt32,
    offset UInt64,
    ingested_at DateTime64(3, 'UTC')"""
    task_events = f"""CREATE TABLE IF NOT EXISTS task_events ({common}
    status {_LC},
    handle_time_s Nullable(Float64),
    task_created_at Nullable(DateTime64(3, 'UTC')),
    attempt UInt16,
    is_gold Bool,
    gold_correct Nullable(Bool),
    task_type Nullable(String),
    tags Array(String),{ingest}
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (project_id, event_id)"""
    audit_events = f"""CREATE TABLE IF NOT EXISTS audit_events ({common}
    auditor_id String,
    verdict {_LC},
    score Nullable(Float64),
    error_categories Array(String),
    audit_kind {_LC},
    audit_time_s Nullable(Float64),{ingest}
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (project_id, event_id)"""
    dlq = """CREATE TABLE IF NOT EXISTS dlq_events (
    dead_letter_id String,
    reason LowCardinality(String),
    message String,
    field Nullable(String),
    payload String,
    payload_size UInt64,
    payload_sha256 String,
    payload_truncated Bool,
    event_type Nullable(String),
    project_id Nullable(String),
    event_id Nullable(String),
    source_topic Nullable(String),
    source_partition Nullable(Int32),
    source_offset Nullable(Int64),
    producer LowCardinality(String),
    received_at DateTime64(3, 'UTC'),
    dlq_partition Int32,
    dlq_offset Int64
) ENGINE = ReplacingMergeTree
ORDER BY dead_letter_id"""
    alerts = """CREATE TABLE IF NOT EXISTS alerts (
    fingerprint String,
    rule LowCardinality(String),
    status LowCardinality(String),
    severity LowCardinality(String),
    labels Map(String, String),
    annotations Map(String, String),
    metric LowCardinality(String),
    value Nullable(Float64),
    threshold Nullable(Float64),
    window_start DateTime('UTC'),
    window_end DateTime('UTC'),
    starts_at DateTime64(3, 'UTC'),
    ends_at Nullable(DateTime64(3, 'UTC')),
    emitted_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(emitted_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (rule, fingerprint, window_start, status)"""
    final_view = """CREATE VIEW IF NOT EXISTS metrics_1m_final AS
SELECT * EXCEPT (version, updated_at) FROM metrics_1m FINAL"""
    scorecard = _scorecard()
    # The current roster: a load inserts what changed at a new version, and a tombstone
    # (is_deleted = 1) for every annotator it leaves out; read with FINAL.
    roster = f"""CREATE TABLE IF NOT EXISTS roster (
    annotator_id String,
    display_name String,
    squad {_LC},
    manager {_LC},
    vendor_id {_LC},
    start_date Nullable(Date),
    level {_LC},
    tags Array(String),
    version UInt64,
    is_deleted UInt8,
    loaded_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(version, is_deleted)
ORDER BY annotator_id"""
    migrations_table = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32,
    name String,
    applied_at DateTime('UTC')
) ENGINE = ReplacingMergeTree
ORDER BY version"""
    return [
        Migration(0, "schema_migrations", (migrations_table,)),
        Migration(1, "core tables", (metrics, errors, task_events, audit_events, dlq, alerts)),
        Migration(
            2,
            "BI views",
            (
                final_view,
                _rollup("metrics_hourly", "toStartOfHour", 1, False),
                _rollup("metrics_daily", "toStartOfDay", 24, False),
                _rollup("metrics_hourly_by_annotator", "toStartOfHour", 1, True),
                _rollup("metrics_daily_by_annotator", "toStartOfDay", 24, True),
                scorecard,
            ),
        ),
        Migration(
            3,
            "alerts: muted_by and repeat",
            (
                "ALTER TABLE alerts ADD COLUMN IF NOT EXISTS muted_by Nullable(String)",
                "ALTER TABLE alerts ADD COLUMN IF NOT EXISTS repeat Bool DEFAULT false",
            ),
        ),
        Migration(
            4,
            "roster, coaching views, bounds in the scorecard",
            (roster, _annotator_weekly(), _squad_daily(), _scorecard(bounds=True)),
        ),
        Migration(5, "versions: version columns, current views", _versions()),
        Migration(
            6,
            "alerts: resolved_reason",
            (
                "ALTER TABLE alerts ADD COLUMN IF NOT EXISTS resolved_reason "
                "LowCardinality(Nullable(String))",
            ),
        ),
        Migration(
            7,
            "alerts: explanation",
            ("ALTER TABLE alerts ADD COLUMN IF NOT EXISTS explanation String DEFAULT '[]'",),
        ),
        Migration(8, "delivery forecast", (DELIVERY_TABLE, DELIVERY_CURRENT_VIEW)),
    ]


MIGRATIONS = _migrations()
_TABLE_BODY = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+) \((.*)\n\) ENGINE", re.S)
_ADD_COLUMN = re.compile(
    r"^ALTER TABLE (\w+) ADD COLUMN IF NOT EXISTS (\w+) (.+?)(?: DEFAULT .*)?$"
)
_PARTITION = re.compile(
    r"^CREATE TABLE IF NOT EXISTS (\w+) .*\nPARTITION BY toYYYYMM\((\w+)\)$", re.S | re.M
)


def _column_types() -> dict[str, dict[str, str]]:
    """Each table's columns and their ClickHouse types, read from the migrations' DDL.

    One column per line in a CREATE TABLE body (types may hold commas, lines
    end with one); ALTER TABLE ... ADD COLUMN adds. Checked against what
    the engine reports after ``migrate`` (tests/integration/test_clickhouse.py).
    """
    tables: dict[str, dict[str, str]] = {}
    for migration in MIGRATIONS:
        for statement in migration.statements:
            body = _TABLE_BODY.match(statement)
            if body is not None:
                columns = tables.setdefault(body.group(1), {})
                for line in body.group(2).splitlines():
                    line = line.strip().removesuffix(",")
                    if line:
                        name, kind = line.split(" ", 1)
                        columns[name] = kind
            added = _ADD_COLUMN.match(statement)
            if added is not None:
                tables[added.group(1)][added.group(2)] = added.group(3)
    return tables


def _partition_months() -> dict[str, str]:
    """Table -> the column its ``PARTITION BY toYYYYMM(...)`` reads."""
    found = {}
    for migration in MIGRATIONS:
        for statement in migration.statements:
            match = _PARTITION.search(statement)
            if match is not None:
                found[match.group(1)] = match.group(2)
    return found


COLUMN_TYPES = _column_types()
# Tables partitioned by month, and the column the month comes from: ClickHouse
# refuses an insert whose rows span more than max_partitions_per_insert_block
# (100) partitions, so the writer splits such a batch (sinks.writer).
PARTITION_MONTH = _partition_months()
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENGINE = re.compile(r"ENGINE = (ReplacingMergeTree)(\(([\w, ]*)\))?")
_CREATE = re.compile(r"^CREATE (TABLE IF NOT EXISTS|VIEW IF NOT EXISTS|OR REPLACE VIEW) (\w+)")
_ALTER = re.compile(r"^ALTER TABLE (\w+)")


def for_cluster(statement: str, cluster: str | None) -> str:
    """Rewrite a statement for a cluster: ON CLUSTER and Replicated engines."""
    if not cluster:
        return statement
    if not _IDENT.match(cluster):
        raise ValueError(f"cluster name {cluster!r} is not a plain identifier")
    alter = _ALTER.match(statement)
    if alter is not None:
        return statement.replace(alter.group(0), f"{alter.group(0)} ON CLUSTER {cluster}", 1)
    match = _CREATE.match(statement)
    if match is None:
        return statement
    table = match.group(2)
    statement = statement.replace(match.group(0), f"{match.group(0)} ON CLUSTER {cluster}", 1)

    def replicated(engine: re.Match[str]) -> str:
        version = engine.group(3)
        args = f"'/clickhouse/tables/{{shard}}/{{database}}/{table}', '{{replica}}'"
        if version:
            args += f", {version}"
        return f"ENGINE = Replicated{engine.group(1)}({args})"

    return _ENGINE.sub(replicated, statement)
