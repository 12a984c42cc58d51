"""What the running worker shows of itself: to ``/health``, ``/metrics``, the drain and its command.

Built by ``streams.faust_app.create_app``; read by ``streams.metrics``, the
self-monitoring sampler and ``streams.worker``. It names the parts, it does
not run them, so nothing here knows Faust.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sinks.writer import ClickHouseWriter
from streams.alert_stage import AlertRuntime
from streams.dead_letters import DeadLetterStore
from streams.intake import Intake
from streams.processor import Processor

DRAIN_QUIET_S = 2.0


@dataclass
class Runtime:
    """What the worker command needs to see of the running app."""

    app: Any  # the Faust app (streams.faust_app)
    processor: Processor
    writer: ClickHouseWriter
    until_drained: bool
    intake: Intake
    dead_letters: DeadLetterStore
    services: tuple[Any, ...] = ()  # what the worker starts, in order (streams.faust_app)
    drained: asyncio.Event = field(default_factory=asyncio.Event)
    started_at: float = field(default_factory=time.monotonic)
    alerts: AlertRuntime | None = None
    selfmon: Callable[[], Awaitable[None]] | None = None

    app_assigned: bool = False  # the Faust app's own group (dead letters, alert stage) settled

    @property
    def ready(self) -> bool:
        """Both groups settled: input state recovered, the alert stage recovered if ours."""
        return self.intake.ready and self.app_assigned


def is_drained(runtime: Runtime, input_names: set[str]) -> bool:
    """A bounded run's end: every owned input partition read to its high-water mark, quietly."""
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
