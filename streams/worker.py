"""The worker's composition root: run the stream processor (live, or bounded with
--until-drained). ``annotel worker`` (``annotel.commands.worker``) calls ``run_worker``.

It creates the topics, the ClickHouse writer and the app (``streams.faust_app``),
then runs them under mode's worker, the one other place that knows the framework;
each use of a private name of mode says why (``# noqa: SLF001``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
from typing import Any

from mode import Worker

from alerts.receiver_config import receiver_problems
from alerts.rules import RulesError, RuleSet, load_rules
from schemas.loopback import free_port
from schemas.plans import plans_by_queue
from sinks.client import connect
from sinks.migrate import migrate
from sinks.writer import ClickHouseWriter
from streams import malloc
from streams.delivery import DeliveryConfig
from streams.faust_app import create_app, dead_letters_settled
from streams.kafka_config import resolve_flavor
from streams.logs import setup_logging
from streams.plans_file import PlansError, plans_of
from streams.settings import Settings
from streams.topics import TopicContractError, prepare_topics

log = logging.getLogger(__name__)


def prepare(settings: Settings) -> tuple[str, int]:
    """Resolve the broker flavour, create missing topics and check them against the contract.

    Returns the flavour and the input topics' partition count; raises
    ``TopicContractError`` (``streams.topics``) when an existing topic breaks it.
    """
    flavor = resolve_flavor(settings)
    partitions, _created = prepare_topics(settings)
    return flavor, partitions


def delivery_config(settings: Settings) -> DeliveryConfig:
    """The forecast's window and plans (``PlansError`` on a plans file with problems)."""
    return DeliveryConfig(
        round(settings.forecast_window * 1_000_000), plans_by_queue(plans_of(settings.plans_file))
    )


def run_worker(settings: Settings, *, until_drained: bool, web_port: int | None = None) -> int:
    malloc.tune()  # before any thread starts: see streams/malloc.py
    rules: RuleSet | None = None
    if settings.rules_file is not None:
        try:
            rules = load_rules(settings.rules_file)
        except RulesError as exc:
            print(f"annotel worker: invalid rules file, not starting:\n{exc}", file=sys.stderr)
            return 2
        # The checks `annotel rules check` runs: a receiver that cannot send is
        # refused here, before topics or ClickHouse are touched.
        problems = receiver_problems(rules.receivers, os.environ)
        if problems:
            print(
                "annotel worker: receivers cannot be used, not starting:\n  "
                + "\n  ".join(problems),
                file=sys.stderr,
            )
            return 2
    try:
        delivery = delivery_config(settings)
    except PlansError as exc:
        print(f"annotel worker: invalid plans file, not starting:\n{exc}", file=sys.stderr)
        return 2
    try:
        flavor, partitions = prepare(settings)
    except TopicContractError as exc:
        print(
            f"annotel worker: topics disagree with the contract, not starting:\n{exc}",
            file=sys.stderr,
        )
        return 2
    if web_port == 0:
        web_port = free_port()
    dsn, tls = settings.clickhouse_dsn(), settings.clickhouse_tls()
    stopping = [False]
    writer = ClickHouseWriter(
        lambda: connect(dsn, own_process=settings.chdb_process, tls=tls),
        should_stop=lambda: stopping[0],
    )
    runtime = create_app(
        settings,
        flavor=flavor,
        writer=writer,
        until_drained=until_drained,
        web_port=web_port,
        rules=rules,
        input_partitions=partitions,
        delivery=delivery,
    )
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # Migrations run on the writer's thread: one ClickHouse client per process.
    loop.run_until_complete(
        loop.run_in_executor(
            runtime.processor.executor,
            lambda: migrate(writer.client, settings.clickhouse_cluster),
        )
    )
    # Join the input group now: it overlaps the Faust app's group join.
    loop.run_until_complete(runtime.intake.open())
    log.info(
        "worker starting",
        extra={
            "clickhouse": settings.clickhouse_display(),
            "bootstrap": settings.kafka_bootstrap_servers,
            "flavor": flavor,
            "until_drained": until_drained,
        },
    )
    _tune_gc()
    worker = _Worker(
        *runtime.services,
        log_level=settings.log_level,
        loop=loop,
        loglevel=settings.log_level,
        quiet=True,
        # Standard streams stay the program's own (the drained summary); logs go
        # through our handler, not mode's proxy.
        redirect_stdouts=False,
    )
    exit_code = [0]
    tasks: list[asyncio.Task[None]] = []

    async def stop_when_drained() -> None:
        await runtime.drained.wait()
        # Wait for the dead-letter agent to store what the drain produced.
        deadline = loop.time() + 30
        while loop.time() < deadline:
            if dead_letters_settled(runtime, settings.topic_dlq):
                break
            await asyncio.sleep(0.1)
        totals: dict[str, int] = dict(runtime.processor.totals())
        totals["windows_closed"] = runtime.processor.closed_windows
        if runtime.alerts is not None:
            await _alerts_settled(runtime, settings)
            # The stage's offset moves before the batch's alerts are written:
            # the lock waits for that batch to finish.
            async with runtime.alerts.lock:
                totals.update(runtime.alerts.summary())
            if runtime.alerts.dispatcher is not None:
                await runtime.alerts.dispatcher.close(timeout_s=10)
        print(
            "drained: " + ", ".join(f"{k}={v}" for k, v in sorted(totals.items())),
            file=sys.stderr,
        )
        stopping[0] = True
        # Cancelling the start future makes mode shut the worker down cleanly
        # and exit with status 0. mode has no public way to stop a worker from
        # inside (ask/mode#51): its private Worker._starting_fut is the handle.
        starting = worker._starting_fut  # noqa: SLF001
        assert starting is not None  # set while execute_from_commandline runs
        starting.cancel()

    if until_drained:
        tasks.append(loop.create_task(stop_when_drained()))
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        exit_code[0] = int(exc.code or 0)
    finally:
        runtime.processor.close()
        writer.close()
    return exit_code[0]


# Young-generation size and how many young / middle collections run before an
# older one. Measured on 200 000 events (two runs each): with CPython's defaults
# (700, 10, 10) the collector took 5.7 s of a ~19 s replay, mostly full
# collections walking every retained window; with these and the start-up objects
# frozen, 0.9 s, and the worker finished 4-6 s sooner.
GC_THRESHOLDS = (50_000, 20, 100)


def _tune_gc() -> None:
    """Keep the cyclic collector off the hot path.

    Per event the worker creates short-lived containers (decoded JSON, rows)
    and keeps long-lived ones (windows, marks) that the collector would walk
    again at every older-generation pass. Start-up objects (Faust, pydantic,
    chDB's Python side) are frozen: they live as long as the process.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class _Worker(Worker):  # type: ignore[misc]
    """mode's Worker, keeping our log format (JSON lines off a terminal) and level.

    mode replaces the root logger's handlers when the worker starts; without
    this, everything logged after start-up came out as mode's plain text at a
    fixed WARNING level, whatever ANNOTEL_LOG_LEVEL said.
    """

    def __init__(self, *services: Any, log_level: str, **options: Any) -> None:
        super().__init__(*services, **options)
        self.log_level = log_level

    def on_setup_root_logger(self, logger: logging.Logger, loglevel: int) -> None:
        setup_logging(self.log_level)

    # Private mode hooks (Worker._gather_all, Worker._sentinel_task), overridden:
    # an override is no access ruff can mark. mode's shutdown, after every service
    # has stopped, waited up to 1 s for the tasks still left to finish by
    # themselves, cancelled them, then slept 1 s more so that they could unwind:
    # 2 s at the end of every run. What is left there is orphaned waiters (one
    # mode ``Event.wait`` here, which never ends by itself), so they get a few
    # loop turns, are cancelled, and the loop closes as soon as they are gone (1 s
    # at most).
    def _gather_all(self) -> None:
        for _ in range(3):
            if not asyncio.all_tasks(self.loop):
                return
            self.loop.run_until_complete(asyncio.sleep(0.01))
        for task in asyncio.all_tasks(self.loop):
            task.cancel()

    async def _sentinel_task(self) -> None:
        current = asyncio.current_task()
        others = [task for task in asyncio.all_tasks() if task is not current]
        if others:
            await asyncio.wait(others, timeout=1.0)


async def _alerts_settled(runtime: Any, settings: Settings, timeout_s: float = 60) -> None:
    """Wait until the alert stage has read every closed-window report this worker wrote."""
    alerts = runtime.alerts
    publisher = runtime.processor.publisher
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        if not alerts.recovered:
            return  # another worker owns alert evaluation
        written = publisher.last_offsets.get(settings.topic_windows, -1)
        if alerts.stage.offset > written:
            return
        await asyncio.sleep(0.2)
    log.warning("alert stage did not catch up before the drain deadline")
