"""The live terminal view of ``annotel demo``: what the worker is doing, while it does it.

Everything shown comes from the outside of the worker, the way an operator
would watch it: its Prometheus ``/metrics`` (events, lag, windows, rows) and
the ``annotation.alerts`` topic (every alert transition, published before any
receiver is called, so it is both complete and prompt; the stdout receiver's
lines are grouped for ``group_wait`` and would arrive late). The view never
touches the worker's state or ClickHouse, so it cannot change what it shows.

``render`` is pure (a frame from plain values); ``Painter`` redraws it in
place on a terminal; ``scrape`` and ``AlertWatcher`` do the I/O.
"""

from __future__ import annotations

import re
import shutil
import sys
import threading
import time
import unicodedata
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

import orjson
from kafka import KafkaConsumer, TopicPartition

from schemas.display import visible
from schemas.units import count, hhmm, metric_value, parse_utc

_LABELS = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class WorkerSample:
    """One scrape of the worker's ``/metrics``, the counters the demo cares about."""

    at: float  # time.monotonic() of the scrape
    ready: bool
    events_in: int
    accepted: int
    duplicates: int
    late: int
    dead_letters: dict[str, int]
    lag: int
    windows_closed: int
    rows: dict[str, int]  # ClickHouse rows inserted, by table
    superseded: int = 0
    retractions: int = 0


def parse_metrics(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Prometheus text exposition → samples per metric name, labels kept."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, label_text = head.partition("{")
        labels = {
            key: raw.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
            for key, raw in _LABELS.findall(label_text)
        }
        try:
            number = float(value)
        except ValueError:
            continue
        samples.setdefault(name, []).append((labels, number))
    return samples


def sample_from_metrics(text: str, at: float) -> WorkerSample:
    """The demo's counters from one ``/metrics`` body (absent metrics count as 0)."""
    metrics = parse_metrics(text)

    def total(name: str) -> int:
        return int(sum(value for _, value in metrics.get(name, [])))

    def by(name: str, label: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for labels, value in metrics.get(name, []):
            key = labels.get(label, "")
            out[key] = out.get(key, 0) + int(value)
        return out

    return WorkerSample(
        at=at,
        ready=total("annotel_ready") > 0,
        events_in=total("annotel_events_total"),
        accepted=total("annotel_events_accepted_total"),
        duplicates=total("annotel_events_duplicate_total"),
        late=total("annotel_events_late_total"),
        superseded=total("annotel_events_superseded_total"),
        retractions=total("annotel_events_retractions_total"),
        dead_letters=by("annotel_dead_letters_total", "reason"),
        lag=total("annotel_consumer_lag"),
        windows_closed=total("annotel_windows_closed_total"),
        rows=by("annotel_clickhouse_rows_total", "table"),
    )


def scrape(port: int, timeout: float = 1.0) -> WorkerSample | None:
    """The worker's counters, or None while its web server is not up (starting, stopping)."""
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            text = response.read().decode("utf-8", errors="replace")
    except (OSError, urllib.error.URLError, ValueError):
        return None
    return sample_from_metrics(text, time.monotonic())


@dataclass(frozen=True)
class AlertNote:
    """One alert transition as the view shows it."""

    status: str  # firing | resolved
    rule: str
    scope: dict[str, str]
    metric: str
    value: float | None
    window_start: datetime
    window_end: datetime | None = None
    repeat: bool = False
    muted_by: str | None = None

    @classmethod
    def from_json(cls, data: bytes) -> AlertNote | None:
        try:
            obj: Any = orjson.loads(data)
            return cls(
                status=str(obj["status"]),
                rule=str(obj["rule"]),
                scope={str(k): str(v) for k, v in (obj.get("scope") or {}).items()},
                metric=str(obj.get("metric") or ""),
                value=None if obj.get("value") is None else float(obj["value"]),
                window_start=parse_utc(str(obj["window_start"])),
                window_end=parse_utc(str(obj["window_end"])) if obj.get("window_end") else None,
                repeat=bool(obj.get("repeat")),
                muted_by=obj.get("muted_by") or None,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            return None


class AlertWatcher(threading.Thread):
    """Reads ``annotation.alerts`` from its beginning on a daemon thread until stopped.

    The demo's broker is fresh and in memory, so "from the beginning" is
    exactly this run's alerts.
    """

    def __init__(self, bootstrap: str, topic: str, keep: int = 200) -> None:
        super().__init__(name="annotel-demo-alerts", daemon=True)
        self.bootstrap = bootstrap
        self.topic = topic
        self.notes: deque[AlertNote] = deque(maxlen=keep)
        self.fired = 0
        self.resolved = 0
        self.firing: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        self.stop_event = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=self.bootstrap,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                group_id=None,
            )
        except Exception as exc:  # the view degrades, the demo goes on
            self.error = type(exc).__name__
            return
        try:
            partitions: set[int] | None = None
            while not self.stop_event.is_set() and not partitions:
                partitions = consumer.partitions_for_topic(self.topic)
                if not partitions:
                    self.stop_event.wait(0.5)
            if not partitions:
                return
            assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            consumer.seek_to_beginning(*assigned)
            while not self.stop_event.is_set():
                for records in consumer.poll(timeout_ms=300).values():
                    for record in records:
                        note = AlertNote.from_json(record.value)
                        if note is not None:
                            self._add(note)
        except Exception as exc:  # broker gone at shutdown, or a client error
            if not self.stop_event.is_set():
                self.error = type(exc).__name__
        finally:
            consumer.close()

    def _add(self, note: AlertNote) -> None:
        key = (note.rule, tuple(sorted(note.scope.items())))
        if note.status == "firing" and not note.repeat:
            self.fired += 1
            self.firing.add(key)
        elif note.status == "resolved":
            self.resolved += 1
            self.firing.discard(key)
        self.notes.append(note)

    def stop(self, timeout: float = 3.0) -> None:
        self.stop_event.set()
        if self.is_alive():
            self.join(timeout)


@dataclass
class FeedProgress:
    """What the demo's feed has done so far (updated by the feed thread)."""

    label: str  # "simulated feed", or the replayed file's name
    target: int | None  # lines expected, None when unbounded (--follow)
    lines: int = 0
    done: bool = False
    chunks: int = 0  # --follow: simulated runs started
    sim_clock: str = ""  # event time of the newest simulated line (ISO), when known


@dataclass
class ViewState:
    """Everything one frame shows."""

    title: str
    elapsed_s: float
    feed: FeedProgress
    worker: WorkerSample | None
    rate: float | None  # events/s read by the worker, over the last seconds
    alerts: Sequence[AlertNote] = ()
    fired: int = 0
    resolved: int = 0
    firing_now: int = 0
    phase: str = ""
    notes: list[str] = field(default_factory=list)


def display_width(text: str) -> int:
    """Terminal cells: CJK characters take two, so 医疗影像标注 is 12 wide, not 6."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` terminal cells (an ellipsis marks the cut)."""
    if display_width(text) <= width:
        return text
    out: list[str] = []
    used = 0
    for ch in text:
        cell = 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used + cell > width - 1:
            break
        out.append(ch)
        used += cell
    return "".join(out) + "…"


def pad(text: str, width: int) -> str:
    """Left-justify to ``width`` cells, counting CJK characters as two."""
    return text + " " * max(0, width - display_width(text))


def scope_text(scope: dict[str, str]) -> str:
    """Scope labels in rule order, in-house (empty vendor) named as such."""
    return " · ".join(v if v else "(in-house)" for v in scope.values())


def _bar(done: int, total: int, width: int = 20) -> str:
    filled = 0 if total <= 0 else min(width, round(width * done / total))
    return "█" * filled + "░" * (width - filled)


def render(state: ViewState, width: int = 100, alert_lines: int = 8) -> list[str]:
    """One frame of the live view (plain text lines, no escape codes)."""
    minutes, seconds = divmod(int(state.elapsed_s), 60)
    phase = f"  ·  {state.phase}" if state.phase else ""
    lines = [f" {state.title}  ·  {minutes:02d}:{seconds:02d}{phase}"]
    feed = state.feed
    if feed.target:
        progress = (
            f"{_bar(feed.lines, feed.target)} {count(feed.lines):>9} / {count(feed.target)} lines"
        )
    else:
        progress = f"{count(feed.lines):>9} lines" + (
            f" (run {feed.chunks})" if feed.chunks else ""
        )
    clock = f"  event time {feed.sim_clock}" if feed.sim_clock else ""
    lines.append(f" feed    {progress}{'  done' if feed.done else ''}{clock}")
    worker = state.worker
    if worker is None or not worker.ready:
        lines.append(
            " worker  starting (imports, topics, ClickHouse migrations, partition recovery)…"
        )
    else:
        rate = "" if state.rate is None else f"  {count(state.rate):>7}/s"
        dead = sum(worker.dead_letters.values())
        lines.append(
            f" worker  {count(worker.events_in):>9} events{rate}   lag {count(worker.lag):>7}   "
            f"dup {count(worker.duplicates)}   late {count(worker.late)}"
            + (f"   dead {count(dead)}" if dead else "")
        )
        stored = worker.rows.get("task_events", 0) + worker.rows.get("audit_events", 0)
        lines.append(
            f" windows {count(worker.windows_closed):>9} minutes closed   ClickHouse inserts: "
            f"metrics_1m {count(worker.rows.get('metrics_1m', 0))} rows, events {count(stored)}"
        )
    lines.append(
        f" alerts  {count(state.fired):>9} fired   {count(state.resolved)} resolved   "
        f"{count(state.firing_now)} firing now"
    )
    for note in list(state.alerts)[-alert_lines:]:
        status = "RESOLVED" if note.status == "resolved" else "FIRING"
        if note.repeat:
            status = "REPEAT"
        muted = "  (muted)" if note.muted_by else ""
        when = hhmm(note.window_end or note.window_start)  # raised when the window closed
        lines.append(
            f"   {when} {status:<8} {pad(note.rule, 22)} "
            f"{pad(scope_text(note.scope), 34)} {metric_value(note.metric, note.value)}{muted}"
        )
    lines.extend(f" {note}" for note in state.notes)
    # Rule names and scopes come from the data: shown as escapes, never obeyed by the terminal.
    return [fit(visible(line), width) for line in lines]


class Painter:
    """Redraws a frame in place on a terminal (ANSI: cursor up, clear below)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.height = 0
        self.started = False

    def width(self) -> int:
        return max(40, shutil.get_terminal_size((100, 24)).columns - 1)

    def rows(self) -> int:
        """Lines a frame may use: redrawing in place only works below the top of the screen."""
        return max(8, shutil.get_terminal_size((100, 24)).lines - 2)

    def draw(self, lines: list[str]) -> None:
        out = []
        if not self.started:
            out.append("\x1b[?25l")  # hide the cursor while redrawing
            self.started = True
        if self.height:
            out.append(f"\r\x1b[{self.height}A")  # back to the frame's first line
        out.append("\x1b[J")
        out.append("\n".join(lines) + "\n")
        self.stream.write("".join(out))
        self.stream.flush()
        self.height = len(lines)

    def close(self) -> None:
        """Leave the last frame on screen and give the cursor back."""
        if self.started:
            self.stream.write("\x1b[?25h")
            self.stream.flush()
            self.started = False


class RateMeter:
    """Events per second over a sliding window of scrapes."""

    def __init__(self, window_s: float = 3.0) -> None:
        self.window_s = window_s
        self.points: deque[tuple[float, int]] = deque()

    def add(self, sample: WorkerSample) -> float | None:
        self.points.append((sample.at, sample.events_in))
        while len(self.points) > 2 and sample.at - self.points[0][0] > self.window_s:
            self.points.popleft()
        first_at, first = self.points[0]
        if sample.at - first_at < 0.5:
            return None
        return max(0.0, (sample.events_in - first) / (sample.at - first_at))
