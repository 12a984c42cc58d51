"""The demo's Label Studio shape: lossless through the connector, and the producer's partitions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from kafka.partitioner import DefaultPartitioner

from annotel.demo.gateway_feed import (
    CONNECTORS,
    LS_PROJECT_ID,
    SOURCE,
    label_studio_parts,
    partition_of,
)
from gateway.connectors import label_studio
from gateway.connectors.base import Delivery
from gateway.sources import parse_text
from schemas import DecodeError
from simulator import Simulator
from tests.unit.gateway.payloads import DECODER

NOW = datetime(2026, 12, 1, tzinfo=UTC)
# What Label Studio's shape renames or adds; everything else must arrive as it was.
RENAMED = {"event_id", "submission_id", "revision"}


class _Cluster:
    """The metadata the producer's partitioner asks about: one topic of ``count`` partitions."""

    def __init__(self, count: int) -> None:
        self.count = count

    def topics(self) -> set[str]:
        return {"t"}

    def partitions_for_topic(self, _topic: str) -> set[int]:
        return set(range(self.count))

    def available_partitions_for_topic(self, _topic: str) -> set[int]:
        return set(range(self.count))


def test_partitions_are_the_producers() -> None:
    partitioner = DefaultPartitioner()
    seen = set()
    for project in ("assistant-intents", "医疗影像标注", "autonomous-driving", "x", "y", "z"):
        for count in (1, 3, 4, 12):
            key = project.encode()
            expected = partitioner.partition("t", project, key, None, None, _Cluster(count))
            assert partition_of(project, count) == expected
            seen.add(expected)
    assert len(seen) > 3


def _decoded(raw: bytes) -> dict[str, Any]:
    event = DECODER.decode(raw, NOW)
    assert not isinstance(event, DecodeError), event
    return {k: v for k, v in event.model_dump().items() if k not in RENAMED}


def test_every_carried_completion_comes_back_the_same_through_the_connector() -> None:
    connectors, problems = parse_text(CONNECTORS)
    assert connectors is not None, problems
    mapping = connectors.sources[SOURCE].mapping
    sim = Simulator(5, datetime(2026, 11, 30, 1, 0, tzinfo=UTC), None)
    carried = refused = 0
    for line in sim.events(n=4000):
        if isinstance(DECODER.decode(line, NOW), DecodeError):
            continue
        event = orjson.loads(line)
        parts = label_studio_parts(event)
        if parts is None:
            refused += 1
            assert (
                event["event_type"] == "task_audited"
                or event.get("attempt", 1) > 1
                or (event.get("status") == "expired" or event.get("source") == "machine")
            ), event
            continue
        carried += 1
        annotation, task = parts
        body = {
            "action": "ANNOTATIONS_CREATED",
            "annotation": [annotation],
            "task": [task],
            "project": {"id": LS_PROJECT_ID, "title": event["project_id"]},
        }
        delivery = Delivery(orjson.loads(orjson.dumps(body)), {}, NOW, SOURCE)
        [item] = label_studio.events(delivery, mapping)
        assert isinstance(item, dict), item
        assert item["event_id"].startswith(f"ls:ann:{event['event_id']}:")
        assert _decoded(orjson.dumps(item)) == _decoded(line)
    assert carried > 1000 and refused > 500, (carried, refused)
