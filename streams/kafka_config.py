"""Kafka client configuration derived from settings, for kafka-python, aiokafka and Faust.

Security options pass through unchanged. Every client setting that departs
from the client's own default, and every one that depends on the broker's
flavour, is in the section *Client settings by flavour* below with the reason
it was measured for: ``streams.faust_app`` and ``streams.intake`` only apply
what it returns. The embedded broker's workarounds apply only to it, never
against a real Kafka cluster (docs/architecture.md, *The two brokers*).

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


# -- Client settings by flavour: the one place --------------------------------------
#
# Both consumer groups of a worker (the intake's, ``<app>.input``, and the Faust
# app's) join with these, on both flavours:
#
# - Session timeout 10 s: how long a member that stopped heartbeating (a
#   SIGKILLed worker) keeps its partitions; its replacement's join waits for it to
#   be evicted. Faust's default is 60 s: on Apache Kafka every restart after a
#   SIGKILL waited that long (the crash test took 374 s there against 200 s on
#   Tansu, where these timings were already applied; with them on both, its
#   SIGKILL case took 141 s on Apache Kafka and 134 s on Tansu). aiokafka's own default,
#   which the intake had, is 10 s. The floor is the broker's
#   ``group.min.session.timeout.ms`` (6 s by default). A worker is evicted only if
#   no heartbeat is sent for 10 s: the processor yields to the loop every 1 000
#   messages and prepares checkpoints on a thread, and Faust's consumer
#   heartbeats from a thread of its own.
# - Rebalance timeout 10 s: how long the coordinator waits for live members to
#   rejoin (aiokafka's default: the session timeout). A member that is still
#   writing its last checkpoint after that rejoins as a new member.
# - Heartbeat every second: members hear of a rebalance at their next
#   heartbeat, so a joining or leaving worker settles up to 2 s sooner than with
#   the clients' 3 s, for one small request a second per group. Tansu holds a
#   JoinGroup for about half the session timeout; with Faust's defaults a restart
#   on it took up to 110 s, with these about 20 s.
SESSION_TIMEOUT_S = 10.0
REBALANCE_TIMEOUT_S = 10.0
HEARTBEAT_INTERVAL_S = 1.0


def intake_consumer_options() -> dict[str, Any]:
    """The input consumer's group timings (aiokafka): the same on both flavours."""
    return {
        "session_timeout_ms": int(SESSION_TIMEOUT_S * 1000),
        "rebalance_timeout_ms": int(REBALANCE_TIMEOUT_S * 1000),
        "heartbeat_interval_ms": int(HEARTBEAT_INTERVAL_S * 1000),
    }


def faust_options(flavor: str) -> dict[str, Any]:
    """The Faust app's settings that depend on the broker or depart from Faust's defaults.

    Tansu only: one record per produced batch (``producer_max_batch_size=1``).
    Tansu's ListOffsets answers the base offset of the newest batch + 1 as the
    end offset, too low when that batch held several records; with one record
    per batch every end offset of the topics the worker writes (state,
    alert-state, windows, dead letters, alerts) is exact, for recovery's reader,
    lag tools and the tests' readers. Against Apache Kafka Faust's own batching
    applies.
    """
    options: dict[str, Any] = {
        "broker_session_timeout": SESSION_TIMEOUT_S,
        "broker_rebalance_timeout": REBALANCE_TIMEOUT_S,
        "broker_heartbeat_interval": HEARTBEAT_INTERVAL_S,
    }
    if flavor == "tansu":
        options["producer_max_batch_size"] = 1
    return options


def idempotent_producer(flavor: str) -> bool:
    """Whether the worker's producer (aiokafka, under Faust) is idempotent.

    Everywhere but Tansu, as Kafka's own clients are by default since 3.0: a
    retried send cannot write a record twice nor reorder a partition. Tansu
    0.6 answers aiokafka's InitProducerId with an unknown error (measured:
    the producer cannot start), so there the producer keeps Faust's settings.
    kafka-python's idempotent producer (``producer`` below) works on both.
    """
    return flavor != "tansu"


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
                # replication_factor=-1: the broker's default.replication.factor.
                admin.create_topics(
                    [NewTopic(t, count, -1, topic_configs=dict(configs or {})) for t in missing]
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
