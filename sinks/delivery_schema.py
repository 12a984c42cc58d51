"""``delivery_1m`` and ``delivery_current``: the delivery forecast per queue and minute.

One row per ``(project_id, queue_id, window_start)``: the forecast as of the
minute's end (docs/metrics.md, "Delivery"). ReplacingMergeTree on a
deterministic key with a version that grows across restarts, like
``metrics_1m``: a replay after a crash rewrites the same keys with a higher
version, and ``FINAL`` returns the replayed value. ``delivery_current`` is each
queue's latest minute, plain columns for BI. The column order is the order in
which ``streams.delivery`` builds a row (then ``version``, ``updated_at``).
"""

from __future__ import annotations

DELIVERY_FIELDS = (
    "window_start",
    "project_id",
    "queue_id",
    "open_tasks",
    "in_progress",
    "target_total",
    "daily_target",
    "due_at",
    "window_s",
    "submitted",
    "submitted_24h",
    "handle_time_24h_s",
    "annotators_active",
    "throughput_per_hour",
    "throughput_24h_per_hour",
    "eta",
    "slack_h",
    "required_per_hour",
    "aht_s",
    "annotators_needed",
    "annotators_gap",
    "snapshot_at",
    "snapshot_event_id",
)
DELIVERY_COLUMNS = (*DELIVERY_FIELDS, "version", "updated_at")

_LC = "LowCardinality(String)"
_TIME = "DateTime64(3, 'UTC')"
DELIVERY_TABLE = f"""CREATE TABLE IF NOT EXISTS delivery_1m (
    window_start DateTime('UTC'),
    project_id {_LC},
    queue_id {_LC},
    open_tasks UInt32,
    in_progress Nullable(UInt32),
    target_total Nullable(UInt32),
    daily_target Nullable(UInt32),
    due_at Nullable({_TIME}),
    window_s UInt32,
    submitted UInt64,
    submitted_24h UInt64,
    handle_time_24h_s Float64,
    annotators_active UInt32,
    throughput_per_hour Float64,
    throughput_24h_per_hour Float64,
    eta Nullable({_TIME}),
    slack_h Nullable(Float64),
    required_per_hour Nullable(Float64),
    aht_s Nullable(Float64),
    annotators_needed Nullable(Float64),
    annotators_gap Nullable(Float64),
    snapshot_at {_TIME},
    snapshot_event_id String,
    version UInt64,
    updated_at {_TIME}
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(window_start)
ORDER BY (project_id, queue_id, window_start)"""

DELIVERY_CURRENT_VIEW = """CREATE OR REPLACE VIEW delivery_current AS
SELECT * EXCEPT (version, updated_at)
FROM delivery_1m FINAL
WHERE (project_id, queue_id, window_start) IN (
    SELECT project_id, queue_id, max(window_start) FROM delivery_1m FINAL
    GROUP BY project_id, queue_id
)"""
