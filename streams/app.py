"""The Faust app: thin agents around the processor, health and metrics pages.

App id ``annotation-telemetry``. Agents and topics are named explicitly (Faust
derives internal names from module paths otherwise). No Faust tables and no
``group_by``: input is already partitioned by project, and state lives in the
processor with its own checkpoint log (see ``streams.processor``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import TP
from faust.web.drivers.aiohttp import Web as AiohttpWeb

from alerts.rules import RuleSet
from schemas.deadletter import DeadLetter
from schemas.decode import Decoder
from sinks.writer import ClickHouseWriter
from streams.alert_stage import AlertRuntime
from streams.intake import GROUP_SUFFIX, Intake
from streams.kafka import aiokafka_security, faust_credentials
from streams.processor import Message, Processor
from streams.rows import dlq_row, refused_dlq_row
from streams.settings import Settings
from streams.statelog import base_of, decode_checkpoints

log = logging.getLogger(__name__)

APP_ID = "annotation-telemetry"  # also the Faust consumer group; the input group adds ".input"
DRAIN_QUIET_S = 2.0
ALERT_BATCH_WAIT_S = 0.1


@dataclass
class Runtime:
    """What the worker command needs to see of the running app."""

    app: faust.App
    processor: Processor
    writer: ClickHouseWriter
    until_drained: bool
    intake: Intake
    drained: asyncio.Event = field(default_factory=asyncio.Event)
    started_at: float = field(default_factory=time.monotonic)
    dlq_rows: int = 0
    dlq_positions: dict[int, int] = field(default_factory=dict)  # partition -> next offset stored
    alerts: AlertRuntime | None = None
    selfmon: Callable[[], Awaitable[None]] | None = None

    app_assigned: bool = False  # the Faust app's own group (dead letters, alert stage) settled

    @property
    def ready(self) -> bool:
        """Both groups settled: input state recovered, the alert stage recovered if ours."""
        return self.intake.ready and self.app_assigned


class FaustPublisher:
    def __init__(self, app: faust.App):
        self.app = app
        self.last_offsets: dict[str, int] = {}  # topic -> highest offset this worker wrote
        self.partition_offsets: dict[tuple[str, int], int] = {}  # same, per partition

    async def publish(
        self, records: list[tuple[str, int | None, bytes | None, bytes]]
    ) -> list[int]:
        producer = self.app.producer
        futures = [
            await producer.send(topic, key, value, partition, None, None)
            for topic, partition, key, value in records
        ]
        offsets = []
        for metadata in await asyncio.gather(*futures):
            topic, offset = getattr(metadata, "topic", None), getattr(metadata, "offset", None)
            if isinstance(topic, str) and isinstance(offset, int):
                self.last_offsets[topic] = max(offset, self.last_offsets.get(topic, -1))
                where = (topic, int(getattr(metadata, "partition", -1)))
                self.partition_offsets[where] = max(offset, self.partition_offsets.get(where, -1))
                offsets.append(offset)
            else:
                offsets.append(-1)
        return offsets


class TopicReader:
    """Reads the worker's own logs for recovery (never the input topics)."""

    def __init__(self, settings: Settings):
        self.settings = settings

    async def _consumer(self) -> Any:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.bootstrap_servers,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **aiokafka_security(self.settings),
        )
        await consumer.start()
        return consumer

    async def read(self, topic: str, partition: int | None = None, start: int = 0) -> list[bytes]:
        """From ``start`` (each partition, or the one given) to the end."""
        values: list[bytes] = []
        for _, value in await self._read(topic, partition, start):
            values.append(value)
        return values

    async def tail(self, topic: str, partition: int) -> tuple[int, bytes] | None:
        """The last message of a partition and its offset (None when empty)."""
        from aiokafka import TopicPartition

        consumer = await self._consumer()
        try:
            tp = TopicPartition(topic, partition)
            end = (await consumer.end_offsets([tp]))[tp]
        finally:
            await consumer.stop()
        if end == 0:
            return None
        found = await self._read(topic, partition, max(0, end - 1))
        return found[-1] if found else None

    async def _read(self, topic: str, partition: int | None, start: int) -> list[tuple[int, bytes]]:
        from aiokafka import TopicPartition

        consumer = await self._consumer()
        try:
            if partition is None:
                numbers = sorted(consumer.partitions_for_topic(topic) or [])
                if not numbers:
                    await consumer.topics()
                    numbers = sorted(consumer.partitions_for_topic(topic) or [])
            else:
                numbers = [partition]
            found: list[tuple[int, bytes]] = []
            for number in numbers:
                tp = TopicPartition(topic, number)
                consumer.assign([tp])
                consumer.seek(tp, start)
                end = (await consumer.end_offsets([tp]))[tp]
                # Read to the reported end, then until quiet: some brokers report
                # a low end offset for multi-record batches.
                while True:
                    batch = await consumer.getmany(tp, timeout_ms=300, max_records=10_000)
                    records = batch.get(tp, [])
                    found.extend((r.offset, r.value) for r in records)
                    if not records and await consumer.position(tp) >= end:
                        break
            return found
        finally:
            await consumer.stop()


def state_loader(settings: Settings) -> Callable[[int], Any]:
    reader = TopicReader(settings)

    async def load(partition: int) -> tuple[list[dict[str, Any]], int]:
        """Checkpoint records from the latest full snapshot on, and that snapshot's offset."""
        last = await reader.tail(settings.topic_state, partition)
        if last is None:
            return [], 0
        base = base_of(last[1])
        records = decode_checkpoints(await reader.read(settings.topic_state, partition, base))
        if base and (not records or not records[0].get("full")):
            # The pointer did not lead to a complete snapshot: replay everything.
            base = 0
            records = decode_checkpoints(await reader.read(settings.topic_state, partition))
        return records, base

    return load


class _OwnPagesOnly(AiohttpWeb):
    """Faust's web server without Faust's pages: only what ``create_app`` registers is served.

    Faust mounts ``/router/`` and ``/table/`` (cluster topology, table data),
    ``/`` (an index, or statistics and ``/assignment/`` in debug), ``/graph/``
    and ``/performance/`` from these lists. This worker has no Faust tables and
    routes nothing, so none of them has a use here, and each is something more
    to expose on the port beside ``/health`` and ``/metrics``.
    """

    default_blueprints = ()
    production_blueprints = ()
    debug_blueprints = ()
    optional_blueprints = ()


class _App(faust.App):
    # Faust's private hook (App._new_web) is the one place the web driver
    # class is chosen; the blueprint lists above are its documented extension
    # point. tests/e2e/test_web_pages.py fails if Faust's pages come back.
    def _new_web(self) -> AiohttpWeb:
        return _OwnPagesOnly(self)


def create_app(
    settings: Settings,
    *,
    flavor: str,
    writer: ClickHouseWriter,
    until_drained: bool,
    web_port: int | None = None,
    rules: RuleSet | None = None,
    input_partitions: int = 1,
) -> Runtime:
    options: dict[str, Any] = {}
    if flavor == "tansu":
        # Measured for the embedded broker (docs/architecture.md): faster
        # rejoin, and one record per batch so end offsets are exact.
        options.update(
            broker_session_timeout=10,
            broker_rebalance_timeout=10,
            broker_heartbeat_interval=1,
            producer_max_batch_size=1,
        )
    app = _App(
        APP_ID,
        broker=[f"kafka://{server}" for server in settings.bootstrap_servers],
        broker_credentials=faust_credentials(settings),
        value_serializer="raw",
        key_serializer="raw",
        topic_partitions=settings.kafka_partitions,
        topic_allow_declare=False,
        # No leader election here: without this Faust subscribes to its
        # "<app>-__assignor-__leader" topic, which nothing creates on a Kafka
        # cluster that does not auto-create topics for aiokafka, and logs an
        # error at every rebalance (Tansu auto-created it).
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        store="memory://",
        web_enabled=True,
        web_bind=settings.web_bind,
        web_port=web_port if web_port is not None else settings.web_port,
        web_host=settings.web_bind,
        web_router_enabled=False,
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
        stream_buffer_maxsize=max(4096, settings.batch_size),
        **options,
    )
    dlq_topic = app.topic(settings.topic_dlq, value_serializer="raw", key_serializer="raw")

    intake: list[Intake] = []  # built after the processor it feeds

    async def seek(topic: str, partition: int, offset: int) -> None:
        await intake[0].seek(topic, partition, offset)

    processor = Processor(
        decoder=Decoder(settings.max_event_bytes, settings.max_future_skew),
        sink=writer,
        publisher=FaustPublisher(app),
        load_state=state_loader(settings),
        seek=seek,
        state_topic=settings.topic_state,
        dlq_topic=settings.topic_dlq,
        lateness_s=settings.allowed_lateness,
        retention_s=settings.retention,
        idle_timeout_s=settings.idle_timeout,
        live=not until_drained,
        input_topics=settings.input_topics,
        highwater=lambda topic, partition: intake[0].highwater(topic, partition),
        windows_topic=settings.topic_windows if rules is not None else None,
        snapshot_every=settings.snapshot_every,
    )
    intake.append(Intake(settings, processor, group_id=APP_ID + GROUP_SUFFIX, flavor=flavor))
    runtime = Runtime(app, processor, writer, until_drained, intake[0])
    if rules is not None:
        runtime.alerts = _alerting(app, settings, rules, input_partitions, writer, processor)
    input_names = set(settings.input_topics)

    @app.agent(dlq_topic, name="annotel-dead-letters", concurrency=1)
    async def store_dead_letters(stream: Any) -> None:
        loop = asyncio.get_running_loop()
        async for events in stream.take_events(5000, within=settings.commit_interval):
            rows = []
            for event in events:
                message = event.message
                try:
                    letter = DeadLetter.from_json(message.value)
                except ValueError:
                    letter = DeadLetter.build(
                        message.value or b"",
                        "invalid_json",
                        "the dead-letter topic held a message that is not a dead letter",
                        topic=message.topic,
                        partition=message.partition,
                        offset=message.offset,
                    )
                rows.append(dlq_row(letter, message.partition, message.offset))
            # Acked by Faust only after this returns, i.e. after the rows are durable.
            refused = await loop.run_in_executor(
                processor.executor,
                functools.partial(writer.write, {"dlq_events": rows}, rejectable=("dlq_events",)),
            )
            if refused:  # a letter its columns cannot hold: stored as one that says so
                by_position = {(e.message.partition, e.message.offset): e.message for e in events}
                replacements = []
                for rejected in refused:
                    # The row ends with dlq_partition, dlq_offset: the message it came from.
                    message = by_position[(rejected.values[-2], rejected.values[-1])]
                    replacements.append(
                        refused_dlq_row(rejected, message.value or b"", message.topic)
                    )
                await loop.run_in_executor(
                    processor.executor, writer.write, {"dlq_events": replacements}
                )
            runtime.dlq_rows += len(rows)
            for event in events:
                message = event.message
                position = runtime.dlq_positions.get(message.partition, 0)
                runtime.dlq_positions[message.partition] = max(position, message.offset + 1)

    if runtime.alerts is not None and settings.selfmon_enabled:
        runtime.selfmon = _self_monitor(settings, runtime)

        # Its own timer: the checkpoint timer blocks while ClickHouse is down,
        # which is exactly when this one must keep running.
        @app.timer(5.0, name="annotel-selfmon")  # type: ignore[untyped-decorator]
        async def self_monitoring() -> None:
            if runtime.selfmon is not None:
                await runtime.selfmon()

    @app.timer(settings.commit_interval, name="annotel-checkpoint")  # type: ignore[untyped-decorator]
    async def periodic_checkpoint() -> None:
        """Checkpoints while no input arrives: idle windows close on the clock, live."""
        if time.monotonic() - runtime.intake.last_checkpoint >= settings.commit_interval:
            await runtime.intake.checkpoint()
        if until_drained and not runtime.drained.is_set() and _is_drained(runtime, input_names):
            await processor.checkpoint(close_all=True)
            log.info("input drained: all windows closed", extra=dict(processor.totals()))
            runtime.drained.set()

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_assigned(app: faust.App, assigned: set[TP], **_: Any) -> None:
        if runtime.alerts is not None:
            if TP(settings.topic_windows, 0) in assigned:
                await runtime.alerts.recover()
            else:
                runtime.alerts.recovered = False
        runtime.app_assigned = True

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def on_revoked(app: faust.App, revoked: set[TP], **_: Any) -> None:
        runtime.app_assigned = False

    @app.page("/health")
    async def health(web: Any, request: Any) -> Any:
        status = 200 if runtime.ready else 503
        return web.json({"ready": runtime.ready}, status=status)

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        from streams.metrics import render_metrics

        return web.text(render_metrics(runtime), content_type="text/plain")

    return runtime


def _alerting(
    app: faust.App,
    settings: Settings,
    rules: RuleSet,
    input_partitions: int,
    writer: ClickHouseWriter,
    processor: Processor,
) -> AlertRuntime:
    """The alert agent: one consumer of the single-partition windows topic."""
    import os

    from alerts.dispatch import Dispatcher

    dispatcher = Dispatcher(rules.receivers, os.environ) if rules.receivers else None
    reader = TopicReader(settings)

    async def read_all(topic: str) -> list[bytes]:
        return await reader.read(topic)

    async def read_state() -> list[bytes]:
        """From the snapshot before the last one: at most two snapshots to read."""
        last = await reader.tail(settings.topic_alert_state, 0)
        if last is None:
            return []
        return await reader.read(settings.topic_alert_state, 0, base_of(last[1]))

    async def seek(topic: str, partition: int, offset: int) -> None:
        await _seek(app, TP(topic, partition), offset)

    async def run_blocking(fn: Callable[[], object]) -> None:
        await asyncio.get_running_loop().run_in_executor(processor.executor, fn)

    alerts = AlertRuntime(
        rules=rules,
        partitions=input_partitions,
        sink=writer,
        publisher=processor.publisher,
        dispatcher=dispatcher,
        read_topic=read_all,
        read_state=read_state,
        seek=seek,
        run_blocking=run_blocking,
        windows_topic=settings.topic_windows,
        state_topic=settings.topic_alert_state,
        alerts_topic=settings.topic_alerts,
    )
    windows = app.topic(settings.topic_windows, value_serializer="raw", key_serializer="raw")

    @app.agent(windows, name="annotel-alerts", concurrency=1)
    async def evaluate(stream: Any) -> None:
        # A few records per checkpoint arrive here, all at once: waiting longer
        # for more only delays the alerts.
        async for events in stream.take_events(1000, within=ALERT_BATCH_WAIT_S):
            await alerts.process(
                [
                    Message(e.message.topic, e.message.partition, e.message.offset, e.message.value)
                    for e in events
                ]
            )

    if dispatcher is not None:

        @app.task  # type: ignore[untyped-decorator]
        async def start_receivers() -> None:
            await dispatcher.start()

    return alerts


def _self_monitor(settings: Settings, runtime: Runtime) -> Callable[[], Awaitable[None]]:
    """Sample this worker's health and publish meta-alert transitions like rule alerts."""
    import os
    import socket

    from alerts.selfmon import Limits, Observation, SelfMonitor

    alerts = runtime.alerts
    assert alerts is not None
    monitor = SelfMonitor(
        Limits(
            lag_messages=settings.selfmon_lag_limit,
            dead_letter_share=settings.selfmon_dead_letter_share,
            clickhouse_failing_s=settings.selfmon_clickhouse_failing,
            watermark_stall_s=settings.selfmon_watermark_stall,
            receiver_failures=settings.selfmon_receiver_failures,
        ),
        instance=f"{socket.gethostname()}:{os.getpid()}",
        receivers=tuple(alerts.rules.receivers),
    )
    processor = runtime.processor

    async def sample() -> None:
        totals = processor.totals()
        lag: dict[str, int] = {}
        for partition, state in processor.states.items():
            for topic in processor.input_topics:
                highwater = runtime.intake.highwater(topic, partition)
                if highwater is not None:
                    lag[f"{topic}/{partition}"] = max(0, highwater - state.offsets.get(topic, 0))
        failing = runtime.writer.stats.failing_since
        dispatcher = alerts.dispatcher
        observation = Observation(
            lag=lag,
            events_in=totals.get("events_in", 0),
            dead_letters=sum(v for k, v in totals.items() if k.startswith("dead_")),
            watermarks={
                p: (None if s.watermark_us is None else s.watermark_us / 1e6)
                for p, s in processor.states.items()
            },
            events_by_partition={
                p: s.counters.get("events_in", 0) for p, s in processor.states.items()
            },
            clickhouse_failing_s=0.0 if failing is None else time.monotonic() - failing,
            receiver_failures=(
                {n: st.consecutive_failures for n, st in dispatcher.stats().items()}
                if dispatcher is not None
                else {}
            ),
        )
        events = monitor.observe(datetime.now(UTC), observation)
        if events:
            await alerts.emit_meta(events)

    return sample


async def _seek(app: faust.App, tp: TP, offset: int) -> None:
    """Seek on the consumer's own thread.

    Faust's ``Consumer.seek`` calls aiokafka's ``seek`` from the app's thread
    while the fetcher runs on the consumer thread; the fetcher then iterates a
    dict the seek just changed and the worker dies with a KeyError (seen here
    about once in five to ten demo runs). Running the seek through the
    consumer thread's method queue serialises it with the fetcher.
    """
    consumer: Any = app.consumer
    thread = getattr(consumer, "_thread", None)
    if thread is None or not hasattr(thread, "call_thread"):
        await consumer.seek(tp, offset)
        return

    async def on_consumer_thread() -> None:
        thread._ensure_consumer().seek(tp, offset)

    await thread.call_thread(on_consumer_thread)
    # What Faust's own seek does next: let it deliver the offsets again.
    consumer._read_offset[tp] = offset if offset else None


def _highwater(app: faust.App, topic: str, partition: int) -> int | None:
    """The consumer's high-water mark, or None while unknown (not fetched or not assigned)."""
    try:
        value = app.consumer.highwater(TP(topic, partition))
    except (AssertionError, KeyError, RuntimeError):
        return None
    return None if value is None else int(value)


def dead_letters_settled(runtime: Runtime, dlq_topic: str) -> bool:
    """Every dead letter this worker wrote, and every one on its DLQ partitions, is stored."""
    publisher = runtime.processor.publisher
    written = getattr(publisher, "partition_offsets", {})
    for (topic, partition), offset in written.items():
        if topic == dlq_topic and runtime.dlq_positions.get(partition, 0) <= offset:
            return False
    try:
        assigned = [tp for tp in runtime.app.consumer.assignment() if tp.topic == dlq_topic]
    except (AssertionError, RuntimeError):
        return False
    for tp in assigned:
        highwater = _highwater(runtime.app, tp.topic, tp.partition)
        if highwater is None or runtime.dlq_positions.get(tp.partition, 0) < highwater:
            return False
    return True


def _is_drained(runtime: Runtime, input_names: set[str]) -> bool:
    processor = runtime.processor
    if processor.assigned is None or not runtime.ready:
        return False
    if time.monotonic() - processor.last_message_at < DRAIN_QUIET_S:
        return False
    for topic in input_names:
        for partition in processor.assigned:
            highwater = runtime.intake.highwater(topic, partition)
            if highwater is None:
                return False  # not fetched yet
            state = processor.states.get(partition)
            position = state.offsets.get(topic, 0) if state else 0
            if position < highwater:
                return False
    return processor.pending_events() == 0
