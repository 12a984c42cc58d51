"""Topic creation and the contract check at start, on both brokers.

Apache Kafka reports topic configs, so there the configs the plan asks for
are read back from the broker; Tansu stores them without reporting or
enforcing them (docs/architecture.md, *The two brokers*).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from streams.settings import load_settings
from streams.topics import TopicContractError, describe_configs, prepare_topics, topic_plan


def test_prepare_creates_the_plan_with_its_configs(kafka_broker: str, broker_kind: str) -> None:
    settings = load_settings(kafka_bootstrap_servers=kafka_broker, kafka_partitions=3)
    partitions, created = prepare_topics(settings)
    plan = topic_plan(settings)
    assert partitions == 3
    assert sorted(created) == sorted(spec.name for spec in plan)
    # A second start creates nothing and finds nothing wrong.
    assert prepare_topics(settings) == (3, [])
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker)
    try:
        counts = {
            t["name"]: len(t["partitions"])
            for t in admin.describe_topics([spec.name for spec in plan])
        }
        configs = describe_configs(admin, [spec.name for spec in plan])
    finally:
        admin.close()
    assert counts == {spec.name: spec.partitions for spec in plan}
    if broker_kind == "apache":
        for spec in plan:
            for key, value in spec.configs.items():
                assert configs[spec.name][key] == value, (spec.name, key)
        state = configs[settings.topic_state]
        assert (state["cleanup.policy"], state["retention.ms"]) == ("delete", "-1")


def test_input_topics_with_different_counts_stop_the_worker_with_what_to_fix(
    kafka_broker: str, tmp_path: Path
) -> None:
    settings = load_settings(kafka_bootstrap_servers=kafka_broker)
    completed, audited = settings.input_topics
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker)
    try:
        admin.create_topics([NewTopic(completed, 4, 1), NewTopic(audited, 2, 1)])
    finally:
        admin.close()
    with pytest.raises(TopicContractError, match=f"{completed} has 4 partitions and {audited}"):
        prepare_topics(settings)

    out = subprocess.run(
        [sys.executable, "-m", "annotel", "worker", "--until-drained", "--web-port", "0"],
        env={
            **os.environ,
            "ANNOTEL_KAFKA_BOOTSTRAP_SERVERS": kafka_broker,
            "ANNOTEL_DATA_DIR": str(tmp_path / "data"),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, out.stderr[-2000:]
    assert "topics disagree with the contract" in out.stderr
    assert f"{audited} has 2" in out.stderr
    # It stopped before any ClickHouse work.
    assert not (tmp_path / "data" / "clickhouse").exists()
