"""Create the Kafka topics of a deployment with the intended partitions and configs.

The compose ``init`` service runs this once before ``annotel migrate`` and
before any worker starts. Topic names, the partition count and the security
options come from the same ``ANNOTEL_*`` settings the worker reads.

Why a script and not the worker's own topic creation (``streams.worker.prepare``
creates missing topics too, with broker defaults): two internal topics must
not lose records to age, and broker defaults would delete them after
``log.retention.hours`` (7 days on Apache Kafka):

- the checkpoint log (``ANNOTEL_TOPIC_STATE``) is replayed from its beginning
  when a worker takes over a partition: every record is a delta recovery needs;
- the alert-state topic (``ANNOTEL_TOPIC_ALERT_STATE``): recovery restores its
  latest snapshot, and an idle deployment must not have that snapshot expire.

Both are created with ``retention.ms=-1`` (kept forever) and
``cleanup.policy=delete``: not ``compact``, because their records carry no key.
They grow without bound; docs/deploy.md says what that costs.

Existing topics are never changed; a mismatch the worker cannot live with
(input topics, or the state topic, with different partition counts) stops
the script with exit status 1 and a message saying what to fix.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

# Kept forever, never compacted: see the module docstring.
KEEP_FOREVER = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)


def topic_plan(settings: Any, input_partitions: int | None = None) -> list[TopicSpec]:
    """The topics a deployment needs; the checkpoint log comes last.

    Partition counts are those ``streams.worker.prepare`` uses: the configured
    count for the input, dead-letter and alerts topics; one partition for the
    windows and alert-state topics (alert evaluation is global); the input
    topics' count for the checkpoint log.
    """
    count = settings.kafka_partitions
    plan = [
        TopicSpec(name, count)
        for name in (*settings.input_topics, settings.topic_dlq, settings.topic_alerts)
    ]
    plan.append(TopicSpec(settings.topic_windows, 1))
    plan.append(TopicSpec(settings.topic_alert_state, 1, dict(KEEP_FOREVER)))
    plan.append(TopicSpec(settings.topic_state, input_partitions or count, dict(KEEP_FOREVER)))
    return plan


def _partitions(admin: Any, topic: str) -> int:
    described = admin.describe_topics([topic])
    return len(described[0]["partitions"])


def _create(admin: Any, specs: list[TopicSpec]) -> list[str]:
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    existing = set(admin.list_topics())
    created = []
    for spec in specs:
        if spec.name in existing:
            continue
        try:
            # replication_factor=-1: the broker's default.replication.factor.
            admin.create_topics(
                [NewTopic(spec.name, spec.partitions, -1, topic_configs=spec.configs or None)]
            )
            created.append(spec.name)
        except TopicAlreadyExistsError:
            pass  # another init got there first
    return created


def main() -> int:
    from kafka import KafkaAdminClient

    from streams.kafka_config import kafka_python_security
    from streams.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"create_topics: {exc}", file=sys.stderr)
        return 2
    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        request_timeout_ms=30_000,
        **kafka_python_security(settings),
    )
    try:
        plan = topic_plan(settings)
        created = _create(admin, plan[:-1])
        completed, audited = settings.input_topics
        counts = {topic: _partitions(admin, topic) for topic in (completed, audited)}
        if counts[completed] != counts[audited]:
            print(
                f"create_topics: {completed} has {counts[completed]} partitions and {audited} "
                f"has {counts[audited]}; both input topics must have the same count "
                "(a project's events must share a partition number)",
                file=sys.stderr,
            )
            return 1
        state = topic_plan(settings, counts[completed])[-1]
        created += _create(admin, [state])
        state_count = _partitions(admin, state.name)
        if state_count != counts[completed]:
            print(
                f"create_topics: {state.name} has {state_count} partitions but the input "
                f"topics have {counts[completed]}; the checkpoint log needs one partition "
                "per input partition",
                file=sys.stderr,
            )
            return 1
    finally:
        admin.close()
    summary = ", ".join(created) if created else "none (all existed)"
    print(f"topics created: {summary}; input partitions: {counts[completed]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
