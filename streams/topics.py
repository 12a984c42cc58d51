"""The topics a deployment needs, with their partition counts and configs, and the checks at start.

One plan for the worker (``streams.worker.prepare``, which creates what is
missing) and the compose ``init`` service (``deploy/init/create_topics.py``,
which creates everything before any worker starts), so the two cannot drift.

The contract the worker's exactness rests on (docs/architecture.md):

- both input topics have the same partition count: a project's events share
  a partition number, and the range assignor gives partition *p* of both
  topics to one worker;
- the checkpoint log (``topic_state``) has one partition per input partition:
  partition *p*'s checkpoints go to partition *p*;
- the windows and alert-state topics have one partition: alert evaluation is
  global, one evaluator reading one ordered log;
- the worker's own logs (state, alert-state, windows) are never compacted:
  their records carry no key (Kafka refuses keyless records on a compacted
  topic); the state and alert-state topics keep every record
  (``retention.ms=-1``: recovery follows pointers to old snapshots).

Existing topics are never changed; one that breaks the contract stops the
worker at start with a message that says what to fix (``TopicContractError``).
Brokers that do not report topic configs (Tansu) are checked for partition
counts only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.kafka_config import KEEP_FOREVER, kafka_python_security
from streams.settings import Settings

log = logging.getLogger(__name__)

# Keyless records (the windows topic's): never compacted, whatever the broker's default.
NEVER_COMPACTED = {"cleanup.policy": "delete"}


class TopicContractError(RuntimeError):
    """An existing topic disagrees with the contract; the message says what to fix."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)


def topic_plan(settings: Settings, input_partitions: int | None = None) -> list[TopicSpec]:
    """The topics a deployment needs; the checkpoint log comes last.

    The configured count for the input, dead-letter and alerts topics; one
    partition for the windows and alert-state topics; the input topics' count
    (``input_partitions`` once they exist) for the checkpoint log.
    """
    count = settings.kafka_partitions
    plan = [
        TopicSpec(name, count)
        for name in (*settings.input_topics, settings.topic_dlq, settings.topic_alerts)
    ]
    plan.append(TopicSpec(settings.topic_windows, 1, dict(NEVER_COMPACTED)))
    plan.append(TopicSpec(settings.topic_alert_state, 1, dict(KEEP_FOREVER)))
    plan.append(TopicSpec(settings.topic_state, input_partitions or count, dict(KEEP_FOREVER)))
    return plan


def partition_problems(settings: Settings, counts: Mapping[str, int]) -> list[str]:
    """What the existing topics' partition counts break of the contract (empty: nothing)."""
    problems = []
    completed, audited = settings.input_topics
    inputs = counts.get(completed)
    if inputs is not None and counts.get(audited, inputs) != inputs:
        problems.append(
            f"{completed} has {inputs} partitions and {audited} has {counts[audited]}: both "
            "input topics must have the same count (a project's events share a partition "
            "number); recreate one of them with the other's count"
        )
    state = counts.get(settings.topic_state)
    if inputs is not None and state is not None and state != inputs:
        problems.append(
            f"{settings.topic_state} has {state} partitions but the input topics have "
            f"{inputs}: the checkpoint log needs one partition per input partition (a new "
            "deployment with new topics, reprocessing the input, is the way to change the count)"
        )
    for name in (settings.topic_windows, settings.topic_alert_state):
        if counts.get(name, 1) != 1:
            problems.append(
                f"{name} has {counts[name]} partitions: it must have exactly 1 "
                "(alert evaluation is global, one ordered log)"
            )
    return problems


def config_problems(
    settings: Settings, configs: Mapping[str, Mapping[str, str]]
) -> tuple[list[str], list[str]]:
    """(errors, warnings) about the worker's own logs' configs, as the broker reports them.

    Compaction is an error: the broker refuses their keyless records, so the
    first checkpoint would fail. A finite retention on the state or alert-state
    topic is a warning: nothing fails until a snapshot older than it is needed.
    """
    errors, warnings = [], []
    for name in (settings.topic_state, settings.topic_alert_state, settings.topic_windows):
        policy = configs.get(name, {}).get("cleanup.policy")
        if policy is not None and "compact" in policy:
            errors.append(
                f"{name} has cleanup.policy={policy}: its records carry no key, which a "
                f"compacted topic refuses; set cleanup.policy=delete"
            )
    for name in (settings.topic_state, settings.topic_alert_state):
        retention = configs.get(name, {}).get("retention.ms")
        if retention is not None and retention != "-1":
            warnings.append(
                f"{name} has retention.ms={retention}: recovery may need records older than "
                "that (docs/deploy.md, Topics and their retention); set retention.ms=-1"
            )
    return errors, warnings


def describe_partitions(admin: Any, topics: Sequence[str]) -> dict[str, int]:
    """Partition counts of the topics that exist (kafka-python's admin client)."""
    counts = {}
    for described in admin.describe_topics(list(topics)):
        name = described.get("topic") or described.get("name")
        if described.get("error_code", 0) == 0 and described.get("partitions"):
            counts[str(name)] = len(described["partitions"])
    return counts


def describe_configs(admin: Any, topics: Sequence[str]) -> dict[str, dict[str, str]]:
    """The topics' configs the broker reports ({} for a broker that reports none, as Tansu)."""
    answer = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
    found: dict[str, dict[str, str]] = {}
    for name, entries in answer.get("topic", {}).items():
        found[str(name)] = {
            key: str(entry["value"])
            for key, entry in entries.items()
            if isinstance(entry, Mapping) and entry.get("value") is not None
        }
    return found


def create_missing(admin: Any, specs: Sequence[TopicSpec]) -> list[str]:
    """Create the topics of ``specs`` that do not exist; their names. Existing ones stay."""
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
            pass  # another worker (or init) got there first
    return created


def prepare_topics(settings: Settings) -> tuple[int, list[str]]:
    """Create what is missing, then check every topic against the contract.

    Returns the input topics' partition count and the topics created; raises
    ``TopicContractError`` naming every problem found. Warnings are logged.
    """
    admin = KafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        request_timeout_ms=30_000,
        **kafka_python_security(settings),
    )
    try:
        plan = topic_plan(settings)
        created = create_missing(admin, plan[:-1])
        completed = settings.input_topics[0]
        inputs = describe_partitions(admin, [completed]).get(completed, settings.kafka_partitions)
        created += create_missing(admin, topic_plan(settings, inputs)[-1:])
        names = [spec.name for spec in plan]
        problems = partition_problems(settings, describe_partitions(admin, names))
        own_logs = [settings.topic_state, settings.topic_alert_state, settings.topic_windows]
        errors, warnings = config_problems(settings, describe_configs(admin, own_logs))
    finally:
        admin.close()
    for warning in warnings:
        log.warning("topic config: %s", warning)
    if problems or errors:
        raise TopicContractError("\n".join(problems + errors))
    return inputs, created
