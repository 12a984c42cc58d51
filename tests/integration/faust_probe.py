"""A minimal Faust app for the Apache Kafka compatibility test (run as a worker process).

It uses what the worker's own Faust app uses (an agent, the producer, a
table with its changelog) and nothing of ours, so that what it shows is
about Faust and the broker. Configured by environment variables.
"""

from __future__ import annotations

import os
from typing import Any

import faust

app = faust.App(
    os.environ["PROBE_APP_ID"],
    broker=f"kafka://{os.environ['PROBE_BOOTSTRAP']}",
    value_serializer="raw",
    key_serializer="raw",
    topic_partitions=3,
    store="memory://",
    consumer_auto_offset_reset="earliest",
    processing_guarantee=os.environ["PROBE_GUARANTEE"],
    topic_disable_leader=True,
)
source = app.topic(os.environ["PROBE_SOURCE"], partitions=3)
sink = app.topic(os.environ["PROBE_SINK"], partitions=3)
counts = app.Table("probe-counts", default=int, partitions=3)


@app.agent(source, name="probe-agent")
async def relay(stream: Any) -> None:
    async for event in stream.events():
        counts[event.key] += 1
        await sink.send(key=event.key, value=event.value.upper())
