"""What works against a real Apache Kafka 4.x broker, client by client, and our own path.

Kafka 4.0 removed old protocol versions (KIP-896); these tests hold what the
clients we ship (kafka-python, aiokafka, faust-streaming) do against it the
way we use them, and that ``annotel ingest`` + ``annotel worker
--until-drained`` drain on it with the flavour detected as ``kafka``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import psutil
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from kafka import KafkaAdminClient, KafkaConsumer
from kafka import TopicPartition as KafkaTopicPartition
from kafka.admin import ConfigResource, ConfigResourceType

from embedded.apache_kafka import KAFKA_VERSION, ApacheKafkaBroker, unavailable_reason
from streams.kafka_config import KEEP_FOREVER, ensure_topics, producer, resolve_flavor
from streams.settings import load_settings
from tests.brokers import skip_or_fail
from tests.e2e.worker_helpers import drained_totals

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FAUST_PROBE = [sys.executable, "-m", "faust", "-A", "tests.integration.faust_probe"]


def _name(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:8]}"


def test_the_broker_is_the_pinned_apache_kafka(apache_kafka: str) -> None:
    settings = load_settings(kafka_bootstrap_servers=apache_kafka, kafka_flavor="auto")
    assert resolve_flavor(settings) == "kafka"
    admin = KafkaAdminClient(bootstrap_servers=apache_kafka)
    try:
        # ApiVersions: kafka-python sees a 4.x broker (what it would refuse to talk to
        # after KIP-896 would have failed here already).
        version = admin._manager.broker_version_data.broker_version
        assert version[0] == int(KAFKA_VERSION.split(".")[0])
    finally:
        admin.close()


def test_kafka_python_admin_creates_topics_with_configs_the_broker_applies(
    apache_kafka: str,
) -> None:
    settings = load_settings(kafka_bootstrap_servers=apache_kafka)
    keep, compact, plain = _name("keep"), _name("compact"), _name("plain")
    ensure_topics(settings, [keep], 3, KEEP_FOREVER)
    ensure_topics(settings, [compact], 1, {"cleanup.policy": "compact"})
    ensure_topics(settings, [plain], 2)
    ensure_topics(settings, [keep], 5, {"cleanup.policy": "compact"})  # exists: left as it is

    admin = KafkaAdminClient(bootstrap_servers=apache_kafka)
    try:
        assert {keep, compact, plain} <= set(admin.list_topics())
        described = {t["name"]: t for t in admin.describe_topics([keep, compact, plain])}
        assert {name: len(t["partitions"]) for name, t in described.items()} == {
            keep: 3,
            compact: 1,
            plain: 2,
        }
        configs = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t) for t in (keep, compact, plain)]
        )["topic"]
    finally:
        admin.close()
    for key, value in KEEP_FOREVER.items():
        assert configs[keep][key]["value"] == value
        assert configs[keep][key]["config_source"] == "DYNAMIC_TOPIC_CONFIG"
    assert configs[compact]["cleanup.policy"]["value"] == "compact"
    # Only what we set is reported as the topic's own; the rest are broker defaults.
    assert "retention.ms" not in configs[plain]


def test_time_retention_is_enforced_and_keep_forever_topics_are_spared(apache_kafka: str) -> None:
    """Tansu stores retention settings without enforcing them; Apache Kafka enforces them.

    Records stamped 30 days ago stand for a state log a month old: the broker's
    default retention (7 days) deletes them, KEEP_FOREVER (our state and
    alert-state topics) keeps every one.
    """
    settings = load_settings(kafka_bootstrap_servers=apache_kafka)
    kept, default = _name("kept"), _name("default")
    ensure_topics(settings, [kept], 1, KEEP_FOREVER)
    ensure_topics(settings, [default], 1)
    sent = producer(settings)
    month_ago = int((time.time() - 30 * 86400) * 1000)
    try:
        for topic in (kept, default):
            for i in range(20):
                sent.send(topic, value=b"%d" % i, timestamp_ms=month_ago)
        sent.flush()
    finally:
        sent.close()

    tps = [KafkaTopicPartition(kept, 0), KafkaTopicPartition(default, 0)]
    consumer = KafkaConsumer(bootstrap_servers=apache_kafka)
    try:
        assert consumer.end_offsets(tps) == dict.fromkeys(tps, 20)
        deadline = time.monotonic() + 60
        while consumer.beginning_offsets(tps)[tps[1]] == 0:
            assert time.monotonic() < deadline, "the default retention never deleted anything"
            time.sleep(0.5)
        time.sleep(2)  # two more retention passes
        starts = consumer.beginning_offsets(tps)
    finally:
        consumer.close()
    assert starts == {tps[0]: 0, tps[1]: 20}


def test_kafka_python_producer_is_idempotent_with_acks_all_and_a_group_reads_it_once(
    apache_kafka: str,
) -> None:
    settings = load_settings(kafka_bootstrap_servers=apache_kafka)
    topic = _name("kp")
    ensure_topics(settings, [topic], 3)
    sent = producer(settings)
    try:
        # Our producer (streams.kafka_config.producer): kafka-python turns idempotence on
        # by default and keeps it with acks=all; the broker grants a producer id.
        assert sent.config["enable_idempotence"] is True
        assert sent.config["acks"] == -1
        futures = [sent.send(topic, key=b"k%d" % (i % 7), value=b"v%d" % i) for i in range(3000)]
        sent.flush()
        metadata = [f.get(timeout=30) for f in futures]
        assert sent._transaction_manager.producer_id_and_epoch.producer_id >= 0
    finally:
        sent.close()
    assert len({(m.partition, m.offset) for m in metadata}) == 3000

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=apache_kafka,
        group_id=_name("kp-group"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=10_000,
    )
    try:
        values = []
        for record in consumer:
            values.append(record.value)
            if len(values) == 3000:
                break
        consumer.commit()
        tps = [KafkaTopicPartition(topic, p) for p in range(3)]
        committed = {tp.partition: consumer.committed(tp) for tp in tps}
        ends = {tp.partition: offset for tp, offset in consumer.end_offsets(tps).items()}
    finally:
        consumer.close()
    assert Counter(values) == Counter(b"v%d" % i for i in range(3000))
    assert committed == ends


async def test_aiokafka_range_group_getmany_commit_seek_idempotence_and_transactions(
    apache_kafka: str,
) -> None:
    settings = load_settings(kafka_bootstrap_servers=apache_kafka)
    first, second = _name("ak-a"), _name("ak-b")
    ensure_topics(settings, [first, second], 2)

    idempotent = AIOKafkaProducer(
        bootstrap_servers=apache_kafka, acks="all", enable_idempotence=True
    )
    await idempotent.start()
    try:
        sends = [
            await idempotent.send(topic, key=b"p%d" % (i % 4), value=b"%d" % i)
            for topic in (first, second)
            for i in range(500)
        ]
        await asyncio.gather(*sends)
    finally:
        await idempotent.stop()

    # Transactions (which Tansu lacks): an aborted write stays invisible to a
    # read_committed reader, a committed one is seen once.
    transactional = AIOKafkaProducer(bootstrap_servers=apache_kafka, transactional_id=_name("tx"))
    await transactional.start()
    try:
        async with transactional.transaction():
            await transactional.send_and_wait(first, key=b"p0", value=b"committed")
        await transactional.begin_transaction()
        await transactional.send_and_wait(first, key=b"p0", value=b"aborted")
        await transactional.abort_transaction()
    finally:
        await transactional.stop()

    consumer = AIOKafkaConsumer(
        bootstrap_servers=apache_kafka,
        group_id=_name("ak-group"),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        partition_assignment_strategy=(RangePartitionAssignor,),
        fetch_max_wait_ms=100,
    )
    await consumer.start()
    try:
        consumer.subscribe([first, second])
        values: dict[str, list[bytes]] = {first: [], second: []}
        deadline = time.monotonic() + 30
        while sum(map(len, values.values())) < 1001:
            assert time.monotonic() < deadline, {t: len(v) for t, v in values.items()}
            batches = await consumer.getmany(timeout_ms=500, max_records=300)
            for tp, records in batches.items():
                values[tp.topic].extend(r.value for r in records)
        # The range assignor gives the single member partition p of both topics.
        assert {(tp.topic, tp.partition) for tp in consumer.assignment()} == {
            (t, p) for t in (first, second) for p in range(2)
        }
        assert values[first].count(b"committed") == 1
        assert b"aborted" not in values[first]
        assert Counter(values[second]) == Counter(b"%d" % i for i in range(500))

        await consumer.commit()
        tp = TopicPartition(first, 0)
        position = await consumer.position(tp)
        assert await consumer.committed(tp) == position > 0
        consumer.seek(tp, 3)
        again = await consumer.getmany(tp, timeout_ms=5000, max_records=2)
        assert [r.offset for r in again[tp]] == [3, 4]
    finally:
        await consumer.stop()


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_faust_app_consumes_with_an_agent_keeps_a_table_and_produces(
    apache_kafka: str, tmp_path: Path, guarantee: str
) -> None:
    settings = load_settings(kafka_bootstrap_servers=apache_kafka)
    source, sink = _name("faust-in"), _name("faust-out")
    ensure_topics(settings, [source, sink], 3)
    sent = producer(settings)
    try:
        for i in range(300):
            sent.send(source, key=b"k%d" % (i % 4), value=b"v%d" % i)
        sent.flush()
    finally:
        sent.close()

    app_id = _name("probe")
    env = {
        **os.environ,
        "PROBE_BOOTSTRAP": apache_kafka,
        "PROBE_APP_ID": app_id,
        "PROBE_GUARANTEE": guarantee,
        "PROBE_SOURCE": source,
        "PROBE_SINK": sink,
    }
    log = tmp_path / "faust.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [*FAUST_PROBE, "worker", "--without-web", "--loglevel", "info"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        relayed = _read_committed(apache_kafka, sink, 300, timeout=90, worker=worker, log=log)
        changelog = f"{app_id}-probe-counts-changelog"
        counts = _latest_by_key(apache_kafka, changelog)
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(60)
    text = log.read_text(errors="replace")
    assert code == 0, text[-3000:]
    assert Counter(r.value for r in relayed) == Counter(b"V%d" % i for i in range(300))
    # The table's changelog holds each key's final count (raw keys, JSON values).
    assert {k: json.loads(v) for k, v in counts.items()} == {b"k%d" % i: 75 for i in range(4)}
    assert "Traceback" not in text and "[ERROR]" not in text, text[-3000:]
    if guarantee == "exactly_once":
        assert "transactional producers" in text


def _read_committed(
    bootstrap: str,
    topic: str,
    count: int,
    *,
    timeout: float,
    worker: subprocess.Popen[bytes],
    log: Path,
) -> list[object]:
    """Records of a topic as a read_committed reader sees them, once ``count`` arrived."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([KafkaTopicPartition(topic, p) for p in partitions])
        records: list[object] = []
        deadline = time.monotonic() + timeout
        while len(records) < count:
            assert worker.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, f"{len(records)} of {count} records"
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        # Nothing more than expected arrives after a further commit interval.
        time.sleep(3)
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
        return records
    finally:
        consumer.close()


def _latest_by_key(bootstrap: str, topic: str) -> dict[bytes, bytes]:
    from tests.kafka_helpers import consume_all

    latest: dict[bytes, bytes] = {}
    for record in consume_all(bootstrap, topic):
        latest[record.key] = record.value
    return latest


def test_ingest_and_a_bounded_worker_drain_on_apache_kafka(
    fresh_apache_kafka: str, tmp_path: Path
) -> None:
    """Our own path, flavour detected: exit 0, every event accounted for, no error logged."""
    env = {
        **os.environ,
        "ANNOTEL_KAFKA_BOOTSTRAP_SERVERS": fresh_apache_kafka,
        "ANNOTEL_KAFKA_FLAVOR": "auto",
        "ANNOTEL_DATA_DIR": str(tmp_path / "data"),
        "ANNOTEL_LOG_LEVEL": "INFO",
    }
    sample = ROOT / "examples" / "sample-events.jsonl"
    ingest = subprocess.run(
        [sys.executable, "-m", "annotel", "ingest", str(sample), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    published = json.loads(ingest.stdout)["published"]

    worker = subprocess.run(
        [sys.executable, "-m", "annotel", "worker", "--until-drained", "--web-port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    log = worker.stderr
    assert worker.returncode == 0, log[-4000:]
    totals = drained_totals(log)
    assert totals["events_in"] == published
    dead = sum(v for k, v in totals.items() if k.startswith("dead_"))
    assert totals["accepted"] + totals["duplicates"] + dead == published
    assert totals["accepted"] > 0
    assert '"flavor":"kafka"' in log
    # Before topic_disable_leader, Faust's leader topic (auto-created on Tansu,
    # absent here) made every start log an error.
    errors = [line for line in log.splitlines() if '"level":"error"' in line]
    assert errors == []


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def test_no_broker_outlives_the_process_that_started_it() -> None:
    """A test run killed outright (SIGKILL: no finally runs) leaves no JVM behind."""
    reason = unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)
    script = (
        "import time\n"
        "from embedded.apache_kafka import ApacheKafkaBroker\n"
        "broker = ApacheKafkaBroker()\n"
        "broker.start()\n"
        "print(broker.process.pid, broker.workdir, flush=True)\n"
        "time.sleep(600)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert holder.stdout is not None
        pid_text, workdir = holder.stdout.readline().split()
        jvm = int(pid_text)
        assert "kafka.Kafka" in psutil.Process(jvm).cmdline()
        holder.kill()
        holder.wait(30)
        assert _gone(jvm, 20), "the broker JVM outlived its parent"
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(30)
    # The temporary log directory is what a killed run leaves; remove it here.
    shutil.rmtree(workdir, ignore_errors=True)


def test_a_broker_deaf_to_sigterm_is_killed_after_the_timeout() -> None:
    reason = unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)
    broker = ApacheKafkaBroker()
    broker.start()
    assert broker.process is not None and broker.workdir is not None
    jvm, workdir = broker.process.pid, broker.workdir
    os.kill(jvm, signal.SIGSTOP)  # a stopped JVM cannot act on SIGTERM
    began = time.monotonic()
    broker.stop(timeout=2)
    assert time.monotonic() - began < 10
    assert _gone(jvm, 5)
    assert not workdir.exists()
