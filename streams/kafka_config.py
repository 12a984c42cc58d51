"""Kafka client configuration derived from settings, for kafka-python, aiokafka and Faust.

Security options pass through unchanged; the workarounds measured for the
embedded broker (see docs/architecture.md) apply only when the broker is the
embedded one, never against a real Kafka cluster.

kafka-python is imported inside the functions that use it: it takes about
0.2 s to import, and commands that only need a name from here (``annotel
broker``: the embedded cluster id) or only the settings should not pay for it.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from typing import Any

from streams.settings import Settings

log = logging.getLogger(__name__)

# The cluster id the embedded broker is started with (``embedded.broker`` takes it
# from whoever starts it): a cluster with this id gets the embedded broker's
# client settings when the flavor is 'auto'.
EMBEDDED_CLUSTER_ID = "annotel-embedded"


def kafka_python_security(settings: Settings) -> dict[str, Any]:
    config: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_sasl_mechanism:
        config["sasl_mechanism"] = settings.kafka_sasl_mechanism
        config["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            config["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    if settings.kafka_ssl_cafile:
        config["ssl_cafile"] = str(settings.kafka_ssl_cafile)
    if settings.kafka_ssl_certfile:
        config["ssl_certfile"] = str(settings.kafka_ssl_certfile)
    if settings.kafka_ssl_keyfile:
        config["ssl_keyfile"] = str(settings.kafka_ssl_keyfile)
    return config


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of the SSL and SASL_SSL protocols (aiokafka and Faust take one)."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    context = ssl.create_default_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    )
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(
            str(settings.kafka_ssl_certfile),
            str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
        )
    return context


def sasl_password(settings: Settings) -> str:
    """The SASL password in clear, for the client that sends it ("" when unset)."""
    password = settings.kafka_sasl_password
    return password.get_secret_value() if password else ""


def aiokafka_security(settings: Settings) -> dict[str, Any]:
    """kafka-python's options, with TLS files replaced by the SSL context aiokafka takes."""
    config = {k: v for k, v in kafka_python_security(settings).items() if not k.startswith("ssl_")}
    context = ssl_context(settings)
    if context is not None:
        config["ssl_context"] = context
    return config


def resolve_flavor(settings: Settings) -> str:
    """'tansu' or 'kafka'; 'auto' asks the cluster for its id (one metadata call)."""
    if settings.kafka_flavor != "auto":
        return settings.kafka_flavor
    from kafka import KafkaAdminClient  # start-up time: see the module's docstring

    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        request_timeout_ms=10_000,
        **kafka_python_security(settings),
    )
    try:
        cluster_id = str(admin.describe_cluster().get("cluster_id") or "")
    finally:
        admin.close()
    flavor = "tansu" if cluster_id == EMBEDDED_CLUSTER_ID or "tansu" in cluster_id else "kafka"
    log.debug("kafka flavor detected", extra={"flavor": flavor})
    return flavor


# The worker's own logs: recovery follows pointers to old snapshots, so time
# retention must never delete them (snapshots bound what is read, not what is kept).
KEEP_FOREVER = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}


def ensure_topics(
    settings: Settings,
    topics: list[str],
    partitions: int | None = None,
    configs: dict[str, str] | None = None,
) -> None:
    """Create missing topics; existing ones are left as they are."""
    from kafka import KafkaAdminClient  # start-up time: see the module's docstring
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        request_timeout_ms=30_000,
        **kafka_python_security(settings),
    )
    try:
        existing = set(admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            count = partitions or settings.kafka_partitions
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(
                    [NewTopic(t, count, 1, topic_configs=dict(configs or {})) for t in missing]
                )
    finally:
        admin.close()


def producer(settings: Settings, **overrides: Any) -> Any:
    """A kafka-python producer; acks=all so 'published' means stored."""
    from kafka import KafkaProducer  # start-up time: see the module's docstring

    config: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "acks": "all",
        "linger_ms": 5,
        "retries": 5,
        "max_request_size": 4 * 1024 * 1024,
        **kafka_python_security(settings),
    }
    config.update(overrides)
    return KafkaProducer(**config)
