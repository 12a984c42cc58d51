from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from embedded.broker import embedded_broker
from streams.kafka_config import EMBEDDED_CLUSTER_ID
from tests.brokers import apache_kafka, fresh_apache_kafka  # noqa: F401  (fixtures)

# Property tests judge results, not speed: a busy CI machine must not fail
# them on Hypothesis's per-example time limit.
settings.register_profile("annotel", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("annotel")

# Tests never read a developer's .env or ANNOTEL_* variables by accident; these
# steer the test run itself, not the code under test.
_KEPT = {"ANNOTEL_KEEP_ARTIFACTS", "ANNOTEL_REQUIRE_APACHE", "ANNOTEL_KAFKA_HOME"}
for _name in list(os.environ):
    if _name.startswith("ANNOTEL_") and _name not in _KEPT:
        del os.environ[_name]


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """A real embedded broker on a free loopback port, shared by the session."""
    with embedded_broker(cluster_id=EMBEDDED_CLUSTER_ID) as bootstrap:
        yield bootstrap


@pytest.fixture
def fresh_broker() -> Iterator[str]:
    """A broker of its own, for tests that must not see other tests' topics."""
    with embedded_broker(cluster_id=EMBEDDED_CLUSTER_ID) as bootstrap:
        yield bootstrap
