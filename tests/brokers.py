"""The two broker lanes: Tansu (embedded) and Apache Kafka, as fixtures.

Every Kafka-facing test takes ``kafka_broker`` (or ``broker_kind`` where it
starts its own broker, as the demo does) and so runs once per broker:
``test_x[tansu]`` and ``test_x[apache]``. Our users run Apache Kafka; Tansu is
what the laptop stack ships, and its known differences shaped the code, so
both are held to the same assertions.

Where Java or the jars are missing (a contributor's machine without Java) the
``apache`` cases are skipped with the reason. CI sets
``ANNOTEL_REQUIRE_APACHE=1``: there a missing broker fails the case instead,
so the lane cannot disappear silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from embedded.apache_kafka import ApacheKafkaBroker, unavailable_reason
from embedded.broker import embedded_broker
from streams.kafka_config import EMBEDDED_CLUSTER_ID

REQUIRE_APACHE = "ANNOTEL_REQUIRE_APACHE"
BROKER_KINDS = ("tansu", "apache")


def apache_required() -> bool:
    return os.environ.get(REQUIRE_APACHE) == "1"


def skip_or_fail(reason: str) -> None:
    """Skip (the reason printed in pytest's summary), or fail under ANNOTEL_REQUIRE_APACHE=1."""
    if apache_required():
        pytest.fail(f"{REQUIRE_APACHE}=1 but {reason}", pytrace=False)
    print(f"apache kafka lane skipped: {reason}")
    pytest.skip(reason)


def require_apache() -> None:
    """Skip or fail the calling test where Apache Kafka cannot run here."""
    reason = unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)


@pytest.fixture(params=BROKER_KINDS)
def broker_kind(request: pytest.FixtureRequest) -> str:
    """``tansu`` or ``apache``: the lane of this case (apache: skipped or failed if unavailable)."""
    kind: str = request.param
    if kind == "apache":
        require_apache()
    return kind


@pytest.fixture
def kafka_broker(broker_kind: str) -> Iterator[str]:
    """A broker of this case's kind, of its own (tests use the fixed topic names)."""
    if broker_kind == "apache":
        with ApacheKafkaBroker() as broker:
            yield broker.bootstrap
    else:
        with embedded_broker(cluster_id=EMBEDDED_CLUSTER_ID) as bootstrap:
            yield bootstrap


@pytest.fixture(scope="session")
def apache_kafka() -> Iterator[str]:
    """A real Apache Kafka broker on a free loopback port, shared by the session."""
    require_apache()
    with ApacheKafkaBroker() as broker:
        yield broker.bootstrap


@pytest.fixture
def fresh_apache_kafka() -> Iterator[str]:
    """An Apache Kafka broker of its own, for tests that use the fixed topic names."""
    require_apache()
    with ApacheKafkaBroker() as broker:
        yield broker.bootstrap
