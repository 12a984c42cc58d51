"""Prometheus text exposition of the worker's counters."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.app import Runtime


def _line(name: str, value: float, labels: dict[str, str] | None = None) -> str:
    if labels:
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        return f"{name}{{{inner}}} {value}"
    return f"{name} {value}"


def render_metrics(runtime: Runtime) -> str:
    processor = runtime.processor
    totals = processor.totals()
    lines = [
        "# TYPE annotel_events_total counter",
        _line("annotel_events_total", totals.get("events_in", 0)),
        _line("annotel_events_accepted_total", totals.get("accepted", 0)),
        _line("annotel_events_duplicate_total", totals.get("duplicates", 0)),
        _line("annotel_events_late_total", totals.get("late", 0)),
    ]
    for key, value in sorted(totals.items()):
        if key.startswith("dead_"):
            lines.append(_line("annotel_dead_letters_total", value, {"reason": key[5:]}))
    lines.append(_line("annotel_windows_closed_total", processor.closed_windows))
    for partition, state in sorted(processor.states.items()):
        labels = {"partition": str(partition)}
        lines.append(_line("annotel_open_windows", len(state.windows), labels))
        lines.append(_line("annotel_dedup_keys", len(state.seen), labels))
        if state.watermark_us is not None:
            lines.append(_line("annotel_watermark_seconds", state.watermark_us / 1e6, labels))
    writer = runtime.writer.stats
    for table, rows in sorted(writer.rows.items()):
        lines.append(_line("annotel_clickhouse_rows_total", rows, {"table": table}))
    lines.append(_line("annotel_clickhouse_inserts_total", writer.inserts))
    lines.append(_line("annotel_clickhouse_retries_total", writer.retries))
    lines.append(_line("annotel_clickhouse_insert_seconds_last", writer.last_insert_s))
    failing = 0.0 if writer.failing_since is None else time.monotonic() - writer.failing_since
    lines.append(_line("annotel_clickhouse_failing_seconds", failing))
    for key in ("checkpoints", "redelivered", "gap_dropped", "dropped_unassigned"):
        lines.append(_line(f"annotel_{key}_total", processor.stats.get(key, 0)))
    return "\n".join(lines) + "\n"
