"""The Apache Kafka broker lane: a fixture that starts it, or says why it cannot.

Where Java or the jars are missing (a contributor's machine without Java) the
cases that need the broker are skipped with the reason. CI sets
``ANNOTEL_REQUIRE_APACHE=1``: there a missing broker fails the case instead,
so the lane cannot disappear silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from embedded.apache_kafka import ApacheKafkaBroker, unavailable_reason

REQUIRE_APACHE = "ANNOTEL_REQUIRE_APACHE"


def apache_required() -> bool:
    return os.environ.get(REQUIRE_APACHE) == "1"


def skip_or_fail(reason: str) -> None:
    """Skip (the reason printed in pytest's summary), or fail under ANNOTEL_REQUIRE_APACHE=1."""
    if apache_required():
        pytest.fail(f"{REQUIRE_APACHE}=1 but {reason}", pytrace=False)
    print(f"apache kafka lane skipped: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def apache_kafka() -> Iterator[str]:
    """A real Apache Kafka broker on a free loopback port, shared by the session."""
    reason = unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)
    with ApacheKafkaBroker() as broker:
        yield broker.bootstrap


@pytest.fixture
def fresh_apache_kafka() -> Iterator[str]:
    """An Apache Kafka broker of its own, for tests that use the fixed topic names."""
    reason = unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)
    with ApacheKafkaBroker() as broker:
        yield broker.bootstrap
