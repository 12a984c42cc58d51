"""The embedded broker carries the cluster id its starter gives; the worker knows it by it."""

from __future__ import annotations

import pytest

from embedded.broker import embedded_broker
from streams.kafka_config import EMBEDDED_CLUSTER_ID, resolve_flavor
from streams.settings import Settings

pytestmark = pytest.mark.integration


def _flavor(bootstrap: str) -> str:
    settings = Settings(_env_file=None, kafka_bootstrap_servers=bootstrap, kafka_flavor="auto")
    return resolve_flavor(settings)


def test_the_broker_the_tests_share_is_detected_as_the_embedded_one(broker: str) -> None:
    assert _flavor(broker) == "tansu"


def test_a_cluster_of_another_id_gets_the_kafka_settings() -> None:
    with embedded_broker(cluster_id="some-kafka-cluster") as bootstrap:
        assert _flavor(bootstrap) == "kafka"


def test_a_broker_started_with_the_worker_s_id_is_detected_as_the_embedded_one() -> None:
    with embedded_broker(cluster_id=EMBEDDED_CLUSTER_ID) as bootstrap:
        assert _flavor(bootstrap) == "tansu"
