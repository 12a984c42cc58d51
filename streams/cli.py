"""``annotel``: the command line. The composition root: it reads settings once and
hands plain values to the other packages."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from streams.settings import Settings, SettingsError, load_settings


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"annotel: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_schemas_export(args: argparse.Namespace) -> int:
    from schemas.export import export_schemas

    for path in export_schemas(Path(args.dir)):
        print(path)
    return 0


def cmd_broker(args: argparse.Namespace) -> int:
    from embedded.broker import BrokerError, EmbeddedBroker
    from streams.kafka import EMBEDDED_CLUSTER_ID

    broker = EmbeddedBroker(args.port, cluster_id=EMBEDDED_CLUSTER_ID)
    try:
        bootstrap = broker.start()
    except BrokerError as exc:
        print(f"annotel broker: {exc}", file=sys.stderr)
        return 1
    print(f"embedded broker listening on {bootstrap} (in memory; stop with Ctrl-C)")
    print(f"export ANNOTEL_KAFKA_BOOTSTRAP_SERVERS={bootstrap}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.is_set():
            if broker.process is None or broker.process.poll() is not None:
                print("annotel broker: the broker process exited", file=sys.stderr)
                return 1
            stop.wait(0.5)
    finally:
        broker.stop()
    print("broker stopped")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from streams.ingest import ingest, read_lines
    from streams.kafka import ensure_topics, producer

    settings = _settings()
    ensure_topics(settings, [*settings.input_topics, settings.topic_dlq])
    kafka_producer = producer(settings)
    try:
        if args.file == "-":
            lines = read_lines(sys.stdin.buffer)
            result = ingest(settings, lines, producer=kafka_producer, progress=False)
        else:
            try:
                handle = open(args.file, "rb")  # noqa: SIM115
            except OSError as exc:
                print(f"annotel ingest: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
                return 2
            with handle:
                result = ingest(
                    settings,
                    read_lines(handle),
                    producer=kafka_producer,
                    progress=sys.stderr.isatty() and not args.json,
                )
    finally:
        kafka_producer.close()
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False))
    else:
        print(
            f"published {result.published}, dead-lettered {result.dead_lettered}"
            + (f" ({dict(result.by_reason)})" if result.by_reason else "")
            + (f", {result.blank} blank line(s) skipped" if result.blank else "")
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="annotel",
        description="Stream processor for data-annotation telemetry. "
        "Configuration comes from ANNOTEL_* environment variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    schemas = sub.add_parser("schemas", help="event contract tools")
    schemas_sub = schemas.add_subparsers(dest="schemas_command", required=True)
    export = schemas_sub.add_parser("export", help="write the JSON Schema files to DIR")
    export.add_argument("dir")
    export.set_defaults(func=cmd_schemas_export)

    broker = sub.add_parser("broker", help="run the embedded Kafka-compatible broker")
    broker.add_argument("--port", type=int, default=9092)
    broker.set_defaults(func=cmd_broker)

    ingest = sub.add_parser("ingest", help="publish a JSON-lines file of events")
    ingest.add_argument("file", help="path, or - for standard input")
    ingest.add_argument("--json", action="store_true", help="print the result as JSON")
    ingest.set_defaults(func=cmd_ingest)

    for register in _EXTRA_COMMANDS:
        register(sub)
    return parser


# Commands contributed by later modules register here, keeping this file small.
_EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = []


def main(argv: Sequence[str] | None = None) -> int:
    _register_commands()
    from streams.logs import setup_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging("WARNING" if getattr(args, "json", False) else "INFO")
    code: int = args.func(args)
    return code


def _register_commands() -> None:
    if _EXTRA_COMMANDS:
        return
    from functools import partial

    from alerts import commands as alert_commands
    from reports import commands as report_commands
    from streams import demo, migrate, simulate, worker

    _EXTRA_COMMANDS.extend(
        [
            demo.register,
            worker.register,
            migrate.register,
            simulate.register,
            alert_commands.register,
            partial(
                report_commands.register,
                dsn_from_settings=lambda: _settings().clickhouse_dsn(),
                rules_from_settings=lambda: _settings().rules_file,
                tls_from_settings=lambda: _settings().clickhouse_tls(),
            ),
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
