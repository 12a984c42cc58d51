"""Live-mode latencies: produce to visible in ClickHouse, and watermark to alert.

Both run a worker in live mode (no ``--until-drained``) on a fresh broker and
chDB directory. chDB allows one process per data directory, so the benchmark
cannot query the worker's tables while it runs; it watches Kafka instead:

Visibility. Events are produced one by one at a fixed rate below capacity,
``occurred_at`` = the wall clock at send time; the benchmark records each
event's send time and its (topic, partition, offset) from the broker's ack.
A second consumer reads ``annotation-telemetry.state``. A checkpoint record of
partition ``p`` holds ``offsets`` (the next input offset per topic), and the
worker writes a checkpoint's ClickHouse rows (``task_events``,
``metrics_1m`` ...) *before* its record, so the record's arrival proves that
every event below those offsets is visible in ``metrics_1m``. Latency = when
the benchmark reads that record minus when it sent the event: an upper bound
(it includes the benchmark's own fetch wait, 10 ms).

Alerts. Hand-built events on one project fire the shipped turnaround rule
(``turnaround_sla_breach``: ``turnaround_max_s`` above its threshold; the
threshold, window and min_samples are read from the rules file) in one rule
window per trial, each trial on its own queue (or annotator, or vendor: the
first of them in the rule's scope), two rule windows of event time apart and
hours in the past (history: the wall clock plays no part). Then one "mover"
event a rule window + lateness (120 s) + 1 s after the window start moves the
partition's watermark past the window's end. Latency = when the benchmark
reads the firing alert for that series on ``annotation.alerts`` minus when it
sent the mover.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from alerts.rules import ThresholdRule, load_rules
from bench.stack import (
    ALERTS_TOPIC,
    REPO,
    RULES_FILE,
    SIM_SEED,
    SIM_START,
    STATE_TOPIC,
    Watcher,
    broker,
    create_topics,
    partition_numbers,
    route,
    scratch,
    worker_args,
    worker_env,
)
from schemas import ContractDecoder
from schemas.decode import DecodeError
from schemas.loopback import free_port
from schemas.units import from_epoch_s, rfc3339
from simulator import Simulator


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of the values, None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def live_templates(count: int) -> list[dict[str, Any]]:
    """Valid simulator events (the realistic mix) to re-stamp as live events."""
    decoder = ContractDecoder()
    out: list[dict[str, Any]] = []
    sim = Simulator(SIM_SEED + 1, SIM_START, incidents=())
    for line in sim.events(count + count // 10 + 10):
        if isinstance(decoder.decode(line), DecodeError):
            continue
        event = orjson.loads(line)
        event.pop("task_created_at", None)  # its turnaround would be months
        out.append(event)
        if len(out) >= count:
            break
    return out


# -- running a live worker ------------------------------------------------------------


class LiveWorker:
    def __init__(self, bootstrap: str, data_dir: Path, log_path: Path, web_port: int):
        self.env = worker_env(bootstrap, data_dir)
        self.log_path = log_path
        self.web_port = web_port
        self.process: subprocess.Popen[bytes] | None = None
        self.watcher: Watcher | None = None

    def start(self) -> None:
        handle = open(self.log_path, "wb")  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                worker_args(until_drained=False, web_port=self.web_port),
                env=self.env,
                cwd=REPO,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        finally:
            handle.close()
        self.watcher = Watcher(self.process, metrics_port=None).start()

    async def ready(self, limit_s: float = 120.0) -> float:
        """Wait for /health to say ready; returns the seconds it took."""
        started = time.perf_counter()
        deadline = started + limit_s
        url = f"http://127.0.0.1:{self.web_port}/health"
        while time.perf_counter() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the live worker exited: {self.tail()}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:  # noqa: ASYNC210
                    if orjson.loads(response.read()).get("ready"):
                        return time.perf_counter() - started
            except (OSError, urllib.error.URLError, ValueError):
                pass
            await asyncio.sleep(0.25)
        raise RuntimeError(f"the live worker was not ready within {limit_s}s: {self.tail()}")

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after 20 s; returns the peak RSS seen."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        peak = self.watcher.stop().peak_rss if self.watcher is not None else 0
        return peak

    def tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-3000:]
        return ""


async def _consumer(bootstrap: str, topic: str) -> Any:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=10,
    )
    await consumer.start()
    # Asked of kafka-python: aiokafka's consumer (partitions_for_topic after
    # topics()) found the topic's partitions on Tansu but never on Apache Kafka.
    numbers = await asyncio.to_thread(partition_numbers, bootstrap, topic)
    deadline = time.perf_counter() + 30
    while not numbers and time.perf_counter() < deadline:
        await asyncio.sleep(0.2)
        numbers = await asyncio.to_thread(partition_numbers, bootstrap, topic)
    partitions = [TopicPartition(topic, p) for p in sorted(numbers or [])]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    return consumer


async def _producer(bootstrap: str) -> Any:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    return producer


# -- visibility -----------------------------------------------------------------------


async def _visibility(
    bootstrap: str, worker: LiveWorker, rate: float, seconds: float, settle_s: float
) -> dict[str, Any]:
    templates = live_templates(int(rate * seconds))
    startup = await worker.ready()
    state = await _consumer(bootstrap, STATE_TOPIC)
    producer = await _producer(bootstrap)
    # (topic, partition) -> list of [offset, sent_at]; filled from the acks.
    pending: dict[tuple[str, int], list[tuple[int, float]]] = {}
    latencies: list[float] = []
    sent = 0
    done = asyncio.Event()
    progress = asyncio.Event()  # set whenever a checkpoint record was read

    async def watch_state() -> None:
        parts: dict[int, list[bytes]] = {}
        while not done.is_set():
            batches = await state.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    header_raw, _, body = record.value.partition(b"\n")
                    header = orjson.loads(header_raw)
                    chunks = parts.setdefault(record.partition, [])
                    if header["chunk"] == 0:
                        chunks.clear()
                    chunks.append(body)
                    if len(chunks) < header["of"]:
                        continue
                    checkpoint = orjson.loads(b"".join(chunks))
                    chunks.clear()
                    partition = int(checkpoint["p"])
                    for topic, next_offset in checkpoint["offsets"].items():
                        waiting = pending.get((topic, partition))
                        if not waiting:
                            continue
                        keep = []
                        for offset, sent_at in waiting:
                            if offset < next_offset:
                                latencies.append(now - sent_at)
                            else:
                                keep.append((offset, sent_at))
                        pending[(topic, partition)] = keep
                    progress.set()

    def on_ack(sent_at: float) -> Callable[[Any], None]:
        def record(future: Any) -> None:
            if future.exception() is None:
                meta = future.result()
                pending.setdefault((meta.topic, meta.partition), []).append((meta.offset, sent_at))

        return record

    watcher = asyncio.create_task(watch_state())
    began = time.perf_counter()
    try:
        for number, template in enumerate(templates):
            delay = began + number / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            event = dict(template)
            sent_at = time.perf_counter()
            event["occurred_at"] = rfc3339(datetime.now(UTC), "milliseconds")
            event["event_id"] = f"bench-live-{number:07d}"
            topic, key, value = route(orjson.dumps(event))
            future = await producer.send(topic, value, key=key)
            future.add_done_callback(on_ack(sent_at))
            sent += 1
        await producer.flush()
        produce_s = time.perf_counter() - began
        deadline = time.perf_counter() + settle_s
        while len(latencies) < sent and await _until(progress, deadline):
            pass
    finally:
        done.set()
        await watcher
        await producer.stop()
        await state.stop()
    return {
        "rate_eps": rate,
        "sent": sent,
        "produce_s": produce_s,
        "achieved_eps": sent / produce_s if produce_s else 0.0,
        "visible": len(latencies),
        "p50_ms": _ms(percentile(latencies, 50)),
        "p99_ms": _ms(percentile(latencies, 99)),
        "max_ms": _ms(max(latencies) if latencies else None),
        "worker_ready_s": startup,
    }


async def _until(event: asyncio.Event, deadline: float) -> bool:
    """Wait for ``event`` (then clear it) until ``deadline``; False once the time is up."""
    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        return False
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), remaining)
    event.clear()
    return True


def _ms(value: float | None) -> float | None:
    return None if value is None else value * 1000


def visibility_latency(rate: float, seconds: float, tmp: Path) -> dict[str, Any]:
    with broker() as (bootstrap, _), scratch("annotel-bench-live-") as data:
        create_topics(bootstrap)
        worker = LiveWorker(bootstrap, data, tmp / "worker-live.log", free_port())
        worker.start()
        try:
            result = asyncio.run(_visibility(bootstrap, worker, rate, seconds, settle_s=20))
        finally:
            result_rss = worker.stop()
    result["peak_rss_mb"] = result_rss / 2**20
    return result


# -- alerts ---------------------------------------------------------------------------

ALERT_PROJECT = "bench-alerts"
LATENESS_S = 120  # ANNOTEL_ALLOWED_LATENESS, the shipped default the workers run with
_VARIED = ("queue_id", "annotator_id", "vendor_id")  # one of these names a trial's series


@dataclass(frozen=True)
class BreachRule:
    name: str
    threshold_s: float
    window_s: int
    samples: int  # breaching events per trial (the rule's min_samples, at least 1)
    varied: str  # the scope dimension that differs between trials


def breach_rule(path: Path = RULES_FILE) -> BreachRule:
    """The shipped rule the alert trials fire: turnaround_max_s above a threshold."""
    candidates = [
        rule
        for rule in load_rules(path).rules
        if isinstance(rule, ThresholdRule)
        and rule.metric == "turnaround_max_s"
        and rule.op in (">", ">=")
        and rule.for_ == 1
        and any(dim in rule.scope for dim in _VARIED)
    ]
    if not candidates:
        raise RuntimeError(f"{path}: no turnaround_max_s '>' rule to fire for the alert latency")
    rule = next((r for r in candidates if r.name == "turnaround_sla_breach"), candidates[0])
    return BreachRule(
        rule.name,
        rule.threshold,
        rule.window,
        max(1, rule.min_samples),
        next(dim for dim in _VARIED if dim in rule.scope),
    )


def _submitted(event_id: str, occurred: datetime, created: datetime | None, **dims: str) -> bytes:
    event: dict[str, Any] = {
        "event_type": "task_completed",
        "schema_version": 1,
        "event_id": event_id,
        "occurred_at": rfc3339(occurred, "milliseconds"),
        "project_id": ALERT_PROJECT,
        "queue_id": "bench-queue",
        "task_id": f"task-{event_id}",
        "annotator_id": "bench-annotator",
        "vendor_id": "bench-vendor",
        "locale": "zh-CN",
        "source": "human",
        "status": "submitted",
        "handle_time_s": 30.0,
    }
    event.update(dims)
    if created is not None:
        event["task_created_at"] = rfc3339(created, "milliseconds")
    return orjson.dumps(event)


async def _alerts(bootstrap: str, worker: LiveWorker, trials: int) -> dict[str, Any]:
    rule = breach_rule()
    startup = await worker.ready()
    alerts = await _consumer(bootstrap, ALERTS_TOPIC)
    producer = await _producer(bootstrap)
    spacing = 2 * rule.window_s
    past = int(datetime.now(UTC).timestamp()) - trials * spacing - 4 * 3600
    base = from_epoch_s(past - past % rule.window_s)
    seen: dict[str, float] = {}  # series label (queue, annotator ...) -> when its alert was read
    other_alerts: dict[str, int] = {}
    done = asyncio.Event()
    arrived = asyncio.Event()  # set whenever an alert was read

    async def watch_alerts() -> None:
        while not done.is_set():
            batches = await alerts.getmany(timeout_ms=100)
            moment = time.perf_counter()
            for records in batches.values():
                for record in records:
                    alert = orjson.loads(record.value)
                    name = alert.get("rule")
                    series = (alert.get("labels") or {}).get(rule.varied, "")
                    if name == rule.name and alert.get("status") == "firing":
                        seen.setdefault(series, moment)
                        arrived.set()
                    else:
                        other_alerts[str(name)] = other_alerts.get(str(name), 0) + 1

    watcher = asyncio.create_task(watch_alerts())
    latencies: list[float] = []
    missed = 0
    try:
        key = ALERT_PROJECT.encode()
        waited = timedelta(seconds=rule.threshold_s + 3600)
        for trial in range(trials):
            start = base + timedelta(seconds=spacing * trial)
            series = f"bench-{trial:03d}"
            for sample in range(rule.samples):
                occurred = start + timedelta(seconds=60 + sample)
                breach = _submitted(
                    f"bench-breach-{trial}-{sample}",
                    occurred,
                    occurred - waited,
                    **{rule.varied: series},
                )
                await (await producer.send("annotation.task-completed", breach, key=key))
            await asyncio.sleep(0.2)
            mover_time = start + timedelta(seconds=rule.window_s + LATENESS_S + 1)
            mover = _submitted(f"bench-mover-{trial}", mover_time, None, queue_id="bench-mover")
            sent_at = time.perf_counter()
            await (await producer.send("annotation.task-completed", mover, key=key))
            deadline = sent_at + 15
            while series not in seen and await _until(arrived, deadline):
                pass
            if series in seen:
                latencies.append(seen[series] - sent_at)
            else:
                missed += 1
    finally:
        done.set()
        await watcher
        await producer.stop()
        await alerts.stop()
    return {
        "rule": rule.name,
        "threshold_s": rule.threshold_s,
        "rule_window_s": rule.window_s,
        "trials": trials,
        "fired": len(latencies),
        "missed": missed,
        "p50_ms": _ms(percentile(latencies, 50)),
        "p99_ms": _ms(percentile(latencies, 99)),
        "max_ms": _ms(max(latencies) if latencies else None),
        "trials_ms": [_ms(v) for v in latencies],  # in trial order
        "other_alerts": other_alerts,
        "worker_ready_s": startup,
    }


def alert_latency(trials: int, tmp: Path) -> dict[str, Any]:
    with broker() as (bootstrap, _), scratch("annotel-bench-alerts-") as data:
        create_topics(bootstrap)
        worker = LiveWorker(bootstrap, data, tmp / "worker-alerts.log", free_port())
        worker.start()
        try:
            result = asyncio.run(_alerts(bootstrap, worker, trials))
        finally:
            worker.stop()
    return result
