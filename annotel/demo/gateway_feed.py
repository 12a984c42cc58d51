"""``annotel demo --via-gateway``: the same feed, posted over HTTP to a running ``annotel gateway``.

The gateway runs as its own process (``python -m annotel gateway``) with a
connectors file written into the data directory. One project's completions
travel in Label Studio's shape (``ANNOTATIONS_CREATED`` webhooks, the fields a
Label Studio project carries, the rest in the task's ``data`` / ``meta`` and
mapped by paths), so the connector path is exercised; everything else goes to
``POST /v1/events`` as NDJSON. The numbers must come out as without the
gateway, so the routing keeps what the worker depends on:

* the order of every partition: lines are split by the partition their
  ``project_id`` is keyed to (the producer's partitioner), and each half is
  posted by one thread, in order, each request answered before the next;
* the verdicts: only a line the contract accepts as it stands, and whose
  fields Label Studio can carry (a first attempt, submitted or skipped, by a
  person or with a prediction), takes the Label Studio shape; malformed lines
  and everything else go to ``/v1/events``, whose answers give the dead
  letters' reasons exactly as ``annotel ingest`` would;
* duplicates: a repeated line is built into the same webhook, so the
  connector gives it the same ``event_id`` and the worker skips it again.

A ``503`` (the broker did not store the request) is retried after its
``Retry-After``, as a platform does.
"""

from __future__ import annotations

import http.client
import queue
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from kafka.partitioner import murmur2

from annotel.demo.feed import Feed
from annotel.demo.plan import Plan
from annotel.live_view import FeedProgress
from schemas import DecodeError
from schemas.loopback import free_port
from schemas.redact import add_secret, redact
from streams.publishing import Publication
from streams.settings import Settings

SOURCE = "demo-ls"
LS_PROJECT_ID = 1  # the Label Studio project's own (numeric) id
EVENTS_BATCH = 500
LS_BATCH = 100
IDLE_FLUSH_S = 0.2  # a following feed's partial batch goes out after this pause
CONNECTORS = f"""\
version: 1
sources:
  {SOURCE}:                      # POST /v1/hooks/{SOURCE}
    type: label_studio
    token_env: ANNOTEL_DEMO_LS_TOKEN
    map:
      project_id: {{path: task.data.project}}
      queue_id: {{path: task.data.queue}}
      locale: {{path: task.data.locale}}
      task_type: {{path: task.data.task_type}}
      vendor_id: {{path: task.meta.vendor}}
      tags: {{path: task.meta.tags}}
      gold_correct: {{path: task.meta.gold_correct}}
"""
# The fields a Label Studio delivery carries here (as itself, or in the task's data / meta).
_CARRIED = frozenset(
    (
        "event_type",
        "schema_version",
        "event_id",
        "occurred_at",
        "project_id",
        "queue_id",
        "task_id",
        "annotator_id",
        "vendor_id",
        "locale",
        "source",
        "task_type",
        "status",
        "handle_time_s",
        "attempt",
        "task_created_at",
        "is_gold",
        "gold_correct",
        "tags",
    )
)


class GatewayError(RuntimeError):
    """The gateway did not start, or refused a request it should have taken."""


@dataclass
class GatewayProcess:
    """``python -m annotel gateway`` for the demo: its port, tokens and log."""

    env: dict[str, str]
    log: Path
    connectors: Path
    port: int = 0
    token: str = field(default_factory=lambda: secrets.token_hex(24))
    ls_token: str = field(default_factory=lambda: secrets.token_hex(24))
    process: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 60) -> None:
        self.connectors.write_text(CONNECTORS, encoding="utf-8")
        self.port = free_port()
        for secret in (self.token, self.ls_token):
            add_secret(secret)
        env = {
            **self.env,
            "ANNOTEL_GATEWAY_PORT": str(self.port),
            "ANNOTEL_GATEWAY_TOKEN": self.token,
            "ANNOTEL_DEMO_LS_TOKEN": self.ls_token,
            "ANNOTEL_CONNECTORS_FILE": str(self.connectors),
            # One feed, not a crowd of clients: the limit is not what is shown here.
            "ANNOTEL_GATEWAY_RATE_LIMIT": "100000",
            "ANNOTEL_GATEWAY_RATE_BURST": "100000",
        }
        with open(self.log, "ab") as handle:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "annotel", "gateway"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=handle,
                text=True,
            )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if "listening on" not in line:
            self.stop()
            raise GatewayError(f"the gateway did not start; its log is {self.log}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def partition_of(project_id: str, partitions: int) -> int:
    """The input partition a project's events are keyed to (the producer's partitioner)."""
    digest: int = murmur2(project_id.encode())
    return (digest & 0x7FFFFFFF) % partitions


def label_studio_parts(event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(annotation, task) of Label Studio for a valid completion, or None if it cannot carry it."""
    if event.get("event_type") != "task_completed" or not set(event) <= _CARRIED:
        return None
    if event.get("status") not in ("submitted", "skipped") or event.get("attempt", 1) != 1:
        return None
    if event.get("source", "human") not in ("human", "hybrid"):
        return None
    annotation = {
        "id": event["event_id"],
        "result": [],
        "was_cancelled": event["status"] == "skipped",
        "ground_truth": event.get("is_gold") is True,
        "created_at": event["occurred_at"],
        "updated_at": event["occurred_at"],
        "lead_time": event.get("handle_time_s"),
        "prediction": {"model_version": "demo"} if event.get("source") == "hybrid" else {},
        "task": event["task_id"],
        "completed_by": event["annotator_id"],
    }
    data = {
        "project": event["project_id"],
        "queue": event["queue_id"],
        "locale": event.get("locale"),
        "task_type": event.get("task_type"),
    }
    meta = {
        "vendor": event.get("vendor_id"),
        "tags": event.get("tags"),
        "gold_correct": event.get("gold_correct"),
    }
    task = {
        "id": event["task_id"],
        "data": {k: v for k, v in data.items() if v is not None},
        "meta": {k: v for k, v in meta.items() if v is not None},
        "created_at": event.get("task_created_at"),
    }
    annotation = {k: v for k, v in annotation.items() if v is not None}
    return annotation, {k: v for k, v in task.items() if v is not None}


class _Poster(threading.Thread):
    """One ordered lane: batches its lines by route and posts each, answered, in order."""

    def __init__(self, feed: GatewayFeed, name: str) -> None:
        super().__init__(name=f"annotel-demo-gateway-{name}", daemon=True)
        self.feed = feed
        self.lines: queue.Queue[tuple[bytes, Any] | None] = queue.Queue(maxsize=5000)
        self.connection: http.client.HTTPConnection | None = None
        self.kind = ""
        self.batch: list[Any] = []
        self.tasks: set[Any] = set()

    def run(self) -> None:
        try:
            while True:
                try:
                    item = self.lines.get(timeout=IDLE_FLUSH_S)
                except queue.Empty:
                    self.flush()
                    continue
                if item is None:
                    break
                self.add(*item)
            self.flush()
        except Exception as exc:
            self.feed.fail(exc)
            while self.lines.get() is not None:  # let the reader finish; drop the rest
                pass
        finally:
            if self.connection is not None:
                self.connection.close()

    def add(self, line: bytes, parts: Any) -> None:
        kind = "events" if parts is None else "ls"
        full = len(self.batch) >= (EVENTS_BATCH if kind == "events" else LS_BATCH)
        # A bulk delivery names each task once (the connector finds a task by its id).
        repeat = kind == "ls" and parts[1]["id"] in self.tasks
        if kind != self.kind or full or repeat:
            self.flush()
        self.kind = kind
        self.batch.append(line if parts is None else parts)
        if parts is not None:
            self.tasks.add(parts[1]["id"])

    def flush(self) -> None:
        batch, kind = self.batch, self.kind
        self.batch, self.tasks = [], set()
        if not batch:
            return
        if kind == "events":
            self.post(
                "/v1/events",
                b"\n".join(batch),
                {"Content-Type": "application/x-ndjson", "Authorization": self.feed.bearer},
            )
            return
        body = {
            "action": "ANNOTATIONS_CREATED",
            "annotation": [annotation for annotation, _task in batch],
            "task": [task for _annotation, task in batch],
            "project": {"id": LS_PROJECT_ID, "title": self.feed.ls_project},
        }
        self.post(
            f"/v1/hooks/{SOURCE}",
            orjson.dumps(body),
            {"Content-Type": "application/json", "Authorization": self.feed.ls_bearer},
            hooks=len(batch),
        )

    def post(self, path: str, body: bytes, headers: dict[str, str], hooks: int = 0) -> None:
        while not self.feed.stop_event.is_set():
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    "127.0.0.1", self.feed.gateway.port, timeout=120
                )
            try:
                self.connection.request("POST", path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                self.connection.close()
                self.connection = None
                time.sleep(1)
                continue
            if response.status == 503:
                time.sleep(float(response.getheader("Retry-After") or 1))
                continue
            if response.status != 200:
                raise GatewayError(f"{path} answered {response.status}: {data[:300]!r}")
            self.feed.count(orjson.loads(data), hooks)
            return


class GatewayFeed(Feed):
    """The demo's feed through the gateway: two ordered lanes, one per side of a partition split."""

    def __init__(
        self, plan: Plan, settings: Settings, progress: FeedProgress, gateway: GatewayProcess
    ) -> None:
        super().__init__(plan, settings, progress)
        self.gateway = gateway
        self.bearer = f"Bearer {gateway.token}"
        self.ls_bearer = f"Bearer {gateway.ls_token}"
        # Lines are judged here as the gateway will judge them.
        self.publication = Publication.from_settings(settings, "gateway")
        self.partitions = settings.kafka_partitions
        self.ls_project: str | None = None
        self.ls_partition = -1
        self.via_hooks = 0
        self.hook_requests = 0
        self.lock = threading.Lock()

    def run(self) -> None:
        lanes = [_Poster(self, "label-studio"), _Poster(self, "events")]
        for lane in lanes:
            lane.start()
        try:
            for lines, finished in self._chunks():
                self._route(self._counted(lines), lanes)
                finished()
                if self.stop_event.is_set():
                    break
        except Exception as exc:
            self.fail(exc)
        finally:
            for lane in lanes:
                lane.lines.put(None)
            for lane in lanes:
                lane.join()
            self.progress.done = True

    def _route(self, lines: Iterable[bytes], lanes: list[_Poster]) -> None:
        now = datetime.now(UTC)
        for line in lines:
            if self.error is not None:
                return
            parts = None
            event = self._valid(line, now)
            project = event.get("project_id") if event else None
            if isinstance(project, str):
                if self.ls_project is None:
                    self.ls_project = project
                    self.ls_partition = partition_of(project, self.partitions)
                if project == self.ls_project:
                    parts = label_studio_parts(event)  # type: ignore[arg-type]
                same = partition_of(project, self.partitions) == self.ls_partition
                lane = lanes[0] if same else lanes[1]
            else:
                lane = lanes[1]
            lane.lines.put((line, parts))

    def _valid(self, line: bytes, now: datetime) -> dict[str, Any] | None:
        """The line as JSON if the contract accepts it as it stands, else None."""
        if isinstance(self.publication.decode(line, now), DecodeError):
            return None
        parsed = orjson.loads(line)
        return parsed if isinstance(parsed, dict) else None

    def count(self, answer: dict[str, Any], hooks: int) -> None:
        with self.lock:
            self.published += answer["accepted"]
            self.dead_lettered += len(answer["rejected"])
            self.by_reason.update(item["reason"] for item in answer["rejected"])
            if hooks:
                self.via_hooks += answer["accepted"]
                self.hook_requests += 1

    def fail(self, exc: BaseException) -> None:
        with self.lock:
            if self.error is None and not self.stop_event.is_set():
                self.error = redact(f"posting to the gateway failed: {type(exc).__name__}: {exc}")
        self.stop_event.set()
