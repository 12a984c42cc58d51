"""The worker watching itself: samples its own health for ``alerts.selfmon`` every few seconds.

Lag, dead-letter share, ClickHouse failures, stalled watermarks and failing
receivers are read here from the running worker (``streams.runtime``);
``alerts.selfmon.SelfMonitor`` (pure) decides the meta-alert transitions, which
go out like rule alerts (``AlertRuntime.emit_meta``). Its timer is its own
(``streams.faust_app``): the checkpoint timer blocks while ClickHouse is down,
which is exactly when this one must keep running.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from alerts.selfmon import Limits, Observation, SelfMonitor
from streams.runtime import Runtime
from streams.settings import Settings


def self_monitor(settings: Settings, runtime: Runtime) -> Callable[[], Awaitable[None]]:
    """Sample this worker's health and publish meta-alert transitions like rule alerts."""
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
