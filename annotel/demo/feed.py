"""The demo's feed: the input published through ``streams.ingest`` on a thread of its own.

The same publishing loop as ``annotel ingest`` and ``annotel simulate``, so
the demo exercises the path real feeds take. It counts what it published for
the summary and the live view.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from typing import Any

from annotel.demo.plan import Plan
from annotel.live_view import FeedProgress
from schemas.redact import redact
from schemas.units import parse_utc, when
from simulator import Simulator
from streams.ingest import ingest, paced, read_lines
from streams.kafka_config import producer
from streams.settings import Settings


class Feed(threading.Thread):
    """Publishes the input through ``ingest`` on a daemon thread.

    A daemon, so an interrupted demo never waits on a producer stuck on a
    broker that went away.
    """

    def __init__(self, plan: Plan, settings: Settings, progress: FeedProgress) -> None:
        super().__init__(name="annotel-demo-feed", daemon=True)
        self.plan = plan
        self.settings = settings
        self.progress = progress
        self.stop_event = threading.Event()
        self.published = 0
        self.dead_lettered = 0
        self.by_reason: Counter[str] = Counter()
        self.manifests: list[dict[str, Any]] = []
        self.error: str | None = None

    def run(self) -> None:
        try:
            kafka_producer = producer(self.settings)
        except Exception as exc:
            self.error = f"cannot connect a producer to the broker ({type(exc).__name__})"
            return
        try:
            for lines, finished in self._chunks():
                result = ingest(self.settings, self._counted(lines), producer=kafka_producer)
                self.published += result.published
                self.dead_lettered += result.dead_lettered
                self.by_reason.update(result.by_reason)
                finished()
                if self.stop_event.is_set():
                    break
        except Exception as exc:
            if not self.stop_event.is_set():
                self.error = redact(f"publishing failed: {type(exc).__name__}: {exc}")
        finally:
            with contextlib.suppress(Exception):
                kafka_producer.close(timeout=2)
            self.progress.done = True

    def _chunks(self) -> Iterator[tuple[Iterable[bytes], Callable[[], None]]]:
        """Line sources in order: the file once, or one simulated run after another."""
        plan = self.plan
        if plan.input is not None:
            with plan.input.open("rb") as handle:
                yield paced(read_lines(handle), plan.rate), lambda: None
            return
        assert plan.start is not None
        start = plan.start
        chunk = 0
        while True:
            sim = Simulator(plan.seed + chunk, start, None, **plan.knobs)
            self.progress.chunks = chunk + 1

            def finished(sim: Simulator = sim) -> None:
                self.manifests.append(sim.manifest)

            yield paced(sim.events(n=plan.events), plan.rate), finished
            if not plan.follow:
                return
            # The next run continues the simulated clock where this one ended.
            last = sim.manifest["span"]["last_occurred_at"]
            start = parse_utc(last).replace(second=0, microsecond=0) + timedelta(minutes=1)
            chunk += 1

    def _counted(self, lines: Iterable[bytes]) -> Iterator[bytes]:
        progress = self.progress
        for line in lines:
            if self.stop_event.is_set():
                return
            progress.lines += 1
            if progress.lines % 500 == 0 and self.plan.follow:
                progress.sim_clock = _event_time(line) or progress.sim_clock
            yield line

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        if self.is_alive():
            self.join(timeout)


def _event_time(line: bytes) -> str | None:
    """The ``occurred_at`` of a simulated line as ``YYYY-MM-DD HH:MM UTC`` (for the view)."""
    at = line.find(b'"occurred_at":"')
    if at < 0:
        return None
    end = line.find(b'"', at + 15)
    try:
        return when(parse_utc(line[at + 15 : end].decode()))
    except ValueError:
        return None
