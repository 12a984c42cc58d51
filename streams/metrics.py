"""Prometheus text exposition of the worker's counters and gauges."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.runtime import Runtime


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Exposition:
    """Collects samples per metric family so each family gets one TYPE/HELP header."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.declared: set[str] = set()

    def add(
        self,
        name: str,
        kind: str,
        help_text: str,
        value: float,
        labels: dict[str, str] | None = None,
    ) -> None:
        if name not in self.declared:
            self.declared.add(name)
            self.lines.append(f"# HELP {name} {help_text}")
            self.lines.append(f"# TYPE {name} {kind}")
        if labels:
            inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            self.lines.append(f"{name}{{{inner}}} {value}")
        else:
            self.lines.append(f"{name} {value}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_figures(pid: int | str = "self") -> tuple[int, float] | None:
    """Resident bytes and CPU seconds (user + system) of a process; None without /proc.

    Read from ``/proc`` (Linux) rather than a library: two small files, no
    dependency, and the same figures ``ps`` and the benchmark report.
    """
    try:
        with open(f"/proc/{pid}/statm") as statm:
            resident_pages = int(statm.read().split()[1])
        with open(f"/proc/{pid}/stat") as stat:
            # Fields after the command name (which may hold spaces and parentheses):
            # state is the first, utime the 12th and stime the 13th.
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return None
    return resident_pages * _PAGE_BYTES, ticks / _CLOCK_TICKS


def _add_process(out: _Exposition, name: str, pid: int | str) -> None:
    figures = process_figures(pid)
    if figures is None:
        return
    resident, cpu = figures
    labels = {"process": name}
    out.add(
        "annotel_process_resident_bytes",
        "gauge",
        "resident memory: the worker, and its embedded ClickHouse process when it has one",
        resident,
        labels,
    )
    out.add(
        "annotel_process_cpu_seconds_total",
        "counter",
        "CPU time, user and system: the worker, and its embedded ClickHouse process",
        cpu,
        labels,
    )


def render_metrics(runtime: Runtime) -> str:
    processor = runtime.processor
    totals = processor.totals()
    out = _Exposition()
    out.add("annotel_ready", "gauge", "1 once partition state is recovered", int(runtime.ready))
    out.add(
        "annotel_events_total",
        "counter",
        "input messages read (owned partitions)",
        totals.get("events_in", 0),
    )
    out.add(
        "annotel_events_accepted_total",
        "counter",
        "valid, first-seen events aggregated",
        totals.get("accepted", 0),
    )
    out.add(
        "annotel_events_duplicate_total",
        "counter",
        "events ignored as already seen",
        totals.get("duplicates", 0),
    )
    out.add(
        "annotel_events_late_total",
        "counter",
        "accepted events for an already closed window (corrections)",
        totals.get("late", 0),
    )
    out.add(
        "annotel_events_superseded_total",
        "counter",
        "accepted versions that lost to a greater version of their piece of work",
        totals.get("superseded", 0),
    )
    out.add(
        "annotel_events_retractions_total",
        "counter",
        "accepted retractions (retracted: true)",
        totals.get("retractions", 0),
    )
    for key, value in sorted(totals.items()):
        if key.startswith("dead_"):
            out.add(
                "annotel_dead_letters_total",
                "counter",
                "messages sent to the dead-letter topic, by reason",
                value,
                {"reason": key[5:]},
            )
    out.add(
        "annotel_windows_closed_total",
        "counter",
        "one-minute windows closed by the watermark",
        processor.closed_windows,
    )
    out.add(
        "annotel_pending_events",
        "gauge",
        "processed messages whose checkpoint is not written yet",
        processor.pending_events(),
    )
    out.add("annotel_assigned_partitions", "gauge", "input partitions owned", len(processor.states))
    for partition, state in sorted(processor.states.items()):
        labels = {"partition": str(partition)}
        out.add(
            "annotel_open_windows",
            "gauge",
            "aggregate keys held in memory",
            len(state.windows),
            labels,
        )
        out.add(
            "annotel_dedup_keys", "gauge", "dedup marks held in memory", len(state.seen), labels
        )
        out.add(
            "annotel_entities",
            "gauge",
            "pieces of work whose counting version is held in memory (streams.entities)",
            len(state.entities),
            labels,
        )
        if state.watermark_us is not None:
            out.add(
                "annotel_watermark_seconds",
                "gauge",
                "event-time watermark (epoch seconds)",
                state.watermark_us / 1e6,
                labels,
            )
        for topic in processor.input_topics:
            highwater = processor.highwater(topic, partition) if processor.highwater else None
            if highwater is not None:
                out.add(
                    "annotel_consumer_lag",
                    "gauge",
                    "messages between the checkpointed position and the high-water mark",
                    max(0, highwater - state.offsets.get(topic, 0)),
                    {"topic": topic, "partition": str(partition)},
                )
    stats = processor.stats
    out.add(
        "annotel_batches_total",
        "counter",
        "batches processed (timer checkpoints without new messages are not batches)",
        stats.get("batches", 0),
    )
    out.add(
        "annotel_batch_events_total",
        "counter",
        "messages in processed batches (divide by batches for the mean batch size)",
        stats.get("batch_events", 0),
    )
    out.add(
        "annotel_batch_seconds_total",
        "counter",
        "time spent processing and checkpointing batches",
        stats.get("batch_ms_total", 0) / 1000,
    )
    out.add(
        "annotel_batch_seconds_max",
        "gauge",
        "slowest batch so far (process and checkpoint)",
        stats.get("batch_ms_max", 0) / 1000,
    )
    out.add(
        "annotel_checkpoint_seconds_total",
        "counter",
        "time spent writing checkpoints (ClickHouse rows, dead letters, state records)",
        stats.get("checkpoint_ms_total", 0) / 1000,
    )
    for key in (
        "checkpoints",
        "snapshots",
        "redelivered",
        "gap_dropped",
        "dropped_unassigned",
        "unstored_rows",
    ):
        out.add(f"annotel_{key}_total", "counter", key.replace("_", " "), stats.get(key, 0))
    writer = runtime.writer.stats
    for table, rows in sorted(writer.rows.items()):
        out.add("annotel_clickhouse_rows_total", "counter", "rows inserted", rows, {"table": table})
    out.add("annotel_clickhouse_inserts_total", "counter", "insert calls", writer.inserts)
    out.add("annotel_clickhouse_retries_total", "counter", "failed insert attempts", writer.retries)
    out.add(
        "annotel_clickhouse_insert_seconds_last",
        "gauge",
        "duration of the last insert",
        writer.last_insert_s,
    )
    failing = 0.0 if writer.failing_since is None else time.monotonic() - writer.failing_since
    out.add(
        "annotel_clickhouse_failing_seconds",
        "gauge",
        "how long inserts have been failing (0 when healthy)",
        failing,
    )
    out.add(
        "annotel_dead_letter_rows_total",
        "counter",
        "dlq_events rows stored",
        runtime.dead_letters.rows,
    )
    _add_process(out, "worker", "self")
    engine = runtime.writer.engine_pid
    if engine is not None:
        _add_process(out, "clickhouse", engine)
    return out.text()
