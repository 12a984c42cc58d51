"""Per-event cost of each pure stage of the worker, without Kafka, Faust or ClickHouse.

    python -m bench.hotpath [--events 50000]
    python -m bench.hotpath --memory [--events 100000]   # bytes per window / dedup key

The realistic simulator mix, replayed through the same functions the worker
calls, in checkpoint-sized batches. Microseconds per input event, best of 3.
The difference between the sum and the worker's in-flight time per event is
what Faust, Kafka clients and ClickHouse cost (see ``python -m bench.profile``).
"""

from __future__ import annotations

import argparse
import gc
import re
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from clickhouse_connect.datatypes.registry import get_from_name

from alerts.handoff import encode_reports
from alerts.rules import load_rules
from alerts.stage import AlertStage
from bench.stack import RULES_FILE, SIM_SEED, SIM_START, route
from embedded.wire import native_block
from schemas import ContractDecoder
from schemas.events import TaskAudited, TaskCompleted
from simulator import Simulator
from sinks.schema import MIGRATIONS, TABLE_COLUMNS
from streams.alert_stage import SNAPSHOT_INTERVAL_S
from streams.partition import PartitionState
from streams.rows import rows_for_checkpoint
from streams.statelog import encode_checkpoint, encode_chunks

BATCH = 4000  # about one checkpoint's worth at the measured rate (1 s)


def _best(fn: Callable[[], Any], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _native_encoder() -> Callable[[dict[str, Any]], int]:
    """What the ClickHouse writer thread does in Python: clickhouse-connect's Native encoding
    (``embedded.wire.native_block``, as the worker encodes for its chDB process).

    Column types come from the migrations' DDL (no server). Takes the batches
    as ``rows_for_checkpoint`` returns them, column batches or row lists.
    """
    types: dict[str, list[Any]] = {}
    for migration in MIGRATIONS:
        for statement in migration.statements:
            match = re.match(
                r"CREATE TABLE IF NOT EXISTS (\w+) \((.*?)\n\) ENGINE", statement, re.S
            )
            if match and match.group(1) in TABLE_COLUMNS:
                lines = [line for line in match.group(2).strip().splitlines() if line.strip()]
                parsed = [re.match(r"\s*(\w+) (.+?),?\s*$", line) for line in lines]
                types[match.group(1)] = [get_from_name(m.group(2)) for m in parsed if m]

    def encode(batches: dict[str, Any]) -> int:
        size = 0
        for table, batch in batches.items():
            columnar = hasattr(batch, "rows")
            if not (batch.rows if columnar else len(batch)):
                continue
            size += len(native_block(table, TABLE_COLUMNS[table], types[table], batch, columnar))
        return size

    return encode


def measure_memory(n: int) -> dict[str, float]:
    """tracemalloc bytes per retained window key and per dedup key, after checkpoints.

    Events are decoded one at a time and dropped, so only the state holds their
    strings; every BATCH events the partitions checkpoint (advance, rows, mark).
    Window bytes = what clearing the windows (and error counts) frees; dedup
    bytes = what clearing the dedup marks frees.
    """
    lines = list(Simulator(SIM_SEED, SIM_START, annotators=10_000, versions=True).events(n))
    routed = [route(line) for line in lines]
    decoder = ContractDecoder()
    now = datetime.now(UTC)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    states = [PartitionState(p, 120_000_000, 48 * 3600 * 1_000_000) for p in range(4)]
    offsets = [0, 0, 0, 0]
    now_us = int(time.time() * 1_000_000)
    for start in range(0, len(lines), BATCH):
        for i in range(start, min(start + BATCH, len(lines))):
            topic, key, value = routed[i]
            p = hash(key) % 4
            states[p].process(decoder.decode(value, now), value, topic, offsets[p])
            offsets[p] += 1
        for s in states:
            s.move_watermark()
            s.advance()
        rows_for_checkpoint([s for s in states if s.has_changes], now_us)
        for s in states:
            s.mark_checkpointed()
    window_keys = sum(len(s.windows) for s in states)
    dedup_keys = sum(len(s.seen) for s in states)
    entity_count = sum(len(s.entities) for s in states)
    gc.collect()
    total = tracemalloc.get_traced_memory()[0] - base

    def clear(names: tuple[str, ...]) -> int:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for s in states:
            for name in names:
                if isinstance(getattr(type(s), name, None), property):
                    continue  # a view over the state, not storage
                if hasattr(s, name):
                    setattr(s, name, type(getattr(s, name))())
        gc.collect()
        return before - tracemalloc.get_traced_memory()[0]

    entities = clear(("entities",))  # the versions' records (streams.entities.EntityTable)
    dedup = clear(("marks",))  # the dedup marks (streams.dedup.DedupMarks)
    windows = clear(("store",))  # the windows (streams.window_store.WindowStore)
    tracemalloc.stop()
    return {
        "window keys": window_keys,
        "dedup keys": dedup_keys,
        "state bytes (tracemalloc)": total,
        "bytes per window key": windows / max(1, window_keys),
        "bytes per dedup key": dedup / max(1, dedup_keys),
        "entities": entity_count,
        "entity table bytes": entities,
        "bytes per entity": entities / max(1, entity_count),
    }


def measure(n: int) -> dict[str, float]:
    lines = list(Simulator(SIM_SEED, SIM_START).events(n))
    routed = [route(line) for line in lines]
    decoder = ContractDecoder()
    now = datetime.now(UTC)
    per: dict[str, float] = {}

    def loads_all() -> None:
        for value in lines:
            try:  # noqa: SIM105  (a context manager per event would be measured too)
                orjson.loads(value)
            except orjson.JSONDecodeError:
                pass

    per["orjson.loads"] = _best(loads_all)
    per["ContractDecoder.decode (orjson + native shadow validators)"] = _best(
        lambda: [decoder.decode(v, now) for v in lines]
    )
    per["ContractDecoder.decode_reference (orjson + pydantic models)"] = _best(
        lambda: [decoder.decode_reference(v, now) for v in lines]
    )
    models: dict[str, Any] = {"task_completed": TaskCompleted, "task_audited": TaskAudited}

    def validate_json() -> None:
        for topic, _key, value in routed:
            model = models["task_audited" if topic.endswith("audited") else "task_completed"]
            try:  # noqa: SIM105
                model.model_validate_json(value)
            except ValueError:
                pass

    per["pydantic model_validate_json (alternative)"] = _best(validate_json)
    decoded = [decoder.decode(v, now) for v in lines]

    def fresh_states() -> list[PartitionState]:
        return [PartitionState(p, 120_000_000, 48 * 3600 * 1_000_000) for p in range(4)]

    def process_all(states: list[PartitionState]) -> list[list[Any]]:
        """PartitionState.process for every event; returns the checkpoint work per batch."""
        offsets = [0, 0, 0, 0]
        work = []
        for start in range(0, len(lines), BATCH):
            for i in range(start, min(start + BATCH, len(lines))):
                topic, key, value = routed[i]
                p = hash(key) % 4
                states[p].process(decoded[i], value, topic, offsets[p])
                offsets[p] += 1
            work.append([s for s in states if s.has_changes])
            for s in states:
                s.mark_checkpointed()
        return work

    per["PartitionState.process"] = _best(lambda: process_all(fresh_states()))

    # The checkpoint stages, on the same batches (best of 3 per stage).
    encode_native = _native_encoder()

    def checkpoint_stages() -> dict[str, float]:
        states = fresh_states()
        offsets = [0, 0, 0, 0]
        spent = dict.fromkeys(
            ("rows", "native", "delta", "mark", "advance", "reports", "evaluator"), 0.0
        )
        # The alert stage as AlertRuntime.process drives it, one windows batch per
        # checkpoint (1 s): the records, evaluation, the replay guard, then a state
        # record: a full snapshot every SNAPSHOT_INTERVAL_S batches, else a step record.
        stage = AlertStage(load_rules(RULES_FILE), len(states))
        windows_offset = 0
        full_every = max(1, round(SNAPSHOT_INTERVAL_S))
        now_us = int(time.time() * 1_000_000)
        for start in range(0, len(lines), BATCH):
            for i in range(start, min(start + BATCH, len(lines))):
                topic, key, value = routed[i]
                p = hash(key) % 4
                states[p].process(decoded[i], value, topic, offsets[p])
                offsets[p] += 1
            t0 = time.perf_counter()
            closed = []
            for s in states:
                s.move_watermark()
                closed.append(s.advance())
            t1 = time.perf_counter()
            changed = [s for s in states if s.has_changes]
            batches = rows_for_checkpoint(changed, now_us)
            t2 = time.perf_counter()
            encode_native(batches)
            t2n = time.perf_counter()
            for s in changed:
                encode_checkpoint(s.delta())
            t3 = time.perf_counter()
            reports = [
                encode_reports(s.partition, s.closed_before, False, c)
                for s, c in zip(states, closed, strict=True)
            ]
            t4 = time.perf_counter()
            for records in reports:
                for value in records:
                    stage.apply(windows_offset, value)
                    windows_offset += 1
            stage.forget_orphans()
            evaluated_at = datetime.now(UTC)
            stage.new_events(stage.evaluate(evaluated_at))
            full = start // BATCH % full_every == 0
            if full:  # as AlertRuntime._state_chunks builds them
                encode_chunks(stage.snapshot_json({"kind": "full"}), stage.offset)
            else:
                encode_checkpoint(stage.step_record(evaluated_at))
            t5 = time.perf_counter()
            del reports, batches
            for s in states:
                s.mark_checkpointed()
            t6 = time.perf_counter()
            spent["advance"] += t1 - t0
            spent["rows"] += t2 - t1
            spent["native"] += t2n - t2
            spent["delta"] += t3 - t2n
            spent["reports"] += t4 - t3
            spent["evaluator"] += t5 - t4
            spent["mark"] += t6 - t5
        return spent

    runs = [checkpoint_stages() for _ in range(3)]
    spent = {stage: min(run[stage] for run in runs) for stage in runs[0]}
    per["advance + evict (per checkpoint, 4 partitions)"] = spent["advance"]
    per["rows_for_checkpoint"] = spent["rows"]
    per["ClickHouse Native encoding of those rows (writer)"] = spent["native"]
    per["encode_checkpoint(delta())"] = spent["delta"]
    per["mark_checkpointed (packs closed minutes)"] = spent["mark"]
    per["encode_reports (closed minutes)"] = spent["reports"]
    per["alert stage: apply + evaluate + state record"] = spent["evaluator"]
    return {name: seconds / n * 1e6 for name, seconds in per.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hotpath")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument(
        "--memory",
        action="store_true",
        help="instead: tracemalloc bytes per window key and per dedup key (10 000 annotators)",
    )
    args = parser.parse_args(argv)
    if args.memory:
        print(f"{args.events:,} simulator events, 10,000 annotators, 48 h retention")
        for name, value in measure_memory(args.events).items():
            print(f"  {name:<50} {value:12,.1f}")
        return 0
    result = measure(args.events)
    print(f"{args.events:,} simulator events, batches of {BATCH}; microseconds per input event")
    for name, micros in result.items():
        print(f"  {name:<50} {micros:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
