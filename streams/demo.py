"""``annotel demo``: the whole product on the embedded stack, in one command.

It starts the embedded broker, feeds it (the seeded simulator by default, or
``--input FILE.jsonl``) through ``streams.ingest.ingest`` exactly as
``annotel simulate`` / ``annotel ingest`` do, runs ``annotel worker`` with the
shipped alert rules, shows a live view on a terminal, then prints a summary
read back from ClickHouse and stops everything it started.

Bounded by default (the worker runs ``--until-drained``); ``--follow`` keeps
the feed and the worker running until Ctrl-C.

Why the simulated clock starts at 09:00 Beijing time: the simulator's volume
follows a Beijing working day, so a run that started "now minus its span"
would carry a different volume (and fire different alerts) at each hour of the
day. Fixing the phase makes ``annotel demo`` the same demo every time: the
same lines apart from the date and event ids, the same alerts. The start is
the latest such 09:00 whose simulated span has ended by now, so the data is
at most a day old and never in the future.

The default knobs (``DEFAULT_*``) are tuned, not the rules: see
``DEFAULT_TASKS_PER_SECOND`` for why these values.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from schemas.display import visible
from schemas.metrics import KEY_DIMENSIONS
from schemas.redact import redact
from streams.live_view import (
    AlertWatcher,
    FeedProgress,
    Painter,
    RateMeter,
    ViewState,
    WorkerSample,
    display_width,
    fit,
    pad,
    render,
    scope_text,
    scrape,
)
from streams.settings import Settings

RULES = Path(__file__).resolve().parent.parent / "alerts" / "examples" / "rules.yaml"

# The default run, measured on the shared 2-core development machine: 40 k lines
# take 38-51 s end to end (the feed publishes them in ~13 s while the worker
# starts; the worker then reads ~2 000 events/s and needs ~15 s to start and to
# drain), well inside `make demo`'s two-minute budget.
DEFAULT_EVENTS = 40_000
DEFAULT_SEED = 1
# The shipped rules judge 15-minute windows (vendor quality, AHT) and need an
# hour of 5-minute baseline before the AHT anomaly rule can fire; incidents
# last 20 % of the simulated span and start between 15 % and 55 % into it. So
# the span must be about 4 hours: 40 k lines at 1.5 task outcomes per simulated
# second give 4.1 h. Three projects (one of them Chinese, 医疗影像标注, and a
# Chinese intent queue) instead of five concentrate that volume, so each
# incident's queue or vendor clears the rules' min_samples (20 audits per
# vendor per 15 min, 10 submissions per queue per 5 min); 200 annotators keep
# enough people per queue. With seed 1 the vendor quality drop, the queue stall
# and the AHT spike each fire their alert inside the incident and resolve after
# (the spike hits a bbox queue, so it is aht_anomaly that fires: tripled 40-s
# handle times stay under aht_high's fixed 300 s).
#
# Calibration: the simulator's healthy baselines sit inside the shipped rules
# (vendors pass ~0.93-0.97 of audits against vendor_quality_low's 85 %, median
# turnaround 1.5 h against turnaround_sla_breach's one-day bound), so the default
# run fires essentially only for the injected incidents; sampling noise still
# adds a handful (a weak annotator or two, an occasional aht_anomaly on another
# queue, a vendor window of ~25 audits dipping just under 85 %).
DEFAULT_TASKS_PER_SECOND = 1.5
DEFAULT_PROJECTS = 3
DEFAULT_ANNOTATORS = 200
DEFAULT_VENDORS = 3
START_HOUR_UTC = 1  # 09:00 in Beijing, where the simulated working day is
MAX_RESTARTS = 2  # a crashed worker is restarted this often before the demo gives up
FOLLOW_RATE = 200.0  # --follow: lines/s, the simulated clock runs ~100x real time

# Which metrics an injected incident should move (rules are matched by metric
# and exact scope, so a custom --rules file with other rule names still maps).
INCIDENT_METRICS: dict[str, tuple[str, ...]] = {
    "vendor_quality_drop": ("audit_pass_rate", "gold_accuracy", "mean_audit_score"),
    "queue_stall": ("throughput_per_hour",),
    "aht_spike": ("aht_s",),
}
TABLES = ("metrics_1m", "audit_errors_1m", "task_events", "audit_events", "dlq_events", "alerts")
MARKER = "demo.json"  # in the data dir: says the ClickHouse data there is a demo's


class DemoError(Exception):
    """A problem the user can fix; the message says what and how."""


class Interrupted(Exception):
    """Ctrl-C or SIGTERM reached the demo."""


# -- planning --------------------------------------------------------------------------


@dataclass
class Plan:
    """What one ``annotel demo`` invocation will do, resolved from its arguments."""

    data_dir: Path
    rules: Path
    follow: bool
    json: bool
    live: bool
    rate: float | None
    input: Path | None = None
    seed: int = DEFAULT_SEED
    events: int = DEFAULT_EVENTS
    knobs: dict[str, Any] = field(default_factory=dict)
    start: datetime | None = None

    @property
    def simulated(self) -> bool:
        return self.input is None

    @property
    def dsn(self) -> str:
        return "chdb://" + str(self.data_dir / "clickhouse")


def demo_start(seed: int, events: int, knobs: dict[str, Any], now: datetime) -> datetime:
    """The latest 09:00 Beijing (01:00 UTC) from which ``events`` lines end before ``now``."""
    from simulator import Simulator

    candidate = datetime(now.year, now.month, now.day, START_HOUR_UTC, tzinfo=UTC)
    span = Simulator(seed, candidate, (), **knobs).estimate_span(events)
    while candidate + span + timedelta(minutes=5) > now:
        candidate -= timedelta(days=1)
    return candidate


def make_plan(args: argparse.Namespace, now: datetime | None = None) -> Plan:
    """Check the arguments and files up front, so a mistake costs no broker start."""
    rules = Path(args.rules).expanduser().resolve()
    if not rules.is_file():
        raise DemoError(f"rules file {rules} does not exist (--rules FILE)")
    from alerts.rules import RulesError, load_rules

    try:
        load_rules(rules)
    except RulesError as exc:
        raise DemoError(f"invalid rules file {rules}:\n{exc}") from None
    data_dir = Path(args.data_dir).expanduser().resolve()
    if data_dir.exists() and not data_dir.is_dir():
        raise DemoError(f"--data-dir {data_dir} exists and is not a directory")
    live = sys.stdout.isatty() and not args.json
    rate = args.rate if args.rate is not None else (FOLLOW_RATE if args.follow else None)
    plan = Plan(
        data_dir=data_dir, rules=rules, follow=args.follow, json=args.json, live=live, rate=rate
    )
    if args.input is not None:
        simulator_only = {
            "--events": args.events,
            "--seed": args.seed,
            "--tasks-per-second": args.tasks_per_second,
            "--projects": args.projects,
            "--annotators": args.annotators,
        }
        given = [flag for flag, value in simulator_only.items() if value is not None]
        if given:
            raise DemoError(f"{', '.join(given)}: only for the simulated feed, not with --input")
        path = Path(args.input).expanduser().resolve()
        if not path.is_file():
            raise DemoError(f"--input {path} does not exist")
        plan.input = path
        return plan
    plan.seed = DEFAULT_SEED if args.seed is None else args.seed
    plan.events = DEFAULT_EVENTS if args.events is None else args.events
    plan.knobs = {
        "projects": DEFAULT_PROJECTS if args.projects is None else args.projects,
        "vendors": DEFAULT_VENDORS,
        "annotators": DEFAULT_ANNOTATORS if args.annotators is None else args.annotators,
        "tasks_per_second": (
            DEFAULT_TASKS_PER_SECOND if args.tasks_per_second is None else args.tasks_per_second
        ),
    }
    current = (now or datetime.now(UTC)).astimezone(UTC)
    try:
        if args.follow:
            plan.start = current.replace(second=0, microsecond=0)
        else:
            plan.start = demo_start(plan.seed, plan.events, plan.knobs, current)
    except ValueError as exc:  # a knob out of the simulator's range
        raise DemoError(str(exc)) from None
    return plan


def prepare_data_dir(data_dir: Path) -> str | None:
    """Give this run an empty ClickHouse directory; say what happened to an old one.

    The broker is in memory and starts empty, but chDB keeps its files: rows of
    an earlier run would add to this run's numbers. A previous demo's data
    (the marker file is there) is deleted; anything else is moved aside, never
    deleted, because ``./.annotel`` is also the worker's default data dir.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    clickhouse = data_dir / "clickhouse"
    marker = data_dir / MARKER
    other = _running_demo(marker)
    if other is not None:
        raise DemoError(
            f"another annotel demo (pid {other}) is using {data_dir}; "
            "stop it or give this one its own --data-dir"
        )
    note: str | None = None
    if clickhouse.exists():
        if marker.exists():
            shutil.rmtree(clickhouse)
            note = f"cleared the previous demo's ClickHouse data in {clickhouse}"
        else:
            stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
            aside = data_dir / f"clickhouse.before-demo-{stamp}"
            clickhouse.rename(aside)
            note = f"moved existing ClickHouse data (not from a demo) to {aside}"
    for name in ("simulation-manifest.json",):
        with contextlib.suppress(FileNotFoundError):
            (data_dir / name).unlink()
    (data_dir / "logs").mkdir(exist_ok=True)
    started = {"status": "running", "pid": os.getpid(), "started_at": datetime.now(UTC).isoformat()}
    marker.write_text(json.dumps(started) + "\n", encoding="utf-8")
    return note


def _running_demo(marker: Path) -> int | None:
    """The pid of another demo still running on this data dir, if any."""
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
        pid = int(record["pid"]) if record.get("status") == "running" else None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid is None or pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # it died without cleaning up: its data is fair game
    except PermissionError:
        return pid
    with contextlib.suppress(OSError):  # a recycled pid is not a demo
        if b"demo" not in Path(f"/proc/{pid}/cmdline").read_bytes():
            return None
    return pid


# -- the feed --------------------------------------------------------------------------


class Feed(threading.Thread):
    """Publishes the input through ``ingest`` on a daemon thread.

    A daemon, so an interrupted demo never waits on a producer stuck on a
    broker that went away.
    """

    def __init__(self, plan: Plan, settings: Settings, progress: FeedProgress) -> None:
        super().__init__(name="annotel-demo-feed", daemon=True)
        self.plan = plan
        self.settings = settings
        self.progress = progress
        self.stop_event = threading.Event()
        self.published = 0
        self.dead_lettered = 0
        self.by_reason: Counter[str] = Counter()
        self.manifests: list[dict[str, Any]] = []
        self.error: str | None = None

    def run(self) -> None:
        from streams.ingest import ingest
        from streams.kafka import producer

        try:
            kafka_producer = producer(self.settings)
        except Exception as exc:
            self.error = f"cannot connect a producer to the broker ({type(exc).__name__})"
            return
        try:
            for lines, finished in self._chunks():
                result = ingest(self.settings, self._counted(lines), producer=kafka_producer)
                self.published += result.published
                self.dead_lettered += result.dead_lettered
                self.by_reason.update(result.by_reason)
                finished()
                if self.stop_event.is_set():
                    break
        except Exception as exc:
            if not self.stop_event.is_set():
                self.error = redact(f"publishing failed: {type(exc).__name__}: {exc}")
        finally:
            with contextlib.suppress(Exception):
                kafka_producer.close(timeout=2)
            self.progress.done = True

    def _chunks(self) -> Iterator[tuple[Iterable[bytes], Callable[[], None]]]:
        """Line sources in order: the file once, or one simulated run after another."""
        from streams.simulate import paced

        plan = self.plan
        if plan.input is not None:
            from streams.ingest import read_lines

            with plan.input.open("rb") as handle:
                yield paced(read_lines(handle), plan.rate), lambda: None
            return
        from simulator import Simulator

        assert plan.start is not None
        start = plan.start
        chunk = 0
        while True:
            sim = Simulator(plan.seed + chunk, start, None, **plan.knobs)
            self.progress.chunks = chunk + 1

            def finished(sim: Simulator = sim) -> None:
                self.manifests.append(sim.manifest)

            yield paced(sim.events(n=plan.events), plan.rate), finished
            if not plan.follow:
                return
            # The next run continues the simulated clock where this one ended.
            last = sim.manifest["span"]["last_occurred_at"]
            start = datetime.fromisoformat(last.replace("Z", "+00:00")).replace(
                second=0, microsecond=0
            ) + timedelta(minutes=1)
            chunk += 1

    def _counted(self, lines: Iterable[bytes]) -> Iterator[bytes]:
        progress = self.progress
        for line in lines:
            if self.stop_event.is_set():
                return
            progress.lines += 1
            if progress.lines % 500 == 0 and self.plan.follow:
                progress.sim_clock = _event_time(line) or progress.sim_clock
            yield line

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        if self.is_alive():
            self.join(timeout)


def _event_time(line: bytes) -> str | None:
    """The ``occurred_at`` of a simulated line as ``YYYY-MM-DD HH:MM UTC`` (for the view)."""
    at = line.find(b'"occurred_at":"')
    if at < 0:
        return None
    end = line.find(b'"', at + 15)
    try:
        moment = datetime.fromisoformat(line[at + 15 : end].decode().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# -- the worker ------------------------------------------------------------------------


def _death_signal() -> Callable[[], None] | None:
    """A preexec_fn that makes Linux kill the worker if the demo dies (even by SIGKILL).

    libc is loaded here, in the parent: between fork and exec the child (which
    may be forked while the feed thread runs) only makes the one prctl call.
    """
    try:
        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None  # not Linux: the demo's own shutdown still stops the worker

    def set_death_signal() -> None:
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

    return set_death_signal


class WorkerProcess:
    """``annotel worker`` as a child in its own session, its output in a log file.

    Its own session, so the terminal's Ctrl-C reaches only the demo, which then
    stops the worker with SIGTERM (a clean Faust shutdown) in the right order.
    """

    def __init__(self, env: dict[str, str], port: int, until_drained: bool, log: Path) -> None:
        self.env = env
        self.port = port
        self.until_drained = until_drained
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0

    def start(self) -> None:
        args = [sys.executable, "-m", "streams.cli", "worker", "--web-port", str(self.port)]
        if self.until_drained:
            args.append("--until-drained")
        with self.log.open("ab") as handle:
            handle.write(f"--- annotel demo: worker run {self.runs + 1}\n".encode())
            handle.flush()
            self.process = subprocess.Popen(
                args,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_death_signal(),
            )
        self.runs += 1

    def poll(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, timeout: float = 20.0, force: Callable[[], bool] = lambda: False) -> None:
        """SIGTERM (Faust's clean shutdown), SIGKILL after ``timeout`` or when ``force()``."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            deadline = time.monotonic() + timeout
            while process.poll() is None and time.monotonic() < deadline and not force():
                time.sleep(0.1)
            if process.poll() is None:
                process.kill()
                process.wait(10)
        self.process = None

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def drained_totals(self) -> dict[str, int]:
        """The worker's last ``drained: k=v, ...`` line (its exact final counters)."""
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return {}
        return parse_drained(text)


def parse_drained(text: str) -> dict[str, int]:
    lines = [line for line in text.splitlines() if "drained: " in line]
    if not lines:
        return {}
    body = lines[-1].split("drained: ", 1)[1].strip()
    totals: dict[str, int] = {}
    for part in body.split(", "):
        key, _, value = part.partition("=")
        with contextlib.suppress(ValueError):
            totals[key.strip()] = int(value)
    return totals


# -- reading the results back ----------------------------------------------------------


@dataclass
class Results:
    tables: dict[str, int]
    per_rule: dict[str, dict[str, int]]
    alerts: list[dict[str, Any]]


def read_results(dsn: str) -> Results:
    """Row counts, alert transitions per rule, and every alert row (from ClickHouse)."""
    from sinks.client import connect

    client = connect(dsn)
    try:
        tables = {
            table: int(client.query(f"SELECT count() FROM {table} FINAL").result_rows[0][0])
            for table in TABLES
        }
        per_rule: dict[str, dict[str, int]] = {}
        # A repeat of a still-firing alert keeps its starts_at: count episodes, not rows.
        for rule, fired, resolved in client.query(
            "SELECT rule, uniqExactIf((fingerprint, starts_at), status = 'firing'), "
            "countIf(status = 'resolved') FROM alerts FINAL GROUP BY rule ORDER BY rule"
        ).result_rows:
            per_rule[str(rule)] = {"fired": int(fired), "resolved": int(resolved)}
        alerts = [
            {
                "rule": str(rule),
                "status": str(status),
                "metric": str(metric),
                "labels": dict(labels),
                "window_start": _utc(window_start),
                "window_end": _utc(window_end),
            }
            for rule, status, metric, labels, window_start, window_end in client.query(
                "SELECT rule, status, metric, labels, window_start, window_end "
                "FROM alerts FINAL ORDER BY window_start, rule, status"
            ).result_rows
        ]
        return Results(tables, per_rule, alerts)
    finally:
        client.close()


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def incident_alerts(
    incidents: list[dict[str, Any]], alerts: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Per injected incident: the alerts on its exact scope whose window overlaps it.

    A firing counts when its rule window overlaps the incident interval; its
    resolve is the next resolved transition of the same rule and scope.
    """
    out = []
    for incident in incidents:
        metrics = INCIDENT_METRICS.get(incident["name"])
        entry: dict[str, Any] = {
            "name": incident["name"],
            "scope": incident["scope"],
            "start": incident["start"],
            "end": incident["end"],
            "alerts": [],
        }
        out.append(entry)
        if metrics is None:
            continue
        start, end = _parse_iso(incident["start"]), _parse_iso(incident["end"])
        for row in alerts:
            if row["metric"] not in metrics or row["status"] != "firing":
                continue
            scope = {k: v for k, v in row["labels"].items() if k in KEY_DIMENSIONS}
            if scope != incident["scope"]:
                continue
            if not (row["window_end"] > start and row["window_start"] < end):
                continue
            if any(a["rule"] == row["rule"] for a in entry["alerts"]):
                continue  # the first firing per rule tells the story
            resolved = next(
                (
                    other
                    for other in alerts
                    if other["rule"] == row["rule"]
                    and other["status"] == "resolved"
                    and other["labels"] == row["labels"]
                    and other["window_start"] > row["window_start"]
                ),
                None,
            )
            entry["alerts"].append(
                {
                    "rule": row["rule"],
                    "fired_window": [_iso(row["window_start"]), _iso(row["window_end"])],
                    "resolved_window": (
                        None
                        if resolved is None
                        else [_iso(resolved["window_start"]), _iso(resolved["window_end"])]
                    ),
                }
            )
    return out


# -- the run ---------------------------------------------------------------------------


class DemoRun:
    """One demo from broker start to summary; ``run`` always stops what it started."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.started = time.monotonic()
        self.notes: list[str] = []
        self.broker: Any = None
        self.worker: WorkerProcess | None = None
        self.feed: Feed | None = None
        self.watcher: AlertWatcher | None = None
        self.painter = Painter() if plan.live else None
        self.progress = FeedProgress(
            label=plan.input.name if plan.input else "simulated feed",
            target=plan.events if plan.simulated and not plan.follow else None,
        )
        self.last_sample: WorkerSample | None = None
        self.meter = RateMeter()
        self.rate: float | None = None
        self.phase = ""
        self.stopping = False
        self.force = False
        self.restarts = 0

    # output ------------------------------------------------------------------------

    def say(self, text: str) -> None:
        """A progress note: on stderr, so stdout stays the summary (or the JSON)."""
        if self.painter is not None:
            self.notes.append(text)
            return
        print(visible(text, keep="\n"), file=sys.stderr, flush=True)

    # lifecycle ---------------------------------------------------------------------

    def run(self) -> int:
        plan = self.plan
        # The feed reports its own failures; kafka-python's connection chatter
        # would only scribble over the live view.
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
        previous = prepare_data_dir(plan.data_dir)
        if previous:
            self.say(previous)
        from embedded.broker import EmbeddedBroker
        from schemas.loopback import free_port
        from streams.kafka import EMBEDDED_CLUSTER_ID

        self.broker = EmbeddedBroker(
            cluster_id=EMBEDDED_CLUSTER_ID, log_path=plan.data_dir / "logs" / "broker.log"
        )
        # The terminal's Ctrl-C goes to the whole process group, and the broker
        # would quit at once, under the feed and the worker. Started with SIGINT
        # blocked (the mask is inherited), it stays up until ``shutdown`` stops
        # it last with SIGTERM; a Ctrl-C meanwhile waits and reaches the demo.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            bootstrap = self.broker.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        port = free_port()
        env, settings = self._environment(bootstrap)
        from streams.kafka import ensure_topics

        # Created before the feed and the worker start together, so neither
        # races the other into creating them.
        ensure_topics(settings, [*settings.input_topics, settings.topic_dlq, settings.topic_alerts])
        log = plan.data_dir / "logs" / "worker.log"
        log.write_bytes(b"")
        self.worker = WorkerProcess(env, port, not plan.follow, log)
        self.worker.start()
        self.feed = Feed(plan, settings, self.progress)
        self.feed.start()
        if self.painter is not None:
            self.watcher = AlertWatcher(bootstrap, settings.topic_alerts)
            self.watcher.start()
        what = (
            f"{plan.input.name} ({plan.input})"
            if plan.input
            else f"simulated feed, seed {plan.seed}, {plan.events:,} lines"
            + (" per run" if plan.follow else "")
        )
        self.say(f"embedded broker on {bootstrap}; feeding {what}; worker /metrics on port {port}")
        if plan.follow:
            self.say("following: Ctrl-C stops the feed, the worker and the broker")
        totals = self._follow() if plan.follow else self._bounded()
        return self._finish(previous, totals)

    def _environment(self, bootstrap: str) -> tuple[dict[str, str], Settings]:
        """The worker's environment and the feed's settings: one set of values for both."""
        from streams.settings import SettingsError, load_settings

        values = {
            "kafka_bootstrap_servers": bootstrap,
            "kafka_security_protocol": "PLAINTEXT",
            "data_dir": str(self.plan.data_dir),
            "clickhouse_url": self.plan.dsn,
            # Replayed files are history and the --follow clock runs ahead of the
            # wall clock: judge timestamps by their own clock.
            "max_future_skew": os.environ.get("ANNOTEL_MAX_FUTURE_SKEW", "3650d"),
            "rules_file": str(self.plan.rules),
            "log_level": os.environ.get("ANNOTEL_LOG_LEVEL", "WARNING"),
        }
        env = {**os.environ, **{f"ANNOTEL_{k.upper()}": v for k, v in values.items()}}
        try:
            settings = load_settings(**values)
        except SettingsError as exc:
            raise DemoError(str(exc)) from None
        return env, settings

    def _bounded(self) -> dict[str, int]:
        """Until the worker drained everything the feed published."""
        assert self.worker is not None and self.feed is not None
        self.phase = "publishing and aggregating"
        while True:
            code = self._watch_worker()
            if code != 0:
                self._restart_after_crash(code)
                continue
            while self.feed.is_alive():
                self.phase = "the worker stopped early; waiting for the feed"
                self._tick()
            if self.feed.error:
                raise DemoError(self.feed.error)
            totals = self.worker.drained_totals()
            resumes = self.worker.runs - 1 - self.restarts
            if totals.get("events_in", 0) >= self.feed.published or resumes >= 3:
                return totals
            # The worker caught up with the feed and found nothing new for 2 s
            # while the feed was still going: resume it (it recovers its state).
            self.say(
                f"the worker drained {totals.get('events_in', 0):,} of "
                f"{self.feed.published:,} events before the feed ended; resuming it"
            )
            self.phase = "resuming the worker"
            self.worker.start()

    def _restart_after_crash(self, code: int) -> None:
        """Restart a crashed worker, a few times: its checkpoints make a restart exact.

        Seen in practice: an intermittent KeyError inside aiokafka's fetcher
        (Faust's consumer thread) kills the worker about once in ten demo runs.
        The restart is announced and counted in the summary, never hidden.
        """
        assert self.worker is not None
        if self.restarts >= MAX_RESTARTS:
            raise DemoError(
                f"the worker exited with status {code} ({self.restarts} restart(s) already); "
                f"the end of its log ({self.worker.log}):\n{self.worker.tail()}"
            )
        self.restarts += 1
        self.say(
            f"the worker exited with status {code} (see {self.worker.log}); restarting it "
            f"({self.restarts}/{MAX_RESTARTS}): it resumes from its checkpoints"
        )
        self.worker.start()

    def _watch_worker(self) -> int:
        assert self.worker is not None
        while True:
            code = self.worker.poll()
            if code is not None:
                return code
            if self.feed is not None and self.feed.error:
                raise DemoError(self.feed.error)
            broker = self.broker.process if self.broker is not None else None
            if broker is None or broker.poll() is not None:
                raise DemoError(
                    "the embedded broker exited; its log is "
                    f"{self.plan.data_dir / 'logs' / 'broker.log'}"
                )
            self._tick()

    def _follow(self) -> dict[str, int]:
        """Until Ctrl-C; the totals are the worker's last /metrics."""
        assert self.worker is not None
        self.phase = "following (Ctrl-C to stop)"
        try:
            while True:
                self._restart_after_crash(self._watch_worker())
        except Interrupted:
            pass
        self.stopping = True
        self.phase = "stopping: the feed first (Ctrl-C again to skip the catch-up)"
        if self.feed is not None:
            self.feed.stop()
        # Let the worker read what the feed published, so the summary adds up.
        published = self.feed.published if self.feed is not None else 0
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.worker.poll() is None:
            self._tick()
            sample = self.last_sample
            if sample is not None and sample.lag == 0 and sample.events_in >= published:
                break
        self.phase = "stopping the worker and the broker"
        return _totals_from_sample(self.last_sample)

    def _tick(self) -> None:
        """Half a second of waiting, with a redraw of the live view."""
        if self.worker is not None and self.worker.poll() is None:
            sample = scrape(self.worker.port, timeout=0.5)
            if sample is not None:
                self.last_sample = sample
                self.rate = self.meter.add(sample)
            if not self.stopping:
                self.phase = self._phase(sample)
        self._draw()
        time.sleep(0.5)

    def _draw(self) -> None:
        if self.painter is None:
            return
        view = self._view()
        fixed = 6 + len(view.notes)  # title, feed, worker (2), alerts, a spare line
        lines = render(
            view, width=self.painter.width(), alert_lines=max(0, self.painter.rows() - fixed)
        )
        self.painter.draw(lines)

    def _phase(self, sample: WorkerSample | None) -> str:
        if self.plan.follow:
            return "following (Ctrl-C stops everything)"
        if sample is None and self.last_sample is not None and self.last_sample.ready:
            return "the worker is flushing and exiting"
        if sample is None or not sample.ready:
            return "worker starting" if self.progress.done else "publishing; the worker is starting"
        if not self.progress.done or sample.lag > 0:
            return "aggregating"
        return "drained: closing the last windows, settling alerts, stopping the worker"

    def _view(self) -> ViewState:
        watcher = self.watcher
        title = "annotel demo"
        if self.plan.simulated:
            title += f"  ·  seed {self.plan.seed}  ·  rules {self.plan.rules.name}"
        else:
            title += f"  ·  {self.progress.label}"
        return ViewState(
            title=title,
            elapsed_s=time.monotonic() - self.started,
            feed=self.progress,
            worker=self.last_sample if self.worker and self.worker.poll() is None else None,
            rate=self.rate,
            # Repeats re-send a still-firing alert: not a transition worth a line.
            alerts=[n for n in watcher.notes if not n.repeat] if watcher else [],
            fired=watcher.fired if watcher else 0,
            resolved=watcher.resolved if watcher else 0,
            firing_now=len(watcher.firing) if watcher else 0,
            phase=self.phase,
            notes=self.notes[-3:],
        )

    def shutdown(self) -> None:
        """Stop everything this run started, feed first and broker last.

        Another Ctrl-C meanwhile does not abandon anything: it only turns the
        worker's clean stop into a kill.
        """

        def hurry(_signum: int, _frame: FrameType | None) -> None:
            self.force = True

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, hurry)
        if self.feed is not None:
            self.feed.stop(timeout=3)
        if self.worker is not None:
            self.worker.stop(force=lambda: self.force)
        if self.watcher is not None:
            self.watcher.stop()
        if self.broker is not None:
            self.broker.stop()
        if self.painter is not None:
            self.phase = "stopped everything it started"
            with contextlib.suppress(Exception):
                self._draw()
            self.painter.close()

    def _finish(self, previous: str | None, totals: dict[str, int]) -> int:
        plan = self.plan
        assert self.feed is not None
        self.shutdown()
        results = read_results(plan.dsn)
        summary = self._summary(previous, totals, results)
        (plan.data_dir / MARKER).write_text(
            json.dumps({"status": "finished", **summary}, ensure_ascii=False, indent=2) + "\n",
            encoding="utf-8",
        )
        if plan.json:
            print(visible(json.dumps(summary, ensure_ascii=False)))
        else:
            print_summary(summary, plan)
        return 0

    def _summary(
        self, previous: str | None, totals: dict[str, int], results: Results
    ) -> dict[str, Any]:
        plan = self.plan
        feed = self.feed
        assert feed is not None
        dead: Counter[str] = Counter(feed.by_reason)
        for key, value in totals.items():
            if key.startswith("dead_"):
                dead[key[5:]] += value
        summary: dict[str, Any] = {
            "events_in": feed.published + feed.dead_lettered,
            "accepted": totals.get("accepted", 0),
            "duplicates": totals.get("duplicates", 0),
            "late": totals.get("late", 0),
            "dead_lettered": dict(sorted(dead.items())),
            "windows": results.tables["metrics_1m"],
            "alerts_fired": sum(v["fired"] for v in results.per_rule.values()),
            "alerts_resolved": sum(v["resolved"] for v in results.per_rule.values()),
            "alerts_by_rule": results.per_rule,
            "tables": results.tables,
            "data_dir": str(plan.data_dir),
            "clickhouse": plan.dsn,
            "logs": str(plan.data_dir / "logs"),
            "rules": str(plan.rules),
            "mode": "follow" if plan.follow else "until-drained",
            "processed": totals.get("events_in", 0),
            "worker_restarts": self.restarts,
            "previous_data": previous,
            "elapsed_s": round(time.monotonic() - self.started, 2),
        }
        if plan.input is not None:
            summary["source"] = {"input": str(plan.input)}
            return summary
        manifest_path = plan.data_dir / "simulation-manifest.json"
        manifests = feed.manifests
        if manifests:
            manifest_path.write_text(
                json.dumps(
                    manifests[0] if len(manifests) == 1 else manifests, ensure_ascii=False, indent=2
                )
                + "\n",
                encoding="utf-8",
            )
        assert plan.start is not None
        summary["source"] = {
            "simulator": {
                "seed": plan.seed,
                "events": plan.events,
                "start": plan.start.isoformat().replace("+00:00", "Z"),
                "knobs": plan.knobs,
                "runs": len(manifests),
                "manifest": str(manifest_path) if manifests else None,
                "span": manifests[0]["span"] if manifests else None,
            }
        }
        # A --follow run stopped mid-way: only incidents that had begun.
        incidents = [
            incident
            for m in manifests
            if m["span"]["last_occurred_at"]
            for incident in m["incidents"]
            if _parse_iso(incident["start"]) <= _parse_iso(m["span"]["last_occurred_at"])
        ]
        summary["incidents"] = incident_alerts(incidents, results.alerts)
        return summary


def _totals_from_sample(sample: WorkerSample | None) -> dict[str, int]:
    if sample is None:
        return {}
    totals = {
        "events_in": sample.events_in,
        "accepted": sample.accepted,
        "duplicates": sample.duplicates,
        "late": sample.late,
    }
    totals.update({f"dead_{k}": v for k, v in sample.dead_letters.items()})
    return totals


# -- the summary -----------------------------------------------------------------------


def _hhmm(iso: str) -> str:
    return _parse_iso(iso).strftime("%H:%M")


def print_summary(summary: dict[str, Any], plan: Plan) -> None:
    """The human summary: counts, alerts per rule, incidents, where the data lives."""
    out: list[str] = [""]
    source = summary["source"]
    if "simulator" in source:
        sim = source["simulator"]
        span = sim.get("span") or {}
        when = ""
        if span.get("first_occurred_at"):
            first = _parse_iso(span["first_occurred_at"])
            when = f", event time {first:%Y-%m-%d %H:%M}–{_hhmm(span['last_occurred_at'])} UTC"
        out.append(f"  annotation-telemetry demo: simulated feed, seed {sim['seed']}{when}")
    else:
        out.append(f"  annotation-telemetry demo: {source['input']}")
    dead_total = sum(summary["dead_lettered"].values())
    rows = [
        ("events in", summary["events_in"]),
        ("accepted", summary["accepted"]),
        ("duplicates", summary["duplicates"]),
        ("late (corrections)", summary["late"]),
        ("dead letters", dead_total),
    ]
    for label, value in rows:
        out.append(f"  {label:<24}{value:>9,}")
    for reason, count in summary["dead_lettered"].items():
        out.append(f"    {reason:<22}{count:>9,}")
    out.append(f"  {'windows written':<24}{summary['windows']:>9,}   (metrics_1m rows)")
    out.append(f"  {'alerts fired':<24}{summary['alerts_fired']:>9,}")
    out.append(f"  {'alerts resolved':<24}{summary['alerts_resolved']:>9,}")
    if summary["alerts_by_rule"]:
        out.append(f"    {'rule':<24}{'fired':>7}{'resolved':>10}")
        for rule, counts in summary["alerts_by_rule"].items():
            out.append(f"    {rule:<24}{counts['fired']:>7}{counts['resolved']:>10}")
    if summary.get("incidents"):
        manifest = source["simulator"]["manifest"]
        out.append(f"  injected incidents and their alerts (ground truth: {manifest})")
        for incident in summary["incidents"]:
            interval = f"{_hhmm(incident['start'])}–{_hhmm(incident['end'])}"
            scope = scope_text(incident["scope"]) or "-"
            head = f"    {pad(incident['name'], 20)} {pad(fit(scope, 34), 34)} {interval}"
            if incident["name"] not in INCIDENT_METRICS:
                out.append(f"{head}  (counted above)")
                continue
            if not incident["alerts"]:
                out.append(f"{head}  no alert")
                continue
            for i, alert in enumerate(incident["alerts"]):
                # An alert is raised when its rule window closes: show window ends.
                fired = _hhmm(alert["fired_window"][1])
                resolved = alert["resolved_window"]
                what = f"{alert['rule']} fired {fired}" + (
                    f", resolved {_hhmm(resolved[1])}" if resolved else ", still firing"
                )
                out.append(f"{head if i == 0 else ' ' * display_width(head)}  {what}")
    if plan.follow:
        out.append(f"  {'read by the worker':<24}{summary['processed']:>9,}   (at Ctrl-C)")
    if summary.get("previous_data"):
        out.append(f"  note: {summary['previous_data']}")
    if summary.get("worker_restarts"):
        out.append(
            f"  note: the worker crashed {summary['worker_restarts']} time(s) and was restarted "
            f"from its checkpoints (see {summary['logs']}/worker.log)"
        )
    out.append(f"  data      {summary['data_dir']}")
    out.append(f"  ClickHouse {summary['clickhouse']}   logs {summary['logs']}")
    out.append(f"  elapsed   {summary['elapsed_s']:.1f} s")
    out.append(
        f'  query it:  {_python()} -c "from sinks.client import connect; '
        f"print(connect('{summary['clickhouse']}').query("
        "'SELECT * FROM metrics_hourly LIMIT 5').result_rows)\""
    )
    print(visible("\n".join(out), keep="\n"))  # ids as escapes, never terminal commands


def _python() -> str:
    """This interpreter, spelled relative to the working directory when inside it."""
    path = Path(sys.executable)
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


# -- the command -----------------------------------------------------------------------


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise Interrupted


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        plan = make_plan(args)
    except DemoError as exc:
        print(f"annotel demo: {exc}", file=sys.stderr)
        return 2
    run = DemoRun(plan)
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return run.run()
    except Interrupted:
        run.shutdown()
        print(
            f"annotel demo: interrupted; stopped the feed, the worker and the broker "
            f"(partial data in {plan.data_dir})",
            file=sys.stderr,
        )
        return 130
    except DemoError as exc:
        run.shutdown()
        print(f"annotel demo: {exc}", file=sys.stderr)
        return 1
    except BaseException:
        run.shutdown()
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _positive_int(text: str) -> int:
    from streams.simulate import _positive_int as parse

    return parse(text)


def _rate(text: str) -> float:
    from streams.simulate import _rate as parse

    return parse(text)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser(
        "demo",
        help="run the product on the embedded stack (simulated feed, worker, alerts, summary)",
        description="Starts the embedded broker and ClickHouse, a seeded simulated feed with "
        "injected incidents (or --input FILE), the worker with the shipped alert rules, a live "
        "view on a terminal; prints a summary and stops everything it started.",
    )
    demo.add_argument("--input", help="replay this JSON-lines file instead of the simulator")
    demo.add_argument(
        "--events",
        type=_positive_int,
        help=f"simulated lines (default {DEFAULT_EVENTS:,}; per run with --follow)",
    )
    demo.add_argument("--seed", type=int, help=f"simulator seed (default {DEFAULT_SEED})")
    demo.add_argument(
        "--follow",
        action="store_true",
        help="keep running live (paced feed, worker without --until-drained) until Ctrl-C",
    )
    demo.add_argument(
        "--rate",
        type=_rate,
        help=f"pace the feed in lines/s (default: as fast as possible; {FOLLOW_RATE:.0f} "
        "with --follow)",
    )
    demo.add_argument(
        "--data-dir", default=".annotel", help="where chDB keeps the data (default ./.annotel)"
    )
    demo.add_argument(
        "--rules", default=str(RULES), help="alert rules file (default: the shipped examples)"
    )
    demo.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    knobs = demo.add_argument_group("simulator knobs (tuned defaults; see streams/demo.py)")
    knobs.add_argument(
        "--tasks-per-second",
        type=_rate,
        help=f"mean task outcomes per simulated second (default {DEFAULT_TASKS_PER_SECOND})",
    )
    knobs.add_argument(
        "--projects", type=_positive_int, help=f"projects, 1-5 (default {DEFAULT_PROJECTS})"
    )
    knobs.add_argument(
        "--annotators", type=_positive_int, help=f"annotators (default {DEFAULT_ANNOTATORS})"
    )
    demo.set_defaults(func=cmd_demo)
