"""Per-event cost of each pure stage of the worker, without Kafka, Faust or ClickHouse.

    python -m bench.hotpath [--events 50000]

The realistic simulator mix, replayed through the same functions the worker
calls, in checkpoint-sized batches. Microseconds per input event, best of 3.
The difference between the sum and the worker's in-flight time per event is
what Faust, Kafka clients and ClickHouse cost (see ``python -m bench.profile``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

BATCH = 4000  # about one checkpoint's worth at the measured rate (1 s)


def _best(fn: Callable[[], Any], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def measure(n: int) -> dict[str, float]:
    from alerts.rules import load_rules
    from bench.stack import RULES_FILE, SIM_SEED, SIM_START, route
    from schemas import Decoder
    from schemas.events import TaskAudited, TaskCompleted
    from simulator import Simulator
    from streams.alert_runtime import SNAPSHOT_INTERVAL_S
    from streams.alerting import AlertStage, encode_reports
    from streams.rows import rows_for_checkpoint
    from streams.state import PartitionState
    from streams.statelog import encode_checkpoint

    lines = list(Simulator(SIM_SEED, SIM_START).events(n))
    routed = [route(line) for line in lines]
    decoder = Decoder()
    now = datetime.now(UTC)
    per: dict[str, float] = {}

    def loads_all() -> None:
        for value in lines:
            try:  # noqa: SIM105  (a context manager per event would be measured too)
                orjson.loads(value)
            except orjson.JSONDecodeError:
                pass

    per["orjson.loads"] = _best(loads_all)
    per["Decoder.decode (orjson + native shadow validators)"] = _best(
        lambda: [decoder.decode(v, now) for v in lines]
    )
    per["Decoder.decode_reference (orjson + pydantic models)"] = _best(
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

    # The checkpoint stages, on the same batches.
    def checkpoint_stages() -> dict[str, float]:
        states = fresh_states()
        offsets = [0, 0, 0, 0]
        spent = dict.fromkeys(("rows", "delta", "advance", "reports", "evaluator"), 0.0)
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
            rows_for_checkpoint(changed, now_us)
            t2 = time.perf_counter()
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
            encode_checkpoint(stage.snapshot() if full else stage.step_record(evaluated_at))
            t5 = time.perf_counter()
            del reports
            for s in states:
                s.mark_checkpointed()
            spent["advance"] += t1 - t0
            spent["rows"] += t2 - t1
            spent["delta"] += t3 - t2
            spent["reports"] += t4 - t3
            spent["evaluator"] += t5 - t4
        return spent

    spent = checkpoint_stages()
    per["advance + evict (per checkpoint, 4 partitions)"] = spent["advance"]
    per["rows_for_checkpoint"] = spent["rows"]
    per["encode_checkpoint(delta())"] = spent["delta"]
    per["encode_reports (closed minutes)"] = spent["reports"]
    per["alert stage: apply + evaluate + state record"] = spent["evaluator"]
    return {name: seconds / n * 1e6 for name, seconds in per.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hotpath")
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args(argv)
    result = measure(args.events)
    print(f"{args.events:,} simulator events, batches of {BATCH}; microseconds per input event")
    for name, micros in result.items():
        print(f"  {name:<50} {micros:8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
