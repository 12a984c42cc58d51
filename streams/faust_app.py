"""The Faust app: the one module (with the composition root, ``streams.worker``) that knows Faust.

It builds the app, its agents (dead letters, alert stage), its timers
(checkpoints, self-monitoring), its web pages (``/health``, ``/metrics``) and
the service that runs the intake, and plugs the real producer, consumer and
ClickHouse writer into the framework-free parts (``streams.processor``,
``streams.intake``, ``streams.alert_stage``, ``streams.dead_letters``). Each use
of a private name of Faust or mode says why (``# noqa: SLF001``).

App id ``annotation-telemetry``. Agents and topics are named explicitly (Faust
derives internal names from module paths otherwise). No Faust tables and no
``group_by``: input is already partitioned by project, and state lives in the
processor with its own checkpoint log (see ``streams.processor``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import faust
from faust.transport.drivers.aiokafka import Producer as AiokafkaProducer
from faust.types import TP, ProducerT
from faust.web.drivers.aiohttp import Web as AiohttpWeb
from mode import Service

from alerts.dispatch import Dispatcher
from alerts.rules import RuleSet
from schemas.decode import ContractDecoder
from sinks.writer import ClickHouseWriter
from streams.alert_stage import AlertRuntime
from streams.dead_letters import DeadLetterStore
from streams.delivery import DeliveryConfig
from streams.intake import GROUP_SUFFIX, Intake
from streams.kafka_config import (
    faust_options,
    idempotent_producer,
    sasl_password,
    ssl_context,
)
from streams.metrics import render_metrics
from streams.ports import Message, Outgoing
from streams.processor import Processor
from streams.recovery import TopicReader, alert_state_reader, state_loader
from streams.runtime import Runtime, is_drained
from streams.self_monitoring import self_monitor
from streams.settings import Settings

log = logging.getLogger(__name__)

APP_ID = "annotation-telemetry"  # also the Faust consumer group; the input group adds ".input"
ALERT_BATCH_WAIT_S = 0.1


class FaustPublisher:
    """The ``Publisher`` port on the app's producer (acks=all: published means stored)."""

    def __init__(self, app: faust.App):
        self.app = app
        self.last_offsets: dict[str, int] = {}  # topic -> highest offset this worker wrote
        self.partition_offsets: dict[tuple[str, int], int] = {}  # same, per partition

    async def publish(self, records: list[Outgoing]) -> list[int]:
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


class IntakeService(Service):
    """The intake as a service of the Faust worker: started after the app, stopped before it."""

    def __init__(self, intake: Intake, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.intake = intake
        # A failed checkpoint during a rebalance crashes the worker through mode,
        # as a failed checkpoint anywhere else does.
        intake.on_crash = self.crash
        intake.host_stopping = lambda: self.should_stop

    async def on_start(self) -> None:
        await self.intake.open()

    @Service.task
    async def _read(self) -> None:
        await self.intake.run()

    async def on_stop(self) -> None:
        await self.intake.close()


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


class _IdempotentProducer(AiokafkaProducer):
    """Faust's aiokafka producer, idempotent (``streams.kafka_config.idempotent_producer``).

    Faust turns idempotence on only for its exactly-once mode, which this worker
    does not use (its exactness is the checkpoint log's), and has no setting for
    it. Private Faust hook (``Producer._settings_extra``, overridden: the extra
    options merged last into the aiokafka producer's), the one place to add it.
    """

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class _App(faust.App):
    idempotent = False  # the producer: set by create_app from the broker's flavour

    # Private Faust hook (App._new_web, overridden: an override is no access ruff
    # can mark): the one place the web driver class is chosen; the blueprint lists
    # above are its documented extension point. Faust exposes the table and router
    # pages in production (robinhood/faust#544, still open).
    # tests/e2e/test_web_pages.py fails if Faust's pages come back.
    def _new_web(self) -> AiohttpWeb:
        return _OwnPagesOnly(self)

    # Private Faust hook (App._new_producer, overridden), the one place the
    # producer is built: Transport.create_producer with our producer class.
    def _new_producer(self) -> ProducerT:
        if not self.idempotent:
            return super()._new_producer()
        return _IdempotentProducer(self.transport, loop=self.loop, beacon=self.beacon)


def faust_credentials(settings: Settings) -> Any:
    """Faust/aiokafka credentials object, or None for plaintext."""
    context = ssl_context(settings)
    if settings.kafka_security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username or "",
            password=sasl_password(settings),
            mechanism=settings.kafka_sasl_mechanism or "PLAIN",
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def create_app(
    settings: Settings,
    *,
    flavor: str,
    writer: ClickHouseWriter,
    until_drained: bool,
    web_port: int | None = None,
    rules: RuleSet | None = None,
    input_partitions: int = 1,
    delivery: DeliveryConfig | None = None,
) -> Runtime:
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
        # Group timings and the embedded broker's workaround: streams.kafka_config.
        **faust_options(flavor),
    )
    app.idempotent = idempotent_producer(flavor)
    dlq_topic = app.topic(settings.topic_dlq, value_serializer="raw", key_serializer="raw")

    intake: list[Intake] = []  # built after the processor it feeds

    async def seek(topic: str, partition: int, offset: int) -> None:
        await intake[0].seek(topic, partition, offset)

    processor = Processor(
        decoder=ContractDecoder(settings.max_event_bytes, settings.max_future_skew),
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
        delivery=delivery,
    )
    intake.append(Intake(settings, processor, group_id=APP_ID + GROUP_SUFFIX))
    dead_letters = DeadLetterStore(writer, processor.executor)
    runtime = Runtime(
        app,
        processor,
        writer,
        until_drained,
        intake[0],
        dead_letters,
        # The intake starts after the app (it publishes through the app's producer)
        # and, services stopping in reverse, stops before it.
        services=(app, IntakeService(intake[0])),
    )
    if rules is not None:
        runtime.alerts = _alerting(app, settings, rules, input_partitions, writer, processor)
    input_names = set(settings.input_topics)

    @app.agent(dlq_topic, name="annotel-dead-letters", concurrency=1)
    async def store_dead_letters(stream: Any) -> None:
        async for events in stream.take_events(5000, within=settings.commit_interval):
            # Acked by Faust only after this returns, i.e. after the rows are durable.
            await dead_letters.store([event.message for event in events])

    if runtime.alerts is not None and settings.selfmon_enabled:
        runtime.selfmon = self_monitor(settings, runtime)

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
        if until_drained and not runtime.drained.is_set() and is_drained(runtime, input_names):
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
    dispatcher = Dispatcher(rules.receivers, os.environ) if rules.receivers else None
    reader = TopicReader(settings)

    async def read_all(topic: str) -> list[bytes]:
        return await reader.read(topic)

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
        read_state=alert_state_reader(settings),
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


async def _seek(app: faust.App, tp: TP, offset: int) -> None:
    """Seek on the consumer's own thread.

    Faust's ``Consumer.seek`` calls aiokafka's ``seek`` from the app's thread
    while the fetcher runs on the consumer thread; the fetcher then iterates a
    dict the seek just changed and the worker dies with a KeyError (seen here
    about once in five to ten demo runs; no upstream issue found). Running the
    seek through the consumer thread's method queue serialises it with the
    fetcher. Faust has no public way to reach that thread, hence the private
    names below.
    """
    consumer: Any = app.consumer
    try:
        # Faust's private consumer thread (Consumer._thread): the only handle on it.
        thread = consumer._thread  # noqa: SLF001
    except AttributeError:  # not the aiokafka driver: no consumer thread
        thread = None
    if thread is None or not hasattr(thread, "call_thread"):
        await consumer.seek(tp, offset)
        return

    async def on_consumer_thread() -> None:
        # AIOKafkaConsumerThread._ensure_consumer: the aiokafka consumer it owns.
        thread._ensure_consumer().seek(tp, offset)  # noqa: SLF001

    await thread.call_thread(on_consumer_thread)
    # What Faust's own seek does next: let it deliver the offsets again. Faust
    # keeps the read positions in the private Consumer._read_offset and updates
    # them itself the same way (robinhood/faust#562 shows its own _seek_wait).
    consumer._read_offset[tp] = offset if offset else None  # noqa: SLF001


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
    positions = runtime.dead_letters.positions
    for (topic, partition), offset in written.items():
        if topic == dlq_topic and positions.get(partition, 0) <= offset:
            return False
    try:
        assigned = [tp for tp in runtime.app.consumer.assignment() if tp.topic == dlq_topic]
    except (AssertionError, RuntimeError):
        return False
    for tp in assigned:
        highwater = _highwater(runtime.app, tp.topic, tp.partition)
        if highwater is None or positions.get(tp.partition, 0) < highwater:
            return False
    return True
