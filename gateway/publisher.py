"""Durable before the answer: send a request's records and wait until the broker stored them all.

The producer is the one ``annotel ingest`` uses (``streams.kafka_config.producer``,
``acks=all``), with deadlines bounded by the gateway's publish timeout
(``streams.publishing.request_deadlines``). kafka-python's ``send`` may block
(metadata of a topic it has not seen, a full buffer), so sending happens on
one thread of its own; the event loop only awaits the acknowledgements.

What "nothing half-published" can mean without transactions: a request's
records are all sent, then all awaited; if any is not acknowledged within
the timeout the request fails (``PublishError``, answered ``503`` with
``Retry-After``) and the platform sends it again. Records of the failed
attempt that the broker did store stay on the topic; the retry publishes
them a second time with the same deterministic ``event_id``s, and the
worker's deduplication counts each once. Sending stops at the deadline, so
a request never keeps a broker-bound thread busy after it was answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from schemas.redact import describe_error
from streams.publishing import Record


class PublishError(Exception):
    """Not every record of the request was acknowledged in time."""


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class Publisher:
    def __init__(self, producer: Any, timeout_s: float) -> None:
        self.producer = producer
        self.timeout_s = timeout_s
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="annotel-gateway-send")

    async def publish(self, records: Sequence[Record]) -> None:
        if not records:
            return
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + self.timeout_s
        acks: list[asyncio.Future[None]] = [loop.create_future() for _ in records]

        def tell(ack: asyncio.Future[None], error: BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed at shutdown
                loop.call_soon_threadsafe(_settle, ack, error)

        def send_all() -> None:
            for record, ack in zip(records, acks, strict=True):
                if time.monotonic() > deadline:
                    raise TimeoutError("publish deadline passed while sending")
                future = self.producer.send(record.topic, key=record.key, value=record.value)
                future.add_callback(lambda _meta, ack=ack: tell(ack, None))
                future.add_errback(lambda exc, ack=ack: tell(ack, exc))

        try:
            await asyncio.wait_for(loop.run_in_executor(self._executor, send_all), self.timeout_s)
            remaining = max(0.0, deadline - time.monotonic())
            await asyncio.wait_for(asyncio.gather(*acks), remaining)
        except Exception as exc:
            for ack in acks:
                if not ack.done():
                    ack.cancel()
            raise PublishError(describe_error(exc)) from exc

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(Exception):
            self.producer.close(timeout=2)
