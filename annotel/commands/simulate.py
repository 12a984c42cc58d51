"""``annotel simulate``: realistic, seeded annotation telemetry (see ``simulator``).

Writes JSON lines to ``--out FILE`` (``-`` for standard output), or publishes
them to Kafka through ``streams.ingest.ingest`` (valid lines to their topics,
malformed ones to the dead-letter topic, exactly like ``annotel ingest``).
``--manifest FILE`` writes the ground truth as JSON once generation ends.

``--start`` defaults to now minus the simulated span (``--duration``, or the
estimated span of ``--events N``), floored to the minute, so the data ends
about now and looks live to the worker and to dashboards.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from pydantic_core import PydanticCustomError

from annotel.args import positive_int, rate
from annotel.progress import terminal_progress
from schemas.durations import format_duration, parse_duration
from schemas.events import parse_rfc3339
from simulator import INCIDENTS, IncidentError, Simulator, parse_incidents
from streams.ingest import ingest, paced
from streams.kafka_config import ensure_topics, producer
from streams.settings import SettingsError, load_settings

DEFAULT_DURATION = timedelta(hours=1)


def _duration(text: str) -> timedelta:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"must be longer than 0, got {text!r}")
    if seconds > 366 * 86400:
        raise argparse.ArgumentTypeError(f"at most 366d of simulated time, got {text!r}")
    return timedelta(seconds=seconds)


def _start(text: str) -> datetime:
    try:
        return parse_rfc3339(text)
    except PydanticCustomError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc.message()}") from None


def _incidents(text: str) -> frozenset[str]:
    try:
        return parse_incidents(text)
    except IncidentError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _write(lines: Iterable[bytes], handle: IO[bytes], flush_each: bool) -> int:
    count = 0
    chunk: list[bytes] = []
    for line in lines:
        chunk.append(line)
        count += 1
        if flush_each or len(chunk) >= 4096:
            handle.write(b"\n".join(chunk) + b"\n")
            chunk.clear()
            if flush_each:
                handle.flush()
    if chunk:
        handle.write(b"\n".join(chunk) + b"\n")
    handle.flush()
    return count


def build_simulator(args: argparse.Namespace, now: datetime | None = None) -> Simulator:
    """The simulator the arguments describe (``--start`` resolved against ``now``)."""
    knobs: dict[str, Any] = {
        "projects": args.projects,
        "vendors": args.vendors,
        "annotators": args.annotators,
        "tasks_per_second": args.tasks_per_second,
    }
    if getattr(args, "delivery", False):  # only when asked: the lines stay the same without
        knobs["delivery"] = True
    if args.start is not None:
        return Simulator(args.seed, args.start, args.incidents, **knobs)
    current = (now or datetime.now(UTC)).astimezone(UTC)
    if args.duration is not None:
        span = args.duration
    else:
        # The span of N events depends on the daily rhythm at the start: estimate
        # from a provisional start, then once more from the resulting one.
        span = Simulator(args.seed, current, (), **knobs).estimate_span(args.events)
        span = Simulator(args.seed, current - span, (), **knobs).estimate_span(args.events)
    start = (current - span).replace(second=0, microsecond=0)
    return Simulator(args.seed, start, args.incidents, **knobs)


def cmd_simulate(args: argparse.Namespace) -> int:
    if args.events is None and args.duration is None:
        args.duration = DEFAULT_DURATION
    try:
        sim = build_simulator(args)
    except ValueError as exc:
        print(f"annotel simulate: {exc}", file=sys.stderr)
        return 2
    lines = paced(sim.events(n=args.events, duration=args.duration), args.rate)
    report = sys.stderr if args.out == "-" else sys.stdout
    result: dict[str, Any] = {}
    started = time.monotonic()
    if args.out is not None:
        if args.out == "-":
            _write(lines, sys.stdout.buffer, flush_each=args.rate is not None)
        else:
            try:
                handle = open(args.out, "wb")  # noqa: SIM115
            except OSError as exc:
                print(f"annotel simulate: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
                return 2
            with handle:
                _write(lines, handle, flush_each=args.rate is not None)
    else:
        try:
            settings = load_settings()
        except SettingsError as exc:
            print(f"annotel simulate: {exc}", file=sys.stderr)
            return 2
        ensure_topics(settings, [*settings.input_topics, settings.topic_dlq])
        kafka_producer = producer(settings)
        try:
            ingested = ingest(
                settings,
                lines,
                producer=kafka_producer,
                progress=terminal_progress(args.json),
            )
        finally:
            kafka_producer.close()
        result["ingest"] = ingested.as_json()
    elapsed = time.monotonic() - started
    manifest = sim.manifest
    if args.manifest:
        try:
            Path(args.manifest).write_text(
                json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
            )
        except OSError as exc:
            print(
                f"annotel simulate: cannot write {args.manifest}: {exc.strerror}", file=sys.stderr
            )
            return 1
    counts = manifest["counts"]
    if args.json:
        result.update(
            counts=counts,
            span=manifest["span"],
            incidents=manifest["incidents"],
            elapsed_s=round(elapsed, 3),
        )
        print(json.dumps(result, ensure_ascii=False), file=report)
        return 0
    span = manifest["span"]
    print(
        f"simulated {counts['lines']} lines: {counts['unique_events']} events, "
        f"{counts['duplicates']} duplicates, {counts['malformed']} malformed; "
        f"event time {span['first_occurred_at']} .. {span['last_occurred_at']} "
        f"(seed {sim.seed}, {elapsed:.1f}s)",
        file=report,
    )
    for incident in manifest["incidents"]:
        scope = ", ".join(f"{k}={v}" for k, v in incident["scope"].items()) or "-"
        print(
            f"  incident {incident['name']}: {scope} from {incident['start']} to {incident['end']}",
            file=report,
        )
    if "ingest" in result:
        ingested_json = result["ingest"]
        print(
            f"published {ingested_json['published']}, "
            f"dead-lettered {ingested_json['dead_lettered']}",
            file=report,
        )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "simulate",
        help="generate realistic annotation telemetry (to Kafka, or --out FILE)",
        description="Seeded, deterministic annotation telemetry with injected incidents. "
        "Same seed and arguments, same bytes (with an explicit --start).",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--events", type=positive_int, help="number of lines to generate")
    size.add_argument(
        "--duration",
        type=_duration,
        help=f"simulated time to cover, e.g. 2h (default {format_duration(3600)} "
        "when --events is not given)",
    )
    parser.add_argument(
        "--rate",
        type=rate,
        help="wall-clock pacing in lines per second (default: as fast as possible)",
    )
    parser.add_argument(
        "--start",
        type=_start,
        help="RFC 3339 start of the simulated clock, e.g. 2026-11-23T09:00:00+08:00 "
        "(default: now minus the simulated span, floored to the minute)",
    )
    parser.add_argument(
        "--incidents",
        type=_incidents,
        default=frozenset(INCIDENTS),
        help=f"comma-separated subset of {', '.join(INCIDENTS)}; all or none (default all)",
    )
    parser.add_argument("--out", help="write JSON lines to FILE (- for stdout) instead of Kafka")
    parser.add_argument("--manifest", help="write the ground truth JSON to FILE")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--projects", type=positive_int, default=5, help="projects (1-5)")
    parser.add_argument("--vendors", type=positive_int, default=3, help="vendors (2-4)")
    parser.add_argument("--annotators", type=positive_int, default=300, help="annotators")
    parser.add_argument(
        "--tasks-per-second",
        type=rate,
        default=4.0,
        help="mean task outcomes per simulated second over a day (default 4)",
    )
    parser.add_argument(
        "--delivery",
        action="store_true",
        help="every queue also sends a queue_status each minute against a delivery plan "
        "(to the completed-tasks topic, like annotel ingest)",
    )
    parser.set_defaults(func=cmd_simulate)
