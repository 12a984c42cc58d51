"""One ``annotel demo`` from broker start to summary: the order things start and stop in.

``run`` starts the embedded broker, the worker (``supervisor``) and the feed
(``feed``) together, watches them (redrawing the live view on a terminal)
until the worker has drained what the feed published, or until Ctrl-C with
``--follow``, then stops everything it started, feed first and broker last,
and prints the summary (``summary``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import time
from types import FrameType
from typing import Any

from annotel.demo.feed import Feed
from annotel.demo.gateway_feed import GatewayError, GatewayFeed, GatewayProcess
from annotel.demo.plan import MARKER, DemoError, Plan, prepare_data_dir
from annotel.demo.roster import ROSTER_FILE, load_roster_file, write_roster_file
from annotel.demo.summary import build_summary, print_summary, read_results, totals_from_sample
from annotel.demo.supervisor import Interrupted, WorkerProcess, without_sigint
from annotel.live_view import (
    AlertWatcher,
    FeedProgress,
    Painter,
    RateMeter,
    ViewState,
    WorkerSample,
    render,
    scrape,
)
from embedded.apache_kafka import ApacheKafkaBroker
from embedded.broker import EmbeddedBroker
from schemas.display import visible
from schemas.loopback import free_port
from streams.kafka_config import EMBEDDED_CLUSTER_ID, ensure_topics
from streams.settings import Settings, SettingsError, load_settings

BROKER_NAMES = {"tansu": "embedded broker", "apache": "Apache Kafka broker"}


class DemoRun:
    """One demo from broker start to summary; ``run`` always stops what it started."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.started = time.monotonic()
        self.notes: list[str] = []
        self.broker: Any = None
        self.worker: WorkerProcess | None = None
        self.feed: Feed | None = None
        self.gateway: GatewayProcess | None = None
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
        broker_log = plan.data_dir / "logs" / "broker.log"
        self.broker = (
            ApacheKafkaBroker(log_path=broker_log)
            if plan.broker == "apache"
            else EmbeddedBroker(cluster_id=EMBEDDED_CLUSTER_ID, log_path=broker_log)
        )
        # ``shutdown`` stops the broker last, with SIGTERM.
        bootstrap = without_sigint(self.broker.start)
        port = free_port()
        env, settings = self._environment(bootstrap)
        # Created before the feed and the worker start together, so neither
        # races the other into creating them.
        ensure_topics(settings, [*settings.input_topics, settings.topic_dlq, settings.topic_alerts])
        log = plan.data_dir / "logs" / "worker.log"
        log.write_bytes(b"")
        self.worker = WorkerProcess(env, port, not plan.follow, log)
        self.feed = self._feed(env, settings)
        if plan.via_gateway and not plan.follow:
            # Over HTTP the feed is slower than the worker: started together, the
            # worker would close minutes while the feed still posts and count the
            # stragglers as late corrections. Posted first, the worker reads it all
            # as it reads the direct feed, and the summary is the same, late included.
            self.feed.start()
            self._await_feed()
            self.worker.start()
        else:
            self.worker.start()
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
        self.say(
            f"{BROKER_NAMES[plan.broker]} on {bootstrap}; feeding {what}; "
            f"worker /metrics on port {port}"
        )
        if plan.follow:
            self.say("following: Ctrl-C stops the feed, the worker and the broker")
        totals = self._follow() if plan.follow else self._bounded()
        return self._finish(previous, totals)

    def _feed(self, env: dict[str, str], settings: Settings) -> Feed:
        """The feed: straight to the broker, or over HTTP through a gateway of this run's."""
        if not self.plan.via_gateway:
            return Feed(self.plan, settings, self.progress)
        data = self.plan.data_dir
        self.gateway = GatewayProcess(env, data / "logs" / "gateway.log", data / "connectors.yaml")
        try:
            self.gateway.start()
        except GatewayError as exc:
            raise DemoError(str(exc)) from None
        self.progress.label += f" via annotel gateway (port {self.gateway.port})"
        return GatewayFeed(self.plan, settings, self.progress, self.gateway)

    def _environment(self, bootstrap: str) -> tuple[dict[str, str], Settings]:
        """The worker's environment and the feed's settings: one set of values for both."""
        values = {
            "kafka_bootstrap_servers": bootstrap,
            "kafka_security_protocol": "PLAINTEXT",
            "data_dir": str(self.plan.data_dir),
            "clickhouse_url": self.plan.dsn,
            "rules_file": str(self.plan.rules),
            # The demo spans four simulated hours: a half-hour forecast window lets the
            # stalled queue's delivery alert fire and resolve inside it.
            "forecast_window": os.environ.get("ANNOTEL_FORECAST_WINDOW", "30m"),
            "log_level": os.environ.get("ANNOTEL_LOG_LEVEL", "WARNING"),
        }
        env = {**os.environ, **{f"ANNOTEL_{k.upper()}": v for k, v in values.items()}}
        try:
            settings = load_settings(**values)
        except SettingsError as exc:
            raise DemoError(str(exc)) from None
        return env, settings

    def _await_feed(self) -> None:
        """Until the feed has posted everything (the live view redrawn meanwhile)."""
        assert self.feed is not None
        self.phase = "posting through the gateway"
        while self.feed.is_alive():
            self._draw()
            time.sleep(0.5)
        if self.feed.error:
            raise DemoError(self.feed.error)

    def _bounded(self) -> dict[str, int]:
        """Until the worker drained everything the feed published."""
        assert self.worker is not None and self.feed is not None
        self.phase = "publishing and aggregating"
        while True:
            code = self._watch_worker()
            if code != 0:
                self.worker.restart_after_crash(code, self.say)
                continue
            while self.feed.is_alive():
                self.phase = "the worker stopped early; waiting for the feed"
                self._tick()
            if self.feed.error:
                raise DemoError(self.feed.error)
            totals = self.worker.drained_totals()
            resumes = self.worker.runs - 1 - self.worker.restarts
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
                    f"the {BROKER_NAMES[self.plan.broker]} exited; its log is "
                    f"{self.plan.data_dir / 'logs' / 'broker.log'}"
                )
            self._tick()

    def _follow(self) -> dict[str, int]:
        """Until Ctrl-C; the totals are the worker's last /metrics."""
        assert self.worker is not None
        self.phase = "following (Ctrl-C to stop)"
        try:
            while True:
                self.worker.restart_after_crash(self._watch_worker(), self.say)
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
        return totals_from_sample(self.last_sample)

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
        if self.gateway is not None:
            self.gateway.stop()
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

    def _roster(self) -> dict[str, Any] | None:
        """The simulator's roster, written to the data dir and loaded (after the worker has
        let go of the embedded ClickHouse), so ``annotel coach`` / ``squad`` work at once."""
        plan = self.plan
        if not plan.simulated or plan.start is None:
            return None
        path = write_roster_file(plan.seed, plan.knobs, plan.start, plan.data_dir / ROSTER_FILE)
        annotators, squads, _change = load_roster_file(path, plan.dsn)
        return {"file": str(path), "annotators": annotators, "squads": squads}

    def _finish(self, previous: str | None, totals: dict[str, int]) -> int:
        plan = self.plan
        assert self.feed is not None
        self.shutdown()
        roster = self._roster()
        results = read_results(plan.dsn)
        summary = build_summary(
            plan,
            self.feed,
            totals,
            results,
            previous=previous,
            restarts=self.worker.restarts if self.worker is not None else 0,
            elapsed_s=time.monotonic() - self.started,
        )
        if roster is not None:
            summary["roster"] = roster
        (plan.data_dir / MARKER).write_text(
            json.dumps({"status": "finished", **summary}, ensure_ascii=False, indent=2) + "\n",
            encoding="utf-8",
        )
        if plan.json:
            print(visible(json.dumps(summary, ensure_ascii=False)))
        else:
            print_summary(summary, plan)
        return 0
