"""What one ``annotel demo`` will do, decided before anything starts; and its data directory.

Why the simulated clock starts at 09:00 Beijing time: the simulator's volume
follows a Beijing working day, so a run that started "now minus its span"
would carry a different volume (and fire different alerts) at each hour of the
day. Fixing the phase makes ``annotel demo`` the same demo every time: the
same lines apart from the date and event ids, the same alerts. The start is
the latest such 09:00 whose simulated span has ended by now, so the data is
at most a day old and never in the future.

The default knobs (``DEFAULT_*``) are tuned, not the rules: see
``DEFAULT_TASKS_PER_SECOND`` for why these values.

The data directory carries a marker file (``MARKER``): it says the ClickHouse
data there is a demo's (a later demo may delete it) and, while a demo runs,
which process owns it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.rules import RulesError, load_rules
from embedded.apache_kafka import unavailable_reason as apache_unavailable_reason
from simulator import Simulator

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
FOLLOW_RATE = 200.0  # --follow: lines/s, the simulated clock runs ~100x real time
# --follow starts this far in the past: the history plays at FOLLOW_RATE until it
# reaches the wall clock, then the feed waits for each line's time (see Feed).
FOLLOW_HISTORY = timedelta(hours=4)
MARKER = "demo.json"  # in the data dir: says the ClickHouse data there is a demo's


class DemoError(Exception):
    """A problem the user can fix; the message says what and how."""


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
    broker: str = "tansu"  # or "apache": Apache Kafka (embedded.apache_kafka), Java needed
    via_gateway: bool = False  # feed through a running annotel gateway over HTTP

    @property
    def simulated(self) -> bool:
        return self.input is None

    @property
    def dsn(self) -> str:
        return "chdb://" + str(self.data_dir / "clickhouse")


def demo_start(seed: int, events: int, knobs: dict[str, Any], now: datetime) -> datetime:
    """The latest 09:00 Beijing (01:00 UTC) from which ``events`` lines end before ``now``."""
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
    try:
        load_rules(rules)
    except RulesError as exc:
        raise DemoError(f"invalid rules file {rules}:\n{exc}") from None
    data_dir = Path(args.data_dir).expanduser().resolve()
    if data_dir.exists() and not data_dir.is_dir():
        raise DemoError(f"--data-dir {data_dir} exists and is not a directory")
    live = sys.stdout.isatty() and not args.json
    rate = args.rate if args.rate is not None else (FOLLOW_RATE if args.follow else None)
    broker = args.broker
    if broker == "apache":
        # Said before anything starts, with what to install.
        reason = apache_unavailable_reason()
        if reason is not None:
            raise DemoError(f"--broker apache: {reason}")
    plan = Plan(
        data_dir=data_dir,
        rules=rules,
        follow=args.follow,
        json=args.json,
        live=live,
        rate=rate,
        broker=broker,
    )
    plan.via_gateway = getattr(args, "via_gateway", False)
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
        # Edits, deletions and re-audits, as platforms send them: the summary's
        # superseded and retractions, and the ground truth by the version rule.
        "versions": True,
        # Every queue reports its open tasks against a delivery plan (simulator.delivery);
        # the queue of the queue_stall incident falls behind its deadline while stalled.
        "delivery": True,
    }
    current = (now or datetime.now(UTC)).astimezone(UTC)
    try:
        if args.follow:
            plan.start = current.replace(second=0, microsecond=0) - FOLLOW_HISTORY
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
    for name in ("simulation-manifest.json", "roster.csv"):
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
