"""The embedded stack for the benchmark: broker, topics, the seeded stream, worker processes.

Everything here runs in the benchmark process, which stays idle while a
measured process works (the machine has 2 cores shared by the broker and the
process under test).

The simulator, the Kafka clients and psutil are imported where they are used:
``bench.memory_probe`` imports this module into the measured worker process,
which must hold no module the worker itself does not load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parent.parent
TASKS_TOPIC = "annotation.task-completed"
AUDITS_TOPIC = "annotation.task-audited"
INPUT_TOPICS = (TASKS_TOPIC, AUDITS_TOPIC)
STATE_TOPIC = "annotation-telemetry.state"
ALERTS_TOPIC = "annotation.alerts"
PARTITIONS = 4
RULES_FILE = REPO / "alerts" / "examples" / "rules.yaml"
# A fixed start in the past: the same seed gives the same bytes on every run, and the
# stream is history (bounded replay), never ahead of the processing clock.
SIM_START = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
SIM_SEED = 7


# -- the seeded stream ----------------------------------------------------------------


@dataclass
class Stream:
    """N simulator lines, routed and keyed the way ``annotel ingest`` does."""

    records: list[tuple[str, bytes | None, bytes]]  # (topic, key, value)
    manifest: dict[str, Any]
    annotators: int

    @property
    def count(self) -> int:
        return len(self.records)


def route(line: bytes) -> tuple[str, bytes | None, bytes]:
    """Topic by event_type, key = project_id; unparsable lines go to the tasks topic.

    Like ``tests.e2e.worker_helpers.publish``: invalid lines reach the stream,
    which must dead-letter them (``annotel ingest`` would divert them before).
    """
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return TASKS_TOPIC, None, line
    if not isinstance(obj, dict):
        return TASKS_TOPIC, None, line
    topic = AUDITS_TOPIC if obj.get("event_type") == "task_audited" else TASKS_TOPIC
    project = obj.get("project_id")
    key = project.encode() if isinstance(project, str) and project else None
    return topic, key, line


def build_stream(n: int, *, annotators: int = 300, seed: int = SIM_SEED) -> Stream:
    # Not at the top: the memory probe imports this module (see the module docstring).
    from simulator import Simulator

    # Versions on, as platforms send work: about 30 % of submissions carry a
    # submission_id, some are edited or deleted, audits re-audited (simulator.versions).
    sim = Simulator(seed, SIM_START, annotators=annotators, versions=True)
    records = [route(line) for line in sim.events(n)]
    return Stream(records, sim.manifest, annotators)


# -- broker and topics ----------------------------------------------------------------


# Which broker every part of this run starts: "tansu" (embedded, the default)
# or "apache" (Apache Kafka, embedded.apache_kafka); set once by ``use_broker``.
BROKER_KINDS = ("tansu", "apache")
BROKER = {"kind": "tansu"}


def use_broker(kind: str) -> None:
    if kind not in BROKER_KINDS:
        raise ValueError(f"broker must be one of {', '.join(BROKER_KINDS)}, got {kind!r}")
    BROKER["kind"] = kind


@contextlib.contextmanager
def broker() -> Iterator[tuple[str, Any]]:
    """A fresh broker of this run's kind (nothing kept); yields (bootstrap, the psutil process)."""
    # Not at the top: the memory probe imports this module (see the module docstring).
    import psutil

    # Not at the top: the memory probe imports this module (see the module docstring).
    from embedded.apache_kafka import ApacheKafkaBroker
    from embedded.broker import EmbeddedBroker
    from streams.kafka_config import EMBEDDED_CLUSTER_ID

    instance: ApacheKafkaBroker | EmbeddedBroker = (
        ApacheKafkaBroker()
        if BROKER["kind"] == "apache"
        else EmbeddedBroker(cluster_id=EMBEDDED_CLUSTER_ID)
    )
    instance.start()
    try:
        assert instance.process is not None
        yield instance.bootstrap, psutil.Process(instance.process.pid)
    finally:
        instance.stop()


def create_topics(bootstrap: str) -> None:
    """The input, dead-letter and alert topics with the partition count ``annotel`` uses."""
    # Not at the top: the memory probe imports this module (see the module docstring).
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics(
            [
                NewTopic(name, PARTITIONS, 1)
                for name in (*INPUT_TOPICS, "annotation.dlq", ALERTS_TOPIC)
            ]
        )
    finally:
        admin.close()


def partition_numbers(bootstrap: str, topic: str) -> set[int]:
    """The topic's partition numbers (empty while it does not exist), from kafka-python."""
    # Not at the top: the memory probe imports this module (see the module docstring).
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        return set(consumer.partitions_for_topic(topic) or ())
    finally:
        consumer.close()


async def _produce(bootstrap: str, records: Sequence[tuple[str, bytes | None, bytes]]) -> None:
    # Not at the top: the memory probe imports this module (see the module docstring).
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=10,
        max_batch_size=512 * 1024,
        max_request_size=4 * 1024 * 1024,
    )
    await producer.start()
    try:
        chunk = 20_000
        for start in range(0, len(records), chunk):
            futures = [
                await producer.send(topic, value, key=key)
                for topic, key, value in records[start : start + chunk]
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


def produce(bootstrap: str, records: Sequence[tuple[str, bytes | None, bytes]]) -> float:
    """Publish every record (acks=all); returns the seconds it took."""
    started = time.perf_counter()
    asyncio.run(_produce(bootstrap, records))
    return time.perf_counter() - started


# -- measured processes ---------------------------------------------------------------


# Settings every worker of this run gets on top of the shipped defaults, for A/B
# runs of one setting (``--worker-env ANNOTEL_X=value``); empty by default.
WORKER_OVERRIDES: dict[str, str] = {}


def parse_worker_env(items: list[str]) -> dict[str, str]:
    """``ANNOTEL_NAME=value`` strings to a dict; ValueError names the bad one."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.startswith("ANNOTEL_") or name == "ANNOTEL_":
            raise ValueError(f"expected ANNOTEL_NAME=value, got {item!r}")
        out[name] = value
    return out


def add_worker_env_option(parser: argparse.ArgumentParser) -> None:
    """``--worker-env ANNOTEL_NAME=VALUE`` (repeatable), for every benchmark command."""
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="ANNOTEL_NAME=VALUE",
        help="a setting for every worker of the run, to compare one setting with the "
        "shipped default (repeatable), e.g. ANNOTEL_CHDB_PROCESS=false",
    )


def apply_worker_env(parser: argparse.ArgumentParser, items: list[str]) -> None:
    """Put the parsed ``--worker-env`` items into ``WORKER_OVERRIDES``, or exit with usage."""
    try:
        WORKER_OVERRIDES.update(parse_worker_env(items))
    except ValueError as exc:
        parser.error(f"--worker-env: {exc}")


def worker_env(bootstrap: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """The shipped defaults (and ``WORKER_OVERRIDES``), plus the broker, the data and the rules."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("ANNOTEL_") or key == "ANNOTEL_TANSU_BINARY"
    }
    env.update(
        ANNOTEL_KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        ANNOTEL_DATA_DIR=str(data_dir),
        ANNOTEL_LOG_LEVEL="WARNING",
        ANNOTEL_RULES_FILE=str(RULES_FILE),
    )
    env.update(WORKER_OVERRIDES)
    env.update(extra)
    return env


def scrape(port: int, timeout: float = 2.0) -> dict[str, float]:
    """A worker's /metrics summed per metric name (labels dropped); {} while not up."""
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/metrics", timeout=timeout
        ) as response:
            text = response.read().decode()
    except (OSError, urllib.error.URLError):
        return {}
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name_part, value = line.rsplit(" ", 1)
        name = name_part.split("{", 1)[0]
        values[name] = values.get(name, 0.0) + float(value)
    return values


@dataclass(frozen=True)
class TreeMemory:
    """One reading of a process tree's resident memory."""

    total: int  # the process and all its descendants
    own: int  # the process alone
    own_file_backed: int  # of ``own``
    # CPU seconds (user + system) so far of each process of the tree, by pid
    cpu_s: dict[int, float] = field(default_factory=dict)


def process_memory(process: Any) -> TreeMemory:
    """Resident bytes of a process alone and with its children (the worker's chDB process).

    File-backed resident pages are mapped files, above all the shared
    libraries' code: in a process with embedded ClickHouse (chDB) that is about
    230 MB of the engine's library, clean pages the kernel can drop and
    reload, which a worker writing to a ClickHouse server does not have.
    Linux only (``/proc``); elsewhere the file-backed figures are 0.
    """
    # Not at the top: the memory probe imports this module (see the module docstring).
    import psutil

    try:
        children = process.children(recursive=True)
    except psutil.Error:
        return TreeMemory(0, 0, 0)
    readings = []
    cpu_s = {}
    for proc in [process, *children]:
        rss = file_backed = 0
        with contextlib.suppress(psutil.Error):
            rss = proc.memory_info().rss
            times = proc.cpu_times()
            cpu_s[proc.pid] = times.user + times.system
        with contextlib.suppress(OSError, ValueError):
            file_backed = proc_status_kb(proc.pid).get("RssFile", 0) * 1024
        readings.append((rss, file_backed))
    return TreeMemory(
        total=sum(r for r, _ in readings),
        own=readings[0][0],
        own_file_backed=readings[0][1],
        cpu_s=cpu_s,
    )


def proc_status_kb(pid: int | str = "self") -> dict[str, int]:
    """The kB-valued lines of ``/proc/<pid>/status`` (VmRSS, RssAnon, RssFile ...)."""
    out = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            fields = value.split()
            if len(fields) == 2 and fields[1] == "kB":
                out[name] = int(fields[0])
    return out


@dataclass
class Observed:
    """What the benchmark saw of a process while it ran."""

    wall_s: float = 0.0
    returncode: int | None = None
    peak_rss: int = 0  # the process alone
    peak_rss_file: int = 0  # file-backed part of the resident memory at the peak
    # The process with its children (a worker's embedded ClickHouse process), summed
    # at each reading.
    peak_rss_tree: int = 0
    broker_peak_rss: int = 0
    # CPU seconds (user + system) at the last reading, up to one reading interval
    # before exit: the process itself and its children (the chDB process) summed.
    cpu_s: float = 0.0
    children_cpu_s: float = 0.0
    # The broker's CPU seconds between the first and the last reading: the work the
    # process gave it (fetches, the worker's own topics), on the same cores.
    broker_cpu_s: float = 0.0
    log: str = ""
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    peaks: dict[str, float] = field(default_factory=dict)  # max seen of each metric

    def last(self, name: str, default: float = 0.0) -> float:
        for _, values in reversed(self.samples):
            if name in values:
                return values[name]
        return default

    def first_time(self, name: str, predicate: Any) -> float | None:
        for moment, values in self.samples:
            if name in values and predicate(values[name]):
                return moment
        return None


class Watcher:
    """Polls RSS (process tree, and the broker) and optionally /metrics of a running process."""

    def __init__(
        self,
        process: Any,
        *,
        broker_process: Any = None,
        metrics_port: int | None = None,
        rss_every: float = 0.2,
        scrape_every: float = 1.0,
    ) -> None:
        # Not at the top: the memory probe imports this module (see the module docstring).
        import psutil

        self.process = psutil.Process(process.pid)
        self.broker_process = broker_process
        self.metrics_port = metrics_port
        self.rss_every = rss_every
        self.scrape_every = scrape_every
        self.observed = Observed()
        self.started = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Watcher:
        self._thread.start()
        return self

    def _run(self) -> None:
        next_scrape = 0.0
        last_cpu: dict[int, float] = {}  # every process seen, also those gone since
        broker_cpu_at_start: float | None = None
        while not self._stop.is_set():
            memory = process_memory(self.process)
            if memory.own > self.observed.peak_rss:
                self.observed.peak_rss = memory.own
                self.observed.peak_rss_file = memory.own_file_backed
            self.observed.peak_rss_tree = max(self.observed.peak_rss_tree, memory.total)
            if memory.cpu_s:
                last_cpu.update(memory.cpu_s)
                own = self.process.pid
                self.observed.cpu_s = last_cpu.get(own, 0.0)
                self.observed.children_cpu_s = sum(v for k, v in last_cpu.items() if k != own)
            if self.broker_process is not None:
                broker = process_memory(self.broker_process)
                self.observed.broker_peak_rss = max(self.observed.broker_peak_rss, broker.total)
                broker_cpu = broker.cpu_s.get(self.broker_process.pid)
                if broker_cpu is not None:
                    if broker_cpu_at_start is None:
                        broker_cpu_at_start = broker_cpu
                    self.observed.broker_cpu_s = broker_cpu - broker_cpu_at_start
            now = time.perf_counter()
            if self.metrics_port is not None and now >= next_scrape:
                next_scrape = now + self.scrape_every
                values = scrape(self.metrics_port, timeout=1.0)
                if values:
                    moment = time.perf_counter() - self.started
                    self.observed.samples.append((moment, values))
                    for name, value in values.items():
                        if value > self.observed.peaks.get(name, float("-inf")):
                            self.observed.peaks[name] = value
            self._stop.wait(self.rss_every)

    def stop(self) -> Observed:
        self._stop.set()
        self._thread.join()
        return self.observed


def run_measured(
    args: Sequence[str],
    env: dict[str, str],
    *,
    log_path: Path,
    timeout: float,
    broker_process: Any = None,
    metrics_port: int | None = None,
) -> Observed:
    """Run a process to its end, watching it; wall time from spawn to exit."""
    with open(log_path, "wb") as handle:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(args), env=env, cwd=REPO, stdout=handle, stderr=subprocess.STDOUT
        )
        watcher = Watcher(process, broker_process=broker_process, metrics_port=metrics_port)
        watcher.started = started
        watcher.start()
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = None
        wall = time.perf_counter() - started
        observed = watcher.stop()
    observed.wall_s = wall
    observed.returncode = code
    observed.log = log_path.read_text(errors="replace")
    return observed


def worker_args(*, until_drained: bool, web_port: int) -> list[str]:
    args = [sys.executable, "-m", "annotel", "worker", "--web-port", str(web_port)]
    if until_drained:
        args.append("--until-drained")
    return args


def drained_totals(text: str) -> dict[str, int]:
    lines = [ln for ln in text.splitlines() if "drained: " in ln]
    if not lines:
        return {}
    body = lines[-1].split("drained: ", 1)[1].strip()
    totals: dict[str, int] = {}
    for part in body.split(", "):
        key, _, value = part.partition("=")
        with contextlib.suppress(ValueError):
            totals[key] = int(value)
    return totals


@contextlib.contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    """A fresh temporary directory (a fresh chDB per measurement), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        yield Path(name)
