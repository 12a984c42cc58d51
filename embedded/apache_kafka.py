"""A real Apache Kafka broker (single-node KRaft) for tests, the demo and benches.

Our users run Apache Kafka; the embedded Tansu broker differs from it in ways
that shaped the code, so the Kafka-facing guarantees are also checked here.
The jars come from Maven Central through ``deploy/kafka/pom.xml`` (``make
kafka-broker``), installed once into a cache folder outside the repository
(see ``kafka_home``). Java 17 runs them. Like the embedded broker it binds
loopback only and keeps nothing: its log directory is a temporary folder.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from kafka import KafkaAdminClient

from embedded.broker import BrokerError, die_with_parent
from schemas.loopback import free_port

# Pinned: the newest 4.x that resolves from Maven Central with its dependencies.
# deploy/kafka/pom.xml names the same version (a unit test holds them equal).
KAFKA_VERSION = "4.4.0"
MIN_JAVA = 17  # what Kafka 4.x brokers run on

# Measured on 2 shared cores (deploy/kafka/README.md): the serial collector
# and the C1 compiler alone cut the resident size (a test broker has no time to
# repay C2) without a measurable change in start-up; a small initial heap cuts
# it more (-Xms64m: 280 MB against 333 MB with -Xms256m) at no cost in time.
JVM_FLAGS = (
    "-Xms64m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)

# Broker settings beyond the address and role lines. Replication factors of 1:
# one node. No initial rebalance delay: a test group starts at once. The
# internal topics get one partition each instead of 50 (measured: the offsets
# topic is ready 0.5 s sooner, the first transactional producer 0.25 s sooner).
BROKER_SETTINGS = {
    "group.initial.rebalance.delay.ms": "0",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "1",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "min.insync.replicas": "1",
    # Time retention is checked every second from the start (instead of every
    # 5 minutes after 30 s), so a test can see it enforced.
    "log.retention.check.interval.ms": "1000",
    "log.initial.task.delay.ms": "0",
}

WARM_UP_GROUP = "annotel-warm-up"  # described, never joined

LOG4J2 = """\
status = error
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.out.ref = out
"""


def kafka_home() -> Path:
    """Where ``make kafka-broker`` installs the jars (``libs/``) and its stamp.

    A per-user cache folder rather than one inside the checkout: ``make clean``
    and a fresh clone leave it alone, every worktree and clone on the machine
    shares one install, and it is named by version, so a new pin installs
    beside the old one. ``ANNOTEL_KAFKA_HOME`` points elsewhere.
    """
    override = os.environ.get("ANNOTEL_KAFKA_HOME")
    if override:
        return Path(override)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "annotel" / f"kafka-{KAFKA_VERSION}"


def java_binary() -> Path | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return Path(java_home) / "bin" / "java"
    found = shutil.which("java")
    return Path(found) if found else None


def class_archive(java: Path) -> Path:
    """The class-data archive of the broker's classes (Java's dynamic CDS).

    Written by the first broker that stops cleanly and used by every later JVM,
    the format tool's too: it halved the time to the first metadata answer
    (about 4.5 s to 2.4 s) and the format step (1.8 s to 1 s). An archive only
    fits the JVM that wrote it, so its name follows the java binary; a JVM that
    still finds it stale (other jars) says so in the broker log and starts
    without it. ``make kafka-broker`` removes it with the jars.
    """
    real = java.resolve()
    try:
        stamp = f"{real}:{real.stat().st_mtime_ns}"
    except OSError:
        stamp = str(real)
    digest = hashlib.sha256(stamp.encode()).hexdigest()[:12]
    return kafka_home() / f"classes-{digest}.jsa"


@functools.cache
def java_major(java: Path) -> int | None:
    """The feature release of a java binary (8 for 1.8), from ``java -version``."""
    try:
        done = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def unavailable_reason() -> str | None:
    """Why the broker cannot run here, or None when it can."""
    java = java_binary()
    if java is None:
        return "Apache Kafka needs Java 17 or newer: no java on PATH or in JAVA_HOME"
    major = java_major(java)
    if major is None or major < MIN_JAVA:
        return f"Apache Kafka needs Java {MIN_JAVA} or newer; {java} is Java {major or '?'}"
    home = kafka_home()
    if not (home / ".installed").exists():
        return f"Apache Kafka {KAFKA_VERSION} is not installed in {home}: run make kafka-broker"
    return None


def random_cluster_id() -> str:
    """A cluster id as Kafka writes one: 16 random bytes, URL-safe base64, no padding."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka's own generator avoids these too
            return text


def server_properties(log_dir: Path, port: int, controller_port: int) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{controller_port}",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(log_dir),
        **BROKER_SETTINGS,
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def metadata_answers(bootstrap: str, timeout: float) -> bool:
    """True once the broker answers a metadata request.

    The reconnect back-off stays short: with kafka-python's default (doubling
    up to 30 s) a probe started before the listener opened noticed the broker
    about 4 s after it was ready.
    """
    host, port = bootstrap.rsplit(":", 1)
    try:  # a closed port is seen without the client's logged connection errors
        socket.create_connection((host, int(port)), timeout).close()
    except OSError:
        return False
    wait_ms = int(timeout * 1000)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=wait_ms,
            bootstrap_timeout_ms=wait_ms,
            reconnect_backoff_ms=20,
            reconnect_backoff_max_ms=100,
        )
    except Exception:
        return False
    try:
        admin.list_topics()
        return True
    except Exception:
        return False
    finally:
        admin.close()


def offsets_topic_ready(bootstrap: str, timeout: float) -> bool:
    """Create the group offsets topic, as every cluster in use already has it.

    A fresh broker creates ``__consumer_offsets`` on the first coordinator
    lookup; until it is loaded, aiokafka logs each retry at error level
    (``GroupCoordinatorNotAvailableError``), which is no finding about our code.
    Describing a group that does not exist answers once its coordinator is up.
    """
    deadline = time.monotonic() + timeout
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if admin.describe_groups([WARM_UP_GROUP])[WARM_UP_GROUP].get("group_state"):
                    return True
            time.sleep(0.05)
        return False
    finally:
        admin.close()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class ApacheKafkaBroker:
    """A single-node KRaft broker on 127.0.0.1; use as a context manager.

    The JVM runs in its own process group (a stop reaches every process it
    might spawn) and is SIGKILLed by Linux if the process that started it dies,
    so a killed test run leaves no broker behind. Linux ties that signal to the
    starting *thread*: start it from a thread that lives as long as the broker.
    """

    def __init__(self, port: int | None = None, *, log_path: Path | None = None):
        self.port = port or free_port()
        self.controller_port = free_port()
        while self.controller_port == self.port:
            self.controller_port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log_path = log_path
        self.workdir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.started_s = 0.0  # from launching the JVM to the first metadata answer
        self.archive: tuple[Path, Path] | None = None  # (written at exit, kept)

    def _java(self) -> tuple[Path, str]:
        reason = unavailable_reason()
        java = java_binary()
        if reason is not None or java is None:
            raise BrokerError(reason or "no java")
        return java, str(kafka_home() / "libs" / "*")

    def start(self, timeout: float = 60.0) -> str:
        java, classpath = self._java()
        self.workdir = Path(tempfile.mkdtemp(prefix="annotel-kafka-"))
        config = self.workdir / "server.properties"
        config.write_text(server_properties(self.workdir / "data", self.port, self.controller_port))
        level = os.environ.get("ANNOTEL_BROKER_LOG", "warn").upper()
        (self.workdir / "log4j2.properties").write_text(LOG4J2.format(level=level))
        log_path = self.log_path or self.workdir / "broker.log"
        command = [
            str(java),
            *JVM_FLAGS,
            f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}",
        ]
        archive = class_archive(java)
        use_archive = [f"-XX:SharedArchiveFile={archive}"] if archive.exists() else []
        broker_archive = use_archive
        if not use_archive:
            # Written at the JVM's exit, then moved into place by stop() if the
            # broker stopped cleanly: a half-written archive is never used, and
            # concurrent first runs race harmlessly (the last rename wins).
            partial = archive.with_name(f"{archive.name}.{self.workdir.name}.tmp")
            self.archive = (partial, archive)
            broker_archive = [f"-XX:ArchiveClassesAtExit={partial}"]
        try:
            self._format([*command, *use_archive, "-cp", classpath], config, log_path)
            with open(log_path, "ab") as log:
                self.process = subprocess.Popen(
                    [*command, *broker_archive, "-cp", classpath, "kafka.Kafka", str(config)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=die_with_parent,
                )
            self._wait_ready(self.process, timeout, log_path)
        except BaseException:
            self.stop()
            raise
        return self.bootstrap

    def _wait_ready(self, process: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
        launched = time.monotonic()
        deadline = launched + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BrokerError(
                    f"Apache Kafka exited with code {process.returncode}:\n" + _tail(log)
                )
            if metadata_answers(self.bootstrap, 2.0):
                self.started_s = time.monotonic() - launched
                if offsets_topic_ready(self.bootstrap, max(1.0, deadline - time.monotonic())):
                    return
                break
            time.sleep(0.1)
        raise BrokerError(
            f"Apache Kafka was not ready on {self.bootstrap} within {timeout}s:\n" + _tail(log)
        )

    def _format(self, command: list[str], config: Path, log_path: Path) -> None:
        """Write the log directory's identity (cluster id, node id) before the first start."""
        with open(log_path, "ab") as log:
            done = subprocess.run(
                [
                    *command,
                    "kafka.tools.StorageTool",
                    "format",
                    "--cluster-id",
                    random_cluster_id(),
                    "--config",
                    str(config),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=60,
                check=False,
                preexec_fn=die_with_parent,
            )
        if done.returncode != 0:
            raise BrokerError(
                f"formatting the Kafka log directory failed ({done.returncode}):\n"
                + _tail(log_path)
            )

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (Kafka's controlled shutdown), then SIGKILL the group after ``timeout``."""
        process, self.process = self.process, None
        clean = process is not None and process.poll() is None
        if process is not None and clean:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                clean = False
                # Not reaped yet, so the group id cannot have been reused.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout)
        archive, self.archive = self.archive, None
        if archive is not None:
            with contextlib.suppress(OSError):  # a read-only cache: no archive, no harm
                if clean:
                    os.replace(*archive)
                else:
                    archive[0].unlink()
        workdir, self.workdir = self.workdir, None
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)

    def __enter__(self) -> ApacheKafkaBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def apache_kafka_broker(port: int | None = None, log_path: Path | None = None) -> Iterator[str]:
    """Start Apache Kafka on a free loopback port, yield its bootstrap address, stop it."""
    broker = ApacheKafkaBroker(port, log_path=log_path)
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()
